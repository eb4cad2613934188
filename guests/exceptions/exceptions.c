/*
 * exceptions: each exception a kernel can raise in ring 0 arrives at its
 * IDT vector with the error code and frame the SDM (Vol. 3A ch. 6) says:
 * a fault's EIP is the faulting instruction, a trap's the one after it, and
 * CS in the frame is the kernel's 0x60.  Under the VMM the guest kernel
 * really runs in ring 3, so each of these is reflected by the VMM.
 *
 * Each test puts the address of the instruction it expects in the frame in
 * 'at' (a "movl $1f, %0" in front of it) and catches the exception with
 * ASM_TRY.  #PF needs paging and is tested elsewhere.  QEMU's TCG does not
 * check segment limits or write permission on data accesses, so the #GP and
 * #SS those raise on real hardware cannot be checked here.
 */
#include "guests/lib/guest.h"
#include "lib/format.h"

#define SEL_BEYOND_GDT   (GDT_ENTRIES << 3)		/* 0x100 */
#define SEL_NOT_PRESENT  (GDT_TEST_FIRST << 3)

#define EFLAGS_RF (1u << 16)

static void test_de(void)
{
	uint32_t at, a = 1, d = 0;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: divl %3\n"
			 "2:"
			 : "=&r"(at), "+a"(a), "+d"(d) : "r"(0) : "memory");
	report_exception("#DE div by zero", 0, 0, at, KERNEL_CS);
}

/* Single-stepping must end in the handler: TF stays set in the frame. */
static uint32_t db_dr6;
static void db_handler(struct ex_regs *r)
{
	ex_record(r);
	db_dr6 = read_dr6();
	write_dr6(0);
	r->eflags &= ~EFLAGS_TF;
}

static void test_db(void)
{
	uint32_t at;
	handle_exception(1, db_handler);
	write_dr6(0);
	ex_clear();
	/* The popf that sets TF does not trap; the nop after it does, so
	 * the frame points after the nop (SDM Vol. 3A §17.3.1.4). */
	__asm__ volatile("movl $1f, %0\n\t"
			 "pushfl\n\t"
			 "orl $0x100, (%%esp)\n\t"
			 "popfl\n\t"
			 "nop\n"
			 "1: nop"
			 : "=&r"(at) : : "memory");
	handle_exception(1, NULL);
	report_exception("#DB single step", 1, 0, at, KERNEL_CS);
	report((db_dr6 & (1u << 14)) != 0, "#DB dr6.bs");
}

static void test_bp(void)
{
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("1f")
			 "int3\n"
			 "1:"
			 : "=&r"(at) : : "memory");
	report_exception("#BP int3", 3, 0, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("1f")
			 "int $3\n"
			 "1:"
			 : "=&r"(at) : : "memory");
	report_exception("#BP int $3", 3, 0, at, KERNEL_CS);
}

static void test_of(void)
{
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 "movl $0x7fffffff, %%eax\n\t"
			 "addl $1, %%eax\n\t"	/* OF = 1 */
			 ASM_TRY("1f")
			 "into\n"
			 "1:"
			 : "=&r"(at) : : "eax", "memory", "cc");
	report_exception("#OF into", 4, 0, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("xorl %%eax, %%eax\n\t"	/* OF = 0 */
			 ASM_TRY("1f")
			 "into\n"
			 "1:"
			 : : : "eax", "memory", "cc");
	report_eq(ex_last.count, 0, "into without OF");
}

static void test_br(void)
{
	static const int32_t bounds[2] = { 0, 10 };
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: boundl %1, %2\n"
			 "2:"
			 : "=&r"(at) : "r"(20), "m"(bounds) : "memory");
	report_exception("#BR bound", 5, 0, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile(ASM_TRY("1f")
			 "boundl %0, %1\n"
			 "1:"
			 : : "r"(5), "m"(bounds) : "memory");
	report_eq(ex_last.count, 0, "bound in range");
}

static void test_ud(void)
{
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: ud2\n"
			 "2:"
			 : "=&r"(at) : : "memory");
	report_exception("#UD ud2", 6, 0, at, KERNEL_CS);
}

static void test_nm(void)
{
	uint32_t at, cr0 = read_cr0();
	write_cr0((cr0 & ~CR0_EM) | CR0_TS);
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: fninit\n"
			 "2:"
			 : "=&r"(at) : : "memory");
	__asm__ volatile("clts");
	report_exception("#NM fpu with cr0.ts", 7, 0, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile(ASM_TRY("1f") "fninit\n" "1:" : : : "memory");
	report_eq(ex_last.count, 0, "fpu after clts");
	write_cr0(cr0 & ~CR0_TS);
}

static void test_gp(void)
{
	uint32_t at;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ds\n"
			 "2:"
			 : "=&r"(at) : "r"(SEL_BEYOND_GDT) : "memory");
	report_exception("#GP ds beyond gdt limit", 13, SEL_BEYOND_GDT, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ds\n"
			 "2:"
			 : "=&r"(at) : "r"(TSS_SEL) : "memory");
	report_exception("#GP ds system descriptor", 13, TSS_SEL, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ss\n"
			 "2:"
			 : "=&r"(at) : "r"(0) : "memory");
	report_exception("#GP ss null", 13, 0, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: ljmp %1, $2f\n"
			 "2:"
			 : "=&r"(at) : "i"(KERNEL_DS) : "memory");
	report_exception("#GP ljmp to data segment", 13, KERNEL_DS, at, KERNEL_CS);

	/* An IDT limit that ends before the vector: error code is the
	 * vector's IDT slot with the IDT bit (SDM Vol. 3A §6.13). */
	struct pseudo_desc full, cut;
	sidt(&full);
	cut = full;
	cut.limit = 0x80 * 8 - 1;
	lidt(&cut);
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: int $0xa0\n"
			 "2:"
			 : "=&r"(at) : : "memory");
	lidt(&full);
	report_exception("#GP int beyond idt limit", 13, (0xa0 << 3) | 2, at, KERNEL_CS);
}

static void test_np(void)
{
	uint32_t at;
	gdt_set(SEL_NOT_PRESENT >> 3,
		make_seg(0, 0xfffff, SEG_S | SEG_DATA_RW, SEG_G | SEG_DB));
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ds\n"
			 "2:"
			 : "=&r"(at) : "r"(SEL_NOT_PRESENT) : "memory");
	report_exception("#NP ds not present", 11, SEL_NOT_PRESENT, at, KERNEL_CS);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ss\n"
			 "2:"
			 : "=&r"(at) : "r"(SEL_NOT_PRESENT) : "memory");
	report_exception("#SS ss not present", 12, SEL_NOT_PRESENT, at, KERNEL_CS);
	gdt_set(SEL_NOT_PRESENT >> 3, 0);

	uint64_t gate = idt[0x50];
	idt[0x50] = make_gate(vector_stub(0x50), KERNEL_CS, GATE_INTR, 0, false);
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: int $0x50\n"
			 "2:"
			 : "=&r"(at) : : "memory");
	idt[0x50] = gate;
	report_exception("#NP gate not present", 11, (0x50 << 3) | 2, at, KERNEL_CS);
}

static void test_mf(void)
{
	uint32_t at, cr0 = read_cr0();
	uint16_t cw = 0x037b;	/* the default 0x037f with divide-by-zero unmasked */
	write_cr0((cr0 & ~(CR0_EM | CR0_TS)) | CR0_NE | CR0_MP);
	ex_clear();
	__asm__ volatile("fninit\n\t"
			 "fldcw %1\n\t"
			 "fld1\n\t"
			 "fldz\n\t"
			 "fdivrp\n\t"		/* 1 / 0: pending, reported by the next wait */
			 "movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: fwait\n"
			 "2:\n\t"
			 "fninit"
			 : "=&r"(at) : "m"(cw) : "memory");
	write_cr0(cr0);
	report_exception("#MF x87 divide by zero", 16, 0, at, KERNEL_CS);
}

static void test_int_n(void)
{
	static const unsigned vectors[] = { 2, 0x20, 0x30, 0x41, 0x80, 0xff };
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint32_t at = 0;
		ex_clear();
		/* int takes an immediate: pick the instruction by vector. */
		switch (vectors[i]) {
#define INT_CASE(n) case n:						\
			__asm__ volatile("movl $1f, %0\n\t"		\
					 ASM_TRY("1f")			\
					 "int $" #n "\n"		\
					 "1:" : "=&r"(at) : : "memory");	\
			break;
		INT_CASE(2) INT_CASE(0x20) INT_CASE(0x30) INT_CASE(0x41)
		INT_CASE(0x80) INT_CASE(0xff)
#undef INT_CASE
		}
		char name[16];
		ksnprintf(name, sizeof(name), "int $0x%x", vectors[i]);
		report_exception(name, vectors[i], 0, at, KERNEL_CS);
	}
}

/* The frame itself: EFLAGS as it was before the fault, the frame right
 * below the interrupted stack pointer (no stack switch in ring 0). */
static void test_frame(void)
{
	uint32_t at, flags, esp;
	ex_clear();
	__asm__ volatile("stc\n\t"
			 "std\n\t"
			 "pushfl\n\t"
			 "popl %1\n\t"
			 "movl %%esp, %2\n\t"
			 "movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: ud2\n"
			 "2:\n\t"
			 "cld"
			 : "=&r"(at), "=&r"(flags), "=&r"(esp) : : "memory", "cc");
	report_eq(ex_last.eflags & ~EFLAGS_RF, flags, "frame eflags");
	report_eq(ex_last.frame, esp - 12, "frame on current stack");
}

/* A fault inside a handler: the inner one nests on the same stack, with
 * IF clear (the outer handler came in through an interrupt gate). */
static struct ex_record nested_inner;
static uint32_t nested_inner_at, nested_outer_eflags;

static void nested_ud_handler(struct ex_regs *r)
{
	nested_outer_eflags = r->eflags;
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("2f")
			 "1: movl %1, %%ds\n"
			 "2:"
			 : "=&r"(nested_inner_at) : "r"(SEL_BEYOND_GDT) : "memory");
	nested_inner = ex_last;
	r->eip += 2;	/* skip the ud2 */
}

static void test_nested(void)
{
	uint32_t resumed = 0;
	handle_exception(6, nested_ud_handler);
	sti();
	__asm__ volatile("ud2\n\t"
			 "movl $1, %0"
			 : "=r"(resumed) : : "memory");
	cli();
	handle_exception(6, NULL);
	ex_last = nested_inner;
	report_exception("nested #GP in #UD handler", 13, SEL_BEYOND_GDT,
			 nested_inner_at, KERNEL_CS);
	report_eq(nested_inner.depth, 2, "nested depth");
	report_eq(nested_outer_eflags & EFLAGS_IF, EFLAGS_IF, "nested outer frame if");
	report_eq(nested_inner.eflags & EFLAGS_IF, 0, "nested inner frame if");
	report_eq(resumed, 1, "nested outer resumes");
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)mbi;
	report_eq(magic, MULTIBOOT_BOOTLOADER_MAGIC, "multiboot magic");
	test_de();
	test_db();
	test_bp();
	test_of();
	test_br();
	test_ud();
	test_nm();
	test_gp();
	test_np();
	test_mf();
	test_int_n();
	test_frame();
	test_nested();
	report_summary();
}
