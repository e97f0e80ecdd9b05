/*
 * The public targets: a target (target/) with the DWARF of its executable
 * and its Go runtime (runtime/) on top. The layers below never see a
 * struct gomem_target.
 */
#define _GNU_SOURCE
#include <string.h>

#include "objects/typing.h"
#include "verbs/verbs.h"

/*
 * Without DWARF every layout is resolved at once, so that what the code
 * patterns did not find is known before any verb runs, and said once in
 * every report. A layout that fails here fails again, with its error, in
 * the verb that needs it.
 */
static struct gomem_error *note_missing_dwarf(struct gomem_target *t)
{
	const char *why = gm_dwarf_description(t->dwarf);
	if (!why)
		return NULL;
	gomem_error_destroy(gm_runtime_resolve_every_layout(t->runtime));
	TRY(gm_target_warn(&t->target, "%s", why));
	for (size_t i = 0; i < gm_dwarf_nnotes(t->dwarf); i++)
		TRY(gm_target_warn(&t->target, "without DWARF, not found in the code: %s",
				   gm_dwarf_note(t->dwarf, i)));
	return NULL;
}

/* The DWARF (dwarf when borrowed, else the one for its executable) and the runtime of t. */
static struct gomem_error *add_runtime(struct gomem_target *t, struct gm_dwarf *dwarf,
				       const char *layout_from)
{
	struct gm_target *tg = &t->target;
	if (dwarf) {
		t->dwarf = dwarf;
		t->dwarf_borrowed = true;
	} else {
		/* The function table is read only when there is no DWARF to ask. */
		bool code = !tg->have_debug && !tg->exe.has_dwarf;
		TRY(gm_dwarf_open_for(&tg->exe, tg->have_debug ? &tg->debug : NULL,
				      code ? gm_target_pclntab(tg) : NULL, layout_from, &t->dwarf));
	}
	TRY(gm_runtime_create(t->dwarf, tg, &t->runtime));
	return note_missing_dwarf(t);
}

/* Keeps the options, for the verbs that open another target the same way (diff). */
static struct gomem_error *keep_options(struct gomem_target *t, const char *debug_file,
					const char *layout_from)
{
	if (debug_file && !(t->debug_file = strdup(debug_file)))
		return &gm_error_no_memory;
	if (layout_from && !(t->layout_from = strdup(layout_from)))
		return &gm_error_no_memory;
	return NULL;
}

/* Hands t to *ret, or destroys it when err. */
static struct gomem_error *finish(struct gomem_target *t, struct gomem_error *err,
				  struct gomem_target **ret)
{
	if (err) {
		gomem_target_destroy(t);
		return err;
	}
	*ret = t;
	return NULL;
}

struct gomem_error *gm_target_open_core_dwarf(const char *exe_path, const char *core_path,
					      struct gm_dwarf *dwarf, struct gomem_target **ret)
{
	if (!exe_path || !core_path || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "an executable and a core file are needed");
	struct gomem_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_target_init_core(&t->target, exe_path, core_path, NULL);
	if (!err)
		err = add_runtime(t, dwarf, NULL);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_core_with(const char *exe_path, const char *core_path,
						const char *debug_file, const char *layout_from,
						struct gomem_target **ret)
{
	if (!exe_path || !core_path || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "an executable and a core file are needed");
	struct gomem_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	struct gomem_error *err = keep_options(t, debug_file, layout_from);
	if (!err)
		err = gm_target_init_core(&t->target, exe_path, core_path, debug_file);
	if (!err)
		err = add_runtime(t, NULL, layout_from);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_core(const char *exe_path, const char *core_path,
					   struct gomem_target **ret)
{
	return gomem_target_open_core_with(exe_path, core_path, NULL, NULL, ret);
}

/*
 * Everything that needs no memory of a process gomem will stop, done while
 * it runs: every layout, the function table, the mappings with smaps (read
 * again, stopped, only if they changed), and the pages resident in them:
 * an address space built once and dropped leaves the pagemap bitmaps of the
 * mappings it cuts read (target/live.c keeps one read per mapping), and the
 * shared libraries opened. Residency is a moment of a running process
 * anyway; the runtime's structures are read again once it is stopped. What
 * fails here fails again, with its error, in the verb that needs it.
 */
static void prepare_before_stop(struct gomem_target *t)
{
	const struct gm_mapping *m;
	size_t n;
	struct gm_addrspace *as = NULL;
	gomem_error_destroy(gm_runtime_resolve_every_layout(t->runtime));
	gm_target_pclntab(&t->target);
	struct gomem_error *err = gm_target_mappings(&t->target, &m, &n);
	if (!err)
		err = gm_addrspace_build(&t->target, t->runtime, &as);
	gomem_error_destroy(err);
	gm_addrspace_destroy(as);
}

struct gomem_error *gomem_target_open_pid_with(int pid, const char *exe_path, unsigned flags,
					       const char *debug_file, const char *layout_from,
					       struct gomem_target **ret)
{
	if (!ret)
		return gm_error(GOMEM_ERROR_USAGE, "gomem_target_open_pid: missing argument");
	if ((flags & GOMEM_PID_STOP) && (flags & GOMEM_PID_STOPPED_BY_CALLER))
		return gm_error(GOMEM_ERROR_USAGE,
				"gomem_target_open_pid: STOP and STOPPED_BY_CALLER exclude "
				"each other");
	struct gomem_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	struct gomem_error *err = keep_options(t, debug_file, layout_from);
	if (!err)
		err = gm_target_init_pid(&t->target, pid, exe_path, flags, debug_file);
	if (!err)
		err = add_runtime(t, NULL, layout_from);
	if (!err && (flags & GOMEM_PID_STOP))
		prepare_before_stop(t);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_pid(int pid, const char *exe_path, unsigned flags,
					  struct gomem_target **ret)
{
	return gomem_target_open_pid_with(pid, exe_path, flags, NULL, NULL, ret);
}

struct gomem_error *gomem_target_open_callback_with(const char *exe_path, int pid,
						    uint64_t at_entry, const char *maps,
						    gomem_read_fn read_fn, void *arg,
						    const char *debug_file, const char *layout_from,
						    struct gomem_target **ret)
{
	if (!exe_path || !read_fn || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "an executable and a read callback are needed");
	struct gomem_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	struct gomem_error *err = keep_options(t, debug_file, layout_from);
	if (!err)
		err = gm_target_init_callback(&t->target, exe_path, pid, at_entry, maps, read_fn,
					      arg, debug_file);
	if (!err)
		err = add_runtime(t, NULL, layout_from);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_callback(const char *exe_path, int pid, uint64_t at_entry,
					       const char *maps, gomem_read_fn read_fn, void *arg,
					       struct gomem_target **ret)
{
	return gomem_target_open_callback_with(exe_path, pid, at_entry, maps, read_fn, arg, NULL,
					       NULL, ret);
}

void gomem_target_set_max_snapshot(struct gomem_target *t, uint64_t bytes)
{
	if (t)
		gm_target_set_max_snapshot(&t->target, bytes);
}

void gomem_target_destroy(struct gomem_target *t)
{
	if (!t)
		return;
	gm_typing_destroy(t->typing);
	gm_graph_destroy(t->graph);
	gm_runtime_destroy(t->runtime);
	if (!t->dwarf_borrowed)
		gm_dwarf_destroy(t->dwarf);
	gm_target_deinit(&t->target); /* resumes a process that was stopped */
	free(t->debug_file);
	free(t->layout_from);
	free(t);
}

const char *gomem_version(void)
{
	return GOMEM_VERSION;
}

void gomem_free(void *p)
{
	free(p);
}
