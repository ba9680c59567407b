// SPDX-License-Identifier: GPL-2.0
/*
 * teeio-vfio-pci and private MMIO: a bound TDI's MMIO exported as dma-bufs
 * (TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF), handed to the TVM
 * (TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION), mapped by the emulated secure
 * stage-2 when the guest accepts them; revoked and unmapped before the TDI
 * is freed and recovered after, in the order the IOASID event log and the
 * kernel log show; the device shared again with its data intact; resets
 * and lock-breaking config writes refused while the TDI is bound; every
 * close path leaving nothing behind (the driver module unloads).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "kselftest_harness.h"
#include "teeio_ext_util.h"

#define BDF "0000:01:00.0"
#define OTHER "0000:03:00.0"
#define DRIVER "teeio-vfio-pci"
#define MAX_RANGES 8
#define CONFIG_REGION ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)

static const char *const modules[] = {
	"teeio_vfio_pci", "teeio_iommufd_tsm", "teeio_tsm_test",
	"teeio_tsm_bridge", "teeio_tsm_emu", "teeio_tdisp_emu", "teeio_ioasid",
};

static void unload_all(void)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		teeio_unload_module(modules[i]);
}

/* The kernel log from the point /dev/kmsg was opened at. */
static const char *kmsg_read(int fd)
{
	static char text[1 << 17];
	size_t used = 0;
	ssize_t n;

	while (used < sizeof(text) - 1024 && (n = read(fd, text + used, 1023)) > 0)
		used += n;
	text[used] = '\0';
	return text;
}

/* Whether @text has each of @needles, in that order. */
static int in_order(const char *text, const char *const *needles, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		text = strstr(text, needles[i]);
		if (!text)
			return (int)i;
		text += strlen(needles[i]);
	}
	return -1;
}

/* A VFIO device's config space access: bytes moved or -errno. */
static int config_rw(int vfio, bool write, uint64_t at, void *data, size_t len)
{
	ssize_t n = write ? pwrite(vfio, data, len, CONFIG_REGION + at) :
			    pread(vfio, data, len, CONFIG_REGION + at);

	return n < 0 ? -errno : (int)n;
}

/* The offset of the PCI Express capability. */
static uint8_t pcie_cap(int vfio)
{
	uint8_t at = 0, id = 0;

	config_rw(vfio, false, PCI_CAPABILITY_LIST, &at, 1);
	for (int i = 0; at && i < 48; i++) {
		config_rw(vfio, false, at, &id, 1);
		if (id == PCI_CAP_ID_EXP)
			return at;
		config_rw(vfio, false, at + 1, &at, 1);
	}
	return 0;
}

FIXTURE(tdi) {
	int ext, iommufd, vfio, vm;
	uint32_t dev_id, viommu, vdev;
	int ranges;
	uint64_t addr[MAX_RANGES], len[MAX_RANGES];
	int dmabuf[MAX_RANGES];
};

FIXTURE_SETUP(tdi)
{
	unload_all();
	ASSERT_EQ(0, load_tsm_stack("bdfs=" BDF "," OTHER));
	ASSERT_EQ(0, teeio_load_module("teeio_iommufd_tsm"));
	ASSERT_EQ(0, teeio_load_module("teeio_vfio_pci"));
	ASSERT_EQ(0, to_driver(BDF, DRIVER));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, open_vmm(BDF, &self->ext, &self->iommufd, &self->vfio, &self->dev_id,
			      &self->vm, &self->viommu));
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, VIRT, &self->vdev));
	for (int i = 0; i < MAX_RANGES; i++)
		self->dmabuf[i] = -1;
}

FIXTURE_TEARDOWN(tdi)
{
	for (int i = 0; i < MAX_RANGES; i++)
		if (self->dmabuf[i] >= 0)
			close(self->dmabuf[i]);
	close_vmm(self->ext, self->iommufd, self->vfio, self->vm);
	from_driver(BDF, DRIVER);
	from_driver(OTHER, DRIVER);
	unload_all();
}

/* Binds the TDI and reads its report's MMIO ranges, as the guest would. */
static int bind_and_read_ranges(FIXTURE_DATA(tdi) *self)
{
	int ret = tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_BIND);

	self->ranges = ret ?: report_ranges(self->ext, self->vdev, VIRT, self->addr, self->len,
					    MAX_RANGES);
	return self->ranges < 0 ? self->ranges : 0;
}

/* Exports each range and hands it to the TVM as slot i at its address. */
static int export_and_import_all(FIXTURE_DATA(tdi) *self)
{
	for (int i = 0; i < self->ranges; i++) {
		int ret;

		self->dmabuf[i] = tdi_dma_buf(self->vfio, BDF, self->addr[i], self->len[i]);
		if (self->dmabuf[i] < 0)
			return self->dmabuf[i];
		ret = import(self->ext, self->vm, i, self->addr[i], self->len[i], self->dmabuf[i]);
		if (ret)
			return ret;
	}
	return 0;
}

TEST_F(tdi, export_needs_a_locked_tdi)
{
	uint64_t offset = 0;
	uint32_t bar = 0;

	ASSERT_EQ(-EBADFD, tdi_dma_buf_raw(self->vfio, 0, 0, 4096, 1));
	ASSERT_EQ(0, bind_and_read_ranges(self));
	ASSERT_EQ(0, bar_of(BDF, self->addr[0], &bar, &offset));
	/* One page-aligned range inside a memory BAR. */
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, bar, offset, self->len[0], 0));
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, bar, offset, self->len[0], 2));
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, bar, offset + 1, self->len[0], 1));
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, bar, offset, 0, 1));
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, bar, offset, 1ULL << 40, 1));
	ASSERT_EQ(-EINVAL, tdi_dma_buf_raw(self->vfio, VFIO_PCI_ROM_REGION_INDEX, 0, 4096, 1));
	self->dmabuf[0] = tdi_dma_buf(self->vfio, BDF, self->addr[0], self->len[0]);
	ASSERT_LE(0, self->dmabuf[0]);
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_EQ(-EBADFD, tdi_dma_buf(self->vfio, BDF, self->addr[0], self->len[0]));
}

TEST_F(tdi, import_refusals)
{
	int other_vm, fd;

	ASSERT_EQ(0, bind_and_read_ranges(self));
	fd = self->dmabuf[0] = tdi_dma_buf(self->vfio, BDF, self->addr[0], self->len[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EOPNOTSUPP, set_region(self->ext, self->vm, 0, self->addr[0], self->len[0], fd, 0, 0));
	ASSERT_EQ(-EINVAL, set_region(self->ext, self->vm, 0, self->addr[0], self->len[0], fd,
				      TEEIO_MEM_VFIO_DMABUF, 4096));
	ASSERT_EQ(-EINVAL, import(self->ext, self->vm, 0, self->addr[0], self->len[0] + 4096, fd));
	ASSERT_EQ(-EBADFD, import(self->ext, self->vfio, 0, self->addr[0], self->len[0], fd));
	ASSERT_EQ(-EINVAL, import(self->ext, self->vm, 0, self->addr[0], self->len[0], self->ext));
	ASSERT_EQ(-EADDRNOTAVAIL, import(self->ext, self->vm, 0, self->addr[0] + 4096, self->len[0], fd));
	other_vm = emu_vm(self->ext);
	ASSERT_LE(0, other_vm);
	ASSERT_EQ(-ENOENT, import(self->ext, other_vm, 0, self->addr[0], self->len[0], fd));
	close(other_vm);
	ASSERT_EQ(0, import(self->ext, self->vm, 0, self->addr[0], self->len[0], fd));
	ASSERT_EQ(-EEXIST, import(self->ext, self->vm, 1, self->addr[0], self->len[0], fd));
	/* Running: nothing more to map. */
	ASSERT_EQ(0, accept_and_start(self->ext, self->vdev));
	ASSERT_EQ(TEEIO_TDI_RUN, guest_state(self->ext, self->vdev));
}

TEST_F(tdi, export_import_accept_revoke_unmap_free_recover)
{
	const char *expect[] = {
		"dma-buf attached", "mapped in the secure stage-2",
		"revoked by its exporter: 1 mappings unmapped",
		"teardown CPU: 0 private MMIO mappings unmapped",
		"TDI freed from TVM", "TDI dma-bufs recovered",
	};
	int kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	const char *log;

	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));
	ASSERT_EQ(0, bind_and_read_ranges(self));
	ASSERT_EQ(1, self->ranges) TH_LOG("the log assertions count one range");
	ASSERT_EQ(0, export_and_import_all(self));
	ASSERT_EQ(0, accept_and_start(self->ext, self->vdev));
	ASSERT_EQ(TEEIO_TDI_RUN, guest_state(self->ext, self->vdev));
	ASSERT_EQ(0, write_str(EVENTS, "clear"));
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND));
	/* Revoke before the unmap step, recover after the TDI is freed. */
	ASSERT_STREQ(MMIO_ORDERED_FREED("UNBIND"), steps());
	log = kmsg_read(kmsg);
	ASSERT_EQ(-1, in_order(log, expect, sizeof(expect) / sizeof(expect[0]))) TH_LOG("%s", log);
	close(kmsg);
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

TEST_F(tdi, recovered_device_is_shared_again_with_its_data)
{
	uint32_t before[4], after[4];
	void *bar;

	bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->vfio, 0);
	ASSERT_NE(MAP_FAILED, bar);
	memcpy(before, bar, sizeof(before));
	munmap(bar, 4096);
	ASSERT_EQ(0, bind_and_read_ranges(self));
	ASSERT_EQ(0, export_and_import_all(self));
	ASSERT_EQ(0, accept_and_start(self->ext, self->vdev));
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND));
	bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->vfio, 0);
	ASSERT_NE(MAP_FAILED, bar);
	memcpy(after, bar, sizeof(after));
	munmap(bar, 4096);
	ASSERT_EQ(0, memcmp(before, after, sizeof(before)));
	/* Recovered: the same dma-buf maps again for the next binding. */
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, import(self->ext, self->vm, 7, self->addr[0], self->len[0], self->dmabuf[0]));
	ASSERT_EQ(0, accept_and_start(self->ext, self->vdev));
	ASSERT_EQ(TEEIO_TDI_RUN, guest_state(self->ext, self->vdev));
}

/* A dma-buf revoked for good (its VFIO device closed) never maps again. */
TEST_F(tdi, revoked_dma_buf_is_not_mapped)
{
	uint32_t other_dev, other_vdev;
	int other;

	ASSERT_EQ(0, to_driver(OTHER, DRIVER));
	ASSERT_EQ(0, connect(OTHER));
	other = vfio_open(OTHER);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, vfio_bind(other, self->iommufd, &other_dev));
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, other_dev, other, VIRT + 1, &other_vdev));
	/* OTHER's binding keeps the TVM while BDF's VFIO device goes. */
	ASSERT_EQ(0, tsm_op(self->ext, other_vdev, TEEIO_VDEVICE_TSM_BIND));
	ASSERT_EQ(0, bind_and_read_ranges(self));
	self->dmabuf[0] = tdi_dma_buf(self->vfio, BDF, self->addr[0], self->len[0]);
	ASSERT_LE(0, self->dmabuf[0]);
	ASSERT_EQ(0, destroy(self->ext, self->vdev));
	close(self->vfio);
	self->vfio = -1;
	ASSERT_EQ(-EACCES, import(self->ext, self->vm, 0, self->addr[0], self->len[0], self->dmabuf[0]));
	ASSERT_EQ(0, destroy(self->ext, other_vdev));
	close(other);
	ASSERT_EQ(0, disconnect(OTHER));
}

TEST_F(tdi, reset_and_lock_breaking_writes_refused_while_bound)
{
	uint16_t command = 0, zero = 0, devctl = 0;
	uint32_t bar0 = 0;
	uint8_t cap;

	cap = pcie_cap(self->vfio);
	ASSERT_NE(0, cap);
	ASSERT_EQ(2, config_rw(self->vfio, false, PCI_COMMAND, &command, 2));
	ASSERT_EQ(0, bind_and_read_ranges(self));
	ASSERT_EQ(-EBUSY, xioctl(self->vfio, VFIO_DEVICE_RESET, NULL));
	ASSERT_EQ(-EBUSY, config_rw(self->vfio, true, PCI_COMMAND, &zero, 2));
	ASSERT_EQ(4, config_rw(self->vfio, false, PCI_BASE_ADDRESS_0, &bar0, 4));
	ASSERT_EQ(-EBUSY, config_rw(self->vfio, true, PCI_BASE_ADDRESS_0, &bar0, 4));
	ASSERT_EQ(2, config_rw(self->vfio, false, cap + PCI_EXP_DEVCTL, &devctl, 2));
	devctl |= PCI_EXP_DEVCTL_BCR_FLR;
	ASSERT_EQ(-EBUSY, config_rw(self->vfio, true, cap + PCI_EXP_DEVCTL, &devctl, 2));
	/* Keeping Memory Space and Bus Master Enable is fine. */
	command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(2, config_rw(self->vfio, true, PCI_COMMAND, &command, 2));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_EQ(0, xioctl(self->vfio, VFIO_DEVICE_RESET, NULL));
}

/* Whatever closes first, the TVM and the driver let go of every dma-buf. */
TEST_F(tdi, close_paths_leave_nothing)
{
	int kept;

	ASSERT_EQ(0, bind_and_read_ranges(self));
	ASSERT_EQ(0, export_and_import_all(self));
	/* One more dma-buf, never imported, kept past its VFIO device. */
	kept = tdi_dma_buf(self->vfio, BDF, self->addr[0], self->len[0]);
	ASSERT_LE(0, kept);
	/* Imported dma-bufs' fds closed: the TVM holds the dma-bufs. */
	for (int i = 0; i < self->ranges; i++) {
		close(self->dmabuf[i]);
		self->dmabuf[i] = -1;
	}
	ASSERT_EQ(0, accept_and_start(self->ext, self->vdev));
	/* The extension file closes while running: the ordered teardown. */
	ASSERT_EQ(0, write_str(EVENTS, "clear"));
	close(self->ext);
	self->ext = -1;
	ASSERT_STREQ(MMIO_ORDERED_FREED("UNBIND"), steps_until("mmio-recover"));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/* The VFIO device closes before the last dma-buf does. */
	close(self->vfio);
	close(self->vm);
	self->vfio = self->vm = -1;
	/* The kept dma-buf still holds the module (-EWOULDBLOCK). */
	ASSERT_EQ(-EAGAIN, teeio_unload_module("teeio_vfio_pci"));
	close(kept);
	/* No dma-buf, attachment or registration left: the driver unloads. */
	from_driver(BDF, DRIVER);
	for (int i = 0; i < 100 && teeio_unload_module("teeio_vfio_pci") == -EAGAIN; i++)
		usleep(10000);
	ASSERT_EQ(-ENOENT, teeio_unload_module("teeio_vfio_pci"));
}

TEST_HARNESS_MAIN
