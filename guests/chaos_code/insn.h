/*
 * A small IA-32 instruction length decoder for chaos_code: enough to find
 * where each random instruction ends and what it might do, so the filter
 * (filter.c) can refuse the ones that would end the machine or wreck the
 * harness.  Independent of the VMM's decoder (core/decode.c) on purpose.
 *
 * Where it is unsure of a length, it says so (DI_UNSURE) and the filter
 * refuses the instruction; an instruction that raises #UD at its first
 * byte may be decoded wrongly without harm, since nothing after it runs.
 */
#ifndef CHAOS_CODE_INSN_H
#define CHAOS_CODE_INSN_H

#include <stdbool.h>
#include <stdint.h>

enum { MAP1 = 0, MAP0F = 1, MAP0F38 = 2, MAP0F3A = 3 };

struct dinsn {
	unsigned len;		/* total bytes; 0 if it does not fit in 15 */
	unsigned map;
	uint8_t op;
	bool modrm;
	unsigned mod, reg, rm;
	unsigned modrm_at, disp_at, disp_len;	/* where they are in the bytes */
	bool opsize16, addrsize16;
	bool prefix_66_seen;
	bool rep, lock;
	unsigned imm_len;
	uint32_t imm;		/* the first immediate, zero-extended */
	uint16_t imm2;		/* far pointer: the selector */
	bool unsure;
};

/* Decode at most avail bytes at p; returns false if it does not fit. */
bool insn_decode(const uint8_t *p, unsigned avail, struct dinsn *d);

#endif
