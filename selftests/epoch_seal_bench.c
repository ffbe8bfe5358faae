// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_seal_bench (topology pair): what epochs cost -- the seal pause,
 * the epoch stream, and the write slowdown from dirty tracking.
 *
 * The VM is paused only while an epoch is sealed, so the seal must be
 * short (goal: 1 ms for 10,000 dirty pages). Printed as figures ("# "
 * lines), never asserted:
 *
 * 1. Seal pause. A 100,000-page (391 MiB) dest pulled complete from an
 *    all-zero source. For 1,000 and 10,000 dirty pages ROUNDS_MAX times,
 *    for 100,000 ROUNDS times: dirty the pages through a mapping (dword 0
 *    of each), time COMMIT without WAIT, poll the dest (every 2 ms) until
 *    the source acknowledged the epoch. Min and median of the seals.
 * 2. Epoch stream: the epoch's pages * 4 KiB over the time from COMMIT to
 *    that acknowledgement, MiB/s (median; per size, the 100,000-page one
 *    is the throughput), against a raw TCP stream of RAW_MIB MiB between
 *    the same namespaces, userspace ends, ftpb -> ftpa like the journal.
 * 3. Write slowdown, NW pages, ROUNDS rounds. A writer process maps the
 *    dest; after each COMMIT (with WAIT: the epoch is acknowledged, so no
 *    write copies a page first) it writes dword 0 of each page -- every
 *    first write takes a write-protect fault into ->page_mkwrite -- then
 *    again (dirty in the new epoch already: no fault); and anonymous
 *    memory, first touch (zero-fill fault) and present. Then the same from
 *    a 1-vCPU raw-KVM guest whose memslot 0 is the dest (after the seal
 *    each first write exits to KVM, which faults the page writable
 *    through ->page_mkwrite), memslot 1 anonymous memory; the run time of
 *    the vCPU over NW pages. ns per page (medians) and the ratios.
 *
 * Asserted, exactly: every epoch holds exactly the pages dirtied; a pass
 * after a seal takes exactly one write fault per page (status
 * write_faults), a pass on dirty pages none; the source ends equal to the
 * dest, and both to the test's model (dword 0 of every page, the rest
 * zero).
 *
 * Memory: a 100,000-page epoch is 391 MiB in the dest, 391 MiB staged on
 * the source and 391 MiB in the source region, which the apply fills
 * while the staged copy still exists: 1.2 GiB at the peak with both
 * regions in one VM, more than a 1 GiB VM has whatever the test does. So
 * vm/run.sh boots the single/pair VM with 2 GiB. The source is all-zero
 * (nothing allocated until the epochs land); the test keeps one dword per
 * page as its model and compares the regions 4 MiB at a time.
 *
 * Under TCG absolute times are slow; the ratios between sizes and between
 * the write passes are what tells. Nothing is pinned to a CPU. About 45 s.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define SRC		"sb-src"
#define DST		"sb-dst"
#define PAGES		100000ULL
#define PG		KG_PAGE_SIZE
#define SIZE		(PAGES * PG)
#define PORT		7481
#define RAW_PORT	7482
#define RAW_MIB		128
#define ROUNDS_MAX	5
#define ROUNDS		3	/* 100,000-page seals, writer and guest rounds */
#define NW		10000ULL	/* pages the writers write */
#define CHUNK		1024ULL		/* pages compared at a time */
#define MIB		(1024.0 * 1024.0)
#define TAG_MUL		0x85EBCA6Bu

static const struct { uint64_t pages; int rounds; } sizes[] = {
	{ 1000, ROUNDS_MAX }, { 10000, ROUNDS_MAX }, { PAGES, ROUNDS },
};

static int ctl;
static uint32_t *model;		/* dword 0 of every page; the rest is zero */
static uint64_t epoch;		/* the last epoch sealed */
static uint32_t next_tag = 1;

#define U(x)	((unsigned long long)(x))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Dword 0 of page p written with tag t: the guest's TOUCH_WRITE word for
 * seed t * TAG_MUL, so host writers and the guest share one model.
 */
static uint32_t stamp(uint32_t t, uint64_t p)
{
	return kg_pattern_word((uint32_t)p, t * TAG_MUL, 0);
}

static void model_stamp(uint32_t t, uint64_t n)
{
	uint64_t p;

	for (p = 0; p < n; p++)
		model[p] = stamp(t, p);
}

static bool no_page(uint64_t p)
{
	(void)p;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return v[n / 2];
}

static uint64_t write_faults(void)
{
	struct ftpage_status st;

	return ftp_status(ctl, DST, &st) ? ~0ull : st.write_faults;
}

/* COMMIT (flags); true when it sealed the next epoch with exactly want pages. */
static bool commit_is(uint32_t flags, uint64_t want, const char *what)
{
	uint64_t e = 0, pages = 0;

	if (ftp_commit(ctl, DST, NULL, 0, flags, &e, &pages)) {
		tap_diag("%s: commit: %s", what, strerror(errno));
		return false;
	}
	if (e == ++epoch && pages == want)
		return true;
	tap_diag("%s: epoch %llu holds %llu pages, want epoch %llu, %llu pages",
		 what, U(e), U(pages), U(epoch), U(want));
	return false;
}

/* Poll the dest (every 2 ms) until the source acknowledged epoch e. */
static int wait_acked(uint64_t e, unsigned int timeout_ms)
{
	uint64_t end = ftp_now_ms() + timeout_ms;
	struct ftpage_status st;

	do {
		if (ftp_status(ctl, DST, &st))
			return -1;
		if (st.committed_epoch >= e)
			return 0;
		ftp_sleep_ms(2);
	} while (ftp_now_ms() < end);
	ftp_epoch_diag(DST, &st);
	return -1;
}

/* ---- 1, 2: seal pause and epoch stream ------------------------------------ */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * rounds commits of n dirty pages; 0 when all were exact. *mibs: the
 * median stream rate.
 */
static int bench_size(volatile uint8_t *map, uint64_t n, int rounds,
		      double *mibs)
{
	uint64_t seal[ROUNDS_MAX], t0, t1, t2, pages, e;
	double rate[ROUNDS_MAX];
	struct ftpage_status st;
	int round, bad = 0;
	uint32_t t;
	uint64_t p;

	for (round = 0; round < rounds; round++) {
		t = next_tag++;
		for (p = 0; p < n; p++)
			*(volatile uint32_t *)(map + p * PG) = stamp(t, p);
		model_stamp(t, n);
		t0 = now_ns();
		if (ftp_commit(ctl, DST, NULL, 0, 0, &e, &pages))
			return -1;
		t1 = now_ns();
		if (wait_acked(e, 120000))
			return -1;
		t2 = now_ns();
		seal[round] = t1 - t0;
		rate[round] = n * PG / MIB / ((t2 - t0) / 1e9);
		if (e != ++epoch || pages != n) {
			tap_diag("epoch %llu holds %llu pages, want epoch %llu, %llu pages",
				 U(e), U(pages), U(epoch), U(n));
			bad = 1;
		}
		/* the source applied it */
		if (ftp_wait_committed(ctl, SRC, e, 60000, &st))
			return -1;
	}
	qsort(rate, rounds, sizeof(rate[0]), cmp_dbl);
	qsort(seal, rounds, sizeof(seal[0]), cmp_u64);
	tap_diag("seal of %6llu dirty pages: min %8.3f ms, median %8.3f ms (%d rounds; goal for 10000: 1 ms)",
		 U(n), seal[0] / 1e6, seal[rounds / 2] / 1e6, rounds);
	tap_diag("epoch stream of %6llu pages (%5.1f MiB), COMMIT to ack: median %6.1f MiB/s (min %.1f, max %.1f)",
		 U(n), n * PG / MIB, rate[rounds / 2], rate[0], rate[rounds - 1]);
	*mibs = rate[rounds / 2];
	return bad ? -1 : 0;
}

/*
 * A raw TCP stream of RAW_MIB MiB, ftpb -> ftpa (a child connects from
 * ftpb, waits for a go byte, sends; we count from the go to EOF): MiB/s,
 * or 0.
 */
static double raw_tcp_mibs(void)
{
	static char buf[256 << 10];
	uint64_t got = 0, t0 = 0, t1 = 0;
	int lfd, fd = -1, status = 0;
	struct pollfd pfd;
	pid_t pid;
	ssize_t r;
	char c = 0;

	if (ftp_netns_enter(FTP_PAIR_A_NS))
		return 0;
	lfd = ftp_tcp_listen(FTP_PAIR_A_ADDR, RAW_PORT);
	ftp_netns_enter(NULL);
	if (lfd < 0)
		return 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		uint64_t sent;

		close(lfd);
		memset(buf, 0x5a, sizeof(buf));
		if (ftp_netns_enter(FTP_PAIR_B_NS))
			_exit(1);
		fd = ftp_tcp_connect(FTP_PAIR_A_ADDR, RAW_PORT, 30000);
		if (fd < 0 || recv(fd, &c, 1, 0) != 1)
			_exit(2);
		for (sent = 0; sent < RAW_MIB << 20; sent += sizeof(buf))
			if (ftp_send_all(fd, buf, sizeof(buf)))
				_exit(3);
		close(fd);
		_exit(0);
	}
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (pid > 0 && poll(&pfd, 1, 30000) == 1)
		fd = accept(lfd, NULL, NULL);
	close(lfd);
	t0 = now_ns();
	if (fd >= 0 && ftp_send_all(fd, &c, 1) == 0)
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
			got += (uint64_t)r;
	t1 = now_ns();
	if (fd >= 0)
		close(fd);
	if (pid > 0 && ftp_reap_child(pid, 30000, &status, NULL) != 1)
		status = -1;
	if (pid < 0 || got != RAW_MIB << 20 || status) {
		tap_diag("raw TCP: got %llu bytes, sender %s", U(got),
			 pid > 0 ? ftp_wstatus_str(status) : "not started");
		return 0;
	}
	return RAW_MIB / ((t1 - t0) / 1e9);
}

/* ---- 3: write slowdown ----------------------------------------------------- */

/* The passes timed, per round (ns for NW pages). */
enum { W_TRACKED, W_DIRTY, W_ANON_FIRST, W_ANON, W_NR };

struct wr_shared {
	uint64_t ns[ROUNDS][W_NR];
};

static uint64_t write_pass(volatile uint8_t *m, uint32_t t)
{
	uint64_t t0 = now_ns(), p;

	for (p = 0; p < NW; p++)
		*(volatile uint32_t *)(m + p * PG) = stamp(t, p);
	return now_ns() - t0;
}

/*
 * The writer process. It writes pages 0..NW-1 of its own mapping of the
 * dest once (warm: mapped, dirty), then per round: a token to the parent
 * (which commits), the tracked pass, a token (the parent reads the fault
 * count), the pass on dirty pages, the anonymous passes. Tags: tag (warm),
 * tag + 1 + 2r and tag + 2 + 2r.
 */
static void writer_main(struct wr_shared *sh, int in, int out, uint32_t tag)
{
	volatile uint8_t *m, *anon;
	int round, fd;
	char c = 0;

	m = ftp_region_map(DST, SIZE, &fd);
	if (m == MAP_FAILED)
		_exit(10);
	write_pass(m, tag);
	for (round = 0; round < ROUNDS; round++) {
		if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1)
			_exit(11);
		sh->ns[round][W_TRACKED] = write_pass(m, tag + 1 + 2 * round);
		if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1)
			_exit(11);
		sh->ns[round][W_DIRTY] = write_pass(m, tag + 2 + 2 * round);
		anon = mmap(NULL, NW * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (anon == MAP_FAILED)
			_exit(12);
		madvise((void *)anon, NW * PG, MADV_NOHUGEPAGE);
		sh->ns[round][W_ANON_FIRST] = write_pass(anon, 1);
		sh->ns[round][W_ANON] = write_pass(anon, 2);
		munmap((void *)anon, NW * PG);
	}
	if (write(out, &c, 1) != 1)
		_exit(11);
	_exit(0);
}

/* Median over the rounds of pass i, in ns per page. */
static double per_page(uint64_t (*ns)[W_NR], int i)
{
	uint64_t v[ROUNDS];
	int r;

	for (r = 0; r < ROUNDS; r++)
		v[r] = ns[r][i];
	return median(v, ROUNDS) / (double)NW;
}

static void print_passes(const char *who, uint64_t (*ns)[W_NR],
			 double anon_first)
{
	double tr = per_page(ns, W_TRACKED), dirty = per_page(ns, W_DIRTY),
	       anon = per_page(ns, W_ANON);

	tap_diag("%s writes, ns/page (median of %d rounds of %llu pages): first write after the seal %.0f, "
		 "page already dirty %.0f, anonymous present %.0f, anonymous first touch %.0f",
		 who, ROUNDS, U(NW), tr, dirty, anon, anon_first);
	tap_diag("%s write slowdown from dirty tracking: first write after the seal = %.1fx a dirty page, %.1fx anonymous memory; "
		 "+%.0f ns per page dirtied per epoch",
		 who, tr / dirty, tr / anon, tr - dirty);
}

/* Did the fault count move by exactly want since *last? Updates *last. */
static bool faults_are(uint64_t *last, uint64_t want, const char *who,
		       int round, const char *pass)
{
	uint64_t now = write_faults(), d = now - *last;

	*last = now;
	if (d == want)
		return true;
	tap_diag("%s round %d, %s: %llu write faults, want %llu", who, round,
		 pass, U(d), U(want));
	return false;
}

/* A writer process; true when every epoch and fault count was exact. */
static bool bench_writer(void)
{
	int to_child[2], to_parent[2], round, status = 0;
	uint32_t tag = next_tag;
	struct wr_shared *sh;
	uint64_t wf = 0;
	bool ok = true;
	pid_t pid;
	char c = 0;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(to_child) || pipe(to_parent))
		return false;
	next_tag += 1 + 2 * ROUNDS;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		writer_main(sh, to_child[0], to_parent[1], tag);
	}
	close(to_child[0]);
	close(to_parent[1]);
	ok = pid > 0;
	for (round = 0; ok && round <= ROUNDS; round++) {
		/* the warm pass, or the last round's passes, are done */
		ok = read(to_parent[0], &c, 1) == 1;
		if (ok && round)
			ok = faults_are(&wf, 0, "writer", round - 1, "dirty pages");
		model_stamp(tag + 2 * round, NW);
		ok = ok && commit_is(FTPAGE_COMMIT_WAIT, NW, "writer");
		if (!ok || round == ROUNDS)
			break;
		wf = write_faults();
		ok = write(to_child[1], &c, 1) == 1 &&
		     read(to_parent[0], &c, 1) == 1;
		model_stamp(tag + 1 + 2 * round, NW);
		ok = ok && faults_are(&wf, NW, "writer", round, "after the seal");
		ok = ok && write(to_child[1], &c, 1) == 1;
	}
	close(to_child[1]);
	close(to_parent[0]);
	if (pid > 0 && (ftp_reap_child(pid, 60000, &status, NULL) != 1 ||
			!WIFEXITED(status) || WEXITSTATUS(status))) {
		tap_diag("writer: %s", ftp_wstatus_str(status));
		ok = false;
	}
	if (ok) {
		uint64_t v[ROUNDS];

		for (round = 0; round < ROUNDS; round++)
			v[round] = sh->ns[round][W_ANON_FIRST];
		print_passes("process", sh->ns, median(v, ROUNDS) / (double)NW);
	}
	munmap(sh, sizeof(*sh));
	return ok;
}

/* One TOUCH_WRITE run of the guest over NW pages from page first: ns. */
static uint64_t guest_pass(struct kg_vm *vm, uint32_t first, uint32_t t,
			   bool *ok)
{
	struct kg_args a = { .first = first, .count = NW, .seed = t * TAG_MUL,
			     .stride = 1 };

	if (!*ok || ftp_guest_run(vm, KG_PROG_TOUCH_WRITE, &a, 120) ||
	    vm->vcpus[0].result != NW) {
		*ok = false;
		return 0;
	}
	return (uint64_t)(kg_vcpu_seconds(&vm->vcpus[0]) * 1e9);
}

/*
 * The same from a 1-vCPU raw-KVM guest: memslot 0 is the test's mapping
 * of the dest, memslot 1 (after it) NW pages of anonymous memory.
 */
static bool bench_guest(void *map)
{
	uint32_t anon_gp = (uint32_t)(SIZE / PG), t;
	uint64_t ns[ROUNDS][W_NR], wf = 0, anon_first;
	struct kg_vm *vm;
	bool ok = true;
	void *anon;
	int round;

	anon = mmap(NULL, NW * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		return false;
	madvise(anon, NW * PG, MADV_NOHUGEPAGE);
	vm = ftp_guest_create(map, SIZE, 1);
	if (!vm || kg_vm_add_memslot(vm, 1, SIZE, anon, NW * PG)) {
		if (vm)
			tap_diag("%s", vm->err);
		ok = false;
	}
	t = next_tag++;
	guest_pass(vm, 0, t, &ok);		/* warm: KVM maps them */
	model_stamp(t, NW);
	anon_first = guest_pass(vm, anon_gp, 1, &ok);
	for (round = 0; ok && round <= ROUNDS; round++) {
		if (round)
			ok = faults_are(&wf, 0, "guest", round - 1, "dirty pages");
		ok = ok && commit_is(FTPAGE_COMMIT_WAIT, NW, "guest");
		if (!ok || round == ROUNDS)
			break;
		wf = write_faults();
		t = next_tag++;
		ns[round][W_TRACKED] = guest_pass(vm, 0, t, &ok);
		model_stamp(t, NW);
		ok = ok && faults_are(&wf, NW, "guest", round, "after the seal");
		t = next_tag++;
		ns[round][W_DIRTY] = guest_pass(vm, 0, t, &ok);
		model_stamp(t, NW);
		ns[round][W_ANON] = guest_pass(vm, anon_gp, 2, &ok);
	}
	if (ok)
		print_passes("guest", ns, anon_first / (double)NW);
	kg_vm_destroy(vm);
	munmap(anon, NW * PG);
	return ok;
}

/* ---- the end: source == dest == model -------------------------------------- */

static uint64_t compare_all(void)
{
	uint8_t *s = malloc(CHUNK * PG), *d = malloc(CHUNK * PG);
	uint64_t bad = 0, p, q, i;
	const uint32_t *w;

	if (!s || !d)
		return ~0ull;
	for (p = 0; p < PAGES; p += CHUNK) {
		uint64_t n = PAGES - p < CHUNK ? PAGES - p : CHUNK;

		if (ftp_region_read(SRC, s, p * PG, n * PG) ||
		    ftp_region_read(DST, d, p * PG, n * PG)) {
			bad = ~0ull;
			break;
		}
		for (q = 0; q < n; q++) {
			bool ok = !memcmp(s + q * PG, d + q * PG, PG);

			w = (const uint32_t *)(d + q * PG);
			ok = ok && w[0] == model[p + q];
			for (i = 1; ok && i < PG / 4; i++)
				ok = !w[i];
			if (!ok && bad++ < 4)
				tap_diag("page %llu: source %08x dest %08x, want %08x",
					 U(p + q), ((uint32_t *)(s + q * PG))[0],
					 w[0], model[p + q]);
		}
	}
	free(s);
	free(d);
	return bad;
}

int main(void)
{
	volatile uint8_t *map;
	unsigned int i;
	uint64_t bad, t0;
	char err[256];
	double raw, stream = 0;
	int fd, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	model = calloc(PAGES, sizeof(*model));
	if (!model)
		tap_skip_all("out of memory");
	tap_plan(10 + sizeof(sizes) / sizeof(sizes[0]));
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_kmsg_mark("epoch_seal_bench");

	/* An all-zero source: nothing allocated until the epochs land. */
	t0 = ftp_now_ms();
	ok = ftp_pair_pull_complete(ctl, SRC, DST, SIZE, 0, no_page, PORT, 0,
				    NULL);
	if (!tap_check(ok, "%llu-page source served, dest pulled it, complete (%.1f s)",
		       U(PAGES), (ftp_now_ms() - t0) / 1e3))
		return tap_finish();
	map = ftp_region_map(DST, SIZE, &fd);
	if (!tap_check(map != MAP_FAILED, "map the dest"))
		return tap_finish();

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		tap_check(!bench_size(map, sizes[i].pages, sizes[i].rounds,
				      &stream),
			  "%d epochs of %llu dirty pages, each exactly those pages, applied",
			  sizes[i].rounds, U(sizes[i].pages));

	raw = raw_tcp_mibs();
	if (tap_check(raw > 0, "raw TCP stream of %d MiB ftpb -> ftpa", RAW_MIB))
		tap_diag("raw TCP stream, userspace ends, ftpb -> ftpa: %.1f MiB/s (%d MiB); the %llu-page epoch stream is %.0f%% of it",
			 raw, RAW_MIB, U(PAGES), 100 * stream / raw);

	tap_check(bench_writer(),
		  "writer process: %d epochs of %llu pages, one write fault per page after each seal, none on dirty pages",
		  ROUNDS, U(NW));

	if (kg_kvm_available(err, sizeof(err)))
		tap_skip("guest writes", err);
	else
		tap_check(bench_guest((void *)map),
			  "raw-KVM guest: %d epochs of %llu pages, one write fault per page after each seal, none on dirty pages",
			  ROUNDS, U(NW));

	bad = compare_all();
	tap_check(!bad, "the source equals the dest and the model after epoch %llu (%llu pages differ)",
		  U(epoch), U(bad));
	munmap((void *)map, SIZE);
	close(fd);
	return ftp_pair_close(ctl, "epoch_seal_bench", DST, SRC);
}
