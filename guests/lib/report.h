/*
 * Test results, one line each, in a form the e2e runner compares between a
 * native run and a run under the VMM:
 *
 *   PASS: <name>
 *   FAIL: <name> (<details>)
 *   SKIP: <name> (<why>)
 *   SUMMARY: <n> tests, <m> failures
 *
 * Names must be deterministic and the same in both runs: never put an
 * address the guest did not choose, a time or a TSC value into one.  Those
 * may appear in the details, which only a failure prints.
 */
#ifndef GUESTS_LIB_REPORT_H
#define GUESTS_LIB_REPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Add to the details the next report prints if it fails. */
void detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One test; returns pass.  Clears the pending details. */
bool report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One test that got == want; on failure the details show both in hex. */
bool report_eq(uint32_t got, uint32_t want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A test that cannot run here (say, a CPU feature CPUID does not report). */
void report_skip(const char *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print the SUMMARY line and exit: EXIT_OK if nothing failed, else EXIT_FAIL. */
void report_summary(void) __attribute__((noreturn));

#endif
