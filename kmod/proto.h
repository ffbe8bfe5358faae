/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ftpage wire protocol, version 1.
 *
 * Every message is a struct ftp_hdr followed by hdr.len payload bytes.
 * All integers are little-endian; structs are packed with explicit
 * padding, which must be zero; hdr.csum is the CRC32C of the header (with
 * csum zero) and the payload. A destination opens TCP connections to the
 * source: the demand channel (page requests and their replies, heartbeats
 * and leases, so they never queue behind bulk data), one or more bulk
 * channels (the background push) and as many journal channels (epochs
 * back to the source). Each starts with HELLO -> HELLO_ACK.
 *
 * Liveness: the destination sends HEARTBEAT every lease/4 on the demand
 * channel; the source answers LEASE, echoing the heartbeat's stamp. The
 * destination's lease runs from the stamp (its own clock, taken before the
 * source saw the heartbeat), so it ends before the source's view of it.
 *
 * Authentication (feature FTP_PROTO_FEAT_AUTH, both sides hold a
 * pre-shared key K): HELLO.auth carries the destination's random
 * challenge; HELLO_ACK.auth the source's challenge and its proof,
 * HMAC-SHA256(K, "source" label | HELLO | HELLO_ACK without the proof),
 * which binds both challenges, the session, channel, generation and
 * region name. The destination checks it and answers AUTH with its own
 * proof (the "dest" label); the source checks that before anything else
 * (claiming the channel included) and answers AUTH with a zero proof to
 * accept, or ERROR(AUTH). The session key is the same HMAC with the
 * "session" label. Without the feature (--insecure) both auth fields are
 * zero and the handshake ends with HELLO_ACK.
 *
 * Encryption (feature FTP_PROTO_FEAT_ENCRYPT, only with FEAT_AUTH): a
 * destination that wants it sets the bit in HELLO; a source accepts by
 * setting it in HELLO_ACK, or refuses a HELLO without it with
 * ERROR(ENCRYPT) when it requires encryption. Once the AUTH exchange is
 * over, every message in both directions is sealed with AES-256-GCM: the
 * header travels in clear with FTP_HDR_SEALED in its flags, len counting
 * the FTP_SEAL_TAG_LEN tag too, and csum the CRC32C of the header alone;
 * the payload is encrypted, and the tag authenticates header and payload.
 * Each direction has its own key, HMAC-SHA256(session key, label), and
 * the nonce is a count of the messages sent in that direction on that
 * connection. Every connection derives a fresh session key from fresh
 * challenges, so no (key, nonce) pair is ever used twice, across
 * reconnects included.
 *
 * Parallel streams (feature FTP_PROTO_FEAT_STREAMS, in every HELLO of a
 * destination that wants them, answered by the source in HELLO_ACK): the
 * background push runs over several bulk channels, stream 0..N-1, opened
 * once the demand channel's HELLO_ACK agreed; with FTP_PROTO_FEAT_JSTREAMS
 * agreed too, the epochs over as many journal channels (else over one).
 * Each bulk stream pushes pages no other stream took;
 * demand requests keep their own channel. On a resume only stream 0
 * carries the KNOWN_RANGE list (the others send KNOWN_END alone), and
 * every stream pushes once stream 0's list is in.
 *
 * Epochs: journal stream 0 carries EPOCH_BEGIN (the epoch's page count and
 * blob length), EPOCH_STATE and EPOCH_COMMIT, and EPOCH_ACK comes back on
 * it; the epoch's EPOCH_PAGEs are spread over all journal streams, each
 * page on one, every stream in epoch order. The destination sends COMMIT
 * once every stream has sent its share; the source applies the epoch once
 * COMMIT and every page announced have arrived, whole or not at all.
 *
 * Resuming: a destination that lost a connection reconnects with the same
 * session and a new generation, tells the source on the bulk channel which
 * pages it already has (KNOWN_RANGE..., KNOWN_END), resends its pending
 * requests and its unacknowledged epochs (HELLO_ACK on journal stream 0
 * says which epoch the source applied last). Request ids carry the
 * generation in their top 16 bits: a reply whose generation is not the
 * current one predates a reconnect and is dropped.
 *
 * This header and proto.c are plain C with no kernel-only calls, so the
 * parser also builds in userspace (selftests, fuzzing).
 */
#ifndef FTP_PROTO_H
#define FTP_PROTO_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <asm/byteorder.h>
#else
#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#define cpu_to_le16 htole16
#define cpu_to_le32 htole32
#define cpu_to_le64 htole64
#define le16_to_cpu le16toh
#define le32_to_cpu le32toh
#define le64_to_cpu le64toh
#ifndef __packed
#define __packed __attribute__((packed))
#endif
#endif

#define FTP_PROTO_MAGIC		0x47505446u	/* "FTPG" */
#define FTP_PROTO_VERSION_MIN	1
#define FTP_PROTO_VERSION_MAX	1
#define FTP_PROTO_PAGE_SIZE	4096u
#define FTP_PROTO_NAME_MAX	32

/* Largest payload of any message: EPOCH_STATE. */
#define FTP_PROTO_MAX_PAYLOAD	(24u + FTP_PROTO_PAGE_SIZE)

/* Message types: numbers are part of the protocol, never reuse one. */
enum ftp_msg_type {
	FTP_MSG_HELLO		= 1,	/* dest -> source, first on a channel */
	FTP_MSG_HELLO_ACK	= 2,	/* source -> dest */
	FTP_MSG_ERROR		= 3,	/* either way, then close */
	FTP_MSG_PAGE_REQ	= 4,	/* dest -> source, demand channel */
	FTP_MSG_PAGE_DATA	= 5,	/* source -> dest, one page */
	FTP_MSG_PAGE_ZERO	= 6,	/* source -> dest, a page of zeroes */
	FTP_MSG_ZERO_RANGE	= 7,	/* source -> dest, a run of zero pages */
	FTP_MSG_COMPLETE	= 8,	/* dest -> source: every page is local */
	FTP_MSG_EPOCH_BEGIN	= 9,	/* dest -> source, journal stream 0 */
	FTP_MSG_EPOCH_PAGE	= 10,	/* one page of the epoch (+ page), on
					 * any journal stream */
	FTP_MSG_EPOCH_STATE	= 11,	/* a chunk of its state blob (+ page) */
	FTP_MSG_EPOCH_COMMIT	= 12,	/* the epoch is complete: apply it */
	FTP_MSG_EPOCH_ACK	= 13,	/* source -> dest: applied */
	FTP_MSG_HEARTBEAT	= 14,	/* dest -> source, demand channel */
	FTP_MSG_LEASE		= 15,	/* source -> dest: lease renewed */
	FTP_MSG_KNOWN_RANGE	= 16,	/* dest -> source, bulk: pages it has */
	FTP_MSG_KNOWN_END	= 17,	/* dest -> source, bulk: push may go */
	FTP_MSG_DONE		= 18,	/* dest -> source: migration done;
					 * source -> dest: acknowledged */
	FTP_MSG_AUTH		= 19,	/* dest -> source: its proof;
					 * source -> dest: accepted */
	FTP_MSG_TYPE_MAX	= 19,
};

/* Channels, in HELLO. */
enum ftp_channel {
	FTP_CHAN_DEMAND		= 1,
	FTP_CHAN_BULK		= 2,
	FTP_CHAN_JOURNAL	= 3,	/* committed epochs, dest -> source */
};

/*
 * HELLO.channel: the kind in the low byte; in the high byte the stream
 * index (0..FTP_PROTO_MAX_STREAMS-1) of a bulk channel (with
 * FTP_PROTO_FEAT_STREAMS) or a journal channel (FTP_PROTO_FEAT_JSTREAMS),
 * 0 for the demand channel.
 */
#define FTP_PROTO_MAX_STREAMS	8
#define FTP_CHAN_KIND(c)	((c) & 0xff)
#define FTP_CHAN_STREAM(c)	((c) >> 8)
#define FTP_CHAN(kind, stream)	((kind) | (stream) << 8)

/* Feature bits, in HELLO and HELLO_ACK. */
#define FTP_PROTO_FEAT_AUTH	(1ull << 0)	/* auth fields in use */
#define FTP_PROTO_FEAT_ENCRYPT	(1ull << 1)	/* messages sealed after AUTH */
#define FTP_PROTO_FEAT_STREAMS	(1ull << 2)	/* several bulk channels */
#define FTP_PROTO_FEAT_JSTREAMS	(1ull << 3)	/* as many journal channels */

/* ftp_hdr.flags */
#define FTP_HDR_SEALED		(1u << 0)	/* payload encrypted, + tag */
#define FTP_SEAL_TAG_LEN	16

/* HMAC-SHA256 challenge-response, in the auth fields and FTP_MSG_AUTH. */
#define FTP_AUTH_CHALLENGE_LEN	32
#define FTP_AUTH_MAC_LEN	32

struct ftp_hdr {
	__le32 magic;		/* FTP_PROTO_MAGIC */
	__le16 type;		/* enum ftp_msg_type */
	__le16 flags;		/* FTP_HDR_SEALED or zero */
	__le32 len;		/* payload bytes after this header */
	__le32 csum;		/* CRC32C of header (csum 0) and payload;
				 * sealed: of the header alone */
	__le64 id;		/* request id (generation << 48 | seq), or 0 */
} __packed;

#define FTP_ID_GEN_SHIFT	48
#define FTP_ID_SEQ_MASK		((1ull << FTP_ID_GEN_SHIFT) - 1)

static inline __u64 ftp_id_make(__u16 gen, __u64 seq)
{
	return ((__u64)gen << FTP_ID_GEN_SHIFT) | (seq & FTP_ID_SEQ_MASK);
}

static inline __u16 ftp_id_gen(__u64 id)
{
	return (__u16)(id >> FTP_ID_GEN_SHIFT);
}

struct ftp_msg_hello {
	__le16 version_min;
	__le16 version_max;
	__le16 channel;		/* FTP_CHAN(enum ftp_channel, stream) */
	__le16 generation;	/* connection generation, never 0 */
	__le64 features;
	__le64 session;		/* random per pull: pairs the two channels */
	__le64 region_size;	/* bytes; must equal the source region's */
	__u8 region[FTP_PROTO_NAME_MAX];	/* NUL-padded name */
	__u8 auth[64];		/* FEAT_AUTH: challenge (32 bytes, not all
				 * zero), then zero; else zero */
} __packed;

struct ftp_msg_hello_ack {
	__le16 version;		/* chosen version */
	__le16 pad0;
	__le32 pad1;
	__le64 features;
	__le64 region_pages;
	__le64 committed_epoch;	/* last epoch the source applied */
	__u8 auth[64];		/* FEAT_AUTH: challenge (32 bytes, not all
				 * zero), then the source's proof; else zero */
} __packed;

struct ftp_msg_auth {		/* AUTH */
	__u8 mac[FTP_AUTH_MAC_LEN];	/* dest: its proof; source: zero */
} __packed;

/* Error codes in FTP_MSG_ERROR: numbers are part of the protocol. */
enum ftp_err {
	FTP_ERR_VERSION		= 1,	/* no common protocol version */
	FTP_ERR_NO_REGION	= 2,	/* no such region, or not a source */
	FTP_ERR_SIZE		= 3,	/* region size differs */
	FTP_ERR_BUSY		= 4,	/* served to another destination */
	FTP_ERR_PROTO		= 5,	/* malformed message */
	FTP_ERR_RANGE		= 6,	/* page index out of range */
	FTP_ERR_SHUTDOWN	= 7,	/* region destroyed or unloading */
	FTP_ERR_ROLLED_BACK	= 8,	/* the source rolled back: never resume */
	FTP_ERR_DONE		= 9,	/* the migration was declared done */
	FTP_ERR_AUTH		= 10,	/* authentication failed */
	FTP_ERR_ENCRYPT		= 11,	/* the source requires encryption */
	FTP_ERR_PEER		= 12,	/* not the destination the source
					 * expects (its address) */
};

struct ftp_msg_error {
	__le32 code;		/* enum ftp_err */
	__le32 pad;
} __packed;

struct ftp_msg_page {		/* PAGE_REQ, PAGE_DATA (+ page), PAGE_ZERO */
	__le64 pgoff;
} __packed;

struct ftp_msg_range {		/* ZERO_RANGE */
	__le64 pgoff;
	__le64 count;
} __packed;

struct ftp_msg_heartbeat {	/* HEARTBEAT */
	__le64 stamp;		/* sender's monotonic clock, ns; echoed */
} __packed;

struct ftp_msg_lease {		/* LEASE */
	__le64 stamp;		/* the heartbeat's */
	__le32 lease_ms;	/* valid this long from @stamp */
	__le32 rollback_ms;	/* source rolls back after this long without
				 * a heartbeat; 0: never */
} __packed;

/* Largest state blob an epoch carries (FTPAGE_COMMIT_STATE_MAX). */
#define FTP_PROTO_STATE_MAX	(64ull << 20)

struct ftp_msg_epoch {		/* EPOCH_BEGIN, EPOCH_COMMIT, EPOCH_ACK */
	__le64 epoch;		/* never 0 */
	__le64 pages;		/* BEGIN, COMMIT: pages in the epoch */
	__le64 state_len;	/* BEGIN, COMMIT: bytes of the blob */
} __packed;

struct ftp_msg_epoch_page {	/* EPOCH_PAGE (+ page) */
	__le64 epoch;
	__le64 pgoff;
} __packed;

struct ftp_msg_epoch_state {	/* EPOCH_STATE (+ page, @len bytes used) */
	__le64 epoch;
	__le64 offset;		/* multiple of FTP_PROTO_PAGE_SIZE */
	__le32 len;		/* 1..FTP_PROTO_PAGE_SIZE */
	__le32 pad;
} __packed;

/* Limits a peer's message must respect, from the local region. */
struct ftp_proto_limits {
	__u64 nr_pages;
};

/* Largest fixed part of any message (HELLO). */
#define FTP_PROTO_MAX_FIXED	sizeof(struct ftp_msg_hello)

/*
 * Validate a received header: returns the payload length (sealed: with the
 * tag), or a negative enum ftp_err when the message is malformed.
 */
int ftp_proto_check_hdr(const struct ftp_hdr *h);

/* Largest payload of a sealed message. */
#define FTP_PROTO_MAX_SEALED	(FTP_PROTO_MAX_PAYLOAD + FTP_SEAL_TAG_LEN)

/*
 * A payload is a fixed part, validated by ftp_proto_check_fixed(), then
 * for the types ftp_proto_has_page() names FTP_PROTO_PAGE_SIZE bytes of
 * opaque page content.
 */
__u32 ftp_proto_fixed_len(unsigned int type);
int ftp_proto_has_page(unsigned int type);

/* Validate the fixed part of a @type payload; 0 or -enum ftp_err. */
int ftp_proto_check_fixed(unsigned int type, const void *p,
			  const struct ftp_proto_limits *lim);

/* Fill a header for a message of @type with @len payload bytes. */
void ftp_proto_hdr(struct ftp_hdr *h, unsigned int type, __u32 len, __u64 id);

/* CRC32C of @h with its csum field zero: where a message's CRC starts. */
__u32 ftp_proto_hdr_crc(const struct ftp_hdr *h);

/* Set h->csum for a payload of @flen bytes at @fixed then @dlen at @data. */
void ftp_proto_set_csum(struct ftp_hdr *h, const void *fixed, __u32 flen,
			const void *data, __u32 dlen);

/* CRC32C (Castagnoli) of @len bytes at @p, continuing from @crc. */
__u32 ftp_proto_crc32c(__u32 crc, const void *p, __u32 len);

/* Version both sides speak, or 0 if none. */
unsigned int ftp_proto_pick_version(unsigned int peer_min, unsigned int peer_max);

#endif /* FTP_PROTO_H */
