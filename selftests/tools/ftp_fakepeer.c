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
#include <string.h>
#include <sys/socket.h>
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
	if (le16toh(h.type) == FTP_MSG_ERROR)
		printf("reply ERROR code=%u\n", le32toh(m.err.code));
	else if (le16toh(h.type) == FTP_MSG_HELLO_ACK)
		printf("reply HELLO_ACK version=%u pages=%llu\n",
		       le16toh(m.ack.version),
		       (unsigned long long)le64toh(m.ack.region_pages));
	else
		printf("reply type %u\n", le16toh(h.type));
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
	fprintf(stderr, "usage: ftp_fakepeer hello ADDR PORT REGION SIZE VMIN VMAX\n"
		"       ftp_fakepeer source ADDR PORT VERSION PAGES READYFILE\n"
		"       ftp_fakepeer garbage ADDR PORT NBYTES\n");
	return 2;
}
