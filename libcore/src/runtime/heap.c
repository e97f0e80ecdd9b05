/*
 * The heap walk: arenas, spans and the page allocator's bitmaps. It reads
 * runtime metadata only, never the objects themselves.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

struct walk_state {
	struct gm_runtime *rt;
	struct gm_arena *arenas;
	size_t narenas;
};

static int cmp_arena(const void *a, const void *b)
{
	const struct gm_arena *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

static const struct gm_arena *find_arena(const struct gm_arena *arenas, size_t n, uint64_t addr)
{
	return GM_FIND_RANGE(arenas, n, base, end, addr);
}

/* Reads a Go slice header {array, len, cap}. */
static struct gomem_error *read_slice(struct gm_runtime *rt, uint64_t addr, uint64_t *array,
				      uint64_t *len)
{
	uint64_t hdr[3];
	TRY(gm_read(rt->mem, addr, hdr, sizeof(hdr)));
	if (hdr[1] > hdr[2])
		return gm_error(GOMEM_ERROR_INCONSISTENT, "slice at 0x%llx: len %llu > cap %llu",
				(unsigned long long)addr, (unsigned long long)hdr[1],
				(unsigned long long)hdr[2]);
	*array = hdr[0];
	*len = hdr[1];
	return NULL;
}

#define MAX_USER_ARENAS (1u << 16) /* 4 TiB of user arenas */

GM_DEFINE_ARRAY(arena_array, struct gm_arena)
GM_DEFINE_GROW_MAX(grow_user_arenas, struct gm_arena, MAX_USER_ARENAS,
		   "arenas outside the heap's list")

/* The *heapArena of arena index ai, from mheap_.arenas; 0 where there is none. */
static struct gomem_error *arena_meta(struct gm_runtime *rt, uint64_t ai, uint64_t *ret)
{
	struct gm_layout *L = &rt->L;
	uint64_t l1 = L->arena_l1_bits ? ai >> L->arena_l2_bits : 0;
	uint64_t l2i = ai & ((1ULL << L->arena_l2_bits) - 1), l2;
	TRY(gm_read_u64(rt->mem, rt->mheap + L->mheap_arenas.offset + 8 * l1, &l2));
	if (!l2)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "arena L2 map %llu is nil",
				(unsigned long long)l1);
	return gm_read_u64(rt->mem, l2 + 8 * l2i, ret);
}

static void set_arena(const struct gm_layout *L, struct gm_arena *a, uint64_t ai, uint64_t meta,
		      bool user)
{
	a->base = ai * L->arena_bytes + L->arena_base_offset;
	a->end = a->base + L->arena_bytes;
	a->meta = meta;
	a->user = user;
}

/* The arenas of an arena index slice (mheap_.allArenas, heapArenas, userArenaArenas). */
static struct gomem_error *load_arenas(struct gm_runtime *rt, struct gm_arena *arenas,
				       uint64_t array, uint64_t len, bool user)
{
	struct gm_layout *L = &rt->L;
	uint64_t max = 1ULL << (L->arena_l1_bits + L->arena_l2_bits);
	unsigned idx_size = (unsigned)L->mheap_heap_arenas.elem_size;
	for (uint64_t i = 0; i < len; i++) {
		uint64_t ai, meta;
		TRY(gm_read_uint(rt->mem, array + i * idx_size, idx_size, &ai));
		if (ai >= max)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "arena index %llu out of range",
					(unsigned long long)ai);
		TRY(arena_meta(rt, ai, &meta));
		if (!meta)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "heap arena %llu has no metadata",
					(unsigned long long)ai);
		set_arena(L, &arenas[i], ai, meta, user);
	}
	return NULL;
}

static struct gomem_error *read_arena_list(struct gm_runtime *rt, const struct gm_field *f,
					   uint64_t *array, uint64_t *len)
{
	struct gm_layout *L = &rt->L;
	TRY(read_slice(rt, rt->mheap + f->offset, array, len));
	uint64_t max = 1ULL << (L->arena_l1_bits + L->arena_l2_bits);
	if (*len > max)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "mheap_ lists %llu arenas (at most %llu)",
				(unsigned long long)*len, (unsigned long long)max);
	return NULL;
}

/*
 * User arenas before 1.25: every arena in the index that the heap's list
 * does not hold (heap, sorted by base). Only with GOEXPERIMENT=arenas.
 */
static struct gomem_error *scan_user_arenas(struct gm_runtime *rt, const struct gm_arena *heap,
					    size_t nheap, struct gm_arena **ret, size_t *n_ret)
{
	struct gm_layout *L = &rt->L;
	uint64_t l1_count = 1ULL << L->arena_l1_bits, l2_count = 1ULL << L->arena_l2_bits;
	struct arena_array out = {0};
	uint64_t batch[1024];
	struct gomem_error *err = NULL;
	for (uint64_t l1 = 0; !err && l1 < l1_count && l1 < 1024; l1++) {
		uint64_t l2 = 0;
		err = gm_read_u64(rt->mem, rt->mheap + L->mheap_arenas.offset + 8 * l1, &l2);
		for (uint64_t i = 0; !err && l2 && i < l2_count; i += GM_ARRAY_SIZE(batch)) {
			uint64_t k = l2_count - i < GM_ARRAY_SIZE(batch) ? l2_count - i
									 : GM_ARRAY_SIZE(batch);
			err = gm_read(rt->mem, l2 + 8 * i, batch, 8 * k);
			for (uint64_t j = 0; !err && j < k; j++) {
				if (!batch[j])
					continue;
				struct gm_arena a;
				set_arena(L, &a, (l1 << L->arena_l2_bits) + i + j, batch[j], true);
				if (find_arena(heap, nheap, a.base))
					continue;
				struct gm_arena *slot;
				err = grow_user_arenas(&out.v, &out.n, &out.cap, &slot);
				if (!err)
					*slot = a;
			}
		}
	}
	if (err) {
		free(out.v);
		return err;
	}
	*ret = out.v;
	*n_ret = out.n;
	return NULL;
}

/*
 * The arenas, sorted: the heap's (mheap_.allArenas, heapArenas since 1.25)
 * and the user arenas' (userArenaArenas since 1.25, else found in the index).
 */
struct gomem_error *gm_heap_arenas(struct gm_runtime *rt, struct gm_arena **ret, size_t *n_ret)
{
	struct gm_layout *L = &rt->L;
	unsigned idx_size = (unsigned)L->mheap_heap_arenas.elem_size;
	if (idx_size != 4 && idx_size != 8)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "arena index of %u bytes", idx_size);
	uint64_t array, len, uarray = 0, ulen = 0;
	TRY(read_arena_list(rt, &L->mheap_heap_arenas, &array, &len));
	if (L->mheap_user_arenas.present)
		TRY(read_arena_list(rt, &L->mheap_user_arenas, &uarray, &ulen));
	if (ulen > MAX_USER_ARENAS)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "mheap_ lists %llu user arenas",
				(unsigned long long)ulen);
	struct gm_arena *arenas = calloc(len + ulen ? len + ulen : 1, sizeof(*arenas));
	if (!arenas)
		return &gm_error_no_memory;
	struct gomem_error *err = load_arenas(rt, arenas, array, len, false);
	if (!err)
		err = load_arenas(rt, arenas + len, uarray, ulen, true);
	size_t n = (size_t)(len + ulen);
	if (!err && L->scan_user_arenas && !rt->user_arenas_scanned) {
		gm_sort(arenas, n, sizeof(*arenas), cmp_arena);
		err = scan_user_arenas(rt, arenas, n, &rt->scanned_user_arenas,
				       &rt->nscanned_user_arenas);
		rt->user_arenas_scanned = !err;
	}
	size_t nuser = rt->nscanned_user_arenas;
	if (!err && nuser) {
		/* The listed arenas, then the ones the scan found. */
		struct gm_arena *v = calloc(n + nuser, sizeof(*v));
		if (!v) {
			err = &gm_error_no_memory;
		} else {
			memcpy(v, arenas, n * sizeof(*v));
			memcpy(v + n, rt->scanned_user_arenas, nuser * sizeof(*v));
			free(arenas);
			arenas = v;
			n += nuser;
		}
	}
	if (!err) {
		gm_sort(arenas, n, sizeof(*arenas), cmp_arena);
		for (size_t i = 1; i < n && !err; i++) {
			if (arenas[i].base == arenas[i - 1].base)
				err = gm_error(GOMEM_ERROR_INCONSISTENT,
					       "arena 0x%llx is listed twice",
					       (unsigned long long)arenas[i].base);
		}
	}
	if (err) {
		free(arenas);
		return err;
	}
	*ret = arenas;
	*n_ret = n;
	return NULL;
}

/*
 * Decodes one mspan. *live is false for dead descriptors, and for live-looking
 * ones that fail validation (*bad then says so): a span counts only when
 * its arena's spans[] entry for its first page points back at it.
 */
static struct gomem_error *decode_span(struct walk_state *w, uint64_t desc, struct gm_span *sp,
				       bool *live, bool *bad)
{
	struct gm_runtime *rt = w->rt;
	struct gm_layout *L = &rt->L;
	uint8_t buf[GM_MSPAN_MAX];
	*live = *bad = false;
	TRY(gm_read(rt->mem, desc, buf, L->mspan_size));
	uint64_t state = gm_rt_field(buf, &L->mspan_state);
	if (state != L->span_in_use && state != L->span_manual)
		return NULL;
	memset(sp, 0, sizeof(*sp));
	sp->desc = desc;
	sp->start = gm_rt_field(buf, &L->mspan_startaddr);
	sp->npages = gm_rt_field(buf, &L->mspan_npages);
	sp->state = state == L->span_in_use ? GM_SPAN_IN_USE : GM_SPAN_MANUAL;
	uint64_t spc = gm_rt_field(buf, &L->mspan_spanclass);
	sp->sizeclass = (unsigned)(spc >> 1);
	sp->noscan = spc & 1;
	sp->elemsize = gm_rt_field(buf, &L->mspan_elemsize);
	sp->nelems = gm_rt_field(buf, &L->mspan_nelems);
	sp->alloc_count = gm_rt_field(buf, &L->mspan_alloccount);
	sp->freeindex = gm_rt_field(buf, &L->mspan_freeindex);
	sp->alloc_bits = gm_rt_field(buf, &L->mspan_allocbits);
	sp->user_chunk = L->mspan_user_chunk.present && gm_rt_field(buf, &L->mspan_user_chunk);
	/*
	 * A user arena chunk set to fault after Free is still in-use until swept,
	 * but counted nowhere: it carries span class 1 (arena.go
	 * isUnusedUserArenaChunk). It is address space, like a dead span.
	 */
	if (sp->user_chunk && spc == 1)
		return NULL;
	const struct gm_arena *a = find_arena(w->arenas, w->narenas, sp->start);
	uint64_t back = 0;
	if (a && sp->start % L->page_size == 0) {
		uint64_t page = (sp->start - a->base) / L->page_size;
		TRY(gm_read_u64(rt->mem, a->meta + L->heaparena_spans.offset + 8 * page, &back));
	}
	*bad = true;
	if (back != desc || sp->npages == 0 || sp->npages > (UINT64_MAX - sp->start) / L->page_size)
		return NULL;
	sp->bytes = sp->npages * L->page_size;
	if (sp->state == GM_SPAN_IN_USE &&
	    (sp->sizeclass >= L->nclasses || sp->alloc_count > sp->nelems || sp->elemsize == 0 ||
	     sp->nelems > sp->bytes / sp->elemsize || sp->freeindex > sp->nelems))
		return NULL;
	*bad = false;
	*live = true;
	return NULL;
}

static struct gomem_error *foreach_span(struct walk_state *w, gm_span_fn fn, void *arg,
					uint64_t *bad_ret, uint64_t *dead_ret)
{
	struct gm_runtime *rt = w->rt;
	uint64_t array, len;
	TRY(read_slice(rt, rt->mheap + rt->L.mheap_allspans.offset, &array, &len));
	/* A descriptor per page at most, plus room for dead ones: more is corrupt. */
	uint64_t max = w->narenas * (rt->L.arena_bytes / rt->L.page_size) + (1ULL << 20);
	if (len > max)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"mheap_.allspans has %llu entries for %zu arenas",
				(unsigned long long)len, w->narenas);
	uint64_t batch[512];
	for (uint64_t i = 0; i < len; i += GM_ARRAY_SIZE(batch)) {
		uint64_t n = len - i < GM_ARRAY_SIZE(batch) ? len - i : GM_ARRAY_SIZE(batch);
		TRY(gm_read(rt->mem, array + 8 * i, batch, n * 8));
		for (uint64_t j = 0; j < n; j++) {
			struct gm_span sp;
			bool live, bad;
			if (!batch[j])
				continue;
			TRY(decode_span(w, batch[j], &sp, &live, &bad));
			*bad_ret += bad;
			if (!live && !bad)
				(*dead_ret)++;
			if (live)
				TRY(fn(arg, &sp));
		}
	}
	return NULL;
}

static struct gomem_error *walk_state_init(struct walk_state *w, struct gm_runtime *rt)
{
	memset(w, 0, sizeof(*w));
	w->rt = rt;
	return gm_heap_arenas(rt, &w->arenas, &w->narenas);
}

struct gomem_error *gm_heap_foreach_span(struct gm_runtime *rt, gm_span_fn fn, void *arg,
					 uint64_t *bad_ret)
{
	struct walk_state w;
	uint64_t bad = 0, dead = 0;
	struct gomem_error *err = walk_state_init(&w, rt);
	if (!err)
		err = foreach_span(&w, fn, arg, &bad, &dead);
	free(w.arenas);
	if (!err && bad_ret)
		*bad_ret = bad;
	return err;
}

struct gomem_error *gm_heap_find_span(struct gm_runtime *rt, uint64_t addr, struct gm_span *ret,
				      bool *found)
{
	struct gm_layout *L = &rt->L;
	struct walk_state w;
	struct gm_span sp;
	bool live = false;
	struct gomem_error *err = walk_state_init(&w, rt);
	const struct gm_arena *a = err ? NULL : find_arena(w.arenas, w.narenas, addr);
	if (a) {
		uint64_t desc = 0;
		uint64_t page = (addr - a->base) / L->page_size;
		err = gm_read_u64(rt->mem, a->meta + L->heaparena_spans.offset + 8 * page, &desc);
		bool bad = false;
		if (!err && desc)
			err = decode_span(&w, desc, &sp, &live, &bad);
		live = !err && live && addr >= sp.start && addr - sp.start < sp.bytes;
	}
	free(w.arenas);
	if (err)
		return err;
	if (live)
		*ret = sp;
	*found = live;
	return NULL;
}

struct gomem_error *gm_span_slot_allocated(struct gm_runtime *rt, const struct gm_span *span,
					   uint64_t i, bool *ret)
{
	uint8_t byte;
	if (i >= span->nelems)
		return gm_error(GOMEM_ERROR_USAGE, "slot %llu of a span of %llu",
				(unsigned long long)i, (unsigned long long)span->nelems);
	if (i < span->freeindex) {
		*ret = true;
		return NULL;
	}
	TRY(gm_read(rt->mem, span->alloc_bits + i / 8, &byte, 1));
	*ret = byte >> (i % 8) & 1;
	return NULL;
}

/* ---- free pages ---- */

/* Consecutive free pages of one kind, reported as one run. */
struct page_run {
	gm_free_run_fn fn;
	void *arg;
	int kind; /* 0 none, 1 retained, 2 released */
	uint64_t start, end;
};

static void flush_run(struct page_run *run)
{
	if (run->kind)
		run->fn(run->arg, run->start, run->end, run->kind == 2);
	run->kind = 0;
}

/* Adds len bytes of pages of one kind at addr. */
static void add_page(struct page_run *run, int kind, uint64_t addr, uint64_t len)
{
	if (kind && run->kind == kind && run->end == addr) {
		run->end += len;
		return;
	}
	flush_run(run);
	if (kind) {
		run->kind = kind;
		run->start = addr;
		run->end = addr + len;
	}
}

/* Pages of [base, limit) in one chunk's bitmaps. */
static void count_chunk(struct page_run *run, uint64_t page_size, uint64_t chunk_base,
			const uint64_t alloc[8], const uint64_t scav[8], uint64_t base,
			uint64_t limit)
{
	uint64_t first = base > chunk_base ? (base - chunk_base) / page_size : 0;
	uint64_t last = (limit - chunk_base) / page_size; /* exclusive */
	if (last > 512)
		last = 512;
	for (uint64_t i = first; i < last;) {
		uint64_t a = alloc[i / 64], sc = scav[i / 64];
		/* 64 pages of one kind at once, so a big heap costs per span, not per page. */
		if (i % 64 == 0 && last - i >= 64 &&
		    (sc == ~0ULL || (sc == 0 && (a == 0 || a == ~0ULL)))) {
			add_page(run,
				 sc  ? 2
				 : a ? 0
				     : 1,
				 chunk_base + i * page_size, 64 * page_size);
			i += 64;
			continue;
		}
		uint64_t bit = 1ULL << (i % 64);
		int kind = 0;
		if (sc & bit)
			kind = 2; /* released; 1.26's random padding pages are also allocated */
		else if (!(a & bit))
			kind = 1;
		add_page(run, kind, chunk_base + i * page_size, page_size);
		i++;
	}
}

static struct gomem_error *walk_pages(struct walk_state *w, struct page_run *run,
				      uint64_t *mapped_ret)
{
	struct gm_runtime *rt = w->rt;
	struct gm_layout *L = &rt->L;
	uint64_t pages = rt->mheap + L->mheap_pages.offset;
	uint64_t array, len;
	uint64_t chunk_bytes = L->chunk_pages * L->page_size;
	TRY(read_slice(rt, pages + L->pagealloc_inuse_ranges.offset, &array, &len));
	if (len > (1ULL << 20))
		return gm_error(GOMEM_ERROR_INCONSISTENT, "page allocator has %llu ranges",
				(unsigned long long)len);
	for (uint64_t r = 0; r < len; r++) {
		uint64_t rng[2];
		TRY(gm_read(rt->mem, array + r * L->addrrange_size, rng, sizeof(rng)));
		uint64_t base = rng[0], limit = rng[1];
		if (limit < base || (limit - base) % L->page_size ||
		    limit - base > w->narenas * L->arena_bytes)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"page allocator range 0x%llx-0x%llx is corrupt",
					(unsigned long long)base, (unsigned long long)limit);
		*mapped_ret += limit - base;
		for (uint64_t addr = base; addr < limit;) {
			uint64_t ci = (addr - L->arena_base_offset) / chunk_bytes;
			uint64_t chunk_base = ci * chunk_bytes + L->arena_base_offset;
			uint64_t l1 = ci >> L->chunks_l2_bits;
			uint64_t l2 = ci & ((1ULL << L->chunks_l2_bits) - 1);
			uint64_t l2map, data[16];
			if (l1 >= (1ULL << L->chunks_l1_bits))
				return gm_error(GOMEM_ERROR_INCONSISTENT, "chunk %llu out of range",
						(unsigned long long)ci);
			TRY(gm_read_u64(rt->mem, pages + L->pagealloc_chunks.offset + 8 * l1,
					&l2map));
			if (!l2map)
				return gm_error(GOMEM_ERROR_INCONSISTENT,
						"page allocator has no bitmap for chunk %llu",
						(unsigned long long)ci);
			TRY(gm_read(rt->mem, l2map + l2 * L->pallocdata_size, data, sizeof(data)));
			uint64_t end =
			    chunk_base + chunk_bytes < limit ? chunk_base + chunk_bytes : limit;
			count_chunk(run, L->page_size, chunk_base,
				    data + L->pallocdata_alloc.offset / 8,
				    data + L->pallocdata_scav.offset / 8, addr, end);
			addr = end;
		}
	}
	flush_run(run);
	return NULL;
}

/* Pages that a P holds in its page cache are marked allocated in the chunks but are free. */
static struct gomem_error *walk_page_caches(struct walk_state *w, struct page_run *run)
{
	struct gm_runtime *rt = w->rt;
	struct gm_layout *L = &rt->L;
	_cleanup_free_ uint64_t *ps = NULL;
	size_t np;
	TRY(gm_rt_allp(rt, &ps, &np));
	for (size_t i = 0; i < np; i++) {
		uint64_t base, cache, scav;
		if (!ps[i])
			continue;
		TRY(gm_rt_read_field(rt, ps[i], &L->p_pcache_base, &base));
		TRY(gm_rt_read_field(rt, ps[i], &L->p_pcache_cache, &cache));
		TRY(gm_rt_read_field(rt, ps[i], &L->p_pcache_scav, &scav));
		if (!cache)
			continue;
		/* A page cache is 64 aligned pages of one chunk, inside the heap. */
		uint64_t span = 64 * L->page_size;
		if (base % span || !find_arena(w->arenas, w->narenas, base) ||
		    !find_arena(w->arenas, w->narenas, base + span - 1))
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"P 0x%llx: page cache at 0x%llx is outside the heap",
					(unsigned long long)ps[i], (unsigned long long)base);
		for (unsigned b = 0; b < 64; b++) {
			if (cache >> b & 1)
				add_page(run, (scav >> b & 1) ? 2 : 1, base + b * L->page_size,
					 L->page_size);
		}
		flush_run(run);
	}
	return NULL;
}

static struct gomem_error *foreach_free_run(struct walk_state *w, gm_free_run_fn fn, void *arg,
					    uint64_t *mapped_ret)
{
	struct page_run run = {.fn = fn, .arg = arg};
	TRY(walk_pages(w, &run, mapped_ret));
	return walk_page_caches(w, &run);
}

struct gomem_error *gm_heap_foreach_free_run(struct gm_runtime *rt, gm_free_run_fn fn, void *arg)
{
	struct walk_state w;
	uint64_t mapped = 0;
	struct gomem_error *err = walk_state_init(&w, rt);
	if (!err)
		err = foreach_free_run(&w, fn, arg, &mapped);
	free(w.arenas);
	return err;
}

/* ---- the totals of gomem summary ---- */

struct totals {
	struct gm_heap_walk *out;
	gm_resident_fn resident;
	void *resident_arg;
};

static uint64_t resident(struct totals *t, uint64_t start, uint64_t end)
{
	return t->resident ? t->resident(t->resident_arg, start, end) : 0;
}

static struct gomem_error *add_span(void *arg, const struct gm_span *sp)
{
	struct totals *t = arg;
	struct gm_heap_walk *out = t->out;
	if (sp->state == GM_SPAN_MANUAL) {
		out->spans_manual++;
		/* Stack spans carry the stack size in elemsize; GC work buffers carry 0. */
		if (sp->elemsize) {
			out->stack_bytes += sp->bytes;
			out->stack_resident_bytes += resident(t, sp->start, sp->start + sp->bytes);
		} else {
			out->work_buf_bytes += sp->bytes;
		}
		return NULL;
	}
	if (sp->user_chunk) {
		/* Mapped by the arena code itself, outside the page allocator (arena.go). */
		out->user_chunk_bytes += sp->bytes;
		out->mapped_bytes += sp->bytes;
	}
	struct gm_class_stats *c = sp->sizeclass == 0 ? &out->large : &out->classes[sp->sizeclass];
	uint64_t used = sp->alloc_count * sp->elemsize;
	uint64_t free_slots = sp->nelems - sp->alloc_count;
	uint64_t waste = sp->bytes - sp->nelems * sp->elemsize;
	out->spans_in_use++;
	out->in_use_bytes += sp->bytes;
	out->in_use_resident_bytes += resident(t, sp->start, sp->start + sp->bytes);
	out->objects += sp->alloc_count;
	out->object_bytes += used;
	out->free_slot_bytes += free_slots * sp->elemsize;
	out->tail_waste_bytes += waste;
	c->spans++;
	c->objects += sp->alloc_count;
	c->object_bytes += used;
	c->free_slots += free_slots;
	c->free_slot_bytes += free_slots * sp->elemsize;
	c->tail_waste_bytes += waste;
	return NULL;
}

static void add_free_run(void *arg, uint64_t start, uint64_t end, bool released)
{
	struct totals *t = arg;
	if (released) {
		t->out->free_released_bytes += end - start;
		t->out->free_released_resident_bytes += resident(t, start, end);
	} else {
		t->out->free_retained_bytes += end - start;
		t->out->free_retained_resident_bytes += resident(t, start, end);
	}
}

struct gomem_error *gm_runtime_walk_heap(struct gm_runtime *rt, gm_resident_fn resident_fn,
					 void *resident_arg, struct gm_heap_walk *ret)
{
	struct gm_heap_walk out;
	memset(&out, 0, sizeof(out));
	struct totals t = {&out, resident_fn, resident_arg};
	struct walk_state w;
	struct gomem_error *err = walk_state_init(&w, rt);
	if (!err)
		err = foreach_span(&w, add_span, &t, &out.bad_spans, &out.spans_free);
	if (!err)
		err = foreach_free_run(&w, add_free_run, &t, &out.mapped_bytes);
	out.arenas = w.narenas;
	out.arena_bytes = w.narenas * rt->L.arena_bytes;
	for (size_t i = 0; i < w.narenas; i++)
		out.user_arenas += w.arenas[i].user;
	free(w.arenas);
	if (err)
		return err;
	out.unmapped_arena_bytes =
	    out.arena_bytes > out.mapped_bytes ? out.arena_bytes - out.mapped_bytes : 0;
	*ret = out;
	return NULL;
}
