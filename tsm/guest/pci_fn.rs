// SPDX-License-Identifier: GPL-2.0

//! The PCI function that is the TVM's view of a TDI, and the driver-core
//! calls the driver makes on it.

use kernel::bindings;
use kernel::prelude::*;

use crate::b;

/// A referenced PCI function.
///
/// # Invariants
///
/// `0` is a valid `pci_dev` with a reference this value owns.
pub(crate) struct PciFn(*mut bindings::pci_dev);

// SAFETY: a reference to a pci_dev may be used and dropped on any thread.
unsafe impl Send for PciFn {}
// SAFETY: the methods only call thread-safe driver-core functions.
unsafe impl Sync for PciFn {}

impl PciFn {
    /// The function named `name` (DDDD:BB:DD.F).
    pub(crate) fn get(name: &CStr) -> Option<Self> {
        // SAFETY: `name` is NUL-terminated; a non-NULL result is referenced.
        let pdev = unsafe { b::teeio_guest_pci_get(name.as_char_ptr()) };
        (!pdev.is_null()).then_some(Self(pdev))
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0
    }

    pub(crate) fn device(&self) -> &kernel::device::Device {
        // SAFETY: the function is referenced, so its device is alive.
        unsafe { kernel::device::Device::from_raw(&raw mut (*self.0).dev) }
    }

    /// Its routing id, bus << 8 | devfn: the virt_id of its vDEVICE.
    pub(crate) fn routing_id(&self) -> u32 {
        // SAFETY: a live function has a live bus.
        unsafe { u32::from((*(*self.0).bus).number) << 8 | u32::from((*self.0).devfn) }
    }

    /// Its memory BARs: (index, address, length).
    pub(crate) fn mem_bars(&self) -> impl Iterator<Item = (u8, u64, u64)> + '_ {
        (0..6u8).filter_map(move |index| {
            // SAFETY: standard BAR resources 0..5 exist in every pci_dev.
            let res = unsafe { &(*self.0).resource[usize::from(index)] };
            (res.flags as u32 & bindings::IORESOURCE_MEM != 0 && res.end > res.start)
                .then(|| (index, res.start, res.end - res.start + 1))
        })
    }

    pub(crate) fn has_driver(&self) -> bool {
        // SAFETY: the function is referenced.
        unsafe { b::teeio_guest_has_driver(self.0) }
    }

    /// Copies its driver_override into `buf`; the length (0: none).
    pub(crate) fn driver_override(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { b::teeio_guest_driver_override(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| E2BIG)
    }

    /// Sets its driver_override to `name` (empty: none). Whether it took.
    pub(crate) fn set_driver_override(&self, name: &[u8]) -> bool {
        let mut s = [0u8; 65];
        let Some(dst) = s.get_mut(..name.len()) else { return false };
        dst.copy_from_slice(name);
        // SAFETY: `s` is NUL-terminated; the function is referenced.
        unsafe { b::teeio_guest_set_driver_override(self.0, s.as_ptr().cast()) == 0 }
    }

    /// Lets its driver bind now; whether one did.
    pub(crate) fn attach_driver(&self) -> bool {
        // SAFETY: the function is referenced; called without device locks.
        unsafe { b::teeio_guest_attach_driver(self.0) > 0 }
    }

    /// Unbinds its driver, if any.
    pub(crate) fn release_driver(&self) {
        // SAFETY: the function is referenced; called without device locks.
        unsafe { b::teeio_guest_release_driver(self.0) }
    }
}

impl Drop for PciFn {
    fn drop(&mut self) {
        // SAFETY: the reference this value owns.
        unsafe { b::teeio_guest_pci_put(self.0) };
    }
}
