#include "core/vmem.h"


#include "core/pagewalk.h"
#include "core/segments.h"
#include "core/shadow.h"
#include "core/x86_bits.h"

#define PAGE    4096u
#define PAGE_FRAME    0xfffff000u
#define PTE_PRESENT   0x001u
#define PTE_WRITABLE  0x002u

static void record_fault(struct vcpu *v, int is_pf, uint32_t address,
			 uint32_t error, int bad_table)
{
	v->fault_is_pf = is_pf;
	v->fault_address = address;
	v->fault_error = error;
	v->fault_bad_table = bad_table;
}

/*
 * The shadows are the guest's TLB: a translation one holds is one the CPU
 * could use for this access without walking the tables (and its A, and D
 * for a writable entry, are already set).  So the VMM's own accesses take
 * it from there when it is, and walk when it is not.  Kernel-mode accesses
 * use the kernel shadow, user-mode ones the user shadow.
 */
static int cached_translation(const struct vcpu *v, uint32_t linear, unsigned access,
			      uint32_t *gpa)
{
	if (linear >> 22 >= SHADOW_GUEST_PDES)
		return -1;
	unsigned which = (access & ACCESS_USER) ? SHADOW_USER : SHADOW_KERNEL;
	uint32_t pte = shadow_lookup(&v->shadow, which, linear);
	if (!(pte & PTE_PRESENT) || ((access & ACCESS_WRITE) && !(pte & PTE_WRITABLE)))
		return -1;
	uint32_t host = (pte & PAGE_FRAME) + (linear & (PAGE - 1));
	if (host - v->mem.host_base >= v->mem.size)
		return -1;
	*gpa = host - v->mem.host_base;
	return 0;
}

/*
 * A walk for a real access is what fills a TLB: put its translation in the
 * shadow of the access's privilege, read-only (a write through it faults
 * and the MMU decides), so the next access by the VMM or the guest finds
 * it.  The implicit accesses to the guest's GDT, which the CPU itself
 * never makes (it uses the VMM's mirror), are the ones that gain most.
 * Being a cache, a failure to remember (out of tables) is no error.
 */
static void remember_translation(struct vcpu *v, uint32_t linear, unsigned access,
				 const struct walk *w)
{
	uint32_t page = w->gpa & PAGE_FRAME;
	if (!gmem_contains(&v->mem, page, PAGE))
		return;
	unsigned which = (access & ACCESS_USER) ? SHADOW_USER : SHADOW_KERNEL;
	shadow_map(&v->shadow, which, linear, v->mem.host_base + page, 0,
		   w->page_size > PAGE, w->global);
}

/* One page's worth: the guest-physical address of linear, or a fault. */
static int translate(struct vcpu *v, uint32_t linear, unsigned access, int set_ad,
		     uint32_t *gpa)
{
	if (!vmem_paging_on(v)) {
		*gpa = linear;
		return 0;
	}
	if (cached_translation(v, linear, access, gpa) == 0)
		return 0;
	struct paging_mode mode = vmem_paging_mode(v);
	struct walk w;
	enum walk_result walked = guest_walk(&v->mem, &mode, linear, access, set_ad, &w);
	/* Flags set in entries on a descriptor-table page (a hostile
	 * guest's layout): the exit path mirrors the tables again. */
	for (unsigned i = 0; i < w.nupdated; i++)
		if (vcpu_table_page(v, w.updated[i]))
			v->tables_written = 1;
	switch (walked) {
	case WALK_OK:
		*gpa = w.gpa;
		if (set_ad)
			remember_translation(v, linear, access, &w);
		return 0;
	case WALK_FAULT:
		record_fault(v, 1, linear, w.error, 0);
		return -1;
	default:
		record_fault(v, 1, linear, 0, 1);
		return -1;
	}
}

int vmem_translate(struct vcpu *v, uint32_t linear, unsigned access, uint32_t *gpa)
{
	return translate(v, linear, access, 0, gpa);
}

/*
 * The guest's memory as the shadow the CPU runs on maps it: when it maps
 * every byte for this access, the copy is what the guest's own access
 * would do, A and D bits included (the shadow holds only translations
 * whose bits are set, and maps writable only what the guest may write and
 * has dirtied).  The live shadow is the current ring's, so a user-mode
 * access never sees kernel pages through it; a kernel access made in user
 * mode just finds less.  Writes to the descriptor-table pages fault here
 * (their shadow entries are read-only) and go the slow way, which notes
 * them; with unprotected table pages they must go that way anyway.
 */
static int copy_live(struct vcpu *v, uint32_t linear, uint8_t *buf, uint32_t len,
		     unsigned access)
{
	const struct shadow_ops *ops = v->shadow.ops;
	if (!ops || !vmem_paging_on(v))
		return -1;
	/* A user-mode access only through the user shadow (the kernel one,
	 * live for a moment while the ring changes, maps kernel pages). */
	uint32_t only_pd = (access & ACCESS_USER) ? v->shadow.pd[SHADOW_USER] : 0;
	if (!(access & ACCESS_WRITE))
		return ops->read_live ? ops->read_live(only_pd, linear, buf, len) : -1;
	if (v->tables_unprotected || !ops->write_live)
		return -1;
	return ops->write_live(only_pd, linear, buf, len);
}

/* Copy page by page: each page translates on its own. */
static int copy(struct vcpu *v, uint32_t linear, uint8_t *buf, uint32_t len,
		unsigned access)
{
	if (copy_live(v, linear, buf, len, access) == 0)
		return 0;
	while (len) {
		uint32_t chunk = PAGE - (linear & (PAGE - 1));
		if (chunk > len)
			chunk = len;
		uint32_t gpa;
		if (translate(v, linear, access, 1, &gpa))
			return -1;
		int r = (access & ACCESS_WRITE) ? gmem_write(&v->mem, gpa, buf, chunk)
						: gmem_read(&v->mem, gpa, buf, chunk);
		/* A write the VMM makes for the guest to a page of its GDT or
		 * LDT bypasses the write protection that keeps the mirrors in
		 * step: the exit path mirrors the tables again (core/guest.c). */
		if (r == 0 && (access & ACCESS_WRITE) && vcpu_table_page(v, gpa))
			v->tables_written = 1;
		if (r) {
			/* Outside guest RAM: with paging off that is all there
			 * is to say; with paging, a PTE points past RAM. */
			record_fault(v, 0, linear, 0, vmem_paging_on(v));
			return -1;
		}
		linear += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static unsigned privilege(const struct vcpu *v)
{
	return v->vpl == VPL_USER ? ACCESS_USER : 0;
}

int vmem_read(struct vcpu *v, uint32_t linear, void *buf, uint32_t len)
{
	return copy(v, linear, buf, len, privilege(v));
}

int vmem_write(struct vcpu *v, uint32_t linear, const void *buf, uint32_t len)
{
	return copy(v, linear, (uint8_t *)(uintptr_t)buf, len, privilege(v) | ACCESS_WRITE);
}

int vmem_read_sys(struct vcpu *v, uint32_t linear, void *buf, uint32_t len)
{
	return copy(v, linear, buf, len, 0);
}

int vmem_write_sys(struct vcpu *v, uint32_t linear, const void *buf, uint32_t len)
{
	return copy(v, linear, (uint8_t *)(uintptr_t)buf, len, ACCESS_WRITE);
}

int vmem_descriptor(struct vcpu *v, uint16_t sel, uint64_t *raw)
{
	uint32_t offset = sel & ~7u;
	if (sel & 4) {
		if (v->ldtr == 0 || offset + 7 > v->ldt.limit)
			return -1;
		return vmem_read_sys(v, v->ldt.base + offset, raw, 8);
	}
	/* No GDT yet: the bootloader's flat segments are still loaded, and
	 * an instruction using them (Linux's first, an lgdt) must see them. */
	if (v->gdtr.limit == 0 && (offset == BOOT_CS || offset == BOOT_DS)) {
		*raw = offset == BOOT_CS ? FLAT_CODE_DPL0 : FLAT_DATA_DPL0;
		return 0;
	}
	if (offset == 0 || offset + 7 > v->gdtr.limit)
		return -1;
	return vmem_read_sys(v, v->gdtr.base + offset, raw, 8);
}
