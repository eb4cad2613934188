/*
 * The protection matrix of the virtual protection ring (paper §3, §4.4.3):
 * read, write and execute of a supervisor page, a user page, a read-only
 * user page, an unmapped page and the VMM's space, from virtual user mode
 * and from the virtual kernel, each checked for the exact #PF error code,
 * CR2 and frame.  Natively this is the CPU's paging; under the VMM it is
 * the two shadow tables and the fault classification.
 */
#include "guests/lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u
#define PS 0x080u

/* The test pages, at 0x40000000 + n * 4 KiB, backed by frames at 8 MiB. */
enum { KERNEL_RW, USER_RW, USER_RO, UNMAPPED, KERNEL_RO, PAGES };
#define PAGE_VA(n) (0x40000000u + (n) * 4096u)
#define PAGE_PA(n) (0x800000u + (n) * 4096u)

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t low_pt[1024] __attribute__((aligned(4096)));	/* 0-4 MiB */
static uint32_t test_pt[1024] __attribute__((aligned(4096)));
static uint32_t at, esp_at;

/* Each access under ASM_TRY, noting where it was and the stack pointer. */
static uint32_t do_read(uint32_t va)
{
	uint32_t v = 0;
	__asm__ volatile("movl %%esp, %1\n\tmovl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%3), %2\n2:"
			 : "=&r"(at), "=&r"(esp_at), "+r"(v) : "r"(va) : "memory");
	return v;
}

static uint32_t do_write(uint32_t va)
{
	__asm__ volatile("movl %%esp, %1\n\tmovl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl $0x600d, (%2)\n2:"
			 : "=&r"(at), "=&r"(esp_at) : "r"(va) : "memory");
	return 0;
}

/* Jump to va; every test page holds "jmp *%ecx", which comes straight back.
 * A fault is on the fetch at va, so there the frame's EIP is va. */
static uint32_t do_exec(uint32_t va)
{
	uint32_t back = 0;
	__asm__ volatile("movl %%esp, %1\n\tmovl $2f, %%ecx\n\t" ASM_TRY("2f")
			 "jmp *%3\n2: movl $1, %2"
			 : "=&r"(at), "=&r"(esp_at), "=&r"(back) : "r"(va) : "ecx", "memory");
	at = va;
	return back;
}

static void setup_paging(void)
{
	/* 0-4 MiB in 4 KiB pages, user-accessible: the image (user-mode test
	 * code runs from it) and run_in_user's stack.  4-16 MiB kernel only. */
	for (uint32_t i = 0; i < 1024; i++)
		low_pt[i] = (i << 12) | P | W | U;
	pd[0] = (uint32_t)low_pt | P | W | U;
	for (uint32_t i = 1; i < 4; i++)
		pd[i] = (i << 22) | P | W | PS;
	pd[PAGE_VA(0) >> 22] = (uint32_t)test_pt | P | W | U;
	static const uint32_t flags[PAGES] = {
		[KERNEL_RW] = P | W, [USER_RW] = P | W | U, [USER_RO] = P | U,
		[UNMAPPED] = 0, [KERNEL_RO] = P,
	};
	for (unsigned n = 0; n < PAGES; n++) {
		uint8_t *frame = (uint8_t *)PAGE_PA(n);
		memset(frame, 0, 4096);
		frame[0] = 0xff;		/* jmp *%ecx */
		frame[1] = 0xe1;
		test_pt[n] = flags[n] ? (PAGE_PA(n) | flags[n]) : 0;
	}
	write_cr4(read_cr4() | 0x10);
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | 0x80010000);	/* PG, WP */
}

static void expect_user_pf(user_fn fn, uint32_t va, uint32_t error, const char *name)
{
	ex_clear();
	run_in_user(fn, va);
	report_user_exception(name, 14, error, at, esp_at);
	report_eq(read_cr2(), va, "%s cr2", name);
}

static void expect_user_ok(user_fn fn, uint32_t va, const char *name)
{
	ex_clear();
	run_in_user(fn, va);
	report_eq(ex_last.count, 0, "%s", name);
}

static void expect_kernel_pf(uint32_t (*fn)(uint32_t), uint32_t va, uint32_t error,
			     const char *name)
{
	ex_clear();
	fn(va);
	report_exception(name, 14, error, at, KERNEL_CS);
	report_eq(read_cr2(), va, "%s cr2", name);
}

static void from_user(void)
{
	expect_user_pf(do_read, PAGE_VA(KERNEL_RW), 0x5, "user read kernel page");
	expect_user_pf(do_write, PAGE_VA(KERNEL_RW), 0x7, "user write kernel page");
	expect_user_pf(do_exec, PAGE_VA(KERNEL_RW), 0x5, "user exec kernel page");
	expect_user_ok(do_read, PAGE_VA(USER_RW), "user read user page");
	expect_user_ok(do_exec, PAGE_VA(USER_RW), "user exec user page");
	/* (after the exec: this overwrites the page's jmp) */
	expect_user_ok(do_write, PAGE_VA(USER_RW), "user write user page");
	expect_user_ok(do_read, PAGE_VA(USER_RO), "user read read-only page");
	expect_user_pf(do_write, PAGE_VA(USER_RO), 0x7, "user write read-only page");
	expect_user_pf(do_read, PAGE_VA(UNMAPPED), 0x4, "user read unmapped page");
	expect_user_pf(do_write, PAGE_VA(UNMAPPED), 0x6, "user write unmapped page");
	expect_user_pf(do_read, 0xfc000000, 0x4, "user read 0xfc000000");
	expect_user_pf(do_write, 0xfffff000, 0x6, "user write 0xfffff000");
	expect_user_pf(do_exec, 0xfc100000, 0x4, "user exec 0xfc100000");
	report_eq(*(volatile uint32_t *)PAGE_PA(USER_RW), 0x600d, "user write landed");
}

static void from_kernel(void)
{
	ex_clear();
	uint32_t v = do_read(PAGE_VA(USER_RW));
	do_write(PAGE_VA(USER_RW) + 8);
	report(ex_last.count == 0 && v == 0x600d &&
	       *(volatile uint32_t *)(PAGE_PA(USER_RW) + 8) == 0x600d,
	       "kernel reads and writes a user page");
	expect_kernel_pf(do_write, PAGE_VA(USER_RO), 0x3, "kernel write read-only user page");
	expect_kernel_pf(do_write, PAGE_VA(KERNEL_RO), 0x3, "kernel write read-only page");
	expect_kernel_pf(do_read, PAGE_VA(UNMAPPED), 0x0, "kernel read unmapped page");
	expect_kernel_pf(do_write, PAGE_VA(UNMAPPED), 0x2, "kernel write unmapped page");
	expect_kernel_pf(do_read, 0xfc000000, 0x0, "kernel read 0xfc000000");
	expect_kernel_pf(do_write, 0xfffffffc, 0x2, "kernel write 0xfffffffc");

	/* copy_from_user-style: a read that faults is fixed up and the kernel
	 * goes on, then reads the same user page once it is mapped. */
	ex_clear();
	do_read(PAGE_VA(UNMAPPED) + 16);
	test_pt[UNMAPPED] = PAGE_PA(UNMAPPED) | P | W | U;
	*(volatile uint32_t *)(PAGE_PA(UNMAPPED) + 16) = 0xfeed;
	__asm__ volatile("invlpg (%0)" : : "r"(PAGE_VA(UNMAPPED)) : "memory");
	report(ex_last.count == 1 && do_read(PAGE_VA(UNMAPPED) + 16) == 0xfeed,
	       "kernel recovers from a user-copy fault");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	setup_paging();
	from_user();
	from_kernel();
	report_summary();
}
