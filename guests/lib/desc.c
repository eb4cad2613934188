#include "guests/lib/desc.h"

#include "guests/lib/pic.h"
#include "guests/lib/processor.h"
#include "guests/lib/report.h"

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
uint64_t idt[256] __attribute__((aligned(8)));
struct tss tss __attribute__((aligned(16)));

/* The stack a transition from user mode switches to (TSS esp0). */
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));

extern char vector_stubs[];

struct ex_record ex_last;
volatile uint32_t ex_fixup;
unsigned ex_depth;
static ex_handler handlers[256];

uint64_t make_seg(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff)
		| (uint64_t)(base & 0xffffff) << 16
		| (uint64_t)access << 40
		| (uint64_t)((limit >> 16) & 0xf) << 48
		| (uint64_t)(flags & 0xf) << 52
		| (uint64_t)(base >> 24) << 56;
}

uint32_t seg_base(uint64_t d)
{
	return (uint32_t)((d >> 16) & 0xffffff) | (uint32_t)(d >> 56) << 24;
}

void gdt_set(unsigned index, uint64_t desc)
{
	gdt[index] = desc;
}

uint64_t make_gate(uint32_t offset, uint16_t sel, unsigned type, unsigned dpl,
		   bool present)
{
	return (uint64_t)(offset & 0xffff)
		| (uint64_t)sel << 16
		| (uint64_t)((present ? SEG_P : 0) | SEG_DPL(dpl) | type) << 40
		| (uint64_t)(offset >> 16) << 48;
}

uint32_t vector_stub(unsigned vec)
{
	return (uint32_t)vector_stubs + 16 * vec;
}

void idt_set_gate(unsigned vec, unsigned type, unsigned dpl)
{
	idt[vec] = make_gate(vector_stub(vec), KERNEL_CS, type, dpl, true);
}

ex_handler handle_exception(unsigned vec, ex_handler fn)
{
	ex_handler old = handlers[vec];
	handlers[vec] = fn;
	return old;
}

void ex_clear(void)
{
	ex_last = (struct ex_record){ 0 };
}

void ex_record(const struct ex_regs *r)
{
	ex_last.count++;
	ex_last.vector = r->vector;
	ex_last.error = r->error;
	ex_last.eip = r->eip;
	ex_last.cs = r->cs & 0xffff;
	ex_last.eflags = r->eflags;
	ex_last.esp = ex_from_user(r) ? r->esp : 0;
	ex_last.ss = ex_from_user(r) ? r->ss & 0xffff : 0;
	ex_last.frame = (uint32_t)&r->eip;
	ex_last.depth = ex_depth;
}

/* No handler installed: record, and resume where ASM_TRY said.  An exception
 * nobody expected ends the run: going on would only add confusion. */
static void default_handler(struct ex_regs *r)
{
	ex_record(r);
	if (ex_fixup) {
		r->eip = ex_fixup;
		ex_fixup = 0;
		return;
	}
	detail("error 0x%x, at %x:%x, eflags 0x%x", r->error, r->cs & 0xffff,
	       r->eip, r->eflags);
	report(false, "unexpected exception %u", r->vector);
	report_summary();
}

void exception_dispatch(struct ex_regs *r);
void exception_dispatch(struct ex_regs *r)
{
	ex_depth++;
	if (handlers[r->vector])
		handlers[r->vector](r);
	else
		default_handler(r);
	ex_depth--;
}

static bool check(const char *field, uint32_t got, uint32_t want)
{
	if (got == want)
		return true;
	detail("%s 0x%x, want 0x%x", field, got, want);
	return false;
}

bool report_exception(const char *name, unsigned vector, uint32_t error,
		      uint32_t eip, uint32_t cs)
{
	bool ok = check("count", ex_last.count, 1);
	ok &= check("vector", ex_last.vector, vector);
	ok &= check("error", ex_last.error, error);
	ok &= check("eip", ex_last.eip, eip);
	ok &= check("cs", ex_last.cs, cs);
	return report(ok, "%s", name);
}

bool report_user_exception(const char *name, unsigned vector, uint32_t error,
			   uint32_t eip, uint32_t esp)
{
	bool ok = check("count", ex_last.count, 1);
	ok &= check("vector", ex_last.vector, vector);
	ok &= check("error", ex_last.error, error);
	ok &= check("eip", ex_last.eip, eip);
	ok &= check("cs", ex_last.cs, USER_CS);
	ok &= check("esp", ex_last.esp, esp);
	ok &= check("ss", ex_last.ss, USER_DS);
	return report(ok, "%s", name);
}

/*
 * Load the GDT and reload every segment register from it: a far jump for
 * %cs, plain moves for the rest.
 */
static void load_gdt(void)
{
	struct pseudo_desc p = { sizeof(gdt) - 1, (uint32_t)gdt };
	lgdt(&p);
	__asm__ volatile("ljmp %0, $1f\n"
			 "1:\n\t"
			 "movl %1, %%ds\n\t"
			 "movl %1, %%es\n\t"
			 "movl %1, %%fs\n\t"
			 "movl %1, %%gs\n\t"
			 "movl %1, %%ss"
			 : : "i"(KERNEL_CS), "r"(KERNEL_DS) : "memory");
}

void desc_setup(void)
{
	/* Flat 4 GiB segments, like Linux's. */
	gdt[KERNEL_CS >> 3] = make_seg(0, 0xfffff, SEG_P | SEG_S | SEG_CODE_RX, SEG_G | SEG_DB);
	gdt[KERNEL_DS >> 3] = make_seg(0, 0xfffff, SEG_P | SEG_S | SEG_DATA_RW, SEG_G | SEG_DB);
	gdt[USER_CS >> 3] = make_seg(0, 0xfffff, SEG_P | SEG_DPL(3) | SEG_S | SEG_CODE_RX,
				     SEG_G | SEG_DB);
	gdt[USER_DS >> 3] = make_seg(0, 0xfffff, SEG_P | SEG_DPL(3) | SEG_S | SEG_DATA_RW,
				     SEG_G | SEG_DB);
	/* No I/O bitmap: the iomap base points past the TSS limit, so user
	 * in/out with IOPL 0 always raises #GP. */
	tss.esp0 = (uint32_t)kernel_stack + sizeof(kernel_stack);
	tss.ss0 = KERNEL_DS;
	tss.iomap_base = sizeof(tss);
	gdt[TSS_SEL >> 3] = make_seg((uint32_t)&tss, sizeof(tss) - 1, SEG_P | SEG_TSS32, 0);
	load_gdt();
	ltr(TSS_SEL);

	for (unsigned v = 0; v < 256; v++)
		idt_set_gate(v, GATE_INTR, 0);
	idt_set_gate(USER_RETURN_VECTOR, GATE_INTR, 3);
	struct pseudo_desc p = { sizeof(idt) - 1, (uint32_t)idt };
	lidt(&p);

	/* The firmware leaves the PIT ticking on IRQ 0 at vector 8: move the
	 * PICs off the exception vectors and mask every line. */
	pic_init(PIC_DEFAULT_BASE);
}
