/*
 * The #GP vector's entry: the guest's system calls, the short way, while
 * fastcall.c has armed it (fastcall.h says when); every other #GP, and a
 * system call it declines, goes to trap_common like any vector.
 *
 * The guest's segment registers are not the VMM's here: every memory
 * access goes through SS (the VMM's flat stack segment), and the guest's
 * DS, ES, FS and GS stay loaded throughout, back to the guest.  Interrupts
 * are off (an interrupt gate) until the iret.
 */
#include "arch/ia32/desc.h"
#include "arch/ia32/fastcall.h"

#define EFLAGS_RESERVED1 0x00000002
#define EFLAGS_TF        0x00000100
#define EFLAGS_IF        0x00000200
#define EFLAGS_IOPL      0x00003000
#define EFLAGS_NT        0x00004000
#define EFLAGS_RF        0x00010000
#define EFLAGS_VM        0x00020000
#define GUEST_LINEAR_LIMIT 0xfc000000	/* core/segments.h */
#define EFLAGS_GUEST     0x00244fd5	/* core/ring.c: what an iret loads */

/* The frame after the three registers saved and the start time pushed. */
#define F_TSC    0
#define F_EDX    4
#define F_ECX    8
#define F_EAX    12
#define F_ERROR  16
#define F_EIP    20
#define F_CS     24
#define F_EFLAGS 28
#define F_ESP    32

#define FC(field) %ss:fastcall + FC_##field

/* ZF set if DS, ES, FS and GS hold the four selectors at fastcall+list. */
.macro selectors_are list
	movl %ds, %eax
	cmpl %ss:fastcall + \list, %eax
	jne 9f
	movl %es, %eax
	cmpl %ss:fastcall + \list + 4, %eax
	jne 9f
	movl %fs, %eax
	cmpl %ss:fastcall + \list + 8, %eax
	jne 9f
	movl %gs, %eax
	cmpl %ss:fastcall + \list + 12, %eax
9:
.endm

/* The ring switch: I/O bitmap, shadow page directory, GDT view, LDT (the
 * offsets of the ring's fields in struct fastcall). */
.macro switch_ring iomap, pd, gdt
	movl FC(IOMAP_BASE), %eax
	movl %ss:fastcall + \iomap, %ecx
	movw %cx, %ss:(%eax)
	movl %ss:fastcall + \pd, %eax
	movl %eax, %cr3
	lgdt %ss:fastcall + \gdt
	movl $SEL_GUEST_LDT, %eax
	lldt %ax
.endm

	.text
	.globl gp_entry, fastcall_read_insn, fastcall_read_failed
	.globl fastcall_frame_read, fastcall_frame_read_end
gp_entry:
	/* The CPU pushed error, EIP, CS, EFLAGS, ESP, SS: from ring 3, with
	 * no TF (the step would be the guest's) and not v86. */
	testb $3, 8(%esp)
	jz general
	testl $(EFLAGS_TF | EFLAGS_VM), 12(%esp)
	jnz general
	cmpl $0, FC(ARMED)
	je general
	pushl %eax
	pushl %ecx
	pushl %edx
	rdtsc
	pushl %eax		/* the start, for the exit statistics */

	/* The instruction: CS has base 0 when armed, and the fetch that
	 * faulted mapped it; a linear address near the VMM's own is the
	 * general path's (a #GP past the segment limit, maybe). */
	movl F_EIP(%esp), %eax
	cmpl $(GUEST_LINEAR_LIMIT - 4), %eax
	ja decline
fastcall_read_insn:
	movl %ss:(%eax), %edx	/* a #PF here resumes at fastcall_read_failed */
	cmpl $0, FC(KERNEL)
	jne from_kernel

	/* sysenter (0f 34) in user mode: to the guest's SYSENTER_CS:EIP on
	 * its SYSENTER_ESP, IF clear (in the PV word), RF and VM clear. */
	cmpw $0x340f, %dx
	jne decline
	cmpl $0, F_ERROR(%esp)
	jne decline
	selectors_are FC_DATA_SEL
	jne decline
	movl FC(ENTER_EIP), %eax
	movl %eax, F_EIP(%esp)
	movl FC(ENTER_ESP), %eax
	movl %eax, F_ESP(%esp)
	movl F_EFLAGS(%esp), %eax
	andl $~(EFLAGS_RF | EFLAGS_VM | EFLAGS_IOPL | EFLAGS_NT), %eax
	orl $(EFLAGS_IF | EFLAGS_RESERVED1), %eax	/* the real IF: PV */
	movl %eax, F_EFLAGS(%esp)
	movl FC(PV_WORD), %eax
	movl $0, %ss:(%eax)		/* vif */
	movl $0, %ss:4(%eax)		/* pending: none when armed */
	movl $1, FC(KERNEL)
	switch_ring FC_IOMAP_KERNEL, FC_PD_KERNEL, FC_GDT_KERNEL
	movl $(FC_XR_SYSENTER * FC_XR_SIZE), %ecx
	jmp count

from_kernel:
	cmpb $0xcf, %dl
	je iret_to_user
	cmpw $0x200f, %dx
	je read_cr2
	/* "sti; sysexit" (fb 0f 35) in the kernel: to user mode at EDX on
	 * ECX, IF set. */
	andl $0xffffff, %edx
	cmpl $0x350ffb, %edx
	jne decline
	cmpl $0, F_ERROR(%esp)
	jne decline
	selectors_are FC_DATA_SEL
	jne decline
	movl F_EDX(%esp), %eax
	movl %eax, F_EIP(%esp)
	movl F_ECX(%esp), %eax
	movl %eax, F_ESP(%esp)
	movl FC(SYSEXIT_CS), %eax
	movl %eax, FC(USER_CS)
	movl FC(SYSEXIT_SS), %eax
	movl %eax, FC(USER_SS)
	movl $1, %eax
	movl $(FC_XR_STI * FC_XR_SIZE), %edx
	jmp to_user

iret_to_user:
	/* iret (cf) in the kernel, back to user mode with the code and stack
	 * selectors armed (checked before, base 0, their aliases loaded):
	 * EIP, CS, EFLAGS, ESP, SS from the kernel's stack, read through
	 * its shadow (a #PF resumes at fastcall_read_failed).  Not a task
	 * return (NT), not to virtual-8086 mode, EIP within CS's limit. */
	testl $EFLAGS_NT, F_EFLAGS(%esp)
	jnz decline
	selectors_are FC_DATA_SEL
	jne decline
	movl F_ESP(%esp), %eax
	cmpl $(GUEST_LINEAR_LIMIT - 20), %eax
	ja decline
fastcall_frame_read:
	movl %ss:4(%eax), %ecx
	cmpl FC(IRET_CS), %ecx
	jne decline
	movl %ss:16(%eax), %ecx
	cmpl FC(IRET_SS), %ecx
	jne decline
	movl %ss:8(%eax), %edx		/* EFLAGS */
	testl $EFLAGS_VM, %edx
	jnz decline
	movl %ss:0(%eax), %ecx		/* EIP */
	cmpl FC(IRET_LIMIT), %ecx
	ja decline
	movl %ss:12(%eax), %eax		/* ESP */
fastcall_frame_read_end:
	movl %ecx, F_EIP(%esp)
	movl %eax, F_ESP(%esp)
	/* The guest's flags from the frame (ring.c, load_eflags), as
	 * resumed; IF, the kernel's to set from it, into the PV word. */
	movl %edx, %ecx
	andl $EFLAGS_GUEST, %edx
	andl $~EFLAGS_GUEST, F_EFLAGS(%esp)
	orl %edx, F_EFLAGS(%esp)
	movl FC(IRET_CS), %eax
	movl %eax, FC(USER_CS)
	movl FC(IRET_SS), %eax
	movl %eax, FC(USER_SS)
	movl %ecx, %eax
	shrl $9, %eax
	andl $1, %eax
	movl $(FC_XR_IRET * FC_XR_SIZE), %edx

to_user:
	/* Into user mode, both ways: EAX the virtual IF, EDX the exit's
	 * reason; CS and SS noted above for the vCPU's catching up.  The
	 * real EFLAGS as arch_prepare_resume makes them. */
	andl $~(EFLAGS_VM | EFLAGS_IOPL | EFLAGS_NT), F_EFLAGS(%esp)
	orl $(EFLAGS_IF | EFLAGS_RESERVED1), F_EFLAGS(%esp)
	movl %eax, FC(USER_VIF)
	movl FC(PV_WORD), %ecx
	movl %eax, %ss:(%ecx)
	movl $0, %ss:4(%ecx)		/* pending: none when armed */
	movl $0, FC(KERNEL)
	cmpl $0, FC(MAP_AHEAD)
	jne map_ahead
ring_to_user:
	switch_ring FC_IOMAP_USER, FC_PD_USER, FC_GDT_USER
	movl %edx, %ecx

count:	/* one exit of the reason at offset ECX, and its ticks */
	addl $1, FC(MOVES)
count_only:
	rdtsc
	subl F_TSC(%esp), %eax
	addl %eax, %ss:exitstats_since_boot + 8(%ecx)
	adcl $0, %ss:exitstats_since_boot + 12(%ecx)
	addl $1, %ss:exitstats_since_boot(%ecx)
	adcl $0, %ss:exitstats_since_boot + 4(%ecx)
	addl $4, %esp
	popl %edx
	popl %ecx
	popl %eax
	addl $4, %esp		/* the error code */
	iretl

read_cr2:
	/* mov %cr2, %reg (0f 20 /r, mod 3, reg 2) in the kernel, the page
	 * fault handler's first act: the register gets the CR2 the last
	 * delivery set.  Not to ESP. */
	cmpl $0, F_ERROR(%esp)
	jne decline
	shrl $16, %edx
	movl %edx, %eax
	andl $0xf8, %eax
	cmpl $0xd0, %eax
	jne decline
	andl $7, %edx
	movl FC(CR2), %eax
	jmp *%ss:cr2_to_register(, %edx, 4)
cr2_to_eax:
	movl %eax, F_EAX(%esp)
	jmp cr2_done
cr2_to_ecx:
	movl %eax, F_ECX(%esp)
	jmp cr2_done
cr2_to_edx:
	movl %eax, F_EDX(%esp)
	jmp cr2_done
cr2_to_ebx:
	movl %eax, %ebx
	jmp cr2_done
cr2_to_ebp:
	movl %eax, %ebp
	jmp cr2_done
cr2_to_esi:
	movl %eax, %esi
	jmp cr2_done
cr2_to_edi:
	movl %eax, %edi
cr2_done:
	addl $3, F_EIP(%esp)
	movl $(FC_XR_CR * FC_XR_SIZE), %ecx
	jmp count_only

map_ahead:
	/* A user page fault's handler returns: map the page now, in C on the
	 * VMM's data segments (fastcall.h), then the guest's DS and ES again,
	 * which the selector check above found to be the armed ones.  EDX,
	 * the exit's reason, is all that is live. */
	pushl %edx
	movl $SEL_VMM_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	cld
	call fastcall_map_ahead
	movl FC(DATA_SEL), %eax
	movl %eax, %ds
	movl FC(DATA_SEL) + 4, %eax
	movl %eax, %es
	popl %edx
	jmp ring_to_user

fastcall_read_failed:
decline:
	addl $4, %esp
	popl %edx
	popl %ecx
	popl %eax
general:
	pushl $13
	jmp trap_common

	.section .rodata
	.align 4
cr2_to_register:	/* by ModRM's r/m: EAX ECX EDX EBX ESP EBP ESI EDI */
	.long cr2_to_eax, cr2_to_ecx, cr2_to_edx, cr2_to_ebx
	.long decline, cr2_to_ebp, cr2_to_esi, cr2_to_edi
