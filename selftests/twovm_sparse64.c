// SPDX-License-Identifier: GPL-2.0
/*
 * A sparse 64 GiB region with 1% of its pages written migrates between two
 * 1 GiB VMs: VM a writes runs of 64 pages, 1% of the region (guest memory
 * is touched in clusters; scattered single pages would cost a page table
 * page each), freezes and serves; VM b pulls, the push completes it, and b
 * checks every written page and a sample of the zero pages. Region
 * metadata must stay small for the 655 MiB of data to fit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "ftp_util.h"
#include "tap.h"

#define GIB		(1ULL << 30)
#define SIZE		(64 * GIB)
#define PAGE		4096ULL
#define NPAGES		(SIZE / PAGE)
#define RUN		64		/* pages written in a row ... */
#define STRIDE		6400		/* ... every STRIDE pages: 1% */
#define WRITTEN		((NPAGES + STRIDE - 1) / STRIDE * RUN)	/* tail run fits */
#define NAME		"sparse64"
#define PORT		7411

static uint64_t word(uint64_t page, unsigned int i)
{
	return (page * 0x9E3779B97F4A7C15ULL) ^ (i * 0x100000001B3ULL) ^ 0x5eed;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long mem_available_mib(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb / 1024;
}

/* Poll until the region's state is @want or @secs pass. */
static int wait_state(int ctl, uint32_t want, int secs, struct ftpage_status *st)
{
	double end = now() + secs;

	do {
		if (ftp_status(ctl, NAME, st) == 0 && st->state == want)
			return 1;
		usleep(200000);
	} while (now() < end);
	return 0;
}

static int role_a(int ctl)
{
	struct ftpage_status st;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct ftpage_peer p = { .name = (uintptr_t)NAME, .addr = (uintptr_t)&sin,
				 .addrlen = sizeof(sin),
				 .flags = FTPAGE_SERVE_INSECURE };
	uint64_t pg, *w;
	double t0;
	unsigned int i;
	int fd, ok;

	tap_plan(6);
	tap_ok_call(ftp_create(ctl, NAME, SIZE, FTPAGE_ROLE_SOURCE), "create 64 GiB source");
	fd = open("/dev/ftpage/" NAME, O_RDWR);
	w = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!tap_check(w != MAP_FAILED, "map 64 GiB"))
		return tap_finish();
	t0 = now();
	for (pg = 0; pg < NPAGES; pg++)
		for (i = 0; pg % STRIDE < RUN && i < PAGE / 8; i++)
			w[pg * (PAGE / 8) + i] = word(pg, i);
	tap_diag("wrote %llu pages in %.1f s, MemAvailable %ld MiB",
		 (unsigned long long)WRITTEN, now() - t0, mem_available_mib());
	ftp_status(ctl, NAME, &st);
	tap_check(st.pages_present == WRITTEN, "source holds %llu pages (want %llu)",
		  (unsigned long long)st.pages_present, (unsigned long long)WRITTEN);
	tap_ok_call(ftp_freeze(ctl, NAME), "freeze");
	inet_pton(AF_INET, "10.78.0.1", &sin.sin_addr);
	tap_ok_call(ioctl(ctl, FTPAGE_IOC_SERVE, &p), "serve on 10.78.0.1");
	/* b pulls and the push completes it; the source learns it. */
	ok = wait_state(ctl, FTPAGE_STATE_COMPLETE, 400, &st);
	tap_check(ok && st.pages_pushed + st.pages_served + st.zero_pages >= NPAGES,
		  "source sees the destination complete (pushed %llu, zero %llu)",
		  (unsigned long long)st.pages_pushed, (unsigned long long)st.zero_pages);
	munmap(w, SIZE);
	close(fd);
	/* Stay up until b has checked its copy. */
	sleep(20);
	return tap_finish();
}

static int role_b(int ctl)
{
	struct ftpage_status st;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct ftpage_peer p = { .name = (uintptr_t)NAME, .addr = (uintptr_t)&sin,
				 .addrlen = sizeof(sin),
				 .flags = FTPAGE_PULL_INSECURE };
	uint64_t pg, bad = 0, zbad = 0, buf[PAGE / 8];
	const uint64_t *w;
	double t0, end;
	unsigned int i;
	int fd, ok, ret = -1;

	tap_plan(9);
	tap_ok_call(ftp_create(ctl, NAME, SIZE, FTPAGE_ROLE_DEST), "create 64 GiB dest");
	inet_pton(AF_INET, "10.78.0.1", &sin.sin_addr);
	/* a may not serve yet: retry for a while. */
	end = now() + 200;
	while (now() < end && (ret = ioctl(ctl, FTPAGE_IOC_PULL, &p)))
		sleep(1);
	if (!tap_check(ret == 0, "pull from 10.78.0.1"))
		return tap_finish();
	t0 = now();
	ok = wait_state(ctl, FTPAGE_STATE_COMPLETE, 300, &st);
	tap_check(ok, "complete by the push in %.1f s", now() - t0);
	tap_diag("rx %llu MiB, pushed %llu, zero %llu, MemAvailable %ld MiB",
		 (unsigned long long)(st.bytes_rx >> 20),
		 (unsigned long long)st.pages_pushed,
		 (unsigned long long)st.zero_pages, mem_available_mib());
	tap_check(st.pages_present == WRITTEN && st.pages_known == NPAGES,
		  "present %llu (want %llu), known %llu of %llu",
		  (unsigned long long)st.pages_present, (unsigned long long)WRITTEN,
		  (unsigned long long)st.pages_known, (unsigned long long)NPAGES);
	tap_check(st.zero_pages >= NPAGES - WRITTEN && st.bytes_rx < 2 * WRITTEN * PAGE,
		  "zero pages travel small: %llu zero pages, %llu bytes received",
		  (unsigned long long)st.zero_pages, (unsigned long long)st.bytes_rx);

	fd = open("/dev/ftpage/" NAME, O_RDONLY);
	w = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (!tap_check(w != MAP_FAILED, "map 64 GiB read-only"))
		return tap_finish();
	for (pg = 0; pg < NPAGES; pg++)
		for (i = 0; pg % STRIDE < RUN && i < PAGE / 8; i++)
			if (w[pg * (PAGE / 8) + i] != word(pg, i)) {
				bad++;
				break;
			}
	tap_check(bad == 0, "all %llu written pages match (%llu bad)",
		  (unsigned long long)WRITTEN, (unsigned long long)bad);
	/* Zero pages through pread: no allocation for them. */
	for (pg = 37; pg < NPAGES; pg += 997) {
		if (pg % STRIDE < RUN)
			continue;
		if (pread(fd, buf, PAGE, pg * PAGE) != (ssize_t)PAGE) {
			zbad++;
			continue;
		}
		for (i = 0; i < PAGE / 8; i++)
			if (buf[i]) {
				zbad++;
				break;
			}
	}
	ftp_status(ctl, NAME, &st);
	tap_check(zbad == 0 && st.pages_present == WRITTEN,
		  "sampled zero pages read zero without allocating (%llu bad, present %llu)",
		  (unsigned long long)zbad, (unsigned long long)st.pages_present);
	munmap((void *)w, SIZE);
	close(fd);
	tap_ok_call(ftp_destroy(ctl, NAME), "destroy");
	return tap_finish();
}

int main(void)
{
	const char *role = getenv("FTP_ROLE");
	int ctl = ftp_ctl_open();

	if (ctl < 0) {
		printf("TAP version 13\n1..1\nnot ok 1 control node: %s\n", strerror(errno));
		return 1;
	}
	return role && !strcmp(role, "b") ? role_b(ctl) : role_a(ctl);
}
