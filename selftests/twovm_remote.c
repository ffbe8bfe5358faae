// SPDX-License-Identifier: GPL-2.0
/*
 * twovm_remote (topology twovm): remote paging between two VMs.
 *
 * VM a: a 64 MiB source filled with the kvm_guest pattern, frozen and
 * served on 10.78.0.1; then waits (bounded) until its state is complete,
 * i.e. b told it every page arrived.
 * VM b: a dest pulls from a (retrying while a is not up yet); a 2-vCPU
 * raw-KVM guest whose RAM is the dest mapping verifies every page in a
 * scrambled order; the dest becomes complete (or done, once a destroyed
 * its source) with every page equal to the pattern.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(64 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x2f00aa55
#define PORT		7451
#define NR_VCPUS	2

static unsigned int budget_s(void)
{
	const char *t = getenv("FTP_TIMEOUT");
	unsigned int v = t ? (unsigned int)atoi(t) : 0;

	return v > 60 ? v - 30 : 150;
}

static int role_a(int ctl)
{
	struct ftpage_status st;
	int64_t written;
	int ok;

	tap_plan(5);
	tap_call(ftp_create(ctl, "tv-src", SIZE, FTPAGE_ROLE_SOURCE),
		 "create a %llu MiB source", (unsigned long long)(SIZE / MIB));
	written = ftp_fill_pattern("tv-src", SIZE, SEED, NULL);
	tap_check(written == (int64_t)PAGES && !ftp_freeze(ctl, "tv-src"),
		  "fill with the pattern, freeze");
	tap_call(ftp_serve(ctl, "tv-src", FTP_TWOVM_A_ADDR, PORT, 0),
		 "serve on %s:%d", FTP_TWOVM_A_ADDR, PORT);
	ok = !ftp_wait_state(ctl, "tv-src", FTPAGE_STATE_COMPLETE,
			     budget_s() * 1000, &st);
	ftp_status_diag("tv-src", &st);
	tap_check(ok && st.pages_known == PAGES, "source state complete "
		  "(%s), every page sent (%llu)", ftp_state_str(st.state),
		  (unsigned long long)st.pages_known);
	tap_call(ftp_destroy(ctl, "tv-src"), "destroy the source");
	return tap_finish();
}

static int role_b(int ctl)
{
	struct kg_args args[NR_VCPUS];
	struct ftpage_status st;
	struct ftp_digest d;
	struct kg_vm *vm = NULL;
	uint64_t t0 = ftp_now_ms();
	uint32_t bad = 0;
	void *mem = MAP_FAILED;
	char path[64];
	int ret, fd, ok;
	unsigned int i;

	tap_plan(7);
	tap_call(ftp_create(ctl, "tv-dst", SIZE, FTPAGE_ROLE_DEST), "create dest");
	/* a boots at about the same time: retry until it serves */
	ret = ftp_pull_retry(ctl, "tv-dst", "tv-src", FTP_TWOVM_A_ADDR, PORT,
			     120000);
	if (!tap_call(ret, "pull from a (%llu ms)",
		      (unsigned long long)(ftp_now_ms() - t0)))
		return tap_finish();

	fd = open(ftp_node(path, sizeof(path), "tv-dst"), O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem != MAP_FAILED)
		vm = ftp_guest_create(mem, SIZE, NR_VCPUS);
	if (!tap_check(vm != NULL, "KVM guest with %d vCPUs on the dest", NR_VCPUS))
		return tap_finish();
	kg_split_range(args, NR_VCPUS, 0, PAGES, SEED, true);
	t0 = ftp_now_ms();
	if (ftp_guest_run(vm, KG_PROG_VERIFY, args, 240))
		bad = PAGES;
	else
		for (i = 0; i < NR_VCPUS; i++)
			bad += vm->vcpus[i].result;
	tap_check(bad == 0, "guest verifies all %llu pages: %u bad, %llu ms",
		  (unsigned long long)PAGES, bad,
		  (unsigned long long)(ftp_now_ms() - t0));
	/*
	 * complete; or done: a may already have destroyed its source, which
	 * ends the migration of a complete destination (FTPAGE_STATE_DONE)
	 */
	t0 = ftp_now_ms();
	while (!(ok = !ftp_status(ctl, "tv-dst", &st) &&
		      (st.state == FTPAGE_STATE_COMPLETE ||
		       st.state == FTPAGE_STATE_DONE)) &&
	       ftp_now_ms() - t0 < 120000)
		ftp_sleep_ms(50);
	ftp_status_diag("tv-dst", &st);
	tap_check(ok && st.pages_known == PAGES && st.errors == 0,
		  "dest complete (%s), pages_known %llu, errors %llu",
		  ftp_state_str(st.state), (unsigned long long)st.pages_known,
		  (unsigned long long)st.errors);
	ok = !ftp_region_digest("tv-dst", SIZE, SEED, &d);
	tap_check(ok && d.pattern_pages == PAGES, "every dest page equals the "
		  "source's pattern (%llu)", (unsigned long long)d.pattern_pages);
	kg_vm_destroy(vm);
	munmap(mem, SIZE);
	close(fd);
	tap_call(ftp_destroy(ctl, "tv-dst"), "destroy the dest");
	return tap_finish();
}

int main(void)
{
	const char *role = getenv("FTP_ROLE");
	char err[256];
	int ctl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (role && !strcmp(role, "b") && kg_kvm_available(err, sizeof(err)))
		tap_skip_all(err);
	ctl = ftp_ctl_open();
	if (ctl < 0) {
		tap_plan(1);
		tap_call(ctl, "open the control node");
		return tap_finish();
	}
	return role && !strcmp(role, "b") ? role_b(ctl) : role_a(ctl);
}
