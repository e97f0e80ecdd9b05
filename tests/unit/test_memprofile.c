/*
 * The memory-profile reader (runtime/memprofile.c) on a real core and on
 * copies of it whose bucket list was broken on purpose: a cycle, a bucket
 * that claims a huge stack, a bucket that points nowhere. Each ends the
 * walk with a warning and keeps what was read; none loops or crashes.
 * Also the hash map the profile writer's users need (base/u64map.c), and
 * scaleHeapSample against Go's own arithmetic.
 *
 * Environment: GOMEM_TEST_EXE, a fixture executable with core.kernel
 * beside it (./setup test passes heapmix); GOMEM_GO (or go on PATH).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/wait.h>

#include "base/u64map.h"
#include "verbs/verbs.h"
#include "unit.h"

struct corrupt {
	char dir[256];
	char exe[1024], core[1024], copy[512];
	uint64_t head;	      /* runtime.mbuckets */
	uint64_t allnext_off; /* of runtime.bucket's allnext */
	uint64_t nstk_off;
};

static const char *test_exe(void)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	if (!exe || !*exe)
		fail_msg("GOMEM_TEST_EXE is not set: it must name build/fixtures/heapmix-<go>/exe "
			 "with its core.kernel beside it (./setup fixtures builds it)");
	return exe;
}

static struct gomem_target *open_target(const char *exe, const char *core)
{
	struct gomem_target *t = NULL;
	assert_gomem_ok(gomem_target_open_core(exe, core, &t));
	return t;
}

/* Where the address addr of the target is in its core file. */
static uint64_t file_offset(struct gomem_target *t, uint64_t addr)
{
	const struct gm_segment *s = gm_memory_find(&t->target.mem, addr);
	if (!s || addr - s->start + 8 > s->data_len)
		fail_msg("0x%llx is not in the core file", (unsigned long long)addr);
	return s->file_offset + (addr - s->start);
}

static int setup(void **state)
{
	struct corrupt *c = calloc(1, sizeof(*c));
	if (!c || unit_make_tmpdir(c->dir, sizeof(c->dir), "gomem-memprofile") != 0)
		return -1;
	snprintf(c->exe, sizeof(c->exe), "%s", test_exe());
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s", c->exe);
	snprintf(c->core, sizeof(c->core), "%s/core.kernel", dirname(dir));
	snprintf(c->copy, sizeof(c->copy), "%s/core", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct corrupt *c = *state;
	unit_remove_tree(c->dir);
	free(c);
	return 0;
}

/* Copies the core (holes kept) and writes the 8-byte value v at target address addr in it. */
static void patch_copy(struct corrupt *c, struct gomem_target *t, uint64_t addr, uint64_t v)
{
	char cmd[2200];
	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", c->core, c->copy);
	assert_int_equal(system(cmd), 0);
	int fd = open(c->copy, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &v, 8, (off_t)file_offset(t, addr)), 8);
	close(fd);
}

static void read_profile(const char *exe, const char *core, struct gm_memprofile *mp)
{
	struct gomem_target *t = open_target(exe, core);
	assert_gomem_ok(gm_memprofile_read(t->runtime, mp));
	gomem_target_destroy(t);
}

/* The real core: every bucket read, plausible counts, nothing to warn about. */
static void test_buckets_of_a_real_core_are_read(void **state)
{
	struct corrupt *c = *state;
	struct gomem_target *t = open_target(c->exe, c->core);
	struct gm_memprofile mp;
	assert_gomem_ok(gm_memprofile_read(t->runtime, &mp));
	assert_true(mp.nrecords >= 1); /* the runtime samples its first allocations */
	assert_int_equal(mp.nwarnings, 0);
	assert_false(mp.partial);
	uint64_t pcs = 0;
	for (size_t i = 0; i < mp.nrecords; i++) {
		const struct gm_memprofile_record *r = &mp.records[i];
		assert_true(r->nstk >= 1 && r->nstk <= GM_MEMPROFILE_MAX_STACK);
		assert_true(r->allocs >= r->frees);
		assert_true(r->alloc_bytes >= r->free_bytes);
		assert_true(r->size > 0);
		/* Bytes are whole objects of the bucket's size. */
		assert_int_equal(r->alloc_bytes, r->allocs * r->size);
		pcs += r->nstk;
	}
	assert_int_equal(pcs, mp.npcs);
	/* Each stack's pcs are in the executable's function table. */
	struct gm_pclntab *tab = NULL;
	assert_gomem_ok(gm_runtime_pclntab(t->runtime, &tab));
	struct gm_func f;
	bool found;
	assert_gomem_ok(
	    gm_pclntab_find_func(tab, mp.records[0].stk[0] - 1 - t->runtime->bias, &f, &found));
	assert_true(found);
	gm_pclntab_destroy(tab);
	gm_memprofile_deinit(&mp);
	gomem_target_destroy(t);
}

/* The first bucket's address and where its fields are. */
static void find_head(struct corrupt *c, struct gomem_target *t)
{
	uint64_t mbuckets;
	struct gm_field f;
	assert_gomem_ok(gm_dwarf_variable(t->dwarf, "runtime.mbuckets", &mbuckets));
	assert_gomem_ok(gm_read_u64(&t->target.mem, mbuckets + t->target.bias, &c->head));
	assert_true(c->head != 0);
	assert_gomem_ok(gm_dwarf_field(t->dwarf, "runtime.bucket", "allnext", &f));
	c->allnext_off = f.offset;
	assert_gomem_ok(gm_dwarf_field(t->dwarf, "runtime.bucket", "nstk", &f));
	c->nstk_off = f.offset;
}

/* A bucket whose allnext points back at the first: the walk ends at BuckHashSys's bound. */
static void test_a_cycle_in_the_bucket_list_ends_the_walk(void **state)
{
	struct corrupt *c = *state;
	struct gomem_target *t = open_target(c->exe, c->core);
	find_head(c, t);
	patch_copy(c, t, c->head + c->allnext_off, c->head);
	gomem_target_destroy(t);
	struct gm_memprofile mp;
	read_profile(c->exe, c->copy, &mp);
	assert_true(mp.partial);
	assert_int_equal(mp.nwarnings, 1);
	assert_non_null(strstr(mp.warnings[0], "a cycle?"));
	assert_true(mp.nrecords > 1 && mp.nrecords <= GM_MEMPROFILE_MAX_BUCKETS);
	gm_memprofile_deinit(&mp);
}

/* A bucket that claims 2^40 pcs: refused before anything is sized by it. */
static void test_a_bucket_with_a_huge_stack_is_refused(void **state)
{
	struct corrupt *c = *state;
	struct gomem_target *t = open_target(c->exe, c->core);
	find_head(c, t);
	patch_copy(c, t, c->head + c->nstk_off, 1ULL << 40);
	gomem_target_destroy(t);
	struct gm_memprofile mp;
	read_profile(c->exe, c->copy, &mp);
	assert_true(mp.partial);
	assert_int_equal(mp.nrecords, 0);
	assert_int_equal(mp.nwarnings, 1);
	assert_non_null(strstr(mp.warnings[0], "is not one"));
	gm_memprofile_deinit(&mp);
}

/* allnext into unmapped memory: a warning that names the address; the buckets before stay. */
static void test_a_bucket_pointing_nowhere_ends_the_walk(void **state)
{
	struct corrupt *c = *state;
	struct gomem_target *t = open_target(c->exe, c->core);
	find_head(c, t);
	patch_copy(c, t, c->head + c->allnext_off, 0x10);
	gomem_target_destroy(t);
	struct gm_memprofile mp;
	read_profile(c->exe, c->copy, &mp);
	assert_true(mp.partial);
	assert_int_equal(mp.nrecords, 1);
	assert_int_equal(mp.nwarnings, 1);
	assert_non_null(strstr(mp.warnings[0], "bucket 0x10 cannot be read"));
	gm_memprofile_deinit(&mp);
}

/* The verb on a corrupt list: one clear error (this program's rate is 0), no file, no crash. */
static void test_the_verb_on_a_broken_list_answers_in_one_line(void **state)
{
	struct corrupt *c = *state;
	struct gomem_target *t = open_target(c->exe, c->core);
	find_head(c, t);
	patch_copy(c, t, c->head + c->allnext_off, c->head);
	gomem_target_destroy(t);
	t = open_target(c->exe, c->copy);
	char out[512];
	snprintf(out, sizeof(out), "%s/heap.pb.gz", c->dir);
	const char *argv[] = {"--profile=runtime", "-o", out};
	char *text = NULL;
	int partial = 0;
	struct gomem_error *err = gomem_run(t, "pprof", 3, argv, &text, &partial);
	/* heapmix never reads its profile: MemProfileRate 0 is the answer, before any file. */
	assert_gomem_error(err, GOMEM_ERROR_UNSUPPORTED, "runtime.MemProfileRate is 0");
	assert_null(text);
	assert_int_equal(access(out, F_OK), -1);
	gomem_target_destroy(t);
}

/* ---- base/u64map.c ---- */

static void test_u64map_finds_what_was_put(void **state)
{
	(void)state;
	struct gm_u64map m = {0};
	assert_int_equal(gm_u64map_get(&m, 42), 0);
	for (uint64_t i = 0; i < 100000; i++)
		assert_true(gm_u64map_put(&m, 0x400000 + i * 0x1000, i + 1));
	assert_int_equal(m.n, 100000);
	for (uint64_t i = 0; i < 100000; i++)
		assert_int_equal(gm_u64map_get(&m, 0x400000 + i * 0x1000), i + 1);
	assert_int_equal(gm_u64map_get(&m, 0x400001), 0);
	assert_true(gm_u64map_put(&m, 0x400000, 7)); /* replaces */
	assert_int_equal(gm_u64map_get(&m, 0x400000), 7);
	assert_int_equal(m.n, 100000);
	assert_false(gm_u64map_put(&m, 1, 0)); /* 0 marks an empty slot */
	assert_true(gm_u64map_put(&m, 0, 5));  /* key 0 and the largest key are keys */
	assert_true(gm_u64map_put(&m, UINT64_MAX, 6));
	assert_int_equal(gm_u64map_get(&m, 0), 5);
	assert_int_equal(gm_u64map_get(&m, UINT64_MAX), 6);
	gm_u64map_deinit(&m);
	assert_int_equal(gm_u64map_get(&m, 0), 0);
}

/* ---- scaleHeapSample ---- */

/*
 * The same inputs through Go's scaleHeapSample (both forms: from bytes,
 * protomem.go@1.19-1.26, and from the object size, @1.27), run by the go
 * command, and through gomem's: the same int64s.
 */
static const char scale_go[] =
    "package main\n"
    "import (\"fmt\"; \"math\")\n"
    "func old(count, size, rate int64) (int64, int64) {\n"
    "	if count == 0 || size == 0 { return 0, 0 }\n"
    "	if rate <= 1 { return count, size }\n"
    "	avgSize := float64(size) / float64(count)\n"
    "	scale := 1 / (1 - math.Exp(-avgSize/float64(rate)))\n"
    "	return int64(float64(count) * scale), int64(float64(size) * scale)\n"
    "}\n"
    "func cur(count, avgSize, rate int64) (int64, int64) {\n"
    "	if count == 0 || avgSize == 0 { return 0, 0 }\n"
    "	if rate <= 1 { return count, count * avgSize }\n"
    "	scale := 1 / (1 - math.Exp(-float64(avgSize)/float64(rate)))\n"
    "	return int64(float64(count) * scale), int64(float64(count*avgSize) * scale)\n"
    "}\n"
    "func main() {\n"
    "	for _, rate := range []int64{0, 1, 4096, 512 * 1024, 1 << 30} {\n"
    "		for _, count := range []int64{0, 1, 3, 1000, 123457} {\n"
    "			for size := int64(1); size < 1<<26; size = size*3 + 5 {\n"
    "				a, b := old(count, count*size, rate)\n"
    "				c, d := cur(count, size, rate)\n"
    "				fmt.Println(rate, count, size, a, b, c, d)\n"
    "			}\n"
    "		}\n"
    "	}\n"
    "}\n";

static void test_scaling_is_go_arithmetic(void **state)
{
	struct corrupt *c = *state;
	char src[600], cmd[2048];
	snprintf(src, sizeof(src), "%s/scale.go", c->dir);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fputs(scale_go, f);
	fclose(f);
	const char *go = getenv("GOMEM_GO");
	snprintf(cmd, sizeof(cmd), "cd '%s' && GOTOOLCHAIN=local GOFLAGS= '%s' run scale.go",
		 c->dir, go && *go ? go : "go");
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	long long rate, count, size, a, b, cc, d;
	int lines = 0, differ = 0;
	while (fscanf(p, "%lld %lld %lld %lld %lld %lld %lld", &rate, &count, &size, &a, &b, &cc,
		      &d) == 7) {
		int64_t x, y;
		gm_pprof_scale_heap_sample(count, count * size, rate, true, &x, &y);
		if (x != a || y != b) {
			differ++;
			print_error("bytes form: %lld %lld %lld: go %lld %lld, gomem %lld %lld\n",
				    rate, count, size, a, b, (long long)x, (long long)y);
		}
		gm_pprof_scale_heap_sample(count, size, rate, false, &x, &y);
		if (x != cc || y != d) {
			differ++;
			print_error("size form: %lld %lld %lld: go %lld %lld, gomem %lld %lld\n",
				    rate, count, size, cc, d, (long long)x, (long long)y);
		}
		lines++;
	}
	int status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (go is needed: GOMEM_GO or go on PATH)", cmd);
	assert_true(lines > 300);
	assert_int_equal(differ, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_buckets_of_a_real_core_are_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_cycle_in_the_bucket_list_ends_the_walk, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_bucket_with_a_huge_stack_is_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_a_bucket_pointing_nowhere_ends_the_walk, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_the_verb_on_a_broken_list_answers_in_one_line,
					    setup, teardown),
	    cmocka_unit_test(test_u64map_finds_what_was_put),
	    cmocka_unit_test_setup_teardown(test_scaling_is_go_arithmetic, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
