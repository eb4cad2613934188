/*
 * How the VMM is entered: every one of the 256 IDT vectors lands in a stub
 * (vectors.S) that builds a struct trapframe on the ring-0 stack and calls
 * trap().
 */
#ifndef ARCH_IA32_TRAP_H
#define ARCH_IA32_TRAP_H

#include <stdint.h>
#include "core/deliver.h"
#include "core/vcpu.h"

/* struct trapframe, laid out by vectors.S, is in core/vcpu.h: while the
 * guest is in the VMM it is the guest's register file. */

void trap(struct trapframe *tf);

/* Entry points of the stubs, indexed by vector (vectors.S). */
extern const uint32_t trap_vectors[256];

#endif
