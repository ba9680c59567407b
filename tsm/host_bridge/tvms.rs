// SPDX-License-Identifier: GPL-2.0

//! Which platform TSM TVM stands for which VM: the PCI/TSM core names a VM
//! by its `struct kvm` pointer, an opaque cookie here; the bridge creates a
//! TVM in the platform TSM at a VM's first bind and destroys it after its
//! last unbind.

use kernel::prelude::*;

use crate::backend::TsmError;

/// One VM's TVM.
struct Entry {
    /// The core's VM cookie (the `struct kvm` address).
    vm: usize,
    /// The platform TSM's TVM handle.
    tvm: u64,
    /// Bound TDIs.
    binds: u32,
}

/// The VM to TVM table.
///
/// # Invariants
///
/// Every entry has `binds > 0`; VM cookies are unique.
#[derive(Default)]
pub(crate) struct TvmTable {
    entries: KVec<Entry>,
}

impl TvmTable {
    /// The TVM of `vm`, made by `create` at its first bind; counts a bind.
    pub(crate) fn get_or_create(
        &mut self,
        vm: usize,
        create: impl FnOnce() -> Result<u64, TsmError>,
    ) -> Result<u64, TsmError> {
        let no_memory = |_| TsmError { errno: ENOMEM, tsm_code: 0 };
        if let Some(e) = self.entries.iter_mut().find(|e| e.vm == vm) {
            e.binds += 1;
            return Ok(e.tvm);
        }
        self.entries.reserve(1, GFP_KERNEL).map_err(no_memory)?;
        let tvm = create()?;
        // INVARIANT: one bind; `reserve` made room, so the push cannot fail.
        self.entries.push(Entry { vm, tvm, binds: 1 }, GFP_KERNEL).map_err(no_memory)?;
        Ok(tvm)
    }

    /// Drops a bind of `vm`; the TVM handle when it was the last.
    pub(crate) fn put(&mut self, vm: usize) -> Option<u64> {
        let index = self.entries.iter().position(|e| e.vm == vm)?;
        let entry = &mut self.entries[index];
        entry.binds -= 1;
        if entry.binds > 0 {
            return None;
        }
        self.entries.remove(index).ok().map(|e| e.tvm)
    }
}
