/*
 * The entry point of every test guest: a Multiboot v1 header, a stack, a
 * cleared bss, the library's setup, then main(magic, mbi).  main normally
 * ends with report_summary(), which never returns; if main returns, its
 * value is the exit status.
 */
#include "loader/multiboot.h"

#define MB_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

	.section .multiboot, "a"
	.align 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MB_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	movl %eax, %esi			/* Multiboot magic */
	movl %ebx, %ebp			/* Multiboot information */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movl $boot_stack_top, %esp
	call guest_setup
	pushl %ebp
	pushl %esi
	call main
	pushl %eax
	call exit

	.bss
	.align 16
	.space 16384
boot_stack_top:
