#include "core/mmu.h"

#include "core/arch.h"
#include "core/deliver.h"
#include "core/emulate.h"
#include "core/exitstats.h"
#include "core/guest.h"
#include "core/pagewalk.h"
#include "core/segments.h"
#include "core/step.h"
#include "core/vmem.h"
#include "lib/string.h"

#define PAGE 4096u

void mmu_flush(struct vcpu *v)
{
	shadow_flush(&v->shadow);
	arch_guest_tlb_flush(v);
}

void mmu_invalidate(struct vcpu *v, uint32_t va)
{
	/* A 4 MiB guest page is shadowed by many 4 KiB entries, each of which
	 * the CPU may have cached: dropping them all needs a full flush. */
	if (shadow_invalidate(&v->shadow, va))
		arch_guest_tlb_flush(v);
	else
		arch_guest_tlb_invalidate(va);
}

/* ---- protected pages: the guest's descriptor tables ---- */

static void protect_range(struct vcpu *v, uint32_t base, uint32_t limit)
{
	uint32_t last = base + limit < base ? 0xfffff000u : (base + limit) & ~(PAGE - 1);
	for (uint32_t page = base & ~(PAGE - 1); ; page += PAGE) {
		uint32_t gpa;
		/* A table page the guest has not mapped yet cannot be written
		 * through either, until it maps it: then writes to it do not
		 * trap, and the ring code re-reads the tables instead. */
		if (vmem_translate(v, page, 0, &gpa) != 0 ||
		    (!vcpu_table_page(v, gpa) && v->nprotected == MAX_PROTECTED_PAGES))
			v->tables_unprotected = 1;
		else if (!vcpu_table_page(v, gpa))
			v->protected_pages[v->nprotected++] = gpa & ~(PAGE - 1);
		if (page >= last)
			break;
	}
}

static void find_table_pages(struct vcpu *v)
{
	v->nprotected = 0;
	v->tables_unprotected = 0;
	if (v->gdtr.limit)
		protect_range(v, v->gdtr.base, v->gdtr.limit);
	if (v->ldtr)
		protect_range(v, v->ldt.base, v->ldt.limit);
}

void mmu_protect_tables(struct vcpu *v)
{
	find_table_pages(v);
	/* Shadow entries made before may map those pages writable. */
	mmu_flush(v);
}

void mmu_load_cr3(struct vcpu *v)
{
	uint32_t before[MAX_PROTECTED_PAGES];
	unsigned nbefore = v->nprotected;
	memcpy(before, v->protected_pages, sizeof(before));
	find_table_pages(v);
	/* Global entries survive a CR3 load, unless the descriptor-table
	 * pages moved: one kept may then map a table page writable. */
	if (nbefore == v->nprotected &&
	    memcmp(before, v->protected_pages, nbefore * sizeof(*before)) == 0) {
		shadow_flush_nonglobal(&v->shadow);
		arch_guest_tlb_flush(v);
	} else {
		mmu_flush(v);
	}
}

void mmu_protected_write_done(struct vcpu *v, uint32_t va)
{
	mmu_invalidate(v, va);		/* the next access maps it read-only again */
	/* The write started at va (the #PF gave its first byte); one
	 * instruction may write up to 512 bytes (fxsave), and stays on the
	 * page opened for it: mirror the table entries on that page. */
	uint32_t gpa;
	if (vmem_translate(v, va & ~(PAGE - 1), 0, &gpa))
		ring_mirror_tables(v);		/* unmapped meanwhile: all of them */
	else
		ring_mirror_written(v, gpa, PAGE);
}

/* ---- page faults ---- */

static void reflect(struct vcpu *v, uint32_t va, uint32_t error)
{
	exitstats_refine(XR_PF_GUEST);
	struct event pf = emulate_fault(VEC_PF, error);
	pf.address = va;
	guest_deliver(v, pf);
}

/*
 * With paging off the guest's "tables" are the identity.  An address at or
 * above 0xFC000000 is the VMM's: every guest segment is clipped below it, so
 * a CPU checking segment limits raises #GP(0) before paging is asked; QEMU's
 * TCG does not check limits on data accesses and the supervisor bit of the
 * VMM's pages catches it instead.  Either way the guest gets the #GP(0).
 */
static int translate_unpaged(struct vcpu *v, uint32_t va, uint32_t *gpa)
{
	if (va >= GUEST_LINEAR_LIMIT) {
		exitstats_refine(XR_PF_GUEST);
		guest_deliver(v, emulate_fault(VEC_GP, 0));
		return -1;
	}
	if (!gmem_contains(&v->mem, va & ~(PAGE - 1), PAGE))
		guest_die(v, "page fault at 0x%08x, outside the guest's RAM "
			  "(with paging off)", va);
	*gpa = va;
	return 0;
}

void mmu_page_fault(struct vcpu *v, uint32_t va, uint32_t error)
{
	unsigned access = ((error & PF_WRITE) ? ACCESS_WRITE : 0) |
			  (v->vpl == VPL_USER ? ACCESS_USER : 0);
	uint32_t gpa;
	int writable = 1, large = 0, global = 0;

	if (!vmem_paging_on(v)) {
		if (translate_unpaged(v, va, &gpa))
			return;
	} else {
		struct paging_mode mode = vmem_paging_mode(v);
		struct walk w;
		switch (guest_walk(&v->mem, &mode, va, access, 1, &w)) {
		case WALK_FAULT:			/* cases 1 and 3 */
			reflect(v, va, w.error);
			return;
		case WALK_BAD_TABLE:
			guest_die(v, "a guest page table used for 0x%08x lies "
				  "outside guest RAM", va);
		case WALK_OK:
			break;
		}
		if (va >= GUEST_LINEAR_LIMIT)
			guest_die(v, "the guest maps 0x%08x, in the 64 MiB the VMM "
				  "reserves at the top of every address space", va);
		if (!gmem_contains(&v->mem, w.gpa & ~(PAGE - 1), PAGE))
			guest_die(v, "the guest maps 0x%08x to 0x%08x, past its RAM",
				  va, w.gpa);
		gpa = w.gpa;
		/* Writable only once the guest's entry is dirty, so that the
		 * first write faults here and sets D (SDM Vol. 3A §4.8). */
		writable = w.writable && w.dirty;
		large = w.page_size > PAGE;
		global = w.global;
	}

	/* Case 2: the guest allows it; the shadow catches up. */
	uint32_t host = v->mem.host_base + (gpa & ~(PAGE - 1));
	int protected_write = 0;
	if (vcpu_table_page(v, gpa)) {
		protected_write = writable && (access & ACCESS_WRITE);
		if (!protected_write)
			writable = 0;
	}
	/* A write to a descriptor table: a plain mov is emulated on the spot
	 * (the page stays read-only); anything else is let through below. */
	if (protected_write && emulate_table_store(v, va, gpa) == 0) {
		exitstats_refine(XR_PF_PROTECTED);
		writable = 0;
		protected_write = 0;
	}
	if (shadow_map(&v->shadow, vcpu_shadow(v), va, host, writable, large, global))
		guest_die(v, "out of memory for shadow page tables");
	arch_guest_tlb_invalidate(va);
	/* A write to a descriptor table: let this one instruction through,
	 * then close the page and mirror the tables again. */
	if (protected_write) {
		exitstats_refine(XR_PF_PROTECTED);
		step_protected_write(v, va);
	}
}
