// SPDX-License-Identifier: GPL-2.0

//! FFI edge: the module parameters declared in params.c.

use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

use crate::pci_edge::Bdf;

extern "C" {
    fn teeio_emu_param_bdf(i: c_int) -> *const c_char;
    fn teeio_emu_param_misbehave() -> c_int;
    fn teeio_emu_param_set_misbehave(mask: c_int);
}

/// Maximum number of devices (`TEEIO_EMU_MAX_DEVICES` in params.c).
pub(crate) const MAX_DEVICES: usize = 4;

/// The `bdfs` parameter, parsed; a malformed entry is an error.
pub(crate) fn bdfs() -> Result<KVec<Bdf>> {
    let mut out = KVec::new();
    for i in 0..MAX_DEVICES as c_int {
        // SAFETY: returns NULL or a parameter string that lives as long as
        // the module.
        let ptr = unsafe { teeio_emu_param_bdf(i) };
        if ptr.is_null() {
            break;
        }
        // SAFETY: `ptr` is a NUL-terminated parameter string.
        let text = unsafe { CStr::from_char_ptr(ptr) };
        let Some(bdf) = Bdf::parse(text.to_bytes()) else {
            pr_err!("bdfs: '{}' is not DDDD:BB:DD.F\n", text.to_str().unwrap_or("?"));
            return Err(EINVAL);
        };
        out.push(bdf, GFP_KERNEL)?;
    }
    Ok(out)
}

/// The `misbehave` bits now.
pub(crate) fn misbehave() -> i32 {
    // SAFETY: reads an int parameter with READ_ONCE.
    unsafe { teeio_emu_param_misbehave() }
}

/// Sets the `misbehave` bits (tests).
#[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
pub(crate) fn set_misbehave(mask: i32) {
    // SAFETY: writes an int parameter with WRITE_ONCE.
    unsafe { teeio_emu_param_set_misbehave(mask) };
}
