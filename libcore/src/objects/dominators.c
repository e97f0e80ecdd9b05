/*
 * Dominators and retained sizes (GO-OBJECTS.md §5.6): the dominator tree
 * of the reachable heap, with a pseudo-root, one vertex per root (the root
 * words of one global, one goroutine, one finalizer special ...) and one
 * per reachable object; what each vertex retains is the sum of the slot
 * bytes of its subtree, i.e. what would be freed if it let go.
 *
 * Semi-NCA (Georgiadis, Tarjan, Werneck, "Finding Dominators in
 * Practice", JGAA 2006) over dense 32-bit vertex numbers: an iterative
 * depth-first walk numbers the vertices in preorder and marks the edges
 * that are not tree edges, the predecessors are those edges transposed into
 * that numbering (a vertex's parent is its other predecessor, known from
 * the tree), semidominators come from a path-compressed forest walked
 * without recursion, and idom follows from them in one forward pass.
 * Memory: successor lists of 4 bytes an edge, predecessor lists of 4 bytes
 * a non-tree edge, a few arrays of 4 bytes a vertex; no allocation per
 * vertex; every loop bounded by the vertex or edge count.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "objects/objects.h"

#define NONE GM_DOM_NONE
/* As marking does (mark.c): the core's pages a scan touched are let go every 16 MiB read. */
#define RELEASE_EVERY_BYTES ((uint64_t)16 << 20)
#define PREFETCH	    8 /* edges ahead */

/*
 * An array of bytes bytes (zeroed when zero) that free() releases: a big one
 * on transparent huge pages where the kernel gives them on request, so that
 * touching a few hundred MiB of arrays takes hundreds of page faults instead
 * of a hundred thousand (a third of the time on the bench core).
 */
static void *big_alloc(size_t bytes, bool zero)
{
	const size_t huge = (size_t)2 << 20;
	void *p = NULL;
	if (bytes < 2 * huge)
		return zero ? calloc(1, bytes ? bytes : 1) : malloc(bytes ? bytes : 1);
	if (posix_memalign(&p, huge, bytes))
		return NULL;
	(void)madvise(p, bytes & ~(huge - 1), MADV_HUGEPAGE);
	if (zero)
		memset(p, 0, bytes);
	return p;
}

/* What the depth-first walk gives: preorder numbers and the tree, and the vertices in preorder. */
struct dfs {
	uint32_t n, nreach;
	uint32_t *pre;	  /* vertex -> preorder number, NONE when unreached */
	uint32_t *vertex; /* preorder number -> vertex */
	uint32_t *parent; /* preorder number -> the parent's preorder number (root: NONE) */
	/*
	 * The edges that are not tree edges, pairs of preorder numbers
	 * (source, target), while they take at most 4 bytes a vertex (what
	 * transpose()'s counts would) or 256 bytes; past that, nontree is
	 * NULL and transpose() finds them in succ.
	 */
	uint32_t *nontree;
	size_t nnontree, nontree_cap;
	bool nontree_full;
};

static void dfs_free(struct dfs *d)
{
	free(d->pre);
	free(d->vertex);
	free(d->parent);
	free(d->nontree);
	memset(d, 0, sizeof(*d));
}

struct frame {
	uint32_t v, next; /* the vertex, and the index in succ of its next successor */
};

GM_DEFINE_GROW(grow_frames, struct frame)

/* Keeps a non-tree edge while the pairs take at most 4 bytes a vertex. */
static void add_nontree(struct dfs *d, uint32_t from, uint32_t to)
{
	if (d->nnontree + 2 > d->nontree_cap) {
		size_t cap = d->nontree_cap ? 2 * d->nontree_cap : 64;
		uint32_t *p =
		    cap <= 64 || cap <= d->n ? realloc(d->nontree, cap * sizeof(uint32_t)) : NULL;
		if (!p) {
			/* Too many (or no memory): transpose() finds them in succ. */
			free(d->nontree);
			d->nontree = NULL;
			d->nontree_full = true;
			return;
		}
		d->nontree = p;
		d->nontree_cap = cap;
	}
	d->nontree[d->nnontree++] = from;
	d->nontree[d->nnontree++] = to;
}

/*
 * An iterative depth-first walk from root (successors in their order).
 * Each edge it follows is rewritten in succ for transpose(): the target's
 * preorder number when the edge is not a tree edge, NONE when it is one
 * (or a self-loop): Semi-NCA needs a tree edge's source no more than
 * parent holds it, and on a heap nearly every edge is a tree edge. The
 * edges of vertices not reached stay as they are.
 */
static struct gomem_error *dfs(uint32_t n, const uint32_t *off, uint32_t *succ, uint32_t root,
			       struct dfs *d)
{
	memset(d, 0, sizeof(*d));
	d->n = n; /* add_nontree()'s bound */
	d->pre = big_alloc((size_t)n * sizeof(uint32_t), false);
	d->vertex = big_alloc((size_t)n * sizeof(uint32_t), false);
	d->parent = big_alloc((size_t)n * sizeof(uint32_t), false);
	struct frame *stack = NULL;
	size_t depth = 0, cap = 0;
	if (!d->pre || !d->vertex || !d->parent)
		goto nomem;
	memset(d->pre, 0xff, (size_t)n * sizeof(uint32_t));
	uint32_t count = 0;
	struct frame *f = grow_frames(&stack, &depth, &cap);
	if (!f)
		goto nomem;
	*f = (struct frame){root, off[root]};
	d->pre[root] = count;
	d->vertex[count] = root;
	d->parent[count++] = NONE;
	while (depth) {
		struct frame *top = &stack[depth - 1];
		if (top->next == off[top->v + 1]) {
			depth--;
			continue;
		}
		uint32_t e = top->next++;
		uint32_t w = succ[e];
		/* A big object's successors come at random: fetch what the walk reads of them
		 * ahead. */
		if (e + PREFETCH < off[top->v + 1]) {
			__builtin_prefetch(&d->pre[succ[e + PREFETCH]]);
			__builtin_prefetch(&off[succ[e + PREFETCH]]);
		}
		uint32_t parent = d->pre[top->v];
		if (d->pre[w] != NONE) {
			succ[e] = d->pre[w] == parent ? NONE : d->pre[w];
			if (succ[e] != NONE && !d->nontree_full)
				add_nontree(d, parent, d->pre[w]);
			continue;
		}
		succ[e] = NONE;
		d->pre[w] = count;
		d->vertex[count] = w;
		d->parent[count++] = parent;
		if (off[w] == off[w + 1])
			continue; /* a leaf: nothing to walk */
		/* depth <= count <= n: bounded. */
		f = grow_frames(&stack, &depth, &cap);
		if (!f)
			goto nomem;
		*f = (struct frame){w, off[w]};
	}
	free(stack);
	d->nreach = count;
	return NULL;
nomem:
	free(stack);
	dfs_free(d);
	return &gm_error_no_memory;
}

/*
 * The predecessors of the reached vertices other than their depth-first
 * parent, in preorder numbers (CSR: poff[nreach + 2], the predecessors of
 * w at poff[w] .. poff[w + 1] - 1), from succ as dfs() left it: two
 * sequential passes over the edges, the sources' numbers read only for
 * the few edges that are not tree edges.
 */
static struct gomem_error *transpose(uint32_t n, const uint32_t *off, const uint32_t *succ,
				     const struct dfs *d, uint32_t **poff_ret, uint32_t **pred_ret)
{
	uint32_t nr = d->nreach;
	uint32_t *poff = big_alloc(((size_t)nr + 2) * sizeof(uint32_t), true);
	if (!poff)
		return &gm_error_no_memory;
	uint64_t total = 0;
	for (uint32_t v = 0; v < n; v++) {
		if (off[v] == off[v + 1] || d->pre[v] == NONE)
			continue;
		for (uint32_t e = off[v]; e < off[v + 1]; e++) {
			if (succ[e] != NONE) {
				poff[succ[e] + 2]++; /* shifted twice: counts, starts, ends */
				total++;
			}
		}
	}
	for (uint32_t i = 2; i < nr + 2; i++)
		poff[i] += poff[i - 1];
	uint32_t *pred = big_alloc((size_t)total * sizeof(uint32_t), false);
	if (!pred) {
		free(poff);
		return &gm_error_no_memory;
	}
	for (uint32_t v = 0; v < n; v++) {
		if (off[v] == off[v + 1] || d->pre[v] == NONE)
			continue;
		for (uint32_t e = off[v]; e < off[v + 1]; e++) {
			if (succ[e] != NONE)
				pred[poff[succ[e] + 1]++] = d->pre[v];
		}
	}
	*poff_ret = poff;
	*pred_ret = pred;
	return NULL;
}

/* transpose() from the walk's pairs (d->nontree), the edges no more needed. */
static struct gomem_error *transpose_pairs(const struct dfs *d, uint32_t **poff_ret,
					   uint32_t **pred_ret)
{
	uint32_t nr = d->nreach;
	size_t total = d->nnontree / 2;
	uint32_t *poff = big_alloc(((size_t)nr + 2) * sizeof(uint32_t), true);
	uint32_t *pred = malloc((total ? total : 1) * sizeof(uint32_t));
	if (!poff || !pred) {
		free(poff);
		free(pred);
		return &gm_error_no_memory;
	}
	for (size_t i = 0; i < total; i++)
		poff[d->nontree[2 * i + 1] + 2]++;
	for (uint32_t i = 2; i < nr + 2; i++)
		poff[i] += poff[i - 1];
	for (size_t i = 0; i < total; i++)
		pred[poff[d->nontree[2 * i + 1] + 1]++] = d->nontree[2 * i];
	*poff_ret = poff;
	*pred_ret = pred;
	return NULL;
}

GM_DEFINE_GROW(grow_u32, uint32_t)

/*
 * Semi-NCA over preorder numbers 0 .. nr - 1 (0 the root): idom_ret[w]
 * for every w (idom_ret[0] = 0). parent is the depth-first tree, poff and
 * pred the predecessors other than the parent (transpose()); poff is
 * overwritten.
 *
 * Vertices are processed from nr - 1 down; once w's predecessors are read,
 * poff[w + 1] is read no more and holds semi(w) (saving an array of 4
 * bytes a vertex: GO-OBJECTS.md §5.6's memory). A vertex not processed yet
 * is its own semidominator.
 */
static struct gomem_error *snca(uint32_t nr, uint32_t *poff, const uint32_t *pred,
				const uint32_t *parent, uint32_t *idom_ret)
{
	_cleanup_free_ uint32_t *label = big_alloc((size_t)nr * sizeof(uint32_t), false);
	uint32_t *ancestor = idom_ret; /* the forest's links, then idom (§5.6) */
	_cleanup_free_ uint32_t *stack = NULL;
	size_t depth = 0, cap = 0;
	if (!label)
		return &gm_error_no_memory;
	/*
	 * Vertices are linked to their parent as they are processed, from
	 * nr - 1 down: the linked ones are those above w, so the forest starts
	 * as the tree and a link is a test (x > w), not a store.
	 */
	memcpy(ancestor, parent, (size_t)nr * sizeof(uint32_t));
	for (uint32_t v = 0; v < nr; v++)
		label[v] = v;
#define SEMI(x) ((x) > w ? poff[(x) + 1] : (x))
	for (uint32_t w = nr - 1; w >= 1; w--) {
		uint32_t s = parent[w]; /* the tree edge's source: parent[w] < w */
		for (uint32_t e = poff[w]; e < poff[w + 1]; e++) {
			uint32_t v = pred[e];
			/*
			 * eval(v): the vertex of least semi on v's forest path,
			 * compressing the path (only processed vertices are linked).
			 */
			if (v > w) {
				uint32_t x = v;
				depth = 0;
				while (ancestor[x] > w) {
					uint32_t *slot = grow_u32(&stack, &depth, &cap);
					if (!slot)
						return &gm_error_no_memory;
					*slot = x; /* depth < nr: each x is a distinct vertex */
					x = ancestor[x];
				}
				while (depth) {
					x = stack[--depth];
					uint32_t a = ancestor[x];
					if (SEMI(label[a]) < SEMI(label[x]))
						label[x] = label[a];
					ancestor[x] = ancestor[a];
				}
				v = label[v];
			}
			if (SEMI(v) < s)
				s = SEMI(v);
		}
		poff[w + 1] = s; /* semi(w); w is linked from now on (ancestor[w] = parent[w]) */
	}
#undef SEMI
	idom_ret[0] = 0;
	for (uint32_t w = 1; w < nr; w++) {
		uint32_t i = parent[w];
		while (i > poff[w + 1])
			i = idom_ret[i]; /* idom_ret[i] < i: ends */
		idom_ret[w] = i;
	}
	return NULL;
}

static struct gomem_error *check_csr(uint32_t n, const uint32_t *off, const uint32_t *succ)
{
	if (off[0] != 0)
		return gm_error(GOMEM_ERROR_USAGE, "dominators: the edge lists do not start at 0");
	for (uint32_t v = 0; v < n; v++) {
		if (off[v + 1] < off[v])
			return gm_error(GOMEM_ERROR_USAGE, "dominators: vertex %u's edges", v);
	}
	for (uint32_t e = 0; e < off[n]; e++) {
		if (succ[e] >= n)
			return gm_error(GOMEM_ERROR_USAGE,
					"dominators: an edge to %u of %u vertices", succ[e], n);
	}
	return NULL;
}

/* An array of 4-byte entries given back down to count of them, where realloc can. */
static uint32_t *shrink(uint32_t *p, size_t count)
{
	uint32_t *q = realloc(p, (count ? count : 1) * sizeof(uint32_t));
	return q ? q : p;
}

struct gomem_error *gm_dominators_csr(uint32_t n, const uint32_t *off, const uint32_t *succ,
				      uint32_t root, uint32_t *idom_ret)
{
	if (root >= n || n == NONE)
		return gm_error(GOMEM_ERROR_USAGE, "dominators: root %u of %u vertices", root, n);
	TRY(check_csr(n, off, succ));
	/* The walk rewrites the edges it follows: on a copy, the caller's stay as they are. */
	_cleanup_free_ uint32_t *edges = malloc((off[n] ? off[n] : 1) * sizeof(uint32_t));
	if (!edges)
		return &gm_error_no_memory;
	memcpy(edges, succ, (size_t)off[n] * sizeof(uint32_t));
	struct dfs d;
	uint32_t *idom = NULL, *poff = NULL, *pred = NULL;
	TRY(dfs(n, off, edges, root, &d));
	struct gomem_error *err = d.nontree_full ? transpose(n, off, edges, &d, &poff, &pred)
						 : transpose_pairs(&d, &poff, &pred);
	if (!err) {
		idom = big_alloc((size_t)d.nreach * sizeof(uint32_t), false);
		err = idom ? snca(d.nreach, poff, pred, d.parent, idom) : &gm_error_no_memory;
	}
	free(poff);
	free(pred);
	if (err) {
		free(idom);
		dfs_free(&d);
		return err;
	}
	for (uint32_t v = 0; v < n; v++)
		idom_ret[v] = NONE;
	for (uint32_t i = 0; i < d.nreach; i++)
		idom_ret[d.vertex[i]] = d.vertex[idom[i]];
	free(idom);
	dfs_free(&d);
	return NULL;
}

/* ---- the heap's graph ---- */

/* Roots are grouped by what holds them, in the order marking takes their kinds. */
static int kind_order(enum gm_root_kind k)
{
	return k == GM_ROOT_BSS ? GM_ROOT_DATA : (int)k; /* a global is in data or bss */
}

static bool by_goroutine(enum gm_root_kind k)
{
	return k == GM_ROOT_STACK || k == GM_ROOT_REGISTER;
}

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* Whether two root words belong to one root: a global by its name, a goroutine, a special. */
static int cmp_roots(const struct gm_root *a, const struct gm_root *b)
{
	int ka = kind_order(a->kind), kb = kind_order(b->kind);
	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (by_goroutine(a->kind))
		return a->goid < b->goid ? -1 : a->goid > b->goid;
	if (a->object != b->object)
		return a->object < b->object ? -1 : 1;
	return cmp_str(a->name, b->name);
}

static int cmp_root_index(const void *pa, const void *pb, void *arg)
{
	const struct gm_root *roots = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int c = cmp_roots(&roots[a], &roots[b]);
	return c ? c : (a < b ? -1 : a > b);
}

/* Root words grouped into roots: *root_of[i] the root of word i. */
static struct gomem_error *group_roots(struct gm_graph *g, struct gm_dominators *d,
				       uint32_t **root_of_ret)
{
	size_t n = g->nroots;
	_cleanup_free_ uint32_t *order = malloc((n ? n : 1) * sizeof(uint32_t));
	uint32_t *root_of = malloc((n ? n : 1) * sizeof(uint32_t));
	d->roots = calloc(n ? n : 1, sizeof(*d->roots));
	if (!order || !root_of || !d->roots) {
		free(root_of);
		return &gm_error_no_memory;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	if (n > 1)
		qsort_r(order, n, sizeof(*order), cmp_root_index, g->roots);
	uint32_t nr = 0;
	for (size_t i = 0; i < n; i++) {
		const struct gm_root *r = &g->roots[order[i]];
		if (!i || cmp_roots(&g->roots[order[i - 1]], r)) {
			d->roots[nr++] = (struct gm_dom_root){
			    .kind = r->kind, .name = r->name, .goid = r->goid, .object = r->object};
		}
		struct gm_dom_root *dr = &d->roots[nr - 1];
		dr->words++;
		/* A goroutine is named by its first function outside the runtime. */
		if (by_goroutine(r->kind) && r->name && dr->name &&
		    strncmp(dr->name, "runtime.", 8) == 0 && strncmp(r->name, "runtime.", 8) != 0)
			dr->name = r->name;
		root_of[order[i]] = nr - 1;
	}
	d->nroots = nr;
	*root_of_ret = root_of;
	return NULL;
}

/* The successor lists being built, vertex by vertex in order. */
struct succ_builder {
	uint32_t *succ;
	size_t n, cap;
	uint32_t base; /* the vertex of object 0 */
	size_t start;  /* where the current vertex's list starts (for duplicates) */
};

static inline struct gomem_error *add_succ(struct succ_builder *b, uint32_t w)
{
	/* A pointer twice in one object (a doubly linked node's ends ...) is one edge. */
	for (size_t i = b->n; i > b->start && i + 4 > b->n; i--) {
		if (b->succ[i - 1] == w)
			return NULL;
	}
	if (b->n < b->cap && b->n < UINT32_MAX) {
		b->succ[b->n++] = w; /* inline: once an edge, 25 million times at 2 GiB */
		return NULL;
	}
	uint32_t *slot = grow_u32(&b->succ, &b->n, &b->cap);
	if (!slot)
		return &gm_error_no_memory;
	if (b->n > UINT32_MAX)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "more than 2^32 pointers between objects");
	*slot = w;
	return NULL;
}

static struct gomem_error *object_edge(void *arg, uint64_t addr, uint64_t value, uint32_t to)
{
	(void)addr;
	(void)value;
	struct succ_builder *b = arg;
	return add_succ(b, b->base + to);
}

/*
 * The graph as successor lists: vertex 0 the pseudo-root (to every root),
 * 1 + r root r (to the objects its words point to), 1 + nroots + id object
 * id (to the objects its pointer words point to; unreached ids have none).
 */
static struct gomem_error *build_csr(struct gm_graph *g, struct gm_dominators *d,
				     const uint32_t *root_of, uint32_t n, uint32_t **off_ret,
				     uint32_t **succ_ret)
{
	uint32_t *off = big_alloc(((size_t)n + 1) * sizeof(uint32_t), false);
	_cleanup_free_ uint64_t *bits = malloc(GM_PTRMAP_WINDOW / 8);
	_cleanup_free_ uint8_t *scratch = malloc(GM_PTRMAP_WINDOW * 8);
	_cleanup_free_ uint32_t *by_root = malloc((g->nroots ? g->nroots : 1) * sizeof(uint32_t));
	_cleanup_free_ uint32_t *first = calloc((size_t)d->nroots + 1, sizeof(uint32_t));
	struct succ_builder b = {.base = 1 + d->nroots};
	struct gomem_error *err = NULL;
	if (!off || !bits || !scratch || !by_root || !first) {
		err = &gm_error_no_memory;
		goto out;
	}
	off[0] = 0;
	for (uint32_t r = 0; !err && r < d->nroots; r++)
		err = add_succ(&b, 1 + r);
	off[1] = (uint32_t)b.n;
	/* The root words in their roots' order (a counting sort). */
	for (size_t i = 0; !err && i < g->nroots; i++)
		first[root_of[i] + 1]++;
	for (uint32_t r = 0; !err && r < d->nroots; r++)
		first[r + 1] += first[r];
	for (size_t i = 0; !err && i < g->nroots; i++)
		by_root[first[root_of[i]]++] = (uint32_t)i;
	for (uint32_t r = 0, i = 0; !err && r < d->nroots; r++) {
		b.start = b.n;
		for (; !err && i < g->nroots && root_of[by_root[i]] == r; i++)
			err = add_succ(&b, b.base + g->roots[by_root[i]].id);
		off[2 + r] = (uint32_t)b.n;
	}
	/* Span by span (first ids ascending): a span without pointers has no edges to look for. */
	uint64_t scanned = 0;
	uint32_t id = 0;
	for (size_t k = 0; !err && k <= g->idx->nspans; k++) {
		const struct gm_index_span *s = k < g->idx->nspans ? &g->idx->spans[k] : NULL;
		uint32_t lo = s ? s->first_id : g->idx->nslots;
		uint32_t hi = s ? s->first_id + s->nelems : g->idx->nslots;
		if (lo < id || hi < lo || hi > g->idx->nslots) {
			err = gm_error(GOMEM_ERROR_INCONSISTENT, "dominators: span %zu's ids", k);
			break;
		}
		for (; id < lo; id++)
			off[b.base + id + 1] = (uint32_t)b.n;
		bool scan = s && s->layout != GM_LAYOUT_NOSCAN;
		for (; !err && id < hi; id++) {
			b.start = b.n;
			if (scan && gm_graph_reached(g, id)) {
				if ((scanned += s->elemsize) >= RELEASE_EVERY_BYTES) {
					gm_graph_release_core_pages(g);
					scanned = 0;
				}
				err = gm_graph_foreach_edge_buf(g, id, bits, scratch, object_edge,
								&b);
			}
			off[b.base + id + 1] = (uint32_t)b.n;
		}
	}
	gm_graph_release_core_pages(g);
	if (!err && b.cap > b.n + b.n / 8) {
		/* The doubling's spare room, given back before the other arrays come. */
		uint32_t *shrunk = realloc(b.succ, (b.n ? b.n : 1) * sizeof(uint32_t));
		if (shrunk) {
			b.succ = shrunk;
			b.cap = b.n;
		}
	}
out:
	if (err) {
		free(off);
		free(b.succ);
		return err;
	}
	d->edges = b.n - off[1 + d->nroots];
	*off_ret = off;
	*succ_ret = b.succ;
	return NULL;
}

/* A slot's bytes that slot_bytes() could not keep in 32 bits: looked up again. */
#define SLOT_LOOKUP UINT32_MAX

/*
 * The slot bytes of each reached vertex in preorder (0 for the roots),
 * bytes[t->nreach], walking the ids in order with pre: the writes go to
 * random places but nothing waits on them, where reading each object's
 * span in preorder would wait on a cache miss an object.
 */
static void slot_bytes(struct gm_graph *g, const struct gm_dominators *d, const struct dfs *t,
		       uint32_t *bytes)
{
	const uint32_t *pre = t->pre;
	for (uint32_t v = 0; v <= d->nroots; v++) {
		if (pre[v] != NONE)
			bytes[pre[v]] = 0;
	}
	const uint32_t *obj = pre + 1 + d->nroots, nslots = g->idx->nslots;
	uint32_t id = 0;
	/* build_csr() checked that the spans' ids ascend within nslots. */
	for (size_t k = 0; k <= g->idx->nspans; k++) {
		const struct gm_index_span *s = k < g->idx->nspans ? &g->idx->spans[k] : NULL;
		uint32_t lo = s ? s->first_id : nslots, hi = s ? s->first_id + s->nelems : nslots;
		for (; id < lo && id < nslots; id++) {
			if (obj[id] != NONE)
				bytes[obj[id]] = SLOT_LOOKUP; /* outside every span: not reached */
		}
		uint32_t size =
		    s && s->elemsize < SLOT_LOOKUP ? (uint32_t)s->elemsize : SLOT_LOOKUP;
		for (; id < hi && id < nslots; id++) {
			if (obj[id] != NONE)
				bytes[obj[id]] = size;
		}
	}
}

/* What the walk reached first from root (none before the first root). */
static void add_first(struct gm_dominators *d, uint32_t root, uint64_t *objects, uint64_t *bytes)
{
	if (root < d->nroots) {
		d->roots[root].first_objects += *objects;
		d->roots[root].first_bytes += *bytes;
	}
	*objects = *bytes = 0;
}

/*
 * Retained bytes and objects, bottom up (idom[v] < v), and each vertex's
 * first root, in place over the depth-first tree's parents (no more read)
 * and the slot bytes (which it takes).
 */
static struct gomem_error *retained(struct gm_graph *g, struct gm_dominators *d, uint32_t *parent,
				    uint32_t *bytes)
{
	uint32_t n = d->nvertices;
	d->first_root = parent;
	d->retained_objects = bytes; /* bytes[v] read before retained_objects[v] is written */
	d->retained_bytes = big_alloc((size_t)n * sizeof(uint64_t), false);
	if (!d->retained_bytes)
		return &gm_error_no_memory;
	/* Locals: the compiler cannot tell the arrays from d's fields apart. */
	const uint32_t *what = d->what, nroots = d->nroots;
	uint32_t *first = d->first_root, *objects = d->retained_objects, root = NONE;
	uint64_t *rbytes = d->retained_bytes, first_objects = 0, first_bytes = 0;
	for (uint32_t v = 0; v < n; v++) {
		uint64_t b = 0;
		uint32_t o = 0;
		if (what[v] > nroots) {
			b = bytes[v];
			if (b == SLOT_LOOKUP) {
				const struct gm_index_span *s =
				    gm_heap_index_span(g->idx, what[v] - 1 - nroots);
				b = s ? s->elemsize : 0;
			}
			o = 1;
			first_objects++;
			first_bytes += b;
		} else if (v) {
			/*
			 * Nothing points to a root: the roots are the
			 * pseudo-root's children in the walk, and what each
			 * reached first is the interval of preorder numbers
			 * from it to the next root.
			 */
			add_first(d, root, &first_objects, &first_bytes);
			root = what[v] - 1;
		}
		rbytes[v] = b; /* a root, the pseudo-root: no slot */
		objects[v] = o;
		first[v] = root;
	}
	add_first(d, root, &first_objects, &first_bytes);
	const uint32_t *idom = d->idom;
	for (uint32_t v = n - 1; v >= 1; v--) {
		rbytes[idom[v]] += rbytes[v];
		objects[idom[v]] += objects[v];
	}
	return NULL;
}

/*
 * The walk, the predecessors, the slot bytes (*bytes_ret) and d->idom; the
 * edges go before the semi-NCA's arrays come (the peak memory), and their
 * offsets and the vertex-to-preorder map become two of those arrays.
 */
static struct gomem_error *tree(struct gm_graph *g, struct gm_dominators *d, uint32_t n,
				uint32_t **off, uint32_t **succ, struct dfs *t,
				uint32_t **bytes_ret)
{
	uint32_t *poff = NULL, *pred = NULL, *idom = NULL, *bytes = NULL;
	struct gomem_error *err = dfs(n, *off, *succ, 0, t);
	if (!err && t->nontree_full)
		err = transpose(n, *off, *succ, t, &poff, &pred);
	free(*succ);
	*succ = NULL;
	/*
	 * The slot bytes go where the edge offsets were, idom where pre was
	 * (n + 1 and n entries for nreach <= n): fresh arrays would cost the
	 * kernel's zeroing of their pages, a tenth of the time at 2 GiB.
	 */
	if (!err) {
		slot_bytes(g, d, t, *off);
		bytes = shrink(*off, t->nreach);
		*off = NULL;
	}
	if (!err && !t->nontree_full)
		err = transpose_pairs(t, &poff, &pred);
	free(t->nontree);
	t->nontree = NULL;
	if (!err) {
		idom = shrink(t->pre, t->nreach);
		t->pre = NULL;
		err = snca(t->nreach, poff, pred, t->parent, idom);
	}
	free(poff);
	free(pred);
	if (err) {
		free(idom);
		free(bytes);
		return err;
	}
	d->idom = idom;
	*bytes_ret = bytes;
	return NULL;
}

struct gomem_error *gm_dominators_build(struct gm_graph *g, struct gm_dominators **ret)
{
	if (!g->marked)
		return gm_error(GOMEM_ERROR_USAGE, "dominators: the graph is not marked");
	struct gm_dominators *d = calloc(1, sizeof(*d));
	if (!d)
		return &gm_error_no_memory;
	uint32_t *root_of = NULL, *off = NULL, *succ = NULL, *bytes = NULL;
	struct dfs t = {0};
	struct gomem_error *err = group_roots(g, d, &root_of);
	uint64_t n = 1 + (uint64_t)d->nroots + g->idx->nslots;
	if (!err && n >= NONE)
		err = gm_error(GOMEM_ERROR_UNSUPPORTED, "too many objects and roots (%" PRIu64 ")",
			       n);
	if (!err)
		err = build_csr(g, d, root_of, (uint32_t)n, &off, &succ);
	free(root_of);
	if (!err)
		err = tree(g, d, (uint32_t)n, &off, &succ, &t, &bytes);
	free(off);
	free(succ);
	if (!err) {
		d->nvertices = t.nreach;
		d->what = t.vertex;
		t.vertex = NULL;
		err = retained(g, d, t.parent, bytes);
		t.parent = NULL;
	}
	dfs_free(&t);
	if (err) {
		gm_dominators_destroy(d);
		return err;
	}
	*ret = d;
	return NULL;
}

void gm_dominators_destroy(struct gm_dominators *d)
{
	if (!d)
		return;
	free(d->roots);
	free(d->what);
	free(d->idom);
	free(d->first_root);
	free(d->retained_bytes);
	free(d->retained_objects);
	free(d);
}
