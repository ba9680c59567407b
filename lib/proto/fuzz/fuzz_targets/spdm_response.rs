// SPDX-License-Identifier: GPL-2.0

//! Fuzzes SPDM response parsing and the measurement block iterator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::spdm::{self, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, response)) = Response::parse(data) {
        if let Response::Measurements(m) = response {
            assert_eq!(m.blocks().filter(|b| b.is_ok()).count(), m.number_of_blocks as usize);
        }
        if let Response::VendorDefined(vd) = response {
            let _ = vd.pci_sig_protocol();
        }
        let mut buf = [0u8; 70000];
        if let Ok(len) = response.encode(&mut buf) {
            let again = Response::parse(&buf[..len]).map(|(_, r)| r);
            assert_eq!(again, Ok(response));
        }
    }
    let _ = spdm::MEASUREMENTS_OP_ALL;
});
