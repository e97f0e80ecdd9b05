/*
 * The breakdown tree of `gomem summary`: the parts of the address space
 * summed by what they are, the Go heap split by the heap walk, every node
 * with its VSZ and resident bytes; children add up to their parent
 * exactly. verbs/breakdown.c renders it.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addrspace/addrspace.h"

enum top {
	TOP_HEAP,
	TOP_META,
	TOP_RESERVED,
	TOP_STACKS,
	TOP_C_HEAP,
	TOP_BINARY,
	TOP_SHLIBS,
	TOP_KERNEL,
	TOP_UNKNOWN,
	TOP_COUNT
};

static const char *const top_names[TOP_COUNT] = {
    "Go heap",
    "Go runtime metadata",
    "Go reserved address space",
    "thread stacks",
    "C heap",
    "binary",
    "shared libraries",
    "kernel",
    "unknown",
};

struct leaf_info {
	enum top top;
	const char *name;
};

static const struct leaf_info leaves[GM_LEAF_COUNT] = {
    [GM_LEAF_HEAP_MAPPED] = {TOP_HEAP, "mapped"},
    [GM_LEAF_HEAP_RESERVED] = {TOP_HEAP, "reserved, not mapped"},
    [GM_LEAF_META_SUMMARY] = {TOP_META, "page summaries, mapped part"},
    [GM_LEAF_META_SCAV_INDEX] = {TOP_META, "scavenger index, mapped part"},
    [GM_LEAF_META_ARENA_INDEX] = {TOP_META, "arena index (heap index)"},
    [GM_LEAF_META_HEAP_ARENA] = {TOP_META, "heapArena metadata"},
    [GM_LEAF_META_CHUNKS] = {TOP_META, "page allocator bitmaps"},
    [GM_LEAF_META_PERSISTENT] = {TOP_META, "persistentalloc chunks"},
    [GM_LEAF_META_GC_BITS] = {TOP_META, "GC bitmaps (gcBits arenas)"},
    [GM_LEAF_META_ALLSPANS] = {TOP_META, "allspans array"},
    [GM_LEAF_META_BUCKHASH] = {TOP_META, "profiling bucket hash"},
    [GM_LEAF_META_SPAN_QUEUES] = {TOP_META, "GC span queues"},
    [GM_LEAF_RESV_SUMMARY] = {TOP_RESERVED, "page summaries"},
    [GM_LEAF_RESV_SCAV_INDEX] = {TOP_RESERVED, "scavenger index"},
    [GM_LEAF_STACK_PTHREAD] = {TOP_STACKS, "pthread stacks of Ms (cgo)"},
    [GM_LEAF_STACK_GUARD] = {TOP_STACKS, "guard pages"},
    [GM_LEAF_STACK_C_THREAD] = {TOP_STACKS, "stacks of non-Go threads"},
    [GM_LEAF_STACK_TLS] = {TOP_STACKS, "TLS of the initial thread"},
    [GM_LEAF_STACK_MAIN] = {TOP_STACKS, "main thread's stack"},
    [GM_LEAF_C_BRK] = {TOP_C_HEAP, "brk heap"},
    [GM_LEAF_C_ARENA_MAPPED] = {TOP_C_HEAP, "glibc malloc heaps, mapped"},
    [GM_LEAF_C_ARENA_RESERVED] = {TOP_C_HEAP, "glibc malloc heaps, reserved"},
    [GM_LEAF_BIN_TEXT] = {TOP_BINARY, "text"},
    [GM_LEAF_BIN_RODATA] = {TOP_BINARY, "read-only data"},
    [GM_LEAF_BIN_DATA] = {TOP_BINARY, "data"},
    [GM_LEAF_BIN_BSS] = {TOP_BINARY, "bss"},
    [GM_LEAF_SHLIB] = {TOP_SHLIBS, "?"},
    [GM_LEAF_KERNEL_VDSO] = {TOP_KERNEL, "vdso"},
    [GM_LEAF_KERNEL_VVAR] = {TOP_KERNEL, "vvar"},
    [GM_LEAF_KERNEL_VSYSCALL] = {TOP_KERNEL, "vsyscall"},
    [GM_LEAF_UNKNOWN_MAPPED] = {TOP_UNKNOWN, "mapped"},
    [GM_LEAF_UNKNOWN_RESERVED] = {TOP_UNKNOWN, "reserved (PROT_NONE, or read-only in a gcore)"},
};

static const char *const heap_names[GM_HK_COUNT] = {
    [GM_HK_OBJECTS] = "objects",
    [GM_HK_FREE_SLOTS] = "free slots",
    [GM_HK_TAIL_WASTE] = "tail waste",
    [GM_HK_STACKS] = "stack spans (goroutines, g0, gsignal)",
    [GM_HK_WORK_BUFS] = "GC work buffers",
    [GM_HK_RETAINED] = "free, retained",
    [GM_HK_RELEASED] = "free, released to the OS",
    [GM_HK_OTHER] = "mapped, in no span or free run",
};

struct tree {
	struct gm_breakdown *bd;
	size_t n, cap; /* bd->n as a size_t, for the array helpers */
	bool has_rss;
	bool failed;
};

GM_DEFINE_GROW(grow_nodes, struct gm_bnode)

static int node(struct tree *t, int parent, const char *name, uint64_t vsz, uint64_t rss)
{
	if (t->failed)
		return -1;
	struct gm_bnode *n =
	    t->n < GM_BREAKDOWN_MAX_NODES ? grow_nodes(&t->bd->nodes, &t->n, &t->cap) : NULL;
	if (!n) {
		t->failed = true;
		return -1;
	}
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->vsz = vsz;
	n->rss = rss;
	n->has_rss = t->has_rss;
	n->parent = parent;
	return t->bd->n++;
}

/* Adds vsz and rss to a node and every ancestor. */
static void add_up(struct tree *t, int i, uint64_t vsz, uint64_t rss)
{
	for (int guard = 0; i >= 0 && guard < 16; guard++) {
		t->bd->nodes[i].vsz += vsz;
		t->bd->nodes[i].rss += rss;
		i = t->bd->nodes[i].parent;
	}
}

static int child(struct tree *t, int parent, const char *name)
{
	for (int i = parent + 1; i < t->bd->n; i++) {
		if (t->bd->nodes[i].parent == parent && strcmp(t->bd->nodes[i].name, name) == 0)
			return i;
	}
	return node(t, parent, name, 0, 0);
}

static void heap_nodes(struct tree *t, int heap, const struct gm_addrspace *as, uint64_t mapped,
		       uint64_t mapped_rss)
{
	const struct gm_heap_split *h = &as->heap;
	uint64_t walked = 0, walked_rss = 0;
	for (int k = 0; k < GM_HK_OTHER; k++) {
		walked += h->bytes[k];
		walked_rss += h->rss[k];
	}
	/* Without a heap walk everything mapped is "other": the sum still holds. */
	bool walk_ok = walked <= mapped && walked_rss <= mapped_rss;
	int spans = node(t, heap, "in-use spans", 0, 0);
	for (int k = GM_HK_OBJECTS; k <= GM_HK_TAIL_WASTE; k++) {
		int n = node(t, spans, heap_names[k], 0, 0);
		if (walk_ok && n >= 0)
			add_up(t, n, h->bytes[k], h->rss[k]);
	}
	for (int k = GM_HK_STACKS; k < GM_HK_OTHER; k++) {
		if (k == GM_HK_WORK_BUFS && !h->bytes[k])
			continue;
		int n = node(t, heap, heap_names[k], 0, 0);
		if (walk_ok && n >= 0)
			add_up(t, n, h->bytes[k], h->rss[k]);
	}
	uint64_t other = walk_ok ? mapped - walked : mapped;
	uint64_t other_rss = walk_ok ? mapped_rss - walked_rss : mapped_rss;
	if (other) {
		int n = node(t, heap, heap_names[GM_HK_OTHER], 0, 0);
		if (n >= 0)
			add_up(t, n, other, other_rss);
	}
}

struct gomem_error *gm_breakdown_build(const struct gm_addrspace *as, struct gm_breakdown *ret)
{
	struct gm_breakdown bd = {0};
	struct tree t = {.bd = &bd, .has_rss = as->has_rss};
	int root = node(&t, -1, "process", 0, 0);
	int tops[TOP_COUNT];
	for (int i = 0; i < TOP_COUNT; i++)
		tops[i] = node(&t, root, top_names[i], 0, 0);
	uint64_t heap_mapped = 0, heap_mapped_rss = 0;
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		if (p->in_vsz && p->leaf == GM_LEAF_HEAP_MAPPED) {
			heap_mapped += p->end - p->start;
			heap_mapped_rss += p->rss;
		}
	}
	/* The mapped heap's leaves come from the walk, then the reserved rest. */
	heap_nodes(&t, tops[TOP_HEAP], as, heap_mapped, heap_mapped_rss);
	node(&t, tops[TOP_HEAP], leaves[GM_LEAF_HEAP_RESERVED].name, 0, 0);
	for (size_t i = 0; i < as->nparts && !t.failed; i++) {
		const struct gm_part *p = &as->parts[i];
		if (!p->in_vsz || p->leaf == GM_LEAF_HEAP_MAPPED)
			continue;
		const struct leaf_info *li = &leaves[p->leaf];
		const char *name = li->name;
		if (p->leaf == GM_LEAF_SHLIB)
			name = p->group ? p->group : (p->file ? p->file : "anonymous");
		int n = child(&t, tops[li->top], name);
		if (n >= 0)
			add_up(&t, n, p->end - p->start, p->rss);
	}
	if (t.failed) {
		free(bd.nodes);
		return &gm_error_no_memory;
	}
	*ret = bd;
	return NULL;
}

void gm_breakdown_deinit(struct gm_breakdown *bd)
{
	free(bd->nodes);
	bd->nodes = NULL;
	bd->n = 0;
}
