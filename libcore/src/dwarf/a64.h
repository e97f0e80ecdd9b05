/*
 * An AArch64 instruction decoder for the closure layouts of typing.c (its
 * captured variables before Go 1.23, from the loads off the context
 * register R26): every instruction is one 32-bit little-endian word, and
 * it says of each which general registers it may write, whether it
 * branches, and, for the loads Go's compiler emits with an immediate
 * offset (LDR, LDRB, LDRH, LDRSB, LDRSH, LDRSW, LDUR* and their SIMD&FP
 * forms, pre- and post-indexed too; LDP, LDPSW, LDNP), where they load
 * from and into what. Anything it does not know may write any register.
 * It never reads past the bytes it is given.
 */
#ifndef GOMEM_DWARF_A64_H
#define GOMEM_DWARF_A64_H

#include "base/base.h"

#define GM_A64_INSN_BYTES 4
#define GM_A64_SP	  31	      /* as a base register; as a loaded one, 31 is XZR */
#define GM_A64_ALL_REGS	  0x7fffffffu /* X0-X30 */

enum gm_a64_class {
	GM_A64_UNKNOWN, /* unallocated or not decoded: it may write any register */
	GM_A64_OTHER,	/* no branch and no load it decodes: writes says what it may change */
	GM_A64_LOAD,	/* a load from [rn + offset] into rt (and rt2) */
	GM_A64_COND,	/* B.cond, BC.cond, CBZ, CBNZ, TBZ, TBNZ: the next word may run next */
	GM_A64_BRANCH,	/* B, BL, BR, BLR, RET, ERET, SVC, BRK, ...: the straight line ends */
};

struct gm_a64_insn {
	uint32_t word;
	enum gm_a64_class cls;
	uint32_t writes; /* the general registers X0-X30 it may write: bit n is Xn */
	/* A load (cls GM_A64_LOAD): */
	uint8_t nregs;	/* registers loaded: 1, or 2 for a pair */
	uint8_t rt[2];	/* ... their numbers (0-31; a general one of 31 is XZR) */
	bool fp;	/* ... SIMD&FP registers V0-V31 rather than general ones */
	bool sign;	/* ... sign-extended from size bytes */
	uint8_t size;	/* bytes loaded into each: 1, 2, 4, 8 or 16 */
	uint8_t rn;	/* the base register (31: SP) */
	bool writeback; /* pre- or post-indexed: rn changes (and is in writes) */
	int64_t offset; /* the bytes from rn's value before the load to rt[0]'s (post: 0) */
};

/*
 * Decodes the instruction at p (at most n bytes). False when fewer than 4
 * bytes are given; otherwise every word decodes, GM_A64_UNKNOWN when it is
 * not one it knows.
 */
bool gm_a64_decode(const uint8_t *p, size_t n, struct gm_a64_insn *ret);

#endif /* GOMEM_DWARF_A64_H */
