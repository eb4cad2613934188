/*
 * The guest's linear memory as the VMM sees it while emulating: instruction
 * bytes, descriptor tables, the TSS, the stack frames it builds.
 *
 * Linear addresses go through the guest's own page tables when it has paging
 * on (core/pagewalk.c, setting accessed and dirty flags as the CPU would),
 * and are guest-physical when it has not.  Two kinds of access:
 *
 *   vmem_read / vmem_write          explicit operands of the instruction
 *                                   being emulated: checked at the guest's
 *                                   current virtual ring;
 *   vmem_read_sys / vmem_write_sys  the CPU's implicit accesses (GDT, LDT,
 *                                   IDT, TSS, interrupt frames): supervisor.
 *
 * All return 0, or -1 with the fault recorded in the vCPU (vmem_fault_pf,
 * fault_address, fault_error) for the caller to raise.
 */
#ifndef CORE_VMEM_H
#define CORE_VMEM_H

#include <stdint.h>
#include "core/pagewalk.h"
#include "core/vcpu.h"
#include "core/x86_bits.h"

int vmem_read(struct vcpu *v, uint32_t linear, void *buf, uint32_t len);
int vmem_write(struct vcpu *v, uint32_t linear, const void *buf, uint32_t len);
int vmem_read_sys(struct vcpu *v, uint32_t linear, void *buf, uint32_t len);
int vmem_write_sys(struct vcpu *v, uint32_t linear, const void *buf, uint32_t len);

/* Raw 8-byte descriptor for selector sel from the guest's GDT or (TI set)
 * LDT, or -1 if the selector is null or beyond its table's limit, or the
 * table cannot be read. */
int vmem_descriptor(struct vcpu *v, uint16_t sel, uint64_t *raw);

/* Guest-physical address of linear for an access (ACCESS_* bits), without
 * setting any flag; -1 if it does not translate. */
int vmem_translate(struct vcpu *v, uint32_t linear, unsigned access, uint32_t *gpa);

/* The paging controls of the guest's virtual CR0/CR3/CR4. */
static inline int vmem_paging_on(const struct vcpu *v)
{
	return (v->cr0 & CR0_PG) != 0;
}

static inline struct paging_mode vmem_paging_mode(const struct vcpu *v)
{
	return (struct paging_mode){ .cr3 = v->cr3, .pse = (v->cr4 & CR4_PSE) != 0,
				     .wp = (v->cr0 & CR0_WP) != 0,
				     .pge = (v->cr4 & CR4_PGE) != 0 };
}

#endif
