/*
 * loader/multiboot: multiboot_parse() over a fake physical memory.  A heap
 * buffer of exactly MEM_SIZE bytes stands for physical [MEM_BASE,
 * MEM_BASE + MEM_SIZE); the map function refuses anything not wholly inside,
 * and AddressSanitizer catches any read past what it handed out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loader/multiboot.h"

#define MEM_BASE 0x10000u
#define MEM_SIZE 0x10000u

/* Where the tests put things in the fake memory. */
#define INFO_PA    0x10000u
#define MMAP_PA    0x10100u	/* room for 0xb00 bytes: > 100 entries */
#define MODS_PA    0x10c00u	/* room for 32 module entries */
#define CMDLINE_PA 0x10e00u
#define STR_PA     0x11000u	/* module strings, 64 bytes apart */
#define LONG_PA    0x12000u	/* long strings (> BOOT_MAX_STRING) */
#define DATA_PA    0x14000u	/* module contents, 0x400 bytes apart */

#define GIB4 0x100000000ull

static uint8_t *mem;
static struct boot_info bi;
static char err[256];
static unsigned map_calls;

static const void *fake_map(void *ctx, uint64_t pa, uint64_t len)
{
	(void)ctx;
	map_calls++;
	if (pa < MEM_BASE || len > MEM_SIZE || pa - MEM_BASE > MEM_SIZE - len)
		return NULL;
	return mem + (pa - MEM_BASE);
}

static void *at(uint32_t pa)
{
	assert_true(pa >= MEM_BASE && pa < MEM_BASE + MEM_SIZE);
	return mem + (pa - MEM_BASE);
}

static struct multiboot_info *info(void)
{
	return at(INFO_PA);
}

static int setup(void **state)
{
	(void)state;
	mem = malloc(MEM_SIZE);
	if (!mem)
		return -1;
	memset(mem, 0, MEM_SIZE);
	info()->flags = MBI_FLAG_MMAP;
	info()->mmap_addr = MMAP_PA;
	info()->mmap_length = 0;
	memset(&bi, 0xcc, sizeof(bi));	/* parse must initialise everything */
	memset(err, 0, sizeof(err));
	map_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	mem = NULL;
	return 0;
}

/* Append a memory map entry whose size field is 'size' (20 normally); the
 * bytes past the 20 the structure has are filled with 0xff. */
static void mmap_add_sized(uint32_t size, uint64_t base, uint64_t len,
			   uint32_t type)
{
	uint32_t off = info()->mmap_length;
	uint8_t *p = at(MMAP_PA + off);
	struct multiboot_mmap_entry e = { size, base, len, type };
	assert_true(off + 4 + (size > 20 ? size : 20) <= 0xb00);
	memset(p, 0xff, 4 + (size > 20 ? size : 20));
	memcpy(p, &e, sizeof(e));
	info()->mmap_length = off + 4 + size;
}

static void mmap_add(uint64_t base, uint64_t len, uint32_t type)
{
	mmap_add_sized(20, base, len, type);
}

#define AVAIL 1
#define RESV  2

static void qemu_map(void)
{
	mmap_add(0x0, 0x9fc00, AVAIL);
	mmap_add(0x9fc00, 0x400, RESV);
	mmap_add(0xf0000, 0x10000, RESV);
	mmap_add(0x100000, 0x7ee0000, AVAIL);
	mmap_add(0xfffc0000, 0x40000, RESV);
}

/* Module i: list entry, optional string at STR_PA + 64*i. */
static void mod_set(unsigned i, uint32_t start, uint32_t end, const char *string)
{
	struct multiboot_module m = { start, end, 0, 0 };
	if (string) {
		m.string = STR_PA + 64 * i;
		assert_true(strlen(string) < 64);
		strcpy(at(m.string), string);
	}
	memcpy(at(MODS_PA + 16 * i), &m, sizeof(m));
	info()->flags |= MBI_FLAG_MODS;
	info()->mods_addr = MODS_PA;
	if (info()->mods_count < i + 1)
		info()->mods_count = i + 1;
}

static int parse(void)
{
	return multiboot_parse(MULTIBOOT_BOOTLOADER_MAGIC, INFO_PA, fake_map, NULL,
			       &bi, err, sizeof(err));
}

/* ---- checks ---- */

#define assert_parse_ok() do { \
	if (parse() != 0) \
		fail_msg("multiboot_parse failed: %s", err); \
} while (0)

/* Parsing fails and the reason contains word. */
#define assert_parse_fails_with(word) do { \
	if (parse() != -1) \
		fail_msg("multiboot_parse accepted it; want an error about '%s'", \
			 word); \
	if (!strstr(err, word)) \
		fail_msg("error \"%s\" does not mention '%s'", err, word); \
} while (0)

struct range { uint64_t base, len; };

/* The invariants the header promises for usable[]. */
static void assert_usable_well_formed(void)
{
	assert_in_range(bi.nusable, 1, BOOT_MAX_USABLE);
	for (unsigned i = 0; i < bi.nusable; i++) {
		const struct mem_range *r = &bi.usable[i];
		if (r->base % 4096 || r->len % 4096 || r->len == 0 ||
		    r->base + r->len > GIB4 || r->type != 1)
			fail_msg("usable[%u] = [0x%llx, +0x%llx) type %u is not a "
				 "page-aligned non-empty type-1 range below 4 GiB", i,
				 (unsigned long long)r->base,
				 (unsigned long long)r->len, r->type);
		if (i && r->base <= bi.usable[i - 1].base + bi.usable[i - 1].len)
			fail_msg("usable[%u] at 0x%llx is not after usable[%u] "
				 "(which ends at 0x%llx, so they should be merged "
				 "or sorted)", i, (unsigned long long)r->base, i - 1,
				 (unsigned long long)(bi.usable[i - 1].base +
						      bi.usable[i - 1].len));
	}
}

static void assert_usable(const struct range *want, unsigned n)
{
	char got[1024] = "", wanted[1024] = "";
	size_t gl = 0, wl = 0;
	for (unsigned i = 0; i < bi.nusable && i < BOOT_MAX_USABLE && gl < 900; i++)
		gl += (size_t)snprintf(got + gl, sizeof(got) - gl, "[0x%llx-0x%llx) ",
				       (unsigned long long)bi.usable[i].base,
				       (unsigned long long)(bi.usable[i].base +
							    bi.usable[i].len));
	for (unsigned i = 0; i < n && wl < 900; i++)
		wl += (size_t)snprintf(wanted + wl, sizeof(wanted) - wl,
				       "[0x%llx-0x%llx) ",
				       (unsigned long long)want[i].base,
				       (unsigned long long)(want[i].base + want[i].len));
	assert_string_equal(got, wanted);
	assert_int_equal(bi.nusable, n);
	assert_usable_well_formed();
}

static int has_reserved(uint64_t base, uint64_t len)
{
	for (unsigned i = 0; i < bi.nreserved && i < BOOT_MAX_RESERVED; i++)
		if (bi.reserved[i].base == base && bi.reserved[i].len == len)
			return 1;
	return 0;
}

#define assert_reserved(base, len) do { \
	if (!has_reserved(base, len)) \
		fail_msg("reserved[] (%u entries) lacks [0x%llx, +0x%llx)", \
			 bi.nreserved, (unsigned long long)(base), \
			 (unsigned long long)(len)); \
} while (0)

/* ---- the memory map ---- */

static void test_mb_qemu_map_gives_sorted_page_aligned_usable(void **state)
{
	(void)state;
	qemu_map();
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x0, 0x9f000 },	/* 0x9fc00 rounded down */
		{ 0x100000, 0x7ee0000 },
	};
	assert_usable(want, 2);

	/* The raw map is kept as given. */
	assert_int_equal(bi.nmmap, 5);
	assert_int_equal(bi.mmap[1].base, 0x9fc00);
	assert_int_equal(bi.mmap[1].len, 0x400);
	assert_int_equal(bi.mmap[1].type, RESV);
	assert_int_equal(bi.mmap[4].base, 0xfffc0000);
	assert_int_equal(bi.mmap[4].len, 0x40000);

	/* Nothing optional was given. */
	assert_string_equal(bi.cmdline, "");
	assert_int_equal(bi.nmodules, 0);
	/* The info structure and the map itself are bootloader data. */
	assert_reserved(INFO_PA, sizeof(struct multiboot_info));
	assert_reserved(MMAP_PA, 5 * 24);
	assert_int_equal(bi.nreserved, 2);
}

static void test_mb_wrong_magic_is_refused(void **state)
{
	(void)state;
	qemu_map();
	int r = multiboot_parse(0x1BADB002u, INFO_PA, fake_map, NULL, &bi, err,
				sizeof(err));
	assert_int_equal(r, -1);
	if (!strstr(err, "0x1badb002") && !strstr(err, "magic"))
		fail_msg("error \"%s\" mentions neither the magic nor the value", err);
	assert_string_equal(bi.cmdline, "");
}

static void test_mb_unreadable_info_is_refused(void **state)
{
	(void)state;
	qemu_map();
	int r = multiboot_parse(MULTIBOOT_BOOTLOADER_MAGIC, 0x1000, fake_map, NULL,
				&bi, err, sizeof(err));
	assert_int_equal(r, -1);
	if (!strstr(err, "unreadable"))
		fail_msg("error \"%s\" does not say unreadable", err);
	/* Info structure straddling the end of readable memory. */
	r = multiboot_parse(MULTIBOOT_BOOTLOADER_MAGIC, MEM_BASE + MEM_SIZE - 20,
			    fake_map, NULL, &bi, err, sizeof(err));
	assert_int_equal(r, -1);
}

static void test_mb_no_mmap_flag_is_refused(void **state)
{
	(void)state;
	qemu_map();
	info()->flags = MBI_FLAG_MEM;	/* mem_lower/upper only */
	info()->mem_lower = 639;
	info()->mem_upper = 130000;
	assert_parse_fails_with("memory map");
}

static void test_mb_empty_mmap_is_refused(void **state)
{
	(void)state;
	assert_parse_fails_with("empty");
	assert_true(strstr(err, "memory map") != NULL);
}

static void test_mb_unreadable_mmap_is_refused(void **state)
{
	(void)state;
	qemu_map();
	info()->mmap_addr = 0x500;
	assert_parse_fails_with("unreadable");
	/* Length running past readable memory. */
	info()->mmap_addr = MMAP_PA;
	info()->mmap_length = MEM_SIZE;
	assert_parse_fails_with("unreadable");
}

static void test_mb_overlapping_and_adjacent_available_entries_merge(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x200000, AVAIL);	/* 1-3 MiB */
	mmap_add(0x200000, 0x300000, AVAIL);	/* 2-5 MiB: overlaps */
	mmap_add(0x500000, 0x100000, AVAIL);	/* 5-6 MiB: adjacent */
	mmap_add(0x180000, 0x10000, AVAIL);	/* inside the first */
	mmap_add(0x800000, 0x100000, AVAIL);	/* 8-9 MiB: separate */
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x100000, 0x500000 },
		{ 0x800000, 0x100000 },
	};
	assert_usable(want, 2);
}

static void test_mb_reserved_inside_available_splits_it(void **state)
{
	(void)state;
	mmap_add(0x100000, 0xf00000, AVAIL);	/* 1-16 MiB */
	mmap_add(0x400000, 0x100000, RESV);	/* 4-5 MiB */
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x100000, 0x300000 },
		{ 0x500000, 0xb00000 },
	};
	assert_usable(want, 2);
}

static void test_mb_reserved_wins_over_overlapping_available(void **state)
{
	(void)state;
	/* The reserved entries come first: order must not matter. */
	mmap_add(0xf0000, 0x90800, RESV);	/* cuts the head, to 0x180800 */
	mmap_add(0x7f0000, 0x20000, 3);		/* ACPI data: cuts the tail */
	mmap_add(0x2000000, 0x1000000, RESV);	/* covers the 2nd entirely */
	mmap_add(0x100000, 0x700000, AVAIL);	/* 1-8 MiB */
	mmap_add(0x2400000, 0x100000, AVAIL);
	mmap_add(0x0, 0x9f000, AVAIL);
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x0, 0x9f000 },
		{ 0x181000, 0x7f0000 - 0x181000 },	/* head rounded up */
	};
	assert_usable(want, 2);
}

static void test_mb_reserved_unaligned_cut_rounds_usable_inward(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0x150010, 0x10, RESV);		/* 16 bytes in one page */
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x100000, 0x50000 },
		{ 0x151000, 0xaf000 },
	};
	assert_usable(want, 2);
}

static void test_mb_zero_length_entries_ignored(void **state)
{
	(void)state;
	mmap_add(0x300000, 0, AVAIL);		/* empty available: not usable */
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0x180000, 0, RESV);		/* empty reserved: no split */
	assert_parse_ok();
	static const struct range want[] = { { 0x100000, 0x100000 } };
	assert_usable(want, 1);
	assert_int_equal(bi.nmmap, 3);
}

static void test_mb_unsorted_entries_are_sorted(void **state)
{
	(void)state;
	mmap_add(0x5000000, 0x1000000, AVAIL);
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0x3000000, 0x1000000, AVAIL);
	mmap_add(0x0, 0x1000, AVAIL);
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x0, 0x1000 },
		{ 0x100000, 0x100000 },
		{ 0x3000000, 0x1000000 },
		{ 0x5000000, 0x1000000 },
	};
	assert_usable(want, 4);
}

static void test_mb_entries_above_4gib_ignored_or_clipped(void **state)
{
	(void)state;
	mmap_add(0x100000000ull, 0x100000000ull, AVAIL);	/* wholly above */
	mmap_add(0xfff00000, 0x200000, AVAIL);	/* crosses 4 GiB */
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0xffffffff00000000ull, 0x200000000ull, AVAIL); /* wraps 2^64 */
	assert_parse_ok();
	static const struct range want[] = {
		{ 0x100000, 0x100000 },
		{ 0xfff00000, 0x100000 },
	};
	assert_usable(want, 2);
}

static void test_mb_available_entry_covering_all_64bit_space_clipped(void **state)
{
	(void)state;
	mmap_add(0, UINT64_MAX, AVAIL);
	mmap_add(0xfffff000, UINT64_MAX, RESV);	/* end wraps: cut to the top */
	assert_parse_ok();
	static const struct range want[] = { { 0, 0xfffff000 } };
	assert_usable(want, 1);
}

static void test_mb_entry_size_too_small_is_refused(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add_sized(4, 0x200000, 0x100000, AVAIL);
	mmap_add(0x300000, 0x100000, AVAIL);	/* pads so 24 bytes remain */
	assert_parse_fails_with("bad size");
	assert_true(strstr(err, "offset 24") != NULL);
}

static void test_mb_entry_size_19_is_refused(void **state)
{
	(void)state;
	mmap_add_sized(19, 0x100000, 0x100000, AVAIL);
	mmap_add(0x300000, 0x100000, AVAIL);
	assert_parse_fails_with("bad size");
}

static void test_mb_entry_size_larger_than_remaining_is_refused(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0x200000, 0x100000, AVAIL);
	/* Claim the second entry is 4 bytes longer than the map holds. */
	uint32_t bad = 24;
	memcpy(at(MMAP_PA + 24), &bad, 4);
	assert_parse_fails_with("bad size");
	/* A huge size must not wrap the offset arithmetic. */
	bad = 0xfffffffc;
	memcpy(at(MMAP_PA + 24), &bad, 4);
	assert_parse_fails_with("bad size");
}

static void test_mb_truncated_last_entry_is_refused(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x100000, AVAIL);
	info()->mmap_length += 10;	/* 10 stray bytes */
	assert_parse_fails_with("truncated");
}

static void test_mb_more_than_max_mmap_entries_is_refused(void **state)
{
	(void)state;
	for (unsigned i = 0; i < BOOT_MAX_MMAP + 1; i++)
		mmap_add(0x100000 + 0x10000ull * i, 0x8000, i % 2 ? AVAIL : RESV);
	assert_parse_fails_with("more than 32");
}

static void test_mb_exactly_max_mmap_entries_is_accepted(void **state)
{
	(void)state;
	/* Alternating available/reserved: 16 separate usable ranges. */
	for (unsigned i = 0; i < BOOT_MAX_MMAP; i++)
		mmap_add(0x100000 + 0x10000ull * i, 0x10000, i % 2 ? RESV : AVAIL);
	assert_parse_ok();
	assert_int_equal(bi.nmmap, BOOT_MAX_MMAP);
	assert_int_equal(bi.nusable, BOOT_MAX_MMAP / 2);
	assert_usable_well_formed();
	assert_int_equal(bi.usable[15].base, 0x100000 + 0x10000 * 30);
}

static void test_mb_many_reserved_holes_in_one_available_range(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x1000000, AVAIL);
	for (unsigned i = 0; i < BOOT_MAX_MMAP - 1; i++)
		mmap_add(0x180000 + 0x80000ull * i, 0x1000, RESV);
	assert_parse_ok();
	assert_int_equal(bi.nusable, BOOT_MAX_MMAP);
	assert_usable_well_formed();
	assert_int_equal(bi.usable[0].base, 0x100000);
	assert_int_equal(bi.usable[0].len, 0x80000);
	assert_int_equal(bi.usable[1].base, 0x181000);
	assert_int_equal(bi.usable[31].base, 0x1081000);
	assert_int_equal(bi.usable[31].len, 0x7f000);
}

static void test_mb_map_without_usable_ram_is_refused(void **state)
{
	(void)state;
	mmap_add(0x0, 0x100000, RESV);
	mmap_add(0x100000, 0x1000000, 4);	/* ACPI NVS */
	assert_parse_fails_with("no usable RAM");
}

static void test_mb_available_smaller_than_a_page_is_not_usable(void **state)
{
	(void)state;
	mmap_add(0x1001, 0xffe, AVAIL);
	mmap_add(0x3800, 0x1000, AVAIL);	/* straddles, no whole page */
	assert_parse_fails_with("no usable RAM");
}

static void test_mb_available_wholly_reserved_is_refused(void **state)
{
	(void)state;
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add(0x0, 0x1000000, RESV);
	assert_parse_fails_with("no usable RAM");
}

static void test_mb_entries_with_size_24_are_walked(void **state)
{
	(void)state;
	mmap_add_sized(24, 0x0, 0x9fc00, AVAIL);
	mmap_add(0x100000, 0x100000, AVAIL);
	mmap_add_sized(24, 0x150000, 0x10000, RESV);
	mmap_add_sized(36, 0x400000, 0x100000, AVAIL);
	assert_parse_ok();
	assert_int_equal(bi.nmmap, 4);
	assert_int_equal(bi.mmap[1].base, 0x100000);
	assert_int_equal(bi.mmap[2].type, RESV);
	assert_int_equal(bi.mmap[3].base, 0x400000);
	static const struct range want[] = {
		{ 0x0, 0x9f000 },
		{ 0x100000, 0x50000 },
		{ 0x160000, 0xa0000 },
		{ 0x400000, 0x100000 },
	};
	assert_usable(want, 4);
	assert_reserved(MMAP_PA, 28 + 24 + 28 + 40);
}

/* ---- modules ---- */

static void test_mb_modules_flag_absent_gives_no_modules(void **state)
{
	(void)state;
	qemu_map();
	info()->mods_count = 5;		/* garbage: the flag says ignore it */
	info()->mods_addr = 0xdead0000;
	assert_parse_ok();
	assert_int_equal(bi.nmodules, 0);
}

static void test_mb_two_modules_parsed_and_reserved(void **state)
{
	(void)state;
	qemu_map();
	memset(at(DATA_PA), 0x11, 0x400);
	memset(at(DATA_PA + 0x1000), 0x22, 0x123);
	mod_set(0, DATA_PA, DATA_PA + 0x400, "guest.elf mem=32");
	mod_set(1, DATA_PA + 0x1000, DATA_PA + 0x1123, "initrd");
	assert_parse_ok();

	assert_int_equal(bi.nmodules, 2);
	assert_int_equal(bi.modules[0].start, DATA_PA);
	assert_int_equal(bi.modules[0].end, DATA_PA + 0x400);
	assert_string_equal(bi.modules[0].string, "guest.elf mem=32");
	assert_ptr_equal(bi.modules[0].data, at(DATA_PA));
	assert_int_equal(bi.modules[1].start, DATA_PA + 0x1000);
	assert_int_equal(bi.modules[1].end, DATA_PA + 0x1123);
	assert_string_equal(bi.modules[1].string, "initrd");
	assert_ptr_equal(bi.modules[1].data, at(DATA_PA + 0x1000));

	assert_reserved(INFO_PA, sizeof(struct multiboot_info));
	assert_reserved(MMAP_PA, 5 * 24);
	assert_reserved(MODS_PA, 2 * 16);
	assert_reserved(STR_PA, sizeof("guest.elf mem=32"));
	assert_reserved(STR_PA + 64, sizeof("initrd"));
	assert_reserved(DATA_PA, 0x400);
	assert_reserved(DATA_PA + 0x1000, 0x123);
	assert_int_equal(bi.nreserved, 7);
}

static void test_mb_too_many_modules_is_refused(void **state)
{
	(void)state;
	qemu_map();
	for (unsigned i = 0; i < BOOT_MAX_MODULES + 1; i++)
		mod_set(i, DATA_PA, DATA_PA + 0x10, NULL);
	assert_parse_fails_with("modules");
	assert_true(strstr(err, "17") != NULL);
}

static void test_mb_max_modules_with_strings_and_cmdline_fit_reserved(void **state)
{
	(void)state;
	qemu_map();
	strcpy(at(CMDLINE_PA), "ringvisor.elf mem=16");
	info()->flags |= MBI_FLAG_CMDLINE;
	info()->cmdline = CMDLINE_PA;
	for (unsigned i = 0; i < BOOT_MAX_MODULES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "mod%u", i);
		mod_set(i, DATA_PA + 0x400 * i, DATA_PA + 0x400 * i + 0x100 + i, name);
	}
	assert_parse_ok();
	assert_int_equal(bi.nmodules, BOOT_MAX_MODULES);
	assert_int_equal(bi.nreserved, BOOT_MAX_RESERVED);
	assert_string_equal(bi.cmdline, "ringvisor.elf mem=16");
	assert_string_equal(bi.modules[15].string, "mod15");
	assert_reserved(CMDLINE_PA, sizeof("ringvisor.elf mem=16"));
	assert_reserved(MODS_PA, 16 * 16);
	for (unsigned i = 0; i < BOOT_MAX_MODULES; i++) {
		assert_reserved(DATA_PA + 0x400 * i, 0x100 + i);
		assert_reserved(STR_PA + 64 * i, i < 10 ? 5 : 6);
	}
}

static void test_mb_unreadable_module_list_is_refused(void **state)
{
	(void)state;
	qemu_map();
	mod_set(0, DATA_PA, DATA_PA + 0x10, "m");
	info()->mods_addr = 0x2000;
	assert_parse_fails_with("module list");
	/* A list straddling the end of readable memory. */
	info()->mods_addr = MEM_BASE + MEM_SIZE - 8;
	assert_parse_fails_with("module list");
}

static void test_mb_module_ending_before_start_is_refused(void **state)
{
	(void)state;
	qemu_map();
	mod_set(0, DATA_PA + 0x100, DATA_PA, NULL);
	assert_parse_fails_with("before it starts");
}

static void test_mb_module_outside_readable_memory_is_refused(void **state)
{
	(void)state;
	qemu_map();
	mod_set(0, DATA_PA, DATA_PA + 0x10, "ok");
	mod_set(1, 0x200000, 0x300000, "far away");
	assert_parse_fails_with("outside readable memory");
	assert_true(strstr(err, "module 1") != NULL);
	/* Starts inside, ends past the end. */
	mod_set(1, MEM_BASE + MEM_SIZE - 0x10, MEM_BASE + MEM_SIZE + 0x10, "edge");
	assert_parse_fails_with("outside readable memory");
}

static void test_mb_empty_module_has_no_data_and_no_reservation(void **state)
{
	(void)state;
	qemu_map();
	mod_set(0, DATA_PA, DATA_PA, NULL);
	assert_parse_ok();
	assert_int_equal(bi.nmodules, 1);
	assert_null(bi.modules[0].data);
	assert_string_equal(bi.modules[0].string, "");
	for (unsigned i = 0; i < bi.nreserved; i++)
		if (bi.reserved[i].base == DATA_PA)
			fail_msg("an empty module was reserved ([0x%llx, +0x%llx))",
				 (unsigned long long)bi.reserved[i].base,
				 (unsigned long long)bi.reserved[i].len);
}

static void test_mb_module_string_pointer_zero_gives_empty_string(void **state)
{
	(void)state;
	qemu_map();
	mod_set(0, DATA_PA, DATA_PA + 0x20, NULL);
	assert_parse_ok();
	assert_non_null(bi.modules[0].string);
	assert_string_equal(bi.modules[0].string, "");
	assert_int_equal(bi.nreserved, 4);	/* info, mmap, list, data */
}

static void test_mb_module_string_unterminated_is_refused(void **state)
{
	(void)state;
	qemu_map();
	memset(at(LONG_PA), 'A', BOOT_MAX_STRING + 100);
	mod_set(0, DATA_PA, DATA_PA + 0x20, NULL);
	struct multiboot_module m = { DATA_PA, DATA_PA + 0x20, LONG_PA, 0 };
	memcpy(at(MODS_PA), &m, sizeof(m));
	assert_parse_fails_with("not terminated");
	assert_true(strstr(err, "module 0") != NULL);
}

static void test_mb_module_string_of_max_length_boundary(void **state)
{
	(void)state;
	qemu_map();
	struct multiboot_module m = { DATA_PA, DATA_PA + 0x20, LONG_PA, 0 };
	mod_set(0, DATA_PA, DATA_PA + 0x20, NULL);
	memcpy(at(MODS_PA), &m, sizeof(m));

	/* BOOT_MAX_STRING - 1 characters and the NUL: accepted. */
	memset(at(LONG_PA), 'B', BOOT_MAX_STRING - 1);
	*(char *)at(LONG_PA + BOOT_MAX_STRING - 1) = '\0';
	assert_parse_ok();
	assert_int_equal(strlen(bi.modules[0].string), BOOT_MAX_STRING - 1);
	assert_reserved(LONG_PA, BOOT_MAX_STRING);

	/* BOOT_MAX_STRING characters before the NUL: refused. */
	*(char *)at(LONG_PA + BOOT_MAX_STRING - 1) = 'B';
	*(char *)at(LONG_PA + BOOT_MAX_STRING) = '\0';
	assert_parse_fails_with("not terminated");
}

static void test_mb_module_string_running_into_unreadable_memory_is_refused(void **state)
{
	(void)state;
	qemu_map();
	uint32_t pa = MEM_BASE + MEM_SIZE - 8;
	memset(at(pa), 'C', 8);		/* no NUL before the end */
	struct multiboot_module m = { DATA_PA, DATA_PA + 0x20, pa, 0 };
	mod_set(0, DATA_PA, DATA_PA + 0x20, NULL);
	memcpy(at(MODS_PA), &m, sizeof(m));
	assert_parse_fails_with("unreadable");
}

static void test_mb_module_string_ending_at_last_readable_byte_is_accepted(void **state)
{
	(void)state;
	qemu_map();
	uint32_t pa = MEM_BASE + MEM_SIZE - 4;
	memcpy(at(pa), "abc", 4);
	struct multiboot_module m = { DATA_PA, DATA_PA + 0x20, pa, 0 };
	mod_set(0, DATA_PA, DATA_PA + 0x20, NULL);
	memcpy(at(MODS_PA), &m, sizeof(m));
	assert_parse_ok();
	assert_string_equal(bi.modules[0].string, "abc");
}

/* ---- the command line ---- */

static void test_mb_cmdline_is_read_and_reserved(void **state)
{
	(void)state;
	qemu_map();
	strcpy(at(CMDLINE_PA), "/boot/ringvisor.elf test-panic=pf");
	info()->flags |= MBI_FLAG_CMDLINE;
	info()->cmdline = CMDLINE_PA;
	assert_parse_ok();
	assert_string_equal(bi.cmdline, "/boot/ringvisor.elf test-panic=pf");
	assert_reserved(CMDLINE_PA, sizeof("/boot/ringvisor.elf test-panic=pf"));
}

static void test_mb_cmdline_pointer_outside_memory_is_refused(void **state)
{
	(void)state;
	qemu_map();
	info()->flags |= MBI_FLAG_CMDLINE;
	info()->cmdline = 0x100;
	assert_parse_fails_with("command line");
}

static void test_mb_cmdline_flag_absent_gives_empty_cmdline(void **state)
{
	(void)state;
	qemu_map();
	info()->cmdline = 0x100;	/* garbage: the flag says ignore it */
	assert_parse_ok();
	assert_non_null(bi.cmdline);
	assert_string_equal(bi.cmdline, "");
	assert_int_equal(bi.nreserved, 2);
}

static void test_mb_error_message_respects_errlen(void **state)
{
	(void)state;
	char small[8];
	memset(small, 'X', sizeof(small));
	int r = multiboot_parse(0, INFO_PA, fake_map, NULL, &bi, small, 5);
	assert_int_equal(r, -1);
	assert_int_equal(strlen(small), 4);
	assert_int_equal(small[5], 'X');
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mb_qemu_map_gives_sorted_page_aligned_usable),
		T(test_mb_wrong_magic_is_refused),
		T(test_mb_unreadable_info_is_refused),
		T(test_mb_no_mmap_flag_is_refused),
		T(test_mb_empty_mmap_is_refused),
		T(test_mb_unreadable_mmap_is_refused),
		T(test_mb_overlapping_and_adjacent_available_entries_merge),
		T(test_mb_reserved_inside_available_splits_it),
		T(test_mb_reserved_wins_over_overlapping_available),
		T(test_mb_reserved_unaligned_cut_rounds_usable_inward),
		T(test_mb_zero_length_entries_ignored),
		T(test_mb_unsorted_entries_are_sorted),
		T(test_mb_entries_above_4gib_ignored_or_clipped),
		T(test_mb_available_entry_covering_all_64bit_space_clipped),
		T(test_mb_entry_size_too_small_is_refused),
		T(test_mb_entry_size_19_is_refused),
		T(test_mb_entry_size_larger_than_remaining_is_refused),
		T(test_mb_truncated_last_entry_is_refused),
		T(test_mb_more_than_max_mmap_entries_is_refused),
		T(test_mb_exactly_max_mmap_entries_is_accepted),
		T(test_mb_many_reserved_holes_in_one_available_range),
		T(test_mb_map_without_usable_ram_is_refused),
		T(test_mb_available_smaller_than_a_page_is_not_usable),
		T(test_mb_available_wholly_reserved_is_refused),
		T(test_mb_entries_with_size_24_are_walked),
		T(test_mb_modules_flag_absent_gives_no_modules),
		T(test_mb_two_modules_parsed_and_reserved),
		T(test_mb_too_many_modules_is_refused),
		T(test_mb_max_modules_with_strings_and_cmdline_fit_reserved),
		T(test_mb_unreadable_module_list_is_refused),
		T(test_mb_module_ending_before_start_is_refused),
		T(test_mb_module_outside_readable_memory_is_refused),
		T(test_mb_empty_module_has_no_data_and_no_reservation),
		T(test_mb_module_string_pointer_zero_gives_empty_string),
		T(test_mb_module_string_unterminated_is_refused),
		T(test_mb_module_string_of_max_length_boundary),
		T(test_mb_module_string_running_into_unreadable_memory_is_refused),
		T(test_mb_module_string_ending_at_last_readable_byte_is_accepted),
		T(test_mb_cmdline_is_read_and_reserved),
		T(test_mb_cmdline_pointer_outside_memory_is_refused),
		T(test_mb_cmdline_flag_absent_gives_empty_cmdline),
		T(test_mb_error_message_respects_errlen),
	};
	return cmocka_run_group_tests_name("multiboot", tests, NULL, NULL);
}
