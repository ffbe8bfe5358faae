/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the remote-paging selftests: network namespaces of the pair
 * topology, SERVE/PULL, waiting for a region state, filling and digesting
 * regions without faulting them in, the kernel log, child processes that
 * touch one page.
 *
 * Sockets of SERVE/PULL live in the network namespace of the thread that
 * makes the ioctl: ftp_netns_enter() switches the calling thread.
 */
#ifndef FTP_REMOTE_H
#define FTP_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <linux/ftpage.h>

#define FTP_PAIR_A_NS	"ftpa"
#define FTP_PAIR_B_NS	"ftpb"
#define FTP_PAIR_A_ADDR	"10.77.0.1"
#define FTP_PAIR_B_ADDR	"10.77.0.2"
#define FTP_TWOVM_A_ADDR "10.78.0.1"
#define FTP_TWOVM_B_ADDR "10.78.0.2"

uint64_t ftp_now_ms(void);
void ftp_sleep_ms(unsigned int ms);

/* Run a shell command (printf format); returns its exit status, or -1. */
int ftp_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command (printf format), print its output as diagnostics
 * and keep up to len bytes of it in out; returns its exit status, or -1.
 */
int ftp_run_capture(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* pair topology: lib.sh pair_setup / pair_teardown. 0 on success. */
int ftp_pair_setup(void);
void ftp_pair_teardown(void);

/* Move the calling thread into netns NAME (/host/run/netns/NAME), or back
 * into the namespace it started in with NULL. 0 or -1 (errno).
 */
int ftp_netns_enter(const char *name);

/* SERVE / PULL with an IPv4 address; flags go to ftpage_peer.flags.
 * src_name may be NULL (same name). 0 or -1 with errno. They run without
 * authentication (*_INSECURE) unless flags has FTP_SECURE: then with the
 * region's key (ftp_set_key).
 */
#define FTP_SECURE	(1u << 31)	/* lib only, never passed on */
int ftp_serve(int ctl, const char *name, const char *ip, unsigned int port,
	      uint32_t flags);
int ftp_pull(int ctl, const char *name, const char *src_name, const char *ip,
	     unsigned int port);
int ftp_pull_flags(int ctl, const char *name, const char *src_name,
		   const char *ip, unsigned int port, uint32_t flags);
/* SET_KEY of region NAME. 0 or -1 with errno. */
int ftp_set_key(int ctl, const char *name, const void *key, uint32_t len);

/* Poll STATUS until state == want (or timeout); fills *st with the last
 * status. Returns 0 when reached, -1 otherwise.
 */
int ftp_wait_state(int ctl, const char *name, uint32_t want,
		   unsigned int timeout_ms, struct ftpage_status *st);

const char *ftp_state_str(uint32_t state);
const char *ftp_ferr_str(uint32_t err);
/* One "# name: ..." diagnostic line with the interesting counters. */
void ftp_status_diag(const char *name, const struct ftpage_status *st);

/* Write the kg pattern (seed) with pwrite into every page p of region
 * NAME for which want(p) is true (all pages when want is NULL). Returns the
 * number of pages written, or -1.
 */
typedef bool (*ftp_page_pred)(uint64_t page);
int64_t ftp_fill_pattern(const char *name, uint64_t size, uint32_t seed,
			 ftp_page_pred want);

struct ftp_digest {
	uint64_t hash;		/* order-dependent 64-bit hash of all bytes */
	uint64_t nonzero_pages;
	uint64_t pattern_pages;	/* pages equal to the kg pattern (seed) */
};

/* Read the whole region with pread (no faults, zero pages allocate
 * nothing) and digest it. 0 or -1 (errno, message on stdout).
 */
int ftp_region_digest(const char *name, uint64_t size, uint32_t seed,
		      struct ftp_digest *d);

/* Kernel log: put a marker line into it; then look for a substring in the
 * lines after the latest marker with that tag. Prints the matching line.
 */
void ftp_kmsg_mark(const char *tag);
bool ftp_kmsg_has(const char *tag, const char *needle);
/* How many of those lines have it (counting stops at max). */
int ftp_kmsg_count(const char *tag, const char *needle, int max);

/* Fork a child that maps region NAME (MAP_SHARED) and reads one dword of
 * page PAGE, then exits 0 (the value is reported via exit code 0 only if
 * it equals expect when check is true, else exit 3). Returns its pid.
 */
pid_t ftp_touch_child(const char *name, uint64_t size, uint64_t page,
		      bool check, uint32_t expect);

/* mmap(MAP_SHARED, read/write) of region NAME; MAP_FAILED on failure, else
 * *fd is the open node (close it after munmap).
 */
void *ftp_region_map(const char *name, uint64_t size, int *fd);

/* Wait for pid for at most timeout_ms. Returns 1 and *status when reaped,
 * 0 on timeout (child still running), -1 on error. *ms = time waited.
 */
int ftp_wait_child(pid_t pid, unsigned int timeout_ms, int *status,
		   uint64_t *ms);

/* Is the child blocked in the kernel (state D/S in /proc/pid/stat)? Returns
 * the state letter, or 0 when gone.
 */
char ftp_proc_state(pid_t pid);

/* Connect a TCP client to ip:port in the current netns; fd or -1. */
int ftp_tcp_connect(const char *ip, unsigned int port, unsigned int timeout_ms);
/* A TCP listener on ip:port in the current netns (SO_REUSEADDR); fd or -1. */
int ftp_tcp_listen(const char *ip, unsigned int port);
/* Send / receive exactly len bytes (retrying short transfers and EINTR).
 * 0, or -1 with errno (0 for EOF).
 */
int ftp_send_all(int fd, const void *buf, size_t len);
int ftp_recv_all(int fd, void *buf, size_t len);

/* Epochs (FTPAGE_FEATURE_EPOCHS): COMMIT on a dest, ROLLBACK and
 * CHECKPOINT on a source. The out-pointers may be NULL; they are filled
 * from the kernel's answer even when the call fails (CHECKPOINT's ENOSPC
 * reports state_len). 0 or -1 with errno.
 */
int ftp_commit(int ctl, const char *name, const void *state,
	       uint64_t state_len, uint32_t flags, uint64_t *epoch,
	       uint64_t *pages);
int ftp_rollback(int ctl, const char *name);
int ftp_checkpoint(int ctl, const char *name, void *buf, uint64_t buf_len,
		   uint64_t *epoch, uint64_t *state_len);
/* One "# name: ..." line with state, epoch, committed_epoch, journal_bytes. */
void ftp_epoch_diag(const char *name, const struct ftpage_status *st);

/* Poll STATUS of dest NAME until no channel is up (connected 0); 0 when
 * reached, -1 on timeout. *st holds the last status.
 */
int ftp_wait_link_down(int ctl, const char *name, unsigned int timeout_ms,
		       struct ftpage_status *st);

/* Deterministic bytes for state blobs: len bytes of a seeded stream. */
void ftp_blob_fill(void *buf, uint64_t len, uint64_t seed);

/* pread len bytes at off of region NAME into buf. 0 or -1 (message). */
int ftp_region_read(const char *name, void *buf, uint64_t off, uint64_t len);

/* Compare two images of size bytes page by page; returns the number of
 * differing pages and prints up to max_report of them ("# what: page N
 * offset O got G want W").
 */
uint64_t ftp_pages_diff(const void *got, const void *want, uint64_t size,
			const char *what, unsigned int max_report);

/* Are the kernel log lines after marker TAG free of warnings, BUGs,
 * oopses, lockups and call traces? Prints the offending lines.
 */
bool ftp_kmsg_clean(const char *tag);


/*
 * Fault tolerance (FTPAGE_FEATURE_LEASE): module parameters, link faults,
 * the end-of-migration event, a writer that shows progress, page models.
 */

/* ftp_sh() with lib.sh sourced first: its functions (pair_link, pair_netem,
 * qdisc_set, twovm_kill_peer, ...) are available.
 */
int ftp_lib_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ftp_sh() capturing up to len-1 bytes of stdout in out (NUL-terminated,
 * trailing newlines removed); returns the exit status, or -1.
 */
int ftp_sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* /sys/module/ftpage/parameters/NAME: write val (0 or -1 with a
 * diagnostic), read (-1 when unreadable).
 */
int ftp_param_set(const char *name, unsigned long val);
long long ftp_param_get(const char *name);

/*
 * The established TCP connections at local port PORT in netns NS, as the
 * host's ss sees them (tcp_diag loaded on demand): up to max into out;
 * how many there are, or -1.
 */
struct ftp_ss_conn {
	unsigned int peer_port;
	char cc[16];			/* congestion control */
	uint64_t bytes_acked;		/* sent and acknowledged */
	uint64_t bytes_received;
};
int ftp_ss_conns(const char *ns, unsigned int port, struct ftp_ss_conn *out,
		 int max);
/* Abort (ss -K) the connection from local PORT to peer port PEER in NS:
 * both ends see it reset. 0 or -1.
 */
int ftp_ss_kill(const char *ns, unsigned int port, unsigned int peer);
/*
 * The peer port of the latest channel source region SRC logged as
 * "attached (WHAT" (a grep pattern), or 0. Stream 0's line says "demand
 * channel)", "bulk channel)", "journal channel)"; the other streams' are
 * logged at debug level 1, "journal channel 2", say.
 */
unsigned int ftp_attached_port(const char *src, const char *what);

/*
 * Threads (kernel ones too) whose name begins with PREFIX; *AT_NICE: how
 * many of them run at nice level NICE. -1 if /proc cannot be read.
 */
int ftp_threads(const char *prefix, int nice, int *at_nice);

/* Channels of a pair with @streams push streams: demand, push, journal. */
static inline unsigned int ftp_channels(unsigned int streams)
{
	return 1 + 2 * streams;
}

/* Set lease_ms, rollback_after_ms and commit_interval_ms (read by the
 * module when SERVE/PULL starts) and check they read back (diagnostic).
 */
bool ftp_lease_params(unsigned int lease_ms, unsigned int rollback_after_ms,
		      unsigned int commit_interval_ms);

/* pair topology: veth-a (netns ftpa) up or down -- both ends lose carrier;
 * netem with ARGS (tools/ftp_netem syntax: "loss 100", "delay 5 loss 2
 * reorder 25") on the egress of both ends (NULL: remove it). 0 or -1.
 */
int ftp_pair_link(bool up);
int ftp_pair_netem(const char *args);

/* pair topology: lib.sh's pair_shaped_link -- a link delayed by delay_us
 * each way and shaped at kbit, packets with DS field tos first -- and the
 * bytes each end sent through its priority class and the rest since:
 * bytes[0] veth-a's, bytes[1] veth-b's, each { priority, rest }
 * (ftp_pair_netem(NULL) removes it). 0 or -1.
 */
int ftp_pair_shaped_link(unsigned int delay_us, unsigned int kbit,
			 unsigned int tos);
int ftp_pair_class_bytes(uint64_t bytes[2][2]);

/* The other one of the pair: source filled with the kg pattern (seed) on
 * the pages for which want(p) (all when NULL), frozen, served in ftpa with
 * serve_flags; dest created and pulling in ftpb. *written (if not NULL):
 * pattern pages.
 * A diagnostic line; false on failure.
 */
bool ftp_pair_pull(int ctl, const char *src, const char *dst, uint64_t size,
		   uint32_t seed, ftp_page_pred want, unsigned int port,
		   uint32_t serve_flags, int64_t *written);
/* The same in two steps: all but the pull (*written required), then it. */
bool ftp_pair_serve(int ctl, const char *src, const char *dst, uint64_t size,
		    uint32_t seed, ftp_page_pred want, unsigned int port,
		    uint32_t serve_flags, int64_t *written);
int ftp_pair_pull_only(int ctl, const char *src, const char *dst,
		       unsigned int port);

/* twovm: PULL from the peer at ip:port, retrying while it does not serve
 * yet (it boots at about the same time), for at most timeout_ms.
 */
int ftp_pull_retry(int ctl, const char *name, const char *src_name,
		   const char *ip, unsigned int port, unsigned int timeout_ms);

/* The model of a region filled by ftp_fill_pattern(): buf of size bytes. */
void ftp_pattern_image(void *buf, uint64_t size, uint32_t seed,
		       ftp_page_pred want);

/* Stamp one page: every 64-bit word names tag, the page and the word. */
void ftp_stamp_page(void *page, uint64_t tag, uint64_t p);

/* For every page p with want(p): stamp page p of model with tag and pwrite
 * it into region NAME (runs of pages in one call). Returns the number of
 * pages written, or -1 (message).
 */
int64_t ftp_write_stamps(const char *name, uint8_t *model, uint64_t size,
			 uint64_t tag, ftp_page_pred want);

/* Read region NAME (pread) and compare it with model page by page: the
 * number of differing pages (up to max_report printed), ~0 when the read
 * failed.
 */
uint64_t ftp_region_diff(const char *name, const void *model, uint64_t size,
			 const char *what, unsigned int max_report);

/* Open region NAME's node and poll() it for POLLPRI (the migration ended
 * on this side) for at most timeout_ms: 1 reported (*ms: time waited), 0
 * timeout, -1 error. A timeout of 0 only looks.
 */
int ftp_wait_ended(const char *name, unsigned int timeout_ms, uint64_t *ms);

/* One "# name: ..." line with state, reconnects, fenced/attached,
 * lease_left_ms, connected, epochs, errors.
 */
void ftp_lease_diag(const char *name, const struct ftpage_status *st);

/* Poll STATUS until (status_flags & flag) == (set ? flag : 0); like
 * ftp_wait_state.
 */
int ftp_wait_flag(int ctl, const char *name, uint32_t flag, bool set,
		  unsigned int timeout_ms, struct ftpage_status *st);

/*
 * A ticker: a child process that maps region NAME read-write and stamps a
 * counter into dword 0 of page PAGE as fast as it can, recording in shared
 * memory the count and the time (ftp_now_ms) of each completed write. Being
 * a process, a SIGBUS kills it and not the test.
 */
struct ftp_ticker {
	pid_t pid;
	volatile uint64_t *sh;	/* [0] count, [1] ms of the last write,
				 * [2] stop request, [3] 1 once mapped */
	int status;		/* wait status once reaped */
	bool reaped;
};
int ftp_ticker_start(struct ftp_ticker *t, const char *name, uint64_t size,
		     uint64_t page);
static inline uint64_t ftp_ticker_count(const struct ftp_ticker *t)
{
	return t->sh[0];
}
static inline uint64_t ftp_ticker_last_ms(const struct ftp_ticker *t)
{
	return t->sh[1];
}
/* Ask it to stop (it exits 0 after its current write), wait at most
 * timeout_ms, SIGKILL it after that. Returns true when it exited by itself
 * (t->status holds the wait status in any case).
 */
bool ftp_ticker_stop(struct ftp_ticker *t, unsigned int timeout_ms);
/* Wait at most timeout_ms for it to die (of a signal, say); true if it did. */
bool ftp_ticker_wait(struct ftp_ticker *t, unsigned int timeout_ms);
void ftp_ticker_free(struct ftp_ticker *t);

/*
 * Steps the fault-injection and epoch tests repeat.
 */

/* ftp_status() followed by ftp_lease_diag() / ftp_epoch_diag(); returns
 * what ftp_status() returned.
 */
int ftp_status_lease_diag(int ctl, const char *name, struct ftpage_status *st);
int ftp_status_epoch_diag(int ctl, const char *name, struct ftpage_status *st);

/* Poll STATUS of NAME (every 20 ms) until committed_epoch >= epoch; like
 * ftp_wait_state.
 */
int ftp_wait_committed(int ctl, const char *name, uint64_t epoch,
		       unsigned int timeout_ms, struct ftpage_status *st);

/* Poll STATUS of NAME without sleeping (a stream must be caught while it
 * is staged) until journal_bytes > 0 or committed_epoch > committed; 0
 * when reached, -1 on timeout. *st holds the last status.
 */
int ftp_wait_staged(int ctl, const char *name, uint64_t committed,
		    unsigned int timeout_ms, struct ftpage_status *st);

/* ftp_pair_pull(), then wait (at most 60 s) for the dest to complete; a
 * status diagnostic when it does not. True when complete.
 */
bool ftp_pair_pull_complete(int ctl, const char *src, const char *dst,
			    uint64_t size, uint32_t seed, ftp_page_pred want,
			    unsigned int port, uint32_t serve_flags,
			    int64_t *written);

/* ftp_write_stamps(name, model, size, tag, want), then COMMIT with the
 * state blob (may be NULL) and flags. Returns 0, or the errno value of
 * what failed (EIO when the stamps could not be written); r is filled in
 * any case (written -1 when the stamps failed).
 */
struct ftp_commit_res {
	int64_t written;
	uint64_t epoch, pages;
};
int ftp_stamp_commit(int ctl, const char *name, uint8_t *model, uint64_t size,
		     uint64_t tag, ftp_page_pred want, const void *blob,
		     uint64_t blob_len, uint32_t flags, struct ftp_commit_res *r);

/* CHECKPOINT of source NAME into a buffer larger than blob_len: true when
 * it succeeded at epoch `epoch` with exactly the blob. ck: what it
 * returned (err: errno value or 0).
 */
struct ftp_ckpt_res {
	uint64_t epoch, len;
	int err;
};
bool ftp_checkpoint_is(int ctl, const char *name, uint64_t epoch,
		       const void *blob, uint64_t blob_len,
		       struct ftp_ckpt_res *ck);

/* A "dest VMM" child: maps region NAME read-only (SIGBUS kills it) and
 * checks every step-th page in the scrambled order kg_pick_stride(pages,
 * seed): the kg pattern (seed) where pattern(p) (every page when NULL),
 * zero elsewhere. It exits with the number of bad pages (at most 100),
 * 200/201 when it cannot open/map. Returns its pid (-1 when fork failed).
 */
pid_t ftp_scan_child(const char *name, uint64_t size, uint32_t seed,
		     ftp_page_pred pattern, unsigned int step);
/* The same, page i read not before over_ms * i / pages (a paced VM). */
pid_t ftp_scan_child_paced(const char *name, uint64_t size, uint32_t seed,
			   ftp_page_pred pattern, unsigned int step,
			   unsigned int over_ms);

/* ftp_wait_child(); a child still running after timeout_ms is SIGKILLed
 * and reaped (*status then says so). Returns what ftp_wait_child did.
 */
int ftp_reap_child(pid_t pid, unsigned int timeout_ms, int *status,
		   uint64_t *ms);

/* "exit N" / "signal NAME" for a wait status (a static buffer). */
const char *ftp_wstatus_str(int status);

/* pwrite the 8 bytes v at off of region NAME and pread them back (*back,
 * may be NULL): true when they read back.
 */
bool ftp_region_rw(const char *name, uint64_t off, uint64_t v, uint64_t *back);

/*
 * TAP sequences of the pair tests. Being static inline, they report in the
 * calling test's TAP stream (tap.h keeps its counters per program file).
 */
#include "ftp_util.h"
#include "tap.h"

/* The opening: checks "pair topology up" and "open the control node".
 * The control fd, or -1 (the test returns tap_finish()).
 */
static inline int ftp_pair_open(void)
{
	int ctl;

	if (!tap_check(!ftp_pair_setup(), "pair topology up"))
		return -1;
	ctl = ftp_ctl_open();
	if (!tap_call(ctl, "open the control node"))
		return -1;
	return ctl;
}

/* Check "lease_ms=L rollback_after_ms=R": ftp_lease_params(L, R, 0). */
static inline bool ftp_lease_check(unsigned int lease_ms,
				   unsigned int rollback_after_ms)
{
	return tap_check(ftp_lease_params(lease_ms, rollback_after_ms, 0),
			 "lease_ms=%u rollback_after_ms=%u", lease_ms,
			 rollback_after_ms);
}

/*
 * For tests that roll back by hand while attached: the rollback waits for
 * the last lease granted, so keep it short (a diagnostic if it cannot be).
 */
static inline void ftp_lease_short(void)
{
	if (!ftp_lease_params(1000, 30000, 0))
		tap_diag("lease_ms not shortened: each rollback waits 5 s");
}

/* The end: checks "no kernel warning" (after ftp_kmsg_mark(tag)) and
 * "destroy both regions" (dst, then src); closes ctl, tears the pair
 * topology down. Returns tap_finish().
 */
static inline int ftp_pair_close(int ctl, const char *tag, const char *dst,
				 const char *src)
{
	tap_check(ftp_kmsg_clean(tag), "no kernel warning");
	tap_check(!ftp_destroy(ctl, dst) && !ftp_destroy(ctl, src),
		  "destroy both regions");
	close(ctl);
	ftp_pair_teardown();
	return tap_finish();
}

/*
 * Check "dest equals the model, every page": region dst equals model (size
 * bytes; NULL fails) page by page, and src by digest, with `written`
 * pages of the kg pattern (seed).
 */
static inline bool ftp_exact_check(const char *src, const char *dst,
				   uint64_t size, uint32_t seed,
				   const void *model, int64_t written)
{
	struct ftp_digest ds, dd;
	uint64_t diff = ~0ull;
	bool ok;

	if (model)
		diff = ftp_region_diff(dst, model, size, "dest vs model", 8);
	ok = !ftp_region_digest(src, size, seed, &ds) &&
	     !ftp_region_digest(dst, size, seed, &dd);
	return tap_check(diff == 0 && ok && dd.hash == ds.hash &&
			 dd.pattern_pages == (uint64_t)written,
			 "dest equals the model, every page (%llu differ): %llu "
			 "pattern pages of %lld, digest %016llx (source %016llx)",
			 (unsigned long long)diff,
			 (unsigned long long)dd.pattern_pages, (long long)written,
			 (unsigned long long)dd.hash,
			 (unsigned long long)ds.hash);
}

/* Check "<what>: epoch E, P pages (wrote W) (error)": ftp_stamp_commit()
 * succeeded at epoch `epoch` with exactly the pages stamped. r may be NULL.
 */
static inline bool ftp_commit_check(int ctl, const char *name, uint8_t *model,
				    uint64_t size, uint64_t tag,
				    ftp_page_pred want, const void *blob,
				    uint64_t blob_len, uint32_t flags,
				    uint64_t epoch, const char *what,
				    struct ftp_commit_res *r)
{
	struct ftp_commit_res res;
	int e;

	if (!r)
		r = &res;
	e = ftp_stamp_commit(ctl, name, model, size, tag, want, blob, blob_len,
			     flags, r);
	return tap_check(!e && r->epoch == epoch &&
			 r->pages == (uint64_t)r->written,
			 "%s: epoch %llu, %llu pages (wrote %lld) (%s)", what,
			 (unsigned long long)r->epoch,
			 (unsigned long long)r->pages, (long long)r->written,
			 e ? strerror(e) : "ok");
}

/* Source NAME after a rollback to epoch `epoch`: checks "source equals the
 * model of epoch E, every page" (model: size bytes) and "checkpoint: epoch
 * E, <blob_what> (N bytes)" against the blob.
 */
static inline void ftp_rolled_back_check(int ctl, const char *name,
					 const void *model, uint64_t size,
					 uint64_t epoch, const void *blob,
					 uint64_t blob_len, const char *blob_what)
{
	struct ftp_ckpt_res ck;
	char what[64];
	uint64_t diff;
	bool ok;

	snprintf(what, sizeof(what), "source vs epoch %llu",
		 (unsigned long long)epoch);
	diff = ftp_region_diff(name, model, size, what, 8);
	tap_check(diff == 0, "source equals the model of epoch %llu, every "
		  "page (%llu differ)", (unsigned long long)epoch,
		  (unsigned long long)diff);
	ok = ftp_checkpoint_is(ctl, name, epoch, blob, blob_len, &ck);
	tap_check(ok, "checkpoint: epoch %llu, %s (%llu bytes) (%s)",
		  (unsigned long long)ck.epoch, blob_what,
		  (unsigned long long)ck.len, ck.err ? strerror(ck.err) : "ok");
}

/*
 * tools/ftp_fakepeer proxy in netns ftpa: FTP_PAIR_A_ADDR:port forwarded
 * to FTP_PAIR_A_ADDR:to_port, the first handshake captured to capfile;
 * with corrupt_every, one bit of what the target sends flipped that often
 * (then it runs until killed); with up_flips too, instead one bit of what
 * the peer sends, at byte corrupt_every of a connection, in the first
 * up_flips connections that long. Its pid once it listens, or -1.
 */
pid_t ftp_proxy_start(unsigned int port, unsigned int to_port,
		      const char *capfile, const char *readyfile,
		      unsigned long corrupt_every, unsigned int up_flips);

/*
 * The benchmark tools: close the memstream f (its text in *buf, *len
 * bytes) and print it as file NAME between "@@FTPAGE-BENCH-FILE NAME@@"
 * and "@@FTPAGE-BENCH-END@@" lines (vm/bench_out.sh takes it out of the
 * console log); frees *buf.
 */
void ftp_emit_file(const char *name, FILE *f, char **buf, size_t *len);

#endif /* FTP_REMOTE_H */

/* A raw-KVM guest (kvm_guest.h) whose RAM (memslot 0, GPA 0) is mem. NULL
 * with a diagnostic on failure.
 */
struct kg_vm;
struct kg_args;
struct kg_vm *ftp_guest_create(void *mem, uint64_t size, unsigned int nr_vcpus);
/* Run prog on every vCPU with args[i]; 0 when all reported done (results
 * in vm->vcpus[i].result), -1 otherwise (diagnostics printed). Exits the
 * test when a vCPU is stuck.
 */
int ftp_guest_run(struct kg_vm *vm, int prog, const struct kg_args *args,
		  unsigned int timeout_s);
