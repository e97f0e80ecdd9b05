/*
 * The AArch64 decoder (libcore/src/dwarf/a64.c) that lays out closures on
 * arm64 before Go 1.23 (objects/typing.c): real instructions, each word
 * with what `aarch64-linux-gnu-objdump -d` printed for it in the arm64
 * fixtures' executables (objgraph Go 1.22.12, whose closures the
 * integration tests type; heapmix Go 1.19.8; hello Go 1.26.11), decode to
 * what objdump says; real closures' code gives their loads from R26 and
 * stops where the closure leaves R26; input shorter than a word is refused,
 * and any word at all decodes to something bounded.
 *
 * Needs no fixture: the words are here.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "dwarf/a64.h"
#include "unit.h"

#define X(n) (1u << (n))

struct want {
	uint32_t word;
	const char *objdump; /* what objdump printed, and where */
	enum gm_a64_class cls;
	uint32_t writes;
	/* loads only */
	uint8_t nregs, rt0, rt1;
	bool fp, sign;
	uint8_t size, rn;
	bool writeback;
	int64_t offset;
};

#define OTHER(w, text, wr)                                                                         \
	{                                                                                          \
		w, text, GM_A64_OTHER, wr, 0, 0, 0, false, false, 0, 0, false, 0                   \
	}
#define BRANCH(w, text, wr)                                                                        \
	{                                                                                          \
		w, text, GM_A64_BRANCH, wr, 0, 0, 0, false, false, 0, 0, false, 0                  \
	}
#define COND(w, text)                                                                              \
	{                                                                                          \
		w, text, GM_A64_COND, 0, 0, 0, 0, false, false, 0, 0, false, 0                     \
	}
#define UNKNOWN(w, text)                                                                           \
	{                                                                                          \
		w, text, GM_A64_UNKNOWN, GM_A64_ALL_REGS, 0, 0, 0, false, false, 0, 0, false, 0    \
	}
#define LOAD(w, text, wr, n, t0, t1, fp, sign, size, rn, wb, off)                                  \
	{                                                                                          \
		w, text, GM_A64_LOAD, wr, n, t0, t1, fp, sign, size, rn, wb, off                   \
	}

static const struct want real[] = {
    /* objgraph-go1.22.12-arm64: main.makeHook.func1, main.setFinalizer.func1 */
    LOAD(0xf9400741, "ldr x1, [x26, #8]", X(1), 1, 1, 0, false, false, 8, 26, false, 8),
    LOAD(0xf9400020, "ldr x0, [x1]", X(0), 1, 0, 0, false, false, 8, 1, false, 0),
    BRANCH(0xd65f03c0, "ret", X(30)),
    UNKNOWN(0x00000000, "udf #0 (the padding after a function)"),
    OTHER(0xf0000b5b, "adrp x27, 234000 <runtime.trace+0x3f860>", X(27)),
    LOAD(0xf9458362, "ldr x2, [x27, #2816]", X(2), 1, 2, 0, false, false, 8, 27, false, 2816),
    OTHER(0x8b000020, "add x0, x1, x0", X(0)),
    OTHER(0xf9058360, "str x0, [x27, #2816]", 0),
    /* objgraph: the prologues (main.buildClosure, main.main.JSON.func1) */
    LOAD(0xf9400b90, "ldr x16, [x28, #16]", X(16), 1, 16, 0, false, false, 8, 28, false, 16),
    OTHER(0xd10f03f1, "sub x17, sp, #0x3c0", X(17)),
    OTHER(0xeb10023f, "cmp x17, x16", 0),
    OTHER(0xeb3063ff, "cmp sp, x16", 0),
    COND(0x54002009, "b.ls c8bbc <main.buildClosure+0x40c>"),
    OTHER(0xd11103f4, "sub x20, sp, #0x440", X(20)),
    OTHER(0xa93ffa9d, "stp x29, x30, [x20, #-8]", 0),
    OTHER(0x9100029f, "mov sp, x20", 0),
    OTHER(0xf81a0ffe, "str x30, [sp, #-96]!", 0),
    OTHER(0xf81f83fd, "stur x29, [sp, #-8]", 0),
    OTHER(0xd10023fd, "sub x29, sp, #0x8", X(29)),
    BRANCH(0x97ffffa2, "bl c96a0 <main.newFinalObj>", X(30)),
    /* objgraph: runtime closures' narrow loads and R26 itself */
    LOAD(0x39402342, "ldrb w2, [x26, #8] (runtime.gcMarkDone.forEachP.func5)", X(2), 1, 2, 0, false,
	 false, 1, 26, false, 8),
    LOAD(0xb9801341, "ldrsw x1, [x26, #16] (runtime.setGCPercent.func1)", X(1), 1, 1, 0, false,
	 true, 4, 26, false, 16),
    LOAD(0xb9400f40, "ldr w0, [x26, #12] (runtime.casgstatus.func1)", X(0), 1, 0, 0, false, false,
	 4, 26, false, 12),
    LOAD(0xf940075a, "ldr x26, [x26, #8] (runtime.(*pageAlloc).sysGrow.func3)", X(26), 1, 26, 0,
	 false, false, 8, 26, false, 8),
    LOAD(0xf94013fa, "ldr x26, [sp, #32]", X(26), 1, 26, 0, false, false, 8, 31, false, 32),
    OTHER(0xaa0003fa, "mov x26, x0 (runtime.runExitHooks.func1)", X(26)),
    /* objgraph: the other load forms */
    LOAD(0xb8403046, "ldur w6, [x2, #3]", X(6), 1, 6, 0, false, false, 4, 2, false, 3),
    LOAD(0xf85f8087, "ldur x7, [x4, #-8]", X(7), 1, 7, 0, false, false, 8, 4, false, -8),
    LOAD(0xf8408404, "ldr x4, [x0], #8", X(4) | X(0), 1, 4, 0, false, false, 8, 0, true, 0),
    LOAD(0xa9c4342c, "ldp x12, x13, [x1, #64]!", X(12) | X(13) | X(1), 2, 12, 13, false, false, 8,
	 1, true, 64),
    LOAD(0xa8c12004, "ldp x4, x8, [x0], #16", X(4) | X(8) | X(0), 2, 4, 8, false, false, 8, 0, true,
	 0),
    LOAD(0xfd41e760, "ldr d0, [x27, #968]", 0, 1, 0, 0, true, false, 8, 27, false, 968),
    LOAD(0xbd400000, "ldr s0, [x0]", 0, 1, 0, 0, true, false, 4, 0, false, 0),
    LOAD(0x3980001b, "ldrsb x27, [x0]", X(27), 1, 27, 0, false, true, 1, 0, false, 0),
    LOAD(0x79800002, "ldrsh x2, [x0]", X(2), 1, 2, 0, false, true, 2, 0, false, 0),
    LOAD(0x6d480680, "ldp d0, d1, [x20, #128]", 0, 2, 0, 1, true, false, 8, 20, false, 128),
    OTHER(0xf8636840, "ldr x0, [x2, x3] (a register offset)", X(0)),
    OTHER(0x9e660003, "fmov x3, d0", X(3)),
    OTHER(0xd5380000, "mrs x0, midr_el1", X(0)),
    BRANCH(0xd4000001, "svc #0x0", X(30)),
    BRANCH(0xd4200000, "brk #0x0", X(30)),
    BRANCH(0xd63f0060, "blr x3", X(30)),
    BRANCH(0xd61f0360, "br x27", X(30)),
    COND(0x34fff8a4, "cbz w4, c7904 <main.buildInterfaces.func1+0x264>"),
    /* objgraph: what it does not decode (some write Rs, or register pairs) */
    UNKNOWN(0xc85ffc24, "ldaxr x4, [x1]"),
    UNKNOWN(0x88fbfcc8, "casal w27, w8, [x6]"),
    UNKNOWN(0xf8e30024, "ldaddal x3, x4, [x1]"),
    UNKNOWN(0xc81bfc24, "stlxr w27, x4, [x1]"),
    UNKNOWN(0x4cdfa001, "ld1 {v1.16b, v2.16b}, [x0], #32"),
    /* heapmix-go1.19.8-arm64 */
    OTHER(0x580009db, "ldr x27, 6f028 <runtime.asyncPreempt.abi0+0x138> (literal)", X(27)),
    COND(0x36000cc2, "tbz w2, #0, 41c0c <runtime.addOneOpenDeferFrame.func1.1+0x26c>"),
    /* hello-go1.26.11-arm64: closures' pairs and halfwords off R26 */
    LOAD(0xa9418740, "ldp x0, x1, [x26, #24] (runtime.mmap.func1)", X(0) | X(1), 2, 0, 1, false,
	 false, 8, 26, false, 24),
    LOAD(0xa940835a, "ldp x26, x0, [x26, #8] (net.(*Dialer).dialCtx.func2)", X(26) | X(0), 2, 26, 0,
	 false, false, 8, 26, false, 8),
    LOAD(0x29420f42, "ldp w2, w3, [x26, #16] (runtime.casgstatus.func3)", X(2) | X(3), 2, 2, 3,
	 false, false, 4, 26, false, 16),
    LOAD(0x79402340, "ldrh w0, [x26, #16] (net.(*Resolver).goLookupIPCNAMEOrder.func3.gowrap1)",
	 X(0), 1, 0, 0, false, false, 2, 26, false, 16),
    COND(0xb40000ba, "cbz x26, f41d0 <net.(*Dialer).dialCtx.func2+0x30>"),
    OTHER(0xf9000ffa, "str x26, [sp, #24]", 0),
    LOAD(0x3dc01050, "ldr q16, [x2, #64]", 0, 1, 16, 0, true, false, 16, 2, false, 64),
    LOAD(0xad4207e0, "ldp q0, q1, [sp, #64]", 0, 2, 0, 1, true, false, 16, 31, false, 64),
    LOAD(0xf85f8c44, "ldr x4, [x2, #-8]!", X(4) | X(2), 1, 4, 0, false, false, 8, 2, true, -8),
};

static void check(const struct want *w, const struct gm_a64_insn *in)
{
	if (in->word != w->word || in->cls != w->cls || in->writes != w->writes)
		fail_msg("%08x %s: class %d writes %08x, want %d %08x", w->word, w->objdump,
			 (int)in->cls, in->writes, (int)w->cls, w->writes);
	if (w->cls != GM_A64_LOAD)
		return;
	if (in->nregs != w->nregs || in->rt[0] != w->rt0 ||
	    (w->nregs == 2 && in->rt[1] != w->rt1) || in->fp != w->fp || in->sign != w->sign ||
	    in->size != w->size || in->rn != w->rn || in->writeback != w->writeback ||
	    in->offset != w->offset)
		fail_msg("%08x %s: %u regs %u,%u fp %d sign %d size %u [x%u, #%lld] wb %d", w->word,
			 w->objdump, in->nregs, in->rt[0], in->rt[1], in->fp, in->sign, in->size,
			 in->rn, (long long)in->offset, in->writeback);
}

static void test_a64_real_words_decode_as_objdump_says(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		uint8_t b[4];
		struct gm_a64_insn in;
		memset(&in, 0xa5, sizeof(in));
		for (int k = 0; k < 4; k++)
			b[k] = (uint8_t)(real[i].word >> (8 * k));
		assert_true(gm_a64_decode(b, sizeof(b), &in));
		check(&real[i], &in);
	}
}

/*
 * The closures' code as typing.c scans it on arm64: from the entry, every
 * load off R26 counts, until a branch that leaves the straight line, a
 * word that may write R26, or one the decoder does not know.
 */
struct ctx_load {
	uint8_t reg;
	int64_t off;
};

static size_t scan(const uint32_t *words, size_t n, struct ctx_load *loads, size_t max,
		   size_t *nloads)
{
	size_t i;
	*nloads = 0;
	for (i = 0; i < n; i++) {
		uint8_t b[4];
		struct gm_a64_insn in;
		for (int k = 0; k < 4; k++)
			b[k] = (uint8_t)(words[i] >> (8 * k));
		assert_true(gm_a64_decode(b, sizeof(b), &in));
		if (in.cls == GM_A64_LOAD && in.rn == 26)
			for (unsigned k = 0; k < in.nregs && *nloads < max; k++)
				loads[(*nloads)++] =
				    (struct ctx_load){in.rt[k], in.offset + (int64_t)k * in.size};
		if (in.cls == GM_A64_UNKNOWN || in.cls == GM_A64_BRANCH || (in.writes & X(26)))
			return i;
	}
	return i;
}

static void test_a64_real_closures_load_their_captured_words_off_r26(void **state)
{
	(void)state;
	struct ctx_load loads[8];
	size_t n;
	/* main.makeHook.func1 (objgraph 1.22): return cv.id, cv at 8 */
	static const uint32_t hook[] = {0xf9400741, 0xf9400020, 0xd65f03c0, 0x00000000};
	assert_int_equal(scan(hook, 4, loads, 8, &n), 2); /* ret */
	assert_int_equal(n, 1);
	assert_int_equal(loads[0].reg, 1);
	assert_int_equal(loads[0].off, 8);
	/* main.main.JSON.func1 (objgraph 1.22): the stack check and frame, then its captured
	 * slice's words at 16 and 8, up to growslice's call */
	static const uint32_t json[] = {0xf9400b90, 0xeb3063ff, 0x54000469, 0xf81a0ffe, 0xf81f83fd,
					0xd10023fd, 0xf90037e0, 0xf9400b43, 0x8b030025, 0xf9400746,
					0xeb05005f, 0x54000182, 0xf9001be3, 0xf90027e6, 0xf9003be1,
					0xaa0503e1, 0xd00000a4, 0x91388084, 0x97fe67ea, 0xf9401be3};
	assert_int_equal(scan(json, 20, loads, 8, &n), 18); /* bl runtime.growslice */
	assert_int_equal(n, 2);
	assert_int_equal(loads[0].reg, 3);
	assert_int_equal(loads[0].off, 16);
	assert_int_equal(loads[1].reg, 6);
	assert_int_equal(loads[1].off, 8);
	/* net.(*Dialer).dialCtx.func2 (hello 1.26): a pair that loads R26 itself ends it */
	static const uint32_t dial[] = {0xa940835a, 0xf9400741};
	assert_int_equal(scan(dial, 2, loads, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(loads[0].reg, 26);
	assert_int_equal(loads[0].off, 8);
	assert_int_equal(loads[1].reg, 0);
	assert_int_equal(loads[1].off, 16);
}

static void test_a64_short_input_is_refused(void **state)
{
	(void)state;
	const uint8_t word[4] = {0x41, 0x07, 0x40, 0xf9}; /* ldr x1, [x26, #8] */
	struct gm_a64_insn in;
	memset(&in, 0x5a, sizeof(in));
	for (size_t n = 0; n < 4; n++)
		assert_false(gm_a64_decode(word, n, &in));
	assert_false(gm_a64_decode(NULL, 0, &in));
	assert_int_equal(in.word, 0x5a5a5a5a); /* untouched */
	/* more bytes than a word: only the first word is read */
	const uint8_t more[6] = {0x41, 0x07, 0x40, 0xf9, 0xff, 0xff};
	assert_true(gm_a64_decode(more, sizeof(more), &in));
	assert_int_equal(in.word, 0xf9400741);
	/* at an address that is not a multiple of 4 */
	uint8_t odd[5] = {0xee, 0x41, 0x07, 0x40, 0xf9};
	assert_true(gm_a64_decode(odd + 1, 4, &in));
	assert_int_equal(in.cls, GM_A64_LOAD);
	assert_int_equal(in.offset, 8);
}

/* What holds for any word: a class, writes within X0-X30, a load's fields in range. */
static void check_bounded(uint32_t w)
{
	uint8_t b[4] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), (uint8_t)(w >> 24)};
	struct gm_a64_insn in;
	if (!gm_a64_decode(b, 4, &in))
		fail_msg("%08x: not decoded", w);
	if (in.word != w || in.cls > GM_A64_BRANCH || (in.writes & ~GM_A64_ALL_REGS))
		fail_msg("%08x: class %d writes %08x", w, (int)in.cls, in.writes);
	if (in.cls == GM_A64_UNKNOWN && in.writes != GM_A64_ALL_REGS)
		fail_msg("%08x: unknown, yet writes only %08x", w, in.writes);
	if (in.cls != GM_A64_LOAD)
		return;
	bool size_ok = in.size == 1 || in.size == 2 || in.size == 4 || in.size == 8 ||
		       (in.size == 16 && in.fp);
	if ((in.nregs != 1 && in.nregs != 2) || !size_ok || in.rt[0] > 31 || in.rt[1] > 31 ||
	    in.rn > 31 || in.offset < -1024 || in.offset > 4095 * 16 ||
	    (in.nregs == 2 && in.rt[0] == in.rt[1]))
		fail_msg("%08x: a load of %u regs size %u rt %u,%u rn %u off %lld", w, in.nregs,
			 in.size, in.rt[0], in.rt[1], in.rn, (long long)in.offset);
	for (unsigned k = 0; k < in.nregs; k++)
		if (!in.fp && in.rt[k] < 31 && !(in.writes & X(in.rt[k])))
			fail_msg("%08x: loads x%u, not in writes %08x", w, in.rt[k], in.writes);
	if (in.writeback && in.rn < 31 && !(in.writes & X(in.rn)))
		fail_msg("%08x: writes back x%u, not in writes %08x", w, in.rn, in.writes);
	if (in.writeback && !in.fp && in.rn < 31 &&
	    (in.rn == in.rt[0] || (in.nregs == 2 && in.rn == in.rt[1])))
		fail_msg("%08x: writes back into the register it loads", w);
}

static void test_a64_any_word_decodes_to_something_bounded(void **state)
{
	(void)state;
	static const uint32_t garbage[] = {0xffffffff, 0xdeadbeef,
					   0x7fffffff, 0x80000000,
					   0x0000ffff, 0xa9400441 /* ldp x1, x1, [x2] */,
					   0xf8408400 /* ldr x0, [x0], #8 */};
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		check_bounded(garbage[i]);
	/* ldp x1, x1 and a post-indexed load into its own base: unpredictable, unknown */
	uint8_t b[4] = {0x41, 0x04, 0x40, 0xa9};
	struct gm_a64_insn in;
	assert_true(gm_a64_decode(b, 4, &in));
	assert_int_equal(in.cls, GM_A64_UNKNOWN);
	/* every word of the load/store space's top bits, and a pseudo-random sample of all */
	for (uint32_t hi = 0; hi < 1u << 12; hi++)
		for (uint32_t lo = 0; lo < 64; lo++)
			check_bounded(hi << 20 | lo * 0x3f1d5u);
	uint32_t x = 0x9e3779b9;
	for (unsigned i = 0; i < (1u << 22); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		check_bounded(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a64_real_words_decode_as_objdump_says),
	    cmocka_unit_test(test_a64_real_closures_load_their_captured_words_off_r26),
	    cmocka_unit_test(test_a64_short_input_is_refused),
	    cmocka_unit_test(test_a64_any_word_decodes_to_something_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
