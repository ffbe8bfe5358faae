// SPDX-License-Identifier: GPL-2.0
/*
 * Destination: pull a region from its source.
 *
 * A missing page is fetched once however many threads fault on it: the
 * first one inserts a struct ftp_fetch into @pending and sends its
 * PAGE_REQ itself when the demand socket is free and has room (the
 * socket never uses the task's page fragment, so sending from inside
 * another sender's copy is safe), or queues it for the tx thread, which
 * also resends after a reconnect; the others wait on the same fetch. A page arriving (demand reply or push) is
 * inserted into the page cache, then marked known, then its fetch is
 * resolved. Insertion into and removal from @pending, and completing a
 * fetch, happen under @pending_lock, after checking and setting the known
 * bit respectively, so a fetch is never left waiting for a page that
 * already arrived, and is completed exactly once.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>

#include "dest.h"

/* A timed-out fetch fails later faults on its page at once for this long. */
#define FTP_FETCH_BACKOFF	HZ

void ftp_fetch_put(struct ftp_fetch *f)
{
	if (refcount_dec_and_test(&f->ref))
		kfree(f);
}

/* Complete @f with @err unless it completed already. */
static void ftp_fetch_finish(struct ftp_dest *d, struct ftp_fetch *f, int err)
{
	lockdep_assert_held(&d->pending_lock);
	if (completion_done(&f->done))
		return;
	f->err = err;
	if (!err)
		ftp_hist_add(&d->r->stats.fault_lat, ktime_get_ns() - f->start_ns);
	complete_all(&f->done);
}

/* The page at @index arrived, is known zero, or failed: wake its waiters. */
static void ftp_dest_resolve(struct ftp_dest *d, pgoff_t index, int err)
{
	struct ftp_fetch *f;

	mutex_lock(&d->pending_lock);
	f = xa_erase(&d->pending, index);
	if (f)
		ftp_fetch_finish(d, f, err);
	mutex_unlock(&d->pending_lock);
	if (f)
		ftp_fetch_put(f);
}

/* For good (abandoned, destroyed): refuse new fetches, fail those in flight. */
bool ftp_dest_break(struct ftp_dest *d, int err)
{
	struct ftp_fetch *f;
	unsigned long index;
	bool first;

	mutex_lock(&d->pending_lock);
	first = !d->broken;
	d->broken = true;
	xa_for_each(&d->pending, index, f) {
		xa_erase(&d->pending, index);
		ftp_fetch_finish(d, f, err);
		ftp_fetch_put(f);
	}
	mutex_unlock(&d->pending_lock);
	return first;
}

/* Send a message without page data on the demand channel. */
int ftp_dest_send_demand(struct ftp_dest *d, unsigned int type,
			 const void *payload, u32 len)
{
	int ret;

	mutex_lock(&d->send_lock);
	ret = test_bit(FTP_DEST_UP, &d->flags) ?
		ftp_send_msg(&d->demand.fs, type, 0, payload, len, NULL, 0) :
		-ENOTCONN;
	mutex_unlock(&d->send_lock);
	return ret;
}

static void ftp_dest_complete_work(struct work_struct *work)
{
	struct ftp_dest *d = container_of(work, struct ftp_dest, complete_work);
	struct ftp_region *r = d->r;
	int ret;

	if (ftp_region_move(r, FTPAGE_STATE_COMPLETE))
		return;
	pr_info("region %s: complete, every page is local\n", r->name);
	/* Lost with the link? The keeper says it again after reconnecting. */
	ret = ftp_dest_send_demand(d, FTP_MSG_COMPLETE, NULL, 0);
	if (ret)
		ftp_dbg(1, "region %s: cannot tell the source we are complete yet: %d\n",
			r->name, ret);
}

static void ftp_dest_mark_known(struct ftp_dest *d, pgoff_t index)
{
	struct ftp_region *r = d->r;

	if (!test_and_set_bit(index, r->known) &&
	    atomic64_inc_return(&r->known_count) == r->nr_pages)
		schedule_work(&d->complete_work);
}

/* Insert a received page (unless its content is known already). */
static void ftp_dest_install(struct ftp_dest *d, pgoff_t index,
			     struct folio *folio, bool pushed)
{
	struct ftp_region *r = d->r;
	int err = 0;

	if (!test_bit(index, r->known)) {
		folio_mark_uptodate(folio);
		err = filemap_add_folio(r->inode->i_mapping, folio, index, GFP_KERNEL);
		if (!err) {
			folio_unlock(folio);
			atomic64_inc(pushed ? &r->stats.pages_pushed :
					      &r->stats.pages_fetched);
		}
	}
	folio_put(folio);
	if (err && err != -EEXIST) {
		/* Not known: a later fault asks for it again. */
		pr_warn_ratelimited("region %s: cannot insert page %lu: %d\n",
				    r->name, index, err);
		ftp_dest_resolve(d, index, err);
		return;
	}
	ftp_dest_mark_known(d, index);
	ftp_dest_resolve(d, index, 0);
}

/* @count pages from @index are zero: mark them known, wake their waiters. */
static void ftp_dest_zero(struct ftp_dest *d, pgoff_t index, u64 count)
{
	struct ftp_fetch *f;
	unsigned long i;

	atomic64_add(count, &d->r->stats.zero_pages);
	for (i = 0; i < count; i++) {
		ftp_dest_mark_known(d, index + i);
		if (!(i & 4095))
			cond_resched();
	}
	mutex_lock(&d->pending_lock);
	xa_for_each_range(&d->pending, i, f, index, index + count - 1) {
		xa_erase(&d->pending, i);
		ftp_fetch_finish(d, f, 0);
		ftp_fetch_put(f);
	}
	mutex_unlock(&d->pending_lock);
}

static int ftp_dest_rx_page_data(struct ftp_dest_chan *c, pgoff_t index,
				 bool stale)
{
	struct folio *folio;
	void *p;
	int ret;

	folio = folio_alloc(GFP_HIGHUSER, 0);
	if (!folio)
		return -ENOMEM;
	p = kmap_local_folio(folio, 0);
	ret = ftp_recv_page(&c->fs, p);
	kunmap_local(p);
	if (ret || stale) {
		folio_put(folio);
		return ret;
	}
	ftp_dest_install(c->d, index, folio, c->kind == FTP_CHAN_BULK);
	return 0;
}

/* One message from the source; 0 to go on, or -errno to drop the link. */
static int ftp_dest_rx_one(struct ftp_dest_chan *c)
{
	struct ftp_dest *d = c->d;
	struct ftp_proto_limits lim = { .nr_pages = d->r->nr_pages };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	unsigned int type;
	bool stale;
	u64 id;
	int ret;

	ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
	if (ret < 0)
		return ret;
	type = ret;
	/* A reply to a request of an earlier connection: drop it. */
	id = le64_to_cpu(h.id);
	stale = id && ftp_id_gen(id) != READ_ONCE(d->generation);

	/* Pages come on the demand and bulk channels only. */
	if (c->kind == FTP_CHAN_JOURNAL && type != FTP_MSG_EPOCH_ACK &&
	    type != FTP_MSG_ERROR)
		return -EPROTO;

	switch (type) {
	case FTP_MSG_PAGE_DATA:
		return ftp_dest_rx_page_data(c, le64_to_cpu(m.page.pgoff), stale);
	case FTP_MSG_PAGE_ZERO:
		if (!stale)
			ftp_dest_zero(d, le64_to_cpu(m.page.pgoff), 1);
		return 0;
	case FTP_MSG_ZERO_RANGE:
		if (c->kind != FTP_CHAN_BULK)
			return -EPROTO;
		ftp_dest_zero(d, le64_to_cpu(m.range.pgoff),
			      le64_to_cpu(m.range.count));
		return 0;
	case FTP_MSG_LEASE:
		if (c->kind != FTP_CHAN_DEMAND)
			return -EPROTO;
		ftp_dest_lease_renew(d, &m.lease);
		return 0;
	case FTP_MSG_DONE:
		if (c->kind != FTP_CHAN_DEMAND)
			return -EPROTO;
		ftp_dest_done_acked(d);
		return 0;
	case FTP_MSG_EPOCH_ACK:		/* on journal stream 0 */
		return c->kind == FTP_CHAN_JOURNAL && !c->stream ?
			ftp_journal_ack(d->r, le64_to_cpu(m.epoch.epoch)) : -EPROTO;
	case FTP_MSG_ERROR:
		pr_warn_ratelimited("region %s: source reports: %s\n", d->r->name,
				    ftp_err_name(le32_to_cpu(m.error.code)));
		return ftp_err_to_errno(le32_to_cpu(m.error.code));
	default:
		return -EPROTO;
	}
}

int ftp_dest_rx_thread(void *arg)
{
	struct ftp_dest_chan *c = arg;
	int ret;

	do {
		ret = ftp_dest_rx_one(c);
	} while (!ret && !kthread_should_stop());

	atomic_dec(&c->d->connected);
	if (!kthread_should_stop())
		ftp_dest_link_lost(c->d, ftp_chan_name(c->kind), ret);
	/* Stay until stopped: the keeper reaps the socket and us. */
	ftp_thread_idle_until_stop();
	return ret;
}

/* Send a PAGE_REQ for @f; the caller holds send_lock. */
static int ftp_dest_send_req_locked(struct ftp_dest *d, struct ftp_fetch *f,
				    bool nowait)
{
	struct ftp_msg_page req = { .pgoff = cpu_to_le64(f->index) };
	/* The generation of the connection it goes out on. */
	u64 id = ftp_id_make(d->generation, atomic64_inc_return(&d->seq));

	lockdep_assert_held(&d->send_lock);
	if (!test_bit(FTP_DEST_UP, &d->flags))
		return -ENOTCONN;
	if (nowait)
		return ftp_try_send_msg(&d->demand.fs, FTP_MSG_PAGE_REQ, id,
					&req, sizeof(req));
	return ftp_send_msg(&d->demand.fs, FTP_MSG_PAGE_REQ, id, &req,
			    sizeof(req), NULL, 0);
}

static int ftp_dest_send_req(struct ftp_dest *d, struct ftp_fetch *f)
{
	int ret;

	mutex_lock(&d->send_lock);
	ret = ftp_dest_send_req_locked(d, f, false);
	mutex_unlock(&d->send_lock);
	return ret;
}

/*
 * A fault may come deep inside KVM (a vCPU's run, GUP, the fault handler),
 * and a TCP send below it goes down the whole network stack: send from the
 * faulting thread only while half of its stack is free (stacks grow down).
 */
static bool ftp_stack_room(void)
{
	unsigned long here = (unsigned long)&here;

	return here - (unsigned long)task_stack_page(current) >= THREAD_SIZE / 2;
}

/*
 * Request @f from the faulting thread itself when the demand socket is
 * free and has room, as nvme-tcp sends from the submitter: no hand-off to
 * the tx thread, which costs a wakeup per fault. False: queue it.
 */
static bool ftp_dest_send_now(struct ftp_dest *d, struct ftp_fetch *f)
{
	int ret;

	if (!ftp_stack_room() || !test_bit(FTP_DEST_UP, &d->flags) ||
	    !mutex_trylock(&d->send_lock))
		return false;
	ret = ftp_dest_send_req_locked(d, f, true);
	mutex_unlock(&d->send_lock);
	return !ret;
}

/*
 * Send the queued page requests, oldest first. A request that cannot go
 * out stays pending: ftp_dest_requeue() queues it again once the link is
 * back.
 */
int ftp_dest_tx_thread(void *arg)
{
	struct ftp_dest *d = arg;
	struct ftp_fetch *f, *tmp;
	struct llist_node *batch;
	int err;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (llist_empty(&d->tx_queue) && !kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);

		batch = llist_reverse_order(llist_del_all(&d->tx_queue));
		llist_for_each_entry_safe(f, tmp, batch, tx_node) {
			clear_bit(0, &f->queued);
			/* Pairs with setting UP, then requeueing, in link.c. */
			smp_mb__after_atomic();
			if (!completion_done(&f->done)) {
				err = ftp_dest_send_req(d, f);
				if (err && err != -ENOTCONN)
					ftp_dest_link_lost(d, "demand", err);
			}
			ftp_fetch_put(f);
		}
		if (kthread_should_stop() && llist_empty(&d->tx_queue))
			return 0;
	}
}

/* Queue @f for the tx thread unless it is queued already. */
static void ftp_dest_queue(struct ftp_dest *d, struct ftp_fetch *f)
{
	lockdep_assert_held(&d->pending_lock);
	if (test_and_set_bit(0, &f->queued))
		return;
	refcount_inc(&f->ref);
	if (llist_add(&f->tx_node, &d->tx_queue))
		wake_up_process(d->tx);
}

/* After a reconnect: ask again for every page still awaited. */
void ftp_dest_requeue(struct ftp_dest *d)
{
	struct ftp_fetch *f;
	unsigned long index;

	mutex_lock(&d->pending_lock);
	xa_for_each(&d->pending, index, f)
		if (!completion_done(&f->done))
			ftp_dest_queue(d, f);
	mutex_unlock(&d->pending_lock);
}

/*
 * Start fetching @index, or join the fetch in flight. Returns a
 * referenced fetch, NULL when the page became known meanwhile (look it up
 * again), or an ERR_PTR when it cannot be fetched now. Does not wait for
 * the network: the request goes out at once if the socket has room, else
 * the tx thread sends it. While the link is down the fetch waits for the
 * reconnect.
 */
struct ftp_fetch *ftp_dest_fetch_start(struct ftp_region *r, pgoff_t index)
{
	struct ftp_dest *d = r->dst;
	struct ftp_fetch *f;
	int ret;

	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_PULLING:
	case FTPAGE_STATE_BROKEN:
		break;
	case FTPAGE_STATE_COMPLETE:
	case FTPAGE_STATE_DONE:
		return NULL;
	case FTPAGE_STATE_EMPTY:
		ftp_region_fail(r, FTPAGE_FERR_DETACHED);
		return ERR_PTR(-ENOTCONN);
	case FTPAGE_STATE_ABANDONED:
		ftp_region_fail(r, FTPAGE_FERR_ABANDONED);
		return ERR_PTR(-ESTALE);
	default:
		return ERR_PTR(-ENODEV);
	}

	mutex_lock(&d->pending_lock);
	if (d->broken) {
		mutex_unlock(&d->pending_lock);
		ftp_region_fail(r, FTPAGE_FERR_LINK);
		return ERR_PTR(-ENOTCONN);
	}
	if (test_bit(index, r->known) || ftp_page_present(r, index)) {
		mutex_unlock(&d->pending_lock);
		return NULL;
	}
	f = xa_load(&d->pending, index);
	if (f && (!completion_done(&f->done) ||
		  time_before(jiffies, f->failed_at + FTP_FETCH_BACKOFF))) {
		refcount_inc(&f->ref);
		mutex_unlock(&d->pending_lock);
		return f;
	}
	if (f) {			/* an old timeout: ask again */
		xa_erase(&d->pending, index);
		ftp_fetch_put(f);
	}
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f) {
		mutex_unlock(&d->pending_lock);
		return ERR_PTR(-ENOMEM);
	}
	/* References: @pending, the caller; ftp_dest_queue() adds the queue's. */
	refcount_set(&f->ref, 2);
	init_completion(&f->done);
	f->index = index;
	f->start_ns = ktime_get_ns();
	f->deadline = jiffies + msecs_to_jiffies(ftp_fault_timeout_ms);
	ret = xa_err(xa_store(&d->pending, index, f, GFP_KERNEL));
	if (ret) {
		mutex_unlock(&d->pending_lock);
		kfree(f);
		return ERR_PTR(ret);
	}
	mutex_unlock(&d->pending_lock);
	atomic64_inc(&r->stats.demand_faults);
	if (ftp_dest_send_now(d, f))
		return f;
	/*
	 * Queue under pending_lock: ftp_dest_stop() marks the link broken
	 * under it before stopping the tx thread, so the thread is still there
	 * to drain what was queued before.
	 */
	mutex_lock(&d->pending_lock);
	if (!d->broken && !completion_done(&f->done))
		ftp_dest_queue(d, f);
	mutex_unlock(&d->pending_lock);
	return f;
}

/*
 * Wait for @f, killable (or interruptible, when the fault allows it) and
 * bounded by fault_timeout_ms from the request. Returns 0 when the page
 * arrived, -EINTR on a signal, or the error.
 */
int ftp_dest_fetch_wait(struct ftp_region *r, struct ftp_fetch *f,
			bool interruptible)
{
	long left = max((long)(f->deadline - jiffies), 1L);
	long ret;

	if (interruptible)
		ret = wait_for_completion_interruptible_timeout(&f->done, left);
	else
		ret = wait_for_completion_killable_timeout(&f->done, left);
	if (ret < 0)
		return -EINTR;

	mutex_lock(&r->dst->pending_lock);
	if (!ret && !completion_done(&f->done)) {
		f->failed_at = jiffies;
		ftp_fetch_finish(r->dst, f, -ETIMEDOUT);
		ftp_region_fail(r, FTPAGE_FERR_TIMEOUT);
		pr_warn_ratelimited("region %s: no reply for page %lu within %u ms\n",
				    r->name, f->index, ftp_fault_timeout_ms);
	}
	ret = f->err;
	mutex_unlock(&r->dst->pending_lock);
	return ret;
}

int ftp_dest_init(struct ftp_region *r)
{
	struct ftp_dest *d;
	unsigned int i;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	r->known = kvcalloc(BITS_TO_LONGS(r->nr_pages), sizeof(long), GFP_KERNEL);
	if (!r->known) {
		kfree(d);
		return -ENOMEM;
	}
	d->r = r;
	d->demand = (struct ftp_dest_chan){ .d = d, .kind = FTP_CHAN_DEMAND };
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++) {
		d->bulk[i] = (struct ftp_dest_chan){ .d = d, .kind = FTP_CHAN_BULK,
						     .stream = i };
		d->journal[i] = (struct ftp_dest_chan){ .d = d, .stream = i,
							.kind = FTP_CHAN_JOURNAL };
	}
	mutex_init(&d->send_lock);
	mutex_init(&d->pending_lock);
	mutex_init(&d->link_lock);
	xa_init(&d->pending);
	init_llist_head(&d->tx_queue);
	init_waitqueue_head(&d->keeper_wq);
	spin_lock_init(&d->lease_lock);
	INIT_WORK(&d->complete_work, ftp_dest_complete_work);
	ftp_dest_link_init(d);
	r->dst = d;
	/* On failure the region's release frees what was set up here. */
	return ftp_journal_init(r);
}

void ftp_dest_uninit(struct ftp_region *r)
{
	if (!r->dst)
		return;
	ftp_dest_stop(r);
	ftp_journal_uninit(r);
	xa_destroy(&r->dst->pending);
	kfree(r->dst);
	r->dst = NULL;
	kvfree(r->known);
	r->known = NULL;
}

void ftp_dest_status(struct ftp_region *r, struct ftpage_status *st)
{
	struct ftp_dest *d = r->dst;
	unsigned int i;

	st->pages_known = atomic64_read(&r->known_count);
	st->connected = atomic_read(&d->connected);
	st->reconnects = atomic64_read(&d->reconnects);
	st->bytes_rx = atomic64_read(&d->demand.fs.bytes_rx);
	st->bytes_tx = atomic64_read(&d->demand.fs.bytes_tx);
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++) {
		st->bytes_rx += atomic64_read(&d->bulk[i].fs.bytes_rx) +
				atomic64_read(&d->journal[i].fs.bytes_rx);
		st->bytes_tx += atomic64_read(&d->bulk[i].fs.bytes_tx) +
				atomic64_read(&d->journal[i].fs.bytes_tx);
	}
	if (READ_ONCE(d->encrypt))
		st->status_flags |= FTPAGE_STATUS_ENCRYPTED;
	ftp_dest_lease_status(d, st);
}
