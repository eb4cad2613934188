/*
 * Running a guest in ring 3.
 *
 * The VMM and the guest share one address space: the guest's below
 * 0xFC000000, the VMM's above (paper §4.1).  Entering the guest is an IRET to
 * ring 3 from a frame at the top of the VMM stack; leaving it is any trap,
 * which the CPU delivers on that same stack (TSS.ESP0).  So "the guest's
 * registers" are simply that frame while the VMM runs.
 */
#include "arch/ia32/guest.h"

#include "core/arch.h"

#include "arch/ia32/cpu.h"
#include "arch/ia32/desc.h"
#include "arch/ia32/espfix.h"
#include "arch/ia32/memlayout.h"
#include "arch/ia32/paging.h"
#include "arch/ia32/x86.h"
#include "core/memory.h"
#include "core/shadow.h"
#include "core/segments.h"
#include "lib/string.h"

/* EFLAGS bits (SDM Vol. 1 §3.4.3). */
#define EFLAGS_RESERVED1 0x00000002u
#define EFLAGS_IF        0x00000200u
#define EFLAGS_IOPL      0x00003000u
#define EFLAGS_NT        0x00004000u
#define EFLAGS_VM        0x00020000u

/* The ports the virtual kernel drives itself (paper §4.4: pass-through):
 * devices the VMM does not use, so the guest may own them outright. */
static const struct { uint16_t first, count; } passthrough_ports[] = {
	{ 0x40, 4 },	/* 8254 PIT */
	{ 0x61, 1 },	/* PIT channel 2 gate and output (TSC calibration) */
	{ 0x70, 2 },	/* CMOS RTC: the guest's wall clock at boot */
	{ 0x80, 1 },	/* POST port: Linux's I/O delay writes it */
	{ 0x3f8, 8 },	/* COM1 */
};

/*
 * Mirrors of the guest LDT (same rules as the GDT's), one per GDT view:
 * each view's LDT descriptor points at its own.  All 8192 entries an LDT
 * can have (SDM Vol. 3A §3.5.1), 64 KiB a view: a data register can only
 * hold a selector the CPU finds in a real table, so an entry the mirror
 * lacked could not be loaded at all (Wine-style LDT users allocate high).
 * Only lldt pays for the size (it mirrors every entry again, those past the
 * guest's limit as empty), and Linux loads an LDT only for a process that
 * made one.
 */
#define LDT_ENTRIES 8192
static uint64_t guest_ldt[2][LDT_ENTRIES] __attribute__((aligned(8)));

/* Flat 4 GiB descriptors, as the guest's boot GDT entries 2 (0x10) and 3
 * (0x18) would hold them: what a bootloader leaves in CS and DS. */
#define FLAT_CODE 0x00cf9a000000ffffull
#define FLAT_DATA 0x00cf92000000ffffull

/* Shadow page tables live in the direct map, where the VMM can edit them. */
static uint32_t *table_at(uint32_t frame)
{
	return p2v(frame);
}

static int read_live(uint32_t only_pd, uint32_t linear, void *buf, uint32_t len);
static int write_live(uint32_t only_pd, uint32_t linear, const void *buf, uint32_t len);

static const struct shadow_ops shadow_ops = {
	.alloc_table = memory_alloc_table,
	.free_table = memory_free_table,
	.table = table_at,
	.init_directory = paging_copy_vmm_pdes,
	.read_live = read_live,
	.write_live = write_live,
};

int arch_guest_init(struct vcpu *v)
{
	/* The guest starts with paging off; the shadows fill with its
	 * identity view as it touches memory (core/guest.c). */
	if (shadow_init(&v->shadow, &shadow_ops))
		return -1;

	for (unsigned i = 0; i < sizeof(passthrough_ports) / sizeof(*passthrough_ports); i++)
		cpu_open_ports(passthrough_ports[i].first, passthrough_ports[i].count);

	/* The real LDTR always holds the mirror; it is empty until lldt. */
	for (unsigned view = 0; view < 2; view++)
		cpu_set_gdt_view_entry(view, GDT_GUEST_LDT, seg_desc_raw(seg_desc(
			(uint32_t)guest_ldt[view], sizeof(guest_ldt[view]) - 1,
			DESC_P | DESC_LDT, 0)));
	__asm__ volatile("lldt %w0" : : "r"((uint16_t)SEL_GUEST_LDT));

	arch_guest_mirror_gdt(2, FLAT_CODE);
	arch_guest_mirror_gdt(3, FLAT_DATA);
	arch_guest_set_code(v, FLAT_CODE);
	arch_guest_set_stack(v, FLAT_DATA);
	arch_guest_switch_ring(v);
	arch_guest_set_cr0(v);
	return 0;
}

void arch_guest_tlb_invalidate(uint32_t va)
{
	invlpg(va);
}

void arch_guest_tlb_flush(struct vcpu *v)
{
	/* The VMM's own mappings are global and survive this. */
	write_cr3(v->shadow.pd[vcpu_shadow(v)]);
}

uint32_t arch_fault_address(void)
{
	return read_cr2();
}

uint8_t *arch_window(uint32_t pa, uint32_t *len)
{
	return paging_window(pa, len);
}

/*
 * The real CS and SS the guest runs on are aliases of its descriptors
 * (core/segments.c).  A guest moves among a handful of code and stack
 * descriptors (Linux: kernel and user, each flat), so the aliases made
 * last are remembered, a few per register, and the entry is written only
 * when it changes.
 */
#define ALIASES_REMEMBERED 4

struct alias_memo {
	uint64_t raw[ALIASES_REMEMBERED], alias[ALIASES_REMEMBERED];
	unsigned next;		/* the slot to replace next */
	uint64_t loaded;	/* what the GDT entry holds now (0: unknown) */
	uint64_t loaded_raw;	/* ... made from this */
};

/* Moves on whenever an alias entry is written: what arch_alias_loaded_for
 * answers for a descriptor stays the same until then. */
static uint32_t alias_generation = 1;

uint32_t arch_alias_generation(void)
{
	return alias_generation;
}

static int set_alias(struct alias_memo *memo, unsigned gdt_index, uint64_t raw,
		     uint64_t (*make)(uint64_t))
{
	if (memo->loaded != 0 && memo->loaded_raw == raw)
		return 0;	/* the entry holds it already */
	uint64_t alias = 0;
	for (unsigned i = 0; i < ALIASES_REMEMBERED; i++)
		if (memo->raw[i] == raw && memo->alias[i] != 0) {
			alias = memo->alias[i];
			break;
		}
	if (alias == 0) {
		alias = make(raw);
		if (alias == 0)
			return -1;
		memo->raw[memo->next] = raw;
		memo->alias[memo->next] = alias;
		memo->next = (memo->next + 1) % ALIASES_REMEMBERED;
	}
	cpu_set_gdt_entry(gdt_index, alias);	/* only this writes the entry */
	alias_generation++;
	if (gdt_index == GDT_GUEST_STACK)
		espfix_set_stack(alias);	/* a 16-bit stack: espfix.c */
	memo->loaded = alias;
	memo->loaded_raw = raw;
	return 0;
}

static struct alias_memo code_memo, stack_memo;

int arch_guest_set_code(struct vcpu *v, uint64_t raw)
{
	(void)v;
	return set_alias(&code_memo, GDT_GUEST_CODE, raw, segments_code_alias);
}

int arch_guest_set_stack(struct vcpu *v, uint64_t raw)
{
	(void)v;
	return set_alias(&stack_memo, GDT_GUEST_STACK, raw, segments_stack_alias);
}

void arch_guest_set_flat_segments(struct vcpu *v)
{
	if (code_memo.loaded_raw != FLAT_CODE_DPL0 || code_memo.loaded == 0)
		arch_guest_set_code(v, FLAT_CODE_DPL0);
	if (stack_memo.loaded_raw != FLAT_DATA_DPL0 || stack_memo.loaded == 0)
		arch_guest_set_stack(v, FLAT_DATA_DPL0);
}

extern int guest_copy(void *dst, const void *src, uint32_t len);

static int in_guest_space(uint32_t linear, uint32_t len)
{
	return linear < GUEST_LINEAR_LIMIT && len <= GUEST_LINEAR_LIMIT - linear;
}

int arch_read_guest_linear(uint32_t linear, void *buf, uint32_t len)
{
	if (!in_guest_space(linear, len))
		return -1;
	return guest_copy(buf, (const void *)(uintptr_t)linear, len);
}

static int read_live(uint32_t only_pd, uint32_t linear, void *buf, uint32_t len)
{
	if (only_pd && read_cr3() != only_pd)
		return -1;
	return arch_read_guest_linear(linear, buf, len);
}

static int write_live(uint32_t only_pd, uint32_t linear, const void *buf, uint32_t len)
{
	if ((only_pd && read_cr3() != only_pd) || !in_guest_space(linear, len))
		return -1;
	return guest_copy((void *)(uintptr_t)linear, buf, len);
}

void *arch_fixed_window(unsigned slot, uint32_t pa)
{
	return paging_fixed_window(slot, pa);
}

/* The VMM itself never touches the FPU (it is built with
 * -mgeneral-regs-only), so these bits are the guest's alone. */
#define CR0_GUEST_FPU_BITS (CR0_MP | CR0_EM | CR0_TS | CR0_NE)

void arch_guest_set_cr0(struct vcpu *v)
{
	write_cr0((read_cr0() & ~CR0_GUEST_FPU_BITS) | (v->cr0 & CR0_GUEST_FPU_BITS));
}

void arch_guest_set_cr4(struct vcpu *v)
{
	/* The guest owns the FPU/SSE state; its CR4 says whether SSE is on.
	 * Its TSD makes every ring-3 rdtsc fault; the VMM then emulates the
	 * virtual kernel's (core/emulate.c). */
	const uint32_t bits = CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_TSD;
	write_cr4((read_cr4() & ~bits) | (v->cr4 & bits));
}

uint64_t arch_read_tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/*
 * MSRs that describe the CPU and that the guest may read as they are: the
 * microcode revision (present on every P6 and later) and, when CPUID
 * reports MTRRs, the MTRR capability, default type and ranges (SDM Vol. 3A
 * §11.11).  Reading them changes nothing.
 */
#define MSR_UCODE_REV     0x08b
#define MSR_MTRR_CAP      0x0fe
#define MSR_MTRR_VAR_BASE 0x200	/* ..0x20f: base/mask pairs */
#define MSR_MTRR_FIX_64K  0x250
#define MSR_MTRR_FIX_16K  0x258	/* and 0x259 */
#define MSR_MTRR_FIX_4K   0x268	/* ..0x26f */
#define MSR_MTRR_DEF_TYPE 0x2ff
#define CPUID_1_EDX_MTRR  (1u << 12)

static int is_mtrr_msr(uint32_t index)
{
	return index == MSR_MTRR_CAP || index == MSR_MTRR_DEF_TYPE ||
	       (index >= MSR_MTRR_VAR_BASE && index < MSR_MTRR_VAR_BASE + 16) ||
	       index == MSR_MTRR_FIX_64K || index == MSR_MTRR_FIX_16K ||
	       index == MSR_MTRR_FIX_16K + 1 ||
	       (index >= MSR_MTRR_FIX_4K && index < MSR_MTRR_FIX_4K + 8);
}

int arch_read_msr(uint32_t index, uint64_t *value)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	if (index != MSR_UCODE_REV && !(is_mtrr_msr(index) && (d & CPUID_1_EDX_MTRR)))
		return -1;
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
	*value = (uint64_t)hi << 32 | lo;
	return 0;
}

uint32_t arch_take_debug_status(void)
{
	uint32_t dr6 = read_dr6();
	write_dr6(0xffff0ff0);	/* the value with no condition recorded */
	return dr6;
}

unsigned arch_guest_ldt_entries(void)
{
	return LDT_ENTRIES;
}

/*
 * The data selectors arch_prepare_resume last found usable, with the view
 * and the generation of the mirrors they were checked against: most exits
 * return to the same four selectors, and checking them again is only
 * needed when a mirror entry changed (mirror_generation).
 */
static uint32_t mirror_generation = 1;
static struct {
	uint32_t generation;
	uint32_t sel[4];
} resume_checked[2];		/* per GDT view: system calls alternate them */

/*
 * The guest descriptor each mirror entry was last made from.  The VMM
 * mirrors again whatever a write to a table page may have touched, and
 * most of it is unchanged (a write of one descriptor re-reads its
 * neighbours): an unchanged entry costs a compare, and leaves the
 * resume-time check cache valid.
 */
static struct {
	uint64_t gdt[GDT_GUEST_ENTRIES], ldt[LDT_ENTRIES];
	uint32_t gdt_known, ldt_known[LDT_ENTRIES / 32];
} mirrored_from;

static int same_as_mirrored(uint64_t *last, uint32_t *known, unsigned bit,
			    uint64_t raw)
{
	uint32_t mask = 1u << (bit % 32);
	if ((known[bit / 32] & mask) && *last == raw)
		return 1;
	known[bit / 32] |= mask;
	*last = raw;
	return 0;
}

void arch_guest_mirror_ldt(unsigned index, uint64_t raw)
{
	if (index >= LDT_ENTRIES ||
	    same_as_mirrored(&mirrored_from.ldt[index], mirrored_from.ldt_known,
			     index, raw))
		return;
	mirror_generation++;
	guest_ldt[GDT_VIEW_KERNEL][index] = segments_mirror(raw, VPL_KERNEL);
	guest_ldt[GDT_VIEW_USER][index] = segments_mirror(raw, VPL_USER);
}

void arch_guest_mirror_gdt(unsigned index, uint64_t raw)
{
	if (index >= GDT_GUEST_ENTRIES ||
	    same_as_mirrored(&mirrored_from.gdt[index], &mirrored_from.gdt_known,
			     index, raw))
		return;
	mirror_generation++;
	cpu_set_gdt_view_entry(GDT_VIEW_KERNEL, index, segments_mirror(raw, VPL_KERNEL));
	cpu_set_gdt_view_entry(GDT_VIEW_USER, index, segments_mirror(raw, VPL_USER));
}

static unsigned view_of(const struct vcpu *v)
{
	return v->vpl == VPL_KERNEL ? GDT_VIEW_KERNEL : GDT_VIEW_USER;
}

/*
 * Run on shadow table which.  Loading the one already loaded is skipped:
 * every change to the live shadow is followed by invlpg or a flush of its
 * own, so the TLB holds nothing stale, and under QEMU a CR3 load costs a
 * flush of its whole software TLB.
 */
void arch_guest_load_shadow(struct vcpu *v, unsigned which)
{
	uint32_t pd = v->shadow.pd[which];
	if (read_cr3() != pd)
		write_cr3(pd);
}

void arch_guest_switch_ring(struct vcpu *v)
{
	cpu_enable_io_bitmap(v->vpl == VPL_KERNEL);
	/* The heart of the virtual protection ring (paper §3): virtual user
	 * mode runs on the table without the guest's kernel pages. */
	arch_guest_load_shadow(v, vcpu_shadow(v));
	cpu_load_gdt_view(view_of(v));
	/* LDTR caches its table's base: reload it from the new view. */
	__asm__ volatile("lldt %w0" : : "r"((uint16_t)SEL_GUEST_LDT));
}

/*
 * A data segment register may hold a selector whose real descriptor changed
 * since it was loaded (the guest rewrote its GDT).  Popping it on the way
 * back to ring 3 would then fault inside the VMM.  Like the CPU on a return
 * to an outer ring (SDM Vol. 3A §5.8.6, IRET), load null instead of a
 * selector that is not usable from ring 3.
 */
/* The mirrored descriptor selector names in GDT view (0 if none: GDT
 * entries 32 and up are the VMM's). */
static uint64_t view_descriptor(unsigned view, uint32_t sel)
{
	unsigned index = (sel & 0xffff) >> 3;
	if (sel & 4)
		return index < LDT_ENTRIES ? guest_ldt[view][index] : 0;
	return index < GDT_GUEST_ENTRIES ? cpu_gdt_view_entry(view, index) : 0;
}

static uint32_t usable_in_view(unsigned view, uint32_t sel)
{
	sel &= 0xffff;
	if ((sel >> 3) == 0 && !(sel & 4))
		return sel;		/* null is always fine in a data register */
	uint64_t raw = view_descriptor(view, sel);
	/* The access byte alone (SDM Vol. 3A §3.4.5): present, DPL 3, a code
	 * or data segment, and readable if code.  (Checked on every resume
	 * after a descriptor changed: Linux's TLS entries, at every switch
	 * between processes with different ones.) */
	uint32_t access = (uint32_t)(raw >> 40) & 0xff;
	uint32_t type = access & 0xf;
	int readable = !(type & SEG_TYPE_CODE) || (type & SEG_TYPE_READABLE);
	if ((access & 0xf0) != 0xf0 || !readable)	/* P, DPL 3, S */
		return 0;
	return sel;
}

static uint32_t usable_data_selector(const struct vcpu *v, uint32_t sel)
{
	return usable_in_view(view_of(v), sel);
}

void arch_prepare_resume(struct vcpu *v)
{
	struct trapframe *tf = v->regs;

	tf->cs = SEL_GUEST_CODE;
	tf->ss = SEL_GUEST_STACK;
	/* The real IF follows the virtual one; IOPL 0 keeps cli/sti/popf-IF
	 * trapping or inert; NT and VM are never the guest's to set. */
	/* TF is the guest's, or the VMM's while it single-steps (core/step.c). */
	tf->eflags = (tf->eflags & ~(EFLAGS_IF | EFLAGS_IOPL | EFLAGS_NT | EFLAGS_VM)) |
		     EFLAGS_RESERVED1;
	/* With the guest's interrupt flag in memory (RV_HC_PV_IRQ) its cli
	 * does not reach the CPU: interrupts must come to the VMM, which
	 * holds them while the guest's flag is clear. */
	if (v->vif || v->pv_irq)
		tf->eflags |= EFLAGS_IF;
	unsigned view = view_of(v);
	const uint32_t *checked = resume_checked[view].sel;
	if (resume_checked[view].generation == mirror_generation &&
	    ((tf->ds ^ checked[0]) | (tf->es ^ checked[1]) |
	     (tf->fs ^ checked[2]) | (tf->gs ^ checked[3])) == 0)
		return;		/* the same selectors, checked against the same mirrors */
	uint32_t *regs[4] = { &tf->ds, &tf->es, &tf->fs, &tf->gs };
	for (unsigned i = 0; i < 4; i++) {
		*regs[i] = usable_data_selector(v, *regs[i]);
		resume_checked[view].sel[i] = *regs[i];
	}
	resume_checked[view].generation = mirror_generation;
}

int arch_alias_loaded_for(int code, uint64_t raw)
{
	const struct alias_memo *memo = code ? &code_memo : &stack_memo;
	if (memo->loaded == 0)
		return 0;
	if (memo->loaded_raw == raw)
		return 1;
	/* sysenter and sysexit load the flat ones: their aliases, once. */
	static uint64_t flat_code, flat_stack;
	if (raw == (code ? FLAT_CODE_DPL0 : FLAT_DATA_DPL0)) {
		if (!flat_code) {
			flat_code = segments_code_alias(FLAT_CODE_DPL0);
			flat_stack = segments_stack_alias(FLAT_DATA_DPL0);
		}
		return memo->loaded == (code ? flat_code : flat_stack);
	}
	for (unsigned i = 0; i < ALIASES_REMEMBERED; i++)
		if (memo->raw[i] == raw && memo->alias[i] != 0)
			return memo->alias[i] == memo->loaded;
	uint64_t alias = code ? segments_code_alias(raw) : segments_stack_alias(raw);
	return alias != 0 && alias == memo->loaded;
}

unsigned arch_fastcall_key(uint32_t key[ARCH_FASTCALL_KEY_WORDS])
{
	unsigned n = 0;
	key[n++] = mirror_generation;
	key[n++] = (uint32_t)code_memo.loaded;
	key[n++] = (uint32_t)(code_memo.loaded >> 32);
	key[n++] = (uint32_t)stack_memo.loaded;
	key[n++] = (uint32_t)(stack_memo.loaded >> 32);
	return n;
}

int arch_selector_usable_in_both_views(uint32_t sel)
{
	return view_descriptor(GDT_VIEW_KERNEL, sel) == view_descriptor(GDT_VIEW_USER, sel) &&
	       usable_in_view(GDT_VIEW_USER, sel) == (sel & 0xffff);
}

uint32_t arch_guest_mirror_generation(void)
{
	return mirror_generation;
}

extern char trap_return[];

void arch_enter_guest(struct vcpu *v)
{
	/* The frame sits where a trap from ring 3 will put the next one. */
	struct trapframe *tf = (struct trapframe *)(cpu_stack_top() - sizeof(*tf));
	*tf = *v->regs;
	v->regs = tf;
	arch_prepare_resume(v);
	__asm__ volatile("movl %0, %%esp\n\t"
			 "jmp trap_return"
			 : : "r"(tf) : "memory");
	__builtin_unreachable();
}
