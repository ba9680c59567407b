// SPDX-License-Identifier: GPL-2.0

//! The whole host flow for one device, step by step, each result checked:
//! connect, assignment, TSM bind, the guest's requests up to RUN, the
//! guest's STOP and its vEVENTQ record, teardown, disconnect; and the
//! private MMIO flow through teeio-vfio-pci: dma-buf export, hand-over to
//! the VM, accept and map, revoke and recover in the unbind; and the flow
//! with the guest TDISP driver, whose lock, accept and unlock the VMM
//! relays from the guest channel.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::events::TdiEvent;
use crate::extension::TSM_RESP_MAX;
use crate::guest_channel::{GuestChannel, RelayThread, Relayed};
use crate::session::{say, EventKind, Options, Req, Session, Step, Target};
use crate::sysfs::{self, Bdf, GuestTdiState, Reference, Sysfs, TsmGuest, GUEST_TSM_DEVICE};
use crate::tsm_req::{hex, Evidence, GuestOp, GuestState, TdiState};

/// Fails unless the step left the TDI in `want`.
fn expect_tdi(step: &str, got: Option<TdiState>, want: TdiState) -> Result<()> {
    match got {
        Some(s) if s == want => Ok(()),
        Some(s) => Err(Error::Invalid(format!("after {step}: TDI {s}, expected {want}"))),
        None => Err(Error::Invalid(format!("after {step}: no TDI state (vDEVICE not bound), expected {want}"))),
    }
}

/// After the guest's STOP: the VMM reads STOPPED_BY_GUEST (sent once the
/// ordered teardown ran), finds the vDEVICE still bound and torn down, and
/// ends the binding with a TSM unbind.
fn unbind_after_guest_stop(s: &mut Session) -> Result<()> {
    let done = s.exec(Step::Events { timeout_ms: 2000, expect: Some(EventKind::StoppedByGuest) })?;
    if done.events.iter().any(|e| e.event != TdiEvent::StoppedByGuest) {
        return Err(Error::Invalid("records other than STOPPED_BY_GUEST".into()));
    }
    let done = s.exec(Step::Info { id: None })?;
    if !done.info.is_some_and(|i| i.bound() && i.torn_down()) {
        return Err(Error::Invalid("after STOPPED_BY_GUEST the vDEVICE is not bound and torn down".into()));
    }
    s.exec(Step::Unbind { id: None })?;
    let done = s.exec(Step::Info { id: None })?;
    if done.info.is_some_and(|i| i.bound()) {
        return Err(Error::Invalid("the vDEVICE is still bound after TSM unbind".into()));
    }
    Ok(())
}

fn req(req: Req) -> Step {
    Step::Req { id: None, req }
}

/// The flow after connect; the caller disconnects whatever happens.
fn assigned(s: &mut Session, bdf: &Bdf, virt_id: u64) -> Result<()> {
    s.open()?;
    s.vfio(bdf)?;
    s.exec(Step::Vm)?;
    s.exec(Step::Viommu)?;
    s.exec(Step::Veventq { depth: 16 })?;
    s.exec(Step::Vdevice { bdf: bdf.clone(), virt_id })?;

    let done = s.exec(Step::Bind { id: None, mmio_offset: 0 })?;
    expect_tdi("bind", done.tdi, TdiState::ConfigLocked)?;
    let done = s.exec(req(Req::State))?;
    expect_tdi("req state", done.tdi, TdiState::ConfigLocked)?;
    let done = s.exec(req(Req::Report { offset: 0, len: crate::extension::TSM_RESP_MAX as u64 }))?;
    if done.payload.is_empty() {
        return Err(Error::Invalid("the interface report is empty".into()));
    }
    let done = s.exec(req(Req::Measurements))?;
    if done.payload.is_empty() {
        return Err(Error::Invalid("the measurement record is empty".into()));
    }
    // The emulated TSM starts a TDI only once every report range is
    // accepted; the host bridge offers each at its report address.
    s.exec(req(Req::MapMmio { gpa: None, len: None }))?;
    s.exec(req(Req::AcceptDma))?;
    let done = s.exec(req(Req::Start))?;
    expect_tdi("req start", done.tdi, TdiState::Run)?;
    let done = s.exec(req(Req::State))?;
    match done.state {
        Some(GuestState { tdi_state: TdiState::Run, dma_accepted: true, mmio_ranges, mmio_mapped })
            if mmio_ranges > 0 && mmio_mapped == mmio_ranges => {}
        other => return Err(Error::Invalid(format!("after start: {other:?}, expected RUN with all accepted"))),
    }

    s.exec(req(Req::Stop))?;
    unbind_after_guest_stop(s)?;
    let e = s.exec_failing(Step::Unbind { id: None })?;
    if e.errno() != Some(rustix::io::Errno::NXIO.raw_os_error()) {
        return Err(Error::Invalid(format!("unbind of an unbound vDEVICE: {e}, expected ENXIO")));
    }

    s.exec(Step::Destroy { target: Target::Vdevice })?;
    s.exec(Step::Destroy { target: Target::Veventq })?;
    s.exec(Step::Destroy { target: Target::Viommu })?;
    s.exec(Step::Close)?;
    Ok(())
}

/// Runs the lifecycle of `bdf` as TDI `virt_id`.
pub fn run(opts: Options, bdf: &Bdf, virt_id: u64) -> Result<()> {
    let mut s = Session::new(opts);
    s.exec(Step::Connect { bdf: bdf.clone() })?;
    let flow = assigned(&mut s, bdf, virt_id);
    if flow.is_err() {
        // Leave the device as it was found: files closed, driver back.
        s.close();
    }
    let disconnected = s.exec(Step::Disconnect { bdf: bdf.clone() });
    flow?;
    disconnected.map(|_| ())
}

/// The private MMIO flow after connect, the device on teeio-vfio-pci.
fn private_mmio_assigned(s: &mut Session, bdf: &Bdf, virt_id: u64) -> Result<()> {
    s.open()?;
    s.vfio(bdf)?;
    s.exec(Step::Vm)?;
    s.exec(Step::Viommu)?;
    s.exec(Step::Vdevice { bdf: bdf.clone(), virt_id })?;
    let done = s.exec(Step::Bind { id: None, mmio_offset: 0 })?;
    expect_tdi("bind", done.tdi, TdiState::ConfigLocked)?;
    s.exec(Step::PrivateMmio { id: None })?;
    s.exec(req(Req::MapMmio { gpa: None, len: None }))?;
    s.exec(req(Req::AcceptDma))?;
    let done = s.exec(req(Req::Start))?;
    expect_tdi("req start", done.tdi, TdiState::Run)?;
    // The ordered teardown: dma-bufs revoked (the secure stage-2 unmaps
    // them), TDI stopped and freed, dma-bufs recovered.
    s.exec(Step::Unbind { id: None })?;
    // Shared again: a second bind takes new dma-bufs.
    let done = s.exec(Step::Bind { id: None, mmio_offset: 0 })?;
    expect_tdi("bind again", done.tdi, TdiState::ConfigLocked)?;
    s.exec(Step::PrivateMmio { id: None })?;
    s.exec(Step::Unbind { id: None })?;
    s.exec(Step::Destroy { target: Target::Vdevice })?;
    s.exec(Step::Destroy { target: Target::Viommu })?;
    s.exec(Step::Close)?;
    Ok(())
}

/// Runs the private MMIO flow of `bdf` as TDI `virt_id` through
/// teeio-vfio-pci.
pub fn run_private_mmio(opts: Options, bdf: &Bdf, virt_id: u64) -> Result<()> {
    through_variant_driver(opts, bdf, |s| private_mmio_assigned(s, bdf, virt_id))
}

/// Connects `host`, runs `flow` with the device on teeio-vfio-pci, then
/// gives the device back to its driver and disconnects it, also when the
/// flow failed.
fn through_variant_driver(mut opts: Options, host: &Bdf, flow: impl FnOnce(&mut Session) -> Result<()>) -> Result<()> {
    opts.vfio_driver = sysfs::TEEIO_VFIO_PCI.into();
    let mut s = Session::new(opts);
    s.exec(Step::Connect { bdf: host.clone() })?;
    let flow = flow(&mut s);
    s.close();
    let disconnected = s.exec(Step::Disconnect { bdf: host.clone() });
    flow?;
    disconnected.map(|_| ())
}

/// How long the guest's device may take to reach its driver once accepted.
const DRIVER_PROBE_WAIT: Duration = Duration::from_secs(2);

/// The MMIO reporting offset that puts the host device's BAR 0 where the
/// guest sees its device's BAR 0.
fn mmio_offset(sysfs: &Sysfs, host: &Bdf, guest: &Bdf) -> Result<u64> {
    let (host_bar, guest_bar) = (sysfs.memory_bar(host, 0)?, sysfs.memory_bar(guest, 0)?);
    let offset = guest_bar.wrapping_sub(host_bar);
    let what = format!("MMIO reporting offset: {guest} BAR 0 {guest_bar:#x} - {host} BAR 0 {host_bar:#x}");
    if offset % 4096 != 0 {
        say("vmm", what, format_args!("{offset:#x}: FAILED, not 4 KiB aligned"));
        return Err(Error::Invalid(format!("MMIO reporting offset {offset:#x} is not 4 KiB aligned")));
    }
    say("vmm", what, format_args!("{offset:#x}"));
    Ok(offset)
}

/// Gives the guest's device vfio-pci, standing in for its driver in the
/// TVM, when it has no driver; whether driver_override was set.
fn guest_driver_override(sysfs: &Sysfs, guest: &Bdf) -> Result<bool> {
    let what = format!("{guest}: its driver once accepted");
    match sysfs.driver(guest)? {
        Some(driver) => {
            say("guest", what, format_args!("{driver} (bound already)"));
            Ok(false)
        }
        None => {
            sysfs.set_driver_override(guest, Some(sysfs::VFIO_PCI))?;
            say("guest", what, format_args!("driver_override {}", sysfs::VFIO_PCI));
            Ok(true)
        }
    }
}

/// The driver of `bdf` once one binds, waiting up to `timeout`.
fn wait_driver(sysfs: &Sysfs, bdf: &Bdf, timeout: Duration) -> Result<Option<String>> {
    let start = Instant::now();
    loop {
        let driver = sysfs.driver(bdf)?;
        if driver.is_some() || start.elapsed() >= timeout {
            return Ok(driver);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One write to the guest driver's directory, which must leave the device
/// in `want`; prints it with the TDI state the host sees.
fn guest_write(
    s: &Session,
    g: &TsmGuest,
    what: String,
    write: impl FnOnce() -> Result<()>,
    want: GuestTdiState,
) -> Result<()> {
    let tdi = |text: String| match s.tdi_summary() {
        Some(t) => format!("{text}; {t}"),
        None => text,
    };
    if let Err(e) = write() {
        let reason = g.reason().ok().flatten().map_or(String::new(), |r| format!(" (reason: {r})"));
        say("guest", what, tdi(format!("FAILED: {e}{reason}")));
        return Err(Error::Invalid(format!("guest: {e}{reason}")));
    }
    let state = g.state()?;
    say("guest", what, tdi(format!("state {state}")));
    if state != want {
        return Err(Error::Invalid(format!("guest: state {state}, expected {want}")));
    }
    Ok(())
}

/// The guest's side while a relay thread answers its requests: its
/// device's driver, lock to unlock, the device given back as it was found.
fn guest_tdi(s: &Session, sysfs: &Sysfs, guest: &Bdf) -> Result<()> {
    let overridden = guest_driver_override(sysfs, guest)?;
    let flow = guest_lock_to_unlock(s, sysfs, guest, overridden);
    if overridden {
        let what = format!("{guest}: clear driver_override, unbind, drivers_probe");
        match sysfs.release(guest) {
            Ok(now) => say("guest", what, format_args!("driver {}", now.as_deref().unwrap_or("none"))),
            Err(e) => say("guest", what, format_args!("FAILED: {e}")),
        }
    }
    flow
}

/// Lock to unlock; a device left locked is unlocked.
fn guest_lock_to_unlock(s: &Session, sysfs: &Sysfs, guest: &Bdf, overridden: bool) -> Result<()> {
    let tsm = sysfs.guest_tsm()?;
    say("guest", format_args!("TSM of {GUEST_TSM_DEVICE}"), &tsm);
    let g = sysfs.tsm_guest(guest);
    let dir = g.dir().display().to_string();
    let flow = guest_write(s, &g, format!("echo {tsm} > {dir}/lock"), || g.lock(&tsm), GuestTdiState::Locked)
        .and_then(|()| guest_locked(s, sysfs, &g, guest, &tsm, overridden));
    if flow.is_err() && g.state().is_ok_and(|state| state != GuestTdiState::Shared) {
        let _ = guest_write(s, &g, format!("echo {tsm} > {dir}/unlock"), || g.unlock(&tsm), GuestTdiState::Shared);
    }
    flow
}

/// The guest's side once locked: reference values, accept, the checks of
/// an accepted device, unlock.
fn guest_locked(s: &Session, sysfs: &Sysfs, g: &TsmGuest, guest: &Bdf, tsm: &str, overridden: bool) -> Result<()> {
    let dir = g.dir().display().to_string();
    if g.locked_by()?.as_deref() != Some(tsm) {
        return Err(Error::Invalid(format!("guest: {dir}/lock does not name {tsm}")));
    }
    let measurements = g.measurements()?;
    let blocks: Vec<String> = measurements
        .iter()
        .map(|m| format!("{} {} {}..", m.index, m.kind, hex(&m.value[..m.value.len().min(8)])))
        .collect();
    say(
        "guest",
        format_args!("cat {dir}/measurements"),
        format_args!("{} blocks: {}", blocks.len(), blocks.join(", ")),
    );
    if measurements.is_empty() {
        return Err(Error::Invalid("guest: no measurements once locked".into()));
    }
    let refs: Vec<Reference> = measurements.iter().map(Reference::from).collect();
    g.set_policy(&refs)?;
    if g.policy()? != refs {
        return Err(Error::Invalid(format!("guest: {dir}/policy does not read back as written")));
    }
    println!("[guest] reference values provisioned: trust on first use, demo only");

    guest_write(s, g, format!("echo 1 > {dir}/accept"), || g.accept(), GuestTdiState::Accepted)?;
    if !g.accepted()? {
        return Err(Error::Invalid(format!("guest: {dir}/accept reads 0 once accepted")));
    }
    let state = s.guest_state(None)?;
    say("vmm", "GET_STATE", state);
    match state {
        GuestState { tdi_state: TdiState::Run, dma_accepted: true, mmio_ranges, mmio_mapped }
            if mmio_ranges > 0 && mmio_mapped == mmio_ranges => {}
        other => return Err(Error::Invalid(format!("after accept: {other}, expected RUN with all accepted"))),
    }
    let driver = wait_driver(sysfs, guest, DRIVER_PROBE_WAIT)?;
    say("guest", format_args!("{guest}: driver"), driver.as_deref().unwrap_or("none"));
    match driver {
        Some(d) if !overridden || d == sysfs::VFIO_PCI => {}
        other => {
            return Err(Error::Invalid(format!(
                "guest: {guest} accepted, driver {}, expected {}",
                other.as_deref().unwrap_or("none"),
                if overridden { sysfs::VFIO_PCI } else { "one" }
            )))
        }
    }

    guest_write(s, g, format!("echo {tsm} > {dir}/unlock"), || g.unlock(tsm), GuestTdiState::Shared)
}

/// Fails unless the guest started and stopped its TDI and every exit up to
/// its STOP succeeded; what follows the teardown is not checked.
fn check_relayed(relayed: &[Relayed]) -> Result<()> {
    let stop = relayed.iter().rposition(|r| r.guest_op() == Some(GuestOp::Stop));
    let Some(stop) = stop else {
        return Err(Error::Invalid("the guest's STOP was not relayed".into()));
    };
    if let Some(bad) = relayed[..=stop].iter().find(|r| !r.ok()) {
        return Err(Error::Invalid(format!("{bad}")));
    }
    if !relayed[..stop].iter().any(|r| r.guest_op() == Some(GuestOp::Start)) {
        return Err(Error::Invalid("the guest's START was not relayed".into()));
    }
    Ok(())
}

/// The guest flow after connect, the host device on teeio-vfio-pci.
fn guest_assigned(s: &mut Session, host: &Bdf, guest: &Bdf) -> Result<()> {
    let sysfs = s.options().sysfs.clone();
    let virt_id = u64::from(guest.routing_id());
    let offset = mmio_offset(&sysfs, host, guest)?;
    s.open()?;
    s.vfio(host)?;
    s.exec(Step::Vm)?;
    s.exec(Step::Viommu)?;
    s.exec(Step::Veventq { depth: 16 })?;
    s.exec(Step::Vdevice { bdf: host.clone(), virt_id })?;
    let done = s.exec(Step::Bind { id: None, mmio_offset: offset })?;
    expect_tdi("bind", done.tdi, TdiState::ConfigLocked)?;
    let evidence = Evidence::parse(&s.request(None, &Req::Evidence)?.payload)?;
    say("tsm", format_args!("TDI {virt_id:#x} locked, its evidence (GET_EVIDENCE by the VMM)"), evidence);
    if evidence.mmio_reporting_offset != offset {
        return Err(Error::Invalid(format!("the TSM's evidence does not show MMIO reporting offset {offset:#x}")));
    }
    let report = s.request(None, &Req::Report { offset: 0, len: TSM_RESP_MAX as u64 })?;
    say("dsm", "TDISP interface report (GET_REPORT by the VMM)", report.text);
    s.exec(Step::PrivateMmio { id: None })?;

    let channel = GuestChannel::open(&s.options().guest_channel)?;
    let relay = RelayThread::spawn(channel, s.relay()?, |r| println!("[vmm] {r}"))?;
    say("vmm", format_args!("open {}, relay thread", s.options().guest_channel.display()), "started");
    let guest_side = guest_tdi(s, &sysfs, guest);
    let relayed = relay.stop();
    let summary = match &relayed {
        Ok(log) => format!("{} exits relayed", log.len()),
        Err(e) => format!("FAILED: {e}"),
    };
    say("vmm", "stop the relay thread", summary);
    guest_side?;
    check_relayed(&relayed?)?;

    unbind_after_guest_stop(s)?;
    s.exec(Step::Destroy { target: Target::Vdevice })?;
    s.exec(Step::Destroy { target: Target::Veventq })?;
    s.exec(Step::Destroy { target: Target::Viommu })?;
    s.exec(Step::Close)?;
    Ok(())
}

/// Runs the flow of the host device `host` assigned to a TVM that sees it
/// as `guest`, whose guest TDISP driver locks, accepts and unlocks it:
/// the host's steps, the TVM's through its driver's sysfs files, and the
/// VMM relaying the TVM's requests from the guest channel.
pub fn run_guest(opts: Options, host: &Bdf, guest: &Bdf) -> Result<()> {
    through_variant_driver(opts, host, |s| guest_assigned(s, host, guest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::TsmReply;
    use crate::guest_channel::Outcome;

    fn relayed(op: GuestOp, tsm_code: u64) -> Relayed {
        Relayed {
            sequence: 0,
            virt_id: 0x300,
            op: Some(op.raw()),
            outcome: Outcome::Reached(TsmReply { tsm_code, resp_len: 0 }),
        }
    }

    #[test]
    fn relayed_exits_checked_up_to_the_stop() {
        let ok = |op| relayed(op, 0);
        let flow = [GuestOp::GetState, GuestOp::GetEvidence, GuestOp::Start, GuestOp::Stop].map(ok);
        assert!(check_relayed(&flow).is_ok());
        // After the teardown a refused request is the guest's business.
        assert!(check_relayed(&[&flow[..], &[relayed(GuestOp::GetState, -10i64 as u64)]].concat()).is_ok());
        assert!(check_relayed(&flow[..3]).is_err(), "no STOP");
        assert!(check_relayed(&[ok(GuestOp::GetState), ok(GuestOp::Stop)]).is_err(), "no START");
        let refused = Relayed { outcome: Outcome::Refused(rustix::io::Errno::NODEV), ..ok(GuestOp::GetReport) };
        let e = check_relayed(&[refused, ok(GuestOp::Start), ok(GuestOp::Stop)]).expect_err("refused");
        assert_eq!(e.to_string(), "relayed guest GET_REPORT for virt_id 0x300: refused: ENODEV (errno 19)");
    }
}
