/*
 * The address space explained: every mapping of the target, cut into parts
 * that each have an owner (DESIGN.md's vocabulary), a breakdown node, a
 * detail for a Go engineer and their resident bytes. `gomem mappings`
 * prints the parts; `gomem summary` sums them into the breakdown tree.
 */
#ifndef GOMEM_ADDRSPACE_H
#define GOMEM_ADDRSPACE_H

#include "runtime/runtime.h"

/* The owners, as DESIGN.md names them. */
enum gm_owner {
	GM_OWNER_GO_HEAP,
	GM_OWNER_GO_HEAP_RESERVED,
	GM_OWNER_GO_RUNTIME_METADATA,
	GM_OWNER_GO_RUNTIME_RESERVED,
	GM_OWNER_THREAD_STACK,
	GM_OWNER_MAIN_STACK,
	GM_OWNER_C_HEAP,
	GM_OWNER_BINARY,
	GM_OWNER_SHARED_LIBRARY,
	GM_OWNER_KERNEL,
	GM_OWNER_UNKNOWN,
	GM_OWNER_COUNT
};

const char *gm_owner_name(enum gm_owner o);

/*
 * The leaves of the breakdown tree that parts are summed into (the Go
 * heap's own leaves come from the heap walk, see struct gm_heap_split).
 */
enum gm_leaf {
	GM_LEAF_HEAP_MAPPED, /* split further by the walk */
	GM_LEAF_HEAP_RESERVED,
	GM_LEAF_META_SUMMARY,
	GM_LEAF_META_SCAV_INDEX,
	GM_LEAF_META_ARENA_INDEX,
	GM_LEAF_META_HEAP_ARENA,
	GM_LEAF_META_CHUNKS,
	GM_LEAF_META_PERSISTENT,
	GM_LEAF_META_GC_BITS,
	GM_LEAF_META_ALLSPANS,
	GM_LEAF_META_BUCKHASH,
	GM_LEAF_META_SPAN_QUEUES,
	GM_LEAF_RESV_SUMMARY,
	GM_LEAF_RESV_SCAV_INDEX,
	GM_LEAF_STACK_PTHREAD,
	GM_LEAF_STACK_GUARD,
	GM_LEAF_STACK_C_THREAD,
	GM_LEAF_STACK_TLS,
	GM_LEAF_STACK_MAIN,
	GM_LEAF_C_BRK,
	GM_LEAF_C_ARENA_MAPPED,
	GM_LEAF_C_ARENA_RESERVED,
	GM_LEAF_BIN_TEXT,
	GM_LEAF_BIN_RODATA,
	GM_LEAF_BIN_DATA,
	GM_LEAF_BIN_BSS,
	GM_LEAF_SHLIB, /* one node per library, named after the file */
	GM_LEAF_KERNEL_VDSO,
	GM_LEAF_KERNEL_VVAR,
	GM_LEAF_KERNEL_VSYSCALL, /* outside VSZ */
	GM_LEAF_UNKNOWN_MAPPED,
	GM_LEAF_UNKNOWN_RESERVED,
	GM_LEAF_COUNT
};

/* One mapping, or the part of one that a single owner has. */
struct gm_part {
	uint64_t start, end;
	uint32_t flags;	  /* the mapping's PF_R | PF_W | PF_X */
	const char *file; /* the mapping's file (owned by the target), NULL if anonymous */
	enum gm_owner owner;
	enum gm_leaf leaf;
	const char *group; /* GM_LEAF_SHLIB: the library's file name */
	bool in_vsz;	   /* false for the vsyscall page, which VmSize leaves out */
	bool has_rss;
	uint64_t rss; /* anonymous resident bytes (kernel core), or smaps/pagemap (live) */
	char *detail;
};

/* The kinds of pages in the mapped heap, with their bytes and resident bytes. */
enum gm_heap_kind {
	GM_HK_OBJECTS,	  /* allocated slots of in-use spans */
	GM_HK_FREE_SLOTS, /* free slots of in-use spans */
	GM_HK_TAIL_WASTE, /* the end of in-use spans too small for a slot */
	GM_HK_STACKS,	  /* manual spans holding stacks */
	GM_HK_WORK_BUFS,  /* manual spans holding GC work buffers */
	GM_HK_RETAINED,	  /* free pages the runtime keeps */
	GM_HK_RELEASED,	  /* free pages released to the OS (scavenged) */
	GM_HK_OTHER,	  /* mapped heap pages in no span or free run (should be none) */
	GM_HK_COUNT
};

struct gm_heap_split {
	uint64_t bytes[GM_HK_COUNT], rss[GM_HK_COUNT];
};

struct gm_addrspace {
	struct gm_part *parts; /* sorted by address, disjoint */
	size_t nparts;
	uint64_t vsz; /* VmSize: every part but the vsyscall page */
	bool has_rss;
	uint64_t rss;
	struct gm_heap_split heap;
	/*
	 * The Go runtime's metadata that gomem located (bytes the runtime
	 * counts in MemStats, i.e. what it asked the OS for), against what
	 * MemStats says it has: Sys - HeapSys - StackInuse - GC work buffers.
	 */
	uint64_t meta_located_bytes, meta_memstats_bytes;
	bool meta_known;
	/* For the explanation. */
	unsigned n_pthread_stacks, n_c_arenas, n_arenas;
	bool partial; /* something could not be read (the Ms): the report is incomplete */
	char **warnings;
	size_t nwarnings;
};

/* A warning for the reports (also marks nothing partial: the parts still add up). */
void gm_addrspace_warn(struct gm_addrspace *as, const char *fmt, ...) GM_PRINTF(2, 3);

/*
 * A range whose owner is known before the mappings are cut: from a
 * pointer the runtime keeps, or from the ELF files. Where a region is
 * partly mapped (a PROT_NONE reservation with read-write pieces), its
 * writable parts get owner/leaf and the others reserved_owner/reserved_leaf.
 */
struct gm_region {
	uint64_t start, end;
	enum gm_owner owner, reserved_owner;
	enum gm_leaf leaf, reserved_leaf;
	/*
	 * Bytes of it that MemStats counts in some *Sys: a fixed number, or
	 * (stat_mapped) whatever part of it is mapped read-write.
	 */
	uint64_t stat_bytes;
	bool stat_mapped;
	char label[200];   /* "page summary level 4" */
	char source[64];   /* where its address came from: "mheap_.pages.summary[4]" */
	const char *group; /* GM_LEAF_SHLIB: the library's file name */
};

struct gm_regions {
	struct gm_region *v;
	size_t n, cap;
};

/* Adds a copy of r (nothing when it is empty); fails past MAX_REGIONS. */
struct gomem_error *gm_regions_add(struct gm_regions *rs, const struct gm_region *r);

/* Builds the attribution of t's whole address space; rt NULL: without the Go runtime's view. */
struct gomem_error *gm_addrspace_build(struct gm_target *t, struct gm_runtime *rt,
				       struct gm_addrspace **ret);
void gm_addrspace_destroy(struct gm_addrspace *as);

/* ---- the breakdown tree (breakdown.c) ---- */

struct gm_bnode {
	char name[80];
	uint64_t vsz;
	bool has_rss;
	uint64_t rss;
	int parent; /* -1 for the root; parents come before their children */
};

#define GM_BREAKDOWN_MAX_NODES (1 << 24) /* its n is an int */

struct gm_breakdown {
	struct gm_bnode *nodes;
	int n;
};

struct gomem_error *gm_breakdown_build(const struct gm_addrspace *as, struct gm_breakdown *ret);
void gm_breakdown_deinit(struct gm_breakdown *bd);
#endif
