/* Errors: one line, naming the thing and the problem. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct gomem_error gm_error_no_memory = {GOMEM_ERROR_NO_MEMORY, (char *)"out of memory"};

__attribute__((weak)) bool gm_fault_injected(const char *site, const char *what)
{
	(void)site;
	(void)what;
	return false;
}

static struct gomem_error *error_vcreate(enum gomem_error_code code, const char *suffix,
					 const char *fmt, va_list ap)
{
	struct gomem_error *err = malloc(sizeof(*err));
	char *msg = NULL;
	if (!err || vasprintf(&msg, fmt, ap) < 0) {
		free(err);
		return &gm_error_no_memory;
	}
	if (suffix) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, suffix) < 0) {
			free(msg);
			free(err);
			return &gm_error_no_memory;
		}
		free(msg);
		msg = full;
	}
	/* One line: a message never carries a newline into the caller's output. */
	for (char *p = msg; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	err->code = code;
	err->message = msg;
	return err;
}

struct gomem_error *gm_error(enum gomem_error_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct gomem_error *err = error_vcreate(code, NULL, fmt, ap);
	va_end(ap);
	return err;
}

struct gomem_error *gm_error_errno(enum gomem_error_code code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct gomem_error *err = error_vcreate(code, strerror(errnum), fmt, ap);
	va_end(ap);
	return err;
}

enum gomem_error_code gomem_error_code(const struct gomem_error *err)
{
	return err ? err->code : 0;
}

const char *gomem_error_message(const struct gomem_error *err)
{
	return err ? err->message : "";
}

void gomem_error_destroy(struct gomem_error *err)
{
	if (!err || err == &gm_error_no_memory)
		return;
	free(err->message);
	free(err);
}
