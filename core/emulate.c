/*
 * The #GP emulator: fetch, decode, dispatch.  Each privileged instruction is
 * a small function below; the ones that move between rings or code segments
 * are in ring.c, port I/O in ioport.c.
 */
#include "core/emulate.h"


#include "core/arch.h"
#include "core/exitstats.h"
#include "core/guest.h"
#include "core/hypercall.h"
#include "core/mmu.h"
#include "core/segments.h"
#include "core/step.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "lib/string.h"

/*
 * The CR4 bits the VMM virtualizes (SDM Vol. 3A §2.5).  Setting any other is
 * a #GP, as on a CPU without the feature: VME/PVI, PAE paging, SMEP/SMAP,
 * XSAVE and the rest have no implementation here, and the CPU model the
 * launcher gives the machine (qemu32 with UMIP) does not report them.
 * DE, MCE and PCE are kept virtually; OSFXSR and OSXMMEXCPT reach the real
 * CR4, since the guest owns the FPU and SSE state; TSD does too, and the
 * virtual kernel's rdtsc is then emulated; PSE and PGE shape the shadows;
 * UMIP makes virtual user mode's sgdt & co. fault.
 */
#define CR4_VIRTUALIZED (CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_PCE | \
			 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP)

/* MSRs the VMM implements (SDM Vol. 4, Table 2-2). */
#define MSR_TSC          0x010
#define MSR_SYSENTER_CS  0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT          0x277
#define PAT_RESET_VALUE  0x0007040600070406ull	/* SDM Vol. 3A §11.12.4 */

struct event emulate_fault(uint8_t vector, uint32_t error)
{
	return (struct event){ vector, vector_has_error_code(vector), error,
			       EVENT_EXCEPTION, 0, 0 };
}

struct event emulate_memory_fault(struct vcpu *v, struct event otherwise)
{
	if (v->fault_bad_table)
		guest_die(v, "a guest page table or page-table entry used for 0x%08x "
			  "points past guest RAM", v->fault_address);
	if (!v->fault_is_pf)
		return otherwise;
	struct event pf = emulate_fault(VEC_PF, v->fault_error);
	pf.address = v->fault_address;
	return pf;
}

/* ---- operands ---- */

static uint32_t guest_segment_base(struct vcpu *v, int seg, int *usable)
{
	struct trapframe *tf = v->regs;
	uint32_t sel;
	*usable = 1;
	switch (seg) {
	case SEG_CS: return v->cs_base;
	case SEG_SS: return v->ss_base;
	case SEG_ES: sel = tf->es; break;
	case SEG_FS: sel = tf->fs; break;
	case SEG_GS: sel = tf->gs; break;
	default:     sel = tf->ds; break;
	}
	uint64_t raw;
	/* A null selector in a data register faults on use (SDM Vol. 3A §3.4.2). */
	if (vmem_descriptor(v, (uint16_t)sel, &raw)) {
		*usable = 0;
		return 0;
	}
	return segment_decode(raw).base;
}

int emulate_operand_address(struct vcpu *v, const struct insn *in,
			    uint32_t *linear, struct event *raise)
{
	uint32_t regs[8];
	for (unsigned r = 0; r < 8; r++)
		regs[r] = *vcpu_reg(v->regs, r);
	int seg = in->seg >= 0 ? in->seg : in->default_seg;
	int usable;
	uint32_t base = guest_segment_base(v, seg, &usable);
	if (!usable) {
		*raise = emulate_fault(seg == SEG_SS ? VEC_SS : VEC_GP, 0);
		return -1;
	}
	*linear = base + insn_effective_address(in, regs);
	return 0;
}

static int read_operand(struct vcpu *v, const struct insn *in, void *buf,
			unsigned len, struct event *raise)
{
	uint32_t linear;
	if (emulate_operand_address(v, in, &linear, raise))
		return -1;
	if (vmem_read(v, linear, buf, len)) {
		*raise = emulate_memory_fault(v, emulate_fault(VEC_GP, 0));
		return -1;
	}
	return 0;
}

static int write_operand(struct vcpu *v, const struct insn *in, const void *buf,
			 unsigned len, struct event *raise)
{
	uint32_t linear;
	if (emulate_operand_address(v, in, &linear, raise))
		return -1;
	if (vmem_write(v, linear, buf, len)) {
		*raise = emulate_memory_fault(v, emulate_fault(VEC_GP, 0));
		return -1;
	}
	return 0;
}

/* A 16-bit register or memory operand (smsw, str, sldt with a memory
 * destination always store 16 bits; with a register, opsize bits). */
static int store_r_m16(struct vcpu *v, const struct insn *in, uint16_t value,
		       struct event *raise)
{
	if (in->mod == 3) {
		uint32_t *r = vcpu_reg(v->regs, in->rm);
		*r = in->opsize == 4 ? value : ((*r & 0xffff0000u) | value);
		return 0;
	}
	return write_operand(v, in, &value, 2, raise);
}

static int load_r_m16(struct vcpu *v, const struct insn *in, uint16_t *value,
		      struct event *raise)
{
	if (in->mod == 3) {
		*value = (uint16_t)*vcpu_reg(v->regs, in->rm);
		return 0;
	}
	return read_operand(v, in, value, 2, raise);
}

/* ---- the instructions ---- */

static enum emulation emulate_cli(struct vcpu *v)
{
	v->vif = 0;
	return EMULATED;
}

static enum emulation emulate_hlt(struct vcpu *v)
{
	/* Nothing can wake it: this is how a kernel without ACPI powers
	 * off or halts for good (Linux's machine_halt/power_off). */
	if (!v->vif)
		guest_halted_for_good(v);
	v->halted = 1;
	return EMULATED;
}

/* The bytes after the instruction, for sti's look at what follows. */
struct fetched {
	const uint8_t *next;
	unsigned avail;
	uint32_t next_eip;
	uint32_t extra_len;	/* a following instruction emulated with it */
	int eip_set;		/* ... which put EIP where it belongs */
};

/*
 * sti enables interrupts only after the next instruction (SDM Vol. 2, STI),
 * so that "sti; hlt" cannot take the interrupt before the hlt and then
 * sleep through it.  Two pairs are emulated as one step: "sti; hlt" (Linux's
 * idle loop) and "sti; sysexit" (its return from a system call), the
 * interrupt coming after the pair as it would; after any other sti the VMM
 * holds back interrupts until the next instruction has run (core/step.c,
 * guest_exit).
 */
static enum emulation emulate_sti(struct vcpu *v, struct fetched *f,
				  struct event *raise)
{
	if (v->vif)
		return EMULATED;	/* no shadow when IF was already set */
	v->vif = 1;
	if (f->avail >= 1 && f->next[0] == 0xf4) {	/* hlt */
		f->extra_len = 1;
		return emulate_hlt(v);
	}
	/* sysexit, when it will not fault: a fault must name its own EIP. */
	if (f->avail >= 2 && f->next[0] == 0x0f && f->next[1] == 0x35 &&
	    v->vpl == VPL_KERNEL && (v->sysenter_cs & 0xfffc) != 0) {
		f->eip_set = 1;
		return ring_sysexit(v, raise);
	}
	/* Any other: interrupts wait until the next instruction has run.  An
	 * interrupt already waiting in the VMM needs the VMM back after it:
	 * single-step it.  Otherwise no step is started yet; guest_exit
	 * starts one if an interrupt arrives before the instruction has run. */
	if (vcpu_irq_pending(v)) {
		step_sti_shadow(v, f->next_eip);
		return EMULATED;
	}
	v->sti_shadow = 1;
	v->sti_shadow_eip = f->next_eip;
	return EMULATED;
}

static enum emulation emulate_in_out(struct vcpu *v, const struct insn *in)
{
	struct trapframe *tf = v->regs;
	unsigned size = in->opsize;
	/* E4-E7 name the port in an immediate byte, EC-EF in DX. */
	uint16_t port = (in->opcode & 0x08) ? (uint16_t)tf->edx : (uint16_t)in->imm;
	int is_out = in->opcode & 0x02;
	uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;

	if (is_out) {
		ioport_write(v, port, size, tf->eax & mask);
	} else {
		uint32_t value = ioport_read(v, port, size) & mask;
		tf->eax = (tf->eax & ~mask) | value;
	}
	return EMULATED;
}

/*
 * ins/outs, with or without rep: one element at a time through guest
 * memory.  A rep ins/outs runs at most STRING_IO_CHUNK iterations per exit: then EIP
 * stays on the instruction, with ECX, ESI/EDI saying how far it got, as
 * after an interrupt between iterations (SDM Vol. 2, REP), and the next
 * run of it traps again.  So a huge count cannot hold the VMM with the
 * guest's interrupts waiting.
 */
#define STRING_IO_CHUNK 1024

static enum emulation emulate_string_io(struct vcpu *v, const struct insn *in,
					struct fetched *f, struct event *raise)
{
	struct trapframe *tf = v->regs;
	unsigned size = in->opsize;
	int is_out = in->opcode & 0x02;
	uint32_t addr_mask = in->addrsize == 2 ? 0xffffu : 0xffffffffu;
	uint32_t count = in->rep ? (tf->ecx & addr_mask) : 1;
	if (count > STRING_IO_CHUNK) {
		count = STRING_IO_CHUNK;
		f->eip_set = 1;		/* not done: run it again */
	}
	int step = (tf->eflags & EFLAGS_DF) ? -(int)size : (int)size;
	/* outs reads DS:ESI (overridable); ins writes ES:EDI (never). */
	int seg = is_out ? (in->seg >= 0 ? in->seg : SEG_DS) : SEG_ES;
	int usable;
	uint32_t base = guest_segment_base(v, seg, &usable);
	if (!usable) {
		*raise = emulate_fault(VEC_GP, 0);
		return RAISE;
	}

	for (; count; count--) {
		uint32_t *index = is_out ? &tf->esi : &tf->edi;
		uint32_t linear = base + (*index & addr_mask);
		uint32_t value = 0;
		if (is_out) {
			if (vmem_read(v, linear, &value, size))
				goto fault;
			ioport_write(v, (uint16_t)tf->edx, size, value);
		} else {
			value = ioport_read(v, (uint16_t)tf->edx, size);
			if (vmem_write(v, linear, &value, size))
				goto fault;
		}
		*index = (*index & ~addr_mask) | ((*index + step) & addr_mask);
		if (in->rep)
			tf->ecx = (tf->ecx & ~addr_mask) | ((tf->ecx - 1) & addr_mask);
	}
	return EMULATED;
fault:
	/* Registers say how far it got, as after a fault in rep ins/outs. */
	*raise = emulate_memory_fault(v, emulate_fault(VEC_GP, 0));
	return RAISE;
}

static enum emulation emulate_mov_cr(struct vcpu *v, const struct insn *in,
				     struct event *raise)
{
	uint32_t *reg = vcpu_reg(v->regs, in->rm);
	int to_cr = in->opcode == 0x22;

	if (!to_cr) {
		switch (in->reg) {
		case 0: *reg = v->cr0; return EMULATED;
		case 2: *reg = v->cr2; return EMULATED;
		case 3: *reg = v->cr3; return EMULATED;
		case 4: *reg = v->cr4; return EMULATED;
		}
		*raise = emulate_fault(VEC_UD, 0);
		return RAISE;
	}
	uint32_t value = *reg;
	switch (in->reg) {
	case 0: {
		if (!(value & CR0_PE))
			guest_die(v, "the guest left protected mode (CR0.PE=0): "
				  "real mode is not virtualized");
		uint32_t old = v->cr0;
		v->cr0 = value | CR0_ET;	/* ET is hardwired to 1 */
		arch_guest_set_cr0(v);
		/* Turning paging on or off, or changing WP, changes every
		 * translation: the shadows start over (SDM Vol. 3A §4.10.4.1). */
		if ((old ^ v->cr0) & (CR0_PG | CR0_WP)) {
			if ((old ^ v->cr0) & CR0_PG)
				mmu_protect_tables(v);	/* flushes too */
			else
				mmu_flush(v);
		}
		return EMULATED;
	}
	case 2:
		v->cr2 = value;
		hypercall_pv_cr2(v);
		return EMULATED;
	case 3:
		/* A CR3 write flushes the TLB but for its global entries; the
		 * shadows behave as one. */
		v->cr3 = value;
		if (vmem_paging_on(v))
			mmu_load_cr3(v);
		return EMULATED;
	case 4:
		if (value & ~CR4_VIRTUALIZED) {
			*raise = emulate_fault(VEC_GP, 0);
			return RAISE;
		}
		uint32_t changed = v->cr4 ^ value;
		v->cr4 = value;
		arch_guest_set_cr4(v);
		if ((changed & (CR4_PSE | CR4_PGE)) && vmem_paging_on(v))
			mmu_flush(v);
		return EMULATED;
	}
	*raise = emulate_fault(VEC_UD, 0);
	return RAISE;
}

/*
 * Debug registers are kept, not armed: the guest reads back what it wrote,
 * but its hardware breakpoints do not fire under the VMM.  DR6 and DR7
 * have bits fixed to 1 or 0 (SDM Vol. 3A §17.2.3, §17.2.4).
 */
#define DR6_FIXED1 0xffff0ff0u
#define DR6_WRITABLE 0x0000e00fu
#define DR7_FIXED1 0x00000400u
#define DR7_FIXED0 0x0000d800u

void emulate_reset(struct vcpu *v)
{
	v->dr[6] = DR6_FIXED1;
	v->dr[7] = DR7_FIXED1;
	v->pat = PAT_RESET_VALUE;
}

static enum emulation emulate_mov_dr(struct vcpu *v, const struct insn *in)
{
	uint32_t *reg = vcpu_reg(v->regs, in->rm);
	unsigned n = in->reg;
	if (n == 4 || n == 5)
		n += 2;		/* DR4/DR5 alias DR6/DR7 while CR4.DE=0 */
	if (in->opcode == 0x21) {
		*reg = v->dr[n];
		return EMULATED;
	}
	if (n == 6)
		v->dr[6] = (*reg & DR6_WRITABLE) | DR6_FIXED1;
	else if (n == 7)
		v->dr[7] = (*reg & ~DR7_FIXED0) | DR7_FIXED1;
	else
		v->dr[n] = *reg;
	return EMULATED;
}

/*
 * rdmsr and wrmsr.  The guest never writes a real MSR.  The VMM keeps the
 * SYSENTER MSRs (the ring code uses them) and PAT virtually; the TSC and a
 * few read-only descriptions of the CPU (microcode revision, MTRR setup) it
 * reads from the CPU for the guest (arch_read_msr); every other MSR reads as
 * 0 and ignores writes, which is what our hardware, QEMU's TCG, does for the
 * MSRs it lacks (PLATFORM-FACTS.md), so a guest sees the same natively and
 * under the VMM.
 */
static enum emulation emulate_msr(struct vcpu *v, const struct insn *in)
{
	struct trapframe *tf = v->regs;
	int write = in->opcode == 0x30;
	uint64_t value = write ? ((uint64_t)tf->edx << 32 | tf->eax) : 0;

	switch (tf->ecx) {
	case MSR_TSC:
		if (!write)
			value = arch_read_tsc();
		break;
	case MSR_SYSENTER_CS:
		if (write)
			v->sysenter_cs = (uint32_t)value;
		value = v->sysenter_cs;
		break;
	case MSR_SYSENTER_ESP:
		if (write)
			v->sysenter_esp = (uint32_t)value;
		value = v->sysenter_esp;
		break;
	case MSR_SYSENTER_EIP:
		if (write)
			v->sysenter_eip = (uint32_t)value;
		value = v->sysenter_eip;
		break;
	case MSR_PAT:
		if (write)
			v->pat = value;
		value = v->pat;
		break;
	default:
		if (write || arch_read_msr(tf->ecx, &value))
			value = 0;
		break;
	}
	if (!write) {
		tf->eax = (uint32_t)value;
		tf->edx = (uint32_t)(value >> 32);
	}
	return EMULATED;
}

/* 0F 01: the descriptor-table and machine-status group. */
static enum emulation emulate_group7(struct vcpu *v, const struct insn *in,
				     struct event *raise)
{
	uint16_t msw;
	/* With a register operand only smsw and lmsw are these instructions;
	 * the other mod=3 encodings (monitor, swapgs, ...) we do not offer. */
	if (in->mod == 3 && in->reg != 4 && in->reg != 6) {
		*raise = emulate_fault(VEC_UD, 0);
		return RAISE;
	}
	switch (in->reg) {
	case 0: case 1: case 2: case 3:		/* sgdt, sidt, lgdt, lidt */
		return ring_descriptor_table(v, in, raise);
	case 4:					/* smsw */
		return store_r_m16(v, in, (uint16_t)v->cr0, raise) ? RAISE : EMULATED;
	case 6:					/* lmsw: PE can be set, not cleared */
		if (load_r_m16(v, in, &msw, raise))
			return RAISE;
		v->cr0 = (v->cr0 & ~0xeu) | (msw & 0xfu) | (v->cr0 & CR0_PE);
		arch_guest_set_cr0(v);
		return EMULATED;
	case 7: {				/* invlpg */
		uint32_t linear;
		if (emulate_operand_address(v, in, &linear, raise))
			return RAISE;
		mmu_invalidate(v, linear);
		return EMULATED;
	}
	}
	*raise = emulate_fault(VEC_UD, 0);
	return RAISE;
}

/* 0F 00: sldt, str, lldt, ltr. */
static enum emulation emulate_group6(struct vcpu *v, const struct insn *in,
				     struct event *raise)
{
	switch (in->reg) {
	case 0:
		return store_r_m16(v, in, v->ldtr, raise) ? RAISE : EMULATED;
	case 1:
		return store_r_m16(v, in, v->tr, raise) ? RAISE : EMULATED;
	case 2: case 3:
		return ring_descriptor_table(v, in, raise);
	}
	*raise = emulate_fault(VEC_UD, 0);
	return RAISE;
}

/* sgdt, sidt, smsw (0F 01 /0 /1 /4), sldt, str (0F 00 /0 /1): what
 * CR4.UMIP forbids outside ring 0. */
static int is_umip_insn(const struct insn *in)
{
	if (in->map != MAP_0F)
		return 0;
	if (in->opcode == 0x01)
		return in->reg == 0 || in->reg == 1 || in->reg == 4;
	return in->opcode == 0x00 && (in->reg == 0 || in->reg == 1);
}

/*
 * Whether virtual user mode may use ports port..port+size-1.  The guest's
 * IOPL is always 0 (iret and popf never change it), so at CPL 3 the CPU
 * asks the I/O permission bitmap of the current TSS (SDM Vol. 1 §19.5.2):
 * the map's offset is the word at 0x66 of the TSS, and every port the
 * access touches must have its bit clear.  The CPU reads the two bytes at
 * offset + port / 8 (an access may straddle a byte), and either byte past
 * the TSS limit refuses it, as does a TSS too short to hold the offset.
 * The real TSS opens nothing to virtual user mode; the guest's TSS (its
 * base and limit cached by ltr) is the one that decides, so the VMM reads
 * it.  A TSS page the guest has not mapped reads as closed (the CPU would
 * give the #PF of its implicit read; here it is the #GP of a closed port).
 */
#define TSS_IOMAP_BASE 0x66
#define TSS32_MIN_LIMIT 0x67

static int io_permitted(struct vcpu *v, uint16_t port, unsigned size)
{
	uint16_t map_base, bits;
	if ((v->tr & 0xfffc) == 0 || v->tr_limit < TSS32_MIN_LIMIT ||
	    vmem_read_sys(v, v->tr_base + TSS_IOMAP_BASE, &map_base, 2))
		return 0;
	uint32_t offset = (uint32_t)map_base + port / 8u;
	if (offset + 1 > v->tr_limit || vmem_read_sys(v, v->tr_base + offset, &bits, 2))
		return 0;
	return ((bits >> (port & 7)) & ((1u << size) - 1)) == 0;
}

/* The instructions a guest may use in virtual user mode too: they are not
 * privileged, they trap only because of how the VMM runs the guest (the
 * real CR4.UMIP is always on; the guest's decides; the real I/O bitmap is
 * closed in virtual user mode; the guest's TSS decides). */
static int allowed_in_user_mode(struct vcpu *v, const struct insn *in)
{
	if (is_umip_insn(in))
		return !(v->cr4 & CR4_UMIP);
	if (in->map == MAP_ONE_BYTE)
		switch (in->opcode) {
		case 0xe4: case 0xe5: case 0xe6: case 0xe7:	/* in, out imm8 */
			return io_permitted(v, (uint16_t)in->imm, in->opsize);
		case 0xec: case 0xed: case 0xee: case 0xef:	/* in, out (dx) */
		case 0x6c: case 0x6d: case 0x6e: case 0x6f:	/* ins, outs */
			return io_permitted(v, (uint16_t)v->regs->edx, in->opsize);
		case 0xcc: case 0xcd: case 0xce:	/* int3, int n, into */
		case 0xcf:				/* iret */
		case 0xea: case 0x9a:			/* far jmp, call */
		case 0xca: case 0xcb:			/* far ret */
		case 0x8e: case 0x07: case 0x17: case 0x1f: /* segment loads */
		case 0xc4: case 0xc5:			/* les, lds */
			return 1;
		case 0xff:
			return in->reg == 3 || in->reg == 5;	/* far call, jmp */
		}
	if (in->map == MAP_0F)
		switch (in->opcode) {
		case 0x34:				/* sysenter */
		case 0xa1: case 0xa9:			/* pop fs, gs */
		case 0xb2: case 0xb4: case 0xb5:	/* lss, lfs, lgs */
			return 1;
		}
	return 0;
}

static enum emulation dispatch(struct vcpu *v, const struct insn *in,
			       struct fetched *f, struct event *raise)
{
	if (in->map == MAP_ONE_BYTE) {
		switch (in->opcode) {
		case 0xfa: return emulate_cli(v);
		case 0xfb: return emulate_sti(v, f, raise);
		case 0xf4: return emulate_hlt(v);
		case 0xe4: case 0xe5: case 0xe6: case 0xe7:
		case 0xec: case 0xed: case 0xee: case 0xef:
			return emulate_in_out(v, in);
		case 0x6c: case 0x6d: case 0x6e: case 0x6f:
			return emulate_string_io(v, in, f, raise);
		case 0xcc: case 0xcd: case 0xce:
			return ring_software_interrupt(v, in, raise);
		case 0xcf:
			return ring_iret(v, in, raise);
		case 0xea: case 0x9a: case 0xca: case 0xcb:
			return ring_far_transfer(v, in, raise);
		case 0xff:
			if (in->reg == 3 || in->reg == 5)
				return ring_far_transfer(v, in, raise);
			break;
		case 0x8e: case 0x07: case 0x17: case 0x1f: case 0xc4: case 0xc5:
			return ring_load_segment(v, in, raise);
		}
	} else if (in->map == MAP_0F) {
		switch (in->opcode) {
		case 0x00: return emulate_group6(v, in, raise);
		case 0x01: return emulate_group7(v, in, raise);
		case 0x06:				/* clts */
			v->cr0 &= ~CR0_TS;
			arch_guest_set_cr0(v);
			return EMULATED;
		case 0x08: case 0x09: return EMULATED;	/* invd, wbinvd: no caches to flush */
		case 0x20: case 0x22: return emulate_mov_cr(v, in, raise);
		case 0x21: case 0x23: return emulate_mov_dr(v, in);
		case 0x30: case 0x32: return emulate_msr(v, in);
		case 0x31: {				/* rdtsc, with CR4.TSD set */
			uint64_t tsc = arch_read_tsc();
			v->regs->eax = (uint32_t)tsc;
			v->regs->edx = (uint32_t)(tsc >> 32);
			return EMULATED;
		}
		case 0x34: return ring_sysenter(v, raise);
		case 0x35: return ring_sysexit(v, raise);
		case 0xa1: case 0xa9: case 0xb2: case 0xb4: case 0xb5:
			return ring_load_segment(v, in, raise);
		}
	}
	return RAISE;
}

/* Fetch what there is of the 15 bytes at CS:EIP (the end of RAM or of a
 * mapping may cut it); returns how many. */
static unsigned fetch_insn_bytes(struct vcpu *v, uint8_t bytes[INSN_MAX_LEN])
{
	unsigned avail;
	/* Usually all 15 are mapped in the shadow the guest just ran on. */
	if (arch_read_guest_linear(v->cs_base + v->regs->eip, bytes, INSN_MAX_LEN) == 0)
		return INSN_MAX_LEN;
	for (avail = INSN_MAX_LEN; avail > 0; avail--)
		if (vmem_read(v, v->cs_base + v->regs->eip, bytes, avail) == 0)
			break;
	return avail;
}

/*
 * A write to a page holding the guest's GDT or LDT (core/mmu.c).  The
 * common case is a plain mov of a register or an immediate (Linux's TLS
 * updates on every context switch): done here, at gpa (the page the guest
 * maps writable, already marked dirty by the walk), and the written
 * descriptors mirrored.  Returns 0 if done (EIP advanced), -1 for anything
 * else, which the caller single-steps on an opened page instead.
 */
int emulate_table_store(struct vcpu *v, uint32_t fault_va, uint32_t gpa)
{
	struct trapframe *tf = v->regs;
	uint8_t bytes[INSN_MAX_LEN];
	unsigned avail;
	struct insn in;

	/* In virtual kernel mode, and not single-stepping: the CPU's #DB
	 * after the instruction would be ours to raise. */
	if (v->vpl != VPL_KERNEL || (tf->eflags & EFLAGS_TF) || v->step_reasons)
		return -1;
	avail = fetch_insn_bytes(v, bytes);
	if (avail == 0 || decode_insn(bytes, avail, 1, &in) != DECODE_OK ||
	    in.map != MAP_ONE_BYTE || in.mod == 3 || in.lock || in.rep)
		return -1;

	uint32_t value, size;
	switch (in.opcode) {
	case 0x89: value = *vcpu_reg(tf, in.reg); size = in.opsize; break;	/* mov r/m, r */
	case 0x88:						/* mov r/m8, r8 */
		value = *vcpu_reg(tf, in.reg & 3) >> ((in.reg & 4) ? 8 : 0);
		size = 1;
		break;
	case 0xc7: if (in.reg != 0) return -1; value = in.imm; size = in.opsize; break;
	case 0xc6: if (in.reg != 0) return -1; value = in.imm; size = 1; break;
	/* mov moffs, eAX / AL: Linux's load_TLS stores its three descriptors
	 * into the per-CPU GDT at absolute addresses, on every context switch. */
	case 0xa3: value = tf->eax; size = in.opsize; break;
	case 0xa2: value = tf->eax & 0xff; size = 1; break;
	default: return -1;
	}
	uint32_t linear;
	struct event unused;
	if (emulate_operand_address(v, &in, &linear, &unused))
		return -1;
	/* Exactly the faulting store, wholly on the faulting page. */
	if (linear != fault_va || ((linear & 0xfffu) + size) > 0x1000u)
		return -1;
	if (gmem_write(&v->mem, gpa, &value, size))
		return -1;
	ring_mirror_written(v, gpa, size);
	tf->eip += in.len;
	return 0;
}

/* What an emulated instruction counts as in the exit statistics. */
static enum exit_reason exit_reason_of(const struct insn *in)
{
	if (in->map == MAP_ONE_BYTE)
		switch (in->opcode) {
		case 0xfa: return XR_GP_CLI;
		case 0xfb: return XR_GP_STI;
		case 0xf4: return XR_GP_HLT;
		case 0xcf: return XR_GP_IRET;
		case 0xcc: case 0xcd: case 0xce: return XR_GP_INT;
		case 0xea: case 0x9a: case 0xca: case 0xcb: case 0xff: return XR_GP_FAR;
		case 0x8e: case 0x07: case 0x17: case 0x1f: case 0xc4: case 0xc5:
			return XR_GP_SEGMENT;
		case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed:
		case 0xee: case 0xef: case 0x6c: case 0x6d: case 0x6e: case 0x6f:
			return XR_GP_IO;
		}
	if (in->map == MAP_0F)
		switch (in->opcode) {
		case 0x00: return XR_GP_TABLES;
		case 0x01:
			if (in->reg == 7)
				return XR_GP_INVLPG;
			return in->reg == 4 || in->reg == 6 ? XR_GP_CR : XR_GP_TABLES;
		case 0x06: case 0x20: case 0x21: case 0x22: case 0x23: return XR_GP_CR;
		case 0x30: case 0x31: case 0x32: return XR_GP_MSR;
		case 0x34: return XR_GP_SYSENTER;
		case 0x35: return XR_GP_SYSEXIT;
		case 0xa1: case 0xa9: case 0xb2: case 0xb4: case 0xb5: return XR_GP_SEGMENT;
		}
	return XR_GP_OTHER;
}

/* Instructions that leave EIP where they put it (or must not advance it). */
static int sets_eip(const struct insn *in)
{
	if (in->map == MAP_ONE_BYTE)
		return in->opcode == 0xcf || in->opcode == 0xea || in->opcode == 0x9a ||
		       in->opcode == 0xca || in->opcode == 0xcb ||
		       (in->opcode == 0xff && (in->reg == 3 || in->reg == 5));
	return in->map == MAP_0F && (in->opcode == 0x34 || in->opcode == 0x35);
}

enum emulation emulate_gp(struct vcpu *v, uint32_t error, struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint8_t bytes[INSN_MAX_LEN];
	unsigned avail;
	struct insn in;

	avail = fetch_insn_bytes(v, bytes);
	*raise = emulate_fault(VEC_GP, error);
	if (avail == 0)
		return RAISE;
	/* cli, sti and iret are most of the exits: one byte, no prefixes,
	 * nothing for the decoder to find out (iret's operand size is the
	 * segment's, 32 bits: a 16-bit code segment cannot be virtualized). */
	if (bytes[0] == 0xfa || bytes[0] == 0xfb || bytes[0] == 0xcf)
		in = (struct insn){ .len = 1, .map = MAP_ONE_BYTE, .opcode = bytes[0],
				    .seg = -1, .opsize = 4, .addrsize = 4 };
	else if (decode_insn(bytes, avail, 1, &in) != DECODE_OK)
		return RAISE;	/* not something we emulate: the #GP stands */

	/* Case 2 of the paper: privileged in virtual user mode. */
	if (v->vpl == VPL_USER && !allowed_in_user_mode(v, &in))
		return RAISE;

	uint32_t eip = tf->eip;
	struct fetched f = { bytes + in.len, avail - in.len, eip + in.len, 0, 0 };
	enum emulation result = dispatch(v, &in, &f, raise);
	if (result == EMULATED)
		exitstats_refine(exit_reason_of(&in));
	if (result == EMULATED && !sets_eip(&in) && !f.eip_set)
		tf->eip = eip + in.len + f.extra_len;
	return result;
}
