// SPDX-License-Identifier: GPL-2.0

//! TDISP message header and codes (PCIe r7.0, section 11.3).
//!
//! Every TDISP message starts with the 16-byte [`TdispHeader`]; it travels in an
//! SPDM VENDOR_DEFINED message with the PCI-SIG protocol id for TDISP.

use zerocopy::byteorder::little_endian::U32;
use zerocopy::FromBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;

/// TDISP version 1.0, encoded as `major << 4 | minor`.
pub const TDISP_VERSION_1_0: u8 = 0x10;

/// Defines a protocol code enum with a checked conversion from its wire value.
macro_rules! wire_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ty {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr($repr)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl $name {
            /// Every code, in specification order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
        }

        impl TryFrom<$repr> for $name {
            type Error = $repr;

            /// Maps a wire value to its code; gives the value back when unknown.
            fn try_from(value: $repr) -> Result<Self, $repr> {
                match value {
                    $($value => Ok($name::$variant),)*
                    other => Err(other),
                }
            }
        }
    };
}

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

#[cfg_attr(teeio_kernel, kernel::prelude::kunit_tests(teeio_proto_tdisp))]
#[cfg_attr(not(teeio_kernel), cfg(test))]
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
}
