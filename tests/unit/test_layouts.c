/*
 * The runtime's layouts (runtime/layout.c) on a real Go binary and its
 * core: a constant that the DWARF names but whose value cannot be read
 * counts as absent, its default is used, and the error is released.
 * Three copies of that helper (goregions.c, stacks.c and whatis.c before
 * issue 12) leaked the error object; ./setup test runs this file under
 * valgrind, which fails on any leak, and under ASan.
 *
 * The unreadable value is injected: this file defines gm_fault_injected(),
 * which the library declares weak, to make gm_dwarf_constant() fail for
 * one name. Each test gets a runtime of its own, since the layouts are
 * resolved once per runtime.
 *
 * GOMEM_TEST_EXE names a Go program built with DWARF, with its kernel core
 * beside it (core.kernel), as ./setup test sets it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "verbs/verbs.h"
#include "unit.h"

static const char *fail_constant; /* the constant whose value cannot be read */
static unsigned fail_asked;

bool gm_fault_injected(const char *site, const char *what)
{
	if (!fail_constant || strcmp(site, "dwarf constant") != 0 || !what ||
	    strcmp(what, fail_constant) != 0)
		return false;
	fail_asked++;
	return true;
}

static struct gomem_target *target;
static char target_error[8192];

static int group_setup(void **state)
{
	(void)state;
	const char *exe = getenv("GOMEM_TEST_EXE");
	char core[4096];
	struct stat st;
	if (!exe || !*exe) {
		snprintf(target_error, sizeof(target_error), "GOMEM_TEST_EXE is not set");
		return 0;
	}
	const char *slash = strrchr(exe, '/');
	snprintf(core, sizeof(core), "%.*s%score.kernel", slash ? (int)(slash - exe) : 0, exe,
		 slash ? "/" : "");
	if (stat(core, &st) != 0) {
		snprintf(target_error, sizeof(target_error), "%s: no kernel core beside it", core);
		return 0;
	}
	struct gomem_error *err = gomem_target_open_core(exe, core, &target);
	if (err) {
		snprintf(target_error, sizeof(target_error), "%s", gomem_error_message(err));
		gomem_error_destroy(err);
	}
	return 0; /* each test reports the problem itself */
}

static int group_teardown(void **state)
{
	(void)state;
	gomem_target_destroy(target);
	return 0;
}

/* A fresh runtime of the test target, whose layouts are not resolved yet. */
static int runtime_setup(void **state)
{
	struct gm_runtime *rt = NULL;
	if (target) {
		struct gomem_error *err = gm_runtime_create(target->dwarf, &target->target, &rt);
		gomem_error_destroy(err);
	}
	*state = rt;
	fail_constant = NULL;
	fail_asked = 0;
	return 0;
}

static int runtime_teardown(void **state)
{
	gm_runtime_destroy(*state);
	fail_constant = NULL;
	return 0;
}

static struct gm_runtime *runtime_of(void **state)
{
	if (!target)
		fail_msg("%s", target_error);
	assert_non_null(*state);
	return *state;
}

/* Makes name's value unreadable; the test then checks that the default was used. */
static void unreadable(const char *name)
{
	fail_constant = name;
	fail_asked = 0;
}

static void test_regions_use_the_default_persistent_chunk_size_when_unreadable(void **state)
{
	struct gm_runtime *rt = runtime_of(state);
	const struct gm_regions_layout *L;
	unreadable("runtime.persistentChunkSize");
	assert_gomem_ok(gm_runtime_regions_layout(rt, &L));
	assert_int_equal(fail_asked, 1);
	assert_int_equal(L->persistent_chunk_size, 256 << 10); /* malloc.go */
	/* The regions are found all the same. */
	struct gm_rt_regions rs;
	assert_gomem_ok(gm_go_regions(rt, &rs));
	size_t persistent = 0;
	for (size_t i = 0; i < rs.n; i++)
		persistent += rs.v[i].kind == GM_RR_PERSISTENT;
	assert_true(persistent > 0);
	gm_rt_regions_deinit(&rs);
}

static void test_stacks_use_the_default_heap_addr_bits_when_unreadable(void **state)
{
	struct gm_runtime *rt = runtime_of(state);
	const struct gm_stack_layout *L;
	unreadable("runtime.heapAddrBits");
	assert_gomem_ok(gm_runtime_stack_layout(rt, &L));
	assert_int_equal(fail_asked, 1);
	assert_int_equal(L->heap_addr_bits, 48); /* malloc.go, linux/amd64 */
	struct gm_stacks s;
	assert_gomem_ok(gm_stacks_read(rt, &s));
	assert_int_equal(s.totals.unexplained_bytes, 0);
	gm_stacks_deinit(&s);
}

static void test_goroutines_use_the_default_finalizer_state_when_unreadable(void **state)
{
	struct gm_runtime *rt = runtime_of(state);
	const struct gm_sched_layout *L;
	bool status = gm_dwarf_has_variable(rt->dw, "runtime.fingStatus");
	unreadable("runtime.fingRunningFinalizer");
	assert_gomem_ok(gm_runtime_sched_layout(rt, &L));
	/* Before Go 1.21 the state is the bool fingRunning, and no constant is read. */
	assert_int_equal(fail_asked, status ? 1 : 0);
	assert_int_equal(L->fing_running, status ? 2 : 1); /* mfinal.go */
}

static void test_whatis_header_counts_as_absent_when_its_minimum_is_unreadable(void **state)
{
	struct gm_runtime *rt = runtime_of(state);
	/* A scan object of size class 40 (2688 bytes) carries a malloc header from 1.22. */
	struct gm_span sp = {.state = GM_SPAN_IN_USE, .sizeclass = 40, .elemsize = 2688};
	unreadable("runtime.minSizeForMallocHeader");
	assert_int_equal(gm_runtime_header_bytes(rt, &sp), 0);
	if (gm_dwarf_has_constant(rt->dw, "runtime.minSizeForMallocHeader"))
		assert_int_equal(fail_asked, 1);
}

static void test_whatis_header_is_8_bytes_when_its_size_is_unreadable(void **state)
{
	struct gm_runtime *rt = runtime_of(state);
	struct gm_span sp = {.state = GM_SPAN_IN_USE, .sizeclass = 40, .elemsize = 2688};
	/* Malloc headers came with Go 1.22 (allocheaders): before, no object has one. */
	bool headers = gm_dwarf_has_constant(rt->dw, "runtime.mallocHeaderSize");
	unreadable("runtime.mallocHeaderSize");
	assert_int_equal(gm_runtime_header_bytes(rt, &sp), headers ? 8 : 0);
	assert_int_equal(fail_asked, headers ? 1 : 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, runtime_setup, runtime_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_regions_use_the_default_persistent_chunk_size_when_unreadable),
	    T(test_stacks_use_the_default_heap_addr_bits_when_unreadable),
	    T(test_goroutines_use_the_default_finalizer_state_when_unreadable),
	    T(test_whatis_header_counts_as_absent_when_its_minimum_is_unreadable),
	    T(test_whatis_header_is_8_bytes_when_its_size_is_unreadable),
	};
#undef T
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
