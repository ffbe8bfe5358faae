// SPDX-License-Identifier: GPL-2.0
/*
 * ft_flood (topology pair): a flood of bad connections at a source's port
 * neither disturbs the migration it serves nor gets anywhere.
 *
 * The real migration: an 8 MiB source with a key, 7 pages in 8 kg
 * pattern, frozen and served in ftpa without push. tools/ftp_flood, in
 * ftpb, makes 500 connection attempts at the source's port within 10 s,
 * only to 10.77.0.1: closed at once, garbage bytes, half a header, a
 * header announcing 1 MiB, an unknown message type, a silent connection,
 * a HELLO without authentication, a HELLO whose AUTH proof is wrong, a
 * slow HELLO (header at 4 s, then a byte per 250 ms). 2.5 s into it,
 * when the silent and slow ones fill the source's handshake table, a
 * dest with the same key pulls in ftpb, and a "VM" child maps the dest
 * and reads every page once, in a scrambled order, paced over 14 s: each
 * page comes on demand, so the migration (faults and heartbeats share the
 * demand channel) runs until the last one, after the flood. (A background
 * push over the veth takes 0.3 s; a netem rate cap that stretches it to
 * the flood's length queues the leases behind the push long enough to
 * fence the dest with no flood at all.) Then 3 slow HELLOs alone.
 *
 * The limits of kmod/source.c and transport.h: a source keeps at most
 * FTP_SRC_MAX_PENDING (34) connections
 * in their handshake and closes the oldest for a newer one, and a whole
 * handshake may take FTP_HANDSHAKE_TIMEOUT_MS (5 s); refusals are logged
 * with pr_warn_ratelimited (10 lines per 5 s per call site). The real
 * peer has 1 + 2 * streams channels (demand, then push and journal
 * streams: module parameter streams, 2 by default).
 *
 * Shown: the real peer's pull succeeds though the flood filled the
 * table; no flood connection is accepted; malformed frames are refused as
 * malformed, unauthenticated HELLOs as AUTH; the source closes every
 * silent or slow one by its handshake deadline or for a newer one, never
 * holding more than 34 at once; the migration, which outlasts the flood,
 * completes with every page exact, no error, no reconnect and no lapsed
 * lease, the real peer's channels up; DONE then goes over the same link.
 * The kernel log has fewer refusal lines than refusals, within the rate
 * limit, and says how many it suppressed. The slow HELLOs alone are each
 * closed at 5 s (not at 9 s: the deadline bounds the whole handshake, not
 * each receive). No kernel warning.
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
#define FLOOD_LEAD_MS	2500		/* the real peer pulls then */
#define FLOOD_OUT	"/tmp/ft_flood.out"

/* kmod/source.c, kmod/transport.h, kmod/link.c, <linux/ratelimit.h> */
#define SRC_MAX_PENDING	34	/* FTP_SRC_MAX_PENDING */
#define HANDSHAKE_MS	5000		/* FTP_HANDSHAKE_TIMEOUT_MS */
#define RL_BURST	10		/* DEFAULT_RATELIMIT_BURST */
#define RL_INTERVAL_MS	5000		/* DEFAULT_RATELIMIT_INTERVAL */
#define HOLD_SLACK_MS	1000		/* TCG: the source's thread may be late */
#define ACCEPT_SLACK_MS	3000		/* and its accept, under the flood */
#define SLOW_COUNT	3

/* What tools/ftp_flood reports for one kind of connection, or all. */
struct flood {
	unsigned long attempts, connfail, proto, auth, other, acks, bad;
	unsigned long closed, held, hold_min, hold_max, open;
	/* total only: the report's times, then from its "held" lines */
	unsigned long spread_ms, run_ms, max_held;
};

#define FLOOD_FMT "attempts %lu connfail %lu proto %lu auth %lu other %lu " \
	"acks %lu bad %lu closed %lu held %lu hold_min_ms %lu hold_max_ms %lu " \
	"open %lu"
#define FLOOD_ARGS(f) &(f)->attempts, &(f)->connfail, &(f)->proto, \
	&(f)->auth, &(f)->other, &(f)->acks, &(f)->bad, &(f)->closed, \
	&(f)->held, &(f)->hold_min, &(f)->hold_max, &(f)->open

enum { F_CLOSE, F_GARBAGE, F_TRUNC, F_HUGE, F_TYPE, F_SILENT, F_HELLO,
       F_PROOF, F_SLOW, F_TOTAL, F_NR };
static const char *const flood_kind[F_TOTAL] = {
	"close", "garbage", "trunc", "huge", "type", "silent", "hello", "proof",
	"slow",
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

/* Keyed source filled, frozen, served in ftpa. */
static bool flood_serve(int ctl, int64_t *written)
{
	bool ok;

	ok = !ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE) &&
	     !ftp_set_key(ctl, SRC, KEY, sizeof(KEY) - 1) &&
	     (*written = ftp_fill_pattern(SRC, SIZE, SEED, seven_in_eight)) > 0 &&
	     !ftp_freeze(ctl, SRC) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT,
			FTP_SECURE | FTPAGE_SERVE_NO_PUSH);
	if (!ok)
		tap_diag("keyed serve: %s", strerror(errno));
	ftp_netns_enter(NULL);
	return ok;
}

/* A keyed dest pulling in ftpb. */
static bool flood_pull(int ctl)
{
	bool ok;

	ok = !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST) &&
	     !ftp_set_key(ctl, DST, KEY, sizeof(KEY) - 1) &&
	     !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull_flags(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT, FTP_SECURE);
	if (!ok)
		tap_diag("keyed pull: %s", strerror(errno));
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
	return ftp_scan_child_paced(DST, SIZE, SEED, seven_in_eight, 1, VM_MS);
}

/*
 * tools/ftp_flood in ftpb at the source's port: @count attempts over
 * @spread_ms, of every kind or only @kind; its pid or -1.
 */
static pid_t flood_start(unsigned int count, unsigned int spread_ms,
			 const char *kind)
{
	char port[16], size[24], cnt[16], spread[16], hold[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", PORT);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)SIZE);
	snprintf(cnt, sizeof(cnt), "%u", count);
	snprintf(spread, sizeof(spread), "%u", spread_ms);
	snprintf(hold, sizeof(hold), "%u", FLOOD_HOLD_MS);
	unlink(FLOOD_OUT);
	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	if (ftp_netns_enter(FTP_PAIR_B_NS))
		_exit(3);
	execlp("ftp_flood", "ftp_flood", FTP_PAIR_A_ADDR, port, SRC, size,
	       cnt, spread, hold, FLOOD_OUT, kind, (char *)NULL);
	_exit(127);
}

struct quiet {
	long t_conn, t_end;	/* ms since the flood's start */
};

/*
 * The most connections the source held in their handshake at once: the
 * intervals of those it closed without a reply, less 500 ms at each end
 * (our connect completes before the source accepts it; we see its close a
 * little after), that overlap most.
 */
static unsigned long held_at_once(const struct quiet *q, unsigned int n)
{
	unsigned long most = 0, at;
	unsigned int i, j;
	long t;

	for (i = 0; i < n; i++) {
		t = q[i].t_conn + 500;		/* a start: counts rise only there */
		if (q[i].t_end - 500 < t)
			continue;
		for (at = 0, j = 0; j < n; j++)
			at += q[j].t_conn + 500 <= t && q[j].t_end - 500 >= t;
		most = at > most ? at : most;
	}
	return most;
}

/* Parse the flood's report into f[F_NR]; prints it. 0 or -1. */
static int flood_read(struct flood *f)
{
	struct quiet *quiet = calloc(FLOOD_COUNT, sizeof(*quiet));
	FILE *in = fopen(FLOOD_OUT, "r");
	char line[512], name[16];
	unsigned int nquiet = 0;
	int k, got = 0;

	memset(f, 0, sizeof(*f) * F_NR);
	if (!in || !quiet) {
		if (in)
			fclose(in);
		free(quiet);
		return -1;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "quiet %15s %ld %ld", name,
			   &quiet[nquiet].t_conn, &quiet[nquiet].t_end) == 3) {
			nquiet += nquiet < FLOOD_COUNT - 1;
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
	f[F_TOTAL].max_held = held_at_once(quiet, nquiet);
	free(quiet);
	return got == F_NR ? 0 : -1;
}

static void klog_line(struct klog *k, const char *line)
{
	const char *p;

	if (strstr(line, SRC ": refused "))
		k->refused++;
	if (strstr(line, SRC ": malformed message from "))
		k->malformed++;
	if (strstr(line, SRC ": too many connections"))
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

/* Checks on what the flood saw. */
static void flood_checks(const struct flood *f, uint64_t complete_ms,
			 uint64_t flood_at_ms)
{
	static const int quiet[] = { F_CLOSE, F_TRUNC, F_SILENT, F_SLOW };
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
		  "the flood's start, its last attempt at %llu ms",
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
		  "1 MiB header %lu, unknown type %lu of %lu each",
		  f[F_GARBAGE].proto, f[F_HUGE].proto,
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
	 * source's by that. (The deadline itself: slow_checks().)
	 */
	tap_check(!t->open && t->hold_max <= HANDSHAKE_MS + ACCEPT_SLACK_MS,
		  "the source closed every silent or slow connection by its %u "
		  "ms handshake deadline or for a newer one: held %lu..%lu ms "
		  "(at most %u), none open after %u ms (%lu)", HANDSHAKE_MS,
		  t->hold_min, t->hold_max, HANDSHAKE_MS + ACCEPT_SLACK_MS,
		  FLOOD_HOLD_MS, t->open);
	tap_check(t->max_held >= 1 && t->max_held <= SRC_MAX_PENDING,
		  "at most %u flood connections held in their handshake at "
		  "once (%lu)", SRC_MAX_PENDING, t->max_held);
}

/*
 * A few slow handshakes alone: the header just before the deadline, then
 * a payload byte every 250 ms. The deadline bounds the whole handshake,
 * not each receive: each is closed at it, none at twice it.
 */
static void slow_checks(void)
{
	struct flood f[F_NR];
	int status = 0, r;
	pid_t pid;
	bool ok;

	pid = flood_start(SLOW_COUNT, 0, flood_kind[F_SLOW]);
	r = pid > 0 ? ftp_reap_child(pid, 30000, &status, NULL) : -1;
	ok = r == 1 && WIFEXITED(status) && !WEXITSTATUS(status) &&
	     !flood_read(f);
	tap_check(ok && f[F_SLOW].held == SLOW_COUNT &&
		  f[F_SLOW].hold_min >= HANDSHAKE_MS - 100 &&
		  f[F_SLOW].hold_max <= HANDSHAKE_MS + HOLD_SLACK_MS,
		  "%u slow handshakes (HELLO header at 4 s, then a byte per 250 "
		  "ms) closed at the %u ms deadline: %lu held %lu..%lu ms (%s)",
		  SLOW_COUNT, HANDSHAKE_MS, f[F_SLOW].held, f[F_SLOW].hold_min,
		  f[F_SLOW].hold_max, ftp_wstatus_str(status));
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
	tap_plan(27);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(2000, 15000);
	streams = ftp_param_get("streams");
	chans = streams > 0 ? ftp_channels(streams) : 0;
	if (!tap_check(streams > 0, "streams=%lld: the real peer has %u "
		       "channels", streams, chans))
		return tap_finish();
	ftp_kmsg_mark(TEST);

	if (!tap_check(flood_serve(ctl, &written), "keyed source served "
		       "without push (%lld pattern pages)", (long long)written))
		return tap_finish();
	/* The real peer connects into a handshake table the flood has filled. */
	t0 = ftp_now_ms();
	flood = flood_start(FLOOD_COUNT, FLOOD_SPREAD_MS, NULL);
	ftp_sleep_ms(FLOOD_LEAD_MS);
	ok = flood_pull(ctl);
	flood_at = 0;
	vm = ok ? vm_start() : -1;
	if (!tap_check(ok && flood > 0 && vm > 0, "flood started, %u ms later "
		       "the keyed dest pulling, and the VM started",
		       FLOOD_LEAD_MS)) {
		if (flood > 0)
			kill(flood, SIGKILL);
		ftp_reap_child(flood, 10000, &status, NULL);
		return ftp_pair_close(ctl, TEST, DST, SRC);
	}

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
	flood_checks(f, complete_ms, flood_at);
	peer_checks(ctl, written, vm, chans);
	klog_checks(f);
	slow_checks();
	return ftp_pair_close(ctl, TEST, DST, SRC);
}
