// SPDX-License-Identifier: GPL-2.0
/*
 * Destination link: attaching to the source, keeping the lease, and
 * coming back after a transient loss.
 *
 * PULL opens the channels (demand, the bulk and journal streams) and obtains a
 * first lease. Then the keeper thread owns them: every lease/4 it sends a
 * heartbeat, which the source answers with a LEASE valid from the
 * heartbeat's send time. Faults and writes check the lease (fault.c); when
 * it lapses, @fence_work zaps every mapping, so the VM stops at its next
 * access until a renewal comes (or its wait times out into SIGBUS) -- the
 * source may be rolling back, and the VM must never run on both hosts.
 *
 * When a channel fails, the keeper closes them all and reconnects with
 * bounded exponential backoff, with the same session and a new generation;
 * the bulk channel first tells the source which pages we have, pending
 * requests are sent again, unacknowledged epochs are streamed again. A
 * source that rolled back meanwhile says so and we are abandoned: every
 * mapper gets SIGBUS from then on. A DONE destination needs no source any
 * more and drops the link.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/random.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <net/net_namespace.h>

#include "auth.h"
#include "crypt.h"
#include "dest.h"

#define FTP_RECONNECT_MIN_MS	100
#define FTP_RECONNECT_MAX_MS	2000
/* Automatic commits never come closer than this. */
#define FTP_COMMIT_MIN_MS	100

static bool ftp_dest_needs_lease(struct ftp_region *r)
{
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_PULLING:
	case FTPAGE_STATE_BROKEN:
	case FTPAGE_STATE_COMPLETE:
		return true;
	default:
		return false;
	}
}

/* May the destination's users make progress now? Lockless, for faults. */
bool ftp_dest_lease_ok(struct ftp_region *r)
{
	struct ftp_dest *d = r->dst;

	if (!d || !ftp_dest_needs_lease(r))
		return true;
	return !READ_ONCE(d->fenced) && ktime_get_boottime_ns() < READ_ONCE(d->lease_until);
}

/*
 * Wait for a lease renewal (or for the lease to stop mattering), bounded
 * by fault_timeout_ms: 0, -EINTR, or -ETIMEDOUT.
 */
int ftp_dest_lease_wait(struct ftp_region *r, bool interruptible)
{
	long t = msecs_to_jiffies(ftp_fault_timeout_ms);
	long ret;

	if (interruptible)
		ret = wait_event_interruptible_timeout(r->state_wq,
						       ftp_dest_lease_ok(r), t);
	else
		ret = wait_event_killable_timeout(r->state_wq,
						  ftp_dest_lease_ok(r), t);
	if (ret < 0)
		return -EINTR;
	if (!ret) {
		ftp_region_fail(r, FTPAGE_FERR_FENCED);
		pr_warn_ratelimited("region %s: fenced for %u ms, access refused (pid %d)\n",
				    r->name, ftp_fault_timeout_ms,
				    task_pid_nr(current));
		return -ETIMEDOUT;
	}
	return 0;
}

/* Stop every user of the region at its next access. */
static void ftp_dest_fence(struct ftp_dest *d)
{
	struct address_space *mapping = d->r->inode->i_mapping;
	struct folio_batch fbatch;
	pgoff_t index = 0;
	unsigned int i;

	pr_warn("region %s: lease lapsed without renewal from the source: fenced, accesses wait\n",
		d->r->name);
	unmap_mapping_range(mapping, 0, 0, 0);
	/*
	 * A fault that saw the lease valid keeps its folio locked until its
	 * PTE is in (->fault returns it locked, ->page_mkwrite too): once we
	 * hold the lock that PTE exists, and we zap it; every later fault
	 * checks the lease under the folio lock.
	 */
	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, ULONG_MAX, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			folio_lock(fbatch.folios[i]);
			unmap_mapping_pages(mapping, fbatch.folios[i]->index, 1,
					    false);
			folio_unlock(fbatch.folios[i]);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Run the fence work when @left ns have passed. The timer wheel may fire
 * a long delay late by an eighth of it, so wake at three quarters and
 * re-arm for the rest, which then comes within a jiffy or so.
 */
static void ftp_dest_arm_fence(struct ftp_dest *d, u64 left)
{
	unsigned long j = nsecs_to_jiffies(left);

	mod_delayed_work(system_highpri_wq, &d->fence_work,
			 j > 8 ? j - j / 4 : j + 1);
}

static void ftp_dest_fence_work(struct work_struct *work)
{
	struct ftp_dest *d = container_of(to_delayed_work(work),
					  struct ftp_dest, fence_work);
	u64 now = ktime_get_boottime_ns();
	bool fence = false;
	u64 left = 0;

	spin_lock(&d->lease_lock);
	if (!d->fenced && ftp_dest_needs_lease(d->r)) {
		if (now >= d->lease_until)
			fence = d->fenced = true;
		else
			left = d->lease_until - now;
	}
	spin_unlock(&d->lease_lock);
	if (fence)
		ftp_dest_fence(d);
	else if (left)			/* woke early, as armed */
		ftp_dest_arm_fence(d, left);
}

/* A LEASE from the source (demand receive thread). */
void ftp_dest_lease_renew(struct ftp_dest *d, const struct ftp_msg_lease *m)
{
	u64 lease_ns = (u64)le32_to_cpu(m->lease_ms) * NSEC_PER_MSEC;
	u64 stamp = le64_to_cpu(m->stamp);
	u64 now = ktime_get_boottime_ns();
	u64 until;
	bool was_fenced;

	/* Our own clock, echoed: never later than now, or it is not ours. */
	if (stamp > now || now - stamp >= lease_ns)
		return;
	until = stamp + lease_ns;
	spin_lock(&d->lease_lock);
	if (until > d->lease_until)
		d->lease_until = until;
	was_fenced = d->fenced;
	d->fenced = false;
	d->lease_ms = le32_to_cpu(m->lease_ms);
	spin_unlock(&d->lease_lock);
	if (was_fenced)
		pr_info("region %s: lease renewed, no longer fenced\n", d->r->name);
	wake_up_all(&d->r->state_wq);
	ftp_dest_arm_fence(d, until - now);
}

/* No lease matters any more (done, abandoned, destroyed): let waiters go. */
static void ftp_dest_lease_end(struct ftp_dest *d)
{
	cancel_delayed_work_sync(&d->fence_work);
	spin_lock(&d->lease_lock);
	d->fenced = false;
	spin_unlock(&d->lease_lock);
	wake_up_all(&d->r->state_wq);
}

void ftp_dest_lease_status(struct ftp_dest *d, struct ftpage_status *st)
{
	u64 now = ktime_get_boottime_ns(), until = READ_ONCE(d->lease_until);

	if (!ftp_dest_needs_lease(d->r))
		return;
	if (READ_ONCE(d->fenced) || now >= until)
		st->status_flags |= FTPAGE_STATUS_FENCED;
	else
		st->lease_left_ms = div_u64(until - now, NSEC_PER_MSEC);
}

/* The source's answer @want to our handshake, or its refusal (logged). */
static int ftp_dest_answer(struct ftp_dest_chan *c, unsigned int want,
			   union ftp_msg_fixed *m)
{
	struct ftp_region *r = c->d->r;
	struct ftp_proto_limits lim = { .nr_pages = r->nr_pages };
	struct ftp_hdr h;
	int ret;

	ret = ftp_recv_msg(&c->fs, &h, m, &lim);
	if (ret < 0)
		return ret;
	if (ret == FTP_MSG_ERROR) {
		ret = ftp_err_to_errno(le32_to_cpu(m->error.code));
		if (ret != -ESTALE && ret != -EALREADY && ret != -ESHUTDOWN)
			pr_err_ratelimited("region %s: source refused us: %s\n",
					   r->name,
					   ftp_err_name(le32_to_cpu(m->error.code)));
		return ret;
	}
	return ret == want ? 0 : -EPROTO;
}

/*
 * With a key: check the source's proof in HELLO_ACK, send ours, wait for
 * the source to accept it.
 */
static int ftp_dest_authenticate(struct ftp_dest_chan *c,
				 const struct ftp_msg_hello *hello,
				 const struct ftp_msg_hello_ack *ack)
{
	struct ftp_dest *d = c->d;
	struct ftp_msg_auth proof;
	union ftp_msg_fixed m;
	int ret;

	if (!d->auth)
		return 0;
	ret = ftp_auth_dest(d->auth, d->r->name, hello, ack, &proof,
			    c->session_key);
	if (ret) {
		ftp_send_error(&c->fs, FTP_ERR_AUTH);
		return ret;
	}
	ret = ftp_send_msg(&c->fs, FTP_MSG_AUTH, 0, &proof, sizeof(proof),
			   NULL, 0);
	if (!ret)
		ret = ftp_dest_answer(c, FTP_MSG_AUTH, &m);
	/* Accepted: everything from now on is sealed, both ways. */
	if (!ret && ftp_auth_encrypts(ack->features)) {
		struct ftp_seal *s = ftp_seal_new(c->session_key, false);

		if (IS_ERR(s))
			ret = PTR_ERR(s);
		else
			ftp_sock_seal(&c->fs, s);
	}
	memzero_explicit(c->session_key, sizeof(c->session_key));
	return ret;
}

/* The source agreed to @features: open as many push and journal streams. */
static void ftp_dest_count_streams(struct ftp_dest *d, u64 features)
{
	d->nr_bulk = features & FTP_PROTO_FEAT_STREAMS ? d->streams : 1;
	d->nr_journal = features & FTP_PROTO_FEAT_JSTREAMS ? d->nr_bulk : 1;
}

/* Send HELLO on a connected channel and wait for HELLO_ACK (and AUTH). */
static int ftp_dest_handshake(struct ftp_dest_chan *c)
{
	struct ftp_dest *d = c->d;
	struct ftp_region *r = d->r;
	struct ftp_msg_hello hello = {
		.version_min = cpu_to_le16(FTP_PROTO_VERSION_MIN),
		.version_max = cpu_to_le16(FTP_PROTO_VERSION_MAX),
		.channel = cpu_to_le16(FTP_CHAN(c->kind, c->stream)),
		.generation = cpu_to_le16(d->generation),
		.session = cpu_to_le64(d->session),
		.region_size = cpu_to_le64(r->size),
	};
	union ftp_msg_fixed m;
	unsigned int version;
	int ret;

	strscpy((char *)hello.region, d->source_name, sizeof(hello.region));
	if (d->streams > 1)
		hello.features |= cpu_to_le64(FTP_PROTO_FEAT_STREAMS |
					      FTP_PROTO_FEAT_JSTREAMS);
	ftp_auth_hello(d->auth, &hello, d->encrypt);
	ret = ftp_send_msg(&c->fs, FTP_MSG_HELLO, 0, &hello, sizeof(hello), NULL, 0);
	ftp_sock_set_deadline(&c->fs, FTP_HANDSHAKE_TIMEOUT_MS);
	if (ret) {
		/* Refused at accept (ALLOW_PEER)? Its ERROR may be in already. */
		if (ftp_dest_answer(c, FTP_MSG_HELLO_ACK, &m) == -EACCES)
			ret = -EACCES;
		goto out;
	}
	ret = ftp_dest_answer(c, FTP_MSG_HELLO_ACK, &m);
	if (ret)
		goto out;
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
	ret = ftp_dest_authenticate(c, &hello, &m.ack);
	/* (Stream 0 streams the epochs' records; see journal.c.) */
	if (!ret && c->kind == FTP_CHAN_JOURNAL && !c->stream)
		d->src_committed = le64_to_cpu(m.ack.committed_epoch);
	/* The demand channel comes first: it says how many streams to open. */
	if (!ret && c->kind == FTP_CHAN_DEMAND)
		ftp_dest_count_streams(d, le64_to_cpu(m.ack.features));
out:
	if (ret == -ETIMEDOUT)
		pr_err_ratelimited("region %s: no handshake answer within %u ms\n",
				   r->name, FTP_HANDSHAKE_TIMEOUT_MS);
	ftp_sock_set_deadline(&c->fs, 0);
	return ret;
}

/*
 * Bulk channel: tell the source every run of pages we have (stream 0; the
 * others only say go), then go.
 */
static int ftp_dest_send_known(struct ftp_dest_chan *c)
{
	struct ftp_region *r = c->d->r;
	struct ftp_msg_range m;
	unsigned long start, end = c->stream ? r->nr_pages : 0;
	int ret;

	for (;;) {
		start = find_next_bit(r->known, r->nr_pages, end);
		if (start >= r->nr_pages)
			break;
		end = find_next_zero_bit(r->known, r->nr_pages, start);
		m.pgoff = cpu_to_le64(start);
		m.count = cpu_to_le64(end - start);
		ret = ftp_send_msg(&c->fs, FTP_MSG_KNOWN_RANGE, 0, &m, sizeof(m),
				   NULL, 0);
		if (ret)
			return ret;
		cond_resched();
	}
	return ftp_send_msg(&c->fs, FTP_MSG_KNOWN_END, 0, NULL, 0, NULL, 0);
}

static int __ftp_dest_chan_open(struct ftp_dest_chan *c)
{
	struct ftp_dest *d = c->d;
	int ret;

	ret = ftp_sock_connect(d->net, &d->addr, d->addrlen, &c->fs);
	if (ret)
		return ret;
	ret = ftp_dest_handshake(c);
	if (!ret && c->kind == FTP_CHAN_DEMAND)
		ftp_sock_demand(&c->fs);
	else if (!ret)
		ftp_sock_bulk(&c->fs);
	if (!ret && c->kind == FTP_CHAN_BULK)
		ret = ftp_dest_send_known(c);
	if (ret)
		goto err_release;
	/* Woken by ftp_dest_go() once every channel is open. */
	ret = ftp_thread_start(&c->rx, ftp_dest_rx_thread, c, "ftpage-rx",
			       d->r->name, false);
	if (ret)
		goto err_release;
	if (c->kind == FTP_CHAN_DEMAND)
		ftp_thread_demand(c->rx);
	return 0;

err_release:
	ftp_sock_release(&c->fs);
	return ret;
}

/*
 * Faults may wait for this connection: its allocations (socket, seal,
 * thread) must not recurse into I/O that could wait for them.
 */
static int ftp_dest_chan_open(struct ftp_dest_chan *c)
{
	unsigned int noio = memalloc_noio_save();
	int ret = __ftp_dest_chan_open(c);

	memalloc_noio_restore(noio);
	return ret;
}

static void ftp_dest_chan_close(struct ftp_dest_chan *c)
{
	ftp_sock_shutdown(&c->fs);
	ftp_thread_stop(&c->rx);
	memzero_explicit(c->session_key, sizeof(c->session_key));
}

/*
 * Senders on the demand channel (tx, faults, keeper, complete_work, DONE)
 * test FTP_DEST_UP under send_lock: the socket is theirs only while the
 * channels are up, never while the keeper connects or releases it.
 */
static void ftp_dest_set_up(struct ftp_dest *d, bool up)
{
	mutex_lock(&d->send_lock);
	if (up)
		set_bit(FTP_DEST_UP, &d->flags);
	else
		clear_bit(FTP_DEST_UP, &d->flags);
	mutex_unlock(&d->send_lock);
}

/* Close every channel: threads stopped, sockets released. Idempotent. */
static void ftp_dest_close_all(struct ftp_dest *d)
{
	unsigned int i;

	/* Shut down first: a sender blocked on a dead link lets go. */
	ftp_sock_shutdown(&d->demand.fs);
	ftp_dest_set_up(d, false);
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++) {
		ftp_dest_chan_close(&d->journal[i]);
		ftp_dest_chan_close(&d->bulk[i]);
	}
	ftp_dest_chan_close(&d->demand);
	ftp_journal_pause(d->r);
	mutex_lock(&d->send_lock);
	ftp_sock_release(&d->demand.fs);
	for (i = 0; i < FTP_PROTO_MAX_STREAMS; i++) {
		ftp_sock_release(&d->bulk[i].fs);
		ftp_sock_release(&d->journal[i].fs);
	}
	mutex_unlock(&d->send_lock);
	atomic_set(&d->connected, 0);
}

static void ftp_dest_chan_open_work(struct work_struct *work)
{
	struct ftp_dest_chan *c = container_of(work, struct ftp_dest_chan,
					       open_work);

	c->open_ret = ftp_dest_chan_open(c);
}

static void ftp_dest_chan_open_start(struct ftp_dest_chan *c)
{
	INIT_WORK(&c->open_work, ftp_dest_chan_open_work);
	queue_work(system_unbound_wq, &c->open_work);
}

static int ftp_dest_chan_open_wait(struct ftp_dest_chan *c, int ret)
{
	flush_work(&c->open_work);
	return ret ?: c->open_ret;
}

/*
 * The demand channel first: it claims the session and learns how many
 * streams the source takes. Then the others at once: each handshake takes
 * a few round trips, which one after the other would cost a long link
 * 2 + streams times over.
 */
static int ftp_dest_open_all(struct ftp_dest *d)
{
	unsigned int i;
	int ret;

	ret = ftp_dest_chan_open(&d->demand);
	if (ret)
		goto err_close;
	for (i = 0; i < d->nr_bulk; i++)
		ftp_dest_chan_open_start(&d->bulk[i]);
	for (i = 0; i < d->nr_journal; i++)
		ftp_dest_chan_open_start(&d->journal[i]);
	for (i = 0; i < d->nr_bulk; i++)
		ret = ftp_dest_chan_open_wait(&d->bulk[i], ret);
	for (i = 0; i < d->nr_journal; i++)
		ret = ftp_dest_chan_open_wait(&d->journal[i], ret);
	if (ret)
		goto err_close;
	return 0;

err_close:
	ftp_dest_close_all(d);
	return ret;
}

/* Every channel is open: start receiving, streaming and requesting. */
static int ftp_dest_go(struct ftp_dest *d)
{
	struct ftp_sock *journal[FTP_PROTO_MAX_STREAMS];
	unsigned int i;
	int ret;

	for (i = 0; i < d->nr_journal; i++)
		journal[i] = &d->journal[i].fs;
	ret = ftp_journal_start(d->r, journal, d->nr_journal, d->src_committed);
	if (ret)
		return ret;
	atomic_set(&d->connected, 1 + d->nr_bulk + d->nr_journal);
	d->up_ns = ktime_get_boottime_ns();
	ftp_dest_set_up(d, true);
	wake_up_process(d->demand.rx);
	for (i = 0; i < d->nr_bulk; i++)
		wake_up_process(d->bulk[i].rx);
	for (i = 0; i < d->nr_journal; i++)
		wake_up_process(d->journal[i].rx);
	ftp_dest_requeue(d);
	return 0;
}

static int ftp_dest_heartbeat(struct ftp_dest *d)
{
	struct ftp_msg_heartbeat hb = { .stamp = cpu_to_le64(ktime_get_boottime_ns()) };
	int ret;

	ret = ftp_dest_send_demand(d, FTP_MSG_HEARTBEAT, &hb, sizeof(hb));
	if (ret && ret != -ENOTCONN)
		ftp_dest_link_lost(d, "demand", ret);
	return ret;
}

/* A channel failed (receive, send or silence): the keeper reconnects. */
void ftp_dest_link_lost(struct ftp_dest *d, const char *what, int err)
{
	/* The source said we can never resume (see ftp_dest_final()). */
	if (err == -ESHUTDOWN || err == -ESTALE)
		cmpxchg(&d->final_err, 0, err);
	if (test_and_set_bit(FTP_DEST_LINK_DOWN, &d->flags))
		return;
	wake_up(&d->keeper_wq);
	wake_up_all(&d->r->state_wq);		/* a PULL waiting for its lease */
	if (ftp_region_ended(d->r) || READ_ONCE(d->final_err))
		return;
	if (err == -EPROTO)
		pr_warn_ratelimited("region %s: malformed message from the source\n",
				    d->r->name);
	pr_warn("region %s: %s channel to the source lost (%d); reconnecting\n",
		d->r->name, what, err);
}

static void ftp_dest_abandon(struct ftp_dest *d, const char *why)
{
	struct ftp_region *r = d->r;

	if (ftp_region_move(r, FTPAGE_STATE_ABANDONED))
		return;
	pr_err("region %s: %s; this destination is abandoned, its mappers get SIGBUS\n",
	       r->name, why);
	ftp_dest_break(d, -ESTALE);
	ftp_journal_break(r);
	unmap_mapping_range(r->inode->i_mapping, 0, 0, 1);
}

/* The source took our DONE: no rollback remains, no lease is needed. */
void ftp_dest_done_acked(struct ftp_dest *d)
{
	if (ftp_region_move(d->r, FTPAGE_STATE_DONE))
		return;
	pr_info("region %s: migration done; the source no longer holds a copy\n",
		d->r->name);
	wake_up_all(&d->r->state_wq);
	wake_up(&d->keeper_wq);
}

/*
 * The source says we can never resume: it rolled back (-ESTALE), the
 * migration was declared done (-EALREADY), or its region was destroyed
 * (-ESHUTDOWN: with every page here there is nothing left to roll back
 * to, so we are done; otherwise the missing pages are lost).
 */
static bool ftp_dest_final(struct ftp_dest *d, int err)
{
	bool complete = ftp_region_state(d->r) == FTPAGE_STATE_COMPLETE;

	switch (err) {
	case -ESTALE:
		ftp_dest_abandon(d, "the source rolled back");
		return true;
	case -ESHUTDOWN:
		if (!complete) {
			ftp_dest_abandon(d, "the source region was destroyed");
			return true;
		}
		fallthrough;
	case -EALREADY:
		ftp_dest_done_acked(d);
		return true;
	default:
		return false;
	}
}

/*
 * The next connection's generation; 0 is never one (a request id without
 * a generation), and the source orders them as serial numbers.
 */
static void ftp_dest_next_generation(struct ftp_dest *d)
{
	WRITE_ONCE(d->generation,
		   d->generation == U16_MAX ? 1 : d->generation + 1);
}

static int ftp_dest_reconnect(struct ftp_dest *d)
{
	struct ftp_region *r = d->r;
	int ret;

	ftp_dest_close_all(d);
	ret = READ_ONCE(d->final_err);
	if (ret && ftp_dest_final(d, ret))
		return ret;
	if (ftp_region_state(r) == FTPAGE_STATE_PULLING)
		ftp_region_move(r, FTPAGE_STATE_BROKEN);
	clear_bit(FTP_DEST_LINK_DOWN, &d->flags);
	ftp_dest_next_generation(d);
	ret = ftp_dest_open_all(d);
	if (!ret)
		ret = ftp_dest_go(d);
	if (ret) {
		if (!ftp_dest_final(d, ret))
			ftp_dest_close_all(d);
		set_bit(FTP_DEST_LINK_DOWN, &d->flags);
		return ret;
	}
	atomic64_inc(&d->reconnects);
	pr_info("region %s: reconnected to the source (generation %u)\n",
		r->name, d->generation);
	ftp_region_move(r, FTPAGE_STATE_PULLING);
	ftp_dest_heartbeat(d);
	if (ftp_region_state(r) == FTPAGE_STATE_COMPLETE)
		ftp_dest_send_demand(d, FTP_MSG_COMPLETE, NULL, 0);
	return 0;
}

/*
 * Seal an epoch every commit_interval_ms, for callers without a blob; in
 * its own work, so a long seal never delays a heartbeat.
 */
static void ftp_dest_commit_work(struct work_struct *work)
{
	struct ftp_dest *d = container_of(to_delayed_work(work),
					  struct ftp_dest, commit_work);
	u64 epoch, pages;

	if (ftp_region_ended(d->r))
		return;
	if (!ftp_journal_commit(d->r, 0, 0, 0, &epoch, &pages))
		ftp_dbg(2, "region %s: automatic commit of epoch %llu (%llu pages)\n",
			d->r->name, epoch, pages);
	queue_delayed_work(system_unbound_wq, &d->commit_work,
			   msecs_to_jiffies(d->commit_ms));
}

static int ftp_dest_keeper(void *arg)
{
	struct ftp_dest *d = arg;
	struct ftp_region *r = d->r;
	unsigned int backoff = FTP_RECONNECT_MIN_MS;
	unsigned long period;
	u64 lapsed;

	while (!kthread_should_stop()) {
		if (ftp_region_ended(r)) {
			ftp_dest_close_all(d);
			ftp_dest_lease_end(d);
			wait_event_interruptible(d->keeper_wq, kthread_should_stop());
			continue;
		}
		if (test_bit(FTP_DEST_LINK_DOWN, &d->flags)) {
			if (ftp_dest_reconnect(d)) {
				wait_event_interruptible_timeout(d->keeper_wq,
						kthread_should_stop() || ftp_region_ended(r),
						msecs_to_jiffies(backoff));
				backoff = min(backoff * 2, FTP_RECONNECT_MAX_MS);
				continue;
			}
			backoff = FTP_RECONNECT_MIN_MS;
		}
		/* Silence for half a lease past its end: the link is dead. */
		lapsed = ktime_get_boottime_ns() - max(READ_ONCE(d->lease_until), d->up_ns);
		if ((s64)lapsed > (s64)d->lease_ms * NSEC_PER_MSEC / 2) {
			ftp_dest_link_lost(d, "demand", -ETIMEDOUT);
			continue;
		}
		ftp_dest_heartbeat(d);
		period = msecs_to_jiffies(max(d->lease_ms / 4, 50U));
		wait_event_interruptible_timeout(d->keeper_wq,
				kthread_should_stop() || ftp_region_ended(r) ||
				test_bit(FTP_DEST_LINK_DOWN, &d->flags), period);
	}
	return 0;
}

/* The first lease, before PULL returns: the VM may run once we have it. */
static int ftp_dest_first_lease(struct ftp_dest *d)
{
	long left;

	if (ftp_dest_heartbeat(d))
		return -ECONNRESET;
	left = wait_event_timeout(d->r->state_wq,
				  READ_ONCE(d->lease_until) ||
				  test_bit(FTP_DEST_LINK_DOWN, &d->flags),
				  msecs_to_jiffies(FTP_HANDSHAKE_TIMEOUT_MS));
	if (test_bit(FTP_DEST_LINK_DOWN, &d->flags))
		return -ECONNRESET;
	return left ? 0 : -ETIMEDOUT;
}

static int ftp_dest_attach(struct ftp_dest *d)
{
	struct ftp_region *r = d->r;
	int ret;

	if (!d->tx) {
		ret = ftp_thread_start(&d->tx, ftp_dest_tx_thread, d, "ftpage-tx",
				       r->name, true);
		if (ret)
			return ret;
		ftp_thread_demand(d->tx);	/* requests, heartbeats */
	}
	clear_bit(FTP_DEST_LINK_DOWN, &d->flags);
	ret = ftp_dest_open_all(d);
	if (ret)
		return ret;
	ret = ftp_dest_go(d);
	if (!ret)
		ret = ftp_dest_first_lease(d);
	/*
	 * Lost after the source accepted every channel (a corrupted
	 * message, say): attached all the same, the keeper reconnects.
	 */
	if (ret == -ECONNRESET)
		ret = 0;
	if (ret)
		goto err_close;
	ret = ftp_thread_start(&d->keeper, ftp_dest_keeper, d, "ftpage-link",
			       r->name, false);
	if (ret)
		goto err_close;
	return 0;

err_close:
	ftp_dest_close_all(d);
	cancel_delayed_work_sync(&d->fence_work);
	d->lease_until = 0;
	return ret;
}

int ftp_dest_pull(struct ftp_region *r, const char *source_name,
		  const struct sockaddr_storage *addr, int addrlen, u32 flags)
{
	struct ftp_dest *d = r->dst;
	struct crypto_shash *auth;
	int ret;

	if (r->role != FTPAGE_ROLE_DEST)
		return -EINVAL;
	/* Held across connect and handshakes, each bounded by 5 s. */
	mutex_lock(&d->link_lock);
	ret = ftp_region_state(r) == FTPAGE_STATE_DEAD ? -ENOENT : -EBUSY;
	if (ftp_region_state(r) != FTPAGE_STATE_EMPTY || d->keeper)
		goto out_unlock;
	auth = ftp_auth_new(r, flags & FTPAGE_PULL_INSECURE);
	if (IS_ERR(auth)) {
		ret = PTR_ERR(auth);
		goto out_unlock;
	}
	ftp_auth_free(d->auth);		/* of a PULL that failed */
	d->auth = auth;
	WRITE_ONCE(d->encrypt, flags & FTPAGE_PULL_ENCRYPT);
	d->streams = READ_ONCE(ftp_streams);
	strscpy(d->source_name, source_name, sizeof(d->source_name));
	d->addr = *addr;
	d->addrlen = addrlen;
	if (!d->net)
		d->net = get_net(current->nsproxy->net_ns);
	/*
	 * A retried PULL keeps its session (the source may have bound it)
	 * and goes on to the next generation, so that the source refuses
	 * the attempt before's late handshakes rather than let them replace
	 * this one's channels.
	 */
	if (!d->session) {
		d->session = get_random_u64();
		WRITE_ONCE(d->generation, (get_random_u32() & 0x7fff) | 1);
	} else {
		ftp_dest_next_generation(d);
	}
	d->final_err = 0;
	d->lease_ms = READ_ONCE(ftp_lease_ms);
	d->commit_ms = READ_ONCE(ftp_commit_interval_ms);
	if (d->commit_ms)
		d->commit_ms = max(d->commit_ms, FTP_COMMIT_MIN_MS);

	ret = ftp_dest_attach(d);
	if (ret)
		goto out_unlock;
	mutex_lock(&r->lock);
	ret = ftp_region_set_state(r, FTPAGE_STATE_PULLING);
	mutex_unlock(&r->lock);
	if (ret) {			/* destroyed meanwhile */
		ftp_thread_stop(&d->keeper);
		ftp_dest_close_all(d);
		goto out_unlock;
	}
	/* Pages that came before PULLING could not complete us. */
	if (atomic64_read(&r->known_count) == r->nr_pages)
		schedule_work(&d->complete_work);
	WRITE_ONCE(r->insecure, !d->auth);
	wake_up_process(d->keeper);
	if (d->commit_ms)
		queue_delayed_work(system_unbound_wq, &d->commit_work,
				   msecs_to_jiffies(d->commit_ms));
	pr_info("region %s: pulling region %s from %pISpc%s%s\n", r->name,
		d->source_name, addr,
		d->auth ? "" : ", INSECURE: the source is not authenticated",
		d->encrypt ? ", encrypted" : "");
out_unlock:
	mutex_unlock(&d->link_lock);
	if (ret && ret != -EBUSY && ret != -ENOENT)
		pr_err("region %s: pull from %pISpc failed: %d\n", r->name, addr, ret);
	return ret;
}

/* DONE on a complete destination: the source lets go, then we do. */
int ftp_dest_done(struct ftp_region *r)
{
	struct ftp_dest *d = r->dst;
	long left;

	if (!d)
		return -EINVAL;
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_DONE:
		return 0;
	case FTPAGE_STATE_COMPLETE:
		break;
	case FTPAGE_STATE_PULLING:
	case FTPAGE_STATE_BROKEN:
		return -EBUSY;
	default:
		return -EINVAL;
	}
	if (ftp_dest_send_demand(d, FTP_MSG_DONE, NULL, 0))
		return -ENOTCONN;
	left = wait_event_killable_timeout(r->state_wq,
			ftp_region_state(r) != FTPAGE_STATE_COMPLETE,
			msecs_to_jiffies(FTP_HANDSHAKE_TIMEOUT_MS));
	if (left < 0)
		return -EINTR;
	if (ftp_region_state(r) == FTPAGE_STATE_DONE)
		return 0;
	return left ? -ENOTCONN : -ETIMEDOUT;
}

void ftp_dest_link_init(struct ftp_dest *d)
{
	INIT_DELAYED_WORK(&d->fence_work, ftp_dest_fence_work);
	INIT_DELAYED_WORK(&d->commit_work, ftp_dest_commit_work);
}

/* Drop the link for good (destroy): threads stopped, waiters failed. */
void ftp_dest_stop(struct ftp_region *r)
{
	struct ftp_dest *d = r->dst;

	if (!d)
		return;
	mutex_lock(&d->link_lock);
	/* The keeper never takes link_lock. */
	ftp_thread_stop(&d->keeper);
	ftp_dest_break(d, -ENODEV);
	ftp_dest_close_all(d);
	ftp_journal_stop(r);
	ftp_thread_stop(&d->tx);
	cancel_work_sync(&d->complete_work);
	cancel_delayed_work_sync(&d->commit_work);
	ftp_dest_lease_end(d);
	ftp_auth_free(d->auth);
	d->auth = NULL;
	if (d->net) {
		put_net(d->net);
		d->net = NULL;
	}
	mutex_unlock(&d->link_lock);
}
