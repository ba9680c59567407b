// SPDX-License-Identifier: GPL-2.0

//! teeio-vmm: the steps of confidential device assignment from the command
//! line, one at a time, as a session script, or as the whole lifecycle.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use teeio_vmm::bench;
use teeio_vmm::extension;
use teeio_vmm::guest_channel;
use teeio_vmm::lifecycle;
use teeio_vmm::session::{self, parse_u32, parse_u64, Line, Options, Session, Step};
use teeio_vmm::sysfs::{self, Bdf, Sysfs};
use teeio_vmm::vfio;

const AFTER_HELP: &str = "\
Objects of the extension live only while the process holds the extension
file, so the stateful steps (vm, viommu, veventq, vdevice, bind, unbind, req,
events, info, destroy, close) run in a session. A stateful step given alone
on the command line runs as a one-line session: the files it opens are closed,
and what it made destroyed, when it returns.

Session scripts (teeio-vmm session [FILE|-]) hold one step per line in the
grammar of the subcommands above. '#' starts a comment; blank lines are
skipped; the whole script is parsed before its first step runs. The session
opens /dev/iommu and the extension at its first stateful step and keeps the
VM, vIOMMU, vEVENTQ, vDEVICE and VFIO files and ids; bind, unbind, req and
info act on the last vDEVICE unless given --id. guest-relay answers the guest
TDISP driver's requests (/dev/teeio-tdisp-guest) for the session's vDEVICEs
while another process drives the guest side.
Each step is printed with who acted ([host], [vmm], [guest]), its result and
the TDI state while the vDEVICE is bound. The session stops at the first
failing step with a non-zero exit, except for lines starting with '!', which
must fail: their error (errno or TSM status) is printed and the session goes
on. At the end, devices the session moved to vfio-pci are given back.

Example:
  connect 0000:01:00.0
  vm
  viommu
  veventq
  vdevice 0000:01:00.0 --virt-id 0x10
  bind
  !bind                 # EBUSY: bound already
  req state
  req map-mmio          # every range of the interface report
  req accept-dma
  req start
  req stop
  events --expect stopped-by-guest
  destroy vdevice
  close
  disconnect 0000:01:00.0";

#[derive(Debug, Parser)]
#[command(
    name = "teeio-vmm",
    version,
    about = "Userspace VMM for the teeio iommufd TSM extension",
    after_help = AFTER_HELP
)]
struct Cli {
    /// The extension's device
    #[arg(long, global = true, value_name = "PATH", default_value = extension::DEFAULT_PATH)]
    extension: PathBuf,
    /// IOMMUFD's device
    #[arg(long, global = true, value_name = "PATH", default_value = vfio::IOMMU_PATH)]
    iommu: PathBuf,
    /// The TSM devices connect to
    #[arg(long, global = true, value_name = "NAME", default_value = sysfs::DEFAULT_TSM)]
    tsm: String,
    /// The VFIO driver assigned devices are moved to
    #[arg(long, global = true, value_name = "DRIVER", default_value = sysfs::VFIO_PCI)]
    vfio_driver: String,
    /// The guest TDISP channel's device
    #[arg(long, global = true, value_name = "PATH", default_value = guest_channel::DEFAULT_PATH)]
    guest_channel: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Step(Step),
    /// Run a session script from FILE, or from standard input when FILE is - or absent
    Session {
        /// The script; standard input when - or absent
        file: Option<PathBuf>,
    },
    /// The whole host flow for one device, each step checked
    Lifecycle {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
        /// The device's ID in the VM (the TDI id)
        #[arg(long, default_value = "0x10", value_parser = parse_u64)]
        virt_id: u64,
    },
    /// The private MMIO flow for one device through teeio-vfio-pci, each step checked
    PrivateMmioLifecycle {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
        /// The device's ID in the VM (the TDI id)
        #[arg(long, default_value = "0x10", value_parser = parse_u64)]
        virt_id: u64,
    },
    /// The flow with the guest TDISP driver: host device assigned through teeio-vfio-pci, the TVM's lock, accept and unlock of its view of it relayed by the VMM, each step checked
    GuestLifecycle {
        /// The host's device, [ssss:]bb:dd.f
        host_bdf: Bdf,
        /// The device as the guest sees it, [ssss:]bb:dd.f: its routing id is the virt_id, its BAR 0 where the host's BAR 0 is offered
        guest_bdf: Bdf,
    },
    /// Throughput of vDEVICE alloc+destroy and guest requests against their anchors
    Bench {
        /// PCI address, [ssss:]bb:dd.f
        bdf: Bdf,
        /// Round trips per figure
        #[arg(long, default_value_t = 1000, value_parser = parse_u32)]
        iterations: u32,
        /// The device's ID in the VM (the TDI id)
        #[arg(long, default_value = "0x10", value_parser = parse_u64)]
        virt_id: u64,
        /// The emulated TSM's bare DOE benchmark (debugfs); skipped when absent
        #[arg(long, value_name = "PATH", default_value = bench::DOE_ANCHOR)]
        doe_anchor: PathBuf,
    },
}

fn script(file: Option<PathBuf>) -> anyhow::Result<(String, String)> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok((path.display().to_string(), text))
        }
        _ => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
            Ok(("standard input".into(), text))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let opts = Options {
        extension: cli.extension,
        iommu: cli.iommu,
        tsm: cli.tsm,
        sysfs: Sysfs::default(),
        vfio_driver: cli.vfio_driver,
        guest_channel: cli.guest_channel,
    };
    match cli.command {
        Command::Step(step) => {
            Session::new(opts).run_line(&Line::new(step))?;
        }
        Command::Session { file } => {
            let (name, text) = script(file)?;
            let lines = session::parse_script(&text).with_context(|| format!("session {name}"))?;
            if lines.is_empty() {
                bail!("session {name}: no steps");
            }
            let mut s = Session::new(opts);
            s.run_script(&lines).with_context(|| format!("session {name} stopped"))?;
            s.close();
            let expected = lines.iter().filter(|l| l.expect_failure).count();
            println!("session {name}: {} steps ({expected} expected failures) as expected", lines.len());
        }
        Command::Lifecycle { bdf, virt_id } => {
            lifecycle::run(opts, &bdf, virt_id).context("lifecycle")?;
            println!("lifecycle {bdf}: every step as expected");
        }
        Command::PrivateMmioLifecycle { bdf, virt_id } => {
            lifecycle::run_private_mmio(opts, &bdf, virt_id).context("private-mmio-lifecycle")?;
            println!("private-mmio-lifecycle {bdf}: every step as expected");
        }
        Command::GuestLifecycle { host_bdf, guest_bdf } => {
            lifecycle::run_guest(opts, &host_bdf, &guest_bdf).context("guest-lifecycle")?;
            println!("guest-lifecycle {host_bdf} as {guest_bdf}: every step as expected");
        }
        Command::Bench { bdf, iterations, virt_id, doe_anchor } => {
            bench::run(opts, &bdf, &bench::Config { iterations, virt_id, doe_anchor }).context("bench")?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teeio-vmm: {e:#}");
            ExitCode::FAILURE
        }
    }
}
