# Test guests: Multiboot v1 ELF kernels that boot on bare QEMU and under the
# VMM.  Included from the top-level Makefile, which defines B, Q, say,
# GUEST_CFLAGS and GUEST_LDFLAGS.  See guests/README.md.
#
# A test guest NAME is every .c and .S file in guests/NAME/, linked with the
# library in guests/lib/ (plus lib/format.c and lib/string.c) into
# $(B)/guests/NAME.elf.  To add one, create the directory and add NAME to
# TEST_GUESTS.

TEST_GUESTS := exceptions privileged interrupts usermode sysenter segments \
	hypercalls vmm_memory pagefault ring_matrix twoproc paging protection \
	addrspace pastram chaos_code chaos_tables chaos_hypercalls chaos_vectors \
	chaos_repro userfault
GUESTS := hello earlyirq $(TEST_GUESTS)

GUEST_LIB_SRCS := guests/lib/start.S guests/lib/entry.S guests/lib/usermode.S \
	guests/lib/setup.c guests/lib/console.c guests/lib/report.c \
	guests/lib/desc.c guests/lib/pic.c guests/lib/usermode.c guests/lib/paging.c \
	lib/format.c lib/string.c
GUEST_LD_SCRIPT := guests/lib/guest.ld

guest_obj = $(patsubst %,$(B)/guests/obj/%.o,$(1))
guest_srcs = $(sort $(wildcard guests/$(1)/*.c guests/$(1)/*.S))

guests: $(patsubst %,$(B)/guests/%.elf,$(GUESTS))

# Objects are named after their whole source path, so lib/format.c and
# guests/lib/*.c share one rule: $(B)/guests/obj/lib/format.c.o.
$(B)/guests/obj/%.o: %
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

define test_guest_rule
$(B)/guests/$(1).elf: $(call guest_obj,$(call guest_srcs,$(1)) $(GUEST_LIB_SRCS)) $(GUEST_LD_SCRIPT)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(GUEST_LDFLAGS) -Wl,-T,$(GUEST_LD_SCRIPT) -o $$@ $$(filter %.o,$$^) -lgcc
endef
$(foreach g,$(TEST_GUESTS),$(eval $(call test_guest_rule,$(g))))

# earlyirq must not run the library's setup (it programs the PICs).
$(B)/guests/earlyirq.elf: $(call guest_obj,guests/earlyirq/earlyirq.c guests/earlyirq/start.S) guests/hello/link.ld
	$(call say,LD,$@)
	$(Q)$(CC) $(GUEST_LDFLAGS) -Wl,-T,guests/hello/link.ld -o $@ $(filter %.o,$^)

# hello predates the library and keeps its own start.S and linker script.
$(B)/guests/hello.elf: $(call guest_obj,guests/hello/hello.c guests/hello/start.S) guests/hello/link.ld
	$(call say,LD,$@)
	$(Q)$(CC) $(GUEST_LDFLAGS) -Wl,-T,guests/hello/link.ld -o $@ $(filter %.o,$^)

.PHONY: guests
