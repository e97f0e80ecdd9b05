/*
 * The goroutine stacks as roots (stackroots.h), in scanstack's order:
 * sched.ctxt, the frames (precise by the stack maps at continpc - 1, or
 * conservative), the defer records, the panic, then the stack objects.
 *
 * Stack objects are scanned as the runtime does, only when reachable
 * (mgcstack.go: buildIndex, findObject, getPtr): a pointer into the
 * goroutine's stack from a scanned slot, a defer, the panic, a register or
 * another stack object reaches the object that holds it (any interior
 * pointer); precisely reached objects are scanned first, by their own
 * pointer mask, and an object reached only conservatively is scanned
 * conservatively within its mask. Dead address-taken locals are thus not
 * roots. A stack object with a GC program (Go <= 1.23, negative ptrdata)
 * is scanned conservatively whole.
 *
 * Each stack is copied once ([sp, hi), pages that cannot be read as
 * zeros: a hole in a core), so a frame costs no reads of the target.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "objects/stackroots.h"

/* runtime.maxstacksize is 1 GB on 64-bit: a larger used stack is corrupt. */
#define MAX_STACK_BYTES (1ULL << 30)
/* Used stacks up to this size are copied whole; larger ones are read a page at a time. */
#define MAX_COPY_BYTES (4ULL << 20)
#define CHUNK_WORDS    512
/* More stack object records than this in one function is a corrupt funcdata. */
#define MAX_FRAME_OBJECTS (1u << 16)
/* More defer records than this on one G is a cycle. */
#define MAX_DEFERS  (1u << 20)
#define G_COPYSTACK 8 /* _Gcopystack (runtime2.go, 1.19-1.27) */

struct stkobj {
	uint64_t addr, size;
	int32_t ptrdata; /* bytes with pointers; negative: a GC program (<= 1.23) */
	uint32_t gcdataoff;
	uint64_t frame_pc, frame_sp, frame_fp;
	const char *func;
	bool scanned;
};

struct ptr {
	uint64_t value;
};

struct scan {
	struct gm_runtime *rt;
	const struct gm_pclntab *tab;
	const struct gm_frames_layout *L;
	gm_stack_slot_fn fn;
	void *arg;
	struct gm_stack_roots_stats *stats;
	uint64_t rodata; /* moduledata.rodata, link-time */
	/* The goroutine being scanned. */
	const struct gm_goroutine *g;
	uint64_t base, hi; /* the copy of its stack: [base, hi) */
	uint8_t *stack;
	struct stkobj *objs;
	size_t nobjs, cap_objs;
	/* Pointers into the stack, to find stack objects with: precise ones first. */
	uint64_t *precise, *cons;
	size_t nprecise, ncons, cap_precise, cap_cons;
	size_t max_ptrs;
};

GM_DEFINE_GROW(grow_objs, struct stkobj)
GM_DEFINE_GROW(grow_u64, uint64_t)

/* A word of the target: from the copy of the stack when it is there. */
static struct gomem_error *word(struct scan *s, uint64_t addr, uint64_t *v)
{
	if (s->stack && addr >= s->base && addr < s->hi && s->hi - addr >= 8) {
		memcpy(v, s->stack + (addr - s->base), 8);
		return NULL;
	}
	struct gomem_error *err = gm_read_u64(s->rt->mem, addr, v);
	if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
		gomem_error_destroy(err);
		*v = 0; /* a hole reads as nothing (GO-OBJECTS.md §6.19) */
		return NULL;
	}
	return err;
}

/*
 * n words at addr (8-aligned, inside one 4 KiB page run of the stack) into
 * buf: from the copy when there is one, else from the target, pages that
 * cannot be read as zeros.
 */
static struct gomem_error *read_words(struct scan *s, uint64_t addr, uint64_t *buf, size_t n)
{
	if (s->stack && addr >= s->base && addr + 8 * n <= s->hi) {
		memcpy(buf, s->stack + (addr - s->base), 8 * n);
		return NULL;
	}
	for (size_t i = 0; i < n;) {
		uint64_t a = addr + 8 * i;
		size_t k = (size_t)((((a | 4095) + 1) - a) / 8);
		if (k > n - i)
			k = n - i;
		struct gomem_error *err = gm_read(s->rt->mem, a, buf + i, 8 * k);
		if (err && gomem_error_code(err) != GOMEM_ERROR_FAULT)
			return err;
		if (err) {
			gomem_error_destroy(err);
			memset(buf + i, 0, 8 * k);
		}
		i += k;
	}
	return NULL;
}

/* Remembers a pointer into the stack (bounded by the stack's words). */
static struct gomem_error *note_stack_ptr(struct scan *s, uint64_t v, bool conservative)
{
	if (v < s->g->lo || v >= s->g->hi)
		return NULL;
	uint64_t **a = conservative ? &s->cons : &s->precise;
	size_t *n = conservative ? &s->ncons : &s->nprecise;
	size_t *cap = conservative ? &s->cap_cons : &s->cap_precise;
	if (*n >= s->max_ptrs)
		return NULL; /* every word of the stack seen once already: a repeat */
	uint64_t *slot = grow_u64(a, n, cap);
	if (!slot)
		return &gm_error_no_memory;
	*slot = v;
	return NULL;
}

static struct gomem_error *emit(struct scan *s, enum gm_stack_slot_kind kind, uint64_t frame_pc,
				uint64_t frame_sp, uint64_t frame_fp, const char *func,
				uint64_t addr, uint64_t value, bool conservative)
{
	if (!value)
		return NULL;
	TRY(note_stack_ptr(s, value, conservative));
	struct gm_stack_slot slot = {.kind = kind,
				     .goid = s->g->goid,
				     .frame_pc = frame_pc,
				     .frame_sp = frame_sp,
				     .frame_fp = frame_fp,
				     .func = func,
				     .addr = addr,
				     .value = value,
				     .conservative = conservative};
	s->stats->slots++;
	return s->fn(s->arg, &slot);
}

static struct gomem_error *emit_frame(struct scan *s, const struct gm_stkframe *fr,
				      enum gm_stack_slot_kind kind, uint64_t addr,
				      bool conservative)
{
	uint64_t v;
	TRY(word(s, addr, &v));
	return emit(s, kind, fr->pc, fr->sp, fr->fp, fr->fn.name, addr, v, conservative);
}

/*
 * n words at addr, all in one 4 KiB page, into buf: from the copy of the
 * stack, else from the target; *readable false when the page cannot be read.
 */
static struct gomem_error *read_page_words(struct scan *s, uint64_t addr, uint64_t *buf, size_t n,
					   bool *readable)
{
	*readable = true;
	if (s->stack && addr >= s->base && addr + 8 * n <= s->hi) {
		memcpy(buf, s->stack + (addr - s->base), 8 * n);
		return NULL;
	}
	struct gomem_error *err = gm_read(s->rt->mem, addr, buf, 8 * n);
	if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
		gomem_error_destroy(err);
		*readable = false; /* a hole: nothing to scan there */
		return NULL;
	}
	return err;
}

/*
 * Where reading may succeed again after a fault at addr: a core's next
 * segment with data (a corrupt stack's bounds may span gigabytes of
 * nothing); a live target's next page.
 */
static uint64_t next_readable(struct scan *s, uint64_t addr)
{
	const struct gm_memory *mem = s->rt->mem;
	uint64_t next_page = (addr | 4095) + 1;
	if (mem->read_fn || !mem->nsegs)
		return next_page;
	size_t i = gm_memory_first_segment_after(mem, addr);
	if (i == mem->nsegs)
		return UINT64_MAX;
	const struct gm_segment *seg = &mem->segs[i];
	if (addr < seg->start)
		return seg->start & ~7ULL;
	if (addr < seg->start + seg->data_len)
		return next_page; /* (a fault inside the data: a file range's edge) */
	return seg->end > next_page ? seg->end : next_page; /* no data past data_len */
}

/*
 * Every word of [lo, hi) of a frame (or of an undecoded rest: fr NULL),
 * conservatively, a page at a time; what cannot be read is skipped.
 */
static struct gomem_error *scan_conservative(struct scan *s, const struct gm_stkframe *fr,
					     uint64_t lo, uint64_t hi)
{
	uint64_t buf[CHUNK_WORDS];
	lo = (lo + 7) & ~7ULL;
	if (hi > s->hi)
		hi = s->hi;
	for (uint64_t a = lo; a < hi && hi - a >= 8;) {
		uint64_t page_end = (a | 4095) + 1;
		size_t n = (size_t)(((page_end < hi ? page_end : hi) - a) / 8);
		bool readable;
		TRY(read_page_words(s, a, buf, n, &readable));
		if (!readable) {
			a = next_readable(s, a);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			s->stats->words_conservative++;
			TRY(emit(s, GM_STACK_SLOT_CONSERVATIVE, fr ? fr->pc : 0, fr ? fr->sp : 0,
				 fr ? fr->fp : 0, fr ? fr->fn.name : NULL, a + 8 * i, buf[i],
				 true));
		}
		a += 8 * (uint64_t)n;
	}
	return NULL;
}

/* The arguments' bytes of a frame (frame.argBytes), 0 when unknown. */
static uint64_t arg_bytes(const struct gm_stkframe *fr)
{
	return fr->fn.args > 0 ? (uint64_t)fr->fn.args : 0;
}

/* A frame scanned conservatively: [sp, varp) and its arguments (scanframeworker). */
static struct gomem_error *conservative_frame(struct scan *s, const struct gm_stkframe *fr)
{
	s->stats->frames_conservative++;
	TRY(scan_conservative(s, fr, fr->sp, fr->varp));
	return scan_conservative(s, fr, fr->argp, fr->argp + arg_bytes(fr));
}

/* The live words of nbit words at base by bit vector bits. */
static struct gomem_error *scan_bits(struct scan *s, const struct gm_stkframe *fr,
				     enum gm_stack_slot_kind kind, uint64_t base, int32_t nbit,
				     const uint8_t *bits)
{
	for (int32_t j = 0; j < nbit; j++) {
		if (bits[j / 8] >> (j % 8) & 1)
			TRY(emit_frame(s, fr, kind, base + 8 * (uint64_t)j, false));
	}
	return NULL;
}

/* One bit vector of a stack map; *ok false when the map cannot say (the frame is undecodable). */
static struct gomem_error *stackmap_bits(struct scan *s, const struct gm_stkframe *fr,
					 uint32_t which, int32_t idx, struct gm_stackmap *sm,
					 const uint8_t **bits, bool *ok)
{
	bool found;
	*ok = false;
	*bits = NULL;
	TRY(gm_pclntab_stackmap(s->tab, &fr->fn, which, sm, &found));
	if (!found || sm->n <= 0)
		return NULL;
	if (sm->nbit > 0) {
		if (idx < 0 || idx >= sm->n)
			return NULL;
		*bits = gm_stackmap_bits(sm, idx);
	}
	*ok = true;
	return NULL;
}

/* FUNCDATA_StackObjects of the frame: each record allocated in it becomes a stack object. */
static struct gomem_error *add_stack_objects(struct scan *s, const struct gm_stkframe *fr)
{
	uint64_t fd;
	const uint8_t *p;
	TRY(gm_pclntab_funcdata(s->tab, &fr->fn, GM_FUNCDATA_STACK_OBJECTS, &fd));
	if (!fd)
		return NULL;
	uint64_t n;
	TRY(gm_pclntab_image_bytes(s->tab, fd, 8, &p));
	memcpy(&n, p, 8);
	if (n == 0)
		return NULL;
	if (n > MAX_FRAME_OBJECTS)
		return gm_error(GOMEM_ERROR_FORMAT, "%s: %" PRIu64 " stack objects", fr->fn.name,
				n);
	TRY(gm_pclntab_image_bytes(s->tab, fd + 8, 16 * n, &p));
	for (uint64_t i = 0; i < n; i++, p += 16) {
		/* stackObjectRecord{off, size int32; ptrdata int32; gcdataoff uint32} (stack.go) */
		int32_t off, size, ptrdata;
		uint32_t gcdataoff;
		memcpy(&off, p, 4);
		memcpy(&size, p + 4, 4);
		memcpy(&ptrdata, p + 8, 4);
		memcpy(&gcdataoff, p + 12, 4);
		uint64_t addr = (off < 0 ? fr->varp : fr->argp) + (uint64_t)(int64_t)off;
		/* Below sp: not allocated in the frame yet; past hi: not a stack object (corrupt).
		 */
		if (addr < fr->sp || size <= 0 || addr >= s->hi || s->hi - addr < (uint64_t)size)
			continue;
		struct stkobj *o = grow_objs(&s->objs, &s->nobjs, &s->cap_objs);
		if (!o)
			return &gm_error_no_memory;
		*o = (struct stkobj){.addr = addr,
				     .size = (uint64_t)size,
				     .ptrdata = ptrdata,
				     .gcdataoff = gcdataoff,
				     .frame_pc = fr->pc,
				     .frame_sp = fr->sp,
				     .frame_fp = fr->fp,
				     .func = fr->fn.name};
	}
	return NULL;
}

/*
 * argMapInternal (stkframe.go@1.21-1.27, getStackMap@1.19):
 * reflect.makeFuncStub and reflect.methodValueCall keep their *methodValue
 * (makeFuncCtxt: fn, stack *bitVector, argLen, ...) at sp+MinFrameSize, and
 * its bitvector maps their arguments; the results count only once reflect
 * says they are valid (the bool at arg0+32). Their locals hold an
 * abi.RegArgs, which the runtime scans as a stack object: scanned here
 * conservatively, so the frame counts as conservative. *ok false when the
 * method value does not match the frame.
 */
static struct gomem_error *reflect_frame(struct scan *s, const struct gm_stkframe *fr, bool *ok)
{
	struct gm_runtime *rt = s->rt;
	bool lr = rt->arch && rt->arch->lr >= 0;
	uint64_t entry = fr->fn.entry + rt->bias, arg0 = fr->sp + (lr ? 8 : 0);
	uint64_t mv, fnv, stack, arg_len, n, bytedata, ret_valid;
	*ok = false;
	if (!fr->fn.name || (strcmp(fr->fn.name, "reflect.makeFuncStub") != 0 &&
			     strcmp(fr->fn.name, "reflect.methodValueCall") != 0))
		return NULL;
	if (arg0 >= fr->fp - (lr ? 0 : 8)) { /* not started: no arguments, no locals */
		*ok = fr->pc == entry;
		return NULL;
	}
	TRY(word(s, arg0, &mv));
	TRY(word(s, mv, &fnv));
	if (!mv || fnv != entry)
		return NULL;
	TRY(word(s, mv + 8, &stack));
	TRY(word(s, mv + 16, &arg_len));
	TRY(word(s, stack, &n));
	TRY(word(s, stack + 8, &bytedata));
	TRY(word(s, arg0 + 32, &ret_valid));
	n = (uint32_t)n;
	if (!(ret_valid & 0xff) && arg_len / 8 < n)
		n = arg_len / 8; /* the results are not written yet */
	if (!stack || n > (s->hi - fr->argp) / 8)
		return NULL;
	s->stats->frames_conservative++;
	TRY(scan_conservative(s, fr, fr->sp, fr->varp));
	for (uint64_t j = 0; j < n; j += 8) {
		uint8_t b;
		struct gomem_error *err = gm_read(rt->mem, bytedata + j / 8, &b, 1);
		if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
			gomem_error_destroy(err);
			*ok = true; /* the map cannot be read: the rest conservatively */
			return scan_conservative(s, fr, fr->argp + 8 * j, fr->argp + 8 * n);
		}
		TRY(err);
		for (uint64_t k = j; k < n && k < j + 8; k++) {
			if (b >> (k - j) & 1)
				TRY(emit_frame(s, fr, GM_STACK_SLOT_ARG, fr->argp + 8 * k, false));
		}
	}
	*ok = true;
	return NULL;
}

/*
 * getStackMap and the precise half of scanframeworker. *ok false when the
 * frame has no usable map (the runtime would throw): scan it conservatively.
 */
static struct gomem_error *precise_frame(struct scan *s, const struct gm_stkframe *fr, bool *ok)
{
	struct gm_runtime *rt = s->rt;
	*ok = true;
	if (fr->continpc == 0) /* it called sigpanic and has no deferreturn: dead */
		return NULL;
	uint64_t target = fr->continpc, entry = fr->fn.entry + rt->bias;
	int32_t idx = -1;
	if (target != entry) {
		/* Back up to the CALL: the return address may be the next statement's. */
		target--;
		TRY(gm_pclntab_pcdata(s->tab, &fr->fn, GM_PCDATA_STACK_MAP_INDEX, target - rt->bias,
				      &idx));
	}
	if (idx == -1)
		idx = 0; /* the prologue: the runtime uses the entry map */
	struct gm_stackmap sm;
	const uint8_t *bits;
	uint64_t min_locals = rt->arch && rt->arch->lr >= 0 ? 16 : 0; /* arm64: StackAlign */
	if (fr->varp - fr->sp > min_locals) {
		TRY(stackmap_bits(s, fr, GM_FUNCDATA_LOCALS_POINTER_MAPS, idx, &sm, &bits, ok));
		if (!*ok)
			return NULL;
		if (bits && fr->varp - fr->sp < 8 * (uint64_t)sm.nbit) {
			*ok = false;
			return NULL;
		}
		if (bits)
			TRY(scan_bits(s, fr, GM_STACK_SLOT_LOCAL, fr->varp - 8 * (uint64_t)sm.nbit,
				      sm.nbit, bits));
	}
	if (fr->fn.args == GM_ARGS_SIZE_UNKNOWN)
		return reflect_frame(s, fr, ok);
	if (fr->fn.args >= 8) {
		TRY(stackmap_bits(s, fr, GM_FUNCDATA_ARGS_POINTER_MAPS, idx, &sm, &bits, ok));
		if (!*ok)
			return NULL;
		if (bits)
			TRY(scan_bits(s, fr, GM_STACK_SLOT_ARG, fr->argp, sm.nbit, bits));
	}
	return add_stack_objects(s, fr);
}

static struct gomem_error *on_frame(void *arg, const struct gm_stkframe *fr)
{
	struct scan *s = arg;
	s->stats->frames++;
	if (fr->conservative)
		return conservative_frame(s, fr);
	bool ok;
	TRY(precise_frame(s, fr, &ok));
	return ok ? NULL : conservative_frame(s, fr);
}

/* The stack object holding p, or NULL (objs sorted by address). */
static struct stkobj *find_object(struct scan *s, uint64_t p)
{
	size_t lo = 0, hi = s->nobjs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->objs[mid].addr <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct stkobj *o = &s->objs[lo - 1];
	return p < o->addr + o->size ? o : NULL;
}

static int cmp_obj(const void *a, const void *b)
{
	const struct stkobj *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct gomem_error *scan_object(struct scan *s, struct stkobj *o, bool conservative)
{
	o->scanned = true;
	uint64_t end = o->addr + o->size;
	if (o->ptrdata < 0) { /* a GC program: every word, conservatively */
		for (uint64_t a = o->addr; a + 8 <= end; a += 8) {
			uint64_t v;
			s->stats->words_conservative++;
			TRY(word(s, a, &v));
			TRY(emit(s, GM_STACK_SLOT_OBJECT, o->frame_pc, o->frame_sp, o->frame_fp,
				 o->func, a, v, true));
		}
		return NULL;
	}
	uint64_t nwords = (uint64_t)o->ptrdata / 8;
	if (nwords > o->size / 8)
		nwords = o->size / 8;
	const uint8_t *mask;
	if (!nwords)
		return NULL;
	TRY(gm_pclntab_image_bytes(s->tab, s->rodata + o->gcdataoff, (nwords + 7) / 8, &mask));
	for (uint64_t j = 0; j < nwords; j++) {
		if (!(mask[j / 8] >> (j % 8) & 1))
			continue;
		uint64_t v, a = o->addr + 8 * j;
		if (conservative)
			s->stats->words_conservative++;
		TRY(word(s, a, &v));
		TRY(emit(s, GM_STACK_SLOT_OBJECT, o->frame_pc, o->frame_sp, o->frame_fp, o->func, a,
			 v, conservative));
	}
	return NULL;
}

/* The stack objects reachable from the pointers into the stack, precise ones first. */
static struct gomem_error *scan_objects(struct scan *s)
{
	if (!s->nobjs)
		return NULL;
	qsort(s->objs, s->nobjs, sizeof(*s->objs), cmp_obj);
	for (;;) {
		bool conservative = s->nprecise == 0;
		if (conservative && s->ncons == 0)
			return NULL;
		uint64_t p = conservative ? s->cons[--s->ncons] : s->precise[--s->nprecise];
		struct stkobj *o = find_object(s, p);
		if (o && !o->scanned)
			TRY(scan_object(s, o, conservative));
	}
}

/* A copy of [sp, hi) of the stack, when it is small enough; pages that cannot be read are zeros. */
static struct gomem_error *copy_stack(struct scan *s, uint64_t sp, uint64_t hi)
{
	s->base = sp & ~7ULL;
	s->hi = hi;
	uint64_t len = hi - s->base;
	if (len > MAX_COPY_BYTES || len % 8)
		return NULL; /* read as it is scanned */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return &gm_error_no_memory;
	struct gomem_error *err = read_words(s, s->base, (uint64_t *)copy, len / 8);
	if (err) {
		free(copy);
		return err;
	}
	s->stack = copy;
	return NULL;
}

/* gp._defer's records (scanstack): their fn and link, and heap records themselves. */
static struct gomem_error *scan_defers(struct scan *s)
{
	const struct gm_frames_layout *L = s->L;
	uint64_t holder = s->g->g + L->g_defer.offset, d;
	TRY(word(s, holder, &d));
	for (uint64_t i = 0; d && i < MAX_DEFERS; i++) {
		uint64_t fnv, link, heap = 0;
		TRY(word(s, d + L->defer_fn.offset, &fnv));
		TRY(word(s, d + L->defer_link.offset, &link));
		struct gomem_error *err = gm_rt_read_field(s->rt, d, &L->defer_heap, &heap);
		if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
			gomem_error_destroy(err);
			return NULL; /* a record that cannot be read ends the list */
		}
		TRY(err);
		TRY(emit(s, GM_STACK_SLOT_DEFER, 0, 0, 0, NULL, d + L->defer_fn.offset, fnv,
			 false));
		TRY(emit(s, GM_STACK_SLOT_DEFER, 0, 0, 0, NULL, d + L->defer_link.offset, link,
			 false));
		if (heap & 0xff)
			TRY(emit(s, GM_STACK_SLOT_DEFER, 0, 0, 0, NULL, holder, d, false));
		holder = d + L->defer_link.offset;
		d = link;
	}
	return NULL;
}

/* The registers of the thread running the goroutine: every one, conservatively. */
static struct gomem_error *scan_registers(struct scan *s, const struct gm_regs *regs)
{
	uint64_t v[GM_MAX_REGS];
	unsigned n = gm_regs_gprs(regs, v);
	for (unsigned i = 0; i < n; i++) {
		s->stats->words_conservative++;
		TRY(emit(s, GM_STACK_SLOT_REGISTER, 0, 0, 0, NULL, 0, v[i], true));
	}
	return NULL;
}

static struct gomem_error *scan_goroutine(struct scan *s, const struct gm_unwind_start *st)
{
	const struct gm_frames_layout *L = s->L;
	uint64_t v;
	s->stats->goroutines++;
	/*
	 * A running G whose thread tells nothing, a saved sp outside the stack,
	 * or a stack being copied (_Gcopystack): all of the stack is unknown
	 * (GO-OBJECTS.md §3.4, 4).
	 */
	bool unknown =
	    st->unknown || st->sp < st->lo || st->sp > st->hi || s->g->status == G_COPYSTACK;
	uint64_t from = unknown ? st->lo : st->sp;
	if (st->hi - from > MAX_STACK_BYTES) { /* corrupt bounds: nothing can be scanned */
		s->stats->frames++;
		s->stats->frames_conservative++;
		return NULL;
	}
	TRY(copy_stack(s, from, st->hi));
	s->max_ptrs = (st->hi - s->base) / 8 + GM_MAX_REGS + 64;
	TRY(word(s, s->g->g + L->g_sched_ctxt.offset, &v));
	TRY(emit(s, GM_STACK_SLOT_CTXT, 0, 0, 0, NULL, s->g->g + L->g_sched_ctxt.offset, v, false));
	if (st->source == GM_SP_THREAD)
		TRY(scan_registers(s, &st->regs));
	struct gm_unwind_result res = {.end = GM_UNWIND_BAD_SP, .stop_sp = from};
	if (!unknown)
		TRY(gm_unwind(s->rt, s->tab, st, on_frame, s, &res));
	if (res.end != GM_UNWIND_TOP) {
		/* What the unwinder could not decode: the rest of the stack, every word. */
		uint64_t stop = res.stop_sp >= from && res.stop_sp <= st->hi ? res.stop_sp : from;
		s->stats->frames++;
		s->stats->frames_conservative++;
		TRY(scan_conservative(s, NULL, stop, st->hi));
	}
	TRY(scan_defers(s));
	TRY(word(s, s->g->g + L->g_panic.offset, &v));
	TRY(emit(s, GM_STACK_SLOT_PANIC, 0, 0, 0, NULL, s->g->g + L->g_panic.offset, v, false));
	return scan_objects(s);
}

static void reset_goroutine(struct scan *s)
{
	free(s->stack);
	s->stack = NULL;
	s->base = s->hi = 0;
	s->nobjs = s->nprecise = s->ncons = 0;
}

static struct gomem_error *scan_all(struct scan *s, const struct gm_sched *sched)
{
	const struct gm_core_thread *threads = NULL;
	size_t nthreads = 0;
	if (s->rt->target)
		gm_target_threads(s->rt->target, &threads, &nthreads);
	for (size_t i = 0; i < sched->ngs; i++) {
		struct gm_unwind_start st;
		bool ok;
		s->g = &sched->gs[i];
		TRY(gm_unwind_start_of(s->rt, s->tab, s->g, sched, threads, nthreads, &st, &ok));
		if (!ok)
			continue;
		struct gomem_error *err = scan_goroutine(s, &st);
		reset_goroutine(s);
		TRY(err);
	}
	return NULL;
}

struct gomem_error *gm_stack_roots(struct gm_runtime *rt, gm_stack_slot_fn fn, void *arg,
				   struct gm_stack_roots_stats *stats)
{
	struct gm_stack_roots_stats st = {0};
	struct scan s = {.rt = rt, .fn = fn, .arg = arg, .stats = &st};
	struct gm_pclntab *tab = NULL;
	struct gm_sched sched = {0};
	TRY(gm_runtime_frames_layout(rt, &s.L));
	TRY(gm_frames_pclntab(rt, &tab, &s.rodata));
	s.tab = tab;
	struct gomem_error *err = gm_sched_read(rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &sched);
	if (!err)
		err = scan_all(&s, &sched);
	reset_goroutine(&s);
	free(s.objs);
	free(s.precise);
	free(s.cons);
	gm_sched_deinit(&sched);
	gm_pclntab_destroy(tab);
	if (!err && stats)
		*stats = st;
	return err;
}
