/*
 * Event delivery.  One attempt (try_deliver) either succeeds or reports the
 * fault it ran into; deliver_event applies the CPU's rules for faults during
 * delivery on top (SDM Vol. 3A §6.15, "Interrupt 8—Double Fault Exception").
 */
#include "core/deliver.h"


#include "core/arch.h"
#include "core/emulate.h"
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
	if (from_user)
		arch_guest_load_shadow(v, SHADOW_KERNEL);
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
	uint32_t frame[7];
	unsigned n = 0;
	if (new_pl < v->vpl) {
		if (read_ring0_stack(v, ev, &new_ss, &new_esp, &new_ss_raw, err))
			return -1;
		new_ss_base = segment_base(new_ss_raw);
		frame[n++] = v->ss;
		frame[n++] = tf->esp;
	}
	/* The handler's EIP must lie within its code segment, checked once
	 * the stack is known and before anything is pushed: #GP(0), with EXT
	 * for an external event (SDM Vol. 2, INT n: "IF instruction pointer
	 * from IDT gate is not within new code-segment limits THEN #GP(EXT)"). */
	if (offset > cs.limit) {
		*err = fault(VEC_GP, selector_error(ev, 0));
		return -1;
	}
	frame[n++] = (tf->eflags & ~EFLAGS_IF) | (v->vif ? EFLAGS_IF : 0);
	frame[n++] = v->cs;
	frame[n++] = tf->eip;
	if (ev->has_error)
		frame[n++] = ev->error;

	/* Push: highest address first, as the CPU does. */
	uint32_t bytes = 4 * n;
	uint32_t top = new_esp - bytes;
	uint32_t words[7];
	for (unsigned i = 0; i < n; i++)
		words[i] = frame[n - 1 - i];
	if (vmem_write_sys(v, new_ss_base + top, words, bytes)) {
		*err = emulate_memory_fault(v, fault(new_pl < v->vpl ? VEC_TS : VEC_SS, 0));
		return -1;
	}

	/* Commit: nothing above has changed the vCPU. */
	ring_set_code(v, sel, new_pl, raw);
	if (new_pl < v->vpl)
		ring_set_stack(v, new_ss, new_ss_raw);
	tf->esp = top;
	tf->eip = offset;
	tf->eflags &= ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM);
	if (type == GATE_INT32)
		v->vif = 0;
	if (ev->vector == VEC_PF && ev->source == EVENT_EXCEPTION)
		v->cr2 = ev->address;	/* the CPU loads CR2 as it delivers #PF */
	v->halted = 0;
	if (new_pl != v->vpl) {
		v->vpl = new_pl;
		arch_guest_switch_ring(v);
	}
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
