#include "core/step.h"


#include "core/mmu.h"
#include "core/vmem.h"
#include "core/x86_bits.h"

#define DR6_BS     0x00004000u	/* the #DB came from single-stepping */
#define OPCODE_PUSHF 0x9c

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

void step_protected_write(struct vcpu *v, uint32_t va)
{
	v->open_page = va;
	start(v, STEP_PROTECTED_WRITE, v->regs->eip);
}

/* The step is over: close what it opened, undo what it showed. */
static void finish(struct vcpu *v, int instruction_ran)
{
	struct trapframe *tf = v->regs;

	if (v->step_reasons & STEP_PROTECTED_WRITE)
		mmu_protected_write_done(v, v->open_page);
	if (!v->step_guest_tf) {
		tf->eflags &= ~EFLAGS_TF;
		/* pushf was the one instruction that could see our TF: take it
		 * out of the value it pushed (TF is in the low word, so this
		 * holds for the 16-bit form too). */
		uint8_t opcode;
		if (instruction_ran &&
		    vmem_read_sys(v, v->cs_base + v->step_eip, &opcode, 1) == 0 &&
		    opcode == OPCODE_PUSHF) {
			uint32_t pushed;
			if (vmem_read_sys(v, v->ss_base + tf->esp, &pushed, 4) == 0) {
				pushed &= ~EFLAGS_TF;
				vmem_write_sys(v, v->ss_base + tf->esp, &pushed, 4);
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
