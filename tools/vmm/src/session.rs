// SPDX-License-Identifier: GPL-2.0

//! A VMM session: the steps of confidential device assignment run one by
//! one against the files the session keeps open.
//!
//! Extension objects live only while the extension file is open, so the
//! session holds it, the iommufd, the VM file, the VFIO cdevs and the last
//! ids, and each step acts on the last object of its kind unless told an
//! id. A script has one step per line in the grammar of the CLI's
//! subcommands; `#` starts a comment; a line starting with `!` must fail.

use core::fmt;
use core::str::FromStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::events::{Event, EventQueue, TdiEvent};
use crate::extension::{self, Extension, VdeviceInfo, TSM_RESP_MAX};
use crate::guest_channel::{self, ExtensionVdevices, GuestChannel, Relay};
use crate::sysfs::{self, Bdf, Sysfs};
use crate::tsm_req::{
    self, Evidence, GuestOp, GuestRequest, GuestState, TdiState, GUEST_EVIDENCE_LEN, GUEST_STATE_LEN,
};
use crate::vfio::{self, VfioDevice};

/// Where a session finds its devices and files.
#[derive(Clone, Debug)]
pub struct Options {
    /// The extension's device.
    pub extension: PathBuf,
    /// IOMMUFD's device.
    pub iommu: PathBuf,
    /// The TSM devices connect to.
    pub tsm: String,
    /// sysfs.
    pub sysfs: Sysfs,
    /// The VFIO driver devices are moved to (vfio-pci, teeio-vfio-pci).
    pub vfio_driver: String,
    /// The guest TDISP channel's device.
    pub guest_channel: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            extension: extension::DEFAULT_PATH.into(),
            vfio_driver: sysfs::VFIO_PCI.into(),
            iommu: vfio::IOMMU_PATH.into(),
            tsm: sysfs::DEFAULT_TSM.into(),
            sysfs: Sysfs::default(),
            guest_channel: guest_channel::DEFAULT_PATH.into(),
        }
    }
}

/// Parses a decimal or `0x` hexadecimal number.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("'{s}': {e}"))
}

/// Parses a decimal or `0x` hexadecimal 32-bit number.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    u32::try_from(parse_u64(s)?).map_err(|_| format!("'{s}' does not fit 32 bits"))
}

/// The object a `destroy` step names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An id.
    Id(u32),
    /// The session's last vDEVICE.
    Vdevice,
    /// The session's vEVENTQ.
    Veventq,
    /// The session's vIOMMU.
    Viommu,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vdevice" => Ok(Target::Vdevice),
            "veventq" => Ok(Target::Veventq),
            "viommu" => Ok(Target::Viommu),
            _ => parse_u32(s).map(Target::Id).map_err(|e| format!("{e} (an id, vdevice, veventq or viommu)")),
        }
    }
}

/// A vEVENTQ record kind an `events` step may expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EventKind {
    Error,
    UnboundByHost,
    StoppedByGuest,
}

impl EventKind {
    fn event(self) -> TdiEvent {
        match self {
            EventKind::Error => TdiEvent::Error,
            EventKind::UnboundByHost => TdiEvent::UnboundByHost,
            EventKind::StoppedByGuest => TdiEvent::StoppedByGuest,
        }
    }
}

/// One step, as a CLI subcommand or a session line.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Step {
    /// Connect a device to the TSM: SPDM, then a secure IDE stream (sysfs tsm/connect)
    Connect {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
    },
    /// Disconnect a device from the TSM (sysfs tsm/disconnect)
    Disconnect {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
    },
    /// Show a device's PCI/TSM state and driver
    Status {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
    },
    /// Create an emulated confidential VM (TEEIO_IOMMUFD_EMU_VM_CREATE)
    Vm,
    /// Allocate a confidential vIOMMU for the VM
    Viommu,
    /// Allocate the vIOMMU's TDI event queue
    Veventq {
        /// Records kept before the oldest are dropped
        #[arg(long, default_value_t = 64)]
        depth: u32,
    },
    /// Assign a device: bind it to vfio-pci if needed, bind its VFIO cdev to the iommufd, allocate a vDEVICE
    Vdevice {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
        /// The device's ID in the VM (virtual BDF, the TDI id)
        #[arg(long, default_value = "0x10", value_parser = parse_u64)]
        virt_id: u64,
    },
    /// Bind the vDEVICE's TDI to the VM (TSM BIND: LOCK_INTERFACE, CONFIG_LOCKED)
    Bind {
        /// The vDEVICE; the last one by default
        #[arg(long, value_parser = parse_u32)]
        id: Option<u32>,
        /// Where the VM sees the TDI's MMIO relative to the host (4 KiB aligned): offered and reported there
        #[arg(long, value_name = "OFFSET", default_value = "0", value_parser = parse_u64)]
        mmio_offset: u64,
    },
    /// Unbind the vDEVICE's TDI (TSM UNBIND: the ordered teardown)
    Unbind {
        /// The vDEVICE; the last one by default
        #[arg(long, value_parser = parse_u32)]
        id: Option<u32>,
    },
    /// Relay a guest request for the vDEVICE's TDI (TEEIO_IOMMUFD_VDEVICE_TSM_REQ)
    Req {
        /// The vDEVICE; the last one by default
        #[arg(long, value_parser = parse_u32)]
        id: Option<u32>,
        #[command(subcommand)]
        req: Req,
    },
    /// Read the vEVENTQ's records, waiting for at least one
    Events {
        /// How long to wait for the first record
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
        /// Fail unless a record of this kind is read
        #[arg(long, value_enum)]
        expect: Option<EventKind>,
    },
    /// Show a vDEVICE (TEEIO_IOMMUFD_VDEVICE_INFO)
    Info {
        /// The vDEVICE; the last one by default
        #[arg(long, value_parser = parse_u32)]
        id: Option<u32>,
    },
    /// Export each MMIO range of the bound TDI as a dma-buf (teeio-vfio-pci) and hand it to the VM as private MMIO
    PrivateMmio {
        /// The vDEVICE; the last one by default
        #[arg(long, value_parser = parse_u32)]
        id: Option<u32>,
    },
    /// Relay the guest TDISP driver's requests (/dev/teeio-tdisp-guest) to the session's vDEVICEs, in the foreground
    GuestRelay {
        /// Stop after this many exits
        #[arg(long, value_parser = parse_u32)]
        exits: Option<u32>,
        /// Stop when no exit came for this long
        #[arg(long, default_value_t = 10000)]
        idle_ms: u64,
    },
    /// Destroy an object: an id, or the session's vdevice, veventq or viommu
    Destroy { target: Target },
    /// Close every file of the session; the extension destroys what is left
    Close,
}

/// A guest request.
#[derive(Clone, Debug, PartialEq, Eq, Subcommand)]
pub enum Req {
    /// GET_STATE: the TDI's state and what the TVM accepted
    State,
    /// GET_REPORT: the TDISP interface report
    Report {
        /// First byte
        #[arg(long, default_value_t = 0, value_parser = parse_u64)]
        offset: u64,
        /// Bytes asked for (at most 65536 are received)
        #[arg(long, default_value_t = TSM_RESP_MAX as u64, value_parser = parse_u64)]
        len: u64,
    },
    /// GET_MEASUREMENTS: the device's SPDM measurement record
    Measurements,
    /// GET_EVIDENCE: the TSM's digests of the report, measurements and certificates, and the MMIO reporting offset
    Evidence,
    /// MAP_MMIO: accept one range, or without arguments every range of the report at its report address
    MapMmio {
        /// Guest physical address
        #[arg(value_parser = parse_u64, requires = "len")]
        gpa: Option<u64>,
        /// Bytes
        #[arg(value_parser = parse_u64)]
        len: Option<u64>,
    },
    /// ACCEPT_DMA: let the TDI DMA to private memory
    AcceptDma,
    /// START: START_INTERFACE, to RUN
    Start,
    /// STOP: STOP_INTERFACE by the guest
    Stop,
}

impl Step {
    /// Who acts in the step.
    fn actor(&self) -> &'static str {
        match self {
            Step::Connect { .. } | Step::Disconnect { .. } | Step::Status { .. } => "host",
            Step::Req { .. } => "guest",
            _ => "vmm",
        }
    }
}

/// A script line's parser: the step grammar without a program name.
#[derive(Debug, Parser)]
#[command(name = "step", no_binary_name = true, disable_version_flag = true)]
struct LineParser {
    #[command(subcommand)]
    step: Step,
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Line number, from 1; 0 for a step not read from a script.
    pub number: usize,
    /// Whether the step must fail.
    pub expect_failure: bool,
    /// The step.
    pub step: Step,
}

impl Line {
    /// A step not read from a script, which must succeed.
    pub fn new(step: Step) -> Self {
        Self { number: 0, expect_failure: false, step }
    }
}

/// Parses one script line; `None` for blank and comment lines.
pub fn parse_line(number: usize, text: &str) -> Result<Option<Line>> {
    let text = text.split_once('#').map_or(text, |(code, _)| code).trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (expect_failure, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let parsed = LineParser::try_parse_from(text.split_whitespace()).map_err(|e| {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or("invalid step").trim_start_matches("error: ");
        Error::Invalid(format!("line {number}: {first}"))
    })?;
    Ok(Some(Line { number, expect_failure, step: parsed.step }))
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    for (i, t) in text.lines().enumerate() {
        if let Some(line) = parse_line(i + 1, t)? {
            lines.push(line);
        }
    }
    Ok(lines)
}

/// What a step did.
#[derive(Debug, Default)]
pub struct Done {
    /// A one-line account.
    pub text: String,
    /// The id of the object the step made.
    pub id: Option<u32>,
    /// The TDI's state after the step, when the vDEVICE is bound.
    pub tdi: Option<TdiState>,
    /// A GET_STATE response.
    pub state: Option<GuestState>,
    /// A vDEVICE's info.
    pub info: Option<VdeviceInfo>,
    /// vEVENTQ records read.
    pub events: Vec<Event>,
    /// The response of a GET_REPORT, GET_MEASUREMENTS or GET_EVIDENCE.
    pub payload: Vec<u8>,
}

impl Done {
    fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Default::default() }
    }
}

/// How a line ended, when it ended the way it should.
#[derive(Debug)]
pub enum Ran {
    /// It succeeded.
    Done(Done),
    /// It failed, as it had to.
    Failed(Error),
}

/// A vDEVICE the session allocated.
#[derive(Clone, Debug)]
struct Vdev {
    id: u32,
    virt_id: u64,
    /// The host device, when this session assigned it.
    bdf: Option<Bdf>,
    /// The MMIO reporting offset of its last bind.
    mmio_offset: u64,
}

/// The session.
pub struct Session {
    opts: Options,
    veventq: Option<(u32, EventQueue)>,
    /// Shared with the relay threads serving this session's vDEVICEs.
    ext: Option<Arc<Extension>>,
    vm: Option<OwnedFd>,
    viommu: Option<u32>,
    vdevices: Vec<Vdev>,
    devices: Vec<VfioDevice>,
    iommufd: Option<OwnedFd>,
    /// Devices this session moved to vfio-pci, and the driver they had.
    rebound: Vec<(Bdf, Option<String>)>,
    /// Private MMIO dma-bufs handed to the VM, kept as a VMM keeps its
    /// memslots' files.
    dmabufs: Vec<OwnedFd>,
}

/// Prints a step: who acted, what, and how it ended.
pub(crate) fn say(who: &str, what: impl fmt::Display, result: impl fmt::Display) {
    println!("[{who}] {what} -> {result}");
}

/// Up to `n` bytes of `b` in hex.
fn hex_head(b: &[u8], n: usize) -> String {
    let mut s: Vec<String> = b.iter().take(n).map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push("..".into());
    }
    s.join(" ")
}

fn no(what: &str, step: &str) -> Error {
    Error::Invalid(format!("no {what} in this session (run {step} first)"))
}

impl Session {
    /// A session that has opened nothing yet.
    pub fn new(opts: Options) -> Self {
        Self {
            opts,
            veventq: None,
            ext: None,
            vm: None,
            viommu: None,
            vdevices: Vec::new(),
            devices: Vec::new(),
            iommufd: None,
            rebound: Vec::new(),
            dmabufs: Vec::new(),
        }
    }

    /// The session's options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Opens the iommufd and the extension and attaches them, once.
    pub fn open(&mut self) -> Result<&Extension> {
        if self.ext.is_none() {
            let what = format!("open {} and {}, attach", self.opts.iommu.display(), self.opts.extension.display());
            let opened = (|| {
                let iommufd = vfio::open_iommufd(&self.opts.iommu)?;
                let ext = Extension::open(&self.opts.extension)?;
                ext.attach(&iommufd)?;
                Ok((iommufd, ext))
            })();
            // A failure shows on the line of the step that needed it.
            let (iommufd, ext) = opened?;
            say("vmm", what, format!("iommufd {}", iommufd.as_raw_fd()));
            self.iommufd = Some(iommufd);
            self.ext = Some(Arc::new(ext));
        }
        self.ext.as_deref().ok_or_else(|| no("extension", "open"))
    }

    /// The extension, once open.
    pub fn extension(&self) -> Option<&Extension> {
        self.ext.as_deref()
    }

    /// A relay of guest exits to the session's vDEVICEs as they are now.
    /// It shares the extension file: the session's objects outlive its
    /// close while a relay holds it.
    pub fn relay(&self) -> Result<Relay<ExtensionVdevices>> {
        let ext = self.ext.clone().ok_or_else(|| no("extension", "vm"))?;
        let ids = self.vdevices.iter().map(|v| (v.virt_id, v.id)).collect();
        Ok(Relay::new(ExtensionVdevices::new(ext, ids)))
    }

    /// GET_STATE of the vDEVICE `id` (the last one by default), sent by
    /// the VMM.
    pub fn guest_state(&self, id: Option<u32>) -> Result<GuestState> {
        self.get_state(&self.vdev(id)?)
    }

    /// Sends `req` for the vDEVICE `id` (the last one by default) without
    /// printing it: a request the VMM makes for itself.
    pub fn request(&self, id: Option<u32>, req: &Req) -> Result<Done> {
        self.req(&self.vdev(id)?, req)
    }

    /// The TDI state of the last vDEVICE as the steps print it ("TDI RUN",
    /// "TDI torn down, vDEVICE bound"); nothing while it is not bound.
    pub fn tdi_summary(&self) -> Option<String> {
        self.tdi_note().1
    }

    /// The iommufd, once open.
    pub fn iommufd(&self) -> Option<&OwnedFd> {
        self.iommufd.as_ref()
    }

    /// The vIOMMU.
    pub fn viommu(&self) -> Option<u32> {
        self.viommu
    }

    /// The VFIO cdev of `bdf`, once bound.
    pub fn vfio_device(&self, bdf: &Bdf) -> Option<&VfioDevice> {
        self.devices.iter().find(|d| &d.bdf == bdf)
    }

    /// The VFIO cdev of `bdf`, bound to the iommufd: moves the device to
    /// vfio-pci if needed.
    pub fn vfio(&mut self, bdf: &Bdf) -> Result<&VfioDevice> {
        self.open()?;
        if let Some(i) = self.devices.iter().position(|d| &d.bdf == bdf) {
            return Ok(&self.devices[i]);
        }
        let sysfs = self.opts.sysfs.clone();
        let driver = self.opts.vfio_driver.clone();
        if sysfs.driver(bdf)?.as_deref() != Some(driver.as_str()) {
            let what = format!("{bdf}: driver_override {driver}, unbind, drivers_probe");
            let before = sysfs.rebind(bdf, &driver)?;
            say("host", what, format!("driver {} -> {driver}", before.as_deref().unwrap_or("none")));
            self.rebound.push((bdf.clone(), before));
        }
        let iommufd = self.iommufd.as_ref().ok_or_else(|| no("iommufd", "open"))?;
        let what = format!("{bdf}: open its VFIO cdev, VFIO_DEVICE_BIND_IOMMUFD");
        let dev = VfioDevice::bind(&sysfs, bdf, iommufd)?;
        say("vmm", what, format!("{} dev_id {}", dev.path.display(), dev.dev_id));
        self.devices.push(dev);
        self.devices.last().ok_or_else(|| no("VFIO device", "vdevice"))
    }

    fn ext(&self) -> Result<&Extension> {
        self.ext.as_deref().ok_or_else(|| no("extension", "vm"))
    }

    fn vdev(&self, id: Option<u32>) -> Result<Vdev> {
        match id {
            // A vDEVICE made outside this session's steps: its virt_id from
            // the extension, 0 when it does not know the id either.
            Some(id) => Ok(self.vdevices.iter().find(|v| v.id == id).cloned().unwrap_or_else(|| Vdev {
                id,
                virt_id: self.ext.as_ref().and_then(|e| e.vdevice_info(id).ok()).map_or(0, |i| i.virt_id),
                bdf: None,
                mmio_offset: 0,
            })),
            None => self.vdevices.last().cloned().ok_or_else(|| no("vDEVICE", "vdevice")),
        }
    }

    /// What a step is about to do, as printed.
    fn describe(&self, step: &Step) -> String {
        let vdev = |id: &Option<u32>| match self.vdev(*id) {
            Ok(v) => format!("vdevice {}", v.id),
            Err(_) => "vdevice ?".to_owned(),
        };
        match step {
            Step::Connect { bdf } => format!("connect {bdf} to {}", self.opts.tsm),
            Step::Disconnect { bdf } => format!("disconnect {bdf} from {}", self.opts.tsm),
            Step::Status { bdf } => format!("status {bdf}"),
            Step::Vm => "vm".into(),
            Step::Viommu => "viommu".into(),
            Step::Veventq { depth } => format!("veventq depth {depth}"),
            Step::Vdevice { bdf, virt_id } => format!("vdevice {bdf} virt_id {virt_id:#x}"),
            Step::Bind { id, mmio_offset: 0 } => format!("bind {}", vdev(id)),
            Step::Bind { id, mmio_offset } => format!("bind {} at MMIO offset {mmio_offset:#x}", vdev(id)),
            Step::Unbind { id } => format!("unbind {}", vdev(id)),
            Step::Req { id, req } => {
                let what = match req {
                    Req::State => "state".to_owned(),
                    Req::Report { offset, len } => format!("report {offset:#x}+{len:#x}"),
                    Req::Measurements => "measurements".to_owned(),
                    Req::Evidence => "evidence".to_owned(),
                    Req::MapMmio { gpa: Some(gpa), len: Some(len) } => format!("map-mmio {gpa:#x}+{len:#x}"),
                    Req::MapMmio { .. } => "map-mmio (every report range)".to_owned(),
                    Req::AcceptDma => "accept-dma".to_owned(),
                    Req::Start => "start".to_owned(),
                    Req::Stop => "stop".to_owned(),
                };
                format!("req {what} ({})", vdev(id))
            }
            Step::Events { timeout_ms, .. } => format!("events (wait {timeout_ms} ms)"),
            Step::Info { id } => format!("info {}", vdev(id)),
            Step::PrivateMmio { id } => format!("private-mmio {}", vdev(id)),
            Step::GuestRelay { exits, idle_ms } => {
                let until = exits.map_or(String::new(), |n| format!("{n} exits or "));
                format!("guest-relay {} (until {until}{idle_ms} ms idle)", self.opts.guest_channel.display())
            }
            Step::Destroy { target } => match target {
                Target::Id(id) => format!("destroy {id}"),
                Target::Vdevice => format!("destroy {}", vdev(&None)),
                Target::Veventq => {
                    format!("destroy veventq {}", self.veventq.as_ref().map_or("?".into(), |(id, _)| id.to_string()))
                }
                Target::Viommu => format!("destroy viommu {}", self.viommu.map_or("?".into(), |id| id.to_string())),
            },
            Step::Close => "close".into(),
        }
    }

    /// Runs one line, prints it and its result; an error when it did not
    /// end as it had to.
    pub fn run_line(&mut self, line: &Line) -> Result<Ran> {
        let who = line.step.actor();
        let what = self.describe(&line.step);
        let what = if line.expect_failure { format!("!{what}") } else { what };
        let result = self.step(&line.step);
        let (tdi, tdi_text) = match &result {
            Ok(Done { tdi: Some(s), .. }) => (Some(*s), Some(format!("TDI {s}"))),
            _ => self.tdi_note(),
        };
        let join = |text: &str| match (&tdi_text, text.is_empty()) {
            (Some(t), true) => t.clone(),
            (Some(t), false) => format!("{text}; {t}"),
            (None, true) => "ok".to_owned(),
            (None, false) => text.to_owned(),
        };
        let at = if line.number > 0 { format!("line {}: ", line.number) } else { String::new() };
        match (result, line.expect_failure) {
            (Ok(mut done), false) => {
                say(who, what, join(&done.text));
                done.tdi = done.tdi.or(tdi);
                Ok(Ran::Done(done))
            }
            (Err(e), true) => {
                say(who, what, join(&format!("failed as expected: {e}")));
                Ok(Ran::Failed(e))
            }
            (Ok(done), true) => {
                say(who, what, join(&format!("{}; SUCCEEDED, a failure was expected", done.text)));
                Err(Error::Invalid(format!("{at}{} succeeded, a failure was expected", self.describe(&line.step))))
            }
            (Err(e), false) => {
                say(who, what, join(&format!("FAILED: {e}")));
                Err(match e {
                    Error::Invalid(s) => Error::Invalid(format!("{at}{s}")),
                    e if line.number > 0 => Error::Invalid(format!("{at}{e}")),
                    e => e,
                })
            }
        }
    }

    /// Runs `step`, which must succeed.
    pub fn exec(&mut self, step: Step) -> Result<Done> {
        match self.run_line(&Line::new(step))? {
            Ran::Done(done) => Ok(done),
            Ran::Failed(e) => Err(e),
        }
    }

    /// Runs `step`, which must fail; its error.
    pub fn exec_failing(&mut self, step: Step) -> Result<Error> {
        match self.run_line(&Line { number: 0, expect_failure: true, step })? {
            Ran::Failed(e) => Ok(e),
            Ran::Done(_) => Err(Error::Invalid("a failure was expected".into())),
        }
    }

    /// Runs every line, stopping at the first that does not end as it must.
    pub fn run_script(&mut self, lines: &[Line]) -> Result<()> {
        for line in lines {
            self.run_line(line)?;
        }
        Ok(())
    }

    /// The TDI state of the last vDEVICE while it is bound, and how to
    /// show it; nothing when there is no bound vDEVICE.
    fn tdi_note(&self) -> (Option<TdiState>, Option<String>) {
        let Some((ext, vdev)) = self.ext.as_ref().zip(self.vdevices.last()) else {
            return (None, None);
        };
        match ext.vdevice_info(vdev.id) {
            Ok(info) if info.bound() && info.torn_down() => (None, Some("TDI torn down, vDEVICE bound".into())),
            Ok(info) if info.bound() => match self.get_state(vdev) {
                Ok(s) => (Some(s.tdi_state), Some(format!("TDI {}", s.tdi_state))),
                Err(e) => (None, Some(format!("TDI state unknown: {e}"))),
            },
            _ => (None, None),
        }
    }

    /// Sends `req` for `vdev`; the response bytes, or the TSM's refusal.
    fn guest(&self, vdev: &Vdev, req: GuestRequest, room: usize) -> Result<Vec<u8>> {
        let mut resp = vec![0u8; room];
        let reply = self.ext()?.tsm_req(vdev.id, req.op.class(), &req.encode(), &mut resp)?;
        if reply.tsm_code != 0 {
            return Err(Error::Tsm { what: req.op.name().into(), code: reply.tsm_code });
        }
        resp.truncate(reply.resp_len);
        Ok(resp)
    }

    fn tdi_id(vdev: &Vdev) -> Result<u32> {
        u32::try_from(vdev.virt_id).map_err(|_| Error::Invalid(format!("virt_id {:#x} is no TDI id", vdev.virt_id)))
    }

    fn get_state(&self, vdev: &Vdev) -> Result<GuestState> {
        let resp = self.guest(vdev, GuestRequest::new(GuestOp::GetState, Self::tdi_id(vdev)?), GUEST_STATE_LEN)?;
        GuestState::parse(&resp)
    }

    /// Exports each MMIO range of the vDEVICE's TDI as a dma-buf and hands
    /// it to the VM as private-MMIO slot i at the range's report address,
    /// which is where the VM sees it (the host's address plus the bind's
    /// MMIO reporting offset); the session keeps the dma-bufs' files until
    /// it closes.
    fn private_mmio(&mut self, id: Option<u32>) -> Result<Done> {
        let vdev = self.vdev(id)?;
        let bdf = vdev.bdf.clone().ok_or_else(|| no("device assigned for that vDEVICE", "vdevice"))?;
        let dev = self.vfio_device(&bdf).ok_or_else(|| no("VFIO device", "vdevice"))?;
        let vm = self.vm.as_ref().ok_or_else(|| no("VM", "vm"))?;
        let ranges = tsm_req::report_ranges(&self.report(&vdev)?)?;
        let (mut done, mut files) = (Vec::new(), Vec::new());
        let slots = self.dmabufs.len() as u32..;
        for (slot, r) in slots.zip(ranges.iter()) {
            let (bar, offset) = self.opts.sysfs.bar_of(&bdf, r.address.wrapping_sub(vdev.mmio_offset))?;
            let dmabuf = dev.tdi_dma_buf(bar, offset, r.len)?;
            self.ext()?.emu_vm_set_memory_region(vm, slot, r.address, r.len, &dmabuf)?;
            done.push(format!(
                "slot {slot}: dma-buf fd {} of BAR {bar} {offset:#x}+{:#x} at {:#x}",
                dmabuf.as_raw_fd(),
                r.len,
                r.address
            ));
            files.push(dmabuf);
        }
        self.dmabufs.extend(files);
        Ok(Done::text(done.join("; ")))
    }

    /// The whole interface report.
    fn report(&self, vdev: &Vdev) -> Result<Vec<u8>> {
        self.guest(vdev, GuestRequest::report(Self::tdi_id(vdev)?, 0, TSM_RESP_MAX as u64), TSM_RESP_MAX)
    }

    fn step(&mut self, step: &Step) -> Result<Done> {
        let sysfs = self.opts.sysfs.clone();
        match step {
            Step::Connect { bdf } => sysfs.connect(bdf, &self.opts.tsm).map(|()| Done::text("")),
            Step::Disconnect { bdf } => sysfs.disconnect(bdf, &self.opts.tsm).map(|()| Done::text("")),
            Step::Status { bdf } => sysfs.status(bdf).map(|s| Done::text(s.to_string())),
            Step::Vm => {
                let vm = self.open()?.emu_vm_create()?;
                let text = format!("VM fd {}", vm.as_raw_fd());
                self.vm = Some(vm);
                Ok(Done::text(text))
            }
            Step::Viommu => {
                let vm = self.vm.as_ref().ok_or_else(|| no("VM", "vm"))?;
                let id = self.ext()?.viommu_alloc(vm)?;
                self.viommu = Some(id);
                Ok(Done { id: Some(id), ..Done::text(format!("viommu {id}")) })
            }
            Step::Veventq { depth } => {
                let viommu = self.viommu.ok_or_else(|| no("vIOMMU", "viommu"))?;
                let (id, fd) = self.ext()?.veventq_alloc(viommu, *depth)?;
                self.veventq = Some((id, EventQueue::new(fd)));
                Ok(Done { id: Some(id), ..Done::text(format!("veventq {id}")) })
            }
            Step::Vdevice { bdf, virt_id } => {
                let viommu = self.viommu.ok_or_else(|| no("vIOMMU", "viommu"))?;
                self.vfio(bdf)?;
                let dev = self.devices.iter().find(|d| &d.bdf == bdf).ok_or_else(|| no("VFIO device", "vdevice"))?;
                let id = self.ext()?.vdevice_alloc(viommu, dev.dev_id, dev.as_fd(), *virt_id)?;
                self.vdevices.push(Vdev { id, virt_id: *virt_id, bdf: Some(bdf.clone()), mmio_offset: 0 });
                Ok(Done { id: Some(id), ..Done::text(format!("vdevice {id}")) })
            }
            Step::Bind { id, mmio_offset } => {
                let vdev = self.vdev(*id)?;
                self.ext()?.tsm_bind_at(vdev.id, *mmio_offset)?;
                if let Some(v) = self.vdevices.iter_mut().find(|v| v.id == vdev.id) {
                    v.mmio_offset = *mmio_offset;
                }
                Ok(Done::text(""))
            }
            Step::Unbind { id } => {
                let vdev = self.vdev(*id)?;
                self.ext()?.tsm_unbind(vdev.id)?;
                Ok(Done::text(""))
            }
            Step::Req { id, req } => self.req(&self.vdev(*id)?, req),
            Step::Events { timeout_ms, expect } => {
                let (_, queue) = self.veventq.as_ref().ok_or_else(|| no("vEVENTQ", "veventq"))?;
                let events = queue.next(Duration::from_millis(*timeout_ms))?;
                let text = events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
                if let Some(kind) = expect {
                    if !events.iter().any(|e| e.event == kind.event()) {
                        return Err(Error::Invalid(format!("read {text}, expected {}", kind.event())));
                    }
                }
                Ok(Done { text, events, ..Default::default() })
            }
            Step::Info { id } => {
                let vdev = self.vdev(*id)?;
                let info = self.ext()?.vdevice_info(vdev.id)?;
                let text = format!(
                    "viommu {}, host {}, virt_id {:#x}, {}",
                    info.viommu_id,
                    info.host_bdf(),
                    info.virt_id,
                    info.binding()
                );
                Ok(Done { text, info: Some(info), ..Default::default() })
            }
            Step::PrivateMmio { id } => self.private_mmio(*id),
            Step::GuestRelay { exits, idle_ms } => {
                let relay = self.relay()?;
                let channel = GuestChannel::open(&self.opts.guest_channel)?;
                let exits = exits.map(|n| n as usize);
                let log = relay.serve(&channel, exits, Duration::from_millis(*idle_ms), |r| println!("[vmm] {r}"))?;
                let failed = log.iter().filter(|r| !r.ok()).count();
                Ok(Done::text(format!("{} exits relayed, {failed} not ok", log.len())))
            }
            Step::Destroy { target } => self.destroy(*target),
            Step::Close => {
                self.close();
                Ok(Done::text("closed"))
            }
        }
    }

    fn req(&self, vdev: &Vdev, req: &Req) -> Result<Done> {
        let tdi = Self::tdi_id(vdev)?;
        match req {
            Req::State => {
                let state = self.get_state(vdev)?;
                Ok(Done {
                    text: state.to_string(),
                    tdi: Some(state.tdi_state),
                    state: Some(state),
                    ..Default::default()
                })
            }
            Req::Report { offset, len } => {
                let room = usize::try_from(*len).unwrap_or(usize::MAX).min(TSM_RESP_MAX);
                let report = self.guest(vdev, GuestRequest::report(tdi, *offset, *len), room)?;
                let mut text = format!("{} bytes: {}", report.len(), hex_head(&report, 16));
                if *offset == 0 {
                    if let Ok(ranges) = tsm_req::report_ranges(&report) {
                        let list: Vec<String> =
                            ranges.iter().map(|r| format!("{:#x}+{:#x}", r.address, r.len)).collect();
                        text.push_str(&format!("; {} MMIO ranges: {}", ranges.len(), list.join(", ")));
                    }
                }
                Ok(Done { text, payload: report, ..Default::default() })
            }
            Req::Measurements => {
                let m = self.guest(vdev, GuestRequest::new(GuestOp::GetMeasurements, tdi), TSM_RESP_MAX)?;
                Ok(Done { text: format!("{} bytes: {}", m.len(), hex_head(&m, 16)), payload: m, ..Default::default() })
            }
            Req::Evidence => {
                let b = self.guest(vdev, GuestRequest::new(GuestOp::GetEvidence, tdi), GUEST_EVIDENCE_LEN)?;
                let text = Evidence::parse(&b)?.to_string();
                Ok(Done { text, payload: b, ..Default::default() })
            }
            Req::MapMmio { gpa: Some(gpa), len: Some(len) } => {
                self.guest(vdev, GuestRequest::map_mmio(tdi, *gpa, *len), 0)?;
                Ok(Done::text(""))
            }
            Req::MapMmio { .. } => {
                let ranges = tsm_req::report_ranges(&self.report(vdev)?)?;
                let mut mapped = Vec::new();
                for r in &ranges {
                    self.guest(vdev, GuestRequest::map_mmio(tdi, r.address, r.len), 0).map_err(|e| match e {
                        Error::Tsm { code, .. } => {
                            Error::Tsm { what: format!("MAP_MMIO {:#x}+{:#x}", r.address, r.len), code }
                        }
                        e => e,
                    })?;
                    mapped.push(format!("{:#x}+{:#x}", r.address, r.len));
                }
                Ok(Done::text(format!("{} ranges accepted: {}", mapped.len(), mapped.join(", "))))
            }
            Req::AcceptDma => self.guest(vdev, GuestRequest::new(GuestOp::AcceptDma, tdi), 0).map(|_| Done::text("")),
            Req::Start => self.guest(vdev, GuestRequest::new(GuestOp::Start, tdi), 0).map(|_| Done::text("")),
            Req::Stop => self.guest(vdev, GuestRequest::new(GuestOp::Stop, tdi), 0).map(|_| Done::text("")),
        }
    }

    fn destroy(&mut self, target: Target) -> Result<Done> {
        let id = match target {
            Target::Id(id) => id,
            Target::Vdevice => self.vdev(None)?.id,
            Target::Veventq => self.veventq.as_ref().map(|(id, _)| *id).ok_or_else(|| no("vEVENTQ", "veventq"))?,
            Target::Viommu => self.viommu.ok_or_else(|| no("vIOMMU", "viommu"))?,
        };
        // A vEVENTQ whose file is open cannot be destroyed: close ours first.
        let closed_queue = self.veventq.as_ref().is_some_and(|(q, _)| *q == id);
        if closed_queue {
            self.veventq = None;
        }
        self.ext()?.destroy(id)?;
        self.vdevices.retain(|v| v.id != id);
        if self.viommu == Some(id) {
            self.viommu = None;
        }
        Ok(Done::text(if closed_queue { "its file closed first" } else { "" }))
    }

    /// Closes every file, the extension first, then gives the devices this
    /// session moved to vfio-pci back to the PCI core.
    pub fn close(&mut self) {
        self.veventq = None;
        self.ext = None;
        self.vm = None;
        self.viommu = None;
        self.vdevices.clear();
        self.dmabufs.clear();
        self.devices.clear();
        self.iommufd = None;
        for (bdf, before) in std::mem::take(&mut self.rebound) {
            let what = format!("{bdf}: clear driver_override, unbind, drivers_probe");
            match self.opts.sysfs.release(&bdf) {
                Ok(now) => say(
                    "host",
                    what,
                    format!(
                        "driver {} (had {})",
                        now.as_deref().unwrap_or("none"),
                        before.as_deref().unwrap_or("none")
                    ),
                ),
                Err(e) => say("host", what, format_args!("FAILED: {e}")),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Line {
        match parse_line(7, text) {
            Ok(Some(line)) => line,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        assert!(matches!(parse_line(1, ""), Ok(None)));
        assert!(matches!(parse_line(1, "   \t"), Ok(None)));
        assert!(matches!(parse_line(1, "# vm"), Ok(None)));
        assert!(matches!(parse_line(1, "   # !bind"), Ok(None)));
    }

    #[test]
    fn parses_steps() {
        assert_eq!(one("vm"), Line { number: 7, expect_failure: false, step: Step::Vm });
        assert_eq!(one("  viommu   # the vIOMMU").step, Step::Viommu);
        let bdf: Bdf = "0000:01:00.0".parse().expect("bdf");
        assert_eq!(one("vdevice 01:00.0 --virt-id 0x100").step, Step::Vdevice { bdf: bdf.clone(), virt_id: 0x100 });
        assert_eq!(one("vdevice 0000:01:00.0").step, Step::Vdevice { bdf, virt_id: 0x10 });
        assert_eq!(one("req state").step, Step::Req { id: None, req: Req::State });
        assert_eq!(one("req --id 3 start").step, Step::Req { id: Some(3), req: Req::Start });
        assert_eq!(
            one("req map-mmio 0xfe000000 4096").step,
            Step::Req { id: None, req: Req::MapMmio { gpa: Some(0xfe00_0000), len: Some(4096) } }
        );
        assert_eq!(one("req map-mmio").step, Step::Req { id: None, req: Req::MapMmio { gpa: None, len: None } });
        assert_eq!(one("req accept-dma").step, Step::Req { id: None, req: Req::AcceptDma });
        assert_eq!(one("req evidence").step, Step::Req { id: None, req: Req::Evidence });
        assert_eq!(one("bind --mmio-offset 0x20000000").step, Step::Bind { id: None, mmio_offset: 0x2000_0000 });
        assert_eq!(one("bind --id 2").step, Step::Bind { id: Some(2), mmio_offset: 0 });
        assert_eq!(one("guest-relay").step, Step::GuestRelay { exits: None, idle_ms: 10000 });
        assert_eq!(one("guest-relay --exits 7 --idle-ms 500").step, Step::GuestRelay { exits: Some(7), idle_ms: 500 });
        assert_eq!(
            one("events --timeout-ms 50 --expect stopped-by-guest").step,
            Step::Events { timeout_ms: 50, expect: Some(EventKind::StoppedByGuest) }
        );
        assert_eq!(one("destroy 0x7").step, Step::Destroy { target: Target::Id(7) });
        assert_eq!(one("destroy veventq").step, Step::Destroy { target: Target::Veventq });
        assert_eq!(one("veventq").step, Step::Veventq { depth: 64 });
    }

    #[test]
    fn expected_failures() {
        let line = one("!bind");
        assert!(line.expect_failure);
        assert_eq!(line.step, Step::Bind { id: None, mmio_offset: 0 });
        let line = one("  ! unbind --id 4 # twice");
        assert!(line.expect_failure);
        assert_eq!(line.step, Step::Unbind { id: Some(4) });
        assert!(!one("bind").expect_failure);
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "frobnicate",
            "session",
            "lifecycle 01:00.0",
            "bench 01:00.0",
            "vdevice",
            "vdevice 01:00",
            "req",
            "req teleport",
            "req map-mmio 0x1000",
            "destroy thing",
            "bind extra",
            "bind --mmio-offset",
            "bind --mmio-offset 0xzz",
            "guest-relay --exits -1",
            "!",
            "events --expect nothing",
        ] {
            match parse_line(3, bad) {
                Err(Error::Invalid(msg)) => assert!(msg.starts_with("line 3: "), "{bad}: {msg}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_scripts_with_line_numbers() {
        let lines = parse_script("# setup\nvm\n\nviommu\n!viommu\n").expect("valid script");
        let numbers: Vec<(usize, bool)> = lines.iter().map(|l| (l.number, l.expect_failure)).collect();
        assert_eq!(numbers, vec![(2, false), (4, false), (5, true)]);
        match parse_script("vm\nviommu\nbogus\n") {
            Err(e) => assert!(e.to_string().starts_with("line 3: "), "{e}"),
            Ok(l) => panic!("parsed {l:?}"),
        }
    }

    #[test]
    fn numbers_and_targets() {
        assert_eq!(parse_u64("0x10"), Ok(16));
        assert_eq!(parse_u64("16"), Ok(16));
        assert!(parse_u64("0xg").is_err());
        assert!(parse_u32("0x100000000").is_err());
        assert_eq!("viommu".parse::<Target>(), Ok(Target::Viommu));
        assert_eq!("12".parse::<Target>(), Ok(Target::Id(12)));
        assert!("-1".parse::<Target>().is_err());
    }

    #[test]
    fn steps_without_their_objects_fail() {
        // Nothing is opened for these: each fails before touching a device.
        let mut s = Session::new(Options { sysfs: Sysfs::new("/nonexistent"), ..Options::default() });
        for step in [
            Step::Viommu,
            Step::Veventq { depth: 1 },
            Step::Bind { id: None, mmio_offset: 0 },
            Step::Events { timeout_ms: 0, expect: None },
            Step::GuestRelay { exits: None, idle_ms: 0 },
        ] {
            let e = s.exec_failing(step.clone()).expect("fails as expected");
            assert!(e.to_string().starts_with("no "), "{step:?}: {e}");
        }
        assert!(s.exec(Step::Bind { id: None, mmio_offset: 0 }).is_err());
        assert!(s.exec_failing(Step::Status { bdf: "01:00.0".parse().expect("bdf") }).is_ok());
    }
}
