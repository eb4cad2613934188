#include "core/pagewalk.h"

#define PTE_P   0x001u
#define PTE_W   0x002u
#define PTE_U   0x004u
#define PTE_A   0x020u
#define PTE_D   0x040u
#define PTE_PS  0x080u
#define PTE_G   0x100u
#define FRAME   0xfffff000u
#define LARGE_FRAME 0xffc00000u

/* The error code for a fault on this access: P says whether a present
 * entry refused it, W and U describe the access. */
static uint32_t fault_error(unsigned access, int present)
{
	return (present ? PF_PRESENT : 0) |
	       ((access & ACCESS_WRITE) ? PF_WRITE : 0) |
	       ((access & ACCESS_USER) ? PF_USER : 0);
}

/*
 * Permission of the combined entries (SDM Vol. 3A §4.6): user accesses
 * need U at every level, writes need W at every level for user accesses,
 * and for supervisor accesses too when CR0.WP is set.
 */
static int allowed(uint32_t combined, unsigned access, int wp)
{
	if ((access & ACCESS_USER) && !(combined & PTE_U))
		return 0;
	if ((access & ACCESS_WRITE) && !(combined & PTE_W) &&
	    ((access & ACCESS_USER) || wp))
		return 0;
	return 1;
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
	uint32_t pde_gpa = (mode->cr3 & FRAME) + (va >> 22) * 4;
	uint32_t pde, pte;

	*out = (struct walk){ 0 };
	if (read_entry(gm, pde_gpa, &pde))
		return WALK_BAD_TABLE;
	if (!(pde & PTE_P)) {
		out->error = fault_error(access, 0);
		return WALK_FAULT;
	}

	if ((pde & PTE_PS) && mode->pse) {		/* a 4 MiB page */
		if (!allowed(pde, access, mode->wp)) {
			out->error = fault_error(access, 1);
			return WALK_FAULT;
		}
		if (set_ad)
			set_flags(gm, pde_gpa, pde,
				  PTE_A | ((access & ACCESS_WRITE) ? PTE_D : 0), out);
		out->gpa = (pde & LARGE_FRAME) | (va & ~LARGE_FRAME);
		out->page_size = 4u << 20;
		out->dirty = (pde & PTE_D) || (set_ad && (access & ACCESS_WRITE));
		out->writable = allowed(pde, access | ACCESS_WRITE, mode->wp);
		out->user = (pde & PTE_U) != 0;
		out->global = mode->pge && (pde & PTE_G);
		out->accessed = (pde & PTE_A) != 0;
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
		set_flags(gm, pde_gpa, pde, PTE_A, out);
	uint32_t pte_gpa = (pde & FRAME) + ((va >> 12) & 1023) * 4;
	if (read_entry(gm, pte_gpa, &pte))
		return WALK_BAD_TABLE;
	if (!(pte & PTE_P)) {
		out->error = fault_error(access, 0);
		return WALK_FAULT;
	}
	uint32_t combined = pde & pte;	/* U and W must hold at both levels */
	if (!allowed(combined, access, mode->wp)) {
		out->error = fault_error(access, 1);
		return WALK_FAULT;
	}
	if (set_ad)
		set_flags(gm, pte_gpa, pte, PTE_A | ((access & ACCESS_WRITE) ? PTE_D : 0), out);
	out->gpa = (pte & FRAME) | (va & ~FRAME);
	out->page_size = 4096;
	out->dirty = (pte & PTE_D) || (set_ad && (access & ACCESS_WRITE));
	out->writable = allowed(combined, access | ACCESS_WRITE, mode->wp);
	out->user = (combined & PTE_U) != 0;
	out->global = mode->pge && (pte & PTE_G);
	out->accessed = (pde & pte & PTE_A) != 0;
	return WALK_OK;
}

int walk_mapped_without_fault(const struct paging_mode *mode, uint32_t pde, uint32_t pte,
			      unsigned access, uint32_t *frame, int *writable)
{
	const uint32_t needed = PTE_P | PTE_A;
	if ((pde & needed) != needed || (pte & needed) != needed ||
	    ((pde & PTE_PS) && mode->pse) || (mode->pge && (pte & PTE_G)))
		return 0;
	uint32_t combined = pde & pte;
	if (!allowed(combined, access, mode->wp))
		return 0;
	*frame = pte & FRAME;
	*writable = (pte & PTE_D) && allowed(combined, access | ACCESS_WRITE, mode->wp);
	return 1;
}
