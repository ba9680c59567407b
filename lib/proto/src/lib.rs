// SPDX-License-Identifier: GPL-2.0

//! teeio protocol library: PCIe TDISP, SPDM and IDE_KM message layouts.
//!
//! `no_std`, no allocation, no `unsafe`: every message is a `zerocopy` layout
//! checked against the byte tables of the specifications, and every parser
//! returns a typed [`Error`] instead of panicking.
//!
//! The same files are compiled into kernel modules. A module mounts each file at
//! its crate root under the same name (`#[path = ".../tdisp.rs"] mod tdisp;`),
//! so files refer to each other as `crate::<file>`. Kbuild sets
//! `--cfg teeio_kernel`; the test modules then become KUnit suites.

#![no_std]

pub mod accept;
pub mod doe;
pub mod error;
pub mod ide_km;
pub mod spdm;
pub mod tdi_state;
pub mod tdisp;
pub mod tdisp_report;
pub mod wire;

pub use error::Error;
