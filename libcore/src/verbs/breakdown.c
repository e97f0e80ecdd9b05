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

/* Columns of UTF-8 text: box-drawing characters take 3 bytes but one column. */
static int columns(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void text_node(struct gm_strbuf *b, const struct gm_breakdown *bd, int i, const char *prefix,
		      bool last, int depth)
{
	const struct gm_bnode *n = &bd->nodes[i];
	uint64_t total = bd->nodes[0].vsz;
	char vsz[32], rss[32], label[160 + sizeof(n->name)], sub[160];
	double pct = total ? 100.0 * (double)n->vsz / (double)total : 0;
	int used =
	    snprintf(label, sizeof(label), "%s%s", prefix, depth ? (last ? "└─ " : "├─ ") : "");
	if (used < 0 || (size_t)used >= sizeof(label))
		used = 0;
	/* A name too long for its column (a mapped file's path) keeps its tail. */
	const char *name = n->name;
	int room = NAME_COLS - columns(label), len = columns(name);
	if (len > room && room > 8) {
		for (int skip = len - (room - 3); skip > 0 && *name; name++)
			skip -= ((unsigned char)name[1] & 0xc0) != 0x80;
		snprintf(label + used, sizeof(label) - (size_t)used, "...%s", name);
	} else {
		snprintf(label + used, sizeof(label) - (size_t)used, "%s", name);
	}
	int extra = (int)strlen(label) - columns(label);
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

/* ---- RSS, and what it counts ---- */

void gm_rss_line(struct gm_strbuf *b, const struct gm_addrspace *as, uint64_t os_page)
{
	char h[4][32];
	bool kernel_core = false;
	if (!as->has_rss)
		gm_strbuf_printf(b, "RSS unknown");
	else if (as->has_rss_file)
		gm_strbuf_printf(b, "RSS %s: %s anonymous + %s file-backed (smaps)",
				 gm_human_bytes(as->rss, h[0]), gm_human_bytes(as->rss_anon, h[1]),
				 gm_human_bytes(as->rss_file, h[2]));
	else if ((kernel_core = as->has_rss_anon))
		gm_strbuf_printf(b, "RSS %s resident (anonymous)", gm_human_bytes(as->rss, h[0]));
	else
		gm_strbuf_printf(b, "RSS %s", gm_human_bytes(as->rss, h[0]));
	gm_strbuf_printf(b, ", OS page %s\n", gm_human_bytes(os_page, h[3]));
	if (kernel_core)
		gm_strbuf_printf(b,
				 "file-backed pages are not in a kernel core: it holds anonymous "
				 "and written private pages\n");
}

void gm_rss_json(struct gm_jw *w, const struct gm_addrspace *as)
{
	gm_jw_member_uint_or_null(w, "rss_bytes", as->has_rss, as->rss);
	gm_jw_member_uint_or_null(w, "rss_anon_bytes", as->has_rss_anon, as->rss_anon);
	gm_jw_member_uint_or_null(w, "rss_file_bytes", as->has_rss_file, as->rss_file);
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

#define MAX_SENTENCES  6
#define SENTENCE_BYTES 1024

/* What the bytes of VSZ that are not resident (or not in a kernel core) are. */
enum { NR_RESERVED, NR_FILE_MAPPINGS, NR_IMAGES, NR_ANON, NR_COUNT };

static void not_resident(const struct gm_addrspace *as, uint64_t out[NR_COUNT])
{
	memset(out, 0, NR_COUNT * sizeof(*out));
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		if (!p->in_vsz)
			continue;
		uint64_t len = p->end - p->start, rss = p->has_rss && p->rss < len ? p->rss : 0;
		bool file = p->file && p->file[0] != '[';
		int k = p->owner == GM_OWNER_FILE_MAPPING	  ? NR_FILE_MAPPINGS
			: file					  ? NR_IMAGES
			: !(p->flags & (PF_W | PF_X)) && !p->file ? NR_RESERVED
								  : NR_ANON;
		out[k] += len - rss;
	}
}

/* A clause of the first sentence: "1.7 GiB (14%) is ...", and its bytes for the order. */
struct clause {
	char text[160];
	uint64_t bytes;
};

static void set_clause(struct clause *c, uint64_t bytes, uint64_t vsz, const char *what)
{
	char h[32], pct[16];
	double p = vsz ? 100.0 * (double)bytes / (double)vsz : 0;
	c->bytes = bytes;
	if (p < 1)
		snprintf(pct, sizeof(pct), "<1%%");
	else
		snprintf(pct, sizeof(pct), "%.0f%%", p);
	snprintf(c->text, sizeof(c->text), "%s (%s) %s", gm_human_bytes(bytes, h), pct, what);
}

static int cmp_clause(const void *a, const void *b)
{
	const struct clause *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Appends "A, B and C", largest first, of the clauses that are not empty; false if none. */
static bool clauses(struct gm_strbuf *b, struct clause *c, int n)
{
	int total = 0;
	gm_sort(c, (size_t)n, sizeof(*c), cmp_clause);
	for (int i = 0; i < n; i++)
		total += c[i].bytes != 0;
	for (int i = 0; i < total; i++)
		gm_strbuf_printf(b, "%s%s",
				 i == 0		  ? ""
				 : i == total - 1 ? " and "
						  : ", ",
				 c[i].text);
	return total > 0;
}

/* The first sentence: what is resident, and what the rest of VSZ is. */
static void first_sentence(const struct gm_addrspace *as, uint64_t vsz, char *out)
{
	uint64_t nr[NR_COUNT];
	char h[3][32];
	struct clause c[NR_COUNT];
	struct gm_strbuf b = {0};
	memset(c, 0, sizeof(c));
	not_resident(as, nr);
	bool kernel = as->has_rss && !as->has_rss_file;
	double rss_pct = vsz ? 100.0 * (double)as->rss / (double)vsz : 0;
	if (!as->has_rss) {
		set_clause(&c[0], nr[NR_RESERVED], vsz, "is reserved address space (no memory)");
		set_clause(&c[1], nr[NR_FILE_MAPPINGS], vsz,
			   "is file mappings (memory only for the pages read in)");
		gm_strbuf_printf(&b, "VSZ is %s; a gcore cannot tell which pages were resident",
				 gm_human_bytes(vsz, h[0]));
		if (nr[NR_RESERVED] || nr[NR_FILE_MAPPINGS])
			gm_strbuf_printf(&b, ", but ");
		clauses(&b, c, 2);
		gm_strbuf_printf(&b, ".");
	} else {
		if (kernel)
			gm_strbuf_printf(
			    &b,
			    "VSZ is %s; %s (%.1f%%) of it is resident anonymous memory, "
			    "the pages a kernel core holds (file-backed pages are not in "
			    "a kernel core). ",
			    gm_human_bytes(vsz, h[0]), gm_human_bytes(as->rss, h[1]), rss_pct);
		else if (as->has_rss_file)
			gm_strbuf_printf(&b,
					 "VSZ is %s but only %s (%.1f%%) is resident: %s anonymous "
					 "and %s file-backed. ",
					 gm_human_bytes(vsz, h[0]), gm_human_bytes(as->rss, h[1]),
					 rss_pct, gm_human_bytes(as->rss_anon, h[2]),
					 gm_human_bytes(as->rss_file, (char[32]){0}));
		else
			gm_strbuf_printf(&b, "VSZ is %s but only %s (%.1f%%) is resident. ",
					 gm_human_bytes(vsz, h[0]), gm_human_bytes(as->rss, h[1]),
					 rss_pct);
		set_clause(&c[0], nr[NR_RESERVED], vsz, "is address space reserved with PROT_NONE");
		set_clause(&c[1], nr[NR_FILE_MAPPINGS], vsz,
			   kernel ? "is file mappings (resident or not: their pages are the page "
				    "cache's)"
				  : "is pages of mapped files not read in");
		set_clause(&c[2], nr[NR_IMAGES], vsz,
			   kernel ? "is the executable's and libraries' files"
				  : "is pages of the executable and libraries not read in");
		set_clause(&c[3], nr[NR_ANON], vsz, "is anonymous memory mapped but never touched");
		gm_strbuf_printf(&b, "Of the rest, ");
		clauses(&b, c, NR_COUNT);
		gm_strbuf_printf(&b, kernel ? "; reserved and untouched memory costs nothing."
					    : "; none of it costs memory.");
	}
	snprintf(out, SENTENCE_BYTES, "%s", b.s ? b.s : "");
	gm_strbuf_deinit(&b);
}

/* A mapped file, for the sentence that names the largest. */
struct mapped_file {
	const struct gm_bnode *node;
	const struct gm_part *part; /* one of its parts: how it is mapped */
};

static bool names_path(const char *name, const char *path)
{
	size_t n = strlen(name), p = strlen(path);
	if (strcmp(name, path) == 0)
		return true;
	/* A path cut to its tail for the node (addrspace/breakdown.c). */
	return n > 3 && strncmp(name, "...", 3) == 0 && p >= n - 3 &&
	       strcmp(path + p - (n - 3), name + 3) == 0;
}

/* The sentence that names the largest file mappings (at most 3). */
static void files_sentence(const struct gm_addrspace *as, const struct gm_breakdown *bd, char *out)
{
	const struct gm_bnode *top = find(bd, "file mappings", NULL);
	struct mapped_file f[3] = {{0}};
	int nf = 0;
	int ti = top ? (int)(top - bd->nodes) : -1;
	for (int i = ti + 1; top && i < bd->n; i++) {
		const struct gm_bnode *n = &bd->nodes[i];
		if (n->parent != ti)
			continue;
		int k = nf < 3 ? nf++ : 2;
		if (k == 2 && nf == 3 && f[2].node && f[2].node->vsz >= n->vsz)
			continue;
		f[k].node = n;
		for (; k > 0 && f[k - 1].node->vsz < f[k].node->vsz; k--) {
			struct mapped_file t = f[k - 1];
			f[k - 1] = f[k];
			f[k] = t;
		}
	}
	struct gm_strbuf b = {0};
	for (int k = 0; k < nf; k++) {
		for (size_t i = 0; i < as->nparts && !f[k].part; i++) {
			const struct gm_part *p = &as->parts[i];
			if (p->owner == GM_OWNER_FILE_MAPPING && p->group &&
			    names_path(f[k].node->name, p->group))
				f[k].part = p;
		}
		const struct gm_part *p = f[k].part;
		const char *name = f[k].node->name;
		size_t len = strlen(name);
		char h[2][32];
		gm_strbuf_printf(&b, "%s%s%.120s (%s",
				 k == 0	       ? ""
				 : k == nf - 1 ? " and "
					       : ", ",
				 len > 120 ? "..." : "", len > 120 ? name + len - 117 : name,
				 gm_human_bytes(f[k].node->vsz, h[0]));
		if (p && (p->share == 's' || p->share == 'p'))
			gm_strbuf_printf(&b, ", %s",
					 p->share == 's' ? "MAP_SHARED" : "MAP_PRIVATE");
		if (p)
			gm_strbuf_printf(&b, " %s", (p->flags & PF_W) ? "read-write" : "read-only");
		if (as->has_rss_file)
			gm_strbuf_printf(&b, "; %s resident", gm_human_bytes(f[k].node->rss, h[1]));
		gm_strbuf_printf(&b, ")");
	}
	char h[32];
	snprintf(out, SENTENCE_BYTES,
		 "Files mapped by the program take %s of address space: %s. A mapped file "
		 "takes address space for the whole length mapped, and memory only for the "
		 "pages read in, which are the page cache's.",
		 gm_human_bytes(top ? top->vsz : 0, h), b.s ? b.s : "");
	gm_strbuf_deinit(&b);
}

/* The sentences, each as a separate string, written to out[] (at most MAX_SENTENCES). */
static int explain(const struct gm_addrspace *as, const struct gm_breakdown *bd,
		   char out[MAX_SENTENCES][SENTENCE_BYTES])
{
	char h[6][32];
	int n = 0;
	uint64_t vsz = bd->n ? bd->nodes[0].vsz : 0;
	first_sentence(as, vsz, out[n++]);
	if (vsz_of(bd, "file mappings", NULL))
		files_sentence(as, bd, out[n++]);

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
		snprintf(out[n++], SENTENCE_BYTES,
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
	snprintf(out[n++], SENTENCE_BYTES,
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
	if (n < MAX_SENTENCES && as->n_pthread_stacks && as->has_rss)
		snprintf(out[n++], SENTENCE_BYTES,
			 "With cgo every Go thread runs on a pthread stack: %u of them, with the "
			 "main stack and guard pages, take %s of address space but only %s is "
			 "resident.",
			 as->n_pthread_stacks, gm_human_bytes(stacks, h[0]),
			 gm_human_bytes(rss_of(bd, "thread stacks", NULL), h[1]));
	uint64_t meta = vsz_of(bd, M, NULL);
	if (n < MAX_SENTENCES && meta && as->has_rss)
		snprintf(
		    out[n++], SENTENCE_BYTES,
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
			  const struct gm_breakdown *bd, const char *extra)
{
	char s[MAX_SENTENCES][SENTENCE_BYTES];
	int n = explain(as, bd, s);
	gm_strbuf_printf(b, "\nwhy VSZ is so much larger than RSS:\n");
	for (int i = 0; i < n; i++)
		wrap(b, s[i]);
	if (extra) {
		gm_strbuf_printf(b, "\nthe heap since the last GC:\n");
		wrap(b, extra);
	}
}

void gm_breakdown_explain_json(struct gm_jw *w, const struct gm_addrspace *as,
			       const struct gm_breakdown *bd, const char *extra)
{
	char s[MAX_SENTENCES][SENTENCE_BYTES];
	int n = explain(as, bd, s);
	gm_jw_array(w);
	for (int i = 0; i < n; i++)
		gm_jw_string(w, s[i]);
	if (extra)
		gm_jw_string(w, extra);
	gm_jw_end(w);
}
