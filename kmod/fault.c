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

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "ftpage.h"

static struct address_space *ftp_mapping(struct ftp_region *r)
{
	return r->inode->i_mapping;
}

/* A referenced, unlocked folio, or NULL when the page is not local. */
static struct folio *ftp_page_lookup(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio = filemap_get_folio(ftp_mapping(r), index);

	/* 6.1 returns NULL on a miss, 6.12 ERR_PTR(-ENOENT). */
	return IS_ERR(folio) ? NULL : folio;
}

static struct folio *ftp_page_zero_fill(struct ftp_region *r, pgoff_t index)
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

/*
 * A referenced and locked folio for @index, creating it when the region
 * is the origin of its memory. Errors: -ENODEV after destroy, -ENODATA
 * for a missing page of a region that has no source attached.
 */
static struct folio *ftp_page_get_locked(struct ftp_region *r, pgoff_t index)
{
	struct folio *folio;

	for (;;) {
		if (ftp_region_state(r) == FTPAGE_STATE_DEAD)
			return ERR_PTR(-ENODEV);
		folio = __filemap_get_folio(ftp_mapping(r), index, FGP_LOCK, 0);
		if (!IS_ERR_OR_NULL(folio))
			return folio;
		if (r->role != FTPAGE_ROLE_SOURCE)
			return ERR_PTR(-ENODATA);
		folio = ftp_page_zero_fill(r, index);
		if (!IS_ERR(folio) || PTR_ERR(folio) != -EEXIST)
			return folio;
	}
}

static vm_fault_t ftp_errno_to_vm_fault(struct ftp_region *r, int err)
{
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	atomic64_inc(&r->stats.errors);
	if (err != -ENODEV)
		pr_warn_ratelimited("region %s: fault refused: %d\n", r->name, err);
	return VM_FAULT_SIGBUS;
}

static vm_fault_t ftp_vm_fault(struct vm_fault *vmf)
{
	struct ftp_region *r = vmf->vma->vm_file->private_data;
	struct folio *folio;

	atomic64_inc(&r->stats.faults);
	if (vmf->pgoff >= r->nr_pages)
		return VM_FAULT_SIGBUS;
	folio = ftp_page_get_locked(r, vmf->pgoff);
	if (IS_ERR(folio))
		return ftp_errno_to_vm_fault(r, PTR_ERR(folio));
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
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

	folio_lock(folio);
	if (folio->mapping != ftp_mapping(r)) {
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;		/* truncated: fault again */
	}
	switch (ftp_region_state(r)) {
	case FTPAGE_STATE_LOCAL:
		break;
	case FTPAGE_STATE_FROZEN:
		atomic64_inc(&r->stats.refused_writes);
		pr_warn_ratelimited("region %s: write to frozen region refused (pid %d)\n",
				    r->name, task_pid_nr(current));
		fallthrough;
	default:
		folio_unlock(folio);
		return VM_FAULT_SIGBUS;
	}
	atomic64_inc(&r->stats.write_faults);
	folio_mark_dirty(folio);
	return VM_FAULT_LOCKED;
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
	/* fstat() on the node reports the region's size. */
	i_size_write(inode, r->size);
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
		struct folio *folio = ftp_page_lookup(r, pos >> PAGE_SHIFT);
		size_t copied;

		if (folio) {
			copied = copy_folio_to_iter(folio, offset_in_page(pos), n, to);
			folio_put(folio);
		} else if (r->role == FTPAGE_ROLE_SOURCE) {
			/* Never written: reads as zeroes, allocates nothing. */
			copied = iov_iter_zero(n, to);
		} else {
			err = -ENODATA;
			break;
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
	int err = 0;

	mutex_lock(&r->lock);
	if (ftp_region_state(r) != FTPAGE_STATE_LOCAL) {
		if (ftp_region_state(r) == FTPAGE_STATE_FROZEN)
			atomic64_inc(&r->stats.refused_writes);
		err = -EPERM;
		goto out_unlock;
	}
	folio = ftp_page_get_locked(r, pos >> PAGE_SHIFT);
	if (IS_ERR(folio)) {
		err = PTR_ERR(folio);
		goto out_unlock;
	}
	dst = kmap_local_folio(folio, offset_in_page(pos));
	memcpy(dst, buf, n);
	kunmap_local(dst);
	folio_mark_dirty(folio);
	folio_unlock(folio);
	folio_put(folio);
out_unlock:
	mutex_unlock(&r->lock);
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
	.read_iter = ftp_region_read_iter,
	.write_iter = ftp_region_write_iter,
};
