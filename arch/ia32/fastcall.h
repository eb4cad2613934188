/*
 * The guest's system calls without the general exit (issue 6).
 *
 * A Linux system call is two exits: the user's sysenter (#GP, the real
 * SYSENTER_CS being 0) and the kernel's "sti; sysexit" (#GP, sti at IOPL
 * 0).  Each changes the virtual ring and a handful of registers, nothing
 * else (core/guest.c, system_call_registers and system_call_vcpu_state),
 * yet through trap(), guest_exit() and the resume checks it cost ~350
 * instructions: more than the guest's own system call.  The kernel's iret
 * back to user mode after an exception or interrupt (#GP: the guest's code
 * descriptors are mirrored DPL 0) is the same kind of exit
 * (ring_fast_iret_to_user); and so is the page-fault handler's read of
 * CR2 (#GP: mov from a control register).  fastcall.S takes all four in
 * the #GP vector itself, ~40-70 instructions each, while the state it
 * needs is armed here:
 *
 *   fastcall_resume  at the end of a general exit that ran a system call
 *                    or delivered an event from user mode (the vCPU's
 *                    arm_hint ARM_AFTER): arm, when the core says the calls
 *                    may bypass it (guest_system_calls_may_bypass) and the
 *                    arch can resume either ring with nothing to check:
 *                    flat code and stack aliases loaded, and the data
 *                    selectors the guest will hold usable in both GDT views
 *                    with the same descriptor, since the short path leaves
 *                    the segment registers as they are where the general
 *                    one reloads them from the new view.  After an exit
 *                    that changed nothing of that (a control-register
 *                    read, a CR3 load that left the GDT where it was:
 *                    ARM_KEEP), stay as armed as before.
 *   fastcall.S       checks the bytes at EIP and the selectors, switches the
 *                    ring (I/O bitmap, shadow page directory, GDT view,
 *                    LDT), edits the frame, writes the PV interrupt word,
 *                    counts the exit in the exit statistics, and irets.
 *                    On its way to user mode after a user page fault it
 *                    calls back into C once, to map the page the handler
 *                    has just mapped (fastcall_map_ahead; core/mmu.h,
 *                    mmu_map_ahead): the retried access then needs no exit.
 *   arch_guest_catch_up  at the start of every general exit: tells the vCPU
 *                    which ring the short path left the guest in
 *                    (guest_system_calls_bypassed) and disarms.
 *
 * Anything else, or anything unusual (an error code, TF, a selector not
 * the armed one, EIP near the VMM's space), goes the general way, where
 * core/guest.c's fast_gp and the emulator handle it exactly.
 */
#ifndef ARCH_IA32_FASTCALL_H
#define ARCH_IA32_FASTCALL_H

/* struct fastcall's layout, for fastcall.S (fastcall.c checks it). */
#define FC_ARMED        0
#define FC_KERNEL       4
#define FC_ENTER_EIP    8
#define FC_ENTER_ESP    12
#define FC_PD_KERNEL    16
#define FC_PD_USER      20
#define FC_PV_WORD      24
#define FC_DATA_SEL     28	/* ds, es, fs, gs */
#define FC_IOMAP_BASE   44
#define FC_IOMAP_KERNEL 48
#define FC_IOMAP_USER   52
#define FC_GDT_KERNEL   58	/* lgdt operands: limit, then base */
#define FC_GDT_USER     66
#define FC_IRET_CS      72	/* the kernel's iret to user mode: what */
#define FC_IRET_SS      76	/* it may return to without a check */
#define FC_IRET_LIMIT   80
#define FC_SYSEXIT_CS   84
#define FC_SYSEXIT_SS   88
#define FC_USER_CS      92	/* written by fastcall.S: how it last */
#define FC_USER_SS      96	/* entered user mode */
#define FC_USER_VIF     100
#define FC_MOVES        104	/* ring changes it made since armed */
#define FC_CR2          108	/* the guest's CR2, for its reads */
#define FC_MAP_AHEAD    112	/* a page to map on the way to user mode */
/* The exit statistics' reasons it counts under (core/exitstats.h), and the
 * size of a reason's counters there. */
#define FC_XR_STI       6
#define FC_XR_IRET      8
#define FC_XR_CR        15
#define FC_XR_SYSENTER  10
#define FC_XR_SIZE      16

#ifndef __ASSEMBLER__
#include <stdint.h>
#include "core/vcpu.h"

struct fastcall {
	uint32_t armed;
	uint32_t kernel;		/* the virtual ring now: 1 kernel, 0 user */
	uint32_t enter_eip, enter_esp;	/* the guest's SYSENTER_EIP, _ESP */
	uint32_t pd_kernel, pd_user;	/* the shadow page directories */
	uint32_t *pv_word;		/* the guest's PV interrupt word */
	uint32_t data_sel[4];		/* the data selectors either ring may
					   be entered with (~0: none) */
	uint16_t *iomap_base;		/* the TSS field, and its two values */
	uint32_t iomap_kernel, iomap_user;
	uint16_t pad0, gdt_kernel_limit;
	uint32_t gdt_kernel_base;
	uint16_t pad1, gdt_user_limit;
	uint32_t gdt_user_base;
	uint32_t iret_cs, iret_ss, iret_limit;	/* ~0: none */
	uint32_t sysexit_cs, sysexit_ss;
	uint32_t user_cs, user_ss, user_vif;
	uint32_t moves;
	uint32_t cr2;
	uint32_t map_ahead;		/* the vCPU's map_ahead, taken at arming */
};

void fastcall_init(void);
/* At the end of a general exit with a hint: arm (ARM_AFTER), or keep
 * as it was before the exit (ARM_KEEP). */
void fastcall_resume(struct vcpu *v, unsigned hint);
/* Called by fastcall.S on its way to user mode with map_ahead set. */
void fastcall_map_ahead(void);

#endif
#endif
