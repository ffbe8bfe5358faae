/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ftpage: fault-tolerant remote paging for post-copy live migration.
 *
 * Control interface. Everything goes through ioctls on FTPAGE_CONTROL_PATH.
 * FTPAGE_IOC_API must be the first call on an open control file, as with
 * UFFDIO_API: every other command fails with -EINVAL until it succeeded.
 *
 * Rules every command follows:
 *  - fields are __u32/__u64 only, pointers travel as __u64;
 *  - "flags" fields reject unknown bits with -EINVAL;
 *  - "reserved" fields must be zero on input (-EINVAL otherwise) and are
 *    written as zero on output;
 *  - a command never changes layout: new needs get new commands.
 */
#ifndef _UAPI_LINUX_FTPAGE_H
#define _UAPI_LINUX_FTPAGE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define FTPAGE_API		1
#define FTPAGE_CONTROL_PATH	"/dev/ftpage/control"
#define FTPAGE_DEV_DIR		"/dev/ftpage"

/*
 * A region name: 1..FTPAGE_NAME_MAX-1 bytes of [A-Za-z0-9_.-], not
 * starting with '.', and not "control".
 */
#define FTPAGE_NAME_MAX		32

/* Region sizes are multiples of this, whatever the host's page size. */
#define FTPAGE_PAGE_SIZE	4096ULL
#define FTPAGE_SIZE_MAX		(1ULL << 42)	/* 4 TiB */

/* Feature bits reported by FTPAGE_IOC_API. */
#define FTPAGE_FEATURE_LOCAL_REGION	(1ULL << 0)	/* zero-filled local regions */
#define FTPAGE_FEATURE_FREEZE		(1ULL << 1)	/* FTPAGE_IOC_FREEZE */
#define FTPAGE_FEATURE_REMOTE		(1ULL << 2)	/* SERVE and PULL over TCP */
#define FTPAGE_FEATURE_EPOCHS		(1ULL << 3)	/* COMMIT, ROLLBACK, CHECKPOINT */
#define FTPAGE_FEATURE_LEASE		(1ULL << 4)	/* lease, fencing, reconnect,
							 * automatic rollback, DONE */
#define FTPAGE_FEATURE_AUTH		(1ULL << 5)	/* SET_KEY: peers authenticate
							 * with a pre-shared key */
#define FTPAGE_FEATURE_ENCRYPT		(1ULL << 6)	/* *_ENCRYPT: AES-GCM on
							 * every message */
#define FTPAGE_FEATURE_ALLOW_PEER	(1ULL << 7)	/* ALLOW_PEER: one allowed
							 * destination address */
#define FTPAGE_FEATURE_PUSH_BUDGET	(1ULL << 8)	/* STATUS push_budget: the
							 * push's in-flight bound */
#define FTPAGE_FEATURES_ALL		(FTPAGE_FEATURE_LOCAL_REGION | \
					 FTPAGE_FEATURE_FREEZE | \
					 FTPAGE_FEATURE_REMOTE | \
					 FTPAGE_FEATURE_EPOCHS | \
					 FTPAGE_FEATURE_LEASE | \
					 FTPAGE_FEATURE_AUTH | \
					 FTPAGE_FEATURE_ENCRYPT | \
					 FTPAGE_FEATURE_ALLOW_PEER | \
					 FTPAGE_FEATURE_PUSH_BUDGET)

struct ftpage_api {
	__u32 api;		/* in: FTPAGE_API; out: FTPAGE_API */
	__u32 flags;		/* in: must be 0 */
	__u64 features;		/* in: wanted (subset of known); out: supported */
	__u64 ioctls;		/* out: bit (1 << _IOC_NR(cmd)) per command */
	__u64 reserved[5];
};

enum ftpage_role {
	FTPAGE_ROLE_SOURCE = 1,	/* memory is local, may be served */
	FTPAGE_ROLE_DEST = 2,	/* memory is pulled from a source */
};

/* Region states. Transitions are checked by the kernel; see README. */
enum ftpage_state {
	FTPAGE_STATE_LOCAL = 1,		/* source: private memory, writable */
	FTPAGE_STATE_FROZEN = 2,	/* source: content final, writes refused */
	FTPAGE_STATE_EMPTY = 3,		/* dest: not attached to a source yet */
	FTPAGE_STATE_DEAD = 4,		/* destroyed, waiting for last user */
	FTPAGE_STATE_PULLING = 5,	/* dest: attached, pages still missing */
	FTPAGE_STATE_COMPLETE = 6,	/* dest: every page local; source: the
					 * destination has every page */
	FTPAGE_STATE_BROKEN = 7,	/* dest: link to the source lost while
					 * pages are missing; reconnecting */
	FTPAGE_STATE_ROLLED_BACK = 8,	/* source: back at the last committed
					 * epoch, writable again */
	FTPAGE_STATE_ABANDONED = 9,	/* dest: the source rolled back; the
					 * region is unusable (SIGBUS) */
	FTPAGE_STATE_DONE = 10,		/* migration declared done: dest is a
					 * standalone region; source released
					 * its memory */
};

/* Why the last fault failed (ftpage_status.last_error). */
enum ftpage_fault_error {
	FTPAGE_FERR_NONE = 0,
	FTPAGE_FERR_TIMEOUT = 1,	/* no reply within fault_timeout_ms */
	FTPAGE_FERR_LINK = 2,		/* link to the source lost */
	FTPAGE_FERR_DETACHED = 3,	/* dest region not attached to a source */
	FTPAGE_FERR_FROZEN = 4,		/* write to a frozen source */
	FTPAGE_FERR_DEAD = 5,		/* region destroyed */
	FTPAGE_FERR_FENCED = 6,		/* dest: lease lapsed, not renewed in time */
	FTPAGE_FERR_ABANDONED = 7,	/* dest: the source rolled back */
};

/* ftpage_status.status_flags */
#define FTPAGE_STATUS_FENCED	(1U << 0)	/* dest: lease lapsed: faults and
						 * writes wait for a renewal */
#define FTPAGE_STATUS_ATTACHED	(1U << 1)	/* source: bound to a destination
						 * (its lease is watched) */
#define FTPAGE_STATUS_INSECURE	(1U << 2)	/* served or pulled without
						 * authentication (*_INSECURE) */
#define FTPAGE_STATUS_ENCRYPTED	(1U << 3)	/* pulled with PULL_ENCRYPT;
						 * source: served with
						 * SERVE_ENCRYPT, or a
						 * destination asked for it */

struct ftpage_create {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u64 size;		/* in: bytes, multiple of FTPAGE_PAGE_SIZE */
	__u32 role;		/* in: enum ftpage_role */
	__u32 flags;		/* in: must be 0 */
	__u64 reserved[4];
};

/* Commands that name one region and take nothing else. */
struct ftpage_region_ref {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved0;
	__u64 reserved[2];
};

/*
 * SERVE (source: listen for the destination) and PULL (destination:
 * attach to a source). @addr points to a struct sockaddr_in or
 * sockaddr_in6 of @addrlen bytes; a zero port means the module's "port"
 * parameter. Sockets live in the caller's network namespace.
 */
/*
 * ftpage_peer.flags for SERVE: answer page requests but push nothing
 * (measuring or testing demand paging alone).
 */
#define FTPAGE_SERVE_NO_PUSH	(1U << 0)
/*
 * SERVE and PULL authenticate the peer with the region's key (SET_KEY)
 * and fail with -ENOKEY when it has none, unless told to run without
 * authentication (status then reports FTPAGE_STATUS_INSECURE).
 */
#define FTPAGE_SERVE_INSECURE	(1U << 1)
#define FTPAGE_PULL_INSECURE	(1U << 1)
/*
 * Encrypt every message after the handshake (AES-256-GCM, keys derived
 * from it). PULL_ENCRYPT asks the source, and fails with -EKEYREJECTED if
 * it cannot; SERVE_ENCRYPT refuses destinations that do not ask (their
 * PULL fails with -ENOPROTOOPT). A source without the flag encrypts for
 * destinations that ask. Needs authentication: with *_INSECURE, -EINVAL;
 * -ENOPKG when the kernel has no gcm(aes).
 */
#define FTPAGE_SERVE_ENCRYPT	(1U << 2)
#define FTPAGE_PULL_ENCRYPT	(1U << 2)
#define FTPAGE_SERVE_FLAGS	(FTPAGE_SERVE_NO_PUSH | FTPAGE_SERVE_INSECURE | \
				 FTPAGE_SERVE_ENCRYPT)
#define FTPAGE_PULL_FLAGS	(FTPAGE_PULL_INSECURE | FTPAGE_PULL_ENCRYPT)

struct ftpage_peer {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u64 addr;		/* in: pointer to struct sockaddr */
	__u32 addrlen;		/* in: bytes at @addr */
	__u32 flags;		/* in: FTPAGE_SERVE_* / FTPAGE_PULL_* */
	__u64 peer_name;	/* in, PULL: the source region's name if it
				 * differs from ours (pointer), or 0 */
	__u64 reserved[3];
};

struct ftpage_status {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u32 flags;		/* in: must be 0 */
	__u32 role;		/* out: enum ftpage_role */
	__u32 state;		/* out: enum ftpage_state */
	__u32 openers;		/* out: open files on the region node */
	__u64 size;		/* out: bytes */
	__u64 pages_total;
	__u64 pages_present;	/* pages held locally (allocated) */
	__u64 pages_known;	/* dest: pages local or known to be zero */
	__u64 faults;		/* page faults that found no page table entry */
	__u64 write_faults;	/* first writes to a mapped page */
	__u64 zero_fills;	/* pages created zero-filled */
	__u64 refused_writes;	/* writes refused (frozen region) */
	__u64 demand_faults;	/* dest: page requests sent */
	__u64 pages_fetched;	/* dest: pages received for requests */
	__u64 pages_pushed;	/* dest: pages received from the push;
				 * source: pages sent by the push */
	__u64 pages_served;	/* source: pages sent for requests */
	__u64 zero_pages;	/* pages sent/received as zero, not data */
	__u64 bytes_rx;
	__u64 bytes_tx;
	__u64 fault_lat_p50_ns;	/* dest: request to arrival */
	__u64 fault_lat_p99_ns;
	__u64 fault_lat_max_ns;
	__u64 errors;		/* faults failed (SIGBUS), protocol errors */
	__u32 last_error;	/* enum ftpage_fault_error */
	__u32 connected;	/* channels up (dest: 0, or demand, journal
				 * and the push streams) */
	__u64 epoch;		/* dest: last sealed; source: last received */
	__u64 committed_epoch;	/* applied on the source (0: the frozen image) */
	__u64 journal_bytes;	/* dest: sealed, not acknowledged; source:
				 * staged, not applied */
	__u64 reconnects;	/* dest: links re-established after a loss;
				 * source: destination reattachments */
	__u32 status_flags;	/* FTPAGE_STATUS_* */
	__u32 lease_left_ms;	/* dest: lease left (0: lapsed); source:
				 * time left before the destination is
				 * declared lost (0: not watched) */
	__u64 push_budget;	/* source: bytes its push streams may keep
				 * in flight together now (bulk_gain; 0: no
				 * bound, or none measured yet) */
	__u64 reserved[2];
};

/*
 * COMMIT (destination): seal epoch N -- every page written since the last
 * seal, as it is at this instant, plus an optional opaque state blob
 * (device/vCPU state) -- and stream it to the source in the background.
 * The source applies an epoch only once all of it arrived. With
 * FTPAGE_COMMIT_WAIT the call returns once the source applied it.
 */
#define FTPAGE_COMMIT_STATE_MAX	(64ULL << 20)
#define FTPAGE_COMMIT_WAIT	(1U << 0)
#define FTPAGE_COMMIT_FLAGS	FTPAGE_COMMIT_WAIT

struct ftpage_commit {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u64 state;		/* in: pointer to the blob, or 0 */
	__u64 state_len;	/* in: bytes at @state, <= FTPAGE_COMMIT_STATE_MAX */
	__u32 flags;		/* in: FTPAGE_COMMIT_* */
	__u32 reserved0;
	__u64 epoch;		/* out: the epoch sealed */
	__u64 pages;		/* out: pages in it */
	__u64 reserved[2];
};

/*
 * CHECKPOINT (source): copy the state blob of the last committed epoch to
 * @buf. With @buf 0, or @buf_len too small (-ENOSPC), only @state_len and
 * @epoch are filled in.
 */
struct ftpage_checkpoint {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u64 buf;		/* in: pointer, or 0 */
	__u64 buf_len;		/* in: bytes at @buf */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved0;
	__u64 epoch;		/* out: the committed epoch */
	__u64 state_len;	/* out: bytes of its blob */
	__u64 reserved[2];
};

/*
 * SET_KEY: the pre-shared key a region's SERVE or PULL authenticates its
 * peer with (mutual HMAC-SHA256 challenge-response); both hosts give the
 * same key. It replaces the region's previous key and is used by the next
 * SERVE or PULL; it is never shown back and is wiped when the region is
 * destroyed.
 */
#define FTPAGE_KEY_MIN		16
#define FTPAGE_KEY_MAX		64

struct ftpage_key {
	__u64 name;		/* in: pointer to NUL-terminated name */
	__u64 key;		/* in: pointer to @key_len bytes */
	__u32 key_len;		/* in: FTPAGE_KEY_MIN..FTPAGE_KEY_MAX */
	__u32 flags;		/* in: must be 0 */
	__u64 reserved[3];
};

/*
 * ALLOW_PEER (source), with a struct ftpage_peer: the next SERVE accepts
 * connections only from the host at @addr (a sockaddr_in or sockaddr_in6
 * with port 0: a destination connects from any port); others are closed
 * at once, told ERROR "not the expected destination" (their PULL fails
 * with -EACCES), and logged. @addr 0 and @addrlen 0 allow any host again.
 * @flags and @peer_name must be 0.
 */

/*
 * DONE (destination, complete): declare the migration done. The source is
 * told, moves to FTPAGE_STATE_DONE and frees its copy; then the
 * destination does too and needs no lease any more. No rollback remains.
 * -EBUSY while pages are missing, -ENOTCONN when the source cannot be
 * reached (retry once the link is back).
 *
 * poll() on an open region node reports EPOLLPRI once the migration has
 * ended on that side: states ROLLED_BACK, ABANDONED, DONE or DEAD.
 */

#define FTPAGE_IOC_MAGIC	0xF7

#define FTPAGE_IOC_API		_IOWR(FTPAGE_IOC_MAGIC, 0x00, struct ftpage_api)
#define FTPAGE_IOC_CREATE	_IOW(FTPAGE_IOC_MAGIC, 0x01, struct ftpage_create)
#define FTPAGE_IOC_DESTROY	_IOW(FTPAGE_IOC_MAGIC, 0x02, struct ftpage_region_ref)
#define FTPAGE_IOC_STATUS	_IOWR(FTPAGE_IOC_MAGIC, 0x03, struct ftpage_status)
#define FTPAGE_IOC_FREEZE	_IOW(FTPAGE_IOC_MAGIC, 0x04, struct ftpage_region_ref)
#define FTPAGE_IOC_SERVE	_IOW(FTPAGE_IOC_MAGIC, 0x05, struct ftpage_peer)
#define FTPAGE_IOC_PULL		_IOW(FTPAGE_IOC_MAGIC, 0x06, struct ftpage_peer)
#define FTPAGE_IOC_COMMIT	_IOWR(FTPAGE_IOC_MAGIC, 0x07, struct ftpage_commit)
#define FTPAGE_IOC_ROLLBACK	_IOW(FTPAGE_IOC_MAGIC, 0x08, struct ftpage_region_ref)
#define FTPAGE_IOC_CHECKPOINT	_IOWR(FTPAGE_IOC_MAGIC, 0x09, struct ftpage_checkpoint)
#define FTPAGE_IOC_DONE		_IOW(FTPAGE_IOC_MAGIC, 0x0a, struct ftpage_region_ref)
#define FTPAGE_IOC_SET_KEY	_IOW(FTPAGE_IOC_MAGIC, 0x0b, struct ftpage_key)
#define FTPAGE_IOC_ALLOW_PEER	_IOW(FTPAGE_IOC_MAGIC, 0x0c, struct ftpage_peer)

#endif /* _UAPI_LINUX_FTPAGE_H */
