/*
 * The Go runtime's own regions of the address space, from the pointers it
 * keeps: where each reservation and each piece of metadata starts and how
 * big it is. Nothing here is guessed from the shape of a mapping.
 *
 * Sizes and allocation paths are those of mheap.go, malloc.go,
 * mpagealloc*.go, mgcscavenge.go and mprof.go; they hold for Go 1.19 to
 * 1.27 unless a comment names a version. Layouts come from DWARF.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

/* Lists read from the target are cut here: a longer one is corrupt. */
#define MAX_LIST    (1 << 16)
#define MAX_REGIONS (1u << 19)

#define OS_PAGE 4096ULL

static uint64_t page_up(uint64_t n)
{
	return (n + OS_PAGE - 1) & ~(OS_PAGE - 1);
}

struct ctx {
	struct gm_runtime *rt;
	const struct gm_regions_layout *R;
	struct gm_rt_regions *rs;
	uint64_t first_heap;  /* the lowest mapped heap address (0 if none) */
	bool randomized_base; /* Go 1.26+: the heap starts at a random offset of its arena */
};

GM_DEFINE_GROW_MAX(grow_regions, struct gm_rt_region, MAX_REGIONS,
		   "regions: the runtime's lists are corrupt")

static struct gomem_error *push(struct ctx *c, const struct gm_rt_region *r)
{
	struct gm_rt_region *slot;
	TRY(grow_regions(&c->rs->v, &c->rs->n, &c->rs->cap, &slot));
	*slot = *r;
	return NULL;
}

static struct gomem_error *add(struct ctx *c, uint64_t start, uint64_t len,
			       enum gm_rt_region_kind kind, uint64_t stat, const char *source,
			       const char *fmt, ...) GM_PRINTF(7, 8);

static struct gomem_error *add(struct ctx *c, uint64_t start, uint64_t len,
			       enum gm_rt_region_kind kind, uint64_t stat, const char *source,
			       const char *fmt, ...)
{
	if (!start || !len || start + len < start)
		return NULL;
	struct gm_rt_region r = {
	    .start = start, .end = start + len, .kind = kind, .stat_bytes = stat};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.label, sizeof(r.label), fmt, ap);
	va_end(ap);
	snprintf(r.source, sizeof(r.source), "%s", source);
	return push(c, &r);
}

/* A reservation that is mapped read-write only where it is needed. */
static struct gomem_error *add_reservation(struct ctx *c, uint64_t start, uint64_t len,
					   enum gm_rt_region_kind kind, const char *source,
					   const char *label)
{
	if (!start || !len || start + len < start)
		return NULL;
	struct gm_rt_region r = {
	    .start = start, .end = start + len, .kind = kind, .stat_mapped = true};
	snprintf(r.label, sizeof(r.label), "%s", label);
	snprintf(r.source, sizeof(r.source), "%s", source);
	return push(c, &r);
}

static struct gomem_error *read_slice(struct ctx *c, uint64_t addr, uint64_t hdr[3])
{
	TRY(gm_read(c->rt->mem, addr, hdr, 3 * sizeof(uint64_t)));
	if (hdr[1] > hdr[2])
		return gm_error(GOMEM_ERROR_INCONSISTENT, "slice at 0x%" PRIx64 ": len > cap",
				addr);
	return NULL;
}

/* ---- the heap ---- */

/* A range [start, end) of the heap: mapped by the page allocator, or a user arena chunk. */
struct addr_range {
	uint64_t start, end;
};

GM_DEFINE_ARRAY(range_array, struct addr_range)

static int cmp_range(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* mheap_.pages.inUse: every range of the heap the runtime has mapped, sorted. */
static struct gomem_error *heap_in_use(struct ctx *c, struct addr_range **ret, size_t *n_ret)
{
	struct gm_layout *L = &c->rt->L;
	uint64_t hdr[3];
	TRY(read_slice(c, c->rt->mheap + L->mheap_pages.offset + L->pagealloc_inuse_ranges.offset,
		       hdr));
	if (hdr[1] > MAX_LIST)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "page allocator has %" PRIu64 " ranges",
				hdr[1]);
	struct addr_range *r = calloc(hdr[1] ? hdr[1] : 1, sizeof(*r));
	if (!r)
		return &gm_error_no_memory;
	for (uint64_t i = 0; i < hdr[1]; i++) {
		uint64_t v[2];
		struct gomem_error *err =
		    gm_read(c->rt->mem, hdr[0] + i * L->addrrange_size, v, 16);
		if (!err && v[1] < v[0])
			err =
			    gm_error(GOMEM_ERROR_INCONSISTENT,
				     "page allocator range 0x%" PRIx64 "-0x%" PRIx64 " is corrupt",
				     v[0], v[1]);
		if (err) {
			free(r);
			return err;
		}
		r[i] = (struct addr_range){v[0], v[1]};
	}
	gm_sort(r, hdr[1], sizeof(*r), cmp_range);
	*ret = r;
	*n_ret = hdr[1];
	return NULL;
}

/*
 * One heap arena: its mapped ranges (go-heap) and the rest of its 64 MiB
 * (go-heap-reserved), which is either the reserved tail the heap grows
 * into (mheap_.curArena), or, from Go 1.26, the space before a randomized
 * heap base that is never mapped (mheap.go@1.26 grow, randomizeHeapBase).
 */
static struct gomem_error *add_arena(struct ctx *c, const struct gm_arena *a, uint64_t arena_idx,
				     const struct addr_range *ranges, size_t nranges,
				     uint64_t cur_base, uint64_t cur_end)
{
	char label[96];
	snprintf(label, sizeof(label), "%s arena 0x%" PRIx64 " (arena index %" PRIu64 ")",
		 a->user ? "user" : "heap", a->base, arena_idx);
	const char *list = !a->user				? "mheap_.heapArenas"
			   : c->rt->L.mheap_user_arenas.present ? "mheap_.userArenaArenas"
								: "mheap_.arenas";
	static const char unused_chunks[] =
	    "%s: reserved: user arena chunks not in use (ready for reuse, or set to fault after "
	    "Free)";
	uint64_t pos = a->base;
	for (size_t i = 0; i < nranges && pos < a->end; i++) {
		uint64_t lo = ranges[i].start > pos ? ranges[i].start : pos;
		uint64_t hi = ranges[i].end < a->end ? ranges[i].end : a->end;
		if (hi <= lo)
			continue;
		if (lo > pos) {
			bool before =
			    !a->user && c->randomized_base && pos == a->base && lo == c->first_heap;
			TRY(add(c, pos, lo - pos, GM_RR_HEAP_RESERVED, 0, list,
				a->user	 ? unused_chunks
				: before ? "%s: reserved, never mapped: skipped by the randomized "
					   "heap base"
					 : "%s: reserved, not mapped",
				label));
		}
		TRY(add(c, lo, hi - lo, GM_RR_HEAP, 0,
			a->user ? "mheap_.allspans (isUserArenaChunk)" : "mheap_.pages.inUse",
			a->user ? "%s: user arena chunks in use" : "%s: mapped heap pages", label));
		pos = hi;
	}
	if (pos < a->end) {
		bool cur = !a->user && cur_base <= pos && a->end <= cur_end;
		TRY(add(c, pos, a->end - pos, GM_RR_HEAP_RESERVED, 0, list,
			a->user ? unused_chunks
			: cur	? "%s: reserved, not yet mapped (mheap_.curArena, where the heap "
				  "grows next)"
				: "%s: reserved, not mapped",
			label));
	}
	return NULL;
}

static struct gomem_error *add_user_chunk(void *arg, const struct gm_span *sp)
{
	if (!sp->user_chunk)
		return NULL;
	struct addr_range *r = range_array_add(arg);
	if (!r)
		return &gm_error_no_memory;
	*r = (struct addr_range){sp->start, sp->start + sp->bytes};
	return NULL;
}

/* The user arena chunks in use, sorted: they are mapped outside the page allocator. */
static struct gomem_error *user_chunks(struct ctx *c, const struct gm_arena *arenas, size_t n,
				       struct range_array *r)
{
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = arenas[i].user;
	if (!any)
		return NULL;
	uint64_t bad = 0;
	TRY(gm_heap_foreach_span(c->rt, add_user_chunk, r, &bad));
	gm_sort(r->v, r->n, sizeof(*r->v), cmp_range);
	return NULL;
}

static struct gomem_error *heap_regions(struct ctx *c)
{
	struct gm_runtime *rt = c->rt;
	struct gm_layout *L = &rt->L;
	uint64_t cb = 0, ce = 0;
	TRY(gm_rt_read_field(rt, rt->mheap, &c->R->cur_arena_base, &cb));
	TRY(gm_rt_read_field(rt, rt->mheap, &c->R->cur_arena_end, &ce));
	c->randomized_base = c->R->randomized_base;

	_cleanup_free_ struct addr_range *ranges = NULL;
	size_t nranges = 0;
	TRY(heap_in_use(c, &ranges, &nranges));
	c->first_heap = nranges ? ranges[0].start : 0;

	_cleanup_free_ struct gm_arena *arenas = NULL;
	size_t narenas = 0;
	TRY(gm_heap_arenas(rt, &arenas, &narenas));
	c->rs->narenas = narenas;
	uint64_t meta_size = c->R->heap_arena_size;
	struct range_array chunks = {0};
	struct gomem_error *err = user_chunks(c, arenas, narenas, &chunks);
	for (size_t i = 0; !err && i < narenas; i++) {
		uint64_t idx = (arenas[i].base - L->arena_base_offset) >> L->log_arena_bytes;
		if (arenas[i].user)
			err = add_arena(c, &arenas[i], idx, chunks.v, chunks.n, 0, 0);
		else
			err = add_arena(c, &arenas[i], idx, ranges, nranges, cb, ce);
	}
	free(chunks.v);
	if (err)
		return err;
	for (size_t i = 0; i < narenas; i++) {
		/*
		 * A heapArena is persistentalloc'd; at 64 KiB or more that is a
		 * sysAlloc of its own, counted in GCSys (malloc.go sysAlloc).
		 */
		if (meta_size >= (64 << 10))
			TRY(add(c, arenas[i].meta, page_up(meta_size), GM_RR_HEAP_ARENA_META,
				meta_size, "mheap_.arenas",
				"heapArena metadata of arena 0x%" PRIx64
				" (span map, page bitmaps; %" PRIu64 " bytes)",
				arenas[i].base, meta_size));
	}
	/* The arena index: sysAllocOS'd, counted in no MemStats field (malloc.go sysAlloc). */
	uint64_t l1_count = L->mheap_arenas.count ? L->mheap_arenas.count : 1;
	uint64_t l2_bytes = (1ULL << L->arena_l2_bits) * 8;
	for (uint64_t i = 0; i < l1_count && i < 1024; i++) {
		uint64_t l2;
		TRY(gm_read_u64(rt->mem, rt->mheap + L->mheap_arenas.offset + 8 * i, &l2));
		TRY(add(c, l2, l2_bytes, GM_RR_ARENA_INDEX, 0, "mheap_.arenas",
			"arena index (mheap_.arenas[%" PRIu64 "]): one *heapArena per 64 MiB of "
			"address space; in no MemStats field",
			i));
	}
	return NULL;
}

/* ---- the page allocator ---- */

static struct gomem_error *page_alloc_regions(struct ctx *c)
{
	struct gm_runtime *rt = c->rt;
	struct gm_layout *L = &rt->L;
	uint64_t pages = rt->mheap + L->mheap_pages.offset;
	const struct gm_field summary = c->R->summary, scav = c->R->scav_chunks;
	/* The page summaries: one PROT_NONE reservation per level (mpagealloc_64bit.go sysInit). */
	for (uint64_t l = 0; summary.present && l < summary.count && l < 8; l++) {
		uint64_t hdr[3];
		char label[80], source[64];
		TRY(read_slice(c, pages + summary.offset + l * summary.elem_size, hdr));
		uint64_t bytes = page_up(hdr[2] * 8);
		snprintf(label, sizeof(label), "page summary level %" PRIu64 " (%s reserved)", l,
			 gm_human_bytes(bytes, (char[32]){0}));
		snprintf(source, sizeof(source), "mheap_.pages.summary[%" PRIu64 "]", l);
		TRY(add_reservation(c, hdr[0], bytes, GM_RR_SUMMARY, source, label));
	}
	/*
	 * The scavenger index: one reservation, mapped where the heap is
	 * (mpagealloc_64bit.go scavengeIndex.sysInit). A bitmap of 8 MiB up
	 * to Go 1.20, 8 bytes per chunk (512 MiB) from 1.21 (mgcscavenge.go@1.21).
	 */
	if (scav.present && scav.elem_size) {
		uint64_t hdr[3];
		char label[96];
		TRY(read_slice(c, pages + scav.offset, hdr));
		uint64_t bytes = page_up(hdr[2] * scav.elem_size);
		snprintf(label, sizeof(label), "scavenger index (%s reserved)",
			 gm_human_bytes(bytes, (char[32]){0}));
		TRY(add_reservation(c, hdr[0], bytes, GM_RR_SCAV_INDEX,
				    "mheap_.pages.scav.index.chunks", label));
	}
	/* The bitmaps: second-level arrays of pallocData, sysAlloc'd (mpagealloc.go grow). */
	uint64_t l1_count = 1ULL << L->chunks_l1_bits;
	uint64_t l2_bytes = (1ULL << L->chunks_l2_bits) * L->pallocdata_size;
	uint64_t batch[512];
	for (uint64_t i = 0; i < l1_count; i += GM_ARRAY_SIZE(batch)) {
		uint64_t n =
		    l1_count - i < GM_ARRAY_SIZE(batch) ? l1_count - i : GM_ARRAY_SIZE(batch);
		TRY(gm_read(rt->mem, pages + L->pagealloc_chunks.offset + 8 * i, batch, 8 * n));
		for (uint64_t j = 0; j < n; j++)
			TRY(add(c, batch[j], page_up(l2_bytes), GM_RR_CHUNKS, l2_bytes,
				"mheap_.pages.chunks",
				"page allocator bitmaps (mheap_.pages.chunks[%" PRIu64
				"]: allocated and scavenged bits of 4 MiB chunks)",
				i + j));
	}
	return NULL;
}

/* ---- other metadata ---- */

/* persistentalloc's 256 KiB chunks, chained through their first word (malloc.go). */
static struct gomem_error *persistent_regions(struct ctx *c)
{
	uint64_t head_addr = c->R->persistent_chunks, chunk;
	if (!head_addr)
		return NULL;
	uint64_t size = c->R->persistent_chunk_size;
	TRY(gm_read_u64(c->rt->mem, head_addr, &chunk));
	for (size_t n = 0; chunk; n++) {
		if (n == MAX_LIST)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"runtime.persistentChunks: more than %d chunks", MAX_LIST);
		TRY(add(c, chunk, size, GM_RR_PERSISTENT, size, "runtime.persistentChunks",
			"persistentalloc chunk: fixalloc chunks (mspans, mcaches, specials), "
			"profiling buckets, small runtime tables"));
		TRY(gm_read_u64(c->rt->mem, chunk, &chunk));
	}
	return NULL;
}

/* gcBitsArenas: four lists of 64 KiB arenas of mark and allocation bits (mheap.go). */
static struct gomem_error *gc_bits_regions(struct ctx *c)
{
	static const char *const lists[] = {"free", "next", "current", "previous"};
	const struct gm_regions_layout *R = c->R;
	if (!R->have_gc_bits)
		return NULL;
	uint64_t var = R->gc_bits_arenas, mutex_size = R->gc_bits_mutex_size;
	uint64_t size = R->gc_bits_chunk_bytes;
	const struct gm_field next = R->gc_bits_next;
	/* struct { lock mutex; free, next, current, previous *gcBitsArena } */
	for (size_t l = 0; l < GM_ARRAY_SIZE(lists); l++) {
		uint64_t a;
		char source[64];
		snprintf(source, sizeof(source), "gcBitsArenas.%s", lists[l]);
		TRY(gm_read_u64(c->rt->mem, var + mutex_size + 8 * l, &a));
		for (size_t n = 0; a; n++) {
			if (n == MAX_LIST)
				return gm_error(GOMEM_ERROR_INCONSISTENT, "%s: list too long",
						source);
			TRY(add(c, a, size, GM_RR_GC_BITS, size, source,
				"GC bitmap arena (%s): spans' mark and allocation bits", source));
			TRY(gm_read_u64(c->rt->mem, a + next.offset, &a));
		}
	}
	return NULL;
}

static struct gomem_error *misc_regions(struct ctx *c)
{
	struct gm_runtime *rt = c->rt;
	struct gm_layout *L = &rt->L;
	uint64_t hdr[3];
	/* allspans' array, sysAlloc'd and counted in OtherSys (mheap.go recordspan). */
	TRY(read_slice(c, rt->mheap + L->mheap_allspans.offset, hdr));
	if (hdr[2] > 0 && hdr[2] < (1ULL << 40) / 8)
		TRY(add(c, hdr[0], page_up(hdr[2] * 8), GM_RR_ALLSPANS, hdr[2] * 8,
			"mheap_.allspans",
			"allspans array: a pointer to every mspan ever made (%" PRIu64
			" of %" PRIu64 ")",
			hdr[1], hdr[2]));
	/* The arena list grows by persistentalloc, a sysAlloc of its own from 64 KiB. */
	TRY(read_slice(c, rt->mheap + L->mheap_heap_arenas.offset, hdr));
	uint64_t list_bytes = hdr[2] * L->mheap_heap_arenas.elem_size;
	if (list_bytes >= (64 << 10) && hdr[2] < (1ULL << 32))
		TRY(add(c, hdr[0], page_up(list_bytes), GM_RR_HEAP_ARENA_META, list_bytes,
			"mheap_.heapArenas", "list of heap arenas"));
	/* The profiling hash table, made at the first profiled allocation. */
	uint64_t bh;
	if (c->R->buckhash) {
		uint64_t size = c->R->buckhash_size;
		TRY(gm_read_u64(rt->mem, c->R->buckhash, &bh));
		TRY(add(c, bh, page_up(size), GM_RR_BUCKHASH, size, "runtime.buckhash",
			"profiling bucket hash table (BuckHashSys), made at the first profiled "
			"allocation"));
	}
	return NULL;
}

/*
 * Green Tea's span queues (Go 1.25+): rings sysAlloc'd by newSpanSPMC and
 * freed only when dead, listed in work.spanSPMCs (mgcmark_greenteagc.go).
 */
static struct gomem_error *span_queue_regions(struct ctx *c)
{
	const struct gm_regions_layout *R = c->R;
	if (!R->have_span_queues)
		return NULL;
	const struct gm_field *next = &R->spmc_next, *ring = &R->spmc_ring, *cap = &R->spmc_cap;
	uint64_t r;
	TRY(gm_rt_read_field(c->rt, R->work, &R->spmc_head, &r));
	for (size_t n = 0; r; n++) {
		uint64_t base, slots;
		if (n == MAX_LIST)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "work.spanSPMCs: list too long");
		TRY(gm_rt_read_field(c->rt, r, ring, &base));
		TRY(gm_rt_read_field(c->rt, r, cap, &slots));
		if (slots < (1ULL << 32))
			TRY(add(c, base, page_up(slots * 8), GM_RR_SPAN_QUEUES, slots * 8,
				"work.spanSPMCs",
				"GC span queue ring (Green Tea): %" PRIu64 " slots", slots));
		TRY(gm_rt_read_field(c->rt, r, next, &r));
	}
	return NULL;
}

static struct gomem_error *go_regions(struct ctx *c)
{
	TRY(heap_regions(c));
	TRY(page_alloc_regions(c));
	TRY(persistent_regions(c));
	TRY(gc_bits_regions(c));
	TRY(misc_regions(c));
	return span_queue_regions(c);
}

struct gomem_error *gm_go_regions(struct gm_runtime *rt, struct gm_rt_regions *ret)
{
	struct gm_rt_regions rs = {0};
	struct ctx c = {.rt = rt, .rs = &rs};
	struct gomem_error *err = gm_runtime_regions_layout(rt, &c.R);
	if (!err)
		err = go_regions(&c);
	if (err) {
		gm_rt_regions_deinit(&rs);
		return err;
	}
	*ret = rs;
	return NULL;
}

void gm_rt_regions_deinit(struct gm_rt_regions *rs)
{
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}
