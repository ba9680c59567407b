// SPDX-License-Identifier: GPL-2.0

//! The IOASID core: sets, IOASIDs with set-private IDs and private data,
//! reference counts with FREE_PENDING, and event delivery.
//!
//! Lock order: `Core::spare` (only when memory ran out), then
//! `Core::tables`, then the XArray's lock and the event log's lock.
//! Atomic handlers run with `tables` held.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use kernel::cpu::CpuId;
use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex, SpinLock};
use kernel::{new_mutex, new_spinlock};

use crate::event_log::{EventLog, Phase, Record};
use crate::id_space::IdSpace;
use crate::notifier::{self, Call, Job, OrderedQueue, Subscriber, MAX_CHAIN, MAX_PER_SET, MAX_SYSTEM};
use crate::teeio_bindings::{self as b, teeio_ioasid_event_data};

/// Event numbers (enum teeio_ioasid_event).
pub(crate) const ALLOC: u32 = b::teeio_ioasid_event_TEEIO_IOASID_ALLOC;
pub(crate) const FREE: u32 = b::teeio_ioasid_event_TEEIO_IOASID_FREE;
pub(crate) const BIND: u32 = b::teeio_ioasid_event_TEEIO_IOASID_BIND;
pub(crate) const UNBIND: u32 = b::teeio_ioasid_event_TEEIO_IOASID_UNBIND;

/// No IOASID, no SPID.
pub(crate) const INVALID: u32 = 0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum IdState {
    /// In the XArray, not yet announced: invisible.
    Reserved,
    Active,
    /// Freed with references outstanding: no new references.
    FreePending,
}

/// One IOASID.
pub(crate) struct Entry {
    set: u32,
    refs: u32,
    state: IdState,
    spid: u32,
    private: *mut c_void,
    /// Binds published; the first emits BIND, the last UNBIND.
    binds: u32,
}

// SAFETY: `private` is an opaque cookie of the set's owner.
unsafe impl Send for Entry {}

/// One set.
struct SetState {
    id: u32,
    token: u64,
    quota: u32,
    /// IOASIDs of the set not yet reclaimed.
    count: u32,
    /// Freed by its owner; goes when `count` reaches 0.
    freed: bool,
    subscribers: KVec<Arc<Subscriber>>,
    /// (SPID, IOASID) pairs.
    spids: KVec<(u32, u32)>,
}

/// What `Core::tables` protects.
pub(crate) struct Tables {
    sets: KVec<SetState>,
    system: KVec<Arc<Subscriber>>,
    pending: KVec<Arc<Subscriber>>,
    next_set: u32,
}

impl Tables {
    fn set_index(&self, set: u32) -> Result<usize> {
        self.sets.iter().position(|s| s.id == set).ok_or(ENOENT)
    }

    fn live_set(&mut self, set: u32) -> Result<&mut SetState> {
        let i = self.set_index(set)?;
        let s = &mut self.sets[i];
        if s.freed {
            return Err(ENOENT);
        }
        Ok(s)
    }

    /// Removes set `i`. Its subscribers are for its token: they wait,
    /// pending, for the next set with that token.
    fn retire_set(&mut self, i: usize) {
        let mut set = self.sets.remove(i).ok();
        for sub in set.iter_mut().flat_map(|s| s.subscribers.drain_all()) {
            // No room (the system-wide limit): the registration ends here;
            // unregister still finds nothing to do.
            let _ = self.pending.push_within_capacity(sub);
        }
    }

    fn chain_len(&self, set: u32) -> usize {
        self.set_index(set).map_or(0, |i| self.sets[i].subscribers.len()) + self.system.len()
    }

    fn chain_at(&self, set: u32, index: usize) -> Option<Arc<Subscriber>> {
        let own = self.set_index(set).map_or(&[][..], |i| &self.sets[i].subscribers[..]);
        notifier::chain_at(own, &self.system, index)
    }
}

/// How a notification changes its IOASID; `Ok(true)` to emit the event.
type Transition<'a> = &'a mut dyn FnMut(&mut Entry) -> Result<bool>;

/// The core.
///
/// # Invariants
///
/// `Entry` fields are only read or written with `tables` locked. While
/// atomic handlers run, `handler` points to the locked tables and
/// `handler_cpu` is the CPU running them; otherwise `handler` is null.
/// An IOASID's allocator reference is held while it is `Active`, so no
/// reclaim happens while handlers run.
#[pin_data]
pub(crate) struct Core {
    #[pin]
    tables: SpinLock<Tables>,
    #[pin]
    ids: IdSpace<Entry>,
    #[pin]
    spare: Mutex<KVec<Call>>,
    #[pin]
    pub(crate) log: EventLog,
    queue: OrderedQueue,
    max_id: u32,
    handler: AtomicPtr<Tables>,
    handler_cpu: AtomicU32,
}

/// A locked handle to the tables, proving `Entry` access is allowed.
type Locked<'a> = &'a mut Tables;

impl Core {
    /// A core with IOASIDs `1..2^bits`.
    pub(crate) fn new(bits: u32) -> Result<impl PinInit<Self, Error>> {
        if !(8..=31).contains(&bits) {
            pr_err!("bits={} is out of range 8..31\n", bits);
            return Err(EINVAL);
        }
        let tables = Tables {
            sets: KVec::new(),
            system: KVec::with_capacity(MAX_SYSTEM, GFP_KERNEL)?,
            pending: KVec::with_capacity(MAX_SYSTEM, GFP_KERNEL)?,
            next_set: 1,
        };
        let spare = KVec::with_capacity(MAX_CHAIN, GFP_KERNEL)?;
        let log = EventLog::new()?;
        let queue = OrderedQueue::new()?;
        Ok(try_pin_init!(Self {
            tables <- new_spinlock!(tables),
            ids <- IdSpace::new(),
            spare <- new_mutex!(spare),
            log <- log,
            queue,
            max_id: (1u32 << bits) - 1,
            handler: AtomicPtr::new(ptr::null_mut()),
            handler_cpu: AtomicU32::new(u32::MAX),
        }? Error))
    }

    /// The highest IOASID.
    pub(crate) fn max_id(&self) -> u32 {
        self.max_id
    }

    /// The entry of `id`, announced or not.
    fn entry_any<'a>(&self, _locked: &'a mut Tables, id: u32) -> Option<&'a mut Entry> {
        let p = self.ids.load(id)?;
        // SAFETY: entries are only touched with `tables` locked, which
        // `_locked` proves; the reference cannot outlive the lock.
        Some(unsafe { &mut *p.as_ptr() })
    }

    /// The entry of `id` once announced.
    fn entry<'a>(&self, t: &'a mut Tables, id: u32) -> Option<&'a mut Entry> {
        self.entry_any(t, id).filter(|e| e.state != IdState::Reserved)
    }

    fn owned<'a>(&self, t: Locked<'a>, set: u32, id: u32) -> Result<&'a mut Entry> {
        let e = self.entry(t, id).ok_or(ENOENT)?;
        if e.set != set {
            pr_warn!("IOASID {} is not in set {}\n", id, set);
            return Err(EACCES);
        }
        Ok(e)
    }

    /// Returns `id` to the pool; removes its set if freed and now empty.
    fn reclaim(&self, t: Locked<'_>, id: u32) -> Option<KBox<Entry>> {
        let entry = self.ids.erase(id)?;
        if let Ok(i) = t.set_index(entry.set) {
            let s = &mut t.sets[i];
            s.count -= 1;
            s.spids.retain(|&mut (_, ioasid)| ioasid != id);
            if s.freed && s.count == 0 {
                t.retire_set(i);
            }
        }
        self.log.push(Record {
            seq: 0,
            event: FREE,
            set: entry.set,
            ioasid: id,
            prio: 0,
            name: [0; crate::event_log::NAME_LEN],
            phase: Phase::Reclaim,
            rc: 0,
        });
        Some(entry)
    }

    /// Drops a reference; the last one of a freed IOASID reclaims it.
    fn put_in(&self, t: Locked<'_>, set: u32, id: u32) -> Result<Option<KBox<Entry>>> {
        let e = self.owned(t, set, id)?;
        if e.refs == 1 && e.state == IdState::Active {
            pr_warn!("put of IOASID {} in set {} would drop its allocator's reference\n", id, set);
            return Err(EINVAL);
        }
        e.refs -= 1;
        if e.refs > 0 {
            return Ok(None);
        }
        Ok(self.reclaim(t, id))
    }

    fn get_in(&self, t: Locked<'_>, set: u32, id: u32) -> Result {
        let e = self.owned(t, set, id)?;
        if e.state != IdState::Active {
            return Err(ENOENT);
        }
        e.refs += 1;
        Ok(())
    }

    /// Runs `transition` on `id` and, when it says so, delivers `event`:
    /// atomic handlers now, in chain order; deferred handlers queued as one
    /// job behind every earlier one. `must` notifications cannot fail for
    /// lack of memory. `after` runs under the lock after the handlers.
    fn deliver(
        &self,
        set: u32,
        id: u32,
        event: u32,
        must: bool,
        transition: Transition<'_>,
        after: &mut dyn FnMut(Locked<'_>, u32) -> Option<KBox<Entry>>,
    ) -> Result {
        // Room for the deferred calls, reserved before the lock.
        let mut job: Option<Pin<KBox<Job>>> = None;
        let mut spare = None;
        let mut guard = loop {
            let guard = self.tables.lock();
            let need = guard.chain_len(set);
            let have = job.as_ref().map_or(0, |j| j.calls.capacity());
            if need == 0 || have >= need || spare.is_some() {
                break guard;
            }
            drop(guard);
            let made = KVec::with_capacity(need, GFP_KERNEL)
                .map_err(|_| ENOMEM)
                .and_then(|calls| KBox::pin_init(Job::new(calls), GFP_KERNEL).map_err(|_| ENOMEM));
            match made {
                Ok(j) => job = Some(j),
                Err(e) if !must => return Err(e),
                Err(_) => {
                    pr_warn!("out of memory: {} of IOASID {} runs its deferred handlers inline\n", crate::event_log::event_name(event), id);
                    spare = Some(self.spare.lock());
                }
            }
        };
        let t: *mut Tables = &mut *guard;
        // SAFETY: `t` is the locked tables; no other reference is live.
        let e = match event {
            ALLOC => self.entry_any(unsafe { &mut *t }, id).ok_or(ENOENT)?,
            // SAFETY: as above.
            _ => self.owned(unsafe { &mut *t }, set, id)?,
        };
        if !transition(e)? {
            return Ok(());
        }
        let (spid, private) = (e.spid, e.private);
        // SAFETY: as above; `e` is no longer used.
        let tables = unsafe { &*t };
        let token = tables.set_index(set).map_or(0, |i| tables.sets[i].token);
        let ev = teeio_ioasid_event_data { event, ioasid: id, spid, set, token, private };
        self.handler_cpu.store(CpuId::current().as_u32(), Ordering::Relaxed);
        self.handler.store(t, Ordering::Release);
        let mut index = 0;
        // SAFETY: handlers may reach the tables only through `handler`;
        // each borrow here ends before a handler runs.
        while let Some(sub) = unsafe { (*t).chain_at(set, index) } {
            index += 1;
            let (rc, defer) = sub.call_atomic(&ev);
            self.log.push(sub.record(&ev, Phase::Atomic, rc));
            if defer {
                let calls = match (&mut job, &mut spare) {
                    (_, Some(s)) => &mut **s,
                    (Some(j), None) => j.as_mut().project().calls,
                    (None, None) => continue,
                };
                // Room for the whole chain was reserved.
                let _ = calls.push_within_capacity(Call { sub, ev: teeio_ioasid_event_data { ..ev } });
            }
        }
        self.handler.store(ptr::null_mut(), Ordering::Release);
        self.handler_cpu.store(u32::MAX, Ordering::Relaxed);
        // SAFETY: the handlers are done with the tables.
        let reclaimed = after(unsafe { &mut *t }, id);
        // Queued under the lock: an unregister that takes the lock after us
        // finds the job queued and waits for it.
        if let Some(j) = job.take().filter(|j| spare.is_none() && !j.calls.is_empty()) {
            self.queue.enqueue(j);
        }
        drop(guard);
        drop(reclaimed);
        if let Some(mut s) = spare {
            // Keep the order: everything queued before runs first.
            self.queue.flush();
            Job::run_calls(&s, Phase::Inline);
            s.clear();
        }
        Ok(())
    }

    /// The tables locked by the notification running on this CPU.
    fn handler_tables(&self) -> Result<Locked<'_>> {
        let t = self.handler.load(Ordering::Acquire);
        if t.is_null() || self.handler_cpu.load(Ordering::Relaxed) != CpuId::current().as_u32() {
            pr_warn!("a _locked call outside an atomic handler\n");
            return Err(EPERM);
        }
        // SAFETY: by the type invariant `t` is the locked tables of the
        // notification running on this CPU, which holds no borrow of them
        // while the handler runs.
        Ok(unsafe { &mut *t })
    }

    pub(crate) fn set_alloc(&self, token: u64, quota: u32) -> Result<u32> {
        if quota == 0 {
            return Err(EINVAL);
        }
        let mut subscribers = KVec::with_capacity(MAX_PER_SET, GFP_KERNEL)?;
        let mut t = self.tables.lock();
        if t.sets.iter().any(|s| !s.freed && s.token == token) {
            return Err(EEXIST);
        }
        t.sets.reserve(1, GFP_ATOMIC)?;
        let id = t.next_set;
        t.next_set = t.next_set.wrapping_add(1).max(1);
        // Pending subscribers for this token attach to the new set.
        let mut i = 0;
        while i < t.pending.len() {
            if t.pending[i].token == Some(token) {
                let sub = t.pending.remove(i).map_err(|_| EINVAL)?;
                notifier::insert_by_priority(&mut subscribers, sub)?;
            } else {
                i += 1;
            }
        }
        let set = SetState { id, token, quota, count: 0, freed: false, subscribers, spids: KVec::new() };
        t.sets.push(set, GFP_ATOMIC)?;
        Ok(id)
    }

    pub(crate) fn set_adjust(&self, set: u32, quota: u32) -> Result {
        let mut t = self.tables.lock();
        let s = t.live_set(set)?;
        if quota < s.count || quota == 0 {
            return Err(EBUSY);
        }
        s.quota = quota;
        Ok(())
    }

    /// Frees every IOASID of the set; the set goes with its last one.
    pub(crate) fn set_free(&self, set: u32) -> Result {
        let mut t = self.tables.lock();
        t.live_set(set)?.freed = true;
        let i = t.set_index(set)?;
        if t.sets[i].count == 0 {
            t.retire_set(i);
            return Ok(());
        }
        drop(t);
        let mut from = 1u32;
        while let Some(id) = self.next_active(set, from) {
            // Free always succeeds for the set's own, active IOASIDs.
            let _ = self.free(set, id);
            from = id + 1;
        }
        Ok(())
    }

    /// The first active IOASID of `set` at or above `from`.
    fn next_active(&self, set: u32, mut from: u32) -> Option<u32> {
        let mut t = self.tables.lock();
        while let Some(id) = self.ids.next(from) {
            if self.entry(&mut t, id).is_some_and(|e| e.set == set && e.state == IdState::Active) {
                return Some(id);
            }
            from = id.checked_add(1)?;
        }
        None
    }

    pub(crate) fn alloc(&self, set: u32, min: u32, max: u32, private: *mut c_void) -> Result<u32> {
        let (min, max) = (min.max(1), max.min(self.max_id));
        if min > max {
            return Err(EINVAL);
        }
        {
            let mut t = self.tables.lock();
            let s = t.live_set(set)?;
            if s.count >= s.quota {
                return Err(EDQUOT);
            }
            s.count += 1;
        }
        let unreserve = || {
            if let Ok(s) = self.tables.lock().live_set(set) {
                s.count -= 1;
            }
        };
        let entry = Entry { set, refs: 0, state: IdState::Reserved, spid: INVALID, private, binds: 0 };
        let entry = KBox::new(entry, GFP_KERNEL).inspect_err(|_| unreserve())?;
        let id = self.ids.alloc(entry, min, max).map_err(|_| {
            unreserve();
            ENOSPC
        })?;
        let activate: Transition<'_> = &mut |e| {
            e.refs = 1;
            e.state = IdState::Active;
            Ok(true)
        };
        let announced = self.deliver(set, id, ALLOC, false, activate, &mut |_, _| None);
        // Only fails before activation, for lack of memory.
        announced.map(|()| id).or_else(|e| {
            let mut t = self.tables.lock();
            drop(self.ids.erase(id));
            if let Ok(s) = t.live_set(set) {
                s.count -= 1;
            }
            Err(e)
        })
    }

    pub(crate) fn free(&self, set: u32, id: u32) -> Result {
        self.deliver(
            set,
            id,
            FREE,
            true,
            &mut |e| match e.state {
                IdState::Active => {
                    e.state = IdState::FreePending;
                    Ok(true)
                }
                _ => Err(ENOENT),
            },
            &mut |t, id| {
                let e = self.entry(t, id)?;
                e.refs -= 1;
                if e.refs == 0 {
                    return self.reclaim(t, id);
                }
                None
            },
        )
    }

    pub(crate) fn notify(&self, set: u32, id: u32, event: u32) -> Result {
        let transition: Transition<'_> = match event {
            BIND => &mut |e| {
                if e.state != IdState::Active {
                    return Err(ENOENT);
                }
                e.binds += 1;
                Ok(e.binds == 1)
            },
            UNBIND => &mut |e| {
                if e.state != IdState::Active {
                    return Err(ENOENT);
                }
                if e.binds == 0 {
                    return Err(EINVAL);
                }
                e.binds -= 1;
                Ok(e.binds == 0)
            },
            _ => return Err(EINVAL),
        };
        self.deliver(set, id, event, event == UNBIND, transition, &mut |_, _| None)
    }

    pub(crate) fn get(&self, set: u32, id: u32) -> Result {
        self.get_in(&mut self.tables.lock(), set, id)
    }

    pub(crate) fn put(&self, set: u32, id: u32) -> Result {
        let reclaimed = self.put_in(&mut self.tables.lock(), set, id)?;
        drop(reclaimed);
        Ok(())
    }

    pub(crate) fn get_locked(&self, set: u32, id: u32) -> Result {
        self.get_in(self.handler_tables()?, set, id)
    }

    pub(crate) fn put_locked(&self, set: u32, id: u32) -> Result {
        // Never the last reference while handlers run (type invariant).
        self.put_in(self.handler_tables()?, set, id).map(drop)
    }

    pub(crate) fn find(&self, set: u32, id: u32, get: bool) -> Result<*mut c_void> {
        let mut t = self.tables.lock();
        let e = self.owned(&mut t, set, id)?;
        if e.state != IdState::Active {
            return Err(ENOENT);
        }
        e.refs += u32::from(get);
        Ok(e.private)
    }

    pub(crate) fn attach_data(&self, set: u32, id: u32, private: *mut c_void) -> Result {
        let mut t = self.tables.lock();
        let e = self.owned(&mut t, set, id)?;
        if e.state != IdState::Active {
            return Err(ENOENT);
        }
        e.private = private;
        Ok(())
    }

    pub(crate) fn attach_spid(&self, set: u32, id: u32, spid: u32) -> Result {
        if spid == INVALID {
            return Err(EINVAL);
        }
        let mut t = self.tables.lock();
        let e = self.owned(&mut t, set, id)?;
        if e.state != IdState::Active || e.spid != INVALID {
            return Err(if e.state != IdState::Active { ENOENT } else { EBUSY });
        }
        let s = t.live_set(set)?;
        if s.spids.iter().any(|&(sp, _)| sp == spid) {
            return Err(EEXIST);
        }
        s.spids.push((spid, id), GFP_ATOMIC)?;
        if let Some(e) = self.entry(&mut t, id) {
            e.spid = spid;
        }
        Ok(())
    }

    pub(crate) fn find_by_spid(&self, set: u32, spid: u32, get: bool) -> Result<u32> {
        let mut t = self.tables.lock();
        let s = t.live_set(set)?;
        let &(_, id) = s.spids.iter().find(|&&(sp, _)| sp == spid).ok_or(ENOENT)?;
        if get {
            self.get_in(&mut t, set, id)?;
        } else if self.entry(&mut t, id).is_none_or(|e| e.state != IdState::Active) {
            return Err(ENOENT);
        }
        Ok(id)
    }

    pub(crate) fn register(&self, token: Option<u64>, sub: Subscriber) -> Result<Arc<Subscriber>> {
        let sub = Arc::new(sub, GFP_KERNEL)?;
        let mut t = self.tables.lock();
        let Some(token) = token else {
            if t.system.len() >= MAX_SYSTEM {
                return Err(ENOSPC);
            }
            notifier::insert_by_priority(&mut t.system, sub.clone())?;
            return Ok(sub);
        };
        if let Some(s) = t.sets.iter_mut().find(|s| !s.freed && s.token == token) {
            if s.count > 0 {
                // Its IOASIDs' events so far would be missed.
                return Err(EBUSY);
            }
            if s.subscribers.len() >= MAX_PER_SET {
                return Err(ENOSPC);
            }
            notifier::insert_by_priority(&mut s.subscribers, sub.clone())?;
            return Ok(sub);
        }
        let waiting = t.pending.iter().filter(|p| p.token == Some(token)).count();
        if waiting >= MAX_PER_SET || t.pending.len() >= MAX_SYSTEM {
            return Err(ENOSPC);
        }
        t.pending.push_within_capacity(sub.clone()).map_err(|_| ENOSPC)?;
        Ok(sub)
    }

    pub(crate) fn unregister(&self, sub: Arc<Subscriber>) {
        {
            let mut t = self.tables.lock();
            let t = &mut *t;
            if !notifier::remove(&mut t.system, &sub) && !notifier::remove(&mut t.pending, &sub) {
                for s in t.sets.iter_mut() {
                    notifier::remove(&mut s.subscribers, &sub);
                }
            }
        }
        // No queued job, nor an inline run (which holds `spare`), may call
        // it after this returns.
        drop(self.spare.lock());
        self.queue.flush();
    }

    pub(crate) fn flush(&self) {
        self.queue.flush();
    }

    /// References and state of `id`, for tests.
    pub(crate) fn inspect(&self, id: u32) -> Option<(u32, IdState)> {
        let mut t = self.tables.lock();
        self.entry(&mut t, id).map(|e| (e.refs, e.state))
    }

    /// IOASIDs of `set` not yet reclaimed, or `None` once the set is gone.
    pub(crate) fn set_count(&self, set: u32) -> Option<u32> {
        let t = self.tables.lock();
        t.set_index(set).ok().map(|i| t.sets[i].count)
    }
}
