// SPDX-License-Identifier: GPL-2.0
/*
 * ft_done (topology pair): declaring a migration done, and periodic
 * automatic commits.
 *
 * Done: lease_ms=1000 rollback_after_ms=4000. A 16 MiB source (kg pattern)
 * is served without push; while the dest still misses pages, DONE fails
 * with EBUSY, and DONE on the source fails. The dest reads everything
 * (complete on both sides), writes 100 pages and commits them (wait).
 * `ftpagectl done` on the dest: the dest is done, POLLPRI on both nodes,
 * the source done too with pages_present 0 (`ftpagectl wait` prints done);
 * the dest holds exactly the model; `status --json` has reconnects,
 * fenced, attached and lease_left_ms. With no lease any more, cutting the
 * link for 2.5 s (beyond the lease and close to the deadline) fences
 * nothing: a ticker on the dest keeps writing through the cut, and the
 * dest stays done and writable (pwrite); ROLLBACK on the source fails.
 * `ftpagectl wait` on a region whose migration has not ended times out
 * with exit 1.
 * Automatic commits: commit_interval_ms=300 set before SERVE/PULL; a
 * fresh pair pulled to complete; a ticker and 200 stamped pages are
 * written with no COMMIT from userspace: the dest's epoch advances by
 * itself (>= 2 epochs in 1.5 s) and the source applies them. Once the
 * ticker stopped and an epoch sealed after that was applied, a manual
 * ROLLBACK leaves the source equal to the dest's model exactly (the
 * ticker's last value included). No kernel warning.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xf1d0e000
#define PORT		7561
#define SRC		"fd-src"
#define DST		"fd-dst"
#define SRC2		"fd-src2"
#define DST2		"fd-dst2"
#define TICK_PAGE	9

static int ctl;
static uint8_t *model;

static bool hundred(uint64_t p)
{
	return p % 16 == 3 && p / 16 < 100;
}

static bool two_hundred(uint64_t p)
{
	return p % 8 == 6 && p / 8 < 200;
}

static void part_done(void)
{
	struct ftpage_status sd, ss;
	struct ftp_ticker tick;
	uint64_t c1, c2, diff, t0, back = 0;
	int64_t written;
	char out[2048];
	int r, e;
	bool ok;

	ftp_lease_check(1000, 4000);
	if (!tap_check(ftp_pair_pull(ctl, SRC, DST, SIZE, SEED, NULL, PORT,
				     FTPAGE_SERVE_NO_PUSH, &written),
		       "pair up, dest pulling (no push)"))
		return;
	ftp_pattern_image(model, SIZE, SEED, NULL);
	tap_errno(ftp_done(ctl, DST), EBUSY, "done on a dest missing pages");
	ftp_status(ctl, DST, &sd);
	tap_check(sd.state == FTPAGE_STATE_PULLING, "dest still pulling (%s)",
		  ftp_state_str(sd.state));
	e = ftp_done(ctl, SRC) ? errno : 0;
	tap_check(e != 0, "done on the source fails (%s)",
		  e ? strerror(e) : "succeeded");

	diff = ftp_region_diff(DST, model, SIZE, "dest read", 4);
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 10000, &sd) &&
	     !ftp_wait_state(ctl, SRC, FTPAGE_STATE_COMPLETE, 10000, &ss);
	tap_check(ok && diff == 0, "dest reads everything, equal to the source; "
		  "complete on both sides (%s, %s)", ftp_state_str(sd.state),
		  ftp_state_str(ss.state));
	ftp_commit_check(ctl, DST, model, SIZE, 1, hundred, NULL, 0,
			 FTPAGE_COMMIT_WAIT, 1, "100 pages written, commit 1 (wait)",
			 NULL);

	r = ftp_sh("ftpagectl done %s", DST);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(r == 0 && sd.state == FTPAGE_STATE_DONE,
		  "ftpagectl done %s: exit %d, dest %s", DST, r,
		  ftp_state_str(sd.state));
	tap_check(ftp_wait_ended(DST, 2000, NULL) == 1, "POLLPRI on the dest's node");
	ok = ftp_wait_ended(SRC, 5000, NULL) == 1;
	/* the source may free its pages in the background: a bounded wait */
	t0 = ftp_now_ms();
	while (!ftp_status(ctl, SRC, &ss) &&
	       (ss.pages_present || (ss.status_flags & FTPAGE_STATUS_ATTACHED)) &&
	       ftp_now_ms() - t0 < 5000)
		ftp_sleep_ms(20);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok && ss.state == FTPAGE_STATE_DONE && ss.pages_present == 0 &&
		  !(ss.status_flags & FTPAGE_STATUS_ATTACHED),
		  "source: POLLPRI, %s, pages_present %llu (0), not attached "
		  "(%llu ms after POLLPRI)", ftp_state_str(ss.state),
		  (unsigned long long)ss.pages_present,
		  (unsigned long long)(ftp_now_ms() - t0));
	r = ftp_sh_out(out, sizeof(out), "ftpagectl wait %s --timeout 5", SRC);
	tap_check(r == 0 && !strcmp(out, "done"), "ftpagectl wait %s: exit %d, "
		  "\"%s\"", SRC, r, out);
	diff = ftp_region_diff(DST, model, SIZE, "done dest vs model", 4);
	tap_check(diff == 0, "dest holds exactly the model (%llu differ)",
		  (unsigned long long)diff);
	r = ftp_sh_out(out, sizeof(out), "ftpagectl status %s --json", DST);
	tap_check(r == 0 && strstr(out, "\"reconnects\":") &&
		  strstr(out, "\"fenced\":") && strstr(out, "\"attached\":") &&
		  strstr(out, "\"lease_left_ms\":") &&
		  strstr(out, "\"state\":\"done\""),
		  "status --json: state done, reconnects, fenced, attached, "
		  "lease_left_ms");
	if (r || !strstr(out, "\"lease_left_ms\":"))
		tap_diag("%s", out);

	/* no lease any more: a cut fences nothing */
	ok = !ftp_ticker_start(&tick, DST, SIZE, TICK_PAGE);
	ftp_sleep_ms(200);
	t0 = ftp_now_ms();
	tap_check(ok && !ftp_pair_link(false), "ticker runs on the done dest; "
		  "link cut");
	ftp_sleep_ms(1500);
	c1 = ftp_ticker_count(&tick);
	ftp_sleep_ms(1000);
	c2 = ftp_ticker_count(&tick);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(c2 > c1 && sd.state == FTPAGE_STATE_DONE &&
		  !(sd.status_flags & FTPAGE_STATUS_FENCED),
		  "%llu ms into the cut the ticker still writes (%llu -> %llu in "
		  "the last second), dest %s, not fenced",
		  (unsigned long long)(ftp_now_ms() - t0), (unsigned long long)c1,
		  (unsigned long long)c2, ftp_state_str(sd.state));
	ftp_pair_link(true);
	tap_check(ftp_ticker_stop(&tick, 5000), "ticker stops cleanly (%llu "
		  "writes)", (unsigned long long)ftp_ticker_count(&tick));
	ftp_ticker_free(&tick);
	ok = ftp_region_rw(DST, 4000 * KG_PAGE_SIZE, 0xd0e0ull, &back);
	tap_check(ok, "dest writable (pwrite, read back %llx)",
		  (unsigned long long)back);
	e = ftp_rollback(ctl, SRC) ? errno : 0;
	ftp_status(ctl, SRC, &ss);
	tap_check(e && ss.state == FTPAGE_STATE_DONE, "rollback of the done "
		  "source fails (%s), it stays %s", e ? strerror(e) : "succeeded",
		  ftp_state_str(ss.state));

	tap_call(ftp_create(ctl, "fd-local", SIZE, FTPAGE_ROLE_SOURCE),
		 "create a local region");
	t0 = ftp_now_ms();
	r = ftp_sh_out(out, sizeof(out), "ftpagectl wait fd-local --timeout 1");
	tap_check(r == 1 && ftp_now_ms() - t0 >= 900,
		  "ftpagectl wait on it times out: exit %d after %llu ms", r,
		  (unsigned long long)(ftp_now_ms() - t0));
	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC) &&
		  !ftp_destroy(ctl, "fd-local"), "destroy the regions");
}

static void part_interval(void)
{
	struct ftpage_status sd, ss;
	struct ftp_ticker tick;
	uint64_t e0, e1, estop, t0, c, diff;
	int64_t written, n;
	bool ok;

	tap_check(ftp_lease_params(1000, 15000, 300),
		  "commit_interval_ms=300 (lease_ms=1000 rollback_after_ms=15000)");
	ok = ftp_pair_pull_complete(ctl, SRC2, DST2, SIZE, SEED + 1, NULL,
				    PORT + 1, 0, &written);
	if (!tap_check(ok, "second pair pulled to complete"))
		return;
	ftp_pattern_image(model, SIZE, SEED + 1, NULL);
	ftp_status(ctl, DST2, &sd);
	e0 = sd.epoch;
	n = ftp_write_stamps(DST2, model, SIZE, 7, two_hundred);
	ok = n == 200 && !ftp_ticker_start(&tick, DST2, SIZE, TICK_PAGE);
	tap_check(ok, "200 pages stamped, ticker on page %d, no commit from "
		  "userspace", TICK_PAGE);
	ftp_sleep_ms(1500);
	ftp_status_epoch_diag(ctl, DST2, &sd);
	ftp_status_epoch_diag(ctl, SRC2, &ss);
	e1 = sd.epoch;
	tap_check(e1 >= e0 + 2 && ss.committed_epoch >= 1,
		  "epochs advance by themselves: dest epoch %llu -> %llu in 1.5 s, "
		  "source committed_epoch %llu", (unsigned long long)e0,
		  (unsigned long long)e1, (unsigned long long)ss.committed_epoch);
	ok = ftp_ticker_stop(&tick, 5000);
	c = ftp_ticker_count(&tick);
	memcpy(model + TICK_PAGE * KG_PAGE_SIZE, &c, 8);
	ftp_ticker_free(&tick);
	ftp_status(ctl, DST2, &sd);
	estop = sd.epoch;
	tap_check(ok && c > 0, "ticker stopped after %llu writes (epoch %llu)",
		  (unsigned long long)c, (unsigned long long)estop);
	t0 = ftp_now_ms();
	do {
		ftp_sleep_ms(50);
		ftp_status(ctl, DST2, &sd);
		ftp_status(ctl, SRC2, &ss);
	} while (!(sd.epoch > estop && ss.committed_epoch == sd.epoch &&
		   sd.committed_epoch == sd.epoch) && ftp_now_ms() - t0 < 10000);
	ftp_epoch_diag(DST2, &sd);
	ftp_epoch_diag(SRC2, &ss);
	tap_check(sd.epoch > estop && ss.committed_epoch == sd.epoch,
		  "an epoch sealed after the stop (%llu) is applied on the source "
		  "(%llu)", (unsigned long long)sd.epoch,
		  (unsigned long long)ss.committed_epoch);
	diff = ftp_region_diff(DST2, model, SIZE, "dest vs model", 4);
	tap_check(diff == 0, "dest equals the model (%llu differ)",
		  (unsigned long long)diff);
	tap_call(ftp_rollback(ctl, SRC2), "rollback the source");
	ftp_status_epoch_diag(ctl, SRC2, &ss);
	diff = ftp_region_diff(SRC2, model, SIZE, "source vs model", 8);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && diff == 0,
		  "source %s at committed_epoch %llu equals the model exactly "
		  "(%llu differ)", ftp_state_str(ss.state),
		  (unsigned long long)ss.committed_epoch, (unsigned long long)diff);
	tap_check(!ftp_destroy(ctl, DST2) && !ftp_destroy(ctl, SRC2),
		  "destroy both regions");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	model = malloc(SIZE);
	if (!model)
		tap_skip_all("out of memory");
	tap_plan(34);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_kmsg_mark("ft_done");
	part_done();
	part_interval();
	tap_check(ftp_kmsg_clean("ft_done"), "no kernel warning");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
