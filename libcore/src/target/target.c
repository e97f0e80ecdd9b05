/*
 * A target: an executable plus a core file, or a live process (live.c):
 * its memory, its mappings and what is resident. What the Go runtime in it
 * means is the business of the layers above.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "target/live.h"
#include "target/pclntab.h"

/* Where a PIE was loaded: AT_ENTRY in the core against e_entry in the file. */
static uint64_t load_bias(const struct gm_exe *exe, const struct gm_core *core)
{
	if (exe->e_type != ET_DYN || !core->have_auxv || !core->at_entry)
		return 0;
	return core->at_entry - exe->e_entry;
}

static struct gomem_error *add_exe_ranges(struct gm_target *t, uint64_t bias)
{
	for (size_t i = 0; i < t->exe.nloads; i++) {
		uint64_t off = t->exe.loads[i].offset, len = t->exe.loads[i].filesz;
		if (off > t->exe.size || len > t->exe.size - off)
			return gm_error(GOMEM_ERROR_FORMAT, "executable %s is truncated",
					t->exe.path);
		struct gm_file_range r = {
		    .start = t->exe.loads[i].vaddr + bias,
		    .end = t->exe.loads[i].vaddr + bias + len,
		    .data = t->exe.map + off,
		};
		TRY(gm_memory_add_file_range(&t->mem, &r));
	}
	return NULL;
}

/*
 * The error for a core whose copy of the executable's first page (len bytes
 * at page) differs from the file's: with the build IDs of both where the
 * notes are in that page (Go's; GNU's for externally linked programs).
 */
static struct gomem_error *mismatch(struct gm_target *t, const uint8_t *page, size_t len)
{
	char core_go[128], core_gnu[80], exe_go[128], exe_gnu[80];
	gm_find_build_ids(page, len, core_go, sizeof(core_go), core_gnu, sizeof(core_gnu));
	gm_find_build_ids(t->exe.map, len, exe_go, sizeof(exe_go), exe_gnu, sizeof(exe_gnu));
	if (core_go[0] && exe_go[0])
		return gm_error(GOMEM_ERROR_MISMATCH,
				"core %s is not from executable %s: the core's program has Go "
				"build ID %s, the executable %s",
				t->core.path, t->exe.path, core_go, exe_go);
	if (core_gnu[0] && exe_gnu[0])
		return gm_error(GOMEM_ERROR_MISMATCH,
				"core %s is not from executable %s: the core's program has GNU "
				"build ID %s, the executable %s",
				t->core.path, t->exe.path, core_gnu, exe_gnu);
	return gm_error(GOMEM_ERROR_MISMATCH,
			"core %s is not from executable %s (their ELF headers differ; the "
			"executable's Go build ID is %s)",
			t->core.path, t->exe.path, exe_go[0] ? exe_go : "unknown");
}

/*
 * Without the executable's first page in the core, its NT_FILE note still
 * says at which file offset the process mapped each address: a mapping at
 * the start of one of our segments from another offset is another file.
 */
static struct gomem_error *check_exe_layout(struct gm_target *t, uint64_t bias)
{
	uint64_t mask = ~(t->page_size - 1);
	for (size_t i = 0; i < t->exe.nloads; i++) {
		uint64_t start = (t->exe.loads[i].vaddr + bias) & mask;
		uint64_t offset = t->exe.loads[i].offset & mask;
		for (size_t j = 0; j < t->core.nfiles; j++) {
			const struct gm_core_file *f = &t->core.files[j];
			if (f->start == start && f->offset != offset)
				return gm_error(
				    GOMEM_ERROR_MISMATCH,
				    "core %s is not from executable %s: its process "
				    "mapped 0x%llx from file offset 0x%llx, not 0x%llx",
				    t->core.path, t->exe.path, (unsigned long long)start,
				    (unsigned long long)f->offset, (unsigned long long)offset);
		}
	}
	return NULL;
}

/* The PT_LOADs of an ELF header and program headers within n bytes; false when not there. */
static bool page_loads(const uint8_t *page, size_t n, Elf64_Phdr *out, size_t max, size_t *n_ret)
{
	Elf64_Ehdr eh;
	if (n < sizeof(eh))
		return false;
	memcpy(&eh, page, sizeof(eh));
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > n ||
	    eh.e_phnum > (n - eh.e_phoff) / sizeof(Elf64_Phdr))
		return false;
	size_t k = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, page + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (k == max)
			return false;
		out[k++] = ph;
	}
	*n_ret = k;
	return true;
}

/*
 * Whether the first n bytes of a process's copy of the executable's first
 * page describe this file: the same bytes, or (a copy made by strip or
 * objcopy, which moves the section headers, often out of the first page,
 * and may trim zeros at the end of the data) the same Go build ID, or GNU
 * build ID, and the same PT_LOADs but for the file size of their data.
 */
static bool same_first_page(const uint8_t *page, const uint8_t *file, size_t n)
{
	if (memcmp(page, file, n) == 0)
		return true;
	char pgo[128], pgnu[80], fgo[128], fgnu[80];
	gm_find_build_ids(page, n, pgo, sizeof(pgo), pgnu, sizeof(pgnu));
	gm_find_build_ids(file, n, fgo, sizeof(fgo), fgnu, sizeof(fgnu));
	bool same_id = pgo[0] ? strcmp(pgo, fgo) == 0 : pgnu[0] && strcmp(pgnu, fgnu) == 0;
	Elf64_Phdr a[16], b[16];
	size_t na, nb;
	if (!same_id || !page_loads(page, n, a, 16, &na) || !page_loads(file, n, b, 16, &nb) ||
	    na != nb ||
	    memcmp(page + offsetof(Elf64_Ehdr, e_entry), file + offsetof(Elf64_Ehdr, e_entry), 8) !=
		0)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (a[i].p_offset != b[i].p_offset || a[i].p_vaddr != b[i].p_vaddr ||
		    a[i].p_memsz != b[i].p_memsz || a[i].p_flags != b[i].p_flags)
			return false;
	}
	return true;
}

/*
 * The core keeps the first page of the executable's text mapping (the ELF
 * header, program headers and Go build ID note): it must be this file's.
 */
static struct gomem_error *check_exe_matches(struct gm_target *t, uint64_t bias)
{
	for (size_t i = 0; i < t->exe.nloads; i++) {
		if (t->exe.loads[i].offset != 0)
			continue;
		uint64_t addr = t->exe.loads[i].vaddr + bias;
		const struct gm_segment *s = gm_memory_find(&t->mem, addr);
		uint64_t n = t->exe.loads[i].filesz < GM_ELF_HEAD_BYTES ? t->exe.loads[i].filesz
									: GM_ELF_HEAD_BYTES;
		if (!s || addr - s->start + n > s->data_len) {
			if (t->exe.e_type == ET_DYN && !t->core.have_auxv)
				return gm_error(
				    GOMEM_ERROR_FORMAT,
				    "core %s has no NT_AUXV note: cannot place the PIE %s",
				    t->core.path, t->exe.path);
			if (!s)
				return gm_error(GOMEM_ERROR_MISMATCH,
						"core %s is not from executable %s: its process "
						"mapped nothing at 0x%llx, where the executable "
						"starts",
						t->core.path, t->exe.path,
						(unsigned long long)addr);
			/*
			 * The header page was not dumped (coredump_filter bit 4; QEMU
			 * never writes a mapping that starts with an ELF header).
			 */
			return check_exe_layout(t, bias);
		}
		if (!same_first_page(s->data + (addr - s->start), t->exe.map, (size_t)n))
			return mismatch(t, s->data + (addr - s->start), (size_t)n);
		return NULL;
	}
	return NULL;
}

/*
 * The architecture is the executable's; a core of another machine (or a
 * shared library, libs.c) cannot be of a process that ran it.
 */
static struct gomem_error *check_core_machine(struct gm_target *t)
{
	if (t->core.arch == t->arch)
		return NULL;
	return gm_error(GOMEM_ERROR_MISMATCH,
			"core %s is not from executable %s: the core is of an %s (linux/%s) "
			"process, the executable is for %s (linux/%s)",
			t->core.path, t->exe.path, t->core.arch->name, t->core.arch->goarch,
			t->arch->name, t->arch->goarch);
}

/*
 * The largest page size (4 KiB to 64 KiB) that every mapping boundary is a
 * multiple of (bits: the boundaries or'ed together): the OS page size of a
 * process whose auxiliary vector is not at hand, unless all its mappings
 * happen to be aligned more coarsely.
 */
static uint64_t page_size_of_bounds(uint64_t bits)
{
	uint64_t page = 65536;
	while (page > 4096 && (bits & (page - 1)))
		page >>= 1;
	return page;
}

/* The OS page size of a core: AT_PAGESZ, else a kernel core's p_align, else the mappings'. */
static struct gomem_error *core_page_size(struct gm_target *t)
{
	if (t->core.page_size) {
		t->page_size = t->core.page_size;
		return NULL;
	}
	uint64_t bits = 0;
	for (size_t i = 0; i < t->core.nloads; i++)
		bits |= t->core.loads[i].start | t->core.loads[i].end;
	t->page_size = page_size_of_bounds(bits);
	return gm_target_warn(t,
			      "core %s has no AT_PAGESZ (NT_AUXV): the OS page size is taken to "
			      "be %llu KiB, the alignment of its segments",
			      t->core.path, (unsigned long long)(t->page_size >> 10));
}

/* The debug file, checked against the executable (before a live process is stopped). */
static struct gomem_error *open_debug_file(struct gm_target *t, const char *debug_file)
{
	if (!debug_file)
		return NULL;
	TRY(gm_debug_file_open(&t->exe, debug_file, &t->debug));
	t->have_debug = true;
	return NULL;
}

static struct gomem_error *target_open_core(struct gm_target *t, const char *exe_path,
					    const char *core_path, const char *debug_file)
{
	t->source = GM_SOURCE_CORE;
	t->exe_file = strdup(exe_path);
	if (!t->exe_file)
		return &gm_error_no_memory;
	TRY(gm_exe_open(exe_path, &t->exe));
	t->arch = t->exe.arch;
	TRY(open_debug_file(t, debug_file));
	TRY(gm_core_open(core_path, &t->core));
	t->have_core = true;
	t->pid = t->core.pid;
	t->mem.core_path = t->core.path;
	TRY(check_core_machine(t));
	TRY(core_page_size(t));
	if (t->core.kind == GM_CORE_QEMU && t->core.holes_untouched)
		TRY(gm_target_warn(
		    t,
		    "core %s was written by QEMU (qemu-user), which writes every "
		    "page; its holes were made afterwards, and are read as the pages "
		    "never touched, as in a kernel core",
		    t->core.path));
	if (t->core.anon_missing)
		return gm_error(GOMEM_ERROR_FAULT,
				"core %s holds none of the process's anonymous memory (Go heap, "
				"stacks, runtime data): its coredump_filter left it out (bit 0); "
				"take the core again after echo 0x33 > /proc/PID/coredump_filter",
				t->core.path);
	for (size_t i = 0; i < t->core.nloads; i++) {
		if (t->core.loads[i].end > t->core.loads[i].start)
			TRY(gm_memory_add_segment(&t->mem, &t->core.loads[i]));
	}
	t->bias = load_bias(&t->exe, &t->core);
	TRY(add_exe_ranges(t, t->bias));
	TRY(gm_memory_finish(&t->mem));
	TRY(check_exe_matches(t, t->bias));
	return gm_check_go_version(&t->exe);
}

/* The executable's first page (ELF and program headers, build ID) as the process maps it. */
static struct gomem_error *check_live_exe_matches(struct gm_target *t, uint64_t bias)
{
	for (size_t i = 0; i < t->exe.nloads; i++) {
		if (t->exe.loads[i].offset != 0)
			continue;
		uint64_t addr = t->exe.loads[i].vaddr + bias;
		uint8_t page[4096];
		size_t n =
		    t->exe.loads[i].filesz < sizeof(page) ? t->exe.loads[i].filesz : sizeof(page);
		if (n > t->exe.size)
			n = t->exe.size;
		struct gomem_error *err = gm_read(&t->mem, addr, page, n);
		if (err && gomem_error_code(err) != GOMEM_ERROR_FAULT)
			return err;
		bool differ = err || !same_first_page(page, t->exe.map, n);
		gomem_error_destroy(err);
		if (differ)
			return gm_error(GOMEM_ERROR_MISMATCH,
					"process %d is not running executable %s (its ELF headers "
					"are not at 0x%llx; executable's Go build ID %s)",
					t->pid, t->exe.path, (unsigned long long)addr,
					t->exe.go_build_id[0] ? t->exe.go_build_id : "unknown");
		return NULL;
	}
	return NULL;
}

/* A live target's executable; exe_name (if not NULL) is the name to show for it. */
static struct gomem_error *open_live_exe(struct gm_target *t, const char *exe_path,
					 const char *exe_name)
{
	t->exe_file = strdup(exe_path);
	if (!t->exe_file)
		return &gm_error_no_memory;
	TRY(gm_exe_open(exe_path, &t->exe));
	t->arch = t->exe.arch;
	if (exe_name && strcmp(exe_name, exe_path) != 0) {
		char *name = strdup(exe_name);
		if (!name)
			return &gm_error_no_memory;
		free(t->exe.path);
		t->exe.path = name;
	}
	return gm_check_go_version(&t->exe);
}

/* The rest of a live target, once t->live and its executable are open: its place, its check. */
static struct gomem_error *target_open_live(struct gm_target *t, uint64_t at_entry)
{
	t->source = GM_SOURCE_LIVE;
	t->mem.read_fn = gm_live_read;
	t->mem.read_arg = t->live;
	if (t->exe.e_type == ET_DYN && !at_entry)
		return gm_error(GOMEM_ERROR_FORMAT,
				"cannot place the PIE %s: the process's AT_ENTRY is unknown",
				t->exe.path);
	t->bias = t->exe.e_type == ET_DYN ? at_entry - t->exe.e_entry : 0;
	return check_live_exe_matches(t, t->bias);
}

/* Empty storage, which gm_target_deinit() releases harmlessly. */
static void target_clear(struct gm_target *t)
{
	memset(t, 0, sizeof(*t));
	t->exe.fd = -1;
	t->core.fd = -1;
	t->debug.fd = -1;
}

/*
 * /proc/PID/mem and ptrace read a process of the machine gomem runs on: an
 * executable for another one runs under an emulator, whose registers and
 * address space are the emulator's.
 */
static struct gomem_error *check_live_machine(struct gm_target *t)
{
	const struct gm_arch *host = gm_arch_host();
	if (!host || host == t->arch)
		return NULL;
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"process %d: executable %s is for %s (linux/%s), but gomem runs on %s: "
			"a live process is read on its own machine (read a core of it instead)",
			t->pid, t->exe.path, t->arch->name, t->arch->goarch, host->name);
}

/* The page size of a live process: AT_PAGESZ, which every Linux sets. */
static struct gomem_error *live_page_size(struct gm_target *t)
{
	if (t->page_size >= 4096 && (t->page_size & (t->page_size - 1)) == 0) {
		gm_live_set_page_size(t->live, t->page_size);
		return NULL;
	}
	return gm_error(GOMEM_ERROR_FORMAT,
			"process %d: no AT_PAGESZ in /proc/%d/auxv: its page size is unknown",
			t->pid, t->pid);
}

static struct gomem_error *target_open_pid(struct gm_target *t, int pid, const char *exe_path,
					   unsigned flags, const char *debug_file)
{
	t->pid = pid;
	char *open_path = NULL, *name = NULL;
	bool replaced = false;
	/* The executable first: a process that is not a Go program is never stopped. */
	struct gomem_error *err = NULL;
	if (!exe_path)
		err = gm_live_exe(pid, &open_path, &name, &replaced);
	if (!err)
		err = open_live_exe(t, exe_path ? exe_path : open_path, name);
	if (!err)
		err = check_live_machine(t);
	if (!err)
		err = open_debug_file(t, debug_file);
	if (!err)
		err = gm_live_create_pid(pid, flags, &t->live);
	uint64_t at_entry = 0;
	if (!err)
		err = gm_live_auxv(pid, &at_entry, &t->page_size);
	if (!err)
		err = live_page_size(t);
	if (!err)
		err = target_open_live(t, at_entry);
	if (!err && replaced)
		err = gm_target_warn(t,
				     "the executable %s was replaced or deleted on disk: read "
				     "the running one through /proc/%d/exe",
				     name, pid);
	t->read_running = !(flags & (GOMEM_PID_STOP | GOMEM_PID_STOPPED_BY_CALLER));
	if (!err && t->read_running)
		err = gm_target_warn(t,
				     "process %d was not stopped while it was read "
				     "(--no-stop): the view may be inconsistent",
				     pid);
	free(open_path);
	free(name);
	return err;
}

struct gomem_error *gm_target_init_pid(struct gm_target *t, int pid, const char *exe_path,
				       unsigned flags, const char *debug_file)
{
	target_clear(t);
	struct gomem_error *err = target_open_pid(t, pid, exe_path, flags, debug_file);
	if (err)
		gm_target_deinit(t);
	return err;
}

/*
 * A process read through a debugger: its auxiliary vector is not at hand,
 * so its page size is what its mappings' boundaries are aligned to.
 */
static struct gomem_error *callback_page_size(struct gm_target *t)
{
	const struct gm_mapping *m;
	size_t n;
	uint64_t bits = 0;
	struct gomem_error *err = gm_target_mappings(t, &m, &n);
	if (err && gomem_error_code(err) != GOMEM_ERROR_UNSUPPORTED)
		return err;
	for (size_t i = 0; !err && i < n; i++)
		bits |= m[i].start | m[i].end;
	gomem_error_destroy(err);
	/* Without the maps either, the debugger's machine's page size is the best guess. */
	long host_page = sysconf(_SC_PAGESIZE);
	t->page_size = bits	       ? page_size_of_bounds(bits)
		       : host_page > 0 ? (uint64_t)host_page
				       : 4096;
	gm_live_set_page_size(t->live, t->page_size);
	return NULL;
}

static struct gomem_error *target_open_callback(struct gm_target *t, const char *exe_path, int pid,
						uint64_t at_entry, const char *maps,
						gomem_read_fn read_fn, void *arg,
						const char *debug_file)
{
	t->pid = pid;
	TRY(open_live_exe(t, exe_path, NULL));
	TRY(open_debug_file(t, debug_file));
	TRY(gm_live_create_callback(pid, maps, read_fn, arg, &t->live));
	TRY(callback_page_size(t));
	TRY(target_open_live(t, at_entry));
	return gm_target_warn(t,
			      "residency unknown: process %d is read through the debugger, not "
			      "/proc",
			      pid);
}

struct gomem_error *gm_target_init_callback(struct gm_target *t, const char *exe_path, int pid,
					    uint64_t at_entry, const char *maps,
					    gomem_read_fn read_fn, void *arg,
					    const char *debug_file)
{
	target_clear(t);
	struct gomem_error *err =
	    target_open_callback(t, exe_path, pid, at_entry, maps, read_fn, arg, debug_file);
	if (err)
		gm_target_deinit(t);
	return err;
}

struct gomem_error *gm_target_warn(struct gm_target *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct gomem_error *err = gm_strlist_vadd(&t->warnings, &t->nwarnings, fmt, ap);
	va_end(ap);
	return err;
}

struct gomem_error *gm_target_init_core(struct gm_target *t, const char *exe_path,
					const char *core_path, const char *debug_file)
{
	target_clear(t);
	struct gomem_error *err = target_open_core(t, exe_path, core_path, debug_file);
	if (err)
		gm_target_deinit(t);
	return err;
}

static void free_mappings(struct gm_mapping *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

struct gomem_error *gm_target_stop(struct gm_target *t)
{
	if (!t->live || gm_live_stopped(t->live))
		return NULL;
	TRY(gm_live_stop(t->live));
	if (t->mappings && !gm_live_maps_unchanged(t->live, t->mappings, t->nmappings)) {
		free_mappings(t->mappings, t->nmappings);
		t->mappings = NULL;
		t->nmappings = 0;
	}
	return NULL;
}

void gm_target_resume(struct gm_target *t)
{
	if (t->live)
		gm_live_resume(t->live);
}

bool gm_target_pause(const struct gm_target *t, uint64_t *ns_ret, unsigned *stops_ret)
{
	uint64_t ns = 0;
	unsigned stops = 0;
	bool stops_it = t->live && gm_live_pause(t->live, &ns, &stops);
	*ns_ret = ns;
	*stops_ret = stops;
	return stops_it;
}

bool gm_target_stopped(const struct gm_target *t)
{
	return t->live && gm_live_stopped(t->live);
}

struct gomem_error *gm_target_snapshot(struct gm_target *t)
{
	return t->live ? gm_live_snapshot(t->live) : NULL;
}

struct gomem_error *gm_target_prepare_snapshot(struct gm_target *t)
{
	return t->live ? gm_live_prepare_snapshot(t->live) : NULL;
}

void gm_target_end_snapshot(struct gm_target *t)
{
	if (t->live)
		gm_live_end_snapshot(t->live);
}

bool gm_target_snapshot_taken(const struct gm_target *t, uint64_t *bytes_ret)
{
	*bytes_ret = 0;
	return t->live && gm_live_snapshot_taken(t->live, bytes_ret);
}

void gm_target_set_max_snapshot(struct gm_target *t, uint64_t bytes)
{
	if (t->live)
		gm_live_set_max_snapshot(t->live, bytes);
}

void gm_target_deinit(struct gm_target *t)
{
	gm_live_destroy(t->live); /* resumes a process that was stopped */
	gm_memory_deinit(&t->mem);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	free_mappings(t->mappings, t->nmappings);
	gm_libs_destroy(t->libs);
	gm_pclntab_destroy(t->pclntab);
	if (t->have_debug)
		gm_debug_file_deinit(&t->debug);
	if (t->have_core)
		gm_core_deinit(&t->core);
	gm_exe_deinit(&t->exe);
	free(t->exe_file);
	target_clear(t);
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct gm_mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The NT_FILE entry that covers [start, end), if any. */
static const struct gm_core_file *core_file_for(const struct gm_core *c, uint64_t start,
						uint64_t end)
{
	for (size_t i = 0; i < c->nfiles; i++) {
		if (c->files[i].start <= start && end <= c->files[i].end)
			return &c->files[i];
	}
	return NULL;
}

/* Whether [start, end) overlaps a PT_LOAD of the core. */
static bool overlaps_load(const struct gm_core *c, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < c->nloads; i++) {
		if (c->loads[i].start < end && start < c->loads[i].end)
			return true;
	}
	return false;
}

/*
 * MAP_SHARED or MAP_PRIVATE, as far as a core can tell. Memory that NT_FILE
 * does not name is private: shared anonymous memory is a shmem file, which
 * NT_FILE lists ("/dev/zero (deleted)"). A file mapping of which the core
 * holds pages is private: with the default coredump_filter (0x33, bit 3
 * clear) neither the kernel (fs/coredump.c, vma_dump_size) nor GDB
 * (linux-tdep.c, dump_mapping_p) dumps a MAP_SHARED mapping of a file that
 * still has a name, while a private one is dumped once written, or its
 * first page when it holds an ELF header. A shared mapping of an unlinked
 * file (shmem, memfd: "... (deleted)") is dumped too, so those, and file
 * mappings without a page in the core, are '?'; so is everything in a core
 * without NT_FILE (QEMU's), which does not say what is a file.
 */
static char core_share(const struct gm_core *c, const struct gm_core_file *f, bool dumped)
{
	static const char deleted[] = " (deleted)";
	size_t n = sizeof(deleted) - 1;
	if (!f)
		return c->nfiles ? 'p' : '?';
	if (!dumped || (f->path_len >= n && memcmp(f->path + f->path_len - n, deleted, n) == 0))
		return '?';
	return 'p';
}

/*
 * GDB's gcore leaves out file-backed mappings it thinks the files can
 * restore (text, read-only data), but lists them in NT_FILE: add them, as
 * readable (their permissions are not recorded) and not in the core.
 */
static struct gomem_error *gcore_file_mappings(const struct gm_core *c, struct gm_mapping *maps,
					       size_t *n)
{
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct gm_core_file *f = &c->files[i];
		if (f->end <= f->start || overlaps_load(c, f->start, f->end))
			continue;
		struct gm_mapping *m = &maps[(*n)++];
		m->start = f->start;
		m->end = f->end;
		m->flags = PF_R;
		m->share = '?';
		m->offset = f->offset;
		m->path = strndup(f->path, f->path_len);
		if (!m->path)
			return &gm_error_no_memory;
	}
	return NULL;
}

/* The mapping of a core's PT_LOAD segment s: its file and offset from NT_FILE. */
static struct gomem_error *load_mapping(const struct gm_core *c, const struct gm_segment *s,
					struct gm_mapping *m)
{
	m->start = s->start;
	m->end = s->end;
	m->flags = s->flags;
	m->in_core = s->data_len > 0;
	const struct gm_core_file *f = core_file_for(c, s->start, s->end);
	m->share = core_share(c, f, m->in_core);
	if (f) {
		m->offset = f->offset + (s->start - f->start);
		m->path = strndup(f->path, f->path_len);
		if (!m->path || gm_fault_injected("core mapping path", m->path))
			return &gm_error_no_memory;
	} else if (c->arch->vsyscall_addr && s->start == c->arch->vsyscall_addr) {
		m->path = strdup("[vsyscall]");
		if (!m->path)
			return &gm_error_no_memory;
	}
	return NULL;
}

/*
 * The mappings of a core: its PT_LOADs, and for a gcore the files it left
 * out; a QEMU guest core names no file, but the dynamic linker's list does.
 */
static struct gomem_error *core_mappings(struct gm_target *t, struct gm_mapping **ret,
					 size_t *n_ret)
{
	const struct gm_core *c = &t->core;
	struct gm_mapping *maps = calloc(c->nloads + c->nfiles + 1, sizeof(*maps));
	size_t n = 0;
	struct gomem_error *err = maps ? NULL : &gm_error_no_memory;
	for (size_t i = 0; !err && i < c->nloads; i++) {
		if (c->loads[i].end > c->loads[i].start)
			err = load_mapping(c, &c->loads[i], &maps[n++]);
	}
	if (!err && c->kind == GM_CORE_GCORE)
		err = gcore_file_mappings(c, maps, &n);
	if (!err)
		gm_sort(maps, n, sizeof(*maps), cmp_mapping);
	if (!err && !c->nfiles)
		err = gm_linkmap_name_mappings(t, maps, n);
	if (err) {
		free_mappings(maps, maps ? n : 0);
		return err;
	}
	*ret = maps;
	*n_ret = n;
	return NULL;
}

struct gomem_error *gm_target_mappings(struct gm_target *t, const struct gm_mapping **ret,
				       size_t *n_ret)
{
	if (!t->mappings) {
		/* Built on first use, and kept only when whole. */
		struct gm_mapping *maps;
		size_t n;
		struct gomem_error *err =
		    t->live ? gm_live_mappings(t->live, &maps, &n) : core_mappings(t, &maps, &n);
		if (err)
			return err;
		t->mappings = maps;
		t->nmappings = n;
	}
	*ret = t->mappings;
	*n_ret = t->nmappings;
	return NULL;
}

bool gm_target_residency_known(const struct gm_target *t)
{
	if (t->live)
		return gm_live_residency_known(t->live);
	return t->source == GM_SOURCE_CORE && t->have_core && t->core.holes_untouched;
}

const char *gm_target_residency_why(const struct gm_target *t)
{
	if (gm_target_residency_known(t))
		return NULL;
	if (!t->have_core)
		return t->live ? "the process's pages cannot be read (/proc/PID/pagemap)" : NULL;
	switch (t->core.kind) {
	case GM_CORE_QEMU:
		return "it was written by QEMU (qemu-user), which writes every page, so it cannot "
		       "tell resident pages from untouched ones";
	case GM_CORE_GCORE:
		return "it was not written by the kernel (gcore writes every page, so it cannot "
		       "tell resident pages from untouched ones)";
	case GM_CORE_KERNEL:
	default:
		return NULL;
	}
}

/*
 * Calls fn for the part [a, z) of each core segment in [start, end) that
 * the file has bytes for (by its header; holes are the caller's business).
 */
static void foreach_segment_bytes(struct gm_target *t, uint64_t start, uint64_t end,
				  void (*fn)(void *arg, const struct gm_segment *s, uint64_t a,
					     uint64_t z),
				  void *arg)
{
	const struct gm_memory *mem = &t->mem;
	for (size_t i = gm_memory_first_segment_after(mem, start);
	     i < mem->nsegs && mem->segs[i].start < end; i++) {
		const struct gm_segment *s = &mem->segs[i];
		uint64_t a = s->start > start ? s->start : start;
		uint64_t z = s->end < end ? s->end : end;
		if (z > s->start + s->data_len)
			z = s->start + s->data_len;
		if (a < z)
			fn(arg, s, a, z);
	}
}

struct count_data {
	const struct gm_core *core;
	uint64_t total;
};

static void count_data(void *arg, const struct gm_segment *s, uint64_t a, uint64_t z)
{
	struct count_data *c = arg;
	c->total += gm_core_data_bytes(c->core, s->file_offset + (a - s->start), z - a);
}

/* Resident bytes of [start, end) in a kernel core: pages present in the file, not holes. */
static uint64_t core_resident(struct gm_target *t, uint64_t start, uint64_t end)
{
	struct count_data c = {&t->core, 0};
	foreach_segment_bytes(t, start, end, count_data, &c);
	return c.total;
}

uint64_t gm_target_resident(struct gm_target *t, uint64_t start, uint64_t end)
{
	if (!gm_target_residency_known(t) || end <= start)
		return 0;
	if (t->live) {
		/* pagemap and smaps are read with the mappings. */
		const struct gm_mapping *m;
		size_t n;
		struct gomem_error *err = gm_target_mappings(t, &m, &n);
		if (err) {
			gomem_error_destroy(err);
			return 0;
		}
		return gm_live_resident(t->live, start, end);
	}
	return core_resident(t, start, end);
}

struct gomem_error *gm_target_vsz(struct gm_target *t, uint64_t *ret)
{
	const struct gm_mapping *m;
	size_t n;
	struct gomem_error *err = gm_target_mappings(t, &m, &n);
	if (err)
		return err;
	uint64_t vsz = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gm_target_is_vsyscall(t, m[i].start))
			vsz += m[i].end - m[i].start;
	}
	*ret = vsz;
	return NULL;
}

/* Go 1.19 is the oldest release gomem reads; releases after 1.27 get a warning. */
struct gomem_error *gm_check_go_version(const struct gm_exe *exe)
{
	unsigned major = 0, minor = 0;
	const char *v = exe->go_version;
	const char *p = strstr(v, "go1.");
	if (!p || sscanf(p, "go%u.%u", &major, &minor) != 2)
		return NULL; /* a development build: let the layout checks decide */
	if (major == 1 && minor < 19)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s was built by %s; gomem reads Go 1.19 and newer", exe->path, v);
	return NULL;
}

bool gm_go_version_newer_than_tested(const struct gm_exe *exe)
{
	unsigned major = 0, minor = 0;
	const char *p = strstr(exe->go_version, "go1.");
	return p && sscanf(p, "go%u.%u", &major, &minor) == 2 && major == 1 &&
	       minor > GM_NEWEST_TESTED_GO_MINOR;
}

bool gm_target_is_vsyscall(const struct gm_target *t, uint64_t start)
{
	return t->arch && t->arch->vsyscall_addr && start == t->arch->vsyscall_addr;
}

bool gm_target_is_gcore(const struct gm_target *t)
{
	return t->have_core && t->core.kind == GM_CORE_GCORE;
}

const char *gm_target_core_kind(const struct gm_target *t)
{
	return t->have_core ? gm_core_kind_name(t->core.kind) : NULL;
}

void gm_target_threads(const struct gm_target *t, const struct gm_core_thread **ret, size_t *n_ret)
{
	*ret = NULL;
	*n_ret = 0;
	if (t->live)
		gm_live_threads(t->live, ret, n_ret);
	else if (t->have_core) {
		*ret = t->core.threads;
		*n_ret = t->core.nthreads;
	}
}

void gm_target_notes(const struct gm_target *t, struct gm_target_notes *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (t->live) {
		ret->tgid = t->pid > 0 ? (uint64_t)t->pid : 0;
		gm_live_threads(t->live, &ret->threads, &ret->nthreads);
		return;
	}
	if (!t->have_core)
		return;
	const struct gm_core *c = &t->core;
	ret->vdso = c->at_sysinfo_ehdr;
	ret->at_random = c->at_random;
	ret->tgid = c->prpsinfo_pid > 0 ? (uint64_t)c->prpsinfo_pid : 0;
	ret->threads = c->threads;
	ret->nthreads = c->nthreads;
}

/* A core segment's stretches of data, handed on by address. */
struct seg_extents {
	const struct gm_core *core;
	const struct gm_segment *s;
	gm_extent_fn fn;
	void *arg;
};

static void seg_extent(void *arg, uint64_t off, uint64_t len)
{
	struct seg_extents *se = arg;
	const struct gm_segment *s = se->s;
	se->fn(se->arg, s->start + (off - s->file_offset), len, s->data + (off - s->file_offset));
}

static void segment_extents(void *arg, const struct gm_segment *s, uint64_t a, uint64_t z)
{
	struct seg_extents *se = arg;
	se->s = s;
	gm_core_foreach_data(se->core, s->file_offset + (a - s->start), z - a, seg_extent, se);
}

void gm_target_foreach_dumped(struct gm_target *t, uint64_t start, uint64_t end, gm_extent_fn fn,
			      void *arg)
{
	struct seg_extents se = {&t->core, NULL, fn, arg};
	foreach_segment_bytes(t, start, end, segment_extents, &se);
}

void gm_target_foreach_resident(struct gm_target *t, uint64_t start, uint64_t end, gm_extent_fn fn,
				void *arg)
{
	if (!gm_target_residency_known(t))
		return;
	if (t->source == GM_SOURCE_CORE) {
		gm_target_foreach_dumped(t, start, end, fn, arg);
		return;
	}
	uint64_t page = t->page_size;
	for (uint64_t a = start & ~(page - 1); a < end; a += page) {
		uint64_t lo = a > start ? a : start, hi = a + page < end ? a + page : end;
		if (gm_target_resident(t, lo, hi))
			fn(arg, lo, hi - lo, NULL);
	}
}

const char *gm_perms(uint32_t flags, char share, char buf[5])
{
	buf[0] = flags & PF_R ? 'r' : '-';
	buf[1] = flags & PF_W ? 'w' : '-';
	buf[2] = flags & PF_X ? 'x' : '-';
	buf[3] = share == 's' || share == 'p' ? share : '?';
	buf[4] = '\0';
	return buf;
}
