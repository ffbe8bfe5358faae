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
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ftpage.h>

static const char *prog = "ftpagectl";

static void die(const char *fmt, const char *arg, int err)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* Open the control node and do the API handshake; returns the fd. */
static int ctl_open(struct ftpage_api *api_out)
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

static const char *const role_names[] = {
	[FTPAGE_ROLE_SOURCE] = "source",
	[FTPAGE_ROLE_DEST] = "dest",
};

static const char *const state_names[] = {
	[FTPAGE_STATE_LOCAL] = "local",
	[FTPAGE_STATE_FROZEN] = "frozen",
	[FTPAGE_STATE_EMPTY] = "empty",
	[FTPAGE_STATE_DEAD] = "dead",
};

#define NAME_OF(tbl, i) \
	((i) < sizeof(tbl) / sizeof(tbl[0]) && tbl[i] ? tbl[i] : "unknown")

static void print_status_json(const char *name, const struct ftpage_status *st)
{
	printf("{\"name\":\"%s\",\"role\":\"%s\",\"state\":\"%s\","
	       "\"size\":%" PRIu64 ",\"pages_total\":%" PRIu64 ","
	       "\"pages_present\":%" PRIu64 ",\"openers\":%u,"
	       "\"faults\":%" PRIu64 ",\"write_faults\":%" PRIu64 ","
	       "\"zero_fills\":%" PRIu64 ",\"refused_writes\":%" PRIu64 ","
	       "\"errors\":%" PRIu64 "}\n",
	       name, NAME_OF(role_names, st->role), NAME_OF(state_names, st->state),
	       (uint64_t)st->size, (uint64_t)st->pages_total,
	       (uint64_t)st->pages_present, st->openers, (uint64_t)st->faults,
	       (uint64_t)st->write_faults, (uint64_t)st->zero_fills,
	       (uint64_t)st->refused_writes, (uint64_t)st->errors);
}

static void print_status_human(const char *name, const struct ftpage_status *st)
{
	const int width = 40;
	int filled = st->pages_total ?
		(int)(st->pages_present * width / st->pages_total) : 0;

	printf("%s: %s, %s, %" PRIu64 " MiB, %u opener(s)\n", name,
	       NAME_OF(role_names, st->role), NAME_OF(state_names, st->state),
	       (uint64_t)(st->size >> 20), st->openers);
	printf("  [%.*s%*s] %" PRIu64 "/%" PRIu64 " pages local\n", filled,
	       "########################################", width - filled, "",
	       (uint64_t)st->pages_present, (uint64_t)st->pages_total);
	printf("  faults %" PRIu64 ", write faults %" PRIu64 ", zero fills %" PRIu64
	       ", refused writes %" PRIu64 ", errors %" PRIu64 "\n",
	       (uint64_t)st->faults, (uint64_t)st->write_faults,
	       (uint64_t)st->zero_fills, (uint64_t)st->refused_writes,
	       (uint64_t)st->errors);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpage_status st = { 0 };
	int opt, json = 0, ret;

	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return 2;
		json = 1;
	}
	if (optind != argc - 1)
		die("usage: status NAME [--json]%s", "", 0);
	st.name = (uintptr_t)argv[optind];
	ret = ctl_call(FTPAGE_IOC_STATUS, &st, "status", argv[optind]);
	if (ret)
		return ret;
	if (json)
		print_status_json(argv[optind], &st);
	else
		print_status_human(argv[optind], &st);
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
	{ "freeze", cmd_freeze, "freeze NAME" },
	{ "status", cmd_status, "status NAME [--json]" },
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
