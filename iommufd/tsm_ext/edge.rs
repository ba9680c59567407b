// SPDX-License-Identifier: GPL-2.0

//! Owned references to what the extension's objects hold: the iommufd
//! context, the VFIO device file with its PCI device, the VM file; and the
//! new files it hands out.

use core::ptr::NonNull;
use kernel::fs::{file::FileDescriptorReservation, File};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

use crate::b;

/// Converts an `ERR_PTR`-or-pointer to a `Result`.
fn from_err_ptr<T>(ptr: *mut T) -> Result<NonNull<T>> {
    let ptr = kernel::error::from_err_ptr(ptr)?;
    NonNull::new(ptr).ok_or(ENOMEM)
}

/// An iommufd context reference.
///
/// # Invariants
///
/// `0` holds a reference taken by `iommufd_ctx_from_fd()`, put on drop.
pub(crate) struct IommufdCtx(NonNull<b::iommufd_ctx>);

// SAFETY: a context reference may be used and put from any thread.
unsafe impl Send for IommufdCtx {}
// SAFETY: the context is only passed to functions that lock it themselves.
unsafe impl Sync for IommufdCtx {}

impl IommufdCtx {
    /// The context of the iommufd file `fd`: -EBADF for no file, -EBADFD
    /// for a file that is not an iommufd.
    pub(crate) fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: plain call; the result is a reference or an error.
        let ctx = from_err_ptr(unsafe { b::teeio_ext_iommufd_get(fd) })?;
        // INVARIANT: the reference just taken.
        Ok(Self(ctx))
    }

    pub(crate) fn as_ptr(&self) -> *mut b::iommufd_ctx {
        self.0.as_ptr()
    }
}

impl Drop for IommufdCtx {
    fn drop(&mut self) {
        // SAFETY: the reference the type invariant says we hold.
        unsafe { b::teeio_ext_iommufd_put(self.0.as_ptr()) };
    }
}

/// A file reference kept by an object.
///
/// # Invariants
///
/// `0` holds a reference taken by `fget()`, put on drop.
pub(crate) struct FileRef(NonNull<kernel::bindings::file>);

// SAFETY: a file reference may be put from any thread.
unsafe impl Send for FileRef {}
// SAFETY: the file is never accessed through a shared `FileRef`.
unsafe impl Sync for FileRef {}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: the reference the type invariant says we hold.
        unsafe { b::teeio_ext_file_put(self.0.as_ptr()) };
    }
}

/// A VFIO device cdev bound to an iommufd, and the PCI device it drives.
///
/// # Invariants
///
/// `pdev` is the device `file` drives; the file keeps the VFIO device
/// open, which keeps `pdev` alive and bound to its VFIO driver.
pub(crate) struct VfioDevice {
    pdev: NonNull<kernel::bindings::pci_dev>,
    _file: FileRef,
}

// SAFETY: see `FileRef`; `pdev` is only passed to the PCI/TSM core, which
// takes its own locks.
unsafe impl Send for VfioDevice {}
// SAFETY: as above.
unsafe impl Sync for VfioDevice {}

impl VfioDevice {
    /// The VFIO device cdev `fd`, which `ctx` knows as `dev_id`: -EBADF for
    /// no file, -EBADFD for a file that is not a VFIO device cdev, -ENODEV
    /// when the device is not bound to `ctx` as `dev_id`.
    pub(crate) fn get(fd: i32, ctx: &IommufdCtx, dev_id: u32) -> Result<Self> {
        let mut file = core::ptr::null_mut();
        let mut pdev = core::ptr::null_mut();
        // SAFETY: plain call; the outputs are valid.
        let rc = unsafe { b::teeio_ext_vfio_device_get(fd, ctx.as_ptr(), dev_id, &mut file, &mut pdev) };
        if rc != 0 {
            return Err(Error::from_errno(rc));
        }
        match (NonNull::new(file), NonNull::new(pdev)) {
            // INVARIANT: the edge returns the file's reference and its device.
            (Some(file), Some(pdev)) => Ok(Self { pdev, _file: FileRef(file) }),
            _ => Err(EINVAL),
        }
    }

    pub(crate) fn pdev(&self) -> *mut kernel::bindings::pci_dev {
        self.pdev.as_ptr()
    }

    /// The device's PCI segment (domain) and bus << 8 | devfn.
    pub(crate) fn address(&self) -> (u32, u16) {
        // SAFETY: `pdev` is alive per the type invariant.
        unsafe { (b::teeio_ext_pci_segment(self.pdev()), b::teeio_ext_pci_bdf(self.pdev())) }
    }
}

/// A VM: its file and the identity the TSM knows it by.
///
/// # Invariants
///
/// `identity` is the VM of `file`, alive as long as the file.
pub(crate) struct Vm {
    identity: NonNull<b::kvm>,
    _file: FileRef,
}

// SAFETY: the identity is an address handed to the PCI/TSM core only.
unsafe impl Send for Vm {}
// SAFETY: as above.
unsafe impl Sync for Vm {}

impl Vm {
    /// The VM of file `fd`: -EBADF for no file, -EBADFD for a file that is
    /// not a VM.
    pub(crate) fn get(fd: i32) -> Result<Self> {
        let mut file = core::ptr::null_mut();
        let mut vm = core::ptr::null_mut();
        // SAFETY: plain call; the outputs are valid.
        let rc = unsafe { b::teeio_ext_vm_get(fd, &mut file, &mut vm) };
        if rc != 0 {
            return Err(Error::from_errno(rc));
        }
        match (NonNull::new(file), NonNull::new(vm)) {
            // INVARIANT: the edge returns the file's reference and its VM.
            (Some(file), Some(identity)) => Ok(Self { identity, _file: FileRef(file) }),
            _ => Err(EINVAL),
        }
    }

    pub(crate) fn identity(&self) -> *mut b::kvm {
        self.identity.as_ptr()
    }

    /// The token of the VM's IOASID set (the host TSM bridge's choice).
    pub(crate) fn token(&self) -> u64 {
        self.identity.as_ptr() as u64
    }
}

/// A new file with a reserved descriptor, installed once the caller has
/// told userspace its number.
pub(crate) struct NewFd {
    reservation: FileDescriptorReservation,
    file: ARef<File>,
}

impl NewFd {
    /// Takes the file `raw` (an `ERR_PTR` or a new file reference).
    pub(crate) fn new(raw: *mut kernel::bindings::file) -> Result<Self> {
        let file = from_err_ptr(raw)?;
        // SAFETY: the edge returned a new reference, which `ARef` now owns.
        let file = unsafe { ARef::from_raw(file.cast::<File>()) };
        let reservation = FileDescriptorReservation::get_unused_fd_flags(kernel::bindings::O_CLOEXEC)?;
        Ok(Self { reservation, file })
    }

    pub(crate) fn fd(&self) -> i32 {
        self.reservation.reserved_fd() as i32
    }

    pub(crate) fn install(self) {
        self.reservation.fd_install(self.file);
    }
}
