// SPDX-License-Identifier: GPL-2.0
/*
 * remote_teardown (topology pair): destroying either side never hangs.
 *
 * 1. Destroy the dest while a child is blocked on a missing page (link
 *    cut): the child gets SIGBUS promptly, the destroy returns promptly.
 * 2. Destroy the source while a dest pulls (--no-push, some pages
 *    fetched): the source tells the dest, which is abandoned at once (its
 *    missing pages can never come): every access SIGBUSes at once (fetched
 *    pages too: it never runs on), pread fails, no hang.
 * 3. rmmod is refused while a region is mapped, and succeeds once it is
 *    unmapped and closed (the regions left are destroyed by the unload).
 * The runner fails the test on kernel warnings in the log.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(4 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x7ea4d0e1

static int ctl;

static int link_set(const char *updown)
{
	return ftp_sh("nsenter --net=/host/run/netns/" FTP_PAIR_A_NS
		      " ip link set veth-a %s", updown);
}

static bool setup_pair(const char *src, const char *dst, unsigned int port)
{
	bool ok = !ftp_create(ctl, src, SIZE, FTPAGE_ROLE_SOURCE) &&
		  ftp_fill_pattern(src, SIZE, SEED, NULL) == PAGES &&
		  !ftp_freeze(ctl, src) &&
		  !ftp_create(ctl, dst, SIZE, FTPAGE_ROLE_DEST) &&
		  !ftp_netns_enter(FTP_PAIR_A_NS) &&
		  !ftp_serve(ctl, src, FTP_PAIR_A_ADDR, port, FTPAGE_SERVE_NO_PUSH) &&
		  !ftp_netns_enter(FTP_PAIR_B_NS) &&
		  !ftp_pull(ctl, dst, src, FTP_PAIR_A_ADDR, port);

	if (!ok)
		tap_diag("setup: %s", strerror(errno));
	ftp_netns_enter(NULL);
	return tap_check(ok, "source %s (--no-push) in ftpa, dest %s pulls in "
			 "ftpb", src, dst);
}

/* touch page p in a child, wait up to tmo_ms: exit code, -SIG, or -1000 */
static int touch(const char *dst, uint32_t p, unsigned int tmo_ms, uint64_t *ms)
{
	int st = 0;
	pid_t pid = ftp_touch_child(dst, SIZE, p, true, kg_pattern_word(p, SEED, 0));

	if (ftp_wait_child(pid, tmo_ms, &st, ms) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1000;
	}
	return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

static void test_destroy_dest(void)
{
	uint64_t ms, t0;
	int st = 0, r;
	pid_t pid;

	if (!setup_pair("td-src", "td-dst", 7461))
		return;
	tap_check(touch("td-dst", 2, 10000, &ms) == 0, "page 2 fetched");
	link_set("down");
	pid = ftp_touch_child("td-dst", SIZE, 5, false, 0);
	r = ftp_wait_child(pid, 1000, &st, NULL);
	tap_check(r == 0, "link cut: a toucher of page 5 blocks");
	t0 = ftp_now_ms();
	tap_call(ftp_destroy(ctl, "td-dst"), "destroy the dest while it waits "
		 "(%llu ms)", (unsigned long long)(ftp_now_ms() - t0));
	r = ftp_wait_child(pid, 5000, &st, &ms);
	tap_check(r == 1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS &&
		  ftp_now_ms() - t0 <= 2000, "the waiter gets SIGBUS %llu ms "
		  "after the destroy (%s)", (unsigned long long)(ftp_now_ms() - t0),
		  r != 1 ? "still blocked" : WIFSIGNALED(st) ?
		  strsignal(WTERMSIG(st)) : "exited");
	if (r != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	link_set("up");
	tap_call(ftp_destroy(ctl, "td-src"), "destroy the source");
}

/* returns with td2-dst mapped at *mem, fd *fd (for the rmmod case) */
static void test_destroy_source(int *fd, void **mem)
{
	struct ftpage_status st;
	char path[64], buf[16];
	uint64_t ms;
	int r, ok;

	*fd = -1;
	*mem = MAP_FAILED;
	if (!setup_pair("ts-src", "ts-dst", 7462))
		return;
	*fd = open(ftp_node(path, sizeof(path), "ts-dst"), O_RDWR | O_CLOEXEC);
	if (*fd >= 0)
		*mem = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, *fd, 0);
	tap_check(*mem != MAP_FAILED &&
		  kg_pattern_check((char *)*mem + 3 * KG_PAGE_SIZE, 3, SEED) &&
		  kg_pattern_check((char *)*mem + 4 * KG_PAGE_SIZE, 4, SEED),
		  "pages 3 and 4 fetched through a mapping");
	tap_call(ftp_destroy(ctl, "ts-src"), "destroy the source while the "
		 "dest pulls");
	ok = !ftp_wait_state(ctl, "ts-dst", FTPAGE_STATE_ABANDONED, 5000, &st);
	ftp_status_diag("ts-dst", &st);
	tap_check(ok && st.connected == 0,
		  "dest abandoned at once (state %s, connected %u)",
		  ftp_state_str(st.state), st.connected);
	r = touch("ts-dst", 3, 5000, &ms);
	tap_check(r == -SIGBUS, "a fetched page: SIGBUS (%d)", r);
	r = touch("ts-dst", 10, 5000, &ms);
	tap_check(r == -SIGBUS && ms <= 2000, "a missing page: SIGBUS in "
		  "%llu ms (%d)", (unsigned long long)ms, r);
	r = pread(*fd, buf, sizeof(buf), 11 * KG_PAGE_SIZE);
	tap_check(r < 0, "pread of a missing page fails (%s)",
		  r < 0 ? strerror(errno) : "succeeded");
	ftp_status(ctl, "ts-dst", &st);
	tap_check(st.errors >= 1 && st.state == FTPAGE_STATE_ABANDONED &&
		  st.last_error == FTPAGE_FERR_ABANDONED,
		  "errors %llu >= 1, last_error %s, still abandoned",
		  (unsigned long long)st.errors, ftp_ferr_str(st.last_error));
}

int main(void)
{
	void *mem;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(19);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	test_destroy_dest();
	test_destroy_source(&fd, &mem);
	close(ctl);

	tap_check(ftp_sh("rmmod ftpage 2>/dev/null") != 0 &&
		  !access("/sys/module/ftpage", F_OK),
		  "rmmod refused while ts-dst is mapped");
	if (mem != MAP_FAILED)
		munmap(mem, SIZE);
	if (fd >= 0)
		close(fd);
	tap_check(ftp_sh("rmmod ftpage") == 0 &&
		  access("/sys/module/ftpage", F_OK) && errno == ENOENT,
		  "rmmod succeeds after unmap + close");
	tap_check(ftp_sh("insmod /lib/ftpage/ftpage.ko") == 0 &&
		  (ctl = ftp_ctl_open()) >= 0 && !ftp_create(ctl, "again", SIZE,
		  FTPAGE_ROLE_SOURCE) && !ftp_destroy(ctl, "again"),
		  "module loads and works again");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
