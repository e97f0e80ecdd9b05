/*
 * `gomem objects`: the heap's objects as the GC sees them, reachable from
 * the roots or not (garbage the next cycle frees), by root kind (how many
 * root words, how many conservative, what each kind reaches first) and by
 * size class; with the checks: reachable + unreachable = HeapObjects and
 * HeapAlloc, every edge ends in an allocated slot.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objects/objects.h"
#include "objects/typing.h"
#include "verbs/verbs.h"

struct objects {
	struct gm_run *run;
	struct gm_graph *g;
	struct gm_memstats ms;
	double seconds;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A progress line on stderr, only for a person watching (stderr a terminal). */
static void progress(const char *what)
{
	if (isatty(2))
		fprintf(stderr, "\rgomem objects: %-40s", what);
}

static void progress_done(void)
{
	if (isatty(2))
		fprintf(stderr, "\r%-56s\r", "");
}

struct gomem_error *gm_run_graph(struct gm_run *r, struct gm_graph **ret)
{
	if (r->graph) {
		*ret = r->graph;
		return NULL;
	}
	struct gm_graph *g = r->target->graph;
	/* A process gomem stopped: copy what the graph reads, let it go, build from the copy. */
	TRY(gm_target_snapshot(r->t));
	if (!g || r->t->source == GM_SOURCE_LIVE) {
		/* The types belong to the graph: a new graph at the old one's address must not find
		 * them. */
		gm_typing_destroy(r->target->typing);
		r->target->typing = NULL;
		gm_graph_destroy(g);
		r->target->graph = NULL;
		progress("indexing the heap and its roots");
		struct gomem_error *err = gm_graph_create(r->rt, &g);
		if (!err) {
			progress("marking from the roots");
			err = gm_graph_mark(g);
		}
		progress_done();
		if (err) {
			gm_graph_destroy(g);
			return err;
		}
		r->target->graph = g;
	}
	for (size_t i = 0; i < g->nwarnings; i++)
		gm_run_warn(r, true, "%s", g->warnings[i]);
	if (g->idx->bad_spans)
		gm_run_warn(r, true,
			    "%" PRIu64 " span descriptors looked live but failed validation and "
			    "were skipped",
			    g->idx->bad_spans);
	if (g->stats.missing_bytes)
		gm_run_warn(r, false,
			    "%" PRIu64 " bytes of reachable objects are not in the core: read as "
			    "zeros (no pointers)",
			    g->stats.missing_bytes);
	r->graph = g;
	*ret = g;
	return NULL;
}

static uint64_t dangling(const struct gm_graph_stats *st)
{
	return st->dangling_free + st->dangling_dead + st->dangling_other;
}

static void json_check(struct gm_jw *w, const char *name, uint64_t runtime, uint64_t recon)
{
	gm_jw_object(w);
	gm_json_check_members(w, name, runtime == recon, runtime, recon);
	gm_jw_end(w);
}

static void objects_json(struct objects *o)
{
	struct gm_jw *w = &o->run->jw;
	const struct gm_graph *g = o->g;
	const struct gm_graph_stats *st = &g->stats;
	gm_run_json_begin(o->run, "gomem/objects/v1");
	gm_jw_line(w);
	gm_jw_key(w, "target");
	gm_json_target(w, o->run->target);
	gm_jw_line(w);
	gm_json_objects_bytes(w, "reachable", st->reachable, st->reachable_bytes);
	gm_json_objects_bytes(w, "unreachable", st->unreachable, st->unreachable_bytes);
	gm_json_objects_bytes(w, "unswept_garbage", g->idx->unswept_garbage,
			      g->idx->unswept_garbage_bytes);
	gm_json_objects_bytes(w, "allocated_since_gc", g->idx->fresh_objects, g->idx->fresh_bytes);
	gm_json_objects_bytes(w, "unreachable_before_gc", st->unreachable_old,
			      st->unreachable_old_bytes);
	gm_jw_line(w);
	gm_jw_key(w, "roots");
	gm_jw_array_lines(w);
	for (unsigned k = 0; k < GM_ROOT_KINDS; k++) {
		const struct gm_root_stats *rs = &st->kinds[k];
		gm_jw_object(w);
		gm_jw_member_string(w, "kind", gm_root_kind_name(k));
		gm_jw_member_uint(w, "roots", rs->roots);
		gm_jw_member_uint(w, "conservative", rs->conservative);
		gm_jw_member_uint(w, "objects", rs->objects);
		gm_jw_member_uint(w, "bytes", rs->bytes);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "classes");
	gm_jw_array_lines(w);
	for (unsigned c = 1; c < GM_MAX_SIZE_CLASSES; c++) {
		if (!st->class_reachable[c] && !st->class_unreachable[c])
			continue;
		gm_jw_object(w);
		gm_jw_member_uint(w, "class", c);
		gm_jw_member_uint(w, "object_size", gm_class_to_size[c]);
		gm_jw_member_uint(w, "reachable_objects", st->class_reachable[c]);
		gm_jw_member_uint(w, "unreachable_objects", st->class_unreachable[c]);
		gm_jw_member_uint(w, "reachable_bytes",
				  st->class_reachable[c] * gm_class_to_size[c]);
		gm_jw_member_uint(w, "unreachable_bytes",
				  st->class_unreachable[c] * gm_class_to_size[c]);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "large");
	gm_jw_object(w);
	gm_jw_member_uint(w, "reachable_objects", st->large_reachable);
	gm_jw_member_uint(w, "unreachable_objects", st->large_unreachable);
	gm_jw_member_uint(w, "reachable_bytes", st->large_reachable_bytes);
	gm_jw_member_uint(w, "unreachable_bytes", st->large_unreachable_bytes);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "edges");
	gm_jw_object(w);
	gm_jw_member_uint(w, "edges", st->edges);
	gm_jw_member_uint(w, "dangling_free_slot", st->dangling_free);
	gm_jw_member_uint(w, "dangling_unswept_garbage", st->dangling_dead);
	gm_jw_member_uint(w, "dangling_no_slot", st->dangling_other);
	gm_jw_member_uint(w, "weak", st->weak_edges);
	gm_jw_member_uint(w, "roots_into_no_object", st->roots_outside);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "checks");
	gm_jw_array(w);
	json_check(w, "HeapObjects = reachable + unreachable objects", o->ms.HeapObjects,
		   st->reachable + st->unreachable);
	json_check(w, "HeapAlloc = reachable + unreachable bytes", o->ms.HeapAlloc,
		   st->reachable_bytes + st->unreachable_bytes);
	json_check(w, "every edge ends in an allocated slot", 0, dangling(st));
	gm_jw_end(w);
	gm_run_json_end(o->run);
}

static void text_check(struct gm_strbuf *b, const char *name, uint64_t runtime, uint64_t recon)
{
	gm_strbuf_printf(b, "  %-4s %-46s %14" PRIu64, runtime == recon ? "ok" : "FAIL", name,
			 runtime);
	if (runtime != recon)
		gm_strbuf_printf(b, " != %" PRIu64, recon);
	gm_strbuf_printf(b, "\n");
}

static void objects_text(struct objects *o)
{
	struct gm_strbuf *b = &o->run->out;
	const struct gm_graph *g = o->g;
	const struct gm_graph_stats *st = &g->stats;
	char h1[32], h2[32];
	uint64_t all = st->reachable + st->unreachable;
	uint64_t all_bytes = st->reachable_bytes + st->unreachable_bytes;
	gm_strbuf_printf(b, "heap objects as the GC sees them: %" PRIu64 " objects, %s\n\n", all,
			 gm_human_bytes(all_bytes, h1));
	gm_strbuf_printf(b, "  reachable    %10" PRIu64 " objects %12s (%.1f%% of the bytes)\n",
			 st->reachable, gm_human_bytes(st->reachable_bytes, h1),
			 all_bytes ? 100.0 * (double)st->reachable_bytes / (double)all_bytes : 0);
	gm_strbuf_printf(b,
			 "  unreachable  %10" PRIu64 " objects %12s (garbage the next GC frees)\n",
			 st->unreachable, gm_human_bytes(st->unreachable_bytes, h2));
	gm_strbuf_printf(b, "    of which allocated before the last GC %" PRIu64 " objects, %s\n",
			 st->unreachable_old, gm_human_bytes(st->unreachable_old_bytes, h1));
	gm_strbuf_printf(b, "  allocated since the last GC %" PRIu64 " objects, %s\n",
			 g->idx->fresh_objects, gm_human_bytes(g->idx->fresh_bytes, h1));
	if (g->idx->unswept_garbage)
		gm_strbuf_printf(b, "    of which unswept garbage %" PRIu64 " objects, %s\n",
				 g->idx->unswept_garbage,
				 gm_human_bytes(g->idx->unswept_garbage_bytes, h1));
	gm_strbuf_printf(b, "\nby root kind (objects and bytes first reached from it):\n");
	gm_strbuf_printf(b, "  %-10s %9s %12s %10s %12s\n", "KIND", "ROOTS", "CONSERVATIVE",
			 "OBJECTS", "BYTES");
	for (unsigned k = 0; k < GM_ROOT_KINDS; k++) {
		const struct gm_root_stats *rs = &st->kinds[k];
		gm_strbuf_printf(b, "  %-10s %9" PRIu64 " %12" PRIu64 " %10" PRIu64 " %12s\n",
				 gm_root_kind_name(k), rs->roots, rs->conservative, rs->objects,
				 gm_human_bytes(rs->bytes, h1));
	}
	gm_strbuf_printf(b, "\nby size class:\n  %-6s %7s %10s %12s %12s %12s\n", "CLASS", "SIZE",
			 "REACHABLE", "BYTES", "UNREACHABLE", "BYTES");
	for (unsigned c = 1; c < GM_MAX_SIZE_CLASSES; c++) {
		if (!st->class_reachable[c] && !st->class_unreachable[c])
			continue;
		gm_strbuf_printf(
		    b, "  %-6u %7u %10" PRIu64 " %12s %12" PRIu64 " %12s\n", c, gm_class_to_size[c],
		    st->class_reachable[c],
		    gm_human_bytes(st->class_reachable[c] * gm_class_to_size[c], h1),
		    st->class_unreachable[c],
		    gm_human_bytes(st->class_unreachable[c] * gm_class_to_size[c], h2));
	}
	gm_strbuf_printf(b, "  %-6s %7s %10" PRIu64 " %12s %12" PRIu64 " %12s\n", "large", "-",
			 st->large_reachable, gm_human_bytes(st->large_reachable_bytes, h1),
			 st->large_unreachable, gm_human_bytes(st->large_unreachable_bytes, h2));
	gm_strbuf_printf(b,
			 "\nedges: %" PRIu64 " pointers between objects, %" PRIu64
			 " weak (weak handles' referents)\n",
			 st->edges, st->weak_edges);
	gm_strbuf_printf(b, "\nchecks:\n");
	text_check(b, "HeapObjects = reachable + unreachable objects", o->ms.HeapObjects, all);
	text_check(b, "HeapAlloc = reachable + unreachable bytes", o->ms.HeapAlloc, all_bytes);
	text_check(b, "every edge ends in an allocated slot", 0, dangling(st));
	gm_run_text_warnings(o->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct objects o = {.run = r};
	double t0 = now();
	TRY(gm_runtime_memstats(r->rt, &o.ms));
	TRY(gm_run_graph(r, &o.g));
	o.seconds = now() - t0;
	if (r->json)
		objects_json(&o);
	else
		objects_text(&o);
	return NULL;
}

static const struct gm_option_spec options[] = {
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_objects = {
    .name = "objects",
    .usage = "objects [--json]",
    .summary = "reachable vs unreachable objects and bytes, by root kind and size class",
    .help = "Marks the heap from its roots as the GC does (globals by the modules' GC "
	    "masks, finalizer and cleanup specials and queues, weak handles' boxes; "
	    "pointer words from the heap's own bitmaps, headers and type descriptors) and "
	    "prints the reachable and unreachable objects and bytes, by root kind (root "
	    "words, conservative ones, the objects and bytes each kind reaches first) and "
	    "by size class; checks that reachable + unreachable = HeapObjects and HeapAlloc "
	    "and that every pointer between objects ends in an allocated slot. Reads every "
	    "object with pointers: much more than summary. With --json, prints one "
	    "gomem/objects/v1 object.",
    .options = options,
    .run = run,
};
