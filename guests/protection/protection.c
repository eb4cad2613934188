/*
 * protection: the page-level protection matrix (SDM Vol. 3A §4.6) - read,
 * write and execute, from user mode and from the kernel, of every kind of
 * page - each checked for the exact #PF error code (§4.7), CR2, and frame,
 * and for what the access did or did not change in memory.
 *
 * This is what the virtual protection ring (paper §3, §4.4.3) must
 * reproduce: under ringvisor both the guest kernel and its user code run in
 * ring 3, and only the choice between the kernel-mode and the user-mode
 * shadow table tells them apart.  A user access to a supervisor page must
 * still come out as a protection fault with U = 1, a kernel access to a
 * user page must work, and a kernel write to a read-only page must fault
 * with CR0.WP = 1 and work with CR0.WP = 0.  Addresses in the VMM's space
 * (0xFC000000 and up), unmapped in the guest's tables, must fault like any
 * unmapped address.
 *
 * Then the kernel touching user memory and recovering, as Linux's
 * copy_from_user does with its exception table: a faulting rep movsb
 * resumes at a fixup that returns the bytes not copied - directly and
 * inside a system call made from user mode.  Last, ring transitions with
 * the GDT, IDT and kernel stack on supervisor-only pages: the CPU's
 * implicit accesses to them are supervisor accesses even from user mode
 * (§4.6, "implicit supervisor-mode accesses").
 *
 * Non-PAE paging has no execute-disable: a fetch is a read, so the error
 * code of a faulting fetch is that of a read (no I/D bit, §4.7).
 */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define TEST_VA(n)  (0x40000000u + (n) * PAGE_SIZE)
#define PDE_SUP_VA  0x40400000u	/* user PTE under a supervisor PDE */
#define PDE_RO_VA   0x40800000u	/* writable PTE under a read-only PDE */
#define LARGE_SUP_VA 0x80000000u
#define LARGE_URO_VA 0x80400000u
#define DATA_OFF    0x100u	/* reads and writes go here; code is at 0 */
#define WRITTEN     0x600du
#define SYSCALL_VECTOR 0x81

enum op { READ, WRITE, EXEC };
static const char *const op_name[] = { "read", "write", "exec" };
#define OK (-1)		/* the access works */

/* The 4 KiB test pages, in this order at TEST_VA(n). */
enum { KERNEL_RW, KERNEL_RO, USER_RW, UNMAPPED, USER_RW2, USER_RO, NPAGES };

struct page {
	const char *name;
	uint32_t va;
	uint32_t pa;		/* 0: no frame (unmapped, or the VMM's space) */
	int error[2][3];	/* [user][op]: the #PF error code, or OK */
};

static struct page pages[] = {
	{ "kernel page", TEST_VA(KERNEL_RW), 0,
	  { { OK, OK, OK }, { 0x5, 0x7, 0x5 } } },
	{ "read-only kernel page", TEST_VA(KERNEL_RO), 0,
	  { { OK, 0x3, OK }, { 0x5, 0x7, 0x5 } } },
	{ "user page", TEST_VA(USER_RW), 0,
	  { { OK, OK, OK }, { OK, OK, OK } } },
	{ "read-only user page", TEST_VA(USER_RO), 0,
	  { { OK, 0x3, OK }, { OK, 0x7, OK } } },
	{ "unmapped page", TEST_VA(UNMAPPED), 0,
	  { { 0x0, 0x2, 0x0 }, { 0x4, 0x6, 0x4 } } },
	{ "user PTE under kernel PDE", PDE_SUP_VA, 0,
	  { { OK, OK, OK }, { 0x5, 0x7, 0x5 } } },
	{ "writable PTE under read-only PDE", PDE_RO_VA, 0,
	  { { OK, 0x3, OK }, { OK, 0x7, OK } } },
	{ "4 MiB kernel page", LARGE_SUP_VA, LARGE_FRAME0,
	  { { OK, OK, OK }, { 0x5, 0x7, 0x5 } } },
	{ "read-only 4 MiB user page", LARGE_URO_VA, LARGE_FRAME1,
	  { { OK, 0x3, OK }, { OK, 0x7, OK } } },
	{ "0xfc000000", 0xfc000000u, 0,
	  { { 0x0, 0x2, 0x0 }, { 0x4, 0x6, 0x4 } } },
	{ "0xfffff000", 0xfffff000u, 0,
	  { { 0x0, 0x2, 0x0 }, { 0x4, 0x6, 0x4 } } },
};
#define NR_CASES (sizeof(pages) / sizeof(pages[0]))
#define LARGE_PAGES_FIRST 7	/* pages[7], pages[8] need CR4.PSE */

static pte_t *pd;
static uint32_t frames[NPAGES];
static bool have_pse;

/* Written by the access functions, from either ring (the image is user
 * pages): where the access instruction was, and the stack pointer. */
static uint32_t at, esp_at;

/*
 * The accesses, each under ASM_TRY.  do_exec jumps to va, where every test
 * page holds "jmp *%ecx" back to the label: a faulting fetch has va as its
 * EIP.  Each returns what tells that the access worked.
 */
static uint32_t do_read(uint32_t va)
{
	uint32_t v = 0;
	__asm__ volatile("movl %%esp, %1\n\tmovl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl (%3), %2\n2:"
			 : "=&r"(at), "=&r"(esp_at), "+r"(v) : "r"(va) : "memory");
	return v;
}

static uint32_t do_write(uint32_t va)
{
	__asm__ volatile("movl %%esp, %1\n\tmovl $1f, %0\n\t" ASM_TRY("2f")
			 "1: movl %2, (%3)\n2:"
			 : "=&r"(at), "=&r"(esp_at) : "i"(WRITTEN), "r"(va) : "memory");
	return 0;
}

static uint32_t do_exec(uint32_t va)
{
	uint32_t back = 0;
	__asm__ volatile("movl %%esp, %1\n\tmovl $2f, %%ecx\n\t" ASM_TRY("3f")
			 "jmp *%3\n"
			 "2: movl $1, %2\n"
			 "3:"
			 : "=&r"(at), "=&r"(esp_at), "+r"(back) : "r"(va) : "ecx", "memory");
	at = va;
	return back;
}

static user_fn const access[] = { do_read, do_write, do_exec };

static uint32_t marker(const struct page *p)
{
	return 0xa5000000u | (p->va >> 12);
}

/* Reset a page's frame: the jmp back at 0, the marker at DATA_OFF. */
static void reset_frame(const struct page *p)
{
	if (!p->pa)
		return;
	*(volatile uint16_t *)p->pa = 0xe1ff;	/* jmp *%ecx */
	*(volatile uint32_t *)(p->pa + DATA_OFF) = marker(p);
}

/* One access; error is the expected #PF error code or OK.  Checks the
 * fault (or that there was none) and the memory the access touched. */
static void check_access(const struct page *p, bool user, enum op op, int error,
			 const char *suffix)
{
	uint32_t va = op == EXEC ? p->va : p->va + DATA_OFF;
	volatile uint32_t *data = (volatile uint32_t *)(p->pa + DATA_OFF);

	reset_frame(p);
	pf_clear();
	uint32_t got = user ? run_in_user(access[op], va) : access[op](va);

	bool ok;
	if (error == OK) {
		ok = ex_last.count == 0;
		if (!ok)
			detail("#PF error 0x%x cr2 0x%x", pf_last.error, pf_last.cr2);
		if (op == READ && p->pa && got != marker(p)) {
			detail("read 0x%x", got);
			ok = false;
		}
		if (op == WRITE && p->pa && *data != WRITTEN) {
			detail("the write did not land");
			ok = false;
		}
		if (op == EXEC && got != 1) {
			detail("did not come back");
			ok = false;
		}
	} else {
		ok = pf_matches(error, va, at, user ? USER_CS : KERNEL_CS, esp_at);
		if (op == WRITE && p->pa && *data != marker(p)) {
			detail("a faulting write changed memory");
			ok = false;
		}
	}
	report(ok, "%s %s %s%s", user ? "user" : "kernel", op_name[op], p->name, suffix);
}

static void setup(void)
{
	static const uint32_t flags[NPAGES] = {
		[KERNEL_RW] = PTE_W, [KERNEL_RO] = 0, [USER_RW] = PTE_W | PTE_U,
		[USER_RW2] = PTE_W | PTE_U, [USER_RO] = PTE_U,
	};
	pd = identity_pd(true);
	for (unsigned n = 0; n < NPAGES; n++) {
		frames[n] = alloc_frame();
		if (n != UNMAPPED)
			map_page(pd, TEST_VA(n), frames[n], flags[n]);
	}
	/* pages[] by name: fill in the frames. */
	pages[0].pa = frames[KERNEL_RW];
	pages[1].pa = frames[KERNEL_RO];
	pages[2].pa = frames[USER_RW];
	pages[3].pa = frames[USER_RO];

	/* The PDE's rights combine with the PTE's (§4.6.1): map_page makes
	 * the PDE P|W|U, then one bit is taken away. */
	pages[5].pa = alloc_frame();
	map_page(pd, PDE_SUP_VA, pages[5].pa, PTE_W | PTE_U);
	*get_pde(pd, PDE_SUP_VA) &= ~PTE_U;
	pages[6].pa = alloc_frame();
	map_page(pd, PDE_RO_VA, pages[6].pa, PTE_W | PTE_U);
	*get_pde(pd, PDE_RO_VA) &= ~PTE_W;

	have_pse = enable_pse();
	if (have_pse) {
		map_large(pd, LARGE_SUP_VA, LARGE_FRAME0, PTE_W);
		map_large(pd, LARGE_URO_VA, LARGE_FRAME1, PTE_U);
	}
	enable_paging(pd);
}

static void test_matrix(bool user)
{
	for (unsigned i = 0; i < NR_CASES; i++) {
		for (int op = READ; op <= EXEC; op++) {
			if (i >= LARGE_PAGES_FIRST && i < LARGE_PAGES_FIRST + 2 && !have_pse) {
				report_skip("CPUID: no PSE", "%s %s %s", user ? "user" : "kernel",
					    op_name[op], pages[i].name);
				continue;
			}
			check_access(&pages[i], user, op, pages[i].error[user][op], "");
		}
	}
}

/* With CR0.WP = 0 the kernel may write to read-only pages; user code still
 * may not (§4.6.1).  No TLB flush follows the change: the SDM lists none for
 * CR0.WP (§4.10.4.1), the rights are checked against the current CR0.WP. */
static void test_wp_off(void)
{
	write_cr0(read_cr0() & ~CR0_WP);
	for (unsigned i = 0; i < NR_CASES; i++) {
		const struct page *p = &pages[i];
		if (p->error[0][WRITE] != 0x3 || (i >= LARGE_PAGES_FIRST && !have_pse &&
						  i < LARGE_PAGES_FIRST + 2))
			continue;
		check_access(p, false, WRITE, OK, ", WP=0");
		check_access(p, true, WRITE, p->error[1][WRITE], ", WP=0");
	}
	write_cr0(read_cr0() | CR0_WP);
	check_access(&pages[1], false, WRITE, 0x3, ", WP=1 again");
}

/*
 * uint32_t copy_user(void *dst, const void *src, uint32_t n): copy n bytes
 * with rep movsb and return how many were not copied.  If the copy faults,
 * the #PF handler resumes at copy_user_fixup (pf_install's table), where
 * ECX still counts the bytes left (a faulting rep movsb stops at the byte
 * that faulted, with ESI, EDI and ECX pointing there).
 */
__asm__(".text\n"
	"copy_user:\n\t"
	"pushl %esi\n\t"
	"pushl %edi\n\t"
	"movl 12(%esp), %edi\n\t"
	"movl 16(%esp), %esi\n\t"
	"movl 20(%esp), %ecx\n"
	"copy_user_insn:\n\t"
	"rep movsb\n"
	"copy_user_fixup:\n\t"
	"movl %ecx, %eax\n\t"
	"popl %edi\n\t"
	"popl %esi\n\t"
	"ret");
uint32_t copy_user(void *dst, const void *src, uint32_t n);
extern char copy_user_insn[], copy_user_fixup[];

static struct pf_fixup fixup_table[1];
static uint8_t kbuf[128];

static void fill(uint32_t pa, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		((volatile uint8_t *)pa)[i] = (uint8_t)(seed + i);
}

static bool same(const void *a, uint32_t pa, uint32_t len)
{
	return memcmp(a, (const void *)pa, len) == 0;
}

/* The kernel's #PF for a copy: one fault, in the kernel, at the rep movsb. */
static bool copy_fault(uint32_t error, uint32_t cr2)
{
	return pf_matches(error, cr2, (uint32_t)copy_user_insn, KERNEL_CS, 0);
}

/* A system call: copy ECX bytes from the user's EBX into kbuf. */
static void sys_copy(struct ex_regs *r)
{
	r->eax = copy_user(kbuf, (const void *)r->ebx, r->ecx);
}

static uint32_t user_syscall(uint32_t src)
{
	uint32_t left;
	__asm__ volatile("int %1" : "=a"(left) : "i"(SYSCALL_VECTOR), "b"(src), "c"(64)
			 : "memory");
	return left;
}

static void test_copy_user(void)
{
	uint32_t urw = TEST_VA(USER_RW);
	uint32_t unmapped = TEST_VA(UNMAPPED), uro = TEST_VA(USER_RO);

	fixup_table[0] = (struct pf_fixup){ (uint32_t)copy_user_insn,
					    (uint32_t)copy_user_fixup };
	pf_install(fixup_table, 1);

	fill(frames[USER_RW], PAGE_SIZE, 7);
	pf_clear();
	memset(kbuf, 0, sizeof(kbuf));
	report(copy_user(kbuf, (void *)(urw + 0x200), 64) == 0 && pf_last.count == 0 &&
	       same(kbuf, frames[USER_RW] + 0x200, 64), "copy_from_user of a user page");

	/* The last 40 bytes of USER_RW, then the unmapped page. */
	pf_clear();
	memset(kbuf, 0, sizeof(kbuf));
	uint32_t left = copy_user(kbuf, (void *)(unmapped - 40), 64);
	report(left == 24 && copy_fault(0x0, unmapped) &&
	       same(kbuf, frames[USER_RW] + PAGE_SIZE - 40, 40) && kbuf[40] == 0,
	       "copy_from_user stops at an unmapped page");

	pf_clear();
	memset(kbuf, 0xee, sizeof(kbuf));
	fill(frames[USER_RO], PAGE_SIZE, 3);
	left = copy_user((void *)(uro + 0x200), kbuf, 16);
	report(left == 16 && copy_fault(0x3, uro + 0x200) &&
	       *(volatile uint8_t *)(frames[USER_RO] + 0x200) == 3 + (0x200 & 0xff),
	       "copy_to_user into a read-only page");

	/* The last 8 bytes of USER_RW2, then the read-only USER_RO. */
	pf_clear();
	fill(frames[USER_RW2], PAGE_SIZE, 0);
	left = copy_user((void *)(uro - 8), kbuf, 32);
	report(left == 24 && copy_fault(0x3, uro) &&
	       *(volatile uint32_t *)(frames[USER_RW2] + PAGE_SIZE - 4) == 0xeeeeeeee &&
	       *(volatile uint8_t *)frames[USER_RO] == 3,
	       "copy_to_user stops at a read-only page");

	/* The same inside a system call from user mode: the fault is a
	 * kernel-mode one (U = 0 in the error code, kernel CS in its frame),
	 * nested in the handler of the int from user mode. */
	idt_set_gate(SYSCALL_VECTOR, GATE_INTR, 3);
	handle_exception(SYSCALL_VECTOR, sys_copy);
	pf_clear();
	memset(kbuf, 0, sizeof(kbuf));
	report(run_in_user(user_syscall, urw + 0x300) == 0 && pf_last.count == 0 &&
	       same(kbuf, frames[USER_RW] + 0x300, 64), "a syscall copies from user memory");
	pf_clear();
	memset(kbuf, 0, sizeof(kbuf));
	left = run_in_user(user_syscall, unmapped - 40);
	bool ok = copy_fault(0x0, unmapped);
	ok &= ex_last.depth == 2;
	report(left == 24 && ok && same(kbuf, frames[USER_RW] + PAGE_SIZE - 40, 40),
	       "a syscall's copy_from_user recovers from a #PF");
	handle_exception(SYSCALL_VECTOR, NULL);
	idt_set_gate(SYSCALL_VECTOR, GATE_INTR, 0);
}

/* Copies of the GDT and IDT and a kernel stack, each on a page of its own
 * in the image, made supervisor-only. */
static uint64_t gdt_page[512] __attribute__((aligned(4096)));
static uint64_t idt_page[512] __attribute__((aligned(4096)));
static uint8_t stack_page[4096] __attribute__((aligned(4096)));

static uint32_t add_one(uint32_t x)
{
	return x + 1;
}

static void kernel_only(uint32_t va)
{
	*get_pte(pd, va) &= ~PTE_U;
	invlpg(va);
}

static void test_supervisor_tables(void)
{
	uint32_t old_esp0 = tss.esp0;

	memcpy(gdt_page, gdt, sizeof(gdt));
	memcpy(idt_page, idt, sizeof(idt));
	kernel_only((uint32_t)gdt_page);
	kernel_only((uint32_t)idt_page);
	kernel_only((uint32_t)stack_page);
	struct pseudo_desc g = { sizeof(gdt) - 1, (uint32_t)gdt_page };
	struct pseudo_desc i = { sizeof(idt) - 1, (uint32_t)idt_page };
	lgdt(&g);
	lidt(&i);
	tss.esp0 = (uint32_t)stack_page + sizeof(stack_page);

	report_eq(run_in_user(add_one, 41), 42,
		  "user mode with the GDT, IDT and kernel stack kernel-only");
	report_eq(user_exit_frame + 20, tss.esp0, "int 0x80 frame on the kernel-only stack");
	check_access(&pages[0], true, READ, 0x5, ", tables kernel-only");
	report(pf_last.frame + 20 == tss.esp0, "#PF frame on the kernel-only stack");
	const struct page idt_as_page = { "IDT", (uint32_t)idt_page - DATA_OFF, 0,
					  { { OK, OK, OK }, { 0x5, 0x7, 0x5 } } };
	check_access(&idt_as_page, true, READ, 0x5, "");
	check_access(&idt_as_page, true, WRITE, 0x7, "");

	struct pseudo_desc g0 = { sizeof(gdt) - 1, (uint32_t)gdt };
	struct pseudo_desc i0 = { sizeof(idt) - 1, (uint32_t)idt };
	lgdt(&g0);
	lidt(&i0);
	tss.esp0 = old_esp0;
}

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pf_install(NULL, 0);
	setup();
	test_matrix(true);
	test_matrix(false);
	test_wp_off();
	test_copy_user();
	test_supervisor_tables();
	report_summary();
}
