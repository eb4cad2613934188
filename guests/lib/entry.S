/*
 * The IDT's 256 entry stubs and the code they share.
 *
 * Each stub is 16 bytes long, so stub n is at vector_stubs + 16 * n.  The
 * CPU pushes an error code for some exceptions only (SDM Vol. 3A §6.13); the
 * other stubs push a 0 in its place so every frame looks alike.  A software
 * `int n` for one of the error-code vectors pushes no error code, so tests
 * do not use it for those.
 */
#include "guests/lib/desc.h"

	.text
	.align 16
	.globl vector_stubs
vector_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushl $0
	.endif
	pushl $vec
	jmp common_entry
	.set vec, vec + 1
	.endr

/* Save the registers as struct ex_regs, load the kernel data segments,
 * call exception_dispatch(regs), and return with whatever it left in regs. */
common_entry:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	cld
	pushl %esp
	call exception_dispatch
	addl $4, %esp
	popl %gs
	popl %fs
	popl %es
	popl %ds
	popal
	addl $8, %esp		/* vector and error code */
	iret
