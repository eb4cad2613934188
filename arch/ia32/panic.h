/* The report the VMM prints when it faults itself, and its last breath. */
#ifndef ARCH_IA32_PANIC_H
#define ARCH_IA32_PANIC_H

#include <stdint.h>

/* A CPU state to describe, whichever way it was captured. */
struct cpu_snapshot {
	uint32_t vector, error;
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp;
	uint32_t eip, eflags;
	uint16_t cs, ss, ds, es, fs, gs;
	uint32_t cr0, cr2, cr3, cr4;
};

/* Print the whole report and stop the machine with EXIT_PANIC. */
void panic_report(const struct cpu_snapshot *s) __attribute__((noreturn));

#endif
