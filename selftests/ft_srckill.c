// SPDX-License-Identifier: GPL-2.0
/*
 * ft_srckill (topology pair): the source's memory lives in the module, so
 * killing the process that mapped and filled it does not stop a migration;
 * killing the destination's mapper does not harm the destination either.
 *
 * lease_ms=1000 rollback_after_ms=15000. A child process (the "source
 * VMM") opens its own control file, creates a 128 MiB source, maps it
 * read-write and fills it with the kg pattern through the mapping, freezes
 * and serves it (push) in ftpa, then keeps reading its mapping. Another
 * child (the "dest VMM") maps the dest and reads pages in a scrambled
 * order, checking each. Once 10% of the pages are known, both children
 * are killed with SIGKILL, the dest still pulling. The source region
 * lives on (state frozen, attached); the dest completes with no error and
 * every page equal to the pattern (the source's digest); the source learns
 * it is complete; no kernel warning.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(128 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xf15c0c11
#define PORT		7541
#define SRC		"fk-src"
#define DST		"fk-dst"

/* The source VMM: writes "ok\n" (or an error) to wfd once serving. */
static void source_vmm(int wfd)
{
	char path[64];
	uint8_t *m;
	uint64_t p, sum = 0;
	int ctl, fd;

	ctl = ftp_ctl_open();
	if (ctl < 0 || ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE))
		goto fail;
	fd = open(ftp_node(path, sizeof(path), SRC), O_RDWR);
	if (fd < 0)
		goto fail;
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	for (p = 0; p < PAGES; p++)
		kg_pattern_fill(m + p * KG_PAGE_SIZE, (uint32_t)p, SEED);
	if (ftp_freeze(ctl, SRC) || ftp_netns_enter(FTP_PAIR_A_NS) ||
	    ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0))
		goto fail;
	if (write(wfd, "ok\n", 3) != 3)
		_exit(2);
	for (;;)
		for (p = 0; p < PAGES; p += 17)
			sum += m[p * KG_PAGE_SIZE + (sum & 4095)];
fail:
	dprintf(wfd, "%s\n", strerror(errno));
	_exit(1);
}

int main(void)
{
	struct ftpage_status sd, ss;
	struct ftp_digest d;
	char msg[128] = "";
	int pfd[2], status = 0, ctl, dstatus = 0;
	pid_t src_pid, dst_pid;
	uint64_t t0;
	ssize_t n;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(15);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(1000, 15000);
	ftp_kmsg_mark("ft_srckill");

	if (pipe(pfd))
		return tap_finish();
	fflush(stdout);
	src_pid = fork();
	if (!src_pid) {
		close(pfd[0]);
		source_vmm(pfd[1]);
	}
	close(pfd[1]);
	t0 = ftp_now_ms();
	n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = 0;
	msg[strcspn(msg, "\n")] = 0;
	if (!tap_check(!strcmp(msg, "ok"), "source VMM (pid %d) filled %llu "
		       "MiB through its mapping, froze and served it in %llu ms "
		       "(%s)", (int)src_pid, (unsigned long long)(SIZE / MIB),
		       (unsigned long long)(ftp_now_ms() - t0), msg))
		return tap_finish();

	ok = !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST) &&
	     !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT);
	ftp_netns_enter(NULL);
	if (!tap_check(ok, "dest pulls in ftpb"))
		return tap_finish();
	/* the dest VMM: reads every 3rd page in a scrambled order */
	dst_pid = ftp_scan_child(DST, SIZE, SEED, NULL, 3);

	t0 = ftp_now_ms();
	do
		ftp_status(ctl, DST, &sd);
	while (sd.pages_known < PAGES / 10 && sd.state == FTPAGE_STATE_PULLING &&
	       ftp_now_ms() - t0 < 60000);
	kill(src_pid, SIGKILL);
	kill(dst_pid, SIGKILL);
	waitpid(src_pid, &status, 0);
	waitpid(dst_pid, &dstatus, 0);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "source VMM killed with SIGKILL");
	tap_check(WIFSIGNALED(dstatus) && WTERMSIG(dstatus) == SIGKILL,
		  "dest VMM killed with SIGKILL mid-way (not done reading)");
	tap_check(sd.state == FTPAGE_STATE_PULLING && sd.pages_known < PAGES,
		  "dest still pulling after the kills (%s, %llu of %llu pages)",
		  ftp_state_str(sd.state), (unsigned long long)sd.pages_known,
		  (unsigned long long)PAGES);
	ok = !ftp_status(ctl, SRC, &ss);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok && (ss.state == FTPAGE_STATE_FROZEN ||
			 ss.state == FTPAGE_STATE_COMPLETE) &&
		  (ss.status_flags & FTPAGE_STATUS_ATTACHED),
		  "source region lives on (%s), attached",
		  ok ? ftp_state_str(ss.state) : strerror(errno));

	t0 = ftp_now_ms();
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &sd);
	ftp_status_diag(DST, &sd);
	tap_check(ok && sd.pages_known == PAGES && sd.errors == 0,
		  "dest complete %llu ms later, no error (errors %llu)",
		  (unsigned long long)(ftp_now_ms() - t0),
		  (unsigned long long)sd.errors);
	ok = !ftp_region_digest(DST, SIZE, SEED, &d);
	tap_check(ok && d.pattern_pages == PAGES && d.nonzero_pages == PAGES,
		  "every dest page equals the pattern (%llu of %llu)",
		  (unsigned long long)d.pattern_pages, (unsigned long long)PAGES);
	{
		struct ftp_digest ds;

		ok = !ftp_region_digest(SRC, SIZE, SEED, &ds);
		tap_check(ok && ds.hash == d.hash && ds.pattern_pages == PAGES,
			  "source digest equal (%016llx)",
			  (unsigned long long)ds.hash);
	}
	ok = !ftp_wait_state(ctl, SRC, FTPAGE_STATE_COMPLETE, 10000, &ss);
	ftp_lease_diag(SRC, &ss);
	tap_check(ok, "source learns the dest is complete (%s)",
		  ftp_state_str(ss.state));
	return ftp_pair_close(ctl, "ft_srckill", DST, SRC);
}
