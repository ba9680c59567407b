// SPDX-License-Identifier: GPL-2.0

//! EMULATION: one PCI function under emulation: its emulated registers and,
//! for endpoints, the DOE mailbox and the DSM behind it.
//!
//! Config accesses reach [`Function::config_read`] and
//! [`Function::config_write`] from the interposed bus accessors, under
//! `pci_lock`; they use atomics only. A completed DOE request queues the
//! function's work item, which runs the DSM in process context under
//! `responder`.

use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, Mutex};
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};
use kernel::{bindings, new_mutex};

use crate::dsm::{fault, DeviceView, Dsm};
use crate::mailbox::{self, Kick, Mailbox, MailboxFaults};
use crate::params;
use crate::pci_edge::Bdf;
use crate::registers::{
    extract, merge, ChainLink, IdeRegisters, DEVCAP_TEE, DOE_HEADER, DOE_OFFSET, EMULATED_END, IDE_OFFSET, KEY_PORT_OFFSET,
};

/// What kind of function is emulated.
pub(crate) enum Role {
    /// The TDISP device: DEVCAP TEE, DOE, IDE, a DSM.
    Endpoint {
        /// Offset of its PCI Express capability.
        pcie_cap: u16,
        mailbox: Mailbox,
    },
    /// The root port above it: an IDE capability for upstream pci_ide.
    RootPort,
}

/// The DSM and the buffers it answers from.
pub(crate) struct Responder {
    dsm: Dsm,
    request: KVec<u8>,
    response: KVec<u8>,
}

/// One emulated function.
#[pin_data]
pub(crate) struct Function {
    pub(crate) bdf: Bdf,
    role: Role,
    link: ChainLink,
    ide: IdeRegisters,
    /// Whether the TDI is CONFIG_LOCKED or RUN, as the DSM last left it.
    tdi_locked: Atomic<bool>,
    /// A configuration write violated the lock; the DSM consumes it.
    config_violated: Atomic<bool>,
    #[pin]
    responder: Mutex<Option<Responder>>,
    #[pin]
    work: Work<Function>,
}

impl_has_work! {
    impl HasWork<Self> for Function { self.work }
}

impl WorkItem for Function {
    type Pointer = Arc<Function>;

    fn run(this: Arc<Function>) {
        this.serve();
    }
}

/// Config registers whose change breaks a TDI lock.
const COMMAND: u16 = 0x04;
const COMMAND_LOCKED_BITS: u32 = bindings::PCI_COMMAND_MEMORY | bindings::PCI_COMMAND_MASTER;
const BARS: core::ops::Range<u16> = 0x10..0x28;

impl Function {
    /// The emulated TDISP endpoint at `bdf`.
    pub(crate) fn endpoint(bdf: Bdf, pcie_cap: u16, link: ChainLink, dsm: Dsm) -> Result<Arc<Self>> {
        let responder = Responder { dsm, request: KVec::new(), response: KVec::new() };
        let role = Role::Endpoint { pcie_cap, mailbox: Mailbox::new()? };
        Self::new(bdf, role, link, Some(responder))
    }

    /// The emulated IDE capability of the root port at `bdf`.
    pub(crate) fn root_port(bdf: Bdf, link: ChainLink) -> Result<Arc<Self>> {
        Self::new(bdf, Role::RootPort, link, None)
    }

    fn new(bdf: Bdf, role: Role, link: ChainLink, responder: Option<Responder>) -> Result<Arc<Self>> {
        // Endpoint keys come through IDE_KM; the platform programs the port's.
        let ide_km = matches!(role, Role::Endpoint { .. });
        Arc::pin_init(
            pin_init!(Self {
                bdf,
                role,
                link,
                ide: IdeRegisters::new(ide_km),
                tdi_locked: Atomic::new(false),
                config_violated: Atomic::new(false),
                responder <- new_mutex!(responder),
                work <- new_work!("teeio_tdisp_emu::Function::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// Offset of the first emulated extended capability.
    fn first_emulated(&self) -> u16 {
        match self.role {
            Role::Endpoint { .. } => DOE_OFFSET,
            Role::RootPort => IDE_OFFSET,
        }
    }

    fn mailbox_faults() -> MailboxFaults {
        let faults = params::misbehave();
        MailboxFaults { busy: faults & fault::BUSY_MAILBOX != 0, stuck: faults & fault::STUCK_MAILBOX != 0 }
    }

    /// A config read of `size` bytes at `offset`; `raw` reads a dword from
    /// the real device.
    pub(crate) fn config_read(&self, offset: u16, size: u8, raw: impl Fn(u16) -> u32) -> u32 {
        let aligned = offset & !3;
        let dword = match (&self.role, aligned) {
            (Role::Endpoint { mailbox, .. }, o) if (DOE_OFFSET..DOE_OFFSET + mailbox::reg::SIZE).contains(&o) => {
                if o == DOE_OFFSET {
                    DOE_HEADER
                } else {
                    mailbox.read(o - DOE_OFFSET, Self::mailbox_faults())
                }
            }
            (_, o) if (IDE_OFFSET..KEY_PORT_OFFSET).contains(&o) => self.ide.read(o - IDE_OFFSET),
            (Role::RootPort, o) if (KEY_PORT_OFFSET..EMULATED_END).contains(&o) => {
                self.ide.key_port_read(o - KEY_PORT_OFFSET)
            }
            (_, o) if (DOE_OFFSET..EMULATED_END).contains(&o) => 0,
            (Role::Endpoint { pcie_cap, .. }, o) if o == pcie_cap + 4 => raw(o) | DEVCAP_TEE,
            (_, o) => self.link.patch(o, raw(o), self.first_emulated()),
        };
        extract(dword, offset, size)
    }

    /// A config write of `size` bytes at `offset`; `raw_read` and `raw_write`
    /// reach the real device. Returns whether the device got the write.
    pub(crate) fn config_write(
        self: &Arc<Self>,
        offset: u16,
        size: u8,
        value: u32,
        raw_read: impl Fn(u16) -> u32,
    ) -> bool {
        let aligned = offset & !3;
        if (DOE_OFFSET..EMULATED_END).contains(&aligned) {
            match &self.role {
                Role::Endpoint { mailbox, .. } if aligned < DOE_OFFSET + mailbox::reg::SIZE => {
                    // The mailbox registers take whole dwords only.
                    if size == 4 && mailbox.write(aligned - DOE_OFFSET, value, Self::mailbox_faults()) == Kick::Go {
                        // Already queued is fine: the run serves this request.
                        let _ = workqueue::system().enqueue(self.clone());
                    }
                }
                Role::RootPort if aligned >= KEY_PORT_OFFSET => {
                    // Key registers take whole dwords only.
                    if size == 4 {
                        self.ide.key_port_write(aligned - KEY_PORT_OFFSET, value);
                    }
                }
                _ if (IDE_OFFSET..KEY_PORT_OFFSET).contains(&aligned) => {
                    let reg = aligned - IDE_OFFSET;
                    self.ide.write(reg, merge(self.ide.read(reg), offset, size, value));
                }
                _ => {}
            }
            return false;
        }
        if let Role::Endpoint { pcie_cap, .. } = self.role {
            if self.violates_lock(offset, size, value, pcie_cap, &raw_read) && self.tdi_locked.load(Relaxed) {
                self.config_violated.store(true, Relaxed);
            }
        }
        true
    }

    /// Whether writing `value` breaks a TDI lock: clearing memory space or
    /// bus master enable, moving a BAR, or a function level reset.
    fn violates_lock(&self, offset: u16, size: u8, value: u32, pcie_cap: u16, raw_read: &impl Fn(u16) -> u32) -> bool {
        let aligned = offset & !3;
        if aligned == COMMAND {
            let old = raw_read(COMMAND);
            let new = merge(old, offset, size, value);
            return old & !new & COMMAND_LOCKED_BITS != 0;
        }
        if BARS.contains(&aligned) {
            return true;
        }
        let devctl = pcie_cap + 8;
        if aligned == devctl & !3 {
            let new = merge(raw_read(aligned), offset, size, value);
            let shift = u32::from(devctl & 3) * 8;
            return (new >> shift) & bindings::PCI_EXP_DEVCTL_BCR_FLR != 0;
        }
        false
    }

    /// Runs the DSM on the mailbox's pending request.
    fn serve(&self) {
        let Role::Endpoint { mailbox, .. } = &self.role else {
            return;
        };
        let mut guard = self.responder.lock();
        let Some(Responder { dsm, request, response }) = &mut *guard else {
            return;
        };
        let view = DeviceView {
            ide: &self.ide,
            config_violated: self.config_violated.xchg(false, Relaxed),
            faults: params::misbehave(),
        };
        mailbox.serve(request, response, |req, resp| dsm.handle(req, resp, &view));
        self.tdi_locked.store(dsm.is_locked(), Relaxed);
    }

    /// Waits until no work item of this function runs or is queued.
    pub(crate) fn flush(&self) {
        // SAFETY: `work` is initialized and pinned inside `self`.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }
}
