// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_local: a KVM guest whose RAM is a local ftpage region.
 *
 * Creates a SOURCE region, maps it as memslot 0 at GPA 0 of a raw-KVM guest
 * with N vCPUs (default 2), lets every vCPU stamp its share of the pages in
 * a scrambled order and read them back, then checks the content from the
 * guest (verify program, including a host-side corruption the guest must
 * see), from another process with its own open+mmap, with pread, and the
 * region's counters; finally tears everything down and destroys the region.
 *
 * Usage: kvm_local [--vcpus N] [--size-mib M] [--seed S] [--timeout SEC]
 *                  [--name NAME] [--sequential] [--anon]
 *   --anon  anonymous memory instead of a region (debugging, baselines);
 *           region-only checks are reported as SKIP.
 *
 * TAP output; exit 0 all passed, 1 a failure, 4 skipped (no /dev/kvm, and
 * the environment variable CI is not "true").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ftpage.h>

#include "kvm_guest.h"
#include "tap.h"

#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define NR_TESTS	10

/* Tests never reached (a prerequisite failed) count as failed. */
static int finish(void)
{
	while (tap_n < NR_TESTS)
		tap_check(false, "not run (an earlier step failed)");
	return tap_finish();
}

/* ---------------------------------------------------------------- */

struct opts {
	unsigned int vcpus;
	uint64_t size;
	uint32_t seed;
	unsigned int timeout_s;
	const char *name;
	bool sequential;
	bool anon;
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--vcpus N] [--size-mib M] [--seed S] "
		"[--timeout SEC] [--name NAME] [--sequential] [--anon]\n",
		prog);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "size-mib", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "name", required_argument, NULL, 'n' },
		{ "sequential", no_argument, NULL, 'q' },
		{ "anon", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long mib;
	int c;

	o->vcpus = 2;
	o->size = 64ull << 20;
	o->seed = 0x5eed1234;
	o->timeout_s = 300;
	o->name = "kvmlocal";
	o->sequential = false;
	o->anon = false;
	while ((c = getopt_long(argc, argv, "c:s:S:t:n:qah", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->vcpus = (unsigned int)strtoul(optarg, NULL, 0);
			if (o->vcpus < 1 || o->vcpus > KG_MAX_VCPUS) {
				fprintf(stderr, "--vcpus: 1..%d\n",
					KG_MAX_VCPUS);
				return -1;
			}
			break;
		case 's':
			mib = strtoull(optarg, NULL, 0);
			if (mib < 1 || (mib << 20) > KG_CODE_GPA) {
				fprintf(stderr, "--size-mib: 1..%llu\n",
					KG_CODE_GPA >> 20);
				return -1;
			}
			o->size = mib << 20;
			break;
		case 'S':
			o->seed = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 't':
			o->timeout_s = (unsigned int)strtoul(optarg, NULL, 0);
			if (!o->timeout_s || o->timeout_s > 4000000) {
				fprintf(stderr, "--timeout: seconds > 0\n");
				return -1;
			}
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'q':
			o->sequential = true;
			break;
		case 'a':
			o->anon = true;
			break;
		case 'h':
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- */

struct ctx {
	struct opts o;
	uint32_t pages;
	int ctl_fd;		/* /dev/ftpage/control */
	int fd;			/* region, used by the VM mapping */
	int fd2;		/* region, second open */
	void *mem;		/* guest RAM (region or anonymous) */
	void *mem2;		/* second mapping of the region */
	bool region_created;
	struct kg_vm *vm;
};

static int ftpage_status(struct ctx *c, struct ftpage_status *st)
{
	memset(st, 0, sizeof(*st));
	st->name = (uintptr_t)c->o.name;
	return ioctl(c->ctl_fd, FTPAGE_IOC_STATUS, st);
}

static int ftpage_destroy(struct ctx *c)
{
	struct ftpage_region_ref ref;

	memset(&ref, 0, sizeof(ref));
	ref.name = (uintptr_t)c->o.name;
	return ioctl(c->ctl_fd, FTPAGE_IOC_DESTROY, &ref);
}

static bool setup_region(struct ctx *c)
{
	struct ftpage_api api;
	struct ftpage_create cr;
	char path[64 + FTPAGE_NAME_MAX];
	int ret;

	/* test 2: handshake */
	c->ctl_fd = open(FTPAGE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (c->ctl_fd < 0) {
		tap_diag("open %s: %s (is ftpage.ko loaded?)", FTPAGE_CONTROL_PATH,
		     strerror(errno));
		tap_check(false, "ftpage control API handshake");
		return false;
	}
	memset(&api, 0, sizeof(api));
	api.api = FTPAGE_API;
	api.features = FTPAGE_FEATURE_LOCAL_REGION;
	ret = ioctl(c->ctl_fd, FTPAGE_IOC_API, &api);
	if (ret < 0 || api.api != FTPAGE_API ||
	    !(api.features & FTPAGE_FEATURE_LOCAL_REGION)) {
		tap_diag("FTPAGE_IOC_API: ret %d (%s), api %u, features 0x%llx",
		     ret, ret < 0 ? strerror(errno) : "ok", api.api,
		     (unsigned long long)api.features);
		tap_check(false, "ftpage control API handshake");
		return false;
	}
	tap_diag("ftpage API %u, features 0x%llx, ioctls 0x%llx", api.api,
	     (unsigned long long)api.features, (unsigned long long)api.ioctls);
	tap_check(true, "ftpage control API handshake");

	/* test 3: create, open, map */
	memset(&cr, 0, sizeof(cr));
	cr.name = (uintptr_t)c->o.name;
	cr.size = c->o.size;
	cr.role = FTPAGE_ROLE_SOURCE;
	ret = ioctl(c->ctl_fd, FTPAGE_IOC_CREATE, &cr);
	if (ret < 0 && errno == EEXIST) {
		tap_diag("region '%s' exists (left over from an earlier run?): "
		     "destroying it", c->o.name);
		if (ftpage_destroy(c) < 0)
			tap_diag("FTPAGE_IOC_DESTROY: %s", strerror(errno));
		ret = ioctl(c->ctl_fd, FTPAGE_IOC_CREATE, &cr);
	}
	if (ret < 0) {
		tap_diag("FTPAGE_IOC_CREATE '%s' size %llu: %s", c->o.name,
		     (unsigned long long)c->o.size, strerror(errno));
		tap_check(false, "create, open and map a %llu MiB region",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	c->region_created = true;
	snprintf(path, sizeof(path), "%s/%s", FTPAGE_DEV_DIR, c->o.name);
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		tap_diag("open %s: %s", path, strerror(errno));
		tap_check(false, "create, open and map a %llu MiB region",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	c->mem = mmap(NULL, c->o.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      c->fd, 0);
	if (c->mem == MAP_FAILED) {
		tap_diag("mmap %s MAP_SHARED %llu bytes: %s", path,
		     (unsigned long long)c->o.size, strerror(errno));
		tap_check(false, "create, open and map a %llu MiB region",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	/* second open + separate mapping, for host-side checks */
	c->fd2 = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd2 < 0) {
		tap_diag("second open %s: %s", path, strerror(errno));
		tap_check(false, "create, open and map a %llu MiB region",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	c->mem2 = mmap(NULL, c->o.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->fd2, 0);
	if (c->mem2 == MAP_FAILED) {
		tap_diag("second mmap %s: %s", path, strerror(errno));
		tap_check(false, "create, open and map a %llu MiB region",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	tap_check(true, "create, open and map a %llu MiB region",
		   (unsigned long long)(c->o.size >> 20));
	return true;
}

static bool setup_anon(struct ctx *c)
{
	tap_skip("ftpage control API handshake", "--anon");
	c->mem = mmap(NULL, c->o.size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->mem == MAP_FAILED) {
		tap_diag("mmap anonymous %llu bytes: %s",
		     (unsigned long long)c->o.size, strerror(errno));
		tap_check(false, "map %llu MiB of anonymous memory",
			   (unsigned long long)(c->o.size >> 20));
		return false;
	}
	c->mem2 = c->mem;	/* no second view of anonymous memory */
	tap_check(true, "map %llu MiB of anonymous memory",
		   (unsigned long long)(c->o.size >> 20));
	return true;
}

static void report_vcpu_errors(struct kg_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].state == KG_VCPU_FAILED)
			tap_diag("%s", vm->vcpus[i].err);
}

/* Run program prog on every vCPU with args[]; returns false on any error. */
static bool run_all(struct ctx *c, enum kg_prog prog,
		    const struct kg_args *args, double *secs)
{
	unsigned int i;
	uint64_t t0;
	int ret;

	for (i = 0; i < c->o.vcpus; i++) {
		if (kg_vcpu_setup(c->vm, i, prog, &args[i])) {
			tap_diag("%s", c->vm->err);
			return false;
		}
	}
	t0 = kg_now_ns();
	ret = kg_vm_run(c->vm, c->o.timeout_s * 1000u);
	if (secs)
		*secs = (double)(kg_now_ns() - t0) / 1e9;
	if (ret) {
		report_vcpu_errors(c->vm);
		if (ret == -2) {
			printf("Bail out! a vCPU is stuck in KVM_RUN\n");
			fflush(stdout);
			_exit(KSFT_FAIL);
		}
		return false;
	}
	return true;
}

/* Host-side check in a child process with its own open + mmap. */
struct child_report {
	uint64_t checked;
	uint64_t mismatches;
	int64_t first_bad;
	int err;
	char where[128];
};

static void host_verify_child(struct ctx *c, int wfd)
{
	struct child_report r;
	char path[64 + FTPAGE_NAME_MAX];
	const uint8_t *m = c->mem;	/* anon: the inherited copy */
	int fd = -1;
	uint32_t p;

	memset(&r, 0, sizeof(r));
	r.first_bad = -1;
	if (!c->o.anon) {
		snprintf(path, sizeof(path), "%s/%s", FTPAGE_DEV_DIR,
			 c->o.name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r.err = errno;
			snprintf(r.where, sizeof(r.where), "open %s", path);
			goto out;
		}
		m = mmap(NULL, c->o.size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			r.err = errno;
			snprintf(r.where, sizeof(r.where), "mmap PROT_READ");
			goto out;
		}
	}
	for (p = 0; p < c->pages; p++) {
		r.checked++;
		if (!kg_pattern_check(m + (size_t)p * KG_PAGE_SIZE, p,
				      c->o.seed)) {
			if (r.first_bad < 0)
				r.first_bad = p;
			r.mismatches++;
		}
	}
	if (!c->o.anon) {
		munmap((void *)m, c->o.size);
		close(fd);
	}
out:
	if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(2);
	_exit(0);
}

static bool host_verify(struct ctx *c)
{
	struct child_report r;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;
	uint64_t t0 = kg_now_ns();

	if (pipe(pfd)) {
		tap_diag("pipe: %s", strerror(errno));
		return false;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		tap_diag("fork: %s", strerror(errno));
		return false;
	}
	if (!pid) {
		close(pfd[0]);
		host_verify_child(c, pfd[1]);
	}
	close(pfd[1]);
	n = read(pfd[0], &r, sizeof(r));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (n != (ssize_t)sizeof(r) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		tap_diag("host checker process died (status 0x%x)", status);
		return false;
	}
	if (r.err) {
		tap_diag("host checker: %s: %s", r.where, strerror(r.err));
		return false;
	}
	tap_diag("host process (own %s): %llu pages checked in %.3f s, "
	     "%llu mismatching%s", c->o.anon ? "fork-inherited mapping" :
	     "open + mmap", (unsigned long long)r.checked,
	     (double)(kg_now_ns() - t0) / 1e9,
	     (unsigned long long)r.mismatches,
	     r.first_bad >= 0 ? " (first below)" : "");
	if (r.first_bad >= 0)
		tap_diag("first mismatching page: %lld", (long long)r.first_bad);
	return r.checked == c->pages && !r.mismatches;
}

static bool pread_verify(struct ctx *c)
{
	uint32_t pick[8], i, bad = 0;
	static uint8_t buf[KG_PAGE_SIZE];

	pick[0] = 0;
	pick[1] = 1;
	pick[2] = c->pages - 1;
	pick[3] = c->pages / 2;
	pick[4] = c->pages / 2 - 1;
	for (i = 5; i < 8; i++)
		pick[i] = (c->o.seed * (i + 1) * 2654435761u) % c->pages;
	for (i = 0; i < 8; i++) {
		uint32_t p = pick[i];
		ssize_t n = pread(c->fd2, buf, sizeof(buf),
				  (off_t)p * KG_PAGE_SIZE);

		if (n != (ssize_t)sizeof(buf)) {
			tap_diag("pread page %u: %zd (%s)", p, n,
			     n < 0 ? strerror(errno) : "short read");
			bad++;
		} else if (!kg_pattern_check(buf, p, c->o.seed)) {
			tap_diag("pread page %u: content differs from the pattern",
			     p);
			bad++;
		}
	}
	return !bad;
}

static bool check_status(struct ctx *c)
{
	struct ftpage_status st;
	bool ok = true;

	if (ftpage_status(c, &st) < 0) {
		tap_diag("FTPAGE_IOC_STATUS: %s", strerror(errno));
		return false;
	}
	tap_diag("status: role %u state %u openers %u size %llu pages_total %llu "
	     "pages_present %llu faults %llu write_faults %llu zero_fills "
	     "%llu refused_writes %llu errors %llu", st.role, st.state,
	     st.openers, (unsigned long long)st.size,
	     (unsigned long long)st.pages_total,
	     (unsigned long long)st.pages_present,
	     (unsigned long long)st.faults,
	     (unsigned long long)st.write_faults,
	     (unsigned long long)st.zero_fills,
	     (unsigned long long)st.refused_writes,
	     (unsigned long long)st.errors);
#define EXPECT(cond) do {						\
		if (!(cond)) {						\
			tap_diag("expected " #cond);			\
			ok = false;					\
		}							\
	} while (0)
	EXPECT(st.role == FTPAGE_ROLE_SOURCE);
	EXPECT(st.state == FTPAGE_STATE_LOCAL);
	EXPECT(st.size == c->o.size);
	EXPECT(st.pages_total == c->pages);
	EXPECT(st.pages_present == st.pages_total);
	EXPECT(st.zero_fills == st.pages_total);
	EXPECT(st.errors == 0);
	EXPECT(st.refused_writes == 0);
	EXPECT(st.openers >= 2);
#undef EXPECT
	return ok;
}

/* ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct ctx c;
	struct kg_args args[KG_MAX_VCPUS], vargs[KG_MAX_VCPUS];
	char err[256];
	const char *ci = getenv("CI");
	bool in_ci = ci && !strcmp(ci, "true");
	unsigned int i;
	double secs;
	int ret;

	memset(&c, 0, sizeof(c));
	c.ctl_fd = c.fd = c.fd2 = -1;
	c.mem = c.mem2 = MAP_FAILED;
	if (parse_opts(argc, argv, &c.o)) {
		usage(argv[0]);
		return 2;
	}
	c.pages = (uint32_t)(c.o.size / KG_PAGE_SIZE);
	if (c.o.vcpus > c.pages)
		c.o.vcpus = c.pages;
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("TAP version 13\n");

	/* test 1: /dev/kvm */
	ret = kg_kvm_available(err, sizeof(err));
	if (ret) {
		if (!in_ci && (ret == -ENOENT || ret == -ENODEV ||
			       ret == -ENXIO)) {
			printf("1..0 # SKIP %s (no KVM here; set CI=true to "
			       "make this a failure)\n", err);
			return KSFT_SKIP;
		}
		printf("1..%d\n", NR_TESTS);
		tap_diag("%s", err);
		tap_check(false, "open /dev/kvm");
		return finish();
	}
	printf("1..%d\n", NR_TESTS);
	tap_diag("%u vCPUs, %llu MiB (%u pages), seed 0x%08x, %s order, %s, "
	     "timeout %u s", c.o.vcpus, (unsigned long long)(c.o.size >> 20),
	     c.pages, c.o.seed, c.o.sequential ? "sequential" : "scrambled",
	     c.o.anon ? "anonymous memory" : "ftpage region",
	     c.o.timeout_s);
	tap_check(true, "open /dev/kvm (API version %d)", KVM_API_VERSION);

	/* tests 2, 3 */
	if (!(c.o.anon ? setup_anon(&c) : setup_region(&c)))
		goto teardown;

	/* test 4: VM */
	c.vm = kg_vm_create(c.o.vcpus, err, sizeof(err));
	if (!c.vm) {
		tap_diag("%s", err);
		tap_check(false, "create a VM with %u vCPUs, RAM at GPA 0",
			   c.o.vcpus);
		goto teardown;
	}
	if (kg_vm_add_memslot(c.vm, 0, 0, c.mem, c.o.size)) {
		tap_diag("%s", c.vm->err);
		tap_check(false, "create a VM with %u vCPUs, RAM at GPA 0",
			   c.o.vcpus);
		goto teardown;
	}
	tap_check(true, "create a VM with %u vCPUs, RAM at GPA 0",
		   c.o.vcpus);

	/* test 5: stamp */
	kg_split_range(args, c.o.vcpus, 0, c.pages, c.o.seed,
		       !c.o.sequential);
	for (i = 0; i < c.o.vcpus; i++)
		tap_diag("vCPU %u: pages %u..%u, stride %u, start %u", i,
		     args[i].first, args[i].first + args[i].count - 1,
		     args[i].stride, args[i].start);
	if (!run_all(&c, KG_PROG_STAMP, args, &secs)) {
		tap_check(false, "guest stamps every page and reads it back");
		goto teardown;
	} else {
		bool ok = true;

		for (i = 0; i < c.o.vcpus; i++) {
			struct kg_vcpu *v = &c.vm->vcpus[i];
			uint32_t want = kg_pattern_range_sum(&args[i]);

			tap_diag("vCPU %u: %u pages in %.3f s (%.0f pages/s), "
			     "%llu exits, sum 0x%08x, expected 0x%08x", i,
			     args[i].count, kg_vcpu_seconds(v),
			     kg_vcpu_seconds(v) > 0 ? args[i].count /
			     kg_vcpu_seconds(v) : 0.0,
			     (unsigned long long)v->exits, v->result, want);
			if (v->result != want)
				ok = false;
		}
		tap_diag("guest stamp run: %u pages in %.3f s, %.0f pages/s "
		     "(%.1f MiB/s written and re-read)", c.pages, secs,
		     secs > 0 ? c.pages / secs : 0.0,
		     secs > 0 ? (double)c.o.size / (1 << 20) / secs : 0.0);
		tap_check(ok, "guest stamps every page and reads it back "
			   "(%u vCPUs, sums match the model)", c.o.vcpus);
	}

	/* test 6: guest verify, a host-side change seen by the guest */
	{
		bool ok = true;
		uint32_t victim = c.pages - 1 - c.pages / 3;
		volatile uint32_t *w = (volatile uint32_t *)
			((uint8_t *)c.mem2 + (size_t)victim * KG_PAGE_SIZE);
		uint32_t save, mism, first;

		/* a different order than the stamp run */
		kg_split_range(vargs, c.o.vcpus, 0, c.pages, c.o.seed,
			       c.o.sequential);
		for (i = 0; i < 3 && ok; i++) {
			unsigned int k;

			if (i == 1) {
				save = w[77];
				w[77] = save ^ 0x00100000;
			}
			if (!run_all(&c, KG_PROG_VERIFY, vargs, &secs)) {
				ok = false;
				break;
			}
			mism = 0;
			first = 0xffffffff;
			for (k = 0; k < c.o.vcpus; k++) {
				mism += c.vm->vcpus[k].result;
				if (first == 0xffffffff)
					first = (uint32_t)c.vm->vcpus[k].
						regs.rbx;
			}
			if (i == 1) {
				w[77] = save;
				tap_diag("guest verify after a host write to page "
				     "%u: %u mismatching, first %d", victim,
				     mism, (int)first);
				if (mism != 1 || first != victim)
					ok = false;
			} else {
				tap_diag("guest verify run %u: %u mismatching "
				     "pages%s, %.3f s", i, mism,
				     mism ? "" : " (want 0)", secs);
				if (mism)
					ok = false;
			}
		}
		tap_check(ok, "guest verify: 0 bad pages, sees a host write "
			   "through %s", c.o.anon ? "the same mapping" :
			   "a second mapping");
	}

	/* test 7: host process, own mapping */
	tap_check(host_verify(&c), "host process sees the guest's pattern "
		   "in every page");

	/* tests 8, 9 */
	if (c.o.anon) {
		tap_skip("pread of sampled pages matches", "--anon");
		tap_skip("region counters: every page present, zero-filled "
			 "once", "--anon");
	} else {
		tap_check(pread_verify(&c), "pread of sampled pages matches");
		tap_check(check_status(&c), "region counters: every page "
			   "present, zero-filled once");
	}

teardown:
	/* test 10 (cleanup happens even when an earlier step failed) */
	{
		bool ok = true, reached = tap_n >= 9;

		kg_vm_destroy(c.vm);
		c.vm = NULL;
		if (c.mem != MAP_FAILED && munmap(c.mem, c.o.size)) {
			tap_diag("munmap: %s", strerror(errno));
			ok = false;
		}
		if (!c.o.anon && c.mem2 != MAP_FAILED &&
		    munmap(c.mem2, c.o.size)) {
			tap_diag("munmap (second mapping): %s", strerror(errno));
			ok = false;
		}
		if ((c.fd >= 0 && close(c.fd)) || (c.fd2 >= 0 && close(c.fd2))) {
			tap_diag("close: %s", strerror(errno));
			ok = false;
		}
		if (c.region_created && ftpage_destroy(&c) < 0) {
			tap_diag("FTPAGE_IOC_DESTROY with nothing open: %s",
			     strerror(errno));
			ok = false;
		} else if (c.region_created) {
			struct ftpage_status st;
			char path[64 + FTPAGE_NAME_MAX];

			if (ftpage_status(&c, &st) == 0) {
				tap_diag("region still known after destroy (state "
				     "%u, openers %u)", st.state, st.openers);
				ok = false;
			} else {
				tap_diag("STATUS after destroy: %s (expected)",
				     strerror(errno));
			}
			snprintf(path, sizeof(path), "%s/%s", FTPAGE_DEV_DIR,
				 c.o.name);
			if (access(path, F_OK) == 0)
				tap_diag("note: %s still exists after destroy",
				     path);
		}
		if (c.ctl_fd >= 0)
			close(c.ctl_fd);
		if (reached)
			tap_check(ok, c.o.anon ? "teardown: destroy the VM, "
				   "unmap" : "teardown: destroy the VM, unmap, "
				   "close, destroy the region");
	}
	return finish();
}
