// SPDX-License-Identifier: GPL-2.0

//! The platform TSM behind the bridge: a trait with one method per
//! platform TSM service, so TDX Connect, SEV-TIO, CCA or CoVE-IO backends
//! can sit where the emulated TSM sits today, and its first implementation,
//! the emulated platform TSM's firmware call ABI (include/teeio/tsm_fw.h).

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

use crate::teeio_bindings::{self as abi, teeio_tsm_fw, teeio_tsm_fw_call};

/// A platform TSM refusal: the errno for the host and the TSM's own code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TsmError {
    pub(crate) errno: Error,
    /// The TSM's status (TEEIO_TSM_ERR_* for the emulated TSM).
    pub(crate) tsm_code: i64,
}

/// A device as the platform TSM addresses it, with the DOE transport of its
/// DSM for calls that talk to it.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    /// The DSM function, whose mailbox carries SPDM.
    pub(crate) dsm: *mut kernel::bindings::pci_dev,
    /// Segment << 16 | requester id of the DSM function.
    pub(crate) device: u32,
    /// TDISP interface id of the TDI (requester id of its function).
    pub(crate) tdi: u32,
}

/// Guest services of a platform TSM, as a TVM asks for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuestService {
    Report { offset: u64, len: u64 },
    State,
    Measurements,
    MapMmio { gpa: u64, len: u64 },
    AcceptDma,
    Start,
    Stop,
    Evidence,
}

/// What a platform TSM does for the bridge.
pub(crate) trait TsmBackend: Send + Sync {
    /// New TVM context; its handle.
    fn create_tvm(&self) -> Result<u64, TsmError>;
    /// Drop a TVM context without bound TDIs.
    fn destroy_tvm(&self, tvm: u64) -> Result<(), TsmError>;
    /// Authenticate the device's DSM (SPDM) and collect its evidence.
    fn connect_device(&self, t: Target) -> Result<(), TsmError>;
    /// Forget the device.
    fn disconnect_device(&self, t: Target) -> Result<(), TsmError>;
    /// Program and start IDE stream `stream_id`'s keys on the device and
    /// its root port `root_port`.
    fn ide_keys_start(&self, t: Target, stream_id: u8, root_port: u32) -> Result<(), TsmError>;
    /// Stop the stream's keys.
    fn ide_keys_stop(&self, t: Target) -> Result<(), TsmError>;
    /// Offer MMIO of the TDI to a TVM at a guest physical address.
    fn add_region(&self, tvm: u64, t: Target, gpa: u64, hpa: u64, len: u64) -> Result<(), TsmError>;
    /// Take an offered region back.
    fn reclaim_region(&self, tvm: u64, gpa: u64) -> Result<(), TsmError>;
    /// LOCK_INTERFACE the TDI for the TVM.
    fn bind(&self, tvm: u64, t: Target, mmio_offset: u64) -> Result<(), TsmError>;
    /// Teardown step CPU: unmap the TDI's private MMIO from the TVM.
    fn unmap_mmio(&self, tvm: u64, t: Target) -> Result<(), TsmError>;
    /// Teardown step DEVICE: STOP_INTERFACE on behalf of the host.
    fn stop(&self, tvm: u64, t: Target) -> Result<(), TsmError>;
    /// Teardown step IOMMU: drop the TDI from the TVM's trusted IOMMU context.
    fn detach_dma(&self, tvm: u64, t: Target) -> Result<(), TsmError>;
    /// Teardown step LAST: free the TDI's context; refused before the others.
    fn unbind(&self, tvm: u64, t: Target) -> Result<(), TsmError>;
    /// A TVM's request for its TDI; the bytes written to `out`.
    fn guest(&self, tvm: u64, t: Target, service: GuestService, out: &mut [u8]) -> Result<usize, TsmError>;
    /// Hands the TVM a private MMIO dma-buf to map at `gpa` once accepted.
    fn import_mmio(&self, tvm: u64, slot: u32, gpa: u64, dmabuf: *mut kernel::bindings::dma_buf) -> Result<(), TsmError>;
}

/// Host errno of an emulated TSM status.
fn errno_of(status: i64) -> Error {
    match status as i32 {
        abi::TEEIO_TSM_ERR_NOT_SUPPORTED => EOPNOTSUPP,
        abi::TEEIO_TSM_ERR_INVALID_PARAM => EINVAL,
        abi::TEEIO_TSM_ERR_DENIED => EACCES,
        abi::TEEIO_TSM_ERR_INVALID_ADDRESS => EADDRNOTAVAIL,
        abi::TEEIO_TSM_ERR_ALREADY_AVAILABLE => EEXIST,
        abi::TEEIO_TSM_ERR_INVALID_STATE => EBUSY,
        abi::TEEIO_TSM_ERR_BAD_RANGE => ERANGE,
        abi::TEEIO_TSM_ERR_TIMEOUT => ETIMEDOUT,
        abi::TEEIO_TSM_ERR_NO_MEMORY => ENOMEM,
        _ => EIO,
    }
}

/// The DOE transport lent to the firmware: upstream pci_tsm_doe_transfer()
/// on the DSM function.
unsafe extern "C" fn doe_transfer(
    ctx: *mut c_void,
    object_type: u8,
    req: *const c_void,
    req_len: usize,
    resp: *mut c_void,
    resp_len: usize,
) -> c_int {
    // SAFETY: `ctx` is the DSM's pci_dev, connected (its pci_tsm set) for
    // the duration of the call; the buffers come from the firmware.
    unsafe { abi::pci_tsm_doe_transfer(ctx.cast(), object_type, req, req_len, resp, resp_len) }
}

/// The emulated platform TSM, through its firmware call ABI.
///
/// # Invariants
///
/// `fw` is the platform data of the bound "teeio-tsm-emu" device, valid
/// while the bridge is bound to it.
pub(crate) struct EmulatedTsm {
    fw: *const teeio_tsm_fw,
}

// SAFETY: the firmware serializes its calls itself; the pointer is only read.
unsafe impl Send for EmulatedTsm {}
// SAFETY: as above.
unsafe impl Sync for EmulatedTsm {}

/// One call's arguments.
struct Args<'a> {
    fid: u32,
    tvm: u64,
    guest: bool,
    target: Option<Target>,
    args: [u64; 3],
    buf: &'a mut [u8],
}

impl EmulatedTsm {
    /// The backend over `fw`.
    ///
    /// # Safety
    ///
    /// `fw` must stay valid for the backend's lifetime.
    pub(crate) unsafe fn new(fw: *const teeio_tsm_fw) -> Self {
        // INVARIANT: per the safety contract.
        Self { fw }
    }

    fn call(&self, a: Args<'_>) -> Result<(u64, [u64; 3]), TsmError> {
        let t = a.target;
        let mut call = teeio_tsm_fw_call {
            fid: a.fid,
            caller: if a.guest { abi::TEEIO_TSM_CALLER_TVM } else { abi::TEEIO_TSM_CALLER_HOST },
            tvm: a.tvm,
            device: t.map_or(0, |t| t.device),
            tdi: t.map_or(0, |t| t.tdi),
            args: a.args,
            buf: a.buf.as_mut_ptr().cast(),
            buf_len: a.buf.len() as u64,
            ret: 0,
            doe: Some(doe_transfer),
            doe_ctx: t.map_or(core::ptr::null_mut(), |t| t.dsm.cast()),
        };
        // SAFETY: by the type invariant `fw` is valid; its ABI version and
        // entry were checked when the bridge bound to the device.
        let status = unsafe {
            let fw = &*self.fw;
            match fw.call {
                Some(entry) => entry(fw.firmware, &mut call) as i64,
                None => i64::from(abi::TEEIO_TSM_ERR_NOT_SUPPORTED),
            }
        };
        if status != 0 {
            return Err(TsmError { errno: errno_of(status), tsm_code: status });
        }
        Ok((call.ret, call.args))
    }

    fn host(&self, fid: u32, tvm: u64, target: Option<Target>, args: [u64; 3]) -> Result<u64, TsmError> {
        self.call(Args { fid, tvm, guest: false, target, args, buf: &mut [] }).map(|(ret, _)| ret)
    }
}

impl TsmBackend for EmulatedTsm {
    fn import_mmio(&self, tvm: u64, slot: u32, gpa: u64, dmabuf: *mut kernel::bindings::dma_buf) -> Result<(), TsmError> {
        // SAFETY: by the type invariant `fw` is valid; the caller holds
        // `dmabuf` for the call.
        let status = unsafe {
            let fw = &*self.fw;
            match fw.import_mmio {
                Some(import) => import(fw.firmware, tvm, slot, gpa, dmabuf) as i64,
                None => i64::from(abi::TEEIO_TSM_ERR_NOT_SUPPORTED),
            }
        };
        match status {
            0 => Ok(()),
            s => Err(TsmError { errno: errno_of(s), tsm_code: s }),
        }
    }

    fn create_tvm(&self) -> Result<u64, TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_CREATE_TVM, 0, None, [0; 3])
    }

    fn destroy_tvm(&self, tvm: u64) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_DESTROY_TVM, tvm, None, [0; 3]).map(|_| ())
    }

    fn connect_device(&self, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_CONNECT_DEVICE, 0, Some(t), [0; 3]).map(|_| ())
    }

    fn disconnect_device(&self, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_DISCONNECT_DEVICE, 0, Some(t), [0; 3]).map(|_| ())
    }

    fn ide_keys_start(&self, t: Target, stream_id: u8, root_port: u32) -> Result<(), TsmError> {
        let args = [u64::from(stream_id), u64::from(root_port), 0];
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_IDE_KEYS_START, 0, Some(t), args).map(|_| ())
    }

    fn ide_keys_stop(&self, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_IDE_KEYS_STOP, 0, Some(t), [0; 3]).map(|_| ())
    }

    fn add_region(&self, tvm: u64, t: Target, gpa: u64, hpa: u64, len: u64) -> Result<(), TsmError> {
        let fid = abi::teeio_tsm_fid_TEEIO_TSM_ADD_TVM_INTERFACE_REGION;
        self.host(fid, tvm, Some(t), [gpa, hpa, len]).map(|_| ())
    }

    fn reclaim_region(&self, tvm: u64, gpa: u64) -> Result<(), TsmError> {
        let fid = abi::teeio_tsm_fid_TEEIO_TSM_RECLAIM_TVM_INTERFACE_REGION;
        self.host(fid, tvm, None, [gpa, 0, 0]).map(|_| ())
    }

    fn bind(&self, tvm: u64, t: Target, mmio_offset: u64) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_BIND_INTERFACE, tvm, Some(t), [mmio_offset, 0, 0]).map(|_| ())
    }

    fn unmap_mmio(&self, tvm: u64, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_UNMAP_INTERFACE_MMIO, tvm, Some(t), [0; 3]).map(|_| ())
    }

    fn stop(&self, tvm: u64, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_STOP_BOUND_INTERFACE, tvm, Some(t), [0; 3]).map(|_| ())
    }

    fn detach_dma(&self, tvm: u64, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_DETACH_INTERFACE_DMA, tvm, Some(t), [0; 3]).map(|_| ())
    }

    fn unbind(&self, tvm: u64, t: Target) -> Result<(), TsmError> {
        self.host(abi::teeio_tsm_fid_TEEIO_TSM_UNBIND_INTERFACE, tvm, Some(t), [0; 3]).map(|_| ())
    }

    fn guest(&self, tvm: u64, t: Target, service: GuestService, out: &mut [u8]) -> Result<usize, TsmError> {
        let (fid, args) = match service {
            GuestService::Report { offset, len } => (abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_REPORT, [offset, len, 0]),
            GuestService::State => (abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_STATE, [0; 3]),
            GuestService::Measurements => (abi::teeio_tsm_fid_TEEIO_TSM_GET_DEVICE_MEASUREMENTS, [0; 3]),
            GuestService::MapMmio { gpa, len } => (abi::teeio_tsm_fid_TEEIO_TSM_MAP_INTERFACE_MMIO, [gpa, len, 0]),
            GuestService::AcceptDma => (abi::teeio_tsm_fid_TEEIO_TSM_ACCEPT_INTERFACE_DMA, [0; 3]),
            GuestService::Start => (abi::teeio_tsm_fid_TEEIO_TSM_START_INTERFACE, [0; 3]),
            GuestService::Stop => (abi::teeio_tsm_fid_TEEIO_TSM_STOP_INTERFACE, [0; 3]),
            GuestService::Evidence => (abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_EVIDENCE, [0; 3]),
        };
        let writes = matches!(
            service,
            GuestService::Report { .. } | GuestService::State | GuestService::Measurements | GuestService::Evidence
        );
        let (ret, _) = self.call(Args { fid, tvm, guest: true, target: Some(t), args, buf: out })?;
        Ok(if writes { ret as usize } else { 0 })
    }
}
