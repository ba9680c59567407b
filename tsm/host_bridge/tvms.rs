// SPDX-License-Identifier: GPL-2.0

//! Which platform TSM TVM stands for which VM, and which TDIs each has
//! bound: the PCI/TSM core names a VM by its `struct kvm` pointer, an
//! opaque cookie here. The bridge creates a TVM (and its IOASID set, with
//! the CPU teardown subscribers) at a VM's first bind and destroys them
//! after its last unbind.

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::backend::TsmError;
use crate::teardown::{Binding, CpuSteps};

/// A bound TDI: its IOASID and teardown record.
pub(crate) struct Bound {
    /// TDISP interface id (segment << 16 | requester id of its function).
    pub(crate) tdi: u32,
    pub(crate) ioasid: u32,
    pub(crate) binding: Arc<Binding>,
}

/// One VM's TVM.
pub(crate) struct Tvm {
    /// The core's VM cookie (the `struct kvm` address).
    pub(crate) vm: usize,
    /// The platform TSM's TVM handle.
    pub(crate) tvm: u64,
    /// The IOASID set of the VM.
    pub(crate) set: u32,
    /// Binds in progress or done.
    binds: u32,
    /// The VM released its set before unbinding.
    pub(crate) released: bool,
    /// The CPU teardown subscribers of the set.
    cpu: Option<CpuSteps>,
    pub(crate) tdis: KVec<Bound>,
}

/// What a VM's last unbind leaves to undo.
pub(crate) struct Gone {
    pub(crate) tvm: u64,
    pub(crate) set: u32,
    pub(crate) released: bool,
    pub(crate) cpu: Option<CpuSteps>,
}

/// The VM to TVM table.
///
/// # Invariants
///
/// Every entry has `binds > 0`; VM cookies are unique.
#[derive(Default)]
pub(crate) struct TvmTable {
    entries: KVec<Tvm>,
}

fn no_memory<T>(_: T) -> TsmError {
    TsmError { errno: ENOMEM, tsm_code: 0 }
}

impl TvmTable {
    /// The TVM of `vm`, made by `create` (TVM, set, CPU subscribers) at its
    /// first bind; counts a bind.
    pub(crate) fn get_or_create(
        &mut self,
        vm: usize,
        create: impl FnOnce() -> Result<(u64, u32, CpuSteps), TsmError>,
    ) -> Result<&mut Tvm, TsmError> {
        if let Some(i) = self.entries.iter().position(|e| e.vm == vm) {
            self.entries[i].binds += 1;
            return Ok(&mut self.entries[i]);
        }
        self.entries.reserve(1, GFP_KERNEL).map_err(no_memory)?;
        let (tvm, set, cpu) = create()?;
        let entry = Tvm { vm, tvm, set, binds: 1, released: false, cpu: Some(cpu), tdis: KVec::new() };
        // INVARIANT: one bind; `reserve` made room, so the push cannot fail.
        self.entries.push(entry, GFP_KERNEL).map_err(no_memory)?;
        let last = self.entries.len() - 1;
        Ok(&mut self.entries[last])
    }

    pub(crate) fn get(&mut self, vm: usize) -> Option<&mut Tvm> {
        self.entries.iter_mut().find(|e| e.vm == vm)
    }

    /// The VM and bound record of TDI `tdi`.
    pub(crate) fn find_tdi(&self, tdi: u32) -> Option<(&Tvm, &Bound)> {
        self.entries.iter().find_map(|e| e.tdis.iter().find(|b| b.tdi == tdi).map(|b| (e, b)))
    }

    /// Takes TDI `tdi`'s record out of `vm`.
    pub(crate) fn take_tdi(&mut self, vm: usize, tdi: u32) -> Option<Bound> {
        let e = self.get(vm)?;
        let i = e.tdis.iter().position(|b| b.tdi == tdi)?;
        e.tdis.remove(i).ok()
    }

    /// Drops a bind of `vm`; what to undo when it was the last.
    pub(crate) fn put(&mut self, vm: usize) -> Option<Gone> {
        let index = self.entries.iter().position(|e| e.vm == vm)?;
        let entry = &mut self.entries[index];
        entry.binds -= 1;
        if entry.binds > 0 {
            return None;
        }
        let e = self.entries.remove(index).ok()?;
        Some(Gone { tvm: e.tvm, set: e.set, released: e.released, cpu: e.cpu })
    }
}
