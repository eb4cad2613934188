/*
 * A 16550 UART driven by polling: the VMM prints little and must be able to
 * print from anywhere, including with interrupts off in the panic report.
 * Register layout from the National Semiconductor PC16550D data sheet.
 */
#include "dev/uart16550.h"

#include "arch/ia32/x86.h"

#define REG_DATA 0	/* THR on write; with DLAB set: divisor low */
#define REG_IER  1	/* interrupt enable; with DLAB set: divisor high */
#define REG_FCR  2
#define REG_LCR  3
#define REG_MCR  4
#define REG_LSR  5

#define LCR_DLAB  0x80
#define LCR_8N1   0x03
#define LSR_THRE  0x20	/* transmit holding register empty */

static uint16_t uart_base;

void uart_init(uint16_t base)
{
	uart_base = base;
	outb(base + REG_IER, 0);		/* no interrupts: we poll */
	outb(base + REG_LCR, LCR_DLAB);
	outb(base + REG_DATA, 1);		/* 115200 baud: divisor 1 */
	outb(base + REG_IER, 0);
	outb(base + REG_LCR, LCR_8N1);
	outb(base + REG_FCR, 0xc7);		/* FIFOs on, cleared */
	outb(base + REG_MCR, 0x03);		/* DTR, RTS */
}

static void put_char(char c)
{
	/* Bounded wait: a missing UART must not hang the VMM forever. */
	for (int spins = 0; spins < 100000; spins++)
		if (inb(uart_base + REG_LSR) & LSR_THRE)
			break;
	outb(uart_base + REG_DATA, (uint8_t)c);
}

void uart_write(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n')
			put_char('\r');
		put_char(text[i]);
	}
}
