/*
 * The heap index: every slot of every in-use span, a dense id per slot,
 * which slots hold objects, and the way from an address to its slot
 * (GO-OBJECTS.md §1, §5.1). Built in one pass over mheap_.allspans; the
 * objects themselves are not read.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/objects.h"

GM_DEFINE_ARRAY(span_array, struct gm_index_span)
GM_DEFINE_GROW(grow_manual, uint64_t)

struct build {
	struct gm_heap_index *idx;
	const struct gm_graph_layout *G;
	struct span_array spans;
	struct gomem_error *err;
};

/* sweepgen distances (mheap.go, mspan.sweepgen): swept sg, sg+3; unswept sg-2, sg+1; sg-1 being
 * swept. */
static uint8_t sweep_state(uint32_t span_sg, uint32_t sg)
{
	uint32_t d = span_sg - sg;
	if (d == 0 || d == 3)
		return GM_SWEPT;
	if (d == (uint32_t)-1)
		return GM_SWEEPING;
	return GM_UNSWEPT;
}

static uint8_t span_layout(const struct gm_runtime *rt, const struct gm_graph_layout *G,
			   const struct gm_span *sp)
{
	(void)rt;
	if (sp->noscan)
		return GM_LAYOUT_NOSCAN;
	if (G->arena_bitmap2)
		return GM_LAYOUT_ARENA2;
	if (G->arena_bitmap1)
		return GM_LAYOUT_ARENA1;
	/* heapBitsInSpan(size) = size <= 512 (mbitmap.go@1.22); headers above, largeType for class
	 * 0. */
	if (sp->sizeclass == 0)
		return GM_LAYOUT_LARGE;
	return sp->elemsize <= 512 ? GM_LAYOUT_SPAN_BITS : GM_LAYOUT_HEADER;
}

/* Green Tea keeps marks inline in spans of 16-512 B objects (gcUsesSpanInlineMarkBits@1.25). */
static bool inline_marks(const struct gm_graph_layout *G, const struct gm_span *sp)
{
	return G->inline_mark_bytes && sp->sizeclass != 0 && sp->elemsize >= 16 &&
	       sp->elemsize <= 512;
}

static struct gomem_error *add_span(void *arg, const struct gm_span *sp)
{
	struct build *b = arg;
	struct gm_runtime *rt = b->idx->rt;
	const struct gm_graph_layout *G = b->G;
	if (sp->state != GM_SPAN_IN_USE) {
		/* Kept for the page table: a pointer into a stack is not a dangling one. */
		uint64_t *m = grow_manual(&b->idx->manual, &b->idx->nmanual, &b->idx->cap_manual);
		if (!m)
			return &gm_error_no_memory;
		*m = sp->start;
		m = grow_manual(&b->idx->manual, &b->idx->nmanual, &b->idx->cap_manual);
		if (!m)
			return &gm_error_no_memory;
		*m = sp->start + sp->bytes;
		return NULL;
	}
	/* Go's smallest slot is 8 bytes: so the slots never outnumber the heap's words. */
	if (sp->nelems > UINT32_MAX || sp->elemsize < 8)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "span 0x%" PRIx64 ": %" PRIu64 " slots",
				sp->start, sp->nelems);
	uint8_t buf[GM_MSPAN_MAX];
	TRY(gm_read(rt->mem, sp->desc, buf, rt->L.mspan_size));
	struct gm_index_span *s = span_array_add(&b->spans);
	if (!s)
		return &gm_error_no_memory;
	memset(s, 0, sizeof(*s));
	s->base = sp->start;
	s->bytes = sp->bytes;
	s->elemsize = sp->elemsize;
	s->desc = sp->desc;
	s->nelems = (uint32_t)sp->nelems;
	s->sizeclass = (uint8_t)sp->sizeclass;
	s->noscan = sp->noscan;
	s->user_chunk = sp->user_chunk;
	s->layout = span_layout(rt, G, sp);
	s->sweep = sweep_state((uint32_t)gm_rt_field(buf, &G->mspan_sweepgen), b->idx->sweepgen);
	s->specials = gm_rt_field(buf, &G->mspan_specials);
	s->freeindex = sp->freeindex;
	s->alloc_count = sp->alloc_count;
	s->alloc_bits = sp->alloc_bits;
	if (s->layout == GM_LAYOUT_LARGE && G->mspan_largetype.present)
		s->large_type = gm_rt_field(buf, &G->mspan_largetype);
	if (s->layout == GM_LAYOUT_HEADER)
		s->header_bytes = 8; /* mallocHeaderSize (malloc.go@1.22) */
	/* The span's heap bits end the span, below the inline marks (spanHeapBitsRange@1.25). */
	uint64_t marks = inline_marks(G, sp) ? G->inline_mark_bytes : 0;
	uint64_t hbits = sp->bytes / 64;
	if (s->layout == GM_LAYOUT_SPAN_BITS) {
		if (sp->bytes < marks + hbits ||
		    (uint64_t)s->nelems * s->elemsize > sp->bytes - marks - hbits)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"span 0x%" PRIx64 ": %u slots of %" PRIu64
					" bytes overlap its heap bits",
					sp->start, s->nelems, s->elemsize);
		s->heap_bits = sp->start + sp->bytes - marks - hbits;
	}
	return NULL;
}

static int cmp_span(const void *a, const void *b)
{
	const struct gm_index_span *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

/* Copies nbits bits of src (LSB first) to dst from bit at. */
static void copy_bits(uint64_t *dst, uint64_t at, const uint8_t *src, uint64_t nbits)
{
	for (uint64_t j = 0; j < (nbits + 7) / 8; j++) {
		uint64_t b = src[j];
		if (8 * j + 8 > nbits)
			b &= (1u << (nbits % 8)) - 1;
		if (!b)
			continue;
		uint64_t pos = at + 8 * j;
		dst[pos / 64] |= b << (pos % 64);
		/* Only bits that spill touch the next word (it may be past the bitset's end). */
		if (pos % 64 > 56 && b >> (64 - pos % 64))
			dst[pos / 64 + 1] |= b >> (64 - pos % 64);
	}
}

/* The marks of the span's last GC: inline (Green Tea) or gcmarkBits (GO-OBJECTS.md §2.5). */
static struct gomem_error *read_marks(struct gm_heap_index *idx, const struct gm_graph_layout *G,
				      const struct gm_index_span *s, uint8_t *marks, size_t n)
{
	struct gm_runtime *rt = idx->rt;
	if (G->inline_mark_bytes && s->sizeclass != 0 && s->elemsize >= 16 && s->elemsize <= 512)
		return gm_read(rt->mem,
			       s->base + s->bytes - G->inline_mark_bytes + G->inline_marks_offset,
			       marks, n);
	uint64_t bits;
	TRY(gm_rt_read_field(rt, s->desc, &G->mspan_gcmarkbits, &bits));
	return gm_read(rt->mem, bits, marks, n);
}

#define MAX_SPECIALS (1u << 20) /* on one span: more is a cycle */

/* Slots of an unswept span that carry a finalizer: the sweep resurrects them (§1.5). */
static struct gomem_error *finalizer_slots(struct gm_heap_index *idx,
					   const struct gm_graph_layout *G,
					   const struct gm_index_span *s, uint8_t *fin)
{
	struct gm_runtime *rt = idx->rt;
	uint64_t sp = s->specials;
	for (unsigned n = 0; sp; n++) {
		uint64_t next, off, kind;
		if (n == MAX_SPECIALS)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"span 0x%" PRIx64 ": its specials do not end", s->base);
		TRY(gm_rt_read_field(rt, sp, &G->special_next, &next));
		TRY(gm_rt_read_field(rt, sp, &G->special_offset, &off));
		TRY(gm_rt_read_field(rt, sp, &G->special_kind, &kind));
		if ((int64_t)kind == G->kind_finalizer && off / s->elemsize < s->nelems) {
			uint64_t i = off / s->elemsize;
			fin[i / 8] |= (uint8_t)(1u << (i % 8));
		}
		sp = next;
	}
	return NULL;
}

static struct gomem_error *index_alloc(struct gm_heap_index *idx, const struct gm_graph_layout *G)
{
	struct gm_runtime *rt = idx->rt;
	for (size_t k = 0; k < idx->nspans; k++) {
		const struct gm_index_span *s = &idx->spans[k];
		size_t n = (s->nelems + 7) / 8;
		_cleanup_free_ uint8_t *bits = calloc(3, n ? n : 1);
		if (!bits)
			return &gm_error_no_memory;
		uint8_t *marks = bits + n, *fin = bits + 2 * n;
		uint64_t freeindex = s->freeindex < s->nelems ? s->freeindex : s->nelems;
		/* allocated(i) = i < freeindex || allocBits[i] (mspan.isFree@1.26, §1.2). */
		TRY(gm_read(rt->mem, s->alloc_bits, bits, n));
		/* Slots below freeindex whose bit is clear were allocated since the sweep. */
		for (uint64_t j = 0; j < (freeindex + 7) / 8; j++) {
			uint8_t below =
			    8 * j + 8 <= freeindex ? 0xff : (uint8_t)((1u << (freeindex % 8)) - 1);
			uint8_t fresh = (uint8_t)(~bits[j] & below);
			if (s->sweep == GM_SWEPT && fresh) {
				copy_bits(idx->fresh, s->first_id + 8 * j, &fresh, 8);
				idx->fresh_objects += gm_popcount64(fresh);
				idx->fresh_bytes += gm_popcount64(fresh) * s->elemsize;
			}
			bits[j] |= below;
		}
		if (s->nelems % 8)
			bits[n - 1] &= (uint8_t)((1u << (s->nelems % 8)) - 1);
		uint64_t count = gm_popcount_bytes(bits, n);
		if (count != s->alloc_count)
			idx->alloc_count_mismatches++;
		if (s->sweep != GM_SWEPT) {
			TRY(read_marks(idx, G, s, marks, n));
			if (s->nelems % 8)
				marks[n - 1] &= (uint8_t)((1u << (s->nelems % 8)) - 1);
		}
		if (s->sweep == GM_SWEEPING) {
			/* Either the old or the new bits: allocated or marked (§1.5). */
			for (size_t i = 0; i < n; i++)
				bits[i] |= marks[i];
		} else if (s->sweep == GM_UNSWEPT) {
			TRY(finalizer_slots(idx, G, s, fin));
			for (uint64_t i = 0; i < s->nelems; i++) {
				bool a = bits[i / 8] >> (i % 8) & 1;
				bool live = (marks[i / 8] | fin[i / 8]) >> (i % 8) & 1;
				if (a && !live) {
					gm_bit_set(idx->dead, s->first_id + i);
					idx->unswept_garbage++;
					idx->unswept_garbage_bytes += s->elemsize;
				}
			}
		}
		copy_bits(idx->alloc, s->first_id, bits, s->nelems);
		count = gm_popcount_bytes(bits, n);
		idx->objects += count;
		idx->object_bytes += count * s->elemsize;
	}
	return NULL;
}

static const struct gm_arena *find_arena(const struct gm_heap_index *idx, uint64_t addr)
{
	return GM_FIND_RANGE(idx->arenas, idx->narenas, base, end, addr);
}

/* Marks the pages of [base, base + bytes) with v in the page table. */
static struct gomem_error *set_pages(struct gm_heap_index *idx, uint64_t base, uint64_t bytes,
				     uint32_t v)
{
	uint64_t page = idx->rt->L.page_size;
	for (uint64_t a = base; a - base < bytes; a += page) {
		const struct gm_arena *ar = find_arena(idx, a);
		if (!ar)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"span 0x%" PRIx64 " is outside the heap arenas", base);
		size_t ai = (size_t)(ar - idx->arenas);
		if (!idx->page_span[ai]) {
			idx->page_span[ai] = calloc(idx->pages_per_arena, sizeof(**idx->page_span));
			if (!idx->page_span[ai])
				return &gm_error_no_memory;
		}
		idx->page_span[ai][(a - ar->base) / page] = v;
	}
	return NULL;
}

static struct gomem_error *index_pages(struct gm_heap_index *idx)
{
	idx->pages_per_arena = idx->rt->L.arena_bytes / idx->rt->L.page_size;
	idx->page_span = calloc(idx->narenas ? idx->narenas : 1, sizeof(*idx->page_span));
	if (!idx->page_span)
		return &gm_error_no_memory;
	for (size_t k = 0; k < idx->nspans; k++)
		TRY(set_pages(idx, idx->spans[k].base, idx->spans[k].bytes, (uint32_t)k + 1));
	for (size_t k = 0; k + 1 < idx->nmanual; k += 2)
		TRY(set_pages(idx, idx->manual[k], idx->manual[k + 1] - idx->manual[k],
			      GM_PAGE_MANUAL));
	return NULL;
}

#define MAX_ARENA_TABLE (1u << 22) /* arena numbers from the lowest to the highest arena */

/* The packed spans and the arena table of gm_heap_index_where_span. */
static struct gomem_error *index_hot(struct gm_heap_index *idx)
{
	const struct gm_layout *L = &idx->rt->L;
	idx->hot = calloc(idx->nspans ? idx->nspans : 1, sizeof(*idx->hot));
	if (!idx->hot)
		return &gm_error_no_memory;
	for (size_t k = 0; k < idx->nspans; k++) {
		const struct gm_index_span *s = &idx->spans[k];
		struct gm_span_hot *h = &idx->hot[k];
		h->base = s->base;
		h->elemsize = s->elemsize;
		h->first_id = s->first_id;
		h->nelems = s->nelems;
		h->layout = s->layout;
		h->header_bytes = (uint8_t)s->header_bytes;
		/* Small spans: offsets fit 32 bits and ^0/size + 1 divides them exactly. */
		if (s->sizeclass != 0 && s->elemsize <= UINT32_MAX && s->bytes <= UINT32_MAX)
			h->divmul = (uint32_t)(UINT32_MAX / s->elemsize + 1);
	}
	if (!idx->narenas)
		return NULL;
	uint64_t lo = (idx->arenas[0].base - L->arena_base_offset) >> L->log_arena_bytes;
	uint64_t hi =
	    (idx->arenas[idx->narenas - 1].base - L->arena_base_offset) >> L->log_arena_bytes;
	if (hi < lo || hi - lo >= MAX_ARENA_TABLE)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"heap arenas spread over %" PRIu64 " arena numbers", hi - lo + 1);
	idx->arena_lo = lo;
	idx->narena_of = hi - lo + 1;
	idx->arena_of = calloc((size_t)idx->narena_of, sizeof(*idx->arena_of));
	if (!idx->arena_of)
		return &gm_error_no_memory;
	idx->pages_aligned =
	    L->log_arena_bytes < 64 && L->page_shift > 0 && L->page_shift <= L->log_arena_bytes &&
	    L->page_size == 1ULL << L->page_shift && L->arena_bytes == 1ULL << L->log_arena_bytes;
	for (size_t i = 0; i < idx->narenas; i++) {
		uint64_t an =
		    ((idx->arenas[i].base - L->arena_base_offset) >> L->log_arena_bytes) - lo;
		idx->arena_of[an] = (uint32_t)i + 1;
		if (idx->pages_aligned &&
		    (idx->arenas[i].base - L->arena_base_offset) % L->arena_bytes)
			idx->pages_aligned = false;
	}
	return NULL;
}

/* id_span: for each block of 1 << GM_ID_BLOCK_SHIFT ids, the span of its first id. */
static struct gomem_error *index_ids(struct gm_heap_index *idx)
{
	size_t nblocks = ((size_t)idx->nslots >> GM_ID_BLOCK_SHIFT) + 1;
	idx->id_span = calloc(nblocks, sizeof(*idx->id_span));
	if (!idx->id_span)
		return &gm_error_no_memory;
	size_t k = 0;
	for (size_t b = 0; b < nblocks; b++) {
		uint64_t id = (uint64_t)b << GM_ID_BLOCK_SHIFT;
		while (k + 1 < idx->nspans && idx->spans[k + 1].first_id <= id)
			k++;
		idx->id_span[b] = (uint32_t)k;
	}
	return NULL;
}

static struct gomem_error *build(struct gm_heap_index *idx)
{
	struct gm_runtime *rt = idx->rt;
	struct build b = {.idx = idx};
	uint64_t sg;
	TRY(gm_runtime_graph_layout(rt, &b.G));
	TRY(gm_rt_read_field(rt, rt->mheap, &b.G->mheap_sweepgen, &sg));
	idx->sweepgen = (uint32_t)sg;
	TRY(gm_heap_arenas(rt, &idx->arenas, &idx->narenas));
	struct gomem_error *err = gm_heap_foreach_span(rt, add_span, &b, &idx->bad_spans);
	idx->spans = b.spans.v;
	idx->nspans = b.spans.n;
	if (err)
		return err;
	if (idx->nspans > UINT32_MAX - 1)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "%zu in-use spans", idx->nspans);
	gm_sort(idx->spans, idx->nspans, sizeof(*idx->spans), cmp_span);
	uint64_t next = 0;
	for (size_t k = 0; k < idx->nspans; k++) {
		struct gm_index_span *s = &idx->spans[k];
		if (k && s->base < idx->spans[k - 1].base + idx->spans[k - 1].bytes)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "spans 0x%" PRIx64 " overlap",
					s->base);
		s->first_id = (uint32_t)next;
		next += s->nelems;
		if (next > GM_MAX_SLOTS)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"the heap has more than %u object slots", GM_MAX_SLOTS);
	}
	idx->nslots = (uint32_t)next;
	/* Every span inside the arenas first: then the bitsets are as large as the heap says. */
	TRY(index_pages(idx));
	size_t words = (size_t)(next + 63) / 64;
	idx->alloc = calloc(words ? words : 1, 8);
	idx->dead = calloc(words ? words : 1, 8);
	idx->fresh = calloc(words ? words : 1, 8);
	if (!idx->alloc || !idx->dead || !idx->fresh)
		return &gm_error_no_memory;
	TRY(index_ids(idx));
	TRY(index_hot(idx));
	return index_alloc(idx, b.G);
}

struct gomem_error *gm_heap_index_build(struct gm_runtime *rt, struct gm_heap_index **ret)
{
	struct gm_heap_index *idx = calloc(1, sizeof(*idx));
	if (!idx)
		return &gm_error_no_memory;
	idx->rt = rt;
	idx->arena_base_offset = rt->L.arena_base_offset;
	idx->log_arena_bytes = rt->L.log_arena_bytes;
	idx->page_shift = rt->L.page_shift;
	struct gomem_error *err = build(idx);
	if (err) {
		gm_heap_index_destroy(idx);
		return err;
	}
	*ret = idx;
	return NULL;
}

void gm_heap_index_destroy(struct gm_heap_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; idx->page_span && i < idx->narenas; i++)
		free(idx->page_span[i]);
	free(idx->page_span);
	free(idx->spans);
	free(idx->arenas);
	free(idx->alloc);
	free(idx->dead);
	free(idx->fresh);
	free(idx->manual);
	free(idx->id_span);
	free(idx->hot);
	free(idx->arena_of);
	free(idx);
}

void gm_heap_index_object(const struct gm_heap_index *idx, uint32_t id, uint64_t *base_ret,
			  uint64_t *size_ret)
{
	const struct gm_index_span *s = gm_heap_index_span(idx, id);
	*base_ret = s->base + (uint64_t)(id - s->first_id) * s->elemsize;
	*size_ret = s->elemsize;
}

bool gm_heap_index_in_arena(const struct gm_heap_index *idx, uint64_t addr)
{
	return find_arena(idx, addr) != NULL;
}

enum gm_heap_place gm_heap_index_where(const struct gm_heap_index *idx, uint64_t addr,
				       uint32_t *id_ret)
{
	uint32_t k;
	return gm_heap_index_where_span(idx, addr, id_ret, &k);
}

bool gm_heap_index_lookup(const struct gm_heap_index *idx, uint64_t addr, uint32_t *id_ret)
{
	return gm_heap_index_where(idx, addr, id_ret) == GM_PLACE_SLOT;
}
