// SPDX-License-Identifier: GPL-2.0

//! The bare DOE anchor of the iommufd extension's benchmark, debugfs
//! `teeio_tsm_emu/doe_bench`: the GET_DEVICE_INTERFACE_STATE request the
//! firmware sends for a guest's state read, in the same SPDM vendor-defined
//! envelope, exchanged straight through upstream pci_doe(), without a TSM
//! call or the guest request path around it. Write "SSSS:BB:DD.F COUNT",
//! read "doe COUNT NS_TOTAL" (the last run).

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::bindings;
use kernel::debugfs::{Dir, File};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::uaccess::UserSliceReader;

use crate::doe;
use crate::requester::Requester;
use crate::tdisp::{self, InterfaceId};
use crate::teeio_bindings as b;

/// The last run: exchanges and nanoseconds.
static LAST: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Most exchanges one write runs.
const COUNT_MAX: u32 = 1_000_000;

/// The debugfs files; removed when dropped.
#[pin_data]
pub(crate) struct DoeBench {
    #[pin]
    file: File<()>,
    _dir: Dir,
}

impl DoeBench {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let dir = Dir::new(c"teeio_tsm_emu");
        try_pin_init!(Self {
            file <- dir.read_write_callback_file(c"doe_bench", (), &show, &write),
            _dir: dir,
        }? Error)
    }
}

fn show(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "doe {} {}", LAST[0].load(Relaxed), LAST[1].load(Relaxed))
}

/// "SSSS:BB:DD.F COUNT" as (segment, bus, devfn, count).
fn parse(text: &str) -> Option<(i32, u32, u32, u32)> {
    let (bdf, count) = text.trim().split_once(' ')?;
    let mut parts = bdf.split([':', '.']);
    let mut next = |radix| parts.next().and_then(|p| u32::from_str_radix(p, radix).ok());
    let (segment, bus, dev, func) = (next(16)?, next(16)?, next(16)?, next(10)?);
    if bus > 0xff || dev > 0x1f || func > 7 || segment > 0xffff {
        return None;
    }
    let count = count.trim().parse().ok().filter(|c| (1..=COUNT_MAX).contains(c))?;
    Some((segment as i32, bus, dev << 3 | func, count))
}

fn write(_: &(), r: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let n = r.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    let Some((segment, bus, devfn, count)) = core::str::from_utf8(&buf[..n]).ok().and_then(parse) else {
        pr_warn!("doe_bench: write \"SSSS:BB:DD.F COUNT\" (COUNT 1..{})\n", COUNT_MAX);
        return Err(EINVAL);
    };
    // SAFETY: plain call; returns a referenced device or NULL.
    let pdev = unsafe { bindings::pci_get_domain_bus_and_slot(segment, bus, devfn) };
    if pdev.is_null() {
        return Err(ENODEV);
    }
    let result = run(pdev, segment, bus, devfn, count);
    // SAFETY: the reference taken above.
    unsafe { bindings::pci_dev_put(pdev) };
    result
}

fn run(pdev: *mut bindings::pci_dev, segment: i32, bus: u32, devfn: u32, count: u32) -> Result {
    // SAFETY: `pdev` is referenced; returns its CMA/SPDM mailbox or NULL.
    let mb = unsafe { b::pci_find_doe_mailbox(pdev.cast(), b::PCI_VENDOR_ID_PCI_SIG as u16, doe::TYPE_CMA_SPDM) };
    if mb.is_null() {
        pr_warn!("doe_bench: no CMA/SPDM mailbox\n");
        return Err(ENODEV);
    }
    let mut dsm = Requester::new(Some(exchange), mb.cast()).map_err(|_| ENOMEM)?;
    // The interface id the firmware gives this function (see firmware.rs).
    let id = InterfaceId::new((bus << 8 | devfn) as u16, (segment != 0).then_some(segment as u8));
    // SAFETY: plain call.
    let start = unsafe { bindings::ktime_get() };
    for _ in 0..count {
        dsm.tdisp(id, tdisp::Request::GetDeviceInterfaceState, |_| Ok(())).map_err(|_| EIO)?;
    }
    // SAFETY: plain call.
    let ns = unsafe { bindings::ktime_get() }.saturating_sub(start);
    LAST[0].store(u64::from(count), Relaxed);
    LAST[1].store(ns as u64, Relaxed);
    Ok(())
}

/// The DOE transport: upstream pci_doe() on the mailbox `ctx`.
unsafe extern "C" fn exchange(
    ctx: *mut c_void,
    object_type: u8,
    req: *const c_void,
    req_len: usize,
    resp: *mut c_void,
    resp_len: usize,
) -> c_int {
    // SAFETY: `ctx` is the mailbox found above, alive while the device is
    // referenced; the requester passes valid buffers.
    unsafe { b::pci_doe(ctx.cast(), b::PCI_VENDOR_ID_PCI_SIG as u16, object_type, req, req_len, resp, resp_len) }
}
