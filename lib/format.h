/*
 * Formatted output into a buffer: the one printf engine of the VMM.
 *
 * Pure C with no dependencies, so it also builds on the host, where the unit
 * tests compare it with the C library's snprintf.
 *
 * Supported: %d %i %u %x %X %o %p %s %c %%, the flags '-' '0' '+' ' ' '#',
 * a width and a precision (both may be '*'), and the length modifiers
 * hh h l ll z.  An unknown conversion is copied out literally and consumes
 * no argument of its own (a '*' before it has already taken its int), so a
 * bad format string can never read a vararg it was not given.  Widths and
 * precisions are capped at 4096.
 */
#ifndef LIB_FORMAT_H
#define LIB_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Like C99 vsnprintf: writes at most size bytes including the terminating
 * NUL, and returns the length the whole output would have had.
 */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
