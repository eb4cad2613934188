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

/* One word, split at its first '=' (value is NULL when there is none). */
static int apply_word(char *word, struct vmm_options *out, char *err,
		      unsigned errlen)
{
	char *value = strchr(word, '=');
	if (value)
		*value++ = '\0';

	if (strcmp(word, "test-panic") == 0)
		return parse_test_panic(value, out, err, errlen);

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
	*out = (struct vmm_options){ .test_panic = PANIC_TEST_NONE };
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
