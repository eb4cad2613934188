/*
 * chaos_repro: minimal reproducers of what the chaos guests found, one per
 * word on the command line (./ringvisor run --kernel
 * build/guests/chaos_repro.elf --kernel-args WORD; "all" runs all but
 * rep-ins-big, v86-iret-user last since it ends the run).  Each checks what
 * the hardware does (natively every one passes).  Each found the VMM
 * failing, stopping the guest or panicking; those it now gets right are e2e
 * cases (guest-WORD in tests/e2e/cases.py), and those marked (open) still
 * differ under the VMM (README, Security).
 *
 *   farjmp-empty-user   ljmp to an empty GDT slot from user mode: #GP(sel)
 *   lcall-empty-user    lcall to an empty GDT slot from user mode: #GP(sel)
 *   farjmp-tss-user     ljmp to the TSS selector from user mode: #GP(sel)
 *   farjmp-empty-kernel ljmp to an empty GDT slot from the kernel: #GP(sel)
 *   iretw-user          a 16-bit iret from user mode, CS 0 on the stack: #GP(0)
 *   retfw-user          a 16-bit far ret from user mode, CS 0 on the stack: #GP(0)
 *   ljmp-eip-limit-user a far jump in user mode to a user code segment whose
 *                       limit is below the new EIP: #GP(0) at the ljmp
 *   ldt-high            a segment in LDT entry 300 loads and reads
 *   iobitmap-user       user out to a port the TSS I/O bitmap opens: no fault
 *   v86-iret-user       user iret with EFLAGS.VM set in the frame and CS 0x60
 *                       (cs=N for another): on this CPU (QEMU's TCG) that
 *                       enters virtual-8086 mode even at CPL 3; the next
 *                       fault (a #UD) must reach the guest, from V86 mode
 *   code-in-fs          a readable code segment (base 0x10000) loaded into
 *                       %fs in the kernel reads through its base
 *   ss16-kernel         the kernel on a 16-bit stack segment keeps ESP's
 *                       upper half across an exit (cli); the VMM's IRET
 *                       back gave it the VMM's upper half (arch/ia32/espfix.c)
 *   rpl3-data-kernel    the kernel loading a DPL 0 data segment with RPL 3
 *                       into %fs: #GP(sel) (open, and cannot be closed
 *                       while kernel segment loads run natively; README)
 *   pde-accessed        a read through a present PDE (A clear) to a PTE that
 *                       is not present: #PF, and the PDE's A bit is set (the
 *                       CPU used the PDE)
 *   rep-ins-big         (timing, not in "all") kernel rep insb of 16 MiB from
 *                       port 0x60, paging off: how long the one instruction
 *                       keeps the VMM busy (natively about a second in all)
 *   gate-np-ring1       user int n through a present DPL-3 gate to a ring-1
 *                       code segment that is not present: #NP(sel), not
 *                       #GP (the CPU checks presence before the ring)
 *   hc-gdt-index-wrap   RV_HC_SET_GDT_ENTRY with index 0x20000000 (index * 8
 *                       wraps to 0): EINVAL, like index 0 (only under the VMM)
 */
#include "guests/lib/chaos.h"
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define EMPTY_SEL    (1 << 3)			/* GDT entry 1: never filled */
#define EMPTY_SEL_20 (GDT_TEST_FIRST << 3)	/* entry 20: empty until a test */
#define SMALL_CS     (((GDT_TEST_FIRST + 1) << 3) | 3)

static uint32_t at, uesp;

/* ---- far transfers to system or empty descriptors ---- */

static uint32_t user_ljmp_empty(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: ljmp %1, $2f\n2:"
			 : "=&r"(at) : "i"(EMPTY_SEL) : "memory");
	return 0;
}

static uint32_t user_lcall_empty(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: lcall %1, $2f\n2:"
			 : "=&r"(at) : "i"(EMPTY_SEL) : "memory");
	return 0;
}

static uint32_t user_ljmp_tss(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: ljmp %1, $2f\n2:"
			 : "=&r"(at) : "i"(TSS_SEL) : "memory");
	return 0;
}

static void far_system(const char *word)
{
	if (strcmp(word, "farjmp-empty-kernel") == 0) {
		ex_clear();
		__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
				 "1: ljmp %1, $2f\n2:"
				 : "=&r"(at) : "i"(EMPTY_SEL_20) : "memory");
		report_exception("kernel ljmp to an empty gdt slot is #GP(sel)", 13,
				 EMPTY_SEL_20, at, KERNEL_CS);
		return;
	}
	user_fn fn = strcmp(word, "farjmp-empty-user") == 0 ? user_ljmp_empty :
		     strcmp(word, "lcall-empty-user") == 0 ? user_lcall_empty : user_ljmp_tss;
	uint32_t sel = fn == user_ljmp_tss ? TSS_SEL : EMPTY_SEL;
	ex_clear();
	run_in_user(fn, 0);
	report(ex_last.count == 1 && ex_last.vector == 13 && ex_last.error == sel &&
	       ex_last.eip == at && ex_last.cs == USER_CS,
	       "%s: #GP(0x%x) in user mode", word, sel);
}

/* ---- 16-bit returns ---- */

static uint32_t user_iretw(uint32_t arg)
{
	(void)arg;
	/* A 16-bit frame: IP, CS = 0, FLAGS. */
	__asm__ volatile("pushw $0x202\n\t"
			 "pushw $0\n\t"
			 "pushw $0\n\t"
			 "movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: .byte 0x66, 0xcf\n"
			 "2: addl $6, %%esp"
			 : "=&r"(at) : : "memory");
	return 0;
}

static uint32_t user_retfw(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("pushw $0\n\t"
			 "pushw $0\n\t"
			 "movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: .byte 0x66, 0xcb\n"
			 "2: addl $4, %%esp"
			 : "=&r"(at) : : "memory");
	return 0;
}

static void sixteen_bit(const char *word)
{
	ex_clear();
	run_in_user(strcmp(word, "iretw-user") == 0 ? user_iretw : user_retfw, 0);
	report(ex_last.count == 1 && ex_last.vector == 13 && ex_last.error == 0 &&
	       ex_last.eip == at && ex_last.cs == USER_CS,
	       "%s: #GP(0) in user mode", word);
}

/* ---- returns past the code segment's limit ---- */

static uint32_t user_ljmp_past_limit(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: ljmp %1, $2f\n2:"
			 : "=&r"(at) : "i"(SMALL_CS) : "memory");
	return 0;
}

static void past_limit(const char *word)
{
	gdt_set(SMALL_CS >> 3, make_seg(0, 0xfff, SEG_P | SEG_DPL(3) | SEG_S | SEG_CODE_RX,
					SEG_DB));
	ex_clear();
	run_in_user(user_ljmp_past_limit, 0);
	if (ex_last.count)
		detail("vector %u error 0x%x eip 0x%x (the ljmp is at 0x%x)", ex_last.vector,
		       ex_last.error, ex_last.eip, at);
	if (!ex_last.count)
		detail("no exception: the far jump went past the limit");
	report(ex_last.count == 1 && ex_last.vector == 13 && ex_last.error == 0 &&
	       ex_last.eip == at && ex_last.cs == USER_CS,
	       "%s: #GP(0) at the transfer", word);
	gdt_set(SMALL_CS >> 3, 0);
}

/* ---- LDT entries past the first 256 ---- */

static uint64_t big_ldt[512] __attribute__((aligned(8)));
static volatile uint32_t ldt_target = 0x1dea1dea;

static void ldt_high(void)
{
	/* Based at 0x10000, so a selector silently made null (base 0 in
	 * QEMU, which does not fault on null data selectors) reads elsewhere. */
	big_ldt[300] = make_seg(0x10000, 0xfffff, SEG_P | SEG_S | SEG_DATA_RW | SEG_ACCESSED,
				SEG_G | SEG_DB);
	big_ldt[10] = big_ldt[300];
	gdt_set(LDT_SEL >> 3, make_seg((uint32_t)big_ldt, sizeof(big_ldt) - 1,
				       SEG_P | SEG_LDT, 0));
	lldt(LDT_SEL);
	static const unsigned entries[] = { 10, 300 };
	for (unsigned i = 0; i < 2; i++) {
		uint32_t v = 0;
		ex_clear();
		__asm__ volatile(ASM_TRY("1f")
				 "movw %w1, %%fs\n\t"
				 "movl %%fs:(%2), %0\n"
				 "1: xorl %%ecx, %%ecx\n\t"
				 "movw %%cx, %%fs"
				 : "+r"(v) : "r"((entries[i] << 3) | 4),
				   "r"((uint32_t)&ldt_target - 0x10000)
				 : "ecx", "memory");
		if (ex_last.count)
			detail("vector %u error 0x%x", ex_last.vector, ex_last.error);
		report(ex_last.count == 0 && v == 0x1dea1dea, "read through ldt entry %u",
		       entries[i]);
	}
	lldt(0);
}

/* ---- the TSS I/O permission bitmap ---- */

static struct {
	struct tss t;
	uint8_t bitmap[0x400 / 8];	/* ports 0-0x3ff */
	uint8_t end;
} __attribute__((packed, aligned(16))) io_tss;

static uint32_t user_out80(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: outb %%al, $0x80\n2:"
			 : "=&r"(at) : : "eax", "memory");
	return 0;
}

static void iobitmap(void)
{
	io_tss.t = tss;
	io_tss.t.iomap_base = sizeof(struct tss);
	memset(io_tss.bitmap, 0xff, sizeof(io_tss.bitmap));
	io_tss.end = 0xff;
	io_tss.bitmap[0x80 / 8] &= (uint8_t)~(1u << (0x80 % 8));
	gdt_set(GDT_TEST_FIRST + 2, make_seg((uint32_t)&io_tss, sizeof(io_tss) - 1,
					     SEG_P | SEG_TSS32, 0));
	ltr((GDT_TEST_FIRST + 2) << 3);
	ex_clear();
	run_in_user(user_out80, 0);
	if (ex_last.count)
		detail("vector %u error 0x%x", ex_last.vector, ex_last.error);
	report(ex_last.count == 0, "user out to a port the tss bitmap opens");
}

/* ---- iret to virtual-8086 mode from user mode ---- */

#define V86_UD2 0x8000u		/* low memory: a ud2 for either outcome */

static void v86_handler(struct ex_regs *r)
{
	bool vm = (r->eflags >> 17) & 1;
	report(true, "user iret with VM: vector %u came back to the guest (%s)",
	       r->vector, vm ? "from virtual-8086 mode" : "in protected mode");
	report_summary();
}

static uint32_t user_iret_vm(uint32_t arg)
{
	(void)arg;
	uint32_t cs;
	__asm__ volatile("xorl %0, %0\n\tmovw %%cs, %w0" : "=r"(cs));
	cs = arg ? arg : cs;
	uint32_t ip = V86_UD2 - cs * 16;
	/* The same ud2 where a protected-mode return would go. */
	*(volatile uint16_t *)ip = 0x0b0f;
	__asm__ volatile("pushl $0\n\t"	/* gs */
			 "pushl $0\n\t"	/* fs */
			 "pushl $0\n\t"	/* ds */
			 "pushl $0\n\t"	/* es */
			 "pushl $0\n\t"	/* ss */
			 "pushl $0x7000\n\t"	/* esp */
			 "pushl $0x20202\n\t"	/* eflags: VM, IF */
			 "pushl %0\n\t"	/* cs */
			 "pushl %1\n\t"	/* eip */
			 "iret"
			 : : "r"(cs), "r"(ip) : "memory");
	return 0;
}

static uint32_t v86_cs;

static void v86_iret(void)
{
	*(volatile uint16_t *)V86_UD2 = 0x0b0f;
	static const unsigned vs[] = { 6, 13, 14 };
	for (unsigned i = 0; i < 3; i++)
		handle_exception(vs[i], v86_handler);
	run_in_user(user_iret_vm, v86_cs);
	report(false, "user iret with VM: came back without a fault");
}

/* ---- a readable code segment in %fs ---- */

static volatile uint32_t cs_target = 0xc0dec0de;

static void code_in_fs(void)
{
	gdt_set(GDT_TEST_FIRST + 3, make_seg(0x10000, 0xfffff, SEG_P | SEG_S | SEG_CODE_RX |
					     SEG_ACCESSED, SEG_G | SEG_DB));
	uint32_t v = 0;
	ex_clear();
	__asm__ volatile(ASM_TRY("1f")
			 "movw %w1, %%fs\n\t"
			 "movl %%fs:(%2), %0\n"
			 "1: xorl %%ecx, %%ecx\n\t"
			 "movw %%cx, %%fs"
			 : "+r"(v) : "r"((GDT_TEST_FIRST + 3) << 3),
			   "r"((uint32_t)&cs_target - 0x10000) : "ecx", "memory");
	if (ex_last.count)
		detail("vector %u error 0x%x", ex_last.vector, ex_last.error);
	else if (v != 0xc0dec0de)
		detail("read 0x%x: not through the segment's base", v);
	report(ex_last.count == 0 && v == 0xc0dec0de, "read through a code segment in %%fs");
}

/* ---- a 16-bit stack segment in the kernel ---- */

static void ss16_kernel(void)
{
	gdt_set(GDT_TEST_FIRST + 4, make_seg(0, 0xfffff, SEG_P | SEG_S | SEG_DATA_RW |
					     SEG_ACCESSED, SEG_G));	/* B = 0 */
	uint32_t before, after;
	__asm__ volatile("movl %%esp, %0\n\t"
			 "movw %w2, %%ss\n\t"
			 "cli\n\t"		/* an exit under the VMM */
			 "movw %w3, %%ss\n\t"
			 "movl %%esp, %1"
			 : "=&r"(before), "=&r"(after)
			 : "r"((GDT_TEST_FIRST + 4) << 3), "r"(KERNEL_DS) : "memory");
	if (before != after)
		detail("esp 0x%x before, 0x%x after", before, after);
	report(before == after, "esp survives a 16-bit stack segment in the kernel");
}

/* ---- RPL 3 on a kernel data segment, from the kernel ---- */

static void rpl3_data_kernel(void)
{
	ex_clear();
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movw %w1, %%fs\n"
			 "2: xorl %%ecx, %%ecx\n\t"
			 "movw %%cx, %%fs"
			 : "=&r"(at) : "r"(KERNEL_DS | 3) : "ecx", "memory");
	report_exception("kernel load of a dpl 0 data segment with rpl 3 is #GP(sel)", 13,
			 KERNEL_DS, at, KERNEL_CS);
}

/* ---- the accessed bit of a PDE whose page table refuses ---- */

static void pde_accessed(void)
{
	pte_t *pd = identity_pd(false);
	map_page(pd, 0x40000000u, 0x00800000u, PTE_W);
	unmap_page(pd, 0x40000000u);		/* the PTE: not present */
	*get_pde(pd, 0x40000000u) &= ~PTE_A;
	pf_install(NULL, 0);
	enable_paging(pd);
	pf_clear();
	uint32_t v = 0;
	__asm__ volatile(ASM_TRY("1f") "movl (%1), %0\n1:"
			 : "+r"(v) : "r"(0x40000000u) : "memory");
	uint32_t pde = *get_pde(pd, 0x40000000u);
	disable_paging();
	report(pf_last.count == 1 && pf_last.error == 0, "read through a missing pte is #PF");
	report((pde & PTE_A) != 0, "the pde used for it is marked accessed");
}

/* ---- one long rep ins ---- */

static void rep_ins_big(void)
{
	uint32_t t0 = (uint32_t)rdmsr(0x10);
	__asm__ volatile("cld\n\trep insb"
			 : : "D"(0x01000000u), "c"(16u << 20), "d"(0x60) : "memory");
	uint32_t t1 = (uint32_t)rdmsr(0x10);
	printf("rep insb of 16 MiB: %u Mticks\n", (t1 - t0) >> 20);
	report(true, "rep insb of 16 MiB finished");
}

/* ---- a gate to a not-present ring-1 code segment ---- */

#define RING1_CS    ((GDT_TEST_FIRST + 5) << 3)
#define RING1_VEC   0x41

static uint32_t user_int_ring1(uint32_t arg)
{
	(void)arg;
	__asm__ volatile("movl $1f, %0\n\t" ASM_TRY("2f")
			 "1: int %1\n2:"
			 : "=&r"(at) : "i"(RING1_VEC) : "memory");
	return 0;
}

static void gate_np_ring1(void)
{
	/* From user mode, so that DPL 1 <= CPL passes and presence is next
	 * (from the kernel, DPL 1 > CPL 0 is #GP first). */
	uint64_t saved = idt[RING1_VEC];
	gdt_set(RING1_CS >> 3, make_seg(0, 0xfffff, SEG_DPL(1) | SEG_S | SEG_CODE_RX,
					SEG_G | SEG_DB));	/* not present */
	idt[RING1_VEC] = make_gate(vector_stub(RING1_VEC), RING1_CS, 0xe, 3, true);
	ex_clear();
	run_in_user(user_int_ring1, 0);
	if (ex_last.count)
		detail("vector %u error 0x%x", ex_last.vector, ex_last.error);
	report(ex_last.count == 1 && ex_last.vector == 11 && ex_last.error == RING1_CS &&
	       ex_last.eip == at && ex_last.cs == USER_CS,
	       "user int n to a not-present ring-1 code segment is #NP(sel)");
	idt[RING1_VEC] = saved;
	gdt_set(RING1_CS >> 3, 0);
}

/* ---- the GDT-entry hypercall's index check ---- */

static void hc_index_wrap(void)
{
	uint32_t ret = 0;
	uint64_t saved = gdt[0];
	handle_exception(0x1f, NULL);
	ex_clear();
	__asm__ volatile(ASM_TRY("1f") "int $0x1f\n1:"
			 : "=a"(ret) : "a"(7), "b"(0x20000000u), "c"(0x1234), "d"(0x00cf9300)
			 : "memory");
	if (ex_last.count) {
		report_skip("no ringvisor VMM", "hc-gdt-index-wrap");
		return;
	}
	if (gdt[0] != saved)
		detail("entry 0 is now 0x%08x%08x", (uint32_t)(gdt[0] >> 32), (uint32_t)gdt[0]);
	report(ret == (uint32_t)-2 && gdt[0] == saved,
	       "set gdt entry 0x20000000 is refused (returned %d)", (int)ret);
	gdt[0] = saved;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	const char *cmd = chaos_cmdline(mbi);
	v86_cs = chaos_arg_number(cmd, "cs", KERNEL_CS);
	static const char *const words[] = {
		"farjmp-empty-user", "lcall-empty-user", "farjmp-tss-user",
		"farjmp-empty-kernel", "iretw-user", "retfw-user",
		"ljmp-eip-limit-user", "ldt-high", "iobitmap-user", "code-in-fs",
		"ss16-kernel", "rpl3-data-kernel", "hc-gdt-index-wrap", "pde-accessed",
		"gate-np-ring1", "rep-ins-big", "v86-iret-user",
	};
	bool all = chaos_flag(cmd, "all"), any = false;
	(void)uesp;
	for (unsigned i = 0; i < sizeof(words) / sizeof(*words); i++) {
		const char *w = words[i];
		if (all ? strcmp(w, "rep-ins-big") == 0 : !chaos_flag(cmd, w))
			continue;
		any = true;
		printf("chaos_repro: %s\n", w);
		if (strncmp(w, "farjmp", 6) == 0 || strncmp(w, "lcall", 5) == 0)
			far_system(w);
		else if (strcmp(w, "iretw-user") == 0 || strcmp(w, "retfw-user") == 0)
			sixteen_bit(w);
		else if (strcmp(w, "ljmp-eip-limit-user") == 0)
			past_limit(w);
		else if (strcmp(w, "ldt-high") == 0)
			ldt_high();
		else if (strcmp(w, "iobitmap-user") == 0)
			iobitmap();
		else if (strcmp(w, "code-in-fs") == 0)
			code_in_fs();
		else if (strcmp(w, "ss16-kernel") == 0)
			ss16_kernel();
		else if (strcmp(w, "rpl3-data-kernel") == 0)
			rpl3_data_kernel();
		else if (strcmp(w, "hc-gdt-index-wrap") == 0)
			hc_index_wrap();
		else if (strcmp(w, "v86-iret-user") == 0)
			v86_iret();
		else if (strcmp(w, "pde-accessed") == 0)
			pde_accessed();
		else if (strcmp(w, "rep-ins-big") == 0)
			rep_ins_big();
		else if (strcmp(w, "gate-np-ring1") == 0)
			gate_np_ring1();
	}
	if (!any)
		report_skip("name a reproducer on the command line", "chaos_repro");
	report_summary();
}
