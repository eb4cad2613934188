/*
 * The VMM's main line, from the bootloader's hand-off to the point where it
 * would start a guest.  Read this first: each step is one call, in order.
 */
#include "core/arch.h"
#include "core/console.h"
#include "core/options.h"
#include "core/palloc.h"
#include "lib/format.h"
#include "lib/string.h"
#include "loader/elf.h"
#include "loader/multiboot.h"
#include "ringvisor/exit.h"

#define VERSION "0.1"
#define MIB (1024 * 1024)
/* The first MiB holds the BIOS's data and ROMs; nothing there is ours. */
#define LOW_MEMORY_END 0x100000

static struct boot_info boot_info;
static struct vmm_options options;
static struct palloc frames;
/* One bit per 4 KiB frame of the 4 GiB physical address space: 128 KiB. */
static uint32_t frame_bitmap[PALLOC_WORDS(1u << 20)];

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

/*
 * Hand the usable RAM to the page allocator, then take back what is already
 * in use: low memory, the VMM image, and everything the bootloader left us
 * (its information structures and the modules).
 */
static void init_frames(const struct boot_info *bi)
{
	const struct mem_range *last = &bi->usable[bi->nusable - 1];
	uint64_t top = last->base + last->len;
	uint32_t nframes = (uint32_t)(top >> PAGE_SHIFT);

	palloc_init(&frames, frame_bitmap, nframes);
	for (unsigned i = 0; i < bi->nusable; i++)
		palloc_add_usable(&frames, bi->usable[i].base, bi->usable[i].len);
	palloc_reserve(&frames, 0, LOW_MEMORY_END);
	uint32_t image_start, image_end;
	arch_image_range(&image_start, &image_end);
	palloc_reserve(&frames, image_start, image_end - image_start);
	for (unsigned i = 0; i < bi->nreserved; i++)
		palloc_reserve(&frames, bi->reserved[i].base, bi->reserved[i].len);

	uint64_t usable = 0;
	for (unsigned i = 0; i < bi->nusable; i++)
		usable += bi->usable[i].len;
	kprintf("usable RAM: %llu MiB in %u ranges; %u pages free\n",
		(unsigned long long)(usable / MIB), bi->nusable, frames.nfree);
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
	char err[160];

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
	init_frames(&boot_info);
	print_modules(&boot_info);
	check_guest_kernel(&boot_info);

	if (options.test_panic != PANIC_TEST_NONE) {
		kprintf("test-panic: provoking a fault inside the VMM\n");
		arch_provoke_fault(options.test_panic);
		refuse("test-panic: the provoked fault did not happen");
	}

	kprintf("ringvisor: nothing more to do: running guests is not "
		"implemented yet; halting\n");
	arch_exit(EXIT_OK);
}
