// SPDX-License-Identifier: GPL-2.0

//! A confidential vIOMMU: one VM's view of the TDIs bound to it, and where
//! their state changes are reported.
//!
//! The vIOMMU subscribes to the VM's IOASID set (the host TSM bridge makes
//! one per VM, token = VM identity, and gives each bound TDI the set-private
//! ID of its TDI id, the vDEVICE's virt_id). Its LAST-priority handler learns
//! of every TDI teardown, whoever started it, and tells the vEVENTQ why.

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::{new_mutex, new_spinlock, Arc, Mutex, SpinLock};

use crate::b;
use crate::edge::Vm;
use crate::veventq::EventQueue;

/// Who is expected to tear a TDI down next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Nobody: a teardown now is the host's own.
    Nothing,
    /// This VMM is binding it: a failed bind's cleanup is not news.
    Binding,
    /// This VMM, through TSM UNBIND or destroy.
    VmmUnbind,
    /// A guest request in flight; `stop` when it is STOP_INTERFACE.
    Request { stop: bool, unbound: bool },
}

/// A vDEVICE's TDI as the vIOMMU tracks it.
struct Tracked {
    vdevice_id: u32,
    virt_id: u32,
    bound: bool,
    torn_down: bool,
    /// Deferred handler calls queued for its UNBIND and its FREE.
    unbind_queued: bool,
    free_queued: bool,
    expect: Expect,
}

impl Tracked {
    /// The PCI/TSM core let go of it: nothing is bound or torn down.
    fn reset(&mut self) {
        self.bound = false;
        self.torn_down = false;
        self.unbind_queued = false;
        self.free_queued = false;
        self.expect = Expect::Nothing;
    }
}

/// A vIOMMU.
///
/// # Invariants
///
/// `notifier`, once set, is a registration whose handler data is this
/// vIOMMU; it is unregistered before the vIOMMU is freed.
#[pin_data(PinnedDrop)]
pub(crate) struct Viommu {
    pub(crate) id: u32,
    pub(crate) vm: Vm,
    #[pin]
    tdis: SpinLock<KVec<Tracked>>,
    #[pin]
    queue: SpinLock<Option<Arc<EventQueue>>>,
    #[pin]
    notifier: Mutex<Option<Notifier>>,
}

/// An IOASID notifier registration.
///
/// # Invariants
///
/// `0` is a registration, unregistered on drop.
struct Notifier(*mut b::teeio_ioasid_notifier);

// SAFETY: the IOASID core takes registrations from any thread.
unsafe impl Send for Notifier {}

impl Drop for Notifier {
    fn drop(&mut self) {
        // SAFETY: registered per the type invariant; waits for its calls.
        unsafe { b::teeio_ioasid_unregister(self.0) };
    }
}

impl Viommu {
    /// A vIOMMU for `vm`, subscribed to the VM's IOASID set: -EBUSY when the
    /// VM already has TDIs bound (a set with IOASIDs takes no subscribers).
    pub(crate) fn new(id: u32, vm: Vm) -> Result<Arc<Self>> {
        let token = vm.token();
        let viommu = Arc::pin_init(
            pin_init!(Self {
                id,
                vm,
                tdis <- new_spinlock!(KVec::new(), "teeio_viommu_tdis"),
                queue <- new_spinlock!(None, "teeio_viommu_queue"),
                notifier <- new_mutex!(None, "teeio_viommu_notifier"),
            }),
            GFP_KERNEL,
        )?;
        let desc = b::teeio_ioasid_subscriber {
            name: c"vmm-events".as_char_ptr(),
            priority: b::teeio_ioasid_prio_TEEIO_IOASID_PRIO_LAST,
            atomic: Some(on_event_atomic),
            deferred: Some(on_event),
            data: Arc::as_ptr(&viommu).cast_mut().cast(),
        };
        // SAFETY: `desc` is complete; the core copies it. The data pointer
        // stays valid until the registration is dropped (type invariant).
        let n = unsafe { b::teeio_ioasid_register(&token, &desc) };
        kernel::error::from_err_ptr(n)?;
        // INVARIANT: registered with this vIOMMU as data.
        *viommu.notifier.lock() = Some(Notifier(n));
        Ok(viommu)
    }

    /// Starts tracking a vDEVICE's TDI: -EEXIST for a virt_id taken.
    pub(crate) fn track(&self, vdevice_id: u32, virt_id: u32) -> Result {
        let mut tdis = self.tdis.lock();
        if tdis.iter().any(|t| t.virt_id == virt_id) {
            return Err(EEXIST);
        }
        let t = Tracked {
            vdevice_id,
            virt_id,
            bound: false,
            torn_down: false,
            unbind_queued: false,
            free_queued: false,
            expect: Expect::Nothing,
        };
        tdis.push(t, GFP_ATOMIC)?;
        Ok(())
    }

    pub(crate) fn untrack(&self, vdevice_id: u32) {
        self.tdis.lock().retain(|t| t.vdevice_id != vdevice_id);
    }

    fn with<R>(&self, vdevice_id: u32, f: impl FnOnce(&mut Tracked) -> R) -> Option<R> {
        self.tdis.lock().iter_mut().find(|t| t.vdevice_id == vdevice_id).map(f)
    }

    /// (bound, torn down) of a vDEVICE's TDI.
    pub(crate) fn state(&self, vdevice_id: u32) -> (bool, bool) {
        self.with(vdevice_id, |t| (t.bound, t.torn_down)).unwrap_or((false, false))
    }

    /// This VMM is about to bind: counted as bound from now on, so that a
    /// host unbind right after the bind is seen.
    pub(crate) fn binding(&self, vdevice_id: u32) {
        self.with(vdevice_id, |t| {
            t.reset();
            t.bound = true;
            t.expect = Expect::Binding;
        });
    }

    /// The bind succeeded.
    pub(crate) fn bound(&self, vdevice_id: u32) {
        self.with(vdevice_id, |t| t.expect = Expect::Nothing);
    }

    /// This VMM is about to unbind: the teardown it causes is not news.
    pub(crate) fn unbinding(&self, vdevice_id: u32) {
        self.with(vdevice_id, |t| t.expect = Expect::VmmUnbind);
    }

    /// The bind failed, or the VMM's unbind is done.
    pub(crate) fn unbound(&self, vdevice_id: u32) {
        self.with(vdevice_id, Tracked::reset);
    }

    /// A guest request is about to reach the TSM.
    pub(crate) fn request_begins(&self, vdevice_id: u32, stop: bool) {
        self.with(vdevice_id, |t| t.expect = Expect::Request { stop, unbound: false });
    }

    /// The request returned: if it tore the TDI down (a STOP, or a TDI
    /// found in ERROR), the vEVENTQ hears why.
    pub(crate) fn request_ends(&self, vdevice_id: u32) {
        let event = self.with(vdevice_id, |t| {
            let event = match t.expect {
                Expect::Request { stop: true, unbound: true } => Some(b::teeio_vevent_tdi_event_TEEIO_VEVENT_TDI_STOPPED_BY_GUEST),
                Expect::Request { stop: false, unbound: true } => Some(b::teeio_vevent_tdi_event_TEEIO_VEVENT_TDI_ERROR),
                _ => None,
            };
            t.expect = Expect::Nothing;
            event.map(|e| (e, t.virt_id))
        });
        if let Some(Some((event, virt_id))) = event {
            self.report(vdevice_id, event, virt_id);
        }
    }

    /// Whether `event` (UNBIND: the TDI torn down; FREE: its IOASID freed,
    /// the PCI/TSM core letting go) of the TDI with set-private ID `spid`
    /// is news for this vIOMMU; if so, marks it queued for `on_event`.
    fn queue(&self, event: u32, spid: u32) -> bool {
        let mut tdis = self.tdis.lock();
        let Some(t) = tdis.iter_mut().find(|t| t.virt_id == spid && t.bound) else {
            return false;
        };
        let vmm = matches!(t.expect, Expect::Binding | Expect::VmmUnbind);
        let flag = match event {
            b::teeio_ioasid_event_TEEIO_IOASID_UNBIND if !t.torn_down => &mut t.unbind_queued,
            b::teeio_ioasid_event_TEEIO_IOASID_FREE if !vmm => &mut t.free_queued,
            _ => return false,
        };
        !core::mem::replace(flag, true)
    }

    /// The TDI with set-private ID `spid` was torn down (UNBIND): by a
    /// guest request in flight (reported when it returns), by the VMM, or
    /// by the host (reported at its FREE).
    fn torn_down(&self, spid: u32) {
        let mut tdis = self.tdis.lock();
        if let Some(t) = tdis.iter_mut().find(|t| t.virt_id == spid && t.unbind_queued) {
            t.unbind_queued = false;
            t.torn_down = true;
            if let Expect::Request { unbound, .. } = &mut t.expect {
                *unbound = true;
            }
        }
    }

    /// The TDI's IOASID was freed without this VMM asking: the host took
    /// it back (an administrator, the TSM or its driver going away).
    fn freed(&self, spid: u32) {
        let news = {
            let mut tdis = self.tdis.lock();
            let Some(t) = tdis.iter_mut().find(|t| t.virt_id == spid && t.free_queued) else {
                return;
            };
            let vmm = matches!(t.expect, Expect::Binding | Expect::VmmUnbind);
            t.free_queued = false;
            if vmm {
                return;
            }
            // A request in flight reports nothing more: this says it all.
            t.reset();
            (t.vdevice_id, t.virt_id)
        };
        self.report(news.0, b::teeio_vevent_tdi_event_TEEIO_VEVENT_TDI_UNBOUND_BY_HOST, news.1);
    }

    fn report(&self, vdevice_id: u32, event: u32, virt_id: u32) {
        let queue = self.queue.lock().clone();
        if let Some(queue) = queue {
            queue.report(vdevice_id, event, u64::from(virt_id));
        }
    }

    /// Attaches a vEVENTQ: -EEXIST when one is attached.
    pub(crate) fn attach_queue(&self, queue: Arc<EventQueue>) -> Result {
        let mut slot = self.queue.lock();
        if slot.is_some() {
            return Err(EEXIST);
        }
        *slot = Some(queue);
        Ok(())
    }

    /// Detaches the vEVENTQ: its readers see the end of the file.
    pub(crate) fn detach_queue(&self) {
        let queue = self.queue.lock().take();
        if let Some(queue) = queue {
            queue.detach();
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Viommu {
    fn drop(self: Pin<&mut Self>) {
        // Unregister first: the handler's data is this vIOMMU.
        let notifier = self.notifier.lock().take();
        drop(notifier);
        self.detach_queue();
    }
}

/// Atomic handler of the VM's IOASID set: the UNBIND or FREE of a TDI this
/// vIOMMU has bound is news, for its deferred handler, which runs after the
/// CPU, DEVICE and IOMMU steps; nothing else is.
unsafe extern "C" fn on_event_atomic(ev: *const b::teeio_ioasid_event_data, data: *mut c_void) -> c_int {
    // SAFETY: the core passes a valid event.
    let ev = unsafe { &*ev };
    // SAFETY: the data is the vIOMMU, alive while registered (invariant).
    let viommu = unsafe { &*data.cast::<Viommu>() };
    if viommu.queue(ev.event, ev.spid) {
        b::TEEIO_IOASID_DEFER as c_int
    } else {
        0
    }
}

/// Deferred handler of the VM's IOASID set.
unsafe extern "C" fn on_event(ev: *const b::teeio_ioasid_event_data, data: *mut c_void) -> c_int {
    // SAFETY: the core passes a valid event.
    let ev = unsafe { &*ev };
    // SAFETY: the data is the vIOMMU, alive while registered (invariant).
    let viommu = unsafe { &*data.cast::<Viommu>() };
    match ev.event {
        b::teeio_ioasid_event_TEEIO_IOASID_UNBIND => viommu.torn_down(ev.spid),
        _ => viommu.freed(ev.spid),
    }
    0
}
