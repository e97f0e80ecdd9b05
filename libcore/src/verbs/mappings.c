/*
 * `gomem mappings`: every mapping, or the part of one that one owner has,
 * sorted by address, with its size, resident bytes, owner and a detail;
 * then the totals by owner. Rendered as text or as gomem/mappings/v1.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

#define DETAIL_INDENT 4
#define COLUMNS	      100

struct owner_total {
	uint64_t vsz, rss;
};

static void totals(const struct gm_addrspace *as, struct owner_total t[GM_OWNER_COUNT])
{
	memset(t, 0, GM_OWNER_COUNT * sizeof(*t));
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		if (!p->in_vsz)
			continue;
		t[p->owner].vsz += p->end - p->start;
		t[p->owner].rss += p->rss;
	}
}

static void warnings(struct gm_run *r, const struct gm_addrspace *as)
{
	const struct gm_target *t = r->t;
	for (size_t i = 0; i < as->nwarnings; i++)
		gm_run_warn(r, as->partial, "%s", as->warnings[i]);
	const char *why = t->have_core ? gm_target_residency_why(t) : NULL;
	if (why)
		gm_run_warn(r, false, "residency unknown: %s: %s", t->core.path, why);
	if (gm_target_is_gcore(t))
		gm_run_warn(r, false,
			    "a gcore records PROT_NONE reservations as read-only (r--): mapped and "
			    "reserved parts are told apart by whether they are writable");
}

static void mappings_json(struct gm_run *r, const struct gm_addrspace *as)
{
	struct gm_jw *w = &r->jw;
	struct owner_total t[GM_OWNER_COUNT];
	gm_run_json_begin(r, "gomem/mappings/v1");
	gm_jw_line(w);
	gm_jw_key(w, "target");
	gm_json_target(w, r->target);
	gm_jw_line(w);
	gm_jw_member_uint(w, "vsz_bytes", as->vsz);
	gm_jw_line(w);
	gm_rss_json(w, as);
	gm_jw_line(w);
	gm_jw_key(w, "mappings");
	gm_jw_array_lines(w);
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		char pm[5];
		gm_jw_object(w);
		gm_jw_member_uint(w, "start", p->start);
		gm_jw_member_uint(w, "end", p->end);
		gm_jw_member_string(w, "perms", gm_perms(p->flags, p->share, pm));
		gm_jw_member_uint(w, "vsz_bytes", p->end - p->start);
		gm_jw_member_uint_or_null(w, "rss_bytes", p->has_rss, p->rss);
		gm_jw_member_string(w, "file", p->file);
		gm_jw_member_string(w, "owner", gm_owner_name(p->owner));
		gm_jw_member_string(w, "detail", p->detail ? p->detail : "");
		gm_jw_member_bool(w, "in_vsz", p->in_vsz);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_jw_line(w);
	gm_jw_key(w, "by_owner");
	gm_jw_array_lines(w);
	totals(as, t);
	for (int o = 0; o < GM_OWNER_COUNT; o++) {
		if (!t[o].vsz)
			continue;
		gm_jw_object(w);
		gm_jw_member_string(w, "owner", gm_owner_name((enum gm_owner)o));
		gm_jw_member_uint(w, "vsz_bytes", t[o].vsz);
		gm_jw_member_uint_or_null(w, "rss_bytes", as->has_rss, t[o].rss);
		gm_jw_end(w);
	}
	gm_jw_end(w);
	gm_run_json_end(r);
}

/* The detail, indented and wrapped to COLUMNS. */
static void text_detail(struct gm_strbuf *b, const char *s)
{
	const size_t width = COLUMNS - DETAIL_INDENT;
	while (*s) {
		size_t n = strlen(s);
		if (n > width) {
			n = width;
			while (n > 0 && s[n] != ' ')
				n--;
			if (n == 0)
				n = width;
		}
		gm_strbuf_printf(b, "%*s", DETAIL_INDENT, "");
		gm_strbuf_append(b, s, n);
		gm_strbuf_append(b, "\n", 1);
		s += n;
		while (*s == ' ')
			s++;
	}
}

static void mappings_text(struct gm_run *r, const struct gm_addrspace *as)
{
	struct gm_strbuf *b = &r->out;
	const struct gm_target *t = r->t;
	char h1[32], h2[32];
	gm_strbuf_printf(b, "executable %s (%s, linux/%s)\n", t->exe.path, t->exe.go_version,
			 t->arch->goarch);
	if (t->have_core)
		gm_strbuf_printf(b, "%s core %s, pid %d\n", gm_target_core_kind(t), t->core.path,
				 t->pid);
	else
		gm_strbuf_printf(b, "live process %d\n", t->pid);
	gm_strbuf_printf(b, "VSZ %s (%" PRIu64 " bytes), ", gm_human_bytes(as->vsz, h1), as->vsz);
	gm_rss_line(b, as, t->page_size);
	gm_strbuf_printf(b, "\n");
	gm_strbuf_printf(b, "%-25s %-4s %10s %10s  %s\n", "address", "perm", "VSZ", "RSS",
			 "owner, then what it is [where gomem found it]");
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		char pm[5];
		gm_strbuf_printf(b, "%012" PRIx64 "-%012" PRIx64 " %-4s %10s %10s  %s%s\n",
				 p->start, p->end, gm_perms(p->flags, p->share, pm),
				 gm_human_bytes(p->end - p->start, h1),
				 p->has_rss ? gm_human_bytes(p->rss, h2) : "-",
				 gm_owner_name(p->owner), p->in_vsz ? "" : " (not in VmSize)");
		if (p->file && p->file[0] != '[')
			text_detail(b, p->file);
		text_detail(b, p->detail ? p->detail : "");
	}
	struct owner_total tot[GM_OWNER_COUNT];
	totals(as, tot);
	gm_strbuf_printf(b, "\n%-22s %10s %7s %10s\n", "by owner", "VSZ", "of VSZ", "RSS");
	for (int o = 0; o < GM_OWNER_COUNT; o++) {
		if (!tot[o].vsz)
			continue;
		gm_strbuf_printf(b, "%-22s %10s %6.1f%% %10s\n", gm_owner_name((enum gm_owner)o),
				 gm_human_bytes(tot[o].vsz, h1),
				 as->vsz ? 100.0 * (double)tot[o].vsz / (double)as->vsz : 0,
				 as->has_rss ? gm_human_bytes(tot[o].rss, h2) : "-");
	}
	gm_strbuf_printf(b, "%-22s %10s %6.1f%% %10s\n", "total (VmSize)",
			 gm_human_bytes(as->vsz, h1), 100.0,
			 as->has_rss ? gm_human_bytes(as->rss, h2) : "-");
	gm_run_text_warnings(r);
}

static struct gomem_error *run(struct gm_run *r)
{
	struct gm_addrspace *as = NULL;
	struct gomem_error *err = gm_addrspace_build(r->t, r->rt, &as);
	if (err)
		return err;
	warnings(r, as);
	if (r->json)
		mappings_json(r, as);
	else
		mappings_text(r, as);
	gm_addrspace_destroy(as);
	return NULL;
}

static const struct gm_option_spec options[] = {
    {NULL, NULL, NULL},
};

const struct gm_verb gm_verb_mappings = {
    .name = "mappings",
    .usage = "mappings [--json]",
    .summary = "every mapping (or part of one): size, resident bytes, owner, what it is",
    .help = "Lists every mapping of the address space, cut into parts where owners "
	    "change, sorted by address: its permissions as /proc/PID/maps shows them "
	    "(the p or s is '?' where a core cannot tell), its size, its resident "
	    "bytes (live: smaps and pagemap; a kernel core's dumped anonymous pages; "
	    "unknown for a gcore or a QEMU core), its owner (go-heap, go-heap-reserved, "
	    "go-runtime-metadata, go-runtime-reserved, thread-stack, main-stack, "
	    "c-heap, binary, shared-library, file-mapping, kernel, unknown) and what it "
	    "is, with where gomem found it: a pointer the runtime keeps, the ELF "
	    "files, the threads' registers, or an inference it names. Then the totals "
	    "by owner, which add up to VmSize. With --json, prints one "
	    "gomem/mappings/v1 object.",
    .options = options,
    .run = run,
};
