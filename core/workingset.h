/*
 * The working sets of recent address spaces (issue 6): which pages each of
 * the last few guest CR3 values had in the shadow when the guest switched
 * away from it.  A CR3 load empties the shadow of the old space's pages
 * (core/shadow.c, what a TLB does); when the guest comes back to a space,
 * the VMM maps those pages again at once (core/mmu.c, mmu_load_cr3) instead
 * of taking a fault for each: two processes passing a pipe back and forth
 * would otherwise refault their stacks, code and buffers on every switch.
 *
 * Only a list of addresses is kept, never a translation: each page is
 * walked again in the guest's tables as they are now, and mapped only if a
 * walk would find it mapped with its accessed flags already set (so no
 * flag the guest watches changes) — what a CPU's speculative walk may cache
 * (SDM Vol. 3A §4.10.2.3).  A stale list (the space exited and its CR3
 * frame now holds another) costs a few walks, nothing more.
 *
 * Pure C: unit-tested on the host.
 */
#ifndef CORE_WORKINGSET_H
#define CORE_WORKINGSET_H

#include <stdint.h>

#define WORKINGSET_SPACES 8	/* address spaces remembered */
#define WORKINGSET_PAGES 256	/* pages remembered per space */

struct workingset_space {
	uint32_t cr3;		/* whose pages (meaningful while count > 0) */
	unsigned count;
	uint32_t last_used;	/* when it was recorded (the LRU clock) */
	uint32_t page[WORKINGSET_PAGES];	/* va | which shadow */
};

struct workingset {
	struct workingset_space space[WORKINGSET_SPACES];
	uint32_t clock;
	/* The list workingset_take took last (NULL: none yet): the space
	 * loaded is the one a CR3 load records next, into that list. */
	struct workingset_space *taken;
};

/* The list to record space cr3's pages in: the one it had (whose pages
 * are then forgotten, or which workingset_take took last), or the least
 * recently recorded one. */
struct workingset_space *workingset_record(struct workingset *ws, uint32_t cr3);

/* The pages recorded for space cr3 (*count of them), or NULL, in the
 * order of their 4 MiB slots (va >> 22).  The list is taken:
 * found no more, and reused by the next workingset_record, so the caller
 * reads it at once. */
const uint32_t *workingset_take(struct workingset *ws, uint32_t cr3, unsigned *count);

#endif
