/*
 * Why the guest exited, counted, and what each reason costs.
 *
 * Every exit is counted under one reason: the vector, refined by what the
 * VMM found it to be (which instruction a #GP was, whether a #PF filled a
 * shadow or went to the guest).  With each count goes the time the VMM
 * spent on it, in TSC ticks from entering the exit handler to leaving it;
 * under QEMU's -icount the TSC counts instructions, so that is the VMM's
 * instructions per reason, the figure optimisations aim at (issue 6).
 * Time spent waiting in hlt for an interrupt is idle, not exit handling.
 *
 * Counters run from boot; a profile mark (the guest writes a label to the
 * profile ports, see core/ioport.c) prints the counts since the previous
 * mark, so a benchmark can be profiled inside one boot.
 */
#ifndef CORE_EXITSTATS_H
#define CORE_EXITSTATS_H

#include <stdint.h>

enum exit_reason {
	XR_INTERRUPT,		/* a hardware interrupt */
	XR_PF_FILL,		/* #PF: shadow filled from the guest's tables */
	XR_PF_GUEST,		/* #PF: the guest's own, reflected */
	XR_PF_PROTECTED,	/* #PF: a write to a descriptor-table page */
	XR_DB_STEP,		/* #DB: the end of the VMM's single step */
	XR_GP_CLI, XR_GP_STI, XR_GP_HLT,
	XR_GP_IRET, XR_GP_INT, XR_GP_SYSENTER, XR_GP_SYSEXIT, XR_GP_FAR,
	XR_GP_SEGMENT,		/* mov/pop/lds... to a segment register */
	XR_GP_IO,		/* in, out, ins, outs */
	XR_GP_CR,		/* mov to/from CR*, DR*, clts, lmsw, smsw */
	XR_GP_TABLES,		/* lgdt lidt lldt ltr and the stores */
	XR_GP_INVLPG,
	XR_GP_MSR,		/* rdmsr, wrmsr, rdtsc */
	XR_GP_OTHER,		/* emulated, none of the above */
	XR_GP_GUEST,		/* a #GP the guest gets */
	XR_EXCEPTION,		/* any other exception, reflected */
	XR_COUNT
};

/* The counts since boot, by reason.  An arch's assembly fast path may
 * count its exits here itself (arch/ia32/fastcall.S). */
struct exitstats_reason {
	uint64_t count;
	uint64_t ticks;		/* TSC ticks in the VMM */
};
extern struct exitstats_reason exitstats_since_boot[XR_COUNT];

/* A new exit begins, for the reason its vector gives; at TSC now. */
void exitstats_begin(uint8_t vector, uint64_t now);
/* The handler found out more: count this exit under reason instead. */
void exitstats_refine(enum exit_reason reason);
/* The exit is handled, at TSC now; idle ticks (waiting in hlt) were not
 * exit handling. */
void exitstats_end(uint64_t now, uint64_t idle);
/* A whole exit of the given reason, ticks long, counted at once (the
 * fast paths, which know their reason from the start). */
void exitstats_add(enum exit_reason reason, uint64_t ticks);

/* Working sets (core/workingset.h): pages mapped again at a CR3 load;
 * and at the next, how many such were dropped and how many had been used. */
void exitstats_working_set_mapped(unsigned pages);
void exitstats_working_set_used(unsigned dropped, unsigned used);
/* A page mapped as a user page fault's handler returned (core/mmu.c). */
void exitstats_mapped_ahead(void);

const char *exit_reason_name(enum exit_reason reason);

/* Print the counts: since boot (label NULL), or since the last mark. */
void exitstats_print(const char *label);

#endif
