/*
 * Fuzz target: a real fixture executable with patches, against its core.
 *
 * GOMEM_FUZZ_EXE and GOMEM_FUZZ_CORE name a fixture. Each input is a list of
 * patch records (fuzz.h) over the executable's ELF header, program headers,
 * section headers, section names, .go.buildinfo, the Go build ID note, the
 * first bytes of each DWARF section (the compression header libdw reads)
 * and the symbol table. A patch inside the executable's first page is made
 * to the core's copy of that page too, so that the check that the core is
 * from this executable lets the patched headers through to the ELF, DWARF
 * and runtime readers. Then gomem_target_open_core() and the summary (and
 * the stacks, which read the symbol table).
 */
#include "fuzz.h"
#include "runtime/runtime.h"

#include <elf.h>

enum kind {
	K_EHDR,
	K_PHDRS,
	K_SHDRS,
	K_SHSTRTAB,
	K_BUILDINFO,
	K_BUILDID,
	K_DEBUG, /* the first 64 bytes of each .debug_* / .zdebug_* section */
	K_SYMTAB,
	K_COUNT
};

static struct fz_file exe_file, core_file;
static struct fz_regions lists[K_COUNT];
static uint64_t core_first_page = UINT64_MAX; /* the core's copy of the exe's page 0 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_sections(const uint8_t *map, uint64_t size)
{
	Elf64_Ehdr eh;
	memcpy(&eh, map, sizeof(eh));
	fz_regions_add(&lists[K_EHDR], 0, sizeof(eh));
	fz_regions_add(&lists[K_PHDRS], eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr));
	fz_regions_add(&lists[K_SHDRS], eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr));
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh.e_shoff);
	const char *names = (const char *)map + sh[eh.e_shstrndx].sh_offset;
	fz_regions_add(&lists[K_SHSTRTAB], sh[eh.e_shstrndx].sh_offset, sh[eh.e_shstrndx].sh_size);
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		const char *n = names + sh[i].sh_name;
		uint64_t off = sh[i].sh_offset, len = sh[i].sh_size;
		if (sh[i].sh_type == SHT_NOBITS || off > size || len > size - off)
			continue;
		if (strcmp(n, ".go.buildinfo") == 0)
			fz_regions_add(&lists[K_BUILDINFO], off, len < 512 ? len : 512);
		else if (strcmp(n, ".note.go.buildid") == 0)
			fz_regions_add(&lists[K_BUILDID], off, len);
		else if (strncmp(n, ".debug_", 7) == 0 || strncmp(n, ".zdebug_", 8) == 0)
			fz_regions_add(&lists[K_DEBUG], off, len < 64 ? len : 64);
		else if (strcmp(n, ".symtab") == 0 || strcmp(n, ".strtab") == 0)
			fz_regions_add(&lists[K_SYMTAB], off, len);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_file_copy(&exe_file, fz_env("GOMEM_FUZZ_EXE"));
	fz_file_copy(&core_file, fz_env("GOMEM_FUZZ_CORE"));
	struct gomem_target *t = NULL;
	struct gomem_error *err = gomem_target_open_core(exe_file.path, core_file.path, &t);
	if (err)
		fz_die("the unpatched fixture does not open", gomem_error_message(err));
	add_sections(t->target.exe.map, t->target.exe.size);
	for (size_t i = 0; i < t->target.exe.nloads; i++) {
		if (t->target.exe.loads[i].offset != 0)
			continue;
		uint64_t addr = t->target.exe.loads[i].vaddr + t->runtime->bias;
		const struct gm_segment *s = gm_memory_find(&t->target.mem, addr);
		if (s && addr - s->start + FZ_PAGE <= s->data_len)
			core_first_page = s->file_offset + (addr - s->start);
	}
	gomem_target_destroy(t);
	return 0;
}

struct patches {
	struct fz_overlay exe, core;
	bool symtab;
};

/* The executable's first page is also in the core: patch both alike. */
static void patch_exe(void *arg, unsigned kind, uint64_t at, const uint8_t *bytes, size_t len)
{
	struct patches *ps = arg;
	fz_patch(&ps->exe, at, bytes, len);
	if (at < FZ_PAGE && core_first_page != UINT64_MAX)
		fz_patch(&ps->core, core_first_page + at, bytes,
			 len < FZ_PAGE - at ? len : (size_t)(FZ_PAGE - at));
	ps->symtab |= kind == K_SYMTAB;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct patches ps = {.exe = {.file = &exe_file}, .core = {.file = &core_file}};
	fz_each_record(lists, K_COUNT, data, size, patch_exe, &ps);
	bool symtab = ps.symtab;
	struct gomem_target *t = NULL;
	struct gomem_error *err = gomem_target_open_core(exe_file.path, core_file.path, &t);
	if (!err) {
		fz_run_verb(t, 0, 0);
		if (symtab)
			fz_run_verb(t, 6, 0);
		gomem_target_destroy(t);
	}
	fz_check_error(err);
	fz_restore(&ps.core);
	fz_restore(&ps.exe);
	return 0;
}
