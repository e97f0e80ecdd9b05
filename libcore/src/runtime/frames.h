/*
 * A goroutine's frames, unwound from outside the process as the runtime's
 * own unwinder does it (traceback.go@1.21-1.27 unwinder.initAt,
 * resolveInternal, next; gentraceback@1.19): from g.syscallpc/sp, else
 * g.sched.pc/sp/lr, or from the registers of the thread that runs it; per
 * frame the function (pclntab), its frame size (pcsp), fp, varp, argp, the
 * return address (at fp-8 on amd64; the LR saved at sp on arm64), the
 * continuation pc after a sigpanic, and whether the GC scans the frame
 * conservatively (asyncPreempt, debugCallV2 and the frame each
 * interrupted; the innermost frame of a running thread). The walk is
 * bounded: at most GM_FRAMES_MAX frames, each strictly above the last
 * inside [lo, hi); where it cannot go on (a pc without a function, a
 * return address that leaves the stack, an SP-writing function that is
 * not innermost) it stops and says where, so that the caller scans the
 * rest of the stack conservatively.
 */
#ifndef GOMEM_RUNTIME_FRAMES_H
#define GOMEM_RUNTIME_FRAMES_H

#include "runtime/runtime.h"
#include "target/pclntab.h"

/* More frames than this on one stack is treated as a corrupt stack (1 GiB of 64-byte frames). */
#define GM_FRAMES_MAX (1u << 24)

/* One physical frame (inlined calls are in fn's inline tree at pc - 1). */
struct gm_stkframe {
	struct gm_func fn; /* link-time addresses: add the bias */
	uint64_t pc;	   /* where the frame is: the innermost's pc, else a return address */
	uint64_t sp, fp;   /* [sp, fp): the frame; fp is the caller's sp */
	uint64_t lr;	   /* the return address (0: the last frame) */
	uint64_t varp;	   /* the top of the locals (below the saved frame pointer) */
	uint64_t argp;	   /* the incoming arguments */
	/* Where the stack maps are looked up (minus one unless at entry); 0: a dead frame. */
	uint64_t continpc;
	bool innermost;
	/* The GC scans it conservatively: [sp, varp) and the arguments, every word. */
	bool conservative;
};

/* Why a walk ended. */
enum gm_unwind_end {
	GM_UNWIND_TOP,	   /* at a top frame (goexit, mstart, ...): the whole stack is decoded */
	GM_UNWIND_BAD_PC,  /* a pc with no function */
	GM_UNWIND_BAD_SP,  /* a frame outside the stack, or not above the previous one */
	GM_UNWIND_SPWRITE, /* a function that writes SP, not innermost: SP is unknown above it */
	GM_UNWIND_NO_LR,   /* no return address, and not at a top frame */
	GM_UNWIND_FAULT,   /* a return address could not be read */
	GM_UNWIND_TOO_DEEP /* more than GM_FRAMES_MAX frames */
};

/* Where a goroutine's walk starts. */
struct gm_unwind_start {
	uint64_t pc, sp, lr; /* lr only where the architecture has one (arm64) */
	uint64_t lo, hi;     /* the goroutine's stack */
	enum gm_sp_source source;
	/*
	 * Source GM_SP_THREAD: the registers of the code the thread runs (its
	 * own, or those a signal interrupted, from the signal's ucontext).
	 */
	struct gm_regs regs;
	bool from_signal; /* the thread was in a signal handler on its gsignal stack */
	/*
	 * A running G whose thread tells nothing usable (no registers, or
	 * code that is neither Go's on its stack nor on g0): where its stack
	 * ends is unknown, and all of [lo, hi) is to be scanned conservatively.
	 */
	bool unknown;
};

struct gm_unwind_result {
	enum gm_unwind_end end;
	uint64_t frames;
	/* end != GM_UNWIND_TOP: [stop_sp, hi) holds frames that could not be decoded. */
	uint64_t stop_sp;
	uint64_t stop_pc; /* the pc that could not be decoded (BAD_PC), else 0 */
};

typedef struct gomem_error *(*gm_stkframe_fn)(void *arg, const struct gm_stkframe *frame);

/*
 * Where the walk of g starts (GO-OBJECTS.md §3.4): g.syscallsp/pc when set
 * (as the runtime's initAt), else g.sched; for a running G (_Grunning),
 * from its thread's registers (threads: a core's NT_PRSTATUS, or a stopped
 * process's registers) when they are in its stack, or from the ucontext of
 * the signal its thread is handling on the gsignal stack (a crash: the
 * runtime.sigtramp frame holds it) when that one interrupted it; g.sched
 * when its thread is on g0, where systemstack saved it; else (no
 * registers, a thread elsewhere) start->unknown. *ok false when there is
 * nothing to walk (a dead G, no stack, no saved sp).
 */
struct gomem_error *gm_unwind_start_of(struct gm_runtime *rt, const struct gm_pclntab *tab,
				       const struct gm_goroutine *g, const struct gm_sched *sched,
				       const struct gm_core_thread *threads, size_t nthreads,
				       struct gm_unwind_start *ret, bool *ok);

/*
 * Walks the frames from start, innermost first, calling fn for each (an
 * error from fn stops the walk and is returned). tab is the executable's
 * function table for this process (gm_runtime_pclntab). A stack that
 * cannot be decoded is no error: the result says where decoding stopped.
 */
struct gomem_error *gm_unwind(struct gm_runtime *rt, const struct gm_pclntab *tab,
			      const struct gm_unwind_start *start, gm_stkframe_fn fn, void *arg,
			      struct gm_unwind_result *ret);

const char *gm_unwind_end_name(enum gm_unwind_end end);

/*
 * The executable's function table for the unwinder and the stack maps
 * (gm_runtime_pclntab), with moduledata.gofunc set also without DWARF
 * (the moduledata found by the pclntab's own search, its members' offsets
 * from the layout), and moduledata.rodata (link-time), the base of stack
 * objects' pointer masks. gm_pclntab_destroy() it.
 */
struct gomem_error *gm_frames_pclntab(struct gm_runtime *rt, struct gm_pclntab **ret,
				      uint64_t *rodata_ret);

#endif /* GOMEM_RUNTIME_FRAMES_H */
