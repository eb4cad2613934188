/*
 * The guest's virtual MMU: page faults, CR3 writes, invlpg, and the pages
 * the VMM keeps read-only behind the guest's back (paper §4.3, §4.4.3).
 */
#ifndef CORE_MMU_H
#define CORE_MMU_H

#include "core/vcpu.h"

/*
 * A #PF from the guest at linear address va.  Paper §4.4.3 names three
 * cases, and they are told apart by walking the guest's own tables:
 *   1. a user access to a guest kernel page, and
 *   3. anything else the guest's tables refuse:
 *      the guest gets #PF with the error code and CR2 its tables imply;
 *   2. the guest's tables allow it but the shadow lacks it: fill the shadow
 *      and restart the instruction, invisibly to the guest.
 */
void mmu_page_fault(struct vcpu *v, uint32_t va, uint32_t error);
/* The fast path for the kernel's stores into its GDT page: 1 if the write
 * fault at va was one, and is done. */
int mmu_fast_table_store(struct vcpu *v, uint32_t va);
/* The fast path for filling the shadow: 1 if the fault at va (error code
 * error) only needed a shadow entry the guest's tables allow, now made;
 * -1 if the guest's tables refuse it (*guest_error: the guest's error
 * code, for mmu_reflect_fault); 0 if it is for mmu_page_fault. */
int mmu_fast_fill(struct vcpu *v, uint32_t va, uint32_t error, uint32_t *guest_error);
/* Give the guest the page fault its tables make at va. */
void mmu_reflect_fault(struct vcpu *v, uint32_t va, uint32_t guest_error);
/* Map va's page in the user shadow if the guest's tables map it now,
 * accessed (and writable if dirty), without a fault: as a user page-fault
 * handler returns (vcpu.h, map_ahead).  1 if mapped. */
int mmu_map_ahead(struct vcpu *v, uint32_t va);

/* Drop every shadow translation (change of paging mode, CR4.PGE). */
void mmu_flush(struct vcpu *v);

/* The guest loaded CR3: a new address space.  Drop every shadow
 * translation but the global ones, as the TLB does, and find the
 * descriptor-table pages in it.  Returns 1 if those moved (the tables
 * were mirrored again), else 0. */
int mmu_load_cr3(struct vcpu *v);

/* Drop the translation of va (invlpg). */
void mmu_invalidate(struct vcpu *v, uint32_t va);

/* Recompute which guest pages hold the GDT and LDT, and protect them. */
void mmu_protect_tables(struct vcpu *v);

/* The single-stepped write to a protected page at va is done (step.c). */
void mmu_protected_write_done(struct vcpu *v, uint32_t va);

#endif
