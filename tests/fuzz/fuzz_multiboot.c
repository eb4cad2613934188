/*
 * Fuzzing the Multiboot information parser (loader/multiboot.c).
 *
 * Input: a u32 giving the information structure's offset, a flags byte
 * (bit 0: pass a wrong magic), then the fake physical memory itself, which
 * starts at physical MEM_BASE: the information structure, memory map,
 * module list and strings all point into it (or anywhere else, which the
 * map function refuses).  The memory is a heap buffer of exactly its size,
 * so ASan sees any read past what map handed out.
 *
 * On success, what struct boot_info promises is checked: strings are
 * NUL-terminated inside the memory; module data is exactly the module's
 * range; the usable RAM is sorted, disjoint (not even touching), page-
 * aligned, below 4 GiB, made only of available map entries and free of
 * every other; the counts are within their arrays.  On failure, err holds
 * a reason.
 */
#include <stdlib.h>

#include "loader/multiboot.h"
#include "tests/fuzz/fuzz_input.h"

#define MEM_BASE 0x1000u
#define FOUR_GIB 0x100000000ull

static const uint8_t *mem;
static uint32_t mem_size;

static const void *fake_map(void *ctx, uint64_t pa, uint64_t len)
{
	CHECK(ctx == &mem);
	if (pa < MEM_BASE || len > mem_size || pa - MEM_BASE > mem_size - len)
		return NULL;
	return mem + (pa - MEM_BASE);
}

/* p lies in the memory, with a NUL before its end. */
static void check_string(const char *p)
{
	CHECK(p);
	if (p[0] == '\0' && (p < (const char *)mem || p >= (const char *)mem + mem_size))
		return;		/* the parser's own "" */
	CHECK(p >= (const char *)mem && p < (const char *)mem + mem_size);
	CHECK(memchr(p, 0, (size_t)((const char *)mem + mem_size - p)) != NULL);
}

static int available_covers(const struct boot_info *bi, uint64_t pos, uint64_t *end)
{
	for (unsigned i = 0; i < bi->nmmap; i++) {
		const struct mem_range *e = &bi->mmap[i];
		uint64_t e_end = e->base + e->len < e->base ? ~0ull : e->base + e->len;
		if (e->type == MMAP_TYPE_AVAILABLE && e->base <= pos && pos < e_end) {
			*end = e_end;
			return 1;
		}
	}
	return 0;
}

static void check_info(const struct boot_info *bi)
{
	check_string(bi->cmdline);
	CHECK(bi->nmmap >= 1 && bi->nmmap <= BOOT_MAX_MMAP);
	CHECK(bi->nusable >= 1 && bi->nusable <= BOOT_MAX_USABLE);
	CHECK(bi->nmodules <= BOOT_MAX_MODULES);
	CHECK(bi->nreserved <= BOOT_MAX_RESERVED);

	for (unsigned i = 0; i < bi->nusable; i++) {
		const struct mem_range *u = &bi->usable[i];
		CHECK(u->len > 0 && u->type == MMAP_TYPE_AVAILABLE);
		CHECK((u->base & 0xfff) == 0 && (u->len & 0xfff) == 0);
		CHECK(u->base + u->len <= FOUR_GIB);
		if (i > 0)
			CHECK(u->base > bi->usable[i - 1].base + bi->usable[i - 1].len);
		/* Wholly inside available entries... */
		uint64_t pos = u->base, end;
		while (pos < u->base + u->len) {
			CHECK(available_covers(bi, pos, &end));
			pos = end;
		}
		/* ...and outside every other entry. */
		for (unsigned j = 0; j < bi->nmmap; j++) {
			const struct mem_range *e = &bi->mmap[j];
			if (e->type == MMAP_TYPE_AVAILABLE || e->len == 0)
				continue;
			uint64_t e_end = e->base + e->len < e->base ? ~0ull : e->base + e->len;
			CHECK(e_end <= u->base || e->base >= u->base + u->len);
		}
	}

	for (unsigned i = 0; i < bi->nmodules; i++) {
		const struct boot_module *m = &bi->modules[i];
		check_string(m->string);
		CHECK(m->start <= m->end);
		if (m->end == m->start) {
			CHECK(m->data == NULL);
			continue;
		}
		CHECK(m->start >= MEM_BASE && m->end - MEM_BASE <= mem_size);
		CHECK((const uint8_t *)m->data == mem + (m->start - MEM_BASE));
	}
	for (unsigned i = 0; i < bi->nreserved; i++)
		CHECK(bi->reserved[i].len > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	uint32_t info_off = in_u32(&in);
	uint8_t flags = in_u8(&in);

	/* The rest is physical memory, in a buffer of exactly its size. */
	mem_size = (uint32_t)in_left(&in);
	uint8_t *buf = malloc(mem_size ? mem_size : 1);
	in_bytes(&in, buf, mem_size);
	mem = buf;

	static struct boot_info bi;
	char err[128];
	memset(err, 0, sizeof(err));
	uint32_t magic = flags & 1 ? info_off : MULTIBOOT_BOOTLOADER_MAGIC;
	int r = multiboot_parse(magic, MEM_BASE + info_off, fake_map, &mem, &bi,
				err, sizeof(err));
	CHECK(r == 0 || r == -1);
	SAY("multiboot_parse: %s (%u usable, %u modules)\n", r ? err : "ok",
	    r ? 0 : bi.nusable, r ? 0 : bi.nmodules);
	if (r == 0)
		check_info(&bi);
	else
		CHECK(err[0] != '\0' && memchr(err, 0, sizeof(err)) != NULL);
	free(buf);
	return 0;
}
