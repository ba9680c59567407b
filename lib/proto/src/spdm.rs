// SPDX-License-Identifier: GPL-2.0

//! SPDM 1.2 messages (DMTF DSP0274) that teeio's emulated device and TSM
//! exchange: version, capabilities and algorithm negotiation, digests,
//! certificates, measurements, vendor-defined messages (which carry TDISP and
//! IDE_KM under the PCI-SIG registry) and errors.
//!
//! Session establishment (KEY_EXCHANGE, FINISH) and signatures are not
//! modelled: see Documentation/emulated-device.rst.

use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::FromBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;
use crate::wire::{end, exact, take, take_bytes, wire_codes, Writer};

/// SPDM 1.2, the version teeio negotiates.
pub const SPDM_VERSION_1_2: u8 = 0x12;

/// Size of GET_MEASUREMENTS and MEASUREMENTS nonces.
pub const NONCE_LEN: usize = 32;

/// The registry id of PCI-SIG in VENDOR_DEFINED messages.
pub const REGISTRY_ID_PCI_SIG: u16 = 3;
/// PCI-SIG's vendor id in VENDOR_DEFINED messages.
pub const VENDOR_ID_PCI_SIG: u16 = 0x0001;
/// PCI-SIG protocol id of IDE_KM.
pub const PROTOCOL_ID_IDE_KM: u8 = 0x00;
/// PCI-SIG protocol id of TDISP.
pub const PROTOCOL_ID_TDISP: u8 = 0x01;

wire_codes! {
    /// SPDM request codes teeio handles (DSP0274 table 4).
    pub enum RequestCode: u8 {
        /// GET_DIGESTS.
        GetDigests = 0x81,
        /// GET_CERTIFICATE.
        GetCertificate = 0x82,
        /// GET_VERSION.
        GetVersion = 0x84,
        /// GET_MEASUREMENTS.
        GetMeasurements = 0xe0,
        /// GET_CAPABILITIES.
        GetCapabilities = 0xe1,
        /// NEGOTIATE_ALGORITHMS.
        NegotiateAlgorithms = 0xe3,
        /// VENDOR_DEFINED_REQUEST.
        VendorDefined = 0xfe,
    }
}

wire_codes! {
    /// SPDM response codes teeio handles (DSP0274 table 5).
    pub enum ResponseCode: u8 {
        /// DIGESTS.
        Digests = 0x01,
        /// CERTIFICATE.
        Certificate = 0x02,
        /// VERSION.
        Version = 0x04,
        /// MEASUREMENTS.
        Measurements = 0x60,
        /// CAPABILITIES.
        Capabilities = 0x61,
        /// ALGORITHMS.
        Algorithms = 0x63,
        /// VENDOR_DEFINED_RESPONSE.
        VendorDefined = 0x7e,
        /// ERROR.
        Error = 0x7f,
    }
}

wire_codes! {
    /// ERROR codes (DSP0274 table 48).
    pub enum ErrorCode: u8 {
        /// One or more request fields are invalid.
        InvalidRequest = 0x01,
        /// Busy; retry.
        Busy = 0x03,
        /// The request is not expected in this state.
        UnexpectedRequest = 0x04,
        /// Unspecified.
        Unspecified = 0x05,
        /// The request is not supported.
        UnsupportedRequest = 0x07,
        /// The version is not supported.
        VersionMismatch = 0x41,
        /// Vendor-defined.
        VendorDefined = 0xff,
    }
}

/// Capability flags of CAPABILITIES (DSP0274 table 11), the ones teeio uses.
pub mod capability_flags {
    /// Certificates can be read.
    pub const CERT_CAP: u32 = 1 << 1;
    /// Measurements without signature.
    pub const MEAS_CAP_NO_SIG: u32 = 1 << 3;
    /// Fresh measurements on every request.
    pub const MEAS_FRESH_CAP: u32 = 1 << 5;
}

/// Algorithm bits teeio selects.
pub mod algorithms {
    /// DMTF measurement specification.
    pub const MEASUREMENT_SPEC_DMTF: u8 = 0x01;
    /// TPM_ALG_SHA_384 as base hash.
    pub const BASE_HASH_SHA_384: u32 = 0x02;
    /// TPM_ALG_SHA_384 as measurement hash.
    pub const MEASUREMENT_HASH_SHA_384: u32 = 0x04;
    /// TPM_ALG_ECDSA_ECC_NIST_P384 as base asymmetric algorithm.
    pub const BASE_ASYM_ECDSA_P384: u32 = 0x80;
}

/// GET_MEASUREMENTS attribute: sign the response.
pub const MEASUREMENTS_GENERATE_SIGNATURE: u8 = 0x01;
/// GET_MEASUREMENTS operation: number of measurements only.
pub const MEASUREMENTS_OP_COUNT: u8 = 0x00;
/// GET_MEASUREMENTS operation: every measurement.
pub const MEASUREMENTS_OP_ALL: u8 = 0xff;

/// DMTF measurement value types (DSP0274 table 53), the ones teeio reports.
pub mod measurement_type {
    /// Mutable firmware.
    pub const MUTABLE_FIRMWARE: u8 = 1;
    /// Hardware configuration.
    pub const HARDWARE_CONFIGURATION: u8 = 2;
    /// Set in the type byte when the value is a raw bit stream, not a digest.
    pub const RAW_BIT_STREAM: u8 = 0x80;
}

/// The header of every SPDM message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SpdmHeader {
    /// `major << 4 | minor`.
    pub version: u8,
    /// Request or response code.
    pub code: u8,
    /// Message-specific.
    pub param1: u8,
    /// Message-specific.
    pub param2: u8,
}

impl SpdmHeader {
    /// A header with version 1.2.
    pub fn new(code: u8, param1: u8, param2: u8) -> Self {
        Self { version: SPDM_VERSION_1_2, code, param1, param2 }
    }
}

/// VERSION payload start; `count` version entries (u16) follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VersionHeader {
    /// Reserved.
    pub reserved: u8,
    /// Number of entries.
    pub count: u8,
}

/// GET_CAPABILITIES and CAPABILITIES payload (1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Capabilities {
    /// Reserved.
    pub reserved: u8,
    /// Cryptographic timeout exponent.
    pub ct_exponent: u8,
    /// Reserved.
    pub reserved2: U16,
    /// [`capability_flags`].
    pub flags: U32,
    /// Largest message the transport carries whole.
    pub data_transfer_size: U32,
    /// Largest SPDM message.
    pub max_spdm_msg_size: U32,
}

impl Capabilities {
    /// GET_CAPABILITIES of a requester without capabilities of its own,
    /// taking messages of up to `size` bytes.
    pub fn requester(size: u32) -> Self {
        Self {
            reserved: 0,
            ct_exponent: 0,
            reserved2: U16::new(0),
            flags: U32::new(0),
            data_transfer_size: U32::new(size),
            max_spdm_msg_size: U32::new(size),
        }
    }
}

/// NEGOTIATE_ALGORITHMS fixed payload; extended algorithms and struct
/// tables (count in param1) follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NegotiateAlgorithms {
    /// Length of the whole message.
    pub length: U16,
    /// Measurement specifications supported.
    pub measurement_specification: u8,
    /// Opaque data formats supported.
    pub other_params_support: u8,
    /// Asymmetric algorithms supported.
    pub base_asym_algo: U32,
    /// Hash algorithms supported.
    pub base_hash_algo: U32,
    /// Reserved.
    pub reserved: [u8; 12],
    /// Extended asymmetric algorithms that follow.
    pub ext_asym_count: u8,
    /// Extended hash algorithms that follow.
    pub ext_hash_count: u8,
    /// Reserved.
    pub reserved2: [u8; 2],
}

impl NegotiateAlgorithms {
    /// NEGOTIATE_ALGORITHMS offering ECDSA P-384, SHA-384 and DMTF
    /// measurements, without struct tables.
    pub fn p384_sha384() -> Self {
        Self {
            length: U16::new(0),
            measurement_specification: algorithms::MEASUREMENT_SPEC_DMTF,
            other_params_support: 0,
            base_asym_algo: U32::new(algorithms::BASE_ASYM_ECDSA_P384),
            base_hash_algo: U32::new(algorithms::BASE_HASH_SHA_384),
            reserved: [0; 12],
            ext_asym_count: 0,
            ext_hash_count: 0,
            reserved2: [0; 2],
        }
    }
}

/// ALGORITHMS fixed payload; selected extended algorithms and struct tables
/// follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Algorithms {
    /// Length of the whole message.
    pub length: U16,
    /// The measurement specification selected.
    pub measurement_specification_sel: u8,
    /// The opaque data format selected.
    pub other_params_selection: u8,
    /// The measurement hash selected.
    pub measurement_hash_algo: U32,
    /// The asymmetric algorithm selected.
    pub base_asym_sel: U32,
    /// The hash selected.
    pub base_hash_sel: U32,
    /// Reserved.
    pub reserved: [u8; 12],
    /// Extended asymmetric algorithms that follow.
    pub ext_asym_sel_count: u8,
    /// Extended hash algorithms that follow.
    pub ext_hash_sel_count: u8,
    /// Reserved.
    pub reserved2: [u8; 2],
}

/// One algorithm struct table with a two-byte bitmap (DHE, AEAD, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct AlgStruct {
    /// Which algorithm class.
    pub alg_type: u8,
    /// [7:4] fixed bytes (2), [3:0] extended count.
    pub alg_count: u8,
    /// The bitmap.
    pub alg_supported: U16,
}

/// GET_CERTIFICATE payload (slot in param1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GetCertificate {
    /// Offset into the chain.
    pub offset: U16,
    /// Bytes wanted.
    pub length: U16,
}

/// CERTIFICATE payload start; `portion_length` bytes of the chain follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CertificatePortion {
    /// Bytes of the chain here.
    pub portion_length: U16,
    /// Bytes of the chain after them.
    pub remainder_length: U16,
}

/// The part of GET_MEASUREMENTS present when a signature is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MeasurementsSignedRequest {
    /// The requester's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// [3:0] certificate slot.
    pub slot_id_param: u8,
}

/// MEASUREMENTS payload start; the measurement record, a nonce, opaque
/// data and (when requested) a signature follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MeasurementsHeader {
    /// Blocks in the record.
    pub number_of_blocks: u8,
    /// Record length, 24-bit little-endian.
    pub record_length: [u8; 3],
}

/// One measurement block's header; `size` bytes follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MeasurementBlockHeader {
    /// The measurement index (1-based).
    pub index: u8,
    /// [`algorithms::MEASUREMENT_SPEC_DMTF`].
    pub specification: u8,
    /// Bytes of the measurement.
    pub size: U16,
}

/// A DMTF measurement's header; `value_size` bytes of value follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DmtfMeasurementHeader {
    /// [`measurement_type`].
    pub value_type: u8,
    /// Bytes of value.
    pub value_size: U16,
}

/// A VENDOR_DEFINED message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VendorDefined<'a> {
    /// The standards body (registry id).
    pub standard_id: u16,
    /// The vendor id within it.
    pub vendor_id: &'a [u8],
    /// The vendor payload.
    pub payload: &'a [u8],
}

impl<'a> VendorDefined<'a> {
    fn parse(p: &'a [u8]) -> Result<Self, Error> {
        let (standard_id, p) = take::<U16>(p)?;
        let (&len, p) = p.split_first().ok_or(Error::Truncated { needed: 1, got: 0 })?;
        let (vendor_id, p) = take_bytes(p, len as usize)?;
        let (payload_len, p) = take::<U16>(p)?;
        let (payload, rest) = take_bytes(p, payload_len.get() as usize)?;
        end(rest, payload.len())?;
        Ok(Self { standard_id: standard_id.get(), vendor_id, payload })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let len = u8::try_from(self.vendor_id.len()).map_err(|_| Error::InvalidField)?;
        let payload_len = u16::try_from(self.payload.len()).map_err(|_| Error::InvalidField)?;
        w.put(&U16::new(self.standard_id))?.put_bytes(&[len])?.put_bytes(self.vendor_id)?;
        w.put(&U16::new(payload_len))?.put_bytes(self.payload)?;
        Ok(())
    }

    /// The PCI-SIG protocol id and its message, when this is a PCI-SIG message.
    pub fn pci_sig_protocol(&self) -> Option<(u8, &'a [u8])> {
        if self.standard_id != REGISTRY_ID_PCI_SIG || self.vendor_id != VENDOR_ID_PCI_SIG.to_le_bytes() {
            return None;
        }
        self.payload.split_first().map(|(id, msg)| (*id, msg))
    }
}

/// Writes a PCI-SIG VENDOR_DEFINED request or response carrying `message`
/// of `protocol_id` (TDISP or IDE_KM) into `buf`; returns the length.
pub fn encode_pci_sig(buf: &mut [u8], code: u8, protocol_id: u8, message: &[u8]) -> Result<usize, Error> {
    let payload_len = u16::try_from(message.len() + 1).map_err(|_| Error::InvalidField)?;
    let mut w = Writer::new(buf);
    w.put(&SpdmHeader::new(code, 0, 0))?;
    w.put(&U16::new(REGISTRY_ID_PCI_SIG))?.put_bytes(&[2])?;
    w.put(&U16::new(VENDOR_ID_PCI_SIG))?.put(&U16::new(payload_len))?;
    w.put_bytes(&[protocol_id])?.put_bytes(message)?;
    Ok(w.len())
}

/// An SPDM request, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// GET_VERSION (always sent as version 1.0).
    GetVersion,
    /// GET_CAPABILITIES.
    GetCapabilities(&'a Capabilities),
    /// NEGOTIATE_ALGORITHMS.
    NegotiateAlgorithms {
        /// The fixed part.
        fixed: &'a NegotiateAlgorithms,
        /// The struct tables.
        tables: &'a [AlgStruct],
    },
    /// GET_DIGESTS.
    GetDigests,
    /// GET_CERTIFICATE.
    GetCertificate {
        /// The certificate slot.
        slot: u8,
        /// Which part of the chain.
        range: &'a GetCertificate,
    },
    /// GET_MEASUREMENTS.
    GetMeasurements {
        /// Attributes (param1).
        attributes: u8,
        /// Operation (param2): count, one index, or all.
        operation: u8,
        /// Nonce and slot, when a signature is requested.
        signed: Option<&'a MeasurementsSignedRequest>,
    },
    /// VENDOR_DEFINED_REQUEST.
    VendorDefined(VendorDefined<'a>),
}

impl<'a> Request<'a> {
    /// Parses a whole request. GET_VERSION must be version 1.0; every other
    /// request must be version 1.2.
    pub fn parse(msg: &'a [u8]) -> Result<(&'a SpdmHeader, Self), Error> {
        let (header, p) = take::<SpdmHeader>(msg)?;
        let code = RequestCode::try_from(header.code).map_err(|c| {
            if ResponseCode::try_from(c).is_ok() {
                Error::UnexpectedCode(c)
            } else {
                Error::UnknownCode(c)
            }
        })?;
        let wanted = if code == RequestCode::GetVersion { 0x10 } else { SPDM_VERSION_1_2 };
        if header.version != wanted {
            return Err(Error::UnsupportedVersion(header.version));
        }
        let request = match code {
            RequestCode::GetVersion => end(p, 0).map(|()| Request::GetVersion)?,
            RequestCode::GetCapabilities => Request::GetCapabilities(exact(p)?),
            RequestCode::NegotiateAlgorithms => {
                let (fixed, rest) = take::<NegotiateAlgorithms>(p)?;
                if fixed.length.get() as usize != msg.len() {
                    return Err(Error::InconsistentLength);
                }
                let ext = (fixed.ext_asym_count as usize + fixed.ext_hash_count as usize) * 4;
                let (_, rest) = take_bytes(rest, ext)?;
                let tables = <[AlgStruct]>::ref_from_bytes(rest).map_err(|_| Error::InconsistentLength)?;
                if tables.len() != header.param1 as usize {
                    return Err(Error::InconsistentLength);
                }
                Request::NegotiateAlgorithms { fixed, tables }
            }
            RequestCode::GetDigests => end(p, 0).map(|()| Request::GetDigests)?,
            RequestCode::GetCertificate => Request::GetCertificate { slot: header.param1 & 0xf, range: exact(p)? },
            RequestCode::GetMeasurements => {
                let signed = if header.param1 & MEASUREMENTS_GENERATE_SIGNATURE != 0 {
                    Some(exact::<MeasurementsSignedRequest>(p)?)
                } else {
                    end(p, 0)?;
                    None
                };
                Request::GetMeasurements { attributes: header.param1, operation: header.param2, signed }
            }
            RequestCode::VendorDefined => Request::VendorDefined(VendorDefined::parse(p)?),
        };
        Ok((header, request))
    }

    /// Writes the whole request into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        match *self {
            Request::GetVersion => {
                w.put(&SpdmHeader { version: 0x10, ..SpdmHeader::new(RequestCode::GetVersion as u8, 0, 0) })?;
            }
            Request::GetCapabilities(caps) => {
                w.put(&SpdmHeader::new(RequestCode::GetCapabilities as u8, 0, 0))?.put(caps)?;
            }
            Request::NegotiateAlgorithms { fixed, tables } => {
                let count = u8::try_from(tables.len()).map_err(|_| Error::InvalidField)?;
                if fixed.ext_asym_count != 0 || fixed.ext_hash_count != 0 {
                    return Err(Error::InvalidField);
                }
                let mut fixed = *fixed;
                let length = 4 + core::mem::size_of::<NegotiateAlgorithms>() + core::mem::size_of_val(tables);
                fixed.length = U16::new(u16::try_from(length).map_err(|_| Error::InvalidField)?);
                w.put(&SpdmHeader::new(RequestCode::NegotiateAlgorithms as u8, count, 0))?;
                w.put(&fixed)?.put(tables)?;
            }
            Request::GetDigests => {
                w.put(&SpdmHeader::new(RequestCode::GetDigests as u8, 0, 0))?;
            }
            Request::GetCertificate { slot, range } => {
                w.put(&SpdmHeader::new(RequestCode::GetCertificate as u8, slot, 0))?.put(range)?;
            }
            Request::GetMeasurements { attributes, operation, signed } => {
                w.put(&SpdmHeader::new(RequestCode::GetMeasurements as u8, attributes, operation))?;
                match (attributes & MEASUREMENTS_GENERATE_SIGNATURE != 0, signed) {
                    (true, Some(signed)) => {
                        w.put(signed)?;
                    }
                    (false, None) => {}
                    _ => return Err(Error::InvalidField),
                }
            }
            Request::VendorDefined(vd) => {
                w.put(&SpdmHeader::new(RequestCode::VendorDefined as u8, 0, 0))?;
                vd.encode(&mut w)?;
            }
        }
        Ok(w.len())
    }
}

/// An SPDM response, parsed. Responses whose bodies depend on negotiated
/// sizes (DIGESTS, MEASUREMENTS) keep their payload raw here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// VERSION: the entries, `major.minor.update.alpha` as u16.
    Version(&'a [U16]),
    /// CAPABILITIES.
    Capabilities(&'a Capabilities),
    /// ALGORITHMS.
    Algorithms {
        /// The fixed part.
        fixed: &'a Algorithms,
        /// The struct tables.
        tables: &'a [AlgStruct],
    },
    /// DIGESTS: slot mask (param2) and the digests.
    Digests {
        /// Provisioned slots.
        slot_mask: u8,
        /// One digest per slot in the mask.
        digests: &'a [u8],
    },
    /// CERTIFICATE.
    Certificate {
        /// The slot.
        slot: u8,
        /// This portion of the chain.
        portion: &'a [u8],
        /// Bytes after it.
        remainder_length: u16,
    },
    /// MEASUREMENTS; see [`Measurements::parse`].
    Measurements(Measurements<'a>),
    /// VENDOR_DEFINED_RESPONSE.
    VendorDefined(VendorDefined<'a>),
    /// ERROR.
    Error {
        /// The code; unknown ones are kept raw.
        code: Result<ErrorCode, u8>,
        /// Error data (param2).
        data: u8,
    },
}

/// A MEASUREMENTS response without signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurements<'a> {
    /// Total measurements (param1) when the operation asked for the count.
    pub total: u8,
    /// Blocks in `record`.
    pub number_of_blocks: u8,
    /// The measurement blocks.
    pub record: &'a [u8],
    /// The responder's nonce.
    pub nonce: &'a [u8; NONCE_LEN],
    /// Opaque data.
    pub opaque: &'a [u8],
}

impl<'a> Measurements<'a> {
    fn parse(total: u8, p: &'a [u8]) -> Result<Self, Error> {
        let (h, p) = take::<MeasurementsHeader>(p)?;
        let len = u32::from_le_bytes([h.record_length[0], h.record_length[1], h.record_length[2], 0]);
        let (record, p) = take_bytes(p, len as usize)?;
        let (nonce, p) = take::<[u8; NONCE_LEN]>(p)?;
        let (opaque_len, p) = take::<U16>(p)?;
        let (opaque, rest) = take_bytes(p, opaque_len.get() as usize)?;
        end(rest, 0)?;
        let this = Self { total, number_of_blocks: h.number_of_blocks, record, nonce, opaque };
        if this.blocks().try_fold(0usize, |n, b| b.map(|_| n + 1))? != h.number_of_blocks as usize {
            return Err(Error::InconsistentLength);
        }
        Ok(this)
    }

    /// The measurement blocks of the record.
    pub fn blocks(&self) -> MeasurementBlocks<'a> {
        MeasurementBlocks { rest: self.record }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let len = u32::try_from(self.record.len()).ok().filter(|l| *l < 1 << 24).ok_or(Error::InvalidField)?;
        let l = len.to_le_bytes();
        w.put(&MeasurementsHeader { number_of_blocks: self.number_of_blocks, record_length: [l[0], l[1], l[2]] })?;
        w.put_bytes(self.record)?.put_bytes(self.nonce)?;
        let opaque_len = u16::try_from(self.opaque.len()).map_err(|_| Error::InvalidField)?;
        w.put(&U16::new(opaque_len))?.put_bytes(self.opaque)?;
        Ok(())
    }
}

/// One DMTF measurement block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasurementBlock<'a> {
    /// Its index.
    pub index: u8,
    /// [`measurement_type`] byte.
    pub value_type: u8,
    /// The digest or raw value.
    pub value: &'a [u8],
}

impl MeasurementBlock<'_> {
    /// Appends the block to `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let value_size = u16::try_from(self.value.len()).map_err(|_| Error::InvalidField)?;
        let size = value_size.checked_add(3).ok_or(Error::InvalidField)?;
        w.put(&MeasurementBlockHeader {
            index: self.index,
            specification: algorithms::MEASUREMENT_SPEC_DMTF,
            size: U16::new(size),
        })?;
        w.put(&DmtfMeasurementHeader { value_type: self.value_type, value_size: U16::new(value_size) })?;
        w.put_bytes(self.value)?;
        Ok(())
    }
}

/// Iterates the blocks of a measurement record; yields an error and stops
/// at the first malformed block.
pub struct MeasurementBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> MeasurementBlocks<'a> {
    /// The blocks of a measurement record on its own (as a TSM keeps it).
    pub fn of_record(record: &'a [u8]) -> Self {
        Self { rest: record }
    }
}

impl<'a> Iterator for MeasurementBlocks<'a> {
    type Item = Result<MeasurementBlock<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let (h, p) = take::<MeasurementBlockHeader>(self.rest)?;
            if h.specification != algorithms::MEASUREMENT_SPEC_DMTF {
                return Err(Error::InvalidField);
            }
            let (block, rest) = take_bytes(p, h.size.get() as usize)?;
            let (d, value) = take::<DmtfMeasurementHeader>(block)?;
            if d.value_size.get() as usize != value.len() {
                return Err(Error::InconsistentLength);
            }
            Ok((MeasurementBlock { index: h.index, value_type: d.value_type, value }, rest))
        })();
        match parsed {
            Ok((block, rest)) => {
                self.rest = rest;
                Some(Ok(block))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl<'a> Response<'a> {
    /// Parses a whole response of version 1.2 (VERSION: 1.0).
    pub fn parse(msg: &'a [u8]) -> Result<(&'a SpdmHeader, Self), Error> {
        let (header, p) = take::<SpdmHeader>(msg)?;
        let code = ResponseCode::try_from(header.code).map_err(|c| {
            if RequestCode::try_from(c).is_ok() {
                Error::UnexpectedCode(c)
            } else {
                Error::UnknownCode(c)
            }
        })?;
        let wanted = if code == ResponseCode::Version { 0x10 } else { SPDM_VERSION_1_2 };
        if header.version != wanted {
            return Err(Error::UnsupportedVersion(header.version));
        }
        let response = match code {
            ResponseCode::Version => {
                let (h, entries) = take::<VersionHeader>(p)?;
                let entries = <[U16]>::ref_from_bytes(entries).map_err(|_| Error::InconsistentLength)?;
                if entries.len() != h.count as usize {
                    return Err(Error::InconsistentLength);
                }
                Response::Version(entries)
            }
            ResponseCode::Capabilities => Response::Capabilities(exact(p)?),
            ResponseCode::Algorithms => {
                let (fixed, rest) = take::<Algorithms>(p)?;
                if fixed.length.get() as usize != msg.len() {
                    return Err(Error::InconsistentLength);
                }
                let ext = (fixed.ext_asym_sel_count as usize + fixed.ext_hash_sel_count as usize) * 4;
                let (_, rest) = take_bytes(rest, ext)?;
                let tables = <[AlgStruct]>::ref_from_bytes(rest).map_err(|_| Error::InconsistentLength)?;
                if tables.len() != header.param1 as usize {
                    return Err(Error::InconsistentLength);
                }
                Response::Algorithms { fixed, tables }
            }
            ResponseCode::Digests => Response::Digests { slot_mask: header.param2, digests: p },
            ResponseCode::Certificate => {
                let (c, portion) = take::<CertificatePortion>(p)?;
                if portion.len() != c.portion_length.get() as usize {
                    return Err(Error::InconsistentLength);
                }
                Response::Certificate { slot: header.param1 & 0xf, portion, remainder_length: c.remainder_length.get() }
            }
            ResponseCode::Measurements => Response::Measurements(Measurements::parse(header.param1, p)?),
            ResponseCode::VendorDefined => Response::VendorDefined(VendorDefined::parse(p)?),
            ResponseCode::Error => {
                // Extended error data may follow; teeio does not use it.
                Response::Error { code: ErrorCode::try_from(header.param1), data: header.param2 }
            }
        };
        Ok((header, response))
    }

    /// Writes the whole response into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        match *self {
            Response::Version(entries) => {
                let count = u8::try_from(entries.len()).map_err(|_| Error::InvalidField)?;
                w.put(&SpdmHeader { version: 0x10, ..SpdmHeader::new(ResponseCode::Version as u8, 0, 0) })?;
                w.put(&VersionHeader { reserved: 0, count })?.put(entries)?;
            }
            Response::Capabilities(caps) => {
                w.put(&SpdmHeader::new(ResponseCode::Capabilities as u8, 0, 0))?.put(caps)?;
            }
            Response::Algorithms { fixed, tables } => {
                let count = u8::try_from(tables.len()).map_err(|_| Error::InvalidField)?;
                if fixed.ext_asym_sel_count != 0 || fixed.ext_hash_sel_count != 0 {
                    return Err(Error::InvalidField);
                }
                let mut fixed = *fixed;
                let length = 4 + core::mem::size_of::<Algorithms>() + core::mem::size_of_val(tables);
                fixed.length = U16::new(u16::try_from(length).map_err(|_| Error::InvalidField)?);
                w.put(&SpdmHeader::new(ResponseCode::Algorithms as u8, count, 0))?.put(&fixed)?.put(tables)?;
            }
            Response::Digests { slot_mask, digests } => {
                w.put(&SpdmHeader::new(ResponseCode::Digests as u8, 0, slot_mask))?.put_bytes(digests)?;
            }
            Response::Certificate { slot, portion, remainder_length } => {
                let portion_length = u16::try_from(portion.len()).map_err(|_| Error::InvalidField)?;
                w.put(&SpdmHeader::new(ResponseCode::Certificate as u8, slot, 0))?;
                w.put(&CertificatePortion {
                    portion_length: U16::new(portion_length),
                    remainder_length: U16::new(remainder_length),
                })?;
                w.put_bytes(portion)?;
            }
            Response::Measurements(m) => {
                w.put(&SpdmHeader::new(ResponseCode::Measurements as u8, m.total, 0))?;
                m.encode(&mut w)?;
            }
            Response::VendorDefined(vd) => {
                w.put(&SpdmHeader::new(ResponseCode::VendorDefined as u8, 0, 0))?;
                vd.encode(&mut w)?;
            }
            Response::Error { code, data } => {
                let raw = match code {
                    Ok(code) => code as u8,
                    Err(raw) => raw,
                };
                w.put(&SpdmHeader::new(ResponseCode::Error as u8, raw, data))?;
            }
        }
        Ok(w.len())
    }
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_spdm))]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts_match_dsp0274() {
        assert_eq!(size_of::<SpdmHeader>(), 4);
        assert_eq!(size_of::<Capabilities>(), 16);
        assert_eq!(size_of::<NegotiateAlgorithms>(), 28);
        assert_eq!(size_of::<Algorithms>(), 32);
        assert_eq!(size_of::<MeasurementsSignedRequest>(), 33);
        assert_eq!(size_of::<MeasurementBlockHeader>(), 4);
        assert_eq!(size_of::<DmtfMeasurementHeader>(), 3);
    }

    #[test]
    fn version_exchange_vectors() {
        // GET_VERSION is always version 1.0; VERSION lists 1.2 as 0x1200
        // (DSP0274 tables 8-10; libspdm spdm_version_response_t).
        const GET_VERSION: [u8; 4] = [0x10, 0x84, 0x00, 0x00];
        const VERSION_1_2: [u8; 8] = [0x10, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12];
        let mut buf = [0u8; 16];
        assert_eq!(Request::GetVersion.encode(&mut buf), Ok(4));
        assert_eq!(&buf[..4], &GET_VERSION[..]);
        assert_eq!(Request::parse(&GET_VERSION).map(|(_, r)| r), Ok(Request::GetVersion));
        let entries = [U16::new(0x1200)];
        assert_eq!(Response::Version(&entries).encode(&mut buf), Ok(8));
        assert_eq!(&buf[..8], &VERSION_1_2[..]);
        assert_eq!(Response::parse(&VERSION_1_2).map(|(_, r)| r), Ok(Response::Version(&entries)));
        // Any later request must be 1.2.
        assert_eq!(Request::parse(&[0x11, 0x81, 0, 0]).map(|_| ()), Err(Error::UnsupportedVersion(0x11)));
        assert_eq!(Request::parse(&[0x12, 0x84, 0, 0]).map(|_| ()), Err(Error::UnsupportedVersion(0x12)));
    }

    #[test]
    fn pci_sig_vendor_defined_vector() {
        // VENDOR_DEFINED_REQUEST carrying a TDISP GET_VERSION: registry 3
        // (PCI-SIG), vendor id length 2, vendor 0x0001, payload length 17,
        // protocol id 1 (libspdm pci_doe_spdm_vendor_defined_header_t).
        const HEAD: [u8; 12] = [0x12, 0xfe, 0x00, 0x00, 0x03, 0x00, 0x02, 0x01, 0x00, 0x11, 0x00, 0x01];
        let tdisp = [0x10, 0x81, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut buf = [0u8; 64];
        let len = encode_pci_sig(&mut buf, RequestCode::VendorDefined as u8, PROTOCOL_ID_TDISP, &tdisp);
        assert_eq!(len, Ok(28));
        assert_eq!(&buf[..12], &HEAD[..]);
        let parsed = Request::parse(&buf[..28]);
        assert!(parsed.is_ok());
        if let Ok((_, Request::VendorDefined(vd))) = parsed {
            assert_eq!(vd.pci_sig_protocol(), Some((PROTOCOL_ID_TDISP, &tdisp[..])));
        }
        // Payload length past the end, or bytes after it.
        assert!(Request::parse(&buf[..27]).is_err());
        assert!(Request::parse(&buf[..29]).is_err());
        // Another registry is not PCI-SIG.
        let other = VendorDefined { standard_id: 4, vendor_id: &[1, 0], payload: &[1] };
        assert_eq!(other.pci_sig_protocol(), None);
    }

    #[test]
    fn negotiation_round_trips() {
        let caps = Capabilities {
            reserved: 0,
            ct_exponent: 12,
            reserved2: U16::new(0),
            flags: U32::new(capability_flags::CERT_CAP | capability_flags::MEAS_CAP_NO_SIG),
            data_transfer_size: U32::new(4096),
            max_spdm_msg_size: U32::new(4096),
        };
        let mut buf = [0u8; 96];
        let len = Request::GetCapabilities(&caps).encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 20);
        assert_eq!(Request::parse(&buf[..len]).map(|(_, r)| r), Ok(Request::GetCapabilities(&caps)));
        let len = Response::Capabilities(&caps).encode(&mut buf).unwrap_or(0);
        assert_eq!(Response::parse(&buf[..len]).map(|(_, r)| r), Ok(Response::Capabilities(&caps)));

        let tables = [AlgStruct { alg_type: 2, alg_count: 0x20, alg_supported: U16::new(0x10) }];
        let nego = NegotiateAlgorithms {
            length: U16::new(0),
            measurement_specification: algorithms::MEASUREMENT_SPEC_DMTF,
            other_params_support: 0,
            base_asym_algo: U32::new(algorithms::BASE_ASYM_ECDSA_P384),
            base_hash_algo: U32::new(algorithms::BASE_HASH_SHA_384),
            reserved: [0; 12],
            ext_asym_count: 0,
            ext_hash_count: 0,
            reserved2: [0; 2],
        };
        let len = Request::NegotiateAlgorithms { fixed: &nego, tables: &tables }.encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 36);
        assert_eq!(u16::from_le_bytes([buf[4], buf[5]]), 36);
        let parsed = Request::parse(&buf[..len]);
        assert!(matches!(parsed, Ok((h, Request::NegotiateAlgorithms { tables: t, .. })) if h.param1 == 1 && t == &tables[..]));
        buf[4] = 35; // length field off by one
        assert_eq!(Request::parse(&buf[..len]).map(|_| ()), Err(Error::InconsistentLength));

        let algs = Algorithms {
            length: U16::new(0),
            measurement_specification_sel: algorithms::MEASUREMENT_SPEC_DMTF,
            other_params_selection: 0,
            measurement_hash_algo: U32::new(algorithms::MEASUREMENT_HASH_SHA_384),
            base_asym_sel: U32::new(algorithms::BASE_ASYM_ECDSA_P384),
            base_hash_sel: U32::new(algorithms::BASE_HASH_SHA_384),
            reserved: [0; 12],
            ext_asym_sel_count: 0,
            ext_hash_sel_count: 0,
            reserved2: [0; 2],
        };
        let len = Response::Algorithms { fixed: &algs, tables: &[] }.encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 36);
        assert!(matches!(Response::parse(&buf[..len]), Ok((_, Response::Algorithms { tables: &[], .. }))));
    }

    #[test]
    fn certificate_and_digests_round_trip() {
        let range = GetCertificate { offset: U16::new(0), length: U16::new(0x400) };
        let mut buf = [0u8; 64];
        let len = Request::GetCertificate { slot: 0, range: &range }.encode(&mut buf).unwrap_or(0);
        assert_eq!(Request::parse(&buf[..len]).map(|(_, r)| r), Ok(Request::GetCertificate { slot: 0, range: &range }));
        let cert = Response::Certificate { slot: 0, portion: &[0x30, 0x82], remainder_length: 100 };
        let len = cert.encode(&mut buf).unwrap_or(0);
        assert_eq!(Response::parse(&buf[..len]).map(|(_, r)| r), Ok(cert));
        assert_eq!(Response::parse(&buf[..len - 1]).map(|_| ()), Err(Error::InconsistentLength));
        let digests = Response::Digests { slot_mask: 1, digests: &[0xab; 48] };
        let len = digests.encode(&mut buf).unwrap_or(0);
        assert_eq!(Response::parse(&buf[..len]).map(|(_, r)| r), Ok(digests));
        let len = Request::GetDigests.encode(&mut buf).unwrap_or(0);
        assert_eq!(Request::parse(&buf[..len]).map(|(_, r)| r), Ok(Request::GetDigests));
    }

    #[test]
    fn measurements_round_trip() {
        let fw = [0x11u8; 48];
        let cfg = [0x22u8; 48];
        let mut record = [0u8; 2 * (4 + 3 + 48)];
        let mut w = Writer::new(&mut record);
        let blocks = [
            MeasurementBlock { index: 1, value_type: measurement_type::MUTABLE_FIRMWARE, value: &fw },
            MeasurementBlock { index: 2, value_type: measurement_type::HARDWARE_CONFIGURATION, value: &cfg },
        ];
        for b in &blocks {
            assert!(b.encode(&mut w).is_ok());
        }
        assert_eq!(w.len(), record.len());
        let nonce = [0x5a; NONCE_LEN];
        let m = Measurements { total: 0, number_of_blocks: 2, record: &record, nonce: &nonce, opaque: &[] };
        let mut buf = [0u8; 256];
        let len = Response::Measurements(m).encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 4 + 4 + record.len() + NONCE_LEN + 2);
        let parsed = Response::parse(&buf[..len]);
        assert_eq!(parsed.map(|(_, r)| r), Ok(Response::Measurements(m)));
        let mut it = m.blocks();
        assert_eq!(it.next(), Some(Ok(blocks[0])));
        assert_eq!(it.next(), Some(Ok(blocks[1])));
        assert_eq!(it.next(), None);
        // A block count that disagrees with the record.
        buf[4] = 3;
        assert_eq!(Response::parse(&buf[..len]).map(|_| ()), Err(Error::InconsistentLength));
        buf[4] = 2;
        // A block whose DMTF value size disagrees with its block size.
        buf[8 + 5] = 47;
        assert_eq!(Response::parse(&buf[..len]).map(|_| ()), Err(Error::InconsistentLength));

        let req = Request::GetMeasurements { attributes: 0, operation: MEASUREMENTS_OP_ALL, signed: None };
        let len = req.encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 4);
        assert_eq!(Request::parse(&buf[..len]).map(|(_, r)| r), Ok(req));
        let signed = MeasurementsSignedRequest { nonce, slot_id_param: 0 };
        let req = Request::GetMeasurements {
            attributes: MEASUREMENTS_GENERATE_SIGNATURE,
            operation: 1,
            signed: Some(&signed),
        };
        let len = req.encode(&mut buf).unwrap_or(0);
        assert_eq!(len, 37);
        assert_eq!(Request::parse(&buf[..len]).map(|(_, r)| r), Ok(req));
        assert!(Request::parse(&buf[..len - 1]).is_err());
    }

    #[test]
    fn errors_and_codes() {
        let mut buf = [0u8; 8];
        let e = Response::Error { code: Ok(ErrorCode::UnsupportedRequest), data: 0x84 };
        assert_eq!(e.encode(&mut buf), Ok(4));
        assert_eq!(&buf[..4], &[0x12, 0x7f, 0x07, 0x84][..]);
        assert_eq!(Response::parse(&buf[..4]).map(|(_, r)| r), Ok(e));
        assert_eq!(Request::parse(&[0x12, 0x7f, 0, 0]).map(|_| ()), Err(Error::UnexpectedCode(0x7f)));
        assert_eq!(Request::parse(&[0x12, 0x42, 0, 0]).map(|_| ()), Err(Error::UnknownCode(0x42)));
        assert_eq!(Response::parse(&[0x12, 0x84, 0, 0]).map(|_| ()), Err(Error::UnexpectedCode(0x84)));
        for len in 0..4 {
            assert!(Request::parse(&[0x10, 0x84, 0, 0][..len]).is_err());
        }
    }
}
