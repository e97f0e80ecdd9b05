/*
 * The roots that the runtime's own structures give, as markroot
 * enumerates them (GO-OBJECTS.md §3.1, §3.2): the data and bss of every
 * module by gcdatamask and gcbssmask; finalizer specials (their fn, and
 * the referents of the object they are on, which itself is not a root),
 * cleanup specials, weak handles (the handle's box is a root, its
 * referent only a weak edge); the finalizer queue (allfin) and the cleanup
 * queue (gcCleanups, 1.25+). Stack roots come from elsewhere through
 * gm_graph_add_root().
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/objects.h"

#define MAX_MODULES    (1u << 12)
#define MAX_SECTION    ((uint64_t)1 << 32) /* data or bss of one module */
#define MAX_SPECIALS   (1u << 20)	   /* on one span */
#define MAX_FIN_BLOCKS (1u << 20)
#define MAX_CLN_BLOCKS (1u << 20)
#define SECTION_CHUNK  (64u << 10)

/* The global that holds addr, by the executable's symbols; NULL when none. */
static const char *global_name(struct gm_graph *g, uint64_t addr)
{
	if (!g->have_symtab)
		return NULL;
	const struct gm_sym *s = gm_symtab_find(&g->symtab, addr - g->rt->bias);
	return s && !s->func ? s->name : NULL;
}

/* The words of [start, start + 8 * nbits) whose bit in mask is set. */
static struct gomem_error *scan_section(struct gm_graph *g, enum gm_root_kind kind, uint64_t start,
					const uint8_t *mask, uint64_t nbits)
{
	_cleanup_free_ uint8_t *scratch = malloc(SECTION_CHUNK);
	if (!scratch)
		return &gm_error_no_memory;
	for (uint64_t w = 0; w < nbits; w += SECTION_CHUNK / 8) {
		uint64_t n = nbits - w < SECTION_CHUNK / 8 ? nbits - w : SECTION_CHUNK / 8;
		bool any = false;
		for (uint64_t i = 0; i < n && !any; i += 8)
			any = mask[(w + i) / 8] != 0;
		if (!any)
			continue;
		const uint8_t *p =
		    gm_scan_bytes(g->rt->mem, start + 8 * w, (size_t)(8 * n), scratch, NULL);
		for (uint64_t i = 0; i < n; i++) {
			if (!(mask[(w + i) / 8] >> ((w + i) % 8) & 1))
				continue;
			uint64_t v;
			memcpy(&v, p + 8 * i, 8);
			uint64_t addr = start + 8 * (w + i);
			if (v)
				TRY(gm_graph_add_root(g, kind, addr, v, false, global_name(g, addr),
						      0, 0));
		}
	}
	return NULL;
}

/* One section of a module: its words by the mask that modulesinit built (symtab.go). */
static struct gomem_error *module_section(struct gm_graph *g, enum gm_root_kind kind,
					  uint64_t start, uint64_t end, uint64_t nbits,
					  uint64_t bytedata)
{
	if (end < start || end - start > MAX_SECTION)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"module section 0x%" PRIx64 "-0x%" PRIx64 " is corrupt", start,
				end);
	uint64_t words = (end - start) / 8;
	if ((int32_t)nbits < 0 || nbits > words + 64)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"module section 0x%" PRIx64 ": a mask of %" PRIu64
				" bits for %" PRIu64 " words",
				start, nbits, words);
	if (nbits > words)
		nbits = words;
	if (!nbits)
		return NULL;
	if (!bytedata) {
		gm_graph_warn(g,
			      "the %s mask of the module at 0x%" PRIx64
			      " is not built yet: its globals are not roots",
			      kind == GM_ROOT_DATA ? "data" : "bss", start);
		return NULL;
	}
	_cleanup_free_ uint8_t *mask = malloc((size_t)(nbits + 7) / 8);
	if (!mask)
		return &gm_error_no_memory;
	TRY(gm_read(g->rt->mem, bytedata, mask, (size_t)(nbits + 7) / 8));
	return scan_section(g, kind, start, mask, nbits);
}

static struct gomem_error *module_roots(struct gm_graph *g, const struct gm_graph_layout *G)
{
	struct gm_runtime *rt = g->rt;
	uint64_t md;
	TRY(gm_runtime_first_module(rt, &md));
	for (unsigned n = 0; md; n++) {
		uint64_t data, edata, bss, ebss, dn, db, bn, bb, next;
		if (n == MAX_MODULES)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "the module list does not end");
		TRY(gm_rt_read_field(rt, md, &G->md_data, &data));
		TRY(gm_rt_read_field(rt, md, &G->md_edata, &edata));
		TRY(gm_rt_read_field(rt, md, &G->md_bss, &bss));
		TRY(gm_rt_read_field(rt, md, &G->md_ebss, &ebss));
		TRY(gm_rt_read_field(rt, md, &G->md_gcdatamask_n, &dn));
		TRY(gm_rt_read_field(rt, md, &G->md_gcdatamask_bytes, &db));
		TRY(gm_rt_read_field(rt, md, &G->md_gcbssmask_n, &bn));
		TRY(gm_rt_read_field(rt, md, &G->md_gcbssmask_bytes, &bb));
		TRY(gm_rt_read_field(rt, md, &G->md_next, &next));
		TRY(module_section(g, GM_ROOT_DATA, data, edata, (uint32_t)dn, db));
		TRY(module_section(g, GM_ROOT_BSS, bss, ebss, (uint32_t)bn, bb));
		md = next;
	}
	return NULL;
}

/* Every word of [addr, addr + 8 * n) as roots of one kind (queues, special records). */
static struct gomem_error *words_roots(struct gm_graph *g, enum gm_root_kind kind, uint64_t addr,
				       uint64_t n, const char *name, uint64_t object)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v;
		TRY(gm_read_u64(g->rt->mem, addr + 8 * i, &v));
		if (v)
			TRY(gm_graph_add_root(g, kind, addr + 8 * i, v, false, name, object, 0));
	}
	return NULL;
}

/* The pointer words of object id as roots: a finalizer's object is scanned, not marked (§3.2). */
static struct gomem_error *object_roots(struct gm_graph *g, enum gm_root_kind kind, uint32_t id,
					const char *name)
{
	uint64_t base, size;
	gm_heap_index_object(g->idx, id, &base, &size);
	_cleanup_free_ uint64_t *bits = malloc(GM_PTRMAP_WINDOW / 8);
	_cleanup_free_ uint8_t *scratch = malloc(GM_PTRMAP_WINDOW * 8);
	if (!bits || !scratch)
		return &gm_error_no_memory;
	for (uint64_t first = 0; first < size / 8; first += GM_PTRMAP_WINDOW) {
		uint64_t n =
		    size / 8 - first < GM_PTRMAP_WINDOW ? size / 8 - first : GM_PTRMAP_WINDOW;
		TRY(gm_ptrmap_window(g->pm, id, first, n, bits));
		const uint8_t *p = NULL;
		for (uint64_t k = 0; k < n; k++) {
			if (!(bits[k / 64] >> (k % 64) & 1))
				continue;
			if (!p)
				p = gm_scan_bytes(g->rt->mem, base + 8 * first, (size_t)(8 * n),
						  scratch, NULL);
			uint64_t v;
			memcpy(&v, p + 8 * k, 8);
			if (v)
				TRY(gm_graph_add_root(g, kind, base + 8 * (first + k), v, false,
						      name, base, 0));
		}
	}
	return NULL;
}

static struct gomem_error *span_specials(struct gm_graph *g, const struct gm_graph_layout *G,
					 const struct gm_index_span *s)
{
	struct gm_runtime *rt = g->rt;
	uint64_t sp = s->specials;
	for (unsigned n = 0; sp; n++) {
		uint64_t next, off, kind;
		if (n == MAX_SPECIALS)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"span 0x%" PRIx64 ": its specials do not end", s->base);
		TRY(gm_rt_read_field(rt, sp, &G->special_next, &next));
		TRY(gm_rt_read_field(rt, sp, &G->special_offset, &off));
		TRY(gm_rt_read_field(rt, sp, &G->special_kind, &kind));
		uint64_t i = off / s->elemsize;
		uint64_t obj = s->base + i * s->elemsize;
		if (i < s->nelems && (int64_t)kind == G->kind_finalizer) {
			/* scanobject(p) without marking p, then &spf.fn (markrootSpans@1.26). */
			if (!s->noscan)
				TRY(object_roots(g, GM_ROOT_FINALIZER, s->first_id + (uint32_t)i,
						 "finalizer"));
			TRY(words_roots(g, GM_ROOT_FINALIZER, sp + G->specialfinalizer_fn.offset, 1,
					"finalizer", obj));
		} else if (i < s->nelems && (int64_t)kind == G->kind_cleanup) {
			/* fn (1.24-1.25), or the whole cleanupFn: call, fn, arg
			 * (gcScanCleanup@1.26). */
			TRY(words_roots(
			    g, GM_ROOT_CLEANUP, sp + G->specialcleanup_fn.offset,
			    G->specialcleanup_fn.size / 8 ? G->specialcleanup_fn.size / 8 : 1,
			    "cleanup", obj));
		} else if (i < s->nelems && (int64_t)kind == G->kind_weak) {
			/* The handle's box is a root; the referent it holds as a uintptr is not. */
			uint64_t handle, referent;
			uint32_t id;
			TRY(gm_rt_read_field(rt, sp, &G->specialweak_handle, &handle));
			TRY(words_roots(g, GM_ROOT_OTHER, sp + G->specialweak_handle.offset, 1,
					"weak handle", obj));
			if (handle && gm_read_ok(rt->mem, handle, &referent, 8) && referent &&
			    gm_heap_index_lookup(g->idx, referent, &id) &&
			    gm_heap_index_allocated(g->idx, id))
				g->stats.weak_edges++;
		}
		sp = next;
	}
	return NULL;
}

/* allfin: queued finalizers, fn arg nret fint ot (finptrmask: ptr ptr int ptr ptr, mfinal.go). */
static struct gomem_error *finalizer_queue(struct gm_graph *g, const struct gm_graph_layout *G)
{
	struct gm_runtime *rt = g->rt;
	uint64_t fb;
	TRY(gm_read_u64(rt->mem, G->allfin, &fb));
	for (unsigned n = 0; fb; n++) {
		uint64_t cnt, next;
		if (n == MAX_FIN_BLOCKS)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "allfin does not end");
		TRY(gm_rt_read_field(rt, fb, &G->finblock_cnt, &cnt));
		TRY(gm_rt_read_field(rt, fb, &G->finblock_alllink, &next));
		if (cnt > G->finblock_fin.count)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"finalizer block 0x%" PRIx64 " holds %" PRIu64, fb, cnt);
		for (uint64_t i = 0; i < cnt; i++) {
			uint64_t f = fb + G->finblock_fin.offset + i * G->finalizer_size;
			for (uint64_t w = 0; w < G->finalizer_size / 8 && w < 5; w++) {
				if (w == 2)
					continue; /* nret */
				TRY(words_roots(g, GM_ROOT_FINALIZER, f + 8 * w, 1,
						"finalizer queue", 0));
			}
		}
		fb = next;
	}
	return NULL;
}

/* gcCleanups.all: every word of each block's cleanups[0:n] (cleanupBlockPtrMask, mgc.go@1.26). */
static struct gomem_error *cleanup_queue(struct gm_graph *g, const struct gm_graph_layout *G)
{
	struct gm_runtime *rt = g->rt;
	uint64_t cb;
	TRY(gm_rt_read_field(rt, G->gc_cleanups, &G->cleanupqueue_all, &cb));
	uint64_t esz = G->cleanupblock_cleanups.elem_size;
	for (unsigned n = 0; cb; n++) {
		uint64_t cnt, next;
		if (n == MAX_CLN_BLOCKS)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "the cleanup queue does not end");
		TRY(gm_rt_read_field(rt, cb, &G->cleanupblock_n, &cnt));
		TRY(gm_rt_read_field(rt, cb, &G->cleanupblock_alllink, &next));
		if (cnt > G->cleanupblock_cleanups.count)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"cleanup block 0x%" PRIx64 " holds %" PRIu64, cb, cnt);
		TRY(words_roots(g, GM_ROOT_CLEANUP, cb + G->cleanupblock_cleanups.offset,
				cnt * esz / 8, "cleanup queue", 0));
		cb = next;
	}
	return NULL;
}

/* A stack root word (objects/stackroots.c), named by its frame's function. */
static struct gomem_error *stack_slot(void *arg, const struct gm_stack_slot *s)
{
	/* s->func points into the executable's function table, which the runtime keeps. */
	return gm_graph_add_root(
	    arg, s->kind == GM_STACK_SLOT_REGISTER ? GM_ROOT_REGISTER : GM_ROOT_STACK, s->addr,
	    s->value, s->conservative, s->func ? s->func : "stack", 0, s->goid);
}

struct gomem_error *gm_roots_collect(struct gm_graph *g)
{
	const struct gm_graph_layout *G;
	TRY(gm_runtime_graph_layout(g->rt, &G));
	TRY(module_roots(g, G));
	for (size_t i = 0; i < g->idx->nspans; i++) {
		if (g->idx->spans[i].specials)
			TRY(span_specials(g, G, &g->idx->spans[i]));
	}
	/* Without DWARF both come from the code (dwarf/globals.c); a rule that finds no
	 * unique answer leaves them unknown, never guessed. */
	if (G->allfin_unknown)
		gm_graph_warn(g, "without DWARF runtime.allfin was not found in the code: queued "
				 "finalizers are not roots (give --debug-file)");
	if (G->gc_cleanups_unknown)
		gm_graph_warn(g, "without DWARF runtime.gcCleanups was not found in the code: "
				 "queued cleanups are not roots (give --debug-file)");
	if (G->allfin)
		TRY(finalizer_queue(g, G));
	if (G->gc_cleanups)
		TRY(cleanup_queue(g, G));
	return gm_stack_roots(g->rt, stack_slot, g, &g->stats.stacks);
}
