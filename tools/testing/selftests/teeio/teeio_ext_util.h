/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kselftests that act as a VMM share: VFIO device cdevs bound to
 * an iommufd, the iommufd TSM extension's commands, and the guest side of
 * the request tunnel.
 */
#ifndef TEEIO_EXT_UTIL_H
#define TEEIO_EXT_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/teeio_iommufd.h>
#include <linux/teeio_tsm.h>
#include <linux/teeio_vfio.h>
#include <linux/vfio.h>

#include "teeio_tsm_util.h"

#define EXT "/dev/teeio-iommufd"
/* The vDEVICE's virt_id, which is the TDI id (test hook form: TDI). */
#define VIRT 0x100
#define TDI "0100"

static inline int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/* Hands @bdf to VFIO driver @driver (vfio-pci, teeio-vfio-pci). */
static inline int to_driver(const char *bdf, const char *driver)
{
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ret = write_str(path, driver);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (!ret && !access(path, F_OK))
		ret = write_str(path, bdf);
	return ret ?: write_str("/sys/bus/pci/drivers_probe", bdf);
}

static inline void from_driver(const char *bdf, const char *driver)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	write_str(path, "\n");
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", driver);
	write_str(path, bdf);
}

/* Opens the VFIO device cdev of @bdf. */
static inline int vfio_open(const char *bdf)
{
	char path[300];
	struct dirent *d;
	int fd = -ENOENT;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "vfio", 4))
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/devices/%s", d->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
		break;
	}
	closedir(dir);
	return fd;
}

/*
 * Binds a VFIO cdev to @iommufd; its dev_id in @dev_id. The previous VMM's
 * close of the device may still be on its way (a deferred fput): retry.
 */
static inline int vfio_bind(int vfio, int iommufd, uint32_t *dev_id)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = iommufd,
	};
	int ret;

	for (int i = 0; i < 100; i++) {
		ret = xioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind);
		if (ret != -EBUSY && ret != -EINVAL)
			break;
		usleep(20000);
	}
	*dev_id = bind.out_devid;
	return ret;
}

static inline int attach(int ext, int iommufd)
{
	struct teeio_iommufd_attach a = { .size = sizeof(a), .iommufd = iommufd };

	return xioctl(ext, TEEIO_IOMMUFD_ATTACH, &a);
}

static inline int emu_vm(int ext)
{
	struct teeio_emu_vm_create c = { .size = sizeof(c) };
	int ret = xioctl(ext, TEEIO_IOMMUFD_EMU_VM_CREATE, &c);

	return ret ?: c.out_vm_fd;
}

static inline int viommu_alloc(int ext, int vm_fd, uint32_t *id)
{
	struct teeio_viommu_alloc a = {
		.size = sizeof(a), .type = TEEIO_VIOMMU_TYPE_TSM, .vm_fd = vm_fd,
	};
	int ret = xioctl(ext, TEEIO_IOMMUFD_VIOMMU_ALLOC, &a);

	*id = a.out_viommu_id;
	return ret;
}

static inline int vdevice_alloc(int ext, uint32_t viommu, uint32_t dev_id, int vfio,
			 uint64_t virt_id, uint32_t *id)
{
	struct teeio_vdevice_alloc a = {
		.size = sizeof(a), .viommu_id = viommu, .dev_id = dev_id,
		.vfio_fd = vfio, .virt_id = virt_id,
	};
	int ret = xioctl(ext, TEEIO_IOMMUFD_VDEVICE_ALLOC, &a);

	*id = a.out_vdevice_id;
	return ret;
}

static inline int veventq_alloc(int ext, uint32_t viommu, uint32_t depth, uint32_t *id)
{
	struct teeio_veventq_alloc a = {
		.size = sizeof(a), .viommu_id = viommu,
		.type = TEEIO_VEVENTQ_TYPE_TDI, .veventq_depth = depth,
	};
	int ret = xioctl(ext, TEEIO_IOMMUFD_VEVENTQ_ALLOC, &a);

	*id = a.out_veventq_id;
	return ret ?: a.out_veventq_fd;
}

static inline int tsm_op(int ext, uint32_t vdev, uint32_t type)
{
	struct teeio_vdevice_tsm_op op = {
		.size = sizeof(op), .type = type, .vdevice_id = vdev,
	};

	return xioctl(ext, TEEIO_IOMMUFD_VDEVICE_TSM_OP, &op);
}

static inline int destroy(int ext, uint32_t id)
{
	struct teeio_iommufd_destroy d = { .size = sizeof(d), .id = id };

	return xioctl(ext, TEEIO_IOMMUFD_DESTROY, &d);
}

/*
 * A guest request for TDI @virt through the tunnel: 0 or -errno; the TSM's
 * answer in @o.
 */
static inline int tunnel_for(int ext, uint32_t vdev, uint32_t virt, uint32_t op_class,
			     int op, uint64_t arg0, uint64_t arg1, struct outcome *o)
{
	struct teeio_tsm_guest_req g = {
		.version = TEEIO_TSM_GUEST_REQ_VERSION, .op = op,
		.tdi_id = virt, .arg0 = arg0, .arg1 = arg1,
	};
	struct teeio_vdevice_tsm_req r = {
		.size = sizeof(r), .vdevice_id = vdev,
		.type = TEEIO_TSM_REQ_TYPE_TEEIO, .op = op_class,
		.req_len = sizeof(g), .resp_len = sizeof(o->data),
		.req_uptr = (uintptr_t)&g, .resp_uptr = (uintptr_t)o->data,
	};
	int ret = xioctl(ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r);

	o->rc = ret;
	o->tsm_code = (long long)r.out_tsm_code;
	o->len = r.out_resp_len;
	return ret;
}

/* The same for the TDI at VIRT. */
static inline int tunnel(int ext, uint32_t vdev, uint32_t op_class, int op,
			 uint64_t arg0, uint64_t arg1, struct outcome *o)
{
	return tunnel_for(ext, vdev, VIRT, op_class, op, arg0, arg1, o);
}

/*
 * The MMIO ranges in the interface report of bound TDI @virt, read through
 * the tunnel as the guest would: their reported addresses in @addr, their
 * bytes in @len, at most @max. The count, or -errno.
 */
static inline int report_ranges(int ext, uint32_t vdev, uint32_t virt, uint64_t *addr,
				uint64_t *len, int max)
{
	struct outcome report;
	int count, ret = tunnel_for(ext, vdev, virt, TEEIO_TSM_REQ_OP_INFO,
				    TEEIO_TSM_GUEST_GET_REPORT, 0, 4096, &report);

	if (ret || report.tsm_code)
		return ret ?: -EIO;
	count = report_range(report.data, report.len, 0, NULL, NULL);
	if (count <= 0 || count > max)
		return -ERANGE;
	for (int i = 0; i < count; i++) {
		uint32_t pages = 0;

		report_range(report.data, report.len, i, &addr[i], &pages);
		len[i] = (uint64_t)pages * 4096;
	}
	return count;
}

/* The TDI state the guest reads through the tunnel, or -errno. */
static inline int guest_state(int ext, uint32_t vdev)
{
	struct outcome o;
	int ret = tunnel(ext, vdev, TEEIO_TSM_REQ_OP_INFO, TEEIO_TSM_GUEST_GET_STATE, 0, 0, &o);

	return ret ?: o.tsm_code ? -EIO : o.data[0];
}

/* The guest accepts every MMIO range and DMA, then starts the TDI. */
static inline int accept_and_start(int ext, uint32_t vdev)
{
	uint64_t addr[16], len[16];
	struct outcome o;
	int count, ret;

	count = report_ranges(ext, vdev, VIRT, addr, len, 16);
	if (count < 0)
		return count;
	for (int i = 0; i < count; i++) {
		ret = tunnel(ext, vdev, TEEIO_TSM_REQ_OP_STATE_CHANGE, TEEIO_TSM_GUEST_MAP_MMIO,
			     addr[i], len[i], &o);
		if (ret || o.tsm_code)
			return ret ?: -EIO;
	}
	ret = tunnel(ext, vdev, TEEIO_TSM_REQ_OP_STATE_CHANGE, TEEIO_TSM_GUEST_ACCEPT_DMA, 0, 0, &o);
	if (ret || o.tsm_code)
		return ret ?: -EIO;
	ret = tunnel(ext, vdev, TEEIO_TSM_REQ_OP_STATE_CHANGE, TEEIO_TSM_GUEST_START, 0, 0, &o);
	return ret ?: o.tsm_code ? -EIO : 0;
}

/*
 * What a VMM opens for @bdf: the extension and an iommufd, attached; the
 * device's VFIO cdev bound to the iommufd (@dev_id); a VM and its vIOMMU.
 * 0 or -errno; the files opened so far are returned either way.
 */
static inline int open_vmm(const char *bdf, int *ext, int *iommufd, int *vfio,
			   uint32_t *dev_id, int *vm, uint32_t *viommu)
{
	*ext = open(EXT, O_RDWR | O_CLOEXEC);
	*iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	*vfio = *vm = -1;
	if (*ext < 0 || *iommufd < 0)
		return -errno;
	*vfio = vfio_open(bdf);
	if (*vfio < 0)
		return *vfio;
	if (vfio_bind(*vfio, *iommufd, dev_id) || attach(*ext, *iommufd))
		return -EIO;
	*vm = emu_vm(*ext);
	if (*vm < 0)
		return *vm;
	return viommu_alloc(*ext, *vm, viommu);
}

/* The BAR of @bdf holding host address @addr and the offset into it. */
static inline int bar_of(const char *bdf, uint64_t addr, uint32_t *bar, uint64_t *offset)
{
	unsigned long long start, end, flags;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (uint32_t i = 0; i < 6 && fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3; i++) {
		if (start && addr >= start && addr <= end) {
			*bar = i;
			*offset = addr - start;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

/* A TDI dma-buf of @len bytes at @offset of BAR @bar: its fd or -errno. */
static inline int tdi_dma_buf_raw(int vfio, uint32_t bar, uint64_t offset, uint64_t len,
			   uint32_t nr_ranges)
{
	uint8_t buf[sizeof(struct vfio_device_feature) + sizeof(struct vfio_device_feature_dma_buf) +
		    sizeof(struct vfio_region_dma_range)] __attribute__((aligned(8))) = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	struct vfio_device_feature_dma_buf *d = (void *)f->data;
	struct vfio_region_dma_range *r = (void *)(d + 1);
	int fd;

	f->argsz = sizeof(buf);
	f->flags = VFIO_DEVICE_FEATURE_GET | TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF;
	d->region_index = bar;
	d->open_flags = O_RDWR | O_CLOEXEC;
	d->nr_ranges = nr_ranges;
	r->offset = offset;
	r->length = len;
	fd = ioctl(vfio, VFIO_DEVICE_FEATURE, buf);
	return fd < 0 ? -errno : fd;
}

/* The TDI dma-buf of host range @addr + @len of @bdf. */
static inline int tdi_dma_buf(int vfio, const char *bdf, uint64_t addr, uint64_t len)
{
	uint64_t offset = 0;
	uint32_t bar = 0;
	int ret = bar_of(bdf, addr, &bar, &offset);

	return ret ?: tdi_dma_buf_raw(vfio, bar, offset, len, 1);
}

static inline int set_region(int ext, int vm, uint32_t slot, uint64_t gpa, uint64_t size,
		      int dmabuf, uint32_t flags, uint64_t offset)
{
	struct teeio_emu_vm_memory_region r = {
		.size = sizeof(r), .flags = flags, .vm_fd = vm, .slot = slot,
		.guest_phys_addr = gpa, .memory_size = size, .dmabuf_fd = dmabuf,
		.dmabuf_offset = offset,
	};

	return xioctl(ext, TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION, &r);
}

static inline int import(int ext, int vm, uint32_t slot, uint64_t gpa, uint64_t size, int dmabuf)
{
	return set_region(ext, vm, slot, gpa, size, dmabuf, TEEIO_MEM_VFIO_DMABUF, 0);
}

/* TSM BIND with an MMIO reporting offset (where the VM sees the BARs). */
static inline int tsm_bind_at(int ext, uint32_t vdev, uint64_t mmio_offset)
{
	struct teeio_vdevice_tsm_op op = {
		.size = sizeof(op), .type = TEEIO_VDEVICE_TSM_BIND, .vdevice_id = vdev,
		.mmio_reporting_offset = mmio_offset,
	};

	return xioctl(ext, TEEIO_IOMMUFD_VDEVICE_TSM_OP, &op);
}

/* Closes what open_vmm() opened. */
static inline void close_vmm(int ext, int iommufd, int vfio, int vm)
{
	close(ext);
	close(vm);
	close(vfio);
	close(iommufd);
}

/*
 * The teardown steps of one TDI in the event log: the bridge's four steps
 * in order; the vIOMMU's event subscriber listens at LAST, before the TDI's
 * context is freed.
 */
#define EXT_ORDERED(ev)                                                    \
	ev " CPU stage2-unmap 0, " ev " DEVICE tdi-stop 0, "                   \
	ev " IOMMU trusted-dma-detach 0, " ev " LAST vmm-events 0, "           \
	ev " LAST tdi-free 0"
#define EXT_ORDERED_FREED(ev)                                              \
	ev " CPU stage2-unmap 0, " ev " DEVICE tdi-stop 0, "                   \
	ev " IOMMU trusted-dma-detach 0, " ev " LAST vmm-events 0, reclaim, "  \
	ev " LAST tdi-free 0"

/*
 * The same for a TDI whose device's MMIO a VFIO variant driver exports: its
 * dma-bufs are revoked before the unmap step and recovered after the free,
 * whose reference is then the last one.
 */
#define MMIO_ORDERED_FREED(ev)                                             \
	ev " CPU mmio-revoke 0, " EXT_ORDERED(ev) ", reclaim, " ev " LAST mmio-recover 0"

#endif /* TEEIO_EXT_UTIL_H */
