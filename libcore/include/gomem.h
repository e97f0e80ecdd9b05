/* gomem: where a Go program's memory went, from an ELF core or a live process.
 *
 * The one public header of libcore. Every fallible function returns a
 * struct gomem_error * (NULL on success) and writes its results through
 * trailing *ret parameters, which change only on success.
 */
#ifndef GOMEM_H
#define GOMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GOMEM_EXPORT __attribute__((visibility("default")))

/* Error codes; also the CLI's exit status classes. */
enum gomem_error_code {
	GOMEM_ERROR_NO_MEMORY = 1,
	GOMEM_ERROR_USAGE,	 /* bad argument */
	GOMEM_ERROR_IO,		 /* cannot open or read a file */
	GOMEM_ERROR_FORMAT,	 /* not an ELF core, truncated, corrupt */
	GOMEM_ERROR_MISMATCH,	 /* the core is not from this executable */
	GOMEM_ERROR_NOT_GO,	 /* not a Go program, or no DWARF */
	GOMEM_ERROR_UNSUPPORTED, /* a Go version or layout gomem does not know */
	GOMEM_ERROR_FAULT,	 /* target memory that cannot be read */
	GOMEM_ERROR_INCONSISTENT /* runtime structures that contradict themselves */
};

struct gomem_error;

GOMEM_EXPORT enum gomem_error_code gomem_error_code(const struct gomem_error *err);
/* One line, naming the file or address and the problem. */
GOMEM_EXPORT const char *gomem_error_message(const struct gomem_error *err);
GOMEM_EXPORT void gomem_error_destroy(struct gomem_error *err);

/* A target: an executable and the memory of one of its processes. */
struct gomem_target;

/* Opens an executable and an ELF core file of it. */
GOMEM_EXPORT struct gomem_error *gomem_target_open_core(const char *exe_path, const char *core_path,
							struct gomem_target **ret);

/* Flags of gomem_target_open_pid. */
enum {
	/*
	 * Stop every thread with ptrace (seize and interrupt) while the target
	 * is open; gomem_target_destroy() detaches each, so the process goes
	 * on exactly as before (one that was stopped stays stopped).
	 */
	GOMEM_PID_STOP = 1,
	/* The caller keeps the process stopped (a debugger that traces it). */
	GOMEM_PID_STOPPED_BY_CALLER = 2,
};

/*
 * Opens a live process through /proc/PID (mem, maps, smaps, pagemap, auxv).
 * exe_path NULL reads the executable through /proc/PID/exe, which works even
 * when the file on disk was replaced or deleted. Without either flag the
 * process runs while it is read, and every report warns that its view may
 * be inconsistent. gomem never writes to the process.
 */
GOMEM_EXPORT struct gomem_error *gomem_target_open_pid(int pid, const char *exe_path,
						       unsigned flags, struct gomem_target **ret);

/*
 * For a process opened with GOMEM_PID_STOP: the most gomem may copy of it
 * for the object graph (objects, types, top, summary --objects...). Those
 * verbs copy the pages the graph reads while the process is stopped, let it
 * go on, and build the graph from the copy; a copy above bytes is refused
 * with an error that says its size. 0, the default: half of the machine's
 * MemAvailable when the copy is made. Nothing for other targets.
 */
GOMEM_EXPORT void gomem_target_set_max_snapshot(struct gomem_target *target, uint64_t bytes);

/* Reads len bytes of the target at addr into buf: 0 on success, -1 when it cannot. */
typedef int (*gomem_read_fn)(void *arg, uint64_t addr, void *buf, size_t len);

/*
 * Opens a process whose memory only the caller can read (GDB with a remote
 * target): every read calls read_fn(arg, ...). at_entry is AT_ENTRY of the
 * process's auxiliary vector (0 when unknown: then only a non-PIE can be
 * placed); maps is the text of its /proc/PID/maps, or NULL when unknown (the
 * verbs that need the address space then fail with an error that says so).
 * Residency is unknown. The caller keeps the process stopped and keeps
 * read_fn and arg valid until gomem_target_destroy().
 */
GOMEM_EXPORT struct gomem_error *gomem_target_open_callback(const char *exe_path, int pid,
							    uint64_t at_entry, const char *maps,
							    gomem_read_fn read_fn, void *arg,
							    struct gomem_target **ret);
GOMEM_EXPORT void gomem_target_destroy(struct gomem_target *target);

/*
 * The same three, for an executable without DWARF (built with -ldflags="-s
 * -w", or stripped; README: Stripped binaries). exe_path stays the file that
 * ran. debug_file (or NULL): its DWARF and symbols from this file, which
 * must describe the executable (the same file before strip, its objcopy
 * --only-keep-debug, or a rebuild with -trimpath and the same Go, flags and
 * sources): every allocated section with the same name, address and size,
 * and .text byte-identical, else an error that says which differs.
 * layout_from (or NULL): when there is no DWARF at all, the runtime's
 * layouts from this unstripped program built by the same Go release and
 * configuration (.go.buildinfo must agree); without it, from gomem's own
 * tables. The runtime's globals are then found in the executable's code.
 * Every report says where the answers came from.
 */
GOMEM_EXPORT struct gomem_error *
gomem_target_open_core_with(const char *exe_path, const char *core_path, const char *debug_file,
			    const char *layout_from, struct gomem_target **ret);
GOMEM_EXPORT struct gomem_error *gomem_target_open_pid_with(int pid, const char *exe_path,
							    unsigned flags, const char *debug_file,
							    const char *layout_from,
							    struct gomem_target **ret);
GOMEM_EXPORT struct gomem_error *
gomem_target_open_callback_with(const char *exe_path, int pid, uint64_t at_entry, const char *maps,
				gomem_read_fn read_fn, void *arg, const char *debug_file,
				const char *layout_from, struct gomem_target **ret);

/*
 * Runs a verb ("summary", ...) on a target with its arguments as a user
 * typed them after the verb, less the target itself: options (--json,
 * --limit N, ...) and the verb's own operands (an address for whatis). The
 * CLI and the GDB plugin both call this, so they parse options the same way
 * and print the same bytes.
 *
 * On success *ret is a NUL-terminated string (text, or JSON with --json) to
 * release with gomem_free(), and *partial_ret (if not NULL) is set to 1 when
 * the result carries warnings about parts that could not be read.
 */
GOMEM_EXPORT struct gomem_error *gomem_run(struct gomem_target *target, const char *verb, int argc,
					   const char *const *argv, char **ret, int *partial_ret);

/*
 * Compares two gomem/summary/v1 JSON texts (what `summary --json` prints, of
 * the same executable or not): what grew or shrank from a to b, by breakdown
 * node and by size class, largest change first, as text or (json != 0) as
 * one gomem/diff/v1 object. The verb "diff" does the same for a target and
 * another core. Release *ret with gomem_free().
 */
GOMEM_EXPORT struct gomem_error *gomem_diff_summaries(const char *a, const char *b, int json,
						      char **ret);

/* Whether the file at path is a saved summary (JSON), not a core or an executable. */
GOMEM_EXPORT int gomem_is_summary_file(const char *path);

/* gomem_diff_summaries() of two saved summary files, named in errors and in the report. */
GOMEM_EXPORT struct gomem_error *gomem_diff_summary_files(const char *path_a, const char *path_b,
							  int json, char **ret);

/*
 * The verbs, their usage, help text and options, as JSON:
 * {"verbs": [{"name", "usage", "summary", "help", "operands": int,
 *             "options": [{"name", "value": str|null, "help"}]}]}
 * For help texts and tab completion. Release with gomem_free().
 */
GOMEM_EXPORT char *gomem_verbs_json(void);

/* Checks a verb's arguments (as for gomem_run) without a target. */
GOMEM_EXPORT struct gomem_error *gomem_check_args(const char *verb, int argc,
						  const char *const *argv);

/*
 * Help text: with verb NULL, the list of verbs with one line each; else the
 * verb's usage, help and options. NULL for an unknown verb. gomem_free() it.
 */
GOMEM_EXPORT char *gomem_help(const char *verb);

/* Whether OPTION of VERB takes a value (so that a CLI can tell operands apart). */
GOMEM_EXPORT int gomem_option_takes_value(const char *verb, const char *option);

GOMEM_EXPORT void gomem_free(void *p);

/* The library's version string. */
GOMEM_EXPORT const char *gomem_version(void);

#ifdef __cplusplus
}
#endif

#endif /* GOMEM_H */
