/*
 * The instruction decoder (core/decode.c): lengths and operands over a broad
 * table of encodings, invalid encodings, truncation at every length, and
 * random bytes.  On a mismatch the failure names the bytes and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/decode.h"

struct expect {
	const char *what;
	uint8_t bytes[15];
	uint8_t len;		/* expected length */
	uint8_t map, opcode;
	int modrm_reg;		/* -1: don't check */
	int base, index;	/* -2: don't check */
	int32_t disp;
	uint32_t imm;
	uint8_t opsize, addrsize;
};

#define X -2
/* what, bytes, len, map, opcode, reg, base, index, disp, imm, opsize, addrsize */
static const struct expect table[] = {
	{ "cli", { 0xfa }, 1, 0, 0xfa, -1, X, X, 0, 0, 4, 4 },
	{ "sti", { 0xfb }, 1, 0, 0xfb, -1, X, X, 0, 0, 4, 4 },
	{ "hlt", { 0xf4 }, 1, 0, 0xf4, -1, X, X, 0, 0, 4, 4 },
	{ "iret", { 0xcf }, 1, 0, 0xcf, -1, X, X, 0, 0, 4, 4 },
	{ "iretw", { 0x66, 0xcf }, 2, 0, 0xcf, -1, X, X, 0, 0, 2, 4 },
	{ "int $0x80", { 0xcd, 0x80 }, 2, 0, 0xcd, -1, X, X, 0, 0x80, 4, 4 },
	{ "int3", { 0xcc }, 1, 0, 0xcc, -1, X, X, 0, 0, 4, 4 },
	{ "out %al,$0xf4", { 0xe6, 0xf4 }, 2, 0, 0xe6, -1, X, X, 0, 0xf4, 1, 4 },
	{ "in (%dx),%eax", { 0xed }, 1, 0, 0xed, -1, X, X, 0, 0, 4, 4 },
	{ "in (%dx),%ax", { 0x66, 0xed }, 2, 0, 0xed, -1, X, X, 0, 0, 2, 4 },
	{ "rep outsb", { 0xf3, 0x6e }, 2, 0, 0x6e, -1, X, X, 0, 0, 1, 4 },
	{ "mov %eax,%cr3", { 0x0f, 0x22, 0xd8 }, 3, 1, 0x22, 3, X, X, 0, 0, 4, 4 },
	{ "mov %cr0,%ecx", { 0x0f, 0x20, 0xc1 }, 3, 1, 0x20, 0, X, X, 0, 0, 4, 4 },
	{ "mov %eax,%db7", { 0x0f, 0x23, 0xf8 }, 3, 1, 0x23, 7, X, X, 0, 0, 4, 4 },
	{ "lgdt (%eax)", { 0x0f, 0x01, 0x10 }, 3, 1, 0x01, 2, 0, -1, 0, 0, 4, 4 },
	{ "lidt 0x12345678", { 0x0f, 0x01, 0x1d, 0x78, 0x56, 0x34, 0x12 }, 7, 1, 0x01, 3, -1, -1, 0x12345678, 0, 4, 4 },
	{ "sgdt 8(%esp)", { 0x0f, 0x01, 0x44, 0x24, 0x08 }, 5, 1, 0x01, 0, 4, -1, 8, 0, 4, 4 },
	{ "sidt -4(%ebp)", { 0x0f, 0x01, 0x4d, 0xfc }, 4, 1, 0x01, 1, 5, -1, -4, 0, 4, 4 },
	{ "invlpg (%ebx,%esi,4)", { 0x0f, 0x01, 0x3c, 0xb3 }, 4, 1, 0x01, 7, 3, 6, 0, 0, 4, 4 },
	{ "lldt %ax", { 0x0f, 0x00, 0xd0 }, 3, 1, 0x00, 2, X, X, 0, 0, 4, 4 },
	{ "ltr %ax", { 0x0f, 0x00, 0xd8 }, 3, 1, 0x00, 3, X, X, 0, 0, 4, 4 },
	{ "str %eax", { 0x0f, 0x00, 0xc8 }, 3, 1, 0x00, 1, X, X, 0, 0, 4, 4 },
	{ "smsw %eax", { 0x0f, 0x01, 0xe0 }, 3, 1, 0x01, 4, X, X, 0, 0, 4, 4 },
	{ "clts", { 0x0f, 0x06 }, 2, 1, 0x06, -1, X, X, 0, 0, 4, 4 },
	{ "wbinvd", { 0x0f, 0x09 }, 2, 1, 0x09, -1, X, X, 0, 0, 4, 4 },
	{ "wrmsr", { 0x0f, 0x30 }, 2, 1, 0x30, -1, X, X, 0, 0, 4, 4 },
	{ "rdmsr", { 0x0f, 0x32 }, 2, 1, 0x32, -1, X, X, 0, 0, 4, 4 },
	{ "sysenter", { 0x0f, 0x34 }, 2, 1, 0x34, -1, X, X, 0, 0, 4, 4 },
	{ "sysexit", { 0x0f, 0x35 }, 2, 1, 0x35, -1, X, X, 0, 0, 4, 4 },
	{ "mov %ax,%ss", { 0x8e, 0xd0 }, 2, 0, 0x8e, 2, X, X, 0, 0, 4, 4 },
	{ "pop %ss", { 0x17 }, 1, 0, 0x17, -1, X, X, 0, 0, 4, 4 },
	{ "lss (%eax),%esp", { 0x0f, 0xb2, 0x20 }, 3, 1, 0xb2, 4, 0, -1, 0, 0, 4, 4 },
	{ "ljmp $0x60,$0x1000", { 0xea, 0x00, 0x10, 0x00, 0x00, 0x60, 0x00 }, 7, 0, 0xea, -1, X, X, 0, 0x1000, 4, 4 },
	{ "ljmpw $0x60,$0x1000", { 0x66, 0xea, 0x00, 0x10, 0x60, 0x00 }, 6, 0, 0xea, -1, X, X, 0, 0x1000, 2, 4 },
	{ "lcall *(%eax)", { 0xff, 0x18 }, 2, 0, 0xff, 3, 0, -1, 0, 0, 4, 4 },
	{ "lret $8", { 0xca, 0x08, 0x00 }, 3, 0, 0xca, -1, X, X, 0, 8, 4, 4 },
	{ "mov $imm32,%eax", { 0xb8, 0x78, 0x56, 0x34, 0x12 }, 5, 0, 0xb8, -1, X, X, 0, 0x12345678, 4, 4 },
	{ "mov $imm16,%ax", { 0x66, 0xb8, 0x34, 0x12 }, 4, 0, 0xb8, -1, X, X, 0, 0x1234, 2, 4 },
	{ "add $imm8,(%eax)", { 0x83, 0x00, 0x7f }, 3, 0, 0x83, 0, 0, -1, 0, 0x7f, 4, 4 },
	{ "movl $imm32,disp32(,%ecx,8)", { 0xc7, 0x04, 0xcd, 0x10, 0, 0, 0, 0x01, 0x02, 0x03, 0x04 }, 11, 0, 0xc7, 0, -1, 1, 0x10, 0x04030201, 4, 4 },
	{ "testb $1,(%eax)", { 0xf6, 0x00, 0x01 }, 3, 0, 0xf6, 0, 0, -1, 0, 1, 1, 4 },
	{ "notb (%eax)", { 0xf6, 0x10 }, 2, 0, 0xf6, 2, 0, -1, 0, 0, 1, 4 },
	{ "testl $imm32,(%eax)", { 0xf7, 0x00, 1, 2, 3, 4 }, 6, 0, 0xf7, 0, 0, -1, 0, 0x04030201, 4, 4 },
	{ "enter $16,$0", { 0xc8, 0x10, 0x00, 0x00 }, 4, 0, 0xc8, -1, X, X, 0, 0x10, 4, 4 },
	{ "mov 0x12345678,%eax (moffs)", { 0xa1, 0x78, 0x56, 0x34, 0x12 }, 5, 0, 0xa1, -1, -1, -1, 0x12345678, 0, 4, 4 },
	{ "mov 0x1234,%eax (addr16 moffs)", { 0x67, 0xa1, 0x34, 0x12 }, 4, 0, 0xa1, -1, -1, -1, 0x1234, 0, 4, 2 },
	{ "mov (%bx,%si),%eax", { 0x67, 0x8b, 0x00 }, 3, 0, 0x8b, 0, 3, 6, 0, 0, 4, 2 },
	{ "mov 0x1234,%eax (addr16 disp16)", { 0x67, 0x8b, 0x06, 0x34, 0x12 }, 5, 0, 0x8b, 0, -1, -1, 0x1234, 0, 4, 2 },
	{ "mov 8(%bp),%eax", { 0x67, 0x8b, 0x46, 0x08 }, 4, 0, 0x8b, 0, 5, -1, 8, 0, 4, 2 },
	{ "lea 0(%ebp),%eax (mod 1)", { 0x8d, 0x45, 0x00 }, 3, 0, 0x8d, 0, 5, -1, 0, 0, 4, 4 },
	{ "mov disp32(,%eax,2),%ecx", { 0x8b, 0x0c, 0x45, 0x00, 0x10, 0, 0 }, 7, 0, 0x8b, 1, -1, 0, 0x1000, 0, 4, 4 },
	{ "mov %fs:4(%esp),%eax", { 0x64, 0x8b, 0x44, 0x24, 0x04 }, 5, 0, 0x8b, 0, 4, -1, 4, 0, 4, 4 },
	{ "lock incl (%eax)", { 0xf0, 0xff, 0x00 }, 3, 0, 0xff, 0, 0, -1, 0, 0, 4, 4 },
	{ "call rel32", { 0xe8, 0, 0, 0, 0 }, 5, 0, 0xe8, -1, X, X, 0, 0, 4, 4 },
	{ "jcc rel32", { 0x0f, 0x84, 0, 0, 0, 0 }, 6, 1, 0x84, -1, X, X, 0, 0, 4, 4 },
	{ "ud2", { 0x0f, 0x0b }, 2, 1, 0x0b, -1, X, X, 0, 0, 4, 4 },
	{ "movaps %xmm1,%xmm0", { 0x0f, 0x28, 0xc1 }, 3, 1, 0x28, 0, X, X, 0, 0, 4, 4 },
	{ "pshufd $1,%xmm1,%xmm0", { 0x66, 0x0f, 0x70, 0xc1, 0x01 }, 5, 1, 0x70, 0, X, X, 0, 1, 2, 4 },
	{ "pshufb %xmm1,%xmm0 (0f38)", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, 2, 0x00, 0, X, X, 0, 0, 2, 4 },
	{ "palignr $4 (0f3a)", { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x04 }, 6, 3, 0x0f, 0, X, X, 0, 4, 2, 4 },
	{ "fld (%eax) (x87)", { 0xd9, 0x00 }, 2, 0, 0xd9, 0, 0, -1, 0, 0, 4, 4 },
	{ "pushf", { 0x9c }, 1, 0, 0x9c, -1, X, X, 0, 0, 4, 4 },
};

static void fail_with(const struct expect *e, const char *field, long got, long want)
{
	char hex[64] = "";
	for (unsigned i = 0; i < e->len; i++)
		sprintf(hex + 3 * i, "%02x ", e->bytes[i]);
	print_error("%s [%s]: %s is %ld (0x%lx), want %ld (0x%lx)\n", e->what, hex, field,
		    got, got, want, want);
	fail();
}

#define CHECK(field, want) do { if ((long)(in.field) != (long)(want)) \
	fail_with(e, #field, (long)in.field, (long)(want)); } while (0)

static void test_table(void **state)
{
	(void)state;
	for (unsigned t = 0; t < sizeof(table) / sizeof(*table); t++) {
		const struct expect *e = &table[t];
		struct insn in;
		enum decode_result r = decode_insn(e->bytes, e->len, 1, &in);
		if (r != DECODE_OK)
			fail_with(e, "decode result", r, DECODE_OK);
		CHECK(len, e->len);
		CHECK(map, e->map);
		CHECK(opcode, e->opcode);
		if (e->modrm_reg >= 0)
			CHECK(reg, e->modrm_reg);
		if (e->base != X) {
			CHECK(base, e->base);
			CHECK(index, e->index);
			CHECK(disp, e->disp);
		}
		if (e->imm)
			CHECK(imm, e->imm);
		if (e->opcode != 0x70 && e->map == 0)
			CHECK(opsize, e->opsize);
		CHECK(addrsize, e->addrsize);
	}
}

/* Every proper prefix of every table entry is TRUNCATED, never OK, and is
 * read from a buffer of exactly that size (ASan sees any overread). */
static void test_truncation_at_every_length(void **state)
{
	(void)state;
	for (unsigned t = 0; t < sizeof(table) / sizeof(*table); t++) {
		const struct expect *e = &table[t];
		for (unsigned n = 0; n < e->len; n++) {
			uint8_t *buf = malloc(n ? n : 1);
			memcpy(buf, e->bytes, n);
			struct insn in;
			enum decode_result r = decode_insn(buf, n, 1, &in);
			free(buf);
			if (r != DECODE_TRUNCATED)
				fail_with(e, "result of a prefix of that length", r,
					  DECODE_TRUNCATED);
		}
	}
}

static void test_invalid_encodings(void **state)
{
	(void)state;
	static const struct { const char *what; uint8_t bytes[16]; unsigned len; } bad[] = {
		{ "lock on a register operand", { 0xf0, 0x01, 0xc0 }, 3 },
		{ "lock on nop", { 0xf0, 0x90 }, 2 },
		{ "lea with a register operand", { 0x8d, 0xc0 }, 2 },
		{ "mov to cr5", { 0x0f, 0x22, 0xe8 }, 3 },
		{ "16 prefixes", { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
				   0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90 }, 16 },
		{ "0f 04", { 0x0f, 0x04 }, 2 },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct insn in;
		enum decode_result r = decode_insn(bad[i].bytes, bad[i].len, 1, &in);
		if (r != DECODE_INVALID) {
			print_error("%s: result %d, want DECODE_INVALID\n", bad[i].what, r);
			fail();
		}
	}
}

static void test_effective_address(void **state)
{
	(void)state;
	uint32_t regs[8] = { 0x1000, 0x10, 0x20, 0xfff0, 0x8000, 0xffff, 0x20, 0 };
	struct insn in;
	const uint8_t sib[] = { 0x8b, 0x44, 0x8b, 0x04 };	/* 4(%ebx,%ecx,4) */
	assert_int_equal(decode_insn(sib, sizeof(sib), 1, &in), DECODE_OK);
	assert_int_equal(insn_effective_address(&in, regs), 0xfff0 + 0x40 + 4);
	const uint8_t bx_si[] = { 0x67, 0x8b, 0x40, 0x40 };	/* 0x40(%bx,%si) wraps */
	assert_int_equal(decode_insn(bx_si, sizeof(bx_si), 1, &in), DECODE_OK);
	assert_int_equal(insn_effective_address(&in, regs), (0xfff0 + 0x20 + 0x40) & 0xffff);
}

/* Random bytes: never a crash or an overread; an OK decode fits. */
static void test_random_bytes(void **state)
{
	(void)state;
	srand(4242);
	for (int i = 0; i < 200000; i++) {
		unsigned n = 1 + (unsigned)rand() % 15;
		uint8_t *buf = malloc(n);
		for (unsigned j = 0; j < n; j++)
			buf[j] = (uint8_t)rand();
		struct insn in;
		if (decode_insn(buf, n, rand() % 2, &in) == DECODE_OK &&
		    (in.len == 0 || in.len > n || in.len > INSN_MAX_LEN)) {
			print_error("random decode claims length %u of %u bytes\n", in.len, n);
			free(buf);
			fail();
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_truncation_at_every_length),
		cmocka_unit_test(test_invalid_encodings),
		cmocka_unit_test(test_effective_address),
		cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
