// SPDX-License-Identifier: GPL-2.0
/*
 * ftpagectl: set up and watch ftpage regions through /dev/ftpage/control.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/ftpage.h>

#include "ftpagectl.h"

const char *prog = "ftpagectl";

void die(const char *fmt, const char *arg, int err)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* Open the control node and do the API handshake; returns the fd. */
int ctl_open(struct ftpage_api *api_out)
{
	struct ftpage_api api = { .api = FTPAGE_API };
	int fd = open(FTPAGE_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("cannot open %s (is ftpage.ko loaded?)", FTPAGE_CONTROL_PATH, errno);
	if (ioctl(fd, FTPAGE_IOC_API, &api))
		die("API handshake failed (module speaks another API than %s?)",
		    "1", errno);
	if (api_out)
		*api_out = api;
	return fd;
}

static int ctl_call(unsigned long cmd, void *arg, const char *what,
		    const char *name)
{
	int fd = ctl_open(NULL);
	int ret = ioctl(fd, cmd, arg);
	int err = errno;

	close(fd);
	if (ret) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, name, strerror(err));
		return 1;
	}
	return 0;
}

/* "64M", "1G", "4096", "1T": binary multiples. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	struct ftpage_api api;
	int fd;

	(void)argc; (void)argv;
	fd = ctl_open(&api);
	close(fd);
	printf("api %u features 0x%" PRIx64 " ioctls 0x%" PRIx64 "\n",
	       api.api, (uint64_t)api.features, (uint64_t)api.ioctls);
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_create c = { .role = FTPAGE_ROLE_SOURCE };
	const char *name;
	int opt;

	while ((opt = getopt_long(argc, argv, "s:r:", opts, NULL)) != -1) {
		switch (opt) {
		case 's': {
			uint64_t size;

			if (parse_size(optarg, &size))
				die("bad size '%s'", optarg, 0);
			c.size = size;
			break;
		}
		case 'r':
			if (!strcmp(optarg, "source"))
				c.role = FTPAGE_ROLE_SOURCE;
			else if (!strcmp(optarg, "dest"))
				c.role = FTPAGE_ROLE_DEST;
			else
				die("bad role '%s' (source|dest)", optarg, 0);
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !c.size)
		die("usage: create NAME --size SIZE [--role source|dest]%s", "", 0);
	name = argv[optind];
	c.name = (uintptr_t)name;
	return ctl_call(FTPAGE_IOC_CREATE, &c, "create", name);
}

/* Commands that take only a region name. */
static int cmd_name_only(int argc, char **argv, unsigned long cmd,
			 const char *what)
{
	struct ftpage_region_ref ref = { 0 };

	if (argc != 2)
		die("usage: %s NAME", what, 0);
	ref.name = (uintptr_t)argv[1];
	return ctl_call(cmd, &ref, what, argv[1]);
}

static int cmd_destroy(int argc, char **argv)
{
	return cmd_name_only(argc, argv, FTPAGE_IOC_DESTROY, "destroy");
}

static int cmd_freeze(int argc, char **argv)
{
	return cmd_name_only(argc, argv, FTPAGE_IOC_FREEZE, "freeze");
}

static int cmd_rollback(int argc, char **argv)
{
	return cmd_name_only(argc, argv, FTPAGE_IOC_ROLLBACK, "rollback");
}

static int cmd_done(int argc, char **argv)
{
	return cmd_name_only(argc, argv, FTPAGE_IOC_DONE, "done");
}

/* Read all of @path into a malloc'd buffer; the length in *len. */
static void *read_file(const char *path, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "rb");
	size_t got;

	if (!f || !buf)
		die("cannot read %s", path, errno);
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			if (cap > FTPAGE_COMMIT_STATE_MAX)
				die("%s: larger than the 64 MiB state limit", path, 0);
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("%s: out of memory", path, ENOMEM);
		}
	}
	if (ferror(f))
		die("cannot read %s", path, errno);
	fclose(f);
	*len = n;
	return buf;
}

/* commit NAME [--state FILE] [--wait] */
static int cmd_commit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_commit c = { 0 };
	void *state = NULL;
	size_t len = 0;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 's')
			state = read_file(optarg, &len);
		else if (opt == 'w')
			c.flags |= FTPAGE_COMMIT_WAIT;
		else
			return 2;
	}
	if (optind != argc - 1)
		die("usage: commit NAME [--state FILE] [--wait]%s", "", 0);
	c.name = (uintptr_t)argv[optind];
	c.state = (uintptr_t)state;
	c.state_len = len;
	ret = ctl_call(FTPAGE_IOC_COMMIT, &c, "commit", argv[optind]);
	if (!ret)
		printf("epoch %llu: %llu pages, %zu state bytes%s\n",
		       (unsigned long long)c.epoch, (unsigned long long)c.pages,
		       len, c.flags ? ", applied on the source" : "");
	free(state);
	return ret;
}

/* The state blob of region name's last committed epoch (malloc'd, in
 * c->buf, c->state_len bytes), or NULL with the error printed. */
void *checkpoint_get(const char *name, struct ftpage_checkpoint *c)
{
	memset(c, 0, sizeof(*c));
	c->name = (uintptr_t)name;
	if (ctl_call(FTPAGE_IOC_CHECKPOINT, c, "checkpoint", name))
		return NULL;
	c->buf_len = c->state_len;
	c->buf = (uintptr_t)malloc(c->buf_len ? c->buf_len : 1);
	if (!c->buf || ctl_call(FTPAGE_IOC_CHECKPOINT, c, "checkpoint", name))
		return NULL;
	return (void *)(uintptr_t)c->buf;
}

/* checkpoint NAME --out FILE: the state blob of the committed epoch */
static int cmd_checkpoint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_checkpoint c = { 0 };
	const char *out = NULL;
	FILE *f;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'o')
			return 2;
		out = optarg;
	}
	if (optind != argc - 1 || !out)
		die("usage: checkpoint NAME --out FILE%s", "", 0);
	if (!checkpoint_get(argv[optind], &c))
		return 1;
	f = fopen(out, "wb");
	if (!f || fwrite((void *)(uintptr_t)c.buf, 1, c.state_len, f) != c.state_len ||
	    fclose(f))
		die("cannot write %s", out, errno);
	printf("epoch %llu: %llu state bytes written to %s\n",
	       (unsigned long long)c.epoch, (unsigned long long)c.state_len, out);
	free((void *)(uintptr_t)c.buf);
	return 0;
}

/* "ADDR:PORT", "ADDR", "[V6ADDR]:PORT"; a missing port is 0 (module default). */
socklen_t parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *end;
	unsigned long p = 0;
	size_t len;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return 0;
		len = end - s - 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return 0;
		s++;
	} else {
		end = strrchr(s, ':');
		len = end ? (size_t)(end - s) : strlen(s);
		if (end)
			port = end + 1;
	}
	if (len >= sizeof(host))
		return 0;
	memcpy(host, s, len);
	host[len] = 0;
	if (port) {
		char *e;

		p = strtoul(port, &e, 10);
		if (!*port || *e || p > 65535)
			return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		return sizeof(*sin6);
	}
	return 0;
}

int set_key_file(int fd, const char *name, const char *file)
{
	unsigned char key[FTPAGE_KEY_MAX + 1];
	struct ftpage_key k = { .name = (uintptr_t)name, .key = (uintptr_t)key };
	ssize_t n;
	int kfd, ret = -1;

	kfd = open(file, O_RDONLY | O_CLOEXEC);
	if (kfd < 0) {
		fprintf(stderr, "%s: key file %s: %s\n", prog, file, strerror(errno));
		return -1;
	}
	n = read(kfd, key, sizeof(key));
	close(kfd);
	if (n < FTPAGE_KEY_MIN || n > FTPAGE_KEY_MAX) {
		fprintf(stderr, "%s: key file %s: %s; want %d..%d bytes (e.g. head -c 32 /dev/urandom)\n",
			prog, file, n < 0 ? strerror(errno) : "wrong length",
			FTPAGE_KEY_MIN, FTPAGE_KEY_MAX);
		goto out;
	}
	k.key_len = (uint32_t)n;
	if (ioctl(fd, FTPAGE_IOC_SET_KEY, &k)) {
		fprintf(stderr, "%s: set key of %s: %s\n", prog, name, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	memset(key, 0, sizeof(key));
	__asm__ __volatile__("" : : "r"(key) : "memory");
	return ret;
}

/* ALLOW_PEER of region NAME: host ADDR, or any host with NULL. */
static int allow_peer(int fd, const char *name, const char *addr)
{
	struct sockaddr_storage ss;
	struct ftpage_peer p = { .name = (uintptr_t)name };

	if (addr) {
		p.addrlen = parse_addr(addr, &ss);
		if (!p.addrlen || ((struct sockaddr_in *)&ss)->sin_port) {
			fprintf(stderr, "%s: --allow %s: want a host address "
				"without a port\n", prog, addr);
			return -1;
		}
		p.addr = (uintptr_t)&ss;
	}
	if (ioctl(fd, FTPAGE_IOC_ALLOW_PEER, &p)) {
		fprintf(stderr, "%s: allow %s for %s: %s\n", prog,
			addr ? addr : "any host", name, strerror(errno));
		return -1;
	}
	return 0;
}

int peer_call(unsigned long cmd, struct ftpage_peer *p,
	      const struct auth_opts *a)
{
	const char *name = (const char *)(uintptr_t)p->name;
	int fd = ctl_open(NULL), ret = -1, err;

	if (a->insecure)
		p->flags |= cmd == FTPAGE_IOC_SERVE ? FTPAGE_SERVE_INSECURE :
						      FTPAGE_PULL_INSECURE;
	if (a->encrypt)
		p->flags |= cmd == FTPAGE_IOC_SERVE ? FTPAGE_SERVE_ENCRYPT :
						      FTPAGE_PULL_ENCRYPT;
	if (a->key_file && set_key_file(fd, name, a->key_file))
		goto out;
	if (cmd == FTPAGE_IOC_SERVE && allow_peer(fd, name, a->allow))
		goto out;
	ret = ioctl(fd, cmd, p);
	err = errno;
	if (ret && err == ENOPROTOOPT)
		fprintf(stderr, "%s: %s: the two sides disagree on encryption "
			"(see dmesg): give --encrypt on both, on kernels with "
			"gcm(aes)\n", prog, name);
	else if (ret && err == EACCES)
		fprintf(stderr, "%s: %s: the source accepts another destination "
			"host only (its serve --allow)\n", prog, name);
	else if (ret && err == ENOKEY)
		fprintf(stderr, "%s: %s has no key: give --key-file FILE (the same "
			"key on both hosts), or --insecure to run without "
			"authentication\n", prog, name);
	else if (ret && err == EKEYREJECTED)
		fprintf(stderr, "%s: %s: the peer was not authenticated (see dmesg): "
			"the keys differ, or one side runs --insecure\n", prog, name);
	errno = err;
out:
	close(fd);
	return ret;
}

/* serve NAME --listen ADDR:PORT, pull NAME --from ADDR:PORT */
static int cmd_peer(int argc, char **argv, unsigned long cmd, const char *what,
		    const char *optname)
{
	const struct option opts[] = {
		{ optname, required_argument, NULL, 'a' },
		{ "source-name", required_argument, NULL, 'n' },
		{ "no-push", no_argument, NULL, 'P' },
		{ "key-file", required_argument, NULL, 'K' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "encrypt", no_argument, NULL, 'E' },
		{ "allow", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_storage ss;
	struct ftpage_peer p = { 0 };
	struct auth_opts a = { 0 };
	const char *addr = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'a')
			addr = optarg;
		else if (opt == 'K')
			a.key_file = optarg;
		else if (opt == 'I')
			a.insecure = 1;
		else if (opt == 'E')
			a.encrypt = 1;
		else if (opt == 'A' && cmd == FTPAGE_IOC_SERVE)
			a.allow = optarg;
		else if (opt == 'n' && cmd == FTPAGE_IOC_PULL)
			p.peer_name = (uintptr_t)optarg;
		else if (opt == 'P' && cmd == FTPAGE_IOC_SERVE)
			p.flags |= FTPAGE_SERVE_NO_PUSH;
		else
			return 2;
	}
	if (optind != argc - 1 || !addr || (a.key_file && a.insecure) ||
	    (a.encrypt && a.insecure)) {
		fprintf(stderr, "usage: %s %s NAME --%s ADDR[:PORT] "
			"(--key-file FILE [--encrypt] | --insecure)%s\n", prog,
			what, optname,
			cmd == FTPAGE_IOC_SERVE ? " [--allow ADDR]" : "");
		return 2;
	}
	p.addrlen = parse_addr(addr, &ss);
	if (!p.addrlen)
		die("bad address '%s' (want ADDR:PORT or [ADDR6]:PORT)", addr, 0);
	p.name = (uintptr_t)argv[optind];
	p.addr = (uintptr_t)&ss;
	if (peer_call(cmd, &p, &a)) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, argv[optind],
			strerror(errno));
		return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	return cmd_peer(argc, argv, FTPAGE_IOC_SERVE, "serve", "listen");
}

static int cmd_pull(int argc, char **argv)
{
	return cmd_peer(argc, argv, FTPAGE_IOC_PULL, "pull", "from");
}

static const char *const role_names[] = {
	[FTPAGE_ROLE_SOURCE] = "source",
	[FTPAGE_ROLE_DEST] = "dest",
};

static const char *const state_names[] = {
	[FTPAGE_STATE_LOCAL] = "local",
	[FTPAGE_STATE_FROZEN] = "frozen",
	[FTPAGE_STATE_EMPTY] = "empty",
	[FTPAGE_STATE_DEAD] = "dead",
	[FTPAGE_STATE_PULLING] = "pulling",
	[FTPAGE_STATE_COMPLETE] = "complete",
	[FTPAGE_STATE_BROKEN] = "broken",
	[FTPAGE_STATE_ROLLED_BACK] = "rolled-back",
	[FTPAGE_STATE_ABANDONED] = "abandoned",
	[FTPAGE_STATE_DONE] = "done",
};

static const char *const ferr_names[] = {
	[FTPAGE_FERR_NONE] = "none",
	[FTPAGE_FERR_TIMEOUT] = "timeout",
	[FTPAGE_FERR_LINK] = "link lost",
	[FTPAGE_FERR_DETACHED] = "not attached",
	[FTPAGE_FERR_FROZEN] = "write to frozen region",
	[FTPAGE_FERR_DEAD] = "region destroyed",
	[FTPAGE_FERR_FENCED] = "fenced: lease lapsed",
	[FTPAGE_FERR_ABANDONED] = "abandoned: the source rolled back",
};

#define NAME_OF(tbl, i) \
	((i) < sizeof(tbl) / sizeof(tbl[0]) && tbl[i] ? tbl[i] : "unknown")

const char *ftp_state_name(uint32_t state)
{
	return NAME_OF(state_names, state);
}

#define U(x) ((unsigned long long)(x))

static void print_status_json(const char *name, const struct ftpage_status *st)
{
	printf("{\"name\":\"%s\",\"role\":\"%s\",\"state\":\"%s\","
	       "\"size\":%llu,\"pages_total\":%llu,\"pages_present\":%llu,"
	       "\"pages_known\":%llu,\"openers\":%u,\"connected\":%u,"
	       "\"faults\":%llu,\"write_faults\":%llu,\"zero_fills\":%llu,"
	       "\"refused_writes\":%llu,\"demand_faults\":%llu,"
	       "\"pages_fetched\":%llu,\"pages_pushed\":%llu,"
	       "\"pages_served\":%llu,\"zero_pages\":%llu,"
	       "\"bytes_rx\":%llu,\"bytes_tx\":%llu,"
	       "\"fault_latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
	       "\"epoch\":%llu,\"committed_epoch\":%llu,\"journal_bytes\":%llu,"
	       "\"reconnects\":%llu,\"fenced\":%s,\"attached\":%s,"
	       "\"lease_left_ms\":%u,\"insecure\":%s,\"encrypted\":%s,"
	       "\"push_budget\":%llu,"
	       "\"errors\":%llu,\"last_error\":\"%s\"}\n",
	       name, NAME_OF(role_names, st->role), NAME_OF(state_names, st->state),
	       U(st->size), U(st->pages_total), U(st->pages_present),
	       U(st->pages_known), st->openers, st->connected, U(st->faults),
	       U(st->write_faults), U(st->zero_fills), U(st->refused_writes),
	       U(st->demand_faults), U(st->pages_fetched), U(st->pages_pushed),
	       U(st->pages_served), U(st->zero_pages), U(st->bytes_rx),
	       U(st->bytes_tx), st->fault_lat_p50_ns / 1e3,
	       st->fault_lat_p99_ns / 1e3, st->fault_lat_max_ns / 1e3,
	       U(st->epoch), U(st->committed_epoch), U(st->journal_bytes),
	       U(st->reconnects),
	       st->status_flags & FTPAGE_STATUS_FENCED ? "true" : "false",
	       st->status_flags & FTPAGE_STATUS_ATTACHED ? "true" : "false",
	       st->lease_left_ms,
	       st->status_flags & FTPAGE_STATUS_INSECURE ? "true" : "false",
	       st->status_flags & FTPAGE_STATUS_ENCRYPTED ? "true" : "false",
	       U(st->push_budget),
	       U(st->errors), NAME_OF(ferr_names, st->last_error));
}

/* Pages whose content is settled: present, or (dest) known to be zero. */
static uint64_t pages_done(const struct ftpage_status *st)
{
	return st->role == FTPAGE_ROLE_DEST ? st->pages_known : st->pages_present;
}

static void print_status_human(const char *name, const struct ftpage_status *st)
{
	const int width = 40;
	uint64_t done = pages_done(st);
	int filled = st->pages_total ? (int)(done * width / st->pages_total) : 0;

	printf("%s: %s, %s, %llu MiB, %u opener(s), %u channel(s) up\n", name,
	       NAME_OF(role_names, st->role), NAME_OF(state_names, st->state),
	       U(st->size >> 20), st->openers, st->connected);
	printf("  [%.*s%*s] %llu/%llu pages %s (%llu allocated)\n", filled,
	       "########################################", width - filled, "",
	       U(done), U(st->pages_total),
	       st->role == FTPAGE_ROLE_DEST ? "local" : "present",
	       U(st->pages_present));
	printf("  faults %llu, write faults %llu, zero fills %llu, refused writes %llu\n",
	       U(st->faults), U(st->write_faults), U(st->zero_fills),
	       U(st->refused_writes));
	printf("  demand %llu, fetched %llu, pushed %llu, served %llu, zero %llu\n",
	       U(st->demand_faults), U(st->pages_fetched), U(st->pages_pushed),
	       U(st->pages_served), U(st->zero_pages));
	printf("  rx %llu MiB, tx %llu MiB, fault latency p50 %.1f us p99 %.1f us max %.1f us\n",
	       U(st->bytes_rx >> 20), U(st->bytes_tx >> 20),
	       st->fault_lat_p50_ns / 1e3, st->fault_lat_p99_ns / 1e3,
	       st->fault_lat_max_ns / 1e3);
	printf("  epoch %llu, committed epoch %llu, journal %llu KiB in flight\n",
	       U(st->epoch), U(st->committed_epoch), U(st->journal_bytes >> 10));
	if (st->push_budget)
		printf("  push in flight at most %llu KiB\n", U(st->push_budget >> 10));
	printf("  reconnects %llu%s%s%s%s, lease %u ms left\n", U(st->reconnects),
	       st->status_flags & FTPAGE_STATUS_FENCED ? ", FENCED" : "",
	       st->status_flags & FTPAGE_STATUS_ATTACHED ? ", attached" : "",
	       st->status_flags & FTPAGE_STATUS_INSECURE ?
	       ", INSECURE (peer not authenticated)" : "",
	       st->status_flags & FTPAGE_STATUS_ENCRYPTED ? ", encrypted" : "",
	       st->lease_left_ms);
	printf("  errors %llu, last error: %s\n", U(st->errors),
	       NAME_OF(ferr_names, st->last_error));
}

static int status_final(const struct ftpage_status *st)
{
	return st->state == FTPAGE_STATE_COMPLETE || st->state == FTPAGE_STATE_DONE ||
	       st->state == FTPAGE_STATE_DEAD || st->state == FTPAGE_STATE_ROLLED_BACK ||
	       st->state == FTPAGE_STATE_ABANDONED;
}

static void get_status(int fd, const char *name, struct ftpage_status *st)
{
	memset(st, 0, sizeof(*st));
	st->name = (uintptr_t)name;
	if (ioctl(fd, FTPAGE_IOC_STATUS, st))
		die("status %s", name, errno);
}

/*
 * Wait until the migration ended on this side (poll() on the region node
 * reports POLLPRI: rolled back, abandoned, done or destroyed).
 */
static int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_status st;
	struct pollfd pfd = { .events = POLLPRI };
	char path[sizeof(FTPAGE_DEV_DIR) + FTPAGE_NAME_MAX + 1];
	int opt, timeout_ms = -1, ctl, ret;
	const char *name;

	while ((opt = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (opt != 't')
			return 2;
		timeout_ms = atoi(optarg) * 1000;
	}
	if (optind != argc - 1)
		die("usage: wait NAME [--timeout SEC]%s", "", 0);
	name = argv[optind];
	snprintf(path, sizeof(path), "%s/%s", FTPAGE_DEV_DIR, name);
	pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0)
		die("open %s", path, errno);
	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		die("poll %s", path, errno);
	ctl = ctl_open(NULL);
	get_status(ctl, name, &st);
	printf("%s\n", NAME_OF(state_names, st.state));
	close(ctl);
	close(pfd.fd);
	return ret ? 0 : 1;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_status st;
	int opt, json = 0, watch = 0, fd;
	const char *name;

	while ((opt = getopt_long(argc, argv, "jw", opts, NULL)) != -1) {
		if (opt == 'j')
			json = 1;
		else if (opt == 'w')
			watch = 1;
		else
			return 2;
	}
	if (optind != argc - 1)
		die("usage: status NAME [--json] [--watch]%s", "", 0);
	name = argv[optind];
	fd = ctl_open(NULL);
	for (;;) {
		get_status(fd, name, &st);
		if (watch && !json)
			printf("\033[H\033[J");
		if (json)
			print_status_json(name, &st);
		else
			print_status_human(name, &st);
		fflush(stdout);
		if (!watch || status_final(&st))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 500000000 }, NULL);
	}
	close(fd);
	return 0;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "version", cmd_version, "version" },
	{ "create", cmd_create, "create NAME --size SIZE [--role source|dest]" },
	{ "destroy", cmd_destroy, "destroy NAME" },
	{ "serve", cmd_serve, "serve NAME --listen ADDR:PORT (--key-file FILE [--encrypt] | --insecure) [--allow ADDR] [--no-push]" },
	{ "pull", cmd_pull, "pull NAME --from ADDR:PORT (--key-file FILE [--encrypt] | --insecure) [--source-name NAME]" },
	{ "freeze", cmd_freeze, "freeze NAME" },
	{ "status", cmd_status, "status NAME [--json] [--watch]" },
	{ "commit", cmd_commit, "commit NAME [--state FILE] [--wait]" },
	{ "rollback", cmd_rollback, "rollback NAME" },
	{ "done", cmd_done, "done NAME" },
	{ "wait", cmd_wait, "wait NAME [--timeout SEC]" },
	{ "checkpoint", cmd_checkpoint, "checkpoint NAME --out FILE" },
	{ "migrate", cmd_migrate, "migrate --qmp SOCKET (--listen|--from) ADDR[:PORT] (--key-file FILE | --insecure) [options]" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n", prog, commands[i].usage);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr);
	return 2;
}
