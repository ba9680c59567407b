// SPDX-License-Identifier: GPL-2.0

//! Fuzzes DOE object headers and discovery requests.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::doe::{discover, DiscoveryRequest, ObjectHeader, TYPE_DISCOVERY, VENDOR_ID_PCI_SIG};

fuzz_target!(|data: &[u8]| {
    if let Ok((header, payload)) = ObjectHeader::parse(data) {
        assert_eq!(header.dwords() * 4, data.len());
        if let Ok(request) = DiscoveryRequest::parse(payload) {
            let answer = discover(&[(VENDOR_ID_PCI_SIG, TYPE_DISCOVERY)], request.index);
            assert_eq!(answer.next_index, 0);
        }
    }
});
