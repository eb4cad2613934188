#include "guests/lib/report.h"

#include <stdarg.h>
#include "guests/lib/console.h"
#include "lib/format.h"
#include "ringvisor/exit.h"

static unsigned tests, failures;
static char details[256];
static unsigned details_len;

void detail(const char *fmt, ...)
{
	if (details_len + 2 >= sizeof(details))
		return;
	if (details_len) {
		details[details_len++] = ',';
		details[details_len++] = ' ';
	}
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(details + details_len, sizeof(details) - details_len, fmt, ap);
	va_end(ap);
	details_len += n;
	if (details_len >= sizeof(details))
		details_len = sizeof(details) - 1;
}

static bool vreport(bool pass, const char *fmt, va_list ap)
{
	char name[128];
	kvsnprintf(name, sizeof(name), fmt, ap);
	tests++;
	if (pass) {
		printf("PASS: %s\n", name);
	} else {
		failures++;
		if (details_len)
			printf("FAIL: %s (%s)\n", name, details);
		else
			printf("FAIL: %s\n", name);
	}
	details_len = 0;
	details[0] = 0;
	return pass;
}

bool report(bool pass, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(pass, fmt, ap);
	va_end(ap);
	return pass;
}

bool report_eq(uint32_t got, uint32_t want, const char *fmt, ...)
{
	if (got != want)
		detail("got 0x%x, want 0x%x", got, want);
	va_list ap;
	va_start(ap, fmt);
	vreport(got == want, fmt, ap);
	va_end(ap);
	return got == want;
}

void report_skip(const char *why, const char *fmt, ...)
{
	char name[128];
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	printf("SKIP: %s (%s)\n", name, why);
	details_len = 0;
}

void report_summary(void)
{
	printf("SUMMARY: %u tests, %u failures\n", tests, failures);
	exit(failures ? EXIT_FAIL : EXIT_OK);
}
