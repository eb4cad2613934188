/*
 * Reading a fuzzer's input as a stream of little-endian fields.  Past the
 * end every field reads as 0, so any input is a complete description: the
 * fuzzer never wastes an input on "too short".
 */
#ifndef TESTS_FUZZ_INPUT_H
#define TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct input {
	const uint8_t *data;
	size_t size, pos;
};

static inline size_t in_left(const struct input *in)
{
	return in->size - in->pos;
}

/* Copy up to n bytes into buf (zero-filling what the input lacks). */
static inline void in_bytes(struct input *in, void *buf, size_t n)
{
	size_t have = in_left(in) < n ? in_left(in) : n;
	memcpy(buf, in->data + in->pos, have);
	memset((uint8_t *)buf + have, 0, n - have);
	in->pos += have;
}

static inline uint8_t in_u8(struct input *in)
{
	uint8_t v;
	in_bytes(in, &v, 1);
	return v;
}

static inline uint16_t in_u16(struct input *in)
{
	uint8_t b[2];
	in_bytes(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t in_u32(struct input *in)
{
	uint8_t b[4];
	in_bytes(in, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t in_u64(struct input *in)
{
	uint64_t lo = in_u32(in);
	return lo | (uint64_t)in_u32(in) << 32;
}

/*
 * FUZZ_VERBOSE=1 in the environment: the targets say what each input did
 * (to see what a seed reaches, or to triage a crash).
 */
static int fuzz_verbose;
#define SAY(...) do { if (fuzz_verbose) fprintf(stderr, __VA_ARGS__); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

/* An invariant the code under test promises: stop the fuzzer with a
 * crash (and the input that caused it) if it does not hold. */
#define CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			__builtin_trap();				\
		}							\
	} while (0)

#endif
