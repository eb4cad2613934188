/*
 * Returning to a guest on a 16-bit stack segment: Linux's "espfix".
 *
 * An IRET to an outer ring loads SS:ESP from its frame, except that when the
 * new SS is a 16-bit segment (B=0) it loads only SP: ESP[31:16] keep what
 * they were in the ESP the IRET itself ran on.  The SDM only warns that the
 * upper half of ESP is unreliable where stack sizes mix (Vol. 3A, "Mixing
 * 16-Bit and 32-Bit Code"); every IA-32 CPU, and QEMU, keeps it (Linux's
 * entry_32.S calls it an "official" bug of all of them).  In trap_return
 * that ESP is the VMM's stack, 0xFCxxxxxx: the guest would read half a VMM
 * address in its ESP, and once back on a 32-bit stack it would push through
 * it and crash.  Natively a kernel on a 16-bit stack keeps its ESP: this
 * IRET is the VMM's, not the guest's.
 *
 * So for a guest on a 16-bit stack the IRET runs on a stack of the VMM's
 * whose ESP already holds the guest's upper half: ESP is
 * (guest ESP & 0xffff0000) | (frame & 0xffff), where frame is the linear
 * address of a copy of the IRET frame, and the stack segment GDT_ESPFIX_SS is
 * based at frame - ESP and 4 GiB long (it wraps), so that SS:ESP still
 * addresses the frame (core/segments.c, segments_espfix).  The IRET reads its
 * frame there and leaves the guest its own ESP[31:16].
 *
 * Only that one instruction runs on the espfix stack (vectors.S), with
 * interrupts off.  If it faulted (the VMM built a state the CPU refuses), the
 * CPU would push the fault's frame on the espfix stack, where no C code can
 * run: its pointers into the stack would be offsets from another base.
 * Linux therefore tests SS on every exception entry.  Here the exits pay
 * nothing for it: the copy of the frame starts its page, and the page below
 * is unmapped, so pushing any fault's frame is a page fault, and pushing
 * that page fault's frame a double fault (SDM Vol. 3A §6.15, Table 6-5: a
 * #PF while delivering a #PF), which goes through its task gate to the
 * double-fault task's own stack.  double_fault() (trap.c) recognises the
 * espfix IRET there and stops the guest, as trap() does when the flat IRET
 * faults.
 */
#include "arch/ia32/espfix.h"

#include <stddef.h>
#include "arch/ia32/cpu.h"
#include "arch/ia32/desc.h"
#include "core/palloc.h"
#include "core/segments.h"
#include "lib/string.h"

/* vectors.S finds the frame's CS at this offset. */
_Static_assert(offsetof(struct trapframe, cs) == 60, "TF_CS in vectors.S");

uint8_t espfix_needed;

/* What trap_return's lss loads: offset first, then the selector. */
struct {
	uint32_t esp;
	uint16_t ss;
} __attribute__((packed)) espfix_sp = { 0, SEL_ESPFIX_SS };

/* The guard page, then the page whose first bytes hold the IRET frame. */
char espfix_guard[2 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
#define ESPFIX_FRAME ((uint32_t *)(espfix_guard + PAGE_SIZE))

/* The IRET frame to an outer ring: EIP, CS, EFLAGS, ESP, SS (SDM Vol. 3A
 * Figure 6-4). */
#define IRET_FRAME_BYTES 20

void espfix_set_stack(uint64_t alias)
{
	espfix_needed = (uint8_t)segment_raw_stack16(alias);
}

void espfix_prepare(const struct trapframe *tf)
{
	static uint64_t loaded;	/* what GDT_ESPFIX_SS holds (0: nothing yet) */

	memcpy(ESPFIX_FRAME, &tf->eip, IRET_FRAME_BYTES);
	struct espfix fix = segments_espfix((uint32_t)ESPFIX_FRAME, tf->esp);
	uint64_t desc = segments_espfix_stack(fix.base);
	if (desc != loaded) {
		cpu_set_gdt_entry(GDT_ESPFIX_SS, desc);
		loaded = desc;
	}
	espfix_sp.esp = fix.esp;
}
