/*
 * core/options: options_parse() of the VMM's Multiboot command line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/options.h"

static struct vmm_options opt;
static char err[256];

static int setup(void **state)
{
	(void)state;
	memset(&opt, 0xcc, sizeof(opt));	/* parse must fill it in */
	memset(err, 0, sizeof(err));
	return 0;
}

static int parse(const char *cmdline)
{
	return options_parse(cmdline, &opt, err, sizeof(err));
}

#define assert_parse_ok(cmdline) do { \
	if (parse(cmdline) != 0) \
		fail_msg("options_parse(\"%s\") failed: %s", cmdline, err); \
} while (0)

#define assert_parse_fails(cmdline) do { \
	if (parse(cmdline) != -1) \
		fail_msg("options_parse(\"%s\") accepted it", cmdline); \
	assert_defaults(); \
} while (0)

#define assert_err_mentions(word) do { \
	if (!strstr(err, word)) \
		fail_msg("error \"%s\" does not mention \"%s\"", err, word); \
} while (0)

static void assert_defaults(void)
{
	assert_int_equal(opt.test_panic, PANIC_TEST_NONE);
	assert_int_equal(opt.guest_mem_mb, GUEST_MEM_DEFAULT_MB);
	assert_int_equal(opt.trace_exits, 0);
}

static void test_options_null_cmdline_gives_defaults(void **state)
{
	(void)state;
	assert_int_equal(options_parse(NULL, &opt, err, sizeof(err)), 0);
	assert_defaults();
}

static void test_options_empty_and_blank_cmdline_give_defaults(void **state)
{
	(void)state;
	assert_parse_ok("");
	assert_defaults();
	setup(NULL);
	assert_parse_ok("  \t \r\n ");
	assert_defaults();
}

static void test_options_image_name_alone_gives_defaults(void **state)
{
	(void)state;
	assert_parse_ok("/boot/ringvisor.elf");
	assert_defaults();
}

static void test_options_first_word_is_skipped_even_if_it_looks_like_an_option(void **state)
{
	(void)state;
	assert_parse_ok("test-panic=pf");
	assert_defaults();
	setup(NULL);
	/* ...and even if it is not a valid option at all. */
	assert_parse_ok("bogus=1 trace=exits");
	assert_int_equal(opt.trace_exits, 1);
}

static void test_options_test_panic_each_kind(void **state)
{
	static const struct { const char *cmdline; enum panic_test want; } cases[] = {
		{ "img test-panic=ud", PANIC_TEST_UD },
		{ "img test-panic=de", PANIC_TEST_DE },
		{ "img test-panic=gp", PANIC_TEST_GP },
		{ "img test-panic=pf", PANIC_TEST_PF },
		{ "img test-panic=df", PANIC_TEST_DF },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		setup(NULL);
		assert_parse_ok(cases[i].cmdline);
		if (opt.test_panic != cases[i].want)
			fail_msg("\"%s\" gave test_panic %d, want %d", cases[i].cmdline,
				 (int)opt.test_panic, (int)cases[i].want);
		assert_int_equal(opt.guest_mem_mb, GUEST_MEM_DEFAULT_MB);
		assert_int_equal(opt.trace_exits, 0);
	}
}

static void test_options_unknown_option_is_named_in_error(void **state)
{
	(void)state;
	assert_parse_fails("img bogus");
	assert_string_equal(err, "unknown option 'bogus'");
	setup(NULL);
	assert_parse_fails("img trace=exits bogus=7");
	assert_string_equal(err, "unknown option 'bogus'");
	setup(NULL);
	assert_parse_fails("img =pf");
	assert_string_equal(err, "unknown option ''");
}

static void test_options_test_panic_bad_value_lists_choices(void **state)
{
	(void)state;
	assert_parse_fails("img test-panic=zz");
	assert_err_mentions("'zz'");
	assert_err_mentions("ud");
	assert_err_mentions("de");
	assert_err_mentions("gp");
	assert_err_mentions("pf");
	assert_err_mentions("df");
	/* Case matters, and prefixes are not enough. */
	setup(NULL);
	assert_parse_fails("img test-panic=PF");
	setup(NULL);
	assert_parse_fails("img test-panic=p");
	setup(NULL);
	assert_parse_fails("img test-panic=pff");
}

static void test_options_test_panic_without_value_is_an_error(void **state)
{
	(void)state;
	assert_parse_fails("img test-panic");
	assert_err_mentions("test-panic");
	setup(NULL);
	assert_parse_fails("img test-panic=");
	assert_err_mentions("test-panic");
}

static void test_options_extra_whitespace_and_tabs_are_ok(void **state)
{
	(void)state;
	assert_parse_ok("  img\t\ttest-panic=gp   \t mem=128\t");
	assert_int_equal(opt.test_panic, PANIC_TEST_GP);
	assert_int_equal(opt.guest_mem_mb, 128);
	setup(NULL);
	assert_parse_ok("img\ntrace=exits\r\n");
	assert_int_equal(opt.trace_exits, 1);
}

static void test_options_all_options_together_and_last_wins(void **state)
{
	(void)state;
	assert_parse_ok("img mem=32 trace=exits test-panic=ud test-panic=de mem=16");
	assert_int_equal(opt.test_panic, PANIC_TEST_DE);
	assert_int_equal(opt.guest_mem_mb, 16);
	assert_int_equal(opt.trace_exits, 1);
	setup(NULL);
	assert_parse_ok("img trace=exits trace=off");
	assert_int_equal(opt.trace_exits, 0);
}

static void test_options_mem_bounds(void **state)
{
	static const struct { const char *cmdline; unsigned want; } good[] = {
		{ "img mem=2", 2 }, { "img mem=3072", 3072 }, { "img mem=0064", 64 },
		{ "img mem=1000", 1000 },
	};
	static const char *const bad[] = {
		"img mem=1", "img mem=0", "img mem=3073", "img mem=30720",
		"img mem=99999999999999999999", "img mem=", "img mem", "img mem=12a",
		"img mem=-5", "img mem=+5", "img mem=0x40", "img mem=64M",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		setup(NULL);
		assert_parse_ok(good[i].cmdline);
		if (opt.guest_mem_mb != good[i].want)
			fail_msg("\"%s\" gave %u MiB, want %u", good[i].cmdline,
				 opt.guest_mem_mb, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		setup(NULL);
		assert_parse_fails(bad[i]);
		assert_err_mentions("mem");
	}
}

static void test_options_trace_values(void **state)
{
	(void)state;
	assert_parse_ok("img trace=exits");
	assert_int_equal(opt.trace_exits, 1);
	setup(NULL);
	assert_parse_fails("img trace=all");
	assert_err_mentions("'all'");
	setup(NULL);
	assert_parse_fails("img trace");
	assert_err_mentions("trace");
}

static void test_options_word_of_200_chars_is_too_long(void **state)
{
	char cmdline[256];
	(void)state;
	strcpy(cmdline, "img ");
	memset(cmdline + 4, 'x', 200);
	cmdline[204] = '\0';
	assert_parse_fails(cmdline);
	assert_err_mentions("too long");
	/* The error quotes only the start of the word. */
	assert_true(strlen(err) < 100);
}

static void test_options_word_length_boundary(void **state)
{
	char cmdline[300];
	(void)state;
	/* 127 characters still fit the word buffer (then it is unknown). */
	strcpy(cmdline, "img ");
	memset(cmdline + 4, 'y', 127);
	cmdline[4 + 127] = '\0';
	assert_parse_fails(cmdline);
	assert_err_mentions("unknown option");
	/* 128 do not. */
	setup(NULL);
	memset(cmdline + 4, 'y', 128);
	cmdline[4 + 128] = '\0';
	assert_parse_fails(cmdline);
	assert_err_mentions("too long");
	/* A long, valid-looking value is too long as well. */
	setup(NULL);
	strcpy(cmdline, "img test-panic=");
	memset(cmdline + 15, 'p', 150);
	cmdline[165] = '\0';
	assert_parse_fails(cmdline);
	assert_err_mentions("too long");
}

static void test_options_long_image_name_is_fine(void **state)
{
	char cmdline[600];
	(void)state;
	memset(cmdline, '/', 500);
	strcpy(cmdline + 500, " test-panic=df");
	assert_parse_ok(cmdline);
	assert_int_equal(opt.test_panic, PANIC_TEST_DF);
}

static void test_options_error_after_valid_options_leaves_defaults(void **state)
{
	(void)state;
	assert_parse_fails("img test-panic=pf mem=128 trace=exits nope");
	/* assert_parse_fails checked *out holds the defaults, not pf/128. */
	assert_string_equal(err, "unknown option 'nope'");
}

static void test_options_error_is_truncated_to_errlen(void **state)
{
	char small[10];
	(void)state;
	memset(small, 'Z', sizeof(small));
	assert_int_equal(options_parse("img bogus", &opt, small, 6), -1);
	assert_string_equal(small, "unkno");
	assert_int_equal(small[6], 'Z');
}

#define T(name) cmocka_unit_test_setup(name, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_options_null_cmdline_gives_defaults),
		T(test_options_empty_and_blank_cmdline_give_defaults),
		T(test_options_image_name_alone_gives_defaults),
		T(test_options_first_word_is_skipped_even_if_it_looks_like_an_option),
		T(test_options_test_panic_each_kind),
		T(test_options_unknown_option_is_named_in_error),
		T(test_options_test_panic_bad_value_lists_choices),
		T(test_options_test_panic_without_value_is_an_error),
		T(test_options_extra_whitespace_and_tabs_are_ok),
		T(test_options_all_options_together_and_last_wins),
		T(test_options_mem_bounds),
		T(test_options_trace_values),
		T(test_options_word_of_200_chars_is_too_long),
		T(test_options_word_length_boundary),
		T(test_options_long_image_name_is_fine),
		T(test_options_error_after_valid_options_leaves_defaults),
		T(test_options_error_is_truncated_to_errlen),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
