#include "loader/elfload.h"

#include "lib/format.h"

int elfload_check(const struct guest_mem *gm, const struct elf_image *elf,
		  char *err, unsigned errlen)
{
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		if (!gmem_contains(gm, s->paddr, s->memsz)) {
			ksnprintf(err, errlen, "ELF segment %u (0x%08x-0x%08x) is "
				  "outside guest RAM (%u MiB)", i, s->paddr,
				  s->paddr + s->memsz, gm->size >> 20);
			return -1;
		}
	}
	return 0;
}

void elfload_copy(const struct guest_mem *gm, const void *image,
		  const struct elf_image *elf)
{
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		gmem_write(gm, s->paddr, (const uint8_t *)image + s->offset, s->filesz);
		gmem_fill(gm, s->paddr + s->filesz, 0, s->memsz - s->filesz);
	}
}

uint32_t elfload_physical_entry(const struct elf_image *elf)
{
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		if (elf->entry - s->paddr < s->memsz)
			return elf->entry;
	}
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		if (elf->entry - s->vaddr < s->memsz)
			return elf->entry - s->vaddr + s->paddr;
	}
	return elf->entry;	/* elf_parse guarantees one of the above */
}

uint32_t elfload_physical_end(const struct elf_image *elf)
{
	uint32_t end = 0;
	for (unsigned i = 0; i < elf->nsegments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		if (s->paddr + s->memsz > end)
			end = s->paddr + s->memsz;
	}
	return end;
}
