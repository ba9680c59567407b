// SPDX-License-Identifier: GPL-2.0

//! EMULATION: a TVM as the firmware keeps it: the MMIO regions the host
//! offered it, its secure stage-2 (which guest physical ranges map which
//! private MMIO, and the private MMIO dma-bufs the host imported for it)
//! and its trusted IOMMU context (which TDIs may DMA to its private memory).

use kernel::prelude::*;

use crate::teeio_bindings as b;

/// An imported private MMIO dma-buf: the secure stage-2's attachment.
///
/// # Invariants
///
/// `0` came from `teeio_stage2_import()` and is released once, on drop,
/// never under the firmware's state lock (the importer's revocation
/// callback takes that lock under the dma-buf's reservation lock, which the
/// release takes).
pub(crate) struct Import(pub(crate) *mut b::teeio_stage2_import);

// SAFETY: an attachment may be released from any thread.
unsafe impl Send for Import {}

impl Drop for Import {
    fn drop(&mut self) {
        // SAFETY: per the type invariant.
        unsafe { b::teeio_stage2_release(self.0) };
    }
}

/// A private MMIO slot: an imported dma-buf covering one report range.
pub(crate) struct Slot {
    /// The VMM's name for it.
    pub(crate) id: u32,
    /// The TDI whose range it is.
    pub(crate) tdi: u32,
    /// Guest physical address.
    pub(crate) gpa: u64,
    /// Host physical address, from the dma-buf.
    pub(crate) hpa: u64,
    /// Bytes.
    pub(crate) len: u64,
    /// The exporter revoked it: never mapped again.
    pub(crate) revoked: bool,
    /// Its TDI was freed: to be released (outside the state lock).
    pub(crate) dead: bool,
    /// The attachment.
    pub(crate) import: Import,
}

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
    /// Imported private MMIO dma-bufs; once there is one, private MMIO is
    /// mapped only from them.
    pub(crate) slots: KVec<Slot>,
}

impl Tvm {
    /// An empty TVM.
    pub(crate) fn new(handle: u64) -> Self {
        Self { handle, regions: KVec::new(), stage2: KVec::new(), iommu: KVec::new(), slots: KVec::new() }
    }

    /// Whether a new region at `[gpa, gpa + len)` would overlap one.
    pub(crate) fn region_overlaps(&self, gpa: u64, len: u64) -> bool {
        self.regions.iter().any(|r| r.overlaps(gpa, len))
    }

    /// Whether `tdi` has a region.
    pub(crate) fn has_regions(&self, tdi: u32) -> bool {
        self.regions.iter().any(|r| r.tdi == tdi)
    }

    /// Unmaps the private MMIO mappings `hit` picks; returns how many.
    pub(crate) fn unmap_where(&mut self, hit: impl Fn(&Mapping) -> bool) -> usize {
        let before = self.stage2.len();
        let handle = self.handle;
        self.stage2.retain(|m| {
            if !hit(m) {
                return true;
            }
            pr_info!("EMULATED TSM: TVM {}: secure stage-2 unmaps {:#x}+{:#x} (host {:#x})\n", handle, m.gpa, m.len, m.hpa);
            false
        });
        before - self.stage2.len()
    }

    /// Marks the slots of `tdi` dead, for release outside the state lock.
    pub(crate) fn kill_slots(&mut self, tdi: u32) {
        for slot in self.slots.iter_mut().filter(|sl| sl.tdi == tdi) {
            slot.dead = true;
        }
    }

    /// Takes a dead slot out.
    pub(crate) fn take_dead_slot(&mut self) -> Option<Slot> {
        let i = self.slots.iter().position(|sl| sl.dead)?;
        self.slots.remove(i).ok()
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
