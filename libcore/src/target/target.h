/*
 * The target: the executable, the core file or the live process, the
 * memory reader over them, and the mappings of the address space.
 */
#ifndef GOMEM_TARGET_H
#define GOMEM_TARGET_H

#include "base/base.h"
#include "target/arch.h"

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

/*
 * A thread of a core (NT_PRSTATUS, and NT_ARM_TLS on arm64) or of a stopped
 * live process (PTRACE_GETREGSET): its LWP id and registers.
 */
struct gm_core_thread {
	uint64_t tid;
	uint64_t sp, tp; /* stack and thread pointer; 0 when unknown */
	struct gm_regs regs;
};

#define GM_CORE_MAX_THREADS (1u << 16) /* NT_PRSTATUS notes kept; more are counted */

/* Who wrote a core, which says what its holes mean. */
enum gm_core_kind {
	GM_CORE_KERNEL, /* the kernel: a page never touched is a hole */
	GM_CORE_GCORE,	/* GDB's gcore: every page written, PROT_NONE shown as r-- */
	GM_CORE_QEMU,	/* qemu-user's guest core: every page written, three kinds of notes */
};

struct gm_core {
	char *path;
	const struct gm_arch *arch; /* from e_machine */
	int fd;
	const uint8_t *map;
	uint64_t size;
	int pid;	  /* the process id (NT_PRPSINFO, else the first NT_PRSTATUS) */
	int prpsinfo_pid; /* 0 when the core has no NT_PRPSINFO */
	/* From NT_AUXV, 0 when absent. */
	uint64_t at_entry, at_phdr, at_sysinfo_ehdr, at_random, at_pagesz;
	struct gm_core_thread *threads; /* NT_PRSTATUS, in note order; the first took the signal */
	size_t nthreads, cap_threads;	/* entries of threads */
	size_t nthread_notes;		/* every NT_PRSTATUS, kept or not */
	bool have_auxv;
	enum gm_core_kind kind;
	uint64_t page_size;   /* the OS page: AT_PAGESZ, else a kernel core's p_align; 0 unknown */
	bool holes_untouched; /* its holes are the pages never touched: residency is known */
	bool note_file, note_siginfo; /* it has NT_FILE, NT_SIGINFO */
	size_t other_notes;	      /* notes but NT_PRSTATUS, NT_PRPSINFO, NT_AUXV */
	bool anon_missing;	      /* no anonymous memory at all: coredump_filter left it out */
	uint64_t vsyscall_bytes;      /* the vsyscall page, which VmSize leaves out */
	struct gm_segment *loads;     /* every PT_LOAD, in file order */
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
	uint64_t entry, phdr, sysinfo_ehdr, random, pagesz;
};

/* Sets the members of a for the entries buf holds (the others are left as they are). */
void gm_auxv_parse(const uint8_t *buf, uint64_t len, struct gm_auxv *a);

struct gomem_error *gm_core_open(const char *path, struct gm_core *core);
/* Maps a whole regular file read-only; what names it in errors ("core"). */
struct gomem_error *gm_map_file(const char *path, const char *what, int *fd_ret,
				const uint8_t **map_ret, uint64_t *size_ret);
/*
 * NULL for a little-endian ELF64 of a machine gomem reads (x86-64,
 * AArch64), else the reason it is not.
 */
const char *gm_elf_check_ident(const void *ehdr);
/* The ELF machine (e_machine) of a header that gm_elf_check_ident() accepted. */
unsigned gm_elf_machine(const void *ehdr);
/* "kernel", "gcore", "qemu" */
const char *gm_core_kind_name(enum gm_core_kind kind);
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
	const struct gm_arch *arch; /* from e_machine */
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
	uint64_t dynamic_vaddr, dynamic_size; /* PT_DYNAMIC; 0 for a static executable */
	char go_version[64];		      /* "go1.26.8" without the experiments */
	char build_version[128];	      /* as the linker wrote it */
	char experiments[256];		      /* comma-separated, "" when none */
	char go_build_id[128];
	/* Build settings of .go.buildinfo (go version -m): -race, -msan, -asan, GOARCH. */
	bool race, msan, asan;
	char goarch[16]; /* "" when not recorded */
	bool has_dwarf;	 /* a .debug_info section with bytes (compressed or not) */
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
/* The configuration that decides the runtime's layout, "go1.26 amd64 X:nogreenteagc race". */
void gm_exe_config(const struct gm_exe *exe, char *buf, size_t size);
/* The release of the Go version ("go1.26" of "go1.26.8"); the whole version when not go1.N. */
void gm_exe_release(const struct gm_exe *exe, char *buf, size_t size);

/* Names of the allocated sections in [lo, hi) (link addresses), space-separated, into buf. */
void gm_exe_section_names(const struct gm_exe *exe, uint64_t lo, uint64_t hi, bool nobits,
			  char *buf, size_t size);
/* The largest data symbol (STT_OBJECT) in [lo, hi) (link addresses); false when none. */
bool gm_exe_largest_object(const struct gm_exe *exe, uint64_t lo, uint64_t hi, char *name,
			   size_t name_size, uint64_t *size);
/* The same in any mapped ELF file (a debug file). */
bool gm_image_largest_object(const uint8_t *map, uint64_t map_size, uint64_t lo, uint64_t hi,
			     char *name, size_t name_size, uint64_t *size);

/* ---- a debug file: the DWARF and symbols of a stripped executable (debugfile.c) ---- */

struct gm_debug_file {
	char *path;
	int fd;
	const uint8_t *map;
	uint64_t size;
};

/*
 * Opens the file at path as the DWARF and symbols of exe, after checking
 * that it describes exe's image: every allocated section with the same
 * name, address and size, and .text byte-identical (or, for a file without
 * code, exe's build IDs). A mismatch is an error that says which section
 * differs and what a debug file must be.
 */
struct gomem_error *gm_debug_file_open(const struct gm_exe *exe, const char *path,
				       struct gm_debug_file *ret);
void gm_debug_file_deinit(struct gm_debug_file *df);

/* ---- targets (target.c) ---- */

enum gm_source { GM_SOURCE_CORE, GM_SOURCE_LIVE };

/* A mapping of the target's address space, as /proc/PID/maps would show it. */
struct gm_mapping {
	uint64_t start, end;
	uint32_t flags;	     /* PF_R | PF_W | PF_X; a gcore shows PROT_NONE regions as PF_R */
	uint64_t offset;     /* file offset, for file-backed mappings */
	char *path;	     /* NULL for anonymous memory; "[vdso]"-style names when live */
	bool in_core;	     /* core: some of its bytes are in the core file */
	bool offset_unknown; /* named from the dynamic linker's list (linkmap.c): offset unknown */
	/*
	 * 'p' private, 's' shared (MAP_SHARED), as /proc/PID/maps shows them;
	 * '?' where a core cannot tell (a file mapping it holds no page of).
	 */
	char share;
	/* Live: its smaps Rss and Anonymous (has_smaps false otherwise). */
	bool has_smaps;
	uint64_t smaps_rss, smaps_anon;
};

struct gm_libs;	   /* libs.c */
struct gm_pclntab; /* pclntab.h */
void gm_libs_destroy(struct gm_libs *libs);

/*
 * A target: an executable and the memory of one of its processes, from a
 * core file or a live process. What the Go runtime in it means is read by
 * the layers above (runtime/).
 */
struct gm_target {
	enum gm_source source;
	struct gm_exe exe;
	const struct gm_arch *arch; /* the executable's; the core's must be the same */
	uint64_t page_size;	    /* the OS page size (AT_PAGESZ) */
	char *exe_file;		    /* the path the executable was opened from (/proc/PID/exe...) */
	struct gm_core core;
	bool have_core;
	int pid;
	uint64_t bias; /* load bias of a PIE: the executable's addresses minus its link addresses */
	struct gm_memory mem;
	struct gm_mapping *mappings; /* sorted, built on first use */
	size_t nmappings;
	struct gm_live *live; /* live and callback targets (live.c) */
	struct gm_libs *libs; /* shared libraries opened on this machine, on first use */
	struct gm_debug_file
	    debug; /* the executable's DWARF and symbols, when from a second file */
	bool have_debug;
	struct gm_pclntab *pclntab; /* the executable's function table, on first use */
	bool pclntab_failed;	    /* it could not be read: no function names */
	char **warnings;	    /* about the target itself; every report carries them */
	size_t nwarnings;
	bool read_running; /* a live process read while it runs (--no-stop) */
};

/*
 * The _init functions fill caller-owned storage; on failure it is left
 * deinitialized (gm_target_deinit() is still harmless). See gomem.h for
 * what each kind of target is.
 */
struct gomem_error *gm_target_init_core(struct gm_target *t, const char *exe_path,
					const char *core_path, const char *debug_file);
struct gomem_error *gm_target_init_pid(struct gm_target *t, int pid, const char *exe_path,
				       unsigned flags, const char *debug_file);
struct gomem_error *gm_target_init_callback(struct gm_target *t, const char *exe_path, int pid,
					    uint64_t at_entry, const char *maps,
					    gomem_read_fn read_fn, void *arg,
					    const char *debug_file);
/*
 * (debug_file: a file with the executable's DWARF and symbols, checked
 * against it by gm_debug_file_open before the process is stopped; NULL for
 * none.)
 */
/* Resumes a process that was stopped, and releases everything. */
void gm_target_deinit(struct gm_target *t);

/*
 * The live pause. A process opened with GOMEM_PID_STOP runs while its
 * executable, DWARF, layouts and maps are read; gm_target_stop() stops it
 * (every thread, their registers, the maps read again: the mappings are
 * read again with smaps if they changed), gm_target_resume() lets it go.
 * Nothing for other targets. gm_target_pause(): whether gomem stops this
 * process, and how long it stood still in all.
 */
struct gomem_error *gm_target_stop(struct gm_target *t);
void gm_target_resume(struct gm_target *t);
bool gm_target_pause(const struct gm_target *t, uint64_t *ns_ret, unsigned *stops_ret);
/* Whether the process is stopped by gomem now. */
bool gm_target_stopped(const struct gm_target *t);
/*
 * The object graph's copy of a process gomem stopped (target/live.c,
 * gm_live_snapshot): everything it reads is copied, then the process is
 * resumed and every read is served from the copy until
 * gm_target_end_snapshot(). Nothing for other targets, or once taken.
 * gm_target_snapshot_taken: whether this run took one, and its bytes.
 */
struct gomem_error *gm_target_snapshot(struct gm_target *t);
/* Before gm_target_stop: the snapshot's size checked and its buffer made ready. */
struct gomem_error *gm_target_prepare_snapshot(struct gm_target *t);
void gm_target_end_snapshot(struct gm_target *t);
bool gm_target_snapshot_taken(const struct gm_target *t, uint64_t *bytes_ret);
/* The most a snapshot may copy (0: half of the machine's MemAvailable). */
void gm_target_set_max_snapshot(struct gm_target *t, uint64_t bytes);

/* A warning about the target that every verb's output carries. */
struct gomem_error *gm_target_warn(struct gm_target *t, const char *fmt, ...) GM_PRINTF(2, 3);

/* The target's mappings, sorted by address (owned by the target). */
struct gomem_error *gm_target_mappings(struct gm_target *t, const struct gm_mapping **ret,
				       size_t *n_ret);
/* Whether resident bytes can be known: kernel cores and live processes. */
bool gm_target_residency_known(const struct gm_target *t);
/*
 * Why residency is unknown, in words ("gcore writes every page ..."),
 * NULL when it is known.
 */
const char *gm_target_residency_why(const struct gm_target *t);
/* Resident bytes of [start, end); 0 when unknown. */
uint64_t gm_target_resident(struct gm_target *t, uint64_t start, uint64_t end);
/* A core written by GDB's gcore (every page, PROT_NONE shown as r--), not by the kernel. */
bool gm_target_is_gcore(const struct gm_target *t);
/* "kernel", "gcore", "qemu" for a core; NULL for a live process. */
const char *gm_target_core_kind(const struct gm_target *t);

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
/* Whether a mapping that starts at start is the vsyscall page (x86-64). */
bool gm_target_is_vsyscall(const struct gm_target *t, uint64_t start);
/*
 * How much of a mapped ELF file's start gomem compares with the file on
 * this machine (its ELF and program headers, build ID notes): the core
 * holds a file's first page whole, and every OS page size is at least this.
 */
#define GM_ELF_HEAD_BYTES 4096u

/*
 * What a core's notes say about the process and its threads (NT_AUXV,
 * NT_PRPSINFO, NT_PRSTATUS). A live target has the threads' registers
 * only when it was stopped by gomem or by the debugger that opened it
 * (ptrace), and the tgid.
 */
struct gm_target_notes {
	uint64_t vdso;	    /* AT_SYSINFO_EHDR */
	uint64_t at_random; /* AT_RANDOM, which points into the main thread's stack */
	uint64_t tgid;	    /* the process id (NT_PRPSINFO), the main thread's id; 0 unknown */
	const struct gm_core_thread *threads;
	size_t nthreads;
};

void gm_target_notes(const struct gm_target *t, struct gm_target_notes *ret);

/*
 * Every thread's registers (struct gm_regs: sp, pc, fp, lr, g, the GPRs):
 * a core's NT_PRSTATUS notes, or, for a live process that gomem stopped
 * itself, PTRACE_GETREGSET of each thread. None for a process stopped by a
 * debugger (which holds the threads) or read while it runs. The reports
 * of the address space use gm_target_notes() only, so that GDB and the
 * CLI describe a live process alike.
 */
void gm_target_threads(const struct gm_target *t, const struct gm_core_thread **ret, size_t *n_ret);

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

/*
 * Names the mappings (sorted, of a core without NT_FILE) of each shared
 * object that the dynamic linker's list (r_debug) holds (linkmap.c).
 */
struct gomem_error *gm_linkmap_name_mappings(struct gm_target *t, struct gm_mapping *m, size_t n);

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
/* The .symtab of the target's executable, or of its debug file when it has one. */
struct gomem_error *gm_target_symtab(const struct gm_target *t, struct gm_symtab *ret);
/*
 * The function whose entry is pc (link-time), by the executable's
 * .gopclntab, which every Go binary keeps; NULL when none (or no table).
 * The name lives as long as the target.
 */
const char *gm_target_func_at(struct gm_target *t, uint64_t pc);
/* The function whose code holds pc (link-time) and its entry; NULL when none. */
const char *gm_target_func_holding(struct gm_target *t, uint64_t pc, uint64_t *entry_ret);
/* The target's function table (opened on first use); NULL when it cannot be read. */
struct gm_pclntab *gm_target_pclntab(struct gm_target *t);
void gm_symtab_deinit(struct gm_symtab *st);
/* The function whose entry is pc (a goroutine's startpc), or NULL. */
const char *gm_symtab_func_at(const struct gm_symtab *st, uint64_t pc);
/* The function or variable that holds addr, or NULL. */
const struct gm_sym *gm_symtab_find(const struct gm_symtab *st, uint64_t addr);

/* "rwxp"-style permissions of a mapping as /proc/PID/maps shows them, into buf[5]. */
const char *gm_perms(uint32_t flags, char share, char buf[5]);

#endif /* GOMEM_TARGET_H */
