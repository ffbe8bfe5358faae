// SPDX-License-Identifier: GPL-2.0
/*
 * rmmod while regions exist: refused while a region file or mapping or
 * the control node is open (the data stays intact), clean teardown of
 * regions nobody has open. Manages the module itself (noload).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ftp_util.h"
#include "tap.h"

#define SIZE (4u << 20)

static int sh(const char *cmd)
{
	return system(cmd);
}

static int loaded(void)
{
	struct stat sb;

	return stat("/sys/module/ftpage", &sb) == 0;
}

static uint32_t word_at(unsigned int i)
{
	return i * 2654435761u ^ 0x5eed;
}

static int pattern_ok(const uint32_t *p)
{
	unsigned int i;

	for (i = 0; i < SIZE / 4; i += 1024 + 1)
		if (p[i] != word_at(i))
			return 0;
	return 1;
}

int main(void)
{
	struct ftpage_status st;
	uint32_t *p;
	unsigned int i;
	int ctl, fd;

	tap_plan(16);
	if (loaded())
		sh("rmmod ftpage");
	if (!tap_check(sh("insmod /lib/ftpage/ftpage.ko") == 0, "insmod"))
		return tap_finish();

	ctl = ftp_ctl_open();
	tap_ok_call(ftp_create(ctl, "busy", SIZE, FTPAGE_ROLE_SOURCE), "create busy");
	tap_ok_call(ftp_create(ctl, "idle", SIZE, FTPAGE_ROLE_SOURCE), "create idle");
	fd = open("/dev/ftpage/busy", O_RDWR);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!tap_check(fd >= 0 && p != MAP_FAILED, "open and map busy"))
		return tap_finish();
	for (i = 0; i < SIZE / 4; i++)
		p[i] = word_at(i);

	tap_check(sh("rmmod ftpage 2>/dev/null") != 0 && loaded(),
		  "rmmod refused with the control node open");
	close(ctl);
	tap_check(sh("rmmod ftpage 2>/dev/null") != 0 && loaded(),
		  "rmmod refused with a region open and mapped");
	close(fd);
	tap_check(sh("rmmod ftpage 2>/dev/null") != 0 && loaded(),
		  "rmmod refused with a region mapped (fd closed)");
	tap_check(pattern_ok(p), "data intact after refused rmmods");
	munmap(p, SIZE);

	tap_check(sh("rmmod ftpage") == 0 && !loaded(),
		  "rmmod with two regions nobody has open");
	tap_check(access("/dev/ftpage", F_OK) != 0, "all nodes gone");

	tap_check(sh("insmod /lib/ftpage/ftpage.ko") == 0, "insmod again");
	ctl = ftp_ctl_open();
	tap_errno(ftp_status(ctl, "busy", &st), ENOENT, "no region survived rmmod");
	tap_ok_call(ftp_create(ctl, "busy", SIZE, FTPAGE_ROLE_SOURCE),
		    "name free again");
	fd = open("/dev/ftpage/busy", O_RDONLY);
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	tap_check(p != MAP_FAILED && p[12345] == 0, "new region reads zero");
	munmap(p, SIZE);
	close(fd);
	close(ctl);
	tap_check(sh("rmmod ftpage") == 0 && !loaded(), "final rmmod");
	tap_check(sh("dmesg | grep -q 'ftpage: unloaded'") == 0,
		  "module logged its unload");
	return tap_finish();
}
