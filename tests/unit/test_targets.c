/*
 * A target's state changes only on success: a step that fails leaves the
 * target as it was, so that asking again fails again (or succeeds), and
 * destroying it frees everything once. Run under ASan (./setup test) these
 * find double frees and use after free; under valgrind, leaks.
 *
 * The failures are injected: this file defines gm_fault_injected(), which
 * the library declares weak, to make one named step fail:
 *
 *   "proc file" smaps        /proc/PID/smaps cannot be opened, as when the
 *                            process exits between reading maps and smaps
 *   "core mapping path" ...  a core mapping's file name cannot be copied
 *                            (out of memory half way through the list)
 *
 * GOMEM_TEST_EXE names a Go program built with DWARF (./setup test sets it
 * to the heapmix fixture, whose kernel core lies beside it, core.kernel).
 * The live tests run it: it writes its truth file (argv[1]) once its heap
 * is built, then blocks.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "verbs/verbs.h"
#include "unit.h"

#define START_TIMEOUT_MS 60000

/* The step to fail, and how many times it was asked about. */
static const char *fail_site, *fail_what;
static unsigned fail_asked;

bool gm_fault_injected(const char *site, const char *what)
{
	if (!fail_site || strcmp(site, fail_site) != 0)
		return false;
	if (fail_what && (!what || strcmp(what, fail_what) != 0))
		return false;
	fail_asked++;
	return true;
}

static void inject(const char *site, const char *what)
{
	fail_site = site;
	fail_what = what;
	fail_asked = 0;
}

static const char *test_exe(void)
{
	const char *path = getenv("GOMEM_TEST_EXE");
	struct stat st;
	if (!path || !*path)
		fail_msg("GOMEM_TEST_EXE is not set: it must name a Go binary with its kernel core "
			 "beside it (./setup test sets it)");
	if (stat(path, &st) != 0)
		fail_msg("GOMEM_TEST_EXE=%s: no such file", path);
	return path;
}

/* The kernel core beside GOMEM_TEST_EXE. */
static void test_core(char *buf, size_t size)
{
	const char *exe = test_exe();
	const char *slash = strrchr(exe, '/');
	int dir = slash ? (int)(slash - exe) : 0;
	struct stat st;
	snprintf(buf, size, "%.*s%score.kernel", dir, exe, slash ? "/" : "");
	if (stat(buf, &st) != 0)
		fail_msg("%s: no kernel core beside GOMEM_TEST_EXE", buf);
}

/* A run of a verb: its output, or NULL and the error (kept for the caller to check). */
static char *run(struct gomem_target *t, const char *verb, struct gomem_error **err_ret)
{
	char *out = NULL;
	*err_ret = gomem_run(t, verb, 0, NULL, &out, NULL);
	return *err_ret ? NULL : out;
}

static char *run_ok(struct gomem_target *t, const char *verb)
{
	struct gomem_error *err;
	char *out = run(t, verb, &err);
	assert_gomem_ok(err);
	assert_non_null(out);
	return out;
}

/* ---- a core whose mappings cannot all be copied ---- */

static void test_core_mappings_out_of_memory_leaves_no_partial_list(void **state)
{
	(void)state;
	inject(NULL, NULL);
	char core[4096];
	struct gomem_target *t = NULL, *fresh = NULL;
	test_core(core, sizeof(core));
	assert_gomem_ok(gomem_target_open_core(test_exe(), core, &t));
	inject("core mapping path", NULL);
	struct gomem_error *err;
	assert_null(run(t, "mappings", &err));
	assert_gomem_error(err, GOMEM_ERROR_NO_MEMORY, NULL);
	assert_true(fail_asked > 0);
	/* Asked again, the target builds the whole list: not the half it had. */
	inject(NULL, NULL);
	char *again = run_ok(t, "mappings");
	assert_gomem_ok(gomem_target_open_core(test_exe(), core, &fresh));
	char *expected = run_ok(fresh, "mappings");
	assert_string_equal(again, expected);
	gomem_free(again);
	gomem_free(expected);
	gomem_target_destroy(fresh);
	gomem_target_destroy(t);
}

/* ---- a live process whose smaps cannot be read ---- */

struct child {
	pid_t pid;
	char dir[256], truth[512];
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Starts GOMEM_TEST_EXE and waits (bounded) until it has written its truth. */
static void child_start(struct child *c)
{
	const char *exe = test_exe();
	if (unit_make_tmpdir(c->dir, sizeof(c->dir), "gomem-targets") != 0)
		fail_msg("cannot make a temporary folder");
	snprintf(c->truth, sizeof(c->truth), "%s/truth.json", c->dir);
	c->pid = fork();
	if (c->pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (c->pid == 0) {
		/* It dies with the test, even one that a sanitizer aborts. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, exe, c->truth, (char *)NULL);
		_exit(127);
	}
	struct stat st;
	for (int waited = 0; stat(c->truth, &st) != 0; waited += 10) {
		int status;
		if (waitpid(c->pid, &status, WNOHANG) == c->pid)
			fail_msg("%s exited (status 0x%x) before writing its truth", exe, status);
		if (waited >= START_TIMEOUT_MS)
			fail_msg("%s wrote no truth within %d s", exe, START_TIMEOUT_MS / 1000);
		sleep_ms(10);
	}
}

static void child_stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	if (c->dir[0])
		unit_remove_tree(c->dir);
	c->dir[0] = '\0';
}

/* The child is stopped by the teardown even when a test fails half way. */
static int child_setup(void **state)
{
	struct child *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	*state = c;
	return 0;
}

static int child_teardown(void **state)
{
	struct child *c = *state;
	child_stop(c);
	free(c);
	inject(NULL, NULL);
	return 0;
}

static void test_smaps_that_cannot_be_read_fails_cleanly_every_time(void **state)
{
	struct child *c = *state;
	struct gomem_target *t = NULL;
	child_start(c);
	struct gomem_error *err;
	/*
	 * maps is read, then smaps is gone: as when the process exits between the
	 * two. The open reads them once before it stops the process (and lets the
	 * verb find out), then each run once more.
	 */
	inject("proc file", "smaps");
	assert_gomem_ok(gomem_target_open_pid(c->pid, test_exe(), GOMEM_PID_STOP, &t));
	for (int i = 0; i < 2; i++) {
		assert_null(run(t, "mappings", &err));
		assert_gomem_error(err, GOMEM_ERROR_IO, "exited while gomem was reading it");
	}
	assert_int_equal(fail_asked, 3);
	/* Once smaps is back, the whole address space is there, resident bytes included. */
	inject(NULL, NULL);
	char *out = run_ok(t, "mappings");
	assert_non_null(strstr(out, "go-heap"));
	assert_null(strstr(out, "residency unknown"));
	gomem_free(out);
	gomem_target_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_mappings_out_of_memory_leaves_no_partial_list),
	    cmocka_unit_test_setup_teardown(test_smaps_that_cannot_be_read_fails_cleanly_every_time,
					    child_setup, child_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
