/*
 * A small JSON reader (RFC 8259): recursive descent over the text, with the
 * depth, the node count and the size bounded, so that any file can be fed
 * to it. Integers from 0 to 2^64 - 1 are kept exactly (NextGC with GC off is
 * about 2^63, beyond a double's precision).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define MAX_DEPTH 64
#define MAX_NODES (1u << 18)

struct parser {
	const char *start, *p, *end;
	const char *what;
	size_t nodes;
	int depth;
};

static struct gomem_error *fail(const struct parser *ps, const char *msg)
{
	return gm_error(GOMEM_ERROR_FORMAT, "%s is not valid JSON: %s at byte %zu", ps->what, msg,
			(size_t)(ps->p - ps->start));
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct gomem_error *parse_value(struct parser *ps, struct gm_json *out);

static struct gomem_error *literal(struct parser *ps, const char *word, struct gm_json *out,
				   enum gm_json_type type, bool value)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected word");
	ps->p += n;
	out->type = type;
	out->boolean = value;
	return NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && is_digit(*p))
		p++;
	return p;
}

static struct gomem_error *number(struct parser *ps, struct gm_json *out)
{
	const char *s = ps->p, *p = s, *end = ps->end;
	bool integer = true, negative = false;
	if (p < end && *p == '-') {
		negative = true;
		p++;
	}
	if (p >= end || !is_digit(*p))
		return fail(ps, "bad number");
	if (*p == '0' && p + 1 < end && is_digit(p[1]))
		return fail(ps, "number with a leading zero");
	p = digits(p, end);
	if (p < end && *p == '.') {
		integer = false;
		const char *q = digits(p + 1, end);
		if (q == p + 1)
			return fail(ps, "bad fraction");
		p = q;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		const char *q = digits(p, end);
		if (q == p)
			return fail(ps, "bad exponent");
		p = q;
	}
	char buf[64];
	if ((size_t)(p - s) >= sizeof(buf))
		return fail(ps, "number too long");
	memcpy(buf, s, (size_t)(p - s));
	buf[p - s] = '\0';
	out->type = GM_JSON_NUMBER;
	out->number = strtod(buf, NULL);
	if (integer && !negative) {
		uint64_t v = 0;
		bool fits = true;
		for (const char *q = s; q < p && fits; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (v > (UINT64_MAX - d) / 10)
				fits = false;
			else
				v = v * 10 + d;
		}
		out->is_uint = fits;
		out->u = fits ? v : 0;
	}
	ps->p = p;
	return NULL;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX at p (after the backslash and u), with its low surrogate; *len: chars read. */
static int code_point(const char *p, const char *end, size_t *len)
{
	if (end - p < 4)
		return -1;
	int hi = hex4(p);
	*len = 4;
	if (hi < 0xd800 || hi > 0xdfff)
		return hi;
	if (hi > 0xdbff || end - p < 10 || p[4] != '\\' || p[5] != 'u')
		return -1;
	int lo = hex4(p + 6);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*len = 10;
	return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

/* A string at ps->p (its opening quote); *ret is malloc'd and decoded. */
static struct gomem_error *string(struct parser *ps, char **ret)
{
	const char *p = ps->p + 1, *end = ps->end;
	/* The decoded text is never longer than the quoted one. */
	const char *close = p;
	while (close < end && *close != '"')
		close += *close == '\\' && close + 1 < end ? 2 : 1;
	if (close >= end)
		return fail(ps, "unterminated string");
	char *s = malloc((size_t)(close - p) + 1), *o = s;
	if (!s)
		return &gm_error_no_memory;
	while (p < close) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20) {
			free(s);
			ps->p = p;
			return fail(ps, "control character in a string");
		}
		if (c != '\\') {
			*o++ = (char)c;
			p++;
			continue;
		}
		char e = p[1];
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *k = e ? strchr(from, e) : NULL;
		if (k) {
			*o++ = to[k - from];
			p += 2;
			continue;
		}
		size_t len = 0;
		int cp = e == 'u' ? code_point(p + 2, close, &len) : -1;
		if (cp <= 0) {
			free(s);
			ps->p = p;
			return fail(ps, cp == 0 ? "NUL in a string" : "bad escape");
		}
		o += put_utf8(o, (unsigned)cp);
		p += 2 + len;
	}
	*o = '\0';
	ps->p = close + 1;
	*ret = s;
	return NULL;
}

GM_DEFINE_GROW(grow_items, struct gm_json)

static struct gomem_error *new_item(struct parser *ps, struct gm_json *parent, struct gm_json **ret)
{
	if (++ps->nodes > MAX_NODES)
		return fail(ps, "too many values");
	struct gm_json *item = grow_items(&parent->items, &parent->n, &parent->cap);
	if (!item)
		return &gm_error_no_memory;
	memset(item, 0, sizeof(*item));
	*ret = item;
	return NULL;
}

/* An array or an object at ps->p; members have keys. */
static struct gomem_error *container(struct parser *ps, struct gm_json *out, bool object)
{
	char close = object ? '}' : ']';
	out->type = object ? GM_JSON_OBJECT : GM_JSON_ARRAY;
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, "nested too deep");
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return NULL;
	}
	/* Bounded: each round consumes at least one value and a separator. */
	for (;;) {
		struct gm_json *item = NULL;
		struct gomem_error *err = new_item(ps, out, &item);
		if (err)
			return err;
		skip_space(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected a member name");
			if ((err = string(ps, &item->key)))
				return err;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':'");
			ps->p++;
		}
		if ((err = parse_value(ps, item)))
			return err;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return NULL;
		}
		return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static struct gomem_error *parse_value(struct parser *ps, struct gm_json *out)
{
	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
		return container(ps, out, true);
	case '[':
		return container(ps, out, false);
	case '"':
		out->type = GM_JSON_STRING;
		return string(ps, &out->string);
	case 't':
		return literal(ps, "true", out, GM_JSON_BOOL, true);
	case 'f':
		return literal(ps, "false", out, GM_JSON_BOOL, false);
	case 'n':
		return literal(ps, "null", out, GM_JSON_NULL, false);
	default:
		return number(ps, out);
	}
}

static void json_deinit(struct gm_json *v)
{
	for (size_t i = 0; i < v->n; i++)
		json_deinit(&v->items[i]);
	free(v->items);
	free(v->string);
	free(v->key);
}

void gm_json_destroy(struct gm_json *v)
{
	if (!v)
		return;
	json_deinit(v);
	free(v);
}

struct gomem_error *gm_json_parse(const char *text, size_t len, const char *what,
				  struct gm_json **ret)
{
	if (len > GM_JSON_MAX_BYTES)
		return gm_error(GOMEM_ERROR_FORMAT, "%s is too large (%zu bytes) for a report",
				what, len);
	struct parser ps = {.start = text, .p = text, .end = text + len, .what = what};
	struct gm_json *v = calloc(1, sizeof(*v));
	if (!v)
		return &gm_error_no_memory;
	struct gomem_error *err = parse_value(&ps, v);
	if (!err) {
		skip_space(&ps);
		if (ps.p != ps.end)
			err = fail(&ps, "text after the value");
	}
	if (err) {
		gm_json_destroy(v);
		return err;
	}
	*ret = v;
	return NULL;
}

const struct gm_json *gm_json_get(const struct gm_json *v, const char *key)
{
	if (!v || v->type != GM_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->items[i].key, key) == 0)
			return &v->items[i];
	}
	return NULL;
}

const char *gm_json_get_string(const struct gm_json *v, const char *key)
{
	const struct gm_json *m = gm_json_get(v, key);
	return m && m->type == GM_JSON_STRING ? m->string : NULL;
}

bool gm_json_get_uint(const struct gm_json *v, const char *key, uint64_t *ret)
{
	const struct gm_json *m = gm_json_get(v, key);
	if (!m || m->type != GM_JSON_NUMBER || !m->is_uint)
		return false;
	*ret = m->u;
	return true;
}
