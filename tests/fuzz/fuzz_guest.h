/*
 * What the emulator fuzzers share: a guest state read from the input, and
 * the exit handling of core/guest.c (guest_exit, handle_exit, fast_gp and
 * the page-fault fast paths), which is built for the VMM only and so is
 * replayed here.  It must keep following guest.c: when guest_exit
 * changes, change replay_* below.  Not replayed: guest.c's own fast paths
 * for sysenter, "sti; sysexit", mov from a control register and mov to
 * CR3 (they are in guest.c, not host-built; the general path takes those
 * exits here).
 */
#ifndef TESTS_FUZZ_GUEST_H
#define TESTS_FUZZ_GUEST_H

#include <setjmp.h>

#include "core/arch.h"
#include "core/deliver.h"
#include "core/emulate.h"
#include "core/guest.h"
#include "core/mmu.h"
#include "core/pagewalk.h"
#include "core/segments.h"
#include "core/step.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "dev/i8259.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/unit/support/fake_vmm.h"

#define CR4_VIRTUALIZED (CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_PCE | \
			 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP)
#define EFLAGS_GUEST 0x00244fd5u	/* what iret/popf may set (core/ring.c) */
#define DR6_BS 0x00004000u
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define FRAME 0xfffff000u

/* The identity page tables an input may ask for: 0-4 MiB, user, writable. */
#define IDENT_PD 0x20000u
#define IDENT_PT 0x21000u

/* ---- the guest state ---- */

static void read_state(struct input *in)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	uint8_t flags = in_u8(in);
	uint32_t cr4 = in_u16(in);
	uint32_t cr0 = in_u32(in);

	for (unsigned r = 0; r < 8; r++)
		*vcpu_reg(tf, r) = in_u32(in);
	tf->eflags = (in_u32(in) & EFLAGS_GUEST) | 0x2;
	v->vif = (flags >> 4) & 1;
	v->cr4 = cr4 & CR4_VIRTUALIZED;
	/* CR0: PE always (the guest dies without it), the rest the input's,
	 * paging and WP as the flags say. */
	v->cr0 = (cr0 & ~(CR0_PG | CR0_WP)) | CR0_PE | CR0_ET |
		 ((flags & 2) ? CR0_PG : 0) | ((flags & 4) ? CR0_WP : 0);

	if (flags & 8) {	/* identity-mapped first 4 MiB */
		uint32_t pde = IDENT_PT | PTE_P | PTE_W | PTE_U | 0x20;
		memcpy(fake_ram + IDENT_PD, &pde, 4);
		for (uint32_t i = 0; i < 1024; i++) {
			uint32_t pte = i << 12 | PTE_P | PTE_W | PTE_U | 0x60;
			memcpy(fake_ram + IDENT_PT + i * 4, &pte, 4);
		}
		v->cr3 = IDENT_PD;
	}

	v->vpl = (flags & 1) ? VPL_USER : VPL_KERNEL;
	if (v->vpl == VPL_USER) {
		v->cs = 0x73;
		v->ss = 0x7b;
		tf->ds = tf->es = 0x7b;
	}
	if (flags & 0x20) {	/* segment state, as loads could leave it */
		tf->ds = in_u16(in);
		tf->es = in_u16(in);
		tf->fs = in_u16(in);
		tf->gs = in_u16(in);
		v->cs = (in_u16(in) & ~3u) | v->vpl;
		v->ss = in_u16(in);
		v->cs_base = in_u32(in) % GUEST_LINEAR_LIMIT;
		v->ss_base = in_u32(in);
	}
	if (flags & 0x40) {	/* descriptor-table registers */
		v->gdtr.base = in_u32(in);
		v->gdtr.limit = in_u16(in);
		v->idtr.base = in_u32(in);
		v->idtr.limit = in_u16(in);
		v->ldtr = in_u16(in);
		v->ldt.base = in_u32(in);
		v->ldt.limit = in_u16(in);
		v->tr = in_u16(in);
		v->tr_base = in_u32(in);
		v->tr_limit = in_u32(in);
	}
	if (flags & 0x80) {	/* more registers */
		v->cr2 = in_u32(in);
		v->cr3 = in_u32(in);
		v->sysenter_cs = in_u32(in);
		v->sysenter_esp = in_u32(in);
		v->sysenter_eip = in_u32(in);
	}
	/* The code: CS base + EIP is FAKE_CODE. */
	uint8_t code[16];
	in_bytes(in, code, sizeof(code));
	fake_code(code, sizeof(code));
	tf->eip = FAKE_CODE - v->cs_base;
}

/* Writes into guest RAM: a byte (region << 5 | length - 1), an offset,
 * the bytes. */
static void read_patches(struct input *in)
{
	static const struct { uint32_t base, size; } regions[8] = {
		{ FAKE_GDT, 0x1000 }, { FAKE_IDT, 0x800 }, { FAKE_TSS, 0x1000 },
		{ 0x7000, 0x2000 },		/* the stacks: ESP 0x8000, ESP0 0x9000 */
		{ IDENT_PD, 0x2000 },		/* the identity tables */
		{ 0, 0x10000 },			/* low memory */
		{ 0, FAKE_RAM_SIZE },		/* anywhere */
		{ FAKE_CODE, 0x1000 },		/* the code page */
	};
	unsigned n = in_u8(in) & 31;
	for (unsigned i = 0; i < n && in_left(in) > 0; i++) {
		uint8_t b = in_u8(in);
		unsigned r = b >> 5, len = (b & 31) + 1;
		uint32_t off = r == 6 ? in_u32(in) : in_u16(in);
		uint32_t gpa = regions[r].base + off % regions[r].size;
		uint8_t bytes[32];
		in_bytes(in, bytes, len);
		if (gpa + len > FAKE_RAM_SIZE)
			len = FAKE_RAM_SIZE - gpa;
		memcpy(fake_ram + gpa, bytes, len);
	}
}

/* ---- core/guest.c's exit, replayed ---- */

/* The paravirtual interrupt flag (ringvisor/hypercall.h), as guest.c keeps it. */
static void replay_pv_irq_sync_in(struct vcpu *v)
{
	uint32_t vif;
	if (v->pv_irq_word)
		v->vif = v->pv_irq_word[0] != 0;
	else if (v->pv_irq && gmem_read(&v->mem, v->pv_irq_gpa, &vif, 4) == 0)
		v->vif = vif != 0;
}

static void replay_pv_irq_sync_out(struct vcpu *v)
{
	if (!v->pv_irq)
		return;
	uint32_t words[2] = { (uint32_t)v->vif, (uint32_t)vcpu_irq_pending(v) };
	if (v->pv_irq_word) {
		v->pv_irq_word[0] = words[0];
		v->pv_irq_word[1] = words[1];
	} else {
		gmem_write(&v->mem, v->pv_irq_gpa, words, sizeof(words));
	}
	/* A hostile guest may put the word in its GDT: mirror what changed. */
	if (v->pv_irq_on_table)
		v->tables_written = 1;
}

static void replay_mark_pending(struct vcpu *v, uint8_t real_vector)
{
	v->pending_irqs[real_vector / 32] |= 1u << (real_vector % 32);
}

static void replay_deliver_pending(struct vcpu *v)
{
	if (!v->vif || (v->step_reasons & STEP_STI_SHADOW) || v->sti_shadow ||
	    !vcpu_irq_pending(v))
		return;
	for (unsigned word = 0; word < 8; word++) {
		if (!v->pending_irqs[word])
			continue;
		unsigned bit = (unsigned)__builtin_ctz(v->pending_irqs[word]);
		v->pending_irqs[word] &= ~(1u << bit);
		int vector = pic_guest_vector((uint8_t)(word * 32 + bit));
		if (vector >= 0)
			guest_deliver(v, (struct event){ .vector = (uint8_t)vector,
							  .source = EVENT_EXTERNAL });
		return;
	}
}

/* guest.c's finish_fast_exit: the tables again if the exit stored into
 * them on the way.  Returns 1 (the exit was taken). */
/* guest.c's map_ahead_in_user_mode. */
static void replay_map_ahead_in_user_mode(struct vcpu *v)
{
	if (v->map_ahead && v->vpl == VPL_USER) {
		mmu_map_ahead(v, v->map_ahead & ~1u);
		v->map_ahead = 0;
	}
}

static int replay_finish_fast_exit(struct vcpu *v)
{
	replay_map_ahead_in_user_mode(v);
	if (v->tables_written) {
		v->tables_written = 0;
		ring_mirror_tables(v);
	}
	return 1;
}

/* fast_gp, less what only guest.c has (exit tracing; the sysenter, sysexit,
 * control-register and invlpg paths, which the general path emulates to
 * the same effect here): the kernel's iret to user mode.  1 if it took the
 * exit. */
static int replay_fast_gp(struct vcpu *v, struct trapframe *tf)
{
	uint8_t insn[3];
	if (v->step_reasons || v->sti_shadow || (tf->eflags & EFLAGS_TF) ||
	    !v->pv_irq_word || arch_read_guest_linear(v->cs_base + tf->eip, insn, 3))
		return 0;
	if (tf->error != 0 && insn[0] != 0xcf)
		return 0;
	if (insn[0] == 0x0f && (insn[1] == 0x20 || (insn[1] == 0x22 &&
	    ((insn[2] >> 3) & 7) == 3)) && v->vpl == VPL_KERNEL)
		return 0;	/* guest.c's mov %crN, mov %cr3: not host-built */
	v->vif = v->pv_irq_word[0] != 0;
	if (!(insn[0] == 0xcf && !vcpu_irq_pending(v) && ring_fast_iret_to_user(v)))
		return 0;
	v->pv_irq_word[0] = (uint32_t)v->vif;
	v->pv_irq_word[1] = (uint32_t)vcpu_irq_pending(v);
	if (v->pv_irq_on_table)		/* as in pv_irq_sync_out */
		ring_mirror_written(v, v->pv_irq_gpa, 8);
	return replay_finish_fast_exit(v);
}

/* guest_exit's page-fault fast paths: 1 if one took the exit; else 0,
 * *guest_fault saying whether the fast fill found the guest's own fault
 * (its error code in *guest_error). */
static inline int replay_fast_pf(struct vcpu *v, uint32_t va, int *guest_fault,
				 uint32_t *guest_error)
{
	*guest_fault = 0;
	*guest_error = 0;
	if (v->step_reasons || v->sti_shadow)
		return 0;
	if (mmu_fast_table_store(v, va))
		return replay_finish_fast_exit(v);
	int filled = mmu_fast_fill(v, va, v->regs->error, guest_error);
	if (filled > 0)
		return replay_finish_fast_exit(v);
	*guest_fault = filled < 0;
	return 0;
}

static void replay_handle_exit(struct vcpu *v, uint8_t vector, uint32_t va,
			       int guest_fault, uint32_t guest_error)
{
	struct trapframe *tf = v->regs;
	struct event raise;
	if (vector == VEC_GP) {
		if (emulate_gp(v, tf->error, &raise) == RAISE)
			guest_deliver(v, raise);
	} else if (vector == VEC_PF) {
		if (guest_fault)
			mmu_reflect_fault(v, va, guest_error);
		else
			mmu_page_fault(v, va, tf->error);
	} else if (vector < 32) {
		guest_deliver(v, (struct event){ .vector = vector,
			.has_error = (uint8_t)vector_has_error_code(vector),
			.error = tf->error, .source = EVENT_EXCEPTION });
	} else {
		replay_mark_pending(v, vector);
	}
}

/* guest_exit after its fast paths, up to and including handle_exit. */
static void replay_exit_body(struct vcpu *v, uint8_t vector, uint32_t va,
			     uint32_t debug_status, int guest_fault, uint32_t guest_error)
{
	struct trapframe *tf = v->regs;
	replay_pv_irq_sync_in(v);
	if (v->sti_shadow) {
		if (tf->eip != v->sti_shadow_eip)
			v->sti_shadow = 0;
		else if (vector >= 32) {
			v->sti_shadow = 0;
			step_sti_shadow(v, tf->eip);
		}
	}
	if (!step_exit(v, vector, debug_status)) {
		if (vector == VEC_DB)
			v->dr[6] = debug_status;
		replay_handle_exit(v, vector, va, guest_fault, guest_error);
	}
}

/* The rest of guest_exit; 1 if the guest now waits in hlt (the VMM would
 * wait for an interrupt there: the fuzzers end the run). */
static int replay_exit_tail(struct vcpu *v)
{
	if (v->halted)
		replay_deliver_pending(v);	/* hlt takes one already waiting */
	if (v->sti_shadow && v->regs->eip != v->sti_shadow_eip)
		v->sti_shadow = 0;
	int halted = v->halted;
	if (!halted) {
		replay_deliver_pending(v);
		replay_pv_irq_sync_out(v);
	}
	/* Last, as in guest_exit: the delivery and the flag word may store
	 * into a table page too.  (Halted, the VMM mirrors before it resumes
	 * the guest; here, before the fuzzers' checks.) */
	if (v->tables_written) {
		v->tables_written = 0;
		ring_mirror_tables(v);
	}
	replay_map_ahead_in_user_mode(v);
	return halted;
}

/* The PICs' state lives in dev/i8259.c: initialise them the same way for
 * every input, as a guest kernel does (ICW1-4, vector bases 0x20/0x28). */
static void reset_pics(void)
{
	static const uint8_t icw[2][5] = { { 0x20, 0x11, 0x20, 0x04, 0x01 },
					   { 0xa0, 0x11, 0x28, 0x02, 0x01 } };
	for (unsigned i = 0; i < 2; i++) {
		pic_write(icw[i][0], icw[i][1]);
		for (unsigned j = 2; j < 5; j++)
			pic_write(icw[i][0] + 1, icw[i][j]);
	}
}

#endif
