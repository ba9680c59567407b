// SPDX-License-Identifier: GPL-2.0

//! The whole host flow for one device, step by step, each result checked:
//! connect, assignment, TSM bind, the guest's requests up to RUN, the
//! guest's STOP and its vEVENTQ record, teardown, disconnect; and the
//! private MMIO flow through teeio-vfio-pci: dma-buf export, hand-over to
//! the VM, accept and map, revoke and recover in the unbind.

use crate::error::{Error, Result};
use crate::events::TdiEvent;
use crate::session::{EventKind, Options, Req, Session, Step, Target};
use crate::sysfs::Bdf;
use crate::tsm_req::{GuestState, TdiState};

/// Fails unless the step left the TDI in `want`.
fn expect_tdi(step: &str, got: Option<TdiState>, want: TdiState) -> Result<()> {
    match got {
        Some(s) if s == want => Ok(()),
        Some(s) => Err(Error::Invalid(format!("after {step}: TDI {s}, expected {want}"))),
        None => Err(Error::Invalid(format!("after {step}: no TDI state (vDEVICE not bound), expected {want}"))),
    }
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

    let done = s.exec(Step::Bind { id: None })?;
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
    let done = s.exec(Step::Events { timeout_ms: 2000, expect: Some(EventKind::StoppedByGuest) })?;
    if done.events.iter().any(|e| e.event != TdiEvent::StoppedByGuest) {
        return Err(Error::Invalid("records other than STOPPED_BY_GUEST".into()));
    }
    // The record comes after the ordered teardown; the vDEVICE stays bound
    // until the VMM finishes with a TSM unbind.
    let done = s.exec(Step::Info { id: None })?;
    if !done.info.is_some_and(|i| i.bound() && i.torn_down()) {
        return Err(Error::Invalid("after STOPPED_BY_GUEST the vDEVICE is not bound and torn down".into()));
    }
    s.exec(Step::Unbind { id: None })?;
    let done = s.exec(Step::Info { id: None })?;
    if done.info.is_some_and(|i| i.bound()) {
        return Err(Error::Invalid("the vDEVICE is still bound after TSM unbind".into()));
    }
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
    let done = s.exec(Step::Bind { id: None })?;
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
    let done = s.exec(Step::Bind { id: None })?;
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
pub fn run_private_mmio(mut opts: Options, bdf: &Bdf, virt_id: u64) -> Result<()> {
    opts.vfio_driver = crate::sysfs::TEEIO_VFIO_PCI.into();
    let mut s = Session::new(opts);
    s.exec(Step::Connect { bdf: bdf.clone() })?;
    let flow = private_mmio_assigned(&mut s, bdf, virt_id);
    // The device goes back to its driver before the disconnect.
    s.close();
    let disconnected = s.exec(Step::Disconnect { bdf: bdf.clone() });
    flow?;
    disconnected.map(|_| ())
}
