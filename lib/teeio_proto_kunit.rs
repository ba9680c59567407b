// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of the protocol library, run in the kernel.
//!
//! Compiles `lib/proto` as the modules do and runs its unit tests as KUnit
//! suites when loaded; adds one suite that checks the library's constants
//! against the kernel's own headers.

use kernel::prelude::*;

// The library's public API is wider than what one module uses.
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/accept.rs"]
mod accept;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/doe.rs"]
mod doe;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/error.rs"]
mod error;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/ide_km.rs"]
mod ide_km;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/spdm.rs"]
mod spdm;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/tdi_state.rs"]
mod tdi_state;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/tdisp.rs"]
mod tdisp;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/tdisp_report.rs"]
mod tdisp_report;
#[allow(unreachable_pub, dead_code)]
#[path = "proto/src/wire.rs"]
mod wire;
#[path = "../rust/teeio_bindings.rs"]
mod teeio_bindings;

module! {
    type: ProtoKunit,
    name: "teeio_proto_kunit",
    authors: ["teeio developers"],
    description: "KUnit suites of the teeio protocol library",
    license: "GPL",
}

struct ProtoKunit;

impl kernel::Module for ProtoKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(ProtoKunit)
    }
}

#[kunit_tests(teeio_proto_kernel_abi)]
mod tests {
    use super::{doe, teeio_bindings as b};

    #[test]
    fn doe_ids_match_pci_doe_h() {
        assert_eq!(u32::from(doe::VENDOR_ID_PCI_SIG), b::PCI_VENDOR_ID_PCI_SIG);
        assert_eq!(u32::from(doe::TYPE_DISCOVERY), b::PCI_DOE_FEATURE_DISCOVERY);
        assert_eq!(u32::from(doe::TYPE_CMA_SPDM), b::PCI_DOE_FEATURE_CMA);
        assert_eq!(u32::from(doe::TYPE_SECURED_SPDM), b::PCI_DOE_FEATURE_SSESSION);
    }

    #[test]
    fn tee_capability_bit_matches_pci_regs_h() {
        // PCIe r7.0 section 7.5.3.3: Device Capabilities bit 30, TEE-IO Supported.
        assert_eq!(kernel::bindings::PCI_EXP_DEVCAP_TEE, 1 << 30);
    }
}
