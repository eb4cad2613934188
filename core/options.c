#include "core/options.h"

#include "lib/format.h"
#include "lib/string.h"

#define MAX_WORD 128

static const char *const panic_test_names[] = {
	[PANIC_TEST_UD] = "ud", [PANIC_TEST_DE] = "de", [PANIC_TEST_GP] = "gp",
	[PANIC_TEST_PF] = "pf", [PANIC_TEST_DF] = "df",
};

static int parse_test_panic(const char *value, struct vmm_options *out,
			    char *err, unsigned errlen)
{
	for (unsigned i = 1; i < sizeof(panic_test_names) / sizeof(*panic_test_names); i++) {
		if (value && strcmp(value, panic_test_names[i]) == 0) {
			out->test_panic = (enum panic_test)i;
			return 0;
		}
	}
	ksnprintf(err, errlen, "option 'test-panic' takes ud, de, gp, pf or df, "
		  "not '%s'", value ? value : "");
	return -1;
}

static int parse_mem(const char *value, struct vmm_options *out, char *err,
		     unsigned errlen)
{
	unsigned mb = 0;
	const char *p = value ? value : "";
	for (; *p >= '0' && *p <= '9' && mb <= GUEST_MEM_MAX_MB; p++)
		mb = mb * 10 + (unsigned)(*p - '0');
	if (!value || !*value || *p || mb < GUEST_MEM_MIN_MB || mb > GUEST_MEM_MAX_MB) {
		ksnprintf(err, errlen, "option 'mem' takes a size in MiB from %d to "
			  "%d, not '%s'", GUEST_MEM_MIN_MB, GUEST_MEM_MAX_MB,
			  value ? value : "");
		return -1;
	}
	out->guest_mem_mb = mb;
	return 0;
}

static int parse_trace(const char *value, struct vmm_options *out, char *err,
		       unsigned errlen)
{
	if (value && strcmp(value, "exits") == 0)
		out->trace_exits = 1;
	else if (value && strcmp(value, "off") == 0)
		out->trace_exits = 0;
	else {
		ksnprintf(err, errlen, "option 'trace' takes exits or off, not '%s'",
			  value ? value : "");
		return -1;
	}
	return 0;
}

/* One word, split at its first '=' (value is NULL when there is none). */
static int apply_word(char *word, struct vmm_options *out, char *err,
		      unsigned errlen)
{
	char *value = strchr(word, '=');
	if (value)
		*value++ = '\0';

	if (strcmp(word, "test-panic") == 0)
		return parse_test_panic(value, out, err, errlen);
	if (strcmp(word, "mem") == 0)
		return parse_mem(value, out, err, errlen);
	if (strcmp(word, "trace") == 0)
		return parse_trace(value, out, err, errlen);

	ksnprintf(err, errlen, "unknown option '%s'", word);
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int options_parse(const char *cmdline, struct vmm_options *out,
		  char *err, unsigned errlen)
{
	*out = (struct vmm_options){ .test_panic = PANIC_TEST_NONE,
				     .guest_mem_mb = GUEST_MEM_DEFAULT_MB };
	struct vmm_options parsed = *out;
	const char *p = cmdline ? cmdline : "";
	int first = 1;

	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !is_space(*p))
			p++;
		if (first) {	/* the image's file name */
			first = 0;
			continue;
		}
		char word[MAX_WORD];
		unsigned len = (unsigned)(p - start);
		if (len >= sizeof(word)) {
			ksnprintf(err, errlen, "option '%.20s...' is too long", start);
			return -1;
		}
		memcpy(word, start, len);
		word[len] = '\0';
		if (apply_word(word, &parsed, err, errlen))
			return -1;
	}
	*out = parsed;
	return 0;
}
