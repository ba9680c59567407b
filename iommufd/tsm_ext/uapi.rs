// SPDX-License-Identifier: GPL-2.0

//! Size-first extensible command structs (IOMMUFD's convention): the first
//! `u32` is the size userspace passed. Smaller than the struct's first
//! version: -EINVAL; larger than the kernel's struct with a non-zero tail:
//! -E2BIG, as is one larger than a page; a shorter (older) struct reads as
//! zero-extended. Responses copy back no more than userspace passed.

use kernel::prelude::*;
use kernel::transmute::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

use crate::b;

/// The first version of a struct ends at this member's end.
macro_rules! end_of {
    ($t:ty, $field:ident) => {{
        let zeroed = core::mem::MaybeUninit::<$t>::uninit();
        // SAFETY: only the field's address is taken, never read.
        let field = unsafe { core::ptr::addr_of!((*zeroed.as_ptr()).$field) };
        core::mem::offset_of!($t, $field) + crate::uapi::size_of_pointee(field)
    }};
}
pub(crate) use end_of;

/// The size of what `_ptr` points at.
pub(crate) const fn size_of_pointee<T>(_ptr: *const T) -> usize {
    core::mem::size_of::<T>()
}

/// Largest command struct.
const MAX_CMD: usize = 64;

/// Largest size userspace may pass: no command grows past a page.
const MAX_SIZE: usize = 4096;

/// A command read from userspace.
pub(crate) struct Cmd<T> {
    pub(crate) val: T,
    user: UserPtr,
    user_size: usize,
}

impl<T: FromBytes + AsBytes> Cmd<T> {
    /// Reads the command at `arg`, whose first version is `min_size` bytes.
    pub(crate) fn read(arg: usize, min_size: usize) -> Result<Self> {
        let full = core::mem::size_of::<T>();
        build_assert!(core::mem::size_of::<T>() <= MAX_CMD);
        let user = UserPtr::from_addr(arg);
        let user_size: u32 = UserSlice::new(user, 4).reader().read()?;
        let user_size = user_size as usize;
        if user_size < min_size {
            return Err(EINVAL);
        }
        if user_size > MAX_SIZE {
            return Err(E2BIG);
        }
        let mut reader = UserSlice::new(user, user_size).reader();
        let mut bytes = [0u8; MAX_CMD];
        let copied = user_size.min(full);
        reader.read_slice(&mut bytes[..copied])?;
        let mut chunk = [0u8; MAX_CMD];
        while !reader.is_empty() {
            let n = reader.len().min(MAX_CMD);
            reader.read_slice(&mut chunk[..n])?;
            if chunk[..n].iter().any(|&byte| byte != 0) {
                return Err(E2BIG);
            }
        }
        let val = T::from_bytes_copy(&bytes[..full]).ok_or(EINVAL)?;
        Ok(Self { val, user, user_size })
    }

    /// Copies the command, with its outputs filled in, back to userspace.
    pub(crate) fn respond(&self) -> Result {
        let n = self.user_size.min(core::mem::size_of::<T>());
        UserSlice::new(self.user, n).writer().write_slice(&self.val.as_bytes()[..n])
    }
}

/// Marks a uAPI struct as plain bytes both ways.
macro_rules! plain {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: a uAPI struct of integers only, without padding (the
        // header keeps every struct explicitly padded).
        unsafe impl FromBytes for $t {}
        // SAFETY: as above.
        unsafe impl AsBytes for $t {}
    )*};
}

plain!(
    b::teeio_iommufd_attach,
    b::teeio_iommufd_destroy,
    b::teeio_emu_vm_create,
    b::teeio_emu_vm_memory_region,
    b::teeio_viommu_alloc,
    b::teeio_vdevice_alloc,
    b::teeio_veventq_alloc,
    b::teeio_vevent_header,
    b::teeio_vevent_tdi,
    b::teeio_vdevice_tsm_op,
    b::teeio_vdevice_tsm_req,
    b::teeio_vdevice_info,
);
