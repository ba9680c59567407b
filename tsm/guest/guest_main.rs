// SPDX-License-Identifier: GPL-2.0

//! Guest TDISP accept driver: the TVM side of confidential device
//! assignment.
//!
//! A devsec TSM (pci_tsm_ops devsec_ops lock/unlock, registered with
//! tsm-core) and, on each PCI function that is the TVM's view of a TDI, a
//! `tsm_guest/` sysfs group shaped after the upstream proposal: `lock`,
//! `accept`, `unlock`, plus `state`, `reason`, `measurements` and `policy`.
//! Guest requests go through a [`transport::Transport`]; the one here is
//! the VMM channel /dev/teeio-tdisp-guest.
//!
//! EMULATION: guest and host share one kernel. The functions named by the
//! `devices` parameter play the guest's view of TDIs (a second QEMU PCIe
//! endpoint per TDI, linked to the host's vDEVICE by its virt_id: the
//! function's routing id), and the VMM channel plays the hypervisor exit.

use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::Arc;

#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/accept.rs"]
mod accept;
#[allow(unreachable_pub, dead_code)]
#[path = "../../lib/proto/src/error.rs"]
mod error;
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
#[allow(dead_code)]
#[path = "../../rust/teeio_crypto.rs"]
mod teeio_crypto;

mod channel;
mod pci_fn;
mod tdi;
mod transport;
mod uapi;

use teeio_bindings as b;

pub(crate) use pci_fn::PciFn;

use channel::VmmChannel;
use tdi::GuestTdi;

module! {
    type: TdispGuest,
    name: "teeio_tdisp_guest",
    authors: ["teeio developers"],
    description: "Guest TDISP accept driver: lock, verify, accept and start TDIs (devsec TSM)",
    license: "GPL",
}

/// How long a guest request waits for the VMM, in milliseconds.
pub(crate) fn timeout_ms() -> u32 {
    // SAFETY: reads a module parameter.
    unsafe { b::teeio_guest_param_timeout_ms() }
}

/// # Invariants
///
/// The C edge holds a pointer to `channel` and to each of `tdis` from
/// registration until `drop` has removed them.
struct TdispGuest {
    channel: Arc<VmmChannel>,
    tdis: KVec<Arc<GuestTdi>>,
}

impl TdispGuest {
    /// Adds the `tsm_guest/` group of the function named `name`.
    fn add(&mut self, name: &CStr) -> Result {
        let pdev = PciFn::get(name).ok_or_else(|| {
            pr_err!("devices: no PCI function {}\n", name.to_str().unwrap_or("?"));
            ENODEV
        })?;
        let raw = pdev.as_raw();
        let tdi = Arc::pin_init(GuestTdi::new(pdev, self.channel.clone()), GFP_KERNEL)?;
        self.tdis.reserve(1, GFP_KERNEL)?;
        // SAFETY: `tdi` stays alive in `self.tdis` until `drop` removed the
        // group; the function is referenced by `tdi`.
        to_result(unsafe { b::teeio_guest_fn_add(raw, Arc::as_ptr(&tdi).cast_mut().cast()) })?;
        // Room was reserved.
        self.tdis.push(tdi, GFP_KERNEL)?;
        Ok(())
    }
}

impl kernel::Module for TdispGuest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let channel = Arc::pin_init(VmmChannel::new(), GFP_KERNEL)?;
        // SAFETY: plain registration; undone in `drop` or below.
        to_result(unsafe { b::teeio_guest_tsm_register() })?;
        // SAFETY: the channel lives in the module until `drop` unregisters.
        if let Err(e) = to_result(unsafe { b::teeio_guest_channel_register(Arc::as_ptr(&channel).cast_mut().cast()) }) {
            // SAFETY: registered above.
            unsafe { b::teeio_guest_tsm_unregister() };
            return Err(e);
        }
        let mut this = TdispGuest { channel, tdis: KVec::new() };
        for i in 0.. {
            // SAFETY: reads a module parameter; NULL past the end.
            let name = unsafe { b::teeio_guest_param_device(i) };
            if name.is_null() {
                break;
            }
            // SAFETY: module parameters are NUL-terminated strings that
            // live as long as the module.
            this.add(unsafe { CStr::from_char_ptr(name) })?;
        }
        if this.tdis.is_empty() {
            pr_err!("devices= names no PCI function\n");
            return Err(EINVAL);
        }
        pr_info!(
            "guest TDISP accept driver: {} functions; EMULATION: guest requests leave through /dev/teeio-tdisp-guest\n",
            this.tdis.len()
        );
        Ok(this)
    }
}

impl Drop for TdispGuest {
    fn drop(&mut self) {
        // SAFETY: waits for sysfs calls in progress; none starts after.
        unsafe { b::teeio_guest_fn_remove_all() };
        for tdi in self.tdis.iter() {
            tdi.shut_down();
        }
        // SAFETY: registered in `init`; the module cannot go while a VMM
        // holds the device open.
        unsafe { b::teeio_guest_channel_unregister() };
        // SAFETY: registered in `init`.
        unsafe { b::teeio_guest_tsm_unregister() };
    }
}
