/*
 * addrspace: address spaces, switched by writing CR3.
 *
 * First, two page directories that share the kernel's page tables (as every
 * Linux address space shares the kernel half) and each map a private page
 * at the same linear address: CR3 writes switch between them, in kernel
 * and in user mode, and changes to a shared page table, or to the tables
 * of the space not in use, are seen after a switch.  A MOV to CR3 flushes
 * every non-global TLB entry (SDM Vol. 3A §4.10.4.1), so no invlpg is
 * needed for any of that.
 *
 * Then a small preemptive kernel: two user processes, each in its own
 * address space with its data page and its stack at the same linear
 * addresses as the other's, switched by the PIT timer (the kernel saves
 * the interrupted register frame and loads the other process's, and
 * writes CR3).  Each process counts its progress and, every iteration,
 * tries to read the other's data (unmapped in its space: #PF P=0), the
 * other's frame through the kernel's identity map (supervisor: #PF P=1),
 * a kernel page and the VMM's space, checking the error code and CR2 of
 * each fault.  The kernel reads both processes' pages.
 *
 * Under ringvisor each process runs on the user-mode shadow of its address
 * space and the kernel on the kernel-mode one (paper §3, Fig. 2), so this
 * is the paper's design end to end.  The output is the same whatever the
 * timing: processes run a fixed number of iterations and must each have
 * been preempted and resumed at least once; tick counts are not printed.
 */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define USER_VA    0x40000000u	/* part 1: each space's own page */
#define ONLY_A_VA  0x40001000u	/* part 1: mapped in space A only */
#define SHARED_KVA 0x00a00000u	/* part 1: a page of the shared kernel tables */

#define DATA_VA    0x40000000u	/* part 2: each process's data page */
#define PEER_VA(i) (0x40100000u + (i) * PAGE_SIZE)	/* read-only alias of i's data */
#define STACK_VA   0x40200000u	/* two pages of stack per process */
#define STACK_TOP  (STACK_VA + 2 * PAGE_SIZE)
#define ITERATIONS 100
#define EXIT_VECTOR 0x81
#define NO_FAULT   0xffffffffu

static uint32_t at;

static volatile uint32_t *ptr(uint32_t a)
{
	return (volatile uint32_t *)a;
}

static uint32_t try_read(uint32_t va)
{
	uint32_t v = 0;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%2), %1\n2:"
			 : "=&r"(at), "+r"(v) : "r"(va) : "memory");
	return v;
}

static uint32_t user_read(uint32_t va)
{
	return *ptr(va);
}

/* A kernel page: in the image (user-accessible as a whole) but with U
 * taken away from its PTE in the shared kernel page table. */
static uint32_t kernel_secret[1024] __attribute__((aligned(4096)));

static void kernel_only(pte_t *pd, uint32_t va)
{
	*get_pte(pd, va) &= ~PTE_U;
	invlpg(va);
}

/* ---- Part 1: two address spaces, switched by the kernel ---- */

static void test_two_spaces(void)
{
	pte_t *a = identity_pd(true);
	pte_t *b = clone_pd(a);		/* shares a's kernel page tables */
	uint32_t fa = alloc_frame(), fb = alloc_frame();
	uint32_t fc = alloc_frame(), fd = alloc_frame(), fe = alloc_frame();

	*ptr(fa) = 0xaaaa0000;
	*ptr(fb) = 0xbbbb0000;
	*ptr(fc) = 0xcccc0000;
	*ptr(fd) = 0xdddd0000;
	*ptr(fe) = 0xeeee0000;
	map_page(a, USER_VA, fa, PTE_W | PTE_U);	/* a page table of a's own */
	map_page(b, USER_VA, fb, PTE_W | PTE_U);	/* and one of b's */
	map_page(a, ONLY_A_VA, fa, PTE_W | PTE_U);

	enable_paging(a);
	report_eq(*ptr(USER_VA), 0xaaaa0000, "space A sees its page");
	write_cr3((uint32_t)b);
	report_eq(*ptr(USER_VA), 0xbbbb0000, "space B sees its page at the same address");

	unsigned good = 0;
	for (unsigned i = 0; i < 16; i++) {
		write_cr3((uint32_t)(i & 1 ? b : a));
		good += *ptr(USER_VA) == (i & 1 ? 0xbbbb0000 : 0xaaaa0000);
	}
	report_eq(good, 16, "16 switches back and forth");

	write_cr3((uint32_t)b);
	*ptr(USER_VA + 4) = 0xb;
	report(*ptr(fb + 4) == 0xb && *ptr(fa + 4) == 0, "a write in B reaches B's frame only");
	pf_clear();
	try_read(ONLY_A_VA + 8);
	report_pf("#PF in B for a page only A maps", 0, ONLY_A_VA + 8, at, KERNEL_CS);

	report_eq(run_in_user(user_read, USER_VA), 0xbbbb0000, "user mode in B sees B's page");
	write_cr3((uint32_t)a);
	report_eq(run_in_user(user_read, USER_VA), 0xaaaa0000, "user mode in A sees A's page");
	write_cr3((uint32_t)b);
	report_eq(run_in_user(user_read, USER_VA), 0xbbbb0000, "user mode in B again");

	/* The low page tables are the same frames in both directories. */
	write_cr3((uint32_t)a);
	pte_t *shared = get_pte(a, SHARED_KVA);
	report(shared == get_pte(b, SHARED_KVA), "the kernel page tables are shared");
	*shared = fc | PTE_P | PTE_W;
	invlpg(SHARED_KVA);
	report_eq(*ptr(SHARED_KVA), 0xcccc0000, "a shared page table changed in A");
	write_cr3((uint32_t)b);
	report_eq(*ptr(SHARED_KVA), 0xcccc0000, "... and the change is seen in B");
	*shared = fd | PTE_P | PTE_W;		/* no invlpg: the CR3 write flushes */
	write_cr3((uint32_t)a);
	report_eq(*ptr(SHARED_KVA), 0xdddd0000, "a change made in B without invlpg, seen in A");

	/* The tables of the space not in use: a PTE, then a whole PDE. */
	*get_pte(b, USER_VA) = fc | PTE_P | PTE_W | PTE_U;
	write_cr3((uint32_t)b);
	report_eq(*ptr(USER_VA), 0xcccc0000, "a PTE changed while its space was not in use");
	write_cr3((uint32_t)a);
	pte_t *pt = (pte_t *)alloc_frame();
	pt[(USER_VA >> 12) & 1023] = fe | PTE_P | PTE_W | PTE_U;
	*get_pde(b, USER_VA) = (uint32_t)pt | PTE_P | PTE_W | PTE_U;
	write_cr3((uint32_t)b);
	report_eq(*ptr(USER_VA), 0xeeee0000, "a PDE changed while its space was not in use");
	report_eq(run_in_user(user_read, USER_VA), 0xeeee0000, "... and in user mode");
	write_cr3((uint32_t)a);
	report_eq(*ptr(USER_VA), 0xaaaa0000, "space A unchanged");

	*shared = SHARED_KVA | PTE_P | PTE_W;
	invlpg(SHARED_KVA);
	disable_paging();
}

/* ---- Part 2: two user processes and a scheduler ---- */

/* Each process's data page, at DATA_VA in its own space. */
struct proc_data {
	uint32_t id;
	uint32_t peer_frame;		/* the other's data frame (kernel-only) */
	volatile uint32_t resumed;	/* times the kernel switched to it */
	uint32_t iterations;
	uint32_t own_ok;		/* its own page through PEER_VA(id) */
	uint32_t peer_faults;		/* PEER_VA(other): #PF 0x4 */
	uint32_t frame_faults;		/* the other's frame: #PF 0x5 */
	uint32_t kernel_faults;		/* kernel_secret: #PF 0x5 */
	uint32_t vmm_faults;		/* 0xfc000000: #PF 0x4 */
	uint32_t wrong;			/* any probe not as expected */
	uint32_t stack_ok;		/* its stack kept its contents */
	uint32_t regs_ok;		/* its registers survived */
};

/*
 * uint64_t probe(uint32_t va): read va from user mode.  EDX:EAX is
 * NO_FAULT:value, or, when the read faults, error code:CR2 - the #PF
 * handler resumes at probe_done with those (pf_install's convention).
 * Only the faulting EIP identifies the fixup, so two preemptible processes
 * can probe at once (ASM_TRY's one global fixup could not be shared).
 */
__asm__(".text\n"
	"probe:\n\t"
	"movl 4(%esp), %ecx\n\t"
	"movl $-1, %edx\n"
	"probe_insn:\n\t"
	"movl (%ecx), %eax\n"
	"probe_done:\n\t"
	"ret");
uint64_t probe(uint32_t va);
extern char probe_insn[], probe_done[];

static bool probe_faults(volatile struct proc_data *d, uint32_t va, uint32_t error)
{
	uint64_t r = probe(va);
	bool ok = (uint32_t)(r >> 32) == error && (uint32_t)r == va;
	d->wrong += !ok;
	return ok;
}

/* Load EBX, ESI and EDI, spin a while (a timer tick may switch processes
 * in between) and check they are unchanged. */
static bool regs_survive(uint32_t id)
{
	uint32_t x1 = 0x11111111u * (id + 1), x2 = ~x1, x3 = x1 ^ 0x5a5a5a5au;
	uint32_t b, s, d, n = 30000;
	__asm__ volatile("1: decl %%ecx\n\tjnz 1b"
			 : "=b"(b), "=S"(s), "=D"(d), "+c"(n)
			 : "0"(x1), "1"(x2), "2"(x3) : "cc");
	return b == x1 && s == x2 && d == x3;
}

/* Both processes run this, in user mode, on their own stack; the data page
 * tells them who they are.  They never return: int $EXIT_VECTOR ends them. */
static void __attribute__((noreturn)) process(void)
{
	volatile struct proc_data *d = (volatile struct proc_data *)DATA_VA;
	uint32_t id = d->id, other = 1 - id;
	volatile uint32_t pattern[64];	/* on the stack, at the same address in both */

	for (uint32_t i = 0; i < 64; i++)
		pattern[i] = (id << 16) | i;
	for (;;) {
		if (d->iterations < ITERATIONS) {
			uint64_t r = probe(PEER_VA(id));
			if ((uint32_t)(r >> 32) == NO_FAULT && (uint32_t)r == id)
				d->own_ok++;
			else
				d->wrong++;
			d->peer_faults += probe_faults(d, PEER_VA(other), PF_U);
			d->frame_faults += probe_faults(d, d->peer_frame, PF_U | PF_P);
			d->kernel_faults += probe_faults(d, (uint32_t)kernel_secret,
							 PF_U | PF_P);
			d->vmm_faults += probe_faults(d, VMM_SPACE, PF_U);
			bool stack = true;
			for (uint32_t i = 0; i < 64; i++)
				stack &= pattern[i] == ((id << 16) | i);
			d->stack_ok += stack;
			d->regs_ok += regs_survive(id);
			d->iterations++;
		} else if (d->resumed >= 2) {
			/* Done, and preempted and resumed at least once. */
			__asm__ volatile("int %0" : : "i"(EXIT_VECTOR) : "memory");
		}
	}
}

/* void start_user(uint32_t eip, uint32_t esp): IRET to user mode there,
 * with IF = 1; sched_return() comes back to start_user's caller. */
__asm__(".text\n"
	"start_user:\n\t"
	"pushl %ebp\n\t"
	"pushl %ebx\n\t"
	"pushl %esi\n\t"
	"pushl %edi\n\t"
	"pushfl\n\t"
	"movl %esp, sched_kernel_esp\n\t"
	"movl 24(%esp), %eax\n\t"
	"movl 28(%esp), %edx\n\t"
	"movl $0x7b, %ecx\n\t"		/* USER_DS */
	"movl %ecx, %ds\n\t"
	"movl %ecx, %es\n\t"
	"movl %ecx, %fs\n\t"
	"movl %ecx, %gs\n\t"
	"pushl $0x7b\n\t"		/* ss */
	"pushl %edx\n\t"		/* esp */
	"pushl $0x202\n\t"		/* eflags: IF */
	"pushl $0x73\n\t"		/* cs: USER_CS */
	"pushl %eax\n\t"		/* eip */
	"xorl %eax, %eax\n\t"
	"xorl %ebx, %ebx\n\t"
	"xorl %ecx, %ecx\n\t"
	"xorl %edx, %edx\n\t"
	"xorl %esi, %esi\n\t"
	"xorl %edi, %edi\n\t"
	"xorl %ebp, %ebp\n\t"
	"iret\n"
	"sched_return:\n\t"
	"movl sched_kernel_esp, %esp\n\t"
	"popfl\n\t"
	"popl %edi\n\t"
	"popl %esi\n\t"
	"popl %ebx\n\t"
	"popl %ebp\n\t"
	"ret");
void start_user(uint32_t eip, uint32_t esp);
void sched_return(void) __attribute__((noreturn));
uint32_t sched_kernel_esp;

struct proc {
	pte_t *pd;
	uint32_t data;			/* its data frame */
	struct ex_regs frame;		/* saved while it is not running */
	bool done;
};

static struct proc procs[2];
static int current;
static unsigned user_ticks, wrong_space;
static struct pf_fixup probe_fixup[1];

/* The kernel's view of a process's data page: its frame, identity-mapped. */
static volatile struct proc_data *data_of(int i)
{
	return (volatile struct proc_data *)procs[i].data;
}

static void switch_to(struct ex_regs *r, int next)
{
	*r = procs[next].frame;
	current = next;
	write_cr3((uint32_t)procs[next].pd);
	data_of(next)->resumed++;
}

/* IRQ 0: a tick from user mode switches to the other process, if it has
 * not finished.  The kernel first reads the interrupted process's data
 * page through the address space in use: it must be that process's. */
static void tick(struct ex_regs *r)
{
	pic_eoi(0);
	if (!ex_from_user(r))
		return;
	user_ticks++;
	if (((volatile struct proc_data *)DATA_VA)->id != (uint32_t)current)
		wrong_space++;
	int next = 1 - current;
	if (procs[next].done)
		return;
	procs[current].frame = *r;
	switch_to(r, next);
}

/* int $EXIT_VECTOR: the current process is done. */
static void process_exit(struct ex_regs *r)
{
	procs[current].done = true;
	int next = 1 - current;
	if (!procs[next].done) {
		switch_to(r, next);
		return;
	}
	ex_depth--;		/* this handler never returns */
	sched_return();
}

static void build_process(int i, pte_t *kernel)
{
	struct proc *p = &procs[i];
	p->pd = clone_pd(kernel);
	p->data = alloc_frame();
	map_page(p->pd, DATA_VA, p->data, PTE_W | PTE_U);
	map_page(p->pd, PEER_VA(i), p->data, PTE_U);	/* read-only alias */
	for (uint32_t s = 0; s < STACK_TOP - STACK_VA; s += PAGE_SIZE)
		map_page(p->pd, STACK_VA + s, alloc_frame(), PTE_W | PTE_U);
	data_of(i)->id = i;
	/* The first switch to it starts it at process() on its stack. */
	p->frame = (struct ex_regs){
		.gs = USER_DS, .fs = USER_DS, .es = USER_DS, .ds = USER_DS,
		.eip = (uint32_t)process, .cs = USER_CS, .eflags = EFLAGS_IF | EFLAGS_FIXED,
		.esp = STACK_TOP - 4, .ss = USER_DS,
	};
}

static void test_processes(void)
{
	pte_t *kernel = identity_pd(true);
	kernel_only(kernel, (uint32_t)kernel_secret);
	kernel_secret[0] = 0x5ec7e7;
	build_process(0, kernel);
	build_process(1, kernel);
	data_of(0)->peer_frame = procs[1].data;
	data_of(1)->peer_frame = procs[0].data;

	probe_fixup[0] = (struct pf_fixup){ (uint32_t)probe_insn, (uint32_t)probe_done };
	pf_install(probe_fixup, 1);
	idt_set_gate(EXIT_VECTOR, GATE_INTR, 3);
	handle_exception(EXIT_VECTOR, process_exit);
	handle_exception(0x20, tick);

	enable_paging(procs[0].pd);
	current = 0;
	data_of(0)->resumed = 1;
	pit_periodic(PIT_HZ / 1000);		/* about 1 kHz */
	pic_unmask(0);
	start_user(procs[0].frame.eip, procs[0].frame.esp);	/* both run, both end */
	pic_mask(0);
	pit_stop();
	write_cr3((uint32_t)kernel);		/* the kernel's own space */

	bool ran = true, resumed = true, own = true, peer = true, frame = true;
	bool kern = true, vmm = true, wrong = true, stack = true, regs = true;
	for (int i = 0; i < 2; i++) {
		volatile struct proc_data *d = data_of(i);
		ran &= d->iterations == ITERATIONS;
		resumed &= d->resumed >= 2;
		own &= d->own_ok == ITERATIONS;
		peer &= d->peer_faults == ITERATIONS;
		frame &= d->frame_faults == ITERATIONS;
		kern &= d->kernel_faults == ITERATIONS;
		vmm &= d->vmm_faults == ITERATIONS;
		wrong &= d->wrong == 0;
		stack &= d->stack_ok == ITERATIONS;
		regs &= d->regs_ok == ITERATIONS;
		if (d->wrong)
			detail("process %d: %u unexpected probe results", i, d->wrong);
	}
	report(ran, "both processes ran to the end");
	report(resumed, "each was preempted and resumed");
	report(own, "each reads its own page through its alias");
	report(peer, "neither reads the other's page (#PF 0x4)");
	report(frame, "neither reads the other's frame (#PF 0x5)");
	report(kern, "neither reads the kernel's page (#PF 0x5)");
	report(vmm, "neither reads 0xfc000000 (#PF 0x4)");
	report(wrong, "every probe as expected");
	report(stack, "stacks at one address stay apart");
	report(regs, "registers survive preemption");
	report(user_ticks > 0 && wrong_space == 0,
	       "on each tick the kernel sees the running process's page");

	report(data_of(0)->id == 0 && data_of(1)->id == 1 && kernel_secret[0] == 0x5ec7e7,
	       "the kernel reads both processes' pages");
	bool both = true;
	for (int i = 0; i < 2; i++) {
		write_cr3((uint32_t)procs[i].pd);
		both &= *ptr(DATA_VA) == (uint32_t)i;
	}
	write_cr3((uint32_t)kernel);
	report(both, "the kernel reads each page at the shared address in its space");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pf_install(NULL, 0);
	test_two_spaces();
	test_processes();
	report_summary();
}
