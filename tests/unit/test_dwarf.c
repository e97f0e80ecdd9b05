/*
 * DWARF lookups (dwarf.c) and the executable reader (exe.c) on a real Go
 * binary. ./setup test builds the binaries and sets:
 *
 *   GOMEM_TEST_EXE          a Go program built normally (with DWARF)
 *   GOMEM_TEST_EXE_NODWARF  the same program built with -ldflags=-w
 *
 * When either is unset or missing, the tests that need it fail: a test
 * that cannot run is not a test that passed.
 *
 * The truth for addresses and sizes comes from the binary itself, read
 * here with libelf (.symtab) and plain libdw (DW_AT_byte_size), not
 * through libcore.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verbs/verbs.h"
#include "unit.h"

#define NON_GO_ELF "/bin/true"

/* Opened once for the whole group: indexing a Go binary's DWARF is not free. */
static struct gm_dwarf *shared_dwarf;
static char shared_dwarf_error[512];

/* The path in an environment variable; fails the test when unset or missing. */
static const char *env_binary(const char *var)
{
	const char *path = getenv(var);
	struct stat st;
	if (!path || !*path)
		fail_msg("%s is not set: it must name a Go binary (./setup test builds one; by "
			 "hand: cd fixtures && go build %s-o /tmp/x ./heapmix)",
			 var, strcmp(var, "GOMEM_TEST_EXE_NODWARF") == 0 ? "-ldflags=-w " : "");
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		fail_msg("%s=%s: no such file", var, path);
	return path;
}

static const char *test_exe(void)
{
	return env_binary("GOMEM_TEST_EXE");
}

static int group_setup(void **state)
{
	const char *path = getenv("GOMEM_TEST_EXE");
	(void)state;
	if (!path || !*path) {
		snprintf(shared_dwarf_error, sizeof(shared_dwarf_error),
			 "GOMEM_TEST_EXE is not set");
		return 0;
	}
	struct gomem_error *err = gm_dwarf_open(path, &shared_dwarf);
	if (err) {
		snprintf(shared_dwarf_error, sizeof(shared_dwarf_error), "gm_dwarf_open(%s): %s",
			 path, gomem_error_message(err));
		gomem_error_destroy(err);
		shared_dwarf = NULL;
	}
	return 0; /* each test reports the problem itself */
}

static int group_teardown(void **state)
{
	(void)state;
	gm_dwarf_destroy(shared_dwarf);
	shared_dwarf = NULL;
	return 0;
}

static struct gm_dwarf *dwarf(void)
{
	test_exe();
	if (!shared_dwarf)
		fail_msg("%s", shared_dwarf_error);
	return shared_dwarf;
}

/* A symbol's value from the ELF .symtab, read with libelf. */
static bool symtab_value(const char *path, const char *name, uint64_t *ret)
{
	bool found = false;
	elf_version(EV_CURRENT);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	Elf_Scn *scn = NULL;
	while (!found && (scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym))
				continue;
			const char *s = elf_strptr(e, sh.sh_link, sym.st_name);
			if (s && strcmp(s, name) == 0) {
				*ret = sym.st_value;
				found = true;
				break;
			}
		}
	}
	elf_end(e);
	close(fd);
	return found;
}

/* DW_AT_byte_size of the top-level struct named name, read with libdw directly. */
static bool dwarf_struct_byte_size(const char *path, const char *name, uint64_t *ret)
{
	bool found = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	assert_non_null(dw);
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (!found && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				const char *n = dwarf_diename(&die);
				Dwarf_Attribute attr;
				Dwarf_Word w;
				if (dwarf_tag(&die) == DW_TAG_structure_type && n &&
				    strcmp(n, name) == 0 &&
				    dwarf_attr(&die, DW_AT_byte_size, &attr) &&
				    dwarf_formudata(&attr, &w) == 0) {
					*ret = w;
					found = true;
					break;
				}
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
	dwarf_end(dw);
	close(fd);
	return found;
}

static void test_gomem_test_exe_names_a_file(void **state)
{
	(void)state;
	test_exe();
}

static void test_dwarf_open_succeeds_on_go_binary(void **state)
{
	struct gm_dwarf *d = NULL;
	(void)state;
	assert_gomem_ok(gm_dwarf_open(test_exe(), &d));
	assert_non_null(d);
	assert_true(gm_dwarf_has_variable(d, "runtime.mheap_"));
	gm_dwarf_destroy(d);
	gm_dwarf_destroy(NULL); /* a no-op */
}

static void test_runtime_globals_have_their_symtab_addresses(void **state)
{
	static const char *const names[] = {"runtime.mheap_", "runtime.memstats",
					    "runtime.gcController", "runtime.allp",
					    "runtime.emptymspan"};
	(void)state;
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		uint64_t addr = 0, sym = 0;
		assert_gomem_ok(gm_dwarf_variable(dwarf(), names[i], &addr));
		if (!symtab_value(test_exe(), names[i], &sym))
			fail_msg("%s: no symbol %s in .symtab", test_exe(), names[i]);
		if (addr == 0 || addr != sym)
			fail_msg("%s: DWARF says 0x%llx, .symtab says 0x%llx", names[i],
				 (unsigned long long)addr, (unsigned long long)sym);
	}
}

static void test_missing_variable_is_an_error(void **state)
{
	uint64_t addr = 12345;
	(void)state;
	assert_false(gm_dwarf_has_variable(dwarf(), "runtime.noSuchVariable"));
	assert_gomem_error(gm_dwarf_variable(dwarf(), "runtime.noSuchVariable", &addr),
			   GOMEM_ERROR_UNSUPPORTED, "runtime.noSuchVariable");
	assert_int_equal(addr, 12345);
}

/*
 * The page shift is runtime._PageShift up to 1.24; from 1.25 it lives in
 * internal/runtime/gc (PageShift) and runtime keeps only _PageSize and
 * pageSize.
 */
static void test_page_shift_constant_is_13(void **state)
{
	static const char *const names[] = {"runtime._PageShift", "internal/runtime/gc.PageShift"};
	int found = 0;
	(void)state;
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		int64_t v = 0;
		if (!gm_dwarf_has_constant(dwarf(), names[i]))
			continue;
		assert_gomem_ok(gm_dwarf_constant(dwarf(), names[i], &v));
		assert_int_equal(v, 13);
		found++;
	}
	if (!found)
		fail_msg(
		    "neither runtime._PageShift nor internal/runtime/gc.PageShift in the DWARF");
}

static void test_page_size_constants_are_8192(void **state)
{
	static const char *const names[] = {"runtime.pageSize", "runtime._PageSize",
					    "internal/runtime/gc.PageSize"};
	int found = 0;
	(void)state;
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		int64_t v = 0;
		if (!gm_dwarf_has_constant(dwarf(), names[i]))
			continue;
		assert_gomem_ok(gm_dwarf_constant(dwarf(), names[i], &v));
		assert_int_equal(v, 8192);
		found++;
	}
	assert_true(found > 0);
}

/* The constants that runtime.c reads, with the values linux/amd64 has in 1.19-1.27. */
static void test_heap_layout_constants_have_amd64_values(void **state)
{
	static const struct {
		const char *name;
		int64_t value;
	} want[] = {
	    {"runtime.logHeapArenaBytes", 26},
	    {"runtime.arenaL1Bits", 0},
	    {"runtime.arenaL2Bits", 22},
	    {"runtime.arenaBaseOffsetUintptr", (int64_t)0xffff800000000000ULL},
	    {"runtime.pallocChunkPages", 512},
	    {"runtime.pallocChunksL1Bits", 13},
	    {"runtime.pallocChunksL2Bits", 13},
	    {"runtime.mSpanInUse", 1},
	    {"runtime.mSpanManual", 2},
	};
	(void)state;
	for (size_t i = 0; i < GM_ARRAY_SIZE(want); i++) {
		int64_t v = 0;
		struct gomem_error *err = gm_dwarf_constant(dwarf(), want[i].name, &v);
		if (err) {
			print_error("%s: %s\n", want[i].name, gomem_error_message(err));
			gomem_error_destroy(err);
			fail();
		}
		if (v != want[i].value)
			fail_msg("%s = %lld, want %lld", want[i].name, (long long)v,
				 (long long)want[i].value);
	}
}

static void test_missing_constant_is_an_error(void **state)
{
	int64_t v = 99;
	(void)state;
	assert_false(gm_dwarf_has_constant(dwarf(), "runtime.noSuchConstant"));
	assert_gomem_error(gm_dwarf_constant(dwarf(), "runtime.noSuchConstant", &v),
			   GOMEM_ERROR_UNSUPPORTED, "runtime.noSuchConstant");
	assert_int_equal(v, 99);
}

static void test_mspan_sizeof_equals_its_dw_at_byte_size(void **state)
{
	uint64_t size = 0, truth = 0;
	(void)state;
	assert_true(gm_dwarf_has_type(dwarf(), "runtime.mspan"));
	assert_gomem_ok(gm_dwarf_sizeof(dwarf(), "runtime.mspan", &size));
	assert_true(size > 100);
	assert_true(dwarf_struct_byte_size(test_exe(), "runtime.mspan", &truth));
	assert_int_equal(size, truth);
}

static void test_sizeof_heapstatsdelta_and_palloc_types_match_dwarf(void **state)
{
	static const char *const names[] = {"runtime.heapStatsDelta", "runtime.pallocData",
					    "runtime.mheap", "runtime.heapArena"};
	(void)state;
	for (size_t i = 0; i < GM_ARRAY_SIZE(names); i++) {
		uint64_t size = 0, truth = 0;
		assert_gomem_ok(gm_dwarf_sizeof(dwarf(), names[i], &size));
		if (!dwarf_struct_byte_size(test_exe(), names[i], &truth))
			fail_msg("no struct %s in the DWARF", names[i]);
		assert_int_equal(size, truth);
	}
	uint64_t size = 0;
	assert_gomem_ok(gm_dwarf_sizeof(dwarf(), "runtime.pallocData", &size));
	assert_int_equal(size, 128);
}

static void test_missing_type_is_an_error(void **state)
{
	uint64_t size = 7;
	struct gm_field f = {.present = true, .offset = 7};
	(void)state;
	assert_false(gm_dwarf_has_type(dwarf(), "runtime.noSuchType"));
	assert_gomem_error(gm_dwarf_sizeof(dwarf(), "runtime.noSuchType", &size),
			   GOMEM_ERROR_UNSUPPORTED, "runtime.noSuchType");
	assert_int_equal(size, 7);
	/* A failed call leaves its result as it was. */
	assert_gomem_error(gm_dwarf_field(dwarf(), "runtime.noSuchType", "x", &f),
			   GOMEM_ERROR_UNSUPPORTED, "runtime.noSuchType");
	assert_true(f.present);
	assert_int_equal(f.offset, 7);
}

static void test_mspan_startaddr_is_an_8_byte_field_followed_by_npages(void **state)
{
	struct gm_field start, npages, size;
	uint64_t mspan_size = 0;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "startAddr", &start));
	assert_true(start.present);
	assert_int_equal(start.size, 8);
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "npages", &npages));
	assert_true(npages.present);
	assert_int_equal(npages.offset, start.offset + 8);
	assert_gomem_ok(gm_dwarf_sizeof(dwarf(), "runtime.mspan", &mspan_size));
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "elemsize", &size));
	assert_true(size.present);
	assert_int_equal(size.size, 8);
	assert_true(size.offset + size.size <= mspan_size);
}

/* state is {s uint8} in 1.19 and {s atomic.Uint8} from 1.20: either way, one byte. */
static void test_mspan_state_s_is_unwrapped_to_one_byte(void **state)
{
	struct gm_field f, box;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "state.s", &f));
	assert_true(f.present);
	assert_int_equal(f.size, 1);
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "state", &box));
	assert_true(box.present);
	/* The atomic's payload is at or after the box's start, inside it. */
	assert_true(f.offset >= box.offset);
	assert_true(f.offset < box.offset + box.size);
}

static void test_mstats_heapstats_stats_is_an_array_of_3_deltas(void **state)
{
	struct gm_field f;
	uint64_t delta = 0;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mstats", "heapStats.stats", &f));
	assert_true(f.present);
	assert_int_equal(f.count, 3);
	assert_gomem_ok(gm_dwarf_sizeof(dwarf(), "runtime.heapStatsDelta", &delta));
	assert_int_equal(f.elem_size, delta);
	assert_int_equal(f.size, 3 * delta);
}

static void test_heapstatsdelta_small_alloc_count_has_68_words(void **state)
{
	struct gm_field a, f;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.heapStatsDelta", "smallAllocCount", &a));
	assert_true(a.present);
	assert_int_equal(a.count, 68);
	assert_int_equal(a.elem_size, 8);
	assert_int_equal(a.size, 68 * 8);
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.heapStatsDelta", "smallFreeCount", &f));
	assert_int_equal(f.count, 68);
	assert_true(f.offset != a.offset);
}

static void test_slice_fields_report_their_element_size(void **state)
{
	struct gm_field allspans, arenas;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mheap", "allspans", &allspans));
	assert_true(allspans.present);
	assert_int_equal(allspans.size, 24); /* {array, len, cap} */
	assert_int_equal(allspans.elem_size, 8);
	/* allArenas became heapArenas in 1.25 (mheap.go@1.25); both are []arenaIdx. */
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mheap", "heapArenas", &arenas));
	if (!arenas.present)
		assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mheap", "allArenas", &arenas));
	assert_true(arenas.present);
	assert_int_equal(arenas.size, 24);
	assert_int_equal(arenas.elem_size, 8);
}

static void test_nested_field_offset_is_the_sum_of_its_parts(void **state)
{
	struct gm_field pages, chunks, nested;
	(void)state;
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mheap", "pages", &pages));
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.pageAlloc", "chunks", &chunks));
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mheap", "pages.chunks", &nested));
	assert_true(pages.present && chunks.present && nested.present);
	assert_int_equal(nested.offset, pages.offset + chunks.offset);
	assert_int_equal(nested.size, chunks.size);
	assert_int_equal(chunks.count, 8192);
	assert_int_equal(chunks.elem_size, 8);
}

static void test_missing_field_is_absent_without_error(void **state)
{
	struct gm_field f;
	(void)state;
	memset(&f, 0xff, sizeof(f));
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "noSuchField", &f));
	assert_false(f.present);
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "state.noSuchField", &f));
	assert_false(f.present);
	/* A path through a scalar: startAddr has no members. */
	assert_gomem_ok(gm_dwarf_field(dwarf(), "runtime.mspan", "startAddr.x", &f));
	assert_false(f.present);
}

static void test_dwarf_open_of_non_go_elf_fails_clearly(void **state)
{
	struct gm_dwarf *d = NULL;
	(void)state;
	struct gomem_error *err = gm_dwarf_open(NON_GO_ELF, &d);
	assert_non_null(err);
	assert_null(d);
	/* NOT_GO, and the message names the file. */
	assert_gomem_error(err, GOMEM_ERROR_NOT_GO, NON_GO_ELF);
}

static void test_dwarf_open_of_binary_without_dwarf_says_dwarf(void **state)
{
	struct gm_dwarf *d = NULL;
	const char *path = env_binary("GOMEM_TEST_EXE_NODWARF");
	(void)state;
	struct gomem_error *err = gm_dwarf_open(path, &d);
	assert_null(d);
	if (!err)
		fail_msg("gm_dwarf_open(%s) succeeded: is it really built with -ldflags=-w?", path);
	assert_true(strstr(gomem_error_message(err), path) != NULL);
	assert_gomem_error(err, GOMEM_ERROR_NOT_GO, "DWARF");
}

static void test_dwarf_open_of_missing_file_fails_naming_it(void **state)
{
	struct gm_dwarf *d = NULL;
	(void)state;
	assert_gomem_error(gm_dwarf_open("/nonexistent/gomem-test-exe", &d), GOMEM_ERROR_IO,
			   "/nonexistent/gomem-test-exe");
	assert_null(d);
}

static void test_exe_open_reads_go_version_and_build_id(void **state)
{
	struct gm_exe exe;
	(void)state;
	assert_gomem_ok(gm_exe_open(test_exe(), &exe));
	assert_int_equal(strncmp(exe.go_version, "go1.", 4), 0);
	/* The version is what the linker wrote, less the experiments. */
	assert_int_equal(strncmp(exe.build_version, exe.go_version, strlen(exe.go_version)), 0);
	assert_true(exe.go_build_id[0] != '\0');
	assert_non_null(strchr(exe.go_build_id, '/')); /* actionID/contentID... */
	assert_true(exe.e_type == ET_EXEC || exe.e_type == ET_DYN);
	assert_true(exe.nloads >= 2);
	assert_null(gm_check_go_version(&exe));
	gm_exe_deinit(&exe);
}

static void test_exe_open_without_dwarf_still_reads_go_version(void **state)
{
	struct gm_exe full, stripped;
	const char *nodwarf = env_binary("GOMEM_TEST_EXE_NODWARF");
	(void)state;
	assert_gomem_ok(gm_exe_open(test_exe(), &full));
	assert_gomem_ok(gm_exe_open(nodwarf, &stripped));
	assert_string_equal(stripped.go_version, full.go_version);
	assert_true(stripped.go_build_id[0] != '\0');
	gm_exe_deinit(&stripped);
	gm_exe_deinit(&full);
}

static void test_exe_open_of_non_go_elf_says_not_a_go_program(void **state)
{
	struct gm_exe exe;
	(void)state;
	struct gomem_error *err = gm_exe_open(NON_GO_ELF, &exe);
	gm_exe_deinit(&exe);
	assert_true(err && strstr(gomem_error_message(err), NON_GO_ELF));
	assert_gomem_error(err, GOMEM_ERROR_NOT_GO, "not a Go program");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gomem_test_exe_names_a_file),
	    cmocka_unit_test(test_dwarf_open_succeeds_on_go_binary),
	    cmocka_unit_test(test_runtime_globals_have_their_symtab_addresses),
	    cmocka_unit_test(test_missing_variable_is_an_error),
	    cmocka_unit_test(test_page_shift_constant_is_13),
	    cmocka_unit_test(test_page_size_constants_are_8192),
	    cmocka_unit_test(test_heap_layout_constants_have_amd64_values),
	    cmocka_unit_test(test_missing_constant_is_an_error),
	    cmocka_unit_test(test_mspan_sizeof_equals_its_dw_at_byte_size),
	    cmocka_unit_test(test_sizeof_heapstatsdelta_and_palloc_types_match_dwarf),
	    cmocka_unit_test(test_missing_type_is_an_error),
	    cmocka_unit_test(test_mspan_startaddr_is_an_8_byte_field_followed_by_npages),
	    cmocka_unit_test(test_mspan_state_s_is_unwrapped_to_one_byte),
	    cmocka_unit_test(test_mstats_heapstats_stats_is_an_array_of_3_deltas),
	    cmocka_unit_test(test_heapstatsdelta_small_alloc_count_has_68_words),
	    cmocka_unit_test(test_slice_fields_report_their_element_size),
	    cmocka_unit_test(test_nested_field_offset_is_the_sum_of_its_parts),
	    cmocka_unit_test(test_missing_field_is_absent_without_error),
	    cmocka_unit_test(test_dwarf_open_of_non_go_elf_fails_clearly),
	    cmocka_unit_test(test_dwarf_open_of_binary_without_dwarf_says_dwarf),
	    cmocka_unit_test(test_dwarf_open_of_missing_file_fails_naming_it),
	    cmocka_unit_test(test_exe_open_reads_go_version_and_build_id),
	    cmocka_unit_test(test_exe_open_without_dwarf_still_reads_go_version),
	    cmocka_unit_test(test_exe_open_of_non_go_elf_says_not_a_go_program),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
