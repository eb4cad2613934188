#include "loader/linux.h"

#include <stdarg.h>

#include "lib/format.h"
#include "lib/string.h"
#include "loader/elf.h"
#include "loader/elfload.h"
#include "ringvisor/hypercall.h"

#define PAGE 4096u
#define LOW_RAM_END   0x9fc00	/* conventional memory, as a PC BIOS reports */
#define BIOS_ROM_BASE 0xf0000
#define HIGH_RAM_BASE 0x100000
#define BIOS_TABLES_SIZE 0x20000
/* The kernel must find the initrd in its direct map: below 896 MiB on a
 * 3G/1G split, and below the initrd_addr_max the header advertises. */
#define INITRD_ADDR_MAX 0x37ffffffu

static int __attribute__((format(printf, 3, 4)))
fail(char *err, unsigned errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void put8(uint8_t *bp, unsigned off, uint8_t v) { bp[off] = v; }
static void put16(uint8_t *bp, unsigned off, uint16_t v) { memcpy(bp + off, &v, 2); }
static void put32(uint8_t *bp, unsigned off, uint32_t v) { memcpy(bp + off, &v, 4); }

static void put_e820(uint8_t *bp, unsigned i, uint64_t base, uint64_t len,
		     uint32_t type)
{
	uint8_t *e = bp + BP_E820_TABLE + 20 * i;
	memcpy(e, &base, 8);
	memcpy(e + 8, &len, 8);
	memcpy(e + 16, &type, 4);
}

/*
 * The zero page: only the fields a bootloader must fill for the 32-bit
 * protocol.  The setup header is normally copied from a bzImage; for a bare
 * vmlinux we write the few fields the kernel reads (the version, so that it
 * trusts cmd_line_ptr and the ramdisk fields, and a non-zero loader type,
 * without which it ignores the initrd).
 */
static void build_boot_params(uint8_t *bp, uint32_t ram_size,
			      uint32_t initrd_gpa, uint32_t initrd_size)
{
	memset(bp, 0, BP_SIZE);
	put32(bp, BP_ALT_MEM_K, (ram_size - HIGH_RAM_BASE) / 1024);
	put16(bp, BP_BOOT_FLAG, 0xaa55);
	memcpy(bp + BP_HEADER, "HdrS", 4);
	put16(bp, BP_VERSION, 0x020f);
	put8(bp, BP_TYPE_OF_LOADER, 0xff);	/* "undefined" bootloader */
	put8(bp, BP_LOADFLAGS, 0x01);		/* LOADED_HIGH: kernel at 1 MiB+ */
	put32(bp, BP_RAMDISK_IMAGE, initrd_gpa);
	put32(bp, BP_RAMDISK_SIZE, initrd_size);
	put32(bp, BP_CMD_LINE_PTR, LINUX_CMDLINE_GPA);
	put32(bp, BP_INITRD_ADDR_MAX, INITRD_ADDR_MAX);
	put32(bp, BP_CMDLINE_SIZE, LINUX_CMDLINE_MAX - 1);
	/* Tells our patched kernel it runs under ringvisor (it may then use
	 * the paravirtual interrupt flag); natively this field is 0. */
	uint64_t magic = RV_LINUX_BOOT_MAGIC;
	memcpy(bp + BP_HARDWARE_SUBARCH_DATA, &magic, 8);

	/* The map QEMU's BIOS (SeaBIOS) gives the same machine natively, so
	 * the guest sizes its memory the same both ways: low RAM, the EBDA
	 * and BIOS ROM reserved, RAM from 1 MiB, and the top 128 KiB of RAM
	 * reserved (where SeaBIOS keeps its tables). */
	put_e820(bp, 0, 0, LOW_RAM_END, E820_RAM);
	put_e820(bp, 1, LOW_RAM_END, 0xa0000 - LOW_RAM_END, E820_RESERVED);
	put_e820(bp, 2, BIOS_ROM_BASE, HIGH_RAM_BASE - BIOS_ROM_BASE, E820_RESERVED);
	put_e820(bp, 3, HIGH_RAM_BASE, ram_size - BIOS_TABLES_SIZE - HIGH_RAM_BASE,
		 E820_RAM);
	put_e820(bp, 4, ram_size - BIOS_TABLES_SIZE, BIOS_TABLES_SIZE, E820_RESERVED);
	put8(bp, BP_E820_ENTRIES, 5);
}

int linux_load(const struct guest_mem *gm, const void *kernel, uint32_t ksize,
	       const void *initrd, uint32_t isize, const char *cmdline,
	       struct guest_entry *entry, char *err, unsigned errlen)
{
	static uint8_t boot_params[BP_SIZE];	/* too big for the VMM's stack */
	struct elf_image elf;
	char why[128];

	if (gm->size < 2 * HIGH_RAM_BASE)
		return fail(err, errlen, "guest RAM of %u KiB is too small for Linux",
			    gm->size / 1024);
	if (elf_parse(kernel, ksize, &elf, why, sizeof(why)))
		return fail(err, errlen, "%s", why);
	for (unsigned i = 0; i < elf.nsegments; i++)
		if (elf.segments[i].paddr < HIGH_RAM_BASE)
			return fail(err, errlen, "ELF segment %u loads at physical "
				    "0x%08x, below 1 MiB: not a vmlinux", i,
				    elf.segments[i].paddr);
	uint32_t kernel_end = elfload_physical_end(&elf);
	if (elfload_check(gm, &elf, why, sizeof(why)))
		return fail(err, errlen, "%s; give the guest more memory", why);

	uint32_t cmdline_len = cmdline ? (uint32_t)strlen(cmdline) : 0;
	if (cmdline_len >= LINUX_CMDLINE_MAX)
		return fail(err, errlen, "kernel command line of %u bytes is "
			    "longer than Linux's %u", cmdline_len,
			    LINUX_CMDLINE_MAX - 1);

	/* The initrd goes as high as it can, page-aligned, where neither the
	 * kernel's image nor its early page tables (after the image) are. */
	uint32_t initrd_gpa = 0;
	if (isize) {
		uint32_t ram_end = gm->size - BIOS_TABLES_SIZE;
		uint32_t top = ram_end < INITRD_ADDR_MAX ? ram_end : INITRD_ADDR_MAX + 1;
		uint32_t lowest = (kernel_end + PAGE - 1) & ~(PAGE - 1);
		if (isize > top || ((top - isize) & ~(PAGE - 1)) < lowest)
			return fail(err, errlen, "initrd of %u KiB does not fit in "
				    "guest RAM above the kernel (%u KiB free); give "
				    "the guest more memory", isize / 1024,
				    top > lowest ? (top - lowest) / 1024 : 0);
		initrd_gpa = (top - isize) & ~(PAGE - 1);
	}

	elfload_copy(gm, kernel, &elf);
	if (isize)
		gmem_write(gm, initrd_gpa, initrd, isize);
	build_boot_params(boot_params, gm->size, initrd_gpa, isize);
	gmem_write(gm, LINUX_BOOT_PARAMS_GPA, boot_params, sizeof(boot_params));
	gmem_fill(gm, LINUX_CMDLINE_GPA, 0, LINUX_CMDLINE_MAX);
	gmem_write(gm, LINUX_CMDLINE_GPA, cmdline ? cmdline : "", cmdline_len);

	*entry = (struct guest_entry){ .eip = elfload_physical_entry(&elf),
				       .esi = LINUX_BOOT_PARAMS_GPA };
	return 0;
}
