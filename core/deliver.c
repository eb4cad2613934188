/*
 * Event delivery.  One attempt (try_deliver) either succeeds or reports the
 * fault it ran into; deliver_event applies the CPU's rules for faults during
 * delivery on top (SDM Vol. 3A §6.15, "Interrupt 8—Double Fault Exception").
 */
#include "core/deliver.h"


#include "core/arch.h"
#include "core/emulate.h"
#include "core/hypercall.h"
#include "core/segments.h"
#include "core/vmem.h"
#include "core/x86_bits.h"

#define GATE_TASK   0x5
#define GATE_INT32  0xe
#define GATE_TRAP32 0xf

static const char *const exception_names[32] = {
	[VEC_DE] = "#DE divide error",
	[VEC_DB] = "#DB debug",
	[VEC_NMI] = "NMI",
	[VEC_BP] = "#BP breakpoint",
	[VEC_OF] = "#OF overflow",
	[VEC_BR] = "#BR bound range exceeded",
	[VEC_UD] = "#UD invalid opcode",
	[VEC_NM] = "#NM device not available",
	[VEC_DF] = "#DF double fault",
	[9] = "coprocessor segment overrun",
	[VEC_TS] = "#TS invalid TSS",
	[VEC_NP] = "#NP segment not present",
	[VEC_SS] = "#SS stack-segment fault",
	[VEC_GP] = "#GP general protection",
	[VEC_PF] = "#PF page fault",
	[VEC_MF] = "#MF x87 floating-point error",
	[VEC_AC] = "#AC alignment check",
	[VEC_MC] = "#MC machine check",
	[VEC_XM] = "#XM SIMD floating-point",
	[20] = "#VE virtualization exception",
	[21] = "#CP control protection",
};

const char *vector_name(uint32_t vector)
{
	if (vector < 32)
		return exception_names[vector] ? exception_names[vector]
						: "reserved exception";
	return vector < 256 ? "interrupt" : "bad vector";
}

int vector_has_error_code(uint8_t v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 ||
	       v == 29 || v == 30;
}

static int is_contributory(uint8_t v)
{
	return v == VEC_DE || (v >= VEC_TS && v <= VEC_GP);
}

int deliver_is_double_fault(uint8_t first, uint8_t second)
{
	if (is_contributory(first))
		return is_contributory(second);
	if (first == VEC_PF)
		return is_contributory(second) || second == VEC_PF;
	return 0;
}

static struct event fault(uint8_t vector, uint32_t error)
{
	return (struct event){ vector, vector_has_error_code(vector), error,
			       EVENT_EXCEPTION, 0, 0 };
}

/* An error code naming an IDT entry or a selector (SDM Vol. 3A §6.13). */
static uint32_t idt_error(const struct event *ev)
{
	return ((uint32_t)ev->vector << 3) | 2 |
	       (ev->source == EVENT_EXTERNAL ? 1 : 0);
}

static uint32_t selector_error(const struct event *ev, uint16_t sel)
{
	return (sel & 0xfffc) | (ev->source == EVENT_EXTERNAL ? 1 : 0);
}

/* The inner stack from the guest's TSS, for a switch to ring 0. */
static int read_ring0_stack(struct vcpu *v, const struct event *ev,
			    uint16_t *ss, uint32_t *esp, uint64_t *ss_raw,
			    struct event *err)
{
	uint32_t stack0[2];	/* the TSS's ESP0 and SS0, side by side */
	if (v->tr_limit < 11) {
		*err = fault(VEC_TS, selector_error(ev, v->tr));
		return -1;
	}
	if (vmem_read_sys(v, v->tr_base + 4, stack0, 8)) {
		*err = emulate_memory_fault(v, fault(VEC_TS, selector_error(ev, v->tr)));
		return -1;
	}
	uint32_t esp0 = stack0[0], ss0 = stack0[1];
	uint64_t raw;
	struct segment s;
	if (ring_descriptor(v, &v->handler_stack, (uint16_t)ss0, &raw, &s)) {
		*err = fault(VEC_TS, selector_error(ev, (uint16_t)ss0));
		return -1;
	}
	if (!segments_stack_aliasable(&s) && s.present) {
		/* A stack the VMM cannot run the guest on (inside its space). */
		*err = fault(VEC_TS, selector_error(ev, (uint16_t)ss0));
		return -1;
	}
	if (!s.s || segment_is_code(&s) || !(s.type & SEG_TYPE_WRITABLE) ||
	    s.dpl != 0 || (ss0 & 3) != 0) {
		*err = fault(VEC_TS, selector_error(ev, (uint16_t)ss0));
		return -1;
	}
	if (!s.present) {
		*err = fault(VEC_SS, selector_error(ev, (uint16_t)ss0));
		return -1;
	}
	*ss = (uint16_t)ss0;
	*esp = esp0;
	*ss_raw = raw;
	return 0;
}

static int deliver_checked(struct vcpu *v, const struct event *ev, struct event *err);

/* The frame a delivery pushes, lowest address first (the CPU pushes the
 * highest first): the error code if any, EIP, CS, EFLAGS (with the virtual
 * IF), and on a switch to an inner stack the old ESP and SS.  How many
 * words. */
static inline __attribute__((always_inline))
unsigned handler_frame(const struct vcpu *v, const struct event *ev, int new_stack,
		       uint32_t words[6])
{
	const struct trapframe *tf = v->regs;
	unsigned n = 0;
	if (ev->has_error)
		words[n++] = ev->error;
	words[n++] = tf->eip;
	words[n++] = v->cs;
	words[n++] = (tf->eflags & ~EFLAGS_IF) | (v->vif ? EFLAGS_IF : 0);
	if (new_stack) {
		words[n++] = tf->esp;
		words[n++] = v->ss;
	}
	return n;
}

/* A delivery's last step, once every check has passed and the frame is
 * pushed: the handler's segments, registers, ring. */
static void enter_handler(struct vcpu *v, const struct event *ev,
			  const struct handler_entry *entry, uint32_t esp, int aliases_loaded)
{
	struct trapframe *tf = v->regs;
	if (aliases_loaded) {		/* ring_set_code and _stack, less the arch's part */
		v->cs = (entry->cs & 0xfffc) | entry->pl;
		v->cs_base = segment_base(entry->cs_raw);
		if (entry->new_stack) {
			v->ss = entry->ss;
			v->ss_base = segment_base(entry->ss_raw);
		}
	} else {
		ring_set_code(v, entry->cs, entry->pl, entry->cs_raw);
		if (entry->new_stack)
			ring_set_stack(v, entry->ss, entry->ss_raw);
	}
	tf->esp = esp;
	tf->eip = entry->eip;
	tf->eflags &= ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM);
	if (entry->interrupt_gate)
		v->vif = 0;
	if (ev->vector == VEC_PF && ev->source == EVENT_EXCEPTION) {
		v->cr2 = ev->address;	/* the CPU loads CR2 as it delivers #PF */
		hypercall_pv_cr2(v);
	}
	v->halted = 0;
	if (entry->pl != v->vpl) {
		v->vpl = entry->pl;
		arch_guest_switch_ring(v);
	}
}

/*
 * Deliveries from user mode, the short way (issue 6).  A user page fault
 * (or the timer's interrupt) goes through the same gate to the same ring-0
 * code and stack every time, and the checks of deliver_checked come out
 * the same while nothing they read has changed.  They read the gate and
 * the TSS's SS0, which are read again each time (neither table is
 * write-protected); the handler's CS and SS0 descriptors, GDT entries the
 * mirror covers, unchanged while the mirror generation is; and the IDTR
 * and TR.  So a delivery from user mode into ring 0 is remembered with
 * those, and the next one of the same vector that finds them all the same
 * just pushes its frame.  A hardware interrupt or exception only: int n
 * checks the gate's DPL against its caller.
 */
static void remember_delivery(struct vcpu *v, const struct event *ev, const uint32_t gate[2],
			      uint32_t ss_base, const struct handler_entry *entry)
{
	struct user_delivery *last = &v->last_from_user;
	uint32_t generation = arch_guest_mirror_generation();
	last->generation = 0;
	if (v->vpl != VPL_USER || ev->source == EVENT_SOFTWARE || v->tables_unprotected ||
	    v->handler_code.generation != generation || v->handler_code.sel != entry->cs ||
	    v->handler_stack.generation != generation || v->handler_stack.sel != entry->ss)
		return;		/* a descriptor the generation does not cover */
	*last = (struct user_delivery){
		.generation = generation, .vector = ev->vector,
		.gate = { gate[0], gate[1] }, .idtr = v->idtr,
		.tr_base = v->tr_base, .tr_limit = v->tr_limit,
		.ss0 = entry->ss, .ss_base = ss_base, .entry = *entry,
	};
}

/* 0 if delivered as the last one from user mode was (remember_delivery);
 * -1 if anything differs, or an access fails: then the general way, from
 * the start, which finds the same and raises what the CPU would. */
static int deliver_as_before(struct vcpu *v, const struct event *ev)
{
	struct user_delivery *last = &v->last_from_user;
	if (last->generation == 0 || last->vector != ev->vector ||
	    last->generation != arch_guest_mirror_generation() ||
	    ev->source == EVENT_SOFTWARE || v->tables_unprotected ||
	    last->idtr.base != v->idtr.base || last->idtr.limit != v->idtr.limit ||
	    last->tr_base != v->tr_base || last->tr_limit != v->tr_limit)
		return -1;
	/* The CPU's accesses, straight through the kernel's shadow, live now
	 * (try_deliver): what it does not map, or maps read-only, goes the
	 * general way, which walks the guest's tables (core/vmem.c). */
	const struct shadow_ops *ops = v->shadow.ops;
	if (!vmem_paging_on(v) || !ops || !ops->read_live || !ops->write_live)
		return -1;
	uint32_t gate[2], stack0[2];	/* stack0: the TSS's ESP0 and SS0 */
	if (ops->read_live(0, v->idtr.base + ev->vector * 8, gate, 8) ||
	    gate[0] != last->gate[0] || gate[1] != last->gate[1] ||
	    ops->read_live(0, v->tr_base + 4, stack0, 8) || (uint16_t)stack0[1] != last->ss0)
		return -1;
	uint32_t words[6];
	unsigned n = handler_frame(v, ev, 1, words);
	uint32_t esp = stack0[0] - 4 * n;
	if (ops->write_live(0, last->ss_base + esp, words, 4 * n))
		return -1;
	/* Linux's user and kernel segments are all flat: the real CS and SS
	 * need not change, and nothing the arch's short path depends on does
	 * (vcpu.h, arm_hint). */
	if (last->alias_checked != arch_alias_generation()) {
		last->alias_checked = arch_alias_generation();
		last->aliases_loaded = arch_alias_loaded_for(1, last->entry.cs_raw) &&
				       arch_alias_loaded_for(0, last->entry.ss_raw);
	}
	enter_handler(v, ev, &last->entry, esp, last->aliases_loaded);
	if (last->aliases_loaded)
		v->arm_hint = ARM_KEEP_OR_ARM;
	return 0;
}

/*
 * From virtual user mode, every access a delivery makes (the IDT, the GDT,
 * the TSS, the kernel stack) is to kernel memory, which the user shadow
 * does not map: the VMM would walk the guest's tables for each.  So the
 * kernel's shadow is loaded first; it is the one the handler will run on,
 * and the user's comes back if the event does not leave user mode.
 */
static int try_deliver(struct vcpu *v, const struct event *ev, struct event *err)
{
	int from_user = v->vpl == VPL_USER;
	if (from_user) {
		arch_guest_load_shadow(v, SHADOW_KERNEL);
		if (deliver_as_before(v, ev) == 0)
			return 0;
	}
	int result = deliver_checked(v, ev, err);
	if (from_user && v->vpl == VPL_USER)
		arch_guest_load_shadow(v, SHADOW_USER);
	return result;
}

static int deliver_checked(struct vcpu *v, const struct event *ev, struct event *err)
{
	struct trapframe *tf = v->regs;
	uint32_t gate[2];

	/* The gate. */
	if ((uint32_t)ev->vector * 8 + 7 > v->idtr.limit) {
		*err = fault(VEC_GP, idt_error(ev));
		return -1;
	}
	if (vmem_read_sys(v, v->idtr.base + ev->vector * 8, gate, 8)) {
		*err = emulate_memory_fault(v, fault(VEC_GP, idt_error(ev)));
		return -1;
	}
	unsigned type = (gate[1] >> 8) & 0x1f;	/* with the S bit, which must be 0 */
	unsigned gate_dpl = (gate[1] >> 13) & 3;
	if (type != GATE_INT32 && type != GATE_TRAP32) {
		/* Task gates and 16-bit gates are not virtualized: a guest
		 * using one is told so by a #GP, not run wrongly. */
		*err = fault(VEC_GP, idt_error(ev));
		return -1;
	}
	if (ev->source == EVENT_SOFTWARE && gate_dpl < v->vpl) {
		*err = fault(VEC_GP, idt_error(ev));
		return -1;
	}
	if (!(gate[1] & 0x8000)) {
		*err = fault(VEC_NP, idt_error(ev));
		return -1;
	}
	uint16_t sel = gate[0] >> 16;
	uint32_t offset = (gate[0] & 0xffff) | (gate[1] & 0xffff0000u);

	/* The handler's code segment decides the new privilege. */
	uint64_t raw;
	struct segment cs;
	if (ring_descriptor(v, &v->handler_code, sel, &raw, &cs)) {
		*err = fault(VEC_GP, selector_error(ev, sel));
		return -1;
	}
	if (!segment_is_code(&cs) || cs.dpl > v->vpl) {
		*err = fault(VEC_GP, selector_error(ev, sel));
		return -1;
	}
	if (!cs.present) {
		*err = fault(VEC_NP, selector_error(ev, sel));
		return -1;
	}
	/* Non-conforming ring-1 or ring-2 code would run the handler in
	 * that ring, which the VMM does not virtualize: #GP(selector), but
	 * only after the CPU's own checks, so a not-present one is still
	 * #NP (SDM Vol. 2, INT n: type and DPL, then present, then the
	 * privilege).  Conforming code runs at the current ring: fine. */
	if (!(cs.type & SEG_TYPE_CONFORMING) && cs.dpl != VPL_KERNEL &&
	    cs.dpl != VPL_USER) {
		*err = fault(VEC_GP, selector_error(ev, sel));
		return -1;
	}
	if (!segments_code_aliasable(&cs)) {
		/* Valid for the guest, but starting inside the VMM's space. */
		*err = fault(VEC_GP, selector_error(ev, sel));
		return -1;
	}
	/* Conforming code runs at the caller's privilege. */
	unsigned new_pl = (cs.type & SEG_TYPE_CONFORMING) ? v->vpl : cs.dpl;

	/* The stack: an inner ring's from the TSS, else the current one. */
	uint16_t new_ss = v->ss;
	uint32_t new_esp = tf->esp, new_ss_base = v->ss_base;
	uint64_t new_ss_raw = 0;
	if (new_pl < v->vpl) {
		if (read_ring0_stack(v, ev, &new_ss, &new_esp, &new_ss_raw, err))
			return -1;
		new_ss_base = segment_base(new_ss_raw);
	}
	/* The handler's EIP must lie within its code segment, checked once
	 * the stack is known and before anything is pushed: #GP(0), with EXT
	 * for an external event (SDM Vol. 2, INT n: "IF instruction pointer
	 * from IDT gate is not within new code-segment limits THEN #GP(EXT)"). */
	if (offset > cs.limit) {
		*err = fault(VEC_GP, selector_error(ev, 0));
		return -1;
	}
	uint32_t words[6];
	uint32_t bytes = 4 * handler_frame(v, ev, new_pl < v->vpl, words);
	uint32_t top = new_esp - bytes;
	if (vmem_write_sys(v, new_ss_base + top, words, bytes)) {
		*err = emulate_memory_fault(v, fault(new_pl < v->vpl ? VEC_TS : VEC_SS, 0));
		return -1;
	}

	/* Commit: nothing above has changed the vCPU. */
	struct handler_entry entry = {
		.cs = sel, .ss = new_ss, .pl = new_pl, .new_stack = new_pl < v->vpl,
		.cs_raw = raw, .ss_raw = new_ss_raw, .eip = offset,
		.interrupt_gate = type == GATE_INT32,
	};
	if (entry.new_stack)
		remember_delivery(v, ev, gate, new_ss_base, &entry);
	enter_handler(v, ev, &entry, top, 0);
	return 0;
}

int deliver_event(struct vcpu *v, struct event ev)
{
	/* Each failed attempt turns into the next event to deliver: the new
	 * fault itself, or a double fault.  A fault while delivering a double
	 * fault is a triple fault, and a few rounds always reach one. */
	for (int attempt = 0; attempt < 4; attempt++) {
		struct event next;
		if (try_deliver(v, &ev, &next) == 0)
			return 0;
		if (ev.source == EVENT_SOFTWARE)
			v->regs->eip -= ev.insn_len;
		if (ev.source == EVENT_EXCEPTION && ev.vector == VEC_DF)
			return -1;
		if (ev.source == EVENT_EXCEPTION &&
		    deliver_is_double_fault(ev.vector, next.vector))
			next = fault(VEC_DF, 0);
		ev = next;
	}
	return -1;
}
