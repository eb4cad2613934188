/*
 * What the VMM core needs from the CPU architecture it runs on.  The IA-32
 * implementation is in arch/ia32/; a port to another two-level CPU provides
 * these functions and nothing in core/ changes.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include <stdint.h>
#include "core/options.h"

/* Console, CPU tables and exception handling: after this, a fault in the
 * VMM prints a report instead of resetting the machine. */
void arch_early_init(void);

/* The VMM's final address space (only the VMM mapped, at the top). */
void arch_paging_init(void);

/* Physical [pa, pa+len) readable through the VMM's direct map, or NULL. */
const void *arch_phys_map(void *unused, uint64_t pa, uint64_t len);

/* Physical memory the VMM can address directly, and its own image. */
uint32_t arch_direct_map_limit(void);
void arch_image_range(uint32_t *start_pa, uint32_t *end_pa);

/* Deliberately fault inside the VMM (the test-panic= option). */
void arch_provoke_fault(enum panic_test kind);

/* Stop the machine, reporting status (ringvisor/exit.h) to the harness. */
void arch_exit(int status) __attribute__((noreturn));

#endif
