// SPDX-License-Identifier: GPL-2.0

//! IDE key management (IDE_KM, PCIe r7.0, section 6.33.3).
//!
//! IDE_KM objects ride in SPDM VENDOR_DEFINED messages with the PCI-SIG
//! protocol id 0, like TDISP does with protocol id 1. Every object starts
//! with its object id; a QUERY_RESP carries the port's IDE capability
//! registers, a KEY_PROG the key and the initial IV.

use zerocopy::byteorder::little_endian::U32;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::Error;
use crate::wire::{exact, take, wire_codes, Writer};

wire_codes! {
    /// IDE_KM object ids (PCIe r7.0, table 6-52).
    pub enum ObjectId: u8 {
        /// QUERY.
        Query = 0x00,
        /// QUERY_RESP.
        QueryResp = 0x01,
        /// KEY_PROG.
        KeyProg = 0x02,
        /// KP_ACK.
        KpAck = 0x03,
        /// K_SET_GO.
        KSetGo = 0x04,
        /// K_SET_STOP.
        KSetStop = 0x05,
        /// K_GOSTOP_ACK.
        KGostopAck = 0x06,
    }
}

/// Key sub-stream byte: bit 0 key set, bit 1 direction, bits 7:4 sub-stream.
pub mod key_sub_stream {
    /// Key set K1 (else K0).
    pub const KEY_SET_K1: u8 = 1 << 0;
    /// Transmit direction (else receive).
    pub const DIRECTION_TX: u8 = 1 << 1;
    /// Posted requests sub-stream.
    pub const SUB_STREAM_PR: u8 = 0x00;
    /// Non-posted requests sub-stream.
    pub const SUB_STREAM_NPR: u8 = 0x10;
    /// Completions sub-stream.
    pub const SUB_STREAM_CPL: u8 = 0x20;
    /// Bits that may be set.
    pub const VALID: u8 = 0x33;
    /// Highest sub-stream value (completions).
    pub const SUB_STREAM_MAX: u8 = 2;
}

/// KP_ACK status values.
pub mod kp_ack_status {
    /// The key was programmed.
    pub const SUCCESS: u8 = 0x00;
    /// The KEY_PROG had the wrong length.
    pub const INCORRECT_LENGTH: u8 = 0x01;
    /// The port index does not exist.
    pub const UNSUPPORTED_PORT_INDEX: u8 = 0x02;
    /// A field value is not supported.
    pub const UNSUPPORTED_VALUE: u8 = 0x03;
    /// Any other failure.
    pub const UNSPECIFIED_FAILURE: u8 = 0x04;
}

/// QUERY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Query {
    /// Reserved.
    pub reserved: u8,
    /// Which port (0: the function's own).
    pub port_index: u8,
}

/// QUERY_RESP fixed part; the port's IDE extended capability registers follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QueryResp {
    /// Reserved.
    pub reserved: u8,
    /// The port queried.
    pub port_index: u8,
    /// Device and function number of the port.
    pub dev_func_num: u8,
    /// Bus number of the port.
    pub bus_num: u8,
    /// Segment of the port.
    pub segment: u8,
    /// Highest valid port index.
    pub max_port_index: u8,
}

/// The stream-addressing part shared by KEY_PROG, K_SET_GO, K_SET_STOP and
/// K_GOSTOP_ACK; in KP_ACK the second reserved byte is the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StreamKey {
    /// Reserved.
    pub reserved: [u8; 2],
    /// The IDE stream.
    pub stream_id: u8,
    /// Reserved (KP_ACK: status).
    pub status: u8,
    /// [`key_sub_stream`] bits.
    pub key_sub_stream: u8,
    /// Which port.
    pub port_index: u8,
}

impl StreamKey {
    /// The key of `stream_id` selected by `key_sub_stream`, on port 0.
    pub fn new(stream_id: u8, key_sub_stream: u8) -> Self {
        Self { reserved: [0; 2], stream_id, status: 0, key_sub_stream, port_index: 0 }
    }
}

/// Dense index (0..12) of the key a [`key_sub_stream`] byte selects:
/// sub-stream * 4 + direction * 2 + key set.
pub fn key_index(key_sub_stream: u8) -> usize {
    let sub = usize::from(key_sub_stream >> 4) & 0x3;
    let dir = usize::from(key_sub_stream >> 1) & 1;
    let set = usize::from(key_sub_stream) & 1;
    sub * 4 + dir * 2 + set
}

/// The key material of KEY_PROG: an AES-256-GCM key and the IV's invocation field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct KeyMaterial {
    /// The key, 8 dwords.
    pub key: [U32; 8],
    /// The initial IV invocation field, 2 dwords.
    pub ifv: [U32; 2],
}

impl KeyMaterial {
    /// Key and invocation field from ten dwords, key first.
    pub fn from_words(words: &[u32; 10]) -> Self {
        Self {
            key: core::array::from_fn(|i| U32::new(words[i])),
            ifv: core::array::from_fn(|i| U32::new(words[8 + i])),
        }
    }

    /// The ten dwords, key first.
    pub fn words(&self) -> [u32; 10] {
        core::array::from_fn(|i| if i < 8 { self.key[i].get() } else { self.ifv[i - 8].get() })
    }
}

/// An IDE_KM object, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// QUERY.
    Query(&'a Query),
    /// QUERY_RESP with the IDE capability registers.
    QueryResp(&'a QueryResp, &'a [U32]),
    /// KEY_PROG.
    KeyProg(&'a StreamKey, &'a KeyMaterial),
    /// KP_ACK (status in `StreamKey::status`).
    KpAck(&'a StreamKey),
    /// K_SET_GO.
    KSetGo(&'a StreamKey),
    /// K_SET_STOP.
    KSetStop(&'a StreamKey),
    /// K_GOSTOP_ACK.
    KGostopAck(&'a StreamKey),
}

impl<'a> Message<'a> {
    /// Parses one object: its object id, then its fixed layout.
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        let (&id, body) = buf.split_first().ok_or(Error::Truncated { needed: 1, got: 0 })?;
        let id = ObjectId::try_from(id).map_err(Error::UnknownCode)?;
        let message = match id {
            ObjectId::Query => Message::Query(exact(body)?),
            ObjectId::QueryResp => {
                let (resp, regs) = take::<QueryResp>(body)?;
                let regs = <[U32] as zerocopy::FromBytes>::ref_from_bytes(regs)
                    .map_err(|_| Error::InconsistentLength)?;
                Message::QueryResp(resp, regs)
            }
            ObjectId::KeyProg => {
                let (key, material) = take::<StreamKey>(body)?;
                Message::KeyProg(key, exact(material)?)
            }
            ObjectId::KpAck => Message::KpAck(exact(body)?),
            ObjectId::KSetGo => Message::KSetGo(exact(body)?),
            ObjectId::KSetStop => Message::KSetStop(exact(body)?),
            ObjectId::KGostopAck => Message::KGostopAck(exact(body)?),
        };
        if let Some(key) = message.stream_key() {
            let status_is_reserved = !matches!(message, Message::KpAck(_));
            if key.reserved != [0; 2]
                || (status_is_reserved && key.status != 0)
                || key.key_sub_stream & !key_sub_stream::VALID != 0
            {
                return Err(Error::ReservedNotZero);
            }
            if key.key_sub_stream >> 4 > key_sub_stream::SUB_STREAM_MAX {
                return Err(Error::InvalidField);
            }
        }
        Ok(message)
    }

    /// The object id.
    pub fn object_id(&self) -> ObjectId {
        match self {
            Message::Query(_) => ObjectId::Query,
            Message::QueryResp(..) => ObjectId::QueryResp,
            Message::KeyProg(..) => ObjectId::KeyProg,
            Message::KpAck(_) => ObjectId::KpAck,
            Message::KSetGo(_) => ObjectId::KSetGo,
            Message::KSetStop(_) => ObjectId::KSetStop,
            Message::KGostopAck(_) => ObjectId::KGostopAck,
        }
    }

    /// The stream addressing, for the objects that have it.
    pub fn stream_key(&self) -> Option<&'a StreamKey> {
        match *self {
            Message::KeyProg(key, _)
            | Message::KpAck(key)
            | Message::KSetGo(key)
            | Message::KSetStop(key)
            | Message::KGostopAck(key) => Some(key),
            Message::Query(_) | Message::QueryResp(..) => None,
        }
    }

    /// Writes the object into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.put_bytes(&[self.object_id() as u8])?;
        match *self {
            Message::Query(q) => {
                w.put(q)?;
            }
            Message::QueryResp(resp, regs) => {
                w.put(resp)?.put(regs)?;
            }
            Message::KeyProg(key, material) => {
                w.put(key)?.put(material)?;
            }
            Message::KpAck(key) | Message::KSetGo(key) | Message::KSetStop(key) | Message::KGostopAck(key) => {
                w.put(key)?;
            }
        }
        Ok(w.len())
    }
}

#[cfg(any(test, teeio_lib_kunit))]
#[cfg_attr(teeio_lib_kunit, kernel::prelude::kunit_tests(teeio_proto_ide_km))]
mod tests {
    use super::*;

    fn key(stream_id: u8, sub: u8) -> StreamKey {
        StreamKey::new(stream_id, sub)
    }

    #[test]
    fn key_index_is_dense_and_words_round_trip() {
        let mut seen = 0u32;
        for sub in [key_sub_stream::SUB_STREAM_PR, key_sub_stream::SUB_STREAM_NPR, key_sub_stream::SUB_STREAM_CPL] {
            for bits in 0..4u8 {
                seen |= 1 << key_index(sub | bits);
            }
        }
        assert_eq!(seen, 0xfff);
        let words = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(KeyMaterial::from_words(&words).words(), words);
    }

    #[test]
    fn layouts_match_spec() {
        assert_eq!(core::mem::size_of::<QueryResp>(), 6);
        assert_eq!(core::mem::size_of::<StreamKey>(), 6);
        assert_eq!(core::mem::size_of::<KeyMaterial>(), 40);
    }

    #[test]
    fn k_set_go_encodes_to_vector() {
        // K_SET_GO for stream 3, key set K0, TX, non-posted (libspdm
        // pci_ide_km_k_set_go_t; PCIe r7.0 figure 6-120).
        const VECTOR: [u8; 7] = [0x04, 0x00, 0x00, 0x03, 0x00, 0x12, 0x00];
        let k = key(3, key_sub_stream::DIRECTION_TX | key_sub_stream::SUB_STREAM_NPR);
        let mut buf = [0u8; 8];
        assert_eq!(Message::KSetGo(&k).encode(&mut buf), Ok(7));
        assert_eq!(&buf[..7], &VECTOR[..]);
        assert_eq!(Message::parse(&VECTOR), Ok(Message::KSetGo(&k)));
    }

    #[test]
    fn every_object_round_trips() {
        let q = Query { reserved: 0, port_index: 0 };
        let resp = QueryResp { reserved: 0, port_index: 0, dev_func_num: 0, bus_num: 1, segment: 0, max_port_index: 0 };
        let regs = [U32::new(0x0030_0001), U32::new(0x8000_0000)];
        let k = key(1, key_sub_stream::SUB_STREAM_CPL | key_sub_stream::KEY_SET_K1);
        let ack = StreamKey { status: kp_ack_status::SUCCESS, ..k };
        let material = KeyMaterial { key: [U32::new(0xa5a5_a5a5); 8], ifv: [U32::new(1), U32::new(0)] };
        let messages = [
            Message::Query(&q),
            Message::QueryResp(&resp, &regs),
            Message::KeyProg(&k, &material),
            Message::KpAck(&ack),
            Message::KSetGo(&k),
            Message::KSetStop(&k),
            Message::KGostopAck(&k),
        ];
        assert_eq!(messages.len(), ObjectId::ALL.len());
        for m in messages {
            let mut buf = [0u8; 64];
            let len = m.encode(&mut buf).unwrap_or(0);
            assert!(len > 1);
            assert_eq!(Message::parse(&buf[..len]), Ok(m));
            if !matches!(m, Message::QueryResp(..)) {
                assert!(Message::parse(&buf[..len - 1]).is_err());
            }
        }
    }

    #[test]
    fn rejects_bad_objects() {
        assert_eq!(Message::parse(&[]), Err(Error::Truncated { needed: 1, got: 0 }));
        assert_eq!(Message::parse(&[0x07, 0, 0]), Err(Error::UnknownCode(0x07)));
        // KEY_PROG without its key material.
        assert!(Message::parse(&[0x02, 0, 0, 1, 0, 0, 0]).is_err());
        // Reserved status byte set outside KP_ACK.
        assert_eq!(Message::parse(&[0x04, 0, 0, 1, 1, 0, 0]), Err(Error::ReservedNotZero));
        // Undefined key sub-stream bits.
        assert_eq!(Message::parse(&[0x05, 0, 0, 1, 0, 0x40, 0]), Err(Error::ReservedNotZero));
        // Sub-stream 3 is reserved.
        assert_eq!(Message::parse(&[0x05, 0, 0, 1, 0, 0x30, 0]), Err(Error::InvalidField));
        // QUERY_RESP registers must be whole dwords.
        assert_eq!(Message::parse(&[0x01, 0, 0, 0, 1, 0, 0, 0xff]), Err(Error::InconsistentLength));
    }
}
