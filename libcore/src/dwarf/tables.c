/* Layout tables: recording answers, and finding and replaying them (tables.h). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "dwarf/tables.h"

#define MAX_ALIASES 4 /* "[A] = [B]" chains are short; a loop is refused */

struct entry {
	const char *key, *value; /* into text */
	size_t key_len, value_len;
};

struct gm_layout_table {
	char *text; /* the section's lines, NUL-terminated each */
	struct entry *entries;
	size_t n;
	char *from;
};

/* The line at *p (without its newline); moves *p past it. */
static const char *next_line(const char **p, size_t *len)
{
	const char *s = *p;
	if (!*s)
		return NULL;
	const char *nl = strchr(s, '\n');
	*len = nl ? (size_t)(nl - s) : strlen(s);
	*p = nl ? nl + 1 : s + *len;
	return s;
}

/* A section header "[config] ..." of exactly config: what follows the "]". */
static const char *header_of(const char *line, size_t len, const char *config)
{
	size_t n = strlen(config);
	if (len < n + 2 || line[0] != '[' || memcmp(line + 1, config, n) != 0 || line[n + 1] != ']')
		return NULL;
	return line + n + 2;
}

/* The start of the section of config in text, and its header's tail; NULL when none. */
static const char *find_section(const char *text, const char *config, char *tail, size_t size)
{
	const char *p = text, *line;
	size_t len;
	while ((line = next_line(&p, &len)) != NULL) {
		const char *t = header_of(line, len, config);
		if (!t)
			continue;
		size_t tl = (size_t)(line + len - t);
		snprintf(tail, size, "%.*s", (int)tl, t);
		return p;
	}
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static struct gomem_error *parse_section(const char *body, struct gm_layout_table *t)
{
	const char *p = body, *line;
	size_t len, n = 0;
	while ((line = next_line(&p, &len)) != NULL && line[0] != '[')
		n++;
	t->entries = calloc(n ? n : 1, sizeof(*t->entries));
	if (!t->entries)
		return &gm_error_no_memory;
	p = body;
	while ((line = next_line(&p, &len)) != NULL && line[0] != '[') {
		if (len == 0 || line[0] == '#')
			continue;
		const char *eq = memmem(line, len, " = ", 3);
		if (!eq)
			return gm_error(GOMEM_ERROR_FORMAT, "layout table: bad line \"%.*s\"",
					(int)(len > 80 ? 80 : len), line);
		t->entries[t->n++] = (struct entry){line, eq + 3, (size_t)(eq - line),
						    (size_t)(line + len - (eq + 3))};
	}
	gm_sort(t->entries, t->n, sizeof(*t->entries), cmp_entry);
	return NULL;
}

struct gomem_error *gm_layout_table_load(const char *text, const char *config,
					 struct gm_layout_table **ret, bool *found)
{
	char tail[160], name[160];
	snprintf(name, sizeof(name), "%s", config);
	const char *body = NULL;
	for (int i = 0; i <= MAX_ALIASES; i++) {
		body = find_section(text, name, tail, sizeof(tail));
		if (!body) {
			*found = false;
			return NULL;
		}
		/* "[A] = [B]": A's answers are B's. */
		if (strncmp(tail, " = [", 4) != 0)
			break;
		char *close = strchr(tail + 4, ']');
		if (!close || i == MAX_ALIASES)
			return gm_error(GOMEM_ERROR_FORMAT, "layout table: bad alias of [%s]",
					config);
		snprintf(name, sizeof(name), "%.*s", (int)(close - (tail + 4)), tail + 4);
	}
	struct gm_layout_table *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	const char *from = strstr(tail, "from ");
	t->from = strdup(from ? from + 5 : "?");
	struct gomem_error *err = t->from ? parse_section(body, t) : &gm_error_no_memory;
	if (err) {
		gm_layout_table_destroy(t);
		return err;
	}
	*found = true;
	*ret = t;
	return NULL;
}

void gm_layout_table_destroy(struct gm_layout_table *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t->from);
	free(t->text);
	free(t);
}

const char *gm_layout_table_from(const struct gm_layout_table *t)
{
	return t->from;
}

const char *gm_layout_table_get(const struct gm_layout_table *t, const char *key)
{
	struct entry want = {key, NULL, strlen(key), 0};
	const struct entry *e =
	    t->n ? bsearch(&want, t->entries, t->n, sizeof(*e), cmp_entry) : NULL;
	if (!e)
		return NULL;
	/* The values are short: a copy in thread-local storage, NUL-terminated. */
	static _Thread_local char value[128];
	snprintf(value, sizeof(value), "%.*s", (int)e->value_len, e->value);
	return value;
}

char *gm_layout_table_configs(const char *text)
{
	struct gm_strbuf sb = {0};
	const char *p = text, *line;
	size_t len;
	while ((line = next_line(&p, &len)) != NULL) {
		const char *close = line[0] == '[' ? memchr(line, ']', len) : NULL;
		if (close)
			gm_strbuf_printf(&sb, "%.*s\n", (int)(close - line - 1), line + 1);
	}
	return gm_strbuf_steal(&sb);
}

/* ---- recording ---- */

struct gm_layout_record {
	char **lines;
	size_t n, cap;
	bool failed;
};

struct gm_layout_record *gm_layout_record_create(void)
{
	return calloc(1, sizeof(struct gm_layout_record));
}

void gm_layout_record_destroy(struct gm_layout_record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r);
}

void gm_layout_record_add(struct gm_layout_record *r, const char *key, const char *value)
{
	if (!r || r->failed)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		char **v = reallocarray(r->lines, cap, sizeof(*v));
		if (!v) {
			r->failed = true;
			return;
		}
		r->lines = v;
		r->cap = cap;
	}
	char *line = NULL;
	if (asprintf(&line, "%s = %s", key, value) < 0) {
		r->failed = true;
		return;
	}
	r->lines[r->n++] = line;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *gm_layout_record_text(struct gm_layout_record *r)
{
	if (r->failed)
		return NULL;
	gm_sort(r->lines, r->n, sizeof(*r->lines), cmp_str);
	struct gm_strbuf sb = {0};
	for (size_t i = 0; i < r->n; i++) {
		if (i && strcmp(r->lines[i], r->lines[i - 1]) == 0)
			continue;
		gm_strbuf_printf(&sb, "%s\n", r->lines[i]);
	}
	if (!sb.s)
		gm_strbuf_append(&sb, "", 0);
	return gm_strbuf_steal(&sb);
}
