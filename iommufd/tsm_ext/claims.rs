// SPDX-License-Identifier: GPL-2.0

//! Which PCI devices have a vDEVICE, across every open extension file: one
//! vDEVICE per device.

use kernel::prelude::*;
use kernel::sync::global_lock;

global_lock! {
    // SAFETY: initialized in the module's init before the device exists.
    pub(crate) unsafe(uninit) static CLAIMED: Mutex<KVec<usize>> = KVec::new();
}

/// A PCI device's claim, released on drop.
///
/// # Invariants
///
/// `0` is in `CLAIMED` until drop.
pub(crate) struct Claim(usize);

impl Claim {
    /// Claims `pdev`: -EEXIST when it has a vDEVICE.
    pub(crate) fn new(pdev: *mut kernel::bindings::pci_dev) -> Result<Self> {
        let key = pdev as usize;
        let mut claimed = CLAIMED.lock();
        if claimed.contains(&key) {
            return Err(EEXIST);
        }
        claimed.push(key, GFP_KERNEL)?;
        // INVARIANT: added above.
        Ok(Self(key))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let key = self.0;
        CLAIMED.lock().retain(|&mut k| k != key);
    }
}

