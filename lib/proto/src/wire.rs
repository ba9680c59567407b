// SPDX-License-Identifier: GPL-2.0

//! Reading and writing wire layouts: bounds-checked splits and an encoder
//! into a caller's buffer. No allocation, no panics.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;

/// Splits a `T` off the front of `buf`.
pub fn take<T>(buf: &[u8]) -> Result<(&T, &[u8]), Error>
where
    T: FromBytes + KnownLayout + Immutable + Unaligned,
{
    T::ref_from_prefix(buf).map_err(|_| Error::Truncated {
        needed: core::mem::size_of::<T>(),
        got: buf.len(),
    })
}

/// Reads `buf` as exactly one `T`.
pub fn exact<T>(buf: &[u8]) -> Result<&T, Error>
where
    T: FromBytes + KnownLayout + Immutable + Unaligned,
{
    let (value, rest) = take::<T>(buf)?;
    if !rest.is_empty() {
        return Err(Error::TrailingBytes {
            expected: core::mem::size_of::<T>(),
            got: buf.len(),
        });
    }
    Ok(value)
}

/// Splits `len` bytes off the front of `buf`.
pub fn take_bytes(buf: &[u8], len: usize) -> Result<(&[u8], &[u8]), Error> {
    if buf.len() < len {
        return Err(Error::Truncated { needed: len, got: buf.len() });
    }
    Ok(buf.split_at(len))
}

/// Fails unless `buf` is empty.
pub fn end(buf: &[u8], consumed: usize) -> Result<(), Error> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(Error::TrailingBytes { expected: consumed, got: consumed + buf.len() })
    }
}

/// Appends layouts to a caller's buffer.
///
/// # Invariants
///
/// `len <= buf.len()`.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        // INVARIANT: 0 <= any length.
        Self { buf, len: 0 }
    }

    /// Appends the bytes of `value`.
    pub fn put<T: IntoBytes + Immutable + ?Sized>(&mut self, value: &T) -> Result<&mut Self, Error> {
        self.put_bytes(value.as_bytes())
    }

    /// Appends `bytes`.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<&mut Self, Error> {
        let end = self.len + bytes.len();
        let Some(dst) = self.buf.get_mut(self.len..end) else {
            return Err(Error::BufferTooSmall { needed: end, got: self.buf.len() });
        };
        dst.copy_from_slice(bytes);
        // INVARIANT: `get_mut` succeeded, so `end <= buf.len()`.
        self.len = end;
        Ok(self)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Defines a protocol code enum with a checked conversion from its wire value.
macro_rules! wire_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ty {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr($repr)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl $name {
            /// Every code, in specification order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
        }

        impl TryFrom<$repr> for $name {
            type Error = $repr;

            /// Maps a wire value to its code; gives the value back when unknown.
            fn try_from(value: $repr) -> Result<Self, $repr> {
                match value {
                    $($value => Ok($name::$variant),)*
                    other => Err(other),
                }
            }
        }
    };
}
pub(crate) use wire_codes;

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_wire))]
mod tests {
    use super::*;
    use zerocopy::byteorder::little_endian::U16;

    #[test]
    fn take_and_exact_check_lengths() {
        let buf = [1u8, 2, 3];
        assert_eq!(take::<U16>(&buf).map(|(v, r)| (v.get(), r.len())), Ok((0x0201, 1)));
        assert_eq!(take::<U16>(&buf[..1]).map(|_| ()), Err(Error::Truncated { needed: 2, got: 1 }));
        assert_eq!(exact::<U16>(&buf).map(|_| ()), Err(Error::TrailingBytes { expected: 2, got: 3 }));
        assert_eq!(exact::<U16>(&buf[1..]).map(|v| v.get()), Ok(0x0302));
        assert_eq!(take_bytes(&buf, 4).map(|_| ()), Err(Error::Truncated { needed: 4, got: 3 }));
        assert_eq!(end(&buf[3..], 3), Ok(()));
        assert_eq!(end(&buf[2..], 2), Err(Error::TrailingBytes { expected: 2, got: 3 }));
    }

    #[test]
    fn writer_stops_at_the_end() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert!(w.put(&U16::new(0x0201)).is_ok());
        assert_eq!(w.put(&U16::new(0x0403)).map(|_| ()), Err(Error::BufferTooSmall { needed: 4, got: 3 }));
        assert!(w.put_bytes(&[9]).is_ok());
        assert_eq!(w.written(), &[1, 2, 9][..]);
        assert_eq!(w.len(), 3);
    }
}
