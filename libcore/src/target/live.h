/* Live processes: /proc/PID, ptrace stop and resume, and read callbacks. */
#ifndef GOMEM_LIVE_H
#define GOMEM_LIVE_H

#include "target/target.h"

struct gm_live;

/*
 * Opens /proc/PID/mem (and pagemap, when it can) of a process. With
 * GOMEM_PID_STOP in flags the process is stopped only by gm_live_stop(),
 * once everything that needs no memory of it is ready, and resumed by
 * gm_live_resume() or by destroying.
 */
struct gomem_error *gm_live_create_pid(int pid, unsigned flags, struct gm_live **ret);
/* A process read through fn; maps is its /proc/PID/maps text or NULL. */
struct gomem_error *gm_live_create_callback(int pid, const char *maps, gomem_read_fn fn, void *arg,
					    struct gm_live **ret);
/*
 * Stops every thread (a GOMEM_PID_STOP process; nothing otherwise), reads
 * their registers and the maps again. Timed until gm_live_resume().
 */
struct gomem_error *gm_live_stop(struct gm_live *l);
/* Resumes the threads gm_live_stop() stopped, each as it was. */
void gm_live_resume(struct gm_live *l);
/* Whether the process is stopped by gomem, and how long it stood still in all (ns, stops). */
bool gm_live_pause(const struct gm_live *l, uint64_t *ns_ret, unsigned *stops_ret);
bool gm_live_stopped(const struct gm_live *l);
/*
 * Copies what the object graph reads (every private readable mapping's
 * pages in memory or in swap) while the process is stopped, then resumes
 * it: from here until gm_live_end_snapshot() every read is served from the
 * copy, never from the process. Nothing unless gomem stopped the process.
 * Fails, leaving the process stopped, when the copy would exceed the limit
 * (gm_live_set_max_snapshot; 0: half of MemAvailable).
 */
struct gomem_error *gm_live_snapshot(struct gm_live *l);
/*
 * Before gm_live_stop, for a run that will take a snapshot: its size from
 * the process as it runs, refused above the limit before the process is
 * stopped at all, and its buffer allocated and touched, so that the stop
 * holds the copy alone.
 */
struct gomem_error *gm_live_prepare_snapshot(struct gm_live *l);
void gm_live_set_max_snapshot(struct gm_live *l, uint64_t bytes);
/* Drops the copy: reads go to the process again (stopped by the next gm_live_stop). */
void gm_live_end_snapshot(struct gm_live *l);
/* Whether this stop's run took a snapshot, and its bytes. */
bool gm_live_snapshot_taken(const struct gm_live *l, uint64_t *bytes_ret);
/* Whether m[0..n) are still the mappings, as the last read of the maps found them. */
bool gm_live_maps_unchanged(const struct gm_live *l, const struct gm_mapping *m, size_t n);
/* Resumes the threads it stopped (each as it was) and closes everything. */
void gm_live_destroy(struct gm_live *l);

/* The gm_read_fn of a live target (arg is the struct gm_live). */
struct gomem_error *gm_live_read(void *arg, uint64_t addr, void *buf, size_t len);

/* The mappings, sorted (the caller frees each path and the array). */
struct gomem_error *gm_live_mappings(struct gm_live *l, struct gm_mapping **ret, size_t *n_ret);
/* Whether gm_live_resident can answer: /proc/PID/smaps and pagemap were read. */
bool gm_live_residency_known(const struct gm_live *l);
/* Resident bytes of [start, end): smaps for a whole mapping, else pagemap. */
uint64_t gm_live_resident(struct gm_live *l, uint64_t start, uint64_t end);

/* AT_ENTRY and AT_PAGESZ from /proc/PID/auxv (0 when absent). */
struct gomem_error *gm_live_auxv(int pid, uint64_t *entry_ret, uint64_t *page_size_ret);
/* The OS page size, which pagemap has one entry per (4096 until set). */
void gm_live_set_page_size(struct gm_live *l, uint64_t page_size);
/*
 * The registers of the threads, read when the process was stopped (by
 * gomem, or by the debugger that opened it and traces it), the main thread
 * first; none otherwise.
 */
void gm_live_threads(const struct gm_live *l, const struct gm_core_thread **ret, size_t *n_ret);

/*
 * The executable of a process: *open_ret is the path to open (its own path,
 * or /proc/PID/exe when that file was replaced or deleted on disk),
 * *name_ret the name to show (what /proc/PID/exe links to) and *replaced
 * whether the file on disk is no longer the one running. Free both strings.
 */
struct gomem_error *gm_live_exe(int pid, char **open_ret, char **name_ret, bool *replaced_ret);

#endif
