// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_guest: raw-KVM guests for the ftpage selftests. See kvm_guest.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_guest.h"

#define KG_STR_(x) #x
#define KG_STR(x) KG_STR_(x)

/*
 * Guest programs: 32-bit protected mode, flat segments, no paging. Entry
 * registers: eax = first page, ebx = count, ecx = seed, edx = stride,
 * esi = start index; esp = this vCPU's stack. Each program keeps its
 * arguments in a stack frame:
 *	0 first, 4 count, 8 seed, 12 stride, 16 start, 20 acc, 24 acc2
 * and ends with `out %eax, $KG_PORT_DONE` (eax = result, ebx = second
 * result) followed by hlt forever. The code is position independent
 * (relative jumps only): it is copied into the code slot.
 */
__asm__(
	".pushsection .text.kg_guest, \"ax\"\n"
	".code32\n"
	".macro kg_prologue\n"
	"	sub $32, %esp\n"
	"	mov %eax, 0(%esp)\n"
	"	mov %ebx, 4(%esp)\n"
	"	mov %ecx, 8(%esp)\n"
	"	mov %edx, 12(%esp)\n"
	"	mov %esi, 16(%esp)\n"
	"	movl $0, 20(%esp)\n"
	"	movl $0xffffffff, 24(%esp)\n"
	".endm\n"
	/* idx = (idx + stride) mod count; needs idx < count, stride <= count */
	".macro kg_next\n"
	"	add 12(%esp), %esi\n"
	"	cmp 4(%esp), %esi\n"
	"	jb 1f\n"
	"	sub 4(%esp), %esi\n"
	"1:\n"
	".endm\n"
	".macro kg_done\n"
	"	mov $" KG_STR(KG_PORT_DONE) ", %dx\n"
	"	out %eax, %dx\n"
	"9:	hlt\n"
	"	jmp 9b\n"
	".endm\n"
	/* edi = (first + esi) << 12 */
	".macro kg_page_addr\n"
	"	mov 0(%esp), %edi\n"
	"	add %esi, %edi\n"
	"	shl $12, %edi\n"
	".endm\n"
	/* eax = page, edi = its address, ebp = pattern base */
	".macro kg_page_base\n"
	"	mov 0(%esp), %eax\n"
	"	add %esi, %eax\n"
	"	mov %eax, %edi\n"
	"	shl $12, %edi\n"
	"	imul $" KG_STR(KG_HASH_MUL) ", %eax, %ebp\n"
	"	xor 8(%esp), %ebp\n"
	".endm\n"

	".balign 64\n"
	".globl kg_guest_code_start\n"
	"kg_guest_code_start:\n"

	/* ---- KG_PROG_STAMP ---- */
	".globl kg_guest_stamp\n"
	"kg_guest_stamp:\n"
	"	kg_prologue\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_base\n"
	"	mov $" KG_STR(KG_DWORDS_PER_PAGE) ", %ecx\n"
	"3:	mov %ebp, (%edi)\n"
	"	add $" KG_STR(KG_DWORD_STEP) ", %ebp\n"
	"	add $4, %edi\n"
	"	dec %ecx\n"
	"	jnz 3b\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	/* pass 2: re-read, same order */
	"	mov 4(%esp), %ebx\n"
	"	mov 16(%esp), %esi\n"
	"	xor %edx, %edx\n"
	"4:	kg_page_addr\n"
	"	mov $" KG_STR(KG_DWORDS_PER_PAGE) ", %ecx\n"
	"6:	add (%edi), %edx\n"
	"	add $4, %edi\n"
	"	dec %ecx\n"
	"	jnz 6b\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 4b\n"
	"	mov %edx, 20(%esp)\n"
	"5:	mov 20(%esp), %eax\n"
	"	mov 4(%esp), %ebx\n"
	"	kg_done\n"

	/* ---- KG_PROG_VERIFY ---- */
	".globl kg_guest_verify\n"
	"kg_guest_verify:\n"
	"	kg_prologue\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_base\n"
	"	mov $" KG_STR(KG_DWORDS_PER_PAGE) ", %ecx\n"
	"3:	cmp %ebp, (%edi)\n"
	"	jne 4f\n"
	"	add $" KG_STR(KG_DWORD_STEP) ", %ebp\n"
	"	add $4, %edi\n"
	"	dec %ecx\n"
	"	jnz 3b\n"
	"	jmp 6f\n"
	"4:	incl 20(%esp)\n"
	"	cmpl $0xffffffff, 24(%esp)\n"
	"	jne 6f\n"
	"	mov %eax, 24(%esp)\n"
	"6:	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	"5:	mov 20(%esp), %eax\n"
	"	mov 24(%esp), %ebx\n"
	"	kg_done\n"

	/* ---- KG_PROG_SUM ---- */
	".globl kg_guest_sum\n"
	"kg_guest_sum:\n"
	"	kg_prologue\n"
	"	xor %edx, %edx\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_addr\n"
	"	mov $" KG_STR(KG_DWORDS_PER_PAGE) ", %ecx\n"
	"3:	add (%edi), %edx\n"
	"	add $4, %edi\n"
	"	dec %ecx\n"
	"	jnz 3b\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	"5:	mov %edx, %eax\n"
	"	mov 4(%esp), %ebx\n"
	"	kg_done\n"

	/* ---- KG_PROG_TOUCH_READ ---- */
	".globl kg_guest_touch_read\n"
	"kg_guest_touch_read:\n"
	"	kg_prologue\n"
	"	xor %edx, %edx\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_addr\n"
	"	add (%edi), %edx\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	"5:	mov %edx, %eax\n"
	"	mov 4(%esp), %ebx\n"
	"	kg_done\n"

	/* ---- KG_PROG_TOUCH_WRITE ---- */
	".globl kg_guest_touch_write\n"
	"kg_guest_touch_write:\n"
	"	kg_prologue\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_base\n"
	"	mov %ebp, (%edi)\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	"5:	mov 4(%esp), %eax\n"
	"	mov 4(%esp), %ebx\n"
	"	kg_done\n"

	/* ---- KG_PROG_TIMED_READ / KG_PROG_TIMED_WRITE ----
	 * edi at entry = this vCPU's histogram; frame 24 = write flag,
	 * 28 = histogram. Timed: lfence; rdtsc; the access; lfence; rdtsc.
	 */
	".globl kg_guest_timed_read\n"
	"kg_guest_timed_read:\n"
	"	kg_prologue\n"
	"	movl $0, 24(%esp)\n"
	"	jmp 1f\n"
	".globl kg_guest_timed_write\n"
	"kg_guest_timed_write:\n"
	"	kg_prologue\n"
	"	movl $1, 24(%esp)\n"
	"1:	mov %edi, 28(%esp)\n"
	"	mov 4(%esp), %ebx\n"
	"	test %ebx, %ebx\n"
	"	jz 5f\n"
	"	mov 16(%esp), %esi\n"
	"2:	kg_page_base\n"
	"	cmpl $0, 24(%esp)\n"
	"	jne 3f\n"
	"	lfence\n"
	"	rdtsc\n"
	"	mov %eax, %ecx\n"
	"	mov (%edi), %ebp\n"
	"	jmp 4f\n"
	"3:	lfence\n"
	"	rdtsc\n"
	"	mov %eax, %ecx\n"
	"	mov %ebp, (%edi)\n"
	"4:	lfence\n"
	"	rdtsc\n"
	"	add %ebp, 20(%esp)\n"
	"	sub %ecx, %eax\n"
	"	cmp $" KG_STR(KG_HIST_SUB) ", %eax\n"
	"	jb 6f\n"
	"	bsr %eax, %ecx\n"
	"	sub $3, %ecx\n"
	"	shr %cl, %eax\n"
	"	and $7, %eax\n"
	"	inc %ecx\n"
	"	shl $3, %ecx\n"
	"	add %ecx, %eax\n"
	"6:	mov 28(%esp), %ecx\n"
	"	incl (%ecx,%eax,4)\n"
	"	kg_next\n"
	"	dec %ebx\n"
	"	jnz 2b\n"
	"5:	mov 20(%esp), %eax\n"
	"	mov 4(%esp), %ebx\n"
	"	kg_done\n"

	".globl kg_guest_code_end\n"
	"kg_guest_code_end:\n"
	".purgem kg_prologue\n"
	".purgem kg_next\n"
	".purgem kg_done\n"
	".purgem kg_page_addr\n"
	".purgem kg_page_base\n"
	".code64\n"
	".popsection\n");

extern const char kg_guest_code_start[], kg_guest_code_end[];
extern const char kg_guest_stamp[], kg_guest_verify[], kg_guest_sum[];
extern const char kg_guest_touch_read[], kg_guest_touch_write[];
extern const char kg_guest_timed_read[], kg_guest_timed_write[];

static const char *const kg_prog_entry[KG_PROG_NR] = {
	[KG_PROG_STAMP] = kg_guest_stamp,
	[KG_PROG_VERIFY] = kg_guest_verify,
	[KG_PROG_SUM] = kg_guest_sum,
	[KG_PROG_TOUCH_READ] = kg_guest_touch_read,
	[KG_PROG_TOUCH_WRITE] = kg_guest_touch_write,
	[KG_PROG_TIMED_READ] = kg_guest_timed_read,
	[KG_PROG_TIMED_WRITE] = kg_guest_timed_write,
};

static const char *const kg_prog_names[KG_PROG_NR] = {
	[KG_PROG_STAMP] = "stamp",
	[KG_PROG_VERIFY] = "verify",
	[KG_PROG_SUM] = "sum",
	[KG_PROG_TOUCH_READ] = "touch-read",
	[KG_PROG_TOUCH_WRITE] = "touch-write",
	[KG_PROG_TIMED_READ] = "timed-read",
	[KG_PROG_TIMED_WRITE] = "timed-write",
};

const char *kg_prog_name(enum kg_prog prog)
{
	if ((unsigned int)prog < KG_PROG_NR)
		return kg_prog_names[prog];
	return "?";
}

const char *kg_exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
#ifdef KVM_EXIT_MEMORY_FAULT
	if (reason == KVM_EXIT_MEMORY_FAULT)
		return "MEMORY_FAULT";
#endif
	return "?";
}

uint64_t kg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const uint32_t *kg_vcpu_hist(const struct kg_vm *vm, unsigned int idx)
{
	return (const uint32_t *)((const char *)vm->code + KG_HIST_OFF +
				  (size_t)idx * KG_HIST_BYTES);
}

double kg_vcpu_seconds(const struct kg_vcpu *vcpu)
{
	if (!vcpu->t_start_ns || vcpu->t_end_ns < vcpu->t_start_ns)
		return 0;
	return (double)(vcpu->t_end_ns - vcpu->t_start_ns) / 1e9;
}

/* ------------------------------------------------------------------ */
/* Pattern model                                                       */

void kg_pattern_fill(void *buf, uint32_t page, uint32_t seed)
{
	uint32_t *w = buf;
	uint32_t v = kg_pattern_base(page, seed);
	unsigned int i;

	for (i = 0; i < KG_DWORDS_PER_PAGE; i++, v += KG_DWORD_STEP)
		w[i] = v;
}

uint32_t kg_pattern_page_sum(uint32_t page, uint32_t seed)
{
	/* sum_i (b + i*K) = 1024*b + K*(1023*1024/2)  (mod 2^32) */
	return kg_pattern_base(page, seed) * KG_DWORDS_PER_PAGE +
		(uint32_t)KG_DWORD_STEP *
		(uint32_t)(KG_DWORDS_PER_PAGE * (KG_DWORDS_PER_PAGE - 1) / 2);
}

uint32_t kg_pattern_range_sum(const struct kg_args *a)
{
	uint32_t sum = 0, i;

	for (i = 0; i < a->count; i++)
		sum += kg_pattern_page_sum(a->first + i, a->seed);
	return sum;
}

bool kg_pattern_check(const void *buf, uint32_t page, uint32_t seed)
{
	const uint32_t *w = buf;
	uint32_t v = kg_pattern_base(page, seed);
	unsigned int i;

	for (i = 0; i < KG_DWORDS_PER_PAGE; i++, v += KG_DWORD_STEP)
		if (w[i] != v)
			return false;
	return true;
}

static uint32_t kg_gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

uint32_t kg_pick_stride(uint32_t count, uint32_t seed)
{
	uint32_t s;

	if (count <= 2)
		return 1;
	/* Start near count * (golden ratio - 1), jittered by the seed. */
	s = (uint32_t)((uint64_t)count * 618034 / 1000000);
	s += (seed * KG_HASH_MUL) % (count / 8 + 1);
	s %= count;
	if (s < 2)
		s = 2;
	while (kg_gcd(s, count) != 1)
		s = s + 1 < count ? s + 1 : 1;
	return s;
}

void kg_split_range(struct kg_args *args, unsigned int n, uint32_t first,
		    uint32_t count, uint32_t seed, bool random_order)
{
	uint32_t at = first;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t c = count / n + (i < count % n ? 1 : 0);

		args[i].first = at;
		args[i].count = c;
		args[i].seed = seed;
		if (random_order && c > 2) {
			args[i].stride = kg_pick_stride(c, seed + i);
			args[i].start = (seed * 2654435761u + i * 40503u) % c;
		} else {
			args[i].stride = 1;
			args[i].start = 0;
		}
		at += c;
	}
}

/* ------------------------------------------------------------------ */
/* VM and vCPUs                                                        */

static void __attribute__((format(printf, 3, 4)))
kg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int kg_kvm_available(char *err, size_t errlen)
{
	int fd, ver, e;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		kg_fmt(err, errlen, "open /dev/kvm: %s", strerror(e));
		return -e;
	}
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		e = ver < 0 ? errno : EPROTO;
		kg_fmt(err, errlen, "KVM_GET_API_VERSION: %d (%s), want %d",
		       ver, ver < 0 ? strerror(e) : "wrong version",
		       KVM_API_VERSION);
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

static void kg_kick_handler(int sig)
{
	(void)sig;
}

static int kg_install_kick_handler(void)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	static bool done;
	struct sigaction sa;
	int ret = 0;

	pthread_mutex_lock(&once);
	if (!done) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = kg_kick_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;	/* no SA_RESTART: KVM_RUN must see EINTR */
		ret = sigaction(KG_KICK_SIGNAL, &sa, NULL);
		if (!ret)
			done = true;
	}
	pthread_mutex_unlock(&once);
	return ret;
}

struct kg_vm *kg_vm_create(unsigned int nr_vcpus, char *err, size_t errlen)
{
	struct kg_vm *vm;
	unsigned int i;
	int ret, e;
	size_t code_len = (size_t)(kg_guest_code_end - kg_guest_code_start);
	struct kvm_userspace_memory_region mr;

	if (nr_vcpus < 1 || nr_vcpus > KG_MAX_VCPUS) {
		kg_fmt(err, errlen, "bad vCPU count %u (1..%d)", nr_vcpus,
		       KG_MAX_VCPUS);
		errno = EINVAL;
		return NULL;
	}
	if (code_len > KG_CODE_MAX ||
	    KG_HIST_OFF + (size_t)KG_MAX_VCPUS * KG_HIST_BYTES > KG_CODE_SIZE) {
		kg_fmt(err, errlen, "guest code too large (%zu bytes)",
		       code_len);
		errno = E2BIG;
		return NULL;
	}
	if (kg_install_kick_handler()) {
		e = errno;
		kg_fmt(err, errlen, "sigaction: %s", strerror(e));
		errno = e;
		return NULL;
	}

	vm = calloc(1, sizeof(*vm) + nr_vcpus * sizeof(vm->vcpus[0]));
	if (!vm) {
		kg_fmt(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	vm->kvm_fd = vm->vm_fd = -1;
	vm->code = MAP_FAILED;
	vm->nr_vcpus = nr_vcpus;
	pthread_mutex_init(&vm->lock, NULL);
	{
		pthread_condattr_t ca;

		/* the watchdog's deadlines are CLOCK_MONOTONIC */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&vm->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	for (i = 0; i < nr_vcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		vm->vcpus[i].fd = -1;
		vm->vcpus[i].run = MAP_FAILED;
	}

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		e = errno;
		kg_fmt(err, errlen, "open /dev/kvm: %s", strerror(e));
		goto fail;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		e = ret < 0 ? errno : EPROTO;
		kg_fmt(err, errlen, "KVM_GET_API_VERSION returned %d, want %d",
		       ret, KVM_API_VERSION);
		goto fail;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		e = ret < 0 ? errno : EPROTO;
		kg_fmt(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(e));
		goto fail;
	}
	vm->run_size = (size_t)ret;

	ret = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (ret > 0 && (unsigned int)ret < nr_vcpus) {
		e = EINVAL;
		kg_fmt(err, errlen, "KVM supports at most %d vCPUs", ret);
		goto fail;
	}

	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		e = errno;
		kg_fmt(err, errlen, "KVM_CREATE_VM: %s", strerror(e));
		goto fail;
	}

	/* Intel VMX wants a TSS area outside guest memory (harmless on SVM). */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KG_TSS_GPA) < 0) {
		e = errno;
		kg_fmt(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(e));
		goto fail;
	}

	vm->code = mmap(NULL, KG_CODE_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->code == MAP_FAILED) {
		e = errno;
		kg_fmt(err, errlen, "mmap code slot: %s", strerror(e));
		goto fail;
	}
	memcpy(vm->code, kg_guest_code_start, code_len);
	memset(&mr, 0, sizeof(mr));
	mr.slot = KG_CODE_SLOT;
	mr.guest_phys_addr = KG_CODE_GPA;
	mr.memory_size = KG_CODE_SIZE;
	mr.userspace_addr = (uintptr_t)vm->code;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		e = errno;
		kg_fmt(err, errlen, "KVM_SET_USER_MEMORY_REGION (code slot): %s",
		       strerror(e));
		goto fail;
	}

	for (i = 0; i < nr_vcpus; i++) {
		struct kg_vcpu *v = &vm->vcpus[i];

		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			e = errno;
			kg_fmt(err, errlen, "KVM_CREATE_VCPU %u: %s", i,
			       strerror(e));
			goto fail;
		}
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			e = errno;
			kg_fmt(err, errlen, "mmap kvm_run of vCPU %u: %s", i,
			       strerror(e));
			goto fail;
		}
	}
	return vm;

fail:
	kg_vm_destroy(vm);
	errno = e;
	return NULL;
}

int kg_vm_add_memslot(struct kg_vm *vm, unsigned int slot, uint64_t gpa,
		      void *host, uint64_t size)
{
	struct kvm_userspace_memory_region mr;
	int e;

	if (slot >= KG_CODE_SLOT || !size || (gpa | size) % KG_PAGE_SIZE ||
	    (uintptr_t)host % KG_PAGE_SIZE || gpa + size > KG_CODE_GPA ||
	    gpa + size < gpa) {
		kg_fmt(vm->err, sizeof(vm->err),
		       "bad memslot %u: gpa 0x%" PRIx64 " size 0x%" PRIx64
		       " host %p (page aligned, below 0x%llx, slot < %d)",
		       slot, gpa, size, host, KG_CODE_GPA, KG_CODE_SLOT);
		return -EINVAL;
	}
	memset(&mr, 0, sizeof(mr));
	mr.slot = slot;
	mr.guest_phys_addr = gpa;
	mr.memory_size = size;
	mr.userspace_addr = (uintptr_t)host;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		e = errno;
		kg_fmt(vm->err, sizeof(vm->err),
		       "KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%" PRIx64
		       " size 0x%" PRIx64 ": %s", slot, gpa, size, strerror(e));
		return -e;
	}
	vm->slots_used |= 1ull << slot;
	return 0;
}

int kg_vm_del_memslot(struct kg_vm *vm, unsigned int slot)
{
	struct kvm_userspace_memory_region mr;
	int e;

	if (slot >= KG_CODE_SLOT || !(vm->slots_used & (1ull << slot)))
		return -EINVAL;
	memset(&mr, 0, sizeof(mr));
	mr.slot = slot;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		e = errno;
		kg_fmt(vm->err, sizeof(vm->err),
		       "KVM_SET_USER_MEMORY_REGION delete slot %u: %s", slot,
		       strerror(e));
		return -e;
	}
	vm->slots_used &= ~(1ull << slot);
	return 0;
}

static int kg_check_args(struct kg_vm *vm, const struct kg_args *a)
{
	uint64_t end = (uint64_t)a->first + a->count;

	if (!a->count)
		return 0;
	if (end * KG_PAGE_SIZE > KG_CODE_GPA || a->start >= a->count ||
	    a->stride < 1 || a->stride > a->count ||
	    kg_gcd(a->stride, a->count) != 1) {
		kg_fmt(vm->err, sizeof(vm->err),
		       "bad guest args: first %u count %u stride %u start %u "
		       "(need pages below GPA 0x%llx, start < count, "
		       "1 <= stride <= count, gcd(stride, count) == 1)",
		       a->first, a->count, a->stride, a->start, KG_CODE_GPA);
		return -EINVAL;
	}
	return 0;
}

int kg_vcpu_setup(struct kg_vm *vm, unsigned int idx, enum kg_prog prog,
		  const struct kg_args *args)
{
	struct kg_vcpu *v;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment seg;
	int e;

	if (idx >= vm->nr_vcpus || (unsigned int)prog >= KG_PROG_NR) {
		kg_fmt(vm->err, sizeof(vm->err), "bad vCPU %u or program %d",
		       idx, (int)prog);
		return -EINVAL;
	}
	v = &vm->vcpus[idx];
	if (v->state == KG_VCPU_RUNNING || vm->stuck) {
		kg_fmt(vm->err, sizeof(vm->err), "vCPU %u is busy", idx);
		return -EBUSY;
	}
	if (kg_check_args(vm, args))
		return -EINVAL;

	/*
	 * After a KVM_EXIT_IO the `out` is only complete once KVM_RUN is
	 * entered again (KVM's complete_userspace_io); setting registers
	 * before that leaves a pending completion that would apply to the new
	 * program. KVM_RUN with immediate_exit completes it without running
	 * the guest (api.rst, "immediate_exit").
	 */
	if (v->state == KG_VCPU_DONE || v->state == KG_VCPU_FAILED) {
		v->run->immediate_exit = 1;
		if (ioctl(v->fd, KVM_RUN, 0) == 0 || errno != EINTR) {
			e = errno;
			v->run->immediate_exit = 0;
			kg_fmt(vm->err, sizeof(vm->err), "vCPU %u: KVM_RUN with "
			       "immediate_exit did not return EINTR (%s)", idx,
			       strerror(e));
			return -EIO;
		}
		v->run->immediate_exit = 0;
	}

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		e = errno;
		kg_fmt(vm->err, sizeof(vm->err), "KVM_GET_SREGS vCPU %u: %s",
		       idx, strerror(e));
		return -e;
	}
	memset(&seg, 0, sizeof(seg));
	seg.base = 0;
	seg.limit = 0xffffffff;
	seg.selector = 1 << 3;
	seg.type = 0xb;		/* execute/read, accessed */
	seg.present = 1;
	seg.dpl = 0;
	seg.db = 1;		/* 32-bit */
	seg.s = 1;		/* code/data */
	seg.l = 0;
	seg.g = 1;		/* 4 KiB granularity */
	sregs.cs = seg;
	seg.type = 0x3;		/* read/write, accessed */
	seg.selector = 2 << 3;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	/* No descriptor tables: segments come from the cached descriptors
	 * above, and an IDT limit of 0 turns any guest exception into a
	 * triple fault (KVM_EXIT_SHUTDOWN) instead of a jump through garbage.
	 */
	sregs.gdt.base = 0;
	sregs.gdt.limit = 0;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x11;	/* PE | ET; no paging, caches on */
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		e = errno;
		kg_fmt(vm->err, sizeof(vm->err), "KVM_SET_SREGS vCPU %u: %s",
		       idx, strerror(e));
		return -e;
	}

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = KG_CODE_GPA +
		(uint64_t)(kg_prog_entry[prog] - kg_guest_code_start);
	regs.rsp = KG_CODE_GPA + KG_CODE_MAX + (uint64_t)(idx + 1) *
		KG_STACK_SIZE;
	regs.rax = args->first;
	regs.rbx = args->count;
	regs.rcx = args->seed;
	regs.rdx = args->stride;
	regs.rsi = args->start;
	regs.rdi = KG_CODE_GPA + KG_HIST_OFF + (uint64_t)idx * KG_HIST_BYTES;
	if (prog == KG_PROG_TIMED_READ || prog == KG_PROG_TIMED_WRITE)
		memset((char *)vm->code + KG_HIST_OFF + (size_t)idx * KG_HIST_BYTES,
		       0, KG_HIST_BYTES);
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		e = errno;
		kg_fmt(vm->err, sizeof(vm->err), "KVM_SET_REGS vCPU %u: %s",
		       idx, strerror(e));
		return -e;
	}

	v->prog = prog;
	v->args = *args;
	v->timed_out = 0;
	v->finished = 0;
	v->result = 0;
	v->exits = v->eintr = v->progress = 0;
	v->t_start_ns = v->t_end_ns = 0;
	v->err[0] = '\0';
	memset(&v->regs, 0, sizeof(v->regs));
	v->state = KG_VCPU_READY;
	return 0;
}

/* Append " rip=... eax=..." to the vCPU's error message. */
static void kg_vcpu_append_regs(struct kg_vcpu *v)
{
	struct kvm_regs r;
	size_t len = strlen(v->err);

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		return;
	v->regs = r;
	snprintf(v->err + len, sizeof(v->err) - len,
		 " [rip=0x%llx%s eax=0x%llx ebx=0x%llx ecx=0x%llx "
		 "esi=0x%llx edi=0x%llx]",
		 (unsigned long long)r.rip,
		 r.rip - KG_CODE_GPA < KG_CODE_MAX ? " (in guest code)" :
		 " (outside guest code)",
		 (unsigned long long)r.rax, (unsigned long long)r.rbx,
		 (unsigned long long)r.rcx, (unsigned long long)r.rsi,
		 (unsigned long long)r.rdi);
}

#define kg_vcpu_fail(v, ...) do {				\
	snprintf((v)->err, sizeof((v)->err), __VA_ARGS__);	\
	kg_vcpu_append_regs(v);					\
	(v)->state = KG_VCPU_FAILED;				\
} while (0)

static void kg_vcpu_loop(struct kg_vcpu *v)
{
	struct kvm_run *run = v->run;
	char prefix[48];

	snprintf(prefix, sizeof(prefix), "vCPU %u (%s)", v->id,
		 kg_prog_name(v->prog));
	for (;;) {
		int ret, e;

		if (v->timed_out) {
			kg_vcpu_fail(v, "%s: timed out", prefix);
			return;
		}
		ret = ioctl(v->fd, KVM_RUN, 0);
		e = errno;
		v->exits++;
		if (ret < 0) {
			if (e == EINTR || e == EAGAIN) {
				/* a kick (timeout) or a stray signal */
				v->eintr++;
				continue;
			}
			if (e == EFAULT)
				kg_vcpu_fail(v, "%s: KVM_RUN: %s (guest memory "
					     "could not be faulted in; exit "
					     "reason %u %s)", prefix,
					     strerror(e), run->exit_reason,
					     kg_exit_reason_name(
						     run->exit_reason));
			else
				kg_vcpu_fail(v, "%s: KVM_RUN: %s", prefix,
					     strerror(e));
			return;
		}

		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			uint32_t val = 0;

			if (run->io.direction != KVM_EXIT_IO_OUT ||
			    run->io.size != 4 || run->io.count != 1) {
				kg_vcpu_fail(v, "%s: unexpected I/O: %s port "
					     "0x%x size %u count %u", prefix,
					     run->io.direction ==
					     KVM_EXIT_IO_OUT ? "out" : "in",
					     run->io.port, run->io.size,
					     run->io.count);
				return;
			}
			memcpy(&val, data, 4);
			if (run->io.port == KG_PORT_DONE) {
				v->result = val;
				if (ioctl(v->fd, KVM_GET_REGS, &v->regs) < 0) {
					e = errno;
					kg_vcpu_fail(v, "%s: KVM_GET_REGS: %s",
						     prefix, strerror(e));
					return;
				}
				v->state = KG_VCPU_DONE;
				return;
			}
			if (run->io.port == KG_PORT_PROGRESS) {
				v->progress++;
				v->last_progress = val;
				continue;
			}
			kg_vcpu_fail(v, "%s: unexpected out to port 0x%x "
				     "value 0x%x", prefix, run->io.port, val);
			return;
		}
		case KVM_EXIT_INTR:
			v->eintr++;
			continue;
		case KVM_EXIT_SHUTDOWN:
			/* On AMD, KVM reinitializes the VMCB after a
			 * SHUTDOWN intercept: the registers shown are the
			 * reset state (rip 0xfff0), not the faulting ones.
			 */
			kg_vcpu_fail(v, "%s: guest shutdown (triple fault: an "
				     "exception in the guest; on AMD the "
				     "registers are already reset)", prefix);
			return;
		case KVM_EXIT_FAIL_ENTRY:
			kg_vcpu_fail(v, "%s: VM entry failed, hardware reason "
				     "0x%llx", prefix,
				     (unsigned long long)run->fail_entry.
				     hardware_entry_failure_reason);
			return;
		case KVM_EXIT_INTERNAL_ERROR: {
			char d[96] = "";
			unsigned int i, n = run->internal.ndata;
			size_t l = 0;

			if (n > 4)
				n = 4;
			for (i = 0; i < n; i++)
				l += (size_t)snprintf(d + l, sizeof(d) - l,
					" 0x%llx", (unsigned long long)
					run->internal.data[i]);
			kg_vcpu_fail(v, "%s: KVM internal error, suberror %u "
				     "(%s), data:%s", prefix,
				     run->internal.suberror,
				     run->internal.suberror ==
				     KVM_INTERNAL_ERROR_EMULATION ?
				     "emulation failure" : "see linux/kvm.h",
				     d);
			return;
		}
		case KVM_EXIT_MMIO:
			kg_vcpu_fail(v, "%s: guest %s unmapped GPA 0x%llx "
				     "(len %u): no memslot there", prefix,
				     run->mmio.is_write ? "wrote" : "read",
				     (unsigned long long)run->mmio.phys_addr,
				     run->mmio.len);
			return;
		case KVM_EXIT_HLT:
			kg_vcpu_fail(v, "%s: guest halted without reporting "
				     "done", prefix);
			return;
		default:
			kg_vcpu_fail(v, "%s: unexpected exit reason %u (%s)",
				     prefix, run->exit_reason,
				     kg_exit_reason_name(run->exit_reason));
			return;
		}
	}
}

static void *kg_vcpu_thread(void *arg)
{
	struct kg_vcpu *v = arg;
	struct kg_vm *vm = v->vm;
	sigset_t set;

	/* Make sure the kick signal can reach this thread. */
	sigemptyset(&set);
	sigaddset(&set, KG_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	kg_vcpu_loop(v);
	v->t_end_ns = kg_now_ns();

	pthread_mutex_lock(&vm->lock);
	v->finished = 1;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static void kg_kick(struct kg_vcpu *v)
{
	/* immediate_exit covers a kick that lands between the loop's
	 * timed_out check and the KVM_RUN ioctl; the signal covers a vCPU
	 * already inside KVM_RUN.
	 */
	__atomic_store_n(&v->timed_out, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KG_KICK_SIGNAL);
}

int kg_vm_run(struct kg_vm *vm, unsigned int timeout_ms)
{
	unsigned int i, nr_fail = 0;
	bool attempted[KG_MAX_VCPUS] = { false };
	uint64_t now;
	int ret;

	if (vm->stuck)
		return -2;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kg_vcpu *v = &vm->vcpus[i];

		if (v->state != KG_VCPU_READY)
			continue;
		attempted[i] = true;
		v->run->immediate_exit = 0;
		v->finished = 0;
		v->state = KG_VCPU_RUNNING;
		v->t_start_ns = kg_now_ns();
		ret = pthread_create(&v->thread, NULL, kg_vcpu_thread, v);
		if (ret) {
			snprintf(v->err, sizeof(v->err),
				 "vCPU %u: pthread_create: %s", i,
				 strerror(ret));
			v->state = KG_VCPU_FAILED;
			v->finished = 1;
			continue;
		}
		v->thread_started = true;
	}

	/* Watchdog: wait for every thread, kick the ones past their
	 * deadline, give up on ones that do not come back after a grace.
	 */
	for (;;) {
		struct timespec ts;
		bool all = true;
		uint64_t wake;

		now = kg_now_ns();
		wake = now + 100000000ull;	/* recheck at least every 100 ms */
		for (i = 0; i < vm->nr_vcpus; i++) {
			struct kg_vcpu *v = &vm->vcpus[i];
			uint64_t deadline;

			if (!v->thread_started || v->finished)
				continue;
			all = false;
			if (!timeout_ms)
				continue;
			deadline = v->t_start_ns + timeout_ms * 1000000ull;
			if (now >= deadline + KG_STUCK_GRACE_MS * 1000000ull) {
				snprintf(v->err, sizeof(v->err),
					 "vCPU %u (%s): timed out after %u ms "
					 "and did not leave KVM_RUN within "
					 "%u ms of being kicked (stuck in the "
					 "kernel?)", i, kg_prog_name(v->prog),
					 timeout_ms, KG_STUCK_GRACE_MS);
				vm->stuck = true;
			} else if (now >= deadline) {
				kg_kick(v);	/* again every 100 ms */
			} else if (deadline < wake) {
				wake = deadline;
			}
		}
		if (all || vm->stuck)
			break;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	}
	pthread_mutex_unlock(&vm->lock);

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kg_vcpu *v = &vm->vcpus[i];

		if (!attempted[i])
			continue;
		if (!v->thread_started) {
			nr_fail++;	/* pthread_create failed */
			continue;
		}
		if (vm->stuck && !v->finished) {
			pthread_detach(v->thread);
			v->state = KG_VCPU_FAILED;
			nr_fail++;
			continue;
		}
		pthread_join(v->thread, NULL);
		v->thread_started = false;
		if (v->state == KG_VCPU_FAILED && v->timed_out &&
		    timeout_ms) {
			size_t l = strlen(v->err);

			snprintf(v->err + l, sizeof(v->err) - l,
				 " (limit %u ms)", timeout_ms);
		}
		if (v->state != KG_VCPU_DONE)
			nr_fail++;
		v->run->immediate_exit = 0;
	}
	if (vm->stuck)
		return -2;
	return nr_fail ? -1 : 0;
}

void kg_vm_destroy(struct kg_vm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	if (vm->stuck) {
		/* A thread may still be inside KVM_RUN using these: leak. */
		return;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kg_vcpu *v = &vm->vcpus[i];

		if (v->run != MAP_FAILED)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->code != MAP_FAILED)
		munmap(vm->code, KG_CODE_SIZE);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}
