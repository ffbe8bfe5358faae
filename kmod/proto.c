// SPDX-License-Identifier: GPL-2.0
/*
 * Wire message validation. Plain C, no kernel-only calls: the same file is
 * compiled into the module and into userspace tests and fuzzers. Every
 * length and index that comes from the wire is checked here before use.
 */
#include "proto.h"

/* Length of the fixed part of each message type's payload. */
static const __u32 ftp_fixed_len[FTP_MSG_TYPE_MAX + 1] = {
	[FTP_MSG_HELLO]		= sizeof(struct ftp_msg_hello),
	[FTP_MSG_HELLO_ACK]	= sizeof(struct ftp_msg_hello_ack),
	[FTP_MSG_ERROR]		= sizeof(struct ftp_msg_error),
	[FTP_MSG_PAGE_REQ]	= sizeof(struct ftp_msg_page),
	[FTP_MSG_PAGE_DATA]	= sizeof(struct ftp_msg_page),
	[FTP_MSG_PAGE_ZERO]	= sizeof(struct ftp_msg_page),
	[FTP_MSG_ZERO_RANGE]	= sizeof(struct ftp_msg_range),
	[FTP_MSG_COMPLETE]	= 0,
	[FTP_MSG_EPOCH_BEGIN]	= sizeof(struct ftp_msg_epoch),
	[FTP_MSG_EPOCH_PAGE]	= sizeof(struct ftp_msg_epoch_page),
	[FTP_MSG_EPOCH_STATE]	= sizeof(struct ftp_msg_epoch_state),
	[FTP_MSG_EPOCH_COMMIT]	= sizeof(struct ftp_msg_epoch),
	[FTP_MSG_EPOCH_ACK]	= sizeof(struct ftp_msg_epoch),
	[FTP_MSG_HEARTBEAT]	= sizeof(struct ftp_msg_heartbeat),
	[FTP_MSG_LEASE]		= sizeof(struct ftp_msg_lease),
	[FTP_MSG_KNOWN_RANGE]	= sizeof(struct ftp_msg_range),
	[FTP_MSG_KNOWN_END]	= 0,
	[FTP_MSG_DONE]		= 0,
	[FTP_MSG_AUTH]		= sizeof(struct ftp_msg_auth),
};

__u32 ftp_proto_fixed_len(unsigned int type)
{
	return type && type <= FTP_MSG_TYPE_MAX ? ftp_fixed_len[type] : 0;
}

/* Messages whose fixed part is followed by one page of data. */
int ftp_proto_has_page(unsigned int type)
{
	return type == FTP_MSG_PAGE_DATA || type == FTP_MSG_EPOCH_PAGE ||
	       type == FTP_MSG_EPOCH_STATE;
}

/* Exact payload length of a valid message of @type. */
static __u32 ftp_msg_len(unsigned int type)
{
	return ftp_fixed_len[type] +
	       (ftp_proto_has_page(type) ? FTP_PROTO_PAGE_SIZE : 0);
}

int ftp_proto_check_hdr(const struct ftp_hdr *h)
{
	unsigned int type = le16_to_cpu(h->type);
	__u32 len = le32_to_cpu(h->len);

	unsigned int flags = le16_to_cpu(h->flags);
	__u32 tag = flags & FTP_HDR_SEALED ? FTP_SEAL_TAG_LEN : 0;

	if (le32_to_cpu(h->magic) != FTP_PROTO_MAGIC || (flags & ~FTP_HDR_SEALED))
		return -FTP_ERR_PROTO;
	if (type == 0 || type > FTP_MSG_TYPE_MAX ||
	    len != ftp_msg_len(type) + tag)
		return -FTP_ERR_PROTO;
	return (int)len;
}

static int ftp_all_zero(const __u8 *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * An auth field: all zero without FTP_PROTO_FEAT_AUTH; with it, a
 * challenge that is not all zero, then @rest bytes that must be zero
 * (HELLO) or are opaque (HELLO_ACK's proof, @rest 0).
 */
static int ftp_check_auth(__le64 features, const __u8 *auth, unsigned int rest)
{
	__u64 f = le64_to_cpu(features);

	/*
	 * Unknown bits are for the receiver to ignore (it answers with those
	 * it knows); encryption needs the keys authentication gives.
	 */
	if ((f & FTP_PROTO_FEAT_ENCRYPT) && !(f & FTP_PROTO_FEAT_AUTH))
		return -FTP_ERR_PROTO;
	if (!(f & FTP_PROTO_FEAT_AUTH))
		return ftp_all_zero(auth, 64) ? 0 : -FTP_ERR_PROTO;
	if (ftp_all_zero(auth, FTP_AUTH_CHALLENGE_LEN) ||
	    !ftp_all_zero(auth + FTP_AUTH_CHALLENGE_LEN, rest))
		return -FTP_ERR_PROTO;
	return 0;
}

static int ftp_check_channel(const struct ftp_msg_hello *m)
{
	unsigned int chan = le16_to_cpu(m->channel);
	unsigned int kind = FTP_CHAN_KIND(chan), stream = FTP_CHAN_STREAM(chan);

	if (kind != FTP_CHAN_DEMAND && kind != FTP_CHAN_BULK &&
	    kind != FTP_CHAN_JOURNAL)
		return -FTP_ERR_PROTO;
	if (!stream)
		return 0;
	if (stream >= FTP_PROTO_MAX_STREAMS)
		return -FTP_ERR_PROTO;
	if (kind == FTP_CHAN_BULK)
		return le64_to_cpu(m->features) & FTP_PROTO_FEAT_STREAMS ?
		       0 : -FTP_ERR_PROTO;
	if (kind == FTP_CHAN_JOURNAL)
		return le64_to_cpu(m->features) & FTP_PROTO_FEAT_JSTREAMS ?
		       0 : -FTP_ERR_PROTO;
	return -FTP_ERR_PROTO;
}

static int ftp_check_hello(const struct ftp_msg_hello *m)
{
	unsigned int i;

	if (le16_to_cpu(m->version_min) > le16_to_cpu(m->version_max) ||
	    ftp_check_channel(m) ||
	    !le16_to_cpu(m->generation) ||
	    ftp_check_auth(m->features, m->auth,
			   sizeof(m->auth) - FTP_AUTH_CHALLENGE_LEN))
		return -FTP_ERR_PROTO;
	/* The name is NUL-terminated and NUL-padded. */
	for (i = 0; i < FTP_PROTO_NAME_MAX && m->region[i]; i++)
		;
	if (i == 0 || i == FTP_PROTO_NAME_MAX ||
	    !ftp_all_zero(m->region + i, FTP_PROTO_NAME_MAX - i))
		return -FTP_ERR_PROTO;
	return 0;
}

static int ftp_check_range(__u64 pgoff, __u64 count,
			   const struct ftp_proto_limits *lim)
{
	if (!count || pgoff >= lim->nr_pages || count > lim->nr_pages - pgoff)
		return -FTP_ERR_RANGE;
	return 0;
}

int ftp_proto_check_fixed(unsigned int type, const void *p,
			  const struct ftp_proto_limits *lim)
{
	const struct ftp_msg_hello_ack *ack = p;
	const struct ftp_msg_error *err = p;
	const struct ftp_msg_page *pg = p;
	const struct ftp_msg_range *rg = p;
	const struct ftp_msg_epoch *ep = p;
	const struct ftp_msg_epoch_page *epg = p;
	const struct ftp_msg_epoch_state *est = p;

	switch (type) {
	case FTP_MSG_HELLO:
		return ftp_check_hello(p);
	case FTP_MSG_HELLO_ACK:
		if (ack->pad0 || ack->pad1 || ftp_check_auth(ack->features, ack->auth, 0))
			return -FTP_ERR_PROTO;
		return 0;
	case FTP_MSG_ERROR:
		return err->pad ? -FTP_ERR_PROTO : 0;
	case FTP_MSG_PAGE_REQ:
	case FTP_MSG_PAGE_DATA:
	case FTP_MSG_PAGE_ZERO:
		return ftp_check_range(le64_to_cpu(pg->pgoff), 1, lim);
	case FTP_MSG_ZERO_RANGE:
	case FTP_MSG_KNOWN_RANGE:
		return ftp_check_range(le64_to_cpu(rg->pgoff),
				       le64_to_cpu(rg->count), lim);
	case FTP_MSG_COMPLETE:
	case FTP_MSG_KNOWN_END:
	case FTP_MSG_DONE:
	case FTP_MSG_HEARTBEAT:
	case FTP_MSG_AUTH:		/* a proof: opaque bytes */
		return 0;
	case FTP_MSG_LEASE:
		return ((const struct ftp_msg_lease *)p)->lease_ms ?
			0 : -FTP_ERR_PROTO;
	case FTP_MSG_EPOCH_BEGIN:
	case FTP_MSG_EPOCH_COMMIT:
		if (!ep->epoch || le64_to_cpu(ep->pages) > lim->nr_pages ||
		    le64_to_cpu(ep->state_len) > FTP_PROTO_STATE_MAX)
			return -FTP_ERR_PROTO;
		return 0;
	case FTP_MSG_EPOCH_ACK:
		return ep->epoch && !ep->pages && !ep->state_len ? 0 : -FTP_ERR_PROTO;
	case FTP_MSG_EPOCH_PAGE:
		if (!epg->epoch)
			return -FTP_ERR_PROTO;
		return ftp_check_range(le64_to_cpu(epg->pgoff), 1, lim);
	case FTP_MSG_EPOCH_STATE:
		if (!est->epoch || est->pad || !le32_to_cpu(est->len) ||
		    le32_to_cpu(est->len) > FTP_PROTO_PAGE_SIZE ||
		    le64_to_cpu(est->offset) % FTP_PROTO_PAGE_SIZE ||
		    le64_to_cpu(est->offset) >= FTP_PROTO_STATE_MAX ||
		    le32_to_cpu(est->len) > FTP_PROTO_STATE_MAX - le64_to_cpu(est->offset))
			return -FTP_ERR_PROTO;
		return 0;
	}
	return -FTP_ERR_PROTO;
}

void ftp_proto_hdr(struct ftp_hdr *h, unsigned int type, __u32 len, __u64 id)
{
	h->magic = cpu_to_le32(FTP_PROTO_MAGIC);
	h->type = cpu_to_le16(type);
	h->flags = 0;
	h->len = cpu_to_le32(len);
	h->csum = 0;
	h->id = cpu_to_le64(id);
}

__u32 ftp_proto_hdr_crc(const struct ftp_hdr *h)
{
	struct ftp_hdr z = *h;

	z.csum = 0;
	return ftp_proto_crc32c(0, &z, sizeof(z));
}

void ftp_proto_set_csum(struct ftp_hdr *h, const void *fixed, __u32 flen,
			const void *data, __u32 dlen)
{
	__u32 crc = ftp_proto_hdr_crc(h);

	crc = ftp_proto_crc32c(crc, fixed, flen);
	h->csum = cpu_to_le32(ftp_proto_crc32c(crc, data, dlen));
}

unsigned int ftp_proto_pick_version(unsigned int peer_min, unsigned int peer_max)
{
	unsigned int lo = peer_min > FTP_PROTO_VERSION_MIN ? peer_min : FTP_PROTO_VERSION_MIN;
	unsigned int hi = peer_max < FTP_PROTO_VERSION_MAX ? peer_max : FTP_PROTO_VERSION_MAX;

	return lo <= hi ? hi : 0;
}

/*
 * Bitwise CRC32C, for userspace builds (fuzzer, test peers); the module
 * uses the kernel's table-driven one (compat.h), which gives the same
 * values.
 */
#ifndef __KERNEL__
__u32 ftp_proto_crc32c(__u32 crc, const void *p, __u32 len)
{
	const __u8 *b = p;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}
#endif
