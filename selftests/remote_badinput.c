// SPDX-License-Identifier: GPL-2.0
/*
 * remote_badinput (topology pair): SERVE/PULL refuse bad input with the
 * documented error codes, and the wire protocol survives bad peers.
 *
 * Control API: serve twice (EBUSY), serve a dest / pull a source (EINVAL),
 * unknown flags, non-zero reserved, peer_name on SERVE (EINVAL), pull to a
 * closed port (ECONNREFUSED), of a missing source region (ENOENT), with a
 * size mismatch (EINVAL), pull twice (EBUSY).
 * Wire (tools/ftp_fakepeer, built with the module's proto.c): a HELLO with
 * versions 2..3 gets ERROR(VERSION) and the kernel log names the versions;
 * a fake source answering HELLO_ACK version 9 makes PULL fail with
 * EPROTONOSUPPORT, one announcing another page count with EINVAL, both
 * explained in the kernel log; garbage sent to the listening port gets the
 * connection dropped (logged), and a real dest still pulls the region
 * with the right content afterwards.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(4 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xbad1f00d
#define PORT		7441	/* the real source */
#define PORT_CLOSED	7449
#define PORT_FAKE	7442

static int ctl;

static long peer_ioctl(unsigned long cmd, const char *name, const char *peer,
		       unsigned int port, uint32_t flags, int reserved_idx)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ftpage_peer p = {
		.name = (uintptr_t)name, .addr = (uintptr_t)&sin,
		.addrlen = sizeof(sin),
		.flags = flags | FTPAGE_SERVE_INSECURE,	/* == PULL_INSECURE */
		.peer_name = (uintptr_t)peer,
	};

	inet_pton(AF_INET, FTP_PAIR_A_ADDR, &sin.sin_addr);
	if (reserved_idx >= 0)
		p.reserved[reserved_idx] = 1;
	return ioctl(ctl, cmd, &p);
}

/* Start a fake source in ftpa; returns its pid once it listens. */
static pid_t fake_source(unsigned int port, unsigned int version,
			 unsigned long long pages)
{
	const char *ready = "/tmp/fakepeer.ready";
	char p[16], v[16], n[32];
	uint64_t t0;
	pid_t pid;

	unlink(ready);
	snprintf(p, sizeof(p), "%u", port);
	snprintf(v, sizeof(v), "%u", version);
	snprintf(n, sizeof(n), "%llu", pages);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (ftp_netns_enter(FTP_PAIR_A_NS))
			_exit(3);
		execlp("ftp_fakepeer", "ftp_fakepeer", "source", FTP_PAIR_A_ADDR,
		       p, v, n, ready, (char *)NULL);
		_exit(127);
	}
	for (t0 = ftp_now_ms(); ftp_now_ms() - t0 < 5000; ftp_sleep_ms(20))
		if (!access(ready, F_OK))
			return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void test_control(void)
{
	tap_errno(peer_ioctl(FTPAGE_IOC_SERVE, "bi-src", NULL, PORT, 0, -1),
		  EBUSY, "serve twice");
	tap_errno(peer_ioctl(FTPAGE_IOC_SERVE, "bi-src", NULL, PORT + 100,
			     1u << 7, -1), EINVAL, "serve with an unknown flag");
	tap_errno(peer_ioctl(FTPAGE_IOC_SERVE, "bi-src", NULL, PORT + 100, 0, 2),
		  EINVAL, "serve with reserved[2] != 0");
	tap_errno(peer_ioctl(FTPAGE_IOC_SERVE, "bi-src", "x", PORT + 100, 0, -1),
		  EINVAL, "serve with a peer_name");
	tap_errno(peer_ioctl(FTPAGE_IOC_SERVE, "bi-dst", NULL, PORT + 101, 0, -1),
		  EINVAL, "serve a dest region");
	tap_errno(peer_ioctl(FTPAGE_IOC_PULL, "bi-src", NULL, PORT, 0, -1),
		  EINVAL, "pull into a source region");
	tap_errno(peer_ioctl(FTPAGE_IOC_PULL, "bi-dst", "bi-src", PORT,
			     FTPAGE_SERVE_NO_PUSH, -1), EINVAL,
		  "pull with an unknown flag (SERVE's NO_PUSH)");
	tap_errno(peer_ioctl(FTPAGE_IOC_PULL, "bi-dst", "bi-src", PORT, 0, 0),
		  EINVAL, "pull with reserved[0] != 0");
	tap_errno(peer_ioctl(FTPAGE_IOC_PULL, "no-such", "bi-src", PORT, 0, -1),
		  ENOENT, "pull into a missing local region");
	tap_errno(ftp_pull(ctl, "bi-dst", "bi-src", FTP_PAIR_A_ADDR, PORT_CLOSED),
		  ECONNREFUSED, "pull from a closed port");
	ftp_kmsg_mark("noregion");
	tap_errno(ftp_pull(ctl, "bi-dst", "no-such-src", FTP_PAIR_A_ADDR, PORT),
		  ENOENT, "pull naming a missing source region");
	tap_check(ftp_kmsg_has("noregion", "no such source region"),
		  "kernel log: no such source region");
	ftp_kmsg_mark("size");
	tap_errno(ftp_pull(ctl, "bi-small", "bi-src", FTP_PAIR_A_ADDR, PORT),
		  EINVAL, "pull with a size mismatch (2 MiB dest, 4 MiB source)");
	tap_check(ftp_kmsg_has("size", "region size differs"),
		  "kernel log: region size differs");
}

static void test_wire(void)
{
	char out[2048];
	pid_t pid;
	int st, rc;

	ftp_kmsg_mark("version");
	rc = ftp_run_capture(out, sizeof(out), "nsenter --net=/host/run/netns/"
			 FTP_PAIR_B_NS " ftp_fakepeer hello " FTP_PAIR_A_ADDR
			 " %d bi-src %llu 2 3 2>&1", PORT,
			 (unsigned long long)SIZE);
	tap_check(rc == 0 && strstr(out, "reply ERROR code=1"),
		  "HELLO with versions 2..3 -> ERROR(VERSION)");
	tap_check(ftp_kmsg_has("version", "speaks protocol versions 2..3, we speak 1..1"),
		  "kernel log names the versions");

	ftp_kmsg_mark("ack9");
	pid = fake_source(PORT_FAKE, 9, PAGES);
	tap_check(pid > 0, "fake source (HELLO_ACK version 9) listens in ftpa");
	tap_errno(ftp_pull(ctl, "bi-dst", "bi-src", FTP_PAIR_A_ADDR, PORT_FAKE),
		  EPROTONOSUPPORT, "pull from a source that answers version 9");
	if (pid > 0) {
		ftp_wait_child(pid, 15000, &st, NULL);
		tap_check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "the dest closed the fake source's connection");
	} else {
		tap_check(0, "the dest closed the fake source's connection");
	}
	tap_check(ftp_kmsg_has("ack9", "source speaks protocol version 9, we speak 1..1"),
		  "kernel log says why");

	ftp_kmsg_mark("pages");
	pid = fake_source(PORT_FAKE + 1, 1, 999);
	tap_errno(ftp_pull(ctl, "bi-dst", "bi-src", FTP_PAIR_A_ADDR, PORT_FAKE + 1),
		  EINVAL, "pull from a source announcing 999 pages");
	if (pid > 0)
		ftp_wait_child(pid, 15000, &st, NULL);
	tap_check(ftp_kmsg_has("pages", "source region has 999 pages, we have 1024"),
		  "kernel log: source region has 999 pages, we have 1024");

	ftp_kmsg_mark("garbage");
	rc = ftp_run_capture(out, sizeof(out), "nsenter --net=/host/run/netns/"
			 FTP_PAIR_B_NS " ftp_fakepeer garbage " FTP_PAIR_A_ADDR
			 " %d 4096 2>&1", PORT);
	tap_check(rc == 0 && strstr(out, "connection closed"),
		  "garbage to the listening port: connection dropped");
	tap_check(ftp_kmsg_has("garbage", "malformed message"),
		  "kernel log says why");
}

static void test_real_pull(void)
{
	struct ftpage_status st;
	struct ftp_digest ds, dd;
	int ok;

	tap_call(ftp_pull(ctl, "bi-dst", "bi-src", FTP_PAIR_A_ADDR, PORT),
		 "a real dest pulls after all that");
	tap_errno(ftp_pull(ctl, "bi-dst", "bi-src", FTP_PAIR_A_ADDR, PORT),
		  EBUSY, "pull twice");
	ok = !ftp_wait_state(ctl, "bi-dst", FTPAGE_STATE_COMPLETE, 60000, &st);
	ftp_status_diag("bi-dst", &st);
	ok = ok && !ftp_region_digest("bi-src", SIZE, SEED, &ds) &&
	     !ftp_region_digest("bi-dst", SIZE, SEED, &dd);
	tap_check(ok && ds.hash == dd.hash && dd.pattern_pages == PAGES &&
		  st.errors == 0, "dest complete, equals the source (%llu "
		  "pattern pages)", (unsigned long long)dd.pattern_pages);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(32);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	tap_check(!ftp_create(ctl, "bi-src", SIZE, FTPAGE_ROLE_SOURCE) &&
		  ftp_fill_pattern("bi-src", SIZE, SEED, NULL) == PAGES &&
		  !ftp_freeze(ctl, "bi-src") &&
		  !ftp_create(ctl, "bi-dst", SIZE, FTPAGE_ROLE_DEST) &&
		  !ftp_create(ctl, "bi-small", SIZE / 2, FTPAGE_ROLE_DEST),
		  "source (filled, frozen), dest and a smaller dest");
	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, "bi-src", FTP_PAIR_A_ADDR, PORT, 0),
		 "serve in ftpa");
	ftp_netns_enter(FTP_PAIR_B_NS);
	test_control();
	test_wire();
	test_real_pull();
	ftp_netns_enter(NULL);
	tap_check(!ftp_destroy(ctl, "bi-dst") && !ftp_destroy(ctl, "bi-small") &&
		  !ftp_destroy(ctl, "bi-src"), "destroy the regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
