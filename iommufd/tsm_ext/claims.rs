// SPDX-License-Identifier: GPL-2.0

//! Which PCI devices have a vDEVICE, across every open extension file: one
//! vDEVICE per device.

use kernel::prelude::*;
use kernel::sync::global_lock;

global_lock! {
    // SAFETY: initialized by `Claims::init` before the device exists.
    unsafe(uninit) static CLAIMED: Mutex<KVec<usize>> = KVec::new();
}

/// The claimed list for the module's lifetime; its memory goes on drop.
pub(crate) struct Claims(());

impl Claims {
    /// # Safety
    ///
    /// Called once, before any [`Claim`] is made.
    pub(crate) unsafe fn init() -> Self {
        // SAFETY: once, before use, as the caller promises.
        unsafe { CLAIMED.init() };
        Self(())
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        let list = core::mem::replace(&mut *CLAIMED.lock(), KVec::new());
        drop(list);
    }
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

