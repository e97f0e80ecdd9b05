/*
 * The answers about the Go runtime in a binary: global variables,
 * constants and struct layouts, found by name. Every question goes through
 * this file, which asks one of its backends:
 *
 *   - libdw, on the executable's own DWARF or on a debug file checked
 *     against it (target/debugfile.c);
 *   - without DWARF: layouts from a reference program's DWARF
 *     (--layout-from) or from gomem's layout tables (tables.c), and the
 *     runtime's globals from the executable's code (globals.c).
 *
 * Answers can be recorded as they are given: tools/layouts/ makes the
 * layout tables that way, so they hold exactly the questions gomem asks.
 *
 * Only top-level DIEs whose names belong to the runtime's packages are
 * indexed, which keeps opening a large binary cheap.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <errno.h>
#include <inttypes.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dwarf/dwarf.h"
#include "dwarf/globals.h"
#include "dwarf/libdw.h"
#include "dwarf/tables.h"
#include "target/pclntab.h"

enum name_kind { KIND_VARIABLE, KIND_CONSTANT, KIND_TYPE };

struct index_entry {
	const char *name; /* points into libdw's string data; NULL = empty slot */
	Dwarf_Off off;
	uint8_t kind;
	uint8_t typedef_only; /* the type entry is a typedef (keep looking for the struct) */
};

struct gm_dwarf {
	/* libdw: this program's DWARF (dw NULL when it has none). */
	int fd;
	Elf *elf;
	Dwarf *dw;
	struct index_entry *slots;
	size_t nslots, nused;
	char *path;
	/* Without DWARF: where layouts and globals come from. */
	enum gm_dwarf_source source;
	struct gm_dwarf *ref;	       /* --layout-from: the reference program's DWARF */
	struct gm_layout_table *table; /* gomem's table of this configuration */
	struct gm_globals *globals;    /* the runtime's globals, from code */
	struct gm_layout_record *rec;  /* answers recorded for a table */
	char *description;
	char **notes; /* globals that exist but were not found in code */
	size_t nnotes;
};

static struct gomem_error *dwarf_err(const struct gm_dwarf *d, const char *what)
{
	return gm_error(GOMEM_ERROR_NOT_GO, "%s: %s: %s", d->path, what, dwarf_errmsg(-1));
}

static uint64_t hash_name(const char *s, uint8_t kind)
{
	uint64_t h = 1469598103934665603ULL ^ kind; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static struct index_entry *index_find(const struct gm_dwarf *d, const char *name, uint8_t kind)
{
	if (!d->nslots)
		return NULL;
	size_t mask = d->nslots - 1;
	for (size_t i = hash_name(name, kind) & mask;; i = (i + 1) & mask) {
		struct index_entry *e = &d->slots[i];
		if (!e->name)
			return NULL;
		if (e->kind == kind && strcmp(e->name, name) == 0)
			return e;
	}
}

static struct gomem_error *index_grow(struct gm_dwarf *d)
{
	size_t n = d->nslots ? d->nslots * 2 : 4096;
	struct index_entry *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return &gm_error_no_memory;
	for (size_t i = 0; i < d->nslots; i++) {
		struct index_entry *e = &d->slots[i];
		if (!e->name)
			continue;
		size_t j = hash_name(e->name, e->kind) & (n - 1);
		while (slots[j].name)
			j = (j + 1) & (n - 1);
		slots[j] = *e;
	}
	free(d->slots);
	d->slots = slots;
	d->nslots = n;
	return NULL;
}

static struct gomem_error *index_add(struct gm_dwarf *d, const char *name, uint8_t kind,
				     Dwarf_Off off, bool is_typedef)
{
	struct index_entry *e = index_find(d, name, kind);
	if (e) {
		/* A struct wins over the typedef of the same name. */
		if (e->typedef_only && !is_typedef) {
			e->off = off;
			e->typedef_only = 0;
		}
		return NULL;
	}
	if ((d->nused + 1) * 2 > d->nslots) {
		struct gomem_error *err = index_grow(d);
		if (err)
			return err;
	}
	size_t mask = d->nslots - 1;
	size_t i = hash_name(name, kind) & mask;
	while (d->slots[i].name)
		i = (i + 1) & mask;
	d->slots[i] = (struct index_entry){name, off, kind, is_typedef};
	d->nused++;
	return NULL;
}

/*
 * The runtime's own packages, and the sync/atomic wrappers it uses; and
 * internal/abi, the type descriptors' layout and flags (the object graph).
 */
static bool wanted_name(const char *name)
{
	return strncmp(name, "runtime.", 8) == 0 || strncmp(name, "internal/runtime/", 17) == 0 ||
	       strncmp(name, "runtime/internal/", 17) == 0 ||
	       strncmp(name, "internal/abi.", 13) == 0;
}

static bool wanted_cu(const char *name)
{
	return name &&
	       (strcmp(name, "runtime") == 0 || strncmp(name, "internal/runtime/", 17) == 0 ||
		strncmp(name, "runtime/internal/", 17) == 0 || strncmp(name, "go:", 3) == 0 ||
		strcmp(name, "internal/abi") == 0);
}

static struct gomem_error *index_cu(struct gm_dwarf *d, Dwarf_Die *cu)
{
	Dwarf_Die die;
	if (dwarf_child(cu, &die) != 0)
		return NULL;
	/* Bounded by the size of .debug_info: each sibling moves forward. */
	do {
		int tag = dwarf_tag(&die);
		uint8_t kind;
		if (tag == DW_TAG_variable)
			kind = KIND_VARIABLE;
		else if (tag == DW_TAG_constant)
			kind = KIND_CONSTANT;
		else if (tag == DW_TAG_structure_type || tag == DW_TAG_typedef ||
			 tag == DW_TAG_base_type || tag == DW_TAG_array_type)
			kind = KIND_TYPE;
		else
			continue;
		const char *name = dwarf_diename(&die);
		if (!name || !wanted_name(name))
			continue;
		struct gomem_error *err =
		    index_add(d, name, kind, dwarf_dieoffset(&die), tag == DW_TAG_typedef);
		if (err)
			return err;
	} while (dwarf_siblingof(&die, &die) == 0);
	return NULL;
}

static struct gomem_error *build_index(struct gm_dwarf *d)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	size_t ncu = 0;
	while (dwarf_nextcu(d->dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		if (dwarf_offdie(d->dw, off + hsize, &cu) && wanted_cu(dwarf_diename(&cu))) {
			struct gomem_error *err = index_cu(d, &cu);
			if (err)
				return err;
		}
		off = next;
		ncu++;
	}
	if (ncu == 0)
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s has no DWARF debug info (built with -ldflags=-w, or -s since "
				"Go 1.22, or stripped): give it with --debug-file FILE, or "
				"--layout-from REF (README: Stripped binaries)",
				d->path);
	if (!index_find(d, "runtime.mheap_", KIND_VARIABLE))
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s: no runtime.mheap_ in its DWARF: not a Go program, or its "
				"debug info was stripped",
				d->path);
	return NULL;
}

/*
 * libdw on the file at path, or on the file already open as fd (the one
 * that was checked). Not on a read-only mapping: libelf writes into the
 * image when it decompresses Go's zlib-compressed sections.
 */
static struct gomem_error *lib_open(struct gm_dwarf *d, const char *path, int fd)
{
	d->path = strdup(path);
	if (!d->path)
		return &gm_error_no_memory;
	elf_version(EV_CURRENT);
	d->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0)
		return gm_error_errno(GOMEM_ERROR_IO, errno, "executable %s", path);
	d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL);
	if (!d->elf)
		return gm_error(GOMEM_ERROR_FORMAT, "executable %s: %s", path, elf_errmsg(-1));
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	if (!d->dw)
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s has no DWARF debug info (built with -ldflags=-w, or -s since "
				"Go 1.22, or stripped): give it with --debug-file FILE, or "
				"--layout-from REF (README: Stripped binaries)",
				path);
	return build_index(d);
}

static struct gm_dwarf *dwarf_new(void)
{
	struct gm_dwarf *d = calloc(1, sizeof(*d));
	if (d)
		d->fd = -1;
	return d;
}

struct gomem_error *gm_dwarf_open(const char *exe_path, struct gm_dwarf **ret)
{
	struct gm_dwarf *d = dwarf_new();
	if (!d)
		return &gm_error_no_memory;
	struct gomem_error *err = lib_open(d, exe_path, -1);
	if (err) {
		gm_dwarf_destroy(d);
		return err;
	}
	*ret = d;
	return NULL;
}

void gm_dwarf_destroy(struct gm_dwarf *d)
{
	if (!d)
		return;
	if (d->dw)
		dwarf_end(d->dw);
	if (d->elf)
		elf_end(d->elf);
	if (d->fd >= 0)
		close(d->fd);
	free(d->slots);
	free(d->path);
	gm_dwarf_destroy(d->ref);
	gm_layout_table_destroy(d->table);
	gm_globals_destroy(d->globals);
	gm_layout_record_destroy(d->rec);
	free(d->description);
	for (size_t i = 0; i < d->nnotes; i++)
		free(d->notes[i]);
	free(d->notes);
	free(d);
}

static bool lookup(struct gm_dwarf *d, const char *name, uint8_t kind, Dwarf_Die *die)
{
	struct index_entry *e = index_find(d, name, kind);
	return e && dwarf_offdie(d->dw, e->off, die);
}

static bool lib_has_variable(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_VARIABLE) != NULL;
}

static bool lib_has_constant(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_CONSTANT) != NULL;
}

static bool lib_has_type(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_TYPE) != NULL;
}

static struct gomem_error *lib_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret)
{
	Dwarf_Die die;
	if (!lookup(d, name, KIND_VARIABLE, &die))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no variable %s in the DWARF", d->path,
				name);
	/*
	 * Go writes the location as a DW_FORM_block1 holding DW_OP_addr, which
	 * dwarf_getlocation rejects: read the block.
	 */
	Dwarf_Attribute attr;
	Dwarf_Block block;
	if (!dwarf_attr(&die, DW_AT_location, &attr) || dwarf_formblock(&attr, &block) != 0 ||
	    block.length != 9 || block.data[0] != DW_OP_addr)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s: variable %s has no DW_OP_addr location", d->path, name);
	uint64_t addr;
	memcpy(&addr, block.data + 1, 8);
	*addr_ret = addr;
	return NULL;
}

static struct gomem_error *lib_constant(struct gm_dwarf *d, const char *name, int64_t *ret)
{
	Dwarf_Die die;
	Dwarf_Attribute attr;
	Dwarf_Sword v;
	if (!lookup(d, name, KIND_CONSTANT, &die))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no constant %s in the DWARF", d->path,
				name);
	if (!dwarf_attr(&die, DW_AT_const_value, &attr) || dwarf_formsdata(&attr, &v) != 0 ||
	    gm_fault_injected("dwarf constant", name))
		return dwarf_err(d, name);
	*ret = v;
	return NULL;
}

static bool die_type(Dwarf_Die *die, Dwarf_Die *ret)
{
	Dwarf_Attribute attr;
	return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, ret);
}

/* Follows typedefs; bounded, since a corrupt DWARF can loop. */
static bool strip_typedefs(Dwarf_Die *die)
{
	for (int i = 0; i < 16; i++) {
		if (dwarf_tag(die) != DW_TAG_typedef)
			return true;
		if (!die_type(die, die))
			return false;
	}
	return false;
}

static bool type_size(Dwarf_Die *type, uint64_t *ret, int depth)
{
	Dwarf_Die t = *type;
	if (depth > 8 || !strip_typedefs(&t))
		return false;
	Dwarf_Attribute attr;
	Dwarf_Word w;
	if (dwarf_attr(&t, DW_AT_byte_size, &attr) && dwarf_formudata(&attr, &w) == 0) {
		*ret = w;
		return true;
	}
	switch (dwarf_tag(&t)) {
	case DW_TAG_pointer_type:
	case DW_TAG_subroutine_type:
		*ret = 8;
		return true;
	case DW_TAG_array_type: {
		Dwarf_Die elem, sub;
		uint64_t esz, count = 0;
		if (!die_type(&t, &elem) || !type_size(&elem, &esz, depth + 1))
			return false;
		if (dwarf_child(&t, &sub) == 0) {
			if (dwarf_attr(&sub, DW_AT_count, &attr) && dwarf_formudata(&attr, &w) == 0)
				count = w;
			else if (dwarf_attr(&sub, DW_AT_upper_bound, &attr) &&
				 dwarf_formudata(&attr, &w) == 0)
				count = w + 1;
		}
		*ret = esz * count;
		return true;
	}
	default:
		return false;
	}
}

static struct gomem_error *lib_sizeof(struct gm_dwarf *d, const char *type, uint64_t *ret)
{
	Dwarf_Die die;
	if (!lookup(d, type, KIND_TYPE, &die))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no type %s in the DWARF", d->path,
				type);
	if (!type_size(&die, ret, 0))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no size for type %s", d->path, type);
	return NULL;
}

static bool find_member(Dwarf_Die *st, const char *name, size_t name_len, Dwarf_Die *ret)
{
	Dwarf_Die m;
	if (dwarf_child(st, &m) != 0)
		return false;
	do {
		if (dwarf_tag(&m) != DW_TAG_member)
			continue;
		const char *n = dwarf_diename(&m);
		if (n && strlen(n) == name_len && memcmp(n, name, name_len) == 0) {
			*ret = m;
			return true;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return false;
}

static bool member_offset(Dwarf_Die *m, uint64_t *ret)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;
	if (!dwarf_attr(m, DW_AT_data_member_location, &attr) || dwarf_formudata(&attr, &w) != 0)
		return false;
	*ret = w;
	return true;
}

/* sync/atomic-style wrappers of the runtime: a struct whose payload is "value". */
static bool unwrap_atomic(Dwarf_Die *type, uint64_t *offset)
{
	const char *name = dwarf_diename(type);
	if (dwarf_tag(type) != DW_TAG_structure_type || !name ||
	    !(strncmp(name, "runtime/internal/atomic.", 24) == 0 ||
	      strncmp(name, "internal/runtime/atomic.", 24) == 0 ||
	      strncmp(name, "sync/atomic.", 12) == 0))
		return false;
	Dwarf_Die m, t;
	uint64_t off;
	if (!find_member(type, "value", 5, &m) && !find_member(type, "v", 1, &m))
		return false;
	if (!member_offset(&m, &off) || !die_type(&m, &t))
		return false;
	*offset += off;
	*type = t;
	return true;
}

static struct gomem_error *lib_field(struct gm_dwarf *d, const char *type, const char *path,
				     struct gm_field *ret)
{
	Dwarf_Die t;
	struct gm_field f = {0};
	if (!lookup(d, type, KIND_TYPE, &t))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no type %s in the DWARF", d->path,
				type);
	uint64_t offset = 0;
	const char *p = path;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		Dwarf_Die m;
		if (!strip_typedefs(&t))
			return dwarf_err(d, type);
		if (dwarf_tag(&t) != DW_TAG_structure_type || !find_member(&t, p, n, &m)) {
			*ret = f; /* absent in this Go version */
			return NULL;
		}
		uint64_t off;
		if (!member_offset(&m, &off) || !die_type(&m, &t))
			return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no layout for %s.%s", d->path,
					type, path);
		offset += off;
		p = dot ? dot + 1 : p + n;
	}
	if (!strip_typedefs(&t))
		return dwarf_err(d, type);
	for (int i = 0; i < 4 && unwrap_atomic(&t, &offset); i++)
		strip_typedefs(&t);
	uint64_t size = 0;
	if (!type_size(&t, &size, 0))
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: no size for %s.%s", d->path, type,
				path);
	f.present = true;
	f.offset = offset;
	f.size = size;
	Dwarf_Die elem, arr;
	if (dwarf_tag(&t) == DW_TAG_array_type && die_type(&t, &elem)) {
		type_size(&elem, &f.elem_size, 0);
		f.count = f.elem_size ? size / f.elem_size : 0;
	} else if (dwarf_tag(&t) == DW_TAG_structure_type && dwarf_diename(&t) &&
		   strncmp(dwarf_diename(&t), "[]", 2) == 0 && find_member(&t, "array", 5, &arr) &&
		   die_type(&arr, &arr) && die_type(&arr, &elem)) {
		/* A slice: {array *T, len, cap}. */
		type_size(&elem, &f.elem_size, 0);
	}
	*ret = f;
	return NULL;
}

/* ---- the front: every question, to the backend that answers it ---- */

static void record(struct gm_dwarf *d, char kind, const char *name, const char *path,
		   const char *value)
{
	char key[512];
	if (!d->rec)
		return;
	snprintf(key, sizeof(key), "%c %s%s%s", kind, name, path ? " " : "", path ? path : "");
	gm_layout_record_add(d->rec, key, value);
}

static void record_bool(struct gm_dwarf *d, char kind, const char *name, bool v)
{
	record(d, kind, name, NULL, v ? "1" : "0");
}

/* The table's value of a question; NULL when the table does not hold it. */
static const char *table_get(const struct gm_dwarf *d, char kind, const char *name,
			     const char *path)
{
	char key[512];
	snprintf(key, sizeof(key), "%c %s%s%s", kind, name, path ? " " : "", path ? path : "");
	return gm_layout_table_get(d->table, key);
}

static struct gomem_error *table_missing(const struct gm_dwarf *d, const char *what,
					 const char *name)
{
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"gomem's layout table (from %s) has no answer for %s %s: it is older "
			"than this gomem (tools/layouts/generate.sh regenerates it)",
			gm_layout_table_from(d->table), what, name);
}

static bool table_bool(const struct gm_dwarf *d, char kind, const char *name)
{
	const char *v = table_get(d, kind, name, NULL);
	return v && strcmp(v, "1") == 0;
}

static bool layout_has(struct gm_dwarf *d, char kind, const char *name)
{
	if (d->dw)
		return kind == 'T'   ? lib_has_type(d, name)
		       : kind == 'K' ? lib_has_constant(d, name)
				     : lib_has_variable(d, name);
	if (d->ref)
		return layout_has(d->ref, kind, name);
	return d->table && table_bool(d, kind, name);
}

bool gm_dwarf_has_type(struct gm_dwarf *d, const char *name)
{
	bool v = layout_has(d, 'T', name);
	record_bool(d, 'T', name, v);
	return v;
}

bool gm_dwarf_has_constant(struct gm_dwarf *d, const char *name)
{
	bool v = layout_has(d, 'K', name);
	record_bool(d, 'K', name, v);
	return v;
}

bool gm_dwarf_variable_exists(struct gm_dwarf *d, const char *name)
{
	bool v = layout_has(d, 'V', name);
	record_bool(d, 'V', name, v);
	return v;
}

static void note(struct gm_dwarf *d, const char *name)
{
	for (size_t i = 0; i < d->nnotes; i++) {
		if (strncmp(d->notes[i], name, strlen(name)) == 0)
			return;
	}
	char *line = NULL;
	if (asprintf(&line, "%s: %s", name, gm_globals_why(d->globals, name)) < 0)
		return;
	char **v = reallocarray(d->notes, d->nnotes + 1, sizeof(*v));
	if (!v) {
		free(line);
		return;
	}
	d->notes = v;
	d->notes[d->nnotes++] = line;
}

bool gm_dwarf_has_variable(struct gm_dwarf *d, const char *name)
{
	bool exists = gm_dwarf_variable_exists(d, name);
	uint64_t addr;
	if (d->dw || !exists)
		return exists;
	if (d->globals && gm_globals_lookup(d->globals, name, &addr))
		return true;
	if (d->globals && gm_globals_known(name))
		note(d, name);
	return false;
}

struct gomem_error *gm_dwarf_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret)
{
	record(d, 'V', name, NULL, "1");
	if (d->dw)
		return lib_variable(d, name, addr_ret);
	if (d->globals && gm_globals_lookup(d->globals, name, addr_ret))
		return NULL;
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"the executable has no DWARF and %s was not found in its code (%s): "
			"give its DWARF with --debug-file FILE",
			name, d->globals ? gm_globals_why(d->globals, name) : "no rules");
}

/* "N" or "error" into buf, for the record. */
static const char *int_text(struct gomem_error *err, bool is_signed, uint64_t v, char buf[32])
{
	if (err)
		return "error";
	snprintf(buf, 32, is_signed ? "%" PRId64 : "%" PRIu64, v);
	return buf;
}

static struct gomem_error *table_int(struct gm_dwarf *d, char kind, const char *name,
				     bool is_signed, uint64_t *ret)
{
	const char *v = table_get(d, kind, name, NULL);
	if (!v)
		return table_missing(d, kind == 'S' ? "the size of" : "the constant", name);
	char *end;
	errno = 0;
	uint64_t x = is_signed ? (uint64_t)strtoll(v, &end, 10) : strtoull(v, &end, 10);
	if (errno || end == v || *end)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "gomem's layout table has no %s for %s",
				kind == 'S' ? "size" : "value", name);
	*ret = x;
	return NULL;
}

struct gomem_error *gm_dwarf_constant(struct gm_dwarf *d, const char *name, int64_t *ret)
{
	struct gomem_error *err;
	int64_t v = 0;
	uint64_t u = 0;
	char buf[32];
	if (d->dw) {
		err = lib_constant(d, name, &v);
	} else if (d->ref) {
		err = gm_dwarf_constant(d->ref, name, &v);
	} else {
		err = table_int(d, 'C', name, true, &u);
		v = (int64_t)u;
	}
	record(d, 'C', name, NULL, int_text(err, true, (uint64_t)v, buf));
	if (!err)
		*ret = v;
	return err;
}

struct gomem_error *gm_dwarf_sizeof(struct gm_dwarf *d, const char *type, uint64_t *ret)
{
	struct gomem_error *err;
	uint64_t v = 0;
	char buf[32];
	if (d->dw)
		err = lib_sizeof(d, type, &v);
	else if (d->ref)
		err = gm_dwarf_sizeof(d->ref, type, &v);
	else
		err = table_int(d, 'S', type, false, &v);
	record(d, 'S', type, NULL, int_text(err, false, v, buf));
	if (!err)
		*ret = v;
	return err;
}

static struct gomem_error *table_field(struct gm_dwarf *d, const char *type, const char *path,
				       struct gm_field *ret)
{
	char what[300];
	const char *v = table_get(d, 'F', type, path);
	memset(ret, 0, sizeof(*ret));
	snprintf(what, sizeof(what), "%s.%s", type, path);
	if (!v)
		return table_missing(d, "the member", what);
	if (strcmp(v, "absent") == 0)
		return NULL;
	unsigned long long o, s, e, c;
	if (sscanf(v, "%llu %llu %llu %llu", &o, &s, &e, &c) != 4)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"gomem's layout table has no layout for %s", what);
	*ret = (struct gm_field){true, o, s, e, c};
	return NULL;
}

struct gomem_error *gm_dwarf_field(struct gm_dwarf *d, const char *type, const char *path,
				   struct gm_field *ret)
{
	struct gomem_error *err;
	struct gm_field f;
	if (d->dw)
		err = lib_field(d, type, path, &f);
	else if (d->ref)
		err = gm_dwarf_field(d->ref, type, path, &f);
	else
		err = table_field(d, type, path, &f);
	char buf[128];
	if (err)
		snprintf(buf, sizeof(buf), "error");
	else if (!f.present)
		snprintf(buf, sizeof(buf), "absent");
	else
		snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, f.offset,
			 f.size, f.elem_size, f.count);
	record(d, 'F', type, path, buf);
	if (err)
		return err;
	*ret = f;
	return NULL;
}

/* ---- opening the answers for an executable ---- */

/* --layout-from REF: an unstripped program of the same Go release and configuration. */
static struct gomem_error *open_reference(struct gm_dwarf *d, const struct gm_exe *exe,
					  const char *path)
{
	struct gm_exe ref;
	TRY(gm_exe_open(path, &ref));
	char want[256], have[256];
	gm_exe_config(exe, want, sizeof(want));
	gm_exe_config(&ref, have, sizeof(have));
	struct gomem_error *err = NULL;
	if (strcmp(exe->go_version, ref.go_version) != 0 || strcmp(want, have) != 0)
		err = gm_error(GOMEM_ERROR_MISMATCH,
			       "--layout-from %s was built by %s (%s), the executable %s by %s "
			       "(%s): the reference must be built by the same Go release with "
			       "the same GOEXPERIMENT and -race/-msan/-asan",
			       path, ref.go_version, have, exe->path, exe->go_version, want);
	else if (!ref.has_dwarf)
		err =
		    gm_error(GOMEM_ERROR_NOT_GO,
			     "--layout-from %s has no DWARF either: build it without -s -w", path);
	gm_exe_deinit(&ref);
	TRY(err);
	return gm_dwarf_open(path, &d->ref);
}

/* The table of the executable's configuration in tables (gomem's own, or a test's). */
static struct gomem_error *open_table(struct gm_dwarf *d, const struct gm_exe *exe,
				      const char *tables)
{
	char config[256];
	bool found = false;
	gm_exe_config(exe, config, sizeof(config));
	TRY(gm_layout_table_load(tables, config, &d->table, &found));
	if (!found)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s has no DWARF, and gomem has no layout table for %s (%s): "
				"pass --debug-file FILE (the same program before it was "
				"stripped, or rebuilt with -trimpath and without -s -w), or "
				"--layout-from REF (any unstripped program built by %s with the "
				"same GOEXPERIMENT and -race)",
				exe->path, config, exe->build_version, exe->go_version);
	return NULL;
}

static struct gomem_error *open_without_dwarf(struct gm_dwarf *d, const struct gm_exe *exe,
					      struct gm_pclntab *p, const char *layout_from,
					      const char *tables)
{
	if (strcmp(exe->goarch, "amd64") != 0)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s has no DWARF, and gomem finds the runtime's globals in code "
				"on amd64 only: give its DWARF with --debug-file FILE",
				exe->path);
	if (!p)
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s has no DWARF and its function table (.gopclntab) cannot be "
				"read: give its DWARF with --debug-file FILE",
				exe->path);
	d->path = strdup(exe->path);
	if (!d->path)
		return &gm_error_no_memory;
	if (layout_from) {
		d->source = GM_DWARF_LAYOUT_FROM;
		TRY(open_reference(d, exe, layout_from));
	} else {
		d->source = GM_DWARF_TABLE;
		TRY(open_table(d, exe, tables));
	}
	TRY(gm_globals_find(exe, p, d, &d->globals));
	char config[256];
	gm_exe_config(exe, config, sizeof(config));
	int n = d->ref
		    ? asprintf(&d->description,
			       "no DWARF in the executable: the runtime's layouts come from "
			       "--layout-from %s, its globals from the executable's code; what "
			       "needs DWARF (field names, types known only to DWARF) is left out",
			       d->ref->path)
		    : asprintf(&d->description,
			       "no DWARF in the executable: the runtime's layouts come from "
			       "gomem's table for %s (made from %s), its globals from the "
			       "executable's code; what needs DWARF (field names, types known "
			       "only to DWARF) is left out",
			       config, gm_layout_table_from(d->table));
	if (n < 0)
		return &gm_error_no_memory;
	return NULL;
}

struct gomem_error *gm_dwarf_open_for(const struct gm_exe *exe, const struct gm_debug_file *debug,
				      struct gm_pclntab *p, const char *layout_from,
				      struct gm_dwarf **ret)
{
	struct gm_dwarf *d = dwarf_new();
	if (!d)
		return &gm_error_no_memory;
	struct gomem_error *err;
	if (debug) {
		d->source = GM_DWARF_DEBUG_FILE;
		err = lib_open(d, debug->path, debug->fd);
	} else if (exe->has_dwarf) {
		d->source = GM_DWARF_EXE;
		err = lib_open(d, exe->path, exe->fd);
	} else {
		err = open_without_dwarf(d, exe, p, layout_from, gm_layout_tables_text);
	}
	if (err) {
		gm_dwarf_destroy(d);
		return err;
	}
	*ret = d;
	return NULL;
}

struct gomem_error *gm_dwarf_open_replay(const struct gm_exe *exe, struct gm_pclntab *p,
					 const char *tables, struct gm_dwarf **ret)
{
	struct gm_dwarf *d = dwarf_new();
	if (!d)
		return &gm_error_no_memory;
	struct gomem_error *err = open_without_dwarf(d, exe, p, NULL, tables);
	if (err) {
		gm_dwarf_destroy(d);
		return err;
	}
	*ret = d;
	return NULL;
}

enum gm_dwarf_source gm_dwarf_source(const struct gm_dwarf *d)
{
	return d->source;
}

const char *gm_dwarf_file(const struct gm_dwarf *d)
{
	return d->source == GM_DWARF_LAYOUT_FROM ? d->ref->path
	       : d->source == GM_DWARF_TABLE	 ? NULL
						 : d->path;
}

const char *gm_dwarf_description(const struct gm_dwarf *d)
{
	return d->description;
}

Dwarf *gm_dwarf_libdw(const struct gm_dwarf *d)
{
	return d->dw;
}

bool gm_dwarf_is_program(const struct gm_dwarf *d)
{
	return d->dw != NULL;
}

size_t gm_dwarf_nnotes(const struct gm_dwarf *d)
{
	return d->nnotes;
}

const char *gm_dwarf_note(const struct gm_dwarf *d, size_t i)
{
	return i < d->nnotes ? d->notes[i] : NULL;
}

struct gomem_error *gm_dwarf_record_start(struct gm_dwarf *d)
{
	gm_layout_record_destroy(d->rec);
	d->rec = gm_layout_record_create();
	return d->rec ? NULL : &gm_error_no_memory;
}

char *gm_dwarf_record_text(struct gm_dwarf *d)
{
	return d->rec ? gm_layout_record_text(d->rec) : NULL;
}

struct gomem_error *gm_dwarf_check_globals(struct gm_dwarf *d, const struct gm_exe *exe,
					   struct gm_pclntab *p, struct gm_strbuf *report,
					   size_t *wrong_ret, size_t *missing_ret)
{
	struct gm_globals *g;
	TRY(gm_globals_find(exe, p, d, &g));
	size_t wrong = 0, missing = 0;
	for (size_t i = 0; i < gm_globals_count(); i++) {
		const char *name = gm_globals_name(i);
		uint64_t want = 0, found = 0;
		bool exists = lib_has_variable(d, name), has = gm_globals_lookup(g, name, &found);
		struct gomem_error *err = exists ? lib_variable(d, name, &want) : NULL;
		if (err) {
			gm_globals_destroy(g);
			return err;
		}
		if (!exists)
			continue; /* not in this release: never asked */
		const char *verdict = !has ? "not found" : want != found ? "WRONG" : "ok";
		wrong += has && want != found;
		missing += exists && !has;
		gm_strbuf_printf(report, "%-26s %-8s 0x%" PRIx64 " (DWARF 0x%" PRIx64 ")%s%s\n",
				 name, verdict, found, want, has ? "" : ": ",
				 has ? "" : gm_globals_why(g, name));
	}
	gm_globals_destroy(g);
	*wrong_ret = wrong;
	*missing_ret = missing;
	return NULL;
}
