/*
 * The runtime's globals from code patterns (amd64, Go 1.19-1.27: the
 * register ABI passes a method's receiver in RAX). Functions come from
 * .gopclntab, instructions from an x86-64 decoder (x86.c), never from a
 * byte search that could start inside an instruction. The rules and what
 * was measured with them are in STRIPPED.md; each is checked against DWARF
 * for every toolchain and variant by the layout generator
 * (tools/layouts/record.c) and the tests.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dwarf/globals.h"
#include "dwarf/x86.h"

enum gid {
	G_MHEAP,
	G_GCCONTROLLER,
	G_MEMSTATS,
	G_ALLGS,
	G_ALLGLEN,
	G_ALLP,
	G_M0,
	G_G0,
	G_ALLM,
	G_EMPTYMSPAN,
	G_STACKLARGE,
	G_GCBITSARENAS,
	G_PERSISTENTCHUNKS,
	G_BUCKHASH,
	G_FINGSTATUS,
	G_FINGRUNNING,
	G_WORK,
	G_SCHED,
	G_GCRASH,
	G_ALLFIN,
	G_GCCLEANUPS,
	G_COUNT
};

static const struct {
	const char *name, *rule;
} GLOBALS[G_COUNT] = {
    [G_MHEAP] = {"runtime.mheap_", "the most common receiver of (*mheap) methods"},
    [G_GCCONTROLLER] = {"runtime.gcController",
			"the most common receiver of (*gcControllerState) methods"},
    [G_MEMSTATS] = {"runtime.memstats",
		    "the most common receiver of (*consistentHeapStats) methods, less the "
		    "offset of mstats.heapStats"},
    [G_ALLGS] = {"runtime.allgs", "the slice read at +0, +8 and +16 in allgadd"},
    [G_ALLGLEN] = {"runtime.allglen", "the xchg of len(allgs) in allgadd"},
    [G_ALLP] = {"runtime.allp",
		"the (array, len) loads of the range over allp in gcComputeStartingStackSize, "
		"gcMarkTinyAllocs, (*consistentHeapStats).read"},
    [G_M0] = {"runtime.m0", "m0.g0 = &g0 in rt0_go"},
    [G_G0] = {"runtime.g0", "the g stored in TLS in rt0_go"},
    [G_ALLM] = {"runtime.allm", "the global loaded and xchg'd in mcommoninit"},
    [G_EMPTYMSPAN] = {"runtime.emptymspan", "the writable LEA in allocmcache that is not mheap_"},
    [G_STACKLARGE] = {"runtime.stackLarge", "the only lock(&X) in stackalloc"},
    [G_GCBITSARENAS] = {"runtime.gcBitsArenas", "the only lock(&X) in newMarkBits"},
    [G_PERSISTENTCHUNKS] = {"runtime.persistentChunks", "the CAS target in persistentalloc1"},
    [G_BUCKHASH] = {"runtime.buckhash", "the global loaded and xchg'd in stkbucket"},
    [G_FINGSTATUS] = {"runtime.fingStatus", "the CAS target in createfing"},
    [G_FINGRUNNING] = {"runtime.fingRunning", "the byte set to 1 and to 0 in runfinq"},
    [G_WORK] = {"runtime.work",
		"the (*lfstack).push receiver in putfull, less the offset of workType.full"},
    [G_SCHED] = {"runtime.sched",
		 "the most locked mutex (and the first in mcommoninit), less the offset of "
		 "schedt.lock"},
    [G_GCRASH] = {"runtime.gcrash", "where schedinit stores stackalloc(16384)"},
    [G_ALLFIN] = {"runtime.allfin",
		  "the global queuefinalizer stores in a new block's alllink and then sets"},
    [G_GCCLEANUPS] = {"runtime.gcCleanups",
		      "the one receiver of the calls of (*cleanupQueue) methods"},
};

struct gm_globals {
	uint64_t addr[G_COUNT];
	bool found[G_COUNT];
	char why[G_COUNT][200];
};

/* The functions whose code the rules read. */
enum fid {
	F_ALLGADD,
	F_RT0_GO,
	F_MCOMMONINIT,
	F_ALLOCMCACHE,
	F_STACKALLOC,
	F_NEWMARKBITS,
	F_PERSISTENTALLOC1,
	F_STKBUCKET,
	F_CREATEFING,
	F_RUNFINQ,
	F_PUTFULL,
	F_SCHEDINIT,
	F_STARTINGSTACK,
	F_TINYALLOCS,
	F_HEAPSTATS_READ,
	F_QUEUEFINALIZER,
	F_COUNT
};

static const char *const FUNCS[F_COUNT] = {
    [F_ALLGADD] = "runtime.allgadd",
    [F_RT0_GO] = "runtime.rt0_go",
    [F_MCOMMONINIT] = "runtime.mcommoninit",
    [F_ALLOCMCACHE] = "runtime.allocmcache",
    [F_STACKALLOC] = "runtime.stackalloc",
    [F_NEWMARKBITS] = "runtime.newMarkBits",
    [F_PERSISTENTALLOC1] = "runtime.persistentalloc1",
    [F_STKBUCKET] = "runtime.stkbucket",
    [F_CREATEFING] = "runtime.createfing",
    [F_RUNFINQ] = "runtime.runfinq",
    [F_PUTFULL] = "runtime.putfull",
    [F_SCHEDINIT] = "runtime.schedinit",
    [F_STARTINGSTACK] = "runtime.gcComputeStartingStackSize",
    [F_TINYALLOCS] = "runtime.gcMarkTinyAllocs",
    [F_HEAPSTATS_READ] = "runtime.(*consistentHeapStats).read",
    [F_QUEUEFINALIZER] = "runtime.queuefinalizer",
};

/* Who a call goes to, for the votes over the whole text. */
enum callee_kind {
	C_OTHER,
	C_MHEAP,
	C_GCCONTROLLER,
	C_HEAPSTATS,
	C_CLEANUPQ,
	C_LOCK,
	C_LFPUSH,
	C_STACKALLOC,
	/* Atomics that are calls, not instructions (-gcflags=-N -l): load, store or swap, CAS. */
	C_ALOAD,
	C_ASTORE,
	C_ACAS,
};

/* A receiver passed to a call: `lea T(%rip), %rax` ... `call F`. */
struct pair {
	uint64_t target;
	uint8_t kind;	/* enum callee_kind */
	uint8_t caller; /* the callee's kind of the calling function: a method calls its own */
	uint32_t func;	/* index of the calling function */
};

struct ins {
	uint64_t addr, end;
	struct gm_x86_insn x;
};

/* Bounds on what a corrupt binary can make the rules hold (real ones are far below). */
#define MAX_FUNC_INSNS (1u << 18)
#define MAX_PAIRS      (1u << 20)

struct finder {
	const struct gm_exe *exe;
	struct gm_pclntab *p;
	struct gm_dwarf *layout;
	struct gm_globals *g;
	struct gm_func fn[F_COUNT];
	bool have_fn[F_COUNT];
	struct pair *pairs;
	size_t npairs, cap_pairs;
	struct ins *ins; /* the function being read */
	size_t nins, cap_ins;
};

size_t gm_globals_count(void)
{
	return G_COUNT;
}

const char *gm_globals_name(size_t i)
{
	return i < G_COUNT ? GLOBALS[i].name : NULL;
}

const char *gm_globals_rule(size_t i)
{
	return i < G_COUNT ? GLOBALS[i].rule : NULL;
}

static bool in_rw(const struct finder *f, uint64_t addr)
{
	for (size_t i = 0; i < f->exe->nloads; i++) {
		uint64_t vaddr = f->exe->loads[i].vaddr, memsz = f->exe->loads[i].memsz;
		if ((f->exe->loads[i].flags & PF_W) && addr >= vaddr && addr - vaddr < memsz)
			return true;
	}
	return false;
}

static void set(struct finder *f, enum gid id, uint64_t addr)
{
	f->g->addr[id] = addr;
	f->g->found[id] = true;
}

static void why(struct finder *f, enum gid id, const char *fmt, ...) GM_PRINTF(3, 4);
static void why(struct finder *f, enum gid id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->g->why[id], sizeof(f->g->why[id]), fmt, ap);
	va_end(ap);
}

static uint64_t rip_target(const struct ins *in)
{
	return in->end + (uint64_t)in->x.disp;
}

static uint64_t call_target(const struct ins *in)
{
	return in->end + (uint64_t)in->x.rel_off;
}

static bool is_lea_rip(const struct ins *in, uint8_t reg)
{
	return in->x.map == 0 && in->x.op == 0x8d && in->x.rip && in->x.rex_w && in->x.reg == reg;
}

static bool is_call(const struct ins *in)
{
	return in->x.map == 0 && in->x.op == 0xe8 && in->x.rel;
}

/* A memory operand at [reg] (no index, no displacement). */
static bool mem_at(const struct ins *in, uint8_t reg)
{
	return in->x.mem && !in->x.rip && in->x.base == reg && in->x.index == GM_X86_NO_REG &&
	       in->x.disp == 0;
}

static bool is_xchg_mem(const struct ins *in, uint8_t reg)
{
	return in->x.map == 0 && in->x.op == 0x87 && mem_at(in, reg);
}

static bool is_cas_mem(const struct ins *in, uint8_t reg)
{
	return in->x.map == 1 && in->x.op == 0xb1 && in->x.lock && mem_at(in, reg);
}

/* An 8-byte load mov T(%rip), reg. */
static bool is_load64_rip(const struct ins *in)
{
	return in->x.map == 0 && in->x.op == 0x8b && in->x.rip && in->x.rex_w;
}

/* An 8-byte store mov reg, T(%rip). */
static bool is_store64_rip(const struct ins *in)
{
	return in->x.map == 0 && in->x.op == 0x89 && in->x.rip && in->x.rex_w;
}

/*
 * Whether an instruction leaves RAX as it was: what the compiler puts
 * between loading a receiver and the call (nops, other arguments). Anything
 * else counts as a write.
 */
static bool keeps_rax(const struct ins *in)
{
	const struct gm_x86_insn *x = &in->x;
	if (x->vex)
		return false;
	if (x->map == 1)
		return x->op == 0x1f; /* nopl */
	if (x->map != 0)
		return false;
	bool rm_reg_rax = x->mod == 3 && x->rm == GM_X86_RAX;
	switch (x->op) {
	case 0x90:
		return x->rm == GM_X86_RAX; /* nop, xchg %ax,%ax */
	case 0x39:
	case 0x3b:
	case 0x84:
	case 0x85: /* cmp, test */
		return true;
	case 0x01:
	case 0x09:
	case 0x21:
	case 0x29:
	case 0x31:
	case 0x88:
	case 0x89:
	case 0xc6:
	case 0xc7:
	case 0xc1:
	case 0xd1: /* destination r/m */
		return !rm_reg_rax;
	case 0x80:
	case 0x81:
	case 0x83:
		return x->reg % 8 == 7 || !rm_reg_rax; /* cmp, or another destination */
	case 0x03:
	case 0x0b:
	case 0x23:
	case 0x2b:
	case 0x33:
	case 0x8a:
	case 0x8b:
	case 0x8d: /* destination reg */
		return x->reg != GM_X86_RAX;
	default:
		if (x->op >= 0xb8 && x->op <= 0xbf)
			return x->rm != GM_X86_RAX; /* mov $imm, reg */
		return false;
	}
}

/* Decodes the code of fn into f->ins; stops at the first byte that is not an instruction. */
static struct gomem_error *decode_func(struct finder *f, const struct gm_func *fn)
{
	f->nins = 0;
	if (fn->end <= fn->entry)
		return NULL;
	const uint8_t *code;
	struct gomem_error *err =
	    gm_pclntab_image_bytes(f->p, fn->entry, fn->end - fn->entry, &code);
	if (err) {
		gomem_error_destroy(err);
		return NULL; /* not in the file: nothing to read */
	}
	uint64_t n = fn->end - fn->entry;
	for (uint64_t off = 0; off < n && f->nins < MAX_FUNC_INSNS;) {
		struct gm_x86_insn x;
		if (!gm_x86_decode(code + off, (size_t)(n - off), &x))
			break;
		if (f->nins == f->cap_ins) {
			size_t cap = f->cap_ins ? f->cap_ins * 2 : 1024;
			struct ins *v = reallocarray(f->ins, cap, sizeof(*v));
			if (!v)
				return &gm_error_no_memory;
			f->ins = v;
			f->cap_ins = cap;
		}
		f->ins[f->nins++] = (struct ins){fn->entry + off, fn->entry + off + x.len, x};
		off += x.len;
	}
	return NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum callee_kind callee_kind(const char *name)
{
	if (!name)
		return C_OTHER;
	if (starts_with(name, "runtime.(*mheap)."))
		return C_MHEAP;
	if (starts_with(name, "runtime.(*gcControllerState)."))
		return C_GCCONTROLLER;
	if (starts_with(name, "runtime.(*consistentHeapStats)."))
		return C_HEAPSTATS;
	if (starts_with(name, "runtime.(*cleanupQueue)."))
		return C_CLEANUPQ;
	if (strcmp(name, "runtime.lock") == 0 || strcmp(name, "runtime.lock2") == 0 ||
	    strcmp(name, "runtime.lockWithRank") == 0)
		return C_LOCK;
	if (strcmp(name, "runtime.(*lfstack).push") == 0)
		return C_LFPUSH;
	if (strcmp(name, "runtime.stackalloc") == 0)
		return C_STACKALLOC;
	if (strcmp(name, "runtime.atomicstorep") == 0)
		return C_ASTORE;
	if (!starts_with(name, "runtime/internal/atomic.") &&
	    !starts_with(name, "internal/runtime/atomic."))
		return C_OTHER;
	/* The operation: the last element of the name, a method's or a function's. */
	const char *op = strrchr(name, '.') + 1;
	if (starts_with(op, "Load"))
		return C_ALOAD;
	if (starts_with(op, "Store") || starts_with(op, "Xchg") || starts_with(op, "Swap"))
		return C_ASTORE;
	if (starts_with(op, "Cas") || starts_with(op, "CompareAndSwap"))
		return C_ACAS;
	return C_OTHER;
}

static const char *func_name_at(const struct finder *f, uint64_t entry)
{
	struct gm_func fn;
	bool found = false;
	struct gomem_error *err = gm_pclntab_func_by_entry(f->p, entry, &fn, &found);
	gomem_error_destroy(err);
	return !err && found ? fn.name : NULL;
}

static struct gomem_error *add_pair(struct finder *f, uint64_t target, enum callee_kind kind,
				    enum callee_kind caller, uint32_t func)
{
	if (f->npairs == f->cap_pairs) {
		if (f->cap_pairs >= MAX_PAIRS)
			return NULL;
		size_t cap = f->cap_pairs ? f->cap_pairs * 2 : 4096;
		struct pair *v = reallocarray(f->pairs, cap, sizeof(*v));
		if (!v)
			return &gm_error_no_memory;
		f->pairs = v;
		f->cap_pairs = cap;
	}
	f->pairs[f->npairs++] = (struct pair){target, (uint8_t)kind, (uint8_t)caller, func};
	return NULL;
}

/* The receivers (lea T(%rip), %rax; ...; call F) of the function just decoded. */
static struct gomem_error *collect_pairs(struct finder *f, const struct gm_func *fn)
{
	enum callee_kind caller = callee_kind(fn->name);
	bool pending = false;
	uint64_t target = 0;
	for (size_t i = 0; i < f->nins; i++) {
		const struct ins *in = &f->ins[i];
		if (is_lea_rip(in, GM_X86_RAX)) {
			pending = true;
			target = rip_target(in);
			continue;
		}
		if (is_call(in) && pending) {
			enum callee_kind k = callee_kind(func_name_at(f, call_target(in)));
			if (k != C_OTHER)
				TRY(add_pair(f, target, k, caller, fn->index));
		}
		if (is_call(in) || !keeps_rax(in))
			pending = false;
	}
	return NULL;
}

/* One pass over every function: the ones the rules read, and every receiver of a call. */
static struct gomem_error *scan_text(struct finder *f)
{
	uint64_t n = gm_pclntab_nfunc(f->p);
	for (uint64_t i = 0; i < n; i++) {
		struct gm_func fn;
		struct gomem_error *err = gm_pclntab_func(f->p, i, &fn);
		if (err) {
			gomem_error_destroy(err);
			continue;
		}
		for (size_t k = 0; k < F_COUNT; k++) {
			size_t len = strlen(FUNCS[k]);
			/* Assembly functions may carry their ABI: runtime.rt0_go.abi0. */
			if (!f->have_fn[k] && strncmp(fn.name, FUNCS[k], len) == 0 &&
			    (fn.name[len] == '\0' || strcmp(fn.name + len, ".abi0") == 0)) {
				f->fn[k] = fn;
				f->have_fn[k] = true;
			}
		}
		TRY(decode_func(f, &fn));
		TRY(collect_pairs(f, &fn));
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * The most common receiver of calls of kind (from functions not of that
 * kind themselves), in a writable segment; false when none, or a tie.
 */
static bool vote(struct finder *f, enum callee_kind kind, uint64_t *ret, size_t *votes)
{
	size_t n = 0;
	for (size_t i = 0; i < f->npairs; i++)
		n += f->pairs[i].kind == kind && f->pairs[i].caller != kind &&
		     in_rw(f, f->pairs[i].target);
	uint64_t *t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return false;
	n = 0;
	for (size_t i = 0; i < f->npairs; i++) {
		if (f->pairs[i].kind == kind && f->pairs[i].caller != kind &&
		    in_rw(f, f->pairs[i].target))
			t[n++] = f->pairs[i].target;
	}
	gm_sort(t, n, sizeof(*t), cmp_u64);
	size_t best = 0, second = 0;
	uint64_t best_t = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && t[j] == t[i])
			j++;
		if (j - i > best) {
			second = best;
			best = j - i;
			best_t = t[i];
		} else if (j - i > second) {
			second = j - i;
		}
		i = j;
	}
	free(t);
	*votes = best;
	if (best == 0 || best == second)
		return false;
	*ret = best_t;
	return true;
}

/* The receivers of kind passed in function fk; the one target when they all agree. */
static bool pair_in(struct finder *f, enum fid fk, enum callee_kind kind, uint64_t *ret)
{
	if (!f->have_fn[fk])
		return false;
	bool any = false;
	uint64_t t = 0;
	for (size_t i = 0; i < f->npairs; i++) {
		const struct pair *pr = &f->pairs[i];
		if (pr->func != f->fn[fk].index || pr->kind != kind || !in_rw(f, pr->target))
			continue;
		if (any && pr->target != t)
			return false;
		any = true;
		t = pr->target;
	}
	if (any)
		*ret = t;
	return any;
}

/* A member's offset from the layout; false when the layout does not know it. */
static bool member_offset(struct finder *f, const char *type, const char *path, uint64_t *ret)
{
	struct gm_field fl;
	struct gomem_error *err = gm_dwarf_field(f->layout, type, path, &fl);
	gomem_error_destroy(err);
	if (err || !fl.present)
		return false;
	*ret = fl.offset;
	return true;
}

static void vote_rule(struct finder *f, enum gid id, enum callee_kind kind, const char *type,
		      const char *path)
{
	uint64_t t, off = 0;
	size_t votes = 0;
	if (!vote(f, kind, &t, &votes)) {
		why(f, id, "%s: %s", GLOBALS[id].rule,
		    votes ? "two receivers tie" : "no such call in the code");
		return;
	}
	if (type && !member_offset(f, type, path, &off)) {
		why(f, id, "the layout has no %s.%s", type, path);
		return;
	}
	set(f, id, t - off);
}

/* The function's code, decoded; false (and a reason) when it is not in the binary. */
static bool read_func(struct finder *f, enum fid fk, enum gid id, struct gomem_error **err)
{
	*err = NULL;
	if (!f->have_fn[fk]) {
		why(f, id, "no function %s in .gopclntab", FUNCS[fk]);
		return false;
	}
	*err = decode_func(f, &f->fn[fk]);
	return !*err;
}

/* Collects distinct targets; false when there are more than max. */
static bool add_unique(uint64_t *v, size_t *n, size_t max, uint64_t t)
{
	for (size_t i = 0; i < *n; i++) {
		if (v[i] == t)
			return true;
	}
	if (*n == max)
		return false;
	v[(*n)++] = t;
	return true;
}

/* Whether some instruction of the decoded function addresses T RIP-relative. */
static bool references(const struct finder *f, uint64_t t, bool (*kind)(const struct ins *))
{
	for (size_t i = 0; i < f->nins; i++) {
		if (f->ins[i].x.rip && rip_target(&f->ins[i]) == t && (!kind || kind(&f->ins[i])))
			return true;
	}
	return false;
}

/* Whether the decoded function fk passes T to an atomic of kind (a call, with -N -l). */
static bool atomic_call_on(const struct finder *f, enum fid fk, enum callee_kind kind, uint64_t t)
{
	for (size_t i = 0; i < f->npairs; i++) {
		const struct pair *pr = &f->pairs[i];
		if (pr->func == f->fn[fk].index && pr->kind == kind && pr->target == t)
			return true;
	}
	return false;
}

/*
 * Targets T of `lea T(%rip), %R` followed (within two instructions) by an
 * xchg or CAS at (%R), or passed to an atomic store or CAS that is a call
 * (-N -l); filter, when set, must accept T.
 */
static size_t atomic_targets(const struct finder *f, enum fid fk, bool cas, uint64_t *out,
			     size_t max, bool (*filter)(const struct finder *, enum fid, uint64_t))
{
	size_t n = 0;
	for (size_t i = 0; i < f->npairs; i++) {
		const struct pair *pr = &f->pairs[i];
		if (pr->func != f->fn[fk].index || pr->kind != (cas ? C_ACAS : C_ASTORE) ||
		    !in_rw(f, pr->target) || (filter && !filter(f, fk, pr->target)))
			continue;
		if (!add_unique(out, &n, max, pr->target))
			return max + 1;
	}
	for (size_t i = 0; i < f->nins; i++) {
		const struct ins *lea = &f->ins[i];
		if (!(lea->x.map == 0 && lea->x.op == 0x8d && lea->x.rip && lea->x.rex_w))
			continue;
		uint64_t t = rip_target(lea);
		for (size_t j = i + 1; j < f->nins && j <= i + 2; j++) {
			const struct ins *a = &f->ins[j];
			if (!(cas ? is_cas_mem(a, lea->x.reg) : is_xchg_mem(a, lea->x.reg)))
				continue;
			if (in_rw(f, t) && (!filter || filter(f, fk, t)) &&
			    !add_unique(out, &n, max, t))
				return max + 1;
			break;
		}
	}
	return n;
}

static void unique_rule(struct finder *f, enum gid id, const uint64_t *t, size_t n)
{
	if (n == 1)
		set(f, id, t[0]);
	else
		why(f, id, "%s: %s", GLOBALS[id].rule,
		    n ? "more than one candidate" : "no candidate");
}

/* The targets of `lea T(%rip), %rax; call lock` in the decoded function. */
static size_t lock_targets(struct finder *f, enum fid fk, uint64_t *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < f->npairs; i++) {
		const struct pair *pr = &f->pairs[i];
		if (pr->func == f->fn[fk].index && pr->kind == C_LOCK && in_rw(f, pr->target) &&
		    !add_unique(out, &n, max, pr->target))
			return max + 1;
	}
	return n;
}

static struct gomem_error *rule_lock(struct finder *f, enum fid fk, enum gid id)
{
	uint64_t t[4];
	if (!f->have_fn[fk]) {
		why(f, id, "no function %s in .gopclntab", FUNCS[fk]);
		return NULL;
	}
	unique_rule(f, id, t, lock_targets(f, fk, t, 4));
	return NULL;
}

static struct gomem_error *rule_allgs(struct finder *f)
{
	struct gomem_error *err;
	if (!read_func(f, F_ALLGADD, G_ALLGS, &err))
		return err;
	uint64_t c[4];
	size_t n = 0;
	for (size_t i = 0; i < f->nins && n <= 4; i++) {
		uint64_t t = rip_target(&f->ins[i]);
		if (f->ins[i].x.rip && in_rw(f, t) && references(f, t + 8, NULL) &&
		    references(f, t + 16, NULL) && !add_unique(c, &n, 4, t))
			n = 5;
	}
	unique_rule(f, G_ALLGS, c, n);
	if (!f->g->found[G_ALLGS]) {
		why(f, G_ALLGLEN, "needs runtime.allgs");
		return NULL;
	}
	/* allglen: xchg of a register just loaded from allgs+8 (atomic.Storeuintptr(&allglen,
	 * uintptr(len(allgs)))). */
	uint64_t len_addr = f->g->addr[G_ALLGS] + 8;
	n = 0;
	for (size_t i = 0; i < f->nins && n <= 4; i++) {
		const struct ins *lea = &f->ins[i];
		if (!(lea->x.map == 0 && lea->x.op == 0x8d && lea->x.rip && lea->x.rex_w) ||
		    i + 1 >= f->nins || !is_xchg_mem(&f->ins[i + 1], lea->x.reg))
			continue;
		uint8_t src = f->ins[i + 1].x.reg;
		for (size_t j = i; j-- > 0 && j + 4 >= i;) {
			const struct ins *ld = &f->ins[j];
			if (is_load64_rip(ld) && ld->x.reg == src && rip_target(ld) == len_addr) {
				if (in_rw(f, rip_target(lea)) &&
				    !add_unique(c, &n, 4, rip_target(lea)))
					n = 5;
				break;
			}
		}
	}
	unique_rule(f, G_ALLGLEN, c, n);
	return NULL;
}

/* allp: the (T, T+8) pair loaded in a function that ranges over it, voted over three. */
static struct gomem_error *rule_allp(struct finder *f)
{
	static const enum fid fks[] = {F_STARTINGSTACK, F_TINYALLOCS, F_HEAPSTATS_READ};
	uint64_t agreed = 0;
	size_t voters = 0;
	for (size_t k = 0; k < GM_ARRAY_SIZE(fks); k++) {
		if (!f->have_fn[fks[k]])
			continue;
		TRY(decode_func(f, &f->fn[fks[k]]));
		uint64_t c[4];
		size_t n = 0;
		for (size_t i = 0; i < f->nins && n <= 4; i++) {
			const struct ins *in = &f->ins[i];
			uint64_t t = rip_target(in);
			if (is_load64_rip(in) && in_rw(f, t) &&
			    references(f, t + 8, is_load64_rip) && !add_unique(c, &n, 4, t))
				n = 5;
		}
		if (n != 1)
			continue;
		if (voters && c[0] != agreed) {
			why(f, G_ALLP, "%s: the functions disagree", GLOBALS[G_ALLP].rule);
			return NULL;
		}
		agreed = c[0];
		voters++;
	}
	if (voters)
		set(f, G_ALLP, agreed);
	else
		why(f, G_ALLP, "%s: no candidate", GLOBALS[G_ALLP].rule);
	return NULL;
}

/* rt0_go: lea g0(%rip), %rcx; mov %rcx, %fs:-8 (setg); lea m0(%rip), %rax; mov %rcx, (%rax). */
static struct gomem_error *rule_m0(struct finder *f)
{
	struct gomem_error *err;
	if (!read_func(f, F_RT0_GO, G_M0, &err)) {
		why(f, G_G0, "%s", f->g->why[G_M0]);
		return err;
	}
	for (size_t i = 1; i + 2 < f->nins; i++) {
		const struct ins *tls = &f->ins[i], *g0 = &f->ins[i - 1], *m0 = &f->ins[i + 1];
		const struct ins *st = &f->ins[i + 2];
		/* %fs:-8, or %fs:(%rbx) with rbx = -8 in a PIE (initial-exec TLS). */
		if (!(tls->x.fs && tls->x.map == 0 && tls->x.op == 0x89 && tls->x.mem &&
		      tls->x.reg == GM_X86_RCX))
			continue;
		if (!is_lea_rip(g0, GM_X86_RCX) || !is_lea_rip(m0, GM_X86_RAX) ||
		    !(st->x.map == 0 && st->x.op == 0x89 && st->x.reg == GM_X86_RCX &&
		      mem_at(st, GM_X86_RAX)))
			continue;
		if (in_rw(f, rip_target(g0)) && in_rw(f, rip_target(m0))) {
			set(f, G_G0, rip_target(g0));
			set(f, G_M0, rip_target(m0));
			return NULL;
		}
	}
	why(f, G_M0, "%s: not in the code", GLOBALS[G_M0].rule);
	why(f, G_G0, "%s: not in the code", GLOBALS[G_G0].rule);
	return NULL;
}

/* Loaded in the decoded function: with a mov, or an atomic load that is a call (-N -l). */
static bool loaded(const struct finder *f, enum fid fk, uint64_t t)
{
	return references(f, t, is_load64_rip) || atomic_call_on(f, fk, C_ALOAD, t);
}

/* A global loaded with mov and stored with xchg in function fk (allm, buckhash). */
static struct gomem_error *rule_loaded_and_xchgd(struct finder *f, enum fid fk, enum gid id)
{
	struct gomem_error *err;
	if (!read_func(f, fk, id, &err))
		return err;
	uint64_t c[4];
	unique_rule(f, id, c, atomic_targets(f, fk, false, c, 4, loaded));
	return NULL;
}

static struct gomem_error *rule_cas(struct finder *f, enum fid fk, enum gid id)
{
	struct gomem_error *err;
	if (!read_func(f, fk, id, &err))
		return err;
	uint64_t c[4];
	unique_rule(f, id, c, atomic_targets(f, fk, true, c, 4, NULL));
	return NULL;
}

static struct gomem_error *rule_emptymspan(struct finder *f)
{
	struct gomem_error *err;
	if (!f->g->found[G_MHEAP]) {
		why(f, G_EMPTYMSPAN, "needs runtime.mheap_");
		return NULL;
	}
	if (!read_func(f, F_ALLOCMCACHE, G_EMPTYMSPAN, &err))
		return err;
	uint64_t c[4];
	size_t n = 0;
	for (size_t i = 0; i < f->nins && n <= 4; i++) {
		const struct ins *in = &f->ins[i];
		uint64_t t = rip_target(in);
		if (in->x.map == 0 && in->x.op == 0x8d && in->x.rip && in_rw(f, t) &&
		    t != f->g->addr[G_MHEAP] && !add_unique(c, &n, 4, t))
			n = 5;
	}
	unique_rule(f, G_EMPTYMSPAN, c, n);
	return NULL;
}

/* runfinq: fingRunning = true ... fingRunning = false (mfinal.go@1.19). */
static struct gomem_error *rule_fingrunning(struct finder *f)
{
	struct gomem_error *err;
	if (!read_func(f, F_RUNFINQ, G_FINGRUNNING, &err))
		return err;
	uint64_t c[4];
	size_t n = 0;
	for (size_t i = 0; i < f->nins && n <= 4; i++) {
		const struct ins *a = &f->ins[i];
		if (!(a->x.map == 0 && a->x.op == 0xc6 && a->x.rip && a->x.imm == 1))
			continue;
		uint64_t t = rip_target(a);
		for (size_t j = 0; j < f->nins; j++) {
			const struct ins *b = &f->ins[j];
			if (b->x.map == 0 && b->x.op == 0xc6 && b->x.rip && b->x.imm == 0 &&
			    rip_target(b) == t) {
				if (in_rw(f, t) && !add_unique(c, &n, 4, t))
					n = 5;
				break;
			}
		}
	}
	unique_rule(f, G_FINGRUNNING, c, n);
	return NULL;
}

static struct gomem_error *rule_work(struct finder *f)
{
	uint64_t t, off;
	if (!f->have_fn[F_PUTFULL]) {
		why(f, G_WORK, "no function %s in .gopclntab", FUNCS[F_PUTFULL]);
		return NULL;
	}
	if (!pair_in(f, F_PUTFULL, C_LFPUSH, &t))
		why(f, G_WORK, "%s: no candidate", GLOBALS[G_WORK].rule);
	else if (!member_offset(f, "runtime.workType", "full", &off))
		why(f, G_WORK, "the layout has no runtime.workType.full");
	else
		set(f, G_WORK, t - off);
	return NULL;
}

/* sched: the most locked mutex, which must be the first one mcommoninit locks. */
static struct gomem_error *rule_sched(struct finder *f)
{
	uint64_t t, first = 0, off;
	size_t votes;
	if (!vote(f, C_LOCK, &t, &votes)) {
		why(f, G_SCHED, "%s: no single most locked mutex", GLOBALS[G_SCHED].rule);
		return NULL;
	}
	for (size_t i = 0; f->have_fn[F_MCOMMONINIT] && i < f->npairs; i++) {
		if (f->pairs[i].func == f->fn[F_MCOMMONINIT].index && f->pairs[i].kind == C_LOCK) {
			first = f->pairs[i].target;
			break;
		}
	}
	if (first != t)
		why(f, G_SCHED, "%s: the most locked mutex is not mcommoninit's",
		    GLOBALS[G_SCHED].rule);
	else if (!member_offset(f, "runtime.schedt", "lock", &off))
		why(f, G_SCHED, "the layout has no runtime.schedt.lock");
	else
		set(f, G_SCHED, t - off);
	return NULL;
}

/* schedinit: gcrash.stack = stackalloc(16384) (proc.go@1.22). */
static struct gomem_error *rule_gcrash(struct finder *f)
{
	struct gomem_error *err;
	uint64_t off;
	if (!read_func(f, F_SCHEDINIT, G_GCRASH, &err))
		return err;
	for (size_t i = 0; i < f->nins; i++) {
		if (!is_call(&f->ins[i]) ||
		    callee_kind(func_name_at(f, call_target(&f->ins[i]))) != C_STACKALLOC)
			continue;
		for (size_t j = i + 1; j < f->nins && j <= i + 6; j++) {
			const struct ins *st = &f->ins[j];
			if (is_call(st))
				break;
			if (!(st->x.map == 0 && st->x.op == 0x89 && st->x.rip && st->x.rex_w))
				continue;
			if (!in_rw(f, rip_target(st)))
				break;
			if (!member_offset(f, "runtime.g", "stack.lo", &off)) {
				why(f, G_GCRASH, "the layout has no runtime.g.stack.lo");
				return NULL;
			}
			set(f, G_GCRASH, rip_target(st) - off);
			return NULL;
		}
	}
	why(f, G_GCRASH, "%s: not in the code", GLOBALS[G_GCRASH].rule);
	return NULL;
}

/*
 * gcCleanups, the cleanup queue's one instance (mcleanup.go@1.25): every
 * `lea T(%rip), %rax; call (*cleanupQueue).M` outside the methods must
 * pass the same T (3 calls in 1.25-1.27: flush, enqueue, wake; more with
 * -N -l). A single other receiver leaves it unknown.
 */
static void rule_gccleanups(struct finder *f)
{
	uint64_t t = 0;
	size_t n = 0;
	for (size_t i = 0; i < f->npairs; i++) {
		const struct pair *pr = &f->pairs[i];
		if (pr->kind != C_CLEANUPQ || pr->caller == C_CLEANUPQ)
			continue;
		if (!in_rw(f, pr->target) || (n && pr->target != t)) {
			why(f, G_GCCLEANUPS, "%s: the receivers differ",
			    GLOBALS[G_GCCLEANUPS].rule);
			return;
		}
		t = pr->target;
		n++;
	}
	if (n)
		set(f, G_GCCLEANUPS, t);
	else
		why(f, G_GCCLEANUPS, "%s: no such call in the code", GLOBALS[G_GCCLEANUPS].rule);
}

/*
 * queuefinalizer (mfinal.go@1.19-1.27): finc = persistentalloc(...);
 * finc.alllink = allfin; allfin = finc. After the call of persistentalloc,
 * `mov allfin(%rip), R` and, within three instructions, `mov R,
 * alllink(B)`; allfin is also stored in the function. finq's value goes to
 * block.next, another offset.
 */
static struct gomem_error *rule_allfin(struct finder *f)
{
	struct gomem_error *err;
	uint64_t off;
	const char *fb = gm_dwarf_has_type(f->layout, "runtime.finBlock") ? "runtime.finBlock"
									  : "runtime.finblock";
	if (!member_offset(f, fb, "alllink", &off)) {
		why(f, G_ALLFIN, "the layout has no %s.alllink", fb);
		return NULL;
	}
	if (!read_func(f, F_QUEUEFINALIZER, G_ALLFIN, &err))
		return err;
	size_t start = f->nins;
	for (size_t i = 0; i < f->nins; i++) {
		const struct ins *in = &f->ins[i];
		const char *callee = is_call(in) ? func_name_at(f, call_target(in)) : NULL;
		if (callee && strcmp(callee, "runtime.persistentalloc") == 0) {
			start = i + 1;
			break;
		}
	}
	if (start == f->nins) {
		why(f, G_ALLFIN, "%s: no call of persistentalloc", GLOBALS[G_ALLFIN].rule);
		return NULL;
	}
	/* The globals linked into a block (a few distinct ones at most), then those stored. */
	uint64_t linked[8], c[8];
	size_t nl = 0, n = 0;
	for (size_t i = start; i < f->nins && nl <= 8; i++) {
		const struct ins *ld = &f->ins[i];
		uint64_t t = rip_target(ld);
		if (!is_load64_rip(ld) || !in_rw(f, t))
			continue;
		for (size_t j = i + 1; j < f->nins && j <= i + 3; j++) {
			const struct ins *st = &f->ins[j];
			if (is_call(st))
				break;
			if (!(st->x.map == 0 && st->x.op == 0x89 && st->x.rex_w && st->x.mem &&
			      !st->x.rip && st->x.reg == ld->x.reg && st->x.base != GM_X86_NO_REG &&
			      st->x.base != GM_X86_RSP && st->x.index == GM_X86_NO_REG &&
			      (uint64_t)st->x.disp == off))
				continue;
			if (!add_unique(linked, &nl, 8, t))
				nl = 9;
			break;
		}
	}
	if (nl > 8)
		n = 2; /* not queuefinalizer's code: more than one candidate */
	for (size_t k = 0; nl <= 8 && k < nl; k++) {
		if (references(f, linked[k], is_store64_rip))
			c[n++] = linked[k];
	}
	unique_rule(f, G_ALLFIN, c, n);
	return NULL;
}

static struct gomem_error *find_all(struct finder *f)
{
	TRY(scan_text(f));
	vote_rule(f, G_MHEAP, C_MHEAP, NULL, NULL);
	vote_rule(f, G_GCCONTROLLER, C_GCCONTROLLER, NULL, NULL);
	vote_rule(f, G_MEMSTATS, C_HEAPSTATS, "runtime.mstats", "heapStats");
	TRY(rule_allgs(f));
	TRY(rule_allp(f));
	TRY(rule_m0(f));
	TRY(rule_loaded_and_xchgd(f, F_MCOMMONINIT, G_ALLM));
	TRY(rule_emptymspan(f));
	TRY(rule_lock(f, F_STACKALLOC, G_STACKLARGE));
	TRY(rule_lock(f, F_NEWMARKBITS, G_GCBITSARENAS));
	TRY(rule_cas(f, F_PERSISTENTALLOC1, G_PERSISTENTCHUNKS));
	TRY(rule_loaded_and_xchgd(f, F_STKBUCKET, G_BUCKHASH));
	TRY(rule_cas(f, F_CREATEFING, G_FINGSTATUS));
	TRY(rule_fingrunning(f));
	TRY(rule_work(f));
	TRY(rule_sched(f));
	TRY(rule_gcrash(f));
	rule_gccleanups(f);
	return rule_allfin(f);
}

/* Two globals found at one address: one of the rules is wrong, so neither is kept. */
static void cross_check(struct gm_globals *g)
{
	for (size_t i = 0; i < G_COUNT; i++) {
		for (size_t j = i + 1; j < G_COUNT; j++) {
			if (!g->found[i] || !g->found[j] || g->addr[i] != g->addr[j])
				continue;
			g->found[i] = g->found[j] = false;
			snprintf(g->why[i], sizeof(g->why[i]), "found at the address of %s",
				 GLOBALS[j].name);
			snprintf(g->why[j], sizeof(g->why[j]), "found at the address of %s",
				 GLOBALS[i].name);
		}
	}
}

struct gomem_error *gm_globals_find(const struct gm_exe *exe, struct gm_pclntab *p,
				    struct gm_dwarf *layout, struct gm_globals **ret)
{
	struct finder f = {.exe = exe, .p = p, .layout = layout};
	f.g = calloc(1, sizeof(*f.g));
	if (!f.g)
		return &gm_error_no_memory;
	struct gomem_error *err = find_all(&f);
	free(f.pairs);
	free(f.ins);
	if (err) {
		gm_globals_destroy(f.g);
		return err;
	}
	cross_check(f.g);
	*ret = f.g;
	return NULL;
}

void gm_globals_destroy(struct gm_globals *g)
{
	free(g);
}

static int gid_of(const char *name)
{
	for (int i = 0; i < G_COUNT; i++) {
		if (strcmp(GLOBALS[i].name, name) == 0)
			return i;
	}
	return -1;
}

bool gm_globals_known(const char *name)
{
	return gid_of(name) >= 0;
}

bool gm_globals_lookup(const struct gm_globals *g, const char *name, uint64_t *addr_ret)
{
	int id = gid_of(name);
	if (id < 0 || !g->found[id])
		return false;
	*addr_ret = g->addr[id];
	return true;
}

const char *gm_globals_why(const struct gm_globals *g, const char *name)
{
	int id = gid_of(name);
	if (id < 0)
		return "gomem has no rule that finds it in code";
	return g->found[id] ? "found" : g->why[id];
}
