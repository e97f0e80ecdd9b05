/*
 * The program's own types and globals in its DWARF: what types a global
 * has (the typed roots of the object graph), and what a type is made of
 * (kind, size, element, key, members), with Go's attributes
 * (cmd/link/internal/ld/dwarf.go): DW_AT_go_kind, DW_AT_go_elem,
 * DW_AT_go_key and DW_AT_go_runtime_type. The last is an offset from the
 * module's moduledata.types, 0 when the type symbol was not kept (a slice
 * type no code converts to an interface, for one): not an address, as
 * GO-OBJECTS.md §4.8 says (checked on Go 1.19-1.27 cores).
 *
 * Only the program's own DWARF answers (gm_dwarf_is_program): a reference
 * program or a layout table knows the runtime, not this program.
 */
#include <dwarf.h>
#include <stdio.h>
#include <string.h>

#include "dwarf/libdw.h"

#define MAX_MEMBERS  (1u << 16) /* Go allows more, a real program has fewer */
#define MAX_GLOBALS  (1u << 24) /* more global variables than this is a corrupt DWARF */
#define MAX_TYPEDEFS 16		/* typedef chains longer than this are a loop */

static struct gomem_error *no_program(const char *what)
{
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"%s: the program's own DWARF is needed (this one has none)", what);
}

static struct gomem_error *bad_die(uint64_t off, const char *what)
{
	return gm_error(GOMEM_ERROR_FORMAT, "DWARF DIE at 0x%llx: %s", (unsigned long long)off,
			what);
}

static bool attr_udata(Dwarf_Die *die, unsigned name, uint64_t *ret)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;
	if (!dwarf_attr(die, name, &attr) || dwarf_formudata(&attr, &w) != 0)
		return false;
	*ret = w;
	return true;
}

/* DW_AT_go_runtime_type is a DW_FORM_addr holding an offset (dwarf.go's putattr). */
static bool attr_addr(Dwarf_Die *die, unsigned name, uint64_t *ret)
{
	Dwarf_Attribute attr;
	Dwarf_Addr a;
	if (!dwarf_attr(die, name, &attr))
		return false;
	if (dwarf_formaddr(&attr, &a) == 0) {
		*ret = a;
		return true;
	}
	return attr_udata(die, name, ret);
}

/* A reference attribute, as the DIE offset it points to. */
static bool attr_ref(Dwarf_Die *die, unsigned name, uint64_t *ret)
{
	Dwarf_Attribute attr;
	Dwarf_Die t;
	if (!dwarf_attr(die, name, &attr) || !dwarf_formref_die(&attr, &t))
		return false;
	*ret = dwarf_dieoffset(&t);
	return true;
}

static bool die_at(Dwarf *dw, uint64_t off, Dwarf_Die *ret)
{
	return dwarf_offdie(dw, off, ret) != NULL;
}

/* The subrange's element count of an array type. */
static uint64_t array_count(Dwarf_Die *t)
{
	Dwarf_Die sub;
	uint64_t w;
	if (dwarf_child(t, &sub) != 0)
		return 0;
	if (attr_udata(&sub, DW_AT_count, &w))
		return w;
	if (attr_udata(&sub, DW_AT_upper_bound, &w))
		return w + 1;
	return 0;
}

static size_t count_members(Dwarf_Die *st)
{
	Dwarf_Die m;
	size_t n = 0;
	if (dwarf_child(st, &m) != 0)
		return 0;
	do {
		if (dwarf_tag(&m) == DW_TAG_member && n < MAX_MEMBERS)
			n++;
	} while (dwarf_siblingof(&m, &m) == 0);
	return n;
}

/* The Go attributes that a typedef may carry (kind, runtime type, key, elem). */
static void go_attrs(Dwarf_Die *die, struct gm_dwarf_type *t)
{
	uint64_t v;
	if (!t->go_kind && attr_udata(die, GM_DW_AT_GO_KIND, &v))
		t->go_kind = (unsigned)v;
	if (!t->runtime_type && attr_addr(die, GM_DW_AT_GO_RUNTIME_TYPE, &v))
		t->runtime_type = v;
	if (!t->key)
		attr_ref(die, GM_DW_AT_GO_KEY, &t->key);
	if (!t->elem)
		attr_ref(die, GM_DW_AT_GO_ELEM, &t->elem);
}

struct gomem_error *gm_dwarf_type_at(struct gm_dwarf *d, uint64_t off, struct gm_dwarf_type *ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die die;
	if (!dw)
		return no_program("a type");
	if (!die_at(dw, off, &die))
		return bad_die(off, "no such DIE");
	struct gm_dwarf_type t = {.off = off};
	const char *name = dwarf_diename(&die);
	t.name = name ? name : "";
	/* A typedef is a named type (its own kind and runtime type) over its underlying type. */
	for (int i = 0; dwarf_tag(&die) == DW_TAG_typedef; i++) {
		uint64_t under;
		go_attrs(&die, &t);
		if (i >= MAX_TYPEDEFS || !attr_ref(&die, DW_AT_type, &under) ||
		    !die_at(dw, under, &die))
			return bad_die(off, "a typedef without its type");
	}
	go_attrs(&die, &t);
	t.tag = dwarf_tag(&die);
	if (!attr_udata(&die, DW_AT_byte_size, &t.size) &&
	    (t.tag == DW_TAG_pointer_type || t.tag == DW_TAG_subroutine_type))
		t.size = 8;
	switch (t.tag) {
	case DW_TAG_pointer_type:
		if (!t.elem)
			attr_ref(&die, DW_AT_type, &t.elem);
		break;
	case DW_TAG_array_type: {
		uint64_t esz;
		Dwarf_Die elem;
		attr_ref(&die, DW_AT_type, &t.elem);
		t.count = array_count(&die);
		if (!t.size && t.elem && die_at(dw, t.elem, &elem) &&
		    attr_udata(&elem, DW_AT_byte_size, &esz))
			t.size = esz * t.count;
		break;
	}
	case DW_TAG_structure_type:
		t.nmembers = count_members(&die);
		break;
	default:
		break;
	}
	*ret = t;
	return NULL;
}

struct gomem_error *gm_dwarf_type_members(struct gm_dwarf *d, uint64_t off,
					  struct gm_dwarf_member **ret, size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die die, m;
	if (!dw)
		return no_program("a type's members");
	if (!die_at(dw, off, &die))
		return bad_die(off, "no such DIE");
	for (int i = 0; dwarf_tag(&die) == DW_TAG_typedef; i++) {
		uint64_t under;
		if (i >= MAX_TYPEDEFS || !attr_ref(&die, DW_AT_type, &under) ||
		    !die_at(dw, under, &die))
			return bad_die(off, "a typedef without its type");
	}
	size_t n = dwarf_tag(&die) == DW_TAG_structure_type ? count_members(&die) : 0;
	struct gm_dwarf_member *v = n ? calloc(n, sizeof(*v)) : NULL;
	if (n && !v)
		return &gm_error_no_memory;
	size_t i = 0;
	if (n && dwarf_child(&die, &m) == 0) {
		do {
			if (dwarf_tag(&m) != DW_TAG_member || i >= n)
				continue;
			struct gm_dwarf_member *x = &v[i++];
			uint64_t emb = 0;
			const char *name = dwarf_diename(&m);
			x->name = name ? name : "";
			if (!attr_udata(&m, DW_AT_data_member_location, &x->offset) ||
			    !attr_ref(&m, DW_AT_type, &x->type)) {
				free(v);
				return bad_die(dwarf_dieoffset(&m), "a member without a place");
			}
			x->embedded = attr_udata(&m, GM_DW_AT_GO_EMBEDDED, &emb) && emb;
		} while (dwarf_siblingof(&m, &m) == 0);
	}
	*ret = v;
	*n_ret = i;
	return NULL;
}

/* Calls fn for each top-level DIE of every compile unit; fn returns true to stop. */
static bool foreach_top_die(Dwarf *dw, bool (*fn)(void *arg, Dwarf_Die *die), void *arg)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				if (fn(arg, &die))
					return true;
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
	return false;
}

struct find_type {
	const char *name;
	uint64_t off;
};

static bool match_type(void *arg, Dwarf_Die *die)
{
	struct find_type *f = arg;
	int tag = dwarf_tag(die);
	if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef && tag != DW_TAG_base_type &&
	    tag != DW_TAG_pointer_type && tag != DW_TAG_array_type && tag != DW_TAG_subroutine_type)
		return false;
	const char *n = dwarf_diename(die);
	if (!n || strcmp(n, f->name) != 0)
		return false;
	f->off = dwarf_dieoffset(die);
	return true;
}

struct gomem_error *gm_dwarf_find_type(struct gm_dwarf *d, const char *name, uint64_t *off_ret,
				       bool *found)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	if (!dw)
		return no_program("a type by name");
	struct find_type f = {name, 0};
	*found = foreach_top_die(dw, match_type, &f);
	if (*found)
		*off_ret = f.off;
	return NULL;
}

GM_DEFINE_ARRAY(global_array, struct gm_dwarf_global)

struct collect_globals {
	struct global_array a;
	bool oom;
};

static bool add_global(void *arg, Dwarf_Die *die)
{
	struct collect_globals *c = arg;
	Dwarf_Attribute attr;
	Dwarf_Block block;
	uint64_t type;
	if (dwarf_tag(die) != DW_TAG_variable || !dwarf_diename(die) ||
	    !dwarf_attr(die, DW_AT_location, &attr) || dwarf_formblock(&attr, &block) != 0 ||
	    block.length != 9 || block.data[0] != DW_OP_addr || !attr_ref(die, DW_AT_type, &type))
		return false;
	if (c->a.n >= MAX_GLOBALS)
		return true;
	struct gm_dwarf_global *g = global_array_add(&c->a);
	if (!g) {
		c->oom = true;
		return true;
	}
	g->name = dwarf_diename(die);
	memcpy(&g->addr, block.data + 1, 8);
	g->type = type;
	return false;
}

static int cmp_global(const void *a, const void *b)
{
	const struct gm_dwarf_global *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct gomem_error *gm_dwarf_globals(struct gm_dwarf *d, struct gm_dwarf_global **ret,
				     size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	if (!dw)
		return no_program("the program's globals");
	struct collect_globals c = {0};
	foreach_top_die(dw, add_global, &c);
	if (c.oom) {
		free(c.a.v);
		return &gm_error_no_memory;
	}
	gm_sort(c.a.v, c.a.n, sizeof(*c.a.v), cmp_global);
	*ret = c.a.v;
	*n_ret = c.a.n;
	return NULL;
}

/* ---- closures (GO-OBJECTS.md §4.7) ---- */

/* Calls fn for each DW_TAG_variable child of die with DW_AT_go_closure_offset. */
static size_t closure_vars(Dwarf_Die *fn, struct gm_dwarf_member *out, size_t max)
{
	Dwarf_Die v;
	size_t n = 0;
	if (dwarf_child(fn, &v) != 0)
		return 0;
	do {
		uint64_t off, type;
		if (dwarf_tag(&v) != DW_TAG_variable ||
		    !attr_udata(&v, GM_DW_AT_GO_CLOSURE_OFFSET, &off) ||
		    !attr_ref(&v, DW_AT_type, &type))
			continue;
		if (out && n < max) {
			const char *name = dwarf_diename(&v);
			out[n] = (struct gm_dwarf_member){name ? name : "", off, type, false};
		}
		n++;
	} while (dwarf_siblingof(&v, &v) == 0 && n < MAX_MEMBERS);
	return n;
}

GM_DEFINE_ARRAY(closure_array, struct gm_dwarf_closure)

struct collect_closures {
	struct closure_array a;
	bool oom;
};

static bool add_closure(void *arg, Dwarf_Die *die)
{
	struct collect_closures *c = arg;
	Dwarf_Addr pc;
	if (dwarf_tag(die) != DW_TAG_subprogram || dwarf_lowpc(die, &pc) != 0 ||
	    closure_vars(die, NULL, 0) == 0)
		return false;
	if (c->a.n >= MAX_GLOBALS)
		return true;
	struct gm_dwarf_closure *x = closure_array_add(&c->a);
	if (!x) {
		c->oom = true;
		return true;
	}
	const char *name = dwarf_diename(die);
	*x = (struct gm_dwarf_closure){pc, dwarf_dieoffset(die), name ? name : ""};
	return false;
}

static int cmp_closure(const void *a, const void *b)
{
	const struct gm_dwarf_closure *x = a, *y = b;
	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

struct gomem_error *gm_dwarf_closures(struct gm_dwarf *d, struct gm_dwarf_closure **ret,
				      size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	if (!dw)
		return no_program("the program's closures");
	struct collect_closures c = {0};
	foreach_top_die(dw, add_closure, &c);
	if (c.oom) {
		free(c.a.v);
		return &gm_error_no_memory;
	}
	gm_sort(c.a.v, c.a.n, sizeof(*c.a.v), cmp_closure);
	*ret = c.a.v;
	*n_ret = c.a.n;
	return NULL;
}

struct gomem_error *gm_dwarf_closure_vars(struct gm_dwarf *d, uint64_t die,
					  struct gm_dwarf_member **ret, size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die fn;
	if (!dw)
		return no_program("a closure's variables");
	if (!die_at(dw, die, &fn))
		return bad_die(die, "no such DIE");
	size_t n = closure_vars(&fn, NULL, 0);
	struct gm_dwarf_member *v = n ? calloc(n, sizeof(*v)) : NULL;
	if (n && !v)
		return &gm_error_no_memory;
	*n_ret = closure_vars(&fn, v, n);
	*ret = v;
	return NULL;
}

/* ---- functions ---- */

static bool add_function(void *arg, Dwarf_Die *die)
{
	struct collect_closures *c = arg;
	Dwarf_Addr pc;
	if (dwarf_tag(die) != DW_TAG_subprogram || dwarf_lowpc(die, &pc) != 0)
		return false;
	if (c->a.n >= MAX_GLOBALS)
		return true;
	struct gm_dwarf_closure *x = closure_array_add(&c->a);
	if (!x) {
		c->oom = true;
		return true;
	}
	const char *name = dwarf_diename(die);
	*x = (struct gm_dwarf_closure){pc, dwarf_dieoffset(die), name ? name : ""};
	return false;
}

struct gomem_error *gm_dwarf_functions(struct gm_dwarf *d, struct gm_dwarf_closure **ret,
				       size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	if (!dw)
		return no_program("the program's functions");
	struct collect_closures c = {0};
	foreach_top_die(dw, add_function, &c);
	if (c.oom) {
		free(c.a.v);
		return &gm_error_no_memory;
	}
	gm_sort(c.a.v, c.a.n, sizeof(*c.a.v), cmp_closure);
	*ret = c.a.v;
	*n_ret = c.a.n;
	return NULL;
}

struct gomem_error *gm_dwarf_func_param(struct gm_dwarf *d, uint64_t die, unsigned i,
					uint64_t *type_ret, bool *found)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die fn, p;
	unsigned k = 0;
	*found = false;
	if (!dw)
		return no_program("a function's parameters");
	if (!die_at(dw, die, &fn))
		return bad_die(die, "no such DIE");
	if (dwarf_child(&fn, &p) != 0)
		return NULL;
	do {
		uint64_t out = 0;
		if (dwarf_tag(&p) != DW_TAG_formal_parameter)
			continue;
		/* Results are formal parameters too, with DW_AT_variable_parameter set. */
		if (attr_udata(&p, DW_AT_variable_parameter, &out) && out)
			continue;
		if (k++ == i) {
			*found = attr_ref(&p, DW_AT_type, type_ret);
			return NULL;
		}
	} while (dwarf_siblingof(&p, &p) == 0 && k <= i);
	return NULL;
}

/* ---- a closure's loads (GO-OBJECTS.md §4.7, before 1.23) ---- */

#define MAX_REG_VARS 64 /* variables of one function found in one register */

/* The byte of the variable that register reg holds in ops (a word piece): false when none. */
static bool reg_piece(const Dwarf_Op *ops, size_t n, unsigned reg, uint64_t *var_off)
{
	uint64_t off = 0;
	bool in_reg = false;
	for (size_t i = 0; i < n; i++) {
		const Dwarf_Op *op = &ops[i];
		if (op->atom == DW_OP_piece) {
			if (in_reg && op->number == 8) {
				*var_off = off;
				return true;
			}
			off += op->number;
			in_reg = false;
			continue;
		}
		in_reg = (op->atom >= DW_OP_reg0 && op->atom <= DW_OP_reg31 &&
			  (unsigned)(op->atom - DW_OP_reg0) == reg) ||
			 (op->atom == DW_OP_regx && op->number == reg);
	}
	if (in_reg && n == 1) { /* the whole variable is in the register */
		*var_off = 0;
		return true;
	}
	return false;
}

struct gomem_error *gm_dwarf_reg_vars(struct gm_dwarf *d, uint64_t die, uint64_t pc, unsigned reg,
				      struct gm_dwarf_member **ret, size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die fn, v;
	*ret = NULL;
	*n_ret = 0;
	if (!dw)
		return no_program("a function's variables");
	if (!die_at(dw, die, &fn))
		return bad_die(die, "no such DIE");
	if (dwarf_haspc(&fn, pc) != 1 || dwarf_child(&fn, &v) != 0)
		return NULL;
	struct gm_dwarf_member *out = calloc(MAX_REG_VARS, sizeof(*out));
	size_t n = 0;
	if (!out)
		return &gm_error_no_memory;
	do {
		Dwarf_Attribute attr;
		Dwarf_Op *ops;
		size_t nops;
		uint64_t type, off;
		if (dwarf_tag(&v) != DW_TAG_variable || !attr_ref(&v, DW_AT_type, &type) ||
		    !dwarf_attr(&v, DW_AT_location, &attr) ||
		    dwarf_getlocation_addr(&attr, pc, &ops, &nops, 1) != 1 ||
		    !reg_piece(ops, nops, reg, &off))
			continue;
		const char *name = dwarf_diename(&v);
		out[n++] = (struct gm_dwarf_member){name ? name : "", off, type, false};
	} while (n < MAX_REG_VARS && dwarf_siblingof(&v, &v) == 0);
	*ret = out;
	*n_ret = n;
	return NULL;
}

/* ---- a frame's variables (GO-OBJECTS.md §5.5a) ---- */

#define MAX_FRAME_PIECES (1u << 12) /* variables' memory pieces of one frame */
#define MAX_BLOCK_DEPTH	 16	    /* lexical blocks nested deeper than this are not read */
#define EXPR_STACK	 8

GM_DEFINE_ARRAY(piece_array, struct gm_dwarf_piece)

/*
 * Evaluates a location expression as Go writes them (DW_OP_call_frame_cfa
 * then DW_OP_consts/DW_OP_plus or DW_OP_plus_uconst, DW_OP_fbreg over a
 * frame base that is the CFA, DW_OP_piece after each part): every part in
 * memory becomes a piece; a part in a register, or an operation it does not
 * know, gives no piece. Returns false when out of memory.
 */
static bool eval_location(const Dwarf_Op *ops, size_t n, uint64_t cfa, uint64_t type,
			  const char *name, struct piece_array *a)
{
	uint64_t st[EXPR_STACK], var_off = 0;
	size_t depth = 0;
	bool ok = true, pieces = false;
	for (size_t i = 0; i < n; i++) {
		const Dwarf_Op *op = &ops[i];
		if (op->atom == DW_OP_piece) {
			if (ok && depth == 1 && a->n < MAX_FRAME_PIECES) {
				struct gm_dwarf_piece *p = piece_array_add(a);
				if (!p)
					return false;
				*p =
				    (struct gm_dwarf_piece){st[0], op->number, var_off, type, name};
			}
			pieces = true;
			var_off += op->number;
			depth = 0;
			ok = true;
			continue;
		}
		if (!ok)
			continue;
		switch (op->atom) {
		case DW_OP_call_frame_cfa:
			ok = depth < EXPR_STACK;
			if (ok)
				st[depth++] = cfa;
			break;
		case DW_OP_fbreg: /* Go's DW_AT_frame_base is DW_OP_call_frame_cfa */
			ok = depth < EXPR_STACK;
			if (ok)
				st[depth++] = cfa + op->number;
			break;
		case DW_OP_consts:
		case DW_OP_constu:
			ok = depth < EXPR_STACK;
			if (ok)
				st[depth++] = op->number;
			break;
		case DW_OP_plus:
			ok = depth >= 2;
			if (ok) {
				st[depth - 2] += st[depth - 1];
				depth--;
			}
			break;
		case DW_OP_minus:
			ok = depth >= 2;
			if (ok) {
				st[depth - 2] -= st[depth - 1];
				depth--;
			}
			break;
		case DW_OP_plus_uconst:
			ok = depth >= 1;
			if (ok)
				st[depth - 1] += op->number;
			break;
		default: /* a register, a value, an operation Go does not write */
			ok = false;
			break;
		}
	}
	if (!pieces && ok && depth == 1 && a->n < MAX_FRAME_PIECES) {
		struct gm_dwarf_piece *p = piece_array_add(a);
		if (!p)
			return false;
		*p = (struct gm_dwarf_piece){st[0], 0, 0, type, name};
	}
	return true;
}

/* The variables and parameters under die (lexical blocks and inlined calls covering pc too). */
static bool frame_vars(Dwarf_Die *die, uint64_t pc, uint64_t cfa, int depth, struct piece_array *a)
{
	Dwarf_Die v;
	if (dwarf_child(die, &v) != 0)
		return true;
	do {
		int tag = dwarf_tag(&v);
		if (tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) {
			if (depth < MAX_BLOCK_DEPTH && dwarf_haspc(&v, pc) == 1 &&
			    !frame_vars(&v, pc, cfa, depth + 1, a))
				return false;
			continue;
		}
		if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
			continue;
		Dwarf_Attribute attr;
		Dwarf_Op *ops;
		size_t nops;
		Dwarf_Attribute ta;
		Dwarf_Die t;
		uint64_t type;
		/* An inlined callee's variable has its type on its abstract origin. */
		if (!dwarf_attr_integrate(&v, DW_AT_type, &ta) || !dwarf_formref_die(&ta, &t) ||
		    !dwarf_attr(&v, DW_AT_location, &attr) ||
		    dwarf_getlocation_addr(&attr, pc, &ops, &nops, 1) != 1)
			continue;
		type = dwarf_dieoffset(&t);
		/* An inlined callee's variable has its name on its abstract origin too. */
		Dwarf_Attribute na;
		const char *name = dwarf_formstring(dwarf_attr_integrate(&v, DW_AT_name, &na));
		if (!eval_location(ops, nops, cfa, type, name, a))
			return false;
	} while (dwarf_siblingof(&v, &v) == 0 && a->n < MAX_FRAME_PIECES);
	return true;
}

struct gomem_error *gm_dwarf_frame_pieces(struct gm_dwarf *d, uint64_t die, uint64_t pc,
					  uint64_t cfa, struct gm_dwarf_piece **ret, size_t *n_ret)
{
	Dwarf *dw = gm_dwarf_libdw(d);
	Dwarf_Die fn;
	struct piece_array a = {0};
	*ret = NULL;
	*n_ret = 0;
	if (!dw)
		return no_program("a frame's variables");
	if (!die_at(dw, die, &fn))
		return bad_die(die, "no such DIE");
	if (dwarf_haspc(&fn, pc) != 1)
		return NULL;
	if (!frame_vars(&fn, pc, cfa, 0, &a)) {
		free(a.v);
		return &gm_error_no_memory;
	}
	*ret = a.v;
	*n_ret = a.n;
	return NULL;
}
