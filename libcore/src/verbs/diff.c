/*
 * `gomem diff`: what grew or shrank between two summaries, by breakdown
 * node and by size class, largest change first. Both sides are
 * gomem/summary/v1 JSON: made here from a target (this one, or another core
 * of the same executable), or saved by `gomem summary --json` earlier, from
 * any executable. The change is always B - A.
 *
 * With --types, and two cores of one executable, also by type: `gomem
 * types` of each side (the object graph of each core: slower, so only when
 * asked), the reachable and unreachable objects and bytes of each type.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verbs/verbs.h"

#define DEFAULT_TYPE_LIMIT 20
#define PATH_SEP	   '\x1f' /* between the names of a node's path: no name holds it */
#define MAX_PATH	   4096

/* One number on both sides; a side is missing when it is null or absent. */
struct delta {
	bool has_a, has_b;
	uint64_t a, b;
};

static bool changed(const struct delta *d)
{
	return d->has_a != d->has_b || d->a != d->b;
}

/* |b - a|, with missing sides counting as 0. */
static uint64_t magnitude(const struct delta *d)
{
	uint64_t a = d->has_a ? d->a : 0, b = d->has_b ? d->b : 0;
	return b >= a ? b - a : a - b;
}

static bool shrank(const struct delta *d)
{
	return (d->has_b ? d->b : 0) < (d->has_a ? d->a : 0);
}

/* A node of the breakdown tree, found on one side or both. */
struct node_row {
	char *key; /* the names from the root, PATH_SEP between them */
	int depth;
	bool in_a, in_b; /* a node that one side lacks has 0 bytes there */
	struct delta vsz, rss;
};

struct class_row {
	unsigned sizeclass;
	uint64_t object_size;
	struct delta spans, objects, object_bytes, free_slot_bytes, tail_waste_bytes;
};

/* A type of `gomem types` on one side or both (a type a side lacks has nothing there). */
struct type_row {
	const char *name; /* in the side's parsed types report */
	struct delta objects, bytes, unreachable_objects, unreachable_bytes;
};

struct side {
	const struct gm_json *root, *target;
	const struct gm_json *types; /* its gomem/types/v1 report, NULL without --types */
};

struct diff {
	struct gm_run *run;
	struct side a, b;
	struct node_row *nodes;
	size_t nnodes, cap_nodes;
	struct class_row classes[GM_MAX_SIZE_CLASSES];
	size_t nclasses;
	bool have_classes;
	struct type_row *types; /* --types: the types that changed, largest change first */
	size_t ntypes, cap_types;
	uint64_t limit; /* of the types shown (0: all) */
};

/* ---- reading the two sides ---- */

static struct gomem_error *check_summary(const struct gm_json *root, const char *what)
{
	const char *schema = gm_json_get_string(root, "schema");
	if (!schema || strcmp(schema, "gomem/summary/v1") != 0)
		return gm_error(GOMEM_ERROR_FORMAT,
				"%s is not a gomem summary (its schema is %s; want "
				"gomem/summary/v1, as gomem summary --json writes)",
				what, schema ? schema : "missing");
	if (!gm_json_get(root, "memstats") || !gm_json_get(root, "breakdown"))
		return gm_error(GOMEM_ERROR_FORMAT, "%s: a gomem summary without %s", what,
				gm_json_get(root, "memstats") ? "breakdown" : "memstats");
	return NULL;
}

/* The value of a member as one side of a delta. */
static void side_value(const struct gm_json *obj, const char *key, bool *has, uint64_t *v)
{
	*has = gm_json_get_uint(obj, key, v);
}

static struct delta member_delta(const struct gm_json *a, const struct gm_json *b, const char *key)
{
	struct delta d = {0};
	side_value(a, key, &d.has_a, &d.a);
	side_value(b, key, &d.has_b, &d.b);
	return d;
}

GM_DEFINE_GROW(grow_nodes, struct node_row)

static struct gomem_error *add_node(struct diff *df, const char *key, int depth,
				    const struct gm_json *node, bool is_b)
{
	struct node_row *r = NULL;
	/* B's nodes after A's: find the one with the same path (trees are small). */
	for (size_t i = 0; is_b && i < df->nnodes && !r; i++) {
		if (strcmp(df->nodes[i].key, key) == 0)
			r = &df->nodes[i];
	}
	if (!r) {
		char *k = strdup(key);
		r = k ? grow_nodes(&df->nodes, &df->nnodes, &df->cap_nodes) : NULL;
		if (!r) {
			free(k);
			return &gm_error_no_memory;
		}
		memset(r, 0, sizeof(*r));
		r->key = k;
		r->depth = depth;
	}
	if (is_b) {
		r->in_b = true;
		side_value(node, "vsz_bytes", &r->vsz.has_b, &r->vsz.b);
		side_value(node, "rss_bytes", &r->rss.has_b, &r->rss.b);
	} else {
		r->in_a = true;
		side_value(node, "vsz_bytes", &r->vsz.has_a, &r->vsz.a);
		side_value(node, "rss_bytes", &r->rss.has_a, &r->rss.a);
	}
	return NULL;
}

/* Every node of a breakdown tree, by its path of names (depth is bounded by the parser). */
static struct gomem_error *add_tree(struct diff *df, const struct gm_json *node, char *path,
				    size_t len, int depth, bool is_b)
{
	const char *name = gm_json_get_string(node, "name");
	if (!name)
		return gm_error(GOMEM_ERROR_FORMAT, "summary %s: a breakdown node without a name",
				is_b ? "B" : "A");
	size_t n = strlen(name);
	if (len + n + 2 > MAX_PATH)
		return gm_error(GOMEM_ERROR_FORMAT, "summary %s: breakdown path too long",
				is_b ? "B" : "A");
	if (len)
		path[len++] = PATH_SEP;
	memcpy(path + len, name, n + 1);
	TRY(add_node(df, path, depth, node, is_b));
	const struct gm_json *children = gm_json_get(node, "children");
	for (size_t i = 0; children && children->type == GM_JSON_ARRAY && i < children->n; i++)
		TRY(add_tree(df, &children->items[i], path, len + n, depth + 1, is_b));
	return NULL;
}

static struct class_row *class_row(struct diff *df, unsigned sizeclass)
{
	for (size_t i = 0; i < df->nclasses; i++) {
		if (df->classes[i].sizeclass == sizeclass)
			return &df->classes[i];
	}
	struct class_row *r = &df->classes[df->nclasses++];
	memset(r, 0, sizeof(*r));
	r->sizeclass = sizeclass;
	return r;
}

static struct gomem_error *add_classes(struct diff *df, const struct gm_json *classes, bool is_b)
{
	for (size_t i = 0; i < classes->n; i++) {
		const struct gm_json *c = &classes->items[i];
		uint64_t cls, size = 0;
		if (!gm_json_get_uint(c, "class", &cls) || cls >= GM_MAX_SIZE_CLASSES)
			return gm_error(GOMEM_ERROR_FORMAT, "summary %s: a size class out of range",
					is_b ? "B" : "A");
		struct class_row *r = class_row(df, (unsigned)cls);
		gm_json_get_uint(c, "object_size", &size);
		r->object_size = size;
#define SIDE(f)                                                                                    \
	if (is_b)                                                                                  \
		side_value(c, #f, &r->f.has_b, &r->f.b);                                           \
	else                                                                                       \
		side_value(c, #f, &r->f.has_a, &r->f.a);
		SIDE(spans)
		SIDE(objects)
		SIDE(object_bytes)
		SIDE(free_slot_bytes)
		SIDE(tail_waste_bytes)
#undef SIDE
	}
	return NULL;
}

/* An RSS that one side does not know (a gcore) is no change. */
static bool rss_known(const struct node_row *r)
{
	return r->rss.has_a && r->rss.has_b;
}

static bool node_changed(const struct node_row *r)
{
	return changed(&r->vsz) || (rss_known(r) && changed(&r->rss));
}

static uint64_t node_weight(const struct node_row *r)
{
	uint64_t v = magnitude(&r->vsz), s = rss_known(r) ? magnitude(&r->rss) : 0;
	return v > s ? v : s;
}

static int cmp_node(const void *x, const void *y)
{
	const struct node_row *a = x, *b = y;
	uint64_t wa = node_weight(a), wb = node_weight(b);
	if (wa != wb)
		return wa > wb ? -1 : 1;
	return strcmp(a->key, b->key);
}

static uint64_t span_bytes(const struct class_row *r, bool b)
{
	const struct delta *d[] = {&r->object_bytes, &r->free_slot_bytes, &r->tail_waste_bytes};
	uint64_t sum = 0;
	for (size_t i = 0; i < GM_ARRAY_SIZE(d); i++)
		sum += b ? d[i]->b : d[i]->a;
	return sum;
}

static uint64_t class_weight(const struct class_row *r)
{
	uint64_t o = magnitude(&r->object_bytes);
	uint64_t sa = span_bytes(r, false), sb = span_bytes(r, true);
	uint64_t s = sa > sb ? sa - sb : sb - sa;
	return o > s ? o : s;
}

static int cmp_class(const void *x, const void *y)
{
	const struct class_row *a = x, *b = y;
	uint64_t wa = class_weight(a), wb = class_weight(b);
	if (wa != wb)
		return wa > wb ? -1 : 1;
	return a->sizeclass < b->sizeclass ? -1 : a->sizeclass > b->sizeclass;
}

static bool class_changed(const struct class_row *r)
{
	return changed(&r->spans) || changed(&r->objects) || changed(&r->object_bytes) ||
	       changed(&r->free_slot_bytes) || changed(&r->tail_waste_bytes);
}

GM_DEFINE_GROW(grow_types, struct type_row)

static const char *const type_fields[] = {"reachable_objects", "reachable_bytes",
					  "unreachable_objects", "unreachable_bytes"};

static struct delta *type_delta(struct type_row *r, size_t k)
{
	struct delta *d[] = {&r->objects, &r->bytes, &r->unreachable_objects,
			     &r->unreachable_bytes};
	return d[k];
}

/* One side's row of a type (its "types" entry, or its "unknown" object as "(unknown)"). */
static struct gomem_error *add_type(struct diff *df, const char *name, const struct gm_json *row,
				    bool is_b)
{
	struct type_row *r = grow_types(&df->types, &df->ntypes, &df->cap_types);
	if (!r)
		return &gm_error_no_memory;
	memset(r, 0, sizeof(*r));
	r->name = name;
	for (size_t k = 0; k < GM_ARRAY_SIZE(type_fields); k++) {
		struct delta *d = type_delta(r, k);
		uint64_t v = 0;
		if (!gm_json_get_uint(row, type_fields[k], &v))
			return gm_error(GOMEM_ERROR_FORMAT, "types of %s: %s without %s",
					is_b ? "B" : "A", name, type_fields[k]);
		if (is_b)
			d->b = v;
		else
			d->a = v;
	}
	return NULL;
}

static struct gomem_error *add_types(struct diff *df, const struct gm_json *doc, bool is_b)
{
	const struct gm_json *types = gm_json_get(doc, "types");
	const struct gm_json *unknown = gm_json_get(doc, "unknown");
	if (!types || types->type != GM_JSON_ARRAY || !unknown)
		return gm_error(GOMEM_ERROR_FORMAT, "the types of %s are not a gomem types report",
				is_b ? "B" : "A");
	for (size_t i = 0; i < types->n; i++) {
		const char *name = gm_json_get_string(&types->items[i], "type");
		if (!name)
			return gm_error(GOMEM_ERROR_FORMAT, "types of %s: a type without a name",
					is_b ? "B" : "A");
		TRY(add_type(df, name, &types->items[i], is_b));
	}
	return add_type(df, "(unknown)", unknown, is_b);
}

static int cmp_type_name(const void *x, const void *y)
{
	const struct type_row *a = x, *b = y;
	return strcmp(a->name, b->name);
}

static bool type_changed(struct type_row *r)
{
	for (size_t k = 0; k < GM_ARRAY_SIZE(type_fields); k++) {
		if (changed(type_delta(r, k)))
			return true;
	}
	return false;
}

/* Largest change of reachable bytes first, then of all bytes, then of objects. */
static int cmp_type_change(const void *x, const void *y)
{
	struct type_row *a = (struct type_row *)x, *b = (struct type_row *)y;
	uint64_t ka[3] = {magnitude(&a->bytes), magnitude(&a->unreachable_bytes),
			  magnitude(&a->objects)};
	uint64_t kb[3] = {magnitude(&b->bytes), magnitude(&b->unreachable_bytes),
			  magnitude(&b->objects)};
	for (size_t k = 0; k < 3; k++) {
		if (ka[k] != kb[k])
			return ka[k] > kb[k] ? -1 : 1;
	}
	return strcmp(a->name, b->name);
}

/* Both sides' types, merged by name (sorted, then adjacent rows of one name summed). */
static struct gomem_error *types_build(struct diff *df)
{
	TRY(add_types(df, df->a.types, false));
	TRY(add_types(df, df->b.types, true));
	for (size_t i = 0; i < df->ntypes; i++) {
		for (size_t k = 0; k < GM_ARRAY_SIZE(type_fields); k++) {
			type_delta(&df->types[i], k)->has_a = true;
			type_delta(&df->types[i], k)->has_b = true;
		}
	}
	gm_sort(df->types, df->ntypes, sizeof(*df->types), cmp_type_name);
	size_t n = 0;
	for (size_t i = 0; i < df->ntypes; i++) {
		struct type_row *r = &df->types[i];
		if (n && strcmp(df->types[n - 1].name, r->name) == 0) {
			/* One type on both sides (a report names each type once). */
			for (size_t k = 0; k < GM_ARRAY_SIZE(type_fields); k++) {
				type_delta(&df->types[n - 1], k)->a += type_delta(r, k)->a;
				type_delta(&df->types[n - 1], k)->b += type_delta(r, k)->b;
			}
			continue;
		}
		df->types[n++] = *r;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (type_changed(&df->types[i]))
			df->types[m++] = df->types[i];
	}
	df->ntypes = m;
	gm_sort(df->types, df->ntypes, sizeof(*df->types), cmp_type_change);
	return NULL;
}

static size_t types_shown(const struct diff *df)
{
	return df->limit && df->limit < df->ntypes ? (size_t)df->limit : df->ntypes;
}

static struct gomem_error *diff_build(struct diff *df)
{
	char path[MAX_PATH];
	TRY(add_tree(df, gm_json_get(df->a.root, "breakdown"), path, 0, 0, false));
	TRY(add_tree(df, gm_json_get(df->b.root, "breakdown"), path, 0, 0, true));
	/* Residency is known for a whole side or not at all: its root says which. */
	bool rss_a = df->nnodes && df->nodes[0].rss.has_a,
	     rss_b = df->nnodes && df->nodes[0].rss.has_b;
	size_t n = 0;
	for (size_t i = 0; i < df->nnodes; i++) {
		struct node_row *r = &df->nodes[i];
		if (!r->in_a) {
			r->vsz.has_a = true;
			r->rss.has_a = rss_a;
		}
		if (!r->in_b) {
			r->vsz.has_b = true;
			r->rss.has_b = rss_b;
		}
	}
	for (size_t i = 0; i < df->nnodes; i++) {
		if (node_changed(&df->nodes[i]))
			df->nodes[n++] = df->nodes[i];
		else
			free(df->nodes[i].key);
	}
	df->nnodes = n;
	gm_sort(df->nodes, df->nnodes, sizeof(*df->nodes), cmp_node);

	const struct gm_json *ca = gm_json_get(df->a.root, "classes");
	const struct gm_json *cb = gm_json_get(df->b.root, "classes");
	df->have_classes = ca && cb && ca->type == GM_JSON_ARRAY && cb->type == GM_JSON_ARRAY;
	if (df->have_classes) {
		TRY(add_classes(df, ca, false));
		TRY(add_classes(df, cb, true));
		n = 0;
		for (size_t i = 0; i < df->nclasses; i++) {
			/* A class that one side does not list has no spans there. */
			struct class_row *r = &df->classes[i];
			struct delta *d[] = {&r->spans, &r->objects, &r->object_bytes,
					     &r->free_slot_bytes, &r->tail_waste_bytes};
			for (size_t k = 0; k < GM_ARRAY_SIZE(d); k++)
				d[k]->has_a = d[k]->has_b = true;
		}
		for (size_t i = 0; i < df->nclasses; i++) {
			if (class_changed(&df->classes[i]))
				df->classes[n++] = df->classes[i];
		}
		df->nclasses = n;
		gm_sort(df->classes, df->nclasses, sizeof(*df->classes), cmp_class);
	} else {
		gm_run_warn(df->run, false,
			    "summary %s has no per-class section (saved by an older gomem): no "
			    "comparison by size class",
			    ca ? "B" : "A");
	}
	const char *va = gm_json_get_string(df->a.target, "go_version");
	const char *vb = gm_json_get_string(df->b.target, "go_version");
	const char *ea = gm_json_get_string(df->a.target, "exe");
	const char *eb = gm_json_get_string(df->b.target, "exe");
	if (va && vb && strcmp(va, vb) != 0)
		gm_run_warn(df->run, false,
			    "A was built by %s and B by %s: the runtime's layout and its "
			    "reservations differ between versions",
			    va, vb);
	else if (ea && eb && strcmp(ea, eb) != 0)
		gm_run_warn(df->run, false, "A and B are different executables (%s, %s)", ea, eb);
	if (df->a.types && df->b.types)
		TRY(types_build(df));
	return NULL;
}

/* ---- JSON ---- */

static void json_delta(struct gm_jw *w, const struct delta *d)
{
	gm_jw_object(w);
	gm_jw_member_uint_or_null(w, "a", d->has_a, d->a);
	gm_jw_member_uint_or_null(w, "b", d->has_b, d->b);
	gm_jw_key(w, "delta");
	if (d->has_a && d->has_b)
		gm_jw_sign_magnitude(w, shrank(d), magnitude(d));
	else
		gm_jw_null(w);
	gm_jw_end(w);
}

static void json_member_delta(struct gm_jw *w, const char *key, const struct delta *d)
{
	gm_jw_key(w, key);
	json_delta(w, d);
}

static void json_target(struct gm_jw *w, const char *key, const struct gm_json *t)
{
	static const char *const strings[] = {"source", "exe", "core", "go_version", "core_kind"};
	gm_jw_key(w, key);
	gm_jw_object(w);
	for (size_t i = 0; i < GM_ARRAY_SIZE(strings); i++)
		gm_jw_member_string(w, strings[i], gm_json_get_string(t, strings[i]));
	uint64_t pid = 0;
	gm_json_get_uint(t, "pid", &pid);
	gm_jw_member_uint(w, "pid", pid);
	gm_jw_end(w);
}

/* Every unsigned member of section in A (and, one level down, of its objects), in order. */
static void json_section(struct gm_jw *w, const char *key, const struct gm_json *a,
			 const struct gm_json *bb)
{
	gm_jw_key(w, key);
	gm_jw_object(w);
	for (size_t i = 0; a && a->type == GM_JSON_OBJECT && i < a->n; i++) {
		const struct gm_json *m = &a->items[i];
		if (m->type == GM_JSON_OBJECT) {
			const struct gm_json *mb = gm_json_get(bb, m->key);
			for (size_t j = 0; j < m->n; j++) {
				if (m->items[j].type != GM_JSON_NUMBER)
					continue;
				struct delta d = member_delta(m, mb, m->items[j].key);
				struct gm_strbuf name = {0};
				gm_strbuf_printf(&name, "%s.%s", m->key, m->items[j].key);
				json_member_delta(w, name.s ? name.s : "", &d);
				if (name.failed)
					w->out->failed = true;
				gm_strbuf_deinit(&name);
			}
			continue;
		}
		if (m->type != GM_JSON_NUMBER)
			continue;
		struct delta d = member_delta(a, bb, m->key);
		json_member_delta(w, m->key, &d);
	}
	gm_jw_end(w);
}

static void json_path(struct gm_jw *w, const char *key)
{
	gm_jw_array(w);
	const char *p = key;
	for (;;) {
		const char *sep = strchr(p, PATH_SEP);
		size_t n = sep ? (size_t)(sep - p) : strlen(p);
		char name[MAX_PATH];
		memcpy(name, p, n);
		name[n] = '\0';
		gm_jw_string(w, name);
		if (!sep)
			break;
		p = sep + 1;
	}
	gm_jw_end(w);
}

static void json_classes(struct gm_jw *w, const struct diff *df)
{
	static const char *const names[] = {"spans", "objects", "object_bytes", "free_slot_bytes",
					    "tail_waste_bytes"};
	gm_jw_key(w, "classes");
	if (!df->have_classes) {
		gm_jw_null(w);
		return;
	}
	gm_jw_array_lines(w);
	for (size_t i = 0; i < df->nclasses; i++) {
		const struct class_row *r = &df->classes[i];
		const struct delta *d[] = {&r->spans, &r->objects, &r->object_bytes,
					   &r->free_slot_bytes, &r->tail_waste_bytes};
		gm_jw_object(w);
		gm_jw_member_uint(w, "class", r->sizeclass);
		gm_jw_member_uint(w, "object_size", r->object_size);
		for (size_t k = 0; k < GM_ARRAY_SIZE(d); k++)
			json_member_delta(w, names[k], d[k]);
		gm_jw_end(w);
	}
	gm_jw_end(w);
}

static void json_types(struct gm_jw *w, struct diff *df)
{
	static const char *const names[] = {"objects", "bytes", "unreachable_objects",
					    "unreachable_bytes"};
	gm_jw_key(w, "types");
	if (!df->a.types || !df->b.types) {
		gm_jw_null(w);
		return;
	}
	gm_jw_array_lines(w);
	for (size_t i = 0; i < types_shown(df); i++) {
		struct type_row *r = &df->types[i];
		gm_jw_object(w);
		gm_jw_member_string(w, "type", r->name);
		for (size_t k = 0; k < GM_ARRAY_SIZE(names); k++)
			json_member_delta(w, names[k], type_delta(r, k));
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_member_uint(w, "types_not_shown", df->ntypes - types_shown(df));
}

static void diff_json(struct diff *df)
{
	struct gm_jw *w = &df->run->jw;
	const struct gm_json *ra = df->a.root, *rb = df->b.root;
	gm_run_json_begin(df->run, "gomem/diff/v1");
	gm_jw_line(w);
	json_target(w, "a", df->a.target);
	gm_jw_line(w);
	json_target(w, "b", df->b.target);
	struct delta vsz = member_delta(ra, rb, "vsz_bytes"),
		     rss = member_delta(ra, rb, "rss_bytes");
	gm_jw_line(w);
	json_member_delta(w, "vsz_bytes", &vsz);
	gm_jw_line(w);
	json_member_delta(w, "rss_bytes", &rss);
	gm_jw_line(w);
	json_section(w, "memstats", gm_json_get(ra, "memstats"), gm_json_get(rb, "memstats"));
	gm_jw_line(w);
	json_section(w, "heap", gm_json_get(ra, "heap"), gm_json_get(rb, "heap"));
	gm_jw_line(w);
	gm_jw_key(w, "breakdown");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < df->nnodes; i++) {
		const struct node_row *r = &df->nodes[i];
		const char *last = strrchr(r->key, PATH_SEP);
		gm_jw_object(w);
		gm_jw_member_string(w, "name", last ? last + 1 : r->key);
		gm_jw_key(w, "path");
		json_path(w, r->key);
		gm_jw_member_int(w, "depth", r->depth);
		json_member_delta(w, "vsz_bytes", &r->vsz);
		json_member_delta(w, "rss_bytes", &r->rss);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	json_classes(w, df);
	gm_jw_line(w);
	json_types(w, df);
	gm_run_json_end(df->run);
}

/* ---- text ---- */

/* "+1.5 MiB", "-64.0 KiB", "0 B" */
static const char *signed_bytes(const struct delta *d, char buf[40])
{
	char h[32];
	if (!d->has_a || !d->has_b)
		return "unknown";
	uint64_t m = magnitude(d);
	snprintf(buf, 40, "%s%s", m == 0 ? "" : shrank(d) ? "-" : "+", gm_human_bytes(m, h));
	return buf;
}

static const char *signed_count(const struct delta *d, char buf[40])
{
	uint64_t m = magnitude(d);
	snprintf(buf, 40, "%s%" PRIu64, m == 0 ? "" : shrank(d) ? "-" : "+", m);
	return buf;
}

static const char *side_bytes(bool has, uint64_t v, char buf[32])
{
	return has ? gm_human_bytes(v, buf) : "unknown";
}

static void text_target(struct gm_strbuf *b, const char *name, const struct gm_json *t)
{
	const char *exe = gm_json_get_string(t, "exe"), *core = gm_json_get_string(t, "core");
	const char *version = gm_json_get_string(t, "go_version");
	const char *kind = gm_json_get_string(t, "core_kind");
	uint64_t pid = 0;
	gm_json_get_uint(t, "pid", &pid);
	gm_strbuf_printf(b, "%s: %s (%s), ", name, exe ? exe : "?", version ? version : "?");
	if (core)
		gm_strbuf_printf(b, "%s core %s, pid %" PRIu64 "\n", kind ? kind : "a", core, pid);
	else
		gm_strbuf_printf(b, "live process %" PRIu64 "\n", pid);
}

static void text_path(struct gm_strbuf *b, const char *key)
{
	char name[MAX_PATH];
	size_t n = 0;
	/* Below the root, the root's name ("process") goes without saying. */
	const char *below = strchr(key, PATH_SEP);
	for (const char *p = below ? below + 1 : key; *p && n + 4 < sizeof(name); p++) {
		if (*p == PATH_SEP) {
			memcpy(name + n, " / ", 3);
			n += 3;
		} else {
			name[n++] = *p;
		}
	}
	name[n] = '\0';
	gm_strbuf_printf(b, "  %-56s", name);
}

static void text_memstats(struct gm_strbuf *b, const struct gm_json *a, const struct gm_json *bb)
{
	bool any = false;
	for (size_t i = 0; a && a->type == GM_JSON_OBJECT && i < a->n; i++) {
		const struct gm_json *m = &a->items[i];
		struct delta d = member_delta(a, bb, m->key);
		if (m->type != GM_JSON_NUMBER || !d.has_a || !d.has_b || !changed(&d))
			continue;
		if (!any)
			gm_strbuf_printf(b, "\nMemStats that changed:\n");
		any = true;
		char c[40];
		gm_strbuf_printf(b, "  %-13s %20" PRIu64 " -> %20" PRIu64 "  %21s\n", m->key, d.a,
				 d.b, signed_count(&d, c));
	}
	if (!any)
		gm_strbuf_printf(b, "\nMemStats: no change\n");
}

static void text_types(struct gm_strbuf *b, struct diff *df)
{
	gm_strbuf_printf(b, "\ntypes, largest change first (B - A; reachable objects and "
			    "bytes, then garbage):\n");
	if (df->ntypes == 0) {
		gm_strbuf_printf(b, "  no change\n");
		return;
	}
	gm_strbuf_printf(b, "  %10s %10s %10s %12s %10s %10s  %s\n", "OBJECTS A", "OBJECTS B",
			 "CHANGE", "BYTES", "GARBAGE", "BYTES", "TYPE");
	for (size_t i = 0; i < types_shown(df); i++) {
		struct type_row *r = &df->types[i];
		char co[40], cb[40], cg[40], cu[40];
		gm_strbuf_printf(b, "  %10" PRIu64 " %10" PRIu64 " %10s %12s %10s %10s  %s\n",
				 r->objects.a, r->objects.b, signed_count(&r->objects, co),
				 signed_bytes(&r->bytes, cb),
				 signed_count(&r->unreachable_objects, cg),
				 signed_bytes(&r->unreachable_bytes, cu), r->name);
	}
	if (types_shown(df) < df->ntypes)
		gm_strbuf_printf(b, "  ... %zu more types changed (--limit 0 shows all)\n",
				 df->ntypes - types_shown(df));
}

static void diff_text(struct diff *df)
{
	struct gm_strbuf *b = &df->run->out;
	const struct gm_json *ra = df->a.root, *rb = df->b.root;
	char h[4][32], c[2][40];
	text_target(b, "A", df->a.target);
	text_target(b, "B", df->b.target);
	struct delta vsz = member_delta(ra, rb, "vsz_bytes"),
		     rss = member_delta(ra, rb, "rss_bytes");
	gm_strbuf_printf(b, "VSZ %s -> %s (%s), RSS %s -> %s (%s)\n",
			 side_bytes(vsz.has_a, vsz.a, h[0]), side_bytes(vsz.has_b, vsz.b, h[1]),
			 signed_bytes(&vsz, c[0]), side_bytes(rss.has_a, rss.a, h[2]),
			 side_bytes(rss.has_b, rss.b, h[3]), signed_bytes(&rss, c[1]));

	gm_strbuf_printf(b, "\nwhat grew or shrank, largest change first (B - A):\n");
	if (df->nnodes == 0)
		gm_strbuf_printf(b, "  nothing: the breakdowns are the same\n");
	else
		gm_strbuf_printf(b, "  %-56s %12s %12s\n", "", "VSZ", "RSS");
	for (size_t i = 0; i < df->nnodes; i++) {
		const struct node_row *r = &df->nodes[i];
		text_path(b, r->key);
		gm_strbuf_printf(b, " %12s %12s\n", signed_bytes(&r->vsz, c[0]),
				 signed_bytes(&r->rss, c[1]));
	}

	if (df->have_classes) {
		gm_strbuf_printf(b, "\nsize classes, largest change first (B - A; class 0: large "
				    "objects):\n");
		if (df->nclasses == 0)
			gm_strbuf_printf(b, "  no change\n");
		else
			gm_strbuf_printf(b, "  %5s %6s %10s %10s %10s %12s %8s %12s\n", "CLASS",
					 "SIZE", "OBJECTS A", "OBJECTS B", "CHANGE", "OBJ BYTES",
					 "SPANS", "FREE SLOTS");
	}
	for (size_t i = 0; df->have_classes && i < df->nclasses; i++) {
		const struct class_row *r = &df->classes[i];
		char size[24], co[40], cs[40], cb[40], cf[40];
		snprintf(size, sizeof(size), "%" PRIu64, r->object_size);
		gm_strbuf_printf(b, "  %5u %6s %10" PRIu64 " %10" PRIu64 " %10s %12s %8s %12s\n",
				 r->sizeclass, r->sizeclass ? size : "-", r->objects.a,
				 r->objects.b, signed_count(&r->objects, co),
				 signed_bytes(&r->object_bytes, cb), signed_count(&r->spans, cs),
				 signed_bytes(&r->free_slot_bytes, cf));
	}
	if (df->a.types && df->b.types)
		text_types(b, df);
	text_memstats(b, gm_json_get(ra, "memstats"), gm_json_get(rb, "memstats"));
	gm_run_text_warnings(df->run);
}

/* ---- the two entry points ---- */

/* The warnings of a side's summary, named after the side. */
static void side_warnings(struct gm_run *r, const struct gm_json *s, const char *side)
{
	const struct gm_json *w = gm_json_get(s, "warnings");
	for (size_t i = 0; w && w->type == GM_JSON_ARRAY && i < w->n; i++) {
		if (w->items[i].type != GM_JSON_STRING)
			continue;
		bool dup = false;
		/* The target's own warnings are in this report already. */
		for (size_t j = 0; r->t && j < r->t->nwarnings && side[0] == 'A'; j++)
			dup |= strcmp(r->t->warnings[j], w->items[i].string) == 0;
		if (!dup)
			gm_run_warn(r, false, "%s: %s", side, w->items[i].string);
	}
}

/* The types reports of both sides (--types), NULL without. */
struct types_texts {
	const char *a, *b;
	uint64_t limit;
};

static struct gomem_error *diff_run(struct gm_run *r, const char *a_text, const char *a_what,
				    const char *b_text, const char *b_what,
				    const struct types_texts *tt)
{
	struct gm_json *a = NULL, *b = NULL, *ta = NULL, *tb = NULL;
	struct diff *df = calloc(1, sizeof(*df));
	if (!df)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_json_parse(a_text, strlen(a_text), a_what, &a);
	if (!err)
		err = gm_json_parse(b_text, strlen(b_text), b_what, &b);
	if (!err && tt)
		err = gm_json_parse(tt->a, strlen(tt->a), "the types of A", &ta);
	if (!err && tt)
		err = gm_json_parse(tt->b, strlen(tt->b), "the types of B", &tb);
	if (!err)
		err = check_summary(a, a_what);
	if (!err)
		err = check_summary(b, b_what);
	if (!err) {
		df->run = r;
		df->a = (struct side){a, gm_json_get(a, "target"), ta};
		df->b = (struct side){b, gm_json_get(b, "target"), tb};
		df->limit = tt ? tt->limit : 0;
		side_warnings(r, a, "A");
		side_warnings(r, b, "B");
		err = diff_build(df);
	}
	if (!err && r->json)
		diff_json(df);
	else if (!err)
		diff_text(df);
	for (size_t i = 0; i < df->nnodes; i++)
		free(df->nodes[i].key);
	free(df->nodes);
	free(df->types);
	free(df);
	gm_json_destroy(a);
	gm_json_destroy(b);
	gm_json_destroy(ta);
	gm_json_destroy(tb);
	return err;
}

/*
 * Opens a regular file for reading; NULL with errno set otherwise. A FIFO or
 * a device would block or never end: they are refused before any read.
 */
static FILE *open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	int e = fstat(fd, &st) < 0     ? errno
		: S_ISDIR(st.st_mode)  ? EISDIR
		: !S_ISREG(st.st_mode) ? EINVAL
				       : 0;
	if (e) {
		close(fd);
		errno = e;
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* Whether the file at path starts with '{' (a saved summary), not with an ELF header. */
static bool is_json_file(const char *path)
{
	FILE *f = open_regular(path);
	if (!f)
		return false;
	int c;
	do
		c = fgetc(f);
	while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
	fclose(f);
	return c == '{';
}

static struct gomem_error *read_text(const char *path, char **ret)
{
	FILE *f = open_regular(path);
	if (!f && errno == EINVAL)
		return gm_error(GOMEM_ERROR_IO, "summary %s is not a regular file", path);
	if (!f)
		return gm_error_errno(GOMEM_ERROR_IO, errno, "summary %s", path);
	struct stat st;
	struct gomem_error *err = NULL;
	char *text = NULL;
	if (fstat(fileno(f), &st) < 0)
		err = gm_error_errno(GOMEM_ERROR_IO, errno, "summary %s", path);
	else if (st.st_size > GM_JSON_MAX_BYTES)
		err = gm_error(GOMEM_ERROR_FORMAT, "summary %s is too large (%lld bytes)", path,
			       (long long)st.st_size);
	else if (!(text = malloc((size_t)st.st_size + 1)))
		err = &gm_error_no_memory;
	else if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		err = gm_error(GOMEM_ERROR_IO, "summary %s: cannot read it", path);
	fclose(f);
	if (err) {
		free(text);
		return err;
	}
	text[st.st_size] = '\0';
	if (strlen(text) != (size_t)st.st_size) {
		free(text);
		return gm_error(GOMEM_ERROR_FORMAT, "summary %s holds a NUL byte: not JSON", path);
	}
	*ret = text;
	return NULL;
}

static const char *const summary_argv[] = {"--json"};
static const char *const types_argv[] = {"--json", "--limit", "0"};

/*
 * The other side: a saved summary, or the summary (and with types_ret, the
 * types) of another core of this executable.
 */
static struct gomem_error *other_summary(struct gm_run *r, const char *path, char **ret,
					 char **types_ret)
{
	bool saved = is_json_file(path);
	if (saved && types_ret)
		return gm_error(GOMEM_ERROR_USAGE,
				"diff: --types compares two cores: %s is a saved summary, which "
				"carries no types",
				path);
	if (saved)
		return read_text(path, ret);
	struct gomem_target *o = NULL;
	TRY(gomem_target_open_core_with(r->t->exe_file, path, r->target->debug_file,
					r->target->layout_from, &o));
	int partial = 0, tpartial = 0;
	struct gomem_error *err = gomem_run(o, "summary", 1, summary_argv, ret, &partial);
	if (!err && types_ret)
		err = gomem_run(o, "types", 3, types_argv, types_ret, &tpartial);
	gomem_target_destroy(o);
	if (partial || tpartial)
		r->partial = true;
	return err;
}

static struct gomem_error *run(struct gm_run *r)
{
	char *a = NULL, *b = NULL, *ta = NULL, *tb = NULL;
	int partial = 0;
	bool types = gm_run_option(r, "--types") != NULL;
	struct types_texts tt = {0};
	TRY(gm_run_uint_option(r, "--limit", DEFAULT_TYPE_LIMIT, &tt.limit));
	if (gm_run_option(r, "--limit") && !types)
		return gm_error(GOMEM_ERROR_USAGE,
				"diff: --limit is for --types (the types shown)");
	struct gomem_error *err = gomem_run(r->target, "summary", 1, summary_argv, &a, &partial);
	if (partial)
		r->partial = true;
	if (!err && types) {
		partial = 0;
		err = gomem_run(r->target, "types", 3, types_argv, &ta, &partial);
		if (partial)
			r->partial = true;
	}
	if (!err)
		err = other_summary(r, r->operands[0], &b, types ? &tb : NULL);
	if (!err) {
		char what[512];
		snprintf(what, sizeof(what), "summary %s", r->operands[0]);
		tt.a = ta;
		tt.b = tb;
		err = diff_run(r, a, "this target's summary", b, what, types ? &tt : NULL);
	}
	free(a);
	free(b);
	free(ta);
	free(tb);
	return err;
}

static struct gomem_error *diff_texts(const char *a, const char *what_a, const char *b,
				      const char *what_b, int json, char **ret)
{
	struct gm_run *r = calloc(1, sizeof(*r));
	if (!r)
		return &gm_error_no_memory;
	r->json = json != 0;
	gm_jw_init(&r->jw, &r->out);
	return gm_run_finish(r, diff_run(r, a, what_a, b, what_b, NULL), ret);
}

struct gomem_error *gomem_diff_summaries(const char *a, const char *b, int json, char **ret)
{
	if (!a || !b || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "gomem_diff_summaries: missing argument");
	return diff_texts(a, "summary A", b, "summary B", json, ret);
}

int gomem_is_summary_file(const char *path)
{
	return path && is_json_file(path);
}

struct gomem_error *gomem_diff_summary_files(const char *path_a, const char *path_b, int json,
					     char **ret)
{
	if (!path_a || !path_b || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "gomem_diff_summary_files: missing argument");
	char *a = NULL, *b = NULL, what_a[512], what_b[512];
	struct gomem_error *err = read_text(path_a, &a);
	if (!err)
		err = read_text(path_b, &b);
	snprintf(what_a, sizeof(what_a), "summary %s", path_a);
	snprintf(what_b, sizeof(what_b), "summary %s", path_b);
	if (!err)
		err = diff_texts(a, what_a, b, what_b, json, ret);
	free(a);
	free(b);
	return err;
}

static const struct gm_option_spec options[] = {
    {"--types", NULL, "also by type (gomem types of both cores: builds the object graph of each)"},
    {"--limit", "N", "with --types: the N types that changed most (default 20, 0: all)"},
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_diff = {
    .name = "diff",
    .usage = "diff [--types [--limit N]] [--json] OTHER",
    .summary = "what grew or shrank between this target and another core or summary",
    .help = "Compares this target with OTHER: another core of the same executable, or "
	    "a summary saved with gomem summary --json (of any executable). Lists what "
	    "grew or shrank from this target (A) to OTHER (B), B - A: the nodes of the "
	    "breakdown tree, by VSZ and RSS, and the size classes of the in-use spans, "
	    "by objects and bytes, largest change first; then the MemStats that "
	    "changed. With --types (OTHER a core), also each type's reachable objects and "
	    "bytes and its garbage, as `gomem types` finds them on each side, largest "
	    "change of reachable bytes first (--limit N of them, default 20, 0 for all): "
	    "it builds the object graph of both cores, so it is not done by default. "
	    "From the shell, gomem diff EXE CORE_A CORE_B, or gomem diff "
	    "A.json B.json for two saved summaries (without types). With --json, prints "
	    "one gomem/diff/v1 object (\"types\": null without --types).",
    .min_operands = 1,
    .max_operands = 1,
    .options = options,
    .run = run,
};
