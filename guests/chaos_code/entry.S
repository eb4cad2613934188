/*
 * chaos_code's way into a random sequence and back out of it.
 *
 * cc_run_kernel/cc_run_user enter the code at cc_code_entry with every
 * register (and EFLAGS) from a struct cc_regs, by an IRET: in the kernel
 * on the chaos address space (cc_pd_k, where the guest's own memory is
 * read-only) and stack; in user mode on the guest's main address space,
 * where only the code page, a stack and a scratch page are user pages.
 *
 * Whatever ends the sequence (any of the 256 vectors, or sysenter) comes
 * to cc_common, which goes back to the main address space and data
 * segments, notes the vector and the six words above it (error code or
 * not: the C side sorts that out) and returns from cc_run_* on the
 * harness's stack, with interrupts off and EFLAGS clean.
 */
#include "guests/lib/desc.h"

	.text
	.align 16
	.globl cc_stubs
cc_stubs:
	.set vec, 0
	.rept 256
	.align 16
	pushl $vec
	jmp cc_common
	.set vec, vec + 1
	.endr

/* sysenter lands here (SYSENTER_EIP), on its own stack: no frame. */
	.globl cc_sysenter_landing
cc_sysenter_landing:
	pushl $0
	pushl $0
	pushl $0
	pushl $0
	pushl $0
	pushl $0
	pushl $256
	jmp cc_common

cc_common:
	pushl %eax
	/* Only reads until the main address space is back: in the chaos
	 * one the guest's memory is read-only, and %ds may be anything. */
	cmpl $0, %cs:cc_kernel_active
	je 1f
	movl %cs:cc_pd_main, %eax
	movl %eax, %cr3
1:	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl $0, cc_kernel_active
	movl 4(%esp), %eax
	movl %eax, cc_caught_vector
	movl 8(%esp), %eax
	movl %eax, cc_caught_w
	movl 12(%esp), %eax
	movl %eax, cc_caught_w + 4
	movl 16(%esp), %eax
	movl %eax, cc_caught_w + 8
	movl 20(%esp), %eax
	movl %eax, cc_caught_w + 12
	movl 24(%esp), %eax
	movl %eax, cc_caught_w + 16
	movl 28(%esp), %eax
	movl %eax, cc_caught_w + 20
	movl $KERNEL_DS, %eax
	movl %eax, %ss
	movl cc_harness_esp, %esp
	movl %eax, %fs
	movl %eax, %gs
	cli
	pushl $2
	popfl
	popl %ebp
	popl %edi
	popl %esi
	popl %ebx
	ret

/* void cc_run_kernel(const struct cc_regs *r) */
	.globl cc_run_kernel
cc_run_kernel:
	pushl %ebx
	pushl %esi
	pushl %edi
	pushl %ebp
	movl %esp, cc_harness_esp
	movl 20(%esp), %eax
	movl $1, cc_kernel_active
	movl cc_pd_k, %ecx
	movl %ecx, %cr3
	movl 28(%eax), %esp
	pushl 32(%eax)			/* eflags */
	pushl $KERNEL_CS
	pushl cc_code_entry
	movl 4(%eax), %ebx
	movl 8(%eax), %ecx
	movl 12(%eax), %edx
	movl 16(%eax), %esi
	movl 20(%eax), %edi
	movl 24(%eax), %ebp
	movl 0(%eax), %eax
	iret

/* void cc_run_user(const struct cc_regs *r) */
	.globl cc_run_user
cc_run_user:
	pushl %ebx
	pushl %esi
	pushl %edi
	pushl %ebp
	movl %esp, cc_harness_esp
	movl 20(%esp), %eax
	movl $USER_DS, %ecx
	movl %ecx, %ds
	movl %ecx, %es
	movl %ecx, %fs
	movl %ecx, %gs
	pushl $USER_DS
	pushl 28(%eax)			/* esp */
	pushl 32(%eax)			/* eflags */
	pushl $USER_CS
	pushl cc_code_entry
	movl 4(%eax), %ebx
	movl 8(%eax), %ecx
	movl 12(%eax), %edx
	movl 16(%eax), %esi
	movl 20(%eax), %edi
	movl 24(%eax), %ebp
	movl 0(%eax), %eax
	iret

	.data
	.align 4
	.globl cc_kernel_active, cc_pd_main, cc_pd_k, cc_code_entry
	.globl cc_caught_vector, cc_caught_w, cc_harness_esp
cc_kernel_active:	.long 0
cc_pd_main:		.long 0
cc_pd_k:		.long 0
cc_code_entry:		.long 0
cc_caught_vector:	.long 0
cc_caught_w:		.long 0, 0, 0, 0, 0, 0
cc_harness_esp:		.long 0
