#include "guests/chaos_code/filter.h"

const char *const reason_names[R_COUNT] = {
	[R_OK] = "ok", [R_UNSURE] = "unsure length", [R_HLT] = "hlt",
	[R_OUT] = "out", [R_TRANSFER] = "ret/iret/far/indirect/leave",
	[R_ESP] = "writes esp", [R_STACK] = "stack budget",
	[R_BRANCH] = "branch back/out/16-bit", [R_TABLES] = "lgdt/lidt",
	[R_CR] = "mov cr0/cr3/cr4", [R_DR7] = "mov dr7", [R_WRMSR] = "wrmsr",
	[R_HYPERCALL] = "int 0x1f", [R_U_16BIT] = "user 16-bit iret/far",
	[R_U_SYSDESC] = "user far to system slot", [R_U_FARMEM] = "user far via memory",
	[R_U_IRET] = "user iret",
};

bool insn_rel_branch(const struct dinsn *d, int32_t *rel)
{
	if (d->map == MAP1 && ((d->op >= 0x70 && d->op <= 0x7f) ||
			       (d->op >= 0xe0 && d->op <= 0xe3) || d->op == 0xeb)) {
		*rel = (int8_t)d->imm;
		return true;
	}
	if ((d->map == MAP1 && (d->op == 0xe8 || d->op == 0xe9)) ||
	    (d->map == MAP0F && d->op >= 0x80 && d->op <= 0x8f)) {
		*rel = d->opsize16 ? (int16_t)d->imm : (int32_t)d->imm;
		return true;
	}
	return false;
}

/* ModRM ops whose reg field is not a general register it writes: an
 * opcode extension, a segment, control or debug register, or a source. */
static bool reg_field_safe(const struct dinsn *d)
{
	if (d->map == MAP1) {
		switch (d->op) {
		case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11:
		case 0x18: case 0x19: case 0x20: case 0x21: case 0x28: case 0x29:
		case 0x30: case 0x31: case 0x38: case 0x39: case 0x3a: case 0x3b:
		case 0x62: case 0x63: case 0x80: case 0x81: case 0x82: case 0x83:
		case 0x84: case 0x85: case 0x88: case 0x89: case 0x8c: case 0x8e:
		case 0x8f: case 0xc0: case 0xc1: case 0xc6: case 0xc7:
		case 0xd0: case 0xd1: case 0xd2: case 0xd3: case 0xd8: case 0xd9:
		case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
		case 0xf6: case 0xf7: case 0xfe: case 0xff:
			return true;
		}
		return false;
	}
	if (d->map == MAP0F) {
		switch (d->op) {
		case 0x00: case 0x01: case 0x0d: case 0x20: case 0x21: case 0x22: case 0x23:
		case 0x71: case 0x72: case 0x73: case 0xa3: case 0xa4: case 0xa5: case 0xab:
		case 0xac: case 0xad: case 0xae: case 0xb0: case 0xb1: case 0xb3: case 0xba:
		case 0xbb: case 0xc7:
			return true;
		}
		return d->op >= 0x18 && d->op <= 0x1f;
	}
	return false;
}

/* ModRM ops that only read their r/m operand when it is a register. */
static bool rm_read_only(const struct dinsn *d)
{
	if (d->map != MAP1)
		return false;
	switch (d->op) {
	case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x84: case 0x85: case 0x8e:
		return true;
	case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde:
	case 0xdf:
		return true;			/* x87: the register is ST(i) */
	case 0x80: case 0x81: case 0x82: case 0x83:
		return d->reg == 7;			/* cmp */
	case 0xf6: case 0xf7:
		return d->reg != 2 && d->reg != 3;	/* test, mul, div: not not/neg */
	case 0xff:
		return d->reg == 6;			/* push */
	}
	return false;
}

enum reason filter_kernel(const struct dinsn *d, unsigned *push)
{
	if (d->unsure)
		return R_UNSURE;
	if (d->map == MAP1) {
		switch (d->op) {
		case 0xf4:
			return R_HLT;
		case 0xe6: case 0xe7:
			return d->imm == 0x80 ? R_OK : R_OUT;	/* the POST port */
		case 0xee: case 0xef: case 0x6e: case 0x6f:
			return R_OUT;
		case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcf: case 0xea: case 0x9a:
		case 0xc9:
			return R_TRANSFER;
		case 0xff:
			if (d->reg >= 2 && d->reg <= 5)
				return R_TRANSFER;
			break;
		case 0x44: case 0x4c: case 0x5c: case 0x94: case 0xbc:
			return R_ESP;
		case 0xcd:
			if (d->imm == 0x1f)
				return R_HYPERCALL;
			break;
		}
	} else if (d->map == MAP0F) {
		switch (d->op) {
		case 0x01:
			if (d->mod != 3 && (d->reg == 2 || d->reg == 3))
				return R_TABLES;
			break;
		case 0x22:
			if (d->reg == 0 || d->reg == 3 || d->reg == 4)
				return R_CR;
			break;
		case 0x23:
			if (d->reg == 5 || d->reg == 7)
				return R_DR7;
			break;
		case 0x30:
			return R_WRMSR;
		case 0xcc:
			return R_ESP;		/* bswap esp */
		}
	}
	if (d->modrm) {
		if (d->mod == 3 && d->rm == 4 && !rm_read_only(d))
			return R_ESP;
		if (d->reg == 4 && !reg_field_safe(d))
			return R_ESP;
	}

	int32_t rel;
	if (insn_rel_branch(d, &rel) && d->opsize16)
		return R_BRANCH;	/* would cut EIP to 16 bits */

	/* The most it may push. */
	unsigned p = 0;
	if (d->map == MAP1) {
		switch (d->op) {
		case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x68: case 0x6a: case 0x9c:
		case 0xe8:
			p = 4;
			break;
		case 0x60:
			p = 32;
			break;
		case 0xc8:
			p = (d->imm & 0xffff) + 4 + 4 * (d->imm2 & 31);
			break;
		case 0xff:
			p = d->reg == 6 ? 4 : 0;
			break;
		default:
			p = d->op >= 0x50 && d->op <= 0x57 ? 4 : 0;
		}
	} else if (d->map == MAP0F && (d->op == 0xa0 || d->op == 0xa8)) {
		p = 4;
	}
	*push += p;
	return R_OK;
}

enum reason filter_user(const struct dinsn *d, bool (*system_slot)(uint16_t sel))
{
	if (d->map != MAP1)
		return R_OK;
	bool far = d->op == 0xcf || d->op == 0xca || d->op == 0xcb || d->op == 0xea ||
		   d->op == 0x9a || (d->op == 0xff && (d->reg == 3 || d->reg == 5));
	if (far && d->opsize16)
		return R_U_16BIT;
	/* QEMU's TCG honours EFLAGS.VM in an iret frame even at CPL 3, and
	 * the VMM panics on the first trap from virtual-8086 mode
	 * (chaos_repro v86-iret-user): the popped EFLAGS is whatever is on
	 * the stack, so no user iret at all. */
	if (d->op == 0xcf)
		return R_U_IRET;
	if (d->op == 0xff && (d->reg == 3 || d->reg == 5))
		return R_U_FARMEM;
	if ((d->op == 0xea || d->op == 0x9a) && system_slot(d->imm2))
		return R_U_SYSDESC;
	return R_OK;
}
