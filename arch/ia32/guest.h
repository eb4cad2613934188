/* Running a guest in ring 3: the IA-32 half of the world switch.  The
 * functions the core calls are declared in core/arch.h. */
#ifndef ARCH_IA32_GUEST_H
#define ARCH_IA32_GUEST_H

#include "core/vcpu.h"

/* Make the saved frame safe and true to the virtual state before the
 * return to the guest (trap.c calls it after every guest exit). */
void arch_prepare_resume(struct vcpu *v);

/* For fastcall.c.  Whether selector is usable in a data segment register
 * from ring 3 in both GDT views (as arch_prepare_resume checks), naming
 * the same descriptor in both.  (And arch_alias_loaded_for, core/arch.h.) */
int arch_selector_usable_in_both_views(uint32_t sel);
/* What those answers depend on, as ARCH_FASTCALL_KEY_WORDS words: equal
 * words, equal answers. */
#define ARCH_FASTCALL_KEY_WORDS 5
unsigned arch_fastcall_key(uint32_t key[ARCH_FASTCALL_KEY_WORDS]);

#endif
