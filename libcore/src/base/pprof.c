/*
 * The profile.proto writer (see pprof.h): protobuf's wire format by hand.
 *
 * Why by hand and not protobuf-c: a profile is seven small messages that
 * gomem only writes, and writes as a stream (a heap can give millions of
 * samples); protobuf-c would build a tree of allocated messages first, and
 * add a run-time library (and protoc-c at build time) for a few dozen
 * lines of varints. tests/unit/test_pprof.c checks the output with
 * `go tool pprof -raw`, the reader that matters.
 *
 * Wire format (protobuf encoding): a field is a varint key (number << 3 |
 * wire type) and its value: wire type 0 a varint, 2 a varint length and
 * that many bytes (strings, nested messages, packed repeated integers).
 * Negative int64 values are their two's complement as a 10-byte varint.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/pprof.h"

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,

	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
	LABEL_NUM_UNIT = 4,

	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	MAPPING_HAS_INLINE_FRAMES = 10,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
};

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/*
 * The encoded bytes go into strbufs (binary-safe: they keep a length; the
 * NUL they add after it is never written out). A failed one fails the
 * profile.
 */
#define buf gm_strbuf

struct gm_pprof {
	bool failed;
	/* The encoded messages, by the Profile field they belong to. */
	struct buf head; /* sample_type, comment */
	struct buf samples, mappings, locations, functions;
	struct buf msg, inner; /* scratch: a message being encoded, and one nested in it */
	/* The string table: strings at offsets into chars, found by hash. */
	char *chars;
	size_t chars_len, chars_cap;
	size_t *str_off;
	size_t nstr, str_cap;
	uint32_t *slots; /* string index + 1, 0 empty; a power of two of them */
	size_t nslots;
	uint64_t *func_of_str; /* the first function named by string i, 0 none; nstr of them */
	size_t func_cap;
	uint64_t nsamples, nlocations, nfunctions, nmappings;
	int64_t time_nanos, duration_nanos, period;
	int64_t period_type, period_unit, default_sample_type;
	bool have_period;
};

static void put_bytes(struct gm_pprof *p, struct buf *b, const void *data, size_t n)
{
	(void)p;
	if (n)
		gm_strbuf_append(b, data, n);
}

static void put_varint(struct gm_pprof *p, struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
	put_bytes(p, b, tmp, n);
}

static void put_key(struct gm_pprof *p, struct buf *b, unsigned field, unsigned wire)
{
	put_varint(p, b, (uint64_t)field << 3 | wire);
}

/* A varint field; zero is protobuf's default and is left out. */
static void put_uint(struct gm_pprof *p, struct buf *b, unsigned field, uint64_t v)
{
	if (v) {
		put_key(p, b, field, WIRE_VARINT);
		put_varint(p, b, v);
	}
}

static void put_int(struct gm_pprof *p, struct buf *b, unsigned field, int64_t v)
{
	put_uint(p, b, field, (uint64_t)v);
}

static void put_length_delimited(struct gm_pprof *p, struct buf *b, unsigned field,
				 const void *data, size_t n)
{
	put_key(p, b, field, WIRE_BYTES);
	put_varint(p, b, n);
	put_bytes(p, b, data, n);
}

/* Appends the message encoded in m as field of b, and empties m. */
static void put_message(struct gm_pprof *p, struct buf *b, unsigned field, struct buf *m)
{
	put_length_delimited(p, b, field, m->s, m->len);
	m->len = 0;
}

/* ---- the string table ---- */

static uint64_t hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

static uint32_t *find_slot(struct gm_pprof *p, const char *s, uint64_t h)
{
	size_t mask = p->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t v = p->slots[i];
		if (!v || strcmp(p->chars + p->str_off[v - 1], s) == 0)
			return &p->slots[i];
	}
}

static bool grow_slots(struct gm_pprof *p)
{
	size_t n = p->nslots ? p->nslots * 2 : 256;
	uint32_t *old = p->slots;
	size_t nold = p->nslots;
	if (n > UINT32_MAX || !(p->slots = calloc(n, sizeof(*p->slots)))) {
		p->slots = old;
		return false;
	}
	p->nslots = n;
	for (size_t i = 0; i < nold; i++) {
		if (old[i]) {
			const char *s = p->chars + p->str_off[old[i] - 1];
			*find_slot(p, s, hash_string(s)) = old[i];
		}
	}
	free(old);
	return true;
}

int64_t gm_pprof_string(struct gm_pprof *p, const char *s)
{
	if (p->failed)
		return 0;
	if (!s)
		s = "";
	if (!p->nslots && !grow_slots(p)) {
		p->failed = true;
		return 0;
	}
	uint64_t h = hash_string(s);
	uint32_t *slot = find_slot(p, s, h);
	if (*slot)
		return *slot - 1;
	size_t n = strlen(s) + 1;
	if ((p->nstr + 1) * 2 > p->nslots) {
		if (!grow_slots(p)) {
			p->failed = true;
			return 0;
		}
		slot = find_slot(p, s, h);
	}
	void *v = p->str_off;
	void *f = p->func_of_str;
	size_t fcap = p->func_cap;
	if (!gm_array_room(&v, p->nstr, &p->str_cap, sizeof(*p->str_off)) ||
	    !gm_array_room(&f, p->nstr, &fcap, sizeof(*p->func_of_str))) {
		p->str_off = v;
		p->failed = true;
		return 0;
	}
	p->str_off = v;
	p->func_of_str = f;
	p->func_cap = fcap;
	if (p->chars_cap - p->chars_len < n) {
		size_t cap = p->chars_cap ? p->chars_cap : 4096;
		while (cap - p->chars_len < n && cap <= SIZE_MAX / 2)
			cap *= 2;
		char *c = cap - p->chars_len >= n ? realloc(p->chars, cap) : NULL;
		if (!c) {
			p->failed = true;
			return 0;
		}
		p->chars = c;
		p->chars_cap = cap;
	}
	memcpy(p->chars + p->chars_len, s, n);
	p->str_off[p->nstr] = p->chars_len;
	p->func_of_str[p->nstr] = 0;
	p->chars_len += n;
	*slot = (uint32_t)++p->nstr;
	return (int64_t)(p->nstr - 1);
}

/* ---- the messages ---- */

struct gomem_error *gm_pprof_create(struct gm_pprof **ret)
{
	struct gm_pprof *p = calloc(1, sizeof(*p));
	if (!p)
		return &gm_error_no_memory;
	gm_pprof_string(p, ""); /* string_table[0] must be "" */
	if (p->failed) {
		gm_pprof_destroy(p);
		return &gm_error_no_memory;
	}
	*ret = p;
	return NULL;
}

void gm_pprof_destroy(struct gm_pprof *p)
{
	if (!p)
		return;
	struct buf *bufs[] = {&p->head,	     &p->samples, &p->mappings, &p->locations,
			      &p->functions, &p->msg,	  &p->inner};
	for (size_t i = 0; i < GM_ARRAY_SIZE(bufs); i++)
		gm_strbuf_deinit(bufs[i]);
	free(p->chars);
	free(p->str_off);
	free(p->slots);
	free(p->func_of_str);
	free(p);
}

static void value_type(struct gm_pprof *p, struct buf *m, const char *type, const char *unit)
{
	put_int(p, m, VALUE_TYPE_TYPE, gm_pprof_string(p, type));
	put_int(p, m, VALUE_TYPE_UNIT, gm_pprof_string(p, unit));
}

void gm_pprof_sample_type(struct gm_pprof *p, const char *type, const char *unit)
{
	value_type(p, &p->msg, type, unit);
	put_message(p, &p->head, PROFILE_SAMPLE_TYPE, &p->msg);
}

void gm_pprof_period(struct gm_pprof *p, const char *type, const char *unit, int64_t period)
{
	p->period_type = gm_pprof_string(p, type);
	p->period_unit = gm_pprof_string(p, unit);
	p->period = period;
	p->have_period = true;
}

void gm_pprof_default_sample_type(struct gm_pprof *p, const char *type)
{
	p->default_sample_type = gm_pprof_string(p, type);
}

void gm_pprof_time(struct gm_pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
	p->time_nanos = time_nanos;
	p->duration_nanos = duration_nanos;
}

void gm_pprof_comment(struct gm_pprof *p, const char *text)
{
	int64_t i = gm_pprof_string(p, text);
	/* Not put_int: a comment is an entry of a repeated field, even when it is "". */
	put_key(p, &p->head, PROFILE_COMMENT, WIRE_VARINT);
	put_varint(p, &p->head, (uint64_t)i);
}

uint64_t gm_pprof_mapping(struct gm_pprof *p, const struct gm_pprof_mapping *m)
{
	uint64_t id = ++p->nmappings;
	struct buf *b = &p->msg;
	put_uint(p, b, MAPPING_ID, id);
	put_uint(p, b, MAPPING_MEMORY_START, m->start);
	put_uint(p, b, MAPPING_MEMORY_LIMIT, m->limit);
	put_uint(p, b, MAPPING_FILE_OFFSET, m->offset);
	put_int(p, b, MAPPING_FILENAME, gm_pprof_string(p, m->file));
	put_int(p, b, MAPPING_BUILD_ID, gm_pprof_string(p, m->build_id));
	put_uint(p, b, MAPPING_HAS_FUNCTIONS, m->has_functions);
	put_uint(p, b, MAPPING_HAS_FILENAMES, m->has_filenames);
	put_uint(p, b, MAPPING_HAS_LINE_NUMBERS, m->has_line_numbers);
	put_uint(p, b, MAPPING_HAS_INLINE_FRAMES, m->has_inline_frames);
	put_message(p, &p->mappings, PROFILE_MAPPING, b);
	return id;
}

uint64_t gm_pprof_function(struct gm_pprof *p, const char *name, const char *system_name,
			   const char *file, int64_t start_line)
{
	uint64_t id = ++p->nfunctions;
	int64_t name_index = gm_pprof_string(p, name);
	struct buf *b = &p->msg;
	put_uint(p, b, FUNCTION_ID, id);
	put_int(p, b, FUNCTION_NAME, name_index);
	put_int(p, b, FUNCTION_SYSTEM_NAME, gm_pprof_string(p, system_name));
	put_int(p, b, FUNCTION_FILENAME, gm_pprof_string(p, file));
	put_int(p, b, FUNCTION_START_LINE, start_line);
	put_message(p, &p->functions, PROFILE_FUNCTION, b);
	if (!p->failed && !p->func_of_str[name_index])
		p->func_of_str[name_index] = id;
	return id;
}

uint64_t gm_pprof_function_by_name(struct gm_pprof *p, const char *name)
{
	if (p->failed || !p->nslots)
		return 0;
	if (!name)
		name = "";
	uint32_t v = *find_slot(p, name, hash_string(name));
	return v ? p->func_of_str[v - 1] : 0;
}

uint64_t gm_pprof_location(struct gm_pprof *p, uint64_t mapping_id, uint64_t address,
			   const struct gm_pprof_line *lines, size_t nlines)
{
	uint64_t id = ++p->nlocations;
	struct buf *b = &p->msg;
	put_uint(p, b, LOCATION_ID, id);
	put_uint(p, b, LOCATION_MAPPING_ID, mapping_id);
	put_uint(p, b, LOCATION_ADDRESS, address);
	for (size_t i = 0; i < nlines; i++) {
		put_uint(p, &p->inner, LINE_FUNCTION_ID, lines[i].function_id);
		put_int(p, &p->inner, LINE_LINE, lines[i].line);
		put_message(p, b, LOCATION_LINE, &p->inner);
	}
	put_message(p, &p->locations, PROFILE_LOCATION, b);
	return id;
}

/* A packed repeated integer field (left out when empty). */
static void put_packed(struct gm_pprof *p, struct buf *b, unsigned field, const uint64_t *v,
		       size_t n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		put_varint(p, &p->inner, v[i]);
	put_message(p, b, field, &p->inner);
}

void gm_pprof_sample(struct gm_pprof *p, const uint64_t *locations, size_t nlocations,
		     const int64_t *values, size_t nvalues, const struct gm_pprof_label *labels,
		     size_t nlabels)
{
	struct buf *b = &p->msg;
	p->nsamples++;
	put_packed(p, b, SAMPLE_LOCATION_ID, locations, nlocations);
	if (nvalues) {
		for (size_t i = 0; i < nvalues; i++)
			put_varint(p, &p->inner, (uint64_t)values[i]);
		put_message(p, b, SAMPLE_VALUE, &p->inner);
	}
	for (size_t i = 0; i < nlabels; i++) {
		const struct gm_pprof_label *l = &labels[i];
		put_int(p, &p->inner, LABEL_KEY, gm_pprof_string(p, l->key));
		if (l->str)
			put_int(p, &p->inner, LABEL_STR, gm_pprof_string(p, l->str));
		else
			put_int(p, &p->inner, LABEL_NUM, l->num);
		if (!l->str && l->num_unit)
			put_int(p, &p->inner, LABEL_NUM_UNIT, gm_pprof_string(p, l->num_unit));
		put_message(p, b, SAMPLE_LABEL, &p->inner);
	}
	put_message(p, &p->samples, PROFILE_SAMPLE, b);
}

void gm_pprof_counts(const struct gm_pprof *p, struct gm_pprof_counts *ret)
{
	ret->samples = p->nsamples;
	ret->locations = p->nlocations;
	ret->functions = p->nfunctions;
	ret->mappings = p->nmappings;
	ret->strings = p->nstr;
}

/* ---- the whole Profile ---- */

/* The fields encoded last: the string table and the single values. */
static void encode_tail(struct gm_pprof *p, struct buf *b)
{
	for (size_t i = 0; i < p->nstr; i++) {
		const char *s = p->chars + p->str_off[i];
		put_length_delimited(p, b, PROFILE_STRING_TABLE, s, strlen(s));
	}
	put_int(p, b, PROFILE_TIME_NANOS, p->time_nanos);
	put_int(p, b, PROFILE_DURATION_NANOS, p->duration_nanos);
	if (p->have_period) {
		put_int(p, &p->inner, VALUE_TYPE_TYPE, p->period_type);
		put_int(p, &p->inner, VALUE_TYPE_UNIT, p->period_unit);
		put_message(p, b, PROFILE_PERIOD_TYPE, &p->inner);
		put_int(p, b, PROFILE_PERIOD, p->period);
	}
	put_int(p, b, PROFILE_DEFAULT_SAMPLE_TYPE, p->default_sample_type);
}

/* The parts of the Profile message, in the order they are written. */
static size_t parts(struct gm_pprof *p, struct buf *tail, const struct buf **out)
{
	const struct buf *v[] = {&p->head,	&p->samples,   &p->mappings,
				 &p->locations, &p->functions, tail};
	for (size_t i = 0; i < GM_ARRAY_SIZE(v); i++)
		out[i] = v[i];
	return GM_ARRAY_SIZE(v);
}

/* Whether an allocation failed: the string table's, or a buffer's. */
static bool failed(const struct gm_pprof *p, const struct buf *tail)
{
	const struct buf *v[] = {&p->head,	&p->samples, &p->mappings, &p->locations,
				 &p->functions, &p->msg,     &p->inner,	   tail};
	for (size_t i = 0; i < GM_ARRAY_SIZE(v); i++) {
		if (v[i]->failed)
			return true;
	}
	return p->failed;
}

struct gomem_error *gm_pprof_encode(struct gm_pprof *p, uint8_t **buf_ret, size_t *len_ret)
{
	struct buf tail = {0}, all = {0};
	const struct buf *v[8];
	encode_tail(p, &tail);
	size_t n = parts(p, &tail, v);
	for (size_t i = 0; i < n; i++)
		put_bytes(p, &all, v[i]->s, v[i]->len);
	bool oom = failed(p, &tail) || all.failed;
	gm_strbuf_deinit(&tail);
	if (oom) {
		gm_strbuf_deinit(&all);
		return &gm_error_no_memory;
	}
	*len_ret = all.len;
	*buf_ret = (uint8_t *)gm_strbuf_steal(&all);
	return NULL;
}

static struct gomem_error *write_all(int fd, const uint8_t *b, size_t n, const char *path)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return gm_error_errno(GOMEM_ERROR_IO, w < 0 ? errno : EIO,
					      "cannot write %s", path);
		b += w;
		n -= (size_t)w;
	}
	return NULL;
}

/* Compresses the parts through z into fd. */
static struct gomem_error *deflate_parts(z_stream *z, const struct buf *const *v, size_t n, int fd,
					 const char *path, uint64_t *bytes)
{
	uint8_t out[1 << 16];
	for (size_t i = 0; i <= n; i++) {
		bool last = i == n;
		z->next_in = last ? NULL : (Bytef *)v[i]->s;
		z->avail_in = last ? 0 : (uInt)v[i]->len;
		if (!last && v[i]->len > UINT32_MAX)
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: a part of 4 GiB or more",
					path);
		int rc;
		do {
			z->next_out = out;
			z->avail_out = sizeof(out);
			rc = deflate(z, last ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR)
				return gm_error(GOMEM_ERROR_IO, "%s: zlib: deflate failed", path);
			size_t have = sizeof(out) - z->avail_out;
			TRY(write_all(fd, out, have, path));
			*bytes += have;
		} while (z->avail_out == 0 || (last && rc != Z_STREAM_END));
	}
	return NULL;
}

struct gomem_error *gm_pprof_write(struct gm_pprof *p, const char *path, uint64_t *bytes_ret)
{
	struct buf tail = {0};
	encode_tail(p, &tail);
	if (failed(p, &tail)) {
		gm_strbuf_deinit(&tail);
		return &gm_error_no_memory;
	}
	const struct buf *v[8];
	size_t n = parts(p, &tail, v);
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer around the deflate stream, as pprof files have. */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		gm_strbuf_deinit(&tail);
		return &gm_error_no_memory;
	}
	struct gomem_error *err = NULL;
	uint64_t bytes = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err = gm_error_errno(GOMEM_ERROR_IO, errno, "cannot create %s", path);
	if (!err)
		err = deflate_parts(&z, v, n, fd, path, &bytes);
	deflateEnd(&z);
	gm_strbuf_deinit(&tail);
	/* A partial file is removed; a device or a pipe given as the path is left alone. */
	struct stat st;
	bool regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (fd >= 0 && close(fd) != 0 && !err)
		err = gm_error_errno(GOMEM_ERROR_IO, errno, "cannot write %s", path);
	if (err && regular)
		unlink(path);
	if (!err && bytes_ret)
		*bytes_ret = bytes;
	return err;
}
