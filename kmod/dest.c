// SPDX-License-Identifier: GPL-2.0
/*
 * Destination: pull a region from its source.
 *
 * A missing page is fetched once however many threads fault on it: the
 * first one inserts a struct ftp_fetch into @pending and queues it for the
 * tx thread, which alone sends PAGE_REQs (a fault never blocks on a
 * socket, and never sends from inside another sender's copy); the others
 * wait on the same fetch. A page arriving (demand reply or push) is
 * inserted into the page cache, then marked known, then its fetch is
 * resolved. Insertion into and removal from @pending, and completing a
 * fetch, happen under @pending_lock, after checking and setting the known
 * bit respectively, so a fetch is never left waiting for a page that
 * already arrived, and is completed exactly once.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/net.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/random.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "ftpage.h"
#include "transport.h"

/* A timed-out fetch fails later faults on its page at once for this long. */
#define FTP_FETCH_BACKOFF	HZ

struct ftp_fetch {
	refcount_t ref;		/* @pending, the tx queue and each waiter */
	pgoff_t index;
	u64 id;
	u64 start_ns;
	unsigned long deadline;	/* jiffies */
	struct llist_node tx_node;
	/* Written under d->pending_lock, before @done completes. */
	int err;		/* 0 or -errno */
	unsigned long failed_at; /* jiffies, when a timeout set @err */
	struct completion done;
};

struct ftp_dest_chan {
	struct ftp_dest *d;
	struct ftp_sock fs;
	struct task_struct *rx;	/* receive thread, referenced */
	enum ftp_channel kind;
};

struct ftp_dest {
	struct ftp_region *r;
	struct ftp_dest_chan demand;
	struct ftp_dest_chan bulk;
	struct ftp_dest_chan journal;	/* epochs to the source (journal.c) */
	struct mutex send_lock;		/* serialises sends on demand.fs
					 * (tx thread, complete_work) and its
					 * release */
	struct task_struct *tx;		/* sends queued PAGE_REQs, referenced */
	struct llist_head tx_queue;	/* fetches to request */

	/* Written under r->lock by PULL before any thread starts. */
	char source_name[FTPAGE_NAME_MAX];	/* the region we pull */
	u16 generation;			/* of the current connection */
	u64 session;			/* random, pairs our two channels */
	atomic64_t seq;
	atomic_t connected;		/* receive threads running */

	struct mutex pending_lock;	/* protects @pending, @broken, every
					 * fetch's err/failed_at/completion */
	struct xarray pending;		/* page index -> struct ftp_fetch */
	bool broken;			/* link lost: no new fetches */

	struct work_struct complete_work;
};

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

/* The link is gone: refuse new fetches, fail those in flight. */
static bool ftp_dest_break(struct ftp_dest *d, int err)
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

static void ftp_dest_complete_work(struct work_struct *work)
{
	struct ftp_dest *d = container_of(work, struct ftp_dest, complete_work);
	struct ftp_region *r = d->r;
	int ret;

	if (ftp_region_move(r, FTPAGE_STATE_COMPLETE))
		return;
	pr_info("region %s: complete, every page is local\n", r->name);
	mutex_lock(&d->send_lock);
	ret = d->demand.fs.sock ?
		ftp_send_msg(&d->demand.fs, FTP_MSG_COMPLETE, 0, NULL, 0, NULL, 0) :
		-ENOTCONN;
	mutex_unlock(&d->send_lock);
	if (ret)
		pr_warn("region %s: cannot tell the source we are complete: %d\n",
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
	ret = ftp_sock_recv(&c->fs, p, FTP_PROTO_PAGE_SIZE);
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
	stale = id && ftp_id_gen(id) != d->generation;

	switch (type) {
	case FTP_MSG_PAGE_DATA:
		return ftp_dest_rx_page_data(c, le64_to_cpu(m.page.pgoff), stale);
	case FTP_MSG_PAGE_ZERO:
		if (!stale)
			ftp_dest_zero(d, le64_to_cpu(m.page.pgoff), 1);
		return 0;
	case FTP_MSG_ZERO_RANGE:
		ftp_dest_zero(d, le64_to_cpu(m.range.pgoff),
			      le64_to_cpu(m.range.count));
		return 0;
	case FTP_MSG_EPOCH_ACK:
		return c->kind == FTP_CHAN_JOURNAL ?
			ftp_journal_ack(d->r, le64_to_cpu(m.epoch.epoch)) : -EPROTO;
	case FTP_MSG_ERROR:
		pr_warn_ratelimited("region %s: source reports: %s\n", d->r->name,
				    ftp_err_name(le32_to_cpu(m.error.code)));
		return ftp_err_to_errno(le32_to_cpu(m.error.code));
	default:
		return -EPROTO;
	}
}

static void ftp_dest_link_down(struct ftp_dest *d, const char *what, int err)
{
	struct ftp_region *r = d->r;

	/* Commits can no longer reach the source, complete or not. */
	ftp_journal_break(r);
	if (!ftp_dest_break(d, -ECONNRESET) || ftp_region_is_dead(r))
		return;
	if (err == -EPROTO)
		pr_warn_ratelimited("region %s: malformed message from the source\n",
				    r->name);
	/* A complete destination needs no page from the source: it stays so. */
	if (ftp_region_state(r) == FTPAGE_STATE_COMPLETE) {
		pr_info("region %s: %s channel to the source closed (%d); epochs can no longer be committed\n",
			r->name, what, err);
		return;
	}
	pr_warn("region %s: %s channel to the source lost (%d); missing pages now fail\n",
		r->name, what, err);
	ftp_region_move(r, FTPAGE_STATE_BROKEN);
	ftp_region_fail(r, FTPAGE_FERR_LINK);
}

static int ftp_dest_rx_thread(void *arg)
{
	struct ftp_dest_chan *c = arg;
	int ret;

	do {
		ret = ftp_dest_rx_one(c);
	} while (!ret && !kthread_should_stop());

	atomic_dec(&c->d->connected);
	if (!kthread_should_stop()) {
		if (c->kind == FTP_CHAN_JOURNAL)	/* pages still flow */
			ftp_journal_break(c->d->r);
		else
			ftp_dest_link_down(c->d, ftp_chan_name(c->kind), ret);
	}
	/* Stay until stopped: the owner reaps the socket and us. */
	ftp_thread_idle_until_stop();
	return ret;
}

static int ftp_dest_send_req(struct ftp_dest *d, struct ftp_fetch *f)
{
	struct ftp_msg_page req = { .pgoff = cpu_to_le64(f->index) };
	int ret;

	mutex_lock(&d->send_lock);
	ret = d->demand.fs.sock ?
		ftp_send_msg(&d->demand.fs, FTP_MSG_PAGE_REQ, f->id, &req,
			     sizeof(req), NULL, 0) : -ENOTCONN;
	mutex_unlock(&d->send_lock);
	return ret;
}

/* Send the queued page requests, oldest first. */
static int ftp_dest_tx_thread(void *arg)
{
	struct ftp_dest *d = arg;
	struct ftp_fetch *f, *tmp;
	struct llist_node *batch;
	int err = 0;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (llist_empty(&d->tx_queue) && !kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);

		batch = llist_reverse_order(llist_del_all(&d->tx_queue));
		llist_for_each_entry_safe(f, tmp, batch, tx_node) {
			if (!err && !completion_done(&f->done)) {
				err = ftp_dest_send_req(d, f);
				if (err)
					ftp_dest_link_down(d, "demand", err);
			}
			ftp_fetch_put(f);
		}
		if (kthread_should_stop() && llist_empty(&d->tx_queue))
			return err;
	}
}

/* Send HELLO on a connected channel and wait for HELLO_ACK. */
static int ftp_dest_handshake(struct ftp_dest_chan *c)
{
	struct ftp_dest *d = c->d;
	struct ftp_region *r = d->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	struct ftp_msg_hello hello = {
		.version_min = cpu_to_le16(FTP_PROTO_VERSION_MIN),
		.version_max = cpu_to_le16(FTP_PROTO_VERSION_MAX),
		.channel = cpu_to_le16(c->kind),
		.generation = cpu_to_le16(d->generation),
		.features = cpu_to_le64(FTP_PROTO_FEATURES),
		.session = cpu_to_le64(d->session),
		.region_size = cpu_to_le64(r->size),
	};
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	unsigned int type, version;
	int ret;

	strscpy((char *)hello.region, d->source_name, sizeof(hello.region));
	ret = ftp_send_msg(&c->fs, FTP_MSG_HELLO, 0, &hello, sizeof(hello), NULL, 0);
	if (ret)
		return ret;
	ftp_sock_set_deadline(&c->fs, FTP_HANDSHAKE_TIMEOUT_MS);
	ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
	if (ret < 0)
		goto out;
	type = ret;
	ret = -EPROTO;
	if (type != FTP_MSG_HELLO_ACK && type != FTP_MSG_ERROR)
		goto out;
	if (type == FTP_MSG_ERROR) {
		pr_err("region %s: source refused us: %s\n", r->name,
		       ftp_err_name(le32_to_cpu(m.error.code)));
		ret = ftp_err_to_errno(le32_to_cpu(m.error.code));
		goto out;
	}
	version = le16_to_cpu(m.ack.version);
	if (version < FTP_PROTO_VERSION_MIN || version > FTP_PROTO_VERSION_MAX) {
		pr_err("region %s: source speaks protocol version %u, we speak %u..%u\n",
		       r->name, version, FTP_PROTO_VERSION_MIN, FTP_PROTO_VERSION_MAX);
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	if (le64_to_cpu(m.ack.region_pages) != r->nr_pages) {
		pr_err("region %s: source region has %llu pages, we have %lu\n",
		       r->name, le64_to_cpu(m.ack.region_pages), r->nr_pages);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	if (ret == -ETIMEDOUT)
		pr_err("region %s: no handshake answer within %u ms\n", r->name,
		       FTP_HANDSHAKE_TIMEOUT_MS);
	ftp_sock_set_deadline(&c->fs, 0);
	return ret;
}

static int ftp_dest_chan_open(struct ftp_dest_chan *c, struct net *net,
			      const struct sockaddr_storage *addr, int addrlen)
{
	int ret;

	ret = ftp_sock_connect(net, addr, addrlen, &c->fs);
	if (ret)
		return ret;
	ret = ftp_dest_handshake(c);
	if (ret)
		goto err_release;
	c->rx = kthread_create(ftp_dest_rx_thread, c, "ftpage-rx/%s",
			       c->d->r->name);
	if (IS_ERR(c->rx)) {
		ret = PTR_ERR(c->rx);
		c->rx = NULL;
		goto err_release;
	}
	get_task_struct(c->rx);
	return 0;

err_release:
	ftp_sock_release(&c->fs);
	return ret;
}

static void ftp_dest_chan_close(struct ftp_dest_chan *c)
{
	ftp_sock_shutdown(&c->fs);
	if (c->rx) {
		kthread_stop(c->rx);
		put_task_struct(c->rx);
		c->rx = NULL;
	}
}

int ftp_dest_pull(struct ftp_region *r, const char *source_name,
		  const struct sockaddr_storage *addr, int addrlen)
{
	struct ftp_dest *d = r->dst;
	struct net *net = current->nsproxy->net_ns;
	int ret;

	if (r->role != FTPAGE_ROLE_DEST)
		return -EINVAL;
	/*
	 * r->lock is held across connect and handshake, each bounded by
	 * FTP_HANDSHAKE_TIMEOUT_MS, so a destroy racing a pull waits that long
	 * at most.
	 */
	mutex_lock(&r->lock);
	if (r->state != FTPAGE_STATE_EMPTY) {
		ret = r->state == FTPAGE_STATE_DEAD ? -ENOENT : -EBUSY;
		goto out_unlock;
	}
	strscpy(d->source_name, source_name, sizeof(d->source_name));
	d->session = get_random_u64();
	d->generation = (get_random_u32() & 0xffff) | 1;

	ret = ftp_dest_chan_open(&d->demand, net, addr, addrlen);
	if (ret)
		goto out_unlock;
	ret = ftp_dest_chan_open(&d->bulk, net, addr, addrlen);
	if (ret)
		goto err_close_demand;
	ret = ftp_dest_chan_open(&d->journal, net, addr, addrlen);
	if (ret)
		goto err_close_bulk;
	d->tx = kthread_create(ftp_dest_tx_thread, d, "ftpage-tx/%s", r->name);
	if (IS_ERR(d->tx)) {
		ret = PTR_ERR(d->tx);
		d->tx = NULL;
		goto err_close_journal;
	}
	get_task_struct(d->tx);
	ret = ftp_journal_start(r, &d->journal.fs);
	if (ret)
		goto err_stop_tx;

	ftp_region_set_state(r, FTPAGE_STATE_PULLING);
	atomic_set(&d->connected, 3);
	wake_up_process(d->tx);
	wake_up_process(d->demand.rx);
	wake_up_process(d->bulk.rx);
	wake_up_process(d->journal.rx);
	pr_info("region %s: pulling region %s from %pISpc\n", r->name,
		d->source_name, addr);
	mutex_unlock(&r->lock);
	return 0;

	/* The threads were never woken: they stop without running. */
err_stop_tx:
	kthread_stop(d->tx);
	put_task_struct(d->tx);
	d->tx = NULL;
err_close_journal:
	ftp_dest_chan_close(&d->journal);
	ftp_sock_release(&d->journal.fs);
err_close_bulk:
	ftp_dest_chan_close(&d->bulk);
	ftp_sock_release(&d->bulk.fs);
err_close_demand:
	ftp_dest_chan_close(&d->demand);
	ftp_sock_release(&d->demand.fs);
out_unlock:
	mutex_unlock(&r->lock);
	if (ret)
		pr_err("region %s: pull from %pISpc failed: %d\n", r->name, addr, ret);
	return ret;
}

/*
 * Start fetching @index, or join the fetch in flight. Returns a
 * referenced fetch, NULL when the page became known meanwhile (look it up
 * again), or an ERR_PTR when it cannot be fetched now. Never blocks on
 * the network: the tx thread sends the request.
 */
struct ftp_fetch *ftp_dest_fetch_start(struct ftp_region *r, pgoff_t index)
{
	struct ftp_dest *d = r->dst;
	struct ftp_fetch *f;
	int ret;

	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_PULLING:
		break;
	case FTPAGE_STATE_COMPLETE:
		return NULL;
	case FTPAGE_STATE_DEAD:
		return ERR_PTR(-ENODEV);
	case FTPAGE_STATE_EMPTY:
		ftp_region_fail(r, FTPAGE_FERR_DETACHED);
		return ERR_PTR(-ENOTCONN);
	default:
		ftp_region_fail(r, FTPAGE_FERR_LINK);
		return ERR_PTR(-ENOTCONN);
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
	/* References: @pending, the tx queue, the caller. */
	refcount_set(&f->ref, 3);
	init_completion(&f->done);
	f->index = index;
	f->id = ftp_id_make(d->generation, atomic64_inc_return(&d->seq));
	f->start_ns = ktime_get_ns();
	f->deadline = jiffies + msecs_to_jiffies(ftp_fault_timeout_ms);
	ret = xa_err(xa_store(&d->pending, index, f, GFP_KERNEL));
	if (ret) {
		mutex_unlock(&d->pending_lock);
		kfree(f);
		return ERR_PTR(ret);
	}
	/*
	 * Queue under pending_lock: ftp_dest_stop() marks the link broken
	 * under it before stopping the tx thread, so the thread is still there
	 * to drain what was queued before.
	 */
	if (llist_add(&f->tx_node, &d->tx_queue))
		wake_up_process(d->tx);
	mutex_unlock(&d->pending_lock);
	atomic64_inc(&r->stats.demand_faults);
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
	d->bulk = (struct ftp_dest_chan){ .d = d, .kind = FTP_CHAN_BULK };
	d->journal = (struct ftp_dest_chan){ .d = d, .kind = FTP_CHAN_JOURNAL };
	mutex_init(&d->send_lock);
	mutex_init(&d->pending_lock);
	xa_init(&d->pending);
	init_llist_head(&d->tx_queue);
	INIT_WORK(&d->complete_work, ftp_dest_complete_work);
	r->dst = d;
	/* On failure the region's release frees what was set up here. */
	return ftp_journal_init(r);
}

/* Drop the link for good (destroy): threads stopped, waiters failed. */
void ftp_dest_stop(struct ftp_region *r)
{
	struct ftp_dest *d = r->dst;

	if (!d)
		return;
	ftp_dest_break(d, -ENODEV);
	ftp_dest_chan_close(&d->journal);
	ftp_dest_chan_close(&d->bulk);
	ftp_dest_chan_close(&d->demand);
	ftp_journal_stop(r);
	if (d->tx) {
		kthread_stop(d->tx);
		put_task_struct(d->tx);
		d->tx = NULL;
	}
	mutex_lock(&d->send_lock);
	ftp_sock_release(&d->demand.fs);
	ftp_sock_release(&d->bulk.fs);
	ftp_sock_release(&d->journal.fs);
	mutex_unlock(&d->send_lock);
	cancel_work_sync(&d->complete_work);
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

	st->pages_known = atomic64_read(&r->known_count);
	st->connected = atomic_read(&d->connected);
	st->bytes_rx = atomic64_read(&d->demand.fs.bytes_rx) +
		       atomic64_read(&d->bulk.fs.bytes_rx) +
		       atomic64_read(&d->journal.fs.bytes_rx);
	st->bytes_tx = atomic64_read(&d->demand.fs.bytes_tx) +
		       atomic64_read(&d->bulk.fs.bytes_tx) +
		       atomic64_read(&d->journal.fs.bytes_tx);
}
