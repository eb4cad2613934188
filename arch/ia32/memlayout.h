/*
 * Where the VMM lives (paper §4.1).
 *
 * The guest owns the virtual addresses below 0xFC000000.  The top 64 MiB
 * belong to the VMM and are mapped, supervisor-only, in every address space,
 * so that on a trap the VMM finds itself already mapped.
 *
 *   0xFC000000 - 0xFEFFFFFF   host-physical [0, 48 MiB) mapped 1:1 (the
 *                             "direct map"): the VMM image, its page tables,
 *                             the boot modules, anything it allocates below
 *                             48 MiB.  The first 4 MiB use 4 KiB pages, so the
 *                             image's text can be read-only and its stacks can
 *                             have unmapped guard pages; the rest 4 MiB pages.
 *   0xFF000000 - 0xFF00FFFF   16 fixed windows: pages the VMM touches on
 *                             every exit (the guest's paravirtual interrupt
 *                             flag), each in a slot of its own.
 *   0xFF010000 - 0xFFBFFFFF   unused.
 *   0xFFC00000 - 0xFFFFFFFF   1024 windows of 4 KiB onto any host page (guest
 *                             RAM lives above the direct map).  One page
 *                             table, shared by every page directory the VMM
 *                             builds, so a window means the same thing
 *                             whatever CR3 holds.
 *
 * The image is linked at VMM_BASE + 1 MiB and loaded at physical 1 MiB, where
 * a Multiboot loader puts it, so for the VMM virtual = physical + VMM_BASE.
 */
#ifndef ARCH_IA32_MEMLAYOUT_H
#define ARCH_IA32_MEMLAYOUT_H

#define VMM_BASE          0xFC000000
#define VMM_LOAD_PHYS     0x00100000
#define DIRECT_MAP_SIZE   0x03000000	/* 48 MiB */
#define DIRECT_MAP_PDES   (DIRECT_MAP_SIZE >> 22)
#define VMM_PDE_FIRST     (VMM_BASE >> 22)	/* 1008 */
#define WINDOW_BASE       0xFFC00000
#define WINDOW_PDE        (WINDOW_BASE >> 22)	/* 1023 */
#define WINDOW_SLOTS      1024
#define FIXED_WINDOW_BASE 0xFF000000
#define FIXED_WINDOW_PDE  (FIXED_WINDOW_BASE >> 22)	/* 1020 */
#define FIXED_WINDOWS     16

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Physical address below DIRECT_MAP_SIZE to the VMM's pointer, and back. */
static inline void *p2v(uint32_t pa)
{
	return (void *)(uintptr_t)(pa + VMM_BASE);
}

static inline uint32_t v2p(const void *va)
{
	return (uint32_t)(uintptr_t)va - VMM_BASE;
}
#endif

#endif
