// SPDX-License-Identifier: GPL-2.0
/*
 * twovm_destcrash (topology twovm): the destination host dies in the
 * middle of post-copy; the source, on its own, rolls back to the last
 * epoch the destination committed -- exactly.
 * twovm_destcrash_epoch (the same source built with DESTCRASH_EPOCH): the
 * destination host dies while a large epoch streams; the partial epoch is
 * not applied.
 *
 * Both VMs: lease_ms=1000 rollback_after_ms=4000. A 64 MiB region, kg
 * pattern. Epoch 1: every 37th page stamped, a 64 KiB blob, committed with
 * FTPAGE_COMMIT_WAIT. Epoch 2 (epoch case): every page stamped, a 1 MiB
 * blob, committed without waiting.
 * VM a (source): fills, freezes and serves (push) the region; post-copy
 * case: its egress is slowed down (tbf 16mbit) so that the dest still
 * misses pages long after commit 1. It waits for the dest to attach and
 * for committed_epoch 1; then, post-copy case: the source is still frozen
 * (the dest not complete); epoch case: until epoch 2 is arriving
 * (journal_bytes > 0, committed_epoch still 1). It asks the runner to kill
 * VM b (SIGKILL of its QEMU: no FIN, no RST). Post-copy case: it closes
 * every ftpage file, the control node included, and only sleeps for the
 * deadline plus 5 s (no userspace in the loop), then finds the state
 * rolled-back in sysfs. Epoch case: running no ioctl, it waits in poll()
 * on the region's node: POLLPRI comes by itself ~4 s later (3.5..9 s after
 * the request). Then: the source is rolled-back, not attached,
 * at committed_epoch 1 with nothing staged; every page equals the model of
 * epoch 1 (pattern + epoch 1 stamps); its checkpoint is blob 1.
 * VM b (dest): pulls (retrying while a boots), writes and commits epoch 1
 * (post-copy case: still pulling then; it goes on writing, uncommitted);
 * epoch case: pulls to complete first, slows its egress (tbf 16mbit) and
 * commits epoch 2 without waiting. Then it waits to be killed.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#ifndef DESTCRASH_EPOCH
#define DESTCRASH_EPOCH	0
#endif

#define MIB		(1ULL << 20)
#define SIZE		(64 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		(DESTCRASH_EPOCH ? 0xdc2e0c00 : 0xdc2e0000)
#define PORT		(DESTCRASH_EPOCH ? 7572 : 7571)
#define SRC		"dc-src"
#define DST		"dc-dst"
#define LEASE_MS	1000
#define ROLLBACK_MS	4000
#define BLOB1_LEN	(64 * 1024)
#define BLOB2_LEN	(1 * MIB)
#define SLOW		"tbf rate 16mbit burst 32kb latency 50ms"

static int ctl;
static uint8_t *model, *blob1, *blob2;

static bool epoch1_pages(uint64_t p)
{
	return p % 37 == 5;
}

static bool every_page(uint64_t p)
{
	(void)p;
	return true;
}

static bool some_pages(uint64_t p)
{
	return p % 101 == 7;
}

static int role_a(void)
{
	struct ftpage_status ss;
	uint64_t t_kill, ms = 0;
	char state[32] = "?";
	int64_t written;
	int r;
	bool ok;

	tap_plan(DESTCRASH_EPOCH ? 12 : 13);
	ftp_lease_check(LEASE_MS, ROLLBACK_MS);
	tap_call(ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE),
		 "create a %llu MiB source", (unsigned long long)(SIZE / MIB));
	written = ftp_fill_pattern(SRC, SIZE, SEED, NULL);
	tap_check(written == (int64_t)PAGES && !ftp_freeze(ctl, SRC),
		  "fill with the pattern, freeze");
	if (!DESTCRASH_EPOCH)
		tap_check(!ftp_lib_sh("qdisc_set eth0 " SLOW),
			  "slow our egress down: %s", SLOW);
	if (!tap_call(ftp_serve(ctl, SRC, FTP_TWOVM_A_ADDR, PORT, 0),
		      "serve on %s:%d", FTP_TWOVM_A_ADDR, PORT))
		return tap_finish();
	ok = !ftp_wait_flag(ctl, SRC, FTPAGE_STATUS_ATTACHED, true, 120000, &ss);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok && ss.lease_left_ms > 0 && ss.lease_left_ms <= ROLLBACK_MS,
		  "dest attached, deadline %u ms", ss.lease_left_ms);

	/* epoch 1 applied */
	ok = !ftp_wait_committed(ctl, SRC, 1, 90000, &ss);
	ftp_lease_diag(SRC, &ss);
	if (!tap_check(ok && ss.committed_epoch == 1, "epoch 1 applied "
		       "(committed_epoch %llu)",
		       (unsigned long long)ss.committed_epoch))
		return tap_finish();
	if (DESTCRASH_EPOCH) {
		ftp_wait_staged(ctl, SRC, 1, 60000, &ss);
		ftp_lease_diag(SRC, &ss);
		tap_check(ss.journal_bytes > 0 && ss.committed_epoch == 1 &&
			  ss.state != FTPAGE_STATE_ROLLED_BACK,
			  "epoch 2 arriving: %llu bytes staged, committed_epoch "
			  "still 1", (unsigned long long)ss.journal_bytes);
	} else {
		tap_check(ss.state == FTPAGE_STATE_FROZEN &&
			  (ss.status_flags & FTPAGE_STATUS_ATTACHED),
			  "mid post-copy: source still %s (dest not complete), "
			  "attached", ftp_state_str(ss.state));
	}

	/* the destination host dies; no ioctl from here on */
	t_kill = ftp_now_ms();
	if (DESTCRASH_EPOCH) {
		ftp_lib_sh("twovm_kill_peer");
		r = ftp_wait_ended(SRC, 30000, &ms);
		tap_check(r == 1 && ms >= ROLLBACK_MS - 500 &&
			  ms <= ROLLBACK_MS + 5000,
			  "POLLPRI by itself %llu ms after the kill request (%d..%d)",
			  (unsigned long long)(ftp_now_ms() - t_kill),
			  ROLLBACK_MS - 500, ROLLBACK_MS + 5000);
	} else {
		/*
		 * No userspace in the loop: we hold no ftpage file (not even
		 * the control node) and only sleep; afterwards sysfs shows
		 * what the kernel did by itself.
		 */
		close(ctl);
		ftp_lib_sh("twovm_kill_peer");
		ftp_sleep_ms(ROLLBACK_MS + 5000);
		ok = !ftp_sh_out(state, sizeof(state), "cat '/sys/class/ftpage/"
				 "ftpage!%s/state'", SRC) &&
		     !strcmp(state, "rolled-back");
		tap_check(ok, "with nothing of ours running, rolled back by "
			  "itself: sysfs state %s %llu ms after the kill request",
			  state, (unsigned long long)(ftp_now_ms() - t_kill));
		ctl = ftp_ctl_open();
	}
	ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 1 &&
		  ss.journal_bytes == 0 &&
		  !(ss.status_flags & FTPAGE_STATUS_ATTACHED),
		  "source %s at committed_epoch %llu, journal_bytes %llu, not "
		  "attached (last epoch received %llu)", ftp_state_str(ss.state),
		  (unsigned long long)ss.committed_epoch,
		  (unsigned long long)ss.journal_bytes,
		  (unsigned long long)ss.epoch);
	ftp_pattern_image(model, SIZE, SEED, NULL);
	{
		uint64_t p;

		for (p = 0; p < PAGES; p++)
			if (epoch1_pages(p))
				ftp_stamp_page(model + p * KG_PAGE_SIZE, 1, p);
	}
	ftp_blob_fill(blob1, BLOB1_LEN, 1);
	ftp_rolled_back_check(ctl, SRC, model, SIZE, 1, blob1, BLOB1_LEN,
			      "blob 1");
	if (!DESTCRASH_EPOCH)
		ftp_lib_sh("qdisc_clear eth0");
	tap_call(ftp_destroy(ctl, SRC), "destroy the source");
	return tap_finish();
}

static int role_b(void)
{
	struct ftpage_status sd;
	struct ftp_ticker tick;
	uint64_t t0;
	int64_t n;
	bool ok;

	tap_plan(8);
	ftp_lease_check(LEASE_MS, ROLLBACK_MS);
	tap_call(ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST), "create dest");
	t0 = ftp_now_ms();
	if (!tap_call(ftp_pull_retry(ctl, DST, SRC, FTP_TWOVM_A_ADDR, PORT,
				     120000), "pull from a (%llu ms)",
		      (unsigned long long)(ftp_now_ms() - t0)))
		return tap_finish();
	if (DESTCRASH_EPOCH) {
		ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 90000, &sd);
		tap_check(ok, "dest complete in %llu ms",
			  (unsigned long long)(ftp_now_ms() - t0));
	} else {
		tap_check(1, "post-copy: no waiting for complete");
	}
	ftp_pattern_image(model, SIZE, SEED, NULL);
	ftp_blob_fill(blob1, BLOB1_LEN, 1);
	ftp_commit_check(ctl, DST, model, SIZE, 1, epoch1_pages, blob1,
			 BLOB1_LEN, FTPAGE_COMMIT_WAIT, 1, "commit 1 (wait)",
			 NULL);
	ftp_status_lease_diag(ctl, DST, &sd);
	if (DESTCRASH_EPOCH) {
		tap_check(!ftp_lib_sh("qdisc_set eth0 " SLOW),
			  "slow our egress down: %s", SLOW);
		ftp_blob_fill(blob2, BLOB2_LEN, 2);
		ftp_commit_check(ctl, DST, model, SIZE, 2, every_page, blob2,
				 BLOB2_LEN, 0, 2, "commit 2 (no wait)", NULL);
	} else {
		tap_check(sd.state == FTPAGE_STATE_PULLING,
			  "dest still pulling after commit 1 (%s)",
			  ftp_state_str(sd.state));
		n = ftp_write_stamps(DST, model, SIZE, 2, some_pages);
		tap_check(n > 0 && !ftp_ticker_start(&tick, DST, SIZE, 3),
			  "the dest runs on: %lld pages written, a ticker, "
			  "uncommitted", (long long)n);
	}
	/* VM a kills us; if it does not, fail */
	ftp_sleep_ms(150000);
	tap_check(0, "VM a killed this VM");
	return tap_finish();
}

int main(void)
{
	const char *role = getenv("FTP_ROLE");

	setvbuf(stdout, NULL, _IOLBF, 0);
	model = malloc(SIZE);
	blob1 = malloc(BLOB1_LEN);
	blob2 = malloc(BLOB2_LEN);
	if (!model || !blob1 || !blob2)
		tap_skip_all("out of memory");
	ctl = ftp_ctl_open();
	if (ctl < 0) {
		tap_plan(1);
		tap_call(ctl, "open the control node");
		return tap_finish();
	}
	return role && !strcmp(role, "b") ? role_b() : role_a();
}
