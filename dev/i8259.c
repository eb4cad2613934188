#include "dev/i8259.h"

#include "core/arch.h"

#define ICW1_INIT  0x10	/* a command-port write with this bit starts init */
#define ICW1_ICW4  0x01	/* an ICW4 will follow */
#define ICW1_SINGLE 0x02	/* no ICW3 (no cascade) */

/* Where each PIC is in its initialization sequence (8259A data sheet). */
enum init_step { READY, WANT_ICW2, WANT_ICW3, WANT_ICW4 };

struct pic {
	uint16_t command;	/* port */
	uint8_t real_base;
	uint8_t guest_base;
	uint8_t icw1;
	enum init_step step;
};

/* The guest starts with what a PC BIOS leaves: bases 0x08 and 0x70. */
#define BIOS_MASTER_BASE 0x08
#define BIOS_SLAVE_BASE  0x70

static struct pic pics[2] = {
	{ 0x20, PIC_REAL_BASE, BIOS_MASTER_BASE, 0, READY },
	{ 0xa0, PIC_REAL_BASE + 8, BIOS_SLAVE_BASE, 0, READY },
};

void pic_init(void)
{
	/*
	 * The BIOS left the master PIC on vectors 0x08-0x0f, the exception
	 * vectors: an interrupt there would reach the VMM's #DF task.  Move
	 * both PICs to PIC_REAL_BASE before the guest can enable interrupts,
	 * keeping the BIOS's masks (the guest sees them as the BIOS left
	 * them, its vector bases included).
	 */
	uint8_t masks[2] = { (uint8_t)arch_port_in(0x21, 1), (uint8_t)arch_port_in(0xa1, 1) };
	for (unsigned i = 0; i < 2; i++) {
		uint16_t command = pics[i].command;
		arch_port_out(command, 1, ICW1_INIT | ICW1_ICW4);
		arch_port_out(command + 1, 1, pics[i].real_base);
		arch_port_out(command + 1, 1, i == 0 ? 0x04 : 0x02);	/* cascade on IRQ 2 */
		arch_port_out(command + 1, 1, 0x01);			/* 8086 mode */
		arch_port_out(command + 1, 1, masks[i]);
	}
}

static struct pic *pic_of(uint16_t port)
{
	return (port & 0x80) ? &pics[1] : &pics[0];
}

int pic_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1;
}

uint8_t pic_read(uint16_t port)
{
	return (uint8_t)arch_port_in(port, 1);
}

void pic_write(uint16_t port, uint8_t value)
{
	struct pic *p = pic_of(port);
	int data_port = port & 1;

	if (!data_port && (value & ICW1_INIT)) {
		p->icw1 = value;
		p->step = WANT_ICW2;
	} else if (data_port && p->step == WANT_ICW2) {
		/* The vector base: remember the guest's, program ours. */
		p->guest_base = value & 0xf8;
		value = p->real_base;
		p->step = (p->icw1 & ICW1_SINGLE) ? ((p->icw1 & ICW1_ICW4) ? WANT_ICW4 : READY)
						  : WANT_ICW3;
	} else if (data_port && p->step == WANT_ICW3) {
		p->step = (p->icw1 & ICW1_ICW4) ? WANT_ICW4 : READY;
	} else if (data_port && p->step == WANT_ICW4) {
		p->step = READY;
	}
	arch_port_out(port, 1, value);
}

int pic_guest_vector(uint8_t real_vector)
{
	for (unsigned i = 0; i < 2; i++) {
		uint8_t offset = real_vector - pics[i].real_base;
		if (offset < 8)
			return pics[i].guest_base + offset;
	}
	return -1;
}
