/*
 * The hypercall ABI: how a guest kernel asks the VMM for something directly
 * (paper §4.4.4).  Guests may include this header.
 *
 * A hypercall is `int $RV_HYPERCALL_VECTOR` from virtual kernel mode with
 * the call number in EAX and arguments in EBX, ECX, EDX, ESI.  The result
 * comes back in EAX (>= 0 success, < 0 one of the RV_E* errors); all other
 * registers are preserved.  From virtual user mode the same instruction is
 * an ordinary software interrupt through the guest's own IDT, as on
 * hardware.
 *
 * The vector is one the architecture reserves for exceptions (0x1f), so no
 * guest uses `int $0x1f` for anything else.
 */
#ifndef RINGVISOR_HYPERCALL_H
#define RINGVISOR_HYPERCALL_H

#define RV_HYPERCALL_VECTOR 0x1f

/* Call numbers. */
#define RV_HC_PROBE         0	/* returns RV_PROBE_MAGIC: "a ringvisor VMM is here" */
#define RV_HC_CONSOLE_WRITE 1	/* EBX = text (linear), ECX = length (<= 4096) */
#define RV_HC_SHUTDOWN      2	/* EBX = status (ringvisor/exit.h); never returns */
#define RV_HC_LOAD_GDT      3	/* EBX = base (linear), ECX = limit: as lgdt */
#define RV_HC_LOAD_IDT      4	/* EBX = base (linear), ECX = limit: as lidt */
#define RV_HC_LOAD_LDT      5	/* EBX = selector: as lldt */
#define RV_HC_LOAD_TR       6	/* EBX = selector: as ltr */
#define RV_HC_SET_GDT_ENTRY 7	/* EBX = index, ECX = low word, EDX = high word:
				   write the entry in the guest's GDT and mirror it */
#define RV_HC_BATCH         8	/* EBX = array of struct rv_hypercall (linear),
				   ECX = count (<= RV_BATCH_MAX): run them in
				   order, stop at the first error; returns how
				   many succeeded, or the first error */
#define RV_HC_PV_IRQ        9	/* EBX = guest-physical address of a struct
				   rv_pv_irq: keep the virtual interrupt flag
				   there from now on (see below) */
#define RV_HC_COUNT         10

#define RV_PROBE_MAGIC 0x52564d4d	/* "RVMM" */
#define RV_BATCH_MAX   64

/* Errors. */
#define RV_ENOSYS (-1)		/* no such call (or not allowed in a batch) */
#define RV_EINVAL (-2)		/* a bad argument */
#define RV_EFAULT (-3)		/* an argument points outside guest memory */

#ifndef __ASSEMBLER__
#include <stdint.h>

/*
 * The paravirtual interrupt flag.  A guest kernel that registers one with
 * RV_HC_PV_IRQ may disable and enable interrupts by writing vif instead of
 * running cli and sti, which would each trap into the VMM.  The VMM reads
 * vif whenever the guest exits and writes it back, with pending, before
 * the guest resumes; pending says an interrupt is waiting, and a guest
 * that sets vif to 1 must then run sti (which traps, and the VMM delivers
 * it).  active is set by the VMM when the registration took.  The real
 * cli/sti/pushf keep working as before.  cr2 is the virtual CR2, written
 * by the VMM whenever CR2 changes (a page fault delivered, a mov to CR2):
 * a page-fault handler may read it there instead of with mov from CR2,
 * which traps.
 */
struct rv_pv_irq {
	uint32_t vif;		/* 1: interrupts enabled */
	uint32_t pending;	/* set by the VMM */
	uint32_t active;	/* set by the VMM */
	uint32_t cr2;		/* set by the VMM */
};

/* What the loader puts in boot_params.hdr.hardware_subarch_data (0x240)
 * for a Linux guest: "you run under ringvisor" (natively it is 0). */
#define RV_LINUX_BOOT_MAGIC 0x52564d4d52564d4dull	/* "RVMMRVMM" */

/* One call of a batch: nr and up to three arguments (EBX, ECX, EDX). */
struct rv_hypercall {
	uint32_t nr;
	uint32_t arg[3];
};
#endif

#endif
