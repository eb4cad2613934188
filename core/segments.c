#include "core/segments.h"

struct segment segment_decode(uint64_t raw)
{
	uint32_t lo = (uint32_t)raw, hi = (uint32_t)(raw >> 32);
	struct segment s = {
		.base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u),
		.limit = (lo & 0xffff) | (hi & 0x000f0000u),
		.type = (hi >> 8) & 0xf,
		.s = (hi >> 12) & 1,
		.dpl = (hi >> 13) & 3,
		.present = (hi >> 15) & 1,
		.avl = (hi >> 20) & 1,
		.db = (hi >> 22) & 1,
		.g = (hi >> 23) & 1,
	};
	if (s.g)	/* 4 KiB units; the low 12 bits read as ones */
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

uint64_t segment_encode(const struct segment *s)
{
	uint32_t limit = s->limit;
	int g = s->g;
	/* Byte granularity reaches 1 MiB; beyond it, whole pages. */
	if (limit > 0xfffff) {
		g = 1;
		limit >>= 12;
	} else if (g) {
		limit >>= 12;
	}
	uint32_t lo = (limit & 0xffff) | (s->base << 16);
	uint32_t hi = ((s->base >> 16) & 0xff) | (s->base & 0xff000000u) |
		      (limit & 0x000f0000u) | ((uint32_t)(s->type & 0xf) << 8) |
		      ((uint32_t)s->s << 12) | ((uint32_t)(s->dpl & 3) << 13) |
		      ((uint32_t)s->present << 15) | ((uint32_t)s->avl << 20) |
		      ((uint32_t)s->db << 22) | ((uint32_t)g << 23);
	return ((uint64_t)hi << 32) | lo;
}

/*
 * Shrink an expand-up segment so base + limit stays below the VMM.  With
 * 4 KiB granularity the limit can only end on a page boundary minus one,
 * which is exactly what GUEST_LINEAR_LIMIT allows.  A segment starting at
 * or above the VMM cannot be represented: it is marked not present, so
 * loading it faults (#NP) instead of reaching the VMM.
 */
static void clip(struct segment *s)
{
	if (s->base >= GUEST_LINEAR_LIMIT) {
		s->present = 0;
		return;
	}
	uint32_t room = GUEST_LINEAR_LIMIT - 1 - s->base;
	if (s->limit > room) {
		s->limit = room;
		if (s->limit <= 0xfffff) {
			s->g = 0;	/* byte granular: exact (and a page-granular
					   limit under 4 KiB cannot exist) */
		} else {
			/* A page-granular limit must end in 0xfff; round down
			 * (room is at least 1 MiB here: no underflow). */
			if ((s->limit & 0xfff) != 0xfff)
				s->limit = (s->limit & ~0xfffu) - 1;
			s->g = 1;
		}
	}
}

uint64_t segments_mirror(uint64_t raw, unsigned vpl)
{
	struct segment s = segment_decode(raw);

	if (!s.s)
		return 0;	/* system descriptors: never in the real GDT */
	if (segment_is_code(&s) && (s.type & SEG_TYPE_READABLE)) {
		/*
		 * A readable code segment may also sit in a data register,
		 * where it is only read through (SDM Vol. 3A §5.7: data
		 * registers may hold readable code; writes through it #GP).
		 * Its mirror is therefore a read-only data segment: a data
		 * register loads it as it would the code, and no transfer
		 * can use it (a far jmp, call, ret or iret to a data
		 * descriptor is #GP(selector)), so every transfer still traps
		 * to the VMM, which checks the guest's own code descriptor.
		 * Loadable as the CPU would: conforming code at any
		 * privilege, other code at DPL >= the ring.
		 */
		int conforming = s.type & SEG_TYPE_CONFORMING;
		s.type &= SEG_TYPE_ACCESSED;	/* read-only data, expand-up */
		s.dpl = conforming || s.dpl >= vpl ? 3 : 0;
	} else if (segment_is_code(&s)) {
		/* Execute-only: unusable from ring 3, and transfers to it
		 * fault into the VMM. */
		s.type &= ~SEG_TYPE_CONFORMING;
		s.dpl = 0;
	} else {
		s.dpl = s.dpl >= vpl ? 3 : 0;
	}
	/*
	 * Expand-down data segments cover offsets limit+1 .. 0xffff or
	 * 0xffffffff (B flag); their top cannot be lowered without changing
	 * which offsets are valid.  They are left as they are: the VMM's
	 * pages are supervisor-only, so paging still keeps the guest out.
	 */
	if (!(!segment_is_code(&s) && (s.type & SEG_TYPE_EXPAND_DOWN)))
		clip(&s);
	return segment_encode(&s);
}

uint64_t segments_stack_alias(uint64_t raw)
{
	struct segment s = segment_decode(raw);

	if (!s.present || !s.s || segment_is_code(&s) || !(s.type & SEG_TYPE_WRITABLE))
		return 0;
	s.dpl = 3;
	if (!(s.type & SEG_TYPE_EXPAND_DOWN))
		clip(&s);
	return s.present ? segment_encode(&s) : 0;
}

uint64_t segments_code_alias(uint64_t raw)
{
	struct segment s = segment_decode(raw);

	if (!s.present || !segment_is_code(&s))
		return 0;
	s.type &= ~SEG_TYPE_CONFORMING;
	s.dpl = 3;
	clip(&s);
	return s.present ? segment_encode(&s) : 0;
}

struct espfix segments_espfix(uint32_t frame, uint32_t guest_esp)
{
	uint32_t esp = (guest_esp & 0xffff0000u) | (frame & 0xffffu);
	return (struct espfix){ .base = frame - esp, .esp = esp };
}

uint64_t segments_espfix_stack(uint32_t base)
{
	struct segment s = {
		.base = base, .limit = 0xffffffffu,
		.type = SEG_TYPE_WRITABLE | SEG_TYPE_ACCESSED, .s = 1, .dpl = 0,
		.present = 1, .db = 1, .g = 1,
	};
	return segment_encode(&s);
}
