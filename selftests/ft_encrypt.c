// SPDX-License-Identifier: GPL-2.0
/*
 * ft_encrypt (topology pair): encryption of the page traffic, and the one
 * destination host a source accepts.
 *
 * *_ENCRYPT with *_INSECURE is EINVAL; ALLOW_PEER refuses a port, flags,
 * a dest region, an address without a length. Every source page starts
 * with a marker string, and each destination pulls through a proxy
 * (tools/ftp_fakepeer proxy) that counts the markers in what the source
 * sends. In clear (authenticated, not encrypted) the markers show, one
 * per page at least; encrypted (SERVE_ENCRYPT + PULL_ENCRYPT) not one does,
 * both sides report FTPAGE_STATUS_ENCRYPTED, and the destination equals
 * the source exactly. An epoch committed on the encrypted destination is
 * applied on the source (the journal channel is sealed too): a ROLLBACK
 * leaves the source equal to that epoch's model. A source that requires
 * encryption refuses a destination that does not ask (ENOPROTOOPT, and
 * the log says why). Through a proxy that flips one bit of the source's
 * traffic every 256 KiB, every flip fails a message's authentication tag
 * (the log says so), the connection is reset and resumed, and the
 * destination still ends equal to the source. A source allowing only
 * another host refuses our destination (EACCES, logged); allowing ours, it
 * serves it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "kvm_guest.h"

#define MIB		(1ULL << 20)
#define SIZE		(4 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define PORT		7591	/* sources; +1 .. for the others */
#define PORT_PROXY	7597	/* proxies, one each: +0 .. +2 */
#define EVERY		(256 * 1024)
#define CAPFILE		"/tmp/ft_encrypt.cap"
#define READYFILE	"/tmp/ft_encrypt.ready"
#define COUNTFILE	"/tmp/ft_encrypt.count"
#define MARKER		"ftpage-plaintext-marker"
#define OTHER_HOST	"10.77.0.3"

static const char key[] = "ft_encrypt pre-shared key 0123456789";
static uint8_t model[SIZE];
static int ctl;

/* Every page: the marker, then the page number and a seeded stream. */
static void model_fill(void)
{
	uint64_t p;

	for (p = 0; p < PAGES; p++) {
		uint8_t *pg = model + p * KG_PAGE_SIZE;

		ftp_blob_fill(pg, KG_PAGE_SIZE, 0xe4c0 + p);
		memcpy(pg, MARKER, sizeof(MARKER) - 1);
	}
}

static long allow_raw(const char *name, const char *ip, uint16_t port,
		      uint32_t flags, uint32_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	struct ftpage_peer p = { .name = (uintptr_t)name, .flags = flags,
				 .addrlen = len };

	if (ip) {
		inet_pton(AF_INET, ip, &sin.sin_addr);
		p.addr = (uintptr_t)&sin;
	}
	return ioctl(ctl, FTPAGE_IOC_ALLOW_PEER, &p);
}

/*
 * A source region holding the model, keyed, accepting only @allow if not
 * NULL (ALLOW_PEER), frozen, served in ftpa.
 */
static bool source_up(const char *name, unsigned int port, uint32_t flags,
		      const char *allow)
{
	char node[64];
	int fd = -1;
	bool ok;

	ok = !ftp_create(ctl, name, SIZE, FTPAGE_ROLE_SOURCE) &&
	     !ftp_set_key(ctl, name, key, sizeof(key) - 1) &&
	     (!allow || !allow_raw(name, allow, 0, 0, sizeof(struct sockaddr_in)));
	if (ok) {
		fd = open(ftp_node(node, sizeof(node), name), O_RDWR);
		ok = fd >= 0 && pwrite(fd, model, SIZE, 0) == (ssize_t)SIZE;
		if (fd >= 0)
			close(fd);
	}
	ok = ok && !ftp_freeze(ctl, name) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, name, FTP_PAIR_A_ADDR, port, flags | FTP_SECURE);
	ftp_netns_enter(NULL);
	if (!ok)
		tap_diag("source %s: %s", name, strerror(errno));
	return ok;
}

/* A keyed dest region pulling src from ftpb; 0, or -1 with PULL's errno. */
static int dest_pull(const char *name, const char *src, unsigned int port,
		     uint32_t flags)
{
	int ret, err;

	if (ftp_create(ctl, name, SIZE, FTPAGE_ROLE_DEST) ||
	    ftp_set_key(ctl, name, key, sizeof(key) - 1) ||
	    ftp_netns_enter(FTP_PAIR_B_NS))
		return -1;
	ret = ftp_pull_flags(ctl, name, src, FTP_PAIR_A_ADDR, port,
			     flags | FTP_SECURE);
	err = errno;
	ftp_netns_enter(NULL);
	errno = err;
	return ret ? -1 : 0;
}

static uint64_t markers_seen(void)
{
	uint64_t n = ~0ull;
	int fd = open(COUNTFILE, O_RDONLY);

	if (fd >= 0 && pread(fd, &n, sizeof(n), 0) != sizeof(n))
		n = ~0ull;
	if (fd >= 0)
		close(fd);
	return n;
}

/*
 * A proxy on @pport to the source on @port, counting markers or flipping
 * bits; it runs until killed (a dest it serves reconnects to it).
 */
static pid_t proxy_up(unsigned int pport, unsigned int port, bool scan,
		      unsigned long every)
{
	pid_t pid;

	if (scan) {
		setenv("FTP_PROXY_SCAN", MARKER, 1);
		setenv("FTP_PROXY_SCAN_OUT", COUNTFILE, 1);
	}
	pid = ftp_proxy_start(pport, port, CAPFILE, READYFILE, every, 0);
	unsetenv("FTP_PROXY_SCAN");
	unsetenv("FTP_PROXY_SCAN_OUT");
	return pid;
}

static void proxy_down(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static uint32_t status_flags(const char *name)
{
	struct ftpage_status st;

	return ftp_status(ctl, name, &st) ? 0 : st.status_flags;
}

/* Complete within 60 s and equal to the model; one check. */
static bool dest_complete_exact(const char *name, struct ftpage_status *st)
{
	uint64_t diff;
	bool ok;

	ok = !ftp_wait_state(ctl, name, FTPAGE_STATE_COMPLETE, 60000, st);
	ftp_status_diag(name, st);
	diff = ok ? ftp_region_diff(name, model, SIZE, name, 8) : ~0ull;
	return tap_check(ok && diff == 0, "%s complete and equal to the source, "
			 "every page (%llu differ; errors %llu)", name,
			 (unsigned long long)diff, (unsigned long long)st->errors);
}

static void test_bad_input(void)
{
	tap_errno(ftp_serve(ctl, "fe-clr", FTP_PAIR_A_ADDR, PORT,
			    FTPAGE_SERVE_ENCRYPT), EINVAL,
		  "SERVE with ENCRYPT and INSECURE");
	tap_errno(ftp_pull_flags(ctl, "fe-d0", "fe-clr", FTP_PAIR_A_ADDR, PORT,
				 FTPAGE_PULL_ENCRYPT), EINVAL,
		  "PULL with ENCRYPT and INSECURE");
	tap_errno(allow_raw("fe-clr", OTHER_HOST, 7, 0, sizeof(struct sockaddr_in)),
		  EINVAL, "ALLOW_PEER with a port");
	tap_errno(allow_raw("fe-clr", OTHER_HOST, 0, 1, sizeof(struct sockaddr_in)),
		  EINVAL, "ALLOW_PEER with a flag");
	tap_errno(allow_raw("fe-clr", NULL, 0, 0, sizeof(struct sockaddr_in)),
		  EINVAL, "ALLOW_PEER with a length and no address");
	tap_errno(allow_raw("fe-d0", OTHER_HOST, 0, 0, sizeof(struct sockaddr_in)),
		  EINVAL, "ALLOW_PEER of a dest region");
	tap_errno(allow_raw("no-such", OTHER_HOST, 0, 0, sizeof(struct sockaddr_in)),
		  ENOENT, "ALLOW_PEER of a missing region");
}

/*
 * In clear, then encrypted, through the counting proxy. The encrypted
 * dest stays attached through its proxy (*@enc_proxy) for test_epoch().
 */
static void test_markers(pid_t *enc_proxy)
{
	char out[4096];
	struct ftpage_status st;
	pid_t proxy;
	uint64_t n;
	bool done;

	proxy = proxy_up(PORT_PROXY, PORT, true, 0);
	tap_check(proxy > 0 && !dest_pull("fe-d0", "fe-clr", PORT_PROXY, 0),
		  "clear: dest pulls (authenticated) through the counting proxy");
	done = dest_complete_exact("fe-d0", &st);
	n = markers_seen();
	tap_check(done && n != ~0ull && n >= PAGES &&
		  !(st.status_flags & FTPAGE_STATUS_ENCRYPTED),
		  "clear: the proxy sees the page content (%llu markers for %llu "
		  "pages), not reported encrypted", (unsigned long long)n,
		  (unsigned long long)PAGES);
	ftp_destroy(ctl, "fe-d0");
	proxy_down(proxy);

	tap_errno(dest_pull("fe-dx", "fe-enc", PORT + 1, 0), ENOPROTOOPT,
		  "a source requiring encryption refuses a dest that does not ask");
	tap_check(ftp_kmsg_has("ft_encrypt", "does not encrypt, and we require it"),
		  "the kernel log says why");

	*enc_proxy = proxy = proxy_up(PORT_PROXY + 1, PORT + 1, true, 0);
	tap_check(proxy > 0 && !dest_pull("fe-d1", "fe-enc", PORT_PROXY + 1,
					  FTPAGE_PULL_ENCRYPT),
		  "encrypted: dest pulls with ENCRYPT through the counting proxy");
	done = dest_complete_exact("fe-d1", &st);
	n = markers_seen();
	tap_check(done && n == 0, "encrypted: the proxy sees no page content "
		  "(%llu markers)", (unsigned long long)n);
	tap_check(done && (st.status_flags & FTPAGE_STATUS_ENCRYPTED) &&
		  (status_flags("fe-enc") & FTPAGE_STATUS_ENCRYPTED),
		  "both sides report encrypted");
	tap_check(!ftp_run_capture(out, sizeof(out), "ftpagectl status --json "
				   "fe-d1") && strstr(out, "\"encrypted\":true") &&
		  !ftp_run_capture(out, sizeof(out), "ftpagectl status --json "
				   "fe-clr") &&
		  strstr(out, "\"encrypted\":false"),
		  "ftpagectl status --json says \"encrypted\":true of the dest, "
		  "false of the clear source");
	tap_check(ftp_kmsg_has("ft_encrypt", "(demand channel, encrypted)"),
		  "the source logs encrypted channels");
}

static bool every_page(uint64_t p)
{
	(void)p;
	return true;
}

/* An epoch back over the sealed journal channel, then a rollback to it. */
static void test_epoch(void)
{
	struct ftpage_status st;
	struct ftp_commit_res res;
	bool ok;

	ftp_commit_check(ctl, "fe-d1", model, SIZE, 0xe9, every_page, NULL, 0,
			 FTPAGE_COMMIT_WAIT, 1, "encrypted: commit every page",
			 &res);
	ok = !ftp_status(ctl, "fe-enc", &st) && st.committed_epoch == 1;
	tap_check(ok, "the source applied epoch 1 (committed_epoch %llu)",
		  (unsigned long long)st.committed_epoch);
	tap_ok_call(ftp_rollback(ctl, "fe-enc"), "ROLLBACK of the source");
	tap_check(ftp_region_diff("fe-enc", model, SIZE, "fe-enc", 8) == 0,
		  "the source equals epoch 1's model, every page");
}

/* Bit flips on the sealed link: each caught by the tag, reset, resumed. */
static void test_tamper(void)
{
	struct ftpage_status st;
	pid_t proxy;

	proxy = proxy_up(PORT_PROXY + 2, PORT + 2, false, EVERY);
	tap_check(proxy > 0 && !dest_pull("fe-d2", "fe-tam", PORT_PROXY + 2,
					  FTPAGE_PULL_ENCRYPT),
		  "encrypted: dest pulls through a proxy flipping a bit every "
		  "%u KiB", EVERY / 1024);
	dest_complete_exact("fe-d2", &st);
	tap_check(ftp_kmsg_has("ft_encrypt", "failed its authentication tag") &&
		  st.reconnects >= 1,
		  "flips caught by the tag, connection reset and resumed (%llu "
		  "reconnects)", (unsigned long long)st.reconnects);
	ftp_destroy(ctl, "fe-d2");
	proxy_down(proxy);
}

static void test_allow(void)
{
	struct ftpage_status st;

	tap_errno(dest_pull("fe-d3", "fe-oth", PORT + 3, 0), EACCES,
		  "a source allowing only " OTHER_HOST " refuses our dest");
	tap_check(ftp_kmsg_has("ft_encrypt", "not the allowed destination"),
		  "the kernel log says why");
	tap_check(!dest_pull("fe-d4", "fe-ours", PORT + 4, 0),
		  "a source allowing %s serves it", FTP_PAIR_B_ADDR);
	dest_complete_exact("fe-d4", &st);
}

int main(void)
{
	static const char *const regions[] = {
		"fe-d0", "fe-dx", "fe-d1", "fe-d2", "fe-d3", "fe-d4",
		"fe-clr", "fe-enc", "fe-tam", "fe-oth", "fe-ours",
	};
	pid_t enc_proxy = -1;
	unsigned int i;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(34);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_short();
	ftp_kmsg_mark("ft_encrypt");
	model_fill();

	ok = source_up("fe-clr", PORT, 0, NULL) &&
	     source_up("fe-enc", PORT + 1, FTPAGE_SERVE_ENCRYPT, NULL) &&
	     source_up("fe-tam", PORT + 2, FTPAGE_SERVE_ENCRYPT, NULL) &&
	     source_up("fe-oth", PORT + 3, 0, OTHER_HOST) &&
	     source_up("fe-ours", PORT + 4, 0, FTP_PAIR_B_ADDR);
	tap_check(ok, "sources up: in clear, two requiring encryption, two "
		  "allowing one host (%s, %s)", OTHER_HOST, FTP_PAIR_B_ADDR);
	if (!ftp_create(ctl, "fe-d0", SIZE, FTPAGE_ROLE_DEST))
		test_bad_input();
	ftp_destroy(ctl, "fe-d0");

	test_markers(&enc_proxy);
	test_tamper();
	test_allow();
	test_epoch();		/* last: it changes the model */

	tap_check(ftp_kmsg_clean("ft_encrypt"), "no kernel warning");
	ok = true;
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
		ok &= !ftp_destroy(ctl, regions[i]) || errno == ENOENT;
	proxy_down(enc_proxy);
	tap_check(ok, "destroy every region");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
