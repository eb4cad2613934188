/*
 * One-instruction wrappers for what test guests do to the CPU.  Each is the
 * bare instruction: no checks, no side work, so a test reads as the
 * instruction sequence it exercises.
 */
#ifndef GUESTS_LIB_PROCESSOR_H
#define GUESTS_LIB_PROCESSOR_H

#include <stdint.h>

/* EFLAGS bits (SDM Vol. 1 §3.4.3). */
#define EFLAGS_CF   (1u << 0)
#define EFLAGS_FIXED (1u << 1)	/* reads as 1 */
#define EFLAGS_ZF   (1u << 6)
#define EFLAGS_TF   (1u << 8)
#define EFLAGS_IF   (1u << 9)
#define EFLAGS_DF   (1u << 10)
#define EFLAGS_OF   (1u << 11)
#define EFLAGS_IOPL (3u << 12)
#define EFLAGS_NT   (1u << 14)
#define EFLAGS_AC   (1u << 18)

/* CR0 and CR4 bits (SDM Vol. 3A §2.5). */
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_PG (1u << 31)
#define CR4_TSD (1u << 2)
#define CR4_DE  (1u << 3)
#define CR4_PSE (1u << 4)
#define CR4_PGE (1u << 7)

/* MSRs. */
#define MSR_SYSENTER_CS  0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/* CPUID.1:EDX feature bits. */
#define CPUID_DE  (1u << 2)
#define CPUID_PSE (1u << 3)
#define CPUID_TSC (1u << 4)
#define CPUID_MSR (1u << 5)
#define CPUID_SEP (1u << 11)
#define CPUID_PGE (1u << 13)

/* What sgdt/sidt store and lgdt/lidt load. */
struct pseudo_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t read_eflags(void)
{
	uint32_t f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

static inline void write_eflags(uint32_t f)
{
	__asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc");
}

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }

/* Enable interrupts and wait for one: the sti shadow covers the hlt, so an
 * interrupt already pending is taken after hlt, never before it. */
static inline void safe_halt(void) { __asm__ volatile("sti; hlt" : : : "memory"); }

#define DEFINE_CR(n)							\
static inline uint32_t read_cr##n(void)					\
{									\
	uint32_t v;							\
	__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));		\
	return v;							\
}									\
static inline void write_cr##n(uint32_t v)				\
{									\
	__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");	\
}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

#define DEFINE_DR(n)							\
static inline uint32_t read_dr##n(void)					\
{									\
	uint32_t v;							\
	__asm__ volatile("mov %%db" #n ", %0" : "=r"(v));		\
	return v;							\
}									\
static inline void write_dr##n(uint32_t v)				\
{									\
	__asm__ volatile("mov %0, %%db" #n : : "r"(v) : "memory");	\
}
DEFINE_DR(0)
DEFINE_DR(1)
DEFINE_DR(2)
DEFINE_DR(3)
DEFINE_DR(6)
DEFINE_DR(7)
#undef DEFINE_DR

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b,
			 uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(0));
}

/* CPUID.1:EDX, the classic feature flags. */
static inline uint32_t cpuid_features(void)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	return d;
}

static inline void lgdt(const struct pseudo_desc *p)
{
	__asm__ volatile("lgdt %0" : : "m"(*p) : "memory");
}

static inline void sgdt(struct pseudo_desc *p)
{
	__asm__ volatile("sgdt %0" : "=m"(*p));
}

static inline void lidt(const struct pseudo_desc *p)
{
	__asm__ volatile("lidt %0" : : "m"(*p) : "memory");
}

static inline void sidt(struct pseudo_desc *p)
{
	__asm__ volatile("sidt %0" : "=m"(*p));
}

static inline void lldt(uint16_t sel)
{
	__asm__ volatile("lldt %0" : : "rm"(sel) : "memory");
}

static inline uint16_t sldt(void)
{
	uint16_t sel;
	__asm__ volatile("sldt %0" : "=rm"(sel));
	return sel;
}

static inline void ltr(uint16_t sel)
{
	__asm__ volatile("ltr %0" : : "rm"(sel) : "memory");
}

static inline uint16_t str(void)
{
	uint16_t sel;
	__asm__ volatile("str %0" : "=rm"(sel));
	return sel;
}

/* Segment registers.  Never print what these read for %cs or %ss: under
 * the VMM the guest kernel really runs in ring 3 and the RPL shows it. */
#define DEFINE_SEG(s)							\
static inline uint16_t read_##s(void)					\
{									\
	uint16_t v;							\
	__asm__ volatile("mov %%" #s ", %0" : "=rm"(v));		\
	return v;							\
}									\
static inline void write_##s(uint16_t v)				\
{									\
	__asm__ volatile("mov %0, %%" #s : : "rm"(v) : "memory");	\
}
DEFINE_SEG(ds)
DEFINE_SEG(es)
DEFINE_SEG(fs)
DEFINE_SEG(gs)
#undef DEFINE_SEG

#endif
