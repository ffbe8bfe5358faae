// SPDX-License-Identifier: GPL-2.0
/*
 * remote_kill (topology pair): waits for a missing page are killable and
 * bounded.
 *
 * Kill: module loaded with defaults (fault_timeout_ms 30000), source
 * served with --no-push, link cut (veth-a down in ftpa). A child touching
 * a missing dest page blocks; SIGKILL reaps it within 2 s; with the link
 * back up the same page (and another) is then fetched with the right
 * content, and the region reports no error.
 * Bound: module reloaded (by the test) with fault_timeout_ms=2000, link cut; a toucher
 * gets SIGBUS after ~2 s, status says last_error timeout, errors >= 1, and
 * the kernel log says why.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(4 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x4b111001
#define PORT		7431
#define KO		"/lib/ftpage/ftpage.ko"

static int ctl = -1;

static bool setup_pair(const char *src, const char *dst)
{
	bool ok;

	ctl = ftp_ctl_open();
	ok = ctl >= 0 && !ftp_create(ctl, src, SIZE, FTPAGE_ROLE_SOURCE) &&
	     ftp_fill_pattern(src, SIZE, SEED, NULL) == PAGES &&
	     !ftp_freeze(ctl, src) &&
	     !ftp_create(ctl, dst, SIZE, FTPAGE_ROLE_DEST) &&
	     !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, src, FTP_PAIR_A_ADDR, PORT, FTPAGE_SERVE_NO_PUSH) &&
	     !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull(ctl, dst, src, FTP_PAIR_A_ADDR, PORT);
	if (!ok)
		tap_diag("setup: %s", strerror(errno));
	ftp_netns_enter(NULL);
	return tap_check(ok, "source %s served (--no-push) in ftpa, dest %s "
			 "pulls in ftpb", src, dst);
}

static void teardown_pair(const char *src, const char *dst)
{
	tap_check(!ftp_destroy(ctl, dst) && !ftp_destroy(ctl, src),
		  "destroy %s and %s", dst, src);
	close(ctl);
	ctl = -1;
}

/* touch page p in a child; expect a clean exit with the pattern */
static bool touch_ok(const char *dst, uint32_t p, unsigned int tmo_ms,
		     uint64_t *ms)
{
	int st = 0;
	pid_t pid = ftp_touch_child(dst, SIZE, p, true, kg_pattern_word(p, SEED, 0));
	int r = ftp_wait_child(pid, tmo_ms, &st, ms);

	if (r != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return false;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_kill(void)
{
	struct ftpage_status st;
	uint64_t ms = 0;
	int status = 0, r;
	pid_t pid;
	char s;

	if (!setup_pair("k-src", "k-dst"))
		return;
	tap_check(touch_ok("k-dst", 1, 10000, &ms), "link up: page 1 fetched "
		  "(%llu ms)", (unsigned long long)ms);
	tap_check(!ftp_pair_link(false), "cut the link (veth-a down)");

	pid = ftp_touch_child("k-dst", SIZE, 7, false, 0);
	r = ftp_wait_child(pid, 1500, &status, NULL);
	s = ftp_proc_state(pid);
	tap_check(r == 0 && (s == 'S' || s == 'D'), "a toucher of missing page "
		  "7 blocks (after 1.5 s: %s, state %c)", r ? "exited" :
		  "running", s ? s : '-');
	kill(pid, SIGKILL);
	r = ftp_wait_child(pid, 5000, &status, &ms);
	tap_check(r == 1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
		  ms <= 2000, "SIGKILL reaps it in %llu ms (<= 2000)",
		  (unsigned long long)ms);
	if (r != 1)
		waitpid(pid, &status, 0);

	ftp_status(ctl, "k-dst", &st);
	ftp_status_diag("k-dst", &st);
	tap_check(st.state == FTPAGE_STATE_PULLING && st.errors == 0,
		  "dest still pulling, no error (state %s, errors %llu)",
		  ftp_state_str(st.state), (unsigned long long)st.errors);

	tap_check(!ftp_pair_link(true), "link back up");
	tap_check(touch_ok("k-dst", 7, 25000, &ms), "page 7 then fetched with "
		  "the right content (%llu ms)", (unsigned long long)ms);
	tap_check(touch_ok("k-dst", 8, 10000, &ms), "page 8 too (%llu ms)",
		  (unsigned long long)ms);
	ftp_status(ctl, "k-dst", &st);
	ftp_status_diag("k-dst", &st);
	tap_check(st.errors == 0 && st.pages_fetched == 3 &&
		  st.demand_faults == 3, "errors 0, demand_faults %llu == "
		  "pages_fetched %llu == 3", (unsigned long long)st.demand_faults,
		  (unsigned long long)st.pages_fetched);
	teardown_pair("k-src", "k-dst");
}

static void test_timeout(void)
{
	struct ftpage_status st;
	uint64_t ms = 0;
	int status = 0, r;
	pid_t pid;

	if (!setup_pair("t-src", "t-dst"))
		return;
	tap_check(touch_ok("t-dst", 1, 10000, &ms), "link up: page 1 fetched");
	ftp_pair_link(false);
	ftp_kmsg_mark("timeout");
	pid = ftp_touch_child("t-dst", SIZE, 9, false, 0);
	r = ftp_wait_child(pid, 10000, &status, &ms);
	tap_check(r == 1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS &&
		  ms >= 1500 && ms <= 6000, "link cut: a toucher gets SIGBUS "
		  "after %llu ms (%s, want 2000 ms + slack)",
		  (unsigned long long)ms, r != 1 ? "still blocked" :
		  WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	if (r != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ftp_status(ctl, "t-dst", &st);
	ftp_status_diag("t-dst", &st);
	tap_check(st.last_error == FTPAGE_FERR_TIMEOUT && st.errors >= 1,
		  "status: last_error %s, errors %llu", ftp_ferr_str(st.last_error),
		  (unsigned long long)st.errors);
	tap_check(ftp_kmsg_has("timeout", "within 2000 ms") &&
		  ftp_kmsg_has("timeout", "SIGBUS to pid"),
		  "kernel log says why (no reply within 2000 ms, SIGBUS)");
	ftp_pair_link(true);
	teardown_pair("t-src", "t-dst");
}

static unsigned int param_timeout(void)
{
	FILE *f = fopen("/sys/module/ftpage/parameters/fault_timeout_ms", "r");
	unsigned int v = 0;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

int main(void)
{
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(20);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	/* not "noload": the runner packs the module only for tests it loads */
	tap_check(param_timeout() == 30000, "module loaded with defaults: "
		  "fault_timeout_ms %u", param_timeout());
	test_kill();
	ok = !ftp_sh("rmmod ftpage") &&
	     !ftp_sh("insmod " KO " fault_timeout_ms=2000");
	tap_check(ok && param_timeout() == 2000,
		  "reload with fault_timeout_ms=2000 (reads %u)", param_timeout());
	test_timeout();
	ftp_pair_teardown();
	return tap_finish();
}
