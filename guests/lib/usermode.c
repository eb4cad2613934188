#include "guests/lib/usermode.h"

uint32_t enter_user(user_fn fn, uint32_t arg);
void leave_user(uint32_t result) __attribute__((noreturn));

struct ex_regs user_exit_regs;
uint32_t user_exit_frame;

/* int $0x80: the user function is done.  Its frame and everything the
 * handler pushed are dropped; enter_user's caller continues. */
static void user_return(struct ex_regs *r)
{
	user_exit_regs = *r;
	user_exit_frame = (uint32_t)&r->eip;
	ex_depth--;
	leave_user(r->eax);
}

uint32_t run_in_user(user_fn fn, uint32_t arg)
{
	handle_exception(USER_RETURN_VECTOR, user_return);
	return enter_user(fn, arg);
}
