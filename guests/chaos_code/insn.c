#include "guests/chaos_code/insn.h"

/* Immediate kinds. */
enum { I0, IB, IW, IZ, IA, IP, IE, G8, GZ };

#define M 0x10		/* a ModRM byte follows */

/* The one-byte map (SDM Vol. 2 Table A-2), 32-bit mode.  0xff: a prefix or
 * the 0F escape, handled apart. */
static const uint8_t one[256] = {
	/* 00 */ M, M, M, M, IB, IZ, I0, I0, M, M, M, M, IB, IZ, I0, 0xff,
	/* 10 */ M, M, M, M, IB, IZ, I0, I0, M, M, M, M, IB, IZ, I0, I0,
	/* 20 */ M, M, M, M, IB, IZ, 0xff, I0, M, M, M, M, IB, IZ, 0xff, I0,
	/* 30 */ M, M, M, M, IB, IZ, 0xff, I0, M, M, M, M, IB, IZ, 0xff, I0,
	/* 40 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* 50 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0,
	/* 60 */ I0, I0, M, M, 0xff, 0xff, 0xff, 0xff, IZ, M | IZ, IB, M | IB, I0, I0, I0, I0,
	/* 70 */ IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB,
	/* 80 */ M | IB, M | IZ, M | IB, M | IB, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 90 */ I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, IP, I0, I0, I0, I0, I0,
	/* a0 */ IA, IA, IA, IA, I0, I0, I0, I0, IB, IZ, I0, I0, I0, I0, I0, I0,
	/* b0 */ IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
	/* c0 */ M | IB, M | IB, IW, I0, M, M, M | IB, M | IZ, IE, I0, IW, I0, I0, IB, I0, I0,
	/* d0 */ M, M, M, M, IB, IB, I0, I0, M, M, M, M, M, M, M, M,
	/* e0 */ IB, IB, IB, IB, IB, IB, IB, IB, IZ, IZ, IP, IB, I0, I0, I0, I0,
	/* f0 */ 0xff, I0, 0xff, 0xff, I0, I0, M | G8, M | GZ, I0, I0, I0, I0, I0, I0, M, M,
};

/* Two-byte opcodes without a ModRM byte. */
static bool no_modrm_0f(uint8_t op)
{
	switch (op) {
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
	case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
	case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
		return true;
	}
	return (op >= 0x80 && op <= 0x8f) || (op >= 0xc8 && op <= 0xcf);
}

/* Two-byte opcodes this decoder does not trust itself on (or that do not
 * exist): the filter refuses them.  They #UD on this CPU model anyway. */
static bool unsure_0f(uint8_t op)
{
	switch (op) {
	case 0x04: case 0x0a: case 0x0c: case 0x0f: case 0x24: case 0x25: case 0x26:
	case 0x27: case 0x36: case 0x39: case 0x3b: case 0x3c: case 0x3d: case 0x3e:
	case 0x3f: case 0x78: case 0x79: case 0x7a: case 0x7b: case 0xa6: case 0xa7:
		return true;
	}
	return false;
}

static unsigned imm_0f(uint8_t op)
{
	switch (op) {
	case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba:
	case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		return IB;
	}
	if (op >= 0x80 && op <= 0x8f)
		return IZ;
	return I0;
}

static uint32_t le(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

bool insn_decode(const uint8_t *p, unsigned avail, struct dinsn *d)
{
	unsigned i = 0;
	*d = (struct dinsn){ 0 };
	if (avail > 15)
		avail = 15;

	/* Prefixes. */
	for (;; i++) {
		if (i >= avail)
			return false;
		uint8_t b = p[i];
		if (b == 0x66) {
			d->opsize16 = true;
			d->prefix_66_seen = true;
		} else if (b == 0x67) {
			d->addrsize16 = true;
		} else if (b == 0xf2 || b == 0xf3) {
			d->rep = true;
		} else if (b == 0xf0) {
			d->lock = true;
		} else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 ||
			   b == 0x65) {
			/* segment override */
		} else {
			break;
		}
	}

	/* Opcode. */
	unsigned kind;
	d->op = p[i++];
	if (d->op == 0x0f) {
		if (i >= avail)
			return false;
		d->op = p[i++];
		if (d->op == 0x38 || d->op == 0x3a) {
			d->map = d->op == 0x38 ? MAP0F38 : MAP0F3A;
			if (i >= avail)
				return false;
			d->op = p[i++];
			kind = M | (d->map == MAP0F3A ? IB : I0);
		} else {
			d->map = MAP0F;
			d->unsure = unsure_0f(d->op);
			kind = (no_modrm_0f(d->op) ? 0 : M) | imm_0f(d->op);
		}
	} else {
		d->map = MAP1;
		kind = one[d->op];
	}

	/* ModRM, SIB, displacement. */
	if (kind & M) {
		if (i >= avail)
			return false;
		d->modrm_at = i;
		uint8_t m = p[i++];
		d->modrm = true;
		d->mod = m >> 6;
		d->reg = (m >> 3) & 7;
		d->rm = m & 7;
		bool creg = d->map == MAP0F && d->op >= 0x20 && d->op <= 0x23;
		if (creg)
			d->mod = 3;	/* mov to/from CRn/DRn: always registers */
		unsigned disp = 0;
		if (d->mod != 3) {
			if (d->addrsize16) {
				if (d->mod == 1)
					disp = 1;
				else if (d->mod == 2 || d->rm == 6)
					disp = 2;
			} else {
				if (d->rm == 4) {
					if (i >= avail)
						return false;
					uint8_t sib = p[i++];
					if (d->mod == 0 && (sib & 7) == 5)
						disp = 4;
				}
				if (d->mod == 1)
					disp = 1;
				else if (d->mod == 2 || (d->mod == 0 && d->rm == 5))
					disp = 4;
			}
		}
		d->disp_at = i;
		d->disp_len = disp;
		i += disp;
	}

	/* Immediate. */
	unsigned imm = kind & 0x0f, n = 0, n2 = 0;
	unsigned z = d->opsize16 ? 2 : 4;
	switch (imm) {
	case IB: n = 1; break;
	case IW: n = 2; break;
	case IZ: n = z; break;
	case IA: n = d->addrsize16 ? 2 : 4; break;
	case IP: n = z; n2 = 2; break;
	case IE: n = 2; n2 = 1; break;
	case G8: n = d->reg < 2 ? 1 : 0; break;
	case GZ: n = d->reg < 2 ? z : 0; break;
	}
	if (i + n + n2 > avail)
		return false;
	d->imm = le(p + i, n);
	d->imm_len = n;
	if (imm == IP)
		d->imm2 = (uint16_t)le(p + i + n, 2);
	else if (imm == IE)
		d->imm2 = p[i + n];
	i += n + n2;
	d->len = i;
	return true;
}
