/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_guest: a small raw-KVM guest library for the ftpage selftests.
 *
 * A guest is a VM with N vCPUs in 32-bit protected mode (flat 4 GiB
 * segments, no paging, no interrupts, no IDT: any exception ends in a
 * triple fault, reported as an error). Guest memory is whatever the caller
 * maps with kg_vm_add_memslot() (an mmap of /dev/ftpage/<name>, anonymous
 * memory, ...). The guest programs below live in a separate small memslot
 * (KG_CODE_SLOT at KG_CODE_GPA) that also holds one stack per vCPU.
 *
 * Every vCPU runs in its own thread until its guest program reports done
 * with an `out` to KG_PORT_DONE; anything else (triple fault, failed
 * entry, internal error, an access to unmapped memory, hlt, a timeout) is
 * an error with a message in vcpu->err.
 *
 * Typical use:
 *	vm = kg_vm_create(nr_vcpus, err, sizeof(err));
 *	kg_vm_add_memslot(vm, 0, 0, host_ptr, size);
 *	for each vcpu: kg_vcpu_setup(vm, i, KG_PROG_STAMP, &args[i]);
 *	if (kg_vm_run(vm, timeout_ms)) ... vm->vcpus[i].err ...
 *	vm->vcpus[i].result, vm->vcpus[i].regs.rbx ...
 *	kg_vm_destroy(vm);
 *
 * Memory layout rules: user memslots must lie below KG_CODE_GPA (the guest
 * runs with 32-bit addresses, so a guest can use at most ~4 GiB - 4 MiB).
 * User slots are numbered 0..KG_CODE_SLOT-1.
 *
 * Page pattern (shared by the guest programs and kg_pattern_*()):
 *	page p (absolute guest page number, GPA / 4096), dword i in 0..1023:
 *	w[i] = (p * 0x9E3779B1 ^ seed) + i * 0x01000193   (mod 2^32)
 *
 * Page order: a vCPU handles pages first .. first+count-1, visiting index
 * idx = start, start+stride, start+2*stride, ... (mod count), i.e. page
 * first + idx. With gcd(stride, count) == 1 that visits every page exactly
 * once; stride 1 / start 0 is sequential. kg_pick_stride() picks a
 * "random-looking" stride coprime with count.
 */
#ifndef FTPAGE_KVM_GUEST_H
#define FTPAGE_KVM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <linux/kvm.h>

#define KG_PAGE_SIZE		4096u
#define KG_DWORDS_PER_PAGE	(KG_PAGE_SIZE / 4)
#define KG_HASH_MUL		0x9E3779B1	/* no suffix: used in asm */
#define KG_DWORD_STEP		0x01000193

#define KG_MAX_VCPUS		64
#define KG_CODE_SLOT		31
#define KG_CODE_GPA		0xFFC00000ull	/* code + stacks, below the TSS */
#define KG_CODE_SIZE		(1u << 20)	/* 1 MiB: 64 KiB code, stacks */
#define KG_CODE_MAX		(64u << 10)
#define KG_STACK_SIZE		(4u << 10)
#define KG_TSS_GPA		0xFFFBD000ull	/* what QEMU uses (VMX only) */

/* Guest -> host I/O ports (32-bit `out %eax, %dx`). */
#define KG_PORT_DONE		0x00E0	/* guest finished; eax = result */
#define KG_PORT_PROGRESS	0x00E1	/* progress note; host counts it */

/* Signal used to kick a vCPU thread out of KVM_RUN on timeout. The library
 * installs an empty handler for it (without SA_RESTART).
 */
#define KG_KICK_SIGNAL		SIGUSR1

/* Grace time after a timeout kick before a vCPU is declared stuck. */
#define KG_STUCK_GRACE_MS	10000

enum kg_prog {
	/* Write the pattern into every page of the range (in the given
	 * order), then re-read every page (same order) and report the 32-bit
	 * sum of all dwords. Out: result = eax = sum.
	 */
	KG_PROG_STAMP = 0,
	/* Compare every page of the range against the pattern.
	 * Out: result = eax = number of mismatching pages,
	 *      ebx = first mismatching page (absolute) or 0xFFFFFFFF.
	 */
	KG_PROG_VERIFY,
	/* Read every dword of every page (no writes). Out: result = sum. */
	KG_PROG_SUM,
	/* Read one dword per page (first dword; a pure read fault per page).
	 * Out: result = sum of those dwords.
	 */
	KG_PROG_TOUCH_READ,
	/* Write one dword per page: dword 0 = pattern word 0 (the rest of the
	 * page is untouched). Out: result = number of pages written.
	 */
	KG_PROG_TOUCH_WRITE,
	/* Timed touches: one access to dword 0 of each page (a read, or a
	 * write of pattern word 0), timed with rdtsc around it and counted
	 * into this vCPU's latency histogram (kg_vcpu_hist(), see
	 * KG_HIST_BUCKETS). Out: result = sum of the dwords read / written.
	 */
	KG_PROG_TIMED_READ,
	KG_PROG_TIMED_WRITE,
	KG_PROG_NR
};

/*
 * Histogram of the timed programs, one per vCPU in the code slot: 32-bit
 * counters of TSC-cycle deltas, 8 linear sub-buckets per power of two
 * (the module's fault histogram scheme): bucket i < 8 holds delta i;
 * above, i = (e + 1) * 8 + ((d >> e) & 7) with e = fls(d) - 4.
 */
#define KG_HIST_SUB		8
#define KG_HIST_BUCKETS		256
#define KG_HIST_OFF		(KG_CODE_MAX + KG_MAX_VCPUS * KG_STACK_SIZE)
#define KG_HIST_BYTES		(KG_HIST_BUCKETS * 4)

struct kg_args {
	uint32_t first;		/* first guest page number (GPA / 4096) */
	uint32_t count;		/* number of pages */
	uint32_t seed;
	uint32_t stride;	/* 1..count-1 coprime with count (or 1) */
	uint32_t start;		/* 0..count-1 */
};

enum kg_vcpu_state {
	KG_VCPU_IDLE = 0,	/* not set up / not run */
	KG_VCPU_READY,		/* registers set, waiting for kg_vm_run */
	KG_VCPU_RUNNING,
	KG_VCPU_DONE,		/* guest reported KG_PORT_DONE */
	KG_VCPU_FAILED,		/* err[] says why */
};

struct kg_vm;

struct kg_vcpu {
	struct kg_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;

	enum kg_prog prog;
	struct kg_args args;

	/* Filled in by kg_vm_run. */
	volatile int state;		/* enum kg_vcpu_state */
	volatile int timed_out;
	volatile int finished;		/* thread left its run loop */
	struct kvm_regs regs;		/* registers at the final exit */
	uint32_t result;		/* value written to KG_PORT_DONE */
	uint64_t exits;			/* KVM_RUN returns */
	uint64_t eintr;			/* KVM_RUN -EINTR (kicks, signals) */
	uint64_t progress;		/* writes to KG_PORT_PROGRESS */
	uint32_t last_progress;
	uint64_t t_start_ns, t_end_ns;	/* CLOCK_MONOTONIC */
	char err[256];
};

struct kg_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	unsigned int nr_vcpus;
	void *code;			/* host mapping of the code slot */
	uint64_t slots_used;		/* bitmap of user slots */
	bool stuck;			/* a vCPU thread never came back */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char err[256];			/* setup errors */
	struct kg_vcpu vcpus[];
};

/* Open /dev/kvm (check API version), create a VM with nr_vcpus vCPUs and
 * the code slot. Returns NULL with a message in err on failure; errno is
 * ENOENT/EACCES/ENODEV... when /dev/kvm itself is the problem (see
 * kg_kvm_available()).
 */
struct kg_vm *kg_vm_create(unsigned int nr_vcpus, char *err, size_t errlen);

/* 0 when /dev/kvm opens and reports KVM_API_VERSION; else -errno with a
 * message in err.
 */
int kg_kvm_available(char *err, size_t errlen);

/* Map host memory [host, host+size) at guest physical gpa as user slot
 * `slot` (0..KG_CODE_SLOT-1). size and gpa must be page aligned and the
 * range below KG_CODE_GPA. Returns 0 or -errno (message in vm->err).
 */
int kg_vm_add_memslot(struct kg_vm *vm, unsigned int slot, uint64_t gpa,
		      void *host, uint64_t size);

/* Remove a user memslot again (size 0). */
int kg_vm_del_memslot(struct kg_vm *vm, unsigned int slot);

/* Put vCPU idx into protected mode at the entry of program prog with args.
 * May be called again after a run to start another program on the same
 * vCPU. Returns 0 or -errno (message in vm->err).
 */
int kg_vcpu_setup(struct kg_vm *vm, unsigned int idx, enum kg_prog prog,
		  const struct kg_args *args);

/* Run every READY vCPU in its own thread until all are done or failed.
 * timeout_ms is per vCPU (from its start); 0 means no timeout (not
 * recommended). Returns 0 when every vCPU that ran reported done, -1 if
 * any failed (see vcpu->err), -2 if a vCPU could not be stopped (vm->stuck:
 * the VM is then leaked by kg_vm_destroy, and the caller should exit).
 */
int kg_vm_run(struct kg_vm *vm, unsigned int timeout_ms);

/* Close everything. Safe with NULL. */
void kg_vm_destroy(struct kg_vm *vm);

/* The timed-touch histogram of vCPU idx (KG_HIST_BUCKETS counters),
 * cleared by kg_vcpu_setup() of a timed program.
 */
const uint32_t *kg_vcpu_hist(const struct kg_vm *vm, unsigned int idx);

/* Lowest TSC delta that lands in histogram bucket i. */
static inline uint64_t kg_hist_floor(unsigned int i)
{
	if (i < KG_HIST_SUB)
		return i;
	return (uint64_t)(KG_HIST_SUB + i % KG_HIST_SUB) << (i / KG_HIST_SUB - 1);
}

/* Seconds a vCPU ran in its last kg_vm_run. */
double kg_vcpu_seconds(const struct kg_vcpu *vcpu);

/* The C model of the guest programs. */
static inline uint32_t kg_pattern_base(uint32_t page, uint32_t seed)
{
	return (page * KG_HASH_MUL) ^ seed;
}

static inline uint32_t kg_pattern_word(uint32_t page, uint32_t seed,
				       uint32_t i)
{
	return kg_pattern_base(page, seed) + i * KG_DWORD_STEP;
}

/* Fill buf (one page) with page's pattern. */
void kg_pattern_fill(void *buf, uint32_t page, uint32_t seed);
/* Sum of the 1024 dwords of page's pattern. */
uint32_t kg_pattern_page_sum(uint32_t page, uint32_t seed);
/* Expected KG_PROG_STAMP result for args. */
uint32_t kg_pattern_range_sum(const struct kg_args *args);
/* Returns true when buf (one page) holds page's pattern. */
bool kg_pattern_check(const void *buf, uint32_t page, uint32_t seed);

/* The i-th page visited by a program with args (i < count). */
static inline uint32_t kg_order_page(const struct kg_args *a, uint32_t i)
{
	return a->first +
		(uint32_t)(((uint64_t)a->start + (uint64_t)i * a->stride) %
			   a->count);
}

/* A stride in 1..count-1 coprime with count, "far" from 1 and derived from
 * seed (1 when count <= 2).
 */
uint32_t kg_pick_stride(uint32_t count, uint32_t seed);

/* Split pages [first, first+count) into n nearly equal ranges; fills
 * args[0..n-1] with seed, and stride/start picked from seed when
 * random_order, else sequential.
 */
void kg_split_range(struct kg_args *args, unsigned int n, uint32_t first,
		    uint32_t count, uint32_t seed, bool random_order);

const char *kg_prog_name(enum kg_prog prog);
const char *kg_exit_reason_name(uint32_t reason);
uint64_t kg_now_ns(void);

#endif /* FTPAGE_KVM_GUEST_H */
