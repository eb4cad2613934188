/*
 * chaos_hypercalls: hypercalls (include/ringvisor/hypercall.h) with random
 * numbers and arguments from a seeded PRNG: pointers into the VMM's space,
 * past guest RAM, across the end of RAM or of the address space, huge and
 * wrapping lengths, random descriptors and selectors, and batches of random
 * calls.  Each must return what the ABI says (checked against a model of
 * it below) or raise the fault the equivalent instruction would; the VMM
 * must go on running.  Then the same from virtual user mode, where every
 * `int $0x1f` is an ordinary software interrupt (#GP through the DPL 0
 * gate, or delivered to the guest through a DPL 3 one): none may act.
 *
 * After each random call the guest puts its GDT, IDT, LDTR and TR back
 * with hypercalls, before touching memory: a random LOAD_GDT leaves the
 * mirrors (and so the data segment registers the VMM reloads on the way
 * back) meaning anything.  Calls that would end the run are not made:
 * SHUTDOWN outside a batch (inside one it must be refused), and, in a
 * batch, LOAD_LDT or LOAD_TR after a call that changed the tables (the
 * fault they may raise would be delivered through broken tables: a triple
 * fault, as on hardware).  Random GDT bases are kept off the guest's own
 * image, so SET_GDT_ENTRY through them cannot overwrite the test.
 *
 * Phases: paging off, then paging on (with unmapped and read-only pages in
 * the way), then user mode.  Only under the VMM; natively everything is
 * skipped.  seeds=... and count=N (calls per seed and phase) replay others.
 */
#include "guests/lib/chaos.h"
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"
#include "ringvisor/hypercall.h"

#define SCRATCH        0x02000000u	/* 32 MiB: zeros, read by console writes */
#define SCRATCH_TEXT   0x00080000u	/* ... its first 512 KiB stay zero */
#define BATCH_AREA     (SCRATCH + 0x80000)
#define TABLE_AREA     (SCRATCH + 0xc0000)	/* random descriptor tables */
#define SCRATCH_SIZE   0x00100000u
#define LDT_AREA       (TABLE_AREA + 0x20000)
#define TSS16_AREA     (TABLE_AREA + 0x30000)
#define VMM_BASE       0xfc000000u

#define LDT_DESC_SEL   LDT_SEL			/* entry 17: a valid LDT */
#define TSS16_SEL      0x90			/* entry 18: an available 16-bit TSS */

static uint64_t pristine_gdt[GDT_ENTRIES];
static struct rv_pv_irq pv_word __attribute__((aligned(16)));
static uint32_t ram_end;
static pte_t *pd;			/* paging phase: the guest's tables */

/* ---- calling ---- */

struct result {
	uint32_t eax;
	bool raised;
	unsigned vector;
	uint32_t error;
};

/*
 * One hypercall, then the GDT and IDT back and the data segments reloaded,
 * all before any memory access (DS may be null or point anywhere while the
 * mirrors are garbage).  A fault the call raises comes back through the
 * library's handler to the label after it.
 */
static struct result call5(uint32_t nr, uint32_t b, uint32_t c, uint32_t d, uint32_t s)
{
	struct result r = { 0, false, 0, 0 };
	uint32_t out;
	ex_clear();
	__asm__ volatile(ASM_TRY("1f")
			 "int $0x1f\n"
			 "1: movl $0, %%ss:ex_fixup\n\t"
			 "movl %%eax, %%edi\n\t"
			 "movl $3, %%eax\n\t"
			 "movl $gdt, %%ebx\n\t"
			 "movl %[glim], %%ecx\n\t"
			 "int $0x1f\n\t"
			 "movl $4, %%eax\n\t"
			 "movl $idt, %%ebx\n\t"
			 "movl %[ilim], %%ecx\n\t"
			 "int $0x1f\n\t"
			 /* The kernel's code and data descriptors, in case the
			  * call rewrote them in memory: %ds is reloaded next. */
			 "movl $7, %%eax\n\t"
			 "movl $12, %%ebx\n\t"
			 "movl %%ss:pristine_gdt+96, %%ecx\n\t"
			 "movl %%ss:pristine_gdt+100, %%edx\n\t"
			 "int $0x1f\n\t"
			 "movl $7, %%eax\n\t"
			 "movl $13, %%ebx\n\t"
			 "movl %%ss:pristine_gdt+104, %%ecx\n\t"
			 "movl %%ss:pristine_gdt+108, %%edx\n\t"
			 "int $0x1f\n\t"
			 "movl %[ds], %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs"
			 : "=D"(out), "+a"(nr), "+b"(b), "+c"(c), "+d"(d), "+S"(s)
			 : [glim] "i"(sizeof(uint64_t) * GDT_ENTRIES - 1),
			   [ilim] "i"(sizeof(uint64_t) * 256 - 1), [ds] "i"(KERNEL_DS)
			 : "memory", "cc");
	r.eax = out;
	if (ex_last.count) {
		r.raised = true;
		r.vector = ex_last.vector;
		r.error = ex_last.error;
	}
	return r;
}

static uint32_t plain(uint32_t nr, uint32_t b, uint32_t c, uint32_t d)
{
	uint32_t ret;
	__asm__ volatile("int $0x1f" : "=a"(ret) : "a"(nr), "b"(b), "c"(c), "d"(d)
			 : "memory");
	return ret;
}

/* Put back what the random call may have changed and the asm did not. */
static unsigned restore_tables(void)
{
	unsigned fixed = 0;
	for (unsigned i = 1; i < GDT_ENTRIES; i++) {
		if (gdt[i] == pristine_gdt[i])
			continue;
		plain(RV_HC_SET_GDT_ENTRY, i, (uint32_t)pristine_gdt[i],
		      (uint32_t)(pristine_gdt[i] >> 32));
		fixed++;
	}
	if (sldt() != 0)
		plain(RV_HC_LOAD_LDT, 0, 0, 0);
	if (str() != TSS_SEL) {
		/* ltr needs the TSS available; it marks it busy again. */
		uint64_t avail = pristine_gdt[TSS_SEL >> 3] & ~(2ull << 40);
		plain(RV_HC_SET_GDT_ENTRY, TSS_SEL >> 3, (uint32_t)avail,
		      (uint32_t)(avail >> 32));
		plain(RV_HC_LOAD_TR, TSS_SEL, 0, 0);
	}
	return fixed;
}

/* The tables are what they were: the restore worked and nothing else moved. */
static bool tables_intact(void)
{
	struct pseudo_desc g, i;
	sgdt(&g);
	sidt(&i);
	return g.base == (uint32_t)gdt && g.limit == sizeof(gdt) - 1 &&
	       i.base == (uint32_t)idt && i.limit == sizeof(idt) - 1 &&
	       memcmp(gdt, pristine_gdt, sizeof(gdt)) == 0 && sldt() == 0 &&
	       str() == TSS_SEL;
}

/* ---- the model ---- */

/* Whether [addr, addr + len) is guest memory the kernel may read (write). */
static bool accessible(uint32_t addr, uint32_t len, bool write)
{
	if (len == 0)
		return true;
	if (addr + (len - 1) < addr)
		return false;		/* wraps: the end is the VMM's */
	if (!pd)
		return addr < ram_end && len <= ram_end - addr;
	for (uint32_t page = addr & ~0xfffu; ; page += PAGE_SIZE) {
		pte_t pde = *get_pde(pd, page);
		pte_t *pte = get_pte(pd, page);
		if (!(pde & PTE_P) || !pte || !(*pte & PTE_P))
			return false;
		if (write && !(pde & *pte & PTE_W))
			return false;	/* CR0.WP is set */
		uint32_t pa = (*pte & PTE_ADDR);
		if (pa >= ram_end)
			return false;
		if (page >= ((addr + len - 1) & ~0xfffu))
			return true;
	}
}

struct model_gdtr {
	uint32_t base;
	uint32_t limit;
};

/* The descriptor behind sel in the pristine GDT, or false (as vmem_descriptor). */
static bool pristine_desc(uint16_t sel, uint64_t *d)
{
	if (sel & 4)
		return false;		/* no LDT is loaded while a call is made */
	uint32_t off = sel & ~7u;
	if (off == 0 || off + 7 > sizeof(gdt) - 1)
		return false;
	*d = pristine_gdt[off >> 3];
	return true;
}

struct expect {
	bool raise;
	unsigned vector;
	uint32_t error;
	int32_t ret;
};

static struct expect ret_is(int32_t v)
{
	return (struct expect){ false, 0, 0, v };
}

static struct expect raise(unsigned vector, uint32_t error)
{
	return (struct expect){ true, vector, error, 0 };
}

/* lldt/ltr through the hypercall, against the pristine GDT. */
static struct expect model_system(bool tr, uint32_t sel32)
{
	if (sel32 > 0xffff)
		return ret_is(RV_EINVAL);
	uint16_t sel = (uint16_t)sel32;
	if (!tr && (sel & 0xfffc) == 0)
		return ret_is(0);
	uint64_t d;
	if ((tr && (sel & 0xfffc) == 0) || (sel & 4) || !pristine_desc(sel, &d))
		return raise(13, sel & 0xfffc);
	unsigned access = (d >> 40) & 0xff, type = access & 0x1f;
	bool ok = tr ? (type == SEG_TSS32 || type == 0x01) : type == SEG_LDT;
	if (!ok)
		return raise(13, sel & 0xfffc);
	if (!(access & SEG_P))
		return raise(11, sel & 0xfffc);
	return ret_is(0);
}

/* One call as the VMM must do it; g is the GDTR as earlier calls left it. */
static struct expect model_call(uint32_t nr, const uint32_t a[3], bool in_batch,
				struct model_gdtr *g)
{
	switch (nr) {
	case RV_HC_PROBE:
		return ret_is((int32_t)RV_PROBE_MAGIC);
	case RV_HC_CONSOLE_WRITE:
		if (a[1] > 4096)
			return ret_is(RV_EINVAL);
		return ret_is(accessible(a[0], a[1], false) ? (int32_t)a[1] : RV_EFAULT);
	case RV_HC_SHUTDOWN:
		return ret_is(RV_ENOSYS);	/* only ever made in a batch */
	case RV_HC_LOAD_GDT:
	case RV_HC_LOAD_IDT:
		if (a[1] > 0xffff)
			return ret_is(RV_EINVAL);
		if (nr == RV_HC_LOAD_GDT)
			*g = (struct model_gdtr){ a[0], a[1] };
		return ret_is(0);
	case RV_HC_LOAD_LDT:
	case RV_HC_LOAD_TR:
		return model_system(nr == RV_HC_LOAD_TR, a[0]);
	case RV_HC_SET_GDT_ENTRY:
		if (a[0] == 0 || a[0] >= 0x2000 || a[0] * 8 + 7 > g->limit)
			return ret_is(RV_EINVAL);
		return ret_is(accessible(g->base + a[0] * 8, 8, true) ? 0 : RV_EFAULT);
	case RV_HC_PV_IRQ:
		/* A guest-physical address, whatever the paging. */
		if (a[0] & 3)
			return ret_is(RV_EINVAL);
		return ret_is(a[0] < ram_end && ram_end - a[0] >= sizeof(struct rv_pv_irq) ?
			      0 : RV_EFAULT);
	}
	(void)in_batch;
	return ret_is(RV_ENOSYS);
}

/* ---- random arguments ---- */

static uint32_t gen_ptr(struct rng *r)
{
	switch (rng_below(r, 9)) {
	case 0: case 1: return SCRATCH + rng_below(r, SCRATCH_SIZE);
	case 2: return VMM_BASE + rng_next(r) % (0u - VMM_BASE);
	case 3: return 0xffffffffu - rng_below(r, 64);
	case 4: return ram_end - rng_below(r, 8192);
	case 5: return ram_end + rng_below(r, VMM_BASE - ram_end);
	case 6: return VMM_BASE - rng_below(r, 8192);
	case 7: return rng_below(r, 64);
	default: return rng_next(r);
	}
}

static uint32_t gen_len(struct rng *r, uint32_t ptr)
{
	switch (rng_below(r, 8)) {
	case 0: return 0;
	case 1: return 1 + rng_below(r, 16);
	case 2: return 4096;
	case 3: return 4097;
	case 4: return 0xffffffffu;
	case 5: return (0u - ptr) + rng_below(r, 32);	/* wraps past 4 GiB */
	case 6: return rng_below(r, 8192);
	default: return rng_next(r);
	}
}

/* Console text: only the zero-filled scratch, or memory that is not RAM;
 * never the guest's own image (it would print binary). */
static uint32_t console_ptr(uint32_t p)
{
	if (p < SCRATCH + SCRATCH_SIZE)
		return SCRATCH + (p % SCRATCH_TEXT);
	return p;
}

/* A GDT base: anything but the guest's own memory below the scratch. */
static uint32_t table_base(struct rng *r)
{
	uint32_t b = gen_ptr(r);
	if (b < SCRATCH + SCRATCH_SIZE || rng_chance(r, 1, 3))
		b = TABLE_AREA + rng_below(r, 0x10000);
	return b;
}

static uint32_t gen_limit(struct rng *r)
{
	switch (rng_below(r, 5)) {
	case 0: return rng_below(r, 0x100);
	case 1: return 0xffff;
	case 2: return 0x10000 + rng_below(r, 16);
	case 3: return rng_next(r);
	default: return rng_below(r, 0x10000);
	}
}

static uint32_t gen_selector(struct rng *r)
{
	switch (rng_below(r, 6)) {
	case 0: return rng_below(r, 0x100);		/* in the GDT */
	case 1: return LDT_DESC_SEL | rng_below(r, 4);
	case 2: return TSS16_SEL | rng_below(r, 4);
	case 3: return TSS_SEL | rng_below(r, 8);
	case 4: return rng_next(r);
	default: return rng_below(r, 0x10000);
	}
}

static uint32_t gen_nr(struct rng *r)
{
	switch (rng_below(r, 12)) {
	case 0: return RV_HC_COUNT + rng_below(r, 8);
	case 1: return rng_next(r);
	default: return rng_below(r, RV_HC_COUNT);
	}
}

/* Arguments for call nr.  changed_tables: an earlier call of the batch
 * moved or rewrote the tables (then no LDT/TR loads, see above). */
static uint32_t gen_call(struct rng *r, uint32_t nr, uint32_t a[3], bool changed_tables)
{
	a[0] = rng_next(r);
	a[1] = rng_next(r);
	a[2] = rng_next(r);
	switch (nr) {
	case RV_HC_CONSOLE_WRITE:
		a[0] = console_ptr(gen_ptr(r));
		a[1] = gen_len(r, a[0]);
		break;
	case RV_HC_LOAD_GDT:
	case RV_HC_LOAD_IDT:
		a[0] = rng_chance(r, 1, 4) ? (uint32_t)(nr == RV_HC_LOAD_GDT ? (uint32_t)gdt
									    : (uint32_t)idt)
					   : table_base(r);
		a[1] = gen_limit(r);
		break;
	case RV_HC_LOAD_LDT:
	case RV_HC_LOAD_TR:
		if (changed_tables)
			return RV_HC_PROBE;
		a[0] = gen_selector(r);
		break;
	case RV_HC_PV_IRQ:
		/* Registered, the VMM writes the word on every exit and takes
		 * the guest's IF from it: only our own word, or the very top
		 * of RAM (free), or places it must refuse. */
		switch (rng_below(r, 8)) {
		case 0: case 1: a[0] = (uint32_t)&pv_word; break;
		case 2: a[0] = (uint32_t)&pv_word + 1 + rng_below(r, 3); break;
		case 3: a[0] = ram_end - 4 * (1 + rng_below(r, 4)); break;
		case 4: a[0] = ram_end + 4 * rng_below(r, 4); break;
		case 5: a[0] = VMM_BASE + 4 * rng_below(r, 0x1000); break;
		case 6: a[0] = 0xfffffffcu; break;
		default: a[0] = ram_end + (rng_next(r) % (0u - ram_end)); break;
		}
		break;
	case RV_HC_SET_GDT_ENTRY:
		a[0] = rng_chance(r, 3, 4) ? rng_below(r, 40) : rng_next(r);
		if (rng_chance(r, 1, 2)) {
			/* Something that looks like a descriptor. */
			a[2] = (a[2] & 0xfff0ffffu) | 0x00008000u;
		}
		break;
	}
	return nr;
}

/* ---- statistics ---- */

static const char *call_name(uint32_t nr)
{
	switch (nr) {
	case RV_HC_PROBE: return "probe";
	case RV_HC_CONSOLE_WRITE: return "console write";
	case RV_HC_SHUTDOWN: return "shutdown";
	case RV_HC_LOAD_GDT: return "load gdt";
	case RV_HC_LOAD_IDT: return "load idt";
	case RV_HC_LOAD_LDT: return "load ldt";
	case RV_HC_LOAD_TR: return "load tr";
	case RV_HC_SET_GDT_ENTRY: return "set gdt entry";
	case RV_HC_BATCH: return "batch";
	case RV_HC_PV_IRQ: return "pv irq";
	}
	return "no such call";
}

struct stats {
	unsigned calls, ok, einval, efault, enosys, faults, mismatches;
};
static struct stats stats[RV_HC_COUNT + 1];

static void count(uint32_t nr, const struct result *got)
{
	struct stats *s = &stats[nr < RV_HC_COUNT ? nr : RV_HC_COUNT];
	s->calls++;
	if (got->raised)
		s->faults++;
	else if ((int32_t)got->eax >= 0)
		s->ok++;
	else if ((int32_t)got->eax == RV_EINVAL)
		s->einval++;
	else if ((int32_t)got->eax == RV_EFAULT)
		s->efault++;
	else if ((int32_t)got->eax == RV_ENOSYS)
		s->enosys++;
}

static unsigned mismatches, broken_tables;

static void compare(const char *what, uint32_t nr, const struct expect *e,
		    const struct result *got, const uint32_t a[3])
{
	bool ok = e->raise ? got->raised && got->vector == e->vector && got->error == e->error
			   : !got->raised && (int32_t)got->eax == e->ret;
	count(nr, got);
	if (ok)
		return;
	stats[nr < RV_HC_COUNT ? nr : RV_HC_COUNT].mismatches++;
	if (mismatches++ < 5) {
		if (e->raise)
			detail("want vector %u error 0x%x", e->vector, e->error);
		else
			detail("want %d", e->ret);
		if (got->raised)
			detail("got vector %u error 0x%x", got->vector, got->error);
		else
			detail("got %d", (int32_t)got->eax);
		report(false, "%s call 0x%x (0x%x, 0x%x, 0x%x)", what, nr, a[0], a[1], a[2]);
	}
}

/* ---- one random call, one random batch ---- */

static struct rv_hypercall *const batch_list = (struct rv_hypercall *)BATCH_AREA;

static void random_single(struct rng *r)
{
	uint32_t a[3];
	uint32_t nr = gen_nr(r);
	if (nr == RV_HC_SHUTDOWN || nr == RV_HC_BATCH)
		nr = RV_HC_PROBE;
	nr = gen_call(r, nr, a, false);
	struct model_gdtr g = { (uint32_t)gdt, sizeof(gdt) - 1 };
	struct expect e = model_call(nr, a, false, &g);
	struct result got = call5(nr, a[0], a[1], a[2], rng_next(r));
	restore_tables();
	compare("single", nr, &e, &got, a);
	if (!tables_intact())
		broken_tables++;
}

static void random_batch(struct rng *r)
{
	uint32_t count_ = rng_chance(r, 1, 8) ? RV_BATCH_MAX + rng_below(r, 4)
					      : rng_below(r, 9);
	uint32_t list = rng_chance(r, 7, 8) ? (uint32_t)batch_list : gen_ptr(r);
	/* Never a list in the guest's own memory or the random tables (their
	 * bytes would be random calls, LOAD_TR after LOAD_GDT among them). */
	if (list < SCRATCH)
		list = SCRATCH + list % SCRATCH_TEXT;
	else if (list >= TABLE_AREA && list < SCRATCH + SCRATCH_SIZE)
		list = (uint32_t)batch_list;
	bool changed = false;
	for (unsigned i = 0; i < RV_BATCH_MAX + 4; i++) {
		uint32_t a[3];
		uint32_t nr = gen_nr(r);
		nr = gen_call(r, nr, a, changed);
		/* Moved or rewritten tables, or a TSS now busy: what a later
		 * lldt/ltr would find is no longer the pristine GDT. */
		if (nr == RV_HC_LOAD_GDT || nr == RV_HC_LOAD_IDT || nr == RV_HC_SET_GDT_ENTRY ||
		    nr == RV_HC_LOAD_TR)
			changed = true;
		batch_list[i] = (struct rv_hypercall){ nr, { a[0], a[1], a[2] } };
	}

	/* The model: the entries in order, until the first error. */
	struct expect e = ret_is((int32_t)count_);
	struct model_gdtr g = { (uint32_t)gdt, sizeof(gdt) - 1 };
	if (count_ > RV_BATCH_MAX) {
		e = ret_is(RV_EINVAL);
	} else {
		for (uint32_t i = 0; i < count_; i++) {
			uint32_t at = list + i * sizeof(struct rv_hypercall);
			if (!accessible(at, sizeof(struct rv_hypercall), false)) {
				e = ret_is(RV_EFAULT);
				break;
			}
			/* Entries outside our list are zeros (RAM we never wrote):
			 * probes, which succeed. */
			struct rv_hypercall hc = { 0, { 0, 0, 0 } };
			if (at >= (uint32_t)batch_list &&
			    at < (uint32_t)(batch_list + RV_BATCH_MAX + 4))
				hc = batch_list[(at - (uint32_t)batch_list) / sizeof(hc)];
			else if (at >= SCRATCH && at < SCRATCH + SCRATCH_SIZE)
				hc = *(struct rv_hypercall *)at;
			if (hc.nr == RV_HC_BATCH) {
				e = ret_is(RV_ENOSYS);
				break;
			}
			struct expect one = model_call(hc.nr, hc.arg, true, &g);
			if (one.raise) {
				e = one;
				break;
			}
			if (one.ret < 0) {
				e = one;
				break;
			}
		}
	}
	uint32_t a[3] = { list, count_, 0 };
	struct result got = call5(RV_HC_BATCH, list, count_, rng_next(r), rng_next(r));
	restore_tables();
	compare("batch", RV_HC_BATCH, &e, &got, a);
	if (!tables_intact())
		broken_tables++;
}

/* ---- user mode: int $0x1f is just an interrupt there ---- */

static bool idt_dpl3;
static struct rng user_rng;
static unsigned user_faults, user_wrong, user_delivered, user_changed_regs;
static uint32_t user_regs[5];

static void user_hc_handler(struct ex_regs *regs)
{
	/* The DPL 3 gate: the guest's own vector 0x1f, registers untouched. */
	user_delivered++;
	if (regs->eax != user_regs[0] || regs->ebx != user_regs[1] ||
	    regs->ecx != user_regs[2] || regs->edx != user_regs[3] ||
	    regs->esi != user_regs[4])
		user_changed_regs++;
}

static uint32_t user_calls(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nr = rng_below(&user_rng, 4) == 0 ? RV_HC_SHUTDOWN : gen_nr(&user_rng);
		user_regs[0] = nr;
		for (unsigned k = 1; k < 5; k++)
			user_regs[k] = rng_next(&user_rng);
		ex_clear();
		uint32_t eax = user_regs[0];
		__asm__ volatile(ASM_TRY("1f")
				 "int $0x1f\n"
				 "1: movl $0, %%ss:ex_fixup"
				 : "+a"(eax)
				 : "b"(user_regs[1]), "c"(user_regs[2]), "d"(user_regs[3]),
				   "S"(user_regs[4])
				 : "memory");
		if (ex_last.count == 1 && ex_last.vector == 13 &&
		    ex_last.error == RV_HYPERCALL_VECTOR * 8 + 2)
			user_faults++;
		else if (ex_last.count != 0 || idt_dpl3 == 0)
			user_wrong++;
		if (eax != nr)
			user_changed_regs++;
	}
	return 0;
}

/* ---- phases ---- */

static void run_calls(const char *phase, const uint32_t *seeds, unsigned nseeds,
		      unsigned per_seed)
{
	mismatches = 0;
	broken_tables = 0;
	memset(stats, 0, sizeof(stats));
	for (unsigned s = 0; s < nseeds; s++) {
		struct rng r;
		rng_seed(&r, seeds[s] ^ (pd ? 0x5a5a0000u : 0));
		for (unsigned i = 0; i < per_seed; i++) {
			if (rng_chance(&r, 1, 4))
				random_batch(&r);
			else
				random_single(&r);
		}
	}
	for (unsigned nr = 0; nr <= RV_HC_COUNT; nr++) {
		const struct stats *s = &stats[nr];
		if (!s->calls)
			continue;
		printf("%s: %-14s %5u calls: %u ok, %u EINVAL, %u EFAULT, %u ENOSYS, "
		       "%u faults\n", phase, call_name(nr), s->calls, s->ok, s->einval,
		       s->efault, s->enosys, s->faults);
	}
	if (mismatches)
		detail("%u calls returned something else than the ABI says", mismatches);
	report(mismatches == 0, "%s: every call did what the ABI says", phase);
	report_eq(broken_tables, 0, "%s: tables restored after every call", phase);
	report_eq(plain(RV_HC_PROBE, 0, 0, 0), RV_PROBE_MAGIC, "%s: the VMM still answers",
		  phase);
}

/* RAM ends where a one-byte console write of zeros stops working. */
static uint32_t find_ram_end(void)
{
	uint32_t lo = SCRATCH, hi = VMM_BASE;	/* lo readable, hi not */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (plain(RV_HC_CONSOLE_WRITE, mid, 1, 0) == 1)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

static void paging_setup(void)
{
	pd = identity_pd(false);
	map_range(pd, SCRATCH, SCRATCH, SCRATCH_SIZE, PTE_W);
	/* Holes: an unmapped page in the console text, one in the batch
	 * area, and a read-only page among the random tables. */
	unmap_page(pd, SCRATCH + 0x3000);
	unmap_page(pd, BATCH_AREA + 0x1000 * 8);
	*get_pte(pd, TABLE_AREA + 0x4000) &= ~PTE_W;
	/* The top of RAM, mapped at its own address, to end where RAM ends. */
	map_range(pd, ram_end - 0x4000, ram_end - 0x4000, 0x4000, PTE_W);
	enable_paging(pd);
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	const char *cmd = chaos_cmdline(mbi);
	static const uint32_t default_seeds[] = { 11, 22, 33, 44 };
	uint32_t seeds[16];
	unsigned nseeds = chaos_seeds(cmd, seeds, 16, default_seeds,
				      sizeof(default_seeds) / sizeof(*default_seeds));
	unsigned per_seed = chaos_arg_number(cmd, "count", 600);

	/* Natively int $0x1f is an ordinary vector: nothing to test. */
	handle_exception(RV_HYPERCALL_VECTOR, user_hc_handler);
	uint32_t probe = RV_HC_PROBE;
	__asm__ volatile("int $0x1f" : "+a"(probe) : : "memory");
	if (probe != RV_PROBE_MAGIC) {
		report_skip("no ringvisor VMM", "chaos hypercalls");
		report_summary();
	}
	handle_exception(RV_HYPERCALL_VECTOR, NULL);

	/* An LDT and a 16-bit TSS the random selectors can find, both with
	 * random contents. */
	struct rng fill;
	rng_seed(&fill, 0xc0ffee);
	for (uint32_t *p = (uint32_t *)LDT_AREA; p < (uint32_t *)(LDT_AREA + 0x2000); p++)
		*p = rng_next(&fill);
	for (uint32_t *p = (uint32_t *)TSS16_AREA; p < (uint32_t *)(TSS16_AREA + 0x100); p++)
		*p = rng_next(&fill);
	for (uint32_t *p = (uint32_t *)TABLE_AREA; p < (uint32_t *)(TABLE_AREA + 0x20000); p++)
		*p = rng_next(&fill);
	gdt_set(LDT_DESC_SEL >> 3, make_seg(LDT_AREA, 0x1fff, SEG_P | SEG_LDT, 0));
	gdt_set(TSS16_SEL >> 3, make_seg(TSS16_AREA, 0x2b, SEG_P | 0x01, 0));
	memcpy(pristine_gdt, gdt, sizeof(gdt));

	ram_end = find_ram_end();
	printf("chaos_hypercalls: guest RAM ends at 0x%08x; %u seeds, %u calls each\n",
	       ram_end, nseeds, per_seed);

	run_calls("paging off", seeds, nseeds, per_seed);
	paging_setup();
	run_calls("paging on", seeds, nseeds, per_seed / 2);
	disable_paging();
	pd = NULL;

	/* User mode, through the library's DPL 0 gate, then a DPL 3 one. */
	for (unsigned dpl = 0; dpl <= 3; dpl += 3) {
		idt_dpl3 = dpl == 3;
		idt_set_gate(RV_HYPERCALL_VECTOR, GATE_INTR, dpl);
		handle_exception(RV_HYPERCALL_VECTOR, dpl ? user_hc_handler : NULL);
		user_faults = user_wrong = user_delivered = user_changed_regs = 0;
		rng_seed(&user_rng, seeds[0] + dpl);
		run_in_user(user_calls, per_seed / 2);
		if (dpl == 0)
			report(user_faults == per_seed / 2 && !user_wrong && !user_changed_regs,
			       "user mode: every int $0x1f is #GP(0xfa), nothing done");
		else
			report(user_delivered == per_seed / 2 && !user_wrong &&
			       !user_changed_regs,
			       "user mode: a dpl 3 gate delivers int $0x1f to the guest");
	}
	idt_set_gate(RV_HYPERCALL_VECTOR, GATE_INTR, 0);
	handle_exception(RV_HYPERCALL_VECTOR, NULL);
	memcpy(pristine_gdt, gdt, sizeof(gdt));
	report(tables_intact(), "tables intact at the end");
	report_summary();
}
