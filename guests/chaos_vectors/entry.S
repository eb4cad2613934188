/*
 * chaos_vectors' own IDT stubs and the jump back to the harness.
 *
 * Every stub pushes its vector and goes to vt_common, which saves the
 * registers, lets vt_record() read the frame, and then never returns to
 * the interrupted code: it goes back to the caller of vt_call() (like
 * longjmp), on the stack vt_call() left.  So a frame with or without an
 * error code (an `int n` on an error-code vector pushes none) is fine.
 */
#include "guests/lib/desc.h"

	.text
	.align 16
	.globl vt_stubs
vt_stubs:
	.set vec, 0
	.rept 256
	.align 16
	pushl $vec
	jmp vt_common
	.set vec, vec + 1
	.endr

vt_common:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	cld
	pushl %esp
	call vt_record
	/* Back to vt_call's caller, as if vt_call returned 1. */
	movl $KERNEL_DS, %eax
	movl %eax, %ss
	movl vt_saved_esp, %esp
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	/* A trap gate from user mode left IF set; popf cannot clear it in
	 * the VMM's ring 3 (a documented limit), cli can. */
	cli
	popfl
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	movl $1, %eax
	ret

/*
 * uint32_t vt_call(uint32_t entry, uint32_t user): run the code at entry
 * with EAX = 0, in the kernel (a call) or in user mode (an IRET to
 * USER_CS with the user stack vt_user_stack_top).  Returns 1 when an
 * exception or interrupt came back through vt_common, or 0 when the code
 * returned by itself (a hypercall under the VMM), with its EAX in vt_eax.
 */
	.globl vt_call
vt_call:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	pushfl
	movl %esp, vt_saved_esp
	movl 24(%esp), %ecx
	movl 28(%esp), %edx
	testl %edx, %edx
	jnz 1f
	xorl %eax, %eax
	call *%ecx
	movl %eax, vt_eax
	popfl
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	xorl %eax, %eax
	ret
1:	movl $USER_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	pushl $USER_DS
	pushl $vt_user_stack_top
	pushl $0x202
	pushl $USER_CS
	pushl %ecx
	xorl %eax, %eax
	iret

/*
 * 256 entries of 4 bytes: "int $n; ret; ud2-ish".  gas encodes int $3 as
 * CD 03, so every entry is the two-byte form.
 */
	.align 16
	.globl vt_int_table
vt_int_table:
	.set vec, 0
	.rept 256
	.byte 0xcd, vec, 0xc3, 0x90
	.set vec, vec + 1
	.endr

	.bss
	.align 4
	.globl vt_saved_esp, vt_eax
vt_saved_esp:
	.long 0
vt_eax:
	.long 0
	.align 16
	.space 4096
	.globl vt_user_stack_top
vt_user_stack_top:
	.space 64
