/* The runtime model's private state, shared by runtime.c and heap.c. */
#ifndef GOMEM_RUNTIME_INTERNAL_H
#define GOMEM_RUNTIME_INTERNAL_H

#include "internal.h"

#define GM_MSPAN_MAX	 1024
#define GM_HEAPSTATS_MAX 2048
#define GM_MAX_PROCS	 65536

/* Offsets and constants of one binary's runtime, from DWARF. */
struct gm_layout {
	unsigned page_shift, log_arena_bytes, arena_l1_bits, arena_l2_bits;
	unsigned chunks_l1_bits, chunks_l2_bits;
	uint64_t page_size, arena_bytes, arena_base_offset, chunk_pages;
	uint64_t span_in_use, span_manual;
	uint64_t limit_headroom_percent, limit_min_headroom;
	uint64_t nclasses;

	struct gm_field mheap_pages, mheap_allspans, mheap_arenas, mheap_heap_arenas;
	struct gm_field mheap_user_arenas; /* userArenaArenas, 1.25+ */
	bool scan_user_arenas; /* GOEXPERIMENT=arenas before 1.25: find them in mheap_.arenas */
	struct gm_field mheap_spanalloc_inuse, mheap_cachealloc_inuse;
	struct gm_field heaparena_spans;
	struct gm_field pagealloc_chunks, pagealloc_inuse_ranges;
	struct gm_field pallocdata_alloc, pallocdata_scav;
	uint64_t pallocdata_size, addrrange_size;

	uint64_t mspan_size;
	struct gm_field mspan_startaddr, mspan_npages, mspan_state, mspan_spanclass;
	struct gm_field mspan_elemsize, mspan_nelems, mspan_freeindex, mspan_alloccount;
	struct gm_field mspan_alloccount_before_cache, mspan_allocbits;
	struct gm_field mspan_user_chunk; /* isUserArenaChunk, 1.20+ */

	struct gm_field gc_heap_inuse, gc_heap_free, gc_heap_released, gc_total_alloc;
	struct gm_field gc_total_free, gc_mapped_ready, gc_percent_heap_goal, gc_memory_limit;
	struct gm_field gc_sweep_dist_min_trigger, gc_heap_marked, gc_triggered;
	struct gm_field ms_heapstats, ms_stacks_sys, ms_mspan_sys, ms_mcache_sys, ms_buckhash_sys;
	struct gm_field ms_gcmisc_sys, ms_other_sys, ms_numgc, ms_numforcedgc, ms_last_gc_unix;
	struct gm_field ms_pause_total_ns;
	uint64_t hs_size;
	struct gm_field hs_committed, hs_released, hs_in_heap, hs_in_stacks, hs_in_workbufs;
	struct gm_field hs_in_ptrscalarbits, hs_tiny_alloc_count, hs_large_alloc;
	struct gm_field hs_large_alloc_count, hs_small_alloc_count, hs_large_free;
	struct gm_field hs_large_free_count, hs_small_free_count;
	struct gm_field p_mcache, p_pcache_base, p_pcache_cache, p_pcache_scav;
	struct gm_field mcache_alloc, mcache_tiny_allocs;
};

struct gm_runtime {
	struct gm_dwarf *dw;
	struct gm_memory *mem;
	uint64_t bias; /* load bias of a PIE */
	char go_version[64];
	struct gm_layout L;
	uint64_t mheap, memstats, gc_controller, allp, emptymspan;
	/*
	 * The user arenas found in the arena index (L.scan_user_arenas): the scan
	 * reads the whole index, so it is done once per target, like its mappings.
	 */
	struct gm_arena *scanned_user_arenas;
	size_t nscanned_user_arenas;
	bool user_arenas_scanned;
};

/* The sum of memstats.heapStats' slots. */
struct gm_heapstats {
	uint64_t committed, released, in_heap, in_stacks, in_workbufs, in_ptrscalarbits;
	uint64_t tiny_alloc_count, large_alloc, large_alloc_count, large_free, large_free_count;
	uint64_t small_alloc_count[GM_MAX_SIZE_CLASSES], small_free_count[GM_MAX_SIZE_CLASSES];
};

struct gomem_error *gm_rt_read_field(struct gm_runtime *rt, uint64_t base, const struct gm_field *f,
				     uint64_t *ret);
uint64_t gm_rt_field(const uint8_t *buf, const struct gm_field *f);
struct gomem_error *gm_rt_allp(struct gm_runtime *rt, uint64_t **ps_ret, size_t *n_ret);

#endif
