/* The VMM's console: formatted text to whatever output the arch set up. */
#ifndef CORE_CONSOLE_H
#define CORE_CONSOLE_H

#include <stddef.h>

typedef void (*console_write_fn)(const char *text, size_t len);

void console_set_output(console_write_fn write);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
