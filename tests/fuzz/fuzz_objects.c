/*
 * Fuzz target: the object graph's walk over a real fixture core with patches.
 *
 * GOMEM_FUZZ_EXE and GOMEM_FUZZ_CORE name a fixture's executable and its
 * core, as for fuzz_overlay. Each input is
 *
 *   verb u8, then patch records (fuzz.h: kind, index, offset, len, bytes)
 *
 * over what the object graph reads and the summary does not: the in-use
 * span descriptors and their allocation bitmaps, the objects themselves
 * (headers, pointer words, the span heap bits and inline marks at the end
 * of small spans), the heap arenas' metadata (the 1.19-1.21 bitmaps), the
 * modules (moduledata, the data and bss GC masks, the data and bss
 * sections), special records and the finalizer queue, and the type
 * descriptors the headers and large objects name (and their masks). Then
 * `objects --json` (or, by the verb byte's low bit, a whatis of a heap
 * object, which builds the graph too). A corrupt core must give an error or
 * a report, never a crash, a hang or an allocation without bound.
 */
#include "fuzz.h"

enum kind {
	K_SPANS,  /* each in-use span descriptor */
	K_BITS,	  /* allocBits of each in-use span */
	K_HEAP,	  /* the first and last 4 KiB of each in-use scan span: objects, heap bits, marks */
	K_ARENAS, /* each heapArena (its bitmap before 1.22) */
	K_MODULES,  /* moduledata, its GC masks, the data and bss sections */
	K_SPECIALS, /* special records of the spans, finalizer blocks */
	K_TYPES,    /* type descriptors in headers and largeType, their masks */
	K_WHATIS,   /* not a patch: the address whatis asks about (an object) */
	K_COUNT
};

static struct fz_file exe_file, core_file;
static struct gm_dwarf *dwarf;
static struct fz_regions lists[K_COUNT];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file ranges that hold [addr, addr + len) of the target's memory. */
static void add_addr(enum kind k, struct gomem_target *t, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < t->target.core.nloads && len; i++) {
		const struct gm_segment *s = &t->target.core.loads[i];
		uint64_t data_end = s->start + s->data_len;
		if (addr >= data_end || addr + len <= s->start)
			continue;
		uint64_t a = addr > s->start ? addr : s->start;
		uint64_t b = addr + len < data_end ? addr + len : data_end;
		fz_regions_add(&lists[k], s->file_offset + (a - s->start), b - a);
	}
}

static uint64_t rd64(struct gomem_target *t, uint64_t addr)
{
	uint64_t v = 0;
	struct gomem_error *err = gm_read_u64(&t->target.mem, addr, &v);
	gomem_error_destroy(err);
	return err ? 0 : v;
}

static void add_types(struct gomem_target *t, const struct gm_graph_layout *G, uint64_t type)
{
	if (!type)
		return;
	add_addr(K_TYPES, t, type, G->type_size);
	add_addr(K_TYPES, t, rd64(t, type + G->type_gcdata.offset), 64);
}

static void add_spans(struct gomem_target *t, const struct gm_graph *g,
		      const struct gm_graph_layout *G)
{
	const struct gm_heap_index *idx = g->idx;
	struct gm_runtime *rt = t->runtime;
	for (size_t i = 0; i < idx->nspans && i < 20000; i++) {
		const struct gm_index_span *s = &idx->spans[i];
		add_addr(K_SPANS, t, s->desc, rt->L.mspan_size);
		add_addr(K_BITS, t, rd64(t, s->desc + rt->L.mspan_allocbits.offset),
			 (s->nelems + 7) / 8);
		if (!s->noscan) {
			uint64_t n = s->bytes < 4096 ? s->bytes : 4096;
			add_addr(K_HEAP, t, s->base, n);
			add_addr(K_HEAP, t, s->base + s->bytes - n, n);
		}
		if (s->layout == GM_LAYOUT_LARGE)
			add_types(t, G, s->large_type);
		else if (s->layout == GM_LAYOUT_HEADER)
			add_types(t, G, rd64(t, s->base));
		for (uint64_t sp = s->specials, n = 0; sp && n < 64; n++) {
			add_addr(K_SPECIALS, t, sp, 64);
			sp = rd64(t, sp + G->special_next.offset);
		}
		if (i < 64)
			fz_regions_add(&lists[K_WHATIS], s->base + 8, 1);
	}
	for (size_t i = 0; i < idx->narenas; i++)
		add_addr(K_ARENAS, t, idx->arenas[i].meta, 4096);
}

static void add_modules(struct gomem_target *t, const struct gm_graph_layout *G)
{
	uint64_t md = 0;
	gomem_error_destroy(gm_runtime_first_module(t->runtime, &md));
	add_addr(K_MODULES, t, md, 600);
	uint64_t data = rd64(t, md + G->md_data.offset), edata = rd64(t, md + G->md_edata.offset);
	uint64_t bss = rd64(t, md + G->md_bss.offset), ebss = rd64(t, md + G->md_ebss.offset);
	add_addr(K_MODULES, t, rd64(t, md + G->md_gcdatamask_bytes.offset),
		 (edata - data) / 64 + 1);
	add_addr(K_MODULES, t, rd64(t, md + G->md_gcbssmask_bytes.offset), (ebss - bss) / 64 + 1);
	add_addr(K_MODULES, t, data, edata - data < (1 << 20) ? edata - data : 1 << 20);
	add_addr(K_MODULES, t, bss, ebss - bss < (1 << 20) ? ebss - bss : 1 << 20);
	if (G->allfin) {
		uint64_t fb = rd64(t, G->allfin);
		for (int n = 0; fb && n < 16; n++) {
			add_addr(K_SPECIALS, t, fb, 4096);
			fb = rd64(t, fb + G->finblock_alllink.offset);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_file_copy(&exe_file, fz_env("GOMEM_FUZZ_EXE"));
	fz_file_copy(&core_file, fz_env("GOMEM_FUZZ_CORE"));
	struct gomem_error *err = gm_dwarf_open(exe_file.path, &dwarf);
	struct gomem_target *t = NULL;
	struct gm_graph *g = NULL;
	const struct gm_graph_layout *G = NULL;
	if (!err)
		err = gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
	if (!err)
		err = gm_runtime_graph_layout(t->runtime, &G);
	if (!err)
		err = gm_graph_create(t->runtime, &g);
	if (err)
		fz_die("the unpatched fixture has no object graph", gomem_error_message(err));
	add_spans(t, g, G);
	add_modules(t, G);
	gm_graph_destroy(g);
	gomem_target_destroy(t);
	for (int k = 0; k < K_COUNT; k++)
		fprintf(stderr, "fuzz_objects: region list %d: %zu regions\n", k, lists[k].n);
	return 0;
}

struct patches {
	struct fz_overlay core;
	uint64_t whatis;
};

static void patch_core(void *arg, unsigned kind, uint64_t at, const uint8_t *bytes, size_t len)
{
	struct patches *ps = arg;
	if (kind == K_WHATIS)
		ps->whatis = at;
	else
		fz_patch(&ps->core, at, bytes, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned verb = data[0];
	struct patches ps = {.core = {.file = &core_file},
			     .whatis = lists[K_WHATIS].n ? lists[K_WHATIS].r[0].off : 0};
	fz_each_record(lists, K_COUNT, data + 1, size - 1, patch_core, &ps);
	struct gomem_target *t = NULL;
	struct gomem_error *err =
	    gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
	if (!err) {
		char addr[32];
		const char *argv[2] = {"--json", addr};
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)ps.whatis);
		char *out = NULL;
		int partial = 0;
		const char *verbname = verb & 1 ? "whatis" : "objects";
		struct gomem_error *e =
		    gomem_run(t, verbname, verb & 1 ? 2 : 1, argv, &out, &partial);
		if (!e && (!out || out[0] != '{'))
			fz_die("gomem_run succeeded without its output", verbname);
		gomem_free(out);
		fz_check_error(e);
		gomem_target_destroy(t);
	}
	fz_check_error(err);
	fz_restore(&ps.core);
	return 0;
}
