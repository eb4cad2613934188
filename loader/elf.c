#include "loader/elf.h"

#include "lib/format.h"
#include "lib/string.h"

/* The parts of the ELF32 file and program headers we read (gABI, ch. 4, 5). */
struct elf32_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} __attribute__((packed));

struct elf32_phdr {
	uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
} __attribute__((packed));

#define ET_EXEC     2
#define EM_386      3
#define PT_LOAD     1
#define ELFCLASS32  1
#define ELFDATA2LSB 1

#define fail(...) (ksnprintf(err, errlen, __VA_ARGS__), -1)

static int in_range(uint32_t addr, uint32_t base, uint32_t size)
{
	return addr >= base && addr - base < size;
}

int elf_parse(const void *data, uint32_t size, struct elf_image *out,
	      char *err, unsigned errlen)
{
	struct elf32_ehdr eh;

	memset(out, 0, sizeof(*out));
	if (size < 4 || memcmp(data, "\177ELF", 4) != 0)
		return fail("not an ELF file (bad magic)");
	if (size < sizeof(eh))
		return fail("ELF header truncated (%u bytes)", size);
	memcpy(&eh, data, sizeof(eh));
	if (eh.ident[4] != ELFCLASS32)
		return fail("not a 32-bit ELF file (class %u)", eh.ident[4]);
	if (eh.ident[5] != ELFDATA2LSB)
		return fail("not a little-endian ELF file");
	if (eh.machine != EM_386)
		return fail("ELF machine is %u, not i386 (3)", eh.machine);
	if (eh.type != ET_EXEC)
		return fail("ELF type is %u, not an executable (2)", eh.type);
	if (eh.phentsize != sizeof(struct elf32_phdr))
		return fail("ELF program header size is %u, not %zu", eh.phentsize,
			    sizeof(struct elf32_phdr));
	/* 64-bit arithmetic: phoff + phnum * 32 must not wrap. */
	if ((uint64_t)eh.phoff + (uint64_t)eh.phnum * eh.phentsize > size)
		return fail("ELF program headers lie outside the file");

	out->entry = eh.entry;
	int entry_found = 0;
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct elf32_phdr ph;
		memcpy(&ph, (const uint8_t *)data + eh.phoff + i * sizeof(ph),
		       sizeof(ph));
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (ph.filesz > ph.memsz)
			return fail("ELF segment %u: file size 0x%x exceeds memory size "
				    "0x%x", i, ph.filesz, ph.memsz);
		if ((uint64_t)ph.offset + ph.filesz > size)
			return fail("ELF segment %u lies outside the file", i);
		if ((uint64_t)ph.vaddr + ph.memsz > 0x100000000ull ||
		    (uint64_t)ph.paddr + ph.memsz > 0x100000000ull)
			return fail("ELF segment %u wraps around 4 GiB", i);
		if (out->nsegments == ELF_MAX_SEGMENTS)
			return fail("more than %d loadable ELF segments",
				    ELF_MAX_SEGMENTS);
		out->segments[out->nsegments++] = (struct elf_segment){
			ph.offset, ph.vaddr, ph.paddr, ph.filesz, ph.memsz, ph.flags };
		if (in_range(eh.entry, ph.vaddr, ph.memsz) ||
		    in_range(eh.entry, ph.paddr, ph.memsz))
			entry_found = 1;
	}
	if (out->nsegments == 0)
		return fail("ELF file has no loadable segments");
	if (!entry_found)
		return fail("ELF entry point 0x%08x is outside every loadable segment",
			    eh.entry);
	return 0;
}
