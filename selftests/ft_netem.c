// SPDX-License-Identifier: GPL-2.0
/*
 * ft_netem (topology pair): a lossy, reordering, duplicating link with
 * some delay slows a migration down but changes no byte of it.
 *
 * lease_ms=1000 rollback_after_ms=15000. netem on both veth ends: delay
 * 5 ms, jitter 1 ms, loss 2%, duplicate 1%, reorder 25%. A 16 MiB source, 7
 * pages in 8 kg pattern and the rest zero, is frozen and served with
 * push; a dest pulls it while a child maps the dest and checks every 5th
 * page in a scrambled order (demand faults racing the push). The child
 * finds no bad page, the dest completes with no error and equals the
 * model exactly (the source's digest). Then an epoch over the same link:
 * 1000 pages stamped, a 256 KiB blob, committed with FTPAGE_COMMIT_WAIT;
 * a manual ROLLBACK leaves the source equal to the model of epoch 1 and
 * its checkpoint is the blob. No kernel warning.
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
#define SEED		0xf14e7e30
#define PORT		7551
#define SRC		"fn-src"
#define DST		"fn-dst"
#define BLOB_LEN	(256 * 1024)
#ifndef NETEM			/* ft_corrupt.c includes this file */
#define NETEM		"delay 5 jitter 1 loss 2 duplicate 1 reorder 25"
#define TEST		"ft_netem"
#define CHECKS		15
#endif

static bool seven_in_eight(uint64_t p)
{
	return p % 8 != 5;
}

static bool epoch1_pages(uint64_t p)
{
	return p % 4 == 0 && p / 4 < 1000;
}

/* Check every 5th page of the dest in a scrambled order; exit = bad. */
static void checker(void)
{
	uint32_t stride = kg_pick_stride(PAGES, SEED), i, bad = 0;
	char path[64];
	uint8_t *m, zero[KG_PAGE_SIZE] = { 0 };
	int fd;

	signal(SIGBUS, SIG_DFL);
	fd = open(ftp_node(path, sizeof(path), DST), O_RDONLY);
	if (fd < 0)
		_exit(200);
	m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(201);
	for (i = 0; i < PAGES; i += 5) {
		uint64_t p = ((uint64_t)i * stride) % PAGES;
		const uint8_t *pg = m + p * KG_PAGE_SIZE;

		if (seven_in_eight(p))
			bad += !kg_pattern_check(pg, (uint32_t)p, SEED);
		else
			bad += !!memcmp(pg, zero, KG_PAGE_SIZE);
	}
	_exit(bad > 100 ? 100 : bad);
}

int main(void)
{
	uint8_t *model = malloc(SIZE), *blob = malloc(BLOB_LEN),
		*ck = malloc(BLOB_LEN);
	uint64_t t0, ms = 0, epoch = 0, pages = 0, len = 0, diff;
	struct ftpage_status sd, ss;
	struct ftp_digest ds, dd;
	int64_t written = 0, n;
	int ctl, status = 0, r, e;
	pid_t pid;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !blob || !ck)
		tap_skip_all("out of memory");
	tap_plan(CHECKS);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	tap_check(ftp_lease_params(1000, 15000, 0),
		  "lease_ms=1000 rollback_after_ms=15000");
	if (!tap_check(!ftp_pair_netem(NETEM), "netem %s on both ends", NETEM))
		return tap_finish();
	ftp_sh("nsenter --net=/host/run/netns/" FTP_PAIR_B_NS
	       " ping -c 3 -i 0.2 " FTP_PAIR_A_ADDR " | sed 's/^/# /'");
	ftp_kmsg_mark(TEST);

	t0 = ftp_now_ms();
	if (!tap_check(ftp_pair_pull(ctl, SRC, DST, SIZE, SEED, seven_in_eight,
				     PORT, 0, &written),
		       "source served, dest pulling"))
		return tap_finish();
	pid = fork();
	if (!pid)
		checker();
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 90000, &sd);
	ftp_status_diag(DST, &sd);
	ftp_lease_diag(DST, &sd);
	tap_check(ok && sd.errors == 0, "dest complete in %llu ms, no error "
		  "(errors %llu, reconnects %llu)",
		  (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)sd.errors,
		  (unsigned long long)sd.reconnects);
	r = ftp_wait_child(pid, 30000, &status, &ms);
	if (r != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	tap_check(r == 1 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "the checker mapping the dest found every 5th page right "
		  "(%s %d)", WIFSIGNALED(status) ? "signal" : "bad pages",
		  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	ok = !ftp_region_digest(SRC, SIZE, SEED, &ds) &&
	     !ftp_region_digest(DST, SIZE, SEED, &dd);
	tap_check(ok && dd.pattern_pages == (uint64_t)written &&
		  dd.nonzero_pages == (uint64_t)written && dd.hash == ds.hash,
		  "dest equals the model: %llu pattern pages of %lld, %llu "
		  "non-zero, digest %016llx (source %016llx)",
		  (unsigned long long)dd.pattern_pages, (long long)written,
		  (unsigned long long)dd.nonzero_pages,
		  (unsigned long long)dd.hash, (unsigned long long)ds.hash);
#ifdef FT_CORRUPT
	tap_check(ftp_kmsg_has(TEST, "checksum mismatch") && sd.reconnects >= 1,
		  "corruption caught by the message CRC, connection reset and "
		  "resumed (reconnects %llu)", (unsigned long long)sd.reconnects);
#endif

	/* an epoch over the same link */
	ftp_pattern_image(model, SIZE, SEED, seven_in_eight);
	n = ftp_write_stamps(DST, model, SIZE, 1, epoch1_pages);
	ftp_blob_fill(blob, BLOB_LEN, 0x4e7);
	t0 = ftp_now_ms();
	e = n < 0 ? EIO : ftp_commit(ctl, DST, blob, BLOB_LEN,
				     FTPAGE_COMMIT_WAIT, &epoch, &pages) ? errno : 0;
	tap_check(!e && epoch == 1 && pages == (uint64_t)n,
		  "commit 1 (wait) in %llu ms: epoch %llu, %llu pages (%s)",
		  (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)epoch, (unsigned long long)pages,
		  e ? strerror(e) : "ok");
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status(ctl, SRC, &ss);
	ftp_epoch_diag(SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 1,
		  "source rolled-back at committed_epoch %llu",
		  (unsigned long long)ss.committed_epoch);
	diff = ftp_region_diff(SRC, model, SIZE, "source vs epoch 1", 8);
	tap_check(diff == 0, "source equals the model of epoch 1 (%llu differ)",
		  (unsigned long long)diff);
	memset(ck, 0, BLOB_LEN);
	e = ftp_checkpoint(ctl, SRC, ck, BLOB_LEN, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 1 && len == BLOB_LEN && !memcmp(ck, blob, len),
		  "checkpoint: epoch %llu, the blob (%llu bytes) (%s)",
		  (unsigned long long)epoch, (unsigned long long)len,
		  e ? strerror(e) : "ok");
	tap_check(ftp_kmsg_clean(TEST), "no kernel warning");
	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC),
		  "destroy both regions");
	close(ctl);
	ftp_pair_netem(NULL);
	ftp_pair_teardown();
	return tap_finish();
}
