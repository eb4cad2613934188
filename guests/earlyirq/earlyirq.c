/*
 * A guest that enables interrupts before it has touched the PICs, as a PC
 * BIOS left them: the master on vectors 0x08-0x0f, which are also the
 * exception vectors.  The timer must arrive on vector 8, natively and
 * under the VMM alike.  (The VMM once kept the real PIC where the BIOS had
 * put it until the guest programmed it, and the timer then landed on the
 * VMM's own double-fault vector: a VMM panic.)
 */
#include <stdint.h>
#include "ringvisor/exit.h"

#define CODE_SELECTOR 0x08	/* start.S's GDT */
#define TICKS_WANTED 3

volatile uint32_t ticks;
void timer_entry(void);
void unexpected_entry(void);

static uint64_t idt[256];

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

static void serial_puts(const char *s)
{
	for (; *s; s++) {
		while (!(inb(0x3f8 + 5) & 0x20))
			;
		outb(0x3f8, (uint8_t)*s);
	}
}

/* A 32-bit interrupt gate, DPL 0. */
static uint64_t gate(void (*handler)(void))
{
	uint32_t offset = (uint32_t)handler;
	return (uint64_t)(offset & 0xffff) | (uint64_t)CODE_SELECTOR << 16 |
	       (uint64_t)0x8e00 << 32 | (uint64_t)(offset >> 16) << 48;
}

void main(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt[v] = gate(v == 8 ? timer_entry : unexpected_entry);
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr =
		{ sizeof(idt) - 1, (uint32_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));

	/* The PIT at about 1 kHz, IRQ 0 unmasked: nothing else changes. */
	outb(0x43, 0x34);
	outb(0x40, 1193 & 0xff);
	outb(0x40, 1193 >> 8);
	outb(0x21, inb(0x21) & ~1u);

	__asm__ volatile("sti");
	for (uint32_t spin = 0; ticks < TICKS_WANTED && spin < 200000000u; spin++)
		__asm__ volatile("pause");
	__asm__ volatile("cli");
	outb(0x21, inb(0x21) | 1u);

	if (ticks >= TICKS_WANTED) {
		serial_puts("PASS: the timer arrives on the BIOS's vector 8\r\n");
		serial_puts("SUMMARY: 1 tests, 0 failures\r\n");
		outb(EXIT_PORT, EXIT_PORT_BIAS + EXIT_OK);
	}
	serial_puts("FAIL: the timer arrives on the BIOS's vector 8 (no ticks)\r\n");
	serial_puts("SUMMARY: 1 tests, 1 failures\r\n");
	outb(EXIT_PORT, EXIT_PORT_BIAS + EXIT_FAIL);
}
