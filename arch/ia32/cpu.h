/* The VMM's own CPU tables: GDT, TSS and IDT. */
#ifndef ARCH_IA32_CPU_H
#define ARCH_IA32_CPU_H

#include <stdint.h>
#include "arch/ia32/desc.h"

/* Load the VMM's GDT, TSS and IDT.  After this every exception, in the VMM
 * or (later) in a guest, reaches trap(). */
void cpu_init(void);

/* Whether sgdt/sidt/sldt/str/smsw trap in ring 3 (CR4.UMIP is on). */
int cpu_has_umip(void);

/* The double-fault task switches CR3 too: tell it the final page directory. */
void cpu_set_double_fault_cr3(uint32_t cr3);

/* The state the CPU saved in the main TSS when it switched to the
 * double-fault task. */
const struct tss32 *cpu_main_tss(void);

/* Let ring 3 use ports [first, first+count) while the bitmap is enabled. */
void cpu_open_ports(uint16_t first, uint16_t count);
/* Enable the bitmap (virtual kernel) or close every port (virtual user). */
void cpu_enable_io_bitmap(int enable);

/* For fastcall.S: the TSS's I/O map base field, with its values for the
 * bitmap on and off; and each GDT view as lgdt loads it. */
uint16_t *cpu_io_bitmap_field(uint16_t *on, uint16_t *off);

/* The real GDT has a view per virtual ring (see cpu.c). */
enum { GDT_VIEW_KERNEL, GDT_VIEW_USER };

/* Write an entry into both views, or into one; read one back. */
void cpu_set_gdt_entry(unsigned index, uint64_t raw);
void cpu_set_gdt_view_entry(unsigned view, unsigned index, uint64_t raw);
uint64_t cpu_gdt_view_entry(unsigned view, unsigned index);

/* Make view the CPU's GDT. */
void cpu_load_gdt_view(unsigned view);
void cpu_gdt_view_pointer(unsigned view, uint16_t *limit, uint32_t *base);

/* Where a trap from ring 3 starts the VMM stack (TSS.ESP0). */
uint32_t cpu_stack_top(void);

/* Stacks: the page below each *_guard + PAGE_SIZE is left unmapped. */
extern char boot_stack_guard[], boot_stack_top[];
extern char double_fault_stack_guard[];

#endif
