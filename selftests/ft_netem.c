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
#define NETEM		"delay 5 jitter 1 loss 2 duplicate 1 reorder 25"
#define TEST		"ft_netem"

static bool seven_in_eight(uint64_t p)
{
	return p % 8 != 5;
}

static bool epoch1_pages(uint64_t p)
{
	return p % 4 == 0 && p / 4 < 1000;
}

int main(void)
{
	uint8_t *model = malloc(SIZE), *blob = malloc(BLOB_LEN);
	uint64_t t0, ms = 0;
	struct ftpage_status sd, ss;
	struct ftp_digest ds, dd;
	int64_t written = 0;
	int ctl, status = 0, r;
	pid_t pid;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !blob)
		tap_skip_all("out of memory");
	tap_plan(15);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(1000, 15000);
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
	/* check every 5th page of the dest in a scrambled order */
	pid = ftp_scan_child(DST, SIZE, SEED, seven_in_eight, 5);
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 90000, &sd);
	ftp_status_diag(DST, &sd);
	ftp_lease_diag(DST, &sd);
	tap_check(ok && sd.errors == 0, "dest complete in %llu ms, no error "
		  "(errors %llu, reconnects %llu)",
		  (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)sd.errors,
		  (unsigned long long)sd.reconnects);
	r = ftp_reap_child(pid, 30000, &status, &ms);
	tap_check(r == 1 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "the checker mapping the dest found every 5th page right "
		  "(%s: bad pages)", ftp_wstatus_str(status));
	ok = !ftp_region_digest(SRC, SIZE, SEED, &ds) &&
	     !ftp_region_digest(DST, SIZE, SEED, &dd);
	tap_check(ok && dd.pattern_pages == (uint64_t)written &&
		  dd.nonzero_pages == (uint64_t)written && dd.hash == ds.hash,
		  "dest equals the model: %llu pattern pages of %lld, %llu "
		  "non-zero, digest %016llx (source %016llx)",
		  (unsigned long long)dd.pattern_pages, (long long)written,
		  (unsigned long long)dd.nonzero_pages,
		  (unsigned long long)dd.hash, (unsigned long long)ds.hash);

	/* an epoch over the same link */
	ftp_pattern_image(model, SIZE, SEED, seven_in_eight);
	ftp_blob_fill(blob, BLOB_LEN, 0x4e7);
	t0 = ftp_now_ms();
	ftp_commit_check(ctl, DST, model, SIZE, 1, epoch1_pages, blob, BLOB_LEN,
			 FTPAGE_COMMIT_WAIT, 1, "commit 1 (wait)", NULL);
	tap_diag("commit 1 took %llu ms", (unsigned long long)(ftp_now_ms() - t0));
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 1,
		  "source rolled-back at committed_epoch %llu",
		  (unsigned long long)ss.committed_epoch);
	ftp_rolled_back_check(ctl, SRC, model, SIZE, 1, blob, BLOB_LEN,
			      "the blob");
	ftp_pair_netem(NULL);
	return ftp_pair_close(ctl, TEST, DST, SRC);
}
