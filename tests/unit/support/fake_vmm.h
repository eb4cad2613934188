/*
 * A simulated machine for running the VMM core's emulator on the host: a
 * guest RAM buffer, a vCPU, and fakes of the arch hooks (core/arch.h) and of
 * the guest's ends (guest_die, guest_shutdown), which record what they were
 * asked instead of touching hardware.  Used by test_emulate.c and the
 * fuzzers.
 */
#ifndef TESTS_FAKE_VMM_H
#define TESTS_FAKE_VMM_H

#include <setjmp.h>
#include <stdint.h>

#include "core/vcpu.h"

#define FAKE_RAM_SIZE (4u << 20)

extern struct vcpu fake_vcpu;
extern struct trapframe fake_regs;
extern uint8_t fake_ram[FAKE_RAM_SIZE];

/* How the last run ended when the guest was stopped (guest_die, shutdown). */
enum fake_end { FAKE_RUNNING, FAKE_DIED, FAKE_SHUTDOWN, FAKE_HALTED, FAKE_RESET };
extern jmp_buf fake_stop;
extern enum fake_end fake_end;
extern int fake_shutdown_status;
extern char fake_die_reason[160];

/* What the fakes saw. */
extern uint64_t fake_gdt_mirror[32];
extern unsigned fake_ring_switches, fake_tlb_flushes;
extern uint16_t fake_last_port;
extern uint32_t fake_last_port_value;

/* A fresh guest: zeroed RAM, virtual kernel mode, flat boot segments, a
 * GDT at 0x1000 with Linux's layout (kernel CS 0x60, DS 0x68, user CS 0x73,
 * DS 0x7b, TSS 0x80 at 0x3000 with ESP0 0x9000), an IDT at 0x2000. */
void fake_reset(void);

/* Put bytes at guest address 0x100000 and point EIP there. */
void fake_code(const uint8_t *bytes, unsigned len);

/* Set an IDT gate: a 32-bit interrupt or trap gate to handler in CS 0x60. */
void fake_gate(unsigned vector, uint32_t handler, int trap_gate, unsigned dpl);

#define FAKE_CODE 0x100000u
#define FAKE_GDT  0x1000u
#define FAKE_IDT  0x2000u
#define FAKE_TSS  0x3000u
#define FAKE_ESP0 0x9000u

#endif
