/*
 * The VMM's page tables.  The same 16 PDEs (0xFC000000 and up) will be copied
 * into every shadow page directory the VMM builds for a guest, so that the
 * VMM is mapped wherever a trap finds the CPU (paper §4.1, §4.3).  They are
 * supervisor-only: guest code in ring 3 cannot touch them whatever its
 * segments say.
 */
#include "arch/ia32/paging.h"

#include "arch/ia32/cpu.h"
#include "arch/ia32/espfix.h"
#include "arch/ia32/memlayout.h"
#include "arch/ia32/x86.h"
#include "core/palloc.h"

static uint32_t vmm_page_directory[1024] __attribute__((aligned(PAGE_SIZE)));
/* 4 KiB pages for the first 4 MiB of the direct map, where the image is. */
static uint32_t low_page_table[1024] __attribute__((aligned(PAGE_SIZE)));
/* The windows onto host pages (memlayout.h).  Slot n maps a page whose frame
 * number is n modulo 1024, so the same page reuses its window. */
static uint32_t window_page_table[1024] __attribute__((aligned(PAGE_SIZE)));
/* The fixed windows (memlayout.h): slot n stays on its page until moved. */
static uint32_t fixed_window_page_table[1024] __attribute__((aligned(PAGE_SIZE)));

extern char image_start[], text_end[], rodata_end[];

static void unmap_guard(const void *guard)
{
	low_page_table[(v2p(guard) >> PAGE_SHIFT) & 1023] = 0;
}

void paging_init(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	/* Global pages survive CR3 switches in the TLB: guest address-space
	 * switches will not evict the VMM's own translations. */
	uint32_t global = (d & CPUID_EDX_PGE) ? PTE_G : 0;

	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t pa = i << PAGE_SHIFT;
		uint32_t va = pa + VMM_BASE;
		int read_only = va >= (uint32_t)image_start && va < (uint32_t)rodata_end;
		low_page_table[i] = pa | PTE_P | (read_only ? 0 : PTE_W) | global;
	}
	unmap_guard(boot_stack_guard);
	unmap_guard(double_fault_stack_guard);
	unmap_guard(espfix_guard);	/* see espfix.c */

	vmm_page_directory[VMM_PDE_FIRST] = v2p(low_page_table) | PTE_P | PTE_W;
	for (uint32_t i = 1; i < DIRECT_MAP_PDES; i++)
		vmm_page_directory[VMM_PDE_FIRST + i] =
			(i << 22) | PTE_P | PTE_W | PTE_PS | global;

	vmm_page_directory[WINDOW_PDE] = v2p(window_page_table) | PTE_P | PTE_W;
	vmm_page_directory[FIXED_WINDOW_PDE] = v2p(fixed_window_page_table) | PTE_P | PTE_W;

	if (global)
		write_cr4(read_cr4() | CR4_PGE);
	write_cr3(v2p(vmm_page_directory));
	cpu_set_double_fault_cr3(v2p(vmm_page_directory));
}

/* Walk the live page tables (found through CR3, via the direct map). */
static int page_present(uint32_t va)
{
	uint32_t cr3 = read_cr3() & PTE_ADDR;
	if (cr3 >= DIRECT_MAP_SIZE)
		return 0;
	uint32_t pde = ((uint32_t *)p2v(cr3))[va >> 22];
	if (!(pde & PTE_P))
		return 0;
	if (pde & PTE_PS)
		return 1;
	uint32_t pt = pde & PTE_ADDR;
	if (pt >= DIRECT_MAP_SIZE)
		return 0;
	return ((uint32_t *)p2v(pt))[(va >> 12) & 1023] & PTE_P;
}

int paging_readable(uint32_t va, uint32_t len)
{
	if (len == 0)
		return 1;
	if (va + len - 1 < va)
		return 0;
	for (uint32_t page = va & PTE_ADDR; ; page += PAGE_SIZE) {
		if (!page_present(page))
			return 0;
		if (page >= ((va + len - 1) & PTE_ADDR))
			return 1;
	}
}

uint8_t *paging_window(uint32_t pa, uint32_t *len)
{
	uint32_t frame = pa >> PAGE_SHIFT;
	uint32_t slot = frame % WINDOW_SLOTS;
	uint32_t pte = (pa & PTE_ADDR) | PTE_P | PTE_W;
	uint32_t va = WINDOW_BASE + slot * PAGE_SIZE;

	/* Not global: a window reused while another address space is loaded
	 * must not survive there in the TLB.  invlpg covers the current one. */
	if (window_page_table[slot] != pte) {
		window_page_table[slot] = pte;
		invlpg(va);
	}
	*len = PAGE_SIZE - (pa & (PAGE_SIZE - 1));
	return (uint8_t *)(uintptr_t)(va + (pa & (PAGE_SIZE - 1)));
}

void *paging_fixed_window(unsigned slot, uint32_t pa)
{
	if (slot >= FIXED_WINDOWS)
		return 0;
	uint32_t va = FIXED_WINDOW_BASE + slot * PAGE_SIZE;
	/* Not global, like the windows: invlpg covers the address space
	 * loaded now, and a CR3 load the others. */
	fixed_window_page_table[slot] = (pa & PTE_ADDR) | PTE_P | PTE_W;
	invlpg(va);
	return (void *)(uintptr_t)(va + (pa & (PAGE_SIZE - 1)));
}

void paging_copy_vmm_pdes(uint32_t *page_directory)
{
	for (uint32_t i = VMM_PDE_FIRST; i < 1024; i++)
		page_directory[i] = vmm_page_directory[i];
}

uint32_t paging_vmm_cr3(void)
{
	return v2p(vmm_page_directory);
}
