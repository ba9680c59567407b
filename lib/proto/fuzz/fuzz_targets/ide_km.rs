// SPDX-License-Identifier: GPL-2.0

//! Fuzzes IDE_KM object parsing; whatever parses must encode back to the
//! same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::ide_km::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::parse(data) {
        let mut buf = [0u8; 2048];
        let len = message.encode(&mut buf).expect("a parsed object encodes");
        assert_eq!(&buf[..len], data);
    }
});
