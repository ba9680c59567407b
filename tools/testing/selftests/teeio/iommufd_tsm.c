// SPDX-License-Identifier: GPL-2.0
/*
 * The iommufd TSM extension (/dev/teeio-iommufd) with a VFIO device cdev
 * bound to a real iommufd: every command's size contract, the refusals
 * (EBUSY, EEXIST, ENOENT, EBADF, EBADFD, ENODEV, EINVAL, ENXIO), TSM bind
 * and unbind, the guest-request tunnel, the vEVENTQ, the teardown order of
 * every way a vDEVICE goes (destroy, unbind, extension file closed, the
 * VMM killed after each lifecycle step), checked against the IOASID
 * core's event log and the emulated platform TSM's view of the TDI.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/teeio_iommufd.h>
#include <linux/teeio_tsm.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "teeio_ext_util.h"

#define BDF "0000:01:00.0"
#define OTHER "0000:03:00.0"
#define DEV "/sys/bus/pci/devices/" BDF

static const char *const modules[] = {
	"teeio_vfio_pci", "teeio_iommufd_tsm", "teeio_tsm_test", "teeio_tsm_bridge",
	"teeio_tsm_emu", "teeio_tdisp_emu", "teeio_ioasid",
};

static void unload_all(void)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		teeio_unload_module(modules[i]);
}

/* A vDEVICE of BDF as VIRT, bound, accepted and started; the log emptied. */
static int running_vdevice(int ext, uint32_t viommu, uint32_t dev_id, int vfio,
			   uint32_t *vdev)
{
	return vdevice_alloc(ext, viommu, dev_id, vfio, VIRT, vdev) ?:
	       tsm_op(ext, *vdev, TEEIO_VDEVICE_TSM_BIND) ?:
	       accept_and_start(ext, *vdev) ?:
	       write_str(EVENTS, "clear");
}

static uint32_t info_flags(int ext, uint32_t vdev)
{
	struct teeio_vdevice_info i = { .size = sizeof(i), .vdevice_id = vdev };

	return xioctl(ext, TEEIO_IOMMUFD_VDEVICE_INFO, &i) ? 0xdead : i.out_flags;
}

/* Reads one vEVENTQ record within @ms; its event, or -errno. */
static int next_event(int q, int ms, struct teeio_vevent_header *h,
		      struct teeio_vevent_tdi *ev)
{
	struct pollfd p = { .fd = q, .events = POLLIN };
	uint8_t buf[sizeof(*h) + sizeof(*ev)];
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -ETIMEDOUT;
	n = read(q, buf, sizeof(buf));
	if (n != sizeof(buf))
		return n < 0 ? -errno : -EIO;
	memcpy(h, buf, sizeof(*h));
	memcpy(ev, buf + sizeof(*h), sizeof(*ev));
	return ev->event;
}

FIXTURE(ext) {
	int ext, iommufd, vfio, vm;
	uint32_t dev_id, viommu;
};

FIXTURE_SETUP(ext)
{
	unload_all();
	ASSERT_EQ(0, load_tsm_stack("bdfs=" BDF "," OTHER));
	ASSERT_EQ(0, teeio_load_module("teeio_iommufd_tsm"));
	ASSERT_EQ(0, to_driver(BDF, "vfio-pci"));
	ASSERT_EQ(0, to_driver(OTHER, "vfio-pci"));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, open_vmm(BDF, &self->ext, &self->iommufd, &self->vfio, &self->dev_id,
			      &self->vm, &self->viommu));
	ASSERT_EQ(0, write_str(EVENTS, "clear"));
}

FIXTURE_TEARDOWN(ext)
{
	close_vmm(self->ext, self->iommufd, self->vfio, self->vm);
	from_driver(BDF, "vfio-pci");
	from_driver(OTHER, "vfio-pci");
	unload_all();
}

/*
 * A new VMM assigns BDF on the fixture's iommufd: extension file, VFIO
 * cdev, VM, vIOMMU, vDEVICE, bound. 0 or -errno.
 */
static int assign(FIXTURE_DATA(ext) *self, uint32_t *vdev)
{
	int ret;

	self->ext = open(EXT, O_RDWR | O_CLOEXEC);
	self->vfio = vfio_open(BDF);
	if (self->ext < 0 || self->vfio < 0)
		return self->ext < 0 ? -errno : self->vfio;
	ret = vfio_bind(self->vfio, self->iommufd, &self->dev_id) ?:
	      attach(self->ext, self->iommufd);
	if (ret)
		return ret;
	self->vm = emu_vm(self->ext);
	if (self->vm < 0)
		return self->vm;
	return viommu_alloc(self->ext, self->vm, &self->viommu) ?:
	       vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, vdev) ?:
	       tsm_op(self->ext, *vdev, TEEIO_VDEVICE_TSM_BIND);
}

TEST_F(ext, size_contract)
{
	uint8_t big[128] = { 0 };
	struct teeio_iommufd_destroy *d = (void *)big;
	int ext2;

	/* Shorter than the first version. */
	d->size = 4;
	d->id = 99;
	ASSERT_EQ(-EINVAL, xioctl(self->ext, TEEIO_IOMMUFD_DESTROY, d));
	/* Longer, zero tail: accepted (then no such object). */
	d->size = sizeof(big);
	ASSERT_EQ(-ENOENT, xioctl(self->ext, TEEIO_IOMMUFD_DESTROY, d));
	/* Longer, non-zero tail. */
	big[100] = 1;
	ASSERT_EQ(-E2BIG, xioctl(self->ext, TEEIO_IOMMUFD_DESTROY, d));
	big[100] = 0;
	/* Larger than a page. */
	{
		static uint8_t huge[8192];

		memcpy(huge, d, sizeof(*d));
		((struct teeio_iommufd_destroy *)huge)->size = sizeof(huge);
		ASSERT_EQ(-E2BIG, xioctl(self->ext, TEEIO_IOMMUFD_DESTROY, huge));
	}
	/* An older struct without the trailing reserved word. */
	ext2 = open(EXT, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, ext2);
	memset(big, 0, sizeof(big));
	((struct teeio_iommufd_attach *)big)->size = 12;
	((struct teeio_iommufd_attach *)big)->iommufd = self->iommufd;
	ASSERT_EQ(0, xioctl(ext2, TEEIO_IOMMUFD_ATTACH, big));
	close(ext2);
	/* Every command checks its size. */
	{
		unsigned long cmds[] = {
			TEEIO_IOMMUFD_ATTACH, TEEIO_IOMMUFD_EMU_VM_CREATE,
			TEEIO_IOMMUFD_VIOMMU_ALLOC, TEEIO_IOMMUFD_VDEVICE_ALLOC,
			TEEIO_IOMMUFD_VEVENTQ_ALLOC, TEEIO_IOMMUFD_VDEVICE_TSM_OP,
			TEEIO_IOMMUFD_VDEVICE_TSM_REQ, TEEIO_IOMMUFD_VDEVICE_INFO,
		};
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			memset(big, 0, sizeof(big));
			*(uint32_t *)big = 8;
			EXPECT_EQ(-EINVAL, xioctl(self->ext, cmds[i], big)) TH_LOG("cmd %zu", i);
			*(uint32_t *)big = sizeof(big);
			big[120] = 7;
			EXPECT_EQ(-E2BIG, xioctl(self->ext, cmds[i], big)) TH_LOG("cmd %zu", i);
		}
	}
	/* Outputs are not written past the size userspace gave. */
	{
		struct teeio_viommu_alloc *a = (void *)big;
		int vm2 = emu_vm(self->ext);

		ASSERT_LE(0, vm2);
		memset(big, 0xa5, sizeof(big));
		memset(a, 0, 20);
		a->size = 20;
		a->type = TEEIO_VIOMMU_TYPE_TSM;
		a->vm_fd = vm2;
		ASSERT_EQ(0, xioctl(self->ext, TEEIO_IOMMUFD_VIOMMU_ALLOC, a));
		ASSERT_NE(0U, a->out_viommu_id);
		ASSERT_EQ(0xa5, big[20]);
		ASSERT_EQ(0, destroy(self->ext, a->out_viommu_id));
		close(vm2);
	}
	ASSERT_EQ(-ENOTTY, xioctl(self->ext, _IO(TEEIO_IOMMUFD_TYPE, 0x7f), big));
}

TEST_F(ext, attach_refusals)
{
	int ext2 = open(EXT, O_RDWR | O_CLOEXEC), memfd;
	uint32_t id;

	ASSERT_LE(0, ext2);
	/* Nothing before ATTACH but an emulated VM. */
	ASSERT_EQ(-ENXIO, viommu_alloc(ext2, self->vm, &id));
	ASSERT_EQ(-ENXIO, vdevice_alloc(ext2, 1, self->dev_id, self->vfio, VIRT, &id));
	ASSERT_EQ(-ENXIO, veventq_alloc(ext2, 1, 4, &id));
	ASSERT_EQ(-ENXIO, tsm_op(ext2, 1, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(-ENXIO, destroy(ext2, 1));
	memfd = emu_vm(ext2);
	ASSERT_LE(0, memfd);
	close(memfd);
	memfd = memfd_create("not-iommufd", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(-EBADFD, attach(ext2, memfd));
	ASSERT_EQ(-EBADF, attach(ext2, 1000));
	ASSERT_EQ(0, attach(ext2, self->iommufd));
	ASSERT_EQ(-EBUSY, attach(ext2, self->iommufd));
	close(memfd);
	close(ext2);
}

TEST_F(ext, viommu_refusals)
{
	struct teeio_viommu_alloc a = { .size = sizeof(a), .type = TEEIO_VIOMMU_TYPE_TSM };
	int memfd = memfd_create("not-a-vm", MFD_CLOEXEC), vm2;
	uint32_t id;

	ASSERT_EQ(-EBADFD, viommu_alloc(self->ext, memfd, &id));
	ASSERT_EQ(-EBADF, viommu_alloc(self->ext, -1, &id));
	/* The iommufd is no VM either. */
	ASSERT_EQ(-EBADFD, viommu_alloc(self->ext, self->iommufd, &id));
	a.vm_fd = self->vm;
	a.type = 7;
	ASSERT_EQ(-EOPNOTSUPP, xioctl(self->ext, TEEIO_IOMMUFD_VIOMMU_ALLOC, &a));
	a.type = TEEIO_VIOMMU_TYPE_TSM;
	a.flags = 1;
	ASSERT_EQ(-EOPNOTSUPP, xioctl(self->ext, TEEIO_IOMMUFD_VIOMMU_ALLOC, &a));
	/* One vIOMMU per VM in a file; another VM is fine. */
	ASSERT_EQ(-EEXIST, viommu_alloc(self->ext, self->vm, &id));
	vm2 = emu_vm(self->ext);
	ASSERT_LE(0, vm2);
	ASSERT_EQ(0, viommu_alloc(self->ext, vm2, &id));
	ASSERT_NE(self->viommu, id);
	ASSERT_EQ(0, destroy(self->ext, id));
	close(vm2);
	close(memfd);
}

TEST_F(ext, vdevice_refusals)
{
	int memfd = memfd_create("not-vfio", MFD_CLOEXEC), other;
	uint32_t id, id2, other_dev;

	ASSERT_EQ(-ENOENT, vdevice_alloc(self->ext, 999, self->dev_id, self->vfio, VIRT, &id));
	ASSERT_EQ(-EBADFD, vdevice_alloc(self->ext, self->viommu, self->dev_id, memfd, VIRT, &id));
	ASSERT_EQ(-EBADF, vdevice_alloc(self->ext, self->viommu, self->dev_id, 1000, VIRT, &id));
	ASSERT_EQ(-EBADFD, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->iommufd, VIRT, &id));
	ASSERT_EQ(-ENODEV, vdevice_alloc(self->ext, self->viommu, self->dev_id + 7, self->vfio, VIRT, &id));
	ASSERT_EQ(-EINVAL, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, 0, &id));
	ASSERT_EQ(-EINVAL, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, 0x10000, &id));
	/* Another device's VFIO file, not bound to this iommufd. */
	other = vfio_open(OTHER);
	ASSERT_LE(0, other);
	ASSERT_EQ(-ENODEV, vdevice_alloc(self->ext, self->viommu, self->dev_id, other, VIRT, &id));
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &id));
	/* One vDEVICE per device; one per virt_id. */
	ASSERT_EQ(-EEXIST, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT + 1, &id2));
	ASSERT_EQ(0, vfio_bind(other, self->iommufd, &other_dev));
	ASSERT_EQ(-EEXIST, vdevice_alloc(self->ext, self->viommu, other_dev, other, VIRT, &id2));
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, other_dev, other, VIRT + 1, &id2));
	ASSERT_EQ(0, destroy(self->ext, id2));
	ASSERT_EQ(0, destroy(self->ext, id));
	close(other);
	close(memfd);
}

TEST_F(ext, destroy_rules)
{
	uint32_t vdev, q_id, vdev2;
	int q;

	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev));
	q = veventq_alloc(self->ext, self->viommu, 8, &q_id);
	ASSERT_LE(0, q);
	ASSERT_EQ(-EEXIST, veventq_alloc(self->ext, self->viommu, 8, &(uint32_t){0}));
	ASSERT_EQ(-EINVAL, veventq_alloc(self->ext, self->viommu, 0, &(uint32_t){0}));
	/* The vIOMMU has dependants; the vEVENTQ's file is open. */
	ASSERT_EQ(-EBUSY, destroy(self->ext, self->viommu));
	ASSERT_EQ(-EBUSY, destroy(self->ext, q_id));
	close(q);
	ASSERT_EQ(0, destroy(self->ext, q_id));
	ASSERT_EQ(-EBUSY, destroy(self->ext, self->viommu));
	ASSERT_EQ(0, destroy(self->ext, vdev));
	ASSERT_EQ(-ENOENT, destroy(self->ext, vdev));
	/* Ids are not reused. */
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev2));
	ASSERT_LT(vdev, vdev2);
	ASSERT_EQ(0, destroy(self->ext, vdev2));
	ASSERT_EQ(0, destroy(self->ext, self->viommu));
	ASSERT_EQ(-ENOENT, destroy(self->ext, self->viommu));
}

TEST_F(ext, bind_unbind)
{
	uint32_t vdev;

	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev));
	ASSERT_EQ(0U, info_flags(self->ext, vdev));
	ASSERT_EQ(-ENXIO, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_EQ(-EOPNOTSUPP, tsm_op(self->ext, vdev, 9));
	ASSERT_EQ(-ENOENT, tsm_op(self->ext, vdev + 50, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(TEEIO_VDEVICE_INFO_BOUND, info_flags(self->ext, vdev));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, guest_state(self->ext, vdev));
	ASSERT_EQ(-EBUSY, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, accept_and_start(self->ext, vdev));
	ASSERT_EQ(TEEIO_TDI_RUN, guest_state(self->ext, vdev));
	ASSERT_EQ(0, write_str(EVENTS, "clear"));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_STREQ(EXT_ORDERED_FREED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	ASSERT_EQ(0U, info_flags(self->ext, vdev));
	ASSERT_EQ(-ENXIO, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_UNBIND));
	/* Bound again, to the same VM. */
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, guest_state(self->ext, vdev));
}

TEST_F(ext, bind_while_bound_to_another_vm)
{
	uint32_t vdev;

	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev));
	/* Another VM (the test hooks' VM 0) holds the TDI. */
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(-EBUSY, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0U, info_flags(self->ext, vdev));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(-EBUSY, hook("bind " BDF " 1 " TDI));
}

TEST_F(ext, tsm_req_refusals)
{
	struct teeio_tsm_guest_req g = { .version = 1, .op = TEEIO_TSM_GUEST_GET_STATE, .tdi_id = VIRT };
	uint8_t resp[64];
	struct teeio_vdevice_tsm_req r = {
		.size = sizeof(r), .type = TEEIO_TSM_REQ_TYPE_TEEIO,
		.op = TEEIO_TSM_REQ_OP_INFO, .req_len = sizeof(g),
		.resp_len = sizeof(resp), .req_uptr = (uintptr_t)&g,
		.resp_uptr = (uintptr_t)resp,
	};
	uint32_t vdev;

	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev));
	r.vdevice_id = vdev;
	/* Unbound: nothing to ask about. */
	ASSERT_EQ(-ENXIO, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	ASSERT_EQ(0ULL, r.out_tsm_code);
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, resp[0]);
	r.type = TEEIO_TSM_REQ_TYPE_TDX;
	ASSERT_EQ(-EOPNOTSUPP, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	r.type = TEEIO_TSM_REQ_TYPE_TEEIO;
	r.op = 2;
	ASSERT_EQ(-EINVAL, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	r.op = TEEIO_TSM_REQ_OP_INFO;
	r.req_len = 0;
	ASSERT_EQ(-EINVAL, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	r.req_len = sizeof(g);
	r.resp_len = 1 << 20;
	ASSERT_EQ(-EINVAL, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	r.resp_len = sizeof(resp);
	r.req_uptr = 16;
	ASSERT_EQ(-EFAULT, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	r.req_uptr = (uintptr_t)&g;
	/* A state change sent as INFO: the host refuses it. */
	g.op = TEEIO_TSM_GUEST_START;
	ASSERT_NE(0, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	/* A request for another TDI. */
	g.op = TEEIO_TSM_GUEST_GET_STATE;
	g.tdi_id = VIRT + 1;
	ASSERT_NE(0, xioctl(self->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &r));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(ext, guest_stop_event)
{
	struct teeio_vevent_header h;
	struct teeio_vevent_tdi ev;
	struct outcome o;
	uint32_t vdev, q_id;
	int q;

	q = veventq_alloc(self->ext, self->viommu, 4, &q_id);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, running_vdevice(self->ext, self->viommu, self->dev_id, self->vfio, &vdev));
	ASSERT_EQ(-ETIMEDOUT, next_event(q, 0, &h, &ev));
	ASSERT_EQ(0, tunnel(self->ext, vdev, TEEIO_TSM_REQ_OP_STATE_CHANGE, TEEIO_TSM_GUEST_STOP, 0, 0, &o));
	ASSERT_EQ(0, o.tsm_code);
	ASSERT_EQ(TEEIO_VEVENT_TDI_STOPPED_BY_GUEST, next_event(q, 1000, &h, &ev));
	ASSERT_EQ(vdev, ev.vdevice_id);
	ASSERT_EQ((uint64_t)VIRT, ev.virt_id);
	ASSERT_EQ(0U, h.flags);
	ASSERT_STREQ(EXT_ORDERED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_VDEVICE_INFO_BOUND | TEEIO_VDEVICE_INFO_TORN_DOWN, info_flags(self->ext, vdev));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/* The VMM finishes: the IOASID is reclaimed; no further event. */
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_STREQ(EXT_ORDERED("UNBIND") ", reclaim", steps());
	ASSERT_EQ(-ETIMEDOUT, next_event(q, 0, &h, &ev));
	ASSERT_EQ(0U, info_flags(self->ext, vdev));
	/* A non-blocking read of an empty queue; a short buffer. */
	fcntl(q, F_SETFL, O_NONBLOCK);
	{
		uint8_t rec[sizeof(h) + sizeof(ev)];

		ASSERT_EQ(-1L, read(q, rec, sizeof(rec)));
		ASSERT_EQ(EAGAIN, errno);
		ASSERT_EQ(-1L, read(q, rec, 4));
	}
	ASSERT_EQ(EINVAL, errno);
	close(q);
}

TEST_F(ext, device_error_event)
{
	struct teeio_vevent_header h;
	struct teeio_vevent_tdi ev;
	uint32_t vdev, q_id;
	uint16_t cmd;
	int q, cfg;

	q = veventq_alloc(self->ext, self->viommu, 4, &q_id);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, running_vdevice(self->ext, self->viommu, self->dev_id, self->vfio, &vdev));
	/* Memory Space Enable cleared on a locked TDI: the DSM goes to ERROR. */
	cfg = open(DEV "/config", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, cfg);
	ASSERT_EQ(2, pread(cfg, &cmd, 2, 4));
	cmd &= ~2;
	ASSERT_EQ(2, pwrite(cfg, &cmd, 2, 4));
	ASSERT_EQ(TEEIO_TDI_ERROR, guest_state(self->ext, vdev));
	ASSERT_EQ(TEEIO_VEVENT_TDI_ERROR, next_event(q, 1000, &h, &ev));
	ASSERT_EQ(vdev, ev.vdevice_id);
	ASSERT_STREQ(EXT_ORDERED("UNBIND"), steps());
	cmd |= 2;
	ASSERT_EQ(2, pwrite(cfg, &cmd, 2, 4));
	close(cfg);
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, guest_state(self->ext, vdev));
	close(q);
}

TEST_F(ext, host_unbind_event)
{
	struct teeio_vevent_header h;
	struct teeio_vevent_tdi ev;
	uint32_t vdev, q_id;
	int q;

	struct outcome o;
	uint32_t seq;

	q = veventq_alloc(self->ext, self->viommu, 2, &q_id);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &vdev));
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	/* The host takes the TDI back (the test hooks stand for an admin). */
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(TEEIO_VEVENT_TDI_UNBOUND_BY_HOST, next_event(q, 1000, &h, &ev));
	ASSERT_EQ(0U, h.flags);
	seq = h.sequence;
	ASSERT_EQ(0U, info_flags(self->ext, vdev));
	ASSERT_EQ(-ENXIO, guest_state(self->ext, vdev));
	/* After a guest stop too, the host's unbind is news. */
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, tunnel(self->ext, vdev, TEEIO_TSM_REQ_OP_STATE_CHANGE, TEEIO_TSM_GUEST_STOP, 0, 0, &o));
	ASSERT_EQ(0, hook("unbind " BDF));
	/* And once more: three records in a queue of two drop the oldest. */
	ASSERT_EQ(0, tsm_op(self->ext, vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(TEEIO_VEVENT_TDI_UNBOUND_BY_HOST, next_event(q, 1000, &h, &ev));
	/* The record after the gap says so, the next one does not. */
	ASSERT_EQ(TEEIO_VEVENTQ_FLAG_LOST_EVENTS, h.flags);
	ASSERT_EQ(seq + 2, h.sequence);
	ASSERT_EQ(TEEIO_VEVENT_TDI_UNBOUND_BY_HOST, next_event(q, 1000, &h, &ev));
	ASSERT_EQ(0U, h.flags);
	ASSERT_EQ(seq + 3, h.sequence);
	close(q);
}

TEST_F(ext, veventq_outlives_its_viommu)
{
	struct pollfd p;
	uint32_t q_id;
	char buf[64];
	int q;

	q = veventq_alloc(self->ext, self->viommu, 4, &q_id);
	ASSERT_LE(0, q);
	p = (struct pollfd){ .fd = q, .events = POLLIN };
	ASSERT_EQ(0, poll(&p, 1, 0));
	/* The extension file goes: the queue's readers see the end. */
	close(self->ext);
	self->ext = -1;
	ASSERT_EQ(1, poll(&p, 1, 1000));
	ASSERT_TRUE(p.revents & POLLHUP);
	ASSERT_EQ(0, read(q, buf, sizeof(buf)));
	close(q);
}

TEST_F(ext, destroy_bound_vdevice)
{
	uint32_t vdev;

	ASSERT_EQ(0, running_vdevice(self->ext, self->viommu, self->dev_id, self->vfio, &vdev));
	ASSERT_EQ(0, destroy(self->ext, vdev));
	ASSERT_STREQ(EXT_ORDERED_FREED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

/* The VMM closes the iommufd and the VFIO file first, the extension last. */
TEST_F(ext, close_everything)
{
	uint32_t vdev;

	ASSERT_EQ(0, running_vdevice(self->ext, self->viommu, self->dev_id, self->vfio, &vdev));
	close(self->iommufd);
	close(self->vfio);
	close(self->vm);
	/* The vDEVICE holds them: still bound. */
	ASSERT_EQ(TEEIO_TDI_RUN, tdi_state(BDF));
	close(self->ext);
	ASSERT_STREQ(EXT_ORDERED_FREED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/* The next VMM assigns it again. */
	self->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_EQ(0, assign(self, &vdev));
}

/* Lifecycle steps a VMM child runs before it is killed. */
enum step { S_ATTACH, S_VM, S_VIOMMU, S_VEVENTQ, S_VDEVICE, S_BIND, S_RUN, S_NR };

static void vmm_child(int upto, int ready)
{
	int ext, iommufd, vfio, vm = -1;
	uint32_t dev_id, viommu = 0, vdev = 0;

	ext = open(EXT, O_RDWR | O_CLOEXEC);
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	vfio = vfio_open(BDF);
	if (ext < 0 || iommufd < 0 || vfio < 0 || vfio_bind(vfio, iommufd, &dev_id))
		_exit(1);
	for (int s = 0; s <= upto; s++) {
		int ret = 0;

		switch (s) {
		case S_ATTACH: ret = attach(ext, iommufd); break;
		case S_VM: vm = emu_vm(ext); ret = vm < 0 ? vm : 0; break;
		case S_VIOMMU: ret = viommu_alloc(ext, vm, &viommu); break;
		case S_VEVENTQ: ret = veventq_alloc(ext, viommu, 4, &(uint32_t){0}) < 0; break;
		case S_VDEVICE: ret = vdevice_alloc(ext, viommu, dev_id, vfio, VIRT, &vdev); break;
		case S_BIND: ret = tsm_op(ext, vdev, TEEIO_VDEVICE_TSM_BIND); break;
		case S_RUN: ret = accept_and_start(ext, vdev); break;
		}
		if (ret)
			_exit(2 + s);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

TEST_F_TIMEOUT(ext, sigkill_after_each_step, 180)
{
	uint32_t vdev;

	/* The fixture's VMM steps aside; children play the VMM. */
	close(self->ext);
	close(self->vm);
	close(self->vfio);
	self->ext = self->vm = self->vfio = -1;
	for (int upto = S_ATTACH; upto < S_NR; upto++) {
		int pipefd[2], status;
		char c;
		pid_t pid;

		ASSERT_EQ(0, pipe(pipefd));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(pipefd[0]);
			vmm_child(upto, pipefd[1]);
		}
		close(pipefd[1]);
		ASSERT_EQ(1, read(pipefd[0], &c, 1)) TH_LOG("step %d", upto);
		close(pipefd[0]);
		if (upto >= S_BIND)
			ASSERT_NE(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
		ASSERT_EQ(0, write_str(EVENTS, "clear"));
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSIGNALED(status));
		/* Everything the VMM made is gone, in order. */
		ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF)) TH_LOG("step %d", upto);
		if (upto >= S_BIND)
			ASSERT_STREQ(EXT_ORDERED_FREED("UNBIND"), steps_until("tdi-free")) TH_LOG("step %d", upto);
	}
	/* The next VMM can assign the device. */
	ASSERT_EQ(0, assign(self, &vdev));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, guest_state(self->ext, vdev));
}

TEST_HARNESS_MAIN
