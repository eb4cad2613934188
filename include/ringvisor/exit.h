/*
 * How a machine reports its result: the exit protocol shared by the VMM,
 * the test guests and the launcher.
 *
 * QEMU's isa-debug-exit device (iobase 0xf4) ends QEMU when a byte is
 * written to it, with exit status (value << 1) | 1.  Status 1 is also what
 * QEMU returns for its own errors, so we never write 0: we write
 * EXIT_PORT_BIAS + status, and the launcher turns QEMU's 33, 35, 37, ...
 * back into 0, 1, 2, ...  On real hardware the write goes nowhere and the
 * machine halts instead.
 */
#ifndef RINGVISOR_EXIT_H
#define RINGVISOR_EXIT_H

#define EXIT_PORT       0xf4
#define EXIT_PORT_BIAS  0x10

/* The statuses, as the launcher returns them to the shell. */
#define EXIT_OK         0   /* clean halt, guest powered off, tests passed */
#define EXIT_FAIL       1   /* a test guest reported a failure */
#define EXIT_BAD_INPUT  2   /* bad command line, memory map or module */
#define EXIT_PANIC      3   /* the VMM hit an unexpected exception */
#define EXIT_GUEST_DIED 4   /* the VMM stopped a guest it could not go on running */
#define EXIT_GUEST_RESET 5  /* the guest reset the machine (Linux: reboot, panic=-1) */

#endif
