// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: the registry, their life cycle and their state machine.
 *
 * A region is reachable through the registry (by name, under
 * ftp_regions_lock) and through its device node (by minor, through the
 * same lock). The registry owns one reference; each open file owns one.
 * Destroying a region takes it out of the registry, marks it DEAD (faults
 * then fail), zaps every mapping and drops the registry's reference; the
 * memory goes with the last open file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "ftpage.h"
#include "auth.h"

static DEFINE_MUTEX(ftp_regions_lock);
static LIST_HEAD(ftp_regions);		/* protected by ftp_regions_lock */
static DEFINE_IDR(ftp_minors);		/* protected by ftp_regions_lock */

/* Legal moves of the region state machine: ftp_state_moves[from] & BIT(to). */
static const u32 ftp_state_moves[] = {
	/* source */
	[FTPAGE_STATE_LOCAL]	= BIT(FTPAGE_STATE_FROZEN) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_FROZEN]	= BIT(FTPAGE_STATE_COMPLETE) | BIT(FTPAGE_STATE_ROLLED_BACK) |
				  BIT(FTPAGE_STATE_DONE) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_ROLLED_BACK] = BIT(FTPAGE_STATE_DEAD),
	/* destination */
	[FTPAGE_STATE_EMPTY]	= BIT(FTPAGE_STATE_PULLING) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_PULLING]	= BIT(FTPAGE_STATE_COMPLETE) | BIT(FTPAGE_STATE_BROKEN) |
				  BIT(FTPAGE_STATE_ABANDONED) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_BROKEN]	= BIT(FTPAGE_STATE_PULLING) | BIT(FTPAGE_STATE_COMPLETE) |
				  BIT(FTPAGE_STATE_ABANDONED) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_ABANDONED] = BIT(FTPAGE_STATE_DEAD),
	/* both (a source rolls back from here) */
	[FTPAGE_STATE_COMPLETE]	= BIT(FTPAGE_STATE_ROLLED_BACK) | BIT(FTPAGE_STATE_DONE) |
				  BIT(FTPAGE_STATE_ABANDONED) | BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_DONE]	= BIT(FTPAGE_STATE_DEAD),
	[FTPAGE_STATE_DEAD]	= 0,
};

/*
 * The one place a region changes state. Returns -EALREADY when already
 * there, -EINVAL for a move the state machine does not allow.
 */
int ftp_region_set_state(struct ftp_region *r, enum ftpage_state to)
{
	enum ftpage_state from = r->state;

	lockdep_assert_held(&r->lock);
	if (from == to)
		return -EALREADY;
	if (WARN_ON_ONCE(from >= ARRAY_SIZE(ftp_state_moves)) ||
	    !(ftp_state_moves[from] & BIT(to)))
		return -EINVAL;
	smp_store_release(&r->state, to);
	wake_up_all(&r->state_wq);
	ftp_dbg(1, "region %s: %s -> %s\n", r->name, ftp_state_name(from),
		ftp_state_name(to));
	return 0;
}

/* ftp_region_set_state() for callers that do not hold r->lock. */
int ftp_region_move(struct ftp_region *r, enum ftpage_state to)
{
	int ret;

	mutex_lock(&r->lock);
	ret = ftp_region_set_state(r, to);
	mutex_unlock(&r->lock);
	return ret;
}

/* Has the migration ended on this side (poll() reports EPOLLPRI)? */
bool ftp_region_ended(struct ftp_region *r)
{
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_ROLLED_BACK:
	case FTPAGE_STATE_ABANDONED:
	case FTPAGE_STATE_DONE:
	case FTPAGE_STATE_DEAD:
		return true;
	default:
		return false;
	}
}

/* Remember why the last fault failed, for status. */
void ftp_region_fail(struct ftp_region *r, enum ftpage_fault_error why)
{
	WRITE_ONCE(r->last_error, why);
}

static bool ftp_name_valid(const char *name)
{
	size_t i, len = strnlen(name, FTPAGE_NAME_MAX);

	if (len == 0 || len >= FTPAGE_NAME_MAX || name[0] == '.' ||
	    !strcmp(name, "control"))
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return false;
	}
	return true;
}

static struct ftp_region *ftp_region_lookup(const char *name)
{
	struct ftp_region *r;

	lockdep_assert_held(&ftp_regions_lock);
	list_for_each_entry(r, &ftp_regions, node)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

static void ftp_region_free(struct kref *ref)
{
	struct ftp_region *r = container_of(ref, struct ftp_region, ref);

	ftp_dbg(1, "region %s: freed\n", r->name);
	ftp_source_free(r);
	ftp_dest_uninit(r);
	ftp_region_clear_key(r);
	kvfree(r->committed_state);
	iput(r->inode);		/* truncates the page cache */
	kfree(r);
}

void ftp_region_put(struct ftp_region *r)
{
	kref_put(&r->ref, ftp_region_free);
}

static struct ftp_region *ftp_region_alloc(const char *name, u64 size,
					   enum ftpage_role role)
{
	struct ftp_region *r;
	struct inode *inode;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);

	inode = ftp_alloc_inode();
	if (IS_ERR(inode)) {
		kfree(r);
		return ERR_CAST(inode);
	}
	inode->i_mapping->a_ops = &ftp_aops;
	inode->i_private = r;
	/* A region page may be the only copy: reclaim must never drop it. */
	mapping_set_unevictable(inode->i_mapping);
	i_size_write(inode, size);

	kref_init(&r->ref);
	INIT_LIST_HEAD(&r->node);
	strscpy(r->name, name, sizeof(r->name));
	r->size = size;
	r->nr_pages = size >> PAGE_SHIFT;
	r->role = role;
	r->inode = inode;
	mutex_init(&r->lock);
	init_waitqueue_head(&r->state_wq);
	r->state = role == FTPAGE_ROLE_SOURCE ? FTPAGE_STATE_LOCAL :
						FTPAGE_STATE_EMPTY;
	if (role == FTPAGE_ROLE_DEST) {
		int ret = ftp_dest_init(r);

		if (ret) {
			ftp_region_put(r);
			return ERR_PTR(ret);
		}
	}
	return r;
}

int ftp_region_create(const char *name, u64 size, enum ftpage_role role)
{
	struct ftp_region *r;
	struct device *dev;
	int ret, minor;

	if (!ftp_name_valid(name))
		return -EINVAL;
	if (!size || size % FTPAGE_PAGE_SIZE || size % PAGE_SIZE ||
	    size > FTPAGE_SIZE_MAX)
		return -EINVAL;
	if (role != FTPAGE_ROLE_SOURCE && role != FTPAGE_ROLE_DEST)
		return -EINVAL;

	r = ftp_region_alloc(name, size, role);
	if (IS_ERR(r))
		return PTR_ERR(r);

	mutex_lock(&ftp_regions_lock);
	if (ftp_region_lookup(name)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	minor = idr_alloc(&ftp_minors, r, 1, ftp_max_regions + 1, GFP_KERNEL);
	if (minor < 0) {
		ret = minor;
		if (ret == -ENOSPC)
			pr_warn_ratelimited("region %s refused: max_regions (%u) reached\n",
					    name, ftp_max_regions);
		goto err_unlock;
	}
	r->minor = minor;

	/*
	 * Node creation and removal happen under ftp_regions_lock, so a
	 * minor freed by a destroy cannot be reused before its old node is
	 * gone. '!' becomes '/' in the devtmpfs name: /dev/ftpage/<name>.
	 */
	dev = device_create_with_groups(&ftp_class, NULL, ftp_devt + minor, r,
					ftp_region_groups, "ftpage!%s", name);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		pr_err("region %s: cannot create device node: %d\n", name, ret);
		goto err_remove_minor;
	}
	list_add_tail(&r->node, &ftp_regions);
	mutex_unlock(&ftp_regions_lock);

	ftp_dbg(1, "region %s: created, %llu bytes, role %u, minor %d\n",
		name, size, role, minor);
	return 0;

err_remove_minor:
	idr_remove(&ftp_minors, minor);
err_unlock:
	mutex_unlock(&ftp_regions_lock);
	ftp_region_put(r);
	return ret;
}

static void ftp_region_unlink(struct ftp_region *r)
{
	lockdep_assert_held(&ftp_regions_lock);
	list_del_init(&r->node);
	device_destroy(&ftp_class, ftp_devt + r->minor);
	idr_remove(&ftp_minors, r->minor);
}

/* Second half of destroy, once the region is unreachable by name. */
static void ftp_region_kill(struct ftp_region *r)
{
	ftp_region_move(r, FTPAGE_STATE_DEAD);
	/* Faults fail from here on; stop the network before the pages go. */
	ftp_source_stop(r);
	ftp_dest_stop(r);
	ftp_region_clear_key(r);

	/* Mappers that touch the region from now on get SIGBUS. */
	unmap_mapping_range(r->inode->i_mapping, 0, 0, 1);
	truncate_inode_pages(r->inode->i_mapping, 0);
	ftp_dbg(1, "region %s: destroyed, %d opener(s) left\n", r->name,
		atomic_read(&r->openers));
	ftp_region_put(r);
}

int ftp_region_destroy(const char *name)
{
	struct ftp_region *r;

	mutex_lock(&ftp_regions_lock);
	r = ftp_region_lookup(name);
	if (r)
		ftp_region_unlink(r);
	mutex_unlock(&ftp_regions_lock);
	if (!r)
		return -ENOENT;
	ftp_region_kill(r);
	return 0;
}

/* Returns a referenced region or NULL. */
struct ftp_region *ftp_region_find(const char *name)
{
	struct ftp_region *r;

	mutex_lock(&ftp_regions_lock);
	r = ftp_region_lookup(name);
	if (r)
		kref_get(&r->ref);
	mutex_unlock(&ftp_regions_lock);
	return r;
}

struct ftp_region *ftp_region_get_by_minor(int minor)
{
	struct ftp_region *r;

	mutex_lock(&ftp_regions_lock);
	r = idr_find(&ftp_minors, minor);
	if (r)
		kref_get(&r->ref);
	mutex_unlock(&ftp_regions_lock);
	return r;
}

int ftp_region_freeze(struct ftp_region *r)
{
	int ret;

	if (r->role != FTPAGE_ROLE_SOURCE)
		return -EINVAL;
	mutex_lock(&r->lock);
	ret = ftp_region_set_state(r, FTPAGE_STATE_FROZEN);
	mutex_unlock(&r->lock);
	if (ret)
		return ret;
	/*
	 * Writers that already hold a writable PTE (or a KVM NPT entry,
	 * through the MMU notifier) lose it here and come back through
	 * ->page_mkwrite, which refuses them. When this returns, the
	 * content is final.
	 */
	unmap_mapping_range(r->inode->i_mapping, 0, 0, 1);
	ftp_dbg(1, "region %s: frozen\n", r->name);
	return 0;
}

/*
 * Roll a source back to its last committed epoch: the region already holds
 * exactly that (epochs are applied whole, under r->lock), so this ends the
 * migration (connections close, a partial epoch is dropped; a destination
 * that comes back is told it is abandoned) and makes the region writable
 * again. By hand (ROLLBACK) or when the destination is lost (source.c).
 */
int ftp_region_rollback(struct ftp_region *r)
{
	long left;
	int ret;

	if (r->role != FTPAGE_ROLE_SOURCE)
		return -EINVAL;
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_FROZEN:
	case FTPAGE_STATE_COMPLETE:
		break;
	case FTPAGE_STATE_ROLLED_BACK:
		return -EALREADY;
	default:
		return -EINVAL;
	}
	/*
	 * No VM may run on both sides: grant no more leases, and wait until
	 * the last one granted has run out at the destination (it counts
	 * from before we saw its heartbeat, so this is enough).
	 */
	left = ftp_source_expire(r);
	if (left) {
		pr_info("region %s: rolling back once the destination's lease ran out (%u ms)\n",
			r->name, jiffies_to_msecs(left));
		while (left && !fatal_signal_pending(current))
			left = schedule_timeout_killable(left);
		if (left)
			return -EINTR;
	}
	/* Settle first (a partial epoch dropped), then say so (poll). */
	ftp_source_detach(r);
	ret = ftp_region_move(r, FTPAGE_STATE_ROLLED_BACK);
	if (ret)
		return ret;
	pr_info("region %s: rolled back to epoch %llu, writable again\n",
		r->name, READ_ONCE(r->committed_epoch));
	return 0;
}

void ftp_region_status(struct ftp_region *r, struct ftpage_status *st)
{
	st->role = r->role;
	st->state = ftp_region_state(r);
	st->openers = atomic_read(&r->openers);
	st->size = r->size;
	st->pages_total = r->nr_pages;
	st->pages_present = READ_ONCE(r->inode->i_mapping->nrpages);
	st->faults = atomic64_read(&r->stats.faults);
	st->write_faults = atomic64_read(&r->stats.write_faults);
	st->zero_fills = atomic64_read(&r->stats.zero_fills);
	st->refused_writes = atomic64_read(&r->stats.refused_writes);
	st->errors = atomic64_read(&r->stats.errors);
	st->demand_faults = atomic64_read(&r->stats.demand_faults);
	st->pages_fetched = atomic64_read(&r->stats.pages_fetched);
	st->pages_pushed = atomic64_read(&r->stats.pages_pushed);
	st->pages_served = atomic64_read(&r->stats.pages_served);
	st->zero_pages = atomic64_read(&r->stats.zero_pages);
	st->fault_lat_p50_ns = ftp_hist_quantile(&r->stats.fault_lat, 500);
	st->fault_lat_p99_ns = ftp_hist_quantile(&r->stats.fault_lat, 990);
	st->fault_lat_max_ns = atomic64_read(&r->stats.fault_lat.max);
	st->last_error = READ_ONCE(r->last_error);
	if (READ_ONCE(r->insecure))
		st->status_flags |= FTPAGE_STATUS_INSECURE;
	if (r->dst) {
		ftp_dest_status(r, st);
		ftp_journal_status(r, st);
	} else {
		ftp_source_status(r, st);
		st->epoch = READ_ONCE(r->staging_epoch);
		st->committed_epoch = READ_ONCE(r->committed_epoch);
		st->journal_bytes = atomic64_read(&r->staged_bytes);
	}
}

/* Module unload: no file is open (they pin the module), destroy the rest. */
void ftp_region_destroy_all(void)
{
	struct ftp_region *r;

	for (;;) {
		mutex_lock(&ftp_regions_lock);
		r = list_first_entry_or_null(&ftp_regions, struct ftp_region,
					     node);
		if (r)
			ftp_region_unlink(r);
		mutex_unlock(&ftp_regions_lock);
		if (!r)
			break;
		WARN_ON_ONCE(kref_read(&r->ref) != 1);
		ftp_region_kill(r);
	}
	idr_destroy(&ftp_minors);
}
