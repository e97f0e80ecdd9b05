/*
 * The heap walk (heap.c) and the MemStats computation (runtime.c) on a
 * synthetic Go heap: a hand-made runtime layout (struct gm_layout) and a
 * memory image of small buffers behind the ordinary memory reader.
 *
 * The image, relative to H = 0xc000800000 (page 1024 of arena 0x203000,
 * chunk index 0x2030002, so the chunk bitmaps' L2 index is 2 and 3):
 *
 *   page  0      span A: class 2 (16 B), 512 slots, 100 allocated (freeindex 64,
 *                allocBits 70-105)
 *   page  1      span E: class 19 (288 B), 28 slots, 20 allocated, 128 B tail
 *   pages 2-4    span L: large, 3 pages, one 24 KiB object
 *   pages 5-8    span S: manual, 8 KiB stacks
 *   page  9      span W: manual, elemsize 0 (GC work buffers)
 *   pages 10-15  free, retained; page 12's stale spans[] entry still names A
 *   pages 16-23  free, released (scavenged)
 *   pages 24-27  held by P0's page cache (allocated in the chunk); 27 scavenged
 *   pages 28-31  free, retained; a stale descriptor X claims 28-29 (spans[] says D)
 *   pages 508-511 free, released (the last pages of chunk 0)
 *   pages 512-515 span B: large, 4 pages (the first pages of chunk 1)
 *   pages 516-517 free, retained
 *   pages 518-521 released; 521 is also allocated (1.26's random padding)
 *
 * pages.inUse holds [H, H+32 pages) and [H+508 pages, H+522 pages). The
 * bitmaps say more outside those ranges, which must be ignored. allspans
 * also holds a nil entry, a dead descriptor D and a descriptor Y outside
 * every arena. A second arena (0x203001) has no spans.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "unit.h"

#define PAGE_SIZE	 8192ULL
#define ARENA_BYTES	 (64ULL << 20)
#define ARENA_BASE_OFF	 0xffff800000000000ULL
#define ARENA_IDX	 0x203000ULL /* of 0xc000000000 */
#define ARENA0_BASE	 0xc000000000ULL
#define H		 (ARENA0_BASE + 1024 * PAGE_SIZE) /* first heap page of the image */
#define HP(p)		 (H + (uint64_t)(p)*PAGE_SIZE)
#define CHUNK_IDX	 0x2030002ULL /* chunk of H */
#define CHUNK_L1	 (CHUNK_IDX >> 13)
#define CHUNK_L2	 (CHUNK_IDX & 0x1fff)
#define PALLOC_DATA_SIZE 128ULL

/* Where the runtime's structures sit in the synthetic address space. */
#define MHEAP	     0x00500000ULL
#define MHEAP_SIZE   0x10200ULL
#define ARENA_L2     0x40000000ULL /* the [1<<22]*heapArena array; only 2 entries mapped */
#define HA0	     0x00600000ULL /* heapArena of arena ARENA_IDX */
#define HA1	     0x00700000ULL /* heapArena of arena ARENA_IDX + 1 */
#define HA_SIZE	     0x10100ULL
#define CHUNKS_L2    0x48000000ULL /* the [8192]pallocData array; 2 entries mapped */
#define ALLSPANS     0x00800000ULL
#define HEAP_ARENAS  0x00810000ULL
#define INUSE_RANGES 0x00820000ULL
#define SPANS	     0x00900000ULL
#define SPAN(i)	     (SPANS + 0x100ULL * (i))
#define ALLP	     0x00a00000ULL
#define ALLP_ARRAY   0x00a00100ULL
#define P0	     0x00a01000ULL
#define P1	     0x00a02000ULL
#define MCACHE0	     0x00a03000ULL
#define EMPTYMSPAN   0x00a04000ULL
#define ALLOCBITS    0x00a05000ULL /* span A's allocBits */
#define MEMSTATS     0x00b00000ULL
#define GCCONTROLLER 0x00c00000ULL
#define NALLSPANS    10

/* Field offsets of the hand-made layout. */
enum {
	MHEAP_PAGES = 0x80,
	PA_CHUNKS = 0x10,
	PA_INUSE_RANGES = 0x10020,
	MHEAP_ALLSPANS = 0x10100,
	MHEAP_ARENAS = 0x10140,
	MHEAP_HEAP_ARENAS = 0x10180,
	MHEAP_SPANALLOC_INUSE = 0x101c0,
	MHEAP_CACHEALLOC_INUSE = 0x101c8,
	HA_SPANS = 0x20,
	MS_STARTADDR = 24,
	MS_NPAGES = 32,
	MS_FREEINDEX = 48,
	MS_NELEMS = 50,
	MS_ALLOCCOUNT = 96,
	MS_SPANCLASS = 98,
	MS_STATE = 99,
	MS_ALLOCCOUNT_BEFORE_CACHE = 100,
	MS_ELEMSIZE = 104,
	MS_ALLOCBITS = 112,
	MSPAN_SIZE = 160,
	HS_SIZE = 1176,
	HS_SMALL_ALLOC = 72,
	HS_SMALL_FREE = 632,
	MSTATS_HEAPSTATS = 0x100,
	P_MCACHE = 0x10,
	P_PCACHE_BASE = 0x20,
	P_PCACHE_CACHE = 0x28,
	P_PCACHE_SCAV = 0x30,
	MCACHE_TINY_ALLOCS = 0x20,
	MCACHE_ALLOC = 0x30,
};

/* The span descriptors (index into SPAN()). */
enum { SA, SE, SL, SS, SW, SB, SD, SX, SY, SC };

struct region {
	uint64_t addr, size;
	uint8_t *buf;
};

struct image {
	struct region r[32];
	size_t n;
	struct gm_memory mem;
	struct gm_runtime *rt;
};

static uint8_t *img_region(struct image *img, uint64_t addr, uint64_t size)
{
	assert_true(img->n < GM_ARRAY_SIZE(img->r));
	uint8_t *buf = calloc(1, size);
	assert_non_null(buf);
	img->r[img->n++] = (struct region){addr, size, buf};
	return buf;
}

/* The bytes of the image at [addr, addr + len), which must lie in one region. */
static uint8_t *img_at(struct image *img, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < img->n; i++) {
		struct region *r = &img->r[i];
		if (addr >= r->addr && addr - r->addr + len <= r->size)
			return r->buf + (addr - r->addr);
	}
	fail_msg("0x%llx is not in the test image", (unsigned long long)addr);
	return NULL;
}

static void poke(struct image *img, uint64_t addr, unsigned size, uint64_t v)
{
	uint8_t *p = img_at(img, addr, size);
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void poke64(struct image *img, uint64_t addr, uint64_t v)
{
	poke(img, addr, 8, v);
}

static void poke_slice(struct image *img, uint64_t addr, uint64_t array, uint64_t len, uint64_t cap)
{
	poke64(img, addr, array);
	poke64(img, addr + 8, len);
	poke64(img, addr + 16, cap);
}

static struct gm_field fld(uint64_t offset, uint64_t size)
{
	return (struct gm_field){.present = true, .offset = offset, .size = size};
}

static struct gm_field arr(uint64_t offset, uint64_t elem_size, uint64_t count)
{
	return (struct gm_field){.present = true,
				 .offset = offset,
				 .size = elem_size * count,
				 .elem_size = elem_size,
				 .count = count};
}

static struct gm_field slice(uint64_t offset, uint64_t elem_size)
{
	return (struct gm_field){
	    .present = true, .offset = offset, .size = 24, .elem_size = elem_size};
}

static void init_layout(struct gm_layout *L)
{
	memset(L, 0, sizeof(*L));
	L->page_shift = 13;
	L->log_arena_bytes = 26;
	L->arena_l1_bits = 0;
	L->arena_l2_bits = 22;
	L->chunks_l1_bits = 13;
	L->chunks_l2_bits = 13;
	L->page_size = PAGE_SIZE;
	L->arena_bytes = ARENA_BYTES;
	L->arena_base_offset = ARENA_BASE_OFF;
	L->chunk_pages = 512;
	L->span_in_use = 1;
	L->span_manual = 2;
	L->limit_headroom_percent = 3;
	L->limit_min_headroom = 1 << 20;
	L->nclasses = GM_MAX_SIZE_CLASSES;

	L->mheap_pages = fld(MHEAP_PAGES, 0x10000);
	L->mheap_allspans = slice(MHEAP_ALLSPANS, 8);
	L->mheap_arenas = arr(MHEAP_ARENAS, 8, 1);
	L->mheap_heap_arenas = slice(MHEAP_HEAP_ARENAS, 8);
	L->mheap_spanalloc_inuse = fld(MHEAP_SPANALLOC_INUSE, 8);
	L->mheap_cachealloc_inuse = fld(MHEAP_CACHEALLOC_INUSE, 8);
	L->heaparena_spans = arr(HA_SPANS, 8, 8192);
	L->pagealloc_chunks = arr(PA_CHUNKS, 8, 8192);
	L->pagealloc_inuse_ranges = slice(PA_INUSE_RANGES, 16);
	L->pallocdata_alloc = arr(0, 8, 8);
	L->pallocdata_scav = arr(64, 8, 8);
	L->pallocdata_size = PALLOC_DATA_SIZE;
	L->addrrange_size = 16;

	L->mspan_size = MSPAN_SIZE;
	L->mspan_startaddr = fld(MS_STARTADDR, 8);
	L->mspan_npages = fld(MS_NPAGES, 8);
	L->mspan_state = fld(MS_STATE, 1);
	L->mspan_spanclass = fld(MS_SPANCLASS, 1);
	L->mspan_elemsize = fld(MS_ELEMSIZE, 8);
	L->mspan_nelems = fld(MS_NELEMS, 2);
	L->mspan_freeindex = fld(MS_FREEINDEX, 2);
	L->mspan_alloccount = fld(MS_ALLOCCOUNT, 2);
	L->mspan_alloccount_before_cache = fld(MS_ALLOCCOUNT_BEFORE_CACHE, 2);
	L->mspan_allocbits = fld(MS_ALLOCBITS, 8);

	L->gc_heap_inuse = fld(0x10, 8);
	L->gc_heap_free = fld(0x18, 8);
	L->gc_heap_released = fld(0x20, 8);
	L->gc_total_alloc = fld(0x28, 8);
	L->gc_total_free = fld(0x30, 8);
	L->gc_mapped_ready = fld(0x38, 8);
	L->gc_percent_heap_goal = fld(0x40, 8);
	L->gc_memory_limit = fld(0x48, 8);
	L->gc_sweep_dist_min_trigger = fld(0x50, 8);
	L->gc_heap_marked = fld(0x58, 8);
	L->gc_triggered = fld(0x60, 8);

	L->ms_heapstats = arr(MSTATS_HEAPSTATS, HS_SIZE, 3);
	L->ms_stacks_sys = fld(0x00, 8);
	L->ms_mspan_sys = fld(0x08, 8);
	L->ms_mcache_sys = fld(0x10, 8);
	L->ms_buckhash_sys = fld(0x18, 8);
	L->ms_gcmisc_sys = fld(0x20, 8);
	L->ms_other_sys = fld(0x28, 8);
	L->ms_numgc = fld(0x30, 4);
	L->ms_numforcedgc = fld(0x34, 4);
	L->ms_last_gc_unix = fld(0x38, 8);
	L->ms_pause_total_ns = fld(0x40, 8);
	L->hs_size = HS_SIZE;
	L->hs_committed = fld(0, 8);
	L->hs_released = fld(8, 8);
	L->hs_in_heap = fld(16, 8);
	L->hs_in_stacks = fld(24, 8);
	L->hs_in_workbufs = fld(32, 8);
	L->hs_in_ptrscalarbits = fld(40, 8);
	L->hs_tiny_alloc_count = fld(48, 8);
	L->hs_large_alloc = fld(56, 8);
	L->hs_large_alloc_count = fld(64, 8);
	L->hs_small_alloc_count = arr(HS_SMALL_ALLOC, 8, GM_MAX_SIZE_CLASSES);
	L->hs_large_free = fld(616, 8);
	L->hs_large_free_count = fld(624, 8);
	L->hs_small_free_count = arr(HS_SMALL_FREE, 8, GM_MAX_SIZE_CLASSES);
	L->p_mcache = fld(P_MCACHE, 8);
	L->p_pcache_base = fld(P_PCACHE_BASE, 8);
	L->p_pcache_cache = fld(P_PCACHE_CACHE, 8);
	L->p_pcache_scav = fld(P_PCACHE_SCAV, 8);
	L->mcache_alloc = arr(MCACHE_ALLOC, 8, 2 * GM_MAX_SIZE_CLASSES);
	L->mcache_tiny_allocs = fld(MCACHE_TINY_ALLOCS, 8);
}

struct tspan {
	int idx;
	uint8_t state;
	uint64_t start, npages;
	uint8_t spanclass;
	uint64_t elemsize;
	uint16_t nelems, alloc_count, alloc_count_before_cache;
	bool in_arena; /* point spans[] at it for each of its pages */
};

static void put_span(struct image *img, const struct tspan *s)
{
	uint64_t a = SPAN(s->idx);
	poke64(img, a + MS_STARTADDR, s->start);
	poke64(img, a + MS_NPAGES, s->npages);
	poke(img, a + MS_STATE, 1, s->state);
	poke(img, a + MS_SPANCLASS, 1, s->spanclass);
	poke64(img, a + MS_ELEMSIZE, s->elemsize);
	poke(img, a + MS_NELEMS, 2, s->nelems);
	poke(img, a + MS_FREEINDEX, 2, s->alloc_count);
	poke(img, a + MS_ALLOCCOUNT, 2, s->alloc_count);
	poke(img, a + MS_ALLOCCOUNT_BEFORE_CACHE, 2, s->alloc_count_before_cache);
	if (!s->in_arena)
		return;
	for (uint64_t p = 0; p < s->npages; p++) {
		uint64_t page = (s->start - ARENA0_BASE) / PAGE_SIZE + p;
		poke64(img, HA0 + HA_SPANS + 8 * page, a);
	}
}

/* Sets bits [first, last] of a chunk's pallocBits (which = 0) or scavenged (which = 1). */
static void set_page_bits(struct image *img, int chunk, int which, int first, int last)
{
	uint64_t data = CHUNKS_L2 + (CHUNK_L2 + (uint64_t)chunk) * PALLOC_DATA_SIZE + 64 * which;
	for (int i = first; i <= last; i++) {
		uint8_t *w = img_at(img, data + 8 * (uint64_t)(i / 64), 8);
		uint64_t v;
		memcpy(&v, w, 8);
		v |= 1ULL << (i % 64);
		memcpy(w, &v, 8);
	}
}

static void build_spans(struct image *img)
{
	const struct tspan spans[] = {
	    {SA, 1, HP(0), 1, 2 << 1 | 1, 16, 512, 100, 0, true},
	    {SE, 1, HP(1), 1, 19 << 1, 288, 28, 20, 0, true},
	    {SL, 1, HP(2), 3, 0 << 1 | 1, 3 * PAGE_SIZE, 1, 1, 0, true},
	    {SS, 2, HP(5), 4, 0, PAGE_SIZE, 4, 3, 0, true},
	    {SW, 2, HP(9), 1, 0, 0, 0, 0, 0, true},
	    {SB, 1, HP(512), 4, 0, 4 * PAGE_SIZE, 1, 1, 0, true},
	    /* D died; its spans[] entry stayed. X is live-looking, but spans[] says D. */
	    {SD, 0, HP(28), 2, 2 << 1, 16, 1024, 0, 0, true},
	    {SX, 1, HP(28), 2, 2 << 1, 16, 1024, 7, 0, false},
	    /* Y claims memory in no arena. */
	    {SY, 1, 0x1000, 1, 2 << 1, 16, 512, 5, 0, false},
	    /* C is cached in P0's mcache (not in allspans: only memstats reads it). */
	    {SC, 1, HP(600), 1, 2 << 1, 16, 512, 10, 4, false},
	};
	for (size_t i = 0; i < GM_ARRAY_SIZE(spans); i++)
		put_span(img, &spans[i]);
	/* A: slots below freeindex 64 are allocated whatever the bitmap says; 70-105 by it. */
	poke(img, SPAN(SA) + MS_FREEINDEX, 2, 64);
	poke64(img, SPAN(SA) + MS_ALLOCBITS, ALLOCBITS);
	for (int i = 70; i <= 105; i++)
		*img_at(img, ALLOCBITS + (uint64_t)i / 8, 1) |= (uint8_t)(1u << (i % 8));
	/* A stale spans[] entry: page 12 is free, but its entry still names A. */
	poke64(img, HA0 + HA_SPANS + 8 * (1024 + 12), SPAN(SA));
	const uint64_t allspans[NALLSPANS] = {SPAN(SA), SPAN(SE), 0,	    SPAN(SL), SPAN(SD),
					      SPAN(SS), SPAN(SW), SPAN(SX), SPAN(SB), SPAN(SY)};
	for (size_t i = 0; i < NALLSPANS; i++)
		poke64(img, ALLSPANS + 8 * i, allspans[i]);
	poke_slice(img, MHEAP + MHEAP_ALLSPANS, ALLSPANS, NALLSPANS, 16);
}

static void build_pages(struct image *img)
{
	uint64_t pages = MHEAP + MHEAP_PAGES;
	poke64(img, pages + PA_CHUNKS + 8 * CHUNK_L1, CHUNKS_L2);
	/* Chunk 0: spans A, E, L, S, W; P0's cache. */
	set_page_bits(img, 0, 0, 0, 9);
	set_page_bits(img, 0, 0, 24, 27);
	set_page_bits(img, 0, 1, 16, 23);
	set_page_bits(img, 0, 1, 508, 511);
	/* Outside pages.inUse: must not count. */
	set_page_bits(img, 0, 1, 100, 140);
	set_page_bits(img, 0, 0, 200, 210);
	/* Chunk 1: span B; released 6-9, of which 9 is random padding. */
	set_page_bits(img, 1, 0, 0, 3);
	set_page_bits(img, 1, 0, 9, 9);
	set_page_bits(img, 1, 1, 6, 9);
	set_page_bits(img, 1, 1, 20, 30);
	poke64(img, INUSE_RANGES, HP(0));
	poke64(img, INUSE_RANGES + 8, HP(32));
	poke64(img, INUSE_RANGES + 16, HP(508));
	poke64(img, INUSE_RANGES + 24, HP(522));
	poke_slice(img, pages + PA_INUSE_RANGES, INUSE_RANGES, 2, 4);
}

static void build_arenas(struct image *img)
{
	poke64(img, MHEAP + MHEAP_ARENAS, ARENA_L2);
	poke64(img, ARENA_L2 + 8 * ARENA_IDX, HA0);
	poke64(img, ARENA_L2 + 8 * (ARENA_IDX + 1), HA1);
	/* Listed out of order: the walk sorts them. */
	poke64(img, HEAP_ARENAS, ARENA_IDX + 1);
	poke64(img, HEAP_ARENAS + 8, ARENA_IDX);
	poke_slice(img, MHEAP + MHEAP_HEAP_ARENAS, HEAP_ARENAS, 2, 2);
}

static void build_ps(struct image *img)
{
	poke_slice(img, ALLP, ALLP_ARRAY, 2, 4);
	poke64(img, ALLP_ARRAY, P0);
	poke64(img, ALLP_ARRAY + 8, P1);
	poke64(img, P0 + P_MCACHE, MCACHE0);
	poke64(img, P0 + P_PCACHE_BASE, HP(0));
	poke64(img, P0 + P_PCACHE_CACHE, 0xfULL << 24);
	poke64(img, P0 + P_PCACHE_SCAV, 0x1ULL << 27);
	/* P1 has no mcache and an empty page cache. */
	for (uint64_t i = 0; i < 2 * GM_MAX_SIZE_CLASSES; i++)
		poke64(img, MCACHE0 + MCACHE_ALLOC + 8 * i, EMPTYMSPAN);
	poke64(img, MCACHE0 + MCACHE_ALLOC + 8 * (2 << 1), SPAN(SC));
	poke64(img, MCACHE0 + MCACHE_ALLOC + 8 * 6, 0); /* nil is skipped too */
	poke64(img, MCACHE0 + MCACHE_TINY_ALLOCS, 7);
	/* The sentinel is never read: garbage in it must not count. */
	poke(img, EMPTYMSPAN + MS_ALLOCCOUNT, 2, 3);
	poke64(img, EMPTYMSPAN + MS_ELEMSIZE, 16);
}

/* One heapStatsDelta slot's counters. */
static void put_delta(struct image *img, int slot, const uint64_t v[11])
{
	uint64_t base = MEMSTATS + MSTATS_HEAPSTATS + (uint64_t)slot * HS_SIZE;
	for (int i = 0; i < 9; i++)
		poke64(img, base + 8 * (uint64_t)i, v[i]); /* committed .. largeAllocCount */
	poke64(img, base + 616, v[9]);
	poke64(img, base + 624, v[10]);
}

static void put_class_count(struct image *img, int slot, uint64_t off, int cls, uint64_t n)
{
	poke64(img,
	       MEMSTATS + MSTATS_HEAPSTATS + (uint64_t)slot * HS_SIZE + off + 8 * (uint64_t)cls, n);
}

static void build_stats(struct image *img)
{
	/* committed, released, inHeap, inStacks, inWorkBufs, inPtrScalarBits,
	 * tinyAllocCount, largeAlloc, largeAllocCount, largeFree, largeFreeCount */
	const uint64_t slot0[11] = {1000000, 500000, 400000, 65536, 0, 8192, 11, 1 << 20, 1, 0, 0};
	const uint64_t slot1[11] = {200000, 0, 100000, 32768, 0, 0, 0, 65536, 1, 0, 0};
	const uint64_t slot2[11] = {30000, 0, 5000, 0, 16384, 0, 1, 0, 0, 65536, 1};
	put_delta(img, 0, slot0);
	put_delta(img, 1, slot1);
	put_delta(img, 2, slot2);
	put_class_count(img, 0, HS_SMALL_ALLOC, 2, 50);
	put_class_count(img, 1, HS_SMALL_ALLOC, 2, 30);
	put_class_count(img, 2, HS_SMALL_ALLOC, 2, 20);
	put_class_count(img, 0, HS_SMALL_ALLOC, 5, 10);
	put_class_count(img, 2, HS_SMALL_ALLOC, 67, 2);
	put_class_count(img, 0, HS_SMALL_FREE, 2, 40);
	put_class_count(img, 2, HS_SMALL_FREE, 2, 5);
	put_class_count(img, 1, HS_SMALL_FREE, 5, 3);

	poke64(img, MEMSTATS + 0x00, 16384);   /* stacks_sys */
	poke64(img, MEMSTATS + 0x08, 81920);   /* mspan_sys */
	poke64(img, MEMSTATS + 0x10, 15600);   /* mcache_sys */
	poke64(img, MEMSTATS + 0x18, 1486848); /* buckhash_sys */
	poke64(img, MEMSTATS + 0x20, 2000000); /* gcMiscSys */
	poke64(img, MEMSTATS + 0x28, 900000);  /* other_sys */
	poke(img, MEMSTATS + 0x30, 4, 17);     /* numgc */
	poke(img, MEMSTATS + 0x34, 4, 2);      /* numforcedgc */
	poke64(img, MEMSTATS + 0x38, 1700000000000000000ULL);
	poke64(img, MEMSTATS + 0x40, 123456);

	poke64(img, GCCONTROLLER + 0x10, 2097152);	       /* heapInUse */
	poke64(img, GCCONTROLLER + 0x18, 393216);	       /* heapFree */
	poke64(img, GCCONTROLLER + 0x20, 1703936);	       /* heapReleased */
	poke64(img, GCCONTROLLER + 0x38, 5000000);	       /* mappedReady */
	poke64(img, GCCONTROLLER + 0x40, 4194304);	       /* gcPercentHeapGoal */
	poke64(img, GCCONTROLLER + 0x48, (uint64_t)INT64_MAX); /* memoryLimit */
	poke64(img, GCCONTROLLER + 0x50, 0);		       /* sweepDistMinTrigger */
	poke64(img, GCCONTROLLER + 0x58, 2000000);	       /* heapMarked */
	poke64(img, GCCONTROLLER + 0x60, 4160000);	       /* triggered */
	poke64(img, MHEAP + MHEAP_SPANALLOC_INUSE, 64000);
	poke64(img, MHEAP + MHEAP_CACHEALLOC_INUSE, 10000);
}

static int setup_image(void **state)
{
	struct image *img = calloc(1, sizeof(*img));
	if (!img)
		return -1;
	img_region(img, MHEAP, MHEAP_SIZE);
	/* Only the two entries of the 32 MiB arena index that the heap uses. */
	img_region(img, ARENA_L2 + 8 * ARENA_IDX, 16);
	img_region(img, HA0, HA_SIZE);
	img_region(img, HA1, HA_SIZE);
	/* Only the two pallocData entries of the 1 MiB chunk array that the heap uses. */
	img_region(img, CHUNKS_L2 + CHUNK_L2 * PALLOC_DATA_SIZE, 2 * PALLOC_DATA_SIZE);
	img_region(img, ALLSPANS, 16 * 8);
	img_region(img, HEAP_ARENAS, 16);
	img_region(img, INUSE_RANGES, 4 * 16);
	img_region(img, SPANS, 0x1000);
	img_region(img, ALLP, 0x5000);
	img_region(img, ALLOCBITS, 64);
	img_region(img, MEMSTATS, 0x1000);
	img_region(img, GCCONTROLLER, 0x100);
	build_arenas(img);
	build_spans(img);
	build_pages(img);
	build_ps(img);
	build_stats(img);
	for (size_t i = 0; i < img->n; i++) {
		struct gm_segment s = {.start = img->r[i].addr,
				       .end = img->r[i].addr + img->r[i].size,
				       .data = img->r[i].buf,
				       .data_len = img->r[i].size,
				       .flags = 6};
		if (gm_memory_add_segment(&img->mem, &s))
			return -1;
	}
	if (gm_memory_finish(&img->mem))
		return -1;
	img->rt = calloc(1, sizeof(*img->rt));
	if (!img->rt)
		return -1;
	img->rt->mem = &img->mem;
	snprintf(img->rt->go_version, sizeof(img->rt->go_version), "go1.26-synthetic");
	init_layout(&img->rt->L);
	img->rt->mheap = MHEAP;
	img->rt->memstats = MEMSTATS;
	img->rt->gc_controller = GCCONTROLLER;
	img->rt->allp = ALLP;
	img->rt->emptymspan = EMPTYMSPAN;
	*state = img;
	return 0;
}

static int teardown_image(void **state)
{
	struct image *img = *state;
	if (!img)
		return 0;
	for (size_t i = 0; i < img->n; i++)
		free(img->r[i].buf);
	gm_memory_deinit(&img->mem);
	gm_runtime_destroy(img->rt);
	free(img);
	return 0;
}

static void walk_ok(struct image *img, gm_resident_fn fn, void *arg, struct gm_heap_walk *w)
{
	memset(w, 0xa5, sizeof(*w));
	assert_gomem_ok(gm_runtime_walk_heap(img->rt, fn, arg, w));
}

static void assert_class(const struct gm_class_stats *c, uint64_t spans, uint64_t objects,
			 uint64_t object_bytes, uint64_t free_slots, uint64_t free_slot_bytes,
			 uint64_t tail_waste_bytes)
{
	assert_int_equal(c->spans, spans);
	assert_int_equal(c->objects, objects);
	assert_int_equal(c->object_bytes, object_bytes);
	assert_int_equal(c->free_slots, free_slots);
	assert_int_equal(c->free_slot_bytes, free_slot_bytes);
	assert_int_equal(c->tail_waste_bytes, tail_waste_bytes);
}

static void test_walk_counts_spans_by_state(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	assert_int_equal(w.arenas, 2);
	assert_int_equal(w.arena_bytes, 2 * ARENA_BYTES);
	assert_int_equal(w.spans_in_use, 4); /* A, E, L, B */
	assert_int_equal(w.spans_manual, 2); /* S, W */
	assert_int_equal(w.spans_free, 1);   /* D; the nil entry is not a span */
	assert_int_equal(w.bad_spans, 2);    /* X (spans[] says D), Y (in no arena) */
}

static void test_walk_sums_in_use_spans_exactly(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	assert_int_equal(w.in_use_bytes, 9 * PAGE_SIZE);
	assert_int_equal(w.objects, 100 + 20 + 1 + 1);
	assert_int_equal(w.object_bytes, 100 * 16 + 20 * 288 + 3 * PAGE_SIZE + 4 * PAGE_SIZE);
	assert_int_equal(w.free_slot_bytes, (512 - 100) * 16 + (28 - 20) * 288);
	assert_int_equal(w.tail_waste_bytes, PAGE_SIZE - 28 * 288);
}

static void test_walk_splits_manual_spans_into_stacks_and_work_buffers(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	assert_int_equal(w.stack_bytes, 4 * PAGE_SIZE);
	assert_int_equal(w.work_buf_bytes, PAGE_SIZE);
}

static void test_walk_counts_free_pages_inside_inuse_ranges_and_page_caches(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	/* Retained: 10-15, 28-31, 516-517, and P0's cached 24-26. */
	assert_int_equal(w.free_retained_bytes, (6 + 4 + 2 + 3) * PAGE_SIZE);
	/* Released: 16-23, 508-511, 518-521 (with the padding page), and P0's cached 27. */
	assert_int_equal(w.free_released_bytes, (8 + 4 + 4 + 1) * PAGE_SIZE);
	assert_int_equal(w.mapped_bytes, (32 + 14) * PAGE_SIZE);
	assert_int_equal(w.unmapped_arena_bytes, 2 * ARENA_BYTES - (32 + 14) * PAGE_SIZE);
	/* Every mapped page is accounted for exactly once. */
	assert_int_equal(w.in_use_bytes + w.stack_bytes + w.work_buf_bytes + w.free_retained_bytes +
			     w.free_released_bytes,
			 w.mapped_bytes);
}

static void test_walk_fills_per_class_stats(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	assert_class(&w.classes[2], 1, 100, 1600, 412, 412 * 16, 0);
	assert_class(&w.classes[19], 1, 20, 20 * 288, 8, 8 * 288, PAGE_SIZE - 28 * 288);
	assert_class(&w.large, 2, 2, 7 * PAGE_SIZE, 0, 0, 0);
	for (int c = 0; c < GM_MAX_SIZE_CLASSES; c++) {
		if (c == 2 || c == 19)
			continue;
		assert_class(&w.classes[c], 0, 0, 0, 0, 0, 0);
	}
}

static void test_walk_without_residency_reports_zero_resident_bytes(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	walk_ok(img, NULL, NULL, &w);
	assert_int_equal(w.in_use_resident_bytes, 0);
	assert_int_equal(w.stack_resident_bytes, 0);
	assert_int_equal(w.free_retained_resident_bytes, 0);
	assert_int_equal(w.free_released_resident_bytes, 0);
}

struct resident_log {
	struct {
		uint64_t start, end;
	} calls[64];
	size_t n;
};

/* Pages at an even distance from H are resident. Records each question. */
static uint64_t resident_even_pages(void *arg, uint64_t start, uint64_t end)
{
	struct resident_log *log = arg;
	assert_true(log->n < GM_ARRAY_SIZE(log->calls));
	assert_true(start < end);
	log->calls[log->n].start = start;
	log->calls[log->n].end = end;
	log->n++;
	uint64_t bytes = 0;
	for (uint64_t a = start; a < end; a += PAGE_SIZE) {
		if (a >= H && (a - H) / PAGE_SIZE % 2 == 0)
			bytes += PAGE_SIZE;
	}
	return bytes;
}

static bool logged(const struct resident_log *log, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < log->n; i++) {
		if (log->calls[i].start == start && log->calls[i].end == end)
			return true;
	}
	return false;
}

static void test_walk_asks_residency_of_each_span_range(void **state)
{
	struct image *img = *state;
	struct resident_log log = {.n = 0};
	struct gm_heap_walk w;
	walk_ok(img, resident_even_pages, &log, &w);
	/* Each in-use and stack span is asked about as a whole. */
	assert_true(logged(&log, HP(0), HP(1)));
	assert_true(logged(&log, HP(1), HP(2)));
	assert_true(logged(&log, HP(2), HP(5)));
	assert_true(logged(&log, HP(5), HP(9)));
	assert_true(logged(&log, HP(512), HP(516)));
	/* Never about the same byte twice, nor about a byte of no interest. */
	uint64_t asked = 0;
	for (size_t i = 0; i < log.n; i++) {
		asked += log.calls[i].end - log.calls[i].start;
		for (size_t j = 0; j < i; j++)
			assert_true(log.calls[i].end <= log.calls[j].start ||
				    log.calls[j].end <= log.calls[i].start);
	}
	assert_int_equal(asked, w.in_use_bytes + w.stack_bytes + w.free_retained_bytes +
				    w.free_released_bytes);
	/* In use: 0, 2, 4, 512, 514. Stacks: 6, 8. */
	assert_int_equal(w.in_use_resident_bytes, 5 * PAGE_SIZE);
	assert_int_equal(w.stack_resident_bytes, 2 * PAGE_SIZE);
	/* Retained: 10, 12, 14, 28, 30, 516 and cached 24, 26. */
	assert_int_equal(w.free_retained_resident_bytes, 8 * PAGE_SIZE);
	/* Released: 16, 18, 20, 22, 508, 510, 518, 520 (cached 27 is odd). */
	assert_int_equal(w.free_released_resident_bytes, 8 * PAGE_SIZE);
	/* The byte counts do not depend on residency. */
	assert_int_equal(w.in_use_bytes, 9 * PAGE_SIZE);
	assert_int_equal(w.free_retained_bytes, 15 * PAGE_SIZE);
}

static void test_span_with_more_objects_than_slots_is_bad_not_counted(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke(img, SPAN(SE) + MS_ALLOCCOUNT, 2, 29); /* 28 slots */
	walk_ok(img, NULL, NULL, &w);
	assert_int_equal(w.bad_spans, 3);
	assert_int_equal(w.spans_in_use, 3);
	assert_int_equal(w.in_use_bytes, 8 * PAGE_SIZE);
	assert_class(&w.classes[19], 0, 0, 0, 0, 0, 0);
}

/* ---- the iterators behind the drill-down verbs ---- */

struct span_log {
	struct gm_span spans[16];
	size_t n;
	size_t fail_at; /* return an error from this call (1-based); 0 never */
};

static struct gomem_error *log_span(void *arg, const struct gm_span *sp)
{
	struct span_log *log = arg;
	assert_true(log->n < GM_ARRAY_SIZE(log->spans));
	log->spans[log->n++] = *sp;
	if (log->n == log->fail_at)
		return gm_error(GOMEM_ERROR_USAGE, "stop at span %zu", log->n);
	return NULL;
}

static void test_foreach_span_visits_live_spans_in_allspans_order(void **state)
{
	struct image *img = *state;
	struct span_log log = {.n = 0};
	uint64_t bad = 99;
	assert_gomem_ok(gm_heap_foreach_span(img->rt, log_span, &log, &bad));
	assert_int_equal(bad, 2);
	const uint64_t want[] = {SPAN(SA), SPAN(SE), SPAN(SL), SPAN(SS), SPAN(SW), SPAN(SB)};
	assert_int_equal(log.n, GM_ARRAY_SIZE(want));
	for (size_t i = 0; i < log.n; i++)
		assert_int_equal(log.spans[i].desc, want[i]);
	const struct gm_span *a = &log.spans[0];
	assert_int_equal(a->start, HP(0));
	assert_int_equal(a->npages, 1);
	assert_int_equal(a->bytes, PAGE_SIZE);
	assert_int_equal(a->state, GM_SPAN_IN_USE);
	assert_int_equal(a->sizeclass, 2);
	assert_true(a->noscan);
	assert_int_equal(a->elemsize, 16);
	assert_int_equal(a->nelems, 512);
	assert_int_equal(a->alloc_count, 100);
	assert_int_equal(a->freeindex, 64);
	assert_int_equal(a->alloc_bits, ALLOCBITS);
	const struct gm_span *e = &log.spans[1];
	assert_int_equal(e->sizeclass, 19);
	assert_false(e->noscan);
	const struct gm_span *s = &log.spans[3];
	assert_int_equal(s->state, GM_SPAN_MANUAL);
	assert_int_equal(s->bytes, 4 * PAGE_SIZE);
	const struct gm_span *b = &log.spans[5];
	assert_int_equal(b->start, HP(512));
	assert_int_equal(b->sizeclass, 0);
	assert_int_equal(b->bytes, 4 * PAGE_SIZE);
}

static void test_foreach_span_stops_at_the_callbacks_error(void **state)
{
	struct image *img = *state;
	struct span_log log = {.n = 0, .fail_at = 3};
	assert_gomem_error(gm_heap_foreach_span(img->rt, log_span, &log, NULL), GOMEM_ERROR_USAGE,
			   "stop at span 3");
	assert_int_equal(log.n, 3);
}

struct run_log {
	struct {
		uint64_t start, end;
		bool released;
	} runs[32];
	size_t n;
};

static void log_run(void *arg, uint64_t start, uint64_t end, bool released)
{
	struct run_log *log = arg;
	assert_true(log->n < GM_ARRAY_SIZE(log->runs));
	log->runs[log->n].start = start;
	log->runs[log->n].end = end;
	log->runs[log->n].released = released;
	log->n++;
}

static void test_foreach_free_run_reports_maximal_runs_of_one_kind(void **state)
{
	struct image *img = *state;
	struct run_log log = {.n = 0};
	static const struct {
		int first, end; /* pages relative to H, [first, end) */
		bool released;
	} want[] = {
	    {10, 16, false},   {16, 24, true},	 {28, 32, false}, {508, 512, true},
	    {516, 518, false}, {518, 522, true}, /* the chunks, in address order */
	    {24, 27, false},   {27, 28, true},	 /* then P0's page cache */
	};
	assert_gomem_ok(gm_heap_foreach_free_run(img->rt, log_run, &log));
	bool same = log.n == GM_ARRAY_SIZE(want);
	for (size_t i = 0; same && i < log.n; i++)
		same = log.runs[i].start == HP(want[i].first) &&
		       log.runs[i].end == HP(want[i].end) &&
		       log.runs[i].released == want[i].released;
	for (size_t i = 0; !same && i < log.n; i++)
		print_error("run %zu: pages %llu-%llu %s\n", i,
			    (unsigned long long)((log.runs[i].start - H) / PAGE_SIZE),
			    (unsigned long long)((log.runs[i].end - H) / PAGE_SIZE),
			    log.runs[i].released ? "released" : "retained");
	assert_int_equal(log.n, GM_ARRAY_SIZE(want));
	for (size_t i = 0; i < log.n; i++) {
		assert_int_equal(log.runs[i].start, HP(want[i].first));
		assert_int_equal(log.runs[i].end, HP(want[i].end));
		assert_int_equal(log.runs[i].released, want[i].released);
	}
}

static void test_heap_arenas_are_sorted_with_their_metadata(void **state)
{
	struct image *img = *state;
	struct gm_arena *arenas = NULL;
	size_t n = 0;
	assert_gomem_ok(gm_heap_arenas(img->rt, &arenas, &n));
	assert_int_equal(n, 2);
	assert_int_equal(arenas[0].base, ARENA0_BASE);
	assert_int_equal(arenas[0].end, ARENA0_BASE + ARENA_BYTES);
	assert_int_equal(arenas[0].meta, HA0);
	assert_int_equal(arenas[1].base, ARENA0_BASE + ARENA_BYTES);
	assert_int_equal(arenas[1].meta, HA1);
	free(arenas);
}

static void test_heap_arenas_reject_an_arena_listed_twice(void **state)
{
	struct image *img = *state;
	struct gm_arena *arenas = NULL;
	size_t n = 0;
	poke64(img, HEAP_ARENAS, ARENA_IDX);
	assert_gomem_error(gm_heap_arenas(img->rt, &arenas, &n), GOMEM_ERROR_INCONSISTENT, "twice");
	assert_null(arenas);
}

static void test_find_span_returns_the_live_span_holding_an_address(void **state)
{
	struct image *img = *state;
	struct gm_span sp;
	bool found = false;
	/* The middle of L's second page, and B's last page (in the next chunk). */
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(3) + 100, &sp, &found));
	assert_true(found);
	assert_int_equal(sp.desc, SPAN(SL));
	assert_int_equal(sp.start, HP(2));
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(516) - 1, &sp, &found));
	assert_true(found);
	assert_int_equal(sp.desc, SPAN(SB));
	/* A stack span is found too. */
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(8), &sp, &found));
	assert_true(found);
	assert_int_equal(sp.state, GM_SPAN_MANUAL);
}

static void test_find_span_ignores_free_pages_and_stale_entries(void **state)
{
	struct image *img = *state;
	struct gm_span sp;
	bool found = true;
	/* A free page with no entry. */
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(10), &sp, &found));
	assert_false(found);
	/* Page 12's entry names A, which is live but covers page 0 only. */
	found = true;
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(12) + 8, &sp, &found));
	assert_false(found);
	/* Page 28's entry names the dead D. */
	found = true;
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(28), &sp, &found));
	assert_false(found);
	/* Outside every arena. */
	found = true;
	assert_gomem_ok(gm_heap_find_span(img->rt, 0x1000, &sp, &found));
	assert_false(found);
}

static void test_slot_allocated_below_freeindex_or_by_alloc_bits(void **state)
{
	struct image *img = *state;
	struct gm_span sp;
	bool found = false, a = false;
	assert_gomem_ok(gm_heap_find_span(img->rt, HP(0), &sp, &found));
	assert_true(found);
	/* Slot 0's bit is clear, but it is below freeindex. */
	assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, 0, &a));
	assert_true(a);
	assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, 63, &a));
	assert_true(a);
	assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, 64, &a));
	assert_false(a);
	assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, 70, &a));
	assert_true(a);
	assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, 106, &a));
	assert_false(a);
	/* Over every slot, the allocated ones are allocCount. */
	uint64_t n = 0;
	for (uint64_t i = 0; i < sp.nelems; i++) {
		assert_gomem_ok(gm_span_slot_allocated(img->rt, &sp, i, &a));
		n += a;
	}
	assert_int_equal(n, sp.alloc_count);
	assert_gomem_error(gm_span_slot_allocated(img->rt, &sp, 512, &a), GOMEM_ERROR_USAGE,
			   "slot 512");
}

/* ---- corrupt inputs: an error, never a crash, a loop or a huge allocation ---- */

static void test_walk_rejects_allspans_longer_than_the_heap_allows(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke_slice(img, MHEAP + MHEAP_ALLSPANS, ALLSPANS, 1ULL << 40, 1ULL << 40);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "allspans");
}

static void test_walk_rejects_arena_index_out_of_range(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, HEAP_ARENAS + 8, 1ULL << 22);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "out of range");
}

static void test_walk_rejects_more_arenas_than_the_index_holds(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke_slice(img, MHEAP + MHEAP_HEAP_ARENAS, HEAP_ARENAS, (1ULL << 22) + 1, 1ULL << 23);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "arenas");
}

static void test_walk_rejects_arena_without_metadata(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, ARENA_L2 + 8 * ARENA_IDX, 0);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "metadata");
	poke64(img, ARENA_L2 + 8 * ARENA_IDX, HA0);
	poke64(img, MHEAP + MHEAP_ARENAS, 0);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "nil");
}

static void test_walk_rejects_nil_chunk_bitmap(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, MHEAP + MHEAP_PAGES + PA_CHUNKS + 8 * CHUNK_L1, 0);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "chunk");
}

static void test_walk_rejects_corrupt_inuse_range(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, INUSE_RANGES + 24, HP(500)); /* limit below base */
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "range");
	poke64(img, INUSE_RANGES + 24, HP(508) + 100); /* not whole pages */
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "range");
	poke64(img, INUSE_RANGES + 24, HP(508) + 3 * ARENA_BYTES); /* more than the arenas */
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "range");
}

static void test_walk_rejects_slices_with_len_over_cap(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke_slice(img, MHEAP + MHEAP_ALLSPANS, ALLSPANS, 11, 10);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "len 11 > cap 10");
	poke_slice(img, MHEAP + MHEAP_ALLSPANS, ALLSPANS, NALLSPANS, 16);
	poke_slice(img, MHEAP + MHEAP_HEAP_ARENAS, HEAP_ARENAS, 3, 2);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "len 3 > cap 2");
	poke_slice(img, MHEAP + MHEAP_HEAP_ARENAS, HEAP_ARENAS, 2, 2);
	poke_slice(img, MHEAP + MHEAP_PAGES + PA_INUSE_RANGES, INUSE_RANGES, 5, 4);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "len 5 > cap 4");
}

static void test_walk_faults_on_unreadable_span_descriptor(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, ALLSPANS + 8 * 2, 0x7fff00000000ULL); /* the nil entry now points nowhere */
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_FAULT,
			   "0x7fff00000000");
}

static void test_walk_faults_on_p_pointing_nowhere(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, ALLP_ARRAY + 8, 0x6fff00000000ULL);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_FAULT, NULL);
}

static void test_walk_rejects_absurd_number_of_ps(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke_slice(img, ALLP, ALLP_ARRAY, 1ULL << 40, 1ULL << 40);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   "allp");
}

/*
 * A page cache's base must be a 64-page-aligned address inside the mapped
 * heap (pageCache.base, mpagecache.go). A corrupt one must not add 64
 * pages of "free memory" that do not exist.
 */
static void test_walk_rejects_page_cache_outside_the_heap(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	poke64(img, P0 + P_PCACHE_BASE, 0x123456780000ULL); /* 64-page aligned */
	poke64(img, P0 + P_PCACHE_CACHE, ~0ULL);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   NULL);
}

static void test_walk_leaves_result_untouched_on_error(void **state)
{
	struct image *img = *state;
	struct gm_heap_walk w;
	memset(&w, 0x5a, sizeof(w));
	poke64(img, HEAP_ARENAS, 1ULL << 22);
	assert_gomem_error(gm_runtime_walk_heap(img->rt, NULL, NULL, &w), GOMEM_ERROR_INCONSISTENT,
			   NULL);
	assert_int_equal(w.arenas, 0x5a5a5a5a5a5a5a5aULL);
}

/* ---- MemStats, as runtime.ReadMemStats computes them (GO-RUNTIME.md section 7) ---- */

static void test_memstats_reproduce_readmemstats_with_flush_correction(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	assert_gomem_ok(gm_runtime_memstats(img->rt, &ms));
	/*
	 * smallAllocCount: class 2: 50 + 30 + 20 + (10 - 4) flushed from the
	 * cached span = 106; class 5 (48 B): 10; class 67 (32 KiB): 2.
	 */
	const uint64_t total_alloc = (1 << 20) + 65536 + 106 * 16 + 10 * 48 + 2 * 32768;
	const uint64_t total_free = 65536 + (40 + 5) * 16 + 3 * 48;
	assert_int_equal(ms.TotalAlloc, total_alloc);
	assert_int_equal(ms.TotalAlloc, 1181824);
	assert_int_equal(ms.HeapAlloc, total_alloc - total_free);
	assert_int_equal(ms.HeapAlloc, 1115424);
	/* large 2 + small 118 + tiny (12 in the slots + 7 in the mcache) */
	assert_int_equal(ms.Mallocs, 2 + 118 + 19);
	/* large 1 + small 48 + tiny 19 */
	assert_int_equal(ms.Frees, 1 + 48 + 19);
	assert_int_equal(ms.HeapObjects, 71);
	assert_int_equal(ms.flush_objects, 6);
	assert_int_equal(ms.flush_bytes, 6 * 16);
	assert_int_equal(ms.flush_tiny, 7);
}

static void test_memstats_sys_fields_follow_the_runtime_formulas(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	assert_gomem_ok(gm_runtime_memstats(img->rt, &ms));
	assert_int_equal(ms.HeapInuse, 2097152);
	assert_int_equal(ms.HeapReleased, 1703936);
	assert_int_equal(ms.HeapIdle, 393216 + 1703936);
	assert_int_equal(ms.HeapSys, 2097152 + 393216 + 1703936);
	assert_int_equal(ms.StackInuse, 65536 + 32768);
	assert_int_equal(ms.StackSys, 65536 + 32768 + 16384);
	assert_int_equal(ms.MSpanSys, 81920);
	assert_int_equal(ms.MCacheSys, 15600);
	assert_int_equal(ms.BuckHashSys, 1486848);
	/* gcMiscSys + inWorkBufs + inPtrScalarBits */
	assert_int_equal(ms.GCSys, 2000000 + 16384 + 8192);
	assert_int_equal(ms.OtherSys, 900000);
	assert_int_equal(ms.Sys, 4194304 + 114688 + 81920 + 15600 + 1486848 + 2024576 + 900000);
	assert_int_equal(ms.Sys, 8817936);
	assert_int_equal(ms.MSpanInuse, 64000);
	assert_int_equal(ms.MCacheInuse, 10000);
	assert_int_equal(ms.NumGC, 17);
	assert_int_equal(ms.NumForcedGC, 2);
	assert_int_equal(ms.PauseTotalNs, 123456);
	assert_int_equal(ms.mapped_ready, 5000000);
	assert_int_equal(ms.committed, 1230000);
	assert_int_equal(ms.work_bufs, 16384);
	assert_int_equal(ms.ptr_scalar_bits, 8192);
	/* gcPercentHeapGoal 4 MiB is below triggered + 64 KiB, so that wins. */
	assert_int_equal(ms.NextGC, 4160000 + 65536);
}

static void test_memstats_without_ptrscalarbits_field_leave_it_out_of_gcsys(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	img->rt->L.hs_in_ptrscalarbits.present = false; /* Go 1.25+ */
	assert_gomem_ok(gm_runtime_memstats(img->rt, &ms));
	assert_int_equal(ms.GCSys, 2000000 + 16384);
	assert_int_equal(ms.Sys, 8817936 - 8192);
}

static void test_memstats_reject_cached_span_with_fewer_objects_than_when_cached(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	poke(img, SPAN(SC) + MS_ALLOCCOUNT, 2, 3); /* allocCountBeforeCache is 4 */
	assert_gomem_error(gm_runtime_memstats(img->rt, &ms), GOMEM_ERROR_INCONSISTENT,
			   "allocCount");
}

static void test_memstats_reject_absurd_number_of_ps(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	poke_slice(img, ALLP, ALLP_ARRAY, 1ULL << 40, 1ULL << 40);
	assert_gomem_error(gm_runtime_memstats(img->rt, &ms), GOMEM_ERROR_INCONSISTENT, "allp");
}

static void test_memstats_fault_on_cached_span_pointing_nowhere(void **state)
{
	struct image *img = *state;
	struct gm_memstats ms;
	poke64(img, MCACHE0 + MCACHE_ALLOC + 8 * 10, 0x5fff00000000ULL);
	assert_gomem_error(gm_runtime_memstats(img->rt, &ms), GOMEM_ERROR_FAULT, "0x5fff00000000");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_image, teardown_image)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_walk_counts_spans_by_state),
	    T(test_walk_sums_in_use_spans_exactly),
	    T(test_walk_splits_manual_spans_into_stacks_and_work_buffers),
	    T(test_walk_counts_free_pages_inside_inuse_ranges_and_page_caches),
	    T(test_walk_fills_per_class_stats),
	    T(test_walk_without_residency_reports_zero_resident_bytes),
	    T(test_walk_asks_residency_of_each_span_range),
	    T(test_span_with_more_objects_than_slots_is_bad_not_counted),
	    T(test_foreach_span_visits_live_spans_in_allspans_order),
	    T(test_foreach_span_stops_at_the_callbacks_error),
	    T(test_foreach_free_run_reports_maximal_runs_of_one_kind),
	    T(test_heap_arenas_are_sorted_with_their_metadata),
	    T(test_heap_arenas_reject_an_arena_listed_twice),
	    T(test_find_span_returns_the_live_span_holding_an_address),
	    T(test_find_span_ignores_free_pages_and_stale_entries),
	    T(test_slot_allocated_below_freeindex_or_by_alloc_bits),
	    T(test_walk_rejects_allspans_longer_than_the_heap_allows),
	    T(test_walk_rejects_arena_index_out_of_range),
	    T(test_walk_rejects_more_arenas_than_the_index_holds),
	    T(test_walk_rejects_arena_without_metadata),
	    T(test_walk_rejects_nil_chunk_bitmap),
	    T(test_walk_rejects_corrupt_inuse_range),
	    T(test_walk_rejects_slices_with_len_over_cap),
	    T(test_walk_faults_on_unreadable_span_descriptor),
	    T(test_walk_faults_on_p_pointing_nowhere),
	    T(test_walk_rejects_absurd_number_of_ps),
	    T(test_walk_rejects_page_cache_outside_the_heap),
	    T(test_walk_leaves_result_untouched_on_error),
	    T(test_memstats_reproduce_readmemstats_with_flush_correction),
	    T(test_memstats_sys_fields_follow_the_runtime_formulas),
	    T(test_memstats_without_ptrscalarbits_field_leave_it_out_of_gcsys),
	    T(test_memstats_reject_cached_span_with_fewer_objects_than_when_cached),
	    T(test_memstats_reject_absurd_number_of_ps),
	    T(test_memstats_fault_on_cached_span_pointing_nowhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
