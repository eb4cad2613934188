/*
 * Checking an ELF32 executable before we trust anything in it (the System V
 * ABI, i386 supplement).  Guest kernels arrive as boot modules; this is the
 * gate every one of them passes.
 */
#ifndef LOADER_ELF_H
#define LOADER_ELF_H

#include <stdint.h>

#define ELF_MAX_SEGMENTS 16

struct elf_segment {
	uint32_t offset;	/* in the file */
	uint32_t vaddr, paddr;
	uint32_t filesz, memsz;
	uint32_t flags;		/* PF_X 1, PF_W 2, PF_R 4 */
};

struct elf_image {
	uint32_t entry;
	unsigned nsegments;	/* PT_LOAD segments only */
	struct elf_segment segments[ELF_MAX_SEGMENTS];
};

/*
 * Check that data[0..size) is an i386 ELF32 executable whose loadable
 * segments lie inside the file and do not wrap around 4 GiB, and whose entry
 * point is inside one of them (by virtual or physical address).  Returns 0,
 * or -1 with a one-line reason in err.
 */
int elf_parse(const void *data, uint32_t size, struct elf_image *out,
	      char *err, unsigned errlen);

#endif
