/*
 * Mirroring guest segment descriptors into the real GDT (paper §4.2).
 *
 * The guest kernel writes descriptors for ring 0; it runs in ring 3.  Every
 * guest descriptor is rewritten before the CPU may use it:
 *   - data segments get DPL 3 where the guest's current virtual ring may
 *     load them (DPL 0 where it may not: a kernel data segment while in
 *     virtual user mode), and a limit clipped so no offset reaches the VMM
 *     at 0xFC000000 and up;
 *   - code segments become read-only data segments if readable (a data
 *     register may hold them, with the rule above for DPL), DPL-0
 *     non-conforming code if execute-only: either way the guest can never
 *     jump, call or IRET to them from ring 3, so every such transfer faults
 *     into the VMM, which completes it (paper §4.5).  The guest's code
 *     actually runs on a VMM-owned alias of the descriptor (see
 *     segments_code_alias).  lar, lsl, verr and verw run natively and so
 *     see the mirror's type and DPL, not the guest's;
 *   - CS and SS always run on VMM-owned aliases, copied when the guest loads
 *     them.  That is the CPU's descriptor cache: a loaded segment keeps
 *     working after the guest rewrites or reloads its GDT, until the guest
 *     loads the register again;
 *   - system descriptors (TSS, LDT, call/task gates) are never mirrored: a
 *     gate in the real GDT could carry ring-3 code into ring 0.  They read
 *     as not present; the VMM emulates ltr/lldt itself.
 *
 * Pure C over 8-byte descriptors: unit-tested on the host.
 */
#ifndef CORE_SEGMENTS_H
#define CORE_SEGMENTS_H

#include <stdint.h>

/* The first linear address the guest may not reach. */
#define GUEST_LINEAR_LIMIT 0xFC000000u

/* Flat 4 GiB ring-0 code and data descriptors: what SYSENTER/SYSEXIT load
 * whatever the GDT says (SDM Vol. 2, SYSENTER), and the boot segments. */
#define FLAT_CODE_DPL0 0x00cf9a000000ffffull
#define FLAT_DATA_DPL0 0x00cf92000000ffffull

/* The selectors a bootloader leaves the guest with, holding flat segments
 * (Linux's 32-bit boot protocol names them; Multiboot leaves them
 * unspecified, so we use the same).  Until the guest loads a GDT of its
 * own, they are what its segment registers hold. */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* A descriptor as the CPU reads it, decoded (SDM Vol. 3A §3.4.5). */
struct segment {
	uint32_t base;
	uint32_t limit;		/* in bytes, after granularity */
	uint8_t type;		/* 4 bits: for S=1, bit 3 = code, bit 2 = expand-down
				   (data) or conforming (code), bit 1 = writable/readable */
	uint8_t s;		/* 1 = code/data, 0 = system */
	uint8_t dpl;
	uint8_t present;
	uint8_t avl, db, g;
};

#define SEG_TYPE_CODE        0x8
#define SEG_TYPE_EXPAND_DOWN 0x4	/* data */
#define SEG_TYPE_CONFORMING  0x4	/* code */
#define SEG_TYPE_WRITABLE    0x2	/* data */
#define SEG_TYPE_READABLE    0x2	/* code */
#define SEG_TYPE_ACCESSED    0x1

struct segment segment_decode(uint64_t raw);

/* Just the base of descriptor raw (the hot paths need no more). */
static inline uint32_t segment_base(uint64_t raw)
{
	uint32_t lo = (uint32_t)raw, hi = (uint32_t)(raw >> 32);
	return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
}
uint64_t segment_encode(const struct segment *seg);

/* Whether a decoded descriptor is a code or data segment (S=1). */
static inline int segment_is_code(const struct segment *s)
{
	return s->s && (s->type & SEG_TYPE_CODE);
}

/* Whether segments_code_alias / segments_stack_alias would make an alias
 * of the decoded descriptor s (the checks on hot paths, without making
 * it): usable as that kind of segment, and not starting in the VMM's
 * space (an expand-down stack keeps its top; paging guards it). */
static inline int segments_code_aliasable(const struct segment *s)
{
	return s->present && segment_is_code(s) && s->base < GUEST_LINEAR_LIMIT;
}

static inline int segments_stack_aliasable(const struct segment *s)
{
	return s->present && s->s && !segment_is_code(s) && (s->type & SEG_TYPE_WRITABLE) &&
	       ((s->type & SEG_TYPE_EXPAND_DOWN) || s->base < GUEST_LINEAR_LIMIT);
}

/* The real descriptor for guest descriptor raw while the guest runs in
 * virtual ring vpl (rules above): a data segment is DPL 3 (usable) when
 * the guest's DPL allows ring vpl to load it, else DPL 0 (loading it from
 * ring 3 is the #GP the guest would get). */
uint64_t segments_mirror(uint64_t raw, unsigned vpl);

/* The descriptor guest code runs on: guest code descriptor raw made DPL 3,
 * non-conforming, clipped.  Returns 0 (not present) if raw is not a present
 * code segment. */
uint64_t segments_code_alias(uint64_t raw);

/* Likewise the descriptor the guest's stack runs on: a present writable data
 * segment made DPL 3 and clipped, or 0. */
uint64_t segments_stack_alias(uint64_t raw);

/* Whether a stack segment descriptor is 16-bit (B=0): pushes, pops and an
 * IRET to it use SP, not ESP (SDM Vol. 3A §3.4.5, D/B flag). */
static inline int segment_raw_stack16(uint64_t raw)
{
	return !((raw >> 54) & 1);
}

/*
 * The espfix stack (arch/ia32/espfix.c).  An IRET to a 16-bit stack
 * segment loads only SP and keeps ESP[31:16] from the ESP it ran on.  To
 * give the guest its own upper half back, that IRET runs on a stack segment
 * of the VMM's whose ESP has the guest's upper half and the lower half of
 * frame (the linear address of the IRET frame), with the base that makes
 * base + ESP = frame (modulo 4 GiB; the segment spans 4 GiB, so it wraps).
 * Returns that base, whose low 16 bits are zero, and that ESP.
 */
struct espfix {
	uint32_t base, esp;
};
struct espfix segments_espfix(uint32_t frame, uint32_t guest_esp);

/* The espfix stack's descriptor: base, 4 GiB, DPL 0, writable, 32-bit
 * (so that IRET reads its frame at ESP, not at SP). */
uint64_t segments_espfix_stack(uint32_t base);

#endif
