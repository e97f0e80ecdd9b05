/*
 * x86-64 instruction lengths and operands (Intel SDM vol. 2, appendix A:
 * the opcode maps). Only 64-bit mode. Tables say, per opcode, whether a
 * ModRM byte follows and what immediate does.
 */
#include <string.h>

#include "dwarf/x86.h"

/* Immediate kinds. */
enum {
	I_NONE = 0,
	I_B = 1,     /* 8 bits */
	I_W = 2,     /* 16 bits */
	I_Z = 3,     /* 16 with 66, else 32 */
	I_V = 4,     /* 16/32/64: mov r, imm (B8+r) */
	I_WB = 5,    /* 16 + 8 (enter) */
	I_REL8 = 6,  /* rel8 branch */
	I_REL32 = 7, /* rel32 branch */
	I_MOFFS = 8, /* 64-bit address (A0-A3) */
	I_GRP3B = 9, /* F6: imm8 when reg is 0 or 1 */
	I_GRP3Z = 10 /* F7: immz when reg is 0 or 1 */
};

#define M   0x80 /* has ModRM */
#define BAD 0x40 /* invalid in 64-bit mode, or a prefix handled elsewhere */

/* The one-byte map: M | immediate kind, or BAD. */
static const uint8_t one[256] = {
    /* 00 */ M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    /* 10 */ M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    /* 20 */ M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    /* 30 */ M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    M,
    M,
    M,
    M,
    I_B,
    I_Z,
    BAD,
    BAD,
    /* 40 */ BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    BAD,
    /* 50 */ 0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    /* 60 */ BAD,
    BAD,
    BAD,
    M,
    BAD,
    BAD,
    BAD,
    BAD,
    I_Z,
    M | I_Z,
    I_B,
    M | I_B,
    0,
    0,
    0,
    0,
    /* 70 */ I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    /* 80 */ M | I_B,
    M | I_Z,
    BAD,
    M | I_B,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    /* 90 */ 0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    BAD,
    0,
    0,
    0,
    0,
    0,
    /* A0 */ I_MOFFS,
    I_MOFFS,
    I_MOFFS,
    I_MOFFS,
    0,
    0,
    0,
    0,
    I_B,
    I_Z,
    0,
    0,
    0,
    0,
    0,
    0,
    /* B0 */ I_B,
    I_B,
    I_B,
    I_B,
    I_B,
    I_B,
    I_B,
    I_B,
    I_V,
    I_V,
    I_V,
    I_V,
    I_V,
    I_V,
    I_V,
    I_V,
    /* C0 */ M | I_B,
    M | I_B,
    I_W,
    0,
    BAD,
    BAD,
    M | I_B,
    M | I_Z,
    I_WB,
    0,
    I_W,
    0,
    0,
    I_B,
    BAD,
    0,
    /* D0 */ M,
    M,
    M,
    M,
    BAD,
    BAD,
    BAD,
    0,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    M,
    /* E0 */ I_REL8,
    I_REL8,
    I_REL8,
    I_REL8,
    I_B,
    I_B,
    I_B,
    I_B,
    I_REL32,
    I_REL32,
    BAD,
    I_REL8,
    0,
    0,
    0,
    0,
    /* F0 */ BAD,
    0,
    BAD,
    BAD,
    0,
    0,
    M | I_GRP3B,
    M | I_GRP3Z,
    0,
    0,
    0,
    0,
    0,
    0,
    M,
    M};

/* The 0F map. */
static uint8_t two_byte(uint8_t op)
{
	if (op >= 0x80 && op <= 0x8f)
		return I_REL32; /* jcc rel32 */
	switch (op) {
	case 0x05: /* syscall */
	case 0x06:
	case 0x07:
	case 0x08:
	case 0x09:
	case 0x0b: /* ud2 */
	case 0x0e:
	case 0x30: /* wrmsr, rdtsc, rdmsr, rdpmc, sysenter, sysexit */
	case 0x31:
	case 0x32:
	case 0x33:
	case 0x34:
	case 0x35:
	case 0x37:
	case 0x77: /* emms */
	case 0xa0: /* push, pop fs/gs; cpuid; rsm */
	case 0xa1:
	case 0xa2:
	case 0xa8:
	case 0xa9:
	case 0xaa:
		return 0;
	case 0x0f: /* 3DNow!: an imm8 selects the operation */
	case 0x70:
	case 0x71:
	case 0x72:
	case 0x73:
	case 0xa4:
	case 0xac:
	case 0xba:
	case 0xc2:
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return M | I_B;
	case 0x04:
	case 0x0a:
	case 0x0c:
	case 0x24:
	case 0x25:
	case 0x26:
	case 0x27:
	case 0x36:
	case 0x39:
	case 0x3b:
	case 0x3c:
	case 0x3d:
	case 0x3e:
	case 0x3f:
	case 0x7a:
	case 0x7b:
	case 0xa6:
	case 0xa7:
		return BAD;
	default:
		break;
	}
	if (op >= 0xc8 && op <= 0xcf)
		return 0; /* bswap */
	return M;
}

/* Immediate of an opcode in a VEX/EVEX map. */
static uint8_t vex_imm(uint8_t map, uint8_t op)
{
	if (map == 3)
		return I_B;
	if (map == 1 &&
	    ((op >= 0x70 && op <= 0x73) || op == 0xc2 || op == 0xc4 || op == 0xc5 || op == 0xc6))
		return I_B;
	return I_NONE;
}

static int64_t read_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ULL << (8 * n); /* sign-extend */
	return (int64_t)v;
}

/* Decodes ModRM, SIB and displacement at *i. */
static bool decode_modrm(const uint8_t *p, size_t n, size_t *i, uint8_t rex, struct gm_x86_insn *in)
{
	if (*i >= n)
		return false;
	uint8_t m = p[(*i)++];
	in->modrm = true;
	in->mod = m >> 6;
	in->reg = (uint8_t)(((m >> 3) & 7) | (rex & 4 ? 8 : 0));
	uint8_t rm = m & 7;
	in->rm = (uint8_t)(rm | (rex & 1 ? 8 : 0));
	in->base = in->index = GM_X86_NO_REG;
	if (in->mod == 3)
		return true;
	in->mem = true;
	unsigned disp = in->mod == 1 ? 1 : in->mod == 2 ? 4 : 0;
	if (rm == 4) {
		if (*i >= n)
			return false;
		uint8_t sib = p[(*i)++];
		uint8_t base = sib & 7, index = (uint8_t)((sib >> 3) & 7);
		if ((index | (rex & 2 ? 8 : 0)) != 4)
			in->index = (uint8_t)(index | (rex & 2 ? 8 : 0));
		if (base == 5 && in->mod == 0)
			disp = 4;
		else
			in->base = (uint8_t)(base | (rex & 1 ? 8 : 0));
	} else if (rm == 5 && in->mod == 0) {
		in->rip = true;
		disp = 4;
	} else {
		in->base = in->rm;
	}
	if (disp > n - *i)
		return false;
	in->disp = read_le(p + *i, disp);
	*i += disp;
	return true;
}

static bool decode_imm(const uint8_t *p, size_t n, size_t *i, uint8_t kind, bool opsize, bool rex_w,
		       uint8_t reg, struct gm_x86_insn *in)
{
	unsigned size = 0;
	switch (kind) {
	case I_NONE:
		return true;
	case I_B:
		size = 1;
		break;
	case I_W:
		size = 2;
		break;
	case I_Z:
		size = opsize && !rex_w ? 2 : 4;
		break;
	case I_V:
		size = rex_w ? 8 : opsize ? 2 : 4;
		break;
	case I_WB:
		size = 3;
		break;
	case I_MOFFS:
		size = 8;
		break;
	case I_GRP3B:
		size = reg % 8 < 2 ? 1 : 0;
		break;
	case I_GRP3Z:
		size = reg % 8 < 2 ? (opsize && !rex_w ? 2 : 4) : 0;
		break;
	case I_REL8:
	case I_REL32:
		size = kind == I_REL8 ? 1 : 4;
		if (size > n - *i)
			return false;
		in->rel = true;
		in->rel_off = read_le(p + *i, size);
		*i += size;
		return true;
	default:
		return false;
	}
	if (size > n - *i)
		return false;
	in->imm_size = (uint8_t)size;
	in->imm = size == 3 ? (int64_t)read_le(p + *i, 2) : read_le(p + *i, size);
	*i += size;
	return true;
}

/* VEX (C4, C5) and EVEX (62): the map comes from the prefix, ModRM always follows. */
static bool decode_vex(const uint8_t *p, size_t n, size_t *i, struct gm_x86_insn *in)
{
	uint8_t lead = p[*i], rex = 0, map = 1;
	size_t plen = lead == 0xc5 ? 2 : lead == 0xc4 ? 3 : 4;
	if (plen > n - *i)
		return false;
	const uint8_t *v = p + *i + 1;
	if (lead == 0xc5) {
		rex = v[0] & 0x80 ? 0 : 4;
	} else {
		rex = (uint8_t)((v[0] & 0x80 ? 0 : 4) | (v[0] & 0x40 ? 0 : 2) |
				(v[0] & 0x20 ? 0 : 1));
		map = v[0] & (lead == 0xc4 ? 0x1f : 0x03);
		in->rex_w = v[1] & 0x80;
	}
	if (map < 1 || map > 3)
		return false;
	*i += plen;
	if (*i >= n)
		return false;
	in->vex = true;
	in->map = map;
	in->op = p[(*i)++];
	/* vzeroupper and vzeroall (VEX 0F 77) have no ModRM. */
	if (!(map == 1 && in->op == 0x77) && !decode_modrm(p, n, i, rex, in))
		return false;
	return decode_imm(p, n, i, vex_imm(map, in->op), false, in->rex_w, in->reg, in);
}

bool gm_x86_decode(const uint8_t *p, size_t n, struct gm_x86_insn *ret)
{
	struct gm_x86_insn in;
	memset(&in, 0, sizeof(in));
	in.base = in.index = GM_X86_NO_REG;
	size_t i = 0;
	uint8_t rex = 0;
	bool rep = false;
	/* Legacy prefixes (at most 14 bytes an instruction keeps it bounded), then REX. */
	for (; i < n && i < 14; i++) {
		uint8_t b = p[i];
		if (b == 0xf0)
			in.lock = true;
		else if (b == 0x66)
			in.opsize = true;
		else if (b == 0x64)
			in.fs = true;
		else if (b == 0xf2 || b == 0xf3)
			rep = true;
		else if (b != 0x2e && b != 0x3e && b != 0x26 && b != 0x36 && b != 0x65 && b != 0x67)
			break;
	}
	(void)rep;
	if (i < n && (p[i] & 0xf0) == 0x40)
		rex = p[i++];
	in.rex_w = rex & 8;
	if (i >= n)
		return false;
	uint8_t b = p[i];
	if (!rex && (b == 0xc4 || b == 0xc5 || b == 0x62)) {
		if (!decode_vex(p, n, &i, &in))
			return false;
	} else {
		uint8_t kind;
		i++;
		if (b == 0x0f) {
			if (i >= n)
				return false;
			uint8_t b2 = p[i++];
			if (b2 == 0x38 || b2 == 0x3a) {
				if (i >= n)
					return false;
				in.map = b2 == 0x38 ? 2 : 3;
				in.op = p[i++];
				kind = (uint8_t)(M | (b2 == 0x3a ? I_B : I_NONE));
			} else {
				in.map = 1;
				in.op = b2;
				kind = two_byte(b2);
			}
		} else {
			in.map = 0;
			in.op = b;
			kind = one[b];
		}
		if (kind & BAD)
			return false;
		if ((kind & M) && !decode_modrm(p, n, &i, rex, &in))
			return false;
		if (!(kind & M))
			in.rm = (uint8_t)((b & 7) | (rex & 1 ? 8 : 0)); /* push r, mov r, imm */
		if (!decode_imm(p, n, &i, kind & 0x3f, in.opsize, in.rex_w, in.reg, &in))
			return false;
	}
	if (i > 15)
		return false;
	in.len = (uint8_t)i;
	*ret = in;
	return true;
}
