// SPDX-License-Identifier: GPL-2.0

//! FFI edge of the emulation: the PCI core (device lookup, config access,
//! remove and rescan, DOE).
//! Everything `unsafe` about these calls stays in this file.


use core::ptr::NonNull;

use kernel::bindings;
use kernel::prelude::*;

use crate::teeio_bindings;

/// A PCI function's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bdf {
    pub(crate) domain: u32,
    pub(crate) bus: u8,
    pub(crate) devfn: u8,
}

impl Bdf {
    /// Parses `DDDD:BB:DD.F`.
    pub(crate) fn parse(text: &[u8]) -> Option<Self> {
        let text = core::str::from_utf8(text).ok()?;
        let (domain, rest) = text.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (dev, func) = rest.split_once('.')?;
        let domain = u32::from_str_radix(domain, 16).ok()?;
        let bus = u8::from_str_radix(bus, 16).ok()?;
        let dev = u8::from_str_radix(dev, 16).ok().filter(|d| *d < 32)?;
        let func = u8::from_str_radix(func, 16).ok().filter(|f| *f < 8)?;
        Some(Self { domain, bus, devfn: dev << 3 | func })
    }

    /// The Requester ID, `bus << 8 | devfn`.
    pub(crate) fn rid(&self) -> u16 {
        u16::from(self.bus) << 8 | u16::from(self.devfn)
    }
}

impl kernel::fmt::Display for Bdf {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.{}", self.domain, self.bus, self.devfn >> 3, self.devfn & 7)
    }
}

/// A memory BAR: its index, bus address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemBar {
    pub(crate) index: u8,
    pub(crate) start: u64,
    pub(crate) len: u64,
}

/// A counted reference to a `struct pci_dev`.
///
/// # Invariants
///
/// `ptr` points to a live `pci_dev` on which this value holds one
/// reference; `bdf` is its address.
pub(crate) struct PciDevRef {
    ptr: NonNull<bindings::pci_dev>,
    bdf: Bdf,
}

// SAFETY: `pci_dev` references may be taken, used and dropped on any thread.
unsafe impl Send for PciDevRef {}
// SAFETY: the methods only do thread-safe PCI core calls.
unsafe impl Sync for PciDevRef {}

impl Drop for PciDevRef {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own one reference.
        unsafe { bindings::pci_dev_put(self.ptr.as_ptr()) };
    }
}

impl PciDevRef {
    /// The function at `bdf`, if present.
    pub(crate) fn get(bdf: Bdf) -> Option<Self> {
        // SAFETY: plain lookup; returns a new reference or NULL.
        let ptr = unsafe {
            bindings::pci_get_domain_bus_and_slot(bdf.domain as i32, u32::from(bdf.bus), u32::from(bdf.devfn))
        };
        // INVARIANT: the lookup returned a counted reference to `bdf`.
        NonNull::new(ptr).map(|ptr| Self { ptr, bdf })
    }

    fn raw(&self) -> *mut bindings::pci_dev {
        self.ptr.as_ptr()
    }

    /// The function's address.
    pub(crate) fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// Offset of the PCI Express capability, 0 for conventional PCI.
    pub(crate) fn pcie_cap(&self) -> u16 {
        // SAFETY: reading a plain field of a live pci_dev.
        u16::from(unsafe { (*self.raw()).pcie_cap })
    }

    /// Whether this is a PCIe Root Port.
    pub(crate) fn is_root_port(&self) -> bool {
        // SAFETY: reading a plain field of a live pci_dev.
        let flags = u32::from(unsafe { (*self.raw()).pcie_flags_reg });
        self.pcie_cap() != 0 && (flags & bindings::PCI_EXP_FLAGS_TYPE) >> 4 == bindings::PCI_EXP_TYPE_ROOT_PORT
    }

    /// The bridge above this function, if any.
    pub(crate) fn upstream_bridge(&self) -> Option<Self> {
        // SAFETY: `bus` of a live pci_dev is valid; `self_` is the bridge
        // leading to it or NULL; `pci_dev_get` takes a reference (NULL-safe).
        let ptr = NonNull::new(unsafe { bindings::pci_dev_get((*(*self.raw()).bus).self_) })?;
        // SAFETY: `ptr` is a live bridge whose `bus` is valid.
        let bdf = unsafe {
            Bdf { domain: self.bdf.domain, bus: (*(*ptr.as_ptr()).bus).number, devfn: (*ptr.as_ptr()).devfn as u8 }
        };
        // INVARIANT: `pci_dev_get` returned a counted reference to `bdf`.
        Some(Self { ptr, bdf })
    }

    /// The root bus of this function's hierarchy.
    pub(crate) fn root_bus(&self) -> *mut bindings::pci_bus {
        // SAFETY: the bus chain of a live pci_dev is valid up to the root.
        unsafe {
            let mut bus = (*self.raw()).bus;
            while !(*bus).parent.is_null() {
                bus = (*bus).parent;
            }
            bus
        }
    }

    /// Reads a config dword; all ones when the read fails.
    pub(crate) fn read_dword(&self, offset: u16) -> u32 {
        let mut value = u32::MAX;
        // SAFETY: live pci_dev, valid out pointer.
        unsafe { bindings::pci_read_config_dword(self.raw(), i32::from(offset), &mut value) };
        value
    }

    /// Reads a config word; all ones when the read fails.
    pub(crate) fn read_word(&self, offset: u16) -> u16 {
        let mut value = u16::MAX;
        // SAFETY: live pci_dev, valid out pointer.
        unsafe { bindings::pci_read_config_word(self.raw(), i32::from(offset), &mut value) };
        value
    }

    /// Writes a config dword.
    #[cfg_attr(not(CONFIG_KUNIT = "y"), expect(dead_code))]
    pub(crate) fn write_dword(&self, offset: u16, value: u32) {
        // SAFETY: live pci_dev.
        unsafe { bindings::pci_write_config_dword(self.raw(), i32::from(offset), value) };
    }

    /// Writes a config word.
    pub(crate) fn write_word(&self, offset: u16, value: u16) {
        // SAFETY: live pci_dev.
        unsafe { bindings::pci_write_config_word(self.raw(), i32::from(offset), value) };
    }

    /// Offset of extended capability `id`, 0 when absent.
    pub(crate) fn find_ext_capability(&self, id: u16) -> u16 {
        // SAFETY: live pci_dev.
        unsafe { bindings::pci_find_ext_capability(self.raw(), i32::from(id)) }
    }

    /// The function's memory BARs as the PCI core assigned them.
    pub(crate) fn mem_bars(&self) -> KVec<MemBar> {
        let mut bars = KVec::new();
        for index in 0..6u8 {
            // SAFETY: standard BAR resources 0..5 exist in every pci_dev.
            let res = unsafe { &(*self.raw()).resource[index as usize] };
            let mem = res.flags as u32 & bindings::IORESOURCE_MEM != 0;
            if mem && res.end > res.start {
                let bar = MemBar { index, start: res.start, len: res.end - res.start + 1 };
                // A failed push leaves the BAR out of the report, never more.
                let _ = bars.push(bar, GFP_KERNEL);
            }
        }
        bars
    }

    /// The DOE mailbox upstream pci_doe found for `vendor`/`object_type`.
    pub(crate) fn doe_mailbox(&self, vendor: u16, object_type: u8) -> Option<DoeMailbox<'_>> {
        // SAFETY: live pci_dev; the mailbox lives as long as the device.
        let mb = unsafe { teeio_bindings::pci_find_doe_mailbox(self.raw(), vendor, object_type) };
        NonNull::new(mb).map(|mb| DoeMailbox { mb, vendor, object_type, _dev: self })
    }
}

/// A DOE mailbox of a device, used through upstream `pci_doe()`.
pub(crate) struct DoeMailbox<'a> {
    mb: NonNull<teeio_bindings::pci_doe_mb>,
    vendor: u16,
    object_type: u8,
    _dev: &'a PciDevRef,
}

impl DoeMailbox<'_> {
    /// Sends `request` and receives into `response`; returns the bytes received.
    pub(crate) fn exchange(&self, request: &[u8], response: &mut [u8]) -> Result<usize> {
        // SAFETY: the mailbox belongs to the device `_dev` keeps alive; the
        // buffers are valid for their lengths.
        let ret = unsafe {
            teeio_bindings::pci_doe(
                self.mb.as_ptr(),
                self.vendor,
                self.object_type,
                request.as_ptr().cast(),
                request.len(),
                response.as_mut_ptr().cast(),
                response.len(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }
}

/// Removes `port` and every function below it from the PCI core.
pub(crate) fn remove_hierarchy(port: PciDevRef) {
    // SAFETY: the rescan/remove lock serializes with hotplug; `port` stays
    // allocated through our reference, dropped after the removal.
    unsafe {
        bindings::pci_lock_rescan_remove();
        bindings::pci_stop_and_remove_bus_device(port.raw());
        bindings::pci_unlock_rescan_remove();
    }
    drop(port);
}

/// Scans `bus` for functions the PCI core does not know, probing them
/// through the bus's current accessors.
pub(crate) fn rescan(bus: *mut bindings::pci_bus) {
    // SAFETY: `bus` is a live root bus; the lock serializes with hotplug.
    unsafe {
        bindings::pci_lock_rescan_remove();
        bindings::pci_rescan_bus(bus);
        bindings::pci_unlock_rescan_remove();
    }
}

/// Calls `f` on every PCI bus in the system.
pub(crate) fn for_each_bus(mut f: impl FnMut(*mut bindings::pci_bus)) {
    let mut bus = core::ptr::null_mut();
    loop {
        // SAFETY: walks the global root-bus list; NULL starts it.
        bus = unsafe { bindings::pci_find_next_bus(bus) };
        if bus.is_null() {
            break;
        }
        walk_children(bus, &mut f);
    }
}

fn walk_children(bus: *mut bindings::pci_bus, f: &mut impl FnMut(*mut bindings::pci_bus)) {
    f(bus);
    // SAFETY: `bus` is live; its `children` list links `pci_bus::node`.
    unsafe {
        let head = &raw mut (*bus).children;
        let mut node = (*head).next;
        while node != head {
            let child = kernel::container_of!(node, bindings::pci_bus, node);
            walk_children(child, f);
            node = (*node).next;
        }
    }
}
