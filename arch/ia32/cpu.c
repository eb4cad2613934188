/*
 * Setting up the VMM's GDT, TSS and IDT (paper §4.2, §4.4).
 *
 * The VMM runs in ring 0 with flat 4 GiB segments of its own.  Every vector of
 * the IDT is an interrupt gate into the VMM, so the VMM sees every exception
 * and interrupt first.  The TSS tells the CPU which stack to use when a trap
 * arrives from ring 3, where the guest will run.
 */
#include "arch/ia32/cpu.h"

#include "arch/ia32/memlayout.h"
#include "arch/ia32/trap.h"
#include "arch/ia32/x86.h"
#include "core/palloc.h"

/*
 * Two GDTs, one per virtual ring (GDT_VIEW_KERNEL, GDT_VIEW_USER).  They
 * hold the same VMM entries; the guest's entries are mirrored into each
 * with that ring's rules (core/segments.c), so a guest kernel data segment
 * is usable in one and refused in the other, as the CPU would refuse it to
 * user code.  Switching the virtual ring loads the other one.
 */
static struct seg_desc gdt_views[2][GDT_ENTRIES] __attribute__((aligned(8)));
static struct gate_desc idt[256] __attribute__((aligned(8)));
/*
 * The TSS and its I/O permission bitmap (SDM Vol. 1 §18.5.2): a clear bit
 * lets ring 3 use that port directly.  The bitmap is in force only while
 * iomap_base points at it; pointing it past the TSS limit closes every port.
 * That is how ports are open to the virtual kernel and closed to virtual
 * user mode: one store on each virtual ring switch.  The CPU reads one byte
 * past the bitmap, which must have all bits set.
 */
static struct {
	struct tss32 tss;
	uint8_t io_bitmap[65536 / 8];
	uint8_t io_bitmap_end;
} __attribute__((packed, aligned(128))) tss_area;
#define tss (tss_area.tss)
#define IO_BITMAP_OFFSET ((uint16_t)__builtin_offsetof(typeof(tss_area), io_bitmap))
#define IO_BITMAP_NONE   ((uint16_t)sizeof(tss_area))
static struct tss32 double_fault_tss __attribute__((aligned(128)));

/* The double-fault task's stack, with a guard page below it like the main
 * one (paging_init() unmaps it). */
char double_fault_stack_guard[3 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
#define DOUBLE_FAULT_STACK_TOP (double_fault_stack_guard + sizeof(double_fault_stack_guard))

void double_fault_entry(void);

static void setup_gdt(void)
{
	/* Entries 0-31 stay zero (not present) until a guest's are mirrored. */
	cpu_set_gdt_entry(GDT_VMM_CS, seg_desc_raw(seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_CODE_RX, DESC_G | DESC_DB)));
	cpu_set_gdt_entry(GDT_VMM_DS, seg_desc_raw(seg_desc(0, 0xfffff,
		DESC_P | DESC_DPL(0) | DESC_S | DESC_DATA_RW, DESC_G | DESC_DB)));
	cpu_set_gdt_entry(GDT_TSS, seg_desc_raw(seg_desc((uint32_t)&tss_area,
		sizeof(tss_area) - 1, DESC_P | DESC_TSS32, 0)));
	cpu_set_gdt_entry(GDT_DF_TSS, seg_desc_raw(seg_desc((uint32_t)&double_fault_tss,
		sizeof(double_fault_tss) - 1, DESC_P | DESC_TSS32, 0)));

	struct desc_ptr ptr = { sizeof(gdt_views[0]) - 1, (uint32_t)gdt_views[0] };
	__asm__ volatile(
		"lgdt %0\n\t"
		/* A far jump is the only way to reload CS. */
		"ljmp %1, $1f\n"
		"1:\n\t"
		"movw %w2, %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%fs\n\t"
		"movw %%ax, %%gs\n\t"
		"movw %%ax, %%ss\n\t"
		: : "m"(ptr), "i"(SEL_VMM_CS), "r"((uint32_t)SEL_VMM_DS)
		: "eax", "memory");
}

static void setup_tss(void)
{
	/* A trap from ring 3 switches to this stack (SDM Vol. 3A §6.12.1). */
	tss.ss0 = SEL_VMM_DS;
	tss.esp0 = (uint32_t)boot_stack_top;
	/* Every port closed until a guest's are opened. */
	for (unsigned i = 0; i < sizeof(tss_area.io_bitmap); i++)
		tss_area.io_bitmap[i] = 0xff;
	tss_area.io_bitmap_end = 0xff;
	tss.iomap_base = IO_BITMAP_NONE;
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_TSS));

	/* The double-fault task: a fresh stack, the VMM's segments, and
	 * interrupts off.  CR3 is filled in by cpu_set_double_fault_cr3(). */
	double_fault_tss = (struct tss32){
		.eip = (uint32_t)double_fault_entry,
		.esp = (uint32_t)DOUBLE_FAULT_STACK_TOP,
		.eflags = 0x2,
		.cr3 = read_cr3(),
		.cs = SEL_VMM_CS,
		.ss = SEL_VMM_DS, .ds = SEL_VMM_DS, .es = SEL_VMM_DS,
		.fs = SEL_VMM_DS, .gs = SEL_VMM_DS,
		.iomap_base = sizeof(double_fault_tss),
	};
}

static void setup_idt(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt[v] = gate_desc(trap_vectors[v], SEL_VMM_CS, GATE_INT32, 0);
	/* A double fault means the VMM's own stack or tables are broken, so
	 * it must not run on them: a task gate switches both. */
	idt[VEC_DF] = gate_desc(0, SEL_DF_TSS, GATE_TASK, 0);

	struct desc_ptr ptr = { sizeof(idt) - 1, (uint32_t)idt };
	__asm__ volatile("lidt %0" : : "m"(ptr));
}

/*
 * User-mode instruction prevention (SDM Vol. 3A §2.5): with CR4.UMIP, sgdt,
 * sidt, sldt, str and smsw fault in ring 3.  Without it they would quietly
 * hand the guest kernel the VMM's own tables instead of its virtual ones.
 */
static void enable_umip(void)
{
	uint32_t max_leaf, b, c, d;
	cpuid(0, &max_leaf, &b, &c, &d);
	if (max_leaf < 7)
		return;
	cpuid(7, &max_leaf, &b, &c, &d);
	if (c & CPUID_7_ECX_UMIP)
		write_cr4(read_cr4() | CR4_UMIP);
}

void cpu_init(void)
{
	setup_gdt();
	setup_tss();
	setup_idt();
	enable_umip();
}

int cpu_has_umip(void)
{
	return (read_cr4() & CR4_UMIP) != 0;
}

void cpu_set_double_fault_cr3(uint32_t cr3)
{
	double_fault_tss.cr3 = cr3;
}

const struct tss32 *cpu_main_tss(void)
{
	return &tss;
}

void cpu_open_ports(uint16_t first, uint16_t count)
{
	for (uint32_t port = first; port < (uint32_t)first + count && port < 65536; port++)
		tss_area.io_bitmap[port / 8] &= (uint8_t)~(1u << (port % 8));
}

uint16_t *cpu_io_bitmap_field(uint16_t *on, uint16_t *off)
{
	*on = IO_BITMAP_OFFSET;
	*off = IO_BITMAP_NONE;
	/* The field is aligned (offset 102 of a 128-byte-aligned TSS). */
	return (uint16_t *)(void *)((uint8_t *)&tss_area + __builtin_offsetof(struct tss32, iomap_base));
}

void cpu_enable_io_bitmap(int enable)
{
	tss.iomap_base = enable ? IO_BITMAP_OFFSET : IO_BITMAP_NONE;
}

static void write_entry(unsigned view, unsigned index, uint64_t raw)
{
	union { uint64_t raw; struct seg_desc d; } u = { .raw = raw };
	gdt_views[view][index] = u.d;
}

void cpu_set_gdt_entry(unsigned index, uint64_t raw)
{
	if (index < GDT_ENTRIES) {
		write_entry(GDT_VIEW_KERNEL, index, raw);
		write_entry(GDT_VIEW_USER, index, raw);
	}
}

void cpu_set_gdt_view_entry(unsigned view, unsigned index, uint64_t raw)
{
	if (view < 2 && index < GDT_ENTRIES)
		write_entry(view, index, raw);
}

uint64_t cpu_gdt_view_entry(unsigned view, unsigned index)
{
	if (view >= 2 || index >= GDT_ENTRIES)
		return 0;
	return seg_desc_raw(gdt_views[view][index]);
}

void cpu_load_gdt_view(unsigned view)
{
	/* The CPU keeps using the descriptors it has loaded; only later
	 * segment loads read the new table (SDM Vol. 3A §3.4.3). */
	struct desc_ptr ptr = { sizeof(gdt_views[0]) - 1, (uint32_t)gdt_views[view & 1] };
	__asm__ volatile("lgdt %0" : : "m"(ptr) : "memory");
}

void cpu_gdt_view_pointer(unsigned view, uint16_t *limit, uint32_t *base)
{
	*limit = sizeof(gdt_views[0]) - 1;
	*base = (uint32_t)gdt_views[view & 1];
}

uint32_t cpu_stack_top(void)
{
	return tss.esp0;
}
