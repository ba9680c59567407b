// SPDX-License-Identifier: GPL-2.0

//! What a bound TDI forbids: config space writes that would move it to
//! ERROR (PCIe TDISP: clearing Memory Space or Bus Master Enable, changing
//! a BAR, a Function Level Reset).

/// PCI_COMMAND.
const COMMAND: u64 = 0x04;
/// PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER.
const COMMAND_MEMORY_MASTER: u8 = 0x06;
/// PCI_BASE_ADDRESS_0 up to the end of PCI_BASE_ADDRESS_5.
const BARS: core::ops::Range<u64> = 0x10..0x28;
/// PCI_ROM_ADDRESS.
const ROM_BAR: core::ops::Range<u64> = 0x30..0x34;
/// PCI_EXP_DEVCTL within the PCI Express capability.
const EXP_DEVCTL: u64 = 0x08;
/// PCI_EXP_DEVCTL_BCR_FLR, in the register's upper byte.
const DEVCTL_FLR_HIGH: u8 = 0x80;

/// Why writing `data` at config offset `offset` would break a locked TDI,
/// or `None`. `pcie_cap` is the PCI Express capability's offset.
pub(crate) fn config_write_breaks_tdi(offset: u64, data: &[u8], pcie_cap: u64) -> Option<&'static str> {
    let end = offset.checked_add(data.len() as u64)?;
    let byte = |at: u64| (offset..end).contains(&at).then(|| data[(at - offset) as usize]);
    let overlaps = |r: &core::ops::Range<u64>| offset < r.end && r.start < end;
    if byte(COMMAND).is_some_and(|b| b & COMMAND_MEMORY_MASTER != COMMAND_MEMORY_MASTER) {
        return Some("clears Memory Space or Bus Master Enable");
    }
    if overlaps(&BARS) || overlaps(&ROM_BAR) {
        return Some("writes a BAR");
    }
    if pcie_cap != 0 && byte(pcie_cap + EXP_DEVCTL + 1).is_some_and(|b| b & DEVCTL_FLR_HIGH != 0) {
        return Some("starts a Function Level Reset");
    }
    None
}

#[kernel::prelude::kunit_tests(teeio_vfio_policy)]
mod tests {
    use super::config_write_breaks_tdi as check;

    const CAP: u64 = 0x40;

    #[test]
    fn command_keeps_memory_and_master() {
        assert_eq!(check(0x04, &[0x06, 0x00], CAP), None);
        assert_eq!(check(0x04, &[0x07, 0x04, 0x10, 0x00], CAP), None);
        assert!(check(0x04, &[0x02, 0x00], CAP).is_some());
        assert!(check(0x04, &[0x04], CAP).is_some());
        assert!(check(0x00, &[0, 0, 0, 0, 0x00, 0, 0, 0], CAP).is_some());
        // The upper command byte and the status register are no concern.
        assert_eq!(check(0x05, &[0x00], CAP), None);
        assert_eq!(check(0x06, &[0xff, 0xff], CAP), None);
    }

    #[test]
    fn bars_and_rom() {
        assert!(check(0x10, &[0; 4], CAP).is_some());
        assert!(check(0x27, &[0], CAP).is_some());
        assert!(check(0x0c, &[0; 8], CAP).is_some());
        assert_eq!(check(0x28, &[0; 4], CAP), None);
        assert!(check(0x30, &[0; 4], CAP).is_some());
        assert_eq!(check(0x3c, &[0; 4], CAP), None);
    }

    #[test]
    fn function_level_reset() {
        assert!(check(CAP + 8, &[0x00, 0x80], CAP).is_some());
        assert!(check(CAP + 9, &[0x80], CAP).is_some());
        assert_eq!(check(CAP + 8, &[0xff, 0x7f], CAP), None);
        assert_eq!(check(CAP + 9, &[0x80], 0), None);
    }

    #[test]
    fn empty_and_overflowing_writes() {
        assert_eq!(check(0x04, &[], CAP), None);
        assert_eq!(check(u64::MAX, &[0], CAP), None);
    }
}
