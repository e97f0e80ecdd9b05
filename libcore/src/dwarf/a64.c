/*
 * AArch64 instructions (Arm ARM, DDI 0487, C4.1: the A64 encoding index).
 * Every word is classified by its top-level group (bits 28:25); within the
 * groups that write general registers only through their Rd field (bits
 * 4:0: data processing, immediate, register, SIMD&FP; system) that field is
 * all it may write (a SIMD&FP instruction's Vd counts as an Xd: a scan for
 * what keeps X26 stops too early, never too late). In the loads and
 * stores only the forms with one base register and an immediate or
 * register offset, and the literal loads, are decoded; the others
 * (atomics, exclusives, structure loads, LD64B, CASP: some of them write
 * register pairs or eight registers) are unknown, as are the loads whose
 * result the architecture leaves unpredictable (LDP into one register
 * twice, a writeback into the register loaded).
 */
#include <string.h>

#include "dwarf/a64.h"

static uint32_t field(uint32_t w, unsigned lo, unsigned bits)
{
	return (w >> lo) & ((1u << bits) - 1);
}

static int64_t sign_extend(uint32_t v, unsigned bits)
{
	uint32_t m = 1u << (bits - 1);
	return (int64_t)(int32_t)((v ^ m) - m);
}

/* Bit n for general register Xn; none for 31 (XZR, or SP as a base). */
static uint32_t reg_bit(uint32_t r)
{
	return r < 31 ? 1u << r : 0;
}

/* Loads and stores of one register: what size, V and opc say. */
enum access { A_UNALLOCATED, A_PREFETCH, A_STORE, A_LOAD, A_LOAD_SIGNED };

static enum access one_reg(uint32_t size, bool v, uint32_t opc, uint8_t *bytes)
{
	*bytes = (uint8_t)(1u << size);
	if (v) {
		if (opc & 2) { /* the 128-bit Q registers */
			*bytes = 16;
			return size ? A_UNALLOCATED : opc & 1 ? A_LOAD : A_STORE;
		}
		return opc & 1 ? A_LOAD : A_STORE;
	}
	switch (opc) {
	case 0:
		return A_STORE;
	case 1:
		return A_LOAD;
	case 2: /* LDRSB, LDRSH, LDRSW to 64 bits, PRFM */
		return size == 3 ? A_PREFETCH : A_LOAD_SIGNED;
	default: /* LDRSB, LDRSH to 32 bits */
		return size >= 2 ? A_UNALLOCATED : A_LOAD_SIGNED;
	}
}

static void set_load(struct gm_a64_insn *in, enum access a, bool v, uint8_t bytes)
{
	in->cls = GM_A64_LOAD;
	in->nregs = 1;
	in->rt[0] = (uint8_t)field(in->word, 0, 5);
	in->fp = v;
	in->sign = a == A_LOAD_SIGNED;
	in->size = bytes;
	in->rn = (uint8_t)field(in->word, 5, 5);
	if (!v)
		in->writes |= reg_bit(in->rt[0]);
}

/* LDR, STR and their kin with an unsigned 12-bit offset, scaled by the size. */
static void unsigned_offset(struct gm_a64_insn *in)
{
	uint32_t w = in->word;
	bool v = field(w, 26, 1);
	uint8_t bytes;
	enum access a = one_reg(field(w, 30, 2), v, field(w, 22, 2), &bytes);
	if (a == A_UNALLOCATED) {
		in->cls = GM_A64_UNKNOWN;
		return;
	}
	in->cls = GM_A64_OTHER;
	if (a == A_LOAD || a == A_LOAD_SIGNED) {
		set_load(in, a, v, bytes);
		in->offset = (int64_t)field(w, 10, 12) * bytes;
	}
}

/* The 9-bit signed offset forms: LDUR (unscaled), post-indexed, LDTR, pre-indexed. */
static void signed9(struct gm_a64_insn *in)
{
	uint32_t w = in->word, mode = field(w, 10, 2);
	bool v = field(w, 26, 1);
	uint8_t bytes;
	enum access a = one_reg(field(w, 30, 2), v, field(w, 22, 2), &bytes);
	bool writeback = mode == 1 || mode == 3;
	if (a == A_UNALLOCATED || (mode == 2 && v) || (a == A_PREFETCH && mode != 0)) {
		in->cls = GM_A64_UNKNOWN;
		return;
	}
	in->cls = GM_A64_OTHER;
	if (writeback)
		in->writes |= reg_bit(field(w, 5, 5));
	if (a != A_LOAD && a != A_LOAD_SIGNED)
		return;
	if (mode == 2) { /* LDTR: an unprivileged load, never Go's */
		in->writes |= reg_bit(field(w, 0, 5));
		return;
	}
	if (writeback && !v && field(w, 0, 5) == field(w, 5, 5) && field(w, 5, 5) != 31) {
		in->cls = GM_A64_UNKNOWN; /* CONSTRAINED UNPREDICTABLE: Rt is the base */
		return;
	}
	set_load(in, a, v, bytes);
	in->writeback = writeback;
	in->offset = mode == 1 ? 0 : sign_extend(field(w, 12, 9), 9);
}

/* LDR, STR and their kin with a register offset: a load writes its Rt. */
static void register_offset(struct gm_a64_insn *in)
{
	uint32_t w = in->word;
	uint8_t bytes;
	bool v = field(w, 26, 1);
	enum access a = one_reg(field(w, 30, 2), v, field(w, 22, 2), &bytes);
	in->cls = a == A_UNALLOCATED ? GM_A64_UNKNOWN : GM_A64_OTHER;
	if ((a == A_LOAD || a == A_LOAD_SIGNED) && !v)
		in->writes |= reg_bit(field(w, 0, 5));
}

/* LDR (literal), PC-relative: not from a base register; LDR and LDRSW write their Rt. */
static void literal(struct gm_a64_insn *in)
{
	uint32_t w = in->word, opc = field(w, 30, 2);
	bool v = field(w, 26, 1);
	in->cls = v && opc == 3 ? GM_A64_UNKNOWN : GM_A64_OTHER;
	if (!v && opc != 3) /* 3 is PRFM */
		in->writes |= reg_bit(field(w, 0, 5));
}

/* LDP, STP, LDPSW, LDNP, STNP: signed offset, pre- and post-indexed, no-allocate. */
static void pair(struct gm_a64_insn *in)
{
	uint32_t w = in->word, opc = field(w, 30, 2), mode = field(w, 23, 2);
	bool v = field(w, 26, 1), load = field(w, 22, 1);
	bool writeback = mode == 1 || mode == 3;
	uint8_t bytes;
	if (opc == 3 || (!v && opc == 1 && (!load || mode == 0))) { /* STGP: tags, not Go's */
		in->cls = GM_A64_UNKNOWN;
		return;
	}
	bytes = (uint8_t)(v ? 4u << opc : opc == 2 ? 8 : 4);
	in->cls = GM_A64_OTHER;
	if (writeback)
		in->writes |= reg_bit(field(w, 5, 5));
	if (!load)
		return;
	uint32_t rt = field(w, 0, 5), rt2 = field(w, 10, 5), rn = field(w, 5, 5);
	if (rt == rt2 || (writeback && !v && rn != 31 && (rn == rt || rn == rt2))) {
		in->cls = GM_A64_UNKNOWN; /* CONSTRAINED UNPREDICTABLE loads */
		return;
	}
	in->cls = GM_A64_LOAD;
	in->nregs = 2;
	in->rt[0] = (uint8_t)rt;
	in->rt[1] = (uint8_t)rt2;
	in->fp = v;
	in->sign = !v && opc == 1;
	in->size = bytes;
	in->rn = (uint8_t)rn;
	in->writeback = writeback;
	in->offset = mode == 1 ? 0 : sign_extend(field(w, 15, 7), 7) * bytes;
	if (!v)
		in->writes |= reg_bit(in->rt[0]) | reg_bit(in->rt[1]);
}

static void loads_and_stores(struct gm_a64_insn *in)
{
	uint32_t w = in->word;
	if ((w & 0x3a000000) == 0x28000000)
		pair(in);
	else if ((w & 0x3b000000) == 0x39000000)
		unsigned_offset(in);
	else if ((w & 0x3b200000) == 0x38000000)
		signed9(in);
	else if ((w & 0x3b200c00) == 0x38200800)
		register_offset(in);
	else if ((w & 0x3b000000) == 0x18000000)
		literal(in);
	else
		in->cls = GM_A64_UNKNOWN;
}

/* Branches, exception generation and system instructions. */
static void branches(struct gm_a64_insn *in)
{
	uint32_t w = in->word;
	if ((w & 0x7c000000) == 0x14000000) { /* B, BL */
		in->cls = GM_A64_BRANCH;
		in->writes = w >> 31 ? 1u << 30 : 0;
	} else if ((w & 0xff000000) == 0x54000000 || (w & 0x7e000000) == 0x34000000 ||
		   (w & 0x7e000000) == 0x36000000) { /* B.cond, BC.cond, CB(N)Z, TB(N)Z */
		in->cls = GM_A64_COND;
	} else if ((w & 0xfe000000) == 0xd6000000 || (w & 0xff000000) == 0xd4000000) {
		in->cls = GM_A64_BRANCH; /* BR, BLR, RET, ERET; SVC, HVC, BRK, HLT */
		in->writes = 1u << 30;
	} else if ((w & 0xffc00000) == 0xd5000000) { /* hints, barriers, MSR, SYS, MRS, SYSL */
		in->cls = GM_A64_OTHER;
		in->writes = reg_bit(field(w, 0, 5));
	} else {
		in->cls = GM_A64_UNKNOWN;
	}
}

bool gm_a64_decode(const uint8_t *p, size_t n, struct gm_a64_insn *ret)
{
	struct gm_a64_insn in;
	if (n < GM_A64_INSN_BYTES)
		return false;
	memset(&in, 0, sizeof(in));
	in.word =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	uint32_t op = field(in.word, 25, 4);
	if ((op & 0xe) == 0x8 || (op & 0x7) == 0x5 || (op & 0x7) == 0x7) {
		/* data processing: immediate, register, SIMD&FP; each writes only its Rd */
		in.cls = GM_A64_OTHER;
		in.writes = reg_bit(field(in.word, 0, 5));
	} else if ((op & 0xe) == 0xa) {
		branches(&in);
	} else if ((op & 0x5) == 0x4) {
		loads_and_stores(&in);
	} else { /* reserved (UDF), SME, SVE, unallocated */
		in.cls = GM_A64_UNKNOWN;
	}
	if (in.cls == GM_A64_UNKNOWN)
		in.writes = GM_A64_ALL_REGS;
	*ret = in;
	return true;
}
