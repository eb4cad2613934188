/*
 * Where every trap lands.  Today the VMM runs no guest, so any trap is a VMM
 * bug and ends in the panic report; guest exits will be dispatched from here.
 */
#include "arch/ia32/trap.h"

#include "arch/ia32/cpu.h"
#include "arch/ia32/espfix.h"
#include "arch/ia32/fastcall.h"
#include "arch/ia32/panic.h"
#include "arch/ia32/x86.h"
#include "arch/ia32/guest.h"
#include "core/deliver.h"
#include "core/guest.h"

static void snapshot_control_registers(struct cpu_snapshot *s)
{
	s->cr0 = read_cr0();
	s->cr2 = read_cr2();
	s->cr3 = read_cr3();
	s->cr4 = read_cr4();
}

/*
 * While the guest is in hlt the VMM waits with interrupts open; the
 * interrupts that arrive then trap from ring 0 and are only recorded.
 */
#define EFLAGS_VM (1u << 17)	/* virtual-8086 mode */

static uint32_t *waiting_pending;
extern char trap_return[], trap_return_end[];
extern char guest_copy_insn[], guest_copy_insn4[], guest_copy_failed[];
extern char fastcall_read_insn[], fastcall_read_failed[];
extern char fastcall_frame_read[], fastcall_frame_read_end[];

void arch_wait_for_interrupt(uint32_t pending[8])
{
	waiting_pending = pending;
	/* sti's one-instruction shadow makes "sti; hlt" race-free. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	waiting_pending = 0;
}

void trap(struct trapframe *tf)
{
	/* From ring 3, outside virtual-8086 mode: the guest exited (the
	 * common case, first).  Handle it, then return to it. */
	if ((tf->cs & 3) == 3 && !(tf->eflags & EFLAGS_VM)) {
		struct vcpu *v = guest_exit(tf);	/* arch_guest_catch_up first */
		arch_prepare_resume(v);
		/* After a system call the general way or a delivery into the
		 * kernel (whose iret comes next), the next system calls and
		 * iret may take the short way (fastcall.h). */
		if (v->arm_hint) {
			fastcall_resume(v, v->arm_hint);
			v->arm_hint = 0;
		}
		return;
	}

	/*
	 * Virtual-8086 mode: CS then holds a real-mode segment, whose low
	 * bits say nothing of the ring.  The guest cannot get there on a CPU
	 * that follows the SDM (iret sets VM only from CPL 0), but QEMU's TCG
	 * lets a ring-3 iret with VM in its frame enter it: a guest user
	 * process could make the next trap look like the VMM's own.  VM in
	 * the frame means the guest, always; the VMM does not virtualize it.
	 */
	if (tf->eflags & EFLAGS_VM)
		guest_entered_v86(tf);
	/* A read of guest memory the shadow does not map (guestcopy.S). */
	if ((tf->cs & 3) == 0 && tf->vector == VEC_PF &&
	    (tf->eip == (uint32_t)guest_copy_insn || tf->eip == (uint32_t)guest_copy_insn4)) {
		tf->eip = (uint32_t)guest_copy_failed;
		return;
	}
	/* The system-call fast path's look at the instruction: declined. */
	if ((tf->cs & 3) == 0 && tf->vector == VEC_PF &&
	    (tf->eip == (uint32_t)fastcall_read_insn ||
	     (tf->eip >= (uint32_t)fastcall_frame_read &&
	      tf->eip < (uint32_t)fastcall_frame_read_end))) {
		tf->eip = (uint32_t)fastcall_read_failed;
		return;
	}
	if ((tf->cs & 3) == 0 && waiting_pending && tf->vector >= 32) {
		waiting_pending[tf->vector / 32] |= 1u << (tf->vector % 32);
		return;
	}
	/*
	 * A fault on the way back into the guest (a segment pop or the iret
	 * in trap_return) means the VMM built a state the CPU refuses.  The
	 * VMM validates every selector it loads, so this is a VMM bug; it
	 * is the guest that stops, with a report, not the whole machine.
	 */
	if ((tf->cs & 3) == 0 && tf->eip >= (uint32_t)trap_return &&
	    tf->eip < (uint32_t)trap_return_end)
		guest_resume_failed(tf->vector, tf->error);

	/* A trap from ring 0 pushes no SS:ESP: the interrupted code's stack
	 * pointer is where the CPU's frame ends (SDM Vol. 3A §6.12.1). */
	int from_ring0 = (tf->cs & 3) == 0;
	struct cpu_snapshot s = {
		.vector = tf->vector, .error = tf->error,
		.eax = tf->eax, .ebx = tf->ebx, .ecx = tf->ecx, .edx = tf->edx,
		.esi = tf->esi, .edi = tf->edi, .ebp = tf->ebp,
		.esp = from_ring0 ? (uint32_t)&tf->esp : tf->esp,
		.ss = from_ring0 ? read_ss() : (uint16_t)tf->ss,
		.eip = tf->eip, .eflags = tf->eflags, .cs = (uint16_t)tf->cs,
		.ds = (uint16_t)tf->ds, .es = (uint16_t)tf->es,
		.fs = (uint16_t)tf->fs, .gs = (uint16_t)tf->gs,
	};
	snapshot_control_registers(&s);
	panic_report(&s);
}

/*
 * Entered on the double-fault task (vectors.S).  The state at the moment of
 * the fault is what the CPU saved in the main TSS during the task switch
 * (SDM Vol. 3A §7.3); CR2 still holds the address of the page fault that
 * usually caused it.
 */
void double_fault(uint32_t error) __attribute__((noreturn));
void double_fault(uint32_t error)
{
	const struct tss32 *t = cpu_main_tss();
	/*
	 * The IRET to a guest's 16-bit stack faulted, and its fault's frame
	 * met the guard page under the espfix stack (espfix.c).  Like a fault
	 * of the flat IRET (trap()), that is a state the CPU refused; which
	 * fault it was is lost in the double fault.  The guest's registers
	 * are still in the frame the VMM resumed it from.
	 */
	if (t->cs == SEL_VMM_CS && t->eip == (uint32_t)espfix_iret)
		guest_resume_failed(VEC_DF, error);
	struct cpu_snapshot s = {
		.vector = VEC_DF, .error = error,
		.eax = t->eax, .ebx = t->ebx, .ecx = t->ecx, .edx = t->edx,
		.esi = t->esi, .edi = t->edi, .ebp = t->ebp, .esp = t->esp,
		.eip = t->eip, .eflags = t->eflags,
		.cs = (uint16_t)t->cs, .ss = (uint16_t)t->ss,
		.ds = (uint16_t)t->ds, .es = (uint16_t)t->es,
		.fs = (uint16_t)t->fs, .gs = (uint16_t)t->gs,
	};
	/* A task switch does not save CR3 into the old TSS (SDM Vol. 3A
	 * §7.2.1: it is a static field), and it sets CR0.TS.  So CR3 here is
	 * the double-fault task's, which is the VMM's page directory. */
	snapshot_control_registers(&s);
	panic_report(&s);
}
