/*
 * Helpers shared by the unit tests. Include after cmocka.h.
 * Everything here is static inline, so a test that uses part of it still
 * compiles without warnings.
 */
#ifndef GOMEM_TESTS_UNIT_H
#define GOMEM_TESTS_UNIT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"

/*
 * Asserts that err is an error of the given code whose message contains
 * needle (when needle is not NULL), then releases it.
 */
#define assert_gomem_error(err, code, needle)                                                      \
	unit_check_error((err), (code), (needle), __FILE__, __LINE__)

static inline void unit_check_error(struct gomem_error *err, enum gomem_error_code code,
				    const char *needle, const char *file, int line)
{
	if (!err) {
		print_error("%s:%d: expected error code %d, got success\n", file, line, (int)code);
		_fail(file, line);
	}
	const char *msg = gomem_error_message(err);
	if (gomem_error_code(err) != code) {
		print_error("%s:%d: expected error code %d, got %d: %s\n", file, line, (int)code,
			    (int)gomem_error_code(err), msg);
		gomem_error_destroy(err);
		_fail(file, line);
	}
	if (needle && !strstr(msg, needle)) {
		print_error("%s:%d: error message \"%s\" does not contain \"%s\"\n", file, line,
			    msg, needle);
		gomem_error_destroy(err);
		_fail(file, line);
	}
	gomem_error_destroy(err);
}

/* Asserts success; on failure prints the error's message. */
#define assert_gomem_ok(err) unit_check_ok((err), __FILE__, __LINE__)

static inline void unit_check_ok(struct gomem_error *err, const char *file, int line)
{
	if (err) {
		print_error("%s:%d: unexpected error %d: %s\n", file, line,
			    (int)gomem_error_code(err), gomem_error_message(err));
		gomem_error_destroy(err);
		_fail(file, line);
	}
}

/* A fresh directory under $TMPDIR (or /tmp); returns 0 on success. */
static inline int unit_make_tmpdir(char *dir, size_t size, const char *prefix)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(dir, size, "%s/%s-XXXXXX", base, prefix) >= (int)size)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and what it holds (files, and empty subdirectories). */
static inline void unit_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			struct stat st;
			if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
				rmdir(path);
			else
				unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Number of open file descriptors of this process. */
static inline int unit_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the one opendir holds */
}

#endif /* GOMEM_TESTS_UNIT_H */
