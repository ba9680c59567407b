// SPDX-License-Identifier: GPL-2.0

//! Fuzzes SPDM request parsing, plain and with DOE padding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::{doe, spdm};

fuzz_target!(|data: &[u8]| {
    let _ = doe::parse_padded(data, spdm::Request::parse);
    if let Ok((_, request)) = spdm::Request::parse(data) {
        let mut buf = [0u8; 70000];
        if let Ok(len) = request.encode(&mut buf) {
            let again = spdm::Request::parse(&buf[..len]).map(|(_, r)| r);
            assert_eq!(again, Ok(request));
        }
    }
});
