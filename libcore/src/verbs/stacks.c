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

/* ---- goroutines grouped by what they do ---- */

/* One (status, wait reason, function, start function) and its goroutines. */
struct group {
	const struct gm_goroutine *first; /* its key */
	uint64_t count, stack_bytes, used_bytes;
};

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_key(const struct gm_goroutine *x, const struct gm_goroutine *y)
{
	int c;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	if ((c = cmp_str(x->wait_reason, y->wait_reason)) != 0)
		return c;
	if ((c = cmp_str(x->func, y->func)) != 0)
		return c;
	return cmp_str(x->start_func, y->start_func);
}

static int cmp_by_key(const void *a, const void *b)
{
	const struct gm_goroutine *x = *(const struct gm_goroutine *const *)a;
	const struct gm_goroutine *y = *(const struct gm_goroutine *const *)b;
	int c = cmp_key(x, y);
	return c ? c : x->goid < y->goid ? -1 : x->goid > y->goid;
}

/* Largest first: by stack bytes, then by count, then by key. */
static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->stack_bytes != y->stack_bytes)
		return x->stack_bytes > y->stack_bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return cmp_key(x->first, y->first);
}

static uint64_t used_bytes(const struct gm_goroutine *g)
{
	return g->sp_source ? g->hi - g->sp : 0;
}

/* The groups of list[0..n), largest first, into *ret (freed by the caller). */
static struct gomem_error *make_groups(const struct gm_goroutine *const *list, size_t n,
				       struct group **ret, size_t *n_ret)
{
	const struct gm_goroutine **sorted = calloc(n ? n : 1, sizeof(*sorted));
	struct group *gs = calloc(n ? n : 1, sizeof(*gs));
	if (!sorted || !gs) {
		free(sorted);
		free(gs);
		return &gm_error_no_memory;
	}
	memcpy(sorted, list, n * sizeof(*sorted));
	gm_sort(sorted, n, sizeof(*sorted), cmp_by_key);
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ng || cmp_key(gs[ng - 1].first, sorted[i]) != 0)
			gs[ng++].first = sorted[i];
		struct group *g = &gs[ng - 1];
		g->count++;
		g->stack_bytes += sorted[i]->hi - sorted[i]->lo;
		g->used_bytes += used_bytes(sorted[i]);
	}
	free(sorted);
	gm_sort(gs, ng, sizeof(*gs), cmp_group);
	*ret = gs;
	*n_ret = ng;
	return NULL;
}

static void json_group(struct gm_jw *w, const struct group *g)
{
	gm_jw_object(w);
	gm_jw_member_uint(w, "count", g->count);
	gm_jw_member_string(w, "status", gm_goroutine_status_name(g->first->status));
	gm_jw_member_string(w, "wait_reason", g->first->wait_reason);
	gm_jw_member_string(w, "function", g->first->func);
	gm_jw_member_string(w, "start_function", g->first->start_func);
	gm_jw_member_uint(w, "stack_bytes", g->stack_bytes);
	gm_jw_member_uint(w, "used_bytes", g->used_bytes);
	gm_jw_end(w);
}

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
	gm_jw_member_string(w, "wait_reason", g->wait_reason);
	gm_jw_member_uint_or_null(w, "waitreason", g->status == 4, g->waitreason);
	gm_jw_member_string(w, "function", g->func);
	gm_jw_member_uint_or_null(w, "pc", g->pc_source, g->pc);
	gm_jw_member_string(w, "pc_source", sp_source_names[g->pc_source]);
	gm_jw_member_string(w, "start_function", g->start_func);
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
			const struct gm_goroutine *const *list, size_t nlist, size_t shown,
			const struct group *groups, size_t ngroups)
{
	struct gm_jw *w = &r->jw;
	gm_run_json_begin(r, "gomem/stacks/v1");
	gm_jw_line(w);
	gm_jw_key(w, "groups");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < ngroups; i++)
		json_group(w, &groups[i]);
	gm_jw_end(w);
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
		gm_json_check_state_members(
		    w, checks[i].name, gm_run_check_state(r, checks[i].runtime == checks[i].recon),
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

/* A name cut from the left to width columns: the end of a Go name says the most. */
static const char *cut(const char *f, char *buf, size_t width)
{
	size_t n = strlen(f ? f : "?");
	if (!f)
		f = "?";
	if (n <= width || width < 4)
		return f;
	snprintf(buf, width + 1, "...%s", f + n - (width - 3));
	return buf;
}

static const char *wait_text(const struct gm_goroutine *g)
{
	return g->wait_reason ? g->wait_reason : g->status == 4 ? "?" : "-";
}

/* Text columns: the lines stay within 100 (names cut from the left). */
#define WAIT_COLS  23
#define FUNC_COLS  22
#define START_COLS 24

static void text_groups(struct gm_strbuf *b, const struct group *gs, size_t ng, size_t shown)
{
	char h[32], f[FUNC_COLS + 1], w[WAIT_COLS + 1], st[START_COLS + 1];
	gm_strbuf_printf(b, "\n%6s %10s  %-9s %-*s %-*s %s\n", "COUNT", "STACK", "STATUS",
			 WAIT_COLS, "WAIT REASON", FUNC_COLS, "TOP FRAME", "START (rt: runtime)");
	for (size_t i = 0; i < shown; i++) {
		const struct gm_goroutine *g = gs[i].first;
		char start[START_COLS + 8];
		snprintf(start, sizeof(start), "%s",
			 cut(g->start_func, st, START_COLS - (g->system ? 5 : 0)));
		gm_strbuf_printf(b, "%6" PRIu64 " %10s  %-9s %-*s %-*s %s%s\n", gs[i].count,
				 gm_human_bytes(gs[i].stack_bytes, h),
				 gm_goroutine_status_name(g->status), WAIT_COLS,
				 cut(wait_text(g), w, WAIT_COLS), FUNC_COLS,
				 cut(g->func, f, FUNC_COLS), start, g->system ? " (rt)" : "");
	}
	if (shown < ng)
		gm_strbuf_printf(b, "... %zu more group%s not shown (--limit 0 shows all)\n",
				 ng - shown, ng - shown == 1 ? "" : "s");
	gm_strbuf_printf(
	    b, "one line per (status, wait reason, top frame, start function), the "
	       "most stack bytes first;\n--no-group lists each goroutine, --json gives the "
	       "names uncut\n");
}

static void text_goroutines(struct gm_strbuf *b, const struct gm_goroutine *const *list,
			    size_t nlist, size_t shown)
{
	char h1[32], h2[32], f[FUNC_COLS + 1], w[20 + 1];
	gm_strbuf_printf(b, "\n%8s %-9s %-20s %9s %9s %-*s %s\n", "GOID", "STATUS", "WAIT REASON",
			 "STACK", "USED", FUNC_COLS, "TOP FRAME", "START (rt: runtime)");
	for (size_t i = 0; i < shown; i++) {
		const struct gm_goroutine *g = list[i];
		char name[20];
		start_name(g, name, sizeof(name));
		gm_strbuf_printf(b, "%8" PRIu64 " %-9s %-20s %9s %9s %-*s %s\n", g->goid,
				 gm_goroutine_status_name(g->status), cut(wait_text(g), w, 20),
				 gm_human_bytes(g->hi - g->lo, h1),
				 g->sp_source ? gm_human_bytes(g->hi - g->sp, h2) : "-", FUNC_COLS,
				 cut(g->func, f, FUNC_COLS), name);
	}
	if (shown < nlist)
		gm_strbuf_printf(b, "... %zu more goroutine%s not shown (--limit 0 shows all)\n",
				 nlist - shown, nlist - shown == 1 ? "" : "s");
}

static void stacks_text(struct gm_run *r, const struct gm_stacks *s,
			const struct gm_goroutine *const *list, size_t nlist, size_t shown,
			const struct group *groups, size_t ngroups)
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

	if (groups)
		text_groups(b, groups, ngroups, shown);
	else
		text_goroutines(b, list, nlist, shown);
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
		gm_strbuf_printf(b, "  %-4s %-78s %" PRIu64,
				 gm_check_word(gm_run_check_state(r, ok)), checks[i].name,
				 checks[i].runtime);
		if (!ok)
			gm_strbuf_printf(b, " != %" PRIu64, checks[i].recon);
		gm_strbuf_printf(b, "\n");
	}
	gm_run_text_skew(r);
	gm_run_text_warnings(r);
}

static struct gomem_error *run(struct gm_run *r)
{
	uint64_t limit;
	TRY(gm_run_uint_option(r, "--limit", r->json ? 0 : TEXT_DEFAULT_LIMIT, &limit));
	struct gm_stacks s;
	TRY(gm_stacks_read(r->rt, &s));
	gm_target_resume(r->t); /* everything is read: a live process goes on */
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
	struct group *groups = NULL;
	size_t ngroups = 0;
	bool group = r->json || !gm_run_option(r, "--no-group");
	struct gomem_error *err = group ? make_groups(list, n, &groups, &ngroups) : NULL;
	if (err) {
		free(list);
		gm_stacks_deinit(&s);
		return err;
	}
	if (n && !s.sched.have_wait_reasons)
		gm_run_warn(r, false,
			    "wait reasons unknown: this binary's runtime.waitReasonStrings or "
			    "g.waitreason cannot be found");
	for (size_t i = 0; i < s.sched.nwarnings; i++)
		gm_run_warn(r, s.sched.partial, "%s", s.sched.warnings[i]);
	if (s.totals.unexplained_bytes)
		gm_run_warn(r, true, "%" PRId64 " bytes of stack spans are unexplained",
			    s.totals.unexplained_bytes);
	size_t shown = limit && limit < n ? (size_t)limit : n;
	if (r->json) {
		stacks_json(r, &s, list, n, shown, groups, ngroups);
	} else {
		if (groups)
			shown = limit && limit < ngroups ? (size_t)limit : ngroups;
		stacks_text(r, &s, list, n, shown, groups, ngroups);
	}
	free(groups);
	free(list);
	gm_stacks_deinit(&s);
	return NULL;
}

static const struct gm_option_spec options[] = {
    {"--limit", "N",
     "list the N largest groups, or goroutines with --no-group (0: all; default 50 in text, "
     "all in JSON)"},
    {"--group", NULL,
     "one line per (status, wait reason, top frame, start function) with the count and the "
     "stack bytes, largest first (the default in text)"},
    {"--no-group", NULL, "list every goroutine, largest stack first"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_stacks = {
    .name = "stacks",
    .usage = "stacks [--group | --no-group] [--limit N] [--json]",
    .summary = "goroutine stacks and OS thread stacks, sizes and use",
    .help = "Lists the goroutines (runtime.allgs) grouped by what they do: their status, "
	    "wait reason (g.waitreason, named as the runtime names it in its "
	    "waitReasonStrings), top frame (the function at g.sched.pc, g.syscallpc in a "
	    "system call, the thread's PC for a running goroutine) and start function "
	    "(g.startpc); with --no-group each goroutine with its status, stack size and "
	    "the bytes in use (from the saved stack pointer: g.sched.sp, g.syscallsp in a "
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
