#include "guests/lib/paging.h"

#include "guests/lib/processor.h"
#include "guests/lib/report.h"
#include "lib/string.h"

extern char __bss_end[];

static uint32_t next_frame = FRAME_POOL_START;

uint32_t image_end(void)
{
	return ((uint32_t)__bss_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

uint32_t alloc_frame(void)
{
	if (next_frame >= FRAME_POOL_END) {
		report(false, "the frame pool is exhausted");
		report_summary();
	}
	uint32_t pa = next_frame;
	next_frame += PAGE_SIZE;
	/* Through the identity map (or with paging off): the pool is in it. */
	memset((void *)pa, 0, PAGE_SIZE);
	return pa;
}

pte_t *new_pd(void)
{
	return (pte_t *)alloc_frame();
}

pte_t *clone_pd(const pte_t *src)
{
	pte_t *pd = new_pd();
	memcpy(pd, src, PAGE_SIZE);
	return pd;
}

pte_t *get_pte(pte_t *pd, uint32_t va)
{
	pte_t pde = *get_pde(pd, va);
	if (!(pde & PTE_P) || (pde & PTE_PS))
		return NULL;
	return (pte_t *)(pde & PTE_ADDR) + ((va >> 12) & 1023);
}

pte_t *map_page(pte_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
	pte_t *pde = get_pde(pd, va);
	if (!(*pde & PTE_P) || (*pde & PTE_PS))
		*pde = alloc_frame() | PTE_P | PTE_W | PTE_U;
	pte_t *pte = get_pte(pd, va);
	*pte = (pa & PTE_ADDR) | (flags & 0xfff) | PTE_P;
	return pte;
}

void map_range(pte_t *pd, uint32_t va, uint32_t pa, uint32_t size, uint32_t flags)
{
	for (uint32_t off = 0; off < size; off += PAGE_SIZE)
		map_page(pd, va + off, pa + off, flags);
}

void map_large(pte_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
	*get_pde(pd, va) = (pa & PDE_LARGE_ADDR) | (flags & 0xfff) | PTE_P | PTE_PS;
}

void unmap_page(pte_t *pd, uint32_t va)
{
	pte_t *pde = get_pde(pd, va);
	if (*pde & PTE_PS) {
		*pde = 0;
		return;
	}
	pte_t *pte = get_pte(pd, va);
	if (pte)
		*pte = 0;
}

bool translate(pte_t *pd, uint32_t va, uint32_t *pa)
{
	pte_t pde = *get_pde(pd, va);
	if (!(pde & PTE_P))
		return false;
	if (pde & PTE_PS) {
		*pa = (pde & PDE_LARGE_ADDR) | (va & (LARGE_PAGE_SIZE - 1));
		return true;
	}
	pte_t pte = *get_pte(pd, va);
	if (!(pte & PTE_P))
		return false;
	*pa = (pte & PTE_ADDR) | (va & (PAGE_SIZE - 1));
	return true;
}

pte_t *identity_pd(bool user_image)
{
	pte_t *pd = new_pd();
	uint32_t end = image_end();
	for (uint32_t a = 0; a < IDENTITY_END; a += PAGE_SIZE) {
		bool user = user_image && a >= IMAGE_START && a < end;
		map_page(pd, a, a, PTE_W | (user ? PTE_U : 0));
	}
	return pd;
}

void enable_paging(pte_t *pd)
{
	write_cr3((uint32_t)pd);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

void disable_paging(void)
{
	write_cr0(read_cr0() & ~CR0_PG);
}

bool paging_enabled(void)
{
	return read_cr0() & CR0_PG;
}

bool enable_pse(void)
{
	if (!(cpuid_features() & CPUID_PSE))
		return false;
	write_cr4(read_cr4() | CR4_PSE);
	return true;
}

bool enable_pge(void)
{
	if (!(cpuid_features() & CPUID_PGE))
		return false;
	write_cr4(read_cr4() | CR4_PGE);
	return true;
}

struct pf_record pf_last;
static const struct pf_fixup *fixups;
static unsigned nr_fixups;

static void pf_handler(struct ex_regs *r)
{
	uint32_t cr2 = read_cr2();

	ex_record(r);
	pf_last.count++;
	pf_last.cr2 = cr2;
	pf_last.error = r->error;
	pf_last.eip = r->eip;
	pf_last.cs = r->cs & 0xffff;
	pf_last.esp = ex_from_user(r) ? r->esp : 0;
	pf_last.frame = (uint32_t)&r->eip;

	if (ex_fixup) {
		r->eip = ex_fixup;
		ex_fixup = 0;
		return;
	}
	for (unsigned i = 0; i < nr_fixups; i++) {
		if (fixups[i].insn == r->eip) {
			r->eip = fixups[i].fixup;
			r->eax = cr2;
			r->edx = r->error;
			return;
		}
	}
	detail("error 0x%x, cr2 0x%x, at %x:%x", r->error, cr2, r->cs & 0xffff, r->eip);
	report(false, "unexpected page fault");
	report_summary();
}

void pf_install(const struct pf_fixup *table, unsigned entries)
{
	fixups = table;
	nr_fixups = entries;
	handle_exception(14, pf_handler);
}

void pf_clear(void)
{
	pf_last = (struct pf_record){ 0 };
	ex_clear();
}

static bool check(const char *field, uint32_t got, uint32_t want)
{
	if (got == want)
		return true;
	detail("%s 0x%x, want 0x%x", field, got, want);
	return false;
}

bool pf_matches(uint32_t error, uint32_t cr2, uint32_t eip, uint32_t cs,
		uint32_t esp)
{
	if (ex_last.count == 0) {
		detail("no exception");
		return false;
	}
	bool ok = check("exceptions", ex_last.count, 1);
	ok &= check("vector", ex_last.vector, 14);
	ok &= check("page faults", pf_last.count, 1);
	ok &= check("error", pf_last.error, error);
	ok &= check("cr2", pf_last.cr2, cr2);
	ok &= check("eip", pf_last.eip, eip);
	ok &= check("cs", pf_last.cs, cs);
	if (cs == USER_CS) {
		ok &= check("esp", pf_last.esp, esp);
		ok &= check("ss", ex_last.ss, USER_DS);
	}
	return ok;
}

bool report_pf(const char *name, uint32_t error, uint32_t cr2, uint32_t eip,
	       uint32_t cs)
{
	return report(pf_matches(error, cr2, eip, cs, 0), "%s", name);
}

bool report_user_pf(const char *name, uint32_t error, uint32_t cr2, uint32_t eip,
		    uint32_t esp)
{
	return report(pf_matches(error, cr2, eip, USER_CS, esp), "%s", name);
}
