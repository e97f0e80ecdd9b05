/*
 * The unwinder of a goroutine's stack (frames.h): the runtime's own rules,
 * read from traceback.go@1.21-1.27 (unwinder) and @1.19 (gentraceback),
 * which agree on every step used here. Functions are matched by name where
 * the runtime matches a funcID: FuncIDs are renumbered between releases.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <string.h>

#include "runtime/frames.h"

/* G status values, the same 1.19-1.27 (runtime2.go). */
#define G_RUNNING 2

static bool uses_lr(const struct gm_runtime *rt)
{
	return rt->arch && rt->arch->lr >= 0;
}

/*
 * sys.MinFrameSize: 0 on amd64, 8 on arm64 (the saved LR slot). The
 * locals' minimum in getStackMap is sys.StackAlign (16) on arm64.
 */
static uint64_t min_frame_size(const struct gm_runtime *rt)
{
	return uses_lr(rt) ? 8 : 0;
}

static bool has_name(const struct gm_func *f, const char *name)
{
	return f->name && strcmp(f->name, name) == 0;
}

/* Calls injected by a signal: sigpanic, asyncPreempt, debugCallV2 (traceback.go next). */
static bool injected_call(const struct gm_func *f)
{
	return has_name(f, "runtime.sigpanic") || has_name(f, "runtime.asyncPreempt") ||
	       has_name(f, "runtime.debugCallV2");
}

/* The function at runtime address pc; *found false when none. */
static struct gomem_error *find_func(struct gm_runtime *rt, const struct gm_pclntab *tab,
				     uint64_t pc, struct gm_func *f, bool *found)
{
	*found = false;
	if (pc < rt->bias)
		return NULL;
	return gm_pclntab_find_func(tab, pc - rt->bias, f, found);
}

/* A word of the target: *ok false when it cannot be read (a fault is no error here). */
static struct gomem_error *read_word(struct gm_runtime *rt, uint64_t addr, uint64_t *v, bool *ok)
{
	struct gomem_error *err = gm_read_u64(rt->mem, addr, v);
	*ok = !err;
	if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
		gomem_error_destroy(err);
		return NULL;
	}
	return err;
}

struct walk {
	struct gm_runtime *rt;
	const struct gm_pclntab *tab;
	const struct gm_unwind_start *st;
	struct gm_stkframe fr;
	bool callee_sigpanic; /* the frame below called sigpanic (a trap) */
	bool conservative;    /* the frame below was asyncPreempt or debugCallV2 */
	struct gm_unwind_result res;
};

static bool stop(struct walk *w, enum gm_unwind_end end, uint64_t sp)
{
	w->res.end = end;
	w->res.stop_sp = sp;
	return false;
}

/*
 * resolveInternal: fp, lr, varp, argp and continpc of the current frame.
 * false when the walk ends here without yielding the frame.
 */
static struct gomem_error *resolve(struct walk *w, bool innermost, bool is_syscall, bool *ok)
{
	struct gm_runtime *rt = w->rt;
	struct gm_stkframe *fr = &w->fr;
	const struct gm_func *f = &fr->fn;
	uint8_t flag = f->flag;
	*ok = false;
	if (f->pcsp == 0) { /* no frame information (external code) */
		stop(w, GM_UNWIND_BAD_PC, fr->sp);
		w->res.stop_pc = fr->pc;
		return NULL;
	}
	/* cgocallback keeps both stacks unwindable; a syscall's entry pc/sp were saved first. */
	if (has_name(f, "runtime.cgocallback") || is_syscall)
		flag &= (uint8_t)~GM_FUNCFLAG_SPWRITE;
	int32_t delta;
	TRY(gm_pclntab_spdelta(w->tab, f, fr->pc - rt->bias, &delta));
	if (delta < 0) {
		stop(w, GM_UNWIND_BAD_SP, fr->sp);
		return NULL;
	}
	fr->fp = fr->sp + (uint64_t)delta + (uses_lr(rt) ? 0 : 8);
	if (fr->fp < fr->sp || fr->fp > w->st->hi || (!innermost && fr->fp == fr->sp)) {
		stop(w, GM_UNWIND_BAD_SP, fr->sp);
		return NULL;
	}
	bool readable = true;
	if (flag & GM_FUNCFLAG_TOPFRAME) {
		fr->lr = 0;
	} else if ((flag & GM_FUNCFLAG_SPWRITE) && !innermost) {
		/* SP was written in a way pcsp cannot say: stop (the frame itself is kept). */
		fr->lr = 0;
	} else if (uses_lr(rt)) {
		if ((innermost && fr->sp < fr->fp) || fr->lr == 0)
			TRY(read_word(rt, fr->sp, &fr->lr, &readable));
	} else if (fr->lr == 0) {
		TRY(read_word(rt, fr->fp - 8, &fr->lr, &readable));
	}
	if (!readable) {
		stop(w, GM_UNWIND_FAULT, fr->sp);
		return NULL;
	}
	fr->varp = fr->fp - (uses_lr(rt) ? 0 : 8);
	/* The saved frame pointer sits below the return address (framepointer_enabled). */
	if (fr->varp > fr->sp)
		fr->varp -= 8;
	fr->argp = fr->fp + min_frame_size(rt);
	fr->continpc = fr->pc;
	if (w->callee_sigpanic)
		fr->continpc =
		    f->deferreturn ? f->entry + rt->bias + f->deferreturn + 1 : 0; /* 0: dead */
	fr->innermost = innermost;
	*ok = true;
	return NULL;
}

/* next: from the current frame to its caller; false when the walk ends. */
static struct gomem_error *next(struct walk *w, bool *ok)
{
	struct gm_runtime *rt = w->rt;
	struct gm_stkframe *fr = &w->fr;
	*ok = false;
	if (fr->lr == 0) {
		if (fr->fn.flag & GM_FUNCFLAG_TOPFRAME)
			stop(w, GM_UNWIND_TOP, fr->fp);
		else if (fr->fn.flag & GM_FUNCFLAG_SPWRITE)
			stop(w, GM_UNWIND_SPWRITE, fr->fp);
		else
			stop(w, GM_UNWIND_NO_LR, fr->fp);
		return NULL;
	}
	struct gm_func caller;
	bool found;
	TRY(find_func(rt, w->tab, fr->lr, &caller, &found));
	if (!found) {
		stop(w, GM_UNWIND_BAD_PC, fr->fp);
		w->res.stop_pc = fr->lr;
		return NULL;
	}
	bool injected = injected_call(&fr->fn);
	w->callee_sigpanic = has_name(&fr->fn, "runtime.sigpanic");
	/* scanframeworker: these frames hold the registers of the frame they interrupted. */
	w->conservative =
	    has_name(&fr->fn, "runtime.asyncPreempt") || has_name(&fr->fn, "runtime.debugCallV2");
	fr->fn = caller;
	fr->pc = fr->lr;
	fr->lr = 0;
	fr->sp = fr->fp;
	fr->fp = 0;
	if (uses_lr(rt) && injected) {
		/* The signal handler saved LR on the stack before faking the call. */
		uint64_t x;
		bool readable;
		TRY(read_word(rt, fr->sp, &x, &readable));
		if (!readable) {
			stop(w, GM_UNWIND_FAULT, fr->sp);
			return NULL;
		}
		fr->sp += 16; /* alignUp(sys.MinFrameSize, sys.StackAlign) */
		int32_t delta;
		TRY(gm_pclntab_spdelta(w->tab, &fr->fn, fr->pc - rt->bias, &delta));
		if (delta == 0)
			fr->lr = x;
	}
	if (fr->sp > w->st->hi) {
		stop(w, GM_UNWIND_BAD_SP, fr->sp);
		return NULL;
	}
	*ok = true;
	return NULL;
}

/* initAt: the first frame; false when there is none to decode. */
static struct gomem_error *init_at(struct walk *w, bool *ok)
{
	struct gm_runtime *rt = w->rt;
	const struct gm_unwind_start *st = w->st;
	struct gm_stkframe *fr = &w->fr;
	*ok = false;
	fr->pc = st->pc;
	fr->sp = st->sp;
	fr->lr = uses_lr(rt) ? st->lr : 0;
	if (st->sp < st->lo || st->sp > st->hi) {
		stop(w, GM_UNWIND_BAD_SP, st->sp);
		return NULL;
	}
	if (fr->pc == 0) { /* a nil function call: start in the caller */
		bool readable;
		TRY(read_word(rt, fr->sp, &fr->pc, &readable));
		if (!readable) {
			stop(w, GM_UNWIND_FAULT, st->sp);
			return NULL;
		}
		if (uses_lr(rt))
			fr->lr = 0;
		else
			fr->sp += 8;
	}
	bool found;
	TRY(find_func(rt, w->tab, fr->pc, &fr->fn, &found));
	if (!found) {
		stop(w, GM_UNWIND_BAD_PC, st->sp);
		w->res.stop_pc = fr->pc;
		return NULL;
	}
	*ok = true;
	return NULL;
}

struct gomem_error *gm_unwind(struct gm_runtime *rt, const struct gm_pclntab *tab,
			      const struct gm_unwind_start *start, gm_stkframe_fn fn, void *arg,
			      struct gm_unwind_result *ret)
{
	struct walk w = {.rt = rt, .tab = tab, .st = start};
	bool ok;
	TRY(init_at(&w, &ok));
	bool is_syscall = start->source == GM_SP_SYSCALL;
	for (bool innermost = true; ok; innermost = false) {
		if (w.res.frames == GM_FRAMES_MAX) {
			stop(&w, GM_UNWIND_TOO_DEEP, w.fr.sp);
			break;
		}
		TRY(resolve(&w, innermost, innermost && is_syscall, &ok));
		if (!ok)
			break;
		w.fr.conservative = w.conservative || (innermost && start->source == GM_SP_THREAD);
		w.res.frames++;
		TRY(fn(arg, &w.fr));
		TRY(next(&w, &ok));
	}
	*ret = w.res;
	return NULL;
}

static const struct gm_regs *thread_regs(const struct gm_core_thread *threads, size_t n,
					 uint64_t tid)
{
	for (size_t i = 0; tid && i < n; i++) {
		if (threads[i].tid == tid && threads[i].regs.n)
			return &threads[i].regs;
	}
	return NULL;
}

/* The registers of the thread running g, when its stack pointer is in g's stack. */
static bool running_on_thread(const struct gm_goroutine *g, const struct gm_sched *sched,
			      const struct gm_core_thread *threads, size_t nthreads,
			      struct gm_unwind_start *st)
{
	for (size_t i = 0; i < sched->nthreads; i++) {
		const struct gm_thread *th = &sched->threads[i];
		if (!th->has_curg || th->curg != g->g)
			continue;
		const struct gm_regs *regs = thread_regs(threads, nthreads, th->procid);
		uint64_t pc, sp, lr = 0;
		if (!regs || !gm_regs_pc(regs, &pc) || !gm_regs_sp(regs, &sp))
			return false;
		if (sp < g->lo || sp > g->hi) /* on g0 or gsignal: g.sched tells */
			return false;
		gm_regs_lr(regs, &lr);
		st->pc = pc;
		st->sp = sp;
		st->lr = lr;
		st->regs = regs;
		st->source = GM_SP_THREAD;
		return true;
	}
	return false;
}

struct gomem_error *gm_unwind_start_of(struct gm_runtime *rt, const struct gm_goroutine *g,
				       const struct gm_sched *sched,
				       const struct gm_core_thread *threads, size_t nthreads,
				       struct gm_unwind_start *ret, bool *ok)
{
	const struct gm_frames_layout *L;
	*ok = false;
	if (gm_goroutine_dead(g) || !g->lo || g->hi <= g->lo)
		return NULL;
	TRY(gm_runtime_frames_layout(rt, &L));
	struct gm_unwind_start st = {.lo = g->lo, .hi = g->hi};
	if (g->status == G_RUNNING && running_on_thread(g, sched, threads, nthreads, &st)) {
		*ret = st;
		*ok = true;
		return NULL;
	}
	uint64_t syscallsp;
	TRY(gm_rt_read_field(rt, g->g, &L->g_syscallsp, &syscallsp));
	if (syscallsp) {
		st.sp = syscallsp;
		TRY(gm_rt_read_field(rt, g->g, &L->g_syscallpc, &st.pc));
		st.source = GM_SP_SYSCALL;
	} else {
		TRY(gm_rt_read_field(rt, g->g, &L->g_sched_sp, &st.sp));
		TRY(gm_rt_read_field(rt, g->g, &L->g_sched_pc, &st.pc));
		if (uses_lr(rt))
			TRY(gm_rt_read_field(rt, g->g, &L->g_sched_lr, &st.lr));
		st.source = GM_SP_SCHED;
	}
	if (!st.sp)
		return NULL;
	*ret = st;
	*ok = true;
	return NULL;
}

const char *gm_unwind_end_name(enum gm_unwind_end end)
{
	static const char *const names[] = {
	    "top",   "bad pc",	"bad sp", "SP-writing function", "no return address",
	    "fault", "too deep"};
	return (unsigned)end < GM_ARRAY_SIZE(names) ? names[end] : "?";
}
