#include "core/console.h"

#include <stdarg.h>

#include "lib/format.h"

static console_write_fn console_write;

void console_set_output(console_write_fn write)
{
	console_write = write;
}

void kprintf(const char *fmt, ...)
{
	/* Longer lines are cut, never overrun: the VMM prints nothing that
	 * long on purpose. */
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	int n = kvsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	if (console_write && n > 0)
		console_write(line, (size_t)n);
}
