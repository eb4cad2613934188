/*
 * The shadow page tables (paper §3, §4.3): the tables the CPU really walks
 * while the guest runs.  There are two, one per virtual ring:
 *
 *   SHADOW_KERNEL  used while the guest is in virtual kernel mode: every
 *                  guest mapping (U/S=0 and U/S=1 pages);
 *   SHADOW_USER    used in virtual user mode: only the guest's U/S=1 pages.
 *
 * Since the guest runs in ring 3 either way, every shadow entry is a user
 * page; what keeps guest user code out of guest kernel memory is that its
 * table does not hold those pages at all.  Both tables carry the VMM's own
 * supervisor-only mappings at 0xFC000000 and up.
 *
 * Coherence (the paper's open problem, §4.4.3): the shadows are filled
 * lazily, one page at a time, on the page faults their emptiness causes,
 * and behave exactly like a TLB: shadow_invalidate() for invlpg,
 * shadow_flush() for a CR3 write or a change of paging mode.  A guest that
 * follows the architecture's TLB rules therefore never sees a stale
 * translation, whatever it does to its page tables in between.  The price is
 * a refill fault per page after each flush; keeping shadows across address
 * spaces is the performance issue's business.
 *
 * Every shadow entry is 4 KiB, also for 4 MiB guest pages, so any single
 * page can be read-only (dirty tracking, protected descriptor tables).
 *
 * Pure C over table frames reached through struct shadow_ops: unit-tested
 * on the host.
 */
#ifndef CORE_SHADOW_H
#define CORE_SHADOW_H

#include <stdint.h>

enum { SHADOW_KERNEL, SHADOW_USER };

/* The first page-directory slot that belongs to the VMM (0xFC000000). */
#define SHADOW_GUEST_PDES 1008

/* The non-global fills a CR3 load can clear by the list (struct shadow's
 * filled); the fuzzers make it small, to reach the ranges past it. */
#ifndef SHADOW_FILLED_MAX
#define SHADOW_FILLED_MAX 256
#endif

/* The bits of a shadow entry: the CPU's (SDM Vol. 3A §4.3), and two of
 * those it leaves to software. */
#define SHADOW_PTE_P      0x001u
#define SHADOW_PTE_W      0x002u
#define SHADOW_PTE_U      0x004u
#define SHADOW_PTE_A      0x020u	/* set by the CPU when it uses the entry */
#define SHADOW_PTE_GLOBAL 0x200u	/* the guest's entry was global */
#define SHADOW_PTE_AGAIN  0x400u	/* shadow_again_put made it, ahead of use */
#define SHADOW_PTE_FRAME  0xfffff000u

struct shadow_ops {
	uint32_t (*alloc_table)(void);		/* a zeroed frame; 0 if none */
	void (*free_table)(uint32_t frame);
	uint32_t *(*table)(uint32_t frame);	/* its 1024 entries */
	/* Fill a new page directory's VMM slots (SHADOW_GUEST_PDES..1023). */
	void (*init_directory)(uint32_t *pd);
	/* Optional: copy from or to guest linear memory through the table the
	 * CPU runs on now, as the guest's own access would go (0), or -1 if
	 * it does not map it so, or if that table is not directory only_pd
	 * (when not 0); core/vmem.c then walks the guest's tables. */
	int (*read_live)(uint32_t only_pd, uint32_t linear, void *buf, uint32_t len);
	int (*write_live)(uint32_t only_pd, uint32_t linear, const void *buf, uint32_t len);
};

struct shadow {
	const struct shadow_ops *ops;
	uint32_t pd[2];			/* frames of the two page directories */
	uint32_t *dir[2];		/* ... and their entries (ops->table) */
	/* Each slot's page table's entries (ops->table of its frame), or
	 * NULL: every fill, flush and invlpg reaches them. */
	uint32_t *tables[2][SHADOW_GUEST_PDES];
	/* PDE slots whose shadow page table holds pieces of a 4 MiB guest
	 * page: invlpg of any address in it must drop them all. */
	uint32_t large[SHADOW_GUEST_PDES / 32 + 1];
	/* Per directory, PDE slots whose page table holds a global entry:
	 * a CR3 load keeps those (shadow_flush_nonglobal); and slots whose
	 * table holds a non-global one, which a CR3 load must then find. */
	uint32_t global[2][SHADOW_GUEST_PDES / 32 + 1];
	uint32_t nonglobal[2][SHADOW_GUEST_PDES / 32 + 1];
	/* Which words of nonglobal may be non-zero (a bit per word: there
	 * are 32), so that a CR3 load visits only those; and whether any
	 * slot was ever large. */
	uint32_t nonglobal_words[2];
	int any_large;
	/* The non-global entries filled since the last CR3 load, as
	 * va | which, while they fit: a CR3 load clears just those (a few
	 * dozen) and keeps the tables for the next address space, instead
	 * of freeing them and zeroing whole new ones: processes switch on
	 * every pipe round trip.  nfilled counts on past SHADOW_FILLED_MAX. */
	uint32_t filled[SHADOW_FILLED_MAX];
	unsigned nfilled;
	/* Past the list, a CR3 load clears instead the range of each table
	 * marked non-global: per directory and slot, first to last (first >
	 * last: none).  The ranges are kept only then: the list's pages are
	 * put in them when it overflows (shadow_note_past_list), and a CR3
	 * load leaves them empty.  A range may also cover stale entries of a
	 * table invlpg dropped whole meanwhile: harmless, since a CR3 load
	 * clears every non-global entry anyway. */
	uint16_t first[2][SHADOW_GUEST_PDES], last[2][SHADOW_GUEST_PDES];
};

/* Allocate the two page directories.  -1 if out of memory. */
int shadow_init(struct shadow *s, const struct shadow_ops *ops);

/*
 * Map the 4 KiB page holding va to host frame host_pa in table which,
 * writable or read-only.  from_large says the guest maps va with a 4 MiB
 * page; global that its entry is global (G with CR4.PGE).  -1 if out of
 * memory for a page table.
 */
int shadow_map(struct shadow *s, unsigned which, uint32_t va, uint32_t host_pa,
	       int writable, int from_large, int global);

/* shadow_note_filled's slow path: the list is full. */
void shadow_note_past_list(struct shadow *s, unsigned which, uint32_t va);

/*
 * A non-global entry was made for va in table which: what the next CR3
 * load must clear (the list while it lasts, else the table's range).
 */
static inline void shadow_note_filled(struct shadow *s, unsigned which, uint32_t va)
{
	if (s->nfilled < SHADOW_FILLED_MAX)
		s->filled[s->nfilled] = (va & ~0xfffu) | which;
	else
		shadow_note_past_list(s, which, va);
	s->nfilled++;
}

/*
 * Mapping a working set again (core/workingset.h) ahead of use, a table at
 * a time: shadow_again_table readies the page table of slot in table which
 * (allocated if need be, marked as holding non-global entries) and returns
 * its entries, NULL if out of memory (faults will do) or if the slot is
 * the VMM's; shadow_again_put then maps each 4 KiB page va of that slot
 * to host frame host_pa, writable or read-only.  Such an entry is
 * non-global, and marked so that the next CR3 load can tell whether it
 * was used.  Inline: a CR3 load runs them for every slot and page;
 * shadow_again_new_table is the slow path, for a slot with no table yet.
 */
uint32_t *shadow_again_new_table(struct shadow *s, unsigned which, unsigned slot);

static inline uint32_t *shadow_again_table(struct shadow *s, unsigned which, unsigned slot)
{
	uint32_t *table = slot < SHADOW_GUEST_PDES ? s->tables[which][slot] : 0;
	if (!table)		/* (or the VMM's slot: refused there) */
		return shadow_again_new_table(s, which, slot);
	/* What shadow_map marks for a non-global entry, once for them all. */
	s->nonglobal[which][slot / 32] |= 1u << (slot % 32);
	s->nonglobal_words[which] |= 1u << (slot / 32);
	return table;
}

static inline void shadow_put_nonglobal(struct shadow *s, unsigned which, uint32_t *table,
					uint32_t va, uint32_t host_pa, int writable, uint32_t mark)
{
	table[(va >> 12) & 1023] = (host_pa & SHADOW_PTE_FRAME) | SHADOW_PTE_P | SHADOW_PTE_U |
				   (writable ? SHADOW_PTE_W : 0) | mark;
	shadow_note_filled(s, which, va);
}

static inline void shadow_again_put(struct shadow *s, unsigned which, uint32_t *table,
				    uint32_t va, uint32_t host_pa, int writable)
{
	shadow_put_nonglobal(s, which, table, va, host_pa, writable, SHADOW_PTE_AGAIN);
}

/* A page mapped ahead of an access the guest is about to retry (a user
 * page fault's handler returning: core/mmu.c), into a table readied by
 * shadow_again_table: like shadow_again_put, but not counted as a
 * working set's (the access that follows uses it). */
static inline void shadow_ahead_put(struct shadow *s, unsigned which, uint32_t *table,
				    uint32_t va, uint32_t host_pa, int writable)
{
	shadow_put_nonglobal(s, which, table, va, host_pa, writable, 0);
}

/* Drop the translation of va from both tables (invlpg).  Returns 1 when
 * that took a whole 4 MiB page's pieces (the caller must then forget more
 * than va's own cached translation), else 0. */
int shadow_invalidate(struct shadow *s, uint32_t va);

/* Drop every guest translation from both tables (CR3 write, mode change). */
void shadow_flush(struct shadow *s);

/* The pages shadow_flush_nonglobal dropped, as va | which (SHADOW_*): at
 * most max of them are listed in page[], count says how many. */
struct shadow_dropped {
	uint32_t *page;
	unsigned max, count;
	/* Of the entries dropped, how many shadow_again_put made, and how
	 * many of those the CPU used. */
	unsigned again, again_used;
};

/*
 * What a CR3 load does to a TLB (SDM Vol. 3A §4.10.4.1): drop every entry
 * but the global ones, which the guest promises are the same in every
 * address space and drops itself with invlpg or a CR4.PGE toggle.  The
 * pages dropped are listed in *dropped unless it is NULL.
 */
void shadow_flush_nonglobal(struct shadow *s, struct shadow_dropped *dropped);

/* The entry the CPU would use for va in table which (0 if none). */
uint32_t shadow_lookup(const struct shadow *s, unsigned which, uint32_t va);

#endif
