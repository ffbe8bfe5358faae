/* SPDX-License-Identifier: GPL-2.0 */
/* Small wrappers around the ftpage control interface for selftests. */
#ifndef FTP_UTIL_H
#define FTP_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ftpage.h>

/* Open the control node and do the handshake; -1 with errno on failure. */
static inline int ftp_ctl_open(void)
{
	struct ftpage_api api = { .api = FTPAGE_API };
	int fd = open(FTPAGE_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, FTPAGE_IOC_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int ftp_create(int ctl, const char *name, uint64_t size,
			     uint32_t role)
{
	struct ftpage_create c = {
		.name = (uintptr_t)name, .size = size, .role = role,
	};

	return ioctl(ctl, FTPAGE_IOC_CREATE, &c);
}

static inline int ftp_ref_cmd(int ctl, unsigned long cmd, const char *name)
{
	struct ftpage_region_ref ref = { .name = (uintptr_t)name };

	return ioctl(ctl, cmd, &ref);
}

static inline int ftp_destroy(int ctl, const char *name)
{
	return ftp_ref_cmd(ctl, FTPAGE_IOC_DESTROY, name);
}

static inline int ftp_freeze(int ctl, const char *name)
{
	return ftp_ref_cmd(ctl, FTPAGE_IOC_FREEZE, name);
}

static inline int ftp_status(int ctl, const char *name, struct ftpage_status *st)
{
	*st = (struct ftpage_status){ .name = (uintptr_t)name };
	return ioctl(ctl, FTPAGE_IOC_STATUS, st);
}

/* DONE (FTPAGE_FEATURE_LEASE): declare a complete migration done. */
static inline int ftp_done(int ctl, const char *name)
{
	return ftp_ref_cmd(ctl, FTPAGE_IOC_DONE, name);
}

/* Path of a region's node in a caller buffer. */
static inline const char *ftp_node(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, FTPAGE_DEV_DIR "/%s", name);
	return buf;
}

#endif /* FTP_UTIL_H */
