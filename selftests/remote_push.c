// SPDX-License-Identifier: GPL-2.0
/*
 * remote_push (topology pair): the background push alone completes a dest.
 *
 * A 64 MiB source, half of it pattern pages in runs of 64 and half never
 * written, is frozen and served with push on; a dest pulls it and nothing
 * touches the dest. The dest must reach state complete on its own (bounded
 * wait), with every page known, no demand request, data pages pushed and
 * zero pages sent as zero; the source learns it (state complete, every
 * page sent) and both regions are equal byte for byte.
 */
#define _GNU_SOURCE
#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(64 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x9005ed11
#define PORT		7425

static bool half(uint64_t p)
{
	return !((p / 64) & 1);
}

int main(void)
{
	struct ftpage_status sd, ss;
	struct ftp_digest ds, dd;
	int64_t written;
	uint64_t t0;
	int ctl, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(13);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();

	tap_call(ftp_create(ctl, "pu-src", SIZE, FTPAGE_ROLE_SOURCE), "create source");
	written = ftp_fill_pattern("pu-src", SIZE, SEED, half);
	tap_check(written == PAGES / 2 && !ftp_freeze(ctl, "pu-src"),
		  "fill %lld of %llu pages, freeze", (long long)written,
		  (unsigned long long)PAGES);
	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, "pu-src", FTP_PAIR_A_ADDR, PORT, 0),
		 "serve (push on) in ftpa");
	tap_call(ftp_create(ctl, "pu-dst", SIZE, FTPAGE_ROLE_DEST), "create dest");
	ftp_netns_enter(FTP_PAIR_B_NS);
	t0 = ftp_now_ms();
	if (!tap_call(ftp_pull(ctl, "pu-dst", "pu-src", FTP_PAIR_A_ADDR, PORT),
		      "pull in ftpb, then touch nothing"))
		return tap_finish();
	ftp_netns_enter(NULL);

	ok = !ftp_wait_state(ctl, "pu-dst", FTPAGE_STATE_COMPLETE, 120000, &sd);
	ftp_status_diag("pu-dst", &sd);
	tap_check(ok, "dest reaches complete on its own in %llu ms (state %s)",
		  (unsigned long long)(ftp_now_ms() - t0), ftp_state_str(sd.state));
	tap_check(sd.pages_known == sd.pages_total && sd.pages_total == PAGES &&
		  sd.demand_faults == 0 && sd.pages_fetched == 0 &&
		  sd.pages_pushed == (uint64_t)written &&
		  sd.zero_pages == PAGES - (uint64_t)written &&
		  sd.pages_present == (uint64_t)written && sd.errors == 0,
		  "dest: pages_known %llu == pages_total, 0 demand, pushed %llu "
		  "== %lld data pages, zero %llu, present %llu",
		  (unsigned long long)sd.pages_known,
		  (unsigned long long)sd.pages_pushed, (long long)written,
		  (unsigned long long)sd.zero_pages,
		  (unsigned long long)sd.pages_present);
	ok = !ftp_wait_state(ctl, "pu-src", FTPAGE_STATE_COMPLETE, 20000, &ss);
	ftp_status_diag("pu-src", &ss);
	tap_check(ok, "source state complete (%s)", ftp_state_str(ss.state));
	tap_check(ss.pages_known == PAGES && ss.pages_served == 0 &&
		  ss.pages_pushed == (uint64_t)written,
		  "source: every page sent (%llu), %llu pushed, 0 served",
		  (unsigned long long)ss.pages_known,
		  (unsigned long long)ss.pages_pushed);

	ok = !ftp_region_digest("pu-src", SIZE, SEED, &ds) &&
	     !ftp_region_digest("pu-dst", SIZE, SEED, &dd);
	tap_diag("digest source %016llx dest %016llx, pattern pages %llu / %llu",
		 (unsigned long long)ds.hash, (unsigned long long)dd.hash,
		 (unsigned long long)ds.pattern_pages,
		 (unsigned long long)dd.pattern_pages);
	tap_check(ok && ds.hash == dd.hash && dd.pattern_pages == (uint64_t)written &&
		  dd.nonzero_pages == (uint64_t)written,
		  "dest equals the source byte for byte");
	tap_check(!ftp_destroy(ctl, "pu-dst") && !ftp_destroy(ctl, "pu-src"),
		  "destroy both regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
