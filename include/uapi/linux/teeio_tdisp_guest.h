/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * teeio guest TDISP channel: how the TVM's guest requests reach the VMM.
 *
 * On a real platform a TVM's request for one of its TDIs leaves the guest
 * with a hypervisor exit (TDX: TDG.VP.VMCALL, SEV: the GHCB guest request,
 * CCA: an RSI call); the VMM relays it to the host TSM with
 * TEEIO_IOMMUFD_VDEVICE_TSM_REQ and resumes the guest with the answer.
 *
 * EMULATION: in the single booted kernel the guest side (teeio_tdisp_guest)
 * runs next to the host. Its exits are records on the character device
 * /dev/teeio-tdisp-guest, which the VMM process opens (one at a time:
 * -EBUSY), polls and services:
 *
 *   read():  one struct teeio_guest_exit followed by @req_len request bytes
 *            (-EAGAIN with O_NONBLOCK when none is pending; -EINVAL when the
 *            buffer cannot hold the whole record, which stays pending)
 *   write(): one struct teeio_guest_resume followed by @resp_len response
 *            bytes, for an exit read before (-ENOENT for an unknown
 *            @sequence, -EINVAL for a malformed record, -EMSGSIZE when
 *            @resp_len exceeds the exit's @resp_len)
 *   poll():  POLLIN while an exit is pending
 *
 * Exits not resumed when the VMM closes the device fail in the guest with
 * -ECONNRESET; an exit not resumed within the guest's timeout fails with
 * -ETIMEDOUT; with no VMM holding the device a request fails at once with
 * -ENOTCONN.
 */
#ifndef _UAPI_LINUX_TEEIO_TDISP_GUEST_H
#define _UAPI_LINUX_TEEIO_TDISP_GUEST_H

#include <linux/types.h>

/**
 * struct teeio_guest_exit - a guest request the VMM must relay
 * @size: sizeof(struct teeio_guest_exit)
 * @sequence: names the exit in its resume
 * @virt_id: the TDI as the guest addresses it: the vDEVICE's virt_id (the
 *	routing id of the guest's view of the device)
 * @type: enum teeio_tsm_req_type (linux/teeio_iommufd.h) of the request
 * @op: enum teeio_tsm_req_op (linux/teeio_iommufd.h) to relay it with
 * @req_len: request bytes following this header, 1..4096
 * @resp_len: room the guest has for the response, 0..65536
 * @__reserved: zero
 */
struct teeio_guest_exit {
	__u32 size;
	__u32 sequence;
	__u32 virt_id;
	__u32 type;
	__u32 op;
	__u32 req_len;
	__u32 resp_len;
	__u32 __reserved;
};

/**
 * struct teeio_guest_resume - the VMM's answer to one exit
 * @size: sizeof(struct teeio_guest_resume)
 * @sequence: the exit's
 * @error: 0 when the request reached the TSM; else the negative errno the
 *	host refused it with (TEEIO_IOMMUFD_VDEVICE_TSM_REQ's, or the VMM's
 *	own: -ENODEV for a virt_id it has no vDEVICE for)
 * @resp_len: response bytes following this header
 * @tsm_code: the TSM's status (0: success)
 */
struct teeio_guest_resume {
	__u32 size;
	__u32 sequence;
	__s32 error;
	__u32 resp_len;
	__u64 tsm_code;
};

#define TEEIO_GUEST_REQ_MAX 4096
#define TEEIO_GUEST_RESP_MAX 65536

#endif /* _UAPI_LINUX_TEEIO_TDISP_GUEST_H */
