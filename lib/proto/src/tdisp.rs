// SPDX-License-Identifier: GPL-2.0

//! TDISP message header and codes (PCIe r7.0, section 11.3).
//!
//! Every TDISP message starts with the 16-byte [`TdispHeader`]; it travels in an
//! SPDM VENDOR_DEFINED message with the PCI-SIG protocol id for TDISP.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::FromBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;
use crate::tdi_state::TdiState;
use crate::tdisp_report::MmioRange;
use crate::wire::{end, exact, take, take_bytes, wire_codes, Writer};

/// TDISP version 1.0, encoded as `major << 4 | minor`.
pub const TDISP_VERSION_1_0: u8 = 0x10;

wire_codes! {
    /// Request codes (PCIe r7.0, table 11-5).
    pub enum RequestCode: u8 {
        /// GET_TDISP_VERSION.
        GetVersion = 0x81,
        /// GET_TDISP_CAPABILITIES.
        GetCapabilities = 0x82,
        /// LOCK_INTERFACE_REQUEST.
        LockInterface = 0x83,
        /// GET_DEVICE_INTERFACE_REPORT.
        GetDeviceInterfaceReport = 0x84,
        /// GET_DEVICE_INTERFACE_STATE.
        GetDeviceInterfaceState = 0x85,
        /// START_INTERFACE_REQUEST.
        StartInterface = 0x86,
        /// STOP_INTERFACE_REQUEST.
        StopInterface = 0x87,
        /// BIND_P2P_STREAM_REQUEST.
        BindP2pStream = 0x88,
        /// UNBIND_P2P_STREAM_REQUEST.
        UnbindP2pStream = 0x89,
        /// SET_MMIO_ATTRIBUTE_REQUEST.
        SetMmioAttribute = 0x8a,
        /// VDM_REQUEST.
        Vdm = 0x8b,
        /// SET_TDISP_CONFIG_REQUEST (TDISP 1.1).
        SetTdispConfig = 0x8c,
    }
}

wire_codes! {
    /// Response codes (PCIe r7.0, table 11-6).
    pub enum ResponseCode: u8 {
        /// TDISP_VERSION.
        Version = 0x01,
        /// TDISP_CAPABILITIES.
        Capabilities = 0x02,
        /// LOCK_INTERFACE_RESPONSE.
        LockInterface = 0x03,
        /// DEVICE_INTERFACE_REPORT.
        DeviceInterfaceReport = 0x04,
        /// DEVICE_INTERFACE_STATE.
        DeviceInterfaceState = 0x05,
        /// START_INTERFACE_RESPONSE.
        StartInterface = 0x06,
        /// STOP_INTERFACE_RESPONSE.
        StopInterface = 0x07,
        /// BIND_P2P_STREAM_RESPONSE.
        BindP2pStream = 0x08,
        /// UNBIND_P2P_STREAM_RESPONSE.
        UnbindP2pStream = 0x09,
        /// SET_MMIO_ATTRIBUTE_RESPONSE.
        SetMmioAttribute = 0x0a,
        /// VDM_RESPONSE.
        Vdm = 0x0b,
        /// SET_TDISP_CONFIG_RESPONSE (TDISP 1.1).
        SetTdispConfig = 0x0c,
        /// TDISP_ERROR.
        Error = 0x7f,
    }
}

wire_codes! {
    /// TDISP_ERROR error codes (PCIe r7.0, table 11-28).
    pub enum ErrorCode: u32 {
        /// One or more request fields are invalid.
        InvalidRequest = 0x0001,
        /// The responder cannot answer now; retry later.
        Busy = 0x0003,
        /// The request is not allowed in the TDI's current state.
        InvalidInterfaceState = 0x0004,
        /// Unspecified error.
        Unspecified = 0x0005,
        /// The request code is not supported.
        UnsupportedRequest = 0x0007,
        /// The requested TDISP version is not supported.
        VersionMismatch = 0x0041,
        /// Vendor-defined error, detailed in the extended error data.
        VendorSpecificError = 0x00ff,
        /// INTERFACE_ID names no TDI of this device.
        InvalidInterface = 0x0101,
        /// The START_INTERFACE nonce is not the one LOCK returned.
        InvalidNonce = 0x0102,
        /// The device could not generate a nonce.
        InsufficientEntropy = 0x0103,
        /// The device configuration does not allow the request.
        InvalidDeviceConfiguration = 0x0104,
    }
}

impl RequestCode {
    /// The response code that answers this request when it succeeds.
    pub fn response(self) -> ResponseCode {
        // Each success response code is its request code without bit 7.
        match ResponseCode::try_from(self as u8 & 0x7f) {
            Ok(code) => code,
            Err(_) => ResponseCode::Error,
        }
    }
}

/// Identifies one TDI of a device (PCIe r7.0, table 11-4).
///
/// `function_id` bits: [15:0] Requester ID, [23:16] Requester Segment,
/// [24] Requester Segment Valid, [31:25] reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct InterfaceId {
    function_id: U32,
    reserved: [u8; 8],
}

impl InterfaceId {
    const SEGMENT_VALID: u32 = 1 << 24;
    const RESERVED_MASK: u32 = !((1 << 25) - 1);

    /// The TDI of the function at `requester_id` (bus << 8 | devfn), with its
    /// PCI segment when the platform has more than one.
    pub fn new(requester_id: u16, segment: Option<u8>) -> Self {
        let mut function_id = u32::from(requester_id);
        if let Some(segment) = segment {
            function_id |= u32::from(segment) << 16 | Self::SEGMENT_VALID;
        }
        Self {
            function_id: U32::new(function_id),
            reserved: [0; 8],
        }
    }

    /// The Requester ID (bus << 8 | devfn).
    pub fn requester_id(&self) -> u16 {
        self.function_id.get() as u16
    }

    /// The Requester Segment, when marked valid.
    pub fn segment(&self) -> Option<u8> {
        let id = self.function_id.get();
        (id & Self::SEGMENT_VALID != 0).then_some((id >> 16) as u8)
    }

    fn reserved_is_zero(&self) -> bool {
        self.function_id.get() & Self::RESERVED_MASK == 0 && self.reserved == [0; 8]
    }
}

/// The header of every TDISP message (PCIe r7.0, table 11-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TdispHeader {
    /// TDISP version, `major << 4 | minor`.
    pub version: u8,
    /// A [`RequestCode`] or a [`ResponseCode`].
    pub message_type: u8,
    reserved: [u8; 2],
    /// The TDI the message is about.
    pub interface_id: InterfaceId,
}

const _: () = assert!(core::mem::size_of::<TdispHeader>() == 16);

impl TdispHeader {
    /// A version 1.0 request header.
    pub fn request(code: RequestCode, interface_id: InterfaceId) -> Self {
        Self::new(code as u8, interface_id)
    }

    /// A version 1.0 response header.
    pub fn response(code: ResponseCode, interface_id: InterfaceId) -> Self {
        Self::new(code as u8, interface_id)
    }

    fn new(message_type: u8, interface_id: InterfaceId) -> Self {
        Self {
            version: TDISP_VERSION_1_0,
            message_type,
            reserved: [0; 2],
            interface_id,
        }
    }

    /// Splits `buf` into its header and payload, checking the length, the
    /// major version, the reserved fields and that the code is defined.
    pub fn parse(buf: &[u8]) -> Result<(&Self, &[u8]), Error> {
        let (header, payload) = Self::ref_from_prefix(buf).map_err(|_| Error::Truncated {
            needed: core::mem::size_of::<Self>(),
            got: buf.len(),
        })?;
        if header.version >> 4 != TDISP_VERSION_1_0 >> 4 {
            return Err(Error::UnsupportedVersion(header.version));
        }
        if header.reserved != [0; 2] || !header.interface_id.reserved_is_zero() {
            return Err(Error::ReservedNotZero);
        }
        if RequestCode::try_from(header.message_type).is_err()
            && ResponseCode::try_from(header.message_type).is_err()
        {
            return Err(Error::UnknownCode(header.message_type));
        }
        Ok((header, payload))
    }

    /// The request code, if this is a request.
    pub fn request_code(&self) -> Option<RequestCode> {
        RequestCode::try_from(self.message_type).ok()
    }

    /// The response code, if this is a response.
    pub fn response_code(&self) -> Option<ResponseCode> {
        ResponseCode::try_from(self.message_type).ok()
    }
}

/// Size of the START_INTERFACE nonce.
pub const NONCE_LEN: usize = 32;

/// Flags of LOCK_INTERFACE_REQUEST (PCIe r7.0, table 11-10).
pub mod lock_flags {
    /// No firmware update while locked.
    pub const NO_FW_UPDATE: u16 = 1 << 0;
    /// System cache line size is 128 bytes (else 64).
    pub const SYSTEM_CACHE_LINE_SIZE: u16 = 1 << 1;
    /// Lock the MSI-X table and PBA.
    pub const LOCK_MSIX: u16 = 1 << 2;
    /// Allow direct peer-to-peer streams.
    pub const BIND_P2P: u16 = 1 << 3;
    /// Redirect all requests through the TSM.
    pub const ALL_REQUEST_REDIRECT: u16 = 1 << 4;
    /// Every flag TDISP 1.0 defines.
    pub const ALL: u16 = 0x1f;
}

/// GET_TDISP_CAPABILITIES request payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GetCapabilitiesRequest {
    /// TSM capabilities (none defined by TDISP 1.0).
    pub tsm_caps: U32,
}

/// TDISP_CAPABILITIES response payload (PCIe r7.0, table 11-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Capabilities {
    /// DSM capabilities; bit 0: XT mode supported.
    pub dsm_caps: U32,
    /// Bit n set: request code 0x80 + n is supported.
    pub req_msg_supported: [u8; 16],
    /// LOCK_INTERFACE flags the DSM honours.
    pub lock_interface_flags_supported: U16,
    /// Reserved.
    pub reserved: [u8; 3],
    /// Address width the device's DMA uses, in bits.
    pub dev_addr_width: u8,
    /// Outstanding requests this function accepts.
    pub num_req_this: u8,
    /// Outstanding requests all functions accept.
    pub num_req_all: u8,
}

impl Capabilities {
    /// Whether the bitmap says `code` is supported.
    pub fn supports(&self, code: RequestCode) -> bool {
        let bit = (code as u8 - 0x80) as usize;
        self.req_msg_supported[bit / 8] & (1 << (bit % 8)) != 0
    }

    /// The bitmap for `codes`.
    pub fn bitmap(codes: &[RequestCode]) -> [u8; 16] {
        let mut map = [0u8; 16];
        for code in codes {
            let bit = (*code as u8 - 0x80) as usize;
            map[bit / 8] |= 1 << (bit % 8);
        }
        map
    }
}

/// LOCK_INTERFACE_REQUEST payload (PCIe r7.0, table 11-10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LockInterfaceRequest {
    /// [`lock_flags`].
    pub flags: U16,
    /// IDE stream for requests of the TDI.
    pub default_stream_id: u8,
    /// Reserved.
    pub reserved: u8,
    /// Added to every MMIO address in the interface report.
    pub mmio_reporting_offset: U64,
    /// Address bits that select P2P targets.
    pub bind_p2p_address_mask: U64,
}

/// LOCK_INTERFACE_RESPONSE payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LockInterfaceResponse {
    /// Must come back in START_INTERFACE_REQUEST.
    pub start_interface_nonce: [u8; NONCE_LEN],
}

/// GET_DEVICE_INTERFACE_REPORT payload: which part of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct GetDeviceInterfaceReportRequest {
    /// Byte offset into the report.
    pub offset: U16,
    /// Bytes wanted.
    pub length: U16,
}

/// DEVICE_INTERFACE_REPORT payload header; `portion_length` bytes follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DeviceInterfaceReportPortion {
    /// Bytes of the report in this response.
    pub portion_length: U16,
    /// Bytes of the report after this portion.
    pub remainder_length: U16,
}

/// START_INTERFACE_REQUEST payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StartInterfaceRequest {
    /// The nonce LOCK_INTERFACE_RESPONSE returned.
    pub start_interface_nonce: [u8; NONCE_LEN],
}

/// BIND_P2P_STREAM_REQUEST payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BindP2pStreamRequest {
    /// The IDE stream for P2P.
    pub p2p_stream_id: u8,
    /// Bit 0: XT enable.
    pub stream_config: u8,
}

/// UNBIND_P2P_STREAM_REQUEST payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UnbindP2pStreamRequest {
    /// The IDE stream to unbind.
    pub p2p_stream_id: u8,
}

/// SET_TDISP_CONFIG_REQUEST payload (TDISP 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SetTdispConfigRequest {
    /// Bit 0: XT mode enable; bit 1: XT bit for locked MSI-X.
    pub dsm_config: U32,
}

/// VDM_REQUEST / VDM_RESPONSE and extended error data header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VendorHeader {
    /// 0: PCI-SIG, 1: CXL.
    pub registry_id: u8,
    /// Bytes of vendor id that follow.
    pub vendor_id_len: u8,
}

/// TDISP_ERROR payload; extended error data may follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ErrorPayload {
    /// An [`ErrorCode`].
    pub error_code: U32,
    /// Error-specific data.
    pub error_data: U32,
}

/// A vendor-defined message body: registry, vendor id, then vendor data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vdm<'a> {
    /// 0: PCI-SIG, 1: CXL.
    pub registry_id: u8,
    /// The vendor id bytes.
    pub vendor_id: &'a [u8],
    /// The vendor data.
    pub data: &'a [u8],
}

impl<'a> Vdm<'a> {
    fn parse(payload: &'a [u8]) -> Result<Self, Error> {
        let (header, rest) = take::<VendorHeader>(payload)?;
        let (vendor_id, data) = take_bytes(rest, header.vendor_id_len as usize)?;
        Ok(Self { registry_id: header.registry_id, vendor_id, data })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let vendor_id_len = u8::try_from(self.vendor_id.len()).map_err(|_| Error::InvalidField)?;
        w.put(&VendorHeader { registry_id: self.registry_id, vendor_id_len })?;
        w.put_bytes(self.vendor_id)?.put_bytes(self.data)?;
        Ok(())
    }
}

/// A TDISP request, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// GET_TDISP_VERSION.
    GetVersion,
    /// GET_TDISP_CAPABILITIES.
    GetCapabilities(&'a GetCapabilitiesRequest),
    /// LOCK_INTERFACE_REQUEST.
    LockInterface(&'a LockInterfaceRequest),
    /// GET_DEVICE_INTERFACE_REPORT.
    GetDeviceInterfaceReport(&'a GetDeviceInterfaceReportRequest),
    /// GET_DEVICE_INTERFACE_STATE.
    GetDeviceInterfaceState,
    /// START_INTERFACE_REQUEST.
    StartInterface(&'a StartInterfaceRequest),
    /// STOP_INTERFACE_REQUEST.
    StopInterface,
    /// BIND_P2P_STREAM_REQUEST.
    BindP2pStream(&'a BindP2pStreamRequest),
    /// UNBIND_P2P_STREAM_REQUEST.
    UnbindP2pStream(&'a UnbindP2pStreamRequest),
    /// SET_MMIO_ATTRIBUTE_REQUEST.
    SetMmioAttribute(&'a MmioRange),
    /// VDM_REQUEST.
    Vdm(Vdm<'a>),
    /// SET_TDISP_CONFIG_REQUEST.
    SetTdispConfig(&'a SetTdispConfigRequest),
}

impl<'a> Request<'a> {
    /// Parses a whole request message; fixed-size requests must be exact.
    pub fn parse(msg: &'a [u8]) -> Result<(&'a TdispHeader, Self), Error> {
        let (header, p) = TdispHeader::parse(msg)?;
        let code = header.request_code().ok_or(Error::UnexpectedCode(header.message_type))?;
        let request = match code {
            RequestCode::GetVersion => end(p, 0).map(|()| Request::GetVersion)?,
            RequestCode::GetCapabilities => Request::GetCapabilities(exact(p)?),
            RequestCode::LockInterface => Request::LockInterface(exact(p)?),
            RequestCode::GetDeviceInterfaceReport => Request::GetDeviceInterfaceReport(exact(p)?),
            RequestCode::GetDeviceInterfaceState => {
                end(p, 0).map(|()| Request::GetDeviceInterfaceState)?
            }
            RequestCode::StartInterface => Request::StartInterface(exact(p)?),
            RequestCode::StopInterface => end(p, 0).map(|()| Request::StopInterface)?,
            RequestCode::BindP2pStream => Request::BindP2pStream(exact(p)?),
            RequestCode::UnbindP2pStream => Request::UnbindP2pStream(exact(p)?),
            RequestCode::SetMmioAttribute => Request::SetMmioAttribute(exact(p)?),
            RequestCode::Vdm => Request::Vdm(Vdm::parse(p)?),
            RequestCode::SetTdispConfig => Request::SetTdispConfig(exact(p)?),
        };
        Ok((header, request))
    }

    /// The request's code.
    pub fn code(&self) -> RequestCode {
        match self {
            Request::GetVersion => RequestCode::GetVersion,
            Request::GetCapabilities(_) => RequestCode::GetCapabilities,
            Request::LockInterface(_) => RequestCode::LockInterface,
            Request::GetDeviceInterfaceReport(_) => RequestCode::GetDeviceInterfaceReport,
            Request::GetDeviceInterfaceState => RequestCode::GetDeviceInterfaceState,
            Request::StartInterface(_) => RequestCode::StartInterface,
            Request::StopInterface => RequestCode::StopInterface,
            Request::BindP2pStream(_) => RequestCode::BindP2pStream,
            Request::UnbindP2pStream(_) => RequestCode::UnbindP2pStream,
            Request::SetMmioAttribute(_) => RequestCode::SetMmioAttribute,
            Request::Vdm(_) => RequestCode::Vdm,
            Request::SetTdispConfig(_) => RequestCode::SetTdispConfig,
        }
    }

    /// Writes the whole message for `interface_id` into `buf`; returns its length.
    pub fn encode(&self, interface_id: InterfaceId, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.put(&TdispHeader::request(self.code(), interface_id))?;
        match self {
            Request::GetVersion | Request::GetDeviceInterfaceState | Request::StopInterface => {}
            Request::GetCapabilities(p) => {
                w.put(*p)?;
            }
            Request::LockInterface(p) => {
                w.put(*p)?;
            }
            Request::GetDeviceInterfaceReport(p) => {
                w.put(*p)?;
            }
            Request::StartInterface(p) => {
                w.put(*p)?;
            }
            Request::BindP2pStream(p) => {
                w.put(*p)?;
            }
            Request::UnbindP2pStream(p) => {
                w.put(*p)?;
            }
            Request::SetMmioAttribute(p) => {
                w.put(*p)?;
            }
            Request::Vdm(vdm) => vdm.encode(&mut w)?,
            Request::SetTdispConfig(p) => {
                w.put(*p)?;
            }
        }
        Ok(w.len())
    }
}

/// A TDISP response, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// TDISP_VERSION: the versions the DSM speaks.
    Version(&'a [u8]),
    /// TDISP_CAPABILITIES.
    Capabilities(&'a Capabilities),
    /// LOCK_INTERFACE_RESPONSE.
    LockInterface(&'a LockInterfaceResponse),
    /// DEVICE_INTERFACE_REPORT: one portion and what remains after it.
    DeviceInterfaceReport {
        /// This portion of the report.
        portion: &'a [u8],
        /// Bytes of the report after it.
        remainder_length: u16,
    },
    /// DEVICE_INTERFACE_STATE.
    DeviceInterfaceState(TdiState),
    /// START_INTERFACE_RESPONSE.
    StartInterface,
    /// STOP_INTERFACE_RESPONSE.
    StopInterface,
    /// BIND_P2P_STREAM_RESPONSE.
    BindP2pStream,
    /// UNBIND_P2P_STREAM_RESPONSE.
    UnbindP2pStream,
    /// SET_MMIO_ATTRIBUTE_RESPONSE.
    SetMmioAttribute,
    /// VDM_RESPONSE.
    Vdm(Vdm<'a>),
    /// SET_TDISP_CONFIG_RESPONSE.
    SetTdispConfig,
    /// TDISP_ERROR.
    Error {
        /// The error code; unknown codes are kept raw.
        code: Result<ErrorCode, u32>,
        /// Error-specific data.
        data: u32,
        /// Extended error data, if any.
        extended: &'a [u8],
    },
}

impl<'a> Response<'a> {
    /// Parses a whole response message.
    pub fn parse(msg: &'a [u8]) -> Result<(&'a TdispHeader, Self), Error> {
        let (header, p) = TdispHeader::parse(msg)?;
        let code = header.response_code().ok_or(Error::UnexpectedCode(header.message_type))?;
        let response = match code {
            ResponseCode::Version => {
                let (&count, versions) = p.split_first().ok_or(Error::Truncated { needed: 1, got: 0 })?;
                if versions.len() != count as usize {
                    return Err(Error::InconsistentLength);
                }
                Response::Version(versions)
            }
            ResponseCode::Capabilities => Response::Capabilities(exact(p)?),
            ResponseCode::LockInterface => Response::LockInterface(exact(p)?),
            ResponseCode::DeviceInterfaceReport => {
                let (portion_header, rest) = take::<DeviceInterfaceReportPortion>(p)?;
                if rest.len() != portion_header.portion_length.get() as usize {
                    return Err(Error::InconsistentLength);
                }
                Response::DeviceInterfaceReport {
                    portion: rest,
                    remainder_length: portion_header.remainder_length.get(),
                }
            }
            ResponseCode::DeviceInterfaceState => {
                let state: &u8 = exact(p)?;
                Response::DeviceInterfaceState(TdiState::try_from(*state).map_err(|_| Error::InvalidField)?)
            }
            ResponseCode::StartInterface => end(p, 0).map(|()| Response::StartInterface)?,
            ResponseCode::StopInterface => end(p, 0).map(|()| Response::StopInterface)?,
            ResponseCode::BindP2pStream => end(p, 0).map(|()| Response::BindP2pStream)?,
            ResponseCode::UnbindP2pStream => end(p, 0).map(|()| Response::UnbindP2pStream)?,
            ResponseCode::SetMmioAttribute => end(p, 0).map(|()| Response::SetMmioAttribute)?,
            ResponseCode::Vdm => Response::Vdm(Vdm::parse(p)?),
            ResponseCode::SetTdispConfig => end(p, 0).map(|()| Response::SetTdispConfig)?,
            ResponseCode::Error => {
                let (e, extended) = take::<ErrorPayload>(p)?;
                Response::Error {
                    code: ErrorCode::try_from(e.error_code.get()),
                    data: e.error_data.get(),
                    extended,
                }
            }
        };
        Ok((header, response))
    }

    /// The response's code.
    pub fn code(&self) -> ResponseCode {
        match self {
            Response::Version(_) => ResponseCode::Version,
            Response::Capabilities(_) => ResponseCode::Capabilities,
            Response::LockInterface(_) => ResponseCode::LockInterface,
            Response::DeviceInterfaceReport { .. } => ResponseCode::DeviceInterfaceReport,
            Response::DeviceInterfaceState(_) => ResponseCode::DeviceInterfaceState,
            Response::StartInterface => ResponseCode::StartInterface,
            Response::StopInterface => ResponseCode::StopInterface,
            Response::BindP2pStream => ResponseCode::BindP2pStream,
            Response::UnbindP2pStream => ResponseCode::UnbindP2pStream,
            Response::SetMmioAttribute => ResponseCode::SetMmioAttribute,
            Response::Vdm(_) => ResponseCode::Vdm,
            Response::SetTdispConfig => ResponseCode::SetTdispConfig,
            Response::Error { .. } => ResponseCode::Error,
        }
    }

    /// A TDISP_ERROR with no extended data.
    pub fn error(code: ErrorCode, data: u32) -> Self {
        Response::Error { code: Ok(code), data, extended: &[] }
    }

    /// Writes the whole message for `interface_id` into `buf`; returns its length.
    pub fn encode(&self, interface_id: InterfaceId, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.put(&TdispHeader::response(self.code(), interface_id))?;
        match self {
            Response::Version(versions) => {
                let count = u8::try_from(versions.len()).map_err(|_| Error::InvalidField)?;
                w.put_bytes(&[count])?.put_bytes(versions)?;
            }
            Response::Capabilities(p) => {
                w.put(*p)?;
            }
            Response::LockInterface(p) => {
                w.put(*p)?;
            }
            Response::DeviceInterfaceReport { portion, remainder_length } => {
                let portion_length = u16::try_from(portion.len()).map_err(|_| Error::InvalidField)?;
                w.put(&DeviceInterfaceReportPortion {
                    portion_length: U16::new(portion_length),
                    remainder_length: U16::new(*remainder_length),
                })?;
                w.put_bytes(portion)?;
            }
            Response::DeviceInterfaceState(state) => {
                w.put_bytes(&[*state as u8])?;
            }
            Response::StartInterface
            | Response::StopInterface
            | Response::BindP2pStream
            | Response::UnbindP2pStream
            | Response::SetMmioAttribute
            | Response::SetTdispConfig => {}
            Response::Vdm(vdm) => vdm.encode(&mut w)?,
            Response::Error { code, data, extended } => {
                let raw = match code {
                    Ok(code) => *code as u32,
                    Err(raw) => *raw,
                };
                w.put(&ErrorPayload { error_code: U32::new(raw), error_data: U32::new(*data) })?;
                w.put_bytes(extended)?;
            }
        }
        Ok(w.len())
    }
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_tdisp))]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};
    use zerocopy::IntoBytes;

    /// GET_TDISP_VERSION for the TDI at 0000:01:00.0 without a segment
    /// (PCIe r7.0 tables 11-3 and 11-4; libspdm pci_tdisp.h, pci_tdisp_header_t).
    const GET_VERSION_01_00_0: [u8; 16] = [
        0x10, 0x81, 0x00, 0x00, // version 1.0, GET_TDISP_VERSION, reserved
        0x00, 0x01, 0x00, 0x00, // function_id: RID 0x0100, no segment
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved
    ];

    /// TDISP_ERROR for the TDI at segment 2, 0a:1f.7 (RID 0x0aff, segment valid).
    const ERROR_SEG2_0A_1F_7: [u8; 16] = [
        0x10, 0x7f, 0x00, 0x00, // version 1.0, TDISP_ERROR, reserved
        0xff, 0x0a, 0x02, 0x01, // function_id: RID 0x0aff, segment 2, valid
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved
    ];

    #[test]
    fn header_layout_matches_spec_table() {
        assert_eq!(size_of::<TdispHeader>(), 16);
        assert_eq!(offset_of!(TdispHeader, version), 0);
        assert_eq!(offset_of!(TdispHeader, message_type), 1);
        assert_eq!(offset_of!(TdispHeader, interface_id), 4);
        assert_eq!(size_of::<InterfaceId>(), 12);
    }

    #[test]
    fn request_header_encodes_to_vector() {
        let header = TdispHeader::request(RequestCode::GetVersion, InterfaceId::new(0x0100, None));
        assert_eq!(header.as_bytes(), &GET_VERSION_01_00_0[..]);
    }

    #[test]
    fn response_header_encodes_segment() {
        let id = InterfaceId::new(0x0aff, Some(2));
        assert_eq!(id.requester_id(), 0x0aff);
        assert_eq!(id.segment(), Some(2));
        let header = TdispHeader::response(ResponseCode::Error, id);
        assert_eq!(header.as_bytes(), &ERROR_SEG2_0A_1F_7[..]);
    }

    #[test]
    fn parse_splits_header_and_payload() {
        let mut msg = [0u8; 20];
        msg[..16].copy_from_slice(&ERROR_SEG2_0A_1F_7);
        msg[16..].copy_from_slice(&[0x04, 0x00, 0x00, 0x00]);
        let parsed = TdispHeader::parse(&msg);
        assert!(parsed.is_ok());
        if let Ok((header, payload)) = parsed {
            assert_eq!(header.response_code(), Some(ResponseCode::Error));
            assert_eq!(header.request_code(), None);
            assert_eq!(header.interface_id.segment(), Some(2));
            assert_eq!(payload, &[0x04, 0x00, 0x00, 0x00][..]);
        }
    }

    #[test]
    fn parse_rejects_every_short_buffer() {
        for len in 0..16 {
            assert_eq!(
                TdispHeader::parse(&GET_VERSION_01_00_0[..len]).map(|_| ()),
                Err(Error::Truncated { needed: 16, got: len })
            );
        }
    }

    #[test]
    fn parse_rejects_bad_version_reserved_and_code() {
        let mut msg = GET_VERSION_01_00_0;
        msg[0] = 0x20;
        assert_eq!(TdispHeader::parse(&msg).map(|_| ()), Err(Error::UnsupportedVersion(0x20)));

        // A newer minor version of 1.x is still 1.x.
        msg[0] = 0x11;
        assert!(TdispHeader::parse(&msg).is_ok());

        msg = GET_VERSION_01_00_0;
        msg[2] = 1;
        assert_eq!(TdispHeader::parse(&msg).map(|_| ()), Err(Error::ReservedNotZero));

        msg = GET_VERSION_01_00_0;
        msg[7] = 0x02; // function_id bit 25
        assert_eq!(TdispHeader::parse(&msg).map(|_| ()), Err(Error::ReservedNotZero));

        msg = GET_VERSION_01_00_0;
        msg[15] = 1;
        assert_eq!(TdispHeader::parse(&msg).map(|_| ()), Err(Error::ReservedNotZero));

        msg = GET_VERSION_01_00_0;
        for code in [0x00, 0x0d, 0x7e, 0x80, 0x8d, 0xff] {
            msg[1] = code;
            assert_eq!(TdispHeader::parse(&msg).map(|_| ()), Err(Error::UnknownCode(code)));
        }
    }

    #[test]
    fn codes_match_spec_values() {
        assert_eq!(RequestCode::ALL.len(), 12);
        for (i, code) in RequestCode::ALL.iter().enumerate() {
            assert_eq!(*code as u8, 0x81 + i as u8);
            assert_eq!(RequestCode::try_from(*code as u8), Ok(*code));
            assert_eq!(code.response() as u8, 0x01 + i as u8);
        }
        assert_eq!(ResponseCode::ALL.len(), 13);
        assert_eq!(ResponseCode::try_from(0x7f), Ok(ResponseCode::Error));
        assert_eq!(ResponseCode::try_from(0x0d), Err(0x0d));
        assert_eq!(ErrorCode::InvalidNonce as u32, 0x0102);
        assert_eq!(ErrorCode::try_from(0x0104), Ok(ErrorCode::InvalidDeviceConfiguration));
        assert_eq!(ErrorCode::try_from(0x0002), Err(0x0002));
    }

    const ID: InterfaceId = InterfaceId { function_id: U32::new(0x0100), reserved: [0; 8] };

    fn lock_request() -> LockInterfaceRequest {
        LockInterfaceRequest {
            flags: U16::new(lock_flags::NO_FW_UPDATE | lock_flags::LOCK_MSIX),
            default_stream_id: 1,
            reserved: 0,
            mmio_reporting_offset: U64::new(0x1000_0000),
            bind_p2p_address_mask: U64::new(0),
        }
    }

    #[test]
    fn payload_sizes_match_spec_tables() {
        assert_eq!(size_of::<GetCapabilitiesRequest>(), 4);
        assert_eq!(size_of::<Capabilities>(), 28);
        assert_eq!(size_of::<LockInterfaceRequest>(), 20);
        assert_eq!(size_of::<LockInterfaceResponse>(), 32);
        assert_eq!(size_of::<GetDeviceInterfaceReportRequest>(), 4);
        assert_eq!(size_of::<DeviceInterfaceReportPortion>(), 4);
        assert_eq!(size_of::<StartInterfaceRequest>(), 32);
        assert_eq!(size_of::<BindP2pStreamRequest>(), 2);
        assert_eq!(size_of::<ErrorPayload>(), 8);
        assert_eq!(offset_of!(LockInterfaceRequest, mmio_reporting_offset), 4);
        assert_eq!(offset_of!(Capabilities, lock_interface_flags_supported), 20);
        assert_eq!(offset_of!(Capabilities, dev_addr_width), 25);
    }

    #[test]
    fn lock_request_encodes_to_vector() {
        // LOCK_INTERFACE_REQUEST, PCIe r7.0 table 11-10 (libspdm
        // pci_tdisp_lock_interface_request_t): flags 0x0005, stream 1,
        // mmio_reporting_offset 0x10000000, no P2P mask.
        const VECTOR: [u8; 36] = [
            0x10, 0x83, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, //
            0x05, 0x00, 0x01, 0x00, //
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, //
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let lock = lock_request();
        let mut buf = [0u8; 64];
        assert_eq!(Request::LockInterface(&lock).encode(ID, &mut buf), Ok(36));
        assert_eq!(&buf[..36], &VECTOR[..]);
        assert_eq!(Request::parse(&VECTOR).map(|(_, r)| r), Ok(Request::LockInterface(&lock)));
    }

    #[test]
    fn every_request_round_trips() {
        let caps = GetCapabilitiesRequest { tsm_caps: U32::new(0) };
        let lock = lock_request();
        let report = GetDeviceInterfaceReportRequest { offset: U16::new(16), length: U16::new(512) };
        let start = StartInterfaceRequest { start_interface_nonce: [7; NONCE_LEN] };
        let bind = BindP2pStreamRequest { p2p_stream_id: 3, stream_config: 1 };
        let unbind = UnbindP2pStreamRequest { p2p_stream_id: 3 };
        let range = MmioRange::new(0x2000, 2, 0, 5);
        let config = SetTdispConfigRequest { dsm_config: U32::new(1) };
        let requests = [
            Request::GetVersion,
            Request::GetCapabilities(&caps),
            Request::LockInterface(&lock),
            Request::GetDeviceInterfaceReport(&report),
            Request::GetDeviceInterfaceState,
            Request::StartInterface(&start),
            Request::StopInterface,
            Request::BindP2pStream(&bind),
            Request::UnbindP2pStream(&unbind),
            Request::SetMmioAttribute(&range),
            Request::Vdm(Vdm { registry_id: 0, vendor_id: &[0x01, 0x00], data: &[1, 2, 3] }),
            Request::SetTdispConfig(&config),
        ];
        assert_eq!(requests.len(), RequestCode::ALL.len());
        for request in requests {
            let mut buf = [0u8; 64];
            let len = request.encode(ID, &mut buf).unwrap_or(0);
            assert!(len >= 16);
            assert_eq!(buf[1], request.code() as u8);
            let parsed = Request::parse(&buf[..len]);
            assert_eq!(parsed.map(|(h, r)| (h.interface_id, r)), Ok((ID, request)));
            // One byte short or long is refused.
            assert!(Request::parse(&buf[..len - 1]).is_err() || request.code() == RequestCode::Vdm);
            if request.code() != RequestCode::Vdm {
                assert!(Request::parse(&buf[..len + 1]).is_err());
            }
        }
    }

    #[test]
    fn every_response_round_trips() {
        let caps = Capabilities {
            dsm_caps: U32::new(0),
            req_msg_supported: Capabilities::bitmap(RequestCode::ALL),
            lock_interface_flags_supported: U16::new(lock_flags::ALL),
            reserved: [0; 3],
            dev_addr_width: 52,
            num_req_this: 1,
            num_req_all: 1,
        };
        let lock = LockInterfaceResponse { start_interface_nonce: [9; NONCE_LEN] };
        let responses = [
            Response::Version(&[0x10]),
            Response::Capabilities(&caps),
            Response::LockInterface(&lock),
            Response::DeviceInterfaceReport { portion: &[1, 2, 3, 4], remainder_length: 60 },
            Response::DeviceInterfaceState(TdiState::Run),
            Response::StartInterface,
            Response::StopInterface,
            Response::BindP2pStream,
            Response::UnbindP2pStream,
            Response::SetMmioAttribute,
            Response::Vdm(Vdm { registry_id: 1, vendor_id: &[], data: &[0xee] }),
            Response::SetTdispConfig,
            Response::error(ErrorCode::InvalidNonce, 0),
        ];
        assert_eq!(responses.len(), ResponseCode::ALL.len());
        for response in responses {
            let mut buf = [0u8; 96];
            let len = response.encode(ID, &mut buf).unwrap_or(0);
            assert!(len >= 16);
            assert_eq!(Response::parse(&buf[..len]).map(|(_, r)| r), Ok(response));
        }
        assert!(caps.supports(RequestCode::SetTdispConfig));
        assert!(!Capabilities { req_msg_supported: [0; 16], ..caps }.supports(RequestCode::GetVersion));
    }

    #[test]
    fn responses_check_their_counts() {
        let mut buf = [0u8; 32];
        let len = Response::Version(&[0x10, 0x11]).encode(ID, &mut buf).unwrap_or(0);
        buf[16] = 3; // claims three versions, carries two
        assert_eq!(Response::parse(&buf[..len]).map(|_| ()), Err(Error::InconsistentLength));
        let len = Response::DeviceInterfaceReport { portion: &[1, 2], remainder_length: 0 }
            .encode(ID, &mut buf)
            .unwrap_or(0);
        assert_eq!(Response::parse(&buf[..len - 1]).map(|_| ()), Err(Error::InconsistentLength));
        let len = Response::DeviceInterfaceState(TdiState::Run).encode(ID, &mut buf).unwrap_or(0);
        buf[16] = 4;
        assert_eq!(Response::parse(&buf[..len]).map(|_| ()), Err(Error::InvalidField));
        // A raw error code the spec does not define is kept, not refused.
        let len = Response::Error { code: Err(0x9999), data: 1, extended: &[0, 0] }
            .encode(ID, &mut buf)
            .unwrap_or(0);
        assert_eq!(
            Response::parse(&buf[..len]).map(|(_, r)| r),
            Ok(Response::Error { code: Err(0x9999), data: 1, extended: &[0, 0] })
        );
    }

    #[test]
    fn requests_and_responses_do_not_mix() {
        let mut buf = [0u8; 32];
        let len = Request::GetVersion.encode(ID, &mut buf).unwrap_or(0);
        assert_eq!(Response::parse(&buf[..len]).map(|_| ()), Err(Error::UnexpectedCode(0x81)));
        let len = Response::StopInterface.encode(ID, &mut buf).unwrap_or(0);
        assert_eq!(Request::parse(&buf[..len]).map(|_| ()), Err(Error::UnexpectedCode(0x07)));
        // A VDM whose vendor id runs past the end.
        let len = Request::Vdm(Vdm { registry_id: 0, vendor_id: &[1, 2], data: &[] })
            .encode(ID, &mut buf)
            .unwrap_or(0);
        assert!(Request::parse(&buf[..len - 1]).is_err());
    }
}
