/*
 * The VMM's first instructions.  A Multiboot loader enters here in 32-bit
 * protected mode with paging off, flat segments, EAX = the Multiboot magic and
 * EBX = the physical address of the Multiboot information (spec §3.2).
 *
 * We are linked at 0xFC100000 but running at 0x00100000, so until paging is on
 * every symbol must be turned into its physical address by hand.  The boot
 * page directory maps:
 *   - the first 4 MiB 1:1, so the instructions right after enabling paging
 *     still run (removed by paging_init() in C);
 *   - physical [0, 48 MiB) at 0xFC000000, where the VMM lives.
 * Both use 4 MiB pages (PSE), so no page tables are needed yet.
 */
#include "arch/ia32/memlayout.h"
#include "loader/multiboot.h"
#include "ringvisor/exit.h"

#define PHYS(sym)     ((sym) - VMM_BASE)
#define PDE_4M_RW     0x83		/* present, writable, 4 MiB page */
#define CR0_PG        0x80000000
#define CR0_WP        0x00010000	/* ring 0 honours read-only pages */
#define CR4_PSE       0x00000010
#define CPUID_PSE     (1 << 3)
#define COM1          0x3f8

	.section .multiboot, "a"
	.align 4
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO
	.long -(MULTIBOOT_HEADER_MAGIC + (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO))

/* Linked at its physical address (link.ld): this runs before paging. */
	.section .boot.text, "ax"
	.globl boot_entry
boot_entry:
	cli
	cld
	/* Keep the magic and info pointer in callee-saved registers. */
	movl %eax, %esi
	movl %ebx, %edi

	/*
	 * 4 MiB pages need CPUID.1:EDX.PSE.  QEMU quietly hangs the CPU when a
	 * CR4 bit the CPU lacks is set, so check first and say why we stop.
	 */
	movl $1, %eax
	cpuid
	testl $CPUID_PSE, %edx
	jz no_pse

	/* Boot page directory: identity for 4 MiB, direct map at VMM_BASE. */
	movl $PHYS(boot_page_directory), %ebx
	movl $PDE_4M_RW, (%ebx)
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $22, %eax
	orl $PDE_4M_RW, %eax
	movl %eax, (4 * VMM_PDE_FIRST)(%ebx, %ecx, 4)
	incl %ecx
	cmpl $DIRECT_MAP_PDES, %ecx
	jb 1b

	movl %cr4, %eax
	orl $CR4_PSE, %eax
	movl %eax, %cr4
	movl %ebx, %cr3
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP), %eax
	movl %eax, %cr0

	/* Paging is on; jump to our linked (high) address. */
	movl $high, %eax
	jmp *%eax

	.text
high:
	movl $boot_stack_top, %esp
	xorl %ebp, %ebp			/* ends the panic report's backtrace */
	pushl %edi			/* Multiboot information (physical) */
	pushl %esi			/* magic */
	call vmm_main
	/* vmm_main never returns; if it did, stop here. */
2:	hlt
	jmp 2b

	.section .boot.text, "ax"
/* Without PSE we cannot run: say so on COM1 (already set up by the BIOS or
 * not: we only need the transmit register) and exit with EXIT_BAD_INPUT. */
no_pse:
	movl $PHYS(no_pse_message), %esi
3:	lodsb
	testb %al, %al
	jz 4f
	movw $COM1, %dx
	outb %al, %dx
	jmp 3b
4:	movb $(EXIT_PORT_BIAS + EXIT_BAD_INPUT), %al
	outb %al, $EXIT_PORT
5:	hlt
	jmp 5b

	.section .rodata
no_pse_message:
	.asciz "ringvisor: error: this CPU lacks 4 MiB pages (CPUID PSE); cannot run\r\n"

	.bss
	.align 4096
boot_page_directory:
	.space 4096

/*
 * The VMM's stack.  The page below it is left unmapped by paging_init() so an
 * overflow faults instead of silently overwriting the data below.  It is the
 * stack ring-3 -> ring-0 transitions land on (TSS.ESP0).
 */
	.align 4096
	.globl boot_stack_guard, boot_stack_top
boot_stack_guard:
	.space 4096
	.space 16384
boot_stack_top:
