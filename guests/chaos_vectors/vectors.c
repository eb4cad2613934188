/*
 * chaos_vectors: every vector 0-255 raised by `int n` from the kernel and
 * from user mode, through IDTs of many shapes, and faults that meet a
 * broken gate on their way (double faults).  Each outcome is checked
 * against the architectural model below (SDM Vol. 3A §6.12, §6.15, and
 * QEMU's order of the checks, which is the SDM's), and the outcomes of
 * each round are also summed up in a digest that must be the same
 * natively and under the VMM.
 *
 * Rounds: "default" (the library's IDT: DPL 0 interrupt gates, 0x80 DPL 3),
 * "dpl3" (DPL 3 trap gates everywhere), and "mixed" rounds whose gates,
 * gate DPLs, types, present bits, selectors and IDT limit come from a
 * seeded PRNG (seeds=... on the command line).  Not used, because the VMM
 * documents them as not virtualized: task gates and 16-bit gates.  Kernel
 * `int $0x1f` is a hypercall under the VMM, so it is checked apart.
 *
 * With "nest" (or "nest-dftask") on the command line the guest instead
 * nests page faults until its stack runs out: #PF while delivering #PF is
 * a double fault, which cannot be pushed either, so the machine triple
 * faults.  Natively that resets the machine; the VMM must stop the guest
 * with its report ("triple fault while delivering #PF").  "nest-dftask"
 * first installs a double-fault task gate with its own stack, which
 * natively recovers (the task prints a PASS line) and which the VMM does
 * not virtualize, so under it the end is the same report.
 *
 * "debug" prints every outcome (to diff a native run against the VMM's).
 */
#include "guests/lib/chaos.h"
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"
#include "lib/format.h"
#include "ringvisor/hypercall.h"

extern char vt_stubs[], vt_int_table[], vt_user_stack_top[];
extern uint32_t vt_eax;
uint32_t vt_call(uint32_t entry, uint32_t user);

/* What vt_common saves, then the words above the vector: an error code or
 * not, EIP, CS, EFLAGS, and ESP, SS from user mode. */
struct vt_frame {
	uint32_t gs, fs, es, ds;
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t vector;
	uint32_t w[6];
};

/* What the next exception should look like: the address of the
 * instruction and of the one after it (the two EIPs a frame can hold). */
static uint32_t vt_at, vt_next;

struct seen {
	unsigned count;
	unsigned vector;
	bool has_err;
	uint32_t err, eip, cs, eflags, esp, ss;
};
static struct seen seen;

void vt_record(struct vt_frame *f);
void vt_record(struct vt_frame *f)
{
	const uint32_t *w = f->w;
	seen.count++;
	seen.vector = f->vector;
	if (w[0] == vt_at || (vt_next && w[0] == vt_next)) {
		seen.has_err = false;
		seen.err = 0;
	} else {
		seen.has_err = true;
		seen.err = w[0];
		w++;
	}
	seen.eip = w[0];
	seen.cs = w[1] & 0xffff;
	seen.eflags = w[2];
	bool user = (seen.cs & 3) == 3;
	seen.esp = user ? w[3] : 0;
	seen.ss = user ? w[4] & 0xffff : 0;
}

static uint32_t stub(unsigned v)
{
	return (uint32_t)vt_stubs + 16 * v;
}

static void load_idt_limit(uint16_t limit)
{
	struct pseudo_desc p = { limit, (uint32_t)idt };
	lidt(&p);
}

/* ---- the model ---- */

#define NP_CODE_SEL ((GDT_TEST_FIRST) << 3)	/* code, DPL 0, not present */

struct expect {
	unsigned vector;
	bool has_err;
	uint32_t err;
	bool at_insn;		/* the frame names the instruction (a fault) */
};

static struct expect fault(unsigned vector, uint32_t err)
{
	return (struct expect){ vector, true, err, true };
}

/* `int n` at privilege cpl through the IDT as it is now. */
static struct expect model_int(unsigned n, unsigned cpl, uint16_t idt_limit)
{
	uint32_t idt_err = n * 8 + 2;
	if (n * 8 + 7 > idt_limit)
		return fault(13, idt_err);
	uint64_t g = idt[n];
	unsigned type = (g >> 40) & 0x1f, dpl = (g >> 45) & 3;
	bool present = (g >> 47) & 1;
	uint16_t sel = (g >> 16) & 0xffff;
	if (type != GATE_INTR && type != GATE_TRAP)
		return fault(13, idt_err);
	if (dpl < cpl)
		return fault(13, idt_err);
	if (!present)
		return fault(11, idt_err);
	if ((sel & 0xfffc) == 0)
		return fault(13, 0);
	if ((sel & 4) || (uint32_t)(sel | 7) > sizeof(gdt) - 1)
		return fault(13, sel & 0xfffc);
	uint64_t d = gdt[sel >> 3];
	unsigned access = (d >> 40) & 0xff;
	if (!(access & SEG_S) || !(access & 0x08))	/* not code */
		return fault(13, sel & 0xfffc);
	if (((access >> 5) & 3) > cpl)
		return fault(13, sel & 0xfffc);
	if (!(access & SEG_P))
		return fault(11, sel & 0xfffc);
	return (struct expect){ n, false, 0, false };
}

/* ---- running one and checking it ---- */

static uint32_t digest;
static bool vt_debug;

static void mix(uint32_t v)
{
	for (unsigned i = 0; i < 4; i++) {
		digest ^= (v >> (8 * i)) & 0xff;
		digest *= 16777619u;
	}
}

/*
 * Check what happened against e; fold it into the digest.  user: the code
 * ran in user mode from vt_user_stack_top.  Returns whether it matched.
 */
static bool check(const struct expect *e, bool user)
{
	bool ok = seen.count == 1 && seen.vector == e->vector &&
		  seen.has_err == e->has_err && seen.err == e->err &&
		  seen.eip == (e->at_insn ? vt_at : vt_next) &&
		  seen.cs == (user ? USER_CS : KERNEL_CS);
	/* A frame from user mode holds the user stack; one in the kernel
	 * never switched stacks (every gate here goes to ring 0). */
	if (user)
		ok &= seen.esp == (uint32_t)vt_user_stack_top && seen.ss == USER_DS;
	if (!ok)
		detail("count %u vector %u err %s0x%x eip 0x%x cs 0x%x esp 0x%x; "
		       "want vector %u err %s0x%x eip 0x%x", seen.count, seen.vector,
		       seen.has_err ? "" : "none ", seen.err, seen.eip, seen.cs, seen.esp,
		       e->vector, e->has_err ? "" : "none ", e->err,
		       e->at_insn ? vt_at : vt_next);
	mix(seen.count);
	mix(seen.vector);
	mix(seen.has_err ? seen.err : 0xffffffffu);
	mix(seen.eip);
	mix(seen.cs);
	mix(seen.eflags & ~(1u << 16));	/* RF aside */
	mix(seen.esp);
	mix(seen.ss);
	return ok;
}

/* One `int n` from the table; returns whether it went as the model says. */
static bool run_int(unsigned n, bool user, uint16_t idt_limit, unsigned *hypercalls)
{
	uint32_t entry = (uint32_t)vt_int_table + 4 * n;
	struct expect e = model_int(n, user ? 3 : 0, idt_limit);
	vt_at = entry;
	vt_next = entry + 2;
	seen = (struct seen){ 0 };
	uint32_t back = vt_call(entry, user);
	if (!user && n == RV_HYPERCALL_VECTOR && back == 0) {
		/* Under the VMM: a hypercall (EAX = 0 is the probe). */
		(*hypercalls)++;
		if (vt_eax != RV_PROBE_MAGIC) {
			detail("int 0x1f returned 0x%x", vt_eax);
			return false;
		}
		return true;
	}
	if (!user && n == RV_HYPERCALL_VECTOR) {
		/* Natively an ordinary vector: checked, not in the digest. */
		uint32_t keep = digest;
		bool ok = check(&e, user);
		digest = keep;
		return ok;
	}
	return check(&e, user);
}

/* Every vector from one ring; one PASS or FAIL line. */
static void run_round(const char *name, bool user, uint16_t idt_limit)
{
	unsigned bad = 0, hypercalls = 0, delivered = 0, gp = 0, np = 0;
	digest = 2166136261u;
	load_idt_limit(idt_limit);
	for (unsigned n = 0; n < 256; n++) {
		bool ok = run_int(n, user, idt_limit, &hypercalls);
		if (vt_debug)
			printf("dbg %s %u n=%x c=%u v=%u e=%d/%x eip=%x cs=%x fl=%x esp=%x "
			       "ss=%x\n", name, user, n, seen.count, seen.vector, seen.has_err,
			       seen.err, seen.eip, seen.cs, seen.eflags, seen.esp, seen.ss);
		if (!ok) {
			if (bad < 3)
				detail("vector 0x%x", n);
			bad++;
		}
		if (!user && n == RV_HYPERCALL_VECTOR)
			continue;	/* a hypercall under the VMM: not counted */
		if (seen.count && seen.vector == n && !seen.has_err)
			delivered++;
		else if (seen.count && seen.vector == 13)
			gp++;
		else if (seen.count && seen.vector == 11)
			np++;
	}
	load_idt_limit(sizeof(idt) - 1);
	if (bad)
		detail("%u vectors differ from the model", bad);
	report(!bad, "%s %s: %u delivered, %u #GP, %u #NP", name, user ? "user" : "kernel",
	       delivered, gp, np);
	report(true, "%s %s digest %08x", name, user ? "user" : "kernel", digest);
}

static void set_all_gates(unsigned type, unsigned dpl)
{
	for (unsigned v = 0; v < 256; v++)
		idt[v] = make_gate(stub(v), KERNEL_CS, type, dpl, true);
}

/* The handlers the checks themselves need: #DF, #TS, #NP, #SS, #GP. */
static void keep_fault_gates(struct rng *r)
{
	static const unsigned vs[] = { 8, 10, 11, 12, 13 };
	for (unsigned i = 0; i < sizeof(vs) / sizeof(*vs); i++)
		idt[vs[i]] = make_gate(stub(vs[i]), KERNEL_CS, GATE_INTR,
				       r ? rng_below(r, 2) * 3 : 0, true);
}

static void random_gates(struct rng *r)
{
	static const unsigned bad_types[] = { 0x0, 0x1, 0x2, 0x3, 0x4, 0x8, 0x9, 0xa, 0xb,
					      0xc, 0xd, 0x1e, 0x1f, 0x13 };
	for (unsigned v = 0; v < 256; v++) {
		unsigned type = rng_chance(r, 1, 2) ? GATE_INTR : GATE_TRAP;
		if (rng_chance(r, 1, 8))
			type = bad_types[rng_below(r, sizeof(bad_types) / sizeof(*bad_types))];
		unsigned dpl = rng_below(r, 4);
		bool present = !rng_chance(r, 1, 10);
		uint16_t sel = KERNEL_CS;
		switch (rng_below(r, 16)) {
		case 0: sel = 0; break;
		case 1: sel = KERNEL_DS; break;
		case 2: sel = 0x100 + 8 * rng_below(r, 16); break;	/* beyond the GDT */
		case 3: sel = NP_CODE_SEL; break;
		case 4: sel = TSS_SEL; break;
		case 5: sel = (uint16_t)(KERNEL_CS | 4); break;		/* LDT: none loaded */
		case 6:
			/* User code: from the kernel a #GP(sel); never with a gate
			 * user mode may use (the handler would run in ring 3). */
			if (dpl < 3)
				sel = USER_CS & ~3;
			break;
		case 7: sel = (uint16_t)(KERNEL_CS | rng_below(r, 4)); break;	/* any RPL */
		}
		idt[v] = make_gate(stub(v), sel, type & 0xf, dpl, present);
		/* S and the type's high bit live in the same byte. */
		idt[v] |= (uint64_t)(type & 0x10) << 40;
	}
	keep_fault_gates(r);
}

/* ---- int3, into and icebp: the one-byte forms ---- */

extern char vt_x_int3[], vt_x_into[], vt_x_into_insn[], vt_x_icebp[];
__asm__(".text\n"
	"vt_x_int3: int3\n\t"
	"ud2\n"
	"vt_x_into: movl $0x7fffffff, %eax\n\t"
	"addl $1, %eax\n"
	"vt_x_into_insn: into\n\t"
	"ud2\n"
	"vt_x_icebp: .byte 0xf1\n\t"
	"ud2\n");

static void one_byte_forms(void)
{
	static const struct { const char *name; char *entry, *insn; unsigned vec; } f[] = {
		{ "int3", vt_x_int3, vt_x_int3, 3 },
		{ "into", vt_x_into, vt_x_into_insn, 4 },
	};
	for (unsigned dpl = 0; dpl <= 3; dpl += 3) {
		set_all_gates(GATE_INTR, dpl);
		for (unsigned i = 0; i < 2; i++) {
			for (unsigned user = 0; user < 2; user++) {
				vt_at = (uint32_t)f[i].insn;
				vt_next = vt_at + 1;
				seen = (struct seen){ 0 };
				vt_call((uint32_t)f[i].entry, user);
				struct expect e = { f[i].vec, false, 0, false };
				if (user && dpl == 0)
					e = fault(13, f[i].vec * 8 + 2);
				report(check(&e, user), "%s from %s, gate dpl %u", f[i].name,
				       user ? "user" : "kernel", dpl);
			}
		}
	}
	set_all_gates(GATE_INTR, 0);
}

/* ---- faults that meet a broken gate: double faults (SDM §6.15) ---- */

#define SEL_BEYOND (GDT_ENTRIES << 3)
#define NP_DATA_SEL ((GDT_TEST_FIRST + 1) << 3)

extern char vt_f_gp[], vt_f_np[], vt_f_ss[], vt_f_ud[], vt_f_de[], vt_f_bp[], vt_f_pf[];
__asm__(".text\n"
	"vt_f_gp: movl $0x100, %eax\n"
	"vt_f_gp_insn: movl %eax, %ds\n\t"
	"ud2\n"
	"vt_f_np: movl $0xa8, %eax\n"
	"vt_f_np_insn: movl %eax, %ds\n\t"
	"ud2\n"
	"vt_f_ss: movl $0xa8, %eax\n"
	"vt_f_ss_insn: movl %eax, %ss\n\t"
	"ud2\n"
	"vt_f_ud: ud2\n"
	"vt_f_de: xorl %ecx, %ecx\n"
	"vt_f_de_insn: divl %ecx\n\t"
	"ud2\n"
	"vt_f_bp: int3\n\t"
	"ud2\n"
	"vt_f_pf: movl $0x40000000, %eax\n"
	"vt_f_pf_insn: movl (%eax), %eax\n\t"
	"ud2\n");
extern char vt_f_gp_insn[], vt_f_np_insn[], vt_f_ss_insn[], vt_f_de_insn[], vt_f_pf_insn[];

struct df_case {
	const char *name;
	char *entry, *insn;
	bool user;
	unsigned broken;	/* the gate made not present (or given a null CS) */
	bool null_cs;		/* broken by a null selector instead */
	uint16_t limit;		/* IDT limit, 0: whole */
	struct expect e;
};

static void double_faults(void)
{
	const struct df_case cases[] = {
		{ "#GP with #GP gate not present is #DF", vt_f_gp, vt_f_gp_insn, false, 13,
		  false, 0, fault(8, 0) },
		{ "#NP with #NP gate not present is #DF", vt_f_np, vt_f_np_insn, false, 11,
		  false, 0, fault(8, 0) },
		{ "#SS with #SS gate not present is #DF", vt_f_ss, vt_f_ss_insn, false, 12,
		  false, 0, fault(8, 0) },
		{ "#DE with null #DE gate cs is #DF", vt_f_de, vt_f_de_insn, false, 0, true, 0,
		  fault(8, 0) },
		{ "#GP beyond idt limit is #DF", vt_f_gp, vt_f_gp_insn, false, 0, false,
		  13 * 8 - 1, fault(8, 0) },
		{ "#UD with #UD gate not present is #NP", vt_f_ud, vt_f_ud, false, 6, false, 0,
		  fault(11, 6 * 8 + 2) },
		{ "int3 with #BP gate not present is #NP", vt_f_bp, vt_f_bp, false, 3, false, 0,
		  fault(11, 3 * 8 + 2) },
		{ "user #GP with #GP gate not present is #DF", vt_f_gp, vt_f_gp_insn, true, 13,
		  false, 0, fault(8, 0) },
		{ "user #UD with #UD gate not present is #NP", vt_f_ud, vt_f_ud, true, 6, false,
		  0, fault(11, 6 * 8 + 2) },
		{ "#PF with #PF gate not present is #DF", vt_f_pf, vt_f_pf_insn, false, 14,
		  false, 0, fault(8, 0) },
	};
	gdt_set(NP_DATA_SEL >> 3, make_seg(0, 0xfffff, SEG_S | SEG_DATA_RW, SEG_G | SEG_DB));
	pte_t *pd = NULL;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct df_case *c = &cases[i];
		bool paging = c->entry == vt_f_pf;
		if (paging) {
			pd = pd ? pd : identity_pd(true);
			enable_paging(pd);
		}
		set_all_gates(GATE_INTR, 0);
		if (c->null_cs)
			idt[c->broken] = make_gate(stub(c->broken), 0, GATE_INTR, 0, true);
		else if (!c->limit)
			idt[c->broken] = make_gate(stub(c->broken), KERNEL_CS, GATE_INTR, 0, false);
		uint16_t limit = c->limit ? c->limit : sizeof(idt) - 1;
		load_idt_limit(limit);
		vt_at = (uint32_t)c->insn;
		vt_next = 0;
		seen = (struct seen){ 0 };
		vt_call((uint32_t)c->entry, c->user);
		load_idt_limit(sizeof(idt) - 1);
		if (paging)
			disable_paging();
		report(check(&c->e, c->user), "%s", c->name);
	}
	gdt_set(NP_DATA_SEL >> 3, 0);
	set_all_gates(GATE_INTR, 0);
}

/* ---- nest: page faults until the stack is gone ---- */

#define NEST_STACK      0x00a00000u
#define NEST_STACK_SIZE 0x4000u	/* the page below it stays unmapped */
#define DF_STACK_TOP    0x00b00000u

static struct tss df_tss __attribute__((aligned(128)));

static void df_task(void)
{
	/* Natively: the double-fault task, on its own stack. */
	report(true, "double fault task ran after the stack ran out");
	report_summary();
}

extern char vt_nest_pf[];
__asm__(".text\n"
	"vt_nest_pf: movl $0x40000000, %eax\n\t"
	"movl (%eax), %eax\n\t"		/* faults again, a frame deeper */
	"ud2\n");

static void nest(bool df_task_gate)
{
	pte_t *pd = identity_pd(false);
	for (uint32_t a = NEST_STACK - PAGE_SIZE; a < NEST_STACK; a += PAGE_SIZE)
		unmap_page(pd, a);
	set_all_gates(GATE_INTR, 0);
	idt[14] = make_gate((uint32_t)vt_nest_pf, KERNEL_CS, GATE_INTR, 0, true);
	if (df_task_gate) {
		df_tss = (struct tss){
			.eip = (uint32_t)df_task, .esp = DF_STACK_TOP, .eflags = 0x2,
			.cr3 = (uint32_t)pd, .cs = KERNEL_CS, .ss = KERNEL_DS, .ds = KERNEL_DS,
			.es = KERNEL_DS, .fs = KERNEL_DS, .gs = KERNEL_DS,
			.iomap_base = sizeof(struct tss),
		};
		gdt_set(GDT_TEST_FIRST + 2, make_seg((uint32_t)&df_tss, sizeof(df_tss) - 1,
						     SEG_P | SEG_TSS32, 0));
		idt[8] = make_gate(0, (GDT_TEST_FIRST + 2) << 3, 0x5, 0, true);
		printf("chaos_vectors: a double-fault task gate is installed\n");
	}
	enable_paging(pd);
	printf("chaos_vectors: nesting page faults until the stack runs out\n");
	__asm__ volatile("movl %0, %%esp\n\t"
			 "jmp vt_nest_pf"
			 : : "r"(NEST_STACK + NEST_STACK_SIZE) : "memory");
	__builtin_unreachable();
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	const char *cmd = chaos_cmdline(mbi);
	static const uint32_t default_seeds[] = { 1, 2, 3, 4, 5, 6 };
	uint32_t seeds[16];
	unsigned nseeds = chaos_seeds(cmd, seeds, 16, default_seeds,
				      sizeof(default_seeds) / sizeof(*default_seeds));

	vt_debug = chaos_flag(cmd, "debug");
	/* The test entries the gates may name. */
	gdt_set(NP_CODE_SEL >> 3, make_seg(0, 0xfffff, SEG_S | SEG_CODE_RX, SEG_G | SEG_DB));

	if (chaos_flag(cmd, "nest") || chaos_flag(cmd, "nest-dftask"))
		nest(chaos_flag(cmd, "nest-dftask"));

	set_all_gates(GATE_INTR, 0);
	idt[USER_RETURN_VECTOR] = make_gate(stub(USER_RETURN_VECTOR), KERNEL_CS, GATE_INTR,
					    3, true);
	run_round("default", false, sizeof(idt) - 1);
	run_round("default", true, sizeof(idt) - 1);

	set_all_gates(GATE_TRAP, 3);
	run_round("dpl3", false, sizeof(idt) - 1);
	run_round("dpl3", true, sizeof(idt) - 1);

	for (unsigned s = 0; s < nseeds; s++) {
		struct rng r;
		rng_seed(&r, seeds[s]);
		random_gates(&r);
		uint16_t limit = rng_chance(&r, 1, 2) ? sizeof(idt) - 1
						      : (uint16_t)(14 * 8 + 7 + rng_below(&r, 0x700));
		char name[24];
		ksnprintf(name, sizeof(name), "mixed seed %u", seeds[s]);
		run_round(name, false, limit);
		run_round(name, true, limit);
	}
	set_all_gates(GATE_INTR, 0);

	one_byte_forms();
	double_faults();

	/* Leave the library's IDT as it was. */
	for (unsigned v = 0; v < 256; v++)
		idt_set_gate(v, GATE_INTR, 0);
	idt_set_gate(USER_RETURN_VECTOR, GATE_INTR, 3);
	report_summary();
}
