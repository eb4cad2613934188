/*
 * The machine state a loader hands the guest kernel: where it starts and
 * the registers its boot protocol defines.  Everything else (segments,
 * flags, paging off) is the same for every protocol we load.
 */
#ifndef LOADER_ENTRY_H
#define LOADER_ENTRY_H

#include <stdint.h>

struct guest_entry {
	uint32_t eip;		/* guest-physical entry point */
	uint32_t eax, ebx;	/* Multiboot: magic, information address */
	uint32_t esi;		/* Linux: address of boot_params */
};

#endif
