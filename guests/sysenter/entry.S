/*
 * The kernel side of SYSENTER.  The CPU arrives here with CS from
 * IA32_SYSENTER_CS, SS = that + 8, ESP from IA32_SYSENTER_ESP, IF, VM and
 * RF cleared, and nothing saved: by the convention Linux uses, the user
 * passes its return EIP in %edx and its ESP in %ecx, which SYSEXIT takes
 * back (SDM Vol. 2 SYSENTER, SYSEXIT).  %ds and %es still hold the user's
 * flat data segment, which is fine for the kernel here.
 */
	.text
	.globl sysenter_entry
sysenter_entry:
	movl %esp, sysenter_seen_esp
	pushfl
	popl sysenter_seen_eflags
	pushl %ecx			/* user esp */
	pushl %edx			/* user eip */
	pushl %eax			/* the request */
	call sysenter_call
	addl $4, %esp
	popl %edx
	popl %ecx
	sti				/* like Linux: the sti shadow covers sysexit */
	sysexit
