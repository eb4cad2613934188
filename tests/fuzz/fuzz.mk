# Fuzzing the pure-C core and loaders on the host with libFuzzer (clang),
# under AddressSanitizer and UBSan.  Included by the top-level Makefile,
# which defines B, Q, say, PURE_SRCS and EMU_SRCS.
#
#   make fuzz-bins     build every fuzz target into $(B)/fuzz/
#   make fuzz          fuzz each target for FUZZ_SECONDS (default 60) in turn,
#                      on a copy of its seed corpus in $(B)/fuzz/corpus/;
#                      fails if any target crashed (the input is left in
#                      $(B)/fuzz/<target>-crash-*)
#   make fuzz-corpus   run each target once over its seed corpus (quick:
#                      what `make test` runs, through tests/fuzz/run_corpus.py)
#
# Tools: clang with libFuzzer (tests/fuzz/deps.sh installs them).

# Included anywhere in the Makefile: none of these targets becomes the default.
FUZZ_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
# A short list of fills (core/shadow.h): CR3 loads past it, by the ranges,
# within the inputs' length too.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -Iinclude -Wall -Wextra \
	-fno-omit-frame-pointer $(FUZZ_SAN) -MMD -MP -DSHADOW_FILLED_MAX=16
FUZZ_SECONDS ?= 60

FUZZ_TARGETS := decode emulate fastpath pagewalk_shadow segments multiboot elf_loaders
FUZZ_BINS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_TARGETS))

# The code under test, instrumented for coverage (and its own -Werror-free
# build: a new clang warning in core/ must not stop the fuzzers).
FUZZ_PURE_OBJS := $(patsubst %,$(B)/fuzz/obj/%.o,$(PURE_SRCS))
FUZZ_EMU_OBJS := $(patsubst %,$(B)/fuzz/obj/%.o,$(EMU_SRCS))

# What each target links besides its own file: the emulator runs on the
# simulated machine (tests/unit/support/fake_vmm.c, in EMU_SRCS); the fuzzer
# checks what the core hands to the arch by wrapping those hooks.
FUZZ_LINK_emulate := $(FUZZ_EMU_OBJS) \
	-Wl,--wrap=arch_guest_set_code,--wrap=arch_guest_set_stack \
	-Wl,--wrap=arch_port_in,--wrap=arch_port_out,--wrap=deliver_event
FUZZ_LINK_fastpath := $(FUZZ_EMU_OBJS)

# libFuzzer options per target (-max_len: the largest input worth trying).
FUZZ_OPTS_decode := -max_len=64
FUZZ_OPTS_emulate := -max_len=1024
FUZZ_OPTS_fastpath := -max_len=1024
FUZZ_OPTS_pagewalk_shadow := -max_len=2048
FUZZ_OPTS_segments := -max_len=256
FUZZ_OPTS_multiboot := -max_len=8192
FUZZ_OPTS_elf_loaders := -max_len=16384
FUZZ_RUN_OPTS = $(FUZZ_OPTS_$(1)) -timeout=20 -rss_limit_mb=2048 \
	-print_final_stats=1

$(B)/fuzz/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_input.h tests/fuzz/fuzz_guest.h $(FUZZ_PURE_OBJS)
	@mkdir -p $(dir $@)
	$(call say,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_PURE_OBJS) $(FUZZ_LINK_$*)
$(B)/fuzz/fuzz_emulate $(B)/fuzz/fuzz_fastpath: $(FUZZ_EMU_OBJS)

# clang first (order-only: a rebuild is never forced by it).
$(FUZZ_PURE_OBJS) $(FUZZ_EMU_OBJS) $(FUZZ_BINS): | fuzz-deps
fuzz-deps:
	@tests/fuzz/deps.sh

fuzz-bins: $(FUZZ_BINS)

# One target: a fresh copy of its seeds joins what earlier runs found in
# $(B)/fuzz/corpus/<target> (new inputs never go to the repository), then
# FUZZ_SECONDS of fuzzing; a crash is remembered, and the next target runs.
define fuzz_one
	mkdir -p $(B)/fuzz/corpus/$(1); \
	cp -R tests/fuzz/corpus/$(1)/. $(B)/fuzz/corpus/$(1)/; \
	echo "=== fuzz_$(1): $(FUZZ_SECONDS) s"; \
	$(B)/fuzz/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=$(B)/fuzz/$(1)- $(call FUZZ_RUN_OPTS,$(1)) \
		$(B)/fuzz/corpus/$(1) || failed="$$failed $(1)";
endef

# Every target in turn, on one core, all of them even after a crash.
fuzz: fuzz-bins
	@failed=""; \
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_one,$(t))) \
	if [ -n "$$failed" ]; then \
		echo "fuzz: crashed:$$failed (inputs: $(B)/fuzz/<target>-crash-*)"; \
		exit 1; \
	fi; \
	echo "fuzz: no crash in $(words $(FUZZ_TARGETS)) targets"

fuzz-corpus: fuzz-bins
	@python3 tests/fuzz/run_corpus.py

.PHONY: fuzz fuzz-bins fuzz-corpus fuzz-deps

.DEFAULT_GOAL := $(FUZZ_SAVED_DEFAULT_GOAL)
