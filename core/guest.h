/* The guest: creating it, and handling every exit from it. */
#ifndef CORE_GUEST_H
#define CORE_GUEST_H

#include "core/options.h"
#include "core/vcpu.h"
#include "loader/multiboot.h"

/*
 * Give the guest its RAM, load the kernel (module 0: a Multiboot ELF kernel
 * or a Linux vmlinux, with its initrd as module 1) into it and start it in
 * virtual kernel mode.  Returns only on failure, with a one-line reason in err.
 */
void guest_boot(const struct boot_info *bi, const struct vmm_options *opt,
		char *err, unsigned errlen);

/*
 * The guest trapped into the VMM with its registers in *tf.  Handle the
 * exit and return the vCPU to resume (the arch then returns to it).
 */
struct vcpu *guest_exit(struct trapframe *tf);

/*
 * The arch may run the guest's system calls (sysenter, and the kernel's
 * "sti; sysexit") and the kernel's iret back to user mode without the
 * VMM's general exit, in its own few instructions (arch/ia32/fastcall.S),
 * while nothing else is going on: may_bypass says whether it may from now
 * until the next exit (the paravirtual interrupt flag registered and not
 * on a table page, no single step or sti shadow, no exit tracing, no
 * interrupt waiting, flat segments, tables protected).  It changes the
 * registers as system_call_registers (core/guest.c) and
 * ring_fast_iret_to_user do; bypassed then tells the vCPU, at the next
 * exit, which virtual ring the guest was left in, and if user mode, with
 * which CS, SS and interrupt flag (all of base 0).
 */
int guest_system_calls_may_bypass(const struct vcpu *v);
void guest_system_calls_bypassed(struct vcpu *v, int in_kernel, uint16_t user_cs,
				 uint16_t user_ss, int user_vif);

struct event;
/* Deliver ev to the guest; a triple fault stops it. */
void guest_deliver(struct vcpu *v, struct event ev);

/* Stop the guest and the machine, printing why, the guest's state and the
 * exit statistics. */
void guest_die(struct vcpu *v, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* The guest trapped from virtual-8086 mode (tf is the CPU's frame): not
 * virtualized, so the guest is stopped with a report. */
void guest_entered_v86(struct trapframe *tf) __attribute__((noreturn));

/* The VMM could not return to the guest: the CPU refused the state it
 * built (vector and error code of that fault).  Stops the guest. */
void guest_resume_failed(uint32_t vector, uint32_t error) __attribute__((noreturn));

/* The guest asked to end with status (ringvisor/exit.h): print the exit
 * statistics and stop the machine. */
void guest_shutdown(struct vcpu *v, int status) __attribute__((noreturn));

/* The guest reset the machine: end it (EXIT_GUEST_RESET), saying so.  A VMM
 * that reboots the guest would start it over here. */
void guest_reset(struct vcpu *v) __attribute__((noreturn));

/* The guest ran hlt with interrupts disabled, which nothing can end: stop
 * the machine as its power-off (status 0), saying so. */
void guest_halted_for_good(struct vcpu *v) __attribute__((noreturn));

#endif
