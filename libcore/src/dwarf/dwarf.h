/* The executable's DWARF, through libdw: the Go runtime's variables, constants and types. */
#ifndef GOMEM_DWARF_H
#define GOMEM_DWARF_H

#include "base/base.h"

struct gm_dwarf;

/* A member (or a member path "a.b.c") of a struct, resolved. */
struct gm_field {
	bool present;
	uint64_t offset;    /* from the start of the outer struct */
	uint64_t size;	    /* of the member, after unwrapping atomic wrappers */
	uint64_t elem_size; /* arrays and slices: size of an element */
	uint64_t count;	    /* arrays: number of elements */
};

struct gomem_error *gm_dwarf_open(const char *exe_path, struct gm_dwarf **ret);
void gm_dwarf_destroy(struct gm_dwarf *d);
/* Address of a global variable. */
struct gomem_error *gm_dwarf_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret);
bool gm_dwarf_has_variable(struct gm_dwarf *d, const char *name);
/* Value of a DW_TAG_constant. */
struct gomem_error *gm_dwarf_constant(struct gm_dwarf *d, const char *name, int64_t *ret);
bool gm_dwarf_has_constant(struct gm_dwarf *d, const char *name);
/* Size of a named type (struct or typedef). */
struct gomem_error *gm_dwarf_sizeof(struct gm_dwarf *d, const char *type, uint64_t *ret);
bool gm_dwarf_has_type(struct gm_dwarf *d, const char *type);
/*
 * Resolves a member path in a named struct type. A member whose type is a
 * struct with a single scalar "value" (the sync/atomic wrappers) is
 * unwrapped, so its size is that of the scalar. A missing member gives
 * present = false and no error.
 */
struct gomem_error *gm_dwarf_field(struct gm_dwarf *d, const char *type, const char *path,
				   struct gm_field *ret);

#endif /* GOMEM_DWARF_H */
