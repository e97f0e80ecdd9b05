/*
 * The profile.proto writer (base/pprof.c): what it writes, `go tool pprof`
 * reads back exactly (-raw prints every sample, location, function and
 * mapping); the wire bytes of small messages are checked against the
 * encoding by hand; and a failed write leaves no file.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <sys/wait.h>

#include "base/pprof.h"
#include "unit.h"

/* The go command: $GOMEM_GO, else go on PATH. */
static const char *go_command(void)
{
	const char *go = getenv("GOMEM_GO");
	return go && *go ? go : "go";
}

/* The output of `go tool pprof ARGS path` (to free()); fails the test when it does not run. */
static char *pprof_output(const char *args, const char *path)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "'%s' tool pprof %s '%s' 2>&1", go_command(), args, path);
	FILE *f = popen(cmd, "r");
	if (!f)
		fail_msg("cannot run %s", cmd);
	struct gm_strbuf out = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		gm_strbuf_append(&out, chunk, n);
	int status = pclose(f);
	char *s = gm_strbuf_steal(&out);
	if (!s || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (go tool pprof is needed: GOMEM_GO or go on PATH):\n%s", cmd,
			 s ? s : "");
	return s;
}

/*
 * A profile with every kind of message: two mappings, functions with and
 * without start lines, an inlined location (two lines), a location
 * without a mapping, samples with labels (a number with and without a
 * unit, a string), negative and large values, comments.
 */
static struct gm_pprof *example_profile(void)
{
	struct gm_pprof *p = NULL;
	assert_gomem_ok(gm_pprof_create(&p));
	gm_pprof_sample_type(p, "alloc_objects", "count");
	gm_pprof_sample_type(p, "alloc_space", "bytes");
	gm_pprof_sample_type(p, "inuse_objects", "count");
	gm_pprof_sample_type(p, "inuse_space", "bytes");
	gm_pprof_period(p, "space", "bytes", 524288);
	gm_pprof_time(p, 1700000000123456789LL, 0);
	gm_pprof_comment(p, "written by test_pprof");
	gm_pprof_comment(p, "a second comment");
	struct gm_pprof_mapping exe = {
	    .start = 0x400000,
	    .limit = 0x4a0000,
	    .offset = 0,
	    .file = "/srv/bin/server",
	    .build_id = "0123abcd",
	    .has_functions = true,
	};
	struct gm_pprof_mapping lib = {
	    .start = 0x7f0000000000,
	    .limit = 0x7f0000100000,
	    .offset = 0x2000,
	    .file = "/lib/x86_64-linux-gnu/libc.so.6",
	};
	assert_int_equal(gm_pprof_mapping(p, &exe), 1);
	assert_int_equal(gm_pprof_mapping(p, &lib), 2);
	uint64_t f_main = gm_pprof_function(p, "main.main", "main.main", "/src/main.go", 10);
	uint64_t f_alloc = gm_pprof_function(p, "main.alloc[go.shape.int]",
					     "main.alloc[go.shape.int]", "/src/alloc.go", 0);
	uint64_t f_make = gm_pprof_function(p, "main.makeBuf", "main.makeBuf", "/src/alloc.go", 31);
	uint64_t f_malloc = gm_pprof_function(p, "malloc", "malloc", "", 0);
	assert_int_equal(f_main, 1);
	assert_int_equal(f_malloc, 4);
	assert_int_equal(gm_pprof_function_by_name(p, "main.makeBuf"), 3);
	assert_int_equal(gm_pprof_function_by_name(p, "main.missing"), 0);
	/* A second function of the same name: its own id, but the name finds the first. */
	assert_int_equal(gm_pprof_function(p, "main.main", "main.main", "/src/other.go", 3), 5);
	assert_int_equal(gm_pprof_function_by_name(p, "main.main"), 1);

	struct gm_pprof_line inl[] = {{f_make, 33}, {f_alloc, 21}};
	struct gm_pprof_line l_main[] = {{f_main, 12}};
	struct gm_pprof_line l_malloc[] = {{f_malloc, 0}};
	assert_int_equal(gm_pprof_location(p, 1, 0x401234, inl, 2), 1);
	assert_int_equal(gm_pprof_location(p, 1, 0x400abc, l_main, 1), 2);
	assert_int_equal(gm_pprof_location(p, 2, 0x7f0000001000, l_malloc, 1), 3);
	assert_int_equal(gm_pprof_location(p, 0, 0x999, NULL, 0), 4);

	uint64_t s1[] = {1, 2};
	int64_t v1[] = {3, 3072, 1, 1024};
	struct gm_pprof_label lab1[] = {{.key = "bytes", .num = 1024}};
	gm_pprof_sample(p, s1, 2, v1, 4, lab1, 1);
	uint64_t s2[] = {3, 2};
	int64_t v2[] = {5000000000LL, 1LL << 40, -2, -4096};
	struct gm_pprof_label lab2[] = {{.key = "bytes", .num = 220, .num_unit = "bytes"},
					{.key = "kind", .str = "cgo"}};
	gm_pprof_sample(p, s2, 2, v2, 4, lab2, 2);
	uint64_t s3[] = {4};
	int64_t v3[] = {0, 0, 0, 0};
	gm_pprof_sample(p, s3, 1, v3, 4, NULL, 0);
	return p;
}

static const char expected_raw[] =
    "Comment: written by test_pprof\n"
    "Comment: a second comment\n"
    "PeriodType: space bytes\n"
    "Period: 524288\n"
    "Time: %s\n"
    "Samples:\n"
    "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes\n"
    "          3       3072          1       1024: 1 2 \n"
    "                bytes:[1024]\n"
    " 5000000000 1099511627776         -2      -4096: 3 2 \n"
    "                kind:[cgo]\n"
    "                bytes:[220 bytes]\n"
    "          0          0          0          0: 4 \n"
    "Locations\n"
    "     1: 0x401234 M=1 main.makeBuf /src/alloc.go:33:0 s=31\n"
    "             main.alloc[go.shape.int] /src/alloc.go:21:0 s=0\n"
    "     2: 0x400abc M=1 main.main /src/main.go:12:0 s=10\n"
    "     3: 0x7f0000001000 M=2 malloc :0:0 s=0\n"
    "     4: 0x999 \n"
    "Mappings\n"
    "1: 0x400000/0x4a0000/0x0 /srv/bin/server 0123abcd [FN]\n"
    "2: 0x7f0000000000/0x7f0000100000/0x2000 /lib/x86_64-linux-gnu/libc.so.6  \n";

static void test_go_tool_pprof_reads_back_what_was_written(void **state)
{
	(void)state;
	char dir[256], path[512];
	assert_int_equal(unit_make_tmpdir(dir, sizeof(dir), "gomem-pprof"), 0);
	snprintf(path, sizeof(path), "%s/example.pb.gz", dir);
	struct gm_pprof *p = example_profile();
	uint64_t bytes = 0;
	assert_gomem_ok(gm_pprof_write(p, path, &bytes));
	struct gm_pprof_counts c;
	gm_pprof_counts(p, &c);
	assert_int_equal(c.samples, 3);
	assert_int_equal(c.locations, 4);
	assert_int_equal(c.functions, 5);
	assert_int_equal(c.mappings, 2);
	gm_pprof_destroy(p);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, bytes);
	char *raw = pprof_output("-raw", path);
	/* pprof prints the time in the local zone: compare everything else exactly. */
	char *time_line = strstr(raw, "Time: ");
	assert_non_null(time_line);
	char when[128];
	size_t n = strcspn(time_line + 6, "\n");
	assert_true(n < sizeof(when));
	memcpy(when, time_line + 6, n);
	when[n] = '\0';
	char expected[sizeof(expected_raw) + 128];
	snprintf(expected, sizeof(expected), expected_raw, when);
	if (strcmp(raw, expected) != 0)
		fail_msg("go tool pprof -raw printed:\n%s\nexpected:\n%s", raw, expected);
	free(raw);
	/* The comments, which -raw leaves out. */
	char *comments = pprof_output("-comments", path);
	assert_string_equal(comments, "written by test_pprof\na second comment\n");
	free(comments);
	unit_remove_tree(dir);
}

/* The encoding of one small profile, byte by byte, from profile.proto's field numbers. */
static void test_wire_bytes_are_protobuf(void **state)
{
	(void)state;
	struct gm_pprof *p = NULL;
	assert_gomem_ok(gm_pprof_create(&p));
	gm_pprof_sample_type(p, "a", "b"); /* strings 1, 2 */
	uint64_t loc[] = {300};
	int64_t val[] = {-1};
	gm_pprof_sample(p, loc, 1, val, 1, NULL, 0);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_gomem_ok(gm_pprof_encode(p, &buf, &len));
	static const uint8_t want[] = {
	    /* sample_type (1): ValueType{type (1): 1, unit (2): 2} */
	    0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,
	    /* sample (2): Sample{location_id (1) packed [300], value (2) packed [-1]} */
	    0x12, 0x10, 0x0a, 0x02, 0xac, 0x02, 0x12, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0x01,
	    /* string_table (6): "", "a", "b" */
	    0x32, 0x00, 0x32, 0x01, 'a', 0x32, 0x01, 'b'};
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	free(buf);
	gm_pprof_destroy(p);
}

/* Strings are kept once, whatever their number; "" is always 0. */
static void test_string_table_keeps_each_string_once(void **state)
{
	(void)state;
	struct gm_pprof *p = NULL;
	assert_gomem_ok(gm_pprof_create(&p));
	assert_int_equal(gm_pprof_string(p, ""), 0);
	assert_int_equal(gm_pprof_string(p, NULL), 0);
	char s[32];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5000; i++) {
			snprintf(s, sizeof(s), "function.%d", i);
			assert_int_equal(gm_pprof_string(p, s), i + 1);
		}
	}
	struct gm_pprof_counts c;
	gm_pprof_counts(p, &c);
	assert_int_equal(c.strings, 5001);
	gm_pprof_destroy(p);
}

static void test_a_file_that_cannot_be_written_is_an_error(void **state)
{
	(void)state;
	struct gm_pprof *p = example_profile();
	assert_gomem_error(gm_pprof_write(p, "/nonexistent-dir/heap.pb.gz", NULL), GOMEM_ERROR_IO,
			   "cannot create /nonexistent-dir/heap.pb.gz");
	/* /dev/full takes the open and refuses the bytes: an error (and the device stays). */
	assert_gomem_error(gm_pprof_write(p, "/dev/full", NULL), GOMEM_ERROR_IO,
			   "cannot write /dev/full");
	struct stat st;
	assert_int_equal(stat("/dev/full", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	/* A partial regular file is removed: a directory's name cannot be opened at all. */
	char dir[256];
	assert_int_equal(unit_make_tmpdir(dir, sizeof(dir), "gomem-pprof"), 0);
	assert_gomem_error(gm_pprof_write(p, dir, NULL), GOMEM_ERROR_IO, "cannot create");
	unit_remove_tree(dir);
	gm_pprof_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_tool_pprof_reads_back_what_was_written),
	    cmocka_unit_test(test_wire_bytes_are_protobuf),
	    cmocka_unit_test(test_string_table_keeps_each_string_once),
	    cmocka_unit_test(test_a_file_that_cannot_be_written_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
