// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the guest's hypervisor exits as records on
//! /dev/teeio-tdisp-guest (include/uapi/linux/teeio_tdisp_guest.h). A
//! request is queued as an exit; the VMM reads it, relays it with
//! TEEIO_IOMMUFD_VDEVICE_TSM_REQ and writes the resume; the requester
//! sleeps until then, the VMM closes the device, or the timeout passes.

use core::mem::size_of;

use kernel::bindings;
use kernel::ffi::{c_char, c_void};
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::poll::{PollCondVar, PollTable};
use kernel::transmute::{AsBytes, FromBytes};
use kernel::sync::{CondVar, CondVarTimeoutResult, Mutex};
use kernel::time::msecs_to_jiffies;
use kernel::uaccess::{UserPtr, UserSlice};
use kernel::{new_condvar, new_mutex, new_poll_condvar};

use crate::b;
use crate::transport::{Reply, Transport};

const EXIT_HEADER: usize = size_of::<b::teeio_guest_exit>();
const RESUME_HEADER: usize = size_of::<b::teeio_guest_resume>();

/// Where an exit is.
enum Stage {
    /// Waiting for the VMM to read it.
    Queued,
    /// Read; waiting for its resume.
    Relayed,
    /// Resumed: the host's errno (0: reached the TSM), status and response.
    Resumed { error: i32, tsm_code: u64, resp: KVec<u8> },
    /// The VMM closed the channel before resuming it.
    Reset,
}

struct Exit {
    sequence: u32,
    virt_id: u32,
    op: u32,
    req: KVec<u8>,
    resp_room: u32,
    stage: Stage,
}

/// # Invariants
///
/// `exits` holds the requests in flight, each with a distinct `sequence`;
/// `open` is whether a VMM holds the device.
struct Exits {
    open: bool,
    next_sequence: u32,
    exits: KVec<Exit>,
}

impl Exits {
    fn index(&self, sequence: u32) -> Option<usize> {
        self.exits.iter().position(|e| e.sequence == sequence)
    }
}

/// The VMM channel: a [`Transport`] whose far end is a VMM process.
#[pin_data]
pub(crate) struct VmmChannel {
    #[pin]
    exits: Mutex<Exits>,
    /// Signalled when an exit is queued (VMM readers and pollers wait).
    #[pin]
    queued: PollCondVar,
    /// Signalled when an exit is resumed or reset (requesters wait).
    #[pin]
    resumed: CondVar,
}

impl VmmChannel {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            exits <- new_mutex!(Exits { open: false, next_sequence: 1, exits: KVec::new() }, "teeio_guest_exits"),
            queued <- new_poll_condvar!("teeio_guest_queued"),
            resumed <- new_condvar!("teeio_guest_resumed"),
        })
    }

    fn open(&self) -> Result {
        let mut g = self.exits.lock();
        if g.open {
            return Err(EBUSY);
        }
        g.open = true;
        pr_info!("guest channel: a VMM services guest requests\n");
        Ok(())
    }

    /// The VMM went away: every exit in flight fails.
    fn release(&self) {
        let mut g = self.exits.lock();
        g.open = false;
        let mut reset = 0;
        for e in g.exits.iter_mut().filter(|e| matches!(e.stage, Stage::Queued | Stage::Relayed)) {
            e.stage = Stage::Reset;
            reset += 1;
        }
        drop(g);
        self.resumed.notify_all();
        pr_info!("guest channel: the VMM closed it; {} requests in flight failed\n", reset);
    }

    /// Copies the oldest queued exit to `user`, waiting for one unless
    /// `nonblock`.
    fn read(&self, user: UserPtr, len: usize, nonblock: bool) -> Result<usize> {
        let mut g = self.exits.lock();
        let i = loop {
            if let Some(i) = g.exits.iter().position(|e| matches!(e.stage, Stage::Queued)) {
                break i;
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if self.queued.wait_interruptible(&mut g) {
                return Err(ERESTARTSYS);
            }
        };
        let e = &mut g.exits[i];
        let total = EXIT_HEADER + e.req.len();
        if len < total {
            return Err(EINVAL);
        }
        let header = b::teeio_guest_exit {
            size: EXIT_HEADER as u32,
            sequence: e.sequence,
            virt_id: e.virt_id,
            type_: b::teeio_tsm_req_type_TEEIO_TSM_REQ_TYPE_TEEIO,
            op: e.op,
            req_len: e.req.len() as u32,
            resp_len: e.resp_room,
            __reserved: 0,
        };
        let mut w = UserSlice::new(user, total).writer();
        w.write_slice(header.as_bytes())?;
        w.write_slice(&e.req)?;
        e.stage = Stage::Relayed;
        Ok(total)
    }

    /// Takes the VMM's resume of a relayed exit.
    fn write(&self, user: UserPtr, len: usize) -> Result<usize> {
        if !(RESUME_HEADER..=RESUME_HEADER + b::TEEIO_GUEST_RESP_MAX as usize).contains(&len) {
            return Err(EINVAL);
        }
        let mut r = UserSlice::new(user, len).reader();
        let mut header = [0u8; RESUME_HEADER];
        r.read_slice(&mut header)?;
        let h = b::teeio_guest_resume::from_bytes_copy(&header).ok_or(EINVAL)?;
        if h.size as usize != RESUME_HEADER || RESUME_HEADER + h.resp_len as usize != len || h.error > 0 || h.error < -4095 {
            return Err(EINVAL);
        }
        let mut resp = KVec::new();
        resp.resize(h.resp_len as usize, 0, GFP_KERNEL)?;
        r.read_slice(&mut resp)?;
        let mut g = self.exits.lock();
        let i = g.index(h.sequence).filter(|&i| matches!(g.exits[i].stage, Stage::Relayed)).ok_or(ENOENT)?;
        if h.resp_len > g.exits[i].resp_room {
            return Err(EMSGSIZE);
        }
        g.exits[i].stage = Stage::Resumed { error: h.error, tsm_code: h.tsm_code, resp };
        drop(g);
        self.resumed.notify_all();
        Ok(len)
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.queued);
        if self.exits.lock().exits.iter().any(|e| matches!(e.stage, Stage::Queued)) {
            bindings::POLLIN | bindings::POLLRDNORM
        } else {
            0
        }
    }
}

impl Transport for VmmChannel {
    fn request(&self, virt_id: u32, op: u32, req: &[u8], resp: &mut [u8]) -> Result<Reply> {
        let mut copy = KVec::new();
        copy.extend_from_slice(req, GFP_KERNEL)?;
        let mut g = self.exits.lock();
        if !g.open {
            return Err(ENOTCONN);
        }
        let sequence = g.next_sequence;
        g.next_sequence = g.next_sequence.wrapping_add(1);
        let exit = Exit { sequence, virt_id, op, req: copy, resp_room: resp.len() as u32, stage: Stage::Queued };
        g.exits.push(exit, GFP_KERNEL)?;
        self.queued.notify_all();
        let mut left = msecs_to_jiffies(crate::timeout_ms());
        let outcome = loop {
            let i = g.index(sequence).ok_or(EIO)?;
            match &g.exits[i].stage {
                Stage::Resumed { .. } | Stage::Reset => break Ok(i),
                Stage::Queued | Stage::Relayed => (),
            }
            match self.resumed.wait_interruptible_timeout(&mut g, left) {
                CondVarTimeoutResult::Timeout => break Err(ETIMEDOUT),
                CondVarTimeoutResult::Signal { .. } => break Err(EINTR),
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
            }
        };
        let exit = match outcome {
            Ok(i) => g.exits.remove(i).map_err(|_| EIO)?,
            Err(e) => {
                if let Some(i) = g.index(sequence) {
                    drop(g.exits.remove(i));
                }
                return Err(e);
            }
        };
        drop(g);
        match exit.stage {
            Stage::Resumed { error: 0, tsm_code, resp: bytes } => {
                resp[..bytes.len()].copy_from_slice(&bytes);
                Ok(Reply { tsm_code: tsm_code as i64, len: bytes.len() })
            }
            Stage::Resumed { error, .. } => Err(Error::from_errno(error)),
            _ => Err(ECONNRESET),
        }
    }
}

// The character device's file operations (guest_edge.c).

/// # Safety
///
/// `channel` is the module's live channel.
#[no_mangle]
unsafe extern "C" fn teeio_guest_channel_open(channel: *mut c_void) -> i32 {
    // SAFETY: per the contract.
    match unsafe { &*channel.cast::<VmmChannel>() }.open() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// `channel` is the module's live channel, opened by this file.
#[no_mangle]
unsafe extern "C" fn teeio_guest_channel_release(channel: *mut c_void) {
    // SAFETY: per the contract.
    unsafe { &*channel.cast::<VmmChannel>() }.release();
}

/// # Safety
///
/// `channel` is the module's live channel; `buf` a user pointer.
#[no_mangle]
unsafe extern "C" fn teeio_guest_channel_read(channel: *mut c_void, buf: *mut c_char, len: usize, nonblock: bool) -> isize {
    // SAFETY: per the contract.
    let channel = unsafe { &*channel.cast::<VmmChannel>() };
    match channel.read(UserPtr::from_ptr(buf.cast()), len, nonblock) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// `channel` is the module's live channel; `buf` a user pointer.
#[no_mangle]
unsafe extern "C" fn teeio_guest_channel_write(channel: *mut c_void, buf: *const c_char, len: usize) -> isize {
    // SAFETY: per the contract.
    let channel = unsafe { &*channel.cast::<VmmChannel>() };
    match channel.write(UserPtr::from_ptr(buf.cast_mut().cast()), len) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// `channel` is the module's live channel, `file` the file polled and
/// `wait` a poll table or NULL, all valid for the call.
#[no_mangle]
unsafe extern "C" fn teeio_guest_channel_poll(
    channel: *mut c_void,
    file: *mut bindings::file,
    wait: *mut bindings::poll_table,
) -> u32 {
    // SAFETY: per the contract.
    let channel = unsafe { &*channel.cast::<VmmChannel>() };
    // SAFETY: the VFS passes the file being polled, valid for this call.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: the VFS passes a poll table valid for this call, or NULL.
    let table = unsafe { PollTable::from_raw(wait) };
    channel.poll(file, table)
}
