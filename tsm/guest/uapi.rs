// SPDX-License-Identifier: GPL-2.0

//! The uAPI structs the driver sends and receives as bytes.

use core::mem::size_of;

use kernel::transmute::{AsBytes, FromBytes};

use crate::b;

// SAFETY: u8, u8, u16, u32, u64, u64: no padding; any bytes are a value.
unsafe impl AsBytes for b::teeio_tsm_guest_req {}
// SAFETY: three u8 arrays, u64, u32, u32: no padding; any bytes are a value.
unsafe impl FromBytes for b::teeio_tsm_guest_evidence {}
// SAFETY: eight u32: no padding.
unsafe impl AsBytes for b::teeio_guest_exit {}
// SAFETY: u32, u32, i32, u32, u64: no padding; any bytes are a value.
unsafe impl FromBytes for b::teeio_guest_resume {}

const _: () = assert!(size_of::<b::teeio_tsm_guest_req>() == 24);
const _: () = assert!(size_of::<b::teeio_tsm_guest_evidence>() == 3 * 48 + 16);
const _: () = assert!(size_of::<b::teeio_guest_exit>() == 32);
const _: () = assert!(size_of::<b::teeio_guest_resume>() == 24);
