/*
 * How the stack spans add up to StackInuse. Every stack span (a manual span
 * with a stack size) is explained: the stacks of live goroutines, of dead
 * Gs (which keep their stack for reuse), of each M's g0 and gsignal; the
 * free slots of stack-pool spans (nelems - allocCount); the stacks cached
 * per P (mcache.stackcache[order].size); and dedicated stack spans waiting
 * on stackLarge.free. What is left is reported as unexplained, and is 0 on
 * a consistent core. The Gs and Ms come from the one reader (goroutines.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

#define MAX_LIST (1u << 20)

struct stack_span {
	uint64_t start, end, elemsize, alloc_count;
	uint64_t known; /* pool: stacks of Gs and Ms found in it */
	bool pool, used, large_free;
};

struct stk_state {
	struct gm_runtime *rt;
	const struct gm_stack_layout *L;
	struct gm_stacks *out;
	/* Stack spans, sorted by start. */
	struct stack_span *spans;
	size_t nspans, capspans;
};

GM_DEFINE_GROW(grow_spans, struct stack_span)

#define warn(s, ...) gm_sched_warn(&(s)->sched, __VA_ARGS__)

static struct gomem_error *read_g_stack(struct stk_state *st, uint64_t g, uint64_t *lo,
					uint64_t *hi)
{
	const struct gm_sched_layout *S;
	uint64_t l = 0, h = 0;
	TRY(gm_runtime_sched_layout(st->rt, &S));
	if (g) {
		TRY(gm_rt_read_field(st->rt, g, &S->g_lo, &l));
		TRY(gm_rt_read_field(st->rt, g, &S->g_hi, &h));
	}
	if (h < l)
		l = h = 0;
	*lo = l;
	*hi = h;
	return NULL;
}

/* ---- stack spans and the reconciliation ---- */

static int cmp_stack_span(const void *a, const void *b)
{
	const struct stack_span *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static struct gomem_error *collect_span(void *arg, const struct gm_span *sp)
{
	struct stk_state *st = arg;
	if (sp->state != GM_SPAN_MANUAL || !sp->elemsize)
		return NULL; /* in-use spans, and GC work buffers (elemsize 0) */
	struct stack_span *s = grow_spans(&st->spans, &st->nspans, &st->capspans);
	if (!s)
		return &gm_error_no_memory;
	memset(s, 0, sizeof(*s));
	s->start = sp->start;
	s->end = sp->start + sp->bytes;
	s->elemsize = sp->elemsize;
	s->alloc_count = sp->alloc_count;
	/* Pool spans are cut into several stacks; a dedicated span holds one (stack.go). */
	s->pool = sp->elemsize < sp->bytes;
	return NULL;
}

static struct stack_span *span_of(struct stk_state *st, uint64_t addr)
{
	return GM_FIND_RANGE(st->spans, st->nspans, start, end, addr);
}

/* A known stack: the span it lies in takes note, and *bytes grows. */
static bool account(struct stk_state *st, uint64_t lo, uint64_t hi, uint64_t *bytes)
{
	struct stack_span *s = lo < hi ? span_of(st, lo) : NULL;
	if (!s || hi > s->end)
		return false;
	if (s->pool)
		s->known++;
	else if (s->used)
		warn(st->out, "two stacks in the dedicated stack span at 0x%" PRIx64, s->start);
	s->used = true;
	*bytes += hi - lo;
	return true;
}

static struct gomem_error *stack_caches(struct stk_state *st)
{
	const struct gm_stack_layout *L = st->L;
	struct gm_stack_totals *T = &st->out->totals;
	_cleanup_free_ uint64_t *ps = NULL;
	size_t np;
	TRY(gm_rt_allp(st->rt, &ps, &np));
	for (size_t i = 0; i < np; i++) {
		uint64_t mc;
		if (!ps[i])
			continue;
		TRY(gm_rt_read_field(st->rt, ps[i], &st->rt->L.p_mcache, &mc));
		for (uint64_t o = 0; mc && o < L->mcache_stackcache.count; o++) {
			uint64_t size;
			uint64_t at = mc + L->mcache_stackcache.offset +
				      o * L->mcache_stackcache.elem_size + L->sfl_size.offset;
			TRY(gm_read_uint(st->rt->mem, at, (unsigned)L->sfl_size.size, &size));
			T->stackcache_bytes += size;
		}
	}
	return NULL;
}

/* Dedicated stack spans on stackLarge.free [heapAddrBits - pageShift]mSpanList (stack.go). */
static struct gomem_error *stack_large_free(struct stk_state *st)
{
	const struct gm_stack_layout *L = st->L;
	struct gm_stack_totals *T = &st->out->totals;
	if (!L->have_stack_large)
		return NULL;
	uint64_t page_shift = 0;
	for (uint64_t p = gm_runtime_page_size(st->rt); p > 1; p >>= 1)
		page_shift++;
	uint64_t nlists = L->heap_addr_bits > page_shift ? L->heap_addr_bits - page_shift : 0;
	uint64_t lists = L->stack_large + ((L->mutex_size + 7) & ~7ULL);
	uint64_t seen = 0;
	for (uint64_t i = 0; i < nlists && i < 64; i++) {
		uint64_t s;
		TRY(gm_read_u64(st->rt->mem, lists + 16 * i + L->spanlist_first.offset, &s));
		for (; s; seen++) {
			if (seen >= MAX_LIST)
				return gm_error(GOMEM_ERROR_INCONSISTENT,
						"runtime.stackLarge lists more than %u spans",
						MAX_LIST);
			uint64_t start;
			TRY(gm_rt_read_field(st->rt, s, &st->rt->L.mspan_startaddr, &start));
			struct stack_span *sp = span_of(st, start);
			if (!sp || sp->start != start || sp->pool || sp->used || sp->large_free) {
				warn(st->out,
				     "stackLarge.free holds a span at 0x%" PRIx64
				     " that is no free dedicated stack span",
				     start);
			} else {
				sp->large_free = true;
				T->large_free_bytes += sp->end - sp->start;
			}
			TRY(gm_rt_read_field(st->rt, s, &L->mspan_next, &s));
		}
	}
	return NULL;
}

static struct gomem_error *reconcile(struct stk_state *st)
{
	struct gm_stacks *out = st->out;
	struct gm_stack_totals *T = &out->totals;
	uint64_t bad = 0;
	TRY(gm_heap_foreach_span(st->rt, collect_span, st, &bad));
	gm_sort(st->spans, st->nspans, sizeof(*st->spans), cmp_stack_span);
	for (size_t i = 0; i < st->nspans; i++) {
		T->stack_span_bytes += st->spans[i].end - st->spans[i].start;
		T->stack_spans++;
		T->pool_spans += st->spans[i].pool;
	}
	T->dedicated_spans = T->stack_spans - T->pool_spans;
	for (size_t i = 0; i < out->sched.ngs; i++) {
		struct gm_goroutine *g = &out->sched.gs[i];
		bool dead = gm_goroutine_dead(g);
		g->in_span = account(st, g->lo, g->hi,
				     dead ? &T->dead_goroutine_bytes : &T->goroutine_bytes);
	}
	for (size_t i = 0; i < out->sched.nthreads; i++) {
		struct gm_thread *th = &out->sched.threads[i];
		th->g0_in_span = account(st, th->g0_lo, th->g0_hi, &T->g0_bytes);
		th->gsignal_in_span =
		    account(st, th->gsignal_lo, th->gsignal_hi, &T->gsignal_bytes);
		if (th->g0_in_span)
			th->kind = GM_THREAD_GO;
		else
			th->kind = th->is_m0 ? GM_THREAD_OS : GM_THREAD_PTHREAD;
		if (!th->g0_in_span)
			T->outside_bytes += th->g0_hi - th->g0_lo;
	}
	if (st->L->have_gcrash) {
		uint64_t lo, hi;
		TRY(read_g_stack(st, st->L->gcrash, &lo, &hi));
		if (account(st, lo, hi, &T->crash_bytes)) {
			out->crash_lo = lo;
			out->crash_hi = hi;
		}
	}
	for (size_t i = 0; i < st->nspans; i++) {
		const struct stack_span *s = &st->spans[i];
		uint64_t slots = (s->end - s->start) / s->elemsize;
		if (!s->pool)
			continue;
		if (s->alloc_count <= slots)
			T->pool_free_bytes += (slots - s->alloc_count) * s->elemsize;
		else
			warn(out,
			     "stack span at 0x%" PRIx64 " has %" PRIu64 " of %" PRIu64
			     " slots in use",
			     s->start, s->alloc_count, slots);
	}
	TRY(stack_caches(st));
	TRY(stack_large_free(st));
	uint64_t explained = T->goroutine_bytes + T->dead_goroutine_bytes + T->g0_bytes +
			     T->gsignal_bytes + T->crash_bytes + T->pool_free_bytes +
			     T->stackcache_bytes + T->large_free_bytes;
	T->unexplained_bytes = (int64_t)(T->stack_span_bytes - explained);
	if (bad)
		warn(out, "%" PRIu64 " span descriptors looked live but failed validation", bad);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct gomem_error *count_goroutines(struct stk_state *st)
{
	struct gm_stacks *out = st->out;
	struct gm_stack_totals *T = &out->totals;
	/* The Gs that Ms run: a dead one belongs to an idle extra M (proc.go oneNewExtraM). */
	const struct gm_sched *sc = &out->sched;
	_cleanup_free_ uint64_t *curgs = calloc(sc->nthreads ? sc->nthreads : 1, 8);
	if (!curgs)
		return &gm_error_no_memory;
	for (size_t i = 0; i < sc->nthreads; i++)
		curgs[i] = sc->threads[i].curg;
	gm_sort(curgs, sc->nthreads, 8, cmp_u64);
	T->goroutines = sc->ngs;
	for (size_t i = 0; i < sc->ngs; i++) {
		const struct gm_goroutine *g = &sc->gs[i];
		if (gm_goroutine_dead(g)) {
			T->dead_goroutines++;
			T->extra_m_goroutines +=
			    bsearch(&g->g, curgs, sc->nthreads, 8, cmp_u64) != NULL;
			continue;
		}
		T->live_goroutines++;
		if (g->system)
			T->system_goroutines++;
		else
			T->user_goroutines++;
	}
	T->have_symbols = sc->have_symbols;
	if (!T->have_symbols)
		warn(out, "the executable has no symbol table: goroutines cannot be told apart "
			  "from the runtime's own, all count as user goroutines");
	return NULL;
}

static struct gomem_error *stacks_read(struct stk_state *st)
{
	struct gm_stacks *out = st->out;
	TRY(gm_runtime_stack_layout(st->rt, &st->L));
	TRY(gm_sched_read(st->rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &out->sched));
	out->totals.ngsys = out->sched.ngsys;
	out->totals.have_ngsys = out->sched.have_ngsys;
	TRY(count_goroutines(st));
	TRY(reconcile(st));
	struct gm_memstats ms;
	TRY(gm_runtime_memstats(st->rt, &ms));
	out->stack_inuse = ms.StackInuse;
	return NULL;
}

struct gomem_error *gm_stacks_read(struct gm_runtime *rt, struct gm_stacks *ret)
{
	struct gm_stacks s;
	memset(&s, 0, sizeof(s));
	struct stk_state st = {.rt = rt, .out = &s};
	struct gomem_error *err = stacks_read(&st);
	free(st.spans);
	if (err) {
		gm_stacks_deinit(&s);
		return err;
	}
	*ret = s;
	return NULL;
}

void gm_stacks_deinit(struct gm_stacks *s)
{
	gm_sched_deinit(&s->sched);
	memset(s, 0, sizeof(*s));
}
