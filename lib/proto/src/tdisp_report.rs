// SPDX-License-Identifier: GPL-2.0

//! The TDISP device interface report (PCIe r7.0, section 11.3.11) and its
//! retrieval in portions.
//!
//! ```text
//! ReportHeader (16) | MmioRange (16) x mmio_range_count |
//! device_specific_info_len (4) | device_specific_info
//! ```

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::FromBytes;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;
use crate::tdisp::ErrorCode;
use crate::wire::{end, take, take_bytes, Writer};

/// INTERFACE_INFO bits.
pub mod interface_info {
    /// No firmware updates while locked.
    pub const NO_UPDATE_AFTER_LOCK: u16 = 1 << 0;
    /// DMA without PASID allowed.
    pub const DMA_WITHOUT_PASID: u16 = 1 << 1;
    /// DMA with PASID allowed.
    pub const DMA_WITH_PASID: u16 = 1 << 2;
    /// ATS supported and enabled.
    pub const ATS_SUPPORTED: u16 = 1 << 3;
    /// PRS supported and enabled.
    pub const PRS_SUPPORTED: u16 = 1 << 4;
    /// XT mode supported.
    pub const XT_MODE_SUPPORTED: u16 = 1 << 5;
    /// Every bit TDISP defines.
    pub const ALL: u16 = 0x3f;
}

/// MMIO_RANGE attribute bits.
pub mod range_attributes {
    /// The range holds the MSI-X table.
    pub const MSIX_TABLE: u16 = 1 << 0;
    /// The range holds the MSI-X PBA.
    pub const MSIX_PBA: u16 = 1 << 1;
    /// Not TEE memory: the TVM may keep it shared.
    pub const IS_NON_TEE_MEM: u16 = 1 << 2;
    /// SET_MMIO_ATTRIBUTE may change it.
    pub const IS_MEM_ATTR_UPDATABLE: u16 = 1 << 3;
    /// Every bit TDISP defines.
    pub const ALL: u16 = 0xf;
}

/// The fixed start of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ReportHeader {
    /// [`interface_info`] bits.
    pub interface_info: U16,
    /// Reserved.
    pub reserved: U16,
    /// MSI-X Message Control, as locked.
    pub msix_message_control: U16,
    /// LN Requester Control.
    pub lnr_control: U16,
    /// TPH Requester Control.
    pub tph_control: U32,
    /// Number of [`MmioRange`] entries that follow.
    pub mmio_range_count: U32,
}

/// One MMIO range of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MmioRange {
    /// Byte address of the first 4 KiB page, plus the lock's mmio_reporting_offset.
    pub first_page: U64,
    /// Number of 4 KiB pages.
    pub number_of_pages: U32,
    /// [`range_attributes`] bits.
    pub range_attributes: U16,
    /// Identifies the range (the BAR it comes from, for example).
    pub range_id: U16,
}

/// Size of a 4 KiB page in the report's units.
pub const PAGE_SIZE: u64 = 4096;

impl MmioRange {
    /// A range of `pages` pages at `address` (4 KiB aligned).
    pub fn new(address: u64, pages: u32, attributes: u16, range_id: u16) -> Self {
        Self {
            first_page: U64::new(address),
            number_of_pages: U32::new(pages),
            range_attributes: U16::new(attributes),
            range_id: U16::new(range_id),
        }
    }

    /// Bytes the range covers.
    pub fn len(&self) -> u64 {
        u64::from(self.number_of_pages.get()) * PAGE_SIZE
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.number_of_pages.get() == 0
    }
}

/// A parsed interface report, borrowing its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceReport<'a> {
    /// The fixed start.
    pub header: &'a ReportHeader,
    /// The MMIO ranges, as many as the header says.
    pub ranges: &'a [MmioRange],
    /// Device-specific information.
    pub device_specific_info: &'a [u8],
}

impl<'a> InterfaceReport<'a> {
    /// Parses a whole report. Counts must match the buffer exactly; reserved
    /// fields and undefined bits must be zero; ranges must be page aligned.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let (header, rest) = take::<ReportHeader>(buf)?;
        if header.reserved.get() != 0 || header.interface_info.get() & !interface_info::ALL != 0 {
            return Err(Error::ReservedNotZero);
        }
        let count = header.mmio_range_count.get() as usize;
        let ranges_len = count.checked_mul(core::mem::size_of::<MmioRange>()).ok_or(Error::InconsistentLength)?;
        let (ranges_bytes, rest) = take_bytes(rest, ranges_len)?;
        let ranges = <[MmioRange]>::ref_from_bytes(ranges_bytes).map_err(|_| Error::InconsistentLength)?;
        for range in ranges {
            if range.range_attributes.get() & !range_attributes::ALL != 0 {
                return Err(Error::ReservedNotZero);
            }
            if range.first_page.get() % PAGE_SIZE != 0 {
                return Err(Error::InvalidField);
            }
        }
        let (info_len, rest) = take::<U32>(rest)?;
        let (device_specific_info, rest) = take_bytes(rest, info_len.get() as usize)?;
        end(rest, buf.len() - rest.len())?;
        Ok(Self { header, ranges, device_specific_info })
    }

    /// Bytes the report takes.
    pub fn encoded_len(&self) -> usize {
        core::mem::size_of::<ReportHeader>()
            + core::mem::size_of_val(self.ranges)
            + 4
            + self.device_specific_info.len()
    }

    /// Writes the report into `buf`; the range count comes from `ranges`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let count = u32::try_from(self.ranges.len()).map_err(|_| Error::InvalidField)?;
        let info_len = u32::try_from(self.device_specific_info.len()).map_err(|_| Error::InvalidField)?;
        let mut header = *self.header;
        header.mmio_range_count = U32::new(count);
        let mut w = Writer::new(buf);
        w.put(&header)?.put(self.ranges)?.put(&U32::new(info_len))?;
        w.put_bytes(self.device_specific_info)?;
        Ok(w.len())
    }
}

/// The portion of `report` that GET_DEVICE_INTERFACE_REPORT(`offset`,
/// `length`) asks for, capped at `max_portion` bytes, and the bytes that
/// remain after it. An offset past the end is an invalid request.
pub fn report_portion(
    report: &[u8],
    offset: u16,
    length: u16,
    max_portion: u16,
) -> Result<(&[u8], u16), ErrorCode> {
    let offset = offset as usize;
    if offset >= report.len() || length == 0 {
        return Err(ErrorCode::InvalidRequest);
    }
    let available = report.len() - offset;
    let take = available.min(length as usize).min(max_portion as usize);
    let remainder = u16::try_from(available - take).map_err(|_| ErrorCode::InvalidRequest)?;
    Ok((&report[offset..offset + take], remainder))
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_tdisp_report))]
mod tests {
    use super::*;

    /// A report with two ranges and 3 bytes of device-specific information
    /// (PCIe r7.0 table 11-14 layout; libspdm pci_tdisp.h
    /// pci_tdisp_device_interface_report_struct_t and pci_tdisp_mmio_range_t).
    const REPORT: [u8; 55] = [
        0x02, 0x00, 0x00, 0x00, // interface_info DMA_WITHOUT_PASID, reserved
        0x01, 0x80, 0x00, 0x00, // MSI-X control 0x8001, LNR control 0
        0x00, 0x00, 0x00, 0x00, // TPH control
        0x02, 0x00, 0x00, 0x00, // two ranges
        0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, // 0xfe000000
        0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 4 pages, attrs 0, id 0
        0x00, 0x40, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, // 0xfe004000
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, // 1 page, MSIX_TABLE, id 1
        0x03, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, // 3 bytes of info
    ];

    #[test]
    fn layout_sizes() {
        assert_eq!(core::mem::size_of::<ReportHeader>(), 16);
        assert_eq!(core::mem::size_of::<MmioRange>(), 16);
    }

    #[test]
    fn parses_vector() {
        let report = InterfaceReport::parse(&REPORT);
        assert!(report.is_ok());
        if let Ok(r) = report {
            assert_eq!(r.header.interface_info.get(), interface_info::DMA_WITHOUT_PASID);
            assert_eq!(r.header.msix_message_control.get(), 0x8001);
            assert_eq!(r.ranges.len(), 2);
            assert_eq!(r.ranges[0].first_page.get(), 0xfe00_0000);
            assert_eq!(r.ranges[0].len(), 4 * PAGE_SIZE);
            assert_eq!(r.ranges[1].range_attributes.get(), range_attributes::MSIX_TABLE);
            assert_eq!(r.ranges[1].range_id.get(), 1);
            assert_eq!(r.device_specific_info, &[0xaa, 0xbb, 0xcc][..]);
            assert_eq!(r.encoded_len(), REPORT.len());
        }
    }

    #[test]
    fn encodes_vector() {
        let header = ReportHeader {
            interface_info: U16::new(interface_info::DMA_WITHOUT_PASID),
            reserved: U16::new(0),
            msix_message_control: U16::new(0x8001),
            lnr_control: U16::new(0),
            tph_control: U32::new(0),
            mmio_range_count: U32::new(0), // filled in by encode
        };
        let ranges = [
            MmioRange::new(0xfe00_0000, 4, 0, 0),
            MmioRange::new(0xfe00_4000, 1, range_attributes::MSIX_TABLE, 1),
        ];
        let report = InterfaceReport { header: &header, ranges: &ranges, device_specific_info: &[0xaa, 0xbb, 0xcc] };
        let mut buf = [0u8; 64];
        assert_eq!(report.encode(&mut buf), Ok(REPORT.len()));
        assert_eq!(&buf[..REPORT.len()], &REPORT[..]);
        assert_eq!(
            report.encode(&mut buf[..54]),
            Err(Error::BufferTooSmall { needed: 55, got: 54 })
        );
    }

    #[test]
    fn rejects_bad_reports() {
        for len in 0..REPORT.len() {
            assert!(InterfaceReport::parse(&REPORT[..len]).is_err());
        }
        let mut long = [0u8; 56];
        long[..55].copy_from_slice(&REPORT);
        assert_eq!(
            InterfaceReport::parse(&long).map(|_| ()),
            Err(Error::TrailingBytes { expected: 55, got: 56 })
        );
        let mut r = REPORT;
        r[12] = 0xff; // 255 ranges claimed
        assert!(InterfaceReport::parse(&r).is_err());
        r = REPORT;
        r[12..16].copy_from_slice(&[0xff; 4]); // count overflows a length
        assert!(InterfaceReport::parse(&r).is_err());
        r = REPORT;
        r[2] = 1; // reserved
        assert_eq!(InterfaceReport::parse(&r).map(|_| ()), Err(Error::ReservedNotZero));
        r = REPORT;
        r[0] = 0x40; // undefined interface_info bit
        assert_eq!(InterfaceReport::parse(&r).map(|_| ()), Err(Error::ReservedNotZero));
        r = REPORT;
        r[44] = 0x10; // undefined range attribute
        assert_eq!(InterfaceReport::parse(&r).map(|_| ()), Err(Error::ReservedNotZero));
        r = REPORT;
        r[16] = 0x01; // unaligned first page
        assert_eq!(InterfaceReport::parse(&r).map(|_| ()), Err(Error::InvalidField));
        r = REPORT;
        r[48] = 4; // info length past the end
        assert!(InterfaceReport::parse(&r).is_err());
    }

    #[test]
    fn portions_walk_the_report() {
        // 55 bytes in portions of at most 16: 16+16+16+7, remainders 39, 23, 7, 0.
        let mut offset = 0u16;
        let mut seen = 0;
        let mut remainders = [0u16; 4];
        loop {
            let (portion, remainder) = report_portion(&REPORT, offset, 0xffff, 16).unwrap_or((&[], 0));
            assert!(!portion.is_empty());
            assert_eq!(portion, &REPORT[offset as usize..offset as usize + portion.len()]);
            remainders[seen] = remainder;
            seen += 1;
            offset += portion.len() as u16;
            if remainder == 0 {
                break;
            }
        }
        assert_eq!(seen, 4);
        assert_eq!(remainders, [39, 23, 7, 0]);
        assert_eq!(report_portion(&REPORT, 50, 2, 16), Ok((&REPORT[50..52], 3)));
        assert_eq!(report_portion(&REPORT, 55, 1, 16), Err(ErrorCode::InvalidRequest));
        assert_eq!(report_portion(&REPORT, 0, 0, 16), Err(ErrorCode::InvalidRequest));
    }
}
