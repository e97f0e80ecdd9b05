/* The CLI's own commands, beside the library's verbs (main.c dispatches to them). */
#ifndef GOMEM_CLI_H
#define GOMEM_CLI_H

#include <stdbool.h>

/* gomem batch [--jobs N] EXE CORE... | --manifest FILE: returns the exit status. */
int gm_cli_batch(int argc, char **argv);

/*
 * The forms of gomem diff that have no single target: two saved summaries
 * (A.json B.json) or two of them (EXE_A CORE_A EXE_B CORE_B). Returns false
 * for the others (EXE CORE_A OTHER, --pid, --help), which go through the
 * library's verb like any other; else the exit status is in *status.
 */
bool gm_cli_diff(int argc, char **argv, int *status);

/*
 * A target option that takes a file (--debug-file FILE or --debug-file=FILE)
 * at argv[*i]: true when it is name, with *value the file (NULL when
 * missing) and *i moved past it.
 */
bool gm_cli_file_option(const char *name, int argc, char **argv, int *i, const char **value);

/* A file that starts with '{' (after blanks): a saved report, not an ELF file. */

#endif
