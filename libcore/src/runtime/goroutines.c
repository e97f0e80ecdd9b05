/*
 * The Gs and Ms of the Go runtime: runtime.allgs[:allglen] and runtime.allm
 * through m.alllink. The one reader of both, with one bound per list
 * (GM_MAX_GOROUTINES, GM_MAX_THREADS) and one error policy: an M or G that
 * cannot be read, or a list longer than its bound, is a warning that marks
 * the result partial, and what was read is kept.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

struct reader {
	struct gm_runtime *rt;
	const struct gm_sched_layout *L;
	struct gm_target_notes notes; /* the core's threads (NT_PRSTATUS); none live */
	uint64_t fing_status;
	struct gm_sched *out;
	size_t cap_threads, cap_gs;
	bool wait_reason_tried[256];
};

GM_DEFINE_GROW(grow_threads, struct gm_thread)
GM_DEFINE_GROW(grow_goroutines, struct gm_goroutine)

void gm_sched_warn(struct gm_sched *s, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	if (s->nwarnings == GM_ARRAY_SIZE(s->warnings))
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) >= 0)
		s->warnings[s->nwarnings++] = msg;
	va_end(ap);
}

/* A fault warns and marks the result partial; other errors (out of memory) stop the reader. */
static bool tolerate(struct gm_sched *s, struct gomem_error **err)
{
	if (!*err || gomem_error_code(*err) != GOMEM_ERROR_FAULT)
		return false;
	gomem_error_destroy(*err);
	*err = NULL;
	s->partial = true;
	return true;
}

static const struct gm_core_thread *thread_sp_of(const struct reader *r, uint64_t tid)
{
	for (size_t i = 0; tid && i < r->notes.nthreads; i++) {
		if (r->notes.threads[i].tid == tid)
			return &r->notes.threads[i];
	}
	return NULL;
}

static struct gomem_error *read_g_stack(struct reader *r, uint64_t g, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = 0, h = 0;
	if (g) {
		TRY(gm_rt_read_field(r->rt, g, &r->L->g_lo, &l));
		TRY(gm_rt_read_field(r->rt, g, &r->L->g_hi, &h));
	}
	if (h < l)
		l = h = 0;
	*lo = l;
	*hi = h;
	return NULL;
}

static struct gomem_error *read_thread(struct reader *r, uint64_t m, struct gm_thread *ret,
				       uint64_t *next)
{
	const struct gm_sched_layout *L = r->L;
	struct gm_thread th = {.m = m, .is_m0 = m == L->m0};
	uint64_t id, g0, gsignal, curg, link;
	TRY(gm_rt_read_field(r->rt, m, &L->m_id, &id));
	th.id = (int64_t)id;
	TRY(gm_rt_read_field(r->rt, m, &L->m_procid, &th.procid));
	TRY(gm_rt_read_field(r->rt, m, &L->m_g0, &g0));
	TRY(gm_rt_read_field(r->rt, m, &L->m_gsignal, &gsignal));
	TRY(gm_rt_read_field(r->rt, m, &L->m_curg, &curg));
	TRY(gm_rt_read_field(r->rt, m, &L->m_alllink, &link));
	TRY(read_g_stack(r, g0, &th.g0_lo, &th.g0_hi));
	TRY(read_g_stack(r, gsignal, &th.gsignal_lo, &th.gsignal_hi));
	if (L->m_vgetrandom_state.present)
		TRY(gm_rt_read_field(r->rt, m, &L->m_vgetrandom_state, &th.vgetrandom_state));
	if (L->m_mallocing.present) {
		uint64_t mallocing;
		TRY(gm_rt_read_field(r->rt, m, &L->m_mallocing, &mallocing));
		th.mallocing = mallocing != 0;
	}
	if (curg) {
		th.curg = curg;
		TRY(gm_rt_read_field(r->rt, curg, &r->L->g_goid, &th.curg_goid));
		th.has_curg = true;
	}
	const struct gm_core_thread *tsp = thread_sp_of(r, th.procid);
	if (tsp) {
		th.has_sp = true;
		th.sp = tsp->sp;
		if (!gm_regs_pc(&tsp->regs, &th.pc))
			th.pc = 0;
	}
	*ret = th;
	*next = link;
	return NULL;
}

static struct gomem_error *read_threads(struct reader *r)
{
	struct gm_sched *out = r->out;
	uint64_t m;
	struct gomem_error *err = gm_read_u64(r->rt->mem, r->L->allm, &m);
	if (tolerate(out, &err)) {
		gm_sched_warn(out, "runtime.allm cannot be read: no threads");
		return NULL;
	}
	TRY(err);
	for (size_t i = 0; m; i++) {
		if (i == GM_MAX_THREADS) {
			gm_sched_warn(out,
				      "runtime.allm has more than %u Ms (a cycle?): the list of "
				      "threads stops there",
				      GM_MAX_THREADS);
			out->partial = true;
			break;
		}
		struct gm_thread th;
		uint64_t next = 0;
		err = read_thread(r, m, &th, &next);
		if (err && err->code == GOMEM_ERROR_FAULT) {
			gm_sched_warn(out,
				      "M at 0x%" PRIx64
				      " (runtime.allm, M number %zu) cannot be read "
				      "(%s): the list of threads stops there",
				      m, i, gomem_error_message(err));
			tolerate(out, &err);
			break;
		}
		TRY(err);
		struct gm_thread *slot =
		    grow_threads(&out->threads, &out->nthreads, &r->cap_threads);
		if (!slot)
			return &gm_error_no_memory;
		*slot = th;
		m = next;
	}
	return NULL;
}

/* runtime.isSystemGoroutine(gp, false), from the start function's name (traceback.go). */
static void classify(struct reader *r, const uint8_t *buf, struct gm_goroutine *g)
{
	const char *f = g->start_func;
	g->system = false;
	if (!f || strncmp(f, "runtime.", 8) != 0)
		return;
	if (strcmp(f, "runtime.main") == 0 || strcmp(f, "runtime.corostart") == 0 ||
	    strcmp(f, "runtime.handleAsyncEvent") == 0)
		return;
	/* The finalizer and cleanup goroutines count as user code while they run it. */
	if (strcmp(f, "runtime.runfinq") == 0 || strcmp(f, "runtime.runFinalizers") == 0) {
		g->system = !(r->fing_status & r->L->fing_running);
		return;
	}
	if (strcmp(f, "runtime.runCleanups") == 0) {
		g->system = !gm_rt_field(buf, &r->L->g_running_cleanups);
		return;
	}
	g->system = true;
}

static bool sp_inside(uint64_t sp, uint64_t lo, uint64_t hi)
{
	return sp && lo < hi && sp >= lo && sp <= hi;
}

/* Where the goroutine's stack ends now: see enum gm_sp_source. */
static void goroutine_sp(struct reader *r, const uint8_t *buf, struct gm_goroutine *g)
{
	uint64_t sched_sp = gm_rt_field(buf, &r->L->g_sched_sp);
	uint64_t syscall_sp = gm_rt_field(buf, &r->L->g_syscallsp);
	uint64_t m = gm_rt_field(buf, &r->L->g_m);
	g->sp_source = GM_SP_NONE;
	if (gm_goroutine_dead(g) || !g->lo) /* dead, deadextra */
		return;
	if (g->status == 2 && m) { /* running: its thread's SP, if it is on this stack */
		for (size_t i = 0; i < r->out->nthreads; i++) {
			const struct gm_thread *th = &r->out->threads[i];
			if (th->m == m && th->has_sp && sp_inside(th->sp, g->lo, g->hi)) {
				g->sp = th->sp;
				g->sp_source = GM_SP_THREAD;
				return;
			}
		}
	}
	if (g->status == 3 && sp_inside(syscall_sp, g->lo, g->hi)) {
		g->sp = syscall_sp;
		g->sp_source = GM_SP_SYSCALL;
	} else if (sp_inside(sched_sp, g->lo, g->hi)) {
		g->sp = sched_sp;
		g->sp_source = GM_SP_SCHED;
	}
}

#define WAIT_REASON_MAX 64 /* the runtime's longest is under 40 bytes */

/*
 * The runtime's own name of a wait reason: runtime.waitReasonStrings[i], a
 * Go string read from the target (every Go version has its own list). Read
 * once per value; NULL where it cannot be read or does not look like a name.
 */
static const char *wait_reason_name(struct reader *r, uint8_t i)
{
	struct gm_sched *out = r->out;
	if (!r->L->wait_reason_strings || r->wait_reason_tried[i])
		return out->wait_reasons[i];
	r->wait_reason_tried[i] = true;
	uint64_t str[2];
	char name[WAIT_REASON_MAX + 1];
	struct gomem_error *err = gm_read(r->rt->mem, r->L->wait_reason_strings + 16 * i, str, 16);
	if (!err && str[1] <= WAIT_REASON_MAX)
		err = gm_read(r->rt->mem, str[0], name, str[1]);
	if (err || str[1] > WAIT_REASON_MAX) {
		gomem_error_destroy(err);
		return NULL;
	}
	for (uint64_t k = 0; k < str[1]; k++) {
		if (name[k] < ' ' || name[k] > '~')
			return NULL;
	}
	name[str[1]] = 0;
	out->wait_reasons[i] = strdup(name);
	return out->wait_reasons[i];
}

/* The top frame: where the goroutine stopped, or where its thread is now. */
static void goroutine_pc(struct reader *r, const uint8_t *buf, struct gm_goroutine *g)
{
	const struct gm_sched_layout *L = r->L;
	uint64_t m = gm_rt_field(buf, &L->g_m), pc = 0;
	enum gm_sp_source src = GM_SP_NONE;
	if (gm_goroutine_dead(g))
		return;
	if (g->status == 2) { /* running: g.sched is stale; only its thread knows */
		for (size_t i = 0; m && i < r->out->nthreads; i++) {
			const struct gm_thread *th = &r->out->threads[i];
			if (th->m == m && th->has_sp && th->pc && sp_inside(th->sp, g->lo, g->hi)) {
				pc = th->pc;
				src = GM_SP_THREAD;
			}
		}
	} else if (g->status == 3 && L->g_syscallpc.present) {
		/* entersyscall saves its caller's PC (proc.go, reentersyscall). */
		pc = gm_rt_field(buf, &L->g_syscallpc);
		src = GM_SP_SYSCALL;
	} else if (L->g_sched_pc.present) {
		pc = gm_rt_field(buf, &L->g_sched_pc);
		src = GM_SP_SCHED;
	}
	if (!pc)
		return;
	g->pc = pc;
	g->pc_source = src;
	uint64_t entry;
	if (r->rt->target && pc >= r->rt->bias)
		g->func = gm_target_func_holding(r->rt->target, pc - r->rt->bias, &entry);
}

/* One G, decoded from its bytes. */
static void decode_goroutine(struct reader *r, uint64_t addr, const uint8_t *buf,
			     struct gm_goroutine *g)
{
	const struct gm_sched_layout *L = r->L;
	memset(g, 0, sizeof(*g));
	g->g = addr;
	g->goid = gm_rt_field(buf, &L->g_goid);
	uint64_t status = gm_rt_field(buf, &L->g_status);
	g->scan = status & 0x1000; /* _Gscan */
	g->status = (uint32_t)(status & ~0x1000ULL);
	g->lo = gm_rt_field(buf, &L->g_lo);
	g->hi = gm_rt_field(buf, &L->g_hi);
	if (g->hi < g->lo)
		g->lo = g->hi = 0;
	g->startpc = gm_rt_field(buf, &L->g_startpc);
	/* By .gopclntab, which every Go binary keeps (not .symtab, which -s and strip drop). */
	g->start_func =
	    r->rt->target ? gm_target_func_at(r->rt->target, g->startpc - r->rt->bias) : NULL;
	classify(r, buf, g);
	goroutine_sp(r, buf, g);
	goroutine_pc(r, buf, g);
	if (L->g_waitreason.present) {
		g->waitreason = (uint8_t)gm_rt_field(buf, &L->g_waitreason);
		if (g->status == 4) /* _Gwaiting: the only status whose reason means anything */
			g->wait_reason = wait_reason_name(r, g->waitreason);
	}
}

/* How many entries of allgs to read: allglen, within the slice and the bound. */
static struct gomem_error *allgs_count(struct reader *r, uint64_t hdr[3], uint64_t *ret)
{
	struct gm_sched *out = r->out;
	uint64_t allglen;
	TRY(gm_read(r->rt->mem, r->L->allgs, hdr, 3 * sizeof(uint64_t)));
	TRY(gm_read_u64(r->rt->mem, r->L->allglen, &allglen));
	uint64_t n = allglen;
	if (hdr[1] > hdr[2] || allglen > hdr[1]) {
		/* A slice whose len passes its cap is corrupt: none of it is read. */
		n = hdr[1] > hdr[2] ? 0 : hdr[1];
		gm_sched_warn(out,
			      "runtime.allglen %" PRIu64 " does not fit allgs (len %" PRIu64
			      ", cap %" PRIu64 "): %" PRIu64 " Gs are read",
			      allglen, hdr[1], hdr[2], n);
		out->partial = true;
	}
	if (n > GM_MAX_GOROUTINES) {
		gm_sched_warn(
		    out, "runtime.allglen %" PRIu64 " is more than %u: only that many are read", n,
		    GM_MAX_GOROUTINES);
		out->partial = true;
		n = GM_MAX_GOROUTINES;
	}
	*ret = n;
	return NULL;
}

static struct gomem_error *read_goroutines(struct reader *r)
{
	const struct gm_sched_layout *L = r->L;
	struct gm_sched *out = r->out;
	uint64_t hdr[3], n;
	struct gomem_error *err = allgs_count(r, hdr, &n);
	if (tolerate(out, &err)) {
		gm_sched_warn(out, "runtime.allgs cannot be read: no goroutines");
		return NULL;
	}
	TRY(err);
	uint8_t *buf = malloc(L->g_size);
	if (!buf)
		return &gm_error_no_memory;
	uint64_t batch[256];
	for (uint64_t i = 0; !err && i < n; i += GM_ARRAY_SIZE(batch)) {
		uint64_t k = n - i < GM_ARRAY_SIZE(batch) ? n - i : GM_ARRAY_SIZE(batch);
		err = gm_read(r->rt->mem, hdr[0] + 8 * i, batch, k * 8);
		if (tolerate(out, &err)) {
			gm_sched_warn(out,
				      "allgs[%" PRIu64 "...] at 0x%" PRIx64
				      " cannot be read: the list of goroutines stops there",
				      i, hdr[0] + 8 * i);
			break;
		}
		for (uint64_t j = 0; !err && j < k; j++) {
			if (!batch[j])
				continue;
			err = gm_read(r->rt->mem, batch[j], buf, L->g_size);
			if (err && err->code == GOMEM_ERROR_FAULT) {
				/* One bad pointer costs one G, not the report. */
				gm_sched_warn(out,
					      "allgs[%" PRIu64 "] = 0x%" PRIx64
					      " cannot be read (%s): skipped",
					      i + j, batch[j], gomem_error_message(err));
				tolerate(out, &err);
				continue;
			}
			if (err)
				break;
			struct gm_goroutine *g = grow_goroutines(&out->gs, &out->ngs, &r->cap_gs);
			if (!g) {
				err = &gm_error_no_memory;
				break;
			}
			decode_goroutine(r, batch[j], buf, g);
		}
	}
	free(buf);
	return err;
}

/* What the Gs' classification needs: the finalizer goroutine's state, sched.ngsys. */
static struct gomem_error *read_sched(struct reader *r)
{
	const struct gm_sched_layout *L = r->L;
	struct gm_sched *out = r->out;
	struct gomem_error *err = NULL;
	if (L->have_fing_status) {
		err = gm_read_uint(r->rt->mem, L->fing_status, L->fing_size, &r->fing_status);
		if (tolerate(out, &err))
			gm_sched_warn(out, "runtime.fingStatus cannot be read: the finalizer "
					   "goroutine counts as a runtime goroutine");
		TRY(err);
	}
	if (L->have_sched) {
		err = gm_rt_read_field(r->rt, L->sched, &L->sched_ngsys, &out->ngsys);
		if (tolerate(out, &err))
			gm_sched_warn(out, "runtime.sched.ngsys cannot be read");
		else if (!err)
			out->have_ngsys = true;
		TRY(err);
	}
	return NULL;
}

static struct gomem_error *sched_read(struct reader *r, unsigned what)
{
	TRY(gm_runtime_sched_layout(r->rt, &r->L));
	if (r->rt->target) {
		gm_target_notes(r->rt->target, &r->notes);
		r->out->have_symbols = gm_target_pclntab(r->rt->target) != NULL;
	}
	r->out->have_wait_reasons = r->L->wait_reason_strings && r->L->g_waitreason.present;
	if (what & GM_SCHED_GOROUTINES)
		TRY(read_sched(r));
	TRY(read_threads(r));
	if (what & GM_SCHED_GOROUTINES)
		TRY(read_goroutines(r));
	return NULL;
}

struct gomem_error *gm_sched_read(struct gm_runtime *rt, unsigned what, struct gm_sched *ret)
{
	struct gm_sched s;
	memset(&s, 0, sizeof(s));
	struct reader r = {.rt = rt, .out = &s};
	struct gomem_error *err = sched_read(&r, what);
	if (err) {
		gm_sched_deinit(&s);
		return err;
	}
	*ret = s;
	return NULL;
}

void gm_sched_deinit(struct gm_sched *s)
{
	free(s->gs);
	free(s->threads);
	for (size_t i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	for (size_t i = 0; i < GM_ARRAY_SIZE(s->wait_reasons); i++)
		free(s->wait_reasons[i]);
	memset(s, 0, sizeof(*s));
}

const char *gm_goroutine_status_name(uint32_t status)
{
	/* runtime2.go: _Gidle ... _Gpreempted; _Gleaked and _Gdeadextra came in 1.26. */
	static const char *const names[] = {"idle",	 "runnable",  "running", "syscall",
					    "waiting",	 "moribund",  "dead",	 "enqueue",
					    "copystack", "preempted", "leaked",	 "deadextra"};
	return status < GM_ARRAY_SIZE(names) ? names[status] : "unknown";
}

const char *gm_thread_kind_name(enum gm_thread_kind kind)
{
	return kind == GM_THREAD_GO ? "go" : kind == GM_THREAD_OS ? "os" : "pthread";
}
