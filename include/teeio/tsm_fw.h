/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Call ABI of the emulated platform TSM "firmware" (teeio_tsm_emu).
 *
 * EMULATION: no TEE security manager exists in the test machine, so the
 * trusted firmware's role is played by a module. Its one entry point has
 * the shape of a firmware call: a function id, a target (TVM, device,
 * TDI), a few scalar arguments and one buffer, and an SBI-shaped status.
 * The function ids follow CoVE-IO: host calls manage devices, TVMs and
 * bindings; guest calls are the TVM's own requests, relayed by the host.
 *
 * The platform device "teeio-tsm-emu" carries a struct teeio_tsm_fw as its
 * platform data; a host TSM driver binds to that device and makes calls.
 */
#ifndef _TEEIO_TSM_FW_H
#define _TEEIO_TSM_FW_H

#include <linux/types.h>

struct dma_buf;

#define TEEIO_TSM_FW_DEVICE_NAME "teeio-tsm-emu"
#define TEEIO_TSM_FW_ABI_VERSION 3

/**
 * enum teeio_tsm_fid - function ids
 * @TEEIO_TSM_CREATE_TVM: new TVM context; @ret: its handle
 * @TEEIO_TSM_DESTROY_TVM: drop TVM @tvm; refused while it has bound TDIs
 * @TEEIO_TSM_CONNECT_DEVICE: SPDM with the DSM of @device: version,
 *	capabilities, algorithms, certificate, measurements
 * @TEEIO_TSM_DISCONNECT_DEVICE: forget @device; refused while it has
 *	bound TDIs or live IDE keys
 * @TEEIO_TSM_IDE_KEYS_START: program and start the keys of selective
 *	stream @args[0] (stream id) on the endpoint (IDE_KM) and on the root
 *	port @args[1] (its requester id)
 * @TEEIO_TSM_IDE_KEYS_STOP: stop those keys on both ports
 * @TEEIO_TSM_ADD_TVM_INTERFACE_REGION: let @tvm map MMIO of @tdi:
 *	@args[0] guest physical address, @args[1] host physical address,
 *	@args[2] length
 * @TEEIO_TSM_RECLAIM_TVM_INTERFACE_REGION: take back the region at guest
 *	physical address @args[0]; refused while mapped
 * @TEEIO_TSM_BIND_INTERFACE: LOCK_INTERFACE @tdi for @tvm with MMIO
 *	reporting offset @args[0]; needs a connected device and added regions
 * @TEEIO_TSM_UNBIND_INTERFACE: LAST teardown step: reclaim the TDI's
 *	regions and free its context; refused (INVALID_STATE) until the
 *	three steps below have run, in their order
 * @TEEIO_TSM_GET_HOST_INTERFACE_STATE: TDISP state of @tdi as the host
 *	may see it; @ret: the state
 * @TEEIO_TSM_UNMAP_INTERFACE_MMIO: CPU teardown step: unmap the TDI's
 *	private MMIO from @tvm's secure stage-2
 * @TEEIO_TSM_STOP_BOUND_INTERFACE: DEVICE teardown step: STOP_INTERFACE;
 *	refused while private MMIO is still mapped
 * @TEEIO_TSM_DETACH_INTERFACE_DMA: IOMMU teardown step: drop the TDI from
 *	@tvm's trusted IOMMU context; refused while the TDI is not stopped
 * @TEEIO_TSM_GET_INTERFACE_REPORT: guest: @args[1] bytes of the interface
 *	report from offset @args[0] into @buf; @ret: bytes, @args[2] on
 *	return: the report's total length
 * @TEEIO_TSM_GET_INTERFACE_STATE: guest: @ret: the TDISP state
 * @TEEIO_TSM_GET_DEVICE_MEASUREMENTS: guest: the device's measurement
 *	record into @buf; @ret: bytes
 * @TEEIO_TSM_MAP_INTERFACE_MMIO: guest: accept the report range mapped at
 *	guest physical address @args[0], length @args[1], into the secure
 *	stage-2
 * @TEEIO_TSM_ACCEPT_INTERFACE_DMA: guest: let @tdi DMA to private memory
 * @TEEIO_TSM_START_INTERFACE: guest: START_INTERFACE with the lock nonce
 * @TEEIO_TSM_STOP_INTERFACE: guest: STOP_INTERFACE, unmapping whatever
 *	private MMIO the host left mapped first; the host then runs the rest
 *	of the teardown
 * @TEEIO_TSM_GET_INTERFACE_EVIDENCE: guest: struct teeio_tsm_guest_evidence
 *	(linux/teeio_tsm.h) of the locked TDI into @buf; @ret: bytes
 */
enum teeio_tsm_fid {
	TEEIO_TSM_CREATE_TVM = 0x00,
	TEEIO_TSM_DESTROY_TVM = 0x01,
	TEEIO_TSM_CONNECT_DEVICE = 0x10,
	TEEIO_TSM_DISCONNECT_DEVICE = 0x11,
	TEEIO_TSM_IDE_KEYS_START = 0x12,
	TEEIO_TSM_IDE_KEYS_STOP = 0x13,
	TEEIO_TSM_ADD_TVM_INTERFACE_REGION = 0x20,
	TEEIO_TSM_RECLAIM_TVM_INTERFACE_REGION = 0x21,
	TEEIO_TSM_BIND_INTERFACE = 0x22,
	TEEIO_TSM_UNBIND_INTERFACE = 0x23,
	TEEIO_TSM_GET_HOST_INTERFACE_STATE = 0x24,
	TEEIO_TSM_UNMAP_INTERFACE_MMIO = 0x25,
	TEEIO_TSM_STOP_BOUND_INTERFACE = 0x26,
	TEEIO_TSM_DETACH_INTERFACE_DMA = 0x27,
	TEEIO_TSM_GET_INTERFACE_REPORT = 0x40,
	TEEIO_TSM_GET_INTERFACE_STATE = 0x41,
	TEEIO_TSM_GET_DEVICE_MEASUREMENTS = 0x42,
	TEEIO_TSM_MAP_INTERFACE_MMIO = 0x43,
	TEEIO_TSM_ACCEPT_INTERFACE_DMA = 0x44,
	TEEIO_TSM_START_INTERFACE = 0x45,
	TEEIO_TSM_STOP_INTERFACE = 0x46,
	TEEIO_TSM_GET_INTERFACE_EVIDENCE = 0x47,
};

/* Guest calls are TEEIO_TSM_GUEST_FID_BASE and up. */
#define TEEIO_TSM_GUEST_FID_BASE 0x40

/* Call status, shaped after the RISC-V SBI error codes CoVE uses. */
#define TEEIO_TSM_SUCCESS		0
#define TEEIO_TSM_ERR_FAILED		(-1)
#define TEEIO_TSM_ERR_NOT_SUPPORTED	(-2)
#define TEEIO_TSM_ERR_INVALID_PARAM	(-3)
#define TEEIO_TSM_ERR_DENIED		(-4)
#define TEEIO_TSM_ERR_INVALID_ADDRESS	(-5)
#define TEEIO_TSM_ERR_ALREADY_AVAILABLE	(-6)
#define TEEIO_TSM_ERR_INVALID_STATE	(-10)
#define TEEIO_TSM_ERR_BAD_RANGE		(-11)
#define TEEIO_TSM_ERR_TIMEOUT		(-12)
#define TEEIO_TSM_ERR_IO		(-13)
#define TEEIO_TSM_ERR_NO_MEMORY		(-14)

/* Who makes a call: the host, or (relayed by the host) TVM @tvm. */
#define TEEIO_TSM_CALLER_HOST 0
#define TEEIO_TSM_CALLER_TVM 1

/**
 * typedef teeio_tsm_doe_fn - the host's DOE transport for DSM exchanges
 *
 * Same contract as pci_tsm_doe_transfer(). EMULATION: firmware cannot call
 * into the host; real TSMs return to the host with an SPDM request to
 * relay and are called again with the response.
 */
typedef int (*teeio_tsm_doe_fn)(void *ctx, __u8 type, const void *req,
				size_t req_len, void *resp, size_t resp_len);

/**
 * struct teeio_tsm_fw_call - one call
 * @fid: enum teeio_tsm_fid
 * @caller: TEEIO_TSM_CALLER_*
 * @tvm: the target TVM (host calls) or the calling TVM (guest calls)
 * @device: PCI segment << 16 | requester id of the device's DSM function
 * @tdi: TDISP interface id (the TDI's requester id)
 * @args: scalar arguments, per function
 * @buf: in or out buffer, per function
 * @buf_len: size of @buf
 * @ret: value returned, per function
 * @doe: the host's DOE transport to @device, for calls that talk to its DSM
 * @doe_ctx: first argument of @doe
 */
struct teeio_tsm_fw_call {
	__u32 fid;
	__u32 caller;
	__u64 tvm;
	__u32 device;
	__u32 tdi;
	__u64 args[3];
	void *buf;
	__u64 buf_len;
	__u64 ret;
	teeio_tsm_doe_fn doe;
	void *doe_ctx;
};

/**
 * struct teeio_tsm_fw - platform data of the "teeio-tsm-emu" device
 * @abi_version: TEEIO_TSM_FW_ABI_VERSION
 * @firmware: first argument of @call
 * @call: the entry; returns a TEEIO_TSM_* status. Calls sleep.
 * @import_mmio: the host hands TVM @tvm a private MMIO dma-buf, named
 *	@slot, that the guest sees at @gpa; the secure stage-2 attaches to it
 *	(dynamically: a revocation unmaps it) and maps it only when the guest
 *	accepts that range. It must be exactly an MMIO range of a locked TDI
 *	bound to @tvm. From the first import on, @tvm maps private MMIO only
 *	from imported, unrevoked dma-bufs. Returns a TEEIO_TSM_* status.
 *	EMULATION: on real platforms the private-MMIO memslot is KVM's
 *	(KVM_MEM_VFIO_DMABUF in the upstream proposal) and KVM passes the TSM
 *	host physical addresses; here the firmware holds the attachment.
 */
struct teeio_tsm_fw {
	__u32 abi_version;
	void *firmware;
	long (*call)(void *firmware, struct teeio_tsm_fw_call *call);
	long (*import_mmio)(void *firmware, __u64 tvm, __u32 slot, __u64 gpa,
			    struct dma_buf *dmabuf);
};

#endif /* _TEEIO_TSM_FW_H */
