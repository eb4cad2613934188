/* The VMM's physical memory: the one page allocator, and what it hands out. */
#ifndef CORE_MEMORY_H
#define CORE_MEMORY_H

#include <stdint.h>
#include "loader/multiboot.h"

/* Feed the allocator from the boot information (see main.c). */
void memory_init(const struct boot_info *bi);

/* A zeroed page the VMM can address directly (for page tables).  Returns
 * its physical address, or 0 when none is left. */
uint32_t memory_alloc_table(void);

/* Give back a page from memory_alloc_table. */
void memory_free_table(uint32_t pa);

/* Contiguous RAM for a guest, 4 MiB-aligned.  Returns the host-physical
 * base, or 0 when that much is not free. */
uint32_t memory_alloc_guest_ram(uint32_t bytes);

/* Take the frame at host-physical pa if it is free: 0, or -1 if not. */
int memory_claim_frame(uint32_t pa);

#endif
