/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where kernel-version differences live (6.1 and 6.12 are
 * built and tested). Feature macros FTP_HAVE_* come from probes in
 * kmod/Kbuild, which grep the target kernel's headers; nothing here tests
 * LINUX_VERSION_CODE.
 */
#ifndef FTP_COMPAT_H
#define FTP_COMPAT_H

#include <linux/mm.h>

#ifndef FTP_HAVE_VM_FLAGS_SET
/* 6.3 made vm_flags read-only and added accessors. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#ifndef FTP_HAVE_RELEASE_FAULT_LOCK
/* 6.4 added per-VMA locks; before, a fault always holds mmap_lock. */
static inline void release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

#endif /* FTP_COMPAT_H */
