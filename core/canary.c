#include "core/canary.h"

#define PAGE 4096u

uint32_t canary_checksum(const uint8_t *bytes, uint32_t len)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ bytes[i]) * 16777619u;
	return h;
}

/* Fill (or, check) a whole frame through the map callback. */
static int frame_pattern(const struct canary *c, uint32_t frame, int fill)
{
	for (uint32_t off = 0; off < PAGE; ) {
		uint32_t len;
		uint8_t *p = c->map(frame + off, &len);
		if (len > PAGE - off)
			len = PAGE - off;
		for (uint32_t i = 0; i < len; i++) {
			if (fill)
				p[i] = CANARY_PATTERN;
			else if (p[i] != CANARY_PATTERN)
				return -1;
		}
		off += len;
	}
	return 0;
}

void canary_init(struct canary *c, const uint8_t *image, uint32_t image_len,
		 uint32_t guard_below, uint32_t guard_above)
{
	c->image = image;
	c->image_len = image_len;
	c->image_sum = canary_checksum(image, image_len);
	c->guard[0] = guard_below;
	c->guard[1] = guard_above;
	for (unsigned i = 0; i < 2; i++)
		if (c->guard[i])
			frame_pattern(c, c->guard[i], 1);
}

const char *canary_check(const struct canary *c)
{
	if (canary_checksum(c->image, c->image_len) != c->image_sum)
		return "the VMM's code or read-only data changed";
	if (c->guard[0] && frame_pattern(c, c->guard[0], 0))
		return "the guard frame below guest RAM was written";
	if (c->guard[1] && frame_pattern(c, c->guard[1], 0))
		return "the guard frame above guest RAM was written";
	return 0;
}
