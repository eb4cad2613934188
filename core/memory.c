#include "core/memory.h"

#include "core/arch.h"
#include "core/console.h"
#include "core/palloc.h"
#include "lib/string.h"

#define MIB (1024 * 1024)
/* The first MiB holds the BIOS's data and ROMs; nothing there is ours. */
#define LOW_MEMORY_END 0x100000
#define FRAMES_PER_4MIB 1024

static struct palloc frames;
/* One bit per 4 KiB frame of the 4 GiB physical address space: 128 KiB. */
static uint32_t frame_bitmap[PALLOC_WORDS(1u << 20)];

/*
 * Hand the usable RAM to the page allocator, then take back what is already
 * in use: low memory, the VMM image, and everything the bootloader left us
 * (its information structures and the modules).
 */
void memory_init(const struct boot_info *bi)
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

uint32_t memory_alloc_table(void)
{
	uint32_t frame;
	if (palloc_alloc(&frames, arch_direct_map_limit() >> PAGE_SHIFT, &frame))
		return 0;
	uint32_t pa = frame << PAGE_SHIFT;
	memset((void *)arch_phys_map(NULL, pa, PAGE_SIZE), 0, PAGE_SIZE);
	return pa;
}

void memory_free_table(uint32_t pa)
{
	/* A double free is a VMM bug; the allocator refuses it, and the
	 * frame simply stays in use. */
	palloc_free(&frames, pa >> PAGE_SHIFT);
}

uint32_t memory_alloc_guest_ram(uint32_t bytes)
{
	uint32_t first;
	uint32_t count = (bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (palloc_alloc_contig(&frames, count, FRAMES_PER_4MIB, &first))
		return 0;
	return first << PAGE_SHIFT;
}

int memory_claim_frame(uint32_t pa)
{
	uint32_t frame = pa >> PAGE_SHIFT;
	if (frame >= frames.nframes || palloc_in_use(&frames, frame))
		return -1;
	palloc_reserve(&frames, pa & ~(PAGE_SIZE - 1), PAGE_SIZE);
	return 0;
}
