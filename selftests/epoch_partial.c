// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_partial (topology pair): a rollback never applies part of an
 * epoch.
 *
 * Each round builds a fresh pair: a 16 MiB source filled with the kg
 * pattern (its own seed), frozen, served with push; a dest pulled to
 * complete.
 * Round 0 (epoch 0): the dest writes 300 pages but never commits; ROLLBACK
 * gives back the frozen image exactly, committed_epoch 0, an empty
 * checkpoint of epoch 0.
 * Rounds 1..6: epoch 1 re-stamps every third page (pwrite) with a 64 KiB
 * blob and commits with FTPAGE_COMMIT_WAIT; epoch 2 re-stamps all 4096
 * pages (mmap) with a 1 MiB blob and commits WITHOUT wait; then the source
 * is rolled back -- at once (rounds 1, 2), as soon as the source reports
 * any of epoch 2 received (3), once it staged all its pages (4, close to
 * the apply), after 30 ms of further dest writes (5), or once the dest saw
 * epoch 2 acknowledged (6, writing every 16th page meanwhile, so a missing
 * copy-before-write shows). Whatever committed_epoch c
 * the source reports afterwards (1 or 2; 2 in round 6), every page of the
 * source equals the dest's image at commit c and CHECKPOINT returns blob c
 * -- never a mix.
 * Round 7: served without push, the dest still pulling: 8-byte pwrites
 * into every 7th page (each fetched first), commit with wait, rollback:
 * the source is the pattern plus exactly those writes.
 * The dest's link goes down each time and the dest, reconnecting, is told
 * of the rollback and abandoned; no kernel warning.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x9a27a100
#define PORT		7471
#define BLOB1_LEN	(64 * 1024)
#define BLOB2_LEN	(1 * MIB)
#define NROUNDS		6	/* after round 0 */

enum when { AT_ONCE, ON_RECEIVE, ON_STAGED, AFTER_DELAY, AFTER_ACK };
static const char *const when_str[] = {
	[AT_ONCE] = "at once", [ON_RECEIVE] = "as epoch 2 arrives",
	[ON_STAGED] = "once its pages are staged",
	[AFTER_DELAY] = "after 30 ms of writes", [AFTER_ACK] = "after the ack",
};
static const enum when rounds[NROUNDS] = {
	AT_ONCE, AT_ONCE, ON_RECEIVE, ON_STAGED, AFTER_DELAY, AFTER_ACK,
};

static int ctl;
static uint8_t *img[3], *scratch, *blob[3];

/* A whole page of words naming epoch, round, page and word. */
static void stamp(uint8_t *page, uint64_t epoch, uint64_t round, uint64_t p)
{
	uint64_t *wd = (uint64_t *)page, i;

	for (i = 0; i < KG_PAGE_SIZE / 8; i++)
		wd[i] = epoch << 56 | round << 48 | p << 20 | i;
}

/* A fresh pair, dest complete; image 0 is the source's pattern. */
static bool pair_up(int r, char *src, char *dst, bool push)
{
	struct ftpage_status sd;
	uint64_t p, t0;
	bool ok;

	sprintf(src, "pa-s%d", r);
	sprintf(dst, "pa-d%d", r);
	for (p = 0; p < PAGES; p++)
		kg_pattern_fill(img[0] + p * KG_PAGE_SIZE, (uint32_t)p, SEED + r);
	if (ftp_create(ctl, src, SIZE, FTPAGE_ROLE_SOURCE) ||
	    ftp_fill_pattern(src, SIZE, SEED + r, NULL) != (int64_t)PAGES ||
	    ftp_freeze(ctl, src) || ftp_create(ctl, dst, SIZE, FTPAGE_ROLE_DEST)) {
		tap_diag("round %d: set up %s/%s: %s", r, src, dst, strerror(errno));
		return false;
	}
	ftp_netns_enter(FTP_PAIR_A_NS);
	ok = !ftp_serve(ctl, src, FTP_PAIR_A_ADDR, PORT + r,
			push ? 0 : FTPAGE_SERVE_NO_PUSH);
	ftp_netns_enter(FTP_PAIR_B_NS);
	ok = ok && !ftp_pull(ctl, dst, src, FTP_PAIR_A_ADDR, PORT + r);
	ftp_netns_enter(NULL);
	if (!ok) {
		tap_diag("round %d: serve/pull: %s", r, strerror(errno));
		return false;
	}
	if (!push)
		return true;
	t0 = ftp_now_ms();
	ok = !ftp_wait_state(ctl, dst, FTPAGE_STATE_COMPLETE, 60000, &sd);
	tap_diag("round %d: dest %s in %llu ms", r, ftp_state_str(sd.state),
		 (unsigned long long)(ftp_now_ms() - t0));
	return ok;
}

/* After the rollback: the source's state, content and checkpoint. */
static void check_source(int r, const char *src, int allowed_lo,
			 int allowed_hi)
{
	struct ftpage_status ss;
	uint64_t c, epoch = ~0ull, len = ~0ull, d1, d2, same;
	bool ok;
	int e;

	ftp_status(ctl, src, &ss);
	ftp_epoch_diag(src, &ss);
	c = ss.committed_epoch;
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK &&
		  c >= (uint64_t)allowed_lo && c <= (uint64_t)allowed_hi,
		  "round %d: source %s, committed_epoch %llu in %d..%d", r,
		  ftp_state_str(ss.state), (unsigned long long)c, allowed_lo,
		  allowed_hi);
	if (c > 2)
		c = 2;
	ok = !ftp_region_read(src, scratch, 0, SIZE);
	d1 = ok ? ftp_pages_diff(scratch, img[c], SIZE, "source vs image", 6) : ~0ull;
	if (d1) {
		/* how mixed is it? */
		d2 = ftp_pages_diff(scratch, img[c == 1 ? 2 : 1], SIZE, "other", 0);
		same = ftp_pages_diff(img[1], img[2], SIZE, "", 0);
		tap_diag("round %d: %llu pages differ from image %llu, %llu from "
			 "image %llu (images 1 and 2 differ in %llu)", r,
			 (unsigned long long)d1, (unsigned long long)c,
			 (unsigned long long)d2, c == 1 ? 2ull : 1ull,
			 (unsigned long long)same);
	}
	tap_check(ok && d1 == 0, "round %d: source equals the dest's image at "
		  "commit %llu, every page", r, (unsigned long long)c);
	memset(scratch, 0, BLOB2_LEN);
	e = ftp_checkpoint(ctl, src, scratch, BLOB2_LEN, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == c &&
		  len == (c == 0 ? 0 : c == 1 ? BLOB1_LEN : BLOB2_LEN) &&
		  (!c || !memcmp(scratch, blob[c], len)),
		  "round %d: checkpoint: epoch %llu, blob of %llu bytes, %s (%s)",
		  r, (unsigned long long)epoch, (unsigned long long)len,
		  c ? "equal to the committed one" : "empty", e ? strerror(e) : "ok");
}

/* The link goes down; the dest ends in @want (abandoned: rolled back). */
static void teardown(int r, const char *src, const char *dst, uint32_t want)
{
	struct ftpage_status sd;
	bool ok;

	ok = !ftp_wait_link_down(ctl, dst, 10000, &sd);
	tap_check(ok, "round %d: dest's link goes down (connected %u)", r,
		  sd.connected);
	ok = !ftp_wait_state(ctl, dst, want, 3000, &sd);
	if (!ok)
		ftp_epoch_diag(dst, &sd);
	tap_check(ok, "round %d: dest %s (%s)", r, ftp_state_str(want),
		  ftp_state_str(sd.state));
	tap_check(!ftp_destroy(ctl, dst) && !ftp_destroy(ctl, src),
		  "round %d: destroy both regions", r);
}

static void round0(void)
{
	char src[16], dst[16], path[64];
	bool ok;
	int fd;
	uint64_t p;

	if (!tap_check(pair_up(0, src, dst, true), "round 0: pair up, dest complete"))
		return;
	fd = open(ftp_node(path, sizeof(path), dst), O_RDWR | O_CLOEXEC);
	ok = fd >= 0;
	for (p = 0; ok && p < 300; p++) {
		stamp(scratch, 9, 0, p * 13);
		ok = pwrite(fd, scratch, KG_PAGE_SIZE,
			    (off_t)(p * 13 * KG_PAGE_SIZE)) == KG_PAGE_SIZE;
	}
	if (fd >= 0)
		close(fd);
	tap_check(ok, "round 0: dest writes 300 pages, no commit");
	tap_call(ftp_rollback(ctl, src), "round 0: rollback the source");
	check_source(0, src, 0, 0);
	teardown(0, src, dst, FTPAGE_STATE_ABANDONED);
}

static void round_n(int r, enum when when)
{
	char src[16], dst[16], path[64];
	uint64_t epoch = 0, pages = 0, p, n1 = 0, t0;
	struct ftpage_status ss, sd;
	uint8_t *map = MAP_FAILED;
	int fd = -1, e;
	bool ok;

	if (!tap_check(pair_up(r, src, dst, true), "round %d: pair up, dest complete", r))
		return;
	fd = open(ftp_node(path, sizeof(path), dst), O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	/* epoch 1: every third page, by pwrite; wait for it */
	memcpy(img[1], img[0], SIZE);
	ok = map != MAP_FAILED;
	for (p = 0; ok && p < PAGES; p += 3, n1++) {
		stamp(img[1] + p * KG_PAGE_SIZE, 1, r, p);
		ok = pwrite(fd, img[1] + p * KG_PAGE_SIZE, KG_PAGE_SIZE,
			    (off_t)(p * KG_PAGE_SIZE)) == KG_PAGE_SIZE;
	}
	ftp_blob_fill(blob[1], BLOB1_LEN, 100 + r);
	e = !ok ? EIO : ftp_commit(ctl, dst, blob[1], BLOB1_LEN,
				   FTPAGE_COMMIT_WAIT, &epoch, &pages) ? errno : 0;
	tap_check(!e && epoch == 1 && pages == n1,
		  "round %d: commit 1 (wait): epoch %llu, %llu pages (want %llu) (%s)",
		  r, (unsigned long long)epoch, (unsigned long long)pages,
		  (unsigned long long)n1, e ? strerror(e) : "ok");

	/* epoch 2: every page, through the mapping; do not wait */
	for (p = 0; p < PAGES; p++) {
		stamp(img[2] + p * KG_PAGE_SIZE, 2, r, p);
		if (map != MAP_FAILED)
			memcpy(map + p * KG_PAGE_SIZE, img[2] + p * KG_PAGE_SIZE,
			       KG_PAGE_SIZE);
	}
	ftp_blob_fill(blob[2], BLOB2_LEN, 200 + r);
	e = ftp_commit(ctl, dst, blob[2], BLOB2_LEN, 0, &epoch, &pages) ? errno : 0;
	t0 = ftp_now_ms();
	switch (when) {
	case AT_ONCE:
		break;
	case ON_RECEIVE:
		do
			ftp_status(ctl, src, &ss);
		while (!ss.journal_bytes && ss.epoch < 2 &&
		       ss.committed_epoch < 2 && ftp_now_ms() - t0 < 20000);
		ftp_epoch_diag(src, &ss);
		break;
	case ON_STAGED:
		/* near the apply: every page staged, the blob arriving */
		do
			ftp_status(ctl, src, &ss);
		while (ss.journal_bytes < SIZE && ss.committed_epoch < 2 &&
		       ftp_now_ms() - t0 < 20000);
		ftp_epoch_diag(src, &ss);
		break;
	case AFTER_DELAY:
		/* epoch 3 writes while epoch 2 streams (copy-before-write) */
		while (ftp_now_ms() - t0 < 30 && map != MAP_FAILED)
			for (p = 1; p < PAGES; p += 16)
				map[p * KG_PAGE_SIZE + 8 * ((t0 + p) % 512)] ^= 0xff;
		break;
	case AFTER_ACK:
		/* writes race the stream of epoch 2 (copy-before-write) */
		do {
			ftp_status(ctl, dst, &sd);
			for (p = 5; map != MAP_FAILED && p < PAGES; p += 16)
				map[p * KG_PAGE_SIZE + 8 * (p % 512)] ^= 0x0f;
		} while (sd.committed_epoch < 2 && ftp_now_ms() - t0 < 30000);
		ftp_epoch_diag(dst, &sd);
		break;
	}
	tap_diag("round %d: rolling back %s, %llu ms after commit 2",
		 r, when_str[when], (unsigned long long)(ftp_now_ms() - t0));
	tap_call(ftp_rollback(ctl, src), "round %d: rollback the source", r);
	tap_check(!e && epoch == 2 && pages == PAGES,
		  "round %d: commit 2 (no wait): epoch %llu, %llu pages (%s)",
		  r, (unsigned long long)epoch, (unsigned long long)pages,
		  e ? strerror(e) : "ok");
	check_source(r, src, when == AFTER_ACK ? 2 : 1, 2);
	if (map != MAP_FAILED)
		munmap(map, SIZE);
	if (fd >= 0)
		close(fd);
	teardown(r, src, dst, FTPAGE_STATE_ABANDONED);
}

/*
 * The dest still pulling (no push): 8-byte writes into every 7th page
 * fetch each page first; epoch 1 (wait) then an immediate rollback.
 */
static void round_pulling(int r)
{
	char src[16], dst[16], path[64];
	uint64_t epoch = 0, pages = 0, p, n1 = 0, v;
	struct ftpage_status sd;
	bool ok;
	int fd, e;

	if (!tap_check(pair_up(r, src, dst, false), "round %d: pair up, no push", r))
		return;
	memcpy(img[1], img[0], SIZE);
	fd = open(ftp_node(path, sizeof(path), dst), O_RDWR | O_CLOEXEC);
	ok = fd >= 0;
	for (p = 0; ok && p < PAGES; p += 7, n1++) {
		uint64_t off = p * KG_PAGE_SIZE + 8 * (p % 512);

		v = 0x0700000000000000ull | p;
		memcpy(img[1] + off, &v, 8);
		ok = pwrite(fd, &v, 8, (off_t)off) == 8;
	}
	if (fd >= 0)
		close(fd);
	ftp_status(ctl, dst, &sd);
	ftp_status_diag(dst, &sd);
	tap_check(ok && sd.state == FTPAGE_STATE_PULLING,
		  "round %d: %llu pages fetched and written, dest still %s", r,
		  (unsigned long long)n1, ftp_state_str(sd.state));
	ftp_blob_fill(blob[1], BLOB1_LEN, 700 + r);
	e = ftp_commit(ctl, dst, blob[1], BLOB1_LEN, FTPAGE_COMMIT_WAIT, &epoch,
		       &pages) ? errno : 0;
	tap_check(!e && epoch == 1 && pages == n1,
		  "round %d: commit 1 (wait) while pulling: epoch %llu, %llu pages "
		  "(%s)", r, (unsigned long long)epoch, (unsigned long long)pages,
		  e ? strerror(e) : "ok");
	tap_call(ftp_rollback(ctl, src), "round %d: rollback the source", r);
	check_source(r, src, 1, 1);
	teardown(r, src, dst, FTPAGE_STATE_ABANDONED);
}

int main(void)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(3 + 9 + 10 * NROUNDS + 10);
	for (i = 0; i < 3; i++)
		img[i] = malloc(SIZE);
	blob[1] = malloc(BLOB1_LEN);
	blob[2] = malloc(BLOB2_LEN);
	scratch = malloc(SIZE);
	if (!img[0] || !img[1] || !img[2] || !blob[1] || !blob[2] || !scratch)
		tap_skip_all("out of memory");
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_short();
	ftp_kmsg_mark("epoch_partial");
	round0();
	for (i = 0; i < NROUNDS; i++)
		round_n(i + 1, rounds[i]);
	round_pulling(NROUNDS + 1);
	tap_check(ftp_kmsg_clean("epoch_partial"), "no kernel warning");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
