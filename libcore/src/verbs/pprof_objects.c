/*
 * `gomem pprof` (--profile=objects): the reachable heap as a pprof profile.
 *
 * Each reachable object counts in one sample (inuse_objects/count,
 * inuse_space/bytes, slot bytes) whose stack is its chain in the
 * dominator tree (objects/dominators.c): the leaf is the object's type,
 * then the types of the objects that dominate it, nearest first, and at
 * the top the root that alone keeps it alive (a global by its symbol,
 * `goroutine 17 main.worker`, `finalizer of 0x...`), or "(several roots)"
 * when no single root does. So in go tool pprof:
 *
 * - -top's flat values are the reachable objects and bytes of each type;
 * - a node's cumulative value in -tree (or -http's graph) is what the
 *   objects on that chain retain, exactly: the sum of the retained sizes
 *   of the highest dominator-tree vertices with that chain of types;
 * - -top's cum of a root is what `gomem top --by root` says it retains,
 *   and -top's cum of a type what `gomem top --by type` says (pprof counts
 *   a frame once a sample, as top counts only the objects of a type that
 *   no other object of it dominates).
 *
 * A retained_space sample type would repeat those cumulative values, so
 * there is none. A run of objects of one type (a linked list, a tree of
 * one node type) is one frame. Stacks keep at most MAX_FRAMES frames: the
 * root, the MAX_FRAMES - 3 types below it, a "(types cut)" frame and the
 * object's type; what is cut is the middle of the chain (counted).
 *
 * The stacks are the nodes of a trie of (parent node, frame), built in one
 * pass over the vertices in preorder (an object's dominator comes before
 * it); a sample per trie node that objects end at, so the profile has as
 * many samples as distinct chains, not objects.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/typing.h"
#include "verbs/verbs.h"

#define MAX_FRAMES GM_PPROF_OBJECTS_MAX_FRAMES
/* The deepest trie node that is not cut: the root frame is at depth 1. */
#define MAX_UNCUT (MAX_FRAMES - 2)

/* Frames past the types (0 .. ntypes - 1) and the roots (ntypes .. ntypes + nroots - 1). */
enum { FRAME_SEVERAL, FRAME_CUT, FRAME_SPECIALS };

struct objprof {
	struct gm_run *run;
	struct gm_graph *g;
	struct gm_typing *ty;
	struct gm_dominators *d;
	uint32_t ntypes, nframes;
	struct gm_chain_trie trie;
	uint64_t *loc_of_frame; /* pprof location ids, 0 until used */
	struct gm_pprof_objects_totals *tot;
	char name[256];
};

GM_DEFINE_GROW(grow_nodes, struct gm_chain_node)

void gm_chain_trie_init(struct gm_chain_trie *t, uint32_t several_frame, uint32_t cut_frame)
{
	*t = (struct gm_chain_trie){.several_frame = several_frame, .cut_frame = cut_frame};
}

void gm_chain_trie_deinit(struct gm_chain_trie *t)
{
	gm_u64map_deinit(&t->children);
	free(t->nodes);
}

/* Node 0, the trie's root (no frame), made on first use. */
static bool have_root(struct gm_chain_trie *t)
{
	if (t->n)
		return true;
	struct gm_chain_node *n = grow_nodes(&t->nodes, &t->n, &t->cap);
	if (n)
		*n = (struct gm_chain_node){0};
	return n != NULL;
}

uint32_t gm_chain_trie_child(struct gm_chain_trie *t, uint32_t parent, uint32_t frame)
{
	if (!have_root(t) || parent >= t->n)
		return UINT32_MAX;
	struct gm_chain_node *pn = &t->nodes[parent];
	if (pn->cached_child && pn->cached_frame == frame)
		return pn->cached_child;
	uint64_t key = (uint64_t)parent << 32 | frame;
	uint64_t c = gm_u64map_get(&t->children, key);
	if (!c) {
		if (t->n >= UINT32_MAX - 1)
			return UINT32_MAX;
		uint32_t depth = pn->depth + 1;
		bool shared = pn->shared || frame == t->several_frame;
		struct gm_chain_node *n = grow_nodes(&t->nodes, &t->n, &t->cap);
		if (!n)
			return UINT32_MAX;
		*n = (struct gm_chain_node){
		    .parent = parent, .frame = frame, .depth = depth, .shared = shared};
		c = t->n;
		if (!gm_u64map_put(&t->children, key, c))
			return UINT32_MAX;
	}
	pn = &t->nodes[parent]; /* grow_nodes may have moved it */
	pn->cached_frame = frame;
	pn->cached_child = (uint32_t)(c - 1);
	return (uint32_t)(c - 1);
}

uint32_t gm_chain_trie_place(struct gm_chain_trie *t, uint32_t parent, uint32_t frame)
{
	if (!have_root(t) || parent >= t->n)
		return UINT32_MAX;
	const struct gm_chain_node *pn = &t->nodes[parent];
	if (parent && pn->frame == frame)
		return parent;
	if (pn->depth < MAX_UNCUT)
		return gm_chain_trie_child(t, parent, frame);
	uint32_t cut = t->nodes[pn->parent].frame == t->cut_frame
			   ? pn->parent
			   : gm_chain_trie_child(t, parent, t->cut_frame);
	return cut == UINT32_MAX ? cut : gm_chain_trie_child(t, cut, frame);
}

size_t gm_chain_trie_stack(const struct gm_chain_trie *t, uint32_t node, uint32_t *frames)
{
	size_t n = 0;
	/* Bounded: a node's depth is at most MAX_FRAMES, and each parent is shallower. */
	for (uint32_t x = node; x && x < t->n && n < MAX_FRAMES; x = t->nodes[x].parent)
		frames[n++] = t->nodes[x].frame;
	return n;
}

/* A root as the user names it: main.records, goroutine 17 main.worker, finalizer of 0x... */
static const char *root_name(struct objprof *p, const struct gm_dom_root *r)
{
	switch (r->kind) {
	case GM_ROOT_DATA:
	case GM_ROOT_BSS:
		snprintf(p->name, sizeof(p->name), "%s",
			 r->name ? r->name : "globals without a symbol");
		break;
	case GM_ROOT_STACK:
		if (r->name && strcmp(r->name, "stack") != 0)
			snprintf(p->name, sizeof(p->name), "goroutine %" PRIu64 " %s", r->goid,
				 r->name);
		else
			snprintf(p->name, sizeof(p->name), "goroutine %" PRIu64, r->goid);
		break;
	case GM_ROOT_REGISTER:
		snprintf(p->name, sizeof(p->name), "goroutine %" PRIu64 " registers", r->goid);
		break;
	default:
		if (r->object)
			snprintf(p->name, sizeof(p->name), "%s of 0x%" PRIx64,
				 r->name ? r->name : gm_root_kind_name(r->kind), r->object);
		else
			snprintf(p->name, sizeof(p->name), "%s",
				 r->name ? r->name : gm_root_kind_name(r->kind));
	}
	return p->name;
}

/* What the frame is called in the profile, and what kind of frame it is (its system name). */
static const char *frame_name(struct objprof *p, uint32_t frame, const char **kind)
{
	if (frame < p->ntypes) {
		*kind = "type";
		return frame == GM_TYPE_UNKNOWN ? "(unknown)"
						: gm_gotypes_get(&p->ty->tt, frame)->name;
	}
	if (frame == p->trie.several_frame) {
		*kind = "roots";
		return "(several roots)";
	}
	if (frame == p->trie.cut_frame) {
		*kind = "cut";
		return "(types cut)";
	}
	const struct gm_dom_root *r = &p->d->roots[frame - p->ntypes];
	*kind = r->kind == GM_ROOT_DATA || r->kind == GM_ROOT_BSS ? "global"
								  : gm_root_kind_name(r->kind);
	return root_name(p, r);
}

static uint64_t location(struct objprof *p, struct gm_pprof *out, uint32_t frame)
{
	if (!p->loc_of_frame[frame]) {
		const char *kind, *name = frame_name(p, frame, &kind);
		struct gm_pprof_line line = {gm_pprof_function(out, name, kind, "", 0), 0};
		p->loc_of_frame[frame] = gm_pprof_location(out, 0, 0, &line, 1);
	}
	return p->loc_of_frame[frame];
}

/* One pass over the vertices in preorder: each object's node, its objects and bytes. */
static struct gomem_error *build_trie(struct objprof *p)
{
	const struct gm_dominators *d = p->d;
	struct gm_pprof_objects_totals *tot = p->tot;
	struct gm_chain_trie *t = &p->trie;
	_cleanup_free_ uint32_t *node_of = malloc((size_t)(d->nvertices ? d->nvertices : 1) * 4);
	if (!node_of)
		return &gm_error_no_memory;
	node_of[0] = 0;
	uint32_t several = 0;
	for (uint32_t v = 1; v < d->nvertices; v++) {
		uint32_t id, node;
		if (!gm_dom_is_object(d, v, &id)) {
			node = gm_chain_trie_child(t, 0, p->ntypes + (d->what[v] - 1));
		} else {
			uint32_t u = d->idom[v], parent;
			if (u >= v)
				return gm_error(GOMEM_ERROR_INCONSISTENT,
						"pprof: the dominator tree is not in preorder");
			if (u == 0 && !several)
				several = gm_chain_trie_child(t, 0, t->several_frame);
			parent = u ? node_of[u] : several;
			if (parent == UINT32_MAX)
				return &gm_error_no_memory;
			uint32_t tid = gm_typing_type(p->ty, id);
			node =
			    gm_chain_trie_place(t, parent, tid < p->ntypes ? tid : GM_TYPE_UNKNOWN);
			if (node == UINT32_MAX)
				return &gm_error_no_memory;
			uint64_t base, size;
			gm_heap_index_object(p->g->idx, id, &base, &size);
			struct gm_chain_node *n = &t->nodes[node];
			n->objects++;
			n->bytes += size;
			tot->objects++;
			tot->bytes += size;
			if (tid == GM_TYPE_UNKNOWN || tid >= p->ntypes) {
				tot->unknown_objects++;
				tot->unknown_bytes += size;
			}
			if (n->shared) {
				tot->shared_objects++;
				tot->shared_bytes += size;
			}
			if (n->depth > MAX_UNCUT) {
				tot->cut_objects++;
				tot->cut_bytes += size;
			}
		}
		if (node == UINT32_MAX)
			return &gm_error_no_memory;
		node_of[v] = node;
	}
	return NULL;
}

/* A sample per node that objects end at; its stack: the node's frames, leaf first. */
static void add_samples(struct objprof *p, struct gm_pprof *out)
{
	uint64_t locs[MAX_FRAMES];
	uint32_t frames[MAX_FRAMES];
	for (size_t k = 1; k < p->trie.n; k++) {
		const struct gm_chain_node *n = &p->trie.nodes[k];
		if (!n->objects)
			continue;
		size_t nlocs = gm_chain_trie_stack(&p->trie, (uint32_t)k, frames);
		for (size_t i = 0; i < nlocs; i++)
			locs[i] = location(p, out, frames[i]);
		int64_t values[2] = {(int64_t)n->objects, (int64_t)n->bytes};
		gm_pprof_sample(out, locs, nlocs, values, 2, NULL, 0);
	}
}

static void describe(struct objprof *p, struct gm_pprof *out)
{
	char line[4200];
	gm_pprof_comment(out, "gomem pprof --profile=objects: the reachable heap, from the object "
			      "graph (every reachable object, slot bytes)");
	gm_pprof_comment(out, "stack of a sample: the objects' type, then the types of the "
			      "objects that dominate them, up to the root that alone keeps them "
			      "alive, or (several roots); a node's cumulative value is what the "
			      "objects on that chain retain");
	snprintf(line, sizeof(line),
		 "a run of one type is one frame; chains over %d frames lose their middle "
		 "types (the (types cut) frame)",
		 MAX_FRAMES);
	gm_pprof_comment(out, line);
	gm_pprof_comment_target(out, p->run->t);
}

struct gomem_error *gm_pprof_objects_profile(struct gm_run *r, struct gm_pprof *out,
					     struct gm_pprof_objects_totals *tot)
{
	struct objprof p = {.run = r, .tot = tot};
	memset(tot, 0, sizeof(*tot));
	gm_chain_trie_init(&p.trie, UINT32_MAX, UINT32_MAX);
	TRY(gm_run_typing(r, &p.ty));
	p.g = p.ty->g;
	TRY(gm_dominators_build(p.g, &p.d));
	struct gomem_error *err = NULL;
	if (p.ty->tt.ntypes > UINT32_MAX / 2 || p.d->nroots > UINT32_MAX / 2)
		err = gm_error(GOMEM_ERROR_UNSUPPORTED, "pprof: too many types or roots");
	if (!err) {
		p.ntypes = (uint32_t)p.ty->tt.ntypes;
		gm_chain_trie_init(&p.trie, p.ntypes + p.d->nroots + FRAME_SEVERAL,
				   p.ntypes + p.d->nroots + FRAME_CUT);
		p.nframes = p.ntypes + p.d->nroots + FRAME_SPECIALS;
		p.loc_of_frame = calloc(p.nframes, sizeof(*p.loc_of_frame));
		if (!p.loc_of_frame)
			err = &gm_error_no_memory;
	}
	if (!err)
		err = build_trie(&p);
	if (!err) {
		tot->reachable_objects = p.g->stats.reachable;
		tot->reachable_bytes = p.g->stats.reachable_bytes;
		describe(&p, out);
		gm_pprof_sample_type(out, "inuse_objects", "count");
		gm_pprof_sample_type(out, "inuse_space", "bytes");
		gm_pprof_default_sample_type(out, "inuse_space");
		add_samples(&p, out);
	}
	gm_dominators_destroy(p.d);
	gm_chain_trie_deinit(&p.trie);
	free(p.loc_of_frame);
	return err;
}
