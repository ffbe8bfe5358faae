/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Destination internals shared by dest.c (fetching pages, receiving) and
 * link.c (connecting, reconnecting, heartbeats, the lease).
 */
#ifndef FTP_DEST_H
#define FTP_DEST_H

#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "ftpage.h"
#include "transport.h"

struct ftp_fetch {
	refcount_t ref;		/* @pending, the tx queue and each waiter */
	pgoff_t index;
	u64 start_ns;
	unsigned long deadline;	/* jiffies */
	struct llist_node tx_node;
	unsigned long queued;	/* bit 0: on the tx queue */
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
	u8 stream;		/* bulk, journal: index among the streams */
	u8 session_key[FTP_AUTH_MAC_LEN];	/* from the handshake */
	struct work_struct open_work;	/* ftp_dest_open_all(), which waits */
	int open_ret;			/* its result */
};

/* d->flags */
enum {
	FTP_DEST_LINK_DOWN,	/* a channel failed: the keeper reconnects */
	FTP_DEST_UP,		/* channels open and their threads running */
};

struct ftp_dest {
	struct ftp_region *r;
	/*
	 * The channels, their sockets and receive threads are opened and
	 * closed by PULL (under r->lock, before the keeper runs) and then by
	 * the keeper thread alone (which open_work items help, waited for).
	 */
	struct ftp_dest_chan demand;
	struct ftp_dest_chan bulk[FTP_PROTO_MAX_STREAMS];	/* the push */
	/* Epochs to the source (journal.c), striped over the streams. */
	struct ftp_dest_chan journal[FTP_PROTO_MAX_STREAMS];
	unsigned int nr_bulk;		/* streams open: 1, or @streams if the
					 * source agreed */
	unsigned int nr_journal;	/* as many, if the source agreed, or 1 */
	struct mutex send_lock;		/* serialises sends on demand.fs
					 * (tx, keeper, complete_work, DONE)
					 * and its release */
	struct task_struct *tx;		/* sends queued PAGE_REQs, referenced */
	struct llist_head tx_queue;	/* fetches to request */
	struct task_struct *keeper;	/* link.c: heartbeats, reconnects */
	wait_queue_head_t keeper_wq;
	unsigned long flags;		/* FTP_DEST_* bits */

	/* Written by PULL before any thread starts, then by the keeper. */
	char source_name[FTPAGE_NAME_MAX];	/* the region we pull */
	struct sockaddr_storage addr;
	int addrlen;
	struct net *net;		/* referenced */
	struct crypto_shash *auth;	/* keyed HMAC, NULL: insecure */
	bool encrypt;			/* FTPAGE_PULL_ENCRYPT */
	unsigned int streams;		/* push streams wanted ("streams") */
	u16 generation;			/* of the current connection */
	u64 session;			/* random, pairs our channels */
	u64 src_committed;		/* journal HELLO_ACK: applied there */
	u64 up_ns;			/* when the channels last came up */
	int final_err;			/* the source said: never resume */
	atomic64_t seq;
	atomic_t connected;		/* receive threads running */
	atomic64_t reconnects;

	struct mutex pending_lock;	/* protects @pending, @broken, every
					 * fetch's err/failed_at/completion */
	struct xarray pending;		/* page index -> struct ftp_fetch */
	bool broken;			/* for good: no new fetches */

	/*
	 * The lease: faults and writes go on only until @lease_until (ns,
	 * ktime_get_boottime_ns()). @fence_work fences when it passes.
	 */
	spinlock_t lease_lock;		/* protects @lease_until, @fenced */
	u64 lease_until;
	bool fenced;
	u32 lease_ms;			/* the source's policy, from LEASE */
	struct delayed_work fence_work;	/* renewals and waits: r->state_wq */
	struct mutex link_lock;		/* PULL against destroy */
	u32 commit_ms;			/* automatic commits, 0: none */
	struct delayed_work commit_work;

	struct work_struct complete_work;
};

/* dest.c */
int ftp_dest_rx_thread(void *arg);
int ftp_dest_tx_thread(void *arg);
bool ftp_dest_break(struct ftp_dest *d, int err);
void ftp_dest_requeue(struct ftp_dest *d);
int ftp_dest_send_demand(struct ftp_dest *d, unsigned int type,
			 const void *payload, u32 len);

/* link.c */
void ftp_dest_link_lost(struct ftp_dest *d, const char *what, int err);
void ftp_dest_lease_renew(struct ftp_dest *d, const struct ftp_msg_lease *m);
void ftp_dest_done_acked(struct ftp_dest *d);
void ftp_dest_link_init(struct ftp_dest *d);
void ftp_dest_lease_status(struct ftp_dest *d, struct ftpage_status *st);

#endif /* FTP_DEST_H */
