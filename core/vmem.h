/*
 * The guest's linear memory as the VMM sees it while emulating: the guest
 * instruction bytes, its IDT, GDT and TSS, the stack frames the VMM builds.
 *
 * Until the guest enables paging, linear addresses are guest-physical.  (The
 * virtual protection ring issue adds the walk of the guest's page tables.)
 */
#ifndef CORE_VMEM_H
#define CORE_VMEM_H

#include <stdint.h>
#include "core/vcpu.h"

/* 0 on success; -1 when the range is not guest memory (the access would
 * fault on real hardware). */
int vmem_read(const struct vcpu *v, uint32_t linear, void *buf, uint32_t len);
int vmem_write(const struct vcpu *v, uint32_t linear, const void *buf,
	       uint32_t len);

/* Raw 8-byte descriptor for selector sel from the guest's GDT or (TI set)
 * LDT, or -1 if the selector is null or beyond its table's limit. */
int vmem_descriptor(const struct vcpu *v, uint16_t sel, uint64_t *raw);

#endif
