// SPDX-License-Identifier: GPL-2.0

//! In-kernel tests of the emulated TDISP device, driven through upstream
//! `pci_doe()` and PCI config accessors on the first device of `bdfs=`,
//! checking the responses byte for byte.

use kernel::prelude::*;

#[kunit_tests(teeio_tdisp_emu)]
mod suite {
    use kernel::prelude::*;
    use zerocopy::byteorder::little_endian::{U16, U32, U64};

    use crate::dsm::fault;
    use crate::pci_edge::PciDevRef;
    use crate::registers::{DOE_OFFSET, IDE_OFFSET};
    use crate::tdi_state::TdiState;
    use crate::tdisp::{self, ErrorCode, InterfaceId, Response};
    use crate::tdisp_report::InterfaceReport;
    use crate::{doe, ide_km, params, spdm};

    /// A requester talking to the emulated DSM the way a TSM would.
    struct Requester {
        dev: PciDevRef,
    }

    /// Room for any response the DSM gives.
    const RESPONSE_MAX: usize = 1024;

    impl Requester {
        fn new() -> Option<Self> {
            let bdf = *params::bdfs().ok()?.first()?;
            Some(Self { dev: PciDevRef::get(bdf)? })
        }

        fn id(&self) -> InterfaceId {
            InterfaceId::new(self.dev.bdf().rid(), None)
        }

        /// One SPDM exchange over the CMA/SPDM mailbox.
        fn spdm(&self, request: &[u8], response: &mut [u8]) -> Result<usize> {
            let mb = self.dev.doe_mailbox(doe::VENDOR_ID_PCI_SIG, doe::TYPE_CMA_SPDM).ok_or(ENODEV)?;
            mb.exchange(request, response)
        }

        /// GET_VERSION, GET_CAPABILITIES, NEGOTIATE_ALGORITHMS; true when
        /// each got its success response.
        fn negotiate(&self) -> bool {
            let mut resp = [0u8; 64];
            let caps = spdm::Capabilities::requester(4096);
            let nego = spdm::NegotiateAlgorithms::p384_sha384();
            let steps = [
                (spdm::Request::GetVersion, spdm::ResponseCode::Version),
                (spdm::Request::GetCapabilities(&caps), spdm::ResponseCode::Capabilities),
                (spdm::Request::NegotiateAlgorithms { fixed: &nego, tables: &[] }, spdm::ResponseCode::Algorithms),
            ];
            steps.iter().all(|(request, expected)| {
                let mut req = [0u8; 64];
                let Ok(n) = request.encode(&mut req) else { return false };
                matches!(self.spdm(&req[..n], &mut resp), Ok(r) if r >= 4 && resp[1] == *expected as u8)
            })
        }

        /// One PCI-SIG vendor-defined exchange carrying `message` of
        /// `protocol`; the answer's message lands in `out`.
        fn pci_sig(&self, protocol: u8, message: &[u8], out: &mut [u8]) -> Option<usize> {
            let mut req = [0u8; 128];
            let code = spdm::RequestCode::VendorDefined as u8;
            let m = spdm::encode_pci_sig(&mut req, code, protocol, message).ok()?;
            let mut resp = KVec::from_elem(0u8, RESPONSE_MAX, GFP_KERNEL).ok()?;
            let r = self.spdm(&req[..m], &mut resp).ok()?;
            let (_, parsed) = doe::parse_padded(&resp[..r], spdm::Response::parse).ok()?;
            let spdm::Response::VendorDefined(vd) = parsed else { return None };
            let (answered, body) = vd.pci_sig_protocol()?;
            if answered != protocol {
                return None;
            }
            out.get_mut(..body.len())?.copy_from_slice(body);
            Some(body.len())
        }

        /// One TDISP exchange; the TDISP response lands in `out`.
        fn tdisp_with_id(&self, id: InterfaceId, request: tdisp::Request<'_>, out: &mut [u8]) -> Option<usize> {
            let mut msg = [0u8; 96];
            let n = request.encode(id, &mut msg).ok()?;
            self.pci_sig(spdm::PROTOCOL_ID_TDISP, &msg[..n], out)
        }

        /// One IDE_KM exchange; the answer lands in `out`.
        fn ide_km(&self, message: ide_km::Message<'_>, out: &mut [u8]) -> Option<usize> {
            let mut msg = [0u8; 64];
            let n = message.encode(&mut msg).ok()?;
            self.pci_sig(spdm::PROTOCOL_ID_IDE_KM, &msg[..n], out)
        }

        fn tdisp<'a>(&self, request: tdisp::Request<'_>, out: &'a mut [u8]) -> Option<Response<'a>> {
            let n = self.tdisp_with_id(self.id(), request, out)?;
            Response::parse(&out[..n]).ok().map(|(_, r)| r)
        }

        fn state(&self) -> Option<TdiState> {
            let mut out = [0u8; 32];
            match self.tdisp(tdisp::Request::GetDeviceInterfaceState, &mut out)? {
                Response::DeviceInterfaceState(state) => Some(state),
                _ => None,
            }
        }

        /// LOCK_INTERFACE with `offset`; the nonce, or the TDISP error.
        fn lock(&self, offset: u64) -> core::result::Result<[u8; 32], Option<ErrorCode>> {
            let lock = tdisp::LockInterfaceRequest {
                flags: U16::new(tdisp::lock_flags::NO_FW_UPDATE),
                default_stream_id: 0,
                reserved: 0,
                mmio_reporting_offset: U64::new(offset),
                bind_p2p_address_mask: U64::new(0),
            };
            let mut out = [0u8; 64];
            match self.tdisp(tdisp::Request::LockInterface(&lock), &mut out) {
                Some(Response::LockInterface(r)) => Ok(r.start_interface_nonce),
                Some(Response::Error { code, .. }) => Err(code.ok()),
                _ => Err(None),
            }
        }

        fn start(&self, nonce: [u8; 32]) -> Option<Response<'static>> {
            let start = tdisp::StartInterfaceRequest { start_interface_nonce: nonce };
            let mut out = [0u8; 32];
            Some(owned(self.tdisp(tdisp::Request::StartInterface(&start), &mut out)?))
        }

        fn stop(&self) -> Option<Response<'static>> {
            let mut out = [0u8; 32];
            Some(owned(self.tdisp(tdisp::Request::StopInterface, &mut out)?))
        }

        /// The whole interface report, fetched in portions of `chunk` bytes.
        fn report(&self, chunk: u16) -> core::result::Result<KVec<u8>, Option<ErrorCode>> {
            let mut report = KVec::new();
            let mut out = KVec::from_elem(0u8, RESPONSE_MAX, GFP_KERNEL).map_err(|_| None)?;
            for _ in 0..64 {
                let range = tdisp::GetDeviceInterfaceReportRequest {
                    offset: U16::new(report.len() as u16),
                    length: U16::new(chunk),
                };
                match self.tdisp(tdisp::Request::GetDeviceInterfaceReport(&range), &mut out) {
                    Some(Response::DeviceInterfaceReport { portion, remainder_length }) => {
                        report.extend_from_slice(portion, GFP_KERNEL).map_err(|_| None)?;
                        if remainder_length == 0 {
                            return Ok(report);
                        }
                    }
                    Some(Response::Error { code, .. }) => return Err(code.ok()),
                    _ => return Err(None),
                }
            }
            Err(None)
        }
    }

    /// Drops the borrow of a response that carries no data.
    fn owned(response: Response<'_>) -> Response<'static> {
        match response {
            Response::StartInterface => Response::StartInterface,
            Response::StopInterface => Response::StopInterface,
            Response::Error { code, data, .. } => Response::Error { code, data, extended: &[] },
            _ => Response::Error { code: Err(u32::MAX), data: 0, extended: &[] },
        }
    }

    fn tdisp_error(code: ErrorCode) -> Option<Response<'static>> {
        Some(Response::error(code, 0))
    }

    /// A requester with SPDM negotiated and the TDI unlocked, faults off.
    fn ready() -> Option<Requester> {
        params::set_misbehave(0);
        let r = Requester::new()?;
        if !r.negotiate() {
            return None;
        }
        if r.state()? != TdiState::ConfigUnlocked {
            r.stop()?;
        }
        Some(r)
    }

    #[test]
    fn capabilities_visible_to_the_pci_core() {
        let r = Requester::new();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let devcap = r.dev.read_dword(r.dev.pcie_cap() + 4);
        assert_eq!(devcap & (1 << 30), 1 << 30);
        assert_eq!(r.dev.find_ext_capability(0x2e), DOE_OFFSET);
        assert_eq!(r.dev.find_ext_capability(0x30), IDE_OFFSET);
        let port = r.dev.upstream_bridge();
        assert!(port.is_some());
        assert_eq!(port.map(|p| p.find_ext_capability(0x30)), Some(IDE_OFFSET));
    }

    #[test]
    fn upstream_doe_found_spdm_but_no_secured_spdm() {
        let r = Requester::new();
        assert!(r.is_some());
        let Some(r) = r else { return };
        assert!(r.dev.doe_mailbox(doe::VENDOR_ID_PCI_SIG, doe::TYPE_CMA_SPDM).is_some());
        assert!(r.dev.doe_mailbox(doe::VENDOR_ID_PCI_SIG, doe::TYPE_SECURED_SPDM).is_none());
    }

    #[test]
    fn spdm_get_version_bytes() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let mut resp = [0u8; 16];
        assert_eq!(r.spdm(&[0x10, 0x84, 0x00, 0x00], &mut resp).ok(), Some(8));
        assert_eq!(resp[..8], [0x10, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12]);
    }

    #[test]
    fn spdm_requests_out_of_order_are_refused() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let mut resp = [0u8; 16];
        // GET_VERSION restarts the connection: measurements need algorithms first.
        assert_eq!(r.spdm(&[0x10, 0x84, 0x00, 0x00], &mut resp).ok(), Some(8));
        assert_eq!(r.spdm(&[0x12, 0xe0, 0x00, 0xff], &mut resp).ok(), Some(4));
        assert_eq!(resp[..4], [0x12, 0x7f, spdm::ErrorCode::UnexpectedRequest as u8, 0x00]);
        // An unknown request code.
        assert!(r.negotiate());
        assert_eq!(r.spdm(&[0x12, 0x42, 0x00, 0x00], &mut resp).ok(), Some(4));
        assert_eq!(resp[..4], [0x12, 0x7f, spdm::ErrorCode::UnsupportedRequest as u8, 0x00]);
    }

    #[test]
    fn measurements_are_sha384_digests() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let mut resp = [0u8; 256];
        let mut first = [0u8; 48];
        let mut nonce = [0u8; 32];
        for round in 0..2 {
            let n = r.spdm(&[0x12, 0xe0, 0x00, 0xff], &mut resp).unwrap_or(0);
            let parsed = doe::parse_padded(&resp[..n], spdm::Response::parse);
            assert!(parsed.is_ok());
            let Ok((_, spdm::Response::Measurements(m))) = parsed else { return };
            assert_eq!(m.number_of_blocks, 2);
            let mut blocks = m.blocks();
            let fw = blocks.next().and_then(|b| b.ok());
            let cfg = blocks.next().and_then(|b| b.ok());
            assert!(blocks.next().is_none());
            assert_eq!(fw.map(|b| (b.index, b.value_type, b.value.len())), Some((1, 1, 48)));
            assert_eq!(cfg.map(|b| (b.index, b.value_type, b.value.len())), Some((2, 2, 48)));
            let Some(fw) = fw else { return };
            if round == 0 {
                first.copy_from_slice(fw.value);
                nonce.copy_from_slice(m.nonce);
            } else {
                // Same firmware, same digest; a fresh nonce each time.
                assert_eq!(fw.value, &first[..]);
                assert!(m.nonce != &nonce);
            }
        }
    }

    #[test]
    fn tdisp_lock_report_start_stop() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        assert_eq!(r.state(), Some(TdiState::ConfigUnlocked));
        // The report is only there while locked.
        assert_eq!(r.report(64).err(), Some(Some(ErrorCode::InvalidInterfaceState)));
        let offset = 0x1_0000_0000u64;
        let nonce = r.lock(offset);
        assert!(nonce.is_ok());
        let Ok(nonce) = nonce else { return };
        assert_eq!(r.state(), Some(TdiState::ConfigLocked));
        assert_eq!(r.lock(offset).err(), Some(Some(ErrorCode::InvalidInterfaceState)));

        let report = r.report(64);
        assert!(report.is_ok());
        let Ok(report) = report else { return };
        let parsed = InterfaceReport::parse(&report);
        assert!(parsed.is_ok());
        let Ok(parsed) = parsed else { return };
        let bars = r.dev.mem_bars();
        assert_eq!(parsed.ranges.len(), bars.len());
        for (range, bar) in parsed.ranges.iter().zip(bars.iter()) {
            assert_eq!(range.first_page.get(), bar.start + offset);
            assert_eq!(range.len(), bar.len.next_multiple_of(4096));
            assert_eq!(range.range_id.get(), u16::from(bar.index));
        }
        assert_eq!(parsed.device_specific_info, &b"teeio emulated DSM"[..]);

        let mut wrong = nonce;
        wrong[31] ^= 1;
        assert_eq!(r.start(wrong), tdisp_error(ErrorCode::InvalidNonce));
        assert_eq!(r.state(), Some(TdiState::ConfigLocked));
        assert_eq!(r.start(nonce), Some(Response::StartInterface));
        assert_eq!(r.state(), Some(TdiState::Run));
        assert!(r.report(512).is_ok());
        assert_eq!(r.stop(), Some(Response::StopInterface));
        assert_eq!(r.state(), Some(TdiState::ConfigUnlocked));
        assert_eq!(r.stop(), tdisp_error(ErrorCode::InvalidInterfaceState));
        assert_eq!(r.start(nonce), tdisp_error(ErrorCode::InvalidInterfaceState));
    }

    #[test]
    fn tdisp_request_for_another_interface_is_refused() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let other = InterfaceId::new(r.dev.bdf().rid().wrapping_add(1), None);
        let mut out = [0u8; 32];
        let n = r.tdisp_with_id(other, tdisp::Request::GetDeviceInterfaceState, &mut out);
        assert!(n.is_some());
        let parsed = Response::parse(&out[..n.unwrap_or(0)]).map(|(_, resp)| owned(resp));
        assert_eq!(parsed.ok(), tdisp_error(ErrorCode::InvalidInterface));
    }

    #[test]
    fn memory_disable_while_locked_goes_to_error() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let command = r.dev.read_word(0x04);
        let memory = 0x2;
        // Toggling memory space while unlocked is fine.
        r.dev.write_word(0x04, command | memory);
        r.dev.write_word(0x04, command & !memory);
        r.dev.write_word(0x04, command | memory);
        assert!(r.lock(0).is_ok());
        assert_eq!(r.state(), Some(TdiState::ConfigLocked));
        r.dev.write_word(0x04, command & !memory);
        assert_eq!(r.state(), Some(TdiState::Error));
        // ERROR is left through STOP only.
        assert_eq!(r.lock(0).err(), Some(Some(ErrorCode::InvalidInterfaceState)));
        assert_eq!(r.stop(), Some(Response::StopInterface));
        assert_eq!(r.state(), Some(TdiState::ConfigUnlocked));
        r.dev.write_word(0x04, command);
    }

    #[test]
    fn ide_km_programs_and_starts_keys() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let exchange = |m: ide_km::Message<'_>, out: &mut [u8]| r.ide_km(m, out);
        let mut out = [0u8; 64];
        let query = ide_km::Query { reserved: 0, port_index: 0 };
        let n = exchange(ide_km::Message::Query(&query), &mut out).unwrap_or(0);
        let parsed = ide_km::Message::parse(&out[..n]);
        assert!(matches!(parsed, Ok(ide_km::Message::QueryResp(_, regs)) if regs.len() == 8 && regs[1].get() == 0x42));

        let key = ide_km::StreamKey {
            reserved: [0; 2],
            stream_id: 1,
            status: 0,
            key_sub_stream: ide_km::key_sub_stream::SUB_STREAM_PR,
            port_index: 0,
        };
        let material = ide_km::KeyMaterial { key: [U32::new(0x5a5a_5a5a); 8], ifv: [U32::new(1), U32::new(0)] };
        let n = exchange(ide_km::Message::KeyProg(&key, &material), &mut out).unwrap_or(0);
        assert_eq!(ide_km::Message::parse(&out[..n]), Ok(ide_km::Message::KpAck(&key)));

        // Stream enabled and keys live: the emulated stream reads Secure.
        let sel_ctl = IDE_OFFSET + 0x10;
        let sel_sts = IDE_OFFSET + 0x14;
        r.dev.write_dword(sel_ctl, 1 << 24 | 1);
        assert_eq!(r.dev.read_dword(sel_sts), 0);
        let n = exchange(ide_km::Message::KSetGo(&key), &mut out).unwrap_or(0);
        assert_eq!(ide_km::Message::parse(&out[..n]), Ok(ide_km::Message::KGostopAck(&key)));
        assert_eq!(r.dev.read_dword(sel_sts), 2);
        let n = exchange(ide_km::Message::KSetStop(&key), &mut out).unwrap_or(0);
        assert_eq!(ide_km::Message::parse(&out[..n]), Ok(ide_km::Message::KGostopAck(&key)));
        assert_eq!(r.dev.read_dword(sel_sts), 0);
        r.dev.write_dword(sel_ctl, 0);

        // K_SET_GO for a key never programmed is refused.
        let other = ide_km::StreamKey { key_sub_stream: ide_km::key_sub_stream::SUB_STREAM_CPL, ..key };
        assert_eq!(exchange(ide_km::Message::KSetGo(&other), &mut out), None);
    }

    #[test]
    fn misbehaving_nonce_and_transitions() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        params::set_misbehave(fault::WRONG_NONCE);
        let nonce = r.lock(0);
        assert!(nonce.is_ok());
        assert_eq!(r.start(nonce.unwrap_or([0; 32])), tdisp_error(ErrorCode::InvalidNonce));
        assert_eq!(r.stop(), Some(Response::StopInterface));

        params::set_misbehave(fault::ILLEGAL_TRANSITIONS);
        assert_eq!(r.start([7; 32]), Some(Response::StartInterface));
        assert_eq!(r.state(), Some(TdiState::Run));
        assert_eq!(r.stop(), Some(Response::StopInterface));

        params::set_misbehave(fault::SPURIOUS_ERROR);
        assert!(r.lock(0).is_ok());
        assert_eq!(r.state(), Some(TdiState::Error));
        params::set_misbehave(0);
        assert_eq!(r.stop(), Some(Response::StopInterface));
    }

    #[test]
    fn misbehaving_reports() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        params::set_misbehave(fault::TRUNCATED_REPORT);
        assert!(r.lock(0).is_ok());
        let report = r.report(64);
        assert!(report.is_ok());
        assert!(report.map(|rep| InterfaceReport::parse(&rep).is_err()).unwrap_or(false));
        assert_eq!(r.stop(), Some(Response::StopInterface));

        params::set_misbehave(fault::OVERSIZED_REPORT);
        assert!(r.lock(0).is_ok());
        let range = tdisp::GetDeviceInterfaceReportRequest { offset: U16::new(0), length: U16::new(8) };
        let mut out = [0u8; 600];
        let portion = r.tdisp(tdisp::Request::GetDeviceInterfaceReport(&range), &mut out);
        assert!(matches!(portion, Some(Response::DeviceInterfaceReport { portion, .. }) if portion.len() > 8));
        params::set_misbehave(0);
        assert_eq!(r.stop(), Some(Response::StopInterface));
    }

    #[test]
    fn misbehaving_mailbox_fails_then_recovers() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let mut resp = [0u8; 16];
        for mode in [fault::BUSY_MAILBOX, fault::STUCK_MAILBOX] {
            params::set_misbehave(mode);
            assert!(r.spdm(&[0x10, 0x84, 0x00, 0x00], &mut resp).is_err());
            params::set_misbehave(0);
            assert_eq!(r.spdm(&[0x10, 0x84, 0x00, 0x00], &mut resp).ok(), Some(8));
        }
    }

    /// Raw DOE register access, as a driver without pci_doe would do it.
    struct RawDoe<'a> {
        dev: &'a PciDevRef,
    }

    impl RawDoe<'_> {
        const CTRL: u16 = DOE_OFFSET + 0x08;
        const STATUS: u16 = DOE_OFFSET + 0x0c;
        const WRITE: u16 = DOE_OFFSET + 0x10;
        const READ: u16 = DOE_OFFSET + 0x14;
        const ABORT: u32 = 1;
        const GO: u32 = 1 << 31;
        const BUSY: u32 = 1;
        const ERROR: u32 = 1 << 2;
        const READY: u32 = 1 << 31;

        fn status(&self) -> u32 {
            self.dev.read_dword(Self::STATUS)
        }

        fn abort(&self) {
            self.dev.write_dword(Self::CTRL, Self::ABORT);
        }

        fn write_object(&self, dwords: &[u32]) {
            for d in dwords {
                self.dev.write_dword(Self::WRITE, *d);
            }
            self.dev.write_dword(Self::CTRL, Self::GO);
        }

        /// Polls for READY (the responder runs in a work item).
        fn wait_ready(&self) -> bool {
            for _ in 0..1000 {
                if self.status() & Self::READY != 0 {
                    return true;
                }
                kernel::time::delay::fsleep(kernel::time::Delta::from_micros(1000));
            }
            false
        }
    }

    /// A DOE discovery request for `index` (vendor 1, type 0, 3 dwords).
    fn discovery(index: u32) -> [u32; 3] {
        [0x0000_0001, 3, index]
    }

    #[test]
    fn doe_register_protocol() {
        let r = ready();
        assert!(r.is_some());
        let Some(r) = r else { return };
        let doe = RawDoe { dev: &r.dev };
        assert_eq!(doe.status(), 0);
        // Reading the read mailbox with nothing ready gives zero.
        assert_eq!(r.dev.read_dword(RawDoe::READ), 0);

        // A discovery exchange by hand: index 1 is CMA/SPDM, the last one.
        doe.write_object(&discovery(1));
        assert!(doe.wait_ready());
        let mut answer = [0u32; 3];
        for word in answer.iter_mut() {
            *word = r.dev.read_dword(RawDoe::READ);
            r.dev.write_dword(RawDoe::READ, 0);
        }
        assert_eq!(answer, [0x0000_0001, 3, 0x0001_0001]);
        assert_eq!(doe.status(), 0);

        // GO without a whole object header is an error until ABORT.
        r.dev.write_dword(RawDoe::WRITE, 0x0000_0001);
        r.dev.write_dword(RawDoe::CTRL, RawDoe::GO);
        assert_eq!(doe.status(), RawDoe::ERROR);
        doe.abort();
        assert_eq!(doe.status(), 0);

        // An object longer than the mailbox takes is an error too.
        for _ in 0..crate::mailbox::MAX_DWORDS + 1 {
            r.dev.write_dword(RawDoe::WRITE, 0);
        }
        assert_eq!(doe.status(), RawDoe::ERROR);
        doe.abort();
        assert_eq!(doe.status(), 0);

        // A DOE type the mailbox does not offer (secured SPDM) is an error.
        doe.write_object(&[0x0002_0001, 3, 0]);
        for _ in 0..1000 {
            if doe.status() & RawDoe::BUSY == 0 {
                break;
            }
            kernel::time::delay::fsleep(kernel::time::Delta::from_micros(1000));
        }
        assert_eq!(doe.status(), RawDoe::ERROR);
        doe.abort();

        // While BUSY, writes to the mailbox are dropped; ABORT recovers.
        params::set_misbehave(fault::STUCK_MAILBOX);
        doe.write_object(&discovery(0));
        assert_eq!(doe.status(), RawDoe::BUSY);
        r.dev.write_dword(RawDoe::WRITE, 0xdead_beef);
        doe.abort();
        params::set_misbehave(0);
        doe.write_object(&discovery(0));
        assert!(doe.wait_ready());
        assert_eq!(r.dev.read_dword(RawDoe::READ), 0x0000_0001);
        doe.abort();
        assert_eq!(doe.status(), 0);
        // Upstream pci_doe still works after all that.
        let mut resp = [0u8; 16];
        assert_eq!(r.spdm(&[0x10, 0x84, 0x00, 0x00], &mut resp).ok(), Some(8));
    }
}
