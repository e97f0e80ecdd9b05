/*
 * Every byte of the address space gets an owner. Regions are claimed in
 * order of certainty, each only where nothing claimed it before:
 *
 *   1. what the Go runtime keeps the address of (goregions.c);
 *   2. the executable's segments, from its program headers;
 *   3. what the kernel or the threads say: the vsyscall page, the vdso
 *      (AT_SYSINFO_EHDR), the main stack (AT_RANDOM points into it), each
 *      M's g0 stack and each thread's stack pointer and thread pointer;
 *   4. glibc's malloc heaps, recognized by their heap_info header, and the
 *      brk heap, by its place above the executable and its first chunk;
 *   5. file-backed mappings, by their file (NT_FILE), and the .bss of a
 *      shared library, from the library's program headers;
 *
 * and what is left is `unknown`. Then the mappings are cut at region
 * boundaries into parts, and the heap walk (spans and free page runs) is
 * laid over the mapped heap to split it further.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addrspace/addrspace.h"

#define OS_PAGE		 GM_OS_PAGE
#define GLIBC_HEAP_MAX	 (64ULL << 20) /* HEAP_MAX_SIZE on 64-bit (malloc/arena.c) */
#define BRK_RANDOM_RANGE (1ULL << 30)  /* arch_randomize_brk on x86-64 */
#define MAX_REGIONS	 (1u << 19)

static const char *const owner_names[GM_OWNER_COUNT] = {
    [GM_OWNER_GO_HEAP] = "go-heap",
    [GM_OWNER_GO_HEAP_RESERVED] = "go-heap-reserved",
    [GM_OWNER_GO_RUNTIME_METADATA] = "go-runtime-metadata",
    [GM_OWNER_GO_RUNTIME_RESERVED] = "go-runtime-reserved",
    [GM_OWNER_THREAD_STACK] = "thread-stack",
    [GM_OWNER_MAIN_STACK] = "main-stack",
    [GM_OWNER_C_HEAP] = "c-heap",
    [GM_OWNER_BINARY] = "binary",
    [GM_OWNER_SHARED_LIBRARY] = "shared-library",
    [GM_OWNER_KERNEL] = "kernel",
    [GM_OWNER_UNKNOWN] = "unknown",
};

const char *gm_owner_name(enum gm_owner o)
{
	return o < GM_OWNER_COUNT ? owner_names[o] : "unknown";
}

static uint64_t page_down(uint64_t n)
{
	return n & ~(OS_PAGE - 1);
}

static uint64_t page_up(uint64_t n)
{
	return (n + OS_PAGE - 1) & ~(OS_PAGE - 1);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

void gm_addrspace_warn(struct gm_addrspace *as, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* Out of memory loses the warning, not the report. */
	gomem_error_destroy(gm_strlist_vadd(&as->warnings, &as->nwarnings, fmt, ap));
	va_end(ap);
}

GM_DEFINE_GROW_MAX(grow_regions, struct gm_region, MAX_REGIONS,
		   "regions: the runtime's lists are corrupt")

struct gomem_error *gm_regions_add(struct gm_regions *rs, const struct gm_region *r)
{
	if (r->end <= r->start)
		return NULL;
	struct gm_region *slot;
	TRY(grow_regions(&rs->v, &rs->n, &rs->cap, &slot));
	*slot = *r;
	return NULL;
}

/* ---- the builder ---- */

struct builder {
	struct gm_target *t;
	struct gm_runtime *rt; /* NULL: no view of the Go runtime */
	struct gm_addrspace *as;
	const struct gm_mapping *maps;
	size_t nmaps;
	struct gm_regions rs; /* accepted regions, in claim order */
	struct claim {
		uint64_t start, end;
	} * claims; /* the same ranges, sorted by address */
	size_t nclaims, cap_claims;
	struct gm_rt_regions go; /* the Go runtime's regions */
	bool have_model;
	struct gm_sched sched;	      /* its Ms */
	uint64_t m0_stack_hi;	      /* m0.g0.stack.hi: inside the main thread's stack */
	struct gm_target_notes notes; /* a core's auxv and threads; none for other targets */
	uint64_t exe_lo, exe_hi;      /* the executable's image */
	int *part_region;	      /* per part: index into rs, or -1 */
};

GM_DEFINE_GROW(grow_claims, struct claim)

static const struct gm_mapping *mapping_at(struct builder *b, uint64_t addr)
{
	return GM_FIND_RANGE(b->maps, b->nmaps, start, end, addr);
}

/* The first claim that ends after addr. */
static size_t claim_index(const struct builder *b, uint64_t addr)
{
	return GM_UPPER_BOUND(b->claims, b->nclaims, end, addr);
}

static bool claimed(const struct builder *b, uint64_t addr)
{
	size_t i = claim_index(b, addr);
	return i < b->nclaims && b->claims[i].start <= addr;
}

static struct gomem_error *insert_claim(struct builder *b, const struct gm_region *r)
{
	/* Appending in address order (the Go regions) costs no move. */
	size_t i = claim_index(b, r->start);
	if (!grow_claims(&b->claims, &b->nclaims, &b->cap_claims))
		return &gm_error_no_memory;
	memmove(&b->claims[i + 1], &b->claims[i], (b->nclaims - 1 - i) * sizeof(*b->claims));
	b->claims[i] = (struct claim){r->start, r->end};
	return NULL;
}

/*
 * Accepts the parts of r that nothing claimed before; *clipped_ret (if
 * not NULL) says whether some of it was claimed already.
 */
static struct gomem_error *claim(struct builder *b, const struct gm_region *r, bool *clipped_ret)
{
	uint64_t pos = r->start;
	bool clipped = false;
	while (pos < r->end) {
		size_t i = claim_index(b, pos);
		if (i < b->nclaims && b->claims[i].start <= pos) {
			pos = b->claims[i].end;
			clipped = true;
			continue;
		}
		uint64_t end = i < b->nclaims ? min_u64(r->end, b->claims[i].start) : r->end;
		struct gm_region piece = *r;
		piece.start = pos;
		piece.end = end;
		TRY(gm_regions_add(&b->rs, &piece));
		TRY(insert_claim(b, &piece));
		pos = end;
	}
	if (clipped_ret)
		*clipped_ret = clipped;
	return NULL;
}

/* The unclaimed stretch of addr's mapping around addr: [*lo, *hi). */
static bool gap_around(struct builder *b, uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	const struct gm_mapping *m = mapping_at(b, addr);
	if (!m || claimed(b, addr))
		return false;
	size_t i = claim_index(b, addr);
	*hi = i < b->nclaims ? min_u64(m->end, b->claims[i].start) : m->end;
	*lo = i > 0 ? max_u64(m->start, b->claims[i - 1].end) : m->start;
	return true;
}

static void set_label(struct gm_region *r, const char *source, const char *fmt, ...)
    GM_PRINTF(3, 4);

static void set_label(struct gm_region *r, const char *source, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->label, sizeof(r->label), fmt, ap);
	va_end(ap);
	snprintf(r->source, sizeof(r->source), "%s", source);
}

static struct gm_region region(uint64_t start, uint64_t end, enum gm_owner owner, enum gm_leaf leaf)
{
	return (struct gm_region){.start = start,
				  .end = end,
				  .owner = owner,
				  .reserved_owner = owner,
				  .leaf = leaf,
				  .reserved_leaf = leaf};
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- the executable ---- */

static struct gomem_error *exe_regions(struct builder *b)
{
	const struct gm_exe *exe = &b->t->exe;
	uint64_t bias = b->t->bias;
	struct gomem_error *err = NULL;
	b->exe_lo = UINT64_MAX;
	for (size_t i = 0; !err && i < exe->nloads; i++) {
		uint64_t v = exe->loads[i].vaddr, filesz = exe->loads[i].filesz;
		uint64_t memsz = exe->loads[i].memsz;
		uint32_t f = exe->loads[i].flags;
		uint64_t lo = page_down(v + bias), fend = page_up(v + filesz + bias);
		uint64_t mend = page_up(v + memsz + bias);
		char names[128];
		b->exe_lo = min_u64(b->exe_lo, lo);
		b->exe_hi = max_u64(b->exe_hi, mend);
		if (fend > lo) {
			enum gm_leaf leaf = (f & PF_X)	 ? GM_LEAF_BIN_TEXT
					    : (f & PF_W) ? GM_LEAF_BIN_DATA
							 : GM_LEAF_BIN_RODATA;
			struct gm_region r = region(lo, fend, GM_OWNER_BINARY, leaf);
			gm_exe_section_names(exe, v, v + filesz, false, names, sizeof(names));
			set_label(&r, "executable's program headers", "executable %s (%s)",
				  leaf == GM_LEAF_BIN_TEXT   ? "text"
				  : leaf == GM_LEAF_BIN_DATA ? "data"
							     : "read-only data",
				  names[0] ? names : "no sections");
			err = claim(b, &r, NULL);
		}
		if (!err && mend > fend) {
			struct gm_region r = region(fend, mend, GM_OWNER_BINARY, GM_LEAF_BIN_BSS);
			char sym[200], h[32];
			uint64_t symsize = 0;
			gm_exe_section_names(exe, v, v + memsz, true, names, sizeof(names));
			if (gm_exe_largest_object(exe, v + filesz, v + memsz, sym, sizeof(sym),
						  &symsize))
				set_label(&r, "executable's program headers",
					  "executable zero-initialized data (%s); largest: %s, %s",
					  names[0] ? names : ".bss", sym,
					  gm_human_bytes(symsize, h));
			else
				set_label(&r, "executable's program headers",
					  "executable zero-initialized data (%s)",
					  names[0] ? names : ".bss");
			err = claim(b, &r, NULL);
		}
	}
	return err;
}

/* ---- what the kernel and the threads say ---- */

static struct gomem_error *kernel_regions(struct builder *b)
{
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		const char *p = m->path ? m->path : "";
		struct gm_region r = region(m->start, m->end, GM_OWNER_KERNEL, GM_LEAF_KERNEL_VDSO);
		if (m->start == GM_VSYSCALL_ADDR || strcmp(p, "[vsyscall]") == 0) {
			r.leaf = r.reserved_leaf = GM_LEAF_KERNEL_VSYSCALL;
			set_label(&r, "its fixed address",
				  "[vsyscall]: legacy system-call page (not counted in VmSize)");
		} else if (m->start == b->notes.vdso || strcmp(p, "[vdso]") == 0) {
			set_label(&r, b->notes.vdso ? "AT_SYSINFO_EHDR" : "its name",
				  "[vdso]: the kernel's virtual shared object");
		} else if (strncmp(p, "[vvar", 5) == 0) {
			r.leaf = r.reserved_leaf = GM_LEAF_KERNEL_VVAR;
			set_label(&r, "its name", "%s: data the kernel shares with the vdso", p);
		} else {
			continue;
		}
		TRY(claim(b, &r, NULL));
	}
	/* [vvar] (and [vvar_vclock]) sit right below the vdso; cores do not name them. */
	const struct gm_mapping *v = b->notes.vdso ? mapping_at(b, b->notes.vdso) : NULL;
	for (size_t n = 0; v && v > b->maps && n < 4; n++) {
		const struct gm_mapping *m = v - 1;
		if (m->end != v->start || m->path || (m->flags & PF_W) || m->end - m->start > 65536)
			break;
		struct gm_region r = region(m->start, m->end, GM_OWNER_KERNEL, GM_LEAF_KERNEL_VVAR);
		set_label(&r, "inferred: read-only, right below the vdso",
			  "[vvar]: data the kernel shares with the vdso");
		TRY(claim(b, &r, NULL));
		v = m;
	}
	return NULL;
}

static bool anon_writable(const struct gm_mapping *m)
{
	return m && !m->path && (m->flags & PF_W);
}

static struct gomem_error *main_stack_region(struct builder *b)
{
	const struct gm_mapping *m = NULL;
	const char *source = NULL;
	for (size_t i = 0; i < b->nmaps && !m; i++) {
		if (b->maps[i].path && strcmp(b->maps[i].path, "[stack]") == 0) {
			m = &b->maps[i];
			source = "its name";
		}
	}
	if (!m && b->notes.at_random) {
		m = mapping_at(b, b->notes.at_random);
		source = "AT_RANDOM points into it";
	}
	if (!m && b->m0_stack_hi) {
		m = mapping_at(b, b->m0_stack_hi - 1);
		source = "m0.g0.stack.hi";
	}
	if (!m || (m->path && strcmp(m->path, "[stack]") != 0))
		return NULL;
	struct gm_region r = region(m->start, m->end, GM_OWNER_MAIN_STACK, GM_LEAF_STACK_MAIN);
	set_label(&r, source, "main thread's stack ([stack]: grows down on demand)");
	return claim(b, &r, NULL);
}

/* The PROT_NONE page glibc leaves below a thread stack (its default guard size). */
static struct gomem_error *guard_below(struct builder *b, uint64_t stack_lo, const char *who)
{
	const struct gm_mapping *m = mapping_at(b, stack_lo - 1);
	if (!m || m->path || (m->flags & PF_W) || claimed(b, stack_lo - 1))
		return NULL;
	struct gm_region r = region(max_u64(m->start, stack_lo - OS_PAGE), stack_lo,
				    GM_OWNER_THREAD_STACK, GM_LEAF_STACK_GUARD);
	set_label(&r, "inferred: PROT_NONE, right below the stack", "guard page of %s", who);
	return claim(b, &r, NULL);
}

/*
 * With cgo, every M's g0 runs on a pthread stack (runtime/cgo
 * gcc_libinit.c): g0.stack points into it, the LWP's thread pointer
 * (struct pthread and TLS) sits at its top, a guard page below it.
 */
static struct gomem_error *thread_stack_regions(struct builder *b)
{
	for (size_t i = 0; i < b->sched.nthreads; i++) {
		const struct gm_thread *th = &b->sched.threads[i];
		uint64_t lo, hi;
		if (!th->g0_hi || !anon_writable(mapping_at(b, th->g0_hi - 1)) ||
		    !gap_around(b, th->g0_hi - 1, &lo, &hi))
			continue;
		/* A generous window around g0.stack, in case the mapping was merged. */
		uint64_t wlo = th->g0_lo > (1 << 20) ? page_down(th->g0_lo) - (1 << 20) : 0;
		lo = max_u64(lo, wlo);
		hi = min_u64(hi, page_up(th->g0_hi) + (4 << 20));
		struct gm_region r = region(lo, hi, GM_OWNER_THREAD_STACK, GM_LEAF_STACK_PTHREAD);
		char who[64];
		snprintf(who, sizeof(who), "M%" PRId64 "'s pthread stack", th->id);
		set_label(&r, "allm: m.g0.stack",
			  "pthread stack of M%" PRId64 " (LWP %" PRIu64
			  "): its g0 runs on it (cgo)",
			  th->id, th->procid);
		TRY(claim(b, &r, NULL));
		b->as->n_pthread_stacks++;
		TRY(guard_below(b, lo, who));
	}
	/* Threads that are not Ms (or whose g0 is in the heap): their registers. */
	for (size_t i = 0; i < b->notes.nthreads; i++) {
		const struct gm_core_thread *l = &b->notes.threads[i];
		uint64_t lo, hi;
		if (l->sp && anon_writable(mapping_at(b, l->sp)) &&
		    gap_around(b, l->sp, &lo, &hi)) {
			struct gm_region r =
			    region(lo, hi, GM_OWNER_THREAD_STACK, GM_LEAF_STACK_C_THREAD);
			char who[64];
			snprintf(who, sizeof(who), "LWP %" PRIu64 "'s stack", l->tid);
			set_label(&r, "the thread's stack pointer (NT_PRSTATUS)",
				  "stack of LWP %" PRIu64 ", a thread that is not a Go M", l->tid);
			TRY(claim(b, &r, NULL));
			TRY(guard_below(b, lo, who));
		}
		if (l->fs_base && anon_writable(mapping_at(b, l->fs_base)) &&
		    gap_around(b, l->fs_base, &lo, &hi)) {
			lo = max_u64(lo, page_down(l->fs_base) > (1 << 20)
					     ? page_down(l->fs_base) - (1 << 20)
					     : 0);
			hi = min_u64(hi, page_up(l->fs_base + 1) + (64 << 10));
			struct gm_region r =
			    region(lo, hi, GM_OWNER_THREAD_STACK, GM_LEAF_STACK_TLS);
			set_label(&r, "the thread's thread pointer fs_base (NT_PRSTATUS)",
				  "TLS and struct pthread of LWP %" PRIu64 "%s", l->tid,
				  l->tid == b->notes.tgid ? " (the initial thread; mapped by ld.so)"
							  : "");
			TRY(claim(b, &r, NULL));
		}
	}
	return NULL;
}

/* ---- glibc's malloc ---- */

/*
 * A glibc malloc heap of a non-main arena: HEAP_MAX_SIZE-aligned, starting
 * with heap_info {ar_ptr, prev, size, mprotect_size, ...} (malloc/arena.c),
 * mapped read-write up to mprotect_size, the rest reserved PROT_NONE.
 */
static struct gomem_error *glibc_heap_regions(struct builder *b)
{
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		uint64_t hi[4];
		if (!anon_writable(m) || m->start % GLIBC_HEAP_MAX || claimed(b, m->start) ||
		    !gm_read_ok(&b->t->mem, m->start, hi, sizeof(hi)))
			continue;
		uint64_t ar_ptr = hi[0], prev = hi[1], size = hi[2], mprot = hi[3];
		bool first = prev == 0 && ar_ptr > m->start && ar_ptr < m->start + mprot;
		bool later = prev != 0 && prev % GLIBC_HEAP_MAX == 0;
		if (!size || size > mprot || mprot > GLIBC_HEAP_MAX || mprot % OS_PAGE ||
		    mprot > m->end - m->start || !(first || later))
			continue;
		struct gm_region r = region(m->start, m->start + GLIBC_HEAP_MAX, GM_OWNER_C_HEAP,
					    GM_LEAF_C_ARENA_MAPPED);
		r.reserved_leaf = GM_LEAF_C_ARENA_RESERVED;
		char h[32];
		set_label(&r, "inferred: its heap_info header",
			  "glibc malloc heap of arena 0x%" PRIx64 " (%s in use of %s reserved)",
			  ar_ptr, gm_human_bytes(size, h), "64 MiB");
		TRY(claim(b, &r, NULL));
		b->as->n_c_arenas++;
	}
	return NULL;
}

/*
 * The brk heap: named [heap] in a live process; in a core, the first
 * anonymous mapping above the executable (the kernel puts the program
 * break there, up to 1 GiB higher) that starts with a malloc chunk header
 * {prev_size 0, size | PREV_INUSE}.
 */
static struct gomem_error *brk_region(struct builder *b)
{
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		bool named = m->path && strcmp(m->path, "[heap]") == 0;
		uint64_t chunk[2];
		if (!named) {
			if (!anon_writable(m) || m->start < b->exe_hi ||
			    m->start - b->exe_hi > BRK_RANDOM_RANGE + (32 << 20))
				continue;
			if (claimed(b, m->start) || !gm_read_ok(&b->t->mem, m->start, chunk, 16) ||
			    chunk[0] != 0 || !(chunk[1] & 1) || (chunk[1] & ~7ULL) < 16 ||
			    (chunk[1] & ~7ULL) > m->end - m->start)
				return NULL; /* only the first mapping above the executable */
		}
		struct gm_region r = region(m->start, m->end, GM_OWNER_C_HEAP, GM_LEAF_C_BRK);
		set_label(&r, named ? "its name" : "inferred: above the executable, malloc chunk",
			  "brk heap ([heap]): glibc malloc's main arena");
		return claim(b, &r, NULL);
	}
	return NULL;
}

/* ---- files ---- */

static struct gomem_error *file_regions(struct builder *b)
{
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		if (!m->path || m->path[0] == '[')
			continue;
		const char *name = base_name(m->path);
		bool exe = m->start >= b->exe_lo && m->end <= b->exe_hi;
		struct gm_region r =
		    region(m->start, m->end, exe ? GM_OWNER_BINARY : GM_OWNER_SHARED_LIBRARY,
			   exe ? GM_LEAF_BIN_RODATA : GM_LEAF_SHLIB);
		const char *what = (m->flags & PF_X)   ? "text"
				   : (m->flags & PF_W) ? "data"
				   : m->offset == 0    ? "ELF headers and read-only data"
						       : "read-only data";
		if (gm_target_is_gcore(b->t) && !m->in_core)
			what = "not saved by gcore (file pages; permissions not recorded)";
		set_label(&r, "NT_FILE", "%s: %s", name, what);
		r.group = name;
		TRY(claim(b, &r, NULL));
		/* The anonymous mapping right after a library's data is its .bss. */
		const struct gm_mapping *next = m + 1 < b->maps + b->nmaps ? m + 1 : NULL;
		if (exe || !(m->flags & PF_W) || !anon_writable(next) || next->start != m->end ||
		    claimed(b, next->start))
			continue;
		uint64_t base = 0, end = next->end;
		const char *source = "inferred: anonymous, right after its data";
		for (size_t j = 0; j < b->nmaps; j++) {
			if (b->maps[j].path && b->maps[j].offset == 0 &&
			    strcmp(b->maps[j].path, m->path) == 0) {
				base = b->maps[j].start;
				break;
			}
		}
		uint64_t bss_end = base ? gm_target_lib_bss_end(b->t, m->path, base) : 0;
		if (bss_end > next->start) {
			end = min_u64(end, bss_end);
			source = "the library's program headers";
		}
		struct gm_region bss =
		    region(next->start, end, GM_OWNER_SHARED_LIBRARY, GM_LEAF_SHLIB);
		set_label(&bss, source, "%s: zero-initialized data (.bss)", name);
		bss.group = name;
		TRY(claim(b, &bss, NULL));
	}
	return NULL;
}

static bool is_dynamic_linker(const char *path)
{
	const char *n = path ? base_name(path) : "";
	return strncmp(n, "ld-linux", 8) == 0 || strncmp(n, "ld64.so", 7) == 0;
}

/*
 * ld.so maps a few pages for itself at startup (link maps, the vdso's
 * link map, TLS bookkeeping); they hold pointers into ld.so. An unclaimed
 * anonymous stretch whose first words point into ld.so at least twice is
 * taken to be one of them.
 */
static struct gomem_error *dynamic_linker_regions(struct builder *b)
{
	const struct gm_mapping *ld = NULL;
	for (size_t i = 0; i < b->nmaps && !ld; i++) {
		if (is_dynamic_linker(b->maps[i].path))
			ld = &b->maps[i];
	}
	if (!ld)
		return NULL;
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		uint64_t pos = m->start, lo, hi, words[64];
		/* Bounded: each step moves pos to the end of a claim or a gap. */
		while (anon_writable(m) && pos < m->end) {
			if (!gap_around(b, pos, &lo, &hi)) {
				size_t k = claim_index(b, pos);
				pos = k < b->nclaims ? b->claims[k].end : m->end;
				continue;
			}
			pos = hi;
			size_t n = (size_t)min_u64(sizeof(words), hi - lo), hits = 0;
			if (!gm_read_ok(&b->t->mem, lo, words, n))
				continue;
			for (size_t w = 0; w < n / 8; w++) {
				const struct gm_mapping *t =
				    words[w] ? mapping_at(b, words[w]) : NULL;
				hits += t && is_dynamic_linker(t->path);
			}
			if (hits < 2)
				continue;
			struct gm_region r = region(lo, hi, GM_OWNER_SHARED_LIBRARY, GM_LEAF_SHLIB);
			r.group = base_name(ld->path);
			set_label(&r, "inferred: it holds pointers into ld.so",
				  "%s: the dynamic linker's own memory (link maps and the like)",
				  r.group);
			TRY(claim(b, &r, NULL));
		}
	}
	return NULL;
}

/* ---- cutting the mappings into parts ---- */

/* The parts, and for each (region[i]) the index of its region in the builder's, or -1. */
struct parts {
	struct gm_part *v;
	size_t n, cap;
	int *region;
	size_t nregion, cap_region;
};

GM_DEFINE_GROW(grow_parts, struct gm_part)
GM_DEFINE_GROW(grow_ints, int)

static struct gomem_error *add_part(struct parts *p, const struct gm_part *part, int region_idx)
{
	int *ri = grow_ints(&p->region, &p->nregion, &p->cap_region);
	if (!ri)
		return &gm_error_no_memory;
	struct gm_part *slot = grow_parts(&p->v, &p->n, &p->cap);
	if (!slot) {
		p->nregion--;
		return &gm_error_no_memory;
	}
	*slot = *part;
	*ri = region_idx;
	return NULL;
}

static int cmp_region(const void *a, const void *b)
{
	const struct gm_region *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static struct gomem_error *cut(struct builder *b, struct parts *p)
{
	struct gm_region *rs = b->rs.v;
	size_t nrs = b->rs.n, k = 0;
	gm_sort(rs, nrs, sizeof(*rs), cmp_region);
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct gm_mapping *m = &b->maps[i];
		uint64_t pos = m->start;
		while (k < nrs && rs[k].end <= pos)
			k++;
		while (pos < m->end) {
			struct gm_part part = {
			    .flags = m->flags,
			    .file = m->path,
			    .in_vsz = true,
			};
			int ri = -1;
			part.start = pos;
			if (k < nrs && rs[k].start <= pos) {
				const struct gm_region *r = &rs[k];
				bool mapped = (m->flags & PF_W) != 0;
				part.end = min_u64(r->end, m->end);
				part.owner = mapped ? r->owner : r->reserved_owner;
				part.leaf = mapped ? r->leaf : r->reserved_leaf;
				part.in_vsz = r->leaf != GM_LEAF_KERNEL_VSYSCALL;
				part.group = r->group;
				ri = (int)k;
			} else {
				part.end = k < nrs ? min_u64(rs[k].start, m->end) : m->end;
				/* A gcore shows PROT_NONE as read-only: only w or x is sure. */
				bool gcore = gm_target_is_gcore(b->t);
				bool mapped =
				    (m->flags & (PF_W | PF_X)) || ((m->flags & PF_R) && !gcore);
				part.owner = GM_OWNER_UNKNOWN;
				part.leaf =
				    mapped ? GM_LEAF_UNKNOWN_MAPPED : GM_LEAF_UNKNOWN_RESERVED;
			}
			TRY(add_part(p, &part, ri));
			pos = part.end;
			while (k < nrs && rs[k].end <= pos)
				k++;
		}
	}
	return NULL;
}

/* ---- residency ---- */

struct file_cmp {
	const uint8_t *file;
	uint64_t file_size;
	uint64_t file_off; /* of the part's start */
	uint64_t part_start;
	uint64_t same;
};

/* Counts the dumped pages that are byte for byte the file's (page cache, not anonymous). */
static void count_same(void *arg, uint64_t addr, uint64_t len, const uint8_t *data)
{
	struct file_cmp *c = arg;
	for (uint64_t a = 0; data && a + OS_PAGE <= len; a += OS_PAGE) {
		uint64_t off = c->file_off + (addr + a - c->part_start);
		if (off >= c->file_size)
			continue;
		uint64_t n = min_u64(OS_PAGE, c->file_size - off);
		if (memcmp(data + a, c->file + off, n) != 0)
			continue;
		bool zero_tail = true;
		for (uint64_t j = n; j < OS_PAGE && zero_tail; j++)
			zero_tail = data[a + j] == 0;
		if (zero_tail)
			c->same += OS_PAGE;
	}
}

/*
 * Resident bytes of a part. In a kernel core a file-backed private mapping
 * is dumped whole once any page of it was written (or a debugger planted a
 * breakpoint): its unwritten pages are the file's, page cache rather than
 * anonymous memory, so they are left out where the file can be compared.
 */
static uint64_t part_resident(struct builder *b, const struct gm_part *p,
			      const struct gm_mapping *m, bool *file_unknown)
{
	struct gm_target *t = b->t;
	uint64_t r = gm_target_resident(t, p->start, p->end);
	if (!r || !m->path || m->path[0] == '[' || t->source != GM_SOURCE_CORE)
		return r;
	struct file_cmp c = {.part_start = p->start, .file_off = m->offset + (p->start - m->start)};
	if (p->start >= b->exe_lo && p->end <= b->exe_hi) {
		c.file = t->exe.map;
		c.file_size = t->exe.size;
	} else {
		const struct gm_file_image *f = gm_target_lib(t, m->path);
		if (!f) {
			*file_unknown = true;
			return r;
		}
		c.file = f->map;
		c.file_size = f->size;
	}
	gm_target_foreach_dumped(t, p->start, p->end, count_same, &c);
	return r > c.same ? r - c.same : 0;
}

/* ---- the heap walk over the mapped heap ---- */

/* What the walk finds in each mapped heap part, for its detail. */
enum { PK_IN_USE, PK_MANUAL, PK_RETAINED, PK_RELEASED, PK_COUNT };

struct heap_acc {
	struct builder *b;
	struct gm_part *parts;
	size_t nparts;
	uint64_t (*per_part)[PK_COUNT];
	struct gm_heap_split *split;
	uint64_t outside; /* bytes of spans or free runs outside the mapped heap */
};

/* The first part that ends after addr. */
static size_t part_index(const struct gm_part *parts, size_t n, uint64_t addr)
{
	return GM_UPPER_BOUND(parts, n, end, addr);
}

/* An in-use span, its allocation bits, and the bytes classified so far. */
struct span_bits {
	const struct gm_span *sp;
	uint8_t *bits;	 /* NULL: not read (large objects, or a fault) */
	uint64_t out[3]; /* objects, free slots, tail waste */
};

static bool slot_allocated(const struct span_bits *s, uint64_t i)
{
	if (i < s->sp->freeindex)
		return true;
	if (s->bits)
		return (s->bits[i / 8] >> (i % 8)) & 1;
	return s->sp->alloc_count > 0; /* one slot (large object), or bits unreadable */
}

/* Splits [a, z) of an in-use span into allocated slots, free slots and tail waste. */
static void classify(struct span_bits *s, uint64_t a, uint64_t z)
{
	const struct gm_span *sp = s->sp;
	uint64_t slots_end = sp->start + sp->nelems * sp->elemsize;
	/* Bounded: each step moves pos forward by at least one byte. */
	for (uint64_t pos = a; pos < z;) {
		if (pos >= slots_end) {
			s->out[2] += z - pos;
			break;
		}
		uint64_t i = (pos - sp->start) / sp->elemsize;
		uint64_t slot_end = min_u64(sp->start + (i + 1) * sp->elemsize, z);
		s->out[slot_allocated(s, i) ? 0 : 1] += slot_end - pos;
		pos = slot_end;
	}
}

static void classify_extent(void *arg, uint64_t addr, uint64_t len, const uint8_t *data)
{
	(void)data;
	classify(arg, addr, addr + len);
}

/*
 * Objects, free slots and tail waste of [a, z) of an in-use span, in bytes
 * and in resident bytes. A span that is wholly mapped and wholly resident
 * (or not at all) is split by its counts; otherwise slot by slot.
 */
static void split_in_use(struct heap_acc *acc, const struct gm_span *sp, uint64_t a, uint64_t z,
			 uint64_t rss)
{
	struct gm_heap_split *h = acc->split;
	struct span_bits s = {.sp = sp};
	bool whole = a == sp->start && z == sp->start + sp->bytes;
	bool partial_rss = rss && rss != z - a;
	if ((!whole || partial_rss) && sp->nelems > 1) {
		uint64_t nbytes = (sp->nelems + 7) / 8;
		s.bits = malloc(nbytes);
		if (s.bits && !gm_read_ok(&acc->b->t->mem, sp->alloc_bits, s.bits, nbytes)) {
			free(s.bits);
			s.bits = NULL;
		}
	}
	if (whole) {
		s.out[0] = sp->alloc_count * sp->elemsize;
		s.out[1] = (sp->nelems - sp->alloc_count) * sp->elemsize;
		s.out[2] = sp->bytes - sp->nelems * sp->elemsize;
	} else {
		classify(&s, a, z);
	}
	for (int k = 0; k < 3; k++)
		h->bytes[GM_HK_OBJECTS + k] += s.out[k];
	if (partial_rss) {
		memset(s.out, 0, sizeof(s.out));
		gm_target_foreach_resident(acc->b->t, a, z, classify_extent, &s);
	}
	for (int k = 0; rss && k < 3; k++)
		h->rss[GM_HK_OBJECTS + k] += s.out[k];
	free(s.bits);
}

/* Lays [start, end) of one kind over the mapped heap parts. */
static void lay(struct heap_acc *acc, uint64_t start, uint64_t end, enum gm_heap_kind kind,
		const struct gm_span *sp)
{
	size_t i = part_index(acc->parts, acc->nparts, start);
	uint64_t pos = start;
	for (; i < acc->nparts && pos < end; i++) {
		const struct gm_part *p = &acc->parts[i];
		if (p->start >= end)
			break;
		if (p->start > pos) {
			acc->outside += p->start - pos;
			pos = p->start;
		}
		uint64_t a = pos, z = min_u64(p->end, end);
		pos = z;
		if (p->owner != GM_OWNER_GO_HEAP) {
			acc->outside += z - a;
			continue;
		}
		uint64_t rss = gm_target_resident(acc->b->t, a, z);
		if (sp && sp->state == GM_SPAN_IN_USE) {
			acc->per_part[i][PK_IN_USE] += z - a;
			split_in_use(acc, sp, a, z, rss);
			continue;
		}
		acc->per_part[i][kind == GM_HK_RETAINED	  ? PK_RETAINED
				 : kind == GM_HK_RELEASED ? PK_RELEASED
							  : PK_MANUAL] += z - a;
		acc->split->bytes[kind] += z - a;
		acc->split->rss[kind] += rss;
	}
	if (pos < end)
		acc->outside += end - pos;
}

static struct gomem_error *lay_span(void *arg, const struct gm_span *sp)
{
	/* Manual spans: stacks carry their stack size in elemsize, GC work buffers 0. */
	lay(arg, sp->start, sp->start + sp->bytes,
	    sp->state == GM_SPAN_IN_USE ? GM_HK_OBJECTS
	    : sp->elemsize		? GM_HK_STACKS
					: GM_HK_WORK_BUFS,
	    sp);
	return NULL;
}

static void lay_free_run(void *arg, uint64_t start, uint64_t end, bool released)
{
	lay(arg, start, end, released ? GM_HK_RELEASED : GM_HK_RETAINED, NULL);
}

/* Adds to a mapped heap part's detail what the walk found in it. */
static struct gomem_error *heap_detail(struct gm_part *p, const uint64_t k[PK_COUNT])
{
	char h[4][32], *d = NULL;
	if (asprintf(&d, "%s; in-use spans %s, stacks %s, free %s retained + %s released",
		     p->detail ? p->detail : "Go heap", gm_human_bytes(k[PK_IN_USE], h[0]),
		     gm_human_bytes(k[PK_MANUAL], h[1]), gm_human_bytes(k[PK_RETAINED], h[2]),
		     gm_human_bytes(k[PK_RELEASED], h[3])) < 0)
		return &gm_error_no_memory;
	free(p->detail);
	p->detail = d;
	return NULL;
}

/*
 * The Go heap's leaves: every span and free page run of the walk laid over
 * the mapped heap parts. What no span or run covers stays "other", so
 * the leaves always add up to the mapped heap.
 */
static struct gomem_error *heap_split(struct builder *b, struct parts *p)
{
	struct gm_addrspace *as = b->as;
	struct heap_acc acc = {.b = b, .parts = p->v, .nparts = p->n, .split = &as->heap};
	acc.per_part = calloc(p->n ? p->n : 1, sizeof(*acc.per_part));
	if (!acc.per_part)
		return &gm_error_no_memory;
	uint64_t bad = 0;
	struct gomem_error *err = gm_heap_foreach_span(b->rt, lay_span, &acc, &bad);
	if (!err)
		err = gm_heap_foreach_free_run(b->rt, lay_free_run, &acc);
	uint64_t mapped = 0, mapped_rss = 0;
	for (size_t i = 0; !err && i < p->n; i++) {
		if (p->v[i].owner != GM_OWNER_GO_HEAP)
			continue;
		mapped += p->v[i].end - p->v[i].start;
		mapped_rss += p->v[i].rss;
		err = heap_detail(&p->v[i], acc.per_part[i]);
	}
	free(acc.per_part);
	if (err)
		return err;
	if (acc.outside)
		gm_addrspace_warn(as,
				  "%" PRIu64 " bytes of spans or free pages lie outside the mapped "
				  "heap",
				  acc.outside);
	struct gm_heap_split *h = &as->heap;
	uint64_t walked = 0, walked_rss = 0;
	for (int k = 0; k < GM_HK_OTHER; k++) {
		walked += h->bytes[k];
		walked_rss += h->rss[k];
	}
	if (walked > mapped || walked_rss > mapped_rss) {
		/* Overlapping spans or runs: keep the leaves adding up, and say so. */
		gm_addrspace_warn(as,
				  "the heap walk covers %" PRIu64 " bytes of %" PRIu64
				  " mapped: spans or free runs overlap",
				  walked, mapped);
		memset(h, 0, sizeof(*h));
		walked = walked_rss = 0;
	}
	h->bytes[GM_HK_OTHER] = mapped - walked;
	h->rss[GM_HK_OTHER] = mapped_rss - walked_rss;
	return NULL;
}

/* ---- details ---- */

static struct gomem_error *details(struct builder *b, struct parts *p)
{
	struct gm_addrspace *as = b->as;
	/* Per region: how much of it is mapped read-write. */
	uint64_t *mapped = calloc(b->rs.n ? b->rs.n : 1, sizeof(*mapped));
	uint64_t *total = calloc(b->rs.n ? b->rs.n : 1, sizeof(*total));
	if (!mapped || !total) {
		free(mapped);
		free(total);
		return &gm_error_no_memory;
	}
	for (size_t i = 0; i < p->n; i++) {
		int r = p->region[i];
		if (r < 0)
			continue;
		total[r] += p->v[i].end - p->v[i].start;
		if (p->v[i].flags & PF_W)
			mapped[r] += p->v[i].end - p->v[i].start;
	}
	as->meta_located_bytes = 0;
	for (size_t r = 0; r < b->rs.n; r++) {
		const struct gm_region *g = &b->rs.v[r];
		as->meta_located_bytes += g->stat_mapped ? mapped[r] : g->stat_bytes;
	}
	for (size_t i = 0; i < p->n; i++) {
		struct gm_part *part = &p->v[i];
		int r = p->region[i];
		char *d = NULL, h1[32], h2[32];
		int n;
		if (r < 0) {
			n = asprintf(
			    &d, "%s",
			    part->leaf == GM_LEAF_UNKNOWN_MAPPED
				? "anonymous memory that no known owner accounts for"
				: "reserved (PROT_NONE) space that no known owner accounts for");
		} else {
			const struct gm_region *g = &b->rs.v[r];
			bool split = g->owner != g->reserved_owner || g->leaf != g->reserved_leaf;
			if (split)
				n = asprintf(&d, "%s: %s; %s of its %s mapped [%s]", g->label,
					     (part->flags & PF_W) ? "mapped"
								  : "reserved, not mapped",
					     gm_human_bytes(mapped[r], h1),
					     gm_human_bytes(total[r], h2), g->source);
			else
				n = asprintf(&d, "%s [%s]", g->label, g->source);
		}
		if (n < 0) {
			free(mapped);
			free(total);
			return &gm_error_no_memory;
		}
		part->detail = d;
	}
	free(mapped);
	free(total);
	return NULL;
}

static struct gomem_error *residency(struct builder *b, struct parts *p)
{
	struct gm_addrspace *as = b->as;
	bool unknown_file = false;
	as->has_rss = gm_target_residency_known(b->t);
	for (size_t i = 0; i < p->n; i++) {
		struct gm_part *part = &p->v[i];
		const struct gm_mapping *m = mapping_at(b, part->start);
		part->has_rss = as->has_rss;
		if (as->has_rss && m)
			part->rss = part_resident(b, part, m, &unknown_file);
		if (part->in_vsz) {
			as->vsz += part->end - part->start;
			as->rss += part->rss;
		}
	}
	if (unknown_file)
		gm_addrspace_warn(as, "a shared library was not found (or differs) on this "
				      "machine: its dumped pages count as resident, even those "
				      "that are only its file's");
	return NULL;
}

static struct gomem_error *meta_check(struct builder *b)
{
	struct gm_memstats ms;
	TRY(gm_runtime_memstats(b->rt, &ms));
	uint64_t heap = ms.HeapSys + ms.StackInuse + ms.work_bufs + ms.ptr_scalar_bits;
	b->as->meta_memstats_bytes = ms.Sys > heap ? ms.Sys - heap : 0;
	b->as->meta_known = true;
	return NULL;
}

/* The owner and breakdown leaf of each kind of the Go runtime's regions. */
static const struct {
	enum gm_owner owner, reserved_owner;
	enum gm_leaf leaf, reserved_leaf;
} go_owners[GM_RR_COUNT] = {
#define META(leaf)                                                                                 \
	{                                                                                          \
		GM_OWNER_GO_RUNTIME_METADATA, GM_OWNER_GO_RUNTIME_METADATA, leaf, leaf             \
	}
    [GM_RR_HEAP] = {GM_OWNER_GO_HEAP, GM_OWNER_GO_HEAP, GM_LEAF_HEAP_MAPPED, GM_LEAF_HEAP_MAPPED},
    [GM_RR_HEAP_RESERVED] = {GM_OWNER_GO_HEAP_RESERVED, GM_OWNER_GO_HEAP_RESERVED,
			     GM_LEAF_HEAP_RESERVED, GM_LEAF_HEAP_RESERVED},
    /* Reservations: their read-write pieces are metadata, the rest reserved. */
    [GM_RR_SUMMARY] = {GM_OWNER_GO_RUNTIME_METADATA, GM_OWNER_GO_RUNTIME_RESERVED,
		       GM_LEAF_META_SUMMARY, GM_LEAF_RESV_SUMMARY},
    [GM_RR_SCAV_INDEX] = {GM_OWNER_GO_RUNTIME_METADATA, GM_OWNER_GO_RUNTIME_RESERVED,
			  GM_LEAF_META_SCAV_INDEX, GM_LEAF_RESV_SCAV_INDEX},
    [GM_RR_ARENA_INDEX] = META(GM_LEAF_META_ARENA_INDEX),
    [GM_RR_HEAP_ARENA_META] = META(GM_LEAF_META_HEAP_ARENA),
    [GM_RR_CHUNKS] = META(GM_LEAF_META_CHUNKS),
    [GM_RR_PERSISTENT] = META(GM_LEAF_META_PERSISTENT),
    [GM_RR_GC_BITS] = META(GM_LEAF_META_GC_BITS),
    [GM_RR_ALLSPANS] = META(GM_LEAF_META_ALLSPANS),
    [GM_RR_BUCKHASH] = META(GM_LEAF_META_BUCKHASH),
    [GM_RR_SPAN_QUEUES] = META(GM_LEAF_META_SPAN_QUEUES),
#undef META
};

/*
 * Claims the Go runtime's regions first, in address order, so that each
 * claim is an append (where two overlap, which only a corrupt core makes,
 * the lower one wins).
 */
static struct gomem_error *claim_go_regions(struct builder *b)
{
	struct gm_regions go = {0};
	struct gomem_error *err = NULL;
	for (size_t i = 0; !err && i < b->go.n; i++) {
		const struct gm_rt_region *g = &b->go.v[i];
		struct gm_region r = {
		    .start = g->start,
		    .end = g->end,
		    .owner = go_owners[g->kind].owner,
		    .reserved_owner = go_owners[g->kind].reserved_owner,
		    .leaf = go_owners[g->kind].leaf,
		    .reserved_leaf = go_owners[g->kind].reserved_leaf,
		    .stat_bytes = g->stat_bytes,
		    .stat_mapped = g->stat_mapped,
		};
		memcpy(r.label, g->label, sizeof(r.label));
		memcpy(r.source, g->source, sizeof(r.source));
		err = gm_regions_add(&go, &r);
	}
	gm_sort(go.v, go.n, sizeof(*go.v), cmp_region);
	bool overlap = false;
	for (size_t i = 0; !err && i < go.n; i++) {
		bool clipped = false;
		err = claim(b, &go.v[i], &clipped);
		overlap |= clipped;
	}
	free(go.v);
	if (!err && overlap)
		gm_addrspace_warn(b->as, "some of the Go runtime's regions overlap: its "
					 "structures may be corrupt");
	return err;
}

/* The Ms, for their g0 stacks; without them only those stacks go unattributed. */
static struct gomem_error *read_threads(struct builder *b)
{
	struct gomem_error *err = gm_sched_read(b->rt, GM_SCHED_THREADS, &b->sched);
	if (err && gomem_error_code(err) == GOMEM_ERROR_NO_MEMORY)
		return err;
	if (err) {
		gm_addrspace_warn(b->as, "the Go runtime's threads could not be read: %s",
				  gomem_error_message(err));
		gomem_error_destroy(err);
		return NULL;
	}
	for (size_t i = 0; i < b->sched.nwarnings; i++)
		gm_addrspace_warn(b->as, "%s", b->sched.warnings[i]);
	b->as->partial |= b->sched.partial;
	for (size_t i = 0; i < b->sched.nthreads; i++) {
		if (b->sched.threads[i].is_m0)
			b->m0_stack_hi = b->sched.threads[i].g0_hi;
	}
	return NULL;
}

static struct gomem_error *build(struct builder *b)
{
	struct gm_target *t = b->t;
	struct gm_addrspace *as = b->as;
	TRY(gm_target_mappings(t, &b->maps, &b->nmaps));
	gm_target_notes(t, &b->notes);
	if (b->rt) {
		struct gomem_error *err = gm_go_regions(b->rt, &b->go);
		if (err) {
			gm_addrspace_warn(as, "the Go runtime's regions could not be read: %s",
					  gomem_error_message(err));
			gomem_error_destroy(err);
		}
		b->have_model = !err;
		as->n_arenas = (unsigned)b->go.narenas;
		TRY(claim_go_regions(b));
		TRY(read_threads(b));
	}
	TRY(exe_regions(b));
	TRY(kernel_regions(b));
	TRY(main_stack_region(b));
	TRY(thread_stack_regions(b));
	TRY(glibc_heap_regions(b));
	TRY(brk_region(b));
	TRY(file_regions(b));
	TRY(dynamic_linker_regions(b));
	struct parts p = {0};
	struct gomem_error *err = cut(b, &p);
	if (!err)
		err = details(b, &p);
	if (!err)
		err = residency(b, &p);
	if (!err && b->rt && b->have_model)
		err = heap_split(b, &p);
	if (!err && b->rt && b->have_model)
		err = meta_check(b);
	as->parts = p.v;
	as->nparts = p.n;
	free(p.region);
	return err;
}

struct gomem_error *gm_addrspace_build(struct gm_target *t, struct gm_runtime *rt,
				       struct gm_addrspace **ret)
{
	struct gm_addrspace *as = calloc(1, sizeof(*as));
	if (!as)
		return &gm_error_no_memory;
	struct builder b = {.t = t, .rt = rt, .as = as};
	struct gomem_error *err = build(&b);
	free(b.rs.v);
	free(b.claims);
	gm_rt_regions_deinit(&b.go);
	gm_sched_deinit(&b.sched);
	if (err) {
		gm_addrspace_destroy(as);
		return err;
	}
	*ret = as;
	return NULL;
}

void gm_addrspace_destroy(struct gm_addrspace *as)
{
	if (!as)
		return;
	for (size_t i = 0; i < as->nparts; i++)
		free(as->parts[i].detail);
	free(as->parts);
	for (size_t i = 0; i < as->nwarnings; i++)
		free(as->warnings[i]);
	free(as->warnings);
	free(as);
}
