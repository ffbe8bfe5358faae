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
 *
 * Then the other way: a second pair (8 MiB) pulled to complete through a
 * proxy that flips one bit at byte 256 Ki of what the destination sends,
 * in the first 3 connections that send that much -- the epoch stream.
 * Epoch 1 stamps every page with a 4 KiB blob: each flip resets the
 * journal channel, the dest reconnects and sends the epoch again, and it
 * is committed on both sides. A ROLLBACK of the source then shows every
 * page equal to the model of epoch 1 and blob 1 as the checkpoint: no
 * flipped byte was applied.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
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

#define SIZE_UP		(8 * MIB)
#define PORT_UP		7563
#define PORT_UP_PROXY	7564
#define SRC_UP		"fc-src-up"
#define DST_UP		"fc-dst-up"
#define EVERY_UP	(256 * 1024)
#define FLIPS_UP	3
#define BLOB_LEN	4096

static bool every_page(uint64_t p)
{
	(void)p;
	return true;
}

/* Flips in what the destination sends: its epoch stream. */
static void corrupt_up(int ctl)
{
	uint8_t *model = malloc(SIZE_UP), blob[BLOB_LEN];
	struct ftpage_status sd, ss;
	pid_t proxy;
	bool ok;

	ftp_kmsg_mark("fc-up");
	ok = model && ftp_pair_serve(ctl, SRC_UP, DST_UP, SIZE_UP, SEED, NULL,
				     PORT_UP, 0, &(int64_t){ 0 });
	proxy = ok ? ftp_proxy_start(PORT_UP_PROXY, PORT_UP, CAPFILE,
				     READYFILE, EVERY_UP, FLIPS_UP) : -1;
	ok = proxy > 0 && !ftp_pair_pull_only(ctl, SRC_UP, DST_UP, PORT_UP_PROXY) &&
	     !ftp_wait_state(ctl, DST_UP, FTPAGE_STATE_COMPLETE, 60000, &sd);
	if (!tap_check(ok, "second pair pulled to complete through a proxy "
		       "flipping a bit at %u KiB of what the dest sends, %u "
		       "times", EVERY_UP / 1024, FLIPS_UP))
		goto out;
	ftp_pattern_image(model, SIZE_UP, SEED, NULL);
	ftp_blob_fill(blob, BLOB_LEN, 1);
	ftp_commit_check(ctl, DST_UP, model, SIZE_UP, 1, every_page, blob,
			 BLOB_LEN, 0, 1, "commit 1: every page", NULL);
	ftp_wait_committed(ctl, DST_UP, 1, 60000, &sd);
	ftp_status_epoch_diag(ctl, SRC_UP, &ss);
	tap_check(sd.committed_epoch == 1 && ss.committed_epoch == 1,
		  "epoch 1 committed through the flips (dest %llu, source %llu)",
		  (unsigned long long)sd.committed_epoch,
		  (unsigned long long)ss.committed_epoch);
	/* -EBADMSG: the CRC check ("checksum mismatch", rate-limited) */
	tap_check(ftp_kmsg_has("fc-up", SRC_UP ": epoch 1 dropped unapplied (-74)") &&
		  sd.reconnects >= 1,
		  "flips caught by the source's CRC check, the epoch dropped "
		  "unapplied, the dest reconnected (%llu reconnects)",
		  (unsigned long long)sd.reconnects);
	tap_call(ftp_rollback(ctl, SRC_UP), "rollback the source");
	ftp_rolled_back_check(ctl, SRC_UP, model, SIZE_UP, 1, blob, BLOB_LEN,
			      "blob 1");
out:
	if (proxy > 0) {
		kill(proxy, SIGKILL);
		waitpid(proxy, NULL, 0);
	}
	free(model);
	ftp_destroy(ctl, DST_UP);
	ftp_destroy(ctl, SRC_UP);
}

int main(void)
{
	struct ftpage_status sd;
	struct ftp_digest ds, dd;
	int64_t written = -1;
	pid_t proxy;
	int ctl;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(18);
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
	proxy = ftp_proxy_start(PORT_PROXY, PORT, CAPFILE, READYFILE, EVERY, 0);
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
	corrupt_up(ctl);
	return ftp_pair_close(ctl, "ft_corrupt", DST, SRC);
}
