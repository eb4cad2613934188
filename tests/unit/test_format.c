/*
 * lib/format: kvsnprintf/ksnprintf compared with the host C library's
 * vsnprintf over a broad set of formats and values, plus the places where
 * the VMM's printf deliberately differs (%p, unknown conversions).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <cmocka.h>

#include "lib/format.h"

/* The formats below are built at run time or passed through helpers on
 * purpose: they are test data, not something gcc should check. */
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-overflow"

#define MAX_REPORTED 20

static int mismatches;

static void reset(void)
{
	mismatches = 0;
}

/* Print both engines' output for one format and one argument list; count
 * a mismatch (text or return value) and report the first few in full. */
static void vcompare(const char *where, const char *fmt, va_list ap)
{
	char want[512], got[512];
	va_list ap2;

	va_copy(ap2, ap);
	memset(want, 0x5a, sizeof(want));
	memset(got, 0x5a, sizeof(got));
	int wn = vsnprintf(want, sizeof(want), fmt, ap);
	int gn = kvsnprintf(got, sizeof(got), fmt, ap2);
	va_end(ap2);

	/* Compare as byte strings of the returned length (%c may print NUL). */
	int same = wn == gn && wn >= 0 && (size_t)wn < sizeof(want) &&
		   memcmp(want, got, (size_t)wn + 1) == 0;
	if (!same) {
		if (mismatches < MAX_REPORTED)
			print_error("%s: format \"%s\": libc gave \"%s\" (ret %d), "
				    "kvsnprintf gave \"%s\" (ret %d)\n",
				    where, fmt, want, wn, got, gn);
		mismatches++;
	}
}

static void compare_at(const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vcompare(where, fmt, ap);
	va_end(ap);
}

#define STR2(x) #x
#define STR(x) STR2(x)
#define CMP(...) compare_at(__FILE__ ":" STR(__LINE__), __VA_ARGS__)

/* Fails the test (showing the count) when any comparison above differed. */
#define ASSERT_NO_MISMATCHES() do { \
	if (mismatches) \
		fail_msg("%d format(s) differ from libc (first %d listed above)", \
			 mismatches, MAX_REPORTED); \
} while (0)

/* All subsets of the printf flags, in a fixed order. */
static const char *const flag_sets[] = {
	"", "-", "0", "+", " ", "#", "-0", "-+", "- ", "-#", "0+", "0 ", "0#",
	"+ ", "+#", " #", "-0+", "-0 ", "-0#", "-+ ", "-+#", "- #", "0+ ",
	"0+#", "0 #", "+ #", "-0+ ", "-0+#", "-0 #", "-+ #", "0+ #", "-0+ #",
};
static const char *const widths[] = { "", "1", "3", "6", "12", "25" };
static const char *const precisions[] = { "", ".", ".0", ".1", ".3", ".8",
					   ".20" };

#define N(a) (sizeof(a) / sizeof(*(a)))

static void make_fmt(char *fmt, size_t size, const char *flags,
		     const char *width, const char *prec, const char *len,
		     char conv)
{
	snprintf(fmt, size, "[%%%s%s%s%s%c]", flags, width, prec, len, conv);
}

/* ---- integers: every flag set x width x precision ---- */

static void test_format_int_flag_width_precision_grid_matches_libc(void **state)
{
	static const int values[] = { 0, 1, -1, 7, -7, 42, -42, 255, 4096,
				      -99999, 123456789, INT_MAX, INT_MIN };
	char fmt[64];
	(void)state;
	reset();
	for (size_t f = 0; f < N(flag_sets); f++)
		for (size_t w = 0; w < N(widths); w++)
			for (size_t p = 0; p < N(precisions); p++)
				for (const char *c = "di"; *c; c++) {
					make_fmt(fmt, sizeof(fmt), flag_sets[f],
						 widths[w], precisions[p], "", *c);
					for (size_t v = 0; v < N(values); v++)
						CMP(fmt, values[v]);
				}
	ASSERT_NO_MISMATCHES();
}

static void test_format_unsigned_flag_width_precision_grid_matches_libc(void **state)
{
	static const unsigned values[] = { 0, 1, 7, 8, 9, 15, 16, 42, 255, 256,
					   0777, 0x1000, 0xdeadbeef, UINT_MAX,
					   (unsigned)INT_MAX + 1 };
	char fmt[64];
	(void)state;
	reset();
	for (size_t f = 0; f < N(flag_sets); f++)
		for (size_t w = 0; w < N(widths); w++)
			for (size_t p = 0; p < N(precisions); p++)
				for (const char *c = "uxXo"; *c; c++) {
					make_fmt(fmt, sizeof(fmt), flag_sets[f],
						 widths[w], precisions[p], "", *c);
					for (size_t v = 0; v < N(values); v++)
						CMP(fmt, values[v]);
				}
	ASSERT_NO_MISMATCHES();
}

static void test_format_long_long_flag_width_precision_grid_matches_libc(void **state)
{
	static const long long svalues[] = { 0, -1, 1, 42, -42,
		0x100000000LL, -0x100000000LL, 1234567890123456789LL,
		LLONG_MAX, LLONG_MIN };
	static const unsigned long long uvalues[] = { 0, 1, 8, 0xff,
		0x100000000ULL, 0xfedcba9876543210ULL, ULLONG_MAX,
		(unsigned long long)LLONG_MAX + 1 };
	char fmt[64];
	(void)state;
	reset();
	for (size_t f = 0; f < N(flag_sets); f++)
		for (size_t w = 0; w < N(widths); w++)
			for (size_t p = 0; p < N(precisions); p++) {
				for (const char *c = "di"; *c; c++) {
					make_fmt(fmt, sizeof(fmt), flag_sets[f],
						 widths[w], precisions[p], "ll", *c);
					for (size_t v = 0; v < N(svalues); v++)
						CMP(fmt, svalues[v]);
				}
				for (const char *c = "uxXo"; *c; c++) {
					make_fmt(fmt, sizeof(fmt), flag_sets[f],
						 widths[w], precisions[p], "ll", *c);
					for (size_t v = 0; v < N(uvalues); v++)
						CMP(fmt, uvalues[v]);
				}
			}
	ASSERT_NO_MISMATCHES();
}

/* ---- length modifiers: each with the argument type C promotes it to ---- */

static void test_format_length_modifiers_hh_h_l_z_match_libc(void **state)
{
	static const int small[] = { 0, 1, -1, 127, 128, 255, 256, -128, -129,
				     300, 32767, 32768, 65535, 65536, 70000,
				     -70000, INT_MIN, INT_MAX };
	static const long longs[] = { 0, -1, LONG_MIN, LONG_MAX, 0x123456789L };
	static const size_t sizes[] = { 0, 1, 4096, SIZE_MAX, SIZE_MAX / 2 };
	static const char *const lflags[] = { "", "-", "0", "+", " ", "#" };
	static const char *const lwidths[] = { "", "8", "22" };
	static const char *const lprecs[] = { "", ".0", ".5" };
	char fmt[64];
	(void)state;
	reset();
	for (size_t f = 0; f < N(lflags); f++)
		for (size_t w = 0; w < N(lwidths); w++)
			for (size_t p = 0; p < N(lprecs); p++)
				for (const char *c = "diuxXo"; *c; c++) {
					make_fmt(fmt, sizeof(fmt), lflags[f], lwidths[w],
						 lprecs[p], "hh", *c);
					for (size_t v = 0; v < N(small); v++)
						CMP(fmt, small[v]);
					make_fmt(fmt, sizeof(fmt), lflags[f], lwidths[w],
						 lprecs[p], "h", *c);
					for (size_t v = 0; v < N(small); v++)
						CMP(fmt, small[v]);
					make_fmt(fmt, sizeof(fmt), lflags[f], lwidths[w],
						 lprecs[p], "l", *c);
					for (size_t v = 0; v < N(longs); v++)
						CMP(fmt, longs[v]);
					make_fmt(fmt, sizeof(fmt), lflags[f], lwidths[w],
						 lprecs[p], "z", *c);
					for (size_t v = 0; v < N(sizes); v++) {
						if (*c == 'd' || *c == 'i')
							CMP(fmt, (ssize_t)sizes[v]);
						else
							CMP(fmt, sizes[v]);
					}
				}
	ASSERT_NO_MISMATCHES();
}

/* ---- the classic corner cases, spelled out ---- */

static void test_format_integer_corner_cases_match_libc(void **state)
{
	(void)state;
	reset();
	CMP("%d", INT_MIN);
	CMP("%i", INT_MIN);
	CMP("%u", UINT_MAX);
	CMP("%lld", LLONG_MIN);
	CMP("%llu", ULLONG_MAX);
	CMP("%llx", ULLONG_MAX);
	CMP("%llo", ULLONG_MAX);
	CMP("%#llo", ULLONG_MAX);
	CMP("%#llX", ULLONG_MAX);
	CMP("%.0d", 0);		/* zero with precision 0: no digits */
	CMP("%.0u", 0u);
	CMP("%.0x", 0u);
	CMP("%#.0x", 0u);
	CMP("%#.0o", 0u);	/* '#' octal keeps its one 0 */
	CMP("%#o", 0u);
	CMP("%#x", 0u);		/* no 0x for zero */
	CMP("%+.0d", 0);
	CMP("% .0d", 0);
	CMP("%5.0d|", 0);
	CMP("%-5.0d|", 0);
	CMP("%#08x", 255u);
	CMP("%#-8x|", 255u);
	CMP("%#.5o", 8u);
	CMP("%#05o", 8u);
	CMP("%08d", -42);
	CMP("%+08d", 42);
	CMP("% 08d", 42);
	CMP("%-08d|", 42);
	CMP("%08.3d", 42);	/* precision disables '0' */
	CMP("%.10d", -42);
	CMP("%+ d", 42);	/* '+' beats ' ' */
	CMP("%+u", 42u);	/* sign flags ignored for unsigned */
	CMP("% x", 42u);
	CMP("%--5d|", 3);
	CMP("%00005d", 3);
	CMP("%d %i %u %x %X %o", -1, 2, 3u, 0xabu, 0xabu, 8u);
	CMP("abc%ddef", 5);
	CMP("%d%d%d", 1, 22, 333);
	CMP("100%%");
	CMP("%%d %d", 9);
	CMP("");
	CMP("plain text");
	ASSERT_NO_MISMATCHES();
}

/* ---- '*' width and precision ---- */

static void test_format_star_width_and_precision_match_libc(void **state)
{
	static const int stars[] = { -30, -12, -5, -1, 0, 1, 3, 8, 17 };
	(void)state;
	reset();
	for (size_t i = 0; i < N(stars); i++) {
		for (size_t j = 0; j < N(stars); j++) {
			CMP("[%*.*d]", stars[i], stars[j], -4242);
			CMP("[%0*.*d]", stars[i], stars[j], 4242);
			CMP("[%-*.*x]", stars[i], stars[j], 0xbeefu);
			CMP("[%*.*s]", stars[i], stars[j], "abcdefghij");
			CMP("[%*.*lld]", stars[i], stars[j], LLONG_MIN);
		}
		CMP("[%*d]", stars[i], 42);
		CMP("[%-*d]", stars[i], 42);	/* negative '*' with '-' */
		CMP("[%0*d]", stars[i], -42);
		CMP("[%.*d]", stars[i], 42);
		CMP("[%0.*d]", stars[i], 42);
		CMP("[%08.*d]", stars[i], 42);	/* negative precision: as if none */
		CMP("[%.*s]", stars[i], "hello");
		CMP("[%*c]", stars[i], 'z');
		CMP("[%*s]", stars[i], "");
	}
	/* The '*' arguments are consumed in order, before the value. */
	CMP("%*d|%d|%.*s|%c", 6, 1, 2, 3, "xyz", 'q');
	ASSERT_NO_MISMATCHES();
}

/* ---- strings and characters ---- */

static void test_format_strings_and_chars_match_libc(void **state)
{
	static const char *const strs[] = { "", "a", "hello", "hello, world",
					    "a string longer than most widths" };
	static const char *const sfmts[] = { "[%s]", "[%10s]", "[%-10s]",
		"[%.0s]", "[%.3s]", "[%.30s]", "[%10.3s]", "[%-10.3s]", "[%1s]",
		"[%-1s]", "[%.1s]" };
	static const int chars[] = { 'a', 'Z', '0', ' ', '%', '~', 0x7f, 0xe9 };
	static const char *const cfmts[] = { "[%c]", "[%5c]", "[%-5c]", "[%1c]",
					     "[%.0c]", "[%.3c]", "[%c%c]" };
	(void)state;
	reset();
	for (size_t f = 0; f < N(sfmts); f++)
		for (size_t s = 0; s < N(strs); s++)
			CMP(sfmts[f], strs[s]);
	for (size_t f = 0; f < N(cfmts); f++)
		for (size_t c = 0; c < N(chars); c++)
			CMP(cfmts[f], chars[c], 'x');
	/* A NUL character is output (and counted) like any other. */
	CMP("a%cb", 0);
	CMP("%3c|", 0);
	CMP("%s=%d (%c)", "key", -5, 'k');
	ASSERT_NO_MISMATCHES();
}

static void test_format_null_string_prints_null_like_glibc(void **state)
{
	char buf[64];
	(void)state;

	int n = ksnprintf(buf, sizeof(buf), "%s", (const char *)NULL);
	assert_string_equal(buf, "(null)");
	assert_int_equal(n, 6);
	n = ksnprintf(buf, sizeof(buf), "[%8s|%-8s]", (const char *)NULL,
		      (const char *)NULL);
	assert_string_equal(buf, "[  (null)|(null)  ]");
	assert_int_equal(n, 19);

	reset();
	CMP("%s", (const char *)NULL);
	CMP("[%10s]", (const char *)NULL);
	CMP("[%-10s]", (const char *)NULL);
	CMP("[%.6s]", (const char *)NULL);
	ASSERT_NO_MISMATCHES();
}

/* ---- truncation ---- */

/* For every buffer size from 0 to past the full length: the return value is
 * always the full length, the buffer holds the longest prefix that fits plus
 * a NUL, and nothing past buf[size-1] is touched. */
static void check_truncation(const char *fmt, ...)
{
	char full[256];
	va_list ap;

	va_start(ap, fmt);
	int want = vsnprintf(full, sizeof(full), fmt, ap);
	va_end(ap);
	assert_in_range(want, 1, (int)sizeof(full) - 1);

	for (size_t size = 0; size <= (size_t)want + 2; size++) {
		char buf[300];
		memset(buf, '#', sizeof(buf));
		va_start(ap, fmt);
		int n = kvsnprintf(buf, size, fmt, ap);
		va_end(ap);
		if (n != want)
			fail_msg("format \"%s\" size %zu: returned %d, want full "
				 "length %d", fmt, size, n, want);
		if (size == 0) {
			if (buf[0] != '#')
				fail_msg("format \"%s\" size 0 wrote 0x%02x to buf[0]",
					 fmt, (unsigned char)buf[0]);
			continue;
		}
		size_t stored = size - 1 < (size_t)want ? size - 1 : (size_t)want;
		if (memcmp(buf, full, stored) != 0 || buf[stored] != '\0')
			fail_msg("format \"%s\" size %zu: got \"%.*s\" + 0x%02x, want "
				 "\"%.*s\" + NUL", fmt, size, (int)stored, buf,
				 (unsigned char)buf[stored], (int)stored, full);
		for (size_t i = size; i < sizeof(buf); i++)
			if (buf[i] != '#')
				fail_msg("format \"%s\" size %zu: wrote past the buffer "
					 "at offset %zu", fmt, size, i);
	}
}

static void test_format_truncation_returns_full_length_and_terminates(void **state)
{
	(void)state;
	check_truncation("hello");
	check_truncation("%d", INT_MIN);
	check_truncation("[%-12s|%08.3x|%+lld]", "abc", 0x1234u, LLONG_MIN);
	check_truncation("%20s", "right");
	check_truncation("%-20s.", "left");
	check_truncation("%c%c%c", 'a', 'b', 'c');
	check_truncation("%#o %#X %%", 8u, 255u);
}

static void test_format_size_zero_writes_nothing_and_null_buffer_is_ok(void **state)
{
	char buf[8] = "XXXXXXX";
	(void)state;

	assert_int_equal(ksnprintf(buf, 0, "%d and %s", 12345, "more"), 14);
	assert_string_equal(buf, "XXXXXXX");
	assert_int_equal(ksnprintf(NULL, 0, "%s", "counted"), 7);
}

static void test_format_size_one_writes_only_nul(void **state)
{
	char buf[4] = { 'X', 'X', 'X', 'X' };
	(void)state;

	assert_int_equal(ksnprintf(buf, 1, "abc%d", 42), 5);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'X');
	assert_int_equal(buf[2], 'X');
}

static void test_format_empty_format_gives_empty_string(void **state)
{
	char buf[4] = { 'X', 'X', 'X', 'X' };
	(void)state;

	assert_int_equal(ksnprintf(buf, sizeof(buf), "%s", ""), 0);
	assert_string_equal(buf, "");
	assert_int_equal(buf[1], 'X');
}

/* ---- %p: "0x" and the full pointer width, unlike glibc ---- */

static void test_format_pointer_is_0x_and_full_width_hex(void **state)
{
	char buf[64];
	(void)state;

	assert_int_equal(sizeof(void *), 8);	/* the strings below assume it */
	assert_int_equal(ksnprintf(buf, sizeof(buf), "%p", (void *)0x1234), 18);
	assert_string_equal(buf, "0x0000000000001234");
	ksnprintf(buf, sizeof(buf), "%p", (void *)NULL);
	assert_string_equal(buf, "0x0000000000000000");
	ksnprintf(buf, sizeof(buf), "%p", (void *)(uintptr_t)0xdeadbeefcafef00dull);
	assert_string_equal(buf, "0xdeadbeefcafef00d");
	ksnprintf(buf, sizeof(buf), "%p", (void *)UINTPTR_MAX);
	assert_string_equal(buf, "0xffffffffffffffff");
	ksnprintf(buf, sizeof(buf), "[%22p]", (void *)0xabc);
	assert_string_equal(buf, "[    0x0000000000000abc]");
	ksnprintf(buf, sizeof(buf), "[%-22p]", (void *)0xabc);
	assert_string_equal(buf, "[0x0000000000000abc    ]");
	ksnprintf(buf, sizeof(buf), "[%4p]", (void *)0xabc);	/* width < length */
	assert_string_equal(buf, "[0x0000000000000abc]");
	/* The pointer is one argument: the next conversion gets the next one. */
	ksnprintf(buf, sizeof(buf), "%p %d", (void *)0x10, -3);
	assert_string_equal(buf, "0x0000000000000010 -3");
}

/* ---- unknown conversions: copied literally, no argument consumed ---- */

static void check_literal(const char *fmt, const char *want, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, want);
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, want) != 0 || n != (int)strlen(want))
		fail_msg("format \"%s\": got \"%s\" (ret %d), want \"%s\" (ret %zu)",
			 fmt, buf, n, want, strlen(want));
}

static void test_format_unknown_conversion_copied_and_consumes_no_argument(void **state)
{
	(void)state;
	check_literal("%q %d", "%q 42", 42);
	check_literal("%d %q %d", "1 %q 2", 1, 2);
	check_literal("%5q|%d", "%5q|7", 7);
	check_literal("%-08.3q|%d", "%-08.3q|7", 7);
	check_literal("%lq%d", "%lq7", 7);
	check_literal("%hhq%s", "%hhqok", "ok");
	check_literal("%f%d", "%f9", 9);	/* no floating point */
	check_literal("%n%d", "%n9", 9);	/* %n must never write */
	check_literal("%Lu%d", "%Lu9", 9);
}

static void test_format_percent_at_end_of_format_is_copied(void **state)
{
	(void)state;
	check_literal("%", "%");
	check_literal("abc%", "abc%");
	check_literal("%d%", "5%", 5);
	check_literal("%d %-", "5 %-", 5);
	check_literal("%d %08", "5 %08", 5);
	check_literal("%d %ll", "5 %ll", 5);
	check_literal("%d %hh", "5 %hh", 5);
	check_literal("%d %.", "5 %.", 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_int_flag_width_precision_grid_matches_libc),
		cmocka_unit_test(test_format_unsigned_flag_width_precision_grid_matches_libc),
		cmocka_unit_test(test_format_long_long_flag_width_precision_grid_matches_libc),
		cmocka_unit_test(test_format_length_modifiers_hh_h_l_z_match_libc),
		cmocka_unit_test(test_format_integer_corner_cases_match_libc),
		cmocka_unit_test(test_format_star_width_and_precision_match_libc),
		cmocka_unit_test(test_format_strings_and_chars_match_libc),
		cmocka_unit_test(test_format_null_string_prints_null_like_glibc),
		cmocka_unit_test(test_format_truncation_returns_full_length_and_terminates),
		cmocka_unit_test(test_format_size_zero_writes_nothing_and_null_buffer_is_ok),
		cmocka_unit_test(test_format_size_one_writes_only_nul),
		cmocka_unit_test(test_format_empty_format_gives_empty_string),
		cmocka_unit_test(test_format_pointer_is_0x_and_full_width_hex),
		cmocka_unit_test(test_format_unknown_conversion_copied_and_consumes_no_argument),
		cmocka_unit_test(test_format_percent_at_end_of_format_is_copied),
	};
	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
