/*
 * Ports the guest touched but may not drive directly: the ones missing from
 * the TSS I/O bitmap (see arch/ia32/guest.c for those it may).
 */
#include "core/emulate.h"

#include "core/exitstats.h"
#include "core/guest.h"
#include "dev/i8259.h"
#include "ringvisor/exit.h"

uint32_t ioport_read(struct vcpu *v, uint16_t port, unsigned size)
{
	(void)v;
	if (size == 1 && pic_port(port))
		return pic_read(port);
	/* Absent hardware: the bus floats high, as QEMU reads unassigned ports. */
	return 0xffffffffu;
}

/* The two ways a PC kernel resets the machine: pulsing the reset line
 * through the keyboard controller (command 0xFE to port 0x64) and the
 * reset control register at 0xCF9 (bit 2 starts the reset). */
#define KBC_COMMAND_PORT 0x64
#define KBC_PULSE_RESET  0xfe
#define RESET_CONTROL_PORT 0xcf9
#define RESET_CONTROL_GO   0x04

/*
 * Profile marks (for benchmarks, issue 6): the guest writes a label, a byte
 * at a time, to PROFILE_LABEL_PORT, then anything to PROFILE_MARK_PORT; the
 * VMM prints the exit statistics since the previous mark under that label.
 * Natively nothing is at these ports and the writes go nowhere.
 */
#define PROFILE_MARK_PORT  0xe0
#define PROFILE_LABEL_PORT 0xe1
#define PROFILE_LABEL_MAX  40

static char profile_label[PROFILE_LABEL_MAX + 1];
static unsigned profile_label_len;

static void profile_port_write(uint16_t port, uint8_t value)
{
	if (port == PROFILE_LABEL_PORT) {
		/* Printable characters only: the label goes to the console. */
		if (profile_label_len < PROFILE_LABEL_MAX && value >= 0x21 && value < 0x7f)
			profile_label[profile_label_len++] = (char)value;
		return;
	}
	profile_label[profile_label_len] = 0;
	exitstats_print(profile_label_len ? profile_label : "-");
	profile_label_len = 0;
}

void ioport_write(struct vcpu *v, uint16_t port, unsigned size, uint32_t value)
{
	if (port == PROFILE_MARK_PORT || port == PROFILE_LABEL_PORT) {
		profile_port_write(port, (uint8_t)value);
		return;
	}
	if ((port == KBC_COMMAND_PORT && (uint8_t)value == KBC_PULSE_RESET) ||
	    (port == RESET_CONTROL_PORT && (value & RESET_CONTROL_GO)))
		guest_reset(v);
	if (port == EXIT_PORT) {
		/* The debug-exit protocol (ringvisor/exit.h): the guest's
		 * status goes out through the VMM, after its statistics. */
		uint8_t byte = (uint8_t)value;
		guest_shutdown(v, byte >= EXIT_PORT_BIAS ? byte - EXIT_PORT_BIAS
							 : EXIT_FAIL);
	}
	if (size == 1 && pic_port(port))
		pic_write(port, (uint8_t)value);
	/* Anything else (0x80, written for delays, among them): nowhere. */
}
