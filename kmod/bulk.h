/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FTP_BULK_H
#define FTP_BULK_H

#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "proto.h"

struct sock;

/* Rate samples the budget takes the maximum of. */
#define FTP_BULK_WIN		6
/* Streams at once: a reconnect's new ones may come before the old go. */
#define FTP_BULK_MAX_FLOWS	(2 * FTP_PROTO_MAX_STREAMS)

enum ftp_bulk_phase {
	FTP_BULK_STARTUP,		/* TCP grows the streams alone */
	FTP_BULK_HOLD,			/* start-up ended: no budget yet */
	FTP_BULK_BOUND,			/* each stream has its share */
	FTP_BULK_PROBE,			/* a smaller one: the queue drains */
};

/* A stream's; under ftp_bulk.lock (@sk and @paused are read without). */
struct ftp_bulk_slot {
	struct sock *sk;		/* referenced; NULL: free */
	u32 delivered;			/* its tp->delivered accounted */
	u32 clamp;			/* its snd_cwnd_clamp before */
	u32 cur;			/* the snd_cwnd_clamp we set */
	u32 hold_cwnd;			/* held at; 0: came in the hold */
	u32 mss;			/* at the last tick */
	u32 inflight;			/* packets, at the last tick */
	bool paused;			/* the budget has no share for it */
};

/*
 * The bytes in flight that a peer's bulk streams (the push) may keep
 * together: bulk_gain percent of the path's bandwidth-delay product, as
 * measured over those streams. See bulk.c.
 */
struct ftp_bulk {
	const char *name;		/* the region's, for the log */
	/* Protects @slot, @nr, @gen; taken inside a slot's socket lock. */
	spinlock_t lock;
	struct ftp_bulk_slot slot[FTP_BULK_MAX_FLOWS];
	unsigned int nr;		/* slots in use */
	unsigned int running;		/* of them, not paused */
	unsigned int gen;		/* bumped as @nr leaves 0 */
	struct delayed_work work;	/* runs while @nr > 0 */
	/* Bytes, 0: no budget (yet); READ_ONCE(), WRITE_ONCE(). */
	u64 bdp;
	wait_queue_head_t turn;		/* paused streams wait here */
	atomic_t kicks;			/* ftp_bulk_wake()s */

	/* Only the work touches these. */
	unsigned int seen_gen;		/* @gen the state below is of */
	enum ftp_bulk_phase phase;
	u64 delivered;			/* bytes delivered, all streams */
	u64 mark_delivered;		/* @delivered at @mark_us */
	u64 mark_us;			/* start of this interval; 0: none */
	u64 rate[FTP_BULK_WIN];		/* bytes/s of the last intervals */
	unsigned int next;		/* next in @rate */
	u32 min_rtt_us;			/* least RTT of the window; 0: none */
	u64 min_rtt_stamp;		/* when it was last seen, us */
	u32 probe_rtt_us;		/* least RTT of this probe; 0: none */
	unsigned int plateau;		/* intervals the rate did not grow */
	u64 full_rate;			/* start-up: rate to grow beyond */
};

void ftp_bulk_init(struct ftp_bulk *b, const char *name);
void ftp_bulk_uninit(struct ftp_bulk *b);
void ftp_bulk_add(struct ftp_bulk *b, struct sock *sk);
void ftp_bulk_del(struct ftp_bulk *b, struct sock *sk);
u64 ftp_bulk_budget(struct ftp_bulk *b);
bool ftp_bulk_pause(struct ftp_bulk *b, struct sock *sk);
void ftp_bulk_wake(struct ftp_bulk *b);

#endif /* FTP_BULK_H */
