// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_echo - TCP echo helper for the selftests (a tool, not a test).
 *
 *   tcp_echo [-t SECS] serve  ADDR PORT        accept one connection, echo
 *                                              everything until EOF, exit
 *   tcp_echo [-t SECS] client ADDR PORT BYTES  send BYTES of a deterministic
 *                                              pseudo-random stream, read it
 *                                              back, compare, print checksum
 *
 * -t bounds every wait (accept, connect, each period without progress);
 * default 30 s.  Exit codes: 0 ok, 1 error or data mismatch, 2 usage,
 * 3 connection refused / unreachable, 124 timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_REFUSED 3
#define EXIT_TIMEOUT 124

static int timeout_s = 30;

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcp_echo: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tcp_echo [-t SECS] serve ADDR PORT\n"
		"       tcp_echo [-t SECS] client ADDR PORT BYTES\n");
	exit(2);
}

static struct sockaddr_in parse_addr(const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *end;
	long p = strtol(port, &end, 10);

	if (*end || p <= 0 || p > 65535)
		usage();
	sa.sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die(2, "bad IPv4 address '%s'", addr);
	return sa;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die(1, "fcntl: %s", strerror(errno));
}

/* Deterministic stream: xorshift64*, one byte at a time. */
struct stream {
	uint64_t s;
	uint64_t word;
	unsigned int left;
};

static void stream_init(struct stream *st)
{
	st->s = 0x9e3779b97f4a7c15ull;
	st->left = 0;
}

static uint8_t stream_next(struct stream *st)
{
	uint8_t b;

	if (!st->left) {
		st->s ^= st->s >> 12;
		st->s ^= st->s << 25;
		st->s ^= st->s >> 27;
		st->word = st->s * 0x2545f4914f6cdd1dull;
		st->left = 8;
	}
	b = (uint8_t)st->word;
	st->word >>= 8;
	st->left--;
	return b;
}

/* wait for events on fd, bounded by timeout_s; returns revents */
static short wait_fd(int fd, short events, const char *what)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, timeout_s * 1000);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die(1, "poll: %s", strerror(errno));
	if (r == 0)
		die(EXIT_TIMEOUT, "timed out after %d s waiting for %s",
		    timeout_s, what);
	return p.revents;
}

static int do_serve(const char *addr, const char *port)
{
	struct sockaddr_in sa = parse_addr(addr, port);
	int one = 1, ls, fd;
	char buf[65536];
	uint64_t total = 0;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die(1, "socket: %s", strerror(errno));
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(1, "bind %s:%s: %s", addr, port, strerror(errno));
	if (listen(ls, 1) < 0)
		die(1, "listen: %s", strerror(errno));
	set_nonblock(ls);
	fprintf(stderr, "tcp_echo: listening on %s:%s\n", addr, port);

	wait_fd(ls, POLLIN, "a connection");
	fd = accept(ls, NULL, NULL);
	if (fd < 0)
		die(1, "accept: %s", strerror(errno));
	close(ls);

	for (;;) {
		ssize_t n, off = 0;

		wait_fd(fd, POLLIN, "data");
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			die(1, "read: %s", strerror(errno));
		if (n == 0)
			break;
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				wait_fd(fd, POLLOUT, "send space");
				continue;
			}
			if (w < 0)
				die(1, "write: %s", strerror(errno));
			off += w;
		}
		total += n;
	}
	close(fd);
	fprintf(stderr, "tcp_echo: echoed %" PRIu64 " bytes\n", total);
	return 0;
}

static int do_client(const char *addr, const char *port, const char *bytes)
{
	struct sockaddr_in sa = parse_addr(addr, port);
	struct stream tx, rx;
	uint64_t want, sent = 0, got = 0, sum = 0xcbf29ce484222325ull;
	uint8_t out[65536], in[65536];
	size_t out_len = 0, out_off = 0;
	int fd, err = 0, wr_shut = 0;
	socklen_t len = sizeof(err);
	char *end;

	want = strtoull(bytes, &end, 0);
	if (*end)
		usage();
	stream_init(&tx);
	stream_init(&rx);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die(1, "socket: %s", strerror(errno));
	set_nonblock(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS)
			die(EXIT_REFUSED, "connect %s:%s: %s", addr, port,
			    strerror(errno));
		wait_fd(fd, POLLOUT, "connect");
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			die(1, "getsockopt: %s", strerror(errno));
		if (err == ETIMEDOUT)
			die(EXIT_TIMEOUT, "connect %s:%s: %s", addr, port,
			    strerror(err));
		if (err)
			die(EXIT_REFUSED, "connect %s:%s: %s", addr, port,
			    strerror(err));
	}

	while (got < want || !wr_shut) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (sent < want || out_off < out_len)
			p.events |= POLLOUT;
		else if (!wr_shut) {
			shutdown(fd, SHUT_WR);
			wr_shut = 1;
			continue;
		}
		do
			r = poll(&p, 1, timeout_s * 1000);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			die(1, "poll: %s", strerror(errno));
		if (r == 0)
			die(EXIT_TIMEOUT, "no progress for %d s (sent %" PRIu64
			    ", received %" PRIu64 " of %" PRIu64 ")",
			    timeout_s, sent, got, want);
		if (p.revents & POLLOUT) {
			if (out_off == out_len) {
				out_len = 0;
				out_off = 0;
				while (out_len < sizeof(out) && sent + out_len < want)
					out[out_len++] = stream_next(&tx);
			}
			if (out_off < out_len) {
				ssize_t w = write(fd, out + out_off, out_len - out_off);

				if (w < 0 && errno != EAGAIN && errno != EINTR)
					die(1, "write: %s", strerror(errno));
				if (w > 0) {
					out_off += w;
					sent += w;
				}
			}
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = read(fd, in, sizeof(in));

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0)
				die(1, "read: %s", strerror(errno));
			if (n == 0 && got < want)
				die(1, "connection closed after %" PRIu64
				    " of %" PRIu64 " bytes", got, want);
			for (ssize_t i = 0; i < n; i++) {
				if (got + i >= want)
					die(1, "received more than %" PRIu64
					    " bytes", want);
				if (in[i] != stream_next(&rx))
					die(1, "data mismatch at byte %" PRIu64,
					    got + i);
				sum = (sum ^ in[i]) * 0x100000001b3ull;
			}
			got += n;
		}
	}
	/* the peer closes after echoing everything */
	for (;;) {
		ssize_t n;

		wait_fd(fd, POLLIN, "the peer to close");
		n = read(fd, in, sizeof(in));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			die(1, "read: %s", strerror(errno));
		if (n > 0)
			die(1, "received more than %" PRIu64 " bytes", want);
		break;
	}
	close(fd);
	printf("tcp_echo: %" PRIu64 " bytes echoed, checksum %016" PRIx64 ", ok\n",
	       got, sum);
	return 0;
}

int main(int argc, char **argv)
{
	int opt;

	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "+t:")) != -1) {
		if (opt != 't')
			usage();
		timeout_s = atoi(optarg);
		if (timeout_s <= 0)
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc == 3 && !strcmp(argv[0], "serve"))
		return do_serve(argv[1], argv[2]);
	if (argc == 4 && !strcmp(argv[0], "client"))
		return do_client(argv[1], argv[2], argv[3]);
	usage();
	return 2;
}
