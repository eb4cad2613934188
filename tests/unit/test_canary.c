/*
 * core/canary: the integrity check notices a changed byte of the VMM's
 * read-only image and of either guard frame, and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/canary.h"

#define BASE 0x100000u		/* "host-physical" address of mem[0] */
static uint8_t mem[4 * 4096];	/* frames: guard, RAM, RAM, guard */
static uint8_t image[1000];
static struct canary c;

/* Hands out at most 100 bytes at a time, to exercise the chunking. */
static uint8_t *fake_map(uint32_t pa, uint32_t *len)
{
	assert_true(pa >= BASE && pa < BASE + sizeof(mem));
	uint32_t left = BASE + sizeof(mem) - pa;
	*len = left < 100 ? left : 100;
	return mem + (pa - BASE);
}

static int setup(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	for (unsigned i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 7);
	c = (struct canary){ .map = fake_map };
	canary_init(&c, image, sizeof(image), BASE, BASE + 3 * 4096);
	return 0;
}

static void untouched_passes(void **state)
{
	(void)state;
	assert_int_equal(mem[0], CANARY_PATTERN);
	assert_int_equal(mem[4095], CANARY_PATTERN);
	assert_int_equal(mem[3 * 4096 + 4095], CANARY_PATTERN);
	assert_null(canary_check(&c));
}

static void guest_ram_may_change(void **state)
{
	(void)state;
	memset(mem + 4096, 0xff, 2 * 4096);
	assert_null(canary_check(&c));
}

static void image_byte_changed(void **state)
{
	(void)state;
	image[999] ^= 1;
	const char *why = canary_check(&c);
	assert_non_null(why);
	assert_non_null(strstr(why, "code or read-only data"));
}

static void guard_below_written(void **state)
{
	(void)state;
	mem[4095] = 0;		/* the last byte before guest RAM */
	assert_non_null(strstr(canary_check(&c), "below guest RAM"));
}

static void guard_above_written(void **state)
{
	(void)state;
	mem[3 * 4096] = 0;	/* the first byte after guest RAM */
	assert_non_null(strstr(canary_check(&c), "above guest RAM"));
}

static void missing_guards_are_skipped(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	canary_init(&c, image, sizeof(image), 0, 0);
	assert_int_equal(mem[0], 0);
	assert_null(canary_check(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(untouched_passes, setup),
		cmocka_unit_test_setup(guest_ram_may_change, setup),
		cmocka_unit_test_setup(image_byte_changed, setup),
		cmocka_unit_test_setup(guard_below_written, setup),
		cmocka_unit_test_setup(guard_above_written, setup),
		cmocka_unit_test_setup(missing_guards_are_skipped, setup),
	};
	return cmocka_run_group_tests_name("core/canary", tests, NULL, NULL);
}
