/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kselftests of the host TSM bridge and the iommufd
 * TSM extension: sysfs and test-hook commands, the emulated platform TSM's
 * view of a TDI, and the IOASID core's event log.
 */
#ifndef TEEIO_TSM_UTIL_H
#define TEEIO_TSM_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/teeio_tsm.h>

#include "teeio_test_util.h"

#define HOOK "/sys/kernel/debug/teeio_tsm_test"
#define EVENTS "/sys/kernel/debug/teeio_ioasid/events"

/* Platform TSM status codes (include/teeio/tsm_fw.h). */
#define TSM_ERR_FAILED -1
#define TSM_ERR_DENIED -4
#define TSM_ERR_INVALID_ADDRESS -5
#define TSM_ERR_ALREADY_AVAILABLE -6
#define TSM_ERR_INVALID_STATE -10

static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The host TSM stack over the emulated platform, in dependency order: the
 * IOASID core, the emulated TDISP devices @bdfs ("bdfs=..."), the emulated
 * TSM, the bridge and the test hooks. 0 or the first -errno.
 */
static inline int load_tsm_stack(const char *bdfs)
{
	return teeio_load_module("teeio_ioasid") ?:
	       teeio_load_module_params("teeio_tdisp_emu", bdfs) ?:
	       teeio_load_module("teeio_tsm_emu") ?:
	       teeio_load_module("teeio_tsm_bridge") ?:
	       teeio_load_module("teeio_tsm_test");
}

/* One test-hook command; 0 or -errno. */
static inline int hook(const char *fmt, ...)
{
	char cmd[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return write_str(HOOK "/control", cmd);
}

/* The last hook command's outcome: rc, tsm_code and up to @max bytes. */
struct outcome {
	long rc;
	long long tsm_code;
	size_t len;
	uint8_t data[4096];
};

static inline int result(struct outcome *o)
{
	static char buf[16384];
	char *hex;

	if (teeio_read_file(HOOK "/result", buf, sizeof(buf)) < 0)
		return -EIO;
	if (sscanf(buf, "rc=%ld tsm_code=%lld len=%zu", &o->rc, &o->tsm_code, &o->len) != 3)
		return -EIO;
	hex = strchr(buf, '\n');
	for (size_t i = 0; hex && i < o->len && i < sizeof(o->data); i++)
		sscanf(hex + 1 + 2 * i, "%2hhx", &o->data[i]);
	return 0;
}

/* Host view of the TDI's TDISP state, or -errno. */
static inline int tdi_state(const char *bdf)
{
	struct outcome o;
	int ret = hook("state %s", bdf);

	if (ret)
		return ret;
	return result(&o) ?: (int)o.rc;
}

static inline int connect(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/tsm/connect", bdf);
	return write_str(path, "tsm0");
}

static inline int disconnect(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/tsm/disconnect", bdf);
	return write_str(path, "tsm0");
}

/*
 * The deferred steps and reclaims in the IOASID event log, in order, as
 * "EVENT PRIO name rc" lines (reclaims as "reclaim"), joined by ", ".
 */
static inline const char *steps(void)
{
	static char log[65536], out[4096];
	char *line, *save;

	out[0] = '\0';
	if (teeio_read_file(EVENTS, log, sizeof(log)) < 0)
		return "(no event log)";
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ev[16], prio[16], name[32], phase[16], item[96];
		int rc = 0;

		if (sscanf(line, "%*u %15s set=%*u ioasid=%*u %15s %31s %15s rc=%d",
			   ev, prio, name, phase, &rc) < 4)
			continue;
		if (!strcmp(phase, "reclaim"))
			snprintf(item, sizeof(item), "reclaim");
		else if (!strcmp(phase, "deferred") || !strcmp(phase, "inline"))
			snprintf(item, sizeof(item), "%s %s %s %d", ev, prio, name, rc);
		else
			continue;
		if (out[0])
			strncat(out, ", ", sizeof(out) - strlen(out) - 1);
		strncat(out, item, sizeof(out) - strlen(out) - 1);
	}
	return out;
}

/* The log's steps once they include @last (teardown runs on a queue). */
static inline const char *steps_until(const char *last)
{
	const char *s = steps();

	for (int i = 0; i < 200 && !strstr(s, last); i++) {
		usleep(10000);
		s = steps();
	}
	return s;
}

/* The four steps in order, each succeeding. */
#define ORDERED(ev)                                                        \
	ev " CPU stage2-unmap 0, " ev " DEVICE tdi-stop 0, "                   \
	ev " IOMMU trusted-dma-detach 0, " ev " LAST tdi-free 0"

/*
 * The same when the IOASID was freed: LAST puts its last reference, which
 * reclaims the IOASID before the step's own record (written on return).
 */
#define ORDERED_FREED(ev)                                                  \
	ev " CPU stage2-unmap 0, " ev " DEVICE tdi-stop 0, "                   \
	ev " IOMMU trusted-dma-detach 0, reclaim, " ev " LAST tdi-free 0"

/*
 * MMIO range @i of a TDISP interface report: its first page's address and
 * its page count (not read when @addr is NULL). Returns the number of
 * ranges, or -EIO for a short report.
 */
static inline int report_range(const uint8_t *report, size_t len, uint32_t i,
			uint64_t *addr, uint32_t *pages)
{
	uint32_t count;

	if (len < 16)
		return -EIO;
	memcpy(&count, report + 12, 4);
	if (addr && i < count) {
		if (len < 16 + 16 * (size_t)(i + 1))
			return -EIO;
		memcpy(addr, report + 16 + 16 * i, 8);
		memcpy(pages, report + 24 + 16 * i, 4);
	}
	return count;
}

#endif /* TEEIO_TSM_UTIL_H */
