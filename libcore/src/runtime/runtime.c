/*
 * The Go runtime's layout in this binary, resolved once from DWARF, and
 * the runtime's own counters read the way runtime.ReadMemStats reads them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

/* A field that must exist in every supported Go version. */
static struct gomem_error *need(struct gm_runtime *rt, const char *type, const char *path,
				struct gm_field *f)
{
	struct gomem_error *err = gm_dwarf_field(rt->dw, type, path, f);
	if (err)
		return err;
	if (!f->present)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported Go runtime layout (%s): %s has no field %s",
				rt->go_version, type, path);
	return NULL;
}

/* A field that some Go versions have. */
static struct gomem_error *maybe(struct gm_runtime *rt, const char *type, const char *path,
				 struct gm_field *f)
{
	return gm_dwarf_field(rt->dw, type, path, f);
}

static struct gomem_error *variable(struct gm_runtime *rt, const char *name, uint64_t *ret)
{
	uint64_t addr;
	struct gomem_error *err = gm_dwarf_variable(rt->dw, name, &addr);
	if (err)
		return err;
	*ret = addr + rt->bias;
	return NULL;
}

static struct gomem_error *constant(struct gm_runtime *rt, const char *name, int64_t dflt,
				    int64_t *ret)
{
	if (!gm_dwarf_has_constant(rt->dw, name)) {
		*ret = dflt;
		return NULL;
	}
	return gm_dwarf_constant(rt->dw, name, ret);
}

static struct gomem_error *resolve_constants(struct gm_runtime *rt)
{
	struct gm_layout *L = &rt->L;
	int64_t v;
	/* The page shift moved to internal/runtime/gc in 1.25 (gc/malloc.go@1.25). */
	if (gm_dwarf_has_constant(rt->dw, "internal/runtime/gc.PageShift"))
		TRY(gm_dwarf_constant(rt->dw, "internal/runtime/gc.PageShift", &v));
	else
		TRY(constant(rt, "runtime._PageShift", 13, &v));
	L->page_shift = (unsigned)v;
	TRY(constant(rt, "runtime.logHeapArenaBytes", 26, &v));
	L->log_arena_bytes = (unsigned)v;
	TRY(constant(rt, "runtime.arenaL1Bits", 0, &v));
	L->arena_l1_bits = (unsigned)v;
	TRY(constant(rt, "runtime.arenaL2Bits", 22, &v));
	L->arena_l2_bits = (unsigned)v;
	/* arenaBaseOffset overflows int64, so the compiler drops it; the uintptr copy stays. */
	TRY(constant(rt, "runtime.arenaBaseOffsetUintptr", (int64_t)0xffff800000000000ULL, &v));
	L->arena_base_offset = (uint64_t)v;
	TRY(constant(rt, "runtime.pallocChunkPages", 512, &v));
	L->chunk_pages = (uint64_t)v;
	TRY(constant(rt, "runtime.pallocChunksL2Bits", 13, &v));
	L->chunks_l2_bits = (unsigned)v;
	TRY(constant(rt, "runtime.pallocChunksL1Bits", 13, &v));
	L->chunks_l1_bits = (unsigned)v;
	TRY(constant(rt, "runtime.mSpanInUse", 1, &v));
	L->span_in_use = (uint64_t)v;
	TRY(constant(rt, "runtime.mSpanManual", 2, &v));
	L->span_manual = (uint64_t)v;
	/*
	 * The memory-limit goal's headroom: a fixed 1 MiB in 1.19
	 * (memoryLimitHeapGoalHeadroom, mgcpacer.go@1.19), a percentage with a
	 * 1 MiB floor since 1.20 (mgcpacer.go@1.20, issue 57069).
	 */
	TRY(constant(rt, "runtime.memoryLimitHeapGoalHeadroomPercent", 0, &v));
	L->limit_headroom_percent = (uint64_t)v;
	TRY(constant(rt, "runtime.memoryLimitMinHeapGoalHeadroom", 1 << 20, &v));
	L->limit_min_headroom = (uint64_t)v;
	if (!L->limit_headroom_percent) {
		TRY(constant(rt, "runtime.memoryLimitHeapGoalHeadroom", 1 << 20, &v));
		L->limit_min_headroom = (uint64_t)v;
	}
	if (L->page_shift < 12 || L->page_shift > 16 || L->log_arena_bytes < 20 ||
	    L->log_arena_bytes > 32 || L->arena_l2_bits > 30 || L->arena_l1_bits > 8 ||
	    L->chunk_pages != 512 || L->chunks_l2_bits > 20 || L->chunks_l1_bits > 20)
		return gm_error(
		    GOMEM_ERROR_UNSUPPORTED,
		    "unsupported Go runtime constants in %s (page shift %u, arena bits %u)",
		    rt->go_version, L->page_shift, L->log_arena_bytes);
	L->page_size = 1ULL << L->page_shift;
	L->arena_bytes = 1ULL << L->log_arena_bytes;
	return NULL;
}

static struct gomem_error *resolve_mheap(struct gm_runtime *rt)
{
	struct gm_layout *L = &rt->L;
	TRY(need(rt, "runtime.mheap", "pages", &L->mheap_pages));
	TRY(need(rt, "runtime.mheap", "allspans", &L->mheap_allspans));
	TRY(need(rt, "runtime.mheap", "arenas", &L->mheap_arenas));
	TRY(need(rt, "runtime.mheap", "spanalloc.inuse", &L->mheap_spanalloc_inuse));
	TRY(need(rt, "runtime.mheap", "cachealloc.inuse", &L->mheap_cachealloc_inuse));
	/* allArenas became heapArenas + userArenaArenas (mheap.go@1.25). */
	TRY(maybe(rt, "runtime.mheap", "heapArenas", &L->mheap_heap_arenas));
	if (!L->mheap_heap_arenas.present)
		TRY(need(rt, "runtime.mheap", "allArenas", &L->mheap_heap_arenas));
	TRY(maybe(rt, "runtime.mheap", "userArenaArenas", &L->mheap_user_arenas));
	if (L->mheap_user_arenas.present &&
	    L->mheap_user_arenas.elem_size != L->mheap_heap_arenas.elem_size)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported mheap_.userArenaArenas layout in %s", rt->go_version);
	TRY(need(rt, "runtime.heapArena", "spans", &L->heaparena_spans));
	TRY(need(rt, "runtime.pageAlloc", "chunks", &L->pagealloc_chunks));
	TRY(need(rt, "runtime.pageAlloc", "inUse.ranges", &L->pagealloc_inuse_ranges));
	TRY(need(rt, "runtime.pallocData", "pallocBits", &L->pallocdata_alloc));
	TRY(need(rt, "runtime.pallocData", "scavenged", &L->pallocdata_scav));
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.pallocData", &L->pallocdata_size));
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.addrRange", &L->addrrange_size));
	if (L->pallocdata_size != 128 || L->addrrange_size != 16 ||
	    L->pallocdata_alloc.size != 64 || L->pallocdata_scav.size != 64 ||
	    L->heaparena_spans.elem_size != 8 || L->mheap_allspans.elem_size != 8)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported page allocator layout in %s (pallocData %llu bytes)",
				rt->go_version, (unsigned long long)L->pallocdata_size);
	return NULL;
}

static struct gomem_error *resolve_mspan(struct gm_runtime *rt)
{
	struct gm_layout *L = &rt->L;
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.mspan", &L->mspan_size));
	TRY(need(rt, "runtime.mspan", "startAddr", &L->mspan_startaddr));
	TRY(need(rt, "runtime.mspan", "npages", &L->mspan_npages));
	/* state is {s uint8} in 1.19 and {s atomic.Uint8} from 1.20 (mheap.go@1.20). */
	TRY(need(rt, "runtime.mspan", "state.s", &L->mspan_state));
	TRY(need(rt, "runtime.mspan", "spanclass", &L->mspan_spanclass));
	TRY(need(rt, "runtime.mspan", "elemsize", &L->mspan_elemsize));
	/* nelems and freeindex: uintptr until 1.21, uint16 from 1.22 (mheap.go@1.22). */
	TRY(need(rt, "runtime.mspan", "nelems", &L->mspan_nelems));
	TRY(need(rt, "runtime.mspan", "freeindex", &L->mspan_freeindex));
	TRY(need(rt, "runtime.mspan", "allocCount", &L->mspan_alloccount));
	TRY(need(rt, "runtime.mspan", "allocCountBeforeCache", &L->mspan_alloccount_before_cache));
	TRY(need(rt, "runtime.mspan", "allocBits", &L->mspan_allocbits));
	/* User arena chunks are heap spans with this flag (arena.go@1.20, GOEXPERIMENT=arenas). */
	TRY(maybe(rt, "runtime.mspan", "isUserArenaChunk", &L->mspan_user_chunk));
	const struct gm_field *fs[] = {
	    &L->mspan_startaddr, &L->mspan_npages,     &L->mspan_state,
	    &L->mspan_spanclass, &L->mspan_elemsize,   &L->mspan_nelems,
	    &L->mspan_freeindex, &L->mspan_alloccount, &L->mspan_alloccount_before_cache,
	    &L->mspan_allocbits};
	for (size_t i = 0; i < GM_ARRAY_SIZE(fs); i++) {
		if (fs[i]->size > 8 || fs[i]->offset + fs[i]->size > L->mspan_size ||
		    L->mspan_size > GM_MSPAN_MAX ||
		    (L->mspan_user_chunk.present && (L->mspan_user_chunk.size != 1 ||
						     L->mspan_user_chunk.offset >= L->mspan_size)))
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"unsupported mspan layout in %s (%llu bytes)",
					rt->go_version, (unsigned long long)L->mspan_size);
	}
	return NULL;
}

static struct gomem_error *resolve_stats(struct gm_runtime *rt)
{
	struct gm_layout *L = &rt->L;
	const char *gc = "runtime.gcControllerState", *ms = "runtime.mstats",
		   *hs = "runtime.heapStatsDelta";
	TRY(need(rt, gc, "heapInUse", &L->gc_heap_inuse));
	TRY(need(rt, gc, "heapFree", &L->gc_heap_free));
	TRY(need(rt, gc, "heapReleased", &L->gc_heap_released));
	TRY(need(rt, gc, "totalAlloc", &L->gc_total_alloc));
	TRY(need(rt, gc, "totalFree", &L->gc_total_free));
	TRY(need(rt, gc, "mappedReady", &L->gc_mapped_ready));
	TRY(need(rt, gc, "gcPercentHeapGoal", &L->gc_percent_heap_goal));
	TRY(need(rt, gc, "memoryLimit", &L->gc_memory_limit));
	TRY(need(rt, gc, "sweepDistMinTrigger", &L->gc_sweep_dist_min_trigger));
	TRY(need(rt, gc, "heapMarked", &L->gc_heap_marked));
	TRY(maybe(rt, gc, "triggered", &L->gc_triggered));
	TRY(need(rt, ms, "heapStats.stats", &L->ms_heapstats));
	TRY(need(rt, ms, "stacks_sys", &L->ms_stacks_sys));
	TRY(need(rt, ms, "mspan_sys", &L->ms_mspan_sys));
	TRY(need(rt, ms, "mcache_sys", &L->ms_mcache_sys));
	TRY(need(rt, ms, "buckhash_sys", &L->ms_buckhash_sys));
	TRY(need(rt, ms, "gcMiscSys", &L->ms_gcmisc_sys));
	TRY(need(rt, ms, "other_sys", &L->ms_other_sys));
	TRY(need(rt, ms, "numgc", &L->ms_numgc));
	TRY(need(rt, ms, "numforcedgc", &L->ms_numforcedgc));
	TRY(need(rt, ms, "last_gc_unix", &L->ms_last_gc_unix));
	TRY(need(rt, ms, "pause_total_ns", &L->ms_pause_total_ns));
	TRY(need(rt, hs, "committed", &L->hs_committed));
	TRY(need(rt, hs, "released", &L->hs_released));
	TRY(need(rt, hs, "inHeap", &L->hs_in_heap));
	TRY(need(rt, hs, "inStacks", &L->hs_in_stacks));
	TRY(need(rt, hs, "inWorkBufs", &L->hs_in_workbufs));
	/* inPtrScalarBits went away with the 1-bit heap bitmap (mstats.go@1.25). */
	TRY(maybe(rt, hs, "inPtrScalarBits", &L->hs_in_ptrscalarbits));
	TRY(need(rt, hs, "tinyAllocCount", &L->hs_tiny_alloc_count));
	TRY(need(rt, hs, "largeAlloc", &L->hs_large_alloc));
	TRY(need(rt, hs, "largeAllocCount", &L->hs_large_alloc_count));
	TRY(need(rt, hs, "smallAllocCount", &L->hs_small_alloc_count));
	TRY(need(rt, hs, "largeFree", &L->hs_large_free));
	TRY(need(rt, hs, "largeFreeCount", &L->hs_large_free_count));
	TRY(need(rt, hs, "smallFreeCount", &L->hs_small_free_count));
	TRY(gm_dwarf_sizeof(rt->dw, hs, &L->hs_size));
	TRY(need(rt, "runtime.p", "mcache", &L->p_mcache));
	TRY(need(rt, "runtime.p", "pcache.base", &L->p_pcache_base));
	TRY(need(rt, "runtime.p", "pcache.cache", &L->p_pcache_cache));
	TRY(need(rt, "runtime.p", "pcache.scav", &L->p_pcache_scav));
	TRY(need(rt, "runtime.mcache", "alloc", &L->mcache_alloc));
	TRY(need(rt, "runtime.mcache", "tinyAllocs", &L->mcache_tiny_allocs));
	if (L->hs_small_alloc_count.count == 0 ||
	    L->hs_small_alloc_count.count > GM_MAX_SIZE_CLASSES ||
	    L->hs_small_free_count.count != L->hs_small_alloc_count.count ||
	    L->ms_heapstats.count == 0 || L->ms_heapstats.count > 8 ||
	    L->hs_size > GM_HEAPSTATS_MAX || L->mcache_alloc.count == 0 ||
	    L->mcache_alloc.count > 2 * GM_MAX_SIZE_CLASSES)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported memstats layout in %s",
				rt->go_version);
	L->nclasses = L->hs_small_alloc_count.count;
	return NULL;
}

static struct gomem_error *resolve_globals(struct gm_runtime *rt)
{
	TRY(variable(rt, "runtime.mheap_", &rt->mheap));
	TRY(variable(rt, "runtime.memstats", &rt->memstats));
	TRY(variable(rt, "runtime.gcController", &rt->gc_controller));
	TRY(variable(rt, "runtime.allp", &rt->allp));
	TRY(variable(rt, "runtime.emptymspan", &rt->emptymspan));
	return NULL;
}

/*
 * The size-class table: ours, checked against the binary's own
 * (class_to_size in runtime until 1.24, gc.SizeClassToSize from 1.25).
 */
static struct gomem_error *check_size_classes(struct gm_runtime *rt)
{
	static const char *const names[] = {"internal/runtime/gc.SizeClassToSize",
					    "runtime.class_to_size"};
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		uint64_t addr;
		uint16_t table[GM_MAX_SIZE_CLASSES];
		if (!gm_dwarf_has_variable(rt->dw, names[i]))
			continue;
		TRY(variable(rt, names[i], &addr));
		TRY(gm_read(rt->mem, addr, table, sizeof(table)));
		if (memcmp(table, gm_class_to_size, sizeof(table)) != 0)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"%s: size classes differ from Go 1.19-1.27's", names[i]);
		return NULL;
	}
	return gm_error(GOMEM_ERROR_UNSUPPORTED, "no size-class table in the binary's DWARF");
}

/* Whether the comma-separated list names the experiment. */
static bool has_experiment(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

struct gomem_error *gm_runtime_create(struct gm_dwarf *dw, struct gm_target *t,
				      struct gm_runtime **ret)
{
	const struct gm_exe *exe = &t->exe;
	struct gm_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return &gm_error_no_memory;
	rt->dw = dw;
	rt->target = t;
	rt->mem = &t->mem;
	rt->bias = t->bias;
	snprintf(rt->go_version, sizeof(rt->go_version), "%s", exe->go_version);
	struct gomem_error *err = resolve_constants(rt);
	if (!err)
		err = resolve_mheap(rt);
	if (!err)
		err = resolve_mspan(rt);
	if (!err)
		err = resolve_stats(rt);
	if (!err)
		err = resolve_globals(rt);
	if (!err)
		err = check_size_classes(rt);
	if (err) {
		gm_runtime_destroy(rt);
		return err;
	}
	/*
	 * Before 1.25 user arenas are in no list (sysAlloc's register=false,
	 * arena.go@1.20); with the experiment on they are found in the arena index.
	 */
	rt->L.scan_user_arenas = rt->L.mspan_user_chunk.present &&
				 !rt->L.mheap_user_arenas.present &&
				 has_experiment(exe->experiments, "arenas");
	*ret = rt;
	return NULL;
}

void gm_runtime_destroy(struct gm_runtime *rt)
{
	if (rt)
		free(rt->scanned_user_arenas);
	free(rt);
}

uint64_t gm_runtime_page_size(const struct gm_runtime *rt)
{
	return rt->L.page_size;
}

/* Reads a scalar field of the struct at base. */
struct gomem_error *gm_rt_read_field(struct gm_runtime *rt, uint64_t base, const struct gm_field *f,
				     uint64_t *ret)
{
	if (!f->present) {
		*ret = 0;
		return NULL;
	}
	return gm_read_uint(rt->mem, base + f->offset, (unsigned)f->size, ret);
}

/* A field from a struct already copied into buf. */
uint64_t gm_rt_field(const uint8_t *buf, const struct gm_field *f)
{
	uint64_t v = 0;
	if (!f->present)
		return 0;
	for (uint64_t i = 0; i < f->size && i < 8; i++)
		v |= (uint64_t)buf[f->offset + i] << (8 * i);
	return v;
}

/* Sums the three heapStatsDelta slots, as consistentHeapStats.unsafeRead does. */
static struct gomem_error *read_heap_stats(struct gm_runtime *rt, struct gm_heapstats *hs)
{
	struct gm_layout *L = &rt->L;
	uint8_t buf[GM_HEAPSTATS_MAX];
	memset(hs, 0, sizeof(*hs));
	for (uint64_t i = 0; i < L->ms_heapstats.count; i++) {
		uint64_t base =
		    rt->memstats + L->ms_heapstats.offset + i * L->ms_heapstats.elem_size;
		TRY(gm_read(rt->mem, base, buf, L->hs_size));
		hs->committed += gm_rt_field(buf, &L->hs_committed);
		hs->released += gm_rt_field(buf, &L->hs_released);
		hs->in_heap += gm_rt_field(buf, &L->hs_in_heap);
		hs->in_stacks += gm_rt_field(buf, &L->hs_in_stacks);
		hs->in_workbufs += gm_rt_field(buf, &L->hs_in_workbufs);
		hs->in_ptrscalarbits += gm_rt_field(buf, &L->hs_in_ptrscalarbits);
		hs->tiny_alloc_count += gm_rt_field(buf, &L->hs_tiny_alloc_count);
		hs->large_alloc += gm_rt_field(buf, &L->hs_large_alloc);
		hs->large_alloc_count += gm_rt_field(buf, &L->hs_large_alloc_count);
		hs->large_free += gm_rt_field(buf, &L->hs_large_free);
		hs->large_free_count += gm_rt_field(buf, &L->hs_large_free_count);
		for (uint64_t c = 0; c < L->nclasses; c++) {
			uint64_t a, f;
			memcpy(&a, buf + L->hs_small_alloc_count.offset + 8 * c, 8);
			memcpy(&f, buf + L->hs_small_free_count.offset + 8 * c, 8);
			hs->small_alloc_count[c] += a;
			hs->small_free_count[c] += f;
		}
	}
	return NULL;
}

/* allp as an array of P addresses, to free(). */
struct gomem_error *gm_rt_allp(struct gm_runtime *rt, uint64_t **ps_ret, size_t *n_ret)
{
	uint64_t array, len;
	TRY(gm_read_u64(rt->mem, rt->allp, &array));
	TRY(gm_read_u64(rt->mem, rt->allp + 8, &len));
	if (len > GM_MAX_PROCS)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "runtime.allp has %llu Ps (more than %d)",
				(unsigned long long)len, GM_MAX_PROCS);
	uint64_t *ps = calloc(len ? len : 1, sizeof(*ps));
	if (!ps)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_read(rt->mem, array, ps, len * sizeof(*ps));
	if (err) {
		free(ps);
		return err;
	}
	*ps_ret = ps;
	*n_ret = (size_t)len;
	return NULL;
}

/*
 * What ReadMemStats would add when it flushes the mcaches
 * (mcache.releaseAll): slots allocated from cached spans since they were
 * cached, and the tiny allocations counted in the mcache.
 */
static struct gomem_error *mcache_flush(struct gm_runtime *rt, struct gm_heapstats *hs,
					struct gm_memstats *ms)
{
	struct gm_layout *L = &rt->L;
	_cleanup_free_ uint64_t *ps = NULL;
	size_t np;
	TRY(gm_rt_allp(rt, &ps, &np));
	for (size_t i = 0; i < np; i++) {
		uint64_t mc, tiny;
		if (!ps[i])
			continue;
		TRY(gm_rt_read_field(rt, ps[i], &L->p_mcache, &mc));
		if (!mc)
			continue;
		TRY(gm_rt_read_field(rt, mc, &L->mcache_tiny_allocs, &tiny));
		hs->tiny_alloc_count += tiny;
		ms->flush_tiny += tiny;
		for (uint64_t sc = 0; sc < L->mcache_alloc.count; sc++) {
			uint64_t s;
			uint8_t buf[GM_MSPAN_MAX];
			TRY(gm_read_u64(rt->mem, mc + L->mcache_alloc.offset + 8 * sc, &s));
			if (!s || s == rt->emptymspan)
				continue;
			TRY(gm_read(rt->mem, s, buf, L->mspan_size));
			uint64_t count = gm_rt_field(buf, &L->mspan_alloccount);
			uint64_t before = gm_rt_field(buf, &L->mspan_alloccount_before_cache);
			uint64_t elemsize = gm_rt_field(buf, &L->mspan_elemsize);
			uint64_t cls = sc >> 1;
			if (count < before || cls >= L->nclasses)
				return gm_error(GOMEM_ERROR_INCONSISTENT,
						"mcache span 0x%llx: allocCount %llu < %llu",
						(unsigned long long)s, (unsigned long long)count,
						(unsigned long long)before);
			hs->small_alloc_count[cls] += count - before;
			ms->flush_objects += count - before;
			ms->flush_bytes += (count - before) * elemsize;
		}
	}
	return NULL;
}

/* For a best-effort value: whether the field could be read, its error released. */
static bool field_ok(struct gm_runtime *rt, uint64_t base, const struct gm_field *f, uint64_t *ret)
{
	struct gomem_error *err = gm_rt_read_field(rt, base, f, ret);
	gomem_error_destroy(err);
	return !err;
}

static uint64_t heap_goal(struct gm_runtime *rt, const struct gm_memstats *ms, uint64_t heap_free,
			  uint64_t mapped_ready)
{
	/* gcControllerState.heapGoalInternal and memoryLimitHeapGoal (mgcpacer.go). */
	struct gm_layout *L = &rt->L;
	uint64_t g = rt->gc_controller, goal = 0, limit = 0, sweep = 0, trig = ~0ULL, marked = 0;
	if (!field_ok(rt, g, &L->gc_percent_heap_goal, &goal) ||
	    !field_ok(rt, g, &L->gc_memory_limit, &limit) ||
	    !field_ok(rt, g, &L->gc_sweep_dist_min_trigger, &sweep) ||
	    !field_ok(rt, g, &L->gc_heap_marked, &marked))
		return 0;
	if (L->gc_triggered.present && !field_ok(rt, g, &L->gc_triggered, &trig))
		return 0;
	uint64_t heap_alloc = ms->HeapAlloc;
	uint64_t limit_goal;
	uint64_t non_heap = mapped_ready - heap_free - heap_alloc;
	uint64_t overage = mapped_ready > limit ? mapped_ready - limit : 0;
	if (non_heap + overage >= limit) {
		limit_goal = marked;
	} else {
		limit_goal = limit - (non_heap + overage);
		uint64_t headroom = L->limit_min_headroom;
		if (L->limit_headroom_percent) {
			uint64_t h = limit_goal / 100 * L->limit_headroom_percent;
			if (h > headroom)
				headroom = h;
		}
		if (limit_goal < headroom || limit_goal - headroom < headroom)
			limit_goal = headroom;
		else
			limit_goal -= headroom;
		if (limit_goal < marked)
			limit_goal = marked;
	}
	if (limit_goal < goal)
		return limit_goal;
	if (sweep > goal)
		goal = sweep;
	if (trig != ~0ULL && goal < trig + (64 << 10))
		goal = trig + (64 << 10);
	return goal;
}

struct gomem_error *gm_runtime_memstats(struct gm_runtime *rt, struct gm_memstats *ms)
{
	struct gm_layout *L = &rt->L;
	struct gm_heapstats hs;
	memset(ms, 0, sizeof(*ms));
	TRY(read_heap_stats(rt, &hs));
	TRY(mcache_flush(rt, &hs, ms));

	uint64_t total_alloc = hs.large_alloc, total_free = hs.large_free;
	uint64_t nmalloc = hs.large_alloc_count, nfree = hs.large_free_count;
	for (uint64_t c = 0; c < L->nclasses; c++) {
		total_alloc += hs.small_alloc_count[c] * gm_class_to_size[c];
		nmalloc += hs.small_alloc_count[c];
		total_free += hs.small_free_count[c] * gm_class_to_size[c];
		nfree += hs.small_free_count[c];
	}
	nmalloc += hs.tiny_alloc_count;
	nfree += hs.tiny_alloc_count;

	uint64_t g = rt->gc_controller, m = rt->memstats;
	uint64_t heap_inuse, heap_free, heap_released, mapped_ready;
	uint64_t stacks_sys, mspan_sys, mcache_sys, buckhash_sys, gcmisc_sys, other_sys;
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_inuse, &heap_inuse));
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_free, &heap_free));
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_released, &heap_released));
	TRY(gm_rt_read_field(rt, g, &L->gc_mapped_ready, &mapped_ready));
	TRY(gm_rt_read_field(rt, m, &L->ms_stacks_sys, &stacks_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_mspan_sys, &mspan_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_mcache_sys, &mcache_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_buckhash_sys, &buckhash_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_gcmisc_sys, &gcmisc_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_other_sys, &other_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_numgc, &ms->NumGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_numforcedgc, &ms->NumForcedGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_last_gc_unix, &ms->LastGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_pause_total_ns, &ms->PauseTotalNs));
	TRY(gm_rt_read_field(rt, rt->mheap, &L->mheap_spanalloc_inuse, &ms->MSpanInuse));
	TRY(gm_rt_read_field(rt, rt->mheap, &L->mheap_cachealloc_inuse, &ms->MCacheInuse));

	ms->TotalAlloc = total_alloc;
	ms->HeapAlloc = total_alloc - total_free;
	ms->Mallocs = nmalloc;
	ms->Frees = nfree;
	ms->HeapObjects = nmalloc - nfree;
	ms->HeapSys = heap_inuse + heap_free + heap_released;
	ms->HeapIdle = heap_free + heap_released;
	ms->HeapInuse = heap_inuse;
	ms->HeapReleased = heap_released;
	ms->StackInuse = hs.in_stacks;
	ms->StackSys = hs.in_stacks + stacks_sys;
	ms->MSpanSys = mspan_sys;
	ms->MCacheSys = mcache_sys;
	ms->BuckHashSys = buckhash_sys;
	ms->GCSys = gcmisc_sys + hs.in_workbufs + hs.in_ptrscalarbits;
	ms->OtherSys = other_sys;
	ms->Sys = ms->HeapSys + ms->StackSys + mspan_sys + mcache_sys + buckhash_sys + ms->GCSys +
		  other_sys;
	ms->mapped_ready = mapped_ready;
	ms->committed = hs.committed;
	ms->released_consistent = hs.released;
	ms->in_heap_consistent = hs.in_heap;
	ms->work_bufs = hs.in_workbufs;
	ms->ptr_scalar_bits = hs.in_ptrscalarbits;
	ms->NextGC = heap_goal(rt, ms, heap_free, mapped_ready);
	return NULL;
}
