/* Hypercalls: the guest kernel's direct requests (include/ringvisor/hypercall.h). */
#ifndef CORE_HYPERCALL_H
#define CORE_HYPERCALL_H

#include "core/deliver.h"
#include "core/vcpu.h"

/* Run the hypercall in the guest's registers; the result goes to EAX.
 * Returns 0, or -1 with *raise set when the guest must get a fault
 * instead (as the equivalent instruction would give). */
int hypercall(struct vcpu *v, struct event *raise);

/* CR2 changed: its copy in the guest's struct rv_pv_irq, if registered. */
void hypercall_pv_cr2(struct vcpu *v);

#endif
