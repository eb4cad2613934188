/*
 * Running a function in ring 3, as kvm-unit-tests' usermode.c does.
 *
 * run_in_user() enters user mode with an IRET to USER_CS (0x73), with
 * %ds = %es = %fs = %gs = %ss = USER_DS (0x7b), EFLAGS = IF (IOPL 0), and
 * the stack at the top of a user stack of its own.  fn(arg) runs there;
 * when it returns, a trampoline puts its result in %eax and raises
 * int $0x80 (a DPL-3 gate), whose handler discards the kernel-side frame
 * and returns the result to run_in_user's caller.
 *
 * An exception in user code goes to the kernel's handlers as usual (on the
 * TSS esp0 stack); with ASM_TRY the default handler resumes the user code
 * at the catch label, still in user mode.
 */
#ifndef GUESTS_LIB_USERMODE_H
#define GUESTS_LIB_USERMODE_H

#include <stdint.h>
#include "guests/lib/desc.h"

typedef uint32_t (*user_fn)(uint32_t arg);

uint32_t run_in_user(user_fn fn, uint32_t arg);

/* The frame of the last int $0x80 that ended a run_in_user, and where on
 * the kernel stack it was (the address of regs->eip). */
extern struct ex_regs user_exit_regs;
extern uint32_t user_exit_frame;

/* The initial user stack pointer is just below this (two words used). */
extern uint8_t user_stack_top[];

#endif
