// SPDX-License-Identifier: GPL-2.0
/*
 * ft_linkloss (topology pair): a permanent link loss fences the
 * destination within its lease, then the source rolls back by itself to
 * the last committed epoch -- never the other way round -- and a
 * destination that comes back later is abandoned.
 *
 * lease_ms=1000 rollback_after_ms=4000 (fault_timeout_ms stays 30000). A
 * 16 MiB source (kg pattern) is frozen and served with push; a dest pulls
 * it to complete. Leases: the source is ATTACHED with a deadline <= 4000
 * ms, the dest holds a lease <= 1000 ms. Epoch 1 (500 pages, 64 KiB blob)
 * and epoch 2 (300 pages overlapping them, 128 KiB blob) are committed with
 * FTPAGE_COMMIT_WAIT; the model is the image at commit 2. A ticker (a
 * child process stamping a counter into a mapped dest page, uncommitted)
 * runs; a thread waits in poll() on the source's node.
 * veth-a goes down for good. Within about the lease (<= lease + 1 s) the
 * dest is FENCED and the ticker's last write is no later; over a further
 * 1.5 s its counter does not move; a fresh reader of a local dest page
 * blocks too (every mapping zapped). The source reports POLLPRI by itself
 * no earlier than ~4 s after the cut and only after the dest fenced; its
 * state is rolled-back, not attached, committed_epoch 2; `ftpagectl wait`
 * prints rolled-back; every page equals the model of epoch 2 (the
 * ticker's page included); its checkpoint is blob 2; it is writable.
 * veth-a comes back: the dest reconnects, is told, becomes abandoned
 * (POLLPRI on its node, `ftpagectl wait` prints abandoned): the blocked
 * ticker and reader get SIGBUS, a new toucher too, pread fails,
 * last_error abandoned. The source stays rolled-back with its content. No
 * kernel warning.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xf1a91055
#define PORT		7531
#define SRC		"fl-src"
#define DST		"fl-dst"
#define LEASE_MS	1000
#define ROLLBACK_MS	4000
#define BLOB1_LEN	(64 * 1024)
#define BLOB2_LEN	(128 * 1024)
#define TICK_PAGE	77
#define READ_PAGE	1234

static int ctl;

static bool epoch1_pages(uint64_t p)
{
	return p % 8 == 1 && p / 8 < 500;
}

static bool epoch2_pages(uint64_t p)
{
	return p % 4 == 1 && p / 4 < 300;
}

static struct {
	uint64_t t;	/* when poll() returned */
	int r;
	uint64_t ms;
	atomic_int done;
} srcpoll;

static void *source_poller(void *arg)
{
	(void)arg;
	srcpoll.r = ftp_wait_ended(SRC, 30000, &srcpoll.ms);
	srcpoll.t = ftp_now_ms();
	atomic_store(&srcpoll.done, 1);
	return NULL;
}

static bool sigbus(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

int main(void)
{
	uint8_t *model = malloc(SIZE), *blob1 = malloc(BLOB1_LEN),
		*blob2 = malloc(BLOB2_LEN);
	uint64_t t_cut, t_fenced = 0, t_rb = 0, c1, c2, last, diff, ms = 0;
	struct ftpage_status sd, ss;
	struct ftp_ticker tick;
	int64_t written;
	char out[256], path[64];
	int status = 0, r, e, fd;
	pthread_t th;
	pid_t reader = -1, toucher;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!model || !blob1 || !blob2)
		tap_skip_all("out of memory");
	tap_plan(34);
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	tap_check(ftp_lease_params(LEASE_MS, ROLLBACK_MS, 0) &&
		  ftp_param_get("fault_timeout_ms") == 30000,
		  "lease_ms=%u rollback_after_ms=%u, fault_timeout_ms 30000",
		  LEASE_MS, ROLLBACK_MS);
	ftp_kmsg_mark("ft_linkloss");
	ok = ftp_pair_pull_complete(ctl, SRC, DST, SIZE, SEED, NULL, PORT, 0,
				    &written);
	if (!tap_check(ok, "dest pulled to complete"))
		return tap_finish();
	ftp_pattern_image(model, SIZE, SEED, NULL);

	ftp_status_lease_diag(ctl, SRC, &ss);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check((ss.status_flags & FTPAGE_STATUS_ATTACHED) &&
		  ss.lease_left_ms > 0 && ss.lease_left_ms <= ROLLBACK_MS,
		  "source attached, deadline %u ms (1..%u)", ss.lease_left_ms,
		  ROLLBACK_MS);
	tap_check(!(sd.status_flags & FTPAGE_STATUS_FENCED) &&
		  sd.lease_left_ms > 0 && sd.lease_left_ms <= LEASE_MS,
		  "dest leased: %u ms left (1..%u), not fenced", sd.lease_left_ms,
		  LEASE_MS);

	/* epochs 1 and 2 */
	ftp_blob_fill(blob1, BLOB1_LEN, 1);
	ftp_commit_check(ctl, DST, model, SIZE, 1, epoch1_pages, blob1,
			 BLOB1_LEN, FTPAGE_COMMIT_WAIT, 1, "commit 1 (wait)",
			 NULL);
	ftp_blob_fill(blob2, BLOB2_LEN, 2);
	ftp_commit_check(ctl, DST, model, SIZE, 2, epoch2_pages, blob2,
			 BLOB2_LEN, FTPAGE_COMMIT_WAIT, 2, "commit 2 (wait)",
			 NULL);

	/* the ticker runs, uncommitted */
	ok = !ftp_ticker_start(&tick, DST, SIZE, TICK_PAGE);
	ftp_sleep_ms(300);
	c1 = ok ? ftp_ticker_count(&tick) : 0;
	if (!tap_check(ok && c1 > 0, "ticker stamps dest page %d: %llu writes "
		       "in 300 ms", TICK_PAGE, (unsigned long long)c1))
		return tap_finish();
	pthread_create(&th, NULL, source_poller, NULL);
	ftp_sleep_ms(100);
	tap_check(!atomic_load(&srcpoll.done), "poll() on the source's node "
		  "waits while the dest is leased");

	/* cut for good */
	t_cut = ftp_now_ms();
	tap_check(!ftp_pair_link(false), "link cut (veth-a down)");
	while (ftp_now_ms() - t_cut < 20000 && !atomic_load(&srcpoll.done)) {
		if (!ftp_status(ctl, DST, &sd) &&
		    (sd.status_flags & FTPAGE_STATUS_FENCED)) {
			t_fenced = ftp_now_ms();
			break;
		}
		ftp_sleep_ms(20);
	}
	/* once fenced, the ticker stands still and a fresh reader blocks */
	if (t_fenced) {
		ftp_sleep_ms(100);
		c1 = ftp_ticker_count(&tick);
		reader = ftp_touch_child(DST, SIZE, READ_PAGE, false, 0);
		ftp_sleep_ms(1500);
	}
	c2 = ftp_ticker_count(&tick);
	last = ftp_ticker_last_ms(&tick);
	ftp_status_lease_diag(ctl, DST, &sd);
	tap_check(t_fenced && t_fenced - t_cut <= LEASE_MS + 1000,
		  "dest fenced %lld ms after the cut (<= lease + 1000)",
		  t_fenced ? (long long)(t_fenced - t_cut) : -1ll);
	tap_check(last && last <= t_cut + LEASE_MS + 1000,
		  "ticker's last write %lld ms after the cut (<= lease + 1000)",
		  (long long)(last - t_cut));
	tap_check(t_fenced && c1 == c2 && ftp_proc_state(tick.pid) != 0,
		  "fenced: ticker makes no progress (%llu -> %llu over the 1.5 s "
		  "after the fence), still alive, waiting (state %c)",
		  (unsigned long long)c1, (unsigned long long)c2,
		  ftp_proc_state(tick.pid) ? ftp_proc_state(tick.pid) : '-');
	r = reader > 0 ? ftp_wait_child(reader, 0, &status, NULL) : -1;
	tap_check(r == 0, "fenced: a fresh reader of local page %d blocks too "
		  "(%s)", READ_PAGE, r == 0 ? "waiting" : r < 0 ? "not run" :
		  ftp_wstatus_str(status));

	/* the source rolls back by itself */
	pthread_join(th, NULL);
	t_rb = srcpoll.r == 1 ? srcpoll.t : 0;
	ftp_status_lease_diag(ctl, SRC, &ss);
	tap_check(srcpoll.r == 1 && t_rb - t_cut >= ROLLBACK_MS - 400 &&
		  t_rb - t_cut <= ROLLBACK_MS + 4000,
		  "source reports POLLPRI by itself %lld ms after the cut "
		  "(%d..%d)", t_rb ? (long long)(t_rb - t_cut) : -1ll,
		  ROLLBACK_MS - 400, ROLLBACK_MS + 4000);
	tap_check(t_fenced && t_rb && t_fenced < t_rb,
		  "the dest fenced (+%lld ms) before the source rolled back "
		  "(+%lld ms)", (long long)(t_fenced - t_cut),
		  (long long)(t_rb - t_cut));
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.committed_epoch == 2 &&
		  !(ss.status_flags & FTPAGE_STATUS_ATTACHED),
		  "source %s, committed_epoch %llu, not attached",
		  ftp_state_str(ss.state), (unsigned long long)ss.committed_epoch);
	r = ftp_sh_out(out, sizeof(out), "ftpagectl wait %s --timeout 5", SRC);
	tap_check(r == 0 && !strcmp(out, "rolled-back"),
		  "ftpagectl wait %s: exit %d, \"%s\"", SRC, r, out);
	ftp_rolled_back_check(ctl, SRC, model, SIZE, 2, blob2, BLOB2_LEN,
			      "blob 2");
	{
		uint64_t v = 0xfeedull;

		tap_check(ftp_region_rw(SRC, 5 * KG_PAGE_SIZE, v, NULL),
			  "source writable (pwrite, read back)");
		memcpy(model + 5 * KG_PAGE_SIZE, &v, 8);
	}

	/* the dest comes back: abandoned */
	tap_check(!ftp_pair_link(true), "link back up");
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_ABANDONED, 15000, &sd);
	ftp_lease_diag(DST, &sd);
	tap_check(ok, "dest abandoned (%s)", ftp_state_str(sd.state));
	tap_check(ftp_wait_ended(DST, 2000, NULL) == 1,
		  "POLLPRI on the dest's node");
	r = ftp_sh_out(out, sizeof(out), "ftpagectl wait %s --timeout 5", DST);
	tap_check(r == 0 && !strcmp(out, "abandoned"),
		  "ftpagectl wait %s: exit %d, \"%s\"", DST, r, out);
	ok = ftp_ticker_wait(&tick, 5000);
	tap_check(ok && sigbus(tick.status), "the fenced ticker gets SIGBUS (%s)",
		  ok ? ftp_wstatus_str(tick.status) : "still running");
	r = reader > 0 ? ftp_reap_child(reader, 5000, &status, NULL) : -1;
	tap_check(r == 1 && sigbus(status), "the fenced reader gets SIGBUS (%s)",
		  r == 1 ? ftp_wstatus_str(status) : "still running");
	toucher = ftp_touch_child(DST, SIZE, 3, false, 0);
	r = ftp_reap_child(toucher, 5000, &status, &ms);
	tap_check(r == 1 && sigbus(status), "a new toucher gets SIGBUS in %llu "
		  "ms (%s)", (unsigned long long)ms,
		  r == 1 ? ftp_wstatus_str(status) : "still running");
	fd = open(ftp_node(path, sizeof(path), DST), O_RDONLY | O_CLOEXEC);
	{
		uint64_t v;
		ssize_t got = fd < 0 ? -1 : pread(fd, &v, 8, 0);

		e = got < 0 ? errno : 0;
		tap_check(got < 0, "pread of the abandoned dest fails (%s)",
			  got < 0 ? strerror(e) : "read succeeded");
	}
	if (fd >= 0)
		close(fd);
	ftp_status(ctl, DST, &sd);
	tap_check(sd.last_error == FTPAGE_FERR_ABANDONED,
		  "dest last_error %s", ftp_ferr_str(sd.last_error));

	ftp_status_lease_diag(ctl, SRC, &ss);
	diff = ftp_region_diff(SRC, model, SIZE, "source after the dest's return", 4);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && diff == 0,
		  "source still rolled-back (%s), content unchanged (%llu differ)",
		  ftp_state_str(ss.state), (unsigned long long)diff);
	ftp_ticker_free(&tick);
	return ftp_pair_close(ctl, "ft_linkloss", DST, SRC);
}
