/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FTP_FTPAGE_H
#define FTP_FTPAGE_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/socket.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/ftpage.h>

#include "compat.h"

/* Module parameters (main.c); validated when set, read-only afterwards. */
extern unsigned int ftp_port;
extern unsigned int ftp_max_regions;
extern unsigned int ftp_debug;
extern unsigned int ftp_fault_timeout_ms;
extern unsigned int ftp_lease_ms;
extern unsigned int ftp_rollback_after_ms;
extern unsigned int ftp_commit_interval_ms;
extern unsigned int ftp_streams;
/* TCP_CA_NAME_MAX; read under kernel_param_lock() (settable at run time) */
#define FTP_CC_NAME_MAX		16
#define FTP_BULK_CC_DEFAULT	"bbr"
extern char ftp_bulk_cc[FTP_CC_NAME_MAX];
extern unsigned int ftp_bulk_gain;	/* read with READ_ONCE() */
/* RFC 4594's low-latency data class, AF21 */
#define FTP_DEMAND_DSCP_DEFAULT	18
extern unsigned int ftp_demand_dscp;	/* read with READ_ONCE() */

/* The source waits this much longer than the lease before rolling back. */
#define FTP_LEASE_MARGIN_MS	1000

#define ftp_dbg(level, fmt, ...)					\
	do {								\
		if (unlikely(READ_ONCE(ftp_debug) >= (level)))		\
			pr_info(fmt, ##__VA_ARGS__);			\
	} while (0)

/* Minor 0 is the control node; regions use 1..ftp_max_regions. */
#define FTP_CTL_MINOR		0

#define FTP_HIST_BUCKETS	320

struct ftp_hist {
	atomic64_t bucket[FTP_HIST_BUCKETS];
	atomic64_t count;
	atomic64_t max;
};

struct ftp_region_stats {
	atomic64_t faults;
	atomic64_t write_faults;
	atomic64_t zero_fills;
	atomic64_t refused_writes;
	atomic64_t demand_faults;
	atomic64_t pages_fetched;
	atomic64_t pages_pushed;
	atomic64_t pages_served;
	atomic64_t zero_pages;
	atomic64_t errors;
	struct ftp_hist fault_lat;
};

struct ftp_source;
struct ftp_dest;
struct ftp_journal;
struct ftp_sock;

struct ftp_region {
	struct kref ref;		/* registry holds one, every open file one */
	struct list_head node;		/* protected by ftp_regions_lock */
	int minor;			/* stable for the region's life */
	char name[FTPAGE_NAME_MAX];
	u64 size;
	pgoff_t nr_pages;
	enum ftpage_role role;

	/*
	 * Page store: the pseudo-fs inode's page cache. Every open of the
	 * region uses this mapping as f_mapping, so all mappers share pages
	 * and rmap/mkclean/unmap_mapping_range see every mapping.
	 */
	struct inode *inode;

	struct mutex lock;		/* serialises state transitions */
	enum ftpage_state state;	/* written under @lock (release), read
					 * locklessly (acquire) */
	wait_queue_head_t state_wq;	/* woken on every state change */
	atomic_t openers;

	/* Set once under @lock (SERVE / PULL), freed with the region. */
	struct ftp_source *src;
	struct ftp_dest *dst;

	/*
	 * Destination only: bit set when the page's content is known, i.e.
	 * it is in the page cache or the source said it is zero. A known
	 * page missing from the cache is a zero page. @known_count counts
	 * set bits; it reaching nr_pages means complete.
	 */
	unsigned long *known;
	atomic64_t known_count;

	u32 last_error;			/* enum ftpage_fault_error */
	bool insecure;			/* served / pulled without auth */

	/* The pre-shared key (SET_KEY), under @lock; wiped on destroy. */
	u8 *key;
	u32 key_len;
	/* Source: the only destination SERVE accepts (ALLOW_PEER), under
	 * @lock; family 0: any.
	 */
	struct sockaddr_storage allow;
	struct ftp_region_stats stats;

	/* Destination: epochs to commit back (journal.c). */
	struct ftp_journal *jr;

	/*
	 * Source: the last epoch applied (0: the frozen image) and its state
	 * blob, under @lock; the epoch being staged and its bytes.
	 */
	u64 committed_epoch;
	void *committed_state;
	u64 committed_state_len;
	u64 staging_epoch;
	atomic64_t staged_bytes;
};

/* main.c */
struct inode *ftp_alloc_inode(void);
extern struct class ftp_class;
extern dev_t ftp_devt;

/* region.c */
void ftp_region_destroy_all(void);
int ftp_region_create(const char *name, u64 size, enum ftpage_role role);
int ftp_region_destroy(const char *name);
struct ftp_region *ftp_region_find(const char *name);
struct ftp_region *ftp_region_get_by_minor(int minor);
void ftp_region_put(struct ftp_region *r);
int ftp_region_freeze(struct ftp_region *r);
int ftp_region_rollback(struct ftp_region *r);
int ftp_region_set_state(struct ftp_region *r, enum ftpage_state to);
int ftp_region_move(struct ftp_region *r, enum ftpage_state to);
void ftp_region_status(struct ftp_region *r, struct ftpage_status *st);
void ftp_region_fail(struct ftp_region *r, enum ftpage_fault_error why);
bool ftp_region_ended(struct ftp_region *r);

/*
 * Pairs with the release in ftp_region_set_state(): what was set up
 * before a state was entered is visible to whoever sees the state.
 */
static inline enum ftpage_state ftp_region_state(const struct ftp_region *r)
{
	return smp_load_acquire(&r->state);
}

static inline bool ftp_region_is_dead(const struct ftp_region *r)
{
	return ftp_region_state(r) == FTPAGE_STATE_DEAD;
}

/*
 * Are the region's pages gone for its users: destroyed, a destination
 * abandoned to a rollback, or a source whose migration is done?
 */
static inline bool ftp_region_gone(const struct ftp_region *r)
{
	enum ftpage_state state = ftp_region_state(r);

	return state == FTPAGE_STATE_DEAD || state == FTPAGE_STATE_ABANDONED ||
	       (state == FTPAGE_STATE_DONE && r->role == FTPAGE_ROLE_SOURCE);
}

/* fault.c */
extern const struct file_operations ftp_region_fops;
extern const struct address_space_operations ftp_aops;
struct folio *ftp_page_lookup(struct ftp_region *r, pgoff_t index);
bool ftp_page_present(struct ftp_region *r, pgoff_t index);
struct folio *ftp_page_zero_fill(struct ftp_region *r, pgoff_t index);
int ftp_page_store(struct ftp_region *r, pgoff_t index, const void *src);

/* stats.c */
void ftp_hist_add(struct ftp_hist *h, u64 ns);
u64 ftp_hist_quantile(struct ftp_hist *h, unsigned int permille);
const char *ftp_state_name(enum ftpage_state state);
extern const struct attribute_group *ftp_region_groups[];

/* source.c: serving a region to one destination */
int ftp_source_serve(struct ftp_region *r, const struct sockaddr_storage *addr,
		     int addrlen, u32 flags);
void ftp_source_stop(struct ftp_region *r);
void ftp_source_detach(struct ftp_region *r);
long ftp_source_expire(struct ftp_region *r);
void ftp_source_free(struct ftp_region *r);
void ftp_source_status(struct ftp_region *r, struct ftpage_status *st);

/* dest.c: pulling a region from a source */
int ftp_dest_init(struct ftp_region *r);
void ftp_dest_uninit(struct ftp_region *r);
int ftp_dest_pull(struct ftp_region *r, const char *source_name,
		  const struct sockaddr_storage *addr, int addrlen, u32 flags);
void ftp_dest_stop(struct ftp_region *r);
void ftp_dest_status(struct ftp_region *r, struct ftpage_status *st);
struct ftp_fetch *ftp_dest_fetch_start(struct ftp_region *r, pgoff_t index);
int ftp_dest_fetch_wait(struct ftp_region *r, struct ftp_fetch *f,
			bool interruptible);
void ftp_fetch_put(struct ftp_fetch *f);
int ftp_dest_done(struct ftp_region *r);
bool ftp_dest_lease_ok(struct ftp_region *r);
int ftp_dest_lease_wait(struct ftp_region *r, bool interruptible);

static inline bool ftp_dest_page_known(struct ftp_region *r, pgoff_t index)
{
	return r->known && test_bit(index, r->known);
}

/* journal.c: epochs committed from the destination to the source */
int ftp_journal_init(struct ftp_region *r);
void ftp_journal_uninit(struct ftp_region *r);
int ftp_journal_start(struct ftp_region *r, struct ftp_sock **fs,
		      unsigned int nr, u64 committed);
void ftp_journal_pause(struct ftp_region *r);
void ftp_journal_break(struct ftp_region *r);
void ftp_journal_stop(struct ftp_region *r);
void ftp_journal_write_begin(struct ftp_region *r);
void ftp_journal_write_end(struct ftp_region *r);
int ftp_journal_page_written(struct ftp_region *r, struct folio *folio,
			     pgoff_t index);
int ftp_journal_commit(struct ftp_region *r, u64 ustate, u64 state_len,
		       u32 flags, u64 *epoch, u64 *pages);
int ftp_journal_ack(struct ftp_region *r, u64 epoch);
void ftp_journal_status(struct ftp_region *r, struct ftpage_status *st);

/* stage.c: a source staging and applying those epochs */
struct ftp_stage;
struct ftp_stage *ftp_stage_new(struct ftp_region *r);
void ftp_stage_free(struct ftp_stage *s);
int ftp_stage_serve(struct ftp_stage *s, struct ftp_sock *fs, u16 gen,
		    unsigned int stream);

/* ctl.c */
extern const struct file_operations ftp_ctl_fops;

#endif /* FTP_FTPAGE_H */
