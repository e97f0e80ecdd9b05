/*
 * The heap index and the marking (objects/heapindex.c, ptrmap.c, mark.c) on
 * a synthetic heap: a hand-made runtime layout and a memory image behind
 * the ordinary memory reader, with what the fixtures' cores (all taken
 * after a full GC and sweep) never show: a span not yet swept, whose
 * unmarked slots are garbage unless a finalizer resurrects them, pointers
 * into such garbage and into free slots, interior pointers, a large object
 * tiled by its largeType, a header object tiled by its header's type.
 *
 * The image, relative to H = 0xc000800000 (page 1024 of the arena at
 * 0xc000000000, the 1.22+ layouts, no Green Tea):
 *
 *   page 0     span A: class 5 (48 B), swept, freeindex 4, allocBits 4-9:
 *              slots 0-9 allocated, 0-3 since the sweep. Pointers (span heap
 *              bits): A0 -> A1 + 8 (interior), A1 word 1 -> U6 (unswept
 *              garbage), A2 -> A100 (a free slot), A3 -> the stack span,
 *              A4 -> U3, A5 -> L.
 *   page 1     span U: class 5, NOT SWEPT (sweepgen = sg - 2): allocBits 0-9,
 *              marks 0-4, a finalizer on slot 7 (at an inner byte):
 *              5, 6, 8, 9 are unswept garbage. U0 -> A9.
 *   pages 2-3  span L: large (16 KiB), largeType {Size_ 16, PtrBytes 8,
 *              mask 1}: L word 0 -> A8, word 2 (the 2nd element) -> A7.
 *   page 4     span S: manual (stacks)
 *   page 5     span K: class 32 (1024 B), one object: header type {Size_ 24,
 *              PtrBytes 24, mask 101}: data word 2 (slot word 3) -> A6.
 *   pages 6-7  span M: large, its largeType a struct whose mask is built on
 *              demand (1.24+) and not built yet: buildGCMask's recursion.
 *
 * Roots: A0, A2, A4 (interior +16), L (interior), K + 8, and one into U6.
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

#include "objects/objects.h"
#include "unit.h"

#define PAGE_SIZE      8192ULL
#define ARENA_BYTES    (64ULL << 20)
#define ARENA_BASE_OFF 0xffff800000000000ULL
#define ARENA_IDX      0x203000ULL
#define ARENA0_BASE    0xc000000000ULL
#define H	       (ARENA0_BASE + 1024 * PAGE_SIZE)
#define HP(p)	       (H + (uint64_t)(p)*PAGE_SIZE)

#define MHEAP	    0x00500000ULL
#define MHEAP_SIZE  0x10200ULL
#define ARENA_L2    0x40000000ULL
#define HA0	    0x00600000ULL
#define HA_SIZE	    0x10100ULL
#define ALLSPANS    0x00800000ULL
#define HEAP_ARENAS 0x00810000ULL
#define SPANS	    0x00900000ULL
#define SPAN(i)	    (SPANS + 0x100ULL * (i))
#define BITS	    0x00a00000ULL /* allocBits and gcmarkBits, 0x40 each */
#define SPECIALS    0x00a10000ULL
#define TYPES	    0x00a20000ULL /* two type descriptors and their masks */
#define T_LARGE	    TYPES
#define T_HEADER    (TYPES + 0x100)
#define T_OD	    (TYPES + 0x200) /* struct {p *int; _ int; a [2]*int}, mask on demand */
#define T_PTR	    (TYPES + 0x300) /* *int */
#define T_ARR	    (TYPES + 0x400) /* [2]*int, mask on demand */

enum {
	MHEAP_ALLSPANS = 0x10100,
	MHEAP_ARENAS = 0x10140,
	MHEAP_HEAP_ARENAS = 0x10180,
	MHEAP_SWEEPGEN = 0x101d0,
	HA_SPANS = 0x20,
	MS_STARTADDR = 24,
	MS_NPAGES = 32,
	MS_FREEINDEX = 48,
	MS_NELEMS = 50,
	MS_GCMARKBITS = 72,
	MS_SWEEPGEN = 88,
	MS_ALLOCCOUNT = 96,
	MS_SPANCLASS = 98,
	MS_STATE = 99,
	MS_ELEMSIZE = 104,
	MS_ALLOCBITS = 112,
	MS_SPECIALS = 128,
	MS_LARGETYPE = 136,
	MSPAN_SIZE = 160,
};

enum { SA, SU, SL, SS, SK, SM, NSPANS };

#define SG 100 /* mheap_.sweepgen */

struct region {
	uint64_t addr, size;
	uint8_t *buf;
};

struct image {
	struct region r[16];
	size_t n;
	struct gm_memory mem;
	struct gm_runtime *rt;
};

static void img_region(struct image *img, uint64_t addr, uint64_t size)
{
	assert_true(img->n < GM_ARRAY_SIZE(img->r));
	uint8_t *buf = calloc(1, size);
	assert_non_null(buf);
	img->r[img->n++] = (struct region){addr, size, buf};
}

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

static void set_bit(struct image *img, uint64_t addr, unsigned i)
{
	*img_at(img, addr + i / 8, 1) |= (uint8_t)(1u << (i % 8));
}

static struct gm_field fld(uint64_t offset, uint64_t size)
{
	return (struct gm_field){.present = true, .offset = offset, .size = size};
}

static void init_layout(struct gm_layout *L, struct gm_graph_layout *G)
{
	memset(L, 0, sizeof(*L));
	L->page_shift = 13;
	L->log_arena_bytes = 26;
	L->arena_l2_bits = 22;
	L->page_size = PAGE_SIZE;
	L->arena_bytes = ARENA_BYTES;
	L->arena_base_offset = ARENA_BASE_OFF;
	L->span_in_use = 1;
	L->span_manual = 2;
	L->nclasses = GM_MAX_SIZE_CLASSES;
	L->mheap_allspans = (struct gm_field){
	    .present = true, .offset = MHEAP_ALLSPANS, .size = 24, .elem_size = 8};
	L->mheap_arenas = (struct gm_field){
	    .present = true, .offset = MHEAP_ARENAS, .size = 8, .elem_size = 8, .count = 1};
	L->mheap_heap_arenas = (struct gm_field){
	    .present = true, .offset = MHEAP_HEAP_ARENAS, .size = 24, .elem_size = 8};
	L->heaparena_spans = (struct gm_field){
	    .present = true, .offset = HA_SPANS, .size = 8 * 8192, .elem_size = 8, .count = 8192};
	L->mspan_size = MSPAN_SIZE;
	L->mspan_startaddr = fld(MS_STARTADDR, 8);
	L->mspan_npages = fld(MS_NPAGES, 8);
	L->mspan_state = fld(MS_STATE, 1);
	L->mspan_spanclass = fld(MS_SPANCLASS, 1);
	L->mspan_elemsize = fld(MS_ELEMSIZE, 8);
	L->mspan_nelems = fld(MS_NELEMS, 2);
	L->mspan_freeindex = fld(MS_FREEINDEX, 2);
	L->mspan_alloccount = fld(MS_ALLOCCOUNT, 2);
	L->mspan_allocbits = fld(MS_ALLOCBITS, 8);

	memset(G, 0, sizeof(*G));
	G->mspan_sweepgen = fld(MS_SWEEPGEN, 4);
	G->mspan_gcmarkbits = fld(MS_GCMARKBITS, 8);
	G->mspan_specials = fld(MS_SPECIALS, 8);
	G->mspan_largetype = fld(MS_LARGETYPE, 8);
	G->mheap_sweepgen = fld(MHEAP_SWEEPGEN, 4);
	G->type_size = 48;
	G->type_size_ = fld(0, 8);
	G->type_ptrbytes = fld(8, 8);
	G->type_tflag = fld(20, 1);
	G->type_kind = fld(23, 1);
	G->type_gcdata = fld(32, 8);
	G->kind_mask = 0x1f;
	G->special_next = fld(0, 8);
	G->special_offset = fld(8, 8);
	G->special_kind = fld(16, 1);
	G->kind_finalizer = 2;
	G->kind_cleanup = -1;
	G->kind_weak = -1;
	G->specialfinalizer_fn = fld(24, 8);
	G->gcmask_on_demand = true;
	G->tflag_on_demand = 0x10;
	G->structtype_fields =
	    (struct gm_field){.present = true, .offset = 56, .size = 24, .elem_size = 24};
	G->structfield_typ = fld(8, 8);
	G->structfield_offset = fld(16, 8);
	G->structfield_size = 24;
	G->arraytype_elem = fld(48, 8);
	G->arraytype_len = fld(64, 8);
}

struct tspan {
	int idx;
	uint8_t state;
	uint64_t start, npages;
	uint8_t spanclass;
	uint64_t elemsize;
	uint16_t nelems, freeindex, alloc_count;
	uint32_t sweepgen;
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
	poke(img, a + MS_FREEINDEX, 2, s->freeindex);
	poke(img, a + MS_ALLOCCOUNT, 2, s->alloc_count);
	poke(img, a + MS_SWEEPGEN, 4, s->sweepgen);
	poke64(img, a + MS_ALLOCBITS, BITS + 0x80 * (uint64_t)s->idx);
	poke64(img, a + MS_GCMARKBITS, BITS + 0x80 * (uint64_t)s->idx + 0x40);
	for (uint64_t p = 0; p < s->npages; p++)
		poke64(img, HA0 + HA_SPANS + 8 * ((s->start - ARENA0_BASE) / PAGE_SIZE + p), a);
}

#define SLOT(base, size, i) ((base) + (uint64_t)(size) * (i))
#define A(i)		    SLOT(HP(0), 48, i)
#define U(i)		    SLOT(HP(1), 48, i)

/* A pointer word in a span of 48-byte objects and its bit in the span's heap bits. */
static void small_ptr(struct image *img, uint64_t span, unsigned slot, unsigned word,
		      uint64_t value)
{
	poke64(img, SLOT(span, 48, slot) + 8 * word, value);
	set_bit(img, span + PAGE_SIZE - 128, slot * 6 + word);
}

static void build(struct image *img)
{
	const struct tspan spans[] = {
	    {SA, 1, HP(0), 1, 5 << 1, 48, 168, 4, 10, SG},
	    {SU, 1, HP(1), 1, 5 << 1, 48, 168, 0, 10, SG - 2},
	    {SL, 1, HP(2), 2, 0 << 1, 2 * PAGE_SIZE, 1, 1, 1, SG},
	    {SS, 2, HP(4), 1, 0, PAGE_SIZE, 1, 1, 1, SG},
	    {SK, 1, HP(5), 1, 32 << 1, 1024, 8, 1, 1, SG},
	    {SM, 1, HP(6), 2, 0 << 1, 2 * PAGE_SIZE, 1, 1, 1, SG},
	};
	for (size_t i = 0; i < GM_ARRAY_SIZE(spans); i++) {
		put_span(img, &spans[i]);
		poke64(img, ALLSPANS + 8 * i, SPAN(spans[i].idx));
	}
	poke64(img, MHEAP + MHEAP_ALLSPANS, ALLSPANS);
	poke64(img, MHEAP + MHEAP_ALLSPANS + 8, NSPANS);
	poke64(img, MHEAP + MHEAP_ALLSPANS + 16, NSPANS);
	poke(img, MHEAP + MHEAP_SWEEPGEN, 4, SG);
	poke64(img, MHEAP + MHEAP_ARENAS, ARENA_L2);
	poke64(img, ARENA_L2 + 8 * ARENA_IDX, HA0);
	poke64(img, HEAP_ARENAS, ARENA_IDX);
	poke64(img, MHEAP + MHEAP_HEAP_ARENAS, HEAP_ARENAS);
	poke64(img, MHEAP + MHEAP_HEAP_ARENAS + 8, 1);
	poke64(img, MHEAP + MHEAP_HEAP_ARENAS + 16, 1);

	/* A: allocBits 4-9 (0-3 are below freeindex). */
	for (unsigned i = 4; i <= 9; i++)
		set_bit(img, BITS + 0x80 * SA, i);
	small_ptr(img, HP(0), 0, 0, A(1) + 8);
	small_ptr(img, HP(0), 1, 1, U(6) + 16);
	small_ptr(img, HP(0), 2, 0, A(100));
	small_ptr(img, HP(0), 3, 0, HP(4) + 64);
	small_ptr(img, HP(0), 4, 0, U(3));
	small_ptr(img, HP(0), 5, 0, HP(2));
	/* U: allocBits 0-9, marks 0-4; a finalizer on slot 7 at an inner byte. */
	for (unsigned i = 0; i <= 9; i++)
		set_bit(img, BITS + 0x80 * SU, i);
	for (unsigned i = 0; i <= 4; i++)
		set_bit(img, BITS + 0x80 * SU + 0x40, i);
	poke64(img, SPAN(SU) + MS_SPECIALS, SPECIALS);
	poke64(img, SPECIALS + 8, 7 * 48 + 3);
	poke(img, SPECIALS + 16, 1, 2);
	small_ptr(img, HP(1), 0, 0, A(9));
	/* L: largeType {Size_ 16, PtrBytes 8, mask 1}, allocated (freeindex 1). */
	poke64(img, SPAN(SL) + MS_LARGETYPE, T_LARGE);
	poke64(img, T_LARGE + 0, 16);
	poke64(img, T_LARGE + 8, 8);
	poke64(img, T_LARGE + 32, T_LARGE + 0x80);
	poke(img, T_LARGE + 0x80, 1, 0x1);
	poke64(img, HP(2) + 0, A(8));
	poke64(img, HP(2) + 8, A(3)); /* word 1: not a pointer by the mask */
	poke64(img, HP(2) + 16, A(7) + 40);
	/* K: slot 0's header {Size_ 24, PtrBytes 24, mask 101}; data word 2 -> A6. */
	poke64(img, HP(5), T_HEADER);
	poke64(img, T_HEADER + 0, 24);
	poke64(img, T_HEADER + 8, 24);
	poke64(img, T_HEADER + 32, T_HEADER + 0x80);
	poke(img, T_HEADER + 0x80, 1, 0x5);
	poke64(img, HP(5) + 8 + 16, A(6));
	poke64(img, HP(5) + 8 + 8, A(5)); /* data word 1: scalar */
	/* M: struct {p *int; _ int; a [2]*int} (kind 25, 32 bytes), GCData -> a nil slot. */
	poke64(img, SPAN(SM) + MS_LARGETYPE, T_OD);
	poke64(img, T_OD + 0, 32);
	poke64(img, T_OD + 8, 32);
	poke(img, T_OD + 20, 1, 0x10);
	poke(img, T_OD + 23, 1, 25);
	poke64(img, T_OD + 32, T_OD + 0xf0); /* the **byte: nil, the mask is not built */
	poke64(img, T_OD + 56, T_OD + 0x80);
	poke64(img, T_OD + 64, 2);
	poke64(img, T_OD + 0x80 + 8, T_PTR); /* field p at 0 */
	poke64(img, T_OD + 0x80 + 16, 0);
	poke64(img, T_OD + 0x98 + 8, T_ARR); /* field a at 16 */
	poke64(img, T_OD + 0x98 + 16, 16);
	poke64(img, T_PTR + 0, 8);
	poke64(img, T_PTR + 8, 8);
	poke(img, T_PTR + 23, 1, 22);
	poke64(img, T_PTR + 32, T_PTR + 0x80);
	poke(img, T_PTR + 0x80, 1, 0x1);
	poke64(img, T_ARR + 0, 16);
	poke64(img, T_ARR + 8, 16);
	poke(img, T_ARR + 20, 1, 0x10);
	poke(img, T_ARR + 23, 1, 17);
	poke64(img, T_ARR + 32, T_ARR + 0xf0);
	poke64(img, T_ARR + 48, T_PTR);
	poke64(img, T_ARR + 64, 2);
}

static int setup_image(void **state)
{
	struct image *img = calloc(1, sizeof(*img));
	if (!img)
		return -1;
	img_region(img, MHEAP, MHEAP_SIZE);
	img_region(img, ARENA_L2 + 8 * ARENA_IDX, 8);
	img_region(img, HA0, HA_SIZE);
	img_region(img, ALLSPANS, 8 * NSPANS);
	img_region(img, HEAP_ARENAS, 8);
	img_region(img, SPANS, 0x1000);
	img_region(img, BITS, 0x1000);
	img_region(img, SPECIALS, 0x100);
	img_region(img, TYPES, 0x1000);
	img_region(img, HP(0), 8 * PAGE_SIZE);
	build(img);
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
	init_layout(&img->rt->L, &img->rt->graph);
	img->rt->have_graph = true;
	img->rt->mheap = MHEAP;
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

/* A graph of the image without the runtime's own roots (no modules in it). */
static struct gm_graph *graph(struct image *img)
{
	struct gm_graph *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	g->rt = img->rt;
	assert_gomem_ok(gm_heap_index_build(img->rt, &g->idx));
	assert_gomem_ok(gm_ptrmap_create(g->idx, &g->pm));
	g->reached = calloc((g->idx->nslots + 63) / 64 + 1, 8);
	assert_non_null(g->reached);
	return g;
}

static uint32_t id_of(const struct gm_graph *g, uint64_t addr)
{
	uint32_t id = UINT32_MAX;
	assert_true(gm_heap_index_lookup(g->idx, addr, &id));
	return id;
}

static void test_index_allocated_fresh_and_unswept_garbage(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	const struct gm_heap_index *idx = g->idx;
	assert_int_equal(idx->nspans, 5); /* the manual span is not an object span */
	assert_int_equal(idx->nslots, 168 + 168 + 1 + 8 + 1);
	/* A 0-9, U 0-9 (unswept garbage counts: HeapObjects does), L, K0, M */
	assert_int_equal(idx->objects, 23);
	assert_int_equal(idx->object_bytes, 20 * 48 + 4 * PAGE_SIZE + 1024);
	assert_int_equal(idx->unswept_garbage, 4);
	for (unsigned i = 0; i < 10; i++) {
		bool dead = i == 5 || i == 6 || i == 8 || i == 9; /* 7 has a finalizer */
		assert_int_equal(gm_bit(idx->dead, id_of(g, U(i))), dead);
	}
	/* fresh: A0-A3 (below freeindex, allocBits clear), L, K0 and M (new spans) */
	assert_int_equal(idx->fresh_objects, 7);
	assert_true(gm_bit(idx->fresh, id_of(g, A(3))));
	assert_false(gm_bit(idx->fresh, id_of(g, A(4))));
	assert_false(gm_bit(idx->fresh, id_of(g, U(0))));
	gm_graph_destroy(g);
}

static void test_index_places_every_kind_of_address(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	uint32_t id;
	assert_int_equal(gm_heap_index_where(g->idx, A(2) + 47, &id), GM_PLACE_SLOT);
	assert_int_equal(id, id_of(g, A(2)));
	assert_int_equal(gm_heap_index_where(g->idx, HP(0) + 168 * 48 + 4, &id),
			 GM_PLACE_PAST_SLOTS);
	assert_int_equal(gm_heap_index_where(g->idx, HP(4) + 100, &id), GM_PLACE_MANUAL);
	assert_int_equal(gm_heap_index_where(g->idx, HP(9), &id), GM_PLACE_NO_SPAN);
	assert_int_equal(gm_heap_index_where(g->idx, 0x1000, &id), GM_PLACE_OUTSIDE);
	assert_int_equal(gm_heap_index_where(g->idx, ARENA0_BASE + ARENA_BYTES, &id),
			 GM_PLACE_OUTSIDE);
	assert_int_equal(gm_heap_index_where(g->idx, HP(3) + 5, &id), GM_PLACE_SLOT);
	assert_int_equal(id, id_of(g, HP(2))); /* the large object's second page */
	uint64_t base, size;
	gm_heap_index_object(g->idx, id_of(g, HP(5) + 1000), &base, &size);
	assert_int_equal(base, HP(5));
	assert_int_equal(size, 1024);
	gm_graph_destroy(g);
}

static void test_pointer_windows_of_each_layout(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	uint64_t bits[4];
	assert_gomem_ok(gm_ptrmap_window(g->pm, id_of(g, A(1)), 0, 6, bits));
	assert_int_equal(bits[0], 0x2);
	/* the large object: element mask 1 every 2 words */
	assert_gomem_ok(gm_ptrmap_window(g->pm, id_of(g, HP(2)), 0, 8, bits));
	assert_int_equal(bits[0], 0x55);
	/* the header object: word 0 is the header, data words 0 and 2 of each 3 */
	assert_gomem_ok(gm_ptrmap_window(g->pm, id_of(g, HP(5)), 0, 8, bits));
	assert_int_equal(bits[0], 0xda); /* slot words 1, 3, 4, 6, 7 */
	/* M: the mask built as buildGCMask does: words 0, 2 and 3 of each 4 */
	assert_gomem_ok(gm_ptrmap_window(g->pm, id_of(g, HP(6)), 0, 16, bits));
	assert_int_equal(bits[0], 0xdddd);
	assert_int_equal(gm_ptrmap_problems(g->pm), 0);
	uint64_t type, data;
	assert_gomem_ok(gm_ptrmap_self_type(g->pm, id_of(g, HP(5)), &type, &data));
	assert_int_equal(type, T_HEADER);
	assert_int_equal(data, HP(5) + 8);
	assert_gomem_ok(gm_ptrmap_self_type(g->pm, id_of(g, HP(2)), &type, &data));
	assert_int_equal(type, T_LARGE);
	assert_int_equal(data, HP(2));
	assert_gomem_ok(gm_ptrmap_self_type(g->pm, id_of(g, A(1)), &type, &data));
	assert_int_equal(type, 0);
	gm_graph_destroy(g);
}

static void test_mark_follows_pointers_and_counts_dangling_ones(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	const uint64_t roots[] = {A(0), A(2), A(4) + 16, HP(2) + 100, HP(5) + 8, U(6)};
	for (size_t i = 0; i < GM_ARRAY_SIZE(roots); i++)
		assert_gomem_ok(
		    gm_graph_add_root(g, GM_ROOT_DATA, 0x1000 + 8 * i, roots[i], false, "r", 0, 0));
	assert_int_equal(g->nroots, 5);		     /* U6 is garbage: not a root */
	assert_int_equal(g->stats.roots_outside, 1); /* ... and it lands in the heap */
	assert_gomem_ok(gm_graph_mark(g));
	const uint64_t reached[] = {A(0), A(1), A(2), A(4), U(3), HP(2), A(8), A(7), HP(5), A(6)};
	for (size_t i = 0; i < GM_ARRAY_SIZE(reached); i++)
		assert_true(gm_graph_reached(g, id_of(g, reached[i])));
	const uint64_t not_reached[] = {A(3), A(5), A(9), U(0), U(6), U(7)};
	for (size_t i = 0; i < GM_ARRAY_SIZE(not_reached); i++)
		assert_false(gm_graph_reached(g, id_of(g, not_reached[i])));
	const struct gm_graph_stats *st = &g->stats;
	assert_int_equal(st->reachable, 10);
	assert_int_equal(st->unreachable, 13); /* M too */
	assert_int_equal(st->reachable_bytes, 8 * 48 + 2 * PAGE_SIZE + 1024);
	/* A0->A1, A4->U3, L->A8, L->A7, K->A6; A1->U6 dead, A2->A100 free, A3 unscanned */
	assert_int_equal(st->edges, 5);
	assert_int_equal(st->dangling_dead, 1);
	assert_int_equal(st->dangling_free, 1);
	assert_int_equal(st->dangling_other, 0);
	/* unreachable from before the sweep: A5, A9, U0-2, U4-9 (A3 is fresh) */
	assert_int_equal(st->unreachable_old, 11);
	assert_int_equal(st->kinds[GM_ROOT_DATA].objects, 10);
	assert_int_equal(st->class_reachable[5], 8);
	assert_int_equal(st->class_unreachable[5], 12);
	assert_int_equal(st->large_reachable, 1);
	gm_graph_destroy(g);
}

static struct gomem_error *count_edge(void *arg, uint64_t addr, uint64_t value, uint32_t to)
{
	(void)addr;
	(void)value;
	(void)to;
	(*(int *)arg)++;
	return NULL;
}

static void test_edges_of_one_object(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	int n = 0;
	assert_gomem_ok(gm_graph_foreach_edge(g, id_of(g, HP(2)), count_edge, &n));
	assert_int_equal(n, 2);
	n = 0;
	assert_gomem_ok(gm_graph_foreach_edge(g, id_of(g, A(1)), count_edge, &n));
	assert_int_equal(n, 0); /* its one pointer lands in unswept garbage */
	assert_gomem_error(gm_graph_foreach_edge(g, id_of(g, A(50)), count_edge, &n),
			   GOMEM_ERROR_USAGE, "not allocated");
	gm_graph_destroy(g);
}

static void test_one_root_kind_reaches_its_objects_once(void **state)
{
	struct image *img = *state;
	struct gm_graph *g = graph(img);
	assert_gomem_ok(gm_graph_add_root(g, GM_ROOT_BSS, 0x1000, A(0), false, "r", 0, 0));
	assert_gomem_ok(gm_graph_mark(g));
	assert_int_equal(g->stats.reachable, 2); /* A0, A1 */
	assert_int_equal(g->stats.kinds[GM_ROOT_BSS].roots, 1);
	assert_int_equal(g->stats.kinds[GM_ROOT_BSS].objects, 2);
	assert_gomem_ok(gm_graph_mark(g)); /* a second call does nothing */
	assert_int_equal(g->stats.reachable, 2);
	gm_graph_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_index_allocated_fresh_and_unswept_garbage,
					    setup_image, teardown_image),
	    cmocka_unit_test_setup_teardown(test_index_places_every_kind_of_address, setup_image,
					    teardown_image),
	    cmocka_unit_test_setup_teardown(test_pointer_windows_of_each_layout, setup_image,
					    teardown_image),
	    cmocka_unit_test_setup_teardown(test_mark_follows_pointers_and_counts_dangling_ones,
					    setup_image, teardown_image),
	    cmocka_unit_test_setup_teardown(test_edges_of_one_object, setup_image, teardown_image),
	    cmocka_unit_test_setup_teardown(test_one_root_kind_reaches_its_objects_once,
					    setup_image, teardown_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
