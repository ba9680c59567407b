// SPDX-License-Identifier: GPL-2.0

//! The test machine: a q35 PC with an Intel IOMMU and PCIe endpoints behind
//! root ports, booted from the bench kernel and initramfs.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the guest CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    /// Hardware virtualization through /dev/kvm.
    Kvm,
    /// QEMU's software emulation.
    Tcg,
}

/// One PCIe endpoint, alone behind its own root port.
struct Endpoint {
    /// QEMU device and properties.
    device: &'static str,
}

/// The endpoints, on buses 01, 02 and 03 in this order. vfio-pci can bind any
/// of them; the guest kernel has no driver for them, so none is claimed.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint { device: "nvme,serial=teeio0" },
    Endpoint { device: "e1000e" },
    Endpoint { device: "nvme,serial=teeio1" },
];

/// Everything needed to boot the test machine once.
pub struct Machine<'a> {
    /// The bzImage.
    pub kernel: &'a Path,
    /// The gzipped cpio initramfs.
    pub initrd: &'a Path,
    /// Extra kernel command line.
    pub append: String,
    /// Where the guest's result channel (its second serial port) goes.
    pub results: PathBuf,
    /// How the CPU runs.
    pub accel: Accel,
}

impl Machine<'_> {
    /// The QEMU command line; console on stdout, results to a file.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35,kernel-irqchip=split", "-smp", "2", "-m", "1536"]);
        match self.accel {
            Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host"]),
            Accel::Tcg => cmd.args(["-accel", "tcg", "-cpu", "max"]),
        };
        cmd.args(["-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot"]);
        cmd.args(["-device", "intel-iommu,intremap=on,caching-mode=on"]);
        for (i, endpoint) in ENDPOINTS.iter().enumerate() {
            let port = format!("rp{}", i + 1);
            cmd.arg("-device").arg(format!(
                "pcie-root-port,id={port},bus=pcie.0,chassis={},addr={:#x}",
                i + 1,
                0x10 + i
            ));
            cmd.arg("-device").arg(format!("{},bus={port}", endpoint.device));
        }
        cmd.args(["-serial", "stdio"]);
        cmd.arg("-serial").arg(format!("file:{}", self.results.display()));
        cmd.arg("-kernel").arg(self.kernel);
        cmd.arg("-initrd").arg(self.initrd);
        cmd.arg("-append").arg(format!(
            "console=ttyS0 panic=-1 oops=panic intel_iommu=on loglevel=7 {}",
            self.append
        ));
        cmd
    }
}

/// Whether /dev/kvm can be opened for use at all; a probe boot decides the rest.
pub fn kvm_device_usable() -> bool {
    OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}
