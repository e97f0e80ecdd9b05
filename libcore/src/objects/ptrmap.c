/*
 * Pointer maps: which words of a heap object hold pointers, from the
 * heap's own metadata, for every layout of Go 1.19-1.27 (GO-OBJECTS.md
 * §2): 1.19's 2-bit arena bitmap, 1.20-1.21's 1-bit one (and 1.22
 * noallocheaders), 1.22+ span heap bits, malloc headers and largeType with
 * element tiling, GC programs (<=1.23) and on-demand masks (1.24+) of the
 * types, Green Tea's inline marks moving the span heap bits (heapindex.c
 * places them). Never from DWARF: reachability is exact where types are not.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/u64map.h"
#include "objects/objects.h"

/* ---- the decoders, on bytes already read ---- */

static void set_out(uint64_t *out, uint64_t k)
{
	out[k / 64] |= 1ULL << (k % 64);
}

void gm_ptrmask_arena2(const uint8_t *bitmap, uint64_t first, uint64_t nwords, uint64_t *out)
{
	memset(out, 0, (size_t)((nwords + 63) / 64) * 8);
	for (uint64_t k = 0; k < nwords; k++) {
		uint64_t w = first + k;
		uint8_t b = bitmap[w / 4 - first / 4];
		/* The scan bit clear: no more pointers in this object (scanobject@1.19). */
		if (!(b >> (4 + w % 4) & 1))
			break;
		if (b >> (w % 4) & 1)
			set_out(out, k);
	}
}

/*
 * Bits [from, from + n) of src (LSB first, n <= 64) as a word; only the
 * bytes that hold them are read.
 */
static uint64_t get_bits(const uint8_t *src, uint64_t from, uint64_t n)
{
	const uint8_t *p = src + from / 8;
	unsigned sh = (unsigned)(from % 8), nbytes = (unsigned)((from % 8 + n + 7) / 8);
	uint64_t v = 0;
	for (unsigned j = 0; j < nbytes && j < 8; j++)
		v |= (uint64_t)p[j] << (8 * j);
	v >>= sh;
	if (nbytes > 8)
		v |= (uint64_t)p[8] << (64 - sh);
	return n < 64 ? v & ((1ULL << n) - 1) : v;
}

/* ORs v (n <= 64 bits, none above) into out from bit at. */
static void put_bits(uint64_t *out, uint64_t at, uint64_t v, uint64_t n)
{
	unsigned sh = (unsigned)(at % 64);
	out[at / 64] |= v << sh;
	/* Only bits that spill touch the next word (it may be past out's end). */
	if (sh && n > 64 - sh)
		out[at / 64 + 1] |= v >> (64 - sh);
}

/* ORs n bits of src from bit from into out from bit at, 64 at a time. */
static void or_bits(uint64_t *out, uint64_t at, const uint8_t *src, uint64_t from, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 64) {
		uint64_t m = n - i < 64 ? n - i : 64;
		uint64_t v = get_bits(src, from + i, m);
		if (v)
			put_bits(out, at + i, v, m);
	}
}

void gm_ptrmask_bits(const uint8_t *bitmap, uint64_t first, uint64_t nwords, uint64_t *out)
{
	memset(out, 0, (size_t)((nwords + 63) / 64) * 8);
	or_bits(out, 0, bitmap, first, nwords);
}

/* gm_ptrmask_tile's bits ORed into out from bit at (out not cleared). */
static void tile_at(const uint8_t *mask, uint64_t elem_size, uint64_t ptr_bytes, uint64_t first,
		    uint64_t nwords, uint64_t *out, uint64_t at)
{
	if (!ptr_bytes || elem_size < 8 || ptr_bytes > elem_size)
		return;
	if (elem_size % 8 == 0) {
		/* Element by element: the mask's bits of the element's words in the window. */
		uint64_t ew = elem_size / 8, pw = (ptr_bytes + 7) / 8, j = first % ew;
		for (uint64_t k = 0; k < nwords; k += ew - j, j = 0) {
			if (j < pw)
				or_bits(out, at + k, mask, j,
					pw - j < nwords - k ? pw - j : nwords - k);
		}
		return;
	}
	/* rel: the word's byte offset in its element (typePointers.next@1.22). */
	uint64_t rel = (first * 8) % elem_size;
	for (uint64_t k = 0; k < nwords; k++) {
		if (rel < ptr_bytes) {
			uint64_t bit = rel / 8;
			if (mask[bit / 8] >> (bit % 8) & 1)
				set_out(out, at + k);
		}
		rel += 8;
		if (rel >= elem_size)
			rel -= elem_size;
		/* An element size not a multiple of 8 has no pointers past the first word. */
	}
}

void gm_ptrmask_tile(const uint8_t *mask, uint64_t elem_size, uint64_t ptr_bytes, uint64_t first,
		     uint64_t nwords, uint64_t *out)
{
	memset(out, 0, (size_t)((nwords + 63) / 64) * 8);
	tile_at(mask, elem_size, ptr_bytes, first, nwords, out, 0);
}

/* A varint of a GC program. */
static struct gomem_error *prog_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*pos >= len)
			return gm_error(GOMEM_ERROR_FORMAT, "GC program ends inside a number");
		uint8_t b = p[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return NULL;
		}
	}
	return gm_error(GOMEM_ERROR_FORMAT, "GC program number too long");
}

static bool get_bit(const uint8_t *b, uint64_t i)
{
	return b[i / 8] >> (i % 8) & 1;
}

static void put_bit(uint8_t *b, uint64_t i, bool v)
{
	if (v)
		b[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		b[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

/* runGCProg (mbitmap.go@1.23): literal bits, repeats of the last n bits, stop. */
struct gomem_error *gm_gcprog_run(const uint8_t *prog, size_t len, uint8_t *out, uint64_t max_bits,
				  uint64_t *nbits_ret)
{
	uint64_t n = 0;
	size_t pos = 0;
	for (;;) {
		if (pos >= len)
			return gm_error(GOMEM_ERROR_FORMAT, "GC program has no stop");
		uint8_t x = prog[pos++];
		if (x == 0)
			break;
		if (!(x & 0x80)) {
			uint64_t nlit = x;
			if (nlit > max_bits - n)
				return gm_error(GOMEM_ERROR_FORMAT,
						"GC program writes too many bits");
			if ((nlit + 7) / 8 > len - pos)
				return gm_error(GOMEM_ERROR_FORMAT, "GC program ends in literal");
			for (uint64_t i = 0; i < nlit; i++)
				put_bit(out, n + i, get_bit(prog + pos, i));
			pos += (size_t)(nlit + 7) / 8;
			n += nlit;
			continue;
		}
		uint64_t rep = x & 0x7f, count;
		if (rep == 0)
			TRY(prog_varint(prog, len, &pos, &rep));
		TRY(prog_varint(prog, len, &pos, &count));
		if (rep == 0 || rep > n)
			return gm_error(GOMEM_ERROR_FORMAT,
					"GC program repeats %" PRIu64 " of %" PRIu64 " bits", rep,
					n);
		if (count > (max_bits - n) / rep)
			return gm_error(GOMEM_ERROR_FORMAT, "GC program writes too many bits");
		uint64_t total = rep * count, src = n - rep;
		for (uint64_t i = 0; i < total; i++)
			put_bit(out, n + i, get_bit(out, src + i));
		n += total;
	}
	*nbits_ret = n;
	return NULL;
}

/* ---- reading target memory for a scan ---- */

const uint8_t *gm_scan_bytes(struct gm_memory *mem, uint64_t addr, size_t len, uint8_t *scratch,
			     bool *missing_ret)
{
	if (missing_ret)
		*missing_ret = false;
	if (!len)
		return scratch;
	if (!mem->read_fn && addr + len > addr) {
		const struct gm_segment *s = gm_memory_find(mem, addr);
		if (s && addr - s->start < s->data_len && s->data_len - (addr - s->start) >= len)
			return s->data + (addr - s->start);
	}
	struct gomem_error *err = gm_read(mem, addr, scratch, len);
	if (!err)
		return scratch;
	gomem_error_destroy(err);
	/* Page by page, zeros where the core has nothing. */
	for (size_t off = 0; off < len;) {
		uint64_t a = addr + off;
		size_t n = (size_t)(4096 - a % 4096);
		if (n > len - off)
			n = len - off;
		err = gm_read(mem, a, scratch + off, n);
		if (err) {
			gomem_error_destroy(err);
			memset(scratch + off, 0, n);
			if (missing_ret)
				*missing_ret = true;
		}
		off += n;
	}
	return scratch;
}

/* ---- type descriptors ---- */

struct type_mask {
	uint64_t size, ptr_bytes;
	size_t mask_off; /* in pm->pool */
	bool ok;
};

struct gm_ptrmap {
	struct gm_heap_index *idx;
	struct gm_runtime *rt;
	const struct gm_graph_layout *G;
	struct gm_u64map types; /* type address -> 1 + index in masks */
	struct type_mask *masks;
	size_t nmasks, cap_masks;
	uint8_t *pool; /* the masks' bytes */
	size_t npool, cap_pool;
	uint64_t problems;
	uint64_t max_object;   /* the largest in-use span: no type's pointer prefix is larger */
	uint64_t build_budget; /* descriptors buildGCMask may still read for this type */
	uint8_t *scratch;      /* GM_PTRMAP_WINDOW words of bitmap bytes */
};

#define MAX_TYPES	(1u << 22)
#define MAX_MASK_BYTES	((uint64_t)256 << 20) /* all masks together */
#define MAX_BUILD_DEPTH 64		      /* nesting of struct and array types */
#define MAX_FIELDS	(1u << 16)
#define MAX_BUILD_STEPS (1u << 20) /* descriptors read to build one on-demand mask */
#define KIND_ARRAY	17
#define KIND_STRUCT	25

GM_DEFINE_GROW(grow_masks, struct type_mask)

struct type_desc {
	uint64_t size, ptr_bytes, tflag, kind, gcdata;
};

static struct gomem_error *read_type(struct gm_ptrmap *pm, uint64_t type, struct type_desc *t)
{
	const struct gm_graph_layout *G = pm->G;
	uint8_t buf[256];
	if (G->type_size > sizeof(buf) || G->type_size < 48)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "type descriptors of %" PRIu64 " bytes",
				G->type_size);
	TRY(gm_read(pm->rt->mem, type, buf, G->type_size));
	t->size = gm_rt_field(buf, &G->type_size_);
	t->ptr_bytes = gm_rt_field(buf, &G->type_ptrbytes);
	t->tflag = gm_rt_field(buf, &G->type_tflag);
	t->kind = gm_rt_field(buf, &G->type_kind);
	t->gcdata = gm_rt_field(buf, &G->type_gcdata);
	if (t->ptr_bytes > t->size || t->ptr_bytes % 8 || t->ptr_bytes > pm->max_object)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"type 0x%" PRIx64 ": %" PRIu64 " pointer bytes of %" PRIu64, type,
				t->ptr_bytes, t->size);
	return NULL;
}

static struct gomem_error *pool_room(struct gm_ptrmap *pm, uint64_t n)
{
	if (n > MAX_MASK_BYTES || pm->npool > MAX_MASK_BYTES - n)
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"type masks of more than %" PRIu64 " bytes", MAX_MASK_BYTES);
	if (pm->npool + n <= pm->cap_pool)
		return NULL;
	size_t cap = pm->cap_pool ? pm->cap_pool : 4096;
	while (cap < pm->npool + n)
		cap *= 2;
	uint8_t *p = realloc(pm->pool, cap);
	if (!p)
		return &gm_error_no_memory;
	pm->pool = p;
	pm->cap_pool = cap;
	return NULL;
}

/* ORs type's mask into out (bits from bit at), building it as buildGCMask does (type.go@1.24). */
static struct gomem_error *build_mask(struct gm_ptrmap *pm, uint64_t type, uint8_t *out,
				      uint64_t at, uint64_t out_bits, unsigned depth);

static struct gomem_error *or_mask_bytes(struct gm_ptrmap *pm, uint64_t addr, uint64_t nbits,
					 uint8_t *out, uint64_t at, uint64_t out_bits)
{
	if (nbits > out_bits - at)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "a field's mask overflows its struct");
	_cleanup_free_ uint8_t *m = malloc((size_t)(nbits + 7) / 8 + 1);
	if (!m)
		return &gm_error_no_memory;
	TRY(gm_read(pm->rt->mem, addr, m, (size_t)(nbits + 7) / 8));
	for (uint64_t i = 0; i < nbits; i++) {
		if (get_bit(m, i))
			put_bit(out, at + i, true);
	}
	return NULL;
}

static struct gomem_error *build_mask(struct gm_ptrmap *pm, uint64_t type, uint8_t *out,
				      uint64_t at, uint64_t out_bits, unsigned depth)
{
	const struct gm_graph_layout *G = pm->G;
	struct gm_runtime *rt = pm->rt;
	struct type_desc t;
	if (depth > MAX_BUILD_DEPTH || !pm->build_budget)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "type 0x%" PRIx64 " nests too deep",
				type);
	pm->build_budget--;
	TRY(read_type(pm, type, &t));
	if (!t.ptr_bytes)
		return NULL;
	if (!(t.tflag & G->tflag_on_demand)) {
		if (G->kind_gcprog && (t.kind & G->kind_gcprog))
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "a GC program inside a type");
		return or_mask_bytes(pm, t.gcdata, t.ptr_bytes / 8, out, at, out_bits);
	}
	uint64_t kind = t.kind & G->kind_mask;
	if (kind == KIND_ARRAY) {
		uint64_t elem, len;
		struct type_desc e;
		TRY(gm_rt_read_field(rt, type, &G->arraytype_elem, &elem));
		TRY(gm_rt_read_field(rt, type, &G->arraytype_len, &len));
		TRY(read_type(pm, elem, &e));
		if (!e.ptr_bytes)
			return NULL;
		if (e.size % 8 || !e.size || len > t.size / e.size)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "array type 0x%" PRIx64, type);
		/* The first element's mask, then copies at each stride. */
		TRY(build_mask(pm, elem, out, at, out_bits, depth + 1));
		uint64_t ebits = e.size / 8;
		for (uint64_t i = 1; i < len && i * ebits < t.ptr_bytes / 8; i++) {
			for (uint64_t j = 0; j < e.ptr_bytes / 8; j++) {
				if (at + i * ebits + j >= out_bits)
					break;
				if (get_bit(out, at + j))
					put_bit(out, at + i * ebits + j, true);
			}
		}
		return NULL;
	}
	if (kind == KIND_STRUCT) {
		uint64_t hdr[3];
		TRY(gm_read(rt->mem, type + G->structtype_fields.offset, hdr, sizeof(hdr)));
		if (hdr[1] > MAX_FIELDS)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"struct type with %" PRIu64 " fields", hdr[1]);
		for (uint64_t i = 0; i < hdr[1]; i++) {
			uint64_t f = hdr[0] + i * G->structfield_size, ft, off;
			TRY(gm_rt_read_field(rt, f, &G->structfield_typ, &ft));
			TRY(gm_rt_read_field(rt, f, &G->structfield_offset, &off));
			if (off % 8 || off >= t.size)
				continue; /* a field past the prefix, or not word-aligned: no
					     pointers */
			TRY(build_mask(pm, ft, out, at + off / 8, out_bits, depth + 1));
		}
		return NULL;
	}
	return gm_error(GOMEM_ERROR_INCONSISTENT,
			"type 0x%" PRIx64 " of kind %" PRIu64 " has an on-demand mask", type, kind);
}

/* The mask of t into m (ptr_bytes / 8 bits, zeroed). */
static struct gomem_error *type_mask_bits(struct gm_ptrmap *pm, uint64_t type,
					  const struct type_desc *t, uint8_t *m)
{
	const struct gm_graph_layout *G = pm->G;
	uint64_t nbits = t->ptr_bytes / 8;
	if (G->kind_gcprog && (t->kind & G->kind_gcprog)) {
		/* A 4-byte length, then the program (heapSetType@1.22, materializeGCProg@1.23). */
		uint32_t plen;
		uint64_t got;
		TRY(gm_read(pm->rt->mem, t->gcdata, &plen, 4));
		if (plen > (1u << 24))
			return gm_error(GOMEM_ERROR_INCONSISTENT, "GC program of %u bytes", plen);
		_cleanup_free_ uint8_t *prog = malloc(plen ? plen : 1);
		if (!prog)
			return &gm_error_no_memory;
		TRY(gm_read(pm->rt->mem, t->gcdata + 4, prog, plen));
		return gm_gcprog_run(prog, plen, m, nbits, &got);
	}
	if (G->gcmask_on_demand && (t->tflag & G->tflag_on_demand)) {
		/* GCData is **byte, nil until the runtime first needed it (getGCMaskOnDemand@1.24).
		 */
		uint64_t p = 0;
		TRY(gm_read_u64(pm->rt->mem, t->gcdata, &p));
		if (p) {
			struct gomem_error *err =
			    gm_read(pm->rt->mem, p, m, (size_t)(nbits + 7) / 8);
			if (!err)
				return NULL;
			gomem_error_destroy(err); /* the in-progress sentinel: build it */
			memset(m, 0, (size_t)(nbits + 7) / 8);
		}
		pm->build_budget = MAX_BUILD_STEPS;
		return build_mask(pm, type, m, 0, nbits, 0);
	}
	return gm_read(pm->rt->mem, t->gcdata, m, (size_t)(nbits + 7) / 8);
}

static struct gomem_error *add_type(struct gm_ptrmap *pm, uint64_t type, struct type_mask *ret)
{
	struct type_desc t;
	memset(ret, 0, sizeof(*ret));
	struct gomem_error *err = read_type(pm, type, &t);
	if (!err) {
		ret->size = t.size;
		ret->ptr_bytes = t.ptr_bytes;
		uint64_t n = (t.ptr_bytes / 8 + 7) / 8;
		err = pool_room(pm, n + 1);
		if (!err) {
			ret->mask_off = pm->npool;
			memset(pm->pool + pm->npool, 0, (size_t)n + 1);
			err = type_mask_bits(pm, type, &t, pm->pool + pm->npool);
			if (!err)
				pm->npool += (size_t)n + 1;
		}
	}
	if (err && err != &gm_error_no_memory) {
		gomem_error_destroy(err);
		err = NULL;
		pm->problems++;
		ret->ptr_bytes = 0;
		ret->ok = false;
	} else if (!err) {
		ret->ok = true;
	}
	return err;
}

static struct gomem_error *lookup_type(struct gm_ptrmap *pm, uint64_t type,
				       const struct type_mask **ret)
{
	uint64_t k = gm_u64map_get(&pm->types, type);
	if (!k) {
		struct type_mask tm;
		if (pm->nmasks >= MAX_TYPES)
			return gm_error(GOMEM_ERROR_INCONSISTENT, "more than %u heap types",
					MAX_TYPES);
		TRY(add_type(pm, type, &tm));
		struct type_mask *slot = grow_masks(&pm->masks, &pm->nmasks, &pm->cap_masks);
		if (!slot)
			return &gm_error_no_memory;
		*slot = tm;
		k = pm->nmasks;
		if (!gm_u64map_put(&pm->types, type, k))
			return &gm_error_no_memory;
	}
	*ret = &pm->masks[k - 1];
	return NULL;
}

struct gomem_error *gm_ptrmap_type(struct gm_ptrmap *pm, uint64_t type, uint64_t *size_ret,
				   uint64_t *ptr_bytes_ret, const uint8_t **mask_ret)
{
	const struct type_mask *tm;
	TRY(lookup_type(pm, type, &tm));
	*size_ret = tm->size;
	*ptr_bytes_ret = tm->ptr_bytes;
	*mask_ret = pm->pool + tm->mask_off;
	return NULL;
}

struct gomem_error *gm_ptrmap_self_type(struct gm_ptrmap *pm, uint32_t id, uint64_t *type_ret,
					uint64_t *data_ret)
{
	const struct gm_index_span *s = gm_heap_index_span(pm->idx, id);
	uint64_t obj = s->base + (uint64_t)(id - s->first_id) * s->elemsize, type = 0;
	if (s->layout == GM_LAYOUT_HEADER)
		TRY(gm_read_u64(pm->rt->mem, obj, &type));
	else if (s->layout == GM_LAYOUT_LARGE)
		type = s->large_type;
	*type_ret = type;
	*data_ret = obj + s->header_bytes;
	return NULL;
}

uint64_t gm_ptrmap_problems(const struct gm_ptrmap *pm)
{
	return pm->problems;
}

struct gomem_error *gm_ptrmap_create(struct gm_heap_index *idx, struct gm_ptrmap **ret)
{
	struct gm_ptrmap *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return &gm_error_no_memory;
	pm->idx = idx;
	pm->rt = idx->rt;
	pm->scratch = malloc(GM_PTRMAP_WINDOW / 4 + 16);
	struct gomem_error *err =
	    pm->scratch ? gm_runtime_graph_layout(idx->rt, &pm->G) : &gm_error_no_memory;
	for (size_t i = 0; i < idx->nspans; i++) {
		if (idx->spans[i].bytes > pm->max_object)
			pm->max_object = idx->spans[i].bytes;
	}
	if (err) {
		gm_ptrmap_destroy(pm);
		return err;
	}
	*ret = pm;
	return NULL;
}

void gm_ptrmap_destroy(struct gm_ptrmap *pm)
{
	if (!pm)
		return;
	gm_u64map_deinit(&pm->types);
	free(pm->masks);
	free(pm->pool);
	free(pm->scratch);
	free(pm);
}

/* ---- one object's window ---- */

/* Words [first, first + nwords) of the arena bitmap layouts, arena by arena (§6.9). */
static struct gomem_error *window_arena(struct gm_ptrmap *pm, uint64_t obj, uint64_t first,
					uint64_t nwords, bool two_bit, uint64_t *out)
{
	const struct gm_heap_index *idx = pm->idx;
	const struct gm_graph_layout *G = pm->G;
	memset(out, 0, (size_t)((nwords + 63) / 64) * 8);
	uint64_t part[GM_PTRMAP_WINDOW / 64];
	for (uint64_t k = 0; k < nwords;) {
		uint64_t addr = obj + 8 * (first + k);
		const struct gm_arena *ar =
		    GM_FIND_RANGE(idx->arenas, idx->narenas, base, end, addr);
		if (!ar)
			return gm_error(GOMEM_ERROR_INCONSISTENT,
					"object word 0x%" PRIx64 " outside the arenas", addr);
		uint64_t aw = (addr - ar->base) / 8;
		uint64_t n = (ar->end - addr) / 8;
		if (n > nwords - k)
			n = nwords - k;
		uint64_t lo = two_bit ? aw / 4 : aw / 8,
			 hi = two_bit ? (aw + n + 3) / 4 : (aw + n + 7) / 8;
		bool missing;
		const uint8_t *bm =
		    gm_scan_bytes(pm->rt->mem, ar->meta + G->arena_bitmap.offset + lo,
				  (size_t)(hi - lo), pm->scratch, &missing);
		if (two_bit)
			gm_ptrmask_arena2(bm, aw, n, part);
		else
			gm_ptrmask_bits(bm, aw % 8, n, part);
		for (uint64_t j = 0; j < n; j += 64) {
			if (part[j / 64])
				put_bits(out, k + j,
					 n - j < 64 ? part[j / 64] & ((1ULL << (n - j)) - 1)
						    : part[j / 64],
					 n - j < 64 ? n - j : 64);
		}
		/* 1.19: a clear scan bit ends the object, in this arena or the next. */
		if (two_bit && n < nwords - k) {
			uint8_t last = bm[(aw + n - 1) / 4 - lo];
			if (!(last >> (4 + (aw + n - 1) % 4) & 1))
				break;
		}
		k += n;
	}
	return NULL;
}

struct gomem_error *gm_ptrmap_window(struct gm_ptrmap *pm, uint32_t id, uint64_t first,
				     uint64_t nwords, uint64_t *out)
{
	return gm_ptrmap_window_span(pm, gm_heap_index_span(pm->idx, id), id, first, nwords, out);
}

struct gomem_error *gm_ptrmap_window_span(struct gm_ptrmap *pm, const struct gm_index_span *s,
					  uint32_t id, uint64_t first, uint64_t nwords,
					  uint64_t *out)
{
	uint64_t obj = s->base + (uint64_t)(id - s->first_id) * s->elemsize;
	uint64_t words = s->elemsize / 8;
	memset(out, 0, (size_t)((nwords + 63) / 64) * 8);
	if (nwords > GM_PTRMAP_WINDOW || first >= words)
		return nwords > GM_PTRMAP_WINDOW
			   ? gm_error(GOMEM_ERROR_USAGE, "a window of %" PRIu64 " words", nwords)
			   : NULL;
	if (nwords > words - first)
		nwords = words - first;
	switch ((enum gm_ptr_layout)s->layout) {
	case GM_LAYOUT_NOSCAN:
		return NULL;
	case GM_LAYOUT_ARENA2:
		return window_arena(pm, obj, first, nwords, true, out);
	case GM_LAYOUT_ARENA1:
		return window_arena(pm, obj, first, nwords, false, out);
	case GM_LAYOUT_SPAN_BITS: {
		/* One bit per word of the span from its base (heapBitsSmallForAddr@1.22). */
		uint64_t o = (obj - s->base) / 8 + first;
		const uint8_t *hb =
		    gm_scan_bytes(pm->rt->mem, s->heap_bits + o / 8,
				  (size_t)((o % 8 + nwords + 7) / 8), pm->scratch, NULL);
		gm_ptrmask_bits(hb, o % 8, nwords, out);
		return NULL;
	}
	case GM_LAYOUT_HEADER:
	case GM_LAYOUT_LARGE: {
		uint64_t type = s->large_type, data = obj;
		if (s->layout == GM_LAYOUT_HEADER) {
			/* The header: the element type; data and tiling start after it. */
			TRY(gm_read_u64(pm->rt->mem, obj, &type));
			data = obj + s->header_bytes;
		}
		if (!type)
			return NULL; /* not initialised yet (§1.2, §1.6): no pointers */
		const struct type_mask *tm;
		TRY(lookup_type(pm, type, &tm));
		if (!tm->ptr_bytes)
			return NULL;
		uint64_t skip = (data - obj) / 8; /* header words are not pointers */
		if (first + nwords <= skip)
			return NULL;
		/* The window's words before the data start (lead: 0 or 1) stay clear. */
		uint64_t lead = first < skip ? skip - first : 0;
		tile_at(pm->pool + tm->mask_off, tm->size, tm->ptr_bytes, first + lead - skip,
			nwords - lead, out, lead);
		return NULL;
	}
	}
	return NULL;
}
