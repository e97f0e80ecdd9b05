/*
 * The Go runtime model: the runtime's layout in this binary (from DWARF),
 * its MemStats, the heap walk and the size classes.
 */
#ifndef GOMEM_RUNTIME_H
#define GOMEM_RUNTIME_H

#include "dwarf/dwarf.h"
#include "target/target.h"

/* ---- the Go runtime model (runtime.c, heap.c, memstats.c) ---- */

#define GM_MAX_SIZE_CLASSES 68

struct gm_memstats {
	uint64_t HeapAlloc, HeapSys, HeapIdle, HeapInuse, HeapReleased, HeapObjects;
	uint64_t StackInuse, StackSys, MSpanInuse, MSpanSys, MCacheInuse, MCacheSys;
	uint64_t BuckHashSys, GCSys, OtherSys, Sys, NextGC, NumGC, TotalAlloc, Mallocs, Frees;
	uint64_t LastGC, PauseTotalNs, NumForcedGC, Lookups;
	/* Not part of MemStats, kept for the checks. */
	uint64_t mapped_ready, committed, released_consistent, in_heap_consistent;
	uint64_t work_bufs, ptr_scalar_bits;
	uint64_t flush_objects, flush_bytes, flush_tiny; /* the mcache correction */
};

/* One size class's share of the in-use heap. */
struct gm_class_stats {
	uint64_t spans, objects, object_bytes, free_slots, free_slot_bytes, tail_waste_bytes;
};

struct gm_heap_walk {
	uint64_t arenas, arena_bytes;
	uint64_t spans_in_use, spans_manual, spans_free;
	uint64_t in_use_bytes, objects, object_bytes, free_slot_bytes, tail_waste_bytes;
	uint64_t stack_bytes, work_buf_bytes;
	uint64_t free_retained_bytes, free_released_bytes;
	uint64_t mapped_bytes; /* pages.inUse: every heap page the runtime mapped */
	uint64_t in_use_resident_bytes, stack_resident_bytes, free_retained_resident_bytes;
	uint64_t free_released_resident_bytes, unmapped_arena_bytes;
	uint64_t user_arenas, user_chunk_bytes; /* user arenas; their chunks in use */
	uint64_t bad_spans; /* live-looking descriptors that failed validation */
	struct gm_class_stats classes[GM_MAX_SIZE_CLASSES];
	struct gm_class_stats large;
};

struct gm_runtime;

/* The runtime of t's executable, from its DWARF (dw and t must outlive it). */
struct gomem_error *gm_runtime_create(struct gm_dwarf *dw, struct gm_target *t,
				      struct gm_runtime **ret);
void gm_runtime_destroy(struct gm_runtime *rt);
struct gomem_error *gm_runtime_memstats(struct gm_runtime *rt, struct gm_memstats *ret);

/* Called for each resident-byte question; NULL when residency is unknown. */
typedef uint64_t (*gm_resident_fn)(void *arg, uint64_t start, uint64_t end);

/* A live span, as the walk sees it. */
enum gm_span_state { GM_SPAN_IN_USE = 1, GM_SPAN_MANUAL = 2 };

struct gm_span {
	uint64_t desc;	 /* address of the mspan */
	uint64_t start;	 /* first byte */
	uint64_t npages; /* in runtime pages (8 KiB) */
	uint64_t bytes;	 /* npages * page size */
	enum gm_span_state state;
	unsigned sizeclass; /* 0 = large object (in-use spans) */
	bool noscan;
	uint64_t elemsize;    /* stack spans: the stack size; 0 for GC work buffers */
	uint64_t nelems;      /* object slots */
	uint64_t alloc_count; /* allocated slots (garbage not yet swept included) */
	uint64_t freeindex;
	uint64_t alloc_bits; /* address of the allocation bitmap (1 bit per slot) */
	bool user_chunk;     /* a user arena chunk (GOEXPERIMENT=arenas): one large object */
};

/* The heap's arenas, sorted by address. */
struct gm_arena {
	uint64_t base, end; /* [base, end) */
	uint64_t meta;	    /* its *heapArena */
	bool user;	    /* holds user arena chunks (GOEXPERIMENT=arenas), not heap pages */
};

typedef struct gomem_error *(*gm_span_fn)(void *arg, const struct gm_span *span);
/* A run of free pages: released says whether the OS has them back (scavenged). */
typedef void (*gm_free_run_fn)(void *arg, uint64_t start, uint64_t end, bool released);

/*
 * Calls fn for each live span (in-use and manual) of mheap_.allspans, in
 * allspans order. Descriptors that look live but fail validation are
 * skipped and counted in *bad_ret. An error returned by fn stops the walk.
 */
struct gomem_error *gm_heap_foreach_span(struct gm_runtime *rt, gm_span_fn fn, void *arg,
					 uint64_t *bad_ret);
/* Calls fn for each run of free pages in the page allocator and the per-P page caches. */
struct gomem_error *gm_heap_foreach_free_run(struct gm_runtime *rt, gm_free_run_fn fn, void *arg);
/* The heap arenas (free() the array). */
struct gomem_error *gm_heap_arenas(struct gm_runtime *rt, struct gm_arena **ret, size_t *n_ret);
/* The live span that holds addr, through its arena's spans[] map; *found false when none. */
struct gomem_error *gm_heap_find_span(struct gm_runtime *rt, uint64_t addr, struct gm_span *ret,
				      bool *found);
/* Whether slot i of an in-use span is allocated (i < freeindex, or its allocBits bit). */
struct gomem_error *gm_span_slot_allocated(struct gm_runtime *rt, const struct gm_span *span,
					   uint64_t i, bool *ret);

struct gomem_error *gm_runtime_walk_heap(struct gm_runtime *rt, gm_resident_fn resident,
					 void *resident_arg, struct gm_heap_walk *ret);
uint64_t gm_runtime_page_size(const struct gm_runtime *rt);

/* The Go size classes, the same in 1.19 to 1.27 (sizeclasses.go). */
extern const uint16_t gm_class_to_size[GM_MAX_SIZE_CLASSES];
extern const uint8_t gm_class_to_npages[GM_MAX_SIZE_CLASSES];

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
	struct gm_target *target; /* NULL for a runtime made by hand (the unit tests) */
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

/* ---- the runtime's own regions of the address space (goregions.c) ---- */

/* What a region of the runtime is; addrspace/ gives each kind its owner. */
enum gm_rt_region_kind {
	GM_RR_HEAP,	       /* heap arena pages mapped, or user arena chunks in use */
	GM_RR_HEAP_RESERVED,   /* heap arena space not mapped */
	GM_RR_SUMMARY,	       /* a page summary level (a reservation) */
	GM_RR_SCAV_INDEX,      /* the scavenger index (a reservation) */
	GM_RR_ARENA_INDEX,     /* a second-level array of mheap_.arenas */
	GM_RR_HEAP_ARENA_META, /* a heapArena, or the list of arenas */
	GM_RR_CHUNKS,	       /* the page allocator's bitmaps */
	GM_RR_PERSISTENT,      /* a persistentalloc chunk */
	GM_RR_GC_BITS,	       /* a gcBits arena */
	GM_RR_ALLSPANS,	       /* the allspans array */
	GM_RR_BUCKHASH,	       /* the profiling bucket hash table */
	GM_RR_SPAN_QUEUES,     /* a Green Tea span queue ring */
	GM_RR_COUNT
};

/* A range of the address space whose address the Go runtime keeps. */
struct gm_rt_region {
	uint64_t start, end;
	enum gm_rt_region_kind kind;
	/*
	 * Bytes of it that MemStats counts in some *Sys: a fixed number, or
	 * (stat_mapped: a PROT_NONE reservation with read-write pieces)
	 * whatever part of it is mapped read-write.
	 */
	uint64_t stat_bytes;
	bool stat_mapped;
	char label[200]; /* "page summary level 4" */
	char source[64]; /* where its address came from: "mheap_.pages.summary[4]" */
};

/* An M of the Go runtime: its thread and its g0 stack. */
struct gm_go_thread {
	int64_t id;
	uint64_t procid; /* the thread's LWP id */
	uint64_t lo, hi; /* g0.stack */
};

struct gm_rt_regions {
	struct gm_rt_region *v; /* in the order they were found */
	size_t n, cap;
	size_t narenas; /* heap and user arenas */
	struct gm_go_thread *threads;
	size_t nthreads;
	uint64_t m0_stack_hi; /* m0.g0.stack.hi: inside the main thread's stack */
};

/*
 * The regions whose addresses the Go runtime keeps: heap arenas (mapped
 * and reserved parts), the page allocator's summaries, scavenger index and
 * bitmaps, the arena index, heapArena metadata, persistentalloc chunks, GC
 * bitmaps, allspans, the profiling hash, GC span queues; and the Ms.
 */
struct gomem_error *gm_go_regions(struct gm_runtime *rt, struct gm_rt_regions *ret);
void gm_rt_regions_deinit(struct gm_rt_regions *rs);

#endif /* GOMEM_RUNTIME_H */
