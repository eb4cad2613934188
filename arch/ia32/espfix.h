/*
 * The return to a guest on a 16-bit stack segment (espfix.c).  trap_return
 * (vectors.S) takes its slow path while espfix_needed is set.
 */
#ifndef ARCH_IA32_ESPFIX_H
#define ARCH_IA32_ESPFIX_H

#include <stdint.h>
#include "core/vcpu.h"

/* Whether the guest's stack alias (GDT_GUEST_STACK) is 16-bit.  Set by
 * espfix_set_stack whenever that entry is written; read by trap_return. */
extern uint8_t espfix_needed;

/* The guest's stack alias is now the descriptor alias. */
void espfix_set_stack(uint64_t alias);

/* Called by trap_return for a return to ring 3 while espfix_needed: copy
 * tf's IRET frame onto the espfix stack and point GDT_ESPFIX_SS at it. */
void espfix_prepare(const struct trapframe *tf);

/* The IRET that runs on the espfix stack, and the pages under its frame
 * (the first one is left unmapped by paging_init). */
extern char espfix_iret[];
extern char espfix_guard[];

#endif
