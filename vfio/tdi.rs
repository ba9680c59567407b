// SPDX-License-Identifier: GPL-2.0

//! One device's TDI as the variant driver follows it, told by the host TSM
//! bridge (include/teeio/tsm_bridge.h): shared, locked (bound to a TVM), or
//! revoked (torn down, its dma-bufs revoked, until the TDI is freed).

use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{bindings, new_mutex};

use crate::policy::config_write_breaks_tdi;
use crate::teeio_bindings as b;

/// Where a device's TDI is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No TDI bound: vfio-pci behaviour, no TDI dma-buf export.
    Shared,
    /// Bound to a TVM: TDI dma-bufs may be exported; resets and
    /// config writes that break the lock are refused.
    Locked,
    /// Torn down, dma-bufs revoked; the TDI is not freed yet.
    Revoked,
}

impl Phase {
    /// Whether resets and lock-breaking config writes are refused.
    pub(crate) fn holds_lock(self) -> bool {
        self != Phase::Shared
    }
}

/// A device's TDI.
///
/// # Invariants
///
/// `vdev` and `pdev` are the device this object was made for; the C edge
/// frees this object before it lets the device go. While `registered`,
/// the bridge holds `&self` as its exporter data.
#[pin_data(PinnedDrop)]
pub(crate) struct Tdi {
    vdev: *mut b::teeio_vfio_device,
    pdev: *mut bindings::pci_dev,
    pcie_cap: u64,
    registered: bool,
    #[pin]
    phase: Mutex<Phase>,
}

// SAFETY: the pointers are only passed to calls that take them from any
// thread; the phase is behind a mutex.
unsafe impl Send for Tdi {}
// SAFETY: as above.
unsafe impl Sync for Tdi {}

static EXPORTER_OPS: b::teeio_tsm_mmio_exporter_ops = b::teeio_tsm_mmio_exporter_ops {
    locked: Some(on_locked),
    revoke: Some(on_revoke),
    recover: Some(on_recover),
};

impl Tdi {
    /// The TDI of `pdev`, registered with the host TSM bridge as the
    /// exporter of its MMIO.
    ///
    /// # Safety
    ///
    /// `vdev` and `pdev` must stay valid until the result is dropped.
    pub(crate) unsafe fn new(vdev: *mut b::teeio_vfio_device, pdev: *mut bindings::pci_dev) -> Result<Pin<KBox<Self>>> {
        // SAFETY: `pdev` is valid per the contract.
        let pcie_cap = u64::from(unsafe { (*pdev).pcie_cap });
        let mut this = KBox::pin_init(
            pin_init!(Self { vdev, pdev, pcie_cap, registered: false, phase <- new_mutex!(Phase::Shared) }),
            GFP_KERNEL,
        )?;
        let data: *const Self = &*this;
        // SAFETY: `data` is pinned and unregistered in `drop` before it goes.
        let rc = unsafe { b::teeio_tsm_mmio_exporter_register(pdev, &EXPORTER_OPS, data.cast_mut().cast()) };
        if rc != 0 {
            this.warn(format_args!("cannot export TDI MMIO: the host TSM bridge refused ({})\n", rc));
            return Err(Error::from_errno(rc));
        }
        // SAFETY: only a field that is not structurally pinned changes.
        unsafe { this.as_mut().get_unchecked_mut().registered = true };
        Ok(this)
    }

    fn device(&self) -> &kernel::device::Device {
        // SAFETY: `pdev` is valid (type invariant); its device lives as long.
        unsafe { kernel::device::Device::from_raw(&raw mut (*self.pdev).dev) }
    }

    fn info(&self, args: core::fmt::Arguments<'_>) {
        dev_info!(self.device(), "{}", args);
    }

    fn warn(&self, args: core::fmt::Arguments<'_>) {
        dev_warn!(self.device(), "{}", args);
    }

    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        *self.phase.lock()
    }

    /// 0, or `-EBUSY` when a reset would break the TDI.
    pub(crate) fn may_reset(&self) -> Result {
        let phase = self.phase();
        if phase.holds_lock() {
            self.warn(format_args!("reset refused: the TDI is bound ({:?}); unbind it first\n", phase));
            return Err(EBUSY);
        }
        Ok(())
    }

    /// 0, or `-EBUSY` when writing `data` at `offset` would break the TDI.
    pub(crate) fn may_write_config(&self, offset: u64, data: &[u8]) -> Result {
        let phase = self.phase();
        if !phase.holds_lock() {
            return Ok(());
        }
        match config_write_breaks_tdi(offset, data, self.pcie_cap) {
            Some(why) => {
                self.warn(format_args!("config write at {:#x} refused: it {} of a bound TDI\n", offset, why));
                Err(EBUSY)
            }
            None => Ok(()),
        }
    }

    /// 0, or `-EBADFD` when the TDI is not locked.
    pub(crate) fn may_export(&self) -> Result {
        let phase = self.phase();
        if phase != Phase::Locked {
            self.info(format_args!("TDI dma-buf refused: the TDI is not locked ({:?})\n", phase));
            return Err(EBADFD);
        }
        Ok(())
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock() = phase;
    }
}

#[pinned_drop]
impl PinnedDrop for Tdi {
    fn drop(self: Pin<&mut Self>) {
        if self.registered {
            // SAFETY: registered in `new`; waits for running callbacks.
            unsafe { b::teeio_tsm_mmio_exporter_unregister(self.pdev) };
        }
    }
}

/// # Safety
///
/// `data` is a registered `Tdi` (the bridge calls only while registered).
unsafe fn tdi<'a>(data: *mut c_void) -> &'a Tdi {
    // SAFETY: per the contract.
    unsafe { &*data.cast::<Tdi>() }
}

unsafe extern "C" fn on_locked(data: *mut c_void) {
    // SAFETY: the bridge passes the registered data.
    let tdi = unsafe { tdi(data) };
    tdi.set(Phase::Locked);
    tdi.info(format_args!("TDI locked: TDI dma-bufs may be exported; resets refused\n"));
}

unsafe extern "C" fn on_revoke(data: *mut c_void) {
    // SAFETY: the bridge passes the registered data.
    let tdi = unsafe { tdi(data) };
    tdi.set(Phase::Revoked);
    // SAFETY: `vdev` is valid (type invariant).
    let n = unsafe { b::teeio_vfio_edge_move(tdi.vdev, true) };
    tdi.info(format_args!("TDI teardown: {} TDI dma-bufs revoked\n", n));
}

unsafe extern "C" fn on_recover(data: *mut c_void) {
    // SAFETY: the bridge passes the registered data.
    let tdi = unsafe { tdi(data) };
    // SAFETY: `vdev` is valid (type invariant).
    let n = unsafe { b::teeio_vfio_edge_move(tdi.vdev, false) };
    tdi.set(Phase::Shared);
    tdi.info(format_args!("TDI freed: {} TDI dma-bufs recovered; the device is shared again\n", n));
}
