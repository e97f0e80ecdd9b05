/*
 * `gomem spans`: the heap's spans, largest first.
 *
 * in-use spans hold heap objects (mSpanInUse); manual spans hold goroutine
 * stacks and GC work buffers (mSpanManual). Since Go 1.12 free memory is not
 * kept as spans: the page allocator tracks it in bitmaps and its span
 * descriptors die. So "free" spans here are the runs of free pages that the
 * page allocator holds, split where the pages change between retained
 * (still backed by memory) and released (returned to the OS): what a Go
 * engineer would have called a free span. The dead descriptors left in
 * mheap_.allspans (summary's heap.spans.free) describe no memory and are
 * not listed.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

enum row_state { ROW_IN_USE, ROW_MANUAL, ROW_FREE };

static const char *const row_state_names[] = {"in-use", "manual", "free"};

#define TEXT_DEFAULT_LIMIT 50

struct row {
	uint64_t start, npages, elemsize, nelems, allocated;
	enum row_state state;
	unsigned sizeclass;
	bool noscan, released;
	bool pool;	 /* manual: a stack-pool span cut into several stacks */
	bool user_chunk; /* in-use: a user arena chunk (GOEXPERIMENT=arenas) */
};

struct spans {
	struct gm_run *run;
	uint64_t page_size;
	int want_state; /* -1: every state */
	int64_t want_class;
	struct row *rows;
	size_t n, cap;
	uint64_t count[3], bytes[3];
	bool oom;
};

GM_DEFINE_GROW(grow_rows, struct row)

static bool push(struct spans *s, const struct row *r)
{
	struct row *slot = grow_rows(&s->rows, &s->n, &s->cap);
	if (!slot) {
		s->oom = true;
		return false;
	}
	*slot = *r;
	return true;
}

static bool wanted(const struct spans *s, const struct row *r)
{
	if (s->want_state >= 0 && (int)r->state != s->want_state)
		return false;
	return s->want_class < 0 || (r->state == ROW_IN_USE && r->sizeclass == s->want_class);
}

static void add_row(struct spans *s, const struct row *r)
{
	s->count[r->state]++;
	s->bytes[r->state] += r->npages * s->page_size;
	if (wanted(s, r))
		push(s, r);
}

static struct gomem_error *add_span(void *arg, const struct gm_span *sp)
{
	struct spans *s = arg;
	struct row r = {.start = sp->start, .npages = sp->npages, .elemsize = sp->elemsize};
	if (sp->state == GM_SPAN_IN_USE) {
		r.state = ROW_IN_USE;
		r.sizeclass = sp->sizeclass;
		r.noscan = sp->noscan;
		r.user_chunk = sp->user_chunk;
		r.nelems = sp->nelems;
		r.allocated = sp->alloc_count;
	} else {
		/*
		 * Manual spans have nelems 0. A stack-pool span is cut into
		 * bytes/elemsize stacks and counts those it handed out in
		 * allocCount; a dedicated stack span (32 KiB and more) holds
		 * one stack and keeps allocCount 0 (stack.go).
		 */
		r.state = ROW_MANUAL;
		if (sp->elemsize && sp->elemsize < sp->bytes) {
			r.pool = true;
			r.nelems = sp->bytes / sp->elemsize;
			r.allocated = sp->alloc_count;
		} else if (sp->elemsize) {
			r.nelems = 1;
		}
	}
	add_row(s, &r);
	return s->oom ? &gm_error_no_memory : NULL;
}

static void add_free_run(void *arg, uint64_t start, uint64_t end, bool released)
{
	struct spans *s = arg;
	struct row r = {.start = start,
			.npages = (end - start) / s->page_size,
			.state = ROW_FREE,
			.released = released};
	add_row(s, &r);
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->npages != y->npages)
		return x->npages > y->npages ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static struct gomem_error *parse_options(struct spans *s, uint64_t *limit)
{
	struct gm_run *r = s->run;
	const char *state = gm_run_option(r, "--state");
	s->want_state = -1;
	s->want_class = -1;
	if (state) {
		for (int i = 0; i < 3; i++) {
			if (strcmp(state, row_state_names[i]) == 0)
				s->want_state = i;
		}
		if (s->want_state < 0)
			return gm_error(GOMEM_ERROR_USAGE,
					"spans: --state wants in-use, manual or free, not \"%s\"",
					state);
	}
	if (gm_run_option(r, "--class")) {
		uint64_t c;
		TRY(gm_run_uint_option(r, "--class", 0, &c));
		if (c >= GM_MAX_SIZE_CLASSES)
			return gm_error(
			    GOMEM_ERROR_USAGE,
			    "spans: --class wants a size class from 0 (large objects) to "
			    "%d, not %" PRIu64,
			    GM_MAX_SIZE_CLASSES - 1, c);
		if (s->want_state >= 0 && s->want_state != ROW_IN_USE)
			return gm_error(GOMEM_ERROR_USAGE,
					"spans: --class selects in-use spans; it does not go with "
					"--state %s",
					state);
		s->want_class = (int64_t)c;
		s->want_state = ROW_IN_USE;
	}
	return gm_run_uint_option(r, "--limit", r->json ? 0 : TEXT_DEFAULT_LIMIT, limit);
}

static void json_row(struct gm_jw *w, const struct row *r, uint64_t page_size)
{
	gm_jw_object(w);
	gm_jw_member_uint(w, "start", r->start);
	gm_jw_member_uint(w, "npages", r->npages);
	gm_jw_member_uint(w, "bytes", r->npages * page_size);
	gm_jw_member_string(w, "state", row_state_names[r->state]);
	switch (r->state) {
	case ROW_IN_USE:
		gm_jw_member_uint(w, "class", r->sizeclass);
		gm_jw_member_bool(w, "noscan", r->noscan);
		gm_jw_member_uint(w, "elemsize", r->elemsize);
		gm_jw_member_uint(w, "nelems", r->nelems);
		gm_jw_member_uint(w, "allocated", r->allocated);
		gm_jw_member_uint(w, "free_slots", r->nelems - r->allocated);
		gm_jw_member_bool(w, "user_arena_chunk", r->user_chunk);
		break;
	case ROW_MANUAL:
		gm_jw_member_string(w, "kind",
				    r->pool	  ? "stack-pool"
				    : r->elemsize ? "stack"
						  : "gc-work-buffers");
		gm_jw_member_null(w, "class");
		gm_jw_member_null(w, "noscan");
		gm_jw_member_uint(w, "elemsize", r->elemsize);
		gm_jw_member_uint(w, "nelems", r->nelems);
		gm_jw_member_uint_or_null(w, "allocated", r->pool, r->allocated);
		gm_jw_member_uint_or_null(w, "free_slots", r->pool, r->nelems - r->allocated);
		break;
	case ROW_FREE:
		gm_jw_member_bool(w, "released", r->released);
		gm_jw_member_null(w, "class");
		gm_jw_member_null(w, "noscan");
		gm_jw_member_uint(w, "elemsize", 0);
		gm_jw_member_uint(w, "nelems", 0);
		gm_jw_member_uint(w, "allocated", 0);
		gm_jw_member_uint(w, "free_slots", 0);
		break;
	}
	gm_jw_end(w);
}

/* {"in-use": N, "manual": N, "free": N} */
static void json_by_state(struct gm_jw *w, const char *key, const uint64_t v[3])
{
	gm_jw_key(w, key);
	gm_jw_object(w);
	for (int i = 0; i < 3; i++)
		gm_jw_member_uint(w, row_state_names[i], v[i]);
	gm_jw_end(w);
}

static void spans_json(struct spans *s, size_t shown)
{
	struct gm_jw *w = &s->run->jw;
	gm_run_json_begin(s->run, "gomem/spans/v1");
	gm_jw_member_uint(w, "page_bytes", s->page_size);
	gm_jw_line(w);
	json_by_state(w, "counts", s->count);
	gm_jw_line(w);
	json_by_state(w, "bytes", s->bytes);
	gm_jw_line(w);
	gm_jw_member_uint(w, "matched", s->n);
	gm_jw_member_uint(w, "left_out", s->n - shown);
	gm_jw_line(w);
	gm_jw_key(w, "spans");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < shown; i++)
		json_row(w, &s->rows[i], s->page_size);
	gm_jw_end(w);
	gm_run_json_end(s->run);
}

static void text_row(struct gm_strbuf *b, const struct row *r, uint64_t page_size)
{
	char h1[32], h2[32], cls[16], n[24], a[24], f[24];
	snprintf(cls, sizeof(cls), "-");
	snprintf(n, sizeof(n), "-");
	snprintf(a, sizeof(a), "-");
	snprintf(f, sizeof(f), "-");
	const char *state = row_state_names[r->state];
	h2[0] = '\0';
	if (r->state == ROW_IN_USE) {
		snprintf(cls, sizeof(cls), "%u%s", r->sizeclass, r->noscan ? " ns" : "");
		snprintf(n, sizeof(n), "%" PRIu64, r->nelems);
		snprintf(a, sizeof(a), "%" PRIu64, r->allocated);
		snprintf(f, sizeof(f), "%" PRIu64, r->nelems - r->allocated);
		gm_human_bytes(r->elemsize, h2);
	} else if (r->state == ROW_MANUAL) {
		state = r->pool ? "stack-pool" : r->elemsize ? "stack" : "gc-work";
		if (r->elemsize) {
			gm_human_bytes(r->elemsize, h2);
			snprintf(n, sizeof(n), "%" PRIu64, r->nelems);
		}
		if (r->pool) {
			snprintf(a, sizeof(a), "%" PRIu64, r->allocated);
			snprintf(f, sizeof(f), "%" PRIu64, r->nelems - r->allocated);
		}
	} else {
		state = r->released ? "released" : "retained";
	}
	gm_strbuf_printf(b, "0x%016" PRIx64 " %7" PRIu64 " %10s  %-10s %6s %10s %7s %7s %7s\n",
			 r->start, r->npages, gm_human_bytes(r->npages * page_size, h1), state, cls,
			 h2[0] ? h2 : "-", n, a, f);
}

static void spans_text(struct spans *s, size_t shown)
{
	struct gm_strbuf *b = &s->run->out;
	char h[3][32];
	gm_strbuf_printf(
	    b,
	    "spans: %" PRIu64 " in-use (%s), %" PRIu64 " manual (%s), %" PRIu64 " free runs (%s)\n",
	    s->count[0], gm_human_bytes(s->bytes[0], h[0]), s->count[1],
	    gm_human_bytes(s->bytes[1], h[1]), s->count[2], gm_human_bytes(s->bytes[2], h[2]));
	gm_strbuf_printf(b, "STATE: in-use (objects), stack-pool / stack / gc-work (manual), "
			    "retained / released (free)\n"
			    "CLASS: size class, \"ns\" = noscan (no pointers); ALLOC and FREE are "
			    "object or stack slots\n\n");
	gm_strbuf_printf(b, "%-18s %7s %10s  %-10s %6s %10s %7s %7s %7s\n", "START", "PAGES",
			 "BYTES", "STATE", "CLASS", "ELEMSIZE", "NELEMS", "ALLOC", "FREE");
	for (size_t i = 0; i < shown; i++)
		text_row(b, &s->rows[i], s->page_size);
	if (s->n == 0)
		gm_strbuf_printf(b, "(no span matches)\n");
	if (shown < s->n)
		gm_strbuf_printf(b, "... %zu more span%s not shown (--limit 0 shows all)\n",
				 s->n - shown, s->n - shown == 1 ? "" : "s");
	gm_run_text_warnings(s->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct spans s;
	memset(&s, 0, sizeof(s));
	s.run = r;
	uint64_t limit, bad = 0;
	struct gomem_error *err = parse_options(&s, &limit);
	struct gm_runtime *rt = r->rt;
	s.page_size = gm_runtime_page_size(rt);
	if (!err)
		err = gm_heap_foreach_span(rt, add_span, &s, &bad);
	if (!err)
		err = gm_heap_foreach_free_run(rt, add_free_run, &s);
	if (!err && s.oom)
		err = &gm_error_no_memory;
	if (!err) {
		gm_sort(s.rows, s.n, sizeof(*s.rows), cmp_row);
		size_t shown = limit && limit < s.n ? (size_t)limit : s.n;
		if (bad)
			gm_run_warn(r, true,
				    "%" PRIu64
				    " span descriptors looked live but failed validation "
				    "and were skipped",
				    bad);
		if (r->json)
			spans_json(&s, shown);
		else
			spans_text(&s, shown);
	}
	free(s.rows);
	return err;
}

static const struct gm_option_spec options[] = {
    {"--state", "S", "only spans in state S: in-use, manual or free"},
    {"--class", "N", "only in-use spans of size class N (0: large objects)"},
    {"--limit", "N", "list the N largest (0: all; default 50 in text, all in JSON)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_spans = {
    .name = "spans",
    .usage = "spans [--state in-use|manual|free] [--class N] [--limit N] [--json]",
    .summary = "spans with state, size class, objects and free slots, largest first",
    .help = "Lists the heap's spans, largest first. in-use spans hold objects of one "
	    "size class (0: one large object); manual spans hold goroutine stacks "
	    "(stack-pool spans are cut into several stacks, a stack of 32 KiB or more "
	    "has a span of its own) or GC work buffers. Free memory is not kept in "
	    "spans since Go 1.12: free spans are the page allocator's runs of free "
	    "pages, split into retained and released (returned to the OS) runs. With "
	    "--json, prints one gomem/spans/v1 object.",
    .options = options,
    .run = run,
};
