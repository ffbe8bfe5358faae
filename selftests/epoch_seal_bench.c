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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Wait until the source applied @epoch. */
static int wait_applied(int ctl, uint64_t epoch)
{
	struct ftpage_status st;
	uint64_t end = ftp_now_ms() + 60000;

	for (;;) {
		if (ftp_status(ctl, SRC, &st))
			return -1;
		if (st.committed_epoch >= epoch)
			return 0;
		if (ftp_now_ms() >= end)
			return -1;
		ftp_sleep_ms(20);
	}
}

/* One size: ROUNDS commits of @n dirty pages; 0 when all were exact. */
static int bench_size(int ctl, volatile uint8_t *map, uint64_t n,
		      uint64_t *epoch)
{
	uint64_t ns[ROUNDS], pages, e, t0;
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
		if (wait_applied(ctl, e))
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
	struct ftpage_status st;
	volatile uint8_t *map;
	uint64_t epoch = 0;
	unsigned int i;
	char path[64];
	int ctl, fd, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(6 + sizeof(sizes) / sizeof(sizes[0]));
	if (!src_img || !dst_img)
		tap_skip_all("out of memory");
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();

	/* An all-zero source: nothing allocated until the epochs land. */
	ok = !ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE) &&
	     !ftp_freeze(ctl, SRC) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0) &&
	     !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST) &&
	     !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT);
	ftp_netns_enter(NULL);
	ok = ok && !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &st);
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
	tap_check(ftp_kmsg_clean("epoch_seal_bench"), "no kernel warning");
	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC),
		  "destroy both regions");
	ftp_pair_teardown();
	return tap_finish();
}
