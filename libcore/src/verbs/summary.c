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

#define MAX_CHECKS 16

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
	struct gm_run *run; /* for warnings */
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
		gm_run_warn(s->run, false, "%s", s->as->warnings[i]);
	if (!s->has_rss && t->source == GM_SOURCE_CORE) {
		gm_run_warn(s->run, false,
			    "residency unknown: %s was not written by the kernel (gcore writes "
			    "every page, so it cannot tell resident pages from untouched ones)",
			    t->core.path);
		gm_run_warn(s->run, false,
			    "VSZ from a gcore counts the mappings GDB saved or listed in NT_FILE: "
			    "[vvar] is in neither");
	}
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
	add_check(s, "HeapSys + StackInuse + work buffers = mapped heap pages",
		  ms->HeapSys + ms->StackInuse + ms->work_bufs, w->mapped_bytes);
	/* sysUnused drops mappedReady before the scavenger counts the pages released. */
	add_check_within(s, "Sys = mappedReady + released", ms->Sys,
			 ms->mapped_ready + ms->released_consistent, flight);
	add_check(s, "HeapInuse = heapStats.inHeap", ms->HeapInuse, ms->in_heap_consistent);
	if (s->as && s->as->meta_known)
		add_check(s, "metadata found = Sys - HeapSys - StackInuse - wbufs",
			  s->as->meta_memstats_bytes, s->as->meta_located_bytes);
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
	return NULL;
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
static void json_classes(struct gm_strbuf *b, const struct gm_heap_walk *w)
{
	gm_strbuf_printf(b, " \"classes\": [");
	bool first = true;
	for (unsigned i = 0; i < GM_MAX_SIZE_CLASSES; i++) {
		const struct gm_class_stats *c = i ? &w->classes[i] : &w->large;
		if (!c->spans)
			continue;
		gm_strbuf_printf(b,
				 "%s\n  {\"class\": %u, \"object_size\": %u, \"spans\": %" PRIu64
				 ", \"objects\": %" PRIu64 ", \"object_bytes\": %" PRIu64
				 ", \"free_slots\": %" PRIu64 ", \"free_slot_bytes\": %" PRIu64
				 ", \"tail_waste_bytes\": %" PRIu64 "}",
				 first ? "" : ",", i, gm_class_to_size[i], c->spans, c->objects,
				 c->object_bytes, c->free_slots, c->free_slot_bytes,
				 c->tail_waste_bytes);
		first = false;
	}
	gm_strbuf_printf(b, "],\n");
}

static void summary_json(struct gm_strbuf *b, const struct summary *s)
{
	const struct gm_target *t = s->t;
	const struct gm_heap_walk *w = &s->walk;
	gm_strbuf_printf(b, "{\"schema\": \"gomem/summary/v1\",\n \"target\": ");
	gm_json_target(b, t);
	gm_strbuf_printf(b, ",\n");
	gm_strbuf_printf(b, " \"vsz_bytes\": %" PRIu64 ",\n \"rss_bytes\": ", s->vsz);
	if (s->has_rss)
		gm_strbuf_printf(b, "%" PRIu64 ",\n", s->rss);
	else
		gm_strbuf_printf(b, "null,\n");
	gm_strbuf_printf(b, " \"memstats\": {");
	const char *sep = "";
#define X(f)                                                                                       \
	gm_strbuf_printf(b, "%s\"" #f "\": %" PRIu64, sep, s->ms.f);                               \
	sep = ", ";
	MS_FIELDS(X)
#undef X
	gm_strbuf_printf(b,
			 "},\n \"heap\": {\"arenas\": %" PRIu64 ", \"arena_bytes\": %" PRIu64
			 ", \"spans\": {\"in_use\": %" PRIu64 ", \"manual\": %" PRIu64
			 ", \"free\": %" PRIu64 "}, ",
			 w->arenas, w->arena_bytes, w->spans_in_use, w->spans_manual,
			 w->spans_free);
	gm_strbuf_printf(b,
			 "\"in_use_bytes\": %" PRIu64 ", \"objects\": %" PRIu64
			 ", \"object_bytes\": %" PRIu64 ", \"free_slot_bytes\": %" PRIu64
			 ", \"tail_waste_bytes\": %" PRIu64 ", \"stack_bytes\": %" PRIu64
			 ", \"work_buf_bytes\": %" PRIu64 ", \"free_retained_bytes\": %" PRIu64
			 ", \"free_released_bytes\": %" PRIu64 ", \"mapped_bytes\": %" PRIu64
			 ", \"unmapped_arena_bytes\": %" PRIu64 ", \"in_flight_bytes\": %" PRIu64
			 ", \"user_arenas\": %" PRIu64 ", \"user_chunk_bytes\": %" PRIu64 "},\n",
			 w->in_use_bytes, w->objects, w->object_bytes, w->free_slot_bytes,
			 w->tail_waste_bytes, w->stack_bytes, w->work_buf_bytes,
			 w->free_retained_bytes, w->free_released_bytes, w->mapped_bytes,
			 w->unmapped_arena_bytes, in_flight_bytes(w), w->user_arenas,
			 w->user_chunk_bytes);
	json_classes(b, w);
	gm_strbuf_printf(b, " \"breakdown\": ");
	gm_breakdown_json(b, &s->bd);
	gm_strbuf_printf(b, ",\n \"explanation\": ");
	gm_breakdown_explain_json(b, s->as, &s->bd);
	gm_strbuf_printf(b, ",\n \"checks\": [");
	for (int i = 0; i < s->nchecks; i++) {
		const struct check *c = &s->checks[i];
		gm_strbuf_printf(b, "%s\n  {\"name\": ", i ? "," : "");
		gm_strbuf_json_string(b, c->name);
		gm_strbuf_printf(
		    b,
		    ", \"ok\": %s, \"runtime\": %" PRIu64 ", \"reconstructed\": %" PRIu64
		    ", \"tolerance_bytes\": %" PRIu64 "}",
		    check_ok(c) ? "true" : "false", c->runtime, c->reconstructed, c->tolerance);
	}
	gm_strbuf_printf(b, "],\n ");
	gm_run_json_warnings(s->run);
	gm_strbuf_printf(b, "}\n");
}

/* ---- text ---- */

static void text_bytes_row(struct gm_strbuf *b, const char *name, uint64_t v, const char *what)
{
	char h[32];
	gm_strbuf_printf(b, "  %-13s %15" PRIu64 "  %10s  %s\n", name, v, gm_human_bytes(v, h),
			 what);
}

static void summary_text(struct gm_strbuf *b, const struct summary *s)
{
	const struct gm_target *t = s->t;
	const struct gm_memstats *ms = &s->ms;
	char h1[32], h2[32];
	gm_strbuf_printf(b, "%s (%s%s%s, linux/amd64), ", t->exe.path, t->exe.go_version,
			 t->exe.experiments[0] ? ", X:" : "", t->exe.experiments);
	if (t->have_core)
		gm_strbuf_printf(b, "%s core %s, pid %d\n",
				 t->core.kernel_dump ? "kernel" : "gcore", t->core.path, t->pid);
	else
		gm_strbuf_printf(b, "live process %d\n", t->pid);
	gm_strbuf_printf(b, "VSZ %s, RSS %s\n\n", gm_human_bytes(s->vsz, h1),
			 s->has_rss ? gm_human_bytes(s->rss, h2) : "unknown");
	gm_breakdown_text(b, &s->bd);
	gm_breakdown_explain(b, s->as, &s->bd);

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
	text_bytes_row(b, "NextGC", ms->NextGC, "heap goal of the next GC");
	text_bytes_row(b, "TotalAlloc", ms->TotalAlloc, "cumulative bytes allocated");
	gm_strbuf_printf(b,
			 "  %-13s %15" PRIu64 "  objects; Mallocs %" PRIu64 ", Frees %" PRIu64
			 "; NumGC %" PRIu64 "\n",
			 "HeapObjects", ms->HeapObjects, ms->Mallocs, ms->Frees, ms->NumGC);

	gm_strbuf_printf(b, "\nchecks (runtime counters against the walk of spans and pages):\n");
	for (int i = 0; i < s->nchecks; i++) {
		const struct check *c = &s->checks[i];
		bool ok = check_ok(c);
		gm_strbuf_printf(b, "  %-4s %-56s %" PRIu64, ok ? "ok" : "FAIL", c->name,
				 c->runtime);
		if (c->runtime != c->reconstructed)
			gm_strbuf_printf(b, " %s %" PRIu64 "%s", ok ? "vs" : "!=", c->reconstructed,
					 ok ? " (in flight)" : "");
		gm_strbuf_printf(b, "\n");
	}
	gm_run_text_warnings(s->run);
}

struct gomem_error *gm_verb_summary(struct gm_run *r)
{
	struct summary *s = calloc(1, sizeof(*s));
	if (!s)
		return &gm_error_no_memory;
	struct gomem_error *err = summary_build(r, s);
	const char *svg = gm_run_option(r, "--svg");
	if (!err && svg) {
		char title[256];
		snprintf(title, sizeof(title), "%s: where %s of address space goes", r->t->exe.path,
			 gm_human_bytes(s->vsz, (char[32]){0}));
		err = gm_breakdown_svg(&s->bd, title, svg);
	}
	if (!err && r->json)
		summary_json(&r->out, s);
	else if (!err)
		summary_text(&r->out, s);
	if (!err && svg && !r->json)
		gm_strbuf_printf(&r->out, "\ntreemap of the breakdown written to %s\n", svg);
	gm_breakdown_deinit(&s->bd);
	gm_addrspace_destroy(s->as);
	free(s);
	return err;
}
