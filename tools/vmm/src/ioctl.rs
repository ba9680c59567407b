// SPDX-License-Identifier: GPL-2.0

//! Issues the `_IO(';', nr)` commands of IOMMUFD, VFIO and the extension:
//! each takes a pointer to its struct, which the kernel reads and updates.

use core::ffi::c_void;
use std::os::fd::BorrowedFd;

use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};

use crate::error::{Error, Result};
use crate::uapi;

/// A command whose argument is a pointer to `Self`.
///
/// # Safety
///
/// `OPCODE` takes a pointer to a `Self` and accesses no memory but that
/// struct: `Self` holds no user pointers.
pub(crate) unsafe trait Command: Sized {
    /// The ioctl number.
    const OPCODE: Opcode;
    /// Its name in the C header.
    const NAME: &'static str;
}

macro_rules! commands {
    ($($ty:ident => $op:ident),* $(,)?) => {
        $(
            // SAFETY: the header defines `$op` with a `struct $ty` argument
            // made of integers only.
            unsafe impl Command for uapi::$ty {
                const OPCODE: Opcode = uapi::$op;
                const NAME: &'static str = stringify!($op);
            }
        )*
    };
}

commands! {
    teeio_iommufd_attach => TEEIO_IOMMUFD_ATTACH,
    teeio_iommufd_destroy => TEEIO_IOMMUFD_DESTROY,
    teeio_emu_vm_create => TEEIO_IOMMUFD_EMU_VM_CREATE,
    teeio_emu_vm_memory_region => TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION,
    teeio_viommu_alloc => TEEIO_IOMMUFD_VIOMMU_ALLOC,
    teeio_vdevice_alloc => TEEIO_IOMMUFD_VDEVICE_ALLOC,
    teeio_veventq_alloc => TEEIO_IOMMUFD_VEVENTQ_ALLOC,
    teeio_vdevice_tsm_op => TEEIO_IOMMUFD_VDEVICE_TSM_OP,
    teeio_vdevice_info => TEEIO_IOMMUFD_VDEVICE_INFO,
    iommu_ioas_alloc => IOMMU_IOAS_ALLOC,
    iommu_destroy => IOMMU_DESTROY,
}

/// One call: an opcode and the struct it points to.
struct Call<'a, T> {
    opcode: Opcode,
    arg: &'a mut T,
}

/// A call whose non-negative return value is a new file descriptor.
struct FdCall<'a, T>(Call<'a, T>);

// SAFETY: as for `Call`; the output is the ioctl's return value.
unsafe impl<T> Ioctl for FdCall<'_, T> {
    type Output = IoctlOutput;

    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.0.opcode
    }

    fn as_ptr(&mut self) -> *mut c_void {
        core::ptr::from_mut(self.0.arg).cast()
    }

    unsafe fn output_from_ptr(out: IoctlOutput, _: *mut c_void) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

// SAFETY: a `Call` is only made by `run`, whose caller guarantees that
// `opcode` takes a pointer to a `T`, which `as_ptr` returns; the kernel
// may write through it (IS_MUTATING); `output_from_ptr` reads nothing.
unsafe impl<T> Ioctl for Call<'_, T> {
    type Output = ();

    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.opcode
    }

    fn as_ptr(&mut self) -> *mut c_void {
        core::ptr::from_mut(self.arg).cast()
    }

    unsafe fn output_from_ptr(_: IoctlOutput, _: *mut c_void) -> rustix::io::Result<()> {
        Ok(())
    }
}

/// Runs `opcode` on `fd` with a pointer to `arg`; `name` names it in errors.
///
/// # Safety
///
/// `opcode` takes a pointer to a `T`; every user pointer inside `*arg` is
/// valid for what the command does with it.
pub(crate) unsafe fn run<T>(fd: BorrowedFd<'_>, opcode: Opcode, name: &'static str, arg: &mut T) -> Result<()> {
    // SAFETY: per this function's contract; `arg` is exclusively borrowed
    // for the call.
    unsafe { rustix::ioctl::ioctl(fd, Call { opcode, arg }) }.map_err(|errno| Error::Ioctl { name, errno })
}

/// As [`run`], for a command returning a new file descriptor; takes it.
///
/// # Safety
///
/// As for [`run`]; a non-negative return value of `opcode` is a new fd.
pub(crate) unsafe fn run_fd<T>(
    fd: BorrowedFd<'_>,
    opcode: Opcode,
    name: &'static str,
    arg: &mut T,
) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: per this function's contract.
    let raw = unsafe { rustix::ioctl::ioctl(fd, FdCall(Call { opcode, arg })) }
        .map_err(|errno| Error::Ioctl { name, errno })?;
    // SAFETY: the command returned a new fd, which we now own.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) })
}

/// Runs the command `C` on `fd`.
pub(crate) fn call<C: Command>(fd: BorrowedFd<'_>, arg: &mut C) -> Result<()> {
    // SAFETY: by the `Command` contract `C::OPCODE` takes a `C` holding no
    // user pointers.
    unsafe { run(fd, C::OPCODE, C::NAME, arg) }
}
