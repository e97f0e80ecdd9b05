/*
 * `gomem paths ADDR`: why an object is alive. The shortest path from the
 * roots to it (objects/paths.c), and one from each other kind of root that
 * reaches it, each step named as the program names it: the object's
 * address, size and type (objects/typing.c), and what leads to the next
 * one: a field (from the type's DWARF members), a slice or array index, a
 * map key (a string or an integer; [?] otherwise), an interface's dynamic
 * type, or +0x18 where no name is known. Roots as users think of them:
 * main.records (a global, with the field inside it), goroutine 17 [chan
 * receive] main.worker: local buf (a stack slot, by the DWARF variable
 * that covers it at the frame's pc), finalizer of 0x..., registers of
 * thread N. `gomem whatis` shows the first path (gm_run_paths).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/typing.h"
#include "verbs/verbs.h"

#define DEFAULT_LIMIT	3
#define MAX_NAME_DEPTH	32 /* nested fields and elements named in one step */
#define MAX_KEY_BYTES	64 /* of a string key, printed */
#define LABEL_BYTES	256
#define ROOT_NAME_BYTES 320

struct step {
	uint64_t addr, size;
	char type[LABEL_BYTES];
	bool has_via;
	uint64_t offset;       /* of the pointer word to the next object, from the slot's start */
	char via[LABEL_BYTES]; /* ".next", "[7]", "[\"k7\"]", ".(*main.T)", "+0x18" */
};

struct path_view {
	const char *kind; /* global, finalizer, cleanup, stack, register, other */
	char name[ROOT_NAME_BYTES];
	char via[LABEL_BYTES]; /* inside the root: a global's field, a local's */
	uint64_t word;	       /* the root word's address (0: a register) */
	bool has_goid, has_object, has_thread;
	uint64_t goid, object, thread;
	char function[LABEL_BYTES];
	char local[LABEL_BYTES];
	const char *wait; /* the goroutine's wait reason or status */
	struct step *steps;
	uint32_t n;
};

struct gm_paths_view {
	struct gm_run *run;
	struct gm_graph *g;
	struct gm_typing *ty; /* NULL: types unknown */
	uint32_t id;
	uint64_t addr, base, size;
	bool reachable;
	char type[LABEL_BYTES];
	struct path_view *paths;
	size_t n;
	/* Read on first use. */
	struct gm_dwarf_global *globals;
	size_t nglobals;
	bool have_globals;
	struct gm_dwarf_closure *funcs;
	size_t nfuncs;
	bool have_funcs;
	struct gm_sched sched;
	bool have_sched;
};

static void cat(char *buf, size_t size, const char *fmt, ...) GM_PRINTF(3, 4);
static void cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	if (used + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

static const char *type_name(struct gm_paths_view *v, uint32_t tid)
{
	if (!v->ty || tid == GM_TYPE_UNKNOWN || tid >= v->ty->tt.ntypes)
		return "unknown";
	return gm_gotypes_get(&v->ty->tt, tid)->name;
}

/* ---- naming what an offset in a value is ---- */

static bool is_signed_int(unsigned kind)
{
	return kind >= 2 && kind <= 6; /* int, int8 .. int64 */
}

static bool is_unsigned_int(unsigned kind)
{
	return kind >= 7 && kind <= GM_KIND_UINTPTR; /* uint, uint8 .. uintptr */
}

/* A map key at addr of type tid: "[7]", "[\"k7\"]", or "[?]". */
static void key_label(struct gm_paths_view *v, uint32_t tid, uint64_t addr, char *out, size_t size)
{
	const struct gm_gotype *t = gm_gotypes_get(&v->ty->tt, tid);
	struct gm_memory *mem = v->g->rt->mem;
	uint8_t buf[MAX_KEY_BYTES];
	if ((is_signed_int(t->kind) || is_unsigned_int(t->kind)) &&
	    (t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8)) {
		uint64_t u = 0;
		struct gomem_error *err = gm_read(mem, addr, buf, (size_t)t->size);
		if (!err) {
			memcpy(&u, buf, (size_t)t->size); /* little-endian: amd64 and arm64 */
			if (is_signed_int(t->kind) && t->size < 8 && (u >> (8 * t->size - 1) & 1))
				u |= ~0ULL << (8 * t->size);
			if (is_signed_int(t->kind))
				cat(out, size, "[%" PRId64 "]", (int64_t)u);
			else
				cat(out, size, "[%" PRIu64 "]", u);
			return;
		}
		gomem_error_destroy(err);
	} else if (t->kind == GM_KIND_STRING) {
		uint64_t sp = 0, len = 0;
		struct gomem_error *err = gm_read_u64(mem, addr, &sp);
		if (!err)
			err = gm_read_u64(mem, addr + 8, &len);
		size_t n = len < MAX_KEY_BYTES ? (size_t)len : MAX_KEY_BYTES;
		if (!err && n)
			err = gm_read(mem, sp, buf, n);
		if (!err) {
			cat(out, size, "[\"");
			for (size_t i = 0; i < n; i++) {
				if (buf[i] == '"' || buf[i] == '\\')
					cat(out, size, "\\%c", buf[i]);
				else if (isprint(buf[i]))
					cat(out, size, "%c", buf[i]);
				else
					cat(out, size, "\\x%02x", buf[i]);
			}
			cat(out, size, "%s\"]", len > n ? "..." : "");
			return;
		}
		gomem_error_destroy(err);
	}
	cat(out, size, "[?]");
}

static const struct gm_gofield *field_named(struct gm_paths_view *v, uint32_t tid, const char *name)
{
	size_t n;
	const struct gm_gofield *fs = gm_gotypes_fields(&v->ty->tt, tid, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(fs[i].name, name) == 0)
			return &fs[i];
	}
	return NULL;
}

/*
 * Offset off in a map's bucket (map.bucket[K]V: tophash, keys, elems,
 * overflow) or swiss group (map.group[K]V: ctrl, slots of key and elem)
 * at addr: "[key]" for an element, "key [key]" for a key, else false.
 */
static struct gomem_error *map_slot(struct gm_paths_view *v, uint32_t tid, uint64_t addr,
				    uint64_t off, char *out, size_t size, bool *done)
{
	struct gm_gotypes *tt = &v->ty->tt;
	const struct gm_gofield *f;
	uint32_t ktid = GM_TYPE_UNKNOWN, etid = GM_TYPE_UNKNOWN, atid, stid;
	uint64_t kaddr = 0, koff, eoff;
	bool elem = false, key = false;
	*done = false;
	if ((f = field_named(v, tid, "slots")) != NULL) {
		/* slots [8]struct{key K; elem V} */
		uint64_t soff = f->offset;
		TRY(gm_gotypes_ref(tt, f->type, &atid));
		const struct gm_gotype *a = gm_gotypes_get(tt, atid);
		if (a->kind != GM_KIND_ARRAY || off < soff)
			return NULL;
		struct gm_typeref er = a->elem;
		TRY(gm_gotypes_ref(tt, er, &stid));
		uint64_t ss = gm_gotypes_get(tt, stid)->size;
		if (!ss || (off - soff) / ss >= a->len)
			return NULL;
		uint64_t i = (off - soff) / ss, in = (off - soff) % ss;
		const struct gm_gofield *kf = field_named(v, stid, "key");
		if (!kf)
			return NULL;
		koff = kf->offset;
		TRY(gm_gotypes_ref(tt, kf->type, &ktid));
		const struct gm_gofield *ef = field_named(v, stid, "elem");
		eoff = ef ? ef->offset : UINT64_MAX;
		kaddr = addr + soff + i * ss + koff;
		key = in >= koff && in < koff + gm_gotypes_get(tt, ktid)->size;
		elem = ef && in >= eoff;
	} else if ((f = field_named(v, tid, "keys")) != NULL) {
		uint64_t ko = f->offset;
		const struct gm_gofield *ef = field_named(v, tid, "elems");
		if (!ef)
			return NULL;
		uint64_t eo = ef->offset;
		struct gm_typeref kr = f->type, er = ef->type;
		TRY(gm_gotypes_ref(tt, kr, &atid));
		const struct gm_gotype *ka = gm_gotypes_get(tt, atid);
		uint64_t klen = ka->len;
		struct gm_typeref kel = ka->elem;
		TRY(gm_gotypes_ref(tt, kel, &ktid));
		uint64_t ks = gm_gotypes_get(tt, ktid)->size;
		TRY(gm_gotypes_ref(tt, er, &atid));
		const struct gm_gotype *ea = gm_gotypes_get(tt, atid);
		uint64_t elen = ea->len;
		struct gm_typeref eel = ea->elem;
		TRY(gm_gotypes_ref(tt, eel, &etid));
		uint64_t es = gm_gotypes_get(tt, etid)->size;
		if (ks && off >= ko && off < ko + ks * klen) {
			key = true;
			kaddr = addr + ko + (off - ko) / ks * ks;
		} else if (es && off >= eo && off < eo + es * elen) {
			elem = true;
			kaddr = addr + ko + (off - eo) / es * ks;
		}
	}
	if (!key && !elem)
		return NULL;
	if (key)
		cat(out, size, " key ");
	key_label(v, ktid, kaddr, out, size);
	*done = true;
	return NULL;
}

static bool is_map_group(const char *name)
{
	return strncmp(name, "map.group[", 10) == 0 || strncmp(name, "map.bucket[", 11) == 0;
}

/* The dynamic type of the interface value at addr (eface or iface) into out. */
static struct gomem_error *dynamic_type(struct gm_paths_view *v, uint32_t tid, uint64_t addr,
					char *out, size_t size)
{
	struct gm_gotypes *tt = &v->ty->tt;
	uint64_t w, typ = 0;
	bool eface = gm_gotypes_get(tt, tid)->nfields == 0 &&
		     (strcmp(gm_gotypes_get(tt, tid)->name, "interface {}") == 0 ||
		      strcmp(gm_gotypes_get(tt, tid)->name, "any") == 0);
	struct gomem_error *err = gm_read_u64(v->g->rt->mem, addr, &w);
	if (!err && w)
		err = eface ? (typ = w, NULL) : gm_gotypes_itab_type(tt, w, &typ);
	uint32_t dyn = GM_TYPE_UNKNOWN;
	if (!err && typ)
		err = gm_gotypes_at(tt, typ, &dyn);
	if (err && err != &gm_error_no_memory) {
		gomem_error_destroy(err);
		err = NULL;
	}
	TRY(err);
	cat(out, size, ".(%s)", dyn != GM_TYPE_UNKNOWN ? type_name(v, dyn) : "?");
	return NULL;
}

/*
 * Appends what offset off is in a value of type tid at addr: fields,
 * indices, a map key, an interface's dynamic type; "+0x18" for what has
 * no name. Bounded by MAX_NAME_DEPTH levels.
 */
static struct gomem_error *name_offset(struct gm_paths_view *v, uint32_t tid, uint64_t addr,
				       uint64_t off, char *out, size_t size)
{
	struct gm_gotypes *tt = v->ty ? &v->ty->tt : NULL;
	for (int depth = 0; depth < MAX_NAME_DEPTH; depth++) {
		if (!tt || tid == GM_TYPE_UNKNOWN || tid >= tt->ntypes)
			break;
		const struct gm_gotype *t = gm_gotypes_get(tt, tid);
		switch (t->kind) {
		case GM_KIND_STRUCT: {
			if (is_map_group(t->name)) {
				bool done;
				TRY(map_slot(v, tid, addr, off, out, size, &done));
				if (done)
					return NULL;
			}
			/* The field that holds off (not a zero-size one at its offset). */
			size_t n;
			gm_gotypes_fields(tt, tid, &n);
			struct gm_gofield f = {0};
			uint32_t fid = GM_TYPE_UNKNOWN;
			bool found = false;
			for (size_t i = 0; i < n && !found; i++) {
				/* Copied: resolving a field's type may add types (fields move). */
				f = gm_gotypes_fields(tt, tid, &n)[i];
				if (f.offset > off)
					continue;
				TRY(gm_gotypes_ref(tt, f.type, &fid));
				found = off - f.offset < gm_gotypes_get(tt, fid)->size;
			}
			if (!found)
				goto unnamed;
			cat(out, size, ".%s", f.name && f.name[0] ? f.name : "?");
			addr += f.offset;
			off -= f.offset;
			tid = fid;
			continue;
		}
		case GM_KIND_ARRAY: {
			uint64_t len = t->len;
			uint32_t eid;
			TRY(gm_gotypes_ref(tt, t->elem, &eid));
			uint64_t es = gm_gotypes_get(tt, eid)->size;
			if (!es || off / es >= len)
				goto unnamed;
			cat(out, size, "[%" PRIu64 "]", off / es);
			addr += off / es * es;
			off %= es;
			tid = eid;
			continue;
		}
		case GM_KIND_INTERFACE:
			if (off == 8)
				return dynamic_type(v, tid, addr, out, size);
			goto unnamed;
		case GM_KIND_STRING:
		case GM_KIND_SLICE:
		case GM_KIND_POINTER:
		case GM_KIND_UNSAFE_POINTER:
		case GM_KIND_CHAN:
		case GM_KIND_MAP:
		case GM_KIND_FUNC:
			if (off == 0)
				return NULL; /* the pointer word itself */
			goto unnamed;
		default:
			goto unnamed;
		}
	}
unnamed:
	if (off)
		cat(out, size, "+0x%" PRIx64, off);
	return NULL;
}

/* ---- the steps ---- */

static struct gomem_error *object_step(struct gm_paths_view *v, uint32_t id, bool last,
				       uint64_t off, struct step *st)
{
	const struct gm_index_span *s = gm_heap_index_span(v->g->idx, id);
	gm_heap_index_object(v->g->idx, id, &st->addr, &st->size);
	uint32_t tid = v->ty ? gm_typing_type(v->ty, id) : GM_TYPE_UNKNOWN;
	bool array = v->ty && (v->ty->type[id] & GM_TYPING_ARRAY) != 0;
	snprintf(st->type, sizeof(st->type), "%s", type_name(v, tid));
	if (last)
		return NULL;
	st->has_via = true;
	st->offset = off;
	uint64_t hdr = s->header_bytes;
	if (off < hdr || tid == GM_TYPE_UNKNOWN || tid >= v->ty->tt.ntypes) {
		snprintf(st->via, sizeof(st->via), "+0x%" PRIx64, off);
		return NULL;
	}
	uint64_t in = off - hdr, data = st->addr + hdr;
	/*
	 * A slot that holds several pointers, strings or interfaces of its type is
	 * an array of them, flagged or not (a struct, a closure's, may be cut short).
	 */
	const struct gm_gotype *t = gm_gotypes_get(&v->ty->tt, tid);
	bool several = t->kind != GM_KIND_STRUCT && t->size && (st->size - hdr) / t->size > 1;
	if (array || several) {
		uint64_t es = gm_gotypes_get(&v->ty->tt, tid)->size;
		if (es) {
			/* An array of map groups is named by the key alone; of one element, not. */
			if (!is_map_group(gm_gotypes_get(&v->ty->tt, tid)->name) &&
			    (st->size - hdr) / es > 1)
				cat(st->via, sizeof(st->via), "[%" PRIu64 "]", in / es);
			data += in / es * es;
			in %= es;
		}
	}
	TRY(name_offset(v, tid, data, in, st->via, sizeof(st->via)));
	if (!st->via[0]) /* the object is the pointer (new(*T), a boxed pointer): through it */
		snprintf(st->via, sizeof(st->via), "*");
	return NULL;
}

/* ---- the roots ---- */

static int cmp_global(const void *pa, const void *pb)
{
	const struct gm_dwarf_global *a = pa, *b = pb;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* A global root: its symbol, and the field of the global's DWARF type that the word is. */
static struct gomem_error *global_root(struct gm_paths_view *v, const struct gm_root *r,
				       struct path_view *p)
{
	struct gm_graph *g = v->g;
	uint64_t bias = g->rt->bias;
	p->kind = "global";
	const struct gm_sym *sym =
	    g->have_symtab ? gm_symtab_find(&g->symtab, r->addr - bias) : NULL;
	if (!sym || sym->func) {
		snprintf(p->name, sizeof(p->name), "global at 0x%" PRIx64, r->addr);
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", sym->name);
	uint64_t off = r->addr - bias - sym->addr;
	if (!v->have_globals && v->ty && g->rt->dw) {
		struct gomem_error *err = gm_dwarf_globals(g->rt->dw, &v->globals, &v->nglobals);
		v->have_globals = true;
		if (err && err != &gm_error_no_memory) {
			gomem_error_destroy(err); /* no DWARF: no field names */
			err = NULL;
		}
		TRY(err);
	}
	struct gm_dwarf_global key = {.addr = sym->addr};
	const struct gm_dwarf_global *dg =
	    v->nglobals ? bsearch(&key, v->globals, v->nglobals, sizeof(key), cmp_global) : NULL;
	uint32_t tid = GM_TYPE_UNKNOWN;
	if (dg && v->ty)
		TRY(gm_gotypes_dwarf(&v->ty->tt, dg->type, &tid));
	if (tid != GM_TYPE_UNKNOWN)
		return name_offset(v, tid, r->addr - off, off, p->via, sizeof(p->via));
	if (off)
		snprintf(p->via, sizeof(p->via), "+0x%" PRIx64, off);
	return NULL;
}

static struct gomem_error *read_sched(struct gm_paths_view *v)
{
	if (v->have_sched)
		return NULL;
	v->have_sched = true;
	struct gomem_error *err =
	    gm_sched_read(v->g->rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &v->sched);
	if (err && err != &gm_error_no_memory) {
		gm_run_warn(v->run, false, "goroutines not named: %s", gomem_error_message(err));
		gomem_error_destroy(err);
		memset(&v->sched, 0, sizeof(v->sched));
		return NULL;
	}
	return err;
}

/* The stack slot a root word is, found again by scanning the stacks as marking did. */
struct find_slot {
	uint64_t addr, goid, value;
	bool found;
	struct gm_stack_slot slot;
};

static struct gomem_error stop_stacks = {GOMEM_ERROR_USAGE, (char *)"paths: slot found"};

static struct gomem_error *match_slot(void *arg, const struct gm_stack_slot *s)
{
	struct find_slot *f = arg;
	if (s->addr != f->addr || s->goid != f->goid || s->value != f->value ||
	    s->kind == GM_STACK_SLOT_REGISTER)
		return NULL;
	f->slot = *s;
	f->found = true;
	return &stop_stacks;
}

static const char *slot_kind_name(enum gm_stack_slot_kind k)
{
	switch (k) {
	case GM_STACK_SLOT_CTXT:
		return "closure context (sched.ctxt)";
	case GM_STACK_SLOT_DEFER:
		return "defer record";
	case GM_STACK_SLOT_PANIC:
		return "panic record";
	default:
		return NULL;
	}
}

/* The DWARF variable of the slot's frame that covers it: its name and the field inside. */
static struct gomem_error *frame_variable(struct gm_paths_view *v, const struct gm_stack_slot *s,
					  struct path_view *p)
{
	struct gm_runtime *rt = v->g->rt;
	if (!rt->dw || !s->frame_pc || !s->frame_fp || !s->addr)
		return NULL;
	if (!v->have_funcs) {
		v->have_funcs = true;
		struct gomem_error *err = gm_dwarf_functions(rt->dw, &v->funcs, &v->nfuncs);
		if (err && err != &gm_error_no_memory) {
			gomem_error_destroy(err);
			err = NULL;
		}
		TRY(err);
	}
	/* The stack map is read at pc-1 (the call's pc); so are the locations (typing.c). */
	uint64_t lpc = s->frame_pc - 1 - rt->bias;
	size_t i = GM_UPPER_BOUND(v->funcs, v->nfuncs, pc, lpc);
	if (i == 0)
		return NULL;
	_cleanup_free_ struct gm_dwarf_piece *pieces = NULL;
	size_t n = 0;
	struct gomem_error *err =
	    gm_dwarf_frame_pieces(rt->dw, v->funcs[i - 1].die, lpc, s->frame_fp, &pieces, &n);
	if (err && err != &gm_error_no_memory) {
		gomem_error_destroy(err);
		return NULL;
	}
	TRY(err);
	for (size_t k = 0; k < n; k++) {
		const struct gm_dwarf_piece *pc = &pieces[k];
		uint32_t tid = GM_TYPE_UNKNOWN;
		if (s->addr < pc->addr || !pc->name)
			continue;
		if (v->ty)
			TRY(gm_gotypes_dwarf(&v->ty->tt, pc->type, &tid));
		uint64_t size = pc->size;
		if (!size && tid != GM_TYPE_UNKNOWN)
			size = gm_gotypes_get(&v->ty->tt, tid)->size;
		if (s->addr - pc->addr >= (size ? size : 8))
			continue;
		snprintf(p->local, sizeof(p->local), "%s", pc->name);
		uint64_t in = pc->var_off + (s->addr - pc->addr);
		if (tid != GM_TYPE_UNKNOWN)
			TRY(name_offset(v, tid, pc->addr - pc->var_off, in, p->via,
					sizeof(p->via)));
		else if (in)
			snprintf(p->via, sizeof(p->via), "+0x%" PRIx64, in);
		return NULL;
	}
	return NULL;
}

static const struct gm_goroutine *goroutine(struct gm_paths_view *v, uint64_t goid)
{
	for (size_t i = 0; i < v->sched.ngs; i++) {
		if (v->sched.gs[i].goid == goid)
			return &v->sched.gs[i];
	}
	return NULL;
}

static struct gomem_error *stack_root(struct gm_paths_view *v, const struct gm_root *r,
				      struct path_view *p)
{
	p->kind = "stack";
	p->has_goid = true;
	p->goid = r->goid;
	TRY(read_sched(v));
	const struct gm_goroutine *gr = goroutine(v, r->goid);
	p->wait =
	    gr ? gr->wait_reason ? gr->wait_reason : gm_goroutine_status_name(gr->status) : NULL;
	struct find_slot f = {.addr = r->addr, .goid = r->goid, .value = r->value};
	struct gm_stack_roots_stats stats;
	struct gomem_error *err = gm_stack_roots(v->g->rt, match_slot, &f, &stats);
	if (err && err != &stop_stacks && err != &gm_error_no_memory) {
		gomem_error_destroy(err); /* the graph scanned it once: the root keeps its name */
		err = NULL;
	}
	if (err == &gm_error_no_memory)
		return err;
	if (r->name && strcmp(r->name, "stack") != 0)
		snprintf(p->function, sizeof(p->function), "%s", r->name);
	const char *what = NULL;
	char where[64] = "";
	if (f.found) {
		what = slot_kind_name(f.slot.kind);
		if (!what)
			TRY(frame_variable(v, &f.slot, p));
		if (!what && !p->local[0] && f.slot.frame_sp && r->addr >= f.slot.frame_sp)
			snprintf(where, sizeof(where), "+0x%" PRIx64 " (sp)%s",
				 r->addr - f.slot.frame_sp,
				 f.slot.conservative ? ", scanned conservatively" : "");
	}
	snprintf(p->name, sizeof(p->name), "goroutine %" PRIu64, r->goid);
	if (p->wait)
		cat(p->name, sizeof(p->name), " [%s]", p->wait);
	if (p->function[0])
		cat(p->name, sizeof(p->name), " %s", p->function);
	if (p->local[0])
		cat(p->name, sizeof(p->name), ": %s %s",
		    f.slot.kind == GM_STACK_SLOT_ARG ? "arg" : "local", p->local);
	else if (what)
		cat(p->name, sizeof(p->name), ": %s", what);
	else if (where[0])
		cat(p->name, sizeof(p->name), ": %s", where);
	return NULL;
}

static struct gomem_error *register_root(struct gm_paths_view *v, const struct gm_root *r,
					 struct path_view *p)
{
	p->kind = "register";
	p->has_goid = true;
	p->goid = r->goid;
	TRY(read_sched(v));
	for (size_t i = 0; i < v->sched.nthreads; i++) {
		const struct gm_thread *th = &v->sched.threads[i];
		if (th->has_curg && th->curg_goid == r->goid) {
			p->has_thread = true;
			p->thread = th->procid ? th->procid : (uint64_t)th->id;
		}
	}
	if (p->has_thread)
		snprintf(p->name, sizeof(p->name),
			 "registers of thread %" PRIu64 " (goroutine %" PRIu64 ")", p->thread,
			 r->goid);
	else
		snprintf(p->name, sizeof(p->name), "registers of goroutine %" PRIu64 "'s thread",
			 r->goid);
	return NULL;
}

static struct gomem_error *name_root(struct gm_paths_view *v, const struct gm_root *r,
				     struct path_view *p)
{
	p->word = r->addr;
	switch (gm_path_root_of(r->kind)) {
	case GM_PATH_GLOBAL:
		return global_root(v, r, p);
	case GM_PATH_STACK:
		return stack_root(v, r, p);
	case GM_PATH_REGISTER:
		return register_root(v, r, p);
	case GM_PATH_FINALIZER:
		p->kind = "finalizer";
		break;
	case GM_PATH_CLEANUP:
		p->kind = "cleanup";
		break;
	default:
		p->kind = "other";
		break;
	}
	const char *what = r->name ? r->name : p->kind;
	p->has_object = r->object != 0;
	p->object = r->object;
	if (r->object)
		snprintf(p->name, sizeof(p->name), "%s of 0x%" PRIx64, what, r->object);
	else
		snprintf(p->name, sizeof(p->name), "%s", what);
	return NULL;
}

/* ---- the view ---- */

void gm_paths_view_free(struct gm_paths_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->paths[i].steps);
	free(v->paths);
	free(v->globals);
	free(v->funcs);
	if (v->have_sched)
		gm_sched_deinit(&v->sched);
	free(v);
}

static struct gomem_error *view_paths(struct gm_paths_view *v, unsigned limit)
{
	struct gm_path *paths;
	size_t n;
	TRY(gm_paths_find(v->g, v->id, limit, &paths, &n));
	struct gomem_error *err = NULL;
	v->paths = calloc(n ? n : 1, sizeof(*v->paths));
	if (!v->paths)
		err = &gm_error_no_memory;
	for (size_t i = 0; !err && i < n; i++) {
		struct path_view *p = &v->paths[v->n++];
		const struct gm_path *gp = &paths[i];
		p->steps = calloc(gp->n, sizeof(*p->steps));
		if (!p->steps) {
			err = &gm_error_no_memory;
			break;
		}
		p->n = gp->n;
		err = name_root(v, &v->g->roots[gp->root], p);
		for (uint32_t k = 0; !err && k < gp->n; k++)
			err = object_step(v, gp->ids[k], k + 1 == gp->n,
					  k + 1 < gp->n ? gp->offs[k] : 0, &p->steps[k]);
	}
	gm_paths_free(paths, n);
	return err;
}

struct gomem_error *gm_run_paths(struct gm_run *r, struct gm_graph *g, struct gm_typing *ty,
				 uint32_t id, unsigned limit, struct gm_paths_view **ret)
{
	struct gm_paths_view *v = calloc(1, sizeof(*v));
	if (!v)
		return &gm_error_no_memory;
	v->run = r;
	v->g = g;
	v->ty = ty;
	v->id = id;
	gm_heap_index_object(g->idx, id, &v->base, &v->size);
	v->addr = v->base;
	v->reachable = gm_graph_reached(g, id);
	snprintf(v->type, sizeof(v->type), "%s",
		 type_name(v, ty ? gm_typing_type(ty, id) : GM_TYPE_UNKNOWN));
	struct gomem_error *err = view_paths(v, limit);
	if (err) {
		gm_paths_view_free(v);
		return err;
	}
	*ret = v;
	return NULL;
}

size_t gm_paths_view_count(const struct gm_paths_view *v)
{
	return v->n;
}

/* ---- output ---- */

/* Appends line to b, cut to width columns ("..." at the cut), and a newline. */
static void cut_line(struct gm_strbuf *b, const char *line, int width)
{
	int n = (int)strlen(line);
	if (n > width)
		gm_strbuf_printf(b, "%.*s...\n", width - 3, line);
	else
		gm_strbuf_printf(b, "%s\n", line);
}

void gm_paths_text_lines(struct gm_strbuf *b, const struct gm_paths_view *v, size_t i,
			 const char *first, const char *indent, int width)
{
	const struct path_view *p = &v->paths[i];
	char line[2 * ROOT_NAME_BYTES + 2 * LABEL_BYTES];
	snprintf(line, sizeof(line), "%s%s%s", first, p->name, p->via);
	cut_line(b, line, width);
	for (uint32_t k = 0; k < p->n; k++) {
		const struct step *s = &p->steps[k];
		snprintf(line, sizeof(line), "%s-> 0x%" PRIx64 " (%s)%s%s", indent, s->addr,
			 s->type, s->has_via ? " " : "", s->has_via ? s->via : "");
		cut_line(b, line, width);
	}
}

void gm_paths_json_path(struct gm_jw *w, const struct gm_paths_view *v, size_t i)
{
	const struct path_view *p = &v->paths[i];
	gm_jw_object(w);
	gm_jw_key(w, "root");
	gm_jw_object(w);
	gm_jw_member_string(w, "kind", p->kind);
	gm_jw_member_string(w, "name", p->name);
	gm_jw_member_string(w, "via", p->via);
	gm_jw_member_uint_or_null(w, "word", p->word != 0, p->word);
	gm_jw_member_uint_or_null(w, "goroutine", p->has_goid, p->goid);
	gm_jw_member_string(w, "wait", p->wait);
	gm_jw_member_string(w, "function", p->function[0] ? p->function : NULL);
	gm_jw_member_string(w, "local", p->local[0] ? p->local : NULL);
	gm_jw_member_uint_or_null(w, "object", p->has_object, p->object);
	gm_jw_member_uint_or_null(w, "thread", p->has_thread, p->thread);
	gm_jw_end(w);
	gm_jw_member_uint(w, "depth", p->n);
	gm_jw_key(w, "steps");
	gm_jw_array(w);
	for (uint32_t k = 0; k < p->n; k++) {
		const struct step *s = &p->steps[k];
		gm_jw_object(w);
		gm_jw_member_uint(w, "addr", s->addr);
		gm_jw_member_uint(w, "size", s->size);
		gm_jw_member_string(w, "type", s->type);
		gm_jw_member_uint_or_null(w, "offset", s->has_via, s->offset);
		gm_jw_member_string(w, "via", s->has_via ? s->via : NULL);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_end(w);
}

static void paths_text(struct gm_paths_view *v)
{
	struct gm_strbuf *b = &v->run->out;
	char h[32];
	gm_strbuf_printf(b, "0x%" PRIx64 ": %s, %s, %s\n", v->base, v->type,
			 gm_human_bytes(v->size, h), v->reachable ? "reachable" : "unreachable");
	if (!v->reachable)
		gm_strbuf_printf(b, "no root reaches it: garbage the next GC frees (no path)\n");
	for (size_t i = 0; i < v->n; i++) {
		const struct path_view *p = &v->paths[i];
		gm_strbuf_printf(b, "\npath %zu: from %s%s, depth %" PRIu32 "%s\n", i + 1,
				 strcmp(p->kind, "global") == 0 ? "global " : "", p->name, p->n,
				 i == 0 ? " (the shortest)" : "");
		gm_strbuf_printf(b, "  %-18s %10s  %-36s %s\n", "OBJECT", "SIZE", "TYPE",
				 "POINTS ON THROUGH");
		gm_strbuf_printf(b, "  %-18s %10s  %-36s %s%s\n", p->kind, "", "", p->name, p->via);
		for (uint32_t k = 0; k < p->n; k++) {
			const struct step *s = &p->steps[k];
			char addr[32];
			snprintf(addr, sizeof(addr), "0x%" PRIx64, s->addr);
			gm_strbuf_printf(b, "  %-18s %10s  %-36s %s\n", addr,
					 gm_human_bytes(s->size, h), s->type,
					 s->has_via ? s->via : "(the object)");
		}
	}
	if (v->reachable && !v->n)
		gm_strbuf_printf(b, "no path found\n");
	gm_run_text_warnings(v->run);
}

static void paths_json(struct gm_paths_view *v)
{
	struct gm_jw *w = &v->run->jw;
	gm_run_json_begin(v->run, "gomem/paths/v1");
	gm_jw_key(w, "target");
	gm_json_target(w, v->run->target);
	gm_jw_line(w);
	gm_jw_key(w, "object");
	gm_jw_object(w);
	gm_jw_member_uint(w, "addr", v->base);
	gm_jw_member_uint(w, "size", v->size);
	gm_jw_member_string(w, "type", v->type);
	gm_jw_member_bool(w, "reachable", v->reachable);
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "paths");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < v->n; i++)
		gm_paths_json_path(w, v, i);
	gm_jw_end(w);
	gm_run_json_end(v->run);
}

static struct gomem_error *parse_addr(const struct gm_run *r, uint64_t *ret)
{
	const char *s = r->operands[0];
	char *end;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	errno = 0;
	unsigned long long v = strtoull(digits, &end, hex ? 16 : 10);
	if (errno || end == digits || *end ||
	    !(hex ? isxdigit((unsigned char)digits[0]) : isdigit((unsigned char)digits[0])))
		return gm_error(GOMEM_ERROR_USAGE,
				"paths: ADDR must be a number, decimal or 0x hex, not \"%s\"", s);
	*ret = v;
	return NULL;
}

/* The object that holds addr: one error line for anything else. */
static struct gomem_error *object_at(struct gm_graph *g, uint64_t addr, uint32_t *id_ret)
{
	uint32_t id = 0;
	switch (gm_heap_index_where(g->idx, addr, &id)) {
	case GM_PLACE_SLOT:
		if (gm_heap_index_allocated(g->idx, id)) {
			*id_ret = id;
			return NULL;
		}
		return gm_error(GOMEM_ERROR_USAGE,
				"paths: 0x%" PRIx64 " is in a free slot of the heap, not an object",
				addr);
	case GM_PLACE_MANUAL:
		return gm_error(GOMEM_ERROR_USAGE,
				"paths: 0x%" PRIx64
				" is in a stack or GC work span, not a heap object (try whatis)",
				addr);
	case GM_PLACE_PAST_SLOTS:
		return gm_error(
		    GOMEM_ERROR_USAGE,
		    "paths: 0x%" PRIx64 " is past the last slot of its span, not an object", addr);
	case GM_PLACE_NO_SPAN:
		return gm_error(
		    GOMEM_ERROR_USAGE,
		    "paths: 0x%" PRIx64 " is in heap pages no span holds, not an object", addr);
	default:
		return gm_error(GOMEM_ERROR_USAGE,
				"paths: 0x%" PRIx64 " is not in the Go heap (try whatis)", addr);
	}
}

static struct gomem_error *run(struct gm_run *r)
{
	uint64_t addr = 0, limit = 0;
	struct gm_typing *ty = NULL;
	struct gm_graph *g;
	struct gm_paths_view *v = NULL;
	uint32_t id = 0;
	TRY(parse_addr(r, &addr));
	TRY(gm_run_uint_option(r, "--limit", DEFAULT_LIMIT, &limit));
	if (limit < 1 || limit > GM_PATH_ROOTS)
		return gm_error(GOMEM_ERROR_USAGE,
				"paths: --limit is 1 to %d (one path a root kind)", GM_PATH_ROOTS);
	struct gomem_error *err = gm_run_typing(r, &ty);
	if (err == &gm_error_no_memory)
		return err;
	if (err) {
		gm_run_warn(r, false, "no object types: %s", gomem_error_message(err));
		gomem_error_destroy(err);
		ty = NULL;
	}
	TRY(gm_run_graph(r, &g)); /* the run's graph, the types' own */
	TRY(object_at(g, addr, &id));
	TRY(gm_run_paths(r, g, ty, id, (unsigned)limit, &v));
	v->addr = addr;
	if (r->json)
		paths_json(v);
	else
		paths_text(v);
	gm_paths_view_free(v);
	return NULL;
}

static const struct gm_option_spec options[] = {
    {"--limit", "N", "at most N paths, one a kind of root (default 3)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_paths = {
    .name = "paths",
    .usage = "paths [--limit N] [--json] ADDR",
    .summary = "why an object is alive: the shortest paths from the roots to it",
    .help = "Finds the object that holds ADDR (decimal or 0x hex; in GDB any expression) "
	    "and the shortest path to it from the roots (breadth first over the object "
	    "graph that `objects` marks), then the shortest from each other kind of root "
	    "that reaches it (global, finalizer, cleanup, stack, register, weak handle), "
	    "at most N paths. Each step gives an object's address, size and type (as "
	    "`types` finds them) and what points on to the next: a field, an index, a "
	    "map key (a string or an integer, [?] otherwise), an interface's dynamic type "
	    "or +0xN where no name is known. Roots are named as the program does: a global "
	    "and the field in it, a goroutine's frame and the DWARF variable that holds "
	    "the word (or its offset from sp), the object a finalizer or cleanup is on, a "
	    "thread's registers. An unreachable object has no path. With --json, prints "
	    "one gomem/paths/v1 object.",
    .min_operands = 1,
    .max_operands = 1,
    .options = options,
    .run = run,
};
