// SPDX-License-Identifier: GPL-2.0
/*
 * ft_stream_loss (topology pair): losing one TCP stream of a peer
 * connection loses no page and applies no epoch twice; epochs are striped
 * over every journal stream.
 *
 * streams=4 (4 push and 4 journal streams), lease_ms=1000, a 40 Mbit/s
 * cap on the link so that the push and the epochs take seconds.
 * Push: a 32 MiB source (kg pattern) is frozen and served with push; once
 * the dest has an eighth of it, the source's connection of push stream 0
 * is aborted (ss -K: a reset both ways), while pages are still missing.
 * The dest reconnects, completes and equals the source exactly.
 * Epoch 1 stamps every page (32 MiB of journal) and is committed without
 * waiting; once the source has some of it staged, one of its journal
 * connections other than stream 0 (debug=1 logs which) is aborted, before
 * the epoch is applied. The source logs the epoch dropped unapplied, the dest
 * reconnects and streams it again: committed_epoch 1 on both sides,
 * "applied epoch 1" logged exactly once.
 * Epoch 2 re-stamps every 3rd page with a 64 KiB blob, committed with
 * FTPAGE_COMMIT_WAIT; the source's 4 journal connections each received
 * at least 1 MiB (each carries a share of the pages). A ROLLBACK of the
 * source then gives exactly the model of epoch 2 and blob 2. No kernel
 * warning.
 */
#define _GNU_SOURCE
#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(32 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0x5e10550a
#define PORT		7651
#define SRC		"sl-src"
#define DST		"sl-dst"
#define STREAMS		4
#define MAX_CONNS	32
#define BLOB_LEN	(64 * 1024)
#define TAG		"ft_stream_loss"

static int ctl;

static bool every_page(uint64_t p)
{
	(void)p;
	return true;
}

static bool every_3rd(uint64_t p)
{
	return p % 3 == 1;
}

/* Abort the source's connection from peer port @port; true if done. */
static bool abort_conn(unsigned int port, const char *what)
{
	tap_diag("aborting %s, the source's connection from port %u", what,
		 port);
	return port && !ftp_ss_kill(FTP_PAIR_A_NS, PORT, port);
}

/* Source connections that received at least @min bytes, or -1. */
static int conns_received(uint64_t min)
{
	struct ftp_ss_conn c[MAX_CONNS];
	int i, n, count = 0;

	n = ftp_ss_conns(FTP_PAIR_A_NS, PORT, c, MAX_CONNS);
	for (i = 0; i < n && i < MAX_CONNS; i++) {
		tap_diag("source connection from port %u: received %llu, acked %llu",
			 c[i].peer_port, (unsigned long long)c[i].bytes_received,
			 (unsigned long long)c[i].bytes_acked);
		count += c[i].bytes_received >= min;
	}
	return n < 0 ? -1 : count;
}

static void push_stream_loss(uint8_t *model, int64_t *written)
{
	struct ftpage_status sd;
	bool ok;

	ok = ftp_pair_pull(ctl, SRC, DST, SIZE, SEED, NULL, PORT, 0, written);
	tap_check(ok, "dest pulling with %d streams", STREAMS);
	while (ok && !ftp_status(ctl, DST, &sd) &&
	       sd.state == FTPAGE_STATE_PULLING && sd.pages_known < PAGES / 8)
		ftp_sleep_ms(5);
	ok = ok && abort_conn(ftp_attached_port(SRC, "bulk channel)"),
			      "push stream 0");
	/* the abort landed while pages were still missing */
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(ok && (sd.state == FTPAGE_STATE_PULLING ||
			 sd.state == FTPAGE_STATE_BROKEN),
		  "an eighth in, one push stream aborted mid-push (%llu pages, "
		  "%s)", (unsigned long long)sd.pages_known,
		  ftp_state_str(sd.state));
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 90000, &sd);
	ftp_lease_diag(DST, &sd);
	tap_check(ok && sd.reconnects >= 1 && sd.errors == 0,
		  "dest reconnected (%llu) and completed, no error",
		  (unsigned long long)sd.reconnects);
	ftp_pattern_image(model, SIZE, SEED, NULL);
	ftp_exact_check(SRC, DST, SIZE, SEED, model, *written);
}

static void journal_stream_loss(uint8_t *model)
{
	unsigned int helper = ftp_attached_port(SRC, "journal channel [1-9]");
	struct ftpage_status sd, ss;
	uint64_t reconnects;
	bool ok;

	ftp_status(ctl, DST, &sd);
	reconnects = sd.reconnects;
	ftp_commit_check(ctl, DST, model, SIZE, 1, every_page, NULL, 0, 0, 1,
			 "commit 1 (no wait)", NULL);
	ftp_wait_staged(ctl, SRC, 0, 20000, &ss);
	ok = abort_conn(helper, "a journal stream but 0");
	/* the abort landed before the epoch was applied */
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(ok && ss.committed_epoch == 0,
		  "mid-epoch, journal stream from port %u aborted (source "
		  "committed_epoch %llu)", helper,
		  (unsigned long long)ss.committed_epoch);
	ftp_wait_committed(ctl, DST, 1, 60000, &sd);
	ftp_lease_diag(DST, &sd);
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(sd.committed_epoch == 1 && ss.committed_epoch == 1 &&
		  sd.reconnects > reconnects,
		  "epoch 1 applied after a reconnect (committed: dest %llu, "
		  "source %llu)", (unsigned long long)sd.committed_epoch,
		  (unsigned long long)ss.committed_epoch);
	tap_check(ftp_kmsg_has(TAG, "epoch 1 dropped unapplied") &&
		  ftp_kmsg_count(TAG, "applied epoch 1 ", 10) == 1,
		  "kernel log: epoch 1 dropped unapplied, then applied once");
}

int main(void)
{
	uint8_t *model = malloc(SIZE), *blob = malloc(BLOB_LEN);
	struct ftpage_status sd, ss;
	long long streams0;
	int64_t written = -1;
	int n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !blob)
		tap_skip_all("out of memory");
	tap_plan(21);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_check(1000, 15000);
	streams0 = ftp_param_get("streams");
	tap_check(!ftp_param_set("streams", STREAMS) &&
		  !ftp_param_set("debug", 1) &&
		  !ftp_pair_netem("rate 40000"),
		  "streams=%d, debug=1 (every stream's attach logged), link "
		  "capped at 40 Mbit/s", STREAMS);
	ftp_kmsg_mark(TAG);

	push_stream_loss(model, &written);
	journal_stream_loss(model);

	ftp_blob_fill(blob, BLOB_LEN, 2);
	ftp_commit_check(ctl, DST, model, SIZE, 2, every_3rd, blob, BLOB_LEN,
			 FTPAGE_COMMIT_WAIT, 2, "commit 2 (wait)", NULL);
	n = conns_received(MIB);
	tap_check(n == STREAMS, "epochs striped: %d source connections "
		  "received 1 MiB or more (want %d)", n, STREAMS);
	ftp_status_epoch_diag(ctl, DST, &sd);
	ftp_status_epoch_diag(ctl, SRC, &ss);
	tap_check(sd.committed_epoch == 2 && ss.committed_epoch == 2 &&
		  sd.journal_bytes == 0 && ss.journal_bytes == 0,
		  "both sides at committed_epoch 2, nothing in flight");
	tap_check(!ftp_region_diff(DST, model, SIZE, "dest vs model", 4),
		  "dest equals the model of epoch 2");
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_rolled_back_check(ctl, SRC, model, SIZE, 2, blob, BLOB_LEN,
			      "blob 2");

	ftp_pair_netem(NULL);
	ftp_param_set("debug", 0);
	if (streams0 > 0)
		ftp_param_set("streams", streams0);
	return ftp_pair_close(ctl, TAG, DST, SRC);
}
