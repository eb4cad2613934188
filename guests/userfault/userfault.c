/*
 * userfault: demand paging from user mode, as Linux does it.  A user
 * access faults on a page not yet mapped; the kernel's handler maps it
 * and returns; the access runs again.  Each phase does that for a run of
 * fresh pages with the handler writing a different kind of entry, and
 * checks what the CPU must have done on the retried access: the frame it
 * wrote is the one mapped, the accessed and dirty flags it had to set are
 * set, a page mapped for the kernel only faults again.
 *
 * Under ringvisor, with the paravirtual interrupt flag registered (when the
 * probe answers: natively there is no such call) and the SYSENTER MSR set,
 * the VMM delivers these faults the short way (core/deliver.c,
 * deliver_as_before) and maps the page as the handler's iret returns to
 * user mode (arch/ia32/fastcall.S; core/mmu.c, mmu_map_ahead), which it may
 * do only for an entry no access could still change: accessed, and dirty
 * if writable.  A VMM that mapped more would leave a flag here unset.  It
 * also keeps CR2 in the paravirtual structure, where Linux's handler reads
 * it: at every fault here it must be CR2.
 */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"
#include "ringvisor/hypercall.h"

#define WINDOW 0x40000000u	/* user pages, mapped on demand */
#define PAGES  64u		/* per phase */

static pte_t *pd;
static uint32_t frames[PAGES];
static uint32_t handler_flags;	/* what the handler maps a page with */
static unsigned faults, faults_again, strays, cr2_differs;

/* Under ringvisor: the paravirtual interrupt flag, as Linux registers it,
 * with the VMM's copy of CR2 beside it (Linux's handler reads that). */
static struct rv_pv_irq pv __attribute__((aligned(16)));

static uint32_t page_va(unsigned phase, unsigned i)
{
	return WINDOW + (phase * PAGES + i) * 4096u;
}

/* The kernel's page-fault handler: map the page at CR2, or, if it is
 * mapped already (for the kernel only), give it to user mode too. */
static void on_page_fault(struct ex_regs *regs)
{
	uint32_t cr2 = read_cr2();
	cr2_differs += pv.active && pv.cr2 != cr2;
	pte_t *pte = get_pte(pd, cr2);
	if (!ex_from_user(regs) || cr2 < WINDOW || cr2 >= WINDOW + 4 * PAGES * 4096u || !pte) {
		strays++;
		ex_record(regs);
		report(false, "a page fault outside the window");
		report_summary();
	}
	if (*pte & PTE_P) {
		faults_again++;
		*pte |= PTE_U;
		invlpg(cr2);
		return;
	}
	faults++;
	unsigned i = ((cr2 - WINDOW) >> 12) % PAGES;
	*pte = frames[i] | PTE_P | handler_flags;
}

/* In user mode: a word into each page of the phase, or a read of each. */
static uint32_t user_write_pages(uint32_t phase)
{
	for (unsigned i = 0; i < PAGES; i++)
		*(volatile uint32_t *)(page_va(phase, i) + 4 * i) = 0x5a000000u + phase * 256 + i;
	return 0;
}

static uint32_t user_read_pages(uint32_t phase)
{
	uint32_t sum = 0;
	for (unsigned i = 0; i < PAGES; i++)
		sum += *(volatile uint32_t *)(page_va(phase, i) + 4 * i);
	return sum;
}

static void fresh_frames(void)
{
	for (unsigned i = 0; i < PAGES; i++)
		frames[i] = alloc_frame();
}

/* How many of the phase's pages hold in their frame what the user wrote,
 * and have exactly the flags in want among those in mask. */
static unsigned pages_right(unsigned phase, uint32_t mask, uint32_t want, int written)
{
	unsigned right = 0;
	for (unsigned i = 0; i < PAGES; i++) {
		pte_t pte = *get_pte(pd, page_va(phase, i));
		uint32_t word = *(volatile uint32_t *)(frames[i] + 4 * i);
		right += (pte & mask) == want &&
			 (!written || word == 0x5a000000u + phase * 256 + i);
	}
	return right;
}

static void no_vmm(struct ex_regs *regs)
{
	regs->eax = (uint32_t)RV_ENOSYS;
}

static void register_pv_irq(void)
{
	handle_exception(RV_HYPERCALL_VECTOR, no_vmm);
	uint32_t probe, ret;
	__asm__ volatile("int %1" : "=a"(probe) : "i"(RV_HYPERCALL_VECTOR), "a"(RV_HC_PROBE)
			 : "memory");
	if (probe == RV_PROBE_MAGIC)
		__asm__ volatile("int %1" : "=a"(ret)
				 : "i"(RV_HYPERCALL_VECTOR), "a"(RV_HC_PV_IRQ), "b"((uint32_t)&pv)
				 : "memory");
}

/* One phase: fresh frames, the handler mapping with flags, the user's
 * accesses; how many not-present faults it took. */
static unsigned run_phase(unsigned phase, uint32_t flags, uint32_t (*user)(uint32_t))
{
	fresh_frames();
	faults = 0;
	handler_flags = flags;
	run_in_user(user, phase);
	return faults;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pd = identity_pd(true);
	/* The window's page table, every entry not present. */
	for (unsigned i = 0; i < 4 * PAGES; i++)
		map_page(pd, WINDOW + i * 4096u, 0, 0);
	for (unsigned i = 0; i < 4 * PAGES; i++)
		*get_pte(pd, WINDOW + i * 4096u) = 0;
	enable_paging(pd);
	handle_exception(14, on_page_fault);
	if (cpuid_features() & CPUID_SEP)
		wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
	register_pv_irq();

	/* As Linux maps an anonymous page for a write: accessed and dirty. */
	report_eq(run_phase(0, PTE_W | PTE_U | PTE_A | PTE_D, user_write_pages), PAGES,
		  "one fault per page, mapped accessed and dirty");
	report_eq(pages_right(0, PTE_A | PTE_D, PTE_A | PTE_D, 1), PAGES,
		  "each write went to the frame mapped");

	/* Mapped with neither flag, then read: the retry sets A, not D. */
	report_eq(run_phase(1, PTE_W | PTE_U, user_read_pages), PAGES,
		  "one fault per page, mapped clean and unaccessed");
	report_eq(pages_right(1, PTE_A | PTE_D, PTE_A, 0), PAGES,
		  "each read set the accessed flag only");

	/* Mapped accessed but clean, then written: the retry sets D. */
	report_eq(run_phase(2, PTE_W | PTE_U | PTE_A, user_write_pages), PAGES,
		  "one fault per page, mapped accessed and clean");
	report_eq(pages_right(2, PTE_A | PTE_D, PTE_A | PTE_D, 1), PAGES,
		  "each write set the dirty flag");

	/* Mapped for the kernel only: the retry faults again (protection),
	 * the handler then gives it to user mode. */
	report_eq(run_phase(3, PTE_W | PTE_A | PTE_D, user_write_pages), PAGES,
		  "one not-present fault per page");
	report_eq(faults_again, PAGES, "and one more for a kernel-only page");
	report_eq(pages_right(3, PTE_U, PTE_U, 1), PAGES, "each write went through then");
	report_eq(strays, 0, "no other fault");
	report_eq(cr2_differs, 0, "the paravirtual CR2, if any, was CR2 at every fault");
	report_summary();
}
