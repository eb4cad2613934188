/*
 * Running exactly one guest instruction and then coming back to the VMM
 * (the trap flag, SDM Vol. 3A §17.3.1.4).  Two things need it:
 *
 *  - the sti interrupt shadow: after sti, no interrupt may arrive before the
 *    next instruction has run (SDM Vol. 2, STI).  The VMM steps that
 *    instruction, holding back any interrupt that arrives first;
 *
 *  - write-protected descriptor tables (core/mmu.c): the VMM mirrors the
 *    guest's GDT and LDT, so it must see every write to them.  Their pages
 *    are read-only in the shadows; a write faults, the VMM maps the page
 *    writable, steps the writing instruction, then closes the page and
 *    mirrors the tables again.
 */
#ifndef CORE_STEP_H
#define CORE_STEP_H

#include "core/vcpu.h"

/* Start stepping for the sti shadow; next_eip is the instruction after sti. */
void step_sti_shadow(struct vcpu *v, uint32_t next_eip);

/* Start stepping the write at the guest's EIP to the protected page at va,
 * which the caller has just made writable. */
void step_protected_write(struct vcpu *v, uint32_t va);

/*
 * Called first for every exit while stepping.  Returns 1 if the exit is
 * fully handled (the VMM resumes the guest at once), 0 if the caller goes
 * on handling it as usual.
 */
int step_exit(struct vcpu *v, uint8_t vector, uint32_t debug_status);

#endif
