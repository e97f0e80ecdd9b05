/* gomem: where a Go program's memory went, from the shell. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gomem.h"

enum { EXIT_OK = 0, EXIT_PARTIAL = 1, EXIT_ERROR = 2 };

static const char usage[] =
    "usage: gomem VERB [OPTIONS] EXE CORE\n"
    "\n"
    "Explains where a Go program's memory went, from an ELF core file and the\n"
    "executable that produced it (linux/amd64, Go 1.19 to 1.27).\n"
    "\n"
    "verbs:\n"
    "  summary    reserved versus used: the breakdown tree, MemStats as the\n"
    "             runtime sees them, and the checks between the two views\n"
    "\n"
    "options:\n"
    "  --json     print JSON (schema gomem/summary/v1) instead of text\n"
    "  -h, --help print this help\n"
    "  --version  print the version\n"
    "\n"
    "exit status: 0 success, 1 partial result (see the warnings), 2 error\n";

static int fail(const char *msg)
{
	fprintf(stderr, "gomem: %s\n", msg);
	return EXIT_ERROR;
}

static int run_summary(int argc, char **argv)
{
	enum gomem_format format = GOMEM_FORMAT_TEXT;
	const char *paths[2];
	int npaths = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			format = GOMEM_FORMAT_JSON;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--pid") == 0 || strncmp(a, "--pid=", 6) == 0) {
			return fail("--pid: live processes are not supported yet; take a core with "
				    "gcore PID and pass EXE CORE");
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "gomem: summary: unknown option %s (see gomem --help)\n",
				a);
			return EXIT_ERROR;
		} else if (npaths < 2) {
			paths[npaths++] = a;
		} else {
			return fail("summary: too many arguments: expected EXE CORE");
		}
	}
	if (npaths != 2)
		return fail("summary: expected EXE CORE (see gomem --help)");
	struct gomem_target *t = NULL;
	struct gomem_error *err = gomem_target_open_core(paths[0], paths[1], &t);
	if (err) {
		int rc = fail(gomem_error_message(err));
		gomem_error_destroy(err);
		return rc;
	}
	char *out = NULL;
	int partial = 0;
	err = gomem_report(t, "summary", format, &out, &partial);
	gomem_target_destroy(t);
	if (err) {
		int rc = fail(gomem_error_message(err));
		gomem_error_destroy(err);
		return rc;
	}
	fputs(out, stdout);
	gomem_free(out);
	if (fflush(stdout) != 0)
		return fail("cannot write the output");
	return partial ? EXIT_PARTIAL : EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fail("no verb given (see gomem --help)");
	const char *verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0) {
		printf("gomem %s\n", gomem_version());
		return EXIT_OK;
	}
	if (strcmp(verb, "summary") == 0)
		return run_summary(argc - 2, argv + 2);
	fprintf(stderr, "gomem: unknown verb \"%s\" (this version has: summary)\n", verb);
	return EXIT_ERROR;
}
