/* The executable: its PT_LOADs, the Go version and build ID. */
#define _GNU_SOURCE
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "target/target.h"

static const Elf64_Shdr *find_section(const struct gm_exe *exe, const char *name)
{
	Elf64_Ehdr eh;
	memcpy(&eh, exe->map, sizeof(eh));
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > exe->size ||
	    eh.e_shnum > (exe->size - eh.e_shoff) / sizeof(Elf64_Shdr) || eh.e_shoff % 8 ||
	    eh.e_shstrndx >= eh.e_shnum)
		return NULL;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(exe->map + eh.e_shoff);
	const Elf64_Shdr *strtab = &sh[eh.e_shstrndx];
	if (strtab->sh_offset > exe->size || strtab->sh_size > exe->size - strtab->sh_offset)
		return NULL;
	const char *names = (const char *)exe->map + strtab->sh_offset;
	size_t want = strlen(name) + 1;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name >= strtab->sh_size || strtab->sh_size - sh[i].sh_name < want)
			continue;
		if (memcmp(names + sh[i].sh_name, name, want) != 0)
			continue;
		if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_offset > exe->size ||
		    sh[i].sh_size > exe->size - sh[i].sh_offset)
			return NULL;
		return &sh[i];
	}
	return NULL;
}

static bool read_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* Splits "go1.25.0 X:greenteagc" and "go1.26.1-X:nogreenteagc" (main.go@1.26). */
static void split_version(struct gm_exe *exe)
{
	const char *v = exe->build_version;
	const char *x = strstr(v, " X:");
	size_t skip = 3;
	if (!x) {
		x = strstr(v, "-X:");
	}
	size_t n = x ? (size_t)(x - v) : strlen(v);
	if (n >= sizeof(exe->go_version))
		n = sizeof(exe->go_version) - 1;
	memcpy(exe->go_version, v, n);
	exe->go_version[n] = '\0';
	if (x)
		snprintf(exe->experiments, sizeof(exe->experiments), "%s", x + skip);
}

static struct gomem_error *read_buildinfo(struct gm_exe *exe)
{
	static const char magic[] = "\xff Go buildinf:";
	const Elf64_Shdr *sh = find_section(exe, ".go.buildinfo");
	if (!sh || sh->sh_size < 32 || memcmp(exe->map + sh->sh_offset, magic, 14) != 0)
		return gm_error(GOMEM_ERROR_NOT_GO,
				"%s: not a Go program (no .go.buildinfo section)", exe->path);
	const uint8_t *p = exe->map + sh->sh_offset, *end = p + sh->sh_size;
	uint8_t flags = p[15];
	if (!(flags & 2))
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s: built by a Go older than 1.18; gomem reads Go 1.19 and newer",
				exe->path);
	p += 32;
	uint64_t len;
	if (!read_uvarint(&p, end, &len) || len > (uint64_t)(end - p) ||
	    len >= sizeof(exe->build_version))
		return gm_error(GOMEM_ERROR_FORMAT, "%s: corrupt .go.buildinfo", exe->path);
	memcpy(exe->build_version, p, len);
	exe->build_version[len] = '\0';
	split_version(exe);
	return NULL;
}

static void read_build_id(struct gm_exe *exe)
{
	const Elf64_Shdr *sh = find_section(exe, ".note.go.buildid");
	if (!sh || sh->sh_size < sizeof(Elf64_Nhdr) + 4)
		return;
	Elf64_Nhdr nh;
	memcpy(&nh, exe->map + sh->sh_offset, sizeof(nh));
	uint64_t need = sizeof(nh) + ((nh.n_namesz + 3) & ~3u) + (uint64_t)nh.n_descsz;
	if (nh.n_namesz != 4 || need > sh->sh_size || nh.n_descsz >= sizeof(exe->go_build_id))
		return;
	memcpy(exe->go_build_id, exe->map + sh->sh_offset + sizeof(nh) + 4, nh.n_descsz);
	exe->go_build_id[nh.n_descsz] = '\0';
}

/*
 * The descriptor of a note of the type named name, whose name starts at
 * name_off of page. Go writes its owner as "Go\0\0" with n_namesz 4, GNU as
 * "GNU\0": the name may carry its padding.
 */
static bool note_at(const uint8_t *page, size_t len, size_t name_off, const char *name,
		    uint32_t type, const uint8_t **desc, uint32_t *desc_len)
{
	Elf64_Nhdr nh;
	size_t name_len = strlen(name) + 1, padded = (name_len + 3) & ~(size_t)3;
	if (name_off < sizeof(nh) || padded > len - name_off ||
	    memcmp(page + name_off, name, name_len) != 0)
		return false;
	memcpy(&nh, page + name_off - sizeof(nh), sizeof(nh));
	size_t at = name_off + padded;
	if (nh.n_namesz < name_len || nh.n_namesz > padded || nh.n_type != type ||
	    nh.n_descsz == 0 || nh.n_descsz > len - at)
		return false;
	for (size_t i = name_len; i < nh.n_namesz; i++) {
		if (page[name_off + i] != 0)
			return false;
	}
	*desc = page + at;
	*desc_len = nh.n_descsz;
	return true;
}

void gm_find_build_ids(const uint8_t *page, size_t len, char *go, size_t go_size, char *gnu,
		       size_t gnu_size)
{
	go[0] = gnu[0] = '\0';
	/* Notes are 4-byte aligned; each step moves on, which bounds the loop. */
	for (size_t off = sizeof(Elf64_Nhdr); off + 4 <= len; off += 4) {
		const uint8_t *d;
		uint32_t n;
		if (!go[0] && note_at(page, len, off, "Go", 4, &d, &n) && n < go_size) {
			size_t i = 0;
			while (i < n && d[i] > ' ' && d[i] < 0x7f)
				i++;
			if (i == n) {
				memcpy(go, d, n);
				go[n] = '\0';
			}
		} else if (!gnu[0] && note_at(page, len, off, "GNU", NT_GNU_BUILD_ID, &d, &n) &&
			   2 * (size_t)n < gnu_size) {
			for (uint32_t i = 0; i < n; i++)
				snprintf(gnu + 2 * i, 3, "%02x", d[i]);
		}
	}
}

static struct gomem_error *exe_open(const char *path, struct gm_exe *exe)
{
	memset(exe, 0, sizeof(*exe));
	exe->fd = -1;
	exe->path = strdup(path);
	if (!exe->path)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_map_file(path, "executable", &exe->fd, &exe->map, &exe->size);
	if (err)
		return err;
	Elf64_Ehdr eh;
	memcpy(&eh, exe->map, sizeof(eh));
	const char *why = gm_elf_check_ident(&eh);
	if (why)
		return gm_error(GOMEM_ERROR_FORMAT, "executable %s: %s", path, why);
	if (eh.e_type == ET_CORE)
		return gm_error(GOMEM_ERROR_USAGE,
				"%s is a core file; pass the executable first, then the core",
				path);
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return gm_error(GOMEM_ERROR_FORMAT,
				"executable %s: not an executable (ELF type %u)", path, eh.e_type);
	exe->e_type = eh.e_type;
	exe->e_entry = eh.e_entry;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > exe->size ||
	    eh.e_phnum > (exe->size - eh.e_phoff) / sizeof(Elf64_Phdr) || eh.e_phoff % 8)
		return gm_error(GOMEM_ERROR_FORMAT, "executable %s: corrupt program headers", path);
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(exe->map + eh.e_phoff);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (exe->nloads == GM_ARRAY_SIZE(exe->loads))
			return gm_error(GOMEM_ERROR_FORMAT, "executable %s: too many PT_LOADs",
					path);
		exe->loads[exe->nloads].vaddr = ph[i].p_vaddr;
		exe->loads[exe->nloads].memsz = ph[i].p_memsz;
		exe->loads[exe->nloads].offset = ph[i].p_offset;
		exe->loads[exe->nloads].filesz = ph[i].p_filesz;
		exe->loads[exe->nloads].flags = ph[i].p_flags;
		exe->nloads++;
	}
	err = read_buildinfo(exe);
	if (err)
		return err;
	read_build_id(exe);
	return NULL;
}

struct gomem_error *gm_exe_open(const char *path, struct gm_exe *exe)
{
	struct gomem_error *err = exe_open(path, exe);
	if (err)
		gm_exe_deinit(exe);
	return err;
}

void gm_exe_deinit(struct gm_exe *exe)
{
	if (exe->map)
		munmap((void *)exe->map, exe->size);
	if (exe->fd >= 0)
		close(exe->fd);
	free(exe->path);
	memset(exe, 0, sizeof(*exe));
	exe->fd = -1;
}

/* libelf's view of the mapped executable, for its sections; NULL when libelf cannot. */
static Elf *exe_elf(const struct gm_exe *exe)
{
	if (!exe->map || elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	return elf_memory((char *)exe->map, exe->size);
}

void gm_exe_section_names(const struct gm_exe *exe, uint64_t lo, uint64_t hi, bool nobits,
			  char *buf, size_t size)
{
	size_t shstrndx, used = 0;
	Elf *elf = exe_elf(exe);
	buf[0] = '\0';
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0) {
		if (elf)
			elf_end(elf);
		return;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || sh.sh_size == 0 ||
		    (sh.sh_flags & SHF_TLS) || (sh.sh_type == SHT_NOBITS) != nobits)
			continue;
		if (sh.sh_addr < lo || sh.sh_addr >= hi)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || used + strlen(name) + 2 > size)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " " : "", name);
	}
	elf_end(elf);
}

bool gm_exe_largest_object(const struct gm_exe *exe, uint64_t lo, uint64_t hi, char *name,
			   size_t name_size, uint64_t *size)
{
	Elf *elf = exe_elf(exe);
	Elf_Scn *scn = NULL;
	const char *best = NULL;
	uint64_t best_size = 0;
	while (elf && (scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; data && i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_OBJECT || sym.st_value < lo ||
			    sym.st_value >= hi || sym.st_size <= best_size)
				continue;
			const char *s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (s) {
				best = s;
				best_size = sym.st_size;
			}
		}
	}
	if (best_size) {
		snprintf(name, name_size, "%s", best);
		*size = best_size;
	}
	if (elf)
		elf_end(elf);
	return best_size > 0;
}
