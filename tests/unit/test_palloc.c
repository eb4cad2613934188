/*
 * core/palloc: the physical frame allocator, run over a heap bitmap of
 * exactly PALLOC_WORDS(nframes) words so that AddressSanitizer sees any
 * access past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/palloc.h"

#define PG 4096ull

struct fixture {
	struct palloc pa;
	uint32_t *bitmap;
	uint32_t nframes;
};

/* The test's fixture, freed by the teardown even when an assertion fails. */
static struct fixture *live;

static struct fixture *fixture_new(uint32_t nframes)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	live = fx;
	assert_non_null(fx);
	fx->nframes = nframes;
	fx->bitmap = malloc(PALLOC_WORDS(nframes) * sizeof(uint32_t));
	assert_non_null(fx->bitmap);
	/* Garbage first: init must set every word itself. */
	memset(fx->bitmap, 0xa5, PALLOC_WORDS(nframes) * sizeof(uint32_t));
	palloc_init(&fx->pa, fx->bitmap, nframes);
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	free(fx->bitmap);
	free(fx);
	live = NULL;
}

static int teardown(void **state)
{
	(void)state;
	if (live)
		fixture_free(live);
	return 0;
}

/* Number of frames the bitmap says are free. */
static uint32_t count_free(const struct fixture *fx)
{
	uint32_t n = 0;
	for (uint32_t f = 0; f < fx->nframes; f++)
		n += !palloc_in_use(&fx->pa, f);
	return n;
}

/* nfree must always agree with the bitmap. */
static void assert_nfree_consistent(const struct fixture *fx)
{
	uint32_t counted = count_free(fx);
	if (counted != fx->pa.nfree)
		fail_msg("nfree is %u but the bitmap has %u free frames",
			 fx->pa.nfree, counted);
}

/* Frames [first, last) free and every other frame in use. */
static void assert_free_exactly(const struct fixture *fx, uint32_t first,
				uint32_t last)
{
	for (uint32_t f = 0; f < fx->nframes; f++) {
		int want_used = !(f >= first && f < last);
		if (palloc_in_use(&fx->pa, f) != want_used)
			fail_msg("frame %u is %s, want %s (free range [%u, %u))", f,
				 want_used ? "free" : "in use",
				 want_used ? "in use" : "free", first, last);
	}
	assert_int_equal(fx->pa.nfree, last - first);
}

static void test_palloc_init_marks_every_frame_used(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(100);
	assert_int_equal(fx->pa.nframes, 100);
	assert_int_equal(fx->pa.nfree, 0);
	assert_free_exactly(fx, 0, 0);
	/* The 28 bits of the last word past frame 99 are set too. */
	assert_int_equal(fx->bitmap[3], 0xffffffffu);
	uint32_t frame = 12345;
	assert_int_equal(palloc_alloc(&fx->pa, 0, &frame), -1);
	assert_int_equal(frame, 12345);
	fixture_free(fx);
}

static void test_palloc_in_use_out_of_range_reports_used(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 64 * PG);
	assert_int_equal(palloc_in_use(&fx->pa, 63), 0);
	assert_int_equal(palloc_in_use(&fx->pa, 64), 1);
	assert_int_equal(palloc_in_use(&fx->pa, UINT32_MAX), 1);
	fixture_free(fx);
}

static void test_palloc_add_usable_rounds_inward(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	/* [0x1800, 0x4800): frames 2 and 3 wholly inside, 1 and 4 partly. */
	palloc_add_usable(&fx->pa, 0x1800, 0x3000);
	assert_free_exactly(fx, 2, 4);
	/* A range inside one frame frees nothing. */
	palloc_add_usable(&fx->pa, 0x10100, 0xe00);
	assert_free_exactly(fx, 2, 4);
	/* Exactly one page-aligned frame. */
	palloc_add_usable(&fx->pa, 4 * PG, PG);
	assert_free_exactly(fx, 2, 5);
	/* One byte short of a frame at either end frees nothing extra. */
	palloc_add_usable(&fx->pa, 5 * PG, PG - 1);
	palloc_add_usable(&fx->pa, 6 * PG + 1, PG - 1);
	assert_free_exactly(fx, 2, 5);
	fixture_free(fx);
}

static void test_palloc_add_usable_zero_length_frees_nothing(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 0);
	palloc_add_usable(&fx->pa, 8 * PG, 0);
	assert_free_exactly(fx, 0, 0);
	fixture_free(fx);
}

static void test_palloc_add_usable_twice_counts_frames_once(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 10 * PG);
	palloc_add_usable(&fx->pa, 5 * PG, 10 * PG);
	assert_free_exactly(fx, 0, 15);
	fixture_free(fx);
}

static void test_palloc_reserve_rounds_outward(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 64 * PG);
	/* [0x2800, 0x3800) touches frames 2 and 3. */
	palloc_reserve(&fx->pa, 0x2800, 0x1000);
	for (uint32_t f = 0; f < 64; f++)
		if (palloc_in_use(&fx->pa, f) != (f == 2 || f == 3))
			fail_msg("after reserving [0x2800, 0x3800): frame %u %s", f,
				 palloc_in_use(&fx->pa, f) ? "in use" : "free");
	assert_int_equal(fx->pa.nfree, 62);
	/* One byte reserves its whole frame. */
	palloc_reserve(&fx->pa, 10 * PG + 4095, 1);
	assert_int_equal(palloc_in_use(&fx->pa, 10), 1);
	assert_int_equal(palloc_in_use(&fx->pa, 11), 0);
	assert_int_equal(fx->pa.nfree, 61);
	/* Zero length reserves nothing. */
	palloc_reserve(&fx->pa, 20 * PG, 0);
	assert_int_equal(palloc_in_use(&fx->pa, 20), 0);
	assert_int_equal(fx->pa.nfree, 61);
	assert_nfree_consistent(fx);
	fixture_free(fx);
}

static void test_palloc_reserve_after_add_and_reserve_already_used(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 16 * PG, 16 * PG);
	/* Overlaps the free range and used frames on both sides. */
	palloc_reserve(&fx->pa, 12 * PG, 8 * PG);
	assert_free_exactly(fx, 20, 32);
	palloc_reserve(&fx->pa, 28 * PG, 100 * PG);
	assert_free_exactly(fx, 20, 28);
	/* Reserving used frames again changes nothing. */
	palloc_reserve(&fx->pa, 0, 20 * PG);
	assert_free_exactly(fx, 20, 28);
	fixture_free(fx);
}

static void test_palloc_ranges_beyond_nframes_are_clipped(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(100);	/* not a multiple of 32 */
	palloc_add_usable(&fx->pa, 0, 1000 * PG);
	assert_free_exactly(fx, 0, 100);
	/* The padding bits past frame 99 stay set. */
	assert_int_equal(fx->bitmap[3] >> 4, 0x0fffffffu);
	palloc_add_usable(&fx->pa, 200 * PG, 50 * PG);	/* wholly beyond */
	assert_int_equal(fx->pa.nfree, 100);
	palloc_reserve(&fx->pa, 90 * PG, 1000 * PG);
	assert_free_exactly(fx, 0, 90);
	palloc_reserve(&fx->pa, 500 * PG, PG);		/* wholly beyond */
	assert_free_exactly(fx, 0, 90);
	fixture_free(fx);
}

static void test_palloc_add_usable_overflowing_range_does_not_free_frame0(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0xfffffffffffff000ull, 0x2000);
	assert_int_equal(palloc_in_use(&fx->pa, 0), 1);
	assert_int_equal(palloc_in_use(&fx->pa, 1), 1);
	assert_free_exactly(fx, 0, 0);
	palloc_add_usable(&fx->pa, UINT64_MAX, UINT64_MAX);
	assert_free_exactly(fx, 0, 0);
	fixture_free(fx);
}

/* A range wholly inside the last page of the 64-bit space: base + len does
 * not overflow, but rounding base up to a page boundary does. */
static void test_palloc_add_usable_in_top_page_does_not_free_low_frames(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0xfffffffffffff001ull, 1);
	if (fx->pa.nfree != 0)
		fail_msg("add_usable(0xfffffffffffff001, 1) freed %u frames "
			 "(frame 0 %s); want none", fx->pa.nfree,
			 palloc_in_use(&fx->pa, 0) ? "in use" : "free");
	assert_free_exactly(fx, 0, 0);
	fixture_free(fx);
}

static void test_palloc_reserve_overflowing_range_does_not_crash(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 64 * PG);
	palloc_reserve(&fx->pa, 0xfffffffffffff000ull, 0x2000);
	assert_free_exactly(fx, 0, 64);
	fixture_free(fx);
}

/* Reserving everything, spelled with a length that reaches the top of the
 * 64-bit space, must mark every frame in use. */
static void test_palloc_reserve_to_top_of_address_space_reserves_all(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 64 * PG);
	palloc_reserve(&fx->pa, 0, UINT64_MAX);
	if (fx->pa.nfree != 0)
		fail_msg("reserve(0, UINT64_MAX) left %u of 64 frames free",
			 fx->pa.nfree);

	palloc_add_usable(&fx->pa, 0, 64 * PG);
	palloc_reserve(&fx->pa, 8 * PG, UINT64_MAX - 8 * PG + 1);	/* wraps */
	if (fx->pa.nfree != 8)
		fail_msg("reserve(0x8000, 2^64 - 0x8000) left %u frames free, "
			 "want 8 (frames 0-7)", fx->pa.nfree);
	assert_free_exactly(fx, 0, 8);
	fixture_free(fx);
}

static void test_palloc_alloc_returns_every_free_frame_once_then_fails(void **state)
{
	(void)state;
	const uint32_t n = 200;
	struct fixture *fx = fixture_new(n);
	/* Free frames: 3..49 and 100..179 with holes at 120 and 150..159. */
	palloc_add_usable(&fx->pa, 3 * PG, 47 * PG);
	palloc_add_usable(&fx->pa, 100 * PG, 80 * PG);
	palloc_reserve(&fx->pa, 120 * PG, PG);
	palloc_reserve(&fx->pa, 150 * PG, 10 * PG);
	uint32_t expect_free = 47 + 80 - 1 - 10;
	assert_int_equal(fx->pa.nfree, expect_free);

	char seen[200] = { 0 };
	for (uint32_t i = 0; i < expect_free; i++) {
		uint32_t f = UINT32_MAX;
		if (palloc_alloc(&fx->pa, 0, &f) != 0)
			fail_msg("alloc %u of %u failed", i + 1, expect_free);
		assert_in_range(f, 0, n - 1);
		int was_free = (f >= 3 && f < 50) ||
			       (f >= 100 && f < 180 && f != 120 &&
				!(f >= 150 && f < 160));
		if (!was_free)
			fail_msg("alloc returned frame %u, which was never free", f);
		if (seen[f])
			fail_msg("alloc returned frame %u twice", f);
		seen[f] = 1;
		assert_int_equal(palloc_in_use(&fx->pa, f), 1);
		assert_int_equal(fx->pa.nfree, expect_free - i - 1);
	}
	uint32_t f = 0xdead;
	assert_int_equal(palloc_alloc(&fx->pa, 0, &f), -1);
	assert_int_equal(f, 0xdead);
	assert_int_equal(fx->pa.nfree, 0);
	fixture_free(fx);
}

static void test_palloc_alloc_respects_limit(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(128);
	palloc_add_usable(&fx->pa, 0, 128 * PG);
	palloc_reserve(&fx->pa, 0, 40 * PG);	/* free: 40..127 */

	/* Below 50: exactly frames 40..49, then nothing. */
	for (int i = 0; i < 10; i++) {
		uint32_t f;
		assert_int_equal(palloc_alloc(&fx->pa, 50, &f), 0);
		if (f < 40 || f >= 50)
			fail_msg("alloc with limit 50 returned frame %u", f);
	}
	uint32_t f;
	assert_int_equal(palloc_alloc(&fx->pa, 50, &f), -1);
	assert_int_equal(palloc_alloc(&fx->pa, 40, &f), -1);
	assert_int_equal(fx->pa.nfree, 78);

	/* A limit above nframes behaves as no limit. */
	assert_int_equal(palloc_alloc(&fx->pa, 100000, &f), 0);
	assert_in_range(f, 50, 127);
	/* Limit 0: no limit. */
	assert_int_equal(palloc_alloc(&fx->pa, 0, &f), 0);
	assert_in_range(f, 50, 127);
	assert_int_equal(fx->pa.nfree, 76);
	fixture_free(fx);
}

static void test_palloc_alloc_limit_below_search_hint_still_finds_low_frames(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(128);
	palloc_add_usable(&fx->pa, 0, 128 * PG);
	uint32_t f;
	/* Push the hint high by allocating up to frame 99. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(palloc_alloc(&fx->pa, 0, &f), 0);
	assert_int_equal(palloc_free(&fx->pa, 5), 0);
	assert_int_equal(palloc_alloc(&fx->pa, 10, &f), 0);
	assert_int_equal(f, 5);
	assert_int_equal(palloc_alloc(&fx->pa, 10, &f), -1);
	fixture_free(fx);
}

static void test_palloc_free_then_realloc(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(32);
	palloc_add_usable(&fx->pa, 0, 32 * PG);
	uint32_t f;
	for (int i = 0; i < 32; i++)
		assert_int_equal(palloc_alloc(&fx->pa, 0, &f), 0);
	assert_int_equal(palloc_alloc(&fx->pa, 0, &f), -1);

	assert_int_equal(palloc_free(&fx->pa, 17), 0);
	assert_int_equal(fx->pa.nfree, 1);
	assert_int_equal(palloc_in_use(&fx->pa, 17), 0);
	assert_int_equal(palloc_alloc(&fx->pa, 0, &f), 0);
	assert_int_equal(f, 17);
	assert_int_equal(fx->pa.nfree, 0);
	fixture_free(fx);
}

static void test_palloc_double_free_returns_error_and_keeps_nfree(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	palloc_add_usable(&fx->pa, 0, 64 * PG);
	uint32_t f;
	assert_int_equal(palloc_alloc(&fx->pa, 0, &f), 0);
	assert_int_equal(palloc_free(&fx->pa, f), 0);
	assert_int_equal(fx->pa.nfree, 64);
	assert_int_equal(palloc_free(&fx->pa, f), -1);
	assert_int_equal(fx->pa.nfree, 64);
	/* A frame that was never allocated. */
	assert_int_equal(palloc_free(&fx->pa, 40), -1);
	assert_int_equal(fx->pa.nfree, 64);
	assert_nfree_consistent(fx);
	fixture_free(fx);
}

static void test_palloc_free_out_of_range_returns_error(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(100);
	assert_int_equal(palloc_free(&fx->pa, 100), -1);
	assert_int_equal(palloc_free(&fx->pa, 127), -1);	/* padding bit */
	assert_int_equal(palloc_free(&fx->pa, UINT32_MAX), -1);
	assert_int_equal(fx->pa.nfree, 0);
	assert_int_equal(fx->bitmap[3], 0xffffffffu);
	fixture_free(fx);
}

static void test_palloc_alloc_contig_takes_highest_aligned_fit(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(256);
	palloc_add_usable(&fx->pa, 0, 256 * PG);
	palloc_reserve(&fx->pa, 250 * PG, PG);	/* spoils the top block */
	uint32_t first = 0;
	assert_int_equal(palloc_alloc_contig(&fx->pa, 16, 16, &first), 0);
	assert_int_equal(first, 224);	/* 240..255 holds frame 250 */
	for (uint32_t f = 224; f < 240; f++)
		assert_int_equal(palloc_in_use(&fx->pa, f), 1);
	assert_int_equal(fx->pa.nfree, 255 - 16);
	assert_nfree_consistent(fx);
	/* Bad arguments. */
	assert_int_equal(palloc_alloc_contig(&fx->pa, 0, 1, &first), -1);
	assert_int_equal(palloc_alloc_contig(&fx->pa, 4, 0, &first), -1);
	assert_int_equal(palloc_alloc_contig(&fx->pa, 4, 3, &first), -1);
	assert_int_equal(palloc_alloc_contig(&fx->pa, 257, 1, &first), -1);
	assert_int_equal(fx->pa.nfree, 255 - 16);
	fixture_free(fx);
}

static void test_palloc_alloc_contig_fails_when_no_run_fits(void **state)
{
	(void)state;
	struct fixture *fx = fixture_new(64);
	/* Free runs of 7 frames only. */
	for (uint32_t f = 0; f < 64; f += 8)
		palloc_add_usable(&fx->pa, (uint64_t)f * PG, 7 * PG);
	uint32_t first;
	assert_int_equal(palloc_alloc_contig(&fx->pa, 8, 1, &first), -1);
	assert_int_equal(fx->pa.nfree, 56);
	assert_int_equal(palloc_alloc_contig(&fx->pa, 7, 8, &first), 0);
	assert_int_equal(first, 56);
	assert_nfree_consistent(fx);
	fixture_free(fx);
}

/* ---- a random sequence against a shadow model ---- */

static uint64_t rng_state;

static uint32_t rng(void)	/* xorshift64*, fixed seed */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void test_palloc_random_operations_match_shadow_model(void **state)
{
	(void)state;
	enum { NF = 300 };
	struct fixture *fx = fixture_new(NF);
	char used[NF];
	memset(used, 1, sizeof(used));
	rng_state = 0x9e3779b97f4a7c15ull;

	for (int step = 0; step < 20000; step++) {
		uint32_t op = rng() % 10;
		uint64_t base = (uint64_t)(rng() % ((NF + 20) * 4096));
		uint64_t len = (uint64_t)(rng() % (40 * 4096));
		if (op == 0) {
			palloc_add_usable(&fx->pa, base, len);
			uint64_t first = (base + PG - 1) / PG, last = (base + len) / PG;
			for (uint64_t f = first; f < last && f < NF; f++)
				used[f] = 0;
		} else if (op == 1) {
			palloc_reserve(&fx->pa, base, len);
			if (len) {
				uint64_t first = base / PG;
				uint64_t last = (base + len + PG - 1) / PG;
				for (uint64_t f = first; f < last && f < NF; f++)
					used[f] = 1;
			}
		} else if (op <= 5) {
			uint32_t limit = rng() % 3 == 0 ? 0 : rng() % (NF + 50);
			uint32_t end = limit == 0 || limit > NF ? NF : limit;
			uint32_t f = UINT32_MAX;
			int r = palloc_alloc(&fx->pa, limit, &f);
			int any = 0;
			for (uint32_t i = 0; i < end; i++)
				any |= !used[i];
			if (r == 0) {
				if (f >= end || used[f])
					fail_msg("step %d: alloc(limit %u) returned frame "
						 "%u, which was %s", step, limit, f,
						 f >= end ? "past the limit" : "in use");
				used[f] = 1;
			} else if (any) {
				fail_msg("step %d: alloc(limit %u) failed with a free "
					 "frame below the limit", step, limit);
			}
		} else {
			uint32_t f = rng() % (NF + 10);
			int want = f < NF && used[f] ? 0 : -1;
			int r = palloc_free(&fx->pa, f);
			if (r != want)
				fail_msg("step %d: free(%u) returned %d, want %d", step,
					 f, r, want);
			if (r == 0)
				used[f] = 0;
		}

		uint32_t model_free = 0;
		for (uint32_t f = 0; f < NF; f++) {
			model_free += !used[f];
			if (palloc_in_use(&fx->pa, f) != used[f])
				fail_msg("step %d (op %u): frame %u is %s in the "
					 "allocator, %s in the model", step, op, f,
					 used[f] ? "free" : "in use",
					 used[f] ? "in use" : "free");
		}
		if (fx->pa.nfree != model_free)
			fail_msg("step %d (op %u): nfree %u, model has %u free", step,
				 op, fx->pa.nfree, model_free);
	}
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_palloc_init_marks_every_frame_used, teardown),
		cmocka_unit_test_teardown(test_palloc_in_use_out_of_range_reports_used, teardown),
		cmocka_unit_test_teardown(test_palloc_add_usable_rounds_inward, teardown),
		cmocka_unit_test_teardown(test_palloc_add_usable_zero_length_frees_nothing, teardown),
		cmocka_unit_test_teardown(test_palloc_add_usable_twice_counts_frames_once, teardown),
		cmocka_unit_test_teardown(test_palloc_reserve_rounds_outward, teardown),
		cmocka_unit_test_teardown(test_palloc_reserve_after_add_and_reserve_already_used, teardown),
		cmocka_unit_test_teardown(test_palloc_ranges_beyond_nframes_are_clipped, teardown),
		cmocka_unit_test_teardown(test_palloc_add_usable_overflowing_range_does_not_free_frame0, teardown),
		cmocka_unit_test_teardown(test_palloc_add_usable_in_top_page_does_not_free_low_frames, teardown),
		cmocka_unit_test_teardown(test_palloc_reserve_overflowing_range_does_not_crash, teardown),
		cmocka_unit_test_teardown(test_palloc_reserve_to_top_of_address_space_reserves_all, teardown),
		cmocka_unit_test_teardown(test_palloc_alloc_returns_every_free_frame_once_then_fails, teardown),
		cmocka_unit_test_teardown(test_palloc_alloc_respects_limit, teardown),
		cmocka_unit_test_teardown(test_palloc_alloc_limit_below_search_hint_still_finds_low_frames, teardown),
		cmocka_unit_test_teardown(test_palloc_free_then_realloc, teardown),
		cmocka_unit_test_teardown(test_palloc_double_free_returns_error_and_keeps_nfree, teardown),
		cmocka_unit_test_teardown(test_palloc_free_out_of_range_returns_error, teardown),
		cmocka_unit_test_teardown(test_palloc_alloc_contig_takes_highest_aligned_fit, teardown),
		cmocka_unit_test_teardown(test_palloc_alloc_contig_fails_when_no_run_fits, teardown),
		cmocka_unit_test_teardown(test_palloc_random_operations_match_shadow_model, teardown),
	};
	return cmocka_run_group_tests_name("palloc", tests, NULL, NULL);
}
