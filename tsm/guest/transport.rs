// SPDX-License-Identifier: GPL-2.0

//! How guest requests leave the TVM: a transport carries one request for a
//! TDI to the host and brings back the TSM's answer. The accept flow only
//! sees this trait; the VMM channel (`channel.rs`) is one transport, a
//! channel between two VMs (virtio-serial, ivshmem) would be another.

use kernel::prelude::*;

/// The host's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The TSM's status (0: success; TEEIO_TSM_* codes otherwise).
    pub(crate) tsm_code: i64,
    /// Response bytes written.
    pub(crate) len: usize,
}

/// Carries guest requests to the host TSM and back.
pub(crate) trait Transport: Send + Sync {
    /// Sends `req` for the TDI the TVM addresses as `virt_id`, to be
    /// relayed with `op` (enum teeio_tsm_req_op); the response goes to
    /// `resp`. Errors are the transport's or the host's refusal.
    fn request(&self, virt_id: u32, op: u32, req: &[u8], resp: &mut [u8]) -> Result<Reply>;
}
