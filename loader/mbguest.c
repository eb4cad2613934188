#include "loader/mbguest.h"

#include <stdarg.h>

#include "lib/format.h"
#include "lib/string.h"
#include "loader/elf.h"
#include "loader/elfload.h"
#include "loader/multiboot.h"

#define MB_HEADER_SEARCH 8192	/* the header must be in the first 8 KiB */
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define LOW_RAM_END   0x9fc00	/* conventional memory, as a PC BIOS reports */
#define HIGH_RAM_BASE 0x100000

static int __attribute__((format(printf, 3, 4)))
fail(char *err, unsigned errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Multiboot spec §3.1.1: magic, flags, checksum at a 4-byte boundary. */
int mbguest_is_multiboot(const void *data, uint32_t size)
{
	const uint8_t *image = data;
	uint32_t end = size < MB_HEADER_SEARCH ? size : MB_HEADER_SEARCH;
	for (uint32_t off = 0; off + 12 <= end; off += 4) {
		uint32_t h[3];
		memcpy(h, image + off, sizeof(h));
		if (h[0] == MULTIBOOT_HEADER_MAGIC && h[0] + h[1] + h[2] == 0)
			return 1;
	}
	return 0;
}

/* The information block: the struct, then the memory map, then the string. */
struct info_block {
	struct multiboot_info info;
	struct multiboot_mmap_entry mmap[4];
	char cmdline[256];
} __attribute__((packed));

static void build_info(struct info_block *b, uint32_t ram_size,
		       const char *cmdline)
{
	uint32_t base = MBGUEST_INFO_GPA;
	const uint32_t entry_size = sizeof(struct multiboot_mmap_entry) - 4;

	memset(b, 0, sizeof(*b));
	b->mmap[0] = (struct multiboot_mmap_entry){ entry_size, 0, LOW_RAM_END, 1 };
	b->mmap[1] = (struct multiboot_mmap_entry){ entry_size, LOW_RAM_END,
		0xa0000 - LOW_RAM_END, 2 };
	b->mmap[2] = (struct multiboot_mmap_entry){ entry_size, 0xf0000, 0x10000, 2 };
	b->mmap[3] = (struct multiboot_mmap_entry){ entry_size, HIGH_RAM_BASE,
		ram_size - HIGH_RAM_BASE, 1 };
	ksnprintf(b->cmdline, sizeof(b->cmdline), "%s", cmdline ? cmdline : "");

	b->info.flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP;
	b->info.mem_lower = LOW_RAM_END / 1024;
	b->info.mem_upper = (ram_size - HIGH_RAM_BASE) / 1024;
	b->info.cmdline = base + __builtin_offsetof(struct info_block, cmdline);
	b->info.mmap_addr = base + __builtin_offsetof(struct info_block, mmap);
	b->info.mmap_length = sizeof(b->mmap);
}

static int overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

int mbguest_load(const struct guest_mem *gm, const void *image, uint32_t size,
		 const char *cmdline, struct guest_entry *entry,
		 char *err, unsigned errlen)
{
	struct elf_image elf;
	static struct info_block info;	/* too big for the VMM's stack */

	if (gm->size < 2 * HIGH_RAM_BASE)
		return fail(err, errlen, "guest RAM of %u KiB is too small for a "
			    "Multiboot kernel (need 2 MiB)", gm->size / 1024);
	if (elf_parse(image, size, &elf, err, errlen))
		return -1;
	if (!mbguest_is_multiboot(image, size))
		return fail(err, errlen, "not a Multiboot kernel (no header in its "
			    "first 8 KiB)");

	if (elfload_check(gm, &elf, err, errlen))
		return -1;
	for (unsigned i = 0; i < elf.nsegments; i++) {
		const struct elf_segment *s = &elf.segments[i];
		if (overlaps(s->paddr, s->memsz, MBGUEST_INFO_GPA, sizeof(info)))
			return fail(err, errlen, "ELF segment %u overlaps the "
				    "Multiboot information at 0x%x", i,
				    MBGUEST_INFO_GPA);
	}
	elfload_copy(gm, image, &elf);

	build_info(&info, gm->size, cmdline);
	gmem_write(gm, MBGUEST_INFO_GPA, &info, sizeof(info));

	*entry = (struct guest_entry){ .eip = elfload_physical_entry(&elf) };
	entry->eax = MULTIBOOT_BOOTLOADER_MAGIC;
	entry->ebx = MBGUEST_INFO_GPA;
	return 0;
}
