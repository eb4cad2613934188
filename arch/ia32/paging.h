/* The VMM's own page tables (see memlayout.h for the map). */
#ifndef ARCH_IA32_PAGING_H
#define ARCH_IA32_PAGING_H

#include <stdint.h>

/* Page-table entry bits (SDM Vol. 3A §4.3, Tables 4-4 to 4-6). */
#define PTE_P    0x001
#define PTE_W    0x002
#define PTE_U    0x004
#define PTE_A    0x020
#define PTE_D    0x040
#define PTE_PS   0x080	/* in a PDE: 4 MiB page */
#define PTE_G    0x100
#define PTE_ADDR 0xfffff000u

/*
 * Replace the boot page directory with the VMM's final one: nothing below
 * 0xFC000000 (the identity map the boot code needed is gone), the image's
 * text and read-only data not writable, the stacks' guard pages not present,
 * VMM pages global where the CPU supports it.
 */
void paging_init(void);

/* Whether [va, va+len) is mapped readable right now (for the panic report,
 * which must not fault while describing a fault). */
int paging_readable(uint32_t va, uint32_t len);

/* Reach host-physical pa through a window: returns a pointer, and in *len
 * the bytes reachable from it (to the end of pa's page).  Valid until the
 * next call that lands in the same slot. */
uint8_t *paging_window(uint32_t pa, uint32_t *len);
/* Map host page pa at fixed window slot (< FIXED_WINDOWS) until the
 * slot is moved; the VMM's pointer to pa. */
void *paging_fixed_window(unsigned slot, uint32_t pa);

/* Copy the VMM's own PDEs (0xFC000000 and up) into a page directory the VMM
 * builds for a guest, so the VMM stays mapped while it runs. */
void paging_copy_vmm_pdes(uint32_t *page_directory);

/* Physical address of the VMM's own page directory. */
uint32_t paging_vmm_cr3(void);

#endif
