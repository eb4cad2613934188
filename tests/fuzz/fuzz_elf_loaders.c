/*
 * Fuzzing the ELF checker and the two guest loaders: loader/elf.c
 * elf_parse, loader/mbguest.c mbguest_load, loader/linux.c linux_load.
 *
 * Input: a header, then the kernel image, then (optionally) an initrd cut
 * from the end of the input.
 *
 *   u8  what: bit 0 mbguest_load, bit 1 linux_load (elf_parse always),
 *       bit 2 no command line (NULL)
 *   u8  guest RAM size: one of 1, 2, 3, 4, 8, 16, 24, 32 MiB
 *   u16 command-line length (a run of 'x'; past 2047 Linux refuses it)
 *   u32 initrd length, taken from the end of what follows
 *
 * Guest RAM sits at the end of a 32 MiB buffer, reached through a struct
 * guest_mem map callback that checks every address, so ASan sees a write
 * past RAM.  The image and initrd are heap copies of exactly their size.
 *
 * Checked on success: elf_parse's image is what elf.h promises (segments
 * inside the file, not wrapping, the entry in one of them); a loaded
 * kernel's segments are in RAM with their bytes and zeroed bss (when no
 * two overlap); the entry point is inside a loaded segment; mbguest's
 * Multiboot information parses with our own Multiboot parser and
 * describes the guest's RAM and command line; Linux's zero page names the
 * initrd, which lies page-aligned above the kernel and below the top
 * 128 KiB of RAM, with its bytes, and the command line is there.
 * On failure: err holds a reason.
 */
#include <stdlib.h>

#include "loader/elf.h"
#include "loader/linux.h"
#include "loader/mbguest.h"
#include "loader/multiboot.h"
#include "tests/fuzz/fuzz_input.h"

#define MiB (1024u * 1024u)
#define MAX_RAM (32 * MiB)
#define HOST_BASE 0x10000000u

static uint8_t ram_buffer[MAX_RAM] __attribute__((aligned(4096)));
static uint8_t *ram;
static uint32_t ram_size;

static uint8_t *map_ram(uint32_t pa, uint32_t *len)
{
	CHECK(pa >= HOST_BASE && pa - HOST_BASE < ram_size);
	*len = ram_size - (pa - HOST_BASE);
	return ram + (pa - HOST_BASE);
}

/* For multiboot_parse over guest RAM. */
static const void *map_guest(void *ctx, uint64_t pa, uint64_t len)
{
	(void)ctx;
	if (len > ram_size || pa > ram_size - len)
		return NULL;
	return ram + pa;
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void check_elf(const struct elf_image *elf, uint32_t size)
{
	CHECK(elf->nsegments >= 1 && elf->nsegments <= ELF_MAX_SEGMENTS);
	int entry_in = 0;
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		CHECK(s->memsz > 0 && s->filesz <= s->memsz);
		CHECK((uint64_t)s->offset + s->filesz <= size);
		CHECK((uint64_t)s->vaddr + s->memsz <= 0x100000000ull);
		CHECK((uint64_t)s->paddr + s->memsz <= 0x100000000ull);
		entry_in |= elf->entry - s->vaddr < s->memsz ||
			    elf->entry - s->paddr < s->memsz;
	}
	CHECK(entry_in);
}

/* The segments are in RAM: their bytes, then zeroes; the entry in one. */
static void check_loaded(const struct elf_image *elf, const uint8_t *image,
			 uint32_t entry)
{
	int entry_in = 0;
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		CHECK((uint64_t)s->paddr + s->memsz <= ram_size);
		entry_in |= entry - s->paddr < s->memsz;
		int alone = 1;
		for (unsigned j = 0; j < elf->nsegments; j++)
			if (j != i && overlap(s->paddr, s->memsz, elf->segments[j].paddr,
					      elf->segments[j].memsz))
				alone = 0;
		if (!alone)
			continue;
		CHECK(memcmp(ram + s->paddr, image + s->offset, s->filesz) == 0);
		const uint8_t *bss = ram + s->paddr + s->filesz;
		uint32_t n = s->memsz - s->filesz;
		CHECK(n == 0 || (bss[0] == 0 && memcmp(bss, bss + 1, n - 1) == 0));
	}
	CHECK(entry_in);
}

static void check_multiboot_guest(const struct elf_image *elf, const uint8_t *image,
				  const char *cmdline, const struct guest_entry *e)
{
	check_loaded(elf, image, e->eip);
	CHECK(e->eax == MULTIBOOT_BOOTLOADER_MAGIC && e->ebx == MBGUEST_INFO_GPA);
	/* What the loader wrote, a Multiboot parser accepts. */
	static struct boot_info bi;
	char err[128];
	CHECK(multiboot_parse(e->eax, e->ebx, map_guest, NULL, &bi, err, sizeof(err)) == 0);
	CHECK(strncmp(bi.cmdline, cmdline ? cmdline : "", 255) == 0);
	CHECK(bi.nmodules == 0 && bi.nusable >= 1);
	for (unsigned i = 0; i < bi.nusable; i++)
		CHECK(bi.usable[i].base + bi.usable[i].len <= ram_size);
}

static uint32_t get32(uint32_t gpa)
{
	uint32_t v;
	memcpy(&v, ram + gpa, 4);
	return v;
}

static void check_linux_guest(const struct elf_image *elf, const uint8_t *image,
			      const uint8_t *initrd, uint32_t isize,
			      const char *cmdline, const struct guest_entry *e)
{
	check_loaded(elf, image, e->eip);
	CHECK(e->esi == LINUX_BOOT_PARAMS_GPA);
	const uint32_t bp = LINUX_BOOT_PARAMS_GPA;
	CHECK(get32(bp + BP_CMD_LINE_PTR) == LINUX_CMDLINE_GPA);
	size_t clen = cmdline ? strlen(cmdline) : 0;
	CHECK(memcmp(ram + LINUX_CMDLINE_GPA, cmdline ? cmdline : "", clen) == 0);
	CHECK(ram[LINUX_CMDLINE_GPA + clen] == 0);

	uint32_t at = get32(bp + BP_RAMDISK_IMAGE);
	CHECK(get32(bp + BP_RAMDISK_SIZE) == isize);
	if (isize == 0)
		return;
	CHECK((at & 0xfff) == 0);
	CHECK((uint64_t)at + isize <= ram_size - 0x20000);
	CHECK(memcmp(ram + at, initrd, isize) == 0);
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		CHECK(at >= s->paddr + s->memsz);	/* above the kernel */
	}
}

static const uint32_t ram_sizes[8] = {
	1 * MiB, 2 * MiB, 3 * MiB, 4 * MiB, 8 * MiB, 16 * MiB, 24 * MiB, 32 * MiB,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	uint8_t what = in_u8(&in);
	ram_size = ram_sizes[in_u8(&in) & 7];
	uint32_t cmdline_len = in_u16(&in) % 2100;
	uint32_t initrd_len = in_u32(&in);

	uint32_t rest = (uint32_t)in_left(&in);
	uint32_t isize = initrd_len < rest ? initrd_len : rest;
	uint32_t ksize = rest - isize;
	uint8_t *kernel = malloc(ksize ? ksize : 1);
	uint8_t *initrd = malloc(isize ? isize : 1);
	in_bytes(&in, kernel, ksize);
	in_bytes(&in, initrd, isize);

	char *cmdline = NULL;
	if (!(what & 4)) {
		cmdline = malloc(cmdline_len + 1);
		memset(cmdline, 'x', cmdline_len);
		cmdline[cmdline_len] = 0;
	}

	ram = ram_buffer + MAX_RAM - ram_size;
	struct guest_mem gm = { ram_size, HOST_BASE, map_ram };
	struct elf_image elf;
	struct guest_entry entry;
	char err[160];

	memset(err, 0, sizeof(err));
	if (elf_parse(kernel, ksize, &elf, err, sizeof(err)) == 0)
		check_elf(&elf, ksize);
	else
		CHECK(err[0] != '\0');
	SAY("elf_parse: %s\n", err[0] ? err : "ok");

	if (what & 1) {
		memset(err, 0, sizeof(err));
		if (mbguest_load(&gm, kernel, ksize, cmdline, &entry, err, sizeof(err)) == 0) {
			CHECK(elf_parse(kernel, ksize, &elf, err, sizeof(err)) == 0);
			check_multiboot_guest(&elf, kernel, cmdline, &entry);
			SAY("mbguest_load: ok, entry 0x%08x\n", entry.eip);
		} else {
			CHECK(err[0] != '\0' && memchr(err, 0, sizeof(err)));
			SAY("load: %s\n", err);
		}
	}
	if (what & 2) {
		memset(err, 0, sizeof(err));
		if (linux_load(&gm, kernel, ksize, isize ? initrd : NULL, isize, cmdline,
			       &entry, err, sizeof(err)) == 0) {
			CHECK(elf_parse(kernel, ksize, &elf, err, sizeof(err)) == 0);
			check_linux_guest(&elf, kernel, initrd, isize, cmdline, &entry);
			SAY("linux_load: ok, entry 0x%08x\n", entry.eip);
		} else {
			CHECK(err[0] != '\0' && memchr(err, 0, sizeof(err)));
			SAY("load: %s\n", err);
		}
	}
	free(cmdline);
	free(kernel);
	free(initrd);
	return 0;
}
