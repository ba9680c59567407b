// SPDX-License-Identifier: GPL-2.0

//! The event log: every handler call and every reclaim, in the order they
//! happened, for tests and the demo to check teardown order against.
//! Read and cleared through debugfs (`teeio_ioasid/events`).

use core::fmt;
use kernel::prelude::*;
use kernel::sync::SpinLock;
use kernel::new_spinlock;

/// Records kept; older ones are dropped.
const CAPACITY: usize = 512;

/// Bytes of a subscriber name kept.
pub(crate) const NAME_LEN: usize = 24;

/// How a handler was called.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    /// With the core's lock held.
    Atomic,
    /// On the ordered queue.
    Deferred,
    /// In the notifier's caller, because no queue entry could be allocated.
    Inline,
    /// The ID went back to the pool.
    Reclaim,
}

impl Phase {
    /// How the log shows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Atomic => "atomic",
            Phase::Deferred => "deferred",
            Phase::Inline => "inline",
            Phase::Reclaim => "reclaim",
        }
    }
}

/// One record.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) event: u32,
    pub(crate) set: u32,
    pub(crate) ioasid: u32,
    pub(crate) prio: u32,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) phase: Phase,
    pub(crate) rc: i32,
}

/// Name of an event number.
pub(crate) fn event_name(event: u32) -> &'static str {
    match event {
        1 => "ALLOC",
        2 => "FREE",
        3 => "BIND",
        4 => "UNBIND",
        _ => "-",
    }
}

/// Name of a priority.
pub(crate) fn prio_name(prio: u32) -> &'static str {
    match prio {
        0 => "LAST",
        1 => "IOMMU",
        2 => "DEVICE",
        3 => "CPU",
        _ => "-",
    }
}

impl Record {
    /// The subscriber's name.
    pub(crate) fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} set={} ioasid={} ", self.seq, event_name(self.event), self.set, self.ioasid)?;
        if self.phase == Phase::Reclaim {
            return writeln!(f, "- - reclaim");
        }
        writeln!(f, "{} {} {} rc={}", prio_name(self.prio), self.name(), self.phase.name(), self.rc)
    }
}

struct Ring {
    records: KVec<Record>,
    next: usize,
    seq: u64,
}

/// The log.
///
/// # Invariants
///
/// `records.len() <= CAPACITY`; when full, `next` is the oldest record.
#[pin_data]
pub(crate) struct EventLog {
    #[pin]
    ring: SpinLock<Ring>,
}

impl EventLog {
    /// An empty log with room for `CAPACITY` records.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let records = KVec::with_capacity(CAPACITY, GFP_KERNEL)?;
        Ok(pin_init!(Self { ring <- new_spinlock!(Ring { records, next: 0, seq: 0 }) }))
    }

    /// Appends a record; `seq` is filled in.
    pub(crate) fn push(&self, mut r: Record) {
        let mut ring = self.ring.lock();
        ring.seq += 1;
        r.seq = ring.seq;
        if ring.records.len() < CAPACITY {
            // Capacity was reserved up front: this cannot allocate.
            let _ = ring.records.push(r, GFP_ATOMIC);
        } else {
            let next = ring.next;
            ring.records[next] = r;
            ring.next = (next + 1) % CAPACITY;
        }
    }

    /// Forgets every record (sequence numbers continue).
    pub(crate) fn clear(&self) {
        let mut ring = self.ring.lock();
        ring.records.clear();
        ring.next = 0;
    }

    /// Calls `f` with each record, oldest first, under the log's lock.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Record)) {
        let ring = self.ring.lock();
        let (new, old) = ring.records.split_at(ring.next);
        Iterator::chain(old.iter(), new.iter()).for_each(|r| f(r));
    }
}
