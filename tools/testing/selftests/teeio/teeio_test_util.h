/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the teeio kselftests: loading and unloading the project's
 * modules, and reading sysfs / debugfs files.
 */
#ifndef TEEIO_TEST_UTIL_H
#define TEEIO_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where the test machine keeps the teeio modules. */
#define TEEIO_MODULE_DIR "/lib/modules/teeio"

/* Loads module @name with @params; returns 0 or -errno. */
static inline int teeio_load_module_params(const char *name, const char *params)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), TEEIO_MODULE_DIR "/%s.ko", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Loads module @name; returns 0 or -errno. */
static inline int teeio_load_module(const char *name)
{
	return teeio_load_module_params(name, "");
}

/* Unloads module @name; returns 0 or -errno. */
static inline int teeio_unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/*
 * Reads up to @size - 1 bytes of @path into @buf, NUL-terminated.
 * Returns the length read or -errno.
 */
static inline ssize_t teeio_read_file(const char *path, char *buf, size_t size)
{
	ssize_t len = 0, n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len < (ssize_t)size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

#endif /* TEEIO_TEST_UTIL_H */
