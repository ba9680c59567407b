// SPDX-License-Identifier: GPL-2.0

//! Fuzzes interface report parsing and portion retrieval.

#![no_main]

use libfuzzer_sys::fuzz_target;
use teeio_proto::tdisp_report::{report_portion, InterfaceReport};

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = InterfaceReport::parse(data) {
        let mut buf = vec![0u8; data.len()];
        assert_eq!(report.encode(&mut buf), Ok(data.len()));
        assert_eq!(buf, data);
    }
    if data.len() >= 4 {
        let offset = u16::from_le_bytes([data[0], data[1]]);
        let length = u16::from_le_bytes([data[2], data[3]]);
        if let Ok((portion, remainder)) = report_portion(&data[4..], offset, length, 512) {
            assert!(portion.len() <= 512 && portion.len() <= length as usize);
            assert_eq!(offset as usize + portion.len() + remainder as usize, data.len() - 4);
        }
    }
});
