/*
 * The dominator algorithm (objects/dominators.c, Semi-NCA) on small
 * graphs whose dominators are known (diamonds, cycles, self-loops,
 * unreachable vertices), on random graphs against the naive definition
 * (dom(v) = {v} + the intersection of dom(p) over v's predecessors,
 * iterated to a fixed point), on a chain a million vertices deep (no
 * recursion), and on ladders with few and many non-tree edges (both ways
 * of finding the predecessors).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "objects/objects.h"
#include "unit.h"

#define N GM_DOM_NONE

/* Successor lists from an edge list (pairs), in CSR form. */
static void csr(uint32_t n, const uint32_t (*edges)[2], size_t nedges, uint32_t *off,
		uint32_t *succ)
{
	memset(off, 0, (n + 1) * sizeof(uint32_t));
	for (size_t e = 0; e < nedges; e++)
		off[edges[e][0] + 1]++;
	for (uint32_t v = 0; v < n; v++)
		off[v + 1] += off[v];
	uint32_t *fill = malloc((n + 1) * sizeof(uint32_t));
	assert_non_null(fill);
	memcpy(fill, off, (n + 1) * sizeof(uint32_t));
	for (size_t e = 0; e < nedges; e++)
		succ[fill[edges[e][0]]++] = edges[e][1];
	free(fill);
}

static void check_idom(uint32_t n, const uint32_t (*edges)[2], size_t nedges, const uint32_t *want)
{
	uint32_t off[65], succ[512], idom[64];
	assert_true(n <= 64 && nedges <= 512);
	csr(n, edges, nedges, off, succ);
	assert_null(gm_dominators_csr(n, off, succ, 0, idom));
	for (uint32_t v = 0; v < n; v++) {
		if (idom[v] != want[v])
			print_error("vertex %u: idom %u, want %u\n", v, idom[v], want[v]);
		assert_int_equal(idom[v], want[v]);
	}
}

static void test_diamond(void **state)
{
	(void)state;
	/* 0 -> 1, 2 -> 3 -> 4: 3 is dominated by 0 only, 4 by 3. */
	const uint32_t e[][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}};
	const uint32_t want[] = {0, 0, 0, 0, 3};
	check_idom(5, e, GM_ARRAY_SIZE(e), want);
}

static void test_cycles_and_self_loops(void **state)
{
	(void)state;
	/* 0 -> 1 -> 2 -> 3 -> 1 (a cycle back), 2 -> 2, 3 -> 3, 3 -> 4 -> 2. */
	const uint32_t e[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 1}, {2, 2}, {3, 3}, {3, 4}, {4, 2}};
	const uint32_t want[] = {0, 0, 1, 2, 3};
	check_idom(5, e, GM_ARRAY_SIZE(e), want);
}

static void test_unreachable_vertices(void **state)
{
	(void)state;
	/* 3 and 4 are not reached (4 -> 1 is an edge from garbage: it changes nothing). */
	const uint32_t e[][2] = {{0, 1}, {1, 2}, {3, 4}, {4, 1}, {4, 3}};
	const uint32_t want[] = {0, 0, 1, N, N};
	check_idom(5, e, GM_ARRAY_SIZE(e), want);
}

static void test_shared_subtree_of_two_roots(void **state)
{
	(void)state;
	/* Two roots (1, 2) share a list 3 -> 4 -> 5; root 6 alone holds 7 -> 8. */
	const uint32_t e[][2] = {{0, 1}, {0, 2}, {0, 6}, {1, 3}, {2, 3},
				 {3, 4}, {4, 5}, {6, 7}, {7, 8}, {8, 7}};
	const uint32_t want[] = {0, 0, 0, 0, 3, 4, 0, 6, 7};
	check_idom(9, e, GM_ARRAY_SIZE(e), want);
}

static void test_duplicate_edges_and_bad_input(void **state)
{
	(void)state;
	const uint32_t e[][2] = {{0, 1}, {0, 1}, {1, 2}, {1, 2}, {0, 2}};
	const uint32_t want[] = {0, 0, 0};
	check_idom(3, e, GM_ARRAY_SIZE(e), want);
	uint32_t off[] = {0, 1, 1}, succ[] = {7}, idom[2];
	assert_gomem_error(gm_dominators_csr(2, off, succ, 0, idom), GOMEM_ERROR_USAGE, "edge");
	assert_gomem_error(gm_dominators_csr(2, off, succ, 5, idom), GOMEM_ERROR_USAGE, "root");
}

/* The naive dominators: bitsets of at most 64 vertices, iterated to a fixed point. */
static void naive_idom(uint32_t n, const uint32_t (*edges)[2], size_t nedges, uint32_t *idom)
{
	uint64_t dom[64], reach = 1;
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t e = 0; e < nedges; e++) {
			if (reach >> edges[e][0] & 1 && !(reach >> edges[e][1] & 1)) {
				reach |= 1ULL << edges[e][1];
				changed = true;
			}
		}
	}
	for (uint32_t v = 0; v < n; v++)
		dom[v] = v == 0 ? 1 : ~0ULL;
	for (bool changed = true; changed;) {
		changed = false;
		for (uint32_t v = 1; v < n; v++) {
			if (!(reach >> v & 1))
				continue;
			uint64_t d = ~0ULL;
			for (size_t e = 0; e < nedges; e++) {
				if (edges[e][1] == v && reach >> edges[e][0] & 1)
					d &= dom[edges[e][0]];
			}
			d |= 1ULL << v;
			if (d != dom[v]) {
				dom[v] = d;
				changed = true;
			}
		}
	}
	/* idom(v): the strict dominator that all the others dominate (the most dominators). */
	for (uint32_t v = 0; v < n; v++) {
		idom[v] = v == 0 ? 0 : N;
		if (v == 0 || !(reach >> v & 1))
			continue;
		int best = -1;
		for (uint32_t u = 0; u < n; u++) {
			if (u != v && dom[v] >> u & 1 && __builtin_popcountll(dom[u]) > best) {
				best = __builtin_popcountll(dom[u]);
				idom[v] = u;
			}
		}
	}
}

static void test_random_graphs_against_the_naive_algorithm(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 3000; round++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t n = 2 + (uint32_t)(seed >> 33) % 40;
		size_t nedges = (size_t)(seed >> 45) % (3 * n);
		uint32_t e[128][2], want[64];
		for (size_t i = 0; i < nedges && i < 128; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			e[i][0] = (uint32_t)(seed >> 33) % n;
			/* Mostly forward edges, so that most vertices are reached. */
			e[i][1] = (seed >> 20 & 3) ? (e[i][0] + 1 + (uint32_t)(seed >> 40) % 3) % n
						   : (uint32_t)(seed >> 40) % n;
		}
		nedges = nedges < 128 ? nedges : 128;
		naive_idom(n, (const uint32_t(*)[2])e, nedges, want);
		check_idom(n, (const uint32_t(*)[2])e, nedges, want);
	}
}

static void test_a_chain_a_million_deep(void **state)
{
	(void)state;
	uint32_t n = 1u << 20;
	uint32_t *off = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *succ = malloc(2 * (size_t)n * sizeof(uint32_t));
	uint32_t *idom = malloc(n * sizeof(uint32_t));
	assert_true(off && succ && idom);
	/* v -> v + 1, and every vertex back to 1: 1 dominates all; each its predecessor. */
	uint32_t k = 0;
	for (uint32_t v = 0; v < n; v++) {
		off[v] = k;
		if (v + 1 < n)
			succ[k++] = v + 1;
		if (v > 1)
			succ[k++] = 1;
	}
	off[n] = k;
	assert_null(gm_dominators_csr(n, off, succ, 0, idom));
	for (uint32_t v = 1; v < n; v++)
		assert_int_equal(idom[v], v - 1);
	free(off);
	free(succ);
	free(idom);
}

/*
 * A chain v -> v + 1 with skips v -> v + 2 from every stride-th vertex: the
 * skips are the walk's non-tree edges, few (stride 4: kept as pairs by the
 * walk) or many (stride 1: found again in the successor lists).
 */
static void check_ladder(uint32_t n, uint32_t stride)
{
	uint32_t *off = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *succ = malloc(2 * (size_t)n * sizeof(uint32_t));
	uint32_t *idom = malloc(n * sizeof(uint32_t));
	assert_true(off && succ && idom);
	uint32_t k = 0;
	for (uint32_t v = 0; v < n; v++) {
		off[v] = k;
		if (v + 1 < n)
			succ[k++] = v + 1;
		if (v + 2 < n && v % stride == 0)
			succ[k++] = v + 2;
	}
	off[n] = k;
	assert_null(gm_dominators_csr(n, off, succ, 0, idom));
	assert_int_equal(idom[0], 0);
	for (uint32_t u = 1; u < n; u++) {
		/* Every vertex has a skip over it: only 0 dominates; else a skip jumps u - 1. */
		uint32_t want = stride == 1 ? 0 : u >= 2 && (u - 2) % stride == 0 ? u - 2 : u - 1;
		assert_int_equal(idom[u], want);
	}
	free(off);
	free(succ);
	free(idom);
}

static void test_ladders_with_few_and_many_non_tree_edges(void **state)
{
	(void)state;
	check_ladder(1u << 16, 4);
	check_ladder(1u << 16, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diamond),
	    cmocka_unit_test(test_cycles_and_self_loops),
	    cmocka_unit_test(test_unreachable_vertices),
	    cmocka_unit_test(test_shared_subtree_of_two_roots),
	    cmocka_unit_test(test_duplicate_edges_and_bad_input),
	    cmocka_unit_test(test_random_graphs_against_the_naive_algorithm),
	    cmocka_unit_test(test_a_chain_a_million_deep),
	    cmocka_unit_test(test_ladders_with_few_and_many_non_tree_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
