// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_exact (topology pair): committed epochs bring the source exactly to
 * the destination's content at the last applied commit.
 *
 * A 16 MiB source, half of it kg pattern pages in runs of 64 and half never
 * written (zero pages, created on either side only when written), is
 * frozen and served (push on); a dest pulls it and waits for complete. A writer thread then stamps
 * dest pages without stopping -- an incrementing counter into a random
 * dword of a random page, 7 in 8 through an mmap of the dest and 1 in 8
 * through pwrite -- and keeps its own model of the region. After 1500
 * random pages per epoch it keeps hammering 64 "hot" pages, so that pages
 * of a sealed epoch are rewritten while that epoch still streams
 * (copy-before-write). The main thread pauses the writer only around each
 * commit (flag + acknowledgment), copies the model at that instant and
 * commits 5 epochs: blobs of 100 KiB of a seeded stream for 1, 3, 4, 5, no
 * blob for 2; 2 and 5 with FTPAGE_COMMIT_WAIT, made from another thread so
 * that the writer resumes as soon as the dest reports the epoch sealed and
 * races its stream (a missing copy-before-write shows in epoch 5, the one
 * rolled back to, as later values in the source). Each commit must report its
 * number and exactly the pages written since the previous one; after a
 * WAIT both sides report committed_epoch N, and CHECKPOINT after 2 reports
 * an empty blob. The writer then runs on (epoch 6, never committed) and
 * stops; the dest must equal the model.
 * ROLLBACK on the source: every page of the source equals the model at
 * commit 5, CHECKPOINT returns blob 5, the state is rolled-back, the
 * region is writable through mmap (no SIGBUS) and pwrite, the dest's link
 * goes down, it reconnects, is told of the rollback and is abandoned
 * (commits fail with ENOTCONN), and the kernel log has no warning.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(16 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xe90c4e4a
#define PORT		7461
#define EPOCHS		5
#define BLOB_LEN	(100 * 1024)
#define HOT		64
#define RANDOM_PER_EPOCH 1500
#define SRC		"ex-src"
#define DST		"ex-dst"

static struct {
	uint8_t *map;		/* the dest, MAP_SHARED */
	int fd;			/* the dest, for pwrite */
	uint8_t *model;		/* what the dest must hold */
	uint8_t dirty[PAGES];	/* pages written since the last commit */
	uint64_t since;		/* stamps since the last commit */
	uint64_t counter, pwrites;
	int err;
	atomic_int pause, paused, stop;
} w;

static int ctl;

/* Pattern pages in runs of 64; the others are never written (zero). */
static bool half(uint64_t p)
{
	return !((p / 64) & 1);
}

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *writer(void *arg)
{
	uint64_t x = 0x5eed0fe90c4ull;

	(void)arg;
	while (!atomic_load(&w.stop)) {
		uint64_t r, p, off, val;

		if (atomic_load(&w.pause)) {
			atomic_store(&w.paused, 1);
			while (atomic_load(&w.pause) && !atomic_load(&w.stop))
				usleep(100);
			atomic_store(&w.paused, 0);
			continue;
		}
		r = xs(&x);
		if (w.since < RANDOM_PER_EPOCH)
			p = (r >> 16) % PAGES;
		else
			p = ((r >> 16) % HOT) * (PAGES / HOT) + 7;
		off = p * KG_PAGE_SIZE + ((r >> 40) % (KG_PAGE_SIZE / 8)) * 8;
		val = (++w.counter << 12) | p;
		if (!(w.counter % 8)) {
			if (pwrite(w.fd, &val, 8, (off_t)off) != 8) {
				w.err = errno ? errno : EIO;
				break;
			}
			w.pwrites++;
		} else {
			*(volatile uint64_t *)(w.map + off) = val;
		}
		memcpy(w.model + off, &val, 8);
		w.dirty[p] = 1;
		w.since++;
	}
	atomic_store(&w.paused, 1);
	return NULL;
}

static bool writer_pause(void)
{
	uint64_t t0 = ftp_now_ms();

	atomic_store(&w.pause, 1);
	while (!atomic_load(&w.paused))
		if (ftp_now_ms() - t0 > 10000)
			return false;
		else
			usleep(100);
	return true;
}

struct commit_call {
	const void *blob;
	uint64_t len;
	uint32_t flags;
	uint64_t epoch, pages;
	int err;
	atomic_int done;
};

static void *commit_thread(void *arg)
{
	struct commit_call *c = arg;

	c->err = ftp_commit(ctl, DST, c->blob, c->len, c->flags, &c->epoch,
			    &c->pages) ? errno : 0;
	atomic_store(&c->done, 1);
	return NULL;
}

/* Child: map the source writable, write and read back three pages. */
static int source_mmap_write(void)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		static const uint64_t pages[] = { 0, PAGES / 2 + 3, PAGES - 1 };
		char path[64];
		volatile uint64_t *m;
		unsigned int i;
		int fd;

		signal(SIGBUS, SIG_DFL);
		fd = open(ftp_node(path, sizeof(path), SRC), O_RDWR);
		if (fd < 0)
			_exit(10);
		m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			_exit(11);
		for (i = 0; i < 3; i++)
			m[pages[i] * (KG_PAGE_SIZE / 8) + 5] = 0xabcdef0000ull + i;
		for (i = 0; i < 3; i++)
			if (m[pages[i] * (KG_PAGE_SIZE / 8) + 5] != 0xabcdef0000ull + i)
				_exit(3);
		_exit(0);
	}
	if (ftp_wait_child(pid, 20000, &st, NULL) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		tap_diag("mmap writer child stuck");
		return -1;
	}
	if (WIFSIGNALED(st))
		tap_diag("mmap writer child killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		tap_diag("mmap writer child exit %d", WEXITSTATUS(st));
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

int main(void)
{
	static uint8_t blobs[EPOCHS + 1][BLOB_LEN];
	uint8_t *image = malloc(SIZE), *scratch = malloc(SIZE), *ck;
	uint64_t epoch, pages, npages, len, t0, p, diff;
	struct ftpage_status sd, ss;
	char path[64];
	struct commit_call cc;
	pthread_t th, ct;
	int ok, k, e;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(32);
	w.model = malloc(SIZE);
	if (!image || !scratch || !w.model)
		tap_skip_all("out of memory");
	ctl = ftp_pair_open();
	if (ctl < 0)
		return tap_finish();
	ftp_lease_short();

	/* source: the kg pattern everywhere, frozen, served with push */
	tap_call(ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE), "create source");
	tap_check(ftp_fill_pattern(SRC, SIZE, SEED, half) == (int64_t)PAGES / 2 &&
		  !ftp_freeze(ctl, SRC), "fill half the pages, freeze");
	memset(w.model, 0, SIZE);
	for (p = 0; p < PAGES; p++)
		if (half(p))
			kg_pattern_fill(w.model + p * KG_PAGE_SIZE, (uint32_t)p, SEED);
	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0), "serve in ftpa");
	tap_call(ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST), "create dest");
	ftp_netns_enter(FTP_PAIR_B_NS);
	if (!tap_call(ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT), "pull in ftpb"))
		return tap_finish();
	ftp_netns_enter(NULL);
	t0 = ftp_now_ms();
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &sd);
	ftp_status_diag(DST, &sd);
	tap_check(ok && !ftp_region_read(DST, scratch, 0, SIZE) &&
		  !ftp_pages_diff(scratch, w.model, SIZE, "dest after pull", 4),
		  "dest complete in %llu ms, equals the source",
		  (unsigned long long)(ftp_now_ms() - t0));

	/* the writer */
	w.fd = open(ftp_node(path, sizeof(path), DST), O_RDWR | O_CLOEXEC);
	w.map = w.fd < 0 ? MAP_FAILED :
		mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, w.fd, 0);
	if (!tap_check(w.map != MAP_FAILED, "map the dest read-write"))
		return tap_finish();
	if (!tap_check(!pthread_create(&th, NULL, writer, NULL), "start the writer"))
		return tap_finish();

	ok = 1;
	for (k = 1; k <= EPOCHS; k++) {
		uint32_t flags = (k == 2 || k == EPOCHS) ? FTPAGE_COMMIT_WAIT : 0;
		uint64_t blen = k == 2 ? 0 : BLOB_LEN, ms;

		if (blen)
			ftp_blob_fill(blobs[k], blen, 1000 + k);
		for (t0 = ftp_now_ms(); w.since < RANDOM_PER_EPOCH * 2 &&
		     ftp_now_ms() - t0 < 20000;)
			ftp_sleep_ms(20);
		ftp_sleep_ms(50);
		if (!writer_pause()) {
			ok = tap_check(0, "writer acknowledges the pause");
			break;
		}
		memcpy(image, w.model, SIZE);
		for (npages = 0, p = 0; p < PAGES; p++)
			npages += w.dirty[p];
		memset(w.dirty, 0, sizeof(w.dirty));
		w.since = 0;
		t0 = ftp_now_ms();
		cc = (struct commit_call){ .blob = blen ? blobs[k] : NULL,
					   .len = blen, .flags = flags };
		if (!flags) {
			commit_thread(&cc);
		} else {
			/*
			 * The writer resumes as soon as the epoch is sealed
			 * (dest status epoch k), while the call still waits
			 * for the source: its writes race the stream.
			 */
			pthread_create(&ct, NULL, commit_thread, &cc);
			while (!atomic_load(&cc.done) &&
			       (ftp_status(ctl, DST, &sd) || sd.epoch < (uint64_t)k))
				usleep(200);
			atomic_store(&w.pause, 0);
			pthread_join(ct, NULL);
		}
		e = cc.err;
		epoch = cc.epoch;
		pages = cc.pages;
		ms = ftp_now_ms() - t0;
		atomic_store(&w.pause, 0);
		tap_diag("commit %d%s: %s, epoch %llu, %llu pages (model %llu), "
			 "blob %llu, %llu ms, %llu stamps so far", k,
			 flags ? " (wait)" : "", e ? strerror(e) : "ok",
			 (unsigned long long)epoch, (unsigned long long)pages,
			 (unsigned long long)npages, (unsigned long long)blen,
			 (unsigned long long)ms, (unsigned long long)w.counter);
		if (e || epoch != (uint64_t)k || pages != npages) {
			ok = 0;
			if (e)
				break;
		}
		if (k == 2) {
			/* a WAIT commit with no blob: the checkpoint is empty */
			ftp_status(ctl, DST, &sd);
			ftp_status(ctl, SRC, &ss);
			ftp_epoch_diag(DST, &sd);
			ftp_epoch_diag(SRC, &ss);
			tap_check(sd.epoch == 2 && sd.committed_epoch == 2 &&
				  ss.committed_epoch == 2 && ss.epoch == 2,
				  "after commit 2 (wait): epoch 2 applied on both sides");
			e = ftp_checkpoint(ctl, SRC, NULL, 0, &epoch, &len) ? errno : 0;
			tap_check(!e && epoch == 2 && len == 0,
				  "checkpoint after commit 2: epoch %llu, %llu blob "
				  "bytes (%s)", (unsigned long long)epoch,
				  (unsigned long long)len, e ? strerror(e) : "ok");
		}
	}
	tap_check(ok && k > EPOCHS, "5 commits numbered 1..5, each with exactly "
		  "the pages written since the previous one");

	/* epoch 6: written, never committed */
	ftp_status(ctl, DST, &sd);
	ftp_status(ctl, SRC, &ss);
	ftp_epoch_diag(DST, &sd);
	ftp_epoch_diag(SRC, &ss);
	tap_check(sd.epoch == EPOCHS && sd.committed_epoch == EPOCHS &&
		  sd.journal_bytes == 0,
		  "dest after commit 5 (wait): epoch 5, committed_epoch 5, "
		  "journal_bytes 0");
	tap_check(ss.epoch == EPOCHS && ss.committed_epoch == EPOCHS &&
		  ss.journal_bytes == 0,
		  "source after commit 5 (wait): epoch 5, committed_epoch 5, "
		  "journal_bytes 0");
	ftp_sleep_ms(300);
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	tap_check(!w.err, "writer: %llu stamps (%llu by pwrite) without error%s%s",
		  (unsigned long long)w.counter, (unsigned long long)w.pwrites,
		  w.err ? ": " : "", w.err ? strerror(w.err) : "");
	tap_check(!ftp_region_read(DST, scratch, 0, SIZE) &&
		  !ftp_pages_diff(scratch, w.model, SIZE, "dest vs model", 4),
		  "dest equals the writer's model");
	diff = ftp_pages_diff(w.model, image, SIZE, "epoch 6", 0);
	tap_check(diff > 0, "%llu pages written after commit 5 (never committed)",
		  (unsigned long long)diff);

	/* roll the source back */
	ftp_kmsg_mark("epoch_exact");
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status(ctl, SRC, &ss);
	ftp_epoch_diag(SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK &&
		  ss.committed_epoch == EPOCHS,
		  "source: state rolled-back (%s), committed_epoch %llu",
		  ftp_state_str(ss.state), (unsigned long long)ss.committed_epoch);
	memset(scratch, 0x5a, SIZE);
	ok = !ftp_region_read(SRC, scratch, 0, SIZE);
	diff = ok ? ftp_pages_diff(scratch, image, SIZE, "source vs commit 5", 8) : ~0ull;
	tap_check(ok && diff == 0, "source equals the dest at commit 5, every page "
		  "(%llu differ)", (unsigned long long)diff);
	if (diff) {
		diff = ftp_pages_diff(scratch, w.model, SIZE, "source vs final", 0);
		tap_diag("source vs the dest's final content: %llu pages differ",
			 (unsigned long long)diff);
	}
	e = ftp_checkpoint(ctl, SRC, NULL, 0, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == EPOCHS && len == BLOB_LEN,
		  "checkpoint (no buffer): epoch %llu, %llu blob bytes (%s)",
		  (unsigned long long)epoch, (unsigned long long)len,
		  e ? strerror(e) : "ok");
	ck = malloc(BLOB_LEN);
	memset(ck, 0, BLOB_LEN);
	e = ftp_checkpoint(ctl, SRC, ck, BLOB_LEN, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == EPOCHS && len == BLOB_LEN &&
		  !memcmp(ck, blobs[EPOCHS], BLOB_LEN),
		  "checkpoint returns blob 5 byte for byte (%s)",
		  e ? strerror(e) : "ok");

	/* writable again */
	tap_check(!source_mmap_write(), "source writable through mmap, no SIGBUS");
	{
		uint64_t v = 0x77aa55ccull, back = 0;
		int fd = open(ftp_node(path, sizeof(path), SRC), O_RDWR | O_CLOEXEC);

		ok = fd >= 0 && pwrite(fd, &v, 8, 9 * KG_PAGE_SIZE + 16) == 8 &&
		     pread(fd, &back, 8, 9 * KG_PAGE_SIZE + 16) == 8 && back == v;
		if (fd >= 0)
			close(fd);
		tap_check(ok, "source writable through pwrite (read back %llx)",
			  (unsigned long long)back);
		ok = !ftp_region_read(SRC, scratch, 0, SIZE);
		v = 0;
		memcpy(&v, scratch + (PAGES / 2 + 3) * KG_PAGE_SIZE + 40, 8);
		tap_check(ok && v == 0xabcdef0001ull,
			  "the mmap write shows in pread (%llx)", (unsigned long long)v);
	}
	ftp_status(ctl, SRC, &ss);
	ftp_status_diag(SRC, &ss);
	tap_check(ss.state == FTPAGE_STATE_ROLLED_BACK && ss.refused_writes == 0,
		  "source still rolled-back, no write refused");

	ok = !ftp_wait_link_down(ctl, DST, 10000, &sd);
	tap_check(ok, "dest's link goes down (connected %u)", sd.connected);
	/* It reconnects, hears of the rollback and never resumes. */
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_ABANDONED, 10000, &sd);
	ftp_status_diag(DST, &sd);
	tap_check(ok, "dest abandoned after the rollback (%s)",
		  ftp_state_str(sd.state));
	tap_errno(ftp_commit(ctl, DST, NULL, 0, 0, NULL, NULL), ENOTCONN,
		  "commit on the abandoned dest");
	tap_check(ftp_kmsg_clean("epoch_exact"), "no kernel warning");

	munmap(w.map, SIZE);
	close(w.fd);
	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC),
		  "destroy both regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
