/*
 * segments: the guest's GDT is the guest's to change, and a selector load
 * must use what the GDT holds at that moment.  Under the VMM the real GDT
 * is the VMM's copy of the guest's, so these check that the copy follows
 * the guest: a new descriptor, a rewritten base (what Linux does to the
 * TLS entries 6-8 on every context switch, straight in memory, before
 * reloading %gs), an expand-down segment, a new code segment.
 *
 * Not here: faults from segment limits and write permission (QEMU's TCG
 * does not check them on data accesses), and what a segment register
 * holds after its descriptor changed but before it is reloaded (a VMM
 * that reloads segments on every exit cannot keep the old one).
 */
#include "guests/lib/guest.h"

#define SEL_DATA  ((GDT_TEST_FIRST + 0) << 3)
#define SEL_DOWN  ((GDT_TEST_FIRST + 1) << 3)
#define SEL_CODE  ((GDT_TEST_FIRST + 2) << 3)
#define TLS_SEL(n) (((GDT_TLS_FIRST + (n)) << 3) | 3)	/* 0x33, 0x3b, 0x43 */

static uint32_t buf[4] = { 0x5e600000, 0x5e600001, 0x5e600002, 0x5e600003 };
static uint32_t tls_a[4] = { 0x7150000a, 0x7150001a, 0x7150002a, 0x7150003a };
static uint32_t tls_b[4] = { 0x7150000b, 0x7150001b, 0x7150002b, 0x7150003b };

static uint64_t data_seg(uint32_t base, unsigned dpl)
{
	return make_seg(base, 0xfff, SEG_P | SEG_DPL(dpl) | SEG_S | SEG_DATA_RW, SEG_DB);
}

static uint32_t fs_load32(uint32_t offset)
{
	uint32_t v;
	__asm__ volatile("movl %%fs:(%1), %0" : "=r"(v) : "r"(offset) : "memory");
	return v;
}

static uint32_t gs_load32(uint32_t offset)
{
	uint32_t v;
	__asm__ volatile("movl %%gs:(%1), %0" : "=r"(v) : "r"(offset) : "memory");
	return v;
}

/* Load sel into %ds just for one read at offset, then back to KERNEL_DS. */
static uint32_t read_via_ds(uint16_t sel, uint32_t offset)
{
	uint32_t v;
	__asm__ volatile("movl %2, %%ds\n\t"
			 "movl (%1), %0\n\t"
			 "movl %3, %%ds"
			 : "=&r"(v) : "r"(offset), "r"((uint32_t)sel), "r"(KERNEL_DS)
			 : "memory");
	return v;
}

static void test_new_descriptor(void)
{
	gdt_set(SEL_DATA >> 3, data_seg((uint32_t)buf, 0));
	report_eq(read_via_ds(SEL_DATA, 4), buf[1], "ds base offset");
	write_fs(SEL_DATA);
	report_eq(fs_load32(0), buf[0], "fs base offset");
	__asm__ volatile("movl %0, %%fs:8" : : "r"(0xabcd0002) : "memory");
	report_eq(buf[2], 0xabcd0002, "write via fs");

	/* Rewrite the base in memory, then reload: the new base counts. */
	gdt_set(SEL_DATA >> 3, data_seg((uint32_t)&buf[1], 0));
	write_fs(SEL_DATA);
	report_eq(fs_load32(0), buf[1], "base rewritten then reloaded");
	write_fs(KERNEL_DS);
	gdt_set(SEL_DATA >> 3, 0);
}

static void test_tls_kernel(void)
{
	for (unsigned n = 0; n < 3; n++) {
		gdt_set(GDT_TLS_FIRST + n, data_seg((uint32_t)&tls_a[n], 3));
		write_gs(TLS_SEL(n));
		uint32_t a = gs_load32(0);
		gdt_set(GDT_TLS_FIRST + n, data_seg((uint32_t)&tls_b[n], 3));
		write_gs(TLS_SEL(n));
		uint32_t b = gs_load32(0);
		report(a == tls_a[n] && b == tls_b[n], "tls entry %u rewritten and reloaded",
		       GDT_TLS_FIRST + n);
	}
	write_gs(KERNEL_DS);
}

static uint32_t user_read_tls(uint32_t sel)
{
	write_gs(sel);
	return gs_load32(0);
}

/* From user mode: load %gs, call the kernel (which rewrites the entry, the
 * way a context switch would), read %gs again.  The kernel's exit path
 * reloads %gs from the GDT (entry.S pops it), so the read sees the new
 * base. */
static void rewrite_tls(struct ex_regs *r)
{
	(void)r;
	gdt_set(GDT_TLS_FIRST, data_seg((uint32_t)tls_b, 3));
}

static uint32_t user_tls_across_syscall(uint32_t arg)
{
	(void)arg;
	write_gs(TLS_SEL(0));
	uint32_t before = gs_load32(0);
	__asm__ volatile("int $0x41" : : : "memory");
	uint32_t after = gs_load32(0);
	return before == tls_a[0] && after == tls_b[0];
}

static void test_tls_user(void)
{
	gdt_set(GDT_TLS_FIRST, data_seg((uint32_t)tls_a, 3));
	report_eq(run_in_user(user_read_tls, TLS_SEL(0)), tls_a[0], "user tls");
	gdt_set(GDT_TLS_FIRST, data_seg((uint32_t)tls_b, 3));
	report_eq(run_in_user(user_read_tls, TLS_SEL(0)), tls_b[0], "user tls after switch");

	gdt_set(GDT_TLS_FIRST, data_seg((uint32_t)tls_a, 3));
	handle_exception(0x41, rewrite_tls);
	idt_set_gate(0x41, GATE_INTR, 3);
	report_eq(run_in_user(user_tls_across_syscall, 0), 1, "user tls rewritten in syscall");
	idt_set_gate(0x41, GATE_INTR, 0);
	handle_exception(0x41, NULL);

	for (unsigned n = 0; n < 3; n++)
		gdt_set(GDT_TLS_FIRST + n, 0);
}

/* Expand-down: with limit L and B = 1, the valid offsets are L+1 to
 * 0xffffffff (SDM Vol. 3A §5.3), so base + 0x1000 is the first byte. */
static void test_expand_down(void)
{
	gdt_set(SEL_DOWN >> 3, make_seg((uint32_t)buf - 0x1000, 0xfff,
					SEG_P | SEG_S | SEG_DATA_RW_DOWN, SEG_DB));
	write_fs(SEL_DOWN);
	ex_clear();
	uint32_t v0 = fs_load32(0x1000), v3 = fs_load32(0x100c);
	report(ex_last.count == 0 && v0 == buf[0] && v3 == buf[3], "expand-down above limit");
	write_fs(KERNEL_DS);
	gdt_set(SEL_DOWN >> 3, 0);
}

/* A second flat code segment: after a far jump there, an exception's
 * frame shows the new CS, and a far return goes back to KERNEL_CS. */
static void test_code_segment(void)
{
	gdt_set(SEL_CODE >> 3, make_seg(0, 0xfffff, SEG_P | SEG_S | SEG_CODE_RX, SEG_G | SEG_DB));
	uint32_t at;
	ex_clear();
	__asm__ volatile("ljmp %1, $1f\n"
			 "1: movl $2f, %0\n\t"
			 ASM_TRY("2f")
			 "int3\n"
			 "2: pushl %2\n\t"
			 "pushl $3f\n\t"
			 "lret\n"
			 "3:"
			 : "=&r"(at) : "i"(SEL_CODE), "i"(KERNEL_CS) : "memory");
	report_exception("frame cs after ljmp", 3, 0, at, SEL_CODE);

	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t"
			 ASM_TRY("1f")
			 "int3\n"
			 "1:"
			 : "=&r"(at) : : "memory");
	report_exception("frame cs after lret", 3, 0, at, KERNEL_CS);
	gdt_set(SEL_CODE >> 3, 0);
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	test_new_descriptor();
	test_tls_kernel();
	test_tls_user();
	test_expand_down();
	test_code_segment();
	report_summary();
}
