/*
 * The object graph: the index, the pointer maps and the roots put
 * together, and marking from the roots (GO-OBJECTS.md §5.4): iterative,
 * with a work stack of bounded size that overflows into a grey bitset
 * (swept in address order until empty), a reached bitset indexed by id,
 * no allocation per object, the heap read through the memory reader (a
 * pointer into the core's mapping where it holds the bytes).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "objects/objects.h"

#define MAX_ROOTS	   (1u << 26)
#define WORK_STACK_ENTRIES (1u << 20) /* 4 MiB; beyond, grey bits */
#define MAX_GRAPH_WARNINGS 16

static const char *const kind_names[GM_ROOT_KINDS] = {
    [GM_ROOT_DATA] = "data",	   [GM_ROOT_BSS] = "bss",     [GM_ROOT_FINALIZER] = "finalizer",
    [GM_ROOT_CLEANUP] = "cleanup", [GM_ROOT_STACK] = "stack", [GM_ROOT_REGISTER] = "register",
    [GM_ROOT_OTHER] = "other",
};

const char *gm_root_kind_name(enum gm_root_kind kind)
{
	return (unsigned)kind < GM_ROOT_KINDS ? kind_names[kind] : "?";
}

void gm_graph_warn(struct gm_graph *g, const char *fmt, ...)
{
	va_list ap;
	if (g->nwarnings >= MAX_GRAPH_WARNINGS)
		return;
	va_start(ap, fmt);
	struct gomem_error *err = gm_strlist_vadd(&g->warnings, &g->nwarnings, fmt, ap);
	va_end(ap);
	gomem_error_destroy(err);
}

GM_DEFINE_GROW_MAX(grow_roots, struct gm_root, MAX_ROOTS, "root words")

/* An object that may be an edge's or a root's target: allocated, and not unswept garbage. */
static bool target(const struct gm_heap_index *idx, uint64_t v, uint32_t *id)
{
	return gm_heap_index_lookup(idx, v, id) && gm_bit(idx->alloc, *id) &&
	       !gm_bit(idx->dead, *id);
}

struct gomem_error *gm_graph_add_root(struct gm_graph *g, enum gm_root_kind kind, uint64_t addr,
				      uint64_t value, bool conservative, const char *name,
				      uint64_t object, uint64_t goid)
{
	uint32_t id;
	if ((unsigned)kind >= GM_ROOT_KINDS)
		return gm_error(GOMEM_ERROR_USAGE, "root kind %d", (int)kind);
	if (!target(g->idx, value, &id)) {
		enum gm_heap_place where = gm_heap_index_where(g->idx, value, &id);
		if (where != GM_PLACE_OUTSIDE && where != GM_PLACE_MANUAL && !conservative)
			g->stats.roots_outside++;
		return NULL;
	}
	struct gm_root *r;
	TRY(grow_roots(&g->roots, &g->nroots, &g->cap_roots, &r));
	*r = (struct gm_root){.kind = kind,
			      .conservative = conservative,
			      .addr = addr,
			      .value = value,
			      .id = id,
			      .name = name,
			      .object = object,
			      .goid = goid};
	g->stats.kinds[kind].roots++;
	g->stats.kinds[kind].conservative += conservative;
	return NULL;
}

struct gomem_error *gm_graph_create(struct gm_runtime *rt, struct gm_graph **ret)
{
	struct gm_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return &gm_error_no_memory;
	g->rt = rt;
	struct gomem_error *err = gm_heap_index_build(rt, &g->idx);
	if (!err)
		err = gm_ptrmap_create(g->idx, &g->pm);
	if (!err) {
		g->reached = calloc((size_t)(g->idx->nslots + 63) / 64 + 1, 8);
		if (!g->reached)
			err = &gm_error_no_memory;
	}
	if (!err && rt->target) {
		/* Names of globals: best effort, a stripped binary has none. */
		struct gomem_error *e = gm_target_symtab(rt->target, &g->symtab);
		g->have_symtab = !e;
		gomem_error_destroy(e);
	}
	if (!err)
		err = gm_roots_collect(g);
	if (err) {
		gm_graph_destroy(g);
		return err;
	}
	*ret = g;
	return NULL;
}

void gm_graph_destroy(struct gm_graph *g)
{
	if (!g)
		return;
	gm_ptrmap_destroy(g->pm);
	gm_heap_index_destroy(g->idx);
	free(g->roots);
	if (g->have_symtab)
		gm_symtab_deinit(&g->symtab);
	free(g->reached);
	for (size_t i = 0; i < g->nwarnings; i++)
		free(g->warnings[i]);
	free(g->warnings);
	free(g);
}

/* ---- marking ---- */

/*
 * Pages of the core that the scan touched stay mapped (and count in the
 * process's RSS, with the kernel's fault-around) until dropped: after this
 * many bytes scanned, the core's mapping lets go of them (MADV_DONTNEED on a
 * read-only private file mapping: the next read faults them in again from
 * the page cache).
 *
 * Measured on the 2 GiB bench core (tests/bench/bench_types.py): releasing
 * every 8 MiB costs no CPU time that the noise shows against never
 * releasing (the page cache refills the pages at a fault each 16 of them),
 * and keeps `types` at 159 MiB of peak RSS against 220 MiB at 16-32 MiB
 * and 620 MiB never.
 */
#define RELEASE_EVERY_BYTES ((uint64_t)8 << 20)

void gm_graph_release_core_pages(struct gm_graph *g)
{
	const struct gm_target *t = g->rt->target;
	if (t && t->have_core && t->core.map && t->core.size)
		(void)madvise((void *)t->core.map, (size_t)t->core.size, MADV_DONTNEED);
}

struct marker {
	struct gm_graph *g;
	uint64_t scanned; /* bytes read since the core's pages were last released */
	uint32_t *stack;
	size_t n, cap;
	uint64_t *grey; /* allocated on the first overflow */
	bool any_grey;
	struct gm_root_stats *kind; /* what is reached now counts here */
	uint64_t objects, bytes;    /* reached since the last kind's counts were added to it */
	uint64_t *bits;		    /* a window's pointer bits */
	uint8_t *scratch;	    /* a window's bytes */
	struct gm_where_cache where;
};

/* A grey object the work stack has no room for: the grey bitset. */
static struct gomem_error *shade_overflow(struct marker *m, uint32_t id)
{
	struct gm_graph *g = m->g;
	if (!m->grey) {
		m->grey = calloc((size_t)(g->idx->nslots + 63) / 64 + 1, 8);
		if (!m->grey)
			return &gm_error_no_memory;
	}
	gm_bit_set(m->grey, id);
	m->any_grey = true;
	g->stats.overflows++;
	return NULL;
}

/* Reaches object id of span span: counted, and grey unless it has no pointers. Inline. */
static inline struct gomem_error *shade(struct marker *m, uint32_t id, uint32_t span)
{
	struct gm_graph *g = m->g;
	if (gm_bit(g->reached, id))
		return NULL;
	gm_bit_set(g->reached, id);
	const struct gm_span_hot *s = &g->idx->hot[span];
	m->objects++;
	m->bytes += s->elemsize;
	if (s->layout == GM_LAYOUT_NOSCAN)
		return NULL; /* nothing to scan */
	if (m->n < m->cap) {
		m->stack[m->n++] = id;
		return NULL;
	}
	return shade_overflow(m, id);
}

/*
 * The pointer words of object id (of span s): fn for each word whose value
 * lands in an object, the dangling ones counted (when count); with m, the
 * targets are shaded instead (the marking: no call through fn per word).
 * Inlined in both callers, so that the marking's loop is one.
 */
typedef struct gomem_error *(*word_fn)(void *arg, uint64_t addr, uint64_t value, uint32_t to,
				       uint32_t span);

static inline __attribute__((always_inline)) struct gomem_error *
scan_object(struct gm_graph *g, const struct gm_index_span *s, uint64_t *bits, uint8_t *scratch,
	    uint32_t id, bool count, struct marker *m, word_fn fn, void *arg)
{
	const struct gm_heap_index *idx = g->idx;
	if (s->layout == GM_LAYOUT_NOSCAN)
		return NULL;
	uint64_t base = s->base + (uint64_t)(id - s->first_id) * s->elemsize;
	uint64_t words = s->elemsize / 8;
	for (uint64_t first = 0; first < words; first += GM_PTRMAP_WINDOW) {
		uint64_t n = words - first < GM_PTRMAP_WINDOW ? words - first : GM_PTRMAP_WINDOW;
		TRY(gm_ptrmap_window_span(g->pm, s, id, first, n, bits));
		const uint8_t *p = NULL;
		for (uint64_t w = 0; w < (n + 63) / 64; w++) {
			for (uint64_t b = bits[w]; b; b &= b - 1) {
				uint64_t k = 64 * w + (uint64_t)__builtin_ctzll(b);
				if (!p) {
					bool missing;
					p = gm_scan_bytes(g->rt->mem, base + 8 * first,
							  (size_t)(8 * n), scratch, &missing);
					if (missing && count)
						g->stats.missing_bytes += 8 * n;
				}
				uint64_t v;
				memcpy(&v, p + 8 * k, 8);
				uint32_t to;
				if (!v)
					continue;
				uint32_t ts = 0;
				enum gm_heap_place where =
				    m ? gm_heap_index_where_cached(idx, &m->where, v, &to, &ts)
				      : gm_heap_index_where_span(idx, v, &to, &ts);
				if (where != GM_PLACE_SLOT) {
					/* Pointers into stacks (sudog.elem ...) are not to objects.
					 */
					if (count && where != GM_PLACE_OUTSIDE &&
					    where != GM_PLACE_MANUAL)
						g->stats.dangling_other++;
					continue;
				}
				if (!gm_bit(idx->alloc, to)) {
					g->stats.dangling_free += count;
					continue;
				}
				if (gm_bit(idx->dead, to)) {
					g->stats.dangling_dead += count;
					continue;
				}
				g->stats.edges += count;
				if (m)
					TRY(shade(m, to, ts));
				else
					TRY(fn(arg, base + 8 * (first + k), v, to, ts));
			}
		}
	}
	return NULL;
}

/* Scans a grey object (its pointer words shade their targets). */
static struct gomem_error *blacken(struct marker *m, uint32_t id)
{
	const struct gm_index_span *s = gm_heap_index_span(m->g->idx, id);
	m->scanned += s->elemsize;
	if (m->scanned >= RELEASE_EVERY_BYTES) {
		gm_graph_release_core_pages(m->g);
		m->scanned = 0;
	}
	return scan_object(m->g, s, m->bits, m->scratch, id, true, m, NULL, NULL);
}

static struct gomem_error *drain(struct marker *m)
{
	struct gm_graph *g = m->g;
	for (;;) {
		while (m->n)
			TRY(blacken(m, m->stack[--m->n]));
		if (!m->any_grey)
			return NULL;
		/* The overflow: grey objects in address order, until none is left. */
		m->any_grey = false;
		size_t words = (size_t)(g->idx->nslots + 63) / 64;
		for (size_t w = 0; w < words; w++) {
			while (m->grey[w]) {
				uint64_t b = m->grey[w];
				uint32_t id = (uint32_t)(64 * w + (uint64_t)__builtin_ctzll(b));
				m->grey[w] &= b - 1;
				TRY(blacken(m, id));
				while (m->n)
					TRY(blacken(m, m->stack[--m->n]));
			}
		}
	}
}

static void count_results(struct gm_graph *g)
{
	struct gm_graph_stats *st = &g->stats;
	const struct gm_heap_index *idx = g->idx;
	for (size_t k = 0; k < idx->nspans; k++) {
		const struct gm_index_span *s = &idx->spans[k];
		uint64_t reach = 0, alloc = 0, old = 0;
		/* 64 ids at a time, the span's first and last words masked. */
		uint64_t lo = s->first_id, hi = lo + s->nelems;
		for (uint64_t w = lo / 64; s->nelems && w <= (hi - 1) / 64; w++) {
			uint64_t mask = ~0ULL;
			if (w == lo / 64)
				mask &= ~0ULL << (lo % 64);
			if (w == (hi - 1) / 64 && hi % 64)
				mask &= ~0ULL >> (64 - hi % 64);
			uint64_t a = idx->alloc[w] & mask;
			alloc += gm_popcount64(a);
			reach += gm_popcount64(a & g->reached[w]);
			old += gm_popcount64(a & ~g->reached[w] & ~idx->fresh[w]);
		}
		st->unreachable_old += old;
		st->unreachable_old_bytes += old * s->elemsize;
		uint64_t unreach = alloc - reach;
		st->reachable += reach;
		st->reachable_bytes += reach * s->elemsize;
		st->unreachable += unreach;
		st->unreachable_bytes += unreach * s->elemsize;
		if (s->sizeclass == 0) {
			st->large_reachable += reach;
			st->large_unreachable += unreach;
			st->large_reachable_bytes += reach * s->elemsize;
			st->large_unreachable_bytes += unreach * s->elemsize;
		} else if (s->sizeclass < GM_MAX_SIZE_CLASSES) {
			st->class_reachable[s->sizeclass] += reach;
			st->class_unreachable[s->sizeclass] += unreach;
		}
	}
}

struct gomem_error *gm_graph_mark(struct gm_graph *g)
{
	if (g->marked)
		return NULL;
	struct marker m = {.g = g};
	m.cap = WORK_STACK_ENTRIES;
	if (g->idx->objects < m.cap)
		m.cap = (size_t)g->idx->objects + 1;
	m.stack = malloc(m.cap * sizeof(*m.stack));
	m.bits = malloc(GM_PTRMAP_WINDOW / 8);
	m.scratch = malloc(GM_PTRMAP_WINDOW * 8);
	struct gomem_error *err = NULL;
	if (!m.stack || !m.bits || !m.scratch)
		err = &gm_error_no_memory;
	/* Kind by kind, so that each kind's counts are what it reaches first. */
	for (unsigned kind = 0; !err && kind < GM_ROOT_KINDS; kind++) {
		m.kind = &g->stats.kinds[kind];
		for (size_t i = 0; !err && i < g->nroots; i++) {
			if (g->roots[i].kind == kind)
				err = shade(&m, g->roots[i].id,
					    (uint32_t)(gm_heap_index_span(g->idx, g->roots[i].id) -
						       g->idx->spans));
		}
		if (!err)
			err = drain(&m);
		m.kind->objects += m.objects;
		m.kind->bytes += m.bytes;
		m.objects = m.bytes = 0;
	}
	gm_graph_release_core_pages(g);
	free(m.stack);
	free(m.bits);
	free(m.scratch);
	free(m.grey);
	if (err)
		return err;
	count_results(g);
	if (gm_ptrmap_problems(g->pm))
		gm_graph_warn(g,
			      "%" PRIu64 " type descriptors could not be read: their objects' "
			      "pointers were not followed",
			      gm_ptrmap_problems(g->pm));
	g->marked = true;
	return NULL;
}

struct edge_call {
	gm_edge_fn fn;
	void *arg;
};

static struct gomem_error *call_edge(void *arg, uint64_t addr, uint64_t value, uint32_t to,
				     uint32_t span)
{
	(void)span;
	struct edge_call *c = arg;
	return c->fn(c->arg, addr, value, to);
}

struct gomem_error *gm_graph_foreach_edge(struct gm_graph *g, uint32_t id, gm_edge_fn fn, void *arg)
{
	_cleanup_free_ uint64_t *bits = malloc(GM_PTRMAP_WINDOW / 8);
	_cleanup_free_ uint8_t *scratch = malloc(GM_PTRMAP_WINDOW * 8);
	if (!bits || !scratch)
		return &gm_error_no_memory;
	return gm_graph_foreach_edge_buf(g, id, bits, scratch, fn, arg);
}

struct gomem_error *gm_graph_foreach_edge_buf(struct gm_graph *g, uint32_t id, uint64_t *bits,
					      uint8_t *scratch, gm_edge_fn fn, void *arg)
{
	if (!gm_heap_index_allocated(g->idx, id))
		return gm_error(GOMEM_ERROR_USAGE, "object %u is not allocated", id);
	struct edge_call c = {fn, arg};
	return scan_object(g, gm_heap_index_span(g->idx, id), bits, scratch, id, false, NULL,
			   call_edge, &c);
}
