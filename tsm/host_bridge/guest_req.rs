// SPDX-License-Identifier: GPL-2.0

//! Guest requests (include/uapi/linux/teeio_tsm.h): decoding and the
//! host's scope check before anything reaches the platform TSM. INFO
//! operations have no side effects; STATE_CHANGE operations need the
//! STATE_CHANGE scope; debug scopes are refused; a request names the TDI
//! it is relayed for, or it is refused.

use kernel::prelude::*;

use crate::backend::GuestService;
use crate::teeio_bindings as b;

/// Why a request was refused before reaching the TSM.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a version 1 request of the right size with zero reserved bits.
    Malformed,
    /// An operation teeio does not know.
    UnknownOp(u8),
    /// A state change outside the STATE_CHANGE scope, or a debug scope.
    Scope,
    /// The request names another TDI.
    OtherTdi(u32),
}

impl Refusal {
    /// The errno the host returns.
    pub(crate) fn errno(&self) -> Error {
        match self {
            Refusal::Malformed | Refusal::UnknownOp(_) => EINVAL,
            Refusal::Scope => EPERM,
            Refusal::OtherTdi(_) => EACCES,
        }
    }
}

/// Decodes `input`, relayed with `scope` for the TDI `tdi_id`.
pub(crate) fn decode(input: &[u8], scope: u32, tdi_id: u32) -> Result<GuestService, Refusal> {
    if input.len() != size_of::<b::teeio_tsm_guest_req>() {
        return Err(Refusal::Malformed);
    }
    // SAFETY: `input` holds exactly one plain-integer C struct; read unaligned.
    let req = unsafe { input.as_ptr().cast::<b::teeio_tsm_guest_req>().read_unaligned() };
    if u32::from(req.version) != b::TEEIO_TSM_GUEST_REQ_VERSION || req.reserved != 0 {
        return Err(Refusal::Malformed);
    }
    let (service, changes_state) = match u32::from(req.op) {
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_REPORT => {
            (GuestService::Report { offset: req.arg0, len: req.arg1 }, false)
        }
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_STATE => (GuestService::State, false),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_MEASUREMENTS => (GuestService::Measurements, false),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_MAP_MMIO => (GuestService::MapMmio { gpa: req.arg0, len: req.arg1 }, true),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_ACCEPT_DMA => (GuestService::AcceptDma, true),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_START => (GuestService::Start, true),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_STOP => (GuestService::Stop, true),
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_EVIDENCE => (GuestService::Evidence, false),
        _ => return Err(Refusal::UnknownOp(req.op)),
    };
    let allowed = match scope {
        b::pci_tsm_req_scope_PCI_TSM_REQ_INFO => !changes_state,
        b::pci_tsm_req_scope_PCI_TSM_REQ_STATE_CHANGE => true,
        _ => false,
    };
    if !allowed {
        return Err(Refusal::Scope);
    }
    if req.tdi_id != tdi_id {
        return Err(Refusal::OtherTdi(req.tdi_id));
    }
    Ok(service)
}
