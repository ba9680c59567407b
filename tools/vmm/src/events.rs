// SPDX-License-Identifier: GPL-2.0

//! vEVENTQ records: a struct teeio_vevent_header followed by a struct
//! teeio_vevent_tdi, read whole from the queue's file once poll() says one
//! is there.

use core::fmt;
use core::mem::{offset_of, size_of};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::error::{Error, Result};
use crate::uapi::{self, teeio_vevent_header, teeio_vevent_tdi};

/// Bytes of one record.
pub const RECORD_LEN: usize = size_of::<teeio_vevent_header>() + size_of::<teeio_vevent_tdi>();

/// Records one read asks for at most.
const READ_RECORDS: usize = 64;

/// What happened to a bound TDI (enum teeio_vevent_tdi_event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TdiEvent {
    /// Found in ERROR and torn down.
    Error,
    /// The host unbound it without the VMM asking.
    UnboundByHost,
    /// The TVM stopped it.
    StoppedByGuest,
    /// A value the header does not define.
    Unknown(u32),
}

impl TdiEvent {
    /// The event of a uAPI value.
    pub fn from_raw(v: u32) -> Self {
        match v {
            uapi::TEEIO_VEVENT_TDI_ERROR => TdiEvent::Error,
            uapi::TEEIO_VEVENT_TDI_UNBOUND_BY_HOST => TdiEvent::UnboundByHost,
            uapi::TEEIO_VEVENT_TDI_STOPPED_BY_GUEST => TdiEvent::StoppedByGuest,
            other => TdiEvent::Unknown(other),
        }
    }
}

impl fmt::Display for TdiEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TdiEvent::Error => f.write_str("ERROR"),
            TdiEvent::UnboundByHost => f.write_str("UNBOUND_BY_HOST"),
            TdiEvent::StoppedByGuest => f.write_str("STOPPED_BY_GUEST"),
            TdiEvent::Unknown(v) => write!(f, "unknown event {v}"),
        }
    }
}

/// One record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Header flags (TEEIO_VEVENTQ_FLAG_*).
    pub flags: u32,
    /// The record's number.
    pub sequence: u32,
    /// The vDEVICE.
    pub vdevice_id: u32,
    /// What happened.
    pub event: TdiEvent,
    /// The vDEVICE's virt_id.
    pub virt_id: u64,
}

impl Event {
    /// Whether records were dropped before this one.
    pub fn lost_before(&self) -> bool {
        self.flags & uapi::TEEIO_VEVENTQ_FLAG_LOST_EVENTS != 0
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} vdevice {} (virt_id {:#x}): {}", self.sequence, self.vdevice_id, self.virt_id, self.event)?;
        if self.lost_before() {
            f.write_str(" (records were lost before it)")?;
        }
        Ok(())
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(v)
}

/// Parses whole records; a partial record is malformed.
pub fn parse_records(b: &[u8]) -> Result<Vec<Event>> {
    if b.len() % RECORD_LEN != 0 {
        return Err(Error::Malformed {
            what: "vEVENTQ read",
            detail: format!("{} bytes is not a whole number of {RECORD_LEN}-byte records", b.len()),
        });
    }
    let tdi = size_of::<teeio_vevent_header>();
    Ok(b.chunks_exact(RECORD_LEN)
        .map(|r| {
            let mut virt_id = [0u8; 8];
            let at = tdi + offset_of!(teeio_vevent_tdi, virt_id);
            virt_id.copy_from_slice(&r[at..at + 8]);
            Event {
                flags: u32_at(r, offset_of!(teeio_vevent_header, flags)),
                sequence: u32_at(r, offset_of!(teeio_vevent_header, sequence)),
                vdevice_id: u32_at(r, tdi + offset_of!(teeio_vevent_tdi, vdevice_id)),
                event: TdiEvent::from_raw(u32_at(r, tdi + offset_of!(teeio_vevent_tdi, event))),
                virt_id: u64::from_ne_bytes(virt_id),
            }
        })
        .collect())
}

/// Waits up to `timeout` for `fd` (`what` in errors) to be readable;
/// whether it is.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration, what: &'static str) -> Result<bool> {
    let ts =
        Timespec { tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX), tv_nsec: timeout.subsec_nanos().into() };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ready = rustix::io::retry_on_intr(|| poll(&mut fds, Some(&ts))).map_err(|e| Error::file("poll", what, e))?;
    let revents = fds[0].revents();
    if revents.intersects(PollFlags::ERR | PollFlags::NVAL) {
        return Err(Error::Invalid(format!("{what} poll: {revents:?}")));
    }
    Ok(ready > 0 && revents.contains(PollFlags::IN))
}

/// A vEVENTQ's file.
pub struct EventQueue {
    fd: OwnedFd,
}

impl EventQueue {
    /// The queue behind `fd` (out_veventq_fd).
    pub fn new(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Waits up to `timeout` for a record; whether one is there.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        wait_readable(self.fd.as_fd(), timeout, "vEVENTQ")
    }

    /// Reads the records that are there (blocks until one is).
    pub fn read(&self) -> Result<Vec<Event>> {
        let mut buf = [0u8; READ_RECORDS * RECORD_LEN];
        let n = rustix::io::retry_on_intr(|| rustix::io::read(self.fd.as_fd(), &mut buf[..]))
            .map_err(|e| Error::file("read", "vEVENTQ", e))?;
        parse_records(&buf[..n])
    }

    /// The records that arrive within `timeout`, at least one.
    pub fn next(&self, timeout: Duration) -> Result<Vec<Event>> {
        if !self.wait(timeout)? {
            return Err(Error::Timeout(timeout.as_millis().try_into().unwrap_or(u64::MAX)));
        }
        self.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(flags: u32, sequence: u32, vdevice_id: u32, event: u32, virt_id: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&flags.to_ne_bytes());
        r.extend_from_slice(&sequence.to_ne_bytes());
        r.extend_from_slice(&vdevice_id.to_ne_bytes());
        r.extend_from_slice(&event.to_ne_bytes());
        r.extend_from_slice(&virt_id.to_ne_bytes());
        r
    }

    #[test]
    fn parses_records() {
        assert_eq!(RECORD_LEN, 24);
        let mut b = record(0, 0, 3, uapi::TEEIO_VEVENT_TDI_STOPPED_BY_GUEST, 0x10);
        b.extend(record(uapi::TEEIO_VEVENTQ_FLAG_LOST_EVENTS, 5, 4, uapi::TEEIO_VEVENT_TDI_ERROR, 0x20));
        b.extend(record(0, 6, 4, 77, 0x20));
        let ev = parse_records(&b).expect("three whole records");
        assert_eq!(ev.len(), 3);
        assert_eq!(
            ev[0],
            Event { flags: 0, sequence: 0, vdevice_id: 3, event: TdiEvent::StoppedByGuest, virt_id: 0x10 }
        );
        assert!(!ev[0].lost_before());
        assert!(ev[1].lost_before());
        assert_eq!(ev[1].sequence, 5);
        assert_eq!(ev[1].event, TdiEvent::Error);
        assert_eq!(ev[2].event, TdiEvent::Unknown(77));
        assert_eq!(ev[1].to_string(), "#5 vdevice 4 (virt_id 0x20): ERROR (records were lost before it)");
        assert_eq!(TdiEvent::from_raw(2), TdiEvent::UnboundByHost);
    }

    #[test]
    fn rejects_partial_records() {
        let b = record(0, 0, 3, 3, 0x10);
        assert!(parse_records(&b[..RECORD_LEN - 1]).is_err());
        assert!(parse_records(&[b.clone(), b[..8].to_vec()].concat()).is_err());
        assert_eq!(parse_records(&[]).map(|v| v.len()).ok(), Some(0));
    }
}
