/*
 * The test guest's own descriptor tables, and how tests catch exceptions.
 *
 * The GDT copies Linux i386's layout (arch/x86/include/asm/segment.h), so a
 * test guest exercises the same selectors the VMM sees from Linux:
 *
 *   index  selector  use
 *   6-8    0x33-0x43 TLS entries (empty until a test fills them)
 *   12     0x60      kernel code       13  0x68  kernel data (also ss)
 *   14     0x73      user code, DPL 3  15  0x7b  user data, DPL 3
 *   16     0x80      TSS               17  0x88  LDT (tests fill it)
 *   20-31            free for tests (GDT_TEST_FIRST..)
 *
 * The IDT has 256 interrupt gates, DPL 0, each to a small stub in entry.S
 * that saves the registers as struct ex_regs and calls the C dispatcher.
 * Vector 0x80 is DPL 3: user code leaves through it (usermode.h).
 */
#ifndef GUESTS_LIB_DESC_H
#define GUESTS_LIB_DESC_H

#define KERNEL_CS 0x60
#define KERNEL_DS 0x68
#define USER_CS   0x73
#define USER_DS   0x7b
#define TSS_SEL   0x80
#define LDT_SEL   0x88

#define GDT_ENTRIES     32
#define GDT_TLS_FIRST   6
#define GDT_TEST_FIRST  20

#define USER_RETURN_VECTOR 0x80

/*
 * Exception catching, in the manner of kvm-unit-tests' ASM_TRY: put
 * ASM_TRY("1f") in front of an instruction that may fault and a label "1:"
 * where execution should go on.  If any exception happens before the label,
 * the default handler records it (ex_last) and resumes at the label.  The
 * arming is undone by the first exception, so each ASM_TRY covers one.
 *
 * For a trap (int3, into, int n) put the label right after the
 * instruction: the frame already points there.
 *
 * The store goes through %ss, which tests never point anywhere odd (a test
 * that reloads %ds with a bad selector still gets its ASM_TRY).  It is
 * written with "%%", so use it only in extended asm (with a colon).
 */
#define ASM_TRY(catch) "movl $" catch ", %%ss:ex_fixup\n\t"

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/* Access byte of a segment descriptor: P, DPL, S, type (SDM Vol. 3A §3.4.5). */
#define SEG_P         0x80
#define SEG_DPL(n)    ((n) << 5)
#define SEG_S         0x10	/* code or data, not system */
#define SEG_CODE_RX   0x0a
#define SEG_DATA_RW   0x02
#define SEG_DATA_RW_DOWN 0x06	/* expand-down */
#define SEG_ACCESSED  0x01
#define SEG_LDT       0x02	/* system types */
#define SEG_TSS32     0x09	/* available */
#define SEG_TSS32_BUSY 0x0b
/* Flags nibble: 4 KiB granularity, 32-bit default size. */
#define SEG_G         0x8
#define SEG_DB        0x4

/* Gate types. */
#define GATE_INTR 0xe	/* clears IF */
#define GATE_TRAP 0xf	/* keeps IF */

/* What the entry stubs save: the frame every exception handler gets. */
struct ex_regs {
	uint32_t gs, fs, es, ds;
	uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
	uint32_t vector;
	uint32_t error;		/* 0 for vectors without an error code */
	uint32_t eip, cs, eflags;	/* pushed by the CPU */
	uint32_t esp, ss;	/* pushed by the CPU only from ring 3 */
};

static inline bool ex_from_user(const struct ex_regs *r)
{
	return (r->cs & 3) != 0;
}

/* The last exception the default handler saw (or a handler passed to
 * ex_record).  esp/ss are 0 unless it came from user mode. */
struct ex_record {
	unsigned count;		/* exceptions recorded since ex_clear() */
	unsigned vector;
	uint32_t error;
	uint32_t eip, cs, eflags;
	uint32_t esp, ss;
	uint32_t frame;		/* address of the EIP the CPU pushed */
	unsigned depth;		/* 1 = not nested inside another handler */
};

extern struct ex_record ex_last;
extern volatile uint32_t ex_fixup;	/* set by ASM_TRY */
extern unsigned ex_depth;		/* handlers running right now */

typedef void (*ex_handler)(struct ex_regs *regs);

/* Install fn for vec (NULL: the default handler); returns the old one. */
ex_handler handle_exception(unsigned vec, ex_handler fn);
void ex_clear(void);
void ex_record(const struct ex_regs *regs);

/*
 * Report one test: that exactly one exception was recorded since ex_clear(),
 * with this vector, error code, EIP and CS.  On failure the details say
 * which field differed.
 */
bool report_exception(const char *name, unsigned vector, uint32_t error,
		      uint32_t eip, uint32_t cs);
/* The same for an exception from user mode, also checking SS:ESP. */
bool report_user_exception(const char *name, unsigned vector, uint32_t error,
			   uint32_t eip, uint32_t esp);

/* The tables themselves, for tests that edit them. */
extern uint64_t gdt[GDT_ENTRIES];
extern uint64_t idt[256];

struct tss {
	uint32_t link;
	uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
	uint32_t cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));
extern struct tss tss;	/* esp0: the stack user -> kernel transitions use */

/* limit is in bytes, or in 4 KiB pages when flags has SEG_G. */
uint64_t make_seg(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void gdt_set(unsigned index, uint64_t desc);
uint32_t seg_base(uint64_t desc);

/* Point vec's gate at its own entry stub, with this type and DPL. */
void idt_set_gate(unsigned vec, unsigned type, unsigned dpl);
/* Raw gate: any handler address and selector; present unless !present. */
uint64_t make_gate(uint32_t offset, uint16_t sel, unsigned type, unsigned dpl,
		   bool present);
uint32_t vector_stub(unsigned vec);	/* address of vec's entry stub */

/* Called once by start.S before main: GDT, TSS, IDT, PICs masked. */
void desc_setup(void);

#endif
#endif
