// SPDX-License-Identifier: GPL-2.0
/*
 * remote_content (topology pair): content pulled from a source region
 * arrives intact, seen from inside a KVM guest and byte for byte.
 *
 * Dense: a 256 MiB source filled by this process with the kvm_guest page
 * pattern, frozen and served in netns ftpa (push on); a dest region in
 * ftpb pulls it; a 2-vCPU raw-KVM guest whose RAM is an mmap of the dest
 * verifies every page in a scrambled order; once the dest is complete
 * (and the source learnt it), digests of both regions are equal.
 *
 * Sparse: a 1 GiB source with ~1% of its pages written (8 clusters); the
 * guest verifies the clusters and sums windows around them (zero pages
 * read as zero); the dest becomes complete and equals the source; zero
 * pages travel as small messages (zero_pages large, bytes_rx about the
 * size of the written pages only).
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define NR_VCPUS	2
#define GUEST_TMO_S	240

/* sparse layout: NR_CLUSTERS runs of CLUSTER pages, ~1% of the region */
#define SPARSE_SIZE	(1024 * MIB)
#define NR_CLUSTERS	8
#define CLUSTER		328
#define WINDOW_PAD	256

static int ctl;

static uint64_t cluster_start(unsigned int i)
{
	uint64_t pages = SPARSE_SIZE / KG_PAGE_SIZE;

	return i * (pages / NR_CLUSTERS) + 1000 + i * 977;
}

static bool sparse_written(uint64_t p)
{
	unsigned int i;

	for (i = 0; i < NR_CLUSTERS; i++)
		if (p >= cluster_start(i) && p < cluster_start(i) + CLUSTER)
			return true;
	return false;
}

struct pull {
	const char *src, *dst;
	uint64_t size;
	uint32_t seed;
	unsigned int port;
	int fd;
	void *mem;
	struct kg_vm *vm;
};

/* create + fill + freeze + serve (ftpa), create + pull (ftpb), map */
static bool pull_setup(struct pull *p, ftp_page_pred want, int64_t *written)
{
	uint64_t t0 = ftp_now_ms();
	char path[64];

	p->fd = -1;
	p->mem = MAP_FAILED;
	if (!tap_call(ftp_create(ctl, p->src, p->size, FTPAGE_ROLE_SOURCE),
			 "create source %s (%llu MiB)", p->src,
			 (unsigned long long)(p->size / MIB)))
		return false;
	*written = ftp_fill_pattern(p->src, p->size, p->seed, want);
	tap_diag("filled %lld pages in %llu ms", (long long)*written,
		 (unsigned long long)(ftp_now_ms() - t0));
	if (!tap_check(*written > 0, "host fills the source with the pattern"))
		return false;
	if (!tap_call(ftp_freeze(ctl, p->src), "freeze the source"))
		return false;
	if (ftp_netns_enter(FTP_PAIR_A_NS) ||
	    !tap_call(ftp_serve(ctl, p->src, FTP_PAIR_A_ADDR, p->port, 0),
			 "serve in ftpa on %s:%u", FTP_PAIR_A_ADDR, p->port))
		return false;
	if (!tap_call(ftp_create(ctl, p->dst, p->size, FTPAGE_ROLE_DEST),
			 "create dest %s", p->dst))
		return false;
	if (ftp_netns_enter(FTP_PAIR_B_NS) ||
	    !tap_call(ftp_pull(ctl, p->dst, p->src, FTP_PAIR_A_ADDR, p->port),
			 "pull in ftpb"))
		return false;
	ftp_netns_enter(NULL);
	p->fd = open(ftp_node(path, sizeof(path), p->dst), O_RDWR | O_CLOEXEC);
	if (p->fd >= 0)
		p->mem = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      p->fd, 0);
	if (!tap_check(p->mem != MAP_FAILED, "map the dest region"))
		return false;
	p->vm = ftp_guest_create(p->mem, p->size, NR_VCPUS);
	return tap_check(p->vm != NULL, "KVM guest with %d vCPUs, RAM = the "
			 "dest mapping", NR_VCPUS);
}

/* wait for complete on both sides, compare digests, counters */
static bool pull_finish(struct pull *p, int64_t written, struct ftpage_status *dst)
{
	struct ftpage_status src;
	struct ftp_digest ds, dd;
	uint64_t pages = p->size / KG_PAGE_SIZE, t0 = ftp_now_ms();
	bool ok;

	ok = !ftp_wait_state(ctl, p->dst, FTPAGE_STATE_COMPLETE, 120000, dst);
	ftp_status_diag(p->dst, dst);
	tap_check(ok && dst->pages_known == pages && dst->errors == 0,
		  "dest complete in %llu ms, pages_known %llu == %llu, "
		  "errors %llu", (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)dst->pages_known,
		  (unsigned long long)pages, (unsigned long long)dst->errors);
	ok = !ftp_wait_state(ctl, p->src, FTPAGE_STATE_COMPLETE, 20000, &src);
	ftp_status_diag(p->src, &src);
	tap_check(ok, "source learns the dest is complete (state %s)",
		  ftp_state_str(src.state));

	t0 = ftp_now_ms();
	ok = !ftp_region_digest(p->src, p->size, p->seed, &ds) &&
	     !ftp_region_digest(p->dst, p->size, p->seed, &dd);
	tap_diag("digests in %llu ms: source %016llx (%llu non-zero, %llu "
		 "pattern pages), dest %016llx (%llu non-zero, %llu pattern)",
		 (unsigned long long)(ftp_now_ms() - t0),
		 (unsigned long long)ds.hash,
		 (unsigned long long)ds.nonzero_pages,
		 (unsigned long long)ds.pattern_pages,
		 (unsigned long long)dd.hash,
		 (unsigned long long)dd.nonzero_pages,
		 (unsigned long long)dd.pattern_pages);
	tap_check(ok && ds.pattern_pages == (uint64_t)written &&
		  ds.nonzero_pages == (uint64_t)written,
		  "source holds exactly the %lld pattern pages written",
		  (long long)written);
	return tap_check(ok && dd.hash == ds.hash &&
			 dd.nonzero_pages == ds.nonzero_pages &&
			 dd.pattern_pages == ds.pattern_pages,
			 "dest equals the source byte for byte (digest)");
}

static void pull_teardown(struct pull *p)
{
	kg_vm_destroy(p->vm);
	p->vm = NULL;
	if (p->mem != MAP_FAILED)
		munmap(p->mem, p->size);
	if (p->fd >= 0)
		close(p->fd);
	ftp_netns_enter(NULL);
	tap_check(!ftp_destroy(ctl, p->dst) && !ftp_destroy(ctl, p->src),
		  "destroy dest %s and source %s", p->dst, p->src);
}

static void test_dense(void)
{
	struct pull p = { .src = "rc-src", .dst = "rc-dst", .size = 256 * MIB,
			  .seed = 0xc0ffee01, .port = 7411 };
	uint32_t pages = p.size / KG_PAGE_SIZE, bad = 0, first = 0xffffffff;
	struct kg_args args[NR_VCPUS];
	struct ftpage_status st;
	int64_t written;
	uint64_t t0;
	unsigned int i;

	tap_diag("dense: %u pages", pages);
	if (pull_setup(&p, NULL, &written)) {
		kg_split_range(args, NR_VCPUS, 0, pages, p.seed, true);
		t0 = ftp_now_ms();
		if (!ftp_guest_run(p.vm, KG_PROG_VERIFY, args, GUEST_TMO_S)) {
			for (i = 0; i < NR_VCPUS; i++) {
				bad += p.vm->vcpus[i].result;
				if (first == 0xffffffff)
					first = (uint32_t)p.vm->vcpus[i].regs.rbx;
			}
		} else {
			bad = pages;
		}
		tap_check(bad == 0, "guest verifies all %u pages in random "
			  "order: %u bad (first %d), %llu ms", pages, bad,
			  (int)first, (unsigned long long)(ftp_now_ms() - t0));
		pull_finish(&p, written, &st);
		tap_check(written == pages && st.pages_fetched + st.pages_pushed
			  == pages && st.zero_pages == 0 &&
			  st.demand_faults >= st.pages_fetched,
			  "counters: fetched %llu + pushed %llu == %u pages, "
			  "zero 0, demand_faults %llu >= fetched",
			  (unsigned long long)st.pages_fetched,
			  (unsigned long long)st.pages_pushed, pages,
			  (unsigned long long)st.demand_faults);
	}
	pull_teardown(&p);
}

static void test_sparse(void)
{
	struct pull p = { .src = "rs-src", .dst = "rs-dst", .size = SPARSE_SIZE,
			  .seed = 0x5a5e0002, .port = 7412 };
	uint32_t pages = p.size / KG_PAGE_SIZE, bad = 0, sum_bad = 0;
	struct kg_args args[NR_VCPUS];
	struct ftpage_status st;
	int64_t written;
	uint64_t t0, limit;
	unsigned int i, v;

	tap_diag("sparse: %u pages, %d clusters of %d written pages", pages,
		 NR_CLUSTERS, CLUSTER);
	if (pull_setup(&p, sparse_written, &written)) {
		t0 = ftp_now_ms();
		for (i = 0; i < NR_CLUSTERS; i += NR_VCPUS) {
			/* verify: the written pages, scrambled */
			for (v = 0; v < NR_VCPUS; v++) {
				args[v] = (struct kg_args){
					.first = cluster_start(i + v),
					.count = CLUSTER, .seed = p.seed,
					.stride = kg_pick_stride(CLUSTER, i + v),
					.start = (i + v) * 37 % CLUSTER };
			}
			if (ftp_guest_run(p.vm, KG_PROG_VERIFY, args, GUEST_TMO_S))
				bad += CLUSTER * NR_VCPUS;
			else
				for (v = 0; v < NR_VCPUS; v++)
					bad += p.vm->vcpus[v].result;
			/* sum: the cluster and zero pages around it */
			for (v = 0; v < NR_VCPUS; v++)
				args[v] = (struct kg_args){
					.first = cluster_start(i + v) - WINDOW_PAD,
					.count = CLUSTER + 2 * WINDOW_PAD,
					.seed = p.seed, .stride = 1, .start = 0 };
			if (ftp_guest_run(p.vm, KG_PROG_SUM, args, GUEST_TMO_S)) {
				sum_bad += NR_VCPUS;
				continue;
			}
			for (v = 0; v < NR_VCPUS; v++) {
				struct kg_args c = { .first = cluster_start(i + v),
						     .count = CLUSTER,
						     .seed = p.seed };

				if (p.vm->vcpus[v].result != kg_pattern_range_sum(&c)) {
					tap_diag("window of cluster %u: sum %08x, "
						 "want %08x", i + v,
						 p.vm->vcpus[v].result,
						 kg_pattern_range_sum(&c));
					sum_bad++;
				}
			}
		}
		tap_check(bad == 0, "guest verifies the %d written pages: %u "
			  "bad, %llu ms", NR_CLUSTERS * CLUSTER, bad,
			  (unsigned long long)(ftp_now_ms() - t0));
		tap_check(sum_bad == 0, "guest sums windows with %d zero pages "
			  "around each cluster: %u wrong", 2 * WINDOW_PAD, sum_bad);
		pull_finish(&p, written, &st);
		tap_check(st.zero_pages >= pages - (uint64_t)written - 16,
			  "zero_pages %llu >= %llu (never-written pages travel "
			  "as zero)", (unsigned long long)st.zero_pages,
			  (unsigned long long)(pages - written - 16));
		/* written pages + headers + small zero messages + slack */
		limit = (uint64_t)written * (KG_PAGE_SIZE + 64) + 2 * MIB;
		tap_check(st.bytes_rx <= limit, "bytes_rx %llu <= %llu (region "
			  "%llu: zero pages travel small)",
			  (unsigned long long)st.bytes_rx,
			  (unsigned long long)limit,
			  (unsigned long long)p.size);
	}
	pull_teardown(&p);
}

int main(void)
{
	char err[256];
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = kg_kvm_available(err, sizeof(err));
	if (ret)
		tap_skip_all(err);
	tap_plan(34);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	test_dense();
	test_sparse();
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
