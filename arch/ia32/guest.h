/* Running a guest in ring 3: the IA-32 half of the world switch.  The
 * functions the core calls are declared in core/arch.h. */
#ifndef ARCH_IA32_GUEST_H
#define ARCH_IA32_GUEST_H

#include "core/vcpu.h"

/* Make the saved frame safe and true to the virtual state before the
 * return to the guest (trap.c calls it after every guest exit). */
void arch_prepare_resume(struct vcpu *v);

#endif
