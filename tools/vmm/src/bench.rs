// SPDX-License-Identifier: GPL-2.0

//! Throughput of the extension against its anchors, in one process:
//! vDEVICE alloc+destroy against IOMMUFD's IOAS alloc+destroy, and guest
//! requests (GET_STATE) against the bare DOE exchanges under them, which
//! the emulated TSM measures on request through debugfs.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::extension::Extension;
use crate::kmem;
use crate::session::{Options, Req, Session, Step, Target};
use crate::sysfs::Bdf;
use crate::tsm_req::{GuestOp, GuestRequest, GUEST_STATE_LEN};
use crate::vfio;

/// Where the emulated TSM's bare DOE benchmark usually is.
pub const DOE_ANCHOR: &str = "/sys/kernel/debug/teeio_tsm_emu/doe_bench";

/// What to measure.
#[derive(Clone, Debug)]
pub struct Config {
    /// Round trips per figure.
    pub iterations: u32,
    /// The vDEVICE's virt_id.
    pub virt_id: u64,
    /// The bare DOE benchmark's debugfs file.
    pub doe_anchor: PathBuf,
}

/// Operations per second of `n` operations in `t`.
fn rate(n: u32, t: Duration) -> f64 {
    f64::from(n) / t.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Times `n` runs of `f`.
fn time(n: u32, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(start.elapsed())
}

/// Parses the anchor's answer, `doe <count> <ns_total>`.
pub fn parse_doe_line(line: &str) -> Result<(u64, u64)> {
    let bad = || Error::Malformed { what: "DOE anchor", detail: format!("'{}'", line.trim()) };
    let mut words = line.split_whitespace();
    if words.next() != Some("doe") {
        return Err(bad());
    }
    let count = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let ns = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    if words.next().is_some() || count == 0 {
        return Err(bad());
    }
    Ok((count, ns))
}

/// Runs `count` bare DOE exchanges with `bdf` through the anchor; (count,
/// ns total).
fn doe_anchor(path: &Path, bdf: &Bdf, count: u32) -> Result<(u64, u64)> {
    fs::write(path, format!("{bdf} {count}\n")).map_err(|e| Error::file("write", path, e))?;
    let answer = fs::read_to_string(path).map_err(|e| Error::file("read", path, e))?;
    parse_doe_line(&answer)
}

/// N × (vDEVICE alloc + destroy) next to N × (IOAS alloc + destroy).
fn alloc_pairs(s: &mut Session, bdf: &Bdf, cfg: &Config) -> Result<()> {
    let n = cfg.iterations;
    let (viommu, dev_id) = (s.viommu().ok_or_else(|| Error::Invalid("no vIOMMU".into()))?, s.vfio(bdf)?.dev_id);
    let ext: &Extension = s.extension().ok_or_else(|| Error::Invalid("no extension".into()))?;
    let dev = s.vfio_device(bdf).ok_or_else(|| Error::Invalid("no VFIO device".into()))?;
    let iommufd = s.iommufd().ok_or_else(|| Error::Invalid("no iommufd".into()))?;
    let vdevice_pair = || -> Result<()> {
        let id = ext.vdevice_alloc(viommu, dev_id, dev, cfg.virt_id)?;
        ext.destroy(id)
    };
    let ioas_pair = || -> Result<()> {
        let id = vfio::ioas_alloc(iommufd)?;
        vfio::iommu_destroy(iommufd, id)
    };
    // One of each first, so that neither figure pays for first use.
    vdevice_pair()?;
    ioas_pair()?;
    let t_vdev = time(n, vdevice_pair)?;
    let t_ioas = time(n, ioas_pair)?;
    println!(
        "bench: vdevice alloc+destroy {:.0} pairs/s; ioas alloc+destroy {:.0} pairs/s; ratio {:.2} (goal <= 1.2)",
        rate(n, t_vdev),
        rate(n, t_ioas),
        t_vdev.as_secs_f64() / t_ioas.as_secs_f64().max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// N × GET_STATE on the bound vDEVICE; the time per request.
fn get_state_loop(s: &Session, vdevice: u32, cfg: &Config) -> Result<Duration> {
    let ext = s.extension().ok_or_else(|| Error::Invalid("no extension".into()))?;
    let tdi = u32::try_from(cfg.virt_id).map_err(|_| Error::Invalid("virt_id is no TDI id".into()))?;
    let req = GuestRequest::new(GuestOp::GetState, tdi);
    let bytes = req.encode();
    let mut resp = [0u8; GUEST_STATE_LEN];
    let mut one = || -> Result<()> {
        let reply = ext.tsm_req(vdevice, req.op.class(), &bytes, &mut resp)?;
        if reply.tsm_code != 0 {
            return Err(Error::Tsm { what: "GET_STATE".into(), code: reply.tsm_code });
        }
        Ok(())
    };
    one()?;
    let t = time(cfg.iterations, one)?;
    println!("bench: tsm_req get_state {:.0} req/s", rate(cfg.iterations, t));
    Ok(t / cfg.iterations.max(1))
}

/// The measurements, with the device connected and assigned.
fn measure(s: &mut Session, bdf: &Bdf, cfg: &Config) -> Result<()> {
    s.open()?;
    s.vfio(bdf)?;
    s.exec(Step::Vm)?;
    s.exec(Step::Viommu)?;
    alloc_pairs(s, bdf, cfg)?;

    let mut window = kmem::Window::new(Path::new(kmem::TRACING));
    if let Some(w) = &mut window {
        w.start()?;
    }
    let vdevice = s.exec(Step::Vdevice { bdf: bdf.clone(), virt_id: cfg.virt_id })?.id;
    let vdevice = vdevice.ok_or_else(|| Error::Invalid("the vdevice step made no vDEVICE".into()))?;
    s.exec(Step::Bind { id: Some(vdevice), mmio_offset: 0 })?;
    match &mut window {
        Some(w) => {
            let held = w.stop()?;
            println!(
                "bench: memory of one bound vDEVICE (alloc + bind, with its VM's first-bind state): \
                 {} bytes asked for without the debug kernel's own records ({} with them, {} given), \
                 in {} objects, + {} pages (goal <= 4096 bytes)",
                held.bytes_req - held.debug_bytes,
                held.bytes_req,
                held.bytes_alloc,
                held.objects,
                held.pages
            );
            for (site, n, bytes) in &held.sites {
                println!("bench:   {bytes:6} bytes in {n:2} objects from {site}");
            }
        }
        None => println!("bench: memory skipped: no kmem trace events in {} (the DEBUG=1 kernel has them)", kmem::TRACING),
    }
    s.exec(Step::Req { id: Some(vdevice), req: Req::State })?;
    let per_req = get_state_loop(s, vdevice, cfg)?;

    if cfg.doe_anchor.exists() {
        let (count, ns) = doe_anchor(&cfg.doe_anchor, bdf, cfg.iterations)?;
        let per_doe = ns as f64 / count as f64;
        println!(
            "bench: bare doe {:.0} exchanges/s; tsm_req/doe time ratio {:.2} (goal <= 1.5)",
            1e9 * count as f64 / (ns as f64).max(1.0),
            per_req.as_nanos() as f64 / per_doe.max(1.0)
        );
    } else {
        println!("bench: bare doe skipped: {} is absent", cfg.doe_anchor.display());
    }

    if let Some(w) = &mut window {
        w.start()?;
    }
    s.exec(Step::Unbind { id: Some(vdevice) })?;
    s.exec(Step::Destroy { target: Target::Id(vdevice) })?;
    if let Some(w) = &mut window {
        let held = w.stop()?;
        println!(
            "bench: unbind + destroy left {} bytes allocated without the debug kernel's own records \
             ({} with them, in {} objects) + {} pages",
            held.bytes_req - held.debug_bytes,
            held.bytes_req,
            held.objects,
            held.pages
        );
        for (site, n, bytes) in &held.sites {
            println!("bench:   {bytes:6} bytes in {n:2} objects from {site}");
        }
    }
    s.exec(Step::Destroy { target: Target::Viommu })?;
    s.exec(Step::Close)?;
    Ok(())
}

/// Runs the benchmark on `bdf`, connecting it first when it is not.
pub fn run(opts: Options, bdf: &Bdf, cfg: &Config) -> Result<()> {
    if cfg.iterations == 0 {
        return Err(Error::Invalid("bench needs at least one iteration".into()));
    }
    let connected = opts.sysfs.status(bdf)?.connect.is_some_and(|c| !c.is_empty());
    let mut s = Session::new(opts);
    if !connected {
        s.exec(Step::Connect { bdf: bdf.clone() })?;
    }
    let result = measure(&mut s, bdf, cfg);
    s.close();
    if !connected {
        s.exec(Step::Disconnect { bdf: bdf.clone() })?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_anchor_line() {
        assert_eq!(parse_doe_line("doe 1000 2500000\n").ok(), Some((1000, 2_500_000)));
        for bad in ["", "doe", "doe 10", "doe 0 5", "dough 1 2", "doe 1 2 3", "doe x 2", "doe 1 -2"] {
            assert!(parse_doe_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(rate(1000, Duration::from_millis(500)), 2000.0);
        assert!(rate(1, Duration::ZERO).is_finite());
    }
}
