// SPDX-License-Identifier: GPL-2.0

//! EMULATION: turns QEMU PCIe endpoints into TDISP devices.
//!
//! No TDISP hardware exists in the test machine, so this module emulates one
//! at the hardware boundary, configuration space: for each endpoint named in
//! `bdfs=` it adds the TEE-IO bit to DEVCAP, a DOE mailbox and an IDE
//! capability (and an IDE capability on the root port above it), then
//! removes and rescans that hierarchy so the upstream PCI core finds them
//! for real: pci_doe discovers the mailbox, pci_ide the IDE capabilities.
//! A device security manager answers SPDM, TDISP and IDE_KM on the mailbox.
//! Unloading removes the hierarchy, restores the accessors and probes the
//! devices again as they really are.

use kernel::prelude::*;
use kernel::sync::Arc;

#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/doe.rs"]
mod doe;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/error.rs"]
mod error;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/ide_km.rs"]
mod ide_km;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/spdm.rs"]
mod spdm;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/tdi_state.rs"]
mod tdi_state;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/tdisp.rs"]
mod tdisp;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/tdisp_report.rs"]
mod tdisp_report;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/wire.rs"]
mod wire;
#[path = "../../rust/teeio_bindings.rs"]
mod teeio_bindings;
#[path = "../../rust/teeio_crypto.rs"]
mod teeio_crypto;

mod config_space;
mod dsm;
mod function;
mod mailbox;
mod params;
mod pci_edge;
mod registers;
mod tests;

use config_space::Interposer;
use dsm::Dsm;
use function::Function;
use pci_edge::{Bdf, PciDevRef};
use registers::{ChainLink, DOE_OFFSET, EMULATED_END};

module! {
    type: TdispEmu,
    name: "teeio_tdisp_emu",
    authors: ["teeio developers"],
    description: "EMULATION: TDISP device security manager behind a DOE mailbox on QEMU PCIe endpoints",
    license: "GPL",
}

/// The emulation while loaded.
struct TdispEmu {
    /// Taken on unload.
    interposer: Option<Pin<KBox<Interposer>>>,
    /// Root ports whose hierarchies were re-probed through the emulation.
    ports: KVec<Bdf>,
}

/// Where a function's real extended capability list ends, checking that
/// the emulated capabilities' space is free.
fn chain_link(dev: &PciDevRef) -> Result<ChainLink> {
    let bdf = dev.bdf();
    let first = dev.read_dword(0x100);
    if first == u32::MAX {
        pr_err!("{}: no extended configuration space\n", bdf);
        return Err(ENODEV);
    }
    for offset in (DOE_OFFSET..EMULATED_END).step_by(4) {
        let value = dev.read_dword(offset);
        if value != 0 && value != u32::MAX {
            pr_err!("{}: config space at {:#x} is in use; cannot emulate there\n", bdf, offset);
            return Err(EBUSY);
        }
    }
    if first == 0 {
        return Ok(ChainLink::Empty);
    }
    let mut offset = 0x100u16;
    // Each capability takes at least a dword: bound the walk.
    for _ in 0..(4096 - 256) / 4 {
        let next = (dev.read_dword(offset) >> 20) as u16;
        if next == 0 {
            return Ok(ChainLink::After(offset));
        }
        if next < 0x100 || next >= DOE_OFFSET || next & 3 != 0 {
            pr_err!("{}: extended capability at {:#x} points to {:#x}\n", bdf, offset, next);
            return Err(EINVAL);
        }
        offset = next;
    }
    pr_err!("{}: extended capability list loops\n", bdf);
    Err(EINVAL)
}

impl kernel::Module for TdispEmu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let bdfs = params::bdfs()?;
        if bdfs.is_empty() {
            pr_err!("bdfs= names no device to emulate\n");
            return Err(EINVAL);
        }
        let mut functions = KVec::new();
        let mut ports: KVec<Bdf> = KVec::new();
        let mut root: *mut kernel::bindings::pci_bus = core::ptr::null_mut();
        for &bdf in bdfs.iter() {
            let Some(dev) = PciDevRef::get(bdf) else {
                pr_err!("{}: no such PCI function\n", bdf);
                return Err(ENODEV);
            };
            if dev.pcie_cap() == 0 {
                pr_err!("{}: not a PCI Express function\n", bdf);
                return Err(EINVAL);
            }
            let Some(port) = dev.upstream_bridge().filter(|p| p.is_root_port()) else {
                pr_err!("{}: must sit directly below a PCIe root port\n", bdf);
                return Err(EINVAL);
            };
            if !root.is_null() && root != dev.root_bus() {
                pr_err!("{}: all devices must share one root bus\n", bdf);
                return Err(EINVAL);
            }
            root = dev.root_bus();
            if functions.iter().any(|f: &Arc<Function>| f.bdf == bdf) {
                pr_err!("{}: named twice\n", bdf);
                return Err(EINVAL);
            }
            let dsm = Dsm::new(bdf)?;
            functions.push(Function::endpoint(bdf, dev.pcie_cap(), chain_link(&dev)?, dsm)?, GFP_KERNEL)?;
            if !ports.contains(&port.bdf()) {
                functions.push(Function::root_port(port.bdf(), chain_link(&port)?)?, GFP_KERNEL)?;
                ports.push(port.bdf(), GFP_KERNEL)?;
            }
        }

        let interposer = Interposer::install(root, functions)?;
        for &port in ports.iter() {
            if let Some(dev) = PciDevRef::get(port) {
                pci_edge::remove_hierarchy(dev);
            }
        }
        pci_edge::rescan(interposer.root());

        for &bdf in bdfs.iter() {
            match PciDevRef::get(bdf) {
                Some(dev) if dev.doe_mailbox(doe::VENDOR_ID_PCI_SIG, doe::TYPE_CMA_SPDM).is_some() => pr_info!(
                    "{}: EMULATED TDISP device: DEVCAP TEE-IO, IDE at {:#x}; upstream pci_doe found the DOE mailbox at {:#x} (CMA/SPDM)\n",
                    bdf,
                    dev.find_ext_capability(0x30),
                    dev.find_ext_capability(0x2e)
                ),
                Some(_) => pr_warn!("{}: EMULATED TDISP device, but pci_doe found no CMA/SPDM mailbox\n", bdf),
                None => pr_warn!("{}: gone after the rescan\n", bdf),
            }
        }
        Ok(Self { interposer: Some(interposer), ports })
    }
}

impl Drop for TdispEmu {
    fn drop(&mut self) {
        let Some(interposer) = self.interposer.take() else {
            return;
        };
        // Remove the emulated functions while the emulation still answers,
        // restore the accessors, then probe the devices as they really are.
        for &port in self.ports.iter() {
            if let Some(dev) = PciDevRef::get(port) {
                pci_edge::remove_hierarchy(dev);
            }
        }
        interposer.uninstall();
        pci_edge::rescan(interposer.root());
        pr_info!("EMULATION removed; devices probed again without it\n");
    }
}
