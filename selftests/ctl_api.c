// SPDX-License-Identifier: GPL-2.0
/*
 * The control interface: handshake first, error codes for bad input,
 * region nodes (size via lseek/fstat, MAP_PRIVATE refused, bounds),
 * freeze refusing writes with SIGBUS, destroy, and the region limit.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ftp_util.h"
#include "tap.h"

#define MIB (1ULL << 20)

static int raw_ctl_open(void)
{
	return open(FTPAGE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
}

static void test_handshake(void)
{
	struct ftpage_api api = { .api = FTPAGE_API };
	struct ftpage_status st = { .name = (uintptr_t)"x" };
	int fd = raw_ctl_open();

	if (!tap_ok_call(fd, "open " FTPAGE_CONTROL_PATH))
		exit(tap_finish());

	tap_errno(ioctl(fd, FTPAGE_IOC_STATUS, &st), EINVAL,
		  "STATUS before API");
	tap_errno(ioctl(fd, _IOWR(FTPAGE_IOC_MAGIC, 0x3f, struct ftpage_api), &api),
		  ENOTTY, "unknown ioctl number");
	tap_errno(ioctl(fd, 0x5401 /* TCGETS */, &api), ENOTTY,
		  "foreign ioctl (TCGETS)");

	api = (struct ftpage_api){ .api = FTPAGE_API + 1 };
	tap_errno(ioctl(fd, FTPAGE_IOC_API, &api), EINVAL, "API version 2");
	api = (struct ftpage_api){ .api = FTPAGE_API, .flags = 1 };
	tap_errno(ioctl(fd, FTPAGE_IOC_API, &api), EINVAL, "API unknown flag");
	api = (struct ftpage_api){ .api = FTPAGE_API, .features = 1ULL << 63 };
	tap_errno(ioctl(fd, FTPAGE_IOC_API, &api), EINVAL, "API unknown feature");
	api = (struct ftpage_api){ .api = FTPAGE_API };
	api.reserved[4] = 1;
	tap_errno(ioctl(fd, FTPAGE_IOC_API, &api), EINVAL, "API reserved non-zero");

	api = (struct ftpage_api){ .api = FTPAGE_API };
	tap_ok_call(ioctl(fd, FTPAGE_IOC_API, &api), "API handshake");
	tap_check(api.api == FTPAGE_API && api.features == FTPAGE_FEATURES_ALL &&
		  (api.ioctls & (1ULL << _IOC_NR(FTPAGE_IOC_CREATE))) &&
		  (api.ioctls & (1ULL << _IOC_NR(FTPAGE_IOC_STATUS))),
		  "API answers version %u features 0x%llx ioctls 0x%llx",
		  api.api, (unsigned long long)api.features,
		  (unsigned long long)api.ioctls);
	tap_errno(ioctl(fd, FTPAGE_IOC_API, &api), EINVAL, "second API on a file");
	tap_errno(ioctl(fd, FTPAGE_IOC_STATUS, &st), ENOENT,
		  "STATUS of a missing region after API");
	close(fd);
}

static void test_create_errors(int ctl)
{
	struct ftpage_create c = { .name = (uintptr_t)"c1", .size = MIB,
				   .role = FTPAGE_ROLE_SOURCE };
	static const char *const bad_names[] = {
		"", "a/b", ".hidden", "control", "sp ace", "x\n",
	};
	struct ftpage_status st;
	unsigned int i;

	c.flags = 1;
	tap_errno(ioctl(ctl, FTPAGE_IOC_CREATE, &c), EINVAL, "create unknown flag");
	c.flags = 0;
	c.reserved[3] = 7;
	tap_errno(ioctl(ctl, FTPAGE_IOC_CREATE, &c), EINVAL, "create reserved non-zero");
	c.reserved[3] = 0;
	c.name = 1;
	tap_errno(ioctl(ctl, FTPAGE_IOC_CREATE, &c), EFAULT, "create bad name pointer");

	tap_errno(ftp_create(ctl, "c1", 0, FTPAGE_ROLE_SOURCE), EINVAL, "size 0");
	tap_errno(ftp_create(ctl, "c1", 4095, FTPAGE_ROLE_SOURCE), EINVAL, "size 4095");
	tap_errno(ftp_create(ctl, "c1", MIB + 512, FTPAGE_ROLE_SOURCE), EINVAL,
		  "size not page multiple");
	tap_errno(ftp_create(ctl, "c1", FTPAGE_SIZE_MAX + 4096, FTPAGE_ROLE_SOURCE),
		  EINVAL, "size above FTPAGE_SIZE_MAX");
	tap_errno(ftp_create(ctl, "c1", MIB, 0), EINVAL, "role 0");
	tap_errno(ftp_create(ctl, "c1", MIB, 3), EINVAL, "role 3");
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		tap_errno(ftp_create(ctl, bad_names[i], MIB, FTPAGE_ROLE_SOURCE),
			  EINVAL, "bad name");
	tap_errno(ftp_create(ctl, "0123456789012345678901234567890123",
			     MIB, FTPAGE_ROLE_SOURCE), ENAMETOOLONG, "name too long");
	tap_errno(ftp_status(ctl, "c1", &st), ENOENT, "no region left behind");
}

/* Run @fn in a child; return the signal that killed it, 0 if it exited. */
static int child_signal(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void write_first_byte(void *p)
{
	*(volatile char *)p = 0x5a;
}

static void read_first_byte(void *p)
{
	(void)*(volatile char *)p;
}

static void test_region_node(int ctl)
{
	const uint64_t size = 8 * MIB;
	struct ftpage_status st;
	char path[64];
	struct stat sb;
	unsigned char *p, *q;
	int fd;

	tap_ok_call(ftp_create(ctl, "n1", size, FTPAGE_ROLE_SOURCE), "create n1 8 MiB");
	tap_errno(ftp_create(ctl, "n1", size, FTPAGE_ROLE_SOURCE), EEXIST,
		  "create duplicate name");
	fd = open(ftp_node(path, sizeof(path), "n1"), O_RDWR);
	if (!tap_ok_call(fd, "open /dev/ftpage/n1"))
		return;
	tap_check(lseek(fd, 0, SEEK_END) == (off_t)size, "lseek(SEEK_END) is the size");
	tap_check(fstat(fd, &sb) == 0 && sb.st_size == (off_t)size,
		  "fstat st_size is the size");
	tap_check(lseek(fd, 1, SEEK_END) < 0, "lseek past the end refused");

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap_check(p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE -> EINVAL");
	p = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, size - 4096);
	tap_check(p == MAP_FAILED && errno == EINVAL, "mapping past the end -> EINVAL");

	/* Two mappings (one at an offset) share the pages. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096 * 7);
	if (!tap_check(p != MAP_FAILED && q != MAP_FAILED, "MAP_SHARED at 0 and at page 7"))
		return;
	tap_check(p[4096 * 7 + 5] == 0, "untouched page reads zero");
	p[4096 * 7 + 5] = 0xab;
	tap_check(q[5] == 0xab, "write through one mapping seen by the other");
	{
		unsigned char b = 0;

		tap_check(pread(fd, &b, 1, 4096 * 7 + 5) == 1 && b == 0xab,
			  "pread sees the mapped write");
		b = 0xcd;
		tap_check(pwrite(fd, &b, 1, 4096 * 9) == 1 && p[4096 * 9] == 0xcd,
			  "pwrite seen by the mapping");
	}
	tap_ok_call(ftp_status(ctl, "n1", &st), "status n1");
	tap_check(st.role == FTPAGE_ROLE_SOURCE && st.state == FTPAGE_STATE_LOCAL &&
		  st.size == size && st.pages_total == size / 4096 &&
		  st.pages_present == 2 && st.zero_fills == 2 && st.openers == 1,
		  "status: role %u state %u present %llu zero_fills %llu openers %u",
		  st.role, st.state, (unsigned long long)st.pages_present,
		  (unsigned long long)st.zero_fills, st.openers);

	/* Freeze: content final, writes refused with SIGBUS / EPERM. */
	tap_ok_call(ftp_freeze(ctl, "n1"), "freeze n1");
	tap_errno(ftp_freeze(ctl, "n1"), EALREADY, "freeze twice");
	tap_check(child_signal(write_first_byte, p + 4096 * 7) == SIGBUS,
		  "write to a mapped page of a frozen region -> SIGBUS");
	tap_check(child_signal(write_first_byte, p + 4096 * 100) == SIGBUS,
		  "write to an untouched page of a frozen region -> SIGBUS");
	tap_check(child_signal(read_first_byte, p + 4096 * 7) == 0 && q[5] == 0xab,
		  "frozen region still readable, content kept");
	{
		unsigned char b = 1;

		tap_errno(pwrite(fd, &b, 1, 0), EPERM, "pwrite to frozen region");
	}
	ftp_status(ctl, "n1", &st);
	tap_check(st.state == FTPAGE_STATE_FROZEN && st.refused_writes >= 3,
		  "status frozen, refused_writes %llu",
		  (unsigned long long)st.refused_writes);

	/* Destroy while mapped: the node goes, the mapping gets SIGBUS. */
	tap_ok_call(ftp_destroy(ctl, "n1"), "destroy n1 while mapped");
	tap_check(access(path, F_OK) != 0, "node gone after destroy");
	tap_check(child_signal(read_first_byte, p + 4096 * 3) == SIGBUS,
		  "touching a destroyed region -> SIGBUS");
	tap_errno(ftp_destroy(ctl, "n1"), ENOENT, "destroy twice");
	tap_ok_call(ftp_create(ctl, "n1", size, FTPAGE_ROLE_SOURCE),
		    "name reusable while the old region is still mapped");
	tap_ok_call(ftp_destroy(ctl, "n1"), "destroy the new n1");
	munmap(p, size);
	munmap(q, 4096);
	close(fd);
}

static void test_dest_role(int ctl)
{
	struct ftpage_status st;

	/* Sparse: a 1 TiB region costs a bitmap, not memory per page. */
	tap_ok_call(ftp_create(ctl, "t1", 1ULL << 40, FTPAGE_ROLE_SOURCE),
		    "create a 1 TiB source");
	tap_ok_call(ftp_create(ctl, "t2", 1ULL << 40, FTPAGE_ROLE_DEST),
		    "create a 1 TiB dest");
	tap_check(!ftp_status(ctl, "t2", &st) && st.pages_total == (1ULL << 28) &&
		  st.state == FTPAGE_STATE_EMPTY && st.pages_present == 0,
		  "1 TiB dest: %llu pages, state %u", (unsigned long long)st.pages_total,
		  st.state);
	tap_check(!ftp_destroy(ctl, "t1") && !ftp_destroy(ctl, "t2"),
		  "destroy the 1 TiB regions");
	tap_ok_call(ftp_create(ctl, "d1", MIB, FTPAGE_ROLE_DEST), "create dest d1");
	tap_errno(ftp_freeze(ctl, "d1"), EINVAL, "freeze a dest region");
	tap_ok_call(ftp_destroy(ctl, "d1"), "destroy d1");
}

static void test_limit(int ctl)
{
	unsigned int max = 0, i, made = 0;
	char name[32];
	FILE *f = fopen("/sys/module/ftpage/parameters/max_regions", "r");

	if (f && fscanf(f, "%u", &max) != 1)
		max = 0;
	if (f)
		fclose(f);
	if (!tap_check(max > 0, "max_regions readable (%u)", max))
		return;
	for (i = 0; i < max; i++) {
		snprintf(name, sizeof(name), "lim%u", i);
		if (ftp_create(ctl, name, 4096, FTPAGE_ROLE_SOURCE))
			break;
		made++;
	}
	tap_check(made == max, "created max_regions (%u) regions", made);
	tap_errno(ftp_create(ctl, "one-too-many", 4096, FTPAGE_ROLE_SOURCE),
		  ENOSPC, "region beyond max_regions");
	for (i = 0; i < made; i++) {
		snprintf(name, sizeof(name), "lim%u", i);
		ftp_destroy(ctl, name);
	}
	tap_check(access("/dev/ftpage/lim0", F_OK) != 0, "all limit regions gone");
}

int main(void)
{
	int ctl;

	tap_plan(69);
	test_handshake();
	ctl = ftp_ctl_open();
	if (!tap_ok_call(ctl, "second control open + API"))
		return tap_finish();
	test_create_errors(ctl);
	test_region_node(ctl);
	test_dest_role(ctl);
	test_limit(ctl);
	close(ctl);
	return tap_finish();
}
