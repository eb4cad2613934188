/*
 * The smallest guest: says hello on COM1 and exits through the debug-exit
 * port.  Runs on bare QEMU today; under the VMM once guests can run.
 */
#include <stdint.h>
#include "ringvisor/exit.h"

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

void main(void)
{
	serial_puts("hello: a Multiboot test guest\r\n");
	outb(EXIT_PORT, EXIT_PORT_BIAS + EXIT_OK);
}
