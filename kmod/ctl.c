// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ftpage/control: the ioctl interface of uapi/linux/ftpage.h.
 *
 * As with userfaultfd, FTPAGE_IOC_API comes first on every open file;
 * until it succeeded every other command fails with -EINVAL.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "ftpage.h"
#include "auth.h"
#include "crypt.h"

struct ftp_ctl {
	bool api_done;		/* FTPAGE_IOC_API succeeded on this file */
	u64 features;		/* what the caller asked for and got */
};

#define FTP_IOC_BIT(cmd)	BIT_ULL(_IOC_NR(cmd))
#define FTP_IOCTLS		(FTP_IOC_BIT(FTPAGE_IOC_API) |		\
				 FTP_IOC_BIT(FTPAGE_IOC_CREATE) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_DESTROY) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_STATUS) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_FREEZE) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_SERVE) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_PULL) |		\
				 FTP_IOC_BIT(FTPAGE_IOC_COMMIT) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_ROLLBACK) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_CHECKPOINT) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_DONE) |		\
				 FTP_IOC_BIT(FTPAGE_IOC_SET_KEY) |	\
				 FTP_IOC_BIT(FTPAGE_IOC_ALLOW_PEER))

static void __maybe_unused ftp_ctl_abi_check(void)
{
	/* Changing any of these breaks userspace: add a new command instead. */
	BUILD_BUG_ON(sizeof(struct ftpage_api) != 64);
	BUILD_BUG_ON(sizeof(struct ftpage_create) != 56);
	BUILD_BUG_ON(sizeof(struct ftpage_region_ref) != 32);
	BUILD_BUG_ON(sizeof(struct ftpage_status) != 248);
	BUILD_BUG_ON(sizeof(struct ftpage_peer) != 56);
	BUILD_BUG_ON(sizeof(struct ftpage_commit) != 64);
	BUILD_BUG_ON(sizeof(struct ftpage_checkpoint) != 64);
	BUILD_BUG_ON(sizeof(struct ftpage_key) != 48);
}

#define ftp_reserved_zero(field) (!memchr_inv((field), 0, sizeof(field)))

/* Copy a region name from userspace into @name (FTPAGE_NAME_MAX bytes). */
static int ftp_get_name(char *name, u64 uptr)
{
	long len;

	len = strncpy_from_user(name, u64_to_user_ptr(uptr), FTPAGE_NAME_MAX);
	if (len < 0)
		return len;
	if (len == FTPAGE_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* The region named by the userspace string at @uptr, referenced. */
static struct ftp_region *ftp_get_region(u64 uptr)
{
	char name[FTPAGE_NAME_MAX];
	struct ftp_region *r;
	int ret;

	ret = ftp_get_name(name, uptr);
	if (ret)
		return ERR_PTR(ret);
	r = ftp_region_find(name);
	return r ?: ERR_PTR(-ENOENT);
}

static long ftp_ioc_api(struct ftp_ctl *ctl, void __user *argp)
{
	struct ftpage_api api;

	if (copy_from_user(&api, argp, sizeof(api)))
		return -EFAULT;
	if (api.api != FTPAGE_API || api.flags ||
	    (api.features & ~FTPAGE_FEATURES_ALL) ||
	    !ftp_reserved_zero(api.reserved))
		return -EINVAL;
	/* As UFFDIO_API: one handshake per file. */
	if (ctl->api_done)
		return -EINVAL;

	ctl->features = api.features;
	api.features = FTPAGE_FEATURES_ALL;
	api.ioctls = FTP_IOCTLS;
	if (copy_to_user(argp, &api, sizeof(api)))
		return -EFAULT;
	ctl->api_done = true;
	return 0;
}

static long ftp_ioc_create(void __user *argp)
{
	struct ftpage_create c;
	char name[FTPAGE_NAME_MAX];
	int ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || !ftp_reserved_zero(c.reserved))
		return -EINVAL;
	ret = ftp_get_name(name, c.name);
	if (ret)
		return ret;
	return ftp_region_create(name, c.size, c.role);
}

/* Parse a struct ftpage_region_ref; the name's user pointer in @uname. */
static int ftp_ioc_ref(void __user *argp, u64 *uname)
{
	struct ftpage_region_ref ref;

	if (copy_from_user(&ref, argp, sizeof(ref)))
		return -EFAULT;
	if (ref.flags || ref.reserved0 || !ftp_reserved_zero(ref.reserved))
		return -EINVAL;
	*uname = ref.name;
	return 0;
}

static long ftp_ioc_destroy(void __user *argp)
{
	char name[FTPAGE_NAME_MAX];
	u64 uname;
	int ret;

	ret = ftp_ioc_ref(argp, &uname);
	if (!ret)
		ret = ftp_get_name(name, uname);
	return ret ?: ftp_region_destroy(name);
}

/* FREEZE, ROLLBACK and DONE: a region name and nothing else. */
static long ftp_ioc_region_op(void __user *argp, int (*op)(struct ftp_region *))
{
	struct ftp_region *r;
	u64 uname;
	int ret;

	ret = ftp_ioc_ref(argp, &uname);
	if (ret)
		return ret;
	r = ftp_get_region(uname);
	if (IS_ERR(r))
		return PTR_ERR(r);
	ret = op(r);
	ftp_region_put(r);
	return ret;
}

static long ftp_ioc_commit(void __user *argp)
{
	struct ftpage_commit c;
	struct ftp_region *r;
	int ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~FTPAGE_COMMIT_FLAGS) || c.reserved0 ||
	    !ftp_reserved_zero(c.reserved))
		return -EINVAL;
	r = ftp_get_region(c.name);
	if (IS_ERR(r))
		return PTR_ERR(r);
	c.epoch = 0;
	c.pages = 0;
	ret = ftp_journal_commit(r, c.state, c.state_len, c.flags, &c.epoch,
				 &c.pages);
	ftp_region_put(r);
	/* The epoch is sealed even when waiting for it failed: report it. */
	if (c.epoch && copy_to_user(argp, &c, sizeof(c)))
		return -EFAULT;
	return ret;
}

static long ftp_ioc_checkpoint(void __user *argp)
{
	struct ftpage_checkpoint c;
	struct ftp_region *r;
	void *blob = NULL;
	int ret = 0;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.reserved0 || !ftp_reserved_zero(c.reserved))
		return -EINVAL;
	r = ftp_get_region(c.name);
	if (IS_ERR(r))
		return PTR_ERR(r);
	if (r->role != FTPAGE_ROLE_SOURCE) {
		ftp_region_put(r);
		return -EINVAL;
	}
	/*
	 * Copy the blob out under r->lock, but write it to the user without:
	 * a slow user buffer must not hold up applying epochs or ROLLBACK.
	 */
	mutex_lock(&r->lock);
	c.epoch = r->committed_epoch;
	c.state_len = r->committed_state_len;
	if (c.buf && c.buf_len < c.state_len) {
		ret = -ENOSPC;
	} else if (c.buf && c.state_len) {
		blob = kvmalloc(c.state_len, GFP_KERNEL);
		if (blob)
			memcpy(blob, r->committed_state, c.state_len);
	}
	mutex_unlock(&r->lock);
	ftp_region_put(r);
	if (c.buf && c.state_len && !ret) {
		if (!blob)
			ret = -ENOMEM;
		else if (copy_to_user(u64_to_user_ptr(c.buf), blob, c.state_len))
			ret = -EFAULT;
		kvfree(blob);
	}
	if (copy_to_user(argp, &c, sizeof(c)))
		return -EFAULT;
	return ret;
}

/* Copy and check a socket address: IPv4 or IPv6, of its exact size. */
static int ftp_copy_addr(struct sockaddr_storage *ss, u64 uptr, u32 len)
{
	if (len != sizeof(struct sockaddr_in) && len != sizeof(struct sockaddr_in6))
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (copy_from_user(ss, u64_to_user_ptr(uptr), len))
		return -EFAULT;
	switch (ss->ss_family) {
	case AF_INET:
		return len == sizeof(struct sockaddr_in) ? 0 : -EINVAL;
	case AF_INET6:
		return len == sizeof(struct sockaddr_in6) ? 0 : -EINVAL;
	default:
		return -EAFNOSUPPORT;
	}
}

/* The port of an address ftp_copy_addr() accepted. */
static __be16 *ftp_addr_port(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((struct sockaddr_in *)ss)->sin_port;
	return &((struct sockaddr_in6 *)ss)->sin6_port;
}

/* Copy and check a peer address; a zero port means the "port" parameter. */
static int ftp_get_addr(struct sockaddr_storage *ss, u64 uptr, u32 len)
{
	int ret = ftp_copy_addr(ss, uptr, len);

	if (!ret && !*ftp_addr_port(ss))
		*ftp_addr_port(ss) = htons(ftp_port);
	return ret;
}

/* SERVE and PULL: a region name and an address. */
static long ftp_ioc_peer(void __user *argp, unsigned int cmd)
{
	struct ftpage_peer p;
	struct sockaddr_storage ss;
	char name[FTPAGE_NAME_MAX], peer_name[FTPAGE_NAME_MAX];
	struct ftp_region *r;
	int ret;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if (p.flags & ~(cmd == FTPAGE_IOC_SERVE ? FTPAGE_SERVE_FLAGS :
						   FTPAGE_PULL_FLAGS))
		return -EINVAL;
	if (!ftp_reserved_zero(p.reserved) ||
	    (cmd == FTPAGE_IOC_SERVE && p.peer_name))
		return -EINVAL;
	/* Encryption keys come from authentication (same bits for both). */
	BUILD_BUG_ON(FTPAGE_SERVE_ENCRYPT != FTPAGE_PULL_ENCRYPT ||
		     FTPAGE_SERVE_INSECURE != FTPAGE_PULL_INSECURE);
	if ((p.flags & FTPAGE_SERVE_INSECURE) && (p.flags & FTPAGE_SERVE_ENCRYPT))
		return -EINVAL;
	if (p.flags & FTPAGE_SERVE_ENCRYPT) {
		ret = ftp_seal_available();
		if (ret)
			return ret;
	}
	ret = ftp_get_name(name, p.name);
	if (!ret)
		ret = p.peer_name ? ftp_get_name(peer_name, p.peer_name) :
				    (strscpy(peer_name, name, sizeof(peer_name)), 0);
	if (!ret)
		ret = ftp_get_addr(&ss, p.addr, p.addrlen);
	if (ret)
		return ret;
	r = ftp_region_find(name);
	if (!r)
		return -ENOENT;
	if (cmd == FTPAGE_IOC_SERVE)
		ret = ftp_source_serve(r, &ss, p.addrlen, p.flags);
	else
		ret = ftp_dest_pull(r, peer_name, &ss, p.addrlen, p.flags);
	ftp_region_put(r);
	return ret;
}

/* ALLOW_PEER: a host address (port 0), or none to allow any host. */
static long ftp_ioc_allow_peer(void __user *argp)
{
	struct sockaddr_storage ss = {};
	struct ftp_region *r;
	struct ftpage_peer p;
	int ret = 0;

	if (copy_from_user(&p, argp, sizeof(p)))
		return -EFAULT;
	if (p.flags || p.peer_name || !ftp_reserved_zero(p.reserved) ||
	    !p.addr != !p.addrlen)
		return -EINVAL;
	if (p.addr) {
		ret = ftp_copy_addr(&ss, p.addr, p.addrlen);
		if (ret)
			return ret;
		if (*ftp_addr_port(&ss))
			return -EINVAL;
	}
	r = ftp_get_region(p.name);
	if (IS_ERR(r))
		return PTR_ERR(r);
	mutex_lock(&r->lock);
	if (r->role != FTPAGE_ROLE_SOURCE)
		ret = -EINVAL;
	else if (r->src)		/* SERVE took the last one */
		ret = -EBUSY;
	else
		r->allow = ss;
	mutex_unlock(&r->lock);
	ftp_region_put(r);
	return ret;
}

/* SET_KEY: the key never shows up again, in any log or answer. */
static long ftp_ioc_set_key(void __user *argp)
{
	struct ftpage_key k;
	struct ftp_region *r;
	u8 *key;
	int ret;

	if (copy_from_user(&k, argp, sizeof(k)))
		return -EFAULT;
	if (k.flags || !ftp_reserved_zero(k.reserved) ||
	    k.key_len < FTPAGE_KEY_MIN || k.key_len > FTPAGE_KEY_MAX)
		return -EINVAL;
	r = ftp_get_region(k.name);
	if (IS_ERR(r))
		return PTR_ERR(r);
	key = memdup_user(u64_to_user_ptr(k.key), k.key_len);
	if (IS_ERR(key)) {
		ret = PTR_ERR(key);
		goto out_put;
	}
	ret = ftp_region_set_key(r, key, k.key_len);
out_put:
	ftp_region_put(r);
	return ret;
}

static long ftp_ioc_status(void __user *argp)
{
	struct ftpage_status st;
	struct ftp_region *r;
	u64 uname;

	if (copy_from_user(&st, argp, sizeof(st)))
		return -EFAULT;
	if (st.flags || !ftp_reserved_zero(st.reserved))
		return -EINVAL;
	r = ftp_get_region(st.name);
	if (IS_ERR(r))
		return PTR_ERR(r);

	uname = st.name;
	memset(&st, 0, sizeof(st));
	st.name = uname;
	ftp_region_status(r, &st);
	ftp_region_put(r);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

static long ftp_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ftp_ctl *ctl = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case FTPAGE_IOC_API:
		return ftp_ioc_api(ctl, argp);
	case FTPAGE_IOC_CREATE:
	case FTPAGE_IOC_DESTROY:
	case FTPAGE_IOC_FREEZE:
	case FTPAGE_IOC_STATUS:
	case FTPAGE_IOC_SERVE:
	case FTPAGE_IOC_PULL:
	case FTPAGE_IOC_COMMIT:
	case FTPAGE_IOC_ROLLBACK:
	case FTPAGE_IOC_CHECKPOINT:
	case FTPAGE_IOC_DONE:
	case FTPAGE_IOC_SET_KEY:
	case FTPAGE_IOC_ALLOW_PEER:
		break;
	default:
		return -ENOTTY;
	}

	if (!ctl->api_done)
		return -EINVAL;

	switch (cmd) {
	case FTPAGE_IOC_CREATE:
		return ftp_ioc_create(argp);
	case FTPAGE_IOC_DESTROY:
		return ftp_ioc_destroy(argp);
	case FTPAGE_IOC_FREEZE:
		return ftp_ioc_region_op(argp, ftp_region_freeze);
	case FTPAGE_IOC_ROLLBACK:
		return ftp_ioc_region_op(argp, ftp_region_rollback);
	case FTPAGE_IOC_DONE:
		return ftp_ioc_region_op(argp, ftp_dest_done);
	case FTPAGE_IOC_COMMIT:
		return ftp_ioc_commit(argp);
	case FTPAGE_IOC_CHECKPOINT:
		return ftp_ioc_checkpoint(argp);
	case FTPAGE_IOC_STATUS:
		return ftp_ioc_status(argp);
	case FTPAGE_IOC_SET_KEY:
		return ftp_ioc_set_key(argp);
	case FTPAGE_IOC_ALLOW_PEER:
		return ftp_ioc_allow_peer(argp);
	case FTPAGE_IOC_SERVE:
	case FTPAGE_IOC_PULL:
		return ftp_ioc_peer(argp, cmd);
	}
	return -ENOTTY;
}

static int ftp_ctl_open(struct inode *inode, struct file *file)
{
	struct ftp_ctl *ctl;

	/* Regions hand out a VM's memory: control is for the admin only. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ctl = kzalloc(sizeof(*ctl), GFP_KERNEL);
	if (!ctl)
		return -ENOMEM;
	file->private_data = ctl;
	return 0;
}

static int ftp_ctl_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

const struct file_operations ftp_ctl_fops = {
	.owner = THIS_MODULE,
	.open = ftp_ctl_open,
	.release = ftp_ctl_release,
	.unlocked_ioctl = ftp_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};
