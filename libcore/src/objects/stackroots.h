/*
 * The goroutine stacks as roots of the object graph, as the GC's markroot
 * scans them (scanstack and scanframeworker, mgcmark.go; getStackMap,
 * stkframe.go): every pointer word it would scan, handed to a callback.
 * GO-OBJECTS.md §3.3 and §3.4.
 */
#ifndef GOMEM_OBJECTS_STACKROOTS_H
#define GOMEM_OBJECTS_STACKROOTS_H

#include "runtime/frames.h"

enum gm_stack_slot_kind {
	GM_STACK_SLOT_LOCAL,	   /* a local's word, live by the stack map at pc-1 */
	GM_STACK_SLOT_ARG,	   /* an argument's (or result's) word, live by the args map */
	GM_STACK_SLOT_OBJECT,	   /* a word of a stack object reached from the stack's roots */
	GM_STACK_SLOT_CTXT,	   /* g.sched.ctxt, the closure context register */
	GM_STACK_SLOT_DEFER,	   /* _defer.fn, _defer.link, and a heap _defer record itself */
	GM_STACK_SLOT_PANIC,	   /* g._panic */
	GM_STACK_SLOT_REGISTER,	   /* a register of a thread running the goroutine */
	GM_STACK_SLOT_CONSERVATIVE /* a word of a frame scanned conservatively */
};

struct gm_stack_slot {
	enum gm_stack_slot_kind kind;
	uint64_t goid;
	uint64_t frame_pc, frame_sp; /* the frame it belongs to; 0, 0 for none (ctxt, defer, ...) */
	uint64_t frame_fp;	     /* its fp (caller's sp), the DWARF CFA on amd64; 0 for none */
	const char *func;	     /* the frame's function (linker name), or NULL; valid in fn */
	uint64_t addr;		     /* where the word is (0 for a register) */
	uint64_t value;		     /* the word (never 0: nil words are not given) */
	bool conservative; /* the word may not be a pointer: accept it only if it points to an
			      allocated object */
};

typedef struct gomem_error *(*gm_stack_slot_fn)(void *arg, const struct gm_stack_slot *slot);

struct gm_stack_roots_stats {
	uint64_t goroutines;	      /* goroutines scanned (dead Gs skipped) */
	uint64_t frames;	      /* frames decoded, plus each undecoded rest of a stack */
	uint64_t frames_conservative; /* of them scanned conservatively */
	uint64_t slots;		      /* calls of fn */
	uint64_t words_conservative;  /* words scanned conservatively (registers included) */
};

/*
 * Calls fn for every non-nil pointer word the GC would scan on the stacks
 * of every goroutine that is not dead: locals and arguments by the stack
 * maps, the reachable stack objects, defer and panic records,
 * sched.ctxt; conservatively (every word, flagged) the frames the runtime
 * scans so (asyncPreempt, debugCallV2 and the frames they interrupted),
 * the innermost frame and the registers of a thread that was running Go
 * code, and what could not be decoded (a frame without its stack map, the
 * rest of a stack the unwinder could not walk), counted in stats. A word
 * may be given twice (a live local inside a stack object, as the runtime
 * scans it twice too). An error from fn stops the scan and is returned.
 */
struct gomem_error *gm_stack_roots(struct gm_runtime *rt, gm_stack_slot_fn fn, void *arg,
				   struct gm_stack_roots_stats *stats);

#endif /* GOMEM_OBJECTS_STACKROOTS_H */
