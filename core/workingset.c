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
 * Put the list in address order, so that mapping it again reads each of
 * the guest's page tables once.  An insertion sort: the list mostly comes
 * back sorted already, since it was mapped again in this order and a CR3
 * load records pages in the order they were mapped; only the pages
 * faulted in since are out of place.
 */
static void sort_pages(uint32_t *page, unsigned count)
{
	for (unsigned i = 1; i < count; i++) {
		uint32_t moving = page[i];
		if (moving >= page[i - 1])
			continue;	/* the usual case: in place */
		unsigned j = i;
		for (; j > 0 && page[j - 1] > moving; j--)
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
			sort_pages(sp->page, *count);
			return sp->page;
		}
	}
	*count = 0;
	return 0;
}
