/*
 * The pclntab decoder (target/pclntab.c) against the Go toolchains' own
 * answers, on every fixture executable and on a small program built here
 * with every toolchain the fixtures use:
 *
 *   - name, file and line at sampled pcs of every function equal
 *     `go tool addr2line` of the same Go release;
 *   - the functions equal the text symbols of `go tool nm`;
 *   - runtime.firstmoduledata and moduledata.text found without symbols
 *     equal the .symtab symbols, also with the section headers removed;
 *   - the inline expansion at each pc of a runtime.Callers stack equals
 *     runtime.CallersFrames in the program itself (tests/unit/pcframes);
 *   - the stack maps of pcframes' main.keep equal, byte for byte, the
 *     gclocals symbols of the compiler's -S listing (amd64 and arm64);
 *   - the FUNCDATA_ and PCDATA_ indexes equal the DWARF constants;
 *   - hostile tables give one clear error, never a crash.
 *
 * ./setup test sets GOMEM_TEST_EXE to build/fixtures/heapmix-<go>/exe; the
 * other fixtures are found beside it. The tests run from the repository's
 * top (fixtures/toolchain.sh gives each release's go command). A fixture,
 * a toolchain or a build that is missing fails the test and says why.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/target.h"
#include "target/pclntab.h"
#include "unit.h"

#define PCFRAMES_DIR	  "tests/unit/pcframes"
#define TOOLCHAIN_SH	  "fixtures/toolchain.sh"
#define MAX_FIXTURES	  128
#define MAX_SAMPLED_FUNCS 1500 /* per executable, plus every main.* function */
#define MAX_REPORTED	  10   /* mismatches printed per check */
#define MAX_FRAMES	  64

/* ---- running commands ---- */

/* The whole stdout of a shell command that exits 0, or NULL (and the reason printed). */
static char *run(const char *fmt, ...) GM_PRINTF(1, 2);
static char *run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return NULL;
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	struct gm_strbuf sb = {0};
	char buf[65536];
	size_t got;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		gm_strbuf_append(&sb, buf, got);
	int status = pclose(f);
	char *out = gm_strbuf_steal(&sb);
	if (status != 0 || !out) {
		print_error("command failed (status %d): %s\n", status, cmd);
		free(out);
		return NULL;
	}
	return out;
}

/* The next line of *p (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **p)
{
	if (!*p || !**p)
		return NULL;
	char *line = *p, *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = line + strlen(line);
	}
	return line;
}

/* ---- the fixtures and the toolchains ---- */

struct toolchain {
	char release[16]; /* "1.26", or "system" */
	char go[4096];
};

static struct toolchain toolchains[16];
static size_t ntoolchains;

/* The go command of a release (through fixtures/toolchain.sh, cached). */
static const char *go_for(const char *release)
{
	for (size_t i = 0; i < ntoolchains; i++) {
		if (strcmp(toolchains[i].release, release) == 0)
			return toolchains[i].go;
	}
	if (ntoolchains == GM_ARRAY_SIZE(toolchains))
		fail_msg("too many Go releases");
	if (access(TOOLCHAIN_SH, X_OK) != 0)
		fail_msg("%s is missing: run the tests from the repository's top", TOOLCHAIN_SH);
	char *out = run("%s %s", TOOLCHAIN_SH, release);
	if (!out)
		fail_msg("no Go %s toolchain (%s %s failed)", release, TOOLCHAIN_SH, release);
	struct toolchain *t = &toolchains[ntoolchains++];
	snprintf(t->release, sizeof(t->release), "%s", release);
	snprintf(t->go, sizeof(t->go), "%s", out);
	t->go[strcspn(t->go, "\n")] = '\0';
	free(out);
	return t->go;
}

/* "go1.26.8" -> "1.26" */
static void release_of(const char *go_version, char *buf, size_t size)
{
	const char *v = strncmp(go_version, "go", 2) == 0 ? go_version + 2 : go_version;
	const char *dot = strchr(v, '.');
	size_t n = dot ? strcspn(dot + 1, ".-+ ") + (size_t)(dot + 1 - v) : strlen(v);
	snprintf(buf, size, "%.*s", (int)n, v);
}

struct fixture {
	char path[4096];
	char release[16];
};

static int cmp_fixture(const void *a, const void *b)
{
	return strcmp(((const struct fixture *)a)->path, ((const struct fixture *)b)->path);
}

/* The Go version in .go.buildinfo (Go 1.18+ layout), for any ELF machine. */
static bool go_version_of(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool ok = false;
	while (e && !ok && elf_getshdrstrndx(e, &shstrndx) == 0 &&
	       (scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".go.buildinfo") != 0 || !(d = elf_getdata(scn, NULL)) ||
		    d->d_size < 34 || memcmp(d->d_buf, "\xff Go buildinf:", 14) != 0)
			continue;
		const uint8_t *b = d->d_buf;
		size_t len = b[32]; /* a one-byte varint: versions are short */
		if (!(b[15] & 2) || len >= 0x80 || 33 + len > d->d_size || len >= size)
			break;
		memcpy(buf, b + 33, len);
		buf[len] = '\0';
		ok = true;
	}
	elf_end(e);
	close(fd);
	return ok;
}

/* Adds the Go executables of dir (each DIR/NAME/exe, and its own files) to out. */
static size_t add_fixtures(const char *dir, struct fixture *out, size_t n, size_t max)
{
	DIR *d = opendir(dir);
	if (!d)
		return n;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		struct stat st;
		char version[64];
		if (e->d_name[0] == '.')
			continue;
		snprintf(out[n].path, sizeof(out[n].path), "%s/%s/exe", dir, e->d_name);
		if (stat(out[n].path, &st) != 0)
			snprintf(out[n].path, sizeof(out[n].path), "%s/%s", dir, e->d_name);
		/* Cores, logs and truth files are not Go executables. */
		if (stat(out[n].path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    !go_version_of(out[n].path, version, sizeof(version)))
			continue;
		release_of(version, out[n].release, sizeof(out[n].release));
		n++;
	}
	closedir(d);
	return n;
}

/*
 * Every fixture executable: build/fixtures/<name>/exe, build/fixtures/nodwarf,
 * and build/fixtures-arm64/<name>/exe when the arm64 lines of the matrix
 * were built (setup's GOMEM_ARM64).
 */
static size_t list_fixtures(struct fixture *out, size_t max)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	if (!exe || !*exe)
		fail_msg("GOMEM_TEST_EXE is not set: it must name build/fixtures/heapmix-<go>/exe "
			 "(./setup fixtures builds it)");
	char dir[4096], arm64[4200];
	snprintf(dir, sizeof(dir), "%s", exe);
	char *fixtures = dirname(dirname(dir));
	size_t n = add_fixtures(fixtures, out, 0, max);
	if (n < 2)
		fail_msg("only %zu fixture executables in %s (from GOMEM_TEST_EXE=%s): run "
			 "./setup fixtures",
			 n, fixtures, exe);
	snprintf(arm64, sizeof(arm64), "%s-arm64", fixtures);
	n = add_fixtures(arm64, out, n, max);
	qsort(out, n, sizeof(*out), cmp_fixture);
	return n;
}

/* ---- the executable ---- */

struct image {
	int fd;
	const uint8_t *map;
	uint64_t size;
};

static void image_open(const char *path, struct image *im)
{
	assert_gomem_ok(gm_map_file(path, "executable", &im->fd, &im->map, &im->size));
}

static void image_close(struct image *im)
{
	munmap((void *)im->map, im->size);
	close(im->fd);
}

/* The value of a .symtab symbol, through libelf. */
static bool symtab_value(const char *path, const char *name, uint64_t *ret)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	Elf_Scn *scn = NULL;
	bool found = false;
	while (e && !found && (scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;
			if (gelf_getsym(data, (int)i, &sym) &&
			    (s = elf_strptr(e, sh.sh_link, sym.st_name)) && strcmp(s, name) == 0) {
				*ret = sym.st_value;
				found = true;
				break;
			}
		}
	}
	elf_end(e);
	close(fd);
	return found;
}

/*
 * Opens the pclntab of path and gives it the text start (from the header,
 * or moduledata.text found without symbols) and gofunc (from .symtab).
 * Checks firstmoduledata and the text start against .symtab.
 */
static struct gm_pclntab *open_checked(const char *path, const struct image *im)
{
	struct gm_pclntab *p = NULL;
	assert_gomem_ok(gm_pclntab_open(im->map, im->size, &p));
	uint64_t md, md_sym, text, text_sym, gofunc;
	assert_gomem_ok(gm_pclntab_find_moduledata(p, &md));
	if (!symtab_value(path, "runtime.firstmoduledata", &md_sym) ||
	    !symtab_value(path, "runtime.text", &text_sym))
		fail_msg("%s: no runtime.firstmoduledata or runtime.text in .symtab", path);
	if (md != md_sym)
		fail_msg("%s: firstmoduledata 0x%" PRIx64 ", .symtab says 0x%" PRIx64, path, md,
			 md_sym);
	assert_gomem_ok(gm_pclntab_moduledata_text(p, md, &text));
	if (text != text_sym)
		fail_msg("%s: moduledata.text 0x%" PRIx64 ", runtime.text is 0x%" PRIx64, path,
			 text, text_sym);
	const struct gm_pclntab_info *in = gm_pclntab_info(p);
	/* pcHeader.textStart is runtime.text until 1.25, and 0 from 1.26. */
	if (in->header_text_start && in->header_text_start != text_sym)
		fail_msg("%s: pcHeader.textStart 0x%" PRIx64 " is not runtime.text", path,
			 in->header_text_start);
	/* Before 1.26 from the header, from 1.26 from moduledata: known either way. */
	assert_true(gm_pclntab_has_text(p));
	struct gm_func first;
	assert_gomem_ok(gm_pclntab_func(p, 0, &first));
	assert_gomem_ok(gm_pclntab_set_text(p, text)); /* the same, set by hand */
	struct gm_func again;
	assert_gomem_ok(gm_pclntab_func(p, 0, &again));
	assert_int_equal(first.entry, again.entry);
	if (!symtab_value(path, "go:func.*", &gofunc) && !symtab_value(path, "go.func.*", &gofunc))
		fail_msg("%s: no go:func.* (go.func.* before 1.20) in .symtab", path);
	gm_pclntab_set_gofunc(p, gofunc);
	return p;
}

/* ---- go tool nm ---- */

struct sym {
	uint64_t addr;
	char *name;
};

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * A name as both the pclntab and .symtab can be compared: the print form
 * (Go 1.19's pclntab has "[...]" where .symtab has the type arguments),
 * with "·" as "." (.symtab's spelling).
 */
static void comparable_name(const char *name, char *buf, size_t size)
{
	char tmp[8192];
	size_t j = 0;
	for (size_t i = 0; name[i] && j + 1 < sizeof(tmp); i++) {
		if ((uint8_t)name[i] == 0xc2 && (uint8_t)name[i + 1] == 0xb7) {
			tmp[j++] = '.';
			i++;
		} else {
			tmp[j++] = name[i];
		}
	}
	tmp[j] = '\0';
	gm_go_func_name_for_print(tmp, buf, size);
}

/*
 * Every function of the pclntab is a text symbol of `go tool nm` at its
 * entry, with its name (nm adds ".abi0" to assembly functions), and
 * there are no other text symbols in [minpc, maxpc) but runtime.text,
 * runtime.etext and the section symbols of C objects ("net(.text)").
 */
static void check_nm(const char *path, const char *go, const struct gm_pclntab *p)
{
	char *out = run("'%s' tool nm '%s'", go, path);
	if (!out)
		fail_msg("go tool nm %s failed", path);
	struct gm_func first, last;
	uint64_t nfunc = gm_pclntab_nfunc(p);
	assert_gomem_ok(gm_pclntab_func(p, 0, &first));
	assert_gomem_ok(gm_pclntab_func(p, nfunc - 1, &last));
	struct sym *syms = calloc(nfunc + 16, sizeof(*syms));
	size_t n = 0, extra = 0;
	char *cur = out, *line;
	while ((line = next_line(&cur)) != NULL) {
		uint64_t addr;
		char type;
		int at = 0;
		if (sscanf(line, " %" SCNx64 " %c %n", &addr, &type, &at) != 2 || !at ||
		    (type != 'T' && type != 't') || addr < first.entry || addr >= last.end)
			continue;
		char *name = line + at;
		size_t len = strlen(name);
		if (len > 5 && strcmp(name + len - 5, ".abi0") == 0)
			name[len - 5] = '\0';
		if (strcmp(name, "runtime.text") == 0 || strcmp(name, "runtime.etext") == 0 ||
		    strstr(name, "(.text")) {
			continue;
		}
		if (n == nfunc + 16) {
			extra++;
			continue;
		}
		char cmp[8192];
		comparable_name(name, cmp, sizeof(cmp));
		syms[n++] = (struct sym){addr, strdup(cmp)};
	}
	qsort(syms, n, sizeof(*syms), cmp_sym);
	size_t missing = 0;
	for (uint64_t i = 0; i < nfunc; i++) {
		struct gm_func f;
		assert_gomem_ok(gm_pclntab_func(p, i, &f));
		char cmp[8192];
		comparable_name(f.name, cmp, sizeof(cmp));
		struct sym key = {f.entry, cmp};
		if (!bsearch(&key, syms, n, sizeof(*syms), cmp_sym) && missing++ < MAX_REPORTED)
			print_error("%s: %s at 0x%" PRIx64 " is not a text symbol of go tool nm\n",
				    path, f.name, f.entry);
	}
	if (missing || n + extra != nfunc)
		fail_msg("%s: %zu functions not in go tool nm; nm has %zu comparable text symbols, "
			 "the pclntab %" PRIu64 " functions",
			 path, missing, n + extra, nfunc);
	for (size_t i = 0; i < n; i++)
		free(syms[i].name);
	free(syms);
	free(out);
}

/* ---- go tool addr2line ---- */

static bool is_main_func(const char *name)
{
	return strncmp(name, "main.", 5) == 0;
}

/* One pc's answer from us: the function, and the innermost file and line. */
static void our_answer(const struct gm_pclntab *p, uint64_t pc, char *buf, size_t size)
{
	struct gm_func f;
	bool found;
	assert_gomem_ok(gm_pclntab_find_func(p, pc, &f, &found));
	if (!found) {
		snprintf(buf, size, "?\n?:0");
		return;
	}
	const char *file;
	int32_t line;
	assert_gomem_ok(gm_pclntab_file_line(p, &f, pc, &file, &line));
	/*
	 * A function without line tables (markers like go:textfipsstart):
	 * the runtime says "?" and 0; gosym decodes pctab offset 0 anyway, so
	 * addr2line's line there means nothing. Only the name is compared.
	 */
	if (f.pcfile == 0 || f.pcln == 0) {
		assert_string_equal(file, "?");
		snprintf(buf, size, "%s\n", f.name);
		return;
	}
	/* gosym says ":-1" where the tables do not cover pc (padding), the runtime "?" and 0. */
	if (line == 0 && strcmp(file, "?") == 0)
		snprintf(buf, size, "%s\n:-1", f.name);
	else
		snprintf(buf, size, "%s\n%s:%d", f.name, file, line);
	/* The inline expansion ends in f and starts at the same file and line. */
	struct gm_frame frames[MAX_FRAMES];
	size_t n;
	assert_gomem_ok(gm_pclntab_frames(p, pc, frames, MAX_FRAMES, &n));
	if (n < 1 || n > MAX_FRAMES || strcmp(frames[n - 1].function, f.name) != 0 ||
	    frames[n - 1].inlined || strcmp(frames[0].file, file) != 0 || frames[0].line != line)
		fail_msg("frames at 0x%" PRIx64 " (%zu) do not end in %s or start at %s:%d", pc, n,
			 f.name, file, line);
}

/*
 * Name, file and line at the entry, the middle and the last byte of a
 * sample of functions (every main.* one among them) equal addr2line's.
 */
static void check_addr2line(const char *path, const char *go, const struct gm_pclntab *p,
			    const char *tmpdir)
{
	uint64_t nfunc = gm_pclntab_nfunc(p);
	uint64_t step = nfunc / MAX_SAMPLED_FUNCS + 1;
	char pcfile[4200];
	snprintf(pcfile, sizeof(pcfile), "%s/pcs", tmpdir);
	FILE *f = fopen(pcfile, "w");
	assert_non_null(f);
	uint64_t *pcs = calloc(3 * nfunc, sizeof(*pcs));
	size_t npcs = 0;
	for (uint64_t i = 0; i < nfunc; i++) {
		struct gm_func fn;
		assert_gomem_ok(gm_pclntab_func(p, i, &fn));
		if (i % step && !is_main_func(fn.name))
			continue;
		uint64_t at[3] = {fn.entry, fn.entry + (fn.end - fn.entry) / 2, fn.end - 1};
		for (int k = 0; k < 3 && fn.end > fn.entry; k++) {
			pcs[npcs++] = at[k];
			fprintf(f, "0x%" PRIx64 "\n", at[k]);
		}
	}
	fclose(f);
	char *out = run("'%s' tool addr2line '%s' < '%s'", go, path, pcfile);
	if (!out)
		fail_msg("go tool addr2line %s failed", path);
	char *cur = out;
	size_t bad = 0;
	for (size_t i = 0; i < npcs; i++) {
		char *name = next_line(&cur), *fileline = next_line(&cur);
		if (!name || !fileline)
			fail_msg("%s: addr2line gave %zu answers for %zu pcs", path, i, npcs);
		char want[8192], ours[8192];
		our_answer(p, pcs[i], ours, sizeof(ours));
		bool name_only = ours[strlen(ours) - 1] == '\n';
		snprintf(want, sizeof(want), "%s\n%s", name, name_only ? "" : fileline);
		if (strcmp(want, ours) != 0 && bad++ < MAX_REPORTED)
			print_error("%s: at 0x%" PRIx64 " addr2line says %s, we say %s\n", path,
				    pcs[i], want, ours);
	}
	if (bad)
		fail_msg("%s: %zu of %zu pcs differ from go tool addr2line", path, bad, npcs);
	free(pcs);
	free(out);
}

/* ---- the tests on every fixture ---- */

static char tmpdir[256];

static int group_setup(void **state)
{
	(void)state;
	return unit_make_tmpdir(tmpdir, sizeof(tmpdir), "gomem-pclntab");
}

static int group_teardown(void **state)
{
	(void)state;
	unit_remove_tree(tmpdir);
	return 0;
}

static void test_every_fixture_matches_addr2line_and_nm_of_its_go(void **state)
{
	(void)state;
	static struct fixture fx[MAX_FIXTURES];
	size_t n = list_fixtures(fx, MAX_FIXTURES);
	for (size_t i = 0; i < n; i++) {
		const char *go = go_for(fx[i].release);
		struct image im;
		image_open(fx[i].path, &im);
		struct gm_pclntab *p = open_checked(fx[i].path, &im);
		check_nm(fx[i].path, go, p);
		/* Go 1.19's objfile knows only .gopclntab, not a PIE's .data.rel.ro.gopclntab. */
		Elf64_Ehdr eh;
		memcpy(&eh, im.map, sizeof(eh));
		if (strcmp(fx[i].release, "1.19") == 0 && eh.e_type == ET_DYN)
			go = go_for("1.21");
		check_addr2line(fx[i].path, go, p, tmpdir);
		gm_pclntab_destroy(p);
		image_close(&im);
	}
}

/*
 * With no section headers at all (sstrip, a damaged file) the table is
 * found by its magic, and it is the same table, with the same moduledata.
 */
static void test_without_section_headers_the_same_table_is_found(void **state)
{
	(void)state;
	static struct fixture fx[MAX_FIXTURES];
	size_t n = list_fixtures(fx, MAX_FIXTURES);
	for (size_t i = 0; i < n; i++) {
		struct image im;
		image_open(fx[i].path, &im);
		struct gm_pclntab *p = open_checked(fx[i].path, &im);
		uint8_t *copy = malloc(im.size);
		assert_non_null(copy);
		memcpy(copy, im.map, im.size);
		Elf64_Ehdr eh;
		memcpy(&eh, copy, sizeof(eh));
		eh.e_shoff = 0;
		eh.e_shnum = 0;
		eh.e_shstrndx = 0;
		memcpy(copy, &eh, sizeof(eh));
		struct gm_pclntab *q = NULL;
		assert_gomem_ok(gm_pclntab_open(copy, im.size, &q));
		const struct gm_pclntab_info *a = gm_pclntab_info(p), *b = gm_pclntab_info(q);
		assert_true(a->from_section);
		assert_false(b->from_section);
		assert_int_equal(a->addr, b->addr);
		assert_int_equal(a->nfunc, b->nfunc);
		uint64_t md_a, md_b, text;
		assert_gomem_ok(gm_pclntab_find_moduledata(p, &md_a));
		assert_gomem_ok(gm_pclntab_find_moduledata(q, &md_b));
		assert_int_equal(md_a, md_b);
		assert_gomem_ok(gm_pclntab_moduledata_text(q, md_b, &text));
		assert_true(gm_pclntab_has_text(q));
		struct gm_func fa, fb;
		assert_gomem_ok(gm_pclntab_func(p, a->nfunc - 1, &fa));
		assert_gomem_ok(gm_pclntab_func(q, b->nfunc - 1, &fb));
		assert_int_equal(fa.entry, fb.entry);
		assert_string_equal(fa.name, fb.name);
		gm_pclntab_destroy(q);
		free(copy);
		gm_pclntab_destroy(p);
		image_close(&im);
	}
}

/* The value of a top-level DW_TAG_constant called name, through plain libdw. */
static bool dwarf_const(Dwarf *dw, const char *name, int64_t *ret)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				const char *n = dwarf_diename(&die);
				Dwarf_Attribute attr;
				Dwarf_Sword v;
				if (dwarf_tag(&die) == DW_TAG_constant && n &&
				    strcmp(n, name) == 0 &&
				    dwarf_attr(&die, DW_AT_const_value, &attr) &&
				    dwarf_formsdata(&attr, &v) == 0) {
					*ret = v;
					return true;
				}
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
	return false;
}

/*
 * The FUNCDATA_ and PCDATA_ indexes are the runtime's: the compiler writes
 * them as DWARF constants (internal/abi from 1.21, runtime._* in 1.19).
 */
static void test_funcdata_and_pcdata_indexes_equal_the_dwarf_constants(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int64_t value;
		bool from_1_26;
	} consts[] = {
	    {"PCDATA_UnsafePoint", GM_PCDATA_UNSAFE_POINT, false},
	    {"PCDATA_StackMapIndex", GM_PCDATA_STACK_MAP_INDEX, false},
	    {"PCDATA_InlTreeIndex", GM_PCDATA_INL_TREE_INDEX, false},
	    {"PCDATA_ArgLiveIndex", GM_PCDATA_ARG_LIVE_INDEX, false},
	    {"PCDATA_PanicBounds", GM_PCDATA_PANIC_BOUNDS, true},
	    {"FUNCDATA_ArgsPointerMaps", GM_FUNCDATA_ARGS_POINTER_MAPS, false},
	    {"FUNCDATA_LocalsPointerMaps", GM_FUNCDATA_LOCALS_POINTER_MAPS, false},
	    {"FUNCDATA_StackObjects", GM_FUNCDATA_STACK_OBJECTS, false},
	    {"FUNCDATA_InlTree", GM_FUNCDATA_INL_TREE, false},
	    {"FUNCDATA_OpenCodedDeferInfo", GM_FUNCDATA_OPEN_CODED_DEFER_INFO, false},
	    {"FUNCDATA_ArgInfo", GM_FUNCDATA_ARG_INFO, false},
	    {"FUNCDATA_ArgLiveInfo", GM_FUNCDATA_ARG_LIVE_INFO, false},
	    {"FUNCDATA_WrapInfo", GM_FUNCDATA_WRAP_INFO, false},
	};
	static struct fixture fx[MAX_FIXTURES];
	size_t n = list_fixtures(fx, MAX_FIXTURES), checked = 0;
	const char *done[32];
	size_t ndone = 0;
	for (size_t i = 0; i < n; i++) {
		/* One heapmix of each release: the constants are per release. */
		bool seen = false;
		for (size_t k = 0; k < ndone; k++)
			seen |= strcmp(done[k], fx[i].release) == 0;
		if (seen || !strstr(fx[i].path, "/heapmix-") || ndone == GM_ARRAY_SIZE(done))
			continue;
		done[ndone++] = fx[i].release;
		int fd = open(fx[i].path, O_RDONLY);
		Dwarf *dw = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : NULL;
		if (!dw)
			fail_msg("%s: no DWARF", fx[i].path);
		/* 1.26 added PCDATA_PanicBounds: the test knows which releases have it. */
		bool has_1_26 = strlen(fx[i].release) == 4 && strcmp(fx[i].release, "1.26") >= 0;
		for (size_t k = 0; k < GM_ARRAY_SIZE(consts); k++) {
			char abi[128], rt[128];
			snprintf(abi, sizeof(abi), "internal/abi.%s", consts[k].name);
			snprintf(rt, sizeof(rt), "runtime._%s", consts[k].name);
			int64_t v;
			if (!dwarf_const(dw, abi, &v) && !dwarf_const(dw, rt, &v)) {
				if (consts[k].from_1_26 && !has_1_26)
					continue;
				fail_msg("%s: no DWARF constant %s or %s", fx[i].path, abi, rt);
			}
			if (consts[k].from_1_26 && !has_1_26)
				fail_msg("%s: %s exists before 1.26", fx[i].path, abi);
			if (v != consts[k].value)
				fail_msg("%s: %s is %" PRId64 ", pclntab.h says %" PRId64,
					 fx[i].path, consts[k].name, v, consts[k].value);
		}
		dwarf_end(dw);
		close(fd);
		checked++;
	}
	if (checked < 2)
		fail_msg("only %zu heapmix fixtures with DWARF", checked);
}

/* ---- pcframes: the runtime's own frames and the compiler's stack maps ---- */

struct truth_pc {
	uint64_t pc;
	char *function, *file;
	int line;
};

/* Parses pcframes' output: "pc" and "entry" lines. */
static size_t parse_pcframes(char *out, struct truth_pc *pcs, size_t max, struct truth_pc *entries,
			     size_t *nentries)
{
	size_t n = 0;
	*nentries = 0;
	char *line;
	while ((line = next_line(&out)) != NULL) {
		char *f[4] = {0};
		char *tok = line, *tab;
		for (int k = 0; k < 4 && tok; k++) {
			f[k] = tok;
			tab = strchr(tok, '\t');
			if (tab)
				*tab = '\0';
			tok = tab ? tab + 1 : NULL;
		}
		if (strncmp(line, "pc ", 3) == 0 && f[3] && n < max) {
			pcs[n++] =
			    (struct truth_pc){strtoull(f[0] + 3, NULL, 16), f[1], f[2], atoi(f[3])};
		} else if (strncmp(line, "entry ", 6) == 0 && f[1] && *nentries < max) {
			entries[(*nentries)++] =
			    (struct truth_pc){strtoull(f[0] + 6, NULL, 16), f[1], NULL, 0};
		}
	}
	return n;
}

static void print_name(const char *name, char *buf, size_t size)
{
	gm_go_func_name_for_print(name, buf, size);
}

/* The pc that the runtime looks up for a return address (Frames.Next). */
static uint64_t lookup_pc(const struct gm_pclntab *p, uint64_t pc)
{
	struct gm_func f;
	bool found;
	assert_gomem_ok(gm_pclntab_find_func(p, pc, &f, &found));
	if (!found)
		fail_msg("no function at 0x%" PRIx64, pc);
	return pc > f.entry ? pc - 1 : pc;
}

static void expect_frame(const char *bin, const struct gm_frame *got, const struct truth_pc *want)
{
	char name[4096];
	print_name(got->function, name, sizeof(name));
	if (strcmp(name, want->function) != 0 || strcmp(got->file, want->file) != 0 ||
	    got->line != want->line)
		fail_msg("%s: at 0x%" PRIx64
			 " runtime.CallersFrames says %s %s:%d, we say %s %s:%d",
			 bin, want->pc, want->function, want->file, want->line, name, got->file,
			 got->line);
}

/*
 * Each pc of the Callers stack alone: our innermost frame is the runtime's
 * frame. Inlined calls: runtime.Callers gives one pc per inlined frame,
 * so our expansion of a pc must equal the runtime's frames of that pc and
 * the ones after it. Returns the deepest expansion seen.
 */
static size_t check_inline_frames(const char *bin, const struct gm_pclntab *p,
				  const struct truth_pc *t, size_t n)
{
	size_t deepest = 0;
	for (size_t i = 0; i < n;) {
		struct gm_frame frames[MAX_FRAMES];
		size_t k;
		assert_gomem_ok(
		    gm_pclntab_frames(p, lookup_pc(p, t[i].pc), frames, MAX_FRAMES, &k));
		if (k == 0 || k > MAX_FRAMES || i + k > n)
			fail_msg("%s: %zu frames at 0x%" PRIx64 ", %zu pcs left", bin, k, t[i].pc,
				 n - i);
		for (size_t j = 0; j < k; j++) {
			expect_frame(bin, &frames[j], &t[i + j]);
			assert_int_equal(frames[j].inlined, j + 1 < k);
		}
		if (k > deepest)
			deepest = k;
		i += k;
	}
	return deepest;
}

/* The bytes of a data symbol of a -S listing ("NAME SRODATA ... size=N", then hex rows). */
static size_t listing_bytes(const char *listing, const char *sym, uint8_t *buf, size_t max)
{
	char head[512];
	snprintf(head, sizeof(head), "\n%s SRODATA ", sym);
	const char *at = strstr(listing, head);
	if (!at)
		fail_msg("no %s in the -S listing", sym);
	const char *sz = strstr(at, " size=");
	size_t size = sz ? strtoul(sz + 6, NULL, 10) : 0, n = 0;
	if (size > max)
		fail_msg("%s: size %zu", sym, size);
	const char *row = strchr(at + 1, '\n');
	while (row && n < size) {
		row++;
		unsigned off;
		int used;
		if (sscanf(row, " 0x%x%n", &off, &used) != 1 || off != n)
			fail_msg("%s: bad row in the -S listing", sym);
		const char *c = row + used;
		while (n < size && c[0] == ' ' && c[1] != ' ') {
			unsigned byte;
			if (sscanf(c, " %2x", &byte) != 1)
				break;
			buf[n++] = (uint8_t)byte;
			c += 3;
		}
		row = strchr(row, '\n');
	}
	if (n != size)
		fail_msg("%s: %zu of %zu bytes in the -S listing", sym, n, size);
	return n;
}

/* The symbol of "FUNCDATA\t$which, SYM(SB)" in the listing of function fn, and its args. */
static void listing_funcdata(const char *listing, const char *fn, int which, char *sym, size_t size,
			     int32_t *args)
{
	char head[256], want[64];
	snprintf(head, sizeof(head), "\n%s STEXT ", fn);
	const char *at = strstr(listing, head);
	if (!at)
		fail_msg("no %s in the -S listing", fn);
	at++;
	const char *header_end = strchr(at, '\n'), *end = header_end;
	/* The function's block ends at the first line that does not start with a tab. */
	while (end && end[1] == '\t')
		end = strchr(end + 1, '\n');
	if (!end)
		end = at + strlen(at);
	const char *a = memmem(at, (size_t)(header_end - at), " args=0x", 8);
	*args = a ? (int32_t)strtol(a + 8, NULL, 16) : -1;
	snprintf(want, sizeof(want), "FUNCDATA\t$%d, ", which);
	const char *fd = memmem(at, (size_t)(end - at), want, strlen(want));
	if (!fd)
		fail_msg("no FUNCDATA $%d in %s's -S listing", which, fn);
	fd += strlen(want);
	size_t n = strcspn(fd, "(");
	snprintf(sym, size, "%.*s", (int)n, fd);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* main.keep's stack maps and argument size equal the compiler's listing. */
static void check_keep_stack_maps(const char *bin, const struct gm_pclntab *p, const char *listing,
				  uint64_t keep_entry)
{
	struct gm_func f;
	bool found;
	assert_gomem_ok(gm_pclntab_func_by_entry(p, keep_entry, &f, &found));
	assert_true(found);
	assert_string_equal(f.name, "main.keep");
	for (int which = 0; which <= 1; which++) {
		char sym[256];
		int32_t args;
		uint8_t want[4096];
		listing_funcdata(listing, "main.keep", which, sym, sizeof(sym), &args);
		assert_int_equal(f.args, args);
		size_t len = listing_bytes(listing, sym, want, sizeof(want));
		struct gm_stackmap sm;
		assert_gomem_ok(gm_pclntab_stackmap(p, &f, (uint32_t)which, &sm, &found));
		assert_true(found);
		size_t row = ((size_t)sm.nbit + 7) / 8;
		if (len != 8 + (size_t)sm.n * row || get32(want) != (uint32_t)sm.n)
			fail_msg("%s: %s has %zu bytes; we read n=%d nbit=%d", bin, sym, len, sm.n,
				 sm.nbit);
		assert_int_equal(get32(want + 4), (uint32_t)sm.nbit);
		assert_true(sm.n >= 2 && sm.nbit >= 2); /* keep is made to have several */
		for (int32_t i = 0; i < sm.n; i++)
			assert_memory_equal(gm_stackmap_bits(&sm, i), want + 8 + (size_t)i * row,
					    row);
	}
}

/* Builds pcframes for goarch with -gcflags=-S; returns the listing (free it). */
static char *build_pcframes(const char *go, const char *goarch, const char *label, char *bin,
			    size_t size)
{
	if (access(PCFRAMES_DIR "/main.go", R_OK) != 0)
		fail_msg("%s/main.go is missing: run the tests from the repository's top",
			 PCFRAMES_DIR);
	snprintf(bin, size, "%s/pcframes-%s-%s", tmpdir, goarch, label);
	/* The listing is the compiler's stderr; a cached build replays it. */
	char *listing = run("cd %s && GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 GOOS=linux "
			    "GOARCH=%s '%s' build -gcflags=-S -o '%s' . 2>&1 >/dev/null",
			    PCFRAMES_DIR, goarch, go, bin);
	if (!listing)
		fail_msg("could not build %s with %s for %s", PCFRAMES_DIR, go, goarch);
	return listing;
}

/* The releases of the fixtures, and the machine's own Go. */
static size_t releases(const char **out, size_t max)
{
	static struct fixture fx[MAX_FIXTURES];
	size_t n = list_fixtures(fx, MAX_FIXTURES), nr = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t k = 0; k < nr; k++)
			seen |= strcmp(out[k], fx[i].release) == 0;
		if (!seen && nr < max)
			out[nr++] = fx[i].release;
	}
	if (nr < max)
		out[nr++] = "system";
	return nr;
}

static void test_pcframes_frames_and_stack_maps_equal_the_runtime_and_the_compiler(void **state)
{
	(void)state;
	const char *rel[32];
	size_t nrel = releases(rel, GM_ARRAY_SIZE(rel));
	static struct truth_pc pcs[256], entries[256];
	for (size_t r = 0; r < nrel; r++) {
		const char *go = go_for(rel[r]);
		char bin[4200];
		char *listing = build_pcframes(go, "amd64", rel[r], bin, sizeof(bin));
		char *out = run("'%s'", bin);
		if (!out)
			fail_msg("%s did not run", bin);
		size_t nentries, n = parse_pcframes(out, pcs, 256, entries, &nentries);
		if (n < 6 || nentries < 7)
			fail_msg("%s printed %zu pcs and %zu entries", bin, n, nentries);
		struct image im;
		image_open(bin, &im);
		struct gm_pclntab *p = open_checked(bin, &im);
		/* capture, then leaf, middle and (*counter).add inlined into outer. */
		assert_true(check_inline_frames(bin, p, pcs, n) >= 4);
		uint64_t keep = 0;
		for (size_t i = 0; i < nentries; i++) {
			struct gm_func f;
			bool found;
			char name[4096];
			assert_gomem_ok(gm_pclntab_func_by_entry(p, entries[i].pc, &f, &found));
			assert_true(found);
			print_name(f.name, name, sizeof(name));
			assert_string_equal(name, entries[i].function);
			if (strcmp(f.name, "main.keep") == 0)
				keep = f.entry;
			/* Not an entry: inside the function. */
			assert_gomem_ok(gm_pclntab_func_by_entry(p, entries[i].pc + 1, &f, &found));
			assert_false(found);
		}
		assert_true(keep != 0);
		check_keep_stack_maps(bin, p, listing, keep);
		check_nm(bin, go, p);
		check_addr2line(bin, go, p, tmpdir);
		gm_pclntab_destroy(p);
		image_close(&im);
		free(out);
		free(listing);
	}
}

/* The link-time entry of the function called name (no symbols needed). */
static uint64_t entry_of(const struct gm_pclntab *p, const char *name)
{
	for (uint64_t i = 0; i < gm_pclntab_nfunc(p); i++) {
		struct gm_func f;
		assert_gomem_ok(gm_pclntab_func(p, i, &f));
		if (strcmp(f.name, name) == 0)
			return f.entry;
	}
	fail_msg("no function %s", name);
	return 0;
}

/*
 * Runs bin and checks its frames and entries with the pclntab of bin; the
 * program prints run-time addresses, so a PIE's load bias is taken off
 * (from main.main's entry). gofunc comes from unstripped, a build of the
 * same bytes with symbols.
 */
static void check_running(const char *bin, const char *unstripped)
{
	char *out = run("'%s'", bin);
	if (!out)
		fail_msg("%s did not run", bin);
	static struct truth_pc pcs[256], entries[256];
	size_t nentries, n = parse_pcframes(out, pcs, 256, entries, &nentries);
	if (n < 6 || nentries < 7 || strcmp(entries[0].function, "main.main") != 0)
		fail_msg("%s printed %zu pcs and %zu entries", bin, n, nentries);
	struct image im;
	image_open(bin, &im);
	struct gm_pclntab *p = NULL;
	uint64_t md, text, gofunc;
	assert_gomem_ok(gm_pclntab_open(im.map, im.size, &p));
	assert_gomem_ok(gm_pclntab_find_moduledata(p, &md));
	assert_gomem_ok(gm_pclntab_moduledata_text(p, md, &text));
	assert_true(gm_pclntab_has_text(p));
	if (!symtab_value(unstripped, "go:func.*", &gofunc))
		fail_msg("%s: no go:func.* in .symtab", unstripped);
	gm_pclntab_set_gofunc(p, gofunc);
	uint64_t bias = entries[0].pc - entry_of(p, "main.main");
	for (size_t i = 0; i < n; i++)
		pcs[i].pc -= bias;
	assert_true(check_inline_frames(bin, p, pcs, n) >= 4);
	for (size_t i = 0; i < nentries; i++) {
		struct gm_func f;
		bool found;
		char name[4096];
		assert_gomem_ok(gm_pclntab_func_by_entry(p, entries[i].pc - bias, &f, &found));
		assert_true(found);
		print_name(f.name, name, sizeof(name));
		assert_string_equal(name, entries[i].function);
	}
	gm_pclntab_destroy(p);
	image_close(&im);
	free(out);
}

/*
 * External linking (runtime.text is then not the start of .text) as an
 * executable and as a PIE (moduledata through RELATIVE relocations), and
 * the PIE stripped by objcopy (no .symtab: names from the pclntab alone),
 * each checked against go tool addr2line and nm (where it has symbols) and
 * against the running program itself.
 */
static void test_external_linking_and_stripped_builds_match_the_runtime(void **state)
{
	(void)state;
	const char *go = go_for("system");
	static const char *const modes[] = {"exe", "pie"};
	char bins[2][4200];
	for (size_t m = 0; m < GM_ARRAY_SIZE(modes); m++) {
		snprintf(bins[m], sizeof(bins[m]), "%s/pcframes-external-%s", tmpdir, modes[m]);
		char *log = run("cd %s && GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=1 '%s' build "
				"-buildmode=%s -ldflags=-linkmode=external -o '%s' . 2>&1",
				PCFRAMES_DIR, go, modes[m], bins[m]);
		if (!log)
			fail_msg("could not build %s with external linking (%s)", PCFRAMES_DIR,
				 modes[m]);
		free(log);
		struct image im;
		image_open(bins[m], &im);
		struct gm_pclntab *p = open_checked(bins[m], &im);
		check_nm(bins[m], go, p);
		check_addr2line(bins[m], go, p, tmpdir);
		gm_pclntab_destroy(p);
		image_close(&im);
		check_running(bins[m], bins[m]);
	}
	char stripped[4300];
	snprintf(stripped, sizeof(stripped), "%s-stripped", bins[1]);
	char *log = run("objcopy --strip-all '%s' '%s' 2>&1", bins[1], stripped);
	if (!log)
		fail_msg("objcopy --strip-all %s failed", bins[1]);
	free(log);
	uint64_t v;
	assert_false(symtab_value(stripped, "runtime.text", &v));
	check_running(stripped, bins[1]);
}

/*
 * linux/arm64 (pc quantum 4): built with the machine's Go; checked against
 * addr2line, nm and the compiler's stack maps, without running it.
 */
static void test_arm64_pcframes_matches_addr2line_nm_and_the_compiler(void **state)
{
	(void)state;
	const char *go = go_for("system");
	char bin[4200];
	char *listing = build_pcframes(go, "arm64", "system", bin, sizeof(bin));
	struct image im;
	image_open(bin, &im);
	struct gm_pclntab *p = open_checked(bin, &im);
	const struct gm_pclntab_info *in = gm_pclntab_info(p);
	assert_int_equal(in->machine, EM_AARCH64);
	assert_int_equal(in->min_lc, 4);
	uint64_t keep;
	if (!symtab_value(bin, "main.keep", &keep))
		fail_msg("%s: no main.keep in .symtab", bin);
	check_keep_stack_maps(bin, p, listing, keep);
	check_nm(bin, go, p);
	check_addr2line(bin, go, p, tmpdir);
	gm_pclntab_destroy(p);
	image_close(&im);
	free(listing);
}

/* ---- a synthetic executable with a hand-made pclntab ---- */

/*
 * One PT_LOAD (R+X) at 0x400000 holds the whole file; no section headers,
 * so the table is found by its magic. Text starts at 0x401000; the table
 * at 0x2000. Two functions, "main.a" at text+0 and "main.b" at text+0x20,
 * end at text+0x40. main.a: pcsp 0 on [0,4), 8 on [4,0x1c), 0 after;
 * pcln 10 on [0,0x10), 12 on [0x10,0x20); pcfile 0 ("a.go"). main.b
 * has an inline tree: at [0x28,0x30) index 0, "main.inl" called from
 * parent pc 0x24 (line 21); its stack map of locals: n 2, nbit 3.
 */
#define SYN_BASE    0x400000ULL
#define SYN_TEXT    0x401000ULL
#define SYN_TAB	    0x2000u
#define SYN_GOFUNC  0x3000u
#define SYN_SIZE    0x3100u
#define SYN_FUNC_A  0x400u /* _func records, from the pclntable */
#define SYN_FUNC_B  0x480u
#define SYN_NAMES   72u
#define SYN_CUTAB   0x100u
#define SYN_FILETAB 0x110u
#define SYN_PCTAB   0x120u
#define SYN_PCLNTAB 0x200u

struct syn {
	uint8_t b[SYN_SIZE];
	uint32_t pc_pcsp, pc_pcln, pc_pcfile, pc_inl, pc_bln, pc_stk;
};

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b + 4, (uint32_t)(v >> 32));
}

/* A pc-value table from (value, pc end) pairs, at pctab offset *at. */
static uint32_t syn_table(struct syn *s, uint32_t *at, const int32_t *vals, const uint32_t *ends,
			  size_t n)
{
	uint32_t start = *at;
	uint8_t *t = s->b + SYN_TAB + SYN_PCTAB;
	int32_t prev = -1;
	uint32_t prevpc = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t d = vals[i] - prev;
		uint32_t zz = ((uint32_t)d << 1) ^ (uint32_t)(d >> 31);
		do {
			t[(*at)++] = (uint8_t)(zz & 0x7f) | (zz > 0x7f ? 0x80 : 0);
			zz >>= 7;
		} while (zz);
		uint32_t pcd = ends[i] - prevpc;
		do {
			t[(*at)++] = (uint8_t)(pcd & 0x7f) | (pcd > 0x7f ? 0x80 : 0);
			pcd >>= 7;
		} while (pcd);
		prev = vals[i];
		prevpc = ends[i];
	}
	t[(*at)++] = 0;
	return start;
}

static void syn_func(struct syn *s, uint32_t rec, uint32_t entryoff, uint32_t nameoff,
		     uint32_t pcsp, uint32_t pcln, uint32_t npcdata, uint8_t nfuncdata,
		     const uint32_t *tail)
{
	uint8_t *f = s->b + SYN_TAB + SYN_PCLNTAB + rec;
	put32(f, entryoff);
	put32(f + 4, nameoff);
	put32(f + 8, 16); /* args */
	put32(f + 16, pcsp);
	put32(f + 20, s->pc_pcfile);
	put32(f + 24, pcln);
	put32(f + 28, npcdata);
	put32(f + 32, 0); /* cuOffset */
	put32(f + 36, 9); /* startLine */
	f[43] = nfuncdata;
	for (uint32_t i = 0; i < npcdata + nfuncdata; i++)
		put32(f + 44 + 4 * i, tail[i]);
}

static void syn_build(struct syn *s)
{
	memset(s, 0, sizeof(*s));
	uint8_t *b = s->b;
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 1;
	memcpy(b, &eh, sizeof(eh));
	Elf64_Phdr ph = {PT_LOAD, PF_R | PF_X, 0, SYN_BASE, SYN_BASE, SYN_SIZE, 0x4000, 0x1000};
	memcpy(b + sizeof(eh), &ph, sizeof(ph));
	uint8_t *t = b + SYN_TAB;
	put32(t, GM_PCLNTAB_MAGIC_GO120);
	t[6] = 1;
	t[7] = 8;
	put64(t + 8, 2);	 /* nfunc */
	put64(t + 16, 1);	 /* nfiles */
	put64(t + 24, SYN_TEXT); /* textStart */
	put64(t + 32, SYN_NAMES);
	put64(t + 40, SYN_CUTAB);
	put64(t + 48, SYN_FILETAB);
	put64(t + 56, SYN_PCTAB);
	put64(t + 64, SYN_PCLNTAB);
	memcpy(t + SYN_NAMES, "\0main.a\0main.b\0main.inl", 24); /* 1, 8, 15 */
	put32(t + SYN_CUTAB, 0);
	memcpy(t + SYN_FILETAB, "a.go", 5);
	uint32_t at = 1; /* pctab offset 0 means "no table" */
	s->pc_pcsp =
	    syn_table(s, &at, (const int32_t[]){0, 8, 0}, (const uint32_t[]){4, 0x1c, 0x20}, 3);
	s->pc_pcln =
	    syn_table(s, &at, (const int32_t[]){10, 12}, (const uint32_t[]){0x10, 0x20}, 2);
	s->pc_pcfile = syn_table(s, &at, (const int32_t[]){0}, (const uint32_t[]){0x20}, 1);
	s->pc_inl =
	    syn_table(s, &at, (const int32_t[]){-1, 0, -1}, (const uint32_t[]){8, 0x10, 0x20}, 3);
	s->pc_bln = syn_table(s, &at, (const int32_t[]){20, 21, 30, 22},
			      (const uint32_t[]){4, 8, 0x10, 0x20}, 4);
	s->pc_stk = syn_table(s, &at, (const int32_t[]){0, 1}, (const uint32_t[]){8, 0x20}, 2);
	uint8_t *ft = t + SYN_PCLNTAB;
	put32(ft, 0);
	put32(ft + 4, SYN_FUNC_A);
	put32(ft + 8, 0x20);
	put32(ft + 12, SYN_FUNC_B);
	put32(ft + 16, 0x40);
	syn_func(s, SYN_FUNC_A, 0, 1, s->pc_pcsp, s->pc_pcln, 0, 0, NULL);
	/* main.b: pcdata 0..2 (InlTreeIndex 2), funcdata 0..3 (locals map 1, InlTree 3). */
	const uint32_t tail[] = {0, s->pc_stk, s->pc_inl, UINT32_MAX, 0x10, UINT32_MAX, 0x00};
	syn_func(s, SYN_FUNC_B, 0x20, 8, s->pc_pcsp, s->pc_bln, 3, 4, tail);
	/* gofunc at SYN_GOFUNC: the inline tree at +0, the locals stack map at +0x10. */
	uint8_t *g = b + SYN_GOFUNC;
	put32(g + 4, 15);   /* nameOff "main.inl" */
	put32(g + 8, 4);    /* parentPc: an instruction at line 21 */
	put32(g + 12, 40);  /* startLine */
	put32(g + 0x10, 2); /* n */
	put32(g + 0x14, 3); /* nbit */
	g[0x18] = 0x5;
	g[0x19] = 0x2;
}

static struct gm_pclntab *syn_open(struct syn *s)
{
	struct gm_pclntab *p = NULL;
	assert_gomem_ok(gm_pclntab_open(s->b, sizeof(s->b), &p));
	gm_pclntab_set_gofunc(p, SYN_BASE + SYN_GOFUNC);
	return p;
}

static void test_synthetic_table_decodes_exactly(void **state)
{
	(void)state;
	static struct syn s;
	syn_build(&s);
	struct gm_pclntab *p = syn_open(&s);
	const struct gm_pclntab_info *in = gm_pclntab_info(p);
	assert_false(in->from_section);
	assert_int_equal(in->addr, SYN_BASE + SYN_TAB);
	assert_int_equal(in->nfunc, 2);
	struct gm_func a, b;
	bool found;
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 0x1f, &a, &found));
	assert_true(found);
	assert_string_equal(a.name, "main.a");
	assert_int_equal(a.entry, SYN_TEXT);
	assert_int_equal(a.end, SYN_TEXT + 0x20);
	assert_int_equal(a.start_line, 9);
	static const struct {
		uint32_t off;
		int32_t sp, line;
	} want[] = {{0, 0, 10},	   {3, 0, 10},	  {4, 8, 10},	 {0xf, 8, 10},
		    {0x10, 8, 12}, {0x1b, 8, 12}, {0x1c, 0, 12}, {0x1f, 0, 12}};
	for (size_t i = 0; i < GM_ARRAY_SIZE(want); i++) {
		int32_t sp, line;
		const char *file;
		assert_gomem_ok(gm_pclntab_spdelta(p, &a, SYN_TEXT + want[i].off, &sp));
		assert_gomem_ok(gm_pclntab_file_line(p, &a, SYN_TEXT + want[i].off, &file, &line));
		assert_int_equal(sp, want[i].sp);
		assert_int_equal(line, want[i].line);
		assert_string_equal(file, "a.go");
	}
	int32_t v;
	assert_gomem_ok(gm_pclntab_pcvalue(p, &a, a.pcsp, SYN_TEXT + 0x20, &v));
	assert_int_equal(v, -1); /* past the table */
	assert_gomem_ok(gm_pclntab_func_by_entry(p, SYN_TEXT + 0x20, &b, &found));
	assert_true(found);
	assert_string_equal(b.name, "main.b");
	assert_gomem_ok(gm_pclntab_func_by_entry(p, SYN_TEXT + 0x21, &b, &found));
	assert_false(found);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 0x40, &b, &found));
	assert_false(found);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT - 1, &b, &found));
	assert_false(found);
	/* Inlined at [0x28, 0x30): main.inl at line 30, called from main.b at line 21. */
	struct gm_frame fr[4];
	size_t n;
	assert_gomem_ok(gm_pclntab_frames(p, SYN_TEXT + 0x2c, fr, 4, &n));
	assert_int_equal(n, 2);
	assert_string_equal(fr[0].function, "main.inl");
	assert_int_equal(fr[0].line, 30);
	assert_int_equal(fr[0].start_line, 40);
	assert_true(fr[0].inlined);
	assert_string_equal(fr[1].function, "main.b");
	assert_int_equal(fr[1].line, 21);
	assert_false(fr[1].inlined);
	assert_gomem_ok(gm_pclntab_frames(p, SYN_TEXT + 0x2c, fr, 1, &n));
	assert_int_equal(n, 2); /* one written, two there */
	assert_gomem_ok(gm_pclntab_frames(p, SYN_TEXT + 0x30, fr, 4, &n));
	assert_int_equal(n, 1);
	assert_int_equal(fr[0].line, 22);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 0x20, &b, &found));
	struct gm_stackmap sm;
	assert_gomem_ok(gm_pclntab_stackmap(p, &b, GM_FUNCDATA_LOCALS_POINTER_MAPS, &sm, &found));
	assert_true(found);
	assert_int_equal(sm.n, 2);
	assert_int_equal(sm.nbit, 3);
	assert_int_equal(gm_stackmap_bits(&sm, 1)[0], 0x2);
	assert_gomem_ok(gm_pclntab_stackmap(p, &b, GM_FUNCDATA_ARGS_POINTER_MAPS, &sm, &found));
	assert_false(found);
	assert_gomem_ok(gm_pclntab_pcdata(p, &b, GM_PCDATA_STACK_MAP_INDEX, SYN_TEXT + 0x28, &v));
	assert_int_equal(v, 1);
	assert_gomem_ok(gm_pclntab_pcdata(p, &b, GM_PCDATA_ARG_LIVE_INDEX, SYN_TEXT + 0x28, &v));
	assert_int_equal(v, -1);
	gm_pclntab_destroy(p);
}

/* Opens a damaged copy: an error with code and message, or the same API without crashing. */
static void syn_expect_error(struct syn *s, enum gomem_error_code code, const char *needle)
{
	struct gm_pclntab *p = NULL;
	assert_gomem_error(gm_pclntab_open(s->b, sizeof(s->b), &p), code, needle);
}

/* Runs every question on p: none may crash; errors must be one line. */
static size_t exercise(struct gm_pclntab *p)
{
	size_t errors = 0;
	struct gomem_error *err;
#define COUNT(x)                                                                                   \
	do {                                                                                       \
		err = (x);                                                                         \
		if (err) {                                                                         \
			assert_null(strchr(gomem_error_message(err), '\n'));                       \
			gomem_error_destroy(err);                                                  \
			errors++;                                                                  \
		}                                                                                  \
	} while (0)
	for (uint64_t pc = SYN_TEXT - 1; pc <= SYN_TEXT + 0x41; pc++) {
		struct gm_func f;
		bool found = false;
		struct gm_frame fr[8];
		size_t n;
		const char *file;
		int32_t v;
		struct gm_stackmap sm;
		COUNT(gm_pclntab_frames(p, pc, fr, 8, &n));
		COUNT(gm_pclntab_find_func(p, pc, &f, &found));
		if (!found)
			continue;
		COUNT(gm_pclntab_file_line(p, &f, pc, &file, &v));
		for (uint32_t i = 0; i < 5; i++)
			COUNT(gm_pclntab_pcdata(p, &f, i, pc, &v));
		COUNT(gm_pclntab_stackmap(p, &f, GM_FUNCDATA_LOCALS_POINTER_MAPS, &sm, &found));
	}
#undef COUNT
	return errors;
}

static void test_hostile_synthetic_tables_fail_clearly(void **state)
{
	(void)state;
	static struct syn s;
	uint8_t *t = s.b + SYN_TAB;
	/* nfunc huge, and one too many for the table. */
	syn_build(&s);
	put64(t + 8, UINT64_MAX / 2);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "function count");
	syn_build(&s);
	put64(t + 8, (SYN_SIZE - SYN_TAB - SYN_PCLNTAB) / 8);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "function count");
	/* Offsets out of range or out of order. */
	syn_build(&s);
	put64(t + 64, 1ULL << 40);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "tables past its end");
	syn_build(&s);
	put64(t + 40, 8);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "table offsets");
	/* A record past the table, entries out of order, a text start outside the text. */
	syn_build(&s);
	put32(t + SYN_PCLNTAB + 12, 0xfffffff0);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "functab");
	syn_build(&s);
	put32(t + SYN_PCLNTAB + 8, 0x50);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "not sorted");
	syn_build(&s);
	put64(t + 24, 0x10000000);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "text start");
	/* No magic at all, and an ELF of another machine. */
	syn_build(&s);
	put32(t, 0xfffffffb);
	syn_expect_error(&s, GOMEM_ERROR_NOT_GO, "no Go pclntab in the file");
	syn_build(&s);
	s.b[18] = 40; /* EM_ARM */
	syn_expect_error(&s, GOMEM_ERROR_UNSUPPORTED, "x86-64 nor AArch64");

	/* Overlong varint, a table with no end, a cyclic inline tree, bad names. */
	struct gm_pclntab *p;
	struct gm_func f;
	bool found;
	int32_t v;
	struct gm_frame fr[4];
	size_t n;
	syn_build(&s);
	memset(t + SYN_PCTAB + s.pc_pcsp, 0xff, 6);
	p = syn_open(&s);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 1, &f, &found));
	assert_gomem_error(gm_pclntab_spdelta(p, &f, SYN_TEXT + 1, &v), GOMEM_ERROR_FORMAT,
			   "varint");
	gm_pclntab_destroy(p);
	/* Value steps that never move the pc, up to the end of pctab: no end. */
	syn_build(&s);
	for (uint32_t i = 2; i < SYN_PCLNTAB - SYN_PCTAB; i++)
		t[SYN_PCTAB + i] = i % 2 ? 0x00 : 0x02;
	put32(t + SYN_PCLNTAB + SYN_FUNC_A + 16, 2); /* pcsp */
	p = syn_open(&s);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 1, &f, &found));
	assert_gomem_error(gm_pclntab_spdelta(p, &f, SYN_TEXT + 0x1f, &v), GOMEM_ERROR_FORMAT,
			   "no end");
	/* The same with the last varint cut by the end of pctab. */
	t[SYN_PCLNTAB - 1] = 0x80;
	assert_gomem_error(gm_pclntab_spdelta(p, &f, SYN_TEXT + 0x1f, &v), GOMEM_ERROR_FORMAT,
			   "varint");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put32(s.b + SYN_GOFUNC + 8, 0xc); /* parentPc back into [8, 0x10): index 0 again */
	p = syn_open(&s);
	assert_gomem_error(gm_pclntab_frames(p, SYN_TEXT + 0x2c, fr, 4, &n), GOMEM_ERROR_FORMAT,
			   "cycle");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put32(s.b + SYN_GOFUNC + 4, 5000); /* inlined name past funcnametab */
	p = syn_open(&s);
	assert_gomem_error(gm_pclntab_frames(p, SYN_TEXT + 0x2c, fr, 4, &n), GOMEM_ERROR_FORMAT,
			   "function name");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put32(t + SYN_PCLNTAB + SYN_FUNC_A + 4, 0x7fffffff);
	p = syn_open(&s);
	assert_gomem_error(gm_pclntab_find_func(p, SYN_TEXT, &f, &found), GOMEM_ERROR_FORMAT,
			   "function name");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put32(t + SYN_PCLNTAB + SYN_FUNC_B + 28, 0x40000000); /* npcdata past the table */
	p = syn_open(&s);
	assert_gomem_error(gm_pclntab_find_func(p, SYN_TEXT + 0x20, &f, &found), GOMEM_ERROR_FORMAT,
			   "pcdata past");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put32(s.b + SYN_GOFUNC + 0x10, 0x10000000); /* stack map n past the file */
	p = syn_open(&s);
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 0x20, &f, &found));
	struct gm_stackmap sm;
	assert_gomem_error(gm_pclntab_stackmap(p, &f, 1, &sm, &found), GOMEM_ERROR_FORMAT,
			   "stack map");
	gm_pclntab_destroy(p);
	/* Unknown gofunc and text start are the caller's mistakes, said so. */
	syn_build(&s);
	assert_gomem_ok(gm_pclntab_open(s.b, sizeof(s.b), &p));
	assert_gomem_ok(gm_pclntab_find_func(p, SYN_TEXT + 0x20, &f, &found));
	assert_gomem_error(gm_pclntab_frames(p, SYN_TEXT + 0x2c, fr, 4, &n), GOMEM_ERROR_USAGE,
			   "gofunc");
	gm_pclntab_destroy(p);
	syn_build(&s);
	put64(t + 24, 0);
	p = syn_open(&s);
	assert_false(gm_pclntab_has_text(p));
	assert_gomem_error(gm_pclntab_find_func(p, SYN_TEXT, &f, &found), GOMEM_ERROR_USAGE,
			   "text start");
	assert_gomem_error(gm_pclntab_set_text(p, 0x10000000), GOMEM_ERROR_INCONSISTENT,
			   "executable segment");
	assert_gomem_ok(gm_pclntab_set_text(p, SYN_TEXT));
	assert_int_equal(exercise(p), 0);
	gm_pclntab_destroy(p);
}

/* Every truncation and every single-byte change of the table: no crash, one-line errors. */
static void test_truncated_and_flipped_tables_never_crash(void **state)
{
	(void)state;
	static struct syn s;
	for (size_t len = 0; len <= SYN_SIZE; len += 7) {
		syn_build(&s);
		struct gm_pclntab *p = NULL;
		struct gomem_error *err = gm_pclntab_open(s.b, len, &p);
		if (err) {
			assert_null(strchr(gomem_error_message(err), '\n'));
			gomem_error_destroy(err);
			continue;
		}
		gm_pclntab_set_gofunc(p, SYN_BASE + SYN_GOFUNC);
		exercise(p);
		gm_pclntab_destroy(p);
	}
	static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
	for (size_t off = SYN_TAB; off < SYN_SIZE; off++) {
		if (off >= SYN_TAB + 0x700 && off < SYN_GOFUNC)
			continue; /* zeros nothing reads */
		for (size_t k = 0; k < GM_ARRAY_SIZE(values); k++) {
			syn_build(&s);
			s.b[off] = values[k];
			struct gm_pclntab *p = NULL;
			struct gomem_error *err = gm_pclntab_open(s.b, sizeof(s.b), &p);
			if (err) {
				assert_null(strchr(gomem_error_message(err), '\n'));
				gomem_error_destroy(err);
				continue;
			}
			gm_pclntab_set_gofunc(p, SYN_BASE + SYN_GOFUNC);
			exercise(p);
			uint64_t md;
			err = gm_pclntab_find_moduledata(p, &md);
			gomem_error_destroy(err);
			gm_pclntab_destroy(p);
		}
	}
}

static void test_names_print_as_the_runtime_prints_them(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"main.main", "main.main"},
	    {"main.generic[go.shape.int]", "main.generic[...]"},
	    {"main.generic[...]", "main.generic[...]"},
	    {"main.(*List[go.shape.string]).Push", "main.(*List[...]).Push"},
	    {"main.F[map[string]int]", "main.F[...]"},
	    {"main.F[[]int].func1", "main.F[...].func1"},
	    {"p.(*T[go.shape.int]).M[go.shape.string]", "p.(*T[...]).M[...]"},
	    {"main.odd[", "main.odd["},
	    {"main.odd]x[", "main.odd]x["},
	};
	for (size_t i = 0; i < GM_ARRAY_SIZE(cases); i++) {
		char buf[128];
		size_t n = gm_go_func_name_for_print(cases[i][0], buf, sizeof(buf));
		assert_string_equal(buf, cases[i][1]);
		assert_int_equal(n, strlen(cases[i][1]));
	}
	char small[6];
	assert_int_equal(gm_go_func_name_for_print("main.generic[x]", small, sizeof(small)), 17);
	assert_string_equal(small, "main.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_synthetic_table_decodes_exactly),
	    cmocka_unit_test(test_hostile_synthetic_tables_fail_clearly),
	    cmocka_unit_test(test_truncated_and_flipped_tables_never_crash),
	    cmocka_unit_test(test_names_print_as_the_runtime_prints_them),
	    cmocka_unit_test(test_every_fixture_matches_addr2line_and_nm_of_its_go),
	    cmocka_unit_test(test_without_section_headers_the_same_table_is_found),
	    cmocka_unit_test(test_funcdata_and_pcdata_indexes_equal_the_dwarf_constants),
	    cmocka_unit_test(
		test_pcframes_frames_and_stack_maps_equal_the_runtime_and_the_compiler),
	    cmocka_unit_test(test_arm64_pcframes_matches_addr2line_nm_and_the_compiler),
	    cmocka_unit_test(test_external_linking_and_stripped_builds_match_the_runtime),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
