// SPDX-License-Identifier: GPL-2.0
/*
 * Fault latency histogram: 8 linear sub-buckets per power of two of
 * nanoseconds (under 12.5% error), lock-free updates, quantiles on demand.
 */
#include <linux/bitops.h>
#include <linux/math64.h>

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
