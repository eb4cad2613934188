/*
 * Descriptor mirroring (core/segments.c): what the real GDT holds for each
 * kind of guest descriptor, in each virtual ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/segments.h"
#include "core/vcpu.h"

/* Build a raw descriptor from its parts (SDM Vol. 3A Figure 3-8). */
static uint64_t desc(uint32_t base, uint32_t limit20, unsigned type, unsigned s,
		     unsigned dpl, unsigned present, unsigned db, unsigned g)
{
	uint32_t lo = (limit20 & 0xffff) | (base << 16);
	uint32_t hi = ((base >> 16) & 0xff) | (base & 0xff000000u) |
		      (limit20 & 0xf0000u) | (type << 8) | (s << 12) | (dpl << 13) |
		      (present << 15) | (db << 22) | (g << 23);
	return ((uint64_t)hi << 32) | lo;
}

#define FLAT_KERNEL_DATA desc(0, 0xfffff, 0x3, 1, 0, 1, 1, 1)
#define FLAT_USER_DATA   desc(0, 0xfffff, 0x3, 1, 3, 1, 1, 1)
#define FLAT_KERNEL_CODE desc(0, 0xfffff, 0xb, 1, 0, 1, 1, 1)

static void test_decode_encode_round_trip(void **state)
{
	(void)state;
	uint64_t samples[] = {
		FLAT_KERNEL_DATA, FLAT_USER_DATA, FLAT_KERNEL_CODE,
		desc(0x12345678, 0xabcde, 0x2, 1, 2, 1, 0, 0),
		desc(0xc0000000, 0x3ffff, 0xf, 1, 3, 0, 1, 1),
	};
	for (unsigned i = 0; i < sizeof(samples) / sizeof(*samples); i++) {
		struct segment s = segment_decode(samples[i]);
		assert_int_equal(segment_encode(&s), samples[i]);
	}
}

/* Found by fuzzing (tests/fuzz/crashes/segments-clip-underflow): a
 * page-granular 4 GiB segment based 2 KiB below the VMM.  Clipping it to a
 * page-granular limit underflowed to 4 GiB; it must end just below the VMM,
 * byte-granular. */
static void test_clip_less_than_a_page_below_vmm(void **state)
{
	(void)state;
	uint64_t raw = 0xfbcf9afff800ffffull;	/* base 0xfbfff800, limit 4 GiB */
	struct segment m = segment_decode(segments_mirror(raw, VPL_KERNEL));
	assert_true(m.present);
	assert_int_equal(m.base, 0xfbfff800u);
	assert_int_equal(m.g, 0);
	assert_int_equal(m.limit, 0x7ffu);	/* ends at 0xfbffffff */
	struct segment data = segment_decode(segments_mirror(raw & ~(8ull << 40), VPL_USER));
	assert_true((uint64_t)data.base + data.limit < 0xfc000000ull);
}

static void test_decode_fields(void **state)
{
	(void)state;
	struct segment s = segment_decode(desc(0x12345678, 0x00fff, 0x3, 1, 2, 1, 1, 1));
	assert_int_equal(s.base, 0x12345678);
	assert_int_equal(s.limit, 0x00ffffff);	/* G: 4 KiB units, low bits ones */
	assert_int_equal(s.type, 0x3);
	assert_int_equal(s.dpl, 2);
	assert_true(s.present && s.s && s.db && s.g);
}

static void test_kernel_data_usable_in_kernel_view_only(void **state)
{
	(void)state;
	struct segment k = segment_decode(segments_mirror(FLAT_KERNEL_DATA, VPL_KERNEL));
	struct segment u = segment_decode(segments_mirror(FLAT_KERNEL_DATA, VPL_USER));
	assert_int_equal(k.dpl, 3);	/* guest kernel code runs in ring 3 */
	assert_int_equal(u.dpl, 0);	/* from user mode: #GP, as natively */
	assert_true(k.present && u.present);
}

static void test_user_data_usable_in_both_views(void **state)
{
	(void)state;
	assert_int_equal(segment_decode(segments_mirror(FLAT_USER_DATA, VPL_KERNEL)).dpl, 3);
	assert_int_equal(segment_decode(segments_mirror(FLAT_USER_DATA, VPL_USER)).dpl, 3);
}

static void test_flat_limit_clipped_below_vmm(void **state)
{
	(void)state;
	struct segment s = segment_decode(segments_mirror(FLAT_USER_DATA, VPL_USER));
	assert_int_equal(s.base, 0);
	assert_int_equal(s.limit, GUEST_LINEAR_LIMIT - 1);
}

static void test_unaligned_base_limit_ends_below_vmm(void **state)
{
	(void)state;
	struct segment s = segment_decode(segments_mirror(
		desc(0x123, 0xfffff, 0x3, 1, 3, 1, 1, 1), VPL_USER));
	assert_int_equal(s.base, 0x123);
	assert_true((uint64_t)s.base + s.limit < GUEST_LINEAR_LIMIT);
	assert_int_equal(s.limit & 0xfff, 0xfff);	/* still page-granular */
}

static void test_small_segment_kept_exactly(void **state)
{
	(void)state;
	uint64_t raw = desc(0x100000, 0x0fff, 0x3, 1, 3, 1, 1, 0);
	struct segment s = segment_decode(segments_mirror(raw, VPL_USER));
	assert_int_equal(s.base, 0x100000);
	assert_int_equal(s.limit, 0x0fff);
	assert_int_equal(s.g, 0);
}

static void test_segment_inside_vmm_not_present(void **state)
{
	(void)state;
	uint64_t raw = desc(0xfc000000, 0xfff, 0x3, 1, 3, 1, 1, 0);
	assert_false(segment_decode(segments_mirror(raw, VPL_KERNEL)).present);
	assert_int_equal(segments_stack_alias(raw), 0);
	assert_int_equal(segments_code_alias(desc(0xfe000000, 0xfff, 0xb, 1, 0, 1, 1, 0)), 0);
}

static void test_code_mirrored_dpl0_nonconforming(void **state)
{
	(void)state;
	uint64_t conforming = desc(0, 0xfffff, 0xd, 1, 3, 1, 1, 1);	/* execute-only */
	for (unsigned vpl = 0; vpl <= 3; vpl += 3) {
		struct segment s = segment_decode(segments_mirror(conforming, vpl));
		assert_int_equal(s.dpl, 0);	/* every transfer to it traps */
		assert_false(s.type & SEG_TYPE_CONFORMING);
		assert_true(segment_is_code(&s));
	}
}

/* Readable code is mirrored as read-only data: usable in a data register
 * where the CPU allows it, never as a code segment. */
static void test_readable_code_mirrored_as_read_only_data(void **state)
{
	(void)state;
	uint64_t kernel = desc(0x10000, 0xfffff, 0xb, 1, 0, 1, 1, 1);
	uint64_t conforming = desc(0, 0xfffff, 0xe, 1, 0, 1, 1, 1);
	struct segment k = segment_decode(segments_mirror(kernel, VPL_KERNEL));
	struct segment u = segment_decode(segments_mirror(kernel, VPL_USER));
	for (unsigned i = 0; i < 2; i++) {
		struct segment *s = i ? &u : &k;
		assert_true(s->s && s->present);
		assert_false(segment_is_code(s));
		assert_int_equal(s->type & ~SEG_TYPE_ACCESSED, 0);	/* read-only, expand-up */
		assert_int_equal(s->base, 0x10000);
		assert_true((uint64_t)s->base + s->limit < GUEST_LINEAR_LIMIT);	/* clipped */
	}
	assert_int_equal(k.dpl, 3);	/* the kernel may load its code */
	assert_int_equal(u.dpl, 0);	/* user mode may not */
	for (unsigned vpl = 0; vpl <= 3; vpl += 3) {
		struct segment c = segment_decode(segments_mirror(conforming, vpl));
		assert_int_equal(c.dpl, 3);	/* conforming: from any ring */
		assert_false(segment_is_code(&c));
	}
}

static void test_system_descriptors_never_mirrored(void **state)
{
	(void)state;
	unsigned types[] = { 0x2 /* LDT */, 0x9 /* TSS */, 0xb /* busy TSS */,
			     0xc /* call gate */, 0x5 /* task gate */, 0xe, 0xf };
	for (unsigned i = 0; i < sizeof(types) / sizeof(*types); i++) {
		uint64_t raw = desc(0x1000, 0xfff, types[i], 0, 3, 1, 0, 0);
		assert_int_equal(segments_mirror(raw, VPL_KERNEL), 0);
		assert_int_equal(segments_mirror(raw, VPL_USER), 0);
	}
}

static void test_expand_down_kept(void **state)
{
	(void)state;
	/* Valid offsets limit+1..0xffffffff: clipping the limit would change
	 * which offsets are valid, so it stays (paging keeps the VMM safe). */
	uint64_t raw = desc(0, 0x00fff, 0x7, 1, 3, 1, 1, 1);
	struct segment s = segment_decode(segments_mirror(raw, VPL_USER));
	assert_int_equal(s.limit, 0x00ffffff);
	assert_int_equal(s.type & SEG_TYPE_EXPAND_DOWN, SEG_TYPE_EXPAND_DOWN);
	assert_int_equal(s.dpl, 3);
}

static void test_not_present_stays_not_present(void **state)
{
	(void)state;
	uint64_t raw = desc(0, 0xfffff, 0x3, 1, 3, 0, 1, 1);
	assert_false(segment_decode(segments_mirror(raw, VPL_USER)).present);
	assert_int_equal(segments_stack_alias(raw), 0);
}

static void test_aliases(void **state)
{
	(void)state;
	struct segment c = segment_decode(segments_code_alias(FLAT_KERNEL_CODE));
	assert_int_equal(c.dpl, 3);
	assert_int_equal(c.limit, GUEST_LINEAR_LIMIT - 1);
	assert_int_equal(segments_code_alias(FLAT_KERNEL_DATA), 0);
	struct segment st = segment_decode(segments_stack_alias(FLAT_KERNEL_DATA));
	assert_int_equal(st.dpl, 3);
	/* A read-only data segment cannot be a stack. */
	assert_int_equal(segments_stack_alias(desc(0, 0xfffff, 0x1, 1, 0, 1, 1, 1)), 0);
	assert_int_equal(segments_stack_alias(FLAT_KERNEL_CODE), 0);
}

/* segment_base is the hot paths' shortcut: it must agree with the decoder. */
static void test_segment_base_matches_decode(void **state)
{
	(void)state;
	static const uint64_t raws[] = {
		0x00cf9a000000ffffull, 0xc1409300d0000067ull, 0x12f3a2345678abcdull,
		0xff00ff00ff00ff00ull, 0x00ff00ff00ff00ffull, 0,
	};
	for (unsigned i = 0; i < sizeof(raws) / sizeof(*raws); i++)
		assert_int_equal(segment_base(raws[i]), segment_decode(raws[i]).base);
}

/* The hot paths ask segments_*_aliasable instead of making the alias:
 * the two must agree on every descriptor. */
static void test_aliasable_agrees_with_alias(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < 200000; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;	/* xorshift */
		uint64_t raw = x;
		if (i & 1)		/* bases near the VMM's boundary too */
			raw = (raw & 0x00ffffffffffffffull) | ((uint64_t)0xfb + (i >> 1) % 3) << 56;
		struct segment s = segment_decode(raw);
		assert_int_equal(segments_code_aliasable(&s), segments_code_alias(raw) != 0);
		assert_int_equal(segments_stack_aliasable(&s), segments_stack_alias(raw) != 0);
	}
}

/*
 * The espfix stack (arch/ia32/espfix.c): for any frame address and guest
 * ESP, SS:ESP must address the frame, ESP's upper half must be the guest's,
 * and what an IRET to a 16-bit stack leaves (ESP[31:16] kept, SP loaded)
 * must be the guest's whole ESP.
 */
static void test_espfix(void **state)
{
	(void)state;
	static const uint32_t frames[] = {
		0xfc14a000, 0xfc150000, 0xfc10fff0, 0x00001000, 0xffff0000,
	};
	static const uint32_t esps[] = {
		0, 0xffffffff, 0x0010a550, 0x7fff0000, 0x0000ffff, 0xfc14a500,
		0xabcd1234,
	};
	for (unsigned i = 0; i < sizeof(frames) / sizeof(*frames); i++)
		for (unsigned j = 0; j < sizeof(esps) / sizeof(*esps); j++) {
			struct espfix fix = segments_espfix(frames[i], esps[j]);
			assert_int_equal((uint32_t)(fix.base + fix.esp), frames[i]);
			assert_int_equal(fix.esp >> 16, esps[j] >> 16);
			assert_int_equal(fix.base & 0xffff, 0);
			uint32_t after_iret = (fix.esp & 0xffff0000u) | (esps[j] & 0xffff);
			assert_int_equal(after_iret, esps[j]);
		}
}

static void test_espfix_stack_descriptor(void **state)
{
	(void)state;
	struct segment s = segment_decode(segments_espfix_stack(0x12340000));
	assert_int_equal(s.base, 0x12340000);
	assert_int_equal(s.limit, 0xffffffff);	/* 4 GiB: base + ESP wraps */
	assert_true(s.present && s.s && !segment_is_code(&s));
	assert_true(s.type & SEG_TYPE_WRITABLE);
	assert_false(s.type & SEG_TYPE_EXPAND_DOWN);
	assert_int_equal(s.dpl, 0);
	assert_int_equal(s.db, 1);	/* IRET reads its frame at ESP, not SP */
	assert_false(segment_raw_stack16(segments_espfix_stack(0)));
}

static void test_stack16(void **state)
{
	(void)state;
	assert_false(segment_raw_stack16(FLAT_KERNEL_DATA));
	uint64_t b0 = desc(0, 0xfffff, 0x3, 1, 0, 1, 0, 1);
	assert_true(segment_raw_stack16(b0));
	/* ... and its alias keeps B = 0: the guest's SP stays 16-bit. */
	assert_true(segment_raw_stack16(segments_stack_alias(b0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_encode_round_trip),
		cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_segment_base_matches_decode),
		cmocka_unit_test(test_aliasable_agrees_with_alias),
		cmocka_unit_test(test_kernel_data_usable_in_kernel_view_only),
		cmocka_unit_test(test_user_data_usable_in_both_views),
		cmocka_unit_test(test_flat_limit_clipped_below_vmm),
		cmocka_unit_test(test_clip_less_than_a_page_below_vmm),
		cmocka_unit_test(test_unaligned_base_limit_ends_below_vmm),
		cmocka_unit_test(test_small_segment_kept_exactly),
		cmocka_unit_test(test_segment_inside_vmm_not_present),
		cmocka_unit_test(test_code_mirrored_dpl0_nonconforming),
		cmocka_unit_test(test_readable_code_mirrored_as_read_only_data),
		cmocka_unit_test(test_system_descriptors_never_mirrored),
		cmocka_unit_test(test_expand_down_kept),
		cmocka_unit_test(test_not_present_stays_not_present),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_espfix),
		cmocka_unit_test(test_espfix_stack_descriptor),
		cmocka_unit_test(test_stack16),
	};
	return cmocka_run_group_tests_name("segments", tests, NULL, NULL);
}
