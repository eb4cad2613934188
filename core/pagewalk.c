#include "core/pagewalk.h"

#define LARGE_FRAME 0xffc00000u

/* The error code for a fault on this access: P says whether a present
 * entry refused it, W and U describe the access. */
static uint32_t fault_error(unsigned access, int present)
{
	return (present ? PF_PRESENT : 0) |
	       ((access & ACCESS_WRITE) ? PF_WRITE : 0) |
	       ((access & ACCESS_USER) ? PF_USER : 0);
}

/* Entries are aligned words: read and updated in place (gmem_word), the
 * walk's hottest accesses. */
static int read_entry(const struct guest_mem *gm, uint32_t gpa, uint32_t *entry)
{
	const uint32_t *p = gmem_word(gm, gpa);
	if (!p)
		return -1;
	*entry = *p;
	return 0;
}

static void set_flags(const struct guest_mem *gm, uint32_t gpa, uint32_t entry,
		      uint32_t flags, struct walk *out)
{
	if ((entry & flags) != flags) {
		uint32_t *p = gmem_word(gm, gpa);
		if (p) {
			*p = entry | flags;
			out->updated[out->nupdated++] = gpa;
		}
	}
}

enum walk_result guest_walk(const struct guest_mem *gm, const struct paging_mode *mode,
			    uint32_t va, unsigned access, int set_ad, struct walk *out)
{
	uint32_t pde_gpa = (mode->cr3 & GPTE_FRAME) + (va >> 22) * 4;
	uint32_t pde, pte;

	*out = (struct walk){ 0 };
	if (read_entry(gm, pde_gpa, &pde))
		return WALK_BAD_TABLE;
	if (!(pde & GPTE_P)) {
		out->error = fault_error(access, 0);
		return WALK_FAULT;
	}

	if ((pde & GPTE_PS) && mode->pse) {		/* a 4 MiB page */
		if (!walk_allowed(pde, access, mode->wp)) {
			out->error = fault_error(access, 1);
			return WALK_FAULT;
		}
		if (set_ad)
			set_flags(gm, pde_gpa, pde,
				  GPTE_A | ((access & ACCESS_WRITE) ? GPTE_D : 0), out);
		out->gpa = (pde & LARGE_FRAME) | (va & ~LARGE_FRAME);
		out->page_size = 4u << 20;
		out->dirty = (pde & GPTE_D) || (set_ad && (access & ACCESS_WRITE));
		out->writable = walk_allowed(pde, access | ACCESS_WRITE, mode->wp);
		out->user = (pde & GPTE_U) != 0;
		out->global = mode->pge && (pde & GPTE_G);
		out->accessed = (pde & GPTE_A) != 0;
		return WALK_OK;
	}

	/*
	 * The PDE is used as soon as the CPU goes on to its page table, so
	 * its A is set now, whatever the PTE then says (SDM Vol. 3A §4.8:
	 * "whenever the processor uses a paging-structure entry as part of
	 * linear-address translation, it sets the accessed flag").  A walk
	 * that ends in a not-present or refusing PTE still marks the PDE, as
	 * our hardware (QEMU's TCG) does; only the PTE is left alone.
	 */
	if (set_ad)
		set_flags(gm, pde_gpa, pde, GPTE_A, out);
	uint32_t pte_gpa = (pde & GPTE_FRAME) + ((va >> 12) & 1023) * 4;
	if (read_entry(gm, pte_gpa, &pte))
		return WALK_BAD_TABLE;
	if (!(pte & GPTE_P)) {
		out->error = fault_error(access, 0);
		return WALK_FAULT;
	}
	uint32_t combined = pde & pte;	/* U and W must hold at both levels */
	if (!walk_allowed(combined, access, mode->wp)) {
		out->error = fault_error(access, 1);
		return WALK_FAULT;
	}
	if (set_ad)
		set_flags(gm, pte_gpa, pte, GPTE_A | ((access & ACCESS_WRITE) ? GPTE_D : 0), out);
	out->gpa = (pte & GPTE_FRAME) | (va & ~GPTE_FRAME);
	out->page_size = 4096;
	out->dirty = (pte & GPTE_D) || (set_ad && (access & ACCESS_WRITE));
	out->writable = walk_allowed(combined, access | ACCESS_WRITE, mode->wp);
	out->user = (combined & GPTE_U) != 0;
	out->global = mode->pge && (pte & GPTE_G);
	out->accessed = (pde & pte & GPTE_A) != 0;
	return WALK_OK;
}
