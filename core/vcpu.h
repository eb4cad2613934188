/*
 * The virtual CPU: everything the guest believes about the processor it runs
 * on, and that the real processor does not hold because the guest really
 * runs in ring 3 (paper §3, §4.4).
 */
#ifndef CORE_VCPU_H
#define CORE_VCPU_H

#include <stdint.h>
#include "core/guest_mem.h"
#include "core/segments.h"
#include "core/shadow.h"
#include "core/workingset.h"

/*
 * The guest's registers while the VMM runs, laid out as the trap stubs save
 * them on the VMM stack (pusha order, then the data segments, then the
 * vector and error code, then what the CPU pushed on a ring 3 -> 0 trap).
 * eip, eflags and the general registers are the guest's own; cs and ss are
 * the real selectors, which the VMM chooses (see vcpu.cs and vcpu.ss).
 */
struct trapframe {
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t gs, fs, es, ds;
	uint32_t vector;
	uint32_t error;		/* 0 for vectors without an error code */
	uint32_t eip, cs, eflags;
	uint32_t esp, ss;	/* pushed only when entering from ring 3 */
};

/* Virtual privilege levels: the guest's idea of its current ring. */
enum { VPL_KERNEL = 0, VPL_USER = 3 };

/* Why the VMM is single-stepping the guest (core/step.h). */
#define STEP_STI_SHADOW      1u
#define STEP_PROTECTED_WRITE 2u
/* A 64 KiB GDT spans 17 pages at most, and so does an LDT. */
#define MAX_PROTECTED_PAGES 34

/* A code or stack selector core/ring.c found valid for privilege pl, and
 * its descriptor, while the mirror generation stays (core/ring.c). */
struct checked_selector {
	uint32_t generation;	/* 0: nothing remembered */
	uint16_t sel;
	unsigned pl;
	uint64_t raw;
	struct segment seg;
};

struct descriptor_table {
	uint32_t base;		/* guest linear address */
	uint16_t limit;
};

/* The entry into a handler a delivery makes (core/deliver.c). */
struct handler_entry {
	uint16_t cs, ss;		/* ss: with a switch to ring 0's stack */
	unsigned pl;			/* the handler's privilege */
	int new_stack;
	uint64_t cs_raw, ss_raw;
	uint32_t eip;
	int interrupt_gate;		/* IF goes off */
};

/* The last delivery from user mode, what its checks read and found
 * (core/deliver.c, deliver_as_before). */
struct user_delivery {
	uint32_t generation;		/* the mirrors' then; 0: none */
	uint8_t vector;
	uint32_t gate[2];
	struct descriptor_table idtr;
	uint32_t tr_base, tr_limit;
	uint16_t ss0;
	uint32_t ss_base;
	struct handler_entry entry;
	/* Whether the arch runs entry's CS and SS on the aliases loaded,
	 * as found at alias generation alias_checked (0: not yet). */
	uint32_t alias_checked;
	int aliases_loaded;
};

struct vcpu {
	struct trapframe *regs;	/* the live frame, on the VMM stack */

	unsigned vpl;		/* VPL_KERNEL or VPL_USER */
	uint16_t cs, ss;	/* the selectors the guest believes it holds */
	uint32_t cs_base, ss_base; /* their bases, cached when loaded, as the CPU does */
	int vif;		/* virtual EFLAGS.IF (the real IF follows it) */
	int halted;		/* in hlt, waiting for an interrupt */

	/* Single-stepping one instruction (core/step.c). */
	unsigned step_reasons;	/* STEP_* bits; 0 when not stepping */
	uint32_t step_eip;	/* the instruction being stepped */
	int step_guest_tf;	/* the guest had TF set itself */
	uint32_t open_page;	/* linear page of the protected write being stepped */
	/* An sti shadow not yet stepped: interrupts wait while EIP is still
	 * at the instruction after the sti (see guest_exit). */
	int sti_shadow;
	uint32_t sti_shadow_eip;
	/* The guest keeps its interrupt flag in memory (RV_HC_PV_IRQ): vif is
	 * read from there on each exit and written back before resuming. */
	int pv_irq;
	uint32_t pv_irq_gpa;
	uint32_t *pv_irq_word;	/* the VMM's pointer to it (a fixed window), or
				   NULL: reach it through gmem then */
	int pv_irq_on_table;	/* on a GDT or LDT page (a hostile guest's
				   choice): its writes must be mirrored */
	/* The GDT page the kernel last stored into through linear page
	 * store_page_va (core/mmu.c, mmu_fast_table_store): like a TLB entry,
	 * until the next invlpg, CR3 load or table change.  0: none. */
	uint32_t store_page_va;
	uint8_t *store_page;	/* the VMM's pointer to it (a fixed window) */
	int store_page_global;	/* the guest maps it global: CR3 loads keep it */
	/* The data selectors enter_user_mode last found valid in user mode,
	 * and the mirror generation (arch) they were checked at. */
	uint32_t user_sel_generation;
	uint32_t user_sel[4];
	struct checked_selector checked_code, checked_stack;
	struct checked_selector handler_code, handler_stack;	/* core/deliver.c */
	struct user_delivery last_from_user;			/* core/deliver.c */
	struct checked_selector data_segment;	/* DS of the fast invlpg (core/guest.c) */
	/* Guest-physical pages the VMM keeps read-only in the shadows: those
	 * holding the GDT and LDT (core/mmu.c). */
	uint32_t protected_pages[MAX_PROTECTED_PAGES];
	unsigned nprotected;
	/* Some page of the GDT or LDT could not be protected (not mapped when
	 * the tables were loaded, or too many pages): writes to it do not
	 * trap, so the mirrors are refreshed on every entry to user mode. */
	int tables_unprotected;
	/* The VMM itself wrote to one of those pages while emulating (a frame
	 * pushed there, string I/O, a store): mirror again before resuming. */
	int tables_written;
	/* Hardware interrupts taken while the guest could not receive them
	 * (IF=0, or the VMM waiting in hlt): one bit per vector. */
	uint32_t pending_irqs[256 / 32];

	uint32_t cr0, cr2, cr3, cr4;
	uint32_t dr[8];		/* DR0-DR3, DR6, DR7 (4 and 5 alias 6 and 7) */
	struct descriptor_table gdtr, idtr;
	uint16_t ldtr, tr;
	struct descriptor_table ldt;	/* the guest LDT's base and limit, cached by lldt */
	uint32_t tr_base, tr_limit;	/* the guest TSS, cached by ltr */
	uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat;			/* the PAT MSR */

	struct guest_mem mem;
	struct shadow shadow;
	/* What this exit means for the arch's short path for system calls
	 * and the kernel's iret (core/guest.h, guest_system_calls_may_bypass):
	 * ARM_AFTER, a system call or a delivery into the kernel (those come
	 * next: arm it); ARM_KEEP, nothing it depends on changed (a control
	 * register read, a CR3 load that left the descriptor tables where
	 * they were: keep it as it was); ARM_KEEP_OR_ARM, a delivery from
	 * user mode into code and stack segments whose aliases were already
	 * loaded (keep it, or arm it if it was off); else 0, leave it off. */
	unsigned arm_hint;
	/* A page the guest's page-fault handler is mapping for a user
	 * access (its linear address | 1), to map in the user shadow as the
	 * handler returns, ahead of the retried access (0: none; mmu.h,
	 * mmu_map_ahead). */
	uint32_t map_ahead;
	/* The address space (CR3) whose pages the shadow holds, and the
	 * pages recent ones held when the guest left them (core/mmu.c). */
	uint32_t shadow_cr3;
	struct workingset workingset;

	/* The last failed access to guest linear memory (core/vmem.c). */
	int fault_is_pf;	/* a page fault (else: outside guest RAM, paging off) */
	int fault_bad_table;	/* a guest page table or PTE points past guest RAM */
	uint32_t fault_address, fault_error;	/* the page tables the guest really runs on */
};

enum { ARM_AFTER = 1, ARM_KEEP = 2, ARM_KEEP_OR_ARM = 3 };

/* Whether guest-physical gpa is on a page holding the guest's GDT or LDT
 * (core/mmu.c keeps the list). */
static inline int vcpu_table_page(const struct vcpu *v, uint32_t gpa)
{
	for (unsigned i = 0; i < v->nprotected; i++)
		if (v->protected_pages[i] == (gpa & ~0xfffu))
			return 1;
	return 0;
}

/* Whether any hardware interrupt waits in the VMM for the guest. */
static inline int vcpu_irq_pending(const struct vcpu *v)
{
	const uint32_t *p = v->pending_irqs;	/* 8 words, on every exit */
	return (p[0] | p[1] | p[2] | p[3] | p[4] | p[5] | p[6] | p[7]) != 0;
}

/* Which shadow table the guest's current virtual ring runs on. */
static inline unsigned vcpu_shadow(const struct vcpu *v)
{
	return v->vpl == VPL_KERNEL ? SHADOW_KERNEL : SHADOW_USER;
}

/* General register n (REG_EAX..REG_EDI, as the decoder numbers them).
 * The frame holds them in pusha order, EDI first; the guest's ESP is the
 * one the CPU pushed, not pusha's. */
static inline uint32_t *vcpu_reg(struct trapframe *tf, unsigned n)
{
	if (n == 4)
		return &tf->esp;
	return &(&tf->edi)[7 - (n & 7)];
}

#endif
