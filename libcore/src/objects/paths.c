/*
 * Why an object is alive (issue 14, `gomem paths`): the shortest paths
 * from the roots to one object, found by breadth-first searches over the
 * object graph's edges (the pointer words marking follows, mark.c).
 *
 * One search from every root at once gives the shortest path of all; then
 * one search for each other kind of root (globals, finalizer and cleanup
 * specials, stacks, registers, weak handles) gives that kind's shortest
 * path, until the limit. Each search stops as soon as it reaches the
 * object. Memory: a parent per slot id (4 bytes) and a queue of the
 * reached objects that hold pointers (noscan objects have no edges and are
 * never queued); no recursion, every loop bounded by the slots or edges.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/objects.h"

/* As marking does (mark.c): the core's pages a scan touched are let go every 16 MiB read. */
#define RELEASE_EVERY_BYTES ((uint64_t)16 << 20)
/* Queue entries expanded before the queue's consumed front is given back. */
#define COMPACT_AFTER ((size_t)1 << 20)

/* ---- the search ---- */

/* Reached vertices listed for a cheap reset, at most this share of them (1 / 64: 1.6 %). */
#define TOUCHED_SHARE 64

struct gomem_error *gm_bfs_init(struct gm_bfs *b, uint32_t n, uint32_t target)
{
	memset(b, 0, sizeof(*b));
	if (n == 0 || n >= UINT32_MAX - 1 || target >= n)
		return gm_error(GOMEM_ERROR_USAGE, "paths: vertex %u of %u", target, n);
	b->n = n;
	b->target = target;
	/* calloc's big blocks are fresh zero pages: only the pages a search writes are touched. */
	b->parent = calloc(n, sizeof(uint32_t));
	if (!b->parent)
		return &gm_error_no_memory;
	return NULL;
}

void gm_bfs_reset(struct gm_bfs *b)
{
	if (b->touched_all) {
		memset(b->parent, 0, (size_t)b->n * sizeof(uint32_t));
	} else {
		for (size_t i = 0; i < b->ntouched; i++)
			b->parent[b->touched[i]] = 0;
	}
	b->ntouched = 0;
	b->touched_all = false;
	b->head = b->len = 0;
	b->found = false;
	b->visited = 0;
}

void gm_bfs_deinit(struct gm_bfs *b)
{
	free(b->parent);
	free(b->queue);
	free(b->touched);
	memset(b, 0, sizeof(*b));
}

GM_DEFINE_GROW(grow_queue, uint32_t)

static struct gomem_error *reach(struct gm_bfs *b, uint32_t v, uint32_t parent, bool expand)
{
	if (v >= b->n)
		return gm_error(GOMEM_ERROR_USAGE, "paths: vertex %u of %u", v, b->n);
	/*
	 * A vertex that is not expanded leads nowhere: unless it is the target,
	 * nothing needs its parent (the bench core's 25 million noscan objects
	 * cost no write then).
	 */
	if (b->parent[v] || (!expand && v != b->target))
		return NULL;
	b->parent[v] = parent + 1;
	b->visited++;
	if (!b->touched_all) {
		uint32_t *t = b->ntouched < b->n / TOUCHED_SHARE
				  ? grow_queue(&b->touched, &b->ntouched, &b->cap_touched)
				  : NULL;
		if (t)
			*t = v;
		else
			b->touched_all = true; /* too many (or no room): a reset clears them all */
	}
	if (v == b->target) {
		b->found = true;
		return NULL;
	}
	if (!expand)
		return NULL;
	if (b->head >= COMPACT_AFTER && b->head * 2 >= b->len) {
		/* The expanded front is read no more: the queue holds at most n vertices. */
		memmove(b->queue, b->queue + b->head, (b->len - b->head) * sizeof(uint32_t));
		b->len -= b->head;
		b->head = 0;
	}
	uint32_t *slot = grow_queue(&b->queue, &b->len, &b->cap);
	if (!slot)
		return &gm_error_no_memory;
	*slot = v;
	return NULL;
}

struct gomem_error *gm_bfs_seed(struct gm_bfs *b, uint32_t v, uint32_t label, bool expand)
{
	if (label >= UINT32_MAX - 1 - b->n)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "paths: too many roots (%u)", label);
	return reach(b, v, b->n + label, expand);
}

struct gomem_error *gm_bfs_edge(struct gm_bfs *b, uint32_t from, uint32_t to, bool expand)
{
	if (from >= b->n)
		return gm_error(GOMEM_ERROR_USAGE, "paths: vertex %u of %u", from, b->n);
	return reach(b, to, from, expand);
}

bool gm_bfs_next(struct gm_bfs *b, uint32_t *v_ret)
{
	if (b->found || b->head == b->len)
		return false;
	*v_ret = b->queue[b->head++];
	return true;
}

struct gomem_error *gm_bfs_path(const struct gm_bfs *b, uint32_t **ids_ret, uint32_t *n_ret,
				uint32_t *label_ret)
{
	*ids_ret = NULL;
	*n_ret = 0;
	if (!b->found)
		return gm_error(GOMEM_ERROR_USAGE, "paths: the target was not reached");
	/* Parents form a tree (each vertex gets one when first reached): at most n steps. */
	uint32_t depth = 1, v = b->target;
	while (b->parent[v] - 1 < b->n) {
		v = b->parent[v] - 1;
		if (++depth > b->n)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "paths: the parents loop");
	}
	uint32_t *ids = malloc((size_t)depth * sizeof(uint32_t));
	if (!ids)
		return &gm_error_no_memory;
	v = b->target;
	for (uint32_t i = depth; i-- > 0;) {
		ids[i] = v;
		if (i)
			v = b->parent[v] - 1;
	}
	if (!b->parent[v]) {
		free(ids);
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"paths: a vertex on the path has no parent");
	}
	*label_ret = b->parent[v] - 1 - b->n;
	*ids_ret = ids;
	*n_ret = depth;
	return NULL;
}

/* ---- the heap's searches ---- */

enum gm_path_root gm_path_root_of(enum gm_root_kind kind)
{
	switch (kind) {
	case GM_ROOT_DATA:
	case GM_ROOT_BSS:
		return GM_PATH_GLOBAL;
	case GM_ROOT_FINALIZER:
		return GM_PATH_FINALIZER;
	case GM_ROOT_CLEANUP:
		return GM_PATH_CLEANUP;
	case GM_ROOT_STACK:
		return GM_PATH_STACK;
	case GM_ROOT_REGISTER:
		return GM_PATH_REGISTER;
	default:
		return GM_PATH_OTHER;
	}
}

struct heap_search {
	struct gm_graph *g;
	struct gm_bfs b;
	uint32_t from;
	uint64_t *bits;
	uint8_t *scratch;
	uint64_t scanned;
	uint64_t *scan; /* bit id: its span's objects may hold pointers (a bit a slot) */
};

/* Stops an object's scan once the target is reached (never returned to a caller). */
static struct gomem_error stop_scan = {GOMEM_ERROR_USAGE, (char *)"paths: found"};

/* Which slots may hold pointers, a bit each: an edge's target is looked up by one bit test. */
static struct gomem_error *scan_bits(struct heap_search *h)
{
	const struct gm_heap_index *idx = h->g->idx;
	h->scan = calloc((size_t)(idx->nslots + 63) / 64 + 1, sizeof(uint64_t));
	if (!h->scan)
		return &gm_error_no_memory;
	for (size_t k = 0; k < idx->nspans; k++) {
		const struct gm_index_span *s = &idx->spans[k];
		if (s->layout == GM_LAYOUT_NOSCAN || s->first_id > idx->nslots ||
		    s->nelems > idx->nslots - s->first_id)
			continue;
		uint64_t lo = s->first_id, hi = lo + s->nelems;
		for (uint64_t i = lo; i < hi && i % 64; i++)
			gm_bit_set(h->scan, i);
		for (uint64_t w = (lo + 63) / 64; w < hi / 64; w++)
			h->scan[w] = ~0ULL;
		for (uint64_t i = hi / 64 * 64 > lo ? hi / 64 * 64 : lo; i < hi; i++)
			gm_bit_set(h->scan, i); /* the last word's (bits set twice are harmless) */
	}
	return NULL;
}

static bool has_pointers(const struct heap_search *h, uint32_t id)
{
	return gm_bit(h->scan, id);
}

static struct gomem_error *search_edge(void *arg, uint64_t addr, uint64_t value, uint32_t to)
{
	(void)addr;
	(void)value;
	struct heap_search *h = arg;
	TRY(gm_bfs_edge(&h->b, h->from, to, has_pointers(h, to)));
	return h->b.found ? &stop_scan : NULL;
}

/* One search from the roots of kind want (GM_PATH_ROOTS: all of them), until id is reached. */
static struct gomem_error *search(struct heap_search *h, enum gm_path_root want)
{
	struct gm_graph *g = h->g;
	gm_bfs_reset(&h->b);
	/* Seeds kind by kind, as marking takes them. */
	for (int k = 0; k < GM_PATH_ROOTS && !h->b.found; k++) {
		if (want != GM_PATH_ROOTS && k != (int)want)
			continue;
		for (size_t i = 0; i < g->nroots && !h->b.found; i++) {
			const struct gm_root *r = &g->roots[i];
			if ((int)gm_path_root_of(r->kind) == k)
				TRY(gm_bfs_seed(&h->b, r->id, (uint32_t)i, has_pointers(h, r->id)));
		}
	}
	uint32_t v;
	while (gm_bfs_next(&h->b, &v)) {
		const struct gm_index_span *s = gm_heap_index_span(g->idx, v);
		if ((h->scanned += s->elemsize) >= RELEASE_EVERY_BYTES) {
			gm_graph_release_core_pages(g);
			h->scanned = 0;
		}
		h->from = v;
		struct gomem_error *err =
		    gm_graph_foreach_edge_buf(g, v, h->bits, h->scratch, search_edge, h);
		if (err && err != &stop_scan)
			return err;
	}
	return NULL;
}

struct pointer_to {
	uint32_t to;
	uint64_t addr;
	bool found;
};

static struct gomem_error *first_pointer(void *arg, uint64_t addr, uint64_t value, uint32_t to)
{
	(void)value;
	struct pointer_to *p = arg;
	if (to != p->to)
		return NULL;
	p->addr = addr;
	p->found = true;
	return &stop_scan;
}

/* Where each object of the path points to the next: its first pointer word into it. */
static struct gomem_error *path_offsets(struct heap_search *h, struct gm_path *p)
{
	p->offs = calloc(p->n ? p->n : 1, sizeof(uint64_t));
	if (!p->offs)
		return &gm_error_no_memory;
	for (uint32_t i = 0; i + 1 < p->n; i++) {
		struct pointer_to pt = {.to = p->ids[i + 1]};
		uint64_t base, size;
		struct gomem_error *err = gm_graph_foreach_edge_buf(h->g, p->ids[i], h->bits,
								    h->scratch, first_pointer, &pt);
		if (err && err != &stop_scan)
			return err;
		if (!pt.found)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"paths: object %u no longer points to %u", p->ids[i],
					p->ids[i + 1]);
		gm_heap_index_object(h->g->idx, p->ids[i], &base, &size);
		p->offs[i] = pt.addr - base;
	}
	return NULL;
}

void gm_paths_free(struct gm_path *paths, size_t n)
{
	for (size_t i = 0; paths && i < n; i++) {
		free(paths[i].ids);
		free(paths[i].offs);
	}
	free(paths);
}

struct gomem_error *gm_paths_find(struct gm_graph *g, uint32_t id, unsigned limit,
				  struct gm_path **ret, size_t *n_ret)
{
	*ret = NULL;
	*n_ret = 0;
	if (!gm_heap_index_allocated(g->idx, id))
		return gm_error(GOMEM_ERROR_USAGE, "paths: slot %u holds no object", id);
	struct heap_search h = {.g = g};
	struct gm_path *paths = calloc(GM_PATH_ROOTS, sizeof(*paths));
	size_t n = 0;
	bool kinds[GM_PATH_ROOTS] = {false};
	h.bits = malloc(GM_PTRMAP_WINDOW / 8);
	h.scratch = malloc(GM_PTRMAP_WINDOW * 8);
	struct gomem_error *err = NULL;
	if (!paths || !h.bits || !h.scratch)
		err = &gm_error_no_memory;
	if (!err)
		err = gm_bfs_init(&h.b, g->idx->nslots, id);
	if (!err)
		err = scan_bits(&h);
	/* Which kinds have roots at all: a kind without any cannot reach it. */
	for (size_t i = 0; !err && i < g->nroots; i++)
		kinds[gm_path_root_of(g->roots[i].kind)] = true;
	/* Marking did not reach it: no root does, no search needed. */
	bool reachable = !g->marked || gm_graph_reached(g, id);
	/* First the shortest of all (k = -1), then each other kind's, in their order. */
	for (int k = -1; !err && reachable && k < GM_PATH_ROOTS && n < limit; k++) {
		if (k >= 0 && (!kinds[k] || gm_path_root_of(g->roots[paths[0].root].kind) ==
						(enum gm_path_root)k))
			continue;
		err = search(&h, k < 0 ? GM_PATH_ROOTS : (enum gm_path_root)k);
		if (!err && !h.b.found && k < 0)
			break; /* no root reaches it */
		if (err || !h.b.found)
			continue;
		struct gm_path *p = &paths[n];
		err = gm_bfs_path(&h.b, &p->ids, &p->n, &p->root);
		if (!err) {
			n++;
			err = path_offsets(&h, p);
		}
	}
	gm_graph_release_core_pages(g);
	gm_bfs_deinit(&h.b);
	free(h.bits);
	free(h.scratch);
	free(h.scan);
	if (err) {
		gm_paths_free(paths, n);
		return err;
	}
	*ret = paths;
	*n_ret = n;
	return NULL;
}
