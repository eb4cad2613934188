/* The IA-32 side of core/arch.h. */
#include "core/arch.h"

#include "arch/ia32/cpu.h"
#include "arch/ia32/fastcall.h"
#include "arch/ia32/memlayout.h"
#include "arch/ia32/paging.h"
#include "arch/ia32/x86.h"
#include "core/console.h"
#include "dev/uart16550.h"
#include "ringvisor/exit.h"

void arch_early_init(void)
{
	uart_init(COM1_BASE);
	console_set_output(uart_write);
	cpu_init();
	fastcall_init();
}

void arch_paging_init(void)
{
	paging_init();
}

const void *arch_phys_map(void *unused, uint64_t pa, uint64_t len)
{
	(void)unused;
	if (pa >= DIRECT_MAP_SIZE || len > DIRECT_MAP_SIZE - pa)
		return 0;
	return p2v((uint32_t)pa);
}

uint32_t arch_direct_map_limit(void)
{
	return DIRECT_MAP_SIZE;
}

extern char image_start[], image_end[], rodata_end[];

void arch_image_range(uint32_t *start_pa, uint32_t *end_pa)
{
	*start_pa = v2p(image_start);
	*end_pa = v2p(image_end);
}

void arch_readonly_image(const uint8_t **start, uint32_t *len)
{
	*start = (const uint8_t *)image_start;
	*len = (uint32_t)(rodata_end - image_start);
}

/* Each kind is a real fault the VMM's own code takes, not a fake report. */
void arch_provoke_fault(enum panic_test kind)
{
	switch (kind) {
	case PANIC_TEST_UD:
		__asm__ volatile("ud2");
		break;
	case PANIC_TEST_DE:
		__asm__ volatile("xorl %%ecx, %%ecx; divl %%ecx"
				 : : "a"(1), "d"(0) : "ecx");
		break;
	case PANIC_TEST_GP:
		/* Loading a selector past the GDT's limit raises #GP(selector). */
		__asm__ volatile("movw %w0, %%ds" : : "r"(0xfff8));
		break;
	case PANIC_TEST_PF:
		/* Nothing is mapped below 0xFC000000 once paging_init() ran. */
		*(volatile uint32_t *)0x1234 = 0xdead;
		break;
	case PANIC_TEST_DF:
		/* Run the stack into its guard page.  The #PF cannot push its
		 * frame on the unmapped stack, which makes it a double fault. */
		__asm__ volatile("1: pushl $0; jmp 1b");
		break;
	case PANIC_TEST_NONE:
		break;
	}
}

uint32_t arch_port_in(uint16_t port, unsigned size)
{
	uint32_t v;
	if (size == 1) {
		return inb(port);
	} else if (size == 2) {
		uint16_t w;
		__asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"(port));
		return w;
	}
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void arch_port_out(uint16_t port, unsigned size, uint32_t value)
{
	if (size == 1)
		outb(port, (uint8_t)value);
	else if (size == 2)
		__asm__ volatile("outw %0, %1" : : "a"((uint16_t)value), "Nd"(port));
	else
		__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

void arch_exit(int status)
{
	outb(EXIT_PORT, (uint8_t)(EXIT_PORT_BIAS + status));
	/* On real hardware nothing listens on that port: stop here. */
	for (;;)
		__asm__ volatile("cli; hlt");
}
