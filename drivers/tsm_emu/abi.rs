// SPDX-License-Identifier: GPL-2.0

//! EMULATION: the firmware's C-ABI entries (include/teeio/tsm_fw.h): the
//! call entry checks and decodes a `struct teeio_tsm_fw_call`, runs it, and
//! writes the result back; the import entry takes private MMIO dma-bufs.

use kernel::ffi::{c_long, c_void};
use kernel::prelude::*;
use kernel::transmute::AsBytes;

use crate::firmware::{Call, Caller, Firmware, Status};
use crate::teeio_bindings::{self as abi, teeio_tsm_fw_call};

// SAFETY: u8, u8, u16, u16, u16: no padding.
unsafe impl AsBytes for abi::teeio_tsm_guest_state {}
// SAFETY: three u8 arrays, u64, u32, u32: no padding.
unsafe impl AsBytes for abi::teeio_tsm_guest_evidence {}

/// Largest buffer a call may pass.
const BUF_MAX: u64 = 1 << 20;

/// The firmware call entry.
///
/// # Safety
///
/// `firmware` is the `Firmware` the platform data names, alive while the
/// platform device is registered; `call` points to a valid call whose
/// `buf` is valid for `buf_len` bytes and `doe`/`doe_ctx` for the call.
pub(crate) unsafe extern "C" fn entry(firmware: *mut c_void, call: *mut teeio_tsm_fw_call) -> c_long {
    if firmware.is_null() || call.is_null() {
        return abi::TEEIO_TSM_ERR_INVALID_PARAM as c_long;
    }
    // SAFETY: per this function's contract.
    let (firmware, call) = unsafe { (&*firmware.cast::<Firmware>(), &mut *call) };
    let caller = match call.caller {
        abi::TEEIO_TSM_CALLER_HOST => Caller::Host,
        abi::TEEIO_TSM_CALLER_TVM => Caller::Tvm(call.tvm),
        other => {
            pr_warn!("EMULATED TSM: call {:#x} from unknown caller {}\n", call.fid, other);
            return abi::TEEIO_TSM_ERR_INVALID_PARAM as c_long;
        }
    };
    if call.buf_len > BUF_MAX || (call.buf.is_null() && call.buf_len != 0) {
        return abi::TEEIO_TSM_ERR_INVALID_PARAM as c_long;
    }
    let buf: &mut [u8] = if call.buf.is_null() {
        &mut []
    } else {
        // SAFETY: per this function's contract, `buf` is valid for `buf_len` bytes.
        unsafe { core::slice::from_raw_parts_mut(call.buf.cast::<u8>(), call.buf_len as usize) }
    };
    let decoded = Call {
        fid: call.fid,
        caller,
        tvm: call.tvm,
        device: call.device,
        tdi: call.tdi,
        args: &mut call.args,
        buf,
        doe: call.doe,
        doe_ctx: call.doe_ctx,
    };
    match firmware.call(decoded) {
        Ok(ret) => {
            call.ret = ret;
            abi::TEEIO_TSM_SUCCESS as c_long
        }
        Err(status) => Status::code(status) as c_long,
    }
}

/// The firmware's private MMIO import entry (`teeio_tsm_fw.import_mmio`).
///
/// # Safety
///
/// As for [`entry`]; `dmabuf` is a dma-buf the caller holds for the call.
pub(crate) unsafe extern "C" fn import_mmio(
    firmware: *mut c_void,
    tvm: u64,
    slot: u32,
    gpa: u64,
    dmabuf: *mut kernel::bindings::dma_buf,
) -> c_long {
    if firmware.is_null() {
        return abi::TEEIO_TSM_ERR_INVALID_PARAM as c_long;
    }
    // SAFETY: per this function's contract.
    let firmware = unsafe { &*firmware.cast::<Firmware>() };
    match firmware.import_mmio(tvm, slot, gpa, dmabuf) {
        Ok(()) => abi::TEEIO_TSM_SUCCESS as c_long,
        Err(status) => Status::code(status) as c_long,
    }
}
