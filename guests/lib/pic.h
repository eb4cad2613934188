/*
 * The two 8259A interrupt controllers and channel 0 of the 8254 timer, as
 * on a PC: enough to make timer interrupts for interrupt tests.
 */
#ifndef GUESTS_LIB_PIC_H
#define GUESTS_LIB_PIC_H

#include <stdbool.h>
#include <stdint.h>

#define PIC_DEFAULT_BASE 0x20	/* IRQ 0-15 -> vectors 0x20-0x2f */
#define PIC_LINUX_BASE   0x30	/* where Linux i386 puts them */

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21	/* the interrupt mask register, when read or written */
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1

#define PIT_HZ 1193182	/* the 8254's input clock */

/* Initialise both PICs: IRQ n at vector base + n, every line masked. */
void pic_init(uint8_t base);
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);
void pic_eoi(unsigned irq);
/* Whether irq is requested (IRR) though maybe not yet delivered. */
bool pic_pending(unsigned irq);

/* Channel 0 in mode 2: an IRQ 0 every count input clocks. */
void pit_periodic(uint16_t count);
/* Channel 0 in mode 0: one IRQ 0 after count input clocks. */
void pit_oneshot(uint16_t count);
/* Stop channel 0 from raising further interrupts. */
void pit_stop(void);

#endif
