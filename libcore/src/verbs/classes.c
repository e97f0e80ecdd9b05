/*
 * `gomem classes`: the in-use heap by size class. For each class, the
 * objects its spans hold, their free slots (allocated nowhere yet, or freed
 * by the last sweep) and the tail of each span too small for one more
 * object: where small-object memory is wasted. Large objects (class 0) get
 * one span each.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

struct class_row {
	unsigned sizeclass;
	struct gm_class_stats st;
	uint64_t span_bytes;
};

struct classes {
	struct gm_run *run;
	struct gm_heap_walk walk;
	struct gm_memstats ms;
	struct class_row rows[GM_MAX_SIZE_CLASSES];
	size_t n;
};

static uint64_t waste(const struct gm_class_stats *st)
{
	return st->free_slot_bytes + st->tail_waste_bytes;
}

static int cmp_class(const void *a, const void *b)
{
	const struct class_row *x = a, *y = b;
	if (x->span_bytes != y->span_bytes)
		return x->span_bytes > y->span_bytes ? -1 : 1;
	return x->sizeclass < y->sizeclass ? -1 : x->sizeclass > y->sizeclass;
}

static struct gomem_error *classes_build(struct classes *c)
{
	struct gm_runtime *rt = c->run->rt;
	TRY(gm_runtime_memstats(rt, &c->ms));
	TRY(gm_runtime_walk_heap(rt, NULL, NULL, &c->walk));
	for (unsigned i = 1; i < GM_MAX_SIZE_CLASSES; i++) {
		const struct gm_class_stats *st = &c->walk.classes[i];
		if (!st->spans)
			continue;
		struct class_row *r = &c->rows[c->n++];
		r->sizeclass = i;
		r->st = *st;
		r->span_bytes = st->object_bytes + st->free_slot_bytes + st->tail_waste_bytes;
	}
	gm_sort(c->rows, c->n, sizeof(*c->rows), cmp_class);
	if (c->walk.bad_spans)
		gm_run_warn(c->run, true,
			    "%" PRIu64
			    " span descriptors looked live but failed validation and were "
			    "skipped",
			    c->walk.bad_spans);
	return NULL;
}

static void totals(const struct classes *c, struct gm_class_stats *small)
{
	memset(small, 0, sizeof(*small));
	for (size_t i = 0; i < c->n; i++) {
		const struct gm_class_stats *st = &c->rows[i].st;
		small->spans += st->spans;
		small->objects += st->objects;
		small->object_bytes += st->object_bytes;
		small->free_slots += st->free_slots;
		small->free_slot_bytes += st->free_slot_bytes;
		small->tail_waste_bytes += st->tail_waste_bytes;
	}
}

static void json_check(struct gm_run *r, const char *name, uint64_t runtime, uint64_t recon)
{
	struct gm_jw *w = &r->jw;
	gm_jw_object(w);
	gm_json_check_state_members(w, name, gm_run_check_state(r, runtime == recon), runtime,
				    recon);
	gm_jw_end(w);
}

static void classes_json(struct classes *c)
{
	struct gm_jw *w = &c->run->jw;
	const struct gm_class_stats *L = &c->walk.large;
	struct gm_class_stats small;
	totals(c, &small);
	gm_run_json_begin(c->run, "gomem/classes/v1");
	gm_jw_line(w);
	gm_jw_key(w, "classes");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < c->n; i++) {
		const struct class_row *r = &c->rows[i];
		gm_jw_object(w);
		gm_jw_member_uint(w, "class", r->sizeclass);
		gm_jw_member_uint(w, "object_size", gm_class_to_size[r->sizeclass]);
		gm_jw_member_uint(w, "spans", r->st.spans);
		gm_jw_member_uint(w, "span_bytes", r->span_bytes);
		gm_jw_member_uint(w, "objects", r->st.objects);
		gm_jw_member_uint(w, "object_bytes", r->st.object_bytes);
		gm_jw_member_uint(w, "free_slots", r->st.free_slots);
		gm_jw_member_uint(w, "free_slot_bytes", r->st.free_slot_bytes);
		gm_jw_member_uint(w, "tail_waste_bytes", r->st.tail_waste_bytes);
		gm_jw_member_uint(w, "waste_bytes", waste(&r->st));
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "large");
	gm_jw_object(w);
	gm_jw_member_uint(w, "spans", L->spans);
	gm_jw_member_uint(w, "objects", L->objects);
	gm_jw_member_uint(w, "object_bytes", L->object_bytes);
	gm_jw_member_uint(w, "tail_waste_bytes", L->tail_waste_bytes);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "small");
	gm_jw_object(w);
	gm_jw_member_uint(w, "spans", small.spans);
	gm_jw_member_uint(w, "objects", small.objects);
	gm_jw_member_uint(w, "object_bytes", small.object_bytes);
	gm_jw_member_uint(w, "free_slots", small.free_slots);
	gm_jw_member_uint(w, "free_slot_bytes", small.free_slot_bytes);
	gm_jw_member_uint(w, "tail_waste_bytes", small.tail_waste_bytes);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "checks");
	gm_jw_array(w);
	json_check(c->run, "HeapObjects = small + large objects", c->ms.HeapObjects,
		   small.objects + L->objects);
	json_check(c->run, "HeapAlloc = small + large object bytes", c->ms.HeapAlloc,
		   small.object_bytes + L->object_bytes);
	gm_jw_end(w);
	gm_run_json_end(c->run);
}

static void text_row(struct gm_strbuf *b, const char *cls, const char *size, uint64_t spans,
		     uint64_t objects, uint64_t object_bytes, const char *free_slots,
		     const char *free_bytes, const char *tail, const char *pct)
{
	char h[32];
	gm_strbuf_printf(b, "%-6s %7s %7" PRIu64 " %9" PRIu64 " %10s %10s %10s %10s %6s\n", cls,
			 size, spans, objects, gm_human_bytes(object_bytes, h), free_slots,
			 free_bytes, tail, pct);
}

static void classes_text(struct classes *c)
{
	struct gm_strbuf *b = &c->run->out;
	const struct gm_class_stats *L = &c->walk.large;
	struct gm_class_stats small;
	totals(c, &small);
	gm_strbuf_printf(b, "size classes of the in-use spans, largest first\n"
			    "WASTE: free slots and tail waste, as a share of the spans' bytes\n\n");
	gm_strbuf_printf(b, "%-6s %7s %7s %9s %10s %10s %10s %10s %6s\n", "CLASS", "SIZE", "SPANS",
			 "OBJECTS", "OBJ BYTES", "FREE SLOTS", "FREE BYTES", "TAIL WASTE", "WASTE");
	for (size_t i = 0; i < c->n; i++) {
		const struct class_row *r = &c->rows[i];
		char cls[8], size[16], fs[24], fb[32], tw[32], pct[16];
		snprintf(cls, sizeof(cls), "%u", r->sizeclass);
		snprintf(size, sizeof(size), "%u", gm_class_to_size[r->sizeclass]);
		snprintf(fs, sizeof(fs), "%" PRIu64, r->st.free_slots);
		gm_human_bytes(r->st.free_slot_bytes, fb);
		gm_human_bytes(r->st.tail_waste_bytes, tw);
		snprintf(pct, sizeof(pct), "%.1f%%",
			 r->span_bytes ? 100.0 * (double)waste(&r->st) / (double)r->span_bytes : 0);
		text_row(b, cls, size, r->st.spans, r->st.objects, r->st.object_bytes, fs, fb, tw,
			 pct);
	}
	/* A large span has no tail, but a user arena chunk keeps its pointer bitmap there. */
	char ltw[32];
	text_row(b, "large", "-", L->spans, L->objects, L->object_bytes, "-", "-",
		 L->tail_waste_bytes ? gm_human_bytes(L->tail_waste_bytes, ltw) : "-", "-");
	char fs[24], fb[32], tw[32], pct[16];
	uint64_t small_bytes = small.object_bytes + small.free_slot_bytes + small.tail_waste_bytes;
	snprintf(fs, sizeof(fs), "%" PRIu64, small.free_slots);
	snprintf(pct, sizeof(pct), "%.1f%%",
		 small_bytes ? 100.0 * (double)waste(&small) / (double)small_bytes : 0);
	text_row(b, "total", "-", small.spans + L->spans, small.objects + L->objects,
		 small.object_bytes + L->object_bytes, fs,
		 gm_human_bytes(small.free_slot_bytes, fb),
		 gm_human_bytes(small.tail_waste_bytes, tw), pct);
	uint64_t objs = small.objects + L->objects, bytes = small.object_bytes + L->object_bytes;
	gm_strbuf_printf(b, "\nchecks:\n  %-4s HeapObjects = objects above %26" PRIu64,
			 gm_check_word(gm_run_check_state(c->run, objs == c->ms.HeapObjects)),
			 c->ms.HeapObjects);
	if (objs != c->ms.HeapObjects)
		gm_strbuf_printf(b, " != %" PRIu64, objs);
	gm_strbuf_printf(b, "\n  %-4s HeapAlloc = object bytes above %23" PRIu64,
			 gm_check_word(gm_run_check_state(c->run, bytes == c->ms.HeapAlloc)),
			 c->ms.HeapAlloc);
	if (bytes != c->ms.HeapAlloc)
		gm_strbuf_printf(b, " != %" PRIu64, bytes);
	gm_strbuf_printf(b, "\n");
	gm_run_text_skew(c->run);
	gm_run_text_warnings(c->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct classes *c = calloc(1, sizeof(*c));
	if (!c)
		return &gm_error_no_memory;
	c->run = r;
	struct gomem_error *err = classes_build(c);
	if (!err && r->json)
		classes_json(c);
	else if (!err)
		classes_text(c);
	free(c);
	return err;
}

static const struct gm_option_spec options[] = {
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_classes = {
    .name = "classes",
    .usage = "classes [--json]",
    .summary = "per size class: spans, objects, bytes used, free slots, waste",
    .help = "Prints, for each size class with in-use spans, the spans, the objects and "
	    "their bytes, the free slots and the tail waste (the end of each span too "
	    "small for one more object), largest first, then large objects; and checks "
	    "that the objects add up to HeapObjects and HeapAlloc. With --json, prints "
	    "one gomem/classes/v1 object.",
    .options = options,
    .run = run,
};
