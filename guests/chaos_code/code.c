/*
 * chaos_code: random byte sequences run as virtual-kernel code and as
 * virtual-user code, thousands of them from a fixed list of seeds, each
 * followed by int3 and ud2 so that it comes back.  Whatever a sequence
 * does, it ends in one of the guest's 256 handlers (or its sysenter
 * entry), which restore the harness; the guest then reloads its GDT, IDT
 * and (if touched) CR0, LDTR and TR, and goes on.  The VMM must survive
 * every sequence: no panic, no hang, no stop of the guest.
 *
 * Kernel sequences run on an address space of their own in which the
 * guest's image, page tables and descriptor tables are read-only and only
 * a stack and a scratch area are writable; the filter (filter.h) keeps out
 * of them what would end the machine or wreck the harness.  User
 * sequences may do anything the CPU lets them, except what the VMM is
 * known to answer by stopping the guest (guests/chaos_repro); a one-shot
 * PIT interrupt ends the ones that loop.  One sequence in eight is placed
 * at the very end of its page, cut short, so that the fetch runs into the
 * unmapped page after it.
 *
 * The output counts sequences, the vectors that ended them and the
 * instructions the filter refused; only the PASS/FAIL lines are checked.
 * Command line: seeds=a,b,... count=N (sequences per ring, default 2000),
 * kernel-only, user-only, show=N (print the first N sequences' bytes).
 */
#include "guests/chaos_code/filter.h"
#include "guests/chaos_code/insn.h"
#include "guests/lib/chaos.h"
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"
#include "lib/format.h"
#include "ringvisor/hypercall.h"

#define CODE_VA        0x00900000u	/* the code page; the next is unmapped */
#define CODE_WRITE_VA  0x0f000000u	/* the same frame, writable, for the harness */
#define KSTACK         0x00a00000u	/* kernel sequences' stack ... */
#define KSTACK_START   0x00a40000u	/* ... where ESP starts */
#define KSTACK_END     0x00a50000u
#define RING0_STACK    0x00a60000u	/* TSS esp0: user -> kernel */
#define RING0_TOP      0x00a64000u
#define SYS_STACK      0x00a70000u	/* SYSENTER_ESP */
#define SYS_TOP        0x00a71000u
#define KSCRATCH       0x00b00000u
#define SCRATCH_SIZE   0x00010000u
#define USTACK         0x00c00000u
#define USTACK_START   0x00c08000u
#define USTACK_END     0x00c10000u
#define USCRATCH       0x00c20000u

#define PUSH_BUDGET    (192 * 1024)	/* below KSTACK_START, above KSTACK */
#define PAD_INT3       16
#define PAD_UD2        4
#define MAX_INSNS      14
#define WATCHDOG_COUNT 0xffff		/* 55 ms of PIT input clocks */
#define VEC_SYSENTER   256

struct cc_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi, ebp, esp, eflags;
};

extern char cc_stubs[], cc_sysenter_landing[];
extern uint32_t cc_pd_main, cc_pd_k, cc_code_entry, cc_caught_vector, cc_caught_w[6];
void cc_run_kernel(const struct cc_regs *r);
void cc_run_user(const struct cc_regs *r);

static uint64_t pristine_gdt[GDT_ENTRIES], pristine_idt[256];
static uint8_t *const code_w = (uint8_t *)CODE_WRITE_VA;

/* ---- generating a sequence ---- */

struct seq {
	uint8_t bytes[160];
	unsigned len;			/* bytes of instructions */
	unsigned start[MAX_INSNS + 1];
	unsigned n;
	bool tail;			/* cut short at the end of the page */
	bool sys;			/* touches CR0, LDTR, TR or the like */
};

static unsigned refused[2][R_COUNT];

static bool system_slot(uint16_t sel)
{
	if (sel & 4)
		return false;		/* no LDT: the VMM answers #GP */
	unsigned i = sel >> 3;
	if (i == 0 || i >= GDT_ENTRIES)
		return false;
	return !((pristine_gdt[i] >> 44) & 1);	/* S = 0: system, or empty */
}

static void gen(struct rng *r, struct seq *s, bool user)
{
	unsigned want = 1 + rng_below(r, MAX_INSNS), push = 0;
	s->len = s->n = 0;
	s->sys = false;
	while (s->n < want && s->len < 100) {
		uint8_t b[15];
		struct dinsn d;
		bool got = false;
		for (unsigned tries = 0; tries < 100 && !got; tries++) {
			for (unsigned i = 0; i < 15; i++)
				b[i] = (uint8_t)rng_next(r);
			if (!insn_decode(b, 15, &d))
				continue;	/* more than 15 bytes: #GP, not useful */
			/* Uniform bytes make most instructions touch memory at a
			 * random 32-bit displacement, and most sequences end at
			 * their first such access.  Go deeper: often a register
			 * operand, or a small displacement. */
			if (d.modrm && d.mod != 3 && rng_chance(r, 1, 3)) {
				b[d.modrm_at] |= 0xc0;
				if (!insn_decode(b, 15, &d))
					continue;
			} else if (d.disp_len == 4 && rng_chance(r, 2, 3)) {
				int32_t small = (int32_t)rng_below(r, 256) - 128;
				for (unsigned k = 0; k < 4; k++)
					b[d.disp_at + k] = (uint8_t)((uint32_t)small >> (8 * k));
			}
			enum reason why;
			if (user) {
				why = filter_user(&d, system_slot);
			} else {
				unsigned p = push;
				why = filter_kernel(&d, &p);
				if (why == R_OK && p > PUSH_BUDGET)
					why = R_STACK;
				if (why == R_OK)
					push = p;
			}
			if (why != R_OK) {
				refused[user][why]++;
				continue;
			}
			got = true;
		}
		if (!got)
			break;
		if (d.map == MAP0F && (d.op <= 0x01 || d.op == 0x06 || d.op == 0x22 ||
				       d.op == 0x23))
			s->sys = true;
		if (d.map == MAP1 && (d.op == 0x8e || d.op == 0x17))
			s->sys = true;
		s->start[s->n++] = s->len;
		for (unsigned i = 0; i < d.len; i++)
			s->bytes[s->len++] = b[i];
	}
	s->start[s->n] = s->len;
	s->tail = s->n >= 2 && rng_chance(r, 1, 8) &&
		  s->start[s->n] - s->start[s->n - 1] >= 2;

	/* Relative branches: forward, to an instruction's start or (unless
	 * the sequence is cut) into the pad; else they become nops.  In user
	 * mode only backward ones go (loops are the watchdog's, but these
	 * would be most of them). */
	for (unsigned i = 0; i < s->n; i++) {
		struct dinsn d;
		int32_t rel;
		unsigned at = s->start[i], next = s->start[i + 1];
		if (!insn_decode(s->bytes + at, next - at, &d) || !insn_rel_branch(&d, &rel))
			continue;
		int64_t target = (int64_t)next + rel;
		bool ok = target > (int64_t)at;
		if (!user && ok) {
			ok = false;
			for (unsigned j = i + 1; j <= s->n; j++)
				if (target == s->start[j])
					ok = true;
			if (!s->tail && target >= s->len && target < s->len + PAD_INT3)
				ok = true;
			if (s->tail && target == s->len)
				ok = false;
		}
		if (!ok) {
			refused[user][R_BRANCH]++;
			for (unsigned k = at; k < next; k++)
				s->bytes[k] = 0x90;
		}
	}
}

/* Write the sequence into the code page; return where it starts. */
static uint32_t place(struct rng *r, const struct seq *s)
{
	memset(code_w, 0xcc, PAGE_SIZE);
	if (s->tail) {
		/* The last instruction runs off the page: cut 1 or more bytes. */
		unsigned last = s->start[s->n - 1];
		unsigned cut = 1 + rng_below(r, s->len - last - 1);
		unsigned keep = s->len - cut;
		memcpy(code_w + PAGE_SIZE - keep, s->bytes, keep);
		return CODE_VA + PAGE_SIZE - keep;
	}
	unsigned off = 0x100 + rng_below(r, 0x800);
	memcpy(code_w + off, s->bytes, s->len);
	/* int3 x 16, then ud2 x 4: whatever the last instruction swallowed. */
	for (unsigned i = 0; i < PAD_UD2; i++) {
		code_w[off + s->len + PAD_INT3 + 2 * i] = 0x0f;
		code_w[off + s->len + PAD_INT3 + 2 * i + 1] = 0x0b;
	}
	return CODE_VA + off;
}

static uint32_t reg_value(struct rng *r, bool user)
{
	uint32_t scratch = user ? USCRATCH : KSCRATCH;
	switch (rng_below(r, 12)) {
	case 0: return 0;
	case 1: return rng_below(r, 256);
	case 2: case 3: case 4: case 5:
		return scratch + (rng_below(r, SCRATCH_SIZE) & ~3u);
	case 6: return (user ? USTACK_START : KSTACK_START) - rng_below(r, 0x400);
	case 7: return CODE_VA + rng_below(r, PAGE_SIZE);
	case 8: return 0xffffffffu - rng_below(r, 4);
	case 9: return 0x80000000u + rng_below(r, 16);
	case 10: return IMAGE_START + rng_below(r, 0x10000);
	default: return rng_next(r);
	}
}

static void gen_regs(struct rng *r, struct cc_regs *g, bool user)
{
	g->eax = reg_value(r, user);
	g->ebx = reg_value(r, user);
	g->ecx = rng_chance(r, 1, 2) ? rng_below(r, 64) : reg_value(r, user);
	g->edx = reg_value(r, user);
	g->esi = reg_value(r, user);
	g->edi = reg_value(r, user);
	g->ebp = reg_value(r, user);
	/* Mostly aligned, one in eight not. */
	uint32_t below = rng_below(r, 64) & ~(rng_chance(r, 7, 8) ? 3u : 0u);
	g->esp = (user ? USTACK_START : KSTACK_START) - below;
	uint32_t flags = 0x2 | (rng_next(r) & 0xcd5);	/* CF PF AF ZF SF DF OF */
	if (!rng_chance(r, 1, 4))
		flags &= ~EFLAGS_DF;
	if (rng_chance(r, 1, 32))
		flags |= EFLAGS_TF;
	if (rng_chance(r, 1, 32))
		flags |= EFLAGS_AC;
	if (user || rng_chance(r, 1, 8))
		flags |= EFLAGS_IF;
	g->eflags = flags;
}

/* ---- running one and cleaning up ---- */

struct ring_stats {
	unsigned sequences, vectors[VEC_SYSENTER + 1], timeouts, tails, escaped, broken;
	unsigned sys;
};
static struct ring_stats stats[2];
static unsigned show;

/* Parse the caught frame: where did it come from? */
static void frame(uint32_t *eip, uint32_t *cs)
{
	const uint32_t *w = cc_caught_w;
	/* Without an error code, CS is the second word; with one, the third
	 * (an `int n` on an error-code vector pushes none). */
	if ((w[1] & 0xffff) == KERNEL_CS || (w[1] & 0xffff) == USER_CS) {
		*eip = w[0];
		*cs = w[1] & 0xffff;
	} else {
		*eip = w[1];
		*cs = w[2] & 0xffff;
	}
}

static uint32_t cr0_saved;

static void restore(const struct seq *s)
{
	__asm__ volatile("fninit");
	struct pseudo_desc g = { sizeof(gdt) - 1, (uint32_t)gdt };
	struct pseudo_desc i = { sizeof(idt) - 1, (uint32_t)idt };
	lgdt(&g);
	lidt(&i);
	if (s->sys) {
		if (read_cr0() != cr0_saved)
			write_cr0(cr0_saved);
		if (sldt() != 0)
			lldt(0);
		if (str() != TSS_SEL) {
			gdt[TSS_SEL >> 3] &= ~(2ull << 40);
			ltr(TSS_SEL);
		}
	}
}

static bool tables_intact(void)
{
	return memcmp(gdt, pristine_gdt, sizeof(gdt)) == 0 &&
	       memcmp(idt, pristine_idt, sizeof(idt)) == 0;
}

static void run_one(struct rng *r, bool user)
{
	struct seq s;
	struct cc_regs g;
	struct ring_stats *st = &stats[user];
	gen(r, &s, user);
	cc_code_entry = place(r, &s);
	gen_regs(r, &g, user);
	if (show) {
		show--;
		printf("%s seq %u at %x:", user ? "user" : "kernel", st->sequences, cc_code_entry);
		for (unsigned i = 0; i < s.len; i++)
			printf(" %02x", s.bytes[i]);
		printf("%s\n", s.tail ? " (cut)" : "");
	}
	cc_caught_vector = 0xffffffffu;
	if (user) {
		pit_oneshot(WATCHDOG_COUNT);
		cc_run_user(&g);
		pit_stop();
	} else {
		cc_run_kernel(&g);
	}
	unsigned v = cc_caught_vector;
	st->sequences++;
	st->tails += s.tail;
	st->sys += s.sys;
	if (v > VEC_SYSENTER) {
		st->broken++;
		v = VEC_SYSENTER;
	}
	st->vectors[v]++;
	/* Vector 0x20 is IRQ 0: the watchdog in user mode; in the kernel an
	 * interrupt the firmware's timer left pending, taken by a sequence
	 * that enabled interrupts, or an int $0x20.  The EOI is harmless for
	 * the last (nothing in service) and needed for the others, or IRQ 0
	 * would stay in service and the watchdog silent. */
	if (v == 0x20) {
		st->timeouts += user;
		pic_eoi(0);
	}
	if (show)
		printf("  -> vector %u, words %x %x %x %x\n", v, cc_caught_w[0], cc_caught_w[1],
		       cc_caught_w[2], cc_caught_w[3]);
	/* A kernel sequence never leaves its page (the filter sees to it):
	 * any frame from kernel mode must point into it. */
	if (!user && v != VEC_SYSENTER) {
		uint32_t eip, cs;
		frame(&eip, &cs);
		if (cs == KERNEL_CS && (eip < CODE_VA || eip > CODE_VA + PAGE_SIZE)) {
			if (st->escaped++ < 3) {
				printf("escaped: vector %u eip %x, bytes:", v, eip);
				for (unsigned i = 0; i < s.len; i++)
					printf(" %02x", s.bytes[i]);
				printf("\n");
			}
		}
	}
	restore(&s);
	if (!tables_intact()) {
		st->broken++;
		memcpy(gdt, pristine_gdt, sizeof(gdt));
		memcpy(idt, pristine_idt, sizeof(idt));
	}
}

/* ---- setup ---- */

static pte_t *pd_main, *pd_k;

static void setup(void)
{
	pd_main = identity_pd(false);
	map_page(pd_main, CODE_VA, CODE_VA, PTE_U);			/* user, read-only */
	unmap_page(pd_main, CODE_VA + PAGE_SIZE);
	map_range(pd_main, USTACK, USTACK, USTACK_END - USTACK, PTE_U | PTE_W);
	map_range(pd_main, USCRATCH, USCRATCH, SCRATCH_SIZE, PTE_U | PTE_W);
	map_page(pd_main, CODE_WRITE_VA, CODE_VA, PTE_W);

	/* The kernel sequences' address space: 1-16 MiB (the guest, its
	 * tables, the code page) read-only, a few writable areas, nothing
	 * for user mode, nothing else (not the first MiB, not the page after
	 * the code page). */
	pd_k = new_pd();
	map_range(pd_k, IMAGE_START, IMAGE_START, IDENTITY_END - IMAGE_START, 0);
	map_range(pd_k, KSTACK, KSTACK, KSTACK_END - KSTACK, PTE_W);
	map_range(pd_k, RING0_STACK, RING0_STACK, RING0_TOP - RING0_STACK, PTE_W);
	map_range(pd_k, SYS_STACK, SYS_STACK, SYS_TOP - SYS_STACK, PTE_W);
	map_range(pd_k, KSCRATCH, KSCRATCH, SCRATCH_SIZE, PTE_W);
	unmap_page(pd_k, CODE_VA + PAGE_SIZE);
	cc_pd_main = (uint32_t)pd_main;
	cc_pd_k = (uint32_t)pd_k;

	for (unsigned v = 0; v < 256; v++)
		idt[v] = make_gate((uint32_t)cc_stubs + 16 * v, KERNEL_CS, GATE_INTR, 0, true);
	idt[USER_RETURN_VECTOR] = make_gate((uint32_t)cc_stubs + 16 * USER_RETURN_VECTOR,
					    KERNEL_CS, GATE_INTR, 3, true);
	/* Accessed bits set: the CPU would write them into a read-only GDT. */
	for (unsigned i = 1; i < GDT_ENTRIES; i++)
		if (gdt[i] & (1ull << 44))
			gdt[i] |= 1ull << 40;
	tss.esp0 = RING0_TOP;
	memcpy(pristine_gdt, gdt, sizeof(gdt));
	memcpy(pristine_idt, idt, sizeof(idt));

	if (cpuid_features() & CPUID_SEP) {
		wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
		wrmsr(MSR_SYSENTER_ESP, SYS_TOP);
		wrmsr(MSR_SYSENTER_EIP, (uint32_t)cc_sysenter_landing);
	}
	pit_stop();
	pic_unmask(0);
	enable_paging(pd_main);
	cr0_saved = read_cr0();
}

static const char *const vector_short[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vec 9", "#TS", "#NP",
	"#SS", "#GP", "#PF", "vec 15", "#MF", "#AC", "#MC", "#XM",
};

static void print_stats(const char *name, const struct ring_stats *st)
{
	char line[512];
	unsigned n = 0;
	n += ksnprintf(line + n, sizeof(line) - n, "%s: %u sequences (%u cut at the page end, "
		       "%u touching system state), ended by:", name, st->sequences, st->tails,
		       st->sys);
	printf("%s\n", line);
	n = 0;
	line[0] = 0;
	for (unsigned v = 0; v <= VEC_SYSENTER; v++) {
		if (!st->vectors[v])
			continue;
		char vname[16];
		if (v < 32 && vector_short[v])
			ksnprintf(vname, sizeof(vname), "%s", vector_short[v]);
		else if (v == VEC_SYSENTER)
			ksnprintf(vname, sizeof(vname), "sysenter");
		else
			ksnprintf(vname, sizeof(vname), "int 0x%x", v);
		n += ksnprintf(line + n, sizeof(line) - n, " %s %u", vname, st->vectors[v]);
		if (n > 60) {
			printf(" %s\n", line);
			n = 0;
			line[0] = 0;
		}
	}
	if (n)
		printf(" %s\n", line);
	if (st == &stats[1])
		printf("%s: %u ended by the watchdog (a loop)\n", name, st->timeouts);
}

static void print_refused(const char *name, const unsigned *counts)
{
	char line[512];
	unsigned n = ksnprintf(line, sizeof(line), "%s: refused by the filter:", name);
	for (unsigned why = 1; why < R_COUNT; why++)
		if (counts[why])
			n += ksnprintf(line + n, sizeof(line) - n, " %s %u,", reason_names[why],
				       counts[why]);
	printf("%s\n", line);
}

/* A known sequence after all the random ones: mov $1, %eax; ud2. */
static void sanity(bool user)
{
	static const uint8_t code[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x0b };
	struct cc_regs g = { 0, 0, 0, 0, 0, 0, 0, user ? USTACK_START : KSTACK_START,
			     user ? 0x202u : 0x2u };
	memset(code_w, 0xcc, PAGE_SIZE);
	memcpy(code_w + 0x40, code, sizeof(code));
	cc_code_entry = CODE_VA + 0x40;
	/* A watchdog interrupt of the last sequence may still be pending
	 * (on a loaded host a sequence can outlast it): it comes first. */
	for (unsigned tries = 0; tries < 3; tries++) {
		if (user)
			cc_run_user(&g);
		else
			cc_run_kernel(&g);
		if (cc_caught_vector != 0x20)
			break;
		pic_eoi(0);
	}
	uint32_t eip, cs;
	frame(&eip, &cs);
	report(cc_caught_vector == 6 && eip == CODE_VA + 0x45 &&
	       cs == (user ? USER_CS : KERNEL_CS),
	       "%s: a plain #UD still arrives as it should", user ? "user" : "kernel");
	restore(&(struct seq){ .sys = true });
}

/* An endless loop in user mode: the watchdog's timer interrupt ends it. */
static void watchdog(void)
{
	static const uint8_t loop[] = { 0xeb, 0xfe };	/* jmp . */
	struct cc_regs g = { 0, 0, 0, 0, 0, 0, 0, USTACK_START, 0x202 };
	memset(code_w, 0xcc, PAGE_SIZE);
	memcpy(code_w + 0x40, loop, sizeof(loop));
	cc_code_entry = CODE_VA + 0x40;
	pit_oneshot(WATCHDOG_COUNT);
	cc_run_user(&g);
	pit_stop();
	uint32_t eip, cs;
	frame(&eip, &cs);
	if (cc_caught_vector == 0x20)
		pic_eoi(0);
	report(cc_caught_vector == 0x20 && eip == CODE_VA + 0x40 && cs == USER_CS,
	       "user: an endless loop is ended by the timer");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	const char *cmd = chaos_cmdline(mbi);
	static const uint32_t default_seeds[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint32_t seeds[32];
	unsigned nseeds = chaos_seeds(cmd, seeds, 32, default_seeds,
				      sizeof(default_seeds) / sizeof(*default_seeds));
	unsigned count = chaos_arg_number(cmd, "count", 2000);
	show = chaos_arg_number(cmd, "show", 0);
	bool kernel = !chaos_flag(cmd, "user-only"), user = !chaos_flag(cmd, "kernel-only");

	setup();
	printf("chaos_code: %u seeds, %u sequences per ring\n", nseeds, count);
	for (unsigned ring = 0; ring < 2; ring++) {
		if ((ring == 0 && !kernel) || (ring == 1 && !user))
			continue;
		for (unsigned s = 0; s < nseeds; s++) {
			struct rng r;
			rng_seed(&r, seeds[s] * 2 + ring);
			unsigned per = count / nseeds + (s < count % nseeds);
			for (unsigned i = 0; i < per; i++)
				run_one(&r, ring == 1);
		}
		const char *name = ring ? "user" : "kernel";
		print_stats(name, &stats[ring]);
		print_refused(name, refused[ring]);
		report_eq(stats[ring].sequences, count, "%s: every sequence came back", name);
		report_eq(stats[ring].broken, 0, "%s: tables intact, every end accounted for",
			  name);
		if (ring == 0)
			report_eq(stats[0].escaped, 0, "kernel: no sequence left its page");
		sanity(ring == 1);
		if (ring == 1)
			watchdog();
	}

	/* Under the VMM, it must still answer hypercalls. */
	uint32_t probe = RV_HC_PROBE;
	idt[RV_HYPERCALL_VECTOR] = make_gate(vector_stub(RV_HYPERCALL_VECTOR), KERNEL_CS,
					     GATE_INTR, 0, true);
	handle_exception(RV_HYPERCALL_VECTOR, NULL);
	ex_clear();
	__asm__ volatile(ASM_TRY("1f") "int $0x1f\n1:" : "+a"(probe) : : "memory");
	if (probe == RV_PROBE_MAGIC)
		report(true, "the VMM still answers");
	report_summary();
}
