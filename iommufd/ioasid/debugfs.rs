// SPDX-License-Identifier: GPL-2.0

//! debugfs `teeio_ioasid/`: `events` (the event log; write "clear") and
//! `bench` (write a pair count to run the benchmark, read the figures).

use core::fmt;
use kernel::debugfs::{Dir, File};
use kernel::prelude::*;
use kernel::uaccess::UserSliceReader;

use crate::bench;

/// The files; removed when dropped.
#[pin_data]
pub(crate) struct Debugfs {
    #[pin]
    events: File<()>,
    #[pin]
    bench: File<()>,
    _dir: Dir,
}

/// The written text (at most 64 bytes), trimmed.
fn written(r: &mut UserSliceReader) -> Result<KVec<u8>> {
    let n = r.len();
    if n > 64 {
        return Err(EINVAL);
    }
    let mut buf = KVec::from_elem(0u8, n, GFP_KERNEL)?;
    r.read_slice(&mut buf)?;
    while buf.last().is_some_and(|b| b.is_ascii_whitespace()) {
        buf.pop();
    }
    Ok(buf)
}

fn show_events(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut result = Ok(());
    crate::core().log.for_each(|r| {
        if result.is_ok() {
            result = write!(f, "{r}");
        }
    });
    result
}

fn write_events(_: &(), r: &mut UserSliceReader) -> Result {
    match &written(r)?[..] {
        b"clear" => {
            crate::core().log.clear();
            Ok(())
        }
        _ => {
            pr_warn!("events: only \"clear\" can be written\n");
            Err(EINVAL)
        }
    }
}

fn show_bench(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    bench::show(f)
}

fn write_bench(_: &(), r: &mut UserSliceReader) -> Result {
    let text = written(r)?;
    let pairs = core::str::from_utf8(&text).ok().and_then(|s| s.parse::<u32>().ok());
    match pairs {
        Some(n @ 1..=10_000_000) => bench::run(crate::core(), n),
        _ => {
            pr_warn!("bench: write a pair count from 1 to 10000000\n");
            Err(EINVAL)
        }
    }
}

impl Debugfs {
    /// The files in `dir`.
    pub(crate) fn new(dir: Dir) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            events <- dir.read_write_callback_file(c"events", (), &show_events, &write_events),
            bench <- dir.read_write_callback_file(c"bench", (), &show_bench, &write_bench),
            _dir: dir,
        }? Error)
    }
}
