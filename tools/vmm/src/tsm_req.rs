// SPDX-License-Identifier: GPL-2.0

//! Guest request payloads (linux/teeio_tsm.h): what a TVM asks the platform
//! TSM about its TDI, the GET_STATE and GET_EVIDENCE responses, the
//! interface report's MMIO ranges, and the emulated TSM's status codes.

use core::fmt;
use core::mem::{offset_of, size_of};

use teeio_proto::tdisp_report::InterfaceReport;

use crate::error::{Error, Result};
use crate::uapi::{self, teeio_tsm_guest_evidence, teeio_tsm_guest_req, teeio_tsm_guest_state};

/// How the host lets a request through (enum teeio_tsm_req_op).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// Reads only.
    Info,
    /// Changes the TDI's state.
    StateChange,
}

impl OpClass {
    /// The uAPI value.
    pub fn raw(self) -> u32 {
        match self {
            OpClass::Info => uapi::TEEIO_TSM_REQ_OP_INFO,
            OpClass::StateChange => uapi::TEEIO_TSM_REQ_OP_STATE_CHANGE,
        }
    }

    /// The class of a uAPI value.
    pub fn from_raw(op: u32) -> Option<Self> {
        [OpClass::Info, OpClass::StateChange].into_iter().find(|c| c.raw() == op)
    }
}

/// A guest request operation (enum teeio_tsm_guest_op).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestOp {
    GetReport,
    GetState,
    GetMeasurements,
    MapMmio,
    AcceptDma,
    Start,
    Stop,
    GetEvidence,
}

impl GuestOp {
    /// The uAPI value.
    pub fn raw(self) -> u8 {
        match self {
            GuestOp::GetReport => uapi::TEEIO_TSM_GUEST_GET_REPORT,
            GuestOp::GetState => uapi::TEEIO_TSM_GUEST_GET_STATE,
            GuestOp::GetMeasurements => uapi::TEEIO_TSM_GUEST_GET_MEASUREMENTS,
            GuestOp::MapMmio => uapi::TEEIO_TSM_GUEST_MAP_MMIO,
            GuestOp::AcceptDma => uapi::TEEIO_TSM_GUEST_ACCEPT_DMA,
            GuestOp::Start => uapi::TEEIO_TSM_GUEST_START,
            GuestOp::Stop => uapi::TEEIO_TSM_GUEST_STOP,
            GuestOp::GetEvidence => uapi::TEEIO_TSM_GUEST_GET_EVIDENCE,
        }
    }

    /// The operation of a uAPI value.
    pub fn from_raw(op: u8) -> Option<Self> {
        [
            GuestOp::GetReport,
            GuestOp::GetState,
            GuestOp::GetMeasurements,
            GuestOp::MapMmio,
            GuestOp::AcceptDma,
            GuestOp::Start,
            GuestOp::Stop,
            GuestOp::GetEvidence,
        ]
        .into_iter()
        .find(|o| o.raw() == op)
    }

    /// The class the host must relay it with.
    pub fn class(self) -> OpClass {
        match self {
            GuestOp::GetReport | GuestOp::GetState | GuestOp::GetMeasurements | GuestOp::GetEvidence => OpClass::Info,
            GuestOp::MapMmio | GuestOp::AcceptDma | GuestOp::Start | GuestOp::Stop => OpClass::StateChange,
        }
    }

    /// Its name in the header, without the prefix.
    pub fn name(self) -> &'static str {
        match self {
            GuestOp::GetReport => "GET_REPORT",
            GuestOp::GetState => "GET_STATE",
            GuestOp::GetMeasurements => "GET_MEASUREMENTS",
            GuestOp::MapMmio => "MAP_MMIO",
            GuestOp::AcceptDma => "ACCEPT_DMA",
            GuestOp::Start => "START",
            GuestOp::Stop => "STOP",
            GuestOp::GetEvidence => "GET_EVIDENCE",
        }
    }
}

/// Bytes of a request.
pub const GUEST_REQ_LEN: usize = size_of::<teeio_tsm_guest_req>();

/// One guest request (struct teeio_tsm_guest_req).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRequest {
    /// What to do.
    pub op: GuestOp,
    /// The TDI: the vDEVICE's virt_id.
    pub tdi_id: u32,
    /// Per operation.
    pub arg0: u64,
    /// Per operation.
    pub arg1: u64,
}

impl GuestRequest {
    /// `op` on `tdi_id` without arguments.
    pub fn new(op: GuestOp, tdi_id: u32) -> Self {
        Self { op, tdi_id, arg0: 0, arg1: 0 }
    }

    /// GET_REPORT of `len` bytes from `offset`.
    pub fn report(tdi_id: u32, offset: u64, len: u64) -> Self {
        Self { op: GuestOp::GetReport, tdi_id, arg0: offset, arg1: len }
    }

    /// MAP_MMIO of `len` bytes the TVM sees at `gpa`.
    pub fn map_mmio(tdi_id: u32, gpa: u64, len: u64) -> Self {
        Self { op: GuestOp::MapMmio, tdi_id, arg0: gpa, arg1: len }
    }

    /// The request's bytes, in the host's byte order as the C struct has them.
    pub fn encode(&self) -> [u8; GUEST_REQ_LEN] {
        let mut b = [0u8; GUEST_REQ_LEN];
        b[offset_of!(teeio_tsm_guest_req, version)] = uapi::TEEIO_TSM_GUEST_REQ_VERSION;
        b[offset_of!(teeio_tsm_guest_req, op)] = self.op.raw();
        put(&mut b, offset_of!(teeio_tsm_guest_req, tdi_id), &self.tdi_id.to_ne_bytes());
        put(&mut b, offset_of!(teeio_tsm_guest_req, arg0), &self.arg0.to_ne_bytes());
        put(&mut b, offset_of!(teeio_tsm_guest_req, arg1), &self.arg1.to_ne_bytes());
        b
    }

    /// Reads a request back from its bytes, as the host bridge checks it.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let bad = |detail: String| Error::Malformed { what: "guest request", detail };
        if b.len() != GUEST_REQ_LEN {
            return Err(bad(format!("{} bytes, not {GUEST_REQ_LEN}", b.len())));
        }
        let version = b[offset_of!(teeio_tsm_guest_req, version)];
        let reserved = u16::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_req, reserved)));
        if version != uapi::TEEIO_TSM_GUEST_REQ_VERSION || reserved != 0 {
            return Err(bad(format!("version {version}, reserved {reserved:#x}")));
        }
        let raw_op = b[offset_of!(teeio_tsm_guest_req, op)];
        let op = GuestOp::from_raw(raw_op).ok_or_else(|| bad(format!("unknown op {raw_op}")))?;
        Ok(Self {
            op,
            tdi_id: u32::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_req, tdi_id))),
            arg0: u64::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_req, arg0))),
            arg1: u64::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_req, arg1))),
        })
    }
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

/// `N` bytes at `at`; the caller checked the length.
fn field<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

/// A TDISP TDI state (TEEIO_TDI_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdiState {
    ConfigUnlocked,
    ConfigLocked,
    Run,
    Error,
    /// A value the header does not define.
    Unknown(u8),
}

impl TdiState {
    /// The state of a uAPI value.
    pub fn from_raw(v: u8) -> Self {
        match v {
            uapi::TEEIO_TDI_CONFIG_UNLOCKED => TdiState::ConfigUnlocked,
            uapi::TEEIO_TDI_CONFIG_LOCKED => TdiState::ConfigLocked,
            uapi::TEEIO_TDI_RUN => TdiState::Run,
            uapi::TEEIO_TDI_ERROR => TdiState::Error,
            other => TdiState::Unknown(other),
        }
    }
}

impl fmt::Display for TdiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TdiState::ConfigUnlocked => f.write_str("CONFIG_UNLOCKED"),
            TdiState::ConfigLocked => f.write_str("CONFIG_LOCKED"),
            TdiState::Run => f.write_str("RUN"),
            TdiState::Error => f.write_str("ERROR"),
            TdiState::Unknown(v) => write!(f, "unknown state {v}"),
        }
    }
}

/// Bytes of a GET_STATE response.
pub const GUEST_STATE_LEN: usize = size_of::<teeio_tsm_guest_state>();

/// A GET_STATE response (struct teeio_tsm_guest_state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestState {
    /// The TDI's state.
    pub tdi_state: TdiState,
    /// Whether the TVM accepted DMA.
    pub dma_accepted: bool,
    /// MMIO ranges in the interface report.
    pub mmio_ranges: u16,
    /// Ranges the TVM accepted so far.
    pub mmio_mapped: u16,
}

impl GuestState {
    /// Parses a whole response.
    pub fn parse(b: &[u8]) -> Result<Self> {
        if b.len() != GUEST_STATE_LEN {
            return Err(Error::Malformed {
                what: "GET_STATE response",
                detail: format!("{} bytes, not {GUEST_STATE_LEN}", b.len()),
            });
        }
        Ok(Self {
            tdi_state: TdiState::from_raw(b[offset_of!(teeio_tsm_guest_state, tdi_state)]),
            dma_accepted: b[offset_of!(teeio_tsm_guest_state, dma_accepted)] != 0,
            mmio_ranges: u16::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_state, mmio_ranges))),
            mmio_mapped: u16::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_state, mmio_mapped))),
        })
    }
}

impl fmt::Display for GuestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TDI {}, MMIO {}/{} accepted, DMA {}",
            self.tdi_state,
            self.mmio_mapped,
            self.mmio_ranges,
            if self.dma_accepted { "accepted" } else { "not accepted" }
        )
    }
}

/// Bytes of a GET_EVIDENCE response.
pub const GUEST_EVIDENCE_LEN: usize = size_of::<teeio_tsm_guest_evidence>();

/// A SHA-384 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(pub [u8; uapi::TEEIO_TSM_DIGEST_SIZE]);

impl Digest {
    /// Its first eight bytes in hex, for one-line accounts.
    pub fn short(&self) -> String {
        format!("{}..", hex(&self.0[..8]))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// Bytes as lowercase hex, no separators.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes from hex; an even number of digits, nothing else.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("'{s}' is no whole number of hex bytes"));
    }
    // ASCII hex digits only: every two-byte slice is on a char boundary.
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

/// A GET_EVIDENCE response (struct teeio_tsm_guest_evidence): what the TSM
/// vouches for about the locked TDI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Of the interface report the TSM read at LOCK_INTERFACE.
    pub report_digest: Digest,
    /// Of the device's measurement record, as GET_MEASUREMENTS returns it.
    pub measurements_digest: Digest,
    /// Of the device's certificate chain (slot 0).
    pub cert_digest: Digest,
    /// The offset the host locked the TDI with.
    pub mmio_reporting_offset: u64,
    /// Bytes in the interface report.
    pub report_len: u32,
}

impl Evidence {
    /// Parses a whole response.
    pub fn parse(b: &[u8]) -> Result<Self> {
        if b.len() != GUEST_EVIDENCE_LEN {
            return Err(Error::Malformed {
                what: "GET_EVIDENCE response",
                detail: format!("{} bytes, not {GUEST_EVIDENCE_LEN}", b.len()),
            });
        }
        Ok(Self {
            report_digest: Digest(field(b, offset_of!(teeio_tsm_guest_evidence, report_digest))),
            measurements_digest: Digest(field(b, offset_of!(teeio_tsm_guest_evidence, measurements_digest))),
            cert_digest: Digest(field(b, offset_of!(teeio_tsm_guest_evidence, cert_digest))),
            mmio_reporting_offset: u64::from_ne_bytes(field(
                b,
                offset_of!(teeio_tsm_guest_evidence, mmio_reporting_offset),
            )),
            report_len: u32::from_ne_bytes(field(b, offset_of!(teeio_tsm_guest_evidence, report_len))),
        })
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "report {} bytes sha384 {}, measurements sha384 {}, certificates sha384 {}, MMIO reporting offset {:#x}",
            self.report_len,
            self.report_digest.short(),
            self.measurements_digest.short(),
            self.cert_digest.short(),
            self.mmio_reporting_offset
        )
    }
}

/// One MMIO range of an interface report: where the TVM sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportRange {
    /// Report address: the host address plus the lock's MMIO reporting
    /// offset, which is also the guest address the host bridge offers the
    /// region at.
    pub address: u64,
    /// Bytes.
    pub len: u64,
    /// The range's id (its BAR, for the emulated device).
    pub range_id: u16,
}

/// The MMIO ranges of a whole TDISP interface report.
pub fn report_ranges(report: &[u8]) -> Result<Vec<ReportRange>> {
    let parsed = InterfaceReport::parse(report)
        .map_err(|e| Error::Malformed { what: "interface report", detail: format!("{e:?}") })?;
    Ok(parsed
        .ranges
        .iter()
        .map(|r| ReportRange { address: r.first_page.get(), len: r.len(), range_id: r.range_id.get() })
        .collect())
}

/// The emulated platform TSM's status codes (TEEIO_TSM_* of its call ABI,
/// include/teeio/tsm_fw.h), which come back as a request's TSM code.
const TSM_STATUS: &[(i64, &str)] = &[
    (0, "SUCCESS"),
    (-1, "FAILED"),
    (-2, "NOT_SUPPORTED"),
    (-3, "INVALID_PARAM"),
    (-4, "DENIED"),
    (-5, "INVALID_ADDRESS"),
    (-6, "ALREADY_AVAILABLE"),
    (-10, "INVALID_STATE"),
    (-11, "BAD_RANGE"),
    (-12, "TIMEOUT"),
    (-13, "IO"),
    (-14, "NO_MEMORY"),
];

/// The name of a TSM code, "unknown" for codes the emulated TSM never returns.
pub fn tsm_status_name(code: u64) -> &'static str {
    TSM_STATUS.iter().find(|(c, _)| *c == code as i64).map_or("unknown", |&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_get_state() {
        let b = GuestRequest::new(GuestOp::GetState, 0x10).encode();
        assert_eq!(b.len(), 24);
        assert_eq!(b[0], 1, "version");
        assert_eq!(b[1], 2, "GET_STATE");
        assert_eq!(&b[2..4], &[0, 0], "reserved");
        assert_eq!(&b[4..8], &0x10u32.to_ne_bytes());
        assert_eq!(&b[8..24], &[0; 16]);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn encodes_map_mmio_bytes() {
        let b = GuestRequest::map_mmio(0x0100, 0xfe00_4000, 0x1000).encode();
        let want: [u8; 24] = [
            0x01, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // v1, MAP_MMIO, TDI 0x100
            0x00, 0x40, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, // gpa
            0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // len
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn round_trips_and_rejects() {
        for op in 1..=8 {
            let op = GuestOp::from_raw(op).expect("defined op");
            let r = GuestRequest { op, tdi_id: 0xbeef, arg0: u64::MAX, arg1: 7 };
            assert_eq!(GuestRequest::decode(&r.encode()).ok(), Some(r));
        }
        assert_eq!(GuestOp::from_raw(0), None);
        assert_eq!(GuestOp::from_raw(9), None);
        let mut b = GuestRequest::new(GuestOp::Start, 1).encode();
        b[0] = 2;
        assert!(GuestRequest::decode(&b).is_err());
        b[0] = 1;
        b[3] = 1;
        assert!(GuestRequest::decode(&b).is_err());
        b[3] = 0;
        b[1] = 9;
        assert!(GuestRequest::decode(&b).is_err());
        b[1] = 8;
        assert_eq!(GuestRequest::decode(&b).map(|r| r.op).ok(), Some(GuestOp::GetEvidence));
        assert!(GuestRequest::decode(&b[..23]).is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(GuestOp::GetState.class(), OpClass::Info);
        assert_eq!(GuestOp::GetReport.class(), OpClass::Info);
        assert_eq!(GuestOp::GetMeasurements.class(), OpClass::Info);
        assert_eq!(GuestOp::MapMmio.class(), OpClass::StateChange);
        assert_eq!(GuestOp::Stop.class(), OpClass::StateChange);
        assert_eq!(GuestOp::GetEvidence.class(), OpClass::Info);
        assert_eq!(GuestOp::GetEvidence.name(), "GET_EVIDENCE");
        assert_eq!(OpClass::Info.raw(), 0);
        assert_eq!(OpClass::StateChange.raw(), 1);
        assert_eq!(OpClass::from_raw(1), Some(OpClass::StateChange));
        assert_eq!(OpClass::from_raw(2), None);
    }

    #[test]
    fn parses_state() {
        let mut b = [0u8; 8];
        b[0] = uapi::TEEIO_TDI_RUN;
        b[1] = 1;
        b[2..4].copy_from_slice(&2u16.to_ne_bytes());
        b[4..6].copy_from_slice(&2u16.to_ne_bytes());
        let s = GuestState::parse(&b).expect("8 bytes");
        assert_eq!(s, GuestState { tdi_state: TdiState::Run, dma_accepted: true, mmio_ranges: 2, mmio_mapped: 2 });
        assert_eq!(s.to_string(), "TDI RUN, MMIO 2/2 accepted, DMA accepted");
        b[0] = 9;
        assert_eq!(GuestState::parse(&b).map(|s| s.tdi_state).ok(), Some(TdiState::Unknown(9)));
        assert!(GuestState::parse(&b[..7]).is_err());
        assert!(GuestState::parse(&[0; 9]).is_err());
    }

    #[test]
    fn parses_evidence() {
        let mut b = vec![0u8; GUEST_EVIDENCE_LEN];
        assert_eq!(b.len(), 160);
        b[..48].fill(0xab);
        b[48..96].fill(0x01);
        b[96] = 0xff;
        b[144..152].copy_from_slice(&0x2000_0000u64.to_ne_bytes());
        b[152..156].copy_from_slice(&84u32.to_ne_bytes());
        let e = Evidence::parse(&b).expect("160 bytes");
        assert_eq!(e.report_digest, Digest([0xab; 48]));
        assert_eq!(e.measurements_digest.0[47], 1);
        assert_eq!(e.cert_digest.0[0], 0xff);
        assert_eq!(e.mmio_reporting_offset, 0x2000_0000);
        assert_eq!(e.report_len, 84);
        assert_eq!(e.report_digest.to_string(), "ab".repeat(48));
        assert_eq!(
            e.to_string(),
            "report 84 bytes sha384 abababababababab.., measurements sha384 0101010101010101.., \
             certificates sha384 ff00000000000000.., MMIO reporting offset 0x20000000"
        );
        assert!(Evidence::parse(&b[..159]).is_err());
        assert!(Evidence::parse(&[0; 161]).is_err());
    }

    #[test]
    fn hex_both_ways() {
        assert_eq!(hex(&[0x00, 0x1f, 0xa0]), "001fa0");
        assert_eq!(parse_hex("001fA0"), Ok(vec![0x00, 0x1f, 0xa0]));
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("+1").is_err());
    }

    #[test]
    fn report_ranges_of_a_report() {
        // One 4-page range at 0xfe000000 (BAR 0), no device-specific info.
        let mut r = vec![0u8; 16];
        r[12] = 1;
        r.extend_from_slice(&0xfe00_0000u64.to_le_bytes());
        r.extend_from_slice(&4u32.to_le_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&0u32.to_le_bytes());
        let ranges = report_ranges(&r).expect("valid report");
        assert_eq!(ranges, vec![ReportRange { address: 0xfe00_0000, len: 0x4000, range_id: 0 }]);
        assert!(report_ranges(&r[..r.len() - 1]).is_err());
    }

    #[test]
    fn status_names() {
        assert_eq!(tsm_status_name(0), "SUCCESS");
        assert_eq!(tsm_status_name(-10i64 as u64), "INVALID_STATE");
        assert_eq!(tsm_status_name(-7i64 as u64), "unknown");
    }
}
