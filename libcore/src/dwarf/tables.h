/*
 * Layout tables: the answers gomem's resolver got from DWARF, recorded for
 * an empty program of each known (Go release, GOARCH, GOEXPERIMENT set,
 * race/msan/asan) configuration, and replayed for a binary of that
 * configuration without DWARF. The tables (libcore/layouts/goN.M.txt) are
 * written by tools/layouts/generate.sh and compiled into the library; they
 * hold exactly the questions gomem asks, one a line:
 *
 *   T type = 0|1                 the type exists
 *   S type = N|error             its size
 *   K name = 0|1                 the constant exists
 *   C name = N|error             its value
 *   V name = 0|1                 the variable exists (its address comes from code)
 *   F type path = absent|error|OFFSET SIZE ELEM_SIZE COUNT
 *
 * A section starts with "[CONFIG] from GOVERSION", or "[CONFIG] = [OTHER]"
 * for a configuration whose answers are OTHER's (an experiment that changes
 * no layout gomem reads).
 */
#ifndef GOMEM_DWARF_TABLES_H
#define GOMEM_DWARF_TABLES_H

#include "base/base.h"

/* Every table compiled in (generated from libcore/layouts/ at build time). */
extern const char gm_layout_tables_text[];

struct gm_layout_table;

/*
 * The table of config (gm_exe_config's form) in text; *found false when
 * there is none. *from_ret (if not NULL) gets the Go version it was made
 * from, owned by the table.
 */
struct gomem_error *gm_layout_table_load(const char *text, const char *config,
					 struct gm_layout_table **ret, bool *found);
void gm_layout_table_destroy(struct gm_layout_table *t);
/* The value recorded for key ("F runtime.mheap pages"), or NULL. */
const char *gm_layout_table_get(const struct gm_layout_table *t, const char *key);
const char *gm_layout_table_from(const struct gm_layout_table *t);
/* The configurations of text, one a line, to free(). */
char *gm_layout_table_configs(const char *text);

/* Answers being recorded. */
struct gm_layout_record;

struct gm_layout_record *gm_layout_record_create(void);
void gm_layout_record_destroy(struct gm_layout_record *r);
/* Keeps "key = value" (an out-of-memory is remembered and reported by _text). */
void gm_layout_record_add(struct gm_layout_record *r, const char *key, const char *value);
/* The answers, sorted, one a line; NULL when out of memory. free() it. */
char *gm_layout_record_text(struct gm_layout_record *r);

#endif /* GOMEM_DWARF_TABLES_H */
