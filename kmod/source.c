// SPDX-License-Identifier: GPL-2.0
/*
 * Source: serve a region to one destination.
 *
 * A listener thread accepts connections; each gets a thread that checks
 * its HELLO and then either answers page requests (demand channel) or
 * pushes every page the destination has not been sent yet (bulk channel).
 * Pages go out only once the region is frozen, so the destination never
 * sees a page that may still change. Pages never written on the source
 * (absent from the page cache) travel as PAGE_ZERO / ZERO_RANGE.
 *
 * The first heartbeat binds the source to the destination's session for
 * good: from then on only that session's channels are accepted (a
 * reconnecting channel replaces its old self), every heartbeat is answered
 * with a lease, and @watch_work rolls the region back once no heartbeat
 * came for the deadline (rollback_after_ms, never less than the lease plus
 * a margin). After a rollback the listener stays, to tell a destination
 * that comes back that it is abandoned.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "ftpage.h"
#include "auth.h"
#include "bulk.h"
#include "crypt.h"
#include "transport.h"

/* A destination's channels at most: demand, push and journal streams. */
#define FTP_SRC_MAX_CHANNELS	(1 + 2 * FTP_PROTO_MAX_STREAMS)
/*
 * Connections in their handshake one source keeps at once: room for a
 * destination with the most streams (re)connecting all its channels
 * twice, as a reconnect may come while the last one's handshakes hang.
 * Past it the oldest is closed for the newcomer, so a flood of
 * connections that never authenticate can slow a real destination's
 * (re)connect, never lock it out.
 */
#define FTP_SRC_MAX_PENDING	(2 * FTP_SRC_MAX_CHANNELS)
/*
 * Connections (threads) in all: those pending, a destination's channels
 * and the ones a reconnect replaces, and closed ones not reaped yet.
 */
#define FTP_SRC_MAX_CONNS	(3 * FTP_SRC_MAX_PENDING)
/* Longest run of zero pages in one ZERO_RANGE message. */
#define FTP_ZERO_RUN_MAX	65536

struct ftp_src_conn {
	struct list_head node;		/* in src->conns, under src->lock */
	struct ftp_source *src;
	struct ftp_sock fs;
	struct task_struct *task;	/* referenced */
	enum ftp_channel kind;		/* 0 until the handshake named it */
	u8 stream;			/* bulk, journal: which stream */
	u16 gen;			/* the destination's generation */
	bool done;			/* thread finished: reapable */
	bool replaced;			/* by a reconnected channel */
	bool evicted;			/* in its handshake, for a newer one;
					 * under src->lock */
	struct sockaddr_storage peer;
	u8 session_key[FTP_AUTH_MAC_LEN];	/* from the handshake */
};

struct ftp_source {
	struct ftp_region *r;
	struct ftp_sock listener;
	struct task_struct *listen_task;	/* referenced */
	struct sockaddr_storage addr;
	bool no_push;			/* FTPAGE_SERVE_NO_PUSH */
	bool encrypt;			/* FTPAGE_SERVE_ENCRYPT: required */
	bool can_seal;			/* this kernel has gcm(aes) */
	bool sealed;			/* a connection was encrypted */
	struct crypto_shash *auth;	/* keyed HMAC, NULL: insecure */
	struct sockaddr_storage allow;	/* the only peer; family 0: any */

	struct mutex lock;		/* protects the fields below */
	bool dying;			/* destroy: demand threads say so */
	wait_queue_head_t done_wq;	/* a connection's thread finished */
	struct list_head conns;
	unsigned int nr_conns;
	u64 session;			/* the destination's; 0 before one */
	atomic64_t retired_tx;		/* bytes of reaped connections */
	atomic64_t retired_rx;

	bool bound;			/* @session is ours for good */
	bool expired;			/* no lease is granted any more */
	unsigned long last_hb;		/* jiffies of the last heartbeat */
	u64 reattaches;			/* bound session's demand reconnects */

	/* Policy, sampled by SERVE. */
	u32 lease_ms;
	u32 deadline_ms;		/* roll back after this; 0: never */
	struct delayed_work watch_work;

	unsigned long *sent;		/* pages the destination was sent, or
					 * a push stream took to send */
	atomic64_t sent_count;		/* bits set in @sent */
	u16 resync_gen;			/* generation whose stream 0 rebuilt
					 * @sent; under @lock */
	atomic_long_t demand_hint;	/* push from here next, or -1 */
	struct ftp_bulk bulk;		/* the push streams' budget */
	struct ftp_stage *stage;	/* epochs the journal streams bring */
};


static bool ftp_source_may_send(struct ftp_src_conn *c)
{
	return ftp_region_state(c->src->r) != FTPAGE_STATE_LOCAL ||
	       READ_ONCE(c->replaced) || kthread_should_stop();
}

/*
 * Frozen yet? Returns 0 when pages may go out, -ESHUTDOWN otherwise. (A
 * request before the freeze holds up the heartbeats behind it: the
 * destination should attach once the source is frozen.)
 */
static int ftp_source_wait_frozen(struct ftp_src_conn *c)
{
	struct ftp_region *r = c->src->r;

	wait_event_interruptible(r->state_wq, ftp_source_may_send(c));
	if (kthread_should_stop() || READ_ONCE(c->replaced) ||
	    ftp_region_is_dead(r))
		return -ESHUTDOWN;
	return ftp_region_state(r) == FTPAGE_STATE_LOCAL ? -EINTR : 0;
}

static void ftp_source_mark_sent(struct ftp_source *src, pgoff_t index, u64 count)
{
	u64 i;

	for (i = 0; i < count; i++) {
		if (!test_and_set_bit(index + i, src->sent))
			atomic64_inc(&src->sent_count);
		if (!((i + 1) & 4095))
			cond_resched();
	}
}

static int ftp_source_send_page(struct ftp_src_conn *c, pgoff_t index, u64 id)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_msg_page m = { .pgoff = cpu_to_le64(index) };
	struct folio *folio = ftp_page_lookup(r, index);
	void *p;
	int ret;

	if (!folio) {
		ret = ftp_send_msg(&c->fs, FTP_MSG_PAGE_ZERO, id, &m, sizeof(m),
				   NULL, 0);
		if (!ret)
			atomic64_inc(&r->stats.zero_pages);
	} else {
		p = kmap_local_folio(folio, 0);
		ret = ftp_send_msg(&c->fs, FTP_MSG_PAGE_DATA, id, &m, sizeof(m),
				   p, FTP_PROTO_PAGE_SIZE);
		kunmap_local(p);
		folio_put(folio);
	}
	if (ret)
		return ret;
	atomic64_inc(id ? &r->stats.pages_served : &r->stats.pages_pushed);
	ftp_source_mark_sent(src, index, 1);
	return 0;
}

/* Answer a heartbeat with a lease; the first one binds the session. */
static int ftp_source_heartbeat(struct ftp_src_conn *c, __le64 stamp)
{
	struct ftp_source *src = c->src;
	struct ftp_msg_lease m = {
		.stamp = stamp,
		.lease_ms = cpu_to_le32(src->lease_ms),
		.rollback_ms = cpu_to_le32(src->deadline_ms),
	};

	mutex_lock(&src->lock);
	/* Decided to roll back: a lease granted now could outlive it. */
	if (src->expired) {
		mutex_unlock(&src->lock);
		ftp_send_error(&c->fs, FTP_ERR_ROLLED_BACK);
		return -ESTALE;
	}
	if (!src->bound)
		pr_info("region %s: destination %pISpc bound; lease %u ms, %s%u ms without heartbeat\n",
			src->r->name, &c->peer, src->lease_ms,
			src->deadline_ms ? "rollback after " : "no rollback, ",
			src->deadline_ms);
	src->bound = true;
	src->last_hb = jiffies;
	if (src->deadline_ms)
		mod_delayed_work(system_wq, &src->watch_work,
				 msecs_to_jiffies(src->deadline_ms) + 1);
	mutex_unlock(&src->lock);
	return ftp_send_msg(&c->fs, FTP_MSG_LEASE, 0, &m, sizeof(m), NULL, 0);
}

/*
 * The destination declared the migration done: no rollback remains, so
 * release the memory; mappers of the source get SIGBUS from now on.
 */
static int ftp_source_done(struct ftp_src_conn *c)
{
	struct ftp_region *r = c->src->r;
	int ret;

	ret = ftp_region_move(r, FTPAGE_STATE_DONE);
	if (ret && ret != -EALREADY)
		return -EPROTO;
	/* Nothing is watched or leased any more. */
	mutex_lock(&c->src->lock);
	c->src->bound = false;
	c->src->expired = true;
	mutex_unlock(&c->src->lock);
	ret = ftp_send_msg(&c->fs, FTP_MSG_DONE, 0, NULL, 0, NULL, 0);
	unmap_mapping_range(r->inode->i_mapping, 0, 0, 1);
	truncate_inode_pages(r->inode->i_mapping, 0);
	pr_info("region %s: migration done: %pISpc owns the VM, memory released\n",
		r->name, &c->peer);
	return ret ?: -ESHUTDOWN;
}

/*
 * Is a thread still running that may mark pages sent for another
 * connection than @c's: a replaced one, or a push of another generation?
 */
static bool ftp_source_others_live(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	struct ftp_src_conn *o;
	bool live = false;

	mutex_lock(&src->lock);
	list_for_each_entry(o, &src->conns, node)
		if (!READ_ONCE(o->done) &&
		    (READ_ONCE(o->replaced) ||
		     (o->kind == FTP_CHAN_BULK && o->gen != c->gen)))
			live = true;
	mutex_unlock(&src->lock);
	return live;
}

static bool ftp_source_may_resync(struct ftp_src_conn *c)
{
	return !ftp_source_others_live(c) || READ_ONCE(c->replaced) ||
	       kthread_should_stop();
}

static bool ftp_source_resynced(struct ftp_src_conn *c)
{
	return READ_ONCE(c->src->resync_gen) == c->gen || READ_ONCE(c->replaced) ||
	       ftp_sock_peer_gone(&c->fs) || kthread_should_stop();
}

/*
 * Before the push (re)starts: which pages does the destination have?
 * Stream 0 hears it and rebuilds @sent; the other streams of its
 * connection wait for that.
 */
static int ftp_source_resync(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	int ret;

	if (c->stream) {
		ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
		if (ret != FTP_MSG_KNOWN_END)
			return ret < 0 ? ret : -EPROTO;
		/* Stream 0 may fail: then our peer is gone too, soon. */
		while (!wait_event_interruptible_timeout(src->done_wq,
							 ftp_source_resynced(c),
							 HZ / 10))
			;
		return READ_ONCE(c->src->resync_gen) == c->gen ? 0 : -ESHUTDOWN;
	}
	/*
	 * What went out on a lost connection may never have arrived; the
	 * threads of earlier connections must not mark pages sent after
	 * this (they were shut down when we claimed the channel).
	 */
	WRITE_ONCE(src->resync_gen, 0);
	wait_event_interruptible(src->done_wq, ftp_source_may_resync(c));
	if (READ_ONCE(c->replaced) || kthread_should_stop())
		return -ESHUTDOWN;
	bitmap_zero(src->sent, r->nr_pages);
	atomic64_set(&src->sent_count, 0);
	for (;;) {
		ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
		if (ret == FTP_MSG_KNOWN_END)
			break;
		if (ret != FTP_MSG_KNOWN_RANGE)
			return ret < 0 ? ret : -EPROTO;
		ftp_source_mark_sent(src, le64_to_cpu(m.range.pgoff),
				     le64_to_cpu(m.range.count));
		cond_resched();
	}
	mutex_lock(&src->lock);
	if (!READ_ONCE(c->replaced))
		WRITE_ONCE(src->resync_gen, c->gen);
	mutex_unlock(&src->lock);
	wake_up_all(&src->done_wq);
	return 0;
}

static int ftp_source_serve_demand(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	pgoff_t index;
	int ret;

	for (;;) {
		ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
		if (ret < 0)
			return ret;
		switch (ret) {
		case FTP_MSG_PAGE_REQ:
			ret = ftp_source_wait_frozen(c);
			if (ret)
				return ret;
			index = le64_to_cpu(m.page.pgoff);
			ret = ftp_source_send_page(c, index, le64_to_cpu(h.id));
			if (ret)
				return ret;
			/* The guest works around here: push what follows. */
			atomic_long_set(&src->demand_hint, index + 1);
			break;
		case FTP_MSG_COMPLETE:
			if (!ftp_region_move(r, FTPAGE_STATE_COMPLETE))
				pr_info("region %s: destination %pISpc has every page\n",
					r->name, &c->peer);
			break;
		case FTP_MSG_HEARTBEAT:
			ret = ftp_source_heartbeat(c, m.heartbeat.stamp);
			if (ret)
				return ret;
			break;
		case FTP_MSG_DONE:
			return ftp_source_done(c);
		default:
			return -EPROTO;
		}
	}
}

/* First index at or after @index present on the source, or @end. */
static pgoff_t ftp_source_next_present(struct ftp_region *r, pgoff_t index,
				       pgoff_t end)
{
	unsigned long i = index;

	if (!xa_find(&r->inode->i_mapping->i_pages, &i, end - 1, XA_PRESENT))
		return end;
	return i;
}

/* Take page @index to push it: false if another stream (or a reply) had. */
static bool ftp_source_take(struct ftp_source *src, pgoff_t index)
{
	if (test_and_set_bit(index, src->sent))
		return false;
	atomic64_inc(&src->sent_count);
	return true;
}

/*
 * Pages [@index, @end) taken but not sent (the connection failed): another
 * stream may send them. At worst a page goes twice; the destination keeps
 * the first.
 */
static void ftp_source_give_back(struct ftp_source *src, pgoff_t index,
				 pgoff_t end)
{
	for (; index < end; index++)
		if (test_and_clear_bit(index, src->sent))
			atomic64_dec(&src->sent_count);
}

/*
 * Send the unsent page at @index, or the run of zero pages it starts, each
 * taken first so that no other stream sends it too. A page taken but lost
 * with its connection is sent again after the resync.
 */
static int ftp_source_push_one(struct ftp_src_conn *c, pgoff_t index)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_msg_range m;
	pgoff_t end, limit;
	int ret;

	if (!ftp_source_take(src, index))
		return 0;
	limit = min_t(pgoff_t, r->nr_pages, index + FTP_ZERO_RUN_MAX);
	if (ftp_source_next_present(r, index, limit) == index) {
		ret = ftp_source_send_page(c, index, 0);
		if (ret)
			ftp_source_give_back(src, index, index + 1);
		return ret;
	}
	limit = ftp_source_next_present(r, index + 1, limit);
	for (end = index + 1; end < limit && ftp_source_take(src, end); end++)
		if (!((end - index) & 4095))
			cond_resched();

	m.pgoff = cpu_to_le64(index);
	m.count = cpu_to_le64(end - index);
	ret = ftp_send_msg(&c->fs, FTP_MSG_ZERO_RANGE, 0, &m, sizeof(m), NULL, 0);
	if (ret) {
		ftp_source_give_back(src, index, end);
		return ret;
	}
	atomic64_add(end - index, &r->stats.zero_pages);
	return 0;
}

/*
 * Push pages the destination was not sent until there are none; while
 * the budget pauses this stream, the others push them.
 */
static int ftp_source_push_pages(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	pgoff_t cursor = 0, index;
	long hint;
	int ret;

	while (!kthread_should_stop() && !ftp_region_is_dead(r) &&
	       !READ_ONCE(c->replaced)) {
		if (ftp_bulk_pause(&src->bulk, c->fs.sock->sk)) {
			if (ftp_sock_peer_gone(&c->fs))
				return -ECONNRESET;
			if (atomic64_read(&src->sent_count) >= r->nr_pages)
				break;
			continue;
		}
		hint = atomic_long_xchg(&src->demand_hint, -1);
		if (hint >= 0 && hint < r->nr_pages)
			cursor = hint;
		index = find_next_zero_bit(src->sent, r->nr_pages, cursor);
		if (index >= r->nr_pages)
			index = find_next_zero_bit(src->sent, r->nr_pages, 0);
		if (index >= r->nr_pages)
			break;
		ret = ftp_source_push_one(c, index);
		if (ret)
			return ret;
		cursor = index + 1;
		cond_resched();
	}
	return 0;
}

static int ftp_source_push(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	u64 budget;
	u8 byte;
	int ret;

	ret = ftp_source_resync(c);
	if (!ret)
		ret = ftp_source_wait_frozen(c);
	if (ret)
		return ret;
	if (!src->no_push) {
		ftp_bulk_add(&src->bulk, c->fs.sock->sk);
		ret = ftp_source_push_pages(c);
		/* before: the last stream's deletion ends the budget */
		budget = ftp_bulk_budget(&src->bulk);
		ftp_bulk_del(&src->bulk, c->fs.sock->sk);
		if (ret)
			return ret;
		ftp_dbg(1, "region %s: push done, stream %u (budget %llu bytes)\n",
			src->r->name, c->stream, budget);
	}
	/*
	 * Keep the channel open (the destination counts a close as a
	 * failure) until the destination closes it or we are stopped; it
	 * sends nothing on this channel.
	 */
	ret = ftp_sock_recv(&c->fs, &byte, 1);
	return ret ? ret : -EPROTO;
}

static int ftp_source_refuse(struct ftp_src_conn *c, enum ftp_err code,
			     int err)
{
	pr_warn_ratelimited("region %s: refused %pISpc: %s\n", c->src->r->name,
			    &c->peer, ftp_err_name(code));
	ftp_send_error(&c->fs, code);
	return err;
}

/* Is a demand channel of @session up? Caller holds src->lock. */
static bool ftp_source_has_demand(struct ftp_source *src, u64 session)
{
	struct ftp_src_conn *o;

	lockdep_assert_held(&src->lock);
	if (src->session != session)
		return false;
	list_for_each_entry(o, &src->conns, node)
		if (o->kind == FTP_CHAN_DEMAND && !READ_ONCE(o->done))
			return true;
	return false;
}

/*
 * A late handshake from before the destination's latest (re)connect, its
 * generation older than a live channel's: it must not replace that, the
 * destination has given the connection up already. Caller holds
 * src->lock; the live channels are of @c's session.
 */
static bool ftp_source_late(struct ftp_source *src,
			    const struct ftp_src_conn *c)
{
	struct ftp_src_conn *o;

	lockdep_assert_held(&src->lock);
	list_for_each_entry(o, &src->conns, node)
		if (o != c && o->kind && !READ_ONCE(o->done) &&
		    (s16)(c->gen - o->gen) < 0)
			return true;
	return false;
}

/*
 * A channel of @c's session replaces @o: of the same kind and stream, or
 * any bulk or journal stream of an earlier connection (generation): its
 * push must stop before the new streams rebuild what was sent, and its
 * generation's epoch staging has ended.
 */
static bool ftp_source_supersedes(const struct ftp_src_conn *c,
				  const struct ftp_src_conn *o)
{
	return o != c && o->kind == c->kind && !READ_ONCE(o->done) &&
	       (o->stream == c->stream ||
		(c->kind != FTP_CHAN_DEMAND && o->gen != c->gen));
}

static void ftp_source_replace(struct ftp_source *src, struct ftp_src_conn *o)
{
	lockdep_assert_held(&src->lock);
	WRITE_ONCE(o->replaced, true);
	ftp_sock_shutdown(&o->fs);
	ftp_bulk_wake(&src->bulk);	/* a paused push thread ends now */
}

/*
 * Before a destination is bound: one at a time; a session holds the region
 * while any of its channels lives, and a destination whose attach failed
 * half way can try again with a new session.
 */
static int ftp_source_claim(struct ftp_source *src, struct ftp_src_conn *c,
			    u64 session, unsigned int chan)
{
	struct ftp_src_conn *o;
	unsigned int live = 0;
	bool busy = false;

	lockdep_assert_held(&src->lock);
	if (src->expired)		/* rolling back */
		return -ESTALE;
	c->kind = chan;
	list_for_each_entry(o, &src->conns, node) {
		if (o == c || READ_ONCE(o->done) || !o->kind)
			continue;
		live++;
		if (o->kind == chan && o->stream == c->stream && o->gen == c->gen)
			busy = true;
	}
	if (!live)
		src->session = 0;
	if (busy || (src->session && src->session != session))
		goto err_busy;
	if (src->session == session && ftp_source_late(src, c))
		goto err_busy;
	/* Epochs write into the frozen image: only from the attached peer. */
	if (chan == FTP_CHAN_JOURNAL && !ftp_source_has_demand(src, session))
		goto err_busy;
	/* The same destination again (a PULL retried): its old channels go. */
	list_for_each_entry(o, &src->conns, node)
		if (src->session == session && ftp_source_supersedes(c, o))
			ftp_source_replace(src, o);
	wake_up_all(&src->r->state_wq);
	wake_up_all(&src->done_wq);
	src->session = session;
	return 0;

err_busy:
	c->kind = 0;
	return -EBUSY;
}

/*
 * A bound destination reconnecting: its new channel replaces the old ones
 * it supersedes, which may not have noticed the loss yet.
 */
static int ftp_source_claim_bound(struct ftp_source *src,
				  struct ftp_src_conn *c, u64 session,
				  unsigned int chan)
{
	struct ftp_src_conn *o;

	lockdep_assert_held(&src->lock);
	if (session != src->session)
		return -EBUSY;
	if (src->expired)		/* rolling back */
		return -ESTALE;
	if (ftp_source_late(src, c))
		return -EBUSY;
	c->kind = chan;
	list_for_each_entry(o, &src->conns, node)
		if (ftp_source_supersedes(c, o))
			ftp_source_replace(src, o);
	/* A replaced thread may wait for the freeze or a resync: let it go. */
	wake_up_all(&src->r->state_wq);
	wake_up_all(&src->done_wq);
	if (chan == FTP_CHAN_DEMAND)
		src->reattaches++;
	return 0;
}

/*
 * With a key, prove it in HELLO_ACK and check the destination's AUTH,
 * before the peer may claim anything. Without, refuse a peer that wants
 * authentication.
 */
static int ftp_source_authenticate(struct ftp_src_conn *c,
				   const struct ftp_msg_hello *hello,
				   struct ftp_msg_hello_ack *ack)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	union ftp_msg_fixed m;
	struct ftp_hdr h;
	int ret;

	ret = ftp_auth_source_ack(src->auth, r->name, &c->peer, hello, ack,
				  src->encrypt, src->can_seal);
	if (ret)
		return ftp_source_refuse(c, ret == -ENOPROTOOPT ? FTP_ERR_ENCRYPT :
								  FTP_ERR_AUTH, ret);
	if (!src->auth)
		return 0;
	ret = ftp_send_msg(&c->fs, FTP_MSG_HELLO_ACK, 0, ack, sizeof(*ack),
			   NULL, 0);
	if (ret)
		return ret;
	ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
	if (ret == FTP_MSG_ERROR) {
		pr_warn_ratelimited("region %s: destination %pISpc refused us: %s\n",
				    r->name, &c->peer,
				    ftp_err_name(le32_to_cpu(m.error.code)));
		return ftp_err_to_errno(le32_to_cpu(m.error.code));
	}
	if (ret > 0 && ret != FTP_MSG_AUTH)
		ret = -EPROTO;
	if (ret == -EPROTO)
		return ftp_source_refuse(c, FTP_ERR_PROTO, ret);
	if (ret < 0)
		return ret;
	ret = ftp_auth_source_check(src->auth, r->name, &c->peer, hello, ack,
				    &m.auth, c->session_key);
	return ret ? ftp_source_refuse(c, FTP_ERR_AUTH, ret) : 0;
}

/*
 * The end of the handshake: AUTH accepted (or, insecure, HELLO_ACK); from
 * then on every message is sealed with @seal if there is one.
 */
static int ftp_source_accept(struct ftp_src_conn *c,
			     const struct ftp_msg_hello_ack *ack,
			     struct ftp_seal *seal)
{
	struct ftp_source *src = c->src;
	struct ftp_msg_auth accepted = {};
	int ret;

	if (src->auth)
		ret = ftp_send_msg(&c->fs, FTP_MSG_AUTH, 0, &accepted,
				   sizeof(accepted), NULL, 0);
	else
		ret = ftp_send_msg(&c->fs, FTP_MSG_HELLO_ACK, 0, ack,
				   sizeof(*ack), NULL, 0);
	if (seal) {
		ftp_sock_seal(&c->fs, seal);
		WRITE_ONCE(src->sealed, true);
	}
	ftp_sock_set_deadline(&c->fs, 0);
	if (ret)
		return ret;
	if (c->kind == FTP_CHAN_DEMAND) {
		ftp_sock_demand(&c->fs);
		ftp_thread_demand(current);
	} else {
		ftp_sock_bulk(&c->fs);
	}
	if (c->stream)
		ftp_dbg(1, "region %s: destination %pISpc attached (%s channel %u%s)\n",
			src->r->name, &c->peer, ftp_chan_name(c->kind), c->stream,
			seal ? ", encrypted" : "");
	else
		pr_info("region %s: destination %pISpc attached (%s channel%s)\n",
			src->r->name, &c->peer, ftp_chan_name(c->kind),
			seal ? ", encrypted" : "");
	return 0;
}

/* Check the peer's HELLO, authenticate, claim the channel, accept. */
static int ftp_source_handshake(struct ftp_src_conn *c)
{
	struct ftp_source *src = c->src;
	struct ftp_region *r = src->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	struct ftp_msg_hello_ack ack = {
		.version = cpu_to_le16(FTP_PROTO_VERSION_MAX),
		.region_pages = cpu_to_le64(r->nr_pages),
	};
	unsigned int chan;
	union ftp_msg_fixed m;
	struct ftp_msg_hello *hello = &m.hello;
	struct ftp_seal *seal = NULL;
	struct ftp_hdr h;
	unsigned int vmin, vmax;
	u64 session;
	int ret;

	ftp_sock_set_deadline(&c->fs, FTP_HANDSHAKE_TIMEOUT_MS);
	ret = ftp_recv_msg(&c->fs, &h, &m, &lim);
	if (ret > 0 && ret != FTP_MSG_HELLO)
		ret = -EPROTO;
	if (ret == -EPROTO)
		return ftp_source_refuse(c, FTP_ERR_PROTO, ret);
	if (ret < 0)
		return ret;

	vmin = le16_to_cpu(hello->version_min);
	vmax = le16_to_cpu(hello->version_max);
	if (!ftp_proto_pick_version(vmin, vmax)) {
		pr_warn_ratelimited("region %s: %pISpc speaks protocol versions %u..%u, we speak %u..%u\n",
				    r->name, &c->peer, vmin, vmax,
				    FTP_PROTO_VERSION_MIN, FTP_PROTO_VERSION_MAX);
		return ftp_source_refuse(c, FTP_ERR_VERSION, -EPROTONOSUPPORT);
	}
	if (strncmp((char *)hello->region, r->name, sizeof(hello->region)))
		return ftp_source_refuse(c, FTP_ERR_NO_REGION, -ENOENT);
	if (le64_to_cpu(hello->region_size) != r->size) {
		pr_warn_ratelimited("region %s: %pISpc has a region of %llu bytes, ours has %llu\n",
				    r->name, &c->peer,
				    le64_to_cpu(hello->region_size), r->size);
		return ftp_source_refuse(c, FTP_ERR_SIZE, -EINVAL);
	}
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_DEAD:
		return ftp_source_refuse(c, FTP_ERR_SHUTDOWN, -ESHUTDOWN);
	case FTPAGE_STATE_ROLLED_BACK:
		return ftp_source_refuse(c, FTP_ERR_ROLLED_BACK, -ESTALE);
	case FTPAGE_STATE_DONE:
		return ftp_source_refuse(c, FTP_ERR_DONE, -EALREADY);
	default:
		break;
	}

	ack.committed_epoch = cpu_to_le64(READ_ONCE(r->committed_epoch));
	ack.features = hello->features & cpu_to_le64(FTP_PROTO_FEAT_STREAMS |
						     FTP_PROTO_FEAT_JSTREAMS);
	ret = ftp_source_authenticate(c, hello, &ack);
	if (ret)
		return ret;
	/* Ready to seal before the claim, which may replace a live channel. */
	if (ftp_auth_encrypts(ack.features)) {
		seal = ftp_seal_new(c->session_key, true);
		if (IS_ERR(seal))
			return ftp_source_refuse(c, FTP_ERR_SHUTDOWN, PTR_ERR(seal));
	}
	memzero_explicit(c->session_key, sizeof(c->session_key));

	session = le64_to_cpu(hello->session);
	chan = FTP_CHAN_KIND(le16_to_cpu(hello->channel));
	c->stream = FTP_CHAN_STREAM(le16_to_cpu(hello->channel));
	c->gen = le16_to_cpu(hello->generation);
	mutex_lock(&src->lock);
	if (c->evicted)
		ret = -ECONNRESET;
	else if (src->bound)
		ret = ftp_source_claim_bound(src, c, session, chan);
	else
		ret = ftp_source_claim(src, c, session, chan);
	mutex_unlock(&src->lock);
	if (ret) {
		ftp_seal_free(seal);
		if (ret == -ECONNRESET)		/* evicted: nobody to tell */
			return ret;
		return ftp_source_refuse(c, ret == -ESTALE ? FTP_ERR_ROLLED_BACK :
							      FTP_ERR_BUSY, ret);
	}
	return ftp_source_accept(c, &ack, seal);
}

static int ftp_source_conn_thread(void *arg)
{
	struct ftp_src_conn *c = arg;
	struct ftp_region *r = c->src->r;
	int ret;

	ret = ftp_source_handshake(c);
	if (!ret) {
		switch (c->kind) {
		case FTP_CHAN_DEMAND:
			ret = ftp_source_serve_demand(c);
			break;
		case FTP_CHAN_BULK:
			ret = ftp_source_push(c);
			break;
		default:
			ret = ftp_stage_serve(c->src->stage, &c->fs, c->gen,
					      c->stream);
			break;
		}
	}
	if (ret == -EPROTO)
		pr_warn_ratelimited("region %s: malformed message from %pISpc, connection dropped\n",
				    r->name, &c->peer);
	else if (ret && c->kind && !kthread_should_stop())
		pr_info("region %s: %pISpc disconnected (%d)\n", r->name,
			&c->peer, ret);
	/* The region is destroyed: the destination must not wait for it. */
	if (READ_ONCE(c->src->dying) && c->kind == FTP_CHAN_DEMAND)
		ftp_send_error(&c->fs, FTP_ERR_SHUTDOWN);
	/* A refused or failed peer sees the close now, not at the next reap. */
	if (ret)
		ftp_sock_shutdown(&c->fs);
	WRITE_ONCE(c->done, true);
	wake_up_all(&c->src->done_wq);
	ftp_thread_idle_until_stop();
	return ret;
}

/* Stop and free an unlinked connection; never under src->lock. */
static void ftp_source_conn_free(struct ftp_source *src, struct ftp_src_conn *c)
{
	ftp_sock_shutdown(&c->fs);
	ftp_thread_stop(&c->task);
	atomic64_add(atomic64_read(&c->fs.bytes_tx), &src->retired_tx);
	atomic64_add(atomic64_read(&c->fs.bytes_rx), &src->retired_rx);
	ftp_sock_release(&c->fs);
	kfree_sensitive(c);		/* the session key */
}

/* Free the connections whose thread finished, or all of them. */
static void ftp_source_reap(struct ftp_source *src, bool all)
{
	struct ftp_src_conn *c, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&src->lock);
	list_for_each_entry_safe(c, tmp, &src->conns, node) {
		if (all || READ_ONCE(c->done)) {
			list_move(&c->node, &dead);
			src->nr_conns--;
		}
	}
	mutex_unlock(&src->lock);
	list_for_each_entry_safe(c, tmp, &dead, node)
		ftp_source_conn_free(src, c);
}

/*
 * Make room for one more connection in its handshake: close the oldest if
 * FTP_SRC_MAX_PENDING are. @src->conns is in the order of accept.
 */
static void ftp_source_evict_pending(struct ftp_source *src)
{
	struct ftp_src_conn *o, *oldest = NULL;
	unsigned int pending = 0;

	lockdep_assert_held(&src->lock);
	list_for_each_entry(o, &src->conns, node) {
		if (o->kind || o->evicted || READ_ONCE(o->done))
			continue;
		if (!oldest)
			oldest = o;
		pending++;
	}
	if (pending < FTP_SRC_MAX_PENDING)
		return;
	oldest->evicted = true;
	ftp_sock_shutdown(&oldest->fs);
	pr_warn_ratelimited("region %s: too many connections in handshake, closed the oldest, from %pISpc\n",
			    src->r->name, &oldest->peer);
}

static void ftp_source_add_conn(struct ftp_source *src, struct ftp_src_conn *c)
{
	struct ftp_region *r = src->r;

	ftp_source_reap(src, false);
	mutex_lock(&src->lock);
	if (src->nr_conns >= FTP_SRC_MAX_CONNS)
		goto err_release_sock;
	ftp_source_evict_pending(src);
	if (ftp_thread_start(&c->task, ftp_source_conn_thread, c, "ftpage-src",
			     r->name, false))
		goto err_release_sock;
	list_add_tail(&c->node, &src->conns);
	src->nr_conns++;
	wake_up_process(c->task);
	mutex_unlock(&src->lock);
	return;

err_release_sock:
	mutex_unlock(&src->lock);
	pr_warn_ratelimited("region %s: too many connections, %pISpc dropped\n",
			    r->name, &c->peer);
	ftp_sock_release(&c->fs);
	kfree(c);
}

/*
 * Is @c's peer the destination we expect (ALLOW_PEER)? If not, say so
 * without waiting (the socket is new: its buffer has room) and refuse it
 * before it costs a thread or a connection slot.
 */
static bool ftp_source_allowed(struct ftp_source *src, struct ftp_src_conn *c)
{
	struct ftp_msg_error e = { .code = cpu_to_le32(FTP_ERR_PEER) };

	if (!src->allow.ss_family || ftp_addr_equal(&src->allow, &c->peer))
		return true;
	pr_warn_ratelimited("region %s: refused %pISpc: not the allowed destination %pISc\n",
			    src->r->name, &c->peer, &src->allow);
	ftp_try_send_msg(&c->fs, FTP_MSG_ERROR, 0, &e, sizeof(e));
	return false;
}

static int ftp_source_listen_thread(void *arg)
{
	struct ftp_source *src = arg;
	struct ftp_src_conn *c;
	int ret;

	while (!kthread_should_stop()) {
		c = kzalloc(sizeof(*c), GFP_KERNEL);
		if (!c) {
			schedule_timeout_interruptible(HZ / 10);
			continue;
		}
		c->src = src;
		ret = ftp_sock_accept(&src->listener, &c->fs);
		if (ret) {
			kfree(c);
			/* Shut down (or out of memory): do not spin. */
			if (!kthread_should_stop())
				schedule_timeout_interruptible(HZ / 10);
			continue;
		}
		kernel_getpeername(c->fs.sock, (struct sockaddr *)&c->peer);
		if (!ftp_source_allowed(src, c)) {
			ftp_sock_release_gently(&c->fs);	/* the ERROR */
			kfree(c);
			continue;
		}
		ftp_source_add_conn(src, c);
	}
	return 0;
}

/* No heartbeat for the deadline: the destination is lost, roll back. */
static void ftp_source_watch(struct work_struct *work)
{
	struct ftp_source *src = container_of(to_delayed_work(work),
					      struct ftp_source, watch_work);
	struct ftp_region *r = src->r;
	unsigned long deadline;
	bool lost;

	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_FROZEN:
	case FTPAGE_STATE_COMPLETE:
		break;
	default:
		return;
	}
	mutex_lock(&src->lock);
	deadline = src->last_hb + msecs_to_jiffies(src->deadline_ms);
	lost = src->bound && src->deadline_ms && time_after_eq(jiffies, deadline);
	if (lost)
		src->expired = true;
	else if (src->bound && src->deadline_ms)	/* woke early */
		mod_delayed_work(system_wq, &src->watch_work, deadline - jiffies);
	mutex_unlock(&src->lock);
	if (!lost)
		return;
	pr_warn("region %s: destination lost: no heartbeat for %u ms; rolling back\n",
		r->name, src->deadline_ms);
	ftp_region_rollback(r);
}

int ftp_source_serve(struct ftp_region *r, const struct sockaddr_storage *addr,
		     int addrlen, u32 flags)
{
	struct net *net = current->nsproxy->net_ns;
	struct ftp_source *src;
	int ret;

	if (r->role != FTPAGE_ROLE_SOURCE)
		return -EINVAL;
	src = kzalloc(sizeof(*src), GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	src->sent = kvcalloc(BITS_TO_LONGS(r->nr_pages), sizeof(long), GFP_KERNEL);
	if (!src->sent) {
		ret = -ENOMEM;
		goto err_free_src;
	}
	src->stage = ftp_stage_new(r);
	if (!src->stage) {
		ret = -ENOMEM;
		goto err_free_sent;
	}
	src->r = r;
	src->addr = *addr;
	src->no_push = flags & FTPAGE_SERVE_NO_PUSH;
	src->encrypt = flags & FTPAGE_SERVE_ENCRYPT;
	/* Without, a destination that asks is told we do not encrypt. */
	src->can_seal = !ftp_seal_available();
	src->auth = ftp_auth_new(r, flags & FTPAGE_SERVE_INSECURE);
	if (IS_ERR(src->auth)) {
		ret = PTR_ERR(src->auth);
		goto err_free_sent;
	}
	mutex_lock(&r->lock);
	src->allow = r->allow;
	mutex_unlock(&r->lock);
	mutex_init(&src->lock);
	ftp_bulk_init(&src->bulk, r->name);
	INIT_LIST_HEAD(&src->conns);
	atomic_long_set(&src->demand_hint, -1);
	INIT_DELAYED_WORK(&src->watch_work, ftp_source_watch);
	init_waitqueue_head(&src->done_wq);
	src->lease_ms = READ_ONCE(ftp_lease_ms);
	src->deadline_ms = READ_ONCE(ftp_rollback_after_ms);
	if (src->deadline_ms)
		src->deadline_ms = max(src->deadline_ms,
				       src->lease_ms + FTP_LEASE_MARGIN_MS);

	mutex_lock(&r->lock);
	ret = -EBUSY;
	if (r->src || (r->state != FTPAGE_STATE_LOCAL &&
		       r->state != FTPAGE_STATE_FROZEN))
		goto err_unlock;
	ret = ftp_sock_listen(net, addr, addrlen, &src->listener);
	if (ret) {
		pr_err("region %s: cannot listen on %pISpc: %d\n", r->name,
		       addr, ret);
		goto err_unlock;
	}
	ret = ftp_thread_start(&src->listen_task, ftp_source_listen_thread, src,
			       "ftpage-listen", r->name, true);
	if (ret)
		goto err_release_listener;
	WRITE_ONCE(r->insecure, !src->auth);
	/* Readers (status, stop) look at r->src without r->lock. */
	smp_store_release(&r->src, src);
	mutex_unlock(&r->lock);
	pr_info("region %s: serving on %pISpc%s%s\n", r->name, addr,
		src->auth ? "" : ", INSECURE: destinations are not authenticated",
		src->encrypt ? ", encryption required" : "");
	return 0;

err_release_listener:
	ftp_sock_release(&src->listener);
err_unlock:
	mutex_unlock(&r->lock);
	ftp_auth_free(src->auth);
err_free_sent:
	ftp_stage_free(src->stage);
	kvfree(src->sent);
err_free_src:
	kfree(src);
	return ret;
}

/*
 * The migration ended here (rolled back): close every connection and stop
 * watching; the listener stays to refuse a destination that comes back.
 */
void ftp_source_detach(struct ftp_region *r)
{
	struct ftp_source *src = smp_load_acquire(&r->src);

	if (!src)
		return;
	mutex_lock(&src->lock);
	src->bound = false;
	src->expired = true;
	mutex_unlock(&src->lock);
	ftp_source_reap(src, true);
}

/*
 * Before a rollback: grant no more leases, and return how long the last
 * one granted may still run at the destination (jiffies).
 */
long ftp_source_expire(struct ftp_region *r)
{
	struct ftp_source *src = smp_load_acquire(&r->src);
	long left = 0;

	if (!src)
		return 0;
	mutex_lock(&src->lock);
	src->expired = true;
	if (src->bound)
		left = (long)(src->last_hb + msecs_to_jiffies(src->lease_ms) -
			      jiffies);
	mutex_unlock(&src->lock);
	return max(left, 0L);
}

/* Are the demand threads of a dying source done telling the destination? */
static bool ftp_source_told(struct ftp_source *src)
{
	struct ftp_src_conn *c;
	bool told = true;

	mutex_lock(&src->lock);
	list_for_each_entry(c, &src->conns, node)
		if (c->kind == FTP_CHAN_DEMAND && !READ_ONCE(c->done))
			told = false;
	mutex_unlock(&src->lock);
	return told;
}

/*
 * Destroy: the destination hears that its source is gone (it cannot
 * resume), from each demand thread itself, woken by a read shutdown. A
 * thread stuck sending is not waited for long.
 */
static void ftp_source_tell_gone(struct ftp_source *src)
{
	struct ftp_src_conn *c;

	mutex_lock(&src->lock);
	WRITE_ONCE(src->dying, true);
	list_for_each_entry(c, &src->conns, node)
		if (c->kind == FTP_CHAN_DEMAND && !READ_ONCE(c->done))
			kernel_sock_shutdown(c->fs.sock, SHUT_RD);
	mutex_unlock(&src->lock);
	wait_event_timeout(src->done_wq, ftp_source_told(src), HZ);
}

/* Stop listening and close every connection (destroy). Idempotent. */
void ftp_source_stop(struct ftp_region *r)
{
	struct ftp_source *src = smp_load_acquire(&r->src);
	struct task_struct *t;

	t = src ? xchg(&src->listen_task, NULL) : NULL;
	if (!t)
		return;
	ftp_sock_shutdown(&src->listener);
	kthread_stop(t);
	put_task_struct(t);
	ftp_sock_release(&src->listener);

	ftp_source_tell_gone(src);
	ftp_source_reap(src, true);
	cancel_delayed_work_sync(&src->watch_work);
	ftp_bulk_uninit(&src->bulk);	/* the push threads are gone */
}

void ftp_source_free(struct ftp_region *r)
{
	struct ftp_source *src = r->src;

	if (!src)
		return;
	ftp_source_stop(r);
	ftp_auth_free(src->auth);
	ftp_stage_free(src->stage);	/* the journal threads are gone */
	kvfree(src->sent);
	kfree(src);
	r->src = NULL;
}

void ftp_source_status(struct ftp_region *r, struct ftpage_status *st)
{
	struct ftp_source *src = smp_load_acquire(&r->src);
	struct ftp_src_conn *c;
	long left;

	if (!src)
		return;
	mutex_lock(&src->lock);
	st->bytes_tx = atomic64_read(&src->retired_tx);
	st->bytes_rx = atomic64_read(&src->retired_rx);
	list_for_each_entry(c, &src->conns, node) {
		st->bytes_tx += atomic64_read(&c->fs.bytes_tx);
		st->bytes_rx += atomic64_read(&c->fs.bytes_rx);
		if (c->kind && !READ_ONCE(c->done))
			st->connected++;
	}
	st->reconnects = src->reattaches;
	st->push_budget = ftp_bulk_budget(&src->bulk);
	if (src->encrypt || READ_ONCE(src->sealed))
		st->status_flags |= FTPAGE_STATUS_ENCRYPTED;
	if (src->bound) {
		st->status_flags |= FTPAGE_STATUS_ATTACHED;
		left = (long)(src->last_hb + msecs_to_jiffies(src->deadline_ms) -
			      jiffies);
		if (src->deadline_ms)
			st->lease_left_ms = left > 0 ? jiffies_to_msecs(left) : 0;
	}
	mutex_unlock(&src->lock);
	st->pages_known = atomic64_read(&src->sent_count);
}
