// SPDX-License-Identifier: GPL-2.0

//! Host TSM bridge: a TSM device on the upstream PCI/TSM core over a
//! platform TSM backend.
//!
//! Binds to a platform TSM's device (today the emulated "teeio-tsm-emu"),
//! registers a `tsm_dev` with tsm-core and implements the PCI/TSM link
//! operations: connect (SPDM through the TSM, then a selective IDE stream
//! set up with upstream pci_ide and keyed by the TSM), disconnect, bind
//! (MMIO regions offered, then LOCK_INTERFACE through the TSM), unbind and
//! every other teardown (sequenced by the IOASID core, see teardown.rs) and
//! guest requests (scope checked here).
//!
//! Lock order: the C edge's bridge list lock (VM release only), then
//! pci_tsm_rwsem, then the DSM's pci_tsm_pf0::lock (both taken by the
//! PCI/TSM core around every operation), then `Bridge::tvms`, then the
//! IOASID core's lock, then the platform TSM's own lock. Teardown steps run
//! on the IOASID core's queue and take only the platform TSM's lock, so
//! waiting for them with the others held is safe.

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{bindings, new_mutex};

#[path = "../../rust/teeio_bindings.rs"]
mod teeio_bindings;

mod backend;
mod guest_req;
mod teardown;
mod tvms;

use backend::{EmulatedTsm, GuestService, Target, TsmBackend, TsmError};
use core::sync::atomic::Ordering;
use kernel::sync::Arc;
use teardown::{Binding, Notifier};
use teeio_bindings as b;
use tvms::{Bound, TvmTable};

module! {
    type: TsmBridge,
    name: "teeio_tsm_bridge",
    authors: ["teeio developers"],
    description: "Host TSM bridge: PCI/TSM link operations over a platform TSM backend",
    license: "GPL",
    imports_ns: ["PCI_IDE"],
}

/// The bridge's state for one bound platform TSM.
#[pin_data]
struct Bridge {
    backend: EmulatedTsm,
    #[pin]
    tvms: Mutex<TvmTable>,
    /// The system-wide teardown subscribers (DEVICE, IOMMU, LAST).
    steps: KVec<Notifier>,
}

struct TsmBridge;

impl kernel::Module for TsmBridge {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: registers the C edge's platform driver; undone in drop.
        kernel::error::to_result(unsafe { b::teeio_bridge_driver_register() })?;
        Ok(Self)
    }
}

impl Drop for TsmBridge {
    fn drop(&mut self) {
        // SAFETY: registered in init; unbinding tears every link down.
        unsafe { b::teeio_bridge_driver_unregister() };
    }
}

/// The `struct device` of `pdev`, for dev_* logging.
fn dev_of<'a>(pdev: *mut bindings::pci_dev) -> &'a kernel::device::Device {
    // SAFETY: the PCI/TSM core calls with a live pci_dev, valid for the call.
    unsafe { kernel::device::Device::from_raw(&raw mut (*pdev).dev) }
}

/// Segment << 16 | requester id of `pdev`.
fn pci_id(pdev: *mut bindings::pci_dev) -> u32 {
    // SAFETY: live pci_dev.
    unsafe { b::teeio_bridge_pci_id(pdev) }
}

/// How the platform TSM addresses `pdev`.
fn target(pdev: *mut bindings::pci_dev) -> Target {
    // SAFETY: `pdev` has a pci_tsm context while the core calls us.
    let dsm = unsafe { b::teeio_bridge_dsm_dev(pdev) };
    let dsm = if dsm.is_null() { pdev } else { dsm };
    Target { dsm, device: pci_id(dsm), tdi: pci_id(pdev) }
}

/// The errno of a TSM refusal, logged.
fn refused(pdev: *mut bindings::pci_dev, what: &str, e: TsmError) -> c_int {
    dev_warn!(dev_of(pdev), "{}: platform TSM refused ({}): {:?}\n", what, e.tsm_code, e.errno);
    e.errno.to_errno()
}

/// Binds the bridge to a platform TSM whose call ABI is `fw`.
#[no_mangle]
extern "C" fn teeio_bridge_attach(_dev: *mut bindings::device, fw: *const b::teeio_tsm_fw) -> *mut c_void {
    // SAFETY: `fw` is the platform data of the device being probed, valid
    // until it is unbound, when `teeio_bridge_detach` drops the bridge.
    let backend = unsafe { EmulatedTsm::new(fw) };
    let bridge = KBox::pin_init(
        pin_init!(Bridge { backend, tvms <- new_mutex!(TvmTable::default()), steps: KVec::new() }),
        GFP_KERNEL,
    );
    let mut bridge = match bridge {
        Ok(bridge) => bridge,
        Err(e) => return e.to_ptr(),
    };
    let this: *const Bridge = &*bridge;
    let steps = (|| -> Result<KVec<Notifier>> {
        let mut steps = KVec::with_capacity(4, GFP_KERNEL)?;
        steps.push(teardown::register::<{ teardown::DEVICE }>(this, None)?, GFP_KERNEL)?;
        steps.push(teardown::register::<{ teardown::IOMMU }>(this, None)?, GFP_KERNEL)?;
        steps.push(teardown::register::<{ teardown::LAST }>(this, None)?, GFP_KERNEL)?;
        steps.push(teardown::register::<{ teardown::MMIO_RECOVER }>(this, None)?, GFP_KERNEL)?;
        Ok(steps)
    })();
    match steps {
        Ok(steps) => *bridge.as_mut().project().steps = steps,
        Err(e) => return e.to_ptr(),
    }
    // SAFETY: the C edge keeps the pointer until `teeio_bridge_detach`.
    unsafe { KBox::into_raw(Pin::into_inner_unchecked(bridge)).cast() }
}

/// Frees what `teeio_bridge_attach` made.
#[no_mangle]
extern "C" fn teeio_bridge_detach(bridge: *mut c_void) {
    // SAFETY: made by `teeio_bridge_attach`, no operation runs any more.
    drop(unsafe { KBox::from_raw(bridge.cast::<Bridge>()) });
}

fn bridge_ref<'a>(bridge: *mut c_void) -> &'a Bridge {
    // SAFETY: the C edge passes the pointer `teeio_bridge_attach` returned,
    // valid while the tsm_dev is registered.
    unsafe { &*bridge.cast::<Bridge>() }
}

/// connect: SPDM through the platform TSM, then a selective IDE stream:
/// upstream pci_ide allocates and programs the stream registers of the
/// endpoint and the root port, the TSM programs and starts the keys, then
/// pci_ide enables the stream on both ports.
#[no_mangle]
extern "C" fn teeio_bridge_connect(bridge: *mut c_void, pdev: *mut bindings::pci_dev) -> c_int {
    let tsm = &bridge_ref(bridge).backend;
    let t = target(pdev);
    if let Err(e) = tsm.connect_device(t) {
        return refused(pdev, "connect (SPDM)", e);
    }
    // SAFETY: live connected pdev; the stream is released on every path.
    let ide = unsafe { b::teeio_bridge_ide_setup(pdev) };
    if let Err(e) = kernel::error::from_err_ptr(ide) {
        dev_warn!(dev_of(pdev), "connect: no IDE stream: {:?}\n", e);
        let _ = tsm.disconnect_device(t);
        return e.to_errno();
    }
    // SAFETY: `ide` is a set-up stream of `pdev`.
    let (stream_id, root_port) = unsafe { (b::teeio_bridge_ide_stream_id(ide), b::teeio_bridge_root_port_id(pdev)) };
    let keyed = tsm.ide_keys_start(t, stream_id, root_port);
    // SAFETY: as above; enabling checks both ports report Secure.
    let enabled = keyed.map_err(|e| refused(pdev, "connect (IDE keys)", e)).and_then(|()| {
        match unsafe { b::teeio_bridge_ide_enable(pdev, ide) } {
            0 => Ok(()),
            rc => {
                dev_warn!(dev_of(pdev), "connect: IDE stream {} not secure: {}\n", stream_id, rc);
                let _ = tsm.ide_keys_stop(t);
                Err(rc)
            }
        }
    });
    if let Err(rc) = enabled {
        // SAFETY: the stream is not recorded anywhere else.
        unsafe { b::teeio_bridge_ide_release(ide) };
        let _ = tsm.disconnect_device(t);
        return rc;
    }
    // SAFETY: `pdev` is the DSM function with its link context.
    unsafe { b::teeio_bridge_set_ide(pdev, ide) };
    dev_info!(dev_of(pdev), "connected: SPDM authenticated, IDE stream {} secure\n", stream_id);
    0
}

/// disconnect: the core unbound every TDI already; stop the stream, then
/// forget the device.
#[no_mangle]
extern "C" fn teeio_bridge_disconnect(bridge: *mut c_void, pdev: *mut bindings::pci_dev) {
    let tsm = &bridge_ref(bridge).backend;
    let t = target(pdev);
    // SAFETY: the DSM function's link context.
    let ide = unsafe { b::teeio_bridge_take_ide(pdev) };
    if !ide.is_null() {
        if let Err(e) = tsm.ide_keys_stop(t) {
            refused(pdev, "disconnect (IDE keys)", e);
        }
        // SAFETY: taken from the link; disables and frees both ports' stream.
        unsafe { b::teeio_bridge_ide_release(ide) };
    }
    if let Err(e) = tsm.disconnect_device(t) {
        refused(pdev, "disconnect", e);
    }
    dev_info!(dev_of(pdev), "disconnected\n");
}

/// The function's memory BARs: (host physical address, length).
fn mem_bars(pdev: *mut bindings::pci_dev) -> KVec<(u64, u64)> {
    let mut bars = KVec::new();
    for index in 0..6 {
        // SAFETY: standard BAR resources 0..5 exist in every pci_dev.
        let res = unsafe { &(*pdev).resource[index] };
        if res.flags as u32 & bindings::IORESOURCE_MEM != 0 && res.end > res.start {
            // A failed push offers fewer regions; the TSM then refuses to map.
            let _ = bars.push((res.start, res.end - res.start + 1), GFP_KERNEL);
        }
    }
    bars
}

/// A VM's first bind: its TVM, its IOASID set (token: the VM cookie) and
/// the set's CPU teardown subscribers, registered before the set exists,
/// the MMIO revoke before the unmap.
fn new_tvm(bridge: &Bridge, vm: usize) -> Result<(u64, u32, teardown::CpuSteps), TsmError> {
    let tsm = &bridge.backend;
    let tvm = tsm.create_tvm()?;
    let token = Some(vm as u64);
    let cpu = teardown::register::<{ teardown::MMIO_REVOKE }>(bridge, token)
        .and_then(|revoke| Ok((revoke, teardown::register::<{ teardown::CPU }>(bridge, token)?)));
    let made = cpu.and_then(|cpu| {
        let mut set = 0;
        // SAFETY: plain call; `set` is a valid output.
        match unsafe { b::teeio_ioasid_set_alloc(vm as u64, TDIS_PER_TVM, &mut set) } {
            0 => Ok((tvm, set, cpu)),
            rc => Err(Error::from_errno(rc)),
        }
    });
    made.map_err(|errno| {
        let _ = tsm.destroy_tvm(tvm);
        TsmError { errno, tsm_code: 0 }
    })
}

/// TDIs one TVM may have bound (its IOASID set's quota).
const TDIS_PER_TVM: u32 = 64;

/// The IOASID of a new bind in `set`, announced: each teardown step takes
/// its reference. Its set-private ID is the TDI id the VM knows it by, so
/// that per-set subscribers (a VMM's event queue) can tell TDIs apart; a
/// TDI id used twice in one VM is -EEXIST. The IOASID holds a reference to
/// `binding`.
fn bind_ioasid(set: u32, tdi_id: u32, binding: &Arc<Binding>) -> Result<u32> {
    let private = Arc::into_raw(binding.clone()).cast_mut().cast();
    let mut ioasid = 0;
    // SAFETY: plain calls; `ioasid` is a valid output.
    let mut rc = unsafe { b::teeio_ioasid_alloc(set, 1, u32::MAX, private, &mut ioasid) };
    if rc == 0 && tdi_id != 0 {
        // SAFETY: as above.
        rc = unsafe { b::teeio_ioasid_attach_spid(set, ioasid, tdi_id) };
    }
    if rc == 0 {
        // SAFETY: as above.
        rc = unsafe { b::teeio_ioasid_notify(set, ioasid, b::teeio_ioasid_event_TEEIO_IOASID_BIND) };
        if rc == 0 {
            return Ok(ioasid);
        }
        // SAFETY: ours, never bound: nobody else holds it.
        unsafe { b::teeio_ioasid_free(set, ioasid) };
    }
    // SAFETY: the reference made above, not kept by the core.
    drop(unsafe { Arc::from_raw(private.cast::<Binding>().cast_const()) });
    Err(Error::from_errno(rc))
}

/// bind: a TVM for the VM, the TDI's MMIO offered to it at the host's
/// addresses plus `mmio_offset` (where the VM sees them), then
/// LOCK_INTERFACE with that MMIO reporting offset through the TSM, then the
/// TDI's IOASID in the VM's set.
#[no_mangle]
extern "C" fn teeio_bridge_bind(
    bridge: *mut c_void,
    pdev: *mut bindings::pci_dev,
    kvm: *mut b::kvm,
    tdi_id: u32,
    mmio_offset: u64,
    tvm_out: *mut u64,
) -> c_int {
    let bridge = bridge_ref(bridge);
    let tsm = &bridge.backend;
    let t = target(pdev);
    let vm = kvm as usize;
    let mut tvms = bridge.tvms.lock();
    let (tvm, set, released) = match tvms.get_or_create(vm, || new_tvm(bridge, vm)) {
        Ok(e) => (e.tvm, e.set, e.released),
        Err(e) => return refused(pdev, "bind (TVM)", e),
    };
    let undo_tvm = |tvms: &mut TvmTable| {
        if let Some(gone) = tvms.put(vm) {
            undo(bridge, pdev, gone);
        }
    };
    if released {
        dev_warn!(dev_of(pdev), "bind: the VM released its IOASID set\n");
        undo_tvm(&mut tvms);
        return ENOENT.to_errno();
    }
    let bars = mem_bars(pdev);
    let mut added = 0;
    let mut result = Ok(());
    for &(hpa, len) in bars.iter() {
        result = tsm.add_region(tvm, t, hpa.wrapping_add(mmio_offset), hpa, len);
        if result.is_err() {
            break;
        }
        added += 1;
    }
    let result = result.and_then(|()| tsm.bind(tvm, t, mmio_offset));
    if let Err(e) = result {
        for &(hpa, _) in bars.iter().take(added) {
            let _ = tsm.reclaim_region(tvm, hpa.wrapping_add(mmio_offset));
        }
        undo_tvm(&mut tvms);
        return refused(pdev, "bind", e);
    }
    let mut made = None;
    let recorded = (|| -> Result {
        tvms.get(vm).ok_or(ENOENT)?.tdis.reserve(1, GFP_KERNEL)?;
        let binding = Arc::new(Binding::new(tvm, t, pdev), GFP_KERNEL)?;
        // SAFETY: `pdev` is the device being bound.
        let exporter = unsafe { b::teeio_bridge_exporter_notify(pdev, b::teeio_bridge_exporter_event_TEEIO_BRIDGE_EXPORTER_LOCKED) };
        binding.exporter.store(exporter, Ordering::SeqCst);
        made = Some(binding.clone());
        let ioasid = bind_ioasid(set, tdi_id, &binding)?;
        // Room was reserved: the push cannot fail.
        tvms.get(vm).ok_or(ENOENT)?.tdis.push(Bound { tdi: t.tdi, ioasid, binding }, GFP_KERNEL)?;
        Ok(())
    })();
    if let Err(e) = recorded {
        dev_warn!(dev_of(pdev), "bind: no IOASID for TDI {:#x}: {:?}\n", tdi_id, e);
        let unbound = Binding::new(tvm, t, pdev);
        teardown::tear_down_now(tsm, made.as_deref().unwrap_or(&unbound));
        undo_tvm(&mut tvms);
        return e.to_errno();
    }
    // SAFETY: the C edge passes a valid output pointer.
    unsafe { *tvm_out = tvm };
    dev_info!(dev_of(pdev), "TDI {:#x} bound to TVM {}: CONFIG_LOCKED, MMIO reporting offset {:#x}\n", tdi_id, tvm, mmio_offset);
    0
}

/// Undoes a VM's TVM after its last unbind: TVM, IOASID set, CPU subscriber.
fn undo(bridge: &Bridge, pdev: *mut bindings::pci_dev, gone: tvms::Gone) {
    if !gone.released {
        // SAFETY: the set is the bridge's and holds no IOASID any more.
        unsafe { b::teeio_ioasid_set_free(gone.set) };
    }
    drop(gone.cpu);
    if let Err(e) = bridge.backend.destroy_tvm(gone.tvm) {
        refused(pdev, "unbind (TVM)", e);
    }
}

/// unbind (also reached from TSM unregister and rmmod through the PCI/TSM
/// core): UNBIND to the TDI's IOASID, whose subscribers tear it down in
/// order, a wait for their steps, the IOASID freed, then the VM's TVM if
/// it was its last TDI. After a guest stop, a device error or a VM release
/// the teardown ran already and the UNBIND finds nothing to do.
#[no_mangle]
extern "C" fn teeio_bridge_unbind(
    bridge: *mut c_void,
    pdev: *mut bindings::pci_dev,
    kvm: *mut b::kvm,
    tdi_id: u32,
    tvm: u64,
) {
    let bridge = bridge_ref(bridge);
    let vm = kvm as usize;
    let t = target(pdev);
    let mut tvms = bridge.tvms.lock();
    let set = tvms.get(vm).map(|e| e.set);
    let bound = tvms.take_tdi(vm, t.tdi);
    if let (Some(set), Some(bound)) = (set, &bound) {
        // SAFETY: plain calls into the IOASID core on the bridge's IOASID.
        unsafe { b::teeio_ioasid_notify(set, bound.ioasid, b::teeio_ioasid_event_TEEIO_IOASID_UNBIND) };
        // SAFETY: as above.
        unsafe { b::teeio_ioasid_free(set, bound.ioasid) };
    }
    // Every step queued for this TDI (by this unbind or earlier) has run;
    // the last of them (`mmio-recover`) still used the record.
    // SAFETY: plain call.
    unsafe { b::teeio_ioasid_flush() };
    drop(bound);
    if let Some(gone) = tvms.put(vm) {
        undo(bridge, pdev, gone);
    }
    dev_info!(dev_of(pdev), "TDI {:#x} unbound from TVM {}\n", tdi_id, tvm);
}

/// The VM is going away before it unbound: its IOASID set is freed, which
/// tears every TDI it had bound down in order (FREE). The later unbinds
/// find nothing left to tear down.
#[no_mangle]
extern "C" fn teeio_bridge_vm_release(bridge: *mut c_void, kvm: *mut b::kvm) -> c_int {
    let bridge = bridge_ref(bridge);
    let mut tvms = bridge.tvms.lock();
    let Some(e) = tvms.get(kvm as usize) else {
        return ENOENT.to_errno();
    };
    if e.released {
        return 0;
    }
    e.released = true;
    pr_info!("VM released before unbind: TVM {}'s IOASID set {} freed\n", e.tvm, e.set);
    // SAFETY: the bridge's set; free always succeeds.
    unsafe { b::teeio_ioasid_set_free(e.set) }
}

/// A VMM hands VM `kvm`'s TVM a private MMIO dma-buf (the stand-in for
/// KVM's private-MMIO memslot).
#[no_mangle]
extern "C" fn teeio_bridge_import_mmio(
    bridge: *mut c_void,
    kvm: *mut b::kvm,
    slot: u32,
    gpa: u64,
    dmabuf: *mut bindings::dma_buf,
) -> c_int {
    let bridge = bridge_ref(bridge);
    let tvm = match bridge.tvms.lock().get(kvm as usize) {
        Some(e) if !e.released => e.tvm,
        _ => return ENOENT.to_errno(),
    };
    match bridge.backend.import_mmio(tvm, slot, gpa, dmabuf) {
        Ok(()) => {
            pr_info!("TVM {}: private MMIO slot {} at {:#x} imported\n", tvm, slot, gpa);
            0
        }
        Err(e) => {
            pr_info!("TVM {}: private MMIO slot {} refused: TSM status {}\n", tvm, slot, e.tsm_code);
            e.errno.to_errno()
        }
    }
}

/// The TVM's STOP_INTERFACE, or a TDI found in ERROR: the ordered teardown
/// runs now; the DEVICE step is the TVM's STOP when `by_guest`. Returns
/// the DEVICE step's status, or None when the TDI was torn down already.
fn stop_bound(bridge: &Bridge, tdi: u32, by_guest: bool) -> Option<i64> {
    let (set, ioasid, binding) = {
        let tvms = bridge.tvms.lock();
        let (e, bound) = tvms.find_tdi(tdi)?;
        (e.set, bound.ioasid, bound.binding.clone())
    };
    binding.guest_stop.store(by_guest, Ordering::SeqCst);
    // SAFETY: plain calls into the IOASID core.
    let rc = unsafe { b::teeio_ioasid_notify(set, ioasid, b::teeio_ioasid_event_TEEIO_IOASID_UNBIND) };
    // SAFETY: as above.
    unsafe { b::teeio_ioasid_flush() };
    (rc == 0).then(|| binding.device_status.load(Ordering::SeqCst))
}

/// A TVM's request for its TDI. Returns the bytes written to `out` or an
/// errno for requests the host refuses; the TSM's own refusals come back
/// in `tsm_code` with success, for the guest to read.
#[no_mangle]
extern "C" fn teeio_bridge_guest_req(
    bridge: *mut c_void,
    pdev: *mut bindings::pci_dev,
    tvm: u64,
    tdi_id: u32,
    scope: u32,
    input: *const c_void,
    in_len: usize,
    out: *mut c_void,
    out_len: usize,
    tsm_code: *mut u64,
) -> isize {
    // SAFETY: the C edge passes kernel buffers of the stated sizes.
    let (input, out) = unsafe {
        (
            core::slice::from_raw_parts(input.cast::<u8>(), in_len),
            core::slice::from_raw_parts_mut(out.cast::<u8>(), out_len),
        )
    };
    let service = match guest_req::decode(input, scope, tdi_id) {
        Ok(service) => service,
        Err(refusal) => {
            dev_warn!(dev_of(pdev), "guest request refused: {:?} (scope {})\n", refusal, scope);
            return refusal.errno().to_errno() as isize;
        }
    };
    let bridge = bridge_ref(bridge);
    let t = target(pdev);
    if service == GuestService::Stop {
        let code = stop_bound(bridge, t.tdi, true).unwrap_or(i64::from(b::TEEIO_TSM_ERR_INVALID_STATE));
        // SAFETY: valid output pointer from the C edge.
        unsafe { *tsm_code = code as u64 };
        return 0;
    }
    let result = bridge.backend.guest(tvm, t, service, out);
    if service == GuestService::State && matches!(result, Ok(n) if n > 0 && u32::from(out[0]) == b::TEEIO_TDI_ERROR) {
        dev_warn!(dev_of(pdev), "TDI {:#x} is in ERROR: ordered teardown\n", t.tdi);
        stop_bound(bridge, t.tdi, false);
    }
    let (written, code) = match result {
        Ok(n) => (n, 0),
        Err(e) => {
            dev_info!(dev_of(pdev), "guest request {:?}: TSM status {}\n", service, e.tsm_code);
            (0, e.tsm_code)
        }
    };
    // SAFETY: valid output pointer from the C edge.
    unsafe { *tsm_code = code as u64 };
    written as isize
}
