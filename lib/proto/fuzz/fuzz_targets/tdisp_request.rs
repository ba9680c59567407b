// SPDX-License-Identifier: GPL-2.0

//! Fuzzes TDISP request parsing; whatever parses must encode back to the
//! same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::tdisp::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, request)) = Request::parse(data) {
        let mut buf = [0u8; 1024];
        let len = request.encode(header.interface_id, &mut buf).expect("a parsed request encodes");
        // Any 1.x version parses; encoding speaks 1.0.
        assert_eq!(buf[0], teeio_proto::tdisp::TDISP_VERSION_1_0);
        assert_eq!(&buf[1..len], &data[1..]);
    }
});
