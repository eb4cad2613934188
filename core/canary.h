/*
 * Proof that nothing the guest did reached the VMM's memory (issue 7): at
 * boot the VMM takes a checksum of its own code and read-only data and
 * fills a guard frame on each side of guest RAM with a pattern; when the
 * guest ends, however it ends, both are checked again.  The paging and
 * segment protections should make this check pointless; it is how a test
 * proves they did their work, and a failure is reported as a VMM panic.
 */
#ifndef CORE_CANARY_H
#define CORE_CANARY_H

#include <stdint.h>

struct canary {
	/* Host-physical frame access, as struct guest_mem has it. */
	uint8_t *(*map)(uint32_t pa, uint32_t *len);
	const uint8_t *image;		/* the VMM's code and read-only data */
	uint32_t image_len;
	uint32_t image_sum;
	uint32_t guard[2];		/* host-physical guard frames; 0: none */
};

#define CANARY_PATTERN 0x5a

/* Take the checksum and fill the guard frames (either may be 0). */
void canary_init(struct canary *c, const uint8_t *image, uint32_t image_len,
		 uint32_t guard_below, uint32_t guard_above);

/* NULL if all is as it was, else what changed. */
const char *canary_check(const struct canary *c);

/* FNV-1a, 32 bits: cheap, and any change of a byte changes it. */
uint32_t canary_checksum(const uint8_t *bytes, uint32_t len);

#endif
