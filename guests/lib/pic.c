#include "guests/lib/pic.h"

#include "guests/lib/processor.h"

#define ICW1_INIT_ICW4 0x11	/* edge triggered, cascaded, ICW4 follows */
#define ICW4_8086      0x01
#define OCW2_EOI       0x20
#define OCW3_READ_IRR  0x0a

#define PIT_CH0  0x40
#define PIT_MODE 0x43

void pic_init(uint8_t base)
{
	outb(PIC1_CMD, ICW1_INIT_ICW4);
	outb(PIC2_CMD, ICW1_INIT_ICW4);
	outb(PIC1_DATA, base);		/* ICW2: vector of IRQ 0 */
	outb(PIC2_DATA, base + 8);
	outb(PIC1_DATA, 1 << 2);	/* ICW3: the slave hangs on IRQ 2 */
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, ICW4_8086);
	outb(PIC2_DATA, ICW4_8086);
	outb(PIC1_DATA, 0xff);		/* mask everything */
	outb(PIC2_DATA, 0xff);
}

static uint16_t data_port(unsigned irq)
{
	return irq < 8 ? PIC1_DATA : PIC2_DATA;
}

void pic_unmask(unsigned irq)
{
	outb(data_port(irq), inb(data_port(irq)) & ~(1u << (irq & 7)));
	if (irq >= 8)
		pic_unmask(2);
}

void pic_mask(unsigned irq)
{
	outb(data_port(irq), inb(data_port(irq)) | (1u << (irq & 7)));
}

void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, OCW2_EOI);
	outb(PIC1_CMD, OCW2_EOI);
}

bool pic_pending(unsigned irq)
{
	uint16_t cmd = irq < 8 ? PIC1_CMD : PIC2_CMD;
	outb(cmd, OCW3_READ_IRR);
	return inb(cmd) & (1u << (irq & 7));
}

static void pit_program(uint8_t mode, uint16_t count)
{
	/* Channel 0, low byte then high byte, binary. */
	outb(PIT_MODE, 0x30 | (mode << 1));
	outb(PIT_CH0, count & 0xff);
	outb(PIT_CH0, count >> 8);
}

void pit_periodic(uint16_t count)
{
	pit_program(2, count);
}

void pit_oneshot(uint16_t count)
{
	pit_program(0, count);
}

void pit_stop(void)
{
	/* Mode 0 with no count written yet holds the output low: no edge. */
	outb(PIT_MODE, 0x30);
}
