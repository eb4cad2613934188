/*
 * Multiboot v1: the header a bootloader looks for in our image, and the
 * information structure it hands us (Multiboot Specification 0.6.96, §3).
 *
 * The information structure is bootloader-controlled input: every pointer in
 * it is checked before we follow it, and every length is bounded.
 */
#ifndef LOADER_MULTIBOOT_H
#define LOADER_MULTIBOOT_H

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* Header flags we ask for: modules page-aligned, memory information. */
#define MULTIBOOT_PAGE_ALIGN       (1u << 0)
#define MULTIBOOT_MEMORY_INFO      (1u << 1)

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Info flags: which fields of struct multiboot_info are valid. */
#define MBI_FLAG_MEM      (1u << 0)
#define MBI_FLAG_CMDLINE  (1u << 2)
#define MBI_FLAG_MODS     (1u << 3)
#define MBI_FLAG_MMAP     (1u << 6)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	/* drives, config table, boot loader name, APM, VBE: unused */
} __attribute__((packed));

struct multiboot_module {
	uint32_t mod_start, mod_end;
	uint32_t string;
	uint32_t reserved;
} __attribute__((packed));

/* One memory map entry.  'size' counts the bytes after itself (normally 20). */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t base;
	uint64_t length;
	uint32_t type;
} __attribute__((packed));

#define MMAP_TYPE_AVAILABLE 1

/* Limits on what we accept; beyond them the boot information is refused. */
#define BOOT_MAX_MMAP     32
#define BOOT_MAX_USABLE   (2 * BOOT_MAX_MMAP)
#define BOOT_MAX_MODULES  16
#define BOOT_MAX_STRING   1024	/* command lines and module strings */
/* Bootloader data the page allocator must not hand out: info, map, module
 * list, one string per module, the command line, each module's contents. */
#define BOOT_MAX_RESERVED (4 + 2 * BOOT_MAX_MODULES)

struct mem_range {
	uint64_t base;
	uint64_t len;
	uint32_t type;		/* the mmap type; 1 for usable ranges */
};

struct boot_module {
	uint32_t start, end;	/* physical, end exclusive */
	const char *string;	/* "name args", NUL-terminated, never NULL */
	const void *data;	/* start mapped for reading, NULL if empty */
};

/* What the VMM learned from the bootloader, checked and tidied. */
struct boot_info {
	const char *cmdline;			/* never NULL */
	struct mem_range mmap[BOOT_MAX_MMAP];	/* as the bootloader gave it */
	unsigned nmmap;
	struct mem_range usable[BOOT_MAX_USABLE]; /* sorted, disjoint, page-aligned,
						     below 4 GiB, reserved cut out */
	unsigned nusable;
	struct boot_module modules[BOOT_MAX_MODULES];
	unsigned nmodules;
	struct mem_range reserved[BOOT_MAX_RESERVED]; /* bootloader data in RAM */
	unsigned nreserved;
};

/*
 * Map physical [pa, pa+len) for reading; NULL if it cannot be (outside the
 * memory the caller can see).  The VMM passes its direct map; tests pass a
 * buffer.
 */
typedef const void *(*phys_map_fn)(void *ctx, uint64_t pa, uint64_t len);

/*
 * Check and parse the information a Multiboot loader passed.  Returns 0, or
 * -1 with a one-line reason in err.  A missing memory map is an error: the
 * VMM will not guess where RAM is.
 */
int multiboot_parse(uint32_t magic, uint32_t info_pa, phys_map_fn map,
		    void *ctx, struct boot_info *out, char *err, unsigned errlen);

#endif /* __ASSEMBLER__ */

#endif
