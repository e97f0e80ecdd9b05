/*
 * The JSON writer every report uses: it writes the commas, the escaping,
 * the numbers, the nesting and null, so that no verb builds JSON from
 * printf fragments. The layout is gomem's: members and items separated by
 * ", ", except where a report asks for a new line (gm_jw_line, or an array
 * whose items each start a line), indented by one space per level.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

void gm_jw_init(struct gm_jw *w, struct gm_strbuf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

/* A misuse (too deep, a key outside an object) spoils the output like a failed allocation. */
static void jw_fail(struct gm_jw *w)
{
	w->out->failed = true;
}

static void newline(struct gm_jw *w)
{
	gm_strbuf_append(w->out, "\n", 1);
	for (int i = 0; i < w->depth; i++)
		gm_strbuf_append(w->out, " ", 1);
}

/* What comes before a value or a key: nothing, ", ", or a new line. */
static void separate(struct gm_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	struct gm_jw_level *l = &w->level[w->depth - 1];
	bool line = l->lines || l->line_next;
	if (!l->first)
		gm_strbuf_append(w->out, ",", 1);
	if (line)
		newline(w);
	else if (!l->first)
		gm_strbuf_append(w->out, " ", 1);
	l->first = false;
	l->line_next = false;
}

static void open_container(struct gm_jw *w, char c, bool object, bool lines)
{
	separate(w);
	if (w->depth == GM_JW_MAX_DEPTH) {
		jw_fail(w);
		return;
	}
	gm_strbuf_append(w->out, &c, 1);
	w->level[w->depth++] =
	    (struct gm_jw_level){.object = object, .lines = lines, .first = true};
}

void gm_jw_object(struct gm_jw *w)
{
	open_container(w, '{', true, false);
}

void gm_jw_array(struct gm_jw *w)
{
	open_container(w, '[', false, false);
}

void gm_jw_array_lines(struct gm_jw *w)
{
	open_container(w, '[', false, true);
}

void gm_jw_end(struct gm_jw *w)
{
	if (w->depth == 0 || w->after_key) {
		jw_fail(w);
		return;
	}
	bool object = w->level[--w->depth].object;
	gm_strbuf_append(w->out, object ? "}" : "]", 1);
}

void gm_jw_line(struct gm_jw *w)
{
	if (w->depth)
		w->level[w->depth - 1].line_next = true;
}

static void string_raw(struct gm_strbuf *sb, const char *s)
{
	gm_strbuf_append(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char esc[2] = {'\\', (char)*p};
			gm_strbuf_append(sb, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			gm_strbuf_printf(sb, "\\u%04x", *p);
		} else {
			gm_strbuf_append(sb, (const char *)p, 1);
		}
	}
	gm_strbuf_append(sb, "\"", 1);
}

void gm_jw_key(struct gm_jw *w, const char *key)
{
	if (w->depth == 0 || !w->level[w->depth - 1].object || w->after_key) {
		jw_fail(w);
		return;
	}
	separate(w);
	string_raw(w->out, key);
	gm_strbuf_append(w->out, ": ", 2);
	w->after_key = true;
}

void gm_jw_string(struct gm_jw *w, const char *s)
{
	separate(w);
	string_raw(w->out, s);
}

void gm_jw_uint(struct gm_jw *w, uint64_t v)
{
	separate(w);
	gm_strbuf_printf(w->out, "%" PRIu64, v);
}

void gm_jw_seconds(struct gm_jw *w, uint64_t ns)
{
	separate(w);
	gm_strbuf_printf(w->out, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u,
			 ns % 1000000000u / 1000u);
}

void gm_jw_int(struct gm_jw *w, int64_t v)
{
	separate(w);
	gm_strbuf_printf(w->out, "%" PRId64, v);
}

void gm_jw_sign_magnitude(struct gm_jw *w, bool negative, uint64_t magnitude)
{
	separate(w);
	gm_strbuf_printf(w->out, "%s%" PRIu64, negative && magnitude ? "-" : "", magnitude);
}

void gm_jw_bool(struct gm_jw *w, bool v)
{
	separate(w);
	gm_strbuf_append(w->out, v ? "true" : "false", v ? 4 : 5);
}

void gm_jw_null(struct gm_jw *w)
{
	separate(w);
	gm_strbuf_append(w->out, "null", 4);
}

void gm_jw_string_or_null(struct gm_jw *w, const char *s)
{
	if (s)
		gm_jw_string(w, s);
	else
		gm_jw_null(w);
}

void gm_jw_uint_or_null(struct gm_jw *w, bool has, uint64_t v)
{
	if (has)
		gm_jw_uint(w, v);
	else
		gm_jw_null(w);
}

void gm_jw_member_string(struct gm_jw *w, const char *key, const char *s)
{
	gm_jw_key(w, key);
	gm_jw_string_or_null(w, s);
}

void gm_jw_member_uint(struct gm_jw *w, const char *key, uint64_t v)
{
	gm_jw_key(w, key);
	gm_jw_uint(w, v);
}

void gm_jw_member_int(struct gm_jw *w, const char *key, int64_t v)
{
	gm_jw_key(w, key);
	gm_jw_int(w, v);
}

void gm_jw_member_bool(struct gm_jw *w, const char *key, bool v)
{
	gm_jw_key(w, key);
	gm_jw_bool(w, v);
}

void gm_jw_member_null(struct gm_jw *w, const char *key)
{
	gm_jw_key(w, key);
	gm_jw_null(w);
}

void gm_jw_member_uint_or_null(struct gm_jw *w, const char *key, bool has, uint64_t v)
{
	gm_jw_key(w, key);
	gm_jw_uint_or_null(w, has, v);
}
