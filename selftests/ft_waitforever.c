// SPDX-License-Identifier: GPL-2.0
/*
 * ft_waitforever (topology pair): the link-loss policy rollback_after_ms=0
 * waits forever, as QEMU's postcopy-paused does.
 *
 * lease_ms=1000 rollback_after_ms=0; a complete dest runs a ticker (a
 * writer stamping a mapped page). The link is cut for 8 s, far past the
 * lease plus the margin: the dest fences (the ticker stands still), the
 * source stays attached and never rolls back. The link comes
 * back: the dest reconnects, its lease is renewed, the ticker runs again,
 * and the source has still not rolled back.
 */
#define _GNU_SOURCE
#include "ftp_remote.h"
#include "kvm_guest.h"

#define SIZE		(4ULL << 20)
#define SEED		0xf0e7e7e1
#define PORT		7571
#define SRC		"fw-src"
#define DST		"fw-dst"
#define TICK_PAGE	7
#define CUT_MS		8000

int main(void)
{
	struct ftpage_status ss, sd;
	struct ftp_ticker tick;
	uint64_t c1, c2;
	int ctl;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(13);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(1000, 0);
	ftp_kmsg_mark("ft_waitforever");
	ok = ftp_pair_pull_complete(ctl, SRC, DST, SIZE, SEED, NULL, PORT, 0,
				    NULL);
	if (!tap_check(ok && !ftp_ticker_start(&tick, DST, SIZE, TICK_PAGE),
		       "dest complete, a ticker stamps page %d", TICK_PAGE))
		return tap_finish();

	tap_check(!ftp_pair_link(false), "link cut for %d ms", CUT_MS);
	ok = !ftp_wait_flag(ctl, DST, FTPAGE_STATUS_FENCED, true, 5000, &sd);
	ftp_sleep_ms(200);
	c1 = ftp_ticker_count(&tick);
	ftp_sleep_ms(CUT_MS - 1000);
	c2 = ftp_ticker_count(&tick);
	tap_check(ok && c2 == c1, "dest fenced, the ticker stands still "
		  "(%llu then %llu)", (unsigned long long)c1,
		  (unsigned long long)c2);
	ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check((ss.state == FTPAGE_STATE_COMPLETE ||
		   ss.state == FTPAGE_STATE_FROZEN) &&
		  (ss.status_flags & FTPAGE_STATUS_ATTACHED) &&
		  !ftp_kmsg_has("ft_waitforever", "rolling back"),
		  "source still %s and attached, no rollback",
		  ftp_state_str(ss.state));

	tap_check(!ftp_pair_link(true), "link back");
	ok = !ftp_wait_flag(ctl, DST, FTPAGE_STATUS_FENCED, false, 20000, &sd);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(ok && sd.reconnects >= 1 && sd.state == FTPAGE_STATE_COMPLETE,
		  "dest reconnected, lease renewed (reconnects %llu)",
		  (unsigned long long)sd.reconnects);
	c1 = ftp_ticker_count(&tick);
	ftp_sleep_ms(500);
	c2 = ftp_ticker_count(&tick);
	tap_check(c2 > c1, "the ticker runs again (%llu then %llu)",
		  (unsigned long long)c1, (unsigned long long)c2);
	ftp_status(ctl, SRC, &ss);
	tap_check(ftp_ticker_stop(&tick, 5000) &&
		  (ss.state == FTPAGE_STATE_COMPLETE ||
		   ss.state == FTPAGE_STATE_FROZEN),
		  "ticker stopped; source still %s", ftp_state_str(ss.state));
	return ftp_pair_close(ctl, "ft_waitforever", DST, SRC);
}
