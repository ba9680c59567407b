// SPDX-License-Identifier: GPL-2.0

//! The uAPI structs the driver sends and receives as bytes.

use core::mem::size_of;

use crate::b;

/// A C struct of integers and byte arrays without padding.
///
/// # Safety
///
/// Implementors have no padding and every bit pattern is a valid value.
pub(crate) unsafe trait Plain {}

// SAFETY: u8, u8, u16, u32, u64, u64: no padding; integers only.
unsafe impl Plain for b::teeio_tsm_guest_req {}
// SAFETY: three u8 arrays, u64, u32, u32: no padding; integers only.
unsafe impl Plain for b::teeio_tsm_guest_evidence {}
// SAFETY: eight u32: no padding; integers only.
unsafe impl Plain for b::teeio_guest_exit {}
// SAFETY: u32, u32, i32, u32, u64: no padding; integers only.
unsafe impl Plain for b::teeio_guest_resume {}

const _: () = assert!(size_of::<b::teeio_tsm_guest_req>() == 24);
const _: () = assert!(size_of::<b::teeio_tsm_guest_evidence>() == 3 * 48 + 16);
const _: () = assert!(size_of::<b::teeio_guest_exit>() == 32);
const _: () = assert!(size_of::<b::teeio_guest_resume>() == 24);

/// The bytes of `v`.
pub(crate) fn as_bytes<T: Plain>(v: &T) -> &[u8] {
    // SAFETY: `T: Plain` has no padding: all its bytes are initialized.
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// A `T` read from exactly its size in bytes.
pub(crate) fn from_bytes<T: Plain>(bytes: &[u8]) -> Option<T> {
    if bytes.len() != size_of::<T>() {
        return None;
    }
    // SAFETY: `bytes` holds `size_of::<T>()` bytes and every bit pattern is
    // a `T`; the read is unaligned.
    Some(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}
