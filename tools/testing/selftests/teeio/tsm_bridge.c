// SPDX-License-Identifier: GPL-2.0
/*
 * The host TSM bridge over the emulated platform TSM, through upstream
 * sysfs (tsm/connect, tsm/disconnect, authenticated, tsm/dsm, tsm/bound)
 * and the test hooks for pci_tsm_bind(), pci_tsm_unbind() and
 * pci_tsm_guest_req(): connect and bind lifecycles with TDI states, every
 * guest request, scope and ownership refusals, each DSM misbehaviour, and
 * unloading the bridge or the TSM with a bound TDI. Every teardown path
 * (host unbind, guest stop, device error, VM release before unbind, rmmod,
 * TSM unregister) is checked against the IOASID core's event log: the
 * four steps CPU, DEVICE, IOMMU, LAST, in that order, each succeeding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/teeio_tsm.h>

#include "kselftest_harness.h"
#include "teeio_tsm_util.h"

#define BDF "0000:01:00.0"
#define OTHER "0000:03:00.0"
#define TDI "0100"
#define DEV "/sys/bus/pci/devices/" BDF
#define MISBEHAVE "/sys/module/teeio_tdisp_emu/parameters/misbehave"

static const char *const modules[] = {
	"teeio_tsm_test", "teeio_tsm_bridge", "teeio_tsm_emu", "teeio_tdisp_emu",
	"teeio_ioasid",
};

static int misbehave(int bits)
{
	char s[16];

	snprintf(s, sizeof(s), "%d", bits);
	return write_str(MISBEHAVE, s);
}

/* A guest request for TDI @tdi; 0 or -errno, the outcome in @o. */
static int guest(struct outcome *o, int scope, int op, const char *tdi,
		 uint64_t arg0, uint64_t arg1)
{
	int ret = hook("req " BDF " %d %d %s %llx %llx", scope, op, tdi,
		       (unsigned long long)arg0, (unsigned long long)arg1);

	if (!ret)
		ret = result(o);
	return ret;
}

static char *attr(const char *name)
{
	static char buf[64];
	char path[128];

	snprintf(path, sizeof(path), DEV "/%s", name);
	if (teeio_read_file(path, buf, sizeof(buf)) < 0)
		return "(unreadable)";
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* Maps every MMIO range of the locked report; returns how many or -errno. */
static int map_all(struct outcome *o)
{
	struct outcome report;
	int count, ret;

	ret = guest(&report, 0, TEEIO_TSM_GUEST_GET_REPORT, TDI, 0, 4096);
	if (ret)
		return ret;
	count = report_range(report.data, report.len, 0, NULL, NULL);
	for (int i = 0; i < count; i++) {
		uint64_t addr = 0;
		uint32_t pages = 0;

		ret = report_range(report.data, report.len, i, &addr, &pages);
		if (ret < 0)
			return ret;
		ret = guest(o, 1, TEEIO_TSM_GUEST_MAP_MMIO, TDI, addr, (uint64_t)pages * 4096);
		if (ret || o->tsm_code)
			return ret ?: -EIO;
	}
	return count;
}

/* Connected, bound to VM 0, every range mapped and DMA accepted; log empty. */
static int bound_and_accepted(struct outcome *o)
{
	int ret = connect(BDF) ?: hook("bind " BDF " 0 " TDI);

	if (ret)
		return ret;
	ret = map_all(o);
	if (ret <= 0)
		return ret ?: -EIO;
	ret = guest(o, 1, TEEIO_TSM_GUEST_ACCEPT_DMA, TDI, 0, 0);
	if (ret || o->tsm_code)
		return ret ?: -EIO;
	return write_str(EVENTS, "clear");
}

static void unload_all(void)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		teeio_unload_module(modules[i]);
}

FIXTURE(bridge) {
	struct outcome o;
};

FIXTURE_SETUP(bridge)
{
	unload_all();
	ASSERT_EQ(0, load_tsm_stack("bdfs=" BDF "," OTHER));
}

FIXTURE_TEARDOWN(bridge)
{
	unload_all();
}

TEST_F(bridge, connect_disconnect_cycles)
{
	for (int i = 0; i < 10; i++) {
		ASSERT_EQ(0, connect(BDF));
		ASSERT_STREQ("tsm0", attr("tsm/connect"));
		ASSERT_STREQ("tsm0", attr("authenticated"));
		ASSERT_STREQ(BDF, attr("tsm/dsm"));
		ASSERT_STREQ("", attr("tsm/bound"));
		ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
		ASSERT_EQ(0, disconnect(BDF));
		ASSERT_STREQ("", attr("authenticated"));
	}
}

TEST_F(bridge, connect_refusals)
{
	ASSERT_EQ(-ENXIO, write_str(DEV "/tsm/connect", "tsm7"));
	ASSERT_EQ(-EINVAL, write_str(DEV "/tsm/connect", "nonsense"));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(-EBUSY, connect(BDF));
	ASSERT_EQ(-EINVAL, write_str(DEV "/tsm/disconnect", "tsm7"));
	ASSERT_EQ(0, disconnect(BDF));
	ASSERT_EQ(-ENXIO, disconnect(BDF));
}

TEST_F(bridge, bind_before_connect_is_refused)
{
	ASSERT_EQ(-EINVAL, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(-ENXIO, guest(&self->o, 0, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
}

TEST_F(bridge, lifecycle_with_every_guest_request)
{
	struct teeio_tsm_guest_state st;
	struct outcome *o = &self->o;
	int ranges;

	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_STREQ("tsm0", attr("tsm/bound"));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	/* Binding again for the same VM is a no-op. */
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));

	ASSERT_EQ(0, guest(o, 0, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_EQ(sizeof(st), (size_t)o->len);
	memcpy(&st, o->data, sizeof(st));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, st.tdi_state);
	ASSERT_EQ(0, st.mmio_mapped);
	ASSERT_LT(0, (int)st.mmio_ranges);

	ASSERT_EQ(0, guest(o, 0, TEEIO_TSM_GUEST_GET_MEASUREMENTS, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_LT(0u, o->len);
	ASSERT_EQ(1, o->data[0]);	/* first block: index 1 */

	ASSERT_EQ(0, guest(o, 0, TEEIO_TSM_GUEST_GET_REPORT, TDI, 4, 8));
	ASSERT_EQ(8u, o->len);

	/* START needs every range accepted. */
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_INVALID_STATE, o->tsm_code);
	/* A range the report does not have. */
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_MAP_MMIO, TDI, 0x1000, 0x1000));
	ASSERT_EQ(TSM_ERR_INVALID_ADDRESS, o->tsm_code);

	ranges = map_all(o);
	ASSERT_EQ((int)st.mmio_ranges, ranges);
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_ACCEPT_DMA, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_ACCEPT_DMA, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_ALREADY_AVAILABLE, o->tsm_code);
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_EQ(TEEIO_TDI_RUN, tdi_state(BDF));

	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_STOP, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/*
	 * Stopped, the TDI stays bound for the PCI/TSM core until the host
	 * unbinds it, but the TSM has torn it down: the TVM owns it no more.
	 */
	ASSERT_STREQ("tsm0", attr("tsm/bound"));
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_DENIED, o->tsm_code);

	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_STREQ("", attr("tsm/bound"));
	ASSERT_EQ(-ENXIO, guest(o, 0, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
	ASSERT_EQ(0, disconnect(BDF));
}

TEST_F(bridge, second_vm_is_ebusy)
{
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(-EBUSY, hook("bind " BDF " 1 " TDI));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(0, hook("bind " BDF " 1 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, scope_and_ownership_refusals)
{
	struct outcome *o = &self->o;

	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	for (int op = TEEIO_TSM_GUEST_MAP_MMIO; op <= TEEIO_TSM_GUEST_STOP; op++)
		ASSERT_EQ(-EPERM, guest(o, 0, op, TDI, 0, 0));
	/* Debug scopes never reach the TSM. */
	ASSERT_EQ(-EINVAL, guest(o, 2, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
	ASSERT_EQ(-EINVAL, guest(o, 3, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
	ASSERT_EQ(-EACCES, guest(o, 1, TEEIO_TSM_GUEST_STOP, "0300", 0, 0));
	ASSERT_EQ(-EINVAL, guest(o, 0, 99, TDI, 0, 0));
	ASSERT_EQ(-EINVAL, hook("raw " BDF " 0 8"));
	ASSERT_EQ(-EINVAL, hook("raw " BDF " 0 24"));
	/* Nothing changed. */
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, mailbox_faults_fail_connect_cleanly)
{
	ASSERT_EQ(0, misbehave(16));	/* busy */
	ASSERT_NE(0, connect(BDF));
	ASSERT_STREQ("", attr("authenticated"));
	ASSERT_EQ(0, misbehave(32));	/* stuck */
	ASSERT_NE(0, connect(BDF));
	ASSERT_STREQ("", attr("authenticated"));
	ASSERT_EQ(0, misbehave(0));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_STREQ("tsm0", attr("authenticated"));
}

TEST_F(bridge, bad_reports_fail_bind_cleanly)
{
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, misbehave(2));	/* truncated report */
	ASSERT_EQ(-EIO, hook("bind " BDF " 0 " TDI));
	ASSERT_STREQ("", attr("tsm/bound"));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	ASSERT_EQ(0, misbehave(4));	/* oversized portions */
	ASSERT_EQ(-EIO, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	ASSERT_EQ(0, misbehave(0));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, spurious_error_leaves_tdi_in_error_until_stopped)
{
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, misbehave(64));
	ASSERT_NE(0, hook("bind " BDF " 0 " TDI));
	ASSERT_STREQ("", attr("tsm/bound"));
	ASSERT_EQ(0, misbehave(0));
	ASSERT_EQ(TEEIO_TDI_ERROR, tdi_state(BDF));
	/* The next bind stops the TDI first. */
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, wrong_nonce_fails_start)
{
	struct outcome *o = &self->o;

	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, misbehave(1));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_LT(0, map_all(o));
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_FAILED, o->tsm_code);
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

TEST_F(bridge, illegal_transitions_stay_unreachable)
{
	struct outcome *o = &self->o;

	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, misbehave(8));	/* DSM would START from CONFIG_UNLOCKED */
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_STOP, TDI, 0, 0));
	/* Stopped and torn down: the TSM refuses before the DSM sees it. */
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_DENIED, o->tsm_code);
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

/* The debug kernel's kmemleak, KASAN and lockdep watch this loop. */
TEST_F_TIMEOUT(bridge, hundred_full_cycles, 900)
{
	struct outcome *o = &self->o;

	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(0, connect(BDF));
		ASSERT_EQ(0, hook("bind " BDF " %d " TDI, i % 4));
		ASSERT_EQ(0, guest(o, 0, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
		ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, o->data[0]);
		ASSERT_EQ(0, hook("unbind " BDF));
		ASSERT_EQ(0, disconnect(BDF));
	}
	ASSERT_STREQ("", attr("authenticated"));
}

TEST_F(bridge, unload_bridge_with_bound_tdi)
{
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(0, teeio_unload_module("teeio_tsm_bridge"));
	ASSERT_EQ(-ENOENT, access("/sys/class/tsm/tsm0", F_OK) ? -errno : 0);
	ASSERT_EQ(0, teeio_load_module("teeio_tsm_bridge"));
	/* The platform TSM forgot the device: connect starts afresh. */
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
}

TEST_F(bridge, unload_tsm_with_bound_tdi)
{
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(0, teeio_unload_module("teeio_tsm_emu"));
	ASSERT_EQ(-ENOENT, access("/sys/class/tsm/tsm0", F_OK) ? -errno : 0);
	ASSERT_EQ(0, teeio_load_module("teeio_tsm_emu"));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

TEST_F(bridge, teardown_order_host_unbind)
{
	ASSERT_EQ(0, bound_and_accepted(&self->o));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_STREQ(ORDERED_FREED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

TEST_F(bridge, teardown_order_guest_stop)
{
	struct outcome *o = &self->o;

	ASSERT_EQ(0, bound_and_accepted(o));
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_START, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_STOP, TDI, 0, 0));
	ASSERT_EQ(0, o->tsm_code);
	ASSERT_STREQ(ORDERED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/* Stopped twice: nothing left to stop. */
	ASSERT_EQ(0, guest(o, 1, TEEIO_TSM_GUEST_STOP, TDI, 0, 0));
	ASSERT_EQ(TSM_ERR_INVALID_STATE, o->tsm_code);
	/* The host's unbind finds the teardown done and frees the IOASID. */
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_STREQ(ORDERED("UNBIND") ", reclaim", steps());
	ASSERT_EQ(0, hook("bind " BDF " 1 " TDI));
}

TEST_F(bridge, teardown_order_device_error)
{
	struct outcome *o = &self->o;
	uint16_t cmd;
	int fd;

	ASSERT_EQ(0, bound_and_accepted(o));
	/* Memory Space Enable cleared on a locked TDI: the DSM goes to ERROR. */
	fd = open(DEV "/config", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, pread(fd, &cmd, 2, 4));
	cmd &= ~2;
	ASSERT_EQ(2, pwrite(fd, &cmd, 2, 4));
	/* The guest's next state read reports ERROR; teardown follows. */
	ASSERT_EQ(0, guest(o, 0, TEEIO_TSM_GUEST_GET_STATE, TDI, 0, 0));
	ASSERT_EQ(TEEIO_TDI_ERROR, o->data[0]);
	ASSERT_STREQ(ORDERED("UNBIND"), steps());
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	cmd |= 2;
	ASSERT_EQ(2, pwrite(fd, &cmd, 2, 4));
	close(fd);
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, teardown_order_vm_release_before_unbind)
{
	ASSERT_EQ(0, bound_and_accepted(&self->o));
	ASSERT_EQ(-EINVAL, hook("vmfree 9"));
	ASSERT_EQ(-ENOENT, hook("vmfree 1"));
	ASSERT_EQ(0, hook("vmfree 0"));
	/* Free returns at once; the teardown runs in order behind it. */
	ASSERT_STREQ(ORDERED_FREED("FREE"), steps_until("LAST"));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	/* Still bound for the PCI/TSM core; its unbind has nothing to do. */
	ASSERT_STREQ("tsm0", attr("tsm/bound"));
	ASSERT_EQ(0, hook("unbind " BDF));
	ASSERT_STREQ(ORDERED_FREED("FREE"), steps());
	ASSERT_EQ(0, hook("bind " BDF " 0 " TDI));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(bridge, teardown_order_rmmod_bridge)
{
	ASSERT_EQ(0, bound_and_accepted(&self->o));
	ASSERT_EQ(0, teeio_unload_module("teeio_tsm_bridge"));
	ASSERT_STREQ(ORDERED_FREED("UNBIND"), steps());
}

TEST_F(bridge, teardown_order_tsm_unregister)
{
	ASSERT_EQ(0, bound_and_accepted(&self->o));
	ASSERT_EQ(0, teeio_unload_module("teeio_tsm_emu"));
	ASSERT_STREQ(ORDERED_FREED("UNBIND"), steps());
}

TEST_HARNESS_MAIN
