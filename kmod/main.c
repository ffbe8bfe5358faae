// SPDX-License-Identifier: GPL-2.0
/*
 * ftpage: fault-tolerant remote paging for post-copy live migration.
 *
 * Module glue: parameters, the "ftpage" device class and char-dev range,
 * and the pseudo filesystem whose inodes hold region pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

#include "ftpage.h"
#include "proto.h"

#define FTP_FS_MAGIC		0x66747067	/* "ftpg" */

unsigned int ftp_port = 7407;
unsigned int ftp_max_regions = 64;
unsigned int ftp_debug;
unsigned int ftp_fault_timeout_ms = 30000;
unsigned int ftp_lease_ms = 5000;
unsigned int ftp_rollback_after_ms = 30000;
unsigned int ftp_commit_interval_ms;
unsigned int ftp_streams = 2;
char ftp_bulk_cc[FTP_CC_NAME_MAX] = FTP_BULK_CC_DEFAULT;
unsigned int ftp_bulk_gain = 125;
unsigned int ftp_demand_dscp = FTP_DEMAND_DSCP_DEFAULT;

/* A range-checked unsigned int parameter that refuses bad values loudly. */
struct ftp_uint_param {
	unsigned int *var;
	unsigned int min;
	unsigned int max;
};

static int ftp_param_set(const char *val, const struct kernel_param *kp)
{
	const struct ftp_uint_param *p = kp->arg;
	unsigned int v;

	if (kstrtouint(val, 0, &v) || v < p->min || v > p->max) {
		pr_err("parameter %s=%s refused: must be an integer in [%u, %u]\n",
		       kp->name, val, p->min, p->max);
		return -EINVAL;
	}
	*p->var = v;
	return 0;
}

static int ftp_param_get(char *buffer, const struct kernel_param *kp)
{
	const struct ftp_uint_param *p = kp->arg;

	return scnprintf(buffer, PAGE_SIZE, "%u\n", *p->var);
}

static const struct kernel_param_ops ftp_uint_param_ops = {
	.set = ftp_param_set,
	.get = ftp_param_get,
};

#define FTP_PARAM_PERM(name, variable, lo, hi, perm, desc)		\
	static struct ftp_uint_param ftp_param_##name = {		\
		.var = &(variable), .min = (lo), .max = (hi),		\
	};								\
	module_param_cb(name, &ftp_uint_param_ops, &ftp_param_##name, perm); \
	MODULE_PARM_DESC(name, desc " [" #lo ".." #hi "]")
#define FTP_PARAM(name, variable, lo, hi, desc)				\
	FTP_PARAM_PERM(name, variable, lo, hi, 0444, desc)

FTP_PARAM(port, ftp_port, 1, 65535,
	  "default TCP port for serving regions (default 7407)");
FTP_PARAM(max_regions, ftp_max_regions, 1, 4096,
	  "maximum number of regions (default 64)");
FTP_PARAM(fault_timeout_ms, ftp_fault_timeout_ms, 100, 300000,
	  "longest wait for a missing page before SIGBUS (default 30000)");
/* The log level and the migration policy may be changed at run time. */
FTP_PARAM_PERM(debug, ftp_debug, 0, 3, 0644,
	       "debug log level, 0 = errors only (default 0)");
/* SERVE and PULL read the policy when they start. */
FTP_PARAM_PERM(lease_ms, ftp_lease_ms, 500, 60000, 0644,
	       "lease a source grants its destination per heartbeat (default 5000)");
FTP_PARAM_PERM(rollback_after_ms, ftp_rollback_after_ms, 0, 3600000, 0644,
	       "source rolls back after this long without heartbeat, at least lease_ms + 1000; 0 = wait forever (default 30000)");
FTP_PARAM_PERM(commit_interval_ms, ftp_commit_interval_ms, 0, 3600000, 0644,
	       "destination commits an epoch this often, at least 100; 0 = only on request (default 0)");
static_assert(FTP_PROTO_MAX_STREAMS == 8);
FTP_PARAM_PERM(streams, ftp_streams, 1, 8, 0644,
	       "TCP streams a destination runs the background push over (default 2)");
FTP_PARAM_PERM(bulk_gain, ftp_bulk_gain, 0, 400, 0644,
	       "bytes the push streams keep in flight together, in percent of the path's bandwidth-delay product; 0 = no bound (default 125)");
FTP_PARAM_PERM(demand_dscp, ftp_demand_dscp, 0, 63, 0644,
	       "DSCP of the demand channel's packets, for new connections; 0 = unmarked (default 18, AF21)");

/*
 * A TCP congestion control name, or "" for the namespace's default; the
 * name is checked when a connection takes it (the algorithm may be a
 * module loaded on demand), a bad one logged there.
 */
static int ftp_cc_param_set(const char *val, const struct kernel_param *kp)
{
	size_t len = strcspn(val, "\n");
	size_t i;

	if (len >= FTP_CC_NAME_MAX)
		goto err_name;
	for (i = 0; i < len; i++)
		if (!isalnum(val[i]) && val[i] != '_')
			goto err_name;
	memcpy(ftp_bulk_cc, val, len);
	ftp_bulk_cc[len] = '\0';
	return 0;

err_name:
	pr_err("parameter %s=%s refused: not a congestion control name\n",
	       kp->name, val);
	return -EINVAL;
}

static const struct kernel_param_ops ftp_cc_param_ops = {
	.set = ftp_cc_param_set,
	.get = param_get_string,
};

static struct kparam_string ftp_bulk_cc_kps = {
	.maxlen = FTP_CC_NAME_MAX,
	.string = ftp_bulk_cc,
};
module_param_cb(bulk_cc, &ftp_cc_param_ops, &ftp_bulk_cc_kps, 0644);
MODULE_PARM_DESC(bulk_cc,
		 "TCP congestion control of push and epoch streams, \"\" = the system's (default \""
		 FTP_BULK_CC_DEFAULT "\")");

static struct vfsmount *ftp_mnt;
static struct cdev ftp_ctl_cdev;
static struct cdev ftp_region_cdev;
static struct device *ftp_ctl_dev;
dev_t ftp_devt;

struct class ftp_class = {
	.name = "ftpage",
};

static int ftp_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, FTP_FS_MAGIC) ? 0 : -ENOMEM;
}

/* Never registered: only kern_mount()ed here, so no module reference. */
static struct file_system_type ftp_fs_type = {
	.name = "ftpage",
	.init_fs_context = ftp_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

struct inode *ftp_alloc_inode(void)
{
	return alloc_anon_inode(ftp_mnt->mnt_sb);
}

static int ftp_chrdev_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&ftp_devt, 0, ftp_max_regions + 1, "ftpage");
	if (ret)
		return ret;

	cdev_init(&ftp_ctl_cdev, &ftp_ctl_fops);
	ftp_ctl_cdev.owner = THIS_MODULE;
	ret = cdev_add(&ftp_ctl_cdev, ftp_devt, 1);
	if (ret)
		goto err_unregister_region;

	cdev_init(&ftp_region_cdev, &ftp_region_fops);
	ftp_region_cdev.owner = THIS_MODULE;
	ret = cdev_add(&ftp_region_cdev, ftp_devt + 1, ftp_max_regions);
	if (ret)
		goto err_del_ctl;
	return 0;

err_del_ctl:
	cdev_del(&ftp_ctl_cdev);
err_unregister_region:
	unregister_chrdev_region(ftp_devt, ftp_max_regions + 1);
	return ret;
}

static void ftp_chrdev_uninit(void)
{
	cdev_del(&ftp_region_cdev);
	cdev_del(&ftp_ctl_cdev);
	unregister_chrdev_region(ftp_devt, ftp_max_regions + 1);
}

static int __init ftp_init(void)
{
	int ret;

	/* A region page is a wire page. */
	BUILD_BUG_ON(PAGE_SIZE != FTPAGE_PAGE_SIZE);
	BUILD_BUG_ON(PAGE_SIZE != FTP_PROTO_PAGE_SIZE);

	ftp_mnt = kern_mount(&ftp_fs_type);
	if (IS_ERR(ftp_mnt))
		return PTR_ERR(ftp_mnt);

	ret = class_register(&ftp_class);
	if (ret)
		goto err_unmount;

	ret = ftp_chrdev_init();
	if (ret)
		goto err_unregister_class;

	/* '!' becomes '/' in the devtmpfs node name: /dev/ftpage/control */
	ftp_ctl_dev = device_create(&ftp_class, NULL, ftp_devt + FTP_CTL_MINOR,
				    NULL, "ftpage!control");
	if (IS_ERR(ftp_ctl_dev)) {
		ret = PTR_ERR(ftp_ctl_dev);
		goto err_chrdev_uninit;
	}

	pr_info("loaded: api %u, port %u, max_regions %u, fault_timeout_ms %u\n",
		FTPAGE_API, ftp_port, ftp_max_regions, ftp_fault_timeout_ms);
	return 0;

err_chrdev_uninit:
	ftp_chrdev_uninit();
err_unregister_class:
	class_unregister(&ftp_class);
err_unmount:
	kern_unmount(ftp_mnt);
	return ret;
}

/*
 * Open region or control files pin the module (fops owner), so by now no
 * file is open: only regions nobody has open remain, and they go here.
 */
static void __exit ftp_exit(void)
{
	device_destroy(&ftp_class, ftp_devt + FTP_CTL_MINOR);
	ftp_region_destroy_all();
	ftp_chrdev_uninit();
	class_unregister(&ftp_class);
	kern_unmount(ftp_mnt);
	pr_info("unloaded\n");
}

module_init(ftp_init);
module_exit(ftp_exit);

MODULE_DESCRIPTION("ftpage: fault-tolerant remote paging for KVM post-copy migration");
MODULE_LICENSE("GPL");
