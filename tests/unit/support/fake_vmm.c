#include "tests/unit/support/fake_vmm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arch.h"
#include "core/console.h"
#include "core/deliver.h"
#include "core/emulate.h"
#include "core/guest.h"

struct vcpu fake_vcpu;
struct trapframe fake_regs;
uint8_t fake_ram[FAKE_RAM_SIZE] __attribute__((aligned(4096)));
jmp_buf fake_stop;
enum fake_end fake_end;
int fake_shutdown_status;
char fake_die_reason[160];
uint64_t fake_gdt_mirror[32];
unsigned fake_ring_switches, fake_tlb_flushes;
uint16_t fake_last_port;
uint32_t fake_last_port_value;

/* 0 is "never" (core/ring.c).  As arch/ia32/guest.c counts it: only a
 * mirror entry that really changes moves it. */
static uint32_t fake_mirror_generation = 1;
static struct {
	uint64_t gdt[32], ldt[8];
	uint32_t gdt_known, ldt_known;
} mirrored_from;
uint64_t fake_code_alias_raw, fake_stack_alias_raw;
uint64_t fake_ldt_mirror[8];

/* ---- guest memory and shadow tables in host buffers ---- */

/*
 * Which pages of guest RAM may have changed since a saved machine was last
 * made equal to it (fake_save, fake_restore): each page's stamp is the
 * clock when it was last reached for writing, or maybe writing, and a
 * machine remembers the clock it was synced at.  So a save or restore
 * copies only those pages.  The VMM reaches RAM through windows
 * (map_ram) and the live copies here, both stamped; through a fixed
 * window it may write at any time later, so those pages always count.
 */
static uint32_t ram_clock = 1;
static uint32_t ram_stamp[FAKE_RAM_SIZE / 4096];
static uint8_t fixed_page[FAKE_RAM_SIZE / 4096];	/* under a fixed window */

void fake_ram_touched(uint32_t gpa, uint32_t len)
{
	if (!len || gpa >= FAKE_RAM_SIZE)
		return;
	uint32_t last = len - 1 > FAKE_RAM_SIZE - 1 - gpa ? FAKE_RAM_SIZE - 1 : gpa + len - 1;
	for (uint32_t page = gpa / 4096; page <= last / 4096; page++)
		ram_stamp[page] = ram_clock;
}

static uint8_t *map_ram(uint32_t pa, uint32_t *len)
{
	/* Host "physical" addresses are guest-physical here (host_base 0).
	 * A window reaches to the end of its page, as arch/ia32's do. */
	if (pa >= FAKE_RAM_SIZE) {
		fprintf(stderr, "fake_vmm: window on 0x%08x, past guest RAM\n", pa);
		abort();
	}
	*len = 4096 - (pa & 0xfff);
	ram_stamp[pa / 4096] = ram_clock;
	return fake_ram + pa;
}

#define TABLES 64
static uint32_t tables[TABLES][1024] __attribute__((aligned(4096)));
static int table_used[TABLES];
#define TABLE_BASE 0x80000000u

static uint32_t alloc_table(void)
{
	for (int i = 0; i < TABLES; i++)
		if (!table_used[i]) {
			table_used[i] = 1;
			memset(tables[i], 0, sizeof(tables[i]));
			return TABLE_BASE + (uint32_t)i * 4096;
		}
	return 0;
}

static void free_table(uint32_t frame)
{
	table_used[(frame - TABLE_BASE) / 4096] = 0;
}

static uint32_t *table(uint32_t frame)
{
	return tables[(frame - TABLE_BASE) / 4096];
}

static void init_directory(uint32_t *pd)
{
	(void)pd;
}

/*
 * The page directory the simulated CPU runs on (its CR3): one of the two
 * shadows, as arch_guest_load_shadow and arch_guest_switch_ring load them.
 * 0 before the first load.
 */
static uint32_t loaded_pd;

static int in_guest_space(uint32_t linear, uint32_t len)
{
	return linear < GUEST_LINEAR_LIMIT && len <= GUEST_LINEAR_LIMIT - linear;
}

/*
 * A copy by the VMM (ring 0, CR0.WP set, as arch/ia32/boot.S leaves it)
 * from or to guest linear memory through the loaded shadow, as
 * arch/ia32/guestcopy.S does it: byte by byte upwards, stopping at the
 * first byte the shadow does not map (for a write: does not map
 * writable), so a failed write may have stored its first bytes.  Shadow
 * frames are host-physical, which here is guest-physical (host_base 0).
 */
static int live_copy(uint32_t linear, uint8_t *buf, uint32_t len, int write)
{
	if (!in_guest_space(linear, len) || !loaded_pd)
		return -1;
	while (len) {
		uint32_t chunk = 4096 - (linear & 0xfff);
		if (chunk > len)
			chunk = len;
		uint32_t pde = table(loaded_pd)[linear >> 22];
		uint32_t pte = (pde & 1) ? table(pde & 0xfffff000u)[(linear >> 12) & 1023] : 0;
		uint32_t need = write ? 3u : 1u;	/* P, and W for a write */
		if ((pde & need) != need || (pte & need) != need)
			return -1;
		uint32_t pa = (pte & 0xfffff000u) | (linear & 0xfff);
		if (pa >= FAKE_RAM_SIZE) {
			/* A shadow entry past guest RAM is a VMM bug: the CPU
			 * would touch host memory. */
			fprintf(stderr, "fake_vmm: shadow maps 0x%08x to 0x%08x, past "
				"guest RAM\n", linear, pa);
			abort();
		}
		if (write) {
			memcpy(fake_ram + pa, buf, chunk);
			fake_ram_touched(pa, chunk);
		}
		else
			memcpy(buf, fake_ram + pa, chunk);
		linear += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static int read_live(uint32_t only_pd, uint32_t linear, void *buf, uint32_t len)
{
	if (only_pd && loaded_pd != only_pd)
		return -1;
	return live_copy(linear, buf, len, 0);
}

static int write_live(uint32_t only_pd, uint32_t linear, const void *buf, uint32_t len)
{
	if (only_pd && loaded_pd != only_pd)
		return -1;
	return live_copy(linear, (uint8_t *)(uintptr_t)buf, len, 1);
}

static const struct shadow_ops shadow_ops = { alloc_table, free_table, table,
					      init_directory, read_live, write_live };

/* ---- the guest's tables ---- */

static uint64_t seg(uint32_t base, uint32_t limit20, unsigned type, unsigned s,
		    unsigned dpl, unsigned g)
{
	uint32_t lo = (limit20 & 0xffff) | (base << 16);
	uint32_t hi = ((base >> 16) & 0xff) | (base & 0xff000000u) | (limit20 & 0xf0000u) |
		      (type << 8) | (s << 12) | (dpl << 13) | (1u << 15) |
		      ((s ? 1u : 0u) << 22) | (g << 23);
	return ((uint64_t)hi << 32) | lo;
}

void fake_gate(unsigned vector, uint32_t handler, int trap_gate, unsigned dpl)
{
	uint32_t gate[2] = {
		(0x60u << 16) | (handler & 0xffff),
		(handler & 0xffff0000u) | 0x8000u | (dpl << 13) | ((trap_gate ? 0xfu : 0xeu) << 8),
	};
	memcpy(fake_ram + FAKE_IDT + vector * 8, gate, 8);
	fake_ram_touched(FAKE_IDT + vector * 8, 8);
}

/* Moves on with every change of the aliases (arch_alias_generation). */
static uint32_t fake_alias_generation = 1;

void fake_reset(void)
{
	memset(fake_ram, 0, sizeof(fake_ram));
	fake_ram_touched(0, FAKE_RAM_SIZE);
	memset(fixed_page, 0, sizeof(fixed_page));	/* no vCPU holds one now */
	memset(table_used, 0, sizeof(table_used));
	memset(&fake_vcpu, 0, sizeof(fake_vcpu));
	memset(fake_gdt_mirror, 0, sizeof(fake_gdt_mirror));
	memset(fake_ldt_mirror, 0, sizeof(fake_ldt_mirror));
	memset(&mirrored_from, 0, sizeof(mirrored_from));
	fake_code_alias_raw = fake_stack_alias_raw = 0;
	fake_alias_generation++;
	fake_ring_switches = fake_tlb_flushes = 0;
	fake_end = FAKE_RUNNING;

	uint64_t gdt[32] = { 0 };
	gdt[12] = seg(0, 0xfffff, 0xb, 1, 0, 1);	/* 0x60 kernel code */
	gdt[13] = seg(0, 0xfffff, 0x3, 1, 0, 1);	/* 0x68 kernel data */
	gdt[14] = seg(0, 0xfffff, 0xb, 1, 3, 1);	/* 0x73 user code */
	gdt[15] = seg(0, 0xfffff, 0x3, 1, 3, 1);	/* 0x7b user data */
	gdt[16] = seg(FAKE_TSS, 0x67, 0x9, 0, 0, 0);	/* 0x80 TSS */
	memcpy(fake_ram + FAKE_GDT, gdt, sizeof(gdt));
	uint32_t esp0_ss0[2] = { FAKE_ESP0, 0x68 };
	memcpy(fake_ram + FAKE_TSS + 4, esp0_ss0, 8);

	struct vcpu *v = &fake_vcpu;
	v->mem = (struct guest_mem){ FAKE_RAM_SIZE, 0, map_ram };
	shadow_init(&v->shadow, &shadow_ops);
	v->regs = &fake_regs;
	fake_regs = (struct trapframe){ .eflags = 0x2, .esp = 0x8000,
					.ds = 0x68, .es = 0x68 };
	v->vpl = VPL_KERNEL;
	v->cs = 0x60;
	v->ss = 0x68;
	v->cr0 = 0x11;
	v->gdtr = (struct descriptor_table){ FAKE_GDT, sizeof(gdt) - 1 };
	v->idtr = (struct descriptor_table){ FAKE_IDT, 256 * 8 - 1 };
	v->tr = 0x80;
	v->tr_base = FAKE_TSS;
	v->tr_limit = 0x67;
	emulate_reset(v);
	loaded_pd = v->shadow.pd[SHADOW_KERNEL];	/* as arch_guest_init leaves it */
}

void fake_code(const uint8_t *bytes, unsigned len)
{
	memcpy(fake_ram + FAKE_CODE, bytes, len);
	fake_ram_touched(FAKE_CODE, len);
	fake_regs.eip = FAKE_CODE;
}

/* ---- the arch hooks ---- */

uint8_t *arch_window(uint32_t pa, uint32_t *len) { return map_ram(pa, len); }

int arch_guest_set_code(struct vcpu *v, uint64_t raw)
{
	(void)v;
	fake_code_alias_raw = raw;
	fake_alias_generation++;
	return 0;
}

int arch_guest_set_stack(struct vcpu *v, uint64_t raw)
{
	(void)v;
	fake_stack_alias_raw = raw;
	fake_alias_generation++;
	return 0;
}

int arch_alias_loaded_for(int code, uint64_t raw)
{
	return (code ? fake_code_alias_raw : fake_stack_alias_raw) == raw;
}

uint32_t arch_alias_generation(void)
{
	return fake_alias_generation;
}

void arch_guest_set_flat_segments(struct vcpu *v)
{
	arch_guest_set_code(v, FLAT_CODE_DPL0);
	arch_guest_set_stack(v, FLAT_DATA_DPL0);
}

uint32_t arch_take_debug_status(void) { return 0; }
void arch_guest_tlb_invalidate(uint32_t va) { (void)va; }
uint32_t arch_fault_address(void) { return 0; }
void arch_guest_set_cr0(struct vcpu *v) { (void)v; }
void arch_guest_set_cr4(struct vcpu *v) { (void)v; }
uint64_t arch_read_tsc(void) { return 0x123456789ull; }
int arch_read_msr(uint32_t index, uint64_t *value) { (void)index; (void)value; return -1; }
unsigned arch_guest_ldt_entries(void) { return 8; }

void arch_guest_tlb_flush(struct vcpu *v)
{
	fake_tlb_flushes++;
	loaded_pd = v->shadow.pd[vcpu_shadow(v)];	/* a CR3 load */
}

void arch_guest_load_shadow(struct vcpu *v, unsigned which)
{
	loaded_pd = v->shadow.pd[which];
}

void arch_guest_switch_ring(struct vcpu *v)
{
	fake_ring_switches++;
	arch_guest_load_shadow(v, vcpu_shadow(v));
}

static void mirror(uint64_t *last, uint32_t *known, unsigned index, uint64_t raw)
{
	if ((*known >> index & 1) && *last == raw)
		return;
	*known |= 1u << index;
	*last = raw;
	fake_mirror_generation++;
}

void arch_guest_mirror_ldt(unsigned index, uint64_t raw)
{
	if (index >= 8)
		return;
	fake_ldt_mirror[index] = raw;
	mirror(&mirrored_from.ldt[index], &mirrored_from.ldt_known, index, raw);
}

void arch_guest_mirror_gdt(unsigned index, uint64_t raw)
{
	if (index >= 32)
		return;
	fake_gdt_mirror[index] = raw;
	mirror(&mirrored_from.gdt[index], &mirrored_from.gdt_known, index, raw);
}

uint32_t arch_guest_mirror_generation(void) { return fake_mirror_generation; }

void *arch_fixed_window(unsigned slot, uint32_t pa)
{
	uint32_t len;
	if (slot >= 16)
		return NULL;
	if (pa >= FAKE_RAM_SIZE) {
		/* The real window would map host memory past guest RAM. */
		fprintf(stderr, "fake_vmm: fixed window on 0x%08x, past guest RAM\n", pa);
		abort();
	}
	fixed_page[pa / 4096] = 1;
	return map_ram(pa, &len);
}

/* Through the shadow the CPU runs on, as arch/ia32/guest.c reads it. */
int arch_read_guest_linear(uint32_t linear, void *buf, uint32_t len)
{
	return live_copy(linear, buf, len, 0);
}

/* ---- the whole machine, saved and restored ---- */

struct fake_machine {
	struct vcpu vcpu;
	struct trapframe regs;
	uint8_t ram[FAKE_RAM_SIZE];
	uint32_t tables[TABLES][1024];
	int table_used[TABLES];
	uint32_t loaded_pd, generation;
	uint64_t gdt_mirror[32], ldt_mirror[8], code_alias, stack_alias;
	__typeof__(mirrored_from) mirrored_from;
	enum fake_end end;
	uint32_t synced;	/* ram equals fake_ram but for pages stamped since */
};

struct fake_machine *fake_machine_new(void)
{
	struct fake_machine *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	return m;
}

int fake_machine_ram_may_differ(const struct fake_machine *m, uint32_t page)
{
	return ram_stamp[page] >= m->synced || fixed_page[page];
}

/* Make m's RAM or the live RAM (to_live) equal to the other. */
static void sync_ram(struct fake_machine *m, int to_live)
{
	for (uint32_t page = 0; page < FAKE_RAM_SIZE / 4096; page++) {
		if (!fake_machine_ram_may_differ(m, page))
			continue;
		uint8_t *live = fake_ram + page * 4096, *saved = m->ram + page * 4096;
		if (memcmp(live, saved, 4096) == 0)
			continue;
		if (to_live) {
			memcpy(live, saved, 4096);
			ram_stamp[page] = ram_clock;	/* changed for other machines */
		} else {
			memcpy(saved, live, 4096);
		}
	}
	m->synced = ++ram_clock;
}

void fake_save(struct fake_machine *m)
{
	m->vcpu = fake_vcpu;
	m->regs = fake_regs;
	sync_ram(m, 0);
	memcpy(m->tables, tables, sizeof(m->tables));
	memcpy(m->table_used, table_used, sizeof(m->table_used));
	m->loaded_pd = loaded_pd;
	m->generation = fake_mirror_generation;
	memcpy(m->gdt_mirror, fake_gdt_mirror, sizeof(m->gdt_mirror));
	memcpy(m->ldt_mirror, fake_ldt_mirror, sizeof(m->ldt_mirror));
	m->code_alias = fake_code_alias_raw;
	m->stack_alias = fake_stack_alias_raw;
	m->mirrored_from = mirrored_from;
	m->end = fake_end;
}

void fake_restore(struct fake_machine *m)
{
	fake_vcpu = m->vcpu;
	fake_regs = m->regs;
	sync_ram(m, 1);
	memcpy(tables, m->tables, sizeof(m->tables));
	memcpy(table_used, m->table_used, sizeof(m->table_used));
	loaded_pd = m->loaded_pd;
	fake_mirror_generation = m->generation;
	memcpy(fake_gdt_mirror, m->gdt_mirror, sizeof(m->gdt_mirror));
	memcpy(fake_ldt_mirror, m->ldt_mirror, sizeof(m->ldt_mirror));
	fake_code_alias_raw = m->code_alias;
	fake_stack_alias_raw = m->stack_alias;
	fake_alias_generation++;	/* a vCPU's remembered answers: asked again */
	mirrored_from = m->mirrored_from;
	fake_end = m->end;
}

const uint8_t *fake_machine_ram(const struct fake_machine *m) { return m->ram; }
const struct vcpu *fake_machine_vcpu(const struct fake_machine *m) { return &m->vcpu; }
const struct trapframe *fake_machine_regs(const struct fake_machine *m) { return &m->regs; }

/* The entry table which of machine m holds for va (0 if none). */
uint32_t fake_machine_shadow(const struct fake_machine *m, unsigned which, uint32_t va)
{
	uint32_t pd = m->vcpu.shadow.pd[which];
	uint32_t pde = m->tables[(pd - TABLE_BASE) / 4096][va >> 22];
	if (!(pde & 1))
		return 0;
	return m->tables[((pde & 0xfffff000u) - TABLE_BASE) / 4096][(va >> 12) & 1023];
}

static const uint32_t *machine_table(const struct fake_machine *m, uint32_t frame)
{
	return m->tables[(frame - TABLE_BASE) / 4096];
}

/* The first va at which a and b's shadow tables which differ, in *va, and
 * their entries there; 0 if they map the same throughout. */
int fake_machine_shadow_diff(const struct fake_machine *a, const struct fake_machine *b,
			     unsigned which, uint32_t *va, uint32_t *ea, uint32_t *eb)
{
	static const uint32_t none[1024];
	const uint32_t *pda = machine_table(a, a->vcpu.shadow.pd[which]);
	const uint32_t *pdb = machine_table(b, b->vcpu.shadow.pd[which]);
	for (unsigned slot = 0; slot < 1024; slot++) {
		const uint32_t *pta = (pda[slot] & 1) ? machine_table(a, pda[slot] & 0xfffff000u) : none;
		const uint32_t *ptb = (pdb[slot] & 1) ? machine_table(b, pdb[slot] & 0xfffff000u) : none;
		if (pta == none && ptb == none)
			continue;
		for (unsigned i = 0; i < 1024; i++)
			if (pta[i] != ptb[i]) {
				*va = slot << 22 | i << 12;
				*ea = pta[i];
				*eb = ptb[i];
				return 1;
			}
	}
	return 0;
}

/* Whether the simulated CPU runs on the same shadow, with the same real
 * mirrors and aliases, in both. */
int fake_machine_same_arch(const struct fake_machine *a, const struct fake_machine *b,
			   const char **what)
{
	int same_pd = (a->loaded_pd == a->vcpu.shadow.pd[0]) == (b->loaded_pd == b->vcpu.shadow.pd[0]) &&
		      (a->loaded_pd == a->vcpu.shadow.pd[1]) == (b->loaded_pd == b->vcpu.shadow.pd[1]);
	*what = !same_pd ? "the loaded shadow" :
		memcmp(a->gdt_mirror, b->gdt_mirror, sizeof(a->gdt_mirror)) ? "the GDT mirror" :
		memcmp(a->ldt_mirror, b->ldt_mirror, sizeof(a->ldt_mirror)) ? "the LDT mirror" :
		a->code_alias != b->code_alias ? "the code alias" :
		a->stack_alias != b->stack_alias ? "the stack alias" : NULL;
	return *what == NULL;
}

uint32_t arch_port_in(uint16_t port, unsigned size)
{
	(void)size;
	fake_last_port = port;
	return 0x12345678u;
}

void arch_port_out(uint16_t port, unsigned size, uint32_t value)
{
	(void)size;
	fake_last_port = port;
	fake_last_port_value = value;
}

/* ---- the guest's ends ---- */

void kprintf(const char *fmt, ...)
{
	(void)fmt;
}

void guest_deliver(struct vcpu *v, struct event ev)
{
	if (deliver_event(v, ev))
		guest_die(v, "triple fault");
}

void guest_die(struct vcpu *v, const char *fmt, ...)
{
	(void)v;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fake_die_reason, sizeof(fake_die_reason), fmt, ap);
	va_end(ap);
	fake_end = FAKE_DIED;
	longjmp(fake_stop, 1);
}

void guest_reset(struct vcpu *v)
{
	(void)v;
	fake_end = FAKE_RESET;
	longjmp(fake_stop, 1);
}

void guest_halted_for_good(struct vcpu *v)
{
	(void)v;
	fake_end = FAKE_HALTED;
	longjmp(fake_stop, 1);
}

void guest_shutdown(struct vcpu *v, int status)
{
	(void)v;
	fake_shutdown_status = status;
	fake_end = FAKE_SHUTDOWN;
	longjmp(fake_stop, 1);
}
