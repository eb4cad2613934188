/*
 * The panic report.  When the VMM itself faults, the next engineer gets
 * everything needed to find the bug without a debugger: the vector, the error
 * code, every register, the control registers, the bytes of the faulting
 * instruction, the top of the stack and a frame-pointer backtrace (resolve it
 * with `addr2line -e build/ringvisor.elf ADDR...`).
 *
 * Every read of memory is checked against the live page tables first: a
 * report that faults while describing a fault helps nobody.
 */
#include "arch/ia32/panic.h"

#include "arch/ia32/memlayout.h"
#include "arch/ia32/paging.h"
#include "arch/ia32/trap.h"
#include "core/arch.h"
#include "core/console.h"
#include "core/deliver.h"
#include "ringvisor/exit.h"

#define CODE_BYTES     16
#define STACK_WORDS    16
#define BACKTRACE_MAX  16

static int panicking;

static void print_code(uint32_t eip)
{
	kprintf("code at EIP:");
	for (uint32_t i = 0; i < CODE_BYTES; i++) {
		if (!paging_readable(eip + i, 1)) {
			kprintf(" <unmapped>");
			break;
		}
		kprintf(" %02x", *(const uint8_t *)(uintptr_t)(eip + i));
	}
	kprintf("\n");
}

static void print_stack(uint32_t esp)
{
	kprintf("stack at ESP:\n");
	for (uint32_t i = 0; i < STACK_WORDS; i++) {
		uint32_t addr = esp + 4 * i;
		if (i % 4 == 0)
			kprintf("  %08x:", addr);
		if (!paging_readable(addr, 4)) {
			kprintf(" <unmapped>\n");
			return;
		}
		kprintf(" %08x", *(const uint32_t *)(uintptr_t)addr);
		if (i % 4 == 3)
			kprintf("\n");
	}
}

/* Follow the saved-EBP chain (the VMM is built with frame pointers). */
static void print_backtrace(uint32_t eip, uint32_t ebp)
{
	kprintf("backtrace: %08x", eip);
	for (int depth = 0; depth < BACKTRACE_MAX; depth++) {
		if (ebp < VMM_BASE || (ebp & 3) || !paging_readable(ebp, 8))
			break;
		const uint32_t *frame = (const uint32_t *)(uintptr_t)ebp;
		uint32_t return_address = frame[1];
		if (return_address == 0)
			break;
		kprintf(" %08x", return_address);
		if (frame[0] <= ebp)	/* stacks grow down; stop on loops */
			break;
		ebp = frame[0];
	}
	kprintf("\n");
}

void panic_report(const struct cpu_snapshot *s)
{
	if (panicking++) {
		/* The report itself faulted: say so with what we have and stop. */
		kprintf("\n*** fault during the panic report: vector %u at EIP=%08x\n",
			s->vector, s->eip);
		arch_exit(EXIT_PANIC);
	}
	kprintf("\n*** VMM PANIC: %s (vector %u), error code 0x%08x\n",
		vector_name(s->vector), s->vector, s->error);
	kprintf("EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", s->eax, s->ebx, s->ecx, s->edx);
	kprintf("ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", s->esi, s->edi, s->ebp, s->esp);
	kprintf("EIP=%08x EFLAGS=%08x CS=%04x SS=%04x DS=%04x ES=%04x FS=%04x GS=%04x\n",
		s->eip, s->eflags, s->cs, s->ss, s->ds, s->es, s->fs, s->gs);
	kprintf("CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", s->cr0, s->cr2, s->cr3, s->cr4);
	print_code(s->eip);
	print_stack(s->esp);
	print_backtrace(s->eip, s->ebp);
	kprintf("ringvisor: halted after a VMM panic\n");
	arch_exit(EXIT_PANIC);
}

