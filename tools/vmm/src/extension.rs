// SPDX-License-Identifier: GPL-2.0

//! The iommufd TSM extension (/dev/teeio-iommufd): one method per command
//! of linux/teeio_iommufd.h. Objects live as long as the extension file is
//! open; closing it destroys what is left.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};
use crate::ioctl;
use crate::tsm_req::OpClass;
use crate::uapi::{self, size32};

/// Where the extension's device usually is.
pub const DEFAULT_PATH: &str = "/dev/teeio-iommufd";

/// Largest request TEEIO_IOMMUFD_VDEVICE_TSM_REQ takes.
pub const TSM_REQ_MAX: usize = 4096;
/// Largest response room TEEIO_IOMMUFD_VDEVICE_TSM_REQ takes.
pub const TSM_RESP_MAX: usize = 65536;

/// What TEEIO_IOMMUFD_VDEVICE_INFO reports about a vDEVICE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VdeviceInfo {
    /// TEEIO_VDEVICE_INFO_* flags.
    pub flags: u32,
    /// Its vIOMMU.
    pub viommu_id: u32,
    /// The host device's PCI segment.
    pub pci_segment: u32,
    /// The host device's bus << 8 | devfn.
    pub pci_bdf: u16,
    /// Its virt_id.
    pub virt_id: u64,
}

impl VdeviceInfo {
    /// Whether the vDEVICE is bound to its VM's TVM.
    pub fn bound(&self) -> bool {
        self.flags & uapi::TEEIO_VDEVICE_INFO_BOUND != 0
    }

    /// Whether the ordered teardown ran while it was bound (guest stop,
    /// ERROR): bound still, until a TSM UNBIND finishes.
    pub fn torn_down(&self) -> bool {
        self.flags & uapi::TEEIO_VDEVICE_INFO_TORN_DOWN != 0
    }

    /// "bound", "bound, torn down" or "not bound".
    pub fn binding(&self) -> &'static str {
        match (self.bound(), self.torn_down()) {
            (true, false) => "bound",
            (true, true) => "bound, torn down",
            (false, _) => "not bound",
        }
    }

    /// The host device as `ssss:bb:dd.f`.
    pub fn host_bdf(&self) -> String {
        let (bus, devfn) = (self.pci_bdf >> 8, self.pci_bdf & 0xff);
        format!("{:04x}:{:02x}:{:02x}.{:x}", self.pci_segment, bus, devfn >> 3, devfn & 7)
    }
}

/// The result of a guest request that reached the TSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsmReply {
    /// The TSM's status (0: success).
    pub tsm_code: u64,
    /// Bytes written to the response buffer.
    pub resp_len: usize,
}

/// An open extension file.
pub struct Extension {
    fd: OwnedFd,
}

/// Takes ownership of a file descriptor a command just returned.
fn new_fd(name: &'static str, fd: i32) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(Error::Invalid(format!("{name}: the kernel returned fd {fd}")));
    }
    // SAFETY: the command succeeded and installed `fd` in this process for
    // the caller; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Extension {
    /// Opens the extension's device at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::file("open", path, e))?;
        Ok(Self { fd })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// TEEIO_IOMMUFD_ATTACH: works in the context of `iommufd` (/dev/iommu).
    pub fn attach(&self, iommufd: impl AsFd) -> Result<()> {
        let mut cmd = uapi::teeio_iommufd_attach {
            size: size32::<uapi::teeio_iommufd_attach>(),
            iommufd: iommufd.as_fd().as_raw_fd(),
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)
    }

    /// TEEIO_IOMMUFD_EMU_VM_CREATE: a file standing for one confidential VM.
    pub fn emu_vm_create(&self) -> Result<OwnedFd> {
        let mut cmd = uapi::teeio_emu_vm_create { size: size32::<uapi::teeio_emu_vm_create>(), ..Default::default() };
        ioctl::call(self.fd(), &mut cmd)?;
        new_fd("TEEIO_IOMMUFD_EMU_VM_CREATE", cmd.out_vm_fd)
    }

    /// TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION: hands the VM `vm` the private
    /// MMIO dma-buf `dmabuf` of `size` bytes as slot `slot` at `gpa`.
    pub fn emu_vm_set_memory_region(&self, vm: impl AsFd, slot: u32, gpa: u64, size: u64, dmabuf: impl AsFd) -> Result<()> {
        let mut cmd = uapi::teeio_emu_vm_memory_region {
            size: size32::<uapi::teeio_emu_vm_memory_region>(),
            flags: uapi::TEEIO_MEM_VFIO_DMABUF,
            vm_fd: vm.as_fd().as_raw_fd(),
            slot,
            guest_phys_addr: gpa,
            memory_size: size,
            dmabuf_fd: dmabuf.as_fd().as_raw_fd(),
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)
    }

    /// TEEIO_IOMMUFD_VIOMMU_ALLOC: a confidential vIOMMU for the VM `vm`.
    pub fn viommu_alloc(&self, vm: impl AsFd) -> Result<u32> {
        let mut cmd = uapi::teeio_viommu_alloc {
            size: size32::<uapi::teeio_viommu_alloc>(),
            type_: uapi::TEEIO_VIOMMU_TYPE_TSM,
            vm_fd: vm.as_fd().as_raw_fd(),
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)?;
        Ok(cmd.out_viommu_id)
    }

    /// TEEIO_IOMMUFD_VDEVICE_ALLOC: the device bound to the iommufd as
    /// `dev_id` through its VFIO cdev `vfio`, seen by the VM as `virt_id`.
    pub fn vdevice_alloc(&self, viommu: u32, dev_id: u32, vfio: impl AsFd, virt_id: u64) -> Result<u32> {
        let mut cmd = uapi::teeio_vdevice_alloc {
            size: size32::<uapi::teeio_vdevice_alloc>(),
            viommu_id: viommu,
            dev_id,
            vfio_fd: vfio.as_fd().as_raw_fd(),
            virt_id,
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)?;
        Ok(cmd.out_vdevice_id)
    }

    /// TEEIO_IOMMUFD_VEVENTQ_ALLOC: a TDI event queue of `depth` records;
    /// its id and file.
    pub fn veventq_alloc(&self, viommu: u32, depth: u32) -> Result<(u32, OwnedFd)> {
        let mut cmd = uapi::teeio_veventq_alloc {
            size: size32::<uapi::teeio_veventq_alloc>(),
            viommu_id: viommu,
            type_: uapi::TEEIO_VEVENTQ_TYPE_TDI,
            veventq_depth: depth,
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)?;
        Ok((cmd.out_veventq_id, new_fd("TEEIO_IOMMUFD_VEVENTQ_ALLOC", cmd.out_veventq_fd)?))
    }

    fn tsm_op(&self, vdevice: u32, op: u32, mmio_reporting_offset: u64) -> Result<()> {
        let mut cmd = uapi::teeio_vdevice_tsm_op {
            size: size32::<uapi::teeio_vdevice_tsm_op>(),
            type_: op,
            flags: 0,
            vdevice_id: vdevice,
            mmio_reporting_offset,
        };
        ioctl::call(self.fd(), &mut cmd)
    }

    /// TEEIO_VDEVICE_TSM_BIND: locks the TDI for the vIOMMU's VM, its MMIO
    /// where the host sees it.
    pub fn tsm_bind(&self, vdevice: u32) -> Result<()> {
        self.tsm_bind_at(vdevice, 0)
    }

    /// TEEIO_VDEVICE_TSM_BIND with an MMIO reporting offset: the TDI's
    /// memory BARs are offered to the TVM, and reported, at their host
    /// physical addresses plus `mmio_reporting_offset` (4 KiB aligned).
    pub fn tsm_bind_at(&self, vdevice: u32, mmio_reporting_offset: u64) -> Result<()> {
        self.tsm_op(vdevice, uapi::TEEIO_VDEVICE_TSM_BIND, mmio_reporting_offset)
    }

    /// TEEIO_VDEVICE_TSM_UNBIND: the ordered teardown.
    pub fn tsm_unbind(&self, vdevice: u32) -> Result<()> {
        self.tsm_op(vdevice, uapi::TEEIO_VDEVICE_TSM_UNBIND, 0)
    }

    /// TEEIO_IOMMUFD_VDEVICE_TSM_REQ of a teeio request (TEEIO_TSM_REQ_TYPE_TEEIO).
    pub fn tsm_req(&self, vdevice: u32, class: OpClass, req: &[u8], resp: &mut [u8]) -> Result<TsmReply> {
        self.tsm_req_typed(vdevice, uapi::TEEIO_TSM_REQ_TYPE_TEEIO, class, req, resp)
    }

    /// TEEIO_IOMMUFD_VDEVICE_TSM_REQ of a request for the TSM architecture
    /// `req_type` (TEEIO_TSM_REQ_TYPE_*).
    pub fn tsm_req_typed(
        &self,
        vdevice: u32,
        req_type: u32,
        class: OpClass,
        req: &[u8],
        resp: &mut [u8],
    ) -> Result<TsmReply> {
        self.tsm_req_raw(vdevice, req_type, class.raw(), req, resp)
    }

    /// TEEIO_IOMMUFD_VDEVICE_TSM_REQ with the type and op (enum
    /// teeio_tsm_req_op) as given, which the kernel checks: how a VMM
    /// relays a guest's exit.
    pub fn tsm_req_raw(&self, vdevice: u32, req_type: u32, op: u32, req: &[u8], resp: &mut [u8]) -> Result<TsmReply> {
        if req.is_empty() || req.len() > TSM_REQ_MAX || resp.len() > TSM_RESP_MAX {
            return Err(Error::Invalid(format!(
                "TSM request of {} bytes with {} bytes of room (1..{TSM_REQ_MAX}, 0..{TSM_RESP_MAX})",
                req.len(),
                resp.len()
            )));
        }
        let mut cmd = uapi::teeio_vdevice_tsm_req {
            size: size32::<uapi::teeio_vdevice_tsm_req>(),
            vdevice_id: vdevice,
            type_: req_type,
            op,
            req_len: req.len() as u32,
            resp_len: resp.len() as u32,
            req_uptr: req.as_ptr() as u64,
            resp_uptr: resp.as_mut_ptr() as u64,
            ..Default::default()
        };
        const NAME: &str = "TEEIO_IOMMUFD_VDEVICE_TSM_REQ";
        // SAFETY: the command takes a struct teeio_vdevice_tsm_req; it reads
        // `req_len` bytes at `req_uptr` (`req`) and writes at most
        // `resp_len` bytes at `resp_uptr` (`resp`, exclusively borrowed).
        unsafe { ioctl::run(self.fd(), uapi::TEEIO_IOMMUFD_VDEVICE_TSM_REQ, NAME, &mut cmd)? };
        let resp_len = cmd.out_resp_len as usize;
        if resp_len > resp.len() {
            return Err(Error::Malformed {
                what: NAME,
                detail: format!("{resp_len} response bytes reported for {} bytes of room", resp.len()),
            });
        }
        Ok(TsmReply { tsm_code: cmd.out_tsm_code, resp_len })
    }

    /// TEEIO_IOMMUFD_VDEVICE_INFO.
    pub fn vdevice_info(&self, vdevice: u32) -> Result<VdeviceInfo> {
        let mut cmd = uapi::teeio_vdevice_info {
            size: size32::<uapi::teeio_vdevice_info>(),
            vdevice_id: vdevice,
            ..Default::default()
        };
        ioctl::call(self.fd(), &mut cmd)?;
        Ok(VdeviceInfo {
            flags: cmd.out_flags,
            viommu_id: cmd.out_viommu_id,
            pci_segment: cmd.out_pci_segment,
            pci_bdf: cmd.out_pci_bdf,
            virt_id: cmd.out_virt_id,
        })
    }

    /// TEEIO_IOMMUFD_DESTROY of a vIOMMU, vDEVICE or vEVENTQ.
    pub fn destroy(&self, id: u32) -> Result<()> {
        let mut cmd = uapi::teeio_iommufd_destroy { size: size32::<uapi::teeio_iommufd_destroy>(), id };
        ioctl::call(self.fd(), &mut cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bdf() {
        let info = VdeviceInfo { flags: 1, viommu_id: 1, pci_segment: 0, pci_bdf: 0x0108, virt_id: 0x10 };
        assert_eq!(info.host_bdf(), "0000:01:01.0");
        assert!(info.bound());
        assert_eq!(info.binding(), "bound");
        let info = VdeviceInfo { flags: 3, ..info };
        assert!(info.torn_down());
        assert_eq!(info.binding(), "bound, torn down");
        let info = VdeviceInfo { flags: 0, pci_segment: 2, pci_bdf: 0xff0f, ..info };
        assert_eq!(info.host_bdf(), "0002:ff:01.7");
        assert!(!info.bound());
        assert_eq!(info.binding(), "not bound");
    }
}
