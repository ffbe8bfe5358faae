// SPDX-License-Identifier: GPL-2.0
/*
 * ft_wan (topology pair): a migration over a WAN-like link -- a 50 ms
 * round trip, 1% loss, a rate cap -- arrives exact.
 *
 * Three migrations, each with fresh regions: an 8 MiB source, 3 pages in
 * 4 kg pattern and the rest zero, frozen and served with push in ftpa; a
 * dest pulls it in ftpb while a child maps the dest and checks every 4th
 * page in a scrambled order (demand faults racing the push). netem on
 * both veth ends, and what shows it is in effect:
 *
 *   (a) delay 25 ms: a TCP connect across takes at least 50 ms;
 *   (b) loss 1%, delay 5 ms, and one TCP segment per GSO packet (else
 *       netem sees a burst of up to 64 KiB as one packet and loses it
 *       whole: 1% of bursts, a few losses a migration): netem dropped
 *       about 1% of the packets of the migration;
 *   (c) rate 16 Mbit/s, delay 2 ms: the bytes the dest received took at
 *       least as long as the cap allows.
 *
 * Each time the child finds every page right, the dest completes with no
 * error counted on either side and equals the model, every page (and the
 * source's digest). The time each took, the throughput and, for (c), the
 * rate achieved against the cap are printed, not asserted. No kernel
 * warning.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "ftp_remote.h"
#include "kvm_guest.h"

#define MIB		(1ULL << 20)
#define SIZE		(8 * MIB)
#define SEED		0x3a7e0b5e
#define PORT		7591		/* + the case's number */
#define RTT_PORT	7599		/* the round-trip probe */
#define TEST		"ft_wan"
#define GSO_MAX_SEGS	65535		/* a device's default */

struct wan_case {
	const char *what;
	const char *netem;		/* tools/ftp_netem arguments */
	unsigned int rtt_ms;		/* the delays add up to this */
	bool lossy;			/* per segment: gso_max_segs 1 */
	unsigned int rate_kbit;		/* 0: no cap */
};

/* The veth ends: netns, device. */
static const char *const veth[2][2] = {
	{ FTP_PAIR_A_NS, "veth-a" }, { FTP_PAIR_B_NS, "veth-b" },
};

static const struct wan_case cases[] = {
	{ "(a) 50 ms RTT", "delay 25", 50, false, 0 },
	{ "(b) 1% loss", "delay 5 loss 1", 10, true, 0 },
	{ "(c) 16 Mbit/s", "delay 2 rate 16000", 4, false, 16000 },
};

static bool three_in_four(uint64_t p)
{
	return p % 4 != 1;
}

/* A TCP connect from ftpb to ftpa: one round trip (ms), or -1. */
static long link_rtt_ms(void)
{
	int l = -1, c = -1;
	uint64_t t = 0;

	if (!ftp_netns_enter(FTP_PAIR_A_NS))
		l = ftp_tcp_listen(FTP_PAIR_A_ADDR, RTT_PORT);
	if (l >= 0 && !ftp_netns_enter(FTP_PAIR_B_NS)) {
		t = ftp_now_ms();
		c = ftp_tcp_connect(FTP_PAIR_A_ADDR, RTT_PORT, 5000);
		t = ftp_now_ms() - t;
	}
	ftp_netns_enter(NULL);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return c >= 0 ? (long)t : -1;
}

/*
 * The most segments in one GSO packet on both veth ends (65535 by
 * default; 1: every TCP segment is a packet for netem too). With the
 * host's ip: busybox ip cannot set it. 0 or -1.
 */
static int veth_gso_segs(unsigned int segs)
{
	return ftp_lib_sh("host_cmd ip -n %s link set dev %s gso_max_segs %u && "
			  "host_cmd ip -n %s link set dev %s gso_max_segs %u",
			  veth[0][0], veth[0][1], segs, veth[1][0], veth[1][1],
			  segs) ? -1 : 0;
}

/*
 * Packets netem sent and dropped on both veth ends since it was set
 * (tools/ftp_netem stats: "sent P packets B bytes, dropped D"). 0 or -1.
 */
static int netem_stats(unsigned long *sent, unsigned long *dropped)
{
	unsigned long p, b, d;
	char out[160];
	int i;

	*sent = *dropped = 0;
	for (i = 0; i < 2; i++) {
		if (ftp_sh_out(out, sizeof(out), "nsenter --net=/host/run/netns/%s "
			       "ftp_netem %s stats", veth[i][0], veth[i][1]) ||
		    sscanf(out, "sent %lu packets %lu bytes, dropped %lu", &p, &b,
			   &d) != 3)
			return -1;
		tap_diag("netem %s: %s", veth[i][1], out);
		*sent += p;
		*dropped += d;
	}
	return 0;
}

/* Fresh regions: source filled, frozen, served in ftpa; dest created. */
static bool wan_serve(int ctl, const char *src, const char *dst,
		      unsigned int port, int64_t *written)
{
	bool ok;

	ok = !ftp_create(ctl, src, SIZE, FTPAGE_ROLE_SOURCE) &&
	     (*written = ftp_fill_pattern(src, SIZE, SEED, three_in_four)) > 0 &&
	     !ftp_freeze(ctl, src) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, src, FTP_PAIR_A_ADDR, port, 0) &&
	     !ftp_netns_enter(NULL) &&
	     !ftp_create(ctl, dst, SIZE, FTPAGE_ROLE_DEST);
	if (!ok)
		tap_diag("serve %s: %s", src, strerror(errno));
	ftp_netns_enter(NULL);
	return ok;
}

static int wan_pull(int ctl, const char *src, const char *dst,
		    unsigned int port)
{
	int ret = -1;

	if (!ftp_netns_enter(FTP_PAIR_B_NS))
		ret = ftp_pull(ctl, dst, src, FTP_PAIR_A_ADDR, port);
	ftp_netns_enter(NULL);
	return ret;
}

/* What shows the link was what the case says, after the migration. */
static void wan_link_check(const struct wan_case *c,
			   const struct ftpage_status *sd, uint64_t ms)
{
	double mbit = ms ? sd->bytes_rx * 8.0 / ms / 1000.0 : 0;
	unsigned long long floor_ms;
	unsigned long sent, dropped, all;
	int r;

	if (c->lossy) {
		/* 1% of thousands: 0.3..3% is five sigmas and more */
		r = netem_stats(&sent, &dropped);
		all = sent + dropped;
		tap_check(!r && dropped * 1000 >= all * 3 &&
			  dropped * 100 <= all * 3,
			  "%s: netem dropped %lu of %lu packets of the migration "
			  "(%.2f%%)", c->what, dropped, all,
			  all ? dropped * 100.0 / all : 0.0);
	}
	if (c->rate_kbit) {
		floor_ms = sd->bytes_rx * 8 / c->rate_kbit;
		tap_diag("%s: push rate %.2f Mbit/s of payload, %.0f%% of the "
			 "cap", c->what, mbit, mbit * 100000.0 / c->rate_kbit);
		tap_check(ms >= floor_ms, "%s: the cap held: %llu bytes took "
			  "%llu ms, at least %llu ms at %u kbit/s", c->what,
			  (unsigned long long)sd->bytes_rx,
			  (unsigned long long)ms, floor_ms, c->rate_kbit);
	}
}

/* One migration over the link of case i. */
static void wan_run(int ctl, unsigned int i, const uint8_t *model)
{
	const struct wan_case *c = &cases[i];
	struct ftpage_status sd, ss;
	char src[16], dst[16];
	int64_t written = -1;
	int status = 0, r;
	uint64_t t0, ms;
	long rtt;
	pid_t pid;
	bool ok;

	snprintf(src, sizeof(src), "fw-src%u", i);
	snprintf(dst, sizeof(dst), "fw-dst%u", i);
	ok = !ftp_pair_netem(c->netem) && (!c->lossy || !veth_gso_segs(1));
	rtt = ok ? link_rtt_ms() : -1;
	tap_check(ok && rtt >= (long)c->rtt_ms, "%s: netem %s on both ends%s, "
		  "a round trip takes %ld ms (at least %u)", c->what, c->netem,
		  c->lossy ? ", one segment per packet" : "", rtt, c->rtt_ms);

	ok = wan_serve(ctl, src, dst, PORT + i, &written);
	t0 = ftp_now_ms();
	ok = ok && !wan_pull(ctl, src, dst, PORT + i);
	if (!tap_check(ok, "%s: source served (%lld pattern pages), dest "
		       "pulling", c->what, (long long)written))
		return;
	pid = ftp_scan_child(dst, SIZE, SEED, three_in_four, 4);
	ok = !ftp_wait_state(ctl, dst, FTPAGE_STATE_COMPLETE, 60000, &sd);
	ms = ftp_now_ms() - t0;
	ftp_status_diag(dst, &sd);
	ftp_status(ctl, src, &ss);
	tap_check(ok && !sd.errors && !ss.errors, "%s: dest complete in %llu "
		  "ms, no error (dest %llu, source %llu)", c->what,
		  (unsigned long long)ms, (unsigned long long)sd.errors,
		  (unsigned long long)ss.errors);
	tap_diag("%s: %.2f MiB in %llu ms: %.2f MiB/s; %llu demand faults, "
		 "%llu reconnects", c->what, sd.bytes_rx / (double)MIB,
		 (unsigned long long)ms,
		 ms ? sd.bytes_rx / (double)MIB * 1000.0 / ms : 0.0,
		 (unsigned long long)sd.demand_faults,
		 (unsigned long long)sd.reconnects);
	r = ftp_reap_child(pid, 30000, &status, NULL);
	tap_check(r == 1 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "%s: the checker mapping the dest found every 4th page right "
		  "(%s: bad pages)", c->what, ftp_wstatus_str(status));
	ftp_exact_check(src, dst, SIZE, SEED, model, written);
	wan_link_check(c, &sd, ms);
	if (c->lossy)
		veth_gso_segs(GSO_MAX_SEGS);
	tap_check(!ftp_destroy(ctl, dst) && !ftp_destroy(ctl, src),
		  "%s: destroy both regions", c->what);
}

int main(void)
{
	uint8_t *model = malloc(SIZE);
	unsigned int i;
	int ctl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model)
		tap_skip_all("out of memory");
	tap_plan(2 + 6 * 3 + 2 + 1);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_pattern_image(model, SIZE, SEED, three_in_four);
	ftp_kmsg_mark(TEST);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		wan_run(ctl, i, model);
	ftp_pair_netem(NULL);
	tap_check(ftp_kmsg_clean(TEST), "no kernel warning");
	close(ctl);
	ftp_pair_teardown();
	free(model);
	return tap_finish();
}
