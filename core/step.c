#include "core/step.h"

#include "core/arch.h"
#include "core/emulate.h"
#include "core/vmem.h"

#define EFLAGS_TF  0x00000100u
#define DR6_BS     0x00004000u	/* the #DB came from single-stepping */
#define PF_PRESENT 0x1u
#define PF_WRITE   0x2u
#define PAGE       4096u
#define OPCODE_PUSHF 0x9c

static int is_protected(const struct vcpu *v, uint32_t page)
{
	for (unsigned i = 0; i < v->nprotected; i++)
		if (v->protected_pages[i] == page)
			return 1;
	return 0;
}

static void protect_range(struct vcpu *v, uint32_t base, uint32_t limit)
{
	uint32_t last = (base + limit) & ~(PAGE - 1);
	if (base + limit < base)
		last = 0xfffff000u;	/* a table wrapping 4 GiB: up to the top */
	for (uint32_t page = base & ~(PAGE - 1); ; page += PAGE) {
		if (!is_protected(v, page) && v->nprotected < MAX_PROTECTED_PAGES &&
		    arch_guest_write_protect(v, page, 1) == 0)
			v->protected_pages[v->nprotected++] = page;
		if (page >= last)
			break;
	}
}

void step_protect_tables(struct vcpu *v)
{
	for (unsigned i = 0; i < v->nprotected; i++)
		arch_guest_write_protect(v, v->protected_pages[i], 0);
	v->nprotected = 0;
	if (v->gdtr.limit)
		protect_range(v, v->gdtr.base, v->gdtr.limit);
	if (v->ldtr)
		protect_range(v, v->ldt.base, v->ldt.limit);
}

static void start(struct vcpu *v, unsigned reason, uint32_t eip)
{
	struct trapframe *tf = v->regs;
	if (!v->step_reasons) {
		v->step_eip = eip;
		v->step_guest_tf = (tf->eflags & EFLAGS_TF) != 0;
	}
	v->step_reasons |= reason;
	tf->eflags |= EFLAGS_TF;
}

void step_sti_shadow(struct vcpu *v, uint32_t next_eip)
{
	start(v, STEP_STI_SHADOW, next_eip);
}

int step_protected_write(struct vcpu *v, uint32_t addr, uint32_t error)
{
	uint32_t page = addr & ~(PAGE - 1);
	if ((error & (PF_PRESENT | PF_WRITE)) != (PF_PRESENT | PF_WRITE) ||
	    !is_protected(v, page))
		return 0;
	arch_guest_write_protect(v, page, 0);
	v->open_page = page;
	start(v, STEP_PROTECTED_WRITE, v->regs->eip);
	return 1;
}

/* The step is over: close what it opened, mirror what it may have changed. */
static void finish(struct vcpu *v, int instruction_ran)
{
	struct trapframe *tf = v->regs;

	if (v->step_reasons & STEP_PROTECTED_WRITE) {
		arch_guest_write_protect(v, v->open_page, 1);
		ring_mirror_gdt(v);
		if (v->ldtr)
			ring_mirror_ldt(v);
	}
	if (!v->step_guest_tf) {
		tf->eflags &= ~EFLAGS_TF;
		/* pushf was the one instruction that could see our TF: take it
		 * out of the value it pushed (32 bits; the prefixed 16-bit
		 * form is not worth the bytes: TF is in the low word either way). */
		uint8_t opcode;
		if (instruction_ran && vmem_read(v, v->cs_base + v->step_eip, &opcode, 1) == 0 &&
		    opcode == OPCODE_PUSHF) {
			uint32_t pushed;
			if (vmem_read(v, v->ss_base + tf->esp, &pushed, 4) == 0) {
				pushed &= ~EFLAGS_TF;
				vmem_write(v, v->ss_base + tf->esp, &pushed, 4);
			}
		}
	}
	v->step_reasons = 0;
}

int step_exit(struct vcpu *v, uint8_t vector, uint32_t debug_status)
{
	struct trapframe *tf = v->regs;

	if (!v->step_reasons)
		return 0;

	/* A hardware interrupt before the stepped instruction ran: in the sti
	 * shadow it must wait until after it. */
	if (vector >= 32 && tf->eip == v->step_eip &&
	    (v->step_reasons & STEP_STI_SHADOW))
		return 0;	/* the caller marks it pending; stepping goes on */

	int stepped = vector == 1 && (debug_status & DR6_BS);
	finish(v, stepped);
	/* Our own single-step #DB goes no further, unless the guest was
	 * single-stepping too. */
	return stepped && !v->step_guest_tf;
}
