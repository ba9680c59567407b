// SPDX-License-Identifier: GPL-2.0

//! Subscribers and notification chains: priority order, atomic handlers,
//! and deferred handlers run in order on the core's ordered queue.

use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};

use crate::event_log::{Phase, Record, NAME_LEN};
use crate::teeio_bindings::{self as b, teeio_ioasid_event_data, teeio_ioasid_subscriber};

/// System-wide subscribers at most; registering beyond fails with ENOSPC.
pub(crate) const MAX_SYSTEM: usize = 112;
/// Subscribers of one set (or pending for one token) at most.
pub(crate) const MAX_PER_SET: usize = 16;
/// Subscribers one notification reaches at most.
pub(crate) const MAX_CHAIN: usize = MAX_SYSTEM + MAX_PER_SET;

/// A handler as the C ABI declares it.
type Handler = unsafe extern "C" fn(*const teeio_ioasid_event_data, *mut c_void) -> c_int;

/// A registered subscriber.
///
/// # Invariants
///
/// `prio` is a `teeio_ioasid_prio`; the handlers and `data` are the
/// registrant's, valid until it unregisters.
pub(crate) struct Subscriber {
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) prio: u32,
    /// The set token for per-set subscribers, `None` for system-wide.
    pub(crate) token: Option<u64>,
    atomic: Option<Handler>,
    deferred: Option<Handler>,
    data: *mut c_void,
}

// SAFETY: the registrant promises its handlers may be called from any
// context the header names; `data` is only passed back to them.
unsafe impl Send for Subscriber {}
// SAFETY: as above; the struct itself is immutable.
unsafe impl Sync for Subscriber {}

impl Subscriber {
    /// Copies a C description.
    ///
    /// # Safety
    ///
    /// `sub.name` is NULL or a NUL-terminated string.
    pub(crate) unsafe fn from_c(token: Option<u64>, sub: &teeio_ioasid_subscriber) -> Result<Self> {
        if sub.priority > b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_CPU {
            return Err(EINVAL);
        }
        let mut name = [0u8; NAME_LEN];
        if !sub.name.is_null() {
            // SAFETY: per the safety contract.
            let src = unsafe { kernel::str::CStr::from_char_ptr(sub.name as *const c_char) };
            let bytes = src.to_bytes();
            let n = bytes.len().min(NAME_LEN - 1);
            name[..n].copy_from_slice(&bytes[..n]);
        }
        // INVARIANT: priority checked above.
        Ok(Self { name, prio: sub.priority, token, atomic: sub.atomic, deferred: sub.deferred, data: sub.data })
    }

    /// Runs the atomic handler; whether the deferred one is due.
    pub(crate) fn call_atomic(&self, ev: &teeio_ioasid_event_data) -> (c_int, bool) {
        match self.atomic {
            // SAFETY: by the type invariant the handler and data are live.
            Some(f) => {
                let rc = unsafe { f(ev, self.data) };
                (rc, rc == b::TEEIO_IOASID_DEFER as c_int && self.deferred.is_some())
            }
            None => (0, self.deferred.is_some()),
        }
    }

    /// Runs the deferred handler.
    pub(crate) fn call_deferred(&self, ev: &teeio_ioasid_event_data) -> c_int {
        // SAFETY: by the type invariant the handler and data are live.
        self.deferred.map_or(0, |f| unsafe { f(ev, self.data) })
    }

    /// A log record of a call to this subscriber.
    pub(crate) fn record(&self, ev: &teeio_ioasid_event_data, phase: Phase, rc: c_int) -> Record {
        Record {
            seq: 0,
            event: ev.event,
            set: ev.set,
            ioasid: ev.ioasid,
            prio: self.prio,
            name: self.name,
            phase,
            rc,
        }
    }
}

/// Inserts `sub` after every subscriber of higher or equal priority.
pub(crate) fn insert_by_priority(list: &mut KVec<Arc<Subscriber>>, sub: Arc<Subscriber>) -> Result {
    let at = list.iter().position(|s| s.prio < sub.prio).unwrap_or(list.len());
    list.insert_within_capacity(at, sub).map_err(|_| ENOMEM)
}

/// Removes `sub` from `list`; whether it was there.
pub(crate) fn remove(list: &mut KVec<Arc<Subscriber>>, sub: &Arc<Subscriber>) -> bool {
    let before = list.len();
    list.retain(|s| !Arc::ptr_eq(s, sub));
    before != list.len()
}

/// The `index`-th subscriber of the chain made of a set's subscribers and
/// the system-wide ones, both sorted by priority: higher priority first,
/// the set's before the system's at equal priority.
pub(crate) fn chain_at(set: &[Arc<Subscriber>], system: &[Arc<Subscriber>], index: usize) -> Option<Arc<Subscriber>> {
    let (mut i, mut j) = (0, 0);
    for _ in 0..index {
        match (set.get(i), system.get(j)) {
            (Some(a), Some(b)) if a.prio >= b.prio => i += 1,
            (Some(_), Some(_)) | (None, Some(_)) => j += 1,
            (Some(_), None) => i += 1,
            (None, None) => return None,
        }
    }
    match (set.get(i), system.get(j)) {
        (Some(a), Some(b)) => Some(if a.prio >= b.prio { a.clone() } else { b.clone() }),
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (None, None) => None,
    }
}

/// A deferred handler call with its event.
pub(crate) struct Call {
    pub(crate) sub: Arc<Subscriber>,
    pub(crate) ev: teeio_ioasid_event_data,
}

// SAFETY: `ev.private` is the IOASID's private data, only handed back to
// the subscriber, which may use it from any context.
unsafe impl Send for Call {}

/// One notification's deferred calls, in priority order.
#[pin_data]
pub(crate) struct Job {
    pub(crate) calls: KVec<Call>,
    #[pin]
    work: Work<Job>,
}

impl_has_work! {
    impl HasWork<Self> for Job { self.work }
}

impl Job {
    /// A job for `calls`.
    pub(crate) fn new(calls: KVec<Call>) -> impl PinInit<Self> {
        pin_init!(Self { calls, work <- new_work!("teeio_ioasid::Job") })
    }

    /// Runs the calls in order, logging each.
    pub(crate) fn run_calls(calls: &[Call], phase: Phase) {
        let log = &crate::core().log;
        for c in calls {
            let rc = c.sub.call_deferred(&c.ev);
            log.push(c.sub.record(&c.ev, phase, rc));
        }
    }
}

impl WorkItem for Job {
    type Pointer = Pin<KBox<Job>>;

    fn run(this: Pin<KBox<Job>>) {
        Self::run_calls(&this.calls, Phase::Deferred);
    }
}

/// The core's ordered queue.
///
/// # Invariants
///
/// `wq` is an ordered workqueue owned by this object.
pub(crate) struct OrderedQueue {
    wq: *mut kernel::bindings::workqueue_struct,
}

// SAFETY: workqueues may be used from any thread.
unsafe impl Send for OrderedQueue {}
// SAFETY: as above.
unsafe impl Sync for OrderedQueue {}

impl OrderedQueue {
    /// A new ordered queue.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain allocation through the C edge.
        let wq = unsafe { b::teeio_ioasid_edge_wq_alloc() };
        if wq.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: just allocated, ordered.
        Ok(Self { wq: wq.cast() })
    }

    /// Queues `job` behind every job queued before it.
    pub(crate) fn enqueue(&self, job: Pin<KBox<Job>>) {
        // SAFETY: `wq` is live by the type invariant.
        let queue = unsafe { workqueue::Queue::from_raw(self.wq) };
        // A new job is never queued already.
        let _ = queue.enqueue(job);
    }

    /// Waits for every job queued so far.
    pub(crate) fn flush(&self) {
        // SAFETY: `wq` is live by the type invariant.
        unsafe { b::teeio_ioasid_edge_wq_flush(self.wq.cast()) };
    }
}

impl Drop for OrderedQueue {
    fn drop(&mut self) {
        // SAFETY: owned; destroy drains it first.
        unsafe { b::teeio_ioasid_edge_wq_destroy(self.wq.cast()) };
    }
}
