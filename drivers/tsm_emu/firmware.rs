// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the platform TSM's trusted state and the rules it enforces,
//! one function per call of its ABI (include/teeio/tsm_fw.h).
//!
//! Rules: binding needs a connected device with live IDE keys and regions
//! added for the TDI; one TDI belongs to one TVM at a time; guest calls
//! come from the TVM that owns the TDI, never from the host; mapping
//! private MMIO needs a locked TDI and a region matching a report range
//! exactly; START needs the lock, every range accepted, and the lock's
//! nonce, which only the firmware holds. Unbinding unmaps private MMIO,
//! stops the TDI, drops its DMA and frees it, in that order. Once the host
//! imported a private MMIO dma-buf for a TVM, the TVM maps private MMIO
//! only from imported dma-bufs its exporter has not revoked.
//!
//! Lock order: a dma-buf's reservation lock (the importer's revocation
//! callback), then the state lock. Imports are released outside it.

use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::new_mutex;
use zerocopy::byteorder::little_endian::{U16, U64};
use kernel::transmute::AsBytes;
use zerocopy::IntoBytes;

use crate::device::{Device, IdeStream, TdiContext};
use crate::ide_km::{self, key_sub_stream, KeyMaterial, StreamKey};
use crate::platform_edge::KeyPort;
use crate::teeio_crypto::{random_bytes, sha384};
use crate::requester::{Requester, REPORT_PORTION};
use crate::tdi_state::TdiState;
use crate::tdisp::{self, InterfaceId, LockInterfaceRequest, StartInterfaceRequest};
use crate::teeio_bindings::{self as abi, self as b};
use crate::tvm::{Import, Mapping, Region, Slot, Tvm};

/// Call status (TEEIO_TSM_ERR_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Failed,
    NotSupported,
    InvalidParam,
    Denied,
    InvalidAddress,
    AlreadyAvailable,
    InvalidState,
    BadRange,
    Timeout,
    Io,
    NoMemory,
}

impl Status {
    /// The ABI value.
    pub(crate) fn code(self) -> i32 {
        match self {
            Status::Failed => abi::TEEIO_TSM_ERR_FAILED,
            Status::NotSupported => abi::TEEIO_TSM_ERR_NOT_SUPPORTED,
            Status::InvalidParam => abi::TEEIO_TSM_ERR_INVALID_PARAM,
            Status::Denied => abi::TEEIO_TSM_ERR_DENIED,
            Status::InvalidAddress => abi::TEEIO_TSM_ERR_INVALID_ADDRESS,
            Status::AlreadyAvailable => abi::TEEIO_TSM_ERR_ALREADY_AVAILABLE,
            Status::InvalidState => abi::TEEIO_TSM_ERR_INVALID_STATE,
            Status::BadRange => abi::TEEIO_TSM_ERR_BAD_RANGE,
            Status::Timeout => abi::TEEIO_TSM_ERR_TIMEOUT,
            Status::Io => abi::TEEIO_TSM_ERR_IO,
            Status::NoMemory => abi::TEEIO_TSM_ERR_NO_MEMORY,
        }
    }
}

/// Result of a call: the value for `ret`, or a status.
pub(crate) type CallResult = Result<u64, Status>;

/// Who makes a call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Host,
    /// A TVM, by handle, its request relayed by the host.
    Tvm(u64),
}

/// One decoded call.
pub(crate) struct Call<'a> {
    pub(crate) fid: u32,
    pub(crate) caller: Caller,
    pub(crate) tvm: u64,
    pub(crate) device: u32,
    pub(crate) tdi: u32,
    pub(crate) args: &'a mut [u64; 3],
    pub(crate) buf: &'a mut [u8],
    pub(crate) doe: abi::teeio_tsm_doe_fn,
    pub(crate) doe_ctx: *mut kernel::ffi::c_void,
}

/// The firmware's state.
struct State {
    tvms: KVec<Tvm>,
    devices: KVec<Device>,
    next_tvm: u64,
}

/// The emulated platform TSM.
#[pin_data(PinnedDrop)]
pub(crate) struct Firmware {
    #[pin]
    state: Mutex<State>,
    /// The platform device, the importer's device for dma-buf attachments.
    device: AtomicPtr<kernel::bindings::device>,
}

/// Sub-stream, direction bits of the six keys of one stream (key set 0).
const STREAM_KEYS: [u8; 6] = [
    key_sub_stream::SUB_STREAM_PR,
    key_sub_stream::SUB_STREAM_PR | key_sub_stream::DIRECTION_TX,
    key_sub_stream::SUB_STREAM_NPR,
    key_sub_stream::SUB_STREAM_NPR | key_sub_stream::DIRECTION_TX,
    key_sub_stream::SUB_STREAM_CPL,
    key_sub_stream::SUB_STREAM_CPL | key_sub_stream::DIRECTION_TX,
];

/// The root port's key slot partnering the endpoint's key `kss`: the root
/// port receives what the endpoint transmits, and the other way round.
fn partner_slot(kss: u8) -> u32 {
    ide_km::key_index(kss ^ key_sub_stream::DIRECTION_TX) as u32
}

fn interface(tdi: u32) -> InterfaceId {
    let segment = (tdi >> 16) as u8;
    InterfaceId::new(tdi as u16, (segment != 0).then_some(segment))
}

fn tdisp_failed(what: &str, tdi: u32, code: impl core::fmt::Debug) -> Status {
    pr_warn!("EMULATED TSM: TDI {:#x}: {} refused by the DSM: {:?}\n", tdi, what, code);
    Status::Failed
}

impl State {
    fn tvm_mut(&mut self, handle: u64) -> Result<&mut Tvm, Status> {
        self.tvms.iter_mut().find(|t| t.handle == handle).ok_or(Status::InvalidParam)
    }

    fn device_mut(&mut self, id: u32) -> Result<&mut Device, Status> {
        self.devices.iter_mut().find(|d| d.id == id).ok_or(Status::InvalidState)
    }

    /// The device holding `tdi` bound to TVM `tvm`.
    fn owned_tdi(&mut self, device: u32, tdi: u32, tvm: u64) -> Result<&mut TdiContext, Status> {
        let dev = self.device_mut(device)?;
        match dev.tdi_mut(tdi) {
            Some(t) if t.tvm == Some(tvm) => Ok(t),
            _ => {
                pr_warn!("EMULATED TSM: TVM {} does not own TDI {:#x}\n", tvm, tdi);
                Err(Status::Denied)
            }
        }
    }
}

/// Reads the DSM's state of `tdi`.
fn dsm_state(dsm: &mut Requester, tdi: u32) -> Result<TdiState, Status> {
    dsm.tdisp(interface(tdi), tdisp::Request::GetDeviceInterfaceState, |r| match r {
        tdisp::Response::DeviceInterfaceState(s) => Ok(s),
        other => Err(tdisp_failed("GET_DEVICE_INTERFACE_STATE", tdi, other.code())),
    })
}

/// STOP_INTERFACE; the DSM's state afterwards.
fn dsm_stop(dsm: &mut Requester, tdi: u32) -> Result<TdiState, Status> {
    dsm.tdisp(interface(tdi), tdisp::Request::StopInterface, |r| match r {
        tdisp::Response::StopInterface => Ok(TdiState::ConfigUnlocked),
        other => Err(tdisp_failed("STOP_INTERFACE", tdi, other.code())),
    })
}

/// Reads the whole interface report of a locked `tdi`.
fn read_report(dsm: &mut Requester, tdi: u32) -> Result<KVec<u8>, Status> {
    let mut report = KVec::new();
    loop {
        let request = tdisp::GetDeviceInterfaceReportRequest {
            offset: U16::new(u16::try_from(report.len()).map_err(|_| Status::Io)?),
            length: U16::new(REPORT_PORTION),
        };
        let remainder = dsm.tdisp(interface(tdi), tdisp::Request::GetDeviceInterfaceReport(&request), |r| match r {
            tdisp::Response::DeviceInterfaceReport { portion, remainder_length } => {
                if portion.len() > usize::from(REPORT_PORTION) || (portion.is_empty() && remainder_length != 0) {
                    pr_warn!("EMULATED TSM: TDI {:#x}: report portion of {} bytes\n", tdi, portion.len());
                    return Err(Status::Io);
                }
                report.extend_from_slice(portion, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
                Ok(remainder_length)
            }
            other => Err(tdisp_failed("GET_DEVICE_INTERFACE_REPORT", tdi, other.code())),
        })?;
        if remainder == 0 {
            return Ok(report);
        }
        if report.len() + usize::from(remainder) > usize::from(u16::MAX) {
            return Err(Status::Io);
        }
    }
}

impl Firmware {
    /// A firmware with no TVMs and no devices.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            state <- new_mutex!(State { tvms: KVec::new(), devices: KVec::new(), next_tvm: 1 }),
            device: AtomicPtr::new(core::ptr::null_mut()),
        })
    }

    /// Names the platform device that announces the firmware.
    pub(crate) fn set_device(&self, dev: *mut kernel::bindings::device) {
        self.device.store(dev, Ordering::Release);
    }

    /// Releases the slots whose TDI was freed, one at a time outside the lock.
    fn release_dead_slots(&self) {
        loop {
            let slot = self.state.lock().tvms.iter_mut().find_map(|t| t.take_dead_slot());
            match slot {
                Some(slot) => drop(slot),
                None => return,
            }
        }
    }

    /// The host imports private MMIO dma-buf `dmabuf` for TVM `tvm` as slot
    /// `id`, seen by the guest at `gpa` (include/teeio/tsm_fw.h).
    pub(crate) fn import_mmio(&self, tvm: u64, id: u32, gpa: u64, dmabuf: *mut kernel::bindings::dma_buf) -> Result<(), Status> {
        let dev = self.device.load(Ordering::Acquire);
        if dev.is_null() || dmabuf.is_null() {
            return Err(Status::InvalidParam);
        }
        let (mut hpa, mut len) = (0, 0);
        let me: *const Self = self;
        // SAFETY: `dev` is the registered platform device and `dmabuf` a
        // dma-buf the caller holds; the import names this firmware, which
        // releases every import before it goes.
        let raw = unsafe { b::teeio_stage2_import(dev, dmabuf, me.cast_mut().cast(), &mut hpa, &mut len) };
        if let Err(e) = kernel::error::from_err_ptr(raw) {
            pr_warn!("EMULATED TSM: TVM {}: private MMIO slot {}: the dma-buf refused the secure stage-2 ({:?})\n", tvm, id, e);
            return Err(Status::Denied);
        }
        let import = Import(raw);
        let mut state = self.state.lock();
        match Self::add_slot(&mut state, tvm, id, gpa, hpa, len, import) {
            Ok(()) => Ok(()),
            Err((status, import)) => {
                drop(state);
                drop(import);
                Err(status)
            }
        }
    }

    fn add_slot(s: &mut State, tvm: u64, id: u32, gpa: u64, hpa: u64, len: u64, import: Import) -> Result<(), (Status, Import)> {
        let refuse = |why: &str, status: Status, import: Import| {
            pr_warn!("EMULATED TSM: TVM {}: private MMIO slot {} (host {:#x}+{:#x}) refused: {}\n", tvm, id, hpa, len, why);
            Err((status, import))
        };
        // SAFETY: the import is live; its flag is set before a revocation
        // takes the state lock, which we hold.
        if unsafe { b::teeio_stage2_revoked(import.0) } {
            return refuse("revoked", Status::InvalidState, import);
        }
        let owner = s.devices.iter().flat_map(|d| d.tdis.iter()).find(|t| {
            t.tvm == Some(tvm) && t.ranges.iter().any(|r| r.hpa == hpa && r.len == len)
        });
        let Some(tdi) = owner.map(|t| (t.id, t.state)) else {
            return refuse("no MMIO range of a TDI bound to the TVM", Status::InvalidAddress, import);
        };
        if tdi.1 != TdiState::ConfigLocked {
            return refuse("the TDI is not CONFIG_LOCKED", Status::InvalidState, import);
        }
        let Ok(t) = s.tvm_mut(tvm) else {
            return refuse("no such TVM", Status::InvalidParam, import);
        };
        let offered = t.regions.iter().any(|r| r.tdi == tdi.0 && r.covers(gpa, len) && r.hpa + (gpa - r.gpa) == hpa);
        if !offered {
            return refuse("the guest address is not where the range was offered", Status::InvalidAddress, import);
        }
        if t.slots.iter().any(|sl| !sl.dead && (sl.id == id || sl.hpa == hpa)) {
            return refuse("slot or range imported already", Status::AlreadyAvailable, import);
        }
        if t.slots.reserve(1, GFP_KERNEL).is_err() {
            return refuse("no memory", Status::NoMemory, import);
        }
        let slot = Slot { id, tdi: tdi.0, gpa, hpa, len, revoked: false, dead: false, import };
        // Room was reserved: the push cannot fail.
        let _ = t.slots.push_within_capacity(slot);
        pr_info!("EMULATED TSM: TVM {}: private MMIO slot {}: dma-buf attached, host {:#x}+{:#x} at {:#x} for TDI {:#x}\n", tvm, id, hpa, len, gpa, tdi.0);
        Ok(())
    }

    /// The exporter revoked an imported dma-buf: the secure stage-2 unmaps it.
    fn revoked(&self, import: *mut b::teeio_stage2_import) {
        let mut state = self.state.lock();
        let s = &mut *state;
        for t in s.tvms.iter_mut() {
            let Some(slot) = t.slots.iter_mut().find(|sl| sl.import.0 == import && !sl.revoked) else {
                continue;
            };
            slot.revoked = true;
            let (id, tdi, hpa) = (slot.id, slot.tdi, slot.hpa);
            let handle = t.handle;
            let unmapped = t.unmap_where(|m| m.hpa == hpa);
            for d in s.devices.iter_mut() {
                if let Some(ctx) = d.tdi_mut(tdi) {
                    ctx.ranges.iter_mut().filter(|r| r.hpa == hpa).for_each(|r| r.mapped = false);
                }
            }
            pr_info!("EMULATED TSM: TVM {}: private MMIO slot {} revoked by its exporter: {} mappings unmapped\n", handle, id, unmapped);
            return;
        }
    }

    /// Runs one call, then releases what it freed.
    pub(crate) fn call(&self, c: Call<'_>) -> CallResult {
        let result = self.call_locked(c);
        self.release_dead_slots();
        result
    }

    fn call_locked(&self, c: Call<'_>) -> CallResult {
        let host = c.caller == Caller::Host;
        if host != (c.fid < abi::TEEIO_TSM_GUEST_FID_BASE) {
            pr_warn!("EMULATED TSM: call {:#x} refused: wrong caller\n", c.fid);
            return Err(Status::Denied);
        }
        let mut state = self.state.lock();
        let s = &mut *state;
        match c.fid {
            abi::teeio_tsm_fid_TEEIO_TSM_CREATE_TVM => Self::create_tvm(s),
            abi::teeio_tsm_fid_TEEIO_TSM_DESTROY_TVM => Self::destroy_tvm(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_CONNECT_DEVICE => Self::connect_device(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_DISCONNECT_DEVICE => Self::disconnect_device(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_IDE_KEYS_START => Self::ide_keys_start(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_IDE_KEYS_STOP => Self::ide_keys_stop(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_ADD_TVM_INTERFACE_REGION => Self::add_region(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_RECLAIM_TVM_INTERFACE_REGION => Self::reclaim_region(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_BIND_INTERFACE => Self::bind_interface(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_UNBIND_INTERFACE => Self::unbind_interface(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_GET_HOST_INTERFACE_STATE => Self::host_interface_state(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_UNMAP_INTERFACE_MMIO => Self::unmap_interface_mmio(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_STOP_BOUND_INTERFACE => Self::stop_bound_interface(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_DETACH_INTERFACE_DMA => Self::detach_interface_dma(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_REPORT => Self::get_interface_report(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_STATE => Self::get_interface_state(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_GET_DEVICE_MEASUREMENTS => Self::get_device_measurements(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_MAP_INTERFACE_MMIO => Self::map_interface_mmio(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_ACCEPT_INTERFACE_DMA => Self::accept_interface_dma(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_START_INTERFACE => Self::start_interface(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_STOP_INTERFACE => Self::stop_interface(s, c),
            abi::teeio_tsm_fid_TEEIO_TSM_GET_INTERFACE_EVIDENCE => Self::get_interface_evidence(s, c),
            _ => Err(Status::NotSupported),
        }
    }

    fn create_tvm(s: &mut State) -> CallResult {
        let handle = s.next_tvm;
        s.tvms.push(Tvm::new(handle), GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        s.next_tvm += 1;
        pr_info!("EMULATED TSM: TVM {} created\n", handle);
        Ok(handle)
    }

    fn destroy_tvm(s: &mut State, c: Call<'_>) -> CallResult {
        let index = s.tvms.iter().position(|t| t.handle == c.tvm).ok_or(Status::InvalidParam)?;
        if s.devices.iter().any(|d| d.tdis.iter().any(|t| t.tvm == Some(c.tvm))) || !s.tvms[index].slots.is_empty() {
            pr_warn!("EMULATED TSM: TVM {} still has bound TDIs\n", c.tvm);
            return Err(Status::InvalidState);
        }
        drop(s.tvms.remove(index));
        pr_info!("EMULATED TSM: TVM {} destroyed\n", c.tvm);
        Ok(0)
    }

    fn connect_device(s: &mut State, c: Call<'_>) -> CallResult {
        if s.devices.iter().any(|d| d.id == c.device) {
            return Err(Status::AlreadyAvailable);
        }
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let evidence = dsm.connect()?;
        let device = Device {
            id: c.device,
            cert_digest: evidence.cert_digest,
            measurements: evidence.measurements,
            ide: None,
            tdis: KVec::new(),
        };
        pr_info!(
            "EMULATED TSM: device {:#x} connected: SPDM 1.2, certificate chain {} bytes (digest {:02x}{:02x}{:02x}{:02x}..), measurements {} bytes\n",
            c.device,
            evidence.cert_chain_len,
            device.cert_digest[0],
            device.cert_digest[1],
            device.cert_digest[2],
            device.cert_digest[3],
            device.measurements.len()
        );
        s.devices.push(device, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        Ok(0)
    }

    fn disconnect_device(s: &mut State, c: Call<'_>) -> CallResult {
        let index = s.devices.iter().position(|d| d.id == c.device).ok_or(Status::InvalidState)?;
        let dev = &s.devices[index];
        if dev.has_bound_tdis() || dev.ide.is_some() {
            pr_warn!("EMULATED TSM: device {:#x} still has bound TDIs or IDE keys\n", c.device);
            return Err(Status::InvalidState);
        }
        drop(s.devices.remove(index));
        pr_info!("EMULATED TSM: device {:#x} disconnected\n", c.device);
        Ok(0)
    }

    fn ide_keys_start(s: &mut State, c: Call<'_>) -> CallResult {
        let dev = s.device_mut(c.device)?;
        if dev.ide.is_some() {
            return Err(Status::AlreadyAvailable);
        }
        let stream_id = u8::try_from(c.args[0]).map_err(|_| Status::InvalidParam)?;
        let root_port = u32::try_from(c.args[1]).map_err(|_| Status::InvalidParam)?;
        let port = KeyPort::find(root_port).ok_or_else(|| {
            pr_warn!("EMULATED TSM: root port {:#x} has no platform key port\n", root_port);
            Status::InvalidParam
        })?;
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let keys = |go: bool, dsm: &mut Requester| -> Result<(), Status> {
            for kss in STREAM_KEYS {
                let key = StreamKey::new(stream_id, kss);
                let message = if go { ide_km::Message::KSetGo(&key) } else { ide_km::Message::KSetStop(&key) };
                dsm.ide_km(message, |m| match m {
                    ide_km::Message::KGostopAck(_) => Ok(()),
                    _ => Err(Status::Io),
                })?;
                port.set_live(partner_slot(kss), go);
            }
            Ok(())
        };
        for kss in STREAM_KEYS {
            let mut words = [0u32; 10];
            random_bytes(words.as_mut_bytes());
            let material = KeyMaterial::from_words(&words);
            let key = StreamKey::new(stream_id, kss);
            dsm.ide_km(ide_km::Message::KeyProg(&key, &material), |m| match m {
                ide_km::Message::KpAck(ack) if ack.status == ide_km::kp_ack_status::SUCCESS => Ok(()),
                ide_km::Message::KpAck(ack) => {
                    pr_warn!("EMULATED TSM: KEY_PROG refused with status {}\n", ack.status);
                    Err(Status::Io)
                }
                _ => Err(Status::Io),
            })?;
            port.program(partner_slot(kss), &words);
        }
        if let Err(e) = keys(true, &mut dsm) {
            // Best effort: leave no key running on either side.
            let _ = keys(false, &mut dsm);
            return Err(e);
        }
        dev.ide = Some(IdeStream { stream_id, root_port });
        pr_info!(
            "EMULATED TSM: device {:#x}: IDE stream {} keys programmed and started (endpoint by IDE_KM, root port {:#x} by the platform)\n",
            c.device,
            stream_id,
            root_port
        );
        Ok(u64::from(port.live()))
    }

    fn ide_keys_stop(s: &mut State, c: Call<'_>) -> CallResult {
        let dev = s.device_mut(c.device)?;
        let ide = dev.ide.take().ok_or(Status::InvalidState)?;
        if let Some(port) = KeyPort::find(ide.root_port) {
            for kss in STREAM_KEYS {
                port.set_live(partner_slot(kss), false);
            }
        }
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let mut result = Ok(0);
        for kss in STREAM_KEYS {
            let key = StreamKey::new(ide.stream_id, kss);
            if let Err(e) = dsm.ide_km(ide_km::Message::KSetStop(&key), |m| match m {
                ide_km::Message::KGostopAck(_) => Ok(()),
                _ => Err(Status::Io),
            }) {
                result = Err(e);
            }
        }
        pr_info!("EMULATED TSM: device {:#x}: IDE stream {} keys stopped\n", c.device, ide.stream_id);
        result
    }

    fn add_region(s: &mut State, c: Call<'_>) -> CallResult {
        let (gpa, hpa, len) = (c.args[0], c.args[1], c.args[2]);
        let page = crate::tdisp_report::PAGE_SIZE;
        if len == 0 || (gpa | hpa | len) & (page - 1) != 0 || gpa.checked_add(len).is_none() {
            return Err(Status::BadRange);
        }
        s.device_mut(c.device)?;
        let tvm = s.tvm_mut(c.tvm)?;
        if tvm.region_overlaps(gpa, len) {
            return Err(Status::InvalidAddress);
        }
        tvm.regions.push(Region { tdi: c.tdi, gpa, hpa, len }, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        Ok(0)
    }

    fn reclaim_region(s: &mut State, c: Call<'_>) -> CallResult {
        let gpa = c.args[0];
        let tvm = s.tvm_mut(c.tvm)?;
        let index = tvm.regions.iter().position(|r| r.gpa == gpa).ok_or(Status::InvalidAddress)?;
        let region = tvm.regions[index];
        if tvm.stage2.iter().any(|m| region.covers(m.gpa, m.len)) {
            return Err(Status::Denied);
        }
        drop(tvm.regions.remove(index));
        Ok(0)
    }

    fn bind_interface(s: &mut State, c: Call<'_>) -> CallResult {
        let mmio_offset = c.args[0];
        let tvm = s.tvm_mut(c.tvm)?;
        if !tvm.has_regions(c.tdi) {
            pr_warn!("EMULATED TSM: TDI {:#x}: bind before its MMIO regions were added\n", c.tdi);
            return Err(Status::InvalidState);
        }
        let dev = s.device_mut(c.device).inspect_err(|_| {
            pr_warn!("EMULATED TSM: TDI {:#x}: bind before connect\n", c.tdi);
        })?;
        let Some(ide) = dev.ide else {
            pr_warn!("EMULATED TSM: TDI {:#x}: bind without a secure IDE stream\n", c.tdi);
            return Err(Status::InvalidState);
        };
        if dev.tdi_mut(c.tdi).is_none() {
            dev.tdis.push(TdiContext::new(c.tdi, TdiState::ConfigUnlocked), GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        }
        let tdi = dev.tdi_mut(c.tdi).ok_or(Status::Failed)?;
        match tdi.tvm {
            Some(owner) if owner == c.tvm => return Err(Status::AlreadyAvailable),
            Some(owner) => {
                pr_warn!("EMULATED TSM: TDI {:#x} belongs to TVM {}\n", c.tdi, owner);
                return Err(Status::Denied);
            }
            None => {}
        }
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        // A TDI left in ERROR (or locked) by an earlier failure goes back
        // to CONFIG_UNLOCKED first: only STOP leaves ERROR.
        if dsm_state(&mut dsm, c.tdi)? != TdiState::ConfigUnlocked {
            dsm_stop(&mut dsm, c.tdi)?;
        }
        tdi.clear_lock();
        tdi.state = TdiState::ConfigUnlocked;
        let lock = LockInterfaceRequest {
            flags: U16::new(tdisp::lock_flags::NO_FW_UPDATE),
            default_stream_id: ide.stream_id,
            reserved: 0,
            mmio_reporting_offset: U64::new(mmio_offset),
            bind_p2p_address_mask: U64::new(0),
        };
        let result = dsm
            .tdisp(interface(c.tdi), tdisp::Request::LockInterface(&lock), |r| match r {
                tdisp::Response::LockInterface(l) => Ok(l.start_interface_nonce),
                other => Err(tdisp_failed("LOCK_INTERFACE", c.tdi, other.code())),
            })
            .and_then(|nonce| {
                tdi.nonce = Some(nonce);
                tdi.state = TdiState::ConfigLocked;
                read_report(&mut dsm, c.tdi)
            })
            .and_then(|report| tdi.set_report(report, mmio_offset))
            .and_then(|()| match dsm_state(&mut dsm, c.tdi)? {
                TdiState::ConfigLocked => Ok(()),
                other => {
                    pr_warn!("EMULATED TSM: TDI {:#x}: {:?} after LOCK_INTERFACE\n", c.tdi, other);
                    Err(Status::Io)
                }
            });
        if let Err(e) = result {
            tdi.clear_lock();
            // Mirror the DSM: ERROR stays until the next bind stops it.
            tdi.state = match dsm_state(&mut dsm, c.tdi) {
                Ok(TdiState::Error) => TdiState::Error,
                Ok(TdiState::ConfigUnlocked) => TdiState::ConfigUnlocked,
                _ => dsm_stop(&mut dsm, c.tdi).unwrap_or(TdiState::Error),
            };
            pr_warn!("EMULATED TSM: TDI {:#x}: bind failed; TDI {:?}\n", c.tdi, tdi.state);
            return Err(e);
        }
        tdi.tvm = Some(c.tvm);
        pr_info!(
            "EMULATED TSM: TDI {:#x} bound to TVM {}: CONFIG_LOCKED, report {} bytes, {} MMIO ranges\n",
            c.tdi,
            c.tvm,
            tdi.report.len(),
            tdi.ranges.len()
        );
        Ok(0)
    }

    /// Stops the TDI through its DSM unless it is unlocked already; its
    /// state afterwards, ERROR when the DSM did not stop it.
    fn stop(s: &mut State, c: &Call<'_>, tvm: u64) -> Result<TdiState, Status> {
        let tdi = s.owned_tdi(c.device, c.tdi, tvm)?;
        let state = match tdi.state {
            TdiState::ConfigUnlocked => TdiState::ConfigUnlocked,
            _ => dsm_stop(&mut Requester::new(c.doe, c.doe_ctx)?, c.tdi).unwrap_or(TdiState::Error),
        };
        let tdi = s.owned_tdi(c.device, c.tdi, tvm)?;
        tdi.clear_lock();
        tdi.state = state;
        Ok(state)
    }

    /// Unmaps the TDI's private MMIO from `tvm`'s secure stage-2 and marks
    /// its report ranges unaccepted; returns how many mappings went.
    fn unmap(s: &mut State, c: &Call<'_>, tvm: u64) -> Result<usize, Status> {
        let unmapped = s.tvm_mut(tvm)?.unmap_where(|m| m.tdi == c.tdi);
        for r in s.owned_tdi(c.device, c.tdi, tvm)?.ranges.iter_mut() {
            r.mapped = false;
        }
        Ok(unmapped)
    }

    /// Refuses a teardown step whose predecessor has not run.
    fn out_of_order(c: &Call<'_>, step: &str, missing: &str) -> CallResult {
        pr_warn!("EMULATED TSM: TDI {:#x}: {} refused: {} first\n", c.tdi, step, missing);
        Err(Status::InvalidState)
    }

    /// Teardown step CPU: the TDI's private MMIO leaves the secure stage-2.
    fn unmap_interface_mmio(s: &mut State, c: Call<'_>) -> CallResult {
        s.owned_tdi(c.device, c.tdi, c.tvm)?;
        let unmapped = Self::unmap(s, &c, c.tvm)?;
        pr_info!("EMULATED TSM: TDI {:#x} teardown CPU: {} private MMIO mappings unmapped\n", c.tdi, unmapped);
        Ok(unmapped as u64)
    }

    /// Teardown step DEVICE: STOP_INTERFACE, once nothing is mapped.
    fn stop_bound_interface(s: &mut State, c: Call<'_>) -> CallResult {
        s.owned_tdi(c.device, c.tdi, c.tvm)?;
        if s.tvm_mut(c.tvm)?.stage2.iter().any(|m| m.tdi == c.tdi) {
            return Self::out_of_order(&c, "STOP", "unmap private MMIO");
        }
        let state = Self::stop(s, &c, c.tvm)?;
        pr_info!("EMULATED TSM: TDI {:#x} teardown DEVICE: STOP_INTERFACE: {:?}\n", c.tdi, state);
        Ok(u64::from(state as u8))
    }

    /// Teardown step IOMMU: trusted DMA dropped, once the TDI is stopped.
    fn detach_interface_dma(s: &mut State, c: Call<'_>) -> CallResult {
        if matches!(s.owned_tdi(c.device, c.tdi, c.tvm)?.state, TdiState::ConfigLocked | TdiState::Run) {
            return Self::out_of_order(&c, "DMA detach", "STOP");
        }
        let dropped = s.tvm_mut(c.tvm)?.drop_dma(c.tdi);
        s.owned_tdi(c.device, c.tdi, c.tvm)?.dma_accepted = false;
        pr_info!("EMULATED TSM: TDI {:#x} teardown IOMMU: trusted DMA {}\n", c.tdi, if dropped { "dropped" } else { "was not accepted" });
        Ok(0)
    }

    /// Teardown step LAST: the regions reclaimed and the TDI context freed,
    /// once the three steps before ran. A TDI the DSM left in ERROR stays
    /// known, unbound, for the next bind to stop.
    fn unbind_interface(s: &mut State, c: Call<'_>) -> CallResult {
        let tdi = s.owned_tdi(c.device, c.tdi, c.tvm)?;
        let (state, dma) = (tdi.state, tdi.dma_accepted);
        if matches!(state, TdiState::ConfigLocked | TdiState::Run) {
            return Self::out_of_order(&c, "unbind", "STOP");
        }
        if dma || s.tvm_mut(c.tvm)?.iommu.contains(&c.tdi) {
            return Self::out_of_order(&c, "unbind", "DMA detach");
        }
        let tvm = s.tvm_mut(c.tvm)?;
        tvm.reclaim_tdi_regions(c.tdi);
        tvm.kill_slots(c.tdi);
        let dev = s.device_mut(c.device)?;
        let index = dev.tdis.iter().position(|t| t.id == c.tdi).ok_or(Status::Failed)?;
        if state == TdiState::ConfigUnlocked {
            drop(dev.tdis.remove(index));
        } else {
            dev.tdis[index].tvm = None;
        }
        pr_info!("EMULATED TSM: TDI {:#x} teardown LAST: TDI freed from TVM {}\n", c.tdi, c.tvm);
        Ok(0)
    }

    fn host_interface_state(s: &mut State, c: Call<'_>) -> CallResult {
        let dev = s.device_mut(c.device)?;
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let state = dsm_state(&mut dsm, c.tdi)?;
        if let Some(tdi) = dev.tdi_mut(c.tdi) {
            tdi.state = state;
        }
        Ok(u64::from(state as u8))
    }

    fn tvm_of(c: &Call<'_>) -> u64 {
        match c.caller {
            Caller::Tvm(handle) => handle,
            Caller::Host => 0,
        }
    }

    fn get_interface_report(s: &mut State, c: Call<'_>) -> CallResult {
        let tdi = s.owned_tdi(c.device, c.tdi, Self::tvm_of(&c))?;
        if tdi.report.is_empty() {
            return Err(Status::InvalidState);
        }
        let offset = usize::try_from(c.args[0]).map_err(|_| Status::BadRange)?;
        let want = usize::try_from(c.args[1]).map_err(|_| Status::BadRange)?.min(c.buf.len());
        let rest = tdi.report.get(offset..).ok_or(Status::BadRange)?;
        let n = want.min(rest.len());
        c.buf[..n].copy_from_slice(&rest[..n]);
        c.args[2] = tdi.report.len() as u64;
        Ok(n as u64)
    }

    fn get_interface_state(s: &mut State, c: Call<'_>) -> CallResult {
        let tvm = Self::tvm_of(&c);
        s.owned_tdi(c.device, c.tdi, tvm)?;
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let state = dsm_state(&mut dsm, c.tdi)?;
        let tdi = s.owned_tdi(c.device, c.tdi, tvm)?;
        tdi.state = state;
        let out = abi::teeio_tsm_guest_state {
            tdi_state: state as u8,
            dma_accepted: u8::from(tdi.dma_accepted),
            mmio_ranges: tdi.ranges.len() as u16,
            mmio_mapped: tdi.ranges.iter().filter(|r| r.mapped).count() as u16,
            reserved: 0,
        };
        Self::write_out(c.buf, out.as_bytes())
    }

    /// Copies a guest call's response to its buffer; its length.
    fn write_out(buf: &mut [u8], bytes: &[u8]) -> CallResult {
        buf.get_mut(..bytes.len()).ok_or(Status::InvalidParam)?.copy_from_slice(bytes);
        Ok(bytes.len() as u64)
    }

    fn get_device_measurements(s: &mut State, c: Call<'_>) -> CallResult {
        s.owned_tdi(c.device, c.tdi, Self::tvm_of(&c))?;
        Self::write_out(c.buf, &s.device_mut(c.device)?.measurements)
    }

    /// What the TSM vouches for: digests of the report it read at the lock
    /// and of the device's measurements and certificates, and the offset.
    fn get_interface_evidence(s: &mut State, c: Call<'_>) -> CallResult {
        let tdi = s.owned_tdi(c.device, c.tdi, Self::tvm_of(&c))?;
        if tdi.report.is_empty() {
            return Err(Status::InvalidState);
        }
        let (report_digest, report_len, mmio_offset) = (sha384(&tdi.report), tdi.report.len(), tdi.mmio_offset);
        let dev = s.device_mut(c.device)?;
        let out = abi::teeio_tsm_guest_evidence {
            report_digest,
            measurements_digest: sha384(&dev.measurements),
            cert_digest: dev.cert_digest,
            mmio_reporting_offset: mmio_offset,
            report_len: report_len as u32,
            reserved: 0,
        };
        Self::write_out(c.buf, out.as_bytes())
    }

    fn map_interface_mmio(s: &mut State, c: Call<'_>) -> CallResult {
        let tvm_handle = Self::tvm_of(&c);
        let (gpa, len) = (c.args[0], c.args[1]);
        let tdi = s.owned_tdi(c.device, c.tdi, tvm_handle)?;
        if tdi.state != TdiState::ConfigLocked {
            return Err(Status::InvalidState);
        }
        let tvm = s.tvm_mut(tvm_handle)?;
        let region = *tvm.regions.iter().find(|r| r.tdi == c.tdi && r.covers(gpa, len)).ok_or(Status::InvalidAddress)?;
        let hpa = region.hpa + (gpa - region.gpa);
        if !tvm.slots.is_empty() {
            match tvm.slots.iter().find(|sl| !sl.dead && sl.hpa == hpa && sl.len == len && sl.gpa == gpa) {
                Some(sl) if sl.revoked => {
                    pr_warn!("EMULATED TSM: TVM {}: {:#x}+{:#x}: its private MMIO dma-buf was revoked\n", tvm_handle, gpa, len);
                    return Err(Status::InvalidState);
                }
                Some(_) => (),
                None => {
                    pr_warn!("EMULATED TSM: TVM {}: {:#x}+{:#x}: no private MMIO dma-buf imported for it\n", tvm_handle, gpa, len);
                    return Err(Status::InvalidAddress);
                }
            }
        }
        let tdi = s.owned_tdi(c.device, c.tdi, tvm_handle)?;
        let range = tdi.ranges.iter_mut().find(|r| r.hpa == hpa && r.len == len).ok_or_else(|| {
            pr_warn!("EMULATED TSM: TDI {:#x}: {:#x}+{:#x} is no range of the interface report\n", c.tdi, gpa, len);
            Status::InvalidAddress
        })?;
        if range.mapped {
            return Err(Status::AlreadyAvailable);
        }
        range.mapped = true;
        let tvm = s.tvm_mut(tvm_handle)?;
        if tvm.stage2.push(Mapping { tdi: c.tdi, gpa, hpa, len }, GFP_KERNEL).is_err() {
            if let Some(r) = s.owned_tdi(c.device, c.tdi, tvm_handle)?.ranges.iter_mut().find(|r| r.hpa == hpa) {
                r.mapped = false;
            }
            return Err(Status::NoMemory);
        }
        pr_info!("EMULATED TSM: TVM {}: private MMIO {:#x}+{:#x} of TDI {:#x} mapped in the secure stage-2\n", tvm_handle, gpa, len, c.tdi);
        Ok(0)
    }

    fn accept_interface_dma(s: &mut State, c: Call<'_>) -> CallResult {
        let tvm_handle = Self::tvm_of(&c);
        let tdi = s.owned_tdi(c.device, c.tdi, tvm_handle)?;
        if !matches!(tdi.state, TdiState::ConfigLocked | TdiState::Run) {
            return Err(Status::InvalidState);
        }
        if tdi.dma_accepted {
            return Err(Status::AlreadyAvailable);
        }
        let tvm = s.tvm_mut(tvm_handle)?;
        tvm.iommu.push(c.tdi, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        s.owned_tdi(c.device, c.tdi, tvm_handle)?.dma_accepted = true;
        pr_info!("EMULATED TSM: TVM {}: TDI {:#x} may DMA to private memory\n", tvm_handle, c.tdi);
        Ok(0)
    }

    fn start_interface(s: &mut State, c: Call<'_>) -> CallResult {
        let tdi = s.owned_tdi(c.device, c.tdi, Self::tvm_of(&c))?;
        let nonce = match (tdi.state, tdi.nonce) {
            (TdiState::ConfigLocked, Some(nonce)) if tdi.all_mapped() => nonce,
            (TdiState::ConfigLocked, Some(_)) => {
                pr_warn!("EMULATED TSM: TDI {:#x}: START before every MMIO range was accepted\n", c.tdi);
                return Err(Status::InvalidState);
            }
            _ => return Err(Status::InvalidState),
        };
        let mut dsm = Requester::new(c.doe, c.doe_ctx)?;
        let start = StartInterfaceRequest { start_interface_nonce: nonce };
        let result = dsm.tdisp(interface(c.tdi), tdisp::Request::StartInterface(&start), |r| match r {
            tdisp::Response::StartInterface => Ok(()),
            other => Err(tdisp_failed("START_INTERFACE", c.tdi, other.code())),
        });
        let state = dsm_state(&mut dsm, c.tdi);
        let tdi = s.owned_tdi(c.device, c.tdi, Self::tvm_of(&c))?;
        if let Ok(state) = state {
            tdi.state = state;
        }
        result?;
        tdi.nonce = None;
        pr_info!("EMULATED TSM: TDI {:#x}: RUN\n", c.tdi);
        Ok(0)
    }

    /// The TVM stops its TDI: private MMIO the host left mapped is
    /// unmapped first, then STOP_INTERFACE. The TDI stays bound, unlocked,
    /// for the host to finish the teardown.
    fn stop_interface(s: &mut State, c: Call<'_>) -> CallResult {
        let tvm = Self::tvm_of(&c);
        if s.owned_tdi(c.device, c.tdi, tvm)?.state == TdiState::ConfigUnlocked {
            return Err(Status::InvalidState);
        }
        let unmapped = Self::unmap(s, &c, tvm)?;
        let state = Self::stop(s, &c, tvm)?;
        pr_info!("EMULATED TSM: TDI {:#x}: stopped by TVM {} ({} mappings unmapped first): {:?}\n", c.tdi, tvm, unmapped, state);
        if state == TdiState::Error {
            return Err(Status::Io);
        }
        Ok(0)
    }
}

#[pinned_drop]
impl PinnedDrop for Firmware {
    fn drop(self: Pin<&mut Self>) {
        for t in self.state.lock().tvms.iter_mut() {
            t.slots.iter_mut().for_each(|sl| sl.dead = true);
        }
        self.release_dead_slots();
    }
}

/// The importer's revocation callback (stage2_edge.h).
///
/// # Safety
///
/// `firmware` is the live `Firmware` that made `import`.
#[no_mangle]
unsafe extern "C" fn teeio_tsm_emu_stage2_revoked(firmware: *mut c_void, import: *mut b::teeio_stage2_import) {
    // SAFETY: per the contract; the firmware releases every import (which
    // waits for this callback) before it goes.
    unsafe { &*firmware.cast::<Firmware>() }.revoked(import);
}
