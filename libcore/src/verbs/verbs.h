/* The verbs' shared machinery: parsed arguments, output, warnings. */
#ifndef GOMEM_VERBS_H
#define GOMEM_VERBS_H

#include "addrspace/addrspace.h"
#include "objects/objects.h"
#include "base/pprof.h"
#include "base/u64map.h"
#include "runtime/memprofile.h"

/*
 * What the public API calls a target: the target itself (target/), the
 * DWARF of its executable and its Go runtime. Opened and destroyed in api.c.
 */
struct gm_typing;

struct gomem_target {
	struct gm_target target;
	struct gm_dwarf *dwarf;
	bool dwarf_borrowed; /* gm_target_open_core_dwarf's: not destroyed with the target */
	struct gm_runtime *runtime;
	char *debug_file, *layout_from; /* as opened (NULL: not given) */
	struct gm_graph *graph;		/* the object graph, kept for a core (gm_run_graph) */
	struct gm_typing *typing;	/* its objects' types, kept with it (gm_run_typing) */
};

/*
 * gomem_target_open_core with the executable's DWARF already open (the
 * fuzzers open it once): the target borrows dwarf, which must outlive it.
 */
struct gomem_error *gm_target_open_core_dwarf(const char *exe_path, const char *core_path,
					      struct gm_dwarf *dwarf, struct gomem_target **ret);

#define GM_MAX_OPTIONS	16
#define GM_MAX_OPERANDS 4
#define GM_MAX_WARNINGS 64

struct gm_option_spec {
	const char *name;  /* "--limit" */
	const char *value; /* metavariable ("N") when the option takes a value, else NULL */
	const char *help;
};

struct gm_run;

struct gm_verb {
	const char *name, *usage, *summary, *help;
	int min_operands, max_operands;
	const struct gm_option_spec *options; /* ends with a NULL name; --json is implied */
	struct gomem_error *(*run)(struct gm_run *r);
};

/* One call of a verb: its arguments, its output and its warnings. */
struct gm_run {
	struct gomem_target *target;
	struct gm_target *t;   /* &target->target */
	struct gm_runtime *rt; /* target->runtime */
	const struct gm_verb *verb;
	bool json;
	const char *option_values[GM_MAX_OPTIONS]; /* "" for a flag that is set */
	const char *operands[GM_MAX_OPERANDS];
	int noperands;
	struct gm_strbuf out;
	struct gm_jw jw; /* writes JSON into out */
	char *warnings[GM_MAX_WARNINGS];
	size_t nwarnings;
	bool partial; /* something could not be read: the CLI exits with 1 */
	/*
	 * Why a check that differs here is skew, not FAIL: the two views were
	 * read at different moments of a running process. NULL: a differing
	 * check is a FAIL. skewed: some check was printed as skew.
	 */
	const char *skew_why;
	bool skewed;
	/* The object graph this run took from gm_run_graph (its warnings given once), or NULL. */
	struct gm_graph *graph;
};

/* The value of an option, "" for a flag, NULL when not given. */
const char *gm_run_option(const struct gm_run *r, const char *name);
struct gomem_error *gm_run_uint_option(const struct gm_run *r, const char *name, uint64_t dflt,
				       uint64_t *ret);
/* A warning for the output; partial marks the result incomplete. */
void gm_run_warn(struct gm_run *r, bool partial, const char *fmt, ...) GM_PRINTF(3, 4);
/* Opens the report's JSON object with its "schema" ("gomem/summary/v1"). */
void gm_run_json_begin(struct gm_run *r, const char *schema);
/* Its last member, "warnings": [...], on a line of its own; closes the object and the line. */
void gm_run_json_end(struct gm_run *r);
/* The warnings as text lines, after a blank line. */
void gm_run_text_warnings(struct gm_run *r);
/* Writes the "target" object of a JSON report. */
void gm_json_target(struct gm_jw *w, const struct gomem_target *target);
/* "key": {"objects": objects, "bytes": bytes}, a count of objects and their size. */
void gm_json_objects_bytes(struct gm_jw *w, const char *key, uint64_t objects, uint64_t bytes);
/* "name", "ok", "runtime", "reconstructed": the members of a check of a report. */
void gm_json_check_members(struct gm_jw *w, const char *name, bool ok, uint64_t runtime,
			   uint64_t reconstructed);
/*
 * A check's outcome: ok; FAIL, gomem or the target is wrong; or skew, it
 * differs where it cannot hold (r->skew_why): "ok": null, "skew": true.
 */
enum gm_check_state { GM_CHECK_OK, GM_CHECK_FAIL, GM_CHECK_SKEW };
enum gm_check_state gm_run_check_state(struct gm_run *r, bool ok);
const char *gm_check_word(enum gm_check_state s);
void gm_json_check_state_members(struct gm_jw *w, const char *name, enum gm_check_state s,
				 uint64_t runtime, uint64_t reconstructed);
/* After the checks in text: why some were skew, once (nothing when none was). */
void gm_run_text_skew(struct gm_run *r);
/* Hands the run's output to *ret (unless err) and releases the run; returns err. */
struct gomem_error *gm_run_finish(struct gm_run *r, struct gomem_error *err, char **ret);

/*
 * The target's object graph, marked (objects.c): built once for a core and
 * kept with the target; for a live process built anew by each run (the
 * process ran in between), then the same for the rest of the run. The
 * graph's warnings go to the run once. Owned by the target.
 */
struct gomem_error *gm_run_graph(struct gm_run *r, struct gm_graph **ret);
/*
 * The types of the graph's objects (types.c), kept with the graph: built
 * with it, once for a core, once a run for a live process. Owned by the target.
 */
struct gomem_error *gm_run_typing(struct gm_run *r, struct gm_typing **ret);

/* The verbs, one file each. */
extern const struct gm_verb gm_verb_summary, gm_verb_mappings, gm_verb_arenas, gm_verb_spans,
    gm_verb_classes, gm_verb_stacks, gm_verb_whatis, gm_verb_diff, gm_verb_pprof, gm_verb_objects,
    gm_verb_types, gm_verb_top, gm_verb_paths;

/* ---- why an object is alive (paths.c) ---- */

/* The paths to one object, each step named (types, fields, keys, roots). */
struct gm_paths_view;
/*
 * The paths to object id (allocated) of the marked graph g, at most limit
 * (gm_paths_find), named with the types of ty (NULL: types unknown).
 */
struct gomem_error *gm_run_paths(struct gm_run *r, struct gm_graph *g, struct gm_typing *ty,
				 uint32_t id, unsigned limit, struct gm_paths_view **ret);
void gm_paths_view_free(struct gm_paths_view *v);
size_t gm_paths_view_count(const struct gm_paths_view *v);
/*
 * Path i as lines of at most width columns (cut with "..."): the root after
 * first, then each object after indent, "-> 0xc000012340 (main.T) .next".
 */
void gm_paths_text_lines(struct gm_strbuf *b, const struct gm_paths_view *v, size_t i,
			 const char *first, const char *indent, int width);
/* Path i as a JSON object: {"root": {...}, "depth", "steps": [...]}. */
void gm_paths_json_path(struct gm_jw *w, const struct gm_paths_view *v, size_t i);

/* ---- both profiles (pprof.c) ---- */

/* Comments of the profile: the executable, then the core or the live process. */
void gm_pprof_comment_target(struct gm_pprof *out, const struct gm_target *t);

/* ---- the program's own heap profile (pprof_runtime.c) ---- */

/* The sums of the profile's four sample values, scaled as in the profile. */
struct gm_pprof_runtime_totals {
	int64_t alloc_objects, alloc_space, inuse_objects, inuse_space;
};

/*
 * scaleHeapSample (protomem.go): count objects of size bytes in all
 * (from_avg: the bytes of them all, before 1.27; else of one object, as
 * from 1.27) sampled at rate, unsampled: divided by the probability
 * 1 - exp(-avg/rate) that an object of the average size is sampled.
 */
void gm_pprof_scale_heap_sample(int64_t count, int64_t size, int64_t rate, bool from_avg,
				int64_t *count_ret, int64_t *bytes_ret);

/*
 * Writes into out the heap profile that runtime/pprof would write from
 * these records (WriteHeapProfile): sample types, period, samples with
 * their locations, functions and the process's executable mappings. tab:
 * the executable's function table (gm_runtime_pclntab).
 */
struct gomem_error *gm_pprof_runtime_profile(struct gm_run *r, const struct gm_memprofile *mp,
					     struct gm_pclntab *tab, struct gm_pprof *out,
					     struct gm_pprof_runtime_totals *totals);

/* ---- the object graph as a profile (pprof_objects.c) ---- */

/* The most frames of a stack: longer chains lose their middle types. */
#define GM_PPROF_OBJECTS_MAX_FRAMES 64

struct gm_pprof_objects_totals {
	uint64_t objects, bytes;		     /* the samples' sums */
	uint64_t reachable_objects, reachable_bytes; /* the graph's, to check them against */
	uint64_t unknown_objects, unknown_bytes;     /* of no known type */
	uint64_t shared_objects,
	    shared_bytes;		 /* under (several roots): no single root retains them */
	uint64_t cut_objects, cut_bytes; /* whose chain lost its middle types */
};

/*
 * The stacks of that profile: a trie of frames (a type, a root, (several
 * roots), (types cut)) by (parent node, frame); node 0 is the empty stack.
 */
struct gm_chain_node {
	uint32_t parent, frame, depth;
	bool shared;			     /* under (several roots) */
	uint32_t cached_frame, cached_child; /* the last child looked up (a slice's elements) */
	uint64_t objects, bytes;	     /* objects whose stack ends here */
};

struct gm_chain_trie {
	struct gm_chain_node *nodes;
	size_t n, cap;
	struct gm_u64map children; /* parent << 32 | frame -> 1 + the child */
	uint32_t several_frame, cut_frame;
};

void gm_chain_trie_init(struct gm_chain_trie *t, uint32_t several_frame, uint32_t cut_frame);
void gm_chain_trie_deinit(struct gm_chain_trie *t);
/* The child of node parent for frame, added when new; UINT32_MAX when out of memory. */
uint32_t gm_chain_trie_child(struct gm_chain_trie *t, uint32_t parent, uint32_t frame);
/*
 * The node of an object of type frame that the object (or root) at node
 * parent dominates: parent itself when it is of the same type (a run is one
 * frame); below the deepest uncut node (GM_PPROF_OBJECTS_MAX_FRAMES - 2), a
 * leaf under parent's (types cut) frame. UINT32_MAX when out of memory.
 */
uint32_t gm_chain_trie_place(struct gm_chain_trie *t, uint32_t parent, uint32_t frame);
/* The frames of node's stack, leaf first, into frames (GM_PPROF_OBJECTS_MAX_FRAMES); how many. */
size_t gm_chain_trie_stack(const struct gm_chain_trie *t, uint32_t node, uint32_t *frames);

/*
 * Writes into out the reachable heap as a profile: a sample per chain of
 * types in the dominator tree, from the object's type up to its root.
 */
struct gomem_error *gm_pprof_objects_profile(struct gm_run *r, struct gm_pprof *out,
					     struct gm_pprof_objects_totals *totals);

/* ---- the breakdown tree rendered (breakdown.c) ---- */

/*
 * The rest of the VSZ line, "RSS 151.8 MiB: 52.7 MiB anonymous + 99.1 MiB
 * file-backed (smaps), OS page 4.0 KiB", and for a kernel core "RSS 52.7 MiB
 * resident (anonymous), OS page 4.0 KiB" with a line that says why.
 */
void gm_rss_line(struct gm_strbuf *b, const struct gm_addrspace *as, uint64_t os_page);
/* "rss_bytes", "rss_anon_bytes", "rss_file_bytes": null where unknown. */
void gm_rss_json(struct gm_jw *w, const struct gm_addrspace *as);

/* {"name", "vsz_bytes", "rss_bytes", "children": [...]} */
void gm_breakdown_json(struct gm_jw *w, const struct gm_breakdown *bd);
/* The tree, one line per node. */
void gm_breakdown_text(struct gm_strbuf *b, const struct gm_breakdown *bd);
/* Three to five sentences: why VSZ is so much larger than RSS; then extra, unless NULL. */
void gm_breakdown_explain(struct gm_strbuf *b, const struct gm_addrspace *as,
			  const struct gm_breakdown *bd, const char *extra);
/* The sentences as one JSON array of strings. */
void gm_breakdown_explain_json(struct gm_jw *w, const struct gm_addrspace *as,
			       const struct gm_breakdown *bd, const char *extra);

/* ---- the picture (svg.c) ---- */

/* A rectangle of the treemap. */
struct gm_rect {
	double x, y, w, h;
};

/*
 * Lays out the tree as a treemap in the rectangle r: each node's rectangle
 * has an area proportional to its VSZ and its children tile it exactly.
 */
void gm_treemap_layout(const struct gm_breakdown *bd, struct gm_rect r, struct gm_rect *out);
/* Writes the treemap of the breakdown as an SVG file. */
struct gomem_error *gm_breakdown_svg(const struct gm_breakdown *bd, const char *title,
				     const char *path);

#endif
