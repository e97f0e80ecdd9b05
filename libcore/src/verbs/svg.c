/*
 * The breakdown as a picture: a squarified treemap (Bruls, Huizing, van
 * Wijk) where each node's rectangle has an area proportional to its VSZ
 * and its children tile it exactly; the shade says how much of it is
 * resident. A legend lists every node, since most are too small to label.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "verbs/verbs.h"

#define MAP_X	  10.0
#define MAP_Y	  64.0
#define MAP_W	  960.0
#define MAP_H	  640.0
#define LEGEND_X  (MAP_X + MAP_W + 24.0)
#define LEGEND_W  540.0
#define LINE	  17.0
#define MAX_DEPTH 8

static double worst_ratio(double sum, double min_a, double max_a, double side)
{
	double s2 = sum * sum, w2 = side * side;
	double r1 = w2 * max_a / s2, r2 = s2 / (w2 * min_a);
	return r1 > r2 ? r1 : r2;
}

static int cmp_by_vsz(const void *a, const void *b, void *arg)
{
	const struct gm_breakdown *bd = arg;
	uint64_t x = bd->nodes[*(const int *)a].vsz, y = bd->nodes[*(const int *)b].vsz;
	return x < y ? 1 : x > y ? -1 : (*(const int *)a - *(const int *)b);
}

/* Lays out node p's children inside out[p]. */
static void squarify(const struct gm_breakdown *bd, int p, struct gm_rect *out, int depth)
{
	int *kids = malloc((size_t)bd->n * sizeof(*kids));
	int nk = 0;
	if (!kids)
		return;
	for (int j = p + 1; j < bd->n; j++) {
		if (bd->nodes[j].parent == p)
			kids[nk++] = j;
	}
	qsort_r(kids, (size_t)nk, sizeof(*kids), cmp_by_vsz, (void *)bd);
	struct gm_rect rem = out[p];
	double total = (double)bd->nodes[p].vsz;
	double scale = total > 0 ? rem.w * rem.h / total : 0;
	int i = 0;
	while (i < nk) {
		if (bd->nodes[kids[i]].vsz == 0 || scale == 0) {
			/* Nothing to show: an empty rectangle at the corner. */
			out[kids[i]] = (struct gm_rect){rem.x, rem.y, 0, 0};
			i++;
			continue;
		}
		double side = rem.w < rem.h ? rem.w : rem.h;
		double sum = 0, best = 0, max_a = 0, min_a = 0;
		int j = i;
		while (j < nk && bd->nodes[kids[j]].vsz) {
			double a = (double)bd->nodes[kids[j]].vsz * scale;
			double mx = j == i ? a : max_a, mn = a;
			double w = worst_ratio(sum + a, mn, mx, side);
			if (j > i && w > best)
				break;
			sum += a;
			best = w;
			max_a = mx;
			min_a = mn;
			j++;
		}
		(void)min_a;
		bool last_row = j == nk || bd->nodes[kids[j]].vsz == 0;
		if (rem.w >= rem.h) {
			/* A column along the left edge. */
			double sw = last_row ? rem.w : (rem.h > 0 ? sum / rem.h : 0);
			double y = rem.y;
			for (int k = i; k < j; k++) {
				double a = (double)bd->nodes[kids[k]].vsz * scale;
				double h = k == j - 1 ? rem.y + rem.h - y : (sw > 0 ? a / sw : 0);
				out[kids[k]] = (struct gm_rect){rem.x, y, sw, h};
				y += h;
			}
			rem.x += sw;
			rem.w -= sw;
		} else {
			/* A row along the top edge. */
			double sh = last_row ? rem.h : (rem.w > 0 ? sum / rem.w : 0);
			double x = rem.x;
			for (int k = i; k < j; k++) {
				double a = (double)bd->nodes[kids[k]].vsz * scale;
				double w = k == j - 1 ? rem.x + rem.w - x : (sh > 0 ? a / sh : 0);
				out[kids[k]] = (struct gm_rect){x, rem.y, w, sh};
				x += w;
			}
			rem.y += sh;
			rem.h -= sh;
		}
		i = j;
	}
	for (int k = 0; k < nk && depth < MAX_DEPTH; k++)
		squarify(bd, kids[k], out, depth + 1);
	free(kids);
}

void gm_treemap_layout(const struct gm_breakdown *bd, struct gm_rect r, struct gm_rect *out)
{
	if (bd->n == 0)
		return;
	for (int i = 0; i < bd->n; i++)
		out[i] = (struct gm_rect){r.x, r.y, 0, 0};
	out[0] = r;
	squarify(bd, 0, out, 0);
}

/* ---- drawing ---- */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

static int depth_of(const struct gm_breakdown *bd, int i)
{
	int d = 0;
	while (i > 0 && d < MAX_DEPTH + 2) {
		i = bd->nodes[i].parent;
		d++;
	}
	return d;
}

/* The top-level node a node belongs to (the root for itself). */
static int top_of(const struct gm_breakdown *bd, int i)
{
	for (int guard = 0; i > 0 && bd->nodes[i].parent > 0 && guard < MAX_DEPTH + 2; guard++)
		i = bd->nodes[i].parent;
	return i;
}

/* hsl() of a node: a hue per top-level node, darker the more of it is resident. */
static void fill(const struct gm_breakdown *bd, int i, char *buf, size_t size)
{
	static const int hues[] = {210, 28, 0, 275, 130, 48, 175, 330, 0};
	static const int sats[] = {65, 70, 0, 45, 45, 75, 45, 55, 80};
	int top = top_of(bd, i), k = 0;
	for (int j = 1; j < top; j++)
		k += bd->nodes[j].parent == 0;
	k %= (int)(sizeof(hues) / sizeof(hues[0]));
	const struct gm_bnode *n = &bd->nodes[i];
	double frac = n->has_rss && n->vsz ? (double)n->rss / (double)n->vsz : 0;
	int light = n->has_rss ? (int)(90.0 - 50.0 * frac) : 78;
	if (i == 0)
		snprintf(buf, size, "hsl(0,0%%,96%%)");
	else
		snprintf(buf, size, "hsl(%d,%d%%,%d%%)", hues[k], sats[k], light);
}

static bool has_children(const struct gm_breakdown *bd, int i)
{
	for (int j = i + 1; j < bd->n; j++) {
		if (bd->nodes[j].parent == i)
			return true;
	}
	return false;
}

static void node_path(const struct gm_breakdown *bd, int i, char *buf, size_t size)
{
	int chain[MAX_DEPTH + 2], n = 0;
	for (int j = i; j >= 0 && n < MAX_DEPTH + 2; j = bd->nodes[j].parent)
		chain[n++] = j;
	size_t used = 0;
	buf[0] = '\0';
	for (int k = n - 1; k >= 0 && used < size; k--)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", k == n - 1 ? "" : " / ",
					 bd->nodes[chain[k]].name);
}

static void draw_node(FILE *f, const struct gm_breakdown *bd, const struct gm_rect *r, int i)
{
	const struct gm_bnode *n = &bd->nodes[i];
	char color[48], path[512], h1[32], h2[32];
	fill(bd, i, color, sizeof(color));
	node_path(bd, i, path, sizeof(path));
	int depth = depth_of(bd, i);
	fprintf(f, "<g class=\"node\" data-name=\"");
	xml_text(f, n->name);
	fprintf(f, "\" data-depth=\"%d\" data-vsz=\"%" PRIu64 "\" data-rss=\"", depth, n->vsz);
	if (n->has_rss)
		fprintf(f, "%" PRIu64, n->rss);
	fprintf(f, "\"><title>");
	xml_text(f, path);
	fprintf(f, ": %s of address space, %s resident</title>\n", gm_human_bytes(n->vsz, h1),
		n->has_rss ? gm_human_bytes(n->rss, h2) : "unknown");
	fprintf(f,
		"  <rect x=\"%.4f\" y=\"%.4f\" width=\"%.4f\" height=\"%.4f\" fill=\"%s\" "
		"stroke=\"#fff\" stroke-width=\"%.1f\"/>\n",
		r[i].x, r[i].y, r[i].w, r[i].h, color, depth <= 1 ? 2.5 : 0.6);
	/* A label where it fits: leaves inside, top-level nodes at their corner. */
	bool leaf = !has_children(bd, i);
	double chars = (r[i].w - 6) / 6.4;
	if (leaf && r[i].h >= 15 && chars >= 6) {
		char label[sizeof(n->name) + 40];
		snprintf(label, sizeof(label), "%s %s", n->name, gm_human_bytes(n->vsz, h1));
		if ((double)strlen(label) > chars)
			label[(size_t)chars] = '\0';
		fprintf(f, "  <text x=\"%.1f\" y=\"%.1f\">", r[i].x + 4, r[i].y + 13);
		xml_text(f, label);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</g>\n");
}

static void draw_legend(FILE *f, const struct gm_breakdown *bd, double y)
{
	char color[48], h1[32], h2[32], line[384];
	uint64_t total = bd->nodes[0].vsz;
	fprintf(
	    f,
	    "<text x=\"%.1f\" y=\"%.1f\" class=\"head\">every node: VSZ (share), resident</text>\n",
	    LEGEND_X, y);
	y += LINE;
	/* Depth-first, in the tree's order. */
	int *stack = malloc((size_t)bd->n * sizeof(*stack)), sp = 0;
	if (!stack)
		return;
	stack[sp++] = 0;
	while (sp > 0) {
		int i = stack[--sp];
		const struct gm_bnode *n = &bd->nodes[i];
		int depth = depth_of(bd, i);
		fill(bd, i, color, sizeof(color));
		snprintf(line, sizeof(line), "%s: %s (%.2f%%), %s resident", n->name,
			 gm_human_bytes(n->vsz, h1),
			 total ? 100.0 * (double)n->vsz / (double)total : 0,
			 n->has_rss ? gm_human_bytes(n->rss, h2) : "unknown");
		double x = LEGEND_X + 14.0 * depth;
		fprintf(f,
			"<rect class=\"swatch\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" "
			"fill=\"%s\" stroke=\"#999\" stroke-width=\"0.5\"/>",
			x, y - 9, color);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 14, y);
		xml_text(f, line);
		fprintf(f, "</text>\n");
		y += LINE;
		/* Children, pushed in reverse so that they come out in order. */
		for (int j = bd->n - 1; j > i; j--) {
			if (bd->nodes[j].parent == i && sp < bd->n)
				stack[sp++] = j;
		}
	}
	free(stack);
}

struct gomem_error *gm_breakdown_svg(const struct gm_breakdown *bd, const char *title,
				     const char *path)
{
	if (bd->n == 0)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "no breakdown to draw");
	struct gm_rect *r = calloc((size_t)bd->n, sizeof(*r));
	if (!r)
		return &gm_error_no_memory;
	gm_treemap_layout(bd, (struct gm_rect){MAP_X, MAP_Y, MAP_W, MAP_H}, r);
	FILE *f = fopen(path, "w");
	if (!f) {
		int e = errno;
		free(r);
		return gm_error_errno(GOMEM_ERROR_IO, e, "--svg %s", path);
	}
	double height = MAP_Y + 24.0 + LINE * (bd->n + 1);
	if (height < MAP_Y + MAP_H + 40)
		height = MAP_Y + MAP_H + 40;
	double width = LEGEND_X + LEGEND_W;
	char h1[32], h2[32];
	const struct gm_bnode *root = &bd->nodes[0];
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Verdana, sans-serif\" "
		"font-size=\"11\">\n",
		width, height, width, height);
	fprintf(f, "<title>");
	xml_text(f, title);
	fprintf(f, "</title>\n<style>.top{font-weight:bold;font-size:12px}"
		   ".head{font-weight:bold;font-size:13px}"
		   "text{pointer-events:none;paint-order:stroke;stroke:#fff;stroke-width:2px;"
		   "stroke-opacity:.6}</style>\n");
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width,
		height);
	fprintf(f, "<text x=\"%.1f\" y=\"22\" class=\"head\">", MAP_X);
	xml_text(f, title);
	fprintf(f,
		"</text>\n<text x=\"%.1f\" y=\"42\">VSZ %s, resident %s. Area = VSZ; the "
		"darker a rectangle, the more of it is resident (light: reserved or never "
		"touched). Hover for names and sizes.</text>\n",
		MAP_X, gm_human_bytes(root->vsz, h1),
		root->has_rss ? gm_human_bytes(root->rss, h2) : "unknown");
	for (int i = 0; i < bd->n; i++)
		draw_node(f, bd, r, i);
	/* The top-level names last, over their children. */
	for (int i = 1; i < bd->n; i++) {
		if (bd->nodes[i].parent != 0 || !has_children(bd, i) || r[i].h < 30 || r[i].w < 70)
			continue;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"top\">", r[i].x + 4,
			r[i].y + r[i].h - 6);
		xml_text(f, bd->nodes[i].name);
		fprintf(f, "</text>\n");
	}
	draw_legend(f, bd, MAP_Y + 4);
	fprintf(f, "</svg>\n");
	free(r);
	if (ferror(f) | (fclose(f) != 0))
		return gm_error(GOMEM_ERROR_IO, "--svg %s: cannot write the file", path);
	return NULL;
}
