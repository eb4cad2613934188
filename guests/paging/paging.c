/*
 * paging: the guest's own 32-bit page tables (SDM Vol. 3A chapter 4) and
 * when the CPU sees a change to them.
 *
 * Paging on, off and on again; translations through an alias; a remap made
 * visible by a CR3 reload and by invlpg (§4.10.4.1); not-present entries
 * (#PF, error P = 0, CR2 = the address); entries made present, which need no
 * invalidation (§4.10.4.3); accessed and dirty flags set by reads, writes
 * and fetches from both rings (§4.8); 4 MiB pages (§4.3) with their A/D
 * bits, invlpg anywhere inside one, and the PS bit ignored without
 * CR4.PSE; global pages (§4.10.2.4) - only what the architecture
 * guarantees: invlpg, CR4.PGE and CR0.PG flush them, and a CR3 write still
 * flushes non-global ones.  (Not that a stale global entry survives a CR3
 * write: a VMM may drop it, and the architecture allows that.)  Last, a
 * page directory mapped into itself, so that page tables are written
 * through a second linear address.
 *
 * Under ringvisor every access here goes through the shadow page tables
 * the VMM builds from these, so every "visible after" test is a point where
 * the VMM must have noticed the guest's change.
 */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define ALIAS     0x40000000u	/* a window of 4 KiB pages onto pool frames */
#define AD_VA     0x40400000u	/* a page table of its own, for A/D tests */
#define LARGE_VA  0x80000000u	/* 4 MiB pages */
#define SELF_SLOT 0x3efu	/* the PDE that maps the directory itself */
#define SELF_VA   (SELF_SLOT << 22)	/* 0xfbc00000, just below the VMM */

static pte_t *pd;
static uint32_t frame[4];	/* word 0 of frame[i] holds 0x1000 + i */
static uint32_t at;		/* address of the access under test */
static volatile uint32_t set_before_paging;

static volatile uint32_t *ptr(uint32_t a)
{
	return (volatile uint32_t *)a;
}

/* Kernel read and write under ASM_TRY, noting the instruction's address. */
static uint32_t try_read(uint32_t va)
{
	uint32_t v = 0;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%2), %1\n2:"
			 : "=&r"(at), "+r"(v) : "r"(va) : "memory");
	return v;
}

static void try_write(uint32_t va, uint32_t v)
{
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl %2, (%1)\n2:"
			 : "=&r"(at) : "r"(va), "r"(v) : "memory");
}

/* The same from user mode (run_in_user: the image is user-accessible). */
static uint32_t user_read(uint32_t va)
{
	return *ptr(va);
}

static uint32_t user_write(uint32_t va)
{
	*ptr(va) = 0x600d;
	return 0;
}

static void test_on_off(void)
{
	pte_t *alias = map_page(pd, ALIAS, frame[0], PTE_W);

	/* One identity page remapped elsewhere: paging on or off shows. */
	map_page(pd, frame[3], frame[2], PTE_W);

	set_before_paging = 0x5eed;
	enable_paging(pd);
	report(paging_enabled() && read_cr3() == (uint32_t)pd, "paging on");
	report_eq(set_before_paging, 0x5eed, "identity map keeps the kernel's data");
	report_eq(*ptr(ALIAS), 0x1000, "alias reads its frame");
	*ptr(ALIAS + 8) = 0xabc;
	report_eq(*ptr(frame[0] + 8), 0xabc, "alias write reaches the frame");
	map_page(pd, ALIAS + PAGE_SIZE, frame[0], PTE_W);
	*ptr(ALIAS + PAGE_SIZE + 12) = 0x77;
	report_eq(*ptr(ALIAS + 12), 0x77, "two aliases of one frame");
	report_eq(*ptr(frame[3]), 0x1002, "a remapped identity page");

	disable_paging();
	report(!paging_enabled(), "paging off");
	report_eq(*ptr(frame[3]), 0x1003, "paging off: linear is physical");

	/* Changed while paging is off; CR0.PG 1 -> 0 flushed the TLB. */
	*alias = frame[1] | PTE_P | PTE_W;
	enable_paging(pd);
	report(paging_enabled(), "paging on again");
	report_eq(*ptr(ALIAS), 0x1001, "paging on again sees a PTE changed while off");
	report_eq(*ptr(frame[3]), 0x1002, "paging on again: the remap is back");

	map_page(pd, frame[3], frame[3], PTE_W);
	invlpg(frame[3]);
	report_eq(*ptr(frame[3]), 0x1003, "identity page restored");
}

static void test_remap(void)
{
	pte_t *alias = get_pte(pd, ALIAS);

	*alias = frame[0] | PTE_P | PTE_W;
	reload_cr3();
	(void)*ptr(ALIAS);		/* the old translation is in use */
	*alias = frame[1] | PTE_P | PTE_W;
	reload_cr3();
	report_eq(*ptr(ALIAS), 0x1001, "CR3 reload makes a remap visible");

	*alias = frame[2] | PTE_P | PTE_W;
	invlpg(ALIAS);
	report_eq(*ptr(ALIAS), 0x1002, "invlpg makes a remap visible");

	*alias = frame[1] | PTE_P | PTE_W;
	invlpg(ALIAS + 0xabc);
	report_eq(*ptr(ALIAS), 0x1001, "invlpg of any address in the page");

	/* A page written through, then moved: later writes must not reach
	 * the old frame (a writable translation left behind would). */
	*alias = frame[2] | PTE_P | PTE_W;
	invlpg(ALIAS);
	*ptr(ALIAS + 16) = 0xaaaa;
	*alias = frame[0] | PTE_P | PTE_W;
	invlpg(ALIAS);
	*ptr(ALIAS + 16) = 0xbbbb;
	report(*ptr(frame[0] + 16) == 0xbbbb && *ptr(frame[2] + 16) == 0xaaaa,
	       "writes after a remap reach the new frame");

	/* Read-only, then writable again: the write must land. */
	*alias = frame[0] | PTE_P;
	invlpg(ALIAS);
	pf_clear();
	try_write(ALIAS + 20, 1);
	report_pf("#PF write to a page made read-only", PF_P | PF_W, ALIAS + 20, at,
		  KERNEL_CS);
	*alias = frame[0] | PTE_P | PTE_W;
	invlpg(ALIAS);
	pf_clear();
	try_write(ALIAS + 20, 0x2020);
	report(pf_last.count == 0 && *ptr(frame[0] + 20) == 0x2020,
	       "write to a page made writable again");

	/* Another directory: its own page table at ALIAS, the rest shared. */
	pte_t *pd2 = clone_pd(pd);
	*get_pde(pd2, ALIAS) = 0;
	map_page(pd2, ALIAS, frame[3], PTE_W);
	write_cr3((uint32_t)pd2);
	report_eq(*ptr(ALIAS), 0x1003, "CR3 switch to another directory");
	write_cr3((uint32_t)pd);
	report_eq(*ptr(ALIAS), 0x1000, "CR3 switch back");
}

static void test_not_present(void)
{
	pte_t *alias = get_pte(pd, ALIAS);
	pte_t *pde = get_pde(pd, ALIAS);

	*alias = 0;
	invlpg(ALIAS);
	pf_clear();
	try_read(ALIAS + 0x10);
	report_pf("#PF read after PTE cleared and invlpg", 0, ALIAS + 0x10, at, KERNEL_CS);
	pf_clear();
	try_write(ALIAS + 0x20, 1);
	report_pf("#PF write after PTE cleared and invlpg", PF_W, ALIAS + 0x20, at,
		  KERNEL_CS);

	/* Everything but P is free for the OS in a not-present entry. */
	*alias = 0xdeadb000 | PTE_W | PTE_U | PTE_A | PTE_D;
	invlpg(ALIAS);
	pf_clear();
	try_read(ALIAS + 0x30);
	report_pf("#PF not-present PTE with other bits set", 0, ALIAS + 0x30, at,
		  KERNEL_CS);

	/* P 0 -> 1 needs no invalidation: no TLB entry is ever made from a
	 * not-present entry (SDM Vol. 3A §4.10.4.3). */
	*alias = frame[2] | PTE_P | PTE_W;
	pf_clear();
	report(try_read(ALIAS) == 0x1002 && pf_last.count == 0,
	       "a PTE made present needs no invlpg");

	*alias = 0;
	reload_cr3();
	pf_clear();
	try_read(ALIAS + 0x40);
	report_pf("#PF after PTE cleared and CR3 reload", 0, ALIAS + 0x40, at, KERNEL_CS);

	/* The whole 4 MiB region, at the directory level. */
	*alias = frame[0] | PTE_P | PTE_W;
	pte_t saved = *pde;
	(void)try_read(ALIAS);
	*pde = 0;
	invlpg(ALIAS);
	pf_clear();
	try_read(ALIAS + 0x50);
	report_pf("#PF read after PDE cleared", 0, ALIAS + 0x50, at, KERNEL_CS);
	pf_clear();
	try_write(ALIAS + PAGE_SIZE + 0x60, 1);
	report_pf("#PF write after PDE cleared", PF_W, ALIAS + PAGE_SIZE + 0x60, at,
		  KERNEL_CS);
	*pde = saved;
	pf_clear();
	report(try_read(ALIAS) == 0x1000 && pf_last.count == 0,
	       "a PDE made present needs no invlpg");
}

static void test_accessed_dirty(void)
{
	pte_t *pte = map_page(pd, AD_VA, frame[0], PTE_W);
	pte_t *pde = get_pde(pd, AD_VA);

	report_eq(*pte & (PTE_A | PTE_D), 0, "new PTE has A and D clear");
	(void)*ptr(AD_VA);
	report_eq(*pte & (PTE_A | PTE_D), PTE_A, "a read sets A, not D");
	report(*pde & PTE_A, "the walk sets A in the PDE");
	*ptr(AD_VA + 4) = 1;
	report_eq(*pte & (PTE_A | PTE_D), PTE_A | PTE_D, "a write after a read sets D");

	*pte &= ~(PTE_A | PTE_D);
	invlpg(AD_VA);
	*ptr(AD_VA + 4) = 2;
	report_eq(*pte & (PTE_A | PTE_D), PTE_A | PTE_D, "a first write sets A and D");

	*pte &= ~(PTE_A | PTE_D);
	invlpg(AD_VA);
	for (int i = 0; i < 8; i++)
		(void)*ptr(AD_VA + 4 * i);
	report_eq(*pte & (PTE_A | PTE_D), PTE_A, "reads alone never set D");

	/* An instruction fetch is a read: a "ret" copied into the frame. */
	pte_t *code = map_page(pd, AD_VA + PAGE_SIZE, frame[1], PTE_W);
	*(volatile uint8_t *)(frame[1] + 0x100) = 0xc3;	/* ret */
	((void (*)(void))(AD_VA + PAGE_SIZE + 0x100))();
	report_eq(*code & (PTE_A | PTE_D), PTE_A, "an instruction fetch sets A, not D");

	pte_t *user = map_page(pd, AD_VA + 2 * PAGE_SIZE, frame[2], PTE_W | PTE_U);
	report_eq(run_in_user(user_read, AD_VA + 2 * PAGE_SIZE), 0x1002,
		  "user read through a user page");
	report_eq(*user & (PTE_A | PTE_D), PTE_A, "a user read sets A, not D");
	run_in_user(user_write, AD_VA + 2 * PAGE_SIZE + 8);
	report_eq(*user & (PTE_A | PTE_D), PTE_A | PTE_D, "a user write sets D");
	report_eq(*ptr(frame[2] + 8), 0x600d, "the user write reached the frame");
}

static void test_large_pages(void)
{
	if (!enable_pse()) {
		report_skip("CPUID: no PSE", "4 MiB pages");
		return;
	}
	*ptr(LARGE_FRAME0) = 0x4000;
	*ptr(LARGE_FRAME0 + 0x5000) = 0x4005;
	*ptr(LARGE_FRAME0 + LARGE_PAGE_SIZE - 4) = 0x4fff;
	*ptr(LARGE_FRAME1) = 0x5000;
	*ptr(LARGE_FRAME1 + LARGE_PAGE_SIZE - 4) = 0x5fff;

	pte_t *pde = get_pde(pd, LARGE_VA);
	map_large(pd, LARGE_VA, LARGE_FRAME0, PTE_W);
	report(*ptr(LARGE_VA) == 0x4000 && *ptr(LARGE_VA + LARGE_PAGE_SIZE - 4) == 0x4fff,
	       "a 4 MiB page maps all of its frame");
	report_eq(*pde & (PTE_A | PTE_D), PTE_A, "4 MiB page: a read sets A, not D");
	*ptr(LARGE_VA + 0x200000) = 1;
	report_eq(*pde & (PTE_A | PTE_D), PTE_A | PTE_D, "4 MiB page: a write sets D");

	*pde = LARGE_FRAME1 | PTE_P | PTE_W | PTE_PS;
	invlpg(LARGE_VA + 0x234000);
	report(*ptr(LARGE_VA) == 0x5000 && *ptr(LARGE_VA + LARGE_PAGE_SIZE - 4) == 0x5fff,
	       "invlpg anywhere in a 4 MiB page flushes all of it");
	*pde = LARGE_FRAME0 | PTE_P | PTE_W | PTE_PS;
	reload_cr3();
	report(*ptr(LARGE_VA) == 0x4000 && *ptr(LARGE_VA + LARGE_PAGE_SIZE - 4) == 0x4fff,
	       "CR3 reload flushes a 4 MiB page");
	report_eq(*pde & (PTE_A | PTE_D), PTE_A, "4 MiB page: A set again, D still clear");

	/* 4 MiB page -> page table -> 4 MiB page, at one PDE. */
	pte_t *pt = (pte_t *)alloc_frame();
	pt[5] = frame[3] | PTE_P | PTE_W;
	*pde = (uint32_t)pt | PTE_P | PTE_W;
	invlpg(LARGE_VA + 0x5000);
	report_eq(*ptr(LARGE_VA + 0x5000), 0x1003, "a 4 MiB page replaced by a page table");
	*pde = LARGE_FRAME0 | PTE_P | PTE_W | PTE_PS;
	invlpg(LARGE_VA + 0x5000);
	report_eq(*ptr(LARGE_VA + 0x5000), 0x4005, "a page table replaced by a 4 MiB page");

	/* Without CR4.PSE the PS bit is ignored: the PDE references a page
	 * table, here the first 4 KiB of the 4 MiB frame (SDM §4.3). */
	*ptr(LARGE_FRAME0 + 7 * 4) = frame[3] | PTE_P | PTE_W;
	write_cr4(read_cr4() & ~CR4_PSE);
	reload_cr3();
	report_eq(*ptr(LARGE_VA + 0x7000), 0x1003, "without CR4.PSE the PS bit is ignored");
	write_cr4(read_cr4() | CR4_PSE);
	reload_cr3();
	*ptr(LARGE_FRAME0 + 7 * 4) = 0;
	report_eq(*ptr(LARGE_VA + 0x5000), 0x4005, "CR4.PSE on again: a 4 MiB page");

	/* A fresh 4 MiB page written first sets A and D together. */
	*pde = LARGE_FRAME1 | PTE_P | PTE_W | PTE_PS;
	invlpg(LARGE_VA);
	*ptr(LARGE_VA + 0x100) = 2;
	report_eq(*pde & (PTE_A | PTE_D), PTE_A | PTE_D, "4 MiB page: a first write sets A and D");
	report_eq(*ptr(LARGE_FRAME1 + 0x100), 2, "the write reached the 4 MiB frame");

	*pde = 0;
	invlpg(LARGE_VA);
	pf_clear();
	try_read(LARGE_VA + 0x123458);
	report_pf("#PF after a 4 MiB PDE cleared", 0, LARGE_VA + 0x123458, at, KERNEL_CS);
}

static void test_global_pages(void)
{
	if (!enable_pge()) {
		report_skip("CPUID: no PGE", "global pages");
		return;
	}
	uint32_t gva = ALIAS + 16 * PAGE_SIZE, nva = ALIAS + 17 * PAGE_SIZE;
	pte_t *g = map_page(pd, gva, frame[0], PTE_W | PTE_G);
	pte_t *n = map_page(pd, nva, frame[0], PTE_W);

	(void)*ptr(gva);
	*g = frame[1] | PTE_P | PTE_W | PTE_G;
	invlpg(gva);
	report_eq(*ptr(gva), 0x1001, "invlpg flushes a global page");

	*g = frame[2] | PTE_P | PTE_W | PTE_G;
	write_cr4(read_cr4() & ~CR4_PGE);
	report_eq(*ptr(gva), 0x1002, "clearing CR4.PGE flushes global pages");
	write_cr4(read_cr4() | CR4_PGE);

	(void)*ptr(gva);
	*g = frame[3] | PTE_P | PTE_W | PTE_G;
	disable_paging();
	enable_paging(pd);
	report_eq(*ptr(gva), 0x1003, "paging off and on flushes global pages");

	(void)*ptr(nva);
	*n = frame[1] | PTE_P | PTE_W;
	reload_cr3();
	report_eq(*ptr(nva), 0x1001, "with CR4.PGE a CR3 reload flushes non-global pages");

	if (read_cr4() & CR4_PSE) {
		pte_t *pde = get_pde(pd, LARGE_VA);
		map_large(pd, LARGE_VA, LARGE_FRAME0, PTE_W | PTE_G);
		(void)*ptr(LARGE_VA);
		*pde = LARGE_FRAME1 | PTE_P | PTE_W | PTE_PS | PTE_G;
		invlpg(LARGE_VA + 0x100000);
		report_eq(*ptr(LARGE_VA), 0x5000, "invlpg flushes a global 4 MiB page");
		*pde = 0;
		invlpg(LARGE_VA);
	}
	*g = 0;
	*n = 0;
	write_cr4(read_cr4() & ~CR4_PGE);
}

/* The directory as its own page table at SELF_SLOT: the PTE for va is then
 * at SELF_VA + (va >> 12) * 4, and the directory at SELF_VA + SELF_SLOT * 4 KiB. */
static void test_self_map(void)
{
	pte_t *alias = get_pte(pd, ALIAS);
	volatile pte_t *self_pte = (volatile pte_t *)(SELF_VA + (ALIAS >> 12) * 4);
	volatile pte_t *self_pd = (volatile pte_t *)(SELF_VA + SELF_SLOT * PAGE_SIZE);

	pd[SELF_SLOT] = (uint32_t)pd | PTE_P | PTE_W;
	*alias = frame[1] | PTE_P | PTE_W;
	invlpg(ALIAS);
	report_eq(*self_pte, *alias, "the self-map shows a PTE");
	report_eq(self_pd[ALIAS >> 22], pd[ALIAS >> 22], "the self-map shows the directory");

	(void)*ptr(ALIAS);
	*self_pte = frame[2] | PTE_P | PTE_W;
	invlpg(ALIAS);
	report_eq(*ptr(ALIAS), 0x1002, "a PTE written through the self-map takes effect");
	report_eq(*alias & PTE_ADDR, frame[2], "... and is the same PTE");

	pd[SELF_SLOT] = 0;
	invlpg((uint32_t)self_pte);
	invlpg((uint32_t)self_pd);
	pf_clear();
	try_read((uint32_t)self_pte);
	report_pf("#PF self-map removed", 0, (uint32_t)self_pte, at, KERNEL_CS);
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pf_install(NULL, 0);
	for (int i = 0; i < 4; i++) {
		frame[i] = alloc_frame();
		*ptr(frame[i]) = 0x1000 + i;
	}
	pd = identity_pd(true);

	test_on_off();
	test_remap();
	test_not_present();
	test_accessed_dirty();
	test_large_pages();
	test_global_pages();
	test_self_map();

	disable_paging();
	report(!paging_enabled() && *ptr(frame[1]) == 0x1001, "paging off at the end");
	report_summary();
}
