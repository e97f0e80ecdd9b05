/*
 * The breadth-first search of `gomem paths` (objects/paths.c, gm_bfs_*) on
 * synthetic graphs: the path it finds is a shortest one (checked against
 * distances computed here by a plain BFS over the same edges), it starts at
 * the seed that reaches the target first (the label), vertices that are not
 * expanded (noscan objects) end paths but never lead on, an unreachable
 * target gives no path, a search can be reset and run again, and a chain
 * a million deep needs no recursion.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objects/objects.h"
#include "unit.h"

/* A graph as successor lists (CSR), and which vertices have successors to look at. */
struct graph {
	uint32_t n;
	uint32_t *off, *succ;
	bool *scan;
};

static void graph_from_edges(struct graph *g, uint32_t n, const uint32_t (*edges)[2], size_t nedges)
{
	g->n = n;
	g->off = calloc(n + 1, sizeof(uint32_t));
	g->succ = malloc((nedges ? nedges : 1) * sizeof(uint32_t));
	g->scan = malloc(n * sizeof(bool));
	assert_true(g->off && g->succ && g->scan);
	for (size_t e = 0; e < nedges; e++)
		g->off[edges[e][0] + 1]++;
	for (uint32_t v = 0; v < n; v++) {
		g->off[v + 1] += g->off[v];
		g->scan[v] = true;
	}
	uint32_t *fill = malloc((n + 1) * sizeof(uint32_t));
	assert_non_null(fill);
	memcpy(fill, g->off, (n + 1) * sizeof(uint32_t));
	for (size_t e = 0; e < nedges; e++)
		g->succ[fill[edges[e][0]]++] = edges[e][1];
	free(fill);
}

static void graph_free(struct graph *g)
{
	free(g->off);
	free(g->succ);
	free(g->scan);
}

/* The search as paths.c drives it over the heap: seeds, then each vertex's successors. */
static void search(const struct graph *g, struct gm_bfs *b, const uint32_t *seeds, size_t nseeds)
{
	gm_bfs_reset(b);
	for (size_t i = 0; i < nseeds && !b->found; i++)
		assert_gomem_ok(gm_bfs_seed(b, seeds[i], (uint32_t)i, g->scan[seeds[i]]));
	uint32_t v;
	while (gm_bfs_next(b, &v)) {
		assert_true(g->scan[v]);
		for (uint32_t e = g->off[v]; e < g->off[v + 1] && !b->found; e++)
			assert_gomem_ok(gm_bfs_edge(b, v, g->succ[e], g->scan[g->succ[e]]));
	}
}

/* Distances from the seeds, here by a plain BFS (UINT32_MAX: unreachable). */
static uint32_t *distances(const struct graph *g, const uint32_t *seeds, size_t nseeds)
{
	uint32_t *d = malloc(g->n * sizeof(uint32_t)), *q = malloc(g->n * sizeof(uint32_t));
	size_t head = 0, len = 0;
	assert_true(d && q);
	memset(d, 0xff, g->n * sizeof(uint32_t));
	for (size_t i = 0; i < nseeds; i++) {
		if (d[seeds[i]] == UINT32_MAX) {
			d[seeds[i]] = 1;
			q[len++] = seeds[i];
		}
	}
	while (head < len) {
		uint32_t v = q[head++];
		if (!g->scan[v])
			continue;
		for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
			uint32_t w = g->succ[e];
			if (d[w] == UINT32_MAX) {
				d[w] = d[v] + 1;
				q[len++] = w;
			}
		}
	}
	free(q);
	return d;
}

/* The path is made of edges of the graph, from a seed, and as short as any. */
static void check_path(const struct graph *g, const struct gm_bfs *b, const uint32_t *seeds,
		       size_t nseeds, uint32_t target)
{
	uint32_t *ids, n, label;
	_cleanup_free_ uint32_t *d = distances(g, seeds, nseeds);
	if (d[target] == UINT32_MAX) {
		assert_false(b->found);
		assert_gomem_error(gm_bfs_path(b, &ids, &n, &label), GOMEM_ERROR_USAGE,
				   "not reached");
		return;
	}
	assert_true(b->found);
	assert_gomem_ok(gm_bfs_path(b, &ids, &n, &label));
	assert_int_equal(n, d[target]);
	assert_true(label < nseeds);
	assert_int_equal(ids[0], seeds[label]);
	assert_int_equal(ids[n - 1], target);
	for (uint32_t i = 0; i + 1 < n; i++) {
		bool edge = false;
		assert_true(g->scan[ids[i]]);
		for (uint32_t e = g->off[ids[i]]; e < g->off[ids[i] + 1]; e++)
			edge |= g->succ[e] == ids[i + 1];
		assert_true(edge);
	}
	free(ids);
}

static void test_shortest_of_two_ways(void **state)
{
	(void)state;
	/* Seed 0: 0 -> 1 -> 2 -> 3 -> 6; seed 4: 4 -> 5 -> 6. The second way is shorter. */
	const uint32_t e[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 6}, {4, 5}, {5, 6}, {6, 7}};
	struct graph g;
	struct gm_bfs b;
	const uint32_t seeds[] = {0, 4};
	graph_from_edges(&g, 8, e, GM_ARRAY_SIZE(e));
	assert_gomem_ok(gm_bfs_init(&b, g.n, 6));
	search(&g, &b, seeds, 2);
	uint32_t *ids, n, label;
	assert_gomem_ok(gm_bfs_path(&b, &ids, &n, &label));
	assert_int_equal(label, 1);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[1], 5);
	assert_int_equal(ids[2], 6);
	free(ids);
	/* From seed 0 alone (a search reset): the long way. */
	search(&g, &b, seeds, 1);
	assert_gomem_ok(gm_bfs_path(&b, &ids, &n, &label));
	assert_int_equal(label, 0);
	assert_int_equal(n, 5);
	free(ids);
	/* A seed that is the target: a path of one. */
	const uint32_t self[] = {6};
	search(&g, &b, self, 1);
	assert_gomem_ok(gm_bfs_path(&b, &ids, &n, &label));
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 6);
	free(ids);
	gm_bfs_deinit(&b);
	graph_free(&g);
}

static void test_noscan_and_unreachable(void **state)
{
	(void)state;
	/* 1 is noscan: it ends a path (1 is the target's parent only through 0 -> 1). */
	const uint32_t e[][2] = {{0, 1}, {1, 2}, {0, 3}, {3, 4}, {4, 2}};
	struct graph g;
	struct gm_bfs b;
	const uint32_t seeds[] = {0};
	graph_from_edges(&g, 6, e, GM_ARRAY_SIZE(e));
	g.scan[1] = false;
	assert_gomem_ok(gm_bfs_init(&b, g.n, 2));
	search(&g, &b, seeds, 1);
	check_path(&g, &b, seeds, 1, 2); /* 0 -> 3 -> 4 -> 2, not through 1 */
	gm_bfs_deinit(&b);
	/* 5: no edge leads to it. */
	assert_gomem_ok(gm_bfs_init(&b, g.n, 5));
	search(&g, &b, seeds, 1);
	check_path(&g, &b, seeds, 1, 5);
	gm_bfs_deinit(&b);
	/* Bad input: a vertex out of range, a target out of range. */
	assert_gomem_ok(gm_bfs_init(&b, g.n, 5));
	assert_gomem_error(gm_bfs_edge(&b, 0, 6, true), GOMEM_ERROR_USAGE, "vertex");
	assert_gomem_error(gm_bfs_seed(&b, 9, 0, true), GOMEM_ERROR_USAGE, "vertex");
	gm_bfs_deinit(&b);
	assert_gomem_error(gm_bfs_init(&b, g.n, 6), GOMEM_ERROR_USAGE, "vertex");
	graph_free(&g);
}

static uint64_t rng = 88172645463325252ULL;
static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void test_random_graphs_against_plain_bfs(void **state)
{
	(void)state;
	for (int round = 0; round < 200; round++) {
		uint32_t n = 2 + next_random() % 60;
		size_t ne = next_random() % (3 * n);
		uint32_t(*e)[2] = malloc((ne ? ne : 1) * sizeof(*e));
		assert_non_null(e);
		for (size_t i = 0; i < ne; i++) {
			e[i][0] = next_random() % n;
			e[i][1] = next_random() % n;
		}
		struct graph g;
		graph_from_edges(&g, n, e, ne);
		for (uint32_t v = 0; v < n; v++)
			g.scan[v] = next_random() % 5 != 0;
		uint32_t seeds[4];
		size_t nseeds = 1 + next_random() % 4;
		for (size_t i = 0; i < nseeds; i++)
			seeds[i] = next_random() % n;
		for (uint32_t target = 0; target < n; target++) {
			struct gm_bfs b;
			assert_gomem_ok(gm_bfs_init(&b, n, target));
			search(&g, &b, seeds, nseeds);
			check_path(&g, &b, seeds, nseeds, target);
			gm_bfs_deinit(&b);
		}
		graph_free(&g);
		free(e);
	}
}

static void test_a_chain_a_million_deep(void **state)
{
	(void)state;
	const uint32_t n = 1000000;
	struct graph g = {.n = n};
	g.off = malloc((n + 1) * sizeof(uint32_t));
	g.succ = malloc(n * sizeof(uint32_t));
	g.scan = malloc(n * sizeof(bool));
	assert_true(g.off && g.succ && g.scan);
	/* v -> v + 1: the edges of v start at v, the last vertex has none. */
	for (uint32_t v = 0; v < n; v++) {
		g.off[v] = v;
		if (v + 1 < n)
			g.succ[v] = v + 1;
		g.scan[v] = true;
	}
	g.off[n] = n - 1;
	struct gm_bfs b;
	const uint32_t seeds[] = {0};
	assert_gomem_ok(gm_bfs_init(&b, n, n - 1));
	search(&g, &b, seeds, 1);
	uint32_t *ids, len, label;
	assert_gomem_ok(gm_bfs_path(&b, &ids, &len, &label));
	assert_int_equal(len, n);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ids[i], i);
	free(ids);
	gm_bfs_deinit(&b);
	graph_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shortest_of_two_ways),
	    cmocka_unit_test(test_noscan_and_unreachable),
	    cmocka_unit_test(test_random_graphs_against_plain_bfs),
	    cmocka_unit_test(test_a_chain_a_million_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
