/*
 * A writer of pprof profiles: the profile.proto messages of
 * github.com/google/pprof/proto/profile.proto (Profile, ValueType, Sample,
 * Label, Mapping, Location, Line, Function), encoded by hand as the
 * protobuf wire format, gzipped with zlib, as `go tool pprof` reads them.
 *
 * Each message is encoded as it is added, into one buffer per kind, so
 * memory grows with the size of the output and nothing else; strings are
 * kept once in the string table. Ids of mappings, functions and locations
 * are 1, 2, 3... in the order they are added. An allocation failure is
 * sticky: every later call does nothing, and gm_pprof_encode() or
 * gm_pprof_write() reports it.
 */
#ifndef GOMEM_BASE_PPROF_H
#define GOMEM_BASE_PPROF_H

#include "base/base.h"

struct gm_pprof;

/* A label of a sample: key and either str or num (with num_unit, or NULL). */
struct gm_pprof_label {
	const char *key, *str;
	int64_t num;
	const char *num_unit;
};

/* A line of a location: the function (an id from gm_pprof_function) and its line. */
struct gm_pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct gm_pprof_mapping {
	uint64_t start, limit, offset;
	const char *file, *build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct gomem_error *gm_pprof_create(struct gm_pprof **ret);
void gm_pprof_destroy(struct gm_pprof *p);

/* The index of s in the string table (added when new); 0 is "". */
int64_t gm_pprof_string(struct gm_pprof *p, const char *s);

/* Profile.sample_type: one per value of each sample, in order. */
void gm_pprof_sample_type(struct gm_pprof *p, const char *type, const char *unit);
/* Profile.period_type and Profile.period. */
void gm_pprof_period(struct gm_pprof *p, const char *type, const char *unit, int64_t period);
void gm_pprof_default_sample_type(struct gm_pprof *p, const char *type);
/* Profile.time_nanos and duration_nanos (0: not set). */
void gm_pprof_time(struct gm_pprof *p, int64_t time_nanos, int64_t duration_nanos);
/* One more Profile.comment line. */
void gm_pprof_comment(struct gm_pprof *p, const char *text);

/* Adds a mapping; its id. */
uint64_t gm_pprof_mapping(struct gm_pprof *p, const struct gm_pprof_mapping *m);
/* Adds a function; its id. The first function added with a name is the one found by it. */
uint64_t gm_pprof_function(struct gm_pprof *p, const char *name, const char *system_name,
			   const char *file, int64_t start_line);
/* The id of the first function added with this name, 0 when none. */
uint64_t gm_pprof_function_by_name(struct gm_pprof *p, const char *name);
/* Adds a location (mapping_id 0: none); lines innermost first. Its id. */
uint64_t gm_pprof_location(struct gm_pprof *p, uint64_t mapping_id, uint64_t address,
			   const struct gm_pprof_line *lines, size_t nlines);
/* Adds a sample: its locations, leaf first, its values (one per sample type) and labels. */
void gm_pprof_sample(struct gm_pprof *p, const uint64_t *locations, size_t nlocations,
		     const int64_t *values, size_t nvalues, const struct gm_pprof_label *labels,
		     size_t nlabels);

/* How many of each were added. */
struct gm_pprof_counts {
	uint64_t samples, locations, functions, mappings, strings;
};
void gm_pprof_counts(const struct gm_pprof *p, struct gm_pprof_counts *ret);

/* The Profile message, not compressed (to free()). */
struct gomem_error *gm_pprof_encode(struct gm_pprof *p, uint8_t **buf_ret, size_t *len_ret);
/*
 * Writes the profile gzipped to path (created or replaced; removed again
 * when writing fails). *bytes_ret (if not NULL) is the file's size.
 */
struct gomem_error *gm_pprof_write(struct gm_pprof *p, const char *path, uint64_t *bytes_ret);

#endif /* GOMEM_BASE_PPROF_H */
