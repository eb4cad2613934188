/*
 * Two user processes, each in its own address space, preempted by the PIT
 * and switched by a small kernel scheduler (issue 4's closing test).  Each
 * process counts in its own data page and tries, every round, to read the
 * other's data address and a kernel page: both must fault.  The kernel,
 * through its own mappings, reads both processes' pages.
 *
 * Under the VMM each process runs on the user-mode shadow of its address
 * space, the scheduler on the kernel-mode one, and every CR3 write flushes.
 */
#include "guests/lib/guest.h"

#define P 0x001u
#define W 0x002u
#define U 0x004u
#define PS 0x080u

#define ROUNDS 300
#define DATA_VA(i) (0x50000000u + (i) * 4096u)	/* process i's data, in its space only */
#define DATA_PA(i) (0x900000u + (i) * 4096u)
#define KERNEL_VA 0x00600000u			/* kernel-only (4-8 MiB) */
#define SENTINEL 0xdeadbeefu

static uint32_t pd[2][1024] __attribute__((aligned(4096)));
static uint32_t data_pt[2][1024] __attribute__((aligned(4096)));
static uint32_t low_pt[1024] __attribute__((aligned(4096)));
static uint8_t second_stack[4096] __attribute__((aligned(16)));

/* Shared between the processes through the (user-accessible) image. */
static volatile uint32_t rounds[2], leaked_other[2], leaked_kernel[2];

static volatile uint32_t switches;	/* read by the processes too */
static struct ex_regs saved[2];
static int current, second_started;

static void build_address_spaces(void)
{
	for (uint32_t i = 0; i < 1024; i++)
		low_pt[i] = (i << 12) | P | W | U;	/* image and stacks */
	for (int p = 0; p < 2; p++) {
		pd[p][0] = (uint32_t)low_pt | P | W | U;
		for (uint32_t i = 1; i < 4; i++)
			pd[p][i] = (i << 22) | P | W | PS;	/* kernel only */
		data_pt[p][(DATA_VA(p) >> 12) & 1023] = DATA_PA(p) | P | W | U;
		pd[p][DATA_VA(0) >> 22] = (uint32_t)data_pt[p] | P | W | U;
		*(volatile uint32_t *)DATA_PA(p) = 0;
	}
}

/*
 * A read that may fault.  ASM_TRY's one global fixup cannot be shared by
 * two preemptible processes, so this test recovers its own way: the load
 * is always "movl (%ecx), %eax" (8b 01), and the #PF handler skips those
 * two bytes, leaving the sentinel in EAX.
 */
static uint32_t try_read(uint32_t va)
{
	uint32_t v = SENTINEL;
	__asm__ volatile(".byte 0x8b, 0x01" : "+a"(v) : "c"(va) : "memory");
	return v;
}

static volatile uint32_t user_faults;

static void page_fault(struct ex_regs *r)
{
	const uint8_t *insn = (const uint8_t *)r->eip;
	if (ex_from_user(r) && insn[0] == 0x8b && insn[1] == 0x01) {
		r->eip += 2;
		user_faults++;
		return;
	}
	ex_record(r);	/* anything else is a failure the summary shows */
	report(0, "unexpected page fault at eip 0x%x", r->eip);
	report_summary();
}

/* Both processes run this, in user mode, each with its own id. */
static __attribute__((noreturn)) uint32_t process(uint32_t id)
{
	volatile uint32_t *mine = (volatile uint32_t *)DATA_VA(id);
	for (;;) {
		if (rounds[id] < ROUNDS) {
			(*mine)++;
			if (try_read(DATA_VA(1 - id)) != SENTINEL)
				leaked_other[id]++;
			if (try_read(KERNEL_VA) != SENTINEL)
				leaked_kernel[id]++;
			/* Counted last: the other process ends the run as
			 * soon as it sees both counts complete, and a round
			 * preempted half-way must not look finished. */
			rounds[id]++;
		} else if (rounds[1 - id] >= ROUNDS && switches >= 3) {
			/* Both done, and each has been switched away from and
			 * back to at least once: back to the kernel through
			 * run_in_user. */
			__asm__ volatile("int $0x80" : : "a"(0));
		}
	}
}

/* The second process's first frame: as if interrupted at its entry. */
static void first_frame(struct ex_regs *r)
{
	uint32_t *stack = (uint32_t *)(second_stack + sizeof(second_stack));
	stack[-1] = 1;			/* the argument: id 1 */
	stack[-2] = 0;			/* no return address: it never returns */
	memset(r, 0, sizeof(*r));
	r->eip = (uint32_t)process;
	r->cs = USER_CS;
	r->eflags = 0x202;
	r->esp = (uint32_t)(stack - 2);
	r->ss = USER_DS;
	r->ds = r->es = r->fs = r->gs = USER_DS;
}

/* The scheduler: every tick that lands in user mode switches process. */
static void tick(struct ex_regs *r)
{
	pic_eoi(0);
	if (!ex_from_user(r))
		return;
	saved[current] = *r;
	current ^= 1;
	if (!second_started) {
		second_started = 1;
		first_frame(r);
	} else {
		*r = saved[current];
	}
	write_cr3((uint32_t)pd[current]);
	switches++;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	build_address_spaces();
	write_cr4(read_cr4() | 0x10);
	write_cr3((uint32_t)pd[0]);
	write_cr0(read_cr0() | 0x80010000);

	handle_exception(0x20, tick);
	handle_exception(14, page_fault);
	pit_periodic(1193);			/* about 1 kHz */
	pic_unmask(0);
	run_in_user(process, 0);		/* ends when both have finished */
	cli();
	pic_mask(0);
	pit_stop();

	report(rounds[0] == ROUNDS && rounds[1] == ROUNDS, "both processes ran");
	report(switches >= 3, "the timer switched back and forth");
	report(leaked_other[0] == 0 && leaked_other[1] == 0 &&
	       user_faults >= 4 * ROUNDS,
	       "neither read the other's memory (leaks %u/%u, user faults %u)",
	       leaked_other[0], leaked_other[1], user_faults);
	report(leaked_kernel[0] == 0 && leaked_kernel[1] == 0,
	       "neither read the kernel's memory");
	write_cr3((uint32_t)pd[0]);
	report_eq(*(volatile uint32_t *)DATA_PA(0), ROUNDS, "kernel reads process 0's page");
	report_eq(*(volatile uint32_t *)DATA_PA(1), ROUNDS, "kernel reads process 1's page");
	report_summary();
}
