/*
 * The guest drives the two 8259 PICs itself (pass-through, paper §4.4), with
 * one exception: the vector base it programs (ICW2).  A guest could put its
 * interrupts on vectors 0-31, where the VMM could not tell them from
 * exceptions (an interrupt pushes no error code, #GP does).  So the real
 * PICs always use vectors 0x20-0x2f, and the VMM translates to the guest's
 * chosen base on delivery.
 */
#ifndef DEV_I8259_H
#define DEV_I8259_H

#include <stdint.h>

#define PIC_REAL_BASE 0x20	/* master 0x20-0x27, slave 0x28-0x2f */

/* Put the real PICs on PIC_REAL_BASE, before the guest runs. */
void pic_init(void);

/* Whether port belongs to a PIC (0x20, 0x21, 0xa0, 0xa1). */
int pic_port(uint16_t port);

uint8_t pic_read(uint16_t port);
void pic_write(uint16_t port, uint8_t value);

/* The guest's vector for a real PIC vector (PIC_REAL_BASE..+15), or -1. */
int pic_guest_vector(uint8_t real_vector);

#endif
