// SPDX-License-Identifier: GPL-2.0
/*
 * The region node: open, mmap, the fault path, pread/pwrite.
 *
 * A page is local exactly when it is in the region's page cache; a folio
 * is only ever inserted there uptodate and with its final content, so a
 * lookup that finds one needs no further checks. Everything here works on
 * order-0 folios.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "ftpage.h"

static struct address_space *ftp_mapping(struct ftp_region *r)
{
	return r->inode->i_mapping;
}

/* A referenced, unlocked folio, or NULL when the page is not local. */
struct folio *ftp_page_lookup(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio = filemap_get_folio(ftp_mapping(r), index);

	/* 6.1 returns NULL on a miss, 6.12 ERR_PTR(-ENOENT). */
	return IS_ERR(folio) ? NULL : folio;
}

bool ftp_page_present(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio = ftp_page_lookup(r, index);

	if (folio)
		folio_put(folio);
	return folio != NULL;
}

struct folio *ftp_page_zero_fill(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio;
	int err;

	folio = folio_alloc(GFP_HIGHUSER | __GFP_ZERO, 0);
	if (!folio)
		return ERR_PTR(-ENOMEM);
	folio_mark_uptodate(folio);
	/* Inserts the folio locked; -EEXIST when another thread won. */
	err = filemap_add_folio(ftp_mapping(r), folio, index, GFP_KERNEL);
	if (err) {
		folio_put(folio);
		return ERR_PTR(err);
	}
	atomic64_inc(&r->stats.zero_fills);
	return folio;
}

/* Is a missing page at @index a zero page we may create locally? */
static bool ftp_page_is_zero(struct ftp_region *r, pgoff_t index)
{
	return r->role == FTPAGE_ROLE_SOURCE || ftp_dest_page_known(r, index);
}

static bool ftp_page_is_zero_or_present(struct ftp_region *r, pgoff_t index)
{
	return ftp_page_is_zero(r, index) || ftp_page_present(r, index);
}

/*
 * A referenced and locked folio for @index, creating it when it is known
 * to be zero. Errors: -ENODEV after destroy, -ENODATA for a page that
 * must be fetched from the source first.
 */
static struct folio *ftp_page_get_locked(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio;

	for (;;) {
		if (ftp_region_gone(r))
			return ERR_PTR(-ENODEV);
		folio = __filemap_get_folio(ftp_mapping(r), index, FGP_LOCK, 0);
		if (!IS_ERR_OR_NULL(folio))
			break;
		if (!ftp_page_is_zero(r, index))
			return ERR_PTR(-ENODATA);
		folio = ftp_page_zero_fill(r, index);
		if (!IS_ERR(folio))
			break;
		if (PTR_ERR(folio) != -EEXIST)
			return folio;
	}
	/* Destroy truncates after DEAD: a folio added since must not be used. */
	if (ftp_region_gone(r)) {
		folio_unlock(folio);
		folio_put(folio);
		return ERR_PTR(-ENODEV);
	}
	return folio;
}

/*
 * Fetch @index from the source and wait for it, where no mmap lock is
 * held (read/write): 0 when the page may be looked up again.
 */
static int ftp_page_fetch_sync(struct ftp_region *r, pgoff_t index)
{
	struct ftp_fetch *f = ftp_dest_fetch_start(r, index);
	int err;

	if (IS_ERR_OR_NULL(f))
		return PTR_ERR_OR_ZERO(f);
	err = ftp_dest_fetch_wait(r, f, true);
	ftp_fetch_put(f);
	return err;
}

/* ftp_page_get_locked(), fetching a missing page first. */
static struct folio *ftp_page_get_locked_sync(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio;
	int err;

	for (;;) {
		folio = ftp_page_get_locked(r, index);
		if (!IS_ERR(folio) || PTR_ERR(folio) != -ENODATA)
			return folio;
		err = ftp_page_fetch_sync(r, index);
		if (err)
			return ERR_PTR(err);
	}
}

/*
 * Overwrite page @index of a source region (applying a journal epoch);
 * with @src NULL only make sure the page exists.
 */
int ftp_page_store(struct ftp_region *r, pgoff_t index, const void *src)
{
	struct folio *folio = ftp_page_get_locked(r, index);
	void *dst;

	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (src) {
		dst = kmap_local_folio(folio, 0);
		memcpy(dst, src, PAGE_SIZE);
		kunmap_local(dst);
		folio_mark_dirty(folio);
	}
	folio_unlock(folio);
	folio_put(folio);
	return 0;
}

static vm_fault_t ftp_errno_to_vm_fault(struct ftp_region *r, int err)
{
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	atomic64_inc(&r->stats.errors);
	if (err == -ENODEV)
		ftp_region_fail(r, ftp_region_state(r) == FTPAGE_STATE_ABANDONED ?
				   FTPAGE_FERR_ABANDONED : FTPAGE_FERR_DEAD);
	else if (err != -EINTR)
		pr_warn_ratelimited("region %s: fault failed (%d), SIGBUS to pid %d\n",
				    r->name, err, task_pid_nr(current));
	return VM_FAULT_SIGBUS;
}

/*
 * May this fault sleep without its lock? If so, the lock is dropped and
 * the file pinned in *@file: the caller sleeps, fput()s and returns
 * VM_FAULT_RETRY.
 */
static bool ftp_fault_unlock(struct vm_fault *vmf, struct file **file)
{
	if (!fault_flag_allow_retry_first(vmf->flags))
		return false;
	*file = get_file(vmf->vma->vm_file);
	release_fault_lock(vmf);
	return true;
}

/*
 * The page at vmf->pgoff must come from the source. Returns 0 when it
 * arrived while we kept the fault lock (look it up again), or what the
 * fault handler returns.
 */
static vm_fault_t ftp_fault_remote(struct ftp_region *r, struct vm_fault *vmf)
{
	struct ftp_fetch *f;
	struct file *file;
	int err;

	f = ftp_dest_fetch_start(r, vmf->pgoff);
	if (!f)
		return 0;
	if (IS_ERR(f))
		return ftp_errno_to_vm_fault(r, PTR_ERR(f));

	/* KVM's first try: let it run something else while the page flies. */
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) {
		ftp_fetch_put(f);
		return VM_FAULT_RETRY;
	}
	/* Never sleep on the network holding mmap_lock when we may drop it. */
	if (ftp_fault_unlock(vmf, &file)) {
		ftp_dest_fetch_wait(r, f, vmf->flags & FAULT_FLAG_INTERRUPTIBLE);
		ftp_fetch_put(f);
		fput(file);
		return VM_FAULT_RETRY;
	}
	err = ftp_dest_fetch_wait(r, f, false);
	ftp_fetch_put(f);
	/* A reply can race with the deadline: trust what arrived. */
	if (err && err != -EINTR && ftp_page_is_zero_or_present(r, vmf->pgoff))
		err = 0;
	return err ? ftp_errno_to_vm_fault(r, err) : 0;
}

/* A fenced destination: wait for the lease to be renewed. */
static vm_fault_t ftp_fault_fenced(struct ftp_region *r, struct vm_fault *vmf)
{
	struct file *file;
	int err;

	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	if (ftp_fault_unlock(vmf, &file)) {
		ftp_dest_lease_wait(r, vmf->flags & FAULT_FLAG_INTERRUPTIBLE);
		fput(file);
		return VM_FAULT_RETRY;
	}
	err = ftp_dest_lease_wait(r, false);
	return err ? ftp_errno_to_vm_fault(r, err) : 0;
}

static vm_fault_t ftp_vm_fault(struct vm_fault *vmf)
{
	struct ftp_region *r = vmf->vma->vm_file->private_data;
	struct folio *folio;
	vm_fault_t ret;

	atomic64_inc(&r->stats.faults);
	if (vmf->pgoff >= r->nr_pages)
		return VM_FAULT_SIGBUS;
	for (;;) {
		if (!ftp_dest_lease_ok(r)) {
			ret = ftp_fault_fenced(r, vmf);
			if (ret)
				return ret;
			continue;
		}
		folio = ftp_page_get_locked(r, vmf->pgoff);
		if (IS_ERR(folio)) {
			if (PTR_ERR(folio) != -ENODATA)
				return ftp_errno_to_vm_fault(r, PTR_ERR(folio));
			ret = ftp_fault_remote(r, vmf);
			if (ret)
				return ret;
			continue;
		}
		/*
		 * Checked again under the folio lock, which we hold until the
		 * PTE is in: a fence that starts later zaps it.
		 */
		if (ftp_dest_lease_ok(r))
			break;
		folio_unlock(folio);
		folio_put(folio);
	}
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

/* 0 when @r may be written now, else why not (counted). */
static int ftp_region_may_write(struct ftp_region *r)
{
	enum ftpage_state state = ftp_region_state(r);

	switch (state) {
	case FTPAGE_STATE_LOCAL:
	case FTPAGE_STATE_ROLLED_BACK:
		return 0;
	case FTPAGE_STATE_PULLING:
	case FTPAGE_STATE_COMPLETE:
	case FTPAGE_STATE_BROKEN:
	case FTPAGE_STATE_DONE:
		if (r->role == FTPAGE_ROLE_DEST)
			return 0;
		if (state == FTPAGE_STATE_DONE)
			return -ENODEV;
		fallthrough;
	case FTPAGE_STATE_FROZEN:
		atomic64_inc(&r->stats.refused_writes);
		ftp_region_fail(r, FTPAGE_FERR_FROZEN);
		pr_warn_ratelimited("region %s: write to frozen region refused (pid %d)\n",
				    r->name, task_pid_nr(current));
		return -EPERM;
	default:
		return -ENODEV;
	}
}

/*
 * @folio (locked) of @r is about to be written: log it for the journal,
 * copying it first where a sealed epoch still needs its old content.
 * Caller holds ftp_journal_write_begin().
 */
static int ftp_page_will_write(struct ftp_region *r, struct folio *folio)
{
	int err = ftp_region_may_write(r);

	if (!err)
		err = ftp_journal_page_written(r, folio, folio->index);
	if (!err)
		folio_mark_dirty(folio);
	return err;
}

/*
 * Every first write to a mapped page comes here (the region has no
 * writeback, so the PTE starts write-protected): refuse it on a frozen
 * source, mark the folio dirty otherwise.
 */
static vm_fault_t ftp_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct ftp_region *r = vmf->vma->vm_file->private_data;
	struct folio *folio = page_folio(vmf->page);
	vm_fault_t ret = VM_FAULT_LOCKED;
	int err;

	/*
	 * A seal that starts after we leave still write-protects this page,
	 * under its folio lock, so after the PTE we are about to make
	 * writable.
	 */
	ftp_journal_write_begin(r);
	folio_lock(folio);
	if (folio->mapping != ftp_mapping(r)) {
		folio_unlock(folio);
		ret = VM_FAULT_NOPAGE;		/* truncated: fault again */
		goto out;
	}
	/*
	 * Checked under the folio lock, which we hold until the PTE is
	 * writable: a fence that starts later zaps it. Fenced now: zap this
	 * PTE and fault again, so that ->fault waits, without the fault lock.
	 */
	if (!ftp_dest_lease_ok(r)) {
		unmap_mapping_pages(ftp_mapping(r), folio->index, 1, false);
		folio_unlock(folio);
		ret = VM_FAULT_NOPAGE;
		goto out;
	}
	err = ftp_page_will_write(r, folio);
	if (err) {
		folio_unlock(folio);
		ret = err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
		goto out;
	}
	atomic64_inc(&r->stats.write_faults);
out:
	ftp_journal_write_end(r);
	return ret;
}

static const struct vm_operations_struct ftp_vm_ops = {
	.fault = ftp_vm_fault,
	.page_mkwrite = ftp_vm_page_mkwrite,
};

const struct address_space_operations ftp_aops = {
	.dirty_folio = noop_dirty_folio,
	.migrate_folio = filemap_migrate_folio,
};

static int ftp_region_open(struct inode *inode, struct file *file)
{
	struct ftp_region *r = ftp_region_get_by_minor(iminor(inode));

	if (!r)
		return -ENXIO;
	file->private_data = r;
	/* Every open shares the region's page cache (as DRM does). */
	file->f_mapping = ftp_mapping(r);
	/* fstat() on the node (a devtmpfs inode) reports the region's size. */
	inode_lock(inode);
	i_size_write(inode, r->size);
	inode_unlock(inode);
	atomic_inc(&r->openers);
	return 0;
}

static int ftp_region_release(struct inode *inode, struct file *file)
{
	struct ftp_region *r = file->private_data;

	atomic_dec(&r->openers);
	ftp_region_put(r);
	return 0;
}

static int ftp_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ftp_region *r = file->private_data;

	/* A private mapping would copy-on-write past ->page_mkwrite. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff >= r->nr_pages ||
	    vma_pages(vma) > r->nr_pages - vma->vm_pgoff)
		return -EINVAL;
	/*
	 * No VM_IO/VM_PFNMAP: KVM must reach us through GUP and ->fault.
	 * VM_DONTDUMP keeps a core dump from faulting in the whole region.
	 */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &ftp_vm_ops;
	return 0;
}

/* EPOLLPRI once the migration ended here (uapi: FTPAGE_IOC_DONE). */
static __poll_t ftp_region_poll(struct file *file, poll_table *wait)
{
	struct ftp_region *r = file->private_data;

	poll_wait(file, &r->state_wq, wait);
	return ftp_region_ended(r) ? EPOLLPRI : 0;
}

static loff_t ftp_region_llseek(struct file *file, loff_t offset, int whence)
{
	struct ftp_region *r = file->private_data;

	return fixed_size_llseek(file, offset, whence, r->size);
}

/* Clamp a transfer at @pos to one page and to the region's end. */
static size_t ftp_chunk(struct ftp_region *r, loff_t pos, size_t count)
{
	size_t offset = offset_in_page(pos);

	return min3(count, (size_t)(PAGE_SIZE - offset), (size_t)(r->size - pos));
}

static ssize_t ftp_region_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct ftp_region *r = iocb->ki_filp->private_data;
	ssize_t done = 0;
	int err = 0;

	while (iov_iter_count(to) && iocb->ki_pos < r->size) {
		loff_t pos = iocb->ki_pos;
		size_t n = ftp_chunk(r, pos, iov_iter_count(to));
		/*
		 * Known before looked up: a received page enters the page
		 * cache before it is marked known, so a known page missing
		 * from the cache after this is really a zero page.
		 */
		bool zero = ftp_page_is_zero(r, pos >> PAGE_SHIFT);
		struct folio *folio;
		size_t copied;

		err = ftp_region_gone(r) ? -EIO : 0;
		if (!err && !ftp_dest_lease_ok(r))
			err = ftp_dest_lease_wait(r, true);
		if (err)
			break;
		smp_rmb();
		folio = ftp_page_lookup(r, pos >> PAGE_SHIFT);
		if (folio) {
			copied = copy_folio_to_iter(folio, offset_in_page(pos), n, to);
			folio_put(folio);
		} else if (zero) {
			/* Zero page: reads as zeroes, allocates nothing. */
			copied = iov_iter_zero(n, to);
		} else {
			err = ftp_page_fetch_sync(r, pos >> PAGE_SHIFT);
			if (err)
				break;
			continue;
		}
		done += copied;
		iocb->ki_pos += copied;
		if (copied < n) {
			err = -EFAULT;
			break;
		}
	}
	return done ? done : err;
}

/* Write one chunk held in @buf; r->lock orders it against freeze. */
static int ftp_region_write_chunk(struct ftp_region *r, loff_t pos,
				  const void *buf, size_t n)
{
	struct folio *folio;
	void *dst;
	int err;

	err = ftp_region_may_write(r);
	if (!err && !ftp_dest_lease_ok(r))
		err = ftp_dest_lease_wait(r, true);
	if (err)
		return err;
	/* A missing destination page comes in before we take r->lock. */
	folio = ftp_page_get_locked_sync(r, pos >> PAGE_SHIFT);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	folio_unlock(folio);

	mutex_lock(&r->lock);
	ftp_journal_write_begin(r);
	folio_lock(folio);
	if (folio->mapping != ftp_mapping(r))
		err = -ENODEV;
	else if (!ftp_dest_lease_ok(r))	/* lapsed while we waited */
		err = -EAGAIN;
	else
		err = ftp_page_will_write(r, folio);
	if (!err) {
		dst = kmap_local_folio(folio, offset_in_page(pos));
		memcpy(dst, buf, n);
		kunmap_local(dst);
	}
	folio_unlock(folio);
	ftp_journal_write_end(r);
	mutex_unlock(&r->lock);
	folio_put(folio);
	return err;
}

static ssize_t ftp_region_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct ftp_region *r = iocb->ki_filp->private_data;
	ssize_t done = 0;
	void *buf;
	int err = 0;

	if (iocb->ki_pos >= r->size)
		return iov_iter_count(from) ? -ENOSPC : 0;
	/*
	 * Copy from the user through a bounce page before taking any lock:
	 * the source buffer may itself be a mapping of this region.
	 */
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	while (iov_iter_count(from) && iocb->ki_pos < r->size) {
		size_t n = ftp_chunk(r, iocb->ki_pos, iov_iter_count(from));

		if (copy_from_iter(buf, n, from) != n) {
			err = -EFAULT;
			break;
		}
		err = ftp_region_write_chunk(r, iocb->ki_pos, buf, n);
		if (err == -EAGAIN)	/* fenced: wait, then try again */
			err = ftp_dest_lease_wait(r, true) ?:
			      ftp_region_write_chunk(r, iocb->ki_pos, buf, n);
		if (err)
			break;
		done += n;
		iocb->ki_pos += n;
	}
	kfree(buf);
	return done ? done : err;
}

const struct file_operations ftp_region_fops = {
	.owner = THIS_MODULE,
	.open = ftp_region_open,
	.release = ftp_region_release,
	.mmap = ftp_region_mmap,
	.llseek = ftp_region_llseek,
	.poll = ftp_region_poll,
	.read_iter = ftp_region_read_iter,
	.write_iter = ftp_region_write_iter,
};
