// SPDX-License-Identifier: GPL-2.0

//! PCI and PCI/TSM sysfs: connecting a device to a TSM, reading its link
//! state, and moving it between drivers. Each call is one stateless step.

use core::fmt;
use core::str::FromStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The TSM a device connects to unless told otherwise.
pub const DEFAULT_TSM: &str = "tsm0";

/// The driver that exposes a device to a VMM.
pub const VFIO_PCI: &str = "vfio-pci";

/// teeio's VFIO PCI variant driver, which exports a bound TDI's MMIO.
pub const TEEIO_VFIO_PCI: &str = "teeio-vfio-pci";

/// A PCI function address, `ssss:bb:dd.f`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bdf(String);

impl Bdf {
    /// The canonical form, as sysfs names the device.
    pub fn as_str(&self) -> &str {
        &self.0
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

    /// The BAR of the device holding host physical address `addr`, and the
    /// offset of `addr` in it (from the `resource` file).
    pub fn bar_of(&self, bdf: &Bdf, addr: u64) -> Result<(u32, u64)> {
        let path = self.device_dir(bdf).join("resource");
        let text = fs::read_to_string(&path).map_err(|e| Error::file("read", &path, e))?;
        let hex = |t: &str| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok();
        for (bar, line) in text.lines().take(6).enumerate() {
            let mut f = line.split_whitespace().map(hex);
            if let (Some(Some(start)), Some(Some(end))) = (f.next(), f.next()) {
                if start != 0 && (start..=end).contains(&addr) {
                    return Ok((bar as u32, addr - start));
                }
            }
        }
        Err(Error::Invalid(format!("{bdf}: no BAR holds {addr:#x}")))
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
