/*
 * Fuzz target: the unwinder and the stack roots (runtime/frames.c,
 * objects/stackroots.c) on a real fixture core with patches.
 *
 * GOMEM_FUZZ_EXE and GOMEM_FUZZ_CORE name a fixture's executable and its
 * core, copied once. Each input is a list of patch records (fuzz.h) over
 * what the unwinder reads: each G (sched, syscallpc/sp, stack bounds,
 * _defer, _panic, status), each M, the used part of each goroutine's stack
 * (return addresses, saved frame pointers, locals, stack objects), the
 * defer records, and the threads' registers (the NT_PRSTATUS notes). Then
 * gm_stack_roots() over every goroutine: a corrupt stack must cost its own
 * precision (counted as conservative), never a crash, a loop or unbounded
 * memory; an error must be one line.
 */
#include "fuzz.h"
#include "objects/stackroots.h"

#include <elf.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum kind {
	K_GS,	  /* each G of allgs, each M of allm */
	K_STACKS, /* [sched.sp or syscallsp, hi) of each goroutine */
	K_DEFERS, /* each defer record of each G */
	K_NOTES,  /* every PT_NOTE (the threads' registers) */
	K_COUNT
};

static struct fz_file exe_file, core_file;
static struct gm_dwarf *dwarf;
static struct fz_regions lists[K_COUNT];

static void add_addr(enum kind k, struct gomem_target *t, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < t->target.core.nloads && len; i++) {
		const struct gm_segment *s = &t->target.core.loads[i];
		uint64_t data_end = s->start + s->data_len;
		if (addr >= data_end || addr + len <= s->start)
			continue;
		uint64_t a = addr > s->start ? addr : s->start;
		uint64_t b = addr + len < data_end ? addr + len : data_end;
		fz_regions_add(&lists[k], s->file_offset + (a - s->start), b - a);
	}
}

static uint64_t rd64(struct gomem_target *t, uint64_t addr)
{
	uint64_t v = 0;
	struct gomem_error *err = gm_read_u64(&t->target.mem, addr, &v);
	gomem_error_destroy(err);
	return err ? 0 : v;
}

static void add_notes(struct gomem_target *t, const uint8_t *core, uint64_t size)
{
	(void)t;
	Elf64_Ehdr eh;
	if (size < sizeof(eh))
		return;
	memcpy(&eh, core, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off = eh.e_phoff + (uint64_t)i * sizeof(ph);
		if (off + sizeof(ph) > size)
			break;
		memcpy(&ph, core + off, sizeof(ph));
		if (ph.p_type == PT_NOTE)
			fz_regions_add(&lists[K_NOTES], ph.p_offset, ph.p_filesz);
	}
}

static void add_goroutines(struct gomem_target *t)
{
	struct gm_runtime *rt = t->runtime;
	const struct gm_frames_layout *L;
	const struct gm_sched_layout *S;
	struct gm_sched sched;
	fz_check_error(gm_runtime_frames_layout(rt, &L));
	fz_check_error(gm_runtime_sched_layout(rt, &S));
	if (gm_sched_read(rt, GM_SCHED_THREADS | GM_SCHED_GOROUTINES, &sched))
		fz_die("the unpatched fixture's Gs do not read", NULL);
	for (size_t i = 0; i < sched.ngs; i++) {
		const struct gm_goroutine *g = &sched.gs[i];
		add_addr(K_GS, t, g->g, S->g_size);
		if (gm_goroutine_dead(g) || !g->lo)
			continue;
		uint64_t sp = rd64(t, g->g + L->g_syscallsp.offset);
		if (!sp)
			sp = rd64(t, g->g + L->g_sched_sp.offset);
		if (sp >= g->lo && sp < g->hi)
			add_addr(K_STACKS, t, sp, g->hi - sp);
		uint64_t d = rd64(t, g->g + L->g_defer.offset);
		for (int j = 0; d && j < 64; j++) {
			add_addr(K_DEFERS, t, d, L->defer_link.offset + 8);
			d = rd64(t, d + L->defer_link.offset);
		}
	}
	for (size_t i = 0; i < sched.nthreads; i++)
		add_addr(K_GS, t, sched.threads[i].m, 1024);
	gm_sched_deinit(&sched);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_file_copy(&exe_file, fz_env("GOMEM_FUZZ_EXE"));
	fz_file_copy(&core_file, fz_env("GOMEM_FUZZ_CORE"));
	struct gomem_error *err = gm_dwarf_open(exe_file.path, &dwarf);
	struct gomem_target *t = NULL;
	if (!err)
		err = gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
	if (err)
		fz_die("the unpatched fixture does not open", gomem_error_message(err));
	uint8_t *core = malloc(core_file.size ? core_file.size : 1);
	if (!core || pread(core_file.fd, core, core_file.size, 0) != (ssize_t)core_file.size)
		fz_die("reading the core", NULL);
	add_notes(t, core, core_file.size);
	free(core);
	add_goroutines(t);
	gomem_target_destroy(t);
	for (int k = 0; k < K_COUNT; k++)
		fprintf(stderr, "fuzz_stacks: region list %d: %zu regions\n", k, lists[k].n);
	return 0;
}

static void patch_core(void *arg, unsigned kind, uint64_t at, const uint8_t *bytes, size_t len)
{
	(void)kind;
	fz_patch(arg, at, bytes, len);
}

struct tally {
	uint64_t slots;
};

static struct gomem_error *on_slot(void *arg, const struct gm_stack_slot *s)
{
	struct tally *t = arg;
	if (!s->value || (unsigned)s->kind > GM_STACK_SLOT_CONSERVATIVE)
		fz_die("a slot that should not be given", NULL);
	t->slots++;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_overlay core = {.file = &core_file};
	fz_each_record(lists, K_COUNT, data, size, patch_core, &core);
	struct gomem_target *t = NULL;
	struct gomem_error *err =
	    gm_target_open_core_dwarf(exe_file.path, core_file.path, dwarf, &t);
	if (!err) {
		struct tally tally = {0};
		struct gm_stack_roots_stats st;
		err = gm_stack_roots(t->runtime, on_slot, &tally, &st);
		if (!err && (st.slots != tally.slots || st.frames_conservative > st.frames))
			fz_die("the stack roots' counts disagree", NULL);
		gomem_target_destroy(t);
	}
	fz_check_error(err);
	fz_restore(&core);
	return 0;
}
