/*
 * `gomem stacks`: goroutine stacks and OS thread stacks, and how they add
 * up to StackInuse (read and reconciled in runtime/stacks.c), as text or
 * as gomem/stacks/v1.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

#define TEXT_DEFAULT_LIMIT 50

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

static void json_goroutine(struct gm_jw *w, const struct gm_goroutine *g)
{
	gm_jw_object(w);
	gm_jw_member_uint(w, "goid", g->goid);
	gm_jw_member_string(w, "status", gm_goroutine_status_name(g->status));
	gm_jw_member_uint(w, "stack_lo", g->lo);
	gm_jw_member_uint(w, "stack_hi", g->hi);
	gm_jw_member_uint(w, "stack_bytes", g->hi - g->lo);
	gm_jw_member_uint_or_null(w, "used_bytes", g->sp_source, g->hi - g->sp);
	gm_jw_member_uint_or_null(w, "sp", g->sp_source, g->sp);
	gm_jw_member_string(w, "sp_source", sp_source_names[g->sp_source]);
	gm_jw_member_string(w, "start", g->start_func);
	gm_jw_member_bool(w, "system", g->system);
	gm_jw_member_bool(w, "in_heap", g->in_span);
	gm_jw_member_uint(w, "g", g->g);
	gm_jw_end(w);
}

static void json_thread(struct gm_jw *w, const struct gm_thread *th)
{
	gm_jw_object(w);
	gm_jw_member_int(w, "m", th->id);
	gm_jw_member_uint(w, "tid", th->procid);
	gm_jw_member_string(w, "kind", gm_thread_kind_name(th->kind));
	gm_jw_member_uint(w, "g0_stack_lo", th->g0_lo);
	gm_jw_member_uint(w, "g0_stack_hi", th->g0_hi);
	gm_jw_member_uint(w, "g0_stack_bytes", th->g0_hi - th->g0_lo);
	gm_jw_member_uint(w, "gsignal_stack_bytes", th->gsignal_hi - th->gsignal_lo);
	gm_jw_member_uint_or_null(w, "curg", th->has_curg, th->curg_goid);
	gm_jw_member_uint_or_null(w, "sp", th->has_sp, th->sp);
	gm_jw_member_uint(w, "m_addr", th->m);
	gm_jw_end(w);
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

static void json_totals(struct gm_jw *w, const struct gm_stacks *s, uint64_t used)
{
	const struct gm_stack_totals *T = &s->totals;
	gm_jw_key(w, "totals");
	gm_jw_object(w);
	gm_jw_member_uint(w, "goroutines", T->live_goroutines);
	gm_jw_member_uint(w, "user_goroutines", T->user_goroutines);
	gm_jw_member_uint(w, "system_goroutines", T->system_goroutines);
	gm_jw_member_uint(w, "dead_goroutines", T->dead_goroutines);
	gm_jw_member_uint_or_null(w, "runtime_ngsys", T->have_ngsys, T->ngsys);
	gm_jw_member_uint(w, "extra_m_goroutines", T->extra_m_goroutines);
	gm_jw_member_uint(w, "threads", s->sched.nthreads);
	gm_jw_member_uint(w, "goroutine_used_bytes", used);
#define X(name, field) gm_jw_member_uint(w, name, T->field);
	TOTALS(X)
#undef X
	gm_jw_member_int(w, "unexplained_bytes", T->unexplained_bytes);
	gm_jw_member_uint(w, "stack_span_bytes", T->stack_span_bytes);
	gm_jw_member_uint(w, "stack_spans", T->stack_spans);
	gm_jw_member_uint(w, "StackInuse", s->stack_inuse);
	gm_jw_member_uint(w, "outside_heap_g0_stack_bytes", T->outside_bytes);
	gm_jw_end(w);
}

static void stacks_json(struct gm_run *r, const struct gm_stacks *s,
			const struct gm_goroutine *const *list, size_t nlist, size_t shown)
{
	struct gm_jw *w = &r->jw;
	gm_run_json_begin(r, "gomem/stacks/v1");
	gm_jw_line(w);
	gm_jw_key(w, "goroutines");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < shown; i++)
		json_goroutine(w, list[i]);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_member_uint(w, "left_out", nlist - shown);
	gm_jw_line(w);
	gm_jw_key(w, "threads");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < s->sched.nthreads; i++)
		json_thread(w, &s->sched.threads[i]);
	gm_jw_end(w);
	uint64_t used = 0;
	for (size_t i = 0; i < nlist; i++)
		used += list[i]->sp_source ? list[i]->hi - list[i]->sp : 0;
	gm_jw_line(w);
	json_totals(w, s, used);
	struct stk_check checks[3];
	size_t nchecks = stack_checks(s, checks);
	gm_jw_line(w);
	gm_jw_key(w, "checks");
	gm_jw_array(w);
	for (size_t i = 0; i < nchecks; i++) {
		gm_jw_object(w);
		gm_json_check_members(w, checks[i].name, checks[i].runtime == checks[i].recon,
				      checks[i].runtime, checks[i].recon);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_run_json_end(r);
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
			 T->dead_goroutines, s->sched.nthreads);
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
	for (size_t i = 0; i < s->sched.nthreads; i++) {
		const struct gm_thread *th = &s->sched.threads[i];
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

static struct gomem_error *run(struct gm_run *r)
{
	uint64_t limit;
	TRY(gm_run_uint_option(r, "--limit", r->json ? 0 : TEXT_DEFAULT_LIMIT, &limit));
	struct gm_stacks s;
	TRY(gm_stacks_read(r->rt, &s));
	const struct gm_goroutine **list = calloc(s.sched.ngs ? s.sched.ngs : 1, sizeof(*list));
	if (!list) {
		gm_stacks_deinit(&s);
		return &gm_error_no_memory;
	}
	size_t n = 0;
	for (size_t i = 0; i < s.sched.ngs; i++) {
		if (!gm_goroutine_dead(&s.sched.gs[i]))
			list[n++] = &s.sched.gs[i];
	}
	gm_sort(list, n, sizeof(*list), cmp_goroutine);
	for (size_t i = 0; i < s.sched.nwarnings; i++)
		gm_run_warn(r, s.sched.partial, "%s", s.sched.warnings[i]);
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

static const struct gm_option_spec options[] = {
    {"--limit", "N",
     "list the N largest goroutine stacks (0: all; default 50 in text, all in JSON)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_stacks = {
    .name = "stacks",
    .usage = "stacks [--limit N] [--json]",
    .summary = "goroutine stacks and OS thread stacks, sizes and use",
    .help = "Lists the goroutines (runtime.allgs) with their status, stack size and the "
	    "bytes in use (from the saved stack pointer: g.sched.sp, g.syscallsp in a "
	    "system call, the thread's own SP from the core for a running goroutine), "
	    "largest first; the threads (runtime.allm) with their g0 and signal "
	    "stacks; and how the stack spans add up to StackInuse: live goroutine "
	    "stacks, stacks kept by dead Gs, g0 and gsignal stacks, free stack-pool "
	    "slots, per-P stack caches and cached large stack spans. Runtime "
	    "goroutines are told apart as runtime.NumGoroutine does. With --json, "
	    "prints one gomem/stacks/v1 object.",
    .options = options,
    .run = run,
};
