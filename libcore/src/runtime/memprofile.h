/*
 * The program's own heap profile: the runtime's memory-profile buckets
 * (runtime.mbuckets, mprof.go), read as runtime.MemProfile reports them,
 * and the executable's function table made ready to symbolize their
 * stacks (the text and funcdata bases of this process).
 */
#ifndef GOMEM_RUNTIME_MEMPROFILE_H
#define GOMEM_RUNTIME_MEMPROFILE_H

#include "runtime/runtime.h"
#include "target/pclntab.h"

/* runtime.maxProfStackDepth (1.23+; maxStack, 32, before): longer stacks are corrupt. */
#define GM_MEMPROFILE_MAX_STACK 1024
/* More buckets than this is a corrupt list (each takes BuckHashSys bytes: 16 M is 1.4 GB). */
#define GM_MEMPROFILE_MAX_BUCKETS (1u << 24)

/* One bucket: one allocation stack and object size, with its counts. */
struct gm_memprofile_record {
	uint64_t bucket; /* address of the runtime.bucket */
	uint64_t size;	 /* bucket.size: the size asked for (the profile's "bytes" label) */
	/* As runtime.MemProfile reports them: the published (active) counts. */
	uint64_t allocs, frees, alloc_bytes, free_bytes;
	const uint64_t *stk; /* return pcs, innermost first (into gm_memprofile.pcs) */
	uint32_t nstk;
};

struct gm_memprofile {
	int64_t rate;	 /* runtime.MemProfileRate */
	bool disabled;	 /* runtime.disableMemoryProfiling: the linker saw no use of the profile */
	bool have_bytes; /* memRecordCycle counts bytes (before 1.27); else count * size */
	uint32_t cycle;	 /* mProfCycle: the heap profile cycle */
	/*
	 * No GC has published a cycle yet (every active count is 0): then
	 * MemProfile sums every pending cycle, and so does this reader.
	 */
	bool all_cycles;
	struct gm_memprofile_record *records; /* in runtime.mbuckets order */
	size_t nrecords;
	uint64_t *pcs; /* the records' stacks */
	size_t npcs;
	/* Warnings (a bucket that could not be read ends the walk: what was read is kept). */
	char **warnings;
	size_t nwarnings;
	bool partial;
};

/*
 * Reads every memory-profile bucket (a bounded walk of mbuckets' allnext
 * list) with what runtime.MemProfile(p, true) would report: active plus
 * the current cycle's counts (its flush), or every cycle when no GC has
 * published one. Works while the program runs too (a live target without
 * a stop: the counts may then be torn, as the warning of such a target
 * says).
 */
struct gomem_error *gm_memprofile_read(struct gm_runtime *rt, struct gm_memprofile *ret);
void gm_memprofile_deinit(struct gm_memprofile *mp);

/*
 * The executable's pclntab, ready for questions about this process's pcs
 * (less rt->bias): its text start and funcdata base (moduledata.text and
 * .gofunc) set from runtime.firstmoduledata when the file alone does not
 * give them. gm_pclntab_destroy() it.
 */
struct gomem_error *gm_runtime_pclntab(struct gm_runtime *rt, struct gm_pclntab **ret);

#endif /* GOMEM_RUNTIME_MEMPROFILE_H */
