/*
 * The runtime's type descriptors (runtime/gotypes.c) against the program's
 * DWARF, on every objgraph fixture that is built (build/fixtures/objgraph-*,
 * the Go matrix): each of the program's types named in the fixture's truth
 * is found through DW_AT_go_runtime_type (an offset from moduledata.types),
 * and its name, kind, size, pointer prefix, pointer mask and fields (names,
 * offsets, types) are what DWARF says; every global of package main has a
 * type with the name DWARF gives it. Also a descriptor read from a place
 * that holds none is the unknown type, not an error.
 *
 * Environment: GOMEM_TEST_EXE, a fixture executable (./setup test passes
 * heapmix): the objgraph fixtures are its siblings.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>

#include "runtime/gotypes.h"
#include "verbs/verbs.h"
#include "unit.h"

#define MAX_FIXTURES 64

struct fixtures {
	char dirs[MAX_FIXTURES][1400];
	size_t n;
};

static int cmp_dir(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int setup(void **state)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	struct fixtures *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	*state = f;
	if (!exe || !*exe)
		return 0;
	char buf[1024], parent[1024];
	snprintf(buf, sizeof(buf), "%s", exe);
	snprintf(parent, sizeof(parent), "%s", dirname(dirname(buf)));
	DIR *d = opendir(parent);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && f->n < MAX_FIXTURES) {
		char core[2048];
		if (strncmp(e->d_name, "objgraph-", 9) != 0)
			continue;
		snprintf(core, sizeof(core), "%s/%s/core.kernel", parent, e->d_name);
		if (access(core, R_OK) == 0)
			snprintf(f->dirs[f->n++], sizeof(f->dirs[0]), "%s/%s", parent, e->d_name);
	}
	if (d)
		closedir(d);
	qsort(f->dirs, f->n, sizeof(f->dirs[0]), cmp_dir);
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static struct gm_json *read_truth(const char *dir)
{
	char path[2048];
	snprintf(path, sizeof(path), "%s/truth.json", dir);
	FILE *fp = fopen(path, "r");
	if (!fp)
		fail_msg("%s: cannot read", path);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text), fp);
	fclose(fp);
	struct gm_json *j = NULL;
	assert_gomem_ok(gm_json_parse(text, n, path, &j));
	return j;
}

/* The words of a DWARF type that hold pointers, as bits from offset base (bounded depth). */
static void dwarf_pointer_words(struct gm_dwarf *dw, uint64_t die, uint64_t base, uint8_t *mask,
				uint64_t nwords, int depth)
{
	struct gm_dwarf_type t;
	assert_true(depth < 16);
	assert_gomem_ok(gm_dwarf_type_at(dw, die, &t));
	unsigned k = t.go_kind;
	if (t.tag == 0x0f || k == GM_KIND_POINTER || k == GM_KIND_UNSAFE_POINTER ||
	    k == GM_KIND_MAP || k == GM_KIND_CHAN || k == GM_KIND_FUNC || k == GM_KIND_SLICE ||
	    k == GM_KIND_STRING) {
		/* One pointer first: the data of a string or slice, the map or chan itself. */
		assert_true(base / 8 < nwords);
		mask[base / 8] = 1;
		return;
	}
	if (k == GM_KIND_INTERFACE) {
		assert_true(base / 8 + 1 < nwords);
		mask[base / 8 + 1] = 1; /* the data word; the type word points to rodata */
		return;
	}
	if (t.tag == 0x01) { /* DW_TAG_array_type */
		struct gm_dwarf_type e;
		if (!t.elem || !t.count)
			return;
		assert_gomem_ok(gm_dwarf_type_at(dw, t.elem, &e));
		for (uint64_t i = 0; i < t.count; i++)
			dwarf_pointer_words(dw, t.elem, base + i * e.size, mask, nwords, depth + 1);
		return;
	}
	if (t.tag == 0x13) { /* DW_TAG_structure_type */
		struct gm_dwarf_member *m;
		size_t n;
		assert_gomem_ok(gm_dwarf_type_members(dw, die, &m, &n));
		for (size_t i = 0; i < n; i++)
			dwarf_pointer_words(dw, m[i].type, base + m[i].offset, mask, nwords,
					    depth + 1);
		free(m);
	}
}

/* Checks the pointer mask of t (a plain mask only) against DWARF's pointer words. */
static void check_mask(struct gomem_target *t, const struct gm_gotype *ty, const uint8_t *words,
		       uint64_t nwords)
{
	uint64_t last = 0;
	for (uint64_t i = 0; i < nwords; i++) {
		if (words[i])
			last = i + 1;
	}
	assert_int_equal(ty->ptrdata, last * 8);
	if (ty->gcprog || ty->on_demand || !ty->ptrdata)
		return;
	uint8_t bits[4096];
	uint64_t nbytes = (ty->ptrdata / 8 + 7) / 8;
	assert_true(nbytes <= sizeof(bits));
	assert_gomem_ok(gm_read(&t->target.mem, ty->gcdata, bits, nbytes));
	for (uint64_t i = 0; i < ty->ptrdata / 8; i++) {
		if (((bits[i / 8] >> (i % 8)) & 1) != words[i])
			fail_msg("%s: word %llu: mask %d, DWARF %d", ty->name,
				 (unsigned long long)i, (bits[i / 8] >> (i % 8)) & 1, words[i]);
	}
}

/* One program type: its descriptor against its DWARF. */
static void check_type(struct gomem_target *t, struct gm_gotypes *tt, const char *name,
		       uint64_t truth_size, bool truth_noscan)
{
	uint64_t die;
	bool found;
	struct gm_dwarf_type dt;
	assert_gomem_ok(gm_dwarf_find_type(t->dwarf, name, &die, &found));
	if (!found)
		fail_msg("%s: not in the DWARF", name);
	assert_gomem_ok(gm_dwarf_type_at(t->dwarf, die, &dt));
	if (!dt.runtime_type)
		fail_msg("%s: DWARF names no runtime type", name);
	uint64_t addr;
	uint32_t id;
	assert_true(gm_gotypes_dwarf_addr(tt, dt.runtime_type, &addr));
	assert_gomem_ok(gm_gotypes_at(tt, addr, &id));
	assert_int_not_equal(id, GM_TYPE_UNKNOWN);
	uint32_t id2;
	assert_gomem_ok(gm_gotypes_dwarf(tt, die, &id2));
	assert_int_equal(id, id2);
	const struct gm_gotype *ty = gm_gotypes_get(tt, id);
	assert_string_equal(ty->name, name);
	assert_int_equal(ty->kind, dt.go_kind);
	assert_int_equal(ty->kind, GM_KIND_STRUCT);
	assert_int_equal(ty->size, dt.size);
	assert_int_equal(ty->size, truth_size);
	assert_int_equal(ty->ptrdata == 0, truth_noscan);
	uint64_t nwords = (ty->size + 7) / 8;
	uint8_t *words = calloc(nwords + 1, 1);
	assert_non_null(words);
	dwarf_pointer_words(t->dwarf, die, 0, words, nwords, 0);
	check_mask(t, ty, words, nwords);
	free(words);

	struct gm_dwarf_member *m;
	size_t nm, nf;
	assert_gomem_ok(gm_dwarf_type_members(t->dwarf, die, &m, &nm));
	const struct gm_gofield *f = gm_gotypes_fields(tt, id, &nf);
	assert_int_equal(nf, nm);
	for (size_t i = 0; i < nf; i++) {
		struct gm_dwarf_type mt;
		uint32_t fid;
		assert_string_equal(f[i].name, m[i].name);
		assert_int_equal(f[i].offset, m[i].offset);
		assert_int_equal(f[i].embedded, m[i].embedded);
		assert_gomem_ok(gm_gotypes_ref(tt, f[i].type, &fid));
		assert_int_not_equal(fid, GM_TYPE_UNKNOWN);
		assert_gomem_ok(gm_dwarf_type_at(t->dwarf, m[i].type, &mt));
		/* The size always agrees; the kind where DWARF writes one. */
		ty = gm_gotypes_get(tt, fid);
		assert_int_equal(ty->size, mt.size);
		if (mt.go_kind)
			assert_int_equal(ty->kind, mt.go_kind);
		if (strcmp(ty->name, mt.name) != 0)
			fail_msg("%s.%s: runtime type %s, DWARF %s", name, m[i].name, ty->name,
				 mt.name);
	}
	free(m);
}

/* Every global of package main: its type (by DWARF, or its descriptor) has DWARF's name. */
static void check_globals(struct gomem_target *t, struct gm_gotypes *tt)
{
	struct gm_dwarf_global *g;
	size_t n, nmain = 0;
	assert_gomem_ok(gm_dwarf_globals(t->dwarf, &g, &n));
	for (size_t i = 0; i < n; i++) {
		struct gm_dwarf_type dt;
		uint32_t id;
		if (strncmp(g[i].name, "main.", 5) != 0)
			continue;
		nmain++;
		assert_gomem_ok(gm_dwarf_type_at(t->dwarf, g[i].type, &dt));
		assert_gomem_ok(gm_gotypes_dwarf(tt, g[i].type, &id));
		assert_int_not_equal(id, GM_TYPE_UNKNOWN);
		const struct gm_gotype *ty = gm_gotypes_get(tt, id);
		if (strcmp(ty->name, dt.name) != 0)
			fail_msg("%s: type %s, DWARF %s", g[i].name, ty->name, dt.name);
		assert_int_equal(ty->size, dt.size);
	}
	free(g);
	assert_true(nmain >= 10);
}

/* The field of a struct type named name; NULL when none. */
static const struct gm_gofield *field_named(struct gm_gotypes *tt, uint32_t id, const char *name)
{
	size_t n;
	const struct gm_gofield *f = gm_gotypes_fields(tt, id, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	}
	return NULL;
}

/*
 * A map global's descriptor: its key and element, and where the keys and
 * elems of a bucket or group are, against the fields of the bucket or
 * group type itself (bucket{tophash, keys, elems, overflow}; group{ctrl,
 * slots [8]{key, elem}}; 1.27 split groups{ctrl, keys, elems}).
 */
static void check_map(struct gomem_target *t, struct gm_gotypes *tt, const char *global,
		      const char *key, const char *elem)
{
	struct gm_dwarf_global *g;
	size_t n;
	uint32_t id = GM_TYPE_UNKNOWN, kid, eid, gid;
	assert_gomem_ok(gm_dwarf_globals(t->dwarf, &g, &n));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(g[i].name, global) == 0)
			assert_gomem_ok(gm_gotypes_dwarf(tt, g[i].type, &id));
	}
	free(g);
	const struct gm_gotype *ty = gm_gotypes_get(tt, id);
	assert_int_equal(ty->kind, GM_KIND_MAP);
	const struct gm_maptype *m = gm_gotypes_map(tt, id);
	if (!m)
		fail_msg("%s: %s has no map descriptor", global, ty->name);
	assert_gomem_ok(gm_gotypes_ref(tt, ty->key, &kid));
	assert_gomem_ok(gm_gotypes_ref(tt, ty->elem, &eid));
	assert_string_equal(gm_gotypes_get(tt, kid)->name, key);
	assert_string_equal(gm_gotypes_get(tt, eid)->name, elem);
	assert_int_equal(m->slots, 8);
	assert_false(m->indirect_key);
	assert_false(m->indirect_elem);
	assert_gomem_ok(gm_gotypes_ref(tt, m->group, &gid));
	assert_int_not_equal(gid, GM_TYPE_UNKNOWN);
	assert_int_equal(gm_gotypes_get(tt, gid)->size, m->group_size);
	const struct gm_gofield *keys = field_named(tt, gid, "keys");
	const struct gm_gofield *elems = field_named(tt, gid, "elems");
	const struct gm_gofield *slots = field_named(tt, gid, "slots");
	uint64_t ksize = gm_gotypes_get(tt, kid)->size, esize = gm_gotypes_get(tt, eid)->size;
	if (keys && elems) {
		assert_int_equal(m->keys_off, keys->offset);
		assert_int_equal(m->elems_off, elems->offset);
		assert_int_equal(m->key_stride, ksize);
		assert_int_equal(m->elem_stride, esize);
	} else {
		uint32_t sid, slot_id;
		assert_non_null(slots);
		assert_gomem_ok(gm_gotypes_ref(tt, slots->type, &sid));
		assert_gomem_ok(gm_gotypes_ref(tt, gm_gotypes_get(tt, sid)->elem, &slot_id));
		const struct gm_gofield *k = field_named(tt, slot_id, "key");
		const struct gm_gofield *e = field_named(tt, slot_id, "elem");
		assert_non_null(k);
		assert_non_null(e);
		assert_int_equal(m->keys_off, slots->offset + k->offset);
		assert_int_equal(m->elems_off, slots->offset + e->offset);
		assert_int_equal(m->key_stride, gm_gotypes_get(tt, slot_id)->size);
		assert_int_equal(m->elem_stride, gm_gotypes_get(tt, slot_id)->size);
	}
}

/*
 * A closure's captured variables (Go 1.23+: DW_AT_go_closure_offset) and a
 * function's parameters: main.makeHook.func1 captures cv *main.closureVal
 * at offset 8 (after fn); main.setFinalizer.func1's parameter is p
 * *main.finalObj and it captures fv *main.finalFnVal.
 */
static void check_closures(struct gomem_target *t, struct gm_gotypes *tt, const char *go_version)
{
	struct gm_dwarf_closure *c, *fns;
	size_t n, nfns, found = 0;
	unsigned minor = 0;
	sscanf(go_version, "go1.%u", &minor);
	assert_gomem_ok(gm_dwarf_closures(t->dwarf, &c, &n));
	assert_gomem_ok(gm_dwarf_functions(t->dwarf, &fns, &nfns));
	assert_true(nfns > 1000);
	for (size_t i = 0; i < n; i++) {
		struct gm_dwarf_member *m;
		size_t nm;
		const char *want =
		    strcmp(c[i].name, "main.makeHook.func1") == 0	? "*main.closureVal"
		    : strcmp(c[i].name, "main.setFinalizer.func1") == 0 ? "*main.finalFnVal"
									: NULL;
		if (!want)
			continue;
		found++;
		assert_gomem_ok(gm_dwarf_closure_vars(t->dwarf, c[i].die, &m, &nm));
		assert_int_equal(nm, 1);
		assert_int_equal(m[0].offset, 8);
		uint32_t id;
		assert_gomem_ok(gm_gotypes_dwarf(tt, m[0].type, &id));
		assert_string_equal(gm_gotypes_get(tt, id)->name, want);
		free(m);
		if (strcmp(c[i].name, "main.setFinalizer.func1") == 0) {
			uint64_t type;
			bool ok;
			assert_gomem_ok(gm_dwarf_func_param(t->dwarf, c[i].die, 0, &type, &ok));
			assert_true(ok);
			assert_gomem_ok(gm_gotypes_dwarf(tt, type, &id));
			assert_string_equal(gm_gotypes_get(tt, id)->name, "*main.finalObj");
		}
	}
	/* Before 1.23 DWARF gives the captured variables no offsets: no closure is listed. */
	assert_int_equal(found, minor >= 23 ? 2 : 0);
	free(c);
	free(fns);
}

static void check_fixture(const char *dir)
{
	char exe[2048], core[2048];
	snprintf(exe, sizeof(exe), "%s/exe", dir);
	snprintf(core, sizeof(core), "%s/core.kernel", dir);
	struct gomem_target *t = NULL;
	assert_gomem_ok(gomem_target_open_core(exe, core, &t));
	struct gm_gotypes tt;
	assert_gomem_ok(gm_gotypes_init(&tt, t->runtime));
	struct gm_json *truth = read_truth(dir);
	const struct gm_json *types = gm_json_get(gm_json_get(truth, "objgraph"), "types");
	assert_non_null(types);
	assert_true(types->n >= 10);
	for (size_t i = 0; i < types->n; i++) {
		const struct gm_json *row = &types->items[i];
		uint64_t size;
		const struct gm_json *noscan = gm_json_get(row, "noscan");
		assert_true(gm_json_get_uint(row, "size", &size));
		assert_non_null(noscan);
		check_type(t, &tt, gm_json_get_string(row, "type"), size, noscan->boolean);
	}
	check_globals(t, &tt);
	check_map(t, &tt, "main.intMap", "int", "*main.mapVal");
	check_map(t, &tt, "main.strMap", "string", "*main.mapVal2");
	check_closures(t, &tt, gm_json_get_string(truth, "go_version"));
	/* Not a type: the unknown type, counted, no error. */
	uint32_t id;
	size_t bad = tt.bad;
	assert_gomem_ok(gm_gotypes_at(&tt, tt.module_types[0] + 1, &id));
	assert_int_equal(id, GM_TYPE_UNKNOWN);
	assert_int_equal(tt.bad, bad + 1);
	assert_string_equal(gm_gotypes_get(&tt, id)->name, "unknown");
	gm_json_destroy(truth);
	gm_gotypes_deinit(&tt);
	gomem_target_destroy(t);
}

static void test_descriptors_match_dwarf_on_every_objgraph_fixture(void **state)
{
	struct fixtures *f = *state;
	if (!f->n)
		fail_msg("no objgraph fixture beside GOMEM_TEST_EXE (build/fixtures/objgraph-*, "
			 "./setup fixtures builds them)");
	for (size_t i = 0; i < f->n; i++) {
		print_message("%s\n", f->dirs[i]);
		check_fixture(f->dirs[i]);
	}
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(gm_kind_name(GM_KIND_STRUCT), "struct");
	assert_string_equal(gm_kind_name(GM_KIND_POINTER), "ptr");
	assert_string_equal(gm_kind_name(GM_KIND_UNSAFE_POINTER), "unsafe.Pointer");
	assert_string_equal(gm_kind_name(99), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_descriptors_match_dwarf_on_every_objgraph_fixture),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
