#include "core/workingset.h"

/* Whether a is the better list to reuse than b: an empty one, else the
 * one recorded longest ago. */
static int better_victim(const struct workingset_space *a, const struct workingset_space *b)
{
	if ((a->count == 0) != (b->count == 0))
		return a->count == 0;
	return a->last_used < b->last_used;
}

/* The list cr3 has (recorded, not taken), else the best victim. */
static struct workingset_space *find_list(struct workingset *ws, uint32_t cr3)
{
	struct workingset_space *victim = &ws->space[0];
	for (unsigned i = 0; i < WORKINGSET_SPACES; i++) {
		struct workingset_space *sp = &ws->space[i];
		if (sp->count > 0 && sp->cr3 == cr3)
			return sp;
		if (better_victim(sp, victim))
			victim = sp;
	}
	return victim;
}

struct workingset_space *workingset_record(struct workingset *ws, uint32_t cr3)
{
	/* The usual case, a context switch: the space left is the one whose
	 * list the CR3 load before took, and no other list holds its pages
	 * (this function never gives a space two). */
	struct workingset_space *list = ws->taken;
	if (!list || list->cr3 != cr3)
		list = find_list(ws, cr3);
	list->cr3 = cr3;
	list->count = 0;
	list->last_used = ++ws->clock;
	return list;
}

/*
 * Put the list in the order of its 4 MiB slots, so that mapping it again
 * reads each of the guest's page tables once; within a slot the pages
 * keep their order, which mapping them again does not mind.  An
 * insertion sort: the list mostly comes back in order already, since it
 * was mapped again in this order and a CR3 load records pages in the
 * order they were mapped; only the pages faulted in since are out of
 * place, and sorting by slot alone moves few of those (a fresh process
 * faults in its code, data and stack slots by turns).
 */
static void sort_by_slot(uint32_t *page, unsigned count)
{
	for (unsigned i = 1; i < count; i++) {
		uint32_t moving = page[i], slot = moving >> 22;
		if (slot >= page[i - 1] >> 22)
			continue;	/* the usual case: in place */
		unsigned j = i;
		for (; j > 0 && page[j - 1] >> 22 > slot; j--)
			page[j] = page[j - 1];
		page[j] = moving;
	}
}

const uint32_t *workingset_take(struct workingset *ws, uint32_t cr3, unsigned *count)
{
	for (unsigned i = 0; i < WORKINGSET_SPACES; i++) {
		struct workingset_space *sp = &ws->space[i];
		if (sp->count > 0 && sp->cr3 == cr3) {
			*count = sp->count;
			sp->count = 0;
			ws->taken = sp;
			sort_by_slot(sp->page, *count);
			return sp->page;
		}
	}
	*count = 0;
	return 0;
}
