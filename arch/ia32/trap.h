/*
 * How the VMM is entered: every one of the 256 IDT vectors lands in a stub
 * (vectors.S) that builds a struct trapframe on the ring-0 stack and calls
 * trap().
 */
#ifndef ARCH_IA32_TRAP_H
#define ARCH_IA32_TRAP_H

#include <stdint.h>

/* Laid out by vectors.S: pusha, then the data segments, then the stub's
 * vector and error code, then what the CPU pushed (SDM Vol. 3A §6.12.1). */
struct trapframe {
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t gs, fs, es, ds;
	uint32_t vector;
	uint32_t error;		/* 0 for vectors without an error code */
	uint32_t eip, cs, eflags;
	uint32_t esp, ss;	/* pushed only when entering from ring 3 */
};

/* Exception vectors (SDM Vol. 3A §6.3.1, Table 6-1). */
enum {
	VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5,
	VEC_UD = 6, VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11,
	VEC_SS = 12, VEC_GP = 13, VEC_PF = 14, VEC_MF = 16, VEC_AC = 17,
	VEC_MC = 18, VEC_XM = 19,
};

/* "#PF page fault", "interrupt", ... */
const char *vector_name(uint32_t vector);

void trap(struct trapframe *tf);

/* Entry points of the stubs, indexed by vector (vectors.S). */
extern const uint32_t trap_vectors[256];

#endif
