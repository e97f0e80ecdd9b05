/*
 * gomem batch: the summary of many cores, one JSON object a line, in the
 * order they were given. Each core is read by a child process of its own, so
 * a core that makes gomem fail, or crash, costs its own line only:
 *
 *   {"core": PATH, "exe": PATH, "error": "why"}
 *
 * and the batch goes on. --jobs N runs N children at a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "gomem.h"

#define MAX_JOBS	 256
#define MAX_CORES	 (1u << 20)
#define MAX_RESULT_BYTES (64u << 20) /* a summary line is tens of KiB */

static const char batch_usage[] =
    "usage: gomem batch [--jobs N] EXE CORE...\n"
    "       gomem batch [--jobs N] --manifest FILE\n"
    "\n"
    "Prints the summary of each core (gomem summary --json, on one line; its\n"
    "target.core is the core's path as given), one line per core in the order\n"
    "given. A core that cannot be read gives {\"core\": ..., \"exe\": ...,\n"
    "\"error\": ...} and the batch goes on. Each core is read in a process of its\n"
    "own, so a crash reading one is that core's error line.\n"
    "\n"
    "options:\n"
    "  --jobs N           read N cores at a time (default 1)\n"
    "  --debug-file FILE  for an EXE without DWARF: its DWARF from FILE (every core)\n"
    "  --layout-from REF  for an EXE without DWARF: layouts from REF (every core)\n"
    "  --manifest FILE    read the cores from FILE, one \"EXE CORE\" a line (split\n"
    "                     at a tab if the line has one, else at blanks; blank lines\n"
    "                     and lines starting with # are skipped; - is stdin)\n"
    "\n"
    "Progress goes to stderr when it is a terminal.\n"
    "exit status: 0 every core read, 1 some core failed or gave a partial result,\n"
    "2 bad usage or an unreadable manifest\n";

enum { BATCH_OK = 0, BATCH_SOME_FAILED = 1, BATCH_USAGE = 2 };

struct job {
	const char *exe, *core;
	const char *debug_file, *layout_from;
};

struct jobs {
	const char *debug_file, *layout_from; /* for every core: --debug-file, --layout-from */
	struct job *v;
	size_t n, cap;
	char **owned; /* manifest lines, freed at the end */
	size_t nowned;
};

/* A child at work: its process and the pipe its line comes through. */
struct slot {
	pid_t pid;
	int fd;
	size_t job;
	char *buf;
	size_t len, cap;
	bool too_long;
};

struct result {
	char *line; /* one JSON object and '\n' */
	bool done, failed, partial;
};

struct batch {
	struct jobs jobs;
	unsigned njobs_at_once;
	struct slot *slots;
	struct result *results;
	size_t started, finished, printed, failed;
	bool progress, shown;
	size_t last[3]; /* what the progress line shows */
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("gomem: batch: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see gomem batch --help)\n", stderr);
	return BATCH_USAGE;
}

static bool add_job(struct jobs *j, const char *exe, const char *core)
{
	if (j->n == MAX_CORES)
		return false;
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 64;
		struct job *v = reallocarray(j->v, cap, sizeof(*v));
		if (!v)
			return false;
		j->v = v;
		j->cap = cap;
	}
	j->v[j->n++] = (struct job){exe, core, j->debug_file, j->layout_from};
	return true;
}

/* ---- JSON lines ---- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* {"core": ..., "exe": ..., "error": ...} and a newline, malloc'd. */
static char *error_line(const struct job *j, const char *msg)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f)
		return NULL;
	fputs("{\"core\": ", f);
	json_string(f, j->core);
	fputs(", \"exe\": ", f);
	json_string(f, j->exe);
	fputs(", \"error\": ", f);
	json_string(f, msg);
	fputs("}\n", f);
	if (fclose(f) != 0) {
		free(line);
		return NULL;
	}
	return line;
}

/*
 * The report on one line: JSON strings hold no raw newline (the library
 * escapes control characters), so every newline is layout, and so are the
 * blanks that indent the next line.
 */
static void one_line(char *s)
{
	char *o = s;
	for (const char *p = s; *p;) {
		if (*p == '\n') {
			p++;
			while (*p == ' ')
				p++;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
}

static bool write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* In the child: read one core, write its line, exit 0 (ok), 1 (partial) or 2 (error). */
static void child_main(const struct job *j, int fd) __attribute__((noreturn));

static void child_main(const struct job *j, int fd)
{
	struct gomem_target *t = NULL;
	char *out = NULL, *line = NULL;
	int partial = 0;
	const char *const argv[] = {"--json"};
	struct gomem_error *err =
	    gomem_target_open_core_with(j->exe, j->core, j->debug_file, j->layout_from, &t);
	if (!err)
		err = gomem_run(t, "summary", 1, argv, &out, &partial);
	if (err) {
		line = error_line(j, gomem_error_message(err));
	} else {
		one_line(out);
		if (asprintf(&line, "%s\n", out) < 0)
			line = NULL;
	}
	bool ok = line && write_all(fd, line, strlen(line));
	_exit(!ok || err ? 2 : partial ? 1 : 0);
}

/* ---- the parent ---- */

/* The progress line, redrawn when it changes. */
static void show_progress(struct batch *b)
{
	size_t now[3] = {b->finished, b->failed, b->started - b->finished};
	if (!b->progress || (b->shown && memcmp(now, b->last, sizeof(now)) == 0))
		return;
	memcpy(b->last, now, sizeof(now));
	b->shown = true;
	fprintf(stderr, "\rgomem batch: %zu of %zu cores read, %zu failed, %zu running\033[K",
		b->finished, b->jobs.n, b->failed, b->started - b->finished);
	fflush(stderr);
}

static void clear_progress(struct batch *b)
{
	if (b->progress && b->shown)
		fputs("\r\033[K", stderr);
	b->shown = false;
}

static void finish_job(struct batch *b, size_t job, char *line, bool failed, bool partial)
{
	struct result *r = &b->results[job];
	r->line = line; /* NULL: out of memory even for the error line */
	r->done = true;
	r->failed = failed || !line;
	r->partial = partial;
	b->finished++;
	b->failed += r->failed;
}

static void start_job(struct batch *b, struct slot *s, size_t job)
{
	int p[2];
	memset(s, 0, sizeof(*s));
	s->job = job;
	if (pipe2(p, O_CLOEXEC) < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "cannot start a process to read it: pipe: %s",
			 strerror(errno));
		finish_job(b, job, error_line(&b->jobs.v[job], msg), true, false);
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (unsigned i = 0; i < b->njobs_at_once; i++) {
			if (b->slots[i].pid > 0)
				close(b->slots[i].fd);
		}
		child_main(&b->jobs.v[job], p[1]);
	}
	close(p[1]);
	if (pid < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "cannot start a process to read it: fork: %s",
			 strerror(errno));
		close(p[0]);
		finish_job(b, job, error_line(&b->jobs.v[job], msg), true, false);
		return;
	}
	s->pid = pid;
	s->fd = p[0];
	b->started++;
}

/* Reads what the child wrote; at end of file, reaps it and records its line. */
static void read_slot(struct batch *b, struct slot *s)
{
	char chunk[65536];
	ssize_t n = read(s->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		if (s->too_long || s->len + (size_t)n > MAX_RESULT_BYTES) {
			s->too_long = true;
			return;
		}
		if (s->len + (size_t)n + 1 > s->cap) {
			size_t cap = s->cap ? s->cap : 65536;
			while (cap < s->len + (size_t)n + 1)
				cap *= 2;
			char *v = realloc(s->buf, cap);
			if (!v) {
				s->too_long = true;
				return;
			}
			s->buf = v;
			s->cap = cap;
		}
		memcpy(s->buf + s->len, chunk, (size_t)n);
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
		return;
	}
	close(s->fd);
	int status = 0;
	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	const struct job *j = &b->jobs.v[s->job];
	bool whole = s->buf && !s->too_long && s->len > 1 && s->buf[s->len - 1] == '\n' &&
		     memchr(s->buf, '\n', s->len) == s->buf + s->len - 1;
	char msg[256];
	if (WIFSIGNALED(status)) {
		snprintf(msg, sizeof(msg),
			 "gomem crashed reading this core: killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (s->too_long) {
		snprintf(msg, sizeof(msg), "the result is larger than %u bytes",
			 (unsigned)MAX_RESULT_BYTES);
	} else if (!whole) {
		snprintf(msg, sizeof(msg), "gomem exited with status %d without a result",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else {
		int code = WEXITSTATUS(status);
		finish_job(b, s->job, s->buf, code == 2, code == 1);
		s->buf = NULL;
		return;
	}
	free(s->buf);
	s->buf = NULL;
	finish_job(b, s->job, error_line(j, msg), true, false);
}

static void print_ready(struct batch *b)
{
	bool cleared = false;
	while (b->printed < b->jobs.n && b->results[b->printed].done) {
		if (!cleared)
			clear_progress(b);
		cleared = true;
		struct result *r = &b->results[b->printed];
		const struct job *j = &b->jobs.v[b->printed++];
		if (r->line) {
			fputs(r->line, stdout);
		} else {
			fputs("{\"core\": ", stdout);
			json_string(stdout, j->core);
			fputs(", \"exe\": ", stdout);
			json_string(stdout, j->exe);
			fputs(", \"error\": \"out of memory\"}\n", stdout);
		}
		free(r->line);
		r->line = NULL;
	}
	if (cleared)
		fflush(stdout);
}

static int run_batch(struct batch *b)
{
	b->slots = calloc(b->njobs_at_once, sizeof(*b->slots));
	b->results = calloc(b->jobs.n, sizeof(*b->results));
	struct pollfd *pfd = calloc(b->njobs_at_once, sizeof(*pfd));
	if (!b->slots || !b->results || !pfd) {
		free(pfd);
		fputs("gomem: batch: out of memory\n", stderr);
		return BATCH_USAGE;
	}
	size_t next = 0;
	/* Bounded: every round starts a job or waits for a running one to end. */
	while (b->printed < b->jobs.n) {
		for (unsigned i = 0; i < b->njobs_at_once && next < b->jobs.n; i++) {
			if (b->slots[i].pid <= 0)
				start_job(b, &b->slots[i], next++);
		}
		print_ready(b);
		show_progress(b);
		nfds_t n = 0;
		struct slot *who[MAX_JOBS];
		for (unsigned i = 0; i < b->njobs_at_once; i++) {
			if (b->slots[i].pid > 0) {
				pfd[n] = (struct pollfd){.fd = b->slots[i].fd, .events = POLLIN};
				who[n++] = &b->slots[i];
			}
		}
		if (n == 0)
			continue;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("gomem: batch: poll");
			free(pfd);
			return BATCH_USAGE;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (pfd[i].revents)
				read_slot(b, who[i]);
		}
		print_ready(b);
	}
	clear_progress(b);
	if (b->progress)
		fprintf(stderr, "gomem batch: %zu cores read, %zu failed\n", b->jobs.n, b->failed);
	free(pfd);
	bool partial = false;
	for (size_t i = 0; i < b->jobs.n; i++)
		partial |= b->results[i].partial;
	if (fflush(stdout) != 0) {
		fputs("gomem: batch: cannot write the output\n", stderr);
		return BATCH_USAGE;
	}
	return b->failed || partial ? BATCH_SOME_FAILED : BATCH_OK;
}

/* ---- arguments ---- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* One manifest line: "EXE<tab>CORE", or "EXE CORE" split at blanks. */
static bool split_line(char *line, char **exe, char **core)
{
	char *tab = strchr(line, '\t');
	if (tab) {
		*tab = '\0';
		*exe = trim(line);
		*core = trim(tab + 1);
		return **exe && **core && !strchr(*core, '\t');
	}
	char *save = NULL;
	*exe = strtok_r(line, " ", &save);
	*core = strtok_r(NULL, " ", &save);
	return *exe && *core && !strtok_r(NULL, " ", &save);
}

static int read_manifest(struct jobs *j, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		fprintf(stderr, "gomem: batch: manifest %s: %s\n", path, strerror(errno));
		return BATCH_USAGE;
	}
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int rc = BATCH_OK;
	/* Bounded by the file, and by MAX_CORES jobs. */
	while (rc == BATCH_OK && getline(&line, &cap, f) >= 0) {
		lineno++;
		char *s = trim(line), *exe, *core;
		if (!*s || *s == '#')
			continue;
		char *copy = strdup(s);
		char **owned = reallocarray(j->owned, j->nowned + 1, sizeof(*owned));
		if (!copy || !owned) {
			free(copy);
			fputs("gomem: batch: out of memory\n", stderr);
			rc = BATCH_USAGE;
			break;
		}
		j->owned = owned;
		j->owned[j->nowned++] = copy;
		if (!split_line(copy, &exe, &core)) {
			fprintf(stderr, "gomem: batch: manifest %s, line %lu: want EXE CORE\n",
				path, lineno);
			rc = BATCH_USAGE;
		} else if (!add_job(j, exe, core)) {
			fprintf(stderr, "gomem: batch: manifest %s: more than %u cores\n", path,
				MAX_CORES);
			rc = BATCH_USAGE;
		}
	}
	if (rc == BATCH_OK && ferror(f)) {
		fprintf(stderr, "gomem: batch: manifest %s: %s\n", path, strerror(errno));
		rc = BATCH_USAGE;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static bool parse_jobs(const char *s, unsigned *ret)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v < 1 || v > MAX_JOBS)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* The value of --opt VALUE or --opt=VALUE at argv[*i], or NULL when a is not --opt. */
static const char *option_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(opt);
	if (strncmp(a, opt, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static void free_jobs(struct jobs *j)
{
	for (size_t i = 0; i < j->nowned; i++)
		free(j->owned[i]);
	free(j->owned);
	free(j->v);
}

int gm_cli_batch(int argc, char **argv)
{
	struct batch b = {.njobs_at_once = 1};
	const char *manifest = NULL;
	char **operands = calloc((size_t)argc + 1, sizeof(*operands));
	int noperands = 0, rc = BATCH_OK;
	if (!operands)
		return usage_error("%s", "out of memory");
	for (int i = 0; i < argc && rc == BATCH_OK; i++) {
		const char *a = argv[i], *v;
		bool missing = false;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(batch_usage, stdout);
			free(operands);
			return BATCH_OK;
		}
		if ((v = option_value(argc, argv, &i, "--jobs", &missing)) || missing) {
			if (!parse_jobs(v, &b.njobs_at_once))
				rc = usage_error("--jobs wants a number from 1 to 256, not \"%s\"",
						 v ? v : "");
		} else if ((v = option_value(argc, argv, &i, "--manifest", &missing)) || missing) {
			if (!v)
				rc = usage_error("%s needs a file", "--manifest");
			manifest = v;
		} else if (gm_cli_file_option("--debug-file", argc, argv, &i, &b.jobs.debug_file) ||
			   gm_cli_file_option("--layout-from", argc, argv, &i,
					      &b.jobs.layout_from)) {
			if (!b.jobs.debug_file && !b.jobs.layout_from)
				rc = usage_error("%s wants a file", a);
		} else if (a[0] == '-' && a[1] != '\0') {
			rc = usage_error("unknown option %s", a);
		} else {
			operands[noperands++] = argv[i];
		}
	}
	if (rc == BATCH_OK && manifest && noperands)
		rc = usage_error("%s: give the cores either in a manifest or as EXE CORE..., not "
				 "both",
				 "--manifest");
	else if (rc == BATCH_OK && !manifest && noperands < 2)
		rc = usage_error("%s", noperands ? "no core after the executable"
						 : "expected EXE CORE... or --manifest FILE");
	if (rc == BATCH_OK && manifest)
		rc = read_manifest(&b.jobs, manifest);
	for (int i = 1; rc == BATCH_OK && !manifest && i < noperands; i++) {
		if (!add_job(&b.jobs, operands[0], operands[i]))
			rc = usage_error("%s", "too many cores");
	}
	if (rc == BATCH_OK && b.jobs.n == 0)
		rc = usage_error("manifest %s lists no core", manifest);
	if (rc == BATCH_OK) {
		if (b.njobs_at_once > b.jobs.n)
			b.njobs_at_once = (unsigned)b.jobs.n;
		b.progress = isatty(STDERR_FILENO);
		rc = run_batch(&b);
	}
	for (size_t i = 0; b.results && i < b.jobs.n; i++)
		free(b.results[i].line);
	free(b.results);
	free(b.slots);
	free_jobs(&b.jobs);
	free(operands);
	return rc;
}
