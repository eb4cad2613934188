/*
 * The two halves of run_in_user: going down to ring 3 with an IRET, and
 * coming back from the int $0x80 handler to the caller's saved context.
 */
#include "guests/lib/desc.h"

	.text
/* uint32_t enter_user(user_fn fn, uint32_t arg) */
	.globl enter_user
enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	pushfl
	movl %esp, saved_kernel_esp
	movl 24(%esp), %eax		/* fn */
	movl 28(%esp), %edx		/* arg */
	/* The user stack: fn, then arg, the argument fn finds at 4(%esp). */
	movl $user_stack_top, %ecx
	movl %edx, -4(%ecx)
	movl %eax, -8(%ecx)
	subl $8, %ecx
	/* An IRET to ring 3 would null data segments the user may not use
	 * (SDM Vol. 3A §6.12.1 / IRET); load the user's own first. */
	movl $USER_DS, %ebx
	movl %ebx, %ds
	movl %ebx, %es
	movl %ebx, %fs
	movl %ebx, %gs
	pushl $USER_DS			/* ss */
	pushl %ecx			/* esp */
	pushl $0x202			/* eflags: IF, IOPL 0 */
	pushl $USER_CS			/* cs */
	pushl $user_trampoline		/* eip */
	iret

user_trampoline:
	popl %eax
	call *%eax
	int $USER_RETURN_VECTOR
	ud2				/* int $0x80 never returns here */

/* void leave_user(uint32_t result): back to enter_user's caller. */
	.globl leave_user
leave_user:
	movl 4(%esp), %eax
	movl saved_kernel_esp, %esp
	popfl
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.bss
	.align 4
saved_kernel_esp:
	.long 0
	.align 16
	.space 8192
	.globl user_stack_top
user_stack_top:
