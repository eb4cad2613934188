/*
 * protcheck: run inside the Linux guest, as an ordinary user process, it
 * checks from user space what the virtual protection ring must hold
 * (issue 5; paper §3): kernel memory (0xC0000000+) and VMM memory
 * (0xFC000000+) can be neither read nor written, and privileged
 * instructions and port I/O the process was not granted raise SIGSEGV.
 * The ports probed include the ones the VMM passes through to the guest
 * kernel (PIT, CMOS, COM1): they must stay closed to guest user mode.
 *
 * Each probe runs under a SIGSEGV handler that jumps back; the line printed
 * names the signal and the fault address the kernel reported, so a native
 * run and a run under the VMM can be compared line by line.
 * Exit status: 0 if every probe faulted as it must, 1 otherwise.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf recover;
static volatile sig_atomic_t last_signal;
static volatile uintptr_t last_address;
static int failures, probes;

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
	(void)ctx;
	last_signal = sig;
	last_address = (uintptr_t)info->si_addr;
	siglongjmp(recover, 1);
}

/* Run probe(arg); it must raise SIGSEGV. */
static void expect_segv(const char *what, void (*probe)(uintptr_t), uintptr_t arg)
{
	probes++;
	last_signal = 0;
	if (sigsetjmp(recover, 1) == 0) {
		probe(arg);
		printf("FAIL: %s: no fault\n", what);
		failures++;
		return;
	}
	if (last_signal != SIGSEGV) {
		printf("FAIL: %s: signal %d, not SIGSEGV\n", what, (int)last_signal);
		failures++;
		return;
	}
	printf("PASS: %s: SIGSEGV at 0x%08lx\n", what, (unsigned long)last_address);
}

static void read_at(uintptr_t a) { (void)*(volatile uint32_t *)a; }
static void write_at(uintptr_t a) { *(volatile uint32_t *)a = 0x5a5a5a5a; }
static void exec_at(uintptr_t a) { ((void (*)(void))a)(); }
static void do_cli(uintptr_t a) { (void)a; __asm__ volatile("cli"); }
static void do_sti(uintptr_t a) { (void)a; __asm__ volatile("sti"); }
static void do_hlt(uintptr_t a) { (void)a; __asm__ volatile("hlt"); }
static void do_mov_cr3(uintptr_t a) { __asm__ volatile("mov %0, %%cr3" : : "r"(a)); }
static void do_mov_from_cr0(uintptr_t a) { uintptr_t v; (void)a; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); }
static void do_lidt(uintptr_t a) { (void)a; static uint8_t d[6]; __asm__ volatile("lidt %0" : : "m"(d)); }
static void do_wrmsr(uintptr_t a) { __asm__ volatile("wrmsr" : : "c"(0x174), "a"(a), "d"(0)); }
static void do_inb(uintptr_t port) { uint8_t v; __asm__ volatile("inb %w1, %0" : "=a"(v) : "Nd"((uint16_t)port)); }
static void do_outb(uintptr_t port) { __asm__ volatile("outb %0, %w1" : : "a"((uint8_t)0), "Nd"((uint16_t)port)); }

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	static const struct { const char *name; uintptr_t address; } memory[] = {
		{ "kernel 0xc0000000", 0xc0000000u },
		{ "kernel text 0xc1000000", 0xc1000000u },
		{ "top of kernel 0xfbfff000", 0xfbfff000u },
		{ "VMM 0xfc000000", 0xfc000000u },
		{ "VMM 0xfc100000", 0xfc100000u },
		{ "VMM windows 0xffc00000", 0xffc00000u },
		{ "VMM 0xfffff000", 0xfffff000u },
	};
	char what[96];
	for (unsigned i = 0; i < sizeof(memory) / sizeof(*memory); i++) {
		snprintf(what, sizeof(what), "read %s", memory[i].name);
		expect_segv(what, read_at, memory[i].address);
		snprintf(what, sizeof(what), "write %s", memory[i].name);
		expect_segv(what, write_at, memory[i].address);
		snprintf(what, sizeof(what), "execute %s", memory[i].name);
		expect_segv(what, exec_at, memory[i].address);
	}

	expect_segv("cli", do_cli, 0);
	expect_segv("sti", do_sti, 0);
	expect_segv("hlt", do_hlt, 0);
	expect_segv("mov to cr3", do_mov_cr3, 0);
	expect_segv("mov from cr0", do_mov_from_cr0, 0);
	expect_segv("lidt", do_lidt, 0);
	expect_segv("wrmsr", do_wrmsr, 0);

	static const struct { const char *name; uint16_t port; } ports[] = {
		{ "PIT 0x40", 0x40 }, { "PIC 0x21", 0x21 }, { "port 0x61", 0x61 },
		{ "CMOS 0x70", 0x70 }, { "POST 0x80", 0x80 }, { "COM1 0x3f8", 0x3f8 },
		{ "debug exit 0xf4", 0xf4 },
	};
	for (unsigned i = 0; i < sizeof(ports) / sizeof(*ports); i++) {
		snprintf(what, sizeof(what), "in from %s", ports[i].name);
		expect_segv(what, do_inb, ports[i].port);
		snprintf(what, sizeof(what), "out to %s", ports[i].name);
		expect_segv(what, do_outb, ports[i].port);
	}

	printf("protcheck: %d probes, %d failures\n", probes, failures);
	return failures != 0;
}
