/*
 * The VMM's main line, from the bootloader's hand-off to the point where it
 * would start a guest.  Read this first: each step is one call, in order.
 */
#include "core/arch.h"
#include "core/console.h"
#include "core/guest.h"
#include "core/options.h"
#include "core/memory.h"
#include "lib/format.h"
#include "lib/string.h"
#include "loader/elf.h"
#include "loader/multiboot.h"
#include "ringvisor/exit.h"

#define VERSION "0.1"

static struct boot_info boot_info;
static struct vmm_options options;

/* Bad input from the user or the bootloader: one clear line, then stop. */
static void __attribute__((noreturn)) refuse(const char *what)
{
	kprintf("ringvisor: error: %s\n", what);
	arch_exit(EXIT_BAD_INPUT);
}

static const char *mmap_type_name(uint32_t type)
{
	switch (type) {
	case 1: return "available";
	case 2: return "reserved";
	case 3: return "ACPI reclaimable";
	case 4: return "ACPI NVS";
	case 5: return "bad RAM";
	default: return "unknown type";
	}
}

static void print_memory_map(const struct boot_info *bi)
{
	kprintf("memory map (from the bootloader):\n");
	for (unsigned i = 0; i < bi->nmmap; i++) {
		const struct mem_range *r = &bi->mmap[i];
		kprintf("  0x%016llx-0x%016llx %s\n", (unsigned long long)r->base,
			(unsigned long long)(r->base + r->len - (r->len ? 1 : 0)),
			mmap_type_name(r->type));
	}
}

/* Name of a module: its string, whose first word is by convention a path. */
static void print_modules(const struct boot_info *bi)
{
	kprintf("modules: %u\n", bi->nmodules);
	for (unsigned i = 0; i < bi->nmodules; i++) {
		const struct boot_module *m = &bi->modules[i];
		kprintf("  %u: 0x%08x-0x%08x %9u bytes  %s\n", i, m->start, m->end,
			m->end - m->start, m->string);
	}
}

/*
 * The first module is the guest kernel.  It is checked now, before anything
 * else is done with it, so a wrong file is refused with a reason.
 */
static void check_guest_kernel(const struct boot_info *bi)
{
	char err[128], msg[224];
	struct elf_image elf;

	if (bi->nmodules == 0)
		refuse("no guest kernel: give it as the first Multiboot module");
	const struct boot_module *m = &bi->modules[0];
	if (elf_parse(m->data, m->end - m->start, &elf, err, sizeof(err))) {
		ksnprintf(msg, sizeof(msg), "module 0 (%s): %s", m->string, err);
		refuse(msg);
	}
	kprintf("     ELF32 i386, entry 0x%08x, %u loadable segments\n",
		elf.entry, elf.nsegments);
}

void vmm_main(uint32_t magic, uint32_t info_pa) __attribute__((noreturn));
void vmm_main(uint32_t magic, uint32_t info_pa)
{
	char err[256];

	arch_early_init();
	kprintf("ringvisor " VERSION ": a VMM on two protection rings "
		"(IA-32, rings 0 and 3)\n");

	if (multiboot_parse(magic, info_pa, arch_phys_map, NULL, &boot_info,
			    err, sizeof(err)))
		refuse(err);
	kprintf("command line: %s\n", boot_info.cmdline);
	if (options_parse(boot_info.cmdline, &options, err, sizeof(err)))
		refuse(err);

	arch_paging_init();
	print_memory_map(&boot_info);
	memory_init(&boot_info);
	print_modules(&boot_info);
	check_guest_kernel(&boot_info);

	if (options.test_panic != PANIC_TEST_NONE) {
		kprintf("test-panic: provoking a fault inside the VMM\n");
		arch_provoke_fault(options.test_panic);
		refuse("test-panic: the provoked fault did not happen");
	}

	guest_boot(&boot_info, &options, err, sizeof(err));
	refuse(err);
}
