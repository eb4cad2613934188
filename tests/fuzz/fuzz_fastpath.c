/*
 * Differential fuzzing of guest_exit's fast paths (core/guest.c, replayed
 * by tests/fuzz/fuzz_guest.h): the kernel's iret to user mode
 * (ring_fast_iret_to_user, through fast_gp), its stores into its GDT page
 * (mmu_fast_table_store) and plain shadow fills (mmu_fast_fill).  A fast
 * path must leave exactly the state the general path would (emulate_gp,
 * mmu_page_fault, with the rest of guest_exit), or decline having changed
 * nothing.  So every exit runs on the simulated machine
 * (tests/unit/support/fake_vmm.c) twice from one saved state, once as
 * guest_exit takes it (fast paths first) and once by the general path
 * alone, and the fuzzer stops if
 *   - a fast path took the exit and the vCPU, the trap frame, guest RAM,
 *     either shadow table, the shadow the CPU runs on, the real GDT and
 *     LDT mirrors or the code and stack aliases differ from the general
 *     path's (or the general path would have stopped the guest);
 *   - a fast path declined and changed any of those, beyond the A and D
 *     bits of the guest's paging entries and read-only shadow fills that
 *     its reads through vmem make as the general path's would; and even
 *     then, the general path after it must end where it alone would.
 * The vCPU is compared field by field, less the record of the last failed
 * memory access (core/vmem.c), which only says why an access just failed.
 *
 * The input:
 *   state    as fuzz_emulate's (fuzz_guest.h read_state), then a byte:
 *            bit 0 registers the paravirtual interrupt flag at PV_GPA
 *            (fast_gp takes nothing without it); bit 1 leaves the IDT
 *            empty instead of every vector a DPL-0 gate to HANDLER in CS
 *            0x60 and int 0x80 a DPL-3 one (the way back to the kernel)
 *   patches  as fuzz_emulate's (read_patches)
 *   steps    up to 12, each a byte, kind in bits 0-1:
 *            0 #GP at CS:EIP: bits 2-4 + 1 instruction bytes are put there
 *              first, and with bit 5 an iret frame (EIP, CS, EFLAGS, ESP,
 *              SS) at SS:ESP, as the guest would have written them; bit 6
 *              makes the error code the frame's CS (iret's #GP names it);
 *            1 #PF at the address the instruction at CS:EIP stores to
 *              (bits 2-4: bytes put there first, 0 none), moved by a
 *              signed delta byte (0: exactly the store), bit 5 a write;
 *            2 #PF at an address from the input, bit 5 a write;
 *            3 an exception or a hardware interrupt, by the general path
 *              only (a byte: vector mod 48, 32 and up an IRQ; then an
 *              error code).
 * Bytes are put in guest memory only where the guest could have stored
 * them without an exit: mapped, in RAM, not a descriptor-table page nor
 * one of its page tables (so no fast path ever runs on a translation the
 * guest changed without invlpg, where fast and general may rightly part).
 * A #PF is taken only if the shadow the CPU runs on refuses the access,
 * with the error code the CPU would give (U always: the guest is in ring 3).
 */
#include "tests/fuzz/fuzz_guest.h"

#define PV_GPA  0x6000u
#define HANDLER 0x101000u	/* the kernel's interrupt handler (CS 0x60) */
#define PTE_A   0x020u
#define PTE_D   0x040u

static struct fake_machine *before, *after_fast, *after_general;

/* ---- putting bytes where the guest would have stored them ---- */

static int page_table_page(struct vcpu *v, uint32_t gpa)
{
	uint32_t page = gpa & FRAME, cr3 = v->cr3 & FRAME;
	if (!vmem_paging_on(v))
		return 0;
	if (page == cr3)
		return 1;
	if (cr3 > FAKE_RAM_SIZE - 4096)
		return 0;
	for (unsigned i = 0; i < 1024; i++) {
		uint32_t pde;
		memcpy(&pde, fake_ram + cr3 + i * 4, 4);
		if ((pde & PTE_P) && !((pde & 0x80) && (v->cr4 & CR4_PSE)) &&
		    (pde & FRAME) == page)
			return 1;
	}
	return 0;
}

/* Guest-physical address of linear as the guest's tables map it for a
 * kernel access, without setting A or D; -1 if none or not in RAM. */
static int64_t guest_physical(struct vcpu *v, uint32_t linear)
{
	uint32_t gpa = linear;
	if (linear >= GUEST_LINEAR_LIMIT)
		return -1;
	if (vmem_paging_on(v)) {
		struct paging_mode mode = vmem_paging_mode(v);
		struct walk w;
		if (guest_walk(&v->mem, &mode, linear, 0, 0, &w) != WALK_OK)
			return -1;
		gpa = w.gpa;
	}
	return gpa < FAKE_RAM_SIZE ? (int64_t)gpa : -1;
}

static int place(struct vcpu *v, uint32_t linear, const uint8_t *bytes, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int64_t gpa = guest_physical(v, linear + i);
		if (gpa < 0 || vcpu_table_page(v, (uint32_t)gpa) ||
		    page_table_page(v, (uint32_t)gpa))
			return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		int64_t gpa = guest_physical(v, linear + i);
		fake_ram[gpa] = bytes[i];
		fake_ram_touched((uint32_t)gpa, 1);
	}
	return 0;
}

/* ---- comparing two machines ---- */

static const char *fast_name;

#define DIFF(...) do {							\
		fprintf(stderr, "fuzz_fastpath: %s: ", fast_name);	\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
		CHECK(!"the fast path and the general path differ");	\
	} while (0)

#define SAME(field) do {						\
		if (memcmp(&a->field, &b->field, sizeof(a->field)))	\
			DIFF("%s: vcpu.%s differs", what, #field);	\
	} while (0)

static void same_selector_memo(const struct checked_selector *x,
			       const struct checked_selector *y, const char *what,
			       const char *name)
{
	if (x->generation != y->generation || (x->generation &&
	    (x->sel != y->sel || x->pl != y->pl || x->raw != y->raw)))
		DIFF("%s: vcpu.%s differs (%u %04x %u / %u %04x %u)", what, name,
		     x->generation, x->sel, x->pl, y->generation, y->sel, y->pl);
}

static void same_vcpu(const struct vcpu *a, const struct vcpu *b, const char *what)
{
	SAME(vpl); SAME(cs); SAME(ss); SAME(cs_base); SAME(ss_base); SAME(vif);
	SAME(halted); SAME(step_reasons); SAME(step_eip); SAME(step_guest_tf);
	SAME(open_page); SAME(sti_shadow); SAME(sti_shadow_eip); SAME(pv_irq);
	SAME(pv_irq_gpa); SAME(pv_irq_word); SAME(store_page_va);
	if (a->store_page_va)
		SAME(store_page);
	SAME(user_sel_generation); SAME(user_sel);
	same_selector_memo(&a->checked_code, &b->checked_code, what, "checked_code");
	same_selector_memo(&a->checked_stack, &b->checked_stack, what, "checked_stack");
	same_selector_memo(&a->handler_code, &b->handler_code, what, "handler_code");
	same_selector_memo(&a->handler_stack, &b->handler_stack, what, "handler_stack");
	SAME(nprotected); SAME(tables_unprotected); SAME(tables_written);
	if (memcmp(a->protected_pages, b->protected_pages, a->nprotected * 4))
		DIFF("%s: vcpu.protected_pages differ", what);
	SAME(pending_irqs); SAME(cr0); SAME(cr2); SAME(cr3); SAME(cr4); SAME(dr);
	SAME(gdtr.base); SAME(gdtr.limit); SAME(idtr.base); SAME(idtr.limit);
	SAME(ldtr); SAME(tr); SAME(ldt.base); SAME(ldt.limit); SAME(tr_base);
	SAME(tr_limit); SAME(sysenter_cs); SAME(sysenter_esp); SAME(sysenter_eip);
	SAME(pat); SAME(shadow.pd);
}

/* The vCPU, the trap frame and what the arch holds. */
static void same_cpu(const struct fake_machine *x, const struct fake_machine *y,
		     const char *what)
{
	const char *arch;
	same_vcpu(fake_machine_vcpu(x), fake_machine_vcpu(y), what);
	const struct trapframe *ra = fake_machine_regs(x), *rb = fake_machine_regs(y);
	static const char *names[] = { "edi", "esi", "ebp", "esp_pusha", "ebx", "edx",
		"ecx", "eax", "gs", "fs", "es", "ds", "vector", "error", "eip", "cs",
		"eflags", "esp", "ss" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(*names); i++)
		if ((&ra->edi)[i] != (&rb->edi)[i])
			DIFF("%s: %s 0x%08x / 0x%08x", what, names[i], (&ra->edi)[i],
			     (&rb->edi)[i]);
	if (!fake_machine_same_arch(x, y, &arch))
		DIFF("%s: %s differs", what, arch);
}

/*
 * Guest RAM and the shadows of x and y, one of which (live_is_x, or y) is
 * the live machine saved.  tolerate (PTE_A, PTE_A | PTE_D or 0) lets y
 * have more of those bits set in a word of RAM, and shadow entries filled
 * read-only where x has none: what a walk for a read makes (core/vmem.c
 * remember_translation).
 */
static void same_memory(const struct fake_machine *x, const struct fake_machine *y,
			int live_is_x, const char *what, uint32_t tolerate)
{
	const struct fake_machine *saved = live_is_x ? y : x;
	const uint8_t *ra = fake_machine_ram(x), *rb = fake_machine_ram(y);
	for (uint32_t page = 0; page < FAKE_RAM_SIZE / 4096; page++) {
		uint32_t at = page * 4096;
		if (!fake_machine_ram_may_differ(saved, page) ||
		    memcmp(ra + at, rb + at, 4096) == 0)
			continue;
		for (uint32_t end = at + 4096; at < end; at += 4) {
			uint32_t wa, wb;
			memcpy(&wa, ra + at, 4);
			memcpy(&wb, rb + at, 4);
			if (wa != wb && (((wa ^ wb) & ~tolerate) || (wa & ~wb)))
				DIFF("%s: guest RAM at 0x%08x: 0x%08x / 0x%08x", what,
				     at, wa, wb);
		}
	}
	for (unsigned which = 0; which < 2; which++) {
		uint32_t va, ea, eb;
		if (!fake_machine_shadow_diff(x, y, which, &va, &ea, &eb))
			continue;
		if (tolerate && ea == 0 && !(eb & PTE_W))
			continue;	/* (only the first difference is seen) */
		DIFF("%s: %s shadow at 0x%08x: 0x%08x / 0x%08x", what,
		     which == SHADOW_KERNEL ? "kernel" : "user", va, ea, eb);
	}
}

static void same_machine(const struct fake_machine *x, const struct fake_machine *y,
			 int live_is_x, const char *what, uint32_t tolerate)
{
	same_cpu(x, y, what);
	same_memory(x, y, live_is_x, what, tolerate);
}

/* ---- the two ways through an exit ---- */

/* guest_exit's general path for #GP: the whole exit.  0, or 1 if the
 * guest stopped or now waits in hlt (the run ends). */
static int general_gp(void)
{
	if (setjmp(fake_stop))
		return 1;
	replay_exit_body(&fake_vcpu, VEC_GP, 0, 0, 0, 0);
	return replay_exit_tail(&fake_vcpu);
}

/* For #PF: handle_exit and the mirroring after it.  The rest of the exit
 * (delivering an interrupt the guest let through by its paravirtual flag
 * alone, writing that flag back) is what guest.c's fast returns skip on
 * purpose: it happens at the next full exit. */
static int general_pf(uint32_t va, int guest_fault, uint32_t guest_error)
{
	struct vcpu *v = &fake_vcpu;
	if (setjmp(fake_stop))
		return 1;
	replay_exit_body(v, VEC_PF, va, 0, guest_fault, guest_error);
	if (v->tables_written) {
		v->tables_written = 0;
		ring_mirror_tables(v);
	}
	return v->halted;
}

/*
 * The fast path declined (after_fast holds the machine then): nothing may
 * have changed but caches, and the general path from there must end
 * where it would alone.  general runs it; returns what it did.
 */
static int check_declined(int (*general)(uint32_t, int, uint32_t), uint32_t va,
			  int guest_fault, uint32_t guest_error)
{
	fake_save(after_fast);
	same_cpu(before, after_fast, "declined, yet changed");
	same_memory(before, after_fast, 0, "declined, yet changed", PTE_A | PTE_D);
	int stopped = general(va, guest_fault, guest_error);
	enum fake_end end = fake_end;
	SAY("  declined; general then: eip 0x%08x ring %u esp 0x%08x%s\n", fake_regs.eip,
	    fake_vcpu.vpl, fake_regs.esp, stopped ? " (stopped)" : "");
	fake_save(after_general);
	fake_restore(before);
	int alone = general(va, 0, 0);
	SAY("  general alone: eip 0x%08x ring %u esp 0x%08x%s\n", fake_regs.eip,
	    fake_vcpu.vpl, fake_regs.esp, alone ? " (stopped)" : "");
	if (stopped != alone || end != fake_end)
		DIFF("declined: the general path then %s, alone %s", stopped ? "stops" : "goes on",
		     alone ? "stops" : "goes on");
	fake_save(after_fast);		/* (scratch: the general path alone) */
	/* A declined fast path may have read more than the general path
	 * then does (the whole iret frame, where the general path stops at
	 * a bad CS): the caches may hold more, nothing else. */
	same_machine(after_fast, after_general, 1, "declined, then the general path", PTE_A);
	fake_restore(after_general);
	return stopped;
}

static int general_gp_for(uint32_t va, int guest_fault, uint32_t guest_error)
{
	(void)va;
	(void)guest_fault;
	(void)guest_error;
	return general_gp();
}

/* The fast path took the exit (the live machine is its result): the
 * general path from the same start must end the same. */
static void check_taken(int (*general)(uint32_t, int, uint32_t), uint32_t va)
{
	fake_save(after_fast);
	fake_restore(before);
	if (general(va, 0, 0))
		DIFF("the general path stops the guest%s", fake_end == FAKE_RUNNING ?
		     " (hlt)" : "");
	fake_save(after_general);
	same_machine(after_fast, after_general, 0, "taken", 0);
	fake_restore(after_fast);
}

static int gp_exit(uint32_t error)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	tf->vector = VEC_GP;
	tf->error = error;
	/* fast_gp and the general path both start by taking the guest's
	 * interrupt flag from its word. */
	replay_pv_irq_sync_in(v);
	fake_save(before);
	fast_name = "iret to user mode";
	if (setjmp(fake_stop))
		CHECK(!"a fast path stopped the guest");
	if (replay_fast_gp(v, tf)) {
		SAY("  fast: iret to user mode\n");
		check_taken(general_gp_for, 0);
		return 0;
	}
	int stopped = check_declined(general_gp_for, 0, 0, 0);
	SAY("  general: eip 0x%08x cs 0x%04x ring %u%s\n", tf->eip, v->cs, v->vpl,
	    stopped ? " (stopped)" : "");
	return stopped;
}

static int pf_exit(uint32_t va, int write)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	/* The CPU faults only where the shadow it runs on refuses; the
	 * VMM's own pages are there, supervisor-only. */
	uint32_t entry = va < GUEST_LINEAR_LIMIT ?
			 shadow_lookup(&v->shadow, vcpu_shadow(v), va) : PTE_P;
	if ((entry & PTE_P) && (!write || (entry & PTE_W)) && va < GUEST_LINEAR_LIMIT)
		return 0;
	tf->vector = VEC_PF;
	tf->error = PF_USER | (entry & PTE_P ? PF_PRESENT : 0) | (write ? PF_WRITE : 0);
	replay_pv_irq_sync_in(v);
	fake_save(before);
	SAY("  #PF at 0x%08x error %x\n", va, tf->error);

	int guest_fault;
	uint32_t guest_error;
	if (setjmp(fake_stop))
		CHECK(!"a fast path stopped the guest");
	fast_name = "table store";
	if (!v->step_reasons && !v->sti_shadow && mmu_fast_table_store(v, va)) {
		replay_finish_fast_exit(v);
		SAY("  fast: table store\n");
		check_taken(general_pf, va);
		return 0;
	}
	fake_save(after_fast);
	same_cpu(before, after_fast, "declined, yet changed");
	same_memory(before, after_fast, 0, "declined, yet changed", 0);	/* (none at all) */
	fast_name = "fill";
	if (v->step_reasons || v->sti_shadow)
		return general_pf(va, 0, 0);
	guest_error = 0;
	int filled = mmu_fast_fill(v, va, tf->error, &guest_error);
	if (filled > 0) {
		replay_finish_fast_exit(v);
		SAY("  fast: fill\n");
		check_taken(general_pf, va);
		return 0;
	}
	guest_fault = filled < 0;
	if (guest_fault)
		SAY("  fast: the guest's own fault, error %x\n", guest_error);
	return check_declined(general_pf, va, guest_fault, guest_error);
}

/* ---- the input ---- */

static void setup(struct input *in)
{
	struct vcpu *v = &fake_vcpu;
	fake_reset();
	reset_pics();
	read_state(in);
	uint8_t extra = in_u8(in);
	if (!(extra & 2)) {
		for (unsigned vec = 0; vec < 256; vec++)
			fake_gate(vec, HANDLER, 0, vec == 0x80 ? 3 : 0);
	}
	read_patches(in);
	/* As after the guest's lgdt/lldt: its table pages protected, the
	 * mirrors made from its tables. */
	mmu_protect_tables(v);
	if (setjmp(fake_stop) == 0)
		ring_mirror_tables(v);
	if (extra & 1) {	/* as the RV_HC_PV_IRQ hypercall (core/hypercall.c) */
		v->pv_irq = 1;
		v->pv_irq_gpa = PV_GPA;
		v->pv_irq_word = arch_fixed_window(FIXED_WINDOW_PV_IRQ, PV_GPA);
		v->pv_irq_word[0] = (uint32_t)v->vif;
		v->pv_irq_word[1] = 0;
		v->pv_irq_on_table = vcpu_table_page(v, PV_GPA);
	}
}

/*
 * The guest fetched the instruction at CS:EIP (len bytes) through the
 * shadow the CPU runs on before it could fault on it: where that shadow
 * lacks its first or last byte's page, the fetch faulted first (an
 * exit of its own, as differential as the rest).  0 if the instruction
 * is now mapped, still at the same CS:EIP; else what the exit left.
 */
static int fetch(struct vcpu *v, unsigned len)
{
	for (unsigned tries = 0; tries < 2; tries++) {
		uint32_t at = v->cs_base + fake_regs.eip, eip = fake_regs.eip;
		uint32_t missing = !(shadow_lookup(&v->shadow, vcpu_shadow(v), at) & PTE_P) ? at :
				   !(shadow_lookup(&v->shadow, vcpu_shadow(v), at + len - 1) & PTE_P) ?
				   at + len - 1 : 0;
		if (!missing && at >= GUEST_LINEAR_LIMIT - len)
			return -1;
		if (!missing)
			return 0;
		SAY("  fetch at 0x%08x\n", missing);
		if (missing >= GUEST_LINEAR_LIMIT || pf_exit(missing, 0) || fake_end != FAKE_RUNNING ||
		    fake_regs.eip != eip || v->cs_base + eip != at)
			return -1;
	}
	return -1;
}

/* The address the instruction at CS:EIP accesses in memory, or -1. */
static int64_t store_address(struct vcpu *v)
{
	uint8_t bytes[INSN_MAX_LEN];
	struct insn insn;
	struct event unused;
	uint32_t linear;
	for (unsigned i = 0; i < INSN_MAX_LEN; i++) {
		int64_t gpa = guest_physical(v, v->cs_base + fake_regs.eip + i);
		bytes[i] = gpa < 0 ? 0 : fake_ram[gpa];
	}
	if (decode_insn(bytes, INSN_MAX_LEN, 1, &insn) != DECODE_OK ||
	    !(insn.has_modrm ? insn.mod != 3 : (insn.opcode & 0xfc) == 0xa0) ||
	    emulate_operand_address(v, &insn, &linear, &unused))
		return -1;
	return linear;
}

static int step(struct input *in)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	uint8_t kind = in_u8(in);
	uint8_t code[8];
	unsigned ncode = (kind >> 2) & 7;

	tf->ecx &= 0xffff;	/* rep ins/outs: short */
	SAY("step %u at eip 0x%08x ring %u\n", kind & 3, tf->eip, v->vpl);
	switch (kind & 3) {
	case 0: {
		uint32_t frame[5];
		in_bytes(in, code, ncode + 1);
		place(v, v->cs_base + tf->eip, code, ncode + 1);
		if (fetch(v, ncode + 1))
			return fake_end != FAKE_RUNNING;
		if (kind & 0x20) {
			for (unsigned i = 0; i < 5; i++)
				frame[i] = in_u32(in);
			place(v, v->ss_base + tf->esp, (const uint8_t *)frame, sizeof(frame));
		}
		/* iret's #GP names the CS it found in the frame. */
		uint32_t cs = 0;
		for (unsigned i = 0; i < 2; i++) {
			int64_t gpa = guest_physical(v, v->ss_base + tf->esp + 4 + i);
			cs |= (uint32_t)(gpa < 0 ? 0 : fake_ram[gpa]) << (8 * i);
		}
		return gp_exit((kind & 0x40) ? cs & 0xfffc : 0);
	}
	case 1: {
		in_bytes(in, code, ncode);
		if (ncode)
			place(v, v->cs_base + tf->eip, code, ncode);
		int8_t delta = (int8_t)in_u8(in);
		if (fetch(v, ncode ? ncode : 1))
			return fake_end != FAKE_RUNNING;
		int64_t at = store_address(v);
		if (at < 0)
			return 0;
		return pf_exit((uint32_t)at + (uint32_t)(int32_t)delta, (kind & 0x20) != 0);
	}
	case 2:
		return pf_exit(in_u32(in), (kind & 0x20) != 0);
	default: {
		uint8_t vector = in_u8(in) % 48;
		tf->error = in_u16(in);
		if (vector >= 32)
			vector = (uint8_t)(PIC_REAL_BASE + vector - 32);
		tf->vector = vector;
		if (setjmp(fake_stop))
			return 1;
		replay_exit_body(v, vector, 0, 0, 0, 0);
		return replay_exit_tail(v);
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	if (!before) {
		before = fake_machine_new();
		after_fast = fake_machine_new();
		after_general = fake_machine_new();
	}
	fake_end = FAKE_RUNNING;
	setup(&in);
	for (unsigned n = 0; n < 12 && in_left(&in) > 0; n++)
		if (step(&in) || fake_end != FAKE_RUNNING)
			break;
	return 0;
}
