/*
 * The IA-32 instruction decoder: bytes in, one decoded instruction out.
 *
 * The guest kernel runs in ring 3, so its privileged instructions fault into
 * the VMM (#GP, #UD, #PF), which reads the faulting instruction out of guest
 * memory and emulates it.  The decoder finds the instruction's length and its
 * operands; what the instruction means is the emulator's business.
 *
 * It knows the length of every IA-32 instruction of 32-bit protected mode
 * (and 16-bit code segments): the general-purpose, system, x87, MMX and SSE
 * to SSE4.2 instructions in the one-byte, 0F, 0F 38 and 0F 3A opcode maps
 * (SDM Vol. 2, Appendix A).  The bytes are hostile: any sequence decodes to
 * DECODE_OK, DECODE_INVALID or DECODE_TRUNCATED, and no byte at or beyond
 * avail is ever read.
 *
 * Pure C with no dependencies: unit-tested on the host.
 */
#ifndef CORE_DECODE_H
#define CORE_DECODE_H

#include <stdint.h>

/* The architectural limit on an instruction's length (SDM Vol. 2 §2.3.11). */
#define INSN_MAX_LEN 15

enum decode_result {
	DECODE_OK,
	/*
	 * Not an instruction: the emulator raises #UD.  This covers undefined
	 * opcodes, forbidden ModRM forms (lea with a register operand, mov to
	 * CR5, ...), a LOCK prefix where the SDM forbids it, VEX/EVEX/XOP and
	 * 3DNow! encodings, and instructions longer than 15 bytes.  On those
	 * the CPU raises #GP(0), not #UD (SDM Vol. 3A §6.15, #GP), and a #GP
	 * is also what a privileged instruction in ring 3 raises: so a VMM
	 * that decodes after a #GP and gets DECODE_INVALID should reflect the
	 * #GP(0), not raise #UD.
	 */
	DECODE_INVALID,
	/* The instruction goes on beyond the avail bytes given. */
	DECODE_TRUNCATED,
};

/* Segment registers, numbered as in a ModRM reg field naming a segment
 * register (the sreg field, SDM Vol. 2 Appendix B.1.4). */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

/* General registers, numbered as in a ModRM reg or r/m field (SDM Vol. 2
 * Table 2-2). */
enum { REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI };

/* Opcode maps (SDM Vol. 2 Appendix A.2). */
enum { MAP_ONE_BYTE, MAP_0F, MAP_0F38, MAP_0F3A };

struct insn {
	uint8_t len;		/* total length in bytes, 1..15 */

	/* Prefixes.  Of two from one group, the later one counts. */
	uint8_t lock;		/* 0xf0 seen */
	uint8_t rep;		/* 0, 0xf3 (REP/REPE) or 0xf2 (REPNE) */
	int8_t seg;		/* segment override, SEG_*, or -1 */
	uint8_t opsize_override; /* 0x66 seen */
	/*
	 * The operand-size and address-size attributes: 2 or 4, the code
	 * segment's default toggled by 0x66 and 0x67.  opsize is 1 for the
	 * opcodes whose operands are bytes (the "b" forms such as 00, 88,
	 * A4, F6).  For instructions with fixed operand sizes (mov Sreg,
	 * lldt, movzx's source, SSE) it is still the attribute and the
	 * emulator knows better.
	 */
	uint8_t opsize;
	uint8_t addrsize;

	/* The opcode: 0F 01 is map MAP_0F, opcode 0x01. */
	uint8_t map;
	uint8_t opcode;

	/*
	 * The ModRM byte, split.  For mov to or from a control or debug
	 * register (0F 20-23) the CPU ignores the mod bits and always reads
	 * r/m as a register (SDM Vol. 2, MOV--Move to/from Control
	 * Registers); mod is reported as 3 for those.
	 */
	uint8_t has_modrm;
	uint8_t mod, reg, rm;

	/*
	 * The memory operand, if any: ModRM with mod != 3, or the moffs of
	 * A0-A3 (then base and index are -1 and disp is the offset).  Its
	 * offset is base + index * scale + disp, wrapped to addrsize (see
	 * insn_effective_address).
	 *
	 * 32-bit addressing: base and index are REG_* numbers from ModRM and
	 * SIB; an index field of 4 (ESP) means no index.
	 *
	 * 16-bit addressing (0x67 in a 32-bit segment) has no SIB; its eight
	 * r/m forms are expressed with the same fields, using the 32-bit
	 * register numbers whose low halves they name:
	 *   r/m 0 [BX+SI]  base EBX, index ESI    4 [SI]  base ESI
	 *       1 [BX+DI]  base EBX, index EDI    5 [DI]  base EDI
	 *       2 [BP+SI]  base EBP, index ESI    6 [BP]  base EBP (mod 0: disp16, no base)
	 *       3 [BP+DI]  base EBP, index EDI    7 [BX]  base EBX
	 * with scale 1.  disp8 is sign-extended; disp16 is stored zero-extended
	 * (the sum is taken modulo 64 KiB, so the two agree).
	 */
	uint8_t has_mem;
	int8_t base, index;	/* REG_*, or -1 for none */
	uint8_t scale;		/* 1, 2, 4 or 8 */
	int32_t disp;
	/*
	 * The segment used without an override: SS when the base register is
	 * ESP or EBP (BP in 16-bit forms), else DS (SDM Vol. 1 §3.7.4,
	 * Table 3-5).  The operand's segment is seg if seg >= 0.
	 */
	uint8_t default_seg;

	/*
	 * Immediates, zero-extended: opcodes that sign-extend theirs (83,
	 * 6A, 6B, the jumps) say so in the SDM and the emulator applies it.
	 * imm_len counts all immediate bytes.  Two-part immediates:
	 *   far ptr (9A, EA):  imm = offset (16 or 32 bits), imm2 = selector
	 *   enter (C8 iw ib):  imm = iw, imm2 = ib
	 *   extrq/insertq (66/F2 0F 78 ib ib): imm = first ib, imm2 = second
	 * Relative jumps and calls hold their displacement in imm.
	 */
	uint8_t imm_len;
	uint32_t imm;
	uint16_t imm2;
};

/*
 * Decode the instruction at bytes[0..avail).  default_32bit is the code
 * segment's D bit: 1 for 32-bit code, 0 for 16-bit code.  On DECODE_OK, *out
 * describes the instruction and out->len <= avail; otherwise *out is
 * unspecified.
 */
enum decode_result decode_insn(const uint8_t *bytes, unsigned avail,
			       int default_32bit, struct insn *out);

/*
 * The offset (not the linear address) of in's memory operand, from the
 * general registers regs[REG_EAX..REG_EDI]: base + index * scale + disp,
 * wrapped to 16 bits with 16-bit addressing (SDM Vol. 1 §3.7.5) and to 32
 * bits otherwise.  0 if in has no memory operand.
 */
uint32_t insn_effective_address(const struct insn *in, const uint32_t regs[8]);

/*
 * The mandatory prefix that selects among SSE instructions sharing an
 * opcode (SDM Vol. 2 §2.1.2 and Appendix A.3): 0xf2 or 0xf3 if present
 * (they win over 0x66), else 0x66 if present, else 0.
 */
static inline uint8_t insn_simd_prefix(const struct insn *in)
{
	if (in->rep)
		return in->rep;
	return in->opsize_override ? 0x66 : 0;
}

#endif
