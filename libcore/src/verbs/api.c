/*
 * The public targets: a target (target/) with the DWARF of its executable
 * and its Go runtime (runtime/) on top. The layers below never see a
 * struct gomem_target.
 */
#define _GNU_SOURCE
#include <string.h>

#include "verbs/verbs.h"

/* The DWARF (dwarf when borrowed, else opened from path) and the runtime of t. */
static struct gomem_error *add_runtime(struct gomem_target *t, const char *path,
				       struct gm_dwarf *dwarf)
{
	if (dwarf) {
		t->dwarf = dwarf;
		t->dwarf_borrowed = true;
	} else {
		TRY(gm_dwarf_open(path, &t->dwarf));
	}
	return gm_runtime_create(t->dwarf, &t->target, &t->runtime);
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
	struct gomem_error *err = gm_target_init_core(&t->target, exe_path, core_path);
	if (!err)
		err = add_runtime(t, exe_path, dwarf);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_core(const char *exe_path, const char *core_path,
					   struct gomem_target **ret)
{
	return gm_target_open_core_dwarf(exe_path, core_path, NULL, ret);
}

struct gomem_error *gomem_target_open_pid(int pid, const char *exe_path, unsigned flags,
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
	struct gomem_error *err = gm_target_init_pid(&t->target, pid, exe_path, flags);
	if (!err)
		err = add_runtime(t, t->target.exe_file, NULL);
	return finish(t, err, ret);
}

struct gomem_error *gomem_target_open_callback(const char *exe_path, int pid, uint64_t at_entry,
					       const char *maps, gomem_read_fn read_fn, void *arg,
					       struct gomem_target **ret)
{
	if (!exe_path || !read_fn || !ret)
		return gm_error(GOMEM_ERROR_USAGE, "an executable and a read callback are needed");
	struct gomem_target *t = calloc(1, sizeof(*t));
	if (!t)
		return &gm_error_no_memory;
	struct gomem_error *err =
	    gm_target_init_callback(&t->target, exe_path, pid, at_entry, maps, read_fn, arg);
	if (!err)
		err = add_runtime(t, exe_path, NULL);
	return finish(t, err, ret);
}

void gomem_target_destroy(struct gomem_target *t)
{
	if (!t)
		return;
	gm_runtime_destroy(t->runtime);
	if (!t->dwarf_borrowed)
		gm_dwarf_destroy(t->dwarf);
	gm_target_deinit(&t->target); /* resumes a process that was stopped */
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
