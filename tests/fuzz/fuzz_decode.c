/*
 * Fuzzing the instruction decoder (core/decode.c) on arbitrary bytes.
 *
 * Input: the bytes to decode, from the start (the decoder reads at most 15);
 * bytes 15..46 also give the eight general registers for
 * insn_effective_address.  Each input is decoded as 32-bit and as 16-bit
 * code.  Beyond "no crash, no read past avail" (ASan), every decoded
 * instruction is checked against what the bytes say, computed here
 * independently of the decoder's tables: its length is the prefixes, the
 * opcode, ModRM/SIB/displacement and the immediate; its memory operand and
 * effective address are those of the ModRM/SIB bytes; it decodes the same
 * with exactly its own bytes and is TRUNCATED with any fewer.
 */
#include <stdlib.h>

#include "core/decode.h"
#include "tests/fuzz/fuzz_input.h"

static int is_prefix(uint8_t b)
{
	switch (b) {
	case 0xf0: case 0xf2: case 0xf3: case 0x26: case 0x2e: case 0x36:
	case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
		return 1;
	}
	return 0;
}

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/* Decode from an exact-size heap copy, so ASan sees any read past avail. */
static enum decode_result decode_exact(const uint8_t *bytes, unsigned avail,
				       int d32, struct insn *out)
{
	uint8_t *copy = malloc(avail ? avail : 1);
	memcpy(copy, bytes, avail);
	enum decode_result r = decode_insn(copy, avail, d32, out);
	free(copy);
	return r;
}

static int same_insn(const struct insn *a, const struct insn *b)
{
	return a->len == b->len && a->lock == b->lock && a->rep == b->rep &&
	       a->seg == b->seg && a->opsize_override == b->opsize_override &&
	       a->opsize == b->opsize && a->addrsize == b->addrsize &&
	       a->map == b->map && a->opcode == b->opcode &&
	       a->has_modrm == b->has_modrm && a->mod == b->mod && a->reg == b->reg &&
	       a->rm == b->rm && a->has_mem == b->has_mem && a->base == b->base &&
	       a->index == b->index && a->scale == b->scale && a->disp == b->disp &&
	       a->default_seg == b->default_seg && a->imm_len == b->imm_len &&
	       a->imm == b->imm && a->imm2 == b->imm2;
}

/* The 16-bit forms (SDM Vol. 2 Table 2-1), as struct insn expresses them. */
static const int8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
static const int8_t index16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };

static void check(const uint8_t *bytes, unsigned avail, int d32, const uint32_t regs[8])
{
	struct insn in;
	enum decode_result r = decode_exact(bytes, avail, d32, &in);

	CHECK(r == DECODE_OK || r == DECODE_INVALID || r == DECODE_TRUNCATED);
	/* Fifteen bytes always settle it: an instruction or too long. */
	CHECK(r != DECODE_TRUNCATED || avail < INSN_MAX_LEN);
	if (avail > INSN_MAX_LEN) {
		struct insn in15;
		enum decode_result r15 = decode_exact(bytes, INSN_MAX_LEN, d32, &in15);
		CHECK(r15 == r);
		CHECK(r != DECODE_OK || same_insn(&in, &in15));
	}
	if (r != DECODE_OK)
		return;

	CHECK(in.len >= 1 && in.len <= INSN_MAX_LEN && in.len <= avail);
	/* Exactly its own bytes are enough; any fewer are not. */
	struct insn again;
	CHECK(decode_exact(bytes, in.len, d32, &again) == DECODE_OK);
	CHECK(same_insn(&in, &again));
	for (unsigned k = 0; k < in.len; k++)
		CHECK(decode_exact(bytes, k, d32, &again) == DECODE_TRUNCATED);

	/* Prefixes: the last of each group counts. */
	unsigned p = 0;
	int seg = -1, rep = 0, lock = 0, o66 = 0, a67 = 0;
	for (; p < in.len && is_prefix(bytes[p]); p++) {
		switch (bytes[p]) {
		case 0xf0: lock = 1; break;
		case 0xf2: case 0xf3: rep = bytes[p]; break;
		case 0x26: seg = SEG_ES; break;
		case 0x2e: seg = SEG_CS; break;
		case 0x36: seg = SEG_SS; break;
		case 0x3e: seg = SEG_DS; break;
		case 0x64: seg = SEG_FS; break;
		case 0x65: seg = SEG_GS; break;
		case 0x66: o66 = 1; break;
		case 0x67: a67 = 1; break;
		}
	}
	CHECK(p < in.len);
	CHECK(in.lock == lock && in.rep == rep && in.seg == seg &&
	      in.opsize_override == o66);
	unsigned osize = (d32 ^ o66) ? 4 : 2;
	CHECK(in.addrsize == ((d32 ^ a67) ? 4 : 2));
	CHECK(in.opsize == 1 || in.opsize == osize);

	/* The opcode. */
	unsigned pos = p, map = MAP_ONE_BYTE;
	if (bytes[pos] == 0x0f) {
		map = MAP_0F;
		pos++;
		CHECK(pos < in.len);
		if (bytes[pos] == 0x38 || bytes[pos] == 0x3a) {
			map = bytes[pos] == 0x38 ? MAP_0F38 : MAP_0F3A;
			pos++;
			CHECK(pos < in.len);
		}
	}
	CHECK(in.map == map && in.opcode == bytes[pos]);
	pos++;

	/* ModRM, SIB and displacement, from the bytes. */
	int has_mem = 0, base = -1, index = -1;
	unsigned scale = 1;
	int32_t disp = 0;
	if (in.has_modrm) {
		CHECK(pos < in.len);
		uint8_t modrm = bytes[pos++];
		unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
		int creg = map == MAP_0F && in.opcode >= 0x20 && in.opcode <= 0x23;
		if (creg)
			mod = 3;
		CHECK(in.mod == mod && in.reg == reg && in.rm == rm);
		if (mod != 3) {
			has_mem = 1;
			unsigned dlen;
			if (in.addrsize == 2) {
				base = base16[rm];
				index = index16[rm];
				dlen = mod == 1 ? 1 : mod == 2 ? 2 : 0;
				if (mod == 0 && rm == 6) {
					base = -1;
					dlen = 2;
				}
			} else {
				base = rm;
				dlen = mod == 1 ? 1 : mod == 2 ? 4 : 0;
				if (rm == 4) {
					CHECK(pos < in.len);
					uint8_t sib = bytes[pos++];
					scale = 1u << (sib >> 6);
					index = ((sib >> 3) & 7) == 4 ? -1 : (sib >> 3) & 7;
					base = sib & 7;
					if (base == 5 && mod == 0) {
						base = -1;
						dlen = 4;
					}
				} else if (rm == 5 && mod == 0) {
					base = -1;
					dlen = 4;
				}
			}
			CHECK(pos + dlen <= in.len);
			uint32_t d = le(bytes + pos, dlen);
			disp = dlen == 1 ? (int8_t)d : (int32_t)d;
			pos += dlen;
		}
	} else if (map == MAP_ONE_BYTE && in.opcode >= 0xa0 && in.opcode <= 0xa3) {
		/* moffs: the offset is the memory operand's displacement. */
		has_mem = 1;
		CHECK(pos + in.addrsize <= in.len);
		disp = (int32_t)le(bytes + pos, in.addrsize);
		pos += in.addrsize;
	}
	CHECK(in.has_mem == has_mem);
	if (has_mem) {
		CHECK(in.base == base && in.index == index && in.scale == scale &&
		      in.disp == disp);
		CHECK(in.default_seg == ((base == REG_ESP || base == REG_EBP) ?
					 SEG_SS : SEG_DS));
	}
	/* LOCK only on a memory destination. */
	CHECK(!in.lock || (in.has_modrm && in.mod != 3));

	/* The immediate is the rest of the instruction. */
	CHECK(pos + in.imm_len == in.len);
	CHECK(in.imm_len <= 6 && in.imm_len != 5);
	const uint8_t *imm = bytes + pos;
	if (map == MAP_ONE_BYTE && (in.opcode == 0x9a || in.opcode == 0xea)) {
		CHECK(in.imm_len == osize + 2);
		CHECK(in.imm == le(imm, osize) && in.imm2 == le(imm + osize, 2));
	} else if (map == MAP_ONE_BYTE && in.opcode == 0xc8) {
		CHECK(in.imm_len == 3);
		CHECK(in.imm == le(imm, 2) && in.imm2 == imm[2]);
	} else if (map == MAP_0F && in.opcode == 0x78 && in.imm_len == 2) {
		CHECK(in.imm == imm[0] && in.imm2 == imm[1]);	/* extrq/insertq */
	} else {
		CHECK(in.imm_len != 3 && in.imm_len != 6);
		CHECK(in.imm == le(imm, in.imm_len));
	}

	/* The effective address, computed from the bytes' own fields. */
	uint32_t ea = insn_effective_address(&in, regs);
	if (!has_mem) {
		CHECK(ea == 0);
	} else {
		uint32_t want = (uint32_t)disp;
		if (base >= 0)
			want += regs[base];
		if (index >= 0)
			want += regs[index] * scale;
		if (in.addrsize == 2)
			want &= 0xffff;
		CHECK(ea == want);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, INSN_MAX_LEN < size ? INSN_MAX_LEN : size };
	uint32_t regs[8];
	for (unsigned i = 0; i < 8; i++)
		regs[i] = in_u32(&in);

	unsigned avail = size > 64 ? 64 : (unsigned)size;
	check(data, avail, 1, regs);
	check(data, avail, 0, regs);
	return 0;
}
