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
#include "ringvisor/hypercall.h"

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
#define PLAIN 0x80000000u	/* a request the kernel just answers */
#define CR2   0x40000000u	/* ... with CR2 */

/* Under ringvisor, the paravirtual interrupt flag (test_many_round_trips). */
static struct rv_pv_irq pv __attribute__((aligned(16)));
static int kernel_if_clear = 1;

uint32_t sysenter_call(uint32_t request)
{
	calls++;
	/* IF as the kernel sees it: the CPU's, or with the paravirtual flag
	 * registered, the flag word (the real IF then stays set). */
	if (pv.active ? pv.vif != 0 : (sysenter_seen_eflags & EFLAGS_IF) != 0)
		kernel_if_clear = 0;
	if (request & CR2) {
		uint32_t cr2;
		__asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
		return cr2;
	}
	if (request & PLAIN)
		return request * 2;
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

static void read_segments(uint16_t seg[4])
{
	__asm__ volatile("movw %%ds, %0; movw %%es, %1; movw %%fs, %2; movw %%gs, %3"
			 : "=m"(seg[0]), "=m"(seg[1]), "=m"(seg[2]), "=m"(seg[3]));
}

/*
 * Round trips as Linux makes them, a thousand, with nothing else between
 * them.  Under ringvisor the paravirtual interrupt flag is registered
 * first (natively there is no such call): the VMM then takes sysenter and
 * "sti; sysexit" by its short path (arch/ia32/fastcall.S), and each trip
 * must still do exactly what the first did: the answer, ESP back, the
 * registers the convention keeps and every data segment register as it
 * was, IF clear in the kernel and set again in user mode.
 */
static uint32_t round_trips(uint32_t count)
{
	uint32_t good = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t result, esp0, esp1, ebx = 0x1234 + i;
		uint16_t seg0[4], seg1[4];
		read_segments(seg0);
		__asm__ volatile("movl %%esp, %%ecx\n\t"
				 "movl %%ecx, %%esi\n\t"
				 "movl $1f, %%edx\n\t"
				 "sysenter\n"
				 "1: movl %%esp, %%edi"
				 : "=a"(result), "=&S"(esp0), "=&D"(esp1), "+b"(ebx)
				 : "a"(PLAIN | i) : "ecx", "edx", "memory", "cc");
		read_segments(seg1);
		good += result == (uint32_t)(i * 2) && esp0 == esp1 && ebx == 0x1234 + i &&
			(read_eflags() & EFLAGS_IF) &&
			memcmp(seg0, seg1, sizeof(seg0)) == 0;
	}
	return good;
}

/*
 * And exceptions from user mode, a thousand, each back by the kernel's
 * iret (which the VMM's short path may take too): after each, the
 * registers and flags the user had, where the handler resumes it.
 */
static uint32_t user_exceptions(uint32_t count)
{
	uint32_t good = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t ebx = 0x1111 + i, esi = 0x2222 + i, edi = 0x3333 + i, flags0, flags1;
		uint16_t seg0[4], seg1[4];
		read_segments(seg0);
		__asm__ volatile("std\n\t"
				 "stc\n\t"
				 "pushfl\n\t"
				 "popl %3\n\t"
				 ASM_TRY("1f")
				 "ud2\n"
				 "1: pushfl\n\t"
				 "popl %4\n\t"
				 "cld"
				 : "+b"(ebx), "+S"(esi), "+D"(edi), "=&r"(flags0), "=&r"(flags1)
				 : : "memory", "cc");
		read_segments(seg1);
		good += ebx == 0x1111 + i && esi == 0x2222 + i && edi == 0x3333 + i &&
			flags1 == flags0 && (flags1 & EFLAGS_IF) &&
			memcmp(seg0, seg1, sizeof(seg0)) == 0 && ex_last.vector == 6;
	}
	return good;
}

static void no_vmm(struct ex_regs *regs)
{
	regs->eax = (uint32_t)RV_ENOSYS;
}

static void test_many_round_trips(void)
{
	handle_exception(RV_HYPERCALL_VECTOR, no_vmm);
	uint32_t probe;
	__asm__ volatile("int %1" : "=a"(probe) : "i"(RV_HYPERCALL_VECTOR), "a"(RV_HC_PROBE)
			 : "memory");
	if (probe == RV_PROBE_MAGIC) {
		uint32_t ret;
		__asm__ volatile("int %1" : "=a"(ret)
				 : "i"(RV_HYPERCALL_VECTOR), "a"(RV_HC_PV_IRQ), "b"((uint32_t)&pv)
				 : "memory");
	}
	calls = 0;
	kernel_if_clear = 1;
	report_eq(run_in_user(round_trips, 1000), 1000, "1000 round trips, each exact");
	report_eq(calls, 1000, "1000 kernel entries");
	report(kernel_if_clear, "if clear at every kernel entry");
	report_eq(run_in_user(user_exceptions, 1000), 1000,
		  "1000 exceptions from user mode, each back exactly");
	/* The kernel's read of CR2 in a system call (the VMM's short path
	 * takes that too, as it does a page-fault handler's): the value last
	 * written. */
	unsigned cr2_right = 0;
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t value = 0x12345000u + i * 0x1001u;
		__asm__ volatile("movl %0, %%cr2" : : "r"(value));
		cr2_right += run_in_user(user_syscall, CR2 | i) == value;
	}
	report_eq(cr2_right, 100, "cr2 read in a system call, 100 times");
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

	/* Last: under ringvisor, it registers the paravirtual flag. */
	test_many_round_trips();
	report_summary();
}
