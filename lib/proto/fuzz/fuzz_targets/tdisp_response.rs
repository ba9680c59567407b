// SPDX-License-Identifier: GPL-2.0

//! Fuzzes TDISP response parsing; whatever parses must encode back to the
//! same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::tdisp::Response;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, response)) = Response::parse(data) {
        let mut buf = [0u8; 70000];
        let len = response.encode(header.interface_id, &mut buf).expect("a parsed response encodes");
        // Any 1.x version parses; encoding speaks 1.0.
        assert_eq!(buf[0], teeio_proto::tdisp::TDISP_VERSION_1_0);
        assert_eq!(&buf[1..len], &data[1..]);
    }
});
