// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated TDISP device as userspace sees it: loading teeio_tdisp_emu
 * adds the TEE-IO bit and the DOE and IDE capabilities to the endpoint's
 * config space, upstream pci_doe publishes the discovered protocols in sysfs,
 * bad parameters are refused with a precise errno, and unloading gives the
 * device back as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "teeio_test_util.h"

#define MODULE_NAME "teeio_tdisp_emu"
#define BDF "0000:01:00.0"
#define DEV "/sys/bus/pci/devices/" BDF
#define PCI_CAP_ID_EXP 0x10
#define PCI_EXT_CAP_ID_DOE 0x2e
#define PCI_EXT_CAP_ID_IDE 0x30
#define PCI_EXP_DEVCAP_TEE (1u << 30)

/* The device's config space, as sysfs gives it to root. */
static int read_config(uint8_t cfg[4096])
{
	int fd = open(DEV "/config", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, 4096, 0);
	close(fd);
	return n == 4096 ? 0 : -EIO;
}

static uint32_t dword(const uint8_t *cfg, int off)
{
	return cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 | (uint32_t)cfg[off + 3] << 24;
}

/* Offset of capability @id in the classic list, 0 when absent. */
static int find_cap(const uint8_t *cfg, int id)
{
	int pos = cfg[0x34] & ~3, ttl = 48;

	while (pos && ttl--) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & ~3;
	}
	return 0;
}

/* Offset of extended capability @id, 0 when absent. */
static int find_ext_cap(const uint8_t *cfg, int id)
{
	int pos = 0x100, ttl = (4096 - 256) / 8;
	uint32_t header;

	while (pos >= 0x100 && pos < 4096 && ttl--) {
		header = dword(cfg, pos);
		if (!header)
			return 0;
		if ((header & 0xffff) == (uint32_t)id)
			return pos;
		pos = header >> 20;
	}
	return 0;
}

static int load(const char *params)
{
	return teeio_load_module_params(MODULE_NAME, params);
}

FIXTURE(emulated) {
	uint8_t cfg[4096];
};

FIXTURE_SETUP(emulated)
{
	teeio_unload_module(MODULE_NAME);
	ASSERT_EQ(0, load("bdfs=" BDF));
	ASSERT_EQ(0, read_config(self->cfg));
}

FIXTURE_TEARDOWN(emulated)
{
	teeio_unload_module(MODULE_NAME);
}

TEST_F(emulated, devcap_has_tee_io)
{
	int exp = find_cap(self->cfg, PCI_CAP_ID_EXP);

	ASSERT_NE(0, exp);
	EXPECT_EQ(PCI_EXP_DEVCAP_TEE, dword(self->cfg, exp + 4) & PCI_EXP_DEVCAP_TEE);
}

TEST_F(emulated, doe_and_ide_capabilities_listed)
{
	EXPECT_EQ(0xe00, find_ext_cap(self->cfg, PCI_EXT_CAP_ID_DOE));
	EXPECT_EQ(0xe20, find_ext_cap(self->cfg, PCI_EXT_CAP_ID_IDE));
	/* DOE status: idle, no error. */
	EXPECT_EQ(0U, dword(self->cfg, 0xe00 + 0x0c));
}

TEST_F(emulated, upstream_doe_published_features)
{
	struct stat st;

	/* Discovery itself, then each protocol it found, as vendor:type. */
	EXPECT_EQ(0, stat(DEV "/doe_features/doe_discovery", &st));
	EXPECT_EQ(0, stat(DEV "/doe_features/0001:01", &st));
	EXPECT_EQ(-1, stat(DEV "/doe_features/0001:02", &st));
}

TEST_F(emulated, misbehave_is_runtime_settable)
{
	char buf[16];
	int fd = open("/sys/module/" MODULE_NAME "/parameters/misbehave", O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "2\n", 2));
	close(fd);
	ASSERT_LT(0, teeio_read_file("/sys/module/" MODULE_NAME "/parameters/misbehave", buf, sizeof(buf)));
	EXPECT_STREQ("2\n", buf);
	fd = open("/sys/module/" MODULE_NAME "/parameters/misbehave", O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "0\n", 2));
	close(fd);
}

TEST(unload_gives_the_device_back)
{
	uint8_t cfg[4096];
	int exp;

	teeio_unload_module(MODULE_NAME);
	ASSERT_EQ(0, load("bdfs=" BDF));
	ASSERT_EQ(0, teeio_unload_module(MODULE_NAME));
	ASSERT_EQ(0, read_config(cfg));
	exp = find_cap(cfg, PCI_CAP_ID_EXP);
	ASSERT_NE(0, exp);
	EXPECT_EQ(0U, dword(cfg, exp + 4) & PCI_EXP_DEVCAP_TEE);
	EXPECT_EQ(0, find_ext_cap(cfg, PCI_EXT_CAP_ID_DOE));
	EXPECT_EQ(0, find_ext_cap(cfg, PCI_EXT_CAP_ID_IDE));
}

TEST(two_devices_one_with_its_own_extended_capabilities)
{
	const char *devs[] = { "/sys/bus/pci/devices/0000:01:00.0/config",
			       "/sys/bus/pci/devices/0000:02:00.0/config" };
	uint8_t cfg[4096];

	teeio_unload_module(MODULE_NAME);
	/* 02:00.0 (e1000e) has real extended capabilities; ours follow them. */
	ASSERT_EQ(0, load("bdfs=0000:01:00.0,0000:02:00.0"));
	for (int i = 0; i < 2; i++) {
		int fd = open(devs[i], O_RDONLY | O_CLOEXEC);

		ASSERT_LE(0, fd);
		ASSERT_EQ(4096, pread(fd, cfg, sizeof(cfg), 0));
		close(fd);
		EXPECT_EQ(0xe00, find_ext_cap(cfg, PCI_EXT_CAP_ID_DOE)) TH_LOG("%s", devs[i]);
		EXPECT_EQ(0xe20, find_ext_cap(cfg, PCI_EXT_CAP_ID_IDE)) TH_LOG("%s", devs[i]);
	}
	/* The real capabilities of 02:00.0 are still listed first. */
	EXPECT_NE(0U, dword(cfg, 0x100) & 0xffff);
	EXPECT_EQ(0x100, find_ext_cap(cfg, dword(cfg, 0x100) & 0xffff));
	ASSERT_EQ(0, teeio_unload_module(MODULE_NAME));
	ASSERT_EQ(0, read_config(cfg));
	EXPECT_EQ(0, find_ext_cap(cfg, PCI_EXT_CAP_ID_DOE));
}

TEST(bad_parameters_are_refused)
{
	teeio_unload_module(MODULE_NAME);
	EXPECT_EQ(-EINVAL, load(""));
	EXPECT_EQ(-EINVAL, load("bdfs=01:00.0"));
	EXPECT_EQ(-EINVAL, load("bdfs=0000:01:20.0"));
	/* No such function. */
	EXPECT_EQ(-ENODEV, load("bdfs=0000:07:00.0"));
	/* A root complex integrated function, not below a root port. */
	EXPECT_EQ(-EINVAL, load("bdfs=0000:00:1f.2"));
	EXPECT_EQ(-EINVAL, load("bdfs=" BDF "," BDF));
	/* Nothing stays loaded after a refusal. */
	EXPECT_EQ(-ENOENT, teeio_unload_module(MODULE_NAME));
}

TEST_HARNESS_MAIN
