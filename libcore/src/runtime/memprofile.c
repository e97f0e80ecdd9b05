/*
 * The runtime's memory-profile buckets (mprof.go), as runtime.MemProfile
 * reads them.
 *
 * A bucket (runtime.bucket, persistentalloc'd, never freed) is a header
 * {next, allnext, typ, hash, size, nstk}, then nstk return pcs, then a
 * memRecord: the published counts (active) and a ring of three cycles
 * (future) that mallocs (cycle C+2) and sweep frees (C+1) count into. At
 * each GC's mark termination the cycle advances and cycle C is added to
 * active (mProf_Flush); MemProfile adds cycle C itself first, in case it
 * runs between the two. All memory-profile buckets are on one list,
 * runtime.mbuckets, through allnext, newest first.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime/memprofile.h"

/* Where the fields are in this binary (DWARF). */
struct mprof_layout {
	uint64_t mbuckets, cycle_addr, rate_addr, disable_addr, buckhash_sys_addr;
	struct gm_field cycle_value, b_typ, b_size, b_nstk, b_allnext;
	uint64_t bucket_size, record_size;
	struct gm_field r_active, r_future;
	struct gm_field c_allocs, c_frees, c_alloc_bytes, c_free_bytes;
	uint64_t max_stack;
};

static struct gomem_error *field(struct gm_runtime *rt, const char *type, const char *path,
				 struct gm_field *f)
{
	TRY(gm_dwarf_field(rt->dw, type, path, f));
	if (!f->present)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported Go runtime layout (%s): %s has no field %s",
				rt->go_version, type, path);
	return NULL;
}

static struct gomem_error *variable(struct gm_runtime *rt, const char *name, uint64_t *ret)
{
	uint64_t addr;
	TRY(gm_dwarf_variable(rt->dw, name, &addr));
	*ret = addr + rt->bias;
	return NULL;
}

static struct gomem_error *resolve(struct gm_runtime *rt, struct mprof_layout *L)
{
	memset(L, 0, sizeof(*L));
	/* atomic.UnsafePointer since 1.19: its pointer is its only member with a size. */
	TRY(variable(rt, "runtime.mbuckets", &L->mbuckets));
	TRY(variable(rt, "runtime.mProfCycle", &L->cycle_addr));
	TRY(field(rt, "runtime.mProfCycleHolder", "value", &L->cycle_value));
	TRY(variable(rt, "runtime.MemProfileRate", &L->rate_addr));
	/* Set by the linker when nothing reads the profile (malloc.go, mallocinit). */
	if (gm_dwarf_has_variable(rt->dw, "runtime.disableMemoryProfiling"))
		TRY(variable(rt, "runtime.disableMemoryProfiling", &L->disable_addr));
	L->buckhash_sys_addr = rt->memstats + rt->L.ms_buckhash_sys.offset;
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.bucket", &L->bucket_size));
	TRY(field(rt, "runtime.bucket", "allnext", &L->b_allnext));
	TRY(field(rt, "runtime.bucket", "typ", &L->b_typ));
	TRY(field(rt, "runtime.bucket", "size", &L->b_size));
	TRY(field(rt, "runtime.bucket", "nstk", &L->b_nstk));
	TRY(gm_dwarf_sizeof(rt->dw, "runtime.memRecord", &L->record_size));
	TRY(field(rt, "runtime.memRecord", "active", &L->r_active));
	TRY(field(rt, "runtime.memRecord", "future", &L->r_future));
	TRY(field(rt, "runtime.memRecordCycle", "allocs", &L->c_allocs));
	TRY(field(rt, "runtime.memRecordCycle", "frees", &L->c_frees));
	/* memRecordCycle counts only objects from 1.27 (bytes = count * bucket.size). */
	TRY(gm_dwarf_field(rt->dw, "runtime.memRecordCycle", "alloc_bytes", &L->c_alloc_bytes));
	TRY(gm_dwarf_field(rt->dw, "runtime.memRecordCycle", "free_bytes", &L->c_free_bytes));
	uint64_t header_max = 4096, record_max = 4096;
	if (L->bucket_size == 0 || L->bucket_size > header_max || L->record_size == 0 ||
	    L->record_size > record_max || L->r_future.count != 3 ||
	    L->r_future.elem_size * 3 > L->record_size)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"unsupported Go runtime layout (%s): runtime.bucket or memRecord",
				rt->go_version);
	int64_t depth;
	if (gm_dwarf_has_constant(rt->dw, "runtime.maxProfStackDepth"))
		TRY(gm_dwarf_constant(rt->dw, "runtime.maxProfStackDepth", &depth));
	else if (gm_dwarf_has_constant(rt->dw, "runtime.maxStack"))
		TRY(gm_dwarf_constant(rt->dw, "runtime.maxStack", &depth));
	else
		depth = GM_MEMPROFILE_MAX_STACK;
	L->max_stack = depth > 0 && depth <= GM_MEMPROFILE_MAX_STACK ? (uint64_t)depth
								     : GM_MEMPROFILE_MAX_STACK;
	return NULL;
}

static void warn(struct gm_memprofile *mp, const char *fmt, ...) GM_PRINTF(2, 3);
static void warn(struct gm_memprofile *mp, const char *fmt, ...)
{
	va_list ap;
	mp->partial = true;
	va_start(ap, fmt);
	struct gomem_error *err = gm_strlist_vadd(&mp->warnings, &mp->nwarnings, fmt, ap);
	va_end(ap);
	gomem_error_destroy(err); /* out of memory: the warning is lost, partial stays */
}

/* A bucket that cannot be read ends the walk. */
static void unreadable(struct gm_memprofile *mp, uint64_t b, struct gomem_error *err)
{
	warn(mp,
	     "memory-profile bucket 0x%llx cannot be read (%s): the buckets after it are left "
	     "out",
	     (unsigned long long)b, gomem_error_message(err));
	gomem_error_destroy(err);
}

/* The counts of one memRecordCycle, copied into a record's buffer. */
struct cycle {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

static void add_cycle(const struct mprof_layout *L, const uint8_t *rec, uint64_t off,
		      struct cycle *c)
{
	c->allocs += gm_rt_field(rec + off, &L->c_allocs);
	c->frees += gm_rt_field(rec + off, &L->c_frees);
	c->alloc_bytes += gm_rt_field(rec + off, &L->c_alloc_bytes);
	c->free_bytes += gm_rt_field(rec + off, &L->c_free_bytes);
}

/* What the walk keeps of a bucket before the counts are known. */
struct raw_bucket {
	uint64_t addr, size;
	size_t pc_index;
	uint32_t nstk;
	struct cycle active, future[3];
};

GM_DEFINE_GROW(grow_raw, struct raw_bucket)
GM_DEFINE_GROW(grow_pc, uint64_t)

/* Reads the bucket at b; false (with a warning) when it cannot be used. */
static struct gomem_error *read_bucket(struct gm_runtime *rt, const struct mprof_layout *L,
				       uint64_t b, struct raw_bucket *out, uint64_t **pcs,
				       size_t *npcs, size_t *pcs_cap, uint64_t *next,
				       struct gm_memprofile *mp, bool *ok)
{
	uint8_t hdr[4096], rec[4096];
	*ok = false;
	struct gomem_error *err = gm_read(rt->mem, b, hdr, L->bucket_size);
	if (err) {
		unreadable(mp, b, err);
		return NULL;
	}
	uint64_t typ = gm_rt_field(hdr, &L->b_typ), nstk = gm_rt_field(hdr, &L->b_nstk);
	/* memProfile is 1 (bucketType, mprof.go); mbuckets holds no other kind. */
	if (typ != 1 || nstk > L->max_stack) {
		warn(mp,
		     "memory-profile bucket 0x%llx is not one (type %llu, %llu pcs): the buckets "
		     "after it are left out",
		     (unsigned long long)b, (unsigned long long)typ, (unsigned long long)nstk);
		return NULL;
	}
	size_t first = *npcs;
	for (uint64_t i = 0; i < nstk; i++) {
		uint64_t *slot = grow_pc(pcs, npcs, pcs_cap);
		if (!slot)
			return &gm_error_no_memory;
	}
	uint64_t stk_addr = b + L->bucket_size;
	err = gm_read(rt->mem, stk_addr, *pcs + first, nstk * 8);
	if (!err)
		err = gm_read(rt->mem, stk_addr + nstk * 8, rec, L->record_size);
	if (err) {
		*npcs = first;
		unreadable(mp, b, err);
		return NULL;
	}
	memset(out, 0, sizeof(*out));
	out->addr = b;
	out->size = gm_rt_field(hdr, &L->b_size);
	out->pc_index = first;
	out->nstk = (uint32_t)nstk;
	add_cycle(L, rec, L->r_active.offset, &out->active);
	for (int c = 0; c < 3; c++)
		add_cycle(L, rec, L->r_future.offset + (uint64_t)c * L->r_future.elem_size,
			  &out->future[c]);
	*next = gm_rt_field(hdr, &L->b_allnext);
	*ok = true;
	return NULL;
}

static struct gomem_error *walk(struct gm_runtime *rt, const struct mprof_layout *L,
				struct gm_memprofile *mp, struct raw_bucket **raw, size_t *nraw)
{
	size_t cap = 0, pcs_cap = 0;
	uint64_t head, buckhash_sys;
	TRY(gm_read_u64(rt->mem, L->mbuckets, &head));
	TRY(gm_read_uint(rt->mem, L->buckhash_sys_addr, (unsigned)rt->L.ms_buckhash_sys.size,
			 &buckhash_sys));
	/* Every bucket is at least a header and a memRecord of BuckHashSys: that bounds the walk.
	 */
	uint64_t max = buckhash_sys / (L->bucket_size + L->record_size) + 1;
	if (max > GM_MEMPROFILE_MAX_BUCKETS)
		max = GM_MEMPROFILE_MAX_BUCKETS;
	for (uint64_t b = head; b;) {
		if (*nraw == max) {
			warn(
			    mp,
			    "runtime.mbuckets has more buckets than BuckHashSys can hold (%llu): a "
			    "cycle? The rest is left out",
			    (unsigned long long)max);
			break;
		}
		struct raw_bucket *slot = grow_raw(raw, nraw, &cap);
		if (!slot)
			return &gm_error_no_memory;
		bool ok;
		uint64_t next = 0;
		TRY(read_bucket(rt, L, b, slot, &mp->pcs, &mp->npcs, &pcs_cap, &next, mp, &ok));
		if (!ok) {
			(*nraw)--;
			break;
		}
		b = next;
	}
	return NULL;
}

/* runtime.MemProfile's view of the buckets (memProfileInternal@1.27, MemProfile@1.19). */
static struct gomem_error *publish(const struct mprof_layout *L, struct gm_memprofile *mp,
				   const struct raw_bucket *raw, size_t n)
{
	uint32_t index = mp->cycle % 3;
	struct cycle *sum = calloc(n ? n : 1, sizeof(*sum));
	if (!sum)
		return &gm_error_no_memory;
	bool clear = true;
	for (size_t i = 0; i < n; i++) {
		/* mProf_FlushLocked(cycle % 3): what a GC has finished but not yet added. */
		sum[i] = raw[i].active;
		sum[i].allocs += raw[i].future[index].allocs;
		sum[i].frees += raw[i].future[index].frees;
		sum[i].alloc_bytes += raw[i].future[index].alloc_bytes;
		sum[i].free_bytes += raw[i].future[index].free_bytes;
		if (sum[i].allocs || sum[i].frees)
			clear = false;
	}
	/* "Absolutely no data, suggesting that a garbage collection has not yet happened." */
	mp->all_cycles = clear && n;
	for (size_t i = 0; clear && i < n; i++) {
		for (uint32_t c = 0; c < 3; c++) {
			if (c == index)
				continue; /* added above */
			sum[i].allocs += raw[i].future[c].allocs;
			sum[i].frees += raw[i].future[c].frees;
			sum[i].alloc_bytes += raw[i].future[c].alloc_bytes;
			sum[i].free_bytes += raw[i].future[c].free_bytes;
		}
	}
	mp->records = calloc(n ? n : 1, sizeof(*mp->records));
	if (!mp->records) {
		free(sum);
		return &gm_error_no_memory;
	}
	for (size_t i = 0; i < n; i++) {
		struct gm_memprofile_record *r = &mp->records[i];
		r->bucket = raw[i].addr;
		r->size = raw[i].size;
		r->allocs = sum[i].allocs;
		r->frees = sum[i].frees;
		/* 1.27 keeps counts only; MemProfile multiplies (copyMemProfileRecord). */
		r->alloc_bytes = mp->have_bytes ? sum[i].alloc_bytes : sum[i].allocs * r->size;
		r->free_bytes = mp->have_bytes ? sum[i].free_bytes : sum[i].frees * r->size;
		r->stk = mp->pcs + raw[i].pc_index;
		r->nstk = raw[i].nstk;
	}
	mp->nrecords = n;
	free(sum);
	(void)L;
	return NULL;
}

struct gomem_error *gm_memprofile_read(struct gm_runtime *rt, struct gm_memprofile *ret)
{
	struct mprof_layout L;
	TRY(resolve(rt, &L));
	struct gm_memprofile mp;
	memset(&mp, 0, sizeof(mp));
	mp.have_bytes = L.c_alloc_bytes.present && L.c_free_bytes.present;
	uint64_t rate, cycle, disabled = 0;
	TRY(gm_read_u64(rt->mem, L.rate_addr, &rate));
	mp.rate = (int64_t)rate;
	if (L.disable_addr)
		TRY(gm_read_uint(rt->mem, L.disable_addr, 1, &disabled));
	mp.disabled = disabled != 0;
	TRY(gm_read_uint(rt->mem, L.cycle_addr + L.cycle_value.offset, (unsigned)L.cycle_value.size,
			 &cycle));
	/* The cycle number is stored from bit 1; bit 0 says it was flushed (mProfCycleHolder). */
	mp.cycle = (uint32_t)(cycle >> 1);
	struct raw_bucket *raw = NULL;
	size_t nraw = 0;
	struct gomem_error *err = walk(rt, &L, &mp, &raw, &nraw);
	if (!err)
		err = publish(&L, &mp, raw, nraw);
	free(raw);
	if (err) {
		gm_memprofile_deinit(&mp);
		return err;
	}
	*ret = mp;
	return NULL;
}

void gm_memprofile_deinit(struct gm_memprofile *mp)
{
	free(mp->records);
	free(mp->pcs);
	for (size_t i = 0; i < mp->nwarnings; i++)
		free(mp->warnings[i]);
	free(mp->warnings);
	memset(mp, 0, sizeof(*mp));
}

/* ---- the function table of this process ---- */

/* A uintptr member of runtime.firstmoduledata, as a link-time address. */
static struct gomem_error *moduledata_word(struct gm_runtime *rt, const char *member, uint64_t *ret,
					   bool *found)
{
	struct gm_field f;
	*found = false;
	if (!gm_dwarf_has_variable(rt->dw, "runtime.firstmoduledata"))
		return NULL;
	TRY(gm_dwarf_field(rt->dw, "runtime.moduledata", member, &f));
	if (!f.present || f.size != 8)
		return NULL;
	uint64_t md, v;
	TRY(variable(rt, "runtime.firstmoduledata", &md));
	TRY(gm_read_u64(rt->mem, md + f.offset, &v));
	*ret = v - rt->bias;
	*found = true;
	return NULL;
}

struct gomem_error *gm_runtime_pclntab(struct gm_runtime *rt, struct gm_pclntab **ret)
{
	const struct gm_exe *exe = &rt->target->exe;
	struct gm_pclntab *p = NULL;
	TRY(gm_pclntab_open(exe->map, exe->size, &p));
	uint64_t v;
	bool found;
	struct gomem_error *err = NULL;
	if (!gm_pclntab_has_text(p)) {
		err = moduledata_word(rt, "text", &v, &found);
		if (!err && found)
			err = gm_pclntab_set_text(p, v);
		else if (!err)
			err = gm_error(GOMEM_ERROR_NOT_GO,
				       "%s: the start of the text (moduledata.text) is unknown",
				       exe->path);
	}
	/* funcdata (inline trees) are offsets from moduledata.gofunc (go:func.*). */
	if (!err)
		err = moduledata_word(rt, "gofunc", &v, &found);
	if (!err && found)
		gm_pclntab_set_gofunc(p, v);
	if (err) {
		gm_pclntab_destroy(p);
		return err;
	}
	*ret = p;
	return NULL;
}
