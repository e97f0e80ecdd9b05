/*
 * Go types as the runtime describes them (its type descriptors,
 * runtime._type / internal/abi.Type and the kind-specific structs after
 * it, GO-OBJECTS.md §4) and as the program's DWARF does where no
 * descriptor was kept: one table of types with dense ids, 0 being the
 * unknown type. Names come from moduledata (nameOff into its types), so
 * everything but the DWARF side works without DWARF.
 */
#ifndef GOMEM_RUNTIME_GOTYPES_H
#define GOMEM_RUNTIME_GOTYPES_H

#include "base/u64map.h"
#include "runtime/runtime.h"

/* abi.Kind, the same in Go 1.19-1.27 (internal/abi/type.go). */
enum gm_kind {
	GM_KIND_INVALID = 0,
	GM_KIND_BOOL = 1,
	GM_KIND_UINTPTR = 12,
	GM_KIND_ARRAY = 17,
	GM_KIND_CHAN = 18,
	GM_KIND_FUNC = 19,
	GM_KIND_INTERFACE = 20,
	GM_KIND_MAP = 21,
	GM_KIND_POINTER = 22,
	GM_KIND_SLICE = 23,
	GM_KIND_STRING = 24,
	GM_KIND_STRUCT = 25,
	GM_KIND_UNSAFE_POINTER = 26,
	GM_KIND_MAX = 26,
};

/* A reference to a type not yet in the table: a descriptor or a DWARF DIE. */
enum gm_typeref_kind { GM_TYPEREF_NONE, GM_TYPEREF_RUNTIME, GM_TYPEREF_DWARF };
struct gm_typeref {
	enum gm_typeref_kind kind;
	uint64_t at; /* the descriptor's address, or the DIE's offset */
};

struct gm_gofield {
	const char *name;
	uint64_t offset;
	struct gm_typeref type;
	bool embedded;
};

/* A map type's entries, the same words for old buckets and swiss groups. */
struct gm_maptype {
	enum gm_map_impl impl;
	struct gm_typeref group;       /* bucket<K,V> or group type; NONE when not known */
	uint64_t group_size, slots;    /* bytes of a bucket or group; slots in it (8) */
	uint64_t keys_off, key_stride; /* key i at group + keys_off + i*key_stride */
	uint64_t elems_off, elem_stride;
	bool indirect_key, indirect_elem; /* the slot holds a pointer to the key / elem */
};

struct gm_gotype {
	uint64_t addr;	  /* its descriptor; 0 for unknown and DWARF-only types */
	uint64_t dwarf;	  /* its DIE when it came from DWARF; 0 otherwise */
	const char *name; /* "main.listNode", "[]*main.sliceItem"; "unknown" for id 0 */
	unsigned kind;	  /* enum gm_kind */
	uint64_t size, ptrdata;
	uint8_t tflag;
	bool direct_iface; /* an interface holds the value itself, not a pointer to it */
	bool gcprog;	   /* GCData is a GC program (<= 1.23) */
	bool on_demand;	   /* GCData is a **byte filled on first use (1.24+) */
	bool dummy;	   /* a largeType made for a GC program (1.22-1.23): no name, no kind */
	uint64_t gcdata;
	struct gm_typeref elem, key;   /* pointer, slice, array, chan, map */
	uint64_t len;		       /* arrays */
	uint32_t first_field, nfields; /* structs: into the table's fields */
	uint32_t map;		       /* maps: index + 1 into the table's maps; 0 none */
};

/* The table of types (gotypes.c). Ids are dense, 0 is "unknown". */
struct gm_gotypes {
	struct gm_runtime *rt;
	const struct gm_types_layout *L;
	struct gm_gotype *types;
	size_t ntypes, cap;
	struct gm_gofield *fields;
	size_t nfields, fields_cap;
	struct gm_maptype *maps;
	size_t nmaps, maps_cap;
	struct gm_u64map by_addr, by_dwarf; /* to id + 1 */
	char **names;			    /* owned names */
	size_t nnames, names_cap;
	uint64_t *module_types; /* [types, etypes) of each module, pairs */
	size_t nmodules;
	size_t bad; /* descriptors that could not be read or made no sense */
};

#define GM_TYPE_UNKNOWN 0u

/*
 * An empty table for rt (its descriptors' layout resolved now): only the
 * unknown type. Fails when the binary's descriptors cannot be found.
 */
struct gomem_error *gm_gotypes_init(struct gm_gotypes *tt, struct gm_runtime *rt);
void gm_gotypes_deinit(struct gm_gotypes *tt);
/* The type of id (never NULL: an unknown id gives the unknown type). Valid until the next add. */
const struct gm_gotype *gm_gotypes_get(const struct gm_gotypes *tt, uint32_t id);
/*
 * The id of the descriptor at addr, read now if new; a descriptor that
 * cannot be read or is not a type gives GM_TYPE_UNKNOWN (counted in bad).
 * Reads one descriptor: its element, key and fields stay references,
 * resolved by gm_gotypes_ref(), so cycles cost nothing.
 */
struct gomem_error *gm_gotypes_at(struct gm_gotypes *tt, uint64_t addr, uint32_t *id_ret);
/* The id of a DWARF type (its runtime descriptor when DWARF names one). */
struct gomem_error *gm_gotypes_dwarf(struct gm_gotypes *tt, uint64_t die, uint32_t *id_ret);
struct gomem_error *gm_gotypes_ref(struct gm_gotypes *tt, struct gm_typeref ref, uint32_t *id_ret);
/* The fields of a struct type (pointer into the table, valid until the next add). */
const struct gm_gofield *gm_gotypes_fields(const struct gm_gotypes *tt, uint32_t id, size_t *n_ret);
/* A map type's entries; NULL when id is not a map. */
const struct gm_maptype *gm_gotypes_map(const struct gm_gotypes *tt, uint32_t id);
/* The type an itab is for (itab.Type / itab._type); 0 when unreadable. */
struct gomem_error *gm_gotypes_itab_type(struct gm_gotypes *tt, uint64_t itab, uint64_t *ret);
/* The address of the descriptor at DWARF's runtime-type offset (in the first module). */
bool gm_gotypes_dwarf_addr(const struct gm_gotypes *tt, uint64_t offset, uint64_t *ret);
/* A struct type the caller describes (a closure's captured variables): its fields are copied. */
struct gomem_error *gm_gotypes_add_struct(struct gm_gotypes *tt, const char *name, uint64_t size,
					  const struct gm_gofield *fields, size_t n,
					  uint32_t *id_ret);
/* The program's DWARF type of that name ("uint8", "runtime.hchan"); GM_TYPE_UNKNOWN when none. */
struct gomem_error *gm_gotypes_named(struct gm_gotypes *tt, const char *name, uint32_t *id_ret);
/* The kind's name ("struct", "ptr", ...), as reflect.Kind.String says it. */
const char *gm_kind_name(unsigned kind);

#endif /* GOMEM_RUNTIME_GOTYPES_H */
