// SPDX-License-Identifier: GPL-2.0

//! Host TSM bridge: a TSM device on the upstream PCI/TSM core over a
//! platform TSM backend.
//!
//! Binds to a platform TSM's device (today the emulated "teeio-tsm-emu"),
//! registers a `tsm_dev` with tsm-core and implements the PCI/TSM link
//! operations: connect (SPDM through the TSM, then a selective IDE stream
//! set up with upstream pci_ide and keyed by the TSM), disconnect, bind
//! (MMIO regions offered, then LOCK_INTERFACE through the TSM), unbind (the
//! TSM's ordered teardown) and guest requests (scope checked here).
//!
//! Lock order: pci_tsm_rwsem, then the DSM's pci_tsm_pf0::lock (both taken
//! by the PCI/TSM core around every operation), then `Bridge::tvms`, then
//! the platform TSM's own lock.

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{bindings, new_mutex};

#[path = "../../rust/teeio_bindings.rs"]
mod teeio_bindings;

mod backend;
mod guest_req;
mod tvms;

use backend::{EmulatedTsm, Target, TsmBackend, TsmError};
use teeio_bindings as b;
use tvms::TvmTable;

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
        pin_init!(Bridge { backend, tvms <- new_mutex!(TvmTable::default()) }),
        GFP_KERNEL,
    );
    match bridge {
        // SAFETY: the C edge keeps the pointer until `teeio_bridge_detach`.
        Ok(bridge) => unsafe { KBox::into_raw(Pin::into_inner_unchecked(bridge)).cast() },
        Err(e) => e.to_ptr(),
    }
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

/// bind: a TVM for the VM, the TDI's MMIO offered to it (at guest physical
/// addresses equal to the host's until a VMM supplies its own), then
/// LOCK_INTERFACE through the TSM.
#[no_mangle]
extern "C" fn teeio_bridge_bind(
    bridge: *mut c_void,
    pdev: *mut bindings::pci_dev,
    kvm: *mut b::kvm,
    tdi_id: u32,
    tvm_out: *mut u64,
) -> c_int {
    let bridge = bridge_ref(bridge);
    let tsm = &bridge.backend;
    let t = target(pdev);
    let vm = kvm as usize;
    let mut tvms = bridge.tvms.lock();
    let tvm = match tvms.get_or_create(vm, || tsm.create_tvm()) {
        Ok(tvm) => tvm,
        Err(e) => return refused(pdev, "bind (TVM)", e),
    };
    let bars = mem_bars(pdev);
    let mut added = 0;
    let mut result = Ok(());
    for &(hpa, len) in bars.iter() {
        result = tsm.add_region(tvm, t, hpa, hpa, len);
        if result.is_err() {
            break;
        }
        added += 1;
    }
    let result = result.and_then(|()| tsm.bind(tvm, t, 0));
    if let Err(e) = result {
        for &(hpa, _) in bars.iter().take(added) {
            let _ = tsm.reclaim_region(tvm, hpa);
        }
        if let Some(tvm) = tvms.put(vm) {
            let _ = tsm.destroy_tvm(tvm);
        }
        return refused(pdev, "bind", e);
    }
    // SAFETY: the C edge passes a valid output pointer.
    unsafe { *tvm_out = tvm };
    dev_info!(dev_of(pdev), "TDI {:#x} bound to TVM {}: CONFIG_LOCKED\n", tdi_id, tvm);
    0
}

/// unbind: the TSM's ordered teardown, then the VM's TVM if it was its last TDI.
#[no_mangle]
extern "C" fn teeio_bridge_unbind(
    bridge: *mut c_void,
    pdev: *mut bindings::pci_dev,
    kvm: *mut b::kvm,
    tdi_id: u32,
    tvm: u64,
) {
    let bridge = bridge_ref(bridge);
    let tsm = &bridge.backend;
    if let Err(e) = tsm.unbind(tvm, target(pdev)) {
        refused(pdev, "unbind", e);
    }
    let mut tvms = bridge.tvms.lock();
    if let Some(last) = tvms.put(kvm as usize) {
        if let Err(e) = tsm.destroy_tvm(last) {
            refused(pdev, "unbind (TVM)", e);
        }
    }
    dev_info!(dev_of(pdev), "TDI {:#x} unbound from TVM {}\n", tdi_id, tvm);
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
    let result = bridge_ref(bridge).backend.guest(tvm, target(pdev), service, out);
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
