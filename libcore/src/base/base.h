/*
 * The base of libcore, used by every layer: errors, growable strings, the
 * JSON reader, sorting. See ../README.md for the layers.
 */
#ifndef GOMEM_BASE_H
#define GOMEM_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gomem.h"

#define GM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GOMEM_VERSION	 "0.1.0"
#define GM_PRINTF(f, a)	 __attribute__((format(printf, f, a)))

/* Returns the error of a fallible call from the function that makes it. */
#define TRY(x)                                                                                     \
	do {                                                                                       \
		struct gomem_error *err_ = (x);                                                    \
		if (err_)                                                                          \
			return err_;                                                               \
	} while (0)

static inline void gm_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(gm_freep)))

/* qsort of n elements of an array that is NULL when n is 0, which qsort does not allow. */
static inline void gm_sort(void *base, size_t n, size_t size,
			   int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ---- growable arrays and binary search (array.c) ---- */

/*
 * Makes room for one more element in an array of n elements of size bytes
 * at *p, of which *cap are allocated: the capacity doubles (from 64 bytes
 * or one element).
 * False when out of memory; then nothing changed.
 */
bool gm_array_room(void **p, size_t n, size_t *cap, size_t size);

/*
 * NAME_grow(&v, &n, &cap): a new element (not zeroed) at the end of the
 * array v of n elements with cap allocated, or NULL when out of memory
 * (nothing changed). A typed wrapper of gm_array_room.
 */
#define GM_DEFINE_GROW(name, type)                                                                 \
	static inline __attribute__((unused)) type *name(type **v, size_t *n, size_t *cap)         \
	{                                                                                          \
		void *p = *v;                                                                      \
		if (!gm_array_room(&p, *n, cap, sizeof(type)))                                     \
			return NULL;                                                               \
		*v = p;                                                                            \
		return &(*v)[(*n)++];                                                              \
	}

/*
 * gm_array_room for a list whose length the target decides: past max
 * elements it is corrupt, an error that says "more than MAX what".
 */
struct gomem_error *gm_array_room_max(void **p, size_t n, size_t *cap, size_t size, size_t max,
				      const char *what);

/* NAME(&v, &n, &cap, &slot): NAME_grow with gm_array_room_max's bound and errors. */
#define GM_DEFINE_GROW_MAX(name, type, max, what)                                                  \
	static inline __attribute__((unused)) struct gomem_error *name(type **v, size_t *n,        \
								       size_t *cap, type **slot)   \
	{                                                                                          \
		void *p = *v;                                                                      \
		TRY(gm_array_room_max(&p, *n, cap, sizeof(type), (max), (what)));                  \
		*v = p;                                                                            \
		*slot = &(*v)[(*n)++];                                                             \
		return NULL;                                                                       \
	}

/* struct NAME {TYPE *v; size_t n, cap;} and NAME_add(&a): NAME_grow on its members. */
#define GM_DEFINE_ARRAY(name, type)                                                                \
	struct name {                                                                              \
		type *v;                                                                           \
		size_t n, cap;                                                                     \
	};                                                                                         \
	GM_DEFINE_GROW(name##_grow, type)                                                          \
	static inline __attribute__((unused)) type *name##_add(struct name *a)                     \
	{                                                                                          \
		return name##_grow(&a->v, &a->n, &a->cap);                                         \
	}

/*
 * In an array of n elements of size bytes sorted by the uint64_t at
 * key_offset: the index of the first element whose key is above key (n
 * when none). The one binary search of libcore.
 */
size_t gm_upper_bound(const void *v, size_t n, size_t size, size_t key_offset, uint64_t key);
#define GM_UPPER_BOUND(v, n, member, key)                                                          \
	gm_upper_bound((v), (n), sizeof(*(v)), offsetof(__typeof__(*(v)), member), (key))

/*
 * In an array of disjoint ranges [lo, hi) sorted by address: the element
 * that holds addr, or NULL.
 */
void *gm_find_range(const void *v, size_t n, size_t size, size_t lo_offset, size_t hi_offset,
		    uint64_t addr);
#define GM_FIND_RANGE(v, n, lo, hi, addr)                                                          \
	((__typeof__(&(v)[0]))gm_find_range((v), (n), sizeof(*(v)),                                \
					    offsetof(__typeof__(*(v)), lo),                        \
					    offsetof(__typeof__(*(v)), hi), (addr)))

/* ---- errors (error.c) ---- */

/*
 * Fault injection for the tests: whether the step site (with what it works
 * on, or NULL) is to fail as if the system had refused. The library's own
 * definition is weak and always says no; a unit test that links the static
 * library defines its own to make one step fail.
 */
bool gm_fault_injected(const char *site, const char *what);

struct gomem_error {
	enum gomem_error_code code;
	char *message;
};

/* Never fails: out of memory gives a preallocated error. */
struct gomem_error *gm_error(enum gomem_error_code code, const char *fmt, ...) GM_PRINTF(2, 3);
struct gomem_error *gm_error_errno(enum gomem_error_code code, int errnum, const char *fmt, ...)
    GM_PRINTF(3, 4);
extern struct gomem_error gm_error_no_memory;

/* ---- growable string (strbuf.c) ---- */

struct gm_strbuf {
	char *s;
	size_t len, cap;
	bool failed; /* an allocation failed; the content is cut */
};

void gm_strbuf_printf(struct gm_strbuf *sb, const char *fmt, ...) GM_PRINTF(2, 3);
/* Room for extra more bytes and a NUL; false (and failed set) when out of memory. */
bool gm_strbuf_reserve(struct gm_strbuf *sb, size_t extra);
void gm_strbuf_append(struct gm_strbuf *sb, const char *s, size_t n);
/* Hands the string over (NULL if an allocation failed) and resets sb. */
char *gm_strbuf_steal(struct gm_strbuf *sb);
void gm_strbuf_deinit(struct gm_strbuf *sb);
/* Appends a formatted string to a growable list of strings (warnings). */
struct gomem_error *gm_strlist_vadd(char ***list, size_t *n, const char *fmt, va_list ap);
/* "1.5 GiB", "64.0 KiB", "512 B" */
const char *gm_human_bytes(uint64_t n, char buf[32]);

/* ---- the JSON writer (jsonw.c) ---- */

#define GM_JW_MAX_DEPTH 32

struct gm_jw_level {
	bool object;	/* an object (keys), not an array */
	bool lines;	/* every item on a line of its own */
	bool first;	/* nothing written in it yet */
	bool line_next; /* the next member or item starts a new line */
};

/*
 * Writes one JSON value into a strbuf: separators, escaping, numbers,
 * nesting and null. Members and items are separated by ", ";
 * gm_jw_line() puts the next one on a new line, and in an array opened
 * with gm_jw_array_lines() every item starts a line, indented by one space
 * per open container. A misuse (a key outside an object, nesting deeper
 * than GM_JW_MAX_DEPTH) marks the strbuf failed, as an allocation failure
 * does, so the report is refused rather than malformed.
 */
struct gm_jw {
	struct gm_strbuf *out;
	int depth;
	bool after_key; /* a key was written: its value comes next, without a separator */
	struct gm_jw_level level[GM_JW_MAX_DEPTH];
};

void gm_jw_init(struct gm_jw *w, struct gm_strbuf *out);
void gm_jw_object(struct gm_jw *w);
void gm_jw_array(struct gm_jw *w);
void gm_jw_array_lines(struct gm_jw *w);
/* Closes the innermost object or array. */
void gm_jw_end(struct gm_jw *w);
/* The next member or item of the innermost container starts a new line. */
void gm_jw_line(struct gm_jw *w);
void gm_jw_key(struct gm_jw *w, const char *key);
void gm_jw_string(struct gm_jw *w, const char *s);
void gm_jw_uint(struct gm_jw *w, uint64_t v);
void gm_jw_int(struct gm_jw *w, int64_t v);
/* A duration in ns as seconds with 6 decimals (microseconds): 0.012345. */
void gm_jw_seconds(struct gm_jw *w, uint64_t ns);
/* An integer beyond int64_t's range: -magnitude when negative. */
void gm_jw_sign_magnitude(struct gm_jw *w, bool negative, uint64_t magnitude);
void gm_jw_bool(struct gm_jw *w, bool v);
void gm_jw_null(struct gm_jw *w);
/* A string when s, else null; a number when has, else null. */
void gm_jw_string_or_null(struct gm_jw *w, const char *s);
void gm_jw_uint_or_null(struct gm_jw *w, bool has, uint64_t v);
/* A key and its value (a NULL string is null). */
void gm_jw_member_string(struct gm_jw *w, const char *key, const char *s);
void gm_jw_member_uint(struct gm_jw *w, const char *key, uint64_t v);
void gm_jw_member_int(struct gm_jw *w, const char *key, int64_t v);
void gm_jw_member_bool(struct gm_jw *w, const char *key, bool v);
void gm_jw_member_null(struct gm_jw *w, const char *key);
void gm_jw_member_uint_or_null(struct gm_jw *w, const char *key, bool has, uint64_t v);

/* ---- a small JSON reader (json.c) ---- */

/*
 * For the reports gomem itself wrote (gomem diff reads two saved
 * `summary --json` outputs). It reads any text safely: depth, size and
 * node count are bounded, and every error names where it is.
 */
#define GM_JSON_MAX_BYTES (64u << 20)

enum gm_json_type {
	GM_JSON_NULL,
	GM_JSON_BOOL,
	GM_JSON_NUMBER,
	GM_JSON_STRING,
	GM_JSON_ARRAY,
	GM_JSON_OBJECT
};

struct gm_json {
	enum gm_json_type type;
	bool boolean;
	bool is_uint; /* a number that is an integer from 0 to 2^64 - 1: u holds it */
	uint64_t u;
	double number;
	char *string;	       /* GM_JSON_STRING: decoded, NUL-terminated */
	char *key;	       /* a member of an object: its name */
	struct gm_json *items; /* the elements of an array, the members of an object */
	size_t n, cap;
};

/* Parses len bytes of text; what names the text in errors ("summary a.json"). */
struct gomem_error *gm_json_parse(const char *text, size_t len, const char *what,
				  struct gm_json **ret);
void gm_json_destroy(struct gm_json *v);
/* The member key of an object; NULL when v is not an object or has none. */
const struct gm_json *gm_json_get(const struct gm_json *v, const char *key);
/* The member's string, or NULL when it is missing or not a string. */
const char *gm_json_get_string(const struct gm_json *v, const char *key);
/* The member's unsigned integer: false when it is missing or not one. */
bool gm_json_get_uint(const struct gm_json *v, const char *key, uint64_t *ret);

#endif /* GOMEM_BASE_H */
