/*
 * Fuzzing the guest page walk (core/pagewalk.c) and the shadow page tables
 * (core/shadow.c).
 *
 * The input is a program over a small simulated guest RAM (at the end of a
 * buffer, so ASan sees any access past it) holding random page
 * tables, and over shadow tables drawn from a small frame arena (so running
 * out of frames happens too).  Each step is an opcode byte and its operands:
 *
 *   0  write a word anywhere in guest RAM     4  shadow_invalidate, or (opcode
 *   1  write an entry of the current directory    bit 3) the CPU's use of an
 *   2  guest_walk, checked                        entry (its accessed flag)
 *   3  shadow_map, or (operand bit 4) the     5  shadow_flush, or (opcode
 *      working set's shadow_again_table and       bit 3) shadow_flush_nonglobal
 *      shadow_again_put                       6  walk, then map what it gave
 *   7  new paging mode: CR3, PSE, WP, PGE        (as the MMU's fill does)
 *
 * guest_walk is checked against a reference walk written here from the SDM
 * (Vol. 3A §4.3, §4.6-4.8): same result, address, page size, permissions,
 * dirty and global flags and #PF error code, and guest memory changed only by the
 * accessed and dirty flags of the entries used (nothing on a fault, nothing
 * without set_ad).  The shadows are checked against a model of what they
 * must hold, as a TLB: each map, invalidation (whole 4 MiB pieces included),
 * flush, and CR3 load (which keeps the global entries and only those, and
 * lists and counts the ones it drops that were used or mapped again).  At the end, every shadow table is read back: no entry for a
 * linear address at or above GUEST_LINEAR_LIMIT, the VMM's directory slots
 * untouched, every entry a present user page, no frame leaked or shared.
 */
#include "core/pagewalk.h"
#include "core/segments.h"
#include "core/shadow.h"
#include "tests/fuzz/fuzz_input.h"

#define P  0x001u
#define W  0x002u
#define U  0x004u
#define A  0x020u
#define D  0x040u
#define PS 0x080u
#define G  0x100u
#define SHADOW_GLOBAL SHADOW_PTE_GLOBAL
#define SHADOW_AGAIN SHADOW_PTE_AGAIN
#define FRAME 0xfffff000u
#define LARGE 0xffc00000u

/* ---- guest RAM ---- */

#define HOST_BASE 0x40000000u
#define MAX_RAM (135u * 4096)
/* RAM ends where its buffer does, so ASan sees any access past it. */
static uint8_t ram_buffer[MAX_RAM], model_buffer[MAX_RAM];
static uint8_t *ram;		/* ram_size bytes */
static uint8_t *model_ram;	/* what ram must hold */
static uint32_t ram_size;

static uint8_t *map_ram(uint32_t pa, uint32_t *len)
{
	CHECK(pa >= HOST_BASE && pa - HOST_BASE < ram_size);
	*len = ram_size - (pa - HOST_BASE);
	return ram + (pa - HOST_BASE);
}

static struct guest_mem gm;

static int model_word(uint32_t gpa, uint32_t *v)
{
	if (gpa > ram_size || ram_size - gpa < 4)
		return -1;
	memcpy(v, model_ram + gpa, 4);
	return 0;
}

static void model_or(uint32_t gpa, uint32_t bits)
{
	uint32_t v;
	memcpy(&v, model_ram + gpa, 4);
	v |= bits;
	memcpy(model_ram + gpa, &v, 4);
}

static void write_word(uint32_t gpa, uint32_t v)
{
	if (gpa > ram_size || ram_size - gpa < 4)
		return;
	memcpy(ram + gpa, &v, 4);
	memcpy(model_ram + gpa, &v, 4);
}

/* ---- the reference walk ---- */

static uint32_t error_code(unsigned access, int present)
{
	return (present ? 1u : 0) | (access & ACCESS_WRITE ? 2u : 0) |
	       (access & ACCESS_USER ? 4u : 0);
}

static int permits(uint32_t e, unsigned access, int wp)
{
	if ((access & ACCESS_USER) && !(e & U))
		return 0;
	if ((access & ACCESS_WRITE) && !(e & W) && ((access & ACCESS_USER) || wp))
		return 0;
	return 1;
}

/* Walks model_ram and applies the A/D updates to it. */
static enum walk_result ref_walk(const struct paging_mode *m, uint32_t va,
				 unsigned access, int set_ad, struct walk *out)
{
	uint32_t pde_gpa = (m->cr3 & FRAME) + (va >> 22) * 4, pde, pte;
	memset(out, 0, sizeof(*out));
	if (model_word(pde_gpa, &pde))
		return WALK_BAD_TABLE;
	if (!(pde & P)) {
		out->error = error_code(access, 0);
		return WALK_FAULT;
	}
	int write = (access & ACCESS_WRITE) != 0;
	if ((pde & PS) && m->pse) {
		if (!permits(pde, access, m->wp)) {
			out->error = error_code(access, 1);
			return WALK_FAULT;
		}
		if (set_ad)
			model_or(pde_gpa, A | (write ? D : 0));
		out->gpa = (pde & LARGE) | (va & ~LARGE);
		out->page_size = 4u << 20;
		out->writable = permits(pde, access | ACCESS_WRITE, m->wp);
		out->user = (pde & U) != 0;
		out->dirty = (pde & D) || (set_ad && write);
		out->global = m->pge && (pde & G);
		return WALK_OK;
	}
	/* The PDE is used as soon as the walk goes on to its page table:
	 * its A is set even if the PTE then faults (SDM Vol. 3A §4.8). */
	if (set_ad)
		model_or(pde_gpa, A);
	uint32_t pte_gpa = (pde & FRAME) + ((va >> 12) & 1023) * 4;
	if (model_word(pte_gpa, &pte))
		return WALK_BAD_TABLE;
	if (!(pte & P)) {
		out->error = error_code(access, 0);
		return WALK_FAULT;
	}
	if (!permits(pde, access, m->wp) || !permits(pte, access, m->wp)) {
		out->error = error_code(access, 1);
		return WALK_FAULT;
	}
	if (set_ad)
		model_or(pte_gpa, A | (write ? D : 0));
	out->gpa = (pte & FRAME) | (va & 0xfff);
	out->page_size = 4096;
	out->writable = permits(pde, access | ACCESS_WRITE, m->wp) &&
			permits(pte, access | ACCESS_WRITE, m->wp);
	out->user = (pde & U) && (pte & U);
	out->dirty = (pte & D) || (set_ad && write);
	out->global = m->pge && (pte & G);
	return WALK_OK;
}

static enum walk_result checked_walk(const struct paging_mode *m, uint32_t va,
				     unsigned access, int set_ad, struct walk *w)
{
	struct walk ref;
	enum walk_result want = ref_walk(m, va, access, set_ad, &ref);
	enum walk_result got = guest_walk(&gm, m, va, access, set_ad, w);
	CHECK(got == want);
	if (got == WALK_FAULT)
		CHECK(w->error == ref.error);
	if (got == WALK_OK) {
		CHECK(w->gpa == ref.gpa && w->page_size == ref.page_size);
		CHECK(w->writable == ref.writable && w->user == ref.user);
		CHECK(w->dirty == ref.dirty && w->global == ref.global);
		CHECK((w->gpa & 0xfff) == (va & 0xfff));
		CHECK(!(access & ACCESS_USER) || w->user);
		CHECK(!(access & ACCESS_WRITE) || w->writable);
	}
	/* Only the flags of the two entries may have changed: compare them
	 * now, the rest of RAM at the end. */
	uint32_t pde_gpa = (m->cr3 & FRAME) + (va >> 22) * 4, a, b;
	if (model_word(pde_gpa, &a) == 0) {
		memcpy(&b, ram + pde_gpa, 4);
		CHECK(a == b);
		uint32_t pte_gpa = (a & FRAME) + ((va >> 12) & 1023) * 4;
		if (model_word(pte_gpa, &a) == 0) {
			memcpy(&b, ram + pte_gpa, 4);
			CHECK(a == b);
		}
	}
	return got;
}

/* ---- the shadow tables, and their model ---- */

#define FRAMES 24
#define FRAME_BASE 0x00200000u
#define VMM_PDE 0xfc0000e3u
static uint32_t arena[FRAMES][1024] __attribute__((aligned(4096)));
static int used[FRAMES];
static int in_use;

static uint32_t alloc_table(void)
{
	for (int i = 0; i < FRAMES; i++)
		if (!used[i]) {
			used[i] = 1;
			in_use++;
			memset(arena[i], 0, sizeof(arena[i]));
			return FRAME_BASE + (uint32_t)i * 4096;
		}
	return 0;
}

static int frame_index(uint32_t frame)
{
	CHECK(frame >= FRAME_BASE && (frame & 0xfff) == 0);
	uint32_t i = (frame - FRAME_BASE) / 4096;
	CHECK(i < FRAMES);
	return (int)i;
}

static void free_table(uint32_t frame)
{
	int i = frame_index(frame);
	CHECK(used[i]);			/* no double free */
	used[i] = 0;
	in_use--;
}

static uint32_t *table(uint32_t frame)
{
	int i = frame_index(frame);
	CHECK(used[i]);			/* no use after free */
	return arena[i];
}

static void init_directory(uint32_t *pd)
{
	for (unsigned i = SHADOW_GUEST_PDES; i < 1024; i++)
		pd[i] = VMM_PDE;
}

static const struct shadow_ops ops = { alloc_table, free_table, table, init_directory,
				       NULL, NULL };
static struct shadow sh;

/* The model: which page tables exist, which slots hold 4 MiB pieces, and
 * the entries (a list: an input makes a few hundred at most). */
#define MAX_ENTRIES 4096
static struct { uint8_t which; uint32_t page, value; } entries[MAX_ENTRIES];
static unsigned nentries;
static uint8_t has_table[2][SHADOW_GUEST_PDES];
static uint8_t large[SHADOW_GUEST_PDES];
static uint8_t global[2][SHADOW_GUEST_PDES];	/* a global entry was mapped */
static uint8_t nonglobal[2][SHADOW_GUEST_PDES];	/* ... a non-global one, since the
						   last CR3 load */

static uint32_t model_lookup(unsigned which, uint32_t va)
{
	for (unsigned i = 0; i < nentries; i++)
		if (entries[i].which == which && entries[i].page == (va & FRAME))
			return entries[i].value;
	return 0;
}

static void model_set(unsigned which, uint32_t va, uint32_t value)
{
	for (unsigned i = 0; i < nentries; i++)
		if (entries[i].which == which && entries[i].page == (va & FRAME)) {
			entries[i].value = value;
			return;
		}
	if (value && nentries < MAX_ENTRIES)
		entries[nentries++] = (typeof(entries[0])){ which, va & FRAME, value };
}

static void model_drop_slot(unsigned which, unsigned slot)
{
	for (unsigned i = 0; i < nentries; i++)
		if (entries[i].which == which && entries[i].page >> 22 == slot)
			entries[i].value = 0;
	has_table[which][slot] = 0;
	global[which][slot] = 0;
	nonglobal[which][slot] = 0;
}

/* A CR3 load keeps emptied tables for the next address space; when the
 * allocator runs dry, shadow_map frees those (core/shadow.c). */
static int kept_empty(unsigned which, unsigned slot)
{
	return has_table[which][slot] && !global[which][slot] && !nonglobal[which][slot];
}

static int reclaim_kept_tables(void)
{
	int freed = 0;
	for (unsigned which = 0; which < 2; which++)
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++)
			if (kept_empty(which, slot)) {
				model_drop_slot(which, slot);
				freed++;
			}
	return freed;
}

static void check_lookups(uint32_t va)
{
	for (unsigned which = 0; which < 2; which++) {
		uint32_t got = shadow_lookup(&sh, which, va);
		if (va >> 22 >= SHADOW_GUEST_PDES)
			CHECK(got == VMM_PDE);
		else
			CHECK(got == model_lookup(which, va));
	}
}

static void do_map(unsigned which, uint32_t va, uint32_t host_pa, int writable,
		   int from_large, int is_global)
{
	unsigned slot = va >> 22;
	int frames_before = in_use;
	int r = shadow_map(&sh, which, va, host_pa, writable, from_large, is_global);
	if (slot >= SHADOW_GUEST_PDES) {
		CHECK(r == -1);		/* the VMM's space is never the guest's */
	} else if (!has_table[which][slot] && frames_before == FRAMES &&
		   !reclaim_kept_tables()) {
		CHECK(r == -1);		/* out of frames: refused, nothing changed */
		CHECK(in_use == FRAMES);
	} else {
		CHECK(r == 0);
		if (frames_before != FRAMES || has_table[which][slot])
			CHECK(in_use == frames_before + !has_table[which][slot]);
		has_table[which][slot] = 1;
		if (from_large)
			large[slot] = 1;
		if (is_global)
			global[which][slot] = 1;
		else
			nonglobal[which][slot] = 1;
		model_set(which, va, (host_pa & FRAME) | P | U | (writable ? W : 0) |
			  (is_global ? SHADOW_GLOBAL : 0));
	}
	check_lookups(va);
}

/* A working-set page mapped again (core/mmu.c, map_working_set). */
static void do_map_again(unsigned which, uint32_t va, uint32_t host_pa, int writable)
{
	unsigned slot = va >> 22;
	int frames_before = in_use;
	uint32_t *pt = shadow_again_table(&sh, which, slot);
	if (slot >= SHADOW_GUEST_PDES) {
		CHECK(!pt);		/* the VMM's space is never the guest's */
	} else if (!has_table[which][slot] && frames_before == FRAMES &&
		   !reclaim_kept_tables()) {
		CHECK(!pt);		/* out of frames: refused, nothing changed */
		CHECK(in_use == FRAMES);
	} else {
		CHECK(pt != NULL);
		if (frames_before != FRAMES || has_table[which][slot])
			CHECK(in_use == frames_before + !has_table[which][slot]);
		shadow_again_put(&sh, which, pt, va, host_pa, writable);
		has_table[which][slot] = 1;
		nonglobal[which][slot] = 1;
		model_set(which, va, (host_pa & FRAME) | P | U | (writable ? W : 0) |
			  SHADOW_AGAIN);
	}
	check_lookups(va);
}

/* The CPU uses the entry for va in table which, if there is one. */
static void do_touch(unsigned which, uint32_t va)
{
	uint32_t value = model_lookup(which, va);
	if (va >> 22 >= SHADOW_GUEST_PDES || !value)
		return;
	table(table(sh.pd[which])[va >> 22] & FRAME)[(va >> 12) & 1023] |= A;
	model_set(which, va, value | A);
	check_lookups(va);
}

static void do_invalidate(uint32_t va)
{
	unsigned slot = va >> 22;
	int r = shadow_invalidate(&sh, va);
	if (slot >= SHADOW_GUEST_PDES) {
		CHECK(r == 0);
	} else if (large[slot]) {
		CHECK(r == 1);
		model_drop_slot(0, slot);
		model_drop_slot(1, slot);
		large[slot] = 0;
	} else {
		CHECK(r == 0);
		model_set(0, va, 0);
		model_set(1, va, 0);
	}
	check_lookups(va);
}

static void do_flush(void)
{
	shadow_flush(&sh);
	nentries = 0;
	memset(has_table, 0, sizeof(has_table));
	memset(large, 0, sizeof(large));
	memset(global, 0, sizeof(global));
	memset(nonglobal, 0, sizeof(nonglobal));
	CHECK(in_use == 2);		/* every page table freed */
}

/* A CR3 load: only global entries stay; the tables all stay, for reuse.
 * The non-global entries the CPU used are listed (as many as fit in max),
 * once each, and those mapped again counted. */
static void do_flush_nonglobal(unsigned max)
{
	unsigned again = 0, used = 0, again_used = 0;
	for (unsigned i = 0; i < nentries; i++) {
		uint32_t value = entries[i].value;
		if (!value || (value & SHADOW_GLOBAL))
			continue;
		again += (value & SHADOW_AGAIN) != 0;
		used += (value & A) != 0;
		again_used += (value & SHADOW_AGAIN) && (value & A);
	}
	uint32_t list[16];
	struct shadow_dropped dropped = { .page = list, .max = max };
	shadow_flush_nonglobal(&sh, max ? &dropped : NULL);
	if (max) {
		CHECK(dropped.again == again && dropped.again_used == again_used);
		CHECK(dropped.count == (used < max ? used : max));
		for (unsigned n = 0; n < dropped.count; n++) {
			unsigned which = list[n] & 1;
			CHECK((list[n] & 0xffeu) == 0);
			CHECK(model_lookup(which, list[n] & FRAME) & A);
			for (unsigned m = 0; m < n; m++)
				CHECK(list[m] != list[n]);	/* once each */
		}
	}
	/* Every table stays, emptied of its non-global entries. */
	memset(nonglobal, 0, sizeof(nonglobal));
	for (unsigned i = 0; i < nentries; i++)
		if (!(entries[i].value & SHADOW_GLOBAL))
			entries[i].value = 0;
	for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++)
		large[slot] &= global[0][slot] | global[1][slot];
	for (unsigned i = 0; i < nentries; i++)
		if (entries[i].value)
			check_lookups(entries[i].page);
}

/* Read back both shadow directories and every table. */
static void check_shadows(void)
{
	int referenced[FRAMES] = { 0 };
	unsigned present_entries = 0, tables = 0;
	for (unsigned which = 0; which < 2; which++) {
		referenced[frame_index(sh.pd[which])]++;
		const uint32_t *pd = table(sh.pd[which]);
		for (unsigned slot = SHADOW_GUEST_PDES; slot < 1024; slot++)
			CHECK(pd[slot] == VMM_PDE);	/* the VMM's, untouched */
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++) {
			if (!(pd[slot] & P)) {
				CHECK(pd[slot] == 0 && !has_table[which][slot]);
				continue;
			}
			CHECK(has_table[which][slot]);
			CHECK((pd[slot] & ~FRAME) == (P | W | U));
			referenced[frame_index(pd[slot] & FRAME)]++;
			tables++;
			const uint32_t *pt = table(pd[slot] & FRAME);
			for (unsigned i = 0; i < 1024; i++) {
				if (!pt[i])
					continue;
				uint32_t va = slot << 22 | i << 12;
				CHECK(va < GUEST_LINEAR_LIMIT);
				CHECK((pt[i] & (P | U)) == (P | U));
				CHECK(!(pt[i] & SHADOW_GLOBAL) || global[which][slot]);
				CHECK(pt[i] == model_lookup(which, va));
				present_entries++;
			}
		}
	}
	unsigned modelled = 0;
	for (unsigned i = 0; i < nentries; i++)
		modelled += entries[i].value != 0;
	CHECK(present_entries == modelled);
	for (int i = 0; i < FRAMES; i++)
		CHECK(referenced[i] == used[i]);	/* no leak, no sharing */
	CHECK((unsigned)in_use == 2 + tables);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };

	/* Guest RAM of 8 to 135 pages, zeroed, then the program. */
	ram_size = (8u + (in_u8(&in) & 0x7f)) * 4096;
	ram = ram_buffer + MAX_RAM - ram_size;
	model_ram = model_buffer + MAX_RAM - ram_size;
	memset(ram, 0, ram_size);
	memset(model_ram, 0, ram_size);
	gm = (struct guest_mem){ ram_size, HOST_BASE, map_ram };
	struct paging_mode mode = { .cr3 = 0, .pse = 1, .wp = 1, .pge = 1 };

	memset(used, 0, sizeof(used));
	in_use = 0;
	nentries = 0;
	memset(has_table, 0, sizeof(has_table));
	memset(large, 0, sizeof(large));
	memset(global, 0, sizeof(global));
	memset(nonglobal, 0, sizeof(nonglobal));
	CHECK(shadow_init(&sh, &ops) == 0);

	unsigned flushes = 0;
	while (in_left(&in) > 0) {
		uint8_t op = in_u8(&in);
		switch (op & 7) {
		case 0: {
			uint32_t gpa = (in_u16(&in) * 4u) % ram_size;
			write_word(gpa, in_u32(&in));
			break;
		}
		case 1: {
			uint32_t gpa = (mode.cr3 & FRAME) + (in_u16(&in) & 1023) * 4u;
			write_word(gpa, in_u32(&in));
			break;
		}
		case 2: case 6: {
			uint32_t va = in_u32(&in);
			uint8_t how = in_u8(&in);
			unsigned access = how & (ACCESS_WRITE | ACCESS_USER);
			struct walk w;
			if (checked_walk(&mode, va, access, op & 4 ? 1 : (how >> 2) & 1,
					 &w) != WALK_OK || !(op & 4))
				break;
			/* The MMU's fill: only guest RAM, never the VMM's space. */
			if (va < GUEST_LINEAR_LIMIT &&
			    gmem_contains(&gm, w.gpa & FRAME, 4096))
				do_map(access & ACCESS_USER ? SHADOW_USER : SHADOW_KERNEL,
				       va, HOST_BASE + (w.gpa & FRAME),
				       w.writable && w.dirty, w.page_size > 4096, w.global);
			break;
		}
		case 3: {
			uint8_t how = in_u8(&in);
			uint32_t va = in_u32(&in);
			uint32_t pa = in_u32(&in);
			if (how & 0x10)
				do_map_again(how & 1, va, pa, (how >> 1) & 1);
			else
				do_map(how & 1, va, pa, (how >> 1) & 1, (how >> 2) & 1,
				       (how >> 3) & 1);
			break;
		}
		case 4:
			if (op & 8) {
				uint8_t which = in_u8(&in) & 1;
				do_touch(which, in_u32(&in));
			} else {
				do_invalidate(in_u32(&in));
			}
			break;
		case 5:
			/* A flush walks all 2 x 1008 slots: a few per input
			 * test it as well as many, and keep the fuzzer fast. */
			if (flushes++ >= 4)
				break;
			if (op & 8)	/* a list of 0 (none), 1, 2, 4 ... 16 */
				do_flush_nonglobal((op >> 4) > 5 ? 16 : (1u << (op >> 4)) >> 1);
			else
				do_flush();
			break;
		case 7: {
			uint8_t how = in_u8(&in);
			mode.cr3 = in_u32(&in);
			if (how & 0x80)		/* most often: a directory in RAM */
				mode.cr3 %= ram_size;
			mode.pse = how & 1;
			mode.wp = (how >> 1) & 1;
			mode.pge = (how >> 2) & 1;
			break;
		}
		}
	}
	CHECK(memcmp(ram, model_ram, ram_size) == 0);
	check_shadows();
	do_flush();
	check_shadows();
	return 0;
}
