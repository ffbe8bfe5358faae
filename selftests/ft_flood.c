// SPDX-License-Identifier: GPL-2.0
/*
 * ft_flood (topology pair): a flood of bad connections at a source's port
 * neither disturbs the migration it serves nor gets anywhere.
 *
 * The real migration: an 8 MiB source with a key, 7 pages in 8 kg
 * pattern, frozen and served in ftpa without push; a dest with the same
 * key pulls it in ftpb, and a "VM" child maps the dest and reads every
 * page once, in a scrambled order, paced over 14 s: each page comes on
 * demand, so the migration (faults and heartbeats share the demand
 * channel) runs until the last one, after the flood. (A background push
 * over the veth takes 0.3 s; a netem rate cap that stretches it to the
 * flood's length queues the leases behind the push long enough to fence
 * the dest with no flood at all.) Meanwhile tools/ftp_flood, in ftpb,
 * makes 500 connection attempts at the source's port within 10 s, only to
 * 10.77.0.1: closed at once, garbage bytes, half a header, a header
 * announcing 1 MiB, an unknown message type, a silent connection, a HELLO
 * without authentication, a HELLO whose AUTH proof is wrong.
 *
 * The limits of kmod/source.c and transport.h: a source keeps at most
 * FTP_SRC_MAX_CONNS (2 * (2 + FTP_PROTO_MAX_STREAMS) = 20) connections,
 * unauthenticated ones included, and a handshake may take
 * FTP_HANDSHAKE_TIMEOUT_MS (5 s); refusals are logged with
 * pr_warn_ratelimited (10 lines per 5 s per call site). The real peer
 * has 2 + streams channels (demand, journal, the bulk streams: module
 * parameter streams, 2 by default).
 *
 * Shown: no flood connection is accepted; malformed frames are refused
 * as malformed, unauthenticated HELLOs as AUTH; the source closes every
 * silent one at its handshake deadline and drops what exceeds its cap,
 * never holding more than 20 less the real peer's channels of flood
 * connections; the migration, which outlasts the flood, completes with
 * every page exact, no error, no reconnect and no lapsed lease, the real
 * peer's three channels up; DONE then goes over the same link. The kernel
 * log has fewer refusal lines than refusals, within the rate limit, and
 * says how many it suppressed. No kernel warning.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "kvm_guest.h"

#define MIB		(1ULL << 20)
#define SIZE		(8 * MIB)
#define SEED		0xf100d5ed
#define PORT		7581
#define SRC		"fl-src"
#define DST		"fl-dst"
#define KEY		"ft_flood: a pre-shared key of 32+ bytes"
#define VM_MS		14000		/* the VM child reads every page */
#define TEST		"ft_flood"

#define FLOOD_COUNT	500
#define FLOOD_SPREAD_MS	10000
#define FLOOD_HOLD_MS	12000		/* then a connection counts as open */
#define FLOOD_OUT	"/tmp/ft_flood.out"

/* kmod/source.c, kmod/transport.h, kmod/link.c, <linux/ratelimit.h> */
#define SRC_MAX_CONNS	(2 * (2 + 8))	/* FTP_SRC_MAX_CONNS */
#define HANDSHAKE_MS	5000		/* FTP_HANDSHAKE_TIMEOUT_MS */
#define RL_BURST	10		/* DEFAULT_RATELIMIT_BURST */
#define RL_INTERVAL_MS	5000		/* DEFAULT_RATELIMIT_INTERVAL */
#define HOLD_SLACK_MS	1000		/* TCG: the source's thread may be late */

/* What tools/ftp_flood reports for one kind of connection, or all. */
struct flood {
	unsigned long attempts, connfail, proto, auth, other, acks, bad;
	unsigned long closed, held, hold_min, hold_max, open;
	/* total only: the report's times, then from its "held" lines */
	unsigned long spread_ms, run_ms, max_held, at_deadline;
};

#define FLOOD_FMT "attempts %lu connfail %lu proto %lu auth %lu other %lu " \
	"acks %lu bad %lu closed %lu held %lu hold_min_ms %lu hold_max_ms %lu " \
	"open %lu"
#define FLOOD_ARGS(f) &(f)->attempts, &(f)->connfail, &(f)->proto, \
	&(f)->auth, &(f)->other, &(f)->acks, &(f)->bad, &(f)->closed, \
	&(f)->held, &(f)->hold_min, &(f)->hold_max, &(f)->open

enum { F_CLOSE, F_GARBAGE, F_TRUNC, F_HUGE, F_TYPE, F_SILENT, F_HELLO,
       F_PROOF, F_TOTAL, F_NR };
static const char *const flood_kind[F_TOTAL] = {
	"close", "garbage", "trunc", "huge", "type", "silent", "hello", "proof",
};

/* Kernel log lines after our mark, by what they say. */
struct klog {
	unsigned int refused, malformed, too_many, unauth, lapsed;
	unsigned int suppressed_lines;	/* "ftp_source_refuse: N callbacks suppressed" */
	unsigned long suppressed;
};

static bool seven_in_eight(uint64_t p)
{
	return p % 8 != 3;
}

/* Keyed source filled, frozen, served in ftpa; keyed dest pulling in ftpb. */
static bool flood_pull(int ctl, int64_t *written)
{
	bool ok;

	ok = !ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE) &&
	     !ftp_set_key(ctl, SRC, KEY, sizeof(KEY) - 1) &&
	     (*written = ftp_fill_pattern(SRC, SIZE, SEED, seven_in_eight)) > 0 &&
	     !ftp_freeze(ctl, SRC) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT,
			FTP_SECURE | FTPAGE_SERVE_NO_PUSH) &&
	     !ftp_netns_enter(NULL) &&
	     !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST) &&
	     !ftp_set_key(ctl, DST, KEY, sizeof(KEY) - 1) &&
	     !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull_flags(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT, FTP_SECURE);
	if (!ok)
		tap_diag("keyed serve/pull: %s", strerror(errno));
	ftp_netns_enter(NULL);
	return ok;
}

/*
 * The VM: maps the dest read-only (SIGBUS kills it) and reads every page
 * once in the order kg_pick_stride(pages, SEED), page i not before
 * VM_MS * i / pages, checking it is the kg pattern or zero as the model
 * says. Exits with the number of bad pages (at most 100); 200/201 when it
 * cannot open/map. Its pid, or -1.
 */
static pid_t vm_start(void)
{
	static const uint8_t zero[KG_PAGE_SIZE];
	uint64_t pages = SIZE / KG_PAGE_SIZE, i, p, t0, bad = 0;
	char node[64];
	const uint8_t *m, *pg;
	uint32_t stride;
	pid_t pid;
	int fd;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	signal(SIGBUS, SIG_DFL);
	fd = open(ftp_node(node, sizeof(node), DST), O_RDONLY);
	if (fd < 0)
		_exit(200);
	m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(201);
	stride = kg_pick_stride((uint32_t)pages, SEED);
	for (t0 = ftp_now_ms(), i = 0; i < pages; i++) {
		while (ftp_now_ms() - t0 < VM_MS * i / pages)
			ftp_sleep_ms(2);
		p = i * stride % pages;
		pg = m + p * KG_PAGE_SIZE;
		if (seven_in_eight(p))
			bad += !kg_pattern_check(pg, (uint32_t)p, SEED);
		else
			bad += !!memcmp(pg, zero, KG_PAGE_SIZE);
	}
	_exit(bad > 100 ? 100 : (int)bad);
}

/* tools/ftp_flood in ftpb at the source's port; its pid or -1. */
static pid_t flood_start(void)
{
	char port[16], size[24], count[16], spread[16], hold[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", PORT);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)SIZE);
	snprintf(count, sizeof(count), "%u", FLOOD_COUNT);
	snprintf(spread, sizeof(spread), "%u", FLOOD_SPREAD_MS);
	snprintf(hold, sizeof(hold), "%u", FLOOD_HOLD_MS);
	unlink(FLOOD_OUT);
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	if (ftp_netns_enter(FTP_PAIR_B_NS))
		_exit(3);
	execlp("ftp_flood", "ftp_flood", FTP_PAIR_A_ADDR, port, SRC, size,
	       count, spread, hold, FLOOD_OUT, (char *)NULL);
	_exit(127);
}

struct held {
	long t_conn, t_end;	/* ms since the flood's start */
};

/*
 * The most flood connections the source held at once. A silent one it
 * closed at its handshake deadline had a slot for HANDSHAKE_MS before the
 * close we saw (the deadline starts once it is accepted; our connect may
 * complete long before, in the accept queue): count those whose
 * [close - HANDSHAKE_MS + 500, close - 500] holds the middle of another's.
 */
static unsigned long held_at_once(const struct held *h, unsigned int n)
{
	unsigned long most = 0, at;
	unsigned int i, j;
	long mid;

	for (i = 0; i < n; i++) {
		if (h[i].t_end - h[i].t_conn < HANDSHAKE_MS - 100)
			continue;
		mid = h[i].t_end - HANDSHAKE_MS / 2;
		for (at = 0, j = 0; j < n; j++)
			at += h[j].t_end - h[j].t_conn >= HANDSHAKE_MS - 100 &&
			      h[j].t_end - HANDSHAKE_MS + 500 <= mid &&
			      h[j].t_end - 500 >= mid;
		most = at > most ? at : most;
	}
	return most;
}

/* Parse the flood's report into f[F_NR]; prints it. 0 or -1. */
static int flood_read(struct flood *f)
{
	struct held *held = calloc(FLOOD_COUNT, sizeof(*held));
	FILE *in = fopen(FLOOD_OUT, "r");
	char line[512], name[16];
	unsigned int nheld = 0;
	int k, got = 0;

	memset(f, 0, sizeof(*f) * F_NR);
	if (!in || !held) {
		if (in)
			fclose(in);
		free(held);
		return -1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "held %15s %ld %ld", name,
			   &held[nheld].t_conn, &held[nheld].t_end) == 3) {
			/* the silent ones: the others are held by accident */
			nheld += nheld < FLOOD_COUNT - 1 &&
				 !strcmp(name, flood_kind[F_SILENT]);
			continue;
		}
		tap_diag("flood: %.*s", (int)strcspn(line, "\n"), line);
		if (sscanf(line, "total " FLOOD_FMT " spread_ms %lu run_ms %lu",
			   FLOOD_ARGS(&f[F_TOTAL]), &f[F_TOTAL].spread_ms,
			   &f[F_TOTAL].run_ms) == 14) {
			got++;
			continue;
		}
		if (sscanf(line, "kind %15s", name) != 1)
			continue;
		for (k = 0; k < F_TOTAL; k++)
			if (!strcmp(name, flood_kind[k]) &&
			    sscanf(line, "kind %*s " FLOOD_FMT,
				   FLOOD_ARGS(&f[k])) == 12)
				got++;
	}
	fclose(in);
	f[F_TOTAL].max_held = held_at_once(held, nheld);
	for (k = 0; k < (int)nheld; k++)
		f[F_TOTAL].at_deadline +=
			held[k].t_end - held[k].t_conn >= HANDSHAKE_MS - 100 &&
			held[k].t_end - held[k].t_conn <= HANDSHAKE_MS + HOLD_SLACK_MS;
	free(held);
	return got == F_NR ? 0 : -1;
}

static void klog_line(struct klog *k, const char *line)
{
	const char *p;

	if (strstr(line, SRC ": refused "))
		k->refused++;
	if (strstr(line, SRC ": malformed message from "))
		k->malformed++;
	if (strstr(line, SRC ": too many connections, "))
		k->too_many++;
	if (strstr(line, SRC ": destination ") &&
	    strstr(line, " not authenticated: "))
		k->unauth++;
	if (strstr(line, DST ": lease lapsed"))
		k->lapsed++;
	p = strstr(line, "ftp_source_refuse: ");
	if (p && strstr(p, " callbacks suppressed")) {
		k->suppressed_lines++;
		k->suppressed += strtoul(p + strlen("ftp_source_refuse: "),
					 NULL, 10);
		tap_diag("dmesg: %.*s", (int)strcspn(line, "\n"), line);
	}
}

/* Count the kernel log lines after our mark. 0 or -1. */
static int klog_scan(struct klog *k)
{
	FILE *f;
	char line[512];

	memset(k, 0, sizeof(*k));
	fflush(stdout);
	f = popen("dmesg", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "ftpage-test: mark " TEST))
			memset(k, 0, sizeof(*k));	/* the latest mark */
		else
			klog_line(k, line);
	}
	return pclose(f) ? -1 : 0;
}

/*
 * A TcpExt counter of ftpa's TCP (/proc/net/netstat: a line of names, then
 * one of values), or -1.
 */
static long tcp_ext(const char *name)
{
	char names[4096], values[4096], *n, *v, *sn, *sv;
	long val = -1;
	FILE *f = NULL;

	if (!ftp_netns_enter(FTP_PAIR_A_NS))
		f = fopen("/proc/self/net/netstat", "r");
	ftp_netns_enter(NULL);
	while (f && fgets(names, sizeof(names), f) &&
	       fgets(values, sizeof(values), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(values, " \n", &sv);
		while (n && v && strcmp(n, name)) {
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		if (n && v)
			val = atol(v);
		break;
	}
	if (f)
		fclose(f);
	return val;
}

/* Checks on what the flood saw; the real peer has @chans channels. */
static void flood_checks(const struct flood *f, uint64_t complete_ms,
			 uint64_t flood_at_ms, unsigned int chans)
{
	static const int quiet[] = { F_CLOSE, F_TRUNC, F_SILENT };
	const struct flood *t = &f[F_TOTAL];
	unsigned int k;
	bool ok;

	tap_diag("the source's TCP: ListenOverflows %ld, ListenDrops %ld (SYNs "
		 "dropped, its accept queue full)", tcp_ext("ListenOverflows"),
		 tcp_ext("ListenDrops"));
	tap_check(t->attempts == FLOOD_COUNT && t->spread_ms <= 20000 &&
		  !t->connfail,
		  "flood: %lu attempts at " FTP_PAIR_A_ADDR ":%u in %lu ms (all "
		  "done after %lu ms), each connected (%lu failed)", t->attempts,
		  PORT, t->spread_ms, t->run_ms, t->connfail);
	tap_check(complete_ms > flood_at_ms + t->spread_ms,
		  "the migration outlasted the flood: complete %llu ms after "
		  "the pull, the flood's last attempt at %llu ms",
		  (unsigned long long)complete_ms,
		  (unsigned long long)(flood_at_ms + t->spread_ms));
	tap_check(!t->bad && !t->other && f[F_PROOF].acks == f[F_PROOF].auth,
		  "no flood connection got past the handshake: %lu strange "
		  "replies, %lu other errors, %lu HELLO_ACKs all refused after "
		  "the wrong proof", t->bad, t->other, f[F_PROOF].acks);
	ok = true;
	for (k = F_GARBAGE; k <= F_TYPE; k++)
		if (k != F_TRUNC)
			ok &= f[k].proto >= 1 && !f[k].auth && !f[k].held;
	tap_check(ok, "malformed frames refused as malformed: garbage %lu, "
		  "1 MiB header %lu, unknown type %lu of %lu each (the rest "
		  "dropped at the cap)", f[F_GARBAGE].proto, f[F_HUGE].proto,
		  f[F_TYPE].proto, f[F_GARBAGE].attempts);
	tap_check(f[F_HELLO].auth >= 1 && f[F_PROOF].auth >= 1 &&
		  !f[F_HELLO].proto && !f[F_PROOF].proto,
		  "HELLOs refused as unauthenticated: %lu without a challenge, "
		  "%lu with a wrong proof", f[F_HELLO].auth, f[F_PROOF].auth);
	ok = true;
	for (k = 0; k < sizeof(quiet) / sizeof(quiet[0]); k++)
		ok &= !f[quiet[k]].proto && !f[quiet[k]].auth &&
		      !f[quiet[k]].acks;
	tap_check(ok && !f[F_TRUNC].held,
		  "half headers and silence got no reply: half a header closed "
		  "%lu, silent closed %lu, held %lu", f[F_TRUNC].closed,
		  f[F_SILENT].closed, f[F_SILENT].held);
	/*
	 * Our connect completes before the source accepts, long before when
	 * its accept queue overflows: a hold we see may be longer than the
	 * source's, and one the cap dropped after a late accept looks held.
	 * Most are at the deadline, none is open for good.
	 */
	tap_check(!t->open && t->at_deadline * 2 > f[F_SILENT].held,
		  "the source closed silent connections at its %u ms handshake "
		  "deadline: %lu of %lu held %u..%u ms (all %lu..%lu), none "
		  "open after %u ms (%lu)", HANDSHAKE_MS, t->at_deadline,
		  f[F_SILENT].held, HANDSHAKE_MS - 100,
		  HANDSHAKE_MS + HOLD_SLACK_MS, f[F_SILENT].hold_min,
		  t->hold_max, FLOOD_HOLD_MS, t->open);
	tap_check(t->max_held >= 1 &&
		  t->max_held <= SRC_MAX_CONNS - chans,
		  "at most %u - %u flood connections held at once (%lu)",
		  SRC_MAX_CONNS, chans, t->max_held);
}

/* The kernel log: refusals rate-limited, the cap logged. */
static void klog_checks(const struct flood *f)
{
	const struct flood *t = &f[F_TOTAL];
	unsigned long refusals = t->proto + t->auth + t->other;
	unsigned long windows = t->run_ms / RL_INTERVAL_MS + 2;
	unsigned long most = RL_BURST * windows;
	struct klog k;
	bool ok;

	ok = !klog_scan(&k);
	tap_diag("kernel log: %u refused, %u malformed, %u not authenticated, "
		 "%u too many connections; %lu refusals suppressed in %u "
		 "lines", k.refused, k.malformed, k.unauth, k.too_many,
		 k.suppressed, k.suppressed_lines);
	tap_check(ok && k.refused >= 1 && k.refused < refusals &&
		  k.refused <= most && k.suppressed_lines >= 1,
		  "refusals logged rate-limited: %u lines for %lu refusals (at "
		  "most %u per %u ms: %lu), %lu suppressed", k.refused,
		  refusals, RL_BURST, RL_INTERVAL_MS, most, k.suppressed);
	/* "not authenticated" comes from two call sites in kmod/auth.c */
	tap_check(ok && k.malformed <= most && k.unauth <= 2 * most &&
		  k.too_many >= 1 && k.too_many <= most,
		  "the cap and the other refusals logged rate-limited too: %u "
		  "too many connections, %u malformed, %u not authenticated "
		  "(at most %lu per call site)", k.too_many, k.malformed,
		  k.unauth, most);
	tap_check(ok && !k.lapsed, "the real peer's lease never lapsed (%u "
		  "\"lease lapsed\" lines)", k.lapsed);
}

/* The real peer after the flood: content, channels, states, DONE. */
static void peer_checks(int ctl, int64_t written, pid_t vm,
			unsigned int chans)
{
	uint8_t *model = malloc(SIZE);
	struct ftpage_status sd, ss;
	int status = 0, r;
	bool ok;

	r = ftp_reap_child(vm, 30000, &status, NULL);
	tap_check(r == 1 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "the VM read every page right, each on demand (%s: bad "
		  "pages)", ftp_wstatus_str(status));
	if (model)
		ftp_pattern_image(model, SIZE, SEED, seven_in_eight);
	ftp_exact_check(SRC, DST, SIZE, SEED, model, written);
	free(model);
	ok = !ftp_status_lease_diag(ctl, DST, &sd) &&
	     !ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check(ok && sd.state == FTPAGE_STATE_COMPLETE &&
		  ss.state == FTPAGE_STATE_COMPLETE &&
		  (ss.status_flags & FTPAGE_STATUS_ATTACHED) &&
		  !(sd.status_flags & FTPAGE_STATUS_FENCED),
		  "still served to the real peer: source %s and attached, dest "
		  "%s", ftp_state_str(ss.state), ftp_state_str(sd.state));
	tap_check(ok && sd.connected == chans && ss.connected == chans &&
		  !sd.reconnects &&
		  !ss.reconnects && !sd.errors && !ss.errors,
		  "its channels survived the flood: %u and %u up, reconnects "
		  "%llu and %llu, errors %llu and %llu (dest, source)",
		  sd.connected, ss.connected, (unsigned long long)sd.reconnects,
		  (unsigned long long)ss.reconnects,
		  (unsigned long long)sd.errors, (unsigned long long)ss.errors);
	ok = !ftp_done(ctl, DST) &&
	     !ftp_wait_state(ctl, SRC, FTPAGE_STATE_DONE, 10000, &ss) &&
	     !ftp_wait_state(ctl, DST, FTPAGE_STATE_DONE, 10000, &sd);
	tap_check(ok, "DONE over the same link: source %s, dest %s",
		  ftp_state_str(ss.state), ftp_state_str(sd.state));
}

int main(void)
{
	struct flood f[F_NR];
	struct ftpage_status sd;
	uint64_t t0, flood_at, complete_ms;
	int64_t written = -1;
	int ctl, status = 0, r;
	long long streams;
	unsigned int chans;
	pid_t flood, vm;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(26);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(2000, 15000);
	streams = ftp_param_get("streams");
	chans = streams > 0 ? 2 + (unsigned int)streams : 0;
	if (!tap_check(streams > 0, "streams=%lld: the real peer has %u "
		       "channels", streams, chans))
		return tap_finish();
	ftp_kmsg_mark(TEST);

	t0 = ftp_now_ms();
	ok = flood_pull(ctl, &written);
	if (!tap_check(ok, "keyed source served without push (%lld pattern "
		       "pages), keyed dest pulling", (long long)written))
		return tap_finish();
	flood_at = ftp_now_ms() - t0;
	flood = flood_start();
	vm = vm_start();
	tap_check(flood > 0 && vm > 0, "flood and VM started");

	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &sd);
	complete_ms = ftp_now_ms() - t0;
	ftp_status_diag(DST, &sd);
	tap_check(ok && !sd.errors, "dest complete in %llu ms, no error "
		  "(errors %llu)", (unsigned long long)complete_ms,
		  (unsigned long long)sd.errors);
	r = ftp_reap_child(flood, 30000, &status, NULL);
	ok = r == 1 && WIFEXITED(status) && !WEXITSTATUS(status) &&
	     !flood_read(f);
	if (!tap_check(ok, "the flood ran and reported (%s)",
		       ftp_wstatus_str(status)))
		memset(f, 0, sizeof(f));
	flood_checks(f, complete_ms, flood_at, chans);
	peer_checks(ctl, written, vm, chans);
	klog_checks(f);
	return ftp_pair_close(ctl, TEST, DST, SRC);
}
