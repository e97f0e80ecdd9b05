/*
 * The table of Go types: runtime type descriptors read from the target
 * (GO-OBJECTS.md §4.1-4.3) and, where the program's DWARF describes a type
 * whose descriptor the linker did not keep, that DWARF type. Each type
 * gets a dense id once (a cache by descriptor address and by DIE offset);
 * id 0 is the unknown type. A descriptor is read alone: its element, key
 * and field types stay references until someone asks for them, so a
 * recursive type costs one read per type and no recursion.
 *
 * Names: a descriptor's Str is a nameOff from the moduledata.types of the
 * module that holds the descriptor (resolveNameOff, type.go); its first
 * byte is a '*' to drop when TFlagExtraStar is set (the name of T is
 * stored as "*T" so that *T can share it, abi/type.go). This needs no
 * DWARF: only the descriptors' layout, which the layout tables keep.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/gotypes.h"
#include "runtime/memprofile.h"
#include "target/pclntab.h"

#define MAX_MODULES    64	  /* a moduledata list longer than this is a loop */
#define MAX_TYPES      (1u << 22) /* distinct types; a real program has < 100k */
#define MAX_FIELDS     (1u << 16) /* fields of one struct */
#define MAX_NAME       4096	  /* longer names are cut */
#define MAX_ALL_FIELDS (1u << 24)
#define NAME_EMBEDDED  (1u << 3) /* abi.Name's flag byte: an embedded field (abi/type.go) */

GM_DEFINE_GROW(grow_type, struct gm_gotype)
GM_DEFINE_GROW(grow_field, struct gm_gofield)
GM_DEFINE_GROW(grow_map, struct gm_maptype)
GM_DEFINE_GROW(grow_name, char *)

static const char *const kind_names[GM_KIND_MAX + 1] = {
    "invalid", "bool",	    "int",	  "int8",   "int16",  "int32",	       "int64",
    "uint",    "uint8",	    "uint16",	  "uint32", "uint64", "uintptr",       "float32",
    "float64", "complex64", "complex128", "array",  "chan",   "func",	       "interface",
    "map",     "ptr",	    "slice",	  "string", "struct", "unsafe.Pointer"};

const char *gm_kind_name(unsigned kind)
{
	return kind <= GM_KIND_MAX ? kind_names[kind] : "invalid";
}

/* Keeps a copy of n bytes of s as a name of the table. */
static struct gomem_error *keep_name(struct gm_gotypes *tt, const char *s, size_t n,
				     const char **ret)
{
	char *copy = malloc(n + 1);
	if (!copy)
		return &gm_error_no_memory;
	memcpy(copy, s, n);
	copy[n] = 0;
	char **slot = grow_name(&tt->names, &tt->nnames, &tt->names_cap);
	if (!slot) {
		free(copy);
		return &gm_error_no_memory;
	}
	*slot = copy;
	*ret = copy;
	return NULL;
}

/* ---- modules ---- */

/* runtime.firstmoduledata: from DWARF, else found in the executable through its pclntab. */
static struct gomem_error *first_module(struct gm_gotypes *tt, uint64_t *ret)
{
	struct gm_runtime *rt = tt->rt;
	if (tt->L->firstmoduledata) {
		*ret = tt->L->firstmoduledata;
		return NULL;
	}
	if (!rt->target)
		return gm_error(GOMEM_ERROR_UNSUPPORTED, "runtime.firstmoduledata is unknown");
	struct gm_pclntab *p;
	uint64_t md;
	TRY(gm_runtime_pclntab(rt, &p));
	struct gomem_error *err = gm_pclntab_find_moduledata(p, &md);
	gm_pclntab_destroy(p);
	TRY(err);
	*ret = md + rt->bias;
	return NULL;
}

/* The [types, etypes) of every module of the moduledata list. */
static struct gomem_error *read_modules(struct gm_gotypes *tt)
{
	const struct gm_types_layout *L = tt->L;
	uint64_t md = 0;
	TRY(first_module(tt, &md));
	tt->module_types = calloc(2 * MAX_MODULES, sizeof(uint64_t));
	if (!tt->module_types)
		return &gm_error_no_memory;
	for (size_t i = 0; md && i < MAX_MODULES; i++) {
		uint64_t types, etypes, next;
		TRY(gm_read_u64(tt->rt->mem, md + L->md_types.offset, &types));
		TRY(gm_read_u64(tt->rt->mem, md + L->md_etypes.offset, &etypes));
		TRY(gm_read_u64(tt->rt->mem, md + L->md_next.offset, &next));
		if (etypes < types || etypes - types > (1ULL << 32))
			return gm_error(GOMEM_ERROR_FORMAT,
					"moduledata at 0x%" PRIx64 ": types [0x%" PRIx64
					", 0x%" PRIx64 ") make no sense",
					md, types, etypes);
		tt->module_types[2 * i] = types;
		tt->module_types[2 * i + 1] = etypes;
		tt->nmodules = i + 1;
		md = next;
	}
	if (!tt->nmodules)
		return gm_error(GOMEM_ERROR_FORMAT, "no moduledata");
	return NULL;
}

/* The moduledata.types of the module whose types hold addr; 0 when none does. */
static uint64_t module_of(const struct gm_gotypes *tt, uint64_t addr)
{
	for (size_t i = 0; i < tt->nmodules; i++) {
		if (addr >= tt->module_types[2 * i] && addr < tt->module_types[2 * i + 1])
			return tt->module_types[2 * i];
	}
	return 0;
}

bool gm_gotypes_dwarf_addr(const struct gm_gotypes *tt, uint64_t offset, uint64_t *ret)
{
	if (!tt->nmodules || !offset)
		return false;
	uint64_t addr = tt->module_types[0] + offset;
	if (addr >= tt->module_types[1])
		return false;
	*ret = addr;
	return true;
}

/* ---- the table ---- */

struct gomem_error *gm_gotypes_init(struct gm_gotypes *tt, struct gm_runtime *rt)
{
	memset(tt, 0, sizeof(*tt));
	tt->rt = rt;
	TRY(gm_runtime_types_layout(rt, &tt->L));
	struct gm_gotype *u = grow_type(&tt->types, &tt->ntypes, &tt->cap);
	if (!u)
		return &gm_error_no_memory;
	*u = (struct gm_gotype){.name = "unknown"};
	struct gomem_error *err = read_modules(tt);
	if (err)
		gm_gotypes_deinit(tt);
	return err;
}

void gm_gotypes_deinit(struct gm_gotypes *tt)
{
	free(tt->types);
	free(tt->fields);
	free(tt->maps);
	for (size_t i = 0; i < tt->nnames; i++)
		free(tt->names[i]);
	free(tt->names);
	free(tt->module_types);
	gm_u64map_deinit(&tt->by_addr);
	gm_u64map_deinit(&tt->by_dwarf);
	memset(tt, 0, sizeof(*tt));
}

const struct gm_gotype *gm_gotypes_get(const struct gm_gotypes *tt, uint32_t id)
{
	return &tt->types[id < tt->ntypes ? id : 0];
}

const struct gm_gofield *gm_gotypes_fields(const struct gm_gotypes *tt, uint32_t id, size_t *n_ret)
{
	const struct gm_gotype *t = gm_gotypes_get(tt, id);
	*n_ret = t->nfields;
	return t->nfields ? &tt->fields[t->first_field] : NULL;
}

const struct gm_maptype *gm_gotypes_map(const struct gm_gotypes *tt, uint32_t id)
{
	const struct gm_gotype *t = gm_gotypes_get(tt, id);
	return t->map ? &tt->maps[t->map - 1] : NULL;
}

static struct gomem_error *add_type(struct gm_gotypes *tt, const struct gm_gotype *t,
				    uint32_t *id_ret)
{
	if (tt->ntypes >= MAX_TYPES)
		return gm_error(GOMEM_ERROR_FORMAT, "more than %u distinct types", MAX_TYPES);
	struct gm_gotype *slot = grow_type(&tt->types, &tt->ntypes, &tt->cap);
	if (!slot)
		return &gm_error_no_memory;
	*slot = *t;
	*id_ret = (uint32_t)(tt->ntypes - 1);
	return NULL;
}

/* ---- descriptors ---- */

static uint64_t field_of(const uint8_t *buf, const struct gm_field *f)
{
	return gm_rt_field(buf, f);
}

static struct gomem_error *read_word(struct gm_gotypes *tt, uint64_t addr, const struct gm_field *f,
				     uint64_t *ret)
{
	if (!f->present) {
		*ret = 0;
		return NULL;
	}
	return gm_read_uint(tt->rt->mem, addr + f->offset, (unsigned)f->size, ret);
}

/* An abi.Name at addr: flag byte, varint length, bytes (abi/type.go; runtime/type.go@1.19). */
static struct gomem_error *read_name(struct gm_gotypes *tt, uint64_t addr, uint8_t *flags_ret,
				     const char **ret)
{
	uint8_t head[11];
	size_t got = sizeof(head);
	/* The name may end near the end of a mapping: read less when the whole head fails. */
	while (got > 1 && !gm_read_ok(tt->rt->mem, addr, head, got))
		got--;
	if (got < 2)
		return gm_error(GOMEM_ERROR_FORMAT, "type name at 0x%" PRIx64 " unreadable", addr);
	uint64_t len = 0;
	size_t i = 1;
	for (unsigned shift = 0; i < got && shift < 35; i++, shift += 7) {
		len |= (uint64_t)(head[i] & 0x7f) << shift;
		if (!(head[i] & 0x80))
			break;
	}
	if (i >= got)
		return gm_error(GOMEM_ERROR_FORMAT, "type name at 0x%" PRIx64 " is cut", addr);
	size_t n = len > MAX_NAME ? MAX_NAME : (size_t)len;
	char buf[MAX_NAME];
	TRY(gm_read(tt->rt->mem, addr + i + 1, buf, n));
	*flags_ret = head[0];
	return keep_name(tt, buf, n, ret);
}

/* The descriptor's own name, or a description of why it has none. */
static struct gomem_error *type_name(struct gm_gotypes *tt, struct gm_gotype *t, uint32_t str)
{
	char buf[64];
	uint64_t types = module_of(tt, t->addr);
	if (t->dummy) {
		snprintf(buf, sizeof(buf), "(GC-program type of %" PRIu64 " bytes)", t->size);
		return keep_name(tt, buf, strlen(buf), &t->name);
	}
	if (!types || !str) {
		/* A type made at run time (reflect) names itself through reflectOffs: not kept. */
		snprintf(buf, sizeof(buf), "(%s type at 0x%" PRIx64 ")", gm_kind_name(t->kind),
			 t->addr);
		return keep_name(tt, buf, strlen(buf), &t->name);
	}
	uint8_t flags;
	TRY(read_name(tt, types + (uint64_t)(int64_t)(int32_t)str, &flags, &t->name));
	if ((t->tflag & tt->L->tflag_extra_star) && t->name[0] == '*')
		t->name++;
	return NULL;
}

static struct gomem_error *read_fields(struct gm_gotypes *tt, struct gm_gotype *t)
{
	const struct gm_types_layout *L = tt->L;
	uint64_t slice[2];
	TRY(gm_read(tt->rt->mem, t->addr + L->struct_fields.offset, slice, sizeof(slice)));
	if (slice[1] > MAX_FIELDS || tt->nfields + slice[1] > MAX_ALL_FIELDS)
		return gm_error(GOMEM_ERROR_FORMAT,
				"struct type at 0x%" PRIx64 " claims %" PRIu64 " fields", t->addr,
				slice[1]);
	t->first_field = (uint32_t)tt->nfields;
	for (uint64_t i = 0; i < slice[1]; i++) {
		uint8_t buf[64];
		uint64_t at = slice[0] + i * L->field_size;
		TRY(gm_read(tt->rt->mem, at, buf, L->field_size));
		struct gm_gofield f = {0};
		uint8_t flags = 0;
		uint64_t name = field_of(buf, &L->field_name);
		f.type = (struct gm_typeref){GM_TYPEREF_RUNTIME, field_of(buf, &L->field_typ)};
		f.offset = field_of(buf, &L->field_offset);
		if (f.offset >= t->size && t->size)
			return gm_error(GOMEM_ERROR_FORMAT,
					"field %" PRIu64 " of the type at 0x%" PRIx64
					" lies outside it",
					i, t->addr);
		if (name)
			TRY(read_name(tt, name, &flags, &f.name));
		else
			f.name = "";
		f.embedded = flags & NAME_EMBEDDED;
		struct gm_gofield *slot = grow_field(&tt->fields, &tt->nfields, &tt->fields_cap);
		if (!slot)
			return &gm_error_no_memory;
		*slot = f;
	}
	t->nfields = (uint32_t)slice[1];
	return NULL;
}

static struct gomem_error *add_map(struct gm_gotypes *tt, struct gm_gotype *t,
				   const struct gm_maptype *m)
{
	struct gm_maptype *slot = grow_map(&tt->maps, &tt->nmaps, &tt->maps_cap);
	if (!slot)
		return &gm_error_no_memory;
	*slot = *m;
	t->map = (uint32_t)tt->nmaps;
	return NULL;
}

/*
 * A map descriptor's entries as offsets and strides: old buckets are
 * tophash[8], keys[8], elems[8], overflow (map.go@1.23); swiss groups are
 * ctrl, then slots of SlotSize with the elem at ElemOff (1.24-1.26), or
 * keys and elems at KeysOff/ElemsOff with their strides (1.27).
 */
static struct gomem_error *read_map(struct gm_gotypes *tt, struct gm_gotype *t)
{
	const struct gm_types_layout *L = tt->L;
	struct gm_maptype m = {.impl = L->map_impl, .slots = L->map_group_slots};
	uint64_t group, flags, ks, vs, slot, eoff;
	TRY(read_word(tt, t->addr, &L->map_group, &group));
	TRY(read_word(tt, t->addr, &L->map_group_size, &m.group_size));
	TRY(read_word(tt, t->addr, &L->map_flags, &flags));
	m.group = (struct gm_typeref){group ? GM_TYPEREF_RUNTIME : GM_TYPEREF_NONE, group};
	m.indirect_key = flags & L->map_indirect_key;
	m.indirect_elem = flags & L->map_indirect_elem;
	if (L->map_impl == GM_MAP_OLD) {
		TRY(read_word(tt, t->addr, &L->map_key_size, &ks));
		TRY(read_word(tt, t->addr, &L->map_value_size, &vs));
		m.keys_off = L->map_ctrl_bytes;
		m.key_stride = ks;
		m.elems_off = L->map_ctrl_bytes + m.slots * ks;
		m.elem_stride = vs;
	} else if (L->map_keys_off.present) {
		TRY(read_word(tt, t->addr, &L->map_keys_off, &m.keys_off));
		TRY(read_word(tt, t->addr, &L->map_key_stride, &m.key_stride));
		TRY(read_word(tt, t->addr, &L->map_elems_off, &m.elems_off));
		TRY(read_word(tt, t->addr, &L->map_elem_stride, &m.elem_stride));
	} else {
		TRY(read_word(tt, t->addr, &L->map_slot_size, &slot));
		TRY(read_word(tt, t->addr, &L->map_elem_off, &eoff));
		m.keys_off = L->map_ctrl_bytes;
		m.key_stride = slot;
		m.elems_off = L->map_ctrl_bytes + eoff;
		m.elem_stride = slot;
	}
	if (m.group_size > (1u << 20) || m.keys_off + (m.slots - 1) * m.key_stride > m.group_size ||
	    m.elems_off + (m.slots - 1) * m.elem_stride > m.group_size)
		return gm_error(GOMEM_ERROR_FORMAT, "map type at 0x%" PRIx64 ": a bad group layout",
				t->addr);
	return add_map(tt, t, &m);
}

static struct gomem_error *read_kind(struct gm_gotypes *tt, struct gm_gotype *t)
{
	const struct gm_types_layout *L = tt->L;
	uint64_t elem = 0, key = 0;
	switch (t->kind) {
	case GM_KIND_POINTER:
		TRY(read_word(tt, t->addr, &L->ptr_elem, &elem));
		break;
	case GM_KIND_SLICE:
		TRY(read_word(tt, t->addr, &L->slice_elem, &elem));
		break;
	case GM_KIND_ARRAY:
		TRY(read_word(tt, t->addr, &L->array_elem, &elem));
		TRY(read_word(tt, t->addr, &L->array_len, &t->len));
		break;
	case GM_KIND_CHAN:
		TRY(read_word(tt, t->addr, &L->chan_elem, &elem));
		break;
	case GM_KIND_MAP:
		TRY(read_word(tt, t->addr, &L->map_key, &key));
		TRY(read_word(tt, t->addr, &L->map_elem, &elem));
		TRY(read_map(tt, t));
		break;
	case GM_KIND_STRUCT:
		TRY(read_fields(tt, t));
		break;
	default:
		break;
	}
	if (elem)
		t->elem = (struct gm_typeref){GM_TYPEREF_RUNTIME, elem};
	if (key)
		t->key = (struct gm_typeref){GM_TYPEREF_RUNTIME, key};
	return NULL;
}

/* Reads the descriptor at addr into t; an error says why it is not a type. */
static struct gomem_error *read_desc(struct gm_gotypes *tt, uint64_t addr, struct gm_gotype *t)
{
	const struct gm_types_layout *L = tt->L;
	uint8_t buf[256];
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	if (!addr || addr % 8)
		return gm_error(GOMEM_ERROR_FORMAT, "0x%" PRIx64 " is not a type", addr);
	TRY(gm_read(tt->rt->mem, addr, buf, L->type_size));
	uint64_t raw_kind = field_of(buf, &L->kind);
	t->size = field_of(buf, &L->size);
	t->ptrdata = field_of(buf, &L->ptrdata);
	t->tflag = (uint8_t)field_of(buf, &L->tflag);
	t->gcdata = field_of(buf, &L->gcdata);
	t->kind = (unsigned)(raw_kind & (L->kind_mask ? L->kind_mask : 0xff));
	t->direct_iface = L->tflag_direct_iface ? (t->tflag & L->tflag_direct_iface)
						: (raw_kind & L->kind_direct_iface);
	t->gcprog = L->kind_gcprog && (raw_kind & L->kind_gcprog);
	t->on_demand = L->tflag_on_demand && (t->tflag & L->tflag_on_demand);
	/* A largeType made for a GC-program type: Size_, PtrBytes, GCData only (mbitmap.go@1.22).
	 */
	t->dummy = L->tflag_unrolled && (t->tflag & L->tflag_unrolled) && t->kind == 0;
	if ((t->kind == 0 && !t->dummy) || t->kind > GM_KIND_MAX || t->ptrdata > t->size ||
	    t->size > (1ULL << 48))
		return gm_error(GOMEM_ERROR_FORMAT, "0x%" PRIx64 " is not a type", addr);
	TRY(type_name(tt, t, (uint32_t)field_of(buf, &L->str)));
	return read_kind(tt, t);
}

struct gomem_error *gm_gotypes_at(struct gm_gotypes *tt, uint64_t addr, uint32_t *id_ret)
{
	uint64_t v = gm_u64map_get(&tt->by_addr, addr);
	if (v) {
		*id_ret = (uint32_t)(v - 1);
		return NULL;
	}
	struct gm_gotype t;
	size_t nfields = tt->nfields, nmaps = tt->nmaps;
	uint32_t id = GM_TYPE_UNKNOWN;
	struct gomem_error *err = read_desc(tt, addr, &t);
	if (err) {
		if (err == &gm_error_no_memory)
			return err;
		gomem_error_destroy(err);
		tt->nfields = nfields; /* drop what a half-read struct added */
		tt->nmaps = nmaps;
		tt->bad++;
	} else {
		TRY(add_type(tt, &t, &id));
	}
	if (!gm_u64map_put(&tt->by_addr, addr, (uint64_t)id + 1))
		return &gm_error_no_memory;
	*id_ret = id;
	return NULL;
}

struct gomem_error *gm_gotypes_itab_type(struct gm_gotypes *tt, uint64_t itab, uint64_t *ret)
{
	*ret = 0;
	if (!itab || !gm_read_ok(tt->rt->mem, itab + tt->L->itab_type.offset, ret, 8))
		*ret = 0;
	return NULL;
}

/* ---- DWARF types ---- */

/* The kind of a DWARF type without DW_AT_go_kind (Go writes it on every type it makes). */
static unsigned dwarf_kind(const struct gm_dwarf_type *dt)
{
	if (dt->go_kind)
		return dt->go_kind;
	switch (dt->tag) {
	case 0x0f: /* DW_TAG_pointer_type */
		return dt->elem ? GM_KIND_POINTER : GM_KIND_UNSAFE_POINTER;
	case 0x13: /* DW_TAG_structure_type */
		return GM_KIND_STRUCT;
	case 0x01: /* DW_TAG_array_type */
		return GM_KIND_ARRAY;
	case 0x15: /* DW_TAG_subroutine_type */
		return GM_KIND_FUNC;
	default:
		return GM_KIND_INVALID;
	}
}

static struct gomem_error *dwarf_fields(struct gm_gotypes *tt, uint64_t die, struct gm_gotype *t)
{
	struct gm_dwarf_member *m;
	size_t n;
	TRY(gm_dwarf_type_members(tt->rt->dw, die, &m, &n));
	struct gomem_error *err = NULL;
	if (n > MAX_FIELDS || tt->nfields + n > MAX_ALL_FIELDS)
		err = gm_error(GOMEM_ERROR_FORMAT, "DWARF type at 0x%" PRIx64 ": %zu members", die,
			       n);
	t->first_field = (uint32_t)tt->nfields;
	for (size_t i = 0; !err && i < n; i++) {
		struct gm_gofield *slot = grow_field(&tt->fields, &tt->nfields, &tt->fields_cap);
		if (!slot) {
			err = &gm_error_no_memory;
			break;
		}
		*slot = (struct gm_gofield){m[i].name, m[i].offset,
					    (struct gm_typeref){GM_TYPEREF_DWARF, m[i].type},
					    m[i].embedded};
	}
	free(m);
	t->nfields = (uint32_t)n;
	return err;
}

/* A type made from its DWARF alone: kind, size, element, key and members, no descriptor. */
static struct gomem_error *dwarf_only(struct gm_gotypes *tt, const struct gm_dwarf_type *dt,
				      struct gm_gotype *t)
{
	memset(t, 0, sizeof(*t));
	t->dwarf = dt->off;
	t->kind = dwarf_kind(dt);
	t->size = dt->size;
	t->ptrdata = t->size; /* unknown: DWARF has no pointer mask */
	TRY(keep_name(tt, dt->name, strlen(dt->name), &t->name));
	if (dt->elem)
		t->elem = (struct gm_typeref){GM_TYPEREF_DWARF, dt->elem};
	if (dt->key)
		t->key = (struct gm_typeref){GM_TYPEREF_DWARF, dt->key};
	t->len = dt->count;
	if (t->kind == GM_KIND_STRUCT)
		TRY(dwarf_fields(tt, dt->off, t));
	return NULL;
}

struct gomem_error *gm_gotypes_dwarf(struct gm_gotypes *tt, uint64_t die, uint32_t *id_ret)
{
	uint64_t v = gm_u64map_get(&tt->by_dwarf, die);
	if (v) {
		*id_ret = (uint32_t)(v - 1);
		return NULL;
	}
	struct gm_dwarf_type dt;
	uint64_t addr;
	uint32_t id = GM_TYPE_UNKNOWN;
	TRY(gm_dwarf_type_at(tt->rt->dw, die, &dt));
	if (dt.runtime_type && gm_gotypes_dwarf_addr(tt, dt.runtime_type, &addr))
		TRY(gm_gotypes_at(tt, addr, &id));
	if (id == GM_TYPE_UNKNOWN) {
		struct gm_gotype t;
		size_t nfields = tt->nfields;
		struct gomem_error *err = dwarf_only(tt, &dt, &t);
		if (err) {
			tt->nfields = nfields;
			return err;
		}
		TRY(add_type(tt, &t, &id));
	}
	if (!gm_u64map_put(&tt->by_dwarf, die, (uint64_t)id + 1))
		return &gm_error_no_memory;
	*id_ret = id;
	return NULL;
}

struct gomem_error *gm_gotypes_ref(struct gm_gotypes *tt, struct gm_typeref ref, uint32_t *id_ret)
{
	switch (ref.kind) {
	case GM_TYPEREF_RUNTIME:
		return gm_gotypes_at(tt, ref.at, id_ret);
	case GM_TYPEREF_DWARF:
		return gm_gotypes_dwarf(tt, ref.at, id_ret);
	default:
		*id_ret = GM_TYPE_UNKNOWN;
		return NULL;
	}
}

/* ---- types made by the caller ---- */

struct gomem_error *gm_gotypes_add_struct(struct gm_gotypes *tt, const char *name, uint64_t size,
					  const struct gm_gofield *fields, size_t n,
					  uint32_t *id_ret)
{
	struct gm_gotype t = {.kind = GM_KIND_STRUCT, .size = size, .ptrdata = size};
	if (n > MAX_FIELDS || tt->nfields + n > MAX_ALL_FIELDS)
		return gm_error(GOMEM_ERROR_FORMAT, "%s: %zu fields", name, n);
	TRY(keep_name(tt, name, strlen(name), &t.name));
	t.first_field = (uint32_t)tt->nfields;
	t.nfields = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		struct gm_gofield *slot = grow_field(&tt->fields, &tt->nfields, &tt->fields_cap);
		if (!slot)
			return &gm_error_no_memory;
		*slot = fields[i];
		TRY(keep_name(tt, fields[i].name, strlen(fields[i].name), &slot->name));
	}
	return add_type(tt, &t, id_ret);
}

struct gomem_error *gm_gotypes_named(struct gm_gotypes *tt, const char *name, uint32_t *id_ret)
{
	uint64_t die;
	bool found = false;
	*id_ret = GM_TYPE_UNKNOWN;
	if (!gm_dwarf_is_program(tt->rt->dw))
		return NULL;
	TRY(gm_dwarf_find_type(tt->rt->dw, name, &die, &found));
	return found ? gm_gotypes_dwarf(tt, die, id_ret) : NULL;
}
