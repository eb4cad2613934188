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
#include "core/x86_bits.h"
#include "lib/string.h"

#define PAGE 4096u

void mmu_flush(struct vcpu *v)
{
	v->store_page_va = 0;
	v->shadow_cr3 = v->cr3;		/* whatever fills the shadow from now on */
	shadow_flush(&v->shadow);
	arch_guest_tlb_flush(v);
}

void mmu_invalidate(struct vcpu *v, uint32_t va)
{
	/* The remembered store page goes with its own translation (or the
	 * 4 MiB page that may hold it), not with every invlpg. */
	if ((va >> 22) == (v->store_page_va >> 22))
		v->store_page_va = 0;
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
	v->pv_irq_on_table = v->pv_irq && vcpu_table_page(v, v->pv_irq_gpa);
}

void mmu_protect_tables(struct vcpu *v)
{
	find_table_pages(v);
	/* Shadow entries made before may map those pages writable. */
	mmu_flush(v);
	/* After a change of paging mode the tables' linear addresses may
	 * name other bytes (after lgdt/lldt this finds them unchanged). */
	ring_mirror_tables(v);
}

/*
 * Map again, straight away, the pages the address space now loaded had in
 * the shadow when the guest last left it (core/workingset.h): each one the
 * guest's tables map now with its accessed flags set, as a fill would map
 * it (writable only if already dirty) but without setting any flag.  The
 * list comes in slot order: the guest's PDE and page table are read
 * again, and the shadow's tables for the slot readied, only when the 4 MiB
 * slot changes from one listed page to the next.
 */
static unsigned map_working_set(struct vcpu *v)
{
	unsigned count, mapped = 0;
	const uint32_t *pages = workingset_take(&v->workingset, v->cr3, &count);
	struct paging_mode mode = vmem_paging_mode(v);
	uint32_t pde_slot = ~0u, pde = 0;
	const uint32_t *table = 0;	/* the guest's page table for pde_slot */
	uint32_t *shadow_table[2];	/* the shadows' for pde_slot, once readied */
	for (unsigned i = 0; i < count; i++) {
		uint32_t va = pages[i] & ~(PAGE - 1);
		unsigned which = pages[i] & 1;
		if (va >> 22 != pde_slot) {
			pde_slot = va >> 22;
			const uint32_t *entry = gmem_word(&v->mem, (mode.cr3 & ~(PAGE - 1)) + pde_slot * 4);
			pde = entry ? *entry : 0;
			/* A page's worth through one window (gmem_word's map):
			 * nothing below maps another before the slot changes. */
			table = (pde & 1) ? gmem_word(&v->mem, pde & ~(PAGE - 1)) : 0;
			shadow_table[0] = shadow_table[1] = 0;
		}
		if (!table)		/* not present, or outside RAM */
			continue;
		uint32_t frame;
		int writable;
		if (!walk_mapped_without_fault(&mode, pde, table[(va >> 12) & 1023],
					       which == SHADOW_USER ? ACCESS_USER : 0,
					       &frame, &writable) ||
		    !gmem_contains(&v->mem, frame, PAGE) || vcpu_table_page(v, frame))
			continue;
		if (!shadow_table[which]) {
			shadow_table[which] = shadow_again_table(&v->shadow, which, pde_slot);
			if (!shadow_table[which])
				break;		/* out of tables: faults will do */
		}
		shadow_again_put(&v->shadow, which, shadow_table[which], va,
				 v->mem.host_base + frame, writable);
		mapped++;
	}
	return mapped;
}

int mmu_load_cr3(struct vcpu *v)
{
	if (!v->store_page_global)	/* a TLB entry: global ones stay */
		v->store_page_va = 0;
	uint32_t before[MAX_PROTECTED_PAGES];
	unsigned nbefore = v->nprotected;
	for (unsigned i = 0; i < nbefore; i++)	/* (a GDT: a page or two) */
		before[i] = v->protected_pages[i];
	/* What a CR3 load does to a TLB first, so that the tables' pages
	 * are then found through the new address space; the pages dropped
	 * are remembered for the next return to the space left. */
	struct workingset_space *left = workingset_record(&v->workingset, v->shadow_cr3);
	struct shadow_dropped dropped = { .page = left->page, .max = WORKINGSET_PAGES };
	shadow_flush_nonglobal(&v->shadow, &dropped);
	left->count = dropped.count;
	exitstats_working_set_used(dropped.again, dropped.again_used);
	v->shadow_cr3 = v->cr3;
	find_table_pages(v);
	/* Global entries survive a CR3 load, unless the descriptor-table
	 * pages moved: one kept may then map a table page writable. */
	int moved = nbefore != v->nprotected;
	for (unsigned i = 0; i < nbefore && !moved; i++)
		moved = before[i] != v->protected_pages[i];
	if (!moved) {
		arch_guest_tlb_flush(v);
	} else {
		mmu_flush(v);
		/* The GDTR and LDT base are linear: through the new tables they
		 * may name other bytes, which the CPU would use from now on. */
		ring_mirror_tables(v);
	}
	exitstats_working_set_mapped(map_working_set(v));
	return moved;
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

/*
 * The GDT page a store was just emulated on (emulate_table_store, after a
 * walk that found it writable and dirty): remember the translation, so
 * the stores that follow skip the walk and the decoder.  Only the page
 * where the GDT starts, and only with no LDT, whose entries could share it.
 * And only when the mirrored entries (the first 32) all lie on that page:
 * otherwise the guest may map a later page of its GDT onto this same
 * frame, and a store here also changes entries mmu_fast_table_store
 * cannot see from the GDT's first page (ring_mirror_written finds them).
 */
static void remember_store_page(struct vcpu *v, uint32_t va, uint32_t gpa, int global)
{
	v->store_page_global = global;
	uint32_t gdt_gpa;
	uint32_t mirrored = v->gdtr.limit + 1u < 32 * 8 ? v->gdtr.limit + 1u : 32 * 8;
	v->store_page_va = 0;
	if (v->ldtr || v->vpl != VPL_KERNEL || v->gdtr.limit == 0 ||
	    (v->gdtr.base & (PAGE - 1)) + mirrored > PAGE ||
	    vmem_translate(v, v->gdtr.base, 0, &gdt_gpa) ||
	    (gdt_gpa & ~(PAGE - 1)) != (gpa & ~(PAGE - 1)))
		return;
	v->store_page = arch_fixed_window(FIXED_WINDOW_TABLE_STORE,
					  v->mem.host_base + (gpa & ~(PAGE - 1)));
	if (v->store_page)
		v->store_page_va = va & ~(PAGE - 1);
}

/* The address a "mov %reg, mem" (89 /r) or "mov %eax, moffs32" (a3)
 * stores to, without a prefix, and its length; -1 if the bytes are
 * something else.  *stack says the default segment is SS (SDM Vol. 2
 * §2.1.5: a base of ESP or EBP). */
static int simple_store(struct trapframe *tf, const uint8_t b[7], uint32_t *offset,
			uint32_t *value, unsigned *len, int *stack)
{
	*stack = 0;
	if (b[0] == 0xa3) {
		memcpy(offset, b + 1, 4);
		*value = tf->eax;
		*len = 5;
		return 0;
	}
	unsigned mod = b[1] >> 6, reg = (b[1] >> 3) & 7, rm = b[1] & 7;
	if (b[0] != 0x89 || mod == 3)
		return -1;
	*value = *vcpu_reg(tf, reg);
	unsigned at = 2;		/* where the displacement starts */
	unsigned base = rm;
	*offset = 0;
	if (rm == 4) {			/* a SIB byte: base + index << scale */
		unsigned scale = b[2] >> 6, index = (b[2] >> 3) & 7;
		base = b[2] & 7;
		at = 3;
		if (index != 4)
			*offset = *vcpu_reg(tf, index) << scale;
	}
	uint32_t disp = 0;
	if (mod == 0 && base == 5) {	/* no base: a 32-bit displacement */
		memcpy(&disp, b + at, 4);
		*len = at + 4;
	} else {
		*offset += *vcpu_reg(tf, base);
		*stack = base == 4 || base == 5;
		if (mod == 1)
			disp = (uint32_t)(int32_t)(int8_t)b[at];
		else if (mod == 2)
			memcpy(&disp, b + at, 4);
		*len = at + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
	}
	*offset += disp;
	return 0;
}

/*
 * A store by the virtual kernel into the GDT page it stored into last:
 * Linux's load_TLS writes a changed TLS descriptor as two stores, each a
 * write fault.  Done here at the top of the exit, without a walk (the
 * translation is remembered) or the decoder, when the store is a plain
 * mov, the form the kernel uses.  The store's linear address
 * must be exactly the faulting one: for a DS-relative store that also
 * proves the segment's base 0, which it is assumed to be.  Returns 1 if
 * done, 0 to take the general path.
 */
int mmu_fast_table_store(struct vcpu *v, uint32_t va)
{
	struct trapframe *tf = v->regs;
	uint8_t b[7];
	uint32_t offset, value;
	unsigned len;
	int stack;

	if (v->store_page_va == 0 || (va & ~(PAGE - 1)) != v->store_page_va ||
	    v->vpl != VPL_KERNEL ||	/* (the real error code says user: CPL 3) */
	    (tf->error & (PF_PRESENT | PF_WRITE)) != (PF_PRESENT | PF_WRITE) ||
	    (tf->eflags & EFLAGS_TF) || v->step_reasons || v->sti_shadow ||
	    (va & (PAGE - 1)) > PAGE - 4 ||
	    arch_read_guest_linear(v->cs_base + tf->eip, b, sizeof(b)) ||
	    simple_store(tf, b, &offset, &value, &len, &stack) ||
	    (stack ? v->ss_base : 0) + offset != va)
		return 0;
	/* The GDT entries the four bytes touch, first to last (its base is
	 * on this page; bytes below it are no entry's, and a store may
	 * straddle it): each must lie wholly on the page to be read here. */
	uint32_t base_offset = v->gdtr.base & (PAGE - 1);
	int32_t from = (int32_t)(va & (PAGE - 1)) - (int32_t)base_offset;
	unsigned first = from > 0 ? (unsigned)from / 8 : 0;
	unsigned last = from + 3 >= 0 ? (unsigned)(from + 3) / 8 : 0;
	unsigned touched = from + 3 >= 0;	/* any entry at all */
	for (unsigned i = first; touched && i <= last && i * 8 <= v->gdtr.limit; i++)
		if (base_offset + i * 8 + 8 > PAGE)
			return 0;
	memcpy(v->store_page + (va & (PAGE - 1)), &value, 4);
	for (unsigned i = first; touched && i <= last; i++) {
		if (i >= 32 || i * 8 + 7 > v->gdtr.limit)
			continue;	/* not a mirrored entry */
		uint64_t raw;
		memcpy(&raw, v->store_page + base_offset + i * 8, 8);
		arch_guest_mirror_gdt(i, raw);
	}
	tf->eip += len;
	return 1;
}

/* ---- page faults ---- */

static void reflect(struct vcpu *v, uint32_t va, uint32_t error)
{
	exitstats_refine(XR_PF_GUEST);
	struct event pf = emulate_fault(VEC_PF, error);
	pf.address = va;
	int from_user = v->vpl == VPL_USER;
	guest_deliver(v, pf);
	/* The handler will map the page, and return to retry the access. */
	if (from_user && v->vpl == VPL_KERNEL)
		v->map_ahead = (va & ~(PAGE - 1)) | 1;
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

/*
 * A walk sets A and D in the guest's paging entries; a hostile guest may
 * keep those in a page of its GDT or LDT, whose bytes then change under
 * the mirror: mirror them again.
 */
static void mirror_walk_updates(struct vcpu *v, const struct walk *w)
{
	for (unsigned i = 0; i < w->nupdated; i++)
		if (vcpu_table_page(v, w->updated[i]))
			ring_mirror_written(v, w->updated[i], 4);
}

/*
 * The commonest exit of all: a fault the shadow takes for a page the guest
 * does map (paper §4.3, case 2), after a CR3 load emptied the shadow or on
 * a first touch.  Done at the top of the exit when that is all there is to
 * it: paging on, the page in guest RAM and not one of the descriptor
 * tables.  Returns 1 if done; -1 if the guest's tables refuse the access
 * (*guest_error: the error code for the guest; mmu_reflect_fault then);
 * 0 leaves everything to mmu_page_fault (this walk may have set A and D,
 * as that one's would).
 */
int mmu_fast_fill(struct vcpu *v, uint32_t va, uint32_t error, uint32_t *guest_error)
{
	if (!vmem_paging_on(v) || va >= GUEST_LINEAR_LIMIT)
		return 0;
	unsigned access = ((error & PF_WRITE) ? ACCESS_WRITE : 0) |
			  (v->vpl == VPL_USER ? ACCESS_USER : 0);
	struct paging_mode mode = vmem_paging_mode(v);
	/* A page the guest has not mapped yet: the commonest user fault. */
	if (walk_pte_not_present(&v->mem, &mode, va, access, guest_error))
		return -1;
	struct walk w;
	enum walk_result walked = guest_walk(&v->mem, &mode, va, access, 1, &w);
	mirror_walk_updates(v, &w);
	switch (walked) {
	case WALK_OK:
		break;
	case WALK_FAULT:		/* the guest's own: no need to walk again */
		*guest_error = w.error;
		return -1;
	default:
		return 0;
	}
	if (!gmem_contains(&v->mem, w.gpa & ~(PAGE - 1), PAGE) || vcpu_table_page(v, w.gpa))
		return 0;
	/* Writable only once the guest's entry is dirty (see below). */
	if (shadow_map(&v->shadow, vcpu_shadow(v), va,
		       v->mem.host_base + (w.gpa & ~(PAGE - 1)), w.writable && w.dirty,
		       w.page_size > PAGE, w.global))
		return 0;
	arch_guest_tlb_invalidate(va);
	return 1;
}

void mmu_reflect_fault(struct vcpu *v, uint32_t va, uint32_t guest_error)
{
	reflect(v, va, guest_error);
}

/*
 * The page a user access faulted on, mapped in the user shadow as the
 * guest's handler returns to retry it (arch/ia32/fastcall.S), instead of
 * in a second exit when it does: if the guest's tables map it now with
 * the accessed flags set, as for a working-set page above (Linux's fault
 * handler makes its entries accessed, and dirty for a write), so no flag
 * the guest watches changes.  Returns 1 if mapped.
 */
int mmu_map_ahead(struct vcpu *v, uint32_t va)
{
	if (!vmem_paging_on(v) || va >= GUEST_LINEAR_LIMIT)
		return 0;
	struct paging_mode mode = vmem_paging_mode(v);
	const uint32_t *entry = gmem_word(&v->mem, (mode.cr3 & ~(PAGE - 1)) + (va >> 22) * 4);
	uint32_t pde = entry ? *entry : 0;
	entry = (pde & 1) ? gmem_word(&v->mem, (pde & ~(PAGE - 1)) + ((va >> 12) & 1023) * 4) : 0;
	uint32_t frame, *table;
	int writable;
	if (!entry ||
	    !walk_mapped_without_fault(&mode, pde, *entry, ACCESS_USER, &frame, &writable) ||
	    !gmem_contains(&v->mem, frame, PAGE) || vcpu_table_page(v, frame) ||
	    !(table = shadow_again_table(&v->shadow, SHADOW_USER, va >> 22)))
		return 0;
	shadow_ahead_put(&v->shadow, SHADOW_USER, table, va, v->mem.host_base + frame, writable);
	arch_guest_tlb_invalidate(va);	/* (a read-only one before, maybe) */
	exitstats_mapped_ahead();
	return 1;
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
		enum walk_result walked = guest_walk(&v->mem, &mode, va, access, 1, &w);
		mirror_walk_updates(v, &w);
		switch (walked) {
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
		remember_store_page(v, va, gpa, global);
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
