// SPDX-License-Identifier: GPL-2.0

//! PCI and PCI/TSM sysfs: connecting a device to a TSM, reading its link
//! state, moving it between drivers, and the guest side's per-device
//! directory of the guest TDISP driver (teeio_tdisp_guest). Each call is one
//! stateless step.

use core::fmt;
use core::str::FromStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tsm_req::{hex, parse_hex};

/// The TSM a device connects to unless told otherwise.
pub const DEFAULT_TSM: &str = "tsm0";

/// The driver that exposes a device to a VMM.
pub const VFIO_PCI: &str = "vfio-pci";

/// teeio's VFIO PCI variant driver, which exports a bound TDI's MMIO.
pub const TEEIO_VFIO_PCI: &str = "teeio-vfio-pci";

/// The device the guest TDISP driver registers its TSM for: the `device`
/// of its /sys/class/tsm/tsmN.
pub const GUEST_TSM_DEVICE: &str = "teeio-tdisp-guest";

/// IORESOURCE_MEM in a `resource` line's flags.
const IORESOURCE_MEM: u64 = 0x200;

/// A PCI function address, `ssss:bb:dd.f`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bdf(String);

impl Bdf {
    /// The canonical form, as sysfs names the device.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The routing id, bus << 8 | device << 3 | function.
    pub fn routing_id(&self) -> u16 {
        // The canonical form is ssss:bb:dd.f in hex.
        let field = |at: core::ops::Range<usize>| u16::from_str_radix(&self.0[at], 16).unwrap_or(0);
        field(5..7) << 8 | field(8..10) << 3 | field(11..12)
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Bdf {
    type Err = String;

    /// Takes `ssss:bb:dd.f` or `bb:dd.f` (segment 0), in hex.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is no PCI address ([ssss:]bb:dd.f)");
        let parts: Vec<&str> = s.split(':').collect();
        let (segment, bus, rest) = match parts.as_slice() {
            [bus, rest] => ("0", *bus, *rest),
            [segment, bus, rest] => (*segment, *bus, *rest),
            _ => return Err(bad()),
        };
        let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
        let hex = |v: &str, digits: usize, max: u32| -> Result<u32, String> {
            if v.is_empty() || v.len() > digits {
                return Err(bad());
            }
            u32::from_str_radix(v, 16).ok().filter(|n| *n <= max).ok_or_else(bad)
        };
        let (segment, bus, dev, func) =
            (hex(segment, 4, 0xffff)?, hex(bus, 2, 0xff)?, hex(dev, 2, 0x1f)?, hex(func, 1, 7)?);
        Ok(Self(format!("{segment:04x}:{bus:02x}:{dev:02x}.{func:x}")))
    }
}

/// The PCI/TSM state of a device as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `tsm/connect`: the TSM it is connected to, empty when none; `None`
    /// when the device has no PCI/TSM attributes.
    pub connect: Option<String>,
    /// `authenticated`: the TSM's name once SPDM authenticated it; `None`
    /// when the attribute is absent (no link TSM).
    pub authenticated: Option<String>,
    /// `tsm/bound`: the TSM its TDI is bound through; empty when unbound.
    pub bound: Option<String>,
    /// `tsm/dsm`: the function that is its DSM.
    pub dsm: Option<String>,
    /// The driver bound to it.
    pub driver: Option<String>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<&str>| match v {
            None => "(absent)".to_owned(),
            Some("") => "-".to_owned(),
            Some(v) => v.to_owned(),
        };
        write!(
            f,
            "connect {}, authenticated {}, bound {}, dsm {}, driver {}",
            show(self.connect.as_deref()),
            show(self.authenticated.as_deref()),
            show(self.bound.as_deref()),
            show(self.dsm.as_deref()),
            self.driver.as_deref().unwrap_or("-")
        )
    }
}

/// The sysfs tree the steps act on.
#[derive(Clone, Debug)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Self::new("/sys")
    }
}

/// Writes `value` in one write(), as sysfs stores want it.
fn write_attr(path: &Path, value: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::file("open", path, e))?;
    f.write_all(value.as_bytes()).map_err(|e| Error::file("write", path, e))
}

/// An attribute's value without its trailing newline.
fn read_attr(path: &Path) -> Result<String> {
    let s = fs::read_to_string(path).map_err(|e| Error::file("read", path, e))?;
    Ok(s.trim_end_matches('\n').to_owned())
}

/// An attribute that may be absent.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match read_attr(path) {
        Err(Error::File { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => Ok(None),
        other => other.map(Some),
    }
}

impl Sysfs {
    /// sysfs mounted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The device's directory.
    pub fn device_dir(&self, bdf: &Bdf) -> PathBuf {
        self.root.join("bus/pci/devices").join(bdf.as_str())
    }

    /// Connects the device to `tsm`: SPDM, then a secure IDE stream.
    pub fn connect(&self, bdf: &Bdf, tsm: &str) -> Result<()> {
        write_attr(&self.device_dir(bdf).join("tsm/connect"), tsm)
    }

    /// Disconnects the device from `tsm`, unbinding its TDIs first.
    pub fn disconnect(&self, bdf: &Bdf, tsm: &str) -> Result<()> {
        write_attr(&self.device_dir(bdf).join("tsm/disconnect"), tsm)
    }

    /// The device's PCI/TSM state.
    pub fn status(&self, bdf: &Bdf) -> Result<Status> {
        let dir = self.device_dir(bdf);
        let driver = self.driver(bdf)?;
        Ok(Status {
            connect: read_optional(&dir.join("tsm/connect"))?,
            authenticated: read_optional(&dir.join("authenticated"))?,
            bound: read_optional(&dir.join("tsm/bound"))?,
            dsm: read_optional(&dir.join("tsm/dsm"))?,
            driver,
        })
    }

    /// The name of the driver bound to the device, if any.
    pub fn driver(&self, bdf: &Bdf) -> Result<Option<String>> {
        let dir = self.device_dir(bdf);
        if !dir.exists() {
            let enoent = rustix::io::Errno::NOENT.raw_os_error();
            return Err(Error::file("open", dir, std::io::Error::from_raw_os_error(enoent)));
        }
        let link = dir.join("driver");
        match fs::read_link(&link) {
            Ok(target) => Ok(target.file_name().map(|n| n.to_string_lossy().into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::file("read", link, e)),
        }
    }

    /// The six BARs of the `resource` file: start, end and flags, zero for
    /// an unused BAR or an unreadable line.
    fn bars(&self, bdf: &Bdf) -> Result<Vec<(u64, u64, u64)>> {
        let path = self.device_dir(bdf).join("resource");
        let text = fs::read_to_string(&path).map_err(|e| Error::file("read", &path, e))?;
        let hex = |t: &str| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok();
        Ok(text
            .lines()
            .take(6)
            .map(|line| {
                let mut f = line.split_whitespace().map(hex);
                match (f.next(), f.next(), f.next()) {
                    (Some(Some(start)), Some(Some(end)), Some(Some(flags))) => (start, end, flags),
                    _ => (0, 0, 0),
                }
            })
            .collect())
    }

    /// The BAR of the device holding host physical address `addr`, and the
    /// offset of `addr` in it (from the `resource` file).
    pub fn bar_of(&self, bdf: &Bdf, addr: u64) -> Result<(u32, u64)> {
        for (bar, (start, end, _)) in self.bars(bdf)?.into_iter().enumerate() {
            if start != 0 && (start..=end).contains(&addr) {
                return Ok((bar as u32, addr - start));
            }
        }
        Err(Error::Invalid(format!("{bdf}: no BAR holds {addr:#x}")))
    }

    /// The physical base address of the device's memory BAR `bar`.
    pub fn memory_bar(&self, bdf: &Bdf, bar: u32) -> Result<u64> {
        match self.bars(bdf)?.get(bar as usize) {
            Some(&(start, _, flags)) if start != 0 && flags & IORESOURCE_MEM != 0 => Ok(start),
            _ => Err(Error::Invalid(format!("{bdf}: BAR {bar} is no assigned memory BAR"))),
        }
    }

    /// Sets the device's driver_override, or clears it for `None`; probes
    /// nothing.
    pub fn set_driver_override(&self, bdf: &Bdf, driver: Option<&str>) -> Result<()> {
        write_attr(&self.device_dir(bdf).join("driver_override"), driver.unwrap_or("\n"))
    }

    /// The TSM the guest TDISP driver registered: the /sys/class/tsm entry
    /// whose device is [`GUEST_TSM_DEVICE`].
    pub fn guest_tsm(&self) -> Result<String> {
        let class = self.root.join("class/tsm");
        let entries = fs::read_dir(&class).map_err(|e| Error::file("read", &class, e))?;
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.map_err(|e| Error::file("read", &class, e))?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        names
            .into_iter()
            .find(|name| {
                fs::read_link(class.join(name).join("device"))
                    .is_ok_and(|target| target.file_name().is_some_and(|n| n == GUEST_TSM_DEVICE))
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no TSM of {GUEST_TSM_DEVICE} in {} (guest driver not loaded?)",
                    class.display()
                ))
            })
    }

    /// The guest TDISP driver's directory of the device.
    pub fn tsm_guest(&self, bdf: &Bdf) -> TsmGuest {
        TsmGuest { dir: self.device_dir(bdf).join("tsm_guest") }
    }

    /// The name of the device's VFIO cdev (`vfioN`), once vfio-pci drives it.
    pub fn vfio_cdev(&self, bdf: &Bdf) -> Result<Option<String>> {
        let dir = self.device_dir(bdf).join("vfio-dev");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::file("read", dir, e)),
        };
        for entry in entries {
            let name = entry.map_err(|e| Error::file("read", &dir, e))?.file_name().to_string_lossy().into_owned();
            if name.strip_prefix("vfio").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Moves the device to `driver` (driver_override, unbind, drivers_probe);
    /// the driver it had. Does nothing when `driver` drives it already.
    pub fn rebind(&self, bdf: &Bdf, driver: &str) -> Result<Option<String>> {
        let before = self.driver(bdf)?;
        if before.as_deref() == Some(driver) {
            return Ok(before);
        }
        let dir = self.device_dir(bdf);
        write_attr(&dir.join("driver_override"), driver)?;
        if before.is_some() {
            write_attr(&dir.join("driver/unbind"), bdf.as_str())?;
        }
        write_attr(&self.root.join("bus/pci/drivers_probe"), bdf.as_str())?;
        match self.driver(bdf)? {
            Some(now) if now == driver => Ok(before),
            now => Err(Error::Invalid(format!(
                "{bdf}: {driver} did not bind (driver now {})",
                now.as_deref().unwrap_or("none")
            ))),
        }
    }

    /// Undoes [`Sysfs::rebind`]: clears driver_override, unbinds the device
    /// and lets the PCI core probe it again; the driver it gets.
    pub fn release(&self, bdf: &Bdf) -> Result<Option<String>> {
        let dir = self.device_dir(bdf);
        write_attr(&dir.join("driver_override"), "\n")?;
        if self.driver(bdf)?.is_some() {
            write_attr(&dir.join("driver/unbind"), bdf.as_str())?;
        }
        write_attr(&self.root.join("bus/pci/drivers_probe"), bdf.as_str())?;
        self.driver(bdf)
    }
}

/// Where a device stands with the guest TDISP driver (`tsm_guest/state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestTdiState {
    /// Not locked: the TVM uses the device as a shared (untrusted) one.
    Shared,
    /// Locked (CONFIG_LOCKED through the guest's TSM), not yet accepted.
    Locked,
    /// Accepted into the TVM: private MMIO and DMA, running.
    Accepted,
}

impl FromStr for GuestTdiState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "shared" => Ok(GuestTdiState::Shared),
            "locked" => Ok(GuestTdiState::Locked),
            "accepted" => Ok(GuestTdiState::Accepted),
            other => Err(format!("'{other}' is no guest TDI state (shared, locked, accepted)")),
        }
    }
}

impl fmt::Display for GuestTdiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuestTdiState::Shared => "shared",
            GuestTdiState::Locked => "locked",
            GuestTdiState::Accepted => "accepted",
        })
    }
}

/// One line of `tsm_guest/measurements`: a measurement block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// The block's index.
    pub index: u32,
    /// Its value type, as the driver shows it.
    pub kind: String,
    /// The measurement.
    pub value: Vec<u8>,
}

/// One line of `tsm_guest/policy`: the value a measurement block must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The block's index.
    pub index: u32,
    /// The value it must have.
    pub value: Vec<u8>,
}

impl From<&Measurement> for Reference {
    fn from(m: &Measurement) -> Self {
        Self { index: m.index, value: m.value.clone() }
    }
}

/// Parses lines of whitespace-separated words, `words` to a line.
fn parse_lines<T>(
    what: &'static str,
    text: &str,
    words: usize,
    make: impl Fn(&[&str]) -> Result<T, String>,
) -> Result<Vec<T>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() != words {
                return Err(format!("'{l}': {} words, not {words}", w.len()));
            }
            make(&w)
        })
        .collect::<Result<_, String>>()
        .map_err(|detail| Error::Malformed { what, detail })
}

fn parse_index(s: &str) -> Result<u32, String> {
    let parsed = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    parsed.map_err(|e| format!("index '{s}': {e}"))
}

/// Parses `tsm_guest/measurements`: lines `INDEX TYPE HEX`.
pub fn parse_measurements(text: &str) -> Result<Vec<Measurement>> {
    parse_lines("tsm_guest/measurements", text, 3, |w| {
        Ok(Measurement { index: parse_index(w[0])?, kind: w[1].to_owned(), value: parse_hex(w[2])? })
    })
}

/// Parses `tsm_guest/policy`: lines `INDEX HEX`.
pub fn parse_policy(text: &str) -> Result<Vec<Reference>> {
    parse_lines("tsm_guest/policy", text, 2, |w| Ok(Reference { index: parse_index(w[0])?, value: parse_hex(w[1])? }))
}

/// Reference values as `tsm_guest/policy` takes them; a lone newline, which
/// clears the policy, when there are none.
pub fn format_policy(refs: &[Reference]) -> String {
    if refs.is_empty() {
        return "\n".into();
    }
    refs.iter().map(|r| format!("{} {}\n", r.index, hex(&r.value))).collect()
}

/// A device's directory of the guest TDISP driver,
/// /sys/bus/pci/devices/BDF/tsm_guest: how the TVM locks, accepts and
/// unlocks the device through its guest TSM.
#[derive(Clone, Debug)]
pub struct TsmGuest {
    dir: PathBuf,
}

impl TsmGuest {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks the device through the guest TSM `tsm` (`lock`).
    pub fn lock(&self, tsm: &str) -> Result<()> {
        write_attr(&self.dir.join("lock"), tsm)
    }

    /// The TSM the device is locked through, if any.
    pub fn locked_by(&self) -> Result<Option<String>> {
        read_attr(&self.dir.join("lock")).map(|s| Some(s).filter(|s| !s.is_empty()))
    }

    /// Accepts the locked device into the TVM (`accept`).
    pub fn accept(&self) -> Result<()> {
        write_attr(&self.dir.join("accept"), "1")
    }

    /// Whether the device is accepted.
    pub fn accepted(&self) -> Result<bool> {
        let path = self.dir.join("accept");
        match read_attr(&path)?.as_str() {
            "0" => Ok(false),
            "1" => Ok(true),
            other => Err(Error::Malformed { what: "tsm_guest/accept", detail: format!("'{other}', not 0 or 1") }),
        }
    }

    /// Unlocks the device from the guest TSM `tsm` (`unlock`).
    pub fn unlock(&self, tsm: &str) -> Result<()> {
        write_attr(&self.dir.join("unlock"), tsm)
    }

    /// `state`.
    pub fn state(&self) -> Result<GuestTdiState> {
        read_attr(&self.dir.join("state"))?
            .parse()
            .map_err(|detail| Error::Malformed { what: "tsm_guest/state", detail })
    }

    /// `reason`: why the driver last refused, if it did.
    pub fn reason(&self) -> Result<Option<String>> {
        read_optional(&self.dir.join("reason")).map(|r| r.filter(|s| !s.is_empty()))
    }

    /// `measurements`, readable once locked.
    pub fn measurements(&self) -> Result<Vec<Measurement>> {
        parse_measurements(&read_attr(&self.dir.join("measurements"))?)
    }

    /// `policy`: the reference values the driver checks at accept.
    pub fn policy(&self) -> Result<Vec<Reference>> {
        parse_policy(&read_attr(&self.dir.join("policy"))?)
    }

    /// Replaces the reference values; none clears them.
    pub fn set_policy(&self, refs: &[Reference]) -> Result<()> {
        write_attr(&self.dir.join("policy"), &format_policy(refs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch sysfs tree, removed when dropped.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Self {
            let root = std::env::temp_dir().join(format!("teeio-vmm-sysfs-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).expect("scratch dir");
            Self(root)
        }

        fn file(&self, rel: &str, content: &str) {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
            fs::write(p, content).expect("write");
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn parses_bdfs() {
        let b: Bdf = "01:00.0".parse().expect("short form");
        assert_eq!(b.as_str(), "0000:01:00.0");
        let b: Bdf = "0001:1F:1f.7".parse().expect("long form");
        assert_eq!(b.to_string(), "0001:1f:1f.7");
        for bad in ["", "01:00", "1:2:3:4.0", "00:20.0", "00:00.8", "g0:00.0", "00000:00:00.0", "00:00.", "00:00.00"] {
            assert!(bad.parse::<Bdf>().is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_and_status() {
        let t = Tree::new("status");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:01:00.0".parse().expect("bdf");
        let dev = "bus/pci/devices/0000:01:00.0";
        t.file(&format!("{dev}/tsm/connect"), "tsm0\n");
        t.file(&format!("{dev}/authenticated"), "tsm0\n");
        t.file(&format!("{dev}/tsm/dsm"), "0000:01:00.0\n");
        let s = sys.status(&bdf).expect("status");
        assert_eq!(s.connect.as_deref(), Some("tsm0"));
        assert_eq!(s.authenticated.as_deref(), Some("tsm0"));
        assert_eq!(s.bound, None);
        assert_eq!(s.driver, None);
        assert_eq!(s.to_string(), "connect tsm0, authenticated tsm0, bound (absent), dsm 0000:01:00.0, driver -");
        t.file(&format!("{dev}/tsm/disconnect"), "");
        sys.disconnect(&bdf, "tsm1").expect("disconnect");
        assert_eq!(fs::read_to_string(t.0.join(dev).join("tsm/disconnect")).ok().as_deref(), Some("tsm1"));
        let other: Bdf = "02:00.0".parse().expect("bdf");
        assert!(sys.status(&other).is_err());
        assert!(sys.connect(&other, "tsm0").is_err());
    }

    #[test]
    fn finds_the_bar_of_an_address() {
        let t = Tree::new("resource");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:01:00.0".parse().expect("bdf");
        t.file(
            "bus/pci/devices/0000:01:00.0/resource",
            "0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
             0x0000000060000000 0x0000000060003fff 0x0000000000140204\n\
             0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
        );
        assert_eq!(sys.bar_of(&bdf, 0x6000_0000).ok(), Some((1, 0)));
        assert_eq!(sys.bar_of(&bdf, 0x6000_3fff).ok(), Some((1, 0x3fff)));
        assert!(sys.bar_of(&bdf, 0x6000_4000).is_err());
        assert!(sys.bar_of(&bdf, 0).is_err());
    }

    #[test]
    fn routing_ids() {
        let id = |s: &str| s.parse::<Bdf>().expect("bdf").routing_id();
        assert_eq!(id("0000:03:00.0"), 0x300);
        assert_eq!(id("0000:01:00.0"), 0x100);
        assert_eq!(id("0001:ff:1f.7"), 0xffff);
        assert_eq!(id("00:02.1"), 0x11);
    }

    #[test]
    fn memory_bars() {
        let t = Tree::new("memory-bar");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:03:00.0".parse().expect("bdf");
        t.file(
            "bus/pci/devices/0000:03:00.0/resource",
            "0x00000000fe800000 0x00000000fe803fff 0x0000000000040200\n\
             0x000000000000c000 0x000000000000c03f 0x0000000000040101\n\
             0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
        );
        assert_eq!(sys.memory_bar(&bdf, 0).ok(), Some(0xfe80_0000));
        assert!(sys.memory_bar(&bdf, 1).is_err(), "an I/O BAR");
        assert!(sys.memory_bar(&bdf, 2).is_err(), "unused");
        assert!(sys.memory_bar(&bdf, 6).is_err(), "no such line");
        assert_eq!(sys.bar_of(&bdf, 0xfe80_0010).ok(), Some((0, 0x10)));
    }

    #[test]
    fn finds_the_guest_tsm() {
        let t = Tree::new("guest-tsm");
        let sys = Sysfs::new(&t.0);
        assert!(sys.guest_tsm().is_err(), "no class/tsm");
        t.file("devices/faux/teeio-tdisp-guest/uevent", "");
        t.file("devices/platform/teeio-tsm-emu/uevent", "");
        t.file("class/tsm/tsm0/uevent", "");
        t.file("class/tsm/tsm1/uevent", "");
        std::os::unix::fs::symlink("../../../devices/platform/teeio-tsm-emu", t.0.join("class/tsm/tsm0/device"))
            .expect("symlink");
        assert!(sys.guest_tsm().is_err(), "only the host's TSM");
        std::os::unix::fs::symlink("../../../devices/faux/teeio-tdisp-guest", t.0.join("class/tsm/tsm1/device"))
            .expect("symlink");
        assert_eq!(sys.guest_tsm().ok().as_deref(), Some("tsm1"));
    }

    #[test]
    fn guest_directory() {
        let t = Tree::new("tsm-guest");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:03:00.0".parse().expect("bdf");
        let dir = "bus/pci/devices/0000:03:00.0/tsm_guest";
        for f in ["lock", "unlock", "policy"] {
            t.file(&format!("{dir}/{f}"), "");
        }
        t.file(&format!("{dir}/accept"), "0\n");
        t.file(&format!("{dir}/state"), "locked\n");
        t.file(&format!("{dir}/reason"), "\n");
        t.file(&format!("{dir}/measurements"), "1 0x01 00ff\n2 raw a0b1c2\n");
        let g = sys.tsm_guest(&bdf);
        assert_eq!(g.locked_by().ok(), Some(None));
        g.lock("tsm1").expect("lock");
        assert_eq!(g.locked_by().ok(), Some(Some("tsm1".to_owned())));
        assert_eq!(g.state().ok(), Some(GuestTdiState::Locked));
        assert_eq!(g.accepted().ok(), Some(false));
        g.accept().expect("accept");
        assert_eq!(g.accepted().ok(), Some(true));
        assert_eq!(g.reason().ok(), Some(None));
        let m = g.measurements().expect("measurements");
        assert_eq!(m[1], Measurement { index: 2, kind: "raw".into(), value: vec![0xa0, 0xb1, 0xc2] });
        let refs: Vec<Reference> = m.iter().map(Reference::from).collect();
        g.set_policy(&refs).expect("policy");
        assert_eq!(fs::read_to_string(t.0.join(dir).join("policy")).ok().as_deref(), Some("1 00ff\n2 a0b1c2\n"));
        assert_eq!(g.policy().ok(), Some(refs));
        t.file(&format!("{dir}/policy"), "");
        g.set_policy(&[]).expect("clear");
        assert_eq!(fs::read_to_string(t.0.join(dir).join("policy")).ok().as_deref(), Some("\n"));
        assert_eq!(g.policy().ok(), Some(vec![]));
        t.file(&format!("{dir}/state"), "running\n");
        assert!(g.state().is_err());
        t.file(&format!("{dir}/reason"), "measurement 2 differs\n");
        assert_eq!(g.reason().ok(), Some(Some("measurement 2 differs".to_owned())));
        assert!(parse_measurements("1 0x01\n").is_err());
        assert!(parse_policy("x 00\n").is_err());
        assert!(parse_policy("1 0\n").is_err());
    }

    #[test]
    fn finds_the_vfio_cdev() {
        let t = Tree::new("vfio");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:01:00.0".parse().expect("bdf");
        let dev = "bus/pci/devices/0000:01:00.0";
        t.file(&format!("{dev}/config"), "");
        assert_eq!(sys.vfio_cdev(&bdf).ok(), Some(None));
        t.file(&format!("{dev}/vfio-dev/vfiox/dev"), "");
        assert_eq!(sys.vfio_cdev(&bdf).ok(), Some(None));
        t.file(&format!("{dev}/vfio-dev/vfio3/dev"), "511:3\n");
        assert_eq!(sys.vfio_cdev(&bdf).ok(), Some(Some("vfio3".to_owned())));
    }

    #[test]
    fn driver_from_the_link() {
        let t = Tree::new("driver");
        let sys = Sysfs::new(&t.0);
        let bdf: Bdf = "0000:01:00.0".parse().expect("bdf");
        t.file("bus/pci/drivers/vfio-pci/bind", "");
        t.file("bus/pci/devices/0000:01:00.0/config", "");
        assert_eq!(sys.driver(&bdf).ok(), Some(None));
        std::os::unix::fs::symlink(
            t.0.join("bus/pci/drivers/vfio-pci"),
            t.0.join("bus/pci/devices/0000:01:00.0/driver"),
        )
        .expect("symlink");
        assert_eq!(sys.driver(&bdf).ok(), Some(Some("vfio-pci".to_owned())));
        // Already on vfio-pci: nothing to write.
        assert_eq!(sys.rebind(&bdf, VFIO_PCI).ok(), Some(Some("vfio-pci".to_owned())));
        assert!(!t.0.join("bus/pci/devices/0000:01:00.0/driver_override").exists());
    }
}
