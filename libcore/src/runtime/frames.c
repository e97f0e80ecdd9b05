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
#include "runtime/memprofile.h"

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

/* A frame the runtime injected to stop code anywhere: its caller is at no safe point. */
static bool preempt_frame(const struct gm_func *f)
{
	return has_name(f, "runtime.asyncPreempt") || has_name(f, "runtime.debugCallV2");
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
	/*
	 * Each frame but the innermost takes stack, so that the walk moves up;
	 * a top frame may be empty (arm64's goexit: NOFRAME, and the walk ends).
	 */
	bool empty_ok = innermost || (flag & GM_FUNCFLAG_TOPFRAME);
	if (fr->fp < fr->sp || fr->fp > w->st->hi || (fr->fp == fr->sp && !empty_ok)) {
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
	w->conservative = preempt_frame(&fr->fn);
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
		/*
		 * scanframeworker: asyncPreempt's and debugCallV2's frames hold the
		 * spilled registers of the frame they interrupted, which is not at a
		 * safe point: both are scanned conservatively. So is the innermost
		 * frame of a thread caught running.
		 */
		w.fr.conservative = w.conservative || preempt_frame(&w.fr.fn) ||
				    (innermost && start->source == GM_SP_THREAD);
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

/* The walk of a signal handler's stack: finds runtime.sigtramp's frame. */
struct sigtramp_find {
	uint64_t fp;
	bool found;
};

static struct gomem_error *find_sigtramp(void *arg, const struct gm_stkframe *fr)
{
	struct sigtramp_find *f = arg;
	if (!f->found && has_name(&fr->fn, "runtime.sigtramp")) {
		f->fp = fr->fp;
		f->found = true;
	}
	return NULL;
}

/*
 * The registers a signal interrupted, from the ucontext the kernel put
 * on the signal stack. Where it is: amd64, rt_sigframe is {pretcode;
 * ucontext; siginfo} and sigtramp is entered with sp at pretcode, so the
 * ucontext is at sigtramp's fp; uc_mcontext at +40 holds r8-r15, rdi,
 * rsi, rbp, rbx, rdx, rax, rcx, rsp, rip (sys/ucontext.h). arm64,
 * rt_sigframe is {siginfo (128); ucontext} at sigtramp's entry sp (its
 * fp); uc_mcontext at +176 is {fault_address; x0-x30, sp, pc, pstate},
 * pr_reg's own order (asm/sigcontext.h).
 */
static struct gomem_error *signal_regs(struct gm_runtime *rt, uint64_t fp, struct gm_regs *ret,
				       bool *ok)
{
	uint64_t w[GM_MAX_REGS] = {0}, pr[GM_MAX_REGS] = {0};
	*ok = false;
	if (rt->arch->id == GM_ARCH_ARM64) {
		struct gomem_error *err = gm_read(rt->mem, fp + 128 + 176 + 8, pr, 34 * 8);
		if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
			gomem_error_destroy(err);
			return NULL;
		}
		TRY(err);
	} else {
		struct gomem_error *err = gm_read(rt->mem, fp + 40, w, 18 * 8);
		if (err && gomem_error_code(err) == GOMEM_ERROR_FAULT) {
			gomem_error_destroy(err);
			return NULL;
		}
		TRY(err);
		/* gregs -> user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx
		 * rsi rdi orig_rax rip cs eflags rsp */
		static const int from[] = {7, 6, 5, 4, 10, 11, 3, 2, 1, 0, 13, 14, 12, 9, 8};
		for (size_t i = 0; i < GM_ARRAY_SIZE(from); i++)
			pr[i] = w[from[i]];
		pr[16] = w[16]; /* rip */
		pr[18] = w[17]; /* eflags */
		pr[19] = w[15]; /* rsp */
	}
	struct gm_regs regs = {0};
	gm_regs_decode(rt->arch, (const uint8_t *)pr, sizeof(pr), &regs);
	*ret = regs;
	*ok = regs.n != 0;
	return NULL;
}

/* Signal handlers nested deeper than this on one gsignal stack are not followed. */
#define MAX_NESTED_SIGNALS 8

/*
 * A thread in a signal handler on its gsignal stack: the registers the
 * signal interrupted. A handler may itself have been interrupted (a crash
 * re-raising its signal): then the walk goes on from the inner ucontext.
 */
static struct gomem_error *interrupted_regs(struct gm_runtime *rt, const struct gm_pclntab *tab,
					    const struct gm_thread *th, const struct gm_regs *regs,
					    struct gm_regs *ret, bool *ok)
{
	struct gm_regs cur = *regs;
	*ok = false;
	for (int depth = 0; depth < MAX_NESTED_SIGNALS; depth++) {
		struct gm_unwind_start st = {.lo = th->gsignal_lo, .hi = th->gsignal_hi};
		struct gm_unwind_result res;
		struct sigtramp_find find = {0};
		if (!gm_regs_pc(&cur, &st.pc) || !gm_regs_sp(&cur, &st.sp))
			return NULL;
		gm_regs_lr(&cur, &st.lr);
		if (st.sp < st.lo || st.sp >= st.hi || !rt->arch)
			return NULL;
		TRY(gm_unwind(rt, tab, &st, find_sigtramp, &find, &res));
		if (!find.found)
			return NULL;
		bool found;
		TRY(signal_regs(rt, find.fp, &cur, &found));
		uint64_t sp;
		if (!found || !gm_regs_sp(&cur, &sp))
			return NULL;
		if (sp < th->gsignal_lo || sp >= th->gsignal_hi) {
			*ret = cur;
			*ok = true;
			return NULL;
		}
	}
	return NULL;
}

/* Starts st at the registers regs when their sp is in g's stack. */
static bool start_at(const struct gm_goroutine *g, const struct gm_regs *regs, bool from_signal,
		     struct gm_unwind_start *st)
{
	uint64_t pc, sp, lr = 0;
	if (!gm_regs_pc(regs, &pc) || !gm_regs_sp(regs, &sp) || sp < g->lo || sp > g->hi)
		return false; /* on g0 (systemstack): g.sched tells */
	gm_regs_lr(regs, &lr);
	st->pc = pc;
	st->sp = sp;
	st->lr = lr;
	st->regs = *regs;
	st->from_signal = from_signal;
	st->source = GM_SP_THREAD;
	return true;
}

static bool inside(uint64_t sp, uint64_t lo, uint64_t hi)
{
	return lo < hi && sp >= lo && sp < hi;
}

/*
 * Where a running G's walk starts, from its thread (GO-OBJECTS.md §3.4):
 * its registers when they are in g's stack (*at true); g.sched when the
 * thread is on its g0 stack, where systemstack and mcall saved it (*at and
 * *unknown false); else (no registers, a signal handler that is not Go's,
 * C code) nothing tells where g's stack ends: *unknown true.
 */
static struct gomem_error *running_on_thread(struct gm_runtime *rt, const struct gm_pclntab *tab,
					     const struct gm_goroutine *g,
					     const struct gm_sched *sched,
					     const struct gm_core_thread *threads, size_t nthreads,
					     struct gm_unwind_start *st, bool *at, bool *unknown)
{
	*at = false;
	*unknown = true;
	for (size_t i = 0; i < sched->nthreads; i++) {
		const struct gm_thread *th = &sched->threads[i];
		if (!th->has_curg || th->curg != g->g)
			continue;
		const struct gm_regs *regs = thread_regs(threads, nthreads, th->procid);
		struct gm_regs sig;
		bool from_signal = false;
		uint64_t sp;
		if (!regs || !gm_regs_sp(regs, &sp))
			return NULL;
		if (inside(sp, th->gsignal_lo, th->gsignal_hi)) {
			bool found;
			TRY(interrupted_regs(rt, tab, th, regs, &sig, &found));
			if (!found || !gm_regs_sp(&sig, &sp))
				return NULL;
			regs = &sig;
			from_signal = true;
		}
		if (inside(sp, th->g0_lo, th->g0_hi)) {
			*unknown = false;
			return NULL;
		}
		*at = start_at(g, regs, from_signal, st);
		*unknown = !*at;
		return NULL;
	}
	return NULL;
}

struct gomem_error *gm_unwind_start_of(struct gm_runtime *rt, const struct gm_pclntab *tab,
				       const struct gm_goroutine *g, const struct gm_sched *sched,
				       const struct gm_core_thread *threads, size_t nthreads,
				       struct gm_unwind_start *ret, bool *ok)
{
	const struct gm_frames_layout *L;
	*ok = false;
	if (gm_goroutine_dead(g) || !g->lo || g->hi <= g->lo)
		return NULL;
	TRY(gm_runtime_frames_layout(rt, &L));
	struct gm_unwind_start st = {.lo = g->lo, .hi = g->hi};
	bool on_thread = false, unknown = false;
	if (g->status == G_RUNNING)
		TRY(running_on_thread(rt, tab, g, sched, threads, nthreads, &st, &on_thread,
				      &unknown));
	if (on_thread || unknown) {
		if (unknown) {
			st.sp = st.lo;
			st.unknown = true;
		}
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

/* runtime.firstmoduledata: from DWARF, else the pclntab's search (no code pattern finds it). */
static struct gomem_error *first_moduledata(struct gm_runtime *rt, const struct gm_pclntab *tab,
					    const struct gm_frames_layout *L, uint64_t *ret)
{
	uint64_t md = L->firstmoduledata;
	if (!md) {
		TRY(gm_pclntab_find_moduledata(tab, &md));
		md += rt->bias;
	}
	*ret = md;
	return NULL;
}

static struct gomem_error *frames_pclntab(struct gm_runtime *rt, struct gm_pclntab *tab,
					  uint64_t *rodata_ret)
{
	const struct gm_frames_layout *L;
	uint64_t md, gofunc, rodata;
	TRY(gm_runtime_frames_layout(rt, &L));
	TRY(first_moduledata(rt, tab, L, &md));
	TRY(gm_rt_read_field(rt, md, &L->md_gofunc, &gofunc));
	TRY(gm_rt_read_field(rt, md, &L->md_rodata, &rodata));
	gm_pclntab_set_gofunc(tab, gofunc - rt->bias);
	if (rodata_ret)
		*rodata_ret = rodata - rt->bias;
	return NULL;
}

struct gomem_error *gm_frames_pclntab(struct gm_runtime *rt, struct gm_pclntab **ret,
				      uint64_t *rodata_ret)
{
	struct gm_pclntab *tab;
	TRY(gm_runtime_pclntab(rt, &tab));
	struct gomem_error *err = frames_pclntab(rt, tab, rodata_ret);
	if (err) {
		gm_pclntab_destroy(tab);
		return err;
	}
	*ret = tab;
	return NULL;
}
