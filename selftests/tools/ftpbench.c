// SPDX-License-Identifier: GPL-2.0
/*
 * ftpbench - ftpage's fault path side by side with the userfaultfd pager of
 * QEMU post-copy and with the wire, in one run (a tool, run by `make bench`
 * and, with --smoke, by the bench_smoke test; topology pair: it sets up
 * netns ftpa (source) and ftpb (destination) itself, module loaded).
 *
 *   ftpbench [--smoke] [--no-pin] [--mib N] [--push-mib N] [--samples N]
 *
 * Everything runs on CPU 0 of the test VM unless --no-pin (pin_cpu0()).
 *
 * 1. wire: userspace TCP ping-pong between the namespaces, 32-byte request,
 *    4 KiB reply, TCP_NODELAY: the floor of any remote fault.
 * 2. ftpage: a raw-KVM guest (1, 2, 4 vCPUs) reads dword 0 of every page of
 *    an N MiB destination region (sequential, random order) served with
 *    FTPAGE_SERVE_NO_PUSH: pure demand faults. Latency from the guest (rdtsc
 *    around each access) and from the module's histogram (request to
 *    arrival), pages per second.
 * 3. userfaultfd: the same guest on anonymous memory registered with
 *    userfaultfd (missing mode), a pool of handler threads, each with its
 *    own TCP_NODELAY connection to a userspace page server in ftpa that
 *    send()s straight from its memory; the handler recv()s into one
 *    buffer and UFFDIO_COPYs it. Latency from the guest and from the
 *    handler (message read to UFFDIO_COPY done).
 * 4. push: ftpage's background push of a frozen region against a raw TCP
 *    stream of the same size on the same veth.
 * 5. local: guest writes to a never-written source region (zero-filled
 *    pages) against anonymous memory (THP off: 4 KiB pages both).
 *
 * Prints TAP (checks of sanity and content only, never of timings), the
 * table, goals with their ratios, and the files bench.json, bench.txt and
 * bench.gp (gnuplot script with the latency CDFs inline) on stdout between
 * "@@FTPAGE-BENCH-FILE <name>@@" and "@@FTPAGE-BENCH-END@@" lines, which
 * vm/bench_out.sh extracts from the console log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <x86intrin.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ull << 20)
#define PAGE		KG_PAGE_SIZE
#define REQ_BYTES	32
#define BULK_CHUNK	(256u << 10)
#define UFFD_THREADS	4
#define GUEST_TMO_S	240
#define PORT_BASE	7600
#define SEED		0xbe4c0001u
#define MAX_RUNS	32

#define U(x) ((unsigned long long)(x))

/* ---- options, output ------------------------------------------------------ */

static struct {
	bool smoke, no_pin;
	unsigned int mib, push_mib, samples;
	unsigned int vcpus[3], nr_vcpus;
} opt = { .mib = 16, .push_mib = 64, .samples = 2000,
	  .vcpus = { 1, 2, 4 }, .nr_vcpus = 3 };

static int ctl;
static unsigned int next_port = PORT_BASE;
static double tsc_ns;		/* ns per TSC cycle */
static char *txt, *json, *gp;	/* the output files, built in memory */
static size_t txt_len, json_len, gp_len;
static FILE *txt_f, *json_f, *gp_f;

/* A line of the table, bench.txt (printed at the end). */
static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(txt_f, fmt, ap);
	va_end(ap);
}

/* ---- latency distributions ------------------------------------------------- */

/* Histograms in the kvm_guest / module scheme: 8 sub-buckets per power of
 * two, of ns (host) or TSC cycles (guest); unit_ns converts.
 */
struct dist {
	uint64_t b[KG_HIST_BUCKETS];
	uint64_t n;
	double unit_ns;
};

static unsigned int hist_index(uint64_t v)
{
	unsigned int e, i;

	if (v < KG_HIST_SUB)
		return (unsigned int)v;
	e = 63 - (unsigned int)__builtin_clzll(v) - 3;
	i = (e + 1) * KG_HIST_SUB + (unsigned int)((v >> e) & 7);
	return i < KG_HIST_BUCKETS ? i : KG_HIST_BUCKETS - 1;
}

static void dist_add(struct dist *d, uint64_t v)
{
	d->b[hist_index(v)]++;
	d->n++;
}

/* Bucket floor under which permille of the samples fall, in us (as the
 * module's quantiles: floors, under 12.5% low).
 */
static double dist_q_us(const struct dist *d, unsigned int permille)
{
	uint64_t want = (d->n * permille + 999) / 1000, seen = 0;
	unsigned int i;

	if (!d->n)
		return 0;
	for (i = 0; i < KG_HIST_BUCKETS; i++) {
		seen += d->b[i];
		if (seen >= want)
			break;
	}
	if (i == KG_HIST_BUCKETS)
		i--;
	return (double)kg_hist_floor(i) * d->unit_ns / 1000.0;
}

/* A CDF as an inline gnuplot datablock $name: "us fraction" per bucket. */
static void dist_gp_block(const struct dist *d, const char *name)
{
	uint64_t seen = 0;
	unsigned int i;

	fprintf(gp_f, "$%s << EOD\n", name);
	for (i = 0; i < KG_HIST_BUCKETS && d->n; i++) {
		if (!d->b[i])
			continue;
		seen += d->b[i];
		fprintf(gp_f, "%.3f %.5f\n",
			(double)kg_hist_floor(i) * d->unit_ns / 1000.0,
			(double)seen / (double)d->n);
	}
	fprintf(gp_f, "EOD\n");
}

static void json_hist(const struct dist *d, const char *key)
{
	unsigned int i;
	bool first = true;

	fprintf(json_f, "\"%s\": [", key);
	for (i = 0; i < KG_HIST_BUCKETS; i++) {
		if (!d->b[i])
			continue;
		fprintf(json_f, "%s[%.3f, %llu]", first ? "" : ", ",
			(double)kg_hist_floor(i) * d->unit_ns / 1000.0,
			U(d->b[i]));
		first = false;
	}
	fprintf(json_f, "]");
}

/*
 * Pinning: under TCG a wakeup across the test VM's vCPUs costs
 * milliseconds (a TCP ping-pong measured 0.26 ms on one CPU, 10 ms across
 * two), an artifact of the emulator that would swamp every figure. Unless
 * --no-pin, the process (and so every thread it starts: guest vCPUs, uffd
 * handlers, the page server) and the module's kernel threads run on CPU 0.
 */
static void pin_cpu0(pid_t pid)
{
	cpu_set_t cs;

	CPU_ZERO(&cs);
	CPU_SET(0, &cs);
	sched_setaffinity(pid, sizeof(cs), &cs);
}

static void pin_kthreads(void)
{
	DIR *d = opt.no_pin ? NULL : opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "ftpage", 6))
			pin_cpu0(atoi(e->d_name));
		fclose(f);
	}
	if (d)
		closedir(d);
}

static void calibrate_tsc(void)
{
	uint64_t t0 = kg_now_ns(), c0 = __rdtsc(), t1, c1;

	ftp_sleep_ms(opt.smoke ? 50 : 200);
	t1 = kg_now_ns();
	c1 = __rdtsc();
	tsc_ns = (double)(t1 - t0) / (double)(c1 - c0);
}

/* ---- userspace page server (ftpa) and its clients (ftpb) ----------------- */

/*
 * Request: 32 bytes, pgoff in the first 8 (little-endian host order);
 * reply: the page, 4096 bytes, sent from the server's memory. pgoff
 * ~0 asks for a bulk stream of len bytes (second word).
 */
struct req {
	uint64_t pgoff;
	uint64_t len;
	uint64_t pad[2];
};
_Static_assert(sizeof(struct req) == REQ_BYTES, "a 32-byte request");

struct psrv {
	int lfd;
	const uint8_t *mem;
	uint64_t pages;
	pthread_t th;
};

struct psrv_conn {
	const struct psrv *s;
	int fd;
};

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void *psrv_conn_thread(void *arg)
{
	struct psrv_conn *c = arg;
	struct req r;

	while (!ftp_recv_all(c->fd, &r, sizeof(r))) {
		if (r.pgoff == ~0ull) {
			uint64_t off = 0, n;

			for (; r.len; r.len -= n, off += n) {
				n = r.len < BULK_CHUNK ? r.len : BULK_CHUNK;
				if (off + n > c->s->pages * PAGE)
					off = 0;
				if (ftp_send_all(c->fd, c->s->mem + off, n))
					break;
			}
			continue;
		}
		if (r.pgoff >= c->s->pages ||
		    ftp_send_all(c->fd, c->s->mem + r.pgoff * PAGE, PAGE))
			break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *psrv_thread(void *arg)
{
	struct psrv *s = arg;

	for (;;) {
		struct psrv_conn *c;
		pthread_t t;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;	/* shut down */
		}
		set_nodelay(fd);
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		if (pthread_create(&t, NULL, psrv_conn_thread, c)) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

static int psrv_start(struct psrv *s, const uint8_t *mem, uint64_t pages,
		      unsigned int port)
{
	s->mem = mem;
	s->pages = pages;
	if (ftp_netns_enter(FTP_PAIR_A_NS))
		return -1;
	s->lfd = ftp_tcp_listen(FTP_PAIR_A_ADDR, port);
	ftp_netns_enter(NULL);
	if (s->lfd < 0)
		return -1;
	if (pthread_create(&s->th, NULL, psrv_thread, s)) {
		close(s->lfd);
		return -1;
	}
	return 0;
}

static void psrv_stop(struct psrv *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* A client socket in ftpb connected to the page server. */
static int psrv_connect(unsigned int port)
{
	int fd;

	if (ftp_netns_enter(FTP_PAIR_B_NS))
		return -1;
	fd = ftp_tcp_connect(FTP_PAIR_A_ADDR, port, 10000);
	ftp_netns_enter(NULL);
	if (fd >= 0)
		set_nodelay(fd);
	return fd;
}

/* One page from the server into buf. */
static int psrv_get(int fd, uint64_t pgoff, void *buf)
{
	struct req r = { .pgoff = pgoff };

	if (ftp_send_all(fd, &r, sizeof(r)))
		return -1;
	return ftp_recv_all(fd, buf, PAGE);
}

/* ---- results -------------------------------------------------------------- */

struct run {
	const char *pager;	/* ftpage, uffd, ftpage-local, anon */
	unsigned int vcpus;
	bool random;
	uint64_t pages;
	double seconds;		/* longest vCPU */
	struct dist guest;	/* guest view, TSC cycles */
	/* pager view: module histogram quantiles, or the uffd handler's */
	double pager_p50_us, pager_p99_us, pager_max_us;
	bool ok;
};

static struct run runs[MAX_RUNS];
static unsigned int nr_runs;
static struct dist wire = { .unit_ns = 1 };
static struct {
	double push_mibs, tcp_mibs, push_s, tcp_s;
	uint64_t bytes_rx;
	bool ok;
} push;

static double pages_per_s(const struct run *r)
{
	return r->seconds > 0 ? (double)r->pages / r->seconds : 0;
}

static struct run *find_run(const char *pager, unsigned int vcpus, bool random)
{
	unsigned int i;

	for (i = 0; i < nr_runs; i++)
		if (!strcmp(runs[i].pager, pager) && runs[i].vcpus == vcpus &&
		    runs[i].random == random && runs[i].ok)
			return &runs[i];
	return NULL;
}

static uint64_t pattern_word0_sum(uint64_t pages)
{
	uint64_t p;
	uint32_t s = 0;

	for (p = 0; p < pages; p++)
		s += kg_pattern_base((uint32_t)p, SEED);
	return s;
}

/*
 * Run the timed program on a fresh guest whose RAM is mem: pages in
 * nr_vcpus ranges, sequential or random. Fills r->guest, r->seconds;
 * checks the guest's checksum (the sum of the dwords it read / wrote).
 */
static bool guest_timed(struct run *r, void *mem, uint64_t size, bool write)
{
	struct kg_args args[4];
	struct kg_vm *vm = ftp_guest_create(mem, size, r->vcpus);
	uint32_t sum = 0;
	unsigned int i, j;
	bool ok;

	r->pages = size / PAGE;
	r->guest.unit_ns = tsc_ns;
	if (!vm)
		return tap_check(false, "%s: KVM guest", r->pager);
	kg_split_range(args, r->vcpus, 0, (uint32_t)r->pages, SEED, r->random);
	pin_kthreads();
	ok = !ftp_guest_run(vm, write ? KG_PROG_TIMED_WRITE : KG_PROG_TIMED_READ,
			    args, GUEST_TMO_S);
	for (i = 0; ok && i < r->vcpus; i++) {
		const uint32_t *h = kg_vcpu_hist(vm, i);
		double s = kg_vcpu_seconds(&vm->vcpus[i]);

		sum += vm->vcpus[i].result;
		for (j = 0; j < KG_HIST_BUCKETS; j++) {
			r->guest.b[j] += h[j];
			r->guest.n += h[j];
		}
		if (s > r->seconds)
			r->seconds = s;
	}
	kg_vm_destroy(vm);
	ok = tap_check(ok && r->guest.n == r->pages &&
		       sum == (uint32_t)pattern_word0_sum(r->pages),
		       "%s %u vCPU %s: guest %s %llu pages, %llu timed, "
		       "checksum %08x", r->pager, r->vcpus,
		       r->random ? "random" : "sequential",
		       write ? "wrote" : "read", U(r->pages), U(r->guest.n),
		       sum);
	return ok;
}

static struct run *new_run(const char *pager, unsigned int vcpus, bool random)
{
	struct run *r = &runs[nr_runs < MAX_RUNS - 1 ? nr_runs++ : nr_runs];

	r->pager = pager;
	r->vcpus = vcpus;
	r->random = random;
	return r;
}

/* ---- 1. the wire ------------------------------------------------------------ */

static void bench_wire(const struct psrv *s, unsigned int port)
{
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	int fd = psrv_connect(port);
	unsigned int i, bad = 0;

	if (!tap_check(fd >= 0 && buf, "wire: connect ftpb -> ftpa:%u", port))
		goto out;
	for (i = 0; i < opt.samples; i++) {
		uint64_t pg = (i * 2654435761u) % s->pages, t0 = kg_now_ns();

		if (psrv_get(fd, pg, buf)) {
			bad = opt.samples;
			break;
		}
		dist_add(&wire, kg_now_ns() - t0);
		bad += !kg_pattern_check(buf, (uint32_t)pg, SEED);
	}
	tap_check(bad == 0 && wire.n == opt.samples,
		  "wire: %llu round trips, %u bad pages", U(wire.n), bad);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* ---- 2. ftpage remote faults ------------------------------------------------ */

static void pair_destroy(const char *src, const char *dst)
{
	ftp_destroy(ctl, dst);
	ftp_destroy(ctl, src);
}

static void bench_ftpage(unsigned int vcpus, bool random)
{
	struct run *r = new_run("ftpage", vcpus, random);
	uint64_t size = opt.mib * MIB, pages = size / PAGE;
	struct ftpage_status st;
	struct ftp_digest d;
	void *mem = MAP_FAILED;
	int fd = -1;

	if (!tap_check(ftp_pair_pull(ctl, "b-src", "b-dst", size, SEED, NULL,
				     next_port++, FTPAGE_SERVE_NO_PUSH, NULL),
		       "ftpage %u vCPU: source served (no push), dest pulls",
		       vcpus))
		goto out;
	mem = ftp_region_map("b-dst", size, &fd);
	if (!tap_check(mem != MAP_FAILED, "map the dest region") ||
	    !guest_timed(r, mem, size, false))
		goto out;
	ftp_status(ctl, "b-dst", &st);
	ftp_status_diag("b-dst", &st);
	r->pager_p50_us = st.fault_lat_p50_ns / 1000.0;
	r->pager_p99_us = st.fault_lat_p99_ns / 1000.0;
	r->pager_max_us = st.fault_lat_max_ns / 1000.0;
	if (!tap_check(st.pages_fetched == pages && st.pages_pushed == 0 &&
		       st.demand_faults >= pages && st.errors == 0 &&
		       st.fault_lat_p50_ns > 0,
		       "module: fetched %llu of %llu pages on demand, pushed "
		       "%llu, errors %llu", U(st.pages_fetched), U(pages),
		       U(st.pages_pushed), U(st.errors)))
		goto out;
	if (ftp_region_digest("b-dst", size, SEED, &d))
		d.pattern_pages = 0;
	r->ok = tap_check(d.pattern_pages == pages,
			  "dest content: %llu of %llu pages hold the pattern",
			  U(d.pattern_pages), U(pages));
out:
	if (mem != MAP_FAILED) {
		munmap(mem, size);
		close(fd);
	}
	pair_destroy("b-src", "b-dst");
}

/* ---- 3. the userfaultfd pager ------------------------------------------- */

struct uffd_pager {
	int uffd, stop[2];
	uint8_t *mem;
	uint64_t size;
	unsigned int nr;
	pthread_t th[UFFD_THREADS];
	int sock[UFFD_THREADS];
	struct dist lat[UFFD_THREADS];	/* message read to copy done, ns */
	uint64_t max_ns[UFFD_THREADS];
	uint64_t faults, eexist, errors;
	pthread_mutex_t lock;
};

struct uffd_worker {
	struct uffd_pager *p;
	unsigned int i;
};

static void *uffd_thread(void *arg)
{
	struct uffd_worker *w = arg;
	struct uffd_pager *p = w->p;
	uint8_t *buf = aligned_alloc(PAGE, PAGE);
	struct pollfd pfd[2] = { { .fd = p->uffd, .events = POLLIN },
				 { .fd = p->stop[0], .events = POLLIN } };
	uint64_t faults = 0, eexist = 0, errors = !buf;

	while (buf) {
		struct uffd_msg msg;
		struct uffdio_copy cp;
		uint64_t t0, addr, ns;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		n = read(p->uffd, &msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		t0 = kg_now_ns();
		if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) {
			errors++;
			continue;
		}
		addr = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		if (psrv_get(p->sock[w->i], (addr - (uintptr_t)p->mem) / PAGE,
			     buf)) {
			errors++;
			break;
		}
		cp = (struct uffdio_copy){ .dst = addr, .src = (uintptr_t)buf,
					   .len = PAGE };
		if (ioctl(p->uffd, UFFDIO_COPY, &cp)) {
			if (errno == EEXIST)
				eexist++;	/* another handler was first */
			else
				errors++;
			continue;
		}
		ns = kg_now_ns() - t0;
		dist_add(&p->lat[w->i], ns);
		if (ns > p->max_ns[w->i])
			p->max_ns[w->i] = ns;
		faults++;
	}
	free(buf);
	pthread_mutex_lock(&p->lock);
	p->faults += faults;
	p->eexist += eexist;
	p->errors += errors;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int uffd_setup(struct uffd_pager *p, unsigned int port)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	unsigned int i;

	p->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (p->uffd < 0 || ioctl(p->uffd, UFFDIO_API, &api)) {
		tap_diag("userfaultfd: %s", strerror(errno));
		return -1;
	}
	p->mem = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->mem == MAP_FAILED)
		return -1;
	madvise(p->mem, p->size, MADV_NOHUGEPAGE);	/* as QEMU postcopy */
	reg.range.start = (uintptr_t)p->mem;
	reg.range.len = p->size;
	if (ioctl(p->uffd, UFFDIO_REGISTER, &reg)) {
		tap_diag("UFFDIO_REGISTER: %s", strerror(errno));
		return -1;
	}
	if (pipe2(p->stop, O_CLOEXEC))
		return -1;
	pthread_mutex_init(&p->lock, NULL);
	for (i = 0; i < p->nr; i++) {
		p->lat[i].unit_ns = 1;
		p->sock[i] = psrv_connect(port);
		if (p->sock[i] < 0)
			return -1;
	}
	return 0;
}

static void bench_uffd(unsigned int vcpus, bool random, unsigned int port)
{
	struct run *r = new_run("uffd", vcpus, random);
	struct uffd_pager p = { .size = opt.mib * MIB, .nr = UFFD_THREADS,
				.uffd = -1, .stop = { -1, -1 },
				.mem = MAP_FAILED };
	struct uffd_worker w[UFFD_THREADS];
	uint64_t pages = p.size / PAGE, pg, bad = 0, max = 0;
	struct dist all = { .unit_ns = 1 };
	unsigned int i, j, started = 0;

	memset(p.sock, -1, sizeof(p.sock));
	if (!tap_check(!uffd_setup(&p, port), "uffd %u vCPU: anonymous memory "
		       "registered (missing), %u handler threads connected",
		       vcpus, p.nr))
		goto out;
	for (i = 0; i < p.nr; i++) {
		w[i] = (struct uffd_worker){ .p = &p, .i = i };
		if (!pthread_create(&p.th[i], NULL, uffd_thread, &w[i]))
			started++;
	}
	if (started == p.nr && guest_timed(r, p.mem, p.size, false)) {
		for (pg = 0; pg < pages; pg++)
			bad += !kg_pattern_check(p.mem + pg * PAGE,
						 (uint32_t)pg, SEED);
		r->ok = tap_check(bad == 0, "uffd memory: %llu of %llu pages "
				  "hold the pattern", U(pages - bad), U(pages));
	}
	if (write(p.stop[1], "x", 1) != 1)
		tap_diag("stop pipe: %s", strerror(errno));
	for (i = 0; i < started; i++) {
		pthread_join(p.th[i], NULL);
		for (j = 0; j < KG_HIST_BUCKETS; j++)
			all.b[j] += p.lat[i].b[j];
		all.n += p.lat[i].n;
		if (p.max_ns[i] > max)
			max = p.max_ns[i];
	}
	r->pager_p50_us = dist_q_us(&all, 500);
	r->pager_p99_us = dist_q_us(&all, 990);
	r->pager_max_us = max / 1000.0;
	if (started)
		r->ok &= tap_check(p.faults == pages && !p.errors,
				   "uffd handlers: %llu faults served for %llu "
				   "pages, %llu races, %llu errors",
				   U(p.faults), U(pages), U(p.eexist),
				   U(p.errors));
out:
	for (i = 0; i < UFFD_THREADS; i++)
		if (p.sock[i] >= 0)
			close(p.sock[i]);
	if (p.stop[0] >= 0) {
		close(p.stop[0]);
		close(p.stop[1]);
	}
	if (p.mem != MAP_FAILED)
		munmap(p.mem, p.size);
	if (p.uffd >= 0)
		close(p.uffd);
}

/* ---- 4. push against raw TCP ------------------------------------------------ */

static void bench_push(unsigned int port)
{
	uint64_t size = opt.push_mib * MIB, t0, t1, got = 0;
	uint8_t *buf = malloc(BULK_CHUNK);
	struct ftpage_status st = { 0 };
	struct req rq = { .pgoff = ~0ull, .len = size };
	uint64_t first;
	unsigned int i;
	int fd = -1;
	bool ok;

	/* raw TCP: the page server streams size bytes to a client in ftpb */
	fd = psrv_connect(port);
	ok = fd >= 0 && buf;
	t0 = kg_now_ns();
	if (ok && ftp_send_all(fd, &rq, sizeof(rq)))
		ok = false;
	while (ok && got < size) {
		ssize_t n = recv(fd, buf, BULK_CHUNK, 0);

		if (n <= 0)
			ok = false;
		else
			got += (uint64_t)n;
	}
	t1 = kg_now_ns();
	if (fd >= 0)
		close(fd);
	free(buf);
	push.tcp_s = (t1 - t0) / 1e9;
	push.tcp_mibs = ok ? size / (double)MIB / push.tcp_s : 0;
	if (!tap_check(ok, "raw TCP: %llu MiB ftpa -> ftpb in %.3f s",
		       U(opt.push_mib), push.tcp_s))
		return;

	/*
	 * ftpage: pull a frozen region, nobody touches it: all pushed. The
	 * rate counts the pages pushed after the first look (the push may
	 * have started before the pull returned).
	 */
	if (!tap_check(ftp_pair_pull(ctl, "p-src", "p-dst", size, SEED, NULL,
				     next_port++, 0, NULL),
		       "push: source served, dest pulls %llu MiB",
		       U(opt.push_mib)))
		goto out;
	t0 = kg_now_ns();
	if (ftp_status(ctl, "p-dst", &st))
		goto out;
	first = st.pages_pushed;
	for (i = 0;; i++) {
		if (i < 10)	/* the source's connection threads start late */
			pin_kthreads();
		if (ftp_status(ctl, "p-dst", &st))
			break;
		t1 = kg_now_ns();
		if (st.state != FTPAGE_STATE_PULLING ||
		    t1 - t0 > GUEST_TMO_S * 1000000000ull)
			break;
		ftp_sleep_ms(2);
	}
	ftp_status_diag("p-dst", &st);
	push.push_s = (t1 - t0) / 1e9;
	push.push_mibs = (double)(st.pages_pushed - first) * PAGE / MIB /
			 push.push_s;
	push.bytes_rx = st.bytes_rx;
	push.ok = tap_check(st.state == FTPAGE_STATE_COMPLETE &&
			    st.pages_pushed == size / PAGE && !st.errors,
			    "push: dest complete in %.3f s, %llu pages pushed",
			    push.push_s, U(st.pages_pushed));
out:
	pair_destroy("p-src", "p-dst");
}

/* ---- 5. local faults -------------------------------------------------------- */

static void bench_local(void)
{
	uint64_t size = opt.mib * MIB, pages = size / PAGE, pg, bad = 0;
	struct run *r = new_run("ftpage-local", 1, false);
	struct ftpage_status st;
	uint32_t *m;
	void *mem;
	int fd;

	if (!tap_call(ftp_create(ctl, "b-local", size, FTPAGE_ROLE_SOURCE),
		      "create a local source region"))
		return;
	mem = ftp_region_map("b-local", size, &fd);
	if (tap_check(mem != MAP_FAILED, "map it") &&
	    guest_timed(r, mem, size, true)) {
		ftp_status(ctl, "b-local", &st);
		r->ok = tap_check(st.zero_fills == pages,
				  "region: %llu zero-filled pages for %llu",
				  U(st.zero_fills), U(pages));
	}
	if (mem != MAP_FAILED) {
		munmap(mem, size);
		close(fd);
	}
	ftp_destroy(ctl, "b-local");

	r = new_run("anon", 1, false);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!tap_check(mem != MAP_FAILED, "anonymous memory"))
		return;
	madvise(mem, size, MADV_NOHUGEPAGE);
	if (guest_timed(r, mem, size, true)) {
		for (pg = 0, m = mem; pg < pages; pg++, m += PAGE / 4)
			bad += m[0] != kg_pattern_base((uint32_t)pg, SEED) ||
			       m[1] != 0;
		r->ok = tap_check(!bad, "anon: %llu pages written as expected",
				  U(pages - bad));
	}
	munmap(mem, size);
}

/* ---- report ----------------------------------------------------------------- */

static void run_json(const struct run *r, bool last)
{
	fprintf(json_f, "    {\"pager\": \"%s\", \"vcpus\": %u, \"order\": "
		"\"%s\", \"pages\": %llu, \"seconds\": %.6f, "
		"\"pages_per_s\": %.1f, \"guest_p50_us\": %.3f, "
		"\"guest_p99_us\": %.3f, \"pager_p50_us\": %.3f, "
		"\"pager_p99_us\": %.3f, \"pager_max_us\": %.3f, \"ok\": %s,\n"
		"     ", r->pager, r->vcpus,
		r->random ? "random" : "sequential", U(r->pages), r->seconds,
		pages_per_s(r), dist_q_us(&r->guest, 500),
		dist_q_us(&r->guest, 990), r->pager_p50_us, r->pager_p99_us,
		r->pager_max_us, r->ok ? "true" : "false");
	json_hist(&r->guest, "guest_hist_us");
	fprintf(json_f, "}%s\n", last ? "" : ",");
}

static void run_row(const struct run *r, bool pager)
{
	out("  %-13s %5u  %-10s %7llu %10.0f %10.1f %10.1f", r->pager,
	    r->vcpus, r->random ? "random" : "sequential", U(r->pages),
	    pages_per_s(r), dist_q_us(&r->guest, 500),
	    dist_q_us(&r->guest, 990));
	if (pager)
		out(" %10.1f %10.1f", r->pager_p50_us, r->pager_p99_us);
	out("%s\n", r->ok ? "" : "  (FAILED)");
}

/* One goal line: "<what> <value> goal <op> <limit> met / NOT met". */
static void goal(const char *what, double v, bool le, double limit)
{
	static unsigned int n;
	bool have = v > 0, met = have && (le ? v <= limit : v >= limit);

	out("  %-52s %8.2f  goal %s %-5.2f %s\n", what, v, le ? "<=" : ">=",
	    limit, !have ? "n/a" : met ? "met" : "NOT met");
	fprintf(json_f, "%s    {\"goal\": \"%s\", \"value\": %.4f, "
		"\"limit\": \"%s %.2f\", \"met\": %s}", n++ ? ",\n" : "",
		what, v, le ? "<=" : ">=", limit, met ? "true" : "false");
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static double ratio(double a, double b)
{
	return a > 0 && b > 0 ? a / b : 0;
}

static void report(const char *kernel, const char *cpu, unsigned int ncpu)
{
	struct run *f1 = find_run("ftpage", 1, false);
	struct run *u1 = find_run("uffd", 1, false);
	struct run *loc = find_run("ftpage-local", 1, false);
	struct run *anon = find_run("anon", 1, false);
	double worst50 = 0, worst99 = 0, push_pct;
	unsigned int i;

	out("\nftpage bench: kernel %s, %u CPUs (%s), under TCG (QEMU, no "
	    "host KVM) with nested KVM guests; %u MiB per guest run, %s.\n",
	    kernel, ncpu, cpu, opt.mib, opt.smoke ? "SMOKE (tiny sizes)" :
	    "full run");
	out("Absolute times under TCG mean little; ratios within one run "
	    "do. Latencies are\nhistogram bucket floors (8 per power of two, "
	    "< 12.5%% low), in microseconds.\n");
	out("%s\n\n", opt.no_pin ? "Not pinned (--no-pin): wakeups across "
	    "the VM's CPUs cost milliseconds under TCG." :
	    "All of it on CPU 0 of the VM (bench, guest vCPUs, uffd handlers, "
	    "page server, ftpage's\nkernel threads): under TCG a wakeup across "
	    "the VM's CPUs costs milliseconds.");
	out("1. wire: TCP round trip, 32-byte request / 4 KiB reply, "
	    "userspace ping-pong with\n   TCP_NODELAY between netns ftpb and "
	    "ftpa over veth (the floor; kernel TCP, userspace ends)\n");
	out("   %llu round trips: p50 %.1f us, p99 %.1f us\n\n", U(wire.n),
	    dist_q_us(&wire, 500), dist_q_us(&wire, 990));
	out("2./3. remote faults: KVM guest reads dword 0 of every page; "
	    "guest = rdtsc around the\n   access; pager = ftpage module "
	    "histogram (request to arrival) / uffd handler\n   (message read "
	    "to UFFDIO_COPY done); ftpage served with --no-push; uffd: %u "
	    "handler\n   threads, one TCP_NODELAY connection each, anonymous "
	    "memory, THP off.\n", UFFD_THREADS);
	out("  %-13s %5s  %-10s %7s %10s %10s %10s %10s %10s\n", "pager",
	    "vCPUs", "order", "pages", "pages/s", "guest p50", "guest p99",
	    "pager p50", "pager p99");
	for (i = 0; i < nr_runs; i++)
		if (!strcmp(runs[i].pager, "ftpage") ||
		    !strcmp(runs[i].pager, "uffd"))
			run_row(&runs[i], true);
	push_pct = ratio(push.push_mibs, push.tcp_mibs) * 100;
	out("\n4. background push of a frozen %u MiB region (no faults): "
	    "%.1f MiB/s (%.3f s);\n   raw TCP stream of the same size, "
	    "userspace ends: %.1f MiB/s (%.3f s) -> push = %.0f%% of raw TCP\n",
	    opt.push_mib, push.push_mibs, push.push_s, push.tcp_mibs,
	    push.tcp_s, push_pct);
	out("\n5. local faults: guest writes dword 0 of every page, 1 vCPU, "
	    "sequential: never-written\n   ftpage source region (zero-filled "
	    "pages) vs anonymous memory (THP off)\n");
	out("  %-13s %5s  %-10s %7s %10s %10s %10s\n", "memory", "vCPUs",
	    "order", "pages", "pages/s", "guest p50", "guest p99");
	if (loc)
		run_row(loc, false);
	if (anon)
		run_row(anon, false);

	fprintf(json_f, "{\n  \"kernel\": \"%s\", \"cpu\": \"%s\", \"cpus\": "
		"%u, \"tcg\": true, \"smoke\": %s, \"pinned_cpu0\": %s, "
		"\"mib\": %u, \"push_mib\": %u, \"tsc_ns\": %.6f, "
		"\"uffd_threads\": %u,\n", kernel, cpu, ncpu,
		opt.smoke ? "true" : "false", opt.no_pin ? "false" : "true",
		opt.mib, opt.push_mib, tsc_ns, UFFD_THREADS);
	fprintf(json_f, "  \"wire\": {\"samples\": %llu, \"p50_us\": %.3f, "
		"\"p99_us\": %.3f, ", U(wire.n), dist_q_us(&wire, 500),
		dist_q_us(&wire, 990));
	json_hist(&wire, "hist_us");
	fprintf(json_f, "},\n  \"push\": {\"mib\": %u, \"push_mib_s\": %.2f, "
		"\"tcp_mib_s\": %.2f, \"percent\": %.1f, \"bytes_rx\": %llu, "
		"\"ok\": %s},\n  \"runs\": [\n", opt.push_mib, push.push_mibs,
		push.tcp_mibs, push_pct, U(push.bytes_rx),
		push.ok ? "true" : "false");
	for (i = 0; i < nr_runs; i++)
		run_json(&runs[i], i + 1 == nr_runs);
	fprintf(json_f, "  ],\n  \"goals\": [\n");

	for (i = 0; i < nr_runs; i++) {
		struct run *u = find_run("uffd", runs[i].vcpus, runs[i].random);

		if (strcmp(runs[i].pager, "ftpage") || !runs[i].ok || !u)
			continue;
		worst50 = dmax(worst50, ratio(dist_q_us(&runs[i].guest, 500),
					      dist_q_us(&u->guest, 500)));
		worst99 = dmax(worst99, ratio(dist_q_us(&runs[i].guest, 990),
					      dist_q_us(&u->guest, 990)));
	}
	out("\nGoals (reported, not asserted):\n");
	goal("ftpage/uffd guest p50, 1 vCPU sequential", f1 && u1 ?
	     ratio(dist_q_us(&f1->guest, 500), dist_q_us(&u1->guest, 500)) : 0,
	     true, 0.5);
	goal("ftpage/uffd guest p99, 1 vCPU sequential", f1 && u1 ?
	     ratio(dist_q_us(&f1->guest, 990), dist_q_us(&u1->guest, 990)) : 0,
	     true, 0.5);
	goal("ftpage/uffd guest p50, worst of all configurations", worst50,
	     true, 0.5);
	goal("ftpage/uffd guest p99, worst of all configurations", worst99,
	     true, 0.5);
	goal("ftpage guest p50 / wire p50, 1 vCPU sequential", f1 ?
	     ratio(dist_q_us(&f1->guest, 500), dist_q_us(&wire, 500)) : 0,
	     true, 1.5);
	goal("ftpage module p50 / wire p50, 1 vCPU sequential", f1 ?
	     ratio(f1->pager_p50_us, dist_q_us(&wire, 500)) : 0, true, 1.5);
	goal("push / raw TCP throughput", ratio(push.push_mibs,
						  push.tcp_mibs), false, 0.9);
	goal("local fault guest p50, ftpage region / anon", loc && anon ?
	     ratio(dist_q_us(&loc->guest, 500), dist_q_us(&anon->guest, 500)) :
	     0, true, 1.2);
	goal("local fault time per page, ftpage region / anon", loc && anon ?
	     ratio(pages_per_s(anon), pages_per_s(loc)) : 0, true, 1.2);
	fprintf(json_f, "\n  ]\n}\n");

	/* gnuplot: CDFs of the guest-side latencies */
	fprintf(gp_f, "# ftpbench: latency CDFs (guest view), kernel %s, "
		"under TCG\n", kernel);
	dist_gp_block(&wire, "wire");
	for (i = 0; i < nr_runs; i++) {
		char name[48];

		snprintf(name, sizeof(name), "r%u", i);
		dist_gp_block(&runs[i].guest, name);
	}
	fprintf(gp_f, "set terminal pngcairo size 1280,560 font ',10'\n"
		"set output 'bench.png'\n"
		"set multiplot layout 1,2 title 'ftpage bench, kernel %s, "
		"%u MiB per run, under TCG (ratios matter, not absolute "
		"times)'\n"
		"set logscale x\nset grid\nset key bottom right font ',8'\n"
		"set xlabel 'fault latency seen by the guest (us, log)'\n"
		"set ylabel 'fraction of faults'\nset yrange [0:1]\n"
		"set title 'remote faults: ftpage vs userfaultfd vs wire RTT'\n",
		kernel, opt.mib);
	fprintf(gp_f, "plot $wire using 1:2 with steps lw 2 dt 2 lc 'black' "
		"title 'wire RTT (TCP ping-pong)'");
	for (i = 0; i < nr_runs; i++) {
		const struct run *r = &runs[i];
		bool f = !strcmp(r->pager, "ftpage");

		if (!f && strcmp(r->pager, "uffd"))
			continue;
		fprintf(gp_f, ", \\\n  $r%u using 1:2 with steps lw 2 lc "
			"'%s' dt %d title '%s %u vCPU %s'", i,
			f ? (r->vcpus == 1 ? "#1f77b4" : r->vcpus == 2 ?
			     "#2ca0d0" : "#17becf") :
			(r->vcpus == 1 ? "#d62728" : r->vcpus == 2 ?
			 "#ff7f0e" : "#e377c2"), r->random ? 3 : 1, r->pager,
			r->vcpus, r->random ? "rand" : "seq");
	}
	fprintf(gp_f, "\nset title 'local faults: ftpage region vs anonymous "
		"memory'\nplot 1/0 notitle");
	for (i = 0; i < nr_runs; i++)
		if (!strcmp(runs[i].pager, "ftpage-local") ||
		    !strcmp(runs[i].pager, "anon"))
			fprintf(gp_f, ", \\\n  $r%u using 1:2 with steps lw 2 "
				"title '%s'", i, runs[i].pager);
	fprintf(gp_f, "\nunset multiplot\n");
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !p)
			continue;
		p += 2;
		p[strcspn(p, "\n\"\\")] = 0;
		snprintf(buf, len, "%s", p);
		break;
	}
	if (f)
		fclose(f);
}

static void usage(void)
{
	fprintf(stderr, "usage: ftpbench [--smoke] [--no-pin] [--mib N] "
		"[--push-mib N] [--samples N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint8_t *srcmem;
	struct psrv srv;
	struct utsname un;
	char cpu[128], err[256];
	unsigned int i, port, v;
	int o;

	for (o = 1; o < argc; o++) {
		if (!strcmp(argv[o], "--smoke")) {
			opt.smoke = true;
			opt.mib = 1;
			opt.push_mib = 8;
			opt.samples = 200;
			opt.nr_vcpus = 2;
		} else if (!strcmp(argv[o], "--no-pin")) {
			opt.no_pin = true;
		} else if (o + 1 < argc && !strcmp(argv[o], "--mib")) {
			opt.mib = (unsigned int)atoi(argv[++o]);
		} else if (o + 1 < argc && !strcmp(argv[o], "--push-mib")) {
			opt.push_mib = (unsigned int)atoi(argv[++o]);
		} else if (o + 1 < argc && !strcmp(argv[o], "--samples")) {
			opt.samples = (unsigned int)atoi(argv[++o]);
		} else {
			usage();
		}
	}
	if (!opt.mib || opt.mib > 1024 || !opt.push_mib || !opt.samples)
		usage();
	if (kg_kvm_available(err, sizeof(err)))
		tap_skip_all(err);
	ctl = ftp_ctl_open();
	if (ctl < 0)
		tap_skip_all("no /dev/ftpage/control (module not loaded)");
	txt_f = open_memstream(&txt, &txt_len);
	json_f = open_memstream(&json, &json_len);
	gp_f = open_memstream(&gp, &gp_len);
	printf("TAP version 13\n");	/* the plan comes last */
	if (!tap_check(!ftp_pair_setup(), "pair topology: netns ftpa, ftpb"))
		return 1;
	if (!opt.no_pin)
		pin_cpu0(0);
	uname(&un);
	cpu_model(cpu, sizeof(cpu));
	calibrate_tsc();
	tap_diag("TSC: %.4f ns per cycle", tsc_ns);

	/* the userspace page server: the same content as the regions */
	srcmem = aligned_alloc(PAGE, opt.mib * MIB);
	if (!tap_check(srcmem != NULL, "page server memory"))
		return 1;
	for (i = 0; i < opt.mib * MIB / PAGE; i++)
		kg_pattern_fill(srcmem + (uint64_t)i * PAGE, i, SEED);
	port = next_port++;
	if (!tap_check(!psrv_start(&srv, srcmem, opt.mib * MIB / PAGE, port),
		       "userspace page server in ftpa on port %u", port))
		return 1;

	bench_wire(&srv, port);
	for (v = 0; v < opt.nr_vcpus; v++) {
		for (i = 0; i < 2; i++) {
			bench_ftpage(opt.vcpus[v], i);
			bench_uffd(opt.vcpus[v], i, port);
		}
	}
	bench_push(port);
	bench_local();
	psrv_stop(&srv);
	ftp_pair_teardown();

	report(un.release, cpu, (unsigned int)sysconf(_SC_NPROCESSORS_ONLN));
	ftp_emit_file("bench.txt", txt_f, &txt, &txt_len);
	ftp_emit_file("bench.json", json_f, &json, &json_len);
	ftp_emit_file("bench.gp", gp_f, &gp, &gp_len);
	printf("1..%d\n", tap_n);
	return tap_finish();
}
