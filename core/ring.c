/*
 * Moving between virtual rings and code segments (paper §4.5).
 *
 * The guest's code descriptors are mirrored as DPL 0, so any IRET, far
 * jump, call or return to a guest code selector faults, and so does
 * sysexit; int n faults because every real IDT gate is DPL 0.  Each lands
 * here, where the VMM performs the CPU's checks against the *guest's*
 * descriptors and moves the virtual ring.  That is how the VMM sees every
 * return to virtual user mode, which by itself would never trap.
 *
 * Segment loads and the descriptor-table instructions are here too: they
 * are where guest selectors and descriptors enter the VMM.
 */
#include "core/emulate.h"


#include <stddef.h>

#include "core/arch.h"
#include "core/guest.h"
#include "core/hypercall.h"
#include "core/mmu.h"
#include "core/segments.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "ringvisor/hypercall.h"

#define DESC_TYPE_LDT       0x2
#define DESC_TYPE_TSS16     0x1
#define DESC_TYPE_TSS32     0x9
#define DESC_TSS_BUSY       0x2

static struct event gp(uint32_t error)
{
	return emulate_fault(VEC_GP, error & 0xfffc);
}

static int read_stack(struct vcpu *v, uint32_t esp, void *buf, unsigned len,
		      struct event *raise)
{
	if (vmem_read(v, v->ss_base + esp, buf, len)) {
		*raise = emulate_memory_fault(v, emulate_fault(VEC_SS, 0));
		return -1;
	}
	return 0;
}

/* ---- checking guest selectors (SDM Vol. 3A §5.8, §5.10) ---- */

/*
 * The last code and stack selectors check_code and check_stack passed,
 * for which privilege, with the descriptor they found: while no mirrored
 * descriptor has changed (the mirror generation; only GDT entries below
 * 32, which the mirror covers and write protection watches), the same
 * check passes again with the same result.  Every iret back to user mode
 * checks the same two.
 */

static int still_checked(const struct vcpu *v, const struct checked_selector *c,
			 uint16_t sel, unsigned pl)
{
	return c->generation != 0 && c->generation == arch_guest_mirror_generation() &&
	       c->sel == sel && c->pl == pl && !v->tables_unprotected;
}

static void remember_checked(struct vcpu *v, struct checked_selector *c,
			     uint16_t sel, unsigned pl, uint64_t raw,
			     const struct segment *seg)
{
	c->generation = 0;
	if ((sel & 4) || (sel >> 3) >= 32 || v->gdtr.limit == 0 || v->tables_unprotected)
		return;		/* not a mirrored GDT entry */
	*c = (struct checked_selector){ arch_guest_mirror_generation(), sel, pl, raw, *seg };
}

/*
 * A guest descriptor and its decoding, as delivery reads the handler's CS
 * and the TSS's SS0 on every interrupt and exception: remembered in *c,
 * like the checks above, while no mirrored entry changes.  -1 if sel
 * names no descriptor (vmem_descriptor).
 */
int ring_descriptor(struct vcpu *v, struct checked_selector *c, uint16_t sel,
		    uint64_t *raw, struct segment *seg)
{
	if (still_checked(v, c, sel, 0)) {
		*raw = c->raw;
		*seg = c->seg;
		return 0;
	}
	if (vmem_descriptor(v, sel, raw))
		return -1;
	*seg = segment_decode(*raw);
	remember_checked(v, c, sel, 0, *raw, seg);
	return 0;
}

/* A code segment the guest may run at privilege pl (non-conforming: DPL ==
 * pl; conforming: DPL <= pl).  Fills *raw and *seg. */
static int check_code(struct vcpu *v, uint16_t sel, unsigned pl, uint64_t *raw,
		      struct segment *seg, struct event *raise)
{
	if (still_checked(v, &v->checked_code, sel, pl)) {
		*raw = v->checked_code.raw;
		*seg = v->checked_code.seg;
		return 0;
	}
	if (vmem_descriptor(v, sel, raw)) {
		*raise = gp(sel);
		return -1;
	}
	*seg = segment_decode(*raw);
	int conforming = seg->type & SEG_TYPE_CONFORMING;
	if (!segment_is_code(seg) || (conforming ? seg->dpl > pl : seg->dpl != pl)) {
		*raise = gp(sel);
		return -1;
	}
	if (!seg->present) {
		*raise = emulate_fault(VEC_NP, sel & 0xfffc);
		return -1;
	}
	/* Valid for the guest, but starting inside the VMM's space: the VMM
	 * cannot run the guest on it. */
	if (!segments_code_aliasable(seg)) {
		*raise = gp(sel);
		return -1;
	}
	remember_checked(v, &v->checked_code, sel, pl, *raw, seg);
	return 0;
}

/* The new EIP of a transfer must lie within the new code segment, or the
 * transfer itself is #GP(0), before anything changes (SDM Vol. 2, JMP,
 * CALL, RET, IRET: "IF EIP not within code segment limit THEN #GP(0)").
 * Code segments are never expand-down: the limit is the last offset. */
static int check_eip(const struct segment *code, uint32_t eip, struct event *raise)
{
	if (eip > code->limit) {
		*raise = gp(0);
		return -1;
	}
	return 0;
}

/* A stack segment for privilege pl: RPL == DPL == pl, writable data. */
static int check_stack(struct vcpu *v, uint16_t sel, unsigned pl,
		       uint64_t *raw, struct segment *seg, struct event *raise)
{
	if (still_checked(v, &v->checked_stack, sel, pl)) {
		*raw = v->checked_stack.raw;
		*seg = v->checked_stack.seg;
		return 0;
	}
	if ((sel & 3) != pl || vmem_descriptor(v, sel, raw)) {
		*raise = gp(sel);
		return -1;
	}
	*seg = segment_decode(*raw);
	if (!seg->s || segment_is_code(seg) || !(seg->type & SEG_TYPE_WRITABLE) ||
	    seg->dpl != pl) {
		*raise = gp(sel);
		return -1;
	}
	if (!seg->present) {
		*raise = emulate_fault(VEC_SS, sel & 0xfffc);
		return -1;
	}
	if (!segments_stack_aliasable(seg)) {
		*raise = gp(sel);
		return -1;
	}
	remember_checked(v, &v->checked_stack, sel, pl, *raw, seg);
	return 0;
}

/* Whether a data-register selector stays valid at privilege pl (as an
 * IRET to an outer ring checks, SDM Vol. 3A §5.8.6 / IRET). */
static int data_selector_valid_at(struct vcpu *v, uint16_t sel, unsigned pl)
{
	uint64_t raw;
	if ((sel & 0xfffc) == 0 || vmem_descriptor(v, sel, &raw))
		return 0;
	struct segment s = segment_decode(raw);
	int conforming_code = segment_is_code(&s) && (s.type & SEG_TYPE_CONFORMING);
	return conforming_code || s.dpl >= pl;
}

/* ---- the transitions ---- */

/*
 * Commit a new CS or SS: the vCPU's view and the real alias descriptor.
 * The descriptor has passed check_code/check_stack (or is one the CPU
 * implies, as for sysenter), so the alias can always be made.
 */
void ring_set_code(struct vcpu *v, uint16_t sel, unsigned pl, uint64_t raw)
{
	arch_guest_set_code(v, raw);
	v->cs = (sel & 0xfffc) | pl;
	v->cs_base = segment_base(raw);
}

void ring_set_stack(struct vcpu *v, uint16_t sel, uint64_t raw)
{
	arch_guest_set_stack(v, raw);
	v->ss = sel;
	v->ss_base = segment_base(raw);
}

/*
 * Whether the data selectors are the ones enter_user_mode last checked,
 * with no mirrored descriptor changed since: every system call returns
 * with the same four.  The mirrors follow every change to the guest's
 * table entries they cover (GDT 0-31 and the LDT's mirrored part), so
 * selectors are remembered only when all four are there; with
 * tables_unprotected the tables were just mirrored again, which counts as
 * a change if any.
 */
static int same_user_selectors(const struct vcpu *v)
{
	const struct trapframe *tf = v->regs;
	return v->user_sel_generation == arch_guest_mirror_generation() &&
	       ((tf->ds ^ v->user_sel[0]) | (tf->es ^ v->user_sel[1]) |
		(tf->fs ^ v->user_sel[2]) | (tf->gs ^ v->user_sel[3])) == 0;
}

static void remember_user_selectors(struct vcpu *v)
{
	const struct trapframe *tf = v->regs;
	const uint32_t sel[4] = { tf->ds, tf->es, tf->fs, tf->gs };
	v->user_sel_generation = arch_guest_mirror_generation();
	for (unsigned i = 0; i < 4; i++) {
		unsigned index = (sel[i] & 0xffff) >> 3;
		unsigned mirrored = (sel[i] & 4) ? arch_guest_ldt_entries() : 32u;
		if (index >= mirrored || v->gdtr.limit == 0)	/* boot segments: not mirrored */
			v->user_sel_generation = 0;	/* never matches */
		v->user_sel[i] = sel[i];
	}
}

int ring_user_selectors_known(const struct vcpu *v)
{
	return same_user_selectors(v);
}

/* Entering virtual user mode: what changes with the ring. */
static void enter_user_mode(struct vcpu *v)
{
	struct trapframe *tf = v->regs;
	v->vpl = VPL_USER;
	/* Writes to the descriptor tables trap and are mirrored as they
	 * happen (core/mmu.c), Linux's TLS entries on every context switch
	 * among them.  Only if some table page could not be protected may
	 * the kernel have changed entries unseen: re-read them then, before
	 * user code reloads a segment from them. */
	if (v->tables_unprotected)
		ring_mirror_tables(v);
	/* Data registers holding kernel segments are cleared, as the CPU does. */
	uint32_t *data_regs[] = { &tf->ds, &tf->es, &tf->fs, &tf->gs };
	if (!same_user_selectors(v)) {
		for (unsigned i = 0; i < 4; i++)
			if (!data_selector_valid_at(v, (uint16_t)*data_regs[i], VPL_USER))
				*data_regs[i] = 0;
		remember_user_selectors(v);
	}
	arch_guest_switch_ring(v);
}

/* New EFLAGS from an iret frame, under the rules for the current ring. */
static void load_eflags(struct vcpu *v, uint32_t popped)
{
	struct trapframe *tf = v->regs;
	tf->eflags = (tf->eflags & ~EFLAGS_GUEST) | (popped & EFLAGS_GUEST);
	/* IF changes only at CPL <= IOPL; the guest's IOPL is 0. */
	if (v->vpl == VPL_KERNEL)
		v->vif = (popped & EFLAGS_IF) != 0;
}

/* The common tail of iret and far ret: pop [ESP, SS] for an outer ring. */
static enum emulation return_to(struct vcpu *v, uint32_t eip, uint16_t cs,
				uint32_t esp_after, const uint32_t *eflags,
				struct event *raise)
{
	struct trapframe *tf = v->regs;
	unsigned rpl = cs & 3;
	uint64_t raw;
	struct segment code;

	if (rpl < v->vpl) {
		*raise = gp(cs);
		return RAISE;
	}
	if (check_code(v, cs, rpl, &raw, &code, raise))
		return RAISE;
	/* A return to ring 1 or 2, which the VMM does not virtualize: after
	 * the CPU's checks of CS, so that a not-present one is #NP(cs) as on
	 * the CPU (SDM Vol. 2, IRET, RET). */
	if (rpl != VPL_KERNEL && rpl != VPL_USER) {
		*raise = gp(cs);
		return RAISE;
	}

	if (rpl == v->vpl) {		/* same ring */
		if (check_eip(&code, eip, raise))
			return RAISE;
		ring_set_code(v, cs, rpl, raw);
		tf->eip = eip;
		tf->esp = esp_after;
		if (eflags)
			load_eflags(v, *eflags);
		return EMULATED;
	}

	/* To virtual user mode: the outer stack follows on the stack. */
	uint32_t outer[2];		/* ESP, SS */
	uint64_t stack_raw;
	struct segment stack;
	if (read_stack(v, esp_after, outer, sizeof(outer), raise) ||
	    check_stack(v, (uint16_t)outer[1], rpl, &stack_raw, &stack, raise) ||
	    check_eip(&code, eip, raise))	/* after the stack's checks */
		return RAISE;
	if (eflags)
		load_eflags(v, *eflags);
	ring_set_code(v, cs, rpl, raw);
	ring_set_stack(v, (uint16_t)outer[1], stack_raw);
	tf->eip = eip;
	tf->esp = outer[0];
	enter_user_mode(v);
	return EMULATED;
}

/*
 * A 16-bit iret or far ret (words: IP, CS[, FLAGS]).  The VMM does not
 * virtualize 16-bit transfers, but the checks the CPU makes before any
 * transfer still come first, so a frame it would refuse gives the guest
 * its fault (SDM Vol. 2, IRET and RET): #SS/#PF if the words cannot be
 * read, #GP(0) for a null CS.  Only a transfer that would go ahead stops
 * the guest.
 */
static enum emulation sixteen_bit_return(struct vcpu *v, unsigned words,
					 const char *what, struct event *raise)
{
	uint16_t frame[3];
	if (read_stack(v, v->regs->esp, frame, words * 2, raise))
		return RAISE;
	if ((frame[1] & 0xfffc) == 0) {
		*raise = gp(0);
		return RAISE;
	}
	guest_die(v, "16-bit %s is not virtualized", what);
}

/*
 * The kernel's iret to virtual user mode, when the code and stack
 * selectors in its frame are the ones last checked (the same descriptors:
 * no mirrored entry changed since): return_to's checks then hold as they
 * did, and only its effects are left.  Returns 1 if done, 0 (nothing
 * changed) for the general path: a frame that cannot be read, a return
 * to kernel or virtual-8086 mode, a task return, new selectors.
 */
int ring_fast_iret_to_user(struct vcpu *v)
{
	struct trapframe *tf = v->regs;
	uint32_t frame[5];		/* EIP, CS, EFLAGS, ESP, SS */

	if (v->vpl != VPL_KERNEL || (tf->eflags & EFLAGS_NT) ||
	    vmem_read(v, v->ss_base + tf->esp, frame, sizeof(frame)))
		return 0;
	uint16_t cs = (uint16_t)frame[1], ss = (uint16_t)frame[4];
	if ((cs & 3) != VPL_USER || (frame[2] & EFLAGS_VM) ||
	    !still_checked(v, &v->checked_code, cs, VPL_USER) ||
	    !still_checked(v, &v->checked_stack, ss, VPL_USER) ||
	    frame[0] > v->checked_code.seg.limit)
		return 0;
	load_eflags(v, frame[2]);
	ring_set_code(v, cs, VPL_USER, v->checked_code.raw);
	ring_set_stack(v, ss, v->checked_stack.raw);
	tf->eip = frame[0];
	tf->esp = frame[3];
	enter_user_mode(v);
	return 1;
}

int ring_iret_to_user_known(const struct vcpu *v, struct iret_to_user *known)
{
	const struct checked_selector *code = &v->checked_code, *stack = &v->checked_stack;
	if (!still_checked(v, code, code->sel, VPL_USER) ||
	    !still_checked(v, stack, stack->sel, VPL_USER) ||
	    (code->sel & 3) != VPL_USER || code->seg.base != 0 || stack->seg.base != 0)
		return 0;
	*known = (struct iret_to_user){ code->sel, stack->sel, code->seg.limit,
					code->raw, stack->raw };
	return 1;
}

enum emulation ring_iret(struct vcpu *v, const struct insn *in, struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint32_t frame[3];		/* EIP, CS, EFLAGS */

	if (in->opsize != 4)
		return sixteen_bit_return(v, 3, "iret", raise);
	if (tf->eflags & EFLAGS_NT)
		guest_die(v, "iret with NT set (a task return) is not virtualized");
	if (read_stack(v, tf->esp, frame, sizeof(frame), raise))
		return RAISE;
	if (v->vpl == VPL_KERNEL && (frame[2] & EFLAGS_VM))
		guest_die(v, "iret to virtual-8086 mode is not virtualized");
	return return_to(v, frame[0], (uint16_t)frame[1], tf->esp + 12, &frame[2],
			 raise);
}

enum emulation ring_software_interrupt(struct vcpu *v, const struct insn *in,
				       struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint8_t vector;

	switch (in->opcode) {
	case 0xcc: vector = VEC_BP; break;
	case 0xce:
		if (!(tf->eflags & EFLAGS_OF))
			return EMULATED;	/* into without overflow: nothing */
		vector = VEC_OF;
		break;
	default:   vector = (uint8_t)in->imm; break;
	}
	/* The frame holds the address of the next instruction. */
	tf->eip += in->len;
	if (in->opcode == 0xcd && vector == RV_HYPERCALL_VECTOR &&
	    v->vpl == VPL_KERNEL)
		return hypercall(v, raise) ? RAISE : EMULATED;
	*raise = (struct event){ .vector = vector, .source = EVENT_SOFTWARE,
				 .insn_len = in->len };
	return RAISE;
}

enum emulation ring_sysenter(struct vcpu *v, struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint16_t cs = v->sysenter_cs & 0xfffc;

	if (cs == 0) {
		*raise = gp(0);
		return RAISE;
	}
	ring_set_code(v, cs, VPL_KERNEL, FLAT_CODE_DPL0);
	ring_set_stack(v, cs + 8, FLAT_DATA_DPL0);
	tf->eip = v->sysenter_eip;
	tf->esp = v->sysenter_esp;
	tf->eflags &= ~(EFLAGS_VM | EFLAGS_RF);
	v->vif = 0;
	if (v->vpl != VPL_KERNEL) {
		v->vpl = VPL_KERNEL;
		arch_guest_switch_ring(v);
	}
	return EMULATED;
}

enum emulation ring_sysexit(struct vcpu *v, struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint16_t base = v->sysenter_cs & 0xfffc;

	if (base == 0 || v->vpl != VPL_KERNEL) {
		*raise = gp(0);
		return RAISE;
	}
	ring_set_code(v, base + 16, VPL_USER, FLAT_CODE_DPL0);
	ring_set_stack(v, (base + 24) | 3, FLAT_DATA_DPL0);
	tf->eip = tf->edx;
	tf->esp = tf->ecx;
	enter_user_mode(v);
	return EMULATED;
}

/* Far jmp, call and ret to a code segment of the same ring (or, for ret,
 * an outer one).  Call gates are not virtualized. */
enum emulation ring_far_transfer(struct vcpu *v, const struct insn *in,
				 struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint32_t target_eip;
	uint16_t target_cs;

	if (in->opsize != 4) {
		if (in->map == MAP_ONE_BYTE && (in->opcode == 0xca || in->opcode == 0xcb))
			return sixteen_bit_return(v, 2, "far ret", raise);
		guest_die(v, "16-bit far transfers are not virtualized");
	}

	if (in->map == MAP_ONE_BYTE && (in->opcode == 0xca || in->opcode == 0xcb)) {
		uint32_t frame[2];	/* EIP, CS */
		if (read_stack(v, tf->esp, frame, sizeof(frame), raise))
			return RAISE;
		uint32_t release = in->opcode == 0xca ? in->imm : 0;
		return return_to(v, frame[0], (uint16_t)frame[1],
				 tf->esp + 8 + release, NULL, raise);
	}

	if (in->opcode == 0xea || in->opcode == 0x9a) {
		target_eip = in->imm;
		target_cs = in->imm2;
	} else {			/* FF /3, /5: m16:32 */
		uint32_t linear, ptr[2];
		if (in->mod == 3) {
			*raise = emulate_fault(VEC_UD, 0);
			return RAISE;
		}
		if (emulate_operand_address(v, in, &linear, raise))
			return RAISE;
		if (vmem_read(v, linear, ptr, 6)) {
			*raise = emulate_memory_fault(v, gp(0));
			return RAISE;
		}
		target_eip = ptr[0];
		target_cs = (uint16_t)ptr[1];
	}

	/*
	 * A system descriptor: a call gate, task gate or TSS the guest may
	 * use is a transfer the VMM does not virtualize, and stops the guest.
	 * Anything else there (an empty slot, an LDT, a busy TSS, a gate or
	 * TSS above the caller's privilege) is the #GP(selector) the CPU
	 * gives (SDM Vol. 2, JMP/CALL), which a user process must get rather
	 * than stopping the whole guest.
	 */
	uint64_t raw;
	if (vmem_descriptor(v, target_cs, &raw) == 0 && !segment_decode(raw).s) {
		struct segment sys = segment_decode(raw);
		unsigned rpl = target_cs & 3, need = rpl > v->vpl ? rpl : v->vpl;
		int usable = sys.present && sys.dpl >= need &&
			     (sys.type == 0xc || sys.type == 0x4 ||	/* call gates */
			      sys.type == 0x5 ||			/* task gate */
			      sys.type == 0x9 || sys.type == 0x1);	/* available TSS */
		if (!usable) {
			*raise = gp(target_cs);
			return RAISE;
		}
		guest_die(v, "far transfer through system descriptor 0x%04x "
			  "(call gate or task): not virtualized", target_cs);
	}
	struct segment code;
	if ((target_cs & 3) > v->vpl) {
		*raise = gp(target_cs);
		return RAISE;
	}
	if (check_code(v, target_cs, v->vpl, &raw, &code, raise) ||
	    check_eip(&code, target_eip, raise))
		return RAISE;

	int is_call = in->opcode == 0x9a || (in->opcode == 0xff && in->reg == 3);
	if (is_call) {
		uint32_t frame[2] = { tf->eip + in->len, v->cs };
		if (vmem_write(v, v->ss_base + tf->esp - 8, frame, 8)) {
			*raise = emulate_memory_fault(v, emulate_fault(VEC_SS, 0));
			return RAISE;
		}
		tf->esp -= 8;
	}
	ring_set_code(v, target_cs, v->vpl, raw);
	tf->eip = target_eip;
	return EMULATED;
}

/* ---- segment register loads ---- */

static enum emulation load_segment(struct vcpu *v, int sreg, uint16_t sel,
				   struct event *raise)
{
	struct trapframe *tf = v->regs;

	if (sreg == SEG_CS || sreg > SEG_GS) {
		*raise = emulate_fault(VEC_UD, 0);
		return RAISE;
	}
	if (sreg == SEG_SS) {
		struct segment s;
		uint64_t raw;
		if ((sel & 0xfffc) == 0) {
			*raise = gp(0);
			return RAISE;
		}
		if (check_stack(v, sel, v->vpl, &raw, &s, raise))
			return RAISE;
		ring_set_stack(v, sel, raw);
		return EMULATED;
	}

	/* A data register: null is fine; else a data or readable code
	 * segment with DPL >= max(CPL, RPL). */
	if ((sel & 0xfffc) != 0) {
		uint64_t raw;
		if (vmem_descriptor(v, sel, &raw)) {
			*raise = gp(sel);
			return RAISE;
		}
		struct segment s = segment_decode(raw);
		unsigned rpl = sel & 3;
		unsigned need = rpl > v->vpl ? rpl : v->vpl;
		int conforming_code = segment_is_code(&s) && (s.type & SEG_TYPE_CONFORMING);
		if (!s.s || (segment_is_code(&s) && !(s.type & SEG_TYPE_READABLE)) ||
		    (!conforming_code && s.dpl < need)) {
			*raise = gp(sel);
			return RAISE;
		}
		if (!s.present) {
			*raise = emulate_fault(VEC_NP, sel & 0xfffc);
			return RAISE;
		}
	}
	uint32_t *reg[] = { [SEG_ES] = &tf->es, [SEG_DS] = &tf->ds,
			    [SEG_FS] = &tf->fs, [SEG_GS] = &tf->gs };
	*reg[sreg] = sel;
	return EMULATED;
}

static int pop32(struct vcpu *v, uint32_t *value, struct event *raise)
{
	struct trapframe *tf = v->regs;
	if (read_stack(v, tf->esp, value, 4, raise))
		return -1;
	tf->esp += 4;
	return 0;
}

enum emulation ring_load_segment(struct vcpu *v, const struct insn *in,
				 struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint32_t value;
	uint16_t sel;
	int sreg;

	if (in->map == MAP_ONE_BYTE && in->opcode == 0x8e) {	/* mov Sreg, r/m16 */
		sreg = in->reg;
		if (in->mod == 3) {
			sel = (uint16_t)*vcpu_reg(tf, in->rm);
		} else {
			uint32_t linear;
			if (emulate_operand_address(v, in, &linear, raise))
				return RAISE;
			if (vmem_read(v, linear, &sel, 2)) {
				*raise = emulate_memory_fault(v, gp(0));
				return RAISE;
			}
		}
		return load_segment(v, sreg, sel, raise);
	}

	if ((in->map == MAP_ONE_BYTE && in->opcode != 0xc4 && in->opcode != 0xc5) ||
	    (in->map == MAP_0F && (in->opcode == 0xa1 || in->opcode == 0xa9))) {
		/* pop es/ss/ds (07/17/1F), pop fs/gs (0F A1/A9) */
		sreg = in->map == MAP_0F ? (in->opcode == 0xa1 ? SEG_FS : SEG_GS)
					 : (in->opcode >> 3);
		uint32_t old_esp = tf->esp;
		if (pop32(v, &value, raise))
			return RAISE;
		enum emulation r = load_segment(v, sreg, (uint16_t)value, raise);
		if (r != EMULATED)
			tf->esp = old_esp;	/* a faulting pop leaves ESP alone */
		return r;
	}

	/* lds, les (C4/C5), lss, lfs, lgs (0F B2/B4/B5): m16:32 */
	if (in->mod == 3) {
		*raise = emulate_fault(VEC_UD, 0);
		return RAISE;
	}
	uint32_t linear, ptr[2];
	if (emulate_operand_address(v, in, &linear, raise))
		return RAISE;
	if (vmem_read(v, linear, ptr, 6)) {
		*raise = emulate_memory_fault(v, gp(0));
		return RAISE;
	}
	if (in->map == MAP_ONE_BYTE)
		sreg = in->opcode == 0xc4 ? SEG_ES : SEG_DS;
	else
		sreg = in->opcode == 0xb2 ? SEG_SS : in->opcode == 0xb4 ? SEG_FS : SEG_GS;
	enum emulation r = load_segment(v, sreg, (uint16_t)ptr[1], raise);
	if (r == EMULATED)
		*vcpu_reg(tf, in->reg) = ptr[0];
	return r;
}

/* ---- descriptor tables: lgdt, lidt, sgdt, sidt, lldt, ltr ---- */

/* Mirror entry i of the GDT (or LDT) again, from the guest's table. */
static void mirror_entry(struct vcpu *v, uint32_t base, uint32_t limit, unsigned i, int ldt)
{
	uint64_t raw = 0;
	if (i * 8 + 7 <= limit)
		vmem_read_sys(v, base + i * 8, &raw, 8);
	if (ldt)
		arch_guest_mirror_ldt(i, raw);
	else
		arch_guest_mirror_gdt(i, raw);
}

/* Mirror entries first..last again, reading them a block at a time (a
 * write to a table page can mean all of its entries). */
static void mirror_entries(struct vcpu *v, uint32_t base, uint32_t limit,
			   unsigned first, unsigned last, int ldt)
{
	enum { BLOCK = 32 };
	uint64_t raw[BLOCK];
	for (unsigned i = first; i <= last; i += BLOCK) {
		unsigned n = last - i + 1 < BLOCK ? last - i + 1 : BLOCK;
		if ((uint64_t)(i + n) * 8 - 1 > limit ||
		    vmem_read_sys(v, base + i * 8, raw, n * 8)) {
			/* Past the limit or not all readable: one by one. */
			for (unsigned k = 0; k < n; k++)
				mirror_entry(v, base, limit, i + k, ldt);
			continue;
		}
		for (unsigned k = 0; k < n; k++) {
			if (ldt)
				arch_guest_mirror_ldt(i + k, raw[k]);
			else
				arch_guest_mirror_gdt(i + k, raw[k]);
		}
	}
}

void ring_mirror_ldt(struct vcpu *v)
{
	unsigned entries = arch_guest_ldt_entries();
	if (v->ldtr) {
		mirror_entries(v, v->ldt.base, v->ldt.limit, 0, entries - 1, 1);
		return;
	}
	for (unsigned i = 0; i < entries; i++)
		arch_guest_mirror_ldt(i, 0);	/* no LDT: every entry empty */
}

void ring_mirror_tables(struct vcpu *v)
{
	ring_mirror_gdt(v);
	if (v->ldtr)
		ring_mirror_ldt(v);
}

/*
 * Mirror again the entries of a table (linear base, limit, at most entries
 * of them) on guest-physical [gpa, gpa + len), which the guest has just
 * written.  The guest may write its tables through another mapping than
 * the one it loaded them by (Linux writes its GDT through the direct map
 * and loads a read-only alias of it), so the written bytes are found page
 * by page of the table in guest-physical memory: a table spans one or two
 * pages, and only the entries on the written bytes are read again.
 */
static void mirror_table_range(struct vcpu *v, uint32_t base, uint32_t limit,
			       unsigned entries, int ldt, uint32_t gpa, uint32_t len)
{
	uint64_t table_end = (uint64_t)base + (limit + 1 < entries * 8u ? limit + 1 : entries * 8u);
	for (uint64_t page = base & ~0xfffu; page < table_end; page += 0x1000) {
		uint32_t page_gpa;
		if (vmem_translate(v, (uint32_t)page, 0, &page_gpa))
			continue;
		/* The written bytes on this page, as linear addresses. */
		uint64_t from = gpa > page_gpa ? gpa : page_gpa;
		uint64_t to = (uint64_t)gpa + len < (uint64_t)page_gpa + 0x1000 ?
			      (uint64_t)gpa + len : (uint64_t)page_gpa + 0x1000;
		if (from >= to)
			continue;
		uint64_t lo = page + (from - page_gpa), hi = page + (to - page_gpa);
		if (hi <= base || lo >= table_end)
			continue;
		unsigned first = lo <= base ? 0 : (unsigned)((lo - base) / 8);
		unsigned last = (unsigned)((hi - 1 - base) / 8);
		mirror_entries(v, base, limit, first, last < entries ? last : entries - 1, ldt);
	}
}

void ring_mirror_written(struct vcpu *v, uint32_t gpa, uint32_t len)
{
	if (v->gdtr.limit)
		mirror_table_range(v, v->gdtr.base, v->gdtr.limit, 32, 0, gpa, len);
	if (v->ldtr)
		mirror_table_range(v, v->ldt.base, v->ldt.limit,
				   arch_guest_ldt_entries(), 1, gpa, len);
}

void ring_mirror_gdt(struct vcpu *v)
{
	if (v->gdtr.limit == 0)
		return;		/* still on the boot segments */
	mirror_entries(v, v->gdtr.base, v->gdtr.limit, 0, 31, 0);
}

static enum emulation load_tr(struct vcpu *v, uint16_t sel, struct event *raise)
{
	uint64_t raw;
	if ((sel & 0xfffc) == 0 || (sel & 4) || vmem_descriptor(v, sel, &raw)) {
		*raise = gp(sel);
		return RAISE;
	}
	struct segment s = segment_decode(raw);
	if (s.s || (s.type != DESC_TYPE_TSS32 && s.type != DESC_TYPE_TSS16)) {
		*raise = gp(sel);
		return RAISE;
	}
	if (!s.present) {
		*raise = emulate_fault(VEC_NP, sel & 0xfffc);
		return RAISE;
	}
	/* ltr marks the TSS busy in the guest's GDT, as the CPU does. */
	raw |= (uint64_t)DESC_TSS_BUSY << 40;
	vmem_write_sys(v, v->gdtr.base + (sel & ~7u), &raw, 8);
	v->tr = sel;
	v->tr_base = s.base;
	v->tr_limit = s.limit;
	return EMULATED;
}

static enum emulation load_ldt(struct vcpu *v, uint16_t sel, struct event *raise)
{
	if ((sel & 0xfffc) == 0) {
		v->ldtr = 0;
		ring_mirror_ldt(v);
		mmu_protect_tables(v);
		return EMULATED;
	}
	uint64_t raw;
	if ((sel & 4) || vmem_descriptor(v, sel, &raw)) {
		*raise = gp(sel);
		return RAISE;
	}
	struct segment s = segment_decode(raw);
	if (s.s || s.type != DESC_TYPE_LDT) {
		*raise = gp(sel);
		return RAISE;
	}
	if (!s.present) {
		*raise = emulate_fault(VEC_NP, sel & 0xfffc);
		return RAISE;
	}
	v->ldtr = sel;
	v->ldt.base = s.base;
	v->ldt.limit = s.limit > 0xffff ? 0xffff : (uint16_t)s.limit;
	ring_mirror_ldt(v);
	mmu_protect_tables(v);
	return EMULATED;
}

enum emulation ring_load_system_segment(struct vcpu *v, int is_tr, uint16_t sel,
					struct event *raise)
{
	return is_tr ? load_tr(v, sel, raise) : load_ldt(v, sel, raise);
}

enum emulation ring_descriptor_table(struct vcpu *v, const struct insn *in,
				     struct event *raise)
{
	struct trapframe *tf = v->regs;

	if (in->map == MAP_0F && in->opcode == 0x00) {	/* lldt, ltr */
		uint16_t sel;
		if (in->mod == 3) {
			sel = (uint16_t)*vcpu_reg(tf, in->rm);
		} else {
			uint32_t linear;
			if (emulate_operand_address(v, in, &linear, raise))
				return RAISE;
			if (vmem_read(v, linear, &sel, 2)) {
				*raise = emulate_memory_fault(v, gp(0));
				return RAISE;
			}
		}
		return ring_load_system_segment(v, in->reg == 3, sel, raise);
	}

	/* 0F 01 /0-/3: a 6-byte pseudo-descriptor, limit then base. */
	struct descriptor_table *table = (in->reg & 1) ? &v->idtr : &v->gdtr;
	uint32_t linear;
	uint8_t pseudo[6];
	if (emulate_operand_address(v, in, &linear, raise))
		return RAISE;
	if (in->reg < 2) {				/* sgdt, sidt */
		pseudo[0] = (uint8_t)table->limit;
		pseudo[1] = (uint8_t)(table->limit >> 8);
		for (unsigned i = 0; i < 4; i++)
			pseudo[2 + i] = (uint8_t)(table->base >> (8 * i));
		if (vmem_write(v, linear, pseudo, 6)) {
			*raise = emulate_memory_fault(v, gp(0));
			return RAISE;
		}
		return EMULATED;
	}
	if (vmem_read(v, linear, pseudo, 6)) {		/* lgdt, lidt */
		*raise = gp(0);
		return RAISE;
	}
	table->limit = (uint16_t)(pseudo[0] | pseudo[1] << 8);
	table->base = (uint32_t)pseudo[2] | (uint32_t)pseudo[3] << 8 |
		      (uint32_t)pseudo[4] << 16 | (uint32_t)pseudo[5] << 24;
	if (in->opsize == 2)
		table->base &= 0x00ffffffu;	/* a 16-bit operand loads 24 bits */
	if (table == &v->gdtr) {
		ring_mirror_gdt(v);
		mmu_protect_tables(v);
	}
	return EMULATED;
}
