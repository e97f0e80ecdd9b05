/*
 * The Go runtime's global variables in a binary without DWARF or symbols:
 * found from .gopclntab (function names and entries) and code patterns in
 * the functions that use them (STRIPPED.md). Every rule takes a unique
 * answer or a consensus, and only targets in a writable segment; rules
 * that two ways reach the same global must agree.
 */
#ifndef GOMEM_DWARF_GLOBALS_H
#define GOMEM_DWARF_GLOBALS_H

#include "dwarf/dwarf.h"
#include "target/pclntab.h"
#include "target/target.h"

struct gm_globals;

/*
 * Runs every rule on exe's code (amd64). layout answers the few member
 * offsets the rules need (asked through the DWARF layer, so recorded like
 * any other question).
 */
struct gomem_error *gm_globals_find(const struct gm_exe *exe, struct gm_pclntab *p,
				    struct gm_dwarf *layout, struct gm_globals **ret);
void gm_globals_destroy(struct gm_globals *g);
/* The link-time address of the runtime global name ("runtime.mheap_"); false when not found. */
bool gm_globals_lookup(const struct gm_globals *g, const char *name, uint64_t *addr_ret);
/* Whether a rule looks for the global name. */
bool gm_globals_known(const char *name);
/* Why name was not found (or "no rule"), for messages. */
const char *gm_globals_why(const struct gm_globals *g, const char *name);

/* The globals the rules know, in order, and the rule of each (for tests and reports). */
size_t gm_globals_count(void);
const char *gm_globals_name(size_t i);
const char *gm_globals_rule(size_t i);

#endif /* GOMEM_DWARF_GLOBALS_H */
