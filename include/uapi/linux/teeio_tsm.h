/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * teeio guest requests: what a TVM asks the platform TSM about one of its
 * TDIs. The host does not interpret them beyond their scope: a VMM relays
 * them (pci_tsm_guest_req(), reached through the iommufd TSM extension) to
 * the host TSM driver, which checks the scope and hands them to the TSM.
 *
 * A request is one struct teeio_tsm_guest_req. The response is the
 * operation's payload (report bytes, struct teeio_tsm_guest_state, the
 * measurement record, or nothing); the TSM's status comes back as the
 * request's tsm_code (TEEIO_TSM_* values of the TSM's call ABI, 0 for
 * success, negative SBI-shaped error codes otherwise).
 */
#ifndef _UAPI_LINUX_TEEIO_TSM_H
#define _UAPI_LINUX_TEEIO_TSM_H

#include <linux/types.h>

#define TEEIO_TSM_GUEST_REQ_VERSION 1

/**
 * enum teeio_tsm_guest_op - guest request operations
 * @TEEIO_TSM_GUEST_GET_REPORT: INFO: @arg1 bytes of the TDISP interface
 *	report from offset @arg0
 * @TEEIO_TSM_GUEST_GET_STATE: INFO: struct teeio_tsm_guest_state
 * @TEEIO_TSM_GUEST_GET_MEASUREMENTS: INFO: the device's SPDM measurement
 *	record (DMTF measurement blocks)
 * @TEEIO_TSM_GUEST_MAP_MMIO: STATE_CHANGE: accept the MMIO range the TVM
 *	sees at guest physical address @arg0, @arg1 bytes, as private
 * @TEEIO_TSM_GUEST_ACCEPT_DMA: STATE_CHANGE: let the TDI DMA to the TVM's
 *	private memory
 * @TEEIO_TSM_GUEST_START: STATE_CHANGE: START_INTERFACE
 * @TEEIO_TSM_GUEST_STOP: STATE_CHANGE: STOP_INTERFACE
 * @TEEIO_TSM_GUEST_GET_EVIDENCE: INFO: struct teeio_tsm_guest_evidence, what
 *	the TSM vouches for about the locked TDI
 */
enum teeio_tsm_guest_op {
	TEEIO_TSM_GUEST_GET_REPORT = 1,
	TEEIO_TSM_GUEST_GET_STATE = 2,
	TEEIO_TSM_GUEST_GET_MEASUREMENTS = 3,
	TEEIO_TSM_GUEST_MAP_MMIO = 4,
	TEEIO_TSM_GUEST_ACCEPT_DMA = 5,
	TEEIO_TSM_GUEST_START = 6,
	TEEIO_TSM_GUEST_STOP = 7,
	TEEIO_TSM_GUEST_GET_EVIDENCE = 8,
};

/**
 * struct teeio_tsm_guest_req - one guest request
 * @version: TEEIO_TSM_GUEST_REQ_VERSION
 * @op: enum teeio_tsm_guest_op
 * @reserved: must be zero
 * @tdi_id: the TDI the TVM addresses (its TDISP interface id); must be the
 *	TDI the request is relayed for
 * @arg0: per operation
 * @arg1: per operation
 */
struct teeio_tsm_guest_req {
	__u8 version;
	__u8 op;
	__u16 reserved;
	__u32 tdi_id;
	__u64 arg0;
	__u64 arg1;
};

/* TDISP TDI states (PCIe r6.x, TDISP), as GET_STATE reports them. */
#define TEEIO_TDI_CONFIG_UNLOCKED 0
#define TEEIO_TDI_CONFIG_LOCKED 1
#define TEEIO_TDI_RUN 2
#define TEEIO_TDI_ERROR 3

/**
 * struct teeio_tsm_guest_state - response of TEEIO_TSM_GUEST_GET_STATE
 * @tdi_state: TEEIO_TDI_*
 * @dma_accepted: 1 once the TVM accepted DMA
 * @mmio_ranges: ranges in the interface report
 * @mmio_mapped: ranges the TVM accepted so far
 */
struct teeio_tsm_guest_state {
	__u8 tdi_state;
	__u8 dma_accepted;
	__u16 mmio_ranges;
	__u16 mmio_mapped;
	__u16 reserved;
};

#define TEEIO_TSM_DIGEST_SIZE 48

/**
 * struct teeio_tsm_guest_evidence - response of TEEIO_TSM_GUEST_GET_EVIDENCE
 * @report_digest: SHA-384 of the interface report the TSM read from the
 *	device at LOCK_INTERFACE
 * @measurements_digest: SHA-384 of the device's measurement record, as
 *	GET_MEASUREMENTS returns it
 * @cert_digest: SHA-384 of the device's certificate chain (slot 0)
 * @mmio_reporting_offset: the offset the host locked the TDI with; the
 *	report's MMIO addresses are the device's plus this offset
 * @report_len: bytes in the interface report
 * @reserved: zero
 *
 * The TVM checks the report and the measurements it fetched, in portions
 * and through the host, against these digests. Real TSMs protect this
 * response from the host (TDX: the TDX module; SEV-TIO: the guest message
 * keys); the emulated TSM's tunnel does not.
 */
struct teeio_tsm_guest_evidence {
	__u8 report_digest[TEEIO_TSM_DIGEST_SIZE];
	__u8 measurements_digest[TEEIO_TSM_DIGEST_SIZE];
	__u8 cert_digest[TEEIO_TSM_DIGEST_SIZE];
	__u64 mmio_reporting_offset;
	__u32 report_len;
	__u32 reserved;
};

#endif /* _UAPI_LINUX_TEEIO_TSM_H */
