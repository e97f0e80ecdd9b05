/*
 * The stacks of the objects profile (verbs/pprof_objects.c): a chain of
 * types under a root, a run of one type folded into one frame, and a
 * chain deeper than GM_PPROF_OBJECTS_MAX_FRAMES kept as its root, the
 * types below the root, a (types cut) frame and the object's type. No
 * fixture holds such a chain; the trie is driven here as the profile
 * drives it (each object placed under its dominator's node).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"
#include "verbs/verbs.h"

#define MAXF  GM_PPROF_OBJECTS_MAX_FRAMES
#define ROOT  1000u /* a root's frame */
#define SEV   1001u /* (several roots) */
#define CUT   1002u /* (types cut) */
#define TYPEA 1u
#define TYPEB 2u

static void test_chain_stack_is_leaf_first_up_to_the_root(void **state)
{
	(void)state;
	struct gm_chain_trie t;
	gm_chain_trie_init(&t, SEV, CUT);
	uint32_t root = gm_chain_trie_child(&t, 0, ROOT);
	uint32_t a = gm_chain_trie_place(&t, root, TYPEA);
	uint32_t b = gm_chain_trie_place(&t, a, TYPEB);
	uint32_t frames[MAXF];
	assert_int_equal(gm_chain_trie_stack(&t, b, frames), 3);
	assert_int_equal(frames[0], TYPEB);
	assert_int_equal(frames[1], TYPEA);
	assert_int_equal(frames[2], ROOT);
	/* The same chain again is the same node (one sample a stack). */
	assert_int_equal(gm_chain_trie_place(&t, a, TYPEB), b);
	assert_false(t.nodes[b].shared);
	uint32_t sev = gm_chain_trie_child(&t, 0, SEV);
	assert_true(t.nodes[gm_chain_trie_place(&t, sev, TYPEA)].shared);
	gm_chain_trie_deinit(&t);
}

static void test_chain_run_of_one_type_is_one_frame(void **state)
{
	(void)state;
	struct gm_chain_trie t;
	gm_chain_trie_init(&t, SEV, CUT);
	uint32_t node = gm_chain_trie_child(&t, 0, ROOT);
	uint32_t first = gm_chain_trie_place(&t, node, TYPEA);
	node = first;
	for (int i = 0; i < 100000; i++) /* a linked list of 100,000 nodes */
		node = gm_chain_trie_place(&t, node, TYPEA);
	assert_int_equal(node, first);
	uint32_t frames[MAXF];
	assert_int_equal(gm_chain_trie_stack(&t, node, frames), 2);
	gm_chain_trie_deinit(&t);
}

static void test_chain_deeper_than_the_bound_loses_its_middle(void **state)
{
	(void)state;
	struct gm_chain_trie t;
	gm_chain_trie_init(&t, SEV, CUT);
	uint32_t node = gm_chain_trie_child(&t, 0, ROOT);
	uint32_t nodes[1000];
	/* A chain of 1,000 objects alternating between two types: no run to fold. */
	for (int i = 0; i < 1000; i++) {
		node = gm_chain_trie_place(&t, node, i % 2 ? TYPEB : TYPEA);
		assert_int_not_equal(node, UINT32_MAX);
		nodes[i] = node;
	}
	uint32_t frames[MAXF];
	/* The deepest uncut: the whole chain, root and MAXF - 3 types. */
	assert_int_equal(gm_chain_trie_stack(&t, nodes[MAXF - 4], frames), MAXF - 2);
	for (size_t i = 0; i < MAXF - 2; i++)
		assert_int_equal(frames[i], i == MAXF - 3	 ? ROOT
					    : (MAXF - 4 - i) % 2 ? TYPEB
								 : TYPEA);
	/* Past it: the object's type, (types cut), the first MAXF - 3 types, the root. */
	for (int k = MAXF - 3; k < 1000; k++) {
		assert_int_equal(gm_chain_trie_stack(&t, nodes[k], frames), MAXF);
		assert_int_equal(frames[0], k % 2 ? TYPEB : TYPEA);
		assert_int_equal(frames[1], CUT);
		assert_int_equal(frames[MAXF - 1], ROOT);
		for (size_t i = 2; i < MAXF - 1; i++)
			assert_int_equal(frames[i], (MAXF - 2 - i) % 2 ? TYPEB : TYPEA);
	}
	/* The cut chain has two leaves, one a type, under one cut frame: the trie stays small. */
	assert_int_equal(nodes[998], nodes[996]);
	assert_int_equal(nodes[999], nodes[997]);
	assert_true(t.n <= MAXF + 3);
	gm_chain_trie_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_stack_is_leaf_first_up_to_the_root),
	    cmocka_unit_test(test_chain_run_of_one_type_is_one_frame),
	    cmocka_unit_test(test_chain_deeper_than_the_bound_loses_its_middle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
