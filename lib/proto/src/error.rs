// SPDX-License-Identifier: GPL-2.0

//! Errors of the protocol parsers.

use core::fmt;

/// Why a message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the layout it must hold.
    Truncated {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The message names a protocol version this library does not speak.
    UnsupportedVersion(u8),
    /// The message code is not one the specification defines.
    UnknownCode(u8),
    /// A field the specification reserves is not zero.
    ReservedNotZero,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { needed, got } => {
                write!(f, "message truncated: {got} bytes, layout needs {needed}")
            }
            Error::UnsupportedVersion(v) => write!(f, "unsupported version {:#04x}", v),
            Error::UnknownCode(c) => write!(f, "unknown message code {:#04x}", c),
            Error::ReservedNotZero => f.write_str("reserved field is not zero"),
        }
    }
}
