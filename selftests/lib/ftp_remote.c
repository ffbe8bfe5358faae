// SPDX-License-Identifier: GPL-2.0
/* Helpers for the remote-paging selftests; see ftp_remote.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"

#define FTP_IO_CHUNK	(1u << 20)

uint64_t ftp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ftp_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ftp_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int ftp_run_capture(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024], line[512];
	size_t used = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = 0;
	fflush(stdout);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		printf("# | %s", line);
		if (used + strlen(line) < len) {
			strcpy(out + used, line);
			used += strlen(line);
		}
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *ftp_tests_dir(void)
{
	const char *d = getenv("FTP_TESTS");

	return d && *d ? d : "/tests";
}

int ftp_pair_setup(void)
{
	return ftp_sh(". '%s/lib.sh' && pair_setup >/dev/null && "
		      "retry 20 0.2 nsenter --net=/host/run/netns/ftpb "
		      "ping -c 1 -W 1 " FTP_PAIR_A_ADDR " >/dev/null",
		      ftp_tests_dir()) ? -1 : 0;
}

void ftp_pair_teardown(void)
{
	ftp_sh(". '%s/lib.sh' && pair_teardown", ftp_tests_dir());
}

int ftp_netns_enter(const char *name)
{
	static int orig = -1;
	char path[128];
	int fd, ret, e;

	if (orig < 0) {
		orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (orig < 0)
			return -1;
	}
	if (!name)
		return setns(orig, CLONE_NEWNET);
	snprintf(path, sizeof(path), "/host/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

static int ftp_peer_cmd(int ctl, unsigned long cmd, const char *name,
			const char *src_name, const char *ip,
			unsigned int port, uint32_t flags)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	struct ftpage_peer p = {
		.name = (uintptr_t)name,
		.addr = (uintptr_t)&sin,
		.addrlen = sizeof(sin),
		.flags = flags & FTP_SECURE ? flags & ~FTP_SECURE :
			 flags | FTPAGE_SERVE_INSECURE,	/* == PULL_INSECURE */
		.peer_name = (uintptr_t)src_name,
	};

	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	return ioctl(ctl, cmd, &p);
}

int ftp_serve(int ctl, const char *name, const char *ip, unsigned int port,
	      uint32_t flags)
{
	return ftp_peer_cmd(ctl, FTPAGE_IOC_SERVE, name, NULL, ip, port, flags);
}

int ftp_pull(int ctl, const char *name, const char *src_name, const char *ip,
	     unsigned int port)
{
	return ftp_peer_cmd(ctl, FTPAGE_IOC_PULL, name, src_name, ip, port, 0);
}

int ftp_pull_flags(int ctl, const char *name, const char *src_name,
		   const char *ip, unsigned int port, uint32_t flags)
{
	return ftp_peer_cmd(ctl, FTPAGE_IOC_PULL, name, src_name, ip, port,
			    flags);
}

int ftp_set_key(int ctl, const char *name, const void *key, uint32_t len)
{
	struct ftpage_key k = {
		.name = (uintptr_t)name,
		.key = (uintptr_t)key,
		.key_len = len,
	};

	return ioctl(ctl, FTPAGE_IOC_SET_KEY, &k);
}

/*
 * Poll STATUS of NAME every poll_ms (0: without sleeping) until done(st,
 * arg) or timeout_ms passed; *st holds the last status. 0 when done, -1
 * on timeout or a failed STATUS.
 */
static int ftp_wait_status(int ctl, const char *name,
			   bool (*done)(const struct ftpage_status *st,
					uint64_t arg),
			   uint64_t arg, unsigned int timeout_ms,
			   unsigned int poll_ms, struct ftpage_status *st)
{
	uint64_t end = ftp_now_ms() + timeout_ms;

	for (;;) {
		if (ftp_status(ctl, name, st))
			return -1;
		if (done(st, arg))
			return 0;
		if (ftp_now_ms() >= end)
			return -1;
		if (poll_ms)
			ftp_sleep_ms(poll_ms);
	}
}

static bool ftp_in_state(const struct ftpage_status *st, uint64_t want)
{
	return st->state == want;
}

int ftp_wait_state(int ctl, const char *name, uint32_t want,
		   unsigned int timeout_ms, struct ftpage_status *st)
{
	return ftp_wait_status(ctl, name, ftp_in_state, want, timeout_ms, 50, st);
}

const char *ftp_state_str(uint32_t s)
{
	static const char *const n[] = {
		[FTPAGE_STATE_LOCAL] = "local", [FTPAGE_STATE_FROZEN] = "frozen",
		[FTPAGE_STATE_EMPTY] = "empty", [FTPAGE_STATE_DEAD] = "dead",
		[FTPAGE_STATE_PULLING] = "pulling",
		[FTPAGE_STATE_COMPLETE] = "complete",
		[FTPAGE_STATE_BROKEN] = "broken",
		[FTPAGE_STATE_ROLLED_BACK] = "rolled-back",
		[FTPAGE_STATE_ABANDONED] = "abandoned",
		[FTPAGE_STATE_DONE] = "done",
	};

	return s < sizeof(n) / sizeof(n[0]) && n[s] ? n[s] : "?";
}

const char *ftp_ferr_str(uint32_t e)
{
	static const char *const n[] = {
		[FTPAGE_FERR_NONE] = "none", [FTPAGE_FERR_TIMEOUT] = "timeout",
		[FTPAGE_FERR_LINK] = "link", [FTPAGE_FERR_DETACHED] = "detached",
		[FTPAGE_FERR_FROZEN] = "frozen", [FTPAGE_FERR_DEAD] = "dead",
		[FTPAGE_FERR_FENCED] = "fenced",
		[FTPAGE_FERR_ABANDONED] = "abandoned",
	};

	return e < sizeof(n) / sizeof(n[0]) && n[e] ? n[e] : "?";
}

#define U(x) ((unsigned long long)(x))
void ftp_status_diag(const char *name, const struct ftpage_status *st)
{
	printf("# %s: %s %s, pages %llu known %llu present %llu, demand %llu "
	       "fetched %llu pushed %llu served %llu zero %llu, rx %llu tx %llu, "
	       "lat p50 %llu us p99 %llu us max %llu us, errors %llu last %s, "
	       "connected %u\n", name,
	       st->role == FTPAGE_ROLE_DEST ? "dest" : "source",
	       ftp_state_str(st->state), U(st->pages_total), U(st->pages_known),
	       U(st->pages_present), U(st->demand_faults), U(st->pages_fetched),
	       U(st->pages_pushed), U(st->pages_served), U(st->zero_pages),
	       U(st->bytes_rx), U(st->bytes_tx), U(st->fault_lat_p50_ns / 1000),
	       U(st->fault_lat_p99_ns / 1000), U(st->fault_lat_max_ns / 1000),
	       U(st->errors), ftp_ferr_str(st->last_error), st->connected);
	fflush(stdout);
}

static int ftp_open_region(const char *name, int flags)
{
	char path[64 + FTPAGE_NAME_MAX];

	snprintf(path, sizeof(path), FTPAGE_DEV_DIR "/%s", name);
	return open(path, flags | O_CLOEXEC);
}

int64_t ftp_fill_pattern(const char *name, uint64_t size, uint32_t seed,
			 ftp_page_pred want)
{
	uint8_t *buf = malloc(FTP_IO_CHUNK);
	uint64_t off, p, written = 0;
	int fd = ftp_open_region(name, O_RDWR);
	int ret = -1;

	if (fd < 0 || !buf) {
		printf("# fill %s: %s\n", name, strerror(errno));
		goto out;
	}
	for (off = 0; off < size; off += FTP_IO_CHUNK) {
		uint64_t n = size - off < FTP_IO_CHUNK ? size - off : FTP_IO_CHUNK;
		uint64_t first = off / KG_PAGE_SIZE, run = 0, i;

		/* write runs of wanted pages */
		for (i = 0; i <= n / KG_PAGE_SIZE; i++) {
			p = first + i;
			if (i < n / KG_PAGE_SIZE && (!want || want(p))) {
				kg_pattern_fill(buf + run * KG_PAGE_SIZE,
						(uint32_t)p, seed);
				run++;
				continue;
			}
			if (run) {
				uint64_t at = (p - run) * KG_PAGE_SIZE;
				ssize_t w = pwrite(fd, buf, run * KG_PAGE_SIZE,
						   (off_t)at);

				if (w != (ssize_t)(run * KG_PAGE_SIZE)) {
					printf("# fill %s at %llu: %s\n", name,
					       U(at), w < 0 ? strerror(errno) :
					       "short write");
					goto out;
				}
				written += run;
				run = 0;
			}
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret ? -1 : (int64_t)written;
}

int ftp_region_digest(const char *name, uint64_t size, uint32_t seed,
		      struct ftp_digest *d)
{
	uint8_t *buf = malloc(FTP_IO_CHUNK);
	int fd = ftp_open_region(name, O_RDONLY);
	uint64_t off, h = 0xcbf29ce484222325ull;
	int ret = -1;

	memset(d, 0, sizeof(*d));
	if (fd < 0 || !buf) {
		printf("# digest %s: %s\n", name, strerror(errno));
		goto out;
	}
	for (off = 0; off < size; off += FTP_IO_CHUNK) {
		uint64_t n = size - off < FTP_IO_CHUNK ? size - off : FTP_IO_CHUNK;
		ssize_t r = pread(fd, buf, n, (off_t)off);
		uint64_t i, j;

		if (r != (ssize_t)n) {
			printf("# digest %s: pread at %llu: %s\n", name, U(off),
			       r < 0 ? strerror(errno) : "short read");
			goto out;
		}
		for (i = 0; i < n; i += KG_PAGE_SIZE) {
			const uint64_t *w = (const uint64_t *)(buf + i);
			uint64_t acc = 0, any = 0;

			for (j = 0; j < KG_PAGE_SIZE / 8; j++) {
				acc = (acc ^ w[j]) * 0x100000001b3ull;
				any |= w[j];
			}
			h = (h ^ acc) * 0x100000001b3ull;
			if (any) {
				d->nonzero_pages++;
				if (kg_pattern_check(buf + i,
						     (uint32_t)((off + i) / KG_PAGE_SIZE),
						     seed))
					d->pattern_pages++;
			}
		}
	}
	d->hash = h;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

void ftp_kmsg_mark(const char *tag)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "<6>ftpage-test: mark %s\n", tag);

	if (fd < 0 || write(fd, buf, n) != n)
		printf("# cannot mark the kernel log: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The whole kernel log, malloc'd, or NULL. */
static char *ftp_kmsg_read(void)
{
	char *log = NULL;
	size_t len = 0;
	FILE *f, *mem;
	int c;

	fflush(stdout);
	f = popen("dmesg 2>/dev/null", "r");
	if (!f)
		return NULL;
	mem = open_memstream(&log, &len);
	while (mem && (c = fgetc(f)) != EOF)
		fputc(c, mem);
	pclose(f);
	if (mem)
		fclose(mem);
	return log;
}

/*
 * The lines of @log after the latest "mark TAG" (each later mark starts
 * over), or NULL when there is no such mark.
 */
static char *ftp_kmsg_after(char *log, const char *tag)
{
	char mark[128], *p, *last = NULL;

	snprintf(mark, sizeof(mark), "ftpage-test: mark %s", tag);
	for (p = log; (p = strstr(p, mark)); p++)
		last = p;
	if (!last)
		return NULL;
	p = strchr(last, '\n');
	return p ? p + 1 : last + strlen(last);
}

int ftp_kmsg_count(const char *tag, const char *needle, int max)
{
	char *log = ftp_kmsg_read(), *line, *save = NULL;
	int found = 0;

	line = log ? ftp_kmsg_after(log, tag) : NULL;
	for (line = line ? strtok_r(line, "\n", &save) : NULL; line && found < max;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, needle)) {
			printf("# dmesg: %s\n", line);
			found++;
		}
	}
	if (!found)
		printf("# dmesg after mark %s has no \"%s\"\n", tag, needle);
	free(log);
	return found;
}

bool ftp_kmsg_has(const char *tag, const char *needle)
{
	return ftp_kmsg_count(tag, needle, 1);
}

void *ftp_region_map(const char *name, uint64_t size, int *fd)
{
	void *m;

	*fd = ftp_open_region(name, O_RDWR);
	if (*fd < 0)
		return MAP_FAILED;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (m == MAP_FAILED)
		close(*fd);
	return m;
}

pid_t ftp_touch_child(const char *name, uint64_t size, uint64_t page,
		      bool check, uint32_t expect)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	{
		int fd = ftp_open_region(name, O_RDONLY);
		volatile uint32_t *m;

		if (fd < 0)
			_exit(10);
		m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			_exit(11);
		signal(SIGBUS, SIG_DFL);
		if (check && m[page * (KG_PAGE_SIZE / 4)] != expect)
			_exit(3);
		(void)m[page * (KG_PAGE_SIZE / 4)];
		_exit(0);
	}
}

int ftp_wait_child(pid_t pid, unsigned int timeout_ms, int *status,
		   uint64_t *ms)
{
	uint64_t t0 = ftp_now_ms();
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || r < 0) {
			if (ms)
				*ms = ftp_now_ms() - t0;
			return r == pid ? 1 : -1;
		}
		if (ftp_now_ms() - t0 >= timeout_ms) {
			if (ms)
				*ms = ftp_now_ms() - t0;
			return 0;
		}
		ftp_sleep_ms(10);
	}
}

char ftp_proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

int ftp_tcp_connect(const char *ip, unsigned int port, unsigned int timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int ftp_tcp_listen(const char *ip, unsigned int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 16)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int ftp_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ftp_recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ftp_commit(int ctl, const char *name, const void *state,
	       uint64_t state_len, uint32_t flags, uint64_t *epoch,
	       uint64_t *pages)
{
	struct ftpage_commit c = {
		.name = (uintptr_t)name, .state = (uintptr_t)state,
		.state_len = state_len, .flags = flags,
		.epoch = ~0ull, .pages = ~0ull,
	};
	int ret = ioctl(ctl, FTPAGE_IOC_COMMIT, &c);

	if (epoch)
		*epoch = c.epoch;
	if (pages)
		*pages = c.pages;
	return ret;
}

int ftp_rollback(int ctl, const char *name)
{
	struct ftpage_region_ref ref = { .name = (uintptr_t)name };

	return ioctl(ctl, FTPAGE_IOC_ROLLBACK, &ref);
}

int ftp_checkpoint(int ctl, const char *name, void *buf, uint64_t buf_len,
		   uint64_t *epoch, uint64_t *state_len)
{
	struct ftpage_checkpoint c = {
		.name = (uintptr_t)name, .buf = (uintptr_t)buf,
		.buf_len = buf_len, .epoch = ~0ull, .state_len = ~0ull,
	};
	int ret = ioctl(ctl, FTPAGE_IOC_CHECKPOINT, &c);

	if (epoch)
		*epoch = c.epoch;
	if (state_len)
		*state_len = c.state_len;
	return ret;
}

void ftp_epoch_diag(const char *name, const struct ftpage_status *st)
{
	printf("# %s: %s %s, epoch %llu committed_epoch %llu journal_bytes "
	       "%llu, connected %u, errors %llu last %s\n", name,
	       st->role == FTPAGE_ROLE_DEST ? "dest" : "source",
	       ftp_state_str(st->state), U(st->epoch), U(st->committed_epoch),
	       U(st->journal_bytes), st->connected, U(st->errors),
	       ftp_ferr_str(st->last_error));
	fflush(stdout);
}

static bool ftp_no_channel(const struct ftpage_status *st, uint64_t unused)
{
	(void)unused;
	return !st->connected;
}

int ftp_wait_link_down(int ctl, const char *name, unsigned int timeout_ms,
		       struct ftpage_status *st)
{
	return ftp_wait_status(ctl, name, ftp_no_channel, 0, timeout_ms, 20, st);
}

void ftp_blob_fill(void *buf, uint64_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull, i;
	uint8_t *b = buf;

	for (i = 0; i < len; i += 8) {
		uint64_t n = len - i < 8 ? len - i : 8;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, n);
	}
}

int ftp_region_read(const char *name, void *buf, uint64_t off, uint64_t len)
{
	int fd = ftp_open_region(name, O_RDONLY);
	uint64_t done = 0;

	if (fd < 0) {
		printf("# read %s: open: %s\n", name, strerror(errno));
		return -1;
	}
	while (done < len) {
		uint64_t n = len - done < FTP_IO_CHUNK ? len - done : FTP_IO_CHUNK;
		ssize_t r = pread(fd, (uint8_t *)buf + done, n, (off_t)(off + done));

		if (r <= 0) {
			printf("# read %s at %llu: %s\n", name, U(off + done),
			       r < 0 ? strerror(errno) : "end of file");
			close(fd);
			return -1;
		}
		done += (uint64_t)r;
	}
	close(fd);
	return 0;
}

uint64_t ftp_pages_diff(const void *got, const void *want, uint64_t size,
			const char *what, unsigned int max_report)
{
	const uint8_t *g = got, *w = want;
	uint64_t p, n = 0, i;

	for (p = 0; p < size / KG_PAGE_SIZE; p++) {
		const uint8_t *gp = g + p * KG_PAGE_SIZE, *wp = w + p * KG_PAGE_SIZE;

		if (!memcmp(gp, wp, KG_PAGE_SIZE))
			continue;
		if (n++ < max_report) {
			for (i = 0; i + 8 <= KG_PAGE_SIZE; i += 8)
				if (memcmp(gp + i, wp + i, 8))
					break;
			{
				uint64_t gv, wv;

				memcpy(&gv, gp + i, 8);
				memcpy(&wv, wp + i, 8);
				printf("# %s: page %llu offset %llu got %016llx "
				       "want %016llx\n", what, U(p), U(i),
				       U(gv), U(wv));
			}
		}
	}
	if (max_report && n > max_report)
		printf("# %s: ... %llu differing pages in all\n", what, U(n));
	fflush(stdout);
	return n;
}

bool ftp_kmsg_clean(const char *tag)
{
	static const char *const bad[] = {
		"WARNING:", "BUG:", "Oops", "general protection fault",
		"blocked for more than", "soft lockup", "hard LOCKUP",
		"Call Trace",
	};
	char *log = ftp_kmsg_read(), *line, *save = NULL;
	bool clean = log != NULL;
	unsigned int i;

	line = log ? ftp_kmsg_after(log, tag) : NULL;
	for (line = line ? strtok_r(line, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(line, bad[i])) {
				printf("# dmesg: %s\n", line);
				clean = false;
				break;
			}
		}
	}
	free(log);
	return clean;
}

struct kg_vm *ftp_guest_create(void *mem, uint64_t size, unsigned int nr_vcpus)
{
	char err[256];
	struct kg_vm *vm = kg_vm_create(nr_vcpus, err, sizeof(err));

	if (!vm) {
		printf("# kg_vm_create: %s\n", err);
		return NULL;
	}
	if (kg_vm_add_memslot(vm, 0, 0, mem, size)) {
		printf("# %s\n", vm->err);
		kg_vm_destroy(vm);
		return NULL;
	}
	return vm;
}

int ftp_guest_run(struct kg_vm *vm, int prog, const struct kg_args *args,
		  unsigned int timeout_s)
{
	unsigned int i;
	int ret;

	for (i = 0; i < vm->nr_vcpus; i++) {
		if (kg_vcpu_setup(vm, i, (enum kg_prog)prog, &args[i])) {
			printf("# %s\n", vm->err);
			return -1;
		}
	}
	ret = kg_vm_run(vm, timeout_s * 1000u);
	for (i = 0; ret && i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].state == KG_VCPU_FAILED)
			printf("# %s\n", vm->vcpus[i].err);
	if (ret == -2) {
		printf("Bail out! a vCPU is stuck in KVM_RUN\n");
		fflush(stdout);
		_exit(1);
	}
	return ret ? -1 : 0;
}

/* ---- fault tolerance ------------------------------------------------------ */

#define FTP_PARAM_DIR "/sys/module/ftpage/parameters/"

static int ftp_vsh(char *out, size_t len, bool lib, const char *fmt,
		   va_list ap)
{
	char cmd[2048];
	int n = 0, st;

	if (lib)
		n = snprintf(cmd, sizeof(cmd), ". '%s/lib.sh' && ",
			     ftp_tests_dir());
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	fflush(stdout);
	if (!out) {
		st = system(cmd);
	} else {
		FILE *f = popen(cmd, "r");
		size_t got = 0;

		if (!f)
			return -1;
		while (got + 1 < len) {
			size_t r = fread(out + got, 1, len - 1 - got, f);

			if (!r)
				break;
			got += r;
		}
		/* drain the rest so that the writer does not block */
		while (fgetc(f) != EOF)
			;
		out[got] = 0;
		while (got && out[got - 1] == '\n')
			out[--got] = 0;
		st = pclose(f);
	}
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int ftp_lib_sh(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ftp_vsh(NULL, 0, true, fmt, ap);
	va_end(ap);
	return r;
}

int ftp_sh_out(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ftp_vsh(out, len, false, fmt, ap);
	va_end(ap);
	return r;
}

/* The host's ss in netns @ns (the test VM's root is busybox). */
#define FTP_HOST_SS(ns)	"modprobe tcp_diag && "	\
	"nsenter --net=/host/run/netns/" ns " chroot /host /usr/bin/env "	\
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin ss"

static uint64_t ftp_ss_field(const char *info, const char *name)
{
	const char *p = strstr(info, name);

	return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

int ftp_ss_conns(const char *ns, unsigned int port, struct ftp_ss_conn *out,
		 int max)
{
	static char buf[65536];
	char *line, *save, *colon;
	int n = 0;

	if (ftp_sh_out(buf, sizeof(buf), FTP_HOST_SS("%s") " -tinH state "
		       "established '( sport = :%u )' 2>&1", ns, port))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!isspace((unsigned char)line[0])) {
			/* "0 0 10.77.0.1:7601 10.77.0.2:45678" */
			colon = strrchr(line, ':');
			if (colon && n < max) {
				memset(&out[n], 0, sizeof(out[n]));
				out[n].peer_port = strtoul(colon + 1, NULL, 10);
			}
			n++;
		} else if (n && n <= max) {
			/* "	 bbr wscale:7,7 ... bytes_acked:N ..." */
			sscanf(line, " %15s", out[n - 1].cc);
			out[n - 1].bytes_acked = ftp_ss_field(line, "bytes_acked:");
			out[n - 1].bytes_received = ftp_ss_field(line,
								 "bytes_received:");
		}
	}
	return n;
}

int ftp_ss_kill(const char *ns, unsigned int port, unsigned int peer)
{
	char out[4096];
	int r;

	r = ftp_sh_out(out, sizeof(out), FTP_HOST_SS("%s") " -K -tnH state "
		       "established '( sport = :%u and dport = :%u )' 2>&1", ns,
		       port, peer);
	/* ss -K lists what it aborted */
	if (r || !strchr(out, ':')) {
		printf("# ss -K port %u peer %u: exit %d: %s\n", port, peer, r, out);
		return -1;
	}
	return 0;
}

unsigned int ftp_attached_port(const char *src, const char *what)
{
	char out[32];

	if (ftp_sh_out(out, sizeof(out), "dmesg | grep '%s: destination .* "
		       "attached (%s' | tail -n 1 | "
		       "sed 's/.*:\\([0-9]*\\) attached.*/\\1/'", src, what))
		return 0;
	return strtoul(out, NULL, 10);
}

int ftp_threads(const char *prefix, int nice, int *at_nice)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	char path[300], buf[512], *name, *end;
	int n = 0, ni;
	FILE *f;

	*at_nice = 0;
	if (!proc)
		return -1;
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "pid (name) state ppid ... priority nice ..." */
		name = fgets(buf, sizeof(buf), f) ? strchr(buf, '(') : NULL;
		end = name ? strrchr(name, ')') : NULL;
		fclose(f);
		if (!end || strncmp(name + 1, prefix, strlen(prefix)))
			continue;
		n++;
		if (sscanf(end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			   "%*u %*u %*u %*d %*d %*d %d", &ni) == 1 && ni == nice)
			(*at_nice)++;
	}
	closedir(proc);
	return n;
}

int ftp_param_set(const char *name, unsigned long val)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), FTP_PARAM_DIR "%s", name);
	f = fopen(path, "w");
	if (!f) {
		printf("# parameter %s: %s\n", name, strerror(errno));
		return -1;
	}
	r = fprintf(f, "%lu\n", val) < 0;
	r |= fclose(f) != 0;
	if (r)
		printf("# parameter %s=%lu: %s\n", name, val, strerror(errno));
	return r ? -1 : 0;
}

long long ftp_param_get(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), FTP_PARAM_DIR "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

bool ftp_lease_params(unsigned int lease_ms, unsigned int rollback_after_ms,
		      unsigned int commit_interval_ms)
{
	bool ok = !ftp_param_set("lease_ms", lease_ms) &&
		  !ftp_param_set("rollback_after_ms", rollback_after_ms) &&
		  !ftp_param_set("commit_interval_ms", commit_interval_ms);

	ok = ok && ftp_param_get("lease_ms") == lease_ms &&
	     ftp_param_get("rollback_after_ms") == rollback_after_ms &&
	     ftp_param_get("commit_interval_ms") == commit_interval_ms;
	printf("# parameters lease_ms=%u rollback_after_ms=%u "
	       "commit_interval_ms=%u: read back %lld %lld %lld\n", lease_ms, rollback_after_ms, commit_interval_ms,
			 ftp_param_get("lease_ms"),
			 ftp_param_get("rollback_after_ms"),
	       ftp_param_get("commit_interval_ms"));
	return ok;
}

int ftp_pair_link(bool up)
{
	return ftp_lib_sh("pair_link %s", up ? "up" : "down") ? -1 : 0;
}

int ftp_pair_netem(const char *args)
{
	if (!args)
		return ftp_lib_sh("pair_netem_clear") ? -1 : 0;
	return ftp_lib_sh("pair_netem %s", args) ? -1 : 0;
}

int ftp_pair_shaped_link(unsigned int delay_us, unsigned int kbit,
			 unsigned int tos)
{
	return ftp_lib_sh("pair_shaped_link %u %u 0x%02x", delay_us, kbit,
			  tos) ? -1 : 0;
}

int ftp_pair_class_bytes(uint64_t bytes[2][2])
{
	unsigned long long v[4];
	char out[160];
	int i;

	if (ftp_sh_out(out, sizeof(out), ". '%s/lib.sh' && pair_class_bytes",
		       ftp_tests_dir()) ||
	    sscanf(out, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) != 4)
		return -1;
	for (i = 0; i < 4; i++)
		bytes[i / 2][i % 2] = v[i];
	return 0;
}

bool ftp_pair_serve(int ctl, const char *src, const char *dst, uint64_t size,
		    uint32_t seed, ftp_page_pred want, unsigned int port,
		    uint32_t serve_flags, int64_t *written)
{
	const char *step = NULL;

	*written = -1;
	if (ftp_create(ctl, src, size, FTPAGE_ROLE_SOURCE))
		step = "create the source";
	else if ((*written = ftp_fill_pattern(src, size, seed, want)) < 0)
		step = "fill the source";
	else if (ftp_freeze(ctl, src))
		step = "freeze";
	else if (ftp_netns_enter(FTP_PAIR_A_NS) ||
		 ftp_serve(ctl, src, FTP_PAIR_A_ADDR, port, serve_flags))
		step = "serve in ftpa";
	else if (ftp_netns_enter(NULL) ||
		 ftp_create(ctl, dst, size, FTPAGE_ROLE_DEST))
		step = "create the dest";
	if (step)
		printf("# %s: %s\n", step, strerror(errno));
	ftp_netns_enter(NULL);
	return !step;
}

int ftp_pair_pull_only(int ctl, const char *src, const char *dst,
		       unsigned int port)
{
	int ret = ftp_netns_enter(FTP_PAIR_B_NS) ? -1 :
		  ftp_pull(ctl, dst, src, FTP_PAIR_A_ADDR, port);

	ftp_netns_enter(NULL);
	return ret;
}

bool ftp_pair_pull(int ctl, const char *src, const char *dst, uint64_t size,
		   uint32_t seed, ftp_page_pred want, unsigned int port,
		   uint32_t serve_flags, int64_t *written)
{
	int64_t n;
	bool ok;

	if (!written)
		written = &n;
	ok = ftp_pair_serve(ctl, src, dst, size, seed, want, port, serve_flags,
			    written);
	if (ok && ftp_pair_pull_only(ctl, src, dst, port)) {
		printf("# pull in ftpb: %s\n", strerror(errno));
		ok = false;
	}
	printf("# source %s (%llu MiB, %lld pattern pages) frozen, served in "
	       "ftpa%s; dest %s pulls in ftpb: %s\n", src, U(size >> 20),
	       (long long)*written,
	       serve_flags & FTPAGE_SERVE_NO_PUSH ? " (no push)" : "", dst,
	       ok ? "ok" : "failed");
	return ok;
}

int ftp_pull_retry(int ctl, const char *name, const char *src_name,
		   const char *ip, unsigned int port, unsigned int timeout_ms)
{
	uint64_t end = ftp_now_ms() + timeout_ms;
	int ret;

	while ((ret = ftp_pull(ctl, name, src_name, ip, port)) &&
	       (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
		errno == ENETUNREACH || errno == ETIMEDOUT) &&
	       ftp_now_ms() < end)
		ftp_sleep_ms(500);
	return ret;
}

void ftp_pattern_image(void *buf, uint64_t size, uint32_t seed,
		       ftp_page_pred want)
{
	uint64_t p;

	for (p = 0; p < size / KG_PAGE_SIZE; p++) {
		uint8_t *pg = (uint8_t *)buf + p * KG_PAGE_SIZE;

		if (!want || want(p))
			kg_pattern_fill(pg, (uint32_t)p, seed);
		else
			memset(pg, 0, KG_PAGE_SIZE);
	}
}

void ftp_stamp_page(void *page, uint64_t tag, uint64_t p)
{
	uint64_t *w = page, i;

	for (i = 0; i < KG_PAGE_SIZE / 8; i++)
		w[i] = tag << 52 | (p & 0xffffffffull) << 12 | i;
}

/* pwrite pages [first, first + n) of model into fd */
static int ftp_write_run(int fd, const char *name, const uint8_t *model,
			 uint64_t first, uint64_t n)
{
	uint64_t at = first * KG_PAGE_SIZE;
	ssize_t w = pwrite(fd, model + at, n * KG_PAGE_SIZE, (off_t)at);

	if (w == (ssize_t)(n * KG_PAGE_SIZE))
		return 0;
	printf("# write %s at %llu: %s\n", name, U(at),
	       w < 0 ? strerror(errno) : "short write");
	return -1;
}

int64_t ftp_write_stamps(const char *name, uint8_t *model, uint64_t size,
			 uint64_t tag, ftp_page_pred want)
{
	uint64_t pages = size / KG_PAGE_SIZE, p, first = 0, run = 0, n = 0;
	int fd = ftp_open_region(name, O_RDWR);

	if (fd < 0) {
		printf("# write %s: %s\n", name, strerror(errno));
		return -1;
	}
	for (p = 0; p < pages; p++) {
		if (!want(p))
			continue;
		ftp_stamp_page(model + p * KG_PAGE_SIZE, tag, p);
		if (run && (first + run != p || run == 256)) {
			if (ftp_write_run(fd, name, model, first, run))
				goto fail;
			n += run;
			run = 0;
		}
		if (!run)
			first = p;
		run++;
	}
	if (run && ftp_write_run(fd, name, model, first, run))
		goto fail;
	close(fd);
	return (int64_t)(n + run);
fail:
	close(fd);
	return -1;
}

uint64_t ftp_region_diff(const char *name, const void *model, uint64_t size,
			 const char *what, unsigned int max_report)
{
	uint8_t *buf = malloc(size);
	uint64_t n = ~0ull;

	if (!buf) {
		printf("# %s: out of memory\n", what);
		return n;
	}
	memset(buf, 0x5a, size);
	if (!ftp_region_read(name, buf, 0, size))
		n = ftp_pages_diff(buf, model, size, what, max_report);
	free(buf);
	return n;
}

int ftp_wait_ended(const char *name, unsigned int timeout_ms, uint64_t *ms)
{
	int fd = ftp_open_region(name, O_RDONLY);
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	uint64_t t0 = ftp_now_ms();
	int r;

	if (ms)
		*ms = 0;
	if (fd < 0) {
		printf("# poll %s: open: %s\n", name, strerror(errno));
		return -1;
	}
	for (;;) {
		uint64_t el = ftp_now_ms() - t0;

		r = poll(&pfd, 1, el >= timeout_ms ? 0 : (int)(timeout_ms - el));
		if (r >= 0 || errno != EINTR)
			break;
	}
	if (ms)
		*ms = ftp_now_ms() - t0;
	if (r < 0)
		printf("# poll %s: %s\n", name, strerror(errno));
	else if (r > 0 && !(pfd.revents & POLLPRI))
		printf("# poll %s: revents 0x%x without POLLPRI\n", name,
		       pfd.revents);
	close(fd);
	return r < 0 ? -1 : r > 0 && (pfd.revents & POLLPRI) ? 1 : 0;
}

void ftp_lease_diag(const char *name, const struct ftpage_status *st)
{
	printf("# %s: %s %s, reconnects %llu, flags%s%s%s, lease_left_ms %u, "
	       "connected %u, pages_known %llu/%llu present %llu, epoch %llu "
	       "committed %llu journal %llu, errors %llu last %s\n", name,
	       st->role == FTPAGE_ROLE_DEST ? "dest" : "source",
	       ftp_state_str(st->state), U(st->reconnects),
	       st->status_flags & FTPAGE_STATUS_FENCED ? " fenced" : "",
	       st->status_flags & FTPAGE_STATUS_ATTACHED ? " attached" : "",
	       st->status_flags ? "" : " none", st->lease_left_ms,
	       st->connected, U(st->pages_known), U(st->pages_total),
	       U(st->pages_present), U(st->epoch), U(st->committed_epoch),
	       U(st->journal_bytes), U(st->errors),
	       ftp_ferr_str(st->last_error));
	fflush(stdout);
}

/* arg: the flag, bit 63 set when it must be set */
static bool ftp_flag_is(const struct ftpage_status *st, uint64_t arg)
{
	uint32_t flag = (uint32_t)arg;

	return (st->status_flags & flag) == (arg >> 63 ? flag : 0);
}

int ftp_wait_flag(int ctl, const char *name, uint32_t flag, bool set,
		  unsigned int timeout_ms, struct ftpage_status *st)
{
	return ftp_wait_status(ctl, name, ftp_flag_is,
			       flag | (uint64_t)set << 63, timeout_ms, 20, st);
}

int ftp_ticker_start(struct ftp_ticker *t, const char *name, uint64_t size,
		     uint64_t page)
{
	uint64_t t0;

	memset(t, 0, sizeof(*t));
	t->pid = -1;
	t->sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->sh == MAP_FAILED) {
		t->sh = NULL;
		return -1;
	}
	fflush(stdout);
	t->pid = fork();
	if (t->pid < 0)
		return -1;
	if (!t->pid) {
		int fd = ftp_open_region(name, O_RDWR);
		volatile uint64_t *m;
		uint64_t c = 0;

		signal(SIGBUS, SIG_DFL);
		if (fd < 0)
			_exit(10);
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			_exit(11);
		m += page * (KG_PAGE_SIZE / 8);
		t->sh[3] = 1;
		while (!t->sh[2]) {
			*m = ++c;
			t->sh[1] = ftp_now_ms();
			t->sh[0] = c;
		}
		_exit(0);
	}
	/* wait until it mapped the region (not until its first write) */
	for (t0 = ftp_now_ms(); !t->sh[3] && ftp_now_ms() - t0 < 10000;)
		ftp_sleep_ms(5);
	return t->sh[3] ? 0 : -1;
}

bool ftp_ticker_wait(struct ftp_ticker *t, unsigned int timeout_ms)
{
	if (t->reaped)
		return true;
	if (t->pid <= 0 || ftp_wait_child(t->pid, timeout_ms, &t->status,
					  NULL) != 1)
		return false;
	t->reaped = true;
	return true;
}

bool ftp_ticker_stop(struct ftp_ticker *t, unsigned int timeout_ms)
{
	if (!t->sh || t->pid <= 0)
		return false;
	t->sh[2] = 1;
	if (ftp_ticker_wait(t, timeout_ms))
		return WIFEXITED(t->status) && !WEXITSTATUS(t->status);
	kill(t->pid, SIGKILL);
	waitpid(t->pid, &t->status, 0);
	t->reaped = true;
	return false;
}

void ftp_ticker_free(struct ftp_ticker *t)
{
	if (t->pid > 0 && !t->reaped) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &t->status, 0);
		t->reaped = true;
	}
	if (t->sh)
		munmap((void *)t->sh, 4096);
	t->sh = NULL;
}

int ftp_status_lease_diag(int ctl, const char *name, struct ftpage_status *st)
{
	int r = ftp_status(ctl, name, st);

	ftp_lease_diag(name, st);
	return r;
}

int ftp_status_epoch_diag(int ctl, const char *name, struct ftpage_status *st)
{
	int r = ftp_status(ctl, name, st);

	ftp_epoch_diag(name, st);
	return r;
}

static bool ftp_committed(const struct ftpage_status *st, uint64_t epoch)
{
	return st->committed_epoch >= epoch;
}

int ftp_wait_committed(int ctl, const char *name, uint64_t epoch,
		       unsigned int timeout_ms, struct ftpage_status *st)
{
	return ftp_wait_status(ctl, name, ftp_committed, epoch, timeout_ms, 20,
			       st);
}

static bool ftp_staged(const struct ftpage_status *st, uint64_t committed)
{
	return st->journal_bytes || st->committed_epoch > committed;
}

int ftp_wait_staged(int ctl, const char *name, uint64_t committed,
		    unsigned int timeout_ms, struct ftpage_status *st)
{
	return ftp_wait_status(ctl, name, ftp_staged, committed, timeout_ms, 0,
			       st);
}

bool ftp_pair_pull_complete(int ctl, const char *src, const char *dst,
			    uint64_t size, uint32_t seed, ftp_page_pred want,
			    unsigned int port, uint32_t serve_flags,
			    int64_t *written)
{
	struct ftpage_status st;

	if (!ftp_pair_pull(ctl, src, dst, size, seed, want, port, serve_flags,
			   written))
		return false;
	if (!ftp_wait_state(ctl, dst, FTPAGE_STATE_COMPLETE, 60000, &st))
		return true;
	ftp_status_diag(dst, &st);
	return false;
}

int ftp_stamp_commit(int ctl, const char *name, uint8_t *model, uint64_t size,
		     uint64_t tag, ftp_page_pred want, const void *blob,
		     uint64_t blob_len, uint32_t flags, struct ftp_commit_res *r)
{
	r->epoch = 0;
	r->pages = 0;
	r->written = ftp_write_stamps(name, model, size, tag, want);
	if (r->written < 0)
		return EIO;
	if (ftp_commit(ctl, name, blob, blob_len, flags, &r->epoch, &r->pages))
		return errno;
	return 0;
}

bool ftp_checkpoint_is(int ctl, const char *name, uint64_t epoch,
		       const void *blob, uint64_t blob_len,
		       struct ftp_ckpt_res *ck)
{
	uint64_t buf_len = 2 * blob_len + KG_PAGE_SIZE;
	uint8_t *buf = calloc(1, buf_len);
	bool ok;

	ck->epoch = 0;
	ck->len = 0;
	if (!buf) {
		ck->err = ENOMEM;
		return false;
	}
	ck->err = ftp_checkpoint(ctl, name, buf, buf_len, &ck->epoch,
				 &ck->len) ? errno : 0;
	ok = !ck->err && ck->epoch == epoch && ck->len == blob_len &&
	     !memcmp(buf, blob, blob_len);
	free(buf);
	return ok;
}

pid_t ftp_scan_child(const char *name, uint64_t size, uint32_t seed,
		     ftp_page_pred pattern, unsigned int step)
{
	return ftp_scan_child_paced(name, size, seed, pattern, step, 0);
}

pid_t ftp_scan_child_paced(const char *name, uint64_t size, uint32_t seed,
			   ftp_page_pred pattern, unsigned int step,
			   unsigned int over_ms)
{
	uint64_t pages = size / KG_PAGE_SIZE, i, bad = 0, t0;
	uint32_t stride;
	static const uint8_t zero[KG_PAGE_SIZE];
	const uint8_t *m;
	pid_t pid;
	int fd;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	signal(SIGBUS, SIG_DFL);
	stride = kg_pick_stride(pages, seed);
	fd = ftp_open_region(name, O_RDONLY);
	if (fd < 0)
		_exit(200);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(201);
	for (t0 = ftp_now_ms(), i = 0; i < pages; i += step) {
		uint64_t p = (i * stride) % pages;
		const uint8_t *pg = m + p * KG_PAGE_SIZE;

		while (ftp_now_ms() - t0 < over_ms * i / pages)
			ftp_sleep_ms(2);
		if (!pattern || pattern(p))
			bad += !kg_pattern_check(pg, (uint32_t)p, seed);
		else
			bad += !!memcmp(pg, zero, KG_PAGE_SIZE);
	}
	_exit(bad > 100 ? 100 : (int)bad);
}

int ftp_reap_child(pid_t pid, unsigned int timeout_ms, int *status,
		   uint64_t *ms)
{
	int r = ftp_wait_child(pid, timeout_ms, status, ms);

	if (r != 1 && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, status, 0);
	}
	return r;
}

const char *ftp_wstatus_str(int status)
{
	static char buf[64];

	if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "signal %s",
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
	return buf;
}

bool ftp_region_rw(const char *name, uint64_t off, uint64_t v, uint64_t *back)
{
	int fd = ftp_open_region(name, O_RDWR);
	uint64_t b = 0;
	bool ok;

	ok = fd >= 0 && pwrite(fd, &v, 8, (off_t)off) == 8 &&
	     pread(fd, &b, 8, (off_t)off) == 8 && b == v;
	if (fd >= 0)
		close(fd);
	if (back)
		*back = b;
	return ok;
}

pid_t ftp_proxy_start(unsigned int port, unsigned int to_port,
		      const char *capfile, const char *readyfile,
		      unsigned long corrupt_every, unsigned int up_flips)
{
	char lp[16], tp[16], ce[24], up[16];
	uint64_t t0;
	pid_t pid;

	unlink(readyfile);
	unlink(capfile);
	snprintf(lp, sizeof(lp), "%u", port);
	snprintf(tp, sizeof(tp), "%u", to_port);
	snprintf(ce, sizeof(ce), "%lu", corrupt_every);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (ftp_netns_enter(FTP_PAIR_A_NS))
			_exit(3);
		if (corrupt_every)
			setenv("FTP_PROXY_CORRUPT", ce, 1);
		snprintf(up, sizeof(up), "%u", up_flips);
		if (up_flips)
			setenv("FTP_PROXY_CORRUPT_UP", up, 1);
		execlp("ftp_fakepeer", "ftp_fakepeer", "proxy", FTP_PAIR_A_ADDR,
		       lp, FTP_PAIR_A_ADDR, tp, capfile, readyfile, (char *)NULL);
		_exit(127);
	}
	for (t0 = ftp_now_ms(); ftp_now_ms() - t0 < 5000; ftp_sleep_ms(20))
		if (!access(readyfile, F_OK))
			return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

void ftp_emit_file(const char *name, FILE *f, char **buf, size_t *len)
{
	fclose(f);
	printf("@@FTPAGE-BENCH-FILE %s@@\n%s%s@@FTPAGE-BENCH-END@@\n", name,
	       *buf, *len && (*buf)[*len - 1] != '\n' ? "\n" : "");
	fflush(stdout);
	free(*buf);
}
