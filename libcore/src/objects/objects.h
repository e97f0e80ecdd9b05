/*
 * The object graph, the way the GC sees the heap (GO-OBJECTS.md §1-3, §5):
 *
 * - the heap index (heapindex.c): every slot of every in-use span gets a
 *   dense uint32 id, the span's first id plus the slot's index; a bitset
 *   says which slots hold an allocated object; an address (interior
 *   pointers too) maps to its id through a per-arena page table and a
 *   division by the span's elemsize. About 2 bits a slot and 4 bytes a
 *   heap page.
 * - pointer maps (ptrmap.c): which words of an object hold pointers, for
 *   every layout of 1.19-1.27, from the heap's own metadata.
 * - roots (roots.c): globals by the modules' GC masks, finalizer and
 *   cleanup specials and queues, weak handles; and any other source (the
 *   goroutine stacks) through gm_graph_add_root().
 * - marking (mark.c): from the roots, iterative with a bounded work stack,
 *   a bitset indexed by id.
 *
 * Ids are meant to be used by the verbs (objects, types, whatis, paths):
 * gm_heap_index_object() gives an id's address and size, gm_graph_reached()
 * whether it is reachable, gm_graph_foreach_pointer() its pointer words.
 */
#ifndef GOMEM_OBJECTS_H
#define GOMEM_OBJECTS_H

#include <string.h>

#include "objects/stackroots.h"
#include "runtime/runtime.h"

/* ---- the heap index (heapindex.c) ---- */

/* How the GC finds a span's pointer words (GO-OBJECTS.md §5.1). */
enum gm_ptr_layout {
	GM_LAYOUT_NOSCAN,    /* no pointers */
	GM_LAYOUT_ARENA2,    /* 1.19: 2 bits a word in heapArena.bitmap */
	GM_LAYOUT_ARENA1,    /* 1.20-1.21, 1.22 noallocheaders: 1 bit a word in heapArena.bitmap */
	GM_LAYOUT_SPAN_BITS, /* 1.22+, elemsize <= 512: bits at the end of the span */
	GM_LAYOUT_HEADER,    /* 1.22+, small objects over 512 B: a *_type in the slot's word 0 */
	GM_LAYOUT_LARGE,     /* 1.22+, large objects: mspan.largeType */
};

/* What the last GC's marks mean for a span (GO-OBJECTS.md §1.5). */
enum gm_sweep_state {
	GM_SWEPT,    /* allocated slots are objects */
	GM_UNSWEPT,  /* allocated but unmarked slots are garbage the sweeper will free */
	GM_SWEEPING, /* a sweeper owns it: allocated or marked slots count as objects */
};

struct gm_index_span {
	uint64_t base;	     /* first byte */
	uint64_t bytes;	     /* npages * page size */
	uint64_t elemsize;   /* the slot size (large: the object's) */
	uint64_t desc;	     /* the mspan */
	uint64_t heap_bits;  /* GM_LAYOUT_SPAN_BITS: address of the span's heap bits */
	uint64_t large_type; /* GM_LAYOUT_LARGE: mspan.largeType (0: not published yet) */
	uint64_t specials;   /* mspan.specials: first special record, 0 when none */
	uint64_t freeindex, alloc_count, alloc_bits; /* as the mspan says (heap.c read them) */
	uint32_t first_id;			     /* id of slot 0 */
	uint32_t nelems;
	uint8_t sizeclass, layout, sweep;
	bool noscan, user_chunk;
	uint64_t header_bytes; /* bytes of malloc header at each slot's start */
};

/* What an address lookup and the marking need of a span, packed (gm_heap_index.hot). */
struct gm_span_hot {
	uint64_t base, elemsize;
	uint32_t first_id, nelems;
	uint32_t divmul; /* divideByElemSize's multiplier (mbitmap.go): 0 for a large span */
	uint8_t layout;
	uint8_t header_bytes; /* gm_index_span's */
};

struct gm_heap_index {
	struct gm_runtime *rt;
	struct gm_index_span *spans; /* sorted by base */
	struct gm_span_hot *hot;     /* the same spans, the fields lookups use */
	size_t nspans;
	/* Arena number (address >> log arena bytes, from arena_lo) -> 1 + index in arenas. */
	uint32_t *arena_of;
	uint64_t arena_lo, narena_of;
	struct gm_arena *arenas; /* sorted */
	size_t narenas;
	uint32_t **page_span; /* per arena, per page: 1 + the span's index, 0 for none,
			       * GM_PAGE_MANUAL for a manual span's page */
	uint64_t pages_per_arena;
	uint32_t nslots;   /* ids are 0 .. nslots - 1 */
	uint32_t *id_span; /* per block of 1 << GM_ID_BLOCK_SHIFT ids: the span of its first id */
	uint64_t *alloc;   /* bit id: the slot holds an object */
	uint64_t *dead;	   /* bit id: unswept garbage (allocated, unmarked at the last GC) */
	/*
	 * bit id: allocated since the last sweep of its span (i < freeindex with
	 * its allocBits bit clear: sweep made allocBits the marks, mgcsweep.go),
	 * i.e. since the last GC once every span is swept.
	 */
	uint64_t *fresh;
	uint64_t fresh_objects, fresh_bytes;
	uint64_t objects, object_bytes; /* allocated slots and their bytes */
	uint64_t unswept_garbage, unswept_garbage_bytes;
	uint64_t *manual; /* manual spans: base and end, pairs, for the page table */
	size_t nmanual, cap_manual;
	uint64_t bad_spans;		 /* live-looking span descriptors that failed validation */
	uint64_t alloc_count_mismatches; /* spans whose allocCount disagrees with the bits */
	uint32_t sweepgen;		 /* mheap_.sweepgen */
	/* The runtime's layout that an address lookup needs, kept here for it (rt->L's). */
	uint64_t arena_base_offset;
	unsigned log_arena_bytes, page_shift;
	/*
	 * Every arena starts at arena_base_offset plus a multiple of 1 <<
	 * log_arena_bytes, a multiple of the page size: an address's heap page
	 * number ((addr - arena_base_offset) >> page_shift) then says which
	 * page table entry it has (gm_where_cache may keep it).
	 */
	bool pages_aligned;
};

#define GM_PAGE_MANUAL UINT32_MAX

/* Ids above this are refused: a heap of more slots is not supported (or corrupt). */
#define GM_MAX_SLOTS (UINT32_MAX - 1)

struct gomem_error *gm_heap_index_build(struct gm_runtime *rt, struct gm_heap_index **ret);
void gm_heap_index_destroy(struct gm_heap_index *idx);

static inline bool gm_bit(const uint64_t *bits, uint64_t i)
{
	return bits[i / 64] >> (i % 64) & 1;
}
static inline void gm_bit_set(uint64_t *bits, uint64_t i)
{
	bits[i / 64] |= 1ULL << (i % 64);
}

/* The bits set in x: SWAR (without -mpopcnt, __builtin_popcountll is a call to libgcc). */
static inline uint64_t gm_popcount64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ULL;
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* The bits set in n bytes, 8 at a time. */
static inline uint64_t gm_popcount_bytes(const uint8_t *b, size_t n)
{
	uint64_t c = 0, w;
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		memcpy(&w, b + i, 8);
		c += gm_popcount64(w);
	}
	for (; i < n; i++)
		c += gm_popcount64(b[i]);
	return c;
}

static inline bool gm_heap_index_allocated(const struct gm_heap_index *idx, uint32_t id)
{
	return id < idx->nslots && gm_bit(idx->alloc, id);
}
#define GM_ID_BLOCK_SHIFT 4

/* The span of an id (id < nslots): a table lookup, then at most a block's spans forward. */
static inline const struct gm_index_span *gm_heap_index_span(const struct gm_heap_index *idx,
							     uint32_t id)
{
	size_t k = idx->id_span[id >> GM_ID_BLOCK_SHIFT];
	while (k + 1 < idx->nspans && idx->spans[k + 1].first_id <= id)
		k++;
	return &idx->spans[k];
}
/* The slot address and size of an id (size is the slot's: elemsize). */
void gm_heap_index_object(const struct gm_heap_index *idx, uint32_t id, uint64_t *base_ret,
			  uint64_t *size_ret);
/* Where an address falls in the heap (gm_heap_index_where). */
enum gm_heap_place {
	GM_PLACE_OUTSIDE,    /* not in a heap arena */
	GM_PLACE_NO_SPAN,    /* an arena page that no live span holds */
	GM_PLACE_MANUAL,     /* a manual span: stacks, GC work buffers (never objects) */
	GM_PLACE_PAST_SLOTS, /* an in-use span, past its last slot (tail, heap bits, marks) */
	GM_PLACE_SLOT,	     /* a slot of an in-use span: *id_ret */
};
enum gm_heap_place gm_heap_index_where(const struct gm_heap_index *idx, uint64_t addr,
				       uint32_t *id_ret);
/*
 * The page table's entry of addr: 0 (no span), GM_PAGE_MANUAL or 1 + the
 * index of its span; false when addr is in no heap arena.
 */
static inline bool gm_heap_index_page(const struct gm_heap_index *idx, uint64_t addr,
				      uint32_t *k_ret)
{
	uint64_t an = ((addr - idx->arena_base_offset) >> idx->log_arena_bytes) - idx->arena_lo;
	if (an >= idx->narena_of || !idx->arena_of[an])
		return false;
	size_t ai = idx->arena_of[an] - 1;
	const uint32_t *pages = idx->page_span[ai];
	*k_ret = pages ? pages[(addr - idx->arenas[ai].base) >> idx->page_shift] : 0;
	return true;
}

/* Where addr falls, given its page table entry k (gm_heap_index_page). */
static inline enum gm_heap_place gm_heap_index_slot(const struct gm_heap_index *idx, uint32_t k,
						    uint64_t addr, uint32_t *id_ret,
						    uint32_t *span_ret)
{
	if (!k)
		return GM_PLACE_NO_SPAN;
	if (k == GM_PAGE_MANUAL)
		return GM_PLACE_MANUAL;
	const struct gm_span_hot *h = &idx->hot[k - 1];
	uint64_t off = addr - h->base;
	/* divideByElemSize (mbitmap.go): exact for the offsets of a small span. */
	uint64_t i =
	    h->divmul ? (off >> 32 ? UINT64_MAX : (off * h->divmul) >> 32) : off / h->elemsize;
	if (i >= h->nelems)
		return GM_PLACE_PAST_SLOTS;
	*id_ret = h->first_id + (uint32_t)i;
	*span_ret = k - 1;
	return GM_PLACE_SLOT;
}

/*
 * gm_heap_index_where, with the index of the span of a GM_PLACE_SLOT in
 * *span_ret. Inline: the marking and the typing call it for every pointer
 * word of the heap.
 */
static inline enum gm_heap_place gm_heap_index_where_span(const struct gm_heap_index *idx,
							  uint64_t addr, uint32_t *id_ret,
							  uint32_t *span_ret)
{
	uint32_t k;
	if (!gm_heap_index_page(idx, addr, &k))
		return GM_PLACE_OUTSIDE;
	return gm_heap_index_slot(idx, k, addr, id_ret, span_ret);
}

/*
 * The page of the last lookup and its entry: pointers that follow each
 * other often land in one page (an array of pointers to objects allocated
 * one after another), which then costs no table lookup. Zeroed: empty.
 */
struct gm_where_cache {
	uint64_t page; /* 1 + the heap page number of the last lookup's address; 0: none */
	uint32_t k;    /* its page table entry */
};

/* gm_heap_index_where_span through a cache (the same answers). */
static inline enum gm_heap_place gm_heap_index_where_cached(const struct gm_heap_index *idx,
							    struct gm_where_cache *c, uint64_t addr,
							    uint32_t *id_ret, uint32_t *span_ret)
{
	uint64_t page = ((addr - idx->arena_base_offset) >> idx->page_shift) + 1;
	uint32_t k;
	if (c->page && page == c->page) {
		k = c->k;
	} else {
		if (!gm_heap_index_page(idx, addr, &k))
			return GM_PLACE_OUTSIDE;
		if (idx->pages_aligned) {
			c->page = page;
			c->k = k;
		}
	}
	return gm_heap_index_slot(idx, k, addr, id_ret, span_ret);
}

/*
 * The slot that holds addr (an interior pointer counts) in an in-use
 * span, below the span's last slot's end: false when none. It says
 * nothing of allocation: see gm_heap_index_allocated().
 */
bool gm_heap_index_lookup(const struct gm_heap_index *idx, uint64_t addr, uint32_t *id_ret);
/* Whether addr is in a heap arena (a value that looks like a heap pointer). */
bool gm_heap_index_in_arena(const struct gm_heap_index *idx, uint64_t addr);

/* ---- pointer maps (ptrmap.c) ---- */

/*
 * The pure decoders, over bytes already read (the unit tests call them on
 * synthetic inputs). Each sets bit k of out (LSB first) when word k of the
 * window of nwords words is a pointer; out has room for nwords bits and
 * is cleared first.
 */
/*
 * 1.19's arena bitmap: word w (counted from the arena's start) has its
 * pointer bit at bitmap[w / 4] >> (w % 4) and its scan bit 4 above; an
 * object's scan stops at its first word whose scan bit is 0 (the window
 * must start at the object's first word, first).
 */
void gm_ptrmask_arena2(const uint8_t *bitmap, uint64_t first, uint64_t nwords, uint64_t *out);
/* A 1-bit bitmap (1.20-1.21 arena bitmap, 1.22+ span heap bits) from bit first. */
void gm_ptrmask_bits(const uint8_t *bitmap, uint64_t first, uint64_t nwords, uint64_t *out);
/*
 * A type's mask tiled over an object (GO-OBJECTS.md §2.3): elements of
 * elem_size bytes from the object's data start, each with ptr_bytes of
 * pointer prefix described by mask; window: words [first, first + nwords)
 * counted from the data start.
 */
void gm_ptrmask_tile(const uint8_t *mask, uint64_t elem_size, uint64_t ptr_bytes, uint64_t first,
		     uint64_t nwords, uint64_t *out);
/*
 * Runs a GC program (mbitmap.go runGCProg@1.23) into out, at most max_bits
 * bits; *nbits_ret: how many it wrote. An error for a malformed program or
 * one that writes more than max_bits (or reads past len bytes).
 */
struct gomem_error *gm_gcprog_run(const uint8_t *prog, size_t len, uint8_t *out, uint64_t max_bits,
				  uint64_t *nbits_ret);

struct gm_ptrmap;

/* The pointer maps of idx's objects (types' masks are cached in it). */
struct gomem_error *gm_ptrmap_create(struct gm_heap_index *idx, struct gm_ptrmap **ret);
void gm_ptrmap_destroy(struct gm_ptrmap *pm);
/*
 * Which words of object id are pointers, for the window of nwords (at most
 * GM_PTRMAP_WINDOW) words from word first of the slot: bit k of out for
 * word first + k. A type that cannot be read gives no pointers and counts
 * in the warnings (gm_ptrmap_problems).
 */
#define GM_PTRMAP_WINDOW 16384 /* 128 KiB: the runtime's oblet (maxObletBytes) */
struct gomem_error *gm_ptrmap_window(struct gm_ptrmap *pm, uint32_t id, uint64_t first,
				     uint64_t nwords, uint64_t *out);
/* gm_ptrmap_window for an object of span s (s = gm_heap_index_span(idx, id)), found already. */
struct gomem_error *gm_ptrmap_window_span(struct gm_ptrmap *pm, const struct gm_index_span *s,
					  uint32_t id, uint64_t first, uint64_t nwords,
					  uint64_t *out);
/* The mask of a type descriptor: *mask_ret has ptr_bytes / 8 bits; valid until pm is destroyed. */
struct gomem_error *gm_ptrmap_type(struct gm_ptrmap *pm, uint64_t type, uint64_t *size_ret,
				   uint64_t *ptr_bytes_ret, const uint8_t **mask_ret);
/*
 * The type descriptor an object carries itself (GO-OBJECTS.md §4.9): a 1.22+
 * malloc header (small scan objects over 512 bytes) or its span's largeType;
 * the element type, tiled from the object's data start (*data_ret: slot + 8
 * after a header, else the slot). *type_ret 0 when the object has none (or
 * not yet: an allocation in progress).
 */
struct gomem_error *gm_ptrmap_self_type(struct gm_ptrmap *pm, uint32_t id, uint64_t *type_ret,
					uint64_t *data_ret);
/* Types whose mask could not be read, objects whose pointer words are unknown. */
uint64_t gm_ptrmap_problems(const struct gm_ptrmap *pm);

/*
 * Reads len bytes of target memory for a scan: a pointer into the core
 * when the bytes are all there, else copied into scratch (len bytes), with
 * bytes the core does not hold as zeros (pages never touched; GO-OBJECTS.md
 * §6.19). *missing_ret (if given) is set when some were.
 */
const uint8_t *gm_scan_bytes(struct gm_memory *mem, uint64_t addr, size_t len, uint8_t *scratch,
			     bool *missing_ret);

/* ---- roots (roots.c) and the graph (mark.c) ---- */

enum gm_root_kind {
	GM_ROOT_DATA,	   /* a module's data section, by its gcdatamask */
	GM_ROOT_BSS,	   /* a module's bss, by its gcbssmask */
	GM_ROOT_FINALIZER, /* finalizer specials (the fn and the object's referents) and allfin */
	GM_ROOT_CLEANUP,   /* cleanup specials and the cleanup queue */
	GM_ROOT_STACK,	   /* goroutine stacks, defers, panics, sched.ctxt */
	GM_ROOT_REGISTER,  /* registers of running threads */
	GM_ROOT_OTHER,	   /* weak handles' boxes */
	GM_ROOT_KINDS
};

const char *gm_root_kind_name(enum gm_root_kind kind);

/* One root word: a word outside the heap graph that holds a pointer into an allocated slot. */
struct gm_root {
	enum gm_root_kind kind;
	bool conservative;
	uint64_t addr;	/* where the word is (0: a register) */
	uint64_t value; /* the word */
	uint32_t id;	/* the object it points into */
	/* What holds it: a global's symbol; "finalizer", "cleanup" ... ; a stack slot's function.
	 */
	const char *name;
	uint64_t object; /* finalizer/cleanup specials: the object the special is on (0: none) */
	uint64_t goid;	 /* stack roots */
};

struct gm_root_stats {
	uint64_t roots, conservative; /* root words that point into allocated slots */
	uint64_t objects, bytes;      /* objects first reached from roots of this kind */
};

struct gm_graph_stats {
	uint64_t reachable, reachable_bytes, unreachable, unreachable_bytes;
	/* Unreachable objects that the last GC saw allocated (not allocated since): after a
	 * completed GC, a missing root or a pointer-map bug (GO-OBJECTS.md §5.7). */
	uint64_t unreachable_old, unreachable_old_bytes;
	uint64_t edges;		 /* pointer words of reached objects that land in an object */
	uint64_t dangling_free;	 /* ... in a free slot of an in-use span */
	uint64_t dangling_dead;	 /* ... in unswept garbage */
	uint64_t dangling_other; /* ... elsewhere in an arena (no in-use span, or past its slots) */
	uint64_t weak_edges;	 /* weak handles' referents */
	uint64_t roots_outside;	 /* root words into the heap's arenas but no allocated slot */
	uint64_t missing_bytes;	 /* object bytes the core does not hold (read as zeros) */
	uint64_t overflows;	 /* times the work stack overflowed into the grey bitset */
	struct gm_root_stats kinds[GM_ROOT_KINDS];
	struct gm_stack_roots_stats stacks; /* goroutines and frames scanned (stackroots.c) */
	uint64_t class_reachable[GM_MAX_SIZE_CLASSES], class_unreachable[GM_MAX_SIZE_CLASSES];
	uint64_t large_reachable, large_unreachable;
	uint64_t large_reachable_bytes, large_unreachable_bytes;
};

struct gm_graph {
	struct gm_runtime *rt;
	struct gm_heap_index *idx;
	struct gm_ptrmap *pm;
	struct gm_root *roots;
	size_t nroots, cap_roots;
	struct gm_symtab symtab; /* globals' names */
	bool have_symtab;
	uint64_t *reached; /* bit id */
	bool marked;
	struct gm_graph_stats stats;
	char **warnings;
	size_t nwarnings;
};

/* Building a graph: the index, the pointer maps, the roots gomem finds itself (no marking yet). */
struct gomem_error *gm_graph_create(struct gm_runtime *rt, struct gm_graph **ret);
void gm_graph_destroy(struct gm_graph *g);
/*
 * Adds one root word from any source: value points into an allocated slot
 * (interior pointers count) or the word is ignored (counted in
 * roots_outside when it lands in the heap's arenas but in no object, unless
 * conservative). name must outlive the graph. Before gm_graph_mark().
 *
 * gm_roots_collect() adds the runtime's roots, the goroutine stacks'
 * (objects/stackroots.c) among them.
 */
struct gomem_error *gm_graph_add_root(struct gm_graph *g, enum gm_root_kind kind, uint64_t addr,
				      uint64_t value, bool conservative, const char *name,
				      uint64_t object, uint64_t goid);
/* Marks from the roots, kind by kind (each kind's stats count what it reached first). */
struct gomem_error *gm_graph_mark(struct gm_graph *g);

static inline bool gm_graph_reached(const struct gm_graph *g, uint32_t id)
{
	return id < g->idx->nslots && gm_bit(g->reached, id);
}

/*
 * Calls fn for each pointer word of object id whose value lands in an
 * allocated slot: addr of the word, its value and the target's id.
 */
typedef struct gomem_error *(*gm_edge_fn)(void *arg, uint64_t addr, uint64_t value, uint32_t to);
struct gomem_error *gm_graph_foreach_edge(struct gm_graph *g, uint32_t id, gm_edge_fn fn,
					  void *arg);
/*
 * Lets go of the core's pages that a scan touched (they count in the
 * process's RSS until then; the page cache keeps them): a walk over many
 * objects calls it every few MiB read.
 */
void gm_graph_release_core_pages(struct gm_graph *g);
/*
 * gm_graph_foreach_edge with the caller's buffers, for a walk over many
 * objects: bits of GM_PTRMAP_WINDOW / 8 bytes, scratch of GM_PTRMAP_WINDOW * 8.
 */
struct gomem_error *gm_graph_foreach_edge_buf(struct gm_graph *g, uint32_t id, uint64_t *bits,
					      uint8_t *scratch, gm_edge_fn fn, void *arg);

/* Collects the roots of the runtime's own sources (roots.c; called by gm_graph_create). */
struct gomem_error *gm_roots_collect(struct gm_graph *g);
/* A warning of the graph (kept in g->warnings, at most 16). */
void gm_graph_warn(struct gm_graph *g, const char *fmt, ...) GM_PRINTF(2, 3);

/* ---- dominators and retained sizes (dominators.c) ---- */

#define GM_DOM_NONE UINT32_MAX

/*
 * The immediate dominators of a graph of n vertices given as successor
 * lists (CSR: the successors of v are succ[off[v]] .. succ[off[v + 1] - 1]),
 * from vertex root: idom_ret[v] is v's immediate dominator (root's is
 * root), GM_DOM_NONE when root does not reach v. Semi-NCA (Georgiadis et
 * al., "Finding Dominators in Practice", 2006), iterative, O(n + edges)
 * memory. An error for a successor >= n or an edge list out of order.
 */
struct gomem_error *gm_dominators_csr(uint32_t n, const uint32_t *off, const uint32_t *succ,
				      uint32_t root, uint32_t *idom_ret);

/*
 * A root of the dominator tree: the root words of one global (by its
 * symbol), one goroutine's stack (or its thread's registers), one
 * finalizer or cleanup special (by the object it is on), one queue, ...
 */
struct gm_dom_root {
	enum gm_root_kind kind; /* of its first word (DATA or BSS for a global) */
	const char *name;	/* a global's symbol, a stack's function, "finalizer", ... */
	uint64_t goid;		/* stack and register roots */
	uint64_t object;	/* finalizer, cleanup, weak handle: the object it is on */
	uint32_t words;		/* root words */
	/* The objects (and their bytes) the depth-first walk reached first from this root. */
	uint64_t first_objects, first_bytes;
};

/*
 * The dominator tree of the reachable heap: vertex 0 the pseudo-root, one
 * vertex per root (gm_dom_root), one per reachable object, numbered in
 * depth-first preorder from the pseudo-root (roots in marking's kind
 * order), so that idom[v] < v.
 */
struct gm_dominators {
	uint32_t nvertices;
	uint32_t nroots;
	struct gm_dom_root *roots;
	/* Per vertex: what it is: 0 the pseudo-root, 1 + r root r, 1 + nroots + id object id. */
	uint32_t *what;
	uint32_t *idom;
	uint32_t
	    *first_root; /* the root (index in roots) under which the depth-first walk found it */
	uint64_t *retained_bytes; /* the vertex and all it dominates, slot bytes */
	uint32_t *retained_objects;
	uint64_t edges; /* object-to-object edges (duplicates in one object counted once) */
};

/* The dominator tree of a marked graph. */
struct gomem_error *gm_dominators_build(struct gm_graph *g, struct gm_dominators **ret);
void gm_dominators_destroy(struct gm_dominators *d);

static inline bool gm_dom_is_object(const struct gm_dominators *d, uint32_t v, uint32_t *id_ret)
{
	if (d->what[v] <= d->nroots)
		return false;
	*id_ret = d->what[v] - 1 - d->nroots;
	return true;
}

/* ---- shortest paths from the roots (paths.c) ---- */

/*
 * A breadth-first search over vertices 0 .. n - 1 (the heap's slot ids):
 * parent per vertex (4 bytes a vertex) and a queue of the vertices still to
 * expand, no recursion. Seeds carry a label (a root word's index); the
 * search stops when the target is reached. The successors of a vertex are
 * the caller's to give (gm_bfs_edge) when gm_bfs_next hands it out.
 */
struct gm_bfs {
	uint32_t n, target;
	/* 0: not reached; else 1 + the parent vertex, or 1 + n + the seed's label (zeroed
	 * pages: a search that reaches few vertices touches few of them). */
	uint32_t *parent;
	uint32_t *queue;
	size_t head, len, cap;
	bool found;
	uint64_t visited; /* vertices reached that are expanded, or the target */
	/* The vertices reached, while few: a reset clears them alone. */
	uint32_t *touched;
	size_t ntouched, cap_touched;
	bool touched_all; /* more than the list keeps: a reset clears every parent */
};

/* An empty search of n vertices for target (parent array allocated). */
struct gomem_error *gm_bfs_init(struct gm_bfs *b, uint32_t n, uint32_t target);
/* Forgets what the last search reached (for another with other seeds). */
void gm_bfs_reset(struct gm_bfs *b);
void gm_bfs_deinit(struct gm_bfs *b);
/*
 * A seed (label < UINT32_MAX - n - 1) or an edge: v is reached unless it was;
 * expand: queue it (a vertex not expanded is only looked at as the target).
 */
struct gomem_error *gm_bfs_seed(struct gm_bfs *b, uint32_t v, uint32_t label, bool expand);
struct gomem_error *gm_bfs_edge(struct gm_bfs *b, uint32_t from, uint32_t to, bool expand);
/* The next vertex to expand, in breadth-first order: false when none is left (or found). */
bool gm_bfs_next(struct gm_bfs *b, uint32_t *v_ret);
/*
 * The path to the target once found: *ids_ret (malloc'd, the seed's vertex
 * first, the target last), its length and the seed's label.
 */
struct gomem_error *gm_bfs_path(const struct gm_bfs *b, uint32_t **ids_ret, uint32_t *n_ret,
				uint32_t *label_ret);

/* The root kinds as paths group them: a global is in data or bss. */
enum gm_path_root {
	GM_PATH_GLOBAL,
	GM_PATH_FINALIZER,
	GM_PATH_CLEANUP,
	GM_PATH_STACK,
	GM_PATH_REGISTER,
	GM_PATH_OTHER,
	GM_PATH_ROOTS
};

enum gm_path_root gm_path_root_of(enum gm_root_kind kind);

/* One path: a root word (index in g->roots) and the objects from what it points to down. */
struct gm_path {
	uint32_t root;
	uint32_t *ids; /* ids[0] the object the root word points into, ids[n - 1] the target */
	uint32_t n;    /* the depth */
	/* offs[i]: the offset in object ids[i] of the pointer word to ids[i + 1] (n - 1 of them) */
	uint64_t *offs;
};

/*
 * The shortest path to object id (allocated) from the roots of each kind
 * that reaches it, at most limit paths: the shortest from any root first,
 * then one for each other kind in enum gm_path_root order. *n_ret 0 when
 * no root reaches it. Each search stops as soon as it reaches id.
 */
struct gomem_error *gm_paths_find(struct gm_graph *g, uint32_t id, unsigned limit,
				  struct gm_path **ret, size_t *n_ret);
void gm_paths_free(struct gm_path *paths, size_t n);

#endif /* GOMEM_OBJECTS_H */
