// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics: the fault latency histogram (8 linear sub-buckets per power
 * of two of nanoseconds, under 12.5% error, lock-free updates, quantiles
 * on demand) and the per-region sysfs attributes.
 */
#include <linux/bitops.h>
#include <linux/device.h>
#include <linux/math64.h>
#include <linux/sysfs.h>

#include "ftpage.h"

#define FTP_HIST_SUB_BITS	3
#define FTP_HIST_SUB		(1u << FTP_HIST_SUB_BITS)

static unsigned int ftp_hist_index(u64 ns)
{
	unsigned int e;

	if (ns < FTP_HIST_SUB)
		return ns;
	e = fls64(ns) - 1 - FTP_HIST_SUB_BITS;	/* shift keeping 4 bits */
	ns = (ns >> e) & (FTP_HIST_SUB - 1);
	return min_t(unsigned int, (e + 1) * FTP_HIST_SUB + ns, FTP_HIST_BUCKETS - 1);
}

/* Lowest value that lands in bucket @i. */
static u64 ftp_hist_floor(unsigned int i)
{
	unsigned int e;

	if (i < FTP_HIST_SUB)
		return i;
	e = i / FTP_HIST_SUB - 1;
	return (u64)(FTP_HIST_SUB + i % FTP_HIST_SUB) << e;
}

void ftp_hist_add(struct ftp_hist *h, u64 ns)
{
	u64 max = atomic64_read(&h->max);

	atomic64_inc(&h->bucket[ftp_hist_index(ns)]);
	atomic64_inc(&h->count);
	while (ns > max) {
		u64 old = atomic64_cmpxchg(&h->max, max, ns);

		if (old == max)
			break;
		max = old;
	}
}

/* The value under which @permille of the samples fall (bucket floor). */
u64 ftp_hist_quantile(struct ftp_hist *h, unsigned int permille)
{
	u64 total = atomic64_read(&h->count), seen = 0, want;
	unsigned int i;

	if (!total)
		return 0;
	want = div_u64(total * permille + 999, 1000);
	for (i = 0; i < FTP_HIST_BUCKETS; i++) {
		seen += atomic64_read(&h->bucket[i]);
		if (seen >= want)
			return min_t(u64, ftp_hist_floor(i), atomic64_read(&h->max));
	}
	return atomic64_read(&h->max);
}

/*
 * Per-region counters in sysfs: /sys/class/ftpage/ftpage!<name>/<counter>,
 * one value per file, from the same snapshot as FTPAGE_IOC_STATUS. The
 * attributes go away with the device node, before the region can be freed.
 */
static const char *const ftp_state_attr_names[] = {
	[FTPAGE_STATE_LOCAL] = "local",
	[FTPAGE_STATE_FROZEN] = "frozen",
	[FTPAGE_STATE_EMPTY] = "empty",
	[FTPAGE_STATE_DEAD] = "dead",
	[FTPAGE_STATE_PULLING] = "pulling",
	[FTPAGE_STATE_COMPLETE] = "complete",
	[FTPAGE_STATE_BROKEN] = "broken",
	[FTPAGE_STATE_ROLLED_BACK] = "rolled-back",
	[FTPAGE_STATE_ABANDONED] = "abandoned",
	[FTPAGE_STATE_DONE] = "done",
};

const char *ftp_state_name(enum ftpage_state state)
{
	if (state < ARRAY_SIZE(ftp_state_attr_names) && ftp_state_attr_names[state])
		return ftp_state_attr_names[state];
	return "unknown";
}

static void ftp_dev_status(struct device *dev, struct ftpage_status *st)
{
	memset(st, 0, sizeof(*st));
	ftp_region_status(dev_get_drvdata(dev), st);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct ftp_region *r = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", ftp_state_name(ftp_region_state(r)));
}
static DEVICE_ATTR_RO(state);

static ssize_t role_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct ftp_region *r = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", r->role == FTPAGE_ROLE_SOURCE ? "source" : "dest");
}
static DEVICE_ATTR_RO(role);

#define FTP_STATUS_ATTR(field)						\
	static ssize_t field##_show(struct device *dev,			\
				    struct device_attribute *attr, char *buf) \
	{								\
		struct ftpage_status st;				\
									\
		ftp_dev_status(dev, &st);				\
		return sysfs_emit(buf, "%llu\n", (unsigned long long)st.field); \
	}								\
	static DEVICE_ATTR_RO(field)

FTP_STATUS_ATTR(size);
FTP_STATUS_ATTR(pages_total);
FTP_STATUS_ATTR(pages_present);
FTP_STATUS_ATTR(pages_known);
FTP_STATUS_ATTR(faults);
FTP_STATUS_ATTR(write_faults);
FTP_STATUS_ATTR(zero_fills);
FTP_STATUS_ATTR(refused_writes);
FTP_STATUS_ATTR(demand_faults);
FTP_STATUS_ATTR(pages_fetched);
FTP_STATUS_ATTR(pages_pushed);
FTP_STATUS_ATTR(pages_served);
FTP_STATUS_ATTR(zero_pages);
FTP_STATUS_ATTR(bytes_rx);
FTP_STATUS_ATTR(bytes_tx);
FTP_STATUS_ATTR(fault_lat_p50_ns);
FTP_STATUS_ATTR(fault_lat_p99_ns);
FTP_STATUS_ATTR(fault_lat_max_ns);
FTP_STATUS_ATTR(errors);
FTP_STATUS_ATTR(last_error);
FTP_STATUS_ATTR(connected);
FTP_STATUS_ATTR(epoch);
FTP_STATUS_ATTR(committed_epoch);
FTP_STATUS_ATTR(journal_bytes);
FTP_STATUS_ATTR(push_budget);

static struct attribute *ftp_region_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_role.attr,
	&dev_attr_size.attr,
	&dev_attr_pages_total.attr,
	&dev_attr_pages_present.attr,
	&dev_attr_pages_known.attr,
	&dev_attr_faults.attr,
	&dev_attr_write_faults.attr,
	&dev_attr_zero_fills.attr,
	&dev_attr_refused_writes.attr,
	&dev_attr_demand_faults.attr,
	&dev_attr_pages_fetched.attr,
	&dev_attr_pages_pushed.attr,
	&dev_attr_pages_served.attr,
	&dev_attr_zero_pages.attr,
	&dev_attr_bytes_rx.attr,
	&dev_attr_bytes_tx.attr,
	&dev_attr_fault_lat_p50_ns.attr,
	&dev_attr_fault_lat_p99_ns.attr,
	&dev_attr_fault_lat_max_ns.attr,
	&dev_attr_errors.attr,
	&dev_attr_last_error.attr,
	&dev_attr_connected.attr,
	&dev_attr_epoch.attr,
	&dev_attr_committed_epoch.attr,
	&dev_attr_journal_bytes.attr,
	&dev_attr_push_budget.attr,
	NULL,
};

static const struct attribute_group ftp_region_group = {
	.attrs = ftp_region_attrs,
};

const struct attribute_group *ftp_region_groups[] = {
	&ftp_region_group,
	NULL,
};
