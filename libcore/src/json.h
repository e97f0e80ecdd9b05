/*
 * A small JSON reader, for the reports gomem itself wrote (gomem diff reads
 * two saved `summary --json` outputs). It reads any text safely: depth,
 * size and node count are bounded, and every error names where it is.
 */
#ifndef GOMEM_JSON_H
#define GOMEM_JSON_H

#include "internal.h"

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
	size_t n;
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

#endif
