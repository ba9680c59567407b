// SPDX-License-Identifier: GPL-2.0

//! The guest TDISP channel (linux/teeio_tdisp_guest.h): the TVM's requests
//! for its TDIs reach the VMM as exits on /dev/teeio-tdisp-guest, which the
//! VMM relays to the host TSM with TEEIO_IOMMUFD_VDEVICE_TSM_REQ on the
//! vDEVICE the guest names by virt_id, and answers with a resume.
//!
//! The guest side blocks (a sysfs write to its driver, for instance) until
//! its exit is resumed, so a process that both drives the guest and relays
//! runs the relay on a [`RelayThread`].

use core::fmt;
use core::mem::{offset_of, size_of};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{ErrnoName, Error, Result};
use crate::events::wait_readable;
use crate::extension::{Extension, TsmReply};
use crate::tsm_req::{tsm_status_name, GuestOp};
use crate::uapi::{self, size32, teeio_guest_exit, teeio_guest_resume};

/// Where the guest channel's device usually is.
pub const DEFAULT_PATH: &str = "/dev/teeio-tdisp-guest";

/// Bytes of an exit's header.
pub const EXIT_LEN: usize = size_of::<teeio_guest_exit>();
/// Bytes of a resume's header.
pub const RESUME_LEN: usize = size_of::<teeio_guest_resume>();

/// How often a relay thread looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One guest request to relay: a struct teeio_guest_exit and its request
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Names the exit in its resume.
    pub sequence: u32,
    /// The vDEVICE's virt_id: the TDI as the guest addresses it.
    pub virt_id: u32,
    /// enum teeio_tsm_req_type.
    pub req_type: u32,
    /// enum teeio_tsm_req_op.
    pub op: u32,
    /// The request (a struct teeio_tsm_guest_req for TEEIO_TSM_REQ_TYPE_TEEIO).
    pub request: Vec<u8>,
    /// Room the guest has for the response.
    pub resp_len: u32,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(v)
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

impl Exit {
    /// The guest operation: byte 1 of a teeio request.
    pub fn guest_op(&self) -> Option<GuestOp> {
        self.request.get(offset_of!(uapi::teeio_tsm_guest_req, op)).and_then(|&op| GuestOp::from_raw(op))
    }

    /// The record as the kernel writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; EXIT_LEN];
        put(&mut b, offset_of!(teeio_guest_exit, size), &size32::<teeio_guest_exit>().to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, sequence), &self.sequence.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, virt_id), &self.virt_id.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, type_), &self.req_type.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, op), &self.op.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, req_len), &(self.request.len() as u32).to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_exit, resp_len), &self.resp_len.to_ne_bytes());
        b.extend_from_slice(&self.request);
        b
    }

    /// Parses one whole record.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let bad = |detail: String| Error::Malformed { what: "guest exit", detail };
        if b.len() < EXIT_LEN {
            return Err(bad(format!("{} bytes, less than its {EXIT_LEN}-byte header", b.len())));
        }
        let field = |at: usize| u32_at(b, at);
        let size = field(offset_of!(teeio_guest_exit, size));
        let req_len = field(offset_of!(teeio_guest_exit, req_len)) as usize;
        let resp_len = field(offset_of!(teeio_guest_exit, resp_len));
        let reserved = field(offset_of!(teeio_guest_exit, __reserved));
        if size as usize != EXIT_LEN || reserved != 0 {
            return Err(bad(format!("size {size}, reserved {reserved:#x}")));
        }
        if !(1..=uapi::TEEIO_GUEST_REQ_MAX).contains(&req_len) || resp_len as usize > uapi::TEEIO_GUEST_RESP_MAX {
            return Err(bad(format!("req_len {req_len}, resp_len {resp_len}")));
        }
        if b.len() != EXIT_LEN + req_len {
            return Err(bad(format!("{} bytes for req_len {req_len}", b.len())));
        }
        Ok(Self {
            sequence: field(offset_of!(teeio_guest_exit, sequence)),
            virt_id: field(offset_of!(teeio_guest_exit, virt_id)),
            req_type: field(offset_of!(teeio_guest_exit, type_)),
            op: field(offset_of!(teeio_guest_exit, op)),
            request: b[EXIT_LEN..].to_vec(),
            resp_len,
        })
    }
}

/// What the host did with a request: the TSM's status and response, or
/// the errno it refused the request with.
pub type Answer<'a> = core::result::Result<(u64, &'a [u8]), Errno>;

/// The VMM's answer to one exit: a struct teeio_guest_resume and its
/// response bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The exit's.
    pub sequence: u32,
    /// 0, or the negative errno the host refused the request with.
    pub error: i32,
    /// The TSM's status.
    pub tsm_code: u64,
    /// The response.
    pub response: Vec<u8>,
}

impl Resume {
    /// The resume of exit `sequence` with `answer`.
    pub fn new(sequence: u32, answer: Answer<'_>) -> Self {
        match answer {
            Ok((tsm_code, response)) => Self { sequence, error: 0, tsm_code, response: response.to_vec() },
            Err(errno) => Self { sequence, error: -errno.raw_os_error(), tsm_code: 0, response: Vec::new() },
        }
    }

    /// The record as the channel takes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; RESUME_LEN];
        put(&mut b, offset_of!(teeio_guest_resume, size), &size32::<teeio_guest_resume>().to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_resume, sequence), &self.sequence.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_resume, error), &self.error.to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_resume, resp_len), &(self.response.len() as u32).to_ne_bytes());
        put(&mut b, offset_of!(teeio_guest_resume, tsm_code), &self.tsm_code.to_ne_bytes());
        b.extend_from_slice(&self.response);
        b
    }

    /// Parses one whole record, as the channel checks it.
    pub fn decode(b: &[u8]) -> Result<Self> {
        let bad = |detail: String| Error::Malformed { what: "guest resume", detail };
        if b.len() < RESUME_LEN {
            return Err(bad(format!("{} bytes, less than its {RESUME_LEN}-byte header", b.len())));
        }
        let size = u32_at(b, offset_of!(teeio_guest_resume, size)) as usize;
        let resp_len = u32_at(b, offset_of!(teeio_guest_resume, resp_len)) as usize;
        if size != RESUME_LEN || b.len() != RESUME_LEN + resp_len {
            return Err(bad(format!("size {size}, resp_len {resp_len} in {} bytes", b.len())));
        }
        let mut code = [0u8; 8];
        let at = offset_of!(teeio_guest_resume, tsm_code);
        code.copy_from_slice(&b[at..at + 8]);
        Ok(Self {
            sequence: u32_at(b, offset_of!(teeio_guest_resume, sequence)),
            error: u32_at(b, offset_of!(teeio_guest_resume, error)) as i32,
            tsm_code: u64::from_ne_bytes(code),
            response: b[RESUME_LEN..].to_vec(),
        })
    }
}

/// The open guest channel: one opener at a time.
pub struct GuestChannel {
    fd: OwnedFd,
    path: PathBuf,
}

impl GuestChannel {
    /// Opens the channel's device at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::file("open", path, e))?;
        Ok(Self { fd, path: path.to_owned() })
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `timeout` for an exit; whether one is pending.
    pub fn poll_exit(&self, timeout: Duration) -> Result<bool> {
        wait_readable(self.fd.as_fd(), timeout, "guest channel")
    }

    /// Reads one exit (blocks until one is pending).
    pub fn read_exit(&self) -> Result<Exit> {
        let mut buf = vec![0u8; EXIT_LEN + uapi::TEEIO_GUEST_REQ_MAX];
        let n = rustix::io::retry_on_intr(|| rustix::io::read(self.fd.as_fd(), &mut buf[..]))
            .map_err(|e| Error::file("read", &self.path, e))?;
        Exit::decode(&buf[..n])
    }

    /// Resumes exit `sequence` with `answer`.
    pub fn resume(&self, sequence: u32, answer: Answer<'_>) -> Result<()> {
        self.write_resume(&Resume::new(sequence, answer))
    }

    fn write_resume(&self, resume: &Resume) -> Result<()> {
        let record = resume.encode();
        let n = rustix::io::retry_on_intr(|| rustix::io::write(self.fd.as_fd(), &record))
            .map_err(|e| Error::file("write", &self.path, e))?;
        if n != record.len() {
            return Err(Error::Malformed {
                what: "guest resume",
                detail: format!("{n} of {} bytes written", record.len()),
            });
        }
        Ok(())
    }
}

/// Where a relay sends the guest's requests.
pub trait Vdevices: Send {
    /// TEEIO_IOMMUFD_VDEVICE_TSM_REQ with `req_type` and `op` on the vDEVICE
    /// whose virt_id is `virt_id`; `None` when there is no such vDEVICE.
    fn tsm_req(&self, virt_id: u32, req_type: u32, op: u32, req: &[u8], resp: &mut [u8]) -> Option<Result<TsmReply>>;
}

/// A VMM's vDEVICEs in its extension file, by virt_id.
pub struct ExtensionVdevices {
    ext: Arc<Extension>,
    /// (virt_id, vDEVICE id).
    ids: Vec<(u64, u32)>,
}

impl ExtensionVdevices {
    /// The vDEVICEs `ids`, (virt_id, vDEVICE id) pairs, of `ext`.
    pub fn new(ext: Arc<Extension>, ids: Vec<(u64, u32)>) -> Self {
        Self { ext, ids }
    }
}

impl Vdevices for ExtensionVdevices {
    fn tsm_req(&self, virt_id: u32, req_type: u32, op: u32, req: &[u8], resp: &mut [u8]) -> Option<Result<TsmReply>> {
        let &(_, id) = self.ids.iter().find(|(v, _)| *v == u64::from(virt_id))?;
        Some(self.ext.tsm_req_raw(id, req_type, op, req, resp))
    }
}

/// What became of one relayed exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The request reached the TSM.
    Reached(TsmReply),
    /// The host refused it, or the VMM had no vDEVICE for it (ENODEV).
    Refused(Errno),
}

/// One exit the relay answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// The exit's sequence.
    pub sequence: u32,
    /// The TDI as the guest addressed it.
    pub virt_id: u32,
    /// Byte 1 of the request, the guest operation of a teeio request.
    pub op: Option<u8>,
    /// What the host did.
    pub outcome: Outcome,
}

impl Relayed {
    /// The guest operation, when it is one the header defines.
    pub fn guest_op(&self) -> Option<GuestOp> {
        self.op.and_then(GuestOp::from_raw)
    }

    /// Whether the request reached the TSM and the TSM succeeded.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Reached(TsmReply { tsm_code: 0, .. }))
    }
}

impl fmt::Display for Relayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.guest_op(), self.op) {
            (Some(op), _) => write!(f, "relayed guest {}", op.name())?,
            (None, Some(op)) => write!(f, "relayed guest op {op}")?,
            (None, None) => f.write_str("relayed guest request")?,
        }
        write!(f, " for virt_id {:#x}: ", self.virt_id)?;
        match self.outcome {
            Outcome::Reached(TsmReply { tsm_code: 0, resp_len: 0 }) => f.write_str("ok"),
            Outcome::Reached(TsmReply { tsm_code: 0, resp_len }) => write!(f, "ok, {resp_len} bytes"),
            Outcome::Reached(TsmReply { tsm_code, .. }) => {
                write!(f, "TSM status {} ({})", tsm_code as i64, tsm_status_name(tsm_code))
            }
            Outcome::Refused(errno) => write!(f, "refused: {}", ErrnoName(errno.raw_os_error())),
        }
    }
}

/// Relays exits to the vDEVICEs of `V`.
pub struct Relay<V> {
    vdevices: V,
}

impl<V: Vdevices> Relay<V> {
    /// A relay to `vdevices`.
    pub fn new(vdevices: V) -> Self {
        Self { vdevices }
    }

    /// Relays `exit`: the resume to write, and what happened.
    pub fn answer(&self, exit: &Exit) -> (Resume, Relayed) {
        let mut resp = vec![0u8; exit.resp_len as usize];
        let result = self.vdevices.tsm_req(exit.virt_id, exit.req_type, exit.op, &exit.request, &mut resp);
        let outcome = match result {
            None => Outcome::Refused(Errno::NODEV),
            Some(Ok(reply)) => Outcome::Reached(reply),
            Some(Err(e)) => {
                Outcome::Refused(Errno::from_raw_os_error(e.errno().unwrap_or(Errno::INVAL.raw_os_error())))
            }
        };
        let resume = match outcome {
            Outcome::Reached(reply) => Resume::new(exit.sequence, Ok((reply.tsm_code, &resp[..reply.resp_len]))),
            Outcome::Refused(errno) => Resume::new(exit.sequence, Err(errno)),
        };
        let op = exit.request.get(offset_of!(uapi::teeio_tsm_guest_req, op)).copied();
        (resume, Relayed { sequence: exit.sequence, virt_id: exit.virt_id, op, outcome })
    }

    /// Reads one exit from `channel`, relays it and resumes the guest.
    pub fn service(&self, channel: &GuestChannel) -> Result<Relayed> {
        let exit = channel.read_exit()?;
        let (resume, relayed) = self.answer(&exit);
        channel.write_resume(&resume)?;
        Ok(relayed)
    }

    /// Services exits in the foreground until `exits` were relayed (when
    /// given) or none came for `idle`; `report` sees each.
    pub fn serve(
        &self,
        channel: &GuestChannel,
        exits: Option<usize>,
        idle: Duration,
        mut report: impl FnMut(&Relayed),
    ) -> Result<Vec<Relayed>> {
        let mut log = Vec::new();
        while exits.is_none_or(|n| log.len() < n) && channel.poll_exit(idle)? {
            let relayed = self.service(channel)?;
            report(&relayed);
            log.push(relayed);
        }
        Ok(log)
    }
}

/// A relay servicing a channel on its own thread until stopped.
pub struct RelayThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Vec<Relayed>>>>,
}

impl RelayThread {
    /// Starts `relay` on `channel`; `report` sees each relayed exit, on the
    /// relay's thread. The thread ends at the first channel error, closing
    /// the channel: exits it read and did not resume fail in the guest.
    pub fn spawn<V: Vdevices + 'static>(
        channel: GuestChannel,
        relay: Relay<V>,
        mut report: impl FnMut(&Relayed) + Send + 'static,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("guest-relay".into())
            .spawn(move || {
                let mut log = Vec::new();
                loop {
                    // Exits already pending when asked to stop are still served.
                    let stopping = stopped.load(Ordering::Acquire);
                    let pending = channel.poll_exit(if stopping { Duration::ZERO } else { STOP_POLL })?;
                    if pending {
                        let relayed = relay.service(&channel)?;
                        report(&relayed);
                        log.push(relayed);
                    } else if stopping {
                        return Ok(log);
                    }
                }
            })
            .map_err(|e| Error::Invalid(format!("relay thread: {e}")))?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops the thread once no exit is pending; every exit it relayed.
    pub fn stop(mut self) -> Result<Vec<Relayed>> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Vec<Relayed>> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| Error::Invalid("the relay thread panicked".into()))?,
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsm_req::GuestRequest;
    use std::sync::Mutex;

    fn exit(op: GuestOp, virt_id: u32, resp_len: u32) -> Exit {
        Exit {
            sequence: 41,
            virt_id,
            req_type: uapi::TEEIO_TSM_REQ_TYPE_TEEIO,
            op: op.class().raw(),
            request: GuestRequest::new(op, virt_id).encode().to_vec(),
            resp_len,
        }
    }

    #[test]
    fn exits_round_trip() {
        let e = exit(GuestOp::GetReport, 0x300, 4096);
        let b = e.encode();
        assert_eq!(b.len(), EXIT_LEN + 24);
        assert_eq!(&b[..4], &32u32.to_ne_bytes());
        assert_eq!(&b[4..8], &41u32.to_ne_bytes());
        assert_eq!(&b[8..12], &0x300u32.to_ne_bytes());
        assert_eq!(&b[12..16], &4u32.to_ne_bytes(), "TEEIO");
        assert_eq!(&b[16..20], &0u32.to_ne_bytes(), "INFO");
        assert_eq!(&b[20..24], &24u32.to_ne_bytes());
        assert_eq!(&b[24..28], &4096u32.to_ne_bytes());
        assert_eq!(&b[28..32], &[0; 4]);
        assert_eq!(b[EXIT_LEN + 1], uapi::TEEIO_TSM_GUEST_GET_REPORT);
        let d = Exit::decode(&b).expect("whole record");
        assert_eq!(d, e);
        assert_eq!(d.guest_op(), Some(GuestOp::GetReport));
    }

    #[test]
    fn rejects_malformed_exits() {
        let b = exit(GuestOp::Start, 0x300, 0).encode();
        assert!(Exit::decode(&b[..EXIT_LEN - 1]).is_err());
        assert!(Exit::decode(&b[..b.len() - 1]).is_err(), "short of req_len");
        assert!(Exit::decode(&[&b[..], &[0]].concat()).is_err(), "past req_len");
        let mut bad = b.clone();
        bad[0] = 16;
        assert!(Exit::decode(&bad).is_err(), "size");
        let mut bad = b.clone();
        bad[28] = 1;
        assert!(Exit::decode(&bad).is_err(), "reserved");
        let mut bad = b[..EXIT_LEN].to_vec();
        bad[20..24].copy_from_slice(&0u32.to_ne_bytes());
        assert!(Exit::decode(&bad).is_err(), "no request");
        let mut bad = b.clone();
        bad[24..28].copy_from_slice(&65537u32.to_ne_bytes());
        assert!(Exit::decode(&bad).is_err(), "resp_len");
    }

    #[test]
    fn resumes_round_trip() {
        let r = Resume::new(7, Ok((0, &[1, 2, 3])));
        let b = r.encode();
        assert_eq!(b.len(), RESUME_LEN + 3);
        assert_eq!(&b[..4], &24u32.to_ne_bytes());
        assert_eq!(&b[4..8], &7u32.to_ne_bytes());
        assert_eq!(&b[8..12], &0i32.to_ne_bytes());
        assert_eq!(&b[12..16], &3u32.to_ne_bytes());
        assert_eq!(&b[16..24], &0u64.to_ne_bytes());
        assert_eq!(&b[24..], &[1, 2, 3]);
        assert_eq!(Resume::decode(&b).ok(), Some(r));

        let r = Resume::new(8, Err(Errno::NODEV));
        assert_eq!(r.error, -19);
        let b = r.encode();
        assert_eq!(b.len(), RESUME_LEN);
        assert_eq!(&b[8..12], &(-19i32).to_ne_bytes());
        assert_eq!(Resume::decode(&b).ok(), Some(r));

        let r = Resume::new(9, Ok((-10i64 as u64, &[])));
        assert_eq!(Resume::decode(&r.encode()).map(|r| r.tsm_code).ok(), Some(-10i64 as u64));
        assert!(Resume::decode(&b[..RESUME_LEN - 1]).is_err());
        assert!(Resume::decode(&[&b[..], &[0]].concat()).is_err());
    }

    /// vDEVICE 5 at virt_id 0x300: answers GET_REPORT with `len` bytes of
    /// 0xaa, START with TSM status INVALID_STATE, STOP with ENXIO.
    struct Fake {
        len: usize,
        seen: Arc<Mutex<Vec<(u32, u32, usize)>>>,
    }

    impl Vdevices for Fake {
        fn tsm_req(
            &self,
            virt_id: u32,
            req_type: u32,
            op: u32,
            req: &[u8],
            resp: &mut [u8],
        ) -> Option<Result<TsmReply>> {
            if virt_id != 0x300 {
                return None;
            }
            self.seen.lock().expect("lock").push((req_type, op, resp.len()));
            Some(match GuestRequest::decode(req).map(|r| r.op) {
                Ok(GuestOp::GetReport) => {
                    let n = self.len.min(resp.len());
                    resp[..n].fill(0xaa);
                    Ok(TsmReply { tsm_code: 0, resp_len: n })
                }
                Ok(GuestOp::Start) => Ok(TsmReply { tsm_code: -10i64 as u64, resp_len: 0 }),
                Ok(GuestOp::Stop) => Err(Error::Ioctl { name: "TEEIO_IOMMUFD_VDEVICE_TSM_REQ", errno: Errno::NXIO }),
                _ => Ok(TsmReply { tsm_code: 0, resp_len: 0 }),
            })
        }
    }

    #[test]
    fn relays_to_the_vdevice_of_the_virt_id() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let relay = Relay::new(Fake { len: 512, seen: Arc::clone(&seen) });

        let (resume, relayed) = relay.answer(&exit(GuestOp::GetReport, 0x300, 4096));
        assert_eq!(resume.sequence, 41);
        assert_eq!((resume.error, resume.tsm_code), (0, 0));
        assert_eq!(resume.response, vec![0xaa; 512]);
        assert!(relayed.ok());
        assert_eq!(relayed.to_string(), "relayed guest GET_REPORT for virt_id 0x300: ok, 512 bytes");
        assert_eq!(seen.lock().expect("lock")[0], (uapi::TEEIO_TSM_REQ_TYPE_TEEIO, uapi::TEEIO_TSM_REQ_OP_INFO, 4096));

        let (resume, relayed) = relay.answer(&exit(GuestOp::AcceptDma, 0x300, 0));
        assert!(resume.response.is_empty());
        assert_eq!(relayed.to_string(), "relayed guest ACCEPT_DMA for virt_id 0x300: ok");

        let (resume, relayed) = relay.answer(&exit(GuestOp::Start, 0x300, 0));
        assert_eq!((resume.error, resume.tsm_code), (0, -10i64 as u64));
        assert!(!relayed.ok());
        assert_eq!(relayed.to_string(), "relayed guest START for virt_id 0x300: TSM status -10 (INVALID_STATE)");

        let (resume, relayed) = relay.answer(&exit(GuestOp::Stop, 0x300, 0));
        assert_eq!(resume.error, -6);
        assert_eq!(relayed.to_string(), "relayed guest STOP for virt_id 0x300: refused: ENXIO (errno 6)");

        let (resume, relayed) = relay.answer(&exit(GuestOp::GetState, 0x301, 8));
        assert_eq!(resume.error, -19);
        assert_eq!(relayed.outcome, Outcome::Refused(Errno::NODEV));
        assert_eq!(relayed.to_string(), "relayed guest GET_STATE for virt_id 0x301: refused: ENODEV (errno 19)");
        assert_eq!(seen.lock().expect("lock").len(), 4, "nothing sent for an unknown virt_id");

        let mut odd = exit(GuestOp::GetState, 0x300, 0);
        odd.request = vec![1, 42];
        assert_eq!(relay.answer(&odd).1.to_string(), "relayed guest op 42 for virt_id 0x300: ok");
    }

    #[test]
    fn relay_thread_answers_while_the_guest_waits() {
        use std::os::unix::net::UnixDatagram;

        // A datagram pair keeps record boundaries, as the channel does.
        let (vmm, guest) = UnixDatagram::pair().expect("socketpair");
        let channel = GuestChannel { fd: OwnedFd::from(vmm), path: "socketpair".into() };
        let lines = Arc::new(Mutex::new(Vec::new()));
        let printed = Arc::clone(&lines);
        let relay = Relay::new(Fake { len: 100, seen: Arc::new(Mutex::new(Vec::new())) });
        let thread = RelayThread::spawn(channel, relay, move |r| printed.lock().expect("lock").push(r.to_string()))
            .expect("spawn");

        let mut buf = vec![0u8; RESUME_LEN + 4096];
        guest.send(&exit(GuestOp::GetReport, 0x300, 4096).encode()).expect("send");
        let n = guest.recv(&mut buf).expect("recv");
        let resume = Resume::decode(&buf[..n]).expect("resume");
        assert_eq!((resume.sequence, resume.error, resume.response.len()), (41, 0, 100));

        // Sent just before the stop: still answered.
        guest.send(&exit(GuestOp::Stop, 0x300, 0).encode()).expect("send");
        let log = thread.stop().expect("stopped");
        let n = guest.recv(&mut buf).expect("recv");
        assert_eq!(Resume::decode(&buf[..n]).map(|r| r.error).ok(), Some(-6));
        assert_eq!(
            log.iter().map(|r| r.guest_op()).collect::<Vec<_>>(),
            [Some(GuestOp::GetReport), Some(GuestOp::Stop)]
        );
        assert_eq!(
            *lines.lock().expect("lock"),
            [
                "relayed guest GET_REPORT for virt_id 0x300: ok, 100 bytes",
                "relayed guest STOP for virt_id 0x300: refused: ENXIO (errno 6)"
            ]
        );
    }

    #[test]
    fn relay_thread_ends_at_a_channel_error() {
        use std::os::unix::net::UnixDatagram;

        let (vmm, guest) = UnixDatagram::pair().expect("socketpair");
        let channel = GuestChannel { fd: OwnedFd::from(vmm), path: "socketpair".into() };
        let relay = Relay::new(Fake { len: 0, seen: Arc::new(Mutex::new(Vec::new())) });
        let thread = RelayThread::spawn(channel, relay, |_| {}).expect("spawn");
        guest.send(&[0u8; 8]).expect("send");
        assert!(matches!(thread.stop(), Err(Error::Malformed { what: "guest exit", .. })));
    }
}
