/*
 * Guest-physical memory: RAM from guest-physical 0 to size, backed by one
 * contiguous block of host frames.
 *
 * The VMM never dereferences a guest address directly.  Every access goes
 * through gmem_read()/gmem_write(), which check the range against the guest's
 * RAM and reach the host frames through the arch's window mapping.  That
 * keeps "every guest pointer is hostile" in one place, and lets the host unit
 * tests run the emulator against a plain buffer.
 */
#ifndef CORE_GUEST_MEM_H
#define CORE_GUEST_MEM_H

#include <stdint.h>

struct guest_mem {
	uint32_t size;		/* bytes of RAM, a multiple of 4 KiB */
	uint32_t host_base;	/* host-physical address of guest-physical 0 */
	/*
	 * Make host-physical pa readable and writable by the VMM; returns a
	 * pointer and sets *len to how many bytes from pa are reachable
	 * through it (at least 1).  The pointer stays valid until the next
	 * call.  The VMM uses windows onto host memory; tests use a buffer.
	 */
	uint8_t *(*map)(uint32_t pa, uint32_t *len);
};

/* Whether [gpa, gpa+len) lies inside guest RAM. */
static inline int gmem_contains(const struct guest_mem *gm, uint32_t gpa, uint32_t len)
{
	return gpa <= gm->size && len <= gm->size - gpa;
}

/* Copy to or from guest-physical memory.  Return 0, or -1 (and copy
 * nothing) when the range is not wholly inside guest RAM. */
int gmem_read(const struct guest_mem *gm, uint32_t gpa, void *buf, uint32_t len);
int gmem_write(const struct guest_mem *gm, uint32_t gpa, const void *buf,
	       uint32_t len);
int gmem_fill(const struct guest_mem *gm, uint32_t gpa, uint8_t value,
	      uint32_t len);

/* The aligned 32-bit word at gpa (a page-table entry), through the map:
 * valid until the map's next call.  NULL if gpa is misaligned or not in
 * guest RAM. */
static inline uint32_t *gmem_word(const struct guest_mem *gm, uint32_t gpa)
{
	if ((gpa & 3) || gpa > gm->size || gm->size - gpa < 4)
		return 0;
	uint32_t reach;		/* an aligned word never crosses a page */
	return (uint32_t *)(void *)gm->map(gm->host_base + gpa, &reach);
}

#endif
