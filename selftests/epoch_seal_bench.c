// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_seal_bench (topology pair): how long COMMIT pauses the caller.
 *
 * The VM is paused only while an epoch is sealed, so the seal must be
 * short (goal: 1 ms for 10,000 dirty pages). For 1,000, 10,000 and 30,000
 * dirty pages of a complete destination, ROUNDS times each: dirty the
 * pages through a mapping, time COMMIT (no wait), then wait until the
 * source applied the epoch. Prints the seal times (min and median) as
 * figures; asserts only what is exact: every epoch holds exactly the
 * pages dirtied, and the source ends equal to the destination. Under TCG
 * absolute times are slow; the ratio between sizes is what tells.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define SRC		"sb-src"
#define DST		"sb-dst"
#define PAGES		30000ULL
#define SIZE		(PAGES * KG_PAGE_SIZE)
#define PORT		7481
#define ROUNDS		3

static const uint64_t sizes[] = { 1000, 10000, 30000 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static bool no_page(uint64_t p)
{
	(void)p;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One size: ROUNDS commits of @n dirty pages; 0 when all were exact. */
static int bench_size(int ctl, volatile uint8_t *map, uint64_t n,
		      uint64_t *epoch)
{
	uint64_t ns[ROUNDS], pages, e, t0;
	struct ftpage_status st;
	int round, bad = 0;
	uint64_t p;

	for (round = 0; round < ROUNDS; round++) {
		for (p = 0; p < n; p++)
			map[p * KG_PAGE_SIZE + round] = (uint8_t)(p + round + 1);
		t0 = now_ns();
		if (ftp_commit(ctl, DST, NULL, 0, 0, &e, &pages))
			return -1;
		ns[round] = now_ns() - t0;
		if (e != ++*epoch || pages != n) {
			tap_diag("epoch %llu holds %llu pages, want epoch %llu, %llu pages",
				 (unsigned long long)e, (unsigned long long)pages,
				 (unsigned long long)*epoch, (unsigned long long)n);
			bad = 1;
		}
		/* the source applied it */
		if (ftp_wait_committed(ctl, SRC, e, 60000, &st))
			return -1;
	}
	qsort(ns, ROUNDS, sizeof(ns[0]), cmp_u64);
	tap_diag("seal of %6llu dirty pages: min %8.3f ms, median %8.3f ms (goal for 10000: 1 ms)",
		 (unsigned long long)n, ns[0] / 1e6, ns[ROUNDS / 2] / 1e6);
	return bad ? -1 : 0;
}

int main(void)
{
	uint8_t *src_img = malloc(SIZE), *dst_img = malloc(SIZE);
	volatile uint8_t *map;
	uint64_t epoch = 0;
	unsigned int i;
	char path[64];
	int ctl, fd, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(6 + sizeof(sizes) / sizeof(sizes[0]));
	if (!src_img || !dst_img)
		tap_skip_all("out of memory");
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();

	/* An all-zero source: nothing allocated until the epochs land. */
	ok = ftp_pair_pull_complete(ctl, SRC, DST, SIZE, 0, no_page, PORT, 0,
				    NULL);
	if (!tap_check(ok, "%llu-page source served, dest pulled it, complete",
		       (unsigned long long)PAGES))
		return tap_finish();
	fd = open(ftp_node(path, sizeof(path), DST), O_RDWR | O_CLOEXEC);
	map = fd < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
					 MAP_SHARED, fd, 0);
	if (!tap_check(map != MAP_FAILED, "map the dest"))
		return tap_finish();

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tap_check(!bench_size(ctl, map, sizes[i], &epoch),
			  "%d epochs of %llu dirty pages, each exactly those pages, applied",
			  ROUNDS, (unsigned long long)sizes[i]);

	ok = !ftp_region_read(DST, dst_img, 0, SIZE) &&
	     !ftp_region_read(SRC, src_img, 0, SIZE);
	tap_check(ok && !ftp_pages_diff(src_img, dst_img, SIZE, "source vs dest", 4),
		  "the source equals the dest after epoch %llu",
		  (unsigned long long)epoch);
	munmap((void *)map, SIZE);
	close(fd);
	return ftp_pair_close(ctl, "epoch_seal_bench", DST, SRC);
}
