// SPDX-License-Identifier: GPL-2.0
/*
 * remote_contention (topology pair): many faulters, one request per page.
 *
 * The source serves with --no-push, so pages move only on demand. 8 host
 * threads (reading through their own view of one mmap of the dest) and the
 * 2 vCPUs of a raw-KVM guest (RAM = the same mapping) all read the same
 * NR_HOT pages at once, each in a different order. Afterwards exactly
 * NR_HOT requests went out (dest demand_faults), were served (source
 * pages_served) and installed (dest pages_fetched), and every reader saw
 * the right content. Pages outside the hot set were never requested.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(8 * MIB)
#define HOT_FIRST	512
#define NR_HOT		1024
#define NR_THREADS	8
#define NR_VCPUS	2
#define SEED		0xc0a7e4d1
#define PORT		7421

static const uint8_t *mem;
static pthread_barrier_t go;

struct reader {
	pthread_t t;
	unsigned int id;
	uint32_t bad, pages;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	struct kg_args a = { .first = HOT_FIRST, .count = NR_HOT, .seed = SEED,
			     .stride = kg_pick_stride(NR_HOT, 100 + r->id),
			     .start = (r->id * 131) % NR_HOT };
	uint32_t i, p;

	if (r->id & 1)	/* odd readers go sequentially, forwards or back */
		a.stride = r->id & 2 ? 1 : NR_HOT - 1;
	pthread_barrier_wait(&go);
	for (i = 0; i < NR_HOT; i++) {
		p = kg_order_page(&a, i);
		if (!kg_pattern_check(mem + (size_t)p * KG_PAGE_SIZE, p, SEED))
			r->bad++;
		r->pages++;
	}
	return NULL;
}

int main(void)
{
	struct reader rd[NR_THREADS];
	struct kg_args args[NR_VCPUS];
	struct ftpage_status sd, ss;
	struct kg_vm *vm = NULL;
	uint32_t hbad = 0, hpages = 0, gbad = 0;
	char err[256], path[64];
	int ctl, fd = -1, grun = -1;
	unsigned int i;
	uint64_t t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (kg_kvm_available(err, sizeof(err)))
		tap_skip_all(err);
	tap_plan(15);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();

	tap_call(ftp_create(ctl, "ct-src", SIZE, FTPAGE_ROLE_SOURCE), "create source");
	tap_check(ftp_fill_pattern("ct-src", SIZE, SEED, NULL) == SIZE / KG_PAGE_SIZE &&
		  !ftp_freeze(ctl, "ct-src"), "fill every page, freeze");
	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, "ct-src", FTP_PAIR_A_ADDR, PORT,
			   FTPAGE_SERVE_NO_PUSH), "serve --no-push in ftpa");
	tap_call(ftp_create(ctl, "ct-dst", SIZE, FTPAGE_ROLE_DEST), "create dest");
	ftp_netns_enter(FTP_PAIR_B_NS);
	if (!tap_call(ftp_pull(ctl, "ct-dst", "ct-src", FTP_PAIR_A_ADDR, PORT),
		      "pull in ftpb"))
		return tap_finish();
	ftp_netns_enter(NULL);

	fd = open(ftp_node(path, sizeof(path), "ct-dst"), O_RDWR | O_CLOEXEC);
	mem = fd < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
					 MAP_SHARED, fd, 0);
	if (mem != MAP_FAILED)
		vm = ftp_guest_create((void *)mem, SIZE, NR_VCPUS);
	if (!tap_check(vm != NULL, "map the dest, KVM guest on it"))
		return tap_finish();

	pthread_barrier_init(&go, NULL, NR_THREADS + 1);
	for (i = 0; i < NR_THREADS; i++) {
		rd[i] = (struct reader){ .id = i };
		pthread_create(&rd[i].t, NULL, reader_fn, &rd[i]);
	}
	for (i = 0; i < NR_VCPUS; i++) {
		args[i] = (struct kg_args){ .first = HOT_FIRST, .count = NR_HOT,
			.seed = SEED, .stride = kg_pick_stride(NR_HOT, 7 + i),
			.start = (i * 509 + 300) % NR_HOT };
		kg_vcpu_setup(vm, i, KG_PROG_VERIFY, &args[i]);
	}
	t0 = ftp_now_ms();
	pthread_barrier_wait(&go);
	grun = kg_vm_run(vm, 120000);
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(rd[i].t, NULL);
		hbad += rd[i].bad;
		hpages += rd[i].pages;
	}
	for (i = 0; i < NR_VCPUS; i++) {
		if (vm->vcpus[i].state == KG_VCPU_FAILED)
			tap_diag("%s", vm->vcpus[i].err);
		gbad += vm->vcpus[i].result;
	}
	tap_diag("%d threads + %d vCPUs on %d pages: %llu ms", NR_THREADS,
		 NR_VCPUS, NR_HOT, (unsigned long long)(ftp_now_ms() - t0));
	tap_check(hbad == 0 && hpages == NR_THREADS * NR_HOT,
		  "host threads read %u pages, %u bad", hpages, hbad);
	tap_check(grun == 0 && gbad == 0, "guest vCPUs verify the hot pages: "
		  "%u bad", gbad);

	ftp_status(ctl, "ct-dst", &sd);
	ftp_status(ctl, "ct-src", &ss);
	ftp_status_diag("ct-dst", &sd);
	ftp_status_diag("ct-src", &ss);
	tap_check(sd.demand_faults == NR_HOT, "dest demand_faults %llu == %d",
		  (unsigned long long)sd.demand_faults, NR_HOT);
	tap_check(ss.pages_served == NR_HOT, "source pages_served %llu == %d",
		  (unsigned long long)ss.pages_served, NR_HOT);
	tap_check(sd.pages_fetched == NR_HOT, "dest pages_fetched %llu == %d",
		  (unsigned long long)sd.pages_fetched, NR_HOT);
	tap_check(sd.pages_pushed == 0 && ss.pages_pushed == 0 &&
		  sd.pages_known == NR_HOT && sd.errors == 0 &&
		  sd.state == FTPAGE_STATE_PULLING,
		  "no push, pages_known %llu == %d, errors 0, still pulling",
		  (unsigned long long)sd.pages_known, NR_HOT);

	kg_vm_destroy(vm);
	munmap((void *)mem, SIZE);
	close(fd);
	tap_check(!ftp_destroy(ctl, "ct-dst") && !ftp_destroy(ctl, "ct-src"),
		  "destroy both regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
