// SPDX-License-Identifier: GPL-2.0
/*
 * ft_flap_pull (topology pair): a link that goes away for ~2 s during
 * post-copy, twice, costs nothing: the destination reconnects, resends its
 * requests, the push resumes, and the migration completes with every page
 * exact.
 *
 * lease_ms=1000 rollback_after_ms=15000 (far beyond the outages: this test
 * is about surviving them). A 128 MiB source, 7 pages in 8 kg pattern and
 * every 8th never written (zero), frozen and served with push; a dest
 * pulls it. Both sides lease: the source reports ATTACHED with a deadline,
 * the dest a lease within lease_ms.
 * Flap 1, once 10% of the pages are known: veth-a down for 2 s. Flap 2,
 * once 50% are known: netem loss 100% on both ends for 2 s. During each,
 * a child maps the dest and reads a page near the end of the region (not
 * pushed yet); the outage is sampled (state, fenced, connected). After
 * each the child's read completes with the right content.
 * Then: the dest completes; reconnects >= 1; no fault failed (errors 0);
 * the dest holds exactly the model (every pattern page, zeroes elsewhere,
 * the same digest as the source); the dest is leased again (not fenced,
 * lease_left_ms > 0); the source is complete and still attached; no
 * kernel warning.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(128 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xf1a9b011
#define PORT		7511
#define LEASE_MS	1000
#define SRC		"fp-src"
#define DST		"fp-dst"
#define OUTAGE_MS	2000

static int ctl;

static bool seven_in_eight(uint64_t p)
{
	return p % 8 != 3;
}

/* Wait for pages_known >= want while pulling; false if it completed first. */
static bool wait_known(uint64_t want, struct ftpage_status *st)
{
	uint64_t t0 = ftp_now_ms();

	while (ftp_now_ms() - t0 < 60000) {
		if (ftp_status(ctl, DST, st))
			return false;
		if (st->state != FTPAGE_STATE_PULLING)
			return false;
		if (st->pages_known >= want)
			return true;
		ftp_sleep_ms(5);
	}
	return false;
}

/* One outage of OUTAGE_MS made by cut(true) .. cut(false). */
static void flap(int n, const char *how, int (*cut)(bool down), uint64_t at)
{
	struct ftpage_status st, s0 = { 0 };
	uint64_t t0, page = PAGES - 1 - n * 8, ms = 0, known0;
	bool seen_broken = false, seen_fenced = false, seen_down = false;
	int status = 0, r;
	pid_t pid;
	char s;

	bool ok = wait_known(at, &s0);

	if (!tap_check(ok, "flap %d: dest still pulling at "
		       "%llu%% of the pages (%s, %llu known)", n,
		       (unsigned long long)(at * 100 / PAGES),
		       ftp_state_str(s0.state),
		       (unsigned long long)s0.pages_known))
		return;
	t0 = ftp_now_ms();
	if (!tap_check(!cut(true), "flap %d: %s", n, how))
		return;
	ftp_status(ctl, DST, &st);
	known0 = st.pages_known;
	/* a read of a page the push has not reached; it must wait */
	pid = ftp_touch_child(DST, SIZE, page, true,
			      seven_in_eight(page) ? kg_pattern_word(page, SEED, 0) : 0);
	while (ftp_now_ms() - t0 < OUTAGE_MS) {
		ftp_status(ctl, DST, &st);
		seen_broken |= st.state == FTPAGE_STATE_BROKEN;
		seen_fenced |= !!(st.status_flags & FTPAGE_STATUS_FENCED);
		seen_down |= st.connected == 0;
		ftp_sleep_ms(50);
	}
	ftp_lease_diag(DST, &st);
	tap_diag("flap %d: during the outage: broken %s, fenced %s, a moment "
		 "with no channel up %s; pages_known %llu -> %llu", n,
		 seen_broken ? "yes" : "no", seen_fenced ? "yes" : "no",
		 seen_down ? "yes" : "no", (unsigned long long)known0,
		 (unsigned long long)st.pages_known);
	s = ftp_proc_state(pid);
	r = ftp_wait_child(pid, 0, &status, NULL);
	tap_check(r == 0, "flap %d: a reader of page %llu waits during the outage "
		  "(state %c)", n, (unsigned long long)page, s ? s : '-');
	tap_check(!cut(false), "flap %d: link back after %llu ms", n,
		  (unsigned long long)(ftp_now_ms() - t0));
	if (r == 0)
		r = ftp_reap_child(pid, 30000, &status, &ms);
	tap_check(r == 1 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "flap %d: the reader then gets the right content (%llu ms "
		  "after the link came back; %s)", n, (unsigned long long)ms,
		  ftp_wstatus_str(status));
}

static int link_cut(bool down)
{
	return ftp_pair_link(!down);
}

static int loss_cut(bool down)
{
	return ftp_pair_netem(down ? "loss 100" : NULL);
}

int main(void)
{
	struct ftpage_status sd, ss;
	struct ftp_digest ds, dd;
	int64_t written = 0;
	uint64_t t0;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(24);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(LEASE_MS, 15000);
	ftp_kmsg_mark("ft_flap_pull");
	t0 = ftp_now_ms();
	ok = ftp_pair_pull(ctl, SRC, DST, SIZE, SEED, seven_in_eight, PORT, 0,
			   &written);
	if (!tap_check(ok && written == (int64_t)(PAGES - PAGES / 8),
		       "source filled (%lld pages) and served, dest pulling",
		       (long long)written))
		return tap_finish();
	tap_diag("set up in %llu ms", (unsigned long long)(ftp_now_ms() - t0));

	ok = !ftp_wait_flag(ctl, SRC, FTPAGE_STATUS_ATTACHED, true, 5000, &ss);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok && ss.lease_left_ms > 0 && ss.lease_left_ms <= 15000,
		  "source attached, deadline %u ms (<= 15000)", ss.lease_left_ms);
	t0 = ftp_now_ms();
	while (!ftp_status(ctl, DST, &sd) && !sd.lease_left_ms &&
	       ftp_now_ms() - t0 < 3000)
		ftp_sleep_ms(10);
	ftp_lease_diag(DST, &sd);
	tap_check(!(sd.status_flags & FTPAGE_STATUS_FENCED) &&
		  sd.lease_left_ms > 0 && sd.lease_left_ms <= LEASE_MS,
		  "dest leased: lease_left_ms %u in 1..%u, not fenced",
		  sd.lease_left_ms, LEASE_MS);

	flap(1, "veth-a down", link_cut, PAGES / 10);
	flap(2, "netem loss 100% on both ends", loss_cut, PAGES / 2);

	t0 = ftp_now_ms();
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &sd);
	ftp_status_diag(DST, &sd);
	ftp_lease_diag(DST, &sd);
	tap_check(ok && sd.pages_known == PAGES, "dest complete %llu ms after "
		  "the last flap", (unsigned long long)(ftp_now_ms() - t0));
	tap_check(sd.reconnects >= 1, "dest reconnected (reconnects %llu >= 1)",
		  (unsigned long long)sd.reconnects);
	tap_check(sd.errors == 0 && sd.last_error == FTPAGE_FERR_NONE,
		  "no fault failed (errors %llu, last %s)",
		  (unsigned long long)sd.errors, ftp_ferr_str(sd.last_error));
	ok = !ftp_region_digest(SRC, SIZE, SEED, &ds) &&
	     !ftp_region_digest(DST, SIZE, SEED, &dd);
	tap_diag("digests: source %016llx (%llu non-zero, %llu pattern), dest "
		 "%016llx (%llu non-zero, %llu pattern)",
		 (unsigned long long)ds.hash, (unsigned long long)ds.nonzero_pages,
		 (unsigned long long)ds.pattern_pages, (unsigned long long)dd.hash,
		 (unsigned long long)dd.nonzero_pages,
		 (unsigned long long)dd.pattern_pages);
	tap_check(ok && dd.pattern_pages == (uint64_t)written &&
		  dd.nonzero_pages == (uint64_t)written && dd.hash == ds.hash,
		  "dest equals the model exactly: %lld pattern pages, the rest "
		  "zero, digest of the source", (long long)written);
	ok = !ftp_wait_flag(ctl, DST, FTPAGE_STATUS_FENCED, false, 5000, &sd);
	ftp_status(ctl, DST, &sd);
	tap_check(ok && sd.lease_left_ms > 0, "dest leased again (lease_left_ms "
		  "%u, not fenced)", sd.lease_left_ms);
	ok = !ftp_wait_state(ctl, SRC, FTPAGE_STATE_COMPLETE, 10000, &ss);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok && (ss.status_flags & FTPAGE_STATUS_ATTACHED),
		  "source complete (%s), still attached", ftp_state_str(ss.state));
	ftp_pair_netem(NULL);
	return ftp_pair_close(ctl, "ft_flap_pull", DST, SRC);
}
