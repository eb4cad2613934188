/*
 * Reading the Multiboot information structure.  The bootloader is trusted to
 * boot us but not to be tidy: memory map entries may overlap, be empty, be
 * out of order or lie above 4 GiB; module pointers may be garbage.  We turn it
 * into a boot_info the rest of the VMM can use without further checks.
 */
#include "loader/multiboot.h"

#include <stdarg.h>

#include "lib/format.h"
#include "lib/string.h"

#define PAGE_MASK 0xfffull
#define FOUR_GIB  0x100000000ull

struct parser {
	phys_map_fn map;
	void *ctx;
	struct boot_info *out;
	char *err;
	unsigned errlen;
};

/* Record why the information is refused; returns -1 for "return fail(...)". */
static int __attribute__((format(printf, 2, 3)))
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int add_reserved(struct parser *p, uint64_t base, uint64_t len)
{
	struct boot_info *bi = p->out;
	if (len == 0)
		return 0;
	if (bi->nreserved == BOOT_MAX_RESERVED)
		return fail(p, "too many bootloader data areas (more than %d)",
			    BOOT_MAX_RESERVED);
	bi->reserved[bi->nreserved++] = (struct mem_range){ base, len, 0 };
	return 0;
}

/* Map a NUL-terminated string of at most BOOT_MAX_STRING bytes at pa. */
static const char *map_string(struct parser *p, uint32_t pa, const char *what)
{
	/* Map byte by byte up to the NUL: the string may end right before
	 * memory the map function refuses. */
	for (uint32_t n = 0; n < BOOT_MAX_STRING; n++) {
		const char *c = p->map(p->ctx, (uint64_t)pa + n, 1);
		if (!c) {
			fail(p, "%s at 0x%08x runs into unreadable memory", what, pa);
			return NULL;
		}
		if (*c == '\0') {
			const char *s = p->map(p->ctx, pa, n + 1);
			if (s && add_reserved(p, pa, n + 1) == 0)
				return s;
			if (!s)
				fail(p, "%s at 0x%08x is unreadable", what, pa);
			return NULL;
		}
	}
	fail(p, "%s at 0x%08x is not terminated within %d bytes", what, pa,
	     BOOT_MAX_STRING);
	return NULL;
}

static int read_mmap(struct parser *p, const struct multiboot_info *mbi)
{
	struct boot_info *bi = p->out;

	if (!(mbi->flags & MBI_FLAG_MMAP))
		return fail(p, "the bootloader gave no memory map (Multiboot flag 6)");
	if (mbi->mmap_length == 0)
		return fail(p, "the bootloader's memory map is empty");
	const uint8_t *map = p->map(p->ctx, mbi->mmap_addr, mbi->mmap_length);
	if (!map)
		return fail(p, "memory map at 0x%08x (%u bytes) is unreadable",
			    mbi->mmap_addr, mbi->mmap_length);
	if (add_reserved(p, mbi->mmap_addr, mbi->mmap_length))
		return -1;

	/* Each entry starts with its own size, which excludes the size field. */
	uint32_t off = 0;
	while (off < mbi->mmap_length) {
		struct multiboot_mmap_entry e;
		if (mbi->mmap_length - off < sizeof(e))
			return fail(p, "memory map entry at offset %u is truncated", off);
		memcpy(&e, map + off, sizeof(e));
		if (e.size < sizeof(e) - 4 || e.size > mbi->mmap_length - off - 4)
			return fail(p, "memory map entry at offset %u has bad size %u",
				    off, e.size);
		if (bi->nmmap == BOOT_MAX_MMAP)
			return fail(p, "memory map has more than %d entries",
				    BOOT_MAX_MMAP);
		bi->mmap[bi->nmmap++] = (struct mem_range){ e.base, e.length, e.type };
		off += e.size + 4;
	}
	return 0;
}

/*
 * Usable RAM: available entries, clipped to 4 GiB (no PAE), minus every
 * non-available entry (when the map contradicts itself, "reserved" wins),
 * merged, sorted and shrunk to whole pages.
 */
static void sort_ranges(struct mem_range *r, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct mem_range key = r[i];
		unsigned j = i;
		for (; j > 0 && r[j - 1].base > key.base; j--)
			r[j] = r[j - 1];
		r[j] = key;
	}
}

/* Remove [cut_lo, cut_hi) from the ranges, splitting where needed. */
static int cut_out(struct parser *p, struct mem_range *r, unsigned *n,
		   uint64_t cut_lo, uint64_t cut_hi)
{
	unsigned count = *n;
	for (unsigned i = 0; i < count; i++) {
		uint64_t lo = r[i].base, hi = r[i].base + r[i].len;
		if (cut_hi <= lo || cut_lo >= hi)
			continue;
		if (cut_lo > lo && cut_hi < hi) {	/* split in two */
			if (*n == BOOT_MAX_USABLE)
				return fail(p, "memory map too fragmented");
			r[(*n)++] = (struct mem_range){ cut_hi, hi - cut_hi, 1 };
			r[i].len = cut_lo - lo;
		} else if (cut_lo > lo) {		/* keep the head */
			r[i].len = cut_lo - lo;
		} else if (cut_hi < hi) {		/* keep the tail */
			r[i] = (struct mem_range){ cut_hi, hi - cut_hi, 1 };
		} else {				/* nothing left */
			r[i].len = 0;
		}
	}
	return 0;
}

static int compute_usable(struct parser *p)
{
	struct boot_info *bi = p->out;
	struct mem_range *u = bi->usable;
	unsigned n = 0;

	for (unsigned i = 0; i < bi->nmmap; i++) {
		const struct mem_range *e = &bi->mmap[i];
		if (e->type != MMAP_TYPE_AVAILABLE || e->len == 0 || e->base >= FOUR_GIB)
			continue;
		uint64_t end = e->base + e->len;
		if (end > FOUR_GIB || end < e->base)
			end = FOUR_GIB;
		u[n++] = (struct mem_range){ e->base, end - e->base, 1 };
	}
	for (unsigned i = 0; i < bi->nmmap; i++) {
		const struct mem_range *e = &bi->mmap[i];
		if (e->type == MMAP_TYPE_AVAILABLE || e->len == 0)
			continue;
		uint64_t end = e->base + e->len < e->base ? ~0ull : e->base + e->len;
		if (cut_out(p, u, &n, e->base, end))
			return -1;
	}

	/* Page-align inward, drop empties, sort, merge overlaps and neighbours. */
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t lo = (u[i].base + PAGE_MASK) & ~PAGE_MASK;
		uint64_t hi = (u[i].base + u[i].len) & ~PAGE_MASK;
		if (u[i].len && hi > lo)
			u[kept++] = (struct mem_range){ lo, hi - lo, 1 };
	}
	sort_ranges(u, kept);
	unsigned merged = 0;
	for (unsigned i = 0; i < kept; i++) {
		struct mem_range *last = merged ? &u[merged - 1] : NULL;
		if (last && u[i].base <= last->base + last->len) {
			uint64_t hi = u[i].base + u[i].len;
			if (hi > last->base + last->len)
				last->len = hi - last->base;
		} else {
			u[merged++] = u[i];
		}
	}
	bi->nusable = merged;
	if (merged == 0)
		return fail(p, "the memory map has no usable RAM");
	return 0;
}

static int read_modules(struct parser *p, const struct multiboot_info *mbi)
{
	struct boot_info *bi = p->out;

	if (!(mbi->flags & MBI_FLAG_MODS) || mbi->mods_count == 0)
		return 0;
	if (mbi->mods_count > BOOT_MAX_MODULES)
		return fail(p, "%u boot modules given, at most %d supported",
			    mbi->mods_count, BOOT_MAX_MODULES);
	uint32_t size = mbi->mods_count * sizeof(struct multiboot_module);
	const struct multiboot_module *mods = p->map(p->ctx, mbi->mods_addr, size);
	if (!mods)
		return fail(p, "module list at 0x%08x is unreadable", mbi->mods_addr);
	if (add_reserved(p, mbi->mods_addr, size))
		return -1;

	for (uint32_t i = 0; i < mbi->mods_count; i++) {
		struct multiboot_module m;
		memcpy(&m, &mods[i], sizeof(m));
		struct boot_module *bm = &bi->modules[i];

		bm->string = "";
		if (m.string) {
			char what[32];
			ksnprintf(what, sizeof(what), "module %u's string", i);
			bm->string = map_string(p, m.string, what);
			if (!bm->string)
				return -1;
		}
		if (m.mod_end < m.mod_start)
			return fail(p, "module %u ends (0x%08x) before it starts (0x%08x)",
				    i, m.mod_end, m.mod_start);
		bm->start = m.mod_start;
		bm->end = m.mod_end;
		bm->data = NULL;
		if (m.mod_end > m.mod_start) {
			bm->data = p->map(p->ctx, m.mod_start, m.mod_end - m.mod_start);
			if (!bm->data)
				return fail(p, "module %u (0x%08x-0x%08x) is outside "
					    "readable memory", i, m.mod_start, m.mod_end);
			if (add_reserved(p, m.mod_start, m.mod_end - m.mod_start))
				return -1;
		}
		bi->nmodules = i + 1;
	}
	return 0;
}

int multiboot_parse(uint32_t magic, uint32_t info_pa, phys_map_fn map,
		    void *ctx, struct boot_info *out, char *err, unsigned errlen)
{
	struct parser p = { map, ctx, out, err, errlen };

	memset(out, 0, sizeof(*out));
	out->cmdline = "";
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		return fail(&p, "not started by a Multiboot loader (magic 0x%08x)",
			    magic);

	struct multiboot_info mbi;
	const void *raw = map(ctx, info_pa, sizeof(mbi));
	if (!raw)
		return fail(&p, "Multiboot information at 0x%08x is unreadable",
			    info_pa);
	memcpy(&mbi, raw, sizeof(mbi));
	if (add_reserved(&p, info_pa, sizeof(mbi)))
		return -1;

	if (mbi.flags & MBI_FLAG_CMDLINE) {
		out->cmdline = map_string(&p, mbi.cmdline, "command line");
		if (!out->cmdline)
			return -1;
	}
	if (read_mmap(&p, &mbi) || compute_usable(&p) || read_modules(&p, &mbi))
		return -1;
	return 0;
}
