/*
 * Fuzz target: arbitrary bytes as an ELF core file.
 *
 * The core reader (headers, notes, PT_LOADs), then the memory reader over
 * its segments (reads inside, at the edges of and across segments, and in
 * their absent parts), then the residency query. With GOMEM_FUZZ_EXE set to
 * a Go executable, also opens a target of the two as gomem_target_open_core()
 * does (with the executable's DWARF opened once) and, when that opens, runs
 * the summary and the mappings: a seed that holds the executable's
 * first page at its address gets past the executable check.
 */
#include "fuzz.h"

static struct fz_file core_file, exe_file;
static struct gm_dwarf *dwarf; /* the executable's, opened once; NULL without one */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_file_create(&core_file, "core");
	const char *exe = getenv("GOMEM_FUZZ_EXE");
	if (exe && *exe) {
		fz_file_copy(&exe_file, exe);
		struct gomem_error *err = gm_dwarf_open(exe_file.path, &dwarf);
		if (err)
			fz_die("GOMEM_FUZZ_EXE", gomem_error_message(err));
	}
	return 0;
}

static void read_around(struct gm_memory *mem, uint64_t addr)
{
	uint8_t buf[64];
	static const uint64_t deltas[] = {0, 1, 7, 8, 4095, 4096};
	for (size_t i = 0; i < GM_ARRAY_SIZE(deltas); i++) {
		fz_check_error(gm_read(mem, addr + deltas[i], buf, sizeof(buf)));
		fz_check_error(gm_read(mem, addr - deltas[i] - 1, buf, 16));
		uint64_t v;
		fz_check_error(gm_read_uint(mem, addr + deltas[i], 1u << (i % 4), &v));
	}
}

static void exercise_memory(struct gm_core *core)
{
	struct gm_memory mem;
	memset(&mem, 0, sizeof(mem));
	struct gomem_error *err = NULL;
	for (size_t i = 0; !err && i < core->nloads; i++) {
		if (core->loads[i].end > core->loads[i].start)
			err = gm_memory_add_segment(&mem, &core->loads[i]);
	}
	if (!err)
		err = gm_memory_finish(&mem);
	if (!err) {
		size_t n = mem.nsegs < 64 ? mem.nsegs : 64;
		for (size_t i = 0; i < n; i++) {
			const struct gm_segment *s = &mem.segs[i];
			read_around(&mem, s->start);
			read_around(&mem, s->end - 1);
			read_around(&mem, s->start + s->data_len);
			/* A pointer the segment holds, as a walker would follow it. */
			uint64_t p;
			if (s->data_len >= 8) {
				memcpy(&p, s->data, 8);
				read_around(&mem, p);
			}
			(void)gm_memory_find(&mem, s->start);
			(void)gm_core_data_bytes(core, s->file_offset, s->end - s->start);
		}
		(void)gm_core_data_bytes(core, 0, UINT64_MAX);
	}
	fz_check_error(err);
	gm_memory_deinit(&mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_file_set(&core_file, data, size);
	struct gm_core core;
	struct gomem_error *err = gm_core_open(core_file.path, &core);
	if (err) {
		fz_check_error(err);
		return 0;
	}
	for (size_t i = 0; i < core.nwarnings; i++) {
		if (!core.warnings[i] || strchr(core.warnings[i], '\n'))
			fz_die("a core warning is not one line", core.warnings[i]);
	}
	exercise_memory(&core);
	gm_core_deinit(&core);
	if (dwarf) {
		struct gomem_target *t = NULL;
		err = gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
		if (!err) {
			fz_run_verb(t, 0, 0);
			fz_run_verb(t, 2, 0);
			gomem_target_destroy(t);
		}
		fz_check_error(err);
	}
	return 0;
}
