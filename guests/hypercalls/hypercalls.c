/*
 * Hypercalls (include/ringvisor/hypercall.h), and that each replaces its
 * instruction exactly.  Only meaningful under ringvisor: natively the probe
 * finds no VMM and every test is skipped.
 *
 * With "shutdown" on its command line the guest instead ends at once
 * through RV_HC_SHUTDOWN with status 0, to test that path.
 */
#include "guests/lib/guest.h"
#include "ringvisor/hypercall.h"

static uint32_t hypercall(uint32_t nr, uint32_t a1, uint32_t a2, uint32_t a3)
{
	uint32_t ret;
	__asm__ volatile("int %1"
			 : "=a"(ret)
			 : "i"(RV_HYPERCALL_VECTOR), "a"(nr), "b"(a1), "c"(a2), "d"(a3)
			 : "memory");
	return ret;
}

/* Natively int $0x1f lands here: answer as a VMM without the call would. */
static void no_vmm(struct ex_regs *regs)
{
	regs->eax = (uint32_t)RV_ENOSYS;
}

static void test_console(void)
{
	static const char text[] = "hypercall console: hello\n";
	report_eq(hypercall(RV_HC_CONSOLE_WRITE, (uint32_t)text, sizeof(text) - 1, 0),
		  sizeof(text) - 1, "console write returns length");
	report_eq(hypercall(RV_HC_CONSOLE_WRITE, (uint32_t)text, 5000, 0),
		  (uint32_t)RV_EINVAL, "console write too long");
	report_eq(hypercall(RV_HC_CONSOLE_WRITE, 0xf0000000u, 16, 0),
		  (uint32_t)RV_EFAULT, "console write outside guest memory");
	report_eq(hypercall(RV_HC_CONSOLE_WRITE, 0xfc000000u, 16, 0),
		  (uint32_t)RV_EFAULT, "console write from vmm memory");
	report_eq(hypercall(RV_HC_COUNT + 5, 0, 0, 0), (uint32_t)RV_ENOSYS,
		  "unknown call");
}

static void test_tables(void)
{
	struct pseudo_desc saved, now;
	sidt(&saved);
	report_eq(hypercall(RV_HC_LOAD_IDT, saved.base, 0x3ff, 0), 0, "load idt");
	sidt(&now);
	report(now.base == saved.base && now.limit == 0x3ff, "load idt then sidt");
	hypercall(RV_HC_LOAD_IDT, saved.base, saved.limit, 0);

	sgdt(&saved);
	report_eq(hypercall(RV_HC_LOAD_GDT, saved.base, saved.limit, 0), 0, "load gdt");
	sgdt(&now);
	report(now.base == saved.base && now.limit == saved.limit, "load gdt then sgdt");
	report_eq(hypercall(RV_HC_LOAD_GDT, saved.base, 0x10000, 0),
		  (uint32_t)RV_EINVAL, "load gdt limit too big");

	/* A new data segment through the GDT-entry call, used at once. */
	static volatile uint32_t target[2] = { 0x11111111, 0x22222222 };
	uint64_t desc = make_seg((uint32_t)&target[1], 0xfff, SEG_P | SEG_S | SEG_DATA_RW,
				 SEG_DB);
	report_eq(hypercall(RV_HC_SET_GDT_ENTRY, GDT_TEST_FIRST, (uint32_t)desc,
			    (uint32_t)(desc >> 32)), 0, "set gdt entry");
	uint32_t value;
	__asm__ volatile("movw %w1, %%fs\n\t"
			 "movl %%fs:0, %0\n\t"
			 "movw %w2, %%fs"
			 : "=&r"(value) : "r"(GDT_TEST_FIRST << 3), "r"(0) : "memory");
	report_eq(value, 0x22222222, "set gdt entry takes effect");
	report_eq(hypercall(RV_HC_SET_GDT_ENTRY, 0, 0, 0), (uint32_t)RV_EINVAL,
		  "set gdt entry 0 refused");
	report_eq(hypercall(RV_HC_SET_GDT_ENTRY, 4096, 0, 0), (uint32_t)RV_EINVAL,
		  "set gdt entry beyond limit refused");
}

static void test_batch(void)
{
	struct pseudo_desc idt;
	sidt(&idt);
	static struct rv_hypercall calls[3];
	calls[0] = (struct rv_hypercall){ RV_HC_LOAD_IDT, { idt.base, idt.limit, 0 } };
	calls[1] = (struct rv_hypercall){ RV_HC_PROBE, { 0, 0, 0 } };
	calls[2] = (struct rv_hypercall){ RV_HC_LOAD_IDT, { idt.base, idt.limit, 0 } };
	report_eq(hypercall(RV_HC_BATCH, (uint32_t)calls, 3, 0), 3, "batch of three");

	calls[1].nr = RV_HC_COUNT + 1;
	report_eq(hypercall(RV_HC_BATCH, (uint32_t)calls, 3, 0), (uint32_t)RV_ENOSYS,
		  "batch stops at an unknown call");
	calls[1].nr = RV_HC_BATCH;
	report_eq(hypercall(RV_HC_BATCH, (uint32_t)calls, 3, 0), (uint32_t)RV_ENOSYS,
		  "batch may not nest");
	calls[1].nr = RV_HC_SHUTDOWN;
	report_eq(hypercall(RV_HC_BATCH, (uint32_t)calls, 3, 0), (uint32_t)RV_ENOSYS,
		  "batch may not shut down");
	report_eq(hypercall(RV_HC_BATCH, (uint32_t)calls, RV_BATCH_MAX + 1, 0),
		  (uint32_t)RV_EINVAL, "batch too long");
	report_eq(hypercall(RV_HC_BATCH, 0xf0000000u, 2, 0), (uint32_t)RV_EFAULT,
		  "batch list outside guest memory");
}

static uint32_t user_at, user_esp;

static uint32_t user_hypercall(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t"
			 "movl %%esp, %1\n\t"
			 ASM_TRY("2f")
			 "1: int %2\n"
			 "2:"
			 : "=&r"(user_at), "=&r"(user_esp) : "i"(RV_HYPERCALL_VECTOR)
			 : "memory");
	return 0;
}

/* From virtual user mode it is an ordinary int n: the guest's gate is
 * DPL 0, so #GP with the IDT error code. */
static void test_user_mode(void)
{
	handle_exception(RV_HYPERCALL_VECTOR, 0);
	ex_clear();
	run_in_user(user_hypercall, 0);
	report_user_exception("hypercall from user mode is #GP", 13,
			      (RV_HYPERCALL_VECTOR << 3) | 2, user_at, user_esp);
	handle_exception(RV_HYPERCALL_VECTOR, no_vmm);
}

/*
 * The paravirtual interrupt flag (RV_HC_PV_IRQ), last because it stays
 * registered.  With it the CPU's IF stays 1 in the guest, so an interrupt
 * that comes while vif = 0 is taken by the VMM and waits there, and the
 * VMM says so in pending.  "sti; hlt" must then take it at once: the PIC
 * has acknowledged it and holds back every request of its priority or
 * lower until the guest's EOI, so nothing else would end the hlt.  (Linux
 * hung so in its idle loop, now and then, at power-off.)
 */
static struct rv_pv_irq pv __attribute__((aligned(16)));
static volatile unsigned timer_ticks;

static void timer_tick(struct ex_regs *regs)
{
	(void)regs;
	timer_ticks++;
	pic_eoi(0);
}

static void test_pv_irq(void)
{
	pic_init(PIC_LINUX_BASE);
	handle_exception(PIC_LINUX_BASE, timer_tick);
	cli();
	report_eq(hypercall(RV_HC_PV_IRQ, (uint32_t)&pv, 0, 0), 0, "pv irq registers");
	report_eq(pv.active, 1, "pv irq active");
	report_eq(pv.vif, 0, "pv irq vif follows cli");

	pit_oneshot(200);
	pic_unmask(0);
	bool waiting = false;
	for (unsigned spins = 0; spins < 100000000 && !waiting; spins++)
		waiting = *(volatile uint32_t *)&pv.pending != 0;
	report(waiting, "pv irq: an interrupt while vif = 0 waits as pending");
	report_eq(timer_ticks, 0, "pv irq: not delivered while vif = 0");
	safe_halt();
	report_eq(timer_ticks, 1, "pv irq: sti; hlt takes the waiting interrupt");
	cli();
	pic_mask(0);
}

/* Whether text contains word. */
static bool mentions(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (; *text; text++)
		if (strncmp(text, word, n) == 0)
			return true;
	return false;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	handle_exception(RV_HYPERCALL_VECTOR, no_vmm);
	if (hypercall(RV_HC_PROBE, 0, 0, 0) != RV_PROBE_MAGIC) {
		report_skip("no ringvisor VMM", "hypercalls");
		report_summary();
	}
	report(1, "probe finds the vmm");
	if ((mbi->flags & MBI_FLAG_CMDLINE) &&
	    mentions((const char *)mbi->cmdline, "shutdown")) {
		printf("shutting down through the hypercall\n");
		hypercall(RV_HC_SHUTDOWN, 0, 0, 0);
		report(0, "shutdown hypercall returned");
		report_summary();
	}
	test_console();
	test_tables();
	test_batch();
	test_user_mode();
	test_pv_irq();
	report_summary();
}
