/*
 * gomem-layout-record [--globals] EXE
 * gomem-layout-record --globals EXE CODE
 *
 * Records every answer gomem's resolver gets from EXE's DWARF (EXE must
 * have DWARF: an empty program built by one Go release and configuration)
 * and prints them as a section of a layout table (libcore/src/dwarf/tables.h):
 *
 *   [go1.26 amd64 X:nogreenteagc] from go1.26.11
 *   F runtime.mheap pages = 16 ...
 *
 * The questions are the ones gomem asks: every layout of the runtime
 * layer (gm_runtime_resolve_every_layout) and the offsets the code patterns
 * of dwarf/globals.c need, which run too and are checked against the
 * DWARF. With --globals, their report (one line per global: ok, WRONG, not
 * found) goes to stdout instead of the table. With CODE (a program without
 * DWARF: EXE stripped, or its stripped twin), the rules read CODE's code with
 * EXE's layouts, and what they find is checked against EXE's DWARF: the
 * addresses a stripped binary gets, against its twin's.
 *
 * Exit status: 0; 1 when a global was found at a wrong address; 2 on bad
 * usage or an unreadable EXE.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf/dwarf.h"
#include "runtime/runtime.h"
#include "target/pclntab.h"

static int fail(struct gomem_error *err)
{
	fprintf(stderr, "gomem-layout-record: %s\n", gomem_error_message(err));
	gomem_error_destroy(err);
	return 2;
}

/* The function table, with its text start from moduledata when the header lacks it. */
static struct gomem_error *open_pclntab(const struct gm_exe *exe, struct gm_pclntab **ret)
{
	struct gm_pclntab *p;
	TRY(gm_pclntab_open(exe->map, exe->size, &p));
	if (!gm_pclntab_has_text(p)) {
		uint64_t md, text;
		struct gomem_error *err = gm_pclntab_find_moduledata(p, &md);
		if (!err)
			err = gm_pclntab_moduledata_text(p, md, &text);
		if (!err)
			err = gm_pclntab_set_text(p, text);
		if (err) {
			gm_pclntab_destroy(p);
			return err;
		}
	}
	*ret = p;
	return NULL;
}

int main(int argc, char **argv)
{
	bool globals = argc >= 3 && strcmp(argv[1], "--globals") == 0;
	if (argc != 2 + globals && !(globals && argc == 4)) {
		fprintf(stderr, "usage: gomem-layout-record [--globals] EXE\n"
				"       gomem-layout-record --globals EXE CODE\n");
		return 2;
	}
	const char *path = argv[1 + globals];
	const char *code_path = argc == 4 ? argv[3] : NULL;
	struct gm_exe exe, code_exe;
	bool have_code = false;
	struct gm_dwarf *d = NULL;
	struct gm_pclntab *p = NULL;
	struct gomem_error *err = gm_exe_open(path, &exe);
	if (err)
		return fail(err);
	err = gm_dwarf_open(path, &d);
	if (!err)
		err = gm_dwarf_record_start(d);
	struct gm_runtime *rt = calloc(1, sizeof(*rt));
	if (!err && !rt)
		err = &gm_error_no_memory;
	if (!err) {
		rt->dw = d;
		rt->arch = exe.arch; /* the layouts' per-GOARCH fallbacks */
		snprintf(rt->go_version, sizeof(rt->go_version), "%s", exe.go_version);
		err = gm_runtime_resolve_every_layout(rt);
	}
	struct gm_strbuf report = {0};
	size_t wrong = 0, missing = 0;
	if (!err && code_path) {
		err = gm_exe_open(code_path, &code_exe);
		have_code = !err;
	}
	const struct gm_exe *code = have_code ? &code_exe : &exe;
	if (!err)
		err = open_pclntab(code, &p);
	if (!err)
		err = gm_dwarf_check_globals(d, code, p, &report, &wrong, &missing);
	char *text = err ? NULL : gm_dwarf_record_text(d);
	if (!err && !text)
		err = &gm_error_no_memory;
	if (err) {
		gm_strbuf_deinit(&report);
		if (have_code)
			gm_exe_deinit(&code_exe);
		return fail(err);
	}
	char config[256];
	gm_exe_config(&exe, config, sizeof(config));
	if (globals) {
		printf("%s%s%s (%s): %zu wrong, %zu not found\n%s", code_path ? code_path : "",
		       code_path ? ", checked against " : "", path, config, wrong, missing,
		       report.s ? report.s : "");
	} else {
		printf("[%s] from %s\n%s", config, exe.go_version, text);
		if (wrong)
			fprintf(stderr,
				"gomem-layout-record: %s: %zu globals found at a wrong "
				"address:\n%s",
				path, wrong, report.s);
	}
	free(text);
	gm_strbuf_deinit(&report);
	gm_pclntab_destroy(p);
	gm_runtime_destroy(rt);
	gm_dwarf_destroy(d);
	gm_exe_deinit(&exe);
	if (have_code)
		gm_exe_deinit(&code_exe);
	return wrong ? 1 : 0;
}
