/*
 * The shadow page tables (core/shadow.c) over frames from a host arena:
 * kernel and user tables, invalidation as a TLB would, 4 MiB pieces, and no
 * frame leaked by a flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/shadow.h"

#define FRAMES 64
#define FRAME_BASE 0x100000u
static uint32_t arena[FRAMES][1024] __attribute__((aligned(4096)));
static int used[FRAMES];
static int in_use;

static uint32_t alloc_table(void)
{
	for (int i = 0; i < FRAMES; i++)
		if (!used[i]) {
			used[i] = 1;
			in_use++;
			memset(arena[i], 0, sizeof(arena[i]));
			return FRAME_BASE + (uint32_t)i * 4096;
		}
	return 0;
}

static void free_table(uint32_t frame)
{
	int i = (int)((frame - FRAME_BASE) / 4096);
	assert_true(i >= 0 && i < FRAMES && used[i]);	/* no double free */
	used[i] = 0;
	in_use--;
}

static uint32_t *table(uint32_t frame)
{
	return arena[(frame - FRAME_BASE) / 4096];
}

#define VMM_PDE 0xfc0000e3u
static void init_directory(uint32_t *pd)
{
	for (int i = SHADOW_GUEST_PDES; i < 1024; i++)
		pd[i] = VMM_PDE;
}

static const struct shadow_ops ops = { alloc_table, free_table, table, init_directory,
				       NULL, NULL };
static struct shadow s;

static int setup(void **state)
{
	(void)state;
	memset(used, 0, sizeof(used));
	in_use = 0;
	assert_int_equal(shadow_init(&s, &ops), 0);
	return 0;
}

#define P 1u
#define W 2u
#define U 4u

static void test_directories_carry_vmm_space(void **state)
{
	(void)state;
	for (unsigned which = 0; which < 2; which++) {
		uint32_t *pd = table(s.pd[which]);
		assert_int_equal(pd[1008], VMM_PDE);
		assert_int_equal(pd[1023], VMM_PDE);
		assert_int_equal(pd[0], 0);
	}
}

static void test_map_in_one_table_only(void **state)
{
	(void)state;
	assert_int_equal(shadow_map(&s, SHADOW_KERNEL, 0xc0001000, 0x5000000, 1, 0, 0), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0x5000000 | P | W | U);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0xc0001000), 0);
	assert_int_equal(shadow_map(&s, SHADOW_USER, 0x08048000, 0x6000000, 0, 0, 0), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0x6000000 | P | U);
}

static void test_vmm_space_refused(void **state)
{
	(void)state;
	assert_int_equal(shadow_map(&s, SHADOW_KERNEL, 0xfc000000, 0x5000000, 1, 0, 0), -1);
	assert_int_equal(table(s.pd[SHADOW_KERNEL])[1008], VMM_PDE);
}

static void test_invalidate_drops_both(void **state)
{
	(void)state;
	shadow_map(&s, SHADOW_KERNEL, 0x1000, 0x5000000, 1, 0, 0);
	shadow_map(&s, SHADOW_USER, 0x1000, 0x5000000, 1, 0, 0);
	shadow_map(&s, SHADOW_KERNEL, 0x2000, 0x5001000, 1, 0, 0);
	assert_int_equal(shadow_invalidate(&s, 0x1000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x1000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x1000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x2000), 0);
}

static void test_invalidate_large_drops_every_piece(void **state)
{
	(void)state;
	shadow_map(&s, SHADOW_KERNEL, 0x800000, 0x5000000, 1, 1, 0);
	shadow_map(&s, SHADOW_KERNEL, 0xbff000, 0x53ff000, 1, 1, 0);
	assert_int_equal(shadow_invalidate(&s, 0x900000), 1);	/* elsewhere in the 4 MiB */
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x800000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbff000), 0);
}

static void test_flush_frees_every_table(void **state)
{
	(void)state;
	int before = in_use;		/* the two directories */
	for (uint32_t va = 0; va < 0x10000000; va += 0x400000)
		shadow_map(&s, va & 0x400000 ? SHADOW_USER : SHADOW_KERNEL, va, 0x5000000, 1, 0, 0);
	assert_true(in_use > before);
	shadow_flush(&s);
	assert_int_equal(in_use, before);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0), 0);
	assert_int_equal(table(s.pd[SHADOW_USER])[1008], VMM_PDE);
}

static void test_cr3_load_keeps_only_global_entries(void **state)
{
	(void)state;
	int before = in_use;
	shadow_map(&s, SHADOW_KERNEL, 0xc0001000, 0x5001000, 1, 0, 1);	/* global */
	shadow_map(&s, SHADOW_KERNEL, 0xc0002000, 0x5002000, 1, 0, 0);	/* same table, not */
	shadow_map(&s, SHADOW_KERNEL, 0x08048000, 0x5003000, 1, 0, 0);	/* a user page */
	shadow_map(&s, SHADOW_USER, 0x08048000, 0x5003000, 1, 0, 0);
	shadow_map(&s, SHADOW_KERNEL, 0xc0800000, 0x5400000, 1, 1, 1);	/* a global 4 MiB piece */
	shadow_flush_nonglobal(&s, NULL);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0002000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x08048000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0800000), 0);
	/* Every table stays, emptied of its non-global entries, for the next
	 * address space to fill again without allocating and zeroing. */
	assert_int_equal(in_use, before + 4);
	/* The kept 4 MiB piece is still dropped whole by invlpg. */
	assert_int_equal(shadow_invalidate(&s, 0xc0900000), 1);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0800000), 0);
	/* A full flush (CR4.PGE toggled) drops the global ones too. */
	shadow_flush(&s);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0);
	assert_int_equal(in_use, before);
	/* And a later CR3 load does not think the slot still global. */
	shadow_map(&s, SHADOW_KERNEL, 0xc0003000, 0x5001000, 1, 0, 0);
	shadow_flush_nonglobal(&s, NULL);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0003000), 0);
	assert_int_equal(in_use, before + 1);
	/* Filled again without a new table, and emptied again. */
	shadow_map(&s, SHADOW_KERNEL, 0xc03ff000, 0x5001000, 1, 0, 0);
	assert_int_equal(in_use, before + 1);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc03ff000), 0);
	shadow_flush_nonglobal(&s, NULL);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc03ff000), 0);
}

/* The CPU's accessed flag in a shadow entry: what the flush lists. */
static void touch(unsigned which, uint32_t va)
{
	uint32_t pde = table(s.pd[which])[va >> 22];
	table(pde & 0xfffff000u)[(va >> 12) & 1023] |= 0x20;
}

static int listed(const uint32_t *pages, unsigned n, uint32_t page)
{
	for (unsigned i = 0; i < n; i++)
		if (pages[i] == page)
			return 1;
	return 0;
}

/* A CR3 load lists the non-global entries it drops that the CPU used
 * (accessed), once each: what the working set maps again later. */
static void check_cr3_load_lists_used_entries(unsigned extra_fills)
{
	shadow_map(&s, SHADOW_USER, 0x08048000, 0x5003000, 0, 0, 0);
	shadow_map(&s, SHADOW_USER, 0x08048000, 0x5003000, 1, 0, 0);	/* filled twice */
	shadow_map(&s, SHADOW_KERNEL, 0x08048000, 0x5003000, 1, 0, 0);
	shadow_map(&s, SHADOW_USER, 0xbffff000, 0x5004000, 1, 0, 0);
	shadow_map(&s, SHADOW_USER, 0x0804a000, 0x5005000, 1, 0, 0);	/* never used */
	shadow_map(&s, SHADOW_KERNEL, 0xc0001000, 0x5001000, 1, 0, 1);	/* global */
	shadow_map(&s, SHADOW_USER, 0x0804b000, 0x5006000, 1, 0, 0);
	shadow_invalidate(&s, 0x0804b000);				/* invlpg'd */
	for (unsigned i = 0; i < extra_fills; i++)	/* past the list: the ranges */
		shadow_map(&s, SHADOW_USER, 0x10000000 + i * 4096, 0x5000000, 1, 0, 0);
	touch(SHADOW_USER, 0x08048000);
	touch(SHADOW_KERNEL, 0x08048000);
	touch(SHADOW_USER, 0xbffff000);
	touch(SHADOW_KERNEL, 0xc0001000);
	uint32_t pages[8];
	struct shadow_dropped dropped = { .page = pages, .max = 8, .count = 99 };
	shadow_flush_nonglobal(&s, &dropped);
	assert_int_equal(dropped.count, 3);
	assert_true(listed(pages, 3, 0x08048000 | SHADOW_USER));
	assert_true(listed(pages, 3, 0x08048000 | SHADOW_KERNEL));
	assert_true(listed(pages, 3, 0xbffff000 | SHADOW_USER));
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x0804a000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x10000000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0);
	/* The next load lists only what was filled since. */
	shadow_map(&s, SHADOW_USER, 0x08048000, 0x5003000, 1, 0, 0);
	touch(SHADOW_USER, 0x08048000);
	shadow_flush_nonglobal(&s, &dropped);
	assert_int_equal(dropped.count, 1);
	assert_int_equal(pages[0], 0x08048000 | SHADOW_USER);
}

static void test_cr3_load_lists_used_entries(void **state)
{
	(void)state;
	check_cr3_load_lists_used_entries(0);
}

static void test_cr3_load_lists_used_entries_past_the_list(void **state)
{
	(void)state;
	check_cr3_load_lists_used_entries(SHADOW_FILLED_MAX);
}

/* What map_working_set does for a page (core/mmu.c). */
static void map_again(unsigned which, uint32_t va, uint32_t host_pa, int writable)
{
	uint32_t *table = shadow_again_table(&s, which, va >> 22);
	assert_non_null(table);
	shadow_again_put(&s, which, table, va, host_pa, writable);
}

/* A page mapped again is a non-global user page, writable or not, marked
 * as made ahead of use; its table, once readied, holds it against the
 * reclaiming of emptied tables, and goes at the next CR3 load. */
static void test_map_again(void **state)
{
	(void)state;
	map_again(SHADOW_USER, 0x08048000, 0x5003000, 0);
	map_again(SHADOW_KERNEL, 0xbffff000, 0x5004fff, 1);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0x5003000 | P | U | 0x400);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbffff000),
			 0x5004000 | P | W | U | 0x400);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x08048000), 0);
	assert_null(shadow_again_table(&s, SHADOW_USER, SHADOW_GUEST_PDES));	/* the VMM's */
	assert_int_equal(table(s.pd[SHADOW_USER])[SHADOW_GUEST_PDES], VMM_PDE);
	/* Out of frames: the tables kept empty give way, not these. */
	for (uint32_t slot = 100; slot < 100 + FRAMES; slot++)
		shadow_map(&s, SHADOW_KERNEL, slot << 22, 0x5000000, 1, 0, 0);
	assert_null(shadow_again_table(&s, SHADOW_USER, 99));
	assert_int_not_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbffff000), 0);
	/* An existing table is readied without a frame. */
	assert_non_null(shadow_again_table(&s, SHADOW_USER, 0x08049000 >> 22));
	shadow_flush_nonglobal(&s, NULL);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbffff000), 0);
}

/* The entries shadow_again_put made are counted as such when a CR3 load
 * drops them, and as used if the CPU used them; a table invlpg dropped
 * whole (4 MiB) since is passed over. */
static void test_cr3_load_counts_entries_mapped_again(void **state)
{
	(void)state;
	map_again(SHADOW_USER, 0x08048000, 0x5003000, 0);
	map_again(SHADOW_USER, 0x08049000, 0x5004000, 1);
	map_again(SHADOW_KERNEL, 0xbffff000, 0x5005000, 1);
	shadow_map(&s, SHADOW_USER, 0x0804a000, 0x5006000, 1, 0, 0);
	shadow_map(&s, SHADOW_KERNEL, 0x00800000, 0x5400000, 1, 1, 0);	/* 4 MiB piece */
	map_again(SHADOW_KERNEL, 0x00801000, 0x5401000, 1);
	assert_int_equal(shadow_invalidate(&s, 0x00800000), 1);
	touch(SHADOW_USER, 0x08049000);
	touch(SHADOW_USER, 0x0804a000);
	uint32_t pages[8];
	struct shadow_dropped dropped = { .page = pages, .max = 8 };
	shadow_flush_nonglobal(&s, &dropped);
	assert_int_equal(dropped.again, 3);
	assert_int_equal(dropped.again_used, 1);
	assert_int_equal(dropped.count, 2);
	assert_true(listed(pages, 2, 0x08049000 | SHADOW_USER));
	assert_true(listed(pages, 2, 0x0804a000 | SHADOW_USER));
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08049000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbffff000), 0);
	/* A list too short keeps what fits and counts on. */
	map_again(SHADOW_USER, 0x08048000, 0x5003000, 0);
	map_again(SHADOW_USER, 0x08049000, 0x5004000, 1);
	touch(SHADOW_USER, 0x08048000);
	touch(SHADOW_USER, 0x08049000);
	dropped.max = 1;
	shadow_flush_nonglobal(&s, &dropped);
	assert_int_equal(dropped.count, 1);
	assert_int_equal(dropped.again, 2);
	assert_int_equal(dropped.again_used, 2);
	assert_int_equal(pages[0], 0x08048000 | SHADOW_USER);
}

/* A CR3 load that goes by the list leaves its tables unmarked: kept
 * empty, they give way when the allocator runs dry. */
static void test_tables_emptied_by_the_list_are_reclaimed(void **state)
{
	(void)state;
	for (uint32_t slot = 0; slot < 10; slot++)
		assert_int_equal(shadow_map(&s, SHADOW_USER, slot << 22, 0x5000000, 1, 0, 0), 0);
	shadow_flush_nonglobal(&s, NULL);
	unsigned mapped = 0;
	for (uint32_t slot = 100; slot < 100 + FRAMES; slot++)
		mapped += shadow_map(&s, SHADOW_KERNEL, slot << 22, 0x5000000, 1, 0, 0) == 0;
	assert_int_equal(mapped, FRAMES - 2);	/* all but the directories */
	for (uint32_t slot = 0; slot < 10; slot++)
		assert_int_equal(shadow_lookup(&s, SHADOW_USER, slot << 22), 0);
}

/*
 * Past the list, a CR3 load goes by the ranges, which start from the
 * list when it overflows: the entries filled before that, in tables the
 * later fills never touch, go too; global ones stay.  And the next load
 * goes by the list again.  A page listed in a table invlpg dropped whole
 * since is passed over, whatever fills its slot later.
 */
static void test_cr3_load_past_the_list_clears_what_the_list_held(void **state)
{
	(void)state;
	shadow_map(&s, SHADOW_USER, 0x08048000, 0x5003000, 1, 0, 0);
	map_again(SHADOW_KERNEL, 0xbffff000, 0x5004000, 1);
	shadow_map(&s, SHADOW_KERNEL, 0xc0001000, 0x5001000, 1, 0, 1);	/* global */
	shadow_map(&s, SHADOW_KERNEL, 0xc0002000, 0x5002000, 1, 0, 0);	/* its table */
	shadow_map(&s, SHADOW_KERNEL, 0x00800000, 0x5400000, 1, 1, 0);	/* 4 MiB piece */
	shadow_invalidate(&s, 0x00900000);				/* dropped whole */
	shadow_map(&s, SHADOW_KERNEL, 0x00a00000, 0x5600000, 1, 0, 1);	/* its slot: global */
	for (unsigned i = 0; i < SHADOW_FILLED_MAX; i++)	/* past the list */
		shadow_map(&s, SHADOW_USER, 0x10000000 + i * 4096, 0x5000000, 1, 0, 0);
	shadow_flush_nonglobal(&s, NULL);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x08048000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xbffff000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0002000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x10000000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x10000000 + 255 * 4096), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0x00a00000), 0);
	/* The list again, then past it again, in the same tables. */
	shadow_map(&s, SHADOW_USER, 0x0804f000, 0x5003000, 1, 0, 0);
	shadow_map(&s, SHADOW_KERNEL, 0xc03ff000, 0x5002000, 1, 0, 0);
	shadow_flush_nonglobal(&s, NULL);
	assert_int_equal(shadow_lookup(&s, SHADOW_USER, 0x0804f000), 0);
	assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc03ff000), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_KERNEL, 0xc0001000), 0);
	for (unsigned i = 0; i <= SHADOW_FILLED_MAX; i++)
		shadow_map(&s, SHADOW_KERNEL, 0xc0000000 + i * 4096, 0x5000000, 1, 0, i == 1);
	shadow_flush_nonglobal(&s, NULL);
	for (unsigned i = 0; i <= SHADOW_FILLED_MAX; i++)
		if ((shadow_lookup(&s, SHADOW_KERNEL, 0xc0000000 + i * 4096) != 0) != (i == 1))
			fail_msg("0xc%07x: %s after a CR3 load", i * 4096,
				 i == 1 ? "dropped, though global" : "kept");
}

/* Tables kept empty give way when the allocator runs dry. */
static void test_kept_tables_are_reclaimed(void **state)
{
	(void)state;
	uint32_t va;
	for (va = 0; va < 0xf0000000; va += 0x400000)
		if (shadow_map(&s, SHADOW_KERNEL, va, 0x5000000, 1, 0, 0))
			break;
	uint32_t reached = va;
	shadow_flush_nonglobal(&s, NULL);		/* all kept, all empty */
	assert_int_equal(shadow_map(&s, SHADOW_USER, 0x1000, 0x5000000, 1, 0, 0), 0);
	assert_int_not_equal(shadow_lookup(&s, SHADOW_USER, 0x1000), 0);
	for (va = 0; va < reached; va += 0x400000)
		assert_int_equal(shadow_lookup(&s, SHADOW_KERNEL, va), 0);
}

static void test_out_of_tables(void **state)
{
	(void)state;
	int failed = 0;
	for (uint32_t va = 0; va < 0xf0000000 && !failed; va += 0x400000)
		failed = shadow_map(&s, SHADOW_KERNEL, va, 0x5000000, 1, 0, 0) != 0;
	assert_true(failed);		/* reported, not a crash */
	shadow_flush(&s);
	assert_int_equal(in_use, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_directories_carry_vmm_space, setup),
		cmocka_unit_test_setup(test_map_in_one_table_only, setup),
		cmocka_unit_test_setup(test_vmm_space_refused, setup),
		cmocka_unit_test_setup(test_invalidate_drops_both, setup),
		cmocka_unit_test_setup(test_invalidate_large_drops_every_piece, setup),
		cmocka_unit_test_setup(test_cr3_load_keeps_only_global_entries, setup),
		cmocka_unit_test_setup(test_cr3_load_lists_used_entries, setup),
		cmocka_unit_test_setup(test_cr3_load_lists_used_entries_past_the_list, setup),
		cmocka_unit_test_setup(test_map_again, setup),
		cmocka_unit_test_setup(test_cr3_load_counts_entries_mapped_again, setup),
		cmocka_unit_test_setup(test_tables_emptied_by_the_list_are_reclaimed, setup),
		cmocka_unit_test_setup(test_cr3_load_past_the_list_clears_what_the_list_held, setup),
		cmocka_unit_test_setup(test_flush_frees_every_table, setup),
		cmocka_unit_test_setup(test_out_of_tables, setup),
		cmocka_unit_test_setup(test_kept_tables_are_reclaimed, setup),
	};
	return cmocka_run_group_tests_name("shadow", tests, NULL, NULL);
}
