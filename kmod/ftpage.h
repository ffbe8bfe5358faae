/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FTP_FTPAGE_H
#define FTP_FTPAGE_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/types.h>
#include <linux/ftpage.h>

#include "compat.h"

/* Module parameters (main.c); validated when set, read-only afterwards. */
extern unsigned int ftp_port;
extern unsigned int ftp_max_regions;
extern unsigned int ftp_debug;
extern unsigned int ftp_fault_timeout_ms;

#define ftp_dbg(level, fmt, ...)					\
	do {								\
		if (unlikely(READ_ONCE(ftp_debug) >= (level)))		\
			pr_info(fmt, ##__VA_ARGS__);			\
	} while (0)

/* Minor 0 is the control node; regions use 1..ftp_max_regions. */
#define FTP_CTL_MINOR		0

struct ftp_region_stats {
	atomic64_t faults;
	atomic64_t write_faults;
	atomic64_t zero_fills;
	atomic64_t refused_writes;
	atomic64_t errors;
};

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
	enum ftpage_state state;	/* written under @lock, read locklessly */
	atomic_t openers;

	struct ftp_region_stats stats;
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
int ftp_region_set_state(struct ftp_region *r, enum ftpage_state to);
void ftp_region_status(struct ftp_region *r, struct ftpage_status *st);

static inline enum ftpage_state ftp_region_state(const struct ftp_region *r)
{
	return READ_ONCE(r->state);
}

/* fault.c */
extern const struct file_operations ftp_region_fops;
extern const struct address_space_operations ftp_aops;

/* ctl.c */
extern const struct file_operations ftp_ctl_fops;

#endif /* FTP_FTPAGE_H */
