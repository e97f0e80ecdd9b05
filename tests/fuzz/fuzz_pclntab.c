/*
 * Fuzz target: the pclntab decoder (target/pclntab.c).
 *
 * The first byte of an input picks how the rest is used:
 *   even: the rest is a pclntab, the data of the only PT_LOAD (R+X) of a
 *         minimal ELF file without section headers, so that it is found
 *         by its magic; gofunc is the table's own start, so funcdata
 *         offsets land in the input too;
 *   odd:  patch records (fuzz.h) over GOMEM_FUZZ_EXE's pclntab: the
 *         header, the functab, the _func records, pctab, funcnametab,
 *         cutab and filetab, the inline trees and stack maps, and
 *         firstmoduledata; the patches are undone after each input.
 * Then every question of the API, on every function (the wrapped table)
 * or a sample of them (the fixture). Errors must be one line; nothing may
 * crash, leak or run without bound.
 */
#include "fuzz.h"
#include "target/pclntab.h"

#include <elf.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WRAP_BASE  0x400000ULL
#define WRAP_TABLE 0x1000u /* file offset of the input's table */
#define WRAP_MAX   (1u << 16)
#define SAMPLE	   48 /* functions of the fixture asked about per input */
#define MAX_FRAMES 16

enum kind {
	K_HEADER,
	K_FUNCTAB,
	K_FUNCS,
	K_PCTAB,
	K_NAMES,
	K_FILES, /* cutab and filetab */
	K_FUNCDATA,
	K_MODULEDATA,
	K_COUNT
};

static uint8_t *exe; /* the fixture, patched in place */
static uint64_t exe_size;
static uint64_t gofunc, text;
static struct fz_regions lists[K_COUNT];
static uint8_t wrap[WRAP_TABLE + WRAP_MAX];

static uint64_t rd64(const uint8_t *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* The file offset of link-time address addr of the fixture, or UINT64_MAX. */
static uint64_t file_offset(uint64_t addr)
{
	Elf64_Ehdr eh;
	memcpy(&eh, exe, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, exe + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz)
			return ph.p_offset + (addr - ph.p_vaddr);
	}
	return UINT64_MAX;
}

static void add_funcdata(struct gm_pclntab *p, const struct gm_func *f, uint32_t which)
{
	uint64_t addr = 0;
	struct gomem_error *err = gm_pclntab_funcdata(p, f, which, &addr);
	uint64_t off = addr ? file_offset(addr) : UINT64_MAX;
	if (!err && off != UINT64_MAX && off < exe_size)
		fz_regions_add(&lists[K_FUNCDATA], off, exe_size - off < 64 ? exe_size - off : 64);
	gomem_error_destroy(err);
}

/* The regions of the fixture's pclntab that the records may patch. */
static void find_regions(struct gm_pclntab *p, uint64_t md)
{
	const struct gm_pclntab_info *in = gm_pclntab_info(p);
	const uint8_t *h = exe + in->file_offset;
	uint64_t names = rd64(h + 32), cu = rd64(h + 40);
	uint64_t pctab = rd64(h + 56), pcln = rd64(h + 64);
	fz_regions_add(&lists[K_HEADER], in->file_offset, 72);
	fz_regions_add(&lists[K_FUNCTAB], in->file_offset + pcln, (in->nfunc + 1) * 8);
	fz_regions_add(&lists[K_PCTAB], in->file_offset + pctab, pcln - pctab);
	fz_regions_add(&lists[K_NAMES], in->file_offset + names, cu - names);
	fz_regions_add(&lists[K_FILES], in->file_offset + cu, pctab - cu);
	uint64_t md_off = file_offset(md);
	if (md_off != UINT64_MAX && md_off + 192 <= exe_size)
		fz_regions_add(&lists[K_MODULEDATA], md_off, 192);
	for (uint64_t i = 0; i < in->nfunc; i += in->nfunc / SAMPLE + 1) {
		struct gm_func f;
		struct gomem_error *err = gm_pclntab_func(p, i, &f);
		if (err)
			fz_die("the unpatched fixture's function", gomem_error_message(err));
		fz_regions_add(&lists[K_FUNCS], f.record,
			       44 + 4 * ((uint64_t)f.npcdata + f.nfuncdata));
		add_funcdata(p, &f, GM_FUNCDATA_INL_TREE);
		add_funcdata(p, &f, GM_FUNCDATA_LOCALS_POINTER_MAPS);
		add_funcdata(p, &f, GM_FUNCDATA_ARGS_POINTER_MAPS);
	}
}

/* A .symtab symbol's value of the (unpatched) fixture, or 0. */
static uint64_t symbol(const char *name)
{
	Elf64_Ehdr eh;
	memcpy(&eh, exe, sizeof(eh));
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh, str;
		memcpy(&sh, exe + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		memcpy(&str, exe + eh.e_shoff + sh.sh_link * sizeof(sh), sizeof(sh));
		for (uint64_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym sym;
			memcpy(&sym, exe + sh.sh_offset + k * sizeof(sym), sizeof(sym));
			if (strcmp((const char *)exe + str.sh_offset + sym.st_name, name) == 0)
				return sym.st_value;
		}
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	int fd;
	const uint8_t *map;
	struct gomem_error *err =
	    gm_map_file(fz_env("GOMEM_FUZZ_EXE"), "executable", &fd, &map, &exe_size);
	if (err)
		fz_die("GOMEM_FUZZ_EXE", gomem_error_message(err));
	exe = malloc(exe_size);
	if (!exe)
		fz_die("out of memory", NULL);
	memcpy(exe, map, exe_size);
	munmap((void *)map, exe_size);
	close(fd);
	gofunc = symbol("go:func.*");
	if (!gofunc)
		gofunc = symbol("go.func.*"); /* before 1.20 */
	if (!gofunc)
		fz_die("GOMEM_FUZZ_EXE has no go:func.* symbol", NULL);
	struct gm_pclntab *p;
	uint64_t md = 0;
	err = gm_pclntab_open(exe, exe_size, &p);
	if (!err)
		err = gm_pclntab_find_moduledata(p, &md);
	if (!err)
		err = gm_pclntab_moduledata_text(p, md, &text);
	if (!err && !gm_pclntab_has_text(p))
		err = gm_pclntab_set_text(p, text);
	if (err)
		fz_die("the unpatched fixture's pclntab", gomem_error_message(err));
	gm_pclntab_set_gofunc(p, gofunc);
	find_regions(p, md);
	gm_pclntab_destroy(p);
	return 0;
}

/* Every question about function f at a few of its pcs. */
static void ask_function(struct gm_pclntab *p, const struct gm_func *f)
{
	uint64_t len = f->end - f->entry;
	uint64_t pcs[4] = {f->entry, f->entry + len / 3, f->entry + len / 2, f->end - 1};
	for (int k = 0; k < 4 && len; k++) {
		struct gm_frame frames[MAX_FRAMES];
		size_t n;
		const char *file;
		int32_t v;
		fz_check_error(gm_pclntab_frames(p, pcs[k], frames, MAX_FRAMES, &n));
		fz_check_error(gm_pclntab_file_line(p, f, pcs[k], &file, &v));
		fz_check_error(gm_pclntab_spdelta(p, f, pcs[k], &v));
		for (uint32_t i = 0; i < 5; i++)
			fz_check_error(gm_pclntab_pcdata(p, f, i, pcs[k], &v));
	}
	for (uint32_t which = 0; which < 2; which++) {
		struct gm_stackmap sm;
		bool found = false;
		struct gomem_error *err = gm_pclntab_stackmap(p, f, which, &sm, &found);
		if (!err && found && sm.n > 0) {
			/* The last bit vector must be readable. */
			const uint8_t *bits = gm_stackmap_bits(&sm, sm.n - 1);
			volatile uint8_t sink = sm.nbit ? bits[(sm.nbit - 1) / 8] : 0;
			(void)sink;
		}
		fz_check_error(err);
	}
	struct gm_func g;
	bool found;
	fz_check_error(gm_pclntab_func_by_entry(p, f->entry, &g, &found));
	char name[64];
	gm_go_func_name_for_print(f->name, name, sizeof(name));
}

/* Opens image and asks about every function, or SAMPLE of them when sample. */
static void ask_all(const uint8_t *image, uint64_t size, uint64_t fallback_text,
		    uint64_t gofunc_addr, bool sample)
{
	struct gm_pclntab *p = NULL;
	struct gomem_error *err = gm_pclntab_open(image, size, &p);
	if (err) {
		fz_check_error(err);
		return;
	}
	uint64_t md, t;
	err = gm_pclntab_find_moduledata(p, &md);
	if (!err) {
		err = gm_pclntab_moduledata_text(p, md, &t);
		fz_check_error(err);
	} else {
		fz_check_error(err);
	}
	if (!gm_pclntab_has_text(p))
		fz_check_error(gm_pclntab_set_text(p, fallback_text));
	if (gofunc_addr)
		gm_pclntab_set_gofunc(p, gofunc_addr);
	uint64_t n = gm_pclntab_nfunc(p), step = sample ? n / SAMPLE + 1 : 1;
	for (uint64_t i = 0; gm_pclntab_has_text(p) && i < n; i += step) {
		struct gm_func f;
		err = gm_pclntab_func(p, i, &f);
		if (err) {
			fz_check_error(err);
			continue;
		}
		ask_function(p, &f);
	}
	gm_pclntab_destroy(p);
}

/* The input as the only PT_LOAD of a minimal ELF file. */
static void run_wrapped(const uint8_t *data, size_t size)
{
	if (size > WRAP_MAX)
		size = WRAP_MAX;
	memset(wrap, 0, WRAP_TABLE);
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 1;
	memcpy(wrap, &eh, sizeof(eh));
	uint64_t filesz = WRAP_TABLE + size;
	Elf64_Phdr ph = {PT_LOAD, PF_R | PF_X,	    0,	   WRAP_BASE, WRAP_BASE,
			 filesz,  filesz + 0x10000, 0x1000};
	memcpy(wrap + sizeof(eh), &ph, sizeof(ph));
	memcpy(wrap + WRAP_TABLE, data, size);
	ask_all(wrap, filesz, WRAP_BASE, WRAP_BASE + WRAP_TABLE, false);
}

struct patches {
	struct {
		uint64_t off;
		size_t len;
		uint8_t old[FZ_MAX_PATCH_LEN];
	} undo[FZ_MAX_PATCHES];
	size_t n;
};

static void patch(void *arg, unsigned kind, uint64_t at, const uint8_t *bytes, size_t len)
{
	struct patches *ps = arg;
	(void)kind;
	if (ps->n == FZ_MAX_PATCHES || at >= exe_size)
		return;
	if (len > exe_size - at)
		len = (size_t)(exe_size - at);
	if (len > FZ_MAX_PATCH_LEN)
		len = FZ_MAX_PATCH_LEN;
	ps->undo[ps->n].off = at;
	ps->undo[ps->n].len = len;
	memcpy(ps->undo[ps->n].old, exe + at, len);
	memcpy(exe + at, bytes, len);
	ps->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		run_wrapped(data + 1, size - 1);
		return 0;
	}
	static struct patches ps;
	ps.n = 0;
	fz_each_record(lists, K_COUNT, data + 1, size - 1, patch, &ps);
	ask_all(exe, exe_size, text, gofunc, true);
	while (ps.n) {
		ps.n--;
		memcpy(exe + ps.undo[ps.n].off, ps.undo[ps.n].old, ps.undo[ps.n].len);
	}
	return 0;
}
