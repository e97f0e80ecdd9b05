/*
 * The breakdown tree of `gomem summary` (addrspace/breakdown.c) rendered:
 * as JSON, as an indented tree of text, and the few sentences that say why
 * VSZ is so much larger than RSS.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

/* ---- rendering ---- */

static void json_node(struct gm_jw *w, const struct gm_breakdown *bd, int i, int depth)
{
	const struct gm_bnode *n = &bd->nodes[i];
	gm_jw_object(w);
	gm_jw_member_string(w, "name", n->name);
	gm_jw_member_uint(w, "vsz_bytes", n->vsz);
	gm_jw_member_uint_or_null(w, "rss_bytes", n->has_rss, n->rss);
	gm_jw_key(w, "children");
	gm_jw_array(w);
	for (int j = i + 1; j < bd->n && depth < 8; j++) {
		if (bd->nodes[j].parent == i)
			json_node(w, bd, j, depth + 1);
	}
	gm_jw_end(w);
	gm_jw_end(w);
}

void gm_breakdown_json(struct gm_jw *w, const struct gm_breakdown *bd)
{
	if (bd->n)
		json_node(w, bd, 0, 0);
	else
		gm_jw_null(w);
}

#define NAME_COLS 54

static void text_node(struct gm_strbuf *b, const struct gm_breakdown *bd, int i, const char *prefix,
		      bool last, int depth)
{
	const struct gm_bnode *n = &bd->nodes[i];
	uint64_t total = bd->nodes[0].vsz;
	char vsz[32], rss[32], label[192], sub[160];
	double pct = total ? 100.0 * (double)n->vsz / (double)total : 0;
	snprintf(label, sizeof(label), "%s%s%s", prefix, depth ? (last ? "└─ " : "├─ ") : "",
		 n->name);
	/* Box-drawing characters take 3 bytes but one column. */
	int extra = 0;
	for (const char *p = label; *p; p++)
		extra += ((unsigned char)*p & 0xc0) == 0x80;
	gm_strbuf_printf(b, "%-*s %10s %6.1f%% %10s\n", NAME_COLS + extra, label,
			 gm_human_bytes(n->vsz, vsz), pct,
			 n->has_rss ? gm_human_bytes(n->rss, rss) : "-");
	snprintf(sub, sizeof(sub), "%s%s", prefix, depth ? (last ? "   " : "│  ") : "");
	int lastkid = -1;
	for (int j = i + 1; j < bd->n; j++) {
		if (bd->nodes[j].parent == i)
			lastkid = j;
	}
	for (int j = i + 1; j < bd->n && depth < 8; j++) {
		if (bd->nodes[j].parent == i)
			text_node(b, bd, j, sub, j == lastkid, depth + 1);
	}
}

void gm_breakdown_text(struct gm_strbuf *b, const struct gm_breakdown *bd)
{
	gm_strbuf_printf(b, "%-*s %10s %7s %10s\n", NAME_COLS, "where the address space goes",
			 "VSZ", "of VSZ", "RSS");
	if (bd->n)
		text_node(b, bd, 0, "", true, 0);
}

/* ---- the explanation ---- */

static const struct gm_bnode *find(const struct gm_breakdown *bd, const char *top, const char *name)
{
	for (int i = 1; i < bd->n; i++) {
		const struct gm_bnode *n = &bd->nodes[i];
		if (n->parent == 0 && strcmp(n->name, top) == 0 && !name)
			return n;
		if (name && n->parent > 0 && bd->nodes[n->parent].parent == 0 &&
		    strcmp(bd->nodes[n->parent].name, top) == 0 && strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

static uint64_t vsz_of(const struct gm_breakdown *bd, const char *top, const char *name)
{
	const struct gm_bnode *n = find(bd, top, name);
	return n ? n->vsz : 0;
}

static uint64_t rss_of(const struct gm_breakdown *bd, const char *top, const char *name)
{
	const struct gm_bnode *n = find(bd, top, name);
	return n ? n->rss : 0;
}

/* A candidate for "the largest reservations". */
struct big {
	char what[96];
	uint64_t bytes;
};

static void add_big(struct big *v, int *n, uint64_t bytes, const char *fmt, ...) GM_PRINTF(4, 5);

static void add_big(struct big *v, int *n, uint64_t bytes, const char *fmt, ...)
{
	if (!bytes || *n >= 8)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v[*n].what, sizeof(v[*n].what), fmt, ap);
	va_end(ap);
	v[*n].bytes = bytes;
	(*n)++;
}

static int cmp_big(const void *a, const void *b)
{
	const struct big *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* The sentences, each as a separate string, written to out[] (at most 5). */
static int explain(const struct gm_addrspace *as, const struct gm_breakdown *bd, char out[5][640])
{
	char h[6][32];
	int n = 0;
	uint64_t vsz = bd->n ? bd->nodes[0].vsz : 0;
	uint64_t untouched = 0;
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		if (p->in_vsz && !(p->flags & PF_W) && !p->file)
			untouched += p->end - p->start; /* reserved (PROT_NONE) */
	}
	if (as->has_rss)
		snprintf(out[n++], 640,
			 "VSZ is %s but only %s (%.1f%%) is resident: %s (%.0f%%) is address space "
			 "reserved with PROT_NONE, and most of the rest is mapped but was never "
			 "touched; neither costs memory.",
			 gm_human_bytes(vsz, h[0]), gm_human_bytes(as->rss, h[1]),
			 vsz ? 100.0 * (double)as->rss / (double)vsz : 0,
			 gm_human_bytes(untouched, h[2]),
			 vsz ? 100.0 * (double)untouched / (double)vsz : 0);
	else
		snprintf(out[n++], 640,
			 "VSZ is %s; this core cannot tell which pages were resident, but at least "
			 "%s (%.0f%%) of it is reserved address space that costs no memory.",
			 gm_human_bytes(vsz, h[0]), gm_human_bytes(untouched, h[1]),
			 vsz ? 100.0 * (double)untouched / (double)vsz : 0);

	struct big big[8];
	int nb = 0;
	const char *R = "Go reserved address space", *M = "Go runtime metadata";
	add_big(big, &nb,
		vsz_of(bd, R, "page summaries") + vsz_of(bd, M, "page summaries, mapped part"),
		"the Go page allocator's summary levels");
	add_big(big, &nb,
		vsz_of(bd, R, "scavenger index") + vsz_of(bd, M, "scavenger index, mapped part"),
		"its scavenger index");
	add_big(big, &nb, vsz_of(bd, M, "arena index (heap index)"),
		"the heap arena index (read-write, never touched)");
	add_big(big, &nb, vsz_of(bd, "Go heap", "reserved, not mapped"),
		"the unmapped rest of %u heap arena%s", as->n_arenas, as->n_arenas == 1 ? "" : "s");
	add_big(big, &nb, vsz_of(bd, "C heap", NULL) - vsz_of(bd, "C heap", "brk heap"),
		"%u glibc malloc heap%s of the cgo threads' arenas", as->n_c_arenas,
		as->n_c_arenas == 1 ? "" : "s");
	add_big(big, &nb, vsz_of(bd, "thread stacks", "pthread stacks of Ms (cgo)"),
		"%u pthread stack%s of cgo threads", as->n_pthread_stacks,
		as->n_pthread_stacks == 1 ? "" : "s");
	add_big(big, &nb, vsz_of(bd, "binary", "bss"), "the executable's .bss");
	gm_sort(big, (size_t)nb, sizeof(*big), cmp_big);
	if (nb >= 3)
		snprintf(out[n++], 640,
			 "The largest reservations are %s (%s), %s (%s) and %s (%s): the Go "
			 "runtime and glibc reserve address space up front and map pieces of it "
			 "as they need them.",
			 big[0].what, gm_human_bytes(big[0].bytes, h[0]), big[1].what,
			 gm_human_bytes(big[1].bytes, h[1]), big[2].what,
			 gm_human_bytes(big[2].bytes, h[2]));

	const char *H = "Go heap";
	uint64_t heap = vsz_of(bd, H, NULL), heap_res = vsz_of(bd, H, "reserved, not mapped");
	const struct gm_bnode *spans = find(bd, H, "in-use spans");
	uint64_t objects = 0;
	for (int i = 0; spans && i < bd->n; i++) {
		if (bd->nodes[i].parent == spans - bd->nodes &&
		    strcmp(bd->nodes[i].name, "objects") == 0)
			objects = bd->nodes[i].vsz;
	}
	snprintf(out[n++], 640,
		 "The Go heap spans %s of address space in %u arena%s, of which %s is mapped: %s "
		 "in in-use spans (%s of objects), %s of stacks, and %s free (%s of it released "
		 "to the OS).",
		 gm_human_bytes(heap, h[0]), as->n_arenas, as->n_arenas == 1 ? "" : "s",
		 gm_human_bytes(heap - heap_res, h[1]),
		 gm_human_bytes(spans ? spans->vsz : 0, h[2]), gm_human_bytes(objects, h[3]),
		 gm_human_bytes(vsz_of(bd, H, "stack spans (goroutines, g0, gsignal)"), h[4]),
		 gm_human_bytes(vsz_of(bd, H, "free, retained") +
				    vsz_of(bd, H, "free, released to the OS"),
				h[5]),
		 gm_human_bytes(vsz_of(bd, H, "free, released to the OS"), (char[32]){0}));

	uint64_t stacks = vsz_of(bd, "thread stacks", NULL);
	if (as->n_pthread_stacks && as->has_rss)
		snprintf(out[n++], 640,
			 "With cgo every Go thread runs on a pthread stack: %u of them, with the "
			 "main stack and guard pages, take %s of address space but only %s is "
			 "resident.",
			 as->n_pthread_stacks, gm_human_bytes(stacks, h[0]),
			 gm_human_bytes(rss_of(bd, "thread stacks", NULL), h[1]));
	uint64_t meta = vsz_of(bd, M, NULL);
	if (n < 5 && meta && as->has_rss)
		snprintf(
		    out[n++], 640,
		    "The runtime's mapped metadata takes %s, of which %s is resident; %s of it "
		    "is the arena index, which the runtime maps whole and touches only where "
		    "the heap is.",
		    gm_human_bytes(meta, h[0]), gm_human_bytes(rss_of(bd, M, NULL), h[1]),
		    gm_human_bytes(vsz_of(bd, M, "arena index (heap index)"), h[2]));
	return n;
}

/* Wraps s at 100 columns. */
static void wrap(struct gm_strbuf *b, const char *s)
{
	const char *p = s;
	while (*p) {
		size_t n = strlen(p);
		if (n > 100) {
			n = 100;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = 100;
		}
		gm_strbuf_append(b, p, n);
		gm_strbuf_append(b, "\n", 1);
		p += n;
		while (*p == ' ')
			p++;
	}
}

void gm_breakdown_explain(struct gm_strbuf *b, const struct gm_addrspace *as,
			  const struct gm_breakdown *bd)
{
	char s[5][640];
	int n = explain(as, bd, s);
	gm_strbuf_printf(b, "\nwhy VSZ is so much larger than RSS:\n");
	for (int i = 0; i < n; i++)
		wrap(b, s[i]);
}

void gm_breakdown_explain_json(struct gm_jw *w, const struct gm_addrspace *as,
			       const struct gm_breakdown *bd)
{
	char s[5][640];
	int n = explain(as, bd, s);
	gm_jw_array(w);
	for (int i = 0; i < n; i++)
		gm_jw_string(w, s[i]);
	gm_jw_end(w);
}
