/*
 * The Go runtime's layout in this binary: every offset, size, constant and
 * global address gomem uses, resolved from DWARF by name (never hard-coded
 * per version), once per target. The layout every question needs is
 * resolved when the runtime is created; the others (Gs and Ms, stacks, the
 * runtime's regions, malloc headers) on first use, and kept.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"
#include "target/pclntab.h"

#define MAX_STRUCT 65536 /* a runtime.g larger than this is a corrupt DWARF */

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
	/*
	 * arenaBaseOffset overflows int64 on amd64, so the compiler drops it; the
	 * uintptr copy stays. Without either, the GOARCH's value (malloc.go).
	 */
	TRY(constant(rt, "runtime.arenaBaseOffsetUintptr", (int64_t)rt->arch->arena_base_offset,
		     &v));
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
 * Without DWARF, the table is found by its bytes (Go's 68 classes, in the
 * executable's data, 2-byte aligned): it must be there exactly once.
 */
static struct gomem_error *size_classes_by_content(struct gm_runtime *rt, const char *name)
{
	const struct gm_exe *exe = &rt->target->exe;
	uint8_t want[2 * GM_MAX_SIZE_CLASSES];
	for (size_t i = 0; i < GM_MAX_SIZE_CLASSES; i++) {
		want[2 * i] = (uint8_t)gm_class_to_size[i];
		want[2 * i + 1] = (uint8_t)(gm_class_to_size[i] >> 8);
	}
	size_t n = 0;
	uint64_t at = 0;
	for (size_t i = 0; i < exe->nloads; i++) {
		uint64_t off = exe->loads[i].offset, len = exe->loads[i].filesz;
		if ((exe->loads[i].flags & PF_X) || off > exe->size || len > exe->size - off)
			continue;
		const uint8_t *p = exe->map + off, *end = p + len;
		for (const uint8_t *q = p; (size_t)(end - q) >= sizeof(want);) {
			const uint8_t *hit = memmem(q, (size_t)(end - q), want, sizeof(want));
			if (!hit)
				break;
			if ((exe->loads[i].vaddr + (uint64_t)(hit - p)) % 2 == 0) {
				n++;
				at = exe->loads[i].vaddr + (uint64_t)(hit - p);
			}
			q = hit + 1;
		}
	}
	if (n != 1)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"the executable has no DWARF, and Go's size-class table is %s "
				"its data: its size classes cannot be checked",
				n ? "more than once in" : "not in");
	rt->size_class_table = at + rt->bias;
	rt->size_class_table_name = name;
	return NULL;
}

/*
 * The size-class table: ours is checked against the binary's own
 * (class_to_size in runtime until 1.24, gc.SizeClassToSize from 1.25).
 */
static struct gomem_error *resolve_size_classes(struct gm_runtime *rt)
{
	static const char *const names[] = {"internal/runtime/gc.SizeClassToSize",
					    "runtime.class_to_size"};
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		if (!gm_dwarf_variable_exists(rt->dw, names[i]))
			continue;
		rt->size_class_table_name = names[i];
		if (gm_dwarf_has_variable(rt->dw, names[i]))
			return variable(rt, names[i], &rt->size_class_table);
		/* Without DWARF: by its bytes (a runtime made by hand has no file to look in). */
		return rt->target ? size_classes_by_content(rt, names[i]) : NULL;
	}
	return gm_error(GOMEM_ERROR_UNSUPPORTED, "no size-class table in the binary's DWARF");
}

struct gomem_error *gm_layout_resolve(struct gm_runtime *rt)
{
	TRY(resolve_constants(rt));
	TRY(resolve_mheap(rt));
	TRY(resolve_mspan(rt));
	TRY(resolve_stats(rt));
	TRY(resolve_globals(rt));
	return resolve_size_classes(rt);
}

/* ---- the layouts resolved on first use ---- */

/* A constant that some Go versions have, else dflt; one that cannot be read counts as absent. */
static int64_t constant_or(struct gm_runtime *rt, const char *name, int64_t dflt)
{
	int64_t v;
	if (!gm_dwarf_has_constant(rt->dw, name))
		return dflt;
	struct gomem_error *err = gm_dwarf_constant(rt->dw, name, &v);
	if (err) {
		gomem_error_destroy(err);
		return dflt;
	}
	return v;
}

/* A field of at most 8 bytes that every supported Go version has. */
static struct gomem_error *need_scalar(struct gm_runtime *rt, const char *type, const char *path,
				       struct gm_field *f)
{
	TRY(gm_dwarf_field(rt->dw, type, path, f));
	if (!f->present || f->size > 8)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported Go runtime layout (%s): %s has no field %s",
				rt->go_version, type, path);
	return NULL;
}

/* A global variable that some Go versions have; *ret 0 when absent. */
static struct gomem_error *optional_variable(struct gm_runtime *rt, const char *name, uint64_t *ret)
{
	uint64_t addr = 0;
	if (gm_dwarf_has_variable(rt->dw, name))
		TRY(variable(rt, name, &addr));
	*ret = addr;
	return NULL;
}

/* A field of a type that some Go versions have: absent (no error) without the type. */
static struct gomem_error *optional_field(struct gm_runtime *rt, const char *type, const char *path,
					  struct gm_field *f)
{
	if (!gm_dwarf_has_type(rt->dw, type)) {
		memset(f, 0, sizeof(*f));
		return NULL;
	}
	return gm_dwarf_field(rt->dw, type, path, f);
}

/*
 * A field that only describes (what a goroutine waits for, where it
 * stopped): absent, not an error, where a layout table older than the
 * question has no answer for it.
 */
static struct gomem_error *described_field(struct gm_runtime *rt, const char *type,
					   const char *path, struct gm_field *f)
{
	struct gomem_error *err = gm_dwarf_field(rt->dw, type, path, f);
	if (err && gm_dwarf_source(rt->dw) == GM_DWARF_TABLE &&
	    gomem_error_code(err) == GOMEM_ERROR_UNSUPPORTED) {
		gomem_error_destroy(err);
		memset(f, 0, sizeof(*f));
		return NULL;
	}
	if (!err && f->present && f->size > 8)
		memset(f, 0, sizeof(*f));
	return err;
}

static struct gomem_error *resolve_g(struct gm_runtime *rt, struct gm_sched_layout *L)
{
	const char *g = "runtime.g";
	TRY(gm_dwarf_sizeof(rt->dw, g, &L->g_size));
	if (L->g_size == 0 || L->g_size > MAX_STRUCT)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "runtime.g of %" PRIu64 " bytes",
				L->g_size);
	TRY(need_scalar(rt, g, "stack.lo", &L->g_lo));
	TRY(need_scalar(rt, g, "stack.hi", &L->g_hi));
	TRY(need_scalar(rt, g, "sched.sp", &L->g_sched_sp));
	TRY(need_scalar(rt, g, "syscallsp", &L->g_syscallsp));
	/* atomicstatus: uint32 in 1.19, atomic.Uint32 from 1.20 (runtime2.go@1.20). */
	TRY(need_scalar(rt, g, "atomicstatus", &L->g_status));
	/* goid: int64 up to 1.20, uint64 from 1.21 (runtime2.go@1.21); the bits are the same. */
	TRY(need_scalar(rt, g, "goid", &L->g_goid));
	TRY(need_scalar(rt, g, "startpc", &L->g_startpc));
	TRY(need_scalar(rt, g, "m", &L->g_m));
	/* runningCleanups came with the cleanup goroutine (mcleanup.go@1.24). */
	TRY(gm_dwarf_field(rt->dw, g, "runningCleanups", &L->g_running_cleanups));
	TRY(described_field(rt, g, "waitreason", &L->g_waitreason));
	TRY(described_field(rt, g, "sched.pc", &L->g_sched_pc));
	TRY(described_field(rt, g, "syscallpc", &L->g_syscallpc));
	const struct gm_field *gf[] = {&L->g_lo,	 &L->g_hi,	 &L->g_sched_sp,
				       &L->g_syscallsp,	 &L->g_status,	 &L->g_goid,
				       &L->g_startpc,	 &L->g_m,	 &L->g_running_cleanups,
				       &L->g_waitreason, &L->g_sched_pc, &L->g_syscallpc};
	for (size_t i = 0; i < GM_ARRAY_SIZE(gf); i++) {
		if (gf[i]->present && gf[i]->offset + gf[i]->size > L->g_size)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported runtime.g layout");
	}
	return NULL;
}

static struct gomem_error *resolve_sched(struct gm_runtime *rt, struct gm_sched_layout *L)
{
	const char *m = "runtime.m";
	memset(L, 0, sizeof(*L));
	TRY(resolve_g(rt, L));
	TRY(need_scalar(rt, m, "g0", &L->m_g0));
	TRY(need_scalar(rt, m, "gsignal", &L->m_gsignal));
	TRY(need_scalar(rt, m, "curg", &L->m_curg));
	TRY(need_scalar(rt, m, "id", &L->m_id));
	TRY(need_scalar(rt, m, "procid", &L->m_procid));
	TRY(need_scalar(rt, m, "alllink", &L->m_alllink));
	/* The M's vDSO getrandom state (vgetrandom_linux.go@1.24). */
	TRY(gm_dwarf_field(rt->dw, m, "vgetrandomState", &L->m_vgetrandom_state));
	/* Set by mallocgc while it allocates (malloc.go, every supported version). */
	TRY(described_field(rt, m, "mallocing", &L->m_mallocing));
	TRY(variable(rt, "runtime.allgs", &L->allgs));
	TRY(variable(rt, "runtime.allglen", &L->allglen));
	TRY(variable(rt, "runtime.allm", &L->allm));
	TRY(variable(rt, "runtime.m0", &L->m0));
	/* [...]string indexed by waitReason (runtime2.go, every supported version). */
	TRY(optional_variable(rt, "runtime.waitReasonStrings", &L->wait_reason_strings));
	/* sched.ngsys: uint32 until 1.20, atomic.Int32 from 1.21; unwrapped alike. */
	TRY(gm_dwarf_field(rt->dw, "runtime.schedt", "ngsys", &L->sched_ngsys));
	if (L->sched_ngsys.present && gm_dwarf_has_variable(rt->dw, "runtime.sched")) {
		TRY(variable(rt, "runtime.sched", &L->sched));
		L->have_sched = true;
	}
	/* fingStatus (1.21+, atomic.Uint32) replaced fingRunning bool (mfinal.go@1.21). */
	if (gm_dwarf_has_variable(rt->dw, "runtime.fingStatus")) {
		TRY(variable(rt, "runtime.fingStatus", &L->fing_status));
		L->have_fing_status = true;
		L->fing_size = 4;
		L->fing_running = (uint64_t)constant_or(rt, "runtime.fingRunningFinalizer", 2);
	} else if (gm_dwarf_has_variable(rt->dw, "runtime.fingRunning")) {
		TRY(variable(rt, "runtime.fingRunning", &L->fing_status));
		L->have_fing_status = true;
		L->fing_size = 1;
		L->fing_running = 1;
	}
	return NULL;
}

static struct gomem_error *resolve_stack(struct gm_runtime *rt, struct gm_stack_layout *L)
{
	memset(L, 0, sizeof(*L));
	TRY(gm_dwarf_field(rt->dw, "runtime.mcache", "stackcache", &L->mcache_stackcache));
	TRY(need_scalar(rt, "runtime.stackfreelist", "size", &L->sfl_size));
	if (!L->mcache_stackcache.present || !L->mcache_stackcache.count ||
	    L->mcache_stackcache.count > 16)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported mcache.stackcache layout");
	TRY(need_scalar(rt, "runtime.mSpanList", "first", &L->spanlist_first));
	TRY(need_scalar(rt, "runtime.mspan", "next", &L->mspan_next));
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.mutex", &L->mutex_size));
	if (gm_dwarf_has_variable(rt->dw, "runtime.stackLarge")) {
		TRY(variable(rt, "runtime.stackLarge", &L->stack_large));
		L->have_stack_large = true;
	}
	/* gcrash: a G outside allgs, with a 16 KiB stack for crashes on g0 (proc.go@1.22). */
	if (gm_dwarf_has_variable(rt->dw, "runtime.gcrash")) {
		TRY(variable(rt, "runtime.gcrash", &L->gcrash));
		L->have_gcrash = true;
	}
	L->heap_addr_bits = (uint64_t)constant_or(rt, "runtime.heapAddrBits", 48);
	return NULL;
}

static struct gomem_error *resolve_regions(struct gm_runtime *rt, struct gm_regions_layout *L)
{
	memset(L, 0, sizeof(*L));
	TRY(optional_field(rt, "runtime.mheap", "curArena.base", &L->cur_arena_base));
	TRY(optional_field(rt, "runtime.mheap", "curArena.end", &L->cur_arena_end));
	/* heapRandSeed exists where the heap base is randomized (malloc.go@1.26). */
	L->randomized_base = gm_dwarf_variable_exists(rt->dw, "runtime.heapRandSeed");
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.heapArena", &L->heap_arena_size));
	TRY(optional_field(rt, "runtime.pageAlloc", "summary", &L->summary));
	TRY(optional_field(rt, "runtime.pageAlloc", "scav.index.chunks", &L->scav_chunks));
	TRY(optional_variable(rt, "runtime.persistentChunks", &L->persistent_chunks));
	L->persistent_chunk_size =
	    (uint64_t)constant_or(rt, "runtime.persistentChunkSize", 256 << 10);
	/* struct { lock mutex; free, next, current, previous *gcBitsArena } (mheap.go) */
	TRY(optional_variable(rt, "runtime.gcBitsArenas", &L->gc_bits_arenas));
	TRY(optional_field(rt, "runtime.gcBitsArena", "next", &L->gc_bits_next));
	if (L->gc_bits_arenas && L->gc_bits_next.present &&
	    gm_dwarf_has_type(rt->dw, "runtime.mutex")) {
		TRY(gm_dwarf_sizeof(rt->dw, "runtime.mutex", &L->gc_bits_mutex_size));
		L->gc_bits_chunk_bytes =
		    (uint64_t)constant_or(rt, "runtime.gcBitsChunkBytes", 64 << 10);
		L->have_gc_bits = true;
	}
	/* The profiling hash table: atomic.UnsafePointer since 1.21, *buckhashArray before. */
	TRY(optional_variable(rt, "runtime.buckhash", &L->buckhash));
	if (L->buckhash && gm_dwarf_has_type(rt->dw, "runtime.buckhashArray"))
		TRY(gm_dwarf_sizeof(rt->dw, "runtime.buckhashArray", &L->buckhash_size));
	else if (L->buckhash)
		L->buckhash_size = 8 * (uint64_t)constant_or(rt, "runtime.buckHashSize", 179999);
	/* Green Tea's span queues (mgcmark_greenteagc.go, 1.25+). */
	TRY(optional_variable(rt, "runtime.work", &L->work));
	TRY(optional_field(rt, "runtime.workType", "spanSPMCs.list.obj", &L->spmc_head));
	TRY(optional_field(rt, "runtime.spanSPMC", "allnode.next", &L->spmc_next));
	TRY(optional_field(rt, "runtime.spanSPMC", "ring", &L->spmc_ring));
	TRY(optional_field(rt, "runtime.spanSPMC", "cap", &L->spmc_cap));
	L->have_span_queues = L->work && L->spmc_head.present && L->spmc_next.present &&
			      L->spmc_ring.present && L->spmc_cap.present;
	/*
	 * vgetrandomAlloc (vgetrandom_linux.go@1.24): struct { states []uintptr;
	 * statesLock mutex; stateSize uintptr; ... }, a variable of an unnamed type.
	 */
	TRY(optional_variable(rt, "runtime.vgetrandomAlloc", &L->vgetrandom_alloc));
	if (L->vgetrandom_alloc && gm_dwarf_has_type(rt->dw, "runtime.mutex")) {
		uint64_t mutex_size;
		TRY(gm_dwarf_sizeof(rt->dw, "runtime.mutex", &mutex_size));
		L->vgetrandom_state_size_offset = 24 + ((mutex_size + 7) & ~7ULL);
	} else {
		L->vgetrandom_alloc = 0;
	}
	TRY(optional_variable(rt, "runtime.physPageSize", &L->phys_page_size));
	return NULL;
}

/*
 * Scan objects of more than minSizeForMallocHeader bytes start with an
 * 8-byte type header (malloc.go@1.22, allocheaders); earlier versions have
 * neither the header nor the constant.
 */
static void resolve_objects(struct gm_runtime *rt, struct gm_object_layout *L)
{
	memset(L, 0, sizeof(*L));
	int64_t min_size = constant_or(rt, "runtime.minSizeForMallocHeader", -1);
	if (min_size < 0)
		return;
	int64_t header = constant_or(rt, "runtime.mallocHeaderSize", 8);
	L->have_header = true;
	L->min_size_for_header = (uint64_t)min_size;
	L->header_bytes = header < 0 ? 8 : (uint64_t)header;
}

/* A field of the first of two type names that exists (1.19's runtime._type, then abi.Type). */
static struct gomem_error *field_of(struct gm_runtime *rt, const char *type, const char *path,
				    const char *path119, struct gm_field *f)
{
	TRY(optional_field(rt, type, path, f));
	if (!f->present && path119)
		TRY(optional_field(rt, type, path119, f));
	return NULL;
}

/* Every field of fs present, and inside a struct of at most max bytes (0: unchecked). */
static struct gomem_error *check_fields(struct gm_runtime *rt, const char *what,
					const struct gm_field *const *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!fs[i]->present || fs[i]->size > 8 || fs[i]->offset > MAX_STRUCT)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"unsupported Go runtime layout (%s): %s (field %zu)",
					rt->go_version, what, i);
	}
	return NULL;
}

/*
 * The heap's pointer bitmaps, by presence (GO-OBJECTS.md §0): heapArena.bitmap
 * of bytes and no noMorePtrs is 1.19's 2-bit bitmap; with noMorePtrs
 * (directly, or in 1.22 noallocheaders' heapArenaPtrScalar) the 1-bit one
 * of CL 422634 (1.20); neither, span heap bits and headers (1.22+).
 */
static struct gomem_error *resolve_graph_bitmaps(struct gm_runtime *rt, struct gm_graph_layout *L)
{
	struct gm_field nomore;
	TRY(optional_field(rt, "runtime.heapArena", "bitmap", &L->arena_bitmap));
	TRY(optional_field(rt, "runtime.heapArena", "noMorePtrs", &nomore));
	if (!L->arena_bitmap.present) {
		struct gm_field ps;
		TRY(optional_field(rt, "runtime.heapArena", "heapArenaPtrScalar", &ps));
		if (ps.present && ps.size > 0) {
			TRY(optional_field(rt, "runtime.heapArena", "heapArenaPtrScalar.bitmap",
					   &L->arena_bitmap));
			TRY(optional_field(rt, "runtime.heapArena", "heapArenaPtrScalar.noMorePtrs",
					   &nomore));
		}
	}
	if (L->arena_bitmap.present) {
		uint64_t words = rt->L.arena_bytes / 8;
		L->arena_bitmap1 = nomore.present;
		L->arena_bitmap2 = !nomore.present;
		uint64_t want = L->arena_bitmap2 ? words / 4 : words / 8;
		if (L->arena_bitmap.size != want)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"unsupported heap bitmap in %s (%llu bytes an arena)",
					rt->go_version, (unsigned long long)L->arena_bitmap.size);
	}
	/* Green Tea's inline mark bits: an empty struct in nogreenteagc builds
	 * (mgcmark_nogreenteagc.go@1.25). */
	if (gm_dwarf_has_type(rt->dw, "runtime.spanInlineMarkBits")) {
		struct gm_field marks;
		TRY(gm_dwarf_sizeof(rt->dw, "runtime.spanInlineMarkBits", &L->inline_mark_bytes));
		TRY(optional_field(rt, "runtime.spanInlineMarkBits", "marks", &marks));
		if (L->inline_mark_bytes && (!marks.present || L->inline_mark_bytes > 1024))
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported spanInlineMarkBits");
		L->inline_marks_offset = marks.offset;
	}
	return NULL;
}

static struct gomem_error *resolve_graph_types(struct gm_runtime *rt, struct gm_graph_layout *L)
{
	/* type _type = abi.Type from 1.21 (runtime/type.go@1.21); lower-case fields in 1.19. */
	const char *t =
	    gm_dwarf_has_type(rt->dw, "internal/abi.Type") ? "internal/abi.Type" : "runtime._type";
	TRY(gm_dwarf_sizeof(rt->dw, t, &L->type_size));
	TRY(field_of(rt, t, "Size_", "size", &L->type_size_));
	TRY(field_of(rt, t, "PtrBytes", "ptrdata", &L->type_ptrbytes));
	TRY(field_of(rt, t, "TFlag", "tflag", &L->type_tflag));
	TRY(field_of(rt, t, "Kind_", "kind", &L->type_kind));
	TRY(field_of(rt, t, "GCData", "gcdata", &L->type_gcdata));
	const struct gm_field *tf[] = {&L->type_size_, &L->type_ptrbytes, &L->type_tflag,
				       &L->type_kind, &L->type_gcdata};
	TRY(check_fields(rt, "type descriptors", tf, GM_ARRAY_SIZE(tf)));
	bool abi = !strcmp(t, "internal/abi.Type");
	const char *st = abi ? "internal/abi.StructType" : "runtime.structtype";
	const char *sf = abi ? "internal/abi.StructField" : "runtime.structfield";
	const char *at = abi ? "internal/abi.ArrayType" : "runtime.arraytype";
	TRY(field_of(rt, st, "Fields", "fields", &L->structtype_fields));
	TRY(field_of(rt, sf, "Typ", "typ", &L->structfield_typ));
	TRY(field_of(rt, sf, "Offset", "offset", &L->structfield_offset));
	TRY(field_of(rt, at, "Elem", "elem", &L->arraytype_elem));
	TRY(field_of(rt, at, "Len", "len", &L->arraytype_len));
	L->structfield_size = L->structtype_fields.elem_size;
	/* TFlag bit 4 means GCMaskOnDemand from 1.24 (abi/type.go@1.24), UnrolledBitmap before. */
	int64_t v = constant_or(rt, "internal/abi.TFlagGCMaskOnDemand", -1);
	L->gcmask_on_demand = v > 0;
	L->tflag_on_demand = v > 0 ? (uint64_t)v : 0;
	if (L->gcmask_on_demand) {
		const struct gm_field *bf[] = {&L->structtype_fields, &L->structfield_typ,
					       &L->structfield_offset, &L->arraytype_elem,
					       &L->arraytype_len};
		TRY(check_fields(rt, "struct and array descriptors", bf + 1,
				 GM_ARRAY_SIZE(bf) - 1));
		if (!L->structtype_fields.present || L->structfield_size < 24)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported StructType layout");
	}
	/* GC programs: KindGCProg until 1.23 (abi/type.go@1.23; runtime.kindGCProg in 1.19). */
	v = constant_or(rt, "internal/abi.KindGCProg", -1);
	if (v < 0)
		v = constant_or(rt, "runtime.kindGCProg", -1);
	L->kind_gcprog = v > 0 ? (uint64_t)v : 0;
	v = constant_or(rt, "internal/abi.KindMask", -1);
	if (v < 0)
		v = constant_or(rt, "runtime.kindMask", 0x1f);
	L->kind_mask = (uint64_t)v;
	return NULL;
}

/*
 * runtime.firstmoduledata: from DWARF, or in a binary without it found by
 * its pointer to the pclntab (gm_pclntab_find_moduledata). Asked when the
 * graph is built, not while its layout is resolved: a layout table records
 * the same questions as DWARF.
 */
struct gomem_error *gm_runtime_first_module(struct gm_runtime *rt, uint64_t *ret)
{
	if (gm_dwarf_has_variable(rt->dw, "runtime.firstmoduledata") || !rt->target)
		return variable(rt, "runtime.firstmoduledata", ret);
	struct gm_pclntab *p = gm_target_pclntab(rt->target);
	uint64_t md;
	struct gomem_error *err = p ? gm_pclntab_find_moduledata(p, &md) : NULL;
	if (!p || err) {
		gomem_error_destroy(err);
		return variable(rt, "runtime.firstmoduledata", ret); /* its error names the fix */
	}
	*ret = md + rt->bias;
	return NULL;
}

/* A global whose layout is resolved when it exists; its address only where it can be had. */
static struct gomem_error *queue_variable(struct gm_runtime *rt, const char *name, bool *exists,
					  uint64_t *addr, bool *unknown)
{
	*exists = gm_dwarf_variable_exists(rt->dw, name);
	*addr = 0;
	*unknown = false;
	if (!*exists)
		return NULL;
	if (gm_dwarf_has_variable(rt->dw, name))
		return variable(rt, name, addr);
	*unknown = true; /* no DWARF, and its rule did not find it in code: said in a warning */
	return NULL;
}

static struct gomem_error *resolve_graph_roots(struct gm_runtime *rt, struct gm_graph_layout *L)
{
	const char *md = "runtime.moduledata";
	TRY(need_scalar(rt, md, "data", &L->md_data));
	TRY(need_scalar(rt, md, "edata", &L->md_edata));
	TRY(need_scalar(rt, md, "bss", &L->md_bss));
	TRY(need_scalar(rt, md, "ebss", &L->md_ebss));
	TRY(need_scalar(rt, md, "next", &L->md_next));
	TRY(need_scalar(rt, md, "gcdatamask.n", &L->md_gcdatamask_n));
	TRY(need_scalar(rt, md, "gcdatamask.bytedata", &L->md_gcdatamask_bytes));
	TRY(need_scalar(rt, md, "gcbssmask.n", &L->md_gcbssmask_n));
	TRY(need_scalar(rt, md, "gcbssmask.bytedata", &L->md_gcbssmask_bytes));
	TRY(need_scalar(rt, "runtime.special", "next", &L->special_next));
	/* special.offset: uint16 until 1.23, uintptr from 1.24 (mheap.go@1.24). */
	TRY(need_scalar(rt, "runtime.special", "offset", &L->special_offset));
	TRY(need_scalar(rt, "runtime.special", "kind", &L->special_kind));
	L->kind_finalizer = constant_or(rt, "runtime._KindSpecialFinalizer", -1);
	L->kind_cleanup = constant_or(rt, "runtime._KindSpecialCleanup", -1);
	L->kind_weak = constant_or(rt, "runtime._KindSpecialWeakHandle", -1);
	if (L->kind_finalizer < 0)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "no _KindSpecialFinalizer in %s",
				rt->go_version);
	TRY(need_scalar(rt, "runtime.specialfinalizer", "fn", &L->specialfinalizer_fn));
	if (L->kind_cleanup >= 0) {
		/* fn *funcval in 1.24-1.25; cleanup cleanupFn{call, fn, arg} from 1.26
		 * (mheap.go@1.26). */
		TRY(optional_field(rt, "runtime.specialCleanup", "cleanup", &L->specialcleanup_fn));
		if (!L->specialcleanup_fn.present)
			TRY(need_scalar(rt, "runtime.specialCleanup", "fn", &L->specialcleanup_fn));
	}
	if (L->kind_weak >= 0)
		TRY(need_scalar(rt, "runtime.specialWeakHandle", "handle", &L->specialweak_handle));
	bool exists;
	TRY(queue_variable(rt, "runtime.allfin", &exists, &L->allfin, &L->allfin_unknown));
	if (exists) {
		/* finblock became finBlock in 1.25 (mfinal.go@1.25). */
		const char *fb = gm_dwarf_has_type(rt->dw, "runtime.finBlock") ? "runtime.finBlock"
									       : "runtime.finblock";
		TRY(need_scalar(rt, fb, "alllink", &L->finblock_alllink));
		TRY(need_scalar(rt, fb, "cnt", &L->finblock_cnt));
		TRY(gm_dwarf_field(rt->dw, fb, "fin", &L->finblock_fin));
		TRY(gm_dwarf_sizeof(rt->dw, "runtime.finalizer", &L->finalizer_size));
		TRY(need_scalar(rt, "runtime.finalizer", "fn", &L->finalizer_fn));
		TRY(need_scalar(rt, "runtime.finalizer", "arg", &L->finalizer_arg));
		if (!L->finblock_fin.present || L->finalizer_size < 16 || L->finalizer_size > 256)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported finBlock layout");
	}
	/* The cleanup queue (mcleanup.go@1.25): blocks of *funcval (1.25) or cleanupFn (1.26+). */
	TRY(queue_variable(rt, "runtime.gcCleanups", &exists, &L->gc_cleanups,
			   &L->gc_cleanups_unknown));
	if (exists) {
		TRY(need_scalar(rt, "runtime.cleanupQueue", "all", &L->cleanupqueue_all));
		TRY(field_of(rt, "runtime.cleanupBlock", "cleanupBlockHeader.alllink", "alllink",
			     &L->cleanupblock_alllink));
		TRY(field_of(rt, "runtime.cleanupBlock", "cleanupBlockHeader.n", "n",
			     &L->cleanupblock_n));
		TRY(gm_dwarf_field(rt->dw, "runtime.cleanupBlock", "cleanups",
				   &L->cleanupblock_cleanups));
		const struct gm_field *cf[] = {&L->cleanupblock_alllink, &L->cleanupblock_n};
		TRY(check_fields(rt, "cleanup blocks", cf, GM_ARRAY_SIZE(cf)));
		if (!L->cleanupblock_cleanups.present || !L->cleanupblock_cleanups.elem_size ||
		    L->cleanupblock_cleanups.elem_size % 8 || L->cleanupblock_cleanups.size > 65536)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported cleanupBlock layout");
	}
	return NULL;
}

static struct gomem_error *resolve_graph(struct gm_runtime *rt, struct gm_graph_layout *L)
{
	memset(L, 0, sizeof(*L));
	TRY(need_scalar(rt, "runtime.mspan", "sweepgen", &L->mspan_sweepgen));
	TRY(need_scalar(rt, "runtime.mspan", "gcmarkBits", &L->mspan_gcmarkbits));
	TRY(need_scalar(rt, "runtime.mspan", "specials", &L->mspan_specials));
	/* largeType: the type of a large object, with allocation headers (mheap.go@1.22). */
	TRY(gm_dwarf_field(rt->dw, "runtime.mspan", "largeType", &L->mspan_largetype));
	TRY(need_scalar(rt, "runtime.mheap", "sweepgen", &L->mheap_sweepgen));
	const struct gm_field *sf[] = {&L->mspan_sweepgen, &L->mspan_gcmarkbits, &L->mspan_specials,
				       &L->mspan_largetype};
	for (size_t i = 0; i < GM_ARRAY_SIZE(sf); i++) {
		if (sf[i]->present && sf[i]->offset + sf[i]->size > rt->L.mspan_size)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported mspan layout");
	}
	TRY(resolve_graph_bitmaps(rt, L));
	TRY(resolve_graph_types(rt, L));
	return resolve_graph_roots(rt, L);
}

struct gomem_error *gm_runtime_graph_layout(struct gm_runtime *rt,
					    const struct gm_graph_layout **ret)
{
	if (!rt->have_graph) {
		struct gm_graph_layout *L = malloc(sizeof(*L));
		if (!L)
			return &gm_error_no_memory;
		struct gomem_error *err = resolve_graph(rt, L);
		if (!err)
			rt->graph = *L;
		free(L);
		if (err)
			return err;
		rt->have_graph = true;
	}
	*ret = &rt->graph;
	return NULL;
}

/* g.sched, g.syscallpc, _defer: the same members in 1.19-1.27 (runtime2.go). */
static struct gomem_error *resolve_frames(struct gm_runtime *rt, struct gm_frames_layout *L)
{
	const char *g = "runtime.g", *d = "runtime._defer";
	memset(L, 0, sizeof(*L));
	TRY(need_scalar(rt, g, "sched.pc", &L->g_sched_pc));
	TRY(need_scalar(rt, g, "sched.sp", &L->g_sched_sp));
	TRY(need_scalar(rt, g, "sched.lr", &L->g_sched_lr));
	TRY(need_scalar(rt, g, "sched.ctxt", &L->g_sched_ctxt));
	TRY(need_scalar(rt, g, "syscallpc", &L->g_syscallpc));
	TRY(need_scalar(rt, g, "syscallsp", &L->g_syscallsp));
	TRY(need_scalar(rt, g, "_defer", &L->g_defer));
	TRY(need_scalar(rt, g, "_panic", &L->g_panic));
	TRY(need_scalar(rt, d, "fn", &L->defer_fn));
	TRY(need_scalar(rt, d, "link", &L->defer_link));
	TRY(need_scalar(rt, d, "heap", &L->defer_heap));
	TRY(need_scalar(rt, "runtime.moduledata", "rodata", &L->md_rodata));
	TRY(need_scalar(rt, "runtime.moduledata", "gofunc", &L->md_gofunc));
	/* Without DWARF no code pattern finds it: the pclntab's search does (0 here). */
	return optional_variable(rt, "runtime.firstmoduledata", &L->firstmoduledata);
}

/* ---- the type descriptors (GO-OBJECTS.md §4) ---- */

/* The first of the names that the DWARF has as a type; NULL when none. */
static const char *first_type(struct gm_runtime *rt, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (gm_dwarf_has_type(rt->dw, names[i]))
			return names[i];
	}
	return NULL;
}

/*
 * A member of a descriptor: named as in internal/abi (1.21+) or as in
 * runtime's own copy (1.19, lowercase); required unless optional.
 */
static struct gomem_error *desc_field(struct gm_runtime *rt, const char *type, const char *name,
				      const char *old_name, bool optional, struct gm_field *f)
{
	TRY(gm_dwarf_field(rt->dw, type, name, f));
	if (!f->present && old_name)
		TRY(gm_dwarf_field(rt->dw, type, old_name, f));
	if ((!f->present && !optional) || (f->present && f->size > 8))
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported type descriptor layout (%s): %s.%s", rt->go_version,
				type, name);
	return NULL;
}

#define DESC_TYPE(rt, ...)                                                                         \
	first_type((rt), (const char *const[]){__VA_ARGS__},                                       \
		   GM_ARRAY_SIZE(((const char *const[]){__VA_ARGS__})))

static struct gomem_error *no_desc(struct gm_runtime *rt, const char *what)
{
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"unsupported type descriptors (%s): no %s in the DWARF", rt->go_version,
			what);
}

static struct gomem_error *resolve_type_header(struct gm_runtime *rt, struct gm_types_layout *L)
{
	/* internal/abi.Type since 1.21 (runtime._type is an alias of it), runtime._type before. */
	const char *t = DESC_TYPE(rt, "internal/abi.Type", "runtime._type");
	if (!t)
		return no_desc(rt, "internal/abi.Type");
	TRY(gm_dwarf_sizeof(rt->dw, t, &L->type_size));
	TRY(desc_field(rt, t, "Size_", "size", false, &L->size));
	TRY(desc_field(rt, t, "PtrBytes", "ptrdata", false, &L->ptrdata));
	TRY(desc_field(rt, t, "TFlag", "tflag", false, &L->tflag));
	TRY(desc_field(rt, t, "Kind_", "kind", false, &L->kind));
	TRY(desc_field(rt, t, "GCData", "gcdata", false, &L->gcdata));
	TRY(desc_field(rt, t, "Str", "str", false, &L->str));
	const struct gm_field *fs[] = {&L->size, &L->ptrdata, &L->tflag,
				       &L->kind, &L->gcdata,  &L->str};
	for (size_t i = 0; i < GM_ARRAY_SIZE(fs); i++) {
		if (fs[i]->offset + fs[i]->size > L->type_size)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"unsupported abi.Type layout in %s", rt->go_version);
	}
	if (L->type_size < 48 || L->type_size > 256 || L->str.size != 4 || L->kind.size != 1 ||
	    L->tflag.size != 1)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported abi.Type layout in %s",
				rt->go_version);
	return NULL;
}

static struct gomem_error *resolve_kind_types(struct gm_runtime *rt, struct gm_types_layout *L)
{
	const char *t;
	if (!(t = DESC_TYPE(rt, "internal/abi.PtrType", "runtime.ptrtype")))
		return no_desc(rt, "internal/abi.PtrType");
	TRY(desc_field(rt, t, "Elem", "elem", false, &L->ptr_elem));
	if (!(t = DESC_TYPE(rt, "internal/abi.SliceType", "runtime.slicetype")))
		return no_desc(rt, "internal/abi.SliceType");
	TRY(desc_field(rt, t, "Elem", "elem", false, &L->slice_elem));
	if (!(t = DESC_TYPE(rt, "internal/abi.ArrayType", "runtime.arraytype")))
		return no_desc(rt, "internal/abi.ArrayType");
	TRY(desc_field(rt, t, "Elem", "elem", false, &L->array_elem));
	TRY(desc_field(rt, t, "Len", "len", false, &L->array_len));
	if (!(t = DESC_TYPE(rt, "internal/abi.ChanType", "runtime.chantype")))
		return no_desc(rt, "internal/abi.ChanType");
	TRY(desc_field(rt, t, "Elem", "elem", false, &L->chan_elem));
	TRY(desc_field(rt, t, "Dir", "dir", false, &L->chan_dir));
	if (!(t = DESC_TYPE(rt, "internal/abi.StructType", "runtime.structtype")))
		return no_desc(rt, "internal/abi.StructType");
	TRY(gm_dwarf_field(rt->dw, t, "Fields", &L->struct_fields));
	if (!L->struct_fields.present)
		TRY(gm_dwarf_field(rt->dw, t, "fields", &L->struct_fields));
	if (!(t = DESC_TYPE(rt, "internal/abi.StructField", "runtime.structfield")))
		return no_desc(rt, "internal/abi.StructField");
	TRY(gm_dwarf_sizeof(rt->dw, t, &L->field_size));
	TRY(desc_field(rt, t, "Name", "name", false, &L->field_name));
	TRY(desc_field(rt, t, "Typ", "typ", false, &L->field_typ));
	TRY(desc_field(rt, t, "Offset", "offset", false, &L->field_offset));
	/* itab: runtime.itab{inter, _type} until 1.22, internal/abi.ITab{Inter, Type} after. */
	if (!(t = DESC_TYPE(rt, "internal/abi.ITab", "runtime.itab")))
		return no_desc(rt, "internal/abi.ITab");
	TRY(desc_field(rt, t, "Type", "_type", false, &L->itab_type));
	if (!L->struct_fields.present || L->struct_fields.size != 24 || L->field_size < 24 ||
	    L->field_size > 64 || L->field_name.offset + 8 > L->field_size ||
	    L->field_typ.offset + 8 > L->field_size || L->field_offset.offset + 8 > L->field_size)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported abi.StructType in %s",
				rt->go_version);
	return NULL;
}

/*
 * Map descriptors. Old maps (runtime.hmap exists: 1.19-1.23, noswissmap
 * in 1.24-1.25) have OldMapType (MapType up to 1.23, maptype in 1.19) with
 * slot sizes; swiss maps have SwissMapType (1.24-1.25) or MapType (1.26+),
 * groups of 8 slots after an 8-byte control word, and from 1.27 keys and
 * elems at offsets and strides of their own (abi/map.go@1.27).
 */
static struct gomem_error *resolve_map_type(struct gm_runtime *rt, struct gm_types_layout *L)
{
	const char *t;
	if (gm_dwarf_has_type(rt->dw, "runtime.hmap")) {
		L->map_impl = GM_MAP_OLD;
		if (!(t = DESC_TYPE(rt, "internal/abi.OldMapType", "internal/abi.MapType",
				    "runtime.maptype")))
			return no_desc(rt, "internal/abi.OldMapType");
		TRY(desc_field(rt, t, "Bucket", "bucket", false, &L->map_group));
		TRY(desc_field(rt, t, "KeySize", "keysize", false, &L->map_key_size));
		TRY(desc_field(rt, t, "ValueSize", "elemsize", false, &L->map_value_size));
		TRY(desc_field(rt, t, "BucketSize", "bucketsize", false, &L->map_group_size));
		/* maptype.flags (type.go@1.19, abi/type.go@1.21): 1 indirect key, 2 indirect elem
		 */
		L->map_indirect_key = 1;
		L->map_indirect_elem = 2;
		L->map_group_slots =
		    (uint64_t)constant_or(rt, "internal/abi.OldMapBucketCount",
					  constant_or(rt, "internal/abi.MapBucketCount",
						      constant_or(rt, "runtime.bucketCnt", 8)));
		L->map_ctrl_bytes = L->map_group_slots; /* tophash [bucketCnt]uint8 */
	} else {
		L->map_impl = GM_MAP_SWISS;
		if (!(t = DESC_TYPE(rt, "internal/abi.SwissMapType", "internal/abi.MapType")))
			return no_desc(rt, "internal/abi.MapType");
		TRY(desc_field(rt, t, "Group", NULL, false, &L->map_group));
		TRY(desc_field(rt, t, "GroupSize", NULL, false, &L->map_group_size));
		TRY(desc_field(rt, t, "KeysOff", NULL, true, &L->map_keys_off));
		if (L->map_keys_off.present) {
			TRY(desc_field(rt, t, "KeyStride", NULL, false, &L->map_key_stride));
			TRY(desc_field(rt, t, "ElemsOff", NULL, false, &L->map_elems_off));
			TRY(desc_field(rt, t, "ElemStride", NULL, false, &L->map_elem_stride));
		} else {
			TRY(desc_field(rt, t, "SlotSize", NULL, false, &L->map_slot_size));
			TRY(desc_field(rt, t, "ElemOff", NULL, false, &L->map_elem_off));
		}
		L->map_indirect_key =
		    (uint64_t)constant_or(rt, "internal/abi.SwissMapIndirectKey",
					  constant_or(rt, "internal/abi.MapIndirectKey", 4));
		L->map_indirect_elem =
		    (uint64_t)constant_or(rt, "internal/abi.SwissMapIndirectElem",
					  constant_or(rt, "internal/abi.MapIndirectElem", 8));
		L->map_group_slots =
		    (uint64_t)constant_or(rt, "internal/abi.SwissMapGroupSlots",
					  constant_or(rt, "internal/abi.MapGroupSlots", 8));
		L->map_ctrl_bytes = 8; /* ctrlGroup uint64 (internal/runtime/maps/group.go) */
	}
	if (L->map_impl == GM_MAP_OLD) {
		TRY(desc_field(rt, "runtime.hmap", "B", NULL, false, &L->hmap_b));
		TRY(desc_field(rt, "runtime.hmap", "buckets", NULL, false, &L->hmap_buckets));
		TRY(desc_field(rt, "runtime.hmap", "oldbuckets", NULL, false, &L->hmap_oldbuckets));
		TRY(desc_field(rt, "runtime.hmap", "extra", NULL, false, &L->hmap_extra));
		TRY(desc_field(rt, "runtime.mapextra", "overflow", NULL, false,
			       &L->mapextra_overflow));
	} else {
		const char *m = "internal/runtime/maps.Map", *tb = "internal/runtime/maps.table";
		TRY(desc_field(rt, m, "dirPtr", NULL, false, &L->smap_dir_ptr));
		TRY(desc_field(rt, m, "dirLen", NULL, false, &L->smap_dir_len));
		TRY(desc_field(rt, tb, "groups.data", NULL, false, &L->table_groups_data));
		TRY(desc_field(rt, tb, "groups.lengthMask", NULL, false, &L->table_groups_mask));
	}
	TRY(desc_field(rt, t, "Key", "key", false, &L->map_key));
	TRY(desc_field(rt, t, "Elem", "elem", false, &L->map_elem));
	TRY(desc_field(rt, t, "Flags", "flags", false, &L->map_flags));
	if (L->map_group_slots == 0 || L->map_group_slots > 64)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "unsupported map groups in %s",
				rt->go_version);
	return NULL;
}

static void resolve_type_flags(struct gm_runtime *rt, struct gm_types_layout *L)
{
	L->tflag_uncommon = (uint64_t)constant_or(rt, "internal/abi.TFlagUncommon",
						  constant_or(rt, "runtime.tflagUncommon", 1));
	L->tflag_extra_star = (uint64_t)constant_or(rt, "internal/abi.TFlagExtraStar",
						    constant_or(rt, "runtime.tflagExtraStar", 2));
	L->tflag_named = (uint64_t)constant_or(rt, "internal/abi.TFlagNamed",
					       constant_or(rt, "runtime.tflagNamed", 4));
	L->tflag_on_demand = (uint64_t)constant_or(rt, "internal/abi.TFlagGCMaskOnDemand", 0);
	L->tflag_unrolled = (uint64_t)constant_or(rt, "internal/abi.TFlagUnrolledBitmap", 0);
	/*
	 * DirectIface moved from Kind_ to TFlag in 1.26 (abi/type.go@1.26); the
	 * old KindDirectIface constant stays there, so the TFlag one decides.
	 */
	L->tflag_direct_iface = (uint64_t)constant_or(rt, "internal/abi.TFlagDirectIface", 0);
	L->kind_direct_iface =
	    L->tflag_direct_iface
		? 0
		: (uint64_t)constant_or(rt, "internal/abi.KindDirectIface",
					constant_or(rt, "runtime.kindDirectIface", 0x20));
	L->kind_mask = (uint64_t)constant_or(rt, "internal/abi.KindMask",
					     constant_or(rt, "runtime.kindMask", 0x1f));
	L->kind_gcprog = (uint64_t)constant_or(rt, "internal/abi.KindGCProg",
					       constant_or(rt, "runtime.kindGCProg", 0));
}

static struct gomem_error *resolve_types(struct gm_runtime *rt, struct gm_types_layout *L)
{
	memset(L, 0, sizeof(*L));
	TRY(resolve_type_header(rt, L));
	TRY(resolve_kind_types(rt, L));
	TRY(resolve_map_type(rt, L));
	resolve_type_flags(rt, L);
	TRY(desc_field(rt, "runtime.hchan", "qcount", NULL, false, &L->hchan_qcount));
	TRY(desc_field(rt, "runtime.hchan", "dataqsiz", NULL, false, &L->hchan_dataqsiz));
	TRY(desc_field(rt, "runtime.hchan", "buf", NULL, false, &L->hchan_buf));
	TRY(desc_field(rt, "runtime.hchan", "elemsize", NULL, false, &L->hchan_elemsize));
	TRY(desc_field(rt, "runtime.hchan", "elemtype", NULL, false, &L->hchan_elemtype));
	/* A cleanup's argument is boxed beside its function from 1.26 (mcleanup.go@1.26). */
	TRY(optional_field(rt, "runtime.cleanupFn", "fn", &L->cleanupfn_fn));
	TRY(optional_field(rt, "runtime.cleanupFn", "arg", &L->cleanupfn_arg));
	TRY(desc_field(rt, "runtime.moduledata", "types", NULL, false, &L->md_types));
	TRY(desc_field(rt, "runtime.moduledata", "etypes", NULL, false, &L->md_etypes));
	TRY(desc_field(rt, "runtime.moduledata", "next", NULL, false, &L->md_next));
	/* Without DWARF its address may be unknown: gotypes.c finds it through the pclntab. */
	TRY(optional_variable(rt, "runtime.firstmoduledata", &L->firstmoduledata));
	return NULL;
}

struct gomem_error *gm_runtime_sched_layout(struct gm_runtime *rt,
					    const struct gm_sched_layout **ret)
{
	if (!rt->have_sched) {
		struct gm_sched_layout L;
		TRY(resolve_sched(rt, &L));
		rt->sched = L;
		rt->have_sched = true;
	}
	*ret = &rt->sched;
	return NULL;
}

struct gomem_error *gm_runtime_stack_layout(struct gm_runtime *rt,
					    const struct gm_stack_layout **ret)
{
	if (!rt->have_stack) {
		struct gm_stack_layout L;
		TRY(resolve_stack(rt, &L));
		rt->stack = L;
		rt->have_stack = true;
	}
	*ret = &rt->stack;
	return NULL;
}

struct gomem_error *gm_runtime_regions_layout(struct gm_runtime *rt,
					      const struct gm_regions_layout **ret)
{
	if (!rt->have_regions) {
		struct gm_regions_layout L;
		TRY(resolve_regions(rt, &L));
		rt->regions = L;
		rt->have_regions = true;
	}
	*ret = &rt->regions;
	return NULL;
}

struct gomem_error *gm_runtime_types_layout(struct gm_runtime *rt,
					    const struct gm_types_layout **ret)
{
	if (!rt->have_types) {
		struct gm_types_layout L;
		TRY(resolve_types(rt, &L));
		rt->types = L;
		rt->have_types = true;
	}
	*ret = &rt->types;
	return NULL;
}

const struct gm_object_layout *gm_runtime_object_layout(struct gm_runtime *rt)
{
	if (!rt->have_objects) {
		resolve_objects(rt, &rt->objects);
		rt->have_objects = true;
	}
	return &rt->objects;
}

struct gomem_error *gm_runtime_frames_layout(struct gm_runtime *rt,
					     const struct gm_frames_layout **ret)
{
	if (!rt->have_frames) {
		struct gm_frames_layout L;
		TRY(resolve_frames(rt, &L));
		rt->frames = L;
		rt->have_frames = true;
	}
	*ret = &rt->frames;
	return NULL;
}

struct gomem_error *gm_runtime_resolve_every_layout(struct gm_runtime *rt)
{
	const struct gm_types_layout *types;
	const struct gm_sched_layout *sched;
	const struct gm_stack_layout *stack;
	const struct gm_regions_layout *regions;
	TRY(gm_layout_resolve(rt));
	TRY(gm_runtime_sched_layout(rt, &sched));
	TRY(gm_runtime_stack_layout(rt, &stack));
	TRY(gm_runtime_regions_layout(rt, &regions));
	gm_runtime_object_layout(rt);
	/* The object graph's layout: a binary without it still opens for the other verbs. */
	const struct gm_graph_layout *graph;
	struct gomem_error *err = gm_runtime_graph_layout(rt, &graph);
	gomem_error_destroy(err);
	const struct gm_frames_layout *frames;
	TRY(gm_runtime_frames_layout(rt, &frames));
	TRY(gm_runtime_types_layout(rt, &types));
	return NULL;
}
