// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the firmware's SPDM requester, talking to a device's DSM over
//! the DOE transport the host lends it for the duration of a call: SPDM
//! connection set-up, and TDISP and IDE_KM carried in PCI-SIG
//! vendor-defined messages.

use kernel::prelude::*;
use zerocopy::byteorder::little_endian::U16;

use crate::doe;
use crate::firmware::Status;
use crate::ide_km;
use crate::spdm;
use crate::tdisp::{self, InterfaceId};
use crate::teeio_bindings::teeio_tsm_doe_fn;

/// Room for any response a DSM gives (a report or certificate portion
/// plus headers).
const RESPONSE_MAX: usize = 2048;
/// Certificate portions asked for at once.
const PORTION: u16 = 512;
/// Report portions asked for at once: small, so that every bind reads a
/// report in several portions and checks each against what it asked.
pub(crate) const REPORT_PORTION: u16 = 32;
/// Largest certificate chain the firmware takes.
const CERT_CHAIN_MAX: usize = 16 * 1024;

/// The host's DOE transport to one device, for one call.
pub(crate) struct Requester {
    doe: teeio_tsm_doe_fn,
    ctx: *mut kernel::ffi::c_void,
    response: KVec<u8>,
}

/// What SPDM connection set-up learned about a device.
pub(crate) struct Evidence {
    /// SHA-384 digest of certificate slot 0, as DIGESTS reported it.
    pub(crate) cert_digest: [u8; 48],
    /// Length of the certificate chain read.
    pub(crate) cert_chain_len: usize,
    /// The measurement record (DMTF blocks) of all measurements.
    pub(crate) measurements: KVec<u8>,
}

fn protocol(e: crate::error::Error) -> Status {
    pr_warn!("EMULATED TSM: malformed DSM response: {}\n", e);
    Status::Io
}

impl Requester {
    /// A requester over `doe`; `None` when the host lent no transport.
    pub(crate) fn new(doe: teeio_tsm_doe_fn, ctx: *mut kernel::ffi::c_void) -> Result<Self, Status> {
        doe.ok_or(Status::InvalidParam)?;
        let response = KVec::from_elem(0u8, RESPONSE_MAX, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        Ok(Self { doe, ctx, response })
    }

    /// One CMA/SPDM exchange; the response stays in `self.response`.
    fn exchange(&mut self, request: &[u8]) -> Result<usize, Status> {
        let doe = self.doe.ok_or(Status::InvalidParam)?;
        // SAFETY: the host's transport, valid for this call with its
        // context; the buffers are valid for their lengths.
        let ret = unsafe {
            doe(
                self.ctx,
                doe::TYPE_CMA_SPDM,
                request.as_ptr().cast(),
                request.len(),
                self.response.as_mut_ptr().cast(),
                self.response.len(),
            )
        };
        if ret < 0 {
            pr_warn!("EMULATED TSM: DOE exchange failed: {:?}\n", Error::from_errno(ret));
            return Err(if ret == -(kernel::bindings::ETIMEDOUT as i32) { Status::Timeout } else { Status::Io });
        }
        Ok(ret as usize)
    }

    /// Sends an SPDM request; calls `f` with the parsed response.
    fn spdm<R>(
        &mut self,
        request: spdm::Request<'_>,
        f: impl FnOnce(spdm::Response<'_>) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let mut req = [0u8; 128];
        let n = request.encode(&mut req).map_err(protocol)?;
        let r = self.exchange(&req[..n])?;
        let (_, response) = doe::parse_padded(&self.response[..r], spdm::Response::parse).map_err(protocol)?;
        if let spdm::Response::Error { code, data } = response {
            pr_warn!("EMULATED TSM: DSM answered SPDM ERROR {:?} ({:#x})\n", code, data);
            return Err(Status::Io);
        }
        f(response)
    }

    /// GET_VERSION .. GET_MEASUREMENTS: the evidence of a device.
    pub(crate) fn connect(&mut self) -> Result<Evidence, Status> {
        let caps = spdm::Capabilities::requester(RESPONSE_MAX as u32);
        let nego = spdm::NegotiateAlgorithms::p384_sha384();
        self.spdm(spdm::Request::GetVersion, |r| match r {
            spdm::Response::Version(v) if v.iter().any(|e| e.get() >> 8 == u16::from(spdm::SPDM_VERSION_1_2)) => Ok(()),
            _ => Err(Status::NotSupported),
        })?;
        self.spdm(spdm::Request::GetCapabilities(&caps), |r| match r {
            spdm::Response::Capabilities(c) if c.flags.get() & spdm::capability_flags::CERT_CAP != 0 => Ok(()),
            _ => Err(Status::NotSupported),
        })?;
        self.spdm(spdm::Request::NegotiateAlgorithms { fixed: &nego, tables: &[] }, |r| match r {
            spdm::Response::Algorithms { fixed, .. }
                if fixed.base_hash_sel.get() == spdm::algorithms::BASE_HASH_SHA_384 =>
            {
                Ok(())
            }
            _ => Err(Status::NotSupported),
        })?;
        let cert_digest = self.spdm(spdm::Request::GetDigests, |r| match r {
            spdm::Response::Digests { slot_mask, digests } if slot_mask & 1 != 0 && digests.len() >= 48 => {
                let mut d = [0u8; 48];
                d.copy_from_slice(&digests[..48]);
                Ok(d)
            }
            _ => Err(Status::Io),
        })?;
        let cert_chain_len = self.certificate_chain_len()?;
        let measurements = self.spdm(
            spdm::Request::GetMeasurements { attributes: 0, operation: spdm::MEASUREMENTS_OP_ALL, signed: None },
            |r| match r {
                spdm::Response::Measurements(m) => {
                    let mut record = KVec::with_capacity(m.record.len(), GFP_KERNEL).map_err(|_| Status::NoMemory)?;
                    record.extend_from_slice(m.record, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
                    Ok(record)
                }
                _ => Err(Status::Io),
            },
        )?;
        Ok(Evidence { cert_digest, cert_chain_len, measurements })
    }

    /// Reads certificate slot 0 portion by portion; returns its length.
    fn certificate_chain_len(&mut self) -> Result<usize, Status> {
        let mut offset = 0usize;
        loop {
            let range = spdm::GetCertificate {
                offset: U16::new(offset as u16),
                length: U16::new(PORTION),
            };
            let (got, remainder) = self.spdm(spdm::Request::GetCertificate { slot: 0, range: &range }, |r| match r {
                spdm::Response::Certificate { slot: 0, portion, remainder_length }
                    if portion.len() <= usize::from(PORTION) =>
                {
                    Ok((portion.len(), remainder_length))
                }
                _ => Err(Status::Io),
            })?;
            offset += got;
            if remainder == 0 {
                return Ok(offset);
            }
            if got == 0 || offset + usize::from(remainder) > CERT_CHAIN_MAX {
                return Err(Status::Io);
            }
        }
    }

    /// One PCI-SIG vendor-defined exchange carrying `message` of
    /// `protocol_id`; calls `f` with the answer's message.
    fn pci_sig<R>(
        &mut self,
        protocol_id: u8,
        message: &[u8],
        f: impl FnOnce(&[u8]) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let mut req = [0u8; 160];
        let code = spdm::RequestCode::VendorDefined as u8;
        let n = spdm::encode_pci_sig(&mut req, code, protocol_id, message).map_err(protocol)?;
        let r = self.exchange(&req[..n])?;
        let (_, response) = doe::parse_padded(&self.response[..r], spdm::Response::parse).map_err(protocol)?;
        match response {
            spdm::Response::VendorDefined(vd) => match vd.pci_sig_protocol() {
                Some((answered, body)) if answered == protocol_id => f(body),
                _ => Err(Status::Io),
            },
            spdm::Response::Error { code, data } => {
                pr_warn!("EMULATED TSM: DSM answered SPDM ERROR {:?} ({:#x})\n", code, data);
                Err(Status::Io)
            }
            _ => Err(Status::Io),
        }
    }

    /// One TDISP exchange for interface `id`; calls `f` with the response.
    pub(crate) fn tdisp<R>(
        &mut self,
        id: InterfaceId,
        request: tdisp::Request<'_>,
        f: impl FnOnce(tdisp::Response<'_>) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let mut msg = [0u8; 96];
        let n = request.encode(id, &mut msg).map_err(protocol)?;
        self.pci_sig(spdm::PROTOCOL_ID_TDISP, &msg[..n], |body| {
            let (header, response) = tdisp::Response::parse(body).map_err(protocol)?;
            if header.interface_id != id {
                pr_warn!("EMULATED TSM: TDISP response for another interface\n");
                return Err(Status::Io);
            }
            f(response)
        })
    }

    /// One IDE_KM exchange; calls `f` with the answer.
    pub(crate) fn ide_km<R>(
        &mut self,
        message: ide_km::Message<'_>,
        f: impl FnOnce(ide_km::Message<'_>) -> Result<R, Status>,
    ) -> Result<R, Status> {
        let mut msg = [0u8; 64];
        let n = message.encode(&mut msg).map_err(protocol)?;
        self.pci_sig(spdm::PROTOCOL_ID_IDE_KM, &msg[..n], |body| f(ide_km::Message::parse(body).map_err(protocol)?))
    }
}
