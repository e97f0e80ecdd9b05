/*
 * The dispatcher: gomem_run() finds a verb, parses its options the same
 * way for the CLI and the GDB plugin, runs it and hands back its output;
 * and the verbs' help texts and option lists, for help and tab
 * completion. Each verb (struct gm_verb: its options, help, text and
 * JSON) lives in a file of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

/* The verbs, in the order help lists them; each is defined in a file of its own. */
/* clang-format off */
static const struct gm_verb *const verbs[] = {
    &gm_verb_summary, &gm_verb_mappings, &gm_verb_arenas, &gm_verb_spans,
    &gm_verb_classes, &gm_verb_stacks,	 &gm_verb_whatis, &gm_verb_diff,
    &gm_verb_pprof,   &gm_verb_objects,	 &gm_verb_types,  &gm_verb_top,
    &gm_verb_paths, /* a verb is added on a line of its own */
};
/* clang-format on */

static const struct gm_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < GM_ARRAY_SIZE(verbs); i++) {
		if (strcmp(verbs[i]->name, name) == 0)
			return verbs[i];
	}
	return NULL;
}

static void verb_names(char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < GM_ARRAY_SIZE(verbs) && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					 verbs[i]->name);
}

static const struct gm_option_spec *find_option(const struct gm_verb *v, const char *name,
						int *index)
{
	for (int i = 0; v->options[i].name; i++) {
		if (strcmp(v->options[i].name, name) == 0) {
			*index = i;
			return &v->options[i];
		}
	}
	return NULL;
}

static struct gomem_error *parse_args(struct gm_run *r, int argc, const char *const *argv)
{
	const struct gm_verb *v = r->verb;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!a)
			return gm_error(GOMEM_ERROR_USAGE, "%s: missing argument", v->name);
		if (strcmp(a, "--json") == 0) {
			r->json = true;
			continue;
		}
		int short_idx;
		const struct gm_option_spec *so =
		    a[0] == '-' && a[1] && a[1] != '-' ? find_option(v, a, &short_idx) : NULL;
		if (so) {
			/* A one-letter option of the verb ("-o FILE"). */
			if (so->value && (i + 1 >= argc || !argv[i + 1]))
				return gm_error(GOMEM_ERROR_USAGE, "%s: %s needs a value (%s)",
						v->name, a, so->value);
			r->option_values[short_idx] = so->value ? argv[++i] : "";
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			char name[64];
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);
			if (n >= sizeof(name))
				return gm_error(GOMEM_ERROR_USAGE, "%s: unknown option %s", v->name,
						a);
			memcpy(name, a, n);
			name[n] = '\0';
			int idx;
			const struct gm_option_spec *o = find_option(v, name, &idx);
			if (!o)
				return gm_error(GOMEM_ERROR_USAGE,
						"%s: unknown option %s (usage: %s)", v->name, name,
						v->usage);
			if (o->value && !eq) {
				if (i + 1 >= argc || !argv[i + 1])
					return gm_error(GOMEM_ERROR_USAGE,
							"%s: %s needs a value (%s)", v->name, name,
							o->value);
				r->option_values[idx] = argv[++i];
			} else if (o->value) {
				r->option_values[idx] = eq + 1;
			} else if (eq) {
				return gm_error(GOMEM_ERROR_USAGE, "%s: %s takes no value", v->name,
						name);
			} else {
				r->option_values[idx] = "";
			}
			continue;
		}
		if (r->noperands >= v->max_operands)
			return gm_error(GOMEM_ERROR_USAGE,
					"%s: unexpected argument \"%s\" (usage: %s)", v->name, a,
					v->usage);
		r->operands[r->noperands++] = a;
	}
	if (r->noperands < v->min_operands)
		return gm_error(GOMEM_ERROR_USAGE, "%s: missing operand (usage: %s)", v->name,
				v->usage);
	return NULL;
}

const char *gm_run_option(const struct gm_run *r, const char *name)
{
	int idx;
	if (!find_option(r->verb, name, &idx))
		return NULL;
	return r->option_values[idx];
}

struct gomem_error *gm_run_uint_option(const struct gm_run *r, const char *name, uint64_t dflt,
				       uint64_t *ret)
{
	const char *s = gm_run_option(r, name);
	if (!s) {
		*ret = dflt;
		return NULL;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return gm_error(GOMEM_ERROR_USAGE, "%s: %s wants a non-negative number, not \"%s\"",
				r->verb->name, name, s);
	*ret = v;
	return NULL;
}

void gm_run_warn(struct gm_run *r, bool partial, const char *fmt, ...)
{
	va_list ap;
	if (partial)
		r->partial = true;
	if (r->nwarnings == GM_ARRAY_SIZE(r->warnings))
		return;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) >= 0)
		r->warnings[r->nwarnings++] = msg;
	va_end(ap);
}

void gm_run_json_begin(struct gm_run *r, const char *schema)
{
	gm_jw_object(&r->jw);
	gm_jw_member_string(&r->jw, "schema", schema);
}

void gm_run_json_end(struct gm_run *r)
{
	gm_jw_line(&r->jw);
	gm_jw_key(&r->jw, "warnings");
	gm_jw_array(&r->jw);
	for (size_t i = 0; i < r->nwarnings; i++)
		gm_jw_string(&r->jw, r->warnings[i]);
	gm_jw_end(&r->jw);
	gm_jw_end(&r->jw);
	gm_strbuf_append(&r->out, "\n", 1);
}

void gm_run_text_warnings(struct gm_run *r)
{
	for (size_t i = 0; i < r->nwarnings; i++)
		gm_strbuf_printf(&r->out, "%swarning: %s\n", i ? "" : "\n", r->warnings[i]);
}

static void json_experiments(struct gm_jw *w, const char *list)
{
	gm_jw_array(w);
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char name[64];
		if (n && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			gm_jw_string(w, name);
		}
		p += n + (comma ? 1 : 0);
	}
	gm_jw_end(w);
}

/* Where the runtime's layouts came from: "debug_info": {"source", "file"}. */
static void json_debug_info(struct gm_jw *w, const struct gm_dwarf *d)
{
	static const char *const sources[] = {
	    [GM_DWARF_EXE] = "exe",
	    [GM_DWARF_DEBUG_FILE] = "debug_file",
	    [GM_DWARF_LAYOUT_FROM] = "layout_from",
	    [GM_DWARF_TABLE] = "table",
	};
	gm_jw_key(w, "debug_info");
	if (!d) {
		gm_jw_null(w);
		return;
	}
	gm_jw_object(w);
	gm_jw_member_string(w, "source", sources[gm_dwarf_source(d)]);
	gm_jw_member_string(w, "file", gm_dwarf_file(d));
	gm_jw_end(w);
}

/* The "target" object of every report: what was read, and which Go built it. */
void gm_json_target(struct gm_jw *w, const struct gomem_target *target)
{
	const struct gm_target *t = &target->target;
	gm_jw_object(w);
	gm_jw_member_string(w, "source", t->have_core ? "core" : "live");
	gm_jw_member_string(w, "exe", t->exe.path);
	gm_jw_member_string(w, "core", t->have_core ? t->core.path : NULL);
	gm_jw_member_int(w, "pid", t->pid);
	gm_jw_member_string(w, "go_version", t->exe.go_version);
	gm_jw_member_string(w, "goarch", t->arch ? t->arch->goarch : NULL);
	gm_jw_key(w, "experiments");
	json_experiments(w, t->exe.experiments);
	gm_jw_member_string(w, "core_kind", gm_target_core_kind(t));
	gm_jw_member_uint(w, "page_size", t->page_size);
	json_debug_info(w, target->dwarf);
	/* How long gomem stopped the process: null for a core, a process it does not stop, and
	 * while the process is still stopped (verbs that print while they read). */
	uint64_t ns;
	unsigned stops;
	gm_jw_key(w, "pause_seconds");
	if (gm_target_pause(t, &ns, &stops) && !gm_target_stopped(t))
		gm_jw_seconds(w, ns);
	else
		gm_jw_null(w);
	/* The bytes copied while it was stopped, for the object graph: null when nothing was. */
	uint64_t copied;
	if (gm_target_snapshot_taken(t, &copied))
		gm_jw_member_uint(w, "snapshot_bytes", copied);
	else
		gm_jw_member_null(w, "snapshot_bytes");
	gm_jw_end(w);
}

void gm_json_check_state_members(struct gm_jw *w, const char *name, enum gm_check_state s,
				 uint64_t runtime, uint64_t reconstructed)
{
	gm_jw_member_string(w, "name", name);
	if (s == GM_CHECK_SKEW)
		gm_jw_member_null(w, "ok");
	else
		gm_jw_member_bool(w, "ok", s == GM_CHECK_OK);
	gm_jw_member_bool(w, "skew", s == GM_CHECK_SKEW);
	gm_jw_member_uint(w, "runtime", runtime);
	gm_jw_member_uint(w, "reconstructed", reconstructed);
}

void gm_json_objects_bytes(struct gm_jw *w, const char *key, uint64_t objects, uint64_t bytes)
{
	gm_jw_key(w, key);
	gm_jw_object(w);
	gm_jw_member_uint(w, "objects", objects);
	gm_jw_member_uint(w, "bytes", bytes);
	gm_jw_end(w);
}

void gm_json_check_members(struct gm_jw *w, const char *name, bool ok, uint64_t runtime,
			   uint64_t reconstructed)
{
	gm_json_check_state_members(w, name, ok ? GM_CHECK_OK : GM_CHECK_FAIL, runtime,
				    reconstructed);
}

enum gm_check_state gm_run_check_state(struct gm_run *r, bool ok)
{
	if (ok)
		return GM_CHECK_OK;
	if (!r->skew_why)
		return GM_CHECK_FAIL;
	r->skewed = true;
	return GM_CHECK_SKEW;
}

const char *gm_check_word(enum gm_check_state s)
{
	return s == GM_CHECK_OK ? "ok" : s == GM_CHECK_FAIL ? "FAIL" : "skew";
}

void gm_run_text_skew(struct gm_run *r)
{
	if (!r->skewed || !r->skew_why)
		return;
	/* "skew: " and the reason, wrapped at 100 columns. */
	const char *p = r->skew_why;
	gm_strbuf_printf(&r->out, "skew: ");
	for (size_t col = 6; *p;) {
		size_t n = strcspn(p, " ");
		if (col > 6 && col + 1 + n > 100) {
			gm_strbuf_printf(&r->out, "\n     ");
			col = 5;
		}
		gm_strbuf_printf(&r->out, "%s%.*s", col > 6 ? " " : "", (int)n, p);
		col += (col > 6) + n;
		p += n;
		while (*p == ' ')
			p++;
	}
	gm_strbuf_printf(&r->out, "\n");
}

/*
 * Whether the run builds the object graph (gm_run_graph), so that the copy
 * it makes of a live process is prepared before the process is stopped. A
 * verb left out here still copies, only with its buffer allocated in the
 * pause (whatis builds the graph only for some addresses).
 */
static bool builds_graph(const struct gm_run *r)
{
	static const char *const graph_verbs[] = {"objects", "types", "top", "paths"};
	if (r->verb == &gm_verb_summary)
		return gm_run_option(r, "--objects") != NULL;
	if (r->verb == &gm_verb_diff)
		return gm_run_option(r, "--types") != NULL;
	if (r->verb == &gm_verb_pprof) {
		const char *p = gm_run_option(r, "--profile");
		return !p || strcmp(p, "runtime") != 0; /* objects, the default */
	}
	for (size_t i = 0; i < GM_ARRAY_SIZE(graph_verbs); i++) {
		if (strcmp(r->verb->name, graph_verbs[i]) == 0)
			return true;
	}
	return false;
}

/*
 * The first line of a text report whose verb copied the process for the
 * object graph: how long it stood still and what was copied. summary says
 * its pause in its own first line.
 */
static struct gomem_error *text_snapshot_line(struct gm_run *r)
{
	uint64_t copied, ns;
	unsigned stops;
	if (!gm_target_snapshot_taken(r->t, &copied) || !gm_target_pause(r->t, &ns, &stops) ||
	    r->verb == &gm_verb_summary)
		return NULL;
	char h[32];
	struct gm_strbuf b = {0};
	gm_strbuf_printf(&b,
			 "live process %d, stopped %.1f ms while gomem copied %s of its memory; "
			 "analysed from the copy while it ran\n\n",
			 r->t->pid, (double)ns / 1e6, gm_human_bytes(copied, h));
	gm_strbuf_append(&b, r->out.s ? r->out.s : "", r->out.len);
	if (b.failed) {
		gm_strbuf_deinit(&b);
		return &gm_error_no_memory;
	}
	gm_strbuf_deinit(&r->out);
	r->out = b;
	return NULL;
}

struct gomem_error *gomem_run(struct gomem_target *t, const char *verb, int argc,
			      const char *const *argv, char **ret, int *partial_ret)
{
	if (!t || !verb || !ret || argc < 0 || (argc && !argv))
		return gm_error(GOMEM_ERROR_USAGE, "gomem_run: missing argument");
	struct gm_run *r = calloc(1, sizeof(*r));
	if (!r)
		return &gm_error_no_memory;
	r->target = t;
	r->t = &t->target;
	r->rt = t->runtime;
	gm_jw_init(&r->jw, &r->out);
	r->verb = find_verb(verb);
	struct gomem_error *err = NULL;
	if (!r->verb) {
		char names[256];
		verb_names(names, sizeof(names));
		err = gm_error(GOMEM_ERROR_USAGE, "unknown verb \"%s\" (verbs: %s)", verb, names);
	}
	if (!err)
		err = parse_args(r, argc, argv);
	/* Warnings about the target itself (a running process...) go into every report. */
	for (size_t i = 0; !err && i < r->t->nwarnings; i++)
		gm_run_warn(r, false, "%s", r->t->warnings[i]);
	if (r->t->read_running)
		r->skew_why = "the process ran while gomem read it (--no-stop): the runtime's "
			      "counters and the structures they count were read at different "
			      "moments, so a check that differs says nothing about gomem or the "
			      "process; without --no-stop gomem stops it while it reads";
	/*
	 * A live process stands still from here until the verb has read what it
	 * needs, or, for a verb that builds the object graph, until gm_run_graph
	 * has copied what the graph reads (gm_target_snapshot): the graph is then
	 * built from the copy while the process runs.
	 */
	if (!err && builds_graph(r))
		err = gm_target_prepare_snapshot(r->t);
	if (!err)
		err = gm_target_stop(r->t);
	if (!err)
		err = r->verb->run(r);
	gm_target_resume(r->t);
	gm_target_end_snapshot(r->t);
	if (!err && !r->json)
		err = text_snapshot_line(r);
	if (!err && partial_ret)
		*partial_ret = r->partial;
	return gm_run_finish(r, err, ret);
}

struct gomem_error *gm_run_finish(struct gm_run *r, struct gomem_error *err, char **ret)
{
	if (!err && r->out.failed)
		err = &gm_error_no_memory;
	if (!err) {
		*ret = gm_strbuf_steal(&r->out);
		if (!*ret)
			err = &gm_error_no_memory;
	}
	gm_strbuf_deinit(&r->out);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r);
	return err;
}

struct gomem_error *gomem_check_args(const char *verb, int argc, const char *const *argv)
{
	struct gm_run r;
	memset(&r, 0, sizeof(r));
	r.verb = verb ? find_verb(verb) : NULL;
	if (!r.verb)
		return gm_error(GOMEM_ERROR_USAGE, "unknown verb \"%s\"", verb ? verb : "");
	return parse_args(&r, argc, argv);
}

int gomem_option_takes_value(const char *verb, const char *option)
{
	const struct gm_verb *v = verb ? find_verb(verb) : NULL;
	int idx;
	const struct gm_option_spec *o = v && option ? find_option(v, option, &idx) : NULL;
	return o && o->value;
}

char *gomem_verbs_json(void)
{
	struct gm_strbuf b = {0};
	struct gm_jw w;
	gm_jw_init(&w, &b);
	gm_jw_object(&w);
	gm_jw_key(&w, "verbs");
	gm_jw_array(&w);
	for (size_t i = 0; i < GM_ARRAY_SIZE(verbs); i++) {
		const struct gm_verb *v = verbs[i];
		gm_jw_object(&w);
		gm_jw_member_string(&w, "name", v->name);
		gm_jw_member_string(&w, "usage", v->usage);
		gm_jw_member_string(&w, "summary", v->summary);
		gm_jw_member_string(&w, "help", v->help);
		gm_jw_member_int(&w, "operands", v->max_operands);
		gm_jw_key(&w, "options");
		gm_jw_array(&w);
		gm_jw_object(&w);
		gm_jw_member_string(&w, "name", "--json");
		gm_jw_member_null(&w, "value");
		gm_jw_member_string(&w, "help", "print JSON");
		gm_jw_end(&w);
		for (int j = 0; v->options[j].name; j++) {
			const struct gm_option_spec *o = &v->options[j];
			gm_jw_object(&w);
			gm_jw_member_string(&w, "name", o->name);
			gm_jw_member_string(&w, "value", o->value);
			gm_jw_member_string(&w, "help", o->help);
			gm_jw_end(&w);
		}
		gm_jw_end(&w);
		gm_jw_end(&w);
	}
	gm_jw_end(&w);
	gm_jw_end(&w);
	gm_strbuf_append(&b, "\n", 1);
	return gm_strbuf_steal(&b);
}

char *gomem_help(const char *verb)
{
	struct gm_strbuf b = {0};
	if (!verb) {
		gm_strbuf_printf(&b, "verbs:\n");
		for (size_t i = 0; i < GM_ARRAY_SIZE(verbs); i++)
			gm_strbuf_printf(&b, "  %-10s %s\n", verbs[i]->name, verbs[i]->summary);
		return gm_strbuf_steal(&b);
	}
	const struct gm_verb *v = find_verb(verb);
	if (!v)
		return NULL;
	gm_strbuf_printf(&b, "usage: gomem %s\n\n", v->usage);
	/* Wrap the help text at 78 columns. */
	const char *p = v->help;
	while (*p) {
		size_t n = strlen(p);
		if (n > 78) {
			n = 78;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = 78;
		}
		gm_strbuf_append(&b, p, n);
		gm_strbuf_append(&b, "\n", 1);
		p += n;
		while (*p == ' ')
			p++;
	}
	gm_strbuf_printf(&b, "\noptions:\n  %-18s %s\n", "--json", "print JSON instead of text");
	for (int j = 0; v->options[j].name; j++) {
		char opt[64];
		snprintf(opt, sizeof(opt), "%s%s%s", v->options[j].name,
			 v->options[j].value ? " " : "",
			 v->options[j].value ? v->options[j].value : "");
		gm_strbuf_printf(&b, "  %-18s %s\n", opt, v->options[j].help);
	}
	return gm_strbuf_steal(&b);
}
