/*
 * loader/linux: linux_load() into a simulated guest RAM.  A small vmlinux
 * look-alike (linked at 0xc1000000, loaded at physical 16 MiB, with bss) and
 * a fake initrd are loaded; the tests read back the zero page field by field
 * against the boot protocol (Documentation/x86/boot.rst, zero-page.rst) and
 * check that every malformed input is refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loader/linux.h"

#define MiB (1024u * 1024u)
#define RAM_SIZE (32 * MiB)
#define HOST_BASE 0x40000000u
#define KERNEL_PA 0x1000000u
#define KERNEL_VA 0xc1000000u
#define TEXT_SIZE 0x2000u
#define BSS_SIZE  0x3000u

static uint8_t *ram;
static struct guest_mem gm;
static char err[256];
static struct guest_entry entry;

static uint8_t *fake_map(uint32_t pa, uint32_t *len)
{
	assert_true(pa >= HOST_BASE && pa - HOST_BASE < RAM_SIZE);
	*len = RAM_SIZE - (pa - HOST_BASE);
	return ram + (pa - HOST_BASE);
}

/* An ELF32 i386 executable: one PT_LOAD of TEXT_SIZE bytes of 0xab followed
 * by BSS_SIZE of bss, virtual KERNEL_VA, physical KERNEL_PA. */
struct image {
	uint8_t bytes[84 + TEXT_SIZE];
};
static struct image kernel;

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(uint32_t gpa) { uint32_t v; memcpy(&v, ram + gpa, 4); return v; }
static uint16_t get16(uint32_t gpa) { uint16_t v; memcpy(&v, ram + gpa, 2); return v; }
static uint64_t get64(uint32_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }

static void build_kernel(uint32_t entry_point)
{
	uint8_t *e = kernel.bytes;
	memset(&kernel, 0, sizeof(kernel));
	memcpy(e, "\177ELF\1\1\1", 7);
	put16(e + 16, 2);		/* ET_EXEC */
	put16(e + 18, 3);		/* EM_386 */
	put32(e + 20, 1);
	put32(e + 24, entry_point);
	put32(e + 28, 52);		/* phoff */
	put16(e + 40, 52);
	put16(e + 42, 32);
	put16(e + 44, 1);
	uint8_t *ph = e + 52;
	put32(ph + 0, 1);		/* PT_LOAD */
	put32(ph + 4, 84);
	put32(ph + 8, KERNEL_VA);
	put32(ph + 12, KERNEL_PA);
	put32(ph + 16, TEXT_SIZE);
	put32(ph + 20, TEXT_SIZE + BSS_SIZE);
	put32(ph + 24, 7);
	memset(e + 84, 0xab, TEXT_SIZE);
}

static int setup(void **state)
{
	(void)state;
	ram = malloc(RAM_SIZE);
	memset(ram, 0x5a, RAM_SIZE);	/* not zero: the loader must clear bss */
	gm = (struct guest_mem){ RAM_SIZE, HOST_BASE, fake_map };
	build_kernel(KERNEL_PA);
	memset(err, 0, sizeof(err));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static int load(const void *initrd, uint32_t isize, const char *cmdline)
{
	return linux_load(&gm, &kernel, sizeof(kernel), initrd, isize, cmdline,
			  &entry, err, sizeof(err));
}

static void kernel_loaded_at_its_physical_address_with_bss_cleared(void **state)
{
	(void)state;
	assert_int_equal(load(NULL, 0, "console=ttyS0"), 0);
	assert_int_equal(ram[KERNEL_PA], 0xab);
	assert_int_equal(ram[KERNEL_PA + TEXT_SIZE - 1], 0xab);
	for (uint32_t i = 0; i < BSS_SIZE; i++)
		if (ram[KERNEL_PA + TEXT_SIZE + i] != 0)
			fail_msg("bss byte %u not cleared", i);
	assert_int_equal(ram[KERNEL_PA + TEXT_SIZE + BSS_SIZE], 0x5a);
}

static void entry_is_physical_with_esi_at_boot_params(void **state)
{
	(void)state;
	assert_int_equal(load(NULL, 0, ""), 0);
	assert_int_equal(entry.eip, KERNEL_PA);
	assert_int_equal(entry.esi, LINUX_BOOT_PARAMS_GPA);
	assert_int_equal(entry.eax, 0);
	assert_int_equal(entry.ebx, 0);
}

static void virtual_entry_point_is_translated(void **state)
{
	(void)state;
	build_kernel(KERNEL_VA + 0x10);
	assert_int_equal(load(NULL, 0, ""), 0);
	assert_int_equal(entry.eip, KERNEL_PA + 0x10);
}

static void boot_params_header_fields(void **state)
{
	(void)state;
	assert_int_equal(load(NULL, 0, "console=ttyS0 quiet"), 0);
	uint32_t bp = LINUX_BOOT_PARAMS_GPA;
	assert_int_equal(get16(bp + BP_BOOT_FLAG), 0xaa55);
	assert_memory_equal(ram + bp + BP_HEADER, "HdrS", 4);
	assert_true(get16(bp + BP_VERSION) >= 0x0206);	/* has cmdline_size */
	assert_int_not_equal(ram[bp + BP_TYPE_OF_LOADER], 0);	/* else no initrd */
	assert_int_equal(ram[bp + BP_LOADFLAGS] & 1, 1);
	assert_int_equal(get32(bp + BP_CMD_LINE_PTR), LINUX_CMDLINE_GPA);
	assert_string_equal((char *)ram + LINUX_CMDLINE_GPA, "console=ttyS0 quiet");
	assert_int_equal(get32(bp + BP_ALT_MEM_K), (RAM_SIZE - MiB) / 1024);
	assert_int_equal(get32(bp + BP_RAMDISK_IMAGE), 0);
	assert_int_equal(get32(bp + BP_RAMDISK_SIZE), 0);
}

static void e820_map_covers_guest_ram_and_nothing_more(void **state)
{
	(void)state;
	assert_int_equal(load(NULL, 0, ""), 0);
	uint32_t bp = LINUX_BOOT_PARAMS_GPA;
	unsigned n = ram[bp + BP_E820_ENTRIES];
	uint64_t usable = 0, prev_end = 0;
	assert_true(n >= 2 && n <= 128);
	for (unsigned i = 0; i < n; i++) {
		uint32_t e = bp + BP_E820_TABLE + 20 * i;
		uint64_t base = get64(e), len = get64(e + 8);
		uint32_t type = get32(e + 16);
		assert_true(base >= prev_end);		/* sorted, disjoint */
		prev_end = base + len;
		assert_true(prev_end <= RAM_SIZE);
		if (type == E820_RAM)
			usable += len;
	}
	assert_int_equal(prev_end, RAM_SIZE);
	/* Everything but the EBDA, the BIOS area at the top of 1 MiB and
	 * the BIOS tables at the top of RAM. */
	assert_true(usable >= RAM_SIZE - 0x70000 - 0x20000);
}

static void initrd_at_the_top_of_ram_page_aligned(void **state)
{
	(void)state;
	static uint8_t initrd[5000];
	memset(initrd, 0xcd, sizeof(initrd));
	assert_int_equal(load(initrd, sizeof(initrd), ""), 0);
	uint32_t at = get32(LINUX_BOOT_PARAMS_GPA + BP_RAMDISK_IMAGE);
	assert_int_equal(get32(LINUX_BOOT_PARAMS_GPA + BP_RAMDISK_SIZE), sizeof(initrd));
	assert_int_equal(at % 4096, 0);
	/* Below the reserved top 128 KiB, as close to it as alignment allows. */
	assert_true(at + sizeof(initrd) <= RAM_SIZE - 0x20000);
	assert_true(at + sizeof(initrd) > RAM_SIZE - 0x20000 - 4096);
	assert_memory_equal(ram + at, initrd, sizeof(initrd));
}

static void refuses_what_is_not_an_elf(void **state)
{
	(void)state;
	static const char text[] = "MZ this is a bzImage, not a vmlinux";
	assert_int_equal(linux_load(&gm, text, sizeof(text), NULL, 0, "", &entry,
				    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an ELF"));
}

static void refuses_a_kernel_past_guest_ram(void **state)
{
	(void)state;
	gm.size = 16 * MiB;	/* the kernel loads at 16 MiB */
	assert_int_equal(load(NULL, 0, ""), -1);
	assert_non_null(strstr(err, "outside guest RAM"));
	assert_non_null(strstr(err, "more memory"));
}

static void refuses_a_kernel_below_1mib(void **state)
{
	(void)state;
	build_kernel(KERNEL_VA);
	put32(kernel.bytes + 52 + 12, 0x8000);	/* paddr over the zero page */
	assert_int_equal(load(NULL, 0, ""), -1);
	assert_non_null(strstr(err, "below 1 MiB"));
}

static void refuses_an_initrd_that_does_not_fit(void **state)
{
	(void)state;
	uint32_t free_above = RAM_SIZE - 0x20000 - (KERNEL_PA + TEXT_SIZE + BSS_SIZE);
	uint8_t *big = calloc(1, free_above + 1);
	assert_int_equal(load(big, free_above + 1, ""), -1);
	assert_non_null(strstr(err, "initrd"));
	assert_non_null(strstr(err, "does not fit"));
	/* One that just fits (page-aligned below the top) is taken. */
	uint32_t fits = (free_above & ~4095u) - 4096;
	assert_int_equal(load(big, fits, ""), 0);
	free(big);
}

static void refuses_a_command_line_too_long(void **state)
{
	(void)state;
	char *line = malloc(LINUX_CMDLINE_MAX + 1);
	memset(line, 'x', LINUX_CMDLINE_MAX);
	line[LINUX_CMDLINE_MAX] = 0;
	assert_int_equal(load(NULL, 0, line), -1);
	assert_non_null(strstr(err, "command line"));
	line[LINUX_CMDLINE_MAX - 1] = 0;
	assert_int_equal(load(NULL, 0, line), 0);
	free(line);
}

static void refuses_tiny_guest_ram(void **state)
{
	(void)state;
	gm.size = MiB;
	assert_int_equal(load(NULL, 0, ""), -1);
	assert_non_null(strstr(err, "too small"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(kernel_loaded_at_its_physical_address_with_bss_cleared),
		T(entry_is_physical_with_esi_at_boot_params),
		T(virtual_entry_point_is_translated),
		T(boot_params_header_fields),
		T(e820_map_covers_guest_ram_and_nothing_more),
		T(initrd_at_the_top_of_ram_page_aligned),
		T(refuses_what_is_not_an_elf),
		T(refuses_a_kernel_past_guest_ram),
		T(refuses_a_kernel_below_1mib),
		T(refuses_an_initrd_that_does_not_fit),
		T(refuses_a_command_line_too_long),
		T(refuses_tiny_guest_ram),
	};
	return cmocka_run_group_tests_name("loader/linux", tests, NULL, NULL);
}
