/*
 * Loading a Linux kernel the way a bootloader does for the 32-bit boot
 * protocol (Documentation/x86/boot.rst, "32-bit boot protocol"): the
 * uncompressed vmlinux ELF at its physical addresses, the initrd at the top
 * of RAM, and a "zero page" (struct boot_params) describing both, the
 * command line and an e820 map of guest RAM.  The kernel is entered at its
 * physical entry point with paging off and %esi pointing at boot_params.
 */
#ifndef LOADER_LINUX_H
#define LOADER_LINUX_H

#include <stdint.h>
#include "core/guest_mem.h"
#include "loader/entry.h"

/* Where things go in conventional memory, which Linux reserves for itself
 * early (the first 1 MiB is never handed to its page allocator). */
#define LINUX_BOOT_PARAMS_GPA 0x7000
#define LINUX_CMDLINE_GPA     0x8000
#define LINUX_CMDLINE_MAX     2048	/* COMMAND_LINE_SIZE on x86 */

/* Offsets into boot_params used by the loader and its tests
 * (Documentation/x86/zero-page.rst and boot.rst). */
#define BP_ALT_MEM_K      0x1e0
#define BP_E820_ENTRIES   0x1e8
#define BP_BOOT_FLAG      0x1fe
#define BP_HEADER         0x202
#define BP_VERSION        0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS      0x211
#define BP_RAMDISK_IMAGE  0x218
#define BP_RAMDISK_SIZE   0x21c
#define BP_CMD_LINE_PTR   0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_CMDLINE_SIZE   0x238
#define BP_HARDWARE_SUBARCH_DATA 0x240
#define BP_E820_TABLE     0x2d0
#define BP_SIZE           4096

#define E820_RAM      1
#define E820_RESERVED 2

/*
 * Check that kernel[0..ksize) is an i386 ELF executable that fits in guest
 * RAM and that the initrd (initrd may be NULL, isize 0) fits between it and
 * the top of RAM; copy both in and write boot_params and cmdline.  Returns
 * 0, or -1 with a one-line reason in err.
 */
int linux_load(const struct guest_mem *gm, const void *kernel, uint32_t ksize,
	       const void *initrd, uint32_t isize, const char *cmdline,
	       struct guest_entry *entry, char *err, unsigned errlen);

#endif
