/*
 * Which random instructions chaos_code lets run, and why it refuses the
 * others.  Virtual-kernel code is filtered hard: nothing that would end
 * the machine (hlt with IF=0 powers off under the VMM and hangs natively,
 * out to the debug-exit port, the keyboard controller's reset, PCI...), no
 * reload of the tables or of CR0/CR3/CR4 or DR7 with garbage, no hypercall
 * (a random SHUTDOWN would end the run), no wrmsr, nothing that leaves the
 * buffer (returns, far and indirect transfers, branches backwards or out),
 * nothing that writes ESP other than by a bounded number of pushes and
 * pops: a kernel fault is delivered on the current stack, and a bad one
 * there is a triple fault.  Virtual-user code may do almost anything: the
 * CPU (or the VMM) stops it.  Only what the VMM is known to turn into a
 * stop of the whole guest is refused there (see guests/chaos_repro).
 */
#ifndef CHAOS_CODE_FILTER_H
#define CHAOS_CODE_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "guests/chaos_code/insn.h"

enum reason {
	R_OK,
	R_UNSURE,	/* the decoder is not sure of the length */
	R_HLT,
	R_OUT,
	R_TRANSFER,	/* ret, iret, far or indirect jmp/call, leave */
	R_ESP,		/* writes ESP */
	R_STACK,	/* would push more than the stack budget */
	R_BRANCH,	/* a relative branch backwards, out, or with 16-bit IP */
	R_TABLES,	/* lgdt, lidt */
	R_CR,		/* mov to CR0, CR3, CR4 */
	R_DR7,
	R_WRMSR,
	R_HYPERCALL,
	R_U_16BIT,	/* user: 16-bit iret or far transfer */
	R_U_SYSDESC,	/* user: far jmp/call naming a system or empty GDT slot */
	R_U_FARMEM,	/* user: far jmp/call through memory (selector unknown) */
	R_U_IRET,	/* user: iret (EFLAGS.VM from the stack: V86 mode on QEMU) */
	R_COUNT
};

extern const char *const reason_names[R_COUNT];

/* Whether a relative branch; *rel is its displacement from the next insn. */
bool insn_rel_branch(const struct dinsn *d, int32_t *rel);

/* Whether (and why not) an instruction may run in the virtual kernel;
 * *push grows by the most it may push on the stack. */
enum reason filter_kernel(const struct dinsn *d, unsigned *push);

/* Whether (and why not) an instruction may run in virtual user mode;
 * system_slot(sel) says whether a GDT selector names a system or empty
 * descriptor. */
enum reason filter_user(const struct dinsn *d, bool (*system_slot)(uint16_t sel));

#endif
