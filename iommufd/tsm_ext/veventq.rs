// SPDX-License-Identifier: GPL-2.0

//! vEVENTQ: a vIOMMU's queue of TDI state changes, read by the VMM from an
//! anonymous file as `struct teeio_vevent_header` + `struct
//! teeio_vevent_tdi` records. When full, the oldest record is dropped and
//! the next one read carries TEEIO_VEVENTQ_FLAG_LOST_EVENTS.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::bindings;
use kernel::ffi::{c_char, c_void};
use kernel::fs::File;
use kernel::prelude::*;
use kernel::sync::poll::{PollCondVar, PollTable};
use kernel::sync::{new_spinlock, Arc, SpinLock};
use kernel::transmute::AsBytes;
use kernel::uaccess::{UserPtr, UserSlice};
use kernel::new_poll_condvar;

use crate::b;

/// Most records a queue keeps.
pub(crate) const MAX_DEPTH: u32 = 4096;

/// Bytes of one record as read.
const RECORD: usize = core::mem::size_of::<b::teeio_vevent_header>() + core::mem::size_of::<b::teeio_vevent_tdi>();

/// Records copied out per read() round.
const BATCH: usize = 16;

#[derive(Clone, Copy, Default)]
struct Record {
    flags: u32,
    sequence: u32,
    vdevice_id: u32,
    event: u32,
    virt_id: u64,
}

impl Record {
    fn encode(&self, out: &mut [u8]) {
        let header = b::teeio_vevent_header { flags: self.flags, sequence: self.sequence };
        let tdi = b::teeio_vevent_tdi { vdevice_id: self.vdevice_id, event: self.event, virt_id: self.virt_id };
        let (h, t) = out.split_at_mut(core::mem::size_of::<b::teeio_vevent_header>());
        h.copy_from_slice(header.as_bytes());
        t[..core::mem::size_of::<b::teeio_vevent_tdi>()].copy_from_slice(tdi.as_bytes());
    }
}

/// A fixed ring of records.
///
/// # Invariants
///
/// `slots.len()` is the depth; `len <= slots.len()`; the records are
/// `slots[head..]` then `slots[..]`, `len` of them.
struct Ring {
    slots: KVec<Record>,
    head: usize,
    len: usize,
    next_sequence: u32,
    /// Records were dropped and no record is queued to say so yet.
    lost: bool,
}

impl Ring {
    /// Queues `record`; when full, drops the oldest and flags the record
    /// read next.
    fn push(&mut self, mut record: Record) {
        let depth = self.slots.len();
        if self.len == depth {
            self.head = (self.head + 1) % depth;
            self.len -= 1;
            if self.len > 0 {
                self.slots[self.head].flags |= b::TEEIO_VEVENTQ_FLAG_LOST_EVENTS;
            } else {
                self.lost = true;
            }
        }
        record.sequence = self.next_sequence;
        self.next_sequence = (self.next_sequence + 1) & i32::MAX as u32;
        if core::mem::take(&mut self.lost) {
            record.flags |= b::TEEIO_VEVENTQ_FLAG_LOST_EVENTS;
        }
        let tail = (self.head + self.len) % depth;
        self.slots[tail] = record;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Record> {
        if self.len == 0 {
            return None;
        }
        let record = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(record)
    }

    /// Puts back records that could not be copied out, oldest last; when
    /// the ring filled up meanwhile, what does not fit is lost.
    fn unpop(&mut self, records: &[Record]) {
        let depth = self.slots.len();
        for record in records.iter().rev() {
            if self.len == depth {
                self.slots[self.head].flags |= b::TEEIO_VEVENTQ_FLAG_LOST_EVENTS;
                return;
            }
            self.head = (self.head + depth - 1) % depth;
            self.slots[self.head] = *record;
            self.len += 1;
        }
    }
}

/// A vEVENTQ.
#[pin_data]
pub(crate) struct EventQueue {
    pub(crate) id: u32,
    pub(crate) viommu_id: u32,
    /// Whether its file is open (the object cannot be destroyed then).
    file_open: AtomicBool,
    /// Whether its vIOMMU let go of it: readers see the end of the file.
    detached: AtomicBool,
    #[pin]
    ring: SpinLock<Ring>,
    #[pin]
    readable: PollCondVar,
}

impl EventQueue {
    pub(crate) fn new(id: u32, viommu_id: u32, depth: u32) -> Result<Arc<Self>> {
        let mut slots = KVec::with_capacity(depth as usize, GFP_KERNEL)?;
        for _ in 0..depth {
            slots.push(Record::default(), GFP_KERNEL)?;
        }
        let ring = Ring { slots, head: 0, len: 0, next_sequence: 0, lost: false };
        Arc::pin_init(
            pin_init!(Self {
                id,
                viommu_id,
                file_open: AtomicBool::new(false),
                detached: AtomicBool::new(false),
                ring <- new_spinlock!(ring, "teeio_veventq_ring"),
                readable <- new_poll_condvar!("teeio_veventq_readable"),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues a TDI event and wakes readers.
    pub(crate) fn report(&self, vdevice_id: u32, event: u32, virt_id: u64) {
        self.ring.lock().push(Record { flags: 0, sequence: 0, vdevice_id, event, virt_id });
        self.readable.notify_all();
    }

    /// Its vIOMMU let go of it: nothing more will be queued.
    pub(crate) fn detach(&self) {
        self.detached.store(true, Ordering::Release);
        self.readable.notify_all();
    }

    pub(crate) fn file_open(&self) -> bool {
        self.file_open.load(Ordering::Acquire)
    }

    /// Its file: read and poll. The file holds a reference to the queue.
    pub(crate) fn file(self: &Arc<Self>) -> Result<crate::edge::NewFd> {
        let raw = Arc::into_raw(self.clone()).cast_mut().cast::<c_void>();
        // SAFETY: on success the file owns the reference `raw` stands for.
        let file = unsafe { b::teeio_ext_veventq_file(raw) };
        match crate::edge::NewFd::new(file) {
            Ok(fd) => {
                self.file_open.store(true, Ordering::Release);
                Ok(fd)
            }
            Err(e) => {
                if kernel::error::from_err_ptr(file).is_err() {
                    // SAFETY: no file took the reference made above.
                    drop(unsafe { Arc::from_raw(raw.cast::<Self>()) });
                }
                Err(e)
            }
        }
    }

    /// Copies whole records to `user`: at least one, waiting for it unless
    /// `nonblock`; 0 once detached and empty.
    fn read(&self, user: UserPtr, len: usize, nonblock: bool) -> Result<usize> {
        if len < RECORD {
            return Err(EINVAL);
        }
        let want = (len / RECORD).min(BATCH);
        let mut batch = [Record::default(); BATCH];
        let mut got = 0;
        {
            let mut ring = self.ring.lock();
            while ring.len == 0 {
                if self.detached.load(Ordering::Acquire) {
                    return Ok(0);
                }
                if nonblock {
                    return Err(EAGAIN);
                }
                if self.readable.wait_interruptible(&mut ring) {
                    return Err(ERESTARTSYS);
                }
            }
            while got < want {
                let Some(record) = ring.pop() else { break };
                batch[got] = record;
                got += 1;
            }
        }
        let mut bytes = [0u8; RECORD * BATCH];
        for (i, record) in batch[..got].iter().enumerate() {
            record.encode(&mut bytes[i * RECORD..]);
        }
        let copied = UserSlice::new(user, got * RECORD).writer().write_slice(&bytes[..got * RECORD]);
        if let Err(e) = copied {
            // Not delivered: back at the head for the next read.
            self.ring.lock().unpop(&batch[..got]);
            return Err(e);
        }
        Ok(got * RECORD)
    }

    fn poll(&self, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.readable);
        if self.ring.lock().len > 0 {
            bindings::POLLIN | bindings::POLLRDNORM
        } else if self.detached.load(Ordering::Acquire) {
            bindings::POLLHUP
        } else {
            0
        }
    }
}

/// read() of a vEVENTQ file: whole records, at least one (or -EAGAIN).
///
/// # Safety
///
/// `queue` is the private data of a vEVENTQ file, valid for the call.
#[no_mangle]
unsafe extern "C" fn teeio_ext_veventq_read(queue: *mut c_void, buf: *mut c_char, len: usize, nonblock: bool) -> isize {
    // SAFETY: the file's private data is a queue reference it owns.
    let queue = unsafe { &*queue.cast::<EventQueue>() };
    match queue.read(UserPtr::from_ptr(buf.cast()), len, nonblock) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// poll() of a vEVENTQ file.
///
/// # Safety
///
/// `queue` is the private data of the vEVENTQ file `file`; `wait` a poll
/// table or NULL; all valid for the call.
#[no_mangle]
unsafe extern "C" fn teeio_ext_veventq_poll(
    queue: *mut c_void,
    file: *mut kernel::bindings::file,
    wait: *mut kernel::bindings::poll_table,
) -> u32 {
    // SAFETY: the file's private data is a queue reference it owns.
    let queue = unsafe { &*queue.cast::<EventQueue>() };
    // SAFETY: the VFS passes the file being polled, valid for this call.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: the VFS passes a poll table valid for this call, or NULL.
    let table = unsafe { PollTable::from_raw(wait) };
    queue.poll(file, table)
}

/// The vEVENTQ file's last close: its queue reference goes.
///
/// # Safety
///
/// `queue` is the private data of a vEVENTQ file being released.
#[no_mangle]
unsafe extern "C" fn teeio_ext_veventq_release(queue: *mut c_void) {
    // SAFETY: the reference the file owned since `EventQueue::file`.
    let queue = unsafe { Arc::from_raw(queue.cast::<EventQueue>().cast_const()) };
    queue.file_open.store(false, Ordering::Release);
}
