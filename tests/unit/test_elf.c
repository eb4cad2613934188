/*
 * loader/elf: elf_parse() over ELF32 images built in memory.  Every image is
 * copied into a heap block of exactly its size before parsing, so that
 * AddressSanitizer reports any read past the end of the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loader/elf.h"

/* Our own copy of the ELF32 layouts (System V gABI), independent of the
 * parser's. */
struct ehdr32 {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} __attribute__((packed));

struct phdr32 {
	uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
} __attribute__((packed));

_Static_assert(sizeof(struct ehdr32) == 52, "ELF32 header is 52 bytes");
_Static_assert(sizeof(struct phdr32) == 32, "ELF32 program header is 32 bytes");

#define PT_LOAD 1
#define PT_NOTE 4
#define PF_X 1
#define PF_W 2
#define PF_R 4

#define IMG_MAX 4096

struct img {
	uint8_t buf[IMG_MAX];
	uint32_t size;
};

static struct img im;
static struct elf_image out;
static char err[256];

static struct ehdr32 *eh(void)
{
	return (struct ehdr32 *)im.buf;
}

static struct phdr32 *ph(unsigned i)
{
	uint32_t off = eh()->phoff + i * 32u;
	assert_true(off + 32 <= IMG_MAX);
	return (struct phdr32 *)(im.buf + off);
}

/*
 * A valid i386 executable: three program headers (text PT_LOAD, a PT_NOTE,
 * data PT_LOAD with bss), the segments' bytes after them, the data segment
 * ending exactly at the end of the file.
 */
static void build_valid(void)
{
	memset(&im, 0, sizeof(im));
	struct ehdr32 *e = eh();
	memcpy(e->ident, "\177ELF", 4);
	e->ident[4] = 1;	/* ELFCLASS32 */
	e->ident[5] = 1;	/* ELFDATA2LSB */
	e->ident[6] = 1;	/* EV_CURRENT */
	e->type = 2;		/* ET_EXEC */
	e->machine = 3;		/* EM_386 */
	e->version = 1;
	e->entry = 0x100010;
	e->phoff = 52;
	e->ehsize = 52;
	e->phentsize = 32;
	e->phnum = 3;

	*ph(0) = (struct phdr32){ PT_LOAD, 0x100, 0x100000, 0x100000, 0x200, 0x200,
				  PF_R | PF_X, 0x1000 };
	*ph(1) = (struct phdr32){ PT_NOTE, 0xf0, 0, 0, 0x10, 0x10, PF_R, 4 };
	*ph(2) = (struct phdr32){ PT_LOAD, 0x300, 0x101000, 0x101000, 0x80, 0x1000,
				  PF_R | PF_W, 0x1000 };
	memset(im.buf + 0x100, 0x90, 0x200);
	memset(im.buf + 0x300, 0x55, 0x80);
	im.size = 0x380;
}

/* Parse the first size bytes of the image from an exact-size heap copy. */
static int parse_prefix(uint32_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	assert_non_null(copy);
	memcpy(copy, im.buf, size);
	memset(err, 0, sizeof(err));
	int r = elf_parse(copy, size, &out, err, sizeof(err));
	free(copy);
	return r;
}

static int parse(void)
{
	return parse_prefix(im.size);
}

#define assert_parse_ok() do { \
	if (parse() != 0) \
		fail_msg("elf_parse refused a valid image: %s", err); \
} while (0)

#define assert_parse_fails_with(word) do { \
	if (parse() != -1) \
		fail_msg("elf_parse accepted it; want an error about '%s'", word); \
	if (!strstr(err, word)) \
		fail_msg("error \"%s\" does not mention '%s'", err, word); \
} while (0)

static int setup(void **state)
{
	(void)state;
	build_valid();
	memset(&out, 0xcc, sizeof(out));
	return 0;
}

static void assert_segment(unsigned i, uint32_t offset, uint32_t vaddr,
			   uint32_t paddr, uint32_t filesz, uint32_t memsz,
			   uint32_t flags)
{
	const struct elf_segment *s = &out.segments[i];
	if (s->offset != offset || s->vaddr != vaddr || s->paddr != paddr ||
	    s->filesz != filesz || s->memsz != memsz || s->flags != flags)
		fail_msg("segment %u: got off 0x%x vaddr 0x%x paddr 0x%x filesz 0x%x "
			 "memsz 0x%x flags %u; want off 0x%x vaddr 0x%x paddr 0x%x "
			 "filesz 0x%x memsz 0x%x flags %u", i, s->offset, s->vaddr,
			 s->paddr, s->filesz, s->memsz, s->flags, offset, vaddr,
			 paddr, filesz, memsz, flags);
}

/* ---- accepted ---- */

static void test_elf_valid_exec_with_two_loads_reports_segments(void **state)
{
	(void)state;
	assert_parse_ok();
	assert_int_equal(out.entry, 0x100010);
	assert_int_equal(out.nsegments, 2);	/* the PT_NOTE is not listed */
	assert_segment(0, 0x100, 0x100000, 0x100000, 0x200, 0x200, PF_R | PF_X);
	assert_segment(1, 0x300, 0x101000, 0x101000, 0x80, 0x1000, PF_R | PF_W);
}

static void test_elf_entry_matching_paddr_only_is_accepted(void **state)
{
	(void)state;
	/* Like Linux's vmlinux: linked high, loaded low, entry physical. */
	ph(0)->vaddr = 0xc1000000;
	ph(0)->paddr = 0x01000000;
	ph(2)->vaddr = 0xc1001000;
	ph(2)->paddr = 0x01001000;
	eh()->entry = 0x01000000;
	assert_parse_ok();
	assert_int_equal(out.entry, 0x01000000);
	assert_segment(0, 0x100, 0xc1000000, 0x01000000, 0x200, 0x200, PF_R | PF_X);
}

static void test_elf_entry_in_bss_part_of_segment_is_accepted(void **state)
{
	(void)state;
	eh()->entry = 0x101fff;		/* last byte of memsz, past filesz */
	assert_parse_ok();
}

static void test_elf_segment_ending_exactly_at_4gib_is_accepted(void **state)
{
	(void)state;
	ph(2)->vaddr = 0xfffff000;
	ph(2)->paddr = 0xfffff000;
	eh()->entry = 0xffffffff;
	assert_parse_ok();
	assert_segment(1, 0x300, 0xfffff000, 0xfffff000, 0x80, 0x1000, PF_R | PF_W);
}

static void test_elf_load_with_memsz_zero_is_skipped(void **state)
{
	(void)state;
	/* The note becomes an empty PT_LOAD with nonsense offset and size. */
	*ph(1) = (struct phdr32){ PT_LOAD, 0xfffffff0, 0xfffffff0, 0, 0x1000, 0,
				  PF_R, 0 };
	assert_parse_ok();
	assert_int_equal(out.nsegments, 2);
	assert_segment(1, 0x300, 0x101000, 0x101000, 0x80, 0x1000, PF_R | PF_W);
}

static void test_elf_exactly_max_segments_is_accepted(void **state)
{
	(void)state;
	/* 16 PT_LOADs, headers at 52, all sharing the text bytes. */
	eh()->phnum = ELF_MAX_SEGMENTS;
	for (unsigned i = 0; i < ELF_MAX_SEGMENTS; i++)
		*ph(i) = (struct phdr32){ PT_LOAD, 0x300, 0x200000 + 0x1000 * i,
					  0x200000 + 0x1000 * i, 0x80, 0x1000, PF_R, 0 };
	eh()->entry = 0x200000 + 0x1000 * 15 + 4;
	assert_parse_ok();
	assert_int_equal(out.nsegments, ELF_MAX_SEGMENTS);
	assert_int_equal(out.segments[15].vaddr, 0x20f000);
}

/* ---- refused ---- */

static void test_elf_bad_magic_is_refused(void **state)
{
	(void)state;
	im.buf[0] = 0x7e;
	assert_parse_fails_with("bad magic");
	setup(NULL);
	im.buf[3] = 'f';
	assert_parse_fails_with("bad magic");
	/* Shorter than the magic itself. */
	setup(NULL);
	im.size = 3;
	assert_parse_fails_with("bad magic");
	im.size = 0;
	assert_parse_fails_with("bad magic");
}

static void test_elf_shorter_than_header_is_truncated(void **state)
{
	(void)state;
	im.size = 51;
	assert_parse_fails_with("truncated");
	im.size = 4;
	assert_parse_fails_with("truncated");
}

static void test_elf_class64_is_refused(void **state)
{
	(void)state;
	im.buf[4] = 2;		/* ELFCLASS64 */
	assert_parse_fails_with("32-bit");
	im.buf[4] = 0;
	assert_parse_fails_with("32-bit");
}

static void test_elf_big_endian_is_refused(void **state)
{
	(void)state;
	im.buf[5] = 2;		/* ELFDATA2MSB */
	assert_parse_fails_with("little-endian");
}

static void test_elf_machine_x86_64_is_refused(void **state)
{
	(void)state;
	eh()->machine = 62;	/* EM_X86_64 */
	assert_parse_fails_with("i386");
	assert_true(strstr(err, "62") != NULL);
}

static void test_elf_dyn_type_is_refused(void **state)
{
	(void)state;
	eh()->type = 3;		/* ET_DYN */
	assert_parse_fails_with("executable");
	eh()->type = 1;		/* ET_REL */
	assert_parse_fails_with("executable");
}

static void test_elf_wrong_phentsize_is_refused(void **state)
{
	(void)state;
	eh()->phentsize = 56;	/* the ELF64 size */
	assert_parse_fails_with("program header size");
	eh()->phentsize = 0;
	assert_parse_fails_with("program header size");
}

static void test_elf_program_headers_beyond_file_are_refused(void **state)
{
	(void)state;
	eh()->phnum = 100;
	assert_parse_fails_with("program headers");
	setup(NULL);
	eh()->phoff = im.size - 31;	/* one header, one byte short */
	eh()->phnum = 1;
	assert_parse_fails_with("program headers");
	setup(NULL);
	eh()->phnum = 0xffff;
	assert_parse_fails_with("program headers");
}

static void test_elf_phoff_overflowing_32_bits_is_refused(void **state)
{
	(void)state;
	/* 0xffffffe0 + 2 * 32 wraps to 0x20 in 32-bit arithmetic. */
	eh()->phoff = 0xffffffe0;
	eh()->phnum = 2;
	assert_parse_fails_with("program headers");
	eh()->phoff = 0xffffffff;
	eh()->phnum = 0xffff;
	assert_parse_fails_with("program headers");
}

static void test_elf_segment_beyond_file_is_refused(void **state)
{
	(void)state;
	ph(2)->filesz = 0x81;	/* one byte past the end */
	assert_parse_fails_with("outside the file");
	assert_true(strstr(err, "segment 2") != NULL);
	setup(NULL);
	ph(0)->offset = 0xffffff00;	/* offset + filesz wraps 32 bits */
	assert_parse_fails_with("outside the file");
	setup(NULL);
	ph(0)->offset = im.size;	/* starts at the end */
	assert_parse_fails_with("outside the file");
}

static void test_elf_filesz_greater_than_memsz_is_refused(void **state)
{
	(void)state;
	ph(0)->memsz = 0x1ff;
	assert_parse_fails_with("exceeds");
}

static void test_elf_segment_wrapping_4gib_is_refused(void **state)
{
	(void)state;
	ph(2)->vaddr = 0xfffff000;
	ph(2)->memsz = 0x1001;
	assert_parse_fails_with("wraps");
	setup(NULL);
	ph(2)->paddr = 0xffffff00;	/* physical wrap only */
	assert_parse_fails_with("wraps");
	setup(NULL);
	ph(0)->vaddr = 0x1000;
	ph(0)->paddr = 0x1000;
	ph(0)->memsz = 0xffffffff;
	assert_parse_fails_with("wraps");
}

static void test_elf_no_load_segments_is_refused(void **state)
{
	(void)state;
	ph(0)->type = PT_NOTE;
	ph(2)->type = 6;	/* PT_PHDR */
	assert_parse_fails_with("no loadable segments");
	setup(NULL);
	eh()->phnum = 0;
	assert_parse_fails_with("no loadable segments");
	setup(NULL);
	ph(0)->memsz = 0;	/* only empty loads */
	ph(0)->filesz = 0;
	ph(2)->memsz = 0;
	ph(2)->filesz = 0;
	assert_parse_fails_with("no loadable segments");
}

static void test_elf_more_than_max_segments_is_refused(void **state)
{
	(void)state;
	eh()->phnum = ELF_MAX_SEGMENTS + 1;
	for (unsigned i = 0; i < ELF_MAX_SEGMENTS + 1; i++)
		*ph(i) = (struct phdr32){ PT_LOAD, 0x300, 0x200000 + 0x1000 * i,
					  0x200000 + 0x1000 * i, 0x80, 0x1000, PF_R, 0 };
	eh()->entry = 0x200000;
	assert_parse_fails_with("more than 16");
}

static void test_elf_entry_outside_every_segment_is_refused(void **state)
{
	(void)state;
	eh()->entry = 0x500000;
	assert_parse_fails_with("entry point");
	assert_true(strstr(err, "0x00500000") != NULL);
	/* Just past a segment's end (vaddr + memsz). */
	eh()->entry = 0x100200;
	assert_parse_fails_with("entry point");
	/* Just before the first segment. */
	eh()->entry = 0xfffff;
	assert_parse_fails_with("entry point");
	/* Inside only the PT_NOTE's addresses. */
	ph(1)->vaddr = 0x800000;
	eh()->entry = 0x800004;
	assert_parse_fails_with("entry point");
}

static void test_elf_error_message_respects_errlen(void **state)
{
	(void)state;
	char small[8];
	memset(small, 'X', sizeof(small));
	eh()->machine = 62;
	assert_int_equal(elf_parse(im.buf, im.size, &out, small, 4), -1);
	assert_int_equal(strlen(small), 3);
	assert_int_equal(small[4], 'X');
}

/* ---- robustness ---- */

static void test_elf_every_truncated_prefix_is_refused_without_overrun(void **state)
{
	(void)state;
	for (uint32_t size = 0; size < im.size; size++) {
		if (parse_prefix(size) != -1)
			fail_msg("a %u-byte prefix of the %u-byte image was accepted",
				 size, im.size);
		if (err[0] == '\0')
			fail_msg("a %u-byte prefix was refused with no reason", size);
	}
	if (parse_prefix(im.size) != 0)
		fail_msg("the full image was refused: %s", err);
}

static uint64_t rng_state;

static uint32_t rng(void)	/* xorshift64*, fixed seed */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Corrupt header bytes at random: whatever is accepted must satisfy the
 * promises of elf.h, and nothing may read outside the file. */
static void test_elf_random_header_corruption_never_accepts_bad_segments(void **state)
{
	(void)state;
	rng_state = 0x0123456789abcdefull;
	for (int iter = 0; iter < 5000; iter++) {
		build_valid();
		unsigned flips = 1 + rng() % 4;
		for (unsigned k = 0; k < flips; k++) {
			/* Mostly the headers (0..0x94), sometimes anywhere. */
			uint32_t off = rng() % 4 ? rng() % 0x94 : rng() % im.size;
			im.buf[off] = (uint8_t)(rng() % 3 ? rng() : 0xff);
		}
		if (rng() % 8 == 0)
			im.size = rng() % im.size;
		if (parse() != 0)
			continue;
		int entry_found = 0;
		for (unsigned i = 0; i < out.nsegments; i++) {
			const struct elf_segment *s = &out.segments[i];
			if ((uint64_t)s->offset + s->filesz > im.size ||
			    s->filesz > s->memsz || s->memsz == 0 ||
			    (uint64_t)s->vaddr + s->memsz > 0x100000000ull ||
			    (uint64_t)s->paddr + s->memsz > 0x100000000ull)
				fail_msg("iteration %d: accepted bad segment %u: off 0x%x "
					 "filesz 0x%x memsz 0x%x vaddr 0x%x paddr 0x%x "
					 "(file %u bytes)", iter, i, s->offset, s->filesz,
					 s->memsz, s->vaddr, s->paddr, im.size);
			if ((out.entry >= s->vaddr && out.entry - s->vaddr < s->memsz) ||
			    (out.entry >= s->paddr && out.entry - s->paddr < s->memsz))
				entry_found = 1;
		}
		if (out.nsegments == 0 || out.nsegments > ELF_MAX_SEGMENTS ||
		    !entry_found)
			fail_msg("iteration %d: accepted %u segments, entry 0x%x %s",
				 iter, out.nsegments, out.entry,
				 entry_found ? "inside" : "outside every segment");
	}
}

#define T(name) cmocka_unit_test_setup(name, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_elf_valid_exec_with_two_loads_reports_segments),
		T(test_elf_entry_matching_paddr_only_is_accepted),
		T(test_elf_entry_in_bss_part_of_segment_is_accepted),
		T(test_elf_segment_ending_exactly_at_4gib_is_accepted),
		T(test_elf_load_with_memsz_zero_is_skipped),
		T(test_elf_exactly_max_segments_is_accepted),
		T(test_elf_bad_magic_is_refused),
		T(test_elf_shorter_than_header_is_truncated),
		T(test_elf_class64_is_refused),
		T(test_elf_big_endian_is_refused),
		T(test_elf_machine_x86_64_is_refused),
		T(test_elf_dyn_type_is_refused),
		T(test_elf_wrong_phentsize_is_refused),
		T(test_elf_program_headers_beyond_file_are_refused),
		T(test_elf_phoff_overflowing_32_bits_is_refused),
		T(test_elf_segment_beyond_file_is_refused),
		T(test_elf_filesz_greater_than_memsz_is_refused),
		T(test_elf_segment_wrapping_4gib_is_refused),
		T(test_elf_no_load_segments_is_refused),
		T(test_elf_more_than_max_segments_is_refused),
		T(test_elf_entry_outside_every_segment_is_refused),
		T(test_elf_error_message_respects_errlen),
		T(test_elf_every_truncated_prefix_is_refused_without_overrun),
		T(test_elf_random_header_corruption_never_accepts_bad_segments),
	};
	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
