/*
 * Helpers shared by the chaos test guests (guests/chaos_*): a small PRNG
 * whose sequence depends only on its seed, and the guest command line's
 * "key=value" words.  Header-only, so the library's file list in
 * guests/guests.mk does not change.
 *
 * A chaos guest runs a fixed list of seeds by default; "seeds=1,2,3" and
 * "count=N" on its command line (./ringvisor run --kernel-args ...) replay
 * other ones.  The same seed gives the same inputs on every run, natively
 * and under the VMM.
 */
#ifndef GUESTS_LIB_CHAOS_H
#define GUESTS_LIB_CHAOS_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/string.h"
#include "loader/multiboot.h"

/* xorshift32 (Marsaglia), seeded through a splitmix-like scramble so that
 * small consecutive seeds give unrelated streams.  Never 0. */
struct rng {
	uint32_t s;
};

static inline void rng_seed(struct rng *r, uint32_t seed)
{
	uint32_t z = seed * 0x9e3779b9u + 0x7f4a7c15u;
	z = (z ^ (z >> 16)) * 0x85ebca6bu;
	z = (z ^ (z >> 13)) * 0xc2b2ae35u;
	z ^= z >> 16;
	r->s = z ? z : 0x2545f491u;
}

static inline uint32_t rng_next(struct rng *r)
{
	uint32_t x = r->s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x;
	return x;
}

/* Uniform in [0, n), n > 0 (the tiny modulo bias does not matter here). */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return rng_next(r) % n;
}

/* True with probability num/den. */
static inline bool rng_chance(struct rng *r, uint32_t num, uint32_t den)
{
	return rng_below(r, den) < num;
}

/* The guest's command line, or "" without one. */
static inline const char *chaos_cmdline(const struct multiboot_info *mbi)
{
	if (mbi && (mbi->flags & MBI_FLAG_CMDLINE) && mbi->cmdline)
		return (const char *)mbi->cmdline;
	return "";
}

/* The value of the word "key=..." (up to the next space), or NULL. */
static inline const char *chaos_arg(const char *cmdline, const char *key)
{
	size_t n = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, key, n) == 0 && p[n] == '=')
			return p + n + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

/* Whether the word is on the command line by itself. */
static inline bool chaos_flag(const char *cmdline, const char *word)
{
	size_t n = strlen(word);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == 0))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* A decimal or 0x-hex number at *p, advancing p. */
static inline uint32_t chaos_number(const char **p)
{
	const char *s = *p;
	uint32_t v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		for (;; s++) {
			char c = *s;
			if (c >= '0' && c <= '9')
				v = v * 16 + (uint32_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (uint32_t)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (uint32_t)(c - 'A' + 10);
			else
				break;
		}
	} else {
		for (; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint32_t)(*s - '0');
	}
	*p = s;
	return v;
}

/* A number argument "key=N", or def. */
static inline uint32_t chaos_arg_number(const char *cmdline, const char *key,
					uint32_t def)
{
	const char *p = chaos_arg(cmdline, key);
	return p ? chaos_number(&p) : def;
}

/*
 * "seeds=a,b,c": fill seeds[] (at most max) and return how many; without
 * the argument, the defaults.
 */
static inline unsigned chaos_seeds(const char *cmdline, uint32_t *seeds, unsigned max,
				   const uint32_t *defaults, unsigned ndefaults)
{
	const char *p = chaos_arg(cmdline, "seeds");
	unsigned n = 0;
	if (p) {
		while (n < max && *p >= '0' && *p <= '9') {
			seeds[n++] = chaos_number(&p);
			if (*p != ',')
				break;
			p++;
		}
	}
	if (n == 0)
		for (; n < ndefaults && n < max; n++)
			seeds[n] = defaults[n];
	return n;
}

#endif
