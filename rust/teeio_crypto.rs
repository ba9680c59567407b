// SPDX-License-Identifier: GPL-2.0

//! lib/crypto's SHA-384 and the kernel RNG, for the modules that mount this
//! file as `mod teeio_crypto`.

use kernel::bindings;

/// SHA-384 of `data`.
pub(crate) fn sha384(data: &[u8]) -> [u8; 48] {
    let mut out = [0u8; 48];
    // SAFETY: valid input and output buffers of the stated sizes.
    unsafe { bindings::sha384(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

/// Fills `buf` from the kernel RNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: valid buffer of the stated size.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
