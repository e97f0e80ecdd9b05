/*
 * The runtime of a target: its layout (layout.c) and its globals, and its
 * own counters read the way runtime.ReadMemStats reads them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

/* Our size classes against the binary's own table. */
static struct gomem_error *check_size_classes(struct gm_runtime *rt)
{
	uint16_t table[GM_MAX_SIZE_CLASSES];
	TRY(gm_read(rt->mem, rt->size_class_table, table, sizeof(table)));
	if (memcmp(table, gm_class_to_size, sizeof(table)) != 0)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"%s: size classes differ from Go 1.19-1.27's",
				rt->size_class_table_name);
	return NULL;
}

/* Whether the comma-separated list names the experiment. */
static bool has_experiment(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

struct gomem_error *gm_runtime_create(struct gm_dwarf *dw, struct gm_target *t,
				      struct gm_runtime **ret)
{
	const struct gm_exe *exe = &t->exe;
	struct gm_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return &gm_error_no_memory;
	rt->dw = dw;
	rt->target = t;
	rt->mem = &t->mem;
	rt->bias = t->bias;
	rt->arch = t->arch;
	rt->os_page_size = t->page_size;
	snprintf(rt->go_version, sizeof(rt->go_version), "%s", exe->go_version);
	struct gomem_error *err = gm_layout_resolve(rt);
	if (!err)
		err = check_size_classes(rt);
	if (err) {
		gm_runtime_destroy(rt);
		return err;
	}
	/*
	 * Before 1.25 user arenas are in no list (sysAlloc's register=false,
	 * arena.go@1.20); with the experiment on they are found in the arena index.
	 */
	rt->L.scan_user_arenas = rt->L.mspan_user_chunk.present &&
				 !rt->L.mheap_user_arenas.present &&
				 has_experiment(exe->experiments, "arenas");
	*ret = rt;
	return NULL;
}

void gm_runtime_destroy(struct gm_runtime *rt)
{
	if (rt)
		free(rt->scanned_user_arenas);
	free(rt);
}

uint64_t gm_runtime_page_size(const struct gm_runtime *rt)
{
	return rt->L.page_size;
}

uint64_t gm_runtime_header_bytes(struct gm_runtime *rt, const struct gm_span *sp)
{
	if (sp->noscan || sp->sizeclass == 0)
		return 0;
	const struct gm_object_layout *L = gm_runtime_object_layout(rt);
	if (!L->have_header || sp->elemsize <= L->min_size_for_header)
		return 0;
	return L->header_bytes;
}

/* Reads a scalar field of the struct at base. */
struct gomem_error *gm_rt_read_field(struct gm_runtime *rt, uint64_t base, const struct gm_field *f,
				     uint64_t *ret)
{
	if (!f->present) {
		*ret = 0;
		return NULL;
	}
	return gm_read_uint(rt->mem, base + f->offset, (unsigned)f->size, ret);
}

/* A field from a struct already copied into buf. */
uint64_t gm_rt_field(const uint8_t *buf, const struct gm_field *f)
{
	uint64_t v = 0;
	if (!f->present)
		return 0;
	for (uint64_t i = 0; i < f->size && i < 8; i++)
		v |= (uint64_t)buf[f->offset + i] << (8 * i);
	return v;
}

/* Sums the three heapStatsDelta slots, as consistentHeapStats.unsafeRead does. */
static struct gomem_error *read_heap_stats(struct gm_runtime *rt, struct gm_heapstats *hs)
{
	struct gm_layout *L = &rt->L;
	uint8_t buf[GM_HEAPSTATS_MAX];
	memset(hs, 0, sizeof(*hs));
	for (uint64_t i = 0; i < L->ms_heapstats.count; i++) {
		uint64_t base =
		    rt->memstats + L->ms_heapstats.offset + i * L->ms_heapstats.elem_size;
		TRY(gm_read(rt->mem, base, buf, L->hs_size));
		hs->committed += gm_rt_field(buf, &L->hs_committed);
		hs->released += gm_rt_field(buf, &L->hs_released);
		hs->in_heap += gm_rt_field(buf, &L->hs_in_heap);
		hs->in_stacks += gm_rt_field(buf, &L->hs_in_stacks);
		hs->in_workbufs += gm_rt_field(buf, &L->hs_in_workbufs);
		hs->in_ptrscalarbits += gm_rt_field(buf, &L->hs_in_ptrscalarbits);
		hs->tiny_alloc_count += gm_rt_field(buf, &L->hs_tiny_alloc_count);
		hs->large_alloc += gm_rt_field(buf, &L->hs_large_alloc);
		hs->large_alloc_count += gm_rt_field(buf, &L->hs_large_alloc_count);
		hs->large_free += gm_rt_field(buf, &L->hs_large_free);
		hs->large_free_count += gm_rt_field(buf, &L->hs_large_free_count);
		for (uint64_t c = 0; c < L->nclasses; c++) {
			uint64_t a, f;
			memcpy(&a, buf + L->hs_small_alloc_count.offset + 8 * c, 8);
			memcpy(&f, buf + L->hs_small_free_count.offset + 8 * c, 8);
			hs->small_alloc_count[c] += a;
			hs->small_free_count[c] += f;
		}
	}
	return NULL;
}

/* allp as an array of P addresses, to free(). */
struct gomem_error *gm_rt_allp(struct gm_runtime *rt, uint64_t **ps_ret, size_t *n_ret)
{
	uint64_t array, len;
	TRY(gm_read_u64(rt->mem, rt->allp, &array));
	TRY(gm_read_u64(rt->mem, rt->allp + 8, &len));
	if (len > GM_MAX_PROCS)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "runtime.allp has %llu Ps (more than %d)",
				(unsigned long long)len, GM_MAX_PROCS);
	uint64_t *ps = calloc(len ? len : 1, sizeof(*ps));
	if (!ps)
		return &gm_error_no_memory;
	struct gomem_error *err = gm_read(rt->mem, array, ps, len * sizeof(*ps));
	if (err) {
		free(ps);
		return err;
	}
	*ps_ret = ps;
	*n_ret = (size_t)len;
	return NULL;
}

/*
 * What ReadMemStats would add when it flushes the mcaches
 * (mcache.releaseAll): slots allocated from cached spans since they were
 * cached, and the tiny allocations counted in the mcache.
 */
static struct gomem_error *mcache_flush(struct gm_runtime *rt, struct gm_heapstats *hs,
					struct gm_memstats *ms)
{
	struct gm_layout *L = &rt->L;
	_cleanup_free_ uint64_t *ps = NULL;
	size_t np;
	TRY(gm_rt_allp(rt, &ps, &np));
	for (size_t i = 0; i < np; i++) {
		uint64_t mc, tiny;
		if (!ps[i])
			continue;
		TRY(gm_rt_read_field(rt, ps[i], &L->p_mcache, &mc));
		if (!mc)
			continue;
		TRY(gm_rt_read_field(rt, mc, &L->mcache_tiny_allocs, &tiny));
		hs->tiny_alloc_count += tiny;
		ms->flush_tiny += tiny;
		for (uint64_t sc = 0; sc < L->mcache_alloc.count; sc++) {
			uint64_t s;
			uint8_t buf[GM_MSPAN_MAX];
			TRY(gm_read_u64(rt->mem, mc + L->mcache_alloc.offset + 8 * sc, &s));
			if (!s || s == rt->emptymspan)
				continue;
			TRY(gm_read(rt->mem, s, buf, L->mspan_size));
			uint64_t count = gm_rt_field(buf, &L->mspan_alloccount);
			uint64_t before = gm_rt_field(buf, &L->mspan_alloccount_before_cache);
			uint64_t elemsize = gm_rt_field(buf, &L->mspan_elemsize);
			uint64_t cls = sc >> 1;
			if (count < before || cls >= L->nclasses)
				return gm_error(GOMEM_ERROR_INCONSISTENT,
						"mcache span 0x%llx: allocCount %llu < %llu",
						(unsigned long long)s, (unsigned long long)count,
						(unsigned long long)before);
			hs->small_alloc_count[cls] += count - before;
			ms->flush_objects += count - before;
			ms->flush_bytes += (count - before) * elemsize;
		}
	}
	return NULL;
}

/* For a best-effort value: whether the field could be read, its error released. */
static bool field_ok(struct gm_runtime *rt, uint64_t base, const struct gm_field *f, uint64_t *ret)
{
	struct gomem_error *err = gm_rt_read_field(rt, base, f, ret);
	gomem_error_destroy(err);
	return !err;
}

static uint64_t heap_goal(struct gm_runtime *rt, const struct gm_memstats *ms, uint64_t heap_free,
			  uint64_t mapped_ready)
{
	/* gcControllerState.heapGoalInternal and memoryLimitHeapGoal (mgcpacer.go). */
	struct gm_layout *L = &rt->L;
	uint64_t g = rt->gc_controller, goal = 0, limit = 0, sweep = 0, trig = ~0ULL, marked = 0;
	if (!field_ok(rt, g, &L->gc_percent_heap_goal, &goal) ||
	    !field_ok(rt, g, &L->gc_memory_limit, &limit) ||
	    !field_ok(rt, g, &L->gc_sweep_dist_min_trigger, &sweep) ||
	    !field_ok(rt, g, &L->gc_heap_marked, &marked))
		return 0;
	if (L->gc_triggered.present && !field_ok(rt, g, &L->gc_triggered, &trig))
		return 0;
	uint64_t heap_alloc = ms->HeapAlloc;
	uint64_t limit_goal;
	uint64_t non_heap = mapped_ready - heap_free - heap_alloc;
	uint64_t overage = mapped_ready > limit ? mapped_ready - limit : 0;
	if (non_heap + overage >= limit) {
		limit_goal = marked;
	} else {
		limit_goal = limit - (non_heap + overage);
		uint64_t headroom = L->limit_min_headroom;
		if (L->limit_headroom_percent) {
			uint64_t h = limit_goal / 100 * L->limit_headroom_percent;
			if (h > headroom)
				headroom = h;
		}
		if (limit_goal < headroom || limit_goal - headroom < headroom)
			limit_goal = headroom;
		else
			limit_goal -= headroom;
		if (limit_goal < marked)
			limit_goal = marked;
	}
	if (limit_goal < goal)
		return limit_goal;
	if (sweep > goal)
		goal = sweep;
	if (trig != ~0ULL && goal < trig + (64 << 10))
		goal = trig + (64 << 10);
	return goal;
}

struct gomem_error *gm_runtime_memstats(struct gm_runtime *rt, struct gm_memstats *ret)
{
	struct gm_layout *L = &rt->L;
	struct gm_heapstats hs;
	struct gm_memstats out, *ms = &out;
	memset(ms, 0, sizeof(*ms));
	TRY(read_heap_stats(rt, &hs));
	TRY(mcache_flush(rt, &hs, ms));

	uint64_t total_alloc = hs.large_alloc, total_free = hs.large_free;
	uint64_t nmalloc = hs.large_alloc_count, nfree = hs.large_free_count;
	for (uint64_t c = 0; c < L->nclasses; c++) {
		total_alloc += hs.small_alloc_count[c] * gm_class_to_size[c];
		nmalloc += hs.small_alloc_count[c];
		total_free += hs.small_free_count[c] * gm_class_to_size[c];
		nfree += hs.small_free_count[c];
	}
	nmalloc += hs.tiny_alloc_count;
	nfree += hs.tiny_alloc_count;

	uint64_t g = rt->gc_controller, m = rt->memstats;
	uint64_t heap_inuse, heap_free, heap_released, mapped_ready;
	uint64_t stacks_sys, mspan_sys, mcache_sys, buckhash_sys, gcmisc_sys, other_sys;
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_inuse, &heap_inuse));
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_free, &heap_free));
	TRY(gm_rt_read_field(rt, g, &L->gc_heap_released, &heap_released));
	TRY(gm_rt_read_field(rt, g, &L->gc_mapped_ready, &mapped_ready));
	TRY(gm_rt_read_field(rt, m, &L->ms_stacks_sys, &stacks_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_mspan_sys, &mspan_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_mcache_sys, &mcache_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_buckhash_sys, &buckhash_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_gcmisc_sys, &gcmisc_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_other_sys, &other_sys));
	TRY(gm_rt_read_field(rt, m, &L->ms_numgc, &ms->NumGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_numforcedgc, &ms->NumForcedGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_last_gc_unix, &ms->LastGC));
	TRY(gm_rt_read_field(rt, m, &L->ms_pause_total_ns, &ms->PauseTotalNs));
	TRY(gm_rt_read_field(rt, rt->mheap, &L->mheap_spanalloc_inuse, &ms->MSpanInuse));
	TRY(gm_rt_read_field(rt, rt->mheap, &L->mheap_cachealloc_inuse, &ms->MCacheInuse));

	ms->TotalAlloc = total_alloc;
	ms->HeapAlloc = total_alloc - total_free;
	ms->Mallocs = nmalloc;
	ms->Frees = nfree;
	ms->HeapObjects = nmalloc - nfree;
	ms->HeapSys = heap_inuse + heap_free + heap_released;
	ms->HeapIdle = heap_free + heap_released;
	ms->HeapInuse = heap_inuse;
	ms->HeapReleased = heap_released;
	ms->StackInuse = hs.in_stacks;
	ms->StackSys = hs.in_stacks + stacks_sys;
	ms->MSpanSys = mspan_sys;
	ms->MCacheSys = mcache_sys;
	ms->BuckHashSys = buckhash_sys;
	ms->GCSys = gcmisc_sys + hs.in_workbufs + hs.in_ptrscalarbits;
	ms->OtherSys = other_sys;
	ms->Sys = ms->HeapSys + ms->StackSys + mspan_sys + mcache_sys + buckhash_sys + ms->GCSys +
		  other_sys;
	ms->mapped_ready = mapped_ready;
	ms->committed = hs.committed;
	ms->released_consistent = hs.released;
	ms->in_heap_consistent = hs.in_heap;
	ms->work_bufs = hs.in_workbufs;
	ms->ptr_scalar_bits = hs.in_ptrscalarbits;
	ms->NextGC = heap_goal(rt, ms, heap_free, mapped_ready);
	ms->has_heap_marked = field_ok(rt, g, &L->gc_heap_marked, &ms->heap_marked);
	*ret = out;
	return NULL;
}
