/*
 * Where control arrives through a code segment with a random base: a far
 * jump (tbl_far_landing) or an interrupt gate (tbl_gate_landing + 8 * k,
 * for vectors 0x40 + k) whose offset was chosen so that base + offset is
 * here.  Each goes straight back to the flat kernel code segment: the far
 * jump to wherever tbl_far_back says, the gate to the library's entry stub
 * of its vector, which handles it as any other interrupt.
 */
#include "guests/lib/desc.h"

	.text
	.globl tbl_far_landing
tbl_far_landing:
	ljmp $KERNEL_CS, $1f
1:	jmp *tbl_far_back

	.align 8
	.globl tbl_gate_landing
tbl_gate_landing:
	.set k, 0
	.rept 16
	.align 8
	ljmp $KERNEL_CS, $(vector_stubs + 16 * (0x40 + k))
	.set k, k + 1
	.endr

	.bss
	.align 4
	.globl tbl_far_back
tbl_far_back:
	.long 0
