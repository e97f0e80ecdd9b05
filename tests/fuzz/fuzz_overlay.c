/*
 * Fuzz target: a real fixture core with patches, read by the whole tool.
 *
 * GOMEM_FUZZ_EXE and GOMEM_FUZZ_CORE name a fixture's executable and its
 * core. The core is copied into a temporary file once; each input is
 *
 *   verb u8, then patch records (fuzz.h: kind, index, offset, len, bytes)
 *
 * and each record overwrites bytes of one region of the core that the tool
 * reads: the ELF and program headers, the notes, and the runtime's metadata
 * as the unpatched core has it (mheap_, memstats, gcController, the Ps and
 * mcaches, allspans and the span descriptors, the heap arenas' metadata,
 * the page allocator's bitmaps, allocation bitmaps, Gs and Ms), and the
 * edges of every segment, where the address space's probes look. Random bytes
 * would almost never hit those; patches of them find the walkers' bugs.
 * Then gomem_target_open_core() and the verb the input chose, and the core
 * gets its original bytes back.
 */
#include "fuzz.h"
#include "runtime/runtime.h"

#include <elf.h>

enum kind {
	K_HEADERS,  /* ELF header and program headers */
	K_NOTES,    /* every PT_NOTE */
	K_MHEAP,    /* runtime.mheap_ */
	K_STATS,    /* runtime.memstats, runtime.gcController */
	K_PS,	    /* allp's header and array, each P, each mcache */
	K_ALLSPANS, /* the allspans array */
	K_SPANS,    /* each span descriptor allspans lists */
	K_ARENAS,   /* heapArenas' array, the arena L2 map's entries, each heapArena */
	K_PAGES,    /* pages.inUse's array, the chunks' pallocData */
	K_BITS,	    /* each in-use span's allocBits */
	K_GS,	    /* allgs' header and array, each G, each M on allm */
	K_WHATIS,   /* not a patch: the address whatis asks about (a live span's byte) */
	K_SEGEDGE,  /* the first and last 256 bytes of each PT_LOAD's data: what the address
		       space's probes read (malloc's heap_info and chunk headers, stacks) */
	K_COUNT
};

static struct fz_file exe_file, core_file;
static struct gm_dwarf *dwarf; /* opened once: the executable is not patched */
static struct fz_regions lists[K_COUNT];
/* K_WHATIS holds addresses and lengths of live spans, not file ranges. */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Adds the file ranges that hold [addr, addr + len) of the target's memory. */
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

static uint64_t type_size(struct gomem_target *t, const char *type, uint64_t dflt)
{
	uint64_t n;
	struct gomem_error *err = gm_dwarf_sizeof(t->dwarf, type, &n);
	gomem_error_destroy(err);
	return err ? dflt : n;
}

static uint64_t var_addr(struct gomem_target *t, const char *name)
{
	uint64_t a = 0;
	struct gomem_error *err = gm_dwarf_variable(t->dwarf, name, &a);
	gomem_error_destroy(err);
	return err ? 0 : a + t->runtime->bias;
}

static uint64_t rd64(struct gomem_target *t, uint64_t addr)
{
	uint64_t v = 0;
	struct gomem_error *err = gm_read_u64(&t->target.mem, addr, &v);
	gomem_error_destroy(err);
	return err ? 0 : v;
}

static uint64_t field_off(struct gomem_target *t, const char *type, const char *path)
{
	struct gm_field f;
	struct gomem_error *err = gm_dwarf_field(t->dwarf, type, path, &f);
	gomem_error_destroy(err);
	return err || !f.present ? UINT64_MAX : f.offset;
}

static void add_headers(struct gomem_target *t)
{
	Elf64_Ehdr eh;
	memcpy(&eh, t->target.core.map, sizeof(eh));
	fz_regions_add(&lists[K_HEADERS], 0,
		       eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr));
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(t->target.core.map + eh.e_phoff);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_NOTE)
			fz_regions_add(&lists[K_NOTES], ph[i].p_offset, ph[i].p_filesz);
	}
	for (size_t i = 0; i < t->target.core.nloads; i++) {
		const struct gm_segment *s = &t->target.core.loads[i];
		uint64_t n = s->data_len < 256 ? s->data_len : 256;
		fz_regions_add(&lists[K_SEGEDGE], s->file_offset, n);
		if (s->data_len > 256)
			fz_regions_add(&lists[K_SEGEDGE], s->file_offset + s->data_len - n, n);
	}
}

static struct gomem_error *add_span(void *arg, const struct gm_span *sp)
{
	struct gomem_target *t = arg;
	fz_regions_add(&lists[K_WHATIS], sp->start, sp->bytes);
	if (sp->state == GM_SPAN_IN_USE && sp->alloc_bits && sp->nelems)
		add_addr(K_BITS, t, sp->alloc_bits, (sp->nelems + 7) / 8);
	return NULL;
}

static void add_runtime(struct gomem_target *t)
{
	struct gm_runtime *rt = t->runtime;
	struct gm_layout *L = &rt->L;
	add_addr(K_MHEAP, t, rt->mheap, type_size(t, "runtime.mheap", 4096));
	add_addr(K_STATS, t, rt->memstats, type_size(t, "runtime.mstats", 4096));
	add_addr(K_STATS, t, rt->gc_controller, type_size(t, "runtime.gcControllerState", 1024));

	uint64_t psize = type_size(t, "runtime.p", 4096);
	uint64_t mcsize = type_size(t, "runtime.mcache", 2048);
	uint64_t allp = rd64(t, rt->allp), np = rd64(t, rt->allp + 8);
	add_addr(K_PS, t, rt->allp, 24);
	add_addr(K_PS, t, allp, 8 * np);
	for (uint64_t i = 0; i < np && i < 256; i++) {
		uint64_t p = rd64(t, allp + 8 * i);
		add_addr(K_PS, t, p, psize);
		add_addr(K_PS, t, rd64(t, p + L->p_mcache.offset), mcsize);
	}

	uint64_t spans = rd64(t, rt->mheap + L->mheap_allspans.offset);
	uint64_t nspans = rd64(t, rt->mheap + L->mheap_allspans.offset + 8);
	add_addr(K_ALLSPANS, t, spans, 8 * nspans);
	for (uint64_t i = 0; i < nspans && i < 100000; i++)
		add_addr(K_SPANS, t, rd64(t, spans + 8 * i), L->mspan_size);

	uint64_t ha = rd64(t, rt->mheap + L->mheap_heap_arenas.offset);
	uint64_t nha = rd64(t, rt->mheap + L->mheap_heap_arenas.offset + 8);
	add_addr(K_ARENAS, t, ha, L->mheap_heap_arenas.elem_size * nha);
	struct gm_arena *arenas = NULL;
	size_t narenas = 0;
	fz_check_error(gm_heap_arenas(rt, &arenas, &narenas));
	uint64_t l2 = rd64(t, rt->mheap + L->mheap_arenas.offset);
	uint64_t hasize = type_size(t, "runtime.heapArena", 65536);
	for (size_t i = 0; i < narenas; i++) {
		uint64_t ai = (arenas[i].base - L->arena_base_offset) >> L->log_arena_bytes;
		add_addr(K_ARENAS, t, l2 + 8 * (ai & ((1ULL << L->arena_l2_bits) - 1)), 8);
		add_addr(K_ARENAS, t, arenas[i].meta, hasize);
	}
	free(arenas);

	uint64_t pages = rt->mheap + L->mheap_pages.offset;
	uint64_t ranges = rd64(t, pages + L->pagealloc_inuse_ranges.offset);
	uint64_t nranges = rd64(t, pages + L->pagealloc_inuse_ranges.offset + 8);
	add_addr(K_PAGES, t, ranges, L->addrrange_size * nranges);
	uint64_t chunk_bytes = L->chunk_pages * L->page_size;
	for (uint64_t r = 0; r < nranges && r < 64; r++) {
		uint64_t base = rd64(t, ranges + r * L->addrrange_size);
		uint64_t limit = rd64(t, ranges + r * L->addrrange_size + 8);
		for (uint64_t a = base; a < limit && a - base < (64ULL << 30); a += chunk_bytes) {
			uint64_t ci = (a - L->arena_base_offset) / chunk_bytes;
			uint64_t l2map = rd64(t, pages + L->pagealloc_chunks.offset +
						     8 * (ci >> L->chunks_l2_bits));
			uint64_t l2i = ci & ((1ULL << L->chunks_l2_bits) - 1);
			add_addr(K_PAGES, t, l2map + l2i * L->pallocdata_size, L->pallocdata_size);
		}
	}
	fz_check_error(gm_heap_foreach_span(rt, add_span, t, NULL));
}

static void add_goroutines(struct gomem_target *t)
{
	uint64_t allgs = var_addr(t, "runtime.allgs");
	uint64_t gsize = type_size(t, "runtime.g", 512), msize = type_size(t, "runtime.m", 2048);
	uint64_t arr = rd64(t, allgs), n = rd64(t, allgs + 8);
	add_addr(K_GS, t, allgs, 24);
	add_addr(K_GS, t, arr, 8 * n);
	for (uint64_t i = 0; i < n && i < 10000; i++)
		add_addr(K_GS, t, rd64(t, arr + 8 * i), gsize);
	uint64_t alllink = field_off(t, "runtime.m", "alllink");
	uint64_t m = rd64(t, var_addr(t, "runtime.allm"));
	for (int i = 0; m && alllink != UINT64_MAX && i < 1000; i++) {
		add_addr(K_GS, t, m, msize);
		m = rd64(t, m + alllink);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Copies, so that a fixture rebuilt meanwhile does not change under the fuzzer. */
	fz_file_copy(&exe_file, fz_env("GOMEM_FUZZ_EXE"));
	fz_file_copy(&core_file, fz_env("GOMEM_FUZZ_CORE"));
	struct gomem_error *err = gm_dwarf_open(exe_file.path, &dwarf);
	struct gomem_target *t = NULL;
	if (!err)
		err = gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
	if (err)
		fz_die("the unpatched fixture does not open", gomem_error_message(err));
	add_headers(t);
	add_runtime(t);
	add_goroutines(t);
	gomem_target_destroy(t);
	for (int k = 0; k < K_COUNT; k++)
		fprintf(stderr, "fuzz_overlay: region list %d: %zu regions\n", k, lists[k].n);
	return 0;
}

struct patches {
	struct fz_overlay core;
	uint64_t whatis;
};

/* K_WHATIS records choose the address for whatis; the others patch the core. */
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
		fz_run_verb(t, verb, ps.whatis);
		gomem_target_destroy(t);
	}
	fz_check_error(err);
	fz_restore(&ps.core);
	return 0;
}
