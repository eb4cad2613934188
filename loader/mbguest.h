/*
 * Loading a Multiboot v1 ELF kernel into guest memory, the way QEMU's
 * -kernel or GRUB would load it on a bare machine, so the same test-guest
 * binary boots natively and under the VMM.
 */
#ifndef LOADER_MBGUEST_H
#define LOADER_MBGUEST_H

#include <stdint.h>
#include "core/guest_mem.h"
#include "loader/entry.h"

/* Where the loader puts the Multiboot information for the guest: in
 * conventional memory, below where any Multiboot kernel may load. */
#define MBGUEST_INFO_GPA 0x8000

/* Whether image carries a Multiboot header in its first 8 KiB (spec §3.1.1). */
int mbguest_is_multiboot(const void *image, uint32_t size);

/*
 * Check that image[0..size) is a Multiboot ELF kernel that fits in guest
 * RAM, copy its segments in, zero their bss, and write a Multiboot
 * information structure (memory map of guest RAM, command line); the entry
 * state is the spec's (§3.2): EAX the magic, EBX the information.  Returns 0,
 * or -1 with a one-line reason in err.
 */
int mbguest_load(const struct guest_mem *gm, const void *image, uint32_t size,
		 const char *cmdline, struct guest_entry *entry,
		 char *err, unsigned errlen);

#endif
