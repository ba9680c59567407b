// SPDX-License-Identifier: GPL-2.0
/*
 * The guest TDISP accept driver (teeio_tdisp_guest) in the whole seed-000
 * lifecycle: the host connects and binds the TDI with its MMIO where the
 * guest sees it, the VMM hands over private MMIO and relays the guest's
 * requests from /dev/teeio-tdisp-guest (on a thread of this test), and the
 * guest locks, verifies, accepts and starts the TDI through tsm_guest/ in
 * sysfs; then stops it. Each refusal (tampered report, wrong measurements,
 * ranges off the BARs, wrong nonce, TDI in ERROR, a TDI not bound to the
 * TVM, no VMM) leaves the function shared with its reason readable and
 * nothing private mapped; a guest stop racing a host unbind tears down once.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/teeio_tdisp_guest.h>

#include "kselftest_harness.h"
#include "teeio_ext_util.h"

#define BDF "0000:01:00.0"
/* The guest's view of the TDI: another endpoint, virt_id 03:00.0. */
#define GUEST "0000:03:00.0"
#define GUEST_VIRT 0x300
#define DRIVER "teeio-vfio-pci"
/* The guest view's normal driver, in this machine. */
#define NORMAL_DRIVER "vfio-pci"
#define CHANNEL "/dev/teeio-tdisp-guest"
#define SYS_GUEST "/sys/bus/pci/devices/" GUEST "/tsm_guest/"
#define MISBEHAVE "/sys/module/teeio_tdisp_emu/parameters/misbehave"
#define MAX_RANGES 8

static const char *const modules[] = {
	"teeio_tdisp_guest", "teeio_vfio_pci", "teeio_iommufd_tsm", "teeio_tsm_test",
	"teeio_tsm_bridge", "teeio_tsm_emu", "teeio_tdisp_emu", "teeio_ioasid",
};

static void unload_all(void)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		teeio_unload_module(modules[i]);
}

/* The VMM's relay of guest exits, with the faults a hostile VMM injects. */
struct relay {
	int ext, channel;
	uint32_t vdev;
	uint32_t virt;
	atomic_bool stop, tamper_report;
	/* Relays every exit through this vDEVICE, whatever its virt_id. */
	atomic_int misroute;
	atomic_int relayed;
	pthread_t thread;
};

static void relay_one(struct relay *r)
{
	static uint8_t in[sizeof(struct teeio_guest_exit) + TEEIO_GUEST_REQ_MAX];
	static uint8_t out[sizeof(struct teeio_guest_resume) + TEEIO_GUEST_RESP_MAX];
	struct teeio_guest_exit *e = (void *)in;
	struct teeio_guest_resume *res = (void *)out;
	struct teeio_tsm_guest_req *g = (void *)(e + 1);
	struct teeio_vdevice_tsm_req t = { .size = sizeof(t) };
	int misroute = atomic_load(&r->misroute);

	if (read(r->channel, in, sizeof(in)) < (ssize_t)sizeof(*e))
		return;
	*res = (struct teeio_guest_resume){ .size = sizeof(*res), .sequence = e->sequence };
	if (e->virt_id != r->virt && misroute < 0) {
		res->error = -ENODEV;
	} else {
		t.vdevice_id = misroute >= 0 ? (uint32_t)misroute : r->vdev;
		t.type = e->type;
		t.op = e->op;
		t.req_len = e->req_len;
		t.resp_len = e->resp_len;
		t.req_uptr = (uintptr_t)g;
		t.resp_uptr = (uintptr_t)(res + 1);
		res->error = xioctl(r->ext, TEEIO_IOMMUFD_VDEVICE_TSM_REQ, &t);
		if (!res->error) {
			res->resp_len = t.out_resp_len;
			res->tsm_code = t.out_tsm_code;
		}
		if (atomic_load(&r->tamper_report) && g->op == TEEIO_TSM_GUEST_GET_REPORT &&
		    g->arg0 == 0 && res->resp_len > 20)
			((uint8_t *)(res + 1))[20] ^= 0x10;
	}
	write(r->channel, out, sizeof(*res) + res->resp_len);
	atomic_fetch_add(&r->relayed, 1);
}

static void *relay_loop(void *arg)
{
	struct relay *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = { .fd = r->channel, .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			relay_one(r);
	}
	return NULL;
}

static int relay_start(struct relay *r)
{
	r->channel = open(CHANNEL, O_RDWR | O_CLOEXEC);
	if (r->channel < 0)
		return -errno;
	atomic_store(&r->stop, false);
	return -pthread_create(&r->thread, NULL, relay_loop, r);
}

static void relay_stop(struct relay *r)
{
	if (r->channel < 0)
		return;
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->channel);
	r->channel = -1;
}

/* Writes @s to tsm_guest/@attr: 0 or -errno. */
static int guest_write(const char *attr, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), SYS_GUEST "%s", attr);
	return write_str(path, s);
}

/* tsm_guest/@attr, its trailing newline cut. */
static const char *guest_read(const char *attr)
{
	static char buf[4096];
	char path[128];
	ssize_t n;

	snprintf(path, sizeof(path), SYS_GUEST "%s", attr);
	n = teeio_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return "(unreadable)";
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

/* The guest's devsec TSM: the tsm device whose parent is its platform device. */
static const char *guest_tsm(void)
{
	static char name[32];
	char path[128], target[256];

	for (int i = 0; i < 8; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/sys/class/tsm/tsm%d/device", i);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "teeio-tdisp-guest")) {
			snprintf(name, sizeof(name), "tsm%d", i);
			return name;
		}
	}
	return "tsm-none";
}

/* The driver bound to @bdf, or "". */
static const char *driver_of(const char *bdf)
{
	static char target[256];
	char path[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return "";
	target[n] = '\0';
	return strrchr(target, '/') + 1;
}

/* The start of memory BAR 0 of @bdf. */
static uint64_t bar0(const char *bdf)
{
	unsigned long long start = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llx", &start) != 1)
			start = 0;
		fclose(f);
	}
	return start;
}

/* The first record's event on a vEVENTQ, waiting up to a second; or -errno. */
static int next_event(int veventq)
{
	struct {
		struct teeio_vevent_header h;
		struct teeio_vevent_tdi tdi;
	} rec;
	struct pollfd p = { .fd = veventq, .events = POLLIN };

	if (poll(&p, 1, 1000) <= 0)
		return -ETIMEDOUT;
	if (read(veventq, &rec, sizeof(rec)) != sizeof(rec))
		return -EIO;
	return rec.tdi.virt_id == GUEST_VIRT ? (int)rec.tdi.event : -EINVAL;
}

FIXTURE(guest) {
	int ext, iommufd, vfio, vm, veventq;
	uint32_t dev_id, viommu, vdev, veventq_id;
	uint64_t offset;
	int ranges;
	uint64_t addr[MAX_RANGES], len[MAX_RANGES];
	int dmabuf[MAX_RANGES];
	struct relay relay;
	const char *tsm;
};

FIXTURE_SETUP(guest)
{
	unload_all();
	self->relay.channel = -1;
	for (int i = 0; i < MAX_RANGES; i++)
		self->dmabuf[i] = -1;
	ASSERT_EQ(0, load_tsm_stack("bdfs=" BDF));
	ASSERT_EQ(0, teeio_load_module("teeio_iommufd_tsm"));
	ASSERT_EQ(0, teeio_load_module("teeio_vfio_pci"));
	ASSERT_EQ(0, teeio_load_module_params("teeio_tdisp_guest", "devices=" GUEST " timeout_ms=3000"));
	self->tsm = guest_tsm();
	ASSERT_EQ(0, to_driver(BDF, DRIVER));
	ASSERT_EQ(0, connect(BDF));
	ASSERT_EQ(0, open_vmm(BDF, &self->ext, &self->iommufd, &self->vfio, &self->dev_id,
			      &self->vm, &self->viommu));
	self->veventq = veventq_alloc(self->ext, self->viommu, 16, &self->veventq_id);
	ASSERT_LE(0, self->veventq);
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, GUEST_VIRT,
				   &self->vdev));
	/* The VMM places the guest's BARs where the guest view has them. */
	self->offset = bar0(GUEST) - bar0(BDF);
	self->relay.ext = self->ext;
	self->relay.vdev = self->vdev;
	self->relay.virt = GUEST_VIRT;
	atomic_store(&self->relay.misroute, -1);
	/* The guest view's normal driver, once accepted. */
	ASSERT_EQ(0, write_str("/sys/bus/pci/devices/" GUEST "/driver_override", NORMAL_DRIVER));
}

FIXTURE_TEARDOWN(guest)
{
	relay_stop(&self->relay);
	write_str(MISBEHAVE, "0");
	for (int i = 0; i < MAX_RANGES; i++)
		if (self->dmabuf[i] >= 0)
			close(self->dmabuf[i]);
	close(self->veventq);
	close_vmm(self->ext, self->iommufd, self->vfio, self->vm);
	from_driver(BDF, DRIVER);
	from_driver(GUEST, NORMAL_DRIVER);
	unload_all();
}

/*
 * The host's part: TSM bind with the MMIO where the guest sees it, then
 * every report range exported and handed to the TVM at its (guest) address.
 */
static int host_assigns(FIXTURE_DATA(guest) *self, uint64_t offset)
{
	int ret = tsm_bind_at(self->ext, self->vdev, offset);

	self->ranges = ret ?: report_ranges(self->ext, self->vdev, GUEST_VIRT, self->addr,
					    self->len, MAX_RANGES);
	if (self->ranges < 0)
		return self->ranges;
	for (int i = 0; i < self->ranges; i++) {
		self->dmabuf[i] = tdi_dma_buf(self->vfio, BDF, self->addr[i] - offset, self->len[i]);
		if (self->dmabuf[i] < 0)
			return self->dmabuf[i];
		ret = import(self->ext, self->vm, i, self->addr[i], self->len[i], self->dmabuf[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The guest locks and provisions the measurements it sees as its policy. */
static int guest_locks(FIXTURE_DATA(guest) *self)
{
	char policy[1024] = "";
	char measurements[4096];
	char *line, *save;

	int ret = guest_write("lock", self->tsm);

	if (ret)
		return ret;
	snprintf(measurements, sizeof(measurements), "%s", guest_read("measurements"));
	for (line = strtok_r(measurements, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int index;
		char type[8], hex[128];

		if (sscanf(line, "%u %7s %127s", &index, type, hex) != 3)
			return -EIO;
		snprintf(policy + strlen(policy), sizeof(policy) - strlen(policy), "%u %s\n", index, hex);
	}
	return guest_write("policy", policy);
}

/* How many report ranges the TSM has mapped for the TVM, or -errno. */
static int mapped_ranges(FIXTURE_DATA(guest) *self)
{
	struct outcome o;
	int ret = tunnel_for(self->ext, self->vdev, GUEST_VIRT, TEEIO_TSM_REQ_OP_INFO,
			     TEEIO_TSM_GUEST_GET_STATE, 0, 0, &o);
	struct teeio_tsm_guest_state *s = (void *)o.data;

	return ret ?: o.tsm_code ? -EIO : s->mmio_mapped;
}

TEST_F(guest, seed_000_lifecycle)
{
	ASSERT_EQ(0ULL, self->offset % 4096);
	ASSERT_EQ(0, host_assigns(self, self->offset));
	ASSERT_EQ(self->addr[0], bar0(GUEST)) TH_LOG("the report shows the guest's addresses");
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_STREQ("shared", guest_read("state"));
	ASSERT_STREQ("", guest_read("lock"));
	ASSERT_EQ(0, guest_locks(self));
	ASSERT_STREQ("locked", guest_read("state"));
	ASSERT_STREQ(self->tsm, guest_read("lock"));
	/* Locked and not accepted: no driver binds. */
	write_str("/sys/bus/pci/drivers_probe", GUEST);
	ASSERT_STREQ("", driver_of(GUEST));
	ASSERT_EQ(0, guest_write("accept", "1"));
	ASSERT_STREQ("accepted", guest_read("state"));
	ASSERT_STREQ("1", guest_read("accept"));
	ASSERT_STREQ("", guest_read("reason"));
	ASSERT_EQ(TEEIO_TDI_RUN, tdi_state(BDF));
	ASSERT_EQ(self->ranges, mapped_ranges(self));
	ASSERT_STREQ(NORMAL_DRIVER, driver_of(GUEST));
	/* Evidence, report portions, measurements, maps, DMA, START, state. */
	ASSERT_LE(7, atomic_load(&self->relay.relayed));
	/* The guest stops: the VMM is told, the teardown ran in order. */
	ASSERT_EQ(0, write_str(EVENTS, "clear"));
	ASSERT_EQ(0, guest_write("unlock", self->tsm));
	ASSERT_STREQ("shared", guest_read("state"));
	ASSERT_STREQ("", driver_of(GUEST));
	ASSERT_EQ(TEEIO_VEVENT_TDI_STOPPED_BY_GUEST, next_event(self->veventq));
	ASSERT_STREQ(EXT_ORDERED("UNBIND") ", UNBIND LAST mmio-recover 0",
		     steps_until("mmio-recover") + strlen("UNBIND CPU mmio-revoke 0, "));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
	ASSERT_EQ(-ENXIO, guest_write("unlock", self->tsm));
	ASSERT_EQ(0, tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND));
	ASSERT_EQ(0, destroy(self->ext, self->vdev));
	close(self->vfio);
	self->vfio = -1;
	relay_stop(&self->relay);
	ASSERT_EQ(0, disconnect(BDF));
}

/* Refused with @errno: shared, the reason has @why, nothing mapped. */
#define ASSERT_REFUSED(errno_, why)                                        \
	do {                                                               \
		ASSERT_EQ(errno_, guest_write("accept", "1"));                     \
		ASSERT_STREQ("shared", guest_read("state"));                       \
		ASSERT_NE(NULL, strstr(guest_read("reason"), why))                 \
			TH_LOG("reason: %s", guest_read("reason"));                  \
		ASSERT_STREQ("", driver_of(GUEST));                                \
	} while (0)

TEST_F(guest, tampered_report_is_refused)
{
	ASSERT_EQ(0, host_assigns(self, self->offset));
	ASSERT_EQ(0, relay_start(&self->relay));
	atomic_store(&self->relay.tamper_report, true);
	ASSERT_EQ(0, guest_locks(self));
	ASSERT_REFUSED(-EACCES, "does not match the TSM's evidence");
	ASSERT_EQ(0, mapped_ranges(self));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
	/* An honest relay next time: accepted. */
	atomic_store(&self->relay.tamper_report, false);
	ASSERT_EQ(0, guest_locks(self));
	ASSERT_EQ(0, guest_write("accept", "1"));
	ASSERT_EQ(TEEIO_TDI_RUN, tdi_state(BDF));
}

TEST_F(guest, wrong_measurements_are_refused)
{
	char policy[256];
	const char *m;
	char *hex;

	ASSERT_EQ(0, host_assigns(self, self->offset));
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_EQ(0, guest_write("lock", self->tsm));
	ASSERT_REFUSED(-EACCES, "no measurement policy");
	ASSERT_EQ(0, guest_write("lock", self->tsm));
	m = guest_read("measurements");
	ASSERT_EQ(0, strncmp(m, "1 ", 2)) TH_LOG("measurements: %s", m);
	snprintf(policy, sizeof(policy), "1 %.96s\n", strchr(m + 2, ' ') + 1);
	hex = strchr(policy + 2, '\n') - 1;
	*hex = *hex == '0' ? '1' : '0';
	ASSERT_EQ(0, guest_write("policy", policy));
	ASSERT_REFUSED(-EACCES, "measurement 1 does not match the policy");
	ASSERT_EQ(-EINVAL, guest_write("policy", "1 abc\n"));
	ASSERT_EQ(0, mapped_ranges(self));
}

TEST_F(guest, ranges_off_the_bars_are_refused)
{
	/* Locked with the host's addresses: the report misses the guest's BAR. */
	ASSERT_NE(0ULL, self->offset);
	ASSERT_EQ(0, host_assigns(self, 0));
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_EQ(0, guest_locks(self));
	ASSERT_REFUSED(-EACCES, "is outside BAR 0");
	ASSERT_EQ(0, mapped_ranges(self));
	ASSERT_EQ(-EINVAL, tsm_bind_at(self->ext, self->vdev, 4095));
}

TEST_F(guest, wrong_nonce_stops_the_tdi)
{
	ASSERT_EQ(0, write_str(MISBEHAVE, "1"));
	ASSERT_EQ(0, host_assigns(self, self->offset));
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_EQ(0, guest_locks(self));
	ASSERT_REFUSED(-EIO, "START_INTERFACE refused by the TSM");
	/* Ranges were mapped before START: the guest stopped the TDI. */
	ASSERT_EQ(TEEIO_VEVENT_TDI_STOPPED_BY_GUEST, next_event(self->veventq));
	ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
}

TEST_F(guest, tdi_in_error_is_refused)
{
	uint16_t command;
	int config;

	ASSERT_EQ(0, host_assigns(self, self->offset));
	/* A config write behind VFIO's back breaks the lock: ERROR. */
	config = open("/sys/bus/pci/devices/" BDF "/config", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, config);
	ASSERT_EQ(2, pread(config, &command, 2, 4));
	command &= ~0x2;
	ASSERT_EQ(2, pwrite(config, &command, 2, 4));
	close(config);
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_EQ(-EIO, guest_write("lock", self->tsm));
	ASSERT_STREQ("shared", guest_read("state"));
	ASSERT_NE(NULL, strstr(guest_read("reason"), "ERROR"));
	ASSERT_EQ(TEEIO_VEVENT_TDI_ERROR, next_event(self->veventq));
}

TEST_F(guest, tdi_not_bound_to_this_tvm_is_refused)
{
	ASSERT_EQ(0, relay_start(&self->relay));
	/* Not bound yet: the TSM knows no TDI of this TVM there. */
	ASSERT_NE(0, guest_write("lock", self->tsm));
	ASSERT_STREQ("shared", guest_read("state"));
	ASSERT_EQ(0, host_assigns(self, self->offset));
	/* No vDEVICE of the VMM's has the guest's virt_id. */
	self->relay.virt = GUEST_VIRT + 1;
	ASSERT_EQ(-ENODEV, guest_write("lock", self->tsm));
	/* A VMM relaying it through a TDI bound under another virt_id. */
	ASSERT_EQ(0, destroy(self->ext, self->vdev));
	ASSERT_EQ(0, vdevice_alloc(self->ext, self->viommu, self->dev_id, self->vfio, GUEST_VIRT + 1,
				   &self->vdev));
	atomic_store(&self->relay.misroute, (int)self->vdev);
	ASSERT_EQ(0, tsm_bind_at(self->ext, self->vdev, self->offset));
	ASSERT_EQ(-EACCES, guest_write("lock", self->tsm));
	ASSERT_STREQ("shared", guest_read("state"));
	ASSERT_EQ(TEEIO_TDI_CONFIG_LOCKED, tdi_state(BDF));
}

TEST_F(guest, no_vmm_no_lock)
{
	ASSERT_EQ(0, host_assigns(self, self->offset));
	ASSERT_EQ(-ENOTCONN, guest_write("lock", self->tsm));
	ASSERT_NE(NULL, strstr(guest_read("reason"), "did not reach the TSM"));
	ASSERT_EQ(-EINVAL, guest_write("lock", "tsm99"));
	ASSERT_EQ(-ENXIO, guest_write("accept", "1"));
	/* A driver bound: no lock. */
	ASSERT_EQ(0, relay_start(&self->relay));
	ASSERT_EQ(0, write_str("/sys/bus/pci/drivers_probe", GUEST));
	ASSERT_STREQ(NORMAL_DRIVER, driver_of(GUEST));
	ASSERT_EQ(-EBUSY, guest_write("lock", self->tsm));
}

TEST_F(guest, channel_records_are_checked)
{
	struct teeio_guest_resume res = { .size = sizeof(res), .sequence = 12345 };
	uint8_t buf[8];
	int second;

	ASSERT_EQ(0, relay_start(&self->relay));
	second = open(CHANNEL, O_RDWR | O_CLOEXEC);
	ASSERT_EQ(-1, second);
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(-1, write(self->relay.channel, &res, sizeof(res)));
	ASSERT_EQ(ENOENT, errno);
	res.size = 8;
	ASSERT_EQ(-1, write(self->relay.channel, &res, sizeof(res)));
	ASSERT_EQ(EINVAL, errno);
	res.size = sizeof(res);
	res.resp_len = 4;
	ASSERT_EQ(-1, write(self->relay.channel, &res, sizeof(res)));
	ASSERT_EQ(EINVAL, errno);
	relay_stop(&self->relay);
	/* Nothing pending: a non-blocking read says so. */
	self->relay.channel = open(CHANNEL, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->relay.channel);
	ASSERT_EQ(-1, read(self->relay.channel, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	close(self->relay.channel);
	self->relay.channel = -1;
}

/* The guest's stop and the host's unbind at once: one ordered teardown. */
static void *host_unbinds(void *arg)
{
	FIXTURE_DATA(guest) *self = arg;

	return (void *)(intptr_t)tsm_op(self->ext, self->vdev, TEEIO_VDEVICE_TSM_UNBIND);
}

TEST_F(guest, guest_stop_races_host_unbind)
{
	for (int round = 0; round < 3; round++) {
		pthread_t host;
		void *unbound;
		const char *s;

		ASSERT_EQ(0, host_assigns(self, self->offset));
		ASSERT_EQ(0, relay_start(&self->relay));
		ASSERT_EQ(0, guest_locks(self));
		ASSERT_EQ(0, guest_write("accept", "1"));
		ASSERT_EQ(0, write_str(EVENTS, "clear"));
		ASSERT_EQ(0, pthread_create(&host, NULL, host_unbinds, self));
		ASSERT_EQ(0, guest_write("unlock", self->tsm));
		pthread_join(host, &unbound);
		/* The host's unbind ends the binding either way. */
		ASSERT_EQ(0, (int)(intptr_t)unbound);
		s = steps_until("mmio-recover");
		ASSERT_NE(NULL, strstr(s, "CPU mmio-revoke 0")) TH_LOG("%s", s);
		ASSERT_EQ(NULL, strstr(strstr(s, "LAST mmio-recover") + 1, "mmio-revoke"))
			TH_LOG("one teardown: %s", s);
		ASSERT_STREQ("shared", guest_read("state"));
		ASSERT_EQ(TEEIO_TDI_CONFIG_UNLOCKED, tdi_state(BDF));
		relay_stop(&self->relay);
		while (next_event(self->veventq) > 0)
			;
		for (int i = 0; i < MAX_RANGES; i++) {
			if (self->dmabuf[i] >= 0)
				close(self->dmabuf[i]);
			self->dmabuf[i] = -1;
		}
	}
}

TEST_HARNESS_MAIN
