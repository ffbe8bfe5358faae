// SPDX-License-Identifier: GPL-2.0
/*
 * remote_pread (topology pair): pread of a destination while the push is
 * still filling it returns exactly the source's bytes.
 *
 * Regression test: a read that missed the page cache and then saw the page
 * marked known (the push had just installed it) returned zeroes instead of
 * the page. Each round pulls a fresh destination from a fresh source (a
 * source serves one destination for the migration's life) and has READERS
 * threads read it page by page in different orders, racing the push,
 * comparing every page with the source's; then the whole region's digest.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(32 * MIB)
#define PAGES		(SIZE / 4096)
#define SEED		0x9eadbeef
#define PORT		7431
#define ROUNDS		4
#define READERS		4

struct reader {
	pthread_t tid;
	const char *dst;
	unsigned int stride;	/* odd: a permutation of PAGES (a power of 2) */
	uint64_t bad;
	int err;
};

static int src_fd;

static void *reader(void *arg)
{
	struct reader *rd = arg;
	char want[4096], got[4096];
	char path[64];
	uint64_t i, p;
	int fd;

	fd = open(ftp_node(path, sizeof(path), rd->dst), O_RDONLY);
	if (fd < 0) {
		rd->err = errno;
		return NULL;
	}
	for (i = 0; i < PAGES; i++) {
		p = (i * rd->stride) % PAGES;
		if (pread(src_fd, want, 4096, p * 4096) != 4096 ||
		    pread(fd, got, 4096, p * 4096) != 4096) {
			rd->err = errno ? errno : EIO;
			break;
		}
		if (memcmp(want, got, 4096))
			rd->bad++;
	}
	close(fd);
	return NULL;
}

/* Data pages in runs of 16 with gaps of 16 zero pages. */
static bool every_other_run(uint64_t p)
{
	return !((p / 16) & 1);
}

/* A source with every other run of pages written, frozen and served. */
static int source_up(int ctl, struct ftp_digest *ds)
{
	memset(ds, 0, sizeof(*ds));
	if (ftp_create(ctl, "pr-src", SIZE, FTPAGE_ROLE_SOURCE) ||
	    ftp_fill_pattern("pr-src", SIZE, SEED, every_other_run) != PAGES / 2 ||
	    ftp_freeze(ctl, "pr-src") ||
	    ftp_region_digest("pr-src", SIZE, SEED, ds) ||
	    ds->nonzero_pages != PAGES / 2)
		return -1;
	ftp_netns_enter(FTP_PAIR_A_NS);
	if (ftp_serve(ctl, "pr-src", FTP_PAIR_A_ADDR, PORT, 0)) {
		ftp_netns_enter(NULL);
		return -1;
	}
	ftp_netns_enter(NULL);
	src_fd = open("/dev/ftpage/pr-src", O_RDONLY);
	return src_fd < 0 ? -1 : 0;
}

int main(void)
{
	struct ftp_digest ds, dd;
	struct ftpage_status st;
	char dst[32];
	int ctl, round;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(2 + 5 * ROUNDS);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	for (round = 0; round < ROUNDS; round++) {
		struct reader rd[READERS];
		uint64_t bad = 0;
		int i, err = 0;

		if (!tap_check(!source_up(ctl, &ds), "round %d: source pr-src filled "
			       "(%llu data pages), frozen, served", round,
			       (unsigned long long)ds.nonzero_pages))
			break;
		snprintf(dst, sizeof(dst), "pr-dst%d", round);
		ftp_create(ctl, dst, SIZE, FTPAGE_ROLE_DEST);
		ftp_netns_enter(FTP_PAIR_B_NS);
		if (!tap_call(ftp_pull(ctl, dst, "pr-src", FTP_PAIR_A_ADDR, PORT),
			      "round %d: pull", round))
			break;
		ftp_netns_enter(NULL);
		/* Read at once: most pages arrive by the push while we read. */
		for (i = 0; i < READERS; i++) {
			rd[i] = (struct reader){ .dst = dst, .stride = 1 + 2 * i * (i + 1) };
			pthread_create(&rd[i].tid, NULL, reader, &rd[i]);
		}
		for (i = 0; i < READERS; i++) {
			pthread_join(rd[i].tid, NULL);
			bad += rd[i].bad;
			err = err ?: rd[i].err;
		}
		tap_check(!err && !bad,
			  "round %d: %d readers racing the push saw %llu wrong pages (%s)",
			  round, READERS, (unsigned long long)bad, strerror(err));
		memset(&dd, 0, sizeof(dd));
		err = ftp_region_digest(dst, SIZE, SEED, &dd);
		tap_check(!err && dd.hash == ds.hash &&
			  dd.nonzero_pages == ds.nonzero_pages,
			  "round %d: then the whole region equals the source (%llu/%llu data pages)",
			  round, (unsigned long long)dd.nonzero_pages,
			  (unsigned long long)ds.nonzero_pages);
		ftp_wait_state(ctl, dst, FTPAGE_STATE_COMPLETE, 30000, &st);
		ftp_status_diag(dst, &st);
		close(src_fd);
		tap_check(!ftp_destroy(ctl, "pr-src") && !ftp_destroy(ctl, dst),
			  "round %d: destroy source and dest", round);
	}
	ftp_netns_enter(NULL);
	ftp_pair_teardown();
	return tap_finish();
}
