/*
 * Output on COM1, polled, and leaving the machine through the exit port
 * (include/ringvisor/exit.h).  The firmware (or the VMM) has set the UART
 * up already; like guests/hello we only write to it.
 */
#ifndef GUESTS_LIB_CONSOLE_H
#define GUESTS_LIB_CONSOLE_H

void console_putc(char c);	/* '\n' goes out as "\r\n" */
void console_puts(const char *s);	/* no newline added */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write EXIT_PORT_BIAS + status to the exit port; halt if that returns. */
void exit(int status) __attribute__((noreturn));

#endif
