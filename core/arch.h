/*
 * What the VMM core needs from the CPU architecture it runs on.  The IA-32
 * implementation is in arch/ia32/; a port to another two-level CPU provides
 * these functions and nothing in core/ changes.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include <stdint.h>
#include "core/options.h"

/* Console, CPU tables and exception handling: after this, a fault in the
 * VMM prints a report instead of resetting the machine. */
void arch_early_init(void);

/* The VMM's final address space (only the VMM mapped, at the top). */
void arch_paging_init(void);

/* Physical [pa, pa+len) readable through the VMM's direct map, or NULL. */
const void *arch_phys_map(void *unused, uint64_t pa, uint64_t len);

/* Physical memory the VMM can address directly, and its own image. */
uint32_t arch_direct_map_limit(void);
void arch_image_range(uint32_t *start_pa, uint32_t *end_pa);

/* Deliberately fault inside the VMM (the test-panic= option). */
void arch_provoke_fault(enum panic_test kind);

/* ---- running a guest (arch/ia32/guest.c) ---- */
struct vcpu;

/* Reach host-physical pa: a pointer, and in *len the bytes reachable
 * through it.  Valid until the next call (struct guest_mem's map). */
uint8_t *arch_window(uint32_t pa, uint32_t *len);
/* Map host-physical page pa at fixed window slot (0..15) until the slot is
 * mapped elsewhere: a pointer to pa that stays valid, for what the VMM
 * touches on every exit.  NULL if there is no such slot. */
void *arch_fixed_window(unsigned slot, uint32_t pa);
enum { FIXED_WINDOW_PV_IRQ, FIXED_WINDOW_TABLE_STORE };	/* the slots the core uses */
/* Read guest linear memory as the guest's current shadow table maps it,
 * without walking the guest's tables: 0, or -1 if it is not mapped there
 * now (then ask vmem, which walks).  For the fast exits. */
int arch_read_guest_linear(uint32_t linear, void *buf, uint32_t len);
/* The VMM's code and read-only data, as mapped (read-only) in the VMM. */
void arch_readonly_image(const uint8_t **start, uint32_t *len);

/* Set up the guest's first address space, ports and boot segments. */
int arch_guest_init(struct vcpu *v);

/* Leave for the guest for the first time; from then on the VMM runs only
 * when the guest traps (guest_exit()). */
void arch_enter_guest(struct vcpu *v) __attribute__((noreturn));

/* The guest's code segment is now guest descriptor raw: make the real
 * descriptor guest code runs on.  -1 if it cannot be made (the segment
 * starts inside the VMM's space). */
int arch_guest_set_code(struct vcpu *v, uint64_t raw);

/* The guest's stack segment is now guest descriptor raw (a writable data
 * segment): make the real descriptor it runs on.  -1 if it cannot be made. */
int arch_guest_set_stack(struct vcpu *v, uint64_t raw);

/* Whether the guest's code (code 1) or stack alias loaded now is the one
 * guest descriptor raw would get: moving the vCPU to raw then needs no
 * arch_guest_set_code or _stack. */
int arch_alias_loaded_for(int code, uint64_t raw);
/* Which aliases are loaded, as a number that moves on when they change:
 * while it stays, so do arch_alias_loaded_for's answers. */
uint32_t arch_alias_generation(void);

/* The guest's code and stack segments are now the flat 4 GiB ones
 * (FLAT_CODE_DPL0, FLAT_DATA_DPL0), as sysenter and sysexit load them. */
void arch_guest_set_flat_segments(struct vcpu *v);

/* Every exit's first call: the arch's own short path for system calls (if
 * it has one) may have moved the guest between rings since the last exit;
 * it tells v now (guest_system_calls_bypassed, core/guest.h). */
void arch_guest_catch_up(struct vcpu *v);

/* The guest's CR0 changed: give the real CR0 its FPU bits (MP, EM, TS,
 * NE), so the guest's FPU instructions fault exactly as they should. */
void arch_guest_set_cr0(struct vcpu *v);
/* Carry the guest's CR4.OSFXSR/OSXMMEXCPT to the real CR4. */
void arch_guest_set_cr4(struct vcpu *v);
/* The CPU's time-stamp counter. */
uint64_t arch_read_tsc(void);
/* Read MSR index from the CPU if it is one of the informational MSRs the
 * guest may see as they are; 0, or -1 if not. */
int arch_read_msr(uint32_t index, uint64_t *value);

/* The debug status (DR6) of the #DB just taken; clears the real one. */
uint32_t arch_take_debug_status(void);

/* The shadow tables changed for va (forget the CPU's cached translation),
 * or wholesale (forget all of them and reload the current table). */
void arch_guest_tlb_invalidate(uint32_t va);
void arch_guest_tlb_flush(struct vcpu *v);

/* The linear address of the page fault just taken (CR2). */
uint32_t arch_fault_address(void);

/* Mirror guest GDT entry index into the real GDT (paper §4.2). */
void arch_guest_mirror_gdt(unsigned index, uint64_t raw);
/* A number that changes whenever a mirrored descriptor changes. */
uint32_t arch_guest_mirror_generation(void);

/* The real LDT the guest's LDT is mirrored into: how many entries it has,
 * and mirroring one (an LDT the guest makes longer works up to this). */
unsigned arch_guest_ldt_entries(void);
void arch_guest_mirror_ldt(unsigned index, uint64_t raw);

/* Make the CPU run on shadow table which (SHADOW_KERNEL or SHADOW_USER),
 * whatever the virtual ring: a delivery from user mode reads the kernel's
 * memory through the kernel's shadow. */
void arch_guest_load_shadow(struct vcpu *v, unsigned which);

/* The virtual ring changed (v->vpl): switch what depends on it, the real
 * page directory (v's shadow for the ring) included. */
void arch_guest_switch_ring(struct vcpu *v);

/* Real port I/O, for the devices the VMM mediates.  size is 1, 2 or 4. */
uint32_t arch_port_in(uint16_t port, unsigned size);
void arch_port_out(uint16_t port, unsigned size, uint32_t value);

/* Wait, with interrupts open, until a hardware interrupt arrives, setting
 * the bit of each real vector that did in pending (the guest is in hlt). */
void arch_wait_for_interrupt(uint32_t pending[8]);

/* Stop the machine, reporting status (ringvisor/exit.h) to the harness. */
void arch_exit(int status) __attribute__((noreturn));

#endif
