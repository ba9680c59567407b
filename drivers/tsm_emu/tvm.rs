// SPDX-License-Identifier: GPL-2.0

//! EMULATION: a TVM as the firmware keeps it: the MMIO regions the host
//! offered it, its secure stage-2 (which guest physical ranges map which
//! private MMIO) and its trusted IOMMU context (which TDIs may DMA to its
//! private memory).

use kernel::prelude::*;

/// A region of a TDI's MMIO the host offered a TVM at a guest address.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    /// The TDI whose MMIO it is.
    pub(crate) tdi: u32,
    /// Guest physical address.
    pub(crate) gpa: u64,
    /// Host physical address.
    pub(crate) hpa: u64,
    /// Bytes.
    pub(crate) len: u64,
}

impl Region {
    /// Whether `[gpa, gpa + len)` lies inside the region.
    pub(crate) fn covers(&self, gpa: u64, len: u64) -> bool {
        gpa >= self.gpa && len <= self.len && gpa - self.gpa <= self.len - len
    }

    fn overlaps(&self, gpa: u64, len: u64) -> bool {
        gpa < self.gpa.saturating_add(self.len) && self.gpa < gpa.saturating_add(len)
    }
}

/// One private MMIO mapping of the secure stage-2.
#[derive(Clone, Copy)]
pub(crate) struct Mapping {
    /// The TDI it belongs to.
    pub(crate) tdi: u32,
    /// Guest physical address.
    pub(crate) gpa: u64,
    /// Host physical address.
    pub(crate) hpa: u64,
    /// Bytes.
    pub(crate) len: u64,
}

/// A TVM context.
///
/// # Invariants
///
/// `regions` do not overlap in guest physical space; every mapping lies
/// inside a region of the same TDI.
pub(crate) struct Tvm {
    /// The handle the host names it by.
    pub(crate) handle: u64,
    /// MMIO regions the host offered.
    pub(crate) regions: KVec<Region>,
    /// The secure stage-2's private MMIO mappings.
    pub(crate) stage2: KVec<Mapping>,
    /// TDIs allowed to DMA to private memory.
    pub(crate) iommu: KVec<u32>,
}

impl Tvm {
    /// An empty TVM.
    pub(crate) fn new(handle: u64) -> Self {
        Self { handle, regions: KVec::new(), stage2: KVec::new(), iommu: KVec::new() }
    }

    /// Whether a new region at `[gpa, gpa + len)` would overlap one.
    pub(crate) fn region_overlaps(&self, gpa: u64, len: u64) -> bool {
        self.regions.iter().any(|r| r.overlaps(gpa, len))
    }

    /// Whether `tdi` has a region.
    pub(crate) fn has_regions(&self, tdi: u32) -> bool {
        self.regions.iter().any(|r| r.tdi == tdi)
    }

    /// Unmaps every private MMIO mapping of `tdi`; returns how many.
    pub(crate) fn unmap_tdi(&mut self, tdi: u32) -> usize {
        let before = self.stage2.len();
        let handle = self.handle;
        self.stage2.retain(|m| {
            if m.tdi != tdi {
                return true;
            }
            pr_info!("EMULATED TSM: TVM {}: secure stage-2 unmaps {:#x}+{:#x} (host {:#x})\n", handle, m.gpa, m.len, m.hpa);
            false
        });
        before - self.stage2.len()
    }

    /// Drops `tdi` from the trusted IOMMU context; returns whether it was in.
    pub(crate) fn drop_dma(&mut self, tdi: u32) -> bool {
        let before = self.iommu.len();
        self.iommu.retain(|t| *t != tdi);
        before != self.iommu.len()
    }

    /// Forgets every region of `tdi`.
    pub(crate) fn reclaim_tdi_regions(&mut self, tdi: u32) {
        self.regions.retain(|r| r.tdi != tdi);
    }
}
