// SPDX-License-Identifier: GPL-2.0

//! PCIe Data Object Exchange (PCIe r7.0, section 6.30): object identifiers,
//! the two-dword object header and the discovery object.
//!
//! A DOE object is named by a vendor id and a type; SPDM and its secured
//! sessions use the PCI-SIG vendor id. Lengths count dwords, header included;
//! 0 means the largest object, 2^18 dwords.

use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;
use crate::wire::{exact, take};

/// Vendor id of the data object types defined by PCI-SIG.
pub const VENDOR_ID_PCI_SIG: u16 = 0x0001;

/// DOE Discovery (PCIe r7.0, section 6.30.1.1).
pub const TYPE_DISCOVERY: u8 = 0;
/// Component Measurement and Authentication: plain SPDM.
pub const TYPE_CMA_SPDM: u8 = 1;
/// Secured CMA: SPDM messages inside a secure session.
pub const TYPE_SECURED_SPDM: u8 = 2;

/// Largest object, in dwords (length field 0).
pub const MAX_OBJECT_DWORDS: usize = 1 << 18;

/// The header of every data object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ObjectHeader {
    /// Vendor of the object type.
    pub vendor_id: U16,
    /// The object type.
    pub object_type: u8,
    /// Reserved.
    pub reserved: u8,
    /// [17:0] length in dwords including this header; 0 means 2^18.
    pub length: U32,
}

impl ObjectHeader {
    /// The header for an object with `payload_len` bytes of payload, which
    /// must be a whole number of dwords.
    pub fn new(vendor_id: u16, object_type: u8, payload_len: usize) -> Result<Self, Error> {
        if payload_len % 4 != 0 {
            return Err(Error::InvalidField);
        }
        let dwords = payload_len / 4 + 2;
        if dwords > MAX_OBJECT_DWORDS {
            return Err(Error::InvalidField);
        }
        Ok(Self {
            vendor_id: U16::new(vendor_id),
            object_type,
            reserved: 0,
            length: U32::new((dwords % MAX_OBJECT_DWORDS) as u32),
        })
    }

    /// Object length in dwords, header included.
    pub fn dwords(&self) -> usize {
        match self.length.get() & 0x3ffff {
            0 => MAX_OBJECT_DWORDS,
            n => n as usize,
        }
    }

    /// Splits an object into its header and payload, checking the length
    /// field against the buffer and the reserved bits.
    pub fn parse(buf: &[u8]) -> Result<(&Self, &[u8]), Error> {
        let (header, payload) = take::<Self>(buf)?;
        if header.reserved != 0 || header.length.get() & !0x3ffff != 0 {
            return Err(Error::ReservedNotZero);
        }
        if header.dwords() < 2 || header.dwords() * 4 != buf.len() {
            return Err(Error::InconsistentLength);
        }
        Ok((header, payload))
    }
}

/// Discovery request payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DiscoveryRequest {
    /// Which supported protocol to report.
    pub index: u8,
    /// Discovery version: 0, or 2 from DOE capability version 2 on.
    pub version: u8,
    /// Reserved.
    pub reserved: [u8; 2],
}

/// Discovery response payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DiscoveryResponse {
    /// Vendor of the protocol at `index`.
    pub vendor_id: U16,
    /// Its object type.
    pub object_type: u8,
    /// The next index to ask for; 0 after the last.
    pub next_index: u8,
}

impl DiscoveryRequest {
    /// Reads a discovery request payload.
    pub fn parse(payload: &[u8]) -> Result<&Self, Error> {
        let request: &Self = exact(payload)?;
        if request.reserved != [0; 2] {
            return Err(Error::ReservedNotZero);
        }
        Ok(request)
    }
}

/// Parses a message that a DOE object carries with up to three bytes of
/// zero padding to the next dword: the longest unpadded prefix that `parse`
/// accepts wins; with none, the error for the whole buffer is returned.
pub fn parse_padded<'a, T>(
    buf: &'a [u8],
    parse: impl Fn(&'a [u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    let first = match parse(buf) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    for pad in 1..=3usize.min(buf.len()) {
        let (message, padding) = buf.split_at(buf.len() - pad);
        if padding.iter().any(|b| *b != 0) {
            break;
        }
        if let Ok(value) = parse(message) {
            return Ok(value);
        }
    }
    Err(first)
}

/// The discovery answer for `index` among `protocols` (vendor id, type).
/// An index past the end reports the last protocol, as the specification
/// leaves it undefined and upstream pci_doe stops at `next_index == 0`.
pub fn discover(protocols: &[(u16, u8)], index: u8) -> DiscoveryResponse {
    let last = protocols.len().saturating_sub(1);
    let at = (index as usize).min(last);
    let (vendor_id, object_type) = protocols.get(at).copied().unwrap_or((VENDOR_ID_PCI_SIG, TYPE_DISCOVERY));
    let next_index = if at >= last { 0 } else { (at + 1) as u8 };
    DiscoveryResponse { vendor_id: U16::new(vendor_id), object_type, next_index }
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_doe))]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    const PROTOCOLS: [(u16, u8); 3] = [
        (VENDOR_ID_PCI_SIG, TYPE_DISCOVERY),
        (VENDOR_ID_PCI_SIG, TYPE_CMA_SPDM),
        (VENDOR_ID_PCI_SIG, TYPE_SECURED_SPDM),
    ];

    #[test]
    fn discovery_request_vector() {
        // DOE discovery request for index 1: header (vendor 0x0001, type 0,
        // 3 dwords), then the index (PCIe r7.0 figure 6-37; libspdm pcidoe.h).
        const VECTOR: [u8; 12] = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00];
        let header = ObjectHeader::new(VENDOR_ID_PCI_SIG, TYPE_DISCOVERY, 4);
        assert!(header.is_ok());
        if let Ok(header) = header {
            assert_eq!(header.as_bytes(), &VECTOR[..8]);
        }
        let parsed = ObjectHeader::parse(&VECTOR);
        assert!(parsed.is_ok());
        if let Ok((header, payload)) = parsed {
            assert_eq!(header.dwords(), 3);
            assert_eq!(DiscoveryRequest::parse(payload).map(|r| r.index), Ok(1));
        }
    }

    #[test]
    fn discovery_walks_every_protocol() {
        let mut index = 0u8;
        let mut seen = 0;
        loop {
            let r = discover(&PROTOCOLS, index);
            assert_eq!((r.vendor_id.get(), r.object_type), PROTOCOLS[index as usize]);
            seen += 1;
            if r.next_index == 0 {
                break;
            }
            index = r.next_index;
        }
        assert_eq!(seen, 3);
        assert_eq!(discover(&PROTOCOLS, 200).next_index, 0);
    }

    #[test]
    fn padding_is_stripped_only_when_zero() {
        let exact = |b: &[u8]| if b.len() == 5 { Ok(b.len()) } else { Err(Error::InvalidField) };
        assert_eq!(parse_padded(&[1, 2, 3, 4, 5], exact), Ok(5));
        assert_eq!(parse_padded(&[1, 2, 3, 4, 5, 0, 0, 0], exact), Ok(5));
        assert_eq!(parse_padded(&[1, 2, 3, 4, 5, 0, 1, 0], exact), Err(Error::InvalidField));
        assert_eq!(parse_padded(&[1, 2, 3, 4, 5, 0, 0, 0, 0], exact), Err(Error::InvalidField));
        assert_eq!(parse_padded(&[], exact), Err(Error::InvalidField));
    }

    #[test]
    fn header_checks_length_and_reserved() {
        let mut object = [0u8; 12];
        object[..8].copy_from_slice(&[0x01, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00]);
        assert!(ObjectHeader::parse(&object).is_ok());
        assert_eq!(ObjectHeader::parse(&object[..8]).map(|_| ()), Err(Error::InconsistentLength));
        object[4] = 1; // shorter than a header
        assert_eq!(ObjectHeader::parse(&object).map(|_| ()), Err(Error::InconsistentLength));
        object[4] = 3;
        object[3] = 1;
        assert_eq!(ObjectHeader::parse(&object).map(|_| ()), Err(Error::ReservedNotZero));
        object[3] = 0;
        object[7] = 0x80; // length bits above 17
        assert_eq!(ObjectHeader::parse(&object).map(|_| ()), Err(Error::ReservedNotZero));
        assert_eq!(ObjectHeader::new(1, 1, 3).map(|_| ()), Err(Error::InvalidField));
        assert_eq!(ObjectHeader::new(1, 1, (MAX_OBJECT_DWORDS - 2) * 4).map(|h| h.length.get()), Ok(0));
        assert_eq!(ObjectHeader::parse(&[0u8; 7]).map(|_| ()), Err(Error::Truncated { needed: 8, got: 7 }));
    }
}
