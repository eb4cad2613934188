/*
 * Copying a checked ELF executable into guest-physical memory, the part of
 * loading that the Multiboot and Linux loaders share.
 */
#ifndef LOADER_ELFLOAD_H
#define LOADER_ELFLOAD_H

#include <stdint.h>
#include "core/guest_mem.h"
#include "loader/elf.h"

/* Returns 0 if every segment of elf fits in guest RAM at its physical
 * address, or -1 with a one-line reason in err. */
int elfload_check(const struct guest_mem *gm, const struct elf_image *elf,
		  char *err, unsigned errlen);

/* Copy the segments of image (already checked) to their physical addresses
 * and zero their bss. */
void elfload_copy(const struct guest_mem *gm, const void *image,
		  const struct elf_image *elf);

/* The entry point as a physical address: a kernel linked high (Linux's
 * vmlinux, test guests) may give it by virtual address only. */
uint32_t elfload_physical_entry(const struct elf_image *elf);

/* The first byte past the highest segment, physically. */
uint32_t elfload_physical_end(const struct elf_image *elf);

#endif
