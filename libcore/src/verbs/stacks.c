/*
 * `gomem stacks`: goroutine stacks and OS thread stacks, and how they add
 * up to StackInuse.
 *
 * Goroutines come from runtime.allgs[:allglen], threads (Ms) from
 * runtime.allm through m.alllink. Every stack span (a manual span with a
 * stack size) is then explained: the stacks of live goroutines, of dead Gs
 * (which keep their stack for reuse), of each M's g0 and gsignal; the free
 * slots of stack-pool spans (nelems - allocCount); the stacks cached per P
 * (mcache.stackcache[order].size); and dedicated stack spans waiting on
 * stackLarge.free. What is left is reported as unexplained, and is 0 on a
 * consistent core.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verbs/drilldown.h"

#define TEXT_DEFAULT_LIMIT 50
#define MAX_STRUCT	   65536
#define MAX_LIST	   (1u << 20)

/* ---- layout ---- */

struct stk_layout {
	uint64_t g_size;
	struct gm_field g_lo, g_hi, g_sched_sp, g_syscallsp, g_status, g_goid, g_startpc, g_m;
	struct gm_field g_running_cleanups;
	struct gm_field m_g0, m_gsignal, m_curg, m_id, m_procid, m_alllink;
	struct gm_field mcache_stackcache, sfl_size, sched_ngsys;
	struct gm_field spanlist_first, mspan_next;
	uint64_t mutex_size, heap_addr_bits, fing_running;
	unsigned fing_size; /* 4 for fingStatus, 1 for the older fingRunning bool */
	uint64_t allgs, allglen, allm, m0, sched, stack_large, fing_status, gcrash;
	bool have_sched, have_stack_large, have_fing_status, have_gcrash;
	struct gm_field fing_status_field; /* fingStatus is an atomic.Uint32 from 1.21 */
};

static struct gomem_error *need(struct gm_runtime *rt, const char *type, const char *path,
				struct gm_field *f)
{
	TRY(gm_dwarf_field(rt->dw, type, path, f));
	if (!f->present || f->size > 8)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported Go runtime layout (%s): %s has no field %s",
				rt->go_version, type, path);
	return NULL;
}

static struct gomem_error *variable(struct gm_runtime *rt, const char *name, uint64_t *ret)
{
	TRY(gm_dwarf_variable(rt->dw, name, ret));
	*ret += rt->bias;
	return NULL;
}

static int64_t constant_or(struct gm_runtime *rt, const char *name, int64_t dflt)
{
	int64_t v;
	if (!gm_dwarf_has_constant(rt->dw, name) || gm_dwarf_constant(rt->dw, name, &v))
		return dflt;
	return v;
}

static struct gomem_error *resolve(struct gm_runtime *rt, struct stk_layout *L)
{
	const char *g = "runtime.g", *m = "runtime.m";
	memset(L, 0, sizeof(*L));
	TRY(gm_dwarf_sizeof(rt->dw, g, &L->g_size));
	if (L->g_size == 0 || L->g_size > MAX_STRUCT)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "runtime.g of %" PRIu64 " bytes",
				L->g_size);
	TRY(need(rt, g, "stack.lo", &L->g_lo));
	TRY(need(rt, g, "stack.hi", &L->g_hi));
	TRY(need(rt, g, "sched.sp", &L->g_sched_sp));
	TRY(need(rt, g, "syscallsp", &L->g_syscallsp));
	/* atomicstatus: uint32 in 1.19, atomic.Uint32 from 1.20 (runtime2.go@1.20). */
	TRY(need(rt, g, "atomicstatus", &L->g_status));
	/* goid: int64 up to 1.20, uint64 from 1.21 (runtime2.go@1.21); the bits are the same. */
	TRY(need(rt, g, "goid", &L->g_goid));
	TRY(need(rt, g, "startpc", &L->g_startpc));
	TRY(need(rt, g, "m", &L->g_m));
	/* runningCleanups came with the cleanup goroutine (mcleanup.go@1.24). */
	TRY(gm_dwarf_field(rt->dw, g, "runningCleanups", &L->g_running_cleanups));
	const struct gm_field *gf[] = {&L->g_lo,	&L->g_hi,     &L->g_sched_sp,
				       &L->g_syscallsp, &L->g_status, &L->g_goid,
				       &L->g_startpc,	&L->g_m,      &L->g_running_cleanups};
	for (size_t i = 0; i < GM_ARRAY_SIZE(gf); i++) {
		if (gf[i]->present && gf[i]->offset + gf[i]->size > L->g_size)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported runtime.g layout");
	}
	TRY(need(rt, m, "g0", &L->m_g0));
	TRY(need(rt, m, "gsignal", &L->m_gsignal));
	TRY(need(rt, m, "curg", &L->m_curg));
	TRY(need(rt, m, "id", &L->m_id));
	TRY(need(rt, m, "procid", &L->m_procid));
	TRY(need(rt, m, "alllink", &L->m_alllink));
	TRY(gm_dwarf_field(rt->dw, "runtime.mcache", "stackcache", &L->mcache_stackcache));
	TRY(need(rt, "runtime.stackfreelist", "size", &L->sfl_size));
	if (!L->mcache_stackcache.present || !L->mcache_stackcache.count ||
	    L->mcache_stackcache.count > 16)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported mcache.stackcache layout");
	TRY(need(rt, "runtime.mSpanList", "first", &L->spanlist_first));
	TRY(need(rt, "runtime.mspan", "next", &L->mspan_next));
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.mutex", &L->mutex_size));
	TRY(variable(rt, "runtime.allgs", &L->allgs));
	TRY(variable(rt, "runtime.allglen", &L->allglen));
	TRY(variable(rt, "runtime.allm", &L->allm));
	TRY(variable(rt, "runtime.m0", &L->m0));
	/* sched.ngsys: uint32 until 1.20, atomic.Int32 from 1.21; unwrapped alike. */
	TRY(gm_dwarf_field(rt->dw, "runtime.schedt", "ngsys", &L->sched_ngsys));
	if (L->sched_ngsys.present && gm_dwarf_has_variable(rt->dw, "runtime.sched")) {
		TRY(variable(rt, "runtime.sched", &L->sched));
		L->have_sched = true;
	}
	if (gm_dwarf_has_variable(rt->dw, "runtime.stackLarge")) {
		TRY(variable(rt, "runtime.stackLarge", &L->stack_large));
		L->have_stack_large = true;
	}
	/* fingStatus (1.21+, atomic.Uint32) replaced fingRunning bool (mfinal.go@1.21). */
	if (gm_dwarf_has_variable(rt->dw, "runtime.fingStatus")) {
		TRY(variable(rt, "runtime.fingStatus", &L->fing_status));
		L->have_fing_status = true;
		L->fing_size = 4;
		L->fing_running = (uint64_t)constant_or(rt, "runtime.fingRunningFinalizer", 2);
	} else if (gm_dwarf_has_variable(rt->dw, "runtime.fingRunning")) {
		TRY(variable(rt, "runtime.fingRunning", &L->fing_status));
		L->have_fing_status = true;
		L->fing_size = 1;
		L->fing_running = 1;
	}
	/* gcrash: a G outside allgs, with a 16 KiB stack for crashes on g0 (proc.go@1.22). */
	if (gm_dwarf_has_variable(rt->dw, "runtime.gcrash")) {
		TRY(variable(rt, "runtime.gcrash", &L->gcrash));
		L->have_gcrash = true;
	}
	L->heap_addr_bits = (uint64_t)constant_or(rt, "runtime.heapAddrBits", 48);
	return NULL;
}

/* ---- reading Gs and Ms ---- */

struct stk_state {
	struct gm_target *t;
	struct gm_runtime *rt;
	struct stk_layout L;
	struct gm_symtab syms;
	const struct gm_core_thread *tsps; /* the core's threads (NT_PRSTATUS); none live */
	size_t ntsps;
	struct gm_stacks *out;
	uint64_t fing_status;
	/* Stack spans, sorted by start. */
	struct stack_span *spans;
	size_t nspans, capspans;
};

struct stack_span {
	uint64_t start, end, elemsize, alloc_count;
	uint64_t known; /* pool: stacks of Gs and Ms found in it */
	bool pool, used, large_free;
};

static void warn(struct gm_stacks *s, const char *fmt, ...) GM_PRINTF(2, 3);

static void warn(struct gm_stacks *s, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	if (s->nwarnings == GM_ARRAY_SIZE(s->warnings))
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) >= 0)
		s->warnings[s->nwarnings++] = msg;
	va_end(ap);
}

static const struct gm_core_thread *thread_sp_of(const struct stk_state *st, uint64_t tid)
{
	for (size_t i = 0; tid && i < st->ntsps; i++) {
		if (st->tsps[i].tid == tid)
			return &st->tsps[i];
	}
	return NULL;
}

static struct gomem_error *read_g_stack(struct stk_state *st, uint64_t g, uint64_t *lo,
					uint64_t *hi)
{
	*lo = *hi = 0;
	if (!g)
		return NULL;
	TRY(gm_rt_read_field(st->rt, g, &st->L.g_lo, lo));
	TRY(gm_rt_read_field(st->rt, g, &st->L.g_hi, hi));
	if (*hi < *lo)
		*lo = *hi = 0;
	return NULL;
}

static struct gomem_error *read_thread(struct stk_state *st, uint64_t m, struct gm_thread *th,
				       uint64_t *next)
{
	struct stk_layout *L = &st->L;
	uint64_t id, g0, gsignal, curg;
	memset(th, 0, sizeof(*th));
	th->m = m;
	TRY(gm_rt_read_field(st->rt, m, &L->m_id, &id));
	th->id = (int64_t)id;
	TRY(gm_rt_read_field(st->rt, m, &L->m_procid, &th->procid));
	TRY(gm_rt_read_field(st->rt, m, &L->m_g0, &g0));
	TRY(gm_rt_read_field(st->rt, m, &L->m_gsignal, &gsignal));
	TRY(gm_rt_read_field(st->rt, m, &L->m_curg, &curg));
	TRY(gm_rt_read_field(st->rt, m, &L->m_alllink, next));
	TRY(read_g_stack(st, g0, &th->g0_lo, &th->g0_hi));
	TRY(read_g_stack(st, gsignal, &th->gsignal_lo, &th->gsignal_hi));
	if (curg) {
		th->curg = curg;
		TRY(gm_rt_read_field(st->rt, curg, &L->g_goid, &th->curg_goid));
		th->has_curg = true;
	}
	const struct gm_core_thread *tsp = thread_sp_of(st, th->procid);
	if (tsp) {
		th->has_sp = true;
		th->sp = tsp->sp;
	}
	return NULL;
}

static struct gomem_error *read_threads(struct stk_state *st)
{
	struct gm_stacks *out = st->out;
	uint64_t m;
	size_t cap = 0;
	TRY(gm_read_u64(st->rt->mem, st->L.allm, &m));
	for (size_t i = 0; m; i++) {
		if (i >= GM_MAX_THREADS)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"runtime.allm has more than %u Ms (a cycle?)",
					GM_MAX_THREADS);
		if (out->nthreads == cap) {
			cap = cap ? cap * 2 : 16;
			struct gm_thread *n = realloc(out->threads, cap * sizeof(*n));
			if (!n)
				return &gm_error_no_memory;
			out->threads = n;
		}
		uint64_t next = 0;
		struct gomem_error *err = read_thread(st, m, &out->threads[out->nthreads], &next);
		if (err && err->code == GOMEM_ERROR_FAULT) {
			warn(out,
			     "M at 0x%" PRIx64 " (runtime.allm, M number %zu) cannot be read (%s): "
			     "the list of threads stops there",
			     m, i, gomem_error_message(err));
			gomem_error_destroy(err);
			out->partial = true;
			break;
		}
		if (err)
			return err;
		out->nthreads++;
		m = next;
	}
	return NULL;
}

/* runtime.isSystemGoroutine(gp, false), from the start function's name (traceback.go). */
static struct gomem_error *classify(struct stk_state *st, const uint8_t *buf,
				    struct gm_goroutine *g)
{
	const char *f = g->start_func;
	g->system = false;
	if (!f || strncmp(f, "runtime.", 8) != 0)
		return NULL;
	if (strcmp(f, "runtime.main") == 0 || strcmp(f, "runtime.corostart") == 0 ||
	    strcmp(f, "runtime.handleAsyncEvent") == 0)
		return NULL;
	/* The finalizer and cleanup goroutines count as user code while they run it. */
	if (strcmp(f, "runtime.runfinq") == 0 || strcmp(f, "runtime.runFinalizers") == 0) {
		g->system = !(st->fing_status & st->L.fing_running);
		return NULL;
	}
	if (strcmp(f, "runtime.runCleanups") == 0) {
		g->system = !gm_rt_field(buf, &st->L.g_running_cleanups);
		return NULL;
	}
	g->system = true;
	return NULL;
}

static bool sp_inside(uint64_t sp, uint64_t lo, uint64_t hi)
{
	return sp && lo < hi && sp >= lo && sp <= hi;
}

/* Where the goroutine's stack ends now: see enum gm_sp_source. */
static void goroutine_sp(struct stk_state *st, const uint8_t *buf, struct gm_goroutine *g)
{
	uint64_t sched_sp = gm_rt_field(buf, &st->L.g_sched_sp);
	uint64_t syscall_sp = gm_rt_field(buf, &st->L.g_syscallsp);
	uint64_t m = gm_rt_field(buf, &st->L.g_m);
	g->sp_source = GM_SP_NONE;
	if (gm_goroutine_dead(g) || !g->lo) /* dead, deadextra */
		return;
	if (g->status == 2 && m) { /* running: its thread's SP, if it is on this stack */
		for (size_t i = 0; i < st->out->nthreads; i++) {
			const struct gm_thread *th = &st->out->threads[i];
			if (th->m == m && th->has_sp && sp_inside(th->sp, g->lo, g->hi)) {
				g->sp = th->sp;
				g->sp_source = GM_SP_THREAD;
				return;
			}
		}
	}
	if (g->status == 3 && sp_inside(syscall_sp, g->lo, g->hi)) {
		g->sp = syscall_sp;
		g->sp_source = GM_SP_SYSCALL;
	} else if (sp_inside(sched_sp, g->lo, g->hi)) {
		g->sp = sched_sp;
		g->sp_source = GM_SP_SCHED;
	}
}

static struct gomem_error *read_goroutines(struct stk_state *st)
{
	struct stk_layout *L = &st->L;
	struct gm_stacks *out = st->out;
	uint64_t hdr[3], allglen;
	TRY(gm_read(st->rt->mem, L->allgs, hdr, sizeof(hdr)));
	TRY(gm_read_u64(st->rt->mem, L->allglen, &allglen));
	if (hdr[1] > hdr[2] || allglen > hdr[1] || allglen > GM_MAX_GOROUTINES)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"runtime.allglen %" PRIu64 " does not fit allgs (len %" PRIu64
				", cap %" PRIu64 ")",
				allglen, hdr[1], hdr[2]);
	/* The whole array must be readable before its length sizes an allocation. */
	if (allglen)
		TRY(gm_read_u64(st->rt->mem, hdr[0] + 8 * (allglen - 1), &hdr[2]));
	out->gs = calloc(allglen ? allglen : 1, sizeof(*out->gs));
	uint8_t *buf = malloc(L->g_size);
	if (!out->gs || !buf) {
		free(buf);
		return &gm_error_no_memory;
	}
	uint64_t batch[256];
	struct gomem_error *err = NULL;
	for (uint64_t i = 0; !err && i < allglen; i += GM_ARRAY_SIZE(batch)) {
		uint64_t n =
		    allglen - i < GM_ARRAY_SIZE(batch) ? allglen - i : GM_ARRAY_SIZE(batch);
		err = gm_read(st->rt->mem, hdr[0] + 8 * i, batch, n * 8);
		for (uint64_t j = 0; !err && j < n; j++) {
			if (!batch[j])
				continue;
			err = gm_read(st->rt->mem, batch[j], buf, L->g_size);
			if (err && err->code == GOMEM_ERROR_FAULT) {
				/* One bad pointer costs one G, not the report. */
				warn(out,
				     "allgs[%" PRIu64 "] = 0x%" PRIx64
				     " cannot be read (%s): skipped",
				     i + j, batch[j], gomem_error_message(err));
				gomem_error_destroy(err);
				err = NULL;
				out->partial = true;
				continue;
			}
			if (err)
				break;
			struct gm_goroutine *g = &out->gs[out->ngs++];
			g->g = batch[j];
			g->goid = gm_rt_field(buf, &L->g_goid);
			uint64_t status = gm_rt_field(buf, &L->g_status);
			g->scan = status & 0x1000; /* _Gscan */
			g->status = (uint32_t)(status & ~0x1000ULL);
			g->lo = gm_rt_field(buf, &L->g_lo);
			g->hi = gm_rt_field(buf, &L->g_hi);
			if (g->hi < g->lo)
				g->lo = g->hi = 0;
			g->startpc = gm_rt_field(buf, &L->g_startpc);
			g->start_func = gm_symtab_func_at(&st->syms, g->startpc - st->rt->bias);
			err = classify(st, buf, g);
			goroutine_sp(st, buf, g);
		}
	}
	free(buf);
	return err;
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
	if (st->nspans == st->capspans) {
		size_t cap = st->capspans ? st->capspans * 2 : 256;
		struct stack_span *n = realloc(st->spans, cap * sizeof(*n));
		if (!n)
			return &gm_error_no_memory;
		st->spans = n;
		st->capspans = cap;
	}
	struct stack_span *s = &st->spans[st->nspans++];
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
	size_t lo = 0, hi = st->nspans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < st->spans[mid].start)
			hi = mid;
		else if (addr >= st->spans[mid].end)
			lo = mid + 1;
		else
			return &st->spans[mid];
	}
	return NULL;
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
	struct stk_layout *L = &st->L;
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
	struct stk_layout *L = &st->L;
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
	for (size_t i = 0; i < out->ngs; i++) {
		struct gm_goroutine *g = &out->gs[i];
		bool dead = gm_goroutine_dead(g);
		g->in_span = account(st, g->lo, g->hi,
				     dead ? &T->dead_goroutine_bytes : &T->goroutine_bytes);
	}
	for (size_t i = 0; i < out->nthreads; i++) {
		struct gm_thread *th = &out->threads[i];
		th->g0_in_span = account(st, th->g0_lo, th->g0_hi, &T->g0_bytes);
		th->gsignal_in_span =
		    account(st, th->gsignal_lo, th->gsignal_hi, &T->gsignal_bytes);
		if (th->g0_in_span)
			th->kind = GM_THREAD_GO;
		else
			th->kind = th->m == st->L.m0 ? GM_THREAD_OS : GM_THREAD_PTHREAD;
		if (!th->g0_in_span)
			T->outside_bytes += th->g0_hi - th->g0_lo;
	}
	if (st->L.have_gcrash) {
		uint64_t lo, hi;
		TRY(read_g_stack(st, st->L.gcrash, &lo, &hi));
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
	_cleanup_free_ uint64_t *curgs = calloc(out->nthreads ? out->nthreads : 1, 8);
	if (!curgs)
		return &gm_error_no_memory;
	for (size_t i = 0; i < out->nthreads; i++)
		curgs[i] = out->threads[i].curg;
	gm_sort(curgs, out->nthreads, 8, cmp_u64);
	T->goroutines = out->ngs;
	for (size_t i = 0; i < out->ngs; i++) {
		const struct gm_goroutine *g = &out->gs[i];
		if (gm_goroutine_dead(g)) {
			T->dead_goroutines++;
			T->extra_m_goroutines +=
			    bsearch(&g->g, curgs, out->nthreads, 8, cmp_u64) != NULL;
			continue;
		}
		T->live_goroutines++;
		if (g->system)
			T->system_goroutines++;
		else
			T->user_goroutines++;
	}
	T->have_symbols = st->syms.n > 0;
	if (!T->have_symbols)
		warn(out, "the executable has no symbol table: goroutines cannot be told apart "
			  "from the runtime's own, all count as user goroutines");
	return NULL;
}

static struct gomem_error *stacks_read(struct stk_state *st)
{
	struct gm_stacks *out = st->out;
	struct stk_layout *L = &st->L;
	TRY(resolve(st->rt, L));
	TRY(gm_symtab_load(&st->t->exe, &st->syms));
	if (st->t->have_core) {
		st->tsps = st->t->core.threads;
		st->ntsps = st->t->core.nthreads;
	}
	if (L->have_fing_status)
		TRY(gm_read_uint(st->rt->mem, L->fing_status, L->fing_size, &st->fing_status));
	if (L->have_sched) {
		uint64_t v;
		TRY(gm_rt_read_field(st->rt, L->sched, &L->sched_ngsys, &v));
		out->totals.ngsys = v;
		out->totals.have_ngsys = true;
	}
	TRY(read_threads(st));
	TRY(read_goroutines(st));
	TRY(count_goroutines(st));
	TRY(reconcile(st));
	struct gm_memstats ms;
	TRY(gm_runtime_memstats(st->rt, &ms));
	out->stack_inuse = ms.StackInuse;
	return NULL;
}

struct gomem_error *gm_stacks_read(struct gm_target *t, struct gm_runtime *rt,
				   struct gm_stacks *ret)
{
	struct stk_state st;
	memset(&st, 0, sizeof(st));
	memset(ret, 0, sizeof(*ret));
	st.t = t;
	st.rt = rt;
	st.out = ret;
	struct gomem_error *err = stacks_read(&st);
	gm_symtab_deinit(&st.syms);
	free(st.spans);
	if (err)
		gm_stacks_deinit(ret);
	return err;
}

void gm_stacks_deinit(struct gm_stacks *s)
{
	free(s->gs);
	free(s->threads);
	for (size_t i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	memset(s, 0, sizeof(*s));
}

const char *gm_goroutine_status_name(uint32_t status)
{
	/* runtime2.go: _Gidle ... _Gpreempted; _Gleaked and _Gdeadextra came in 1.26. */
	static const char *const names[] = {"idle",	 "runnable",  "running", "syscall",
					    "waiting",	 "moribund",  "dead",	 "enqueue",
					    "copystack", "preempted", "leaked",	 "deadextra"};
	return status < GM_ARRAY_SIZE(names) ? names[status] : "unknown";
}

const char *gm_thread_kind_name(enum gm_thread_kind kind)
{
	return kind == GM_THREAD_GO ? "go" : kind == GM_THREAD_OS ? "os" : "pthread";
}

/* ---- the verb ---- */

static int cmp_goroutine(const void *a, const void *b)
{
	const struct gm_goroutine *x = *(const struct gm_goroutine *const *)a;
	const struct gm_goroutine *y = *(const struct gm_goroutine *const *)b;
	uint64_t xs = x->hi - x->lo, ys = y->hi - y->lo;
	uint64_t xu = x->sp_source ? x->hi - x->sp : 0, yu = y->sp_source ? y->hi - y->sp : 0;
	if (xs != ys)
		return xs > ys ? -1 : 1;
	if (xu != yu)
		return xu > yu ? -1 : 1;
	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

static const char *const sp_source_names[] = {NULL, "sched", "syscall", "thread"};

static void json_goroutine(struct gm_strbuf *b, const struct gm_goroutine *g)
{
	gm_strbuf_printf(b,
			 "{\"goid\": %" PRIu64 ", \"status\": \"%s\", \"stack_lo\": %" PRIu64
			 ", \"stack_hi\": %" PRIu64 ", \"stack_bytes\": %" PRIu64
			 ", \"used_bytes\": ",
			 g->goid, gm_goroutine_status_name(g->status), g->lo, g->hi, g->hi - g->lo);
	if (g->sp_source)
		gm_strbuf_printf(b, "%" PRIu64 ", \"sp\": %" PRIu64 ", \"sp_source\": \"%s\"",
				 g->hi - g->sp, g->sp, sp_source_names[g->sp_source]);
	else
		gm_strbuf_printf(b, "null, \"sp\": null, \"sp_source\": null");
	gm_strbuf_printf(b, ", \"start\": ");
	gm_strbuf_json_string_or_null(b, g->start_func);
	gm_strbuf_printf(b, ", \"system\": %s, \"in_heap\": %s, \"g\": %" PRIu64 "}",
			 g->system ? "true" : "false", g->in_span ? "true" : "false", g->g);
}

static void json_thread(struct gm_strbuf *b, const struct gm_thread *th)
{
	gm_strbuf_printf(b,
			 "{\"m\": %" PRId64 ", \"tid\": %" PRIu64 ", \"kind\": \"%s\", "
			 "\"g0_stack_lo\": %" PRIu64 ", \"g0_stack_hi\": %" PRIu64
			 ", \"g0_stack_bytes\": %" PRIu64 ", \"gsignal_stack_bytes\": %" PRIu64
			 ", \"curg\": ",
			 th->id, th->procid, gm_thread_kind_name(th->kind), th->g0_lo, th->g0_hi,
			 th->g0_hi - th->g0_lo, th->gsignal_hi - th->gsignal_lo);
	gm_strbuf_json_uint_or_null(b, th->has_curg, th->curg_goid);
	gm_strbuf_printf(b, ", \"sp\": ");
	gm_strbuf_json_uint_or_null(b, th->has_sp, th->sp);
	gm_strbuf_printf(b, ", \"m_addr\": %" PRIu64 "}", th->m);
}

struct stk_check {
	const char *name;
	uint64_t runtime, recon;
};

/* The identities between the runtime's counters and what the walk found. */
static size_t stack_checks(const struct gm_stacks *s, struct stk_check *out)
{
	const struct gm_stack_totals *T = &s->totals;
	size_t n = 0;
	out[n++] = (struct stk_check){"StackInuse = pages of stack spans", s->stack_inuse,
				      T->stack_span_bytes};
	out[n++] = (struct stk_check){"StackInuse = G, M and gcrash stacks + free pool slots + "
				      "P caches + stackLarge",
				      s->stack_inuse,
				      T->stack_span_bytes - (uint64_t)T->unexplained_bytes};
	if (T->have_ngsys && T->have_symbols)
		out[n++] =
		    (struct stk_check){"sched.ngsys = runtime goroutines + Gs of idle "
				       "extra Ms",
				       T->ngsys, T->system_goroutines + T->extra_m_goroutines};
	return n;
}

#define TOTALS(X)                                                                                  \
	X("goroutine_stack_bytes", goroutine_bytes)                                                \
	X("dead_goroutine_stack_bytes", dead_goroutine_bytes)                                      \
	X("g0_stack_bytes", g0_bytes)                                                              \
	X("gsignal_stack_bytes", gsignal_bytes)                                                    \
	X("crash_stack_bytes", crash_bytes)                                                        \
	X("stack_pool_free_bytes", pool_free_bytes)                                                \
	X("stack_cache_bytes", stackcache_bytes)                                                   \
	X("stack_large_free_bytes", large_free_bytes)

static void stacks_json(struct gm_run *r, const struct gm_stacks *s,
			const struct gm_goroutine *const *list, size_t nlist, size_t shown)
{
	struct gm_strbuf *b = &r->out;
	const struct gm_stack_totals *T = &s->totals;
	gm_strbuf_printf(b, "{\"schema\": \"gomem/stacks/v1\",\n \"goroutines\": [");
	for (size_t i = 0; i < shown; i++) {
		gm_strbuf_printf(b, "%s\n  ", i ? "," : "");
		json_goroutine(b, list[i]);
	}
	gm_strbuf_printf(b, "],\n \"left_out\": %zu,\n \"threads\": [", nlist - shown);
	for (size_t i = 0; i < s->nthreads; i++) {
		gm_strbuf_printf(b, "%s\n  ", i ? "," : "");
		json_thread(b, &s->threads[i]);
	}
	uint64_t used = 0;
	for (size_t i = 0; i < nlist; i++)
		used += list[i]->sp_source ? list[i]->hi - list[i]->sp : 0;
	gm_strbuf_printf(b,
			 "],\n \"totals\": {\"goroutines\": %" PRIu64
			 ", \"user_goroutines\": %" PRIu64 ", \"system_goroutines\": %" PRIu64
			 ", \"dead_goroutines\": %" PRIu64 ", \"runtime_ngsys\": ",
			 T->live_goroutines, T->user_goroutines, T->system_goroutines,
			 T->dead_goroutines);
	gm_strbuf_json_uint_or_null(b, T->have_ngsys, T->ngsys);
	gm_strbuf_printf(b,
			 ", \"extra_m_goroutines\": %" PRIu64 ", \"threads\": %zu"
			 ", \"goroutine_used_bytes\": %" PRIu64,
			 T->extra_m_goroutines, s->nthreads, used);
#define X(name, field) gm_strbuf_printf(b, ", \"" name "\": %" PRIu64, T->field);
	TOTALS(X)
#undef X
	gm_strbuf_printf(b,
			 ", \"unexplained_bytes\": %" PRId64 ", \"stack_span_bytes\": %" PRIu64
			 ", \"stack_spans\": %" PRIu64 ", \"StackInuse\": %" PRIu64
			 ", \"outside_heap_g0_stack_bytes\": %" PRIu64 "},\n",
			 T->unexplained_bytes, T->stack_span_bytes, T->stack_spans, s->stack_inuse,
			 T->outside_bytes);
	struct stk_check checks[3];
	size_t nchecks = stack_checks(s, checks);
	gm_strbuf_printf(b, " \"checks\": [");
	for (size_t i = 0; i < nchecks; i++) {
		gm_strbuf_printf(b, "%s{\"name\": ", i ? ", " : "");
		gm_strbuf_json_string(b, checks[i].name);
		gm_strbuf_printf(
		    b, ", \"ok\": %s, \"runtime\": %" PRIu64 ", \"reconstructed\": %" PRIu64 "}",
		    checks[i].runtime == checks[i].recon ? "true" : "false", checks[i].runtime,
		    checks[i].recon);
	}
	gm_strbuf_printf(b, "],\n ");
	gm_run_json_warnings(r);
	gm_strbuf_printf(b, "}\n");
}

static void text_part(struct gm_strbuf *b, const char *name, uint64_t v, const char *what)
{
	char h[32];
	gm_strbuf_printf(b, "  %-24s %12" PRIu64 " %10s  %s\n", name, v, gm_human_bytes(v, h),
			 what);
}

/* The start function, cut from the left to fit: the end of a Go name says the most. */
static void start_name(const struct gm_goroutine *g, char *buf, size_t size)
{
	const char *f = g->start_func ? g->start_func : "?";
	const char *mark = g->system ? " (rt)" : "";
	size_t room = size - 1 - strlen(mark), n = strlen(f);
	if (n > room)
		snprintf(buf, size, "...%s%s", f + n - (room - 3), mark);
	else
		snprintf(buf, size, "%s%s", f, mark);
}

static void stacks_text(struct gm_run *r, const struct gm_stacks *s,
			const struct gm_goroutine *const *list, size_t nlist, size_t shown)
{
	struct gm_strbuf *b = &r->out;
	const struct gm_stack_totals *T = &s->totals;
	char h1[32], h2[32];
	gm_strbuf_printf(b,
			 "goroutines: %" PRIu64 " (%" PRIu64 " user, %" PRIu64 " runtime), %" PRIu64
			 " dead Gs kept for reuse; threads (Ms): %zu\n",
			 T->live_goroutines, T->user_goroutines, T->system_goroutines,
			 T->dead_goroutines, s->nthreads);
	gm_strbuf_printf(b, "\nStackInuse %" PRIu64 " (%s) in %" PRIu64 " stack spans:\n",
			 s->stack_inuse, gm_human_bytes(s->stack_inuse, h1), T->stack_spans);
	text_part(b, "goroutine stacks", T->goroutine_bytes, "live goroutines");
	text_part(b, "dead G stacks", T->dead_goroutine_bytes, "kept by dead Gs for reuse");
	text_part(b, "g0 stacks", T->g0_bytes, "Ms' scheduler stacks from the heap");
	text_part(b, "gsignal stacks", T->gsignal_bytes, "Ms' signal-handler stacks");
	text_part(b, "crash stack", T->crash_bytes, "runtime.gcrash, for crashes on g0");
	text_part(b, "free stack-pool slots", T->pool_free_bytes, "in stack-pool spans");
	text_part(b, "per-P stack caches", T->stackcache_bytes, "mcache.stackcache");
	text_part(b, "stackLarge free spans", T->large_free_bytes, "dedicated spans kept");
	gm_strbuf_printf(b, "  %-24s %12" PRId64 "\n", "unexplained", T->unexplained_bytes);
	if (T->outside_bytes)
		gm_strbuf_printf(b,
				 "not in StackInuse: %s of g0 stacks on OS or pthread stacks "
				 "(as the runtime bounds them)\n",
				 gm_human_bytes(T->outside_bytes, h1));

	gm_strbuf_printf(b, "\n%8s %-9s %9s %9s  %-14s  %s\n", "GOID", "STATUS", "STACK", "USED",
			 "STACK LO", "START (rt: a runtime goroutine)");
	for (size_t i = 0; i < shown; i++) {
		const struct gm_goroutine *g = list[i];
		char name[44];
		start_name(g, name, sizeof(name));
		gm_strbuf_printf(
		    b, "%8" PRIu64 " %-9s %9s %9s  0x%012" PRIx64 "  %s\n", g->goid,
		    gm_goroutine_status_name(g->status), gm_human_bytes(g->hi - g->lo, h1),
		    g->sp_source ? gm_human_bytes(g->hi - g->sp, h2) : "-", g->lo, name);
	}
	if (shown < nlist)
		gm_strbuf_printf(b, "... %zu more goroutine%s not shown (--limit 0 shows all)\n",
				 nlist - shown, nlist - shown == 1 ? "" : "s");

	gm_strbuf_printf(b, "\n%6s %10s %-8s %10s %10s %8s  %s\n", "M", "TID", "KIND", "G0 STACK",
			 "GSIGNAL", "CURG", "G0 STACK LO");
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct gm_thread *th = &s->threads[i];
		char curg[24];
		snprintf(curg, sizeof(curg), th->has_curg ? "%" PRIu64 : "-", th->curg_goid);
		gm_strbuf_printf(
		    b, "%6" PRId64 " %10" PRIu64 " %-8s %10s %10s %8s  0x%012" PRIx64 "\n", th->id,
		    th->procid, gm_thread_kind_name(th->kind),
		    gm_human_bytes(th->g0_hi - th->g0_lo, h1),
		    gm_human_bytes(th->gsignal_hi - th->gsignal_lo, h2), curg, th->g0_lo);
	}
	gm_strbuf_printf(b, "KIND: go = g0 stack from the Go heap; os = the main thread's stack; "
			    "pthread = a C thread's\n");
	struct stk_check checks[3];
	size_t nchecks = stack_checks(s, checks);
	gm_strbuf_printf(b, "\nchecks:\n");
	for (size_t i = 0; i < nchecks; i++) {
		bool ok = checks[i].runtime == checks[i].recon;
		gm_strbuf_printf(b, "  %-4s %-78s %" PRIu64, ok ? "ok" : "FAIL", checks[i].name,
				 checks[i].runtime);
		if (!ok)
			gm_strbuf_printf(b, " != %" PRIu64, checks[i].recon);
		gm_strbuf_printf(b, "\n");
	}
	gm_run_text_warnings(r);
}

struct gomem_error *gm_verb_stacks(struct gm_run *r)
{
	uint64_t limit;
	TRY(gm_run_uint_option(r, "--limit", r->json ? 0 : TEXT_DEFAULT_LIMIT, &limit));
	struct gm_stacks s;
	TRY(gm_stacks_read(r->t, r->rt, &s));
	const struct gm_goroutine **list = calloc(s.ngs ? s.ngs : 1, sizeof(*list));
	if (!list) {
		gm_stacks_deinit(&s);
		return &gm_error_no_memory;
	}
	size_t n = 0;
	for (size_t i = 0; i < s.ngs; i++) {
		if (!gm_goroutine_dead(&s.gs[i]))
			list[n++] = &s.gs[i];
	}
	gm_sort(list, n, sizeof(*list), cmp_goroutine);
	for (size_t i = 0; i < s.nwarnings; i++)
		gm_run_warn(r, s.partial, "%s", s.warnings[i]);
	if (s.totals.unexplained_bytes)
		gm_run_warn(r, true, "%" PRId64 " bytes of stack spans are unexplained",
			    s.totals.unexplained_bytes);
	size_t shown = limit && limit < n ? (size_t)limit : n;
	if (r->json)
		stacks_json(r, &s, list, n, shown);
	else
		stacks_text(r, &s, list, n, shown);
	free(list);
	gm_stacks_deinit(&s);
	return NULL;
}
