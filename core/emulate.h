/*
 * Emulating the instruction that trapped (paper §4.4.2).
 *
 * The guest kernel runs in ring 3, so every privileged instruction it
 * executes raises #GP.  The VMM decodes it from guest memory and does what
 * the CPU would have done in ring 0, on the virtual CPU.  The same
 * instruction from virtual user mode gets the #GP back, as on hardware
 * (paper §4.4.2 case 2).
 *
 * Pure C over the vCPU and guest memory; the only ways out are the arch
 * hooks for real port I/O and waiting for an interrupt.
 */
#ifndef CORE_EMULATE_H
#define CORE_EMULATE_H

#include "core/decode.h"
#include "core/deliver.h"
#include "core/vcpu.h"

enum emulation {
	EMULATED,	/* done: registers and EIP updated */
	RAISE,		/* deliver *raise to the guest instead */
};

/* Handle a #GP (error code error) taken at the guest's EIP. */
enum emulation emulate_gp(struct vcpu *v, uint32_t error, struct event *raise);

/* The reset values of what the emulator keeps: debug registers, PAT. */
void emulate_reset(struct vcpu *v);

/* ---- shared by the emulator's files ---- */

/* An exception to raise, with its error code. */
struct event emulate_fault(uint8_t vector, uint32_t error);

/* The exception for the guest memory access that just failed (core/vmem.h):
 * its #PF, or otherwise when the access failed for another reason (with
 * guest paging off: outside guest RAM).  A guest page table pointing past
 * guest RAM stops the guest. */
struct event emulate_memory_fault(struct vcpu *v, struct event otherwise);

/* Linear address of the instruction's memory operand; -1 and *raise set
 * when its segment cannot be used. */
int emulate_operand_address(struct vcpu *v, const struct insn *in,
			    uint32_t *linear, struct event *raise);

/* Port I/O the guest could not do itself (ioport.c).  size is 1, 2 or 4. */
uint32_t ioport_read(struct vcpu *v, uint16_t port, unsigned size);
void ioport_write(struct vcpu *v, uint16_t port, unsigned size, uint32_t value);

/* Transitions between virtual rings and code segments (ring.c). */
enum emulation ring_iret(struct vcpu *v, const struct insn *in, struct event *raise);
enum emulation ring_software_interrupt(struct vcpu *v, const struct insn *in,
				       struct event *raise);
enum emulation ring_sysenter(struct vcpu *v, struct event *raise);
enum emulation ring_sysexit(struct vcpu *v, struct event *raise);
/* Whether the data registers hold the selectors last found valid for
 * virtual user mode, nothing mirrored having changed since (a return to
 * user mode then leaves them as they are). */
int ring_user_selectors_known(const struct vcpu *v);
/* Guest descriptor sel and its decoding, remembered in *c while no
 * mirrored entry changes (core/ring.c); -1 if sel names none. */
int ring_descriptor(struct vcpu *v, struct checked_selector *c, uint16_t sel,
		    uint64_t *raw, struct segment *seg);
/* The kernel's iret back to user mode with the selectors last checked for
 * it: 1 if done, 0 (nothing changed) for the general path. */
int ring_fast_iret_to_user(struct vcpu *v);

/* What ring_fast_iret_to_user takes without checking again: the code and
 * stack selectors last checked for user mode, both of base 0 (1), and
 * their descriptors; 0 if there are none now. */
struct iret_to_user {
	uint16_t cs, ss;
	uint32_t eip_limit;
	uint64_t code_raw, stack_raw;
};
int ring_iret_to_user_known(const struct vcpu *v, struct iret_to_user *known);
enum emulation ring_far_transfer(struct vcpu *v, const struct insn *in,
				 struct event *raise);
enum emulation ring_load_segment(struct vcpu *v, const struct insn *in,
				 struct event *raise);
enum emulation ring_load_system_segment(struct vcpu *v, int is_tr, uint16_t sel,
					struct event *raise);
enum emulation ring_descriptor_table(struct vcpu *v, const struct insn *in,
				     struct event *raise);

/* Commit a checked code or stack segment as the guest's CS or SS. */
void ring_set_code(struct vcpu *v, uint16_t sel, unsigned pl, uint64_t raw);
void ring_set_stack(struct vcpu *v, uint16_t sel, uint64_t raw);

/* Re-read the guest's GDT (LDT) into the real one, after lgdt (lldt) or
 * when the guest may have changed it. */
void ring_mirror_gdt(struct vcpu *v);
/* Mirror again the entries on guest-physical [gpa, gpa + len), just written. */
void ring_mirror_written(struct vcpu *v, uint32_t gpa, uint32_t len);
void ring_mirror_ldt(struct vcpu *v);
/* Both: the GDT, and the LDT if one is loaded. */
void ring_mirror_tables(struct vcpu *v);

/* A store faulting at fault_va on a descriptor-table page the guest may
 * write (guest-physical gpa): emulated if it is a plain mov; 0 if done. */
int emulate_table_store(struct vcpu *v, uint32_t fault_va, uint32_t gpa);

#endif
