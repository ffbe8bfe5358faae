// SPDX-License-Identifier: GPL-2.0
/*
 * epoch_badinput (topology pair): COMMIT, ROLLBACK and CHECKPOINT refuse
 * bad input with the documented error codes, and the epoch fields of
 * STATUS say what happened.
 *
 * API: FTPAGE_FEATURE_EPOCHS and the three ioctl bits are reported.
 * Before any pull: every epoch field is 0; COMMIT on a source (EINVAL), a
 * dest not attached (ENOTCONN), a missing region (ENOENT); ROLLBACK and
 * CHECKPOINT on a dest (EINVAL); CHECKPOINT of a source with no epoch
 * says epoch 0, no blob.
 * Attached (4 MiB, complete): COMMIT with unknown flags, non-zero
 * reserved0/reserved[], a blob of FTPAGE_COMMIT_STATE_MAX + 1 or ~0 bytes
 * (EINVAL), a bad blob pointer (EFAULT) -- none of which consumes an epoch
 * number. An empty COMMIT with WAIT is epoch 1 of 0 pages; one of 3 pages
 * (one written twice) with a 10000-byte blob is epoch 2 of 3 pages.
 * CHECKPOINT: no buffer (state_len 10000), 9999 bytes (ENOSPC, state_len
 * filled, buffer untouched), exact, larger (bytes past the blob
 * untouched), bad pointer (EFAULT), flags / reserved (EINVAL). A blob of
 * exactly FTPAGE_COMMIT_STATE_MAX is accepted and returned byte for byte (epoch
 * 3). A commit without WAIT reports its epoch at once and is then
 * acknowledged (journal_bytes back to 0); its blob is read from a mapping
 * of the dest itself, and after the rollback CHECKPOINT writes it into a
 * mapping of the source itself. ROLLBACK with flags / reserved
 * (EINVAL), then for real; afterwards COMMIT on the rolled-back source is
 * EINVAL, on the dest (abandoned once it reconnects) ENOTCONN,
 * and CHECKPOINT still answers.
 * A second pair: a COMMIT with WAIT of a 64 MiB blob in flight when the
 * source rolls back returns (ECONNRESET, or 0 only if it was applied) and
 * reports its epoch.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "ftp_remote.h"
#include "ftp_util.h"
#include "kvm_guest.h"
#include "tap.h"

#define MIB		(1ULL << 20)
#define SIZE		(4 * MIB)
#define PAGES		(SIZE / KG_PAGE_SIZE)
#define SEED		0xe9bad000
#define PORT		7481
#define SRC		"eb-src"
#define DST		"eb-dst"
#define BLOB_LEN	10000

static int ctl;

static long commit_raw(const char *name, const void *state, uint64_t len,
		       uint32_t flags, int reserved_idx)
{
	struct ftpage_commit c = {
		.name = (uintptr_t)name, .state = (uintptr_t)state,
		.state_len = len, .flags = flags,
	};

	if (reserved_idx == -2)
		c.reserved0 = 1;
	else if (reserved_idx >= 0)
		c.reserved[reserved_idx] = 1;
	return ioctl(ctl, FTPAGE_IOC_COMMIT, &c);
}

static long ref_raw(unsigned long cmd, const char *name, uint32_t flags,
		    int reserved_idx)
{
	struct ftpage_region_ref ref = { .name = (uintptr_t)name, .flags = flags };

	if (reserved_idx == -2)
		ref.reserved0 = 1;
	else if (reserved_idx >= 0)
		ref.reserved[reserved_idx] = 1;
	return ioctl(ctl, cmd, &ref);
}

static long checkpoint_raw(const char *name, void *buf, uint64_t len,
			   uint32_t flags, int reserved_idx)
{
	struct ftpage_checkpoint c = {
		.name = (uintptr_t)name, .buf = (uintptr_t)buf, .buf_len = len,
		.flags = flags,
	};

	if (reserved_idx == -2)
		c.reserved0 = 1;
	else if (reserved_idx >= 0)
		c.reserved[reserved_idx] = 1;
	return ioctl(ctl, FTPAGE_IOC_CHECKPOINT, &c);
}

static bool epoch_fields(const char *name, uint64_t epoch, uint64_t committed,
			 uint64_t journal)
{
	struct ftpage_status st;

	if (ftp_status(ctl, name, &st))
		return false;
	ftp_epoch_diag(name, &st);
	return st.epoch == epoch && st.committed_epoch == committed &&
	       st.journal_bytes == journal;
}

struct wait_call {
	const char *name;
	const void *blob;
	uint64_t len, epoch, pages;
	int err;
};

static void *wait_commit(void *arg)
{
	struct wait_call *w = arg;

	w->err = ftp_commit(ctl, w->name, w->blob, w->len, FTPAGE_COMMIT_WAIT,
			    &w->epoch, &w->pages) ? errno : 0;
	return NULL;
}

/*
 * A second pair: COMMIT with WAIT of a 64 MiB blob is in flight (sealed,
 * streaming) when the source rolls back. The call must return: 0 only if
 * the source applied it, else ECONNRESET -- with the sealed epoch reported
 * either way.
 */
static void commit_wait_broken(uint8_t *big)
{
	struct wait_call w = { .name = "eb-dst2", .blob = big,
			       .len = FTPAGE_COMMIT_STATE_MAX, .epoch = ~0ull };
	struct ftpage_status st;
	pthread_t th;
	uint64_t t0;
	bool ok;

	ok = !ftp_create(ctl, "eb-src2", SIZE, FTPAGE_ROLE_SOURCE) &&
	     ftp_fill_pattern("eb-src2", SIZE, SEED, NULL) == (int64_t)PAGES &&
	     !ftp_freeze(ctl, "eb-src2") &&
	     !ftp_create(ctl, "eb-dst2", SIZE, FTPAGE_ROLE_DEST);
	ftp_netns_enter(FTP_PAIR_A_NS);
	ok = ok && !ftp_serve(ctl, "eb-src2", FTP_PAIR_A_ADDR, PORT + 1, 0);
	ftp_netns_enter(FTP_PAIR_B_NS);
	ok = ok && !ftp_pull(ctl, "eb-dst2", "eb-src2", FTP_PAIR_A_ADDR, PORT + 1);
	ftp_netns_enter(NULL);
	ok = ok && !ftp_wait_state(ctl, "eb-dst2", FTPAGE_STATE_COMPLETE, 60000, &st);
	if (!tap_check(ok, "second pair up, dest complete"))
		return;
	pthread_create(&th, NULL, wait_commit, &w);
	for (t0 = ftp_now_ms(); ftp_now_ms() - t0 < 20000; usleep(200))
		if (ftp_status(ctl, "eb-dst2", &st) || st.epoch >= 1)
			break;
	ftp_epoch_diag("eb-dst2", &st);
	tap_check(st.epoch == 1, "a 64 MiB commit with wait is sealed, streaming");
	tap_call(ftp_rollback(ctl, "eb-src2"), "rollback the second source meanwhile");
	pthread_join(th, NULL);
	ftp_status(ctl, "eb-src2", &st);
	ftp_epoch_diag("eb-src2", &st);
	tap_check(w.epoch == 1 &&
		  ((w.err == ECONNRESET && st.committed_epoch <= 1) ||
		   (!w.err && st.committed_epoch == 1)),
		  "the waiting commit returns %s, epoch %llu reported; source "
		  "committed_epoch %llu", w.err ? strerror(w.err) : "success",
		  (unsigned long long)w.epoch,
		  (unsigned long long)st.committed_epoch);
	tap_check(!ftp_destroy(ctl, "eb-dst2") && !ftp_destroy(ctl, "eb-src2"),
		  "destroy the second pair");
}

int main(void)
{
	struct ftpage_api api = { .api = FTPAGE_API };
	uint64_t epoch, pages, len, t0, v;
	struct ftpage_status st;
	uint8_t *blob, *big, *buf, *expect, *dmap, *smap;
	char path[64];
	int e, fd, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_plan(69);
	blob = malloc(BLOB_LEN);
	buf = malloc(2 * BLOB_LEN);
	big = malloc(FTPAGE_COMMIT_STATE_MAX + 4096);
	expect = malloc(MIB);
	if (!blob || !buf || !big || !expect)
		tap_skip_all("out of memory");
	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return tap_finish();
	ctl = open(FTPAGE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	api.features = FTPAGE_FEATURE_EPOCHS;
	if (!tap_call(ctl < 0 ? -1 : ioctl(ctl, FTPAGE_IOC_API, &api),
		      "API handshake asking for FTPAGE_FEATURE_EPOCHS"))
		return tap_finish();
	tap_check((api.features & FTPAGE_FEATURE_EPOCHS) &&
		  (api.ioctls & (1ull << _IOC_NR(FTPAGE_IOC_COMMIT))) &&
		  (api.ioctls & (1ull << _IOC_NR(FTPAGE_IOC_ROLLBACK))) &&
		  (api.ioctls & (1ull << _IOC_NR(FTPAGE_IOC_CHECKPOINT))),
		  "API reports epochs and COMMIT/ROLLBACK/CHECKPOINT "
		  "(features %llx, ioctls %llx)", (unsigned long long)api.features,
		  (unsigned long long)api.ioctls);

	ftp_lease_short();
	/* not attached yet */
	tap_call(ftp_create(ctl, SRC, SIZE, FTPAGE_ROLE_SOURCE), "create source");
	tap_call(ftp_create(ctl, DST, SIZE, FTPAGE_ROLE_DEST), "create dest");
	tap_check(epoch_fields(SRC, 0, 0, 0) && epoch_fields(DST, 0, 0, 0),
		  "fresh regions: epoch 0, committed_epoch 0, journal_bytes 0");
	tap_errno(ftp_commit(ctl, SRC, NULL, 0, 0, NULL, NULL), EINVAL,
		  "commit on a source");
	tap_errno(ftp_commit(ctl, DST, NULL, 0, 0, NULL, NULL), ENOTCONN,
		  "commit on a dest before pull");
	tap_errno(ftp_commit(ctl, DST, NULL, 0, FTPAGE_COMMIT_WAIT, NULL, NULL),
		  ENOTCONN, "commit with wait on a dest before pull");
	tap_errno(ftp_commit(ctl, "eb-none", NULL, 0, 0, NULL, NULL), ENOENT,
		  "commit on a missing region");
	tap_errno(ftp_rollback(ctl, DST), EINVAL, "rollback on a dest");
	tap_errno(ftp_rollback(ctl, "eb-none"), ENOENT, "rollback on a missing region");
	tap_errno(ftp_checkpoint(ctl, DST, NULL, 0, NULL, NULL), EINVAL,
		  "checkpoint on a dest");
	e = ftp_checkpoint(ctl, SRC, NULL, 0, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 0 && len == 0,
		  "checkpoint of a source with no epoch: epoch %llu, %llu bytes (%s)",
		  (unsigned long long)epoch, (unsigned long long)len,
		  e ? strerror(e) : "ok");

	/* attach */
	tap_check(ftp_fill_pattern(SRC, SIZE, SEED, NULL) == (int64_t)PAGES &&
		  !ftp_freeze(ctl, SRC), "fill, freeze the source");
	ftp_netns_enter(FTP_PAIR_A_NS);
	tap_call(ftp_serve(ctl, SRC, FTP_PAIR_A_ADDR, PORT, 0), "serve in ftpa");
	ftp_netns_enter(FTP_PAIR_B_NS);
	tap_call(ftp_pull(ctl, DST, SRC, FTP_PAIR_A_ADDR, PORT), "pull in ftpb");
	ftp_netns_enter(NULL);
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_COMPLETE, 60000, &st);
	if (!tap_check(ok && epoch_fields(SRC, 0, 0, 0) && epoch_fields(DST, 0, 0, 0),
		       "dest complete, epoch fields still 0")) {
		ftp_status_diag(DST, &st);
		return tap_finish();
	}

	tap_errno(commit_raw(DST, NULL, 0, 1u << 1, -1), EINVAL,
		  "commit with flag bit 1");
	tap_errno(commit_raw(DST, NULL, 0, 1u << 31, -1), EINVAL,
		  "commit with flag bit 31");
	tap_errno(commit_raw(DST, NULL, 0, 0, -2), EINVAL, "commit with reserved0 != 0");
	tap_errno(commit_raw(DST, NULL, 0, 0, 0), EINVAL, "commit with reserved[0] != 0");
	tap_errno(commit_raw(DST, NULL, 0, 0, 1), EINVAL, "commit with reserved[1] != 0");
	tap_errno(commit_raw(DST, big, FTPAGE_COMMIT_STATE_MAX + 1, 0, -1), EINVAL,
		  "commit with a blob of FTPAGE_COMMIT_STATE_MAX + 1 bytes");
	tap_errno(commit_raw(DST, big, ~0ull, 0, -1), EINVAL,
		  "commit with a blob of 2^64 - 1 bytes");
	tap_errno(commit_raw(DST, (void *)8, 4096, 0, -1), EFAULT,
		  "commit with a bad blob pointer");
	tap_errno(commit_raw(SRC, NULL, 0, 0, -1), EINVAL,
		  "commit on the serving source");
	tap_check(epoch_fields(DST, 0, 0, 0) && epoch_fields(SRC, 0, 0, 0),
		  "refused commits consume no epoch number");

	/* epoch 1: nothing written, no blob */
	e = ftp_commit(ctl, DST, NULL, 0, FTPAGE_COMMIT_WAIT, &epoch, &pages) ? errno : 0;
	tap_check(!e && epoch == 1 && pages == 0,
		  "empty commit (wait): epoch %llu, %llu pages (%s)",
		  (unsigned long long)epoch, (unsigned long long)pages,
		  e ? strerror(e) : "ok");
	tap_check(epoch_fields(DST, 1, 1, 0) && epoch_fields(SRC, 1, 1, 0),
		  "after epoch 1: epoch 1, committed 1, journal 0 on both sides");

	/* epoch 2: 3 pages, one twice, and a blob */
	fd = open(ftp_node(path, sizeof(path), DST), O_RDWR | O_CLOEXEC);
	v = 0x1122334455667788ull;
	ok = fd >= 0 && pwrite(fd, &v, 8, 3 * KG_PAGE_SIZE) == 8 &&
	     pwrite(fd, &v, 8, 700 * KG_PAGE_SIZE + 4000) == 8 &&
	     pwrite(fd, &v, 8, 3 * KG_PAGE_SIZE + 64) == 8 &&
	     pwrite(fd, &v, 8, (PAGES - 1) * KG_PAGE_SIZE) == 8;
	if (fd >= 0)
		close(fd);
	tap_check(ok, "pwrite pages 3 (twice), 700, %llu", (unsigned long long)PAGES - 1);
	ftp_blob_fill(blob, BLOB_LEN, 42);
	e = ftp_commit(ctl, DST, blob, BLOB_LEN, FTPAGE_COMMIT_WAIT, &epoch, &pages) ?
	    errno : 0;
	tap_check(!e && epoch == 2 && pages == 3,
		  "commit (wait) of 3 pages and a %d-byte blob: epoch %llu, %llu "
		  "pages (%s)", BLOB_LEN, (unsigned long long)epoch,
		  (unsigned long long)pages, e ? strerror(e) : "ok");

	/* checkpoint buffer sizes */
	e = ftp_checkpoint(ctl, SRC, NULL, 0, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 2 && len == BLOB_LEN,
		  "checkpoint, no buffer: epoch %llu, state_len %llu (%s)",
		  (unsigned long long)epoch, (unsigned long long)len,
		  e ? strerror(e) : "ok");
	e = ftp_checkpoint(ctl, SRC, NULL, 1 << 20, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 2 && len == BLOB_LEN,
		  "checkpoint, buf 0 with buf_len 1 MiB: state_len %llu (%s)",
		  (unsigned long long)len, e ? strerror(e) : "ok");
	memset(buf, 0xee, 2 * BLOB_LEN);
	e = ftp_checkpoint(ctl, SRC, buf, BLOB_LEN - 1, &epoch, &len) ? errno : 0;
	tap_check(e == ENOSPC && epoch == 2 && len == BLOB_LEN && buf[0] == 0xee &&
		  buf[BLOB_LEN - 2] == 0xee,
		  "checkpoint into %d bytes: %s (want ENOSPC), state_len %llu, "
		  "buffer untouched", BLOB_LEN - 1, e ? strerror(e) : "success",
		  (unsigned long long)len);
	e = ftp_checkpoint(ctl, SRC, buf, 1, &epoch, &len) ? errno : 0;
	tap_check(e == ENOSPC && len == BLOB_LEN,
		  "checkpoint into 1 byte: %s, state_len %llu",
		  e ? strerror(e) : "success", (unsigned long long)len);
	memset(buf, 0xee, 2 * BLOB_LEN);
	e = ftp_checkpoint(ctl, SRC, buf, BLOB_LEN, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 2 && len == BLOB_LEN && !memcmp(buf, blob, BLOB_LEN),
		  "checkpoint into exactly %d bytes: the blob (%s)", BLOB_LEN,
		  e ? strerror(e) : "ok");
	memset(buf, 0xee, 2 * BLOB_LEN);
	e = ftp_checkpoint(ctl, SRC, buf, 2 * BLOB_LEN, &epoch, &len) ? errno : 0;
	tap_check(!e && len == BLOB_LEN && !memcmp(buf, blob, BLOB_LEN) &&
		  buf[BLOB_LEN] == 0xee && buf[2 * BLOB_LEN - 1] == 0xee,
		  "checkpoint into %d bytes: the blob, state_len %llu, rest "
		  "untouched (%s)", 2 * BLOB_LEN, (unsigned long long)len,
		  e ? strerror(e) : "ok");
	tap_errno(checkpoint_raw(SRC, (void *)8, BLOB_LEN, 0, -1), EFAULT,
		  "checkpoint into a bad pointer");
	tap_errno(checkpoint_raw(SRC, NULL, 0, 1, -1), EINVAL, "checkpoint with flags 1");
	tap_errno(checkpoint_raw(SRC, NULL, 0, 0, -2), EINVAL,
		  "checkpoint with reserved0 != 0");
	tap_errno(checkpoint_raw(SRC, NULL, 0, 0, 1), EINVAL,
		  "checkpoint with reserved[1] != 0");
	tap_errno(checkpoint_raw("eb-none", NULL, 0, 0, -1), ENOENT,
		  "checkpoint of a missing region");

	/* epoch 3: the largest blob */
	ftp_blob_fill(big, FTPAGE_COMMIT_STATE_MAX, 7);
	t0 = ftp_now_ms();
	e = ftp_commit(ctl, DST, big, FTPAGE_COMMIT_STATE_MAX, FTPAGE_COMMIT_WAIT, &epoch,
		       &pages) ? errno : 0;
	tap_check(!e && epoch == 3 && pages == 0,
		  "commit (wait) of a FTPAGE_COMMIT_STATE_MAX blob: epoch %llu, %llu "
		  "pages, %llu ms (%s)", (unsigned long long)epoch,
		  (unsigned long long)pages, (unsigned long long)(ftp_now_ms() - t0),
		  e ? strerror(e) : "ok");
	tap_check(epoch_fields(DST, 3, 3, 0) && epoch_fields(SRC, 3, 3, 0),
		  "after epoch 3: epoch 3, committed 3, journal 0 on both sides");
	{
		uint8_t *back = malloc(FTPAGE_COMMIT_STATE_MAX);

		e = !back ? ENOMEM : ftp_checkpoint(ctl, SRC, back, FTPAGE_COMMIT_STATE_MAX,
						    &epoch, &len) ? errno : 0;
		tap_check(!e && epoch == 3 && len == FTPAGE_COMMIT_STATE_MAX &&
			  !memcmp(back, big, FTPAGE_COMMIT_STATE_MAX),
			  "checkpoint returns the 64 MiB blob byte for byte (%s)",
			  e ? strerror(e) : "ok");
		free(back);
	}

	/*
	 * Epoch 4 without wait: its number at once, the ack later. Its blob
	 * is read from a mapping of the dest itself (pages 0..255).
	 */
	fd = open(ftp_node(path, sizeof(path), DST), O_RDONLY | O_CLOEXEC);
	dmap = fd < 0 ? MAP_FAILED : mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (dmap == MAP_FAILED || ftp_region_read(DST, expect, 0, MIB))
		dmap = NULL;
	e = ftp_commit(ctl, DST, dmap, MIB, 0, &epoch, &pages) ? errno : 0;
	ftp_status(ctl, DST, &st);
	ftp_epoch_diag(DST, &st);
	tap_check(!e && epoch == 4 && st.epoch == 4 && st.committed_epoch >= 3 &&
		  st.committed_epoch <= 4,
		  "commit without wait: epoch %llu at once, dest epoch %llu, "
		  "committed_epoch %llu (%s)", (unsigned long long)epoch,
		  (unsigned long long)st.epoch,
		  (unsigned long long)st.committed_epoch, e ? strerror(e) : "ok");
	for (t0 = ftp_now_ms(); ftp_now_ms() - t0 < 30000; ftp_sleep_ms(20))
		if (ftp_status(ctl, DST, &st) || st.committed_epoch >= 4)
			break;
	tap_check(epoch_fields(DST, 4, 4, 0) && epoch_fields(SRC, 4, 4, 0),
		  "epoch 4 acknowledged in %llu ms: committed 4, journal 0 on "
		  "both sides", (unsigned long long)(ftp_now_ms() - t0));

	/* rollback */
	tap_errno(ref_raw(FTPAGE_IOC_ROLLBACK, SRC, 1, -1), EINVAL,
		  "rollback with flags 1");
	tap_errno(ref_raw(FTPAGE_IOC_ROLLBACK, SRC, 0, -2), EINVAL,
		  "rollback with reserved0 != 0");
	tap_errno(ref_raw(FTPAGE_IOC_ROLLBACK, SRC, 0, 1), EINVAL,
		  "rollback with reserved[1] != 0");
	tap_errno(ftp_rollback(ctl, DST), EINVAL, "rollback on the attached dest");
	ok = !ftp_status(ctl, SRC, &st);
	tap_check(ok && st.state == FTPAGE_STATE_COMPLETE,
		  "refused rollbacks leave the source %s", ftp_state_str(st.state));
	tap_call(ftp_rollback(ctl, SRC), "rollback the source");
	ftp_status(ctl, SRC, &st);
	ftp_epoch_diag(SRC, &st);
	tap_check(st.state == FTPAGE_STATE_ROLLED_BACK && st.committed_epoch == 4 &&
		  st.epoch == 4 && st.journal_bytes == 0,
		  "source rolled-back at epoch 4, journal 0");
	{
		uint8_t page[KG_PAGE_SIZE], want[KG_PAGE_SIZE];

		kg_pattern_fill(want, 3, SEED);
		memcpy(want, &v, 8);
		memcpy(want + 64, &v, 8);
		tap_check(!ftp_region_read(SRC, page, 3 * KG_PAGE_SIZE, KG_PAGE_SIZE) &&
			  !memcmp(page, want, KG_PAGE_SIZE),
			  "source page 3 holds both writes of epoch 2");
	}
	tap_errno(ftp_commit(ctl, SRC, NULL, 0, 0, NULL, NULL), EINVAL,
		  "commit on the rolled-back source");
	e = ftp_checkpoint(ctl, SRC, NULL, 0, &epoch, &len) ? errno : 0;
	tap_check(!e && epoch == 4 && len == MIB,
		  "checkpoint after rollback: epoch %llu, %llu bytes (%s)",
		  (unsigned long long)epoch, (unsigned long long)len,
		  e ? strerror(e) : "ok");
	/* into a writable mapping of the source itself, at 2 MiB */
	fd = open(ftp_node(path, sizeof(path), SRC), O_RDWR | O_CLOEXEC);
	smap = fd < 0 ? MAP_FAILED :
	       mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	e = smap == MAP_FAILED ? errno :
	    ftp_checkpoint(ctl, SRC, smap + 2 * MIB, MIB, &epoch, &len) ? errno : 0;
	ok = !e && !ftp_region_read(SRC, big, 2 * MIB, MIB) &&
	     !memcmp(big, expect, MIB);
	tap_check(ok, "checkpoint into a mapping of the source itself: the blob "
		  "(dest pages 0..255 at commit 4) lands in source pages 512.. (%s)",
		  e ? strerror(e) : "ok");
	if (smap != MAP_FAILED)
		munmap(smap, SIZE);
	if (dmap)
		munmap(dmap, SIZE);

	ok = !ftp_wait_link_down(ctl, DST, 10000, &st);
	tap_check(ok, "dest's link goes down (connected %u)", st.connected);
	/* It reconnects, hears of the rollback, never resumes. */
	ok = !ftp_wait_state(ctl, DST, FTPAGE_STATE_ABANDONED, 10000, &st);
	tap_check(ok, "dest abandoned after the rollback (%s)",
		  ftp_state_str(st.state));
	tap_errno(ftp_commit(ctl, DST, NULL, 0, 0, NULL, NULL), ENOTCONN,
		  "commit on the abandoned dest");
	tap_errno(ftp_rollback(ctl, DST), EINVAL, "rollback on the abandoned dest");

	tap_check(!ftp_destroy(ctl, DST) && !ftp_destroy(ctl, SRC),
		  "destroy both regions");
	commit_wait_broken(big);
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}
