/*
 * privileged: the privileged instructions a guest kernel uses, each read
 * back after it is written.  Under the VMM every one of them traps (the
 * guest kernel runs in ring 3) and is emulated against the virtual CPU, so
 * what the guest reads must be what it wrote, never the VMM's own state:
 * sgdt shows the guest's GDT, str the guest's TSS selector, and so on.
 *
 * Not tested here: popf changing IF or IOPL (in ring 3 the CPU ignores
 * that silently, so no VMM of this design can see it; Linux 6.1 never
 * does it), and unknown MSRs (QEMU's TCG does not fault on them).
 */
#include "guests/lib/guest.h"

#define SEL_TEST_DATA ((GDT_TEST_FIRST + 0) << 3)
#define SEL_TSS2      ((GDT_TEST_FIRST + 1) << 3)
#define SEL_LDT_DATA  0x4	/* LDT entry 0, TI = 1, RPL 0 */

/* Run one instruction under ASM_TRY and report that it did not fault. */
#define REPORT_NO_FAULT(insn, name)					\
	do {								\
		ex_clear();						\
		__asm__ volatile(ASM_TRY("1f") insn "\n1:" : : : "memory"); \
		report_eq(ex_last.count, 0, name);			\
	} while (0)

static void test_cr0(void)
{
	uint32_t cr0 = read_cr0();
	report_eq(cr0 & (CR0_PE | CR0_PG), CR0_PE, "cr0 pe set, pg clear");

	write_cr0(cr0 | CR0_TS);
	report_eq(read_cr0() & CR0_TS, CR0_TS, "cr0 ts set");
	__asm__ volatile("clts");
	report_eq(read_cr0() & CR0_TS, 0, "clts");

	write_cr0(cr0 ^ CR0_MP);
	report_eq(read_cr0(), cr0 ^ CR0_MP, "cr0 mp toggled");
	write_cr0(cr0);
	report_eq(read_cr0(), cr0, "cr0 restored");

	/* ET is fixed to 1 on everything since the Pentium (SDM Vol. 3A §2.5). */
	write_cr0(cr0 & ~CR0_ET);
	report_eq(read_cr0() & CR0_ET, CR0_ET, "cr0 et hardwired");
	write_cr0(cr0);

	uint32_t msw = 0;
	__asm__ volatile("smsw %0" : "=r"(msw));
	report_eq(msw & 0xffff, cr0 & 0xffff, "smsw reg");
	uint16_t msw16 = 0;
	__asm__ volatile("smsw %0" : "=m"(msw16));
	report_eq(msw16, cr0 & 0xffff, "smsw mem");

	uint16_t ts = (cr0 & 0xffff) | CR0_TS;
	__asm__ volatile("lmsw %0" : : "rm"(ts) : "memory");
	report_eq(read_cr0(), cr0 | CR0_TS, "lmsw sets ts");
	/* lmsw can set PE but never clear it (SDM Vol. 2 LMSW). */
	uint16_t nope = (cr0 & 0xffff) & ~CR0_PE;
	__asm__ volatile("lmsw %0" : : "rm"(nope) : "memory");
	report_eq(read_cr0(), cr0 & ~CR0_TS, "lmsw keeps pe");
	write_cr0(cr0);
}

static void test_cr2_cr3(void)
{
	write_cr2(0x12345678);
	report_eq(read_cr2(), 0x12345678, "cr2 write/read");
	write_cr2(0xfffff000);
	report_eq(read_cr2(), 0xfffff000, "cr2 write/read again");
	write_cr2(0);

	/* With paging off CR3 is only stored (SDM Vol. 3A §4.1). */
	uint32_t cr3 = read_cr3();
	write_cr3(0x00123000);
	report_eq(read_cr3(), 0x00123000, "cr3 write/read");
	write_cr3(0x00456018);	/* with PWT and PCD */
	report_eq(read_cr3(), 0x00456018, "cr3 pwt pcd");
	write_cr3(cr3);
}

static void test_cr4(void)
{
	static const struct { uint32_t bit, feature; const char *name; } bits[] = {
		{ CR4_DE, CPUID_DE, "de" },
		{ CR4_PSE, CPUID_PSE, "pse" },
		{ CR4_TSD, CPUID_TSC, "tsd" },
		{ CR4_PGE, CPUID_PGE, "pge" },
	};
	uint32_t features = cpuid_features(), cr4 = read_cr4();
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		/* Setting a bit CPUID does not report hangs QEMU: check first. */
		if (!(features & bits[i].feature)) {
			report_skip("not in cpuid", "cr4 %s", bits[i].name);
			continue;
		}
		write_cr4(cr4 | bits[i].bit);
		uint32_t set = read_cr4();
		write_cr4(cr4 & ~bits[i].bit);
		uint32_t clear = read_cr4();
		if (set != (cr4 | bits[i].bit))
			detail("set: got 0x%x", set);
		if (clear != (cr4 & ~bits[i].bit))
			detail("clear: got 0x%x", clear);
		report(set == (cr4 | bits[i].bit) && clear == (cr4 & ~bits[i].bit),
		       "cr4 %s toggle", bits[i].name);
		write_cr4(cr4);
	}

	if (features & CPUID_TSC) {
		write_cr4(cr4 | CR4_TSD);
		REPORT_NO_FAULT("rdtsc", "rdtsc in ring 0 with cr4.tsd");
		write_cr4(cr4);
	}
}

static void test_dr(void)
{
	write_dr0(0x11111110);
	write_dr1(0x22222220);
	write_dr2(0x33333330);
	write_dr3(0x44444440);
	report_eq(read_dr0(), 0x11111110, "dr0 write/read");
	report_eq(read_dr1(), 0x22222220, "dr1 write/read");
	report_eq(read_dr2(), 0x33333330, "dr2 write/read");
	report_eq(read_dr3(), 0x44444440, "dr3 write/read");

	/* Lengths and types for all four, none enabled; bit 10 reads as 1. */
	write_dr7(0xfff00300);
	report_eq(read_dr7(), 0xfff00700, "dr7 write/read");
	write_dr7(0);
	report_eq(read_dr7(), 0x400, "dr7 cleared");

	/* DR6's reserved bits read as 1 (SDM Vol. 3A §17.2.3). */
	write_dr6(0);
	report_eq(read_dr6(), 0xffff0ff0, "dr6 fixed bits");
	write_dr0(0);
	write_dr1(0);
	write_dr2(0);
	write_dr3(0);
}

static uint64_t gdt2[GDT_ENTRIES] __attribute__((aligned(8)));
static uint64_t idt2[256] __attribute__((aligned(8)));
static uint32_t marker[4] = { 0xcafe0000, 0xcafe0001, 0xcafe0002, 0xcafe0003 };

static uint32_t read_fs0(void)
{
	uint32_t v;
	__asm__ volatile("movl %%fs:0, %0" : "=r"(v));
	return v;
}

static void test_gdt(void)
{
	struct pseudo_desc p = { 0, 0 };
	sgdt(&p);
	report(p.base == (uint32_t)gdt && p.limit == sizeof(gdt) - 1, "sgdt initial");

	/* A copy of the GDT, with one more data segment that points at
	 * marker[1]: loading its selector must use the new table. */
	memcpy(gdt2, gdt, sizeof(gdt));
	gdt2[SEL_TEST_DATA >> 3] = make_seg((uint32_t)&marker[1], 0xfff,
					    SEG_P | SEG_S | SEG_DATA_RW, SEG_DB);
	struct pseudo_desc p2 = { sizeof(gdt2) - 1, (uint32_t)gdt2 };
	lgdt(&p2);
	sgdt(&p);
	report(p.base == (uint32_t)gdt2 && p.limit == sizeof(gdt2) - 1, "lgdt then sgdt");
	write_fs(SEL_TEST_DATA);
	report_eq(read_fs0(), 0xcafe0001, "lgdt takes effect");
	write_fs(KERNEL_DS);

	struct pseudo_desc orig = { sizeof(gdt) - 1, (uint32_t)gdt };
	lgdt(&orig);
	sgdt(&p);
	report(p.base == (uint32_t)gdt && p.limit == sizeof(gdt) - 1, "lgdt restored");
}

static void test_idt(void)
{
	struct pseudo_desc p = { 0, 0 };
	sidt(&p);
	report(p.base == (uint32_t)idt && p.limit == sizeof(idt) - 1, "sidt initial");

	/* A copy of the IDT whose vector 0x41 goes to the stub of 0x42. */
	memcpy(idt2, idt, sizeof(idt));
	idt2[0x41] = make_gate(vector_stub(0x42), KERNEL_CS, GATE_INTR, 0, true);
	struct pseudo_desc p2 = { 0x4ff, (uint32_t)idt2 };
	lidt(&p2);
	sidt(&p);
	report(p.base == (uint32_t)idt2 && p.limit == 0x4ff, "lidt then sidt");
	ex_clear();
	__asm__ volatile(ASM_TRY("1f") "int $0x41\n1:" : : : "memory");
	report_eq(ex_last.vector, 0x42, "lidt takes effect");

	struct pseudo_desc orig = { sizeof(idt) - 1, (uint32_t)idt };
	lidt(&orig);
	sidt(&p);
	report(p.base == (uint32_t)idt && p.limit == sizeof(idt) - 1, "lidt restored");
}

static uint64_t ldt[2] __attribute__((aligned(8)));

static void test_ldt(void)
{
	report_eq(sldt(), 0, "sldt initial");
	ldt[0] = make_seg((uint32_t)&marker[2], 0xfff, SEG_P | SEG_S | SEG_DATA_RW, SEG_DB);
	gdt_set(LDT_SEL >> 3, make_seg((uint32_t)ldt, sizeof(ldt) - 1, SEG_P | SEG_LDT, 0));
	lldt(LDT_SEL);
	report_eq(sldt(), LDT_SEL, "lldt then sldt");
	write_fs(SEL_LDT_DATA);
	report_eq(read_fs0(), 0xcafe0002, "ldt segment");
	write_fs(KERNEL_DS);
	lldt(0);
	report_eq(sldt(), 0, "lldt 0");
	gdt_set(LDT_SEL >> 3, 0);
}

static struct tss tss2;

static unsigned desc_type(uint16_t sel)
{
	return (gdt[sel >> 3] >> 40) & 0xf;
}

static void test_tr(void)
{
	report_eq(str(), TSS_SEL, "str initial");
	report_eq(desc_type(TSS_SEL), SEG_TSS32_BUSY, "tss busy after ltr");

	/* ltr marks the new TSS busy; a busy one cannot be loaded again
	 * (SDM Vol. 2 LTR), so Linux clears the bit before reloading. */
	tss2 = tss;
	gdt_set(SEL_TSS2 >> 3, make_seg((uint32_t)&tss2, sizeof(tss2) - 1, SEG_P | SEG_TSS32, 0));
	ltr(SEL_TSS2);
	report_eq(str(), SEL_TSS2, "ltr then str");
	report_eq(desc_type(SEL_TSS2), SEG_TSS32_BUSY, "ltr sets busy");

	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: ltr %w1\n"
			 "2:"
			 : "=&r"(at) : "r"(TSS_SEL) : "memory");
	report_exception("ltr busy tss #GP", 13, TSS_SEL, at, KERNEL_CS);

	gdt[TSS_SEL >> 3] &= ~((uint64_t)2 << 40);	/* busy -> available */
	ltr(TSS_SEL);
	report_eq(str(), TSS_SEL, "ltr back");
	gdt_set(SEL_TSS2 >> 3, 0);
}

static void test_caches(void)
{
	REPORT_NO_FAULT("wbinvd", "wbinvd");
	REPORT_NO_FAULT("invd", "invd");
	REPORT_NO_FAULT("invlpg 0x200000", "invlpg");
}

static void test_msr(void)
{
	if (!(cpuid_features() & CPUID_SEP)) {
		report_skip("no sep in cpuid", "sysenter msrs");
		return;
	}
	uint64_t cs = rdmsr(MSR_SYSENTER_CS), esp = rdmsr(MSR_SYSENTER_ESP),
		 eip = rdmsr(MSR_SYSENTER_EIP);
	wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
	wrmsr(MSR_SYSENTER_ESP, 0x00345678);
	wrmsr(MSR_SYSENTER_EIP, 0x00123456);
	report(rdmsr(MSR_SYSENTER_CS) == KERNEL_CS, "sysenter_cs write/read");
	report(rdmsr(MSR_SYSENTER_ESP) == 0x00345678, "sysenter_esp write/read");
	report(rdmsr(MSR_SYSENTER_EIP) == 0x00123456, "sysenter_eip write/read");
	wrmsr(MSR_SYSENTER_CS, cs);
	wrmsr(MSR_SYSENTER_ESP, esp);
	wrmsr(MSR_SYSENTER_EIP, eip);
}

static void test_eflags(void)
{
	cli();
	report_eq(read_eflags() & EFLAGS_IF, 0, "cli clears if");
	sti();
	report_eq(read_eflags() & EFLAGS_IF, EFLAGS_IF, "sti sets if");
	/* popf of other bits leaves IF alone. */
	write_eflags(read_eflags() | EFLAGS_CF);
	report_eq(read_eflags() & (EFLAGS_IF | EFLAGS_CF), EFLAGS_IF | EFLAGS_CF,
		  "popf cf keeps if");
	cli();
	write_eflags(read_eflags() & ~EFLAGS_CF);
	report_eq(read_eflags() & (EFLAGS_IF | EFLAGS_CF), 0, "popf with if clear");
	report_eq(read_eflags() & EFLAGS_IOPL, 0, "iopl 0");
}

static void test_io(void)
{
	outb(PIC1_DATA, 0xfb);
	report_eq(inb(PIC1_DATA), 0xfb, "out/in pic1 mask");
	outb(PIC2_DATA, 0x5a);
	report_eq(inb(PIC2_DATA), 0x5a, "out/in pic2 mask");
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	report(inb(PIC1_DATA) == 0xff && inb(PIC2_DATA) == 0xff, "pic masks restored");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	test_cr0();
	test_cr2_cr3();
	test_cr4();
	test_dr();
	test_gdt();
	test_idt();
	test_ldt();
	test_tr();
	test_caches();
	test_msr();
	test_eflags();
	test_io();
	report_summary();
}
