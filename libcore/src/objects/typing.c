/*
 * Typing the objects of the graph (GO-OBJECTS.md §5.5), strongest source
 * first:
 *
 *   1. self-typed objects: the malloc header's or the large span's type
 *      (1.22+), the element type tiled over the slot; the nameless
 *      largeType of a GC-program type (1.22-1.23) does not count;
 *   2. the DWARF-typed globals, and the closures of finalizer and cleanup
 *      roots: each value is walked by its type; then the live stack slots
 *      (stack maps) that a DWARF variable of their frame covers at its pc,
 *      each followed as that variable's word;
 *   3. walking a typed object types what it points to: *T gives T, []T an
 *      array of T, a string its bytes, a map its header, buckets or
 *      directory, tables and groups (whose types give the keys and
 *      elems), a chan its hchan and buffer, an interface its dynamic type
 *      (direct or not), a func value its closure (Go 1.23+ DWARF gives the
 *      captured variables' offsets; before, the function's loads from its
 *      context register do on amd64 and arm64; elsewhere only its name).
 *
 * A type is given to an object only at its data start or at a multiple
 * of the type's size from it, once (first come: self types, then in the
 * order of the walk), and only when every pointer word of the type is a
 * pointer word of the object (from the heap's own metadata), and a
 * pointer-free type is not given to an object of a scan span: a mismatch
 * is counted as rejected. Typed objects wait in a bounded stack that
 * spills into a bitset, walked in id order, so memory stays bounded.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dwarf/a64.h"
#include "dwarf/x86.h"
#include "objects/stackroots.h"
#include "objects/typing.h"
#include "runtime/memprofile.h"
#include "target/pclntab.h"

#define MAX_LEAVES	   (1u << 20) /* pointer words of one type; more: the type is not walked */
#define STACK_ENTRIES	   (1u << 16) /* typed objects waiting to be walked, then the bitset */
#define MAX_DIRECTORY	   (1u << 16) /* entries of a swiss map's directory */
#define SCRATCH_BYTES	   (1u << 20) /* objects up to this size are read whole for their walk */
#define MAX_ELEMS_WALK	   (1ULL << 32)
#define MAX_SECTIONS	   64 /* modules' data and bss sections read for statics */
#define MAX_STATIC_SECTION ((uint64_t)256 << 20) /* bytes of one: a bigger one has no statics */
#define MAX_STATIC_MASKS   ((uint64_t)16 << 20)	 /* bytes of all their masks */
#define MAX_STATICS	   (1u << 16)		 /* static values walked */
#define MAX_STATIC_DEPTH   8			 /* statics reached through statics */
/*
 * The core's pages that the walk touched stay mapped, and count in RSS,
 * until dropped (as the marking does, objects/mark.c): after this many
 * object bytes walked, MADV_DONTNEED on the read-only private mapping (the
 * next read faults them in again from the page cache).
 *
 * Measured on the 2 GiB bench core (tests/bench/bench_types.py): releasing
 * every 8 MiB costs no CPU time that the noise shows against never
 * releasing (the page cache refills the pages at a fault each 16 of them),
 * and keeps `types` at 159 MiB of peak RSS against 220 MiB at 16-32 MiB
 * and 620 MiB never.
 */
#define RELEASE_EVERY_BYTES ((uint64_t)8 << 20)

/* One pointer-shaped word of a type: where, what kind, and the type it leads to. */
struct leaf {
	uint64_t off;
	uint8_t kind; /* GM_KIND_* of the word's value */
	bool eface;   /* interfaces: empty (the first word is a type, not an itab) */
	uint32_t to;  /* pointer, slice, chan: element type; map: the map type */
};

/* A module's data or bss: bit k of mask says whether word k is a pointer (symtab.go). */
struct static_section {
	uint64_t start, end;
	uint8_t *mask;
};

/* A typed object waiting to be walked, with its span. */
struct item {
	uint32_t id, span;
};

struct type_leaves {
	bool done, truncated;
	uint8_t names; /* NAMES_KNOWN | NAME_SHAPE | NAME_TRIE_NODE, once read */
	/*
	 * Set once an object got the type: a plain pointer-free type of a
	 * size (no shape, no trie node, no closure, no leaves), whose
	 * candidates candidate_checked decides inline (candidate_leafless).
	 */
	bool leafless;
	uint32_t first, n;
};

struct state {
	struct gm_typing *ty;
	struct gm_graph *g;
	struct gm_heap_index *idx;
	struct gm_memory *mem;
	struct type_leaves *info; /* per type id */
	size_t ninfo;
	struct leaf *leaves;
	size_t nleaves, cap_leaves;
	struct item *stack;
	size_t nstack;
	uint64_t walked;   /* object bytes walked since the core's pages were last released */
	uint64_t *pending; /* bit id: typed, not walked yet */
	uint64_t npending;
	size_t pending_words;
	uint8_t *scratch;    /* SCRATCH_BYTES, on first use */
	const uint8_t *view; /* the bytes of the object being walked, [view_base, +view_len) */
	uint64_t view_base, view_len;
	uint64_t window[GM_PTRMAP_WINDOW / 64];
	struct gm_where_cache where; /* locate()'s */
	/* Types the walk needs by name (GM_TYPE_UNKNOWN when the DWARF has none). */
	uint32_t t_uint8, t_hchan, t_hmap, t_smap, t_table, t_dir;
	struct gm_dwarf_closure *closures, *funcs;
	size_t nclosures, nfuncs;
	struct gm_u64map closure_types; /* fn entry -> type id + 1 */
	struct gm_u64map trie_types;	/* node type id << 1 | isEntry -> type id + 1 */
	struct gm_pclntab *pcln;
	uint64_t bias;
	/* The modules' data and bss with their GC masks, for the statics (statics_init). */
	struct static_section *sections;
	size_t nsections;
	uint64_t mask_bytes;
	struct gm_u64map static_seen; /* address of a static value walked -> type id + 1 */
	unsigned static_depth;
};

GM_DEFINE_GROW(grow_leaf, struct leaf)

enum { NAMES_KNOWN = 1, NAME_SHAPE = 2, NAME_TRIE_NODE = 4 };

/* ---- the pointer words of a type ---- */

struct frame {
	uint32_t id;
	uint64_t off;
};

static bool is_eface(const struct gm_gotype *t)
{
	return strcmp(t->name, "interface {}") == 0 || strcmp(t->name, "any") == 0;
}

/* Generic shapes (go.shape.*) stand for any type of that shape: nothing to learn from them. */
static bool is_shape(const struct gm_gotype *t)
{
	return strncmp(t->name, "go.shape.", 9) == 0;
}

/* The bucket type of an old map (map.bucket[K]V, reflectdata/map.go). */
static bool is_bucket(const struct gm_gotype *t)
{
	return strncmp(t->name, "map.bucket[", 11) == 0;
}

static bool has_pointers(const struct gm_gotype *t)
{
	return t->ptrdata != 0 && t->kind != GM_KIND_INVALID;
}

static struct gomem_error *add_leaf(struct state *s, struct type_leaves *tl, uint64_t off,
				    const struct gm_gotype *t)
{
	struct leaf l = {.off = off, .kind = (uint8_t)t->kind};
	switch (t->kind) {
	case GM_KIND_POINTER:
	case GM_KIND_SLICE:
	case GM_KIND_CHAN:
		TRY(gm_gotypes_ref(&s->ty->tt, t->elem, &l.to));
		break;
	case GM_KIND_MAP:
		/* The map type itself: its descriptor knows the groups. */
		l.to = 0;
		break;
	case GM_KIND_INTERFACE:
		l.eface = is_eface(t);
		break;
	default:
		break;
	}
	if (s->nleaves - tl->first >= MAX_LEAVES) {
		tl->truncated = true;
		return NULL;
	}
	struct leaf *slot = grow_leaf(&s->leaves, &s->nleaves, &s->cap_leaves);
	if (!slot)
		return &gm_error_no_memory;
	*slot = l;
	return NULL;
}

GM_DEFINE_GROW(grow_frame, struct frame)

/*
 * sync/atomic.Pointer[T]{_ [0]*T; _ noCopy; v unsafe.Pointer}: the word v
 * points to a T (sync/atomic/type.go), which only the [0]*T field says.
 */
static struct gomem_error *atomic_pointer(struct state *s, struct type_leaves *tl, struct frame fr)
{
	struct gm_gotypes *tt = &s->ty->tt;
	size_t n;
	uint32_t zero = GM_TYPE_UNKNOWN, ptr, elem = GM_TYPE_UNKNOWN;
	uint64_t v_off = 0;
	bool have_v = false;
	const struct gm_gofield *fs = gm_gotypes_fields(tt, fr.id, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(fs[i].name, "v") == 0) {
			v_off = fs[i].offset;
			have_v = true;
		} else if (i == 0) {
			TRY(gm_gotypes_ref(tt, fs[i].type, &zero));
			fs = gm_gotypes_fields(tt, fr.id, &n);
		}
	}
	const struct gm_gotype *z = gm_gotypes_get(tt, zero);
	if (!have_v || z->kind != GM_KIND_ARRAY || z->len != 0)
		return NULL;
	TRY(gm_gotypes_ref(tt, z->elem, &ptr));
	const struct gm_gotype *p = gm_gotypes_get(tt, ptr);
	if (p->kind != GM_KIND_POINTER)
		return NULL;
	TRY(gm_gotypes_ref(tt, p->elem, &elem));
	if (s->nleaves - tl->first >= MAX_LEAVES) {
		tl->truncated = true;
		return NULL;
	}
	struct leaf *slot = grow_leaf(&s->leaves, &s->nleaves, &s->cap_leaves);
	if (!slot)
		return &gm_error_no_memory;
	*slot = (struct leaf){.off = fr.off + v_off, .kind = GM_KIND_POINTER, .to = elem};
	return NULL;
}

static struct gomem_error *leaves_build(struct state *s, uint32_t id,
					const struct type_leaves **ret);

/* The leaves of type id: built once (leaves_build), then an array's entry. */
static inline struct gomem_error *leaves_of(struct state *s, uint32_t id,
					    const struct type_leaves **ret)
{
	if (id < s->ninfo && s->info[id].done) {
		*ret = &s->info[id];
		return NULL;
	}
	return leaves_build(s, id, ret);
}

/*
 * The leaves of type id, computed once: an explicit stack over its fields
 * and elements (no recursion), bounded in steps and leaves.
 */
static struct gomem_error *leaves_build(struct state *s, uint32_t id,
					const struct type_leaves **ret)
{
	struct gm_gotypes *tt = &s->ty->tt;
	if (id >= s->ninfo) {
		size_t n = tt->ntypes + 64;
		struct type_leaves *v = realloc(s->info, n * sizeof(*v));
		if (!v)
			return &gm_error_no_memory;
		memset(v + s->ninfo, 0, (n - s->ninfo) * sizeof(*v));
		s->info = v;
		s->ninfo = n;
	}
	if (s->info[id].done) {
		*ret = &s->info[id];
		return NULL;
	}
	struct type_leaves tl = {.done = true, .first = (uint32_t)s->nleaves};
	struct frame *stack = NULL, *f;
	size_t depth = 0, cap = 0;
	uint64_t steps = 0;
	struct gomem_error *err = NULL;
	if (!(f = grow_frame(&stack, &depth, &cap)))
		return &gm_error_no_memory;
	*f = (struct frame){id, 0};
	while (depth && !tl.truncated && !err) {
		struct frame fr = stack[--depth];
		const struct gm_gotype *t = gm_gotypes_get(tt, fr.id);
		if (++steps > 4 * (uint64_t)MAX_LEAVES) {
			tl.truncated = true;
			break;
		}
		/* A generic shape says nothing of its type, except an interface's. */
		if (is_shape(t) && t->kind != GM_KIND_INTERFACE)
			continue;
		switch (t->kind) {
		case GM_KIND_POINTER:
		case GM_KIND_UNSAFE_POINTER:
		case GM_KIND_SLICE:
		case GM_KIND_STRING:
		case GM_KIND_CHAN:
		case GM_KIND_FUNC:
		case GM_KIND_INTERFACE:
		case GM_KIND_MAP: {
			bool map = t->kind == GM_KIND_MAP; /* t moves when a type is added */
			err = add_leaf(s, &tl, fr.off, t);
			if (!err && map && s->nleaves > tl.first)
				s->leaves[s->nleaves - 1].to = fr.id;
			break;
		}
		case GM_KIND_ARRAY: {
			uint32_t e;
			uint64_t len = t->len; /* t moves when a type is added */
			if ((err = gm_gotypes_ref(tt, t->elem, &e)) != NULL)
				break;
			uint64_t esize = gm_gotypes_get(tt, e)->size;
			if (!has_pointers(gm_gotypes_get(tt, e)) || !esize)
				break;
			if (len > MAX_LEAVES || depth + len > MAX_LEAVES) {
				tl.truncated = true;
				break;
			}
			for (uint64_t i = len; i-- > 0;) {
				if (!(f = grow_frame(&stack, &depth, &cap))) {
					err = &gm_error_no_memory;
					break;
				}
				*f = (struct frame){e, fr.off + i * esize};
			}
			break;
		}
		case GM_KIND_STRUCT: {
			size_t n;
			bool bucket = is_bucket(t); /* t moves when a type is added below */
			if (strncmp(t->name, "sync/atomic.Pointer[", 20) == 0 ||
			    strncmp(t->name, "atomic.Pointer[", 15) == 0) {
				err = atomic_pointer(s, &tl, fr);
				break;
			}
			gm_gotypes_fields(tt, fr.id, &n);
			for (size_t i = n; i-- > 0 && !err;) {
				uint32_t fid;
				const struct gm_gofield *fs = gm_gotypes_fields(tt, fr.id, &n);
				uint64_t off = fs[i].offset;
				bool overflow = strcmp(fs[i].name, "overflow") == 0;
				if ((err = gm_gotypes_ref(tt, fs[i].type, &fid)) != NULL)
					break;
				if (!has_pointers(gm_gotypes_get(tt, fid)))
					continue;
				/*
				 * An old map's bucket points to its overflow bucket
				 * through an unsafe.Pointer (MapBucketType,
				 * reflectdata/map.go@1.23): a pointer to a bucket.
				 */
				if (overflow && bucket &&
				    gm_gotypes_get(tt, fid)->kind == GM_KIND_UNSAFE_POINTER) {
					err =
					    add_leaf(s, &tl, fr.off + off, gm_gotypes_get(tt, fid));
					if (!err && s->nleaves > tl.first) {
						s->leaves[s->nleaves - 1].kind = GM_KIND_POINTER;
						s->leaves[s->nleaves - 1].to = fr.id;
					}
					continue;
				}
				if (!(f = grow_frame(&stack, &depth, &cap))) {
					err = &gm_error_no_memory;
					break;
				}
				*f = (struct frame){fid, fr.off + off};
			}
			break;
		}
		default:
			break;
		}
	}
	free(stack);
	TRY(err);
	tl.n = (uint32_t)(s->nleaves - tl.first);
	if (id >= s->ninfo) {
		size_t n = id + 64;
		struct type_leaves *v = realloc(s->info, n * sizeof(*v));
		if (!v)
			return &gm_error_no_memory;
		memset(v + s->ninfo, 0, (n - s->ninfo) * sizeof(*v));
		s->info = v;
		s->ninfo = n;
	}
	tl.names = s->info[id].names;
	s->info[id] = tl;
	*ret = &s->info[id];
	return NULL;
}

static struct gomem_error *info_room(struct state *s, uint32_t id)
{
	if (id < s->ninfo)
		return NULL;
	size_t n = s->ty->tt.ntypes + 64 > (size_t)id + 1 ? s->ty->tt.ntypes + 64 : (size_t)id + 64;
	struct type_leaves *v = realloc(s->info, n * sizeof(*v));
	if (!v)
		return &gm_error_no_memory;
	memset(v + s->ninfo, 0, (n - s->ninfo) * sizeof(*v));
	s->info = v;
	s->ninfo = n;
	return NULL;
}

static struct gomem_error *name_flags_read(struct state *s, uint32_t tid, uint8_t *ret);

/* What a type's name says (a shape, a HashTrieMap node), read once per type. */
static inline struct gomem_error *name_flags(struct state *s, uint32_t tid, uint8_t *ret)
{
	if (tid < s->ninfo && (s->info[tid].names & NAMES_KNOWN)) {
		*ret = s->info[tid].names;
		return NULL;
	}
	return name_flags_read(s, tid, ret);
}

static struct gomem_error *name_flags_read(struct state *s, uint32_t tid, uint8_t *ret)
{
	TRY(info_room(s, tid));
	if (!(s->info[tid].names & NAMES_KNOWN)) {
		const char *n = gm_gotypes_get(&s->ty->tt, tid)->name;
		uint8_t f = NAMES_KNOWN;
		if (strncmp(n, "go.shape.", 9) == 0)
			f |= NAME_SHAPE;
		if (strncmp(n, "internal/sync.node[", 19) == 0 || strncmp(n, "sync.node[", 10) == 0)
			f |= NAME_TRIE_NODE;
		s->info[tid].names = f;
	}
	*ret = s->info[tid].names;
	return NULL;
}

/* ---- giving a type to an object ---- */

/* The allocated slot that p points into, and its span (the heap index's page table). */
static inline bool locate(struct state *s, uint64_t p, uint32_t *id_ret, uint32_t *span_ret)
{
	return gm_heap_index_where_cached(s->idx, &s->where, p, id_ret, span_ret) ==
		   GM_PLACE_SLOT &&
	       gm_heap_index_allocated(s->idx, *id_ret);
}

static void push(struct state *s, uint32_t id, uint32_t span)
{
	if (s->nstack < STACK_ENTRIES)
		s->stack[s->nstack++] = (struct item){id, span};
	else if (!gm_bit(s->pending, id)) {
		gm_bit_set(s->pending, id);
		s->npending++;
	}
}

/* The type of id (gm_gotypes_get, inline: it is asked for every candidate). */
static inline const struct gm_gotype *gtype(const struct state *s, uint32_t id)
{
	const struct gm_gotypes *tt = &s->ty->tt;
	return &tt->types[id < tt->ntypes ? id : 0];
}

/* Whether every pointer word of t (at element offset off of the object's data) is one. */
static struct gomem_error *fits(struct state *s, uint32_t id, const struct gm_span_hot *sp,
				uint64_t off, uint32_t tid, bool *ret)
{
	const struct type_leaves *tl;
	TRY(leaves_of(s, tid, &tl)); /* first: it may add types, which moves them */
	const struct gm_gotype *t = gtype(s, tid);
	bool noscan = sp->layout == GM_LAYOUT_NOSCAN;
	*ret = false;
	if (tl->truncated)
		return NULL;
	if (!tl->n && t->kind == GM_KIND_STRUCT && strncmp(t->name, "closure ", 8) == 0) {
		/* A closure without pointers: its word 0 (the function) said so, nothing else. */
		*ret = true;
		return NULL;
	}
	if (!tl->n) {
		/* A pointer-free type lives in a noscan span, except the tiny and class-1 cases. */
		*ret = noscan || !has_pointers(t);
		if (!noscan && t->kind != GM_KIND_INVALID && t->ptrdata == 0)
			*ret = false;
		return NULL;
	}
	if (noscan)
		return NULL;
	uint64_t first = (sp->header_bytes + off) / 8;
	uint64_t nwords = (t->size + 7) / 8;
	if (nwords > GM_PTRMAP_WINDOW)
		nwords = GM_PTRMAP_WINDOW;
	TRY(gm_ptrmap_window(s->g->pm, id, first, nwords, s->window));
	for (uint32_t k = 0; k < tl->n; k++) {
		const struct leaf *l = &s->leaves[tl->first + k];
		uint64_t w = l->off / 8 + (l->kind == GM_KIND_INTERFACE);
		if (w >= nwords)
			continue;
		if (!gm_bit(s->window, w))
			return NULL;
	}
	*ret = true;
	return NULL;
}

/* The object that p points into gets type tid (an array of it when array), if it fits. */
/* internal/sync.WHAT[go.shape.K,go.shape.V] for params "[K,V]" (split at depth 0). */
static struct gomem_error *shape_named(struct state *s, const char *what, const char *params,
				       uint32_t *ret)
{
	char name[512];
	size_t n = (size_t)snprintf(name, sizeof(name), "internal/sync.%s[go.shape.", what);
	int depth = 0;
	for (const char *c = params + 1; *c && n + 16 < sizeof(name); c++) {
		if (*c == '[' || *c == '(' || *c == '{')
			depth++;
		else if ((*c == ']' || *c == ')' || *c == '}') && depth > 0)
			depth--;
		name[n++] = *c;
		if (*c == ',' && depth == 0)
			n += (size_t)snprintf(name + n, sizeof(name) - n, "go.shape.");
	}
	name[n] = 0;
	*ret = GM_TYPE_UNKNOWN;
	return gm_gotypes_named(&s->ty->tt, name, ret);
}

/*
 * internal/sync.HashTrieMap (sync.Map from 1.24) points to its nodes as
 * *node[K,V]{isEntry bool}, the head of an entry[K,V] or an indirect[K,V]
 * (internal/sync/hashtriemap.go@1.24): the flag says which.
 */
static struct gomem_error *trie_node(struct state *s, uint64_t p, uint32_t *tid)
{
	const char *name = gm_gotypes_get(&s->ty->tt, *tid)->name;
	char other[512];
	uint8_t entry = 0;
	/* DWARF names the package internal/sync, the runtime by its last element. */
	const char *params = strncmp(name, "internal/sync.node[", 19) == 0 ? name + 18
			     : strncmp(name, "sync.node[", 10) == 0	   ? name + 9
									   : NULL;
	if (!params || !gm_read_ok(s->mem, p, &entry, 1))
		return NULL;
	uint64_t key = ((uint64_t)*tid << 1) | (entry != 0);
	uint64_t v = gm_u64map_get(&s->trie_types, key);
	if (!v) {
		uint32_t id;
		snprintf(other, sizeof(other), "internal/sync.%s%s", entry ? "entry" : "indirect",
			 params);
		TRY(gm_gotypes_named(&s->ty->tt, other, &id));
		if (id == GM_TYPE_UNKNOWN) /* only the shape's DWARF: same layout (1.27) */
			TRY(shape_named(s, entry ? "entry" : "indirect", params, &id));
		v = (uint64_t)id + 1;
		if (!gm_u64map_put(&s->trie_types, key, v))
			return &gm_error_no_memory;
	}
	if (v - 1 != GM_TYPE_UNKNOWN)
		*tid = (uint32_t)(v - 1);
	return NULL;
}

static struct gomem_error *static_value(struct state *s, uint64_t p, uint32_t tid);

/*
 * An object typed as one T (a **T such as runtime.allgptr reached it first)
 * that a []T or a *[N]T now reaches is an array of T: walked again whole
 * (its first element's referents are typed already and stay so).
 */
static struct gomem_error *widen(struct state *s, uint32_t id, uint32_t span, uint32_t tid)
{
	if (s->ty->type[id] != tid)
		return NULL;
	s->ty->type[id] = tid | GM_TYPING_ARRAY;
	s->ty->stats.widened++;
	push(s, id, span);
	return NULL;
}

/* candidate_checked for the allocated, untyped slot id of span span that p points into. */
static struct gomem_error *candidate_slot(struct state *s, uint64_t p, uint32_t id, uint32_t span,
					  uint32_t tid, bool array, bool check)
{
	uint8_t flags;
	TRY(name_flags(s, tid, &flags));
	if (flags & NAME_TRIE_NODE) {
		TRY(trie_node(s, p, &tid));
		TRY(name_flags(s, tid, &flags));
	}
	if (flags & NAME_SHAPE)
		return NULL;
	const struct gm_gotype *t = gtype(s, tid);
	const struct gm_span_hot *sp = &s->idx->hot[span];
	bool noscan = sp->layout == GM_LAYOUT_NOSCAN;
	uint64_t size = sp->elemsize, base = sp->base + (uint64_t)(id - sp->first_id) * size;
	uint64_t data = base + sp->header_bytes;
	if (!t->size || p < data || size < sp->header_bytes)
		return NULL;
	uint64_t off = p - data;
	/* A pointer into an object is to one of its fields, unless to an array's element. */
	if (off && (!array || off % t->size)) {
		s->ty->stats.interior++;
		return NULL;
	}
	if (!has_pointers(t) && !noscan && strncmp(t->name, "closure ", 8) != 0) {
		/*
		 * A pointer-free value is never an allocation of a scan span: this is a
		 * pointer to a field of a bigger object (&x.n, x.arr[:]), not its type.
		 */
		s->ty->stats.interior++;
		return NULL;
	}
	if (t->size > size - sp->header_bytes) {
		s->ty->stats.rejected++;
		return NULL;
	}
	bool ok = true;
	if (check)
		TRY(fits(s, id, sp, off, tid, &ok));
	if (!ok) {
		s->ty->stats.rejected++;
		return NULL;
	}
	s->ty->type[id] = tid | (array || off ? GM_TYPING_ARRAY : 0);
	s->ty->stats.propagated++;
	const struct type_leaves *tl;
	TRY(leaves_of(s, tid, &tl));
	if (tl->n) /* an object of a pointer-free type leads nowhere: nothing to walk */
		push(s, id, span);
	t = gtype(s, tid); /* leaves_of may have added types, which moves them */
	if (!tl->n && !tl->truncated && !(flags & (NAME_TRIE_NODE | NAME_SHAPE)) && t->size &&
	    !has_pointers(t) && strncmp(t->name, "closure ", 8) != 0)
		s->info[tid].leafless = true;
	return NULL;
}

/*
 * candidate_slot for a type of type_leaves.leafless, the same decisions
 * without their lookups: the pointer-free type fits a noscan slot at its
 * start (or an array's element); in a scan span it is a field's address.
 */
static inline void candidate_leafless(struct state *s, uint64_t p, uint32_t id, uint32_t span,
				      uint32_t tid, bool array)
{
	const struct gm_span_hot *sp = &s->idx->hot[span];
	uint64_t size = sp->elemsize, tsize = gtype(s, tid)->size;
	uint64_t data = sp->base + (uint64_t)(id - sp->first_id) * size + sp->header_bytes;
	if (p < data || size < sp->header_bytes)
		return;
	uint64_t off = p - data;
	if (sp->layout != GM_LAYOUT_NOSCAN || (off && (!array || off % tsize))) {
		s->ty->stats.interior++;
		return;
	}
	if (tsize > size - sp->header_bytes) {
		s->ty->stats.rejected++;
		return;
	}
	s->ty->type[id] = tid | (array || off ? GM_TYPING_ARRAY : 0);
	s->ty->stats.propagated++;
}

/*
 * The object that p points into gets type tid (an array of it when array),
 * if it fits (when check). Inline up to the slot's lookup: most pointers
 * lead to an object typed already.
 */
static inline struct gomem_error *candidate_checked(struct state *s, uint64_t p, uint32_t tid,
						    bool array, bool check)
{
	uint32_t id, span;
	if (!p || tid == GM_TYPE_UNKNOWN)
		return NULL;
	if (!locate(s, p, &id, &span))
		return s->nsections && !array ? static_value(s, p, tid) : NULL;
	if (s->ty->type[id])
		return array ? widen(s, id, span, tid) : NULL;
	if (tid < s->ninfo && s->info[tid].leafless) {
		candidate_leafless(s, p, id, span, tid, array);
		return NULL;
	}
	return candidate_slot(s, p, id, span, tid, array, check);
}

static inline struct gomem_error *candidate(struct state *s, uint64_t p, uint32_t tid, bool array)
{
	return candidate_checked(s, p, tid, array, true);
}

/* ---- what a word leads to ---- */

static struct gomem_error *value(struct state *s, uint64_t addr, uint32_t tid);

static inline uint64_t word(struct state *s, uint64_t addr)
{
	uint64_t v = 0;
	if (s->view && addr - s->view_base < s->view_len &&
	    s->view_len - (addr - s->view_base) >= 8) {
		memcpy(&v, s->view + (addr - s->view_base), 8);
		return v;
	}
	if (!gm_read_ok(s->mem, addr, &v, 8))
		return 0;
	return v;
}

static struct gomem_error *via_map(struct state *s, uint64_t m, uint32_t map_tid)
{
	const struct gm_types_layout *L = s->ty->tt.L;
	const struct gm_maptype *mt = gm_gotypes_map(&s->ty->tt, map_tid);
	uint32_t group;
	if (!m || !mt)
		return NULL;
	TRY(gm_gotypes_ref(&s->ty->tt, mt->group, &group));
	if (mt->impl == GM_MAP_OLD) {
		TRY(candidate(s, m, s->t_hmap, false));
		TRY(candidate(s, word(s, m + L->hmap_buckets.offset), group, true));
		return candidate(s, word(s, m + L->hmap_oldbuckets.offset), group, true);
	}
	TRY(candidate(s, m, s->t_smap, false));
	uint64_t dir = word(s, m + L->smap_dir_ptr.offset);
	uint64_t dir_len = word(s, m + L->smap_dir_len.offset);
	if (!dir_len) /* a small map: the directory is one group */
		return candidate(s, dir, group, false);
	if (dir_len > MAX_DIRECTORY)
		return NULL;
	TRY(candidate(s, dir, s->t_dir, true));
	uint64_t last = 0;
	for (uint64_t i = 0; i < dir_len; i++) {
		uint64_t table = word(s, dir + 8 * i);
		if (!table || table == last) /* a table covers 2^k consecutive entries */
			continue;
		last = table;
		TRY(candidate(s, table, s->t_table, false));
		TRY(candidate(s, word(s, table + L->table_groups_data.offset), group, true));
	}
	return NULL;
}

static struct gomem_error *via_chan(struct state *s, uint64_t c, uint32_t elem)
{
	const struct gm_types_layout *L = s->ty->tt.L;
	uint32_t hc, bc;
	if (!c)
		return NULL;
	/*
	 * A channel of pointer-free elements is one noscan allocation, hchan and
	 * buffer (makechan, chan.go): its hchan has no pointer words to check.
	 */
	bool noscan =
	    gm_heap_index_lookup(s->idx, c, &hc) && gm_heap_index_span(s->idx, hc)->noscan;
	TRY(candidate_checked(s, c, s->t_hchan, false, !noscan));
	uint64_t buf = word(s, c + L->hchan_buf.offset);
	uint64_t n = word(s, c + L->hchan_dataqsiz.offset);
	/* A buffer of pointer-free elements shares the hchan's allocation (makechan, chan.go). */
	if (!buf || !n || !gm_heap_index_lookup(s->idx, c, &hc) ||
	    !gm_heap_index_lookup(s->idx, buf, &bc) || hc == bc)
		return NULL;
	return candidate(s, buf, elem, true);
}

/*
 * A closure's captured variables before Go 1.23, from its code: the
 * closure object is in the context register at the function's entry (DX on
 * amd64, R26 on arm64: ABIInternal), and its code loads the captured words
 * from it (MOVQ off(DX), R; LDR/LDP R, [X26, #off]). Right after such a
 * load, a variable whose DWARF location keeps a word in R holds the
 * closure's word at off: that is the variable's offset. The scan follows
 * the code from the entry while the context register holds the closure (it
 * stops at a call, an unconditional jump or a return, and on amd64 at any
 * instruction that names DX as a register, on arm64 at one that may write
 * X26 or that the decoder does not know), so every load it reads is from
 * the closure. A load of fewer than 8 bytes (arm64's LDRB, LDRSW, LDR W)
 * counts only for a variable of that size that the register holds whole.
 * A variable found at two offsets, or two that overlap, give no layout.
 */
#define CLOSURE_CODE_BYTES 512
#define CLOSURE_INSNS	   96
#define A64_CONTEXT	   26 /* R26, arm64's closure context register (cmd/compile ABI) */
#define DWARF_A64_V0	   64 /* DWARF's arm64 register number of V0 (X0-X30 are 0-30) */

/* DWARF's x86-64 register numbers by the encoding's (rax rcx rdx rbx rsp rbp rsi rdi r8-r15). */
static const uint8_t dwarf_x86_reg[16] = {0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};

/* A load from the closure: size bytes at off into DWARF register reg. */
struct ctx_load {
	unsigned reg;
	int64_t off;
	unsigned size;
};

/* One instruction of the scan: its length, its loads from the closure, whether the scan ends. */
struct ctx_step {
	size_t len;
	struct ctx_load loads[2];
	size_t nloads;
	bool end;
};

/* Whether the scan stops at in: it names DX as a register, or leaves the straight line. */
static bool ends_context(const struct gm_x86_insn *in)
{
	if (in->modrm && (in->reg == GM_X86_RDX || (!in->mem && in->rm == GM_X86_RDX)))
		return true;
	if (in->vex || in->map != 0)
		return in->map == 1 && (in->op == 0xA2 || in->op == 0x31); /* cpuid, rdtsc */
	uint8_t op = in->op;
	return (op >= 0x50 && op <= 0x5F && op % 8 == 2) || (op >= 0x90 && op <= 0x99) ||
	       (op >= 0xB8 && op <= 0xBF && op % 8 == 2) || op == 0xE8 || op == 0xE9 ||
	       op == 0xEB || op == 0xC3 || op == 0xC2 || op == 0xCC || op == 0xF6 || op == 0xF7 ||
	       op == 0xFF;
}

/* amd64: MOVQ off(DX), R. False when the bytes are no instruction it knows. */
static bool x86_step(const uint8_t *p, size_t n, struct ctx_step *st)
{
	struct gm_x86_insn in;
	if (!gm_x86_decode(p, n, &in))
		return false;
	st->len = in.len;
	st->nloads = 0;
	if (in.map == 0 && !in.vex && in.op == 0x8B && in.rex_w && in.mem && !in.rip &&
	    in.base == GM_X86_RDX && in.index == GM_X86_NO_REG)
		st->loads[st->nloads++] = (struct ctx_load){dwarf_x86_reg[in.reg & 15], in.disp, 8};
	st->end = ends_context(&in);
	return true;
}

/* arm64: LDR*, LDUR*, LDP* from [X26, #off], into general or SIMD&FP registers. */
static bool a64_step(const uint8_t *p, size_t n, struct ctx_step *st)
{
	struct gm_a64_insn in;
	if (!gm_a64_decode(p, n, &in))
		return false;
	st->len = GM_A64_INSN_BYTES;
	st->nloads = 0;
	if (in.cls == GM_A64_LOAD && in.rn == A64_CONTEXT && in.size <= 8) {
		for (unsigned k = 0; k < in.nregs && k < GM_ARRAY_SIZE(st->loads); k++) {
			if (!in.fp && in.rt[k] == 31) /* XZR */
				continue;
			st->loads[st->nloads++] =
			    (struct ctx_load){in.fp ? DWARF_A64_V0 + in.rt[k] : in.rt[k],
					      in.offset + k * in.size, in.size};
		}
	}
	st->end =
	    in.cls == GM_A64_UNKNOWN || in.cls == GM_A64_BRANCH || (in.writes & 1u << A64_CONTEXT);
	return true;
}

/* Adds variable m at offset off of the closure; *bad when it contradicts what was found. */
static void code_field(struct gm_gofield *fields, size_t *n, size_t max,
		       const struct gm_dwarf_member *m, uint64_t off, bool *bad)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(fields[i].name, m->name) == 0) {
			*bad |= fields[i].offset != off;
			return;
		}
	}
	if (*n == max) {
		*bad = true;
		return;
	}
	fields[(*n)++] = (struct gm_gofield){m->name, off,
					     (struct gm_typeref){GM_TYPEREF_DWARF, m->type}, false};
}

static int cmp_field(const void *a, const void *b)
{
	const struct gm_gofield *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * The variables that register ld.reg holds right after the load at pc, as
 * fields at their offsets in the closure: every word of a variable for an
 * 8-byte load; for a narrower one, a variable of its size held whole.
 */
static struct gomem_error *load_fields(struct state *s, uint64_t die, uint64_t pc,
				       const struct ctx_load *ld, struct gm_gofield *fields,
				       size_t *n, size_t max, bool *bad)
{
	struct gm_dwarf *dw = s->ty->tt.rt->dw;
	struct gm_dwarf_member *m;
	size_t nm;
	if (ld->off < 8 || ld->size == 0 || ld->size > 8 || ld->off % ld->size != 0)
		return NULL;
	TRY(gm_dwarf_reg_vars(dw, die, pc, ld->reg, &m, &nm));
	for (size_t i = 0; i < nm; i++) {
		if ((uint64_t)ld->off < m[i].offset + 8)
			continue;
		if (ld->size < 8) {
			struct gm_dwarf_type dt;
			struct gomem_error *err = gm_dwarf_type_at(dw, m[i].type, &dt);
			if (err) {
				free(m);
				return err;
			}
			if (m[i].offset != 0 || dt.size != ld->size)
				continue;
		}
		code_field(fields, n, max, &m[i], (uint64_t)ld->off - m[i].offset, bad);
	}
	free(m);
	return NULL;
}

static struct gomem_error *code_fields(struct state *s, enum gm_arch_id arch, uint64_t fn,
				       uint64_t die, struct gm_gofield *fields, size_t max,
				       size_t *n_ret, uint64_t *size_ret)
{
	struct gm_dwarf *dw = s->ty->tt.rt->dw;
	uint8_t code[CLOSURE_CODE_BYTES];
	size_t len = sizeof(code), at = 0, n = 0;
	bool bad = false;
	*n_ret = 0;
	while (len >= 64 && !gm_read_ok(s->mem, fn, code, len))
		len /= 2;
	if (len < 64)
		return NULL;
	for (unsigned k = 0; k < CLOSURE_INSNS && at < len && !bad; k++) {
		struct ctx_step st;
		if (!(arch == GM_ARCH_ARM64 ? a64_step : x86_step)(code + at, len - at, &st) ||
		    st.len == 0 || st.len > len - at)
			break;
		at += st.len;
		for (size_t i = 0; i < st.nloads; i++)
			TRY(load_fields(s, die, fn + at - s->bias, &st.loads[i], fields, &n, max,
					&bad));
		if (st.end)
			break;
	}
	gm_sort(fields, n, sizeof(*fields), cmp_field);
	uint64_t end = 8;
	for (size_t i = 0; i < n && !bad; i++) {
		struct gm_dwarf_type dt;
		TRY(gm_dwarf_type_at(dw, fields[i].type.at, &dt));
		bad = fields[i].offset < end || dt.size > (1u << 20);
		end = fields[i].offset + dt.size;
	}
	if (bad) {
		s->ty->stats.closure_code_conflicts++;
		return NULL;
	}
	s->ty->stats.closure_code_layouts += n != 0;
	*n_ret = n;
	*size_ret = end;
	return NULL;
}

/* The type of a closure object from its function: captured variables (1.23+) or a name. */
static struct gomem_error *closure_type(struct state *s, uint64_t fn, uint32_t *ret)
{
	uint64_t v = gm_u64map_get(&s->closure_types, fn);
	*ret = GM_TYPE_UNKNOWN;
	if (v) {
		*ret = (uint32_t)(v - 1);
		return NULL;
	}
	uint64_t pc = fn - s->bias;
	size_t i = GM_UPPER_BOUND(s->closures, s->nclosures, pc, pc);
	struct gm_gofield fields[64];
	size_t n = 0;
	uint64_t size = 8;
	char name[512];
	const char *fname = NULL;
	if (i > 0 && s->closures[i - 1].pc == pc) {
		struct gm_dwarf_member *m;
		size_t nm;
		fname = s->closures[i - 1].name;
		TRY(gm_dwarf_closure_vars(s->ty->tt.rt->dw, s->closures[i - 1].die, &m, &nm));
		for (size_t k = 0; k < nm && n < GM_ARRAY_SIZE(fields); k++) {
			struct gm_dwarf_type dt;
			struct gomem_error *err =
			    gm_dwarf_type_at(s->ty->tt.rt->dw, m[k].type, &dt);
			if (err) {
				free(m);
				return err;
			}
			fields[n++] = (struct gm_gofield){
			    m[k].name, m[k].offset,
			    (struct gm_typeref){GM_TYPEREF_DWARF, m[k].type}, false};
			if (m[k].offset + dt.size > size)
				size = m[k].offset + dt.size;
		}
		free(m);
	} else if (s->pcln) {
		size_t j = GM_UPPER_BOUND(s->funcs, s->nfuncs, pc, pc);
		if (s->g->rt->arch && j > 0 && s->funcs[j - 1].pc == pc)
			TRY(code_fields(s, s->g->rt->arch->id, fn, s->funcs[j - 1].die, fields,
					GM_ARRAY_SIZE(fields), &n, &size));
		struct gm_func f;
		bool found = false;
		struct gomem_error *err = gm_pclntab_find_func(s->pcln, pc, &f, &found);
		if (err)
			gomem_error_destroy(err);
		else if (found && f.entry == pc)
			fname = f.name;
	}
	if (!fname)
		return NULL; /* not a function's entry: not a closure */
	snprintf(name, sizeof(name), "closure %s", fname);
	uint32_t id;
	TRY(gm_gotypes_add_struct(&s->ty->tt, name, (size + 7) & ~7ULL, fields, n, &id));
	if (!gm_u64map_put(&s->closure_types, fn, (uint64_t)id + 1))
		return &gm_error_no_memory;
	*ret = id;
	return NULL;
}

/* The type of the first parameter of the function whose entry is fn (DWARF); 0 when none. */
static struct gomem_error *param_type(struct state *s, uint64_t fn, uint32_t *ret)
{
	uint64_t pc = fn - s->bias, type;
	size_t i = GM_UPPER_BOUND(s->funcs, s->nfuncs, pc, pc);
	bool found = false;
	*ret = GM_TYPE_UNKNOWN;
	if (!fn || i == 0 || s->funcs[i - 1].pc != pc)
		return NULL;
	TRY(gm_dwarf_func_param(s->ty->tt.rt->dw, s->funcs[i - 1].die, 0, &type, &found));
	return found ? gm_gotypes_dwarf(&s->ty->tt, type, ret) : NULL;
}

/*
 * A generic closure's captured value of a shape type (go.shape.*uint8) is
 * of the type that the function value captured beside it takes: so it is
 * for runtime.AddCleanup's closure {cleanup func(S), arg S} (mcleanup.go@1.24).
 */
static struct gomem_error *shaped_fields(struct state *s, uint64_t obj, uint32_t tid)
{
	struct gm_gotypes *tt = &s->ty->tt;
	size_t n;
	uint64_t fn = 0;
	const struct gm_gofield *fs = gm_gotypes_fields(tt, tid, &n);
	for (size_t i = 0; i < n && !fn; i++) {
		uint32_t fid;
		uint64_t off = fs[i].offset;
		TRY(gm_gotypes_ref(tt, fs[i].type, &fid));
		fs = gm_gotypes_fields(tt, tid, &n);
		const struct gm_gotype *ft = gm_gotypes_get(tt, fid);
		if (ft->kind == GM_KIND_FUNC) {
			fn = word(s, word(s, obj + off));
		} else if (ft->kind == GM_KIND_POINTER) { /* captured by reference */
			uint32_t eid;
			TRY(gm_gotypes_ref(tt, ft->elem, &eid));
			fs = gm_gotypes_fields(tt, tid, &n);
			if (gm_gotypes_get(tt, eid)->kind == GM_KIND_FUNC)
				fn = word(s, word(s, word(s, obj + off)));
		}
	}
	for (size_t i = 0; fn && i < n; i++) {
		uint32_t fid, arg;
		uint64_t off = fs[i].offset;
		TRY(gm_gotypes_ref(tt, fs[i].type, &fid));
		const struct gm_gotype *shape = gm_gotypes_get(tt, fid);
		bool by_ref = false; /* captured by reference ("&arg"): a pointer to the shape */
		if (shape->kind == GM_KIND_POINTER && !is_shape(shape)) {
			uint32_t eid;
			TRY(gm_gotypes_ref(tt, shape->elem, &eid));
			shape = gm_gotypes_get(tt, eid);
			by_ref = true;
		}
		if (is_shape(shape)) {
			uint64_t size = shape->size;
			TRY(param_type(s, fn, &arg));
			if (arg != GM_TYPE_UNKNOWN && gm_gotypes_get(tt, arg)->size == size)
				TRY(by_ref ? candidate(s, word(s, obj + off), arg, false)
					   : value(s, obj + off, arg));
		}
		fs = gm_gotypes_fields(tt, tid, &n);
	}
	return NULL;
}

static struct gomem_error *via_func(struct state *s, uint64_t f)
{
	uint32_t id, tid;
	if (!f || !gm_heap_index_lookup(s->idx, f, &id) || s->ty->type[id])
		return NULL;
	TRY(closure_type(s, word(s, f), &tid));
	if (tid == GM_TYPE_UNKNOWN)
		return NULL;
	uint64_t before = s->ty->stats.propagated;
	TRY(candidate(s, f, tid, false));
	s->ty->stats.closures += s->ty->stats.propagated - before;
	return s->ty->stats.propagated > before ? shaped_fields(s, f, tid) : NULL;
}

static struct gomem_error *via_iface(struct state *s, uint64_t at, bool eface)
{
	uint64_t w0 = word(s, at), w1 = word(s, at + 8), dyn = w0;
	uint32_t d = GM_TYPE_UNKNOWN;
	if (!w0)
		return NULL;
	if (!eface)
		TRY(gm_gotypes_itab_type(&s->ty->tt, w0, &dyn));
	if (dyn)
		TRY(gm_gotypes_at(&s->ty->tt, dyn, &d));
	if (d == GM_TYPE_UNKNOWN && !eface) /* a named empty interface: the word is a type */
		TRY(gm_gotypes_at(&s->ty->tt, w0, &d));
	if (d == GM_TYPE_UNKNOWN)
		return NULL;
	const struct gm_gotype *t = gm_gotypes_get(&s->ty->tt, d);
	/* A pointer-shaped dynamic type is the data word itself (direct iface). */
	if (t->direct_iface)
		return value(s, at + 8, d);
	return candidate(s, w1, d, false);
}

/* What the pointer-shaped word(s) of a leaf at addr lead to. */
static struct gomem_error *follow(struct state *s, uint64_t addr, const struct leaf *l)
{
	switch (l->kind) {
	case GM_KIND_POINTER:
		return candidate(s, word(s, addr), l->to, false);
	case GM_KIND_SLICE:
		return word(s, addr + 16) ? candidate(s, word(s, addr), l->to, true) : NULL;
	case GM_KIND_STRING:
		return word(s, addr + 8) ? candidate(s, word(s, addr), s->t_uint8, true) : NULL;
	case GM_KIND_MAP:
		return via_map(s, word(s, addr), l->to);
	case GM_KIND_CHAN:
		return via_chan(s, word(s, addr), l->to);
	case GM_KIND_FUNC:
		return via_func(s, word(s, addr));
	case GM_KIND_INTERFACE:
		return via_iface(s, addr, l->eface);
	default:
		return NULL;
	}
}

/* Walks count values of type tid from addr. */
static struct gomem_error *values(struct state *s, uint64_t addr, uint32_t tid, uint64_t count)
{
	const struct type_leaves *tl;
	TRY(leaves_of(s, tid, &tl));
	uint32_t first = tl->first, n = tl->n;
	uint64_t size = gm_gotypes_get(&s->ty->tt, tid)->size;
	if (tl->truncated || !n || (!size && count > 1))
		return NULL;
	for (uint64_t e = 0; e < count; e++) {
		for (uint32_t k = 0; k < n; k++) {
			/* A copy: following it may add leaves, which moves them. */
			struct leaf l = s->leaves[first + k];
			uint64_t at = addr + e * size + l.off;
			if (l.kind == GM_KIND_POINTER) /* the most common leaf, inline */
				TRY(candidate(s, word(s, at), l.to, false));
			else
				TRY(follow(s, at, &l));
		}
	}
	return NULL;
}

static struct gomem_error *value(struct state *s, uint64_t addr, uint32_t tid)
{
	return values(s, addr, tid, 1);
}

static void release_core_pages(struct state *s)
{
	const struct gm_target *t = s->g->rt->target;
	if (t && t->have_core && t->core.map && t->core.size)
		(void)madvise((void *)t->core.map, (size_t)t->core.size, MADV_DONTNEED);
	s->walked = 0;
}

/* Walks a typed object: its type once, or tiled over the slot for an array. */
static struct gomem_error *walk_object(struct state *s, struct item it)
{
	uint32_t v = s->ty->type[it.id], tid = v & ~GM_TYPING_ARRAY;
	const struct gm_index_span *sp = &s->idx->spans[it.span];
	uint64_t tsize = gm_gotypes_get(&s->ty->tt, tid)->size, size = sp->elemsize;
	uint64_t base = sp->base + (uint64_t)(it.id - sp->first_id) * size;
	if (!tsize || size < sp->header_bytes)
		return NULL;
	uint64_t count = (v & GM_TYPING_ARRAY) ? (size - sp->header_bytes) / tsize : 1;
	s->walked += count * tsize;
	if (s->walked >= RELEASE_EVERY_BYTES)
		release_core_pages(s);
	/* The object read at once (a pointer into the core when it holds it whole). */
	if (size <= SCRATCH_BYTES && !s->scratch && !(s->scratch = malloc(SCRATCH_BYTES)))
		return &gm_error_no_memory;
	if (size <= SCRATCH_BYTES) {
		s->view = gm_scan_bytes(s->mem, base, (size_t)size, s->scratch, NULL);
		s->view_base = base;
		s->view_len = size;
	}
	struct gomem_error *err = values(s, base + sp->header_bytes, tid, count);
	s->view = NULL;
	return err;
}

/* Walks the typed objects until none waits: the stack, then the bitset it spilled into. */
static struct gomem_error *drain(struct state *s)
{
	for (;;) {
		while (s->nstack)
			TRY(walk_object(s, s->stack[--s->nstack]));
		if (!s->npending)
			return NULL;
		for (size_t k = 0; k < s->idx->nspans && s->npending; k++) {
			const struct gm_index_span *sp = &s->idx->spans[k];
			for (uint32_t i = 0; i < sp->nelems; i++) {
				uint32_t id = sp->first_id + i;
				if (!(s->pending[id / 64] >> (id % 64) & 1))
					continue;
				s->pending[id / 64] &= ~(1ULL << (id % 64));
				s->npending--;
				TRY(walk_object(s, (struct item){id, (uint32_t)k}));
				while (s->nstack)
					TRY(walk_object(s, s->stack[--s->nstack]));
			}
		}
	}
}

/*
 * Statics (GO-OBJECTS.md §5.5): a typed pointer into a module's data or
 * bss is to a value the compiler allocated statically (&T{...} in a
 * global's initializer: a nameless symbol that no DWARF variable covers),
 * whose pointer fields the program's init code filled with heap objects.
 * The value is walked as T once per address when every pointer word of T
 * there is a pointer word of the section's GC mask (else rejected).
 */
static struct gomem_error *static_value(struct state *s, uint64_t p, uint32_t tid)
{
	const struct static_section *sec = NULL;
	for (size_t i = 0; i < s->nsections && !sec; i++)
		if (p >= s->sections[i].start && p < s->sections[i].end)
			sec = &s->sections[i];
	if (!sec || p % 8 || gm_u64map_get(&s->static_seen, p))
		return NULL;
	const struct type_leaves *tl;
	TRY(leaves_of(s, tid, &tl));
	const struct gm_gotype *t = gm_gotypes_get(&s->ty->tt, tid);
	if (tl->truncated || !tl->n || !t->size || t->size > sec->end - p)
		return NULL;
	if (s->static_depth >= MAX_STATIC_DEPTH || s->static_seen.n >= MAX_STATICS) {
		s->ty->stats.statics_skipped++;
		return NULL;
	}
	for (uint32_t k = 0; k < tl->n; k++) {
		const struct leaf *l = &s->leaves[tl->first + k];
		uint64_t w = (p - sec->start + l->off) / 8 + (l->kind == GM_KIND_INTERFACE);
		if (!(sec->mask[w / 8] >> (w % 8) & 1)) {
			s->ty->stats.statics_rejected++;
			return NULL;
		}
	}
	if (!gm_u64map_put(&s->static_seen, p, (uint64_t)tid + 1))
		return &gm_error_no_memory;
	s->ty->stats.statics++;
	/* The walk may be inside an object's (its view): it resumes it after. */
	const uint8_t *view = s->view;
	uint64_t view_base = s->view_base, view_len = s->view_len;
	s->static_depth++;
	struct gomem_error *err = value(s, p, tid);
	s->static_depth--;
	s->view = view;
	s->view_base = view_base;
	s->view_len = view_len;
	return err;
}

static struct gomem_error *static_section(struct state *s, uint64_t start, uint64_t end,
					  uint64_t nbits, uint64_t bytedata)
{
	if (end <= start || end - start > MAX_STATIC_SECTION || !bytedata ||
	    s->nsections == MAX_SECTIONS)
		return NULL;
	uint64_t words = (end - start) / 8;
	if (nbits > words)
		nbits = words;
	if (s->mask_bytes + words / 8 + 1 > MAX_STATIC_MASKS)
		return NULL;
	s->mask_bytes += words / 8 + 1;
	uint8_t *mask = calloc((size_t)words / 8 + 1, 1);
	if (!mask)
		return &gm_error_no_memory;
	if (!gm_read_ok(s->mem, bytedata, mask, (size_t)(nbits + 7) / 8)) {
		free(mask);
		return NULL;
	}
	if (nbits % 8) /* bits past nbits are no words of the section */
		mask[nbits / 8] &= (uint8_t)((1u << (nbits % 8)) - 1);
	s->sections[s->nsections++] = (struct static_section){start, start + 8 * nbits, mask};
	return NULL;
}

/* The modules' data and bss and their GC masks (as roots.c reads them), for the statics. */
static struct gomem_error *statics_init(struct state *s)
{
	struct gm_runtime *rt = s->g->rt;
	const struct gm_graph_layout *G;
	uint64_t md;
	struct gomem_error *err = gm_runtime_graph_layout(rt, &G);
	if (!err)
		err = gm_runtime_first_module(rt, &md);
	if (err) { /* no modules: no statics (the roots said why) */
		gomem_error_destroy(err);
		return NULL;
	}
	if (!(s->sections = calloc(MAX_SECTIONS, sizeof(*s->sections))))
		return &gm_error_no_memory;
	for (unsigned n = 0; md && n < MAX_SECTIONS / 2; n++) {
		uint64_t data, edata, bss, ebss, dn, db, bn, bb, next;
		err = gm_rt_read_field(rt, md, &G->md_data, &data);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_edata, &edata);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_bss, &bss);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_ebss, &ebss);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_gcdatamask_n, &dn);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_gcdatamask_bytes, &db);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_gcbssmask_n, &bn);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_gcbssmask_bytes, &bb);
		if (!err)
			err = gm_rt_read_field(rt, md, &G->md_next, &next);
		if (err) {
			gomem_error_destroy(err);
			return NULL;
		}
		TRY(static_section(s, data, edata, (uint32_t)dn, db));
		TRY(static_section(s, bss, ebss, (uint32_t)bn, bb));
		md = next;
	}
	return NULL;
}

/* ---- the sources ---- */

static struct gomem_error *self_types(struct state *s)
{
	struct gm_typing *ty = s->ty;
	for (size_t i = 0; i < s->idx->nspans; i++) {
		const struct gm_index_span *sp = &s->idx->spans[i];
		if (sp->layout != GM_LAYOUT_HEADER && sp->layout != GM_LAYOUT_LARGE)
			continue;
		for (uint32_t k = 0; k < sp->nelems; k++) {
			uint32_t id = sp->first_id + k, tid;
			if (!gm_heap_index_allocated(s->idx, id))
				continue;
			uint64_t t = sp->layout == GM_LAYOUT_LARGE
					 ? sp->large_type
					 : word(s, sp->base + (uint64_t)k * sp->elemsize);
			s->walked += sp->elemsize; /* a header's read faults in its neighbours */
			if (s->walked >= RELEASE_EVERY_BYTES)
				release_core_pages(s);
			if (!t)
				continue;
			TRY(gm_gotypes_at(&ty->tt, t, &tid));
			const struct gm_gotype *gt = gm_gotypes_get(&ty->tt, tid);
			if (tid == GM_TYPE_UNKNOWN || gt->dummy || !gt->size)
				continue;
			ty->type[id] = tid | GM_TYPING_ARRAY;
			ty->stats.self_typed++;
			push(s, id, (uint32_t)i);
		}
	}
	return NULL;
}

static struct gomem_error *typed_globals(struct state *s)
{
	struct gm_dwarf *dw = s->ty->tt.rt->dw;
	struct gm_dwarf_global *gl;
	size_t n;
	if (!gm_dwarf_is_program(dw))
		return NULL;
	TRY(gm_dwarf_globals(dw, &gl, &n));
	struct gomem_error *err = NULL;
	for (size_t i = 0; !err && i < n; i++) {
		uint32_t tid;
		err = gm_gotypes_dwarf(&s->ty->tt, gl[i].type, &tid);
		if (!err && tid != GM_TYPE_UNKNOWN) {
			s->ty->stats.globals++;
			err = value(s, gl[i].addr + s->bias, tid);
		}
		if (!err)
			err = drain(s);
	}
	free(gl);
	return err;
}

/*
 * Go 1.26+ keeps a cleanup's argument boxed (new(S)) beside its function in
 * the special's cleanupFn{call, fn, arg}: the box holds an S, the type of
 * fn's parameter. A root word that is not the arg word finds no function
 * there, or a type that does not fit.
 */
static struct gomem_error *cleanup_arg(struct state *s, const struct gm_root *r)
{
	const struct gm_types_layout *L = s->ty->tt.L;
	uint32_t tid;
	if (r->kind != GM_ROOT_CLEANUP || !r->addr || !L->cleanupfn_arg.present ||
	    !L->cleanupfn_fn.present || r->addr < L->cleanupfn_arg.offset)
		return NULL;
	uint64_t fv = word(s, r->addr - L->cleanupfn_arg.offset + L->cleanupfn_fn.offset);
	TRY(param_type(s, word(s, fv), &tid));
	return candidate(s, r->value, tid, false);
}

/*
 * The stack slots the stack maps say are live, typed by the DWARF variable
 * of their frame whose memory covers them (GO-OBJECTS.md §5.5a): the word
 * is followed as that variable's pointer-shaped word at that offset. A
 * slot no variable covers stays untyped; a dead variable is never read
 * whole, only the live words of it. The frame's pieces are kept for its
 * next slots (a frame's slots come together).
 */
struct stack_typing {
	struct state *s;
	uint64_t pc, fp; /* the frame whose pieces are below */
	struct gm_dwarf_piece *pieces;
	size_t npieces;
};

static uint64_t leaf_width(uint8_t kind)
{
	switch (kind) {
	case GM_KIND_SLICE:
		return 24;
	case GM_KIND_STRING:
	case GM_KIND_INTERFACE:
		return 16;
	default:
		return 8;
	}
}

static struct gomem_error *frame_pieces(struct stack_typing *st, uint64_t pc, uint64_t fp)
{
	struct state *s = st->s;
	free(st->pieces);
	st->pieces = NULL;
	st->npieces = 0;
	st->pc = pc;
	st->fp = fp;
	/* The stack map is read at pc-1 (the call's pc); so are the locations. */
	uint64_t lpc = pc - 1 - s->bias;
	size_t i = GM_UPPER_BOUND(s->funcs, s->nfuncs, pc, lpc);
	if (i == 0)
		return NULL;
	return gm_dwarf_frame_pieces(s->ty->tt.rt->dw, s->funcs[i - 1].die, lpc, fp, &st->pieces,
				     &st->npieces);
}

static struct gomem_error *stack_slot(void *arg, const struct gm_stack_slot *slot)
{
	struct stack_typing *st = arg;
	struct state *s = st->s;
	if ((slot->kind != GM_STACK_SLOT_LOCAL && slot->kind != GM_STACK_SLOT_ARG &&
	     slot->kind != GM_STACK_SLOT_OBJECT) ||
	    slot->conservative || !slot->frame_pc || !slot->frame_fp || !slot->addr)
		return NULL;
	if (slot->frame_pc != st->pc || slot->frame_fp != st->fp)
		TRY(frame_pieces(st, slot->frame_pc, slot->frame_fp));
	for (size_t k = 0; k < st->npieces; k++) {
		const struct gm_dwarf_piece *p = &st->pieces[k];
		uint32_t tid;
		if (slot->addr < p->addr)
			continue;
		TRY(gm_gotypes_dwarf(&s->ty->tt, p->type, &tid));
		if (tid == GM_TYPE_UNKNOWN)
			continue;
		uint64_t size = p->size ? p->size : gm_gotypes_get(&s->ty->tt, tid)->size;
		uint64_t in = slot->addr - p->addr;
		if (in >= size)
			continue;
		const struct type_leaves *tl;
		TRY(leaves_of(s, tid, &tl));
		if (tl->truncated)
			continue;
		for (uint32_t j = 0; j < tl->n; j++) {
			struct leaf l = s->leaves[tl->first + j];
			/* The whole word pair or triple must be in this piece of memory. */
			if (l.off != p->var_off + in || size - in < leaf_width(l.kind))
				continue;
			s->ty->stats.stack_slots++;
			TRY(follow(s, slot->addr, &l));
			return drain(s);
		}
	}
	return NULL;
}

static struct gomem_error *typed_stack_slots(struct state *s)
{
	struct stack_typing st = {.s = s};
	struct gm_stack_roots_stats stats;
	if (!s->nfuncs || !s->g->rt->target)
		return NULL;
	struct gomem_error *err = gm_stack_roots(s->g->rt, stack_slot, &st, &stats);
	free(st.pieces);
	if (err && err != &gm_error_no_memory) {
		/* The graph scanned these stacks already: a stack it cannot decode again stays
		 * untyped. */
		gomem_error_destroy(err);
		err = NULL;
	}
	return err ? err : drain(s);
}

/* The function values that finalizer and cleanup roots hold. */
static struct gomem_error *root_closures(struct state *s)
{
	for (size_t i = 0; i < s->g->nroots; i++) {
		const struct gm_root *r = &s->g->roots[i];
		if (r->kind != GM_ROOT_FINALIZER && r->kind != GM_ROOT_CLEANUP)
			continue;
		TRY(via_func(s, r->value));
		TRY(cleanup_arg(s, r));
		TRY(drain(s));
	}
	return NULL;
}

/*
 * Interface words in untyped objects (GO-OBJECTS.md §5.5): an object that
 * no typed referrer reached (a sync.Map entry's *any box before 1.24, a
 * struct behind an unsafe.Pointer) may still hold an interface, whose two
 * words say the pointee's type: word k not a pointer word (the GC does not
 * scan an interface's first word, typebits.go), word k + 1 a pointer word;
 * word k a type descriptor of a module's types, or an itab whose inter and
 * type both are. The pointee (not a direct-iface type: its data word is a
 * pointer to it) gets the type when it fits its pointer words, as any
 * propagation; its refusals are counted apart (iface_rejected).
 */
static bool in_module_types(const struct gm_gotypes *tt, uint64_t addr)
{
	for (size_t i = 0; i < tt->nmodules; i++)
		if (addr >= tt->module_types[2 * i] && addr < tt->module_types[2 * i + 1])
			return true;
	return false;
}

static struct gomem_error *iface_pair(struct state *s, uint64_t w0, uint64_t w1)
{
	struct gm_gotypes *tt = &s->ty->tt;
	uint64_t dyn = 0;
	uint32_t d, id, span;
	if (w0 % 8 || !locate(s, w1, &id, &span) || s->ty->type[id])
		return NULL;
	if (in_module_types(tt, w0)) {
		dyn = w0;
	} else {
		uint64_t inter = word(s, w0);
		TRY(gm_gotypes_itab_type(tt, w0, &dyn));
		if (!inter || !in_module_types(tt, inter) || !in_module_types(tt, dyn))
			return NULL;
	}
	if (dyn % 8)
		return NULL;
	TRY(gm_gotypes_at(tt, dyn, &d));
	const struct gm_gotype *t = gm_gotypes_get(tt, d);
	if (d == GM_TYPE_UNKNOWN || t->direct_iface || t->dummy || !t->size)
		return NULL;
	struct gm_typing_stats *st = &s->ty->stats;
	uint64_t propagated = st->propagated, rejected = st->rejected, interior = st->interior;
	st->iface_pairs++;
	TRY(candidate(s, w1, d, false));
	st->iface_typed += st->propagated - propagated;
	st->iface_rejected += st->rejected - rejected + st->interior - interior;
	st->rejected = rejected;
	st->interior = interior;
	return NULL;
}

static struct gomem_error *iface_pairs_of(struct state *s, uint32_t id, uint32_t span)
{
	const struct gm_index_span *sp = &s->idx->spans[span];
	uint64_t base = sp->base + (uint64_t)(id - sp->first_id) * sp->elemsize;
	uint64_t first = sp->header_bytes / 8, nwords = sp->elemsize / 8 - first;
	if (sp->elemsize / 8 < first + 2 || sp->elemsize > SCRATCH_BYTES)
		return NULL;
	if (nwords > GM_PTRMAP_WINDOW)
		nwords = GM_PTRMAP_WINDOW;
	if (!s->scratch && !(s->scratch = malloc(SCRATCH_BYTES)))
		return &gm_error_no_memory;
	TRY(gm_ptrmap_window(s->g->pm, id, first, nwords, s->window));
	const uint8_t *b =
	    gm_scan_bytes(s->mem, base + 8 * first, (size_t)nwords * 8, s->scratch, NULL);
	s->walked += nwords * 8;
	for (uint64_t k = 0; k + 1 < nwords; k++) {
		uint64_t w0, w1;
		if (gm_bit(s->window, k) || !gm_bit(s->window, k + 1))
			continue;
		memcpy(&w0, b + 8 * k, 8);
		memcpy(&w1, b + 8 * (k + 1), 8);
		if (w0 && w1)
			TRY(iface_pair(s, w0, w1));
	}
	return NULL;
}

static struct gomem_error *iface_pairs(struct state *s)
{
	for (size_t k = 0; k < s->idx->nspans; k++) {
		const struct gm_index_span *sp = &s->idx->spans[k];
		if (sp->noscan)
			continue;
		for (uint32_t i = 0; i < sp->nelems; i++) {
			uint32_t id = sp->first_id + i;
			if (s->ty->type[id] || !gm_graph_reached(s->g, id))
				continue;
			TRY(iface_pairs_of(s, id, (uint32_t)k));
			if (s->walked >= RELEASE_EVERY_BYTES)
				release_core_pages(s);
			TRY(drain(s));
		}
	}
	return NULL;
}

static struct gomem_error *named(struct state *s)
{
	struct gm_gotypes *tt = &s->ty->tt;
	TRY(gm_gotypes_named(tt, "uint8", &s->t_uint8));
	TRY(gm_gotypes_named(tt, "runtime.hchan", &s->t_hchan));
	if (tt->L->map_impl == GM_MAP_OLD) {
		TRY(gm_gotypes_named(tt, "runtime.hmap", &s->t_hmap));
	} else {
		TRY(gm_gotypes_named(tt, "internal/runtime/maps.Map", &s->t_smap));
		TRY(gm_gotypes_named(tt, "internal/runtime/maps.table", &s->t_table));
		TRY(gm_gotypes_named(tt, "*internal/runtime/maps.table", &s->t_dir));
	}
	if (gm_dwarf_is_program(tt->rt->dw)) {
		TRY(gm_dwarf_closures(tt->rt->dw, &s->closures, &s->nclosures));
		TRY(gm_dwarf_functions(tt->rt->dw, &s->funcs, &s->nfuncs));
	}
	if (tt->rt->target) {
		struct gomem_error *err = gm_runtime_pclntab(tt->rt, &s->pcln);
		if (err) /* closures are then named by their DWARF only */
			gomem_error_destroy(err);
	}
	return NULL;
}

static void state_deinit(struct state *s)
{
	free(s->info);
	free(s->leaves);
	free(s->stack);
	free(s->pending);
	free(s->scratch);
	free(s->closures);
	free(s->funcs);
	gm_u64map_deinit(&s->closure_types);
	gm_u64map_deinit(&s->trie_types);
	gm_u64map_deinit(&s->static_seen);
	for (size_t i = 0; i < s->nsections; i++)
		free(s->sections[i].mask);
	free(s->sections);
	gm_pclntab_destroy(s->pcln);
}

static struct gomem_error *run(struct state *s)
{
	TRY(named(s));
	TRY(statics_init(s));
	TRY(self_types(s));
	TRY(drain(s));
	TRY(typed_globals(s));
	TRY(root_closures(s));
	TRY(drain(s));
	TRY(typed_stack_slots(s));
	TRY(iface_pairs(s));
	release_core_pages(s);
	return NULL;
}

/*
 * Asks for transparent huge pages under the type array (4 bytes a slot:
 * 100 MiB for 25 million): read and then written at every slot, its 4 KiB
 * pages would fault twice each (the zero page, then the copy). Advice
 * only: nothing changes where the kernel says no.
 */
static void huge_pages(void *p, size_t n)
{
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1),
		  hi = ((uintptr_t)p + n) & ~(huge - 1);
	if (p && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

struct gomem_error *gm_typing_create(struct gm_graph *g, struct gm_typing **ret)
{
	struct gm_typing *ty = calloc(1, sizeof(*ty));
	struct state *s = calloc(1, sizeof(*s));
	struct gomem_error *err = NULL;
	if (!ty || !s) {
		free(ty);
		free(s);
		return &gm_error_no_memory;
	}
	ty->g = g;
	*s =
	    (struct state){.ty = ty, .g = g, .idx = g->idx, .mem = g->rt->mem, .bias = g->rt->bias};
	s->pending_words = ((size_t)g->idx->nslots + 63) / 64;
	ty->type = calloc((size_t)g->idx->nslots + 1, sizeof(*ty->type));
	huge_pages(ty->type, ((size_t)g->idx->nslots + 1) * sizeof(*ty->type));
	s->pending = calloc(s->pending_words + 1, sizeof(uint64_t));
	s->stack = malloc(STACK_ENTRIES * sizeof(*s->stack));
	if (!ty->type || !s->pending || !s->stack)
		err = &gm_error_no_memory;
	if (!err)
		err = gm_gotypes_init(&ty->tt, g->rt);
	if (!err)
		err = run(s);
	ty->stats.bad_types = ty->tt.bad;
	state_deinit(s);
	free(s);
	if (err) {
		gm_typing_destroy(ty);
		return err;
	}
	*ret = ty;
	return NULL;
}

void gm_typing_destroy(struct gm_typing *ty)
{
	if (!ty)
		return;
	if (ty->tt.rt)
		gm_gotypes_deinit(&ty->tt);
	free(ty->type);
	free(ty);
}
