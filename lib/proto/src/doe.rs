// SPDX-License-Identifier: GPL-2.0

//! PCIe Data Object Exchange identifiers (PCIe r7.0, section 6.30).
//!
//! A DOE object is named by a vendor id and a type; SPDM and its secured
//! sessions use the PCI-SIG vendor id.

/// Vendor id of the data object types defined by PCI-SIG.
pub const VENDOR_ID_PCI_SIG: u16 = 0x0001;

/// DOE Discovery (PCIe r7.0, section 6.30.1.1).
pub const TYPE_DISCOVERY: u8 = 0;
/// Component Measurement and Authentication: plain SPDM.
pub const TYPE_CMA_SPDM: u8 = 1;
/// Secured CMA: SPDM messages inside a secure session.
pub const TYPE_SECURED_SPDM: u8 = 2;
