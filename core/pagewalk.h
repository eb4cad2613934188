/*
 * Walking the guest's own page tables, as the CPU's page walker would (SDM
 * Vol. 3A §4.3, 32-bit paging; §4.7 page-fault error codes; §4.8 accessed
 * and dirty flags).  The shadow page tables are filled from what this
 * returns, and the emulator uses it to reach guest linear memory.
 *
 * Pure C over guest memory: unit-tested on the host.
 */
#ifndef CORE_PAGEWALK_H
#define CORE_PAGEWALK_H

#include <stdint.h>
#include "core/guest_mem.h"

/* What an access is. */
#define ACCESS_WRITE 0x1u
#define ACCESS_USER  0x2u	/* made at (virtual) CPL 3 */

/* The bits of the guest's paging entries (SDM Vol. 3A §4.3). */
#define GPTE_P     0x001u
#define GPTE_W     0x002u
#define GPTE_U     0x004u
#define GPTE_A     0x020u	/* accessed */
#define GPTE_D     0x040u	/* dirty (in a PTE or a 4 MiB PDE) */
#define GPTE_PS    0x080u	/* in a PDE: a 4 MiB page (with CR4.PSE) */
#define GPTE_G     0x100u	/* global (with CR4.PGE) */
#define GPTE_FRAME 0xfffff000u

/* Page-fault error code bits. */
#define PF_PRESENT 0x1u		/* 1: a protection violation; 0: not present */
#define PF_WRITE   0x2u
#define PF_USER    0x4u

/* The paging controls that change a walk. */
struct paging_mode {
	uint32_t cr3;
	int pse;	/* CR4.PSE: 4 MiB pages */
	int wp;		/* CR0.WP: supervisor writes honour read-only pages */
	int pge;	/* CR4.PGE: G marks translations kept across CR3 loads */
};

struct walk {
	uint32_t gpa;		/* the guest-physical address of va */
	uint32_t page_size;	/* 4 KiB or 4 MiB */
	int writable;		/* writable at the privilege of the access */
	int user;		/* U/S=1 at both levels */
	int dirty;		/* the final entry's D, after the walk */
	int global;		/* the final entry's G, with CR4.PGE set */
	int accessed;		/* A was already set in every entry used */
	uint32_t error;		/* WALK_FAULT: the #PF error code */
	/* The entries whose A or D the walk set (guest-physical), OK or not:
	 * the caller must mirror them if they lie in a descriptor table. */
	uint32_t updated[2];
	unsigned nupdated;
};

enum walk_result {
	WALK_OK,
	WALK_FAULT,		/* the guest must get #PF with walk.error */
	WALK_BAD_TABLE,		/* a guest page table lies outside guest RAM */
};

/*
 * Translate va for an access (ACCESS_* bits).  When set_ad, set the accessed
 * flags of the entries used and, for a write, the dirty flag of the final
 * one, in guest memory, as the CPU does.  Nothing is written on a fault.
 */
enum walk_result guest_walk(const struct guest_mem *gm, const struct paging_mode *mode,
			    uint32_t va, unsigned access, int set_ad, struct walk *out);

/*
 * Permission of the combined entries (SDM Vol. 3A §4.6): user accesses
 * need U at every level, writes need W at every level for user accesses,
 * and for supervisor accesses too when CR0.WP is set.
 */
static inline int walk_allowed(uint32_t combined, unsigned access, int wp)
{
	if ((access & ACCESS_USER) && !(combined & GPTE_U))
		return 0;
	if ((access & ACCESS_WRITE) && !(combined & GPTE_W) &&
	    ((access & ACCESS_USER) || wp))
		return 0;
	return 1;
}

/*
 * The same question, cheaply, for mapping a page again without a fault
 * (core/workingset.h): given the PDE and PTE the guest's tables hold for a
 * 4 KiB page now, whether the CPU could hold a translation for this access
 * without writing to them — present, allowed, accessed at both levels, and
 * not global (left to a fault, as are 4 MiB pages: returns 0).  If so,
 * *frame is the page's guest-physical frame and *writable says whether a
 * write may go through too (allowed and already dirty).  The caller reads
 * the PDE once for many pages.  Inline: a CR3 load asks it for every page
 * of a working set.
 */
static inline int walk_mapped_without_fault(const struct paging_mode *mode, uint32_t pde,
					    uint32_t pte, unsigned access, uint32_t *frame,
					    int *writable)
{
	const uint32_t needed = GPTE_P | GPTE_A;
	if ((pde & needed) != needed || (pte & needed) != needed ||
	    ((pde & GPTE_PS) && mode->pse) || (mode->pge && (pte & GPTE_G)))
		return 0;
	uint32_t combined = pde & pte;
	if (!walk_allowed(combined, access, mode->wp))
		return 0;
	*frame = pte & GPTE_FRAME;
	*writable = (pte & GPTE_D) && walk_allowed(combined, access | ACCESS_WRITE, mode->wp);
	return 1;
}

/*
 * guest_walk's commonest fault, cheaply: a user touching a page its kernel
 * has not mapped yet (Linux maps it in its fault handler, core/mmu.c).
 * 1 if va's PDE is present, already accessed and not a 4 MiB page, and its
 * PTE is not present: guest_walk then returns WALK_FAULT with the error
 * code *error (not present: just the access's W and U) and writes nothing,
 * whether set_ad or not.  0: ask guest_walk.
 */
static inline int walk_pte_not_present(const struct guest_mem *gm, const struct paging_mode *mode,
				       uint32_t va, unsigned access, uint32_t *error)
{
	const uint32_t *entry = gmem_word(gm, (mode->cr3 & GPTE_FRAME) + (va >> 22) * 4);
	if (!entry)
		return 0;
	uint32_t pde = *entry;		/* (the window may move below) */
	if ((pde & (GPTE_P | GPTE_A)) != (GPTE_P | GPTE_A) || ((pde & GPTE_PS) && mode->pse))
		return 0;
	entry = gmem_word(gm, (pde & GPTE_FRAME) + ((va >> 12) & 1023) * 4);
	if (!entry || (*entry & GPTE_P))
		return 0;
	*error = ((access & ACCESS_WRITE) ? PF_WRITE : 0) | ((access & ACCESS_USER) ? PF_USER : 0);
	return 1;
}

#endif
