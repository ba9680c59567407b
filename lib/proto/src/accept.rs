// SPDX-License-Identifier: GPL-2.0

//! What a TVM checks before it accepts a TDI: the report and measurements it
//! fetched against the TSM's evidence, the report's MMIO ranges against the
//! BARs it sees, the interface's INTERFACE_INFO, and the measurements
//! against the owner's reference values.
//!
//! Digests are computed by the caller (the kernel's lib/crypto, or a host
//! library); this module only compares.

use core::fmt;

use crate::error::Error;
use crate::spdm::MeasurementBlocks;
use crate::tdisp_report::{interface_info, range_attributes, InterfaceReport, PAGE_SIZE};

/// Bytes of a SHA-384 digest.
pub const DIGEST_LEN: usize = 48;

/// Most reference values a policy holds.
pub const MAX_REFERENCE_VALUES: usize = 8;

/// A memory BAR of the device as the TVM sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// BAR index, 0..5.
    pub index: u8,
    /// Guest physical address.
    pub start: u64,
    /// Bytes.
    pub len: u64,
}

/// INTERFACE_INFO bits a TVM accepts: no firmware update while locked is
/// required; DMA without PASID is the only DMA mode the TVM sets up.
pub const REQUIRED_INFO: u16 = interface_info::NO_UPDATE_AFTER_LOCK;
/// INTERFACE_INFO bits that may be set.
pub const ALLOWED_INFO: u16 = interface_info::NO_UPDATE_AFTER_LOCK | interface_info::DMA_WITHOUT_PASID;

/// An expected measurement: block `index` must hold `digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceValue {
    /// Measurement index.
    pub index: u8,
    /// Expected value.
    pub digest: [u8; DIGEST_LEN],
}

/// Why a TVM refuses a TDI. Its `Display` is the reason the guest shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The report fetched does not hash to the TSM's digest.
    ReportDigest,
    /// The report fetched is not as long as the TSM says.
    ReportLength {
        /// Bytes fetched.
        got: usize,
        /// Bytes the TSM vouches for.
        vouched: u32,
    },
    /// The report does not parse.
    Report(Error),
    /// The measurement record does not hash to the TSM's digest.
    MeasurementsDigest,
    /// The measurement record does not parse.
    Measurements(Error),
    /// INTERFACE_INFO has bits the TVM does not accept, or lacks required ones.
    InterfaceInfo(u16),
    /// A range names no memory BAR of the device.
    RangeWithoutBar {
        /// Position in the report.
        range: usize,
        /// Its range id.
        id: u16,
    },
    /// A range lies outside the BAR it names.
    RangeOutsideBar {
        /// Position in the report.
        range: usize,
        /// Its address.
        address: u64,
        /// Its length.
        len: u64,
        /// The BAR.
        bar: Bar,
    },
    /// A range is empty or not page aligned.
    RangeMalformed {
        /// Position in the report.
        range: usize,
    },
    /// Two ranges overlap.
    RangesOverlap {
        /// The first.
        first: usize,
        /// The second.
        second: usize,
    },
    /// A memory BAR of the device has no range in the report.
    BarNotReported(u8),
    /// A range has attributes the TVM does not handle (MSI-X, non-TEE).
    RangeAttributes {
        /// Position in the report.
        range: usize,
        /// Its attribute bits.
        attributes: u16,
    },
    /// No reference values were given.
    NoPolicy,
    /// The device reports no measurement with this index.
    MeasurementMissing(u8),
    /// The measurement with this index is not the expected value.
    MeasurementMismatch(u8),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ReportDigest => write!(f, "interface report does not match the TSM's evidence (SHA-384 differs)"),
            Refusal::ReportLength { got, vouched } => {
                write!(f, "interface report is {got} bytes, the TSM's evidence says {vouched}")
            }
            Refusal::Report(e) => write!(f, "interface report malformed: {e}"),
            Refusal::MeasurementsDigest => write!(f, "measurements do not match the TSM's evidence (SHA-384 differs)"),
            Refusal::Measurements(e) => write!(f, "measurement record malformed: {e}"),
            Refusal::InterfaceInfo(info) => write!(
                f,
                "INTERFACE_INFO {info:#06x} not acceptable (required {REQUIRED_INFO:#06x}, allowed {ALLOWED_INFO:#06x})"
            ),
            Refusal::RangeWithoutBar { range, id } => write!(f, "MMIO range {range} names BAR {id}, not a memory BAR of the device"),
            Refusal::RangeOutsideBar { range, address, len, bar } => write!(
                f,
                "MMIO range {range} at {address:#x}+{len:#x} is outside BAR {} at {:#x}+{:#x}",
                bar.index, bar.start, bar.len
            ),
            Refusal::RangeMalformed { range } => write!(f, "MMIO range {range} is empty or not page aligned"),
            Refusal::RangesOverlap { first, second } => write!(f, "MMIO ranges {first} and {second} overlap"),
            Refusal::BarNotReported(index) => write!(f, "BAR {index} has no MMIO range in the report"),
            Refusal::RangeAttributes { range, attributes } => {
                write!(f, "MMIO range {range} has attributes {attributes:#x} the TVM does not handle")
            }
            Refusal::NoPolicy => write!(f, "no measurement policy: write reference values to policy first"),
            Refusal::MeasurementMissing(index) => write!(f, "the device reports no measurement {index}"),
            Refusal::MeasurementMismatch(index) => write!(f, "measurement {index} does not match the policy"),
        }
    }
}

// The kernel prints through its own `Display` trait.
#[cfg(teeio_kernel)]
impl kernel::fmt::Display for Refusal {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The TSM's digests of what the TVM fetched, and the report's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vouched<'a> {
    /// SHA-384 of the interface report.
    pub report_digest: &'a [u8; DIGEST_LEN],
    /// Length of the interface report.
    pub report_len: u32,
    /// SHA-384 of the measurement record.
    pub measurements_digest: &'a [u8; DIGEST_LEN],
}

/// Checks the fetched report and record against the TSM's evidence, given
/// their digests as the TVM computed them.
pub fn check_evidence(
    vouched: &Vouched<'_>,
    report_len: usize,
    report_digest: &[u8; DIGEST_LEN],
    measurements_digest: &[u8; DIGEST_LEN],
) -> Result<(), Refusal> {
    if report_len != vouched.report_len as usize {
        return Err(Refusal::ReportLength { got: report_len, vouched: vouched.report_len });
    }
    if report_digest != vouched.report_digest {
        return Err(Refusal::ReportDigest);
    }
    if measurements_digest != vouched.measurements_digest {
        return Err(Refusal::MeasurementsDigest);
    }
    Ok(())
}

/// Checks INTERFACE_INFO and each MMIO range against the device's memory
/// BARs: every range lies inside the BAR its range id names, ranges do not
/// overlap, and every BAR is reported.
pub fn check_report(report: &InterfaceReport<'_>, bars: &[Bar]) -> Result<(), Refusal> {
    let info = report.header.interface_info.get();
    if info & REQUIRED_INFO != REQUIRED_INFO || info & !ALLOWED_INFO != 0 {
        return Err(Refusal::InterfaceInfo(info));
    }
    for (i, r) in report.ranges.iter().enumerate() {
        let (address, len) = (r.first_page.get(), r.len());
        if len == 0 || address % PAGE_SIZE != 0 {
            return Err(Refusal::RangeMalformed { range: i });
        }
        let attributes = r.range_attributes.get();
        if attributes & !range_attributes::IS_MEM_ATTR_UPDATABLE != 0 {
            return Err(Refusal::RangeAttributes { range: i, attributes });
        }
        let id = r.range_id.get();
        let bar = *bars.iter().find(|b| u16::from(b.index) == id).ok_or(Refusal::RangeWithoutBar { range: i, id })?;
        let inside = address >= bar.start
            && address.checked_add(len).is_some_and(|end| bar.start.checked_add(bar.len).is_some_and(|bar_end| end <= bar_end));
        if !inside {
            return Err(Refusal::RangeOutsideBar { range: i, address, len, bar });
        }
        for (j, o) in report.ranges.iter().enumerate().take(i) {
            let (oa, ol) = (o.first_page.get(), o.len());
            if address < oa.saturating_add(ol) && oa < address.saturating_add(len) {
                return Err(Refusal::RangesOverlap { first: j, second: i });
            }
        }
    }
    if let Some(bar) = bars.iter().find(|b| !report.ranges.iter().any(|r| r.range_id.get() == u16::from(b.index))) {
        return Err(Refusal::BarNotReported(bar.index));
    }
    Ok(())
}

/// Checks the measurement record against the reference values: each one
/// names a block that must be there and hold exactly that value.
pub fn check_measurements(record: &[u8], policy: &[ReferenceValue]) -> Result<(), Refusal> {
    if policy.is_empty() {
        return Err(Refusal::NoPolicy);
    }
    for reference in policy {
        let mut found = None;
        for block in MeasurementBlocks::of_record(record) {
            let block = block.map_err(Refusal::Measurements)?;
            if block.index == reference.index {
                found = Some(block.value);
            }
        }
        match found {
            None => return Err(Refusal::MeasurementMissing(reference.index)),
            Some(value) if value != reference.digest.as_slice() => return Err(Refusal::MeasurementMismatch(reference.index)),
            Some(_) => (),
        }
    }
    Ok(())
}

/// Parses one reference value, `INDEX HEX` (96 hex digits).
pub fn parse_reference_value(line: &str) -> Option<ReferenceValue> {
    let mut words = line.split_ascii_whitespace();
    let index = words.next()?.parse::<u8>().ok()?;
    let hex = words.next()?.as_bytes();
    if words.next().is_some() || hex.len() != 2 * DIGEST_LEN {
        return None;
    }
    let mut digest = [0u8; DIGEST_LEN];
    for (d, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let nibble = |c: u8| (c as char).to_digit(16);
        *d = (nibble(pair[0])? * 16 + nibble(pair[1])?) as u8;
    }
    Some(ReferenceValue { index, digest })
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_accept))]
mod tests {
    use super::*;
    use crate::spdm::{measurement_type, MeasurementBlock};
    use crate::tdisp_report::{MmioRange, ReportHeader};
    use crate::wire::Writer;
    use zerocopy::byteorder::little_endian::{U16, U32};

    const BAR0: Bar = Bar { index: 0, start: 0x8000_0000, len: 0x4000 };
    const BAR2: Bar = Bar { index: 2, start: 0x8001_0000, len: 0x1000 };

    fn header(info: u16) -> ReportHeader {
        ReportHeader {
            interface_info: U16::new(info),
            reserved: U16::new(0),
            msix_message_control: U16::new(0),
            lnr_control: U16::new(0),
            tph_control: U32::new(0),
            mmio_range_count: U32::new(0),
        }
    }

    fn check(info: u16, ranges: &[MmioRange], bars: &[Bar]) -> Result<(), Refusal> {
        let h = header(info);
        check_report(&InterfaceReport { header: &h, ranges, device_specific_info: &[] }, bars)
    }

    const INFO: u16 = interface_info::NO_UPDATE_AFTER_LOCK | interface_info::DMA_WITHOUT_PASID;

    #[test]
    fn ranges_inside_their_bars_pass() {
        let ranges = [MmioRange::new(0x8000_0000, 4, 0, 0), MmioRange::new(0x8001_0000, 1, 0, 2)];
        assert_eq!(check(INFO, &ranges, &[BAR0, BAR2]), Ok(()));
    }

    #[test]
    fn ranges_elsewhere_are_refused() {
        let shifted = [MmioRange::new(0x8000_1000, 4, 0, 0)];
        assert_eq!(
            check(INFO, &shifted, &[BAR0]),
            Err(Refusal::RangeOutsideBar { range: 0, address: 0x8000_1000, len: 0x4000, bar: BAR0 })
        );
        let no_bar = [MmioRange::new(0x8000_0000, 4, 0, 1)];
        assert_eq!(check(INFO, &no_bar, &[BAR0]), Err(Refusal::RangeWithoutBar { range: 0, id: 1 }));
        let overlap = [MmioRange::new(0x8000_0000, 2, 0, 0), MmioRange::new(0x8000_1000, 1, 0, 0)];
        assert_eq!(check(INFO, &overlap, &[BAR0]), Err(Refusal::RangesOverlap { first: 0, second: 1 }));
        let empty = [MmioRange::new(0x8000_0000, 0, 0, 0)];
        assert_eq!(check(INFO, &empty, &[BAR0]), Err(Refusal::RangeMalformed { range: 0 }));
        let wrapping = [MmioRange::new(u64::MAX & !0xfff, 2, 0, 0)];
        assert!(matches!(check(INFO, &wrapping, &[BAR0]), Err(Refusal::RangeOutsideBar { .. })));
        assert_eq!(check(INFO, &[MmioRange::new(0x8000_0000, 4, 0, 0)], &[BAR0, BAR2]), Err(Refusal::BarNotReported(2)));
        let msix = [MmioRange::new(0x8000_0000, 4, range_attributes::MSIX_TABLE, 0)];
        assert_eq!(
            check(INFO, &msix, &[BAR0]),
            Err(Refusal::RangeAttributes { range: 0, attributes: range_attributes::MSIX_TABLE })
        );
    }

    #[test]
    fn interface_info_is_checked() {
        let ranges = [MmioRange::new(0x8000_0000, 4, 0, 0)];
        assert_eq!(check(interface_info::NO_UPDATE_AFTER_LOCK, &ranges, &[BAR0]), Ok(()));
        assert_eq!(
            check(interface_info::DMA_WITHOUT_PASID, &ranges, &[BAR0]),
            Err(Refusal::InterfaceInfo(interface_info::DMA_WITHOUT_PASID))
        );
        let ats = INFO | interface_info::ATS_SUPPORTED;
        assert_eq!(check(ats, &ranges, &[BAR0]), Err(Refusal::InterfaceInfo(ats)));
    }

    #[test]
    fn evidence_digests_are_compared() {
        let (r, m) = ([1u8; DIGEST_LEN], [2u8; DIGEST_LEN]);
        let vouched = Vouched { report_digest: &r, report_len: 64, measurements_digest: &m };
        assert_eq!(check_evidence(&vouched, 64, &r, &m), Ok(()));
        assert_eq!(check_evidence(&vouched, 65, &r, &m), Err(Refusal::ReportLength { got: 65, vouched: 64 }));
        assert_eq!(check_evidence(&vouched, 64, &m, &m), Err(Refusal::ReportDigest));
        assert_eq!(check_evidence(&vouched, 64, &r, &r), Err(Refusal::MeasurementsDigest));
    }

    #[test]
    fn measurements_follow_the_policy() {
        let (fw, cfg) = ([0xaau8; DIGEST_LEN], [0xbbu8; DIGEST_LEN]);
        let mut record = [0u8; 2 * (4 + 3 + DIGEST_LEN)];
        let mut w = Writer::new(&mut record);
        for (index, value) in [(1, &fw), (2, &cfg)] {
            let block = MeasurementBlock { index, value_type: measurement_type::MUTABLE_FIRMWARE, value };
            assert_eq!(block.encode(&mut w), Ok(()));
        }
        let n = w.len();
        let record = &record[..n];
        let want = |index, digest| ReferenceValue { index, digest };
        assert_eq!(check_measurements(record, &[]), Err(Refusal::NoPolicy));
        assert_eq!(check_measurements(record, &[want(1, fw)]), Ok(()));
        assert_eq!(check_measurements(record, &[want(1, fw), want(2, cfg)]), Ok(()));
        assert_eq!(check_measurements(record, &[want(1, cfg)]), Err(Refusal::MeasurementMismatch(1)));
        assert_eq!(check_measurements(record, &[want(3, fw)]), Err(Refusal::MeasurementMissing(3)));
        assert!(matches!(check_measurements(&record[..n - 1], &[want(2, cfg)]), Err(Refusal::Measurements(_))));
    }

    #[test]
    fn reference_values_parse() {
        let line = "1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(parse_reference_value(line), Some(ReferenceValue { index: 1, digest: [0xaa; DIGEST_LEN] }));
        assert_eq!(parse_reference_value("1 aa"), None);
        assert_eq!(parse_reference_value("x aa"), None);
        let bad = "1 gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(parse_reference_value(bad), None);
    }
}
