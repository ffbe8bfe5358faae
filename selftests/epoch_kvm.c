// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_kvm (topology pair): writes made by a KVM guest into the dest are
 * logged for every epoch, also after KVM already holds a writable mapping.
 *
 * A 16 MiB source (kg pattern) is frozen and served; a dest pulls it to
 * complete; a 1-vCPU raw-KVM guest runs on an mmap of the dest and stays
 * alive for the whole test. Four rounds: the guest writes dword 0 of a
 * range of pages (its own seed, scrambled order; the ranges overlap, so
 * most pages are already mapped writable in KVM's MMU from an earlier
 * round), the vCPU stops ("VM paused"), the dest is committed: each epoch
 * must hold exactly the pages of its round (the seal write-protects them,
 * KVM must fault again through ->page_mkwrite). Epoch 4 with WAIT. A fifth
 * round is written and never committed. ROLLBACK: the source equals the
 * dest at commit 4, every page.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x6b766d00
#define PORT		7491
#define SRC		"ek-src"
#define DST		"ek-dst"
#define ROUNDS		5

static const struct { uint32_t first, count; } ranges[ROUNDS] = {
	{ 0, 2048 }, { 1024, 2048 }, { 0, PAGES }, { 512, 1024 }, { 1500, 1000 },
};

int main(void)
{
	uint8_t *model = malloc(SIZE), *image = malloc(SIZE), *scratch = malloc(SIZE);
	uint64_t p, epoch, pages, diff;
	struct ftpage_status sd, ss;
	struct kg_vm *vm = NULL;
	char path[64], err[256];
	uint8_t *map;
	int ctl, fd, ok, k, e;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !image || !scratch)
		tap_skip_all("out of memory");
	if (kg_kvm_available(err, sizeof(err)))
		tap_skip_all(err);
	tap_plan(13 + 2 * (ROUNDS - 1) + 1);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_short();

	ok = !ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE) &&
	     ftp_fill_pattern(SRC, SIZE, SEED, NULL) == (int64_t)PAGES &&
	     !ftp_freeze(ctl, SRC) && !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST);
	for (p = 0; p < PAGES; p++)
		kg_pattern_fill(model + p * KG_PAGE_SIZE, (uint32_t)p, SEED);
	ftp_netns_enter(FTP_PAIR_A_NS);
	ok = ok && !ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0);
	ftp_netns_enter(FTP_PAIR_B_NS);
	ok = ok && !ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT);
	ftp_netns_enter(NULL);
	ok = ok && !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &sd);
	if (!tap_check(ok, "source filled, frozen, served; dest pulled to complete"))
		return tap_finish();

	fd = open(ftp_node(path, sizeof(path), DST), O_RDWR | O_CLOEXEC);
	map = fd < 0 ? MAP_FAILED :
	      mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED)
		vm = ftp_guest_create(map, SIZE, 1);
	if (!tap_check(vm != NULL, "1-vCPU guest on an mmap of the dest"))
		return tap_finish();

	for (k = 1; k <= ROUNDS; k++) {
		struct kg_args a = {
			.first = ranges[k - 1].first, .count = ranges[k - 1].count,
			.seed = SEED + k, .start = (uint32_t)k * 37,
		};
		uint32_t flags = k == 4 ? FTPAGE_COMMIT_WAIT : 0;

		a.stride = kg_pick_stride(a.count, a.seed);
		a.start %= a.count;
		ok = !ftp_guest_run(vm, KG_PROG_TOUCH_WRITE, &a, 60) &&
		     vm->vcpus[0].result == a.count;
		for (p = a.first; p < a.first + a.count; p++) {
			uint32_t v = kg_pattern_word((uint32_t)p, a.seed, 0);

			memcpy(model + p * KG_PAGE_SIZE, &v, 4);
		}
		tap_check(ok, "round %d: guest writes dword 0 of pages %u..%u "
			  "(%u written)", k, a.first, a.first + a.count - 1,
			  vm->vcpus[0].result);
		if (k == ROUNDS)
			break;
		memcpy(image, model, SIZE);
		e = ftp_commit(ctl, DST, NULL, 0, flags, &epoch, &pages) ? errno : 0;
		tap_check(!e && epoch == (uint64_t)k && pages == a.count,
			  "round %d: commit%s: epoch %llu, %llu pages (want %u) (%s)",
			  k, flags ? " (wait)" : "", (unsigned long long)epoch,
			  (unsigned long long)pages, a.count, e ? strerror(e) : "ok");
	}
	tap_check(!ftp_region_read(DST, scratch, 0, SIZE) &&
		  !ftp_pages_diff(scratch, model, SIZE, "dest vs model", 4),
		  "dest equals the model (the guest's writes are all there)");
	ftp_status(ctl, SRC, &ss);
	ftp_epoch_diag(SRC, &ss);
	tap_check(ss.committed_epoch == 4, "source applied epoch 4");

	kg_vm_destroy(vm);
	munmap(map, SIZE);
	close(fd);
	ftp_kmsg_mark("epoch_kvm");
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status(ctl, SRC, &ss);
	ftp_epoch_diag(SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 4,
		  "source rolled-back at epoch 4");
	ok = !ftp_region_read(SRC, scratch, 0, SIZE);
	diff = ok ? ftp_pages_diff(scratch, image, SIZE, "source vs commit 4", 8) : ~0ull;
	tap_check(ok && !diff, "source equals the dest at commit 4, every page "
		  "(%llu differ)", (unsigned long long)diff);
	ok = !ftp_wait_link_down(ctl, DST, 10000, &sd);
	tap_check(ok, "dest's link goes down (connected %u)", sd.connected);
	/* It reconnects, hears of the rollback, never resumes. */
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_ABANDONED, 10000, &sd);
	tap_check(ok, "dest abandoned after the rollback (%s)",
		  ftp_state_str(sd.state));
	tap_check(ftp_kmsg_clean("epoch_kvm"), "no kernel warning");
	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC),
		  "destroy both regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
