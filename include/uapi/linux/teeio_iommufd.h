/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * teeio iommufd TSM extension: confidential vIOMMU and vDEVICE objects with
 * TSM operations, on the character device /dev/teeio-iommufd.
 *
 * An out-of-tree module cannot add commands to /dev/iommu, so the
 * extension has its own device. Its objects live in the iommufd context
 * of the iommufd file given to TEEIO_IOMMUFD_ATTACH and follow IOMMUFD's
 * conventions:
 *  - every command's struct starts with its size; a size smaller than the
 *    first version of the struct is -EINVAL, a larger one whose tail is
 *    not zero is -E2BIG, a smaller one (an older struct) is zero-extended;
 *  - objects are named by ids unique within an open extension file, never
 *    reused while it is open;
 *  - TEEIO_IOMMUFD_DESTROY fails with -EBUSY while dependants exist;
 *    closing the extension file destroys what is left, leaves first.
 *
 * The TSM commands mirror the upstream proposal (IOMMU_VDEVICE_TSM_OP 0x95,
 * IOMMU_VDEVICE_TSM_REQ 0x96, Aneesh Kumar, v5, May 2026) with the
 * request envelope its review asked for (a TSM type and an op instead of a
 * PCI scope). Documentation/iommufd-tsm.rst lists every difference.
 */
#ifndef _UAPI_LINUX_TEEIO_IOMMUFD_H
#define _UAPI_LINUX_TEEIO_IOMMUFD_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * IOMMUFD's ioctl type. The object commands take the numbers of IOMMUFD's
 * commands for the same objects (VIOMMU_ALLOC 0x90, VDEVICE_ALLOC 0x91,
 * VEVENTQ_ALLOC 0x93), the TSM commands those of the upstream proposal
 * (0x95, 0x96); the others are the extension's own.
 */
#define TEEIO_IOMMUFD_TYPE ';'

enum teeio_iommufd_cmd {
	TEEIO_IOMMUFD_CMD_ATTACH = 0x80,
	TEEIO_IOMMUFD_CMD_DESTROY = 0x81,
	TEEIO_IOMMUFD_CMD_EMU_VM_CREATE = 0x82,
	TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION = 0x83,
	TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
	TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
	TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
	TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP = 0x95,
	TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ = 0x96,
	TEEIO_IOMMUFD_CMD_VDEVICE_INFO = 0x97,
};

/**
 * struct teeio_iommufd_attach - TEEIO_IOMMUFD_ATTACH
 * @size: sizeof(struct teeio_iommufd_attach)
 * @flags: must be 0
 * @iommufd: an open /dev/iommu file; the extension holds its context
 *	until the extension file is closed
 * @__reserved: must be 0
 *
 * Once per extension file (-EBUSY the second time). Every other command
 * but the EMU_VM commands need it first (-ENXIO).
 */
struct teeio_iommufd_attach {
	__u32 size;
	__u32 flags;
	__s32 iommufd;
	__u32 __reserved;
};
#define TEEIO_IOMMUFD_ATTACH _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_ATTACH)

/**
 * struct teeio_iommufd_destroy - TEEIO_IOMMUFD_DESTROY
 * @size: sizeof(struct teeio_iommufd_destroy)
 * @id: a vIOMMU, vDEVICE or vEVENTQ id
 *
 * A vIOMMU with vDEVICEs or a vEVENTQ, or a vEVENTQ whose file is open, is
 * -EBUSY. A bound vDEVICE is unbound first (the ordered teardown).
 */
struct teeio_iommufd_destroy {
	__u32 size;
	__u32 id;
};
#define TEEIO_IOMMUFD_DESTROY _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_DESTROY)

/**
 * struct teeio_emu_vm_create - TEEIO_IOMMUFD_EMU_VM_CREATE
 * @size: sizeof(struct teeio_emu_vm_create)
 * @flags: must be 0
 * @out_vm_fd: a new file standing for one confidential VM
 * @__reserved: must be 0
 *
 * EMULATION. Where KVM cannot run a confidential VM, this file is the VM
 * identity a vIOMMU is bound to, in place of a KVM VM file. The platform
 * TSM's TVM for it is made at the first bind and released with the file.
 */
struct teeio_emu_vm_create {
	__u32 size;
	__u32 flags;
	__s32 out_vm_fd;
	__u32 __reserved;
};
#define TEEIO_IOMMUFD_EMU_VM_CREATE _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_EMU_VM_CREATE)

/* The memory region is a VFIO dma-buf (private MMIO). */
#define TEEIO_MEM_VFIO_DMABUF (1U << 0)

/**
 * struct teeio_emu_vm_memory_region - TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION
 * @size: sizeof(struct teeio_emu_vm_memory_region)
 * @flags: TEEIO_MEM_VFIO_DMABUF, required
 * @vm_fd: a file from TEEIO_IOMMUFD_EMU_VM_CREATE
 * @slot: the VM's name for the region; one dma-buf per slot
 * @guest_phys_addr: where the guest sees it: where the host TSM offered
 *	the TDI's MMIO range to the TVM (the host physical address, in this
 *	emulation)
 * @memory_size: the dma-buf's size
 * @dmabuf_fd: a TDI MMIO dma-buf (TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF,
 *	<linux/teeio_vfio.h>)
 * @__reserved: must be 0
 * @dmabuf_offset: must be 0
 *
 * EMULATION of KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_VFIO_DMABUF (the
 * upstream private-MMIO proposal): hands the VM's TVM the dma-buf of one
 * MMIO range of a locked TDI. The platform's secure stage-2 attaches to it
 * and maps it when the guest accepts the range; a revocation unmaps it.
 * The TVM must exist (a TDI bound for the VM: -ENOENT otherwise); the
 * range must be an MMIO range of a locked TDI of that TVM (-EADDRNOTAVAIL),
 * not imported before (-EEXIST); a revoked dma-buf is -EACCES. From the
 * first region on, the TVM maps private MMIO only from such regions. The
 * TVM holds the dma-buf until the TDI is freed. Needs no ATTACH.
 */
struct teeio_emu_vm_memory_region {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__u32 slot;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__s32 dmabuf_fd;
	__u32 __reserved;
	__u64 dmabuf_offset;
};
#define TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_EMU_VM_SET_MEMORY_REGION)

/**
 * enum teeio_viommu_type - vIOMMU types
 * @TEEIO_VIOMMU_TYPE_TSM: a confidential vIOMMU: its vDEVICEs can be bound
 *	to its VM's TVM through the platform TSM
 */
enum teeio_viommu_type {
	TEEIO_VIOMMU_TYPE_TSM = 1,
};

/**
 * struct teeio_viommu_alloc - TEEIO_IOMMUFD_VIOMMU_ALLOC
 * @size: sizeof(struct teeio_viommu_alloc)
 * @flags: must be 0
 * @type: enum teeio_viommu_type
 * @vm_fd: the VM: a KVM VM file, or a file from TEEIO_IOMMUFD_EMU_VM_CREATE
 *	(EMULATION); the vIOMMU holds it until destroyed
 * @out_viommu_id: the new vIOMMU
 * @__reserved: must be 0
 *
 * One vIOMMU per VM and extension file (-EEXIST). A VM that already has
 * TDIs bound through another vIOMMU is -EBUSY.
 */
struct teeio_viommu_alloc {
	__u32 size;
	__u32 flags;
	__u32 type;
	__s32 vm_fd;
	__u32 out_viommu_id;
	__u32 __reserved;
};
#define TEEIO_IOMMUFD_VIOMMU_ALLOC _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VIOMMU_ALLOC)

/**
 * struct teeio_vdevice_alloc - TEEIO_IOMMUFD_VDEVICE_ALLOC
 * @size: sizeof(struct teeio_vdevice_alloc)
 * @viommu_id: the vIOMMU
 * @dev_id: the device's id in the attached iommufd (VFIO_DEVICE_BIND_IOMMUFD)
 * @vfio_fd: the device's VFIO cdev file (/dev/vfio/devices/vfioN), bound
 *	to that iommufd as @dev_id; the vDEVICE holds it until destroyed
 * @out_vdevice_id: the new vDEVICE
 * @__reserved: must be 0
 * @virt_id: the device's ID in the VM: its virtual BDF, which is the
 *	TDI id the TSM and the guest use; 1..0xffff
 *
 * One vDEVICE per device (-EEXIST) and per @virt_id in a vIOMMU (-EEXIST).
 * A device not bound to the iommufd as @dev_id is -ENODEV.
 */
struct teeio_vdevice_alloc {
	__u32 size;
	__u32 viommu_id;
	__u32 dev_id;
	__s32 vfio_fd;
	__u32 out_vdevice_id;
	__u32 __reserved;
	__aligned_u64 virt_id;
};
#define TEEIO_IOMMUFD_VDEVICE_ALLOC _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VDEVICE_ALLOC)

/**
 * enum teeio_veventq_type - vEVENTQ types
 * @TEEIO_VEVENTQ_TYPE_TDI: TDI state changes, struct teeio_vevent_tdi
 */
enum teeio_veventq_type {
	TEEIO_VEVENTQ_TYPE_TDI = 1,
};

/**
 * struct teeio_veventq_alloc - TEEIO_IOMMUFD_VEVENTQ_ALLOC
 * @size: sizeof(struct teeio_veventq_alloc)
 * @flags: must be 0
 * @viommu_id: the vIOMMU whose vDEVICEs report
 * @type: enum teeio_veventq_type
 * @veventq_depth: records kept before the oldest are dropped; 1..4096
 * @out_veventq_id: the new vEVENTQ
 * @out_veventq_fd: its file: read() returns whole records, poll() says
 *	when one is there
 * @__reserved: must be 0
 *
 * One per vIOMMU (-EEXIST).
 */
struct teeio_veventq_alloc {
	__u32 size;
	__u32 flags;
	__u32 viommu_id;
	__u32 type;
	__u32 veventq_depth;
	__u32 out_veventq_id;
	__s32 out_veventq_fd;
	__u32 __reserved;
};
#define TEEIO_IOMMUFD_VEVENTQ_ALLOC _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VEVENTQ_ALLOC)

/* Set in a record's header when records were dropped before it. */
#define TEEIO_VEVENTQ_FLAG_LOST_EVENTS (1U << 0)

/**
 * struct teeio_vevent_header - precedes each record read from a vEVENTQ
 * @flags: TEEIO_VEVENTQ_FLAG_*
 * @sequence: the record's number, from 0 to INT_MAX, then 0 again
 */
struct teeio_vevent_header {
	__u32 flags;
	__u32 sequence;
};

/**
 * enum teeio_vevent_tdi_event - what happened to a bound TDI
 * @TEEIO_VEVENT_TDI_ERROR: the TDI was found in ERROR and torn down
 * @TEEIO_VEVENT_TDI_UNBOUND_BY_HOST: the host unbound it (TSM or driver
 *	going away, an administrator) without this VMM asking
 * @TEEIO_VEVENT_TDI_STOPPED_BY_GUEST: the TVM stopped it (STOP_INTERFACE)
 *
 * In each case the ordered teardown has run. After ERROR and STOPPED_BY_GUEST
 * the vDEVICE stays bound until the VMM finishes with TEEIO_VDEVICE_TSM_UNBIND
 * (or destroys it); after UNBOUND_BY_HOST it is unbound.
 */
enum teeio_vevent_tdi_event {
	TEEIO_VEVENT_TDI_ERROR = 1,
	TEEIO_VEVENT_TDI_UNBOUND_BY_HOST = 2,
	TEEIO_VEVENT_TDI_STOPPED_BY_GUEST = 3,
};

/**
 * struct teeio_vevent_tdi - a TEEIO_VEVENTQ_TYPE_TDI record
 * @vdevice_id: the vDEVICE
 * @event: enum teeio_vevent_tdi_event
 * @virt_id: the vDEVICE's virt_id
 */
struct teeio_vevent_tdi {
	__u32 vdevice_id;
	__u32 event;
	__aligned_u64 virt_id;
};

/**
 * enum teeio_vdevice_tsm_op_type - TSM operations on a vDEVICE
 * @TEEIO_VDEVICE_TSM_BIND: bind the TDI to the vIOMMU's VM (pci_tsm_bind():
 *	LOCK_INTERFACE, CONFIG_LOCKED); the device must be connected
 * @TEEIO_VDEVICE_TSM_UNBIND: the ordered teardown and pci_tsm_unbind()
 */
enum teeio_vdevice_tsm_op_type {
	TEEIO_VDEVICE_TSM_BIND = 1,
	TEEIO_VDEVICE_TSM_UNBIND = 2,
};

/**
 * struct teeio_vdevice_tsm_op - TEEIO_IOMMUFD_VDEVICE_TSM_OP
 * @size: sizeof(struct teeio_vdevice_tsm_op)
 * @type: enum teeio_vdevice_tsm_op_type
 * @flags: must be 0
 * @vdevice_id: the vDEVICE
 * @mmio_reporting_offset: BIND: where the VM sees the device's MMIO,
 *	relative to where the host does: the TDI's memory BARs are offered
 *	to the TVM at their host physical addresses plus this offset, and
 *	LOCK_INTERFACE gets it as MMIO_REPORTING_OFFSET, so the interface
 *	report shows the ranges where the guest finds them. 4 KiB aligned
 *	(-EINVAL); 0 for UNBIND. Optional (@size 16: 0).
 *
 * BIND of a bound vDEVICE is -EBUSY, UNBIND of an unbound one -ENXIO.
 */
struct teeio_vdevice_tsm_op {
	__u32 size;
	__u32 type;
	__u32 flags;
	__u32 vdevice_id;
	__aligned_u64 mmio_reporting_offset;
};
#define TEEIO_IOMMUFD_VDEVICE_TSM_OP _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VDEVICE_TSM_OP)

/**
 * enum teeio_tsm_req_type - the TSM architecture a request is written for
 * @TEEIO_TSM_REQ_TYPE_TDX: Intel TDX Connect
 * @TEEIO_TSM_REQ_TYPE_SEV: AMD SEV-TIO
 * @TEEIO_TSM_REQ_TYPE_CCA: Arm CCA
 * @TEEIO_TSM_REQ_TYPE_TEEIO: struct teeio_tsm_guest_req (linux/teeio_tsm.h),
 *	what the emulated platform TSM speaks
 *
 * The extension passes a request on only when the device's TSM speaks
 * its type (-EOPNOTSUPP otherwise).
 */
enum teeio_tsm_req_type {
	TEEIO_TSM_REQ_TYPE_TDX = 1,
	TEEIO_TSM_REQ_TYPE_SEV = 2,
	TEEIO_TSM_REQ_TYPE_CCA = 3,
	TEEIO_TSM_REQ_TYPE_TEEIO = 4,
};

/**
 * enum teeio_tsm_req_op - what a request may do, which the host enforces
 * @TEEIO_TSM_REQ_OP_INFO: read the TDI's state, report or evidence
 * @TEEIO_TSM_REQ_OP_STATE_CHANGE: change the TDI's state (accept MMIO or
 *	DMA, start, stop)
 */
enum teeio_tsm_req_op {
	TEEIO_TSM_REQ_OP_INFO = 0,
	TEEIO_TSM_REQ_OP_STATE_CHANGE = 1,
};

/**
 * struct teeio_vdevice_tsm_req - TEEIO_IOMMUFD_VDEVICE_TSM_REQ
 * @size: sizeof(struct teeio_vdevice_tsm_req)
 * @vdevice_id: the vDEVICE, which must be bound (-ENXIO)
 * @type: enum teeio_tsm_req_type
 * @op: enum teeio_tsm_req_op
 * @req_len: bytes at @req_uptr, 1..4096
 * @resp_len: room at @resp_uptr, 0..65536
 * @req_uptr: the TVM's request
 * @resp_uptr: where the TSM's response goes
 * @out_tsm_code: the TSM's status (0: success); the ioctl itself succeeds
 *	when the request reached the TSM
 * @out_resp_len: bytes written at @resp_uptr
 * @__reserved: must be 0
 *
 * When the ioctl fails (the host refused the request), nothing is written
 * back.
 */
struct teeio_vdevice_tsm_req {
	__u32 size;
	__u32 vdevice_id;
	__u32 type;
	__u32 op;
	__u32 req_len;
	__u32 resp_len;
	__aligned_u64 req_uptr;
	__aligned_u64 resp_uptr;
	__aligned_u64 out_tsm_code;
	__u32 out_resp_len;
	__u32 __reserved;
};
#define TEEIO_IOMMUFD_VDEVICE_TSM_REQ _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VDEVICE_TSM_REQ)

/*
 * struct teeio_vdevice_info @out_flags: BOUND from a successful TSM BIND
 * until the TSM UNBIND (or a host unbind); TORN_DOWN once the ordered
 * teardown ran while bound (guest stop, ERROR).
 */
#define TEEIO_VDEVICE_INFO_BOUND (1U << 0)
#define TEEIO_VDEVICE_INFO_TORN_DOWN (1U << 1)

/**
 * struct teeio_vdevice_info - TEEIO_IOMMUFD_VDEVICE_INFO
 * @size: sizeof(struct teeio_vdevice_info)
 * @vdevice_id: the vDEVICE
 * @out_flags: TEEIO_VDEVICE_INFO_*
 * @out_viommu_id: its vIOMMU
 * @out_pci_segment: the host device's PCI segment (domain)
 * @out_pci_bdf: the host device's bus << 8 | devfn
 * @__reserved: must be 0
 * @out_virt_id: its virt_id
 */
struct teeio_vdevice_info {
	__u32 size;
	__u32 vdevice_id;
	__u32 out_flags;
	__u32 out_viommu_id;
	__u32 out_pci_segment;
	__u16 out_pci_bdf;
	__u16 __reserved;
	__aligned_u64 out_virt_id;
};
#define TEEIO_IOMMUFD_VDEVICE_INFO _IO(TEEIO_IOMMUFD_TYPE, TEEIO_IOMMUFD_CMD_VDEVICE_INFO)

#endif /* _UAPI_LINUX_TEEIO_IOMMUFD_H */
