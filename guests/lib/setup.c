/*
 * What start.S runs before main: the descriptor tables, the PICs.  A test's
 * main starts in ring 0 with flat segments (KERNEL_CS, KERNEL_DS), the
 * guest's own GDT, IDT and TSS loaded, every IRQ masked, IF = 0.
 */
#include "guests/lib/desc.h"

void guest_setup(void);
void guest_setup(void)
{
	desc_setup();
}
