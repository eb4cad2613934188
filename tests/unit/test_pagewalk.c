/*
 * The guest page-table walk (core/pagewalk.c) over a simulated guest RAM:
 * translations, every fault with its error code, and the A/D flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/pagewalk.h"

#define RAM_SIZE (8u << 20)
#define P 0x001u
#define W 0x002u
#define U 0x004u
#define A 0x020u
#define D 0x040u
#define PS 0x080u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static uint8_t *map_ram(uint32_t pa, uint32_t *len)
{
	*len = RAM_SIZE - pa;
	return ram + pa;
}

static const struct guest_mem gm = { RAM_SIZE, 0, map_ram };

/* The tables: directory at 0x1000, one page table at 0x2000. */
#define PD 0x1000u
#define PT 0x2000u

static uint32_t *entry(uint32_t gpa)
{
	return (uint32_t *)(ram + gpa);
}

static void set_pde(uint32_t va, uint32_t value)
{
	*entry(PD + (va >> 22) * 4) = value;
}

static void set_pte(uint32_t va, uint32_t value)
{
	*entry(PT + ((va >> 12) & 1023) * 4) = value;
}

static uint32_t pte_of(uint32_t va)
{
	return *entry(PT + ((va >> 12) & 1023) * 4);
}

static const struct paging_mode mode = { .cr3 = PD, .pse = 1, .wp = 1 };

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	set_pde(0x400000, PT | P | W | U);
	return 0;
}

static enum walk_result walk(uint32_t va, unsigned access, struct walk *w)
{
	return guest_walk(&gm, &mode, va, access, 1, w);
}

static void test_translates_4k_page(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | W | U);
	assert_int_equal(walk(0x401abc, 0, &w), WALK_OK);
	assert_int_equal(w.gpa, 0x300abc);
	assert_int_equal(w.page_size, 4096);
	assert_true(w.writable && w.user);
}

static void test_not_present_errors(void **state)
{
	(void)state;
	struct walk w;
	assert_int_equal(walk(0x401000, 0, &w), WALK_FAULT);
	assert_int_equal(w.error, 0);				/* PTE not present */
	assert_int_equal(walk(0x800000, ACCESS_WRITE | ACCESS_USER, &w), WALK_FAULT);
	assert_int_equal(w.error, PF_WRITE | PF_USER);		/* PDE not present */
}

static void test_user_access_to_supervisor_page(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | W);			/* U/S=0 */
	assert_int_equal(walk(0x401000, ACCESS_USER, &w), WALK_FAULT);
	assert_int_equal(w.error, PF_PRESENT | PF_USER);
	assert_int_equal(walk(0x401000, ACCESS_USER | ACCESS_WRITE, &w), WALK_FAULT);
	assert_int_equal(w.error, PF_PRESENT | PF_WRITE | PF_USER);
	assert_int_equal(walk(0x401000, 0, &w), WALK_OK);	/* the kernel may */
	assert_false(w.user);
}

static void test_user_bit_needed_at_both_levels(void **state)
{
	(void)state;
	struct walk w;
	set_pde(0x400000, PT | P | W);				/* directory U/S=0 */
	set_pte(0x401000, 0x300000 | P | W | U);
	assert_int_equal(walk(0x401000, ACCESS_USER, &w), WALK_FAULT);
	assert_int_equal(w.error, PF_PRESENT | PF_USER);
}

static void test_read_only_page_and_wp(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | U);			/* read-only */
	assert_int_equal(walk(0x401000, ACCESS_USER | ACCESS_WRITE, &w), WALK_FAULT);
	assert_int_equal(w.error, PF_PRESENT | PF_WRITE | PF_USER);
	assert_int_equal(walk(0x401000, ACCESS_WRITE, &w), WALK_FAULT);	/* WP=1 */
	assert_int_equal(w.error, PF_PRESENT | PF_WRITE);
	struct paging_mode no_wp = mode;
	no_wp.wp = 0;
	assert_int_equal(guest_walk(&gm, &no_wp, 0x401000, ACCESS_WRITE, 1, &w), WALK_OK);
	assert_true(w.writable);		/* a supervisor write is allowed */
	assert_int_equal(walk(0x401000, ACCESS_USER, &w), WALK_OK);
	assert_false(w.writable);
}

static void test_accessed_and_dirty_flags(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | W | U);
	assert_int_equal(walk(0x401000, 0, &w), WALK_OK);
	assert_int_equal(pte_of(0x401000) & (A | D), A);	/* a read: A only */
	assert_true(*entry(PD + 4) & A);
	assert_false(w.dirty);
	assert_int_equal(walk(0x401000, ACCESS_WRITE, &w), WALK_OK);
	assert_int_equal(pte_of(0x401000) & (A | D), A | D);
	assert_true(w.dirty);
}

static void test_no_flags_without_set_ad_or_on_fault(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | U);
	assert_int_equal(guest_walk(&gm, &mode, 0x401000, ACCESS_WRITE, 0, &w), WALK_FAULT);
	assert_int_equal(guest_walk(&gm, &mode, 0x401000, 0, 0, &w), WALK_OK);
	assert_int_equal(pte_of(0x401000) & (A | D), 0);
	assert_int_equal(walk(0x401000, ACCESS_WRITE, &w), WALK_FAULT);
	assert_int_equal(pte_of(0x401000) & D, 0);		/* a fault sets nothing */
}

static void test_pde_accessed_on_pte_fault(void **state)
{
	(void)state;
	struct walk w;
	/* The PDE was used to reach a PTE that is not present: its A is set
	 * (the CPU used it), the PTE's is not. */
	assert_int_equal(walk(0x401000, 0, &w), WALK_FAULT);
	assert_true(*entry(PD + 4) & A);
	assert_int_equal(pte_of(0x401000) & A, 0);
	/* Not on a walk without set_ad, which only looks. */
	set_pde(0x400000, PT | P | W | U);
	assert_int_equal(guest_walk(&gm, &mode, 0x401000, 0, 0, &w), WALK_FAULT);
	assert_int_equal(*entry(PD + 4) & A, 0);
	/* A not-present PDE is not used. */
	assert_int_equal(walk(0x800000, 0, &w), WALK_FAULT);
	assert_int_equal(*entry(PD + 8) & A, 0);
}

/* The walk names the entries it changed, so the VMM can mirror them when
 * they share a page with the guest's GDT (found by fuzz_emulate). */
static void test_walk_names_the_entries_it_set(void **state)
{
	(void)state;
	struct walk w;
	set_pte(0x401000, 0x300000 | P | W | U);
	assert_int_equal(walk(0x401000, ACCESS_WRITE, &w), WALK_OK);
	assert_int_equal(w.nupdated, 2);
	assert_int_equal(w.updated[0], PD + 4);
	assert_int_equal(w.updated[1], PT + 1 * 4);
	assert_int_equal(walk(0x401000, ACCESS_WRITE, &w), WALK_OK);
	assert_int_equal(w.nupdated, 0);		/* all set already */
	/* A fault after the PDE: the PDE alone. */
	set_pde(0x400000, PT | P | W | U);
	set_pte(0x402000, 0);
	assert_int_equal(walk(0x402000, 0, &w), WALK_FAULT);
	assert_int_equal(w.nupdated, 1);
	assert_int_equal(w.updated[0], PD + 4);
}

static void test_large_pages(void **state)
{
	(void)state;
	struct walk w;
	set_pde(0x800000, 0x400000 | P | W | U | PS);
	assert_int_equal(walk(0x9abcde, ACCESS_WRITE, &w), WALK_OK);
	assert_int_equal(w.gpa, 0x400000 + 0x1abcde);
	assert_int_equal(w.page_size, 4u << 20);
	assert_int_equal(*entry(PD + 2 * 4) & (A | D), A | D);
	/* Without CR4.PSE the PS bit is ignored: the entry names a table. */
	struct paging_mode no_pse = mode;
	no_pse.pse = 0;
	assert_int_equal(guest_walk(&gm, &no_pse, 0x9abcde, 0, 1, &w), WALK_FAULT);
}

static void test_table_outside_ram(void **state)
{
	(void)state;
	struct walk w;
	set_pde(0xc00000, 0x7f000000 | P | W | U);
	assert_int_equal(walk(0xc00000, 0, &w), WALK_BAD_TABLE);
	struct paging_mode far = mode;
	far.cr3 = 0x7f000000;
	assert_int_equal(guest_walk(&gm, &far, 0, 0, 1, &w), WALK_BAD_TABLE);
}

/*
 * The cheap questions below against the walk itself, over every
 * combination of the entry flags that matter (P W U A D PS G in the PDE
 * and in the PTE of 0x401000), each access and each paging mode (PSE, WP,
 * PGE): check gets each case with the entries written, says yes or no,
 * and fails with the case named if it disagrees with the walk.  The count
 * of cases and of yeses, so that a test can tell it asked something.
 */
typedef int (*walk_case)(const struct paging_mode *md, uint32_t pde, uint32_t pte,
			 unsigned access);

static void for_every_walk_case(walk_case check, unsigned *cases, unsigned *yes)
{
	static const uint32_t flags[] = { P, W, U, A, D, PS, 0x100 /* G */ };
	*cases = *yes = 0;
	for (unsigned m = 0; m < 8; m++) {
		struct paging_mode md = { .cr3 = PD, .pse = m & 1, .wp = (m >> 1) & 1,
					  .pge = (m >> 2) & 1 };
		for (unsigned pdebits = 0; pdebits < 128; pdebits++) {
			for (unsigned ptebits = 0; ptebits < 128; ptebits++) {
				uint32_t pde = PT, pte = 0x300000;
				for (unsigned f = 0; f < 7; f++) {
					if (pdebits & (1u << f))
						pde |= flags[f];
					if (ptebits & (1u << f))
						pte |= flags[f];
				}
				for (unsigned access = 0; access < 4; access++) {
					set_pde(0x400000, pde);	/* (a walk may set A, D) */
					set_pte(0x401000, pte);
					*yes += check(&md, pde, pte, access) != 0;
					++*cases;
				}
			}
		}
	}
}

/* walk_pte_not_present: yes only where the walk (with set_ad) faults for
 * a PTE that is not present and writes nothing, with the walk's error
 * code. */
static int pte_not_present_case(const struct paging_mode *md, uint32_t pde, uint32_t pte,
				unsigned access)
{
	uint32_t error = ~0u;
	int says = walk_pte_not_present(&gm, md, 0x401000, access, &error);
	struct walk w;
	enum walk_result r = guest_walk(&gm, md, 0x401000, access, 1, &w);
	int expected = r == WALK_FAULT && !(pte & P) && w.nupdated == 0 &&
		       (pde & P) && !((pde & PS) && md->pse);
	if (says != expected)
		fail_msg("pde %08x pte %08x access %u pse %d: says %d, the walk %d "
			 "(%u written)", pde, pte, access, md->pse, says, expected, w.nupdated);
	if (says && error != w.error)
		fail_msg("pde %08x pte %08x access %u: error %x, the walk's %x", pde, pte,
			 access, error, w.error);
	return says;
}

static void test_pte_not_present_agrees_with_the_walk(void **state)
{
	(void)state;
	unsigned cases, said;
	for_every_walk_case(pte_not_present_case, &cases, &said);
	assert_true(cases > 0 && said > 0);
	/* A page table outside guest RAM: the walk's WALK_BAD_TABLE. */
	set_pde(0x400000, 0x7f000000 | P | W | U | A);
	uint32_t error;
	assert_int_equal(walk_pte_not_present(&gm, &(struct paging_mode){ .cr3 = PD },
					      0x401000, 0, &error), 0);
}

/* walk_mapped_without_fault: yes only where a walk that writes nothing
 * succeeds with both accessed flags already set (4 KiB, not global), with
 * the walk's frame, and writable exactly where the walk says writable and
 * dirty. */
static int mapped_without_fault_case(const struct paging_mode *md, uint32_t pde,
				     uint32_t pte, unsigned access)
{
	uint32_t frame = 0;
	int writable = -1;
	int says = walk_mapped_without_fault(md, pde, pte, access, &frame, &writable);
	struct walk w;
	enum walk_result r = guest_walk(&gm, md, 0x401000, access, 0, &w);
	int expected = r == WALK_OK && w.accessed && w.page_size == 4096 && !w.global;
	if (says != expected)
		fail_msg("pde %08x pte %08x access %u pse %d wp %d pge %d: says %d, the "
			 "walk %d", pde, pte, access, md->pse, md->wp, md->pge, says, expected);
	if (says && (frame != w.gpa || writable != (w.writable && w.dirty)))
		fail_msg("pde %08x pte %08x access %u wp %d: frame %08x writable %d, the "
			 "walk %08x %d", pde, pte, access, md->wp, frame, writable, w.gpa,
			 w.writable && w.dirty);
	/* The walk wrote nothing. */
	assert_int_equal(pte_of(0x401000), pte);
	return says;
}

static void test_mapped_without_fault_agrees_with_the_walk(void **state)
{
	(void)state;
	unsigned cases, mapped;
	for_every_walk_case(mapped_without_fault_case, &cases, &mapped);
	assert_true(cases > 0 && mapped > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_translates_4k_page, setup),
		cmocka_unit_test_setup(test_not_present_errors, setup),
		cmocka_unit_test_setup(test_user_access_to_supervisor_page, setup),
		cmocka_unit_test_setup(test_user_bit_needed_at_both_levels, setup),
		cmocka_unit_test_setup(test_read_only_page_and_wp, setup),
		cmocka_unit_test_setup(test_accessed_and_dirty_flags, setup),
		cmocka_unit_test_setup(test_no_flags_without_set_ad_or_on_fault, setup),
		cmocka_unit_test_setup(test_pde_accessed_on_pte_fault, setup),
		cmocka_unit_test_setup(test_walk_names_the_entries_it_set, setup),
		cmocka_unit_test_setup(test_large_pages, setup),
		cmocka_unit_test_setup(test_table_outside_ram, setup),
		cmocka_unit_test_setup(test_mapped_without_fault_agrees_with_the_walk, setup),
		cmocka_unit_test_setup(test_pte_not_present_agrees_with_the_walk, setup),
	};
	return cmocka_run_group_tests_name("pagewalk", tests, NULL, NULL);
}
