// SPDX-License-Identifier: GPL-2.0

//! The benchmark: IOASID alloc + free pairs beside the kernel IDA's
//! `ida_alloc_range()` + `ida_free()` in the same boot, and the cost of a
//! notification for 1, 4, 16 and 64 subscribers. Figures, not pass/fail.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

use crate::ioasid_core::{Core, BIND, UNBIND};
use crate::notifier::Subscriber;
use crate::teeio_bindings::{self as b, teeio_ioasid_event_data, teeio_ioasid_subscriber};

/// Subscriber counts measured (0 is the baseline).
const SUBSCRIBERS: [u64; 5] = [0, 1, 4, 16, 64];
/// IDs live at once in the batch pattern.
const BATCH: u32 = 1024;
/// A token no other user of the core picks.
const TOKEN: u64 = 0x7e10_0000_0000_be4c;

/// The last run's figures, in nanoseconds.
struct Figures {
    pairs: AtomicU64,
    ida_single: AtomicU64,
    ioasid_single: AtomicU64,
    batch_pairs: AtomicU64,
    ida_batch: AtomicU64,
    ioasid_batch: AtomicU64,
    notifies: AtomicU64,
    notify: [AtomicU64; SUBSCRIBERS.len()],
}

static FIGURES: Figures = Figures {
    pairs: AtomicU64::new(0),
    ida_single: AtomicU64::new(0),
    ioasid_single: AtomicU64::new(0),
    batch_pairs: AtomicU64::new(0),
    ida_batch: AtomicU64::new(0),
    ioasid_batch: AtomicU64::new(0),
    notifies: AtomicU64::new(0),
    notify: [const { AtomicU64::new(0) }; SUBSCRIBERS.len()],
};

fn now_ns() -> u64 {
    // SAFETY: reads the monotonic clock.
    unsafe { kernel::bindings::ktime_get() as u64 }
}

unsafe extern "C" fn noop(_ev: *const teeio_ioasid_event_data, _data: *mut c_void) -> c_int {
    0
}

/// Nanoseconds for `rounds` rounds of `batch` allocations then frees.
fn ioasid_rounds(core: &Core, set: u32, rounds: u32, batch: u32) -> Result<u64> {
    let mut ids = KVec::with_capacity(batch as usize, GFP_KERNEL)?;
    let start = now_ns();
    for _ in 0..rounds {
        for _ in 0..batch {
            ids.push(core.alloc(set, 1, core.max_id(), core::ptr::null_mut())?, GFP_KERNEL)?;
        }
        for &id in ids.iter() {
            core.free(set, id)?;
        }
        ids.clear();
    }
    Ok((now_ns() - start).max(1))
}

fn ida_rounds(core: &Core, rounds: u32, batch: u32) -> Result<u64> {
    // SAFETY: plain call into the C edge.
    match unsafe { b::teeio_ioasid_edge_bench_ida(rounds, batch, core.max_id()) } {
        0 => Err(ENOMEM),
        ns => Ok(ns),
    }
}

/// Nanoseconds per notification with `n` no-op subscribers.
fn notify_ns(core: &Core, set: u32, id: u32, n: u64, iters: u32) -> Result<u64> {
    let desc = teeio_ioasid_subscriber {
        name: c"bench".as_char_ptr(),
        priority: b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_DEVICE,
        atomic: Some(noop),
        deferred: None,
        data: core::ptr::null_mut(),
    };
    let mut subs = KVec::new();
    let mut result = Ok(0);
    for _ in 0..n {
        // SAFETY: `desc.name` is a C string literal.
        match unsafe { Subscriber::from_c(None, &desc) }.and_then(|s| core.register(None, s)) {
            Ok(s) => subs.push(s, GFP_KERNEL)?,
            Err(e) => result = Err(e),
        }
    }
    if result.is_ok() {
        let start = now_ns();
        for _ in 0..iters {
            core.notify(set, id, BIND)?;
            core.notify(set, id, UNBIND)?;
        }
        result = Ok((now_ns() - start) / (2 * u64::from(iters)));
    }
    for s in subs.drain_all() {
        core.unregister(s);
    }
    result
}

/// Runs every measurement with `pairs` alloc + free pairs.
pub(crate) fn run(core: &Core, pairs: u32) -> Result {
    let set = core.set_alloc(TOKEN, BATCH)?;
    let result = (|| -> Result {
        let ida = ida_rounds(core, pairs, 1)?;
        let ioasid = ioasid_rounds(core, set, pairs, 1)?;
        let rounds = (pairs / BATCH).max(1);
        let ida_batch = ida_rounds(core, rounds, BATCH)?;
        let ioasid_batch = ioasid_rounds(core, set, rounds, BATCH)?;
        let id = core.alloc(set, 1, core.max_id(), core::ptr::null_mut())?;
        let iters = (pairs / 8).max(1);
        let mut notify = [0u64; SUBSCRIBERS.len()];
        for (i, &n) in SUBSCRIBERS.iter().enumerate() {
            notify[i] = notify_ns(core, set, id, n, iters)?;
        }
        core.free(set, id)?;
        FIGURES.pairs.store(pairs.into(), Relaxed);
        FIGURES.ida_single.store(ida, Relaxed);
        FIGURES.ioasid_single.store(ioasid, Relaxed);
        FIGURES.batch_pairs.store(u64::from(rounds * BATCH), Relaxed);
        FIGURES.ida_batch.store(ida_batch, Relaxed);
        FIGURES.ioasid_batch.store(ioasid_batch, Relaxed);
        FIGURES.notifies.store(2 * u64::from(iters), Relaxed);
        for (f, ns) in FIGURES.notify.iter().zip(notify) {
            f.store(ns, Relaxed);
        }
        Ok(())
    })();
    core.set_free(set)?;
    result
}

/// Pairs per second for `pairs` pairs in `ns`.
fn rate(pairs: u64, ns: u64) -> u64 {
    pairs.saturating_mul(1_000_000_000) / ns.max(1)
}

fn pair_line(f: &mut fmt::Formatter<'_>, what: &str, pairs: u64, ida: u64, ioasid: u64) -> fmt::Result {
    let (a, b) = (rate(pairs, ida), rate(pairs, ioasid));
    let ratio = b.saturating_mul(1000) / a.max(1);
    writeln!(
        f,
        "alloc+free {what}: {pairs} pairs: IDA {a} pairs/s, IOASID {b} pairs/s, IOASID/IDA {}.{:03}",
        ratio / 1000,
        ratio % 1000
    )
}

/// The last run's figures.
pub(crate) fn show(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let pairs = FIGURES.pairs.load(Relaxed);
    if pairs == 0 {
        return writeln!(f, "no run yet: write a pair count");
    }
    let single = (FIGURES.ida_single.load(Relaxed), FIGURES.ioasid_single.load(Relaxed));
    pair_line(f, "one at a time", pairs, single.0, single.1)?;
    let batch = (FIGURES.ida_batch.load(Relaxed), FIGURES.ioasid_batch.load(Relaxed));
    pair_line(f, "1024 live", FIGURES.batch_pairs.load(Relaxed), batch.0, batch.1)?;
    let base = FIGURES.notify[0].load(Relaxed);
    writeln!(f, "notify: {} notifications each; 0 subscribers: {} ns", FIGURES.notifies.load(Relaxed), base)?;
    for (i, &n) in SUBSCRIBERS.iter().enumerate().skip(1) {
        let ns = FIGURES.notify[i].load(Relaxed);
        writeln!(f, "notify: {n} subscribers: {ns} ns, {} ns per subscriber", ns.saturating_sub(base).checked_div(n).unwrap_or(0))?;
    }
    Ok(())
}
