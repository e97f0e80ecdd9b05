/*
 * gomem diff from the shell, beside the verb's own form (EXE CORE_A OTHER):
 *
 *   gomem diff [--json] A.json B.json               two saved summaries
 *   gomem diff [--json] EXE_A CORE_A EXE_B CORE_B   two cores of two executables
 *
 * Both compare two gomem/summary/v1 reports with gomem_diff_summaries().
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gomem.h"

enum { DIFF_OK = 0, DIFF_PARTIAL = 1, DIFF_ERROR = 2 };

static int fail(const char *fmt, const char *arg)
{
	fputs("gomem: diff: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return DIFF_ERROR;
}

static int fail_error(struct gomem_error *err)
{
	fprintf(stderr, "gomem: %s\n", gomem_error_message(err));
	gomem_error_destroy(err);
	return DIFF_ERROR;
}

/* The summary of EXE CORE, as JSON. */
static struct gomem_error *summary_of(const char *exe, const char *core, char **ret, int *partial)
{
	struct gomem_target *t = NULL;
	struct gomem_error *err = gomem_target_open_core(exe, core, &t);
	const char *const argv[] = {"--json"};
	if (!err)
		err = gomem_run(t, "summary", 1, argv, ret, partial);
	gomem_target_destroy(t);
	return err;
}

static int print_out(struct gomem_error *err, char *out, int status)
{
	if (err)
		return fail_error(err);
	fputs(out, stdout);
	gomem_free(out);
	if (fflush(stdout) != 0)
		return fail("%s", "cannot write the output");
	return status;
}

static int diff_files(const char *path_a, const char *path_b, bool json)
{
	char *out = NULL;
	struct gomem_error *err = gomem_diff_summary_files(path_a, path_b, json, &out);
	return print_out(err, out, DIFF_OK);
}

static int diff_cores(char **paths, bool json)
{
	char *a = NULL, *b = NULL;
	int pa = 0, pb = 0;
	struct gomem_error *err = summary_of(paths[0], paths[1], &a, &pa);
	if (!err)
		err = summary_of(paths[2], paths[3], &b, &pb);
	char *out = NULL;
	if (!err)
		err = gomem_diff_summaries(a, b, json, &out);
	int rc = print_out(err, out, pa || pb ? DIFF_PARTIAL : DIFF_OK);
	gomem_free(a);
	gomem_free(b);
	return rc;
}

bool gm_cli_diff(int argc, char **argv, int *status)
{
	char *paths[4];
	int npaths = 0;
	bool json = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			return false; /* --help, --pid, or a mistake the verb's parser names */
		} else if (npaths < 4) {
			paths[npaths++] = argv[i];
		} else {
			return false;
		}
	}
	if (npaths == 4) {
		*status = diff_cores(paths, json);
		return true;
	}
	if (npaths != 2)
		return false;
	if (!gomem_is_summary_file(paths[0]) || !gomem_is_summary_file(paths[1])) {
		*status =
		    fail("%s", "expected EXE CORE_A CORE_B, EXE_A CORE_A EXE_B CORE_B, or two "
			       "saved summaries A.json B.json (see gomem diff --help)");
		return true;
	}
	*status = diff_files(paths[0], paths[1], json);
	return true;
}
