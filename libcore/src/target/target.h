/*
 * The target: the executable, the core file or the live process, the
 * memory reader over them, and the mappings of the address space.
 */
#ifndef GOMEM_TARGET_H
#define GOMEM_TARGET_H

#include "base/base.h"

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
	size_t nsegs, cap_segs;
	struct gm_file_range *files; /* sorted by start, disjoint */
	size_t nfiles, cap_files;
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
/* The index of the first segment that ends after addr (nsegs when none). */
size_t gm_memory_first_segment_after(const struct gm_memory *mem, uint64_t addr);

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
	size_t nthreads, cap_threads;	/* entries of threads */
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

/* The entries of an auxiliary vector (NT_AUXV, /proc/PID/auxv) that gomem reads. */
struct gm_auxv {
	uint64_t entry, phdr, sysinfo_ehdr, random;
};

/* Sets the members of a for the entries buf holds (the others are left as they are). */
void gm_auxv_parse(const uint8_t *buf, uint64_t len, struct gm_auxv *a);

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

/* Opens into caller-owned storage; on failure it is left deinitialized, as gm_core_open does. */
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

/* Names of the allocated sections in [lo, hi) (link addresses), space-separated, into buf. */
void gm_exe_section_names(const struct gm_exe *exe, uint64_t lo, uint64_t hi, bool nobits,
			  char *buf, size_t size);
/* The largest data symbol (STT_OBJECT) in [lo, hi) (link addresses); false when none. */
bool gm_exe_largest_object(const struct gm_exe *exe, uint64_t lo, uint64_t hi, char *name,
			   size_t name_size, uint64_t *size);

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

struct gm_libs; /* libs.c */
void gm_libs_destroy(struct gm_libs *libs);

/*
 * A target: an executable and the memory of one of its processes, from a
 * core file or a live process. What the Go runtime in it means is read by
 * the layers above (runtime/).
 */
struct gm_target {
	enum gm_source source;
	struct gm_exe exe;
	char *exe_file; /* the path the executable was opened from (/proc/PID/exe...) */
	struct gm_core core;
	bool have_core;
	int pid;
	uint64_t bias; /* load bias of a PIE: the executable's addresses minus its link addresses */
	struct gm_memory mem;
	struct gm_mapping *mappings; /* sorted, built on first use */
	size_t nmappings;
	struct gm_live *live; /* live and callback targets (live.c) */
	struct gm_libs *libs; /* shared libraries opened on this machine, on first use */
	char **warnings;      /* about the target itself; every report carries them */
	size_t nwarnings;
};

/*
 * The _init functions fill caller-owned storage; on failure it is left
 * deinitialized (gm_target_deinit() is still harmless). See gomem.h for
 * what each kind of target is.
 */
struct gomem_error *gm_target_init_core(struct gm_target *t, const char *exe_path,
					const char *core_path);
struct gomem_error *gm_target_init_pid(struct gm_target *t, int pid, const char *exe_path,
				       unsigned flags);
struct gomem_error *gm_target_init_callback(struct gm_target *t, const char *exe_path, int pid,
					    uint64_t at_entry, const char *maps,
					    gomem_read_fn read_fn, void *arg);
/* Resumes a process that was stopped, and releases everything. */
void gm_target_deinit(struct gm_target *t);

/* A warning about the target that every verb's output carries. */
struct gomem_error *gm_target_warn(struct gm_target *t, const char *fmt, ...) GM_PRINTF(2, 3);

/* The target's mappings, sorted by address (owned by the target). */
struct gomem_error *gm_target_mappings(struct gm_target *t, const struct gm_mapping **ret,
				       size_t *n_ret);
/* Whether resident bytes can be known: kernel cores and live processes. */
bool gm_target_residency_known(const struct gm_target *t);
/* Resident bytes of [start, end); 0 when unknown. */
uint64_t gm_target_resident(struct gm_target *t, uint64_t start, uint64_t end);
/* A core written by GDB's gcore (every page, PROT_NONE shown as r--), not by the kernel. */
bool gm_target_is_gcore(const struct gm_target *t);

/* Called for a stretch [addr, addr + len) of the target; data: its bytes, when in a core file. */
typedef void (*gm_extent_fn)(void *arg, uint64_t addr, uint64_t len, const uint8_t *data);
/* Calls fn for each stretch of [start, end) whose pages are in the core file (not holes). */
void gm_target_foreach_dumped(struct gm_target *t, uint64_t start, uint64_t end, gm_extent_fn fn,
			      void *arg);
/* Calls fn for the resident stretches of [start, end): a core's data, or a live process's pages. */
void gm_target_foreach_resident(struct gm_target *t, uint64_t start, uint64_t end, gm_extent_fn fn,
				void *arg);

/* VSZ as ps shows it (VmSize): every mapping but the vsyscall page. */
struct gomem_error *gm_target_vsz(struct gm_target *t, uint64_t *ret);
#define GM_VSYSCALL_ADDR 0xffffffffff600000ULL
#define GM_OS_PAGE	 4096ULL

/*
 * What a core's notes say about the process and its threads (NT_AUXV,
 * NT_PRPSINFO, NT_PRSTATUS): zeros and no threads for a live target.
 */
struct gm_target_notes {
	uint64_t vdso;	    /* AT_SYSINFO_EHDR */
	uint64_t at_random; /* AT_RANDOM, which points into the main thread's stack */
	uint64_t tgid;	    /* the process id (NT_PRPSINFO), the main thread's id; 0 unknown */
	const struct gm_core_thread *threads;
	size_t nthreads;
};

void gm_target_notes(const struct gm_target *t, struct gm_target_notes *ret);

/* A file the process mapped (a shared library), as this machine has it. */
struct gm_file_image {
	const uint8_t *map;
	uint64_t size;
};

/*
 * The file at path, when this machine has it and it is the one the process
 * mapped: the target's copy of its first page (coredump_filter bit 4)
 * matches. NULL otherwise. Owned by the target.
 */
const struct gm_file_image *gm_target_lib(struct gm_target *t, const char *path);
/* The end of a library's writable segment (its .bss) once loaded at load_base; 0 unknown. */
uint64_t gm_target_lib_bss_end(struct gm_target *t, const char *path, uint64_t load_base);

/* ---- the executable's symbols (symbols.c) ---- */

struct gm_sym {
	uint64_t addr, size; /* link-time address: add the load bias of a PIE */
	const char *name;    /* NUL-terminated, in the executable's mapped .strtab */
	bool func;
};

struct gm_symtab {
	struct gm_sym *syms; /* functions and variables, sorted by address */
	size_t n;
};

/* The executable's .symtab; none (n = 0) for a stripped one. */
struct gomem_error *gm_symtab_load(const struct gm_exe *exe, struct gm_symtab *ret);
void gm_symtab_deinit(struct gm_symtab *st);
/* The function whose entry is pc (a goroutine's startpc), or NULL. */
const char *gm_symtab_func_at(const struct gm_symtab *st, uint64_t pc);
/* The function or variable that holds addr, or NULL. */
const struct gm_sym *gm_symtab_find(const struct gm_symtab *st, uint64_t addr);

/* "rwx"-style permissions of a mapping, into buf[4]. */
const char *gm_perms(uint32_t flags, char buf[4]);

#endif /* GOMEM_TARGET_H */
