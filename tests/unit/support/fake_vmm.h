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

/* What the fakes saw: the real GDT's and LDT's mirrors of the guest's
 * entries (the raw guest descriptor each was last mirrored from), the raw
 * descriptors of the last code and stack aliases made. */
extern uint64_t fake_gdt_mirror[32], fake_ldt_mirror[8];
extern uint64_t fake_code_alias_raw, fake_stack_alias_raw;
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

/*
 * The whole simulated machine (vCPU, trap frame, guest RAM, shadow tables,
 * what the simulated CPU runs on and the real mirrors), saved and restored:
 * the fuzzers run two paths from one state and compare where they end.
 */
struct fake_machine;
struct fake_machine *fake_machine_new(void);
void fake_save(struct fake_machine *m);
void fake_restore(struct fake_machine *m);
/* Whether page (a number) of the live guest RAM may differ from m's: 0
 * means it is the same.  A harness writing fake_ram itself after a save
 * says so with fake_ram_touched. */
int fake_machine_ram_may_differ(const struct fake_machine *m, uint32_t page);
void fake_ram_touched(uint32_t gpa, uint32_t len);
const uint8_t *fake_machine_ram(const struct fake_machine *m);
const struct vcpu *fake_machine_vcpu(const struct fake_machine *m);
const struct trapframe *fake_machine_regs(const struct fake_machine *m);
/* The shadow entry table which (SHADOW_KERNEL/USER) holds for va, or 0. */
uint32_t fake_machine_shadow(const struct fake_machine *m, unsigned which, uint32_t va);
/* 1 if a's and b's table which map some page differently: the first such
 * va and the two entries for it; 0 if they map the same. */
int fake_machine_shadow_diff(const struct fake_machine *a, const struct fake_machine *b,
			     unsigned which, uint32_t *va, uint32_t *ea, uint32_t *eb);
/* Whether a and b run on the same shadow with the same real mirrors and
 * code and stack aliases; if not, *what names the first difference. */
int fake_machine_same_arch(const struct fake_machine *a, const struct fake_machine *b,
			   const char **what);

#define FAKE_CODE 0x100000u
#define FAKE_GDT  0x1000u
#define FAKE_IDT  0x2000u
#define FAKE_TSS  0x3000u
#define FAKE_ESP0 0x9000u

#endif
