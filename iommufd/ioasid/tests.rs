// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of the IOASID core, through its C ABI: allocation, quota,
//! sets, SPIDs, references and FREE_PENDING, priority order, pending
//! registration, bind counting, concurrency, and the two life-cycle tables
//! of the IOASID document (seed 003) replayed step by step with the
//! reference counts they show.

use kernel::prelude::*;

#[kunit_tests(teeio_ioasid)]
mod suite {
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
    use kernel::ffi::{c_int, c_void};
    use kernel::prelude::*;
    use kernel::sync::{Arc, Completion};

    use crate::event_log::{prio_name, Phase};
    use crate::ioasid_core::{IdState, ALLOC, BIND, FREE, UNBIND};
    use crate::teeio_bindings::{self as b, teeio_ioasid_event_data, teeio_ioasid_subscriber};
    use crate::*;

    const CPU: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_CPU;
    const DEVICE: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_DEVICE;
    const IOMMU: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_IOMMU;
    const LAST: u32 = b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_LAST;
    const DEFER: c_int = b::TEEIO_IOASID_DEFER as c_int;

    /// What a test subscriber does.
    #[derive(Default)]
    struct Probe {
        /// Take a reference (locked) on BIND.
        get_on_bind: bool,
        /// Put a reference in the atomic handler on UNBIND / FREE (like
        /// KVM), rather than deferring the put (like VDCM and the IOMMU).
        put_atomic: bool,
        /// Defer on every event.
        defer_all: bool,
        /// The IOASID this subscriber holds a reference to, or 0.
        holds: AtomicU32,
        /// Set if an atomic handler ran outside atomic context.
        not_atomic: AtomicBool,
        /// Calls seen.
        calls: AtomicU32,
    }

    unsafe extern "C" fn atomic(ev: *const teeio_ioasid_event_data, data: *mut c_void) -> c_int {
        // SAFETY: the core passes a valid event and the registered Probe.
        let (ev, p) = unsafe { (&*ev, &*data.cast::<Probe>()) };
        // SAFETY: plain call into the C edge.
        if !unsafe { b::teeio_ioasid_edge_in_atomic() } {
            p.not_atomic.store(true, SeqCst);
        }
        p.calls.fetch_add(1, SeqCst);
        match ev.event {
            BIND if p.get_on_bind => {
                if teeio_ioasid_get_locked(ev.set, ev.ioasid) == 0 {
                    p.holds.store(ev.ioasid, SeqCst);
                }
                0
            }
            UNBIND | FREE if p.holds.load(SeqCst) == ev.ioasid && p.put_atomic => {
                if teeio_ioasid_put_locked(ev.set, ev.ioasid) == 0 {
                    p.holds.store(0, SeqCst);
                }
                0
            }
            UNBIND | FREE if p.holds.load(SeqCst) == ev.ioasid => DEFER,
            _ if p.defer_all => DEFER,
            _ => 0,
        }
    }

    unsafe extern "C" fn deferred(ev: *const teeio_ioasid_event_data, data: *mut c_void) -> c_int {
        // SAFETY: as in `atomic`.
        let (ev, p) = unsafe { (&*ev, &*data.cast::<Probe>()) };
        if p.holds.compare_exchange(ev.ioasid, 0, SeqCst, SeqCst).is_ok() {
            return teeio_ioasid_put(ev.set, ev.ioasid);
        }
        0
    }

    /// A registration, unregistered when dropped (also when a failed
    /// assertion ends the test), before the probe it points to.
    struct Reg(*mut b::teeio_ioasid_notifier);

    impl Drop for Reg {
        fn drop(&mut self) {
            if ok(self.0) {
                teeio_ioasid_unregister(self.0);
            }
        }
    }

    fn reg(token: Option<u64>, name: &'static CStr, priority: u32, p: &Probe) -> Reg {
        Reg(register(token, name, priority, p))
    }

    fn register(token: Option<u64>, name: &'static CStr, priority: u32, p: &Probe) -> *mut b::teeio_ioasid_notifier {
        let desc = teeio_ioasid_subscriber {
            name: name.as_char_ptr(),
            priority,
            atomic: Some(atomic),
            deferred: Some(deferred),
            data: (p as *const Probe).cast_mut().cast(),
        };
        let token = token.as_ref().map_or(core::ptr::null(), |t| t as *const u64);
        teeio_ioasid_register(token, &desc)
    }

    fn ok(n: *mut b::teeio_ioasid_notifier) -> bool {
        !n.is_null() && kernel::error::from_err_ptr(n).is_ok()
    }

    fn set_alloc(token: u64, quota: u32) -> u32 {
        let mut set = 0;
        assert_eq!(0, teeio_ioasid_set_alloc(token, quota, &mut set));
        set
    }

    fn alloc(set: u32, min: u32, max: u32) -> Result<u32, c_int> {
        let mut id = 0;
        match teeio_ioasid_alloc(set, min, max, core::ptr::null_mut(), &mut id) {
            0 => Ok(id),
            e => Err(e),
        }
    }

    fn refs(id: u32) -> u32 {
        core().inspect(id).map_or(0, |(r, _)| r)
    }

    fn state(id: u32) -> Option<IdState> {
        core().inspect(id).map(|(_, s)| s)
    }

    /// The log lines of `set` as "EVENT PRIO name phase", oldest first.
    fn log_of(set: u32) -> KVec<KVec<u8>> {
        let mut lines = KVec::new();
        core().log.for_each(|r| {
            if r.set != set {
                return;
            }
            let mut line = KVec::new();
            let parts = match r.phase {
                Phase::Reclaim => [r.phase.name(), "", "", ""],
                _ => [crate::event_log::event_name(r.event), prio_name(r.prio), r.name(), r.phase.name()],
            };
            for part in parts.iter().filter(|p| !p.is_empty()) {
                let _ = line.extend_from_slice(part.as_bytes(), GFP_ATOMIC);
                let _ = line.push(b' ', GFP_ATOMIC);
            }
            line.pop();
            let _ = lines.push(line, GFP_ATOMIC);
        });
        lines
    }

    /// Whether the log of `set` is `want`; says where it differs.
    fn log_is(set: u32, want: &[&str]) -> bool {
        let got = log_of(set);
        for (i, w) in want.iter().enumerate() {
            let line = got.get(i).map_or(&b"(none)"[..], |l| &l[..]);
            if line != w.as_bytes() {
                kernel::kunit::err(format_args!(
                    "    # log line {}: got {:?}, want {}\n",
                    i,
                    core::str::from_utf8(line).unwrap_or("?"),
                    w
                ));
            }
            if line != w.as_bytes() {
                return false;
            }
        }
        want.len() == got.len()
    }

    #[test]
    fn alloc_find_free() {
        let mut marker = 7u8;
        let set = set_alloc(0x1001, 8);
        let mut id = 0;
        let private = (&raw mut marker).cast::<c_void>();
        assert_eq!(0, teeio_ioasid_alloc(set, 1, 100, private, &mut id));
        assert!((1..=100).contains(&id));
        let mut found = core::ptr::null_mut();
        assert_eq!(0, teeio_ioasid_find(set, id, false, &mut found));
        assert_eq!(private, found);
        assert_eq!(1, refs(id));
        assert_eq!(0, teeio_ioasid_free(set, id));
        assert_eq!(None, state(id));
        assert_eq!(-(ENOENT.to_errno().abs()), teeio_ioasid_find(set, id, false, &mut found));
        assert_eq!(Some(0), core().set_count(set));
        assert_eq!(0, teeio_ioasid_set_free(set));
        assert_eq!(None, core().set_count(set));
        // The ID 0 is never handed out.
        let set = set_alloc(0x1001, 1);
        assert_eq!(Err(EINVAL.to_errno()), alloc(set, 0, 0));
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    #[test]
    fn quota_and_range() {
        let set = set_alloc(0x1002, 2);
        let a = alloc(set, 1, core().max_id()).unwrap_or(0);
        let b_ = alloc(set, 1, core().max_id()).unwrap_or(0);
        assert!(a != 0 && b_ != 0 && a != b_);
        assert_eq!(Err(EDQUOT.to_errno()), alloc(set, 1, core().max_id()));
        assert_eq!(EBUSY.to_errno(), teeio_ioasid_set_adjust(set, 1));
        assert_eq!(0, teeio_ioasid_set_adjust(set, 3));
        assert_eq!(Err(ENOSPC.to_errno()), alloc(set, a, a));
        assert_eq!(Err(EINVAL.to_errno()), alloc(set, 10, 9));
        assert_eq!(Err(EINVAL.to_errno()), alloc(set, core().max_id() + 1, u32::MAX));
        assert_eq!(0, teeio_ioasid_set_free(set));
        assert_eq!(None, core().set_count(set));
        assert_eq!(EINVAL.to_errno(), teeio_ioasid_set_alloc(0x1002, 0, &mut 0));
    }

    #[test]
    fn sets_are_isolated() {
        let mine = set_alloc(0x1003, 4);
        let other = set_alloc(0x1004, 4);
        let mut dup = 0;
        assert_eq!(EEXIST.to_errno(), teeio_ioasid_set_alloc(0x1003, 4, &mut dup));
        let id = alloc(mine, 1, core().max_id()).unwrap_or(0);
        let mut p = core::ptr::null_mut();
        assert_eq!(EACCES.to_errno(), teeio_ioasid_free(other, id));
        assert_eq!(EACCES.to_errno(), teeio_ioasid_get(other, id));
        assert_eq!(EACCES.to_errno(), teeio_ioasid_put(other, id));
        assert_eq!(EACCES.to_errno(), teeio_ioasid_find(other, id, true, &mut p));
        assert_eq!(EACCES.to_errno(), teeio_ioasid_notify(other, id, BIND));
        assert_eq!(EACCES.to_errno(), teeio_ioasid_attach_spid(other, id, 5));
        // Freeing the other set leaves this one's IOASID alone.
        assert_eq!(0, teeio_ioasid_set_free(other));
        assert_eq!(Some(IdState::Active), state(id));
        // A put that would drop the allocator's reference is refused.
        assert_eq!(EINVAL.to_errno(), teeio_ioasid_put(mine, id));
        assert_eq!(0, teeio_ioasid_free(mine, id));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_free(mine, id));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_set_free(other));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_set_adjust(other, 9));
        // Locked calls belong in atomic handlers only.
        assert_eq!(EPERM.to_errno(), teeio_ioasid_get_locked(mine, id));
        assert_eq!(0, teeio_ioasid_set_free(mine));
    }

    #[test]
    fn spids() {
        let vm1 = set_alloc(0x1005, 4);
        let vm2 = set_alloc(0x1006, 4);
        let a = alloc(vm1, 1, core().max_id()).unwrap_or(0);
        let c = alloc(vm2, 1, core().max_id()).unwrap_or(0);
        // Both guests use guest PASID 101.
        assert_eq!(0, teeio_ioasid_attach_spid(vm1, a, 101));
        assert_eq!(0, teeio_ioasid_attach_spid(vm2, c, 101));
        let (mut x, mut y) = (0, 0);
        assert_eq!(0, teeio_ioasid_find_by_spid(vm1, 101, false, &mut x));
        assert_eq!(0, teeio_ioasid_find_by_spid(vm2, 101, true, &mut y));
        assert_eq!((a, c), (x, y));
        assert_eq!(2, refs(c));
        assert_eq!(0, teeio_ioasid_put(vm2, c));
        let d = alloc(vm1, 1, core().max_id()).unwrap_or(0);
        assert_eq!(EEXIST.to_errno(), teeio_ioasid_attach_spid(vm1, d, 101));
        assert_eq!(EBUSY.to_errno(), teeio_ioasid_attach_spid(vm1, a, 102));
        assert_eq!(EINVAL.to_errno(), teeio_ioasid_attach_spid(vm1, d, 0));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_find_by_spid(vm1, 999, false, &mut x));
        assert_eq!(0, teeio_ioasid_free(vm1, a));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_find_by_spid(vm1, 101, false, &mut x));
        // The SPID is free again once its IOASID is reclaimed.
        assert_eq!(0, teeio_ioasid_attach_spid(vm1, d, 101));
        assert_eq!(0, teeio_ioasid_set_free(vm1));
        assert_eq!(0, teeio_ioasid_set_free(vm2));
    }

    #[test]
    fn free_pending_holds_the_id() {
        let set = set_alloc(0x1007, 4);
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        assert_eq!(0, teeio_ioasid_get(set, id));
        assert_eq!(2, refs(id));
        // Free always succeeds, references or not.
        assert_eq!(0, teeio_ioasid_free(set, id));
        assert_eq!(Some(IdState::FreePending), state(id));
        assert_eq!(1, refs(id));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_get(set, id));
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_notify(set, id, BIND));
        // Not reusable while a reference is out.
        assert_eq!(Err(ENOSPC.to_errno()), alloc(set, id, id));
        assert_eq!(Some(1), core().set_count(set));
        assert_eq!(0, teeio_ioasid_put(set, id));
        assert_eq!(None, state(id));
        assert_eq!(Ok(id), alloc(set, id, id));
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    #[test]
    fn priority_order() {
        let token = 0x1008;
        let probes: [Probe; 6] = Default::default();
        for p in probes.iter() {
            // SAFETY: written before the probes are shared.
            unsafe { (*(p as *const Probe).cast_mut()).defer_all = true };
        }
        let n = [
            reg(None, c"last-sys", LAST, &probes[0]),
            reg(Some(token), c"cpu-set", CPU, &probes[1]),
            reg(None, c"iommu-sys", IOMMU, &probes[2]),
            reg(Some(token), c"device-set", DEVICE, &probes[3]),
            reg(None, c"device-sys", DEVICE, &probes[4]),
            reg(None, c"cpu-sys", CPU, &probes[5]),
        ];
        assert!(n.iter().all(|r| ok(r.0)));
        let set = set_alloc(token, 2);
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        teeio_ioasid_flush();
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        teeio_ioasid_flush();
        let order = ["CPU cpu-set", "CPU cpu-sys", "DEVICE device-set", "DEVICE device-sys", "IOMMU iommu-sys", "LAST last-sys"];
        let mut lines = KVec::new();
        for ev in ["ALLOC", "BIND"] {
            for phase in ["atomic", "deferred"] {
                for o in order {
                    let mut s = KVec::new();
                    let _ = s.extend_from_slice(ev.as_bytes(), GFP_KERNEL);
                    let _ = s.push(b' ', GFP_KERNEL);
                    let _ = s.extend_from_slice(o.as_bytes(), GFP_KERNEL);
                    let _ = s.push(b' ', GFP_KERNEL);
                    let _ = s.extend_from_slice(phase.as_bytes(), GFP_KERNEL);
                    let _ = lines.push(s, GFP_KERNEL);
                }
            }
        }
        let mut want = KVec::new();
        for l in lines.iter() {
            let _ = want.push(core::str::from_utf8(l).unwrap_or(""), GFP_KERNEL);
        }
        assert!(log_is(set, &want));
        for p in probes.iter() {
            assert!(!p.not_atomic.load(SeqCst));
            assert_eq!(2, p.calls.load(SeqCst));
        }
        drop(n);
        // Unregistered subscribers hear nothing more.
        assert_eq!(0, teeio_ioasid_notify(set, id, UNBIND));
        teeio_ioasid_flush();
        assert_eq!(2, probes[0].calls.load(SeqCst));
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    #[test]
    fn pending_registration_and_no_replay() {
        let token = 0x1009;
        let early = Probe::default();
        let late = Probe::default();
        // Registered before its set exists: pending, then attached.
        let n1 = reg(Some(token), c"early", CPU, &early);
        assert!(ok(n1.0));
        let set = set_alloc(token, 4);
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        assert_eq!(1, early.calls.load(SeqCst));
        // The set has IOASIDs now: their events would be missed.
        assert_eq!(Err(EBUSY), kernel::error::from_err_ptr(register(Some(token), c"late", CPU, &late)));
        // System-wide subscribers get no replay of earlier events.
        let n2 = reg(None, c"late-sys", IOMMU, &late);
        assert!(ok(n2.0));
        assert_eq!(0, late.calls.load(SeqCst));
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        assert_eq!(1, late.calls.load(SeqCst));
        assert_eq!(2, early.calls.load(SeqCst));
        drop(n2);
        assert_eq!(0, teeio_ioasid_set_free(set));
        assert_eq!(3, early.calls.load(SeqCst));
        // The registration waits, pending, for the next set with its token.
        let set = set_alloc(token, 4);
        let _ = alloc(set, 1, core().max_id());
        assert_eq!(4, early.calls.load(SeqCst));
        assert_eq!(0, teeio_ioasid_set_free(set));
        drop(n1);
        let bad = teeio_ioasid_subscriber { name: core::ptr::null(), priority: 9, atomic: None, deferred: None, data: core::ptr::null_mut() };
        assert_eq!(Err(EINVAL), kernel::error::from_err_ptr(teeio_ioasid_register(core::ptr::null(), &bad)));
    }

    #[test]
    fn bind_counting() {
        let set = set_alloc(0x100a, 2);
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        core().log.clear();
        let p = Probe::default();
        let n = reg(None, c"counter", DEVICE, &p);
        // Only the first BIND and the last UNBIND are announced.
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        assert_eq!(0, teeio_ioasid_notify(set, id, UNBIND));
        assert_eq!(1, p.calls.load(SeqCst));
        assert_eq!(0, teeio_ioasid_notify(set, id, UNBIND));
        assert_eq!(2, p.calls.load(SeqCst));
        assert_eq!(EINVAL.to_errno(), teeio_ioasid_notify(set, id, UNBIND));
        assert_eq!(EINVAL.to_errno(), teeio_ioasid_notify(set, id, ALLOC));
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        assert_eq!(0, teeio_ioasid_free(set, id));
        // No UNBIND after FREE.
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_notify(set, id, UNBIND));
        drop(n);
        assert!(log_is(set, &["BIND DEVICE counter atomic", "UNBIND DEVICE counter atomic", "BIND DEVICE counter atomic", "FREE DEVICE counter atomic", "reclaim"]));
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    /// Steps 1-10 of both tables: the IOASID with KVM's, the IOMMU's and
    /// VDCM's references (4). Returns (set, ioasid, notifiers).
    fn seed_setup(token: u64, kvm: &Probe, vdcm: &Probe, iommu: &Probe) -> (u32, u32, [Reg; 3]) {
        // 1: ioasid_register_notifier(): KVM and VDCM per VM, IOMMU global.
        let n = [
            reg(Some(token), c"kvm", CPU, kvm),
            reg(Some(token), c"vdcm", DEVICE, vdcm),
            reg(None, c"iommu", IOMMU, iommu),
        ];
        assert!(n.iter().all(|r| ok(r.0)));
        let set = set_alloc(token, 4);
        // 2: ioasid_alloc() -> 1
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        assert_eq!(1, refs(id));
        assert_eq!(0, teeio_ioasid_attach_spid(set, id, 101));
        // 3-4: bind_gpasid(), iommu_bind() -> ioasid_get() -> 2
        assert_eq!(0, teeio_ioasid_get(set, id));
        assert_eq!(2, refs(id));
        // 5-7: ioasid_notify(BIND) -> KVM ioasid_get() -> 3
        assert_eq!(0, teeio_ioasid_notify(set, id, BIND));
        assert_eq!(3, refs(id));
        // 8-10: mdev_write(gpasid), VDCM find_by_spid(gpasid) -> 4
        let mut found = 0;
        assert_eq!(0, teeio_ioasid_find_by_spid(set, 101, true, &mut found));
        assert_eq!(id, found);
        vdcm.holds.store(id, SeqCst);
        assert_eq!(4, refs(id));
        (set, id, n)
    }

    #[test]
    fn seed_normal_life_cycle() {
        let kvm = Probe { get_on_bind: true, put_atomic: true, ..Default::default() };
        let (vdcm, iommu) = (Probe::default(), Probe::default());
        let (set, id, n) = seed_setup(0x100b, &kvm, &vdcm, &iommu);
        // 12-13: the guest starts and stops DMA.
        // 14-16: mdev_clear, vdev_clear, VDCM ioasid_put() -> 3
        assert_eq!(0, teeio_ioasid_put(set, id));
        vdcm.holds.store(0, SeqCst);
        assert_eq!(3, refs(id));
        // 17-21: unbind_gpasid, iommu_unbind, ioasid_notify(UNBIND),
        // KVM vmcs_update_atomic, ioasid_put() -> 2
        assert_eq!(0, teeio_ioasid_notify(set, id, UNBIND));
        assert_eq!(2, refs(id));
        // 22: ioasid_free() -> 1
        assert_eq!(0, teeio_ioasid_free(set, id));
        assert_eq!(1, refs(id));
        assert_eq!(Some(IdState::FreePending), state(id));
        // 23-24: the IOMMU driver's own put -> 0, reclaimed.
        assert_eq!(0, teeio_ioasid_put(set, id));
        assert_eq!(None, state(id));
        assert_eq!(Some(0), core().set_count(set));
        // New life cycle: ioasid_alloc() -> 1
        let id = alloc(set, 1, core().max_id()).unwrap_or(0);
        assert_eq!(1, refs(id));
        drop(n);
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    #[test]
    fn seed_guest_misbehaves() {
        let kvm = Probe { get_on_bind: true, put_atomic: true, ..Default::default() };
        let (vdcm, iommu) = (Probe::default(), Probe::default());
        let (set, id, n) = seed_setup(0x100c, &kvm, &vdcm, &iommu);
        // The IOMMU's reference (step 4) is put by its FREE work.
        iommu.holds.store(id, SeqCst);
        core().log.clear();
        // 13-14: the guest starts DMA and misbehaves.
        // 15-23: ioasid_free() before unbind: FREE; KVM puts at once (3),
        // VDCM and the IOMMU defer; free drops the allocator's reference.
        assert_eq!(0, teeio_ioasid_free(set, id));
        let after_free = refs(id);
        // 17: no new references once FREE_PENDING.
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_get(set, id));
        // 24-28: VDCM's and the IOMMU's work put theirs; reclaimed.
        teeio_ioasid_flush();
        assert!(after_free == 2 || after_free == 0);
        assert_eq!(None, state(id));
        // 29-30: the late unbind finds nothing.
        assert_eq!(ENOENT.to_errno(), teeio_ioasid_notify(set, id, UNBIND));
        assert!(log_is(
            set,
            &[
                "FREE CPU kvm atomic",
                "FREE DEVICE vdcm atomic",
                "FREE IOMMU iommu atomic",
                "FREE DEVICE vdcm deferred",
                // A handler's record is written when it returns; the
                // IOMMU's put reclaimed the IOASID.
                "reclaim",
                "FREE IOMMU iommu deferred",
            ],
        ));
        drop(n);
        assert_eq!(0, teeio_ioasid_set_free(set));
    }

    #[test]
    fn set_free_tears_every_ioasid_down_in_order() {
        let token = 0x100d;
        let cpu = Probe { get_on_bind: true, ..Default::default() };
        let n = reg(Some(token), c"cpu", CPU, &cpu);
        let set = set_alloc(token, 8);
        let ids: [u32; 3] = core::array::from_fn(|_| alloc(set, 1, core().max_id()).unwrap_or(0));
        // The last one freed is bound: its teardown runs after the rest.
        assert_eq!(0, teeio_ioasid_notify(set, ids[2], BIND));
        assert_eq!(2, refs(ids[2]));
        core().log.clear();
        assert_eq!(0, teeio_ioasid_set_free(set));
        // IOASIDs without references go at once; the bound one after its
        // subscriber's deferred put.
        teeio_ioasid_flush();
        assert_eq!(None, core().set_count(set));
        assert!(log_is(
            set,
            &[
                "FREE CPU cpu atomic",
                "reclaim",
                "FREE CPU cpu atomic",
                "reclaim",
                "FREE CPU cpu atomic",
                "reclaim",
                "FREE CPU cpu deferred",
            ]
        ));
        // The token can name a new set.
        let again = set_alloc(token, 1);
        assert_eq!(0, teeio_ioasid_set_free(again));
        drop(n);
    }

    /// Alloc, get, find, put, free rounds in one set per worker, and gets
    /// on a shared IOASID, from two workers at once.
    #[test]
    fn concurrency() {
        const ROUNDS: u32 = 2000;
        let shared_set = set_alloc(0x100e, 1);
        let shared = alloc(shared_set, 1, core().max_id()).unwrap_or(0);
        let failures = Arc::new(AtomicU32::new(0), GFP_KERNEL);
        let done = [Arc::pin_init(Completion::new(), GFP_KERNEL), Arc::pin_init(Completion::new(), GFP_KERNEL)];
        let (Ok(failures), [Ok(d0), Ok(d1)]) = (failures, done) else {
            assert!(false);
            return;
        };
        for (w, done) in [(0u64, d0.clone()), (1, d1.clone())] {
            let failures = failures.clone();
            let spawned = kernel::workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
                let mut set = 0;
                let mut bad = u32::from(teeio_ioasid_set_alloc(0x2000 + w, 4, &mut set) != 0);
                for i in 0..ROUNDS {
                    let mut id = 0;
                    let mut p = core::ptr::null_mut();
                    let mark = (i as usize + 1) as *mut c_void;
                    bad += u32::from(teeio_ioasid_alloc(set, 1, core().max_id(), mark, &mut id) != 0);
                    bad += u32::from(teeio_ioasid_get(set, id) != 0);
                    bad += u32::from(teeio_ioasid_find(set, id, false, &mut p) != 0 || p != mark);
                    bad += u32::from(teeio_ioasid_get(shared_set, shared) != 0);
                    bad += u32::from(teeio_ioasid_free(set, id) != 0);
                    bad += u32::from(teeio_ioasid_put(shared_set, shared) != 0);
                    bad += u32::from(teeio_ioasid_put(set, id) != 0);
                }
                bad += u32::from(core().set_count(set) != Some(0));
                bad += u32::from(teeio_ioasid_set_free(set) != 0);
                failures.fetch_add(bad, SeqCst);
                done.complete_all();
            });
            assert!(spawned.is_ok());
        }
        d0.wait_for_completion();
        d1.wait_for_completion();
        assert_eq!(0, failures.load(SeqCst));
        assert_eq!(1, refs(shared));
        assert_eq!(0, teeio_ioasid_set_free(shared_set));
    }
}
