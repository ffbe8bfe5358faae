// SPDX-License-Identifier: GPL-2.0
/*
 * ftp_fakepeer - a misbehaving ftpage protocol peer for the selftests,
 * built with ../kmod/proto.c (the module's own message parser).
 *
 *   ftp_fakepeer hello ADDR PORT REGION SIZE VMIN VMAX
 *	connect, send HELLO (demand channel) with protocol versions
 *	VMIN..VMAX, print the answer: "reply ERROR code=N" or
 *	"reply HELLO_ACK version=V pages=P"; exit 0 when a valid message came
 *   ftp_fakepeer source ADDR PORT VERSION PAGES READYFILE
 *	a fake source: listen, create READYFILE, answer each HELLO with
 *	HELLO_ACK(VERSION, PAGES) and print what the peer sent; exit 0 after
 *	the first connection the peer closed, 1 after 20 s without one
 *   ftp_fakepeer garbage ADDR PORT NBYTES
 *	connect, send NBYTES of garbage, print what comes back and whether
 *	the connection is closed within 5 s ("closed after N ms", exit 0) or
 *	not ("still open", exit 2)
 *   ftp_fakepeer proxy ADDR PORT TO_ADDR TO_PORT CAPFILE READYFILE
 *	listen on ADDR:PORT, create READYFILE, forward every connection to
 *	TO_ADDR:TO_PORT both ways, and write the first connection's first
 *	two messages from the peer (an authenticated HELLO and its AUTH) to
 *	CAPFILE; exit 0 once every connection closed, 1 after 120 s.
 *	With FTP_PROXY_CORRUPT=N in the environment it flips one bit of
 *	what the target sends every N bytes of each connection (never in
 *	its first N bytes: the handshake) and runs until killed; with
 *	FTP_PROXY_CORRUPT_UP=M as well, instead one bit of what the peer
 *	sends at its byte N, in the first M connections that long. With
 *	FTP_PROXY_SCAN=STRING and FTP_PROXY_SCAN_OUT=FILE it counts how often
 *	STRING occurs in what the target sends (all connections), in FILE
 *	(a native 64-bit counter, updated as it goes), and runs until killed
 *   ftp_fakepeer replay ADDR PORT CAPFILE
 *	connect and replay a handshake CAPFILE holds: its HELLO, then once
 *	answered its AUTH; print each answer ("reply HELLO_ACK", "reply
 *	ERROR code=N", "reply AUTH accepted"); exit 0 when answers came
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void addr_of(struct sockaddr_in *sin, const char *ip, const char *port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", ip);
		exit(2);
	}
}

static int connect_to(const char *ip, const char *port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr_of(&sin, ip, port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Read exactly n bytes within timeout_ms: 0, -1 EOF/error, -2 timeout. */
static int read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0)
			return -2;
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

static int send_msg(int fd, unsigned int type, const void *p, __u32 len)
{
	struct ftp_hdr h;

	ftp_proto_hdr(&h, type, len, 0);
	ftp_proto_set_csum(&h, p, len, NULL, 0);
	return write_full(fd, &h, sizeof(h)) || (len && write_full(fd, p, len));
}

/* Receive one message's header and fixed part; prints it. 0 when valid. */
static int recv_msg(int fd, struct ftp_hdr *h, void *fixed, int timeout_ms)
{
	struct ftp_proto_limits lim = { .nr_pages = ~0ull };
	unsigned int type;
	int len, r;

	r = read_full(fd, h, sizeof(*h), timeout_ms);
	if (r) {
		printf("no message (%s)\n", r == -2 ? "timeout" : "closed");
		return -1;
	}
	len = ftp_proto_check_hdr(h);
	if (len < 0) {
		printf("malformed header\n");
		return -1;
	}
	type = le16toh(h->type);
	if (read_full(fd, fixed, ftp_proto_fixed_len(type), timeout_ms) ||
	    ftp_proto_check_fixed(type, fixed, &lim)) {
		printf("malformed payload of type %u\n", type);
		return -1;
	}
	return 0;
}

/* Print an answer from the source: ERROR, HELLO_ACK or AUTH. */
static void print_reply(const struct ftp_hdr *h, const void *m)
{
	const struct ftp_msg_error *err = m;
	const struct ftp_msg_hello_ack *ack = m;

	switch (le16toh(h->type)) {
	case FTP_MSG_ERROR:
		printf("reply ERROR code=%u\n", le32toh(err->code));
		break;
	case FTP_MSG_HELLO_ACK:
		printf("reply HELLO_ACK version=%u pages=%llu features=%llu\n",
		       le16toh(ack->version),
		       (unsigned long long)le64toh(ack->region_pages),
		       (unsigned long long)le64toh(ack->features));
		break;
	case FTP_MSG_AUTH:
		printf("reply AUTH accepted\n");
		break;
	default:
		printf("reply type %u\n", le16toh(h->type));
	}
}

static int cmd_hello(char **argv)
{
	struct ftp_msg_hello hello = {
		.version_min = htole16(atoi(argv[6])),
		.version_max = htole16(atoi(argv[7])),
		.channel = htole16(FTP_CHAN_DEMAND),
		.generation = htole16(1),
		.session = htole64(0x5e55000000000000ull | (unsigned)getpid()),
		.region_size = htole64(strtoull(argv[5], NULL, 0)),
	};
	union {
		struct ftp_msg_hello_ack ack;
		struct ftp_msg_error err;
	} m;
	struct ftp_hdr h;
	int fd = connect_to(argv[2], argv[3]);

	strncpy((char *)hello.region, argv[4], sizeof(hello.region) - 1);
	if (send_msg(fd, FTP_MSG_HELLO, &hello, sizeof(hello))) {
		perror("send HELLO");
		return 1;
	}
	if (recv_msg(fd, &h, &m, 5000))
		return 1;
	print_reply(&h, &m);
	close(fd);
	return 0;
}

/* A captured handshake: HELLO then AUTH, each with its header. */
#define CAP_HELLO	(sizeof(struct ftp_hdr) + sizeof(struct ftp_msg_hello))
#define CAP_LEN		(CAP_HELLO + sizeof(struct ftp_hdr) + sizeof(struct ftp_msg_auth))

/* Bit flips of FTP_PROXY_CORRUPT: one every @every bytes the target sent. */
static void proxy_corrupt(unsigned char *buf, ssize_t r, long long *seen,
			  long long every)
{
	long long at;

	if (every && (*seen + r) / every > *seen / every && *seen + r > every) {
		at = (*seen + r) / every * every - *seen;
		buf[at < r ? at : r - 1] ^= 0x10;
	}
	*seen += r;
}

/*
 * FTP_PROXY_CORRUPT_UP=N: instead, one bit of what the peer sends flipped
 * at byte @every of a connection, in the first N connections that get that
 * far (@flips: shared by every pair). A flip per connection, and few: an
 * epoch a reset restarts still gets through.
 */
static void proxy_corrupt_up(unsigned char *buf, ssize_t r, long long *seen,
			     long long every, int *flips, int max)
{
	if (*seen < every && *seen + r > every &&
	    __atomic_fetch_add(flips, 1, __ATOMIC_RELAXED) < max)
		buf[every - *seen] ^= 0x10;
	*seen += r;
}

/* FTP_PROXY_SCAN: occurrences of a string in the target's stream. */
struct proxy_scan {
	const char *needle;
	size_t len;			/* 1..64 */
	uint64_t *count;		/* shared by every pair */
	unsigned char tail[64];		/* the last len-1 bytes seen */
	size_t tail_len;
};

static void proxy_scan_init(struct proxy_scan *sc)
{
	const char *out = getenv("FTP_PROXY_SCAN_OUT");
	int fd;

	sc->needle = getenv("FTP_PROXY_SCAN");
	sc->len = sc->needle ? strlen(sc->needle) : 0;
	if (!sc->len || sc->len > sizeof(sc->tail) || !out) {
		sc->len = 0;
		return;
	}
	fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, sizeof(uint64_t)) ||
	    (sc->count = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
			      MAP_SHARED, fd, 0)) == MAP_FAILED) {
		perror("scan file");
		exit(1);
	}
	close(fd);
}

/* Count the needles in tail + buf, then keep buf's last len-1 bytes. */
static void proxy_scan(struct proxy_scan *sc, const unsigned char *buf,
		       size_t r)
{
	unsigned char w[sizeof(sc->tail) + 65536];
	size_t n, i, keep;

	if (!sc->len)
		return;
	memcpy(w, sc->tail, sc->tail_len);
	memcpy(w + sc->tail_len, buf, r);
	n = sc->tail_len + r;
	for (i = 0; i + sc->len <= n; i++)
		if (!memcmp(w + i, sc->needle, sc->len))
			__atomic_add_fetch(sc->count, 1, __ATOMIC_RELAXED);
	keep = n < sc->len - 1 ? n : sc->len - 1;
	memcpy(sc->tail, w + n - keep, keep);
	sc->tail_len = keep;
}

/*
 * One connection pair, in its own process so that a side that does not
 * read blocks only its own pair: copy both ways until either side closes.
 * The first pair (@capfile set) records the peer's first CAP_LEN bytes.
 */
static int proxy_pair(int c, int t, const char *capfile, long long every,
		      int *up_flips, int up_max, struct proxy_scan *sc)
{
	struct pollfd p[2] = { { .fd = c, .events = POLLIN },
			       { .fd = t, .events = POLLIN } };
	unsigned char cap[CAP_LEN], buf[65536];
	long long seen = 0, seen_up = 0;
	size_t cap_len = 0;
	ssize_t r;
	int i;

	for (;;) {
		if (poll(p, 2, -1) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0)
				return 0;
			if (i == 1) {
				proxy_scan(sc, buf, r);
				proxy_corrupt(buf, r, &seen, up_max ? 0 : every);
			}
			if (i == 0 && up_max)
				proxy_corrupt_up(buf, r, &seen_up, every,
						 up_flips, up_max);
			if (i == 0 && capfile && cap_len < CAP_LEN) {
				size_t n = (size_t)r < CAP_LEN - cap_len ?
					   (size_t)r : CAP_LEN - cap_len;

				memcpy(cap + cap_len, buf, n);
				cap_len += n;
				if (cap_len == CAP_LEN) {
					int f = open(capfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

					if (f < 0 || write_full(f, cap, CAP_LEN))
						perror("capture");
					close(f);
					printf("proxy: captured a handshake\n");
					fflush(stdout);
				}
			}
			if (write_full(p[!i].fd, buf, r))
				return 0;
		}
	}
}

static int cmd_proxy(char **argv)
{
	struct sockaddr_in sin, to;
	long long end = now_ms() + 120000;
	const char *every = getenv("FTP_PROXY_CORRUPT");
	long long corrupt = every ? atoll(every) : 0;
	const char *up = getenv("FTP_PROXY_CORRUPT_UP");
	int up_max = up ? atoi(up) : 0;
	int *up_flips = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	int accepted = 0, live = 0, c, t;
	struct pollfd pl = { .fd = lfd, .events = POLLIN };
	struct proxy_scan sc = { 0 };

	if (up_flips == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	*up_flips = 0;
	addr_of(&sin, argv[2], argv[3]);
	addr_of(&to, argv[4], argv[5]);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 16)) {
		perror("bind/listen");
		return 1;
	}
	proxy_scan_init(&sc);
	close(open(argv[7], O_WRONLY | O_CREAT | O_TRUNC, 0644));
	while (corrupt || sc.len || (now_ms() < end && (!accepted || live))) {
		while (live && waitpid(-1, NULL, WNOHANG) > 0)
			live--;
		if (poll(&pl, 1, 200) <= 0)
			continue;
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		t = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(t, (struct sockaddr *)&to, sizeof(to))) {
			perror("proxy connect");
			close(c);
			close(t);
			continue;
		}
		accepted++;
		fflush(stdout);
		if (!fork()) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(lfd);
			_exit(proxy_pair(c, t, accepted == 1 ? argv[6] : NULL,
					 corrupt, up_flips, up_max, &sc));
		}
		live++;
		close(c);
		close(t);
	}
	printf("proxy: %d connection(s), %s\n", accepted,
	       live ? "some still open" : "all closed");
	return live || !accepted;
}

static int cmd_replay(char **argv)
{
	unsigned char cap[CAP_LEN], m[FTP_PROTO_MAX_FIXED];
	struct ftp_hdr h;
	int f = open(argv[4], O_RDONLY), fd;

	if (f < 0 || read_full(f, cap, CAP_LEN, 1000)) {
		fprintf(stderr, "no captured handshake in %s\n", argv[4]);
		return 1;
	}
	close(f);
	fd = connect_to(argv[2], argv[3]);
	if (write_full(fd, cap, CAP_HELLO) || recv_msg(fd, &h, m, 5000))
		return 1;
	print_reply(&h, m);
	if (le16toh(h.type) != FTP_MSG_HELLO_ACK)
		return 0;
	if (write_full(fd, cap + CAP_HELLO, CAP_LEN - CAP_HELLO) ||
	    recv_msg(fd, &h, m, 5000))
		return 1;
	print_reply(&h, m);
	close(fd);
	return 0;
}

static int cmd_source(char **argv)
{
	struct ftp_msg_hello_ack ack = {
		.version = htole16(atoi(argv[4])),
		.region_pages = htole64(strtoull(argv[5], NULL, 0)),
	};
	struct sockaddr_in sin;
	long long end = now_ms() + 20000;
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	addr_of(&sin, argv[2], argv[3]);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 4)) {
		perror("bind/listen");
		return 1;
	}
	close(open(argv[6], O_WRONLY | O_CREAT | O_TRUNC, 0644));
	while (now_ms() < end) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct ftp_msg_hello hello;
		struct ftp_hdr h;
		char c;
		int fd;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (recv_msg(fd, &h, &hello, 5000) ||
		    le16toh(h.type) != FTP_MSG_HELLO) {
			close(fd);
			continue;
		}
		printf("fake source: HELLO versions %u..%u channel %u region %.32s\n",
		       le16toh(hello.version_min), le16toh(hello.version_max),
		       le16toh(hello.channel), (char *)hello.region);
		send_msg(fd, FTP_MSG_HELLO_ACK, &ack, sizeof(ack));
		/* wait for the peer to give up on us */
		if (read_full(fd, &c, 1, 10000) == -1) {
			printf("fake source: peer closed the connection\n");
			close(fd);
			return 0;
		}
		close(fd);
	}
	printf("fake source: no peer closed a connection\n");
	return 1;
}

static int cmd_garbage(char **argv)
{
	size_t n = strtoul(argv[4], NULL, 0), i, got = 0;
	unsigned char *buf = malloc(n), rx[4096];
	unsigned int x = 0x12345678;
	int fd = connect_to(argv[2], argv[3]);
	long long t0, end;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = x >> 16;
	}
	if (write_full(fd, buf, n))
		perror("send garbage");
	t0 = now_ms();
	end = t0 + 5000;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) == 0) {
			printf("garbage: got %zu bytes back, connection still open after %lld ms\n",
			       got, now_ms() - t0);
			return 2;
		}
		r = read(fd, rx, sizeof(rx));
		if (r <= 0) {
			printf("garbage: got %zu bytes back, connection closed (%s) after %lld ms\n",
			       got, r ? strerror(errno) : "EOF", now_ms() - t0);
			return 0;
		}
		if (!got && r >= (ssize_t)(sizeof(struct ftp_hdr) + 8)) {
			struct ftp_hdr *h = (struct ftp_hdr *)rx;
			struct ftp_msg_error *e = (struct ftp_msg_error *)(h + 1);

			if (ftp_proto_check_hdr(h) >= 0 &&
			    le16toh(h->type) == FTP_MSG_ERROR)
				printf("reply ERROR code=%u\n", le32toh(e->code));
		}
		got += r;
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 8 && !strcmp(argv[1], "hello"))
		return cmd_hello(argv);
	if (argc == 7 && !strcmp(argv[1], "source"))
		return cmd_source(argv);
	if (argc == 5 && !strcmp(argv[1], "garbage"))
		return cmd_garbage(argv);
	if (argc == 8 && !strcmp(argv[1], "proxy"))
		return cmd_proxy(argv);
	if (argc == 5 && !strcmp(argv[1], "replay"))
		return cmd_replay(argv);
	fprintf(stderr, "usage: ftp_fakepeer hello ADDR PORT REGION SIZE VMIN VMAX\n"
		"       ftp_fakepeer source ADDR PORT VERSION PAGES READYFILE\n"
		"       ftp_fakepeer garbage ADDR PORT NBYTES\n"
		"       ftp_fakepeer proxy ADDR PORT TO_ADDR TO_PORT CAPFILE READYFILE\n"
		"       ftp_fakepeer replay ADDR PORT CAPFILE\n");
	return 2;
}
