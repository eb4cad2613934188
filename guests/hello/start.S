/* A minimal Multiboot kernel: header, a stack, and a call to main(). */
#include "loader/multiboot.h"

	.section .multiboot, "a"
	.align 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO
	.long -(MULTIBOOT_HEADER_MAGIC + (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO))

	.text
	.globl _start
_start:
	movl $stack_top, %esp
	call main
1:	hlt
	jmp 1b

	.bss
	.align 16
	.space 8192
stack_top:
