/*
 * Every object's type (GO-OBJECTS.md §4.9, §5.5): from its own descriptor
 * (malloc header, largeType), then propagated from the DWARF-typed
 * globals and from the roots' closures through pointers, slices, arrays,
 * strings, maps, channels, interfaces and closures. Each propagation is
 * checked against the object's pointer words and rejected on mismatch.
 */
#ifndef GOMEM_OBJECTS_TYPING_H
#define GOMEM_OBJECTS_TYPING_H

#include "objects/objects.h"
#include "runtime/gotypes.h"

/* The type of a slot: a type id, and whether the object is an array of it. */
#define GM_TYPING_ARRAY (1u << 31)

struct gm_typing_stats {
	uint64_t self_typed;  /* objects typed by their malloc header or largeType */
	uint64_t propagated;  /* objects typed from a typed referrer */
	uint64_t rejected;    /* propagations refused: the type's pointers are not the object's */
	uint64_t interior;    /* pointers into an object at no multiple of the type's size */
	uint64_t globals;     /* DWARF-typed globals walked */
	uint64_t closures;    /* closure objects typed by their function */
	uint64_t bad_types;   /* descriptors that could not be read */
	uint64_t stack_slots; /* live stack words typed by their frame's DWARF variable */
	uint64_t widened;     /* objects typed as one T first, then as an array of T */
	uint64_t statics; /* static values (in a module's data or bss) walked by a typed pointer */
	uint64_t
	    statics_rejected; /* ... refused: a pointer word of the type is none of the GC mask's */
	uint64_t statics_skipped;	 /* ... not walked: too many, or reached through too many */
	uint64_t iface_pairs;		 /* interface word pairs found in untyped objects */
	uint64_t iface_typed;		 /* ... whose pointee they typed */
	uint64_t iface_rejected;	 /* ... whose type the pointee's pointer words refused */
	uint64_t closure_code_layouts;	 /* closure functions laid out by their code (< 1.23) */
	uint64_t closure_code_conflicts; /* ... whose code and DWARF disagreed: no layout */
};

struct gm_typing {
	struct gm_graph *g;
	struct gm_gotypes tt;
	uint32_t *type; /* per slot id: type id | GM_TYPING_ARRAY; 0: unknown */
	struct gm_typing_stats stats;
	void *priv; /* the propagation's working state (typing.c) */
};

/* Types the objects of a marked graph. */
struct gomem_error *gm_typing_create(struct gm_graph *g, struct gm_typing **ret);
void gm_typing_destroy(struct gm_typing *ty);

/* The type id of slot id (GM_TYPE_UNKNOWN when none). */
static inline uint32_t gm_typing_type(const struct gm_typing *ty, uint32_t id)
{
	return id < ty->g->idx->nslots ? ty->type[id] & ~GM_TYPING_ARRAY : GM_TYPE_UNKNOWN;
}

#endif /* GOMEM_OBJECTS_TYPING_H */
