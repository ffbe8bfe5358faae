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

/* Fork a child that maps region NAME (MAP_SHARED) and reads one dword of
 * page PAGE, then exits 0 (the value is reported via exit code 0 only if
 * it equals expect when check is true, else exit 3). Returns its pid.
 */
pid_t ftp_touch_child(const char *name, uint64_t size, uint64_t page,
		      bool check, uint32_t expect);

/* The usual pair set-up: source SRC of size bytes created, filled with the
 * kg pattern (seed) on every page, frozen and served in netns ftpa on port
 * with serve_flags; dest DST created and pulling from it in ftpb. Returns
 * to the caller's netns. 0, or -1 with a diagnostic line.
 */
int ftp_pair_pull(int ctl, const char *src, const char *dst, uint64_t size,
		  uint32_t seed, unsigned int port, uint32_t serve_flags);

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
