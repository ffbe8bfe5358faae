// SPDX-License-Identifier: GPL-2.0
/*
 * auth_keys (topology pair): peers authenticate with a pre-shared key.
 *
 * SET_KEY refuses keys shorter than 16 or longer than 64 bytes, unknown
 * flags and non-zero reserved fields (EINVAL), a missing region (ENOENT).
 * SERVE and PULL of a region without a key fail with ENOKEY unless
 * *_INSECURE, which status reports (FTPAGE_STATUS_INSECURE); the kernel
 * log says why. Against a source with key K: a destination without a key
 * (pulling --insecure), and one with another key, are refused
 * (EKEYREJECTED), and so is a destination with a key against a source
 * that serves without one; each time the kernel log says why. A real
 * destination with K pulls through a recording proxy (tools/ftp_fakepeer
 * proxy) and completes with the source's exact content; replaying the
 * handshake the proxy recorded is refused with ERROR(AUTH), and the
 * real destination stays attached and complete. The keys never show up
 * in the kernel log.
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
#define SEED		0xa7e1c0de
#define PORT		7471	/* the source, with a key */
#define PORT_INSECURE	7472	/* a source without */
#define PORT_PROXY	7473	/* the recording proxy to PORT */
#define CAPFILE		"/tmp/auth_keys.cap"
#define READYFILE	"/tmp/auth_keys.ready"

/* Printable, so that the log check below can look for them. */
static const char key1[] = "auth_keys key one: 7d1f0a9c3b5e2468";
static const char key2[] = "auth_keys key two: 13579bdf02468ace";

static int ctl;

static long set_key_raw(const char *name, const void *key, uint32_t len,
			uint32_t flags, int reserved_idx)
{
	struct ftpage_key k = {
		.name = (uintptr_t)name, .key = (uintptr_t)key,
		.key_len = len, .flags = flags,
	};

	if (reserved_idx >= 0)
		k.reserved[reserved_idx] = 1;
	return ioctl(ctl, FTPAGE_IOC_SET_KEY, &k);
}

static uint32_t status_flags(const char *name)
{
	struct ftpage_status st;

	return ftp_status(ctl, name, &st) ? ~0u : st.status_flags;
}

static void test_set_key(void)
{
	char big[FTPAGE_KEY_MAX + 1];

	memset(big, 'k', sizeof(big));
	tap_errno(set_key_raw("ak-src", big, FTPAGE_KEY_MIN - 1, 0, -1), EINVAL,
		  "a 15-byte key");
	tap_errno(set_key_raw("ak-src", big, FTPAGE_KEY_MAX + 1, 0, -1), EINVAL,
		  "a 65-byte key");
	tap_errno(set_key_raw("ak-src", big, 0, 0, -1), EINVAL, "an empty key");
	tap_errno(set_key_raw("ak-src", big, 32, 1, -1), EINVAL,
		  "SET_KEY with an unknown flag");
	tap_errno(set_key_raw("ak-src", big, 32, 0, 1), EINVAL,
		  "SET_KEY with reserved[1] != 0");
	tap_errno(set_key_raw("no-such", big, 32, 0, -1), ENOENT,
		  "SET_KEY of a missing region");
}

/* Refusals before a real destination came; the source serves with key1. */
static void test_refusals(void)
{
	ftp_kmsg_mark("ak-nokey");
	tap_errno(ftp_serve(ctl, "ak-src", FTP_PAIR_A_ADDR, PORT, FTP_SECURE),
		  ENOKEY, "serve without a key and without INSECURE");
	tap_check(ftp_kmsg_has("ak-nokey", "region ak-src: no key"),
		  "kernel log: no key");
	tap_call(ftp_set_key(ctl, "ak-src", key1, sizeof(key1) - 1),
		 "set the source's key (%zu bytes)", sizeof(key1) - 1);
	tap_call(ftp_serve(ctl, "ak-src", FTP_PAIR_A_ADDR, PORT, FTP_SECURE),
		 "serve with the key");
	tap_check(!(status_flags("ak-src") & FTPAGE_STATUS_INSECURE),
		  "status: the source is not insecure");

	ftp_netns_enter(FTP_PAIR_B_NS);
	tap_errno(ftp_pull_flags(ctl, "ak-nokey", "ak-src", FTP_PAIR_A_ADDR,
				 PORT, FTP_SECURE), ENOKEY,
		  "pull without a key and without INSECURE");

	ftp_kmsg_mark("ak-insecure-dest");
	tap_errno(ftp_pull(ctl, "ak-nokey", "ak-src", FTP_PAIR_A_ADDR, PORT),
		  EKEYREJECTED, "a destination without a key (INSECURE) is refused");
	tap_check(ftp_kmsg_has("ak-insecure-dest", "not authenticated: it does not authenticate"),
		  "kernel log: the destination does not authenticate");

	ftp_kmsg_mark("ak-wrong");
	tap_call(ftp_set_key(ctl, "ak-wrong", key2, sizeof(key2) - 1),
		 "another key on a second destination");
	tap_errno(ftp_pull_flags(ctl, "ak-wrong", "ak-src", FTP_PAIR_A_ADDR,
				 PORT, FTP_SECURE), EKEYREJECTED,
		  "a destination with the wrong key is refused");
	tap_check(ftp_kmsg_has("ak-wrong", "source not authenticated: its proof is wrong"),
		  "kernel log: the keys differ");

	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, "ak-src2", FTP_PAIR_A_ADDR, PORT_INSECURE, 0),
		 "serve a second source INSECURE");
	tap_check(status_flags("ak-src2") & FTPAGE_STATUS_INSECURE,
		  "status: that source is insecure");
	ftp_netns_enter(FTP_PAIR_B_NS);
	ftp_kmsg_mark("ak-insecure-src");
	tap_errno(ftp_pull_flags(ctl, "ak-wrong", "ak-src2", FTP_PAIR_A_ADDR,
				 PORT_INSECURE, FTP_SECURE), EKEYREJECTED,
		  "a destination with a key refuses a source without");
	tap_check(ftp_kmsg_has("ak-insecure-src", "wants authentication, but we serve with --insecure"),
		  "kernel log: the source does not authenticate");
	ftp_netns_enter(NULL);
}

static void test_real_and_replay(void)
{
	struct ftpage_status st;
	struct ftp_digest ds, dd;
	char out[2048];
	pid_t proxy;
	int ok, rc;

	proxy = ftp_proxy_start(PORT_PROXY, PORT, CAPFILE, READYFILE, 0, 0);
	tap_check(proxy > 0, "recording proxy listens in ftpa");
	tap_call(ftp_set_key(ctl, "ak-dst", key1, sizeof(key1) - 1),
		 "the right key on the real destination");
	ftp_netns_enter(FTP_PAIR_B_NS);
	tap_call(ftp_pull_flags(ctl, "ak-dst", "ak-src", FTP_PAIR_A_ADDR,
				PORT_PROXY, FTP_SECURE),
		 "the real destination pulls, through the proxy");
	ftp_netns_enter(NULL);
	ok = !ftp_wait_state(ctl, "ak-dst", FTPAGE_STATE_COMPLETE, 60000, &st);
	ftp_status_diag("ak-dst", &st);
	ok = ok && !ftp_region_digest("ak-src", SIZE, SEED, &ds) &&
	     !ftp_region_digest("ak-dst", SIZE, SEED, &dd);
	tap_check(ok && ds.hash == dd.hash && dd.pattern_pages == PAGES &&
		  st.errors == 0 && !(st.status_flags & FTPAGE_STATUS_INSECURE),
		  "dest complete, equals the source (%llu pattern pages), not insecure",
		  (unsigned long long)dd.pattern_pages);

	ftp_kmsg_mark("ak-replay");
	rc = ftp_run_capture(out, sizeof(out), "nsenter --net=/host/run/netns/"
			     FTP_PAIR_B_NS " ftp_fakepeer replay " FTP_PAIR_A_ADDR
			     " %d " CAPFILE " 2>&1", PORT);
	tap_check(rc == 0 && strstr(out, "reply HELLO_ACK") &&
		  strstr(out, "reply ERROR code=10"),
		  "a replayed handshake gets a fresh challenge, then ERROR(AUTH)");
	tap_check(ftp_kmsg_has("ak-replay", "not authenticated: its proof is wrong"),
		  "kernel log: the replayed proof is wrong");
	ftp_sleep_ms(1500);
	ok = !ftp_status(ctl, "ak-dst", &st);
	ftp_status_diag("ak-dst", &st);
	tap_check(ok && st.state == FTPAGE_STATE_COMPLETE &&
		  st.connected == ftp_channels(ftp_param_get("streams")) &&
		  st.reconnects == 0,
		  "the real destination is still complete and attached");

	tap_check(!ftp_destroy(ctl, "ak-dst") && !ftp_destroy(ctl, "ak-src"),
		  "destroy the pair");
	if (proxy > 0) {
		rc = ftp_wait_child(proxy, 10000, &ok, NULL);
		if (rc != 1) {
			kill(proxy, SIGKILL);
			waitpid(proxy, NULL, 0);
		}
		tap_check(rc == 1 && WIFEXITED(ok) && !WEXITSTATUS(ok),
			  "the proxy saw every connection closed");
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(36);
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return tap_finish();
	ftp_kmsg_mark("ak-begin");
	tap_check(!ftp_create(ctl, "ak-src", SIZE, FTPAGE_ROLE_SOURCE) &&
		  ftp_fill_pattern("ak-src", SIZE, SEED, NULL) == PAGES &&
		  !ftp_freeze(ctl, "ak-src") &&
		  !ftp_create(ctl, "ak-src2", SIZE, FTPAGE_ROLE_SOURCE) &&
		  !ftp_freeze(ctl, "ak-src2") &&
		  !ftp_create(ctl, "ak-dst", SIZE, FTPAGE_ROLE_DEST) &&
		  !ftp_create(ctl, "ak-nokey", SIZE, FTPAGE_ROLE_DEST) &&
		  !ftp_create(ctl, "ak-wrong", SIZE, FTPAGE_ROLE_DEST),
		  "sources (one filled), frozen, and three destinations");
	test_set_key();
	ftp_netns_enter(FTP_PAIR_A_NS);
	test_refusals();
	test_real_and_replay();
	tap_check(!ftp_destroy(ctl, "ak-src2") && !ftp_destroy(ctl, "ak-nokey") &&
		  !ftp_destroy(ctl, "ak-wrong"), "destroy the others");
	tap_check(ftp_sh("dmesg | grep -qF -e '%s' -e '%s' -e '7d1f0a9c3b5e2468'",
			 key1, key2) == 1, "the keys never show up in the kernel log");
	tap_check(ftp_kmsg_clean("ak-begin"), "no warning in the kernel log");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
