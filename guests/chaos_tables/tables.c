/*
 * chaos_tables: random values written into the guest's own page tables,
 * GDT, LDT, IDT and TSS, the tables reloaded (mov cr3, CR4.PGE toggled,
 * lgdt, lidt, lldt, ltr), then memory and segments touched from both
 * rings, iteration after iteration.  Every outcome (a value read, or the
 * vector, error code and CR2 of the fault) goes into a digest per seed,
 * which must be the same natively and under the VMM.
 *
 * What is corrupted, and what is kept so that every iteration recovers:
 *  - page tables: entries of four page tables and their four PDEs, which
 *    map the "victim" region 0x40000000-0x41000000.  Every value written
 *    is a "safe" entry: its frame is in the scratch RAM at 16-24 MiB (a
 *    4 MiB page: 16 or 20 MiB), and the scratch RAM itself holds only
 *    safe entries, so whatever a random PDE takes for a page table maps
 *    scratch RAM again.  (An entry pointing past guest RAM stops the guest
 *    under the VMM by design.)  The mappings of the guest itself are kept.
 *  - GDT entries 20-30, LDT entries (the LDT lives in scratch RAM, so the
 *    victim mappings may alias it and write it), IDT gates 0x40-0x4f, the
 *    TSS fields no transition here uses, esp0 and ss0 among valid stacks.
 *  - Left out because the VMM documents or was found to differ (see
 *    guests/chaos_repro): segment bases in the VMM's top 64 MiB, task and
 *    16-bit gates, far jumps through system or empty descriptors, 16-bit
 *    code, targets past a code segment's limit, LDT entries past 255, a
 *    kernel data-segment load with RPL > 0, a 16-bit stack segment in the
 *    kernel, a readable code segment in a data segment register, a gate to a
 *    ring 1 or 2 code segment that is not present, and the accessed bit of a PDE
 *    whose page table refused the access.
 *
 * "final=tss|ss0|gdt|idt|pd" on the command line ends instead with a
 * corruption no guest survives: a triple fault (natively a reset), which
 * the VMM must report by stopping the guest ("*** guest stopped by the
 * VMM: ...", status 4).  seeds=... and count=N replay other iterations;
 * "debug" prints every outcome (to diff a native run against the VMM's).
 */
#include "guests/lib/chaos.h"
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define VICTIM        0x40000000u
#define VICTIM_PDES   4u
#define VICTIM_SIZE   (VICTIM_PDES * LARGE_PAGE_SIZE)
#define SCRATCH       0x01000000u
#define SCRATCH_SIZE  0x00800000u
#define SCRATCH_PAGES (SCRATCH_SIZE / PAGE_SIZE)
#define LDT_PAGE      SCRATCH		/* the LDT: 256 entries */
#define LDT_ENTRIES   256u
#define ALT_DS_SEL    (31 << 3)		/* a second flat kernel data segment */
#define TEST_FIRST    GDT_TEST_FIRST	/* 20 */
#define TEST_LAST     30u

extern char tbl_far_landing[], tbl_gate_landing[];
extern uint32_t tbl_far_back;

static pte_t *pd;
static pte_t *victim_pt[VICTIM_PDES];
static uint64_t *const ldt = (uint64_t *)LDT_PAGE;
static uint8_t alt_stack[8192] __attribute__((aligned(16)));
static uint32_t lib_esp0;
static bool have_pge;

/* ---- safe values ---- */

/* A page-table entry whose frame is scratch RAM (never the LDT page as a
 * table: see pt_frame), G set, PS/PAT clear. */
static uint32_t safe_entry(struct rng *r)
{
	uint32_t frame = SCRATCH + (rng_below(r, SCRATCH_PAGES) << 12);
	uint32_t flags = (rng_next(r) & 0xe7e) | (rng_chance(r, 3, 4) ? PTE_P : 0);
	return frame | flags | PTE_G;
}

/* A scratch frame to be taken for a page table: not the LDT's. */
static uint32_t pt_frame(struct rng *r)
{
	return SCRATCH + ((1 + rng_below(r, SCRATCH_PAGES - 1)) << 12);
}

static uint32_t random_pde(struct rng *r, unsigned i)
{
	uint32_t flags = (rng_next(r) & 0xe7e) | (rng_chance(r, 7, 8) ? PTE_P : 0);
	switch (rng_below(r, 6)) {
	case 0: case 1:
		return (uint32_t)victim_pt[i] | flags;
	case 2:
		return (uint32_t)victim_pt[rng_below(r, VICTIM_PDES)] | flags;
	case 3:
		return pt_frame(r) | flags;
	case 4:
		/* A 4 MiB page of scratch RAM; bits 12-21 stay clear. */
		return (SCRATCH + rng_below(r, 2) * LARGE_PAGE_SIZE) | PTE_PS | flags;
	default:
		return rng_next(r) & ~PTE_P;
	}
}

/* A random descriptor: mostly code or data, present, with a base below the
 * VMM's 64 MiB and (for code and data) the accessed bit the CPU would set. */
static uint64_t random_desc(struct rng *r)
{
	uint32_t lo = rng_next(r), hi = rng_next(r);
	if (rng_chance(r, 3, 4))
		hi |= 1u << 12;		/* S */
	if (rng_chance(r, 3, 4))
		hi |= 1u << 15;		/* P */
	if ((hi >> 24) >= 0xfc)
		hi &= 0x7fffffffu;
	if (hi & (1u << 12))
		hi |= 1u << 8;		/* accessed */
	return lo | (uint64_t)hi << 32;
}

static uint32_t desc_base(uint64_t d)
{
	return seg_base(d);
}

static uint32_t desc_limit(uint64_t d)
{
	uint32_t limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 32) & 0xf0000);
	if (d & (1ull << 55))
		limit = (limit << 12) | 0xfff;
	return limit;
}

static bool desc_is(uint64_t d, unsigned bit)
{
	return (d >> bit) & 1;
}

#define D_S   44
#define D_P   47
#define D_DB  54
static unsigned desc_type(uint64_t d) { return (d >> 40) & 0xf; }
static unsigned desc_dpl(uint64_t d) { return (d >> 45) & 3; }
static bool desc_code(uint64_t d) { return desc_is(d, D_S) && (desc_type(d) & 8); }

/* The descriptor a selector names right now (GDT or LDT), or 0. */
static uint64_t lookup(uint16_t sel)
{
	unsigned i = sel >> 3;
	if (sel & 4)
		return i < LDT_ENTRIES ? ldt[i] : 0;
	return i < GDT_ENTRIES ? gdt[i] : 0;
}

/* ---- operations and their outcomes ---- */

enum op_kind { OP_READ, OP_WRITE, OP_FS, OP_SS, OP_FAR, OP_INT };

struct op {
	uint32_t kind, addr, value;
	uint16_t sel;
};

struct outcome {
	uint32_t vector;	/* 0xff: none */
	uint32_t error, cr2, value;
};

#define MAX_OPS 96
static struct op ops[MAX_OPS];
static struct outcome outs[MAX_OPS];
static unsigned nops;

static void int_n(unsigned k)
{
	switch (k) {
#define INT_CASE(n) case n - 0x40: __asm__ volatile(ASM_TRY("1f") "int $" #n "\n1:" \
						    : : : "memory"); break;
	INT_CASE(0x40) INT_CASE(0x41) INT_CASE(0x42) INT_CASE(0x43)
	INT_CASE(0x44) INT_CASE(0x45) INT_CASE(0x46) INT_CASE(0x47)
	INT_CASE(0x48) INT_CASE(0x49) INT_CASE(0x4a) INT_CASE(0x4b)
	INT_CASE(0x4c) INT_CASE(0x4d) INT_CASE(0x4e) INT_CASE(0x4f)
#undef INT_CASE
	}
}

/* Run one operation in the current ring; the same code in both. */
static void do_op(const struct op *o, struct outcome *out)
{
	uint32_t v = 0;
	pf_clear();
	switch (o->kind) {
	case OP_READ:
		__asm__ volatile(ASM_TRY("1f") "movl (%1), %0\n1:"
				 : "+r"(v) : "r"(o->addr) : "memory");
		break;
	case OP_WRITE:
		__asm__ volatile(ASM_TRY("1f") "movl %0, (%1)\n1:"
				 : : "r"(o->value), "r"(o->addr) : "memory");
		break;
	case OP_FS:
		__asm__ volatile(ASM_TRY("1f") "movw %w1, %%fs\n\t"
				 "movl $1, %0\n"
				 "1:"
				 : "+r"(v) : "r"((uint32_t)o->sel) : "memory");
		if (v == 1 && ex_last.count == 0) {
			/* Loaded: read through it, at the victim address. */
			v = 0;
			__asm__ volatile(ASM_TRY("1f") "movl %%fs:(%1), %0\n1:"
					 : "+r"(v) : "r"(o->value) : "memory");
		}
		__asm__ volatile("movw %w0, %%fs" : : "r"(0));
		break;
	case OP_SS:
		__asm__ volatile(ASM_TRY("1f") "movw %w0, %%ss\n\t"
				 "movw %w1, %%ss\n"
				 "1:"
				 : : "r"((uint32_t)o->sel), "r"((uint32_t)KERNEL_DS) : "memory");
		break;
	case OP_FAR: {
		static uint32_t ptr[2];
		ptr[0] = o->value;
		ptr[1] = o->sel;
		__asm__ volatile("movl $2f, tbl_far_back\n\t"
				 ASM_TRY("2f") "ljmp *(%0)\n"
				 "2: movl $0, %%ss:ex_fixup"
				 : : "r"(ptr) : "memory");
		break;
	}
	case OP_INT:
		int_n(o->value);
		break;
	}
	out->vector = ex_last.count ? ex_last.vector : 0xff;
	out->error = ex_last.count ? ex_last.error : 0;
	out->cr2 = pf_last.count ? pf_last.cr2 : 0;
	out->value = v;
	if (ex_last.count > 1)
		out->vector |= 0x100;
	ex_fixup = 0;
}

static uint32_t user_ops(uint32_t first)
{
	for (unsigned i = first; i < nops; i++)
		do_op(&ops[i], &outs[i]);
	return 0;
}

/* ---- the digest and the counts ---- */

static uint32_t digest;
static unsigned n_ops, n_faults[32], n_ok;

static void mix(uint32_t v)
{
	for (unsigned i = 0; i < 4; i++) {
		digest ^= (v >> (8 * i)) & 0xff;
		digest *= 16777619u;
	}
}

static bool debug;
static unsigned iter_no;

static void account(const struct op *o, const struct outcome *out)
{
	if (debug)
		printf("dbg it %u op %u addr %x sel %x val %x -> vec %x err %x cr2 %x v %x\n",
		       iter_no, o->kind, o->addr, o->sel, o->value, out->vector, out->error,
		       out->cr2, out->value);
	mix(o->kind);
	mix(o->addr);
	mix(o->sel);
	mix(out->vector);
	mix(out->error);
	mix(out->cr2);
	mix(out->value);
	n_ops++;
	if (out->vector < 32)
		n_faults[out->vector]++;
	else
		n_ok++;
}

/* ---- one iteration ---- */

/* Gate 0x40 + k made safe for the descriptors as they are now. */
static uint64_t fix_gate(uint64_t g, unsigned k)
{
	uint16_t sel = (g >> 16) & 0xffff;
	if (sel == KERNEL_CS)
		return g;
	uint64_t d = lookup(sel);
	unsigned type = (g >> 40) & 0xf, dpl = (g >> 45) & 3;
	/* Ring 1 and 2 code: the VMM refuses it with #GP even when the CPU
	 * would first find it not present (#NP). */
	if (desc_code(d) && (desc_dpl(d) == 1 || desc_dpl(d) == 2))
		return make_gate(vector_stub(0x40 + k), KERNEL_CS, type, dpl, (g >> 47) & 1);
	if (!desc_code(d) || !desc_is(d, D_P))
		return g;	/* the delivery faults: #GP or #NP */
	uint32_t off = (uint32_t)tbl_gate_landing + 8 * k - desc_base(d);
	uint32_t offset = off;
	if (desc_dpl(d) != 0 || (desc_type(d) & 4) || !desc_is(d, D_DB) ||
	    off > desc_limit(d)) {
		sel = KERNEL_CS;
		offset = vector_stub(0x40 + k);
	}
	return make_gate(offset, sel, type, dpl, (g >> 47) & 1);
}

static void corrupt(struct rng *r)
{
	for (unsigned i = 0; i < 8; i++)
		victim_pt[rng_below(r, VICTIM_PDES)][rng_below(r, 1024)] = safe_entry(r);
	if (rng_chance(r, 1, 3)) {
		unsigned i = rng_below(r, VICTIM_PDES);
		pd[(VICTIM >> 22) + i] = random_pde(r, i);
	}
	for (unsigned i = 0; i < 3; i++)
		gdt[TEST_FIRST + rng_below(r, TEST_LAST - TEST_FIRST + 1)] = random_desc(r);
	for (unsigned i = 0; i < 4; i++)
		ldt[rng_below(r, LDT_ENTRIES)] = random_desc(r);

	/* Gates 0x40-0x4f: no task or 16-bit gates; a random code segment
	 * only when a delivery through it lands in ring 0, 32-bit, within its
	 * limit (then the offset makes base + offset the landing).  Gates of
	 * earlier iterations are checked again: their descriptor may have
	 * changed since. */
	for (unsigned k = 0; k < 16; k++)
		idt[0x40 + k] = fix_gate(idt[0x40 + k], k);
	static const unsigned bad_types[] = { 0, 1, 2, 3, 4, 8, 9, 0xa, 0xb, 0xc, 0xd };
	for (unsigned i = 0; i < 2; i++) {
		unsigned k = rng_below(r, 16), v = 0x40 + k;
		unsigned type = rng_chance(r, 1, 6) ? bad_types[rng_below(r, 11)]
						    : rng_chance(r, 1, 2) ? GATE_INTR : GATE_TRAP;
		unsigned dpl = rng_below(r, 4);
		bool present = rng_chance(r, 7, 8);
		uint16_t sel = KERNEL_CS;
		uint32_t offset = vector_stub(v);
		switch (rng_below(r, 4)) {
		case 0:
			sel = (uint16_t)((TEST_FIRST + rng_below(r, TEST_LAST - TEST_FIRST + 1)) << 3);
			break;
		case 1:
			sel = rng_chance(r, 1, 2) ? 0 : (uint16_t)(0x100 + 8 * rng_below(r, 8));
			break;
		}
		idt[v] = fix_gate(make_gate(offset, sel, type, dpl, present), k);
	}

	/* The TSS: fields nothing here reads, and esp0/ss0 among good ones. */
	tss.esp1 = rng_next(r);
	tss.ss1 = rng_next(r) & 0xffff;
	tss.esp2 = rng_next(r);
	tss.ss2 = rng_next(r) & 0xffff;
	tss.cr3 = rng_next(r);
	tss.eip = rng_next(r);
	tss.eflags = rng_next(r);
	tss.eax = rng_next(r);
	tss.ebp = rng_next(r);
	tss.ldt = rng_next(r) & 0xffff;
	tss.esp0 = rng_chance(r, 1, 2) ? lib_esp0 : (uint32_t)alt_stack + sizeof(alt_stack);
	tss.ss0 = rng_chance(r, 1, 2) ? KERNEL_DS : ALT_DS_SEL;
}

static void reload(void)
{
	write_cr3((uint32_t)pd);
	if (have_pge) {
		/* Global entries survive a CR3 load; this flushes them too. */
		uint32_t cr4 = read_cr4();
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	}
	struct pseudo_desc g = { sizeof(gdt) - 1, (uint32_t)gdt };
	struct pseudo_desc i = { sizeof(idt) - 1, (uint32_t)idt };
	lgdt(&g);
	lidt(&i);
	lldt(LDT_SEL);
	gdt[TSS_SEL >> 3] &= ~(2ull << 40);	/* not busy: ltr marks it again */
	ltr(TSS_SEL);
}

static uint32_t victim_addr(struct rng *r)
{
	uint32_t a = VICTIM + rng_below(r, VICTIM_SIZE);
	/* Mostly aligned; sometimes straddling two pages. */
	return rng_chance(r, 1, 8) ? (a | 0xffe) : (a & ~3u);
}

static uint16_t random_sel(struct rng *r, unsigned rpl)
{
	if (rng_chance(r, 1, 2))
		return (uint16_t)(((TEST_FIRST + rng_below(r, TEST_LAST - TEST_FIRST + 1)) << 3) | rpl);
	return (uint16_t)((rng_below(r, LDT_ENTRIES) << 3) | 4 | rpl);
}

static void add_op(struct op o)
{
	if (nops < MAX_OPS)
		ops[nops++] = o;
}

/* Memory and segment operations for one ring. */
static void plan(struct rng *r, bool user)
{
	for (unsigned i = 0; i < 16; i++) {
		bool write = rng_chance(r, 1, 3);
		add_op((struct op){ write ? OP_WRITE : OP_READ, victim_addr(r),
				    safe_entry(r), 0 });
	}
	for (unsigned i = 0; i < 6; i++) {
		uint16_t sel = random_sel(r, user ? 3 : 0);
		/* A readable code segment in %fs: the VMM makes it null
		 * (chaos_repro code-in-fs). */
		if (desc_code(lookup(sel)) && (desc_type(lookup(sel)) & 2))
			continue;
		/* Read where base + offset is in the victim region. */
		uint32_t off = victim_addr(r) - desc_base(lookup(sel));
		add_op((struct op){ OP_FS, 0, off, sel });
	}
	for (unsigned i = 0; i < 4; i++)
		add_op((struct op){ OP_INT, 0, rng_below(r, 16), 0 });
	if (user)
		return;
	for (unsigned i = 0; i < 3; i++) {
		uint16_t sel = random_sel(r, 0);
		uint64_t d = lookup(sel);
		/* A 16-bit stack: the VMM loses ESP's upper half (chaos_repro
		 * ss16-kernel). */
		if (desc_is(d, D_S) && !desc_code(d) && !desc_is(d, D_DB))
			continue;
		add_op((struct op){ OP_SS, 0, 0, sel });
	}
	for (unsigned i = 0; i < 3; i++) {
		uint16_t sel = (uint16_t)((TEST_FIRST + rng_below(r, TEST_LAST - TEST_FIRST + 1)) << 3);
		uint64_t d = lookup(sel);
		uint32_t off = (uint32_t)tbl_far_landing - desc_base(d);
		if (!desc_is(d, D_S))
			continue;	/* system or empty: see chaos_repro */
		if (desc_code(d) && (!desc_is(d, D_DB) || off > desc_limit(d)))
			continue;	/* 16-bit code, or past the limit */
		add_op((struct op){ OP_FAR, 0, off, sel });
	}
}

static void iteration(struct rng *r)
{
	corrupt(r);
	reload();
	nops = 0;
	plan(r, false);
	unsigned kernel_ops = nops;
	plan(r, true);
	for (unsigned i = 0; i < kernel_ops; i++)
		do_op(&ops[i], &outs[i]);
	run_in_user(user_ops, kernel_ops);
	for (unsigned i = 0; i < nops; i++)
		account(&ops[i], &outs[i]);
}

/* Everything the iterations wrote and the CPU marked (A/D bits). */
static uint32_t memory_digest(void)
{
	uint32_t keep = digest;
	digest = 2166136261u;
	for (unsigned i = 0; i < VICTIM_PDES; i++) {
		/* The PDE's accessed bit aside: see chaos_repro pde-accessed. */
		mix(pd[(VICTIM >> 22) + i] & ~PTE_A);
		for (unsigned k = 0; k < 1024; k++)
			mix(victim_pt[i][k]);
	}
	for (uint32_t *p = (uint32_t *)SCRATCH; p < (uint32_t *)(SCRATCH + SCRATCH_SIZE); p++)
		mix(*p);
	for (unsigned i = TEST_FIRST; i <= TEST_LAST; i++) {
		mix((uint32_t)gdt[i]);
		mix((uint32_t)(gdt[i] >> 32));
	}
	uint32_t d = digest;
	digest = keep;
	return d;
}

/* ---- setup ---- */

static void setup(void)
{
	lib_esp0 = tss.esp0;
	pf_install(NULL, 0);
	if (!enable_pse()) {
		report_skip("no PSE", "chaos tables");
		report_summary();
	}
	have_pge = enable_pge();
	pd = identity_pd(true);
	map_range(pd, SCRATCH, SCRATCH, SCRATCH_SIZE, PTE_W);
	for (unsigned i = 0; i < VICTIM_PDES; i++) {
		victim_pt[i] = (pte_t *)alloc_frame();
		pd[(VICTIM >> 22) + i] = (uint32_t)victim_pt[i] | PTE_P | PTE_W | PTE_U;
	}
	gdt_set(ALT_DS_SEL >> 3, make_seg(0, 0xfffff, SEG_P | SEG_S | SEG_DATA_RW | SEG_ACCESSED,
					  SEG_G | SEG_DB));
	/* Accessed bits set, as a CPU would have by now: the VMM never
	 * writes them into the guest's tables (its mirrors take them). */
	for (unsigned i = 1; i < GDT_ENTRIES; i++)
		if (gdt[i] & (1ull << D_S))
			gdt[i] |= 1ull << 40;
	gdt_set(LDT_SEL >> 3, make_seg(LDT_PAGE, LDT_ENTRIES * 8 - 1, SEG_P | SEG_LDT, 0));
	enable_paging(pd);
}

/* Fill scratch RAM and the victim tables with safe entries. */
static void fill(struct rng *r)
{
	for (uint32_t *p = (uint32_t *)SCRATCH; p < (uint32_t *)(SCRATCH + SCRATCH_SIZE); p++)
		*p = safe_entry(r);
	for (unsigned i = 0; i < VICTIM_PDES; i++) {
		for (unsigned k = 0; k < 1024; k++)
			victim_pt[i][k] = safe_entry(r);
		pd[(VICTIM >> 22) + i] = (uint32_t)victim_pt[i] | PTE_P | PTE_W | PTE_U;
	}
	for (unsigned i = TEST_FIRST; i <= TEST_LAST; i++)
		gdt[i] = random_desc(r);
}

/* ---- the endings ---- */

static uint32_t user_ud2(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("ud2");
	return 0;
}

static void final(const char *what, struct rng *r)
{
	printf("chaos_tables: final: %s\n", what);
	if (strncmp(what, "tss", 3) == 0) {
		printf("chaos_tables: esp0 points at unmapped memory; #UD in user mode\n");
		tss.esp0 = VICTIM + VICTIM_SIZE + 0x1000;
		run_in_user(user_ud2, 0);
	} else if (strncmp(what, "ss0", 3) == 0) {
		printf("chaos_tables: ss0 is a code segment; #UD in user mode\n");
		tss.ss0 = KERNEL_CS;
		run_in_user(user_ud2, 0);
	} else if (strncmp(what, "gdt", 3) == 0) {
		printf("chaos_tables: the kernel code segment is not present; #UD\n");
		gdt[KERNEL_CS >> 3] &= ~(1ull << D_P);
		__asm__ volatile("ud2");
	} else if (strncmp(what, "idt", 3) == 0) {
		printf("chaos_tables: gates 6, 8, 11 and 13 are garbage, not present; #UD\n");
		static const unsigned vs[] = { 6, 8, 11, 13 };
		/* Not present, so no random handler ever runs. */
		for (unsigned i = 0; i < 4; i++)
			idt[vs[i]] = ((uint64_t)rng_next(r) << 32 | rng_next(r)) & ~(1ull << 47);
		__asm__ volatile("ud2");
	} else if (strncmp(what, "pd", 2) == 0) {
		printf("chaos_tables: the PDE of the guest's own code and stack is gone\n");
		pd[IMAGE_START >> 22] = 0;
		reload_cr3();
	}
	report(false, "survived the final corruption");
	report_summary();
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	const char *cmd = chaos_cmdline(mbi);
	static const uint32_t default_seeds[] = { 101, 202, 303, 404 };
	uint32_t seeds[16];
	unsigned nseeds = chaos_seeds(cmd, seeds, 16, default_seeds,
				      sizeof(default_seeds) / sizeof(*default_seeds));
	unsigned iterations = chaos_arg_number(cmd, "count", 60);

	debug = chaos_flag(cmd, "debug");
	setup();
	const char *end = chaos_arg(cmd, "final");
	if (end) {
		struct rng r;
		rng_seed(&r, seeds[0]);
		fill(&r);
		reload();
		final(end, &r);
	}

	for (unsigned s = 0; s < nseeds; s++) {
		struct rng r;
		rng_seed(&r, seeds[s]);
		fill(&r);
		digest = 2166136261u;
		n_ops = n_ok = 0;
		memset(n_faults, 0, sizeof(n_faults));
		for (iter_no = 0; iter_no < iterations; iter_no++)
			iteration(&r);
		report(true, "seed %u: %u operations, %u fine, %u #PF, %u #GP, %u #NP, %u #SS, "
		       "digest %08x", seeds[s], n_ops, n_ok, n_faults[14], n_faults[13],
		       n_faults[11], n_faults[12], digest);
		report(true, "seed %u: tables and memory digest %08x", seeds[s], memory_digest());
		/* The guest's own entries are what they were. */
		report(gdt[KERNEL_CS >> 3] != 0 && str() == TSS_SEL, "seed %u: still running",
		       seeds[s]);
	}
	report_summary();
}
