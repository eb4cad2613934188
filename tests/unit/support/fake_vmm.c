#include "tests/unit/support/fake_vmm.h"

#include <stdarg.h>
#include <stdio.h>
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

/* ---- guest memory and shadow tables in host buffers ---- */

static uint8_t *map_ram(uint32_t pa, uint32_t *len)
{
	/* Host "physical" addresses are guest-physical here (host_base 0). */
	*len = FAKE_RAM_SIZE - pa;
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

static const struct shadow_ops shadow_ops = { alloc_table, free_table, table,
					      init_directory, NULL, NULL };

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
}

void fake_reset(void)
{
	memset(fake_ram, 0, sizeof(fake_ram));
	memset(table_used, 0, sizeof(table_used));
	memset(&fake_vcpu, 0, sizeof(fake_vcpu));
	memset(fake_gdt_mirror, 0, sizeof(fake_gdt_mirror));
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
}

void fake_code(const uint8_t *bytes, unsigned len)
{
	memcpy(fake_ram + FAKE_CODE, bytes, len);
	fake_regs.eip = FAKE_CODE;
}

/* ---- the arch hooks ---- */

static uint32_t fake_mirror_generation = 1;	/* 0 is "never" (core/ring.c) */

uint8_t *arch_window(uint32_t pa, uint32_t *len) { return map_ram(pa, len); }
int arch_guest_set_code(struct vcpu *v, uint64_t raw) { (void)v; (void)raw; return 0; }
int arch_guest_set_stack(struct vcpu *v, uint64_t raw) { (void)v; (void)raw; return 0; }
uint32_t arch_take_debug_status(void) { return 0; }
void arch_guest_tlb_invalidate(uint32_t va) { (void)va; }
void arch_guest_tlb_flush(struct vcpu *v) { (void)v; fake_tlb_flushes++; }
uint32_t arch_fault_address(void) { return 0; }
void arch_guest_set_cr0(struct vcpu *v) { (void)v; }
void arch_guest_set_cr4(struct vcpu *v) { (void)v; }
uint64_t arch_read_tsc(void) { return 0x123456789ull; }
int arch_read_msr(uint32_t index, uint64_t *value) { (void)index; (void)value; return -1; }
unsigned arch_guest_ldt_entries(void) { return 8; }
void arch_guest_mirror_ldt(unsigned index, uint64_t raw) { (void)index; (void)raw; fake_mirror_generation++; }
void arch_guest_switch_ring(struct vcpu *v) { (void)v; fake_ring_switches++; }
void arch_guest_load_shadow(struct vcpu *v, unsigned which) { (void)v; (void)which; }

void arch_guest_mirror_gdt(unsigned index, uint64_t raw)
{
	fake_mirror_generation++;
	if (index < 32)
		fake_gdt_mirror[index] = raw;
}

uint32_t arch_guest_mirror_generation(void) { return fake_mirror_generation; }

void *arch_fixed_window(unsigned slot, uint32_t pa)
{
	uint32_t len;
	return slot < 16 ? map_ram(pa, &len) : NULL;
}

/* No shadow to read through: the caller walks the guest's tables. */
int arch_read_guest_linear(uint32_t linear, void *buf, uint32_t len)
{
	(void)linear; (void)buf; (void)len;
	return -1;
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
