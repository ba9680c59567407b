// SPDX-License-Identifier: GPL-2.0

//! EMULATION, FFI edge: interposes the config accessors (`struct pci_ops`)
//! of a root bus so that the emulated functions' registers answer instead
//! of the device.
//!
//! Buses created under the root bus after the interposition inherit its
//! accessors (`pci_alloc_child_bus()` copies `parent->ops`), so one
//! [`Interposer`] covers a whole re-probed hierarchy. Each accessor call
//! finds the [`Interposer`] from `bus->ops` and the emulated function from
//! the bus number and devfn; any other function gets the original accessor.

use core::ptr;

use kernel::bindings;
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::function::Function;
use crate::pci_edge;

/// PCIBIOS_SUCCESSFUL.
const PCIBIOS_SUCCESSFUL: c_int = 0;
/// PCIBIOS_FUNC_NOT_SUPPORTED.
const PCIBIOS_FUNC_NOT_SUPPORTED: c_int = 0x81;

/// Interposed accessors of one root bus.
///
/// # Invariants
///
/// While installed, `bus->ops` of the root bus (and of buses created below
/// it since) points to `ops`; `orig` points to the accessors it replaced,
/// which outlive it; `functions` does not change.
#[pin_data]
pub(crate) struct Interposer {
    ops: bindings::pci_ops,
    orig: *mut bindings::pci_ops,
    root: *mut bindings::pci_bus,
    functions: KVec<Arc<Function>>,
    #[pin]
    _pin: core::marker::PhantomPinned,
}

// SAFETY: the raw pointers name the root bus and its original accessors,
// which live as long as the system; they are used under `pci_lock` or from
// `install`/`uninstall`, which the module calls in init and exit only.
unsafe impl Send for Interposer {}
// SAFETY: see `Send`; the interposer is not mutated while installed.
unsafe impl Sync for Interposer {}

impl Interposer {
    /// Interposes the accessors of `root` for `functions`.
    pub(crate) fn install(root: *mut bindings::pci_bus, functions: KVec<Arc<Function>>) -> Result<Pin<KBox<Self>>> {
        // SAFETY: `root` is a live root bus; its `ops` is set.
        let orig = unsafe { (*root).ops };
        if orig.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `orig` points to the bus's accessors.
        let mut ops = unsafe { *orig };
        ops.read = Some(read_trampoline);
        ops.write = Some(write_trampoline);
        let this = KBox::pin_init(
            pin_init!(Self { ops, orig, root, functions, _pin: core::marker::PhantomPinned }),
            GFP_KERNEL,
        )?;
        let ours = ptr::from_ref(&this.ops).cast_mut();
        // SAFETY: `ours` stays valid while installed (pinned, uninstalled
        // before it is dropped); the PCI core swaps the pointer under pci_lock.
        let replaced = unsafe { bindings::pci_bus_set_ops(root, ours) };
        // INVARIANT: installed; `orig` is what it replaced.
        if replaced != orig {
            // SAFETY: as above; put back what we found.
            unsafe { bindings::pci_bus_set_ops(root, replaced) };
            return Err(EBUSY);
        }
        Ok(this)
    }

    /// Restores the original accessors on every bus that uses ours, then
    /// waits for the functions' responders.
    pub(crate) fn uninstall(&self) {
        let ours = ptr::from_ref(&self.ops).cast_mut();
        pci_edge::for_each_bus(|bus| {
            // SAFETY: `bus` is live; the swap happens under pci_lock, so no
            // accessor of ours runs once it returns.
            unsafe {
                if (*bus).ops == ours {
                    bindings::pci_bus_set_ops(bus, self.orig);
                }
            }
        });
        for function in self.functions.iter() {
            function.flush();
        }
    }

    /// The root bus.
    pub(crate) fn root(&self) -> *mut bindings::pci_bus {
        self.root
    }

    fn function(&self, bus: u8, devfn: u8) -> Option<&Arc<Function>> {
        self.functions.iter().find(|f| f.bdf.bus == bus && f.bdf.devfn == devfn)
    }

    /// # Safety
    ///
    /// `bus` is live and its `ops` points to an installed `Interposer::ops`.
    unsafe fn from_bus<'a>(bus: *mut bindings::pci_bus) -> &'a Self {
        // SAFETY: per the function's contract `ops` is the `ops` field of
        // an installed, pinned `Interposer`.
        unsafe { &*kernel::container_of!((*bus).ops, Self, ops) }
    }
}

/// The original accessor's read of the dword at an offset of `devfn`.
type RawRead = unsafe extern "C" fn(*mut bindings::pci_bus, c_uint, c_int, c_int, *mut u32) -> c_int;

/// Reads dwords of `devfn` on `bus` through the original accessor.
///
/// # Safety
///
/// The returned closure may only be called while `bus` is live and
/// `orig_read` is its original accessor, under pci_lock.
unsafe fn raw_reader(orig_read: RawRead, bus: *mut bindings::pci_bus, devfn: c_uint) -> impl Fn(u16) -> u32 {
    move |offset| {
        let mut value = u32::MAX;
        // SAFETY: per the function's contract; a dword inside config space.
        unsafe { orig_read(bus, devfn, c_int::from(offset), 4, &mut value) };
        value
    }
}

/// The interposed `pci_ops::read`.
///
/// # Safety
///
/// Called by the PCI core under pci_lock with a bus whose accessors we set.
unsafe extern "C" fn read_trampoline(
    bus: *mut bindings::pci_bus,
    devfn: c_uint,
    where_: c_int,
    size: c_int,
    val: *mut u32,
) -> c_int {
    // SAFETY: the PCI core calls us only through the installed `ops`.
    let this = unsafe { Interposer::from_bus(bus) };
    // SAFETY: `orig` outlives the interposer (type invariant).
    let Some(orig_read) = (unsafe { (*this.orig).read }) else {
        return PCIBIOS_FUNC_NOT_SUPPORTED;
    };
    // SAFETY: `bus` is live.
    let number = unsafe { (*bus).number };
    let Some(function) = this.function(number, devfn as u8) else {
        // SAFETY: forwarding the PCI core's own arguments.
        return unsafe { orig_read(bus, devfn, where_, size, val) };
    };
    // SAFETY: the PCI core's own bus and devfn, under pci_lock.
    let raw = unsafe { raw_reader(orig_read, bus, devfn) };
    let value = function.config_read(where_ as u16, size as u8, raw);
    // SAFETY: `val` is the PCI core's output pointer.
    unsafe { *val = value };
    PCIBIOS_SUCCESSFUL
}

/// The interposed `pci_ops::write`.
///
/// # Safety
///
/// Called by the PCI core under pci_lock with a bus whose accessors we set.
unsafe extern "C" fn write_trampoline(
    bus: *mut bindings::pci_bus,
    devfn: c_uint,
    where_: c_int,
    size: c_int,
    val: u32,
) -> c_int {
    // SAFETY: the PCI core calls us only through the installed `ops`.
    let this = unsafe { Interposer::from_bus(bus) };
    // SAFETY: `orig` outlives the interposer (type invariant).
    let (Some(orig_read), Some(orig_write)) = (unsafe { ((*this.orig).read, (*this.orig).write) }) else {
        return PCIBIOS_FUNC_NOT_SUPPORTED;
    };
    // SAFETY: `bus` is live.
    let number = unsafe { (*bus).number };
    let Some(function) = this.function(number, devfn as u8) else {
        // SAFETY: forwarding the PCI core's own arguments.
        return unsafe { orig_write(bus, devfn, where_, size, val) };
    };
    // SAFETY: the PCI core's own bus and devfn, under pci_lock.
    let raw_read = unsafe { raw_reader(orig_read, bus, devfn) };
    if function.config_write(where_ as u16, size as u8, val, raw_read) {
        // SAFETY: forwarding the PCI core's own arguments.
        return unsafe { orig_write(bus, devfn, where_, size, val) };
    }
    PCIBIOS_SUCCESSFUL
}
