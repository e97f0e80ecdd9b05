/*
 * `gomem top`: retained sizes from the dominator tree of the object graph
 * (objects/dominators.c). What a root or an object retains is what the
 * next GC would free if it let go: the objects it alone keeps alive, its
 * own slot included. --by root: every global, goroutine, finalizer or
 * cleanup special, largest first; --by object: the biggest single
 * retainers, each with the root that reaches it first.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/objects.h"
#include "objects/typing.h"
#include "verbs/verbs.h"

#define DEFAULT_LIMIT 20
#define MAX_LIMIT     (1u << 20)

/* --by type: one type's objects, and what those not dominated by one of their own type retain. */
struct type_row {
	uint32_t tid;
	uint64_t objects, bytes, retained_objects, retained_bytes;
};

struct top {
	struct gm_run *run;
	struct gm_graph *g;
	struct gm_dominators *d;
	struct gm_typing *ty; /* --by type */
	bool by_object, by_type;
	struct type_row *types; /* --by type: the rows, largest retained first */
	size_t ntypes;
	uint64_t limit;
	uint32_t *rows; /* vertices, largest retained first */
	size_t nrows;
	/* --by object: the first path to each of the first FIRST_PATHS rows (NULL: none). */
	struct gm_paths_view **paths;
	uint64_t shared_objects, shared_bytes; /* dominated by the pseudo-root only */
	char name[256];
};

/* A root's kind as the user says it: a global is in data or bss. */
static const char *root_kind(const struct gm_dom_root *r)
{
	return r->kind == GM_ROOT_DATA || r->kind == GM_ROOT_BSS ? "global"
								 : gm_root_kind_name(r->kind);
}

/* A root's name: main.records, goroutine 17 main.worker, finalizer of 0xc000123450. */
static const char *root_name(struct top *t, const struct gm_dom_root *r)
{
	switch (r->kind) {
	case GM_ROOT_DATA:
	case GM_ROOT_BSS:
		snprintf(t->name, sizeof(t->name), "%s",
			 r->name ? r->name : "globals without a symbol");
		break;
	case GM_ROOT_STACK:
		if (r->name && strcmp(r->name, "stack") != 0)
			snprintf(t->name, sizeof(t->name), "goroutine %" PRIu64 " %s", r->goid,
				 r->name);
		else
			snprintf(t->name, sizeof(t->name), "goroutine %" PRIu64, r->goid);
		break;
	case GM_ROOT_REGISTER:
		snprintf(t->name, sizeof(t->name), "goroutine %" PRIu64 " registers", r->goid);
		break;
	default:
		if (r->object)
			snprintf(t->name, sizeof(t->name), "%s of 0x%" PRIx64,
				 r->name ? r->name : gm_root_kind_name(r->kind), r->object);
		else
			snprintf(t->name, sizeof(t->name), "%s",
				 r->name ? r->name : gm_root_kind_name(r->kind));
	}
	return t->name;
}

static int cmp_retained(const void *pa, const void *pb, void *arg)
{
	const struct gm_dominators *d = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	uint64_t ra = d->retained_bytes[a], rb = d->retained_bytes[b];
	if (ra != rb)
		return ra > rb ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Heap order on the rows: the smallest retained (then the latest vertex) on top. */
static bool smaller(const struct gm_dominators *d, uint32_t a, uint32_t b)
{
	uint64_t ra = d->retained_bytes[a], rb = d->retained_bytes[b];
	return ra != rb ? ra < rb : a > b;
}

static void sift_down(const struct gm_dominators *d, uint32_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, l = 2 * i + 1, r = l + 1;
		if (l < n && smaller(d, h[l], h[m]))
			m = l;
		if (r < n && smaller(d, h[r], h[m]))
			m = r;
		if (m == i)
			return;
		uint32_t x = h[i];
		h[i] = h[m];
		h[m] = x;
		i = m;
	}
}

static void sift_up(const struct gm_dominators *d, uint32_t *h, size_t i)
{
	while (i && smaller(d, h[i], h[(i - 1) / 2])) {
		uint32_t x = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = x;
		i = (i - 1) / 2;
	}
}

/*
 * --by object: the first path from the roots (as `gomem paths` gives it first)
 * to the objects of the first FIRST_PATHS rows: one breadth-first search each,
 * which stops at its object; the rows after it have none (null in JSON).
 */
#define FIRST_PATHS 20

static struct gomem_error *first_paths(struct top *t)
{
	size_t n = t->nrows < FIRST_PATHS ? t->nrows : FIRST_PATHS;
	t->paths = calloc(n ? n : 1, sizeof(*t->paths));
	if (!t->paths)
		return &gm_error_no_memory;
	for (size_t i = 0; i < n; i++) {
		uint32_t id;
		if (!gm_dom_is_object(t->d, t->rows[i], &id))
			continue;
		struct gomem_error *err = gm_run_paths(t->run, t->g, t->ty, id, 1, &t->paths[i]);
		if (err == &gm_error_no_memory)
			return err;
		if (err) {
			gm_run_warn(t->run, true, "top: no path from the roots: %s",
				    gomem_error_message(err));
			gomem_error_destroy(err);
			t->paths[i] = NULL;
		}
	}
	return NULL;
}

static const struct gm_paths_view *row_path(const struct top *t, size_t i)
{
	const struct gm_paths_view *v = t->paths && i < FIRST_PATHS ? t->paths[i] : NULL;
	return v && gm_paths_view_count(v) ? v : NULL;
}

/* The rows: root vertices, or the limit objects that retain most (a heap of limit rows). */
static struct gomem_error *select_rows(struct top *t)
{
	const struct gm_dominators *d = t->d;
	size_t cap = t->by_object ? (size_t)t->limit : d->nroots;
	t->rows = malloc((cap ? cap : 1) * sizeof(uint32_t));
	if (!t->rows)
		return &gm_error_no_memory;
	for (uint32_t v = 1; v < d->nvertices; v++) {
		uint32_t id;
		bool object = gm_dom_is_object(d, v, &id);
		if (object != t->by_object)
			continue;
		if (t->nrows < cap) {
			t->rows[t->nrows++] = v;
			if (t->by_object)
				sift_up(d, t->rows, t->nrows - 1);
		} else if (cap && smaller(d, t->rows[0], v)) {
			t->rows[0] = v;
			sift_down(d, t->rows, t->nrows, 0);
		}
	}
	if (t->nrows > 1)
		qsort_r(t->rows, t->nrows, sizeof(*t->rows), cmp_retained, (void *)d);
	if (!t->by_object && t->nrows > t->limit)
		t->nrows = (size_t)t->limit;
	return NULL;
}

/* What no single root retains: the subtrees of the objects only the pseudo-root dominates. */
static void count_shared(struct top *t)
{
	const struct gm_dominators *d = t->d;
	for (uint32_t v = 1; v < d->nvertices; v++) {
		if (d->idom[v] == 0 && d->what[v] > d->nroots) {
			t->shared_objects += d->retained_objects[v];
			t->shared_bytes += d->retained_bytes[v];
		}
	}
}

/* The type of a vertex: a type id (GM_TYPE_UNKNOWN for an untyped object), NONE for a root. */
static uint32_t vertex_type(const struct top *t, uint32_t v)
{
	uint32_t id, tid;
	if (!gm_dom_is_object(t->d, v, &id))
		return GM_DOM_NONE;
	tid = gm_typing_type(t->ty, id);
	return tid < t->ty->tt.ntypes ? tid : GM_TYPE_UNKNOWN;
}

static int cmp_type_row(const void *pa, const void *pb)
{
	const struct type_row *a = pa, *b = pb;
	if (a->retained_bytes != b->retained_bytes)
		return a->retained_bytes > b->retained_bytes ? -1 : 1;
	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

struct dom_frame {
	uint32_t v, next; /* a vertex of the dominator tree, and its next child's index */
};

GM_DEFINE_GROW(grow_dom_frames, struct dom_frame)

/*
 * --by type: the dominator tree walked depth first (children lists by a
 * counting sort of idom, no recursion), with a count per type of the
 * vertices of that type on the path: a vertex whose type is not on its
 * path above it is the top of its type there, and its retained size counts
 * for its type (issue 14: the retained bytes of all objects of a type that
 * no other object of the type dominates).
 */
static struct gomem_error *by_type(struct top *t)
{
	const struct gm_dominators *d = t->d;
	uint32_t n = d->nvertices;
	size_t ntypes = t->ty->tt.ntypes;
	_cleanup_free_ uint32_t *coff = calloc((size_t)n + 2, sizeof(uint32_t));
	_cleanup_free_ uint32_t *kids = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
	_cleanup_free_ uint32_t *on_path = calloc(ntypes ? ntypes : 1, sizeof(uint32_t));
	_cleanup_free_ struct dom_frame *stack = NULL;
	size_t depth = 0, cap = 0;
	t->types = calloc(ntypes ? ntypes : 1, sizeof(*t->types));
	if (!coff || !kids || !on_path || !t->types)
		return &gm_error_no_memory;
	for (uint32_t v = 1; v < n; v++)
		coff[d->idom[v] + 2]++;
	for (uint32_t v = 2; v < n + 2; v++)
		coff[v] += coff[v - 1];
	for (uint32_t v = 1; v < n; v++)
		kids[coff[d->idom[v] + 1]++] = v; /* the children of u: coff[u] .. coff[u + 1] */
	struct dom_frame *f = grow_dom_frames(&stack, &depth, &cap);
	if (!f)
		return &gm_error_no_memory;
	*f = (struct dom_frame){0, coff[0]};
	while (depth) {
		struct dom_frame *top = &stack[depth - 1];
		if (top->next == coff[top->v + 1]) {
			uint32_t tid = vertex_type(t, top->v);
			if (tid != GM_DOM_NONE)
				on_path[tid]--;
			depth--;
			continue;
		}
		uint32_t v = kids[top->next++], tid = vertex_type(t, v), id;
		if (tid != GM_DOM_NONE && gm_dom_is_object(d, v, &id)) {
			uint64_t base, size;
			gm_heap_index_object(t->g->idx, id, &base, &size);
			struct type_row *r = &t->types[tid];
			r->objects++;
			r->bytes += size;
			if (!on_path[tid]++) {
				r->retained_objects += d->retained_objects[v];
				r->retained_bytes += d->retained_bytes[v];
			}
		}
		/* depth <= n: each vertex is pushed once. */
		f = grow_dom_frames(&stack, &depth, &cap);
		if (!f)
			return &gm_error_no_memory;
		*f = (struct dom_frame){v, coff[v]};
	}
	size_t k = 0;
	for (size_t i = 0; i < ntypes; i++) {
		t->types[i].tid = (uint32_t)i;
		if (t->types[i].objects)
			t->types[k++] = t->types[i];
	}
	t->ntypes = k;
	gm_sort(t->types, t->ntypes, sizeof(*t->types), cmp_type_row);
	return NULL;
}

static const char *type_name(const struct top *t, uint32_t tid)
{
	return tid == GM_TYPE_UNKNOWN ? "(unknown)" : gm_gotypes_get(&t->ty->tt, tid)->name;
}

static void json_type_row(struct top *t, const struct type_row *r)
{
	struct gm_jw *w = &t->run->jw;
	gm_jw_object(w);
	gm_jw_member_string(w, "name", type_name(t, r->tid));
	gm_jw_member_null(w, "kind");
	gm_jw_member_uint(w, "objects", r->objects);
	gm_jw_member_uint(w, "bytes", r->bytes);
	gm_jw_member_uint(w, "retained_objects", r->retained_objects);
	gm_jw_member_uint(w, "retained_bytes", r->retained_bytes);
	gm_jw_member_string(w, "type", r->tid == GM_TYPE_UNKNOWN ? NULL : type_name(t, r->tid));
	gm_jw_end(w);
}

static void json_root_ref(struct top *t, const char *key, uint32_t r)
{
	struct gm_jw *w = &t->run->jw;
	gm_jw_key(w, key);
	if (r >= t->d->nroots) {
		gm_jw_null(w);
		return;
	}
	const struct gm_dom_root *dr = &t->d->roots[r];
	gm_jw_object(w);
	gm_jw_member_string(w, "kind", root_kind(dr));
	gm_jw_member_string(w, "name", root_name(t, dr));
	gm_jw_end(w);
}

static void json_row(struct top *t, size_t row)
{
	uint32_t v = t->rows[row];
	struct gm_jw *w = &t->run->jw;
	const struct gm_dominators *d = t->d;
	uint32_t id;
	gm_jw_object(w);
	if (gm_dom_is_object(d, v, &id)) {
		uint64_t base, size, dom_base = 0, dom_size;
		uint32_t dom_id;
		gm_heap_index_object(t->g->idx, id, &base, &size);
		snprintf(t->name, sizeof(t->name), "0x%" PRIx64, base);
		gm_jw_member_string(w, "name", t->name);
		gm_jw_member_null(w, "kind");
		gm_jw_member_uint(w, "objects", 1);
		gm_jw_member_uint(w, "bytes", size);
		gm_jw_member_uint(w, "retained_objects", d->retained_objects[v]);
		gm_jw_member_uint(w, "retained_bytes", d->retained_bytes[v]);
		gm_jw_member_uint(w, "addr", base);
		uint32_t tid = t->ty ? gm_typing_type(t->ty, id) : GM_TYPE_UNKNOWN;
		gm_jw_member_string(
		    w, "type",
		    tid != GM_TYPE_UNKNOWN && tid < t->ty->tt.ntypes ? type_name(t, tid) : NULL);
		json_root_ref(t, "root", d->first_root[v]);
		bool by_object = gm_dom_is_object(d, d->idom[v], &dom_id);
		if (by_object)
			gm_heap_index_object(t->g->idx, dom_id, &dom_base, &dom_size);
		/* Who alone keeps it: an object, one root, or no single root (several). */
		gm_jw_member_string(w, "dominator",
				    by_object	 ? "object"
				    : d->idom[v] ? "root"
						 : "roots");
		gm_jw_member_uint_or_null(w, "dominator_addr", by_object, dom_base);
		gm_jw_key(w, "path");
		if (row_path(t, row))
			gm_paths_json_path(w, row_path(t, row), 0);
		else
			gm_jw_null(w);
	} else {
		uint32_t r = d->what[v] - 1;
		const struct gm_dom_root *dr = &d->roots[r];
		gm_jw_member_string(w, "name", root_name(t, dr));
		gm_jw_member_string(w, "kind", root_kind(dr));
		gm_jw_member_uint(w, "objects", dr->first_objects);
		gm_jw_member_uint(w, "bytes", dr->first_bytes);
		gm_jw_member_uint(w, "retained_objects", d->retained_objects[v]);
		gm_jw_member_uint(w, "retained_bytes", d->retained_bytes[v]);
		gm_jw_member_uint(w, "words", dr->words);
		bool stack = dr->kind == GM_ROOT_STACK || dr->kind == GM_ROOT_REGISTER;
		gm_jw_member_uint_or_null(w, "goroutine", stack, dr->goid);
		gm_jw_member_string(w, "function",
				    dr->kind == GM_ROOT_STACK && dr->name &&
					    strcmp(dr->name, "stack") != 0
					? dr->name
					: NULL);
		gm_jw_member_uint_or_null(w, "object", dr->object != 0, dr->object);
	}
	gm_jw_end(w);
}

static void top_json(struct top *t)
{
	struct gm_jw *w = &t->run->jw;
	const struct gm_dominators *d = t->d;
	const struct gm_graph_stats *st = &t->g->stats;
	gm_run_json_begin(t->run, "gomem/top/v1");
	gm_jw_member_string(w, "by", t->by_type ? "type" : t->by_object ? "object" : "root");
	gm_jw_line(w);
	gm_jw_key(w, "target");
	gm_json_target(w, t->run->target);
	gm_jw_line(w);
	gm_json_objects_bytes(w, "reachable", st->reachable, st->reachable_bytes);
	gm_json_objects_bytes(w, "shared", t->shared_objects, t->shared_bytes);
	gm_jw_member_uint(w, "roots", d->nroots);
	gm_jw_member_uint(w, "edges", d->edges);
	gm_jw_line(w);
	gm_jw_key(w, "entries");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < t->nrows; i++)
		json_row(t, i);
	for (size_t i = 0; t->by_type && i < t->ntypes && i < t->limit; i++)
		json_type_row(t, &t->types[i]);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "checks");
	gm_jw_array(w);
	gm_jw_object(w);
	gm_json_check_members(w, "reachable objects = what the roots retain",
			      st->reachable == d->retained_objects[0], st->reachable,
			      d->retained_objects[0]);
	gm_jw_end(w);
	gm_jw_object(w);
	gm_json_check_members(w, "reachable bytes = what the roots retain",
			      st->reachable_bytes == d->retained_bytes[0], st->reachable_bytes,
			      d->retained_bytes[0]);
	gm_jw_end(w);
	gm_jw_end(w);
	gm_run_json_end(t->run);
}

static void top_text(struct top *t)
{
	struct gm_strbuf *b = &t->run->out;
	const struct gm_dominators *d = t->d;
	const struct gm_graph_stats *st = &t->g->stats;
	char h1[32], h2[32];
	gm_strbuf_printf(b,
			 "retained sizes (dominator tree): %" PRIu64 " reachable objects, %s, "
			 "from %" PRIu32 " roots\n",
			 st->reachable, gm_human_bytes(st->reachable_bytes, h1), d->nroots);
	gm_strbuf_printf(b,
			 "no single root retains %" PRIu64 " objects, %s (several roots reach "
			 "them)\n\n",
			 t->shared_objects, gm_human_bytes(t->shared_bytes, h1));
	if (t->by_type)
		gm_strbuf_printf(b, "  %14s %10s %10s %10s %10s  %s\n", "RETAINED", "", "OBJECTS",
				 "OF TYPE", "BYTES", "TYPE");
	else if (t->by_object)
		gm_strbuf_printf(b, "  %14s %10s %10s %10s  %-18s %-22s %-9s %s\n", "RETAINED", "",
				 "OBJECTS", "SIZE", "OBJECT", "TYPE", "HELD BY", "FIRST ROOT");
	else
		gm_strbuf_printf(b, "  %14s %10s %10s  %-10s %s\n", "RETAINED", "", "OBJECTS",
				 "KIND", "ROOT");
	for (size_t i = 0; i < t->nrows; i++) {
		uint32_t v = t->rows[i], id;
		gm_strbuf_printf(b, "  %14" PRIu64 " %10s %10" PRIu32, d->retained_bytes[v],
				 gm_human_bytes(d->retained_bytes[v], h1), d->retained_objects[v]);
		if (gm_dom_is_object(d, v, &id)) {
			uint64_t base, size;
			uint32_t dom_id;
			gm_heap_index_object(t->g->idx, id, &base, &size);
			uint32_t r = d->first_root[v];
			char addr[32];
			snprintf(addr, sizeof(addr), "0x%" PRIx64, base);
			uint32_t tid = t->ty ? gm_typing_type(t->ty, id) : GM_TYPE_UNKNOWN;
			gm_strbuf_printf(
			    b, " %10s  %-18s %-22s %-9s %s %s\n", gm_human_bytes(size, h2), addr,
			    tid != GM_TYPE_UNKNOWN && tid < t->ty->tt.ntypes ? type_name(t, tid)
									     : "(unknown)",
			    gm_dom_is_object(d, d->idom[v], &dom_id) ? "an object"
			    : d->idom[v]			     ? "its root"
								     : "roots",
			    r < d->nroots ? root_kind(&d->roots[r]) : "-",
			    r < d->nroots ? root_name(t, &d->roots[r]) : "-");
			if (row_path(t, i))
				gm_paths_text_lines(b, row_path(t, i), 0, "      path  ",
						    "            ", 100);
		} else {
			const struct gm_dom_root *dr = &d->roots[d->what[v] - 1];
			gm_strbuf_printf(b, "  %-10s %s\n", root_kind(dr), root_name(t, dr));
		}
	}
	for (size_t i = 0; t->by_type && i < t->ntypes && i < t->limit; i++) {
		const struct type_row *r = &t->types[i];
		gm_strbuf_printf(b, "  %14" PRIu64 " %10s %10" PRIu64 " %10" PRIu64 " %10s  %s\n",
				 r->retained_bytes, gm_human_bytes(r->retained_bytes, h1),
				 r->retained_objects, r->objects, gm_human_bytes(r->bytes, h2),
				 type_name(t, r->tid));
	}
	if (t->by_type && t->ntypes > t->limit)
		gm_strbuf_printf(b, "  ... %zu more types (--limit)\n",
				 t->ntypes - (size_t)t->limit);
	if (t->by_type)
		gm_strbuf_printf(b,
				 "\n(retained: by the objects of the type that no other object of "
				 "the type dominates)\n");
	if (!t->by_object && !t->by_type && t->nrows < d->nroots)
		gm_strbuf_printf(b, "  ... %zu more roots (--limit)\n", d->nroots - t->nrows);
	gm_strbuf_printf(b, "\nchecks:\n  %-4s reachable bytes = what the roots retain %14" PRIu64,
			 st->reachable_bytes == d->retained_bytes[0] ? "ok" : "FAIL",
			 st->reachable_bytes);
	if (st->reachable_bytes != d->retained_bytes[0])
		gm_strbuf_printf(b, " != %" PRIu64, d->retained_bytes[0]);
	gm_strbuf_printf(b, "\n");
	gm_run_text_warnings(t->run);
}

static struct gomem_error *run_top(struct top *t)
{
	struct gm_run *r = t->run;
	const char *by = gm_run_option(r, "--by");
	if (by && strcmp(by, "object") == 0)
		t->by_object = true;
	else if (by && strcmp(by, "type") == 0)
		t->by_type = true;
	else if (by && strcmp(by, "root") != 0)
		return gm_error(GOMEM_ERROR_USAGE,
				"top: --by wants root, type or object, not \"%s\"", by);
	TRY(gm_run_uint_option(r, "--limit", DEFAULT_LIMIT, &t->limit));
	if (t->limit > MAX_LIMIT)
		return gm_error(GOMEM_ERROR_USAGE, "top: --limit is at most %u", MAX_LIMIT);
	if (t->by_type || t->by_object) {
		/* gm_run_typing builds (and reports) the graph first. */
		TRY(gm_run_typing(r, &t->ty));
		t->g = t->ty->g;
	} else {
		TRY(gm_run_graph(r, &t->g));
	}
	TRY(gm_dominators_build(t->g, &t->d));
	count_shared(t);
	if (t->by_type)
		TRY(by_type(t));
	else
		TRY(select_rows(t));
	if (t->by_object)
		TRY(first_paths(t));
	if (r->json)
		top_json(t);
	else
		top_text(t);
	return NULL;
}

static struct gomem_error *run(struct gm_run *r)
{
	struct top t = {.run = r};
	struct gomem_error *err = run_top(&t);
	gm_dominators_destroy(t.d);
	for (size_t i = 0; t.paths && i < t.nrows && i < FIRST_PATHS; i++)
		gm_paths_view_free(t.paths[i]);
	free(t.paths);
	free(t.rows);
	free(t.types);
	return err;
}

static const struct gm_option_spec options[] = {
    {"--by", "root|type|object", "what to rank: roots (default), types or single objects"},
    {"--limit", "N", "print the N largest (default 20)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_top = {
    .name = "top",
    .usage = "top [--by root|type|object] [--limit N] [--json]",
    .summary = "retained sizes from the dominator tree: what each root or object keeps alive",
    .help = "Builds the object graph (as `objects` does) and its dominator tree: a "
	    "pseudo-root, one vertex per root (a global by its symbol, a goroutine's stack, "
	    "a finalizer or cleanup special, a queue) and one per reachable object. What a "
	    "root or an object retains is what it alone keeps alive, its own slot included: "
	    "the bytes the next GC would free if it let go. --by root lists the roots, --by "
	    "object the single objects that retain most, each with the root the walk reached "
	    "it from first, who holds it alone (an object, its root, or several roots) and, "
	    "for the 20 largest, the first path from the roots (as `paths` gives it first), "
	    "--by type each type (as `types` finds them) with what its objects that no "
	    "other object of the type dominates retain. "
	    "Bytes are slot bytes, so the roots' retained bytes and what no single root "
	    "retains add up to the reachable bytes (checked). With --json, prints one "
	    "gomem/top/v1 object.",
    .options = options,
    .run = run,
};
