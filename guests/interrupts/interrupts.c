/*
 * interrupts: external interrupts from the PIT through the 8259 PIC, at
 * the vectors the guest chose (Linux's 0x30+), and the rules of EFLAGS.IF:
 * nothing is delivered while IF = 0, sti delays delivery by one
 * instruction, hlt wakes up for an interrupt, an interrupt gate clears IF
 * in the handler and a trap gate does not.
 *
 * Only facts that do not depend on timing are reported: whether an
 * interrupt came and where the frame points, never how many ticks or when.
 * To have an interrupt pending at a known instruction, a test starts a
 * one-shot PIT count with IF = 0 and polls the PIC's request register
 * until IRQ 0 shows up there.
 */
#include "guests/lib/guest.h"

#define TIMER_VECTOR (PIC_LINUX_BASE + 0)

/* Tests set ticks to 0, then look at the first tick's frame. */
static volatile unsigned ticks;
static struct ex_regs tick_regs;
static uint32_t tick_handler_eflags;

static void timer_handler(struct ex_regs *r)
{
	if (ticks == 0) {
		tick_handler_eflags = read_eflags();
		tick_regs = *r;
	}
	ticks++;
	pic_eoi(0);
}

/* With IF = 0 and the timer off: start a one-shot count and wait until
 * IRQ 0 is requested.  Exactly one interrupt follows. */
static bool make_timer_pending(void)
{
	pit_oneshot(200);
	pic_unmask(0);
	for (unsigned spins = 0; spins < 10000000; spins++)
		if (pic_pending(0))
			return true;
	return false;
}

/*
 * Stop the timer and leave no request behind: an IRQ 0 still pending in
 * the PIC would be delivered the moment a later test unmasks it, and how
 * many such requests pile up depends on timing.  pit_stop() ends all
 * edges; a request already made is drained with the line unmasked and
 * IF = 1 for a moment.  Then IRQ 0 is masked and IF = 0.
 */
static void timer_off(void)
{
	cli();
	pit_stop();
	pic_unmask(0);
	sti();
	for (unsigned spins = 0; spins < 1000 && pic_pending(0); spins++)
		__asm__ volatile("pause");
	cli();
	pic_mask(0);
}

static void test_periodic(void)
{
	ticks = 0;
	pit_periodic(PIT_HZ / 1000);
	pic_unmask(0);
	/* hlt returns after each interrupt; three ticks must come. */
	while (ticks < 3)
		safe_halt();
	timer_off();
	report(true, "timer ticks delivered");
	report_eq(tick_regs.vector, TIMER_VECTOR, "timer vector");
	report_eq(tick_regs.cs & 0xffff, KERNEL_CS, "timer frame cs");
	report_eq(tick_regs.eflags & EFLAGS_IF, EFLAGS_IF, "timer frame if");
	report_eq(tick_handler_eflags & EFLAGS_IF, 0, "interrupt gate clears if");
}

static void test_masked(void)
{
	cli();
	ticks = 0;
	report(make_timer_pending(), "irq pending in irr");
	for (volatile int i = 0; i < 100000; i++)
		;
	report_eq(ticks, 0, "no delivery while if clear");

	/* Masked at the PIC: not delivered even with IF = 1. */
	pic_mask(0);
	sti();
	for (volatile int i = 0; i < 100000; i++)
		;
	cli();
	report_eq(ticks, 0, "no delivery while masked");
	timer_off();
}

static void test_hlt_pending(void)
{
	uint32_t after;
	cli();
	ticks = 0;
	make_timer_pending();
	/* The sti shadow covers the hlt: the interrupt comes after it, and
	 * the frame points behind the hlt. */
	__asm__ volatile("movl $1f, %0\n\t"
			 "sti\n\t"
			 "hlt\n"
			 "1:"
			 : "=&r"(after) : : "memory");
	unsigned n = ticks;
	timer_off();
	report_eq(n, 1, "hlt wakes for pending irq");
	report_eq(tick_regs.eip, after, "hlt frame eip after hlt");
}

static void test_sti_shadow(void)
{
	uint32_t second;
	cli();
	ticks = 0;
	make_timer_pending();
	/* Delivered after the instruction following sti, not before it
	 * (SDM Vol. 2 STI): the frame points at the second nop. */
	__asm__ volatile("movl $1f, %0\n\t"
			 "sti\n\t"
			 "nop\n"
			 "1: nop"
			 : "=&r"(second) : : "memory");
	unsigned n = ticks;
	timer_off();
	report_eq(n, 1, "sti delivers pending irq");
	report_eq(tick_regs.eip, second, "sti shadow one instruction");
}

static void test_iret_if(void)
{
	uint32_t target;
	cli();
	ticks = 0;
	make_timer_pending();
	/* An iret that sets IF: the interrupt comes at once, at the target
	 * (iret has no shadow). */
	__asm__ volatile("movl $1f, %0\n\t"
			 "pushfl\n\t"
			 "orl $0x200, (%%esp)\n\t"
			 "pushl %1\n\t"
			 "pushl %0\n\t"
			 "iret\n"
			 "1: nop"
			 : "=&r"(target) : "i"(KERNEL_CS) : "memory");
	unsigned n = ticks;
	timer_off();
	report_eq(n, 1, "iret delivers pending irq");
	report_eq(tick_regs.eip, target, "iret frame eip at target");
}

static void test_trap_gate_timer(void)
{
	idt_set_gate(TIMER_VECTOR, GATE_TRAP, 0);
	cli();
	ticks = 0;
	make_timer_pending();
	sti();
	while (ticks < 1)
		__asm__ volatile("pause");
	timer_off();
	idt_set_gate(TIMER_VECTOR, GATE_INTR, 0);
	report_eq(tick_handler_eflags & EFLAGS_IF, EFLAGS_IF, "timer via trap gate keeps if");
}

/* Software interrupts through both gate types, from IF = 1. */
static uint32_t soft_handler_eflags, soft_frame_eflags;

static void soft_handler(struct ex_regs *r)
{
	soft_handler_eflags = read_eflags();
	soft_frame_eflags = r->eflags;
}

static void test_soft_gates(void)
{
	handle_exception(0x41, soft_handler);
	handle_exception(0x42, soft_handler);
	idt_set_gate(0x41, GATE_INTR, 0);
	idt_set_gate(0x42, GATE_TRAP, 0);
	sti();
	__asm__ volatile("int $0x41" : : : "memory");
	uint32_t intr_handler = soft_handler_eflags, intr_frame = soft_frame_eflags;
	__asm__ volatile("int $0x42" : : : "memory");
	cli();
	report_eq(intr_handler & EFLAGS_IF, 0, "int via interrupt gate clears if");
	report_eq(intr_frame & EFLAGS_IF, EFLAGS_IF, "int via interrupt gate frame if");
	report_eq(soft_handler_eflags & EFLAGS_IF, EFLAGS_IF, "int via trap gate keeps if");
	report_eq(soft_frame_eflags & EFLAGS_IF, EFLAGS_IF, "int via trap gate frame if");
	report_eq(read_eflags() & EFLAGS_IF, 0, "cli after");
	idt_set_gate(0x42, GATE_INTR, 0);
	handle_exception(0x41, NULL);
	handle_exception(0x42, NULL);
}

/* A timer interrupt while the CPU runs user code: the frame shows user
 * CS and SS:ESP and sits at the top of the TSS esp0 stack. */
static uint32_t tick_frame;

static void user_timer_handler(struct ex_regs *r)
{
	if (ticks == 0)
		tick_frame = (uint32_t)&r->eip;
	timer_handler(r);
}

static uint32_t wait_for_tick(uint32_t unused)
{
	(void)unused;
	while (ticks == 0)
		__asm__ volatile("pause");
	return 1;
}

static void test_user_timer(void)
{
	handle_exception(TIMER_VECTOR, user_timer_handler);
	cli();
	ticks = 0;
	pit_periodic(PIT_HZ / 1000);
	pic_unmask(0);
	uint32_t r = run_in_user(wait_for_tick, 0);
	timer_off();
	handle_exception(TIMER_VECTOR, timer_handler);
	report_eq(r, 1, "timer in user mode");
	report_eq(tick_regs.cs & 0xffff, USER_CS, "user timer frame cs");
	report_eq(tick_regs.ss & 0xffff, USER_DS, "user timer frame ss");
	report_eq(tick_frame + 20, tss.esp0, "user timer frame on esp0 stack");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pic_init(PIC_LINUX_BASE);
	handle_exception(TIMER_VECTOR, timer_handler);
	timer_off();
	test_periodic();
	test_masked();
	test_hlt_pending();
	test_sti_shadow();
	test_iret_if();
	test_trap_gate_timer();
	test_soft_gates();
	test_user_timer();
	report_summary();
}
