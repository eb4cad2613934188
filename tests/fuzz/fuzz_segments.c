/*
 * Fuzzing descriptor mirroring (core/segments.c) on random descriptors.
 *
 * Input: a sequence of 9-byte records, a raw 64-bit guest descriptor and a
 * byte whose low bits pick the virtual ring.  For each, what core/segments.h
 * promises of the real descriptors the guest will run on:
 *   - segment_decode/segment_encode round-trip every descriptor (but L);
 *   - segments_mirror: system descriptors never reach the real GDT; no
 *     mirror is a code segment ring 3 could run: readable code becomes
 *     read-only data (DPL 3 when conforming or when the current virtual
 *     ring may load it, else DPL 0), execute-only code DPL 0,
 *     non-conforming; data segments DPL 3 exactly when the guest's DPL
 *     lets the current virtual ring load them, else DPL 0; base, type and
 *     flags are the guest's;
 *   - every expand-up segment and every code segment is clipped so that no
 *     offset reaches GUEST_LINEAR_LIMIT (0xFC000000): base + limit stays
 *     below it, or the segment is not present; clipping only shrinks, and
 *     by less than a page; a segment already below is left alone;
 *   - segments_code_alias: 0, or a present DPL-3 non-conforming code
 *     segment, clipped; segments_stack_alias: 0, or a present DPL-3
 *     writable data segment, clipped unless expand-down.
 */
#include "core/segments.h"
#include "tests/fuzz/fuzz_input.h"

/* The descriptor bits mirroring may change: limit (and G with it), type's
 * conforming bit, DPL, P. */
static void check_clipped(const struct segment *in, const struct segment *out)
{
	CHECK(out->base == in->base);
	if (!out->present)
		return;
	CHECK((uint64_t)out->base + out->limit < GUEST_LINEAR_LIMIT);
	CHECK(out->limit <= in->limit);
	if ((uint64_t)in->base + in->limit < GUEST_LINEAR_LIMIT) {
		CHECK(out->limit == in->limit);		/* nothing to clip */
	} else {
		uint32_t room = GUEST_LINEAR_LIMIT - 1 - in->base;
		CHECK(room - out->limit < 4096);	/* not over-clipped */
	}
}

static void check_one(uint64_t raw, unsigned vpl)
{
	struct segment s = segment_decode(raw);
	/* Bit 53 (L, 64-bit code) means nothing in IA-32: dropped. */
	CHECK(segment_encode(&s) == (raw & ~(1ull << 53)));
	int expand_down = !segment_is_code(&s) && (s.type & SEG_TYPE_EXPAND_DOWN);

	/* The mirror in the real GDT. */
	uint64_t m = segments_mirror(raw, vpl);
	if (!s.s) {
		CHECK(m == 0);
	} else {
		struct segment ms = segment_decode(m);
		CHECK(ms.s == 1 && ms.avl == s.avl && ms.db == s.db);
		int conforming = s.type & SEG_TYPE_CONFORMING;
		if (segment_is_code(&s) && (s.type & SEG_TYPE_READABLE)) {
			/* Read-only data: never a code segment. */
			CHECK(ms.type == (s.type & SEG_TYPE_ACCESSED));
			CHECK(ms.dpl == (conforming || s.dpl >= vpl ? 3 : 0));
		} else if (segment_is_code(&s)) {
			CHECK(ms.type == (s.type & ~SEG_TYPE_CONFORMING));
			CHECK(ms.dpl == 0);
		} else {
			CHECK(ms.type == s.type);
			CHECK(ms.dpl == (s.dpl >= vpl ? 3 : 0));
		}
		if (expand_down) {
			CHECK(ms.base == s.base && ms.limit == s.limit &&
			      ms.g == s.g && ms.present == s.present);
		} else {
			check_clipped(&s, &ms);
			CHECK(ms.present == (s.present && s.base < GUEST_LINEAR_LIMIT));
		}
	}

	/* The alias guest code runs on. */
	uint64_t c = segments_code_alias(raw);
	if (c == 0) {
		CHECK(!s.present || !segment_is_code(&s) || s.base >= GUEST_LINEAR_LIMIT);
	} else {
		struct segment cs = segment_decode(c);
		CHECK(s.present && segment_is_code(&s));
		CHECK(cs.present && cs.s && segment_is_code(&cs));
		CHECK(cs.dpl == 3 && !(cs.type & SEG_TYPE_CONFORMING));
		CHECK((cs.type & ~SEG_TYPE_CONFORMING) == (s.type & ~SEG_TYPE_CONFORMING));
		CHECK(cs.db == s.db);
		check_clipped(&s, &cs);
	}

	/* The alias the guest's stack runs on. */
	uint64_t st = segments_stack_alias(raw);
	int writable_data = s.s && !segment_is_code(&s) && (s.type & SEG_TYPE_WRITABLE);
	if (st == 0) {
		CHECK(!s.present || !writable_data ||
		      (!expand_down && s.base >= GUEST_LINEAR_LIMIT));
	} else {
		struct segment ss = segment_decode(st);
		CHECK(s.present && writable_data);
		CHECK(ss.present && ss.s && !segment_is_code(&ss) && ss.dpl == 3);
		CHECK(ss.type == s.type && ss.db == s.db);
		if (expand_down)
			CHECK(ss.base == s.base && ss.limit == s.limit);
		else
			check_clipped(&s, &ss);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	do {
		uint64_t raw = in_u64(&in);
		unsigned vpl = in_u8(&in) & 3;
		check_one(raw, vpl);
	} while (in_left(&in) > 0);
	return 0;
}
