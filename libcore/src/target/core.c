/*
 * ELF core files: PT_LOAD segments and the notes gomem needs.
 * The file is mmap'd; every header, count and length read from it is
 * checked against the file's size before it is used.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/target.h"

static struct gomem_error *core_warn(struct gm_core *core, const char *fmt, ...) GM_PRINTF(2, 3);

static struct gomem_error *core_warn(struct gm_core *core, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct gomem_error *err = gm_strlist_vadd(&core->warnings, &core->nwarnings, fmt, ap);
	va_end(ap);
	return err;
}

/*
 * Maps the whole file read-only. It is opened without blocking, so that a
 * FIFO or a device given by mistake is refused below instead of hanging.
 */
static struct gomem_error *map_file(const char *path, const char *what, int *fd_ret,
				    const uint8_t **map_ret, uint64_t *size_ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return gm_error_errno(GOMEM_ERROR_IO, errno, "%s %s", what, path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return gm_error_errno(GOMEM_ERROR_IO, e, "%s %s", what, path);
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return gm_error(GOMEM_ERROR_IO, "%s %s: is a directory", what, path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return gm_error(GOMEM_ERROR_IO, "%s %s: not a regular file", what, path);
	}
	if (st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return gm_error(GOMEM_ERROR_FORMAT, "%s %s: %s", what, path,
				st.st_size == 0 ? "empty file" : "too short to be an ELF file");
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		int e = errno;
		close(fd);
		return gm_error_errno(GOMEM_ERROR_IO, e, "%s %s: mmap", what, path);
	}
	*fd_ret = fd;
	*map_ret = map;
	*size_ret = (uint64_t)st.st_size;
	return NULL;
}

struct gomem_error *gm_map_file(const char *path, const char *what, int *fd_ret,
				const uint8_t **map_ret, uint64_t *size_ret)
{
	return map_file(path, what, fd_ret, map_ret, size_ret);
}

/* Go's name of the architecture of an ELF machine, NULL when Go has none. */
static const char *go_arch(unsigned machine, bool is64)
{
	switch (machine) {
	case EM_386:
		return "386";
	case EM_X86_64:
		return is64 ? "amd64" : "amd64p32";
	case EM_ARM:
		return "arm";
	case EM_AARCH64:
		return "arm64 (AArch64)";
	case EM_PPC64:
		return "ppc64";
	case EM_S390:
		return "s390x";
	case EM_MIPS:
		return is64 ? "mips64" : "mips";
	case EM_RISCV:
		return "riscv64";
	case 258: /* EM_LOONGARCH, newer than some elf.h */
		return "loong64";
	default:
		return NULL;
	}
}

/*
 * Checks e_ident and e_machine and returns a reason, or NULL for a
 * little-endian ELF64 of x86-64. The machine is named first: a core of
 * another architecture says which one.
 */
const char *gm_elf_check_ident(const void *ehdr)
{
	static _Thread_local char why[160];
	const Elf64_Ehdr *eh = ehdr;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	/* e_machine sits at the same offset in ELF32 and ELF64 headers. */
	const uint8_t *m = (const uint8_t *)ehdr + offsetof(Elf64_Ehdr, e_machine);
	bool msb = eh->e_ident[EI_DATA] == ELFDATA2MSB, is64 = eh->e_ident[EI_CLASS] == ELFCLASS64;
	unsigned machine = msb ? (unsigned)m[0] << 8 | m[1] : (unsigned)m[1] << 8 | m[0];
	if (machine != EM_X86_64) {
		const char *arch = go_arch(machine, is64);
		if (arch)
			snprintf(why, sizeof(why),
				 "a %s-bit ELF file for %s, not %sx86-64: gomem reads linux/amd64 "
				 "only",
				 is64 ? "64" : "32", arch, is64 ? "" : "64-bit ");
		else
			snprintf(why, sizeof(why),
				 "an ELF file for machine %u, not x86-64: gomem reads linux/amd64 "
				 "only",
				 machine);
		return why;
	}
	if (!is64)
		return "a 32-bit ELF file (x32), not a 64-bit one: gomem reads linux/amd64 only";
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return "not a little-endian ELF file (gomem reads linux/amd64 only)";
	return NULL;
}

static uint64_t align4(uint64_t n)
{
	return (n + 3) & ~(uint64_t)3;
}

/* struct elf_prstatus on x86-64: pr_pid at 32, pr_reg (user_regs_struct) at 112. */
#define PRSTATUS_PID	 32
#define PRSTATUS_REG(i)	 (112 + (i)*8)
#define PRSTATUS_RSP	 PRSTATUS_REG(19)
#define PRSTATUS_FS_BASE PRSTATUS_REG(21)
#define PRSTATUS_REGLEN	 PRSTATUS_REG(27)

GM_DEFINE_GROW(grow_threads, struct gm_core_thread)

static struct gomem_error *parse_prstatus(struct gm_core *core, const uint8_t *desc, uint64_t len)
{
	/* elf_siginfo (12), cursig (2), pad (2), sigpend, sighold, then pid */
	if (len < PRSTATUS_PID + 4)
		return core_warn(core, "core %s: short NT_PRSTATUS note", core->path);
	int32_t pid;
	memcpy(&pid, desc + PRSTATUS_PID, sizeof(pid));
	if (core->nthread_notes++ == 0)
		core->pid = pid;
	if (core->nthreads == GM_CORE_MAX_THREADS)
		return NULL;
	struct gm_core_thread *th =
	    grow_threads(&core->threads, &core->nthreads, &core->cap_threads);
	if (!th)
		return &gm_error_no_memory;
	*th = (struct gm_core_thread){.tid = (uint32_t)pid};
	if (len >= PRSTATUS_REGLEN) {
		memcpy(&th->sp, desc + PRSTATUS_RSP, 8);
		memcpy(&th->fs_base, desc + PRSTATUS_FS_BASE, 8);
	}
	return NULL;
}

/*
 * NT_PRPSINFO holds the process id (pr_pid at offset 24 of struct
 * elf_prpsinfo); NT_PRSTATUS holds thread ids, and the first thread of a
 * core is the one that took the signal, not always the main thread.
 */
static void parse_prpsinfo(struct gm_core *core, const uint8_t *desc, uint64_t len)
{
	int32_t pid;
	if (len < 28)
		return;
	memcpy(&pid, desc + 24, sizeof(pid));
	core->prpsinfo_pid = pid;
}

void gm_auxv_parse(const uint8_t *buf, uint64_t len, struct gm_auxv *a)
{
	for (uint64_t off = 0; off + 16 <= len; off += 16) {
		uint64_t type, val;
		memcpy(&type, buf + off, 8);
		memcpy(&val, buf + off + 8, 8);
		if (type == AT_NULL)
			break;
		if (type == AT_ENTRY)
			a->entry = val;
		else if (type == AT_PHDR)
			a->phdr = val;
		else if (type == AT_SYSINFO_EHDR)
			a->sysinfo_ehdr = val;
		else if (type == AT_RANDOM)
			a->random = val;
	}
}

static void parse_auxv(struct gm_core *core, const uint8_t *desc, uint64_t len)
{
	struct gm_auxv a = {core->at_entry, core->at_phdr, core->at_sysinfo_ehdr, core->at_random};
	gm_auxv_parse(desc, len, &a);
	core->at_entry = a.entry;
	core->at_phdr = a.phdr;
	core->at_sysinfo_ehdr = a.sysinfo_ehdr;
	core->at_random = a.random;
	core->have_auxv = true;
}

/* NT_FILE: count, page size, count x {start, end, page offset}, then the paths. */
static struct gomem_error *parse_nt_file(struct gm_core *core, const uint8_t *desc, uint64_t len)
{
	uint64_t count, page_size;
	if (core->files)
		return NULL; /* one NT_FILE per core; ignore repeats */
	if (len < 16)
		return core_warn(core, "core %s: short NT_FILE note", core->path);
	memcpy(&count, desc, 8);
	memcpy(&page_size, desc + 8, 8);
	if (count > (len - 16) / 24 || page_size == 0 || page_size > (1ULL << 30))
		return core_warn(core, "core %s: corrupt NT_FILE note", core->path);
	core->files = calloc(count ? count : 1, sizeof(*core->files));
	if (!core->files)
		return &gm_error_no_memory;
	const char *names = (const char *)desc + 16 + 24 * count, *end = (const char *)desc + len;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t e[3];
		memcpy(e, desc + 16 + 24 * i, sizeof(e));
		const char *nul = names < end ? memchr(names, '\0', (size_t)(end - names)) : NULL;
		if (!nul || e[1] < e[0] || e[2] > UINT64_MAX / page_size)
			return core_warn(core, "core %s: corrupt NT_FILE entry %llu", core->path,
					 (unsigned long long)i);
		struct gm_core_file *f = &core->files[core->nfiles++];
		f->start = e[0];
		f->end = e[1];
		f->offset = e[2] * page_size;
		f->path = names;
		f->path_len = (size_t)(nul - names);
		names = nul + 1;
	}
	return NULL;
}

static struct gomem_error *parse_notes(struct gm_core *core, uint64_t off, uint64_t len)
{
	if (off > core->size || len > core->size - off)
		return core_warn(core,
				 "core %s: note segment past the end of the file (truncated?)",
				 core->path);
	const uint8_t *p = core->map + off, *end = p + len;
	/* Each note takes at least 12 bytes, which bounds this loop. */
	while ((uint64_t)(end - p) >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p, sizeof(nh));
		uint64_t name_len = align4(nh.n_namesz), desc_len = align4(nh.n_descsz);
		uint64_t avail = (uint64_t)(end - p) - sizeof(nh);
		if (name_len > avail || desc_len > avail - name_len)
			return core_warn(core, "core %s: corrupt note header at offset %llu",
					 core->path, (unsigned long long)(p - core->map));
		const char *name = (const char *)p + sizeof(nh);
		const uint8_t *desc = p + sizeof(nh) + name_len;
		bool is_core = nh.n_namesz == 5 && memcmp(name, "CORE", 5) == 0;
		if (is_core && nh.n_type == NT_PRSTATUS) {
			struct gomem_error *err = parse_prstatus(core, desc, nh.n_descsz);
			if (err)
				return err;
		} else if (is_core && nh.n_type == NT_PRPSINFO) {
			parse_prpsinfo(core, desc, nh.n_descsz);
		} else if (is_core && nh.n_type == NT_AUXV) {
			parse_auxv(core, desc, nh.n_descsz);
		} else if (is_core && nh.n_type == NT_FILE) {
			struct gomem_error *err = parse_nt_file(core, desc, nh.n_descsz);
			if (err)
				return err;
		}
		p += sizeof(nh) + name_len + desc_len;
	}
	return NULL;
}

static struct gomem_error *read_phdrs(struct gm_core *core, const Elf64_Ehdr *eh,
				      const Elf64_Phdr **ret, uint64_t *count_ret)
{
	uint64_t count = eh->e_phnum;
	if (count == PN_XNUM) {
		/* More than 65534 segments: the real count is in section header 0 (elf(5)). */
		if (eh->e_shoff == 0 || eh->e_shoff > core->size ||
		    core->size - eh->e_shoff < sizeof(Elf64_Shdr))
			return gm_error(GOMEM_ERROR_FORMAT,
					"core %s: truncated (no section header for PN_XNUM)",
					core->path);
		Elf64_Shdr sh;
		memcpy(&sh, core->map + eh->e_shoff, sizeof(sh));
		count = sh.sh_info;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: corrupt ELF header (e_phentsize %u)",
				core->path, eh->e_phentsize);
	if (eh->e_phoff > core->size || count > (core->size - eh->e_phoff) / sizeof(Elf64_Phdr))
		return gm_error(GOMEM_ERROR_FORMAT,
				"core %s: truncated (program headers past the end of the file)",
				core->path);
	if (eh->e_phoff % 8)
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: misaligned program headers",
				core->path);
	*ret = (const Elf64_Phdr *)(core->map + eh->e_phoff);
	*count_ret = count;
	return NULL;
}

static struct gomem_error *add_load(struct gm_core *core, const Elf64_Phdr *ph)
{
	struct gm_segment seg = {
	    .start = ph->p_vaddr,
	    .end = ph->p_vaddr + ph->p_memsz,
	    .file_offset = ph->p_offset,
	    .flags = ph->p_flags,
	};
	if (seg.end < seg.start)
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: corrupt segment at 0x%llx",
				core->path, (unsigned long long)ph->p_vaddr);
	uint64_t filesz = ph->p_filesz < ph->p_memsz ? ph->p_filesz : ph->p_memsz;
	if (ph->p_offset > core->size) {
		filesz = 0;
	} else if (filesz > core->size - ph->p_offset) {
		filesz = core->size - ph->p_offset;
	}
	if (filesz < (ph->p_filesz < ph->p_memsz ? ph->p_filesz : ph->p_memsz)) {
		struct gomem_error *err = core_warn(
		    core, "core %s is truncated: segment 0x%llx-0x%llx has %llu of %llu bytes",
		    core->path, (unsigned long long)seg.start, (unsigned long long)seg.end,
		    (unsigned long long)filesz, (unsigned long long)ph->p_filesz);
		if (err)
			return err;
	}
	seg.data = filesz ? core->map + ph->p_offset : NULL;
	seg.data_len = filesz;
	seg.truncated = filesz < (ph->p_filesz < ph->p_memsz ? ph->p_filesz : ph->p_memsz);
	core->loads[core->nloads++] = seg;
	if (seg.start == GM_VSYSCALL_ADDR)
		core->vsyscall_bytes += seg.end - seg.start;
	return NULL;
}

/* Whether an NT_FILE entry maps part of [start, end). */
static bool file_backed(const struct gm_core *core, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < core->nfiles; i++) {
		if (core->files[i].start < end && start < core->files[i].end)
			return true;
	}
	return false;
}

/*
 * Whether the core holds none of the process's anonymous memory (heap,
 * stacks, the runtime's data): every writable mapping that no file backs has
 * no bytes in the file by its header, not by truncation. That is what a
 * coredump_filter without bit 0 (anonymous private memory) makes.
 */
static bool anonymous_memory_missing(const struct gm_core *core, const Elf64_Phdr *ph,
				     uint64_t count)
{
	uint64_t anon = 0;
	for (uint64_t i = 0; i < count; i++) {
		Elf64_Phdr p;
		memcpy(&p, &ph[i], sizeof(p));
		if (p.p_type != PT_LOAD || !(p.p_flags & PF_W) || p.p_memsz == 0 ||
		    p.p_vaddr + p.p_memsz < p.p_vaddr ||
		    file_backed(core, p.p_vaddr, p.p_vaddr + p.p_memsz))
			continue;
		if (p.p_filesz)
			return false;
		anon++;
	}
	return anon > 0;
}

/*
 * A kernel core aligns every PT_LOAD to the page size and leaves pages that
 * were never touched as holes; GDB's gcore writes p_align 1 and every byte.
 */
static bool looks_like_kernel_dump(const Elf64_Phdr *ph, uint64_t count)
{
	if (count == 0 || ph[0].p_type != PT_NOTE)
		return false;
	for (uint64_t i = 0; i < count; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_align != 4096)
			return false;
	}
	return true;
}

/* A core cut into more pieces than this is asked with lseek each time (24 MiB of list). */
#define MAX_EXTENTS (1u << 20)

GM_DEFINE_ARRAY(extent_array, struct gm_core_extent)

struct extent_list {
	struct extent_array a;
	bool failed; /* too many, or out of memory: keep none */
};

/* The data stretches of [off, end) of the file, by lseek. */
static void seek_data(int fd, uint64_t off, uint64_t end, gm_core_data_fn fn, void *arg)
{
	/* Bounded: each step moves pos forward by at least one byte. */
	for (uint64_t pos = off; pos < end;) {
		off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= end)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > end)
			hole = (off_t)end;
		if (hole <= data)
			break;
		fn(arg, (uint64_t)data, (uint64_t)(hole - data));
		pos = (uint64_t)hole;
	}
}

static void add_extent(void *arg, uint64_t off, uint64_t len)
{
	struct extent_list *l = arg;
	if (l->failed)
		return;
	const struct gm_core_extent *prev = l->a.n ? &l->a.v[l->a.n - 1] : NULL;
	uint64_t before = prev ? prev->before + (prev->end - prev->start) : 0;
	struct gm_core_extent *e = l->a.n < MAX_EXTENTS ? extent_array_add(&l->a) : NULL;
	if (!e) {
		l->failed = true;
		return;
	}
	*e = (struct gm_core_extent){
	    .start = off,
	    .end = off + len,
	    .before = before,
	};
}

/*
 * Where the file has data: a kernel core leaves the pages a process never
 * touched as holes, and every residency question asks about them. Reading
 * the extents once (a few hundred on the fixtures, 163 on a 2 GiB heap)
 * replaces two lseek calls per span with a binary search.
 */
static void load_extents(struct gm_core *core)
{
	struct extent_list l = {0};
	seek_data(core->fd, 0, core->size, add_extent, &l);
	if (l.failed || l.a.n == 0) {
		free(l.a.v);
		return;
	}
	core->extents = l.a.v;
	core->nextents = l.a.n;
}

static struct gomem_error *core_open(const char *path, struct gm_core *core)
{
	memset(core, 0, sizeof(*core));
	core->fd = -1;
	core->path = strdup(path);
	if (!core->path)
		return &gm_error_no_memory;
	struct gomem_error *err = map_file(path, "core", &core->fd, &core->map, &core->size);
	if (err)
		return err;
	Elf64_Ehdr eh;
	memcpy(&eh, core->map, sizeof(eh));
	const char *why = gm_elf_check_ident(&eh);
	if (why)
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: %s", path, why);
	if (eh.e_type != ET_CORE)
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: not a core file (ELF type %u)", path,
				eh.e_type);
	const Elf64_Phdr *ph = NULL;
	uint64_t count = 0;
	err = read_phdrs(core, &eh, &ph, &count);
	if (err)
		return err;
	core->loads = calloc(count ? count : 1, sizeof(*core->loads));
	if (!core->loads)
		return &gm_error_no_memory;
	for (uint64_t i = 0; i < count; i++) {
		Elf64_Phdr p;
		memcpy(&p, &ph[i], sizeof(p));
		if (p.p_type == PT_LOAD)
			err = add_load(core, &p);
		else if (p.p_type == PT_NOTE)
			err = parse_notes(core, p.p_offset, p.p_filesz);
		if (err)
			return err;
	}
	if (core->nloads == 0)
		return gm_error(GOMEM_ERROR_FORMAT, "core %s: no memory segments", path);
	core->kernel_dump = looks_like_kernel_dump(ph, count);
	if (core->prpsinfo_pid > 0)
		core->pid = core->prpsinfo_pid;
	core->anon_missing = anonymous_memory_missing(core, ph, count);
	load_extents(core);
	return NULL;
}

struct gomem_error *gm_core_open(const char *path, struct gm_core *core)
{
	struct gomem_error *err = core_open(path, core);
	if (err)
		gm_core_deinit(core);
	return err;
}

void gm_core_deinit(struct gm_core *core)
{
	if (core->map)
		munmap((void *)core->map, core->size);
	if (core->fd >= 0)
		close(core->fd);
	for (size_t i = 0; i < core->nwarnings; i++)
		free(core->warnings[i]);
	free(core->warnings);
	free(core->loads);
	free(core->files);
	free(core->threads);
	free(core->extents);
	free(core->path);
	memset(core, 0, sizeof(*core));
	core->fd = -1;
}

/* The first extent that ends after off (nextents when none). */
static size_t extent_index(const struct gm_core *core, uint64_t off)
{
	return GM_UPPER_BOUND(core->extents, core->nextents, end, off);
}

/* Data bytes of the file below off, from the extent list. */
static uint64_t data_below(const struct gm_core *core, uint64_t off)
{
	size_t i = extent_index(core, off);
	if (i == core->nextents) {
		const struct gm_core_extent *last = &core->extents[i - 1];
		return i ? last->before + (last->end - last->start) : 0;
	}
	const struct gm_core_extent *e = &core->extents[i];
	return e->before + (off > e->start ? off - e->start : 0);
}

void gm_core_foreach_data(const struct gm_core *core, uint64_t off, uint64_t len,
			  gm_core_data_fn fn, void *arg)
{
	if (off >= core->size)
		return;
	uint64_t end = len > core->size - off ? core->size : off + len;
	if (!core->extents) {
		seek_data(core->fd, off, end, fn, arg);
		return;
	}
	for (size_t i = extent_index(core, off); i < core->nextents; i++) {
		const struct gm_core_extent *e = &core->extents[i];
		if (e->start >= end)
			break;
		uint64_t a = e->start > off ? e->start : off, z = e->end < end ? e->end : end;
		fn(arg, a, z - a);
	}
}

static void add_bytes(void *arg, uint64_t off, uint64_t len)
{
	(void)off;
	*(uint64_t *)arg += len;
}

uint64_t gm_core_data_bytes(const struct gm_core *core, uint64_t off, uint64_t len)
{
	if (off >= core->size)
		return 0;
	uint64_t end = len > core->size - off ? core->size : off + len;
	if (core->extents)
		return data_below(core, end) - data_below(core, off);
	uint64_t total = 0;
	seek_data(core->fd, off, end, add_bytes, &total);
	return total;
}
