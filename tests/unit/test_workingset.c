/*
 * The working sets of recent address spaces (core/workingset.c): a list per
 * CR3, taken once, the least recently recorded one reused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/workingset.h"

static struct workingset ws;

static int setup(void **state)
{
	(void)state;
	memset(&ws, 0, sizeof(ws));
	return 0;
}

static void record(uint32_t cr3, unsigned pages)
{
	struct workingset_space *sp = workingset_record(&ws, cr3);
	for (unsigned i = 0; i < pages; i++)
		sp->page[i] = cr3 + i * 4096;
	sp->count = pages;
}

static void test_take_gives_the_space_its_pages_once(void **state)
{
	(void)state;
	unsigned count;
	record(0x1000, 3);
	record(0x2000, 5);
	const uint32_t *pages = workingset_take(&ws, 0x1000, &count);
	assert_non_null(pages);
	assert_int_equal(count, 3);
	assert_int_equal(pages[2], 0x1000 + 2 * 4096);
	assert_null(workingset_take(&ws, 0x1000, &count));	/* taken */
	assert_int_equal(count, 0);
	assert_null(workingset_take(&ws, 0x3000, &count));	/* never recorded */
	pages = workingset_take(&ws, 0x2000, &count);
	assert_int_equal(count, 5);
}

static void test_recording_again_replaces(void **state)
{
	(void)state;
	unsigned count;
	record(0x1000, 3);
	record(0x1000, 1);
	workingset_take(&ws, 0x1000, &count);
	assert_int_equal(count, 1);
	assert_null(workingset_take(&ws, 0x1000, &count));
}

static void test_least_recently_recorded_goes(void **state)
{
	(void)state;
	unsigned count;
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++)
		record(i << 12, 1);
	record(1 << 12, 2);			/* the oldest, recorded again */
	record(0x100000, 1);			/* evicts the now oldest: 2 */
	assert_null(workingset_take(&ws, 2 << 12, &count));
	assert_non_null(workingset_take(&ws, 1 << 12, &count));
	assert_int_equal(count, 2);
	for (uint32_t i = 3; i <= WORKINGSET_SPACES; i++)
		assert_non_null(workingset_take(&ws, i << 12, &count));
	assert_non_null(workingset_take(&ws, 0x100000, &count));
}

static void test_empty_lists_are_reused_first(void **state)
{
	(void)state;
	unsigned count;
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++)
		record(i << 12, 1);
	workingset_take(&ws, 5 << 12, &count);	/* its list is free now */
	record(0x100000, 1);
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++)
		if (i != 5)
			assert_non_null(workingset_take(&ws, i << 12, &count));
	assert_non_null(workingset_take(&ws, 0x100000, &count));
}

/* A context switch records the space left into the list its load took:
 * every other list stays.  Unless another space has taken that list over
 * since: then it is left to that one. */
static void test_record_after_take_reuses_that_list(void **state)
{
	(void)state;
	unsigned count;
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++)
		record(i << 12, i);
	workingset_take(&ws, 2 << 12, &count);	/* empty, and older */
	const uint32_t *pages = workingset_take(&ws, 3 << 12, &count);
	assert_ptr_equal(workingset_record(&ws, 3 << 12)->page, pages);
	record(2 << 12, 2);
	record(3 << 12, 2);
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++) {
		assert_non_null(workingset_take(&ws, i << 12, &count));
		assert_int_equal(count, i == 2 || i == 3 ? 2 : i);
	}
	/* Taken, then reused for another space: not the taken one's now. */
	for (uint32_t i = 1; i <= WORKINGSET_SPACES; i++)
		record(i << 12, i);
	workingset_take(&ws, 5 << 12, &count);
	record(0x100000, 1);			/* the empty list: 5's */
	record(5 << 12, 3);
	assert_non_null(workingset_take(&ws, 0x100000, &count));
	assert_int_equal(count, 1);
	assert_non_null(workingset_take(&ws, 5 << 12, &count));
	assert_int_equal(count, 3);
}

/* The list comes back in slot order (va >> 22), whatever order the pages
 * were recorded in, and in the order recorded within a slot: every page
 * once, none lost. */
static void test_take_sorts_the_list_by_slot(void **state)
{
	(void)state;
	static const uint32_t recorded[] = {
		0xb7feb001, 0xbf945001, 0x09786001, 0xbf945000, 0x08049001,
		0x08075001, 0x0804c001, 0x08048000, 0xbf945000, 0x00000001,
	};
	const unsigned n = sizeof(recorded) / sizeof(recorded[0]);
	struct workingset_space *sp = workingset_record(&ws, 0x1000);
	memcpy(sp->page, recorded, sizeof(recorded));
	sp->count = n;
	unsigned count;
	const uint32_t *pages = workingset_take(&ws, 0x1000, &count);
	assert_int_equal(count, n);
	for (unsigned i = 1; i < n; i++)
		if (pages[i - 1] >> 22 > pages[i] >> 22)
			fail_msg("page %u (%08x) before page %u (%08x)", i - 1, pages[i - 1],
				 i, pages[i]);
	/* 0x08049001, 0x0804c001 and 0x08048000 were recorded in this order. */
	unsigned a = n, b = n, c = n;
	for (unsigned i = 0; i < n; i++) {
		a = pages[i] == 0x08049001 ? i : a;
		b = pages[i] == 0x0804c001 ? i : b;
		c = pages[i] == 0x08048000 ? i : c;
	}
	if (!(a < b && b < c))
		fail_msg("within slot 0x20: at %u, %u, %u, not in the order recorded", a, b, c);
	for (unsigned i = 0; i < n; i++) {
		unsigned in_list = 0, in_recorded = 0;
		for (unsigned j = 0; j < n; j++) {
			in_list += pages[j] == recorded[i];
			in_recorded += recorded[j] == recorded[i];
		}
		if (in_list != in_recorded)
			fail_msg("%08x: %u times in the list, recorded %u times", recorded[i],
				 in_list, in_recorded);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_take_gives_the_space_its_pages_once, setup),
		cmocka_unit_test_setup(test_recording_again_replaces, setup),
		cmocka_unit_test_setup(test_least_recently_recorded_goes, setup),
		cmocka_unit_test_setup(test_empty_lists_are_reused_first, setup),
		cmocka_unit_test_setup(test_take_sorts_the_list_by_slot, setup),
		cmocka_unit_test_setup(test_record_after_take_reuses_that_list, setup),
	};
	return cmocka_run_group_tests_name("workingset", tests, NULL, NULL);
}
