// SPDX-License-Identifier: GPL-2.0
/*
 * e2e_guest: the tiny guest that the end-to-end test migrates (a multiboot
 * ELF32 for QEMU's -kernel; 32-bit protected mode, no paging, 64 MiB RAM).
 *
 * At boot it fills the "cold" area (8..40 MiB) with a fixed pattern and
 * prints its checksum, "cold XXXXXXXX". Then, forever, a pass over the
 * "hot" area (48..52 MiB) checks every word of every page against the value
 * of the previous pass and stamps the value of this one; each pass prints
 * "tick N" (N counts from 1), a mismatch prints "BAD ...". Every 8 ticks it
 * checksums the cold area again and prints "cold XXXXXXXX" ("BAD cold" if
 * it changed). All state lives in guest RAM and registers, so a migration
 * that loses or mixes up memory shows as BAD lines, and one that restarts
 * the guest shows as a "boot" line and ticks counting from 1 again.
 */
typedef unsigned int u32;

#define MB_MAGIC	0x1BADB002u
#define MB_FLAGS	0u

__attribute__((section(".multiboot"), used, aligned(4)))
static const u32 multiboot_header[3] = {
	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
};

asm(".text\n"
    ".globl _start\n"
    "_start:\n"
    "	mov $stack_top, %esp\n"
    "	call guest_main\n"
    "1:	hlt\n"
    "	jmp 1b\n"
    ".pushsection .bss\n"
    ".align 16\n"
    "	.skip 16384\n"
    "stack_top:\n"
    ".popsection\n");

#define PAGE_WORDS	1024u
/*
 * The hot area lies high: the background push goes up from page 0 (and
 * from wherever the guest faults), so on the destination the guest
 * finds its working set missing and takes demand faults.
 */
#define HOT_BASE	0x03000000u
#define HOT_PAGES	1024u		/* 4 MiB */
#define COLD_BASE	0x00800000u
#define COLD_PAGES	8192u		/* 32 MiB */
#define COM1		0x3f8

static inline void outb(unsigned short port, unsigned char v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
	unsigned char v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_dec(u32 v)
{
	char buf[11];
	int i = 10;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts_serial(buf + i);
}

static void put_hex(u32 v)
{
	int i;

	for (i = 28; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 15]);
}

static inline u32 pattern(u32 gen, u32 page, u32 word)
{
	u32 x = gen * 0x9e3779b1u ^ ((page << 10) | word) * 0x85ebca77u;

	return x ^ (x >> 15);
}

static u32 cold_sum(void)
{
	volatile u32 *p = (volatile u32 *)COLD_BASE;
	u32 c = 0, i;

	for (i = 0; i < COLD_PAGES * PAGE_WORDS; i++)
		c = ((c << 5) | (c >> 27)) ^ p[i];
	return c;
}

static volatile u32 gen;	/* the pass the hot area holds */
static volatile u32 tick;

void guest_main(void)
{
	volatile u32 *cold = (volatile u32 *)COLD_BASE;
	u32 i, j, cold0, c, bad;

	puts_serial("boot e2e-guest\n");
	for (i = 0; i < COLD_PAGES; i++)
		for (j = 0; j < PAGE_WORDS; j++)
			cold[i * PAGE_WORDS + j] = pattern(0xc01d, i, j);
	cold0 = cold_sum();
	puts_serial("cold ");
	put_hex(cold0);
	putc_serial('\n');

	for (;;) {
		u32 g = gen + 1;

		bad = 0;
		for (i = 0; i < HOT_PAGES; i++) {
			volatile u32 *p = (volatile u32 *)(HOT_BASE + i * 4096);

			for (j = 0; j < PAGE_WORDS; j++) {
				if (g > 1 && p[j] != pattern(g - 1, i, j))
					bad++;
				p[j] = pattern(g, i, j);
			}
		}
		gen = g;
		if (bad) {
			puts_serial("BAD hot words ");
			put_dec(bad);
			puts_serial(" in pass ");
			put_dec(g);
			putc_serial('\n');
		}
		tick = tick + 1;
		puts_serial("tick ");
		put_dec(tick);
		putc_serial('\n');
		if (tick % 8 == 0) {
			c = cold_sum();
			puts_serial(c == cold0 ? "cold " : "BAD cold ");
			put_hex(c);
			putc_serial('\n');
		}
	}
}
