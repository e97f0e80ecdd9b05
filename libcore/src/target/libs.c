/*
 * The shared libraries a process mapped, as this machine has them: opened
 * (without blocking, regular files only) and mapped once per target, and
 * used only where the target's own copy of the file's first page says they
 * are the files the process mapped.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/target.h"

#define MAX_LIB_FILES 256

struct lib_file {
	char *path;
	struct gm_file_image image; /* map NULL when the file could not be mapped */
	bool checked, usable;
};

struct gm_libs {
	struct lib_file v[MAX_LIB_FILES];
	size_t n;
};

void gm_libs_destroy(struct gm_libs *libs)
{
	if (!libs)
		return;
	for (size_t i = 0; i < libs->n; i++) {
		if (libs->v[i].image.map)
			munmap((void *)libs->v[i].image.map, libs->v[i].image.size);
		free(libs->v[i].path);
	}
	free(libs);
}

/* The file at path, opened on first use; NULL when out of room or memory. */
static struct lib_file *lib_file(struct gm_target *t, const char *path)
{
	if (!t->libs && !(t->libs = calloc(1, sizeof(*t->libs))))
		return NULL;
	struct gm_libs *libs = t->libs;
	for (size_t i = 0; i < libs->n; i++) {
		if (strcmp(libs->v[i].path, path) == 0)
			return &libs->v[i];
	}
	if (libs->n == MAX_LIB_FILES)
		return NULL;
	struct lib_file *f = &libs->v[libs->n];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return NULL;
	libs->n++;
	/*
	 * The path comes from the target (a core's NT_FILE note): open only a
	 * regular file, and without blocking, since opening a FIFO or a device
	 * can hang or act; fstat again in case the file changed in between.
	 */
	struct stat st;
	int fd = stat(path, &st) == 0 && S_ISREG(st.st_mode)
		     ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
		     : -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			f->image.map = map;
			f->image.size = (uint64_t)st.st_size;
		}
	}
	if (fd >= 0)
		close(fd);
	return f;
}

/*
 * Whether a file on this machine is the one the process mapped: an ELF
 * file of the target's machine, and the core holds the first page of every
 * mapped ELF file (coredump_filter bit 4), which must match the file's.
 */
static bool lib_usable(struct gm_target *t, struct lib_file *f)
{
	if (f->checked)
		return f->usable;
	f->checked = true;
	const struct gm_mapping *maps;
	size_t nmaps;
	if (!f->image.map || f->image.size < GM_ELF_HEAD_BYTES ||
	    gm_elf_check_ident(f->image.map) || gm_elf_machine(f->image.map) != t->arch->machine)
		return false;
	struct gomem_error *err = gm_target_mappings(t, &maps, &nmaps);
	if (err) {
		gomem_error_destroy(err);
		return false;
	}
	for (size_t i = 0; i < nmaps; i++) {
		const struct gm_mapping *m = &maps[i];
		uint8_t page[GM_ELF_HEAD_BYTES];
		if (!m->path || m->offset != 0 || strcmp(m->path, f->path) != 0)
			continue;
		if (!gm_read_ok(&t->mem, m->start, page, sizeof(page)))
			continue;
		f->usable = memcmp(page, f->image.map, sizeof(page)) == 0;
		return f->usable;
	}
	return false;
}

const struct gm_file_image *gm_target_lib(struct gm_target *t, const char *path)
{
	struct lib_file *f = lib_file(t, path);
	return f && lib_usable(t, f) ? &f->image : NULL;
}

uint64_t gm_target_lib_bss_end(struct gm_target *t, const char *path, uint64_t load_base)
{
	const struct gm_file_image *f = gm_target_lib(t, path);
	if (!f || f->size < sizeof(Elf64_Ehdr))
		return 0;
	Elf64_Ehdr eh;
	memcpy(&eh, f->map, sizeof(eh));
	if (gm_elf_check_ident(&eh) || eh.e_phoff > f->size ||
	    eh.e_phnum > (f->size - eh.e_phoff) / sizeof(Elf64_Phdr))
		return 0;
	uint64_t end = 0, page = t->page_size;
	for (uint64_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f->map + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		uint64_t e = (load_base + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) && e > end)
			end = e;
	}
	return end;
}
