/*
 * A debug file: the DWARF and symbols of an executable that has none, from
 * a second file. The executable stays the file that ran; the debug file is
 * checked against it, never trusted by its name: every allocated section
 * with the same name, address and size, and .text byte for byte (every
 * reference from code to a global is in .text). An --only-keep-debug file
 * keeps no code: its build IDs must then be the executable's, which holds
 * for the file before strip or objcopy and for nothing else (STRIPPED.md).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "target/target.h"

/* The section headers of a mapped ELF64 file and its section names; false when corrupt. */
struct shdrs {
	const Elf64_Shdr *sh;
	unsigned n;
	const char *names;
	uint64_t names_size;
};

static bool read_shdrs(const uint8_t *map, uint64_t size, struct shdrs *ret)
{
	Elf64_Ehdr eh;
	if (size < sizeof(eh))
		return false;
	memcpy(&eh, map, sizeof(eh));
	if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
	    eh.e_shnum > (size - eh.e_shoff) / sizeof(Elf64_Shdr) || eh.e_shoff % 8 ||
	    eh.e_shstrndx >= eh.e_shnum)
		return false;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh.e_shoff);
	const Elf64_Shdr *str = &sh[eh.e_shstrndx];
	if (str->sh_type == SHT_NOBITS || str->sh_offset > size ||
	    str->sh_size > size - str->sh_offset || str->sh_size == 0 ||
	    map[str->sh_offset + str->sh_size - 1] != '\0')
		return false;
	*ret = (struct shdrs){sh, eh.e_shnum, (const char *)map + str->sh_offset, str->sh_size};
	return true;
}

static const char *shdr_name(const struct shdrs *s, const Elf64_Shdr *sh)
{
	return sh->sh_name < s->names_size ? s->names + sh->sh_name : "?";
}

static const Elf64_Shdr *shdr_find(const struct shdrs *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (s->sh[i].sh_name < s->names_size &&
		    strcmp(s->names + s->sh[i].sh_name, name) == 0)
			return &s->sh[i];
	}
	return NULL;
}

/* The bytes of a section, when the file has them (not SHT_NOBITS, within the file). */
static const uint8_t *shdr_bytes(const uint8_t *map, uint64_t size, const Elf64_Shdr *sh)
{
	if (sh->sh_type == SHT_NOBITS || sh->sh_offset > size || sh->sh_size > size - sh->sh_offset)
		return NULL;
	return map + sh->sh_offset;
}

/* What a debug file must be. Before Go 1.22, -s -w moves sections even with -trimpath. */
static const char *rebuild_hint(const struct gm_exe *exe)
{
	unsigned major, minor;
	bool old =
	    sscanf(exe->go_version, "go%u.%u", &major, &minor) == 2 && major == 1 && minor < 22;
	return old ? "a debug file must be the same executable before strip, or its objcopy "
		     "--only-keep-debug: with Go 1.21 and older, -s -w moves sections, so no "
		     "rebuild matches"
		   : "a debug file must be the same executable before strip, its objcopy "
		     "--only-keep-debug, or a rebuild with -trimpath and the same Go, flags and "
		     "sources (VCS stamps and -ldflags go into .go.buildinfo)";
}

static struct gomem_error *differ(const struct gm_exe *exe, const char *path, const char *fmt,
				  const char *section, uint64_t a1, uint64_t s1, uint64_t a2,
				  uint64_t s2)
{
	char what[256];
	snprintf(what, sizeof(what), fmt, section, (unsigned long long)a1, (unsigned long long)s1,
		 (unsigned long long)a2, (unsigned long long)s2);
	return gm_error(GOMEM_ERROR_MISMATCH, "debug file %s does not match executable %s: %s; %s",
			path, exe->path, what, rebuild_hint(exe));
}

/* Every allocated section of a in b, at the same address with the same size. */
static struct gomem_error *same_sections(const struct gm_exe *exe, const char *path,
					 const struct shdrs *a, const struct shdrs *b,
					 bool a_is_exe)
{
	for (unsigned i = 0; i < a->n; i++) {
		const Elf64_Shdr *sa = &a->sh[i];
		if (!(sa->sh_flags & SHF_ALLOC))
			continue;
		const char *name = shdr_name(a, sa);
		const Elf64_Shdr *sb = shdr_find(b, name);
		if (!sb || !(sb->sh_flags & SHF_ALLOC))
			return gm_error(GOMEM_ERROR_MISMATCH,
					"debug file %s does not match executable %s: section %s "
					"is only in the %s; %s",
					path, exe->path, name,
					a_is_exe ? "executable" : "debug file", rebuild_hint(exe));
		if (sa->sh_addr != sb->sh_addr || sa->sh_size != sb->sh_size) {
			const Elf64_Shdr *se = a_is_exe ? sa : sb, *sd = a_is_exe ? sb : sa;
			return differ(exe, path,
				      "section %s is at 0x%llx (0x%llx bytes) in the executable, "
				      "at 0x%llx (0x%llx bytes) in the debug file",
				      name, se->sh_addr, se->sh_size, sd->sh_addr, sd->sh_size);
		}
	}
	return NULL;
}

/* The build IDs of the file's notes: Go's, and GNU's where the linker wrote one. */
static void file_build_ids(const uint8_t *map, uint64_t size, const struct shdrs *s, char *go,
			   size_t go_size, char *gnu, size_t gnu_size)
{
	go[0] = gnu[0] = '\0';
	for (unsigned i = 0; i < s->n; i++) {
		const Elf64_Shdr *sh = &s->sh[i];
		const uint8_t *bytes = sh->sh_type == SHT_NOTE ? shdr_bytes(map, size, sh) : NULL;
		char g[128], u[80];
		if (!bytes || sh->sh_size > 4096)
			continue;
		gm_find_build_ids(bytes, (size_t)sh->sh_size, g, sizeof(g), u, sizeof(u));
		if (g[0] && !go[0])
			snprintf(go, go_size, "%s", g);
		if (u[0] && !gnu[0])
			snprintf(gnu, gnu_size, "%s", u);
	}
}

/* Without code in the debug file: the build IDs that a copy keeps, and a rebuild cannot. */
static struct gomem_error *same_build_ids(const struct gm_exe *exe, const char *path,
					  const uint8_t *map, uint64_t size,
					  const struct shdrs *exe_sh, const struct shdrs *dbg_sh)
{
	char ego[128], egnu[80], dgo[128], dgnu[80];
	file_build_ids(exe->map, exe->size, exe_sh, ego, sizeof(ego), egnu, sizeof(egnu));
	file_build_ids(map, size, dbg_sh, dgo, sizeof(dgo), dgnu, sizeof(dgnu));
	if (!ego[0] || !dgo[0])
		return gm_error(GOMEM_ERROR_MISMATCH,
				"debug file %s keeps no code (.text) and %s has no Go build ID: "
				"cannot check that it describes executable %s; pass the "
				"unstripped executable itself as the debug file",
				path, !dgo[0] ? "it" : "the executable", exe->path);
	if (strcmp(ego, dgo) != 0 || (egnu[0] && dgnu[0] && strcmp(egnu, dgnu) != 0))
		return gm_error(GOMEM_ERROR_MISMATCH,
				"debug file %s does not match executable %s: it keeps no code "
				"(.text), and its Go build ID %s is not the executable's %s; "
				"a debug file without code must come from the same build",
				path, exe->path, dgo, ego);
	return NULL;
}

static struct gomem_error *check_debug_file(const struct gm_exe *exe, const char *path,
					    const uint8_t *map, uint64_t size)
{
	Elf64_Ehdr eh;
	memcpy(&eh, map, sizeof(eh));
	const char *why = gm_elf_check_ident(&eh);
	if (why)
		return gm_error(GOMEM_ERROR_FORMAT, "debug file %s: %s", path, why);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return gm_error(GOMEM_ERROR_USAGE,
				"debug file %s is not an executable (ELF type %u): pass the "
				"unstripped executable or its --only-keep-debug file",
				path, eh.e_type);
	struct shdrs es, ds;
	if (!read_shdrs(exe->map, exe->size, &es))
		return gm_error(GOMEM_ERROR_MISMATCH,
				"executable %s has no section headers: a debug file cannot be "
				"checked against it",
				exe->path);
	if (!read_shdrs(map, size, &ds))
		return gm_error(GOMEM_ERROR_FORMAT, "debug file %s: no section headers, or corrupt",
				path);
	TRY(same_sections(exe, path, &es, &ds, true));
	TRY(same_sections(exe, path, &ds, &es, false));
	const Elf64_Shdr *et = shdr_find(&es, ".text"), *dt = shdr_find(&ds, ".text");
	const uint8_t *ebytes = et ? shdr_bytes(exe->map, exe->size, et) : NULL;
	const uint8_t *dbytes = dt ? shdr_bytes(map, size, dt) : NULL;
	if (!ebytes)
		return gm_error(GOMEM_ERROR_FORMAT, "executable %s has no .text in the file",
				exe->path);
	if (!dbytes)
		return same_build_ids(exe, path, map, size, &es, &ds);
	if (memcmp(ebytes, dbytes, (size_t)et->sh_size) != 0) {
		uint64_t at = 0;
		while (at < et->sh_size && ebytes[at] == dbytes[at])
			at++;
		return gm_error(GOMEM_ERROR_MISMATCH,
				"debug file %s does not match executable %s: their .text differs "
				"from 0x%llx on; %s",
				path, exe->path, (unsigned long long)(et->sh_addr + at),
				rebuild_hint(exe));
	}
	return NULL;
}

struct gomem_error *gm_debug_file_open(const struct gm_exe *exe, const char *path,
				       struct gm_debug_file *ret)
{
	struct gm_debug_file df = {.fd = -1};
	df.path = strdup(path);
	if (!df.path)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_map_file(path, "debug file", &df.fd, &df.map, &df.size);
	if (!err && df.size < sizeof(Elf64_Ehdr))
		err = gm_error(GOMEM_ERROR_FORMAT, "debug file %s: not an ELF file", path);
	if (!err)
		err = check_debug_file(exe, path, df.map, df.size);
	if (err) {
		gm_debug_file_deinit(&df);
		return err;
	}
	*ret = df;
	return NULL;
}

void gm_debug_file_deinit(struct gm_debug_file *df)
{
	if (df->map)
		munmap((void *)df->map, df->size);
	if (df->fd >= 0)
		close(df->fd);
	free(df->path);
	memset(df, 0, sizeof(*df));
	df->fd = -1;
}
