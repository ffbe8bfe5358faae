// SPDX-License-Identifier: GPL-2.0
/*
 * ftp_flood - a bounded flood of bad connections at an ftpage source (a
 * tool for ft_flood, not a test), built with ../kmod/proto.c (the module's
 * own message framing).
 *
 *   ftp_flood ADDR PORT REGION SIZE COUNT SPREAD_MS HOLD_MS OUTFILE [KIND]
 *
 * Makes COUNT connection attempts to ADDR:PORT, one every SPREAD_MS/COUNT
 * ms (at most 256 in flight), cycling through these kinds (or only KIND):
 *
 *   close    connect and close at once
 *   garbage  64 bytes that are no message header
 *   trunc    half a header, then our side of the connection closed
 *   huge     a HELLO header announcing a 1 MiB payload
 *   type     a header of an unknown message type
 *   silent   connect and say nothing
 *   hello    a valid HELLO for REGION (SIZE bytes), without authentication
 *   proof    a HELLO with a challenge, then an AUTH with a wrong proof
 *   slow     nothing for 4 s, then a HELLO header, then its payload one
 *            byte every 250 ms: a handshake deadline checked only between
 *            receives would let it hold its slot almost twice as long
 *
 * and watches each until the source closes it: a connection still open
 * HOLD_MS after it connected counts as "open" (and is closed). A connect
 * gives up after 3 s. ADDR must be a loopback or test address (127/8,
 * 10.77.0.0/24, 10.78.0.0/24): the flood never leaves the machine.
 *
 * OUTFILE gets one line per kind and a total, "kind NAME" / "total", each
 * followed by "KEY VALUE" pairs: attempts, connfail (the connect failed
 * or timed out; a reset once connected is "closed"), proto, auth, other
 * (ERROR replies by code), acks (HELLO_ACKs), bad (anything else: an
 * accepted AUTH, a malformed or unexpected message), closed (by the
 * source, with no reply, within 2.5 s of the connect), held (closed with
 * no reply later), hold_min_ms, hold_max_ms (of the held ones), open; the
 * total also spread_ms (first to last attempt) and run_ms (the whole
 * flood). Then a line "quiet KIND T_CONN T_END" for each connection the
 * source closed without a reply (closed or held): when it connected and
 * when the source closed it (ms since the start; a connect completes
 * before the source accepts, so T_CONN may be early). Exit 0 when the flood ran, 1 on a local error, 2
 * usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define MAX_INFLIGHT	256
#define CONNECT_MS	3000
#define QUICK_MS	2500	/* closed with no reply sooner: "closed" */
#define HDR		sizeof(struct ftp_hdr)
#define SLOW_HDR_MS	4000	/* slow: the header then */
#define SLOW_BYTE_MS	250	/* and a payload byte this often */

enum kind { K_CLOSE, K_GARBAGE, K_TRUNC, K_HUGE, K_TYPE, K_SILENT, K_HELLO,
	    K_PROOF, K_SLOW, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	"close", "garbage", "trunc", "huge", "type", "silent", "hello", "proof",
	"slow",
};

enum { S_FREE, S_CONNECTING, S_OPEN };

struct conn {
	int fd, state, kind;
	long long t_start, t_conn;
	struct rec *r;
	unsigned char rx[HDR + FTP_PROTO_MAX_FIXED];
	size_t got;
	unsigned char slow_msg[HDR + sizeof(struct ftp_msg_hello)];
	size_t slow_sent;	/* slow: bytes of slow_msg out */
	long long slow_next;	/* and when the next go */
};

struct rec {			/* what became of one attempt */
	long long t_conn, t_end;
	bool replied, quiet;
};

struct tally {
	unsigned int attempts, connfail, proto, auth, other, acks, bad;
	unsigned int closed, held, open;
	long long hold_min, hold_max;
};

static struct tally tally[NR_KINDS + 1];	/* [NR_KINDS]: total */
static struct rec *recs;
static int only_kind = -1;
static const char *region;
static unsigned long long region_size;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Loopback and the test pairs only. */
static bool addr_allowed(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);

	return (h >> 24) == 127 || (h >> 8) == 0x0a4d00 || (h >> 8) == 0x0a4e00;
}

static void fill_random(void *p, size_t n)
{
	static unsigned int x = 0x9e3779b9;
	unsigned char *b = p;

	while (n--) {
		x = x * 1103515245 + 12345;
		*b++ = x >> 16;
	}
}

/* Count one outcome of a connection of @kind, and in the total. */
#define COUNT(kind, field)						\
	do {								\
		tally[kind].field++;					\
		tally[NR_KINDS].field++;				\
	} while (0)

static int send_all(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* A whole message into @buf (HDR + len bytes). */
static void make_msg(unsigned char *buf, unsigned int type, const void *p,
		     __u32 len)
{
	struct ftp_hdr h;

	ftp_proto_hdr(&h, type, len, 0);
	ftp_proto_set_csum(&h, p, len, NULL, 0);
	memcpy(buf, &h, HDR);
	memcpy(buf + HDR, p, len);
}

static int send_msg(int fd, unsigned int type, const void *p, __u32 len)
{
	unsigned char buf[HDR + FTP_PROTO_MAX_FIXED];

	make_msg(buf, type, p, len);
	return send_all(fd, buf, HDR + len);
}

static void make_hello(struct ftp_msg_hello *m, bool auth)
{
	memset(m, 0, sizeof(*m));
	m->version_min = htole16(FTP_PROTO_VERSION_MIN);
	m->version_max = htole16(FTP_PROTO_VERSION_MAX);
	m->channel = htole16(FTP_CHAN_DEMAND);
	m->generation = htole16(1);
	fill_random(&m->session, sizeof(m->session));
	m->region_size = htole64(region_size);
	strncpy((char *)m->region, region, sizeof(m->region) - 1);
	if (auth) {
		m->features = htole64(FTP_PROTO_FEAT_AUTH);
		fill_random(m->auth, FTP_AUTH_CHALLENGE_LEN);
		m->auth[0] |= 1;	/* never all zero */
	}
}

/* What a kind sends once connected. 0, or -1 when the send failed. */
static int say(struct conn *c)
{
	struct ftp_msg_hello hello;
	unsigned char b[64];
	struct ftp_hdr h;

	switch (c->kind) {
	case K_GARBAGE:
		fill_random(b, sizeof(b));
		b[0] = 0xa5;		/* never "FTPG" */
		return send_all(c->fd, b, sizeof(b));
	case K_TRUNC:
		ftp_proto_hdr(&h, FTP_MSG_HELLO, sizeof(struct ftp_msg_hello), 0);
		if (send_all(c->fd, &h, HDR / 2))
			return -1;
		return shutdown(c->fd, SHUT_WR);
	case K_HUGE:
		ftp_proto_hdr(&h, FTP_MSG_HELLO, 1u << 20, 0);
		return send_all(c->fd, &h, HDR);
	case K_TYPE:
		ftp_proto_hdr(&h, 99, 0, 0);
		h.csum = htole32(ftp_proto_hdr_crc(&h));
		return send_all(c->fd, &h, HDR);
	case K_HELLO:
	case K_PROOF:
		make_hello(&hello, c->kind == K_PROOF);
		return send_msg(c->fd, FTP_MSG_HELLO, &hello, sizeof(hello));
	case K_SLOW:		/* later: slow_tick() */
		make_hello(&hello, false);
		make_msg(c->slow_msg, FTP_MSG_HELLO, &hello, sizeof(hello));
		return 0;
	default:		/* K_SILENT */
		return 0;
	}
}

static void finish(struct conn *c)
{
	close(c->fd);
	c->state = S_FREE;
	c->r->t_end = now_ms();
}

/* One whole message in c->rx: tally it; false when we are done. */
static bool on_message(struct conn *c)
{
	const struct ftp_hdr *h = (const struct ftp_hdr *)c->rx;
	const struct ftp_msg_error *e = (const void *)(c->rx + HDR);
	struct ftp_msg_auth proof;
	unsigned int type = le16toh(h->type);

	c->r->replied = true;
	if (type == FTP_MSG_ERROR) {
		switch (le32toh(e->code)) {
		case FTP_ERR_PROTO:
			COUNT(c->kind, proto);
			break;
		case FTP_ERR_AUTH:
			COUNT(c->kind, auth);
			break;
		default:
			COUNT(c->kind, other);
		}
		return false;
	}
	if (type == FTP_MSG_HELLO_ACK && c->kind == K_PROOF) {
		COUNT(c->kind, acks);
		fill_random(proof.mac, sizeof(proof.mac));
		return !send_msg(c->fd, FTP_MSG_AUTH, &proof, sizeof(proof));
	}
	COUNT(c->kind, bad);	/* accepted, or said something strange */
	return false;
}

/*
 * The first message in c->rx, whole and checksummed: 1 when more bytes
 * are needed, 0 when it was taken, -1 when we are done with the
 * connection.
 */
static int one_message(struct conn *c)
{
	struct ftp_proto_limits lim = { .nr_pages = ~0ull };
	struct ftp_hdr h;
	unsigned int type;
	size_t want;
	int len;

	if (c->got < HDR)
		return 1;
	memcpy(&h, c->rx, HDR);
	len = ftp_proto_check_hdr(&h);
	type = le16toh(h.type);
	if (len < 0 || ftp_proto_has_page(type)) {
		COUNT(c->kind, bad);
		return -1;
	}
	want = HDR + (size_t)len;
	if (c->got < want)
		return 1;
	ftp_proto_set_csum(&h, c->rx + HDR, (__u32)len, NULL, 0);
	if (h.csum != ((struct ftp_hdr *)c->rx)->csum ||
	    ftp_proto_check_fixed(type, c->rx + HDR, &lim)) {
		COUNT(c->kind, bad);
		return -1;
	}
	if (!on_message(c))
		return -1;
	c->got -= want;
	memmove(c->rx, c->rx + want, c->got);
	return 0;
}

/* Bytes from the source; false when we are done with the connection. */
static bool on_data(struct conn *c)
{
	int r;

	while (!(r = one_message(c)))
		;
	return r > 0;
}

/*
 * The source closed the connection (or reset it). Without a reply: held
 * for a while, or closed at once; a HELLO_ACK and then no refusal is
 * unexpected.
 */
static void on_close(struct conn *c)
{
	long long held = now_ms() - c->t_conn;
	struct tally *t;
	int i;

	if (c->r->replied) {
		COUNT(c->kind, bad);
		return;
	}
	for (i = 0; i < 2; i++) {
		t = &tally[i ? NR_KINDS : c->kind];
		if (held < QUICK_MS) {
			t->closed++;
			continue;
		}
		t->held++;
		if (!t->hold_min || held < t->hold_min)
			t->hold_min = held;
		if (held > t->hold_max)
			t->hold_max = held;
	}
	c->r->quiet = true;
}

static void connected(struct conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
	if (err && err != ECONNRESET) {
		COUNT(c->kind, connfail);
		finish(c);
		return;
	}
	c->state = S_OPEN;
	c->r->t_conn = c->t_conn = now_ms();
	if (err) {		/* accepted and reset before we looked */
		on_close(c);
		finish(c);
		return;
	}
	if (c->kind == K_CLOSE) {
		finish(c);
		return;
	}
	if (say(c)) {		/* reset before we said it: no reply */
		on_close(c);
		finish(c);
	}
}

static void readable(struct conn *c)
{
	ssize_t n = recv(c->fd, c->rx + c->got, sizeof(c->rx) - c->got,
			 MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		on_close(c);
		finish(c);
		return;
	}
	c->got += (size_t)n;
	if (!on_data(c))
		finish(c);	/* we are done with it */
}

static int start(struct conn *c, const struct sockaddr_in *sin, int kind,
		 struct rec *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->kind = kind;
	c->t_start = now_ms();
	c->state = S_CONNECTING;
	c->r = r;
	COUNT(kind, attempts);
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) &&
	    errno != EINPROGRESS) {
		COUNT(kind, connfail);
		finish(c);
	}
	return 0;
}

/*
 * slow: the header of a HELLO at SLOW_HDR_MS, then a byte of its payload
 * every SLOW_BYTE_MS. A failed send is the source's close, which poll
 * reports.
 */
static void slow_tick(struct conn *c, long long t)
{
	size_t n = c->slow_sent ? 1 : HDR;

	if (c->kind != K_SLOW || c->state != S_OPEN ||
	    c->slow_sent + n > sizeof(c->slow_msg) ||
	    t - c->t_conn < (c->slow_sent ? c->slow_next : SLOW_HDR_MS))
		return;
	if (send(c->fd, c->slow_msg + c->slow_sent, n,
		 MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		c->slow_sent += n;
	c->slow_next = t - c->t_conn + SLOW_BYTE_MS;
}

/* Time limits: a connect, then the wait for the source to close. */
static void expire(struct conn *c, long long hold_ms)
{
	long long t = now_ms();

	slow_tick(c, t);

	if (c->state == S_CONNECTING && t - c->t_start >= CONNECT_MS) {
		COUNT(c->kind, connfail);
		finish(c);
	} else if (c->state == S_OPEN && t - c->t_conn >= hold_ms) {
		COUNT(c->kind, open);
		finish(c);
	}
}

/* The kind of attempt @n. */
static int rec_kind(unsigned int n)
{
	return only_kind >= 0 ? only_kind : (int)(n % NR_KINDS);
}

static void write_tally(FILE *f, const struct tally *t)
{
	fprintf(f, " attempts %u connfail %u proto %u auth %u other %u acks %u "
		"bad %u closed %u held %u hold_min_ms %lld hold_max_ms %lld "
		"open %u", t->attempts, t->connfail, t->proto, t->auth, t->other,
		t->acks, t->bad, t->closed, t->held, t->hold_min, t->hold_max,
		t->open);
}

static int report(const char *path, unsigned int n, long long t0,
		  long long spread, long long run)
{
	FILE *f = fopen(path, "w");
	unsigned int i;
	int k;

	if (!f) {
		perror(path);
		return 1;
	}
	for (k = 0; k < NR_KINDS; k++) {
		fprintf(f, "kind %s", kind_name[k]);
		write_tally(f, &tally[k]);
		fprintf(f, "\n");
	}
	fprintf(f, "total");
	write_tally(f, &tally[NR_KINDS]);
	fprintf(f, " spread_ms %lld run_ms %lld\n", spread, run);
	for (i = 0; i < n; i++)
		if (recs[i].quiet)
			fprintf(f, "quiet %s %lld %lld\n",
				kind_name[rec_kind(i)], recs[i].t_conn - t0,
				recs[i].t_end - t0);
	return fclose(f) ? 1 : 0;
}

static int flood(const struct sockaddr_in *sin, unsigned int total,
		 long long spread_ms, long long hold_ms, const char *out)
{
	static struct conn conns[MAX_INFLIGHT];
	struct pollfd p[MAX_INFLIGHT];
	struct conn *of[MAX_INFLIGHT];	/* poll slot -> connection */
	long long t0 = now_ms(), last = t0;
	unsigned int n = 0;
	int np, i;

	for (;;) {
		for (np = 0, i = 0; i < MAX_INFLIGHT; i++) {
			struct conn *c = &conns[i];

			if (c->state == S_FREE && n < total &&
			    now_ms() >= t0 + (long long)n * spread_ms / total) {
				if (start(c, sin, rec_kind(n), &recs[n]))
					return 1;
				n++;
				last = now_ms();
			}
			if (c->state != S_FREE)
				expire(c, hold_ms);
			if (c->state == S_FREE)
				continue;
			p[np] = (struct pollfd){ .fd = c->fd,
				.events = c->state == S_CONNECTING ? POLLOUT : POLLIN };
			of[np++] = c;
		}
		if (!np && n >= total)
			break;
		poll(p, np, 5);
		for (i = 0; i < np; i++) {
			if (!p[i].revents || of[i]->state == S_FREE)
				continue;
			if (of[i]->state == S_CONNECTING)
				connected(of[i]);
			else
				readable(of[i]);
		}
	}
	return report(out, n, t0, last - t0, now_ms() - t0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned int total;

	if (argc != 9 && argc != 10) {
		fprintf(stderr, "usage: ftp_flood ADDR PORT REGION SIZE COUNT "
			"SPREAD_MS HOLD_MS OUTFILE [KIND]\n");
		return 2;
	}
	if (argc == 10) {
		for (only_kind = NR_KINDS - 1; only_kind >= 0; only_kind--)
			if (!strcmp(argv[9], kind_name[only_kind]))
				break;
		if (only_kind < 0)
			return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    !addr_allowed(&sin.sin_addr)) {
		fprintf(stderr, "ftp_flood: %s: not a loopback or test address\n",
			argv[1]);
		return 2;
	}
	region = argv[3];
	region_size = strtoull(argv[4], NULL, 0);
	total = (unsigned int)strtoul(argv[5], NULL, 0);
	if (!total || total > 100000 || !*region)
		return 2;
	recs = calloc(total, sizeof(*recs));
	if (!recs)
		return 1;
	return flood(&sin, total, atoll(argv[6]), atoll(argv[7]), argv[8]);
}
