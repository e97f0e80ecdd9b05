/*
 * `gomem summary`: reserved versus used. Two views of the same memory, the
 * runtime's counters and the walk of its structures, and the checks
 * between them; rendered as text or as the gomem/summary/v1 JSON.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

#define MAX_CHECKS     16
#define SENTENCE_BYTES 1024

/*
 * A check holds when the two views agree exactly, or, for the checks on free
 * pages, when the runtime's counter is above the walk by at most the pages in
 * flight (see in_flight_bytes): the runtime still counts those as free.
 */
struct check {
	const char *name;
	uint64_t runtime, reconstructed;
	uint64_t tolerance; /* 0: exact */
};

static bool check_ok(const struct check *c)
{
	return c->runtime == c->reconstructed ||
	       (c->runtime > c->reconstructed && c->runtime - c->reconstructed <= c->tolerance);
}

struct summary {
	struct gm_target *t;
	struct gm_memstats ms;
	struct gm_heap_walk walk;
	uint64_t vsz;
	bool has_rss;
	uint64_t rss;
	struct gm_addrspace *as; /* every mapping's owner (addrspace.c) */
	struct gm_breakdown bd;
	struct check checks[MAX_CHECKS];
	int nchecks;
	struct gm_run *run;	/* for warnings */
	struct gm_graph *graph; /* --objects: the object graph (the target's), else NULL */
	char skew_why[512];
};

static void add_check_within(struct summary *s, const char *name, uint64_t runtime, uint64_t recon,
			     uint64_t tolerance)
{
	if (s->nchecks < MAX_CHECKS)
		s->checks[s->nchecks++] = (struct check){name, runtime, recon, tolerance};
}

static void add_check(struct summary *s, const char *name, uint64_t runtime, uint64_t recon)
{
	add_check_within(s, name, runtime, recon, 0);
}

/*
 * Heap pages the page allocator marks allocated that no span holds: a thread
 * was between taking pages and handing them on when the core was taken. The
 * scavenger marks the pages it is releasing allocated while it runs madvise
 * without the heap lock (mgcscavenge.go, scavengeOne), and allocSpan takes
 * pages before the span is set up (mheap.go). The runtime's counters still
 * count them as free, retained or released depending on how far it got.
 * A quiescent process, and anything ReadMemStats sees (it stops the world),
 * has none.
 */
static uint64_t in_flight_bytes(const struct gm_heap_walk *w)
{
	uint64_t held = w->in_use_bytes + w->stack_bytes + w->work_buf_bytes +
			w->free_retained_bytes + w->free_released_bytes;
	return w->mapped_bytes > held ? w->mapped_bytes - held : 0;
}

static struct gomem_error *measure_address_space(struct summary *s)
{
	struct gm_target *t = s->t;
	/* VSZ and RSS are the sums of the parts the breakdown is made of. */
	struct gomem_error *err = gm_addrspace_build(t, s->run->rt, &s->as);
	if (err)
		return err;
	s->vsz = s->as->vsz;
	s->has_rss = s->as->has_rss;
	s->rss = s->as->rss;
	for (size_t i = 0; i < s->as->nwarnings; i++)
		gm_run_warn(s->run, s->as->partial, "%s", s->as->warnings[i]);
	const char *why = t->have_core ? gm_target_residency_why(t) : NULL;
	if (!s->has_rss && why)
		gm_run_warn(s->run, false, "residency unknown: %s: %s", t->core.path, why);
	if (gm_target_is_gcore(t))
		gm_run_warn(s->run, false,
			    "VSZ from a gcore counts the mappings GDB saved or listed in NT_FILE: "
			    "[vvar] is in neither");
	return NULL;
}

static struct gomem_error *build_breakdown(struct summary *s)
{
	return gm_breakdown_build(s->as, &s->bd);
}

static void build_checks(struct summary *s)
{
	const struct gm_heap_walk *w = &s->walk;
	const struct gm_memstats *ms = &s->ms;
	add_check(s, "HeapInuse = pages of in-use spans", ms->HeapInuse, w->in_use_bytes);
	uint64_t flight = in_flight_bytes(w);
	add_check_within(s, "HeapReleased = released free pages", ms->HeapReleased,
			 w->free_released_bytes, flight);
	add_check_within(s, "HeapIdle - HeapReleased = retained free pages",
			 ms->HeapIdle - ms->HeapReleased, w->free_retained_bytes, flight);
	add_check_within(s, "HeapSys = in-use + free pages", ms->HeapSys,
			 w->in_use_bytes + w->free_retained_bytes + w->free_released_bytes, flight);
	add_check(s, "StackInuse = pages of stack spans", ms->StackInuse, w->stack_bytes);
	add_check(s, "HeapObjects = objects in in-use spans", ms->HeapObjects, w->objects);
	add_check(s, "HeapAlloc = bytes of objects in in-use spans", ms->HeapAlloc,
		  w->object_bytes);
	/*
	 * The runtime's manual spans outside HeapSys and StackInuse: GC work
	 * buffers, and up to 1.23 the pointer bitmaps that GC programs are
	 * unrolled into (heapStats.inPtrScalarBits): from 1.22 a large object
	 * of such a type keeps one as its largeType for its lifetime
	 * (heapSetType, mbitmap_allocheaders.go@1.22), before only a scan does.
	 */
	add_check(s, "HeapSys + StackInuse + work buffers = mapped heap pages",
		  ms->HeapSys + ms->StackInuse + ms->work_bufs + ms->ptr_scalar_bits,
		  w->mapped_bytes);
	/* sysUnused drops mappedReady before the scavenger counts the pages released. */
	add_check_within(s, "Sys = mappedReady + released", ms->Sys,
			 ms->mapped_ready + ms->released_consistent, flight);
	add_check(s, "HeapInuse = heapStats.inHeap", ms->HeapInuse, ms->in_heap_consistent);
	if (s->as && s->as->meta_known)
		add_check(s, "metadata found = Sys - HeapSys - StackInuse - wbufs",
			  s->as->meta_memstats_bytes, s->as->meta_located_bytes);
}

/*
 * A process stopped while a thread was inside the allocator (m.mallocing,
 * or heap pages in flight) is between two consistent states: a check that
 * differs then is skew, said with the reason, not a FAIL. Read while the
 * process is still stopped.
 */
static void note_stopped_mid_allocation(struct summary *s, uint64_t flight)
{
	struct gm_sched sched;
	size_t mallocing = 0;
	struct gomem_error *err = gm_sched_read(s->run->rt, GM_SCHED_THREADS, &sched);
	if (!err) {
		for (size_t i = 0; i < sched.nthreads; i++)
			mallocing += sched.threads[i].mallocing;
		gm_sched_deinit(&sched);
	}
	gomem_error_destroy(err);
	if (!mallocing && !flight)
		return;
	snprintf(s->skew_why, sizeof(s->skew_why),
		 "gomem stopped the process while %zu thread%s %s inside the allocator "
		 "(m.mallocing)%s%s: the runtime's counters and its spans were caught between "
		 "two consistent states, so a check that differs by that allocation says "
		 "nothing about gomem or the process; read it again",
		 mallocing, mallocing == 1 ? "" : "s", mallocing == 1 ? "was" : "were",
		 flight ? " with heap pages in flight" : "", "");
	s->run->skew_why = s->skew_why;
}

static struct gomem_error *summary_build(struct gm_run *r, struct summary *s)
{
	struct gm_target *t = r->t;
	memset(s, 0, sizeof(*s));
	s->t = t;
	s->run = r;
	struct gomem_error *err = gm_runtime_memstats(r->rt, &s->ms);
	if (err)
		return err;
	err = measure_address_space(s);
	if (err)
		return err;
	err = gm_runtime_walk_heap(r->rt, NULL, NULL, &s->walk);
	if (err)
		return err;
	for (size_t i = 0; i < t->core.nwarnings; i++)
		gm_run_warn(s->run, true, "%s", t->core.warnings[i]);
	if (s->walk.bad_spans) {
		gm_run_warn(s->run, true,
			    "%" PRIu64
			    " span descriptors looked live but failed validation and were "
			    "skipped",
			    s->walk.bad_spans);
	}
	uint64_t flight = in_flight_bytes(&s->walk);
	if (flight) {
		char h[32];
		gm_run_warn(s->run, false,
			    "%" PRIu64 " bytes (%s) of heap pages in flight: allocated in the page "
			    "allocator, held by no span (being scavenged or made a span); the "
			    "free-page checks allow them",
			    flight, gm_human_bytes(flight, h));
	}
	if (gm_go_version_newer_than_tested(&t->exe))
		gm_run_warn(s->run, false,
			    "%s is newer than the newest Go gomem was tested with (1.%d): read the "
			    "checks before trusting the numbers",
			    t->exe.go_version, GM_NEWEST_TESTED_GO_MINOR);
	err = build_breakdown(s);
	if (err)
		return err;
	build_checks(s);
	if (gm_target_stopped(t))
		note_stopped_mid_allocation(s, flight);
	return NULL;
}

/* ---- the heap since the last GC ---- */

/*
 * GOGC=off leaves the heap goal at ^uint64(0)>>1 less the memory limit's
 * headroom (mgcpacer.go: gcPercentHeapGoal is maxInt64 with gcPercent < 0,
 * and memoryLimitHeapGoal subtracts its headroom): about 2^63, where no heap
 * can get. Any goal above 2^62 is that.
 */
static bool gc_off(const struct gm_memstats *ms)
{
	return ms->NextGC > (1ULL << 62);
}

/* HeapAlloc - heapMarked: what was allocated since the last GC marked the heap. */
static uint64_t allocated_since_gc(const struct gm_memstats *ms)
{
	return ms->HeapAlloc > ms->heap_marked ? ms->HeapAlloc - ms->heap_marked : 0;
}

/* The sentence that stops users chasing garbage: the heap against the last GC and the next. */
static void gc_sentence(const struct gm_memstats *ms, char *out, size_t size)
{
	char h[3][32];
	if (!ms->has_heap_marked) {
		out[0] = 0;
		return;
	}
	const char *next =
	    gc_off(ms) ? "GC off (GOGC=off and no memory limit): no GC is due, the heap grows "
			 "until the program calls runtime.GC"
		       : "the next GC is due when the heap reaches ";
	snprintf(out, size,
		 "%s %s of the heap live (gcController.heapMarked); %s was allocated since "
		 "(HeapAlloc - heapMarked: objects allocated after that GC, live ones and "
		 "garbage alike, which only the next GC tells apart); %s%s%s.",
		 ms->NumGC ? "The last GC marked" : "No GC has run yet: the runtime starts from",
		 gm_human_bytes(ms->heap_marked, h[0]),
		 gm_human_bytes(allocated_since_gc(ms), h[1]), next,
		 gc_off(ms) ? "" : gm_human_bytes(ms->NextGC, h[2]), gc_off(ms) ? "" : " (NextGC)");
}

/* ---- JSON ---- */

#define MS_FIELDS(X)                                                                               \
	X(HeapAlloc)                                                                               \
	X(HeapSys)                                                                                 \
	X(HeapIdle)                                                                                \
	X(HeapInuse)                                                                               \
	X(HeapReleased)                                                                            \
	X(HeapObjects)                                                                             \
	X(StackInuse)                                                                              \
	X(StackSys)                                                                                \
	X(MSpanInuse)                                                                              \
	X(MSpanSys)                                                                                \
	X(MCacheInuse)                                                                             \
	X(MCacheSys)                                                                               \
	X(BuckHashSys)                                                                             \
	X(GCSys)                                                                                   \
	X(OtherSys)                                                                                \
	X(Sys)                                                                                     \
	X(NextGC)                                                                                  \
	X(NumGC)                                                                                   \
	X(TotalAlloc)                                                                              \
	X(Mallocs)                                                                                 \
	X(Frees)                                                                                   \
	X(NumForcedGC)                                                                             \
	X(LastGC)                                                                                  \
	X(PauseTotalNs)

/*
 * "classes": the in-use spans by size class (class 0: large objects), so
 * that two saved summaries can be compared class by class (gomem diff).
 */
static void json_classes(struct gm_jw *w, const struct gm_heap_walk *walk)
{
	gm_jw_key(w, "classes");
	gm_jw_array_lines(w);
	for (unsigned i = 0; i < GM_MAX_SIZE_CLASSES; i++) {
		const struct gm_class_stats *c = i ? &walk->classes[i] : &walk->large;
		if (!c->spans)
			continue;
		gm_jw_object(w);
		gm_jw_member_uint(w, "class", i);
		gm_jw_member_uint(w, "object_size", gm_class_to_size[i]);
		gm_jw_member_uint(w, "spans", c->spans);
		gm_jw_member_uint(w, "objects", c->objects);
		gm_jw_member_uint(w, "object_bytes", c->object_bytes);
		gm_jw_member_uint(w, "free_slots", c->free_slots);
		gm_jw_member_uint(w, "free_slot_bytes", c->free_slot_bytes);
		gm_jw_member_uint(w, "tail_waste_bytes", c->tail_waste_bytes);
		gm_jw_end(w);
	}
	gm_jw_end(w);
}

static void json_heap(struct gm_jw *w, const struct gm_heap_walk *h, const struct gm_memstats *ms,
		      const struct gm_graph *g)
{
	gm_jw_key(w, "heap");
	gm_jw_object(w);
	gm_jw_member_uint(w, "arenas", h->arenas);
	gm_jw_member_uint(w, "arena_bytes", h->arena_bytes);
	gm_jw_key(w, "spans");
	gm_jw_object(w);
	gm_jw_member_uint(w, "in_use", h->spans_in_use);
	gm_jw_member_uint(w, "manual", h->spans_manual);
	gm_jw_member_uint(w, "free", h->spans_free);
	gm_jw_end(w);
	gm_jw_member_uint(w, "in_use_bytes", h->in_use_bytes);
	gm_jw_member_uint(w, "objects", h->objects);
	gm_jw_member_uint(w, "object_bytes", h->object_bytes);
	gm_jw_member_uint(w, "free_slot_bytes", h->free_slot_bytes);
	gm_jw_member_uint(w, "tail_waste_bytes", h->tail_waste_bytes);
	gm_jw_member_uint(w, "stack_bytes", h->stack_bytes);
	gm_jw_member_uint(w, "work_buf_bytes", h->work_buf_bytes);
	gm_jw_member_uint(w, "free_retained_bytes", h->free_retained_bytes);
	gm_jw_member_uint(w, "free_released_bytes", h->free_released_bytes);
	gm_jw_member_uint(w, "mapped_bytes", h->mapped_bytes);
	gm_jw_member_uint(w, "unmapped_arena_bytes", h->unmapped_arena_bytes);
	gm_jw_member_uint(w, "in_flight_bytes", in_flight_bytes(h));
	gm_jw_member_uint(w, "user_arenas", h->user_arenas);
	gm_jw_member_uint(w, "user_chunk_bytes", h->user_chunk_bytes);
	gm_jw_member_uint_or_null(w, "live_at_last_gc_bytes", ms->has_heap_marked, ms->heap_marked);
	gm_jw_member_uint_or_null(w, "allocated_since_gc_bytes", ms->has_heap_marked,
				  allocated_since_gc(ms));
	gm_jw_member_bool(w, "gc_off", gc_off(ms));
	if (g) {
		/* Only with --objects: the default summary reads metadata only. */
		gm_jw_member_uint(w, "reachable_bytes", g->stats.reachable_bytes);
		gm_jw_member_uint(w, "unreachable_bytes", g->stats.unreachable_bytes);
	}
	gm_jw_end(w);
}

static void summary_json(struct gm_run *r, const struct summary *s)
{
	struct gm_jw *w = &r->jw;
	gm_run_json_begin(r, "gomem/summary/v1");
	gm_jw_line(w);
	gm_jw_key(w, "target");
	gm_json_target(w, r->target);
	gm_jw_line(w);
	gm_jw_member_uint(w, "vsz_bytes", s->vsz);
	gm_jw_line(w);
	gm_rss_json(w, s->as);
	gm_jw_line(w);
	gm_jw_key(w, "memstats");
	gm_jw_object(w);
#define X(f) gm_jw_member_uint(w, #f, s->ms.f);
	MS_FIELDS(X)
#undef X
	gm_jw_end(w);
	gm_jw_line(w);
	json_heap(w, &s->walk, &s->ms, s->graph);
	gm_jw_line(w);
	json_classes(w, &s->walk);
	gm_jw_line(w);
	gm_jw_key(w, "breakdown");
	gm_breakdown_json(w, &s->bd);
	gm_jw_line(w);
	gm_jw_key(w, "explanation");
	char gc[SENTENCE_BYTES];
	gc_sentence(&s->ms, gc, sizeof(gc));
	gm_breakdown_explain_json(w, s->as, &s->bd, gc[0] ? gc : NULL);
	gm_jw_line(w);
	gm_jw_key(w, "checks");
	gm_jw_array_lines(w);
	for (int i = 0; i < s->nchecks; i++) {
		const struct check *c = &s->checks[i];
		gm_jw_object(w);
		gm_json_check_state_members(w, c->name, gm_run_check_state(r, check_ok(c)),
					    c->runtime, c->reconstructed);
		gm_jw_member_uint(w, "tolerance_bytes", c->tolerance);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_run_json_end(r);
}

/* ---- text ---- */

static void text_bytes_row(struct gm_strbuf *b, const char *name, uint64_t v, const char *what)
{
	char h[32];
	gm_strbuf_printf(b, "  %-13s %15" PRIu64 "  %10s  %s\n", name, v, gm_human_bytes(v, h),
			 what);
}

/* ", stopped 12.3 ms while gomem read it", or how it was read without a stop. */
static const char *pause_text(const struct gm_target *t, char *buf)
{
	uint64_t ns;
	unsigned stops;
	if (t->read_running)
		return ", read while it ran (--no-stop)";
	if (!gm_target_pause(t, &ns, &stops))
		return ", stopped by the debugger";
	snprintf(buf, 96, ", stopped %.1f ms while gomem read it", (double)ns / 1e6);
	return buf;
}

static void summary_text(struct gm_run *r, struct gm_strbuf *b, const struct summary *s)
{
	const struct gm_target *t = s->t;
	char pause[96];
	const struct gm_memstats *ms = &s->ms;
	char h1[32], h3[32];
	gm_strbuf_printf(b, "%s (%s%s%s, linux/%s), ", t->exe.path, t->exe.go_version,
			 t->exe.experiments[0] ? ", X:" : "", t->exe.experiments, t->arch->goarch);
	if (t->have_core)
		gm_strbuf_printf(b, "%s core %s, pid %d\n", gm_target_core_kind(t), t->core.path,
				 t->pid);
	else
		gm_strbuf_printf(b, "live process %d%s\n", t->pid, pause_text(t, pause));
	gm_strbuf_printf(b, "VSZ %s, ", gm_human_bytes(s->vsz, h1));
	gm_rss_line(b, s->as, t->page_size);
	gm_strbuf_printf(b, "\n");
	gm_breakdown_text(b, &s->bd);
	char gc[SENTENCE_BYTES];
	gc_sentence(ms, gc, sizeof(gc));
	gm_breakdown_explain(b, s->as, &s->bd, gc[0] ? gc : NULL);

	gm_strbuf_printf(b, "\nruntime.MemStats, as ReadMemStats would report them:\n");
	text_bytes_row(b, "HeapAlloc", ms->HeapAlloc, "bytes of allocated heap objects");
	text_bytes_row(b, "HeapInuse", ms->HeapInuse, "bytes in in-use spans");
	text_bytes_row(b, "HeapIdle", ms->HeapIdle, "bytes in free spans");
	text_bytes_row(b, "HeapReleased", ms->HeapReleased, "free bytes returned to the OS");
	text_bytes_row(b, "HeapSys", ms->HeapSys, "heap bytes obtained from the OS");
	text_bytes_row(b, "StackInuse", ms->StackInuse, "bytes in stack spans");
	text_bytes_row(b, "StackSys", ms->StackSys, "stack bytes obtained from the OS");
	text_bytes_row(b, "MSpanInuse", ms->MSpanInuse, "mspan structures in use");
	text_bytes_row(b, "MSpanSys", ms->MSpanSys, "mspan structures obtained from the OS");
	text_bytes_row(b, "MCacheInuse", ms->MCacheInuse, "mcache structures in use");
	text_bytes_row(b, "MCacheSys", ms->MCacheSys, "mcache structures obtained from the OS");
	text_bytes_row(b, "BuckHashSys", ms->BuckHashSys, "profiling bucket hash tables");
	text_bytes_row(b, "GCSys", ms->GCSys, "garbage collector metadata");
	text_bytes_row(b, "OtherSys", ms->OtherSys, "other runtime allocations");
	text_bytes_row(b, "Sys", ms->Sys, "total obtained from the OS");
	if (gc_off(ms))
		gm_strbuf_printf(b, "  %-13s %15" PRIu64 "  %10s  %s\n", "NextGC", ms->NextGC,
				 "GC off", "heap goal of the next GC: none (GOGC=off)");
	else
		text_bytes_row(b, "NextGC", ms->NextGC, "heap goal of the next GC");
	text_bytes_row(b, "TotalAlloc", ms->TotalAlloc, "cumulative bytes allocated");
	gm_strbuf_printf(b,
			 "  %-13s %15" PRIu64 "  objects; Mallocs %" PRIu64 ", Frees %" PRIu64
			 "; NumGC %" PRIu64 "\n",
			 "HeapObjects", ms->HeapObjects, ms->Mallocs, ms->Frees, ms->NumGC);
	if (s->graph) {
		const struct gm_graph_stats *gs = &s->graph->stats;
		gm_strbuf_printf(
		    b,
		    "  %-13s %15" PRIu64 "  %10s  reachable from the roots; unreachable %s "
		    "(gomem objects)\n",
		    "objects", gs->reachable_bytes, gm_human_bytes(gs->reachable_bytes, h1),
		    gm_human_bytes(gs->unreachable_bytes, h3));
	}

	gm_strbuf_printf(b, "\nchecks (runtime counters against the walk of spans and pages):\n");
	for (int i = 0; i < s->nchecks; i++) {
		const struct check *c = &s->checks[i];
		bool ok = check_ok(c);
		enum gm_check_state st = gm_run_check_state(r, ok);
		gm_strbuf_printf(b, "  %-4s %-56s %" PRIu64, gm_check_word(st), c->name,
				 c->runtime);
		if (c->runtime != c->reconstructed)
			gm_strbuf_printf(b, " %s %" PRIu64 "%s", ok ? "vs" : "!=", c->reconstructed,
					 ok ? " (in flight)" : "");
		gm_strbuf_printf(b, "\n");
	}
	gm_run_text_skew(r);
	gm_run_text_warnings(s->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct summary *s = calloc(1, sizeof(*s));
	if (!s)
		return &gm_error_no_memory;
	struct gomem_error *err = summary_build(r, s);
	if (!err && gm_run_option(r, "--objects"))
		err = gm_run_graph(r, &s->graph);
	/* Everything is read (the object graph too): a live process goes on while the report is
	 * made. */
	gm_target_resume(r->t);
	const char *svg = gm_run_option(r, "--svg");
	if (!err && svg) {
		char title[256];
		snprintf(title, sizeof(title), "%s: where %s of address space goes", r->t->exe.path,
			 gm_human_bytes(s->vsz, (char[32]){0}));
		err = gm_breakdown_svg(&s->bd, title, svg);
	}
	if (!err && r->json)
		summary_json(r, s);
	else if (!err)
		summary_text(r, &r->out, s);
	if (!err && svg && !r->json)
		gm_strbuf_printf(&r->out, "\ntreemap of the breakdown written to %s\n", svg);
	gm_breakdown_deinit(&s->bd);
	gm_addrspace_destroy(s->as);
	free(s);
	return err;
}

static const struct gm_option_spec options[] = {
    {"--svg", "FILE", "also write the breakdown as a treemap picture (SVG) to FILE"},
    {"--objects", NULL,
     "also mark the heap from its roots (gomem objects): reachable and unreachable bytes"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_summary = {
    .name = "summary",
    .usage = "summary [--objects] [--json]",
    .summary = "reserved versus used: the breakdown tree, MemStats, the checks",
    .help = "Prints where the address space goes (Go heap arenas: in-use spans, "
	    "stacks, free retained and released pages, reserved space), the "
	    "runtime.MemStats values exactly as runtime.ReadMemStats would report "
	    "them, and the checks between the runtime's counters and the walk of its "
	    "structures. With --objects, also the reachable and unreachable bytes of "
	    "the heap's objects (the object graph: it reads every object, where the "
	    "default reads metadata only). With --json, prints one gomem/summary/v1 "
	    "object.",
    .options = options,
    .run = run,
};
