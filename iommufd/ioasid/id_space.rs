// SPDX-License-Identifier: GPL-2.0

//! The system-wide ID space: an allocating XArray from IDs to entries.
//!
//! The kernel crate's `XArray` has no allocation, so this file calls the
//! C XArray directly; it is the core's only FFI besides the C edge.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// IDs to `T` boxes.
///
/// # Invariants
///
/// `xa` is initialized with `XA_FLAGS_ALLOC`; every present entry is a
/// pointer from `KBox::into_raw`, owned by the space until erased.
#[pin_data(PinnedDrop)]
pub(crate) struct IdSpace<T> {
    #[pin]
    xa: Opaque<bindings::xarray>,
    _owns: PhantomData<KBox<T>>,
}

// SAFETY: the XArray has its own lock; entries are `Send` boxes.
unsafe impl<T: Send> Send for IdSpace<T> {}
// SAFETY: as above; shared access goes through the XArray's API.
unsafe impl<T: Send> Sync for IdSpace<T> {}

impl<T> IdSpace<T> {
    /// An empty space.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `xa` is valid memory for an xarray being initialized.
            xa <- Opaque::ffi_init(|xa| unsafe { bindings::xa_init_flags(xa, bindings::XA_FLAGS_ALLOC) }),
            _owns: PhantomData,
        })
    }

    /// Stores `entry` at a free ID in `[min, max]`. May sleep.
    pub(crate) fn alloc(&self, entry: KBox<T>, min: u32, max: u32) -> Result<u32, KBox<T>> {
        let ptr = KBox::into_raw(entry);
        let mut id = 0u32;
        let limit = bindings::xa_limit { min, max };
        // SAFETY: `xa` is initialized; `__xa_alloc` wants the xa_lock held
        // and may drop it to allocate with GFP_KERNEL.
        let rc = unsafe {
            bindings::xa_lock(self.xa.get());
            let rc = bindings::__xa_alloc(self.xa.get(), &mut id, ptr.cast(), limit, bindings::GFP_KERNEL);
            bindings::xa_unlock(self.xa.get());
            rc
        };
        if rc != 0 {
            // SAFETY: not stored, still ours.
            return Err(unsafe { KBox::from_raw(ptr) });
        }
        Ok(id)
    }

    /// The entry at `id`.
    pub(crate) fn load(&self, id: u32) -> Option<NonNull<T>> {
        // SAFETY: `xa` is initialized; entries are `T` pointers.
        NonNull::new(unsafe { bindings::xa_load(self.xa.get(), id as usize) }.cast())
    }

    /// The first present ID at or above `from`.
    pub(crate) fn next(&self, from: u32) -> Option<u32> {
        let mut index = from as usize;
        // SAFETY: `xa` is initialized; `xa_find` does not sleep.
        let ptr = unsafe { bindings::xa_find(self.xa.get(), &mut index, u32::MAX as usize, bindings::XA_PRESENT) };
        (!ptr.is_null()).then_some(index as u32)
    }

    /// Takes the entry at `id` out of the space.
    pub(crate) fn erase(&self, id: u32) -> Option<KBox<T>> {
        // SAFETY: `xa` is initialized; `xa_erase` does not sleep.
        let ptr = unsafe { bindings::xa_erase(self.xa.get(), id as usize) }.cast::<T>();
        // SAFETY: by the type invariant the stored pointer came from
        // `KBox::into_raw` and is now no longer in the space.
        (!ptr.is_null()).then(|| unsafe { KBox::from_raw(ptr) })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for IdSpace<T> {
    fn drop(self: Pin<&mut Self>) {
        while let Some(id) = self.next(0) {
            drop(self.erase(id));
        }
        // SAFETY: empty now; frees the XArray's nodes.
        unsafe { bindings::xa_destroy(self.xa.get()) };
    }
}
