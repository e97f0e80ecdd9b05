/* The treemap layout: every rectangle's area is proportional to its node's VSZ. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "verbs/verbs.h"
#include "unit.h"

static double absd(double x)
{
	return x < 0 ? -x : x;
}

static double mind(double a, double b)
{
	return a < b ? a : b;
}

static double maxd(double a, double b)
{
	return a > b ? a : b;
}

static struct gm_bnode bnode(const char *name, uint64_t vsz, int parent)
{
	struct gm_bnode n;
	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "%s", name);
	n.vsz = vsz;
	n.parent = parent;
	return n;
}

/* Areas proportional to VSZ, children inside their parent and not overlapping each other. */
static void check_layout(struct gm_bnode *nodes, int n)
{
	struct gm_breakdown bd = {nodes, n};
	struct gm_rect r[32], box = {10, 20, 960, 640};
	assert_true(n <= 32);
	gm_treemap_layout(&bd, box, r);
	double scale = box.w * box.h / (double)nodes[0].vsz;
	for (int i = 0; i < n; i++) {
		double want = (double)nodes[i].vsz * scale;
		assert_true(absd(r[i].w * r[i].h - want) <= 1e-6 * (box.w * box.h));
		assert_true(r[i].w >= 0 && r[i].h >= 0);
		if (i == 0)
			continue;
		const struct gm_rect *p = &r[nodes[i].parent];
		assert_true(r[i].x >= p->x - 1e-9 && r[i].x + r[i].w <= p->x + p->w + 1e-6);
		assert_true(r[i].y >= p->y - 1e-9 && r[i].y + r[i].h <= p->y + p->h + 1e-6);
		for (int j = 1; j < i; j++) {
			if (nodes[j].parent != nodes[i].parent)
				continue;
			double ox = mind(r[i].x + r[i].w, r[j].x + r[j].w) - maxd(r[i].x, r[j].x);
			double oy = mind(r[i].y + r[i].h, r[j].y + r[j].h) - maxd(r[i].y, r[j].y);
			assert_false(ox > 1e-6 && oy > 1e-6);
		}
	}
}

static void test_treemap_areas_are_proportional_to_vsz(void **state)
{
	(void)state;
	struct gm_bnode n[] = {
	    bnode("process", 1000, -1), bnode("a", 600, 0),  bnode("b", 300, 0),
	    bnode("c", 100, 0),		bnode("a1", 500, 1), bnode("a2", 100, 1),
	    bnode("b1", 150, 2),	bnode("b2", 150, 2),
	};
	check_layout(n, (int)GM_ARRAY_SIZE(n));
}

static void test_treemap_gives_empty_nodes_empty_rectangles(void **state)
{
	(void)state;
	struct gm_bnode n[] = {
	    bnode("process", 64, -1),  bnode("empty", 0, 0),  bnode("all", 64, 0),
	    bnode("zero child", 0, 2), bnode("whole", 64, 2),
	};
	check_layout(n, (int)GM_ARRAY_SIZE(n));
}

static void test_treemap_handles_a_billion_to_one(void **state)
{
	(void)state;
	/* A 4 KiB page beside 1.5 GiB of reservations, as in a real process. */
	struct gm_bnode n[] = {
	    bnode("process", 1600237568ULL, -1),
	    bnode("big", 1600237568ULL - 4096 - 1, 0),
	    bnode("page", 4096, 0),
	    bnode("byte", 1, 0),
	};
	check_layout(n, (int)GM_ARRAY_SIZE(n));
}

static void test_treemap_of_an_empty_process(void **state)
{
	(void)state;
	struct gm_bnode n[] = {bnode("process", 0, -1), bnode("nothing", 0, 0)};
	struct gm_breakdown bd = {n, 2};
	struct gm_rect r[2];
	gm_treemap_layout(&bd, (struct gm_rect){0, 0, 100, 100}, r);
	assert_true(r[1].w == 0 && r[1].h == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_treemap_areas_are_proportional_to_vsz),
	    cmocka_unit_test(test_treemap_gives_empty_nodes_empty_rectangles),
	    cmocka_unit_test(test_treemap_handles_a_billion_to_one),
	    cmocka_unit_test(test_treemap_of_an_empty_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
