// SPDX-License-Identifier: GPL-2.0

//! Mirror of the uAPI this crate speaks: include/uapi/linux/teeio_iommufd.h
//! (the iommufd TSM extension), include/uapi/linux/teeio_tsm.h (guest
//! requests), include/uapi/linux/teeio_tdisp_guest.h (the guest channel's
//! records) and the few VFIO and IOMMUFD commands a VMM needs around them
//! (linux/vfio.h, linux/iommufd.h).
//!
//! Names follow the C headers. Sizes and offsets are asserted below at
//! compile time, and a host test compiles the C headers to compare them.

#![allow(non_camel_case_types)]

use core::mem::{offset_of, size_of};
use rustix::ioctl::{opcode, Opcode};

/// IOMMUFD's ioctl type, shared by VFIO and the extension.
pub const TEEIO_IOMMUFD_TYPE: u8 = b';';

pub const TEEIO_IOMMUFD_CMD_ATTACH: u8 = 0x80;
pub const TEEIO_IOMMUFD_CMD_DESTROY: u8 = 0x81;
pub const TEEIO_IOMMUFD_CMD_EMU_VM_CREATE: u8 = 0x82;
pub const TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION: u8 = 0x83;
pub const TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC: u8 = 0x90;
pub const TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC: u8 = 0x91;
pub const TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC: u8 = 0x93;
pub const TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP: u8 = 0x95;
pub const TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ: u8 = 0x96;
pub const TEEIO_IOMMUFD_CMD_VDEVICE_INFO: u8 = 0x97;

/// `_IO(';', nr)`: no size or direction bits, as IOMMUFD and VFIO define them.
const fn io(nr: u8) -> Opcode {
    opcode::none(TEEIO_IOMMUFD_TYPE, nr)
}

pub const TEEIO_IOMMUFD_ATTACH: Opcode = io(TEEIO_IOMMUFD_CMD_ATTACH);
pub const TEEIO_IOMMUFD_DESTROY: Opcode = io(TEEIO_IOMMUFD_CMD_DESTROY);
pub const TEEIO_IOMMUFD_EMU_VM_CREATE: Opcode = io(TEEIO_IOMMUFD_CMD_EMU_VM_CREATE);
pub const TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION: Opcode = io(TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION);
pub const TEEIO_IOMMUFD_VIOMMU_ALLOC: Opcode = io(TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC);
pub const TEEIO_IOMMUFD_VDEVICE_ALLOC: Opcode = io(TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC);
pub const TEEIO_IOMMUFD_VEVENTQ_ALLOC: Opcode = io(TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC);
pub const TEEIO_IOMMUFD_VDEVICE_TSM_OP: Opcode = io(TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP);
pub const TEEIO_IOMMUFD_VDEVICE_TSM_REQ: Opcode = io(TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ);
pub const TEEIO_IOMMUFD_VDEVICE_INFO: Opcode = io(TEEIO_IOMMUFD_CMD_VDEVICE_INFO);

/// struct teeio_iommufd_attach
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_iommufd_attach {
    pub size: u32,
    pub flags: u32,
    pub iommufd: i32,
    pub __reserved: u32,
}

/// struct teeio_iommufd_destroy
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_iommufd_destroy {
    pub size: u32,
    pub id: u32,
}

/// struct teeio_emu_vm_create
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_emu_vm_create {
    pub size: u32,
    pub flags: u32,
    pub out_vm_fd: i32,
    pub __reserved: u32,
}

/// The memory region is a VFIO dma-buf (private MMIO).
pub const TEEIO_MEM_VFIO_DMABUF: u32 = 1 << 0;

/// struct teeio_emu_vm_memory_region
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_emu_vm_memory_region {
    pub size: u32,
    pub flags: u32,
    pub vm_fd: i32,
    pub slot: u32,
    pub guest_phys_addr: u64,
    pub memory_size: u64,
    pub dmabuf_fd: i32,
    pub __reserved: u32,
    pub dmabuf_offset: u64,
}

/// enum teeio_viommu_type
pub const TEEIO_VIOMMU_TYPE_TSM: u32 = 1;

/// struct teeio_viommu_alloc
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_viommu_alloc {
    pub size: u32,
    pub flags: u32,
    pub type_: u32,
    pub vm_fd: i32,
    pub out_viommu_id: u32,
    pub __reserved: u32,
}

/// struct teeio_vdevice_alloc
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vdevice_alloc {
    pub size: u32,
    pub viommu_id: u32,
    pub dev_id: u32,
    pub vfio_fd: i32,
    pub out_vdevice_id: u32,
    pub __reserved: u32,
    pub virt_id: u64,
}

/// enum teeio_veventq_type
pub const TEEIO_VEVENTQ_TYPE_TDI: u32 = 1;

/// struct teeio_veventq_alloc
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_veventq_alloc {
    pub size: u32,
    pub flags: u32,
    pub viommu_id: u32,
    pub type_: u32,
    pub veventq_depth: u32,
    pub out_veventq_id: u32,
    pub out_veventq_fd: i32,
    pub __reserved: u32,
}

/// Set in a record's header when records were dropped before it.
pub const TEEIO_VEVENTQ_FLAG_LOST_EVENTS: u32 = 1 << 0;

/// struct teeio_vevent_header
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vevent_header {
    pub flags: u32,
    pub sequence: u32,
}

/// enum teeio_vevent_tdi_event
pub const TEEIO_VEVENT_TDI_ERROR: u32 = 1;
pub const TEEIO_VEVENT_TDI_UNBOUND_BY_HOST: u32 = 2;
pub const TEEIO_VEVENT_TDI_STOPPED_BY_GUEST: u32 = 3;

/// struct teeio_vevent_tdi
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vevent_tdi {
    pub vdevice_id: u32,
    pub event: u32,
    pub virt_id: u64,
}

/// enum teeio_vdevice_tsm_op_type
pub const TEEIO_VDEVICE_TSM_BIND: u32 = 1;
pub const TEEIO_VDEVICE_TSM_UNBIND: u32 = 2;

/// struct teeio_vdevice_tsm_op
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vdevice_tsm_op {
    pub size: u32,
    pub type_: u32,
    pub flags: u32,
    pub vdevice_id: u32,
    pub mmio_reporting_offset: u64,
}

/// enum teeio_tsm_req_type
pub const TEEIO_TSM_REQ_TYPE_TDX: u32 = 1;
pub const TEEIO_TSM_REQ_TYPE_SEV: u32 = 2;
pub const TEEIO_TSM_REQ_TYPE_CCA: u32 = 3;
pub const TEEIO_TSM_REQ_TYPE_TEEIO: u32 = 4;

/// enum teeio_tsm_req_op
pub const TEEIO_TSM_REQ_OP_INFO: u32 = 0;
pub const TEEIO_TSM_REQ_OP_STATE_CHANGE: u32 = 1;

/// struct teeio_vdevice_tsm_req
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vdevice_tsm_req {
    pub size: u32,
    pub vdevice_id: u32,
    pub type_: u32,
    pub op: u32,
    pub req_len: u32,
    pub resp_len: u32,
    pub req_uptr: u64,
    pub resp_uptr: u64,
    pub out_tsm_code: u64,
    pub out_resp_len: u32,
    pub __reserved: u32,
}

/// struct teeio_vdevice_info @out_flags: bound from a successful TSM BIND
/// until the TSM UNBIND or a host unbind.
pub const TEEIO_VDEVICE_INFO_BOUND: u32 = 1 << 0;
/// struct teeio_vdevice_info @out_flags: the ordered teardown ran while
/// bound (guest stop, ERROR); a TSM UNBIND finishes it.
pub const TEEIO_VDEVICE_INFO_TORN_DOWN: u32 = 1 << 1;

/// struct teeio_vdevice_info
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_vdevice_info {
    pub size: u32,
    pub vdevice_id: u32,
    pub out_flags: u32,
    pub out_viommu_id: u32,
    pub out_pci_segment: u32,
    pub out_pci_bdf: u16,
    pub __reserved: u16,
    pub out_virt_id: u64,
}

/* linux/teeio_tsm.h */

pub const TEEIO_TSM_GUEST_REQ_VERSION: u8 = 1;

/// enum teeio_tsm_guest_op
pub const TEEIO_TSM_GUEST_GET_REPORT: u8 = 1;
pub const TEEIO_TSM_GUEST_GET_STATE: u8 = 2;
pub const TEEIO_TSM_GUEST_GET_MEASUREMENTS: u8 = 3;
pub const TEEIO_TSM_GUEST_MAP_MMIO: u8 = 4;
pub const TEEIO_TSM_GUEST_ACCEPT_DMA: u8 = 5;
pub const TEEIO_TSM_GUEST_START: u8 = 6;
pub const TEEIO_TSM_GUEST_STOP: u8 = 7;
pub const TEEIO_TSM_GUEST_GET_EVIDENCE: u8 = 8;

/// struct teeio_tsm_guest_req
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_tsm_guest_req {
    pub version: u8,
    pub op: u8,
    pub reserved: u16,
    pub tdi_id: u32,
    pub arg0: u64,
    pub arg1: u64,
}

/// TDISP TDI states, as GET_STATE reports them.
pub const TEEIO_TDI_CONFIG_UNLOCKED: u8 = 0;
pub const TEEIO_TDI_CONFIG_LOCKED: u8 = 1;
pub const TEEIO_TDI_RUN: u8 = 2;
pub const TEEIO_TDI_ERROR: u8 = 3;

/// struct teeio_tsm_guest_state
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_tsm_guest_state {
    pub tdi_state: u8,
    pub dma_accepted: u8,
    pub mmio_ranges: u16,
    pub mmio_mapped: u16,
    pub reserved: u16,
}

/// Bytes of a SHA-384 digest in struct teeio_tsm_guest_evidence.
pub const TEEIO_TSM_DIGEST_SIZE: usize = 48;

/// struct teeio_tsm_guest_evidence
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct teeio_tsm_guest_evidence {
    pub report_digest: [u8; TEEIO_TSM_DIGEST_SIZE],
    pub measurements_digest: [u8; TEEIO_TSM_DIGEST_SIZE],
    pub cert_digest: [u8; TEEIO_TSM_DIGEST_SIZE],
    pub mmio_reporting_offset: u64,
    pub report_len: u32,
    pub reserved: u32,
}

/* linux/teeio_tdisp_guest.h */

/// struct teeio_guest_exit
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_guest_exit {
    pub size: u32,
    pub sequence: u32,
    pub virt_id: u32,
    pub type_: u32,
    pub op: u32,
    pub req_len: u32,
    pub resp_len: u32,
    pub __reserved: u32,
}

/// struct teeio_guest_resume
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct teeio_guest_resume {
    pub size: u32,
    pub sequence: u32,
    pub error: i32,
    pub resp_len: u32,
    pub tsm_code: u64,
}

/// Most request bytes an exit carries.
pub const TEEIO_GUEST_REQ_MAX: usize = 4096;
/// Most response room an exit asks for.
pub const TEEIO_GUEST_RESP_MAX: usize = 65536;

/* linux/vfio.h */

/// VFIO's first command number.
pub const VFIO_BASE: u8 = 100;
pub const VFIO_DEVICE_BIND_IOMMUFD: Opcode = io(VFIO_BASE + 18);

/// struct vfio_device_bind_iommufd; @token_uuid_ptr is unused here (flags 0).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vfio_device_bind_iommufd {
    pub argsz: u32,
    pub flags: u32,
    pub iommufd: i32,
    pub out_devid: u32,
    pub token_uuid_ptr: u64,
}

pub const VFIO_DEVICE_FEATURE: Opcode = io(VFIO_BASE + 17);
pub const VFIO_DEVICE_FEATURE_GET: u32 = 1 << 16;

/// struct vfio_device_feature, without its flexible `data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vfio_device_feature {
    pub argsz: u32,
    pub flags: u32,
}

/// struct vfio_device_feature_dma_buf, without its flexible `dma_ranges`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vfio_device_feature_dma_buf {
    pub region_index: u32,
    pub open_flags: u32,
    pub flags: u32,
    pub nr_ranges: u32,
}

/// struct vfio_region_dma_range
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct vfio_region_dma_range {
    pub offset: u64,
    pub length: u64,
}

/* linux/teeio_vfio.h */

pub const TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF: u32 = 0x7e10;

/// VFIO_DEVICE_FEATURE GET TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF with its
/// one range, as the command reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TdiDmaBufFeature {
    pub feature: vfio_device_feature,
    pub dma_buf: vfio_device_feature_dma_buf,
    pub range: vfio_region_dma_range,
}

/* linux/iommufd.h */

pub const IOMMUFD_CMD_DESTROY: u8 = 0x80;
pub const IOMMUFD_CMD_IOAS_ALLOC: u8 = 0x81;
pub const IOMMU_DESTROY: Opcode = io(IOMMUFD_CMD_DESTROY);
pub const IOMMU_IOAS_ALLOC: Opcode = io(IOMMUFD_CMD_IOAS_ALLOC);

/// struct iommu_destroy
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct iommu_destroy {
    pub size: u32,
    pub id: u32,
}

/// struct iommu_ioas_alloc
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct iommu_ioas_alloc {
    pub size: u32,
    pub flags: u32,
    pub out_ioas_id: u32,
}

/// A command's struct size as its `size` or `argsz` field carries it.
pub const fn size32<T>() -> u32 {
    size_of::<T>() as u32
}

/* The layouts the headers define. */
const _: () = {
    assert!(size_of::<teeio_iommufd_attach>() == 16);
    assert!(offset_of!(teeio_iommufd_attach, iommufd) == 8);
    assert!(size_of::<teeio_iommufd_destroy>() == 8);
    assert!(size_of::<teeio_emu_vm_create>() == 16);
    assert!(offset_of!(teeio_emu_vm_create, out_vm_fd) == 8);
    assert!(size_of::<teeio_emu_vm_memory_region>() == 48);
    assert!(offset_of!(teeio_emu_vm_memory_region, guest_phys_addr) == 16);
    assert!(offset_of!(teeio_emu_vm_memory_region, dmabuf_offset) == 40);
    assert!(size_of::<TdiDmaBufFeature>() == 40);
    assert!(offset_of!(TdiDmaBufFeature, range) == 24);
    assert!(size_of::<teeio_viommu_alloc>() == 24);
    assert!(offset_of!(teeio_viommu_alloc, vm_fd) == 12);
    assert!(offset_of!(teeio_viommu_alloc, out_viommu_id) == 16);
    assert!(size_of::<teeio_vdevice_alloc>() == 32);
    assert!(offset_of!(teeio_vdevice_alloc, out_vdevice_id) == 16);
    assert!(offset_of!(teeio_vdevice_alloc, virt_id) == 24);
    assert!(size_of::<teeio_veventq_alloc>() == 32);
    assert!(offset_of!(teeio_veventq_alloc, out_veventq_id) == 20);
    assert!(offset_of!(teeio_veventq_alloc, out_veventq_fd) == 24);
    assert!(size_of::<teeio_vevent_header>() == 8);
    assert!(size_of::<teeio_vevent_tdi>() == 16);
    assert!(offset_of!(teeio_vevent_tdi, virt_id) == 8);
    assert!(size_of::<teeio_vdevice_tsm_op>() == 24);
    assert!(offset_of!(teeio_vdevice_tsm_op, vdevice_id) == 12);
    assert!(offset_of!(teeio_vdevice_tsm_op, mmio_reporting_offset) == 16);
    assert!(size_of::<teeio_vdevice_tsm_req>() == 56);
    assert!(offset_of!(teeio_vdevice_tsm_req, req_uptr) == 24);
    assert!(offset_of!(teeio_vdevice_tsm_req, resp_uptr) == 32);
    assert!(offset_of!(teeio_vdevice_tsm_req, out_tsm_code) == 40);
    assert!(offset_of!(teeio_vdevice_tsm_req, out_resp_len) == 48);
    assert!(size_of::<teeio_vdevice_info>() == 32);
    assert!(offset_of!(teeio_vdevice_info, out_pci_segment) == 16);
    assert!(offset_of!(teeio_vdevice_info, out_pci_bdf) == 20);
    assert!(offset_of!(teeio_vdevice_info, out_virt_id) == 24);
    assert!(size_of::<teeio_tsm_guest_req>() == 24);
    assert!(offset_of!(teeio_tsm_guest_req, tdi_id) == 4);
    assert!(offset_of!(teeio_tsm_guest_req, arg0) == 8);
    assert!(offset_of!(teeio_tsm_guest_req, arg1) == 16);
    assert!(size_of::<teeio_tsm_guest_state>() == 8);
    assert!(offset_of!(teeio_tsm_guest_state, mmio_mapped) == 4);
    assert!(size_of::<teeio_tsm_guest_evidence>() == 160);
    assert!(offset_of!(teeio_tsm_guest_evidence, mmio_reporting_offset) == 144);
    assert!(offset_of!(teeio_tsm_guest_evidence, report_len) == 152);
    assert!(size_of::<teeio_guest_exit>() == 32);
    assert!(offset_of!(teeio_guest_exit, req_len) == 20);
    assert!(size_of::<teeio_guest_resume>() == 24);
    assert!(offset_of!(teeio_guest_resume, tsm_code) == 16);
    assert!(size_of::<vfio_device_bind_iommufd>() == 24);
    assert!(offset_of!(vfio_device_bind_iommufd, out_devid) == 12);
    assert!(size_of::<iommu_destroy>() == 8);
    assert!(size_of::<iommu_ioas_alloc>() == 12);
    assert!(TEEIO_IOMMUFD_ATTACH == 0x3b80);
    assert!(TEEIO_IOMMUFD_VDEVICE_TSM_REQ == 0x3b96);
    assert!(VFIO_DEVICE_BIND_IOMMUFD == 0x3b76);
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    use std::path::PathBuf;
    use std::process::Command;

    /// A struct's layout: its C name, size, and each field's C name,
    /// offset and size.
    struct Layout {
        c: &'static str,
        size: usize,
        fields: Vec<(&'static str, usize, usize)>,
        /// Compared only when the host's headers define this macro.
        only_if: Option<&'static str>,
    }

    /// Size of a field, through a pointer that is never read.
    fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
        size_of::<F>()
    }

    macro_rules! layout {
        ($ty:ident $(if $guard:literal)?: $($field:ident),+) => {
            Layout {
                c: concat!("struct ", stringify!($ty)),
                size: size_of::<$ty>(),
                fields: vec![$((
                    stringify!($field).trim_end_matches('_'),
                    offset_of!($ty, $field),
                    field_size(|s: &$ty| &s.$field),
                )),+],
                only_if: None $(.or(Some($guard)))?,
            }
        };
    }

    fn layouts() -> Vec<Layout> {
        vec![
            layout!(teeio_iommufd_attach: size, flags, iommufd, __reserved),
            layout!(teeio_iommufd_destroy: size, id),
            layout!(teeio_emu_vm_create: size, flags, out_vm_fd, __reserved),
            layout!(teeio_emu_vm_memory_region: size, flags, vm_fd, slot, guest_phys_addr, memory_size, dmabuf_fd,
                __reserved, dmabuf_offset),
            layout!(vfio_device_feature_dma_buf if "VFIO_DEVICE_FEATURE_DMA_BUF":
                region_index, open_flags, flags, nr_ranges),
            layout!(vfio_region_dma_range if "VFIO_DEVICE_FEATURE_DMA_BUF": offset, length),
            layout!(teeio_viommu_alloc: size, flags, type_, vm_fd, out_viommu_id, __reserved),
            layout!(teeio_vdevice_alloc: size, viommu_id, dev_id, vfio_fd, out_vdevice_id, __reserved, virt_id),
            layout!(teeio_veventq_alloc: size, flags, viommu_id, type_, veventq_depth, out_veventq_id,
                out_veventq_fd, __reserved),
            layout!(teeio_vevent_header: flags, sequence),
            layout!(teeio_vevent_tdi: vdevice_id, event, virt_id),
            layout!(teeio_vdevice_tsm_op: size, type_, flags, vdevice_id, mmio_reporting_offset),
            layout!(teeio_vdevice_tsm_req: size, vdevice_id, type_, op, req_len, resp_len, req_uptr, resp_uptr,
                out_tsm_code, out_resp_len, __reserved),
            layout!(teeio_vdevice_info: size, vdevice_id, out_flags, out_viommu_id, out_pci_segment, out_pci_bdf,
                __reserved, out_virt_id),
            layout!(teeio_tsm_guest_req: version, op, reserved, tdi_id, arg0, arg1),
            layout!(teeio_tsm_guest_state: tdi_state, dma_accepted, mmio_ranges, mmio_mapped, reserved),
            layout!(teeio_tsm_guest_evidence: report_digest, measurements_digest, cert_digest, mmio_reporting_offset,
                report_len, reserved),
            layout!(teeio_guest_exit: size, sequence, virt_id, type_, op, req_len, resp_len, __reserved),
            layout!(teeio_guest_resume: size, sequence, error, resp_len, tsm_code),
            layout!(vfio_device_bind_iommufd if "VFIO_DEVICE_BIND_FLAG_TOKEN":
                argsz, flags, iommufd, out_devid, token_uuid_ptr),
            layout!(iommu_destroy if "IOMMU_IOAS_ALLOC": size, id),
            layout!(iommu_ioas_alloc if "IOMMU_IOAS_ALLOC": size, flags, out_ioas_id),
        ]
    }

    /// Macros and enum values, with their Rust value.
    fn constants() -> Vec<(&'static str, u64, Option<&'static str>)> {
        macro_rules! c {
            ($($name:ident),+ $(,)?) => { vec![$((stringify!($name), $name as u64, None)),+] };
        }
        let mut v = c![
            TEEIO_IOMMUFD_CMD_ATTACH,
            TEEIO_IOMMUFD_CMD_DESTROY,
            TEEIO_IOMMUFD_CMD_EMU_VM_CREATE,
            TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION,
            TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC,
            TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC,
            TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC,
            TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP,
            TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ,
            TEEIO_IOMMUFD_CMD_VDEVICE_INFO,
            TEEIO_IOMMUFD_ATTACH,
            TEEIO_IOMMUFD_DESTROY,
            TEEIO_IOMMUFD_EMU_VM_CREATE,
            TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION,
            TEEIO_MEM_VFIO_DMABUF,
            TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF,
            TEEIO_IOMMUFD_VIOMMU_ALLOC,
            TEEIO_IOMMUFD_VDEVICE_ALLOC,
            TEEIO_IOMMUFD_VEVENTQ_ALLOC,
            TEEIO_IOMMUFD_VDEVICE_TSM_OP,
            TEEIO_IOMMUFD_VDEVICE_TSM_REQ,
            TEEIO_IOMMUFD_VDEVICE_INFO,
            TEEIO_VIOMMU_TYPE_TSM,
            TEEIO_VEVENTQ_TYPE_TDI,
            TEEIO_VEVENTQ_FLAG_LOST_EVENTS,
            TEEIO_VEVENT_TDI_ERROR,
            TEEIO_VEVENT_TDI_UNBOUND_BY_HOST,
            TEEIO_VEVENT_TDI_STOPPED_BY_GUEST,
            TEEIO_VDEVICE_TSM_BIND,
            TEEIO_VDEVICE_TSM_UNBIND,
            TEEIO_TSM_REQ_TYPE_TDX,
            TEEIO_TSM_REQ_TYPE_SEV,
            TEEIO_TSM_REQ_TYPE_CCA,
            TEEIO_TSM_REQ_TYPE_TEEIO,
            TEEIO_TSM_REQ_OP_INFO,
            TEEIO_TSM_REQ_OP_STATE_CHANGE,
            TEEIO_VDEVICE_INFO_BOUND,
            TEEIO_VDEVICE_INFO_TORN_DOWN,
            TEEIO_TSM_GUEST_REQ_VERSION,
            TEEIO_TSM_GUEST_GET_REPORT,
            TEEIO_TSM_GUEST_GET_STATE,
            TEEIO_TSM_GUEST_GET_MEASUREMENTS,
            TEEIO_TSM_GUEST_MAP_MMIO,
            TEEIO_TSM_GUEST_ACCEPT_DMA,
            TEEIO_TSM_GUEST_START,
            TEEIO_TSM_GUEST_STOP,
            TEEIO_TSM_GUEST_GET_EVIDENCE,
            TEEIO_TSM_DIGEST_SIZE,
            TEEIO_GUEST_REQ_MAX,
            TEEIO_GUEST_RESP_MAX,
            TEEIO_TDI_CONFIG_UNLOCKED,
            TEEIO_TDI_CONFIG_LOCKED,
            TEEIO_TDI_RUN,
            TEEIO_TDI_ERROR,
        ];
        v.push(("VFIO_DEVICE_BIND_IOMMUFD", VFIO_DEVICE_BIND_IOMMUFD as u64, Some("VFIO_DEVICE_BIND_FLAG_TOKEN")));
        v.push(("VFIO_DEVICE_FEATURE", VFIO_DEVICE_FEATURE as u64, Some("VFIO_DEVICE_FEATURE_DMA_BUF")));
        v.push(("VFIO_DEVICE_FEATURE_GET", VFIO_DEVICE_FEATURE_GET as u64, Some("VFIO_DEVICE_FEATURE_DMA_BUF")));
        v.push(("IOMMU_DESTROY", IOMMU_DESTROY as u64, Some("IOMMU_IOAS_ALLOC")));
        v.push(("IOMMU_IOAS_ALLOC", IOMMU_IOAS_ALLOC as u64, Some("IOMMU_IOAS_ALLOC")));
        v
    }

    /// What the C program prints, as the Rust mirror has it: one entry per
    /// line, keyed by what it measures; `required` are those the teeio
    /// headers must define.
    fn expected() -> (BTreeMap<String, u64>, Vec<String>) {
        let mut want = BTreeMap::new();
        let mut required = Vec::new();
        let mut add = |key: String, value: u64, only_if: Option<&str>| {
            if only_if.is_none() {
                required.push(key.clone());
            }
            want.insert(key, value);
        };
        for l in layouts() {
            add(format!("sizeof {}", l.c), l.size as u64, l.only_if);
            for &(f, offset, size) in &l.fields {
                add(format!("offsetof {}.{f}", l.c), offset as u64, l.only_if);
                add(format!("sizeof {}.{f}", l.c), size as u64, l.only_if);
            }
        }
        for (name, value, only_if) in constants() {
            add(format!("value {name}"), value, only_if);
        }
        (want, required)
    }

    /// A C program printing every size, offset and value in `expected()`.
    fn c_program() -> String {
        let mut p = String::from(
            "#include <stddef.h>\n#include <stdio.h>\n#include <linux/teeio_iommufd.h>\n#include <linux/teeio_tsm.h>\n\
             #include <linux/teeio_tdisp_guest.h>\n#include <linux/teeio_vfio.h>\n\
             #if __has_include(<linux/vfio.h>)\n#include <linux/vfio.h>\n#endif\n\
             #if __has_include(<linux/iommufd.h>)\n#include <linux/iommufd.h>\n#endif\n\
             int main(void)\n{\n",
        );
        let guarded = |only_if: Option<&str>, body: String, p: &mut String| match only_if {
            Some(m) => {
                let _ = write!(p, "#ifdef {m}\n{body}#endif\n");
            }
            None => p.push_str(&body),
        };
        for l in layouts() {
            let mut body = format!("\tprintf(\"sizeof {c} %zu\\n\", sizeof({c}));\n", c = l.c);
            for &(f, _, _) in &l.fields {
                let _ = write!(
                    body,
                    "\tprintf(\"offsetof {c}.{f} %zu\\n\", offsetof({c}, {f}));\n\
                     \tprintf(\"sizeof {c}.{f} %zu\\n\", sizeof((({c} *)0)->{f}));\n",
                    c = l.c
                );
            }
            guarded(l.only_if, body, &mut p);
        }
        for (name, _, only_if) in constants() {
            guarded(only_if, format!("\tprintf(\"value {name} %llu\\n\", (unsigned long long)({name}));\n"), &mut p);
        }
        p.push_str("\treturn 0;\n}\n");
        p
    }

    #[test]
    fn fields_cover_every_byte() {
        // The uAPI structs have no implicit padding: listed fields that add
        // up to the size are all the fields there are.
        for l in layouts() {
            let sum: usize = l.fields.iter().map(|&(_, _, size)| size).sum();
            assert_eq!(sum, l.size, "{}", l.c);
            let mut end = 0;
            for &(f, offset, size) in &l.fields {
                assert_eq!(offset, end, "{}.{f}", l.c);
                end += size;
            }
        }
    }

    #[test]
    fn layouts_match_the_c_headers() {
        let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/uapi");
        assert!(include.join("linux/teeio_iommufd.h").is_file(), "{}", include.display());
        let dir = std::env::temp_dir().join(format!("teeio-vmm-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let (src, exe) = (dir.join("layout.c"), dir.join("layout"));
        std::fs::write(&src, c_program()).expect("write the C program");
        let cc = Command::new("cc")
            .arg("-std=gnu11")
            .arg("-Wall")
            .arg("-Werror")
            .arg("-I")
            .arg(&include)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output();
        let cc = match cc {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!("layout check against C skipped: no cc");
                let _ = std::fs::remove_dir_all(&dir);
                return;
            }
            other => other.expect("run cc"),
        };
        assert!(cc.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&cc.stderr));
        let out = Command::new(&exe).output().expect("run the layout program");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success());

        let (want, required) = expected();
        let mut seen = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let (key, value) = line.rsplit_once(' ').expect("key value");
            seen.insert(key.to_owned(), value.parse::<u64>().expect("number"));
        }
        let mismatches: Vec<String> = seen
            .iter()
            .filter(|&(k, v)| want.get(k) != Some(v))
            .map(|(k, v)| format!("{k}: C {v}, Rust {:?}", want.get(k)))
            .collect();
        assert!(mismatches.is_empty(), "layout differs from C:\n{}", mismatches.join("\n"));
        let missing: Vec<&String> = required.iter().filter(|k| !seen.contains_key(*k)).collect();
        assert!(missing.is_empty(), "not printed by C: {missing:?}");
    }
}
