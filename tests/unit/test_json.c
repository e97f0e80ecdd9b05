/* The JSON reader of gomem diff: exact integers, strings, and errors for any bad text. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/base.h"
#include "unit.h"

static struct gm_json *parse_ok(const char *text)
{
	struct gm_json *v = NULL;
	assert_gomem_ok(gm_json_parse(text, strlen(text), "test", &v));
	assert_non_null(v);
	return v;
}

static void parse_fails(const char *text, const char *needle)
{
	struct gm_json *v = NULL;
	assert_gomem_error(gm_json_parse(text, strlen(text), "test", &v), GOMEM_ERROR_FORMAT,
			   needle);
	assert_null(v);
}

static void test_json_integers_up_to_2_64_are_exact(void **state)
{
	(void)state;
	struct gm_json *v =
	    parse_ok("{\"max\": 18446744073709551615, \"next_gc\": "
		     "9223372036854775807, \"zero\": 0, \"over\": "
		     "18446744073709551616, \"neg\": -5, \"frac\": 1.5, \"exp\": 1e3}");
	uint64_t u;
	assert_true(gm_json_get_uint(v, "max", &u));
	assert_true(u == UINT64_MAX);
	assert_true(gm_json_get_uint(v, "next_gc", &u));
	assert_true(u == 9223372036854775807ULL);
	assert_true(gm_json_get_uint(v, "zero", &u));
	assert_int_equal(u, 0);
	/* Numbers, but not unsigned integers that fit. */
	assert_false(gm_json_get_uint(v, "over", &u));
	assert_false(gm_json_get_uint(v, "neg", &u));
	assert_false(gm_json_get_uint(v, "frac", &u));
	assert_false(gm_json_get_uint(v, "exp", &u));
	assert_true(gm_json_get(v, "neg")->number == -5.0);
	assert_true(gm_json_get(v, "exp")->number == 1000.0);
	assert_false(gm_json_get_uint(v, "missing", &u));
	gm_json_destroy(v);
}

static void test_json_strings_are_decoded(void **state)
{
	(void)state;
	struct gm_json *v = parse_ok("[\"a\\\"b\\\\c\\/d\\n\", \"\\u00e9\\u20ac\", "
				     "\"\\ud83d\\ude00\", \"\", \"tab\\there\"]");
	assert_int_equal(v->type, GM_JSON_ARRAY);
	assert_int_equal(v->n, 5);
	assert_string_equal(v->items[0].string, "a\"b\\c/d\n");
	assert_string_equal(v->items[1].string, "\xc3\xa9\xe2\x82\xac");
	assert_string_equal(v->items[2].string, "\xf0\x9f\x98\x80");
	assert_string_equal(v->items[3].string, "");
	assert_string_equal(v->items[4].string, "tab\there");
	gm_json_destroy(v);
}

static void test_json_objects_arrays_and_literals(void **state)
{
	(void)state;
	struct gm_json *v =
	    parse_ok(" {\"t\": true, \"f\": false, \"n\": null, \"e\": {}, \"a\": [1, [2, []]],"
		     "\"s\": \"x\"} \n");
	assert_int_equal(gm_json_get(v, "t")->type, GM_JSON_BOOL);
	assert_true(gm_json_get(v, "t")->boolean);
	assert_false(gm_json_get(v, "f")->boolean);
	assert_int_equal(gm_json_get(v, "n")->type, GM_JSON_NULL);
	assert_int_equal(gm_json_get(v, "e")->type, GM_JSON_OBJECT);
	assert_int_equal(gm_json_get(v, "e")->n, 0);
	const struct gm_json *a = gm_json_get(v, "a");
	assert_int_equal(a->n, 2);
	assert_int_equal(a->items[1].items[1].type, GM_JSON_ARRAY);
	assert_string_equal(gm_json_get_string(v, "s"), "x");
	assert_null(gm_json_get_string(v, "t"));
	assert_null(gm_json_get(a, "x")); /* not an object */
	gm_json_destroy(v);
}

static void test_json_many_members_grow_the_arrays(void **state)
{
	(void)state;
	char text[64 * 1024];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "[");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "]");
	struct gm_json *v = parse_ok(text);
	assert_int_equal(v->n, 5000);
	assert_int_equal(v->items[4999].u, 4999);
	gm_json_destroy(v);
}

static void test_json_bad_texts_are_errors_with_the_place(void **state)
{
	(void)state;
	parse_fails("", "unexpected end at byte 0");
	parse_fails("{\"a\": 1} x", "text after the value at byte 9");
	parse_fails("{\"a\" 1}", "expected ':'");
	parse_fails("{\"a\": 1,}", "expected a member name");
	parse_fails("[1 2]", "expected ',' or ']'");
	parse_fails("{\"a\": 1", "expected ',' or '}'");
	parse_fails("\"abc", "unterminated string");
	parse_fails("\"a\nb\"", "control character");
	parse_fails("\"\\x\"", "bad escape");
	parse_fails("\"\\u12\"", "bad escape");
	parse_fails("\"\\udc00\"", "bad escape");
	parse_fails("\"\\ud800\\u0041\"", "bad escape");
	parse_fails("\"\\u0000\"", "NUL in a string");
	parse_fails("01", "leading zero");
	parse_fails("-", "bad number");
	parse_fails("1.", "bad fraction");
	parse_fails("1e", "bad exponent");
	parse_fails("tru", "unexpected word");
	parse_fails("nul", "unexpected word");
	parse_fails("@", "bad number");
}

static void test_json_depth_is_bounded(void **state)
{
	(void)state;
	char deep[1024];
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	parse_fails(deep, "nested too deep");
	/* 64 levels are fine. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	gm_json_destroy(parse_ok(deep));
}

static void test_json_node_count_is_bounded(void **state)
{
	(void)state;
	size_t count = (1u << 18) + 1, len = 2 * count + 2;
	char *text = malloc(len);
	assert_non_null(text);
	text[0] = '[';
	for (size_t i = 0; i < count; i++) {
		text[1 + 2 * i] = '0';
		text[2 + 2 * i] = ',';
	}
	text[2 * count] = ']';
	text[2 * count + 1] = '\0';
	struct gm_json *v = NULL;
	assert_gomem_error(gm_json_parse(text, strlen(text), "test", &v), GOMEM_ERROR_FORMAT,
			   "too many values");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_integers_up_to_2_64_are_exact),
	    cmocka_unit_test(test_json_strings_are_decoded),
	    cmocka_unit_test(test_json_objects_arrays_and_literals),
	    cmocka_unit_test(test_json_many_members_grow_the_arrays),
	    cmocka_unit_test(test_json_bad_texts_are_errors_with_the_place),
	    cmocka_unit_test(test_json_depth_is_bounded),
	    cmocka_unit_test(test_json_node_count_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
