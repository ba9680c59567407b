// SPDX-License-Identifier: GPL-2.0

//! EMULATION: where the emulated capabilities sit in configuration space and
//! how a function's config reads and writes are split between them and the
//! real device.
//!
//! ```text
//!   PCIe capability + 0x04  DEVCAP: TEE-IO Supported (bit 30) set on reads
//!   tail of the real chain  next pointer redirected to the first emulated one
//!   0xe00 .. 0xe18          DOE extended capability (endpoints)
//!   0xe20 .. 0xe40          IDE extended capability, one selective stream
//!   0xe40 .. 0xe80          root ports: vendor-specific "platform key port"
//! ```
//!
//! The key port stands in for the platform's private path to the root
//! port's IDE keys, which real hardware gives only to the TSM: the slot in
//! CONTROL\[3:0\], PROGRAM (bit 8) commits the ten KEY dwords to it, GO
//! (bit 9) and STOP (bit 10) start and stop it; CONTROL reads back the
//! bitmap of started slots. The key dwords read as zero.
//!
//! Everything else goes to the device through the bus's original accessors.

use kernel::sync::atomic::{Atomic, Relaxed};

/// Offset of the emulated DOE capability.
pub(crate) const DOE_OFFSET: u16 = 0xe00;
/// Offset of the emulated IDE capability.
pub(crate) const IDE_OFFSET: u16 = 0xe20;
/// Offset of the emulated platform key port (root ports).
pub(crate) const KEY_PORT_OFFSET: u16 = 0xe40;
/// End of the emulated capabilities.
pub(crate) const EMULATED_END: u16 = 0xe80;

/// PCI_EXT_CAP_ID_DOE.
const EXT_CAP_ID_DOE: u32 = 0x2e;
/// PCI_EXT_CAP_ID_IDE.
const EXT_CAP_ID_IDE: u32 = 0x30;
/// PCI_EXT_CAP_ID_VNDR.
const EXT_CAP_ID_VNDR: u32 = 0x0b;
/// VSEC ID of the platform key port (vendor-specific; emulation only).
pub(crate) const KEY_PORT_VSEC_ID: u32 = 0x7e10;
/// PCI_EXP_DEVCAP_TEE.
pub(crate) const DEVCAP_TEE: u32 = 1 << 30;

/// An extended capability header.
pub(crate) const fn ext_cap_header(id: u32, version: u32, next: u16) -> u32 {
    id | version << 16 | (next as u32) << 20
}

/// Header of the emulated DOE capability (version 1, IDE next).
pub(crate) const DOE_HEADER: u32 = ext_cap_header(EXT_CAP_ID_DOE, 1, IDE_OFFSET);
/// Header of the emulated IDE capability of an endpoint (version 1, last).
const IDE_HEADER: u32 = ext_cap_header(EXT_CAP_ID_IDE, 1, 0);
/// Header of the emulated IDE capability of a root port (key port next).
const IDE_HEADER_PORT: u32 = ext_cap_header(EXT_CAP_ID_IDE, 1, KEY_PORT_OFFSET);
/// Header of the key port (version 1, last).
const KEY_PORT_HEADER: u32 = ext_cap_header(EXT_CAP_ID_VNDR, 1, 0);
/// VSEC header of the key port: ID, revision 1, length.
const KEY_PORT_VSEC_HEADER: u32 = KEY_PORT_VSEC_ID | 1 << 16 | ((EMULATED_END - KEY_PORT_OFFSET) as u32) << 20;

/// How the emulated capabilities hang off the real extended capability list.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChainLink {
    /// The device has no extended capability: 0x100 reads as an empty
    /// header pointing at the first emulated one.
    Empty,
    /// The last real capability, whose next pointer is redirected.
    After(u16),
}

impl ChainLink {
    /// The dword at `offset` with the link patched in, given the real value.
    pub(crate) fn patch(self, offset: u16, raw: u32, first: u16) -> u32 {
        match self {
            ChainLink::Empty if offset == 0x100 => ext_cap_header(0, 0, first),
            ChainLink::After(tail) if offset == tail => (raw & 0x000f_ffff) | (first as u32) << 20,
            _ => raw,
        }
    }
}

/// IDE register offsets within the capability (PCIe r7.0, section 7.9.26).
mod ide_reg {
    pub(super) const CAP: u16 = 0x04;
    pub(super) const CTL: u16 = 0x08;
    pub(super) const SEL_CAP: u16 = 0x0c;
    pub(super) const SEL_CTL: u16 = 0x10;
    pub(super) const SEL_STS: u16 = 0x14;
    pub(super) const SEL_RID_1: u16 = 0x18;
    pub(super) const SEL_RID_2: u16 = 0x1c;
}

/// Key port register offsets within its capability.
pub(crate) mod key_port {
    /// Slot and command.
    pub(crate) const CONTROL: u16 = 0x08;
    /// First of the ten key dwords.
    pub(crate) const KEY: u16 = 0x0c;
    /// Commit the key dwords to the slot.
    pub(crate) const PROGRAM: u32 = 1 << 8;
    /// Start the slot's key.
    pub(crate) const GO: u32 = 1 << 9;
    /// Stop the slot's key.
    pub(crate) const STOP: u32 = 1 << 10;
}

/// PCI_IDE_CAP_SELECTIVE.
const IDE_CAP_SELECTIVE: u32 = 1 << 1;
/// PCI_IDE_CAP_IDE_KM.
const IDE_CAP_IDE_KM: u32 = 1 << 6;
/// PCI_IDE_SEL_CTL_EN.
const IDE_SEL_CTL_EN: u32 = 1 << 0;
/// Selective IDE stream state Secure (PCI_IDE_SEL_STS_STATE).
const IDE_STATE_SECURE: u32 = 0x2;

/// Key slots of the selective stream: (sub-stream PR/NPR/CPL, direction,
/// key set), as IDE_KM addresses them.
pub(crate) const KEY_SLOTS: usize = 12;
/// Dwords of one key slot: an AES-256 key and the IV's invocation field.
const KEY_DWORDS: usize = 10;

/// The IDE capability's registers: one selective stream, no address
/// association blocks, AES-GCM-256 only; and the stream's key slots, which
/// IDE_KM writes and configuration space never shows.
pub(crate) struct IdeRegisters {
    /// Whether IDE_KM programs this port's keys (endpoints) or the platform does.
    ide_km: bool,
    ctl: Atomic<u32>,
    sel_ctl: Atomic<u32>,
    rid_1: Atomic<u32>,
    rid_2: Atomic<u32>,
    /// Written by the responder only, which runs one request at a time.
    keys: [[Atomic<u32>; KEY_DWORDS]; KEY_SLOTS],
    /// Slots holding a key, one bit each; written by the responder only.
    keys_programmed: Atomic<u32>,
    /// Slots started by K_SET_GO; written by the responder only.
    keys_live: Atomic<u32>,
    /// Root ports: key dwords written to the key port, not yet programmed.
    staged: [Atomic<u32>; KEY_DWORDS],
}

impl IdeRegisters {
    pub(crate) fn new(ide_km: bool) -> Self {
        Self {
            ide_km,
            ctl: Atomic::new(0),
            sel_ctl: Atomic::new(0),
            rid_1: Atomic::new(0),
            rid_2: Atomic::new(0),
            keys: core::array::from_fn(|_| core::array::from_fn(|_| Atomic::new(0))),
            keys_programmed: Atomic::new(0),
            keys_live: Atomic::new(0),
            staged: core::array::from_fn(|_| Atomic::new(0)),
        }
    }

    /// Writes a key and IV invocation field into `slot`.
    pub(crate) fn program_key(&self, slot: usize, material: &[u32; KEY_DWORDS]) {
        let Some(words) = self.keys.get(slot) else { return };
        for (word, value) in words.iter().zip(material) {
            word.store(*value, Relaxed);
        }
        let programmed = self.keys_programmed.load(Relaxed);
        self.keys_programmed.store(programmed | 1 << slot, Relaxed);
    }

    /// Starts (K_SET_GO) or stops (K_SET_STOP) the key in `slot`; starting
    /// an empty slot fails.
    pub(crate) fn set_key_live(&self, slot: usize, live: bool) -> bool {
        let bit = 1u32 << slot;
        if live && self.keys_programmed.load(Relaxed) & bit == 0 {
            return false;
        }
        let running = self.keys_live.load(Relaxed);
        self.keys_live.store(if live { running | bit } else { running & !bit }, Relaxed);
        true
    }

    /// A register read, `offset` relative to the capability.
    pub(crate) fn read(&self, offset: u16) -> u32 {
        match offset {
            0 if self.ide_km => IDE_HEADER,
            0 => IDE_HEADER_PORT,
            ide_reg::CAP => IDE_CAP_SELECTIVE | if self.ide_km { IDE_CAP_IDE_KM } else { 0 },
            ide_reg::CTL => self.ctl.load(Relaxed),
            ide_reg::SEL_CAP => 0,
            ide_reg::SEL_CTL => self.sel_ctl.load(Relaxed),
            ide_reg::SEL_STS => {
                let enabled = self.sel_ctl.load(Relaxed) & IDE_SEL_CTL_EN != 0;
                if enabled && self.keys_live.load(Relaxed) != 0 {
                    IDE_STATE_SECURE
                } else {
                    0
                }
            }
            ide_reg::SEL_RID_1 => self.rid_1.load(Relaxed),
            ide_reg::SEL_RID_2 => self.rid_2.load(Relaxed),
            _ => 0,
        }
    }

    /// A key port read, `offset` relative to its capability.
    pub(crate) fn key_port_read(&self, offset: u16) -> u32 {
        match offset {
            0 => KEY_PORT_HEADER,
            4 => KEY_PORT_VSEC_HEADER,
            key_port::CONTROL => self.keys_live.load(Relaxed),
            _ => 0,
        }
    }

    /// A key port write of the whole dword at `offset`. Key port writes
    /// come from the emulated TSM one at a time, as the key slots' other
    /// writer (IDE_KM) does for endpoints.
    pub(crate) fn key_port_write(&self, offset: u16, value: u32) {
        if offset == key_port::CONTROL {
            let slot = (value & 0xf) as usize;
            if value & key_port::PROGRAM != 0 {
                let material: [u32; KEY_DWORDS] = core::array::from_fn(|i| self.staged[i].load(Relaxed));
                self.program_key(slot, &material);
            }
            if value & key_port::GO != 0 {
                self.set_key_live(slot, true);
            }
            if value & key_port::STOP != 0 {
                self.set_key_live(slot, false);
            }
        } else if let Some(word) = offset.checked_sub(key_port::KEY).map(|o| usize::from(o / 4)) {
            if let Some(staged) = self.staged.get(word) {
                staged.store(value, Relaxed);
            }
        }
    }

    /// A register write of the whole dword at `offset`.
    pub(crate) fn write(&self, offset: u16, value: u32) {
        match offset {
            ide_reg::CTL => self.ctl.store(value, Relaxed),
            ide_reg::SEL_CTL => self.sel_ctl.store(value, Relaxed),
            ide_reg::SEL_RID_1 => self.rid_1.store(value, Relaxed),
            ide_reg::SEL_RID_2 => self.rid_2.store(value, Relaxed),
            _ => {}
        }
    }
}

/// Extracts `size` bytes at `offset` from the dword holding them.
pub(crate) fn extract(dword: u32, offset: u16, size: u8) -> u32 {
    let shift = u32::from(offset & 3) * 8;
    match size {
        1 => (dword >> shift) & 0xff,
        2 => (dword >> shift) & 0xffff,
        _ => dword,
    }
}

/// Merges a `size`-byte write of `value` at `offset` into `dword`.
pub(crate) fn merge(dword: u32, offset: u16, size: u8, value: u32) -> u32 {
    let shift = u32::from(offset & 3) * 8;
    let mask: u32 = match size {
        1 => 0xff,
        2 => 0xffff,
        _ => return value,
    };
    (dword & !(mask << shift)) | ((value & mask) << shift)
}
