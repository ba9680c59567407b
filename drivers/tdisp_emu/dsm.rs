// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the device security manager (DSM) of an emulated TDISP device.
//!
//! Answers the DOE objects its mailbox receives: DOE discovery, and SPDM
//! 1.2 (version, capabilities, algorithms, digests, certificate,
//! measurements) carrying TDISP and IDE_KM in PCI-SIG vendor-defined
//! messages. The TDI follows [`Tdi`], the library's state machine.
//!
//! Modelled without real cryptography: no SPDM session (messages travel as
//! plain CMA/SPDM, DOE type 1), no signatures, a synthetic certificate chain.
//! Real: SHA-384 measurements over an emulated firmware image and the
//! device's configuration, nonces from the kernel RNG.

use kernel::prelude::*;
use zerocopy::byteorder::little_endian::{U16, U32};

use crate::doe::{self, DiscoveryRequest, ObjectHeader};
use crate::error::Error as WireError;
use crate::ide_km::{self, kp_ack_status, StreamKey};
use crate::pci_edge::{Bdf, PciDevRef};
use crate::teeio_crypto::{random_bytes, sha384};
use crate::registers::IdeRegisters;
use crate::spdm;
use crate::tdi_state::{TdiState, Tdi};
use crate::tdisp::{self, ErrorCode, InterfaceId, LockInterfaceRequest, NONCE_LEN};
use crate::tdisp_report::{interface_info, InterfaceReport, MmioRange, ReportHeader, PAGE_SIZE};
use crate::wire::Writer;

/// Protocols the mailbox reports in DOE discovery.
const PROTOCOLS: [(u16, u8); 2] =
    [(doe::VENDOR_ID_PCI_SIG, doe::TYPE_DISCOVERY), (doe::VENDOR_ID_PCI_SIG, doe::TYPE_CMA_SPDM)];

/// Largest report portion one DEVICE_INTERFACE_REPORT carries.
pub(crate) const MAX_REPORT_PORTION: u16 = 512;
/// Largest certificate portion one CERTIFICATE carries.
const MAX_CERT_PORTION: usize = 512;
/// Size of the emulated firmware image that measurement 1 covers.
const FIRMWARE_IMAGE_LEN: usize = 4096;
/// Device-specific information in every interface report.
const DEVICE_SPECIFIC_INFO: &[u8] = b"teeio emulated DSM";

/// Misbehaviour bits of the `misbehave` module parameter.
pub(crate) mod fault {
    /// LOCK_INTERFACE_RESPONSE carries a nonce the DSM does not keep.
    pub(crate) const WRONG_NONCE: i32 = 1 << 0;
    /// The interface report is cut short: its last range is missing.
    pub(crate) const TRUNCATED_REPORT: i32 = 1 << 1;
    /// Report portions ignore the requested length.
    pub(crate) const OVERSIZED_REPORT: i32 = 1 << 2;
    /// START succeeds from CONFIG_UNLOCKED, without a lock.
    pub(crate) const ILLEGAL_TRANSITIONS: i32 = 1 << 3;
    /// The mailbox reports BUSY while idle, until an abort.
    pub(crate) const BUSY_MAILBOX: i32 = 1 << 4;
    /// The mailbox never answers, until an abort.
    pub(crate) const STUCK_MAILBOX: i32 = 1 << 5;
    /// The TDI goes to ERROR at the next TDISP request, as after a
    /// configuration change.
    pub(crate) const SPURIOUS_ERROR: i32 = 1 << 6;
}

/// What the DSM sees of its function outside the messages.
pub(crate) struct DeviceView<'a> {
    /// The function's IDE registers.
    pub(crate) ide: &'a IdeRegisters,
    /// Whether a configuration change violated the lock since the last request.
    pub(crate) config_violated: bool,
    /// The `misbehave` bits.
    pub(crate) faults: i32,
}

/// The SPDM connection's progress (DSP0274 section 10.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SpdmStage {
    Start,
    Version,
    Capabilities,
    Negotiated,
}

/// The responder state of one emulated function.
pub(crate) struct Dsm {
    bdf: Bdf,
    firmware_digest: [u8; 48],
    cert_chain: KVec<u8>,
    stage: SpdmStage,
    tdi: Tdi,
    lock: Option<LockInterfaceRequest>,
    report: KVec<u8>,
    /// Scratch for the TDISP or IDE_KM message inside a vendor-defined one.
    inner: KVec<u8>,
}

/// Protocol errors the DSM answers with an SPDM ERROR.
fn spdm_error_for(e: WireError) -> spdm::ErrorCode {
    match e {
        WireError::UnsupportedVersion(_) => spdm::ErrorCode::VersionMismatch,
        WireError::UnknownCode(_) | WireError::UnexpectedCode(_) => spdm::ErrorCode::UnsupportedRequest,
        _ => spdm::ErrorCode::InvalidRequest,
    }
}

/// Protocol errors the DSM answers with a TDISP_ERROR.
fn tdisp_error_for(e: WireError) -> ErrorCode {
    match e {
        WireError::UnsupportedVersion(_) => ErrorCode::VersionMismatch,
        WireError::UnknownCode(_) | WireError::UnexpectedCode(_) => ErrorCode::UnsupportedRequest,
        _ => ErrorCode::InvalidRequest,
    }
}

fn wire(e: WireError) -> kernel::error::Error {
    pr_warn!("emulated DSM: cannot encode a response: {}\n", e);
    ENOSPC
}

impl Dsm {
    /// The DSM of the function at `bdf`.
    pub(crate) fn new(bdf: Bdf) -> Result<Self> {
        // The emulated firmware image: a fixed banner, then bytes derived
        // from the function's address, so each device measures differently.
        let mut image = KVec::with_capacity(FIRMWARE_IMAGE_LEN, GFP_KERNEL)?;
        image.extend_from_slice(b"teeio emulated DSM firmware image (EMULATION)\0", GFP_KERNEL)?;
        let rid = bdf.rid();
        while image.len() < FIRMWARE_IMAGE_LEN {
            let i = image.len() as u32;
            image.push((i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ rid as u8, GFP_KERNEL)?;
        }
        let firmware_digest = sha384(&image);

        // A synthetic SPDM certificate chain (DSP0274 table 33): length,
        // reserved, root hash, then one pseudo-certificate. Not X.509.
        let body = b"teeio EMULATED device certificate: not a real X.509 chain";
        let total = 4 + 48 + body.len();
        let mut cert_chain = KVec::with_capacity(total, GFP_KERNEL)?;
        cert_chain.extend_from_slice(&(total as u16).to_le_bytes(), GFP_KERNEL)?;
        cert_chain.extend_from_slice(&[0, 0], GFP_KERNEL)?;
        cert_chain.extend_from_slice(&sha384(body), GFP_KERNEL)?;
        cert_chain.extend_from_slice(body, GFP_KERNEL)?;

        let mut inner = KVec::new();
        inner.resize(2048, 0, GFP_KERNEL)?;
        Ok(Self {
            bdf,
            firmware_digest,
            cert_chain,
            stage: SpdmStage::Start,
            tdi: Tdi::new(),
            lock: None,
            report: KVec::new(),
            inner,
        })
    }

    /// SHA-384 of the function's config header (identity, class, BARs; not
    /// command and status) and, when locked, the lock parameters
    /// (measurement 2).
    fn config_digest(&self) -> Result<[u8; 48]> {
        let dev = PciDevRef::get(self.bdf).ok_or(ENODEV)?;
        let mut data = [0u8; 64 + core::mem::size_of::<LockInterfaceRequest>()];
        for (i, chunk) in data[..64].chunks_exact_mut(4).enumerate() {
            let offset = i as u16 * 4;
            let value = if offset == 0x04 { 0 } else { dev.read_dword(offset) };
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        let len = match &self.lock {
            Some(lock) => {
                data[64..].copy_from_slice(zerocopy::IntoBytes::as_bytes(lock));
                data.len()
            }
            None => 64,
        };
        Ok(sha384(&data[..len]))
    }

    /// Whether the TDI is CONFIG_LOCKED or RUN.
    pub(crate) fn is_locked(&self) -> bool {
        matches!(self.tdi.state(), TdiState::ConfigLocked | TdiState::Run)
    }

    /// Answers one DOE object; returns the answer's length in bytes.
    /// An object the mailbox cannot carry is an error (the ERROR bit).
    pub(crate) fn handle(&mut self, object: &[u8], out: &mut [u8], view: &DeviceView<'_>) -> Result<usize> {
        let (header, payload) = ObjectHeader::parse(object).map_err(|e| {
            pr_warn!("{}: emulated DSM: bad DOE object: {}\n", self.bdf, e);
            EINVAL
        })?;
        if header.vendor_id.get() != doe::VENDOR_ID_PCI_SIG {
            pr_warn!("{}: emulated DSM: DOE vendor {:#06x} not supported\n", self.bdf, header.vendor_id.get());
            return Err(EINVAL);
        }
        let (head, body) = out.split_at_mut(core::mem::size_of::<ObjectHeader>());
        let len = match header.object_type {
            doe::TYPE_DISCOVERY => {
                let request = DiscoveryRequest::parse(payload).map_err(|_| EINVAL)?;
                let answer = doe::discover(&PROTOCOLS, request.index);
                let bytes = zerocopy::IntoBytes::as_bytes(&answer);
                body.get_mut(..bytes.len()).ok_or(ENOSPC)?.copy_from_slice(bytes);
                bytes.len()
            }
            doe::TYPE_CMA_SPDM => self.spdm(payload, body, view)?,
            other => {
                pr_warn!("{}: emulated DSM: DOE type {} not supported\n", self.bdf, other);
                return Err(EINVAL);
            }
        };
        let padded = len.next_multiple_of(4);
        body.get_mut(len..padded).ok_or(ENOSPC)?.fill(0);
        let header = ObjectHeader::new(doe::VENDOR_ID_PCI_SIG, header.object_type, padded).map_err(wire)?;
        head.copy_from_slice(zerocopy::IntoBytes::as_bytes(&header));
        Ok(head.len() + padded)
    }

    fn spdm(&mut self, message: &[u8], out: &mut [u8], view: &DeviceView<'_>) -> Result<usize> {
        let parsed = doe::parse_padded(message, spdm::Request::parse);
        let (_, request) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                pr_info!("{}: emulated DSM: SPDM request refused: {}\n", self.bdf, e);
                return Self::spdm_error(spdm_error_for(e), 0, out);
            }
        };
        let needed = match request {
            spdm::Request::GetVersion => SpdmStage::Start,
            spdm::Request::GetCapabilities(_) => SpdmStage::Version,
            spdm::Request::NegotiateAlgorithms { .. } => SpdmStage::Capabilities,
            _ => SpdmStage::Negotiated,
        };
        if self.stage < needed {
            pr_info!("{}: emulated DSM: SPDM request out of order\n", self.bdf);
            return Self::spdm_error(spdm::ErrorCode::UnexpectedRequest, 0, out);
        }
        match request {
            spdm::Request::GetVersion => {
                self.stage = SpdmStage::Version;
                let entries = [U16::new(u16::from(spdm::SPDM_VERSION_1_2) << 8)];
                spdm::Response::Version(&entries).encode(out).map_err(wire)
            }
            spdm::Request::GetCapabilities(_) => {
                self.stage = SpdmStage::Capabilities;
                let caps = spdm::Capabilities {
                    reserved: 0,
                    ct_exponent: 20,
                    reserved2: U16::new(0),
                    flags: U32::new(
                        spdm::capability_flags::CERT_CAP
                            | spdm::capability_flags::MEAS_CAP_NO_SIG
                            | spdm::capability_flags::MEAS_FRESH_CAP,
                    ),
                    data_transfer_size: U32::new(4096),
                    max_spdm_msg_size: U32::new(4096),
                };
                spdm::Response::Capabilities(&caps).encode(out).map_err(wire)
            }
            spdm::Request::NegotiateAlgorithms { fixed, .. } => {
                let sha384 = spdm::algorithms::BASE_HASH_SHA_384;
                if fixed.base_hash_algo.get() & sha384 == 0
                    || fixed.measurement_specification & spdm::algorithms::MEASUREMENT_SPEC_DMTF == 0
                {
                    pr_info!("{}: emulated DSM: requester does not offer SHA-384 and DMTF\n", self.bdf);
                    return Self::spdm_error(spdm::ErrorCode::InvalidRequest, 0, out);
                }
                self.stage = SpdmStage::Negotiated;
                let algs = spdm::Algorithms {
                    length: U16::new(0),
                    measurement_specification_sel: spdm::algorithms::MEASUREMENT_SPEC_DMTF,
                    other_params_selection: 0,
                    measurement_hash_algo: U32::new(spdm::algorithms::MEASUREMENT_HASH_SHA_384),
                    base_asym_sel: U32::new(fixed.base_asym_algo.get() & spdm::algorithms::BASE_ASYM_ECDSA_P384),
                    base_hash_sel: U32::new(sha384),
                    reserved: [0; 12],
                    ext_asym_sel_count: 0,
                    ext_hash_sel_count: 0,
                    reserved2: [0; 2],
                };
                spdm::Response::Algorithms { fixed: &algs, tables: &[] }.encode(out).map_err(wire)
            }
            spdm::Request::GetDigests => {
                let digest = sha384(&self.cert_chain);
                spdm::Response::Digests { slot_mask: 1, digests: &digest }.encode(out).map_err(wire)
            }
            spdm::Request::GetCertificate { slot, range } => {
                let offset = range.offset.get() as usize;
                if slot != 0 || offset >= self.cert_chain.len() {
                    return Self::spdm_error(spdm::ErrorCode::InvalidRequest, 0, out);
                }
                let take = (self.cert_chain.len() - offset).min(range.length.get() as usize).min(MAX_CERT_PORTION);
                let remainder = (self.cert_chain.len() - offset - take) as u16;
                let portion = &self.cert_chain[offset..offset + take];
                spdm::Response::Certificate { slot, portion, remainder_length: remainder }.encode(out).map_err(wire)
            }
            spdm::Request::GetMeasurements { signed: Some(_), .. } => {
                pr_info!("{}: emulated DSM: signed measurements are not modelled\n", self.bdf);
                Self::spdm_error(spdm::ErrorCode::UnsupportedRequest, 0, out)
            }
            spdm::Request::GetMeasurements { operation, .. } => self.measurements(operation, out),
            spdm::Request::VendorDefined(vd) => match vd.pci_sig_protocol() {
                Some((spdm::PROTOCOL_ID_TDISP, msg)) => {
                    let mut inner = core::mem::take(&mut self.inner);
                    let answer = self.tdisp(msg, &mut inner, view);
                    let result = answer.and_then(|len| {
                        let code = spdm::ResponseCode::VendorDefined as u8;
                        spdm::encode_pci_sig(out, code, spdm::PROTOCOL_ID_TDISP, &inner[..len]).map_err(wire)
                    });
                    self.inner = inner;
                    result
                }
                Some((spdm::PROTOCOL_ID_IDE_KM, msg)) => {
                    let mut inner = core::mem::take(&mut self.inner);
                    let answer = self.ide_km(msg, &mut inner, view);
                    let result = match answer {
                        Ok(len) => {
                            let code = spdm::ResponseCode::VendorDefined as u8;
                            spdm::encode_pci_sig(out, code, spdm::PROTOCOL_ID_IDE_KM, &inner[..len]).map_err(wire)
                        }
                        Err(code) => Self::spdm_error(code, 0, out),
                    };
                    self.inner = inner;
                    result
                }
                _ => Self::spdm_error(spdm::ErrorCode::UnsupportedRequest, 0, out),
            },
        }
    }

    fn spdm_error(code: spdm::ErrorCode, data: u8, out: &mut [u8]) -> Result<usize> {
        spdm::Response::Error { code: Ok(code), data }.encode(out).map_err(wire)
    }

    fn measurements(&mut self, operation: u8, out: &mut [u8]) -> Result<usize> {
        let Ok(config) = self.config_digest() else {
            return Self::spdm_error(spdm::ErrorCode::Unspecified, 0, out);
        };
        let blocks = [
            spdm::MeasurementBlock {
                index: 1,
                value_type: spdm::measurement_type::MUTABLE_FIRMWARE,
                value: &self.firmware_digest,
            },
            spdm::MeasurementBlock {
                index: 2,
                value_type: spdm::measurement_type::HARDWARE_CONFIGURATION,
                value: &config,
            },
        ];
        let (total, chosen): (u8, &[spdm::MeasurementBlock<'_>]) = match operation {
            spdm::MEASUREMENTS_OP_COUNT => (blocks.len() as u8, &[]),
            spdm::MEASUREMENTS_OP_ALL => (0, &blocks),
            i @ 1..=2 => (0, &blocks[i as usize - 1..i as usize]),
            _ => return Self::spdm_error(spdm::ErrorCode::InvalidRequest, 0, out),
        };
        let mut record = [0u8; 2 * (4 + 3 + 48)];
        let mut w = Writer::new(&mut record);
        for block in chosen {
            block.encode(&mut w).map_err(wire)?;
        }
        let record_len = w.len();
        let mut nonce = [0u8; spdm::NONCE_LEN];
        random_bytes(&mut nonce);
        let m = spdm::Measurements {
            total,
            number_of_blocks: chosen.len() as u8,
            record: &record[..record_len],
            nonce: &nonce,
            opaque: &[],
        };
        spdm::Response::Measurements(m).encode(out).map_err(wire)
    }

    fn tdisp(&mut self, msg: &[u8], out: &mut [u8], view: &DeviceView<'_>) -> Result<usize> {
        let (header, request) = match tdisp::Request::parse(msg) {
            Ok(parsed) => parsed,
            Err(e) => {
                pr_info!("{}: emulated DSM: TDISP request refused: {}\n", self.bdf, e);
                let id = InterfaceId::new(self.bdf.rid(), None);
                return tdisp::Response::error(tdisp_error_for(e), 0).encode(id, out).map_err(wire);
            }
        };
        let id = header.interface_id;
        if id.requester_id() != self.bdf.rid() {
            pr_info!("{}: emulated DSM: TDISP request for another interface {:#06x}\n", self.bdf, id.requester_id());
            return tdisp::Response::error(ErrorCode::InvalidInterface, 0).encode(id, out).map_err(wire);
        }
        if (view.config_violated || view.faults & fault::SPURIOUS_ERROR != 0) && self.tdi.config_violation() {
            pr_info!("{}: emulated DSM: configuration changed while locked: TDI in ERROR\n", self.bdf);
        }
        let code = request.code();
        let mut lock_response = tdisp::LockInterfaceResponse { start_interface_nonce: [0; NONCE_LEN] };
        let answer: core::result::Result<tdisp::Response<'_>, ErrorCode> = match request {
            tdisp::Request::GetVersion => Ok(tdisp::Response::Version(&[tdisp::TDISP_VERSION_1_0])),
            tdisp::Request::GetCapabilities(_) => Ok(tdisp::Response::Capabilities(&CAPABILITIES)),
            tdisp::Request::LockInterface(lock) => self
                .lock(lock, &mut lock_response.start_interface_nonce, view)
                .map(|()| tdisp::Response::LockInterface(&lock_response)),
            tdisp::Request::GetDeviceInterfaceReport(range) => self.tdi.check_report_allowed().and_then(|()| {
                let length = if view.faults & fault::OVERSIZED_REPORT != 0 { u16::MAX } else { range.length.get() };
                let (portion, remainder_length) =
                    crate::tdisp_report::report_portion(&self.report, range.offset.get(), length, MAX_REPORT_PORTION)?;
                Ok(tdisp::Response::DeviceInterfaceReport { portion, remainder_length })
            }),
            tdisp::Request::GetDeviceInterfaceState => Ok(tdisp::Response::DeviceInterfaceState(self.tdi.state())),
            tdisp::Request::StartInterface(start) => {
                if view.faults & fault::ILLEGAL_TRANSITIONS != 0 && self.tdi.state() == TdiState::ConfigUnlocked {
                    // Misbehaving: pretend a lock happened with the caller's nonce.
                    let _ = self.tdi.lock(start.start_interface_nonce);
                }
                self.tdi.start(&start.start_interface_nonce).map(|()| tdisp::Response::StartInterface)
            }
            tdisp::Request::StopInterface => self.tdi.stop().map(|()| {
                self.lock = None;
                tdisp::Response::StopInterface
            }),
            _ => Err(ErrorCode::UnsupportedRequest),
        };
        let response = answer.unwrap_or_else(|e| {
            pr_info!("{}: emulated DSM: TDISP {:?} refused: {:?}\n", self.bdf, code, e);
            tdisp::Response::error(e, 0)
        });
        response.encode(id, out).map_err(wire)
    }

    fn lock(
        &mut self,
        lock: &LockInterfaceRequest,
        nonce: &mut [u8; NONCE_LEN],
        view: &DeviceView<'_>,
    ) -> core::result::Result<(), ErrorCode> {
        if lock.flags.get() & !tdisp::lock_flags::ALL != 0 || lock.reserved != 0 {
            return Err(ErrorCode::InvalidRequest);
        }
        random_bytes(nonce);
        self.tdi.lock(*nonce)?;
        self.lock = Some(*lock);
        if let Err(e) = self.build_report(lock, view.faults & fault::TRUNCATED_REPORT != 0) {
            pr_warn!("{}: emulated DSM: cannot build the interface report: {:?}\n", self.bdf, e);
            let _ = self.tdi.stop();
            self.lock = None;
            return Err(ErrorCode::Unspecified);
        }
        if view.faults & fault::WRONG_NONCE != 0 {
            nonce[0] ^= 0xff;
        }
        Ok(())
    }

    /// The report for the locked configuration: one MMIO range per memory
    /// BAR, at the BAR's address plus the lock's mmio_reporting_offset.
    fn build_report(&mut self, lock: &LockInterfaceRequest, truncated: bool) -> Result {
        let bars = PciDevRef::get(self.bdf).ok_or(ENODEV)?.mem_bars();
        let mut ranges = KVec::with_capacity(bars.len(), GFP_KERNEL)?;
        for bar in bars.iter() {
            let address = bar.start.wrapping_add(lock.mmio_reporting_offset.get()) & !(PAGE_SIZE - 1);
            let pages = u32::try_from(bar.len.div_ceil(PAGE_SIZE)).map_err(|_| EINVAL)?;
            ranges.push(MmioRange::new(address, pages, 0, u16::from(bar.index)), GFP_KERNEL)?;
        }
        let mut info = interface_info::DMA_WITHOUT_PASID;
        if lock.flags.get() & tdisp::lock_flags::NO_FW_UPDATE != 0 {
            info |= interface_info::NO_UPDATE_AFTER_LOCK;
        }
        let header = ReportHeader {
            interface_info: U16::new(info),
            reserved: U16::new(0),
            msix_message_control: U16::new(0),
            lnr_control: U16::new(0),
            tph_control: U32::new(0),
            mmio_range_count: U32::new(0),
        };
        let report = InterfaceReport { header: &header, ranges: &ranges, device_specific_info: DEVICE_SPECIFIC_INFO };
        self.report.clear();
        self.report.resize(report.encoded_len(), 0, GFP_KERNEL)?;
        report.encode(&mut self.report).map_err(wire)?;
        if truncated && !ranges.is_empty() {
            // Keep the range count, drop the last range's bytes.
            let cut = 16 + (ranges.len() - 1) * 16;
            let tail_len = self.report.len() - (cut + 16);
            self.report.copy_within(cut + 16.., cut);
            self.report.truncate(cut + tail_len);
        }
        Ok(())
    }

    fn ide_km(&mut self, msg: &[u8], out: &mut [u8], view: &DeviceView<'_>) -> core::result::Result<usize, spdm::ErrorCode> {
        let message = ide_km::Message::parse(msg).map_err(|e| {
            pr_info!("{}: emulated DSM: IDE_KM object refused: {}\n", self.bdf, e);
            spdm::ErrorCode::InvalidRequest
        })?;
        let encode = |m: ide_km::Message<'_>, out: &mut [u8]| m.encode(out).map_err(|_| spdm::ErrorCode::Unspecified);
        match message {
            ide_km::Message::Query(q) => {
                if q.port_index != 0 {
                    return Err(spdm::ErrorCode::InvalidRequest);
                }
                let resp = ide_km::QueryResp {
                    reserved: 0,
                    port_index: 0,
                    dev_func_num: self.bdf.devfn,
                    bus_num: self.bdf.bus,
                    segment: self.bdf.domain as u8,
                    max_port_index: 0,
                };
                let mut regs = [U32::new(0); 8];
                for (i, reg) in regs.iter_mut().enumerate() {
                    *reg = U32::new(view.ide.read(i as u16 * 4));
                }
                encode(ide_km::Message::QueryResp(&resp, &regs), out)
            }
            ide_km::Message::KeyProg(key, material) => {
                let status = if key.port_index != 0 {
                    kp_ack_status::UNSUPPORTED_PORT_INDEX
                } else {
                    view.ide.program_key(ide_km::key_index(key.key_sub_stream), &material.words());
                    kp_ack_status::SUCCESS
                };
                let ack = StreamKey { status, ..*key };
                encode(ide_km::Message::KpAck(&ack), out)
            }
            ide_km::Message::KSetGo(key) | ide_km::Message::KSetStop(key) => {
                let go = matches!(message, ide_km::Message::KSetGo(_));
                if !view.ide.set_key_live(ide_km::key_index(key.key_sub_stream), go) {
                    pr_info!("{}: emulated DSM: K_SET_GO for a key never programmed\n", self.bdf);
                    return Err(spdm::ErrorCode::InvalidRequest);
                }
                encode(ide_km::Message::KGostopAck(key), out)
            }
            _ => Err(spdm::ErrorCode::UnsupportedRequest),
        }
    }
}

/// TDISP_CAPABILITIES of the emulated DSM.
static CAPABILITIES: tdisp::Capabilities = tdisp::Capabilities {
    dsm_caps: U32::new(0),
    // GET_TDISP_VERSION (0x81) to STOP_INTERFACE_REQUEST (0x87).
    req_msg_supported: [0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    lock_interface_flags_supported: U16::new(tdisp::lock_flags::ALL),
    reserved: [0; 3],
    dev_addr_width: 64,
    num_req_this: 1,
    num_req_all: 1,
};
