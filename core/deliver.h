/*
 * Delivering exceptions and interrupts to the guest through its own IDT,
 * exactly as the CPU would have delivered them had the guest kernel really
 * run in ring 0 (paper §4.4.1, §4.4.3; SDM Vol. 3A §6.12).
 */
#ifndef CORE_DELIVER_H
#define CORE_DELIVER_H

#include <stdint.h>
#include "core/vcpu.h"

/* Exception vectors (SDM Vol. 3A §6.3.1, Table 6-1). */
enum {
	VEC_DE = 0, VEC_DB = 1, VEC_NMI = 2, VEC_BP = 3, VEC_OF = 4, VEC_BR = 5,
	VEC_UD = 6, VEC_NM = 7, VEC_DF = 8, VEC_TS = 10, VEC_NP = 11,
	VEC_SS = 12, VEC_GP = 13, VEC_PF = 14, VEC_MF = 16, VEC_AC = 17,
	VEC_MC = 18, VEC_XM = 19,
};

/* What raised the event: it decides DPL checks and the EXT bit of error codes. */
enum event_source {
	EVENT_EXCEPTION,	/* a fault or trap the guest's instruction caused */
	EVENT_SOFTWARE,		/* int n, int3, into: gate DPL is checked */
	EVENT_EXTERNAL,		/* a hardware interrupt */
};

struct event {
	uint8_t vector;
	uint8_t has_error;
	uint32_t error;
	enum event_source source;
	/* EVENT_SOFTWARE: the int instruction's length.  EIP already points
	 * past it; if delivery faults, the fault is the instruction's and
	 * EIP goes back to it (SDM Vol. 3A §6.5: a fault reports the
	 * faulting instruction). */
	uint8_t insn_len;
	/* #PF: the linear address, which delivery puts in CR2. */
	uint32_t address;
};

/*
 * Deliver ev to the guest: push the frame on the guest's stack, switch
 * to the handler's code segment and virtual ring.  Faults met on the way are
 * handled as the CPU does (a second exception, a double fault, or a triple
 * fault).  Returns 0, or -1 after a triple fault: the guest must be stopped
 * (native hardware would reset).
 */
int deliver_event(struct vcpu *v, struct event ev);

/* Whether exception second, raised while delivering first, becomes a
 * double fault (SDM Vol. 3A §6.15, Table 6-5). */
int deliver_is_double_fault(uint8_t first, uint8_t second);

/* "#PF page fault", "interrupt", ... */
const char *vector_name(uint32_t vector);

/* Exceptions that push an error code (SDM Vol. 3A §6.13). */
int vector_has_error_code(uint8_t vector);

#endif
