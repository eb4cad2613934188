/*
 * rvbench: lmbench-style microbenchmarks, run inside the Linux guest
 * natively and under the VMM by bench/run.py (issue 6).
 *
 *   rvbench [TEST...]      run the tests (default: all), one line each:
 *                          "bench NAME TICKS_PER_OP OPS"
 *   rvbench tsc            print the TSC (boot time to /init)
 *   rvbench time PROG ARG...  run a program, print "bench time TICKS 1"
 *
 * Time is the TSC, read in user space: under QEMU's -icount it counts
 * instructions (the deterministic figure), otherwise it follows the wall
 * clock.  Either way native and VMM runs are measured the same way, and
 * only their ratio is reported.  Before and after each test rvbench writes
 * a profile mark to the VMM (through /dev/port; natively the ports are
 * empty), so the VMM's exit statistics come out per test.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROFILE_MARK_PORT  0xe0
#define PROFILE_LABEL_PORT 0xe1

static int port_fd = -1;

static uint64_t tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Tell the VMM where a test starts or ends (core/ioport.c). */
static void profile_mark(const char *label)
{
	if (port_fd < 0)
		return;
	for (const char *c = label; *c; c++)
		if (pwrite(port_fd, c, 1, PROFILE_LABEL_PORT) != 1)
			return;
	pwrite(port_fd, "", 1, PROFILE_MARK_PORT);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- the tests: each runs ops operations ---- */

static void t_null(long ops)
{
	for (long i = 0; i < ops; i++)
		syscall(SYS_getppid);	/* not cached by libc */
}

static void t_write(long ops)
{
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		die("/dev/null");
	char c = 0;
	for (long i = 0; i < ops; i++)
		if (write(fd, &c, 1) != 1)
			die("write");
	close(fd);
}

/* One op: a byte to the child and back, two context switches. */
static void t_pipe(long ops)
{
	int to_child[2], to_parent[2];
	if (pipe(to_child) || pipe(to_parent))
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	char c = 0;
	if (pid == 0) {
		for (long i = 0; i < ops; i++)
			if (read(to_child[0], &c, 1) != 1 || write(to_parent[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	for (long i = 0; i < ops; i++)
		if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1)
			die("pipe ping-pong");
	waitpid(pid, NULL, 0);
	close(to_child[0]); close(to_child[1]);
	close(to_parent[0]); close(to_parent[1]);
}

static void t_fork(long ops)
{
	for (long i = 0; i < ops; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
}

static void t_exec(long ops)
{
	for (long i = 0; i < ops; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
	}
}

/* One op: the first touch of a fresh anonymous page. */
static void t_pagefault(long ops)
{
	const long pages = 256;
	for (long done = 0; done < ops; done += pages) {
		char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		for (long i = 0; i < pages; i++)
			p[i * 4096] = 1;
		munmap(p, pages * 4096);
	}
}

/* One op: map 64 KiB, touch one page, unmap. */
static void t_mmap(long ops)
{
	for (long i = 0; i < ops; i++) {
		char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		p[0] = 1;
		munmap(p, 65536);
	}
}

static volatile sig_atomic_t caught;
static void on_usr1(int sig) { (void)sig; caught++; }

static void t_signal(long ops)
{
	struct sigaction sa;
	caught = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	for (long i = 0; i < ops; i++)
		kill(getpid(), SIGUSR1);
	if (caught != ops)
		die("signal count");
}

static const struct test {
	const char *name;
	void (*run)(long ops);
	long ops;
} tests[] = {
	{ "null-syscall", t_null, 20000 },
	{ "write-devnull", t_write, 20000 },
	{ "pipe-pingpong", t_pipe, 2000 },
	{ "fork-exit", t_fork, 100 },
	{ "fork-exec", t_exec, 50 },
	{ "page-fault", t_pagefault, 2560 },
	{ "mmap-munmap", t_mmap, 1000 },
	{ "signal", t_signal, 5000 },
};

static void run_test(const struct test *t)
{
	profile_mark("-");			/* what came before is not ours */
	t->run(t->ops / 10 + 1);		/* warm up caches and shadows */
	profile_mark("-");
	uint64_t start = tsc();
	t->run(t->ops);
	uint64_t ticks = tsc() - start;
	profile_mark(t->name);
	printf("bench %s %llu %ld\n", t->name,
	       (unsigned long long)(ticks / (uint64_t)t->ops), t->ops);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "tsc") == 0) {
		printf("tsc %llu\n", (unsigned long long)tsc());
		return 0;
	}
	port_fd = open("/dev/port", O_WRONLY);
	if (argc > 2 && strcmp(argv[1], "time") == 0) {
		profile_mark("-");
		uint64_t start = tsc();
		pid_t pid = fork();
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		int status;
		waitpid(pid, &status, 0);
		uint64_t ticks = tsc() - start;
		profile_mark("time");
		printf("bench time %llu 1\n", (unsigned long long)ticks);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++) {
		int wanted = argc == 1;
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], tests[i].name) == 0;
		if (wanted)
			run_test(&tests[i]);
	}
	return 0;
}
