#include "core/shadow.h"

static int slot_marked(const uint32_t *bits, unsigned slot)
{
	return (bits[slot / 32] >> (slot % 32)) & 1;
}

static void mark_slot(uint32_t *bits, unsigned slot, int on)
{
	if (on)
		bits[slot / 32] |= 1u << (slot % 32);
	else
		bits[slot / 32] &= ~(1u << (slot % 32));
}

static uint32_t *directory(const struct shadow *s, unsigned which)
{
	return s->dir[which];
}

int shadow_init(struct shadow *s, const struct shadow_ops *ops)
{
	s->ops = ops;
	for (unsigned i = 0; i < sizeof(s->large) / sizeof(*s->large); i++)
		s->large[i] = s->global[0][i] = s->global[1][i] =
			s->nonglobal[0][i] = s->nonglobal[1][i] = 0;
	s->nonglobal_words[0] = s->nonglobal_words[1] = 0;
	s->any_large = 0;
	s->nfilled = 0;
	for (unsigned which = 0; which < 2; which++) {
		s->pd[which] = ops->alloc_table();
		if (!s->pd[which])
			return -1;
		s->dir[which] = ops->table(s->pd[which]);
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++)
			s->tables[which][slot] = 0;
		ops->init_directory(directory(s, which));
	}
	return 0;
}

static void free_empty_tables(struct shadow *s);

/* A page table for slot in table which: the cache of emptied ones gives
 * way if there is no frame.  -1 if none even then. */
static int new_table(struct shadow *s, unsigned which, unsigned slot)
{
	uint32_t pt = s->ops->alloc_table();
	if (!pt) {
		free_empty_tables(s);
		pt = s->ops->alloc_table();
	}
	if (!pt)
		return -1;
	/* The PDE allows everything; the PTE decides. */
	directory(s, which)[slot] = pt | SHADOW_PTE_P | SHADOW_PTE_W | SHADOW_PTE_U;
	s->tables[which][slot] = s->ops->table(pt);
	s->first[which][slot] = 1023;
	s->last[which][slot] = 0;
	return 0;
}

int shadow_map(struct shadow *s, unsigned which, uint32_t va, uint32_t host_pa,
	       int writable, int from_large, int global)
{
	unsigned slot = va >> 22;
	if (slot >= SHADOW_GUEST_PDES)
		return -1;	/* the VMM's own space is never the guest's */
	if (!s->tables[which][slot] && new_table(s, which, slot))
		return -1;
	if (from_large)
		mark_slot(s->large, slot, 1);
	mark_slot(global ? s->global[which] : s->nonglobal[which], slot, 1);
	if (!global)
		s->nonglobal_words[which] |= 1u << (slot / 32);
	if (from_large)
		s->any_large = 1;
	uint32_t *pt = s->tables[which][slot];
	unsigned i = (va >> 12) & 1023;
	pt[i] = (host_pa & SHADOW_PTE_FRAME) | SHADOW_PTE_P | SHADOW_PTE_U |
		(writable ? SHADOW_PTE_W : 0) | (global ? SHADOW_PTE_GLOBAL : 0);
	if (!global)		/* what a CR3 load must clear */
		shadow_note_filled(s, which, va);
	return 0;
}

static void widen_range(struct shadow *s, unsigned which, uint32_t va)
{
	unsigned slot = va >> 22, i = (va >> 12) & 1023;
	if (i < s->first[which][slot])
		s->first[which][slot] = (uint16_t)i;
	if (i > s->last[which][slot])
		s->last[which][slot] = (uint16_t)i;
}

void shadow_note_past_list(struct shadow *s, unsigned which, uint32_t va)
{
	if (s->nfilled == SHADOW_FILLED_MAX)	/* the ranges start now */
		for (unsigned n = 0; n < SHADOW_FILLED_MAX; n++)
			widen_range(s, s->filled[n] & 1, s->filled[n]);
	widen_range(s, which, va);
}

uint32_t *shadow_again_new_table(struct shadow *s, unsigned which, unsigned slot)
{
	if (slot >= SHADOW_GUEST_PDES || new_table(s, which, slot))
		return 0;
	return shadow_again_table(s, which, slot);
}

static void drop_table(struct shadow *s, unsigned which, unsigned slot)
{
	uint32_t *pd = directory(s, which);
	if (pd[slot] & SHADOW_PTE_P) {
		s->ops->free_table(pd[slot] & SHADOW_PTE_FRAME);
		pd[slot] = 0;
		s->tables[which][slot] = 0;
	}
	mark_slot(s->global[which], slot, 0);
	mark_slot(s->nonglobal[which], slot, 0);
}

int shadow_invalidate(struct shadow *s, uint32_t va)
{
	unsigned slot = va >> 22;
	if (slot >= SHADOW_GUEST_PDES)
		return 0;
	if (slot_marked(s->large, slot)) {
		/* invlpg drops the whole 4 MiB translation: every piece. */
		drop_table(s, SHADOW_KERNEL, slot);
		drop_table(s, SHADOW_USER, slot);
		mark_slot(s->large, slot, 0);
		return 1;
	}
	for (unsigned which = 0; which < 2; which++) {
		uint32_t *pd = directory(s, which);
		if (pd[slot] & SHADOW_PTE_P)
			s->tables[which][slot][(va >> 12) & 1023] = 0;
	}
	return 0;
}

/*
 * The slots holding a table are those marked global or non-global (every
 * shadow_map marks one): the flushes visit just those, a word of the
 * bitmaps at a time, instead of all 1008 slots of both directories.
 */
#define BITMAP_WORDS (SHADOW_GUEST_PDES / 32 + 1)

/* Free the tables kept empty by CR3 loads (empty_nonglobal). */
static void free_empty_tables(struct shadow *s)
{
	for (unsigned which = 0; which < 2; which++)
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++)
			if (!slot_marked(s->global[which], slot) &&
			    !slot_marked(s->nonglobal[which], slot))
				drop_table(s, which, slot);
}

/* Rare (a paging mode change): every table goes, kept ones too. */
void shadow_flush(struct shadow *s)
{
	for (unsigned which = 0; which < 2; which++)
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++)
			drop_table(s, which, slot);
	for (unsigned i = 0; i < BITMAP_WORDS; i++)
		s->large[i] = 0;		/* drop_table cleared the rest */
	s->nfilled = 0;
}

/* A CR3 load drops entry, for page (va | which): list it if the CPU used
 * it (the accessed flag it sets in the shadow entry), and count the ones
 * shadow_again_put made.  It runs for every entry a context switch
 * drops: a store past the count is harmless, the next one overwrites it. */
static inline void note_dropped(struct shadow_dropped *dropped, uint32_t entry, uint32_t page)
{
	uint32_t again = (entry / SHADOW_PTE_AGAIN) & 1;
	uint32_t used = (entry / SHADOW_PTE_A) & 1;
	dropped->again += again;
	dropped->again_used += again & used;
	if (dropped->count < dropped->max) {
		dropped->page[dropped->count] = page;
		dropped->count += used;
	}
}

/*
 * Clear the non-global entries of the table at slot, which are all within
 * the range filled since it was clean, and keep the table in place: the
 * next address space will likely fill the same slot.  A table with no
 * global entry is clean afterwards.
 */
static void empty_nonglobal(struct shadow *s, unsigned which, unsigned slot,
			    struct shadow_dropped *dropped)
{
	uint32_t *pt = s->tables[which][slot];
	unsigned first = s->first[which][slot], last = s->last[which][slot];
	/* Global entries may lie among them (the kernel's direct map around
	 * a kmap): those stay. */
	uint32_t keep = slot_marked(s->global[which], slot) ? SHADOW_PTE_GLOBAL : 0;
	for (unsigned i = first; i <= last; i++) {
		if (!pt[i] || (pt[i] & keep))
			continue;
		note_dropped(dropped, pt[i], (slot << 22) | (i << 12) | which);
		pt[i] = 0;
	}
	s->first[which][slot] = 1023;
	s->last[which][slot] = 0;
	mark_slot(s->nonglobal[which], slot, 0);
}

/*
 * Clear the entries listed in filled[], which are all the non-global ones
 * (or were: invlpg may have cleared one since, or a later fill made it
 * global, and a page filled twice is listed twice), in every table marked
 * non-global.  The list runs by table, mostly: a table's pointer and mark
 * are dealt with when the table changes from one page to the next.
 */
static void empty_listed(struct shadow *s, struct shadow_dropped *dropped)
{
	const uint32_t same_table = 0xffc00000u | 1;	/* slot and which */
	uint32_t table_of = ~0u;	/* a page of table (same_table bits) */
	uint32_t *table = 0;
	const uint32_t *end = s->filled + s->nfilled;
	for (const uint32_t *p = s->filled; p < end; p++) {
		uint32_t page = *p;
		if ((page ^ table_of) & same_table) {
			unsigned which = page & 1, slot = page >> 22;
			table_of = page;
			/* NULL if invlpg dropped the table whole (4 MiB). */
			table = s->tables[which][slot];
			mark_slot(s->nonglobal[which], slot, 0);
		}
		if (!table)
			continue;
		uint32_t *pte = &table[(page >> 12) & 1023];
		uint32_t entry = *pte;
		if ((entry & (SHADOW_PTE_P | SHADOW_PTE_GLOBAL)) != SHADOW_PTE_P)
			continue;	/* cleared since, or global now */
		note_dropped(dropped, entry, page);
		*pte = 0;
	}
}

/* Past the list: clear the range of each table marked non-global. */
static void empty_ranges(struct shadow *s, struct shadow_dropped *dropped)
{
	for (unsigned which = 0; which < 2; which++) {
		/* Only the bitmap words that may hold a slot (a summary). */
		uint32_t words = s->nonglobal_words[which];
		while (words) {
			unsigned w = (unsigned)__builtin_ctz(words);
			words &= words - 1;
			uint32_t used = s->nonglobal[which][w];
			while (used) {
				unsigned slot = w * 32 + (unsigned)__builtin_ctz(used);
				used &= used - 1;
				empty_nonglobal(s, which, slot, dropped);
			}
		}
	}
}

void shadow_flush_nonglobal(struct shadow *s, struct shadow_dropped *dropped)
{
	/* Counted in a copy, which the compiler may keep in registers (the
	 * list it writes could alias the counts), and into one nobody reads
	 * when the caller wants no list. */
	struct shadow_dropped d = { .page = 0, .max = 0 };
	if (dropped)
		d = (struct shadow_dropped){ .page = dropped->page, .max = dropped->max };
	uint32_t visited = s->nonglobal_words[0] | s->nonglobal_words[1];
	if (s->nfilled <= SHADOW_FILLED_MAX)
		empty_listed(s, &d);
	else
		empty_ranges(s, &d);
	s->nfilled = 0;
	s->nonglobal_words[0] = s->nonglobal_words[1] = 0;	/* no slot marked */
	if (dropped)
		*dropped = d;
	/* A slot stays "large" only while the pieces it holds survive: in
	 * the slots just emptied, only the global ones. */
	if (s->any_large)
		while (visited) {
			unsigned w = (unsigned)__builtin_ctz(visited);
			visited &= visited - 1;
			s->large[w] &= s->global[0][w] | s->global[1][w];
		}
}

uint32_t shadow_lookup(const struct shadow *s, unsigned which, uint32_t va)
{
	const uint32_t *pd = directory(s, which);
	uint32_t pde = pd[va >> 22];
	if (!(pde & SHADOW_PTE_P))
		return 0;
	if (va >> 22 >= SHADOW_GUEST_PDES)
		return pde;		/* the VMM's own (large) mapping */
	return s->tables[which][va >> 22][(va >> 12) & 1023];
}
