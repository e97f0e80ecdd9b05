/*
 * The Go runtime model: where the runtime keeps what, in this binary (its
 * layout, resolved from DWARF in layout.c, once per target), and what it
 * holds: MemStats as ReadMemStats computes them (runtime.c), the heap's
 * arenas, spans and free pages (heap.c), the size classes, the runtime's
 * own regions of the address space (goregions.c), its Gs and Ms
 * (goroutines.c) and the stacks (stacks.c). Nothing above this layer reads
 * DWARF or a runtime structure itself.
 */
#ifndef GOMEM_RUNTIME_H
#define GOMEM_RUNTIME_H

#include "dwarf/dwarf.h"
#include "target/target.h"

#define GM_MAX_SIZE_CLASSES 68
#define GM_MSPAN_MAX	    1024
#define GM_HEAPSTATS_MAX    2048
#define GM_MAX_PROCS	    65536
/* At most this many Gs and Ms are read: more means a corrupt allglen or allm. */
#define GM_MAX_GOROUTINES (1u << 22)
#define GM_MAX_THREADS	  (1u << 16)

struct gm_arena;
struct gm_span;

/* ---- the layout (layout.c) ---- */

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

/* Where the Gs and Ms are, and the fields gomem reads of them. */
struct gm_sched_layout {
	uint64_t g_size;
	struct gm_field g_lo, g_hi, g_sched_sp, g_syscallsp, g_status, g_goid, g_startpc, g_m;
	struct gm_field g_running_cleanups; /* 1.24+ */
	/* For what a goroutine is doing; absent where a layout table has no answer. */
	struct gm_field g_waitreason, g_sched_pc, g_syscallpc;
	uint64_t wait_reason_strings; /* runtime.waitReasonStrings; 0 where unknown */
	struct gm_field m_g0, m_gsignal, m_curg, m_id, m_procid, m_alllink;
	struct gm_field m_vgetrandom_state; /* 1.24+ */
	struct gm_field m_mallocing;	    /* absent where a layout table has no answer */
	uint64_t allgs, allglen, allm, m0;
	struct gm_field sched_ngsys;
	uint64_t sched;
	bool have_sched; /* sched.ngsys can be read */
	uint64_t fing_status, fing_running;
	unsigned fing_size; /* 4 for fingStatus, 1 for the older fingRunning bool */
	bool have_fing_status;
};

/* What explains the stack spans beside the Gs' and Ms' stacks. */
struct gm_stack_layout {
	struct gm_field mcache_stackcache, sfl_size, spanlist_first, mspan_next;
	uint64_t mutex_size, heap_addr_bits;
	uint64_t stack_large, gcrash;
	bool have_stack_large, have_gcrash;
};

/* Where the runtime keeps the addresses of its own regions (goregions.c). */
struct gm_regions_layout {
	struct gm_field cur_arena_base, cur_arena_end; /* mheap_.curArena */
	bool randomized_base; /* runtime.heapRandSeed: the heap base is randomized (1.26+) */
	uint64_t heap_arena_size;
	struct gm_field summary, scav_chunks; /* pageAlloc.summary, pageAlloc.scav.index.chunks */
	uint64_t persistent_chunks, persistent_chunk_size; /* 0: none */
	uint64_t gc_bits_arenas, gc_bits_mutex_size, gc_bits_chunk_bytes;
	struct gm_field gc_bits_next;
	bool have_gc_bits;
	uint64_t buckhash, buckhash_size; /* buckhash 0: none */
	uint64_t work;
	struct gm_field spmc_head, spmc_next, spmc_ring, spmc_cap;
	bool have_span_queues;
	/* runtime.vgetrandomAlloc (vgetrandom_linux.go, 1.24+): 0 when absent */
	uint64_t vgetrandom_alloc, vgetrandom_state_size_offset;
	uint64_t phys_page_size; /* runtime.physPageSize: its address; 0 when absent */
};

/* The malloc header of scan objects (malloc.go@1.22, allocheaders). */
struct gm_object_layout {
	bool have_header;
	uint64_t min_size_for_header, header_bytes;
};

/*
 * What the object graph (objects/) reads beyond the heap walk: the spans'
 * sweep state, marks and specials, the heap bitmaps of each layout, type
 * descriptors, the modules' data and bss masks, the finalizer and cleanup
 * queues. Resolved on first use (gm_runtime_graph_layout).
 */
struct gm_graph_layout {
	struct gm_field mspan_sweepgen, mspan_gcmarkbits, mspan_specials, mspan_largetype;
	struct gm_field mheap_sweepgen;
	/* The arena heap bitmap: 2 bits a word (1.19), 1 bit a word + noMorePtrs (1.20-1.21,
	 * 1.22 noallocheaders); absent from 1.22 (span heap bits, headers, largeType). */
	struct gm_field arena_bitmap;
	bool arena_bitmap2, arena_bitmap1;
	/* Green Tea: spanInlineMarkBits at the end of small spans (1.25+); 0 when absent. */
	uint64_t inline_mark_bytes, inline_marks_offset;
	/* internal/abi.Type (runtime._type in 1.19) and the descriptors buildGCMask reads. */
	uint64_t type_size;
	struct gm_field type_size_, type_ptrbytes, type_tflag, type_kind, type_gcdata;
	struct gm_field structtype_fields, structfield_typ, structfield_offset;
	struct gm_field arraytype_elem, arraytype_len;
	uint64_t structfield_size;
	bool gcmask_on_demand; /* TFlagGCMaskOnDemand (1.24+) */
	uint64_t tflag_on_demand;
	uint64_t kind_gcprog; /* Kind_ bit of a GC program (<=1.23), 0 when none */
	uint64_t kind_mask;   /* the kind's bits of Kind_ */
	/* Modules (runtime.firstmoduledata: gm_runtime_first_module). */
	struct gm_field md_data, md_edata, md_bss, md_ebss, md_next;
	struct gm_field md_gcdatamask_n, md_gcdatamask_bytes, md_gcbssmask_n, md_gcbssmask_bytes;
	/* Specials (kinds from DWARF: they were renumbered in 1.23, 1.24, 1.25). */
	struct gm_field special_next, special_offset, special_kind;
	int64_t kind_finalizer, kind_cleanup, kind_weak; /* -1 when absent */
	struct gm_field specialfinalizer_fn, specialcleanup_fn, specialweak_handle;
	/* Queued finalizers (allfin) and cleanups (gcCleanups.all, 1.25+). */
	uint64_t allfin, gc_cleanups;
	bool allfin_unknown, gc_cleanups_unknown; /* they exist, but no DWARF gives them */
	struct gm_field finblock_alllink, finblock_cnt, finblock_fin;
	uint64_t finalizer_size;
	struct gm_field finalizer_fn, finalizer_arg;
	struct gm_field cleanupqueue_all, cleanupblock_alllink, cleanupblock_n,
	    cleanupblock_cleanups;
};

/* What the unwinder and the stack roots read of Gs, defers and modules (frames.c). */
struct gm_frames_layout {
	struct gm_field g_sched_pc, g_sched_sp, g_sched_lr, g_sched_ctxt;
	struct gm_field g_syscallpc, g_syscallsp, g_defer, g_panic;
	struct gm_field defer_fn, defer_link, defer_heap; /* runtime._defer */
	struct gm_field md_rodata; /* moduledata.rodata: the base of stack objects' gcdata */
	struct gm_field md_gofunc; /* moduledata.gofunc: the base of funcdata (stack maps) */
	uint64_t firstmoduledata;  /* 0 when DWARF does not say (gm_pclntab_find_moduledata) */
};

/* How a map keeps its entries (GO-OBJECTS.md §4.4). */
enum gm_map_impl {
	GM_MAP_OLD = 1,	  /* hmap and buckets (1.19-1.23, noswissmap in 1.24-1.25) */
	GM_MAP_SWISS = 2, /* internal/runtime/maps: Map, tables, groups (1.24+) */
};

/* The layout of the type descriptors in this binary (layout.c, resolved on first use). */
struct gm_types_layout {
	uint64_t type_size;
	struct gm_field size, ptrdata, tflag, kind, gcdata, str;
	struct gm_field ptr_elem, slice_elem, array_elem, array_len, chan_elem, chan_dir;
	struct gm_field struct_fields, field_name, field_typ, field_offset;
	uint64_t field_size;
	enum gm_map_impl map_impl;
	struct gm_field map_key, map_elem, map_group, map_flags;
	/* old: keysize, valuesize, bucketsize; swiss: GroupSize, SlotSize, ElemOff */
	struct gm_field map_key_size, map_value_size, map_group_size, map_slot_size, map_elem_off;
	/* Go 1.27: keys and elems each at their own offset and stride (abi/map.go@1.27) */
	struct gm_field map_keys_off, map_key_stride, map_elems_off, map_elem_stride;
	uint64_t map_indirect_key, map_indirect_elem, map_group_slots, map_ctrl_bytes;
	struct gm_field itab_type;
	/* The maps themselves: old hmap{B, buckets, oldbuckets, extra}, mapextra{overflow} */
	struct gm_field hmap_b, hmap_buckets, hmap_oldbuckets, hmap_extra, mapextra_overflow;
	/* swiss Map{dirPtr, dirLen}, table{groups.data, groups.lengthMask} */
	struct gm_field smap_dir_ptr, smap_dir_len, table_groups_data, table_groups_mask;
	/* hchan{qcount, dataqsiz, buf, elemsize, elemtype} */
	struct gm_field hchan_qcount, hchan_dataqsiz, hchan_buf, hchan_elemsize, hchan_elemtype;
	/* cleanupFn{call, fn, arg} of a cleanup (mcleanup.go@1.26); absent before 1.26 */
	struct gm_field cleanupfn_fn, cleanupfn_arg;
	struct gm_field md_types, md_etypes, md_next;
	uint64_t firstmoduledata; /* runtime address; 0 when unknown */
	/* TFlag and Kind_ bits (0: this Go has no such bit) */
	uint64_t tflag_uncommon, tflag_extra_star, tflag_named, tflag_on_demand, tflag_unrolled;
	uint64_t tflag_direct_iface, kind_mask, kind_direct_iface, kind_gcprog;
};
struct gm_runtime {
	struct gm_dwarf *dw;
	struct gm_target *target; /* NULL for a runtime made by hand (the unit tests) */
	struct gm_memory *mem;
	uint64_t bias;		    /* load bias of a PIE */
	const struct gm_arch *arch; /* the target's GOARCH */
	uint64_t os_page_size;	    /* the target's OS page (AT_PAGESZ): mappings are made of it */
	char go_version[64];
	struct gm_layout L;
	uint64_t mheap, memstats, gc_controller, allp, emptymspan;
	uint64_t size_class_table; /* the binary's own table of size classes */
	const char *size_class_table_name;
	/* The layouts that only some questions need: resolved on first use, then kept. */
	struct gm_sched_layout sched;
	struct gm_stack_layout stack;
	struct gm_regions_layout regions;
	struct gm_object_layout objects;
	struct gm_types_layout types;
	bool have_types;
	bool have_sched, have_stack, have_regions, have_objects;
	struct gm_graph_layout graph;
	bool have_graph;
	struct gm_frames_layout frames;
	bool have_frames;
	/*
	 * The user arenas found in the arena index (L.scan_user_arenas): the scan
	 * reads the whole index, so it is done once per target, like its mappings.
	 */
	struct gm_arena *scanned_user_arenas;
	size_t nscanned_user_arenas;
	bool user_arenas_scanned;
};

/* Resolves rt->L, the globals and the size-class table: what every question needs. */
struct gomem_error *gm_layout_resolve(struct gm_runtime *rt);
/* The other layouts, resolved on first use. */
struct gomem_error *gm_runtime_sched_layout(struct gm_runtime *rt,
					    const struct gm_sched_layout **ret);
struct gomem_error *gm_runtime_stack_layout(struct gm_runtime *rt,
					    const struct gm_stack_layout **ret);
struct gomem_error *gm_runtime_regions_layout(struct gm_runtime *rt,
					      const struct gm_regions_layout **ret);
const struct gm_object_layout *gm_runtime_object_layout(struct gm_runtime *rt);
/* The type descriptors' layout (runtime/gotypes.h uses it). */
struct gomem_error *gm_runtime_types_layout(struct gm_runtime *rt,
					    const struct gm_types_layout **ret);
struct gomem_error *gm_runtime_graph_layout(struct gm_runtime *rt,
					    const struct gm_graph_layout **ret);
/* The address of runtime.firstmoduledata (from DWARF, or found through the pclntab). */
struct gomem_error *gm_runtime_first_module(struct gm_runtime *rt, uint64_t *ret);
struct gomem_error *gm_runtime_frames_layout(struct gm_runtime *rt,
					     const struct gm_frames_layout **ret);
/*
 * Every layout at once, with no target memory (rt->target may be NULL): what
 * tools/layouts/ records for the layout tables, so that they hold every
 * question gomem asks. A new layout resolved on first use is added here.
 */
struct gomem_error *gm_runtime_resolve_every_layout(struct gm_runtime *rt);

/* ---- the runtime and its counters (runtime.c) ---- */

struct gm_memstats {
	uint64_t HeapAlloc, HeapSys, HeapIdle, HeapInuse, HeapReleased, HeapObjects;
	uint64_t StackInuse, StackSys, MSpanInuse, MSpanSys, MCacheInuse, MCacheSys;
	uint64_t BuckHashSys, GCSys, OtherSys, Sys, NextGC, NumGC, TotalAlloc, Mallocs, Frees;
	uint64_t LastGC, PauseTotalNs, NumForcedGC, Lookups;
	/* Not part of MemStats, kept for the checks. */
	uint64_t mapped_ready, committed, released_consistent, in_heap_consistent;
	uint64_t work_bufs, ptr_scalar_bits;
	uint64_t flush_objects, flush_bytes, flush_tiny; /* the mcache correction */
	/* gcController.heapMarked: the heap the last GC marked live (0 before the first). */
	uint64_t heap_marked;
	bool has_heap_marked;
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

/* The runtime of t's executable, from its DWARF (dw and t must outlive it). */
struct gomem_error *gm_runtime_create(struct gm_dwarf *dw, struct gm_target *t,
				      struct gm_runtime **ret);
void gm_runtime_destroy(struct gm_runtime *rt);
struct gomem_error *gm_runtime_memstats(struct gm_runtime *rt, struct gm_memstats *ret);
uint64_t gm_runtime_page_size(const struct gm_runtime *rt);
/* Bytes of malloc header at the start of each object of the span (0: none). */
uint64_t gm_runtime_header_bytes(struct gm_runtime *rt, const struct gm_span *sp);

/* The sum of memstats.heapStats' slots. */
struct gm_heapstats {
	uint64_t committed, released, in_heap, in_stacks, in_workbufs, in_ptrscalarbits;
	uint64_t tiny_alloc_count, large_alloc, large_alloc_count, large_free, large_free_count;
	uint64_t small_alloc_count[GM_MAX_SIZE_CLASSES], small_free_count[GM_MAX_SIZE_CLASSES];
};

/* Reads a scalar field of the struct at base (0 for a field this Go version lacks). */
struct gomem_error *gm_rt_read_field(struct gm_runtime *rt, uint64_t base, const struct gm_field *f,
				     uint64_t *ret);
/* A field of a struct already copied into buf. */
uint64_t gm_rt_field(const uint8_t *buf, const struct gm_field *f);
/* runtime.allp as an array of P addresses, to free(). */
struct gomem_error *gm_rt_allp(struct gm_runtime *rt, uint64_t **ps_ret, size_t *n_ret);

/* ---- the heap (heap.c) ---- */

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

/* The Go size classes, the same in 1.19 to 1.27 (sizeclasses.go; sizeclasses.c). */
extern const uint16_t gm_class_to_size[GM_MAX_SIZE_CLASSES];

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
	GM_RR_VGETRANDOM,      /* pages of the vDSO getrandom's per-thread states */
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

struct gm_rt_regions {
	struct gm_rt_region *v; /* in the order they were found */
	size_t n, cap;
	size_t narenas; /* heap and user arenas */
};

/*
 * The regions whose addresses the Go runtime keeps: heap arenas (mapped
 * and reserved parts), the page allocator's summaries, scavenger index and
 * bitmaps, the arena index, heapArena metadata, persistentalloc chunks, GC
 * bitmaps, allspans, the profiling hash, GC span queues.
 */
struct gomem_error *gm_go_regions(struct gm_runtime *rt, struct gm_rt_regions *ret);
void gm_rt_regions_deinit(struct gm_rt_regions *rs);

/* ---- Gs and Ms (goroutines.c) ---- */

/* Where a goroutine's used_bytes came from. */
enum gm_sp_source {
	GM_SP_NONE,    /* unknown: dead, or no saved SP inside the stack */
	GM_SP_SCHED,   /* g.sched.sp, saved when the goroutine last stopped running */
	GM_SP_SYSCALL, /* g.syscallsp, saved on entry to a system call */
	GM_SP_THREAD,  /* the stack pointer of the thread running it, from the core */
};

struct gm_goroutine {
	uint64_t g; /* address of the runtime.g */
	uint64_t goid;
	uint32_t status; /* atomicstatus without the scan bit */
	bool scan;	 /* the _Gscan bit was set */
	uint64_t lo, hi; /* g.stack, [lo, hi); 0, 0 for a dead G without a stack */
	uint64_t sp;	 /* valid when sp_source != GM_SP_NONE */
	enum gm_sp_source sp_source;
	uint64_t startpc;
	const char *start_func; /* NUL-terminated, in the executable's symbol table; or NULL */
	bool system;		/* a runtime goroutine, as runtime.isSystemGoroutine decides */
	bool in_span;		/* the stack lies in a Go heap stack span (stacks.c) */
	/*
	 * g.waitreason and its name, the runtime's own (waitReasonStrings):
	 * only for a waiting G, as the runtime's traceback prints it; NULL when
	 * not waiting or when the name cannot be read.
	 */
	uint8_t waitreason;
	const char *wait_reason;
	/* The top frame: the PC it stopped at, and the function holding it (NULL unknown). */
	uint64_t pc;
	enum gm_sp_source pc_source; /* GM_SP_NONE: unknown */
	const char *func;
};

enum gm_thread_kind {
	GM_THREAD_GO,	   /* g0 stack allocated from the Go heap (a stack span) */
	GM_THREAD_OS,	   /* m0: the process's main thread stack */
	GM_THREAD_PTHREAD, /* a stack from pthread_create (cgo), outside the Go heap */
};

struct gm_thread {
	uint64_t m; /* address of the runtime.m */
	int64_t id;
	uint64_t procid; /* the thread id (LWP) */
	bool is_m0;	 /* runtime.m0: the process's main thread */
	uint64_t g0_lo, g0_hi, gsignal_lo, gsignal_hi;
	uint64_t curg, curg_goid;  /* curg: address of the G it runs, 0 if none */
	uint64_t vgetrandom_state; /* m.vgetrandomState (1.24+), 0 if none */
	bool has_curg;
	bool g0_in_span, gsignal_in_span; /* stacks.c */
	bool mallocing;			  /* m.mallocing: inside mallocgc */
	bool has_sp;			  /* the thread's stack pointer was found in the core */
	uint64_t sp, pc;		  /* pc: with sp */
	enum gm_thread_kind kind;	  /* stacks.c */
};

#define GM_SCHED_MAX_WARNINGS 8

/* What runtime.allm and runtime.allgs hold. */
struct gm_sched {
	struct gm_thread *threads; /* in allm order */
	size_t nthreads;
	struct gm_goroutine *gs; /* in allgs order; nil entries and unreadable Gs left out */
	size_t ngs;
	char *wait_reasons[256]; /* the names of g.waitreason values, read as Gs need them */
	bool have_wait_reasons;	 /* runtime.waitReasonStrings was found */
	bool have_ngsys, have_symbols;
	uint64_t ngsys; /* sched.ngsys */
	/*
	 * One error policy for every reader of Gs and Ms: an M or a G that
	 * cannot be read, or a list longer than its bound, gives a warning and
	 * marks the result partial; what was read is kept.
	 */
	char *warnings[GM_SCHED_MAX_WARNINGS];
	size_t nwarnings;
	bool partial;
};

/* What gm_sched_read reads. */
enum { GM_SCHED_THREADS = 1, GM_SCHED_GOROUTINES = 2 };

/* Reads the Ms of runtime.allm and (GM_SCHED_GOROUTINES) the Gs of runtime.allgs. */
struct gomem_error *gm_sched_read(struct gm_runtime *rt, unsigned what, struct gm_sched *ret);
void gm_sched_deinit(struct gm_sched *s);
/* A warning of the reader (at most GM_SCHED_MAX_WARNINGS are kept). */
void gm_sched_warn(struct gm_sched *s, const char *fmt, ...) GM_PRINTF(2, 3);

/* _Gdead, and _Gdeadextra (runtime2.go@1.26): an extra M's G while no C thread uses it. */
static inline bool gm_goroutine_dead(const struct gm_goroutine *g)
{
	return g->status == 6 || g->status == 11;
}

const char *gm_goroutine_status_name(uint32_t status);
const char *gm_thread_kind_name(enum gm_thread_kind kind);

/* ---- the stacks (stacks.c) ---- */

/* How StackInuse (every stack span) splits; the parts add up to stack_span_bytes. */
struct gm_stack_totals {
	uint64_t stack_span_bytes, stack_spans, pool_spans, dedicated_spans;
	uint64_t goroutine_bytes;      /* stacks of live goroutines in stack spans */
	uint64_t dead_goroutine_bytes; /* dead Gs keep their stack for reuse */
	uint64_t g0_bytes, gsignal_bytes;
	uint64_t crash_bytes;	   /* runtime.gcrash's stack (1.22+) */
	uint64_t pool_free_bytes;  /* pool slots on the spans' free lists (nelems - allocCount) */
	uint64_t stackcache_bytes; /* per-P stack caches, mcache.stackcache[].size */
	uint64_t large_free_bytes; /* dedicated spans on stackLarge.free */
	int64_t unexplained_bytes; /* stack_span_bytes minus all of the above */
	uint64_t outside_bytes;	   /* g0 stacks outside the Go heap (OS, pthread) */
	uint64_t goroutines, live_goroutines, user_goroutines, system_goroutines;
	uint64_t dead_goroutines, ngsys; /* runtime's sched.ngsys (0 when absent) */
	uint64_t extra_m_goroutines;	 /* dead Gs that idle extra Ms (cgo) hold as curg */
	bool have_ngsys, have_symbols;
};

struct gm_stacks {
	struct gm_sched sched; /* the Gs and Ms; warnings of the whole reconciliation too */
	struct gm_stack_totals totals;
	uint64_t crash_lo, crash_hi; /* runtime.gcrash.stack, 0, 0 when absent */
	uint64_t stack_inuse;	     /* StackInuse from the runtime's counters */
};

/* Reads every G of allgs and every M of allm, and reconciles their stacks with StackInuse. */
struct gomem_error *gm_stacks_read(struct gm_runtime *rt, struct gm_stacks *ret);
void gm_stacks_deinit(struct gm_stacks *s);

#endif /* GOMEM_RUNTIME_H */
