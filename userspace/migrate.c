// SPDX-License-Identifier: GPL-2.0
/*
 * ftpagectl migrate: live-migrate a QEMU guest whose RAM is an ftpage
 * region. QEMU sends only device state (capability x-ignore-shared); the
 * regions move the memory, post-copy, in the kernel.
 *
 * Two halves, one per host, each talking to its own QEMU over a QMP unix
 * socket and to its own module:
 *
 *   source:       ftpagectl migrate --qmp SOCK --listen ADDR[:PORT]
 *   destination:  ftpagectl migrate --qmp SOCK --from ADDR[:PORT]
 *
 * The source half checks its QEMU, serves the region on ADDR (module
 * port, or --serve-port) and waits for the destination half on ADDR:PORT
 * (default 7408). The destination half drives: it connects, and the two
 * speak a line protocol over that TCP connection ("the control channel"):
 *
 *   D: HELLO ftpage-migrate 1
 *   S: OK region=NAME size=BYTES serve_port=PORT
 *   D: CAPS                        S: OK   (x-ignore-shared on the source)
 *   D: MIGRATE tcp:ADDR:PORT       S: stop, freeze, migrate, then
 *                                     OK stop_ms=N ram_bytes=N total_bytes=N
 *   D: DONE                        S: OK   (once its region is done; it
 *                                     quits the source QEMU)
 *
 * Any "ERR message" reply ends the session. Every check is made before
 * MIGRATE, so a refusal leaves both guests as they were. If the migration
 * stream fails, the source rolls its region back (it is writable again)
 * and resumes its guest.
 *
 * After MIGRATE the kernel decides, not the channel: the source half polls
 * its region node until the migration ended there. The destination half,
 * once its region is complete, declares the migration done (FTPAGE_IOC_DONE,
 * unless --no-done: then `ftpagectl done NAME` later) and sends DONE; the
 * source region moves to done, the source half quits its QEMU and exits 0.
 * If the destination or the link is lost for rollback_after_ms, the source
 * kernel rolls back: the source half resumes the guest and exits 1. Epoch
 * 0: cont of the paused QEMU. Epoch N: the paused QEMU has epoch 0's device
 * state, so the source half quits it and starts it again as it was started
 * (argv, environment, root and cwd from /proc/PID of the QMP socket's peer)
 * with -incoming defer, in a session of its own, then loads epoch N's
 * device state into it (as --resume does); if any of that fails it says
 * why and prints the steps left. The destination, if it comes back, finds
 * its region abandoned and its half exits 1.
 *
 * The channel carries no secrets and is not authenticated: use it on the
 * same trusted link as the page traffic.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "ftpagectl.h"

#define CTL_PORT	7408	/* control channel, default */
#define STREAM_PORT	7409	/* QEMU's migration stream, default */
#define LINE_MAX_LEN	65536
#define QMP_TIMEOUT_MS	30000
#define PAGE		FTPAGE_PAGE_SIZE

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s migrate: ", prog);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

/* ---- buffered line I/O on a socket ---------------------------------- */

struct conn {
	int fd;
	size_t len;
	char buf[LINE_MAX_LEN];
};

/* Read one line (without the end of line) into out; 0, or -1 on EOF,
 * error or timeout (errno set).
 */
static int conn_readline(struct conn *c, char *out, size_t outlen, int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		if (nl) {
			size_t l = nl - c->buf;

			if (l && c->buf[l - 1] == '\r')
				c->buf[l - 1] = 0;
			c->buf[l] = 0;
			snprintf(out, outlen, "%s", c->buf);
			c->len -= l + 1;
			memmove(c->buf, nl + 1, c->len);
			return 0;
		}
		if (c->len == sizeof(c->buf)) {
			errno = EMSGSIZE;
			return -1;
		}
		left = (int64_t)(end - now_ms());
		if (timeout_ms >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, timeout_ms < 0 ? -1 : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!pfd.revents)
			continue;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = ECONNRESET;
			return -1;
		}
		c->len += n;
	}
}

static int conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int conn_printf(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t off = 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EMSGSIZE;
		return -1;
	}
	while (off < (size_t)n) {
		ssize_t w = send(c->fd, line + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += w;
	}
	return 0;
}

/* ---- a minimal QMP client ---------------------------------------------- */

/*
 * QMP answers one JSON object per line. The few values needed here are
 * found by key in that text; QEMU's output is regular enough for that
 * (keys are never repeated at different depths in these replies, except
 * where a search starts from a sub-object).
 */
struct qmp {
	struct conn c;
	const char *path;
	char reply[LINE_MAX_LEN];
};

/* Value of "key": at p... as a string; 0 or -1 when absent. */
static int json_str(const char *p, const char *key, char *out, size_t len)
{
	char pat[128];
	const char *s;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	s = strstr(p, pat);
	if (!s)
		return -1;
	for (s += strlen(pat); *s && *s != '"' && n + 1 < len; s++) {
		if (*s == '\\' && s[1])
			s++;
		out[n++] = *s;
	}
	out[n] = 0;
	return 0;
}

static int json_u64(const char *p, const char *key, uint64_t *v)
{
	char pat[128];
	const char *s;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	s = strstr(p, pat);
	if (!s)
		return -1;
	s += strlen(pat);
	*v = strtoull(s, &end, 10);
	return end == s ? -1 : 0;
}

static int qmp_open(struct qmp *q, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[256];

	q->path = path;
	q->c.len = 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	q->c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->c.fd < 0 || connect(q->c.fd, (struct sockaddr *)&sun, sizeof(sun)))
		return -1;
	/* the greeting, then capabilities negotiation */
	if (conn_readline(&q->c, q->reply, sizeof(q->reply), QMP_TIMEOUT_MS) ||
	    !strstr(q->reply, "\"QMP\"")) {
		errno = EPROTO;
		return -1;
	}
	if (conn_printf(&q->c, "{\"execute\": \"qmp_capabilities\"}\n") ||
	    conn_readline(&q->c, line, sizeof(line), QMP_TIMEOUT_MS) ||
	    !strstr(line, "\"return\"")) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/*
 * Run one command (JSON text of "execute", with arguments if any). The
 * reply stays in q->reply. Returns 0 on "return", 1 on "error" (the
 * description in q->reply), -1 on a lost connection.
 */
static int qmp_reply(struct qmp *q);
static int qmp_call(struct qmp *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int qmp_call(struct qmp *q, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (conn_printf(&q->c, "%s\n", cmd))
		return -1;
	return qmp_reply(q);
}

/* The reply to the command just sent, as qmp_call(). */
static int qmp_reply(struct qmp *q)
{
	for (;;) {
		if (conn_readline(&q->c, q->reply, sizeof(q->reply), QMP_TIMEOUT_MS))
			return -1;
		if (!strncmp(q->reply, "{\"event\"", 8) ||
		    !strncmp(q->reply, "{\"timestamp\"", 12))
			continue;
		if (strstr(q->reply, "\"return\""))
			return 0;
		if (strstr(q->reply, "\"error\"")) {
			char desc[512];

			if (!json_str(q->reply, "desc", desc, sizeof(desc)))
				snprintf(q->reply, sizeof(q->reply), "%s", desc);
			return 1;
		}
	}
}

/* query-status: "running", "paused", "inmigrate", ...; 0 or -1. */
static int qmp_runstate(struct qmp *q, char *out, size_t len)
{
	if (qmp_call(q, "{\"execute\": \"query-status\"}"))
		return -1;
	return json_str(q->reply, "status", out, len);
}

/* ---- checks of a QEMU --------------------------------------------------- */

struct guest {
	char region[FTPAGE_NAME_MAX];
	uint64_t size;
	char runstate[32];
};

/*
 * All guest RAM in exactly one memory-backend-file on /dev/ftpage/NAME,
 * share=on. Fills g, or prints why not (and how to fix it) and returns -1.
 */
static int qemu_check(struct qmp *q, struct guest *g, const char *side)
{
	static const char prefix[] = FTPAGE_DEV_DIR "/";
	char list[LINE_MAX_LEN], name[128], type[128], path[256];
	uint64_t base = 0, plugged = 0, size, total = 0;
	const char *p;
	int regions = 0;

	if (qmp_runstate(q, g->runstate, sizeof(g->runstate)))
		goto lost;
	if (qmp_call(q, "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/objects\"}}"))
		goto lost;
	snprintf(list, sizeof(list), "%s", q->reply);
	for (p = strchr(list, '{'); p && (p = strchr(p + 1, '{')); ) {
		if (json_str(p, "name", name, sizeof(name)) ||
		    json_str(p, "type", type, sizeof(type)))
			break;
		if (strncmp(type, "child<memory-backend-", 21))
			continue;
		if (strcmp(type, "child<memory-backend-file>")) {
			fprintf(stderr, "%s: %s QEMU: memory backend '%s' is %.*s, not an ftpage region: "
				"use -object memory-backend-file,id=ram0,mem-path=/dev/ftpage/NAME,"
				"share=on,size=SIZE -machine memory-backend=ram0\n",
				prog, side, name, (int)(strlen(type) - 7), type + 6);
			return -1;
		}
		if (qmp_call(q, "{\"execute\": \"qom-get\", \"arguments\": "
			     "{\"path\": \"/objects/%s\", \"property\": \"mem-path\"}}", name) ||
		    json_str(q->reply, "return", path, sizeof(path)))
			goto lost;
		if (strncmp(path, prefix, strlen(prefix)) || strchr(path + strlen(prefix), '/') ||
		    strlen(path + strlen(prefix)) >= FTPAGE_NAME_MAX) {
			fprintf(stderr, "%s: %s QEMU: memory backend '%s' has mem-path %s, "
				"not an ftpage region: use mem-path=/dev/ftpage/NAME\n",
				prog, side, name, path);
			return -1;
		}
		if (qmp_call(q, "{\"execute\": \"qom-get\", \"arguments\": "
			     "{\"path\": \"/objects/%s\", \"property\": \"share\"}}", name))
			goto lost;
		if (!strstr(q->reply, "true")) {
			fprintf(stderr, "%s: %s QEMU: memory backend '%s' is not share=on: "
				"x-ignore-shared skips only shared RAM; add share=on\n",
				prog, side, name);
			return -1;
		}
		if (qmp_call(q, "{\"execute\": \"qom-get\", \"arguments\": "
			     "{\"path\": \"/objects/%s\", \"property\": \"size\"}}", name) ||
		    json_u64(q->reply, "return", &size))
			goto lost;
		if (++regions > 1) {
			fprintf(stderr, "%s: %s QEMU: more than one ftpage region (%s, %s): "
				"not supported yet, use one memory backend\n",
				prog, side, g->region, path + strlen(prefix));
			return -1;
		}
		snprintf(g->region, sizeof(g->region), "%s", path + strlen(prefix));
		g->size = size;
		total += size;
	}
	if (!regions) {
		fprintf(stderr, "%s: %s QEMU: guest RAM is not in an ftpage region: start QEMU with "
			"-object memory-backend-file,id=ram0,mem-path=/dev/ftpage/NAME,share=on,size=SIZE "
			"-machine memory-backend=ram0\n", prog, side);
		return -1;
	}
	if (qmp_call(q, "{\"execute\": \"query-memory-size-summary\"}") ||
	    json_u64(q->reply, "base-memory", &base))
		goto lost;
	json_u64(q->reply, "plugged-memory", &plugged);
	if (base + plugged != total) {
		fprintf(stderr, "%s: %s QEMU: %" PRIu64 " of %" PRIu64 " bytes of guest RAM are "
			"in region %s; the rest would travel over the migration stream: put "
			"all RAM in the region (-machine memory-backend=ID, no other RAM)\n",
			prog, side, total, base + plugged, g->region);
		return -1;
	}
	return 0;
lost:
	fprintf(stderr, "%s: %s QEMU (%s): %s\n", prog, side, q->path,
		q->reply[0] ? q->reply : "no answer");
	return -1;
}

static int qemu_ignore_shared(struct qmp *q, const char *side)
{
	int ret = qmp_call(q, "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
			   "{\"capabilities\": [{\"capability\": \"x-ignore-shared\", "
			   "\"state\": true}]}}");

	if (ret)
		fprintf(stderr, "%s: %s QEMU refused capability x-ignore-shared: %s (it needs "
			"QEMU >= 3.1, and postcopy-ram off: ftpage does the post-copy)\n",
			prog, side, ret < 0 ? "connection lost" : q->reply);
	return ret ? -1 : 0;
}

/* ---- the module --------------------------------------------------------- */

static int region_status(const char *name, struct ftpage_status *st)
{
	int fd = ctl_open(NULL), ret;

	memset(st, 0, sizeof(*st));
	st->name = (uintptr_t)name;
	ret = ioctl(fd, FTPAGE_IOC_STATUS, st);
	close(fd);
	return ret;
}

static int region_ref(unsigned long cmd, const char *name)
{
	struct ftpage_region_ref ref = { .name = (uintptr_t)name };
	int fd = ctl_open(NULL), ret;

	ret = ioctl(fd, cmd, &ref);
	close(fd);
	return ret;
}

static int region_peer(unsigned long cmd, const char *name, const char *peer_name,
		       const struct sockaddr_storage *ss, socklen_t len,
		       const struct auth_opts *a)
{
	struct ftpage_peer p = {
		.name = (uintptr_t)name,
		.addr = (uintptr_t)ss,
		.addrlen = len,
		.peer_name = (uintptr_t)peer_name,
	};

	return peer_call(cmd, &p, a);
}

/* The local region of guest g: exists, right role and size. */
static int region_check(const struct guest *g, uint32_t role, struct ftpage_status *st)
{
	if (region_status(g->region, st)) {
		fprintf(stderr, "%s: region %s: %s (create it with ftpagectl create %s "
			"--size %" PRIu64 " --role %s)\n", prog, g->region, strerror(errno),
			g->region, g->size, role == FTPAGE_ROLE_DEST ? "dest" : "source");
		return -1;
	}
	if (st->role != role || st->size != g->size) {
		fprintf(stderr, "%s: region %s is a %s of %llu bytes, QEMU expects a %s of %"
			PRIu64 "\n", prog, g->region,
			st->role == FTPAGE_ROLE_DEST ? "dest" : "source",
			(unsigned long long)st->size,
			role == FTPAGE_ROLE_DEST ? "dest" : "source", g->size);
		return -1;
	}
	return 0;
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	}
	return buf;
}

static void set_port(struct sockaddr_storage *ss, unsigned int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static unsigned int get_port(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ?
		ntohs(((const struct sockaddr_in6 *)ss)->sin6_port) :
		ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* A parameter of the module (port, rollback_after_ms, ...), or def. */
static unsigned int module_param_u(const char *name, unsigned int def)
{
	char path[128];
	unsigned int v = def;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/ftpage/parameters/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = def;
		fclose(f);
	}
	return v;
}

/* ---- the source half ------------------------------------------------------ */

struct opts {
	const char *qmp;
	const char *listen;
	const char *from;
	unsigned int serve_port;
	unsigned int stream_port;
	unsigned int wait_s;
	unsigned int commit_ms;
	int keep;
	struct auth_opts auth;	/* of the page traffic */
	int no_done;
	int resume;
};

/* The region is writable again: run the guest as it was before. */
static void source_cont(struct qmp *q, const struct guest *g)
{
	if (strcmp(g->runstate, "running"))
		msg("region %s is writable again; the guest stays paused, as it was",
		    g->region);
	else if (qmp_call(q, "{\"execute\": \"cont\"}"))
		msg("cont failed: %s; the guest stays paused (resume it with QMP cont)",
		    q->reply);
	else
		msg("the guest runs on the source again, from where it stopped");
}

/* The guest is stopped and its region frozen: back to how it was. */
static void source_resume(struct qmp *q, const struct guest *g)
{
	if (region_ref(FTPAGE_IOC_ROLLBACK, g->region))
		msg("rollback of %s failed: %s; the guest stays paused", g->region,
		    strerror(errno));
	else
		source_cont(q, g);
}

/* Stop, freeze, send device state; the reply line for MIGRATE. */
static int source_migrate(struct qmp *q, struct conn *c, const struct guest *g,
			  const char *uri)
{
	uint64_t t0 = now_ms(), ram = 0, total = 0, qdown = 0;
	char status[64] = "";
	int ret;

	if (strncmp(uri, "tcp:", 4) || strpbrk(uri, "\"\\")) {
		conn_printf(c, "ERR bad migration uri\n");
		return -1;
	}
	if (qmp_call(q, "{\"execute\": \"stop\"}")) {
		conn_printf(c, "ERR source QEMU: stop: %s\n", q->reply);
		return -1;
	}
	msg("guest paused");
	if (region_ref(FTPAGE_IOC_FREEZE, g->region)) {
		conn_printf(c, "ERR freeze %s: %s\n", g->region, strerror(errno));
		if (!strcmp(g->runstate, "running"))
			qmp_call(q, "{\"execute\": \"cont\"}");
		return -1;
	}
	ret = qmp_call(q, "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}", uri);
	while (!ret) {
		ret = qmp_call(q, "{\"execute\": \"query-migrate\"}");
		if (ret || json_str(q->reply, "status", status, sizeof(status)))
			break;
		if (!strcmp(status, "completed") || !strcmp(status, "failed") ||
		    !strcmp(status, "cancelled"))
			break;
		sleep_ms(5);
	}
	if (ret || strcmp(status, "completed")) {
		char err[512] = "";

		json_str(q->reply, "error-desc", err, sizeof(err));
		msg("migration stream %s: %s", status[0] ? status : "failed",
		    err[0] ? err : q->reply);
		conn_printf(c, "ERR source QEMU: migration %s: %s\n",
			    status[0] ? status : "failed", err[0] ? err : q->reply);
		source_resume(q, g);
		return -1;
	}
	{
		const char *r = strstr(q->reply, "\"ram\"");

		if (r) {
			json_u64(r, "transferred", &ram);
			json_u64(r, "total", &total);
		}
		json_u64(q->reply, "downtime", &qdown);
	}
	msg("device state sent in %" PRIu64 " ms (RAM over the stream: %" PRIu64
	    " bytes of %" PRIu64 ")", now_ms() - t0, ram, total);
	return conn_printf(c, "OK stop_ms=%" PRIu64 " ram_bytes=%" PRIu64
			   " ram_total=%" PRIu64 " qemu_downtime_ms=%" PRIu64 "\n",
			   now_ms() - t0, ram, total, qdown);
}

/* ---- epoch N: the source QEMU started again --------------------------------- */

/*
 * How a QEMU was started, read from /proc while it lives: its command line
 * and environment (NUL-separated strings), its root (QEMU may run in a
 * chroot), cwd and executable as O_PATH fds, and its stdout if that is a
 * regular file (the new QEMU appends its output there, else /dev/null).
 */
struct qemu_proc {
	pid_t pid;
	char *cmdline, *env;
	size_t cmdline_len, env_len;
	int root, cwd, exe, out;
	int daemonize;
	char out_path[256];
};

/* The pid of the process at the other end of unix socket fd, or 0. */
static pid_t peer_pid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) ? 0 : cr.pid;
}

/* All of /proc/PID/NAME, with a NUL after it; NULL (errno) on failure. */
static char *proc_read(pid_t pid, const char *name, size_t *len)
{
	char path[64], *buf = NULL, *nbuf;
	size_t cap = 0, n = 0;
	ssize_t r = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (n + 1 >= cap) {
			nbuf = realloc(buf, cap ? cap * 2 : 4096);
			if (!nbuf)
				break;
			buf = nbuf;
			cap = cap ? cap * 2 : 4096;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	if (r < 0 || n + 1 >= cap) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

static void qemu_proc_free(struct qemu_proc *p)
{
	free(p->cmdline);
	free(p->env);
	if (p->root >= 0)
		close(p->root);
	if (p->cwd >= 0)
		close(p->cwd);
	if (p->exe >= 0)
		close(p->exe);
	if (p->out >= 0)
		close(p->out);
}

/* Fill p from /proc/PID; 0, or -1 with the reason in why. */
static int qemu_proc_get(pid_t pid, struct qemu_proc *p, char *why, size_t len)
{
	static const char *const names[] = { "root", "cwd", "exe" };
	int *fds[] = { &p->root, &p->cwd, &p->exe };
	char path[64], *a;
	struct stat st;
	ssize_t n;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->root = p->cwd = p->exe = p->out = -1;
	p->cmdline = proc_read(pid, "cmdline", &p->cmdline_len);
	if (!p->cmdline || !p->cmdline_len) {
		snprintf(why, len, "cannot read /proc/%d/cmdline: %s", (int)pid,
			 p->cmdline ? "empty" : strerror(errno));
		return -1;
	}
	p->env = proc_read(pid, "environ", &p->env_len);
	if (!p->env) {
		snprintf(why, len, "cannot read /proc/%d/environ: %s", (int)pid, strerror(errno));
		return -1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, names[i]);
		*fds[i] = open(path, O_PATH | O_CLOEXEC);
		if (*fds[i] < 0) {
			snprintf(why, len, "cannot open %s: %s", path, strerror(errno));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)pid);
	if (!stat(path, &st) && S_ISREG(st.st_mode)) {
		p->out = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		n = p->out < 0 ? 0 : readlink(path, p->out_path, sizeof(p->out_path) - 1);
		p->out_path[n > 0 ? n : 0] = 0;
	}
	for (a = p->cmdline; a < p->cmdline + p->cmdline_len; a += strlen(a) + 1)
		if (!strcmp(a, "-daemonize") || !strcmp(a, "--daemonize"))
			p->daemonize = 1;
	return 0;
}

/*
 * The NUL-separated strings buf[0..len) as a NULL-terminated vector; with
 * incoming, without any -incoming URI and with -incoming defer at the end.
 */
static char **strvec(char *buf, size_t len, int incoming)
{
	char **v = calloc(len + 3, sizeof(*v)), *a;
	size_t n = 0;
	int skip = 0;

	if (!v)
		return NULL;
	for (a = buf; a < buf + len; a += strlen(a) + 1) {
		if (skip) {
			skip = 0;
			continue;
		}
		if (incoming && (!strcmp(a, "-incoming") || !strcmp(a, "--incoming"))) {
			skip = 1;
			continue;
		}
		v[n++] = a;
	}
	if (incoming) {
		v[n++] = "-incoming";
		v[n++] = "defer";
	}
	return v;
}

/* A command line, quoted for a shell, on one indented line. */
static void print_argv(char **argv)
{
	const char *p;

	printf("   ");
	for (; *argv; argv++) {
		p = *argv;
		if (*p && !p[strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789-_=,.:/+@%")]) {
			printf(" %s", p);
			continue;
		}
		printf(" '");
		for (; *p; p++)
			printf(*p == '\'' ? "'\\''" : "%c", *p);
		printf("'");
	}
	putchar('\n');
}

/* Process pid has exited: gone, or a zombie that its parent did not reap. */
static int pid_gone(pid_t pid)
{
	char path[64], buf[512], *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	s = strrchr(buf, ')');
	return !s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X';
}

/* QMP quit, then wait until process pid is gone; 0, or -1 (why). */
static int qemu_quit(struct qmp *q, pid_t pid, char *why, size_t len)
{
	uint64_t t0 = now_ms();

	if (qmp_call(q, "{\"execute\": \"quit\"}") > 0) {
		snprintf(why, len, "QMP quit: %.200s", q->reply);
		return -1;
	}
	close(q->c.fd);
	q->c.fd = -1;
	while (!pid_gone(pid)) {
		if (now_ms() - t0 > QMP_TIMEOUT_MS) {
			snprintf(why, len, "QEMU (pid %d) is still there %d s after QMP quit",
				 (int)pid, QMP_TIMEOUT_MS / 1000);
			return -1;
		}
		sleep_ms(20);
	}
	return 0;
}

/*
 * Start QEMU again with argv and envp, in p's root and cwd, as a session
 * of its own with stdin on /dev/null and its output where p's went (so it
 * outlives us). Its pid, or -1 (why).
 */
static pid_t qemu_spawn(const struct qemu_proc *p, char **argv, char **envp,
			char *why, size_t len)
{
	struct { int err; char step[12]; } fail = { 0, "" };
	struct stat r, ours;
	int e[2], in_chroot, null;
	pid_t pid;

	if (fstat(p->root, &r) || stat("/", &ours) || pipe2(e, O_CLOEXEC)) {
		snprintf(why, len, "starting QEMU: %s", strerror(errno));
		return -1;
	}
	in_chroot = r.st_dev != ours.st_dev || r.st_ino != ours.st_ino;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "starting QEMU again: fork: %s", strerror(errno));
		close(e[0]);
		close(e[1]);
		return -1;
	}
	if (!pid) {
		snprintf(fail.step, sizeof(fail.step), "setsid");
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || setsid() < 0)
			goto failed;
		snprintf(fail.step, sizeof(fail.step), "stdio");
		if (dup2(null, 0) < 0 || dup2(p->out >= 0 ? p->out : null, 1) < 0 ||
		    dup2(p->out >= 0 ? p->out : null, 2) < 0)
			goto failed;
		/* nothing else of ours for QEMU (best effort: Linux >= 5.11) */
		close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
		snprintf(fail.step, sizeof(fail.step), "chroot");
		if (in_chroot && (fchdir(p->root) || chroot(".")))
			goto failed;
		snprintf(fail.step, sizeof(fail.step), "chdir");
		if (fchdir(p->cwd))
			goto failed;
		snprintf(fail.step, sizeof(fail.step), "exec");
		fexecve(p->exe, argv, envp);
failed:
		fail.err = errno;
		if (write(e[1], &fail, sizeof(fail)) < 0)
			_exit(126);
		_exit(127);
	}
	close(e[1]);
	if (read(e[0], &fail, sizeof(fail)) == sizeof(fail)) {
		waitpid(pid, NULL, 0);
		snprintf(why, len, "starting QEMU again: %s: %s", fail.step, strerror(fail.err));
		pid = -1;
	}
	close(e[0]);
	return pid;
}

/* Until the QMP socket at path answers (the new QEMU, pid); 0 or -1 (why). */
static int qemu_wait_qmp(struct qmp *q, const char *path, pid_t pid, int daemonize,
			 char *why, size_t len)
{
	uint64_t t0 = now_ms();
	int status;

	for (;;) {
		if (!qmp_open(q, path))
			return 0;
		if (q->c.fd >= 0)
			close(q->c.fd);
		q->c.fd = -1;
		if (waitpid(pid, &status, WNOHANG) == pid &&
		    !(daemonize && WIFEXITED(status) && !WEXITSTATUS(status))) {
			snprintf(why, len, "the new QEMU (pid %d) %s %d before its QMP socket %s "
				 "answered: see its output", (int)pid,
				 WIFEXITED(status) ? "exited with status" : "was killed by signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), path);
			return -1;
		}
		if (now_ms() - t0 > 4 * QMP_TIMEOUT_MS) {
			snprintf(why, len, "the new QEMU (pid %d) did not open its QMP socket %s "
				 "in %d s", (int)pid, path, 4 * QMP_TIMEOUT_MS / 1000);
			return -1;
		}
		sleep_ms(100);
	}
}

static int resume_epoch(struct qmp *q);

/*
 * Epoch N: quit the paused QEMU (its device state is epoch 0's), start it
 * again the same way with -incoming defer, load epoch N's device state
 * into it (--resume). 0: the guest runs here; -1: why says what failed,
 * *step how far it got (0 nothing done, or the QEMU that answers on
 * qmp_path failed to load: quit it; 1 the old QEMU is gone).
 */
static int source_restart(struct qmp *q, const struct qemu_proc *p, unsigned long long epoch,
			  const char *qmp_path, char **argv, char **envp, int *step,
			  char *why, size_t len)
{
	pid_t pid;

	msg("quitting the paused QEMU (pid %d) to start it again with -incoming defer, "
	    "then load epoch %llu's device state into it", (int)p->pid, epoch);
	if (qemu_quit(q, p->pid, why, len))
		return -1;
	*step = 1;
	pid = qemu_spawn(p, argv, envp, why, len);
	if (pid < 0 || qemu_wait_qmp(q, qmp_path, pid, p->daemonize, why, len))
		return -1;
	*step = 0;
	pid = peer_pid(q->c.fd);
	msg("the source QEMU runs again as pid %d (the same command line and -incoming "
	    "defer; output to %s)", (int)pid, p->out_path[0] ? p->out_path : "/dev/null");
	if (resume_epoch(q)) {
		snprintf(why, len, "the new QEMU (pid %d) did not load the device state "
			 "(see above)", (int)pid);
		return -1;
	}
	return 0;
}

/* The steps source_restart() could not take, for a person to take. */
static void print_resume_steps(unsigned long long epoch, const char *qmp_path, pid_t pid,
			       char **argv, int step)
{
	printf("To run the guest on the source from epoch %llu:\n", epoch);
	if (!step)
		printf("  1. quit the QEMU (QMP quit on %s, or kill %d)\n", qmp_path,
		       (int)pid);
	printf("  2. start it again, the same command line with -incoming defer:\n");
	if (argv)
		print_argv(argv);
	else
		printf("    <the same QEMU command line> -incoming defer\n");
	printf("  3. load epoch %llu's device state into it (RAM stays in the region):\n"
	       "    %s migrate --qmp %s --resume\n", epoch, prog, qmp_path);
	fflush(stdout);
}

/*
 * The kernel rolled the region back: the destination or the link was lost
 * for rollback_after_ms. Epoch 0 (the frozen image): the paused QEMU's
 * device state matches, cont. Epoch N: the region holds the destination's
 * memory at epoch N; the paused QEMU must not run on it: start it again
 * from epoch N's device state, or say how. Always 1: the migration failed.
 */
static int source_rolled_back(struct qmp *q, const struct guest *g,
			      const struct ftpage_status *st, const char *qmp_path)
{
	unsigned long long epoch = st->committed_epoch;
	pid_t pid = peer_pid(q->c.fd);
	char why[512] = "", **argv = NULL, **envp = NULL;
	struct qemu_proc p = { .root = -1, .cwd = -1, .exe = -1, .out = -1 };
	int step = 0, ret = -1;

	msg("the destination or the link was lost during post-copy: the kernel rolled "
	    "region %s back to %s%llu (no heartbeat for %u ms)", g->region,
	    epoch ? "epoch " : "the frozen image, epoch ", epoch,
	    module_param_u("rollback_after_ms", 30000));
	if (!epoch) {
		source_cont(q, g);
		fprintf(stderr, "%s: migration of %s failed: destination or link lost; "
			"rolled back to the source\n", prog, g->region);
		return 1;
	}
	msg("region %s holds the guest's memory as the destination committed it at epoch %llu; "
	    "the paused QEMU here has the device state of epoch 0 and must not run on it",
	    g->region, epoch);
	if (!pid)
		snprintf(why, sizeof(why), "the QMP socket does not say which process QEMU is");
	else if (!qemu_proc_get(pid, &p, why, sizeof(why)) &&
		 (!(argv = strvec(p.cmdline, p.cmdline_len, 1)) ||
		  !(envp = strvec(p.env, p.env_len, 0))))
		snprintf(why, sizeof(why), "out of memory");
	else if (argv)
		ret = source_restart(q, &p, epoch, qmp_path, argv, envp, &step, why,
				     sizeof(why));
	if (ret) {
		msg("cannot resume the guest here by itself: %s", why);
		print_resume_steps(epoch, qmp_path, q->c.fd >= 0 ? peer_pid(q->c.fd) : pid,
				   argv, step);
		fprintf(stderr, "%s: migration of %s failed: destination or link lost; rolled "
			"back to epoch %llu; the guest is paused on the source until restarted "
			"as above\n", prog, g->region, epoch);
	} else {
		fprintf(stderr, "%s: migration of %s failed: destination or link lost; rolled "
			"back to epoch %llu; the guest runs on the source again\n", prog,
			g->region, epoch);
	}
	free(argv);
	free(envp);
	qemu_proc_free(&p);
	return 1;
}

/*
 * After the handover the destination runs the guest; the source region is
 * its fallback until the migration ends here: poll() on the region node
 * reports it (like ftpagectl wait). DONE (the destination declared it):
 * quit the source QEMU, 0. ROLLED_BACK (the kernel's rollback, after
 * rollback_after_ms without heartbeat): resume here, 1. The control
 * channel only carries the destination's "DONE", answered "OK" once the
 * region is done; losing it changes nothing, the kernel decides.
 */
static int source_follow(struct qmp *q, struct conn *c, const struct guest *g,
			 const struct opts *o)
{
	char path[sizeof(FTPAGE_DEV_DIR) + FTPAGE_NAME_MAX + 1], line[1024];
	struct pollfd pfd[2] = { { .events = POLLPRI }, { .events = POLLIN } };
	struct ftpage_status st;
	unsigned int after = module_param_u("rollback_after_ms", 30000);
	int said_done = 0;

	snprintf(path, sizeof(path), "%s/%s", FTPAGE_DEV_DIR, g->region);
	pfd[0].fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd[0].fd < 0)
		die("open %s", path, errno);
	if (after)
		msg("the guest runs on the destination; region %s stays its fallback until "
		    "the migration is done (rollback after %u ms without heartbeat)",
		    g->region, after);
	else
		msg("the guest runs on the destination; region %s stays its fallback until "
		    "the migration is done (no automatic rollback: rollback_after_ms=0)",
		    g->region);
	for (;;) {
		int line_ready = c->fd >= 0 && memchr(c->buf, '\n', c->len);

		pfd[1].fd = c->fd;
		if (poll(pfd, 2, line_ready ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll %s", path, errno);
		}
		if (pfd[0].revents & POLLPRI)
			break;
		if (!line_ready && !pfd[1].revents)
			continue;
		if (conn_readline(c, line, sizeof(line), 1000)) {
			if (errno == ETIMEDOUT)
				continue;
			msg("control channel to the destination closed (%s); waiting for "
			    "'ftpagectl done %s' there, or the kernel's rollback", strerror(errno),
			    g->region);
			close(c->fd);
			c->fd = -1;
		} else if (!strcmp(line, "DONE")) {
			said_done = 1;
		} else {
			conn_printf(c, "ERR unexpected '%.64s'\n", line);
		}
	}
	close(pfd[0].fd);
	region_status(g->region, &st);
	if (st.state == FTPAGE_STATE_DONE) {
		msg("the destination declared the migration done; region %s released here",
		    g->region);
		if (!o->keep && qmp_call(q, "{\"execute\": \"quit\"}") < 0 &&
		    errno != ECONNRESET)
			msg("quit: no answer from the source QEMU");
		if (c->fd >= 0 && (said_done ||
		    (!conn_readline(c, line, sizeof(line), 2000) && !strcmp(line, "DONE"))))
			conn_printf(c, "OK\n");
		return 0;
	}
	if (c->fd >= 0)
		conn_printf(c, "ERR the source rolled back\n");
	if (st.state == FTPAGE_STATE_ROLLED_BACK)
		return source_rolled_back(q, g, &st, o->qmp);
	fprintf(stderr, "%s: region %s is %s: the migration ended without a rollback; "
		"the guest stays paused here\n", prog, g->region, ftp_state_name(st.state));
	return 1;
}

static int migrate_source(const struct opts *o)
{
	static struct qmp q;
	static struct conn c;
	struct sockaddr_storage la, sa;
	struct ftpage_status st;
	struct guest g = { 0 };
	socklen_t llen, slen;
	char line[1024], buf[80];
	int lfd, one = 1, migrated = 0, ret = 1;
	unsigned int serve_port;

	llen = parse_addr(o->listen, &la);
	if (!llen)
		die("bad address '%s' (want ADDR:PORT or [ADDR6]:PORT)", o->listen, 0);
	if (!get_port(&la))
		set_port(&la, CTL_PORT);
	if (qmp_open(&q, o->qmp))
		die("cannot reach the source QEMU's QMP socket %s (-qmp unix:PATH,server=on,wait=off)",
		    o->qmp, errno);
	if (qemu_check(&q, &g, "source"))
		return 1;
	if (strcmp(g.runstate, "running") && strcmp(g.runstate, "paused")) {
		fprintf(stderr, "%s: source QEMU is %s, not running or paused\n", prog,
			g.runstate);
		return 1;
	}
	if (region_check(&g, FTPAGE_ROLE_SOURCE, &st))
		return 1;
	if (st.state != FTPAGE_STATE_LOCAL) {
		fprintf(stderr, "%s: region %s is %s, not local: it was migrated already\n",
			prog, g.region, ftp_state_name(st.state));
		return 1;
	}
	sa = la;
	slen = llen;
	serve_port = o->serve_port ? o->serve_port : module_param_u("port", 7407);
	set_port(&sa, serve_port);
	if (region_peer(FTPAGE_IOC_SERVE, g.region, NULL, &sa, slen, &o->auth)) {
		if (errno != EBUSY)
			die("serve %s", g.region, errno);
		msg("region %s is served already", g.region);
	}
	lfd = socket(la.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&la, llen) || listen(lfd, 1))
		die("cannot listen on %s", addr_str(&la, buf, sizeof(buf)), errno);
	msg("guest RAM in region %s (%" PRIu64 " MiB), QEMU %s; waiting for the destination on %s",
	    g.region, g.size >> 20, g.runstate, addr_str(&la, buf, sizeof(buf)));

	c.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (c.fd < 0)
		die("accept%s", "", errno);
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	while (!migrated && !conn_readline(&c, line, sizeof(line), -1)) {
		if (!strcmp(line, "HELLO ftpage-migrate 1")) {
			conn_printf(&c, "OK region=%s size=%" PRIu64 " serve_port=%u\n",
				    g.region, g.size, serve_port);
		} else if (!strcmp(line, "CAPS")) {
			if (qemu_ignore_shared(&q, "source"))
				conn_printf(&c, "ERR source QEMU refused x-ignore-shared: %s\n",
					    q.reply);
			else
				conn_printf(&c, "OK\n");
		} else if (!strncmp(line, "MIGRATE ", 8)) {
			if (source_migrate(&q, &c, &g, line + 8))
				break;
			migrated = 1;
		} else {
			conn_printf(&c, "ERR unexpected '%.64s'\n", line);
			break;
		}
	}
	if (migrated)
		ret = source_follow(&q, &c, &g, o);
	else
		msg("session ended before the migration; the guest was not stopped");
	if (c.fd >= 0)
		close(c.fd);
	return ret;
}

/* ---- the destination half ------------------------------------------------ */

/* Send a command on the control channel, read the reply into line. */
static int ctl_cmd(struct conn *c, char *line, size_t len, int timeout_ms,
		   const char *cmd)
{
	if (conn_printf(c, "%s\n", cmd) || conn_readline(c, line, len, timeout_ms)) {
		snprintf(line, len, "control channel: %s", strerror(errno));
		return -1;
	}
	if (!strncmp(line, "OK", 2))
		return 0;
	if (!strncmp(line, "ERR ", 4))
		memmove(line, line + 4, strlen(line + 4) + 1);
	return -1;
}

static int kv_u64(const char *line, const char *key, uint64_t *v)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), " %s=", key);
	s = strstr(line, pat);
	if (!s)
		return -1;
	*v = strtoull(s + strlen(pat), NULL, 10);
	return 0;
}

static int connect_retry(const struct sockaddr_storage *ss, socklen_t len,
			 unsigned int wait_s)
{
	uint64_t end = now_ms() + wait_s * 1000ULL;
	int fd, one = 1;

	for (;;) {
		fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (const struct sockaddr *)ss, len)) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		close(fd);
		if ((errno != ECONNREFUSED && errno != EHOSTUNREACH &&
		     errno != ENETUNREACH && errno != ETIMEDOUT) || now_ms() >= end)
			return -1;
		sleep_ms(500);
	}
}

/* One progress line from two samples dt_ms apart. */
static void progress(const struct ftpage_status *st, uint64_t prev_known,
		     uint64_t dt_ms, int tty)
{
	const int width = 30;
	uint64_t done = st->pages_known, left = st->pages_total - done;
	double rate = dt_ms ? (double)(done - prev_known) * 1000.0 / dt_ms : 0;
	int filled = st->pages_total ? (int)(done * width / st->pages_total) : 0;
	char eta[32];

	if (rate > 0)
		snprintf(eta, sizeof(eta), "%.0f s", left / rate);
	else
		snprintf(eta, sizeof(eta), "-");
	printf("%s[%.*s%*s] %llu/%llu pages local %5.1f MiB/s ETA %s, demand %llu, "
	       "pushed %llu, p50 %.0f us p99 %.0f us%s",
	       tty ? "\r" : "", filled, "##############################", width - filled, "",
	       (unsigned long long)done, (unsigned long long)st->pages_total,
	       rate * PAGE / (1 << 20), eta, (unsigned long long)st->demand_faults,
	       (unsigned long long)st->pages_pushed, st->fault_lat_p50_ns / 1e3,
	       st->fault_lat_p99_ns / 1e3, tty ? "\033[K" : "\n");
	fflush(stdout);
}

/* Hand fd to QEMU under name (QMP getfd: the fd rides on the command). */
static int qmp_getfd(struct qmp *q, int fd, const char *name)
{
	char cmd[256], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { cmd, 0 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	iov.iov_len = snprintf(cmd, sizeof(cmd), "{\"execute\": \"getfd\", "
			       "\"arguments\": {\"fdname\": \"%s\"}}\n", name);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(q->c.fd, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -1;
	return qmp_reply(q) ? -1 : 0;
}

/*
 * --commit-every: pause the guest, save its device state (a migration
 * stream without RAM, x-ignore-shared) through a pipe, seal the epoch with
 * it as the state blob, resume. *pause_ms: how long the guest was paused.
 */
static int commit_epoch(struct qmp *q, const char *region, uint64_t *pause_ms)
{
	struct ftpage_commit c = { .name = (uintptr_t)region };
	size_t len = 0, cap = 1 << 20;
	char *blob = malloc(cap), status[64] = "";
	uint64_t t0 = now_ms();
	int p[2], fd, ret = -1;
	ssize_t n;

	if (!blob || pipe2(p, O_CLOEXEC))
		die("commit: %s", "pipe", errno);
	if (qmp_getfd(q, p[1], "ftpage-epoch")) {
		close(p[1]);
		fprintf(stderr, "%s: destination QEMU: getfd: %s\n", prog, q->reply);
		goto out;
	}
	close(p[1]);
	if (qmp_call(q, "{\"execute\": \"stop\"}") ||
	    qmp_call(q, "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"fd:ftpage-epoch\"}}")) {
		fprintf(stderr, "%s: destination QEMU: saving device state: %s\n", prog, q->reply);
		goto out;
	}
	while ((n = read(p[0], blob + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("commit: reading the device state%s", "", errno);
		len += n;
		if (len == cap) {
			if (cap >= FTPAGE_COMMIT_STATE_MAX)
				die("commit: device state over %s", "64 MiB", 0);
			cap *= 2;
			blob = realloc(blob, cap);
			if (!blob)
				die("commit: %s", "out of memory", ENOMEM);
		}
	}
	while (!qmp_call(q, "{\"execute\": \"query-migrate\"}") &&
	       !json_str(q->reply, "status", status, sizeof(status)) &&
	       strcmp(status, "completed") && strcmp(status, "failed"))
		sleep_ms(2);
	if (strcmp(status, "completed")) {
		fprintf(stderr, "%s: destination QEMU: saving device state %s: %s\n", prog,
			status, q->reply);
		goto out;
	}
	c.state = (uintptr_t)blob;
	c.state_len = len;
	fd = ctl_open(NULL);
	ret = ioctl(fd, FTPAGE_IOC_COMMIT, &c);
	if (ret)
		fprintf(stderr, "%s: commit %s: %s\n", prog, region, strerror(errno));
	close(fd);
out:
	if (qmp_call(q, "{\"execute\": \"cont\"}")) {
		fprintf(stderr, "%s: destination QEMU: cont: %s\n", prog, q->reply);
		ret = -1;
	}
	*pause_ms = now_ms() - t0;
	if (!ret)
		msg("epoch %llu sealed: %llu pages, %zu bytes of device state, guest paused %"
		    PRIu64 " ms", (unsigned long long)c.epoch, (unsigned long long)c.pages,
		    len, *pause_ms);
	close(p[0]);
	free(blob);
	return ret;
}

/* The region left post-copy other than complete: the source rolled back. */
static int dest_lost(const struct guest *g, const struct ftpage_status *st)
{
	if (st->state == FTPAGE_STATE_ABANDONED)
		fprintf(stderr, "%s: migration of %s failed: the source rolled back (it did "
			"not hear from here for its rollback_after_ms) and runs the guest "
			"again; region %s is abandoned, the guest here is gone (stop this QEMU)\n",
			prog, g->region, g->region);
	else
		fprintf(stderr, "%s: migration of %s failed: region %s is %s with %llu of %llu "
			"pages local\n", prog, g->region, g->region, ftp_state_name(st->state),
			(unsigned long long)st->pages_known, (unsigned long long)st->pages_total);
	return 1;
}

/*
 * Every page is here: declare the migration done, so that the source
 * releases its copy and this region needs no lease any more. While the
 * source cannot be reached (-ENOTCONN) retry, until it answers or rolled
 * back (we then are abandoned).
 */
static int dest_done(const struct guest *g, struct ftpage_status *st)
{
	int said = 0;

	while (region_ref(FTPAGE_IOC_DONE, g->region)) {
		if (errno != ENOTCONN && errno != EAGAIN) {
			fprintf(stderr, "%s: done %s: %s\n", prog, g->region, strerror(errno));
			return 1;
		}
		if (!said++)
			msg("complete; the source cannot be reached to declare the migration "
			    "done: retrying");
		sleep_ms(200);
		if (region_status(g->region, st))
			die("status %s", g->region, errno);
		if (st->state != FTPAGE_STATE_COMPLETE)
			return dest_lost(g, st);
	}
	region_status(g->region, st);
	msg("migration declared done: region %s is %s, the source released its copy",
	    g->region, ftp_state_name(st->state));
	return 0;
}

static int migrate_dest(const struct opts *o)
{
	static struct qmp q;
	static struct conn c;
	struct sockaddr_storage pa, sa, local;
	struct ftpage_status st;
	struct guest g = { 0 };
	socklen_t plen, llen = sizeof(local);
	uint64_t src_size, serve_port, t_start = now_ms(), t0, t_resume, t_done;
	uint64_t stop_ms = 0, ram = 0, ram_total = 0, prev_known, t_prev;
	char line[1024], rs[32], uri[128], host[INET6_ADDRSTRLEN], region[FTPAGE_NAME_MAX];
	char buf[160];
	uint64_t t_commit, pause_ms, pause_max = 0, epochs = 0;
	int tty = isatty(STDOUT_FILENO), lost, was_lost = 0, ret;

	plen = parse_addr(o->from, &pa);
	if (!plen)
		die("bad address '%s' (want ADDR:PORT or [ADDR6]:PORT)", o->from, 0);
	if (!get_port(&pa))
		set_port(&pa, CTL_PORT);

	/* 1. the destination QEMU and region */
	if (qmp_open(&q, o->qmp))
		die("cannot reach the destination QEMU's QMP socket %s (-qmp unix:PATH,server=on,wait=off)",
		    o->qmp, errno);
	if (qemu_check(&q, &g, "destination"))
		return 1;
	if (strcmp(g.runstate, "inmigrate")) {
		fprintf(stderr, "%s: destination QEMU is %s: start it with -incoming defer\n",
			prog, g.runstate);
		return 1;
	}
	if (region_check(&g, FTPAGE_ROLE_DEST, &st))
		return 1;
	if (st.state != FTPAGE_STATE_EMPTY && st.state != FTPAGE_STATE_PULLING) {
		fprintf(stderr, "%s: region %s is %s: want a new destination region\n",
			prog, g.region, ftp_state_name(st.state));
		return 1;
	}

	/* its capability first: a refusal here needs no word with the source */
	if (qemu_ignore_shared(&q, "destination"))
		return 1;

	/* 2. the source half */
	c.fd = connect_retry(&pa, plen, o->wait_s);
	if (c.fd < 0)
		die("cannot reach the source half on %s (is 'ftpagectl migrate --listen' "
		    "running there?)", addr_str(&pa, buf, sizeof(buf)), errno);
	if (getsockname(c.fd, (struct sockaddr *)&local, &llen))
		die("getsockname%s", "", errno);
	if (ctl_cmd(&c, line, sizeof(line), QMP_TIMEOUT_MS, "HELLO ftpage-migrate 1")) {
		fprintf(stderr, "%s: source: %s\n", prog, line);
		return 1;
	}
	if (sscanf(line, "OK region=%31s", region) != 1 || kv_u64(line, "size", &src_size) ||
	    kv_u64(line, "serve_port", &serve_port)) {
		fprintf(stderr, "%s: source: bad answer '%s'\n", prog, line);
		return 1;
	}
	if (src_size != g.size) {
		fprintf(stderr, "%s: size mismatch: source region %s has %" PRIu64
			" bytes, destination %s %" PRIu64 ": start QEMU and the region with the "
			"same -m/size on both sides\n", prog, region, src_size, g.region, g.size);
		return 1;
	}

	/* 3. the source's capability, then attach to the page server */
	if (ctl_cmd(&c, line, sizeof(line), QMP_TIMEOUT_MS, "CAPS")) {
		fprintf(stderr, "%s: source: %s\n", prog, line);
		return 1;
	}
	sa = pa;
	set_port(&sa, serve_port);
	if (st.state == FTPAGE_STATE_EMPTY &&
	    region_peer(FTPAGE_IOC_PULL, g.region, region, &sa, plen, &o->auth)) {
		fprintf(stderr, "%s: pull %s from %s (region %s): %s\n", prog, g.region,
			addr_str(&sa, buf, sizeof(buf)), region, strerror(errno));
		return 1;
	}
	if (region_status(g.region, &st) || !st.connected ||
	    (st.state != FTPAGE_STATE_PULLING && st.state != FTPAGE_STATE_COMPLETE)) {
		fprintf(stderr, "%s: region %s is %s with %u channel(s) up: the page server "
			"does not answer\n", prog, g.region, ftp_state_name(st.state),
			st.connected);
		return 1;
	}
	if (local.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&local)->sin6_addr, host, sizeof(host));
		snprintf(uri, sizeof(uri), "tcp:[%s]:%u", host, o->stream_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&local)->sin_addr, host, sizeof(host));
		snprintf(uri, sizeof(uri), "tcp:%s:%u", host, o->stream_port);
	}
	if (qmp_call(&q, "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"%s\"}}",
		     uri)) {
		fprintf(stderr, "%s: destination QEMU: migrate-incoming %s: %s\n", prog, uri,
			q.reply);
		return 1;
	}
	msg("region %s attached to %s (%s); checks passed, migrating %s (%" PRIu64 " MiB)",
	    g.region, addr_str(&sa, buf, sizeof(buf)), region, g.region, g.size >> 20);

	/* 4. stop on the source, device state over, resume here: the downtime */
	t0 = now_ms();
	snprintf(buf, sizeof(buf), "MIGRATE %s", uri);
	if (ctl_cmd(&c, line, sizeof(line), 120000, buf)) {
		fprintf(stderr, "%s: source: %s\n", prog, line);
		return 1;
	}
	kv_u64(line, "stop_ms", &stop_ms);
	kv_u64(line, "ram_bytes", &ram);
	kv_u64(line, "ram_total", &ram_total);
	for (;;) {
		if (qmp_runstate(&q, rs, sizeof(rs))) {
			fprintf(stderr, "%s: destination QEMU: %s\n", prog, q.reply);
			return 1;
		}
		if (strcmp(rs, "inmigrate"))
			break;
		if (now_ms() - t0 > 120000) {
			fprintf(stderr, "%s: destination QEMU still loading device state after 120 s\n",
				prog);
			return 1;
		}
		sleep_ms(2);
	}
	if (strcmp(rs, "running") && qmp_call(&q, "{\"execute\": \"cont\"}")) {
		fprintf(stderr, "%s: destination QEMU (%s): cont: %s\n", prog, rs, q.reply);
		return 1;
	}
	t_resume = now_ms();
	msg("downtime %" PRIu64 " ms (source paused and frozen -> destination running; "
	    "device state sent in %" PRIu64 " ms, RAM over the migration stream %" PRIu64
	    " KiB of %" PRIu64 " KiB)", t_resume - t0, stop_ms, ram >> 10, ram_total >> 10);

	/* 5. post-copy progress until every page is local; epochs */
	region_status(g.region, &st);
	prev_known = st.pages_known;
	t_prev = t_commit = now_ms();
	for (;;) {
		uint64_t t, every = tty ? 250 : 1000;

		sleep_ms(50);
		if (o->commit_ms && now_ms() - t_commit >= o->commit_ms &&
		    st.state == FTPAGE_STATE_PULLING) {
			if (commit_epoch(&q, g.region, &pause_ms)) {
				if (tty)
					putchar('\n');
				return 1;
			}
			epochs++;
			if (pause_ms > pause_max)
				pause_max = pause_ms;
			t_commit = now_ms();
		}
		if (region_status(g.region, &st))
			die("status %s", g.region, errno);
		t = now_ms();
		if (t - t_prev >= every || st.state != FTPAGE_STATE_PULLING) {
			progress(&st, prev_known, t - t_prev, tty);
			prev_known = st.pages_known;
			t_prev = t;
		}
		if (st.state == FTPAGE_STATE_COMPLETE)
			break;
		lost = st.state == FTPAGE_STATE_BROKEN || (st.status_flags & FTPAGE_STATUS_FENCED);
		if (lost != was_lost) {
			if (tty)
				putchar('\n');
			if (lost)
				msg("link to the source lost (region %s %s%s): the guest waits for "
				    "its missing pages while the kernel reconnects", g.region,
				    ftp_state_name(st.state),
				    st.status_flags & FTPAGE_STATUS_FENCED ? ", lease lapsed" : "");
			else
				msg("link to the source back (%llu reconnect(s))",
				    (unsigned long long)st.reconnects);
			was_lost = lost;
		}
		if (st.state != FTPAGE_STATE_PULLING && st.state != FTPAGE_STATE_BROKEN) {
			if (tty)
				putchar('\n');
			return dest_lost(&g, &st);
		}
	}
	if (tty)
		putchar('\n');
	t_done = now_ms();
	if (!o->no_done) {
		ret = dest_done(&g, &st);
		if (ret)
			return ret;
		if (ctl_cmd(&c, line, sizeof(line), QMP_TIMEOUT_MS, "DONE"))
			msg("source: %s (the migration is done all the same)", line);
	}
	close(c.fd);

	/* 6. report */
	printf("migration of %s %s\n", g.region, o->no_done ?
	       "complete; the source keeps its copy until 'ftpagectl done' here" : "done");
	printf("  downtime        %" PRIu64 " ms\n", t_resume - t0);
	printf("  total time      %" PRIu64 " ms (post-copy %" PRIu64 " ms)\n",
	       t_done - t_start, t_done - t_resume);
	printf("  RAM over QEMU's migration stream %" PRIu64 " bytes (guest RAM %" PRIu64 ")\n",
	       ram, g.size);
	printf("  pages %llu: on demand %llu, pushed %llu, zero %llu\n",
	       (unsigned long long)st.pages_total, (unsigned long long)st.pages_fetched,
	       (unsigned long long)st.pages_pushed, (unsigned long long)st.zero_pages);
	printf("  fault latency   p50 %.0f us, p99 %.0f us, max %.0f us\n",
	       st.fault_lat_p50_ns / 1e3, st.fault_lat_p99_ns / 1e3,
	       st.fault_lat_max_ns / 1e3);
	printf("  epochs sealed %" PRIu64 ", applied on the source %llu%s",
	       epochs, (unsigned long long)st.committed_epoch, epochs ? "" : "\n");
	if (epochs)
		printf(", longest pause for one %" PRIu64 " ms\n", pause_max);
	return 0;
}

/*
 * --resume: after a rollback to epoch N, load epoch N's device state (the
 * region's checkpoint, a QEMU migration stream without RAM) into a QEMU
 * started on the region with -incoming defer; RAM is the region as it is
 * (x-ignore-shared). The blob goes through a pipe handed over with getfd.
 */
static int resume_epoch(struct qmp *q)
{
	struct ftpage_checkpoint ck;
	struct ftpage_status st;
	struct guest g = { 0 };
	char rs[32] = "";
	uint64_t t0;
	size_t off = 0;
	char *blob;
	int p[2];

	if (qemu_check(q, &g, "source"))
		return 1;
	if (strcmp(g.runstate, "inmigrate")) {
		fprintf(stderr, "%s: QEMU is %s: start it with -incoming defer\n", prog,
			g.runstate);
		return 1;
	}
	if (region_check(&g, FTPAGE_ROLE_SOURCE, &st))
		return 1;
	if (st.state != FTPAGE_STATE_ROLLED_BACK) {
		fprintf(stderr, "%s: region %s is %s, not rolled-back: nothing to resume\n",
			prog, g.region, ftp_state_name(st.state));
		return 1;
	}
	blob = checkpoint_get(g.region, &ck);
	if (!blob)
		return 1;
	if (!ck.epoch || !ck.state_len) {
		fprintf(stderr, "%s: region %s is at epoch 0, which has no device state: "
			"cont the QEMU that was migrated\n", prog, g.region);
		return 1;
	}
	if (qemu_ignore_shared(q, "source"))
		return 1;
	if (pipe2(p, O_CLOEXEC))
		die("pipe%s", "", errno);
	if (qmp_getfd(q, p[0], "ftpage-resume") ||
	    qmp_call(q, "{\"execute\": \"migrate-incoming\", \"arguments\": "
		     "{\"uri\": \"fd:ftpage-resume\"}}")) {
		fprintf(stderr, "%s: QEMU: loading the device state: %s\n", prog, q->reply);
		return 1;
	}
	close(p[0]);
	t0 = now_ms();
	while (off < ck.state_len) {
		ssize_t n = write(p[1], blob + off, ck.state_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("writing the device state to QEMU%s", "", errno);
		off += n;
	}
	close(p[1]);
	while (!qmp_runstate(q, rs, sizeof(rs)) && !strcmp(rs, "inmigrate") &&
	       now_ms() - t0 < QMP_TIMEOUT_MS)
		sleep_ms(10);
	if (!strcmp(rs, "paused") && !qmp_call(q, "{\"execute\": \"cont\"}"))
		strcpy(rs, "running");
	if (strcmp(rs, "running")) {
		fprintf(stderr, "%s: QEMU did not resume from epoch %llu (%s): see its output\n",
			prog, (unsigned long long)ck.epoch, rs[0] ? rs : "connection lost");
		return 1;
	}
	msg("the guest runs on the source from epoch %llu (%llu bytes of device state "
	    "loaded, RAM from region %s)", (unsigned long long)ck.epoch,
	    (unsigned long long)ck.state_len, g.region);
	free(blob);
	return 0;
}

static int migrate_resume(const struct opts *o)
{
	static struct qmp q;

	if (qmp_open(&q, o->qmp))
		die("cannot reach the QEMU's QMP socket %s (-qmp unix:PATH,server=on,wait=off)",
		    o->qmp, errno);
	return resume_epoch(&q);
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "qmp", required_argument, NULL, 'q' },
		{ "listen", required_argument, NULL, 'l' },
		{ "from", required_argument, NULL, 'f' },
		{ "serve-port", required_argument, NULL, 's' },
		{ "stream-port", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "keep-source", no_argument, NULL, 'k' },
		{ "commit-every", required_argument, NULL, 'c' },
		{ "key-file", required_argument, NULL, 'K' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "encrypt", no_argument, NULL, 'E' },
		{ "no-done", no_argument, NULL, 'n' },
		{ "resume", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .stream_port = STREAM_PORT, .wait_s = 60 };
	int opt;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'q': o.qmp = optarg; break;
		case 'l': o.listen = optarg; break;
		case 'f': o.from = optarg; break;
		case 's': o.serve_port = atoi(optarg); break;
		case 'p': o.stream_port = atoi(optarg); break;
		case 'w': o.wait_s = atoi(optarg); break;
		case 'k': o.keep = 1; break;
		case 'c': o.commit_ms = atoi(optarg); break;
		case 'K': o.auth.key_file = optarg; break;
		case 'I': o.auth.insecure = 1; break;
		case 'E': o.auth.encrypt = 1; break;
		case 'n': o.no_done = 1; break;
		case 'r': o.resume = 1; break;
		default: return 2;
		}
	}
	if (o.resume && optind == argc && o.qmp && !o.listen && !o.from)
		return migrate_resume(&o);
	if (optind != argc || !o.qmp || !o.listen == !o.from || o.serve_port > 65535 ||
	    !o.auth.key_file == !o.auth.insecure || (o.auth.encrypt && o.auth.insecure) ||
	    !o.stream_port || o.stream_port > 65535) {
		fprintf(stderr,
			"usage: %s migrate --qmp SOCKET --listen ADDR[:PORT] [--serve-port P] [--keep-source]\n"
			"           (--key-file FILE [--encrypt] | --insecure)\n"
			"           (source host: serve the region, wait for the destination)\n"
			"       %s migrate --qmp SOCKET --from ADDR[:PORT] [--stream-port P] [--wait S]\n"
			"           [--commit-every MS] [--no-done] (--key-file FILE [--encrypt] | --insecure)\n"
			"           (destination host, QEMU started with -incoming defer: migrate)\n"
			"       %s migrate --qmp SOCKET --resume\n"
			"           (source host, after a rollback to epoch N: a QEMU started with\n"
			"           -incoming defer on the region loads epoch N's device state)\n"
			"       --key-file: the key the page traffic is authenticated with, the\n"
			"           same file on both hosts; --encrypt (both hosts): encrypted\n"
			"           too; --insecure: no authentication\n",
			prog, prog, prog);
		return 2;
	}
	return o.listen ? migrate_source(&o) : migrate_dest(&o);
}
