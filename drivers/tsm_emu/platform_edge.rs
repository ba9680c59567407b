// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the firmware's edges to the machine: the platform device that
//! announces it, the root ports' key ports.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::prelude::*;

use crate::teeio_bindings::{teeio_tsm_fw, teeio_tsm_fw_call, TEEIO_TSM_FW_ABI_VERSION};

/// Name of the platform device (TEEIO_TSM_FW_DEVICE_NAME).
const DEVICE_NAME: &CStr = c"teeio-tsm-emu";

/// The registered "teeio-tsm-emu" platform device.
///
/// # Invariants
///
/// `pdev` is registered until drop, with platform data whose `firmware`
/// pointer outlives the registration (the owner drops this first).
pub(crate) struct FirmwareDevice {
    pdev: NonNull<bindings::platform_device>,
}

// SAFETY: the device is only unregistered, from any thread.
unsafe impl Send for FirmwareDevice {}
// SAFETY: no shared access to the device goes through `&self`.
unsafe impl Sync for FirmwareDevice {}

/// The firmware entry as the C ABI declares it.
pub(crate) type Entry = unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut teeio_tsm_fw_call) -> kernel::ffi::c_long;

/// The private MMIO import entry as the C ABI declares it.
pub(crate) type ImportEntry =
    unsafe extern "C" fn(*mut kernel::ffi::c_void, u64, u32, u64, *mut bindings::dma_buf) -> kernel::ffi::c_long;

impl FirmwareDevice {
    /// Registers the device, its platform data naming the entries and `firmware`.
    ///
    /// # Safety
    ///
    /// `firmware` must stay valid for the entries until the returned value is dropped.
    pub(crate) unsafe fn register(firmware: *const kernel::ffi::c_void, entry: Entry, import: ImportEntry) -> Result<Self> {
        let data = teeio_tsm_fw {
            abi_version: TEEIO_TSM_FW_ABI_VERSION,
            firmware: firmware.cast_mut(),
            call: Some(entry),
            import_mmio: Some(import),
        };
        let info = bindings::platform_device_info {
            name: DEVICE_NAME.as_char_ptr(),
            id: bindings::PLATFORM_DEVID_NONE,
            data: (&raw const data).cast(),
            size_data: size_of::<teeio_tsm_fw>(),
            ..Default::default()
        };
        // SAFETY: `info` and what it points to are valid for the call; the
        // core copies the platform data.
        let pdev = kernel::error::from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })?;
        // INVARIANT: registered; the caller keeps `firmware` alive.
        Ok(Self { pdev: NonNull::new(pdev).ok_or(ENOMEM)? })
    }
}

impl FirmwareDevice {
    /// The device's `struct device`.
    pub(crate) fn dev(&self) -> *mut bindings::device {
        // SAFETY: registered per the type invariant.
        unsafe { &raw mut (*self.pdev.as_ptr()).dev }
    }
}

impl Drop for FirmwareDevice {
    fn drop(&mut self) {
        // SAFETY: registered by `register`; unbinds the host TSM driver first.
        unsafe { bindings::platform_device_unregister(self.pdev.as_ptr()) };
    }
}

/// PCI_EXT_CAP_ID_VNDR.
const EXT_CAP_ID_VNDR: i32 = 0x0b;
/// VSEC ID of the emulated root ports' platform key port.
const KEY_PORT_VSEC_ID: u32 = 0x7e10;
/// Key port CONTROL register.
const KEY_PORT_CONTROL: i32 = 0x08;
/// Key port first KEY register.
const KEY_PORT_KEY: i32 = 0x0c;
/// CONTROL commands.
pub(crate) const KEY_PORT_PROGRAM: u32 = 1 << 8;
pub(crate) const KEY_PORT_GO: u32 = 1 << 9;
pub(crate) const KEY_PORT_STOP: u32 = 1 << 10;

/// The key port of a root port: the platform's own path to its IDE keys.
pub(crate) struct KeyPort {
    dev: NonNull<bindings::pci_dev>,
    offset: i32,
}

impl KeyPort {
    /// The key port of the root port `segment << 16 | requester id`.
    pub(crate) fn find(id: u32) -> Option<Self> {
        let (segment, bus, devfn) = ((id >> 16) as i32, (id >> 8) & 0xff, id & 0xff);
        // SAFETY: plain lookup; returns a counted reference or NULL.
        let dev = NonNull::new(unsafe { bindings::pci_get_domain_bus_and_slot(segment, bus, devfn) })?;
        let mut this = Self { dev, offset: 0 };
        let mut offset = 0;
        loop {
            // SAFETY: `dev` is a live device we hold a reference to.
            offset = unsafe { bindings::pci_find_next_ext_capability(dev.as_ptr(), offset, EXT_CAP_ID_VNDR) };
            if offset == 0 {
                return None;
            }
            if this.read(i32::from(offset) + 4) & 0xffff == KEY_PORT_VSEC_ID {
                this.offset = i32::from(offset);
                return Some(this);
            }
        }
    }

    fn read(&self, at: i32) -> u32 {
        let mut value = 0u32;
        // SAFETY: live device; valid output pointer.
        unsafe { bindings::pci_read_config_dword(self.dev.as_ptr(), at, &mut value) };
        value
    }

    fn write(&self, at: i32, value: u32) {
        // SAFETY: live device.
        unsafe { bindings::pci_write_config_dword(self.dev.as_ptr(), at, value) };
    }

    /// Programs `material` into key slot `slot`.
    pub(crate) fn program(&self, slot: u32, material: &[u32; 10]) {
        for (i, word) in material.iter().enumerate() {
            self.write(self.offset + KEY_PORT_KEY + 4 * i as i32, *word);
        }
        self.write(self.offset + KEY_PORT_CONTROL, slot | KEY_PORT_PROGRAM);
    }

    /// Starts or stops key slot `slot`.
    pub(crate) fn set_live(&self, slot: u32, live: bool) {
        self.write(self.offset + KEY_PORT_CONTROL, slot | if live { KEY_PORT_GO } else { KEY_PORT_STOP });
    }

    /// The bitmap of started slots.
    pub(crate) fn live(&self) -> u32 {
        self.read(self.offset + KEY_PORT_CONTROL)
    }
}

impl Drop for KeyPort {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `find`.
        unsafe { bindings::pci_dev_put(self.dev.as_ptr()) };
    }
}
