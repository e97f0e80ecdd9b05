/*
 * The goroutine stacks as roots (objects/stackroots.c) and the unwinder
 * under it (runtime/frames.c).
 *
 * Without arguments, cmocka tests on GOMEM_TEST_EXE (a fixture executable
 * with core.kernel beside it): every goroutine of a quiescent core is
 * decoded to its top frame, none conservatively; the slots are where the
 * stack maps say; a broken G costs that goroutine's precision, never a
 * crash or a loop.
 *
 * With arguments it is the driver of tests/integration/test_stackroots.py,
 * which checks it against each fixture's truth on the whole matrix:
 *   --frames EXE CORE   per goroutine "g GOID STATUS SOURCE" (sched, syscall, thread,
 *                       signal: a thread's registers from a signal's ucontext, unknown), then
 *                       per frame "f PC SP FP CONSERVATIVE NAME[;INLINED...]"
 *                       (names as the runtime prints them, innermost first), then
 *                       "end END NFRAMES STOP_SP"
 *   --slots EXE CORE    "seconds S" (one call of gm_stack_roots that counts, timed), per
 *                       slot "s KIND GOID FRAME_PC FRAME_SP FUNC ADDR VALUE CONS HEAP"
 *                       (HEAP: what VALUE points to: alloc, free, tail, manual or -), then
 *                       "stats GOROUTINES FRAMES CONSERVATIVE SLOTS WORDS"
 *   --words EXE CORE ADDR...  the 8-byte word at each address, or "fault"
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <time.h>

#include "objects/stackroots.h"
#include "runtime/memprofile.h"
#include "verbs/verbs.h"
#include "unit.h"

static const char *const kind_names[] = {"local", "arg",   "object",   "ctxt",
					 "defer", "panic", "register", "conservative"};
static const char *const source_names[] = {"none", "sched", "syscall", "thread"};

/* ---- the driver ---- */

struct dump {
	struct gm_runtime *rt;
	struct gm_pclntab *tab;
};

static struct gomem_error *print_frame(void *arg, const struct gm_stkframe *fr)
{
	struct dump *d = arg;
	struct gm_frame frames[64];
	size_t n = 0;
	/* The innermost frame at its pc, a caller at its call (pc - 1), as tracebacks do. */
	uint64_t pc = fr->pc - d->rt->bias - (fr->innermost ? 0 : 1);
	TRY(gm_pclntab_frames(d->tab, pc, frames, GM_ARRAY_SIZE(frames), &n));
	printf("f 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %d ", fr->pc, fr->sp, fr->fp,
	       fr->conservative);
	if (n > GM_ARRAY_SIZE(frames))
		n = GM_ARRAY_SIZE(frames);
	for (size_t i = 0; i < n; i++) {
		char name[1024];
		gm_go_func_name_for_print(frames[i].function, name, sizeof(name));
		printf("%s%s", i ? ";" : "", name);
	}
	if (!n)
		printf("?");
	printf("\n");
	return NULL;
}

static struct gomem_error *dump_frames(struct gm_runtime *rt)
{
	struct dump d = {.rt = rt};
	struct gm_sched sched;
	const struct gm_core_thread *threads = NULL;
	size_t nthreads = 0;
	TRY(gm_frames_pclntab(rt, &d.tab, NULL));
	struct gomem_error *err = gm_sched_read(rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &sched);
	if (err) {
		gm_pclntab_destroy(d.tab);
		return err;
	}
	gm_target_threads(rt->target, &threads, &nthreads);
	for (size_t i = 0; !err && i < sched.ngs; i++) {
		const struct gm_goroutine *g = &sched.gs[i];
		struct gm_unwind_start st;
		struct gm_unwind_result res;
		bool ok;
		err = gm_unwind_start_of(rt, d.tab, g, &sched, threads, nthreads, &st, &ok);
		if (err || !ok)
			continue;
		printf("g %" PRIu64 " %s %s\n", g->goid, gm_goroutine_status_name(g->status),
		       st.unknown	? "unknown"
		       : st.from_signal ? "signal"
					: source_names[st.source]);
		if (st.unknown)
			continue; /* nothing to walk: gm_stack_roots scans it all conservatively */
		err = gm_unwind(rt, d.tab, &st, print_frame, &d, &res);
		if (!err)
			printf("end %s %" PRIu64 " 0x%" PRIx64 "\n", gm_unwind_end_name(res.end),
			       res.frames, res.stop_sp);
	}
	gm_sched_deinit(&sched);
	gm_pclntab_destroy(d.tab);
	return err;
}

/* What value points to in the heap: "alloc", "free" (a free slot), "tail", "manual", or "-". */
static struct gomem_error *heap_state(struct gm_runtime *rt, uint64_t value, const char **ret)
{
	struct gm_span span;
	bool found, allocated;
	*ret = "-";
	TRY(gm_heap_find_span(rt, value, &span, &found));
	if (!found)
		return NULL;
	if (span.state != GM_SPAN_IN_USE || !span.elemsize) {
		*ret = "manual";
		return NULL;
	}
	uint64_t i = (value - span.start) / span.elemsize;
	if (i >= span.nelems) {
		*ret = "tail";
		return NULL;
	}
	TRY(gm_span_slot_allocated(rt, &span, i, &allocated));
	*ret = allocated ? "alloc" : "free";
	return NULL;
}

static struct gomem_error *print_slot(void *arg, const struct gm_stack_slot *s)
{
	struct gm_runtime *rt = arg;
	char name[1024] = "-";
	const char *heap;
	if (s->func)
		gm_go_func_name_for_print(s->func, name, sizeof(name));
	TRY(heap_state(rt, s->value, &heap));
	printf("s %s %" PRIu64 " 0x%" PRIx64 " 0x%" PRIx64 " %s 0x%" PRIx64 " 0x%" PRIx64
	       " %d %s\n",
	       kind_names[s->kind], s->goid, s->frame_pc, s->frame_sp, name, s->addr, s->value,
	       s->conservative, heap);
	return NULL;
}

static struct gomem_error *count_only(void *arg, const struct gm_stack_slot *s)
{
	(void)s;
	(*(uint64_t *)arg)++;
	return NULL;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct gomem_error *dump_slots(struct gm_runtime *rt)
{
	struct gm_stack_roots_stats st;
	uint64_t n = 0;
	/* Timed without printing: what a caller that only counts pays. */
	double t0 = seconds();
	TRY(gm_stack_roots(rt, count_only, &n, &st));
	printf("seconds %.6f\n", seconds() - t0);
	TRY(gm_stack_roots(rt, print_slot, rt, &st));
	printf("stats %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", st.goroutines,
	       st.frames, st.frames_conservative, st.slots, st.words_conservative);
	return NULL;
}

static int driver(int argc, char **argv)
{
	struct gomem_target *t = NULL;
	struct gomem_error *err = gomem_target_open_core(argv[2], argv[3], &t);
	if (!err && strcmp(argv[1], "--frames") == 0) {
		err = dump_frames(t->runtime);
	} else if (!err && strcmp(argv[1], "--slots") == 0) {
		err = dump_slots(t->runtime);
	} else if (!err) {
		for (int i = 4; i < argc; i++) {
			uint64_t v;
			struct gomem_error *e =
			    gm_read_u64(t->runtime->mem, strtoull(argv[i], NULL, 0), &v);
			if (e)
				printf("fault\n");
			else
				printf("0x%" PRIx64 "\n", v);
			gomem_error_destroy(e);
		}
	}
	gomem_target_destroy(t);
	if (err) {
		fprintf(stderr, "%s\n", gomem_error_message(err));
		gomem_error_destroy(err);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- the tests ---- */

struct fixture {
	char exe[1024], core[1024];
	char dir[256], copy[512];
	struct gomem_target *t;
};

static int setup(void **state)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	if (!exe || !*exe)
		fail_msg("GOMEM_TEST_EXE is not set: it must name build/fixtures/heapmix-<go>/exe "
			 "with its core.kernel beside it (./setup fixtures builds it)");
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || unit_make_tmpdir(f->dir, sizeof(f->dir), "gomem-stackroots") != 0)
		return -1;
	snprintf(f->exe, sizeof(f->exe), "%s", exe);
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", exe);
	snprintf(f->core, sizeof(f->core), "%s/core.kernel", dirname(dir));
	snprintf(f->copy, sizeof(f->copy), "%s/core", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	gomem_target_destroy(f->t);
	unit_remove_tree(f->dir);
	free(f);
	return 0;
}

static struct gm_runtime *open_runtime(struct fixture *f, const char *core)
{
	gomem_target_destroy(f->t);
	f->t = NULL;
	assert_gomem_ok(gomem_target_open_core(f->exe, core, &f->t));
	return f->t->runtime;
}

struct walk_check {
	struct gm_runtime *rt;
	uint64_t frames, conservative, last_sp;
	bool running;
	char last[256], outer[256]; /* the outermost frame and the one inside it */
};

static struct gomem_error *check_frame(void *arg, const struct gm_stkframe *fr)
{
	struct walk_check *w = arg;
	/* Strictly upward, each frame inside its caller's. */
	if (w->frames)
		assert_true(fr->sp > w->last_sp);
	assert_true(fr->fp >= fr->sp);
	assert_true(fr->varp >= fr->sp && fr->varp <= fr->fp);
	if (fr->conservative)
		w->conservative++;
	w->frames++;
	w->last_sp = fr->sp;
	snprintf(w->outer, sizeof(w->outer), "%s", w->last);
	snprintf(w->last, sizeof(w->last), "%s", fr->fn.name);
	return NULL;
}

/*
 * Every goroutine of a quiescent core is decoded to its top frame
 * (runtime.goexit; runtime.main's caller for goroutine 1), and none of its
 * frames is conservative but a running thread's innermost.
 */
static void test_every_goroutine_unwinds_to_its_top_frame(void **state)
{
	struct fixture *f = *state;
	struct gm_runtime *rt = open_runtime(f, f->core);
	struct gm_pclntab *tab;
	struct gm_sched sched;
	const struct gm_core_thread *threads;
	size_t nthreads, walked = 0;
	assert_gomem_ok(gm_frames_pclntab(rt, &tab, NULL));
	assert_gomem_ok(gm_sched_read(rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &sched));
	gm_target_threads(rt->target, &threads, &nthreads);
	for (size_t i = 0; i < sched.ngs; i++) {
		struct gm_unwind_start st;
		struct gm_unwind_result res;
		bool ok;
		assert_gomem_ok(
		    gm_unwind_start_of(rt, tab, &sched.gs[i], &sched, threads, nthreads, &st, &ok));
		if (!ok)
			continue;
		struct walk_check w = {.rt = rt};
		assert_gomem_ok(gm_unwind(rt, tab, &st, check_frame, &w, &res));
		if (res.end != GM_UNWIND_TOP)
			fail_msg("goroutine %" PRIu64 ": the walk ends (%s) after %s",
				 sched.gs[i].goid, gm_unwind_end_name(res.end), w.last);
		assert_int_equal(res.frames, w.frames);
		assert_string_equal(w.last, "runtime.goexit");
		/* The frame under goexit is the goroutine's start function. */
		if (sched.gs[i].start_func && !strstr(w.outer, "gowrap"))
			assert_string_equal(w.outer, sched.gs[i].start_func);
		assert_int_equal(w.conservative, st.source == GM_SP_THREAD ? 1 : 0);
		walked++;
	}
	assert_true(walked >= 4);
	gm_sched_deinit(&sched);
	gm_pclntab_destroy(tab);
}

struct slot_check {
	uint64_t slots, precise, conservative, ctxt;
	struct gm_stack_roots_stats *st;
};

static struct gomem_error *check_slot(void *arg, const struct gm_stack_slot *s)
{
	struct slot_check *c = arg;
	assert_true(s->value != 0);
	assert_true((unsigned)s->kind <= GM_STACK_SLOT_CONSERVATIVE);
	c->slots++;
	if (s->conservative)
		c->conservative++;
	else
		c->precise++;
	if (s->kind == GM_STACK_SLOT_LOCAL || s->kind == GM_STACK_SLOT_ARG) {
		assert_false(s->conservative);
		assert_non_null(s->func);
		/* A frame's live word lies in the frame or its arguments above it. */
		assert_true(s->addr >= s->frame_sp);
		assert_true(s->addr % 8 == 0);
	}
	return NULL;
}

/* The slots of a quiescent core: precise, each in its frame, counted in the stats. */
static void test_slots_of_a_quiescent_core_are_precise(void **state)
{
	struct fixture *f = *state;
	struct gm_runtime *rt = open_runtime(f, f->core);
	struct gm_stack_roots_stats st;
	struct slot_check c = {.st = &st};
	assert_gomem_ok(gm_stack_roots(rt, check_slot, &c, &st));
	assert_true(st.goroutines >= 4);
	assert_true(st.frames >= 3 * st.goroutines);
	assert_int_equal(st.slots, c.slots);
	assert_true(c.precise > 10);
	/* Conservative words come only from running threads' innermost frames and registers. */
	assert_true(st.frames_conservative <= 2);
	assert_true(c.conservative <= st.words_conservative);
}

/* Where the target address addr is in the core file. */
static uint64_t file_offset(struct gomem_target *t, uint64_t addr)
{
	const struct gm_segment *s = gm_memory_find(&t->target.mem, addr);
	if (!s || addr - s->start + 8 > s->data_len)
		fail_msg("0x%llx is not in the core file", (unsigned long long)addr);
	return s->file_offset + (addr - s->start);
}

static void patch_copy(struct fixture *f, const uint64_t *addrs, const uint64_t *values, size_t n)
{
	char cmd[2200];
	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", f->core, f->copy);
	assert_int_equal(system(cmd), 0);
	int fd = open(f->copy, O_WRONLY);
	assert_true(fd >= 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pwrite(fd, &values[i], 8, (off_t)file_offset(f->t, addrs[i])), 8);
	close(fd);
}

struct counter {
	uint64_t slots;
};

static struct gomem_error *count_slot(void *arg, const struct gm_stack_slot *s)
{
	(void)s;
	((struct counter *)arg)->slots++;
	return NULL;
}

/*
 * A goroutine whose saved pc points nowhere, and one whose saved return
 * address loops back onto its own frame: each costs only its own stack,
 * scanned conservatively and counted; the scan ends.
 */
static void test_a_broken_stack_is_scanned_conservatively(void **state)
{
	struct fixture *f = *state;
	struct gm_runtime *rt = open_runtime(f, f->core);
	const struct gm_frames_layout *L;
	struct gm_sched sched;
	struct gm_stack_roots_stats before, after;
	struct counter c = {0};
	assert_gomem_ok(gm_stack_roots(rt, count_slot, &c, &before));
	assert_gomem_ok(gm_runtime_frames_layout(rt, &L));
	assert_gomem_ok(gm_sched_read(rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &sched));
	/* Two parked goroutines (not the one a thread runs). */
	uint64_t addrs[2], values[2], sp = 0;
	size_t n = 0;
	for (size_t i = 0; i < sched.ngs && n < 2; i++) {
		const struct gm_goroutine *g = &sched.gs[i];
		uint64_t syscallsp;
		assert_gomem_ok(gm_rt_read_field(rt, g->g, &L->g_syscallsp, &syscallsp));
		if (gm_goroutine_dead(g) || g->status == 2 || syscallsp || !g->lo)
			continue;
		if (n == 0) {
			addrs[n] = g->g + L->g_sched_pc.offset;
			values[n++] = 0x10; /* no function there */
		} else {
			assert_gomem_ok(gm_rt_read_field(rt, g->g, &L->g_sched_sp, &sp));
			addrs[n] = g->g + L->g_sched_sp.offset;
			values[n++] = g->hi + 4096; /* outside its stack */
		}
	}
	assert_int_equal(n, 2);
	gm_sched_deinit(&sched);
	patch_copy(f, addrs, values, n);
	rt = open_runtime(f, f->copy);
	c.slots = 0;
	assert_gomem_ok(gm_stack_roots(rt, count_slot, &c, &after));
	assert_int_equal(after.goroutines, before.goroutines);
	/* The bad pc: its stack is one conservative rest. The bad sp: nothing to scan in it. */
	assert_true(after.frames_conservative >= before.frames_conservative + 1);
	assert_true(after.words_conservative > before.words_conservative);
	assert_int_equal(after.slots, c.slots);
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strncmp(argv[1], "--", 2) == 0)
		return driver(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_every_goroutine_unwinds_to_its_top_frame, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_slots_of_a_quiescent_core_are_precise, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_broken_stack_is_scanned_conservatively, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
