// SPDX-License-Identifier: GPL-2.0

//! teeio userspace VMM library: confidential PCIe device assignment through
//! the iommufd TSM extension (include/uapi/linux/teeio_iommufd.h).
//!
//! A VMM connects a device to the TSM (sysfs), binds its VFIO cdev to an
//! iommufd, attaches the extension to that iommufd, and then allocates a
//! vIOMMU for its VM, a vDEVICE for the device, binds the vDEVICE's TDI to
//! the VM through the TSM and relays the guest's requests, its own or, with
//! [`guest_channel`], the exits of the guest TDISP driver. [`session`] runs
//! those steps one by one; [`lifecycle`] and [`bench`] are built on it.

pub mod bench;
pub mod error;
pub mod events;
pub mod extension;
pub mod guest_channel;
mod ioctl;
pub mod kmem;
pub mod lifecycle;
pub mod session;
pub mod sysfs;
pub mod tsm_req;
pub mod uapi;
pub mod vfio;

pub use error::{Error, Result};
