/* gomem: where a Go program's memory went, from the shell. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gomem.h"

enum { EXIT_OK = 0, EXIT_PARTIAL = 1, EXIT_ERROR = 2 };

static const char usage_head[] =
    "usage: gomem VERB [OPTIONS] EXE CORE [OPERANDS]\n"
    "       gomem VERB [OPTIONS] --pid PID [--no-stop] [EXE] [OPERANDS]\n"
    "       gomem batch [--jobs N] EXE CORE... | --manifest FILE   (gomem batch --help)\n"
    "       gomem diff [--json] EXE CORE_A CORE_B | A.json B.json  (gomem diff --help)\n"
    "\n"
    "Explains where a Go program's memory went, from an ELF core file and the\n"
    "executable that produced it, or from a live process (linux/amd64 and\n"
    "linux/arm64, Go 1.19 to 1.27).\n"
    "\n";

static const char usage_tail[] =
    "\n"
    "options of every verb:\n"
    "  --json       print JSON instead of text\n"
    "  --pid PID    read the live process PID: prepare everything that needs no\n"
    "               memory of it, then stop it (ptrace) only while the verb reads,\n"
    "               and resume it as it was (summary prints the pause); EXE\n"
    "               defaults to /proc/PID/exe\n"
    "  --no-stop    with --pid: read the process while it runs (the view may be\n"
    "               inconsistent, and every report says so; a check that differs\n"
    "               is skew, not FAIL)\n"
    "  --max-snapshot BYTES\n"
    "               with --pid: the verbs that build the object graph (objects,\n"
    "               types, top, summary --objects...) copy the process's memory\n"
    "               while it is stopped and analyse the copy after it goes on;\n"
    "               refuse a copy larger than BYTES (suffix K, M or G for KiB,\n"
    "               MiB, GiB; default: half of the available memory)\n"
    "  --debug-file FILE\n"
    "               for an EXE without DWARF (-ldflags=\"-s -w\", strip): its DWARF\n"
    "               and symbols from FILE, the same program before strip or\n"
    "               rebuilt with -trimpath; checked section by section against EXE\n"
    "  --layout-from REF\n"
    "               for an EXE without DWARF: the runtime's layouts from REF, any\n"
    "               unstripped program built by the same Go and GOEXPERIMENT\n"
    "               (without either, gomem's own tables; README: Stripped binaries)\n"
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
		fputs("\ntarget: EXE CORE (the executable, then its core file), or --pid PID\n"
		      "[--no-stop] [EXE] (a live process; see gomem --help)\n",
		      stdout);
	gomem_free(text);
}

/* --pid PID: a positive decimal number. */
static bool parse_pid(const char *s, int *ret)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v <= 0 || v > INT_MAX)
		return false;
	*ret = (int)v;
	return true;
}

/* --max-snapshot BYTES: a number, with K, M or G (KiB, MiB, GiB) after it. */
static bool parse_bytes(const char *s, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	if (!s || errno || end == s || s[0] == '-')
		return false;
	unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
	if (shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*ret = (uint64_t)v << shift;
	return true;
}

/*
 * With --pid, EXE is optional: the first operand when it names an existing
 * file, one that this user may not reach (then opening it says so), or any
 * path with a slash (no verb operand has one). The other operands go back in
 * front of the verb's arguments.
 */
static bool names_a_file(const char *a)
{
	return access(a, F_OK) == 0 || errno == EACCES || strchr(a, '/') != NULL;
}

static const char *pid_operands(const char **paths, int npaths, const char **rest, int *nrest)
{
	const char *exe = npaths > 0 && names_a_file(paths[0]) ? paths[0] : NULL;
	int skip = exe ? 1 : 0;
	memmove(rest + (npaths - skip), rest, (size_t)*nrest * sizeof(*rest));
	for (int i = skip; i < npaths; i++)
		rest[i - skip] = paths[i];
	*nrest += npaths - skip;
	return exe;
}

/*
 * An option of the target that takes a file (--debug-file FILE,
 * --debug-file=FILE): true when argv[*i] is it; *value is NULL when the
 * file is missing.
 */
bool gm_cli_file_option(const char *name, int argc, char **argv, int *i, const char **value)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
		return false;
	*value = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
	if (*value && !**value)
		*value = NULL;
	return true;
}

static int run_verb(const char *verb, int argc, char **argv)
{
	const char *paths[2];
	int npaths = 0, pid = 0;
	bool no_stop = false;
	uint64_t max_snapshot = 0;
	const char *debug_file = NULL, *layout_from = NULL;
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
			const char *v = a[5] == '=' ? a + 6 : i + 1 < argc ? argv[++i] : NULL;
			if (!parse_pid(v, &pid)) {
				free(rest);
				return fail("--pid wants a process id (a positive number)");
			}
			continue;
		}
		if (strcmp(a, "--no-stop") == 0) {
			no_stop = true;
			continue;
		}
		if (strcmp(a, "--max-snapshot") == 0 || strncmp(a, "--max-snapshot=", 15) == 0) {
			const char *v = a[14] == '=' ? a + 15 : i + 1 < argc ? argv[++i] : NULL;
			if (!parse_bytes(v, &max_snapshot) || !max_snapshot) {
				free(rest);
				return fail("--max-snapshot wants a number of bytes (K, M or G "
					    "after it for KiB, MiB, GiB)");
			}
			continue;
		}
		if (gm_cli_file_option("--debug-file", argc, argv, &i, &debug_file) ||
		    gm_cli_file_option("--layout-from", argc, argv, &i, &layout_from)) {
			if (!debug_file && !layout_from) {
				free(rest);
				return fail("--debug-file and --layout-from want a file");
			}
			continue;
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
	if (no_stop && !pid) {
		free(rest);
		return fail("--no-stop goes with --pid PID");
	}
	if (max_snapshot && !pid) {
		free(rest);
		return fail("--max-snapshot goes with --pid PID");
	}
	if (npaths != 2 && !pid) {
		free(rest);
		fprintf(stderr, "gomem: %s: expected EXE CORE (see gomem %s --help)\n", verb, verb);
		return EXIT_ERROR;
	}
	const char *exe = pid ? pid_operands(paths, npaths, rest, &nrest) : NULL;
	struct gomem_error *err = gomem_check_args(verb, nrest, rest);
	if (err) {
		free(rest);
		return fail_error(err);
	}
	struct gomem_target *t = NULL;
	if (pid)
		err = gomem_target_open_pid_with(pid, exe, no_stop ? 0 : GOMEM_PID_STOP, debug_file,
						 layout_from, &t);
	else
		err = gomem_target_open_core_with(paths[0], paths[1], debug_file, layout_from, &t);
	if (err) {
		free(rest);
		return fail_error(err);
	}
	if (max_snapshot)
		gomem_target_set_max_snapshot(t, max_snapshot);
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
	/* The CLI's own forms: many cores at once, and diffs without one target. */
	if (strcmp(verb, "batch") == 0)
		return gm_cli_batch(argc - 2, argv + 2);
	int status;
	if (strcmp(verb, "diff") == 0 && gm_cli_diff(argc - 2, argv + 2, &status))
		return status;
	if (!known_verb(verb)) {
		fprintf(stderr, "gomem: unknown verb \"%s\" (see gomem --help)\n", verb);
		return EXIT_ERROR;
	}
	return run_verb(verb, argc - 2, argv + 2);
}
