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
 * it is still unacknowledged (copy-before-write). The streamer thread
 * sends each page (its copy, or the page itself if unchanged since the
 * seal), the state blob and a commit record on the journal channel; the
 * source acknowledges once it applied the epoch, and the epoch is freed.
 * Until then it can be sent again whole: after a reconnect, streaming
 * resumes at the first epoch the source has not applied.
 *
 * Source. The journal connection stages an epoch (pages and blob) and
 * applies it, under r->lock, only when its commit record arrived and
 * everything it announced is there; a partial epoch is dropped with the
 * connection. ROLLBACK takes r->lock too, so it sees a region at an epoch
 * boundary: the frozen image plus every applied epoch.
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
	u64 streamed;			/* last epoch streamed (streamer only) */
	u64 committed;			/* last epoch acknowledged */
	atomic64_t bytes;		/* sealed, not acknowledged */
	bool broken;			/* the journal cannot reach the source */
	wait_queue_head_t wq;		/* streamer: work; COMMIT_WAIT: acks */
	struct ftp_sock *fs;		/* the journal channel (dest.c owns it) */
	struct task_struct *task;	/* the streamer, referenced */
	void *bounce;			/* one page, streamer only */
};

/* The state a source stages an incoming epoch in. */
struct ftp_stage {
	u64 n;				/* 0: no epoch begun */
	bool skip;			/* @n was applied already: only ack it */
	u64 pages;
	u64 state_len;
	struct xarray staged;		/* index -> page */
	u64 nr_staged;
	void *state;
	u64 got_state;			/* blob bytes received, in order */
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
 * Page @i of @e as sealed, into the bounce page: its copy, or the page
 * itself, unchanged since (under the folio lock a writer copies it first).
 */
static int ftp_journal_take_page(struct ftp_journal *j, struct ftp_epoch *e,
				 unsigned long i)
{
	struct folio *folio = ftp_page_lookup(j->r, i);
	struct page *copy;

	if (!folio)
		return -ENODEV;
	folio_lock(folio);
	copy = xa_load(&e->copies, i);
	if (copy)
		memcpy_from_page(j->bounce, copy, 0, PAGE_SIZE);
	else
		memcpy_from_page(j->bounce, folio_page(folio, 0), 0, PAGE_SIZE);
	folio_unlock(folio);
	folio_put(folio);
	return 0;
}

static int ftp_journal_send_state(struct ftp_journal *j, struct ftp_epoch *e)
{
	struct ftp_msg_epoch_state m = { .epoch = cpu_to_le64(e->n) };
	u64 off;
	u32 len;
	int ret;

	for (off = 0; off < e->state_len; off += len) {
		len = min_t(u64, FTP_PROTO_PAGE_SIZE, e->state_len - off);
		memcpy(j->bounce, e->state + off, len);
		memset(j->bounce + len, 0, FTP_PROTO_PAGE_SIZE - len);
		m.offset = cpu_to_le64(off);
		m.len = cpu_to_le32(len);
		ret = ftp_send_msg(j->fs, FTP_MSG_EPOCH_STATE, 0, &m, sizeof(m),
				   j->bounce, FTP_PROTO_PAGE_SIZE);
		if (ret)
			return ret;
		cond_resched();
	}
	return 0;
}

static int ftp_journal_send_epoch(struct ftp_journal *j, struct ftp_epoch *e)
{
	struct ftp_msg_epoch rec = {
		.epoch = cpu_to_le64(e->n),
		.pages = cpu_to_le64(e->pages),
		.state_len = cpu_to_le64(e->state_len),
	};
	struct ftp_msg_epoch_page pg = { .epoch = cpu_to_le64(e->n) };
	unsigned long i;
	int ret;

	ret = ftp_send_msg(j->fs, FTP_MSG_EPOCH_BEGIN, 0, &rec, sizeof(rec), NULL, 0);
	for_each_set_bit(i, e->map, j->r->nr_pages) {
		if (ret)
			return ret;
		ret = ftp_journal_take_page(j, e, i);
		if (ret)
			return ret;
		pg.pgoff = cpu_to_le64(i);
		ret = ftp_send_msg(j->fs, FTP_MSG_EPOCH_PAGE, 0, &pg, sizeof(pg),
				   j->bounce, FTP_PROTO_PAGE_SIZE);
		cond_resched();
	}
	if (!ret)
		ret = ftp_journal_send_state(j, e);
	if (ret)
		return ret;
	/* Before the commit record: its ack may come back at once. */
	WRITE_ONCE(e->sent, true);
	return ftp_send_msg(j->fs, FTP_MSG_EPOCH_COMMIT, 0, &rec, sizeof(rec),
			    NULL, 0);
}

static int ftp_journal_thread(void *arg)
{
	struct ftp_journal *j = arg;
	struct ftp_epoch *e;
	int ret = 0;
	u64 n;

	while (!kthread_should_stop()) {
		wait_event_interruptible(j->wq, kthread_should_stop() ||
					 READ_ONCE(j->sealed) > j->streamed);
		if (kthread_should_stop())
			break;
		e = ftp_journal_next(j);
		if (WARN_ON_ONCE(!e))
			break;
		/* Once sent, the ack may free @e at any time. */
		n = e->n;
		ret = ftp_journal_send_epoch(j, e);
		if (ret) {
			/* Sent again whole once the link is back. */
			ftp_dest_link_lost(j->r->dst, "journal", ret);
			break;
		}
		j->streamed = n;
	}
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
 * Stream epochs on @fs, the journal channel just (re)connected; the source
 * has applied up to @committed.
 */
int ftp_journal_start(struct ftp_region *r, struct ftp_sock *fs, u64 committed)
{
	struct ftp_journal *j = r->jr;
	int ret;

	if (WARN_ON_ONCE(j->task))
		return -EBUSY;
	ret = ftp_journal_rewind(j, committed);
	if (ret)
		return ret;
	j->fs = fs;
	return ftp_thread_start(&j->task, ftp_journal_thread, j,
				"ftpage-journal", r->name, true);
}

/* The journal channel is being closed: stop streaming, keep the epochs. */
void ftp_journal_pause(struct ftp_region *r)
{
	struct ftp_journal *j = r->jr;

	if (j)
		ftp_thread_stop(&j->task);
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

int ftp_journal_init(struct ftp_region *r)
{
	struct ftp_journal *j;

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return -ENOMEM;
	j->dirty = ftp_bitmap_alloc(r);
	j->bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!j->dirty || !j->bounce) {
		kvfree(j->dirty);
		kfree(j->bounce);
		kfree(j);
		return -ENOMEM;
	}
	j->r = r;
	init_rwsem(&j->seal_sem);
	INIT_LIST_HEAD(&j->epochs);
	init_waitqueue_head(&j->wq);
	r->jr = j;
	return 0;
}

void ftp_journal_uninit(struct ftp_region *r)
{
	struct ftp_journal *j = r->jr;
	struct ftp_epoch *e, *tmp;

	if (!j)
		return;
	ftp_journal_stop(r);
	list_for_each_entry_safe(e, tmp, &j->epochs, node)
		ftp_epoch_free(e);
	kvfree(j->dirty);
	kfree(j->bounce);
	kfree(j);
	r->jr = NULL;
}

void ftp_journal_status(struct ftp_region *r, struct ftpage_status *st)
{
	struct ftp_journal *j = r->jr;

	st->epoch = READ_ONCE(j->sealed);
	st->committed_epoch = READ_ONCE(j->committed);
	st->journal_bytes = atomic64_read(&j->bytes);
}

/* ---- source: staging and applying epochs ---------------------------- */

static void ftp_stage_reset(struct ftp_region *r, struct ftp_stage *s)
{
	ftp_free_pages_xa(&s->staged);
	xa_init(&s->staged);
	kvfree(s->state);
	s->state = NULL;
	s->n = 0;
	s->skip = false;
	s->nr_staged = 0;
	s->got_state = 0;
	atomic64_set(&r->staged_bytes, 0);
}

/* Apply a complete epoch, atomically with respect to ROLLBACK. */
static int ftp_stage_apply(struct ftp_region *r, struct ftp_stage *s)
{
	struct page *page;
	unsigned long i;
	void *p;
	int ret = 0;

	mutex_lock(&r->lock);
	if (r->state != FTPAGE_STATE_FROZEN && r->state != FTPAGE_STATE_COMPLETE) {
		ret = -ESHUTDOWN;	/* rolled back or destroyed meanwhile */
		goto out_unlock;
	}
	/* Applied meanwhile by a connection this one replaced: ack it. */
	if (s->n <= r->committed_epoch)
		goto out_unlock;
	if (s->n != r->committed_epoch + 1) {
		ret = -EPROTO;
		goto out_unlock;
	}
	/*
	 * First make sure every target page exists (this may fail, and
	 * changes no content); then copy, which cannot fail: the region never
	 * holds half an epoch. Nothing truncates a source under r->lock.
	 */
	xa_for_each(&s->staged, i, page) {
		ret = ftp_page_store(r, i, NULL);
		if (ret)
			goto out_unlock;
		cond_resched();
	}
	xa_for_each(&s->staged, i, page) {
		p = kmap_local_page(page);
		ret = ftp_page_store(r, i, p);
		kunmap_local(p);
		if (WARN_ON_ONCE(ret))
			goto out_unlock;
		cond_resched();
	}
	kvfree(r->committed_state);
	r->committed_state = s->state;
	r->committed_state_len = s->state_len;
	s->state = NULL;
	WRITE_ONCE(r->committed_epoch, s->n);
out_unlock:
	mutex_unlock(&r->lock);
	return ret;
}

static int ftp_stage_ack(struct ftp_region *r, struct ftp_sock *fs,
			 struct ftp_stage *s)
{
	struct ftp_msg_epoch ack = { .epoch = cpu_to_le64(s->n) };

	ftp_stage_reset(r, s);
	return ftp_send_msg(fs, FTP_MSG_EPOCH_ACK, 0, &ack, sizeof(ack), NULL, 0);
}

/* An epoch applied already: read its messages, ack its commit record. */
static int ftp_stage_skip(struct ftp_region *r, struct ftp_sock *fs,
			  struct ftp_stage *s, unsigned int type, void *buf)
{
	if (type == FTP_MSG_EPOCH_COMMIT)
		return ftp_stage_ack(r, fs, s);
	return ftp_recv_page(fs, buf);
}

static int ftp_stage_msg(struct ftp_region *r, struct ftp_sock *fs,
			 struct ftp_stage *s, unsigned int type,
			 const union ftp_msg_fixed *m, void *buf)
{
	struct page *page, *old = NULL;
	void *p;
	u64 n;
	int ret;

	/* Every journal message starts with its epoch number. */
	if (type < FTP_MSG_EPOCH_BEGIN || type > FTP_MSG_EPOCH_COMMIT)
		return -EPROTO;
	n = le64_to_cpu(m->epoch.epoch);
	if (type == FTP_MSG_EPOCH_BEGIN) {
		if (s->n || n > READ_ONCE(r->committed_epoch) + 1)
			return -EPROTO;
		s->n = n;
		/* Sent again after a reconnect that lost its ack. */
		s->skip = n <= READ_ONCE(r->committed_epoch);
		if (s->skip)
			return 0;
		s->pages = le64_to_cpu(m->epoch.pages);
		s->state_len = le64_to_cpu(m->epoch.state_len);
		WRITE_ONCE(r->staging_epoch, n);
		if (s->state_len) {
			s->state = kvzalloc(s->state_len, GFP_KERNEL);
			if (!s->state)
				return -ENOMEM;
		}
		return 0;
	}
	if (!s->n || n != s->n)
		return -EPROTO;
	if (s->skip)
		return ftp_stage_skip(r, fs, s, type, buf);

	switch (type) {
	case FTP_MSG_EPOCH_PAGE:
		/* No more pages than announced: staging memory is bounded. */
		if (s->nr_staged >= s->pages &&
		    !xa_load(&s->staged, le64_to_cpu(m->epoch_page.pgoff)))
			return -EPROTO;
		page = alloc_page(GFP_HIGHUSER);
		if (!page)
			return -ENOMEM;
		p = kmap_local_page(page);
		ret = ftp_recv_page(fs, p);
		kunmap_local(p);
		if (!ret)
			old = xa_store(&s->staged, le64_to_cpu(m->epoch_page.pgoff),
				       page, GFP_KERNEL);
		if (ret || xa_is_err(old)) {
			__free_page(page);
			return ret ?: xa_err(old);
		}
		if (old)
			__free_page(old);
		else
			s->nr_staged++;
		atomic64_add(PAGE_SIZE, &r->staged_bytes);
		return 0;
	case FTP_MSG_EPOCH_STATE:
		ret = ftp_recv_page(fs, buf);
		if (ret)
			return ret;
		/* Chunks come in order, so none can be missing at COMMIT. */
		if (le64_to_cpu(m->epoch_state.offset) != s->got_state ||
		    le32_to_cpu(m->epoch_state.len) > s->state_len - s->got_state)
			return -EPROTO;
		memcpy(s->state + s->got_state, buf, le32_to_cpu(m->epoch_state.len));
		s->got_state += le32_to_cpu(m->epoch_state.len);
		atomic64_add(le32_to_cpu(m->epoch_state.len), &r->staged_bytes);
		return 0;
	case FTP_MSG_EPOCH_COMMIT:
		if (le64_to_cpu(m->epoch.pages) != s->pages ||
		    s->nr_staged != s->pages ||
		    le64_to_cpu(m->epoch.state_len) != s->state_len ||
		    s->got_state != s->state_len)
			return -EPROTO;
		ret = ftp_stage_apply(r, s);
		if (ret)
			return ret;
		pr_info("region %s: applied epoch %llu (%llu pages, %llu state bytes)\n",
			r->name, n, s->pages, s->state_len);
		return ftp_stage_ack(r, fs, s);
	default:
		return -EPROTO;
	}
}

/*
 * Serve the journal channel of a source until it fails. A partial epoch
 * is dropped with the connection, never applied.
 */
int ftp_stage_serve(struct ftp_region *r, struct ftp_sock *fs)
{
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	struct ftp_stage s = { 0 };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	void *buf;
	int ret;

	buf = kmalloc(FTP_PROTO_PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	xa_init(&s.staged);
	do {
		ret = ftp_recv_msg(fs, &h, &m, &lim);
		if (ret > 0)
			ret = ftp_stage_msg(r, fs, &s, ret, &m, buf);
	} while (!ret && !kthread_should_stop());
	if (s.n)
		pr_warn("region %s: epoch %llu dropped unapplied (%d)\n", r->name,
			s.n, ret);
	ftp_stage_reset(r, &s);
	xa_destroy(&s.staged);
	kfree(buf);
	return ret;
}
