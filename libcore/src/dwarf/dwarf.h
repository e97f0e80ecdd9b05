/*
 * What the runtime layer asks about a binary's Go runtime: variables,
 * constants and types by name. From the executable's DWARF, a debug file's,
 * or without DWARF from a reference program or gomem's layout tables plus
 * the runtime's globals found in code (dwarf.c says how).
 */
#ifndef GOMEM_DWARF_H
#define GOMEM_DWARF_H

#include "base/base.h"
#include "target/target.h"

struct gm_dwarf;

/* Where the answers come from. */
enum gm_dwarf_source {
	GM_DWARF_EXE,	      /* the executable's own DWARF */
	GM_DWARF_DEBUG_FILE,  /* a debug file, checked against the executable */
	GM_DWARF_LAYOUT_FROM, /* layouts from --layout-from REF, globals from code */
	GM_DWARF_TABLE,	      /* layouts from gomem's tables, globals from code */
};

/* A member (or a member path "a.b.c") of a struct, resolved. */
struct gm_field {
	bool present;
	uint64_t offset;    /* from the start of the outer struct */
	uint64_t size;	    /* of the member, after unwrapping atomic wrappers */
	uint64_t elem_size; /* arrays and slices: size of an element */
	uint64_t count;	    /* arrays: number of elements */
};

/* The DWARF of the file at path (libdw). */
struct gomem_error *gm_dwarf_open(const char *exe_path, struct gm_dwarf **ret);
/*
 * The answers for exe: its debug file's DWARF (debug, when not NULL), else
 * its own, else (without DWARF) layouts from the program at layout_from or
 * gomem's table of exe's configuration, with the runtime's globals found in
 * exe's code through its function table p. An unknown configuration is an
 * error that names it and the two ways to proceed.
 */
struct gomem_error *gm_dwarf_open_for(const struct gm_exe *exe, const struct gm_debug_file *debug,
				      struct gm_pclntab *p, const char *layout_from,
				      struct gm_dwarf **ret);
/*
 * The answers for exe as if it had no DWARF: layouts from the table of its
 * configuration in tables (the text of layout tables), globals from its
 * code. For the tests, which replay what they recorded.
 */
struct gomem_error *gm_dwarf_open_replay(const struct gm_exe *exe, struct gm_pclntab *p,
					 const char *tables, struct gm_dwarf **ret);
void gm_dwarf_destroy(struct gm_dwarf *d);
enum gm_dwarf_source gm_dwarf_source(const struct gm_dwarf *d);
/* The file the layouts came from: the executable, the debug file, REF; NULL for a table. */
const char *gm_dwarf_file(const struct gm_dwarf *d);
/* One sentence for reports when there is no DWARF: where answers came from; else NULL. */
const char *gm_dwarf_description(const struct gm_dwarf *d);
/*
 * Whether the DWARF describes this very program (its own, or a checked
 * debug file): only then do its types, functions and variables beyond the
 * runtime's layouts mean anything for it.
 */
bool gm_dwarf_is_program(const struct gm_dwarf *d);
/* Globals that exist but whose address the code patterns did not find: "name: why". */
size_t gm_dwarf_nnotes(const struct gm_dwarf *d);
const char *gm_dwarf_note(const struct gm_dwarf *d, size_t i);

/* Address of a global variable (link-time). */
struct gomem_error *gm_dwarf_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret);
/* Whether the variable exists and gm_dwarf_variable() can give its address. */
bool gm_dwarf_has_variable(struct gm_dwarf *d, const char *name);
/* Whether the variable exists in the binary (its address may be unknown without DWARF). */
bool gm_dwarf_variable_exists(struct gm_dwarf *d, const char *name);
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

/*
 * Recording: from now on every answer is kept, and gm_dwarf_record_text()
 * gives them as the lines of a layout table (dwarf/tables.h), sorted. For
 * tools/layouts/, which makes the tables.
 */
struct gomem_error *gm_dwarf_record_start(struct gm_dwarf *d);
char *gm_dwarf_record_text(struct gm_dwarf *d);
/*
 * Runs the code patterns of dwarf/globals.c on exe with d's layouts, and
 * compares each global found with d's DWARF (which exe must have): one line
 * per global into report, the number of wrong addresses (which must be 0)
 * and of globals not found.
 */
struct gomem_error *gm_dwarf_check_globals(struct gm_dwarf *d, const struct gm_exe *exe,
					   struct gm_pclntab *p, struct gm_strbuf *report,
					   size_t *wrong_ret, size_t *missing_ret);

/* ---- the program's own types and globals (dwtypes.c) ---- */

/*
 * Go's DWARF attributes (cmd/internal/dwarf/dwarf.go): the kind, key and
 * element of a type, and its runtime type as an OFFSET from the module's
 * moduledata.types (0: the type symbol was not kept), not an address.
 */
#define GM_DW_AT_GO_KIND	   0x2900
#define GM_DW_AT_GO_KEY		   0x2901
#define GM_DW_AT_GO_ELEM	   0x2902
#define GM_DW_AT_GO_EMBEDDED	   0x2903
#define GM_DW_AT_GO_RUNTIME_TYPE   0x2904
#define GM_DW_AT_GO_CLOSURE_OFFSET 0x2907

/* One DWARF type of the program, typedefs followed (a Go typedef with a kind is kept). */
struct gm_dwarf_type {
	uint64_t off;	       /* its DIE's offset in .debug_info */
	const char *name;      /* libdw's string; "" when unnamed */
	int tag;	       /* DW_TAG_* */
	unsigned go_kind;      /* DW_AT_go_kind (the abi.Kind); 0 when absent */
	uint64_t size;	       /* DW_AT_byte_size, 8 for pointers and funcs; 0 when unknown */
	uint64_t runtime_type; /* DW_AT_go_runtime_type: offset from moduledata.types; 0 none */
	uint64_t elem, key;    /* DIE offsets (pointer: pointee, array: element); 0 none */
	uint64_t count;	       /* arrays: the element count */
	size_t nmembers;       /* structs: DW_TAG_member children */
};

struct gm_dwarf_member {
	const char *name;
	uint64_t offset, type; /* type: DIE offset */
	bool embedded;
};

/* A global variable of the program with a DW_OP_addr location (link-time address). */
struct gm_dwarf_global {
	const char *name;
	uint64_t addr, type; /* type: DIE offset */
};

/* The type whose DIE is at off. Only with the program's own DWARF (gm_dwarf_is_program). */
struct gomem_error *gm_dwarf_type_at(struct gm_dwarf *d, uint64_t off, struct gm_dwarf_type *ret);
/* The members of the struct type at off, in order (free() the array). */
struct gomem_error *gm_dwarf_type_members(struct gm_dwarf *d, uint64_t off,
					  struct gm_dwarf_member **ret, size_t *n_ret);
/* The top-level type named name in any compile unit; *found false when none. */
struct gomem_error *gm_dwarf_find_type(struct gm_dwarf *d, const char *name, uint64_t *off_ret,
				       bool *found);
/* Every global variable of the program, sorted by address (free() the array). */
struct gomem_error *gm_dwarf_globals(struct gm_dwarf *d, struct gm_dwarf_global **ret,
				     size_t *n_ret);

/* A function whose DWARF gives its captured variables' offsets (Go 1.23+): a closure's code. */
struct gm_dwarf_closure {
	uint64_t pc; /* its entry, link-time */
	uint64_t die;
	const char *name;
};

/* Every closure function of the program, sorted by entry (free() the array). */
struct gomem_error *gm_dwarf_closures(struct gm_dwarf *d, struct gm_dwarf_closure **ret,
				      size_t *n_ret);
/* Its captured variables: offset in the closure object (after fn), name, type. */
struct gomem_error *gm_dwarf_closure_vars(struct gm_dwarf *d, uint64_t die,
					  struct gm_dwarf_member **ret, size_t *n_ret);
/* Every function of the program with an entry, sorted by entry (free() the array). */
struct gomem_error *gm_dwarf_functions(struct gm_dwarf *d, struct gm_dwarf_closure **ret,
				       size_t *n_ret);
/* The type of the i-th parameter (results not counted) of the function at die. */
struct gomem_error *gm_dwarf_func_param(struct gm_dwarf *d, uint64_t die, unsigned i,
					uint64_t *type_ret, bool *found);

/*
 * The variables of the function at die (its own, not its blocks') whose
 * location at pc (link-time) keeps one of their words in DWARF register
 * reg: each as its name, the offset of that word in the variable, and its
 * type (free() the array). A closure's code before Go 1.23 says by these
 * which captured variable it just loaded from the closure object.
 */
struct gomem_error *gm_dwarf_reg_vars(struct gm_dwarf *d, uint64_t die, uint64_t pc, unsigned reg,
				      struct gm_dwarf_member **ret, size_t *n_ret);

/* A part of a frame variable in memory: size bytes at addr hold bytes [var_off, +size) of it. */
struct gm_dwarf_piece {
	uint64_t addr, size; /* size 0: the whole variable */
	uint64_t var_off;
	uint64_t type;	  /* the variable's type: DIE offset */
	const char *name; /* the variable's name (libdw's string), NULL when it has none */
};

/*
 * The memory pieces of the variables and parameters of the function at die
 * (and of its lexical blocks) that have a location at pc (link-time), the
 * frame's CFA being cfa (free() the array); none when die does not cover pc.
 */
struct gomem_error *gm_dwarf_frame_pieces(struct gm_dwarf *d, uint64_t die, uint64_t pc,
					  uint64_t cfa, struct gm_dwarf_piece **ret, size_t *n_ret);

#endif /* GOMEM_DWARF_H */
