// SPDX-License-Identifier: GPL-2.0
/*
 * Source: staging the epochs a destination commits back, and applying them.
 *
 * A destination stripes each epoch over its journal streams (as many as
 * its push streams): stream 0 carries EPOCH_BEGIN, a share of the pages,
 * the state blob and EPOCH_COMMIT; every other stream carries EPOCH_PAGEs
 * alone, each naming its epoch. The streams of one connection (generation)
 * feed one stage. A page of an epoch that has not begun here yet (its
 * stream ran ahead of stream 0) waits, and holds its stream back. COMMIT
 * waits until every page the epoch announced is staged: the destination
 * sends it once every stream has sent its share, and a stream is in order,
 * so those pages are on their way. Then the epoch is applied whole, under
 * r->lock, and acknowledged on stream 0.
 *
 * A stream that fails drops the epoch being staged and ends its generation
 * here: the other streams stop at their next message, the destination
 * reconnects and streams every epoch not acknowledged again. The first
 * EPOCH_BEGIN of that new generation takes the stage over; the source
 * shut the old streams down when the new ones claimed their channels,
 * before they could send anything, so a stream whose connection is over
 * takes no part any more, and generations are never mixed. Pages of an
 * epoch applied already (sent again after a lost ack) are read and
 * dropped. ROLLBACK takes r->lock too, so it sees a region at an epoch
 * boundary: the frozen image plus every applied epoch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "ftpage.h"
#include "transport.h"

struct ftp_stage {
	struct ftp_region *r;
	wait_queue_head_t wq;		/* @events changed */
	struct mutex lock;		/* protects the fields below; taken
					 * before r->lock */
	u64 events;			/* an epoch began, filled or ended; a
					 * generation came or died (read
					 * unlocked by waiters) */
	u16 gen;			/* of the streams feeding it; 0: none */
	bool dead;			/* a stream of @gen failed */
	u64 n;				/* epoch being staged; 0: none */
	bool skip;			/* @n was applied already: only ack it */
	u64 pages;			/* announced by EPOCH_BEGIN */
	u64 state_len;
	struct xarray staged;		/* index -> page */
	u64 nr_staged;
	void *state;
	u64 got_state;			/* blob bytes received, in order */
};

struct ftp_stage *ftp_stage_new(struct ftp_region *r)
{
	struct ftp_stage *s = kzalloc(sizeof(*s), GFP_KERNEL);

	if (!s)
		return NULL;
	s->r = r;
	mutex_init(&s->lock);
	init_waitqueue_head(&s->wq);
	xa_init(&s->staged);
	return s;
}

/* Drop the epoch being staged, if any. */
static void ftp_stage_reset(struct ftp_stage *s)
{
	struct page *page;
	unsigned long i;

	lockdep_assert_held(&s->lock);
	xa_for_each(&s->staged, i, page)
		__free_page(page);
	xa_destroy(&s->staged);
	kvfree(s->state);
	s->state = NULL;
	s->n = 0;
	s->skip = false;
	s->pages = 0;
	s->state_len = 0;
	s->nr_staged = 0;
	s->got_state = 0;
	atomic64_set(&s->r->staged_bytes, 0);
}

/* Every stream's thread has stopped. */
void ftp_stage_free(struct ftp_stage *s)
{
	if (!s)
		return;
	mutex_lock(&s->lock);
	ftp_stage_reset(s);
	mutex_unlock(&s->lock);
	kfree(s);
}

static void ftp_stage_changed(struct ftp_stage *s)
{
	lockdep_assert_held(&s->lock);
	s->events++;
	wake_up_all(&s->wq);
}

/* One journal stream feeding the stage. */
struct ftp_stage_in {
	struct ftp_stage *s;
	struct ftp_sock *fs;
	u16 gen;			/* its connection's generation */
	unsigned int stream;		/* 0 carries an epoch's records */
};

/*
 * May @in feed the stage? 0: its generation's; -EAGAIN: a newer one,
 * whose stream 0 has not begun an epoch yet; -ECONNRESET: its connection
 * is over (closed, or replaced by a newer one, which shuts it down before
 * that sends anything), or a stream of its generation failed.
 */
static int ftp_stage_gen(const struct ftp_stage_in *in)
{
	struct ftp_stage *s = in->s;

	lockdep_assert_held(&s->lock);
	if (ftp_sock_peer_gone(in->fs))
		return -ECONNRESET;
	if (in->gen != s->gen)
		return -EAGAIN;
	return s->dead ? -ECONNRESET : 0;
}

/*
 * Generation @gen takes the stage over, or ends (@dead: a stream of it
 * failed with @err); the epoch being staged is dropped.
 */
static void ftp_stage_adopt(struct ftp_stage *s, u16 gen, bool dead, int err)
{
	lockdep_assert_held(&s->lock);
	if (s->n && !s->skip && dead)
		pr_warn("region %s: epoch %llu dropped unapplied (%d)\n",
			s->r->name, s->n, err);
	else if (s->n && !s->skip)
		pr_warn("region %s: epoch %llu dropped unapplied (a new connection)\n",
			s->r->name, s->n);
	ftp_stage_reset(s);
	s->gen = gen;
	s->dead = dead;
	ftp_stage_changed(s);
}

/*
 * Let go of s->lock until the stage changes (or a tenth of a second
 * passes, to notice a connection that ended), and take it again.
 */
static void ftp_stage_wait(struct ftp_stage *s)
{
	u64 seen = s->events;

	lockdep_assert_held(&s->lock);
	mutex_unlock(&s->lock);
	wait_event_interruptible_timeout(s->wq, READ_ONCE(s->events) != seen ||
					 kthread_should_stop(), HZ / 10);
	mutex_lock(&s->lock);
}

/*
 * Wait until the stage takes pages of epoch @n from @in: 1 once it does,
 * 0 if @n was applied already (drop the page), or -errno.
 */
static int ftp_stage_until(const struct ftp_stage_in *in, u64 n)
{
	struct ftp_stage *s = in->s;
	int ret;

	lockdep_assert_held(&s->lock);
	for (;;) {
		ret = ftp_stage_gen(in);
		if (ret == -ECONNRESET)
			return ret;
		if (n <= READ_ONCE(s->r->committed_epoch))
			return 0;
		if (!ret && s->n == n)
			return 1;
		if (kthread_should_stop())
			return -ESHUTDOWN;
		ftp_stage_wait(s);
	}
}

/* Is @in's generation staging epoch @n? (stream 0's STATE and COMMIT) */
static int ftp_stage_current(const struct ftp_stage_in *in, u64 n)
{
	int ret = ftp_stage_gen(in);

	lockdep_assert_held(&in->s->lock);
	if (ret == -EAGAIN || (!ret && in->s->n != n))
		return -EPROTO;		/* no BEGIN of ours came first */
	return ret;
}

/* EPOCH_PAGE, on any stream; its page follows. */
static int ftp_stage_page(const struct ftp_stage_in *in,
			  const struct ftp_msg_epoch_page *m)
{
	struct ftp_stage *s = in->s;
	pgoff_t index = le64_to_cpu(m->pgoff);
	struct page *page, *old;
	void *p;
	int ret;

	page = alloc_page(GFP_HIGHUSER);
	if (!page)
		return -ENOMEM;
	p = kmap_local_page(page);
	ret = ftp_recv_page(in->fs, p);
	kunmap_local(p);
	if (ret)
		goto out_free;

	mutex_lock(&s->lock);
	ret = ftp_stage_until(in, le64_to_cpu(m->epoch));
	if (ret <= 0)
		goto out_unlock;
	/* No more pages than announced: staging memory is bounded. */
	ret = -EPROTO;
	if (s->nr_staged >= s->pages && !xa_load(&s->staged, index))
		goto out_unlock;
	old = xa_store(&s->staged, index, page, GFP_KERNEL);
	ret = xa_err(old);
	if (ret)
		goto out_unlock;
	page = old;		/* the same page sent twice: keep the last */
	if (!old) {
		s->nr_staged++;
		atomic64_add(PAGE_SIZE, &s->r->staged_bytes);
	}
	if (s->nr_staged == s->pages)
		ftp_stage_changed(s);		/* COMMIT may be waiting */
out_unlock:
	mutex_unlock(&s->lock);
out_free:
	if (page)
		__free_page(page);
	return ret;
}

/* EPOCH_BEGIN, stream 0: the first of a newer generation takes over. */
static int ftp_stage_begin(const struct ftp_stage_in *in,
			   const struct ftp_msg_epoch *m)
{
	struct ftp_stage *s = in->s;
	struct ftp_region *r = s->r;
	u64 n = le64_to_cpu(m->epoch), committed = READ_ONCE(r->committed_epoch);
	int ret;

	lockdep_assert_held(&s->lock);
	ret = ftp_stage_gen(in);
	if (ret == -ECONNRESET)
		return ret;
	if (ret == -EAGAIN)
		ftp_stage_adopt(s, in->gen, false, 0);
	if (s->n || n > committed + 1)
		return -EPROTO;
	s->n = n;
	/* Sent again after a reconnect that lost its ack. */
	s->skip = n <= committed;
	if (!s->skip) {
		s->pages = le64_to_cpu(m->pages);
		s->state_len = le64_to_cpu(m->state_len);
		WRITE_ONCE(r->staging_epoch, n);
		if (s->state_len) {
			s->state = kvzalloc(s->state_len, GFP_KERNEL);
			if (!s->state)
				return -ENOMEM;
		}
	}
	ftp_stage_changed(s);
	return 0;
}

/* EPOCH_STATE, stream 0: a chunk of the blob, in @buf. */
static int ftp_stage_state(const struct ftp_stage_in *in,
			   const struct ftp_msg_epoch_state *m, const void *buf)
{
	struct ftp_stage *s = in->s;
	u32 len = le32_to_cpu(m->len);
	int ret;

	lockdep_assert_held(&s->lock);
	ret = ftp_stage_current(in, le64_to_cpu(m->epoch));
	if (ret || s->skip)
		return ret;
	/* Chunks come in order, so none can be missing at COMMIT. */
	if (le64_to_cpu(m->offset) != s->got_state ||
	    len > s->state_len - s->got_state)
		return -EPROTO;
	memcpy(s->state + s->got_state, buf, len);
	s->got_state += len;
	atomic64_add(len, &s->r->staged_bytes);
	return 0;
}

/* Apply a complete epoch, atomically with respect to ROLLBACK. */
static int ftp_stage_apply(struct ftp_stage *s)
{
	struct ftp_region *r = s->r;
	struct page *page;
	unsigned long i;
	void *p;
	int ret = 0;

	lockdep_assert_held(&s->lock);
	mutex_lock(&r->lock);
	if (r->state != FTPAGE_STATE_FROZEN && r->state != FTPAGE_STATE_COMPLETE) {
		ret = -ESHUTDOWN;	/* rolled back or destroyed meanwhile */
		goto out_unlock;
	}
	/* Only the stage applies, in order (and skips what it applied). */
	if (WARN_ON_ONCE(s->n != r->committed_epoch + 1)) {
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
	pr_info("region %s: applied epoch %llu (%llu pages, %llu state bytes)\n",
		r->name, s->n, s->pages, s->state_len);
out_unlock:
	mutex_unlock(&r->lock);
	return ret;
}

/*
 * EPOCH_COMMIT, stream 0: once every page announced is staged (the other
 * streams may still be delivering theirs), apply the epoch.
 */
static int ftp_stage_commit(const struct ftp_stage_in *in,
			    const struct ftp_msg_epoch *m)
{
	struct ftp_stage *s = in->s;
	u64 n = le64_to_cpu(m->epoch);
	int ret;

	lockdep_assert_held(&s->lock);
	ret = ftp_stage_current(in, n);
	if (ret || s->skip)
		goto out;
	if (le64_to_cpu(m->pages) != s->pages ||
	    le64_to_cpu(m->state_len) != s->state_len ||
	    s->got_state != s->state_len)
		return -EPROTO;
	while (s->nr_staged < s->pages) {
		if (kthread_should_stop())
			return -ESHUTDOWN;
		ftp_stage_wait(s);
		ret = ftp_stage_current(in, n);
		if (ret)
			return ret;
	}
	ret = ftp_stage_apply(s);
out:
	if (!ret) {
		ftp_stage_reset(s);
		ftp_stage_changed(s);
	}
	return ret;
}

/* A message of the journal protocol (proto.h); 0 or -errno. */
static int ftp_stage_msg(const struct ftp_stage_in *in, unsigned int type,
			 const union ftp_msg_fixed *m, void *buf)
{
	struct ftp_stage *s = in->s;
	int ret;

	if (type == FTP_MSG_EPOCH_PAGE)
		return ftp_stage_page(in, &m->epoch_page);
	/* The rest is stream 0's. */
	if (in->stream || type < FTP_MSG_EPOCH_BEGIN ||
	    type > FTP_MSG_EPOCH_COMMIT)
		return -EPROTO;
	if (type == FTP_MSG_EPOCH_STATE) {
		ret = ftp_recv_page(in->fs, buf);
		if (ret)
			return ret;
	}
	mutex_lock(&s->lock);
	if (type == FTP_MSG_EPOCH_BEGIN)
		ret = ftp_stage_begin(in, &m->epoch);
	else if (type == FTP_MSG_EPOCH_STATE)
		ret = ftp_stage_state(in, &m->epoch_state, buf);
	else
		ret = ftp_stage_commit(in, &m->epoch);
	mutex_unlock(&s->lock);
	if (!ret && type == FTP_MSG_EPOCH_COMMIT) {
		struct ftp_msg_epoch ack = { .epoch = m->epoch.epoch };

		ret = ftp_send_msg(in->fs, FTP_MSG_EPOCH_ACK, 0, &ack,
				   sizeof(ack), NULL, 0);
	}
	return ret;
}

/*
 * Serve journal stream @stream of generation @gen until it fails. A
 * partial epoch is dropped, never applied; the stream's failure ends its
 * generation here (the destination reconnects them all).
 */
int ftp_stage_serve(struct ftp_stage *s, struct ftp_sock *fs, u16 gen,
		    unsigned int stream)
{
	struct ftp_stage_in in = { .s = s, .fs = fs, .gen = gen,
				   .stream = stream };
	struct ftp_proto_limits lim = { .nr_pages = s->r->nr_pages };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	void *buf;
	int ret;

	buf = kmalloc(FTP_PROTO_PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	do {
		ret = ftp_recv_msg(fs, &h, &m, &lim);
		if (ret > 0)
			ret = ftp_stage_msg(&in, ret, &m, buf);
	} while (!ret && !kthread_should_stop());
	mutex_lock(&s->lock);
	if (gen == s->gen && !s->dead)
		ftp_stage_adopt(s, gen, true, ret);
	mutex_unlock(&s->lock);
	kfree(buf);
	return ret;
}
