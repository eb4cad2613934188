/* Running a guest in ring 3: the IA-32 half of the world switch.  The
 * functions the core calls are declared in core/arch.h. */
#ifndef ARCH_IA32_GUEST_H
#define ARCH_IA32_GUEST_H

#include "core/vcpu.h"

/* Make the saved frame safe and true to the virtual state before the
 * return to the guest (trap.c calls it after every guest exit). */
void arch_prepare_resume(struct vcpu *v);

/* For fastcall.c.  Whether the guest's code and stack aliases are the flat
 * ones sysenter and sysexit load.  The data selectors arch_prepare_resume
 * last found usable in GDT view (cpu.h), if no mirror changed since (1),
 * or 0.  Whether selector names the same descriptor in both views. */
int arch_flat_aliases_loaded(void);
int arch_resume_checked_selectors(unsigned view, uint32_t sel[4]);
int arch_selector_same_in_views(uint32_t sel);

#endif
