/*
 * `gomem arenas`: each heap arena (64 MiB on linux/amd64) with its pages by
 * state and a compact map of them. The states come from the span walk
 * (in-use and manual spans) and the page allocator's bitmaps (free pages,
 * retained or released); pages of an arena that are in none of these are
 * reserved but not mapped (outside mheap_.pages.inUse).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

/* Page states, in the order of the JSON "pages" object. */
enum { ST_IN_USE, ST_MANUAL, ST_RETAINED, ST_RELEASED, ST_UNMAPPED, NSTATES };

static const char *const state_names[NSTATES] = {"in_use", "manual", "free_retained",
						 "free_released", "unmapped"};
/* The map's characters, one per state. */
static const char map_chars[NSTATES] = {'#', 's', '+', '-', '.'};

#define MAP_WIDTH  64
#define MAX_ARENAS (1u << 16) /* 4 TiB of heap: more is a corrupt arena list */

struct arena_acc {
	uint64_t base, end;
	bool user; /* user arena chunks (GOEXPERIMENT=arenas), not heap pages */
	uint64_t pages[NSTATES];
	uint32_t groups[MAP_WIDTH][NSTATES]; /* pages per map character and state */
};

struct arenas {
	struct gm_run *run;
	uint64_t page_size, arena_pages, group_pages;
	size_t ngroups;
	struct arena_acc *acc;
	size_t n, nuser;
	uint64_t outside_pages; /* pages of spans or free runs in no listed arena */
};

static struct arena_acc *first_arena_after(struct arenas *a, uint64_t addr)
{
	size_t i = GM_UPPER_BOUND(a->acc, a->n, end, addr);
	return i < a->n ? &a->acc[i] : NULL;
}

/* Counts [start, end) as pages of one state, clipped to each arena it touches. */
static void add_range(struct arenas *a, uint64_t start, uint64_t end, int state)
{
	uint64_t total = (end - start) / a->page_size, counted = 0;
	struct arena_acc *acc = first_arena_after(a, start);
	for (; acc && acc < a->acc + a->n && acc->base < end; acc++) {
		uint64_t s = start > acc->base ? start : acc->base;
		uint64_t e = end < acc->end ? end : acc->end;
		uint64_t p0 = (s - acc->base) / a->page_size, p1 = (e - acc->base) / a->page_size;
		acc->pages[state] += p1 - p0;
		counted += p1 - p0;
		for (uint64_t g = p0 / a->group_pages; g < a->ngroups && g * a->group_pages < p1;
		     g++) {
			uint64_t gs = g * a->group_pages, ge = gs + a->group_pages;
			uint64_t lo = p0 > gs ? p0 : gs, hi = p1 < ge ? p1 : ge;
			acc->groups[g][state] += (uint32_t)(hi - lo);
		}
	}
	a->outside_pages += total - counted;
}

static struct gomem_error *add_span(void *arg, const struct gm_span *sp)
{
	add_range(arg, sp->start, sp->start + sp->bytes,
		  sp->state == GM_SPAN_IN_USE ? ST_IN_USE : ST_MANUAL);
	return NULL;
}

static void add_free_run(void *arg, uint64_t start, uint64_t end, bool released)
{
	add_range(arg, start, end, released ? ST_RELEASED : ST_RETAINED);
}

static struct gomem_error *arenas_build(struct arenas *a)
{
	struct gm_runtime *rt = a->run->rt;
	struct gm_arena *list = NULL;
	size_t n = 0;
	TRY(gm_heap_arenas(rt, &list, &n));
	if (n > MAX_ARENAS) {
		free(list);
		return gm_error(GOMEM_ERROR_INCONSISTENT, "mheap_ lists %zu arenas (at most %u)", n,
				MAX_ARENAS);
	}
	a->page_size = gm_runtime_page_size(rt);
	a->acc = calloc(n ? n : 1, sizeof(*a->acc));
	if (!a->acc) {
		free(list);
		return &gm_error_no_memory;
	}
	for (size_t i = 0; i < n; i++) {
		a->acc[i].base = list[i].base;
		a->acc[i].end = list[i].end;
		a->acc[i].user = list[i].user;
		a->nuser += list[i].user;
	}
	a->n = n;
	free(list);
	a->arena_pages = n ? (a->acc[0].end - a->acc[0].base) / a->page_size : 0;
	a->ngroups = a->arena_pages < MAP_WIDTH ? (size_t)a->arena_pages : MAP_WIDTH;
	a->group_pages = a->ngroups ? (a->arena_pages + a->ngroups - 1) / a->ngroups : 1;
	uint64_t bad = 0;
	TRY(gm_heap_foreach_span(rt, add_span, a, &bad));
	TRY(gm_heap_foreach_free_run(rt, add_free_run, a));
	for (size_t i = 0; i < n; i++) {
		struct arena_acc *acc = &a->acc[i];
		uint64_t known = 0;
		for (int s = 0; s < ST_UNMAPPED; s++)
			known += acc->pages[s];
		acc->pages[ST_UNMAPPED] = known < a->arena_pages ? a->arena_pages - known : 0;
		for (size_t g = 0; g < a->ngroups; g++) {
			uint64_t gk = 0;
			for (int s = 0; s < ST_UNMAPPED; s++)
				gk += acc->groups[g][s];
			acc->groups[g][ST_UNMAPPED] =
			    gk < a->group_pages ? (uint32_t)(a->group_pages - gk) : 0;
		}
	}
	if (bad)
		gm_run_warn(a->run, true,
			    "%" PRIu64
			    " span descriptors looked live but failed validation and were "
			    "skipped",
			    bad);
	if (a->outside_pages)
		gm_run_warn(a->run, true,
			    "%" PRIu64 " pages of spans or free runs lie in no listed arena",
			    a->outside_pages);
	return NULL;
}

/* One character per group: the state of most of its pages (the first listed on a tie). */
static void arena_map(const struct arenas *a, const struct arena_acc *acc, char *buf)
{
	for (size_t g = 0; g < a->ngroups; g++) {
		int best = 0;
		for (int s = 1; s < NSTATES; s++) {
			if (acc->groups[g][s] > acc->groups[g][best])
				best = s;
		}
		buf[g] = map_chars[best];
	}
	buf[a->ngroups] = '\0';
}

/* {"in_use": N, "manual": N, ...}: pages by state. */
static void json_pages(struct gm_jw *w, const uint64_t pages[NSTATES])
{
	gm_jw_object(w);
	for (int s = 0; s < NSTATES; s++)
		gm_jw_member_uint(w, state_names[s], pages[s]);
	gm_jw_end(w);
}

static void arenas_json(struct arenas *a)
{
	struct gm_jw *w = &a->run->jw;
	struct gm_target *t = a->run->t;
	bool rss = gm_target_residency_known(t);
	uint64_t tot[NSTATES] = {0};
	char map[MAP_WIDTH + 1];
	gm_run_json_begin(a->run, "gomem/arenas/v1");
	gm_jw_member_uint(w, "page_bytes", a->page_size);
	gm_jw_member_uint(w, "arena_pages", a->arena_pages);
	gm_jw_member_uint(w, "map_group_pages", a->group_pages);
	gm_jw_key(w, "map_legend");
	gm_jw_object(w);
	for (int s = 0; s < NSTATES; s++) {
		char c[2] = {map_chars[s], '\0'};
		gm_jw_member_string(w, c, state_names[s]);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "arenas");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < a->n; i++) {
		const struct arena_acc *acc = &a->acc[i];
		gm_jw_object(w);
		gm_jw_member_uint(w, "base", acc->base);
		gm_jw_member_uint(w, "end", acc->end);
		gm_jw_member_bool(w, "user", acc->user);
		gm_jw_key(w, "pages");
		json_pages(w, acc->pages);
		for (int s = 0; s < NSTATES; s++)
			tot[s] += acc->pages[s];
		gm_jw_member_uint_or_null(w, "resident_bytes", rss,
					  rss ? gm_target_resident(t, acc->base, acc->end) : 0);
		arena_map(a, acc, map);
		gm_jw_member_string(w, "map", map);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "totals");
	gm_jw_object(w);
	gm_jw_member_uint(w, "arenas", a->n);
	gm_jw_member_uint(w, "user_arenas", a->nuser);
	gm_jw_key(w, "pages");
	json_pages(w, tot);
	gm_jw_end(w);
	gm_run_json_end(a->run);
}

static void arenas_text(struct arenas *a)
{
	struct gm_strbuf *b = &a->run->out;
	struct gm_target *t = a->run->t;
	bool rss = gm_target_residency_known(t);
	char h[NSTATES + 1][32], map[MAP_WIDTH + 1];
	uint64_t tot[NSTATES] = {0};
	gm_strbuf_printf(b, "%zu heap arena%s", a->n - a->nuser, a->n - a->nuser == 1 ? "" : "s");
	if (a->nuser)
		gm_strbuf_printf(b, " and %zu user arena%s (GOEXPERIMENT=arenas; U below)",
				 a->nuser, a->nuser == 1 ? "" : "s");
	gm_strbuf_printf(b, " of %s (%" PRIu64 " pages of %s)\n",
			 gm_human_bytes(a->arena_pages * a->page_size, h[0]), a->arena_pages,
			 gm_human_bytes(a->page_size, h[1]));
	gm_strbuf_printf(
	    b, "map: one character per %s (%" PRIu64 " pages), the state of most of them:\n",
	    gm_human_bytes(a->group_pages * a->page_size, h[0]), a->group_pages);
	gm_strbuf_printf(b,
			 "  %c in-use spans   %c stacks, GC work buffers (manual spans)   %c free, "
			 "retained\n  %c free, released to the OS   %c reserved, not mapped\n\n",
			 map_chars[0], map_chars[1], map_chars[2], map_chars[3], map_chars[4]);
	int w = a->nuser ? 19 : 18; /* room for the U of user arenas */
	gm_strbuf_printf(b, "%-*s %10s %10s %10s %10s %10s %10s\n", w, "ARENA", "IN-USE", "MANUAL",
			 "RETAINED", "RELEASED", "UNMAPPED", "RSS");
	for (size_t i = 0; i < a->n; i++) {
		const struct arena_acc *acc = &a->acc[i];
		gm_strbuf_printf(b, "0x%016" PRIx64 "%s", acc->base,
				 !a->nuser   ? ""
				 : acc->user ? "U"
					     : " ");
		for (int s = 0; s < NSTATES; s++) {
			gm_strbuf_printf(b, " %10s",
					 gm_human_bytes(acc->pages[s] * a->page_size, h[s]));
			tot[s] += acc->pages[s];
		}
		gm_strbuf_printf(
		    b, " %10s\n",
		    rss ? gm_human_bytes(gm_target_resident(t, acc->base, acc->end), h[NSTATES])
			: "-");
		arena_map(a, acc, map);
		gm_strbuf_printf(b, "  %s\n", map);
	}
	if (a->n > 1) {
		gm_strbuf_printf(b, "%-*s", w, "total");
		for (int s = 0; s < NSTATES; s++)
			gm_strbuf_printf(b, " %10s", gm_human_bytes(tot[s] * a->page_size, h[s]));
		gm_strbuf_printf(b, "\n");
	}
	if (!rss)
		gm_strbuf_printf(b, "\nRSS: unknown for this target (a gcore writes every page)\n");
	gm_run_text_warnings(a->run);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct arenas a;
	memset(&a, 0, sizeof(a));
	a.run = r;
	struct gomem_error *err = arenas_build(&a);
	if (!err && r->json)
		arenas_json(&a);
	else if (!err)
		arenas_text(&a);
	free(a.acc);
	return err;
}

static const struct gm_option_spec options[] = {
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_arenas = {
    .name = "arenas",
    .usage = "arenas [--json]",
    .summary = "each heap arena: pages by state and a compact page map",
    .help = "Prints each Go heap arena (a 64 MiB reservation on linux/amd64) with its "
	    "pages split into in-use spans (objects), manual spans (goroutine stacks, "
	    "GC work buffers), free pages the runtime retains, free pages released to "
	    "the OS, and pages reserved but never mapped; its resident bytes (kernel "
	    "cores only); and a map with one character per group of pages showing the "
	    "state of most of them. With --json, prints one gomem/arenas/v1 object.",
    .options = options,
    .run = run,
};
