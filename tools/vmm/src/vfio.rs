// SPDX-License-Identifier: GPL-2.0

//! IOMMUFD and VFIO device cdevs: opening /dev/iommu, binding a device's
//! /dev/vfio/devices/vfioN to it (VFIO_DEVICE_BIND_IOMMUFD), exporting a
//! bound TDI's MMIO as a dma-buf (teeio-vfio-pci), and the IOAS commands
//! the benchmark compares the extension against.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};
use crate::ioctl;
use crate::sysfs::{Bdf, Sysfs};
use crate::uapi::{self, size32};

/// Where IOMMUFD's device usually is.
pub const IOMMU_PATH: &str = "/dev/iommu";

/// Where VFIO device cdevs are.
pub const VFIO_DEVICES: &str = "/dev/vfio/devices";

fn open_rw(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::file("open", path, e))
}

/// Opens an iommufd context.
pub fn open_iommufd(path: impl AsRef<Path>) -> Result<OwnedFd> {
    open_rw(path.as_ref())
}

/// IOMMU_IOAS_ALLOC: a new I/O address space; its id.
pub fn ioas_alloc(iommufd: impl AsFd) -> Result<u32> {
    let mut cmd = uapi::iommu_ioas_alloc { size: size32::<uapi::iommu_ioas_alloc>(), ..Default::default() };
    ioctl::call(iommufd.as_fd(), &mut cmd)?;
    Ok(cmd.out_ioas_id)
}

/// IOMMU_DESTROY of an IOMMUFD object.
pub fn iommu_destroy(iommufd: impl AsFd, id: u32) -> Result<()> {
    let mut cmd = uapi::iommu_destroy { size: size32::<uapi::iommu_destroy>(), id };
    ioctl::call(iommufd.as_fd(), &mut cmd)
}

/// A device's VFIO cdev, bound to an iommufd.
pub struct VfioDevice {
    /// The device.
    pub bdf: Bdf,
    /// Its cdev.
    pub path: PathBuf,
    /// Its id in the iommufd.
    pub dev_id: u32,
    fd: OwnedFd,
}

impl AsFd for VfioDevice {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl VfioDevice {
    /// Opens the cdev of `bdf`, which vfio-pci must drive, and binds it to
    /// `iommufd` (VFIO_DEVICE_BIND_IOMMUFD).
    pub fn bind(sysfs: &Sysfs, bdf: &Bdf, iommufd: impl AsFd) -> Result<Self> {
        let name = sysfs
            .vfio_cdev(bdf)?
            .ok_or_else(|| Error::Invalid(format!("{bdf}: no VFIO cdev (is vfio-pci bound, VFIO_DEVICE_CDEV set?)")))?;
        let path = Path::new(VFIO_DEVICES).join(name);
        let fd = open_rw(&path)?;
        let mut cmd = uapi::vfio_device_bind_iommufd {
            argsz: size32::<uapi::vfio_device_bind_iommufd>(),
            iommufd: iommufd.as_fd().as_raw_fd(),
            ..Default::default()
        };
        // SAFETY: the command takes a struct vfio_device_bind_iommufd; with
        // flags 0 it reads no token through `token_uuid_ptr`.
        unsafe { ioctl::run(fd.as_fd(), uapi::VFIO_DEVICE_BIND_IOMMUFD, "VFIO_DEVICE_BIND_IOMMUFD", &mut cmd)? };
        Ok(Self { bdf: bdf.clone(), path, dev_id: cmd.out_devid, fd })
    }
}

impl VfioDevice {
    /// VFIO_DEVICE_FEATURE GET TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF: a
    /// dma-buf of `len` bytes at `offset` into BAR `bar`, for the TVM's
    /// private MMIO. The device must be driven by teeio-vfio-pci and its
    /// TDI locked.
    pub fn tdi_dma_buf(&self, bar: u32, offset: u64, len: u64) -> Result<OwnedFd> {
        let mut cmd = uapi::TdiDmaBufFeature {
            feature: uapi::vfio_device_feature {
                argsz: size32::<uapi::TdiDmaBufFeature>(),
                flags: uapi::VFIO_DEVICE_FEATURE_GET | uapi::TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF,
            },
            dma_buf: uapi::vfio_device_feature_dma_buf {
                region_index: bar,
                open_flags: (OFlags::RDWR | OFlags::CLOEXEC).bits(),
                flags: 0,
                nr_ranges: 1,
            },
            range: uapi::vfio_region_dma_range { offset, length: len },
        };
        // SAFETY: the command reads the feature header, the dma-buf request
        // and its one range, all in `cmd`, and returns a new dma-buf fd.
        unsafe { ioctl::run_fd(self.fd.as_fd(), uapi::VFIO_DEVICE_FEATURE, "VFIO_DEVICE_FEATURE(TDI_DMA_BUF)", &mut cmd) }
    }
}
