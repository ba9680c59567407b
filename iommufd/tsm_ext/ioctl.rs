// SPDX-License-Identifier: GPL-2.0

//! One function per extension command (include/uapi/linux/teeio_iommufd.h).
//! Each reads its size-first struct, checks it, acts under the file's
//! object lock and writes the outputs back.

use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

use crate::b;
use crate::context::Context;
use crate::edge::{NewFd, VfioDevice, Vm};
use crate::uapi::{end_of, Cmd};
use crate::vdevice::Vdevice;
use crate::veventq::{EventQueue, MAX_DEPTH};
use crate::viommu::Viommu;

/// Largest guest request and response relayed.
const REQ_MAX: u32 = 4096;
const RESP_MAX: u32 = 65536;

/// Flags and reserved fields must be zero: -EOPNOTSUPP otherwise, as IOMMUFD.
fn zero(fields: &[u32]) -> Result {
    if fields.iter().any(|&f| f != 0) {
        return Err(EOPNOTSUPP);
    }
    Ok(())
}

pub(crate) fn attach(ctx: &Context, arg: usize) -> Result<isize> {
    let cmd = Cmd::<b::teeio_iommufd_attach>::read(arg, end_of!(b::teeio_iommufd_attach, iommufd))?;
    zero(&[cmd.val.flags, cmd.val.__reserved])?;
    let mut objects = ctx.objects.lock();
    if objects.ictx.is_some() {
        return Err(EBUSY);
    }
    objects.ictx = Some(crate::edge::IommufdCtx::from_fd(cmd.val.iommufd)?);
    dev_dbg!(ctx.dev, "attached to iommufd fd {}\n", cmd.val.iommufd);
    Ok(0)
}

pub(crate) fn destroy(ctx: &Context, arg: usize) -> Result<isize> {
    let cmd = Cmd::<b::teeio_iommufd_destroy>::read(arg, end_of!(b::teeio_iommufd_destroy, id))?;
    let mut objects = ctx.objects.lock();
    objects.ictx()?;
    objects.destroy(cmd.val.id)?;
    Ok(0)
}

pub(crate) fn emu_vm_create(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_emu_vm_create>::read(arg, end_of!(b::teeio_emu_vm_create, out_vm_fd))?;
    zero(&[cmd.val.flags, cmd.val.__reserved])?;
    // SAFETY: plain call; returns a new file or an error.
    let vm = NewFd::new(unsafe { b::teeio_ext_emu_vm_file() })?;
    cmd.val.out_vm_fd = vm.fd();
    cmd.respond()?;
    vm.install();
    dev_dbg!(ctx.dev, "EMULATION: new emulated VM file\n");
    Ok(0)
}

pub(crate) fn emu_vm_set_memory_region(ctx: &Context, arg: usize) -> Result<isize> {
    let cmd = Cmd::<b::teeio_emu_vm_memory_region>::read(arg, end_of!(b::teeio_emu_vm_memory_region, dmabuf_offset))?;
    let r = &cmd.val;
    if r.flags != b::TEEIO_MEM_VFIO_DMABUF {
        dev_info!(ctx.dev, "EMU_VM_SET_MEMORY_REGION: flags {:#x}: only TEEIO_MEM_VFIO_DMABUF regions\n", r.flags);
        return Err(EOPNOTSUPP);
    }
    zero(&[r.__reserved])?;
    if r.dmabuf_offset != 0 || r.memory_size == 0 {
        dev_info!(ctx.dev, "EMU_VM_SET_MEMORY_REGION: a whole dma-buf, offset 0\n");
        return Err(EINVAL);
    }
    // SAFETY: plain call on plain values.
    let rc = unsafe { b::teeio_ext_emu_vm_import_mmio(r.vm_fd, r.slot, r.guest_phys_addr, r.memory_size, r.dmabuf_fd) };
    kernel::error::to_result(rc)?;
    dev_info!(ctx.dev, "EMULATION: VM private MMIO slot {} at {:#x}: dma-buf handed to the TVM\n", r.slot, r.guest_phys_addr);
    Ok(0)
}

pub(crate) fn viommu_alloc(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_viommu_alloc>::read(arg, end_of!(b::teeio_viommu_alloc, out_viommu_id))?;
    zero(&[cmd.val.flags, cmd.val.__reserved])?;
    if cmd.val.type_ != b::teeio_viommu_type_TEEIO_VIOMMU_TYPE_TSM {
        dev_info!(ctx.dev, "VIOMMU_ALLOC: unknown type {}\n", cmd.val.type_);
        return Err(EOPNOTSUPP);
    }
    let mut objects = ctx.objects.lock();
    objects.ictx()?;
    let vm = Vm::get(cmd.val.vm_fd).inspect_err(|e| {
        dev_info!(ctx.dev, "VIOMMU_ALLOC: fd {} is not a VM file ({:?})\n", cmd.val.vm_fd, e);
    })?;
    if objects.viommus.iter().any(|v| v.vm.identity() == vm.identity()) {
        dev_info!(ctx.dev, "VIOMMU_ALLOC: the VM has a vIOMMU in this file\n");
        return Err(EEXIST);
    }
    objects.viommus.reserve(1, GFP_KERNEL)?;
    let id = objects.new_id()?;
    let viommu = Viommu::new(id, vm).inspect_err(|e| {
        dev_info!(ctx.dev, "VIOMMU_ALLOC: the VM's IOASID set refused a subscriber ({:?}): TDIs bound elsewhere?\n", e);
    })?;
    cmd.val.out_viommu_id = id;
    cmd.respond()?;
    objects.viommus.push(viommu, GFP_KERNEL)?;
    Ok(0)
}

pub(crate) fn vdevice_alloc(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_vdevice_alloc>::read(arg, end_of!(b::teeio_vdevice_alloc, virt_id))?;
    zero(&[cmd.val.__reserved])?;
    let virt_id = match u16::try_from(cmd.val.virt_id) {
        Ok(v) if v != 0 => u32::from(v),
        _ => {
            dev_info!(ctx.dev, "VDEVICE_ALLOC: virt_id {:#x} is not a virtual BDF (1..0xffff)\n", cmd.val.virt_id);
            return Err(EINVAL);
        }
    };
    let mut objects = ctx.objects.lock();
    objects.ictx()?;
    let viommu = objects.viommu(cmd.val.viommu_id)?.clone();
    let device = VfioDevice::get(cmd.val.vfio_fd, objects.ictx()?, cmd.val.dev_id).inspect_err(|e| {
        dev_info!(
            ctx.dev,
            "VDEVICE_ALLOC: fd {} is not the VFIO device cdev of dev_id {} in this iommufd ({:?})\n",
            cmd.val.vfio_fd,
            cmd.val.dev_id,
            e
        );
    })?;
    objects.vdevices.reserve(1, GFP_KERNEL)?;
    let id = objects.new_id()?;
    let (segment, bdf) = device.address();
    let vdevice = Vdevice::new(id, viommu, virt_id, device).inspect_err(|_| {
        dev_info!(ctx.dev, "VDEVICE_ALLOC: {:04x}:{:02x}:{:02x}.{} has a vDEVICE or virt_id {:#x} is taken\n",
            segment, bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, virt_id);
    })?;
    cmd.val.out_vdevice_id = id;
    cmd.respond()?;
    objects.vdevices.push(vdevice, GFP_KERNEL)?;
    dev_dbg!(ctx.dev, "vDEVICE {} for {:04x}:{:02x}:{:02x}.{} as virt_id {:#x} in vIOMMU {}\n",
        id, segment, bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7, virt_id, cmd.val.viommu_id);
    Ok(0)
}

pub(crate) fn veventq_alloc(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_veventq_alloc>::read(arg, end_of!(b::teeio_veventq_alloc, out_veventq_fd))?;
    zero(&[cmd.val.flags, cmd.val.__reserved])?;
    if cmd.val.type_ != b::teeio_veventq_type_TEEIO_VEVENTQ_TYPE_TDI {
        return Err(EOPNOTSUPP);
    }
    if cmd.val.veventq_depth == 0 || cmd.val.veventq_depth > MAX_DEPTH {
        dev_info!(ctx.dev, "VEVENTQ_ALLOC: depth {} not in 1..{}\n", cmd.val.veventq_depth, MAX_DEPTH);
        return Err(EINVAL);
    }
    let mut objects = ctx.objects.lock();
    objects.ictx()?;
    let viommu = objects.viommu(cmd.val.viommu_id)?.clone();
    objects.veventqs.reserve(1, GFP_KERNEL)?;
    let id = objects.new_id()?;
    let queue = EventQueue::new(id, viommu.id, cmd.val.veventq_depth)?;
    let file = queue.file()?;
    viommu.attach_queue(queue.clone())?;
    cmd.val.out_veventq_id = id;
    cmd.val.out_veventq_fd = file.fd();
    if let Err(e) = cmd.respond() {
        viommu.detach_queue();
        return Err(e);
    }
    file.install();
    objects.veventqs.push(queue, GFP_KERNEL)?;
    Ok(0)
}

pub(crate) fn vdevice_tsm_op(ctx: &Context, arg: usize) -> Result<isize> {
    let cmd = Cmd::<b::teeio_vdevice_tsm_op>::read(arg, end_of!(b::teeio_vdevice_tsm_op, vdevice_id))?;
    zero(&[cmd.val.flags])?;
    let offset = cmd.val.mmio_reporting_offset;
    let objects = ctx.objects.lock();
    objects.ictx()?;
    let vdevice = objects.vdevice(cmd.val.vdevice_id)?;
    let bind = cmd.val.type_ == b::teeio_vdevice_tsm_op_type_TEEIO_VDEVICE_TSM_BIND;
    if offset % 4096 != 0 || (!bind && offset != 0) {
        dev_info!(ctx.dev, "TSM_OP: MMIO reporting offset {:#x} refused (4 KiB aligned, BIND only)\n", offset);
        return Err(EINVAL);
    }
    match cmd.val.type_ {
        b::teeio_vdevice_tsm_op_type_TEEIO_VDEVICE_TSM_BIND => vdevice.bind(offset).inspect_err(|e| {
            dev_info!(ctx.dev, "TSM BIND of vDEVICE {}: {:?}\n", vdevice.id, e);
        })?,
        b::teeio_vdevice_tsm_op_type_TEEIO_VDEVICE_TSM_UNBIND => vdevice.unbind().inspect_err(|e| {
            dev_info!(ctx.dev, "TSM UNBIND of vDEVICE {}: {:?}\n", vdevice.id, e);
        })?,
        op => {
            dev_info!(ctx.dev, "TSM_OP: unknown op {}\n", op);
            return Err(EOPNOTSUPP);
        }
    }
    Ok(0)
}

pub(crate) fn vdevice_tsm_req(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_vdevice_tsm_req>::read(arg, end_of!(b::teeio_vdevice_tsm_req, out_resp_len))?;
    zero(&[cmd.val.__reserved])?;
    let v = &cmd.val;
    if v.type_ != b::teeio_tsm_req_type_TEEIO_TSM_REQ_TYPE_TEEIO {
        dev_info!(ctx.dev, "TSM_REQ: type {} is not what the TSM speaks\n", v.type_);
        return Err(EOPNOTSUPP);
    }
    let scope = match v.op {
        b::teeio_tsm_req_op_TEEIO_TSM_REQ_OP_INFO => b::pci_tsm_req_scope_PCI_TSM_REQ_INFO,
        b::teeio_tsm_req_op_TEEIO_TSM_REQ_OP_STATE_CHANGE => b::pci_tsm_req_scope_PCI_TSM_REQ_STATE_CHANGE,
        op => {
            dev_info!(ctx.dev, "TSM_REQ: unknown op {}\n", op);
            return Err(EINVAL);
        }
    };
    if v.req_len == 0 || v.req_len > REQ_MAX || v.resp_len > RESP_MAX {
        dev_info!(ctx.dev, "TSM_REQ: lengths {}/{} out of range\n", v.req_len, v.resp_len);
        return Err(EINVAL);
    }
    let mut req = KVec::new();
    UserSlice::new(UserPtr::from_addr(v.req_uptr as usize), v.req_len as usize).read_all(&mut req, GFP_KERNEL)?;
    let mut resp = KVVec::from_elem(0u8, v.resp_len as usize, GFP_KERNEL)?;
    let (written, tsm_code) = {
        let objects = ctx.objects.lock();
        objects.ictx()?;
        let vdevice = objects.vdevice(v.vdevice_id)?;
        vdevice.request(scope, &req, &mut resp).inspect_err(|e| {
            dev_info!(ctx.dev, "TSM_REQ on vDEVICE {}: {:?}\n", vdevice.id, e);
        })?
    };
    let written = written.min(resp.len());
    UserSlice::new(UserPtr::from_addr(v.resp_uptr as usize), written).writer().write_slice(&resp[..written])?;
    cmd.val.out_tsm_code = tsm_code;
    cmd.val.out_resp_len = written as u32;
    cmd.respond()?;
    Ok(0)
}

pub(crate) fn vdevice_info(ctx: &Context, arg: usize) -> Result<isize> {
    let mut cmd = Cmd::<b::teeio_vdevice_info>::read(arg, end_of!(b::teeio_vdevice_info, out_virt_id))?;
    {
        let objects = ctx.objects.lock();
        objects.ictx()?;
        let vdevice = objects.vdevice(cmd.val.vdevice_id)?;
        let (bound, torn_down) = vdevice.state();
        let (segment, bdf) = vdevice.device.address();
        let v = &mut cmd.val;
        v.out_flags = if bound { b::TEEIO_VDEVICE_INFO_BOUND } else { 0 }
            | if torn_down { b::TEEIO_VDEVICE_INFO_TORN_DOWN } else { 0 };
        v.out_viommu_id = vdevice.viommu.id;
        v.out_pci_segment = segment;
        v.out_pci_bdf = bdf;
        v.out_virt_id = u64::from(vdevice.virt_id);
    }
    cmd.respond()?;
    Ok(0)
}
