/*
 * The heap walk: arenas, spans and the page allocator's bitmaps. It reads
 * runtime metadata only, never the objects themselves.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

#define TRY(x)                                                                                     \
	do {                                                                                       \
		struct gomem_error *err_ = (x);                                                    \
		if (err_)                                                                          \
			return err_;                                                               \
	} while (0)

const uint16_t gm_class_to_size[GM_MAX_SIZE_CLASSES] = {
    0,	   8,	  16,	 24,	32,    48,    64,    80,    96,	   112,	  128,	 144,  160,   176,
    192,   208,	  224,	 240,	256,   288,   320,   352,   384,   416,	  448,	 480,  512,   576,
    640,   704,	  768,	 896,	1024,  1152,  1280,  1408,  1536,  1792,  2048,	 2304, 2688,  3072,
    3200,  3456,  4096,	 4864,	5376,  6144,  6528,  6784,  6912,  8192,  9472,	 9728, 10240, 10880,
    12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};

struct arena {
	uint64_t base; /* address of the arena's first byte */
	uint64_t meta; /* its *heapArena */
};

struct walk_state {
	struct gm_runtime *rt;
	gm_resident_fn resident;
	void *resident_arg;
	struct arena *arenas;
	size_t narenas;
	struct gm_heap_walk *out;
};

static uint64_t resident(struct walk_state *w, uint64_t start, uint64_t end)
{
	return w->resident ? w->resident(w->resident_arg, start, end) : 0;
}

static int cmp_arena(const void *a, const void *b)
{
	const struct arena *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

static const struct arena *find_arena(const struct walk_state *w, uint64_t addr)
{
	size_t lo = 0, hi = w->narenas;
	uint64_t size = w->rt->L.arena_bytes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < w->arenas[mid].base)
			hi = mid;
		else if (addr - w->arenas[mid].base >= size)
			lo = mid + 1;
		else
			return &w->arenas[mid];
	}
	return NULL;
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

/* The heap arenas, from mheap_.allArenas (heapArenas since 1.25) and mheap_.arenas. */
static struct gomem_error *load_arenas(struct walk_state *w)
{
	struct gm_runtime *rt = w->rt;
	struct gm_layout *L = &rt->L;
	uint64_t array, len;
	TRY(read_slice(rt, rt->mheap + L->mheap_heap_arenas.offset, &array, &len));
	uint64_t max = 1ULL << (L->arena_l1_bits + L->arena_l2_bits);
	if (len > max)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "mheap_ lists %llu arenas (at most %llu)",
				(unsigned long long)len, (unsigned long long)max);
	unsigned idx_size = (unsigned)L->mheap_heap_arenas.elem_size;
	if (idx_size != 4 && idx_size != 8)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "arena index of %u bytes", idx_size);
	w->arenas = calloc(len ? len : 1, sizeof(*w->arenas));
	if (!w->arenas)
		return &gm_error_no_memory;
	for (uint64_t i = 0; i < len; i++) {
		uint64_t ai, l2;
		TRY(gm_read_uint(rt->mem, array + i * idx_size, idx_size, &ai));
		if (ai >= max)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "arena index %llu out of range",
					(unsigned long long)ai);
		uint64_t l1 = L->arena_l1_bits ? ai >> L->arena_l2_bits : 0;
		uint64_t l2i = ai & ((1ULL << L->arena_l2_bits) - 1);
		TRY(gm_read_u64(rt->mem, rt->mheap + L->mheap_arenas.offset + 8 * l1, &l2));
		if (!l2)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "arena L2 map %llu is nil",
					(unsigned long long)l1);
		struct arena *a = &w->arenas[w->narenas];
		TRY(gm_read_u64(rt->mem, l2 + 8 * l2i, &a->meta));
		if (!a->meta)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "heap arena %llu has no metadata",
					(unsigned long long)ai);
		a->base = ai * L->arena_bytes + L->arena_base_offset;
		w->narenas++;
	}
	qsort(w->arenas, w->narenas, sizeof(*w->arenas), cmp_arena);
	w->out->arenas = w->narenas;
	w->out->arena_bytes = w->narenas * L->arena_bytes;
	return NULL;
}

static void account_in_use(struct walk_state *w, uint64_t start, uint64_t bytes, const uint8_t *buf)
{
	struct gm_layout *L = &w->rt->L;
	struct gm_heap_walk *out = w->out;
	uint64_t cls = gm_rt_field(buf, &L->mspan_spanclass) >> 1;
	uint64_t elemsize = gm_rt_field(buf, &L->mspan_elemsize);
	uint64_t nelems = gm_rt_field(buf, &L->mspan_nelems);
	uint64_t count = gm_rt_field(buf, &L->mspan_alloccount);
	struct gm_class_stats *c = cls == 0 ? &out->large : &out->classes[cls];
	out->spans_in_use++;
	out->in_use_bytes += bytes;
	out->in_use_resident_bytes += resident(w, start, start + bytes);
	out->objects += count;
	out->object_bytes += count * elemsize;
	out->free_slot_bytes += (nelems - count) * elemsize;
	out->tail_waste_bytes += bytes - nelems * elemsize;
	c->spans++;
	c->objects += count;
	c->object_bytes += count * elemsize;
	c->free_slots += nelems - count;
	c->free_slot_bytes += (nelems - count) * elemsize;
	c->tail_waste_bytes += bytes - nelems * elemsize;
}

/*
 * One entry of mheap_.allspans. Dead descriptors stay in allspans, so a
 * span counts only when it is live and its arena's spans[] entry for its
 * first page points back at it.
 */
static struct gomem_error *visit_span(struct walk_state *w, uint64_t s, uint64_t *bad)
{
	struct gm_runtime *rt = w->rt;
	struct gm_layout *L = &rt->L;
	uint8_t buf[GM_MSPAN_MAX];
	if (!s)
		return NULL;
	TRY(gm_read(rt->mem, s, buf, L->mspan_size));
	uint64_t state = gm_rt_field(buf, &L->mspan_state);
	if (state != L->span_in_use && state != L->span_manual) {
		w->out->spans_free++;
		return NULL;
	}
	uint64_t start = gm_rt_field(buf, &L->mspan_startaddr);
	uint64_t npages = gm_rt_field(buf, &L->mspan_npages);
	const struct arena *a = find_arena(w, start);
	uint64_t back = 0;
	if (a && start % L->page_size == 0) {
		uint64_t page = (start - a->base) / L->page_size;
		TRY(gm_read_u64(rt->mem, a->meta + L->heaparena_spans.offset + 8 * page, &back));
	}
	uint64_t bytes = npages * L->page_size;
	if (back != s || npages == 0 || npages > (UINT64_MAX - start) / L->page_size) {
		(*bad)++;
		return NULL;
	}
	if (state == L->span_manual) {
		w->out->spans_manual++;
		/* Stack spans carry the stack size in elemsize; GC work buffers carry 0. */
		if (gm_rt_field(buf, &L->mspan_elemsize)) {
			w->out->stack_bytes += bytes;
			w->out->stack_resident_bytes += resident(w, start, start + bytes);
		} else {
			w->out->work_buf_bytes += bytes;
		}
		return NULL;
	}
	uint64_t cls = gm_rt_field(buf, &L->mspan_spanclass) >> 1;
	uint64_t elemsize = gm_rt_field(buf, &L->mspan_elemsize);
	uint64_t nelems = gm_rt_field(buf, &L->mspan_nelems);
	uint64_t count = gm_rt_field(buf, &L->mspan_alloccount);
	if (cls >= L->nclasses || count > nelems || elemsize == 0 || nelems > bytes / elemsize) {
		(*bad)++;
		return NULL;
	}
	account_in_use(w, start, bytes, buf);
	return NULL;
}

static struct gomem_error *walk_spans(struct walk_state *w, uint64_t *bad)
{
	struct gm_runtime *rt = w->rt;
	uint64_t array, len;
	TRY(read_slice(rt, rt->mheap + rt->L.mheap_allspans.offset, &array, &len));
	/* Descriptors are 1 KiB at most; a slice longer than the heap's pages is corrupt. */
	uint64_t max = w->narenas * (rt->L.arena_bytes / rt->L.page_size) + (1ULL << 20);
	if (len > max)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"mheap_.allspans has %llu entries for %zu arenas",
				(unsigned long long)len, w->narenas);
	uint64_t batch[512];
	for (uint64_t i = 0; i < len; i += GM_ARRAY_SIZE(batch)) {
		uint64_t n = len - i < GM_ARRAY_SIZE(batch) ? len - i : GM_ARRAY_SIZE(batch);
		TRY(gm_read(rt->mem, array + 8 * i, batch, n * 8));
		for (uint64_t j = 0; j < n; j++)
			TRY(visit_span(w, batch[j], bad));
	}
	return NULL;
}

/* Free pages as runs of one kind, to ask residency once per run. */
struct page_run {
	int kind; /* 0 none, 1 retained, 2 released */
	uint64_t start, end;
};

static void flush_run(struct walk_state *w, struct page_run *run)
{
	if (run->kind == 1)
		w->out->free_retained_resident_bytes += resident(w, run->start, run->end);
	else if (run->kind == 2)
		w->out->free_released_resident_bytes += resident(w, run->start, run->end);
	run->kind = 0;
}

static void add_page(struct walk_state *w, struct page_run *run, int kind, uint64_t addr)
{
	uint64_t ps = w->rt->L.page_size;
	if (kind == 1)
		w->out->free_retained_bytes += ps;
	else if (kind == 2)
		w->out->free_released_bytes += ps;
	if (!w->resident)
		return;
	if (run->kind == kind && run->end == addr) {
		run->end += ps;
		return;
	}
	flush_run(w, run);
	if (kind)
		*run = (struct page_run){kind, addr, addr + ps};
}

/* Pages of [base, limit) in one chunk's bitmaps. */
static void count_chunk(struct walk_state *w, struct page_run *run, uint64_t chunk_base,
			const uint64_t alloc[8], const uint64_t scav[8], uint64_t base,
			uint64_t limit)
{
	uint64_t ps = w->rt->L.page_size;
	uint64_t first = base > chunk_base ? (base - chunk_base) / ps : 0;
	uint64_t last = (limit - chunk_base) / ps; /* exclusive */
	if (last > 512)
		last = 512;
	for (uint64_t i = first; i < last; i++) {
		uint64_t bit = 1ULL << (i % 64);
		int kind = 0;
		if (scav[i / 64] & bit)
			kind = 2; /* released; 1.26's random padding pages are also allocated */
		else if (!(alloc[i / 64] & bit))
			kind = 1;
		add_page(w, run, kind, chunk_base + i * ps);
	}
}

static struct gomem_error *walk_pages(struct walk_state *w)
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
	struct page_run run = {0};
	for (uint64_t r = 0; r < len; r++) {
		uint64_t rng[2];
		TRY(gm_read(rt->mem, array + r * L->addrrange_size, rng, sizeof(rng)));
		uint64_t base = rng[0], limit = rng[1];
		if (limit < base || (limit - base) % L->page_size ||
		    limit - base > w->narenas * L->arena_bytes)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"page allocator range 0x%llx-0x%llx is corrupt",
					(unsigned long long)base, (unsigned long long)limit);
		w->out->mapped_bytes += limit - base;
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
			count_chunk(w, &run, chunk_base, data + L->pallocdata_alloc.offset / 8,
				    data + L->pallocdata_scav.offset / 8, addr, end);
			addr = end;
		}
	}
	flush_run(w, &run);
	return NULL;
}

/* Pages that a P holds in its page cache are marked allocated in the chunks but are free. */
static struct gomem_error *walk_page_caches(struct walk_state *w)
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
		struct page_run run = {0};
		for (unsigned b = 0; b < 64; b++) {
			if (!(cache >> b & 1))
				continue;
			add_page(w, &run, (scav >> b & 1) ? 2 : 1, base + b * L->page_size);
		}
		flush_run(w, &run);
	}
	return NULL;
}

struct gomem_error *gm_runtime_walk_heap(struct gm_runtime *rt, gm_resident_fn resident_fn,
					 void *resident_arg, struct gm_heap_walk *ret)
{
	struct gm_heap_walk out;
	memset(&out, 0, sizeof(out));
	struct walk_state w = {
	    .rt = rt, .resident = resident_fn, .resident_arg = resident_arg, .out = &out};
	uint64_t bad = 0;
	struct gomem_error *err = load_arenas(&w);
	if (!err)
		err = walk_spans(&w, &bad);
	if (!err)
		err = walk_pages(&w);
	if (!err)
		err = walk_page_caches(&w);
	free(w.arenas);
	if (err)
		return err;
	out.bad_spans = bad;
	uint64_t mapped_in_arenas = out.mapped_bytes;
	out.unmapped_arena_bytes =
	    out.arena_bytes > mapped_in_arenas ? out.arena_bytes - mapped_in_arenas : 0;
	*ret = out;
	return NULL;
}
