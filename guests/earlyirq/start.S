/*
 * earlyirq's entry: a Multiboot header, a stack, main(), and the two
 * interrupt entry points (the guest has no library: the library programs
 * the PICs first thing, and this guest must not).
 */
#include "loader/multiboot.h"

	.section .multiboot, "a"
	.align 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO
	.long -(MULTIBOOT_HEADER_MAGIC + (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO))

	.text
	.globl _start
_start:
	/* Our own flat GDT: Multiboot leaves the selectors unspecified. */
	lgdt gdt_descriptor
	ljmp $0x08, $1f
1:	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $stack_top, %esp
	call main
2:	hlt
	jmp 2b

/* IRQ 0 on the BIOS's vector 8: count it, end it at the PIC, return. */
	.globl timer_entry
timer_entry:
	pushl %eax
	incl ticks
	movb $0x20, %al
	outb %al, $0x20
	popl %eax
	iret

/* Anything else is a failure: report status 1 and stop. */
	.globl unexpected_entry
unexpected_entry:
	movb $0x11, %al
	outb %al, $0xf4
3:	cli
	hlt
	jmp 3b

	.data
	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: flat code, ring 0 */
	.quad 0x00cf92000000ffff	/* 0x10: flat data, ring 0 */
gdt_descriptor:
	.word gdt_descriptor - gdt - 1
	.long gdt

	.bss
	.align 16
	.space 8192
stack_top:
