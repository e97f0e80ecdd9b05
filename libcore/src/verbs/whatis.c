/*
 * `gomem whatis ADDR`: what one address is. Its mapping and owner; inside
 * the Go heap, its arena, its span and, in an in-use span, the object slot
 * (base, offset, allocated or free); in a stack span or a thread's stack,
 * whose stack it is; in free pages, whether they were released.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "objects/typing.h"
#include "verbs/verbs.h"

enum span_kind { SK_NONE, SK_LIVE, SK_FREE };

struct whatis {
	struct gm_run *run;
	struct gm_target *t;
	struct gm_runtime *rt;
	uint64_t addr;
	const struct gm_mapping *mapping;
	char share; /* the mapping's p or s, as `gomem mappings` says it */
	bool in_arena, heap_mapped;
	struct gm_arena arena;
	enum span_kind span_kind;
	struct gm_span span; /* SK_LIVE */
	uint64_t free_start, free_end;
	bool free_released;
	bool has_object, allocated;
	bool has_reachable, reachable; /* the object graph's answer (allocated objects) */
	char type[256];		       /* its type (objects/typing.c); "" when unknown */
	struct gm_paths_view *path;    /* the first path from the roots (paths.c); NULL: none */
	struct gm_typing *ty;	       /* the types (and their graph) object_type used; or NULL */
	uint64_t obj_base, header_bytes;
	/* A stack that holds addr. */
	bool has_stack;
	const char *stack_kind; /* "goroutine", "dead goroutine", "g0", "gsignal", "crash" */
	uint64_t stack_lo, stack_hi, goid;
	int64_t m;
	bool has_goid, has_m;
	const char *goroutine_status;
	const char *owner;
	char *detail; /* what `gomem mappings` says about the part that holds addr */
	/* In the executable: the function or variable at addr. */
	bool has_symbol, symbol_func;
	char symbol[128];
	uint64_t symbol_offset;
	char what[192];
};

static struct gomem_error *parse_addr(const struct gm_run *r, uint64_t *ret)
{
	const char *s = r->operands[0];
	char *end;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	errno = 0;
	unsigned long long v = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);
	const char *digits = hex ? s + 2 : s;
	if (errno || end == digits || *end ||
	    !(hex ? isxdigit((unsigned char)digits[0]) : isdigit((unsigned char)digits[0])))
		return gm_error(GOMEM_ERROR_USAGE,
				"whatis: ADDR must be a number, decimal or 0x hex, not \"%s\"", s);
	*ret = v;
	return NULL;
}

static struct gomem_error *find_mapping(struct whatis *w)
{
	const struct gm_mapping *m;
	size_t n;
	TRY(gm_target_mappings(w->t, &m, &n));
	w->mapping = GM_FIND_RANGE(m, n, start, end, w->addr);
	if (w->mapping)
		w->share = w->mapping->share;
	return NULL;
}

static struct gomem_error *find_arena(struct whatis *w)
{
	struct gm_arena *arenas;
	size_t n;
	TRY(gm_heap_arenas(w->rt, &arenas, &n));
	for (size_t i = 0; i < n; i++) {
		if (w->addr >= arenas[i].base && w->addr < arenas[i].end) {
			w->in_arena = true;
			w->arena = arenas[i];
		}
	}
	free(arenas);
	return NULL;
}

static void free_run_at(void *arg, uint64_t start, uint64_t end, bool released)
{
	struct whatis *w = arg;
	if (w->addr >= start && w->addr < end) {
		w->span_kind = SK_FREE;
		w->free_start = start;
		w->free_end = end;
		w->free_released = released;
	}
}

/* The type of object id (typing.c): a warning (and no answer) when typing fails. */
static void object_type(struct whatis *w, uint32_t id)
{
	struct gm_typing *ty;
	struct gomem_error *err = gm_run_typing(w->run, &ty);
	if (err) {
		gm_run_warn(w->run, true, "no object types: %s", gomem_error_message(err));
		gomem_error_destroy(err);
		return;
	}
	w->ty = ty;
	uint32_t tid = gm_typing_type(ty, id);
	if (tid != GM_TYPE_UNKNOWN)
		snprintf(w->type, sizeof(w->type), "%s", gm_gotypes_get(&ty->tt, tid)->name);
}

/* The first path from the roots to object id of g (paths.c): a warning (and none) when it fails. */
static void first_path(struct whatis *w, struct gm_graph *g, uint32_t id)
{
	struct gomem_error *err = gm_run_paths(w->run, g, w->ty, id, 1, &w->path);
	if (err) {
		gm_run_warn(w->run, true, "no path from the roots: %s", gomem_error_message(err));
		gomem_error_destroy(err);
		w->path = NULL;
	}
}

/* Whether the object at obj_base is reachable: a warning (and no answer) when the graph fails. */
static void object_reachable(struct whatis *w)
{
	struct gm_graph *g;
	uint32_t id;
	struct gomem_error *err = gm_run_graph(w->run, &g);
	if (err) {
		gm_run_warn(w->run, true, "no object graph: %s", gomem_error_message(err));
		gomem_error_destroy(err);
		return;
	}
	if (gm_heap_index_lookup(g->idx, w->obj_base, &id) && gm_heap_index_allocated(g->idx, id)) {
		w->has_reachable = true;
		w->reachable = gm_graph_reached(g, id);
		object_type(w, id); /* the run's graph: g again (gm_run_graph) */
		if (w->reachable)
			first_path(w, g, id);
	}
}

static struct gomem_error *find_object(struct whatis *w)
{
	const struct gm_span *sp = &w->span;
	uint64_t i = (w->addr - sp->start) / sp->elemsize;
	if (i >= sp->nelems) {
		snprintf(w->what, sizeof(w->what),
			 "the tail of a span of class %u, past its last slot (waste)",
			 sp->sizeclass);
		return NULL;
	}
	w->has_object = true;
	w->obj_base = sp->start + i * sp->elemsize;
	w->header_bytes = gm_runtime_header_bytes(w->rt, sp);
	TRY(gm_span_slot_allocated(w->rt, sp, i, &w->allocated));
	if (w->allocated && !sp->user_chunk)
		object_reachable(w);
	char h[32];
	if (sp->user_chunk)
		snprintf(w->what, sizeof(w->what),
			 "inside a user arena chunk of %s (GOEXPERIMENT=arenas; one object to "
			 "the runtime)",
			 gm_human_bytes(sp->elemsize, h));
	else if (sp->sizeclass == 0)
		snprintf(w->what, sizeof(w->what), "%s large object of %s (a span of its own)",
			 w->allocated ? "an allocated" : "a free", gm_human_bytes(sp->elemsize, h));
	else
		snprintf(w->what, sizeof(w->what), "%s slot of size class %u (%s)",
			 w->allocated ? "an allocated object in a" : "a free", sp->sizeclass,
			 gm_human_bytes(sp->elemsize, h));
	return NULL;
}

static bool set_stack(struct whatis *w, const char *kind, uint64_t lo, uint64_t hi)
{
	if (!(lo < hi && w->addr >= lo && w->addr < hi))
		return false;
	w->has_stack = true;
	w->stack_kind = kind;
	w->stack_lo = lo;
	w->stack_hi = hi;
	return true;
}

/* Whose stack holds addr: a goroutine's, an M's g0 or gsignal stack, or gcrash's. */
static void find_stack(struct whatis *w, const struct gm_stacks *s)
{
	for (size_t i = 0; i < s->sched.ngs; i++) {
		const struct gm_goroutine *g = &s->sched.gs[i];
		bool dead = gm_goroutine_dead(g);
		if (set_stack(w, dead ? "dead goroutine" : "goroutine", g->lo, g->hi)) {
			w->goid = g->goid;
			w->has_goid = true;
			w->goroutine_status = gm_goroutine_status_name(g->status);
			return;
		}
	}
	for (size_t i = 0; i < s->sched.nthreads; i++) {
		const struct gm_thread *th = &s->sched.threads[i];
		if (set_stack(w, "g0", th->g0_lo, th->g0_hi) ||
		    set_stack(w, "gsignal", th->gsignal_lo, th->gsignal_hi)) {
			w->m = th->id;
			w->has_m = true;
			return;
		}
	}
	set_stack(w, "crash", s->crash_lo, s->crash_hi);
}

static void describe_stack(struct whatis *w)
{
	if (!w->has_stack)
		return;
	if (w->has_goid)
		snprintf(w->what, sizeof(w->what), "the stack of %sgoroutine %" PRIu64 " (%s)",
			 strcmp(w->stack_kind, "goroutine") ? "dead " : "", w->goid,
			 w->goroutine_status);
	else if (w->has_m)
		snprintf(w->what, sizeof(w->what), "the %s stack of M %" PRId64,
			 strcmp(w->stack_kind, "g0") ? "signal-handler (gsignal)" : "g0", w->m);
	else
		snprintf(w->what, sizeof(w->what), "the runtime's crash stack (runtime.gcrash)");
}

/*
 * The owner of addr, from the attribution of the whole address space that
 * `gomem mappings` prints (addrspace.c); "unknown" where no mapping holds it.
 */
static struct gomem_error *find_owner(struct whatis *w)
{
	struct gm_addrspace *as;
	w->owner = "unknown"; /* also when the address space cannot be built */
	TRY(gm_addrspace_build(w->t, w->rt, &as));
	const struct gm_part *p = GM_FIND_RANGE(as->parts, as->nparts, start, end, w->addr);
	struct gomem_error *err = NULL;
	if (p) {
		w->owner = gm_owner_name(p->owner);
		w->share = p->share;
		if (p->detail && !(w->detail = strdup(p->detail)))
			err = &gm_error_no_memory;
	}
	gm_addrspace_destroy(as);
	return err;
}

static struct gomem_error *whatis_heap(struct whatis *w)
{
	bool found;
	TRY(gm_heap_find_span(w->rt, w->addr, &w->span, &found));
	if (found) {
		w->span_kind = SK_LIVE;
		w->heap_mapped = true;
		if (w->span.state == GM_SPAN_IN_USE)
			return find_object(w);
		if (!w->span.elemsize) {
			snprintf(w->what, sizeof(w->what), "a GC work buffer (manual span)");
			return NULL;
		}
		snprintf(w->what, sizeof(w->what), "a free slot of a stack span");
		return NULL; /* the stack is looked up by the caller */
	}
	TRY(gm_heap_foreach_free_run(w->rt, free_run_at, w));
	if (w->span_kind == SK_FREE) {
		w->heap_mapped = true;
		snprintf(w->what, sizeof(w->what), "a free page, %s",
			 w->free_released ? "released to the OS" : "retained by the runtime");
	} else {
		snprintf(w->what, sizeof(w->what), "heap arena space reserved, not mapped");
	}
	return NULL;
}

static struct gomem_error *find_symbol(struct whatis *w)
{
	/* Functions by .gopclntab (every Go binary has it); variables by .symtab, when kept. */
	uint64_t pc = w->addr - w->rt->bias, entry = 0;
	const char *func = gm_target_func_holding(w->t, pc, &entry);
	if (func) {
		w->has_symbol = true;
		w->symbol_func = true;
		snprintf(w->symbol, sizeof(w->symbol), "%s", func);
		w->symbol_offset = pc - entry;
		return NULL;
	}
	struct gm_symtab st;
	TRY(gm_target_symtab(w->t, &st));
	const struct gm_sym *sym = gm_symtab_find(&st, pc);
	if (sym) {
		w->has_symbol = true;
		w->symbol_func = sym->func;
		snprintf(w->symbol, sizeof(w->symbol), "%s", sym->name);
		w->symbol_offset = pc - sym->addr;
	}
	gm_symtab_deinit(&st);
	return NULL;
}

static void describe_outside(struct whatis *w)
{
	if (w->has_stack)
		return;
	if (w->has_symbol)
		snprintf(w->what, sizeof(w->what), "the executable's %s %s+%" PRIu64,
			 w->symbol_func ? "function" : "variable", w->symbol, w->symbol_offset);
	else if (!w->mapping)
		snprintf(w->what, sizeof(w->what), "not mapped");
	else if (strcmp(w->owner, "binary") == 0)
		snprintf(w->what, sizeof(w->what), "the executable's memory");
	else if (strcmp(w->owner, "unknown") == 0)
		snprintf(w->what, sizeof(w->what), "memory gomem cannot attribute");
	else
		snprintf(w->what, sizeof(w->what), "%s", w->owner);
}

static struct gomem_error *whatis_build(struct whatis *w)
{
	TRY(parse_addr(w->run, &w->addr));
	TRY(find_mapping(w));
	TRY(find_arena(w));
	if (w->in_arena)
		TRY(whatis_heap(w));
	bool need_stacks = !w->in_arena || (w->span_kind == SK_LIVE &&
					    w->span.state == GM_SPAN_MANUAL && w->span.elemsize);
	struct gm_stacks s;
	struct gomem_error *err = NULL;
	memset(&s, 0, sizeof(s));
	if (need_stacks) {
		/* Without the Gs and Ms, whatis still knows the mapping, owner and span. */
		err = gm_stacks_read(w->rt, &s);
		if (err && err->code != GOMEM_ERROR_NO_MEMORY) {
			gm_run_warn(w->run, true, "cannot tell whose stack this is: %s",
				    gomem_error_message(err));
			gomem_error_destroy(err);
			err = NULL;
		}
		if (err)
			return err;
		/* The reader's warnings (a G or an M that cannot be read) go into the report. */
		for (size_t i = 0; i < s.sched.nwarnings; i++)
			gm_run_warn(w->run, s.sched.partial, "%s", s.sched.warnings[i]);
		find_stack(w, &s);
		describe_stack(w);
	}
	if (w->in_arena) {
		/* The heap walk knows best which arena pages are mapped. */
		w->owner = w->heap_mapped ? "go-heap" : "go-heap-reserved";
	} else {
		err = find_owner(w);
		if (!err && strcmp(w->owner, "binary") == 0)
			err = find_symbol(w);
		describe_outside(w);
	}
	gm_stacks_deinit(&s);
	return err;
}

/* ---- output ---- */

static const char *span_state(const struct whatis *w)
{
	if (w->span_kind == SK_FREE)
		return "free";
	return w->span.state == GM_SPAN_IN_USE ? "in-use" : "manual";
}

static void json_span(struct gm_jw *jw, const struct whatis *w, uint64_t page)
{
	gm_jw_key(jw, "span");
	if (w->span_kind == SK_NONE) {
		gm_jw_null(jw);
		return;
	}
	gm_jw_object(jw);
	if (w->span_kind == SK_FREE) {
		gm_jw_member_uint(jw, "start", w->free_start);
		gm_jw_member_uint(jw, "npages", (w->free_end - w->free_start) / page);
		gm_jw_member_string(jw, "state", "free");
		gm_jw_member_null(jw, "class");
		gm_jw_member_uint(jw, "elemsize", 0);
		gm_jw_member_bool(jw, "released", w->free_released);
	} else {
		const struct gm_span *sp = &w->span;
		gm_jw_member_uint(jw, "start", sp->start);
		gm_jw_member_uint(jw, "npages", sp->npages);
		gm_jw_member_string(jw, "state", span_state(w));
		if (sp->state == GM_SPAN_IN_USE) {
			gm_jw_member_uint(jw, "class", sp->sizeclass);
			gm_jw_member_uint(jw, "elemsize", sp->elemsize);
			gm_jw_member_bool(jw, "noscan", sp->noscan);
			gm_jw_member_uint(jw, "nelems", sp->nelems);
			gm_jw_member_uint(jw, "allocated", sp->alloc_count);
		} else {
			gm_jw_member_null(jw, "class");
			gm_jw_member_uint(jw, "elemsize", sp->elemsize);
			gm_jw_member_string(jw, "kind", sp->elemsize ? "stack" : "gc-work-buffers");
		}
	}
	gm_jw_end(jw);
}

static void json_stack(struct gm_jw *jw, const struct whatis *w)
{
	gm_jw_key(jw, "stack");
	if (!w->has_stack) {
		gm_jw_null(jw);
		return;
	}
	gm_jw_object(jw);
	gm_jw_member_string(jw, "kind", w->stack_kind);
	gm_jw_member_uint(jw, "lo", w->stack_lo);
	gm_jw_member_uint(jw, "hi", w->stack_hi);
	gm_jw_member_uint_or_null(jw, "goid", w->has_goid, w->goid);
	gm_jw_member_string(jw, "status", w->has_goid ? w->goroutine_status : NULL);
	gm_jw_key(jw, "m");
	if (w->has_m)
		gm_jw_int(jw, w->m);
	else
		gm_jw_null(jw);
	gm_jw_end(jw);
}

static void whatis_json(struct whatis *w)
{
	struct gm_jw *jw = &w->run->jw;
	char perms[5];
	uint64_t page = gm_runtime_page_size(w->rt);
	gm_run_json_begin(w->run, "gomem/whatis/v1");
	gm_jw_member_uint(jw, "addr", w->addr);
	gm_jw_member_string(jw, "owner", w->owner);
	gm_jw_member_string(jw, "what", w->what);
	gm_jw_member_string(jw, "detail", w->detail);
	gm_jw_line(jw);
	gm_jw_key(jw, "mapping");
	if (w->mapping) {
		gm_jw_object(jw);
		gm_jw_member_uint(jw, "start", w->mapping->start);
		gm_jw_member_uint(jw, "end", w->mapping->end);
		gm_jw_member_string(jw, "perms", gm_perms(w->mapping->flags, w->share, perms));
		gm_jw_member_string(jw, "file", w->mapping->path);
		gm_jw_end(jw);
	} else {
		gm_jw_null(jw);
	}
	gm_jw_line(jw);
	gm_jw_key(jw, "arena");
	if (w->in_arena) {
		gm_jw_object(jw);
		gm_jw_member_uint(jw, "base", w->arena.base);
		gm_jw_member_uint(jw, "end", w->arena.end);
		gm_jw_end(jw);
	} else {
		gm_jw_null(jw);
	}
	gm_jw_line(jw);
	json_span(jw, w, page);
	gm_jw_line(jw);
	gm_jw_key(jw, "object");
	if (w->has_object) {
		gm_jw_object(jw);
		gm_jw_member_uint(jw, "base", w->obj_base);
		gm_jw_member_uint(jw, "offset", w->addr - w->obj_base);
		gm_jw_member_bool(jw, "allocated", w->allocated);
		gm_jw_member_uint(jw, "size", w->span.elemsize);
		gm_jw_member_uint(jw, "header_bytes", w->header_bytes);
		gm_jw_key(jw, "reachable");
		if (w->has_reachable)
			gm_jw_bool(jw, w->reachable);
		else
			gm_jw_null(jw);
		gm_jw_key(jw, "type");
		gm_jw_string_or_null(jw, w->type[0] ? w->type : NULL);
		gm_jw_key(jw, "path");
		if (w->path && gm_paths_view_count(w->path))
			gm_paths_json_path(jw, w->path, 0);
		else
			gm_jw_null(jw);
		gm_jw_end(jw);
	} else {
		gm_jw_null(jw);
	}
	gm_jw_line(jw);
	gm_jw_key(jw, "symbol");
	if (w->has_symbol) {
		gm_jw_object(jw);
		gm_jw_member_string(jw, "name", w->symbol);
		gm_jw_member_uint(jw, "offset", w->symbol_offset);
		gm_jw_member_bool(jw, "function", w->symbol_func);
		gm_jw_end(jw);
	} else {
		gm_jw_null(jw);
	}
	gm_jw_line(jw);
	json_stack(jw, w);
	gm_run_json_end(w->run);
}

static void whatis_text(struct whatis *w)
{
	struct gm_strbuf *b = &w->run->out;
	char perms[5], h[32];
	uint64_t page = gm_runtime_page_size(w->rt);
	gm_strbuf_printf(b, "0x%" PRIx64 ": %s\n", w->addr, w->what);
	gm_strbuf_printf(b, "  %-8s %s\n", "owner", w->owner);
	if (w->detail) {
		/* Cut to 100 columns; --json has it whole. */
		size_t n = strlen(w->detail);
		if (n > 89)
			gm_strbuf_printf(b, "  %-8s %.86s...\n", "detail", w->detail);
		else
			gm_strbuf_printf(b, "  %-8s %s\n", "detail", w->detail);
	}
	if (w->mapping)
		gm_strbuf_printf(b, "  %-8s 0x%" PRIx64 "-0x%" PRIx64 " %s %s\n", "mapping",
				 w->mapping->start, w->mapping->end,
				 gm_perms(w->mapping->flags, w->share, perms),
				 w->mapping->path ? w->mapping->path : "(anonymous)");
	else
		gm_strbuf_printf(b, "  %-8s none\n", "mapping");
	if (w->in_arena)
		gm_strbuf_printf(b, "  %-8s 0x%" PRIx64 "-0x%" PRIx64 "\n", "arena", w->arena.base,
				 w->arena.end);
	if (w->span_kind == SK_FREE) {
		gm_strbuf_printf(b, "  %-8s 0x%" PRIx64 ", %" PRIu64 " free pages (%s), %s\n",
				 "span", w->free_start, (w->free_end - w->free_start) / page,
				 gm_human_bytes(w->free_end - w->free_start, h),
				 w->free_released ? "released" : "retained");
	} else if (w->span_kind == SK_LIVE) {
		const struct gm_span *sp = &w->span;
		gm_strbuf_printf(b, "  %-8s 0x%" PRIx64 ", %" PRIu64 " page%s (%s), %s", "span",
				 sp->start, sp->npages, sp->npages == 1 ? "" : "s",
				 gm_human_bytes(sp->bytes, h), span_state(w));
		if (sp->state != GM_SPAN_IN_USE)
			gm_strbuf_printf(b, ", %s\n", sp->elemsize ? "stacks" : "GC work buffers");
		else
			gm_strbuf_printf(b,
					 "\n  %-8s %u: slots of %" PRIu64 " bytes%s, %" PRIu64
					 " of %" PRIu64 " allocated\n",
					 "class", sp->sizeclass, sp->elemsize,
					 sp->noscan ? ", noscan" : "", sp->alloc_count, sp->nelems);
	}
	if (w->has_object) {
		gm_strbuf_printf(b, "  %-8s base 0x%" PRIx64 ", offset %" PRIu64 ", %s", "object",
				 w->obj_base, w->addr - w->obj_base,
				 w->allocated ? "allocated" : "free");
		if (w->header_bytes)
			gm_strbuf_printf(b, " (the first %" PRIu64 " bytes are the malloc header)",
					 w->header_bytes);
		gm_strbuf_printf(b, "\n");
		if (w->has_reachable)
			gm_strbuf_printf(b, "  %-8s %s\n", "graph",
					 w->reachable ? "reachable from the roots"
						      : "unreachable: garbage the next GC frees");
		if (w->has_reachable)
			gm_strbuf_printf(b, "  %-8s %s\n", "type",
					 w->type[0] ? w->type : "unknown");
		if (w->path && gm_paths_view_count(w->path))
			gm_paths_text_lines(b, w->path, 0, "  path     ", "             ", 100);
	}
	if (w->has_stack)
		gm_strbuf_printf(
		    b, "  %-8s 0x%" PRIx64 "-0x%" PRIx64 " (%s), %" PRIu64 " bytes below the top\n",
		    "stack", w->stack_lo, w->stack_hi, gm_human_bytes(w->stack_hi - w->stack_lo, h),
		    w->stack_hi - w->addr);
	gm_run_text_warnings(w->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct whatis w;
	memset(&w, 0, sizeof(w));
	w.run = r;
	w.t = r->t;
	w.rt = r->rt;
	struct gomem_error *err = whatis_build(&w);
	if (!err && r->json)
		whatis_json(&w);
	else if (!err)
		whatis_text(&w);
	free(w.detail);
	gm_paths_view_free(w.path);
	return err;
}

static const struct gm_option_spec options[] = {
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_whatis = {
    .name = "whatis",
    .usage = "whatis [--json] ADDR",
    .summary = "what an address is: mapping, owner, arena, span, object or stack",
    .help = "Tells what the address ADDR (decimal or 0x hex; in GDB any expression, such "
	    "as &x or $sp) is: its mapping and owner; in the Go heap, its arena and "
	    "span (in-use, manual or free pages) and, in an in-use span, the object "
	    "slot that holds it: its base, the offset of ADDR in it, and whether it is "
	    "allocated or free (scan objects of more than 512 bytes start with an "
	    "8-byte malloc header since Go 1.22), its type, whether it is reachable and "
	    "the first path from the roots to it (as `paths` finds it); in a stack, whose stack it "
	    "is. With "
	    "--json, prints one gomem/whatis/v1 object.",
    .min_operands = 1,
    .max_operands = 1,
    .options = options,
    .run = run,
};
