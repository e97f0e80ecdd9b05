/*
 * Binaries without DWARF (issue 16): the x86-64 decoder against objdump,
 * the code patterns that find the runtime's globals against DWARF, the
 * layout tables (recorded from DWARF, replayed, and the compiled-in ones),
 * and the debug-file check.
 *
 *   GOMEM_TEST_EXE   a Go program built with DWARF (build/fixtures/heapmix-<go>/exe);
 *                    every build/fixtures/<name>/exe beside it is read too.
 *
 * The tools it runs: objdump, objcopy (binutils).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dwarf/dwarf.h"
#include "dwarf/tables.h"
#include "dwarf/x86.h"
#include "runtime/runtime.h"
#include "target/pclntab.h"
#include "unit.h"

static const char *test_exe(void)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	if (!exe || !*exe)
		fail_msg("GOMEM_TEST_EXE is not set: it must name build/fixtures/heapmix-<go>/exe "
			 "(./setup fixtures builds it)");
	return exe;
}

static bool is_x86_64(const char *path)
{
	Elf64_Ehdr eh;
	FILE *f = fopen(path, "rb");
	bool ok = f && fread(&eh, sizeof(eh), 1, f) == 1 && eh.e_machine == EM_X86_64;
	if (f)
		fclose(f);
	return ok;
}

/* Every build/fixtures/<name>/exe beside GOMEM_TEST_EXE's folder, into paths (free each). */
static size_t fixture_exes(char **paths, size_t max)
{
	char root[4096];
	snprintf(root, sizeof(root), "%s", test_exe());
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(root, '/');
		if (!slash)
			fail_msg("GOMEM_TEST_EXE %s is not build/fixtures/NAME/exe", test_exe());
		*slash = '\0';
	}
	DIR *d = opendir(root);
	size_t n = 0;
	if (!d)
		fail_msg("cannot read %s", root);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		char path[8192];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/exe", root, e->d_name);
		/* Globals from code and the compiled-in tables are linux/amd64's (STRIPPED.md):
		 * an arm64 sibling (make check's committed heapmix-go1.26-arm64) is not theirs. */
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && is_x86_64(path))
			paths[n++] = strdup(path);
	}
	closedir(d);
	return n;
}

static struct gm_pclntab *open_pclntab(const struct gm_exe *exe)
{
	struct gm_pclntab *p = NULL;
	assert_gomem_ok(gm_pclntab_open(exe->map, exe->size, &p));
	if (!gm_pclntab_has_text(p)) {
		uint64_t md, text;
		assert_gomem_ok(gm_pclntab_find_moduledata(p, &md));
		assert_gomem_ok(gm_pclntab_moduledata_text(p, md, &text));
		assert_gomem_ok(gm_pclntab_set_text(p, text));
	}
	return p;
}

/* ---- the decoder ---- */

/*
 * Every instruction objdump decodes in .text has the length the decoder
 * gives it (the crypto assembly's data, which objdump calls "(bad)", aside).
 */
static void test_x86_lengths_equal_objdump_over_the_whole_text(void **state)
{
	(void)state;
	struct gm_exe exe;
	assert_gomem_ok(gm_exe_open(test_exe(), &exe));
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "objdump -d --insn-width=16 -j .text '%s'", test_exe());
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[1024];
	size_t n = 0, wrong = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char bytes[256];
		if (sscanf(line, " %llx:\t%255[0-9a-f ]\t", &addr, bytes) != 2 ||
		    strstr(line, "(bad)"))
			continue;
		unsigned len = 0;
		for (const char *p = bytes; *p;) {
			while (*p == ' ')
				p++;
			if (!*p)
				break;
			len++;
			p += 2;
		}
		/* The file offset of addr, from the PT_LOAD that holds it. */
		const uint8_t *code = NULL;
		uint64_t avail = 0;
		for (size_t i = 0; i < exe.nloads; i++) {
			if (addr >= exe.loads[i].vaddr &&
			    addr - exe.loads[i].vaddr < exe.loads[i].filesz) {
				code = exe.map + exe.loads[i].offset + (addr - exe.loads[i].vaddr);
				avail = exe.loads[i].filesz - (addr - exe.loads[i].vaddr);
			}
		}
		assert_non_null(code);
		struct gm_x86_insn in;
		n++;
		if (!gm_x86_decode(code, (size_t)avail, &in) || in.len != len) {
			if (wrong++ < 10)
				print_error(
				    "0x%llx: objdump says %u bytes, the decoder %d: %s", addr, len,
				    gm_x86_decode(code, (size_t)avail, &in) ? in.len : -1, line);
		}
	}
	assert_int_equal(pclose(f), 0);
	gm_exe_deinit(&exe);
	assert_true(n > 100000);
	assert_int_equal(wrong, 0);
}

static void test_x86_operands_of_the_instructions_the_rules_read(void **state)
{
	(void)state;
	struct gm_x86_insn in;
	/* lea 0x1234(%rip),%rax */
	static const uint8_t lea[] = {0x48, 0x8d, 0x05, 0x34, 0x12, 0x00, 0x00};
	assert_true(gm_x86_decode(lea, sizeof(lea), &in));
	assert_true(in.rip && in.rex_w && in.op == 0x8d && in.reg == GM_X86_RAX);
	assert_int_equal(in.disp, 0x1234);
	assert_int_equal(in.len, 7);
	/* lock cmpxchg %rdx,(%rsi) */
	static const uint8_t cas[] = {0xf0, 0x48, 0x0f, 0xb1, 0x16};
	assert_true(gm_x86_decode(cas, sizeof(cas), &in));
	assert_true(in.lock && in.map == 1 && in.op == 0xb1 && in.base == 6 && in.reg == 2);
	/* mov %rcx,%fs:0xfffffffffffffff8 */
	static const uint8_t tls[] = {0x64, 0x48, 0x89, 0x0c, 0x25, 0xf8, 0xff, 0xff, 0xff};
	assert_true(gm_x86_decode(tls, sizeof(tls), &in));
	assert_true(in.fs && in.mem && !in.rip && in.base == GM_X86_NO_REG && in.disp == -8);
	/* call rel32 */
	static const uint8_t call[] = {0xe8, 0x10, 0x00, 0x00, 0x00};
	assert_true(gm_x86_decode(call, sizeof(call), &in));
	assert_true(in.rel && in.rel_off == 0x10 && in.len == 5);
	/* movabs $imm64, %rax; a VEX vmovdqu (%rsi),%ymm0 */
	static const uint8_t movabs[] = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8};
	assert_true(gm_x86_decode(movabs, sizeof(movabs), &in) && in.len == 10);
	static const uint8_t vex[] = {0xc5, 0xfe, 0x6f, 0x06};
	assert_true(gm_x86_decode(vex, sizeof(vex), &in) && in.vex && in.len == 4);
	/* Cut short, or not an instruction in 64-bit mode: refused, never read past n. */
	assert_false(gm_x86_decode(lea, 6, &in));
	static const uint8_t bad[] = {0x06};
	assert_false(gm_x86_decode(bad, sizeof(bad), &in));
	static const uint8_t prefixes[16] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90};
	assert_false(gm_x86_decode(prefixes, sizeof(prefixes), &in));
}

/* ---- the code patterns against DWARF ---- */

static void check_globals(const char *path)
{
	struct gm_exe exe;
	struct gm_dwarf *d;
	assert_gomem_ok(gm_exe_open(path, &exe));
	assert_gomem_ok(gm_dwarf_open(path, &d));
	struct gm_pclntab *p = open_pclntab(&exe);
	struct gm_strbuf report = {0};
	size_t wrong = 99, missing = 99;
	assert_gomem_ok(gm_dwarf_check_globals(d, &exe, p, &report, &wrong, &missing));
	if (wrong || missing)
		print_error("%s: %zu wrong, %zu not found:\n%s", path, wrong, missing, report.s);
	gm_strbuf_deinit(&report);
	gm_pclntab_destroy(p);
	gm_dwarf_destroy(d);
	gm_exe_deinit(&exe);
	assert_int_equal(wrong, 0);
	assert_int_equal(missing, 0);
}

/* Every global the rules look for, in every fixture program: found, and where DWARF says. */
static void test_globals_from_code_equal_dwarf_in_every_fixture(void **state)
{
	(void)state;
	char *paths[256];
	size_t n = fixture_exes(paths, GM_ARRAY_SIZE(paths));
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		check_globals(paths[i]);
		free(paths[i]);
	}
}

/* ---- layout tables ---- */

/* The answers of an exe with DWARF, recorded as a table section. */
static char *record_table(const char *path, struct gm_dwarf *d, const struct gm_exe *exe)
{
	struct gm_pclntab *p = open_pclntab(exe);
	assert_gomem_ok(gm_dwarf_record_start(d));
	struct gm_runtime *rt = calloc(1, sizeof(*rt));
	assert_non_null(rt);
	rt->dw = d;
	rt->arch = exe->arch; /* the layouts' per-GOARCH fallbacks */
	snprintf(rt->go_version, sizeof(rt->go_version), "%s", exe->go_version);
	assert_gomem_ok(gm_runtime_resolve_every_layout(rt));
	struct gm_strbuf report = {0};
	size_t wrong, missing;
	assert_gomem_ok(gm_dwarf_check_globals(d, exe, p, &report, &wrong, &missing));
	gm_strbuf_deinit(&report);
	char *body = gm_dwarf_record_text(d);
	assert_non_null(body);
	char config[256], *text = NULL;
	gm_exe_config(exe, config, sizeof(config));
	assert_true(asprintf(&text, "# %s\n[%s] from %s\n%s", path, config, exe->go_version, body) >
		    0);
	free(body);
	gm_runtime_destroy(rt);
	gm_pclntab_destroy(p);
	return text;
}

/*
 * Replaying a recording asks the same questions and gets the same answers,
 * every one (the record of the replay is the recording), and the globals
 * found in code are DWARF's.
 */
static void test_replayed_table_answers_every_question_as_dwarf_did(void **state)
{
	(void)state;
	struct gm_exe exe;
	struct gm_dwarf *d, *r;
	assert_gomem_ok(gm_exe_open(test_exe(), &exe));
	assert_gomem_ok(gm_dwarf_open(test_exe(), &d));
	char *text = record_table(test_exe(), d, &exe);
	struct gm_pclntab *p = open_pclntab(&exe);
	assert_gomem_ok(gm_dwarf_open_replay(&exe, p, text, &r));
	assert_int_equal(gm_dwarf_source(r), GM_DWARF_TABLE);
	assert_false(gm_dwarf_is_program(r));
	assert_non_null(strstr(gm_dwarf_description(r), "no DWARF"));
	char *again = record_table(test_exe(), r, &exe);
	assert_string_equal(again, text);
	static const char *const vars[] = {"runtime.mheap_", "runtime.memstats", "runtime.allgs",
					   "runtime.allm",   "runtime.sched",	 "runtime.work"};
	for (size_t i = 0; i < GM_ARRAY_SIZE(vars); i++) {
		uint64_t want, got;
		assert_gomem_ok(gm_dwarf_variable(d, vars[i], &want));
		assert_gomem_ok(gm_dwarf_variable(r, vars[i], &got));
		assert_int_equal(got, want);
	}
	/* A question the table does not hold is an error that says to regenerate it. */
	struct gm_field f;
	assert_gomem_error(gm_dwarf_field(r, "runtime.mheap", "no_such_member", &f),
			   GOMEM_ERROR_UNSUPPORTED, "tools/layouts/generate.sh");
	assert_false(gm_dwarf_has_type(r, "runtime.noSuchType"));
	free(again);
	free(text);
	gm_dwarf_destroy(r);
	gm_pclntab_destroy(p);
	gm_dwarf_destroy(d);
	gm_exe_deinit(&exe);
}

/*
 * gomem's own table for each fixture's configuration gives the answers
 * that program's DWARF gives (a table is made from an empty program, and
 * patch releases may differ from the fixture's).
 */
static void test_compiled_in_tables_answer_as_each_fixture_dwarf(void **state)
{
	(void)state;
	char *paths[256];
	size_t n = fixture_exes(paths, GM_ARRAY_SIZE(paths)), checked = 0;
	for (size_t i = 0; i < n; i++) {
		struct gm_exe exe;
		struct gm_dwarf *d, *r;
		assert_gomem_ok(gm_exe_open(paths[i], &exe));
		assert_gomem_ok(gm_dwarf_open(paths[i], &d));
		char *text = record_table(paths[i], d, &exe);
		struct gm_pclntab *p = open_pclntab(&exe);
		struct gomem_error *err = gm_dwarf_open_replay(&exe, p, gm_layout_tables_text, &r);
		if (err) {
			print_error("%s: %s\n", paths[i], gomem_error_message(err));
			fail();
		}
		char *again = record_table(paths[i], r, &exe);
		/* The first lines name the file; the answers must be the same. */
		if (strcmp(strchr(again, '\n'), strchr(text, '\n')) != 0) {
			print_error("%s: gomem's table differs from its DWARF\n", paths[i]);
			fail();
		}
		checked++;
		free(again);
		free(text);
		gm_dwarf_destroy(r);
		gm_pclntab_destroy(p);
		gm_dwarf_destroy(d);
		gm_exe_deinit(&exe);
		free(paths[i]);
	}
	assert_true(checked > 0);
}

static void test_table_sections_aliases_and_errors(void **state)
{
	(void)state;
	static const char text[] = "# a comment\n"
				   "[go9.1 amd64] from go9.1.3\n"
				   "S runtime.mspan = 168\n"
				   "F runtime.mspan npages = 24 8 0 0\n"
				   "[go9.1 amd64 X:arenas] = [go9.1 amd64]\n"
				   "[go9.1 amd64 race] = [go9.1 amd64 race]\n"
				   "[go9.2 amd64] from go9.2.0\n"
				   "bad line\n";
	struct gm_layout_table *t = NULL;
	bool found = false;
	assert_gomem_ok(gm_layout_table_load(text, "go9.1 amd64 X:arenas", &t, &found));
	assert_true(found);
	assert_string_equal(gm_layout_table_from(t), "go9.1.3");
	assert_string_equal(gm_layout_table_get(t, "S runtime.mspan"), "168");
	assert_string_equal(gm_layout_table_get(t, "F runtime.mspan npages"), "24 8 0 0");
	assert_null(gm_layout_table_get(t, "S runtime.mheap"));
	gm_layout_table_destroy(t);
	assert_gomem_ok(gm_layout_table_load(text, "go9.1 amd64 X:staticlockranking", &t, &found));
	assert_false(found);
	assert_gomem_error(gm_layout_table_load(text, "go9.1 amd64 race", &t, &found),
			   GOMEM_ERROR_FORMAT, "alias");
	assert_gomem_error(gm_layout_table_load(text, "go9.2 amd64", &t, &found),
			   GOMEM_ERROR_FORMAT, "bad line");
	char *configs = gm_layout_table_configs(text);
	assert_string_equal(configs, "go9.1 amd64\ngo9.1 amd64 X:arenas\ngo9.1 amd64 race\n"
				     "go9.2 amd64\n");
	free(configs);
}

static void test_record_is_sorted_and_unique(void **state)
{
	(void)state;
	struct gm_layout_record *r = gm_layout_record_create();
	assert_non_null(r);
	gm_layout_record_add(r, "T runtime.b", "1");
	gm_layout_record_add(r, "C runtime.a", "13");
	gm_layout_record_add(r, "T runtime.b", "1");
	char *text = gm_layout_record_text(r);
	assert_string_equal(text, "C runtime.a = 13\nT runtime.b = 1\n");
	free(text);
	gm_layout_record_destroy(r);
}

/* ---- the debug file ---- */

static void run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static void check_debug_file(const char *exe_path, const char *debug, enum gomem_error_code code,
			     const char *needle)
{
	struct gm_exe exe;
	struct gm_debug_file df;
	assert_gomem_ok(gm_exe_open(exe_path, &exe));
	struct gomem_error *err = gm_debug_file_open(&exe, debug, &df);
	if (!code) {
		assert_gomem_ok(err);
		gm_debug_file_deinit(&df);
	} else {
		assert_gomem_error(err, code, needle);
	}
	gm_exe_deinit(&exe);
}

static void test_debug_file_is_checked_against_the_executable(void **state)
{
	(void)state;
	char dir[1024], stripped[1100], keep[1100], patched[1100], other[1100];
	assert_int_equal(unit_make_tmpdir(dir, sizeof(dir), "gomem-debugfile"), 0);
	snprintf(stripped, sizeof(stripped), "%s/stripped", dir);
	snprintf(keep, sizeof(keep), "%s/exe.debug", dir);
	snprintf(patched, sizeof(patched), "%s/patched", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	run("objcopy --strip-all '%s' '%s'", test_exe(), stripped);
	run("objcopy --only-keep-debug '%s' '%s'", test_exe(), keep);
	/* The executable itself, before strip: matches; so does its --only-keep-debug file. */
	check_debug_file(stripped, test_exe(), 0, NULL);
	check_debug_file(stripped, keep, 0, NULL);
	check_debug_file(test_exe(), test_exe(), 0, NULL);
	/* One byte of code changed: .text differs. */
	struct gm_exe exe;
	assert_gomem_ok(gm_exe_open(test_exe(), &exe));
	uint64_t text_off = exe.loads[0].offset + (exe.e_entry - exe.loads[0].vaddr);
	gm_exe_deinit(&exe);
	run("cp '%s' '%s' && printf '\\314' | dd of='%s' bs=1 seek=%llu conv=notrunc status=none",
	    test_exe(), patched, patched, (unsigned long long)text_off);
	check_debug_file(stripped, patched, GOMEM_ERROR_MISMATCH, ".text differs");
	/* A program whose sections are elsewhere: named, with what a debug file must be. */
	run("cp '%s' '%s' && objcopy --change-section-address .noptrdata+16 '%s' 2>/dev/null",
	    test_exe(), other, other);
	check_debug_file(stripped, other, GOMEM_ERROR_MISMATCH, "section .noptrdata");
	check_debug_file(stripped, other, GOMEM_ERROR_MISMATCH, "-trimpath");
	/* Not an ELF file; no file. */
	run("printf 'hello, this is not ELF at all; not at all, not at all.' > '%s'", patched);
	check_debug_file(stripped, patched, GOMEM_ERROR_FORMAT, "ELF file");
	check_debug_file(stripped, "/nonexistent/gomem-debug", GOMEM_ERROR_IO, "/nonexistent");
	unit_remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_x86_lengths_equal_objdump_over_the_whole_text),
	    cmocka_unit_test(test_x86_operands_of_the_instructions_the_rules_read),
	    cmocka_unit_test(test_globals_from_code_equal_dwarf_in_every_fixture),
	    cmocka_unit_test(test_replayed_table_answers_every_question_as_dwarf_did),
	    cmocka_unit_test(test_compiled_in_tables_answer_as_each_fixture_dwarf),
	    cmocka_unit_test(test_table_sections_aliases_and_errors),
	    cmocka_unit_test(test_record_is_sorted_and_unique),
	    cmocka_unit_test(test_debug_file_is_checked_against_the_executable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
