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

static void perms(uint32_t flags, char out[4])
{
	out[0] = (flags & PF_R) ? 'r' : '-';
	out[1] = (flags & PF_W) ? 'w' : '-';
	out[2] = (flags & PF_X) ? 'x' : '-';
	out[3] = '\0';
}

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
		gm_run_warn(r, false, "%s", as->warnings[i]);
	if (t->have_core && !t->core.kernel_dump) {
		gm_run_warn(r, false,
			    "residency unknown: %s was not written by the kernel (gcore writes "
			    "every page, so it cannot tell resident pages from untouched ones)",
			    t->core.path);
		gm_run_warn(r, false,
			    "a gcore records PROT_NONE reservations as read-only (r--): mapped and "
			    "reserved parts are told apart by whether they are writable");
	}
}

static void mappings_json(struct gm_run *r, const struct gm_addrspace *as)
{
	struct gm_strbuf *b = &r->out;
	struct owner_total t[GM_OWNER_COUNT];
	gm_strbuf_printf(b, "{\"schema\": \"gomem/mappings/v1\",\n \"target\": ");
	gm_json_target(b, r->t);
	gm_strbuf_printf(b, ",\n \"vsz_bytes\": %" PRIu64 ",\n \"rss_bytes\": ", as->vsz);
	gm_strbuf_json_uint_or_null(b, as->has_rss, as->rss);
	gm_strbuf_printf(b, ",\n \"mappings\": [");
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		char pm[4];
		perms(p->flags, pm);
		gm_strbuf_printf(b,
				 "%s\n  {\"start\": %" PRIu64 ", \"end\": %" PRIu64
				 ", \"perms\": \"%s\", \"vsz_bytes\": %" PRIu64 ", \"rss_bytes\": ",
				 i ? "," : "", p->start, p->end, pm, p->end - p->start);
		gm_strbuf_json_uint_or_null(b, p->has_rss, p->rss);
		gm_strbuf_printf(b, ", \"file\": ");
		gm_strbuf_json_string_or_null(b, p->file);
		gm_strbuf_printf(b, ", \"owner\": \"%s\", \"detail\": ", gm_owner_name(p->owner));
		gm_strbuf_json_string(b, p->detail ? p->detail : "");
		gm_strbuf_printf(b, ", \"in_vsz\": %s}", p->in_vsz ? "true" : "false");
	}
	gm_strbuf_printf(b, "],\n \"by_owner\": [");
	totals(as, t);
	bool first = true;
	for (int o = 0; o < GM_OWNER_COUNT; o++) {
		if (!t[o].vsz)
			continue;
		gm_strbuf_printf(
		    b, "%s\n  {\"owner\": \"%s\", \"vsz_bytes\": %" PRIu64 ", \"rss_bytes\": ",
		    first ? "" : ",", gm_owner_name((enum gm_owner)o), t[o].vsz);
		if (as->has_rss)
			gm_strbuf_printf(b, "%" PRIu64 "}", t[o].rss);
		else
			gm_strbuf_printf(b, "null}");
		first = false;
	}
	gm_strbuf_printf(b, "],\n ");
	gm_run_json_warnings(r);
	gm_strbuf_printf(b, "}\n");
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
	gm_strbuf_printf(b, "executable %s (%s)\n", t->exe.path, t->exe.go_version);
	if (t->have_core)
		gm_strbuf_printf(b, "%s core %s, pid %d\n",
				 t->core.kernel_dump ? "kernel" : "gcore", t->core.path, t->pid);
	else
		gm_strbuf_printf(b, "live process %d\n", t->pid);
	gm_strbuf_printf(b, "VSZ %s (%" PRIu64 " bytes), RSS %s\n\n", gm_human_bytes(as->vsz, h1),
			 as->vsz, as->has_rss ? gm_human_bytes(as->rss, h2) : "unknown");
	gm_strbuf_printf(b, "%-25s %-4s %10s %10s  %s\n", "address", "perm", "VSZ", "RSS",
			 "owner, then what it is [where gomem found it]");
	for (size_t i = 0; i < as->nparts; i++) {
		const struct gm_part *p = &as->parts[i];
		char pm[4];
		perms(p->flags, pm);
		gm_strbuf_printf(b, "%012" PRIx64 "-%012" PRIx64 " %-4s %10s %10s  %s%s\n",
				 p->start, p->end, pm, gm_human_bytes(p->end - p->start, h1),
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

struct gomem_error *gm_verb_mappings(struct gm_run *r)
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
