// SPDX-License-Identifier: GPL-2.0
/*
 * ft_flap_epoch (topology pair): a link flap in the middle of an epoch
 * stream loses nothing and applies nothing twice.
 *
 * lease_ms=1000 rollback_after_ms=15000. A 64 MiB source (kg pattern) is
 * frozen and served with push; a dest pulls it to complete. Epoch 1 stamps
 * every page (64 MiB of journal) with a 1 MiB blob and is committed
 * without waiting; as soon as the source reports any of it staged, veth-a
 * goes down for 2 s (the source must not have applied epoch 1 yet: the
 * flap really hits the stream). With the link back, the dest reconnects
 * and epoch 1 is applied: committed_epoch 1 on both sides.
 * Epoch 2 re-stamps every 5th page (another tag) with a 64 KiB blob and is
 * committed with FTPAGE_COMMIT_WAIT: it reports epoch 2 and exactly those
 * pages. A second of quiet later (a stale resend of epoch 1 would undo
 * epoch 2's pages), a manual ROLLBACK on the source: every page of the
 * source equals the model of epoch 2 (pattern < epoch 1 < epoch 2), its
 * checkpoint is blob 2, journal_bytes 0 on both sides, no kernel warning.
 */
#define _GNU_SOURCE
#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(64 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xf1a9e90c
#define PORT		7521
#define SRC		"fe-src"
#define DST		"fe-dst"
#define BLOB1_LEN	(1 * MIB)
#define BLOB2_LEN	(64 * 1024)

static bool every_page(uint64_t p)
{
	(void)p;
	return true;
}

static bool every_5th(uint64_t p)
{
	return p % 5 == 2;
}

int main(void)
{
	uint8_t *model = malloc(SIZE), *blob1 = malloc(BLOB1_LEN),
		*blob2 = malloc(BLOB2_LEN);
	struct ftpage_status sd, ss, at_cut;
	int64_t written;
	uint64_t t0;
	bool ok;
	int ctl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !blob1 || !blob2)
		tap_skip_all("out of memory");
	tap_plan(19);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(1000, 15000);
	ftp_kmsg_mark("ft_flap_epoch");
	ok = ftp_pair_pull_complete(ctl, SRC, DST, SIZE, SEED, NULL, PORT, 0,
				    &written);
	if (!tap_check(ok, "dest pulled to complete"))
		return tap_finish();
	ftp_pattern_image(model, SIZE, SEED, NULL);

	/* epoch 1: every page; cut the link while it streams */
	ftp_blob_fill(blob1, BLOB1_LEN, 11);
	ftp_commit_check(ctl, DST, model, SIZE, 1, every_page, blob1, BLOB1_LEN,
			 0, 1, "commit 1 (no wait)", NULL);
	ftp_wait_staged(ctl, SRC, 0, 20000, &ss);
	ftp_pair_link(false);
	at_cut = ss;
	t0 = ftp_now_ms();
	ftp_epoch_diag(SRC, &at_cut);
	tap_check(at_cut.committed_epoch == 0 && at_cut.journal_bytes > 0,
		  "link cut mid-epoch: source staged %llu bytes, committed_epoch "
		  "%llu", (unsigned long long)at_cut.journal_bytes,
		  (unsigned long long)at_cut.committed_epoch);
	ftp_sleep_ms(2000);
	ftp_status_lease_diag(ctl, DST, &sd);
	ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check(ss.committed_epoch == 0 && ss.state != FTPAGE_STATE_ROLLED_BACK,
		  "during the outage: epoch 1 not applied, source not rolled back "
		  "(%s)", ftp_state_str(ss.state));
	tap_check(!ftp_pair_link(true), "link back after %llu ms",
		  (unsigned long long)(ftp_now_ms() - t0));

	t0 = ftp_now_ms();
	ftp_wait_committed(ctl, DST, 1, 60000, &sd);
	ftp_lease_diag(DST, &sd);
	ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check(sd.committed_epoch == 1 && ss.committed_epoch == 1 &&
		  ss.epoch == 1, "epoch 1 applied %llu ms after the link came back "
		  "(dest committed %llu, source committed %llu, last received %llu)",
		  (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)sd.committed_epoch,
		  (unsigned long long)ss.committed_epoch,
		  (unsigned long long)ss.epoch);
	tap_check(sd.reconnects >= 1, "dest reconnected (reconnects %llu)",
		  (unsigned long long)sd.reconnects);

	/* epoch 2: every 5th page again, wait for it */
	ftp_blob_fill(blob2, BLOB2_LEN, 22);
	ftp_commit_check(ctl, DST, model, SIZE, 2, every_5th, blob2, BLOB2_LEN,
			 FTPAGE_COMMIT_WAIT, 2, "commit 2 (wait)", NULL);
	ftp_sleep_ms(1000);
	ftp_status_epoch_diag(ctl, DST, &sd);
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(sd.committed_epoch == 2 && ss.committed_epoch == 2 &&
		  ss.epoch == 2 && sd.journal_bytes == 0 && ss.journal_bytes == 0,
		  "both sides at committed_epoch 2, nothing in flight");
	tap_check(!ftp_region_diff(DST, model, SIZE, "dest vs model", 4),
		  "dest equals the model");

	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 2,
		  "source rolled-back (%s) at committed_epoch %llu",
		  ftp_state_str(ss.state), (unsigned long long)ss.committed_epoch);
	ftp_rolled_back_check(ctl, SRC, model, SIZE, 2, blob2, BLOB2_LEN,
			      "blob 2");
	return ftp_pair_close(ctl, "ft_flap_epoch", DST, SRC);
}
