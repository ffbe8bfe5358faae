// SPDX-License-Identifier: GPL-2.0
/*
 * ft_corrupt (topology pair): bytes corrupted in flight are caught by the
 * CRC32C every message carries, never applied.
 *
 * netem's corrupt flips bits in the packet headers here (a veth pair),
 * where IP and TCP catch them; so the destination pulls through a proxy
 * (tools/ftp_fakepeer proxy, FTP_PROXY_CORRUPT) that flips one bit of
 * what the source sends every 512 KiB of each connection, past the
 * handshake. Each flip resets the connection ("checksum mismatch" in the
 * kernel log), the destination reconnects and resumes; the 16 MiB region
 * ends exactly equal to the source, and the dest's reconnects count the
 * resets.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "kvm_guest.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define SEED		0xc0bbe1ed
#define PORT		7561	/* the source */
#define PORT_PROXY	7562	/* the corrupting proxy to PORT */
#define SRC		"fc-src"
#define DST		"fc-dst"
#define EVERY		(512 * 1024)
#define CAPFILE		"/tmp/ft_corrupt.cap"
#define READYFILE	"/tmp/ft_corrupt.ready"

int main(void)
{
	struct ftpage_status sd;
	struct ftp_digest ds, dd;
	int64_t written = -1;
	pid_t proxy;
	int ctl;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(11);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(2000, 30000);
	ftp_kmsg_mark("ft_corrupt");

	ok = !ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE) &&
	     (written = ftp_fill_pattern(SRC, SIZE, SEED, NULL)) > 0 &&
	     !ftp_freeze(ctl, SRC) && !ftp_netns_enter(FTP_PAIR_A_NS) &&
	     !ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0);
	ftp_netns_enter(NULL);
	tap_check(ok && !ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST),
		  "source filled (%lld pages), frozen, served; dest created",
		  (long long)written);
	proxy = ftp_proxy_start(PORT_PROXY, PORT, CAPFILE, READYFILE, EVERY);
	if (!tap_check(proxy > 0, "proxy flipping a bit every %u KiB listens",
		       EVERY / 1024))
		return tap_finish();

	ok = !ftp_netns_enter(FTP_PAIR_B_NS) &&
	     !ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT_PROXY);
	ftp_netns_enter(NULL);
	tap_check(ok, "dest pulls through the proxy");
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 90000, &sd);
	ftp_status_diag(DST, &sd);
	tap_check(ok, "dest complete (reconnects %llu)",
		  (unsigned long long)sd.reconnects);
	tap_check(ftp_kmsg_has("ft_corrupt", "checksum mismatch") &&
		  sd.reconnects >= 1,
		  "corruption caught by the message CRC, connection reset and "
		  "resumed (%llu reconnects)", (unsigned long long)sd.reconnects);
	ok = !ftp_region_digest(SRC, SIZE, SEED, &ds) &&
	     !ftp_region_digest(DST, SIZE, SEED, &dd);
	tap_check(ok && dd.hash == ds.hash &&
		  dd.pattern_pages == (uint64_t)written,
		  "dest equals the source exactly: %llu pattern pages of %lld, "
		  "digest %016llx (source %016llx)",
		  (unsigned long long)dd.pattern_pages, (long long)written,
		  (unsigned long long)dd.hash, (unsigned long long)ds.hash);
	kill(proxy, SIGKILL);
	waitpid(proxy, NULL, 0);
	return ftp_pair_close(ctl, "ft_corrupt", DST, SRC);
}
