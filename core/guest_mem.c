#include "core/guest_mem.h"

#include "lib/string.h"

/*
 * Walk [gpa, gpa+len) one window at a time: a window ends where the arch's
 * mapping ends, so a copy may take several.
 */
enum copy_dir { TO_GUEST, FROM_GUEST, FILL };

static int copy(const struct guest_mem *gm, uint32_t gpa, uint8_t *buf,
		uint8_t value, uint32_t len, enum copy_dir dir)
{
	if (!gmem_contains(gm, gpa, len))
		return -1;
	while (len) {
		uint32_t reach;
		uint8_t *p = gm->map(gm->host_base + gpa, &reach);
		uint32_t n = reach < len ? reach : len;
		if (dir == TO_GUEST)
			memcpy(p, buf, n);
		else if (dir == FROM_GUEST)
			memcpy(buf, p, n);
		else
			memset(p, value, n);
		gpa += n;
		len -= n;
		if (buf)
			buf += n;
	}
	return 0;
}

int gmem_read(const struct guest_mem *gm, uint32_t gpa, void *buf, uint32_t len)
{
	return copy(gm, gpa, buf, 0, len, FROM_GUEST);
}

int gmem_write(const struct guest_mem *gm, uint32_t gpa, const void *buf,
	       uint32_t len)
{
	return copy(gm, gpa, (uint8_t *)(uintptr_t)buf, 0, len, TO_GUEST);
}

int gmem_fill(const struct guest_mem *gm, uint32_t gpa, uint8_t value,
	      uint32_t len)
{
	return copy(gm, gpa, NULL, value, len, FILL);
}

