#include "guests/lib/console.h"

#include <stdarg.h>
#include <stdint.h>
#include "guests/lib/processor.h"
#include "lib/format.h"
#include "ringvisor/exit.h"

#define COM1 0x3f8
#define LSR_THRE 0x20	/* transmit holding register empty */

static void put_raw(char c)
{
	while (!(inb(COM1 + 5) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

void console_putc(char c)
{
	if (c == '\n')
		put_raw('\r');
	put_raw(c);
}

void console_puts(const char *s)
{
	while (*s)
		console_putc(*s++);
}

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_puts(buf);
	return n;
}

void exit(int status)
{
	outb(EXIT_PORT, (uint8_t)(EXIT_PORT_BIAS + status));
	for (;;)
		__asm__ volatile("cli; hlt");
}
