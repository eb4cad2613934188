/*
 * Running exactly one guest instruction and then coming back to the VMM
 * (the trap flag, SDM Vol. 3A §17.3.1.4).  Two things need it:
 *
 *  - the sti interrupt shadow: after sti, no interrupt may arrive before the
 *    next instruction has run (SDM Vol. 2, STI).  The VMM steps that
 *    instruction, holding back any interrupt that arrives first;
 *
 *  - write-protected descriptor tables: the VMM mirrors the guest's GDT and
 *    LDT, so it must see every write to them.  Their pages are read-only to
 *    the guest; a write faults, the VMM opens the page, steps the writing
 *    instruction, closes the page and mirrors the tables again.
 */
#ifndef CORE_STEP_H
#define CORE_STEP_H

#include "core/vcpu.h"

/* Start stepping for the sti shadow; next_eip is the instruction after sti. */
void step_sti_shadow(struct vcpu *v, uint32_t next_eip);

/*
 * A #PF from the guest at linear address addr with error code error.  If it
 * is a write to a page the VMM protects, start stepping the write and
 * return 1; else 0 (the fault is not the VMM's doing).
 */
int step_protected_write(struct vcpu *v, uint32_t addr, uint32_t error);

/*
 * Called first for every exit while stepping.  Returns 1 if the exit is
 * fully handled (the VMM resumes the guest at once), 0 if the caller goes
 * on handling it as usual.
 */
int step_exit(struct vcpu *v, uint8_t vector, uint32_t debug_status);

/* The guest loaded a new GDT or LDT: protect the pages that now hold them. */
void step_protect_tables(struct vcpu *v);

#endif
