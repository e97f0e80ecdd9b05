/*
 * The executable's DWARF, through libdw: global variables, constants and
 * struct layouts of the Go runtime, found by name.
 *
 * Only top-level DIEs whose names belong to the runtime's packages are
 * indexed, which keeps opening a large binary cheap.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <errno.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dwarf/dwarf.h"

enum name_kind { KIND_VARIABLE, KIND_CONSTANT, KIND_TYPE };

struct index_entry {
	const char *name; /* points into libdw's string data; NULL = empty slot */
	Dwarf_Off off;
	uint8_t kind;
	uint8_t typedef_only; /* the type entry is a typedef (keep looking for the struct) */
};

struct gm_dwarf {
	int fd;
	Elf *elf;
	Dwarf *dw;
	struct index_entry *slots;
	size_t nslots, nused;
	char *path;
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

/* The runtime's own packages, and the sync/atomic wrappers it uses. */
static bool wanted_name(const char *name)
{
	return strncmp(name, "runtime.", 8) == 0 || strncmp(name, "internal/runtime/", 17) == 0 ||
	       strncmp(name, "runtime/internal/", 17) == 0;
}

static bool wanted_cu(const char *name)
{
	return name &&
	       (strcmp(name, "runtime") == 0 || strncmp(name, "internal/runtime/", 17) == 0 ||
		strncmp(name, "runtime/internal/", 17) == 0 || strncmp(name, "go:", 3) == 0);
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
				"Go 1.22): rebuild without them, or pass the unstripped binary",
				d->path);
	if (!index_find(d, "runtime.mheap_", KIND_VARIABLE))
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s: no runtime.mheap_ in its DWARF: not a Go program, or its "
				"debug info was stripped",
				d->path);
	return NULL;
}

struct gomem_error *gm_dwarf_open(const char *exe_path, struct gm_dwarf **ret)
{
	struct gm_dwarf *d = calloc(1, sizeof(*d));
	if (!d)
		return &gm_error_no_memory;
	d->fd = -1;
	struct gomem_error *err = NULL;
	d->path = strdup(exe_path);
	if (!d->path) {
		err = &gm_error_no_memory;
		goto fail;
	}
	elf_version(EV_CURRENT);
	d->fd = open(exe_path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0) {
		err = gm_error_errno(GOMEM_ERROR_IO, errno, "executable %s", exe_path);
		goto fail;
	}
	d->elf = elf_begin(d->fd, ELF_C_READ_MMAP, NULL);
	if (!d->elf) {
		err = gm_error(GOMEM_ERROR_FORMAT, "executable %s: %s", exe_path, elf_errmsg(-1));
		goto fail;
	}
	d->dw = dwarf_begin_elf(d->elf, DWARF_C_READ, NULL);
	if (!d->dw) {
		err = gm_error(GOMEM_ERROR_NOT_GO,
			       "%s has no DWARF debug info (built with -ldflags=-w, or -s since "
			       "Go 1.22): rebuild without them, or pass the unstripped binary",
			       exe_path);
		goto fail;
	}
	err = build_index(d);
	if (err)
		goto fail;
	*ret = d;
	return NULL;
fail:
	gm_dwarf_destroy(d);
	return err;
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
	free(d);
}

static bool lookup(struct gm_dwarf *d, const char *name, uint8_t kind, Dwarf_Die *die)
{
	struct index_entry *e = index_find(d, name, kind);
	return e && dwarf_offdie(d->dw, e->off, die);
}

bool gm_dwarf_has_variable(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_VARIABLE) != NULL;
}

bool gm_dwarf_has_constant(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_CONSTANT) != NULL;
}

bool gm_dwarf_has_type(struct gm_dwarf *d, const char *name)
{
	return index_find(d, name, KIND_TYPE) != NULL;
}

struct gomem_error *gm_dwarf_variable(struct gm_dwarf *d, const char *name, uint64_t *addr_ret)
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

struct gomem_error *gm_dwarf_constant(struct gm_dwarf *d, const char *name, int64_t *ret)
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

struct gomem_error *gm_dwarf_sizeof(struct gm_dwarf *d, const char *type, uint64_t *ret)
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

struct gomem_error *gm_dwarf_field(struct gm_dwarf *d, const char *type, const char *path,
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
