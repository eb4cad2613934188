/*
 * Segment and gate descriptors (Intel SDM Vol. 3A §3.4.5, §6.11, §7.2.2) and
 * the VMM's GDT layout.
 *
 * GDT entries 0-31 are left to mirror the guest's own GDT (Linux uses 32);
 * the VMM's descriptors start at entry 32, where no guest selector points.
 */
#ifndef ARCH_IA32_DESC_H
#define ARCH_IA32_DESC_H

#define GDT_GUEST_ENTRIES 32
#define GDT_VMM_CS        32
#define GDT_VMM_DS        33
#define GDT_TSS           34	/* the TSS every ring 3 -> 0 transition uses */
#define GDT_DF_TSS        35	/* the task the double-fault gate switches to */
#define GDT_GUEST_CODE    36	/* the guest's current code segment, DPL 3 */
#define GDT_GUEST_STACK   37	/* the guest's current stack segment, DPL 3 */
#define GDT_GUEST_LDT     38	/* the real LDT the guest's LDT is mirrored into */
#define GDT_ESPFIX_SS     39	/* the stack of the return to a 16-bit guest stack */
#define GDT_ENTRIES       40

#define SEL_VMM_CS  (GDT_VMM_CS << 3)	/* 0x100 */
#define SEL_VMM_DS  (GDT_VMM_DS << 3)	/* 0x108 */
#define SEL_TSS     (GDT_TSS << 3)	/* 0x110 */
#define SEL_DF_TSS  (GDT_DF_TSS << 3)	/* 0x118 */
#define SEL_GUEST_CODE ((GDT_GUEST_CODE << 3) | 3)	/* 0x123 */
#define SEL_GUEST_STACK ((GDT_GUEST_STACK << 3) | 3)	/* 0x12b */
#define SEL_GUEST_LDT  (GDT_GUEST_LDT << 3)		/* 0x130 */
#define SEL_ESPFIX_SS  (GDT_ESPFIX_SS << 3)		/* 0x138 */
#define DESC_LDT        0x02

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Access byte: present, DPL, S (code/data), type. */
#define DESC_P          0x80
#define DESC_DPL(n)     ((n) << 5)
#define DESC_S          0x10
#define DESC_CODE_RX    0x0a
#define DESC_DATA_RW    0x02
#define DESC_TSS32      0x09	/* available 32-bit TSS */
/* Flags nibble: 4 KiB granularity, 32-bit default size. */
#define DESC_G          0x8
#define DESC_DB         0x4

struct seg_desc {
	uint16_t limit_lo;
	uint16_t base_lo;
	uint8_t base_mid;
	uint8_t access;
	uint8_t limit_hi_flags;	/* limit 19:16 in bits 3:0, flags in 7:4 */
	uint8_t base_hi;
} __attribute__((packed));

/* limit is in the unit chosen by flags: bytes, or 4 KiB pages with DESC_G. */
static inline struct seg_desc seg_desc(uint32_t base, uint32_t limit,
				       uint8_t access, uint8_t flags)
{
	return (struct seg_desc){
		.limit_lo = limit & 0xffff,
		.base_lo = base & 0xffff,
		.base_mid = (base >> 16) & 0xff,
		.access = access,
		.limit_hi_flags = ((limit >> 16) & 0x0f) | (flags << 4),
		.base_hi = base >> 24,
	};
}

static inline uint64_t seg_desc_raw(struct seg_desc d)
{
	union { struct seg_desc d; uint64_t raw; } u = { .d = d };
	return u.raw;
}

struct gate_desc {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t zero;
	uint8_t type_attr;	/* P, DPL, 0, type */
	uint16_t offset_hi;
} __attribute__((packed));

#define GATE_TASK  0x5
#define GATE_INT32 0xe

static inline struct gate_desc gate_desc(uint32_t offset, uint16_t selector,
					 uint8_t type, unsigned dpl)
{
	return (struct gate_desc){
		.offset_lo = offset & 0xffff,
		.selector = selector,
		.type_attr = DESC_P | DESC_DPL(dpl) | type,
		.offset_hi = offset >> 16,
	};
}

/* The 32-bit TSS (SDM Vol. 3A §7.2.1, Figure 7-2). */
struct tss32 {
	uint32_t link;
	uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
	uint32_t cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs;
	uint32_t ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

#endif /* __ASSEMBLER__ */

#endif
