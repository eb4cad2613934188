/*
 * The physical page allocator: one bit per 4 KiB frame, set when the frame is
 * in use.  Every frame starts in use; the boot code frees the usable RAM the
 * bootloader reported and then reserves again what is already taken (the VMM
 * image, boot modules, the bootloader's own data).
 *
 * Pure C over an explicit struct: the unit tests run it on the host.
 */
#ifndef CORE_PALLOC_H
#define CORE_PALLOC_H

#include <stdint.h>

#define PAGE_SIZE   4096u
#define PAGE_SHIFT  12

struct palloc {
	uint32_t *bitmap;	/* bit n set: frame n is in use */
	uint32_t nframes;	/* frames the bitmap covers */
	uint32_t nfree;		/* frames currently free */
	uint32_t next;		/* first frame the next search looks at */
};

/* Bitmap words needed for nframes frames. */
#define PALLOC_WORDS(nframes) (((nframes) + 31) / 32)

/* Start with every frame in use.  bitmap holds PALLOC_WORDS(nframes) words. */
void palloc_init(struct palloc *pa, uint32_t *bitmap, uint32_t nframes);

/* Free the frames lying wholly inside [base, base+len). */
void palloc_add_usable(struct palloc *pa, uint64_t base, uint64_t len);

/* Mark in use every frame that [base, base+len) touches, even partly. */
void palloc_reserve(struct palloc *pa, uint64_t base, uint64_t len);

/*
 * Take a free frame below frame number limit (0 means no limit).
 * Returns 0 and sets *frame, or -1 when none is left.
 */
int palloc_alloc(struct palloc *pa, uint32_t limit, uint32_t *frame);

/*
 * Take count contiguous free frames starting at a multiple of align frames
 * (align a power of two), as high in memory as they fit.  Returns 0 and
 * sets *first, or -1.  Used once per guest for its RAM, so a plain scan is
 * fast enough.
 */
int palloc_alloc_contig(struct palloc *pa, uint32_t count, uint32_t align,
			uint32_t *first);

/* Give a frame back.  Returns -1 (and changes nothing) if it was not in use
 * or lies outside the bitmap: a double free is a bug the caller reports. */
int palloc_free(struct palloc *pa, uint32_t frame);

int palloc_in_use(const struct palloc *pa, uint32_t frame);

#endif
