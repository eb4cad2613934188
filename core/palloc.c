#include "core/palloc.h"

static void set_bit(struct palloc *pa, uint32_t n)
{
	pa->bitmap[n / 32] |= 1u << (n % 32);
}

static void clear_bit(struct palloc *pa, uint32_t n)
{
	pa->bitmap[n / 32] &= ~(1u << (n % 32));
}

int palloc_in_use(const struct palloc *pa, uint32_t frame)
{
	if (frame >= pa->nframes)
		return 1;
	return (pa->bitmap[frame / 32] >> (frame % 32)) & 1;
}

void palloc_init(struct palloc *pa, uint32_t *bitmap, uint32_t nframes)
{
	pa->bitmap = bitmap;
	pa->nframes = nframes;
	pa->nfree = 0;
	pa->next = 0;
	for (uint32_t i = 0; i < PALLOC_WORDS(nframes); i++)
		bitmap[i] = ~0u;
}

/* Frames in [first, last) clipped to the bitmap; empty when first >= last. */
static void clip(const struct palloc *pa, uint64_t *first, uint64_t *last)
{
	if (*last > pa->nframes)
		*last = pa->nframes;
	if (*first > *last)
		*first = *last;
}

/* The first byte past the memory the bitmap covers. */
static uint64_t covered_end(const struct palloc *pa)
{
	return (uint64_t)pa->nframes << PAGE_SHIFT;
}

void palloc_add_usable(struct palloc *pa, uint64_t base, uint64_t len)
{
	/* Ranges wholly past the bitmap change nothing; checking that first
	 * also keeps the rounding below from overflowing. */
	if (len == 0 || base + len < base || base >= covered_end(pa))
		return;
	/* Round inward: a frame only partly usable is not usable. */
	uint64_t first = (base + PAGE_SIZE - 1) >> PAGE_SHIFT;
	uint64_t last = (base + len) >> PAGE_SHIFT;
	clip(pa, &first, &last);
	for (uint64_t f = first; f < last; f++) {
		if (palloc_in_use(pa, (uint32_t)f)) {
			clear_bit(pa, (uint32_t)f);
			pa->nfree++;
		}
	}
}

void palloc_reserve(struct palloc *pa, uint64_t base, uint64_t len)
{
	if (len == 0 || base >= covered_end(pa))
		return;
	/* Clip to the bitmap (which also covers a length that wraps). */
	uint64_t end = base + len;
	if (end < base || end > covered_end(pa))
		end = covered_end(pa);
	/* Round outward: a frame partly taken is taken. */
	uint64_t first = base >> PAGE_SHIFT;
	uint64_t last = (end + PAGE_SIZE - 1) >> PAGE_SHIFT;
	clip(pa, &first, &last);
	for (uint64_t f = first; f < last; f++) {
		if (!palloc_in_use(pa, (uint32_t)f)) {
			set_bit(pa, (uint32_t)f);
			pa->nfree--;
		}
	}
}

/* First free frame in [from, to), or to when there is none. */
static uint32_t find_free(const struct palloc *pa, uint32_t from, uint32_t to)
{
	uint32_t f = from;
	while (f < to) {
		uint32_t word = pa->bitmap[f / 32];
		if (f % 32 == 0 && word == ~0u) {
			f += 32;	/* skip a full word at once */
			continue;
		}
		if (!((word >> (f % 32)) & 1))
			return f;
		f++;
	}
	return to;
}

int palloc_alloc(struct palloc *pa, uint32_t limit, uint32_t *frame)
{
	uint32_t end = (limit == 0 || limit > pa->nframes) ? pa->nframes : limit;
	uint32_t start = pa->next < end ? pa->next : 0;

	/* Search from the hint to the end, then wrap to the start. */
	uint32_t f = find_free(pa, start, end);
	if (f == end) {
		f = find_free(pa, 0, start);
		if (f == start)
			return -1;
	}
	set_bit(pa, f);
	pa->nfree--;
	pa->next = f + 1;
	*frame = f;
	return 0;
}

int palloc_alloc_contig(struct palloc *pa, uint32_t count, uint32_t align,
			uint32_t *first)
{
	if (count == 0 || align == 0 || (align & (align - 1)) || count > pa->nframes)
		return -1;
	/* Highest fit first: guest RAM goes high and leaves low memory (the
	 * VMM's direct map) for the VMM's own page tables. */
	uint32_t start = (pa->nframes - count) & ~(align - 1);
	for (;;) {
		uint32_t n = 0;
		while (n < count && !palloc_in_use(pa, start + n))
			n++;
		if (n == count) {
			for (n = 0; n < count; n++)
				set_bit(pa, start + n);
			pa->nfree -= count;
			*first = start;
			return 0;
		}
		if (start < align)
			return -1;
		start -= align;
	}
}

int palloc_free(struct palloc *pa, uint32_t frame)
{
	if (frame >= pa->nframes || !palloc_in_use(pa, frame))
		return -1;
	clear_bit(pa, frame);
	pa->nfree++;
	return 0;
}
