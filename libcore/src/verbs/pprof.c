/*
 * `gomem pprof [--profile=objects|runtime] [-o FILE]`: a gzipped
 * profile.proto (base/pprof.c) for go tool pprof. objects (the default):
 * the reachable heap from the object graph, by type, each under the chain
 * that retains it (pprof_objects.c). runtime: the heap profile the program
 * would have served at /debug/pprof/heap at this moment, from the
 * runtime's memory-profile buckets (runtime/memprofile.c, pprof_runtime.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

#define DEFAULT_FILE "heap.pb.gz"
#define STR_(x)	     #x
#define STR(x)	     STR_(x)

/*
 * Why there is no profile to write: MemProfileRate 0 (the program does not
 * sample; a bucket or two from the runtime's start may remain), or no
 * bucket with a count.
 */
static struct gomem_error *no_samples(const struct gm_memprofile *mp)
{
	char left[96] = "";
	if (mp->nrecords)
		snprintf(left, sizeof(left), " (%zu sample%s from before it was set remain%s)",
			 mp->nrecords, mp->nrecords == 1 ? "" : "s", mp->nrecords == 1 ? "s" : "");
	if (mp->rate == 0 && mp->disabled)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"pprof: no heap profile: runtime.MemProfileRate is 0: nothing in "
				"the program reads the profile, so the linker turned memory "
				"profiling off%s; no file written",
				left);
	if (mp->rate == 0)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"pprof: no heap profile: the program set runtime.MemProfileRate to "
				"0%s; no file written",
				left);
	if (mp->nrecords == 0)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"pprof: no heap profile: the runtime has sampled no allocation yet "
				"(runtime.MemProfileRate %" PRId64 "); no file written",
				mp->rate);
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"pprof: no heap profile: the runtime's %zu memory-profile buckets hold "
			"no counts yet (runtime.MemProfileRate %" PRId64 "); no file written",
			mp->nrecords, mp->rate);
}

static bool has_counts(const struct gm_memprofile *mp)
{
	for (size_t i = 0; i < mp->nrecords; i++) {
		if (mp->records[i].allocs || mp->records[i].frees)
			return true;
	}
	return false;
}

/* The profile's comments naming what it was read from: the executable, then the core or the
 * process. */
void gm_pprof_comment_target(struct gm_pprof *out, const struct gm_target *t)
{
	char line[4200];
	snprintf(line, sizeof(line), "executable: %s (%s)", t->exe.path, t->exe.build_version);
	gm_pprof_comment(out, line);
	if (t->have_core)
		snprintf(line, sizeof(line), "core: %s (pid %d)", t->core.path, t->pid);
	else
		snprintf(line, sizeof(line), "live process: pid %d", t->pid);
	gm_pprof_comment(out, line);
}

/* What the profile says about where it came from (go tool pprof -comments). */
static void describe(struct gm_run *r, struct gm_pprof *out, const struct gm_memprofile *mp,
		     uint64_t numgc)
{
	char line[4200];
	gm_pprof_comment(out, "gomem pprof --profile=runtime: the heap profile of "
			      "runtime.MemProfile, read from the runtime's memory-profile buckets");
	gm_pprof_comment_target(out, r->t);
	if (mp->all_cycles)
		snprintf(line, sizeof(line),
			 "no GC has published the profile yet: every sampled allocation and free "
			 "so far");
	else
		snprintf(line, sizeof(line),
			 "as of the last GC (%" PRIu64 " so far): the runtime publishes its heap "
			 "profile at each GC",
			 numgc);
	gm_pprof_comment(out, line);
}

static void text_report(struct gm_run *r, const char *path, uint64_t bytes,
			const struct gm_memprofile *mp, const struct gm_pprof_counts *c,
			const struct gm_pprof_runtime_totals *tot, uint64_t numgc)
{
	struct gm_strbuf *o = &r->out;
	char b1[32], b2[32], b3[32];
	gm_strbuf_printf(o, "wrote %s (%s): the program's own heap profile (runtime.MemProfile)\n",
			 path, gm_human_bytes(bytes, b1));
	if (mp->all_cycles)
		gm_strbuf_printf(o,
				 "no GC has published it yet: every sampled allocation so far\n");
	else
		gm_strbuf_printf(o, "as of the last GC (GC %" PRIu64 ")\n", numgc);
	gm_strbuf_printf(o,
			 "runtime.MemProfileRate %" PRId64 "%s: %" PRIu64 " samples, %" PRIu64
			 " locations, %" PRIu64 " functions\n",
			 mp->rate,
			 mp->rate == 1	? " (every allocation)"
			 : mp->rate > 1 ? " (scaled as runtime/pprof scales)"
					: "",
			 c->samples, c->locations, c->functions);
	gm_strbuf_printf(o, "in use:    %" PRId64 " objects, %s\n", tot->inuse_objects,
			 gm_human_bytes(tot->inuse_space > 0 ? (uint64_t)tot->inuse_space : 0, b2));
	gm_strbuf_printf(o, "allocated: %" PRId64 " objects, %s (since the program started)\n",
			 tot->alloc_objects,
			 gm_human_bytes(tot->alloc_space > 0 ? (uint64_t)tot->alloc_space : 0, b3));
	gm_strbuf_printf(o, "view it with: go tool pprof -top %s %s\n", r->t->exe.path, path);
	gm_run_text_warnings(r);
}

static void json_report(struct gm_run *r, const char *path, uint64_t bytes,
			const struct gm_memprofile *mp, const struct gm_pprof_counts *c,
			const struct gm_pprof_runtime_totals *tot, uint64_t numgc)
{
	struct gm_jw *w = &r->jw;
	gm_run_json_begin(r, "gomem/pprof/v1");
	gm_jw_key(w, "target");
	gm_json_target(w, r->target);
	gm_jw_member_string(w, "profile", "runtime");
	gm_jw_member_string(w, "file", path);
	gm_jw_member_uint(w, "file_bytes", bytes);
	gm_jw_member_int(w, "memprofile_rate", mp->rate);
	gm_jw_member_uint(w, "num_gc", numgc);
	gm_jw_member_bool(w, "all_cycles", mp->all_cycles);
	gm_jw_member_uint(w, "buckets", mp->nrecords);
	gm_jw_member_uint(w, "samples", c->samples);
	gm_jw_member_uint(w, "locations", c->locations);
	gm_jw_member_uint(w, "functions", c->functions);
	gm_jw_member_uint(w, "mappings", c->mappings);
	gm_jw_key(w, "totals");
	gm_jw_object(w);
	gm_jw_member_int(w, "alloc_objects", tot->alloc_objects);
	gm_jw_member_int(w, "alloc_space", tot->alloc_space);
	gm_jw_member_int(w, "inuse_objects", tot->inuse_objects);
	gm_jw_member_int(w, "inuse_space", tot->inuse_space);
	gm_jw_end(w);
	gm_run_json_end(r);
}

static struct gomem_error *runtime_profile(struct gm_run *r, const char *path)
{
	struct gm_memprofile mp;
	struct gm_memstats ms;
	TRY(gm_runtime_memstats(r->rt, &ms));
	TRY(gm_memprofile_read(r->rt, &mp));
	struct gomem_error *err = NULL;
	for (size_t i = 0; i < mp.nwarnings; i++)
		gm_run_warn(r, true, "%s", mp.warnings[i]);
	if (mp.rate == 0 || !has_counts(&mp))
		err = no_samples(&mp);
	struct gm_pclntab *tab = NULL;
	struct gm_pprof *out = NULL;
	struct gm_pprof_runtime_totals tot;
	if (!err)
		err = gm_runtime_pclntab(r->rt, &tab);
	if (!err)
		err = gm_pprof_create(&out);
	if (!err) {
		describe(r, out, &mp, ms.NumGC);
		/* The time the counts are as of: the end of the last GC (0 before the first). */
		gm_pprof_time(out, (int64_t)ms.LastGC, 0);
		err = gm_pprof_runtime_profile(r, &mp, tab, out, &tot);
	}
	uint64_t bytes = 0;
	if (!err)
		err = gm_pprof_write(out, path, &bytes);
	if (!err) {
		struct gm_pprof_counts c;
		gm_pprof_counts(out, &c);
		if (r->json)
			json_report(r, path, bytes, &mp, &c, &tot, ms.NumGC);
		else
			text_report(r, path, bytes, &mp, &c, &tot, ms.NumGC);
	}
	gm_pprof_destroy(out);
	gm_pclntab_destroy(tab);
	gm_memprofile_deinit(&mp);
	return err;
}

static const char *share(uint64_t part, uint64_t whole, char buf[16])
{
	snprintf(buf, 16, "%.1f%%", whole ? 100.0 * (double)part / (double)whole : 0.0);
	return buf;
}

static void objects_text(struct gm_run *r, const char *path, uint64_t bytes,
			 const struct gm_pprof_counts *c, const struct gm_pprof_objects_totals *tot)
{
	struct gm_strbuf *o = &r->out;
	char b1[32], b2[32], s1[16];
	gm_strbuf_printf(o,
			 "wrote %s (%s): the reachable heap by type, each under the chain of "
			 "types and the root that retain it (dominator tree)\n",
			 path, gm_human_bytes(bytes, b1));
	gm_strbuf_printf(o,
			 "samples: %" PRIu64 " objects, %s (%" PRIu64 " bytes) in %" PRIu64
			 " stacks over %" PRIu64 " types and roots\n",
			 tot->objects, gm_human_bytes(tot->bytes, b1), tot->bytes, c->samples,
			 c->locations);
	gm_strbuf_printf(o, "unknown type: %" PRIu64 " objects, %s (%s of the bytes)\n",
			 tot->unknown_objects, gm_human_bytes(tot->unknown_bytes, b2),
			 share(tot->unknown_bytes, tot->bytes, s1));
	gm_strbuf_printf(o,
			 "held by no single root: %" PRIu64 " objects, %s (under \"(several "
			 "roots)\")\n",
			 tot->shared_objects, gm_human_bytes(tot->shared_bytes, b2));
	if (tot->cut_objects)
		gm_strbuf_printf(
		    o, "chains over %d frames cut in the middle: %" PRIu64 " objects, %s\n",
		    GM_PPROF_OBJECTS_MAX_FRAMES, tot->cut_objects,
		    gm_human_bytes(tot->cut_bytes, b2));
	bool ok = tot->objects == tot->reachable_objects && tot->bytes == tot->reachable_bytes;
	gm_strbuf_printf(o,
			 "\nchecks:\n  %-4s samples = the reachable objects and bytes %" PRIu64
			 " %" PRIu64 "\n",
			 ok ? "ok" : "FAIL", tot->reachable_objects, tot->reachable_bytes);
	gm_strbuf_printf(o,
			 "\nview it with: go tool pprof -top %s (-sample_index=inuse_objects for "
			 "counts; -tree or -http=: for what holds them)\n",
			 path);
	gm_run_text_warnings(r);
}

static void objects_json(struct gm_run *r, const char *path, uint64_t bytes,
			 const struct gm_pprof_counts *c, const struct gm_pprof_objects_totals *tot)
{
	struct gm_jw *w = &r->jw;
	gm_run_json_begin(r, "gomem/pprof/v1");
	gm_jw_key(w, "target");
	gm_json_target(w, r->target);
	gm_jw_member_string(w, "profile", "objects");
	gm_jw_member_string(w, "file", path);
	gm_jw_member_uint(w, "file_bytes", bytes);
	gm_jw_member_uint(w, "samples", c->samples);
	gm_jw_member_uint(w, "locations", c->locations);
	gm_jw_member_uint(w, "functions", c->functions);
	gm_jw_member_uint(w, "mappings", c->mappings);
	gm_jw_member_uint(w, "max_frames", GM_PPROF_OBJECTS_MAX_FRAMES);
	gm_jw_key(w, "totals");
	gm_jw_object(w);
	gm_jw_member_int(w, "inuse_objects", (int64_t)tot->objects);
	gm_jw_member_int(w, "inuse_space", (int64_t)tot->bytes);
	gm_jw_end(w);
	gm_json_objects_bytes(w, "reachable", tot->reachable_objects, tot->reachable_bytes);
	gm_json_objects_bytes(w, "unknown", tot->unknown_objects, tot->unknown_bytes);
	gm_json_objects_bytes(w, "shared", tot->shared_objects, tot->shared_bytes);
	gm_json_objects_bytes(w, "cut", tot->cut_objects, tot->cut_bytes);
	gm_jw_key(w, "checks");
	gm_jw_array(w);
	gm_jw_object(w);
	gm_json_check_members(w, "samples = the reachable objects",
			      tot->objects == tot->reachable_objects, tot->reachable_objects,
			      tot->objects);
	gm_jw_end(w);
	gm_jw_object(w);
	gm_json_check_members(w, "samples = the reachable bytes",
			      tot->bytes == tot->reachable_bytes, tot->reachable_bytes, tot->bytes);
	gm_jw_end(w);
	gm_jw_end(w);
	gm_run_json_end(r);
}

static struct gomem_error *objects_profile(struct gm_run *r, const char *path)
{
	struct gm_pprof *out = NULL;
	struct gm_pprof_objects_totals tot;
	TRY(gm_pprof_create(&out));
	struct gomem_error *err = gm_pprof_objects_profile(r, out, &tot);
	uint64_t bytes = 0;
	if (!err)
		err = gm_pprof_write(out, path, &bytes);
	if (!err) {
		struct gm_pprof_counts c;
		gm_pprof_counts(out, &c);
		if (r->json)
			objects_json(r, path, bytes, &c, &tot);
		else
			objects_text(r, path, bytes, &c, &tot);
	}
	gm_pprof_destroy(out);
	return err;
}

static struct gomem_error *run(struct gm_run *r)
{
	const char *kind = gm_run_option(r, "--profile");
	const char *path = gm_run_option(r, "-o");
	if (!path)
		path = DEFAULT_FILE;
	if (!path[0])
		return gm_error(GOMEM_ERROR_USAGE, "pprof: -o wants a file name");
	if (!kind || strcmp(kind, "objects") == 0)
		return objects_profile(r, path);
	if (strcmp(kind, "runtime") == 0)
		return runtime_profile(r, path);
	return gm_error(GOMEM_ERROR_USAGE,
			"pprof: unknown profile \"%s\": --profile wants objects (the heap as the "
			"object graph sees it, the default) or runtime (the program's own heap "
			"profile)",
			kind);
}

static const struct gm_option_spec options[] = {
    {"--profile", "KIND",
     "objects (default): the reachable heap by type and what retains it; runtime: the "
     "program's own heap profile, from the runtime's memory-profile buckets"},
    {"-o", "FILE", "write the profile to FILE (default " DEFAULT_FILE ")"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_pprof = {
    .name = "pprof",
    .usage = "pprof [--profile=objects|runtime] [-o FILE] [--json]",
    .summary = "the heap as a pprof file for go tool pprof: by type and root, or the "
	       "program's own profile",
    .help = "Without --profile (or with --profile=objects), builds the object graph and "
	    "its dominator tree (as `top` does) and writes the reachable heap as a profile "
	    "with the sample types inuse_objects/count and inuse_space/bytes (slot bytes): "
	    "each object counts under a stack whose leaf is its type (as `types` finds "
	    "them, (unknown) where none is known), then the types of the objects that "
	    "dominate it, up to the root that alone keeps it alive (a global's name, "
	    "goroutine N FUNCTION, finalizer of ADDR, ...) or (several roots). go tool pprof "
	    "-top then lists the types with their objects and bytes (flat), and what the "
	    "objects of a type or a root retain (cum, as `top --by type` and `--by root`); "
	    "-tree and -http show what holds them, each node's cumulative value being what "
	    "its chain retains. A run of one type (a linked list) is one frame; a chain of "
	    "over " STR(GM_PPROF_OBJECTS_MAX_FRAMES) " frames keeps its root, the types "
						     "below it and the object's type, and a (types "
						     "cut) frame stands for the middle. "
						     "Samples with the same stack are one sample. "
						     "With --profile=runtime, writes the heap "
						     "profile that the program would "
						     "have served at /debug/pprof/heap at this "
						     "moment (pprof.WriteHeapProfile), "
						     "read from the runtime's memory-profile "
						     "buckets: the sampled allocation "
						     "stacks with their in-use and allocated "
						     "objects and bytes as of the last "
						     "GC, scaled by runtime.MemProfileRate as "
						     "runtime/pprof scales them, and "
						     "symbolized (function, file, line, inlined "
						     "calls) from the executable's "
						     "function table. The file is a gzipped "
						     "profile.proto (default " DEFAULT_FILE
						     ") for go tool pprof -top EXE FILE. A program "
						     "with MemProfileRate 0, or "
						     "without samples, gets one line that says so, "
						     "and no file. With --json, "
						     "prints one gomem/pprof/v1 object about the "
						     "file (either profile).",
    .options = options,
    .run = run,
};
