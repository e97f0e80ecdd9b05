/* gomem: where a Go program's memory went, from the shell. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "gomem.h"

enum { EXIT_OK = 0, EXIT_PARTIAL = 1, EXIT_ERROR = 2 };

static const char usage_head[] =
    "usage: gomem VERB [OPTIONS] EXE CORE [OPERANDS]\n"
    "\n"
    "Explains where a Go program's memory went, from an ELF core file and the\n"
    "executable that produced it (linux/amd64, Go 1.19 to 1.27).\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "options of every verb:\n"
    "  --json       print JSON instead of text\n"
    "  -h, --help   print help (gomem VERB --help: the verb's own)\n"
    "  --version    print the version\n"
    "\n"
    "exit status: 0 success, 1 partial result (see the warnings), 2 error\n";

static int fail(const char *msg)
{
	fprintf(stderr, "gomem: %s\n", msg);
	return EXIT_ERROR;
}

static int fail_error(struct gomem_error *err)
{
	int rc = fail(gomem_error_message(err));
	gomem_error_destroy(err);
	return rc;
}

/* Help comes from the library's verb table, so the CLI and GDB say the same. */
static void print_usage(const char *only_verb)
{
	char *text = gomem_help(only_verb);
	if (!only_verb)
		fputs(usage_head, stdout);
	if (text)
		fputs(text, stdout);
	if (!only_verb)
		fputs(usage_tail, stdout);
	else
		fputs("\ntarget: EXE CORE (the executable, then its core file)\n", stdout);
	gomem_free(text);
}

static int run_verb(const char *verb, int argc, char **argv)
{
	const char *paths[2];
	int npaths = 0;
	const char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0;
	if (!rest)
		return fail("out of memory");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_usage(verb);
			free(rest);
			return EXIT_OK;
		}
		if (strcmp(a, "--pid") == 0 || strncmp(a, "--pid=", 6) == 0) {
			free(rest);
			return fail("--pid: live processes are not supported yet; take a core with "
				    "gcore PID and pass EXE CORE");
		}
		if (a[0] == '-' && a[1] != '\0') {
			rest[nrest++] = a;
			if (!strchr(a, '=') && gomem_option_takes_value(verb, a) && i + 1 < argc)
				rest[nrest++] = argv[++i];
		} else if (npaths < 2) {
			paths[npaths++] = a;
		} else {
			rest[nrest++] = a;
		}
	}
	if (npaths != 2) {
		free(rest);
		fprintf(stderr, "gomem: %s: expected EXE CORE (see gomem %s --help)\n", verb, verb);
		return EXIT_ERROR;
	}
	struct gomem_error *err = gomem_check_args(verb, nrest, rest);
	if (err) {
		free(rest);
		return fail_error(err);
	}
	struct gomem_target *t = NULL;
	err = gomem_target_open_core(paths[0], paths[1], &t);
	if (err) {
		free(rest);
		return fail_error(err);
	}
	char *out = NULL;
	int partial = 0;
	err = gomem_run(t, verb, nrest, rest, &out, &partial);
	gomem_target_destroy(t);
	free(rest);
	if (err)
		return fail_error(err);
	fputs(out, stdout);
	gomem_free(out);
	if (fflush(stdout) != 0)
		return fail("cannot write the output");
	return partial ? EXIT_PARTIAL : EXIT_OK;
}

static bool known_verb(const char *verb)
{
	char *text = gomem_help(verb);
	gomem_free(text);
	return text != NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fail("no verb given (see gomem --help)");
	const char *verb = argv[1];
	if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "help") == 0) {
		print_usage(argc > 2 ? argv[2] : NULL);
		return EXIT_OK;
	}
	if (strcmp(verb, "--version") == 0) {
		printf("gomem %s\n", gomem_version());
		return EXIT_OK;
	}
	if (!known_verb(verb)) {
		fprintf(stderr, "gomem: unknown verb \"%s\" (see gomem --help)\n", verb);
		return EXIT_ERROR;
	}
	return run_verb(verb, argc - 2, argv + 2);
}
