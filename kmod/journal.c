// SPDX-License-Identifier: GPL-2.0
/*
 * The journal: epochs committed from the destination back to the source.
 *
 * Destination. Every page written since the last commit has its bit in
 * @dirty (set by ->page_mkwrite and pwrite, which run between
 * ftp_journal_write_begin() and _end()). COMMIT seals epoch N: under
 * @seal_sem held for writing it takes @dirty as the epoch's page @map and
 * write-protects those pages (folio_mkclean), so the next write to one of
 * them comes back through ->page_mkwrite, which copies the page first while
 * it is still unacknowledged (copy-before-write). The epoch goes out
 * striped over the journal streams, one thread each: stream 0 sends
 * EPOCH_BEGIN, then every stream takes chunks of the epoch's pages and
 * sends them (a page's copy, or the page itself if unchanged since the
 * seal); once all are done, stream 0 sends the state blob and the commit
 * record. The source (stage.c) acknowledges once it applied the epoch, and
 * the epoch is freed. Until then it can be sent again whole: after a
 * reconnect, streaming resumes at the first epoch the source has not
 * applied.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "dest.h"

struct ftp_epoch {
	struct list_head node;		/* in j->epochs */
	u64 n;
	u64 pages;			/* pages sealed into it */
	unsigned long *map;		/* the pages sealed into it */
	struct xarray copies;		/* index -> page copied before a write */
	void *state;			/* the blob, kvmalloc'd */
	u64 state_len;
	bool sent;			/* streamed; waiting for the ack */
};

/* Pages a journal stream takes from an epoch's map at once. */
#define FTP_JOURNAL_CHUNK	1024

/* A journal stream: one connection to the source, and its thread. */
struct ftp_jstream {
	struct ftp_journal *j;
	struct ftp_sock *fs;		/* the channel (dest.c owns it) */
	struct task_struct *task;	/* referenced */
	void *bounce;			/* one page */
	unsigned long round;		/* streams 1..: the last round joined */
};

struct ftp_journal {
	struct ftp_region *r;
	/*
	 * Read side: a page writer (copy-before-write, dirty bit); write
	 * side: sealing an epoch, dropping acknowledged ones. Taken before
	 * any folio lock. Protects @dirty, @epochs and @sealed.
	 */
	struct rw_semaphore seal_sem;
	unsigned long *dirty;
	struct list_head epochs;	/* oldest first */
	u64 sealed;			/* last epoch sealed */
	u64 streamed;			/* last epoch streamed (stream 0 only) */
	u64 committed;			/* last epoch acknowledged */
	atomic64_t bytes;		/* sealed, not acknowledged */
	bool broken;			/* the journal cannot reach the source */
	wait_queue_head_t wq;		/* streams: work; COMMIT_WAIT: acks */
	struct ftp_jstream st[FTP_PROTO_MAX_STREAMS];
	unsigned int nr_st;		/* streams of this connection */
	/*
	 * The epoch being striped: stream 0 sets @cur and @cursor, then
	 * bumps @round (release); each stream takes chunks from @cursor, and
	 * the last of @busy to finish wakes stream 0. @cur lives until its
	 * ack, which only comes after the commit record.
	 */
	struct ftp_epoch *cur;
	unsigned long round;
	atomic_long_t cursor;
	atomic_t busy;
};

static void ftp_free_pages_xa(struct xarray *xa)
{
	struct page *page;
	unsigned long i;

	xa_for_each(xa, i, page)
		__free_page(page);
	xa_destroy(xa);
}

static void ftp_epoch_free(struct ftp_epoch *e)
{
	ftp_free_pages_xa(&e->copies);
	kvfree(e->map);
	kvfree(e->state);
	kfree(e);
}

static unsigned long *ftp_bitmap_alloc(struct ftp_region *r)
{
	return kvcalloc(BITS_TO_LONGS(r->nr_pages), sizeof(long), GFP_KERNEL);
}

/* Around every write to a destination page (->page_mkwrite, pwrite). */
void ftp_journal_write_begin(struct ftp_region *r)
{
	if (r->jr)
		down_read(&r->jr->seal_sem);
}

void ftp_journal_write_end(struct ftp_region *r)
{
	if (r->jr)
		up_read(&r->jr->seal_sem);
}

/*
 * @folio (locked) at @index is about to be written: copy it for every
 * sealed epoch that still has to send it, and log it for the next one.
 */
int ftp_journal_page_written(struct ftp_region *r, struct folio *folio,
			     pgoff_t index)
{
	struct ftp_journal *j = r->jr;
	struct ftp_epoch *e;
	struct page *copy;
	int err;

	if (!j)
		return 0;
	lockdep_assert_held_read(&j->seal_sem);
	/* Nothing sealed will be streamed any more: no copies for it. */
	if (READ_ONCE(j->broken))
		goto out;
	list_for_each_entry(e, &j->epochs, node) {
		if (!test_bit(index, e->map) || xa_load(&e->copies, index))
			continue;
		copy = alloc_page(GFP_HIGHUSER);
		if (!copy)
			return -ENOMEM;
		copy_highpage(copy, folio_page(folio, 0));
		err = xa_err(xa_store(&e->copies, index, copy, GFP_KERNEL));
		if (err) {
			__free_page(copy);
			return err;
		}
	}
out:
	set_bit(index, j->dirty);
	return 0;
}

static void ftp_journal_copy_pinned(struct ftp_epoch *e, unsigned long i,
				    struct folio *folio, unsigned long *next)
{
	struct page *copy = alloc_page(GFP_HIGHUSER);

	set_bit(i, next);
	if (!copy)
		return;		/* sent as it is when streamed */
	copy_highpage(copy, folio_page(folio, 0));
	if (xa_err(xa_store(&e->copies, i, copy, GFP_KERNEL)))
		__free_page(copy);
}

/*
 * Seal epoch N: the dirty set and the blob, as they are now. Returns N and
 * its page count (the epoch itself may be gone as soon as we unlock).
 */
static int ftp_journal_seal(struct ftp_journal *j, unsigned long *fresh,
			    void *state, u64 state_len, u64 *epoch, u64 *pages)
{
	struct ftp_region *r = j->r;
	struct ftp_epoch *e;
	struct folio *folio;
	unsigned long i;

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	xa_init(&e->copies);
	e->state = state;
	e->state_len = state_len;

	down_write(&j->seal_sem);
	e->map = j->dirty;
	j->dirty = fresh;
	e->n = j->sealed + 1;
	for_each_set_bit(i, e->map, r->nr_pages) {
		folio = ftp_page_lookup(r, i);
		if (!folio) {		/* destroyed under us */
			clear_bit(i, e->map);
			continue;
		}
		/* The next write to it must come back through ->page_mkwrite. */
		folio_lock(folio);
		folio_mkclean(folio);
		/*
		 * A DMA pin (O_DIRECT into guest RAM) writes without faulting:
		 * keep the sealed content now and send the page again next
		 * time. COMMIT still wants I/O quiesced, as QEMU's stop does.
		 */
		if (folio_maybe_dma_pinned(folio))
			ftp_journal_copy_pinned(e, i, folio, fresh);
		folio_unlock(folio);
		folio_put(folio);
		e->pages++;
		cond_resched();
	}
	list_add_tail(&e->node, &j->epochs);
	atomic64_add(e->pages * PAGE_SIZE + state_len, &j->bytes);
	/* Published last: the streamer looks for the epoch once it sees it. */
	WRITE_ONCE(j->sealed, e->n);
	*epoch = e->n;
	*pages = e->pages;
	up_write(&j->seal_sem);
	return 0;
}

int ftp_journal_commit(struct ftp_region *r, u64 ustate, u64 state_len,
		       u32 flags, u64 *epoch, u64 *pages)
{
	struct ftp_journal *j = r->jr;
	unsigned long *fresh;
	void *state = NULL;
	int ret;

	if (!j)
		return -EINVAL;
	if (state_len > FTPAGE_COMMIT_STATE_MAX || (state_len && !ustate))
		return -EINVAL;
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_PULLING:
	case FTPAGE_STATE_BROKEN:	/* streamed once reconnected */
	case FTPAGE_STATE_COMPLETE:
		if (!READ_ONCE(j->broken))
			break;
		fallthrough;
	default:
		return -ENOTCONN;
	}
	if (state_len) {
		state = kvmalloc(state_len, GFP_KERNEL);
		if (!state)
			return -ENOMEM;
		if (copy_from_user(state, u64_to_user_ptr(ustate), state_len)) {
			ret = -EFAULT;
			goto err_free_state;
		}
	}
	fresh = ftp_bitmap_alloc(r);
	if (!fresh) {
		ret = -ENOMEM;
		goto err_free_state;
	}
	ret = ftp_journal_seal(j, fresh, state, state_len, epoch, pages);
	if (ret) {
		kvfree(fresh);
		goto err_free_state;
	}
	ftp_dbg(1, "region %s: sealed epoch %llu, %llu pages, %llu state bytes\n",
		r->name, *epoch, *pages, state_len);
	wake_up_all(&j->wq);

	if (!(flags & FTPAGE_COMMIT_WAIT))
		return 0;
	ret = wait_event_killable(j->wq, READ_ONCE(j->committed) >= *epoch ||
					 READ_ONCE(j->broken));
	if (ret)
		return ret;
	return READ_ONCE(j->committed) >= *epoch ? 0 : -ECONNRESET;

err_free_state:
	kvfree(state);
	return ret;
}

/* The oldest epoch not streamed yet, or NULL. */
static struct ftp_epoch *ftp_journal_next(struct ftp_journal *j)
{
	struct ftp_epoch *e, *found = NULL;

	down_read(&j->seal_sem);
	list_for_each_entry(e, &j->epochs, node) {
		if (!e->sent) {
			found = e;
			break;
		}
	}
	up_read(&j->seal_sem);
	return found;
}

/*
 * Page @i of @e as sealed, into @s's bounce page: its copy, or the page
 * itself, unchanged since (under the folio lock a writer copies it first).
 */
static int ftp_journal_take_page(struct ftp_jstream *s, struct ftp_epoch *e,
				 unsigned long i)
{
	struct folio *folio = ftp_page_lookup(s->j->r, i);
	struct page *copy;

	if (!folio)
		return -ENODEV;
	folio_lock(folio);
	copy = xa_load(&e->copies, i);
	if (copy)
		memcpy_from_page(s->bounce, copy, 0, PAGE_SIZE);
	else
		memcpy_from_page(s->bounce, folio_page(folio, 0), 0, PAGE_SIZE);
	folio_unlock(folio);
	folio_put(folio);
	return 0;
}

/* Send chunks of @e's pages on @s until no chunk is left. */
static int ftp_journal_send_share(struct ftp_jstream *s, struct ftp_epoch *e)
{
	struct ftp_journal *j = s->j;
	struct ftp_msg_epoch_page pg = { .epoch = cpu_to_le64(e->n) };
	unsigned long nr = j->r->nr_pages, start, end, i;
	int ret;

	for (;;) {
		/* (stopped: the others may be gone, do not send all alone) */
		if (kthread_should_stop())
			return -EINTR;
		start = atomic_long_fetch_add(FTP_JOURNAL_CHUNK, &j->cursor);
		if (start >= nr)
			return 0;
		end = min(start + FTP_JOURNAL_CHUNK, nr);
		for (i = find_next_bit(e->map, end, start); i < end;
		     i = find_next_bit(e->map, end, i + 1)) {
			ret = ftp_journal_take_page(s, e, i);
			if (ret)
				return ret;
			pg.pgoff = cpu_to_le64(i);
			ret = ftp_send_msg(s->fs, FTP_MSG_EPOCH_PAGE, 0, &pg,
					   sizeof(pg), s->bounce,
					   FTP_PROTO_PAGE_SIZE);
			if (ret)
				return ret;
			cond_resched();
		}
	}
}

/* A stream sent its share of the current epoch; the last wakes stream 0. */
static void ftp_journal_share_done(struct ftp_journal *j)
{
	if (atomic_dec_and_test(&j->busy))
		wake_up_all(&j->wq);
}

static int ftp_journal_send_state(struct ftp_jstream *s, struct ftp_epoch *e)
{
	struct ftp_msg_epoch_state m = { .epoch = cpu_to_le64(e->n) };
	u64 off;
	u32 len;
	int ret;

	for (off = 0; off < e->state_len; off += len) {
		len = min_t(u64, FTP_PROTO_PAGE_SIZE, e->state_len - off);
		memcpy(s->bounce, e->state + off, len);
		memset(s->bounce + len, 0, FTP_PROTO_PAGE_SIZE - len);
		m.offset = cpu_to_le64(off);
		m.len = cpu_to_le32(len);
		ret = ftp_send_msg(s->fs, FTP_MSG_EPOCH_STATE, 0, &m, sizeof(m),
				   s->bounce, FTP_PROTO_PAGE_SIZE);
		if (ret)
			return ret;
		cond_resched();
	}
	return 0;
}

/*
 * Stream 0: announce @e, have every stream send a share of its pages, and
 * once they all did, send the blob and the commit record.
 */
static int ftp_journal_send_epoch(struct ftp_jstream *s, struct ftp_epoch *e)
{
	struct ftp_journal *j = s->j;
	struct ftp_msg_epoch rec = {
		.epoch = cpu_to_le64(e->n),
		.pages = cpu_to_le64(e->pages),
		.state_len = cpu_to_le64(e->state_len),
	};
	int ret;

	ret = ftp_send_msg(s->fs, FTP_MSG_EPOCH_BEGIN, 0, &rec, sizeof(rec),
			   NULL, 0);
	if (ret)
		return ret;
	j->cur = e;
	atomic_long_set(&j->cursor, 0);
	atomic_set(&j->busy, j->nr_st);
	smp_store_release(&j->round, j->round + 1);
	wake_up_all(&j->wq);
	ret = ftp_journal_send_share(s, e);
	if (ret)
		return ret;
	ftp_journal_share_done(j);
	/* A stream that fails leaves @busy up: the keeper stops us. */
	wait_event_interruptible(j->wq, kthread_should_stop() ||
				 !atomic_read(&j->busy));
	if (kthread_should_stop())
		return -EINTR;
	ret = ftp_journal_send_state(s, e);
	if (ret)
		return ret;
	/* Before the commit record: its ack may come back at once. */
	WRITE_ONCE(e->sent, true);
	return ftp_send_msg(s->fs, FTP_MSG_EPOCH_COMMIT, 0, &rec, sizeof(rec),
			    NULL, 0);
}

/* Stream 0: each epoch in turn, as soon as it is sealed. */
static int ftp_journal_lead(struct ftp_jstream *s)
{
	struct ftp_journal *j = s->j;
	struct ftp_epoch *e;
	int ret;
	u64 n;

	for (;;) {
		wait_event_interruptible(j->wq, kthread_should_stop() ||
					 READ_ONCE(j->sealed) > j->streamed);
		if (kthread_should_stop())
			return 0;
		e = ftp_journal_next(j);
		if (WARN_ON_ONCE(!e))
			return -EINVAL;
		/* Once sent, the ack may free @e at any time. */
		n = e->n;
		ret = ftp_journal_send_epoch(s, e);
		if (ret)
			return ret;
		j->streamed = n;
	}
}

/* The other streams: a share of each epoch stream 0 announces. */
static int ftp_journal_help(struct ftp_jstream *s)
{
	struct ftp_journal *j = s->j;
	int ret;

	for (;;) {
		wait_event_interruptible(j->wq, kthread_should_stop() ||
					 READ_ONCE(j->round) != s->round);
		if (kthread_should_stop())
			return 0;
		/* Stream 0 waits for our share: one round at a time. */
		s->round = smp_load_acquire(&j->round);
		ret = ftp_journal_send_share(s, j->cur);
		if (ret)
			return ret;
		ftp_journal_share_done(j);
	}
}

static int ftp_journal_thread(void *arg)
{
	struct ftp_jstream *s = arg;
	int ret;

	ret = s == &s->j->st[0] ? ftp_journal_lead(s) : ftp_journal_help(s);
	/* Sent again whole once the link is back. */
	if (ret && !kthread_should_stop())
		ftp_dest_link_lost(s->j->r->dst, "journal", ret);
	ftp_thread_idle_until_stop();
	return ret;
}

/* The source applied every epoch up to @n; 0, or -EPROTO for a bad ack. */
int ftp_journal_ack(struct ftp_region *r, u64 n)
{
	struct ftp_journal *j = r->jr;
	struct ftp_epoch *e, *tmp;
	LIST_HEAD(done);
	int ret = 0;

	down_write(&j->seal_sem);
	if (n > j->sealed)
		ret = -EPROTO;		/* an epoch we never sealed */
	list_for_each_entry_safe(e, tmp, &j->epochs, node) {
		if (ret || e->n > n)
			break;
		if (!READ_ONCE(e->sent)) {	/* acked before it was sent */
			ret = -EPROTO;
			break;
		}
		list_move_tail(&e->node, &done);
	}
	if (!ret && n > j->committed)
		WRITE_ONCE(j->committed, n);
	up_write(&j->seal_sem);

	list_for_each_entry_safe(e, tmp, &done, node) {
		atomic64_sub(e->pages * PAGE_SIZE + e->state_len, &j->bytes);
		ftp_epoch_free(e);
	}
	wake_up_all(&j->wq);
	ftp_dbg(1, "region %s: source applied epoch %llu\n", r->name, n);
	return ret;
}

/*
 * The source has applied every epoch up to @committed (its HELLO_ACK):
 * drop those, and stream the others again from the start.
 */
static int ftp_journal_rewind(struct ftp_journal *j, u64 committed)
{
	struct ftp_epoch *e, *tmp;
	LIST_HEAD(done);

	down_write(&j->seal_sem);
	if (committed > j->sealed || committed < j->committed) {
		up_write(&j->seal_sem);
		pr_err("region %s: the source applied epoch %llu, we sealed %llu and saw %llu applied\n",
		       j->r->name, committed, j->sealed, j->committed);
		return -EPROTO;
	}
	list_for_each_entry_safe(e, tmp, &j->epochs, node) {
		if (e->n <= committed)
			list_move_tail(&e->node, &done);
		else
			WRITE_ONCE(e->sent, false);
	}
	WRITE_ONCE(j->committed, committed);
	j->streamed = committed;
	up_write(&j->seal_sem);

	list_for_each_entry_safe(e, tmp, &done, node) {
		atomic64_sub(e->pages * PAGE_SIZE + e->state_len, &j->bytes);
		ftp_epoch_free(e);
	}
	wake_up_all(&j->wq);
	return 0;
}

/*
 * Stream epochs on the @nr journal channels @fs just (re)connected; the
 * source has applied up to @committed.
 */
int ftp_journal_start(struct ftp_region *r, struct ftp_sock **fs,
		      unsigned int nr, u64 committed)
{
	struct ftp_journal *j = r->jr;
	unsigned int i;
	int ret;

	if (WARN_ON_ONCE(j->st[0].task || !nr || nr > FTP_PROTO_MAX_STREAMS))
		return -EINVAL;
	ret = ftp_journal_rewind(j, committed);
	if (ret)
		return ret;
	j->nr_st = nr;
	for (i = 0; i < nr; i++) {
		j->st[i].fs = fs[i];
		j->st[i].round = j->round;
	}
	/* On failure the caller closes the channels, then pauses us. */
	for (i = 0; i < nr; i++) {
		ret = ftp_thread_start(&j->st[i].task, ftp_journal_thread,
				       &j->st[i], "ftpage-journal", r->name, true);
		if (ret)
			return ret;
	}
	return 0;
}

/* The journal channels are being closed: stop streaming, keep the epochs. */
void ftp_journal_pause(struct ftp_region *r)
{
	struct ftp_journal *j = r->jr;
	unsigned int i;

	if (!j)
		return;
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++)
		ftp_thread_stop(&j->st[i].task);
}

/* For good (abandoned, destroyed): COMMIT_WAIT callers stop waiting. */
void ftp_journal_break(struct ftp_region *r)
{
	struct ftp_journal *j = r->jr;

	if (!j)
		return;
	WRITE_ONCE(j->broken, true);
	wake_up_all(&j->wq);
}

void ftp_journal_stop(struct ftp_region *r)
{
	ftp_journal_break(r);
	ftp_journal_pause(r);
}

/* Free @j and its epochs; its threads are stopped. */
static void ftp_journal_free(struct ftp_journal *j)
{
	struct ftp_epoch *e, *tmp;
	unsigned int i;

	list_for_each_entry_safe(e, tmp, &j->epochs, node)
		ftp_epoch_free(e);
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++)
		kfree(j->st[i].bounce);
	kvfree(j->dirty);
	kfree(j);
}

int ftp_journal_init(struct ftp_region *r)
{
	struct ftp_journal *j;
	unsigned int i;

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	INIT_LIST_HEAD(&j->epochs);
	j->dirty = ftp_bitmap_alloc(r);
	if (!j->dirty)
		goto err_free;
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++) {
		j->st[i].j = j;
		j->st[i].bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
		if (!j->st[i].bounce)
			goto err_free;
	}
	j->r = r;
	init_rwsem(&j->seal_sem);
	init_waitqueue_head(&j->wq);
	r->jr = j;
	return 0;

err_free:
	ftp_journal_free(j);
	return -ENOMEM;
}

void ftp_journal_uninit(struct ftp_region *r)
{
	if (!r->jr)
		return;
	ftp_journal_stop(r);
	ftp_journal_free(r->jr);
	r->jr = NULL;
}

void ftp_journal_status(struct ftp_region *r, struct ftpage_status *st)
{
	struct ftp_journal *j = r->jr;

	st->epoch = READ_ONCE(j->sealed);
	st->committed_epoch = READ_ONCE(j->committed);
	st->journal_bytes = atomic64_read(&j->bytes);
}
