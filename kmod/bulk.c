// SPDX-License-Identifier: GPL-2.0
/*
 * The in-flight budget of a peer's bulk streams.
 *
 * Demand replies and the push share the path's bottleneck queue, so a
 * demand fault waits behind whatever the push keeps queued there. Every
 * congestion control queues something: cubic fills the buffer, and BBR
 * keeps up to a bandwidth-delay product (BDP) queued per flow when its
 * cwnd (2 BDP) binds, more at the end of its start-up; several push
 * streams each take the whole BDP for theirs. The budget bounds the bytes
 * in flight of all of a peer's push streams together at bulk_gain percent
 * (default 125) of the BDP measured over them: the largest delivery rate
 * of the last FTP_BULK_WIN intervals times the least RTT (of about the
 * last ten seconds, below). The link stays full (more than one BDP in
 * flight) and the queue holds a quarter of a round trip at most, which is
 * what a demand reply waits. An interval is two round trips and at least
 * 50 ms: acknowledgements come in bursts (delayed ACKs, a virtual CPU's
 * timer), which a shorter one takes for rate.
 *
 * The budget starts once the start-up is over: as soon as the stream
 * sees its smoothed RTT rise an eighth above the least (a queue builds;
 * it then holds what it has in flight until the interval's end sets the
 * budget), or the rate stopped growing for three intervals. Before, TCP's
 * slow start (or BBR's) grows one stream alone, the others paused: every
 * stream's initial window and start-up would queue as much again, and a
 * demand reply waits behind all of it. Exiting later lets the start-up
 * queue a round trip more.
 *
 * The least RTT is a windowed minimum, as BBR keeps it: the budget's own
 * queue hides the path's RTT, so when no sample came down to the least
 * for ten seconds the streams probe, one interval and a round trip at
 * half the BDP: the queue drains, and the least RTT the probe saw is the
 * path's from then on, lower or higher. So the budget follows a new path,
 * and traffic of others that keeps a queue standing becomes part of the
 * path's RTT; traffic that comes and goes makes the RTT grow and the
 * measured rate shrink meanwhile, and the push yields to it, as a
 * scavenger (LEDBAT) would, down to the least budget.
 *
 * The budget is at least 64 KiB: on a short path the BDP is a few
 * segments, too few to keep the link busy across a scheduling delay or a
 * burst of ACKs. (A floor of 4 ms of the rate queued less on a slow link,
 * but where the RTT is the CPU's more than the link's, between two
 * emulated VMs, it let the push fall to a quarter.) It runs as many
 * streams as it gives 16 segments each, at least one; the others pause,
 * their threads waiting for a share (ftp_bulk_pause()). A stream with a
 * smaller window recovers a loss by a timeout rather than a fast
 * retransmit (which takes three duplicate ACKs), and each one costs CPU.
 * Each running stream gets an equal share as TCP's cwnd clamp (what a BPF
 * program sets with TCP_BPF_SNDCWND_CLAMP), and a paused one as much for
 * what its socket still holds; the cwnd is lowered to it at once, since
 * reno and cubic apply the clamp only as the window grows. A
 * work item samples the streams every tick during start-up and a probe,
 * once an interval otherwise. bulk_gain=0 turns the budget off: TCP
 * alone decides, and setting it again measures the path afresh.
 */
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/ktime.h>
#include <linux/sizes.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "bulk.h"
#include "ftpage.h"

/* Shortest interval between rate samples. */
#define FTP_BULK_MIN_IVAL_US	50000
/* The least share of a stream, in segments (BBR's floor). */
#define FTP_BULK_MIN_CWND	4U
/* The least budget (above). */
#define FTP_BULK_MIN_BUDGET	SZ_64K
/* A running stream's share at least, in segments; how long a pause lasts. */
#define FTP_BULK_STREAM_SEGS	16U
#define FTP_BULK_PAUSE_MS	50
/* Start-up: growth that still counts as growing, for how long. */
#define FTP_BULK_GROWTH_PCT	125
#define FTP_BULK_PLATEAU	3
/* The least RTT's window (BBR's), and a probe's share of the BDP. */
#define FTP_BULK_RTT_WIN_US	(10 * USEC_PER_SEC)
#define FTP_BULK_PROBE_PCT	50U

/* What one tick's pass over the streams saw. */
struct ftp_bulk_tick {
	u32 rtt_us;			/* least RTT sample; 0: none */
	u32 srtt_us;			/* largest smoothed RTT */
};

static void ftp_bulk_work(struct work_struct *work);

/**
 * ftp_bulk_init() - Set up a peer's budget, with no stream.
 * @b: the budget
 * @name: the region's name, for the log; outlives @b
 *
 * Context: Any context.
 */
void ftp_bulk_init(struct ftp_bulk *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	spin_lock_init(&b->lock);
	init_waitqueue_head(&b->turn);
	INIT_DELAYED_WORK(&b->work, ftp_bulk_work);
}

/**
 * ftp_bulk_uninit() - Tear down a budget.
 * @b: the budget, every stream deleted (ftp_bulk_del()) before
 *
 * Context: Process context; waits for the work to finish.
 */
void ftp_bulk_uninit(struct ftp_bulk *b)
{
	unsigned int i;

	cancel_delayed_work_sync(&b->work);
	if (!WARN_ON_ONCE(READ_ONCE(b->nr)))
		return;
	/* A caller's bug: at least do not leak the sockets. */
	for (i = 0; i < FTP_BULK_MAX_FLOWS; i++) {
		if (b->slot[i].sk) {
			sock_put(b->slot[i].sk);
			WRITE_ONCE(b->slot[i].sk, NULL);
		}
	}
	b->nr = 0;
}

static struct ftp_bulk_slot *ftp_bulk_find(struct ftp_bulk *b,
					   const struct sock *sk)
{
	unsigned int i;

	lockdep_assert_held(&b->lock);
	for (i = 0; i < FTP_BULK_MAX_FLOWS; i++)
		if (b->slot[i].sk == sk)
			return &b->slot[i];
	return NULL;
}

/**
 * ftp_bulk_add() - Put a push stream under the budget.
 * @b: the peer's budget
 * @sk: the stream's connected TCP socket; referenced until ftp_bulk_del()
 *
 * The first stream (again) starts the measurement afresh: the streams
 * may take another path than the last ones.
 *
 * Context: Process context; takes @sk's socket lock.
 */
void ftp_bulk_add(struct ftp_bulk *b, struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct ftp_bulk_slot *s;

	lock_sock(sk);
	spin_lock(&b->lock);
	s = ftp_bulk_find(b, NULL);
	if (s) {
		sock_hold(sk);
		*s = (struct ftp_bulk_slot){
			.delivered = tp->delivered,
			.clamp = tp->snd_cwnd_clamp,
			.cur = tp->snd_cwnd_clamp,
			.mss = max(tp->mss_cache, 1U),
			/* till the work says (now): one starts alone */
			.paused = b->nr && READ_ONCE(ftp_bulk_gain),
		};
		WRITE_ONCE(s->sk, sk);
		if (!b->nr++) {
			b->gen++;	/* the work resets its state */
			WRITE_ONCE(b->bdp, 0);
		}
	}
	spin_unlock(&b->lock);
	release_sock(sk);
	if (!s) {
		pr_warn_ratelimited("region %s: more than %u push streams, one runs without the in-flight budget\n",
				    b->name, FTP_BULK_MAX_FLOWS);
		return;
	}
	/* Now, not at the interval's end: the others' shares shrink too. */
	mod_delayed_work(system_wq, &b->work, 0);
}

/**
 * ftp_bulk_del() - Give a push stream back to TCP.
 * @b: the peer's budget
 * @sk: a stream ftp_bulk_add() put under it
 *
 * Only the clamp is restored: TCP grows the window again itself. Under
 * the socket lock, so that a tick that looked at the stream before does
 * not clamp it again after (ftp_bulk_apply()).
 *
 * Context: Process context; takes @sk's socket lock.
 */
void ftp_bulk_del(struct ftp_bulk *b, struct sock *sk)
{
	struct ftp_bulk_slot *s;

	lock_sock(sk);
	spin_lock(&b->lock);
	s = ftp_bulk_find(b, sk);
	if (s) {
		tcp_sk(sk)->snd_cwnd_clamp = s->clamp;
		WRITE_ONCE(s->sk, NULL);
		b->nr--;
	}
	spin_unlock(&b->lock);
	release_sock(sk);
	if (!s)
		return;
	sock_put(sk);
	/* A running stream leaves: a paused one may take its share. */
	if (READ_ONCE(b->nr))
		mod_delayed_work(system_wq, &b->work, 0);
}

/* @bdp bytes at @gain percent, with the floor; 0 for none. */
static u64 ftp_bulk_bytes(u64 bdp, unsigned int gain)
{
	if (!bdp || !gain)
		return 0;
	return max_t(u64, div_u64(bdp * gain, 100), FTP_BULK_MIN_BUDGET);
}

/**
 * ftp_bulk_budget() - The bytes the push streams may keep in flight now.
 * @b: the peer's budget
 *
 * Return: bytes; 0 when there is no budget (bulk_gain 0, or none measured
 * yet). A probe keeps less for a moment.
 *
 * Context: Any context.
 */
u64 ftp_bulk_budget(struct ftp_bulk *b)
{
	return ftp_bulk_bytes(READ_ONCE(b->bdp), READ_ONCE(ftp_bulk_gain));
}

/*
 * Lockless, for the push's every page: @sk's slot, its own stream's,
 * stays until that stream's ftp_bulk_del().
 */
static bool ftp_bulk_paused(struct ftp_bulk *b, struct sock *sk)
{
	struct ftp_bulk_slot *s;

	for (s = b->slot; s < b->slot + FTP_BULK_MAX_FLOWS; s++)
		if (READ_ONCE(s->sk) == sk)
			return READ_ONCE(s->paused);
	return false;
}

/**
 * ftp_bulk_wake() - Have paused streams look at their reasons to stop now.
 * @b: the peer's budget
 *
 * Context: Any context.
 */
void ftp_bulk_wake(struct ftp_bulk *b)
{
	atomic_inc(&b->kicks);
	wake_up_all(&b->turn);
}

/**
 * ftp_bulk_pause() - Wait while the budget has no share for a stream.
 * @b: the peer's budget
 * @sk: a stream ftp_bulk_add() put under it
 *
 * A paused stream should send nothing new. Its thread waits here up to
 * FTP_BULK_PAUSE_MS at a time, so that it sees its own reasons to stop
 * (kthread_stop() and ftp_bulk_wake() wake it sooner).
 *
 * Return: true when the stream was paused: the caller checks whether it
 * still has work and calls again; false: it may send.
 *
 * Context: Process context (a kthread); may sleep.
 */
bool ftp_bulk_pause(struct ftp_bulk *b, struct sock *sk)
{
	int kicks = atomic_read(&b->kicks);

	if (!ftp_bulk_paused(b, sk))
		return false;
	wait_event_interruptible_timeout(b->turn, !ftp_bulk_paused(b, sk) ||
					 kthread_should_stop() ||
					 atomic_read(&b->kicks) != kicks,
					 msecs_to_jiffies(FTP_BULK_PAUSE_MS));
	return true;
}

/* State for a first stream (@gen), or for bulk_gain set again after 0. */
static void ftp_bulk_reset(struct ftp_bulk *b, unsigned int gen)
{
	b->seen_gen = gen;
	b->phase = FTP_BULK_STARTUP;
	b->mark_us = 0;
	memset(b->rate, 0, sizeof(b->rate));
	b->next = 0;
	b->min_rtt_us = 0;
	b->probe_rtt_us = 0;
	b->plateau = 0;
	b->full_rate = 0;
	WRITE_ONCE(b->bdp, 0);
}

/*
 * Take a reference on each stream, or with @all false only on those we
 * clamp (to give them back); how many. *@nr: how many streams there are.
 */
static unsigned int ftp_bulk_grab(struct ftp_bulk *b, struct sock **sks,
				  bool all, unsigned int *nr,
				  unsigned int *gen)
{
	struct ftp_bulk_slot *s;
	unsigned int n = 0;

	spin_lock(&b->lock);
	for (s = b->slot; s < b->slot + FTP_BULK_MAX_FLOWS; s++) {
		if (s->sk && (all || s->cur != s->clamp)) {
			sock_hold(s->sk);
			sks[n++] = s->sk;
		}
	}
	*nr = b->nr;
	*gen = b->gen;
	spin_unlock(&b->lock);
	return n;
}

/*
 * One stream, one tick: what it delivered since the last, its RTT, and
 * what the clamp needs (ftp_bulk_clamp()). tp->delivered counts the
 * segments SACKed too, so a loss's recovery does not hold the rate back
 * and then burst it into one interval.
 */
static void ftp_bulk_account(struct ftp_bulk *b, struct sock *sk,
			     struct ftp_bulk_tick *t)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	struct ftp_bulk_slot *s;
	u32 segs, rtt;

	/*
	 * Not lock_sock_fast(): its fast path holds the socket's spinlock
	 * with softirqs off, and a softirq on a CPU that holds @b->lock
	 * could spin on it (bh_lock_sock()) while we spin on @b->lock.
	 */
	lock_sock(sk);
	spin_lock(&b->lock);
	s = ftp_bulk_find(b, sk);
	if (s) {
		segs = tp->delivered - s->delivered;
		s->delivered = tp->delivered;
		s->mss = max(tp->mss_cache, 1U);
		s->inflight = tcp_packets_in_flight(tp);
		b->delivered += (u64)segs * s->mss;
		/* RACK's is the last ACK's, unsmoothed; it needs SACK */
		rtt = tcp_is_sack(tp) ? tp->rack.rtt_us : tp->srtt_us >> 3;
		if (segs && rtt && (!t->rtt_us || rtt < t->rtt_us))
			t->rtt_us = rtt;
		/* a paused stream's is of when it last sent */
		if (segs)
			t->srtt_us = max(t->srtt_us, tp->srtt_us >> 3);
	}
	spin_unlock(&b->lock);
	release_sock(sk);
}

/* A sample into the windowed least RTT, and the probe's. */
static void ftp_bulk_rtt(struct ftp_bulk *b, u32 rtt, u64 now)
{
	if (b->phase == FTP_BULK_PROBE &&
	    (!b->probe_rtt_us || rtt < b->probe_rtt_us))
		b->probe_rtt_us = rtt;
	if (!b->min_rtt_us || rtt <= b->min_rtt_us) {
		b->min_rtt_us = rtt;
		b->min_rtt_stamp = now;
	}
}

/* Has a queue built? @srtt an eighth (and 2 ms) above the least RTT. */
static bool ftp_bulk_queued(const struct ftp_bulk *b, u32 srtt)
{
	u32 rtt = b->min_rtt_us;

	return rtt && srtt > rtt + max(rtt / 8, 2000U);
}

static u64 ftp_bulk_max_rate(const struct ftp_bulk *b)
{
	u64 r = 0;
	unsigned int i;

	for (i = 0; i < FTP_BULK_WIN; i++)
		r = max(r, b->rate[i]);
	return r;
}

/* Has the rate (@rate, the largest of the window) stopped growing? */
static bool ftp_bulk_plateau(struct ftp_bulk *b, u64 rate)
{
	if (rate * 100 >= b->full_rate * FTP_BULK_GROWTH_PCT) {
		b->full_rate = rate;
		b->plateau = 0;
		return false;
	}
	return ++b->plateau >= FTP_BULK_PLATEAU;
}

/* The interval's length: a probe's waits for the drained queue's RTT. */
static u64 ftp_bulk_ival(const struct ftp_bulk *b)
{
	u64 ival = max_t(u64, 2ull * b->min_rtt_us, FTP_BULK_MIN_IVAL_US);

	return b->phase == FTP_BULK_PROBE ? ival + b->min_rtt_us : ival;
}

/* End the interval at @now: a rate sample, the next phase, the BDP. */
static void ftp_bulk_sample(struct ftp_bulk *b, u64 now)
{
	u64 rate, max_rate, bdp;

	rate = div64_u64((b->delivered - b->mark_delivered) * USEC_PER_SEC,
			 now - b->mark_us);
	b->rate[b->next] = rate;
	b->next = (b->next + 1) % FTP_BULK_WIN;
	max_rate = ftp_bulk_max_rate(b);
	switch (b->phase) {
	case FTP_BULK_STARTUP:
		if (ftp_bulk_plateau(b, max_rate))
			b->phase = FTP_BULK_BOUND;
		break;
	case FTP_BULK_HOLD:
		b->phase = FTP_BULK_BOUND;
		break;
	case FTP_BULK_BOUND:
		if (now - b->min_rtt_stamp > FTP_BULK_RTT_WIN_US) {
			b->phase = FTP_BULK_PROBE;
			b->probe_rtt_us = 0;
		}
		break;
	case FTP_BULK_PROBE:
		/* higher too: the path changed, or others keep a queue */
		if (b->probe_rtt_us)
			b->min_rtt_us = b->probe_rtt_us;
		b->min_rtt_stamp = now;
		b->phase = FTP_BULK_BOUND;
		break;
	}
	/* (a BDP of 0, no delivery, still means a budget: the floor) */
	bdp = mul_u64_u32_div(max_rate, b->min_rtt_us, USEC_PER_SEC);
	if (b->phase != FTP_BULK_STARTUP)
		WRITE_ONCE(b->bdp, max_t(u64, bdp, 1));
	b->mark_us = now;
	b->mark_delivered = b->delivered;
	ftp_dbg(3, "region %s: push %llu bytes/s (max %llu), min RTT %u us, BDP %llu bytes, phase %d\n",
		b->name, rate, max_rate, b->min_rtt_us, READ_ONCE(b->bdp),
		b->phase);
}

/*
 * After a pass over the streams (@t) at @now: the RTT, start-up's end, the
 * interval's. Returns whether the hold begins.
 */
static bool ftp_bulk_step(struct ftp_bulk *b, const struct ftp_bulk_tick *t,
			  u64 now)
{
	bool hold = false;

	if (t->rtt_us)
		ftp_bulk_rtt(b, t->rtt_us, now);
	if (b->phase == FTP_BULK_STARTUP && ftp_bulk_queued(b, t->srtt_us)) {
		b->phase = FTP_BULK_HOLD;
		hold = true;
	}
	if (!b->mark_us) {
		b->mark_us = now;
		b->mark_delivered = b->delivered;
	} else if (now - b->mark_us >= ftp_bulk_ival(b)) {
		ftp_bulk_sample(b, now);
	}
	return hold;
}

/*
 * The clamp stream @s gets now, never above the one it came with. Bound:
 * its share of the budget among the @b->running streams, at least 4
 * segments; a paused stream keeps a running one's, so that what its
 * socket still holds drains in a round trip or two (it takes nothing
 * new). In a probe: its share of half the BDP, at
 * least 4 segments but with no floor, or the queue that holds on a short
 * path would never drain.
 */
static u32 ftp_bulk_clamp(const struct ftp_bulk *b,
			  const struct ftp_bulk_slot *s, unsigned int gain)
{
	u64 budget, cwnd;

	lockdep_assert_held(&b->lock);
	switch (b->phase) {
	case FTP_BULK_HOLD:
		/* a stream that came since runs free until the budget */
		return s->hold_cwnd ? min(s->hold_cwnd, s->clamp) : s->clamp;
	case FTP_BULK_BOUND:
		budget = ftp_bulk_bytes(READ_ONCE(b->bdp), gain);
		break;
	case FTP_BULK_PROBE:
		budget = div_u64(READ_ONCE(b->bdp) *
				 min(gain, FTP_BULK_PROBE_PCT), 100);
		break;
	default:
		return s->clamp;
	}
	if (!budget)
		return s->clamp;
	cwnd = DIV_ROUND_UP_ULL(div_u64(budget, max(b->running, 1U)), s->mss);
	return min_t(u64, max_t(u64, cwnd, FTP_BULK_MIN_CWND), s->clamp);
}

/*
 * Set @tp's clamp @s->cur to @cwnd. Reno and cubic apply the clamp only
 * as the window grows, so a lower one lowers the window now, and
 * ssthresh with it, as TCP_BPF_SNDCWND_CLAMP does; a higher one lets TCP
 * grow it again.
 */
static void ftp_bulk_set_clamp(struct tcp_sock *tp, struct ftp_bulk_slot *s,
			       u32 cwnd)
{
	tp->snd_cwnd_clamp = cwnd;
	if (tcp_snd_cwnd(tp) > cwnd) {
		tcp_snd_cwnd_set(tp, cwnd);
		tp->snd_ssthresh = min(tp->snd_ssthresh, cwnd);
	}
	s->cur = cwnd;
}

/*
 * Which streams run, the first in slot order: in start-up (and its hold)
 * one; bound, as many as the budget (not a probe's) gives
 * FTP_BULK_STREAM_SEGS each, at least one; with no budget (bulk_gain 0)
 * every one. Wakes those whose pause is over.
 */
static void ftp_bulk_turns(struct ftp_bulk *b, unsigned int gain)
{
	struct ftp_bulk_slot *s;
	unsigned int run, n = 0, mss = 1;
	bool pause, wake = false;
	u64 budget = 0;

	spin_lock(&b->lock);
	if (b->phase == FTP_BULK_BOUND || b->phase == FTP_BULK_PROBE)
		budget = ftp_bulk_bytes(READ_ONCE(b->bdp), gain);
	for (s = b->slot; s < b->slot + FTP_BULK_MAX_FLOWS; s++)
		if (s->sk)
			mss = max(mss, s->mss);
	run = b->nr;
	if (gain && budget)
		run = clamp_t(u64, div_u64(budget, FTP_BULK_STREAM_SEGS * mss),
			      1, max(b->nr, 1U));
	else if (gain)
		run = 1;
	for (s = b->slot; s < b->slot + FTP_BULK_MAX_FLOWS; s++) {
		if (!s->sk)
			continue;
		pause = n++ >= run;
		wake |= s->paused && !pause;
		WRITE_ONCE(s->paused, pause);
	}
	b->running = run;
	spin_unlock(&b->lock);
	if (wake)
		wake_up_all(&b->turn);
}

/*
 * Is stream @sk's clamp to change? @hold: the hold begins, the stream
 * holds what it had in flight at this tick.
 */
static bool ftp_bulk_changed(struct ftp_bulk *b, struct sock *sk,
			     unsigned int gain, bool hold)
{
	struct ftp_bulk_slot *s;
	bool changed = false;

	spin_lock(&b->lock);
	s = ftp_bulk_find(b, sk);
	if (s) {
		if (hold)
			s->hold_cwnd = max(s->inflight, FTP_BULK_MIN_CWND);
		changed = ftp_bulk_clamp(b, s, gain) != s->cur;
	}
	spin_unlock(&b->lock);
	return changed;
}

/*
 * Give stream @sk the clamp of @b's phase, if it changed: under its
 * socket lock, unless it was deleted since (ftp_bulk_del()).
 */
static void ftp_bulk_apply(struct ftp_bulk *b, struct sock *sk,
			   unsigned int gain, bool hold)
{
	struct ftp_bulk_slot *s;
	u32 cwnd;

	if (!ftp_bulk_changed(b, sk, gain, hold))
		return;
	lock_sock(sk);		/* not lock_sock_fast(): ftp_bulk_account() */
	spin_lock(&b->lock);
	s = ftp_bulk_find(b, sk);
	if (s) {
		cwnd = ftp_bulk_clamp(b, s, gain);
		if (cwnd != s->cur)
			ftp_bulk_set_clamp(tcp_sk(sk), s, cwnd);
	}
	spin_unlock(&b->lock);
	release_sock(sk);
}

/*
 * Jiffies to the next tick: start-up's end and a probe's RTT are seen
 * only by watching every tick; otherwise the interval's end will do.
 */
static unsigned long ftp_bulk_delay(const struct ftp_bulk *b, u64 now)
{
	u64 end = b->mark_us + ftp_bulk_ival(b);

	if (b->phase == FTP_BULK_STARTUP || b->phase == FTP_BULK_PROBE ||
	    end <= now)
		return 1;
	return usecs_to_jiffies(min_t(u64, end - now, USEC_PER_SEC));
}

/*
 * Measure the streams, then set their clamps; with bulk_gain 0 only give
 * back the clamps still set, and look at the gain again an interval on.
 */
static void ftp_bulk_work(struct work_struct *work)
{
	struct ftp_bulk *b = container_of(to_delayed_work(work),
					  struct ftp_bulk, work);
	unsigned int gain = READ_ONCE(ftp_bulk_gain);
	struct sock *sks[FTP_BULK_MAX_FLOWS];
	struct ftp_bulk_tick t = {};
	unsigned long delay;
	unsigned int i, n, nr, gen;
	bool hold = false;
	u64 now;

	n = ftp_bulk_grab(b, sks, gain, &nr, &gen);
	if (!gain || !nr || gen != b->seen_gen)
		ftp_bulk_reset(b, gen);
	if (!nr)
		return;		/* ftp_bulk_add() starts it again */
	delay = usecs_to_jiffies(FTP_BULK_MIN_IVAL_US);
	if (gain) {
		for (i = 0; i < n; i++)
			ftp_bulk_account(b, sks[i], &t);
		/* after the socket locks: they may sleep */
		now = ktime_to_us(ktime_get());
		hold = ftp_bulk_step(b, &t, now);
		delay = ftp_bulk_delay(b, now);
	}
	ftp_bulk_turns(b, gain);
	for (i = 0; i < n; i++) {
		ftp_bulk_apply(b, sks[i], gain, hold);
		sock_put(sks[i]);
	}
	queue_delayed_work(system_wq, &b->work, delay);
}
