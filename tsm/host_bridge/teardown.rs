// SPDX-License-Identifier: GPL-2.0

//! Ordered TDI teardown through the IOASID core (include/teeio/ioasid.h).
//!
//! Each VM's TVM is an IOASID set (token: the VM cookie) and each bound TDI
//! holds an IOASID whose private data is its [`Binding`]. Four subscribers
//! take a reference at BIND and, on UNBIND or FREE, tear their part down on
//! the core's ordered queue, in priority order, then put it:
//!
//! - CPU (per set, registered with the TVM): unmap the TDI's private MMIO
//!   from the TVM's secure stage-2;
//! - DEVICE: STOP_INTERFACE (the TVM's own when the guest asked to stop);
//! - IOMMU: drop the TDI from the TVM's trusted IOMMU context;
//! - LAST: free the TDI's context in the platform TSM.
//!
//! A TDI whose device has an MMIO exporter (include/teeio/tsm_bridge.h, the
//! VFIO variant driver) has two more: `mmio-revoke` (CPU, per set, before
//! the unmap: the exporter revokes its dma-bufs and the secure stage-2,
//! their importer, unmaps them) and `mmio-recover` (LAST, system-wide, so
//! after the TDI is freed: the dma-bufs may be used shared again).
//!
//! Every path (host unbind, guest stop, device error, VM release before
//! unbind, TSM unregister and rmmod through the PCI/TSM core's unbind) goes
//! through these four.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering::SeqCst};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::backend::{GuestService, Target, TsmBackend, TsmError};
use crate::teeio_bindings::{self as b, teeio_ioasid_event_data, teeio_ioasid_subscriber};
use crate::Bridge;

pub(crate) const CPU: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_CPU;
pub(crate) const DEVICE: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_DEVICE;
pub(crate) const IOMMU: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_IOMMU;
pub(crate) const LAST: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_LAST;
/// Step ids beyond the four priorities: the MMIO exporter's two steps.
pub(crate) const MMIO_REVOKE: u32 = 4;
pub(crate) const MMIO_RECOVER: u32 = 5;

/// The IOASID priority of step `step`.
const fn priority(step: u32) -> u32 {
    match step {
        MMIO_REVOKE => CPU,
        MMIO_RECOVER => LAST,
        s => s,
    }
}

/// What the teardown needs to know about a bound TDI.
pub(crate) struct Binding {
    pub(crate) tvm: u64,
    pub(crate) target: Target,
    /// The TDI's function.
    pub(crate) pdev: *mut kernel::bindings::pci_dev,
    /// Its MMIO exporter was told of the bind: the MMIO steps run.
    pub(crate) exporter: AtomicBool,
    /// The TVM asked to stop: the DEVICE step is its STOP_INTERFACE.
    pub(crate) guest_stop: AtomicBool,
    /// The DEVICE step's platform TSM status (0 when it stopped).
    pub(crate) device_status: AtomicI64,
    /// Steps holding a reference, one bit per priority.
    held: AtomicU32,
}

// SAFETY: `target.dsm` and `pdev` are pci_devs the PCI/TSM core keeps
// alive while the TDI is bound; unbind waits for the teardown before it returns.
unsafe impl Send for Binding {}
// SAFETY: as above; the rest is atomics and plain values.
unsafe impl Sync for Binding {}

impl Binding {
    pub(crate) fn new(tvm: u64, target: Target, pdev: *mut kernel::bindings::pci_dev) -> Self {
        Self {
            tvm,
            target,
            pdev,
            exporter: AtomicBool::new(false),
            guest_stop: AtomicBool::new(false),
            device_status: AtomicI64::new(0),
            held: AtomicU32::new(0),
        }
    }
}

/// A notifier registration, unregistered when dropped.
///
/// # Invariants
///
/// `0` came from a successful `teeio_ioasid_register()`.
pub(crate) struct Notifier(*mut b::teeio_ioasid_notifier);

// SAFETY: the registration is a handle the core accepts from any thread.
unsafe impl Send for Notifier {}

impl Drop for Notifier {
    fn drop(&mut self) {
        // SAFETY: registered per the type invariant; waits for its calls.
        unsafe { b::teeio_ioasid_unregister(self.0) };
    }
}

/// A set's CPU subscribers, in their order: `mmio-revoke`, `stage2-unmap`.
pub(crate) type CpuSteps = (Notifier, Notifier);

/// Registers the step `STEP` for `bridge`: system-wide, or for the set of
/// the VM with cookie `token`.
pub(crate) fn register<const STEP: u32>(bridge: *const Bridge, token: Option<u64>) -> Result<Notifier> {
    let name = match STEP {
        CPU => c"stage2-unmap",
        DEVICE => c"tdi-stop",
        IOMMU => c"trusted-dma-detach",
        MMIO_REVOKE => c"mmio-revoke",
        MMIO_RECOVER => c"mmio-recover",
        _ => c"tdi-free",
    };
    let desc = teeio_ioasid_subscriber {
        name: name.as_char_ptr(),
        priority: priority(STEP),
        atomic: Some(on_event::<STEP>),
        deferred: Some(tear_down::<STEP>),
        data: bridge.cast_mut().cast(),
    };
    let token = token.as_ref().map_or(core::ptr::null(), |t| t as *const u64);
    // SAFETY: `desc` is complete; the core copies it.
    let n = unsafe { b::teeio_ioasid_register(token, &desc) };
    kernel::error::from_err_ptr(n)?;
    // INVARIANT: registered.
    Ok(Notifier(n))
}

/// Atomic handler: a reference at BIND; on UNBIND or FREE, defer the step
/// once.
unsafe extern "C" fn on_event<const STEP: u32>(ev: *const teeio_ioasid_event_data, _data: *mut c_void) -> c_int {
    // SAFETY: the core passes a valid event.
    let ev = unsafe { &*ev };
    // SAFETY: the private data of the bridge's IOASIDs is a `Binding`
    // kept alive until LAST has run.
    let Some(binding) = (unsafe { ev.private.cast::<Binding>().as_ref() }) else {
        return 0;
    };
    let bit = 1 << STEP;
    if matches!(STEP, MMIO_REVOKE | MMIO_RECOVER) && !binding.exporter.load(SeqCst) {
        return 0;
    }
    match ev.event {
        b::teeio_ioasid_event_TEEIO_IOASID_BIND => {
            // SAFETY: called from an atomic handler, as required.
            if unsafe { b::teeio_ioasid_get_locked(ev.set, ev.ioasid) } == 0 {
                binding.held.fetch_or(bit, SeqCst);
            }
            0
        }
        b::teeio_ioasid_event_TEEIO_IOASID_UNBIND | b::teeio_ioasid_event_TEEIO_IOASID_FREE
            if binding.held.fetch_and(!bit, SeqCst) & bit != 0 =>
        {
            b::TEEIO_IOASID_DEFER as c_int
        }
        _ => 0,
    }
}

/// Runs teardown step `STEP` of `binding`.
pub(crate) fn step(tsm: &impl TsmBackend, binding: &Binding, step: u32) -> Result<(), TsmError> {
    let (tvm, t) = (binding.tvm, binding.target);
    let (result, what) = match step {
        CPU => (tsm.unmap_mmio(tvm, t), "CPU: private MMIO unmapped from the secure stage-2"),
        DEVICE if binding.guest_stop.load(SeqCst) => (
            tsm.guest(tvm, t, GuestService::Stop, &mut []).map(|_| ()),
            "DEVICE: STOP_INTERFACE (the TVM's)",
        ),
        DEVICE => (tsm.stop(tvm, t), "DEVICE: STOP_INTERFACE"),
        IOMMU => (tsm.detach_dma(tvm, t), "IOMMU: trusted DMA detached"),
        MMIO_REVOKE => (exporter_notify(binding, b::teeio_bridge_exporter_event_TEEIO_BRIDGE_EXPORTER_REVOKE), "CPU: MMIO dma-bufs revoked"),
        MMIO_RECOVER => (exporter_notify(binding, b::teeio_bridge_exporter_event_TEEIO_BRIDGE_EXPORTER_RECOVER), "LAST: MMIO dma-bufs recovered"),
        _ => (tsm.unbind(tvm, t), "LAST: TDI freed"),
    };
    if step == DEVICE {
        binding.device_status.store(result.err().map_or(0, |e| e.tsm_code), SeqCst);
    }
    match result {
        Ok(()) => pr_info!("TDI {:#x} of TVM {}: teardown {}\n", t.tdi, tvm, what),
        Err(e) => pr_warn!("TDI {:#x} of TVM {}: teardown {} failed: TSM status {}\n", t.tdi, tvm, what, e.tsm_code),
    }
    result
}

/// Tells the TDI's MMIO exporter `event`; it may have gone meanwhile.
fn exporter_notify(binding: &Binding, event: u32) -> Result<(), TsmError> {
    // SAFETY: `pdev` is alive while the TDI is bound (see `Binding`).
    unsafe { b::teeio_bridge_exporter_notify(binding.pdev, event) };
    Ok(())
}

/// Deferred handler: the step, then the reference put; LAST also drops
/// the IOASID's reference to the binding.
unsafe extern "C" fn tear_down<const STEP: u32>(ev: *const teeio_ioasid_event_data, data: *mut c_void) -> c_int {
    // SAFETY: as in `on_event`; `data` is the bridge, which unregisters
    // (waiting for queued calls) before it goes.
    let (ev, bridge) = unsafe { (&*ev, &*data.cast::<Bridge>()) };
    let binding = ev.private.cast::<Binding>().cast_const();
    // SAFETY: `tdi-free` drops the IOASID's reference after every other
    // step but `mmio-recover`; the bridge's bound record keeps another
    // until the unbind that drops it has flushed the queue.
    let rc = match step(&bridge.backend, unsafe { &*binding }, STEP) {
        Ok(()) => 0,
        Err(e) => e.errno.to_errno(),
    };
    // SAFETY: plain call; the reference was taken at BIND.
    unsafe { b::teeio_ioasid_put(ev.set, ev.ioasid) };
    if STEP == LAST {
        // SAFETY: the IOASID's reference, made by `Arc::into_raw` at bind.
        drop(unsafe { Arc::from_raw(binding) });
    }
    rc
}

/// The steps in order, for a TDI whose IOASID never got bound.
pub(crate) fn tear_down_now(tsm: &impl TsmBackend, binding: &Binding) {
    let mmio = binding.exporter.load(SeqCst);
    for s in [MMIO_REVOKE, CPU, DEVICE, IOMMU, LAST, MMIO_RECOVER] {
        if mmio || !matches!(s, MMIO_REVOKE | MMIO_RECOVER) {
            let _ = step(tsm, binding, s);
        }
    }
}
