// SPDX-License-Identifier: GPL-2.0

//! IOASID core: a system-wide ID space with sets, set-private IDs,
//! reference counting with FREE_PENDING and notifier chains with
//! priorities CPU > DEVICE > IOMMU > LAST (include/teeio/ioasid.h).
//!
//! Other modules use it through the C ABI below, exported by the C edge.
//! debugfs `teeio_ioasid/events` shows the event log (write "clear" to
//! empty it); `teeio_ioasid/bench` runs the benchmark against the
//! kernel's IDA (write a pair count, read the figures).

use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::debugfs::Dir;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

#[path = "../../rust/teeio_bindings.rs"]
mod teeio_bindings;

mod bench;
mod ioasid_core;
mod event_log;
mod debugfs;
mod id_space;
mod notifier;
mod tests;

use ioasid_core::Core;
use teeio_bindings as b;

module! {
    type: IoasidModule,
    name: "teeio_ioasid",
    authors: ["teeio developers"],
    description: "IOASID core: sets, SPIDs, refcounts with FREE_PENDING, prioritized notifiers",
    license: "GPL",
}

/// The core, set while the module is loaded.
static CORE: AtomicPtr<Core> = AtomicPtr::new(::core::ptr::null_mut());

/// The core. Only called while the module is loaded: by its users, which
/// hold a module reference through the symbols they import, and by itself.
pub(crate) fn core() -> &'static Core {
    // SAFETY: set in init before anything can call in, cleared in drop
    // after every user is gone.
    unsafe { &*CORE.load(Ordering::Acquire) }
}

struct IoasidModule {
    _core: Pin<KBox<Core>>,
    _debugfs: Pin<KBox<debugfs::Debugfs>>,
}

impl kernel::Module for IoasidModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: reads the module parameter through the C edge.
        let bits = unsafe { b::teeio_ioasid_edge_bits() };
        let core = KBox::pin_init(Core::new(bits)?, GFP_KERNEL)?;
        CORE.store((&*core as *const Core).cast_mut(), Ordering::Release);
        let debugfs = KBox::pin_init(debugfs::Debugfs::new(Dir::new(c"teeio_ioasid")), GFP_KERNEL);
        let debugfs = match debugfs {
            Ok(d) => d,
            Err(e) => {
                CORE.store(::core::ptr::null_mut(), Ordering::Release);
                return Err(e);
            }
        };
        pr_info!("IOASID core: IDs 1..{}, priorities CPU > DEVICE > IOMMU > LAST\n", core.max_id());
        Ok(Self { _core: core, _debugfs: debugfs })
    }
}

impl Drop for IoasidModule {
    fn drop(&mut self) {
        CORE.store(::core::ptr::null_mut(), Ordering::Release);
    }
}

/// An errno as the C ABI returns it.
fn rc(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Writes `v` through `out` when the call succeeded.
fn out<T>(r: Result<T>, out: *mut T) -> c_int {
    match r {
        Ok(v) if !out.is_null() => {
            // SAFETY: the caller passes a valid output pointer or NULL.
            unsafe { out.write(v) };
            0
        }
        Ok(_) => 0,
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
extern "C" fn teeio_ioasid_set_alloc(token: u64, quota: u32, set: *mut u32) -> c_int {
    out(core().set_alloc(token, quota), set)
}

#[no_mangle]
extern "C" fn teeio_ioasid_set_adjust(set: u32, quota: u32) -> c_int {
    rc(core().set_adjust(set, quota))
}

#[no_mangle]
extern "C" fn teeio_ioasid_set_free(set: u32) -> c_int {
    rc(core().set_free(set))
}

#[no_mangle]
extern "C" fn teeio_ioasid_alloc(set: u32, min: u32, max: u32, private: *mut c_void, ioasid: *mut u32) -> c_int {
    out(core().alloc(set, min, max, private), ioasid)
}

#[no_mangle]
extern "C" fn teeio_ioasid_free(set: u32, ioasid: u32) -> c_int {
    rc(core().free(set, ioasid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_get(set: u32, ioasid: u32) -> c_int {
    rc(core().get(set, ioasid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_put(set: u32, ioasid: u32) -> c_int {
    rc(core().put(set, ioasid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_get_locked(set: u32, ioasid: u32) -> c_int {
    rc(core().get_locked(set, ioasid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_put_locked(set: u32, ioasid: u32) -> c_int {
    rc(core().put_locked(set, ioasid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_find(set: u32, ioasid: u32, get: bool, private: *mut *mut c_void) -> c_int {
    out(core().find(set, ioasid, get), private)
}

#[no_mangle]
extern "C" fn teeio_ioasid_attach_data(set: u32, ioasid: u32, private: *mut c_void) -> c_int {
    rc(core().attach_data(set, ioasid, private))
}

#[no_mangle]
extern "C" fn teeio_ioasid_attach_spid(set: u32, ioasid: u32, spid: u32) -> c_int {
    rc(core().attach_spid(set, ioasid, spid))
}

#[no_mangle]
extern "C" fn teeio_ioasid_find_by_spid(set: u32, spid: u32, get: bool, ioasid: *mut u32) -> c_int {
    out(core().find_by_spid(set, spid, get), ioasid)
}

#[no_mangle]
extern "C" fn teeio_ioasid_notify(set: u32, ioasid: u32, event: u32) -> c_int {
    rc(core().notify(set, ioasid, event))
}

#[no_mangle]
extern "C" fn teeio_ioasid_register(
    token: *const u64,
    sub: *const b::teeio_ioasid_subscriber,
) -> *mut b::teeio_ioasid_notifier {
    if sub.is_null() {
        return EINVAL.to_ptr();
    }
    // SAFETY: the caller passes NULL or a valid token, and a valid
    // description whose name is NULL or NUL-terminated.
    let made = unsafe {
        let token = (!token.is_null()).then(|| *token);
        notifier::Subscriber::from_c(token, &*sub).and_then(|s| core().register(token, s))
    };
    match made {
        Ok(sub) => Arc::into_raw(sub).cast_mut().cast(),
        Err(e) => e.to_ptr(),
    }
}

#[no_mangle]
extern "C" fn teeio_ioasid_unregister(notifier: *mut b::teeio_ioasid_notifier) {
    if notifier.is_null() {
        return;
    }
    // SAFETY: made by `teeio_ioasid_register` from `Arc::into_raw`.
    let sub = unsafe { Arc::from_raw(notifier.cast::<notifier::Subscriber>()) };
    core().unregister(sub);
}

#[no_mangle]
extern "C" fn teeio_ioasid_flush() {
    core().flush();
}
