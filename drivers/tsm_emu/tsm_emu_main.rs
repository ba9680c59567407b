// SPDX-License-Identifier: GPL-2.0

//! EMULATION: a platform TEE security manager "firmware".
//!
//! No TSM exists in the test machine (no TDX module, PSP, RMM or CoVE TSM),
//! so this module plays the trusted firmware: it owns the DSM sessions, IDE
//! stream keys, TVM contexts, TDI contexts, each TVM's trusted IOMMU context
//! and secure stage-2, and enforces the TDISP lifecycle rules. It announces
//! itself as the platform device "teeio-tsm-emu" whose platform data is its
//! call ABI (include/teeio/tsm_fw.h); a host TSM driver binds to that device.
//! Unloading unregisters the device, which unbinds the host driver first.

use kernel::prelude::*;

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

mod abi;
mod device;
mod doe_bench;
mod firmware;
mod platform_edge;
mod requester;
mod tvm;


use firmware::Firmware;
use platform_edge::FirmwareDevice;

module! {
    type: TsmEmu,
    name: "teeio_tsm_emu",
    authors: ["teeio developers"],
    description: "EMULATION: platform TSM firmware with a CoVE-IO-shaped call ABI",
    license: "GPL",
}

/// The emulated firmware while loaded. Fields drop in order: the device
/// (and the host driver bound to it) goes before the firmware state.
struct TsmEmu {
    _doe_bench: Pin<KBox<doe_bench::DoeBench>>,
    _device: FirmwareDevice,
    _firmware: Pin<KBox<Firmware>>,
}

impl kernel::Module for TsmEmu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let firmware = KBox::pin_init(Firmware::new(), GFP_KERNEL)?;
        let ptr: *const Firmware = &*firmware;
        // SAFETY: the firmware is pinned and dropped after the device.
        let device = unsafe { FirmwareDevice::register(ptr.cast(), abi::entry, abi::import_mmio)? };
        firmware.set_device(device.dev());
        pr_info!(
            "EMULATED platform TSM firmware up: device teeio-tsm-emu, call ABI version {}\n",
            teeio_bindings::TEEIO_TSM_FW_ABI_VERSION
        );
        let doe_bench = KBox::pin_init(doe_bench::DoeBench::new(), GFP_KERNEL)?;
        Ok(Self { _doe_bench: doe_bench, _device: device, _firmware: firmware })
    }
}
