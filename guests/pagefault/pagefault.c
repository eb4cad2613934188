/*
 * Page faults and the basics of guest paging: paging on and off, accessed
 * and dirty flags, invlpg after a remap, and #PF reflected with the error
 * code and CR2 the guest's own tables imply - not present, the VMM's space
 * (unmapped in the guest's tables), and a user read of a supervisor page.
 * Under the VMM every one of these goes through the shadow page tables.
 *
 * With "past-ram" on its command line the guest instead maps a page past
 * its RAM and reads it: natively QEMU answers (0, measured), under the VMM (which
 * never maps what is not guest RAM) the guest is stopped with a report.
 */
#include "guests/lib/guest.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define ALIAS 0x40000000u		/* a 4 KiB-mapped window */

static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt[1024] __attribute__((aligned(4096)));
static uint32_t at, user_esp;

static volatile uint32_t *alias(unsigned page)
{
	return (volatile uint32_t *)(ALIAS + page * 4096);
}

static void invlpg(uint32_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Read va under ASM_TRY, noting the instruction's address. */
static uint32_t try_read(uint32_t va)
{
	uint32_t v = 0;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%2), %1\n2:"
			 : "=&r"(at), "+r"(v) : "r"(va) : "memory");
	return v;
}

static uint32_t user_try_read(uint32_t va)
{
	__asm__ volatile("movl %%esp, %0" : "=r"(user_esp));
	return try_read(va);
}

static void paging_on(void)
{
	/* The first 16 MiB 1:1 in 4 MiB pages, user-accessible so that
	 * run_in_user's code and stack work; one page table at ALIAS. */
	for (uint32_t i = 0; i < 4; i++)
		pd[i] = (i << 22) | PTE_P | PTE_W | PTE_U | PTE_PS;
	pd[ALIAS >> 22] = (uint32_t)pt | PTE_P | PTE_W | PTE_U;
	pt[0] = 0x800000 | PTE_P | PTE_W | PTE_U;
	pt[1] = 0x801000 | PTE_P | PTE_W;		/* supervisor only */
	write_cr4(read_cr4() | 0x10);			/* CR4.PSE */
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | 0x80010000);		/* PG, WP */
}

static void test_translation_and_flags(void)
{
	*(volatile uint32_t *)0x800000 = 0x1234;
	report_eq(*alias(0), 0x1234, "alias reads the frame");
	report_eq(pt[0] & (PTE_A | PTE_D), PTE_A, "a read sets A only");
	report(pd[ALIAS >> 22] & PTE_A, "the walk sets A in the PDE");
	*alias(0) = 7;
	report_eq(pt[0] & (PTE_A | PTE_D), PTE_A | PTE_D, "a write sets D");
	report(pd[0] & PTE_D, "a write through a 4 MiB page sets its D");

	*(volatile uint32_t *)0x802000 = 0x5678;
	pt[0] = 0x802000 | PTE_P | PTE_W | PTE_U;
	invlpg(ALIAS);
	report_eq(*alias(0), 0x5678, "invlpg makes a remap visible");
	pt[0] = 0x800000 | PTE_P | PTE_W | PTE_U;
	write_cr3(read_cr3());
	report_eq(*alias(0), 7, "a CR3 reload makes a remap visible");
}

static void test_faults(void)
{
	pt[0] = 0;
	invlpg(ALIAS);
	ex_clear();
	try_read(ALIAS + 4);
	report_exception("#PF not present", 14, 0, at, KERNEL_CS);
	report_eq(read_cr2(), ALIAS + 4, "#PF not present cr2");

	ex_clear();
	try_read(0xfc000000);
	report_exception("#PF at 0xfc000000", 14, 0, at, KERNEL_CS);
	report_eq(read_cr2(), 0xfc000000, "#PF at 0xfc000000 cr2");

	ex_clear();
	run_in_user(user_try_read, ALIAS + 4096);
	report_user_exception("#PF user reads supervisor page", 14, 0x5, at, user_esp);
	report_eq(read_cr2(), ALIAS + 4096, "#PF user reads supervisor page cr2");
	report_eq(run_in_user(user_try_read, 0x800000), 7,
		  "user reads a user page");

	ex_clear();
	run_in_user(user_try_read, 0xfffff000);
	report_user_exception("#PF user at 0xfffff000", 14, 0x4, at, user_esp);
}

static void read_past_ram(void)
{
	pt[2] = 0x7f000000 | PTE_P | PTE_W;
	printf("reading a page mapped past guest RAM\n");
	printf("read 0x%x\n", *alias(2));
	report_summary();
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	paging_on();
	if ((mbi->flags & MBI_FLAG_CMDLINE) &&
	    strlen((const char *)mbi->cmdline) >= 8 &&
	    strcmp((const char *)mbi->cmdline + strlen((const char *)mbi->cmdline) - 8,
		   "past-ram") == 0)
		read_past_ram();
	report(read_cr0() & 0x80000000, "paging on");
	test_translation_and_flags();
	test_faults();
	write_cr0(read_cr0() & ~0x80000000u);
	report_eq(*(volatile uint32_t *)0x800000, 7, "paging off again");
	report_summary();
}
