/*
 * usermode: the guest's own ring 3.  Under the VMM both the guest kernel
 * and its user code really run in ring 3, so everything here that tells
 * the two apart is the VMM's virtual ring at work: privileged instructions
 * from user code must reach the guest kernel as #GP with a user frame,
 * `int n` must honour the gate's DPL, IRET must refuse to go inward, and a
 * user -> kernel transition must land on the stack the guest's TSS names.
 *
 * Not here: #AC (QEMU's TCG never raises it).
 */
#include "guests/lib/guest.h"

/* What the user code saw: the address of the instruction under test and
 * the stack pointer when it ran (the frame must show both). */
static uint32_t u_at, u_esp;

/*
 * A user function that runs setup, then the instruction under test with
 * ASM_TRY (noting its address and %esp), then cleanup.
 */
#define USER_INSN(fn, setup, insn, cleanup)				\
static uint32_t fn(uint32_t arg)					\
{									\
	(void)arg;							\
	__asm__ volatile(setup "\n\t"					\
			 "movl $1f, %0\n\t"				\
			 "movl %%esp, %1\n\t"				\
			 ASM_TRY("2f")					\
			 "1: " insn "\n"				\
			 "2: " cleanup					\
			 : "=&r"(u_at), "=&r"(u_esp) : : "eax", "ecx", "edx", "memory"); \
	return 0;							\
}

static const struct pseudo_desc zero_desc __attribute__((used));

USER_INSN(user_cli, "", "cli", "")
USER_INSN(user_sti, "", "sti", "")
USER_INSN(user_hlt, "", "hlt", "")
USER_INSN(user_read_cr0, "", "movl %%cr0, %%eax", "")
USER_INSN(user_write_cr3, "xorl %%eax, %%eax", "movl %%eax, %%cr3", "")
USER_INSN(user_write_dr7, "xorl %%eax, %%eax", "movl %%eax, %%db7", "")
USER_INSN(user_clts, "", "clts", "")
USER_INSN(user_inb, "", "inb $0x21, %%al", "")
USER_INSN(user_outb, "", "outb %%al, $0x80", "")
USER_INSN(user_lgdt, "", "lgdt zero_desc", "")
USER_INSN(user_lidt, "", "lidt zero_desc", "")
USER_INSN(user_lldt, "xorl %%eax, %%eax", "lldt %%ax", "")
USER_INSN(user_ltr, "movl $0x80, %%eax", "ltr %%ax", "")
USER_INSN(user_rdmsr, "movl $0x174, %%ecx", "rdmsr", "")
USER_INSN(user_wrmsr, "movl $0x174, %%ecx", "wrmsr", "")
USER_INSN(user_wbinvd, "", "wbinvd", "")
USER_INSN(user_invlpg, "", "invlpg 0", "")
USER_INSN(user_int41, "", "int $0x41", "")
USER_INSN(user_int3, "", "int3", "")
USER_INSN(user_into, "movl $0x7fffffff, %%eax; addl $1, %%eax", "into", "")
USER_INSN(user_ud2, "", "ud2", "")
USER_INSN(user_div0, "xorl %%eax, %%eax; xorl %%edx, %%edx; xorl %%ecx, %%ecx", "divl %%ecx", "")
USER_INSN(user_load_kernel_ds, "movl $0x68, %%eax", "movl %%eax, %%ds", "")
USER_INSN(user_ljmp_kernel_cs, "", "ljmp $0x60, $2f", "")
/* An IRET inward, to the kernel's CS, is refused (SDM Vol. 2 IRET). */
USER_INSN(user_iret_to_kernel, "pushfl; pushl $0x60; pushl $2f", "iret", "addl $12, %%esp")

static uint32_t add_one(uint32_t arg)
{
	return arg + 1;
}

static uint8_t other_stack[4096] __attribute__((aligned(16)));

static void test_enter_leave(void)
{
	report_eq(run_in_user(add_one, 41), 42, "enter and leave user mode");
	report_eq(user_exit_regs.cs & 0xffff, USER_CS, "int 0x80 frame cs");
	report_eq(user_exit_regs.ss & 0xffff, USER_DS, "int 0x80 frame ss");
	report_eq(user_exit_regs.eflags & (EFLAGS_IF | EFLAGS_IOPL), EFLAGS_IF,
		  "int 0x80 frame eflags");
	/* eip, cs, eflags, esp, ss: the frame fills the top of esp0's stack. */
	report_eq(user_exit_frame + 20, tss.esp0, "frame on tss esp0 stack");

	uint32_t esp0 = tss.esp0;
	tss.esp0 = (uint32_t)other_stack + sizeof(other_stack);
	run_in_user(add_one, 0);
	report_eq(user_exit_frame + 20, tss.esp0, "frame on new tss esp0 stack");
	tss.esp0 = esp0;
}

static void expect_user_gp(user_fn fn, uint32_t error, const char *name)
{
	ex_clear();
	run_in_user(fn, 0);
	report_user_exception(name, 13, error, u_at, u_esp);
}

static void test_privileged(void)
{
	expect_user_gp(user_cli, 0, "user cli #GP");
	expect_user_gp(user_sti, 0, "user sti #GP");
	expect_user_gp(user_hlt, 0, "user hlt #GP");
	expect_user_gp(user_read_cr0, 0, "user mov from cr0 #GP");
	expect_user_gp(user_write_cr3, 0, "user mov to cr3 #GP");
	expect_user_gp(user_write_dr7, 0, "user mov to dr7 #GP");
	expect_user_gp(user_clts, 0, "user clts #GP");
	expect_user_gp(user_inb, 0, "user in #GP");
	expect_user_gp(user_outb, 0, "user out #GP");
	expect_user_gp(user_lgdt, 0, "user lgdt #GP");
	expect_user_gp(user_lidt, 0, "user lidt #GP");
	expect_user_gp(user_lldt, 0, "user lldt #GP");
	expect_user_gp(user_ltr, 0, "user ltr #GP");
	expect_user_gp(user_rdmsr, 0, "user rdmsr #GP");
	expect_user_gp(user_wrmsr, 0, "user wrmsr #GP");
	expect_user_gp(user_wbinvd, 0, "user wbinvd #GP");
	expect_user_gp(user_invlpg, 0, "user invlpg #GP");
}

static uint32_t user_popf_if(uint32_t arg)
{
	(void)arg;
	/* With IOPL 0 a popf in ring 3 leaves IF alone, silently. */
	write_eflags(read_eflags() & ~EFLAGS_IF);
	return read_eflags();
}

static void test_eflags(void)
{
	ex_clear();
	uint32_t flags = run_in_user(user_popf_if, 0);
	report_eq(ex_last.count, 0, "user popf no fault");
	report_eq(flags & (EFLAGS_IF | EFLAGS_IOPL), EFLAGS_IF, "user popf keeps if");
}

/* `int n` from ring 3 checks the gate's DPL; a hardware exception does not. */
static void test_gate_dpl(void)
{
	expect_user_gp(user_int41, (0x41 << 3) | 2, "user int dpl0 gate #GP");
	expect_user_gp(user_int3, (3 << 3) | 2, "user int3 dpl0 gate #GP");
	expect_user_gp(user_into, (4 << 3) | 2, "user into dpl0 gate #GP");

	idt_set_gate(0x41, GATE_INTR, 3);
	idt_set_gate(3, GATE_INTR, 3);
	ex_clear();
	run_in_user(user_int41, 0);
	report_user_exception("user int dpl3 gate", 0x41, 0, u_at + 2, u_esp);
	ex_clear();
	run_in_user(user_int3, 0);
	report_user_exception("user int3 dpl3 gate", 3, 0, u_at + 1, u_esp);
	idt_set_gate(0x41, GATE_INTR, 0);
	idt_set_gate(3, GATE_INTR, 0);

	ex_clear();
	run_in_user(user_ud2, 0);
	report_user_exception("user #UD", 6, 0, u_at, u_esp);
	ex_clear();
	run_in_user(user_div0, 0);
	report_user_exception("user #DE", 0, 0, u_at, u_esp);
}

static void test_segments(void)
{
	ex_clear();
	run_in_user(user_load_kernel_ds, 0);
	report_user_exception("user load kernel ds #GP", 13, KERNEL_DS, u_at, u_esp);
	ex_clear();
	run_in_user(user_ljmp_kernel_cs, 0);
	report_user_exception("user ljmp kernel cs #GP", 13, KERNEL_CS, u_at, u_esp);
}

static uint32_t user_iret_same_ring(uint32_t arg)
{
	uint32_t esp_before, esp_after;
	(void)arg;
	__asm__ volatile("movl %%esp, %0\n\t"
			 "pushfl\n\t"
			 "pushl %2\n\t"
			 "pushl $1f\n\t"
			 "iret\n"
			 "1: movl %%esp, %1"
			 : "=&r"(esp_before), "=&r"(esp_after)
			 : "i"(USER_CS) : "memory");
	return esp_before == esp_after;
}

static void test_iret(void)
{
	/* Kernel to kernel: pops EIP, CS, EFLAGS only. */
	uint32_t esp_before, esp_after, landed = 0;
	__asm__ volatile("movl %%esp, %0\n\t"
			 "pushfl\n\t"
			 "pushl %3\n\t"
			 "pushl $1f\n\t"
			 "iret\n"
			 "1: movl $1, %2\n\t"
			 "movl %%esp, %1"
			 : "=&r"(esp_before), "=&r"(esp_after), "+r"(landed)
			 : "i"(KERNEL_CS) : "memory");
	report(landed && esp_before == esp_after, "iret kernel to kernel");

	/* Kernel to user is how run_in_user gets there; user to user: */
	ex_clear();
	report_eq(run_in_user(user_iret_same_ring, 0), 1, "iret user to user");
	report_eq(ex_last.count, 0, "iret user to user no fault");

	/* User to kernel: the return CS's RPL is below CPL. */
	expect_user_gp(user_iret_to_kernel, KERNEL_CS, "iret user to kernel #GP");

	/* Kernel to user with the kernel's code segment at RPL 3: its DPL
	 * differs from the RPL, so #GP(selector) in the kernel. */
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 "pushl %1\n\t"
			 "pushl %%esp\n\t"
			 "pushl $0x202\n\t"
			 "pushl %2\n\t"
			 "pushl $2f\n\t"
			 ASM_TRY("3f")
			 "1: iret\n"
			 "2: ud2\n"
			 "3: addl $20, %%esp"
			 : "=&r"(at) : "i"(USER_DS), "i"(KERNEL_CS | 3) : "memory");
	report_exception("iret to cs dpl != rpl #GP", 13, KERNEL_CS, at, KERNEL_CS);
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	test_enter_leave();
	test_privileged();
	test_eflags();
	test_gate_dpl();
	test_segments();
	test_iret();
	report_summary();
}
