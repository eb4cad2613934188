/*
 * The #GP emulator and event delivery, run on the host over a simulated
 * guest (tests/unit/support/fake_vmm.c): each privileged instruction does
 * to the virtual CPU what the CPU would have done in ring 0, and hostile
 * byte sequences never crash the VMM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arch.h"
#include "core/emulate.h"
#include "core/mmu.h"
#include "core/pagewalk.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "ringvisor/hypercall.h"
#include "tests/unit/support/fake_vmm.h"

#define CODE(...) do { const uint8_t b_[] = { __VA_ARGS__ }; fake_code(b_, sizeof(b_)); } while (0)

/* Emulate the #GP at EIP (error code 0); returns EMULATED or RAISE, or -1
 * when the guest was stopped (fake_end says how). */
static int run_gp(struct event *raise)
{
	fake_end = FAKE_RUNNING;
	if (setjmp(fake_stop))
		return -1;
	return emulate_gp(&fake_vcpu, 0, raise);
}

/* Deliver e, as the exit loop would; a stop of the guest just ends it. */
static void deliver_or_stop(struct event e)
{
	if (setjmp(fake_stop) == 0)
		deliver_event(&fake_vcpu, e);
}

static uint32_t u32_at(uint32_t gpa)
{
	uint32_t v;
	memcpy(&v, fake_ram + gpa, 4);
	return v;
}

static int setup(void **state)
{
	(void)state;
	fake_reset();
	return 0;
}

static void test_cli_sti(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.vif = 1;
	CODE(0xfa);					/* cli */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.vif, 0);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 1);
	CODE(0xfb, 0x90);				/* sti; nop */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.vif, 1);
	/* The nop is in the shadow; no step yet (one starts only if an
	 * interrupt comes before the nop has run: core/guest.c). */
	assert_int_equal(fake_vcpu.sti_shadow, 1);
	assert_int_equal(fake_vcpu.sti_shadow_eip, FAKE_CODE + 1);
	assert_int_equal(fake_vcpu.step_reasons, 0);
}

static void test_sti_hlt_is_one_step(void **state)
{
	(void)state;
	struct event e;
	CODE(0xfb, 0xf4);				/* sti; hlt */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_true(fake_vcpu.vif && fake_vcpu.halted);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 2);
	assert_int_equal(fake_vcpu.step_reasons, 0);
}

static void test_sti_with_an_interrupt_waiting_steps(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.pending_irqs[1] = 1;		/* IRQ 0 at real vector 32 */
	CODE(0xfb, 0x90);				/* sti; nop */
	assert_int_equal(run_gp(&e), EMULATED);
	/* The VMM must be back after the nop to deliver it: a real step. */
	assert_int_equal(fake_vcpu.step_reasons, STEP_STI_SHADOW);
	assert_int_equal(fake_vcpu.step_eip, FAKE_CODE + 1);
	assert_int_equal(fake_vcpu.sti_shadow, 0);
}

static void test_sti_sysexit_is_one_step(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.sysenter_cs = 0x60;		/* user CS 0x73, SS 0x7b */
	fake_regs.edx = 0x08048000;		/* user EIP */
	fake_regs.ecx = 0xbffff000;		/* user ESP */
	CODE(0xfb, 0x0f, 0x35);				/* sti; sysexit */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_true(fake_vcpu.vif);
	assert_int_equal(fake_vcpu.vpl, VPL_USER);
	assert_int_equal(fake_regs.eip, 0x08048000);
	assert_int_equal(fake_regs.esp, 0xbffff000);
	assert_int_equal(fake_vcpu.step_reasons, 0);
}

static void test_sti_before_a_faulting_sysexit_is_a_shadow(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.sysenter_cs = 0;		/* sysexit will #GP at its own EIP */
	CODE(0xfb, 0x0f, 0x35);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_true(fake_vcpu.vif);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 1);
	assert_int_equal(fake_vcpu.sti_shadow, 1);
}

static void test_hlt_with_interrupts_off_powers_off(void **state)
{
	(void)state;
	struct event e;
	CODE(0xf4);
	assert_int_equal(run_gp(&e), -1);
	assert_int_equal(fake_end, FAKE_HALTED);
}

static void test_mov_cr_round_trip(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = 0x12345000;
	CODE(0x0f, 0x22, 0xd8);				/* mov %eax, %cr3 */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.cr3, 0x12345000);
	CODE(0x0f, 0x20, 0xd9);				/* mov %cr3, %ecx */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.ecx, 0x12345000);
	fake_regs.eax = 1u << 30;			/* a reserved CR4 bit */
	CODE(0x0f, 0x22, 0xe0);				/* mov %eax, %cr4 */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
}

static void test_paging_on_flushes_shadows(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = 0x80000011;
	CODE(0x0f, 0x22, 0xc0);				/* mov %eax, %cr0 */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_true(vmem_paging_on(&fake_vcpu));
	assert_int_equal(fake_tlb_flushes, 1);
}

static void test_lgdt_sgdt_and_mirroring(void **state)
{
	(void)state;
	struct event e;
	uint8_t pseudo[6] = { 0xff, 0x00, 0x00, 0x10, 0x00, 0x00 };	/* 0x1000/0xff */
	memcpy(fake_ram + 0x5000, pseudo, 6);
	fake_regs.ebx = 0x5000;
	CODE(0x0f, 0x01, 0x13);				/* lgdt (%ebx) */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.gdtr.base, FAKE_GDT);
	assert_int_equal(fake_vcpu.gdtr.limit, 0xff);
	assert_int_not_equal(fake_gdt_mirror[12], 0);	/* the kernel CS was mirrored */
	fake_regs.ebx = 0x6000;
	CODE(0x0f, 0x01, 0x03);				/* sgdt (%ebx) */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_memory_equal(fake_ram + 0x6000, pseudo, 6);
}

static void test_cr4_features_the_vmm_lacks_are_gp(void **state)
{
	(void)state;
	struct event e;
	static const uint32_t lacking[] = {
		1u << 0, 1u << 1,	/* VME, PVI: no virtual-8086 support */
		1u << 5,		/* PAE paging */
		1u << 18,		/* OSXSAVE */
		1u << 20, 1u << 21,	/* SMEP, SMAP: the kernel runs in ring 3 */
	};
	for (unsigned i = 0; i < sizeof(lacking) / sizeof(*lacking); i++) {
		fake_regs.eax = lacking[i];
		CODE(0x0f, 0x22, 0xe0);			/* mov %eax, %cr4 */
		if (run_gp(&e) != RAISE || e.vector != VEC_GP)
			fail_msg("CR4 bit 0x%x was accepted", lacking[i]);
	}
	fake_regs.eax = 0x00000e98;	/* TSD-less set Linux uses: PSE PGE OSFXSR OSXMMEXCPT UMIP DE */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.cr4, 0x00000e98);
}

static void test_msrs(void **state)
{
	(void)state;
	struct event e;
	fake_regs.ecx = 0x277;				/* PAT: its reset value */
	CODE(0x0f, 0x32);				/* rdmsr */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0x00070406);
	assert_int_equal(fake_regs.edx, 0x00070406);
	fake_regs.eax = 0x01010101;
	fake_regs.edx = 0x06060606;
	CODE(0x0f, 0x30);				/* wrmsr */
	assert_int_equal(run_gp(&e), EMULATED);
	fake_regs.eax = fake_regs.edx = 0;
	CODE(0x0f, 0x32);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0x01010101);
	assert_int_equal(fake_regs.edx, 0x06060606);
	/* An MSR the VMM does not keep: reads 0, a write goes nowhere. */
	fake_regs.ecx = 0xc0010117;
	fake_regs.eax = fake_regs.edx = 0xffffffff;
	CODE(0x0f, 0x30);
	assert_int_equal(run_gp(&e), EMULATED);
	CODE(0x0f, 0x32);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0);
	assert_int_equal(fake_regs.edx, 0);
	/* The TSC is the CPU's. */
	fake_regs.ecx = 0x10;
	CODE(0x0f, 0x32);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0x23456789);
	assert_int_equal(fake_regs.edx, 0x1);
}

static void test_umip_follows_the_guest_cr4(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.vpl = VPL_USER;
	fake_regs.ebx = 0x6000;
	CODE(0x0f, 0x01, 0x03);				/* sgdt (%ebx) */
	fake_vcpu.cr4 = 0;		/* the guest did not ask for UMIP */
	assert_int_equal(run_gp(&e), EMULATED);
	CODE(0x0f, 0x01, 0x03);
	fake_vcpu.cr4 = 1u << 11;	/* it did: user mode's sgdt faults */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
}

static void test_boot_selectors_are_flat_before_lgdt(void **state)
{
	(void)state;
	uint64_t raw;
	fake_vcpu.gdtr = (struct descriptor_table){ 0, 0 };
	assert_int_equal(vmem_descriptor(&fake_vcpu, 0x10, &raw), 0);
	assert_true(raw == 0x00cf9a000000ffffull);
	assert_int_equal(vmem_descriptor(&fake_vcpu, 0x18, &raw), 0);
	assert_true(raw == 0x00cf92000000ffffull);
	assert_int_equal(vmem_descriptor(&fake_vcpu, 0x20, &raw), -1);
}

static void test_descriptor_table_store_is_emulated_and_mirrored(void **state)
{
	(void)state;
	/* mov %eax, 0x34(%ebx): the high word of GDT entry 6 (a TLS slot). */
	uint32_t entry6_hi = FAKE_GDT + 6 * 8 + 4;
	fake_regs.ebx = FAKE_GDT;
	fake_regs.eax = 0x00cff300;		/* present DPL 3 data, base 0 */
	memcpy(fake_ram + FAKE_GDT + 6 * 8, "\xff\xff\x00\x00", 4);
	CODE(0x89, 0x43, 0x34);
	fake_gdt_mirror[6] = 0;
	assert_int_equal(emulate_table_store(&fake_vcpu, entry6_hi, entry6_hi), 0);
	assert_int_equal(u32_at(entry6_hi), 0x00cff300);
	assert_int_not_equal(fake_gdt_mirror[6], 0);	/* mirrored again */
	assert_int_equal(fake_regs.eip, FAKE_CODE + 3);

	/* mov %eax, moffs32 (a3): how Linux's load_TLS writes the GDT. */
	fake_regs.eax = 0x00cff200;		/* the same, DPL 1 */
	fake_gdt_mirror[6] = 0;
	CODE(0xa3, (uint8_t)entry6_hi, (uint8_t)(entry6_hi >> 8),
	     (uint8_t)(entry6_hi >> 16), (uint8_t)(entry6_hi >> 24));
	assert_int_equal(emulate_table_store(&fake_vcpu, entry6_hi, entry6_hi), 0);
	assert_int_equal(u32_at(entry6_hi), 0x00cff200);
	assert_int_not_equal(fake_gdt_mirror[6], 0);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 5);

	/* Not the faulting address, or not a plain store: left to the step. */
	CODE(0x89, 0x43, 0x34);
	assert_int_equal(emulate_table_store(&fake_vcpu, entry6_hi + 4, entry6_hi + 4), -1);
	CODE(0x01, 0x43, 0x34);				/* add %eax, 0x34(%ebx) */
	assert_int_equal(emulate_table_store(&fake_vcpu, entry6_hi, entry6_hi), -1);
	fake_vcpu.vpl = VPL_USER;
	CODE(0x89, 0x43, 0x34);
	assert_int_equal(emulate_table_store(&fake_vcpu, entry6_hi, entry6_hi), -1);
}

/* Paging on, the first 4 MiB identity-mapped (user, writable, A and D
 * set) by a directory at 0x20000 and a table at 0x21000. */
#define IDENT_PT 0x21000u
static void identity_paging(void)
{
	uint32_t pde = IDENT_PT | 0x67;
	memcpy(fake_ram + 0x20000, &pde, 4);
	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t pte = i << 12 | 0x67;
		memcpy(fake_ram + IDENT_PT + i * 4, &pte, 4);
	}
	fake_vcpu.cr3 = 0x20000;
	fake_vcpu.cr0 |= 0x80000000u;
}

/* A store fault by the kernel at va, as guest_exit takes it: the fast path
 * first; 1 if it took it. */
static int store_fault(uint32_t va)
{
	fake_regs.error = PF_PRESENT | PF_WRITE | PF_USER;
	if (mmu_fast_table_store(&fake_vcpu, va))
		return 1;
	mmu_page_fault(&fake_vcpu, va, fake_regs.error);
	return 0;
}

static void test_fast_table_store_repeats_an_emulated_store(void **state)
{
	(void)state;
	identity_paging();
	mmu_protect_tables(&fake_vcpu);
	/* mov %ecx, (%eax); mov %ecx, 4(%eax): GDT entry 6, both words. */
	CODE(0x89, 0x08, 0x89, 0x48, 0x04);
	mmu_page_fault(&fake_vcpu, FAKE_CODE, PF_USER);	/* the fetch's fill */
	fake_regs.eax = FAKE_GDT + 6 * 8;
	fake_regs.ecx = 0x0000ffff;
	assert_int_equal(store_fault(FAKE_GDT + 6 * 8), 0);	/* the general way */
	assert_int_equal(fake_vcpu.store_page_va, FAKE_GDT);
	fake_regs.ecx = 0x00cff300;
	assert_int_equal(store_fault(FAKE_GDT + 6 * 8 + 4), 1);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 5);
	assert_true(fake_gdt_mirror[6] == 0x00cff3000000ffffull);
}

/*
 * Linux's load_TLS, comparing before it stores (the guest patch), stores
 * through a SIB byte with no base: mov %eax, disp32(,%ecx,8).  The fast
 * path takes that form too, and a based SIB one, and stops exactly after
 * the instruction.
 */
static void test_fast_table_store_with_a_sib_byte(void **state)
{
	(void)state;
	identity_paging();
	mmu_protect_tables(&fake_vcpu);
	/* mov %eax, disp32(,%ecx,8); mov %edx, disp32+4(,%ecx,8);
	 * mov %eax, 0(%ebx,%ecx,8) [mod 1, disp8 0] */
	uint32_t disp = FAKE_GDT + 6 * 8 - 2 * 8;
	uint32_t disp_hi = disp + 4;
	CODE(0x89, 0x04, 0xcd, disp & 0xff, (disp >> 8) & 0xff, (disp >> 16) & 0xff, disp >> 24,
	     0x89, 0x14, 0xcd, disp_hi & 0xff, (disp_hi >> 8) & 0xff, (disp_hi >> 16) & 0xff,
	     disp_hi >> 24,
	     0x89, 0x44, 0xcb, 0x00);
	mmu_page_fault(&fake_vcpu, FAKE_CODE, PF_USER);	/* the fetch's fill */
	fake_regs.ecx = 2;
	fake_regs.eax = 0x0000ffff;
	fake_regs.edx = 0x00cff300;
	assert_int_equal(store_fault(FAKE_GDT + 6 * 8), 0);	/* the general way */
	assert_int_equal(fake_vcpu.store_page_va, FAKE_GDT);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 7);
	assert_int_equal(store_fault(FAKE_GDT + 6 * 8 + 4), 1);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 14);
	assert_true(fake_gdt_mirror[6] == 0x00cff3000000ffffull);
	/* Based: EBX + ECX * 8, entry 7's low word. */
	fake_regs.ebx = FAKE_GDT + 7 * 8 - 2 * 8;
	fake_regs.eax = 0x0000ffff;
	assert_int_equal(store_fault(FAKE_GDT + 7 * 8), 1);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 18);
	/* The computed address must be the faulting one, or it is not taken. */
	fake_regs.eip = FAKE_CODE + 14;
	fake_regs.ebx += 8;
	assert_int_equal(mmu_fast_table_store(&fake_vcpu, FAKE_GDT + 7 * 8), 0);
}

/*
 * Found by fuzz_fastpath (corpus regress-table-store-gdt-alias): a GDT
 * whose first 32 entries span two pages, the second mapped by the guest
 * onto the first one's frame.  A store into that frame is then also a
 * store into entries on the second page; mmu_fast_table_store mirrored
 * only the ones it finds from the GDT's first page, leaving entry 18's
 * mirror stale where the general path (ring_mirror_written) mirrors it.
 * Such a GDT page is not remembered for the fast path any more.
 */
static void test_fast_table_store_not_on_a_gdt_mapped_twice(void **state)
{
	(void)state;
	identity_paging();
	uint32_t alias = 0x1000 | 0x67;		/* linear 0x2000 -> frame 0x1000 */
	memcpy(fake_ram + IDENT_PT + 2 * 4, &alias, 4);
	fake_vcpu.gdtr = (struct descriptor_table){ 0x1f80, 0xff };
	mmu_protect_tables(&fake_vcpu);
	/* mov %ecx, (%eax) into entry 2; mov %ecx, 0x1010: entry 18's low
	 * word, through frame 0x1000 that linear 0x2000 maps too. */
	CODE(0x89, 0x08, 0x89, 0x0d, 0x10, 0x10, 0x00, 0x00);
	mmu_page_fault(&fake_vcpu, FAKE_CODE, PF_USER);
	fake_regs.eax = 0x1f90;
	fake_regs.ecx = 0x0000ffff;
	assert_int_equal(store_fault(0x1f90), 0);
	assert_int_equal(fake_vcpu.store_page_va, 0);	/* not remembered */
	assert_int_equal(store_fault(0x1010), 0);	/* so not the fast path */
	assert_int_equal(fake_regs.eip, FAKE_CODE + 8);
	assert_true((uint32_t)fake_gdt_mirror[18] == 0x0000ffff);
}

/*
 * Found by fuzz_fastpath (a timeout; corpus regress-table-store-below-gdt):
 * with the GDT's base not page-aligned, a remembered store a few bytes
 * below it made mmu_fast_table_store's entry loop count from an offset
 * that had wrapped below zero up through 2^32, half a billion turns in
 * one exit; and a store straddling the base did not mirror entry 0, as
 * the general path does.
 */
static void test_fast_table_store_below_the_gdt_base(void **state)
{
	(void)state;
	identity_paging();
	fake_vcpu.gdtr = (struct descriptor_table){ FAKE_GDT + 0x10, 0xff };
	mmu_protect_tables(&fake_vcpu);
	/* mov %ecx, (%eax) into entry 6, to remember the page; then
	 * mov %ecx, 0x1008 (wholly below the base) and 0x100e (its last two
	 * bytes the first two of entry 0). */
	CODE(0x89, 0x08, 0x89, 0x0d, 0x08, 0x10, 0x00, 0x00,
	     0x89, 0x0d, 0x0e, 0x10, 0x00, 0x00);
	mmu_page_fault(&fake_vcpu, FAKE_CODE, PF_USER);
	fake_regs.eax = FAKE_GDT + 0x10 + 6 * 8;
	assert_int_equal(store_fault(FAKE_GDT + 0x10 + 6 * 8), 0);
	assert_int_equal(fake_vcpu.store_page_va, FAKE_GDT);
	fake_regs.ecx = 0xaabbccdd;
	assert_int_equal(store_fault(FAKE_GDT + 8), 1);
	assert_int_equal(u32_at(FAKE_GDT + 8), 0xaabbccdd);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 8);
	assert_int_equal(store_fault(FAKE_GDT + 0xe), 1);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 14);
	assert_true((uint16_t)fake_gdt_mirror[0] == 0xaabb);
}

/* Found by fuzzing (tests/fuzz/crashes/emulate-ins-into-gdt-unmirrored):
 * an emulated instruction storing into the guest's GDT page (here sgdt;
 * the fuzzer used ins) changed descriptors the mirror never saw.  Such a
 * store is now noted, for the exit path to mirror the tables again. */
static void test_emulated_store_to_a_table_page_is_noted(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.protected_pages[0] = FAKE_GDT & ~0xfffu;
	fake_vcpu.nprotected = 1;
	fake_regs.ebx = FAKE_GDT + 6 * 8;
	CODE(0x0f, 0x01, 0x03);				/* sgdt (%ebx) */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.tables_written, 1);
	fake_vcpu.tables_written = 0;
	fake_regs.ebx = 0x6000;				/* not a table page */
	CODE(0x0f, 0x01, 0x03);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.tables_written, 0);
}

static void test_out_to_exit_port_shuts_down(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = 0x10 + 1;
	CODE(0xe6, 0xf4);				/* out %al, $0xf4 */
	assert_int_equal(run_gp(&e), -1);
	assert_int_equal(fake_end, FAKE_SHUTDOWN);
	assert_int_equal(fake_shutdown_status, 1);
}

static void test_keyboard_controller_reset_ends_the_guest(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = 0xfe;
	CODE(0xe6, 0x64);				/* out %al, $0x64 */
	assert_int_equal(run_gp(&e), -1);
	assert_int_equal(fake_end, FAKE_RESET);
	fake_regs.eax = 0xd1;				/* another command: nothing */
	CODE(0xe6, 0x64);
	assert_int_equal(run_gp(&e), EMULATED);
}

/* Noted by the fuzzing helper: a rep ins with a huge count ran whole in
 * one exit.  It now runs in chunks, EIP staying on it until done. */
static void test_rep_ins_runs_in_chunks(void **state)
{
	(void)state;
	struct event e;
	fake_regs.ecx = 3000;
	fake_regs.edi = 0x10000;
	fake_regs.edx = 0x60;			/* nothing there: reads 0xff */
	CODE(0xf3, 0x6c);				/* rep insb */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.ecx, 3000 - 1024);
	assert_int_equal(fake_regs.eip, FAKE_CODE);	/* again, later */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.ecx, 0);
	assert_int_equal(fake_regs.edi, 0x10000 + 3000);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 2);
	assert_int_equal(fake_ram[0x10000 + 2999], 0xff);
	assert_int_equal(fake_ram[0x10000 + 3000], 0);
}

static void test_in_from_absent_port(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = 0xaabbccdd;
	fake_regs.edx = 0x1234;
	CODE(0x66, 0xed);				/* in (%dx), %ax */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0xaabbffff);	/* the bus floats high */
}

static void test_privileged_from_user_mode_is_gp(void **state)
{
	(void)state;
	struct event e;
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.vif = 1;
	/* A TSS without an I/O bitmap: its map offset past the limit (with
	 * offset 0 the map would be the TSS's first bytes, and open ports). */
	uint16_t no_map = 0x68;
	memcpy(fake_ram + FAKE_TSS + 0x66, &no_map, 2);
	const uint8_t insns[][3] = { { 0xfa }, { 0xf4 }, { 0x0f, 0x22, 0xd8 }, { 0xe6, 0x21 } };
	for (unsigned i = 0; i < 4; i++) {
		fake_code(insns[i], 3);
		assert_int_equal(run_gp(&e), RAISE);
		assert_int_equal(e.vector, VEC_GP);
		assert_int_equal(fake_regs.eip, FAKE_CODE);	/* not advanced */
	}
	assert_int_equal(fake_vcpu.vif, 1);
}

/* A TSS with an I/O bitmap for ports 0-0x3ff, all closed but open[]: the
 * map right after the 0x68 bytes of the TSS, and the TSS limit at its end
 * (the terminating byte included, as the SDM recommends). */
static void io_bitmap_tss(const uint16_t *open, unsigned n)
{
	uint16_t map_base = 0x68;
	memcpy(fake_ram + FAKE_TSS + 0x66, &map_base, 2);
	memset(fake_ram + FAKE_TSS + map_base, 0xff, 0x400 / 8 + 1);
	for (unsigned i = 0; i < n; i++)
		fake_ram[FAKE_TSS + map_base + open[i] / 8] &= (uint8_t)~(1u << (open[i] % 8));
	fake_vcpu.tr_limit = map_base + 0x400 / 8;
}

static void test_user_io_follows_the_tss_bitmap(void **state)
{
	(void)state;
	struct event e;
	const uint16_t open[] = { 0x80, 0x3f8, 0x3f9 };
	io_bitmap_tss(open, 3);
	fake_vcpu.vpl = VPL_USER;
	fake_regs.eax = 0x12345678;
	CODE(0xe6, 0x80);				/* out %al, $0x80 */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 2);
	CODE(0xe4, 0x81);				/* in $0x81, %al: closed */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	assert_int_equal(e.error, 0);
	assert_int_equal(fake_regs.eip, FAKE_CODE);
	/* Every port of a wider access must be open. */
	fake_regs.edx = 0x3f8;
	CODE(0x66, 0xed);				/* in (%dx), %ax */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0x1234ffff);
	CODE(0xed);					/* in (%dx), %eax: 0x3fa shut */
	assert_int_equal(run_gp(&e), RAISE);
	/* ... including across a byte of the bitmap. */
	const uint16_t straddle[] = { 0x87, 0x88 };
	io_bitmap_tss(straddle, 2);
	fake_regs.edx = 0x87;
	CODE(0x66, 0xef);				/* out %ax, (%dx) */
	assert_int_equal(run_gp(&e), EMULATED);
	/* String I/O too. */
	fake_regs.ecx = 2;
	fake_regs.edi = 0x10000;
	fake_regs.es = 0x7b;
	CODE(0xf3, 0x6c);				/* rep insb */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.ecx, 0);
}

static void test_user_io_bitmap_past_the_tss_limit_is_closed(void **state)
{
	(void)state;
	struct event e;
	const uint16_t open[] = { 0x3ff };
	io_bitmap_tss(open, 1);
	fake_vcpu.vpl = VPL_USER;
	fake_regs.edx = 0x3ff;
	CODE(0xec);					/* in (%dx), %al */
	assert_int_equal(run_gp(&e), EMULATED);
	/* The CPU reads two bytes of the map: the last one must be inside. */
	fake_vcpu.tr_limit -= 1;
	assert_int_equal(run_gp(&e), RAISE);
	/* Without a map in the TSS (offset past the limit), nothing is open. */
	uint16_t no_map = 0x1000;
	memcpy(fake_ram + FAKE_TSS + 0x66, &no_map, 2);
	fake_vcpu.tr_limit = 0x67;
	fake_ram[FAKE_TSS + 0x1000] = 0;
	fake_regs.edx = 0;
	assert_int_equal(run_gp(&e), RAISE);
	/* Nor with no TSS. */
	fake_vcpu.tr = 0;
	fake_vcpu.tr_limit = 0x2000;
	assert_int_equal(run_gp(&e), RAISE);
}

static void test_int80_from_user_switches_to_kernel_stack(void **state)
{
	(void)state;
	struct event e;
	fake_gate(0x80, 0x200000, 1, 3);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	fake_vcpu.vif = 1;
	fake_regs.esp = 0x7000;
	fake_regs.eflags = 0x202;
	CODE(0xcd, 0x80);
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.source, EVENT_SOFTWARE);
	assert_int_equal(deliver_event(&fake_vcpu, e), 0);
	assert_int_equal(fake_vcpu.vpl, VPL_KERNEL);
	assert_int_equal(fake_vcpu.cs, 0x60);
	assert_int_equal(fake_regs.eip, 0x200000);
	assert_int_equal(fake_regs.esp, FAKE_ESP0 - 20);
	/* The frame, from the top: SS, ESP, EFLAGS, CS, EIP. */
	assert_int_equal(u32_at(FAKE_ESP0 - 4), 0x7b);
	assert_int_equal(u32_at(FAKE_ESP0 - 8), 0x7000);
	assert_int_equal(u32_at(FAKE_ESP0 - 12), 0x202);
	assert_int_equal(u32_at(FAKE_ESP0 - 16), 0x73);
	assert_int_equal(u32_at(FAKE_ESP0 - 20), FAKE_CODE + 2);
	assert_int_equal(fake_vcpu.vif, 1);		/* a trap gate keeps IF */
	assert_true(fake_ring_switches > 0);
}

static void test_int_through_dpl0_gate_from_user_is_gp(void **state)
{
	(void)state;
	struct event e;
	fake_gate(0x41, 0x200000, 0, 0);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	fake_gate(13, 0x300000, 0, 0);
	CODE(0xcd, 0x41);
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(deliver_event(&fake_vcpu, e), 0);
	assert_int_equal(fake_regs.eip, 0x300000);	/* the #GP handler */
	assert_int_equal(u32_at(FAKE_ESP0 - 24), (0x41 << 3) | 2);	/* error code */
	assert_int_equal(u32_at(FAKE_ESP0 - 20), FAKE_CODE);	/* the int itself */
}

static void test_iret_to_user(void **state)
{
	(void)state;
	struct event e;
	uint32_t frame[5] = { 0x400000, 0x73, 0x202, 0x7ff0, 0x7b };
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	fake_regs.esp = 0x8000;
	CODE(0xcf);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.vpl, VPL_USER);
	assert_int_equal(fake_vcpu.cs, 0x73);
	assert_int_equal(fake_vcpu.ss, 0x7b);
	assert_int_equal(fake_regs.eip, 0x400000);
	assert_int_equal(fake_regs.esp, 0x7ff0);
	assert_int_equal(fake_vcpu.vif, 1);
	assert_int_equal(fake_regs.ds, 0);		/* kernel DS cleared for user mode */
}

/* Back in the kernel, about to run the iret of test_iret_to_user again. */
static void kernel_at_iret(void)
{
	fake_vcpu.vpl = VPL_KERNEL;
	fake_vcpu.cs = 0x60;
	fake_vcpu.ss = 0x68;
	fake_vcpu.cs_base = fake_vcpu.ss_base = 0;
	fake_vcpu.vif = 0;
	fake_regs.esp = 0x8000;
	fake_regs.eip = FAKE_CODE;
	fake_regs.ds = fake_regs.es = 0x68;
}

static void test_fast_iret_repeats_a_checked_return(void **state)
{
	(void)state;
	struct event e;
	uint32_t frame[5] = { 0x400000, 0x73, 0x202, 0x7ff0, 0x7b };
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	kernel_at_iret();
	CODE(0xcf);
	/* Nothing checked yet: declined, nothing changed. */
	assert_int_equal(ring_fast_iret_to_user(&fake_vcpu), 0);
	assert_int_equal(fake_vcpu.vpl, VPL_KERNEL);
	assert_int_equal(fake_regs.eip, FAKE_CODE);
	assert_int_equal(run_gp(&e), EMULATED);		/* the general way */

	/* The same return again: the fast path, with the same outcome. */
	kernel_at_iret();
	assert_int_equal(ring_fast_iret_to_user(&fake_vcpu), 1);
	assert_int_equal(fake_vcpu.vpl, VPL_USER);
	assert_int_equal(fake_vcpu.cs, 0x73);
	assert_int_equal(fake_vcpu.ss, 0x7b);
	assert_int_equal(fake_regs.eip, 0x400000);
	assert_int_equal(fake_regs.esp, 0x7ff0);
	assert_int_equal(fake_vcpu.vif, 1);
	assert_int_equal(fake_regs.ds, 0);

	/* A mirrored descriptor changed since: declined. */
	kernel_at_iret();
	arch_guest_mirror_gdt(15, 0);
	assert_int_equal(ring_fast_iret_to_user(&fake_vcpu), 0);
	assert_int_equal(fake_vcpu.vpl, VPL_KERNEL);
	assert_int_equal(run_gp(&e), EMULATED);		/* checked again */

	/* Another code selector, or a return within the kernel: declined. */
	kernel_at_iret();
	frame[1] = 0x60;
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	assert_int_equal(ring_fast_iret_to_user(&fake_vcpu), 0);
	assert_int_equal(fake_regs.eip, FAKE_CODE);
}

/* Identity-map the fake's 4 MiB through page table pt of directory pd,
 * but with linear page 'from' on physical page 'to'. */
static void map_identity(uint32_t pd, uint32_t pt, uint32_t from, uint32_t to)
{
	uint32_t pde = pt | 0x27;			/* P W U A */
	memcpy(fake_ram + pd, &pde, 4);
	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t page = i << 12 == from ? to : i << 12;
		uint32_t pte = page | 0x67;		/* P W U A D */
		memcpy(fake_ram + pt + i * 4, &pte, 4);
	}
}

/* The GDTR holds a linear address: after a CR3 load that maps its page
 * elsewhere, the CPU reads other descriptors, and so must the mirror. */
static void test_cr3_load_that_moves_the_gdt_mirrors_it_again(void **state)
{
	(void)state;
	uint64_t other = 0x00cff2000000ffffull;		/* entry 15, DPL 3 -> 1 */
	memcpy(fake_ram + 0x5000, fake_ram + FAKE_GDT, 0x1000);
	memcpy(fake_ram + 0x5000 + 15 * 8, &other, 8);
	map_identity(0x20000, 0x21000, 0, 0);
	map_identity(0x22000, 0x23000, FAKE_GDT, 0x5000);
	fake_vcpu.cr0 |= CR0_PG;
	fake_vcpu.cr3 = 0x20000;
	mmu_protect_tables(&fake_vcpu);
	uint64_t first = fake_gdt_mirror[15];
	assert_true(first != other);
	fake_vcpu.cr3 = 0x22000;
	mmu_load_cr3(&fake_vcpu);
	assert_true(fake_gdt_mirror[15] == other);
}

static void test_iret_to_kernel_from_user_is_gp(void **state)
{
	(void)state;
	struct event e;
	uint32_t frame[3] = { 0x400000, 0x60, 0x202 };
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	fake_regs.esp = 0x8000;
	fake_vcpu.vpl = VPL_USER;
	CODE(0xcf);
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	assert_int_equal(e.error, 0x60);
	assert_int_equal(fake_vcpu.vpl, VPL_USER);
}

/* ---- a user page fault's return: the page mapped ahead (core/mmu.c) ---- */

static uint32_t *pte_of(uint32_t pt, uint32_t va)
{
	return (uint32_t *)(void *)(fake_ram + pt + ((va >> 12) & 1023) * 4);
}

/* Paging on, the first 4 MiB mapped to themselves (present, writable,
 * user, accessed, dirty), the GDT's page protected. */
static void protected_identity_paging(void)
{
	identity_paging();
	mmu_protect_tables(&fake_vcpu);
}

static uint32_t user_shadow(uint32_t va)
{
	return shadow_lookup(&fake_vcpu.shadow, SHADOW_USER, va);
}

static void test_map_ahead_maps_only_what_no_fault_could_change(void **state)
{
	(void)state;
	struct vcpu *v = &fake_vcpu;
	protected_identity_paging();
	/* Accessed and dirty: mapped, writable. */
	assert_int_equal(mmu_map_ahead(v, 0x200000), 1);
	assert_int_equal(user_shadow(0x200000) & 0xfffff007u, 0x200000u | 7);
	/* Clean: mapped read-only, so the first write faults and sets D. */
	*pte_of(IDENT_PT, 0x201000) &= ~0x40u;
	assert_int_equal(mmu_map_ahead(v, 0x201000), 1);
	assert_int_equal(user_shadow(0x201000) & 0xfffff007u, 0x201000u | 5);
	/* Not accessed, a kernel page, not present, read-only for a write
	 * fault's retry still maps (read-only): left to a fault each. */
	*pte_of(IDENT_PT, 0x202000) &= ~0x20u;			/* A */
	*pte_of(IDENT_PT, 0x203000) &= ~0x04u;			/* U */
	*pte_of(IDENT_PT, 0x204000) &= ~0x01u;			/* P */
	for (uint32_t va = 0x202000; va <= 0x204000; va += 0x1000) {
		assert_int_equal(mmu_map_ahead(v, va), 0);
		assert_int_equal(user_shadow(va), 0);
	}
	/* A global page (with CR4.PGE) is a fault's, as for working sets. */
	fake_vcpu.cr4 |= CR4_PGE;
	*pte_of(IDENT_PT, 0x205000) |= 0x100u;
	assert_int_equal(mmu_map_ahead(v, 0x205000), 0);
	/* The GDT's page stays read-only: a fault's business. */
	assert_int_equal(mmu_map_ahead(v, FAKE_GDT), 0);
	assert_int_equal(user_shadow(FAKE_GDT), 0);
	/* A frame past guest RAM, a PDE not present, the VMM's space. */
	*pte_of(IDENT_PT, 0x206000) = (FAKE_RAM_SIZE + 0x1000) | 0x67;
	assert_int_equal(mmu_map_ahead(v, 0x206000), 0);
	assert_int_equal(mmu_map_ahead(v, 0x800000), 0);
	assert_int_equal(mmu_map_ahead(v, GUEST_LINEAR_LIMIT), 0);
	/* Paging off: nothing to map ahead of. */
	fake_vcpu.cr0 &= ~CR0_PG;
	assert_int_equal(mmu_map_ahead(v, 0x207000), 0);
}

/* A user #PF gives the vCPU the page to map as its handler returns; a
 * kernel one does not (it returns to the kernel). */
static void test_user_page_fault_names_the_page_to_map_ahead(void **state)
{
	(void)state;
	protected_identity_paging();
	fake_gate(VEC_PF, 0x300000, 0, 0);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	fake_regs.esp = 0x7000;
	mmu_reflect_fault(&fake_vcpu, 0x123456, PF_USER | PF_WRITE);
	assert_int_equal(fake_vcpu.vpl, VPL_KERNEL);
	assert_int_equal(fake_regs.eip, 0x300000);
	assert_int_equal(fake_vcpu.map_ahead, 0x123000u | 1);
	fake_vcpu.map_ahead = 0;
	mmu_reflect_fault(&fake_vcpu, 0x345678, PF_WRITE);	/* from the kernel */
	assert_int_equal(fake_vcpu.map_ahead, 0);
}

/* ---- deliveries from user mode as the last one (core/deliver.c) ---- */

/* A user-mode vCPU with its registers at a fault. */
static void user_at_a_fault(void)
{
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	fake_vcpu.vif = 1;
	fake_vcpu.arm_hint = 0;
	fake_regs.eip = 0x400123;
	fake_regs.esp = 0x7ff0;
	fake_regs.eflags = 0x246;
}

/* The kernel's shadow mapping the IDT, the TSS and the kernel stack's page
 * (as after a first delivery: the short way reads and writes through it). */
static void kernel_shadow_maps_delivery(void)
{
	struct shadow *s = &fake_vcpu.shadow;
	assert_int_equal(shadow_map(s, SHADOW_KERNEL, FAKE_IDT, FAKE_IDT, 0, 0, 0), 0);
	assert_int_equal(shadow_map(s, SHADOW_KERNEL, FAKE_TSS, FAKE_TSS, 0, 0, 0), 0);
	assert_int_equal(shadow_map(s, SHADOW_KERNEL, FAKE_ESP0 - 0x1000, FAKE_ESP0 - 0x1000,
				    1, 0, 0), 0);
}

static const struct event user_pf = { .vector = VEC_PF, .has_error = 1, .error = 6,
				      .source = EVENT_EXCEPTION, .address = 0x5000 };

/* What a delivery leaves: the vCPU's segments and ring, the registers,
 * the frame on the kernel stack. */
struct delivered {
	uint16_t cs, ss;
	uint32_t cs_base, ss_base, vpl, vif, cr2, eip, esp, eflags;
	uint32_t frame[6];
};

static struct delivered delivered(void)
{
	struct delivered d = {
		fake_vcpu.cs, fake_vcpu.ss, fake_vcpu.cs_base, fake_vcpu.ss_base,
		fake_vcpu.vpl, fake_vcpu.vif, fake_vcpu.cr2, fake_regs.eip,
		fake_regs.esp, fake_regs.eflags, { 0 },
	};
	memcpy(d.frame, fake_ram + FAKE_ESP0 - 24, 24);
	return d;
}

static void assert_same_delivery(const struct delivered *a, const struct delivered *b)
{
	assert_int_equal(a->cs, b->cs);
	assert_int_equal(a->ss, b->ss);
	assert_int_equal(a->cs_base, b->cs_base);
	assert_int_equal(a->ss_base, b->ss_base);
	assert_int_equal(a->vpl, b->vpl);
	assert_int_equal(a->vif, b->vif);
	assert_int_equal(a->cr2, b->cr2);
	assert_int_equal(a->eip, b->eip);
	assert_int_equal(a->esp, b->esp);
	assert_int_equal(a->eflags, b->eflags);
	assert_memory_equal(a->frame, b->frame, sizeof(a->frame));
}

/* Paging on, the kernel's shadow ready, a #PF gate to 0x300000, and a
 * first user #PF delivered there: the general way, remembered. */
static void first_user_fault_delivered(void)
{
	protected_identity_paging();
	kernel_shadow_maps_delivery();
	fake_gate(VEC_PF, 0x300000, 0, 0);
	user_at_a_fault();
	deliver_or_stop(user_pf);
}

static void test_user_delivery_as_before_matches_the_general_way(void **state)
{
	(void)state;
	first_user_fault_delivered();
	assert_int_equal(fake_vcpu.arm_hint, 0);	/* not the short way */
	struct delivered first = delivered();
	assert_int_equal(first.eip, 0x300000);
	assert_int_equal(first.vpl, VPL_KERNEL);
	assert_int_equal(first.frame[0], 6);		/* the error code */

	memset(fake_ram + FAKE_ESP0 - 24, 0, 24);
	user_at_a_fault();
	deliver_or_stop(user_pf);			/* the short way */
	assert_int_equal(fake_vcpu.arm_hint, ARM_KEEP_OR_ARM);
	struct delivered again = delivered();
	assert_same_delivery(&again, &first);
}

/* Whatever the remembered checks read, changed, sends the next delivery
 * the general way, which finds what the change means. */
static void test_user_delivery_as_before_notices_changes(void **state)
{
	(void)state;
	first_user_fault_delivered();

	/* Another handler in the gate. */
	fake_gate(VEC_PF, 0x310000, 0, 0);
	user_at_a_fault();
	deliver_or_stop(user_pf);
	assert_int_equal(fake_vcpu.arm_hint, 0);
	assert_int_equal(fake_regs.eip, 0x310000);

	/* Another SS0 in the TSS: a copy of the kernel's data segment. */
	memcpy(fake_ram + FAKE_GDT + 18 * 8, fake_ram + FAKE_GDT + 13 * 8, 8);
	ring_mirror_tables(&fake_vcpu);
	user_at_a_fault();
	deliver_or_stop(user_pf);			/* remembered again */
	uint32_t ss0 = 0x90;
	memcpy(fake_ram + FAKE_TSS + 8, &ss0, 4);
	user_at_a_fault();
	deliver_or_stop(user_pf);
	assert_int_equal(fake_vcpu.arm_hint, 0);
	assert_int_equal(fake_vcpu.ss, 0x90);
	ss0 = 0x68;
	memcpy(fake_ram + FAKE_TSS + 8, &ss0, 4);

	/* The handler's code descriptor, changed in the GDT (its mirror's
	 * generation moves): based at 0x1000 now. */
	user_at_a_fault();
	deliver_or_stop(user_pf);			/* remembered again */
	fake_ram[FAKE_GDT + 12 * 8 + 3] = 0x10;
	ring_mirror_tables(&fake_vcpu);
	user_at_a_fault();
	deliver_or_stop(user_pf);
	assert_int_equal(fake_vcpu.arm_hint, 0);
	assert_int_equal(fake_vcpu.cs_base, 0x1000);
	fake_ram[FAKE_GDT + 12 * 8 + 3] = 0;
	ring_mirror_tables(&fake_vcpu);

	/* The IDT moved (its limit now excludes the gate): #GP, then #DF
	 * (the #GP's gate is past the limit too), then a triple fault. */
	user_at_a_fault();
	deliver_or_stop(user_pf);			/* remembered again */
	assert_int_equal(fake_regs.eip, 0x310000);
	fake_vcpu.idtr.limit = VEC_PF * 8 - 1;
	user_at_a_fault();
	assert_int_equal(deliver_event(&fake_vcpu, user_pf), -1);
}

/* A code segment based at 0 with a byte-granular limit, at GDT index i. */
static void small_code_segment(unsigned i, uint32_t limit, unsigned dpl)
{
	uint32_t d[2] = { limit & 0xffff,
			  (limit & 0xf0000u) | (0xbu << 8) | (1u << 12) | (dpl << 13) |
			  (1u << 15) | (1u << 22) };
	memcpy(fake_ram + FAKE_GDT + i * 8, d, 8);
}

static void test_far_transfer_past_the_code_limit_is_gp0(void **state)
{
	(void)state;
	struct event e;
	small_code_segment(20, 0xfff, 3);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	CODE(0xea, 0x00, 0x10, 0x00, 0x00, 0xa3, 0x00);	/* ljmp $0xa3, $0x1000 */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	assert_int_equal(e.error, 0);
	assert_int_equal(fake_regs.eip, FAKE_CODE);	/* at the ljmp */
	assert_int_equal(fake_vcpu.cs, 0x73);
	/* The last byte of the segment is fine. */
	CODE(0xea, 0xff, 0x0f, 0x00, 0x00, 0xa3, 0x00);	/* ljmp $0xa3, $0xfff */
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_vcpu.cs, 0xa3);
	assert_int_equal(fake_regs.eip, 0xfff);
	/* A far call pushes nothing when it faults. */
	fake_vcpu.cs = 0x73;
	fake_regs.esp = 0x7000;
	CODE(0x9a, 0x00, 0x20, 0x00, 0x00, 0xa3, 0x00);	/* lcall $0xa3, $0x2000 */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.error, 0);
	assert_int_equal(fake_regs.esp, 0x7000);
}

static void test_iret_past_the_code_limit_is_gp0(void **state)
{
	(void)state;
	struct event e;
	small_code_segment(20, 0xfff, 3);
	uint32_t frame[5] = { 0x400000, 0xa3, 0x202, 0x7ff0, 0x7b };
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	fake_regs.esp = 0x8000;
	CODE(0xcf);
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	assert_int_equal(e.error, 0);
	assert_int_equal(fake_vcpu.vpl, VPL_KERNEL);	/* nothing changed */
	assert_int_equal(fake_vcpu.cs, 0x60);
	assert_int_equal(fake_regs.esp, 0x8000);
	/* A bad stack selector comes first (SDM Vol. 2, IRET). */
	frame[4] = 0x68;
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.error, 0x68);
}

static void test_handler_past_its_code_limit_is_gp0(void **state)
{
	(void)state;
	small_code_segment(20, 0xfff, 0);
	uint32_t gate[2] = { (0xa0u << 16) | 0x2000, 0x8000u | (0xeu << 8) };
	memcpy(fake_ram + FAKE_IDT + 0x41 * 8, gate, 8);
	fake_gate(13, 0x300000, 0, 0);
	fake_regs.esp = 0x8000;
	deliver_or_stop((struct event){ .vector = 0x41, .source = EVENT_EXTERNAL });
	assert_int_equal(fake_regs.eip, 0x300000);	/* the #GP handler */
	assert_int_equal(u32_at(0x8000 - 16), 1);	/* #GP(EXT): no selector */
}

/* A code descriptor with any type and DPL, present or not, at GDT index i. */
static void code_segment(unsigned i, unsigned type, unsigned dpl, int present)
{
	uint32_t d[2] = { 0xffff, 0x000f0000u | (type << 8) | (1u << 12) | (dpl << 13) |
				  (present ? 1u << 15 : 0) | (1u << 22) | (1u << 23) };
	memcpy(fake_ram + FAKE_GDT + i * 8, d, 8);
}

static void test_gate_to_ring1_code_checks_presence_first(void **state)
{
	(void)state;
	code_segment(21, 0xb, 1, 0);			/* 0xa8: ring 1, not present */
	uint32_t gate[2] = { (0xa8u << 16) | 0x2000, 0x8000u | (3u << 13) | (0xeu << 8) };
	memcpy(fake_ram + FAKE_IDT + 0x41 * 8, gate, 8);
	fake_gate(11, 0x300000, 0, 0);
	fake_gate(13, 0x310000, 0, 0);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	deliver_or_stop((struct event){ .vector = 0x41, .source = EVENT_SOFTWARE,
					.insn_len = 2 });
	assert_int_equal(fake_regs.eip, 0x300000);	/* #NP, not #GP */
	assert_int_equal(u32_at(FAKE_ESP0 - 24), 0xa8);
}

static void test_handler_in_conforming_ring1_code_runs_at_the_current_ring(void **state)
{
	(void)state;
	code_segment(21, 0xf, 1, 1);			/* conforming, DPL 1 */
	uint32_t gate[2] = { (0xa8u << 16) | 0x2000, 0x8000u | (0xeu << 8) };
	memcpy(fake_ram + FAKE_IDT + 0x41 * 8, gate, 8);
	fake_vcpu.vpl = VPL_USER;
	fake_vcpu.cs = 0x73;
	fake_vcpu.ss = 0x7b;
	fake_regs.esp = 0x7000;
	deliver_or_stop((struct event){ .vector = 0x41, .source = EVENT_EXTERNAL });
	assert_int_equal(fake_regs.eip, 0x2000);
	assert_int_equal(fake_vcpu.vpl, VPL_USER);
	assert_int_equal(fake_vcpu.cs, 0xab);		/* RPL = the ring it runs in */
	assert_int_equal(fake_regs.esp, 0x7000 - 12);	/* same stack */
}

static void test_iret_to_ring1_checks_presence_first(void **state)
{
	(void)state;
	struct event e;
	code_segment(21, 0xb, 1, 0);
	uint32_t frame[5] = { 0x400000, 0xa9, 0x202, 0x7ff0, 0x7b };
	memcpy(fake_ram + 0x8000, frame, sizeof(frame));
	fake_regs.esp = 0x8000;
	CODE(0xcf);
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_NP);
	assert_int_equal(e.error, 0xa8);
	code_segment(21, 0xb, 1, 1);			/* present: not virtualized */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	assert_int_equal(e.error, 0xa8);
}

static void test_hypercall_probe(void **state)
{
	(void)state;
	struct event e;
	fake_regs.eax = RV_HC_PROBE;
	CODE(0xcd, RV_HYPERCALL_VECTOR);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, RV_PROBE_MAGIC);
	assert_int_equal(fake_regs.eip, FAKE_CODE + 2);
}

static void test_hypercall_pv_irq_checks_its_word(void **state)
{
	(void)state;
	struct event e;
	static const struct { uint32_t gpa; int32_t expect; } cases[] = {
		{ 0x7002, RV_EINVAL },			/* not aligned */
		{ FAKE_RAM_SIZE - 4, RV_EFAULT },	/* runs past RAM */
		{ 0xfc000000u, RV_EFAULT },		/* the VMM's */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		fake_regs.eax = RV_HC_PV_IRQ;
		fake_regs.ebx = cases[i].gpa;
		CODE(0xcd, RV_HYPERCALL_VECTOR);
		assert_int_equal(run_gp(&e), EMULATED);
		assert_int_equal((int32_t)fake_regs.eax, cases[i].expect);
		assert_int_equal(fake_vcpu.pv_irq, 0);
	}
	fake_vcpu.vif = 0;
	fake_regs.eax = RV_HC_PV_IRQ;
	fake_regs.ebx = 0x7000;
	CODE(0xcd, RV_HYPERCALL_VECTOR);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal(fake_regs.eax, 0);
	assert_int_equal(fake_vcpu.pv_irq, 1);
	assert_int_equal(u32_at(0x7000), 0);		/* vif: as it was */
	assert_int_equal(u32_at(0x7008), 1);		/* active */
}

/* Found by chaos_hypercalls (guests/chaos_repro hc-gdt-index-wrap): an
 * index whose * 8 wraps to 0 wrote GDT entry 0. */
static void test_hypercall_set_gdt_entry_index_does_not_wrap(void **state)
{
	(void)state;
	struct event e;
	uint64_t entry0;
	fake_regs.eax = RV_HC_SET_GDT_ENTRY;
	fake_regs.ebx = 0x20000000;		/* * 8 = 2^32: entry 0 */
	fake_regs.ecx = 0xffffffff;
	fake_regs.edx = 0xffffffff;
	CODE(0xcd, RV_HYPERCALL_VECTOR);
	assert_int_equal(run_gp(&e), EMULATED);
	assert_int_equal((int32_t)fake_regs.eax, RV_EINVAL);
	memcpy(&entry0, fake_ram + FAKE_GDT, 8);
	assert_true(entry0 == 0);
}

static void test_undecodable_reflects_gp(void **state)
{
	(void)state;
	struct event e;
	CODE(0x0f, 0x0b);				/* ud2: not ours to emulate */
	assert_int_equal(run_gp(&e), RAISE);
	assert_int_equal(e.vector, VEC_GP);
	CODE(0x0f);					/* truncated at the end of code */
	assert_int_equal(run_gp(&e), RAISE);
}

/* Hostile bytes in both rings: every outcome is an emulation, a fault for
 * the guest or a clean stop, and ASan sees no bad access. */
static void test_random_bytes_never_crash(void **state)
{
	(void)state;
	srand(12345);
	for (int round = 0; round < 20000; round++) {
		fake_reset();
		uint8_t bytes[16];
		for (unsigned i = 0; i < sizeof(bytes); i++)
			bytes[i] = (uint8_t)rand();
		fake_code(bytes, sizeof(bytes));
		uint32_t *regs = &fake_regs.edi;
		for (unsigned i = 0; i < 8; i++)
			regs[i] = (uint32_t)rand() * 2654435761u;
		fake_regs.esp = 0x8000 + (rand() % 2 ? 0 : (uint32_t)rand());
		fake_vcpu.vpl = rand() % 2 ? VPL_USER : VPL_KERNEL;
		struct event e;
		if (run_gp(&e) == RAISE)
			deliver_or_stop(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cli_sti, setup),
		cmocka_unit_test_setup(test_sti_hlt_is_one_step, setup),
		cmocka_unit_test_setup(test_sti_with_an_interrupt_waiting_steps, setup),
		cmocka_unit_test_setup(test_sti_sysexit_is_one_step, setup),
		cmocka_unit_test_setup(test_sti_before_a_faulting_sysexit_is_a_shadow, setup),
		cmocka_unit_test_setup(test_hlt_with_interrupts_off_powers_off, setup),
		cmocka_unit_test_setup(test_mov_cr_round_trip, setup),
		cmocka_unit_test_setup(test_paging_on_flushes_shadows, setup),
		cmocka_unit_test_setup(test_lgdt_sgdt_and_mirroring, setup),
		cmocka_unit_test_setup(test_cr4_features_the_vmm_lacks_are_gp, setup),
		cmocka_unit_test_setup(test_msrs, setup),
		cmocka_unit_test_setup(test_umip_follows_the_guest_cr4, setup),
		cmocka_unit_test_setup(test_boot_selectors_are_flat_before_lgdt, setup),
		cmocka_unit_test_setup(test_descriptor_table_store_is_emulated_and_mirrored, setup),
		cmocka_unit_test_setup(test_emulated_store_to_a_table_page_is_noted, setup),
		cmocka_unit_test_setup(test_fast_table_store_repeats_an_emulated_store, setup),
		cmocka_unit_test_setup(test_fast_table_store_with_a_sib_byte, setup),
		cmocka_unit_test_setup(test_fast_table_store_not_on_a_gdt_mapped_twice, setup),
		cmocka_unit_test_setup(test_fast_table_store_below_the_gdt_base, setup),
		cmocka_unit_test_setup(test_out_to_exit_port_shuts_down, setup),
		cmocka_unit_test_setup(test_keyboard_controller_reset_ends_the_guest, setup),
		cmocka_unit_test_setup(test_rep_ins_runs_in_chunks, setup),
		cmocka_unit_test_setup(test_in_from_absent_port, setup),
		cmocka_unit_test_setup(test_privileged_from_user_mode_is_gp, setup),
		cmocka_unit_test_setup(test_user_io_follows_the_tss_bitmap, setup),
		cmocka_unit_test_setup(test_user_io_bitmap_past_the_tss_limit_is_closed, setup),
		cmocka_unit_test_setup(test_int80_from_user_switches_to_kernel_stack, setup),
		cmocka_unit_test_setup(test_int_through_dpl0_gate_from_user_is_gp, setup),
		cmocka_unit_test_setup(test_iret_to_user, setup),
		cmocka_unit_test_setup(test_cr3_load_that_moves_the_gdt_mirrors_it_again, setup),
		cmocka_unit_test_setup(test_fast_iret_repeats_a_checked_return, setup),
		cmocka_unit_test_setup(test_iret_to_kernel_from_user_is_gp, setup),
		cmocka_unit_test_setup(test_far_transfer_past_the_code_limit_is_gp0, setup),
		cmocka_unit_test_setup(test_iret_past_the_code_limit_is_gp0, setup),
		cmocka_unit_test_setup(test_handler_past_its_code_limit_is_gp0, setup),
		cmocka_unit_test_setup(test_gate_to_ring1_code_checks_presence_first, setup),
		cmocka_unit_test_setup(test_handler_in_conforming_ring1_code_runs_at_the_current_ring, setup),
		cmocka_unit_test_setup(test_iret_to_ring1_checks_presence_first, setup),
		cmocka_unit_test_setup(test_hypercall_probe, setup),
		cmocka_unit_test_setup(test_hypercall_pv_irq_checks_its_word, setup),
		cmocka_unit_test_setup(test_hypercall_set_gdt_entry_index_does_not_wrap, setup),
		cmocka_unit_test_setup(test_undecodable_reflects_gp, setup),
		cmocka_unit_test_setup(test_map_ahead_maps_only_what_no_fault_could_change, setup),
		cmocka_unit_test_setup(test_user_page_fault_names_the_page_to_map_ahead, setup),
		cmocka_unit_test_setup(test_user_delivery_as_before_matches_the_general_way, setup),
		cmocka_unit_test_setup(test_user_delivery_as_before_notices_changes, setup),
		cmocka_unit_test_setup(test_random_bytes_never_crash, setup),
	};
	return cmocka_run_group_tests_name("emulate", tests, NULL, NULL);
}
