// SPDX-License-Identifier: GPL-2.0

//! EMULATION: what the firmware keeps of a connected device: the evidence
//! of its SPDM connection, its IDE stream keys, and its TDI contexts with
//! their state mirrored from the DSM.

use kernel::prelude::*;

use crate::tdi_state::TdiState;
use crate::tdisp::NONCE_LEN;
use crate::tdisp_report::InterfaceReport;

/// One MMIO range of a locked interface report, as the host sees it.
#[derive(Clone, Copy)]
pub(crate) struct ReportRange {
    /// Host physical address (report address less the reporting offset).
    pub(crate) hpa: u64,
    /// Bytes.
    pub(crate) len: u64,
    /// Whether the owning TVM accepted it into its secure stage-2.
    pub(crate) mapped: bool,
}

/// A TDI the firmware tracks.
///
/// # Invariants
///
/// `nonce` is `Some` only while `state` is `ConfigLocked`; `tvm` is `Some`
/// from a successful bind to its unbind.
pub(crate) struct TdiContext {
    /// TDISP interface id (the function's requester id).
    pub(crate) id: u32,
    /// The TVM it is bound to.
    pub(crate) tvm: Option<u64>,
    /// Its TDISP state, as the DSM last reported it.
    pub(crate) state: TdiState,
    /// The START_INTERFACE nonce of the current lock; never leaves the firmware.
    pub(crate) nonce: Option<[u8; NONCE_LEN]>,
    /// The interface report read after the lock.
    pub(crate) report: KVec<u8>,
    /// The MMIO reporting offset of the current lock.
    pub(crate) mmio_offset: u64,
    /// Its MMIO ranges.
    pub(crate) ranges: KVec<ReportRange>,
    /// Whether the TVM accepted its DMA.
    pub(crate) dma_accepted: bool,
}

impl TdiContext {
    /// A TDI not bound, in `state`.
    pub(crate) fn new(id: u32, state: TdiState) -> Self {
        Self {
            id,
            tvm: None,
            state,
            nonce: None,
            report: KVec::new(),
            mmio_offset: 0,
            ranges: KVec::new(),
            dma_accepted: false,
        }
    }

    /// Takes `report` (MMIO addresses offset by `mmio_offset`) as the
    /// locked interface's report.
    pub(crate) fn set_report(&mut self, report: KVec<u8>, mmio_offset: u64) -> Result<(), crate::firmware::Status> {
        use crate::firmware::Status;
        let parsed = InterfaceReport::parse(&report).map_err(|e| {
            pr_warn!("EMULATED TSM: TDI {:#x}: interface report refused: {}\n", self.id, e);
            Status::Io
        })?;
        let mut ranges = KVec::with_capacity(parsed.ranges.len(), GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        for range in parsed.ranges {
            let hpa = range.first_page.get().wrapping_sub(mmio_offset);
            ranges.push(ReportRange { hpa, len: range.len(), mapped: false }, GFP_KERNEL).map_err(|_| Status::NoMemory)?;
        }
        self.ranges = ranges;
        self.report = report;
        self.mmio_offset = mmio_offset;
        Ok(())
    }

    /// Forgets the lock: nonce, report, acceptances.
    pub(crate) fn clear_lock(&mut self) {
        self.nonce = None;
        self.mmio_offset = 0;
        self.report.clear();
        self.ranges.clear();
        self.dma_accepted = false;
    }

    /// Whether every MMIO range was accepted.
    pub(crate) fn all_mapped(&self) -> bool {
        !self.ranges.is_empty() && self.ranges.iter().all(|r| r.mapped)
    }
}

/// The live keys of a selective IDE stream.
#[derive(Clone, Copy)]
pub(crate) struct IdeStream {
    /// Stream ID.
    pub(crate) stream_id: u8,
    /// The root port partner (segment << 16 | requester id).
    pub(crate) root_port: u32,
}

/// A device the firmware connected to.
pub(crate) struct Device {
    /// PCI segment << 16 | requester id of its DSM function.
    pub(crate) id: u32,
    /// SHA-384 digest of its certificate chain (slot 0).
    pub(crate) cert_digest: [u8; 48],
    /// Its SPDM measurement record.
    pub(crate) measurements: KVec<u8>,
    /// Its IDE stream, while keys are live.
    pub(crate) ide: Option<IdeStream>,
    /// TDIs with state the firmware keeps.
    pub(crate) tdis: KVec<TdiContext>,
}

impl Device {
    /// The TDI context of `tdi`, if any.
    pub(crate) fn tdi_mut(&mut self, tdi: u32) -> Option<&mut TdiContext> {
        self.tdis.iter_mut().find(|t| t.id == tdi)
    }

    /// Whether any TDI is bound.
    pub(crate) fn has_bound_tdis(&self) -> bool {
        self.tdis.iter().any(|t| t.tvm.is_some())
    }
}
