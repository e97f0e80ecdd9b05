/* Private interfaces of libcore. */
#ifndef GOMEM_INTERNAL_H
#define GOMEM_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gomem.h"

#define GM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GOMEM_VERSION	 "0.1.0"
#define GM_PRINTF(f, a)	 __attribute__((format(printf, f, a)))

/* Returns the error of a fallible call from the function that makes it. */
#define TRY(x)                                                                                     \
	do {                                                                                       \
		struct gomem_error *err_ = (x);                                                    \
		if (err_)                                                                          \
			return err_;                                                               \
	} while (0)

static inline void gm_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(gm_freep)))

/* qsort of n elements of an array that is NULL when n is 0, which qsort does not allow. */
static inline void gm_sort(void *base, size_t n, size_t size,
			   int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ---- errors (error.c) ---- */

struct gomem_error {
	enum gomem_error_code code;
	char *message;
};

/* Never fails: out of memory gives a preallocated error. */
struct gomem_error *gm_error(enum gomem_error_code code, const char *fmt, ...) GM_PRINTF(2, 3);
struct gomem_error *gm_error_errno(enum gomem_error_code code, int errnum, const char *fmt, ...)
    GM_PRINTF(3, 4);
extern struct gomem_error gm_error_no_memory;

/* ---- growable string (strbuf.c) ---- */

struct gm_strbuf {
	char *s;
	size_t len, cap;
	bool failed; /* an allocation failed; the content is cut */
};

void gm_strbuf_printf(struct gm_strbuf *sb, const char *fmt, ...) GM_PRINTF(2, 3);
void gm_strbuf_append(struct gm_strbuf *sb, const char *s, size_t n);
void gm_strbuf_json_string(struct gm_strbuf *sb, const char *s);
/* A JSON number when has (a string when s), else null. */
void gm_strbuf_json_uint_or_null(struct gm_strbuf *sb, bool has, uint64_t v);
void gm_strbuf_json_string_or_null(struct gm_strbuf *sb, const char *s);
/* Hands the string over (NULL if an allocation failed) and resets sb. */
char *gm_strbuf_steal(struct gm_strbuf *sb);
void gm_strbuf_deinit(struct gm_strbuf *sb);
/* Appends a formatted string to a growable list of strings (warnings). */
struct gomem_error *gm_strlist_vadd(char ***list, size_t *n, const char *fmt, va_list ap);
/* "1.5 GiB", "64.0 KiB", "512 B" */
const char *gm_human_bytes(uint64_t n, char buf[32]);

/* ---- memory of the target (memory.c) ---- */

/*
 * One contiguous range of the target's address space. Bytes of
 * [start, start + data_len) are at data; bytes past data_len up to end are
 * absent (a read there faults) unless a file-backed fallback covers them.
 */
struct gm_segment {
	uint64_t start, end;
	const uint8_t *data;
	uint64_t data_len;
	uint64_t file_offset; /* where data starts in the core file */
	uint32_t flags;	      /* PF_R | PF_W | PF_X */
	bool truncated;	      /* the core file ends before the bytes its header promises */
};

/* A range of the target that is an image of a file we have (the executable). */
struct gm_file_range {
	uint64_t start, end;
	const uint8_t *data; /* bytes for start..end, already bounded by the file's size */
};

/* Reads len bytes at addr of a target that is not a file (a live process). */
typedef struct gomem_error *(*gm_read_fn)(void *arg, uint64_t addr, void *buf, size_t len);

struct gm_memory {
	struct gm_segment *segs; /* sorted by start, disjoint */
	size_t nsegs;
	struct gm_file_range *files; /* sorted by start, disjoint */
	size_t nfiles;
	size_t hint;
	/* Live targets: when set, every read goes here and segments are unused. */
	gm_read_fn read_fn;
	void *read_arg;
	const char *core_path; /* names the core in fault messages; NULL when none */
};

struct gomem_error *gm_memory_add_segment(struct gm_memory *mem, const struct gm_segment *seg);
struct gomem_error *gm_memory_add_file_range(struct gm_memory *mem,
					     const struct gm_file_range *range);
/* Sorts and checks for overlaps; call once after adding. */
struct gomem_error *gm_memory_finish(struct gm_memory *mem);
void gm_memory_deinit(struct gm_memory *mem);
/* Reads len bytes at addr, across segments; a fault names the address. */
struct gomem_error *gm_read(struct gm_memory *mem, uint64_t addr, void *buf, size_t len);
struct gomem_error *gm_read_u64(struct gm_memory *mem, uint64_t addr, uint64_t *ret);
/* For a best-effort probe: whether gm_read() could read, its error released. */
bool gm_read_ok(struct gm_memory *mem, uint64_t addr, void *buf, size_t len);
/* Reads an unsigned integer of 1, 2, 4 or 8 bytes. */
struct gomem_error *gm_read_uint(struct gm_memory *mem, uint64_t addr, unsigned size,
				 uint64_t *ret);
const struct gm_segment *gm_memory_find(struct gm_memory *mem, uint64_t addr);

/* ---- ELF core files (core.c) ---- */

/* One entry of a core's NT_FILE note: a file-backed mapping. */
struct gm_core_file {
	uint64_t start, end, offset; /* offset in bytes into the file */
	const char *path;	     /* points into the core's mapped note */
	size_t path_len;
};

/* A thread of a core (NT_PRSTATUS): its LWP id and the registers gomem uses. */
struct gm_core_thread {
	uint64_t tid, sp, fs_base; /* sp and fs_base 0 when the note is too short */
};

#define GM_CORE_MAX_THREADS (1u << 16) /* NT_PRSTATUS notes kept; more are counted */

struct gm_core {
	char *path;
	int fd;
	const uint8_t *map;
	uint64_t size;
	int pid;	  /* the process id (NT_PRPSINFO, else the first NT_PRSTATUS) */
	int prpsinfo_pid; /* 0 when the core has no NT_PRPSINFO */
	/* From NT_AUXV, 0 when absent. */
	uint64_t at_entry, at_phdr, at_sysinfo_ehdr, at_random;
	struct gm_core_thread *threads; /* NT_PRSTATUS, in note order; the first took the signal */
	size_t nthreads;		/* entries of threads */
	size_t nthread_notes;		/* every NT_PRSTATUS, kept or not */
	bool have_auxv;
	bool kernel_dump;	  /* written by the kernel: untouched pages are holes */
	bool anon_missing;	  /* no anonymous memory at all: coredump_filter left it out */
	uint64_t vsyscall_bytes;  /* the vsyscall page, which VmSize leaves out */
	struct gm_segment *loads; /* every PT_LOAD, in file order */
	size_t nloads;
	struct gm_core_file *files; /* NT_FILE, in note order */
	size_t nfiles;
	char **warnings;
	size_t nwarnings;
	/*
	 * Where the file holds data rather than holes, sorted: read once at open
	 * so that residency questions are binary searches, not lseek calls.
	 * NULL when the file has too many extents to keep (then lseek answers).
	 */
	struct gm_core_extent *extents;
	size_t nextents;
};

/* A stretch of a core file that holds data; before: data bytes of the file below start. */
struct gm_core_extent {
	uint64_t start, end, before;
};

struct gomem_error *gm_core_open(const char *path, struct gm_core *core);
/* Maps a whole regular file read-only; what names it in errors ("core"). */
struct gomem_error *gm_map_file(const char *path, const char *what, int *fd_ret,
				const uint8_t **map_ret, uint64_t *size_ret);
/* NULL for a little-endian ELF64 of x86-64, else the reason it is not. */
const char *gm_elf_check_ident(const void *ehdr);
void gm_core_deinit(struct gm_core *core);
/* Bytes of [file_offset, file_offset + len) that are data, not holes. */
uint64_t gm_core_data_bytes(const struct gm_core *core, uint64_t file_offset, uint64_t len);
/* Calls fn for each stretch of data (not holes) of [file_offset, file_offset + len). */
typedef void (*gm_core_data_fn)(void *arg, uint64_t file_offset, uint64_t len);
void gm_core_foreach_data(const struct gm_core *core, uint64_t file_offset, uint64_t len,
			  gm_core_data_fn fn, void *arg);

/* ---- the executable and its DWARF (dwarf.c) ---- */

struct gm_dwarf;

/* A member (or a member path "a.b.c") of a struct, resolved. */
struct gm_field {
	bool present;
	uint64_t offset;    /* from the start of the outer struct */
	uint64_t size;	    /* of the member, after unwrapping atomic wrappers */
	uint64_t elem_size; /* arrays and slices: size of an element */
	uint64_t count;	    /* arrays: number of elements */
};

struct gomem_error *gm_dwarf_open(const char *exe_path, struct gm_dwarf **ret);
void gm_dwarf_destroy(struct gm_dwarf *d);
/* Address of a global variable. */
struct gomem_error *gm_dwarf_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret);
bool gm_dwarf_has_variable(struct gm_dwarf *d, const char *name);
/* Value of a DW_TAG_constant. */
struct gomem_error *gm_dwarf_constant(struct gm_dwarf *d, const char *name, int64_t *ret);
bool gm_dwarf_has_constant(struct gm_dwarf *d, const char *name);
/* Size of a named type (struct or typedef). */
struct gomem_error *gm_dwarf_sizeof(struct gm_dwarf *d, const char *type, uint64_t *ret);
bool gm_dwarf_has_type(struct gm_dwarf *d, const char *type);
/*
 * Resolves a member path in a named struct type. A member whose type is a
 * struct with a single scalar "value" (the sync/atomic wrappers) is
 * unwrapped, so its size is that of the scalar. A missing member gives
 * present = false and no error.
 */
struct gomem_error *gm_dwarf_field(struct gm_dwarf *d, const char *type, const char *path,
				   struct gm_field *ret);

/* ---- the executable as ELF (exe.c) ---- */

struct gm_exe {
	char *path;
	int fd;
	const uint8_t *map;
	uint64_t size;
	uint16_t e_type;
	uint64_t e_entry;
	struct {
		uint64_t vaddr, memsz, offset, filesz;
		uint32_t flags;
	} loads[16];
	size_t nloads;
	char go_version[64];	 /* "go1.26.8" without the experiments */
	char build_version[128]; /* as the linker wrote it */
	char experiments[256];	 /* comma-separated, "" when none */
	char go_build_id[128];
};

struct gomem_error *gm_exe_open(const char *path, struct gm_exe *exe);
/*
 * The Go build ID (a string) and the GNU build ID (in hex) of the notes in
 * the first bytes of an ELF image: an executable's first page, or a core's
 * copy of it. Empty strings for the ones that are not there.
 */
void gm_find_build_ids(const uint8_t *page, size_t len, char *go, size_t go_size, char *gnu,
		       size_t gnu_size);
/* An error for Go releases older than 1.19. */
struct gomem_error *gm_check_go_version(const struct gm_exe *exe);
#define GM_NEWEST_TESTED_GO_MINOR 27
bool gm_go_version_newer_than_tested(const struct gm_exe *exe);
void gm_exe_deinit(struct gm_exe *exe);

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

struct gomem_error *gm_runtime_create(struct gm_dwarf *dw, struct gm_memory *mem,
				      const struct gm_exe *exe, uint64_t bias,
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

/* ---- targets (target.c) ---- */

enum gm_source { GM_SOURCE_CORE, GM_SOURCE_LIVE };

/* A mapping of the target's address space, as /proc/PID/maps would show it. */
struct gm_mapping {
	uint64_t start, end;
	uint32_t flags;	 /* PF_R | PF_W | PF_X; a gcore shows PROT_NONE regions as PF_R */
	uint64_t offset; /* file offset, for file-backed mappings */
	char *path;	 /* NULL for anonymous memory; "[vdso]"-style names when live */
	bool in_core;	 /* core: some of its bytes are in the core file */
};

struct gomem_target {
	enum gm_source source;
	struct gm_exe exe;
	struct gm_core core;
	bool have_core;
	int pid;
	struct gm_memory mem;
	struct gm_dwarf *dwarf;
	bool dwarf_borrowed; /* gm_target_open_core_dwarf's: not destroyed with the target */
	struct gm_runtime *runtime;
	struct gm_mapping *mappings; /* sorted, built on first use */
	size_t nmappings;
	struct gm_live *live; /* live and callback targets (live.c) */
	char **warnings;      /* about the target itself; gomem_run adds them to every report */
	size_t nwarnings;
};

/*
 * gomem_target_open_core with the executable's DWARF already open (the
 * fuzzers open it once): the target borrows dwarf, which must outlive it.
 */
struct gomem_error *gm_target_open_core_dwarf(const char *exe_path, const char *core_path,
					      struct gm_dwarf *dwarf, struct gomem_target **ret);

/* A warning about the target that every verb's output carries. */
struct gomem_error *gm_target_warn(struct gomem_target *t, const char *fmt, ...) GM_PRINTF(2, 3);

/* The target's mappings, sorted by address (owned by the target). */
struct gomem_error *gm_target_mappings(struct gomem_target *t, const struct gm_mapping **ret,
				       size_t *n_ret);
/* Whether resident bytes can be known: kernel cores and live processes. */
bool gm_target_residency_known(const struct gomem_target *t);
/* Resident bytes of [start, end); 0 when unknown. */
uint64_t gm_target_resident(struct gomem_target *t, uint64_t start, uint64_t end);
/* VSZ as ps shows it (VmSize): every mapping but the vsyscall page. */
struct gomem_error *gm_target_vsz(struct gomem_target *t, uint64_t *ret);
#define GM_VSYSCALL_ADDR 0xffffffffff600000ULL

#endif /* GOMEM_INTERNAL_H */
