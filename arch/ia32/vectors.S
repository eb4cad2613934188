/*
 * One small stub per IDT vector.  The CPU pushes an error code for some
 * exceptions only (SDM Vol. 3A §6.13); the stubs of the others push a zero in
 * its place so that every trap frame has the same shape.  Each stub is padded
 * to 16 bytes so the table of entry points is just base + 16 * vector.
 */
#include "arch/ia32/desc.h"

#define HAS_ERROR_CODE(n) \
	((n) == 8 || ((n) >= 10 && (n) <= 14) || (n) == 17 || (n) == 21 || \
	 (n) == 29 || (n) == 30)

	.text
	.align 16
vector_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if vec == 13
	jmp gp_entry		/* #GP: the system calls first (fastcall.S) */
	.else
	.if !HAS_ERROR_CODE(vec)
	pushl $0
	.endif
	pushl $vec
	jmp trap_common
	.endif
	.set vec, vec + 1
	.endr

/* Save the rest of the guest-or-VMM state and call trap(tf). */
	.globl trap_common
trap_common:
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	pushal
	movw $SEL_VMM_DS, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	cld
	pushl %esp		/* the struct trapframe */
	call trap
	addl $4, %esp
	.globl trap_return
trap_return:
	/* A guest on a 16-bit stack segment needs the espfix stack
	 * (espfix.c); every other return pays this one test. */
	cmpb $0, espfix_needed
	jne espfix_return
1:	popal
	popl %gs
	popl %fs
	popl %es
	popl %ds
	addl $8, %esp		/* vector and error code */
	iretl

/* offsetof(struct trapframe, cs), checked in espfix.c */
#define TF_CS 60

espfix_return:
	/* A return to the VMM itself (a trap it took in ring 0) has no SS:ESP
	 * in its frame: nothing to fix. */
	testb $3, TF_CS(%esp)
	jz 1b
	pushl %esp
	call espfix_prepare	/* the frame's copy, and GDT_ESPFIX_SS */
	addl $4, %esp
	popal
	popl %gs
	popl %fs
	popl %es
	popl %ds
	/* DS is the guest's now: read the far pointer through the VMM's SS,
	 * which this very load replaces (interrupts are off: no trap can
	 * come between it and the IRET). */
	lss %ss:espfix_sp, %esp
	.globl espfix_iret
espfix_iret:
	iretl			/* keeps ESP[31:16]: the guest's own */
	.globl trap_return_end
trap_return_end:

	.section .rodata
	.align 4
	.globl trap_vectors
trap_vectors:
	.set vec, 0
	.rept 256
	.long vector_stubs + 16 * vec
	.set vec, vec + 1
	.endr

/*
 * The double-fault task.  A #DF goes through a task gate (SDM Vol. 3A §6.15,
 * "Interrupt 8"), so it runs on its own TSS and stack even when the fault was
 * caused by an exhausted or unmapped VMM stack.  The CPU saved the faulting
 * state in the main TSS and pushed an error code (always 0) here.
 */
	.text
	.globl double_fault_entry
double_fault_entry:
	call double_fault	/* double_fault(error), never returns */
1:	hlt
	jmp 1b
