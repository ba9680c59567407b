// SPDX-License-Identifier: GPL-2.0

//! The TDI state machine (PCIe r7.0, section 11.2.4).
//!
//! ```text
//!              LOCK (fresh nonce)          START (same nonce)
//!  CONFIG_UNLOCKED ----------> CONFIG_LOCKED ----------> RUN
//!        ^                        |    |                  |
//!        |        STOP            |    | config change    | config change
//!        +------------------------+    v                  v
//!        +------------------------- ERROR <---------------+
//!                 STOP              (and STOP from RUN)
//! ```
//!
//! The DSM owns one [`Tdi`] per interface; every request goes through it, so
//! the rules live in one place.

use crate::tdisp::{ErrorCode, NONCE_LEN};
use crate::wire::wire_codes;

wire_codes! {
    /// TDI states, as DEVICE_INTERFACE_STATE reports them.
    pub enum TdiState: u8 {
        /// Configurable by the host; not trusted.
        ConfigUnlocked = 0,
        /// Configuration locked; waiting for START.
        ConfigLocked = 1,
        /// Running and trusted.
        Run = 2,
        /// Lock violated; only STOP leaves it.
        Error = 3,
    }
}

/// One TDI's state and the nonce of its current lock.
///
/// # Invariants
///
/// `nonce` is `Some` exactly when `state` is `ConfigLocked`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tdi {
    state: TdiState,
    nonce: Option<[u8; NONCE_LEN]>,
}

impl Default for Tdi {
    fn default() -> Self {
        Self::new()
    }
}

impl Tdi {
    /// A TDI in CONFIG_UNLOCKED.
    pub const fn new() -> Self {
        // INVARIANT: unlocked, no nonce.
        Self { state: TdiState::ConfigUnlocked, nonce: None }
    }

    /// The current state.
    pub fn state(&self) -> TdiState {
        self.state
    }

    /// LOCK_INTERFACE: only from CONFIG_UNLOCKED; `nonce` is the fresh
    /// START_INTERFACE nonce the DSM just drew.
    pub fn lock(&mut self, nonce: [u8; NONCE_LEN]) -> Result<(), ErrorCode> {
        if self.state != TdiState::ConfigUnlocked {
            return Err(ErrorCode::InvalidInterfaceState);
        }
        // INVARIANT: locked with its nonce.
        self.state = TdiState::ConfigLocked;
        self.nonce = Some(nonce);
        Ok(())
    }

    /// START_INTERFACE: only from CONFIG_LOCKED, with the lock's nonce.
    /// A wrong nonce leaves the TDI locked.
    pub fn start(&mut self, nonce: &[u8; NONCE_LEN]) -> Result<(), ErrorCode> {
        let Some(expected) = &self.nonce else {
            return Err(ErrorCode::InvalidInterfaceState);
        };
        if !constant_time_eq(expected, nonce) {
            return Err(ErrorCode::InvalidNonce);
        }
        // INVARIANT: running, the nonce is spent.
        self.state = TdiState::Run;
        self.nonce = None;
        Ok(())
    }

    /// STOP_INTERFACE: from any state but CONFIG_UNLOCKED, back to it.
    pub fn stop(&mut self) -> Result<(), ErrorCode> {
        if self.state == TdiState::ConfigUnlocked {
            return Err(ErrorCode::InvalidInterfaceState);
        }
        *self = Self::new();
        Ok(())
    }

    /// Whether the interface report may be read: CONFIG_LOCKED or RUN.
    pub fn check_report_allowed(&self) -> Result<(), ErrorCode> {
        match self.state {
            TdiState::ConfigLocked | TdiState::Run => Ok(()),
            _ => Err(ErrorCode::InvalidInterfaceState),
        }
    }

    /// A configuration change that violates the lock: CONFIG_LOCKED or RUN
    /// go to ERROR; returns whether the state changed.
    pub fn config_violation(&mut self) -> bool {
        match self.state {
            TdiState::ConfigLocked | TdiState::Run => {
                // INVARIANT: ERROR holds no nonce.
                self.state = TdiState::Error;
                self.nonce = None;
                true
            }
            _ => false,
        }
    }
}

/// Compares without an early exit, so timing does not leak the nonce.
fn constant_time_eq(a: &[u8; NONCE_LEN], b: &[u8; NONCE_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_tdi_state))]
mod tests {
    use super::*;

    const N1: [u8; NONCE_LEN] = [0x11; NONCE_LEN];
    const N2: [u8; NONCE_LEN] = [0x22; NONCE_LEN];

    fn locked() -> Tdi {
        let mut tdi = Tdi::new();
        assert_eq!(tdi.lock(N1), Ok(()));
        tdi
    }

    fn running() -> Tdi {
        let mut tdi = locked();
        assert_eq!(tdi.start(&N1), Ok(()));
        tdi
    }

    fn in_error() -> Tdi {
        let mut tdi = running();
        assert!(tdi.config_violation());
        tdi
    }

    #[test]
    fn lock_start_stop_cycle() {
        let mut tdi = Tdi::new();
        assert_eq!(tdi.state(), TdiState::ConfigUnlocked);
        assert_eq!(tdi.lock(N1), Ok(()));
        assert_eq!(tdi.state(), TdiState::ConfigLocked);
        assert_eq!(tdi.start(&N1), Ok(()));
        assert_eq!(tdi.state(), TdiState::Run);
        assert_eq!(tdi.stop(), Ok(()));
        assert_eq!(tdi, Tdi::new());
    }

    #[test]
    fn lock_only_from_unlocked() {
        for mut tdi in [locked(), running(), in_error()] {
            let before = tdi.clone();
            assert_eq!(tdi.lock(N2), Err(ErrorCode::InvalidInterfaceState));
            assert_eq!(tdi, before);
        }
    }

    #[test]
    fn start_only_from_locked_with_its_nonce() {
        let mut tdi = locked();
        assert_eq!(tdi.start(&N2), Err(ErrorCode::InvalidNonce));
        assert_eq!(tdi.state(), TdiState::ConfigLocked);
        let mut almost = N1;
        almost[NONCE_LEN - 1] ^= 1;
        assert_eq!(tdi.start(&almost), Err(ErrorCode::InvalidNonce));
        assert_eq!(tdi.start(&N1), Ok(()));
        // The nonce is spent: a second START is refused.
        assert_eq!(tdi.start(&N1), Err(ErrorCode::InvalidInterfaceState));
        for mut tdi in [Tdi::new(), in_error()] {
            assert_eq!(tdi.start(&N1), Err(ErrorCode::InvalidInterfaceState));
        }
    }

    #[test]
    fn relock_needs_a_new_nonce() {
        let mut tdi = locked();
        assert_eq!(tdi.stop(), Ok(()));
        assert_eq!(tdi.lock(N2), Ok(()));
        assert_eq!(tdi.start(&N1), Err(ErrorCode::InvalidNonce));
        assert_eq!(tdi.start(&N2), Ok(()));
    }

    #[test]
    fn report_only_locked_or_running() {
        assert_eq!(Tdi::new().check_report_allowed(), Err(ErrorCode::InvalidInterfaceState));
        assert_eq!(locked().check_report_allowed(), Ok(()));
        assert_eq!(running().check_report_allowed(), Ok(()));
        assert_eq!(in_error().check_report_allowed(), Err(ErrorCode::InvalidInterfaceState));
    }

    #[test]
    fn stop_from_any_state_but_unlocked() {
        assert_eq!(Tdi::new().stop(), Err(ErrorCode::InvalidInterfaceState));
        for mut tdi in [locked(), running(), in_error()] {
            assert_eq!(tdi.stop(), Ok(()));
            assert_eq!(tdi.state(), TdiState::ConfigUnlocked);
        }
    }

    #[test]
    fn config_violation_only_while_locked_or_running() {
        let mut tdi = Tdi::new();
        assert!(!tdi.config_violation());
        assert_eq!(tdi.state(), TdiState::ConfigUnlocked);
        let mut tdi = locked();
        assert!(tdi.config_violation());
        assert_eq!(tdi.state(), TdiState::Error);
        assert!(!tdi.config_violation());
        // ERROR is left only through STOP.
        assert_eq!(tdi.start(&N1), Err(ErrorCode::InvalidInterfaceState));
        assert_eq!(tdi.lock(N2), Err(ErrorCode::InvalidInterfaceState));
        assert_eq!(tdi.stop(), Ok(()));
    }

    #[test]
    fn state_codes_match_spec() {
        assert_eq!(TdiState::ALL.len(), 4);
        for (i, s) in TdiState::ALL.iter().enumerate() {
            assert_eq!(*s as u8, i as u8);
        }
        assert_eq!(TdiState::try_from(4), Err(4));
    }
}
