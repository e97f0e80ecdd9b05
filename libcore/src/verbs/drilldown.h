/*
 * Private interfaces of the drill-down verbs (arenas, spans, classes,
 * stacks, whatis): the goroutine and thread model that stacks.c builds and
 * whatis.c reuses, and small helpers they share.
 */
#ifndef GOMEM_DRILLDOWN_H
#define GOMEM_DRILLDOWN_H

#include "verbs/verbs.h"

/* At most this many Gs and Ms are read: more means a corrupt allglen or allm. */
#define GM_MAX_GOROUTINES (1u << 22)
#define GM_MAX_THREADS	  (1u << 16)

/* Where a goroutine's used_bytes came from. */
enum gm_sp_source {
	GM_SP_NONE,    /* unknown: dead, or no saved SP inside the stack */
	GM_SP_SCHED,   /* g.sched.sp, saved when the goroutine last stopped running */
	GM_SP_SYSCALL, /* g.syscallsp, saved on entry to a system call */
	GM_SP_THREAD,  /* the stack pointer of the thread running it, from the core */
};

struct gm_goroutine {
	uint64_t g; /* address of the runtime.g */
	uint64_t goid;
	uint32_t status; /* atomicstatus without the scan bit */
	bool scan;	 /* the _Gscan bit was set */
	uint64_t lo, hi; /* g.stack, [lo, hi); 0, 0 for a dead G without a stack */
	uint64_t sp;	 /* valid when sp_source != GM_SP_NONE */
	enum gm_sp_source sp_source;
	uint64_t startpc;
	const char *start_func; /* NUL-terminated, in the executable's symbol table; or NULL */
	bool system;		/* a runtime goroutine, as runtime.isSystemGoroutine decides */
	bool in_span;		/* the stack lies in a Go heap stack span */
};

enum gm_thread_kind {
	GM_THREAD_GO,	   /* g0 stack allocated from the Go heap (a stack span) */
	GM_THREAD_OS,	   /* m0: the process's main thread stack */
	GM_THREAD_PTHREAD, /* a stack from pthread_create (cgo), outside the Go heap */
};

struct gm_thread {
	uint64_t m; /* address of the runtime.m */
	int64_t id;
	uint64_t procid; /* the thread id (LWP) */
	uint64_t g0_lo, g0_hi, gsignal_lo, gsignal_hi;
	uint64_t curg, curg_goid; /* curg: address of the G it runs, 0 if none */
	bool has_curg;
	bool g0_in_span, gsignal_in_span;
	bool has_sp; /* the thread's stack pointer was found in the core */
	uint64_t sp;
	enum gm_thread_kind kind;
};

/* How StackInuse (every stack span) splits; the parts add up to stack_span_bytes. */
struct gm_stack_totals {
	uint64_t stack_span_bytes, stack_spans, pool_spans, dedicated_spans;
	uint64_t goroutine_bytes;      /* stacks of live goroutines in stack spans */
	uint64_t dead_goroutine_bytes; /* dead Gs keep their stack for reuse */
	uint64_t g0_bytes, gsignal_bytes;
	uint64_t crash_bytes;	   /* runtime.gcrash's stack (1.22+) */
	uint64_t pool_free_bytes;  /* pool slots on the spans' free lists (nelems - allocCount) */
	uint64_t stackcache_bytes; /* per-P stack caches, mcache.stackcache[].size */
	uint64_t large_free_bytes; /* dedicated spans on stackLarge.free */
	int64_t unexplained_bytes; /* stack_span_bytes minus all of the above */
	uint64_t outside_bytes;	   /* g0 stacks outside the Go heap (OS, pthread) */
	uint64_t goroutines, live_goroutines, user_goroutines, system_goroutines;
	uint64_t dead_goroutines, ngsys; /* runtime's sched.ngsys (0 when absent) */
	uint64_t extra_m_goroutines;	 /* dead Gs that idle extra Ms (cgo) hold as curg */
	bool have_ngsys, have_symbols;
};

struct gm_stacks {
	struct gm_goroutine *gs;
	size_t ngs;
	struct gm_thread *threads;
	size_t nthreads;
	struct gm_stack_totals totals;
	uint64_t crash_lo, crash_hi; /* runtime.gcrash.stack, 0, 0 when absent */
	uint64_t stack_inuse;	     /* StackInuse from the runtime's counters */
	char *warnings[8];
	size_t nwarnings;
	bool partial; /* some Gs or Ms could not be read */
};

/* _Gdead, and _Gdeadextra (runtime2.go@1.26): an extra M's G while no C thread uses it. */
static inline bool gm_goroutine_dead(const struct gm_goroutine *g)
{
	return g->status == 6 || g->status == 11;
}

/* Reads every G of allgs and every M of allm, and reconciles their stacks with StackInuse. */
struct gomem_error *gm_stacks_read(struct gm_target *t, struct gm_runtime *rt,
				   struct gm_stacks *ret);
void gm_stacks_deinit(struct gm_stacks *s);
const char *gm_goroutine_status_name(uint32_t status);
const char *gm_thread_kind_name(enum gm_thread_kind kind);

#endif
