# ringvisor: a VMM for IA-32 that uses only rings 0 and 3.
#
#   make          build the VMM image and the test guests
#   make run      install what is missing, build, boot Linux under the VMM
#   make linux    the guest Linux kernel and its Busybox initramfs
#   make bench    benchmarks, natively and under the VMM (build/bench/)
#   make test     install what is missing, build, run every test tier
#   make iso      a bootable GRUB ISO of the VMM (build/ringvisor.iso)
#
# Sources are grouped by what they are:
#   core/       the VMM's architecture-independent logic (plain C, host-testable)
#   lib/        freestanding C library bits (formatted output, strings)
#   loader/     Multiboot and ELF parsing (plain C, host-testable)
#   dev/        the VMM's own device drivers (its serial console)
#   arch/ia32/  everything that touches the IA-32 CPU: boot, GDT/IDT/TSS,
#               paging, traps, the panic report
#   include/    the ABI shared with guests (exit protocol, later hypercalls)
#   guests/     guest kernels built here (test guests)
#   tests/      host unit tests (cmocka) and end-to-end tests in QEMU
#   tools/      dependency installer, ISO builder

B := build

# Quiet by default; `make V=1` shows every command.
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(Q),@printf '  %-7s %s\n' $(1) $(2))

# ---- the VMM image: freestanding, 32-bit, ring 0 ----
CC := gcc
# Code generation, for the compiler and again for the link: the VMM is
# optimised as one program (-flto), which inlines and simplifies the calls
# between files that every exit makes (issue 6: ~9% of the pipe
# benchmark's instructions).  No FPU or SSE register is ever the VMM's:
# they hold the guest's state.
VMM_CODEGEN := -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-omit-frame-pointer -mgeneral-regs-only \
	-fno-builtin -O2 -flto=auto -g
VMM_CFLAGS := -std=gnu11 $(VMM_CODEGEN) -Wall -Wextra -Werror -I. -Iinclude -MMD -MP
VMM_ASFLAGS := -m32 -g -I. -Iinclude -MMD -MP -Wa,--fatal-warnings
VMM_LDFLAGS := $(VMM_CODEGEN) -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -Wl,-T,arch/ia32/link.ld

# The pure-C sources also compile for the host, where the unit tests run.
PURE_SRCS := lib/format.c core/palloc.c core/options.c core/guest_mem.c \
	core/segments.c core/vmem.c core/decode.c core/pagewalk.c core/shadow.c \
	core/canary.c core/workingset.c \
	loader/multiboot.c loader/elf.c loader/elfload.c loader/mbguest.c loader/linux.c
# The rest of the core calls into the arch (core/arch.h), so it is built for
# the VMM only (host tests of it supply their own arch functions).
VMM_SRCS := $(PURE_SRCS) lib/string.c \
	core/main.c core/console.c core/memory.c core/guest.c core/deliver.c \
	core/emulate.c core/ring.c core/ioport.c core/hypercall.c core/step.c core/mmu.c \
	core/exitstats.c \
	dev/uart16550.c dev/i8259.c \
	arch/ia32/boot.S arch/ia32/vectors.S arch/ia32/guestcopy.S arch/ia32/cpu.c arch/ia32/paging.c \
	arch/ia32/trap.c arch/ia32/panic.c arch/ia32/arch.c arch/ia32/guest.c \
	arch/ia32/espfix.c arch/ia32/fastcall.S arch/ia32/fastcall.c
VMM_OBJS := $(patsubst %,$(B)/vmm/%.o,$(VMM_SRCS))

all: $(B)/ringvisor.elf guests

$(B)/vmm/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(VMM_CFLAGS) -c $< -o $@

$(B)/vmm/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(call say,AS,$<)
	$(Q)$(CC) $(VMM_ASFLAGS) -c $< -o $@

$(B)/ringvisor.elf: $(VMM_OBJS) arch/ia32/link.ld
	$(call say,LD,$@)
	$(Q)$(CC) $(VMM_LDFLAGS) -o $@ $(VMM_OBJS) -lgcc

# ---- test guests: Multiboot ELF kernels that also boot on bare QEMU ----
GUEST_CFLAGS := -std=gnu11 -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -mgeneral-regs-only -fno-builtin -O2 -g \
	-Wall -Wextra -Werror -I. -Iinclude -MMD -MP
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
include guests/guests.mk

# ---- host unit tests (cmocka, with AddressSanitizer and UBSan) ----
HOST_CC := gcc
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -Iinclude \
	-fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRCS))
HOST_PURE_OBJS := $(patsubst %,$(B)/host/%.o,$(PURE_SRCS))

$(B)/host/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$<)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(B)/unit/%: tests/unit/%.c $(HOST_PURE_OBJS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(HOST_PURE_OBJS) -lcmocka

# The emulator and the rest of the core that calls into the arch run on the
# host too, against a simulated machine (tests/unit/support/fake_vmm.c).
EMU_SRCS := core/deliver.c core/emulate.c core/ring.c core/step.c core/mmu.c \
	core/hypercall.c core/ioport.c core/exitstats.c dev/i8259.c \
	tests/unit/support/fake_vmm.c
HOST_EMU_OBJS := $(patsubst %,$(B)/host/%.o,$(EMU_SRCS))

$(B)/unit/test_emulate: tests/unit/test_emulate.c $(HOST_PURE_OBJS) $(HOST_EMU_OBJS)
	@mkdir -p $(dir $@)
	$(call say,HOSTLD,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(HOST_PURE_OBJS) $(HOST_EMU_OBJS) -lcmocka

unit-bins: $(UNIT_BINS)

# ---- the profiler: a QEMU plugin counting instructions per block ----
$(B)/tools/hotblocks.so: tools/prof/hotblocks.c
	@mkdir -p $(dir $@)
	$(call say,HOSTCC,$<)
	$(Q)$(HOST_CC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC \
		-fvisibility=hidden -o $@ $<
profiler: $(B)/tools/hotblocks.so

# ---- fuzzing the pure-C core with libFuzzer (tests/fuzz/fuzz.mk) ----
include tests/fuzz/fuzz.mk

# ---- the guest Linux: kernel, Busybox initramfs (linux/linux.mk) ----
# The initramfs carries the Linux tests too (tests/linux/): a user can run
# them from the shell, and the end-to-end tests boot with rv.run= them.
LINUX_TESTS := $(B)/linux/protcheck:/tests/protcheck \
	tests/linux/smoke.sh:/tests/smoke.sh
LINUX_BENCH := $(B)/linux/rvbench:/bench/rvbench \
	bench/guest-run.sh:/bench/guest-run.sh bench/macro.sh:/bench/macro.sh
LINUX_EXTRA_FILES := $(LINUX_TESTS) $(LINUX_BENCH)
include linux/linux.mk

# Static i386 programs for the guest's user space (glibc from gcc-multilib).
$(B)/linux/protcheck: tests/linux/protcheck.c
$(B)/linux/rvbench: bench/rvbench.c
$(B)/linux/protcheck $(B)/linux/rvbench:
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) -m32 -static -O2 -Wall -Wextra -Werror -o $@ $<

linux-initramfs: $(B)/linux/protcheck $(B)/linux/rvbench

# ---- the GRUB ISO ----
iso: $(B)/ringvisor.iso
$(B)/ringvisor.iso: $(B)/ringvisor.elf $(B)/guests/hello.elf tools/mkiso.sh
	$(call say,ISO,$@)
	$(Q)tools/mkiso.sh $@ "" $(B)/guests/hello.elf

# ---- what a user runs ----
deps:
	@tools/deps.sh
	@tools/linux/deps.sh
	@tests/fuzz/deps.sh

run: deps all linux
	./ringvisor run

test: deps all unit-bins fuzz-bins linux
	python3 tests/run.py

# Benchmarks against native (never part of test): build/bench/.
bench: deps all linux profiler
	python3 bench/run.py

clean:
	rm -rf $(B)

# Keep intermediate objects (make would delete the host ones after a link).
.SECONDARY:
.PHONY: all guests unit-bins profiler iso deps run test bench clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)
