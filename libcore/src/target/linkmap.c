/*
 * The shared objects a dynamically linked process loaded, from the dynamic
 * linker's own list in its memory, for a core that has no NT_FILE note
 * (QEMU's guest cores): the executable's DT_DEBUG entry points to r_debug,
 * whose r_map starts the list of struct link_map {l_addr, l_name, l_ld,
 * l_next, l_prev} (<link.h>, the SVR4 interface GDB reads too). Each
 * object's mappings are the contiguous ones from l_addr up to the one that
 * holds its dynamic section (l_ld), and the writable data right after when
 * that one is read-only (RELRO, which ends where the data starts): ld.so
 * maps an object as one span, leaving PROT_NONE gaps between its segments.
 * ld.so takes itself off the list when no object needs it (a Go PIE without
 * cgo): then r_debug's r_ldbase says where it is, the executable's
 * PT_INTERP which file it is, and its mappings end with its data, which
 * holds r_debug.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <string.h>

#include "target/target.h"

#define MAX_DYNAMIC	1024 /* entries of the executable's dynamic section read */
#define MAX_OBJECTS	1024 /* link maps followed */
#define MAX_NAME	4096 /* PATH_MAX */
#define MAX_OBJECT_MAPS 64   /* mappings of one object */

/* &_r_debug from the executable's DT_DEBUG, 0 when there is none. */
static uint64_t r_debug_addr(struct gm_target *t)
{
	const struct gm_exe *exe = &t->exe;
	uint64_t n = exe->dynamic_size / 16;
	for (uint64_t i = 0; exe->dynamic_vaddr && i < n && i < MAX_DYNAMIC; i++) {
		uint64_t d[2];
		if (!gm_read_ok(&t->mem, exe->dynamic_vaddr + t->bias + 16 * i, d, sizeof(d)) ||
		    d[0] == DT_NULL)
			return 0;
		if (d[0] == DT_DEBUG)
			return d[1];
	}
	return 0;
}

/* A NUL-terminated string of the target, into buf; false when unreadable or too long. */
static bool read_name(struct gm_target *t, uint64_t addr, char *buf, size_t size)
{
	for (size_t i = 0; i + 1 < size; i++) {
		if (!gm_read_ok(&t->mem, addr + i, &buf[i], 1))
			return false;
		if (!buf[i])
			return i > 0;
	}
	return false;
}

static size_t mapping_index(const struct gm_mapping *m, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Names mappings first..last as the file at path. */
static struct gomem_error *name_range(struct gm_mapping *m, size_t first, size_t last,
				      const char *path)
{
	for (size_t i = first; i <= last; i++) {
		m[i].path = strdup(path);
		if (!m[i].path)
			return &gm_error_no_memory;
		/* ld.so maps an object from file offset 0; where the rest is is not known. */
		m[i].offset = 0;
		m[i].offset_unknown = i > first;
	}
	return NULL;
}

/*
 * Names the mappings of one object: from the one that starts at l_addr
 * through the one that holds l_ld, all contiguous and not named yet.
 */
static struct gomem_error *name_object(struct gm_mapping *m, size_t n, uint64_t l_addr,
				       uint64_t l_ld, const char *name)
{
	size_t first = mapping_index(m, n, l_addr), last = first;
	if (first == n || m[first].start != l_addr)
		return NULL;
	for (;; last++) {
		if (last == n || last - first >= MAX_OBJECT_MAPS || m[last].path ||
		    (last > first && m[last].start != m[last - 1].end))
			return NULL; /* l_ld not reached: leave them unknown */
		if (m[last].start <= l_ld && l_ld < m[last].end)
			break;
	}
	if (!(m[last].flags & PF_W) && last + 1 < n && !m[last + 1].path &&
	    m[last + 1].start == m[last].end && (m[last + 1].flags & PF_W))
		last++;
	return name_range(m, first, last, name);
}

/* The executable's PT_INTERP (the dynamic linker's path), into buf; false when none. */
static bool exe_interp(const struct gm_exe *exe, char *buf, size_t size)
{
	Elf64_Ehdr eh;
	memcpy(&eh, exe->map, sizeof(eh));
	if (eh.e_phoff > exe->size || eh.e_phnum > (exe->size - eh.e_phoff) / sizeof(Elf64_Phdr))
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, exe->map + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_INTERP || ph.p_offset > exe->size ||
		    ph.p_filesz > exe->size - ph.p_offset || ph.p_filesz < 2 || ph.p_filesz > size)
			continue;
		memcpy(buf, exe->map + ph.p_offset, ph.p_filesz);
		buf[ph.p_filesz - 1] = '\0';
		return buf[0] != '\0';
	}
	return false;
}

/*
 * ld.so at r_ldbase, when it is not on the list: its mappings from there
 * through its first writable one, which must hold r_debug.
 */
static struct gomem_error *name_dynamic_linker(struct gm_target *t, struct gm_mapping *m, size_t n,
					       uint64_t r_debug, uint64_t base)
{
	char path[256];
	size_t first = mapping_index(m, n, base);
	if (first == n || m[first].start != base || m[first].path ||
	    !exe_interp(&t->exe, path, sizeof(path)))
		return NULL;
	for (size_t last = first; last < n && last - first < MAX_OBJECT_MAPS; last++) {
		if (m[last].path || (last > first && m[last].start != m[last - 1].end))
			return NULL;
		if (m[last].flags & PF_W) {
			if (r_debug < m[last].start || r_debug >= m[last].end)
				return NULL;
			return name_range(m, first, last, path);
		}
	}
	return NULL;
}

struct gomem_error *gm_linkmap_name_mappings(struct gm_target *t, struct gm_mapping *m, size_t n)
{
	uint64_t r_debug = r_debug_addr(t), rd[5]; /* r_version, r_map, r_brk, r_state, r_ldbase */
	if (!r_debug || !gm_read_ok(&t->mem, r_debug, rd, sizeof(rd)))
		return NULL;
	uint64_t lm = rd[1];
	bool ld_listed = false;
	char name[MAX_NAME];
	/* Bounded: a corrupt list may be a cycle. */
	for (size_t i = 0; lm && i < MAX_OBJECTS; i++) {
		uint64_t l[4]; /* l_addr, l_name, l_ld, l_next */
		if (!gm_read_ok(&t->mem, lm, l, sizeof(l)))
			break;
		/* The executable ("") and the vdso ("linux-vdso.so.1") are no files of a path. */
		if (l[1] && read_name(t, l[1], name, sizeof(name)) && strchr(name, '/'))
			TRY(name_object(m, n, l[0], l[2], name));
		ld_listed |= l[0] == rd[4];
		lm = l[3];
	}
	return ld_listed || !rd[4] ? NULL : name_dynamic_linker(t, m, n, r_debug, rd[4]);
}
