/*
 * `gomem types`: the heap's objects and bytes by type, reachable and
 * unreachable, largest first (objects/typing.c says where each type comes
 * from), with the objects whose type is unknown on a line of their own.
 * Bytes are the objects' slots (elemsize), as HeapAlloc counts them.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/typing.h"
#include "verbs/verbs.h"

#define TEXT_DEFAULT_LIMIT 50

struct type_row {
	uint32_t id;
	uint64_t objects[2], bytes[2]; /* [0] reachable, [1] unreachable */
};

struct types {
	struct gm_run *run;
	struct gm_graph *g;
	struct gm_typing *ty;
	struct type_row *rows; /* by type id, then sorted (row 0: unknown, kept apart) */
	size_t n;
	struct type_row unknown, total;
	uint64_t limit;
};

static uint64_t row_bytes(const struct type_row *r)
{
	return r->bytes[0] + r->bytes[1];
}

static int cmp_row(const void *a, const void *b)
{
	const struct type_row *x = a, *y = b;
	if (row_bytes(x) != row_bytes(y))
		return row_bytes(x) > row_bytes(y) ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void add(struct type_row *r, bool unreachable, uint64_t n, uint64_t size)
{
	r->objects[unreachable] += n;
	r->bytes[unreachable] += n * size;
}

/* Counts every allocated object under its type. */
static struct gomem_error *count(struct types *t)
{
	const struct gm_heap_index *idx = t->g->idx;
	size_t ntypes = t->ty->tt.ntypes;
	t->rows = calloc(ntypes, sizeof(*t->rows));
	if (!t->rows)
		return &gm_error_no_memory;
	for (size_t k = 0; k < idx->nspans; k++) {
		const struct gm_index_span *sp = &idx->spans[k];
		/* Runs of one type and reachability added at once (a span's objects are alike). */
		uint64_t n[2] = {0, 0}, run = 0;
		uint32_t run_tid = 0;
		bool run_unreachable = false;
		for (uint32_t i = 0; i < sp->nelems; i++) {
			uint32_t id = sp->first_id + i;
			if (!gm_heap_index_allocated(idx, id))
				continue;
			bool unreachable = !gm_graph_reached(t->g, id);
			uint32_t tid = gm_typing_type(t->ty, id);
			if (tid >= ntypes)
				tid = 0;
			n[unreachable]++;
			if (run && (tid != run_tid || unreachable != run_unreachable)) {
				add(&t->rows[run_tid], run_unreachable, run, sp->elemsize);
				run = 0;
			}
			run_tid = tid;
			run_unreachable = unreachable;
			run++;
		}
		if (run)
			add(&t->rows[run_tid], run_unreachable, run, sp->elemsize);
		add(&t->total, false, n[0], sp->elemsize);
		add(&t->total, true, n[1], sp->elemsize);
	}
	for (size_t i = 0; i < ntypes; i++)
		t->rows[i].id = (uint32_t)i;
	t->unknown = t->rows[0];
	/* The types with objects, without the unknown one. */
	size_t n = 0;
	for (size_t i = 1; i < ntypes; i++) {
		if (t->rows[i].objects[0] || t->rows[i].objects[1])
			t->rows[n++] = t->rows[i];
	}
	t->n = n;
	gm_sort(t->rows, t->n, sizeof(*t->rows), cmp_row);
	return NULL;
}

static void warn_typing(struct types *t)
{
	const struct gm_typing_stats *st = &t->ty->stats;
	if (st->rejected)
		gm_run_warn(t->run, false,
			    "%" PRIu64 " type propagations rejected: the type's pointer words were "
			    "not the object's (stale pointers, unsafe conversions)",
			    st->rejected);
	if (st->bad_types)
		gm_run_warn(t->run, false,
			    "type descriptors expected but not found at %" PRIu64
			    " addresses (stale interface or header words): not followed",
			    st->bad_types);
	if (!gm_dwarf_is_program(t->run->rt->dw))
		gm_run_warn(t->run, false,
			    "no DWARF: objects are typed only by their own descriptors and what "
			    "those point to");
}

static const char *share(uint64_t part, uint64_t whole, char buf[16])
{
	snprintf(buf, 16, "%.1f%%", whole ? 100.0 * (double)part / (double)whole : 0.0);
	return buf;
}

static void text_row(struct gm_strbuf *b, const char *name, const struct type_row *r)
{
	char h0[32], h1[32], h2[32];
	gm_strbuf_printf(b, "%10" PRIu64 " %10s %10" PRIu64 " %10s %10" PRIu64 " %10s  %s\n",
			 r->objects[0] + r->objects[1], gm_human_bytes(row_bytes(r), h0),
			 r->objects[0], gm_human_bytes(r->bytes[0], h1), r->objects[1],
			 gm_human_bytes(r->bytes[1], h2), name);
}

static void types_text(struct types *t)
{
	struct gm_strbuf *b = &t->run->out;
	size_t shown = t->limit && t->limit < t->n ? (size_t)t->limit : t->n;
	char s0[16], s1[16], h0[32], h1[32];
	gm_strbuf_printf(b, "the heap's objects by type, largest first (bytes: their slots)\n\n");
	gm_strbuf_printf(b, "%10s %10s %10s %10s %10s %10s  %s\n", "OBJECTS", "BYTES", "REACHABLE",
			 "BYTES", "GARBAGE", "BYTES", "TYPE");
	for (size_t i = 0; i < shown; i++)
		text_row(b, gm_gotypes_get(&t->ty->tt, t->rows[i].id)->name, &t->rows[i]);
	if (shown < t->n)
		gm_strbuf_printf(b, "... %zu more type%s not shown (--limit 0 shows all)\n",
				 t->n - shown, t->n - shown == 1 ? "" : "s");
	text_row(b, "(unknown)", &t->unknown);
	text_row(b, "total", &t->total);
	gm_strbuf_printf(b, "\nunknown: %s of the reachable bytes (%s of %s), ",
			 share(t->unknown.bytes[0], t->total.bytes[0], s0),
			 gm_human_bytes(t->unknown.bytes[0], h0),
			 gm_human_bytes(t->total.bytes[0], h1));
	gm_strbuf_printf(b, "%s of the unreachable bytes (%s of %s)\n",
			 share(t->unknown.bytes[1], t->total.bytes[1], s1),
			 gm_human_bytes(t->unknown.bytes[1], h0),
			 gm_human_bytes(t->total.bytes[1], h1));
	const struct gm_typing_stats *st = &t->ty->stats;
	gm_strbuf_printf(b,
			 "typed: %" PRIu64 " by their own descriptor, %" PRIu64
			 " from a typed referrer (%" PRIu64 " closures); %" PRIu64
			 " propagations rejected\n",
			 st->self_typed, st->propagated, st->closures, st->rejected);
	gm_strbuf_printf(b,
			 "also: %" PRIu64 " statics walked (%" PRIu64 " rejected), %" PRIu64
			 " objects typed by interface words (%" PRIu64 " rejected), %" PRIu64
			 " closures laid out by their code, %" PRIu64 " widened to arrays\n",
			 st->statics, st->statics_rejected, st->iface_typed, st->iface_rejected,
			 st->closure_code_layouts, st->widened);
	gm_run_text_warnings(t->run);
}

static void json_counts(struct gm_jw *w, const struct type_row *r)
{
	gm_jw_member_uint(w, "reachable_objects", r->objects[0]);
	gm_jw_member_uint(w, "reachable_bytes", r->bytes[0]);
	gm_jw_member_uint(w, "unreachable_objects", r->objects[1]);
	gm_jw_member_uint(w, "unreachable_bytes", r->bytes[1]);
}

static void types_json(struct types *t)
{
	struct gm_jw *w = &t->run->jw;
	size_t shown = t->limit && t->limit < t->n ? (size_t)t->limit : t->n;
	gm_run_json_begin(t->run, "gomem/types/v1");
	gm_jw_line(w);
	gm_jw_key(w, "target");
	gm_json_target(w, t->run->target);
	gm_jw_line(w);
	gm_jw_key(w, "types");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < shown; i++) {
		const struct gm_gotype *ty = gm_gotypes_get(&t->ty->tt, t->rows[i].id);
		gm_jw_object(w);
		gm_jw_member_string(w, "type", ty->name);
		gm_jw_member_string(w, "kind", gm_kind_name(ty->kind));
		gm_jw_member_uint(w, "size", ty->size);
		json_counts(w, &t->rows[i]);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_member_uint(w, "types_not_shown", t->n - shown);
	gm_jw_line(w);
	gm_jw_key(w, "unknown");
	gm_jw_object(w);
	json_counts(w, &t->unknown);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "total");
	gm_jw_object(w);
	json_counts(w, &t->total);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "typing");
	gm_jw_object(w);
	const struct gm_typing_stats *st = &t->ty->stats;
	gm_jw_member_uint(w, "self_typed", st->self_typed);
	gm_jw_member_uint(w, "propagated", st->propagated);
	gm_jw_member_uint(w, "closures", st->closures);
	gm_jw_member_uint(w, "rejected", st->rejected);
	gm_jw_member_uint(w, "interior", st->interior);
	gm_jw_member_uint(w, "typed_globals", st->globals);
	gm_jw_member_uint(w, "unreadable_types", st->bad_types);
	gm_jw_member_uint(w, "widened", st->widened);
	gm_jw_member_uint(w, "statics", st->statics);
	gm_jw_member_uint(w, "statics_rejected", st->statics_rejected);
	gm_jw_member_uint(w, "statics_skipped", st->statics_skipped);
	gm_jw_member_uint(w, "iface_pairs", st->iface_pairs);
	gm_jw_member_uint(w, "iface_typed", st->iface_typed);
	gm_jw_member_uint(w, "iface_rejected", st->iface_rejected);
	gm_jw_member_uint(w, "closure_code_layouts", st->closure_code_layouts);
	gm_jw_member_uint(w, "closure_code_conflicts", st->closure_code_conflicts);
	gm_jw_end(w);
	gm_run_json_end(t->run);
}

struct gomem_error *gm_run_typing(struct gm_run *r, struct gm_typing **ret)
{
	struct gm_graph *g;
	TRY(gm_run_graph(r, &g));
	struct gm_typing *ty = r->target->typing;
	if (!ty || ty->g != g) {
		gm_typing_destroy(ty);
		r->target->typing = NULL;
		TRY(gm_typing_create(g, &ty));
		r->target->typing = ty;
	}
	*ret = ty;
	return NULL;
}

static struct gomem_error *build(struct types *t)
{
	TRY(gm_run_uint_option(t->run, "--limit", t->run->json ? 0 : TEXT_DEFAULT_LIMIT,
			       &t->limit));
	TRY(gm_run_typing(t->run, &t->ty));
	t->g = t->ty->g;
	TRY(count(t));
	warn_typing(t);
	return NULL;
}

static struct gomem_error *run(struct gm_run *r)
{
	struct types t = {.run = r};
	struct gomem_error *err = build(&t);
	if (!err && r->json)
		types_json(&t);
	else if (!err)
		types_text(&t);
	free(t.rows);
	return err; /* the graph and its types are the target's */
}

static const struct gm_option_spec options[] = {
    {"--limit", "N", "list the N largest types (0: all; default 50 in text, all in JSON)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_types = {
    .name = "types",
    .usage = "types [--limit N] [--json]",
    .summary = "the heap's objects and bytes by type, reachable and garbage",
    .help = "Prints the heap's objects and bytes (their slots) by type, reachable and "
	    "unreachable, largest first, then the objects whose type is unknown on a line "
	    "of their own, and the unknown share of the reachable bytes. Types come from the "
	    "objects' own descriptors (malloc headers, large spans' types: Go 1.22+), and "
	    "from the DWARF-typed globals and the roots' closures through pointers, slices, "
	    "strings, maps, channels, interfaces and closures; each propagation is checked "
	    "against the object's pointer words and rejected on a mismatch. With --json, "
	    "prints one gomem/types/v1 object.",
    .options = options,
    .run = run,
};
