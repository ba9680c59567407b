// SPDX-License-Identifier: GPL-2.0

//! Errors of the protocol parsers and encoders.

use core::fmt;

/// Why a message was refused, or could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the layout it must hold.
    Truncated {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The message is longer than its layout; fixed-size messages must match.
    TrailingBytes {
        /// Bytes the layout has.
        expected: usize,
        /// Bytes the message has.
        got: usize,
    },
    /// The output buffer cannot hold the message.
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The message names a protocol version this library does not speak.
    UnsupportedVersion(u8),
    /// The message code is not one the specification defines.
    UnknownCode(u8),
    /// The code is defined but not allowed here (a response where a request
    /// belongs, or the reverse).
    UnexpectedCode(u8),
    /// A field the specification reserves is not zero.
    ReservedNotZero,
    /// A count or length field disagrees with the message's size.
    InconsistentLength,
    /// A field holds a value the specification does not allow.
    InvalidField,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { needed, got } => {
                write!(f, "message truncated: {got} bytes, layout needs {needed}")
            }
            Error::TrailingBytes { expected, got } => {
                write!(f, "message too long: {got} bytes, layout has {expected}")
            }
            Error::BufferTooSmall { needed, got } => {
                write!(f, "buffer too small: {got} bytes, message needs {needed}")
            }
            Error::UnsupportedVersion(v) => write!(f, "unsupported version {:#04x}", v),
            Error::UnknownCode(c) => write!(f, "unknown message code {:#04x}", c),
            Error::UnexpectedCode(c) => write!(f, "message code {:#04x} not allowed here", c),
            Error::ReservedNotZero => f.write_str("reserved field is not zero"),
            Error::InconsistentLength => f.write_str("length field disagrees with message size"),
            Error::InvalidField => f.write_str("field value not allowed"),
        }
    }
}

// The kernel prints through its own `Display` trait.
#[cfg(teeio_kernel)]
impl kernel::fmt::Display for Error {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
