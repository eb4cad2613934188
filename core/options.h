/*
 * The VMM's own command line: the words after the image name in the
 * Multiboot command line, each "name" or "name=value".
 *
 *   mem=MB            guest RAM in MiB (default 64, at least 2)
 *   trace=exits       log every exit from the guest: reason, guest EIP,
 *                     virtual ring (trace=off, the default, logs none)
 *   test-panic=KIND   provoke an exception inside the VMM, to test the panic
 *                     report: ud (#UD), de (#DE), gp (#GP), pf (#PF on a write
 *                     to an unmapped page), df (stack overflow into the guard
 *                     page, which ends in a double fault)
 */
#ifndef CORE_OPTIONS_H
#define CORE_OPTIONS_H

enum panic_test {
	PANIC_TEST_NONE,
	PANIC_TEST_UD,
	PANIC_TEST_DE,
	PANIC_TEST_GP,
	PANIC_TEST_PF,
	PANIC_TEST_DF,
};

#define GUEST_MEM_DEFAULT_MB 64
#define GUEST_MEM_MIN_MB 2
#define GUEST_MEM_MAX_MB 3072	/* the guest's space ends at 0xFC000000 */

struct vmm_options {
	enum panic_test test_panic;
	unsigned guest_mem_mb;
	int trace_exits;
};

/*
 * Parse a Multiboot command line.  Its first word is the image's file name
 * (QEMU and GRUB both put it there) and is skipped.  Returns 0, or -1 with a
 * one-line reason in err; on error *out holds the defaults.
 */
int options_parse(const char *cmdline, struct vmm_options *out,
		  char *err, unsigned errlen);

#endif
