// SPDX-License-Identifier: GPL-2.0

//! iommufd TSM extension: confidential vIOMMU and vDEVICE objects with TSM
//! bind/unbind and a guest-request tunnel, on /dev/teeio-iommufd
//! (include/uapi/linux/teeio_iommufd.h, Documentation/iommufd-tsm.rst).
//!
//! Lock order: an extension file's object lock, then (inside the PCI/TSM
//! core and the host TSM bridge) pci_tsm_rwsem, the device's TSM lock, the
//! bridge's TVM table, and waits for the IOASID core's ordered queue. A
//! vIOMMU's spinlocks (its TDI table, also taken under the IOASID core's
//! lock by the atomic handler; its vEVENTQ slot; a vEVENTQ's ring) are
//! leaves, taken one at a time and never across a call out. The claimed
//! device list is a leaf mutex.

use kernel::fs::File;
use kernel::ioctl::_IO;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration};
use kernel::prelude::*;
use kernel::sync::aref::ARef;

#[path = "../../rust/teeio_bindings.rs"]
mod teeio_bindings;

mod claims;
mod context;
mod edge;
mod ioctl;
mod uapi;
mod vdevice;
mod veventq;
mod viommu;

use context::Context;
use teeio_bindings as b;

module! {
    type: ExtensionModule,
    name: "teeio_iommufd_tsm",
    authors: ["teeio developers"],
    description: "iommufd TSM extension: confidential vIOMMU/vDEVICE, TSM bind/unbind, guest request tunnel",
    license: "GPL",
}

/// The module: fields drop in order, the device before the claimed list.
#[pin_data]
struct ExtensionModule {
    #[pin]
    _misc: MiscDeviceRegistration<Extension>,
    _claims: claims::Claims,
}

impl kernel::InPlaceModule for ExtensionModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // SAFETY: the module's init runs once, before the device exists.
            _claims: unsafe { claims::Claims::init() },
            _misc <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"teeio-iommufd" }),
        })
    }
}

/// The extension device's file operations.
struct Extension;

/// The command number of `nr` (IOMMUFD's style: no size or direction bits).
const fn cmd(nr: u32) -> u32 {
    _IO(b::TEEIO_IOMMUFD_TYPE as u32, nr)
}

const ATTACH: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_ATTACH);
const DESTROY: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_DESTROY);
const EMU_VM_CREATE: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_EMU_VM_CREATE);
const EMU_VM_SET_MEMORY_REGION: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION);
const VIOMMU_ALLOC: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC);
const VDEVICE_ALLOC: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC);
const VEVENTQ_ALLOC: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC);
const VDEVICE_TSM_OP: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP);
const VDEVICE_TSM_REQ: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ);
const VDEVICE_INFO: u32 = cmd(b::teeio_iommufd_cmd_TEEIO_IOMMUFD_CMD_VDEVICE_INFO);

#[vtable]
impl MiscDevice for Extension {
    type Ptr = Pin<KBox<Context>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr> {
        KBox::try_pin_init(Context::new(ARef::from(misc.device())), GFP_KERNEL)
    }

    fn ioctl(ctx: Pin<&Context>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let ctx = ctx.get_ref();
        let (name, result) = match cmd {
            ATTACH => ("ATTACH", ioctl::attach(ctx, arg)),
            DESTROY => ("DESTROY", ioctl::destroy(ctx, arg)),
            EMU_VM_CREATE => ("EMU_VM_CREATE", ioctl::emu_vm_create(ctx, arg)),
            EMU_VM_SET_MEMORY_REGION => ("EMU_VM_SET_MEMORY_REGION", ioctl::emu_vm_set_memory_region(ctx, arg)),
            VIOMMU_ALLOC => ("VIOMMU_ALLOC", ioctl::viommu_alloc(ctx, arg)),
            VDEVICE_ALLOC => ("VDEVICE_ALLOC", ioctl::vdevice_alloc(ctx, arg)),
            VEVENTQ_ALLOC => ("VEVENTQ_ALLOC", ioctl::veventq_alloc(ctx, arg)),
            VDEVICE_TSM_OP => ("VDEVICE_TSM_OP", ioctl::vdevice_tsm_op(ctx, arg)),
            VDEVICE_TSM_REQ => ("VDEVICE_TSM_REQ", ioctl::vdevice_tsm_req(ctx, arg)),
            VDEVICE_INFO => ("VDEVICE_INFO", ioctl::vdevice_info(ctx, arg)),
            _ => return Err(ENOTTY),
        };
        if let Err(e) = &result {
            dev_info!(ctx.dev, "{} refused: {:?}\n", name, e);
        }
        result
    }
}
