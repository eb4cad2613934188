#include "core/vmem.h"

int vmem_read(const struct vcpu *v, uint32_t linear, void *buf, uint32_t len)
{
	return gmem_read(&v->mem, linear, buf, len);
}

int vmem_write(const struct vcpu *v, uint32_t linear, const void *buf,
	       uint32_t len)
{
	return gmem_write(&v->mem, linear, buf, len);
}

int vmem_descriptor(const struct vcpu *v, uint16_t sel, uint64_t *raw)
{
	uint32_t offset = sel & ~7u;
	if (sel & 4) {
		if (v->ldtr == 0 || offset + 7 > v->ldt.limit)
			return -1;
		return vmem_read(v, v->ldt.base + offset, raw, 8);
	}
	if (offset == 0 || offset + 7 > v->gdtr.limit)
		return -1;
	return vmem_read(v, v->gdtr.base + offset, raw, 8);
}
