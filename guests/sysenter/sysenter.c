/*
 * sysenter: the fast system call pair Linux i386 uses for every system
 * call.  Under the VMM, SYSENTER from the guest's user code enters the
 * VMM (the real MSRs are the VMM's), which must deliver it to the guest
 * kernel's entry as the guest's MSRs say; SYSEXIT in the guest kernel runs
 * in ring 3 and faults, and the VMM must complete it.  The GDT layout is
 * the one SYSENTER/SYSEXIT require: kernel CS 0x60, SS 0x68, user CS 0x73
 * (0x60 + 16), SS 0x7b (0x60 + 24).
 */
#include "guests/lib/guest.h"

void sysenter_entry(void);
uint32_t sysenter_call(uint32_t request);
uint32_t sysenter_seen_esp, sysenter_seen_eflags;

static uint8_t sysenter_stack[4096] __attribute__((aligned(16)));
#define SYSENTER_STACK_TOP ((uint32_t)sysenter_stack + sizeof(sysenter_stack))

static unsigned calls;
static unsigned kernel_faults;
static struct ex_record kernel_int3;
static uint32_t kernel_int3_at;

/* The kernel's system call: twice the request.  It also checks that it
 * runs in ring 0: a privileged instruction works, and an exception's frame
 * shows the kernel's CS. */
uint32_t sysenter_call(uint32_t request)
{
	calls++;
	ex_clear();
	__asm__ volatile(ASM_TRY("1f") "movl %%cr2, %%eax\n1:" : : : "eax", "memory");
	kernel_faults = ex_last.count;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("1f")
			 "int3\n"
			 "1:"
			 : "=&r"(kernel_int3_at) : : "memory");
	kernel_int3 = ex_last;
	return request * 2;
}

/* The user side: sysenter with %ecx = %esp and %edx = where to come back. */
static uint32_t esp_before, esp_after;

static uint32_t user_syscall(uint32_t request)
{
	uint32_t result, before, after;
	__asm__ volatile("movl %%esp, %%ecx\n\t"
			 "movl %%ecx, %1\n\t"
			 "movl $1f, %%edx\n\t"
			 "sysenter\n"
			 "1: movl %%esp, %2"
			 : "=a"(result), "=&S"(before), "=&D"(after)
			 : "a"(request) : "ecx", "edx", "memory");
	esp_before = before;
	esp_after = after;
	return result;
}

static uint32_t user_flags_after;
static uint32_t u_at, u_esp;

/* After the round trip, the CPU must be back in ring 3: cli faults. */
static uint32_t user_syscall_then_cli(uint32_t request)
{
	uint32_t r = user_syscall(request);
	user_flags_after = read_eflags();
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 "movl %%esp, %1\n\t"
			 ASM_TRY("2f")
			 "1: cli\n"
			 "2:"
			 : "=&r"(u_at), "=&r"(u_esp) : : "memory");
	return r;
}

static uint32_t user_sysenter_only(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t"
			 "movl %%esp, %1\n\t"
			 ASM_TRY("2f")
			 "1: sysenter\n"
			 "2:"
			 : "=&r"(u_at), "=&r"(u_esp) : : "ecx", "edx", "memory");
	return 0;
}

static uint32_t user_sysexit(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t"
			 "movl %%esp, %1\n\t"
			 "movl %%esp, %%ecx\n\t"
			 "movl $2f, %%edx\n\t"
			 ASM_TRY("2f")
			 "1: sysexit\n"
			 "2:"
			 : "=&r"(u_at), "=&r"(u_esp) : : "ecx", "edx", "memory");
	return 0;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	if (!(cpuid_features() & CPUID_SEP)) {
		report_skip("no sep in cpuid", "sysenter");
		report_summary();
	}
	wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
	wrmsr(MSR_SYSENTER_ESP, SYSENTER_STACK_TOP);
	wrmsr(MSR_SYSENTER_EIP, (uint32_t)sysenter_entry);

	report_eq(run_in_user(user_syscall_then_cli, 21), 42, "sysenter round trip");
	report_eq(calls, 1, "kernel entered once");
	report_eq(sysenter_seen_esp, SYSENTER_STACK_TOP, "sysenter esp from msr");
	report_eq(sysenter_seen_eflags & EFLAGS_IF, 0, "sysenter clears if");
	report_eq(kernel_faults, 0, "privileged insn after sysenter");
	ex_last = kernel_int3;
	report_exception("exception in sysenter kernel", 3, 0, kernel_int3_at, KERNEL_CS);
	report_eq(esp_after, esp_before, "sysexit restores user esp");
	report_eq(user_flags_after & EFLAGS_IF, EFLAGS_IF, "user if after sysexit");
	run_in_user(user_syscall_then_cli, 1);
	report_user_exception("ring 3 after sysexit", 13, 0, u_at, u_esp);

	calls = 0;
	for (uint32_t i = 0; i < 3; i++)
		run_in_user(user_syscall, i);
	report_eq(calls, 3, "three sysenter calls");

	/* A null IA32_SYSENTER_CS makes sysenter #GP(0). */
	wrmsr(MSR_SYSENTER_CS, 0);
	ex_clear();
	run_in_user(user_sysenter_only, 0);
	report_user_exception("sysenter with null cs #GP", 13, 0, u_at, u_esp);
	wrmsr(MSR_SYSENTER_CS, KERNEL_CS);

	/* sysexit is for ring 0 only. */
	ex_clear();
	run_in_user(user_sysexit, 0);
	report_user_exception("user sysexit #GP", 13, 0, u_at, u_esp);
	report_summary();
}
