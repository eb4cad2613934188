/*
 * Guest page tables: 32-bit paging without PAE (SDM Vol. 3A §4.3), built in
 * the guest's own memory, and a #PF handler that records CR2 and the error
 * code and resumes at fixups.
 *
 * Physical memory of a test guest, as this library uses it:
 *
 *   0 - 1 MiB        BIOS, Multiboot information
 *   1 MiB - end      the guest image (guest.ld loads it at 1 MiB)
 *   4 - 8 MiB        the frame pool: page tables and test frames
 *   8 - 16 MiB       free: two 4 MiB frames for large-page tests
 *   16 - 64 MiB      free RAM, not in the identity map
 *
 * identity_pd() maps 0 - 16 MiB one to one (supervisor, read/write) so that
 * the kernel's code, data and stacks keep working once paging is on, and
 * so that every page table and pool frame is reachable through its
 * physical address: the library edits page tables through that map.
 *
 * Never map anything at or above VMM_SPACE (0xFC000000): under ringvisor
 * those linear addresses belong to the VMM in every address space and the
 * guest cannot have them.  Tests may (and should) check that touching
 * them, unmapped in the guest's own tables, raises #PF like any other
 * unmapped address.
 *
 * No function here flushes the TLB on its own: the tests are about when
 * a change becomes visible, so they call invlpg() or reload_cr3() where
 * the architecture requires it (SDM Vol. 3A §4.10.4).
 */
#ifndef GUESTS_LIB_PAGING_H
#define GUESTS_LIB_PAGING_H

#include <stdbool.h>
#include <stdint.h>
#include "guests/lib/desc.h"

/* Page-table and page-directory entry bits (SDM Vol. 3A §4.3, Tables 4-4
 * to 4-6).  PTE_D and PTE_G mean something in a PTE and in a PDE that maps
 * a 4 MiB page (PTE_PS), not in a PDE that references a page table. */
#define PTE_P   0x001u	/* present */
#define PTE_W   0x002u	/* read/write */
#define PTE_U   0x004u	/* user/supervisor: 1 = user */
#define PTE_PWT 0x008u
#define PTE_PCD 0x010u
#define PTE_A   0x020u	/* accessed */
#define PTE_D   0x040u	/* dirty */
#define PTE_PS  0x080u	/* in a PDE: 4 MiB page (needs CR4.PSE) */
#define PTE_G   0x100u	/* global (needs CR4.PGE) */
#define PTE_ADDR 0xfffff000u
#define PDE_LARGE_ADDR 0xffc00000u

/* The #PF error code (SDM Vol. 3A §4.7). */
#define PF_P 0x1u	/* 0: not present, 1: protection violation */
#define PF_W 0x2u	/* the access was a write */
#define PF_U 0x4u	/* the access was made in user mode */

#define PAGE_SIZE       0x1000u
#define LARGE_PAGE_SIZE 0x400000u

#define IMAGE_START      0x100000u	/* guest.ld */
#define FRAME_POOL_START 0x400000u
#define FRAME_POOL_END   0x800000u
#define LARGE_FRAME0     0x800000u	/* 4 MiB-aligned, free for tests */
#define LARGE_FRAME1     0xc00000u
#define IDENTITY_END     0x1000000u	/* identity_pd() maps 0 - 16 MiB */
#define VMM_SPACE        0xfc000000u	/* never map at or above this */

typedef uint32_t pte_t;

/* The end of the guest image (guest.ld's __bss_end), rounded up to a page. */
uint32_t image_end(void);

/* A zeroed 4 KiB frame from the pool; ends the run if the pool is empty.
 * The pool is identity-mapped, so the frame is at (void *)pa. */
uint32_t alloc_frame(void);

/* A new, empty page directory (no entry present). */
pte_t *new_pd(void);
/* A new page directory whose entries are copies of src's: the two share
 * every page table src has (like the kernel half of Linux's address
 * spaces), and further map_page() calls on either add private ones. */
pte_t *clone_pd(const pte_t *src);
/*
 * A new page directory mapping 0 - IDENTITY_END one to one in 4 KiB pages,
 * supervisor read/write.  With user_image, the pages of the guest image
 * (IMAGE_START - image_end()) are user-accessible too: run_in_user's code
 * and stack live in the image, and so do the user-mode functions of a
 * test.  Tests then take away PTE_U from the pages they want kernel-only.
 */
pte_t *identity_pd(bool user_image);

/* The PDE for va. */
static inline pte_t *get_pde(pte_t *pd, uint32_t va)
{
	return &pd[va >> 22];
}

/* The PTE for va, or NULL if its PDE is not present or maps a 4 MiB page. */
pte_t *get_pte(pte_t *pd, uint32_t va);

/*
 * Map the 4 KiB page at va to the frame pa with flags (PTE_P is added).
 * If va's PDE is not present, a page table is allocated and the PDE made
 * P|W|U, so the PTE alone decides the access rights (the effective rights
 * combine both levels, SDM Vol. 3A §4.6.1).  New entries have A = D = 0.
 * Returns the PTE.
 */
pte_t *map_page(pte_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* map_page() for each page of [va, va + size). */
void map_range(pte_t *pd, uint32_t va, uint32_t pa, uint32_t size, uint32_t flags);
/* A 4 MiB page (PDE with PTE_PS, SDM Vol. 3A §4.3 Table 4-4); va and pa
 * 4 MiB-aligned.  Takes effect only with CR4.PSE (enable_pse()). */
void map_large(pte_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* Clear va's PTE (or its PDE, if that maps a 4 MiB page). */
void unmap_page(pte_t *pd, uint32_t va);

/* Translate va by walking pd in software (honouring PS as if CR4.PSE
 * were set); returns false if not mapped. */
bool translate(pte_t *pd, uint32_t va, uint32_t *pa);

/* CR3 = pd, then CR0.PG and CR0.WP on (WP: supervisor writes honour
 * read-only pages, as every modern kernel runs; SDM Vol. 3A §4.6). */
void enable_paging(pte_t *pd);
/* CR0.PG off: linear = physical again.  Must run from identity-mapped
 * code (all test code is).  Flushes the whole TLB (SDM §4.10.4.1). */
void disable_paging(void);
bool paging_enabled(void);

/* CR4.PSE / CR4.PGE on, if CPUID reports the feature (setting a CR4 bit
 * the CPU lacks hangs QEMU's TCG); return whether it is on. */
bool enable_pse(void);
bool enable_pge(void);

static inline void invlpg(uint32_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Writing CR3 flushes every non-global TLB entry (SDM §4.10.4.1). */
static inline void reload_cr3(void)
{
	__asm__ volatile("movl %%cr3, %%eax; movl %%eax, %%cr3" : : : "eax", "memory");
}

/*
 * The #PF handler (vector 14), installed by pf_install().  For each fault
 * it records what the CPU reported, reading CR2 inside the handler (a
 * later fault would overwrite it), and calls ex_record() so that
 * report_exception() and ex_last work as with the default handler.  Then:
 *
 *  - if an ASM_TRY is armed (ex_fixup), it resumes there, as the default
 *    handler does;
 *  - else, if the faulting EIP is an insn of the fixup table, it resumes
 *    at that entry's fixup with EAX = CR2 and EDX = the error code (the
 *    other registers as the fault left them: after a faulting rep movsb,
 *    ECX counts the bytes not copied).  This needs no global state, so
 *    preemptible user processes can use it (as Linux's __ex_table);
 *  - else the fault was not expected: a FAIL line and the summary.
 */
struct pf_fixup {
	uint32_t insn;		/* address of the instruction that may fault */
	uint32_t fixup;		/* where to resume */
};

struct pf_record {
	unsigned count;		/* faults since pf_clear() */
	uint32_t cr2, error;
	uint32_t eip, cs;	/* cs without its RPL's meaning: & 0xffff */
	uint32_t esp;		/* from user mode only, else 0 */
	uint32_t frame;		/* address of the EIP the CPU pushed */
};

extern struct pf_record pf_last;

void pf_install(const struct pf_fixup *table, unsigned entries);
void pf_clear(void);	/* pf_last and ex_last */

/*
 * Whether, since pf_clear(), there was exactly one exception: a #PF with
 * this error code and CR2, at this EIP and CS; with cs == USER_CS also
 * that it came from user mode with this ESP (and SS = USER_DS).  A
 * mismatch adds a detail() naming the field.
 */
bool pf_matches(uint32_t error, uint32_t cr2, uint32_t eip, uint32_t cs,
		uint32_t esp);
/* One test of pf_matches(): kernel mode, or user mode (USER_CS). */
bool report_pf(const char *name, uint32_t error, uint32_t cr2, uint32_t eip,
	       uint32_t cs);
bool report_user_pf(const char *name, uint32_t error, uint32_t cr2, uint32_t eip,
		    uint32_t esp);

#endif
