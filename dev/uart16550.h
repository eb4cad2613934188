/* The VMM's serial console: a polled 16550 UART (COM1 on a PC). */
#ifndef DEV_UART16550_H
#define DEV_UART16550_H

#include <stddef.h>
#include <stdint.h>

#define COM1_BASE 0x3f8

void uart_init(uint16_t base);
/* Write text, turning "\n" into "\r\n" as a terminal expects. */
void uart_write(const char *text, size_t len);

#endif
