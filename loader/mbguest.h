/*
 * Loading a Multiboot v1 ELF kernel into guest memory, the way QEMU's
 * -kernel or GRUB would load it on a bare machine, so the same test-guest
 * binary boots natively and under the VMM.
 */
#ifndef LOADER_MBGUEST_H
#define LOADER_MBGUEST_H

#include <stdint.h>
#include "core/guest_mem.h"

/* Where the loader puts the Multiboot information for the guest: in
 * conventional memory, below where any Multiboot kernel may load. */
#define MBGUEST_INFO_GPA 0x8000

/* The machine state a Multiboot loader hands over (spec §3.2). */
struct mbguest_entry {
	uint32_t eip;	/* the ELF entry point */
	uint32_t eax;	/* MULTIBOOT_BOOTLOADER_MAGIC */
	uint32_t ebx;	/* guest-physical address of the information */
};

/*
 * Check that image[0..size) is a Multiboot ELF kernel that fits in guest
 * RAM, copy its segments in, zero their bss, and write a Multiboot
 * information structure (memory map of guest RAM, command line).  Returns 0,
 * or -1 with a one-line reason in err.
 */
int mbguest_load(const struct guest_mem *gm, const void *image, uint32_t size,
		 const char *cmdline, struct mbguest_entry *entry,
		 char *err, unsigned errlen);

#endif
