/*
 * A guest reaching for the VMM's memory at 0xFC000000 and up (paper §4.4.2,
 * case 4), by every path that exists while guest paging is off, from the
 * virtual kernel and from virtual user mode.  Each access must fault back
 * into the guest, which goes on running; the VMM must not notice beyond
 * counting exits.
 *
 * With paging off, natively these addresses are firmware or nothing and no
 * access faults, so this guest only means something under ringvisor: there
 * every segment is clipped below 0xFC000000 and the access is a #GP(0), the
 * fault a segment-limit violation gives.  A jump there faults fetching at
 * its target, so that frame holds the target, not the jump: a CPU checking
 * CS limits would name the jump, but the VMM only sees the fetch.  (With
 * guest paging, the virtual protection ring turns these into page faults,
 * and a string instruction can straddle the boundary.)
 *
 * With "outside-ram" on its command line, the guest instead touches memory
 * between the end of its RAM and the VMM, which the VMM answers by stopping
 * the guest with a report.
 */
#include "guests/lib/guest.h"
#include "ringvisor/hypercall.h"

#define VMM_START 0xfc000000u

static uint32_t at;

static bool under_vmm(void)
{
	uint32_t ret;
	__asm__ volatile("int %1" : "=a"(ret) : "i"(RV_HYPERCALL_VECTOR), "a"(RV_HC_PROBE)
			 : "memory");
	return ret == RV_PROBE_MAGIC;
}

static void no_vmm(struct ex_regs *regs)
{
	regs->eax = (uint32_t)RV_ENOSYS;
}

/* Each access is a function so kernel and user mode run the same code. */
static uint32_t read_vmm(uint32_t addr)
{
	uint32_t v = 0;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%2), %1\n2:"
			 : "=&r"(at), "+r"(v) : "r"(addr) : "memory");
	return v;
}

static uint32_t write_vmm(uint32_t addr)
{
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl $0xbad, (%1)\n2:"
			 : "=&r"(at) : "r"(addr) : "memory");
	return 0;
}

static uint32_t jump_to_vmm(uint32_t addr)
{
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: jmp *%1\n2:"
			 : "=&r"(at) : "r"(addr) : "memory");
	return 0;
}

/* A read through %fs loaded with a descriptor the test built. */
static uint32_t read_via_fs(uint32_t offset)
{
	uint32_t v = 0;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl %%fs:(%2), %1\n2:"
			 : "=&r"(at), "+r"(v) : "r"(offset) : "memory");
	return v;
}

#define TEST_SEL(i) (((GDT_TEST_FIRST + (i)) << 3) | 3)

static void kernel_paths(void)
{
	ex_clear();
	read_vmm(VMM_START);
	report_exception("kernel read 0xfc000000", 13, 0, at, KERNEL_CS);
	ex_clear();
	read_vmm(0xfffff000);
	report_exception("kernel read 0xfffff000", 13, 0, at, KERNEL_CS);
	ex_clear();
	write_vmm(VMM_START + 0x100000);
	report_exception("kernel write 0xfc100000", 13, 0, at, KERNEL_CS);
	ex_clear();
	jump_to_vmm(VMM_START + 0x100000);
	report(ex_last.count == 1 && ex_last.vector == 13 && ex_last.error == 0,
	       "kernel jump to 0xfc100000");

	/* A descriptor whose base is the VMM: the VMM refuses to mirror it. */
	gdt_set(GDT_TEST_FIRST, make_seg(VMM_START, 0xfff, SEG_P | SEG_S | SEG_DATA_RW, SEG_DB));
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movw %w1, %%fs\n2:"
			 : "=&r"(at) : "r"(TEST_SEL(0) & ~3) : "memory");
	report_exception("kernel load segment based in vmm", 11, TEST_SEL(0) & ~3,
			 at, KERNEL_CS);
	/* One based below it whose limit reaches into it: clipped. */
	gdt_set(GDT_TEST_FIRST + 1, make_seg(0xf0000000, 0xffff, SEG_P | SEG_S | SEG_DATA_RW,
					     SEG_DB | SEG_G));
	__asm__ volatile("movw %w0, %%fs" : : "r"(TEST_SEL(1)));
	ex_clear();
	read_via_fs(0x0c000000);
	report_exception("kernel read via segment reaching into vmm", 13, 0, at,
			 KERNEL_CS);
	__asm__ volatile("movw %w0, %%fs" : : "r"(0));
}

static void user_paths(void)
{
	static const struct { user_fn fn; uint32_t arg; const char *name; } cases[] = {
		{ read_vmm, VMM_START, "user read 0xfc000000" },
		{ write_vmm, 0xfffffff0u, "user write 0xfffffff0" },
		{ jump_to_vmm, VMM_START + 0x100000, "user jump to 0xfc100000" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ex_clear();
		run_in_user(cases[i].fn, cases[i].arg);
		/* A jump faults fetching at its target, so only there is
		 * the frame's EIP the target instead of the jump (see above). */
		bool eip_ok = cases[i].fn == jump_to_vmm || ex_last.eip == at;
		report(ex_last.count == 1 && ex_last.vector == 13 && ex_last.error == 0 &&
		       eip_ok && ex_last.cs == USER_CS, "%s", cases[i].name);
	}
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	handle_exception(RV_HYPERCALL_VECTOR, no_vmm);
	if (!under_vmm()) {
		report_skip("no ringvisor VMM: with paging off nothing faults natively",
			    "vmm memory");
		report_summary();
	}
	if ((mbi->flags & MBI_FLAG_CMDLINE) &&
	    strncmp((const char *)mbi->cmdline + strlen((const char *)mbi->cmdline) - 11,
		    "outside-ram", 11) == 0) {
		printf("touching 0x80000000, beyond guest RAM\n");
		read_vmm(0x80000000u);
		report(0, "survived an access beyond guest RAM");
		report_summary();
	}
	kernel_paths();
	user_paths();
	report_summary();
}
