// SPDX-License-Identifier: GPL-2.0

//! A TDI as the TVM sees it: the PCI function that is its view, the lock
//! context (the TSM's evidence, the interface report, the measurements),
//! and the three verbs: lock, accept, unlock.
//!
//! lock: the TDI must be CONFIG_LOCKED for this TVM; the evidence, the
//! report (in portions) and the measurements are fetched, and no driver may
//! bind. accept: the report and measurements are checked against the
//! evidence, the report's ranges against the function's BARs, INTERFACE_INFO
//! and the measurement policy; then every range is accepted as private, DMA
//! is accepted, START_INTERFACE runs (the TSM holds the lock's nonce), and
//! the function's normal driver may bind. A refusal leaves the function
//! shared with its reason readable; once anything private may have been
//! mapped, a refusal stops the TDI first.

use core::fmt::Write;

use kernel::bindings;
use kernel::ffi::{c_char, c_void};
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::{Arc, Mutex};
use kernel::transmute::{AsBytes, FromBytes};
use kernel::new_mutex;

use crate::accept::{self, Bar, ReferenceValue, Refusal, Vouched, MAX_REFERENCE_VALUES};
use crate::b;
use crate::teeio_crypto::sha384;
use crate::PciFn;
use crate::spdm::MeasurementBlocks;
use crate::tdisp_report::InterfaceReport;
use crate::transport::Transport;

/// The driver_override a locked, not yet accepted function carries: no
/// driver has that name, so none binds.
const LOCKED_OVERRIDE: &CStr = c"teeio-tdisp-locked";

/// Bytes of the report fetched per GET_REPORT.
const REPORT_PORTION: u64 = 64;
/// Largest report and measurement record taken.
const MAX_EVIDENCE: usize = 65536;
/// Room for the measurement record.
const MEASUREMENTS_ROOM: usize = 4096;

/// Where the TVM is with the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// T=0: not trusted, nothing private.
    Shared,
    /// Locked: evidence fetched, no driver, nothing private yet.
    Locked,
    /// Accepted: its ranges private, DMA accepted, RUN, its driver may bind.
    Accepted,
}

/// What lock fetched.
struct LockContext {
    evidence: b::teeio_tsm_guest_evidence,
    report: KVec<u8>,
    measurements: KVec<u8>,
    /// The driver_override before lock, given back when the TVM lets go.
    saved_override: KVec<u8>,
}

/// # Invariants
///
/// `lock` is `Some` exactly when `phase` is not `Shared`; while `phase` is
/// `Locked` the function's driver_override is [`LOCKED_OVERRIDE`].
struct Inner {
    phase: Phase,
    lock: Option<LockContext>,
    reason: Option<CString>,
    policy: KVec<ReferenceValue>,
}

/// A refusal: the errno and the reason shown (None: no memory to say it).
struct Refused(Error, Option<CString>);

impl Refused {
    fn text(&self) -> &str {
        self.1.as_ref().and_then(|r| r.to_str().ok()).unwrap_or("?")
    }
}

fn refused(errno: Error, args: core::fmt::Arguments<'_>) -> Refused {
    Refused(errno, CString::try_from_fmt(args).ok())
}

/// The TVM's view of one TDI.
#[pin_data]
pub(crate) struct GuestTdi {
    pdev: PciFn,
    /// The routing id the TVM addresses it by: the vDEVICE's virt_id.
    virt_id: u32,
    transport: Arc<dyn Transport>,
    #[pin]
    inner: Mutex<Inner>,
}

impl GuestTdi {
    pub(crate) fn new(pdev: PciFn, transport: Arc<dyn Transport>) -> impl PinInit<Self> {
        let virt_id = pdev.routing_id();
        pin_init!(Self {
            pdev,
            virt_id,
            transport,
            inner <- new_mutex!(
                Inner { phase: Phase::Shared, lock: None, reason: None, policy: KVec::new() },
                "teeio_guest_tdi"
            ),
        })
    }

    fn dev(&self) -> &kernel::device::Device {
        self.pdev.device()
    }

    /// One guest request; its status and bytes.
    fn call(&self, op: u32, arg0: u64, arg1: u64, resp: &mut [u8]) -> Result<(i64, usize), Refused> {
        let class = match op {
            b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_MAP_MMIO
            | b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_ACCEPT_DMA
            | b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_START
            | b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_STOP => b::teeio_tsm_req_op_TEEIO_TSM_REQ_OP_STATE_CHANGE,
            _ => b::teeio_tsm_req_op_TEEIO_TSM_REQ_OP_INFO,
        };
        let req = b::teeio_tsm_guest_req {
            version: b::TEEIO_TSM_GUEST_REQ_VERSION as u8,
            op: op as u8,
            reserved: 0,
            tdi_id: self.virt_id,
            arg0,
            arg1,
        };
        match self.transport.request(self.virt_id, class, req.as_bytes(), resp) {
            Ok(reply) => Ok((reply.tsm_code, reply.len)),
            Err(e) => Err(refused(
                e,
                fmt!("guest request {} did not reach the TSM: {} (errno {})", op_name(op), not_relayed(e), e.to_errno()),
            )),
        }
    }

    /// A request that must succeed at the TSM too.
    fn call_ok(&self, op: u32, arg0: u64, arg1: u64, resp: &mut [u8]) -> Result<usize, Refused> {
        match self.call(op, arg0, arg1, resp)? {
            (0, n) => Ok(n),
            (code, _) => Err(refused(EIO, fmt!("{} refused by the TSM (status {})", op_name(op), code))),
        }
    }

    fn tdi_state(&self) -> Result<u8, Refused> {
        let mut out = [0u8; size_of::<b::teeio_tsm_guest_state>()];
        let n = self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_STATE, 0, 0, &mut out)?;
        if n != out.len() {
            return Err(refused(EIO, fmt!("GET_STATE answered {} bytes", n)));
        }
        Ok(out[0])
    }

    /// The function's memory BARs, as the TVM sees them.
    fn bars(&self) -> KVec<Bar> {
        let mut bars = KVec::new();
        for (index, start, len) in self.pdev.mem_bars() {
            // A BAR left out is reported as a range without a BAR.
            let _ = bars.push(Bar { index, start, len }, GFP_KERNEL);
        }
        bars
    }

    /// Sets the reason and logs the refusal.
    fn refuse(&self, g: &mut Inner, r: Refused) -> Error {
        dev_warn!(self.dev(), "TDISP guest: refused: {}\n", r.text());
        g.reason = r.1;
        r.0
    }

    /// Drops the lock context; the function is shared again.
    fn let_go(&self, g: &mut Inner) {
        if let Some(ctx) = g.lock.take() {
            if g.phase == Phase::Locked {
                self.pdev.set_driver_override(&ctx.saved_override);
            }
        }
        g.phase = Phase::Shared;
    }

    /// devsec lock.
    pub(crate) fn lock(&self) -> Result {
        let mut g = self.inner.lock();
        if g.phase != Phase::Shared {
            dev_info!(self.dev(), "TDISP guest: lock refused: {:?} already\n", g.phase);
            return Err(EBUSY);
        }
        match self.fetch() {
            Ok(ctx) => {
                dev_info!(
                    self.dev(),
                    "TDISP guest: locked: TDI {:#06x} CONFIG_LOCKED, interface report {} bytes, measurements {} bytes, MMIO reporting offset {:#x}\n",
                    self.virt_id,
                    ctx.report.len(),
                    ctx.measurements.len(),
                    ctx.evidence.mmio_reporting_offset
                );
                g.lock = Some(ctx);
                g.phase = Phase::Locked;
                g.reason = None;
                Ok(())
            }
            Err(r) => Err(self.refuse(&mut g, r)),
        }
    }

    fn fetch(&self) -> Result<LockContext, Refused> {
        if self.pdev.has_driver() {
            return Err(refused(EBUSY, fmt!("a driver is bound: unbind it before lock")));
        }
        match u32::from(self.tdi_state()?) {
            b::TEEIO_TDI_CONFIG_LOCKED => (),
            b::TEEIO_TDI_ERROR => return Err(refused(EIO, fmt!("the TDI is in ERROR"))),
            b::TEEIO_TDI_RUN => return Err(refused(EBUSY, fmt!("the TDI is RUN already"))),
            _ => return Err(refused(ENXIO, fmt!("the TDI is not bound to this TVM (CONFIG_UNLOCKED)"))),
        }
        let mut raw = [0u8; size_of::<b::teeio_tsm_guest_evidence>()];
        let n = self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_EVIDENCE, 0, 0, &mut raw)?;
        let evidence = b::teeio_tsm_guest_evidence::from_bytes_copy(&raw[..n])
            .ok_or_else(|| refused(EIO, fmt!("GET_EVIDENCE answered {} bytes", n)))?;
        let total = evidence.report_len as usize;
        if total == 0 || total > MAX_EVIDENCE {
            return Err(refused(EIO, fmt!("the TSM vouches for a report of {} bytes", total)));
        }
        let nomem = |_| refused(ENOMEM, fmt!("out of memory"));
        let mut report = KVec::new();
        report.resize(total, 0, GFP_KERNEL).map_err(nomem)?;
        let mut offset = 0;
        while offset < total {
            let want = (total - offset).min(REPORT_PORTION as usize);
            let got = self.call_ok(
                b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_REPORT,
                offset as u64,
                want as u64,
                &mut report[offset..offset + want],
            )?;
            if got == 0 {
                return Err(refused(EIO, fmt!("the interface report ended at {} of {} bytes", offset, total)));
            }
            offset += got;
        }
        let mut measurements = KVec::new();
        measurements.resize(MEASUREMENTS_ROOM, 0, GFP_KERNEL).map_err(nomem)?;
        let n = self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_MEASUREMENTS, 0, 0, &mut measurements)?;
        measurements.truncate(n);
        let mut saved_override = KVec::new();
        let mut name = [0u8; 64];
        if let Ok(len) = self.pdev.driver_override(&mut name) {
            saved_override.extend_from_slice(&name[..len], GFP_KERNEL).map_err(nomem)?;
        }
        self.pdev
            .set_driver_override(LOCKED_OVERRIDE.to_bytes())
            .then_some(())
            .ok_or_else(|| refused(EIO, fmt!("cannot keep drivers away (driver_override)")))?;
        // A driver that bound while the evidence was fetched is too late.
        if self.pdev.has_driver() {
            self.pdev.set_driver_override(&saved_override);
            return Err(refused(EBUSY, fmt!("a driver bound during lock: unbind it first")));
        }
        Ok(LockContext { evidence, report, measurements, saved_override })
    }

    /// accept: verify, then accept every range and DMA, then START.
    pub(crate) fn accept(&self) -> Result {
        let mut g = self.inner.lock();
        match g.phase {
            Phase::Locked => (),
            Phase::Accepted => {
                dev_info!(self.dev(), "TDISP guest: accept refused: accepted already\n");
                return Err(EBUSY);
            }
            Phase::Shared => {
                let r = refused(ENXIO, fmt!("not locked: write the TSM's name to lock first"));
                return Err(self.refuse(&mut g, r));
            }
        }
        let ranges = match self.verify(&g) {
            Ok(ranges) => ranges,
            Err(r) => {
                // Nothing private was mapped: the function stays shared.
                self.let_go(&mut g);
                return Err(self.refuse(&mut g, r));
            }
        };
        if let Err(r) = self.make_private(&ranges) {
            self.stop("accept failed");
            self.let_go(&mut g);
            return Err(self.refuse(&mut g, r));
        }
        if let Some(ctx) = g.lock.as_ref() {
            self.pdev.set_driver_override(&ctx.saved_override);
        }
        g.phase = Phase::Accepted;
        g.reason = None;
        let bound = self.pdev.attach_driver();
        dev_info!(
            self.dev(),
            "TDISP guest: accepted: {} MMIO ranges private, DMA accepted, RUN; {}\n",
            ranges.len(),
            if bound { "its driver bound" } else { "no driver bound yet" }
        );
        Ok(())
    }

    /// The checks; the report's ranges (address, length) when all pass.
    fn verify(&self, g: &Inner) -> Result<KVec<(u64, u64)>, Refused> {
        let ctx = g.lock.as_ref().ok_or_else(|| refused(ENXIO, fmt!("not locked")))?;
        let why = |r: Refusal| refused(EACCES, fmt!("{}", r));
        let vouched = Vouched {
            report_digest: &ctx.evidence.report_digest,
            report_len: ctx.evidence.report_len,
            measurements_digest: &ctx.evidence.measurements_digest,
        };
        accept::check_evidence(&vouched, ctx.report.len(), &sha384(&ctx.report), &sha384(&ctx.measurements))
            .map_err(why)?;
        let report = InterfaceReport::parse(&ctx.report).map_err(|e| why(Refusal::Report(e)))?;
        accept::check_report(&report, &self.bars()).map_err(why)?;
        accept::check_measurements(&ctx.measurements, &g.policy).map_err(why)?;
        let mut ranges = KVec::new();
        for r in report.ranges {
            ranges.push((r.first_page.get(), r.len()), GFP_KERNEL).map_err(|_| refused(ENOMEM, fmt!("out of memory")))?;
        }
        Ok(ranges)
    }

    fn make_private(&self, ranges: &[(u64, u64)]) -> Result<(), Refused> {
        for &(gpa, len) in ranges {
            self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_MAP_MMIO, gpa, len, &mut [])?;
        }
        self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_ACCEPT_DMA, 0, 0, &mut [])?;
        self.call_ok(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_START, 0, 0, &mut [])?;
        match u32::from(self.tdi_state()?) {
            b::TEEIO_TDI_RUN => Ok(()),
            other => Err(refused(EIO, fmt!("the TDI is in state {} after START_INTERFACE", other))),
        }
    }

    /// STOP_INTERFACE through the host; the host runs the ordered teardown.
    fn stop(&self, why: &str) {
        match self.call(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_STOP, 0, 0, &mut []) {
            Ok((0, _)) => dev_info!(self.dev(), "TDISP guest: TDI {:#06x} stopped ({})\n", self.virt_id, why),
            Ok((code, _)) => {
                dev_info!(self.dev(), "TDISP guest: STOP ({}): TSM status {}: stopped already\n", why, code)
            }
            Err(r) => dev_info!(self.dev(), "TDISP guest: STOP ({}): {}\n", why, r.text()),
        }
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.inner.lock().phase != Phase::Shared
    }

    /// devsec unlock: the driver goes, the TDI is stopped, the function is
    /// shared again.
    pub(crate) fn unlock(&self) {
        let mut g = self.inner.lock();
        if g.phase == Phase::Shared {
            return;
        }
        if g.phase == Phase::Accepted {
            self.pdev.release_driver();
        }
        self.stop("unlock");
        self.let_go(&mut g);
        dev_info!(self.dev(), "TDISP guest: unlocked: shared again\n");
    }

    /// The module goes: no STOP can be sent (no VMM holds the channel);
    /// the function is given back shared.
    pub(crate) fn shut_down(&self) {
        let mut g = self.inner.lock();
        if g.phase == Phase::Accepted {
            self.pdev.release_driver();
        }
        if g.phase != Phase::Shared {
            dev_warn!(self.dev(), "TDISP guest: unloaded while locked: no STOP could be sent (no VMM)\n");
        }
        self.let_go(&mut g);
    }

    fn show(&self, attr: u32, out: &mut Page<'_>) -> core::fmt::Result {
        let g = self.inner.lock();
        match attr {
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_ACCEPT => writeln!(out, "{}", u8::from(g.phase == Phase::Accepted)),
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_STATE => writeln!(
                out,
                "{}",
                match g.phase {
                    Phase::Shared => "shared",
                    Phase::Locked => "locked",
                    Phase::Accepted => "accepted",
                }
            ),
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_REASON => {
                writeln!(out, "{}", g.reason.as_ref().and_then(|r| r.to_str().ok()).unwrap_or(""))
            }
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_MEASUREMENTS => {
                let Some(ctx) = g.lock.as_ref() else { return Ok(()) };
                for block in MeasurementBlocks::of_record(&ctx.measurements).flatten() {
                    write!(out, "{} {:#04x} ", block.index, block.value_type)?;
                    block.value.iter().try_for_each(|byte| write!(out, "{:02x}", byte))?;
                    writeln!(out)?;
                }
                Ok(())
            }
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_POLICY => {
                for reference in g.policy.iter() {
                    write!(out, "{} ", reference.index)?;
                    reference.digest.iter().try_for_each(|byte| write!(out, "{:02x}", byte))?;
                    writeln!(out)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn store(&self, attr: u32, input: &[u8]) -> Result {
        match attr {
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_ACCEPT => match input {
                b"1" | b"1\n" => self.accept(),
                _ => {
                    dev_info!(self.dev(), "TDISP guest: accept takes 1 only\n");
                    Err(EINVAL)
                }
            },
            b::teeio_guest_attr_TEEIO_GUEST_ATTR_POLICY => self.set_policy(input),
            _ => Err(EINVAL),
        }
    }

    /// Replaces the reference values: one `INDEX HEX` per line.
    fn set_policy(&self, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let mut policy = KVec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if policy.len() == MAX_REFERENCE_VALUES {
                return Err(E2BIG);
            }
            let reference = accept::parse_reference_value(line).ok_or_else(|| {
                dev_info!(self.dev(), "TDISP guest: policy line refused: want INDEX and 96 hex digits\n");
                EINVAL
            })?;
            policy.push(reference, GFP_KERNEL)?;
        }
        dev_info!(self.dev(), "TDISP guest: measurement policy: {} reference values\n", policy.len());
        self.inner.lock().policy = policy;
        Ok(())
    }
}

/// Why a request did not reach the TSM, in words.
fn not_relayed(e: Error) -> &'static str {
    match e {
        e if e == ENOTCONN => "no VMM services the channel",
        e if e == ETIMEDOUT => "the VMM did not answer in time",
        e if e == ECONNRESET => "the VMM closed the channel",
        e if e == ENODEV => "the VMM has no vDEVICE for this TDI",
        e if e == EACCES => "the host refused it: relayed for another TDI",
        e if e == ENXIO => "the host has no binding for this TDI",
        e if e == EINTR => "interrupted",
        _ => "the host refused it",
    }
}

fn op_name(op: u32) -> &'static str {
    match op {
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_REPORT => "GET_REPORT",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_STATE => "GET_STATE",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_MEASUREMENTS => "GET_MEASUREMENTS",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_MAP_MMIO => "MAP_MMIO",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_ACCEPT_DMA => "ACCEPT_DMA",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_START => "START_INTERFACE",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_STOP => "STOP_INTERFACE",
        b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_GET_EVIDENCE => "GET_EVIDENCE",
        _ => "?",
    }
}

/// A sysfs page being written.
struct Page<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).filter(|&e| e <= self.buf.len()).ok_or(core::fmt::Error)?;
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

// The sysfs and devsec entry points (guest_edge.c).

/// # Safety
///
/// `tdi` is a live `GuestTdi` of the module.
unsafe fn tdi_ref<'a>(tdi: *mut c_void) -> &'a GuestTdi {
    // SAFETY: per the contract.
    unsafe { &*tdi.cast::<GuestTdi>() }
}

/// # Safety
///
/// `tdi` is a live `GuestTdi` of the module.
#[no_mangle]
unsafe extern "C" fn teeio_guest_tdi_lock(tdi: *mut c_void) -> i32 {
    // SAFETY: per the contract.
    match unsafe { tdi_ref(tdi) }.lock() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// `tdi` is a live `GuestTdi` of the module.
#[no_mangle]
unsafe extern "C" fn teeio_guest_tdi_is_locked(tdi: *mut c_void) -> bool {
    // SAFETY: per the contract.
    unsafe { tdi_ref(tdi) }.is_locked()
}

/// # Safety
///
/// `tdi` is a live `GuestTdi` of the module.
#[no_mangle]
unsafe extern "C" fn teeio_guest_tdi_unlock(tdi: *mut c_void) {
    // SAFETY: per the contract.
    unsafe { tdi_ref(tdi) }.unlock()
}

/// # Safety
///
/// `tdi` is a live `GuestTdi`; `buf` a sysfs page (PAGE_SIZE bytes).
#[no_mangle]
unsafe extern "C" fn teeio_guest_tdi_show(tdi: *mut c_void, attr: u32, buf: *mut c_char) -> isize {
    // SAFETY: sysfs passes a page-sized buffer.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
    let mut page = Page { buf, len: 0 };
    // A page holds every attribute; a full page ends the text early.
    // SAFETY: per the contract.
    let _ = unsafe { tdi_ref(tdi) }.show(attr, &mut page);
    page.len as isize
}

/// # Safety
///
/// `tdi` is a live `GuestTdi`; `buf` holds `len` bytes.
#[no_mangle]
unsafe extern "C" fn teeio_guest_tdi_store(tdi: *mut c_void, attr: u32, buf: *const c_char, len: usize) -> isize {
    // SAFETY: sysfs passes `len` readable bytes.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    // SAFETY: per the contract.
    match unsafe { tdi_ref(tdi) }.store(attr, input) {
        Ok(()) => len as isize,
        Err(e) => e.to_errno() as isize,
    }
}
