// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the DOE mailbox registers (PCIe r7.0, section 7.9.24) of an
//! emulated TDISP device.
//!
//! Configuration accesses arrive under the PCI core's `pci_lock`, a raw
//! spinlock with interrupts off, so the register side takes no lock of its
//! own: every field is an atomic. Config accesses are serialized by
//! `pci_lock`; the responder runs in a work item and only touches the
//! request words while the mailbox is `BUSY` and the response words before
//! it publishes `READY`.
//!
//! ```text
//!   IDLE --GO--> BUSY --responder done--> READY --last dword read--> IDLE
//!     \--too long / GO without object--> ERROR --ABORT--> IDLE
//! ```

use kernel::prelude::*;
use kernel::sync::atomic::{Acquire, Atomic, Relaxed, Release};

/// Largest object the emulated mailbox takes or gives, in dwords.
pub(crate) const MAX_DWORDS: usize = 1024;

/// DOE register offsets within the capability.
pub(crate) mod reg {
    pub(crate) const CAP: u16 = 0x04;
    pub(crate) const CTRL: u16 = 0x08;
    pub(crate) const STATUS: u16 = 0x0c;
    pub(crate) const WRITE: u16 = 0x10;
    pub(crate) const READ: u16 = 0x14;
    /// Size of the register block.
    pub(crate) const SIZE: u16 = 0x18;
}

const CTRL_ABORT: u32 = 1 << 0;
const CTRL_GO: u32 = 1 << 31;
const STATUS_BUSY: u32 = 1 << 0;
const STATUS_ERROR: u32 = 1 << 2;
const STATUS_READY: u32 = 1 << 31;

const IDLE: u32 = 0;
const BUSY: u32 = 1;
const READY: u32 = 2;
const ERROR: u32 = 3;

/// What a configuration write asked of the responder.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kick {
    /// Nothing to do.
    None,
    /// A request is complete: run the responder.
    Go,
}

/// How the emulated device misbehaves at the register level.
#[derive(Clone, Copy, Default)]
pub(crate) struct MailboxFaults {
    /// Report BUSY while idle, until the next ABORT.
    pub(crate) busy: bool,
    /// Accept GO but never answer, until the next ABORT.
    pub(crate) stuck: bool,
}

/// One DOE mailbox.
///
/// # Invariants
///
/// `req_len <= MAX_DWORDS`, `resp_pos <= resp_len <= MAX_DWORDS`; the
/// responder writes `resp` only while `state` is `BUSY`.
pub(crate) struct Mailbox {
    state: Atomic<u32>,
    /// Bumped by every ABORT, so a responder finishing late drops its answer.
    generation: Atomic<u32>,
    req: KVec<Atomic<u32>>,
    req_len: Atomic<usize>,
    resp: KVec<Atomic<u32>>,
    resp_len: Atomic<usize>,
    resp_pos: Atomic<usize>,
    /// Set by ABORT while the busy fault is on; clears the fault's effect.
    busy_aborted: Atomic<bool>,
}

impl Mailbox {
    /// An idle mailbox with room for `MAX_DWORDS` each way.
    pub(crate) fn new() -> Result<Self> {
        let mut req = KVec::with_capacity(MAX_DWORDS, GFP_KERNEL)?;
        let mut resp = KVec::with_capacity(MAX_DWORDS, GFP_KERNEL)?;
        for _ in 0..MAX_DWORDS {
            req.push(Atomic::new(0), GFP_KERNEL)?;
            resp.push(Atomic::new(0), GFP_KERNEL)?;
        }
        Ok(Self {
            state: Atomic::new(IDLE),
            generation: Atomic::new(0),
            req,
            req_len: Atomic::new(0),
            resp,
            resp_len: Atomic::new(0),
            resp_pos: Atomic::new(0),
            busy_aborted: Atomic::new(false),
        })
    }

    /// A register read, `offset` relative to the capability.
    pub(crate) fn read(&self, offset: u16, faults: MailboxFaults) -> u32 {
        match offset {
            reg::STATUS => {
                if !faults.busy {
                    self.busy_aborted.store(false, Relaxed);
                }
                match self.state.load(Acquire) {
                    BUSY => STATUS_BUSY,
                    READY => STATUS_READY,
                    ERROR => STATUS_ERROR,
                    _ if faults.busy && !self.busy_aborted.load(Relaxed) => STATUS_BUSY,
                    _ => 0,
                }
            }
            reg::READ if self.state.load(Acquire) == READY => {
                let pos = self.resp_pos.load(Relaxed);
                self.resp.get(pos).map_or(0, |w| w.load(Relaxed))
            }
            // No interrupt support.
            reg::CAP => 0,
            // CTRL and WRITE read as zero.
            _ => 0,
        }
    }

    /// A register write, `offset` relative to the capability.
    pub(crate) fn write(&self, offset: u16, value: u32, faults: MailboxFaults) -> Kick {
        match offset {
            reg::CTRL if value & CTRL_ABORT != 0 => {
                self.generation.fetch_add(1, Relaxed);
                self.req_len.store(0, Relaxed);
                self.resp_len.store(0, Relaxed);
                self.resp_pos.store(0, Relaxed);
                if faults.busy {
                    self.busy_aborted.store(true, Relaxed);
                }
                self.state.store(IDLE, Release);
                Kick::None
            }
            reg::CTRL if value & CTRL_GO != 0 => {
                if self.state.load(Acquire) != IDLE {
                    return Kick::None;
                }
                if self.req_len.load(Relaxed) < 2 {
                    self.state.store(ERROR, Release);
                    return Kick::None;
                }
                self.state.store(BUSY, Release);
                if faults.stuck {
                    Kick::None
                } else {
                    Kick::Go
                }
            }
            reg::WRITE if self.state.load(Acquire) == IDLE => {
                let len = self.req_len.load(Relaxed);
                match self.req.get(len) {
                    Some(word) => {
                        word.store(value, Relaxed);
                        // INVARIANT: `len < MAX_DWORDS` as `get` succeeded.
                        self.req_len.store(len + 1, Relaxed);
                    }
                    None => self.state.store(ERROR, Release),
                }
                Kick::None
            }
            reg::READ if self.state.load(Acquire) == READY => {
                let pos = self.resp_pos.load(Relaxed) + 1;
                if pos >= self.resp_len.load(Relaxed) {
                    self.req_len.store(0, Relaxed);
                    self.resp_pos.store(0, Relaxed);
                    self.state.store(IDLE, Release);
                } else {
                    self.resp_pos.store(pos, Relaxed);
                }
                Kick::None
            }
            _ => Kick::None,
        }
    }

    /// Runs `respond` on the pending request, if any, and publishes its
    /// answer. `respond` gets the request bytes and a buffer for the answer
    /// and returns the answer's length in bytes; the mailbox pads it to
    /// whole dwords. A failed responder sets the mailbox ERROR bit.
    pub(crate) fn serve(
        &self,
        scratch_req: &mut KVec<u8>,
        scratch_resp: &mut KVec<u8>,
        respond: impl FnOnce(&[u8], &mut [u8]) -> Result<usize>,
    ) {
        if self.state.load(Acquire) != BUSY {
            return;
        }
        let generation = self.generation.load(Relaxed);
        let len = self.req_len.load(Relaxed);
        scratch_req.clear();
        for word in self.req.iter().take(len) {
            if scratch_req.extend_from_slice(&word.load(Relaxed).to_le_bytes(), GFP_KERNEL).is_err() {
                self.state.store(ERROR, Release);
                return;
            }
        }
        // Sized once; the responder writes every byte it answers with.
        if scratch_resp.resize(MAX_DWORDS * 4, 0, GFP_KERNEL).is_err() {
            self.state.store(ERROR, Release);
            return;
        }
        let answer = match respond(scratch_req, scratch_resp) {
            Ok(bytes) => scratch_resp.get(..bytes),
            Err(_) => None,
        };
        let Some(answer) = answer else {
            self.state.store(ERROR, Release);
            return;
        };
        let dwords = answer.len().div_ceil(4);
        for (word, chunk) in self.resp.iter().zip(answer.chunks(4)) {
            let mut le = [0u8; 4];
            le[..chunk.len()].copy_from_slice(chunk);
            word.store(u32::from_le_bytes(le), Relaxed);
        }
        self.resp_len.store(dwords, Relaxed);
        self.resp_pos.store(0, Relaxed);
        // Publish unless an ABORT came in meanwhile.
        if self.generation.load(Relaxed) == generation {
            let _ = self.state.cmpxchg(BUSY, READY, kernel::sync::atomic::Full);
        }
    }
}
