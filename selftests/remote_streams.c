// SPDX-License-Identifier: GPL-2.0
/*
 * remote_streams (topology pair): the background push over several TCP
 * streams ("streams" parameter) sends every page once, and survives a
 * link outage.
 *
 * A 32 MiB source, 7 pages in 8 kg pattern and every 8th never written
 * (zero), frozen and served with push, pulled by a dest that nobody maps
 * (no demand request). With streams=1 and streams=8: the dest opens
 * demand and that many push and journal streams (connected == 1 + 2 x
 * streams on both sides), completes, equals the source exactly
 * (digest), and was sent every page exactly once: pages pushed plus zero
 * pages == pages, on both sides. With streams=4 (and a 1 s lease) a 2 s
 * outage (netem loss 100%) at a third of the pages: the dest declares the
 * link lost, reconnects every stream, completes and equals the source
 * exactly. The source's push and journal connections run bbr (parameter
 * bulk_cc), its demand connection the namespace's default (cubic). No
 * kernel warning.
 */
#define _GNU_SOURCE
#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(32 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x57e4a300
#define PORT		7601

static int ctl;

static bool seven_in_eight(uint64_t p)
{
	return p % 8 != 3;
}

/* Wait until the dest knows @want pages while still pulling. */
static bool wait_known(const char *dst, uint64_t want)
{
	struct ftpage_status st;
	uint64_t t0 = ftp_now_ms();

	while (ftp_now_ms() - t0 < 60000) {
		if (ftp_status(ctl, dst, &st) || st.state != FTPAGE_STATE_PULLING)
			return false;
		if (st.pages_known >= want)
			return true;
		ftp_sleep_ms(5);
	}
	return false;
}

/* Digest of both sides equal, every pattern page there. */
static void check_exact(const char *src, const char *dst, int64_t written)
{
	struct ftp_digest ds, dd;
	bool ok;

	ok = !ftp_region_digest(src, SIZE, SEED, &ds) &&
	     !ftp_region_digest(dst, SIZE, SEED, &dd);
	tap_check(ok && dd.hash == ds.hash && dd.pattern_pages == (uint64_t)written,
		  "%s equals %s exactly: %llu pattern pages of %lld, digest "
		  "%016llx", dst, src, (unsigned long long)dd.pattern_pages,
		  (long long)written, (unsigned long long)dd.hash);
}

/*
 * How many of the source's established connections on @port run @cc
 * (ss -i names it before "wscale:"), or -1.
 */
/* Connections of the source (netns ftpa) at @port under @cc, or -1. */
static int cc_count(unsigned int port, const char *cc)
{
	struct ftp_ss_conn conns[32];
	int i, n, count = 0;

	n = ftp_ss_conns(FTP_PAIR_A_NS, port, conns, 32);
	for (i = 0; i < n && i < 32; i++) {
		printf("# source connection from port %u: %s\n",
		       conns[i].peer_port, conns[i].cc);
		count += !strcmp(conns[i].cc, cc);
	}
	return n < 0 ? -1 : count;
}

/*
 * The demand channel's threads run at nice -20, the others at 0: the
 * dest's request sender (ftpage-tx) and its demand receiver (one of the
 * ftpage-rx, one per channel), the source's demand server (one of the
 * ftpage-src, one per channel).
 */
static void check_demand_threads(unsigned int streams)
{
	int tx, rx, src, tx20, rx20, src20;

	tx = ftp_threads("ftpage-tx/", -20, &tx20);
	rx = ftp_threads("ftpage-rx/", -20, &rx20);
	src = ftp_threads("ftpage-src/", -20, &src20);
	tap_check(tx == 1 && tx20 == 1 && rx == (int)ftp_channels(streams) &&
		  rx20 == 1 && src == (int)ftp_channels(streams) &&
		  src20 == 1,
		  "%u streams: the demand channel's threads at nice -20: dest "
		  "sender %d of %d, receiver %d of %d; source %d of %d",
		  streams, tx20, tx, rx20, rx, src20, src);
}

/* One migration over @streams streams; with @flap, a 2 s outage. */
static void run(unsigned int streams, bool flap, unsigned int n)
{
	struct ftpage_status sd, ss;
	char src[16], dst[16];
	int64_t written = -1;
	int bbr, cubic;
	uint64_t t0;
	bool ok;

	snprintf(src, sizeof(src), "rs-src%u", n);
	snprintf(dst, sizeof(dst), "rs-dst%u", n);
	tap_check(!ftp_param_set("streams", streams), "streams=%u", streams);
	t0 = ftp_now_ms();
	ok = ftp_pair_pull(ctl, src, dst, SIZE, SEED, seven_in_eight, PORT + n,
			   0, &written);
	if (flap) {
		ok = ok && wait_known(dst, PAGES / 3) && !ftp_pair_netem("loss 100");
		ftp_sleep_ms(2000);
		ok = !ftp_pair_netem(NULL) && ok;
		tap_check(ok, "%u streams: 2 s outage at a third of the pages",
			  streams);
	}
	ok = ok && !ftp_wait_state(ctl, dst, FTPAGE_STATE_COMPLETE, 90000, &sd);
	/* every stream up again (after the outage: reconnected) */
	while (ok && sd.connected != ftp_channels(streams) && ftp_now_ms() - t0 < 90000) {
		ftp_sleep_ms(20);
		ok = !ftp_status(ctl, dst, &sd);
	}
	ftp_status_diag(dst, &sd);
	tap_check(ok && sd.errors == 0 && (!flap || sd.reconnects >= 1) &&
		  sd.connected == ftp_channels(streams),
		  "%u streams: dest complete in %llu ms, %u channels up, %llu "
		  "reconnects, errors %llu", streams,
		  (unsigned long long)(ftp_now_ms() - t0), sd.connected,
		  (unsigned long long)sd.reconnects,
		  (unsigned long long)sd.errors);
	check_exact(src, dst, written);
	if (!flap) {
		ftp_status(ctl, src, &ss);
		ftp_status_diag(src, &ss);
		tap_check(sd.pages_pushed + sd.zero_pages == PAGES &&
			  ss.pages_pushed + ss.zero_pages == PAGES &&
			  sd.demand_faults == 0,
			  "%u streams: every page sent once: dest %llu pushed + "
			  "%llu zero, source %llu + %llu, of %llu", streams,
			  (unsigned long long)sd.pages_pushed,
			  (unsigned long long)sd.zero_pages,
			  (unsigned long long)ss.pages_pushed,
			  (unsigned long long)ss.zero_pages,
			  (unsigned long long)PAGES);
		tap_check(ss.connected == ftp_channels(streams),
			  "the source serves %u channels", ss.connected);
		bbr = cc_count(PORT + n, "bbr");
		cubic = cc_count(PORT + n, "cubic");
		tap_check(bbr == 2 * (int)streams && cubic == 1,
			  "%u streams: push and journal channels under bbr (%d), "
			  "the demand channel under the default, cubic (%d)",
			  streams, bbr, cubic);
		check_demand_threads(streams);
	}
	tap_check(!ftp_destroy(ctl, dst) && !ftp_destroy(ctl, src),
		  "destroy %s and %s", dst, src);
}

int main(void)
{
	long long streams0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(25);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	/* a lease of 1 s: 1.5 s of silence is a lost link, reconnected */
	ftp_lease_check(1000, 30000);
	streams0 = ftp_param_get("streams");
	ftp_kmsg_mark("remote_streams");
	run(1, false, 0);
	run(8, false, 1);
	run(4, true, 2);
	if (streams0 > 0)
		ftp_param_set("streams", streams0);
	tap_check(ftp_kmsg_clean("remote_streams"), "no kernel warning");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
