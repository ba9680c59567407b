// SPDX-License-Identifier: GPL-2.0

//! teeio-bench: boots the test kernel in QEMU, streams the serial console and
//! judges the run.
//!
//! The guest's `/init` runs one of three modes, chosen on the kernel command
//! line: `probe` (boot and power off: does this accelerator work?), `demo`
//! (show the modules at work on the console) and `check` (run KUnit suites and
//! kselftests, sending KTAP on the second serial port). A run fails on any
//! failed or missing test, on any kernel report on the console, and on timeout.

mod console;
mod ktap;
mod qemu;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

use console::Watcher;
use qemu::{Accel, Machine};

/// Printed by the guest's /init once the kernel is up and userspace runs.
const MARK_USERSPACE: &str = "teeio-guest: userspace up";
/// Printed by the guest right before the first test.
const MARK_TESTS: &str = "teeio-guest: tests start";
/// Printed by the guest when its mode finished, before powering off.
const MARK_DONE: &str = "teeio-guest: done";

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The bzImage.
    #[arg(long)]
    kernel: PathBuf,
    /// The initramfs.
    #[arg(long)]
    initrd: PathBuf,
    /// What the guest does.
    #[arg(long, value_enum, default_value = "check")]
    mode: Mode,
    /// How the guest CPU runs; `auto` uses KVM only after a probe boot works.
    #[arg(long, value_enum, default_value = "auto")]
    accel: AccelChoice,
    /// Seconds before the run is stopped and failed.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// Directory for console.log and results.ktap.
    #[arg(long)]
    out: PathBuf,
    /// Remembers the outcome of the KVM probe for this kernel.
    #[arg(long)]
    probe_cache: Option<PathBuf>,
    /// Don't echo the console to stdout (it is still logged).
    #[arg(long)]
    quiet: bool,
    /// Extra kernel command line.
    #[arg(long, default_value = "")]
    append: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Check,
    Demo,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

/// How one boot ended.
struct Boot {
    console: Watcher,
    timed_out: bool,
    exit_ok: bool,
    /// Seconds from QEMU start to `MARK_TESTS`.
    to_first_test: Option<f64>,
    seconds: f64,
}

/// Boots once; ends at QEMU exit or after `timeout`. With `deadline_first_line`,
/// a guest that prints nothing by then is stopped (a hung accelerator).
fn boot(
    machine: &Machine<'_>,
    log: &Path,
    timeout: Duration,
    deadline_first_line: Option<Duration>,
    echo: bool,
) -> Result<Boot> {
    let mut cmd = machine.command();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let start = Instant::now();
    let mut child = cmd.spawn().context("starting qemu-system-x86_64")?;
    let stdout = child.stdout.take().context("qemu stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&buf);
            if tx.send(line.trim_end_matches(['\n', '\r']).to_owned()).is_err() {
                break;
            }
            buf.clear();
        }
    });

    let mut log = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut console = Watcher::default();
    let mut to_first_test = None;
    let mut timed_out = false;
    let stdout = std::io::stdout();
    loop {
        let limit = match deadline_first_line {
            Some(first) if console.len() == 0 => first,
            _ => timeout,
        };
        let Some(left) = limit.checked_sub(start.elapsed()) else {
            timed_out = true;
            break;
        };
        match rx.recv_timeout(left) {
            Ok(line) => {
                writeln!(log, "{line}")?;
                if echo {
                    writeln!(stdout.lock(), "{line}")?;
                }
                if to_first_test.is_none() && line.contains(MARK_TESTS) {
                    to_first_test = Some(start.elapsed().as_secs_f64());
                }
                console.push(&line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().context("waiting for qemu")?;
    let _ = reader.join();
    Ok(Boot {
        console,
        timed_out,
        exit_ok: status.success(),
        to_first_test,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Decides the accelerator: KVM only when a probe boot reaches userspace.
fn choose_accel(cli: &Cli) -> Result<Accel> {
    match cli.accel {
        AccelChoice::Kvm => return Ok(Accel::Kvm),
        AccelChoice::Tcg => return Ok(Accel::Tcg),
        AccelChoice::Auto => {}
    }
    if !qemu::kvm_device_usable() {
        eprintln!("teeio-bench: /dev/kvm not usable, using TCG");
        return Ok(Accel::Tcg);
    }
    let meta = fs::metadata(&cli.kernel)?;
    let key = format!(
        "{} {} {:?}",
        cli.kernel.display(),
        meta.len(),
        meta.modified()?.duration_since(std::time::UNIX_EPOCH)?.as_secs()
    );
    if let Some(cache) = &cli.probe_cache {
        if let Ok(text) = fs::read_to_string(cache) {
            if let Some(result) = text.strip_prefix(&key).map(str::trim) {
                let accel = if result == "kvm" { Accel::Kvm } else { Accel::Tcg };
                eprintln!("teeio-bench: KVM probe (cached): using {}", result);
                return Ok(accel);
            }
        }
    }
    let machine = Machine {
        kernel: &cli.kernel,
        initrd: &cli.initrd,
        append: "teeio.mode=probe".into(),
        results: cli.out.join("probe.ktap"),
        accel: Accel::Kvm,
    };
    let probe = boot(
        &machine,
        &cli.out.join("probe.log"),
        Duration::from_secs(60),
        Some(Duration::from_secs(20)),
        false,
    )?;
    let works = !probe.timed_out && probe.exit_ok && probe.console.saw(MARK_DONE);
    let result = if works { "kvm" } else { "tcg" };
    eprintln!(
        "teeio-bench: KVM probe boot {} in {:.1} s: using {}",
        if works { "worked" } else { "failed" },
        probe.seconds,
        result
    );
    if let Some(cache) = &cli.probe_cache {
        fs::write(cache, format!("{key} {result}\n"))?;
    }
    Ok(if works { Accel::Kvm } else { Accel::Tcg })
}

fn run(cli: &Cli) -> Result<bool> {
    fs::create_dir_all(&cli.out)?;
    let accel = choose_accel(cli)?;
    let results = cli.out.join("results.ktap");
    let _ = fs::remove_file(&results);
    let mode = match cli.mode {
        Mode::Check => "check",
        Mode::Demo => "demo",
    };
    let machine = Machine {
        kernel: &cli.kernel,
        initrd: &cli.initrd,
        append: format!("teeio.mode={mode} {}", cli.append),
        results: results.clone(),
        accel,
    };
    let console_log = cli.out.join("console.log");
    let run = boot(&machine, &console_log, Duration::from_secs(cli.timeout), None, !cli.quiet)?;

    let mut ok = true;
    let mut problems = Vec::new();
    if run.timed_out {
        ok = false;
        problems.push(format!("timed out after {} s", cli.timeout));
    }
    if !run.console.saw(MARK_DONE) {
        ok = false;
        problems.push(format!("guest never printed '{MARK_DONE}'"));
    }
    for report in run.console.reports() {
        ok = false;
        problems.push(format!("kernel report on console line {}: {}", report.line + 1, report.kind));
    }

    let mut summary = None;
    if cli.mode == Mode::Check {
        let text = fs::read_to_string(&results).unwrap_or_default();
        let s = ktap::summarize(&text);
        for failure in &s.failures {
            problems.push(format!("test failure: {failure}"));
        }
        if s.failed > 0 {
            ok = false;
        }
        summary = Some(s);
    }

    eprintln!();
    let first_test = match (cli.mode, run.to_first_test) {
        (Mode::Demo, _) => String::new(),
        (Mode::Check, Some(t)) => format!(", first test after {t:.1} s"),
        (Mode::Check, None) => ", no test started".into(),
    };
    eprintln!(
        "teeio-bench: {} boot, {:.1} s in all, userspace {}{first_test}",
        if accel == Accel::Kvm { "KVM" } else { "TCG" },
        run.seconds,
        if run.console.saw(MARK_USERSPACE) { "reached" } else { "not reached" },
    );
    for problem in &problems {
        eprintln!("teeio-bench: FAIL: {problem}");
    }
    if let Some(first) = run.console.reports().first() {
        eprintln!("teeio-bench: console around the first report ({}):", console_log.display());
        for line in run.console.excerpt(first.line, 5, 40) {
            eprintln!("  | {line}");
        }
    } else if !ok {
        eprintln!("teeio-bench: last console lines ({}):", console_log.display());
        for line in run.console.tail(30) {
            eprintln!("  | {line}");
        }
    }
    if let Some(s) = summary {
        // Read back by scripts/check for the overall summary.
        fs::write(
            cli.out.join("guest.counts"),
            format!("{} {} {}\n", s.passed, s.failed + usize::from(s.failed == 0 && !ok), s.skipped),
        )?;
        eprintln!(
            "teeio-bench: guest tests: {} passed, {} failed, {} skipped",
            s.passed, s.failed, s.skipped
        );
    }
    if !run.exit_ok && ok {
        bail!("qemu exited with an error");
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("teeio-bench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
