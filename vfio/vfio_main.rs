// SPDX-License-Identifier: GPL-2.0

//! teeio-vfio-pci: a VFIO PCI variant driver for TDISP devices.
//!
//! vfio-pci's behaviour (vfio_pci_core, VFIO_DEVICE_FEATURE_DMA_BUF
//! included) plus, for a device whose TDI a TVM binds: its MMIO exported
//! as dma-bufs for the TVM's private MMIO, revoked in the TDI's teardown
//! before the private MMIO is unmapped and recovered after the TDI is
//! freed; resets and lock-breaking config writes refused while the TDI is
//! bound (include/uapi/linux/teeio_vfio.h, Documentation/vfio.rst).
//!
//! Lock order: the host TSM bridge's exporter lock (held across our
//! callbacks), the C edge's dma-buf list lock, a dma-buf's reservation
//! lock, the importer's locks. A TDI's phase mutex is a leaf (an export
//! checks it again under the list lock).

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

#[path = "../rust/teeio_bindings.rs"]
mod teeio_bindings;

mod policy;
mod tdi;

use teeio_bindings as b;
use tdi::Tdi;

module! {
    type: VfioModule,
    name: "teeio_vfio_pci",
    authors: ["teeio developers"],
    description: "VFIO PCI variant driver exporting a bound TDI's MMIO as revocable dma-bufs",
    license: "GPL",
}

/// The registered PCI driver.
struct VfioModule;

impl kernel::Module for VfioModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: plain registration, undone in `drop`.
        kernel::error::to_result(unsafe { b::teeio_vfio_edge_register() })?;
        Ok(Self)
    }
}

impl Drop for VfioModule {
    fn drop(&mut self) {
        // SAFETY: registered in `init`.
        unsafe { b::teeio_vfio_edge_unregister() };
    }
}

fn errno(r: Result) -> c_int {
    r.map_or_else(|e| e.to_errno(), |()| 0)
}

/// # Safety
///
/// `tdi` is what `teeio_vfio_tdi_new` made and has not been freed.
unsafe fn tdi<'a>(tdi: *mut c_void) -> &'a Tdi {
    // SAFETY: per the contract.
    unsafe { &*tdi.cast::<Tdi>() }
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_new(
    vdev: *mut b::teeio_vfio_device,
    pdev: *mut kernel::bindings::pci_dev,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: the C edge frees the object before the device goes.
    match unsafe { Tdi::new(vdev, pdev) } {
        Ok(t) => {
            // SAFETY: `out` is valid; the box is freed by `teeio_vfio_tdi_free`
            // and never moved.
            unsafe { *out = KBox::into_raw(Pin::into_inner_unchecked(t)).cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_free(tdi: *mut c_void) {
    // SAFETY: made by `teeio_vfio_tdi_new`, freed once.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw(tdi.cast::<Tdi>())) });
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_may_reset(t: *mut c_void) -> c_int {
    // SAFETY: the C edge passes its device's live object.
    errno(unsafe { tdi(t) }.may_reset())
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_may_write_config(t: *mut c_void, offset: u64, data: *const u8, len: usize) -> c_int {
    // SAFETY: the C edge passes a kernel copy of the write, `len` bytes.
    let data = unsafe { core::slice::from_raw_parts(data, len) };
    // SAFETY: the C edge passes its device's live object.
    errno(unsafe { tdi(t) }.may_write_config(offset, data))
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_may_export(t: *mut c_void) -> c_int {
    // SAFETY: the C edge passes its device's live object.
    errno(unsafe { tdi(t) }.may_export())
}

#[no_mangle]
unsafe extern "C" fn teeio_vfio_tdi_locked(t: *mut c_void) -> bool {
    // SAFETY: the C edge passes its device's live object.
    unsafe { tdi(t) }.phase() == tdi::Phase::Locked
}
