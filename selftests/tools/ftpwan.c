// SPDX-License-Identifier: GPL-2.0
/*
 * ftpwan - ftpage's background push over a long, capped link, with 1 to 8
 * TCP streams (a tool, run by `make bench-wan` and, with --smoke, by the
 * wan_smoke test; topology pair: it sets up netns ftpa (source) and ftpb
 * (destination) itself, module loaded).
 *
 *   ftpwan [--smoke] [--mib N] [--kbit K]
 *
 * For each round-trip time (0.1, 10, 50, 100 ms: netem delay of half of
 * it on both veth ends) and each number of streams (1, 2, 4, 8: the
 * module's "streams" parameter), with the link capped at K kbit/s (netem
 * rate, both ways, one FIFO; default 40000): a frozen N MiB source
 * (default 64, every page written: 13 s at the default cap, so that the
 * handshakes and TCP's start-up, a dozen round trips, do not pass for the
 * link's rate) is served with push and pulled, while a child maps
 * the destination and reads every 64th page in a scrambled order (demand
 * faults racing the push). Printed per run: push throughput (region bytes
 * over the time from the PULL to complete), link utilisation against the
 * cap, how many streams pushed (the budget pauses those it has no share
 * for), and the demand-fault latency p50/p99 from the module's histogram
 * (request to arrival) -- the goals: >= 80% of the capped link at 100 ms
 * RTT with enough streams, demand p99 within 2x (RTT + a page's wire time).
 * Then, with 2 streams: at each RTT over a shaped link that sends the
 * packets marked with the demand channel's DSCP (parameter demand_dscp)
 * first, as a network that honours the mark would (netem's delay, then an
 * HTB shaper at the cap); over it at 0.1 and 10 ms with no push at all
 * (the demand path alone: what the emulated CPUs give); over the FIFO at
 * 10 and 100 ms without the push's in-flight budget (bulk_gain 0) and
 * with the system's congestion control (bulk_cc "").
 *
 * Checks (TAP) only what is exact: each run completes, the destination
 * equals the source (digest), the child read every page right; and that
 * the source's push budget engaged at bulk_gain percent of the path's
 * BDP, within a factor of two (or stayed 0 with bulk_gain 0); that every
 * stream pushed where the budget gives each 16 segments, and no more
 * streams than it has such shares for (at least one) where not; that over
 * the shaped link the demand replies went through its priority class and
 * the push did not. With --smoke: 16 MiB, 0.1 and 50 ms, 1 and 4 streams,
 * and 2 over the shaped link. Timings are
 * reported, never asserted. Files wan.txt and wan.json go to stdout
 * between "@@FTPAGE-BENCH-FILE <name>@@" and "@@FTPAGE-BENCH-END@@" lines
 * (vm/bench_out.sh extracts them).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ull << 20)
#define SEED		0x3a4e0001u
#define PORT_BASE	7700
#define SCAN_STEP	64
#define U(x)		((unsigned long long)(x))

/* round-trip times, in us */
static const unsigned int rtts_full[] = { 100, 10000, 50000, 100000 };
static const unsigned int rtts_smoke[] = { 100, 50000 };
static const unsigned int streams_full[] = { 1, 2, 4, 8 };
static const unsigned int streams_smoke[] = { 1, 4 };

static struct {
	bool smoke;
	unsigned int mib;
	unsigned int kbit;
} opt = { .mib = 64, .kbit = 40000 };

struct wan_run {
	unsigned int rtt_us, streams;
	/*
	 * MAIN: the table, over one FIFO, as NO_BUDGET and SYSTEM_CC; SHAPED
	 * over the shaped link, as NO_PUSH (the demand path alone).
	 */
	enum { MAIN, SHAPED, NO_PUSH, NO_BUDGET, SYSTEM_CC } variant;
	double mib_s, util;		/* util: of the cap */
	double cpu;			/* the test VM's CPUs busy, 0..1 */
	double p50_ms, p99_ms;
	uint64_t demand;
	uint64_t budget;		/* the source's push_budget, largest seen */
	int pushers;			/* streams that pushed; -1: unknown */
	/* shaped: bytes through the priority class and the rest, veth-a, -b */
	uint64_t class_bytes[2][2];
	bool ok;
};

static struct wan_run runs[16 + 10];
static unsigned int nr_runs;
static int ctl;
static char *txt, *json;
static size_t txt_len, json_len;
static FILE *txt_f, *json_f;

static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(txt_f, fmt, ap);
	va_end(ap);
}

/* The DS field of the demand channel's packets (module parameter). */
static unsigned int demand_tos(void)
{
	long long dscp = ftp_param_get("demand_dscp");

	return dscp > 0 ? (unsigned int)dscp << 2 : 0;
}

/*
 * The link: half the RTT each way, the cap both ways; one FIFO (netem's
 * rate) or shaped (SHAPED, NO_PUSH: the demand channel's packets first).
 */
static bool link_set(const struct wan_run *w)
{
	unsigned int half_us = w->rtt_us / 2;
	char args[96];

	if (w->variant == SHAPED || w->variant == NO_PUSH) {
		/* (a filter on DS field 0 would take every packet) */
		if (!demand_tos())
			tap_diag("demand_dscp is 0: no mark to shape by");
		return demand_tos() &&
		       !ftp_pair_shaped_link(half_us, opt.kbit, demand_tos());
	}
	ftp_pair_netem(NULL);	/* netem's change would keep the shaper */
	snprintf(args, sizeof(args), "delay %u.%03u rate %u limit 100000",
		 half_us / 1000, half_us % 1000, opt.kbit);
	return !ftp_pair_netem(args);
}

#define BULK_CC	"/sys/module/ftpage/parameters/bulk_cc"

/* The module's bulk_cc parameter, as it reads; "" is the system's. */
static const char *bulk_cc(void)
{
	static char cc[32] = "?";
	FILE *f = fopen(BULK_CC, "r");

	if (f && fgets(cc, sizeof(cc), f))
		cc[strcspn(cc, "\n")] = '\0';
	if (f)
		fclose(f);
	return cc[0] ? cc : "the system's default";
}

static bool bulk_cc_set(const char *cc)
{
	FILE *f = fopen(BULK_CC, "w");
	bool ok = f && fprintf(f, "%s\n", cc) > 0;

	return f && !fclose(f) && ok;
}

/* A connection that sent this much pushed (the others sent handshakes). */
#define PUSHED_MIN	(64 * 1024)
#define MSS		1448		/* veth, TCP timestamps */

/*
 * How many of source @src's connections on @port pushed, into
 * @w->pushers: of those but the demand connection (the journal's send the
 * source nothing but acknowledgements), the ones that sent PUSHED_MIN or
 * more.
 */
static void pushers(const char *src, unsigned int port, struct wan_run *w)
{
	unsigned int demand = ftp_attached_port(src, "demand channel");
	struct ftp_ss_conn c[32];
	int i, n, count = 0;

	n = ftp_ss_conns(FTP_PAIR_A_NS, port, c, 32);
	for (i = 0; i < n && i < 32; i++)
		count += c[i].peer_port != demand &&
			 c[i].bytes_acked >= PUSHED_MIN;
	if (n >= 0 && demand)
		w->pushers = count;
}

/*
 * Until @dst completes (or 300 s), sampling the push's in-flight budget
 * on @src meanwhile; then how many connections on @port pushed (they
 * stay open until the regions go; ss under TCG meanwhile would take the
 * push's CPU): 0 when done.
 */
static int wait_complete(const char *src, const char *dst, unsigned int port,
			 struct ftpage_status *st, struct wan_run *w)
{
	uint64_t end = ftp_now_ms() + 300000;
	struct ftpage_status ss;

	while (!ftp_status(ctl, dst, st) && ftp_now_ms() < end) {
		if (st->state == FTPAGE_STATE_COMPLETE) {
			pushers(src, port, w);
			return 0;
		}
		if (!ftp_status(ctl, src, &ss) && ss.push_budget > w->budget)
			w->budget = ss.push_budget;
		ftp_sleep_ms(5);
	}
	return -1;
}

/*
 * The budget a run showed: none without one; else bulk_gain percent of
 * what the capped link carries in a round trip, within a factor of two:
 * at least half of it (and the module's floor, 64 KiB), at most twice it
 * with 20 ms more RTT (TCG's slack), plus the floor. Where the BDP is well
 * above the floor (the smoke run's 50 ms), a budget stuck at the floor or
 * never measured fails.
 */
static void check_budget(const struct wan_run *w)
{
	long long gain = ftp_param_get("bulk_gain");
	uint64_t rate = (uint64_t)opt.kbit * 1000 / 8;	/* bytes/s */
	uint64_t lo, hi;

	if (w->variant == NO_PUSH)
		return;
	if (w->variant == NO_BUDGET) {
		tap_check(!w->budget, "bulk_gain 0: no push budget (%llu)",
			  U(w->budget));
		return;
	}
	if (gain <= 0)
		gain = 125;
	lo = rate * w->rtt_us / 1000000 * gain / 200;
	if (lo < 64 * 1024)
		lo = 64 * 1024;
	hi = 64 * 1024 + rate * (w->rtt_us + 20000) / 1000000 * gain / 50;
	tap_check(w->budget >= lo && w->budget <= hi,
		  "push budget %llu bytes, in [%llu, %llu] (bulk_gain %lld)",
		  U(w->budget), U(lo), U(hi), gain);
}

/*
 * The streams the budget ran: all where its largest gives each 16
 * segments (kmod/bulk.c), at most that many (at least one) where not.
 */
static void check_pushers(const struct wan_run *w)
{
	uint64_t shares = w->budget / (16 * MSS);

	if (w->variant != MAIN)
		return;
	if (shares >= w->streams)
		tap_check(w->pushers == (int)w->streams,
			  "budget %llu bytes: all %u streams pushed (%d)",
			  U(w->budget), w->streams, w->pushers);
	else
		tap_check(w->pushers >= 1 &&
			  w->pushers <= (int)(shares ? shares : 1),
			  "budget %llu bytes: %d of %u streams pushed, the "
			  "others paused (at most %llu)", U(w->budget),
			  w->pushers, w->streams, U(shares ? shares : 1));
}

/*
 * Over the shaped link, the demand channel's packets went through the
 * priority class (their DS field marked, demand_dscp) both ways, and the
 * push did not: from the source at least a page per demand fault, and
 * less than an eighth of the region's bytes; from the destination at
 * least a message header per fault, and less than the replies.
 */
static void check_marks(const struct wan_run *w, uint64_t size)
{
	const uint64_t *a = w->class_bytes[0], *b = w->class_bytes[1];

	if (w->variant != SHAPED)
		return;
	tap_check(a[0] >= w->demand * KG_PAGE_SIZE && a[0] < size / 8 &&
		  a[1] >= size - size / 8 && b[0] >= w->demand * 24 &&
		  b[0] < a[0],
		  "demand channel marked DSCP %u, sent first both ways: %llu "
		  "bytes of replies and %llu of requests for %llu faults; the "
		  "push unmarked: %llu bytes", demand_tos() >> 2, U(a[0]),
		  U(b[0]), U(w->demand), U(a[1]));
}

/* The test VM's CPU time so far, all CPUs: busy and in all (ticks). */
static void cpu_ticks(uint64_t *busy, uint64_t *all)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *all = 0;
	if (!f)
		return;
	/* user nice system idle iowait irq softirq steal (not busy) */
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
		for (i = 0; i < 8; i++) {
			*all += v[i];
			*busy += i == 3 || i == 4 || i == 7 ? 0 : v[i];
		}
	fclose(f);
}

static void one_run(struct wan_run *w, unsigned int n)
{
	uint64_t size = (uint64_t)opt.mib * MIB, t0, ms, busy0, all0, busy, all;
	bool push = w->variant != NO_PUSH;
	struct ftpage_status st = { 0 };
	char src[16], dst[16];
	struct ftp_digest ds, dd;
	int64_t written = -1;
	int status = -1;
	pid_t scan;
	bool ok;

	w->pushers = -1;
	snprintf(src, sizeof(src), "wan-s%u", n);
	snprintf(dst, sizeof(dst), "wan-d%u", n);
	ok = !ftp_param_set("streams", w->streams) && link_set(w) &&
	     ftp_pair_serve(ctl, src, dst, size, SEED, NULL, PORT_BASE + n,
			    push ? 0 : FTPAGE_SERVE_NO_PUSH, &written);
	/* From the PULL: its handshakes over the long link count, the fill not. */
	cpu_ticks(&busy0, &all0);
	t0 = ftp_now_ms();
	ok = ok && !ftp_pair_pull_only(ctl, src, dst, PORT_BASE + n);
	scan = ok ? ftp_scan_child(dst, size, SEED, NULL, SCAN_STEP) : -1;
	ok = ok && (!push || !wait_complete(src, dst, PORT_BASE + n, &st, w));
	/* with no push, the run is the reader's */
	if (!push && scan > 0) {
		ftp_reap_child(scan, 300000, &status, NULL);
		scan = -1;
	}
	ms = ftp_now_ms() - t0;
	cpu_ticks(&busy, &all);
	if (scan > 0)
		ftp_reap_child(scan, 60000, &status, NULL);
	if (!push)
		ok = ok && !ftp_status(ctl, dst, &st);
	if (w->variant == SHAPED && ftp_pair_class_bytes(w->class_bytes))
		tap_diag("no class counters on the veth pair");
	ftp_status_diag(dst, &st);
	w->cpu = all > all0 ? (double)(busy - busy0) / (all - all0) : 0;
	w->demand = st.demand_faults;
	w->p50_ms = st.fault_lat_p50_ns / 1e6;
	w->p99_ms = st.fault_lat_p99_ns / 1e6;
	if (!push) {
		w->ok = tap_check(ok && WIFEXITED(status) && !WEXITSTATUS(status),
				  "RTT %.1f ms (shaped), no push: the reader saw "
				  "every page right in %llu ms (%s)",
				  w->rtt_us / 1000.0, U(ms),
				  ftp_wstatus_str(status));
		goto out;
	}
	ok = ok && !ftp_region_digest(src, size, SEED, &ds) &&
	     !ftp_region_digest(dst, size, SEED, &dd) && dd.hash == ds.hash;
	w->ok = tap_check(ok && WIFEXITED(status) && !WEXITSTATUS(status),
			  "RTT %.1f ms (%s), %u stream(s): complete in %llu ms, "
			  "dest equals the source, the reader saw every page "
			  "right (%s)", w->rtt_us / 1000.0,
			  w->variant == SHAPED ? "shaped" : "FIFO", w->streams,
			  U(ms), ftp_wstatus_str(status));
	w->mib_s = ms ? (double)opt.mib * 1000.0 / ms : 0;
	w->util = w->mib_s * MIB * 8 / 1000.0 / opt.kbit;
	check_budget(w);
	check_pushers(w);
	check_marks(w, size);
out:
	ftp_destroy(ctl, dst);
	ftp_destroy(ctl, src);
}

/* What a page takes on the wire at the cap, in ms. */
static double page_wire_ms(void)
{
	return KG_PAGE_SIZE * 8.0 / opt.kbit;
}

/* The system's default congestion control (netns inherit it), or "?". */
static const char *system_cc(void)
{
	static char cc[32] = "?";
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	if (f && fgets(cc, sizeof(cc), f))
		cc[strcspn(cc, "\n")] = '\0';
	if (f)
		fclose(f);
	return cc;
}

static const char *const variant_head[] = {
	[SHAPED] = "Over a shaped link instead, 2 streams: netem's delay, then an HTB\n"
		   "shaper at the cap that sends the demand channel's packets (DSCP\n"
		   "%s) ahead of the push's, as a network that honours the mark",
	[NO_PUSH] = "The demand path alone (served without push; shaped link): what\n"
		    "the emulated CPUs and the link give with no load%s",
	[NO_BUDGET] = "FIFO, with bulk_gain 0 (no in-flight budget, %s alone)",
	[SYSTEM_CC] = "FIFO, with bulk_cc \"\" (the system's default, %s)",
};

static void report(const char *kernel, unsigned int gain)
{
	double best100 = 0, worst_p99[2] = { 0, 0 };
	char cc[32] = "", dscp[16];
	unsigned int i;

	strncpy(cc, bulk_cc(), sizeof(cc) - 1);
	snprintf(dscp, sizeof(dscp), "%u", demand_tos() >> 2);
	out("ftpage WAN bench: kernel %s, under TCG (QEMU, no host KVM); netns ftpa and\n"
	    "ftpb joined by a veth pair, netem on both ends: delay RTT/2, rate %u kbit/s.\n"
	    "A frozen %u MiB source (every page written) pushed to a pulling destination;\n"
	    "a reader touches every %uth page meanwhile (demand faults). Throughput:\n"
	    "region bytes over the time from the PULL to complete; CPUs: the test VM's two,\n"
	    "busy over that time; latency: the module's\n"
	    "histogram (request to arrival, bucket floors). Under TCG the CPU may cap the\n"
	    "push before the link does. Push and epoch streams' congestion control\n"
	    "(parameter bulk_cc): %s; the push streams' in-flight budget (bulk_gain):\n"
	    "%u%% of the path's bandwidth-delay product.\n\n", kernel, opt.kbit,
	    opt.mib, SCAN_STEP, cc, gain);
	out("  RTT ms  streams  pushed     MiB/s  of cap  CPUs  demand  p50 ms   p99 ms  p99 goal ms\n");
	for (i = 0; i < nr_runs; i++) {
		const struct wan_run *w = &runs[i];
		double goal = 2 * (w->rtt_us / 1000.0 + page_wire_ms());

		if (w->variant != MAIN && runs[i - 1].variant != w->variant) {
			out("\n");
			out(variant_head[w->variant],
			    w->variant == SYSTEM_CC ? system_cc() :
			    w->variant == SHAPED ? dscp : w->variant == NO_PUSH ?
			    "" : cc);
			out(":\n");
		}
		if (w->variant == NO_PUSH)
			out("  %6.1f  %7s  %6s  %8s  %6s  %3.0f%%  %6llu  %6.1f  %7.1f  %7.1f%s\n",
			    w->rtt_us / 1000.0, "-", "-", "-", "-",
			    100 * w->cpu, U(w->demand), w->p50_ms, w->p99_ms,
			    goal, w->ok ? "" : "  (run failed)");
		else
			out("  %6.1f  %7u  %6d  %8.2f  %5.0f%%  %3.0f%%  %6llu  %6.1f  %7.1f  %7.1f%s\n",
			    w->rtt_us / 1000.0, w->streams, w->pushers,
			    w->mib_s, 100 * w->util, 100 * w->cpu,
			    U(w->demand), w->p50_ms, w->p99_ms, goal,
			    w->ok ? "" : "  (run failed)");
		if (w->variant == MAIN && w->rtt_us == 100000 &&
		    w->util > best100)
			best100 = w->util;
		if (w->variant <= SHAPED && w->demand &&
		    w->p99_ms / goal > worst_p99[w->variant])
			worst_p99[w->variant] = w->p99_ms / goal;
	}
	out("\nGoals (reported, not asserted):\n");
	out("  link utilisation at 100 ms RTT, best streams  %5.0f%%  goal >= 80%%  %s\n",
	    100 * best100, best100 >= 0.8 ? "met" : "NOT met");
	out("  demand p99 / 2x(RTT + page wire time), worst  %5.2f   goal <= 1.00  %s\n"
	    "    over the shaped link, 2 streams           %5.2f                 %s\n",
	    worst_p99[MAIN], worst_p99[MAIN] <= 1.0 ? "met" : "NOT met",
	    worst_p99[SHAPED], worst_p99[SHAPED] <= 1.0 ? "met" : "NOT met");

	fprintf(json_f, "{\n  \"kernel\": \"%s\", \"tcg\": true, \"rate_kbit\": %u, "
		"\"mib\": %u, \"demand_dscp\": %u,\n  \"runs\": [\n", kernel,
		opt.kbit, opt.mib, demand_tos() >> 2);
	for (i = 0; i < nr_runs; i++) {
		const struct wan_run *w = &runs[i];

		fprintf(json_f, "    {\"rtt_ms\": %.1f, \"link\": \"%s\", "
			"\"push\": %s, \"streams\": %u, "
			"\"streams_pushed\": %d, \"mib_s\": %.3f, "
			"\"link_util\": %.3f, \"cpu_busy\": %.3f, "
			"\"demand_faults\": %llu, "
			"\"demand_p50_ms\": %.3f, \"demand_p99_ms\": %.3f, "
			"\"bulk_cc\": \"%s\", \"bulk_gain\": %u, "
			"\"push_budget_max\": %llu, \"ok\": %s}%s\n",
			w->rtt_us / 1000.0,
			w->variant == SHAPED || w->variant == NO_PUSH ?
			"shaped" : "fifo",
			w->variant == NO_PUSH ? "false" : "true", w->streams,
			w->pushers, w->mib_s, w->util, w->cpu, U(w->demand),
			w->p50_ms, w->p99_ms, w->variant == SYSTEM_CC ? "" : cc,
			w->variant == NO_BUDGET ? 0 : gain, U(w->budget),
			w->ok ? "true" : "false",
			i + 1 < nr_runs ? "," : "");
	}
	fprintf(json_f, "  ],\n  \"util_100ms_best\": %.3f, \"p99_goal_ratio_worst\": %.3f, "
		"\"p99_goal_ratio_worst_shaped\": %.3f\n}\n",
		best100, worst_p99[MAIN], worst_p99[SHAPED]);
}

static void variant_run(int variant, unsigned int rtt_us)
{
	struct wan_run *w = &runs[nr_runs];

	if (nr_runs >= sizeof(runs) / sizeof(runs[0])) {
		tap_diag("no room for another run");
		return;
	}
	w->rtt_us = rtt_us;
	w->streams = 2;
	w->variant = variant;
	one_run(w, nr_runs++);
}

static void usage(void)
{
	fprintf(stderr, "usage: ftpwan [--smoke] [--mib N] [--kbit K]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const unsigned int *rtts = rtts_full, *streams = streams_full;
	unsigned int nr_rtts = 4, nr_streams = 4, i, j;
	long long streams0, gain0;
	char cc0[32] = "";
	struct utsname un;
	int o;

	for (o = 1; o < argc; o++) {
		if (!strcmp(argv[o], "--smoke")) {
			opt.smoke = true;
			opt.mib = 16;	/* past start-up at 50 ms: seconds of budget */
		} else if (o + 1 < argc && !strcmp(argv[o], "--mib")) {
			opt.mib = (unsigned int)atoi(argv[++o]);
		} else if (o + 1 < argc && !strcmp(argv[o], "--kbit")) {
			opt.kbit = (unsigned int)atoi(argv[++o]);
		} else {
			usage();
		}
	}
	if (!opt.mib || opt.mib > 256 || opt.kbit < 1000)
		usage();
	if (opt.smoke) {
		rtts = rtts_smoke;
		nr_rtts = 2;
		streams = streams_smoke;
		nr_streams = 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = ftp_ctl_open();
	if (ctl < 0)
		tap_skip_all("no /dev/ftpage/control (module not loaded)");
	txt_f = open_memstream(&txt, &txt_len);
	json_f = open_memstream(&json, &json_len);
	/*
	 * 3 checks a run of the table and a shaped one, 2 one without budget
	 * or with the system's cc, 1 with no push
	 */
	tap_plan(1 + 3 * nr_rtts * (nr_streams + 1) + (opt.smoke ? 0 : 2 * 4 + 2));
	if (!tap_check(!ftp_pair_setup(), "pair topology: netns ftpa, ftpb"))
		return tap_finish();
	streams0 = ftp_param_get("streams");
	gain0 = ftp_param_get("bulk_gain");
	for (i = 0; i < nr_rtts; i++) {
		for (j = 0; j < nr_streams; j++) {
			struct wan_run *w = &runs[nr_runs];

			w->rtt_us = rtts[i];
			w->streams = streams[j];
			one_run(w, nr_runs++);
		}
	}
	/* Shaped, then the demand path alone; no budget, system cc: 10, 100 ms */
	for (i = 0; i < nr_rtts; i++)
		variant_run(SHAPED, rtts[i]);
	for (i = 0; !opt.smoke && i < 2; i++)
		variant_run(NO_PUSH, rtts[i]);
	for (i = 0; !opt.smoke && i < 2 && !ftp_param_set("bulk_gain", 0); i++)
		variant_run(NO_BUDGET, rtts[1 + 2 * i]);
	if (gain0 >= 0)
		ftp_param_set("bulk_gain", gain0);
	strncpy(cc0, bulk_cc(), sizeof(cc0) - 1);
	for (i = 0; !opt.smoke && i < 2 && bulk_cc_set(""); i++)
		variant_run(SYSTEM_CC, rtts[1 + 2 * i]);
	if (!opt.smoke && !bulk_cc_set(strcmp(cc0, "the system's default") ? cc0 : ""))
		tap_diag("bulk_cc not restored to %s", cc0);
	ftp_pair_netem(NULL);
	if (streams0 > 0)
		ftp_param_set("streams", streams0);
	ftp_pair_teardown();
	uname(&un);
	report(un.release, gain0 >= 0 ? gain0 : 0);
	ftp_emit_file("wan.txt", txt_f, &txt, &txt_len);
	ftp_emit_file("wan.json", json_f, &json, &json_len);
	return tap_finish();
}
