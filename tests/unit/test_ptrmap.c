/*
 * The pointer-map decoders of objects/ptrmap.c on synthetic inputs, one
 * layout each (GO-OBJECTS.md §2): 1.19's 2-bit arena bitmap, the 1-bit
 * bitmaps (1.20-1.21 arena, 1.22+ span heap bits, with and without Green
 * Tea's marks below them: the same decoder at another address), a type's
 * mask tiled over a header or large object, GC programs (<=1.23) and
 * their malformed forms.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "objects/objects.h"
#include "unit.h"

static bool bit(const uint64_t *out, uint64_t k)
{
	return out[k / 64] >> (k % 64) & 1;
}

/* 1.19 (the bitmap given from the byte of the window's first word): ptr bits in the low nibble,
 * scan bits in the high; a clear scan bit ends the object. */
static void test_arena2_stops_at_first_clear_scan_bit(void **state)
{
	(void)state;
	/* words 0..3: ptr,scalar,ptr,scalar with scan set; words 4..7: scan clear, ptr junk */
	uint8_t bm[2] = {0xf5, 0x0f};
	uint64_t out[1];
	gm_ptrmask_arena2(bm, 0, 8, out);
	assert_int_equal(out[0], 0x5);
	/* the same pattern starting at word 2 of the arena: the window's word 0 is word 2 */
	gm_ptrmask_arena2(bm, 2, 4, out);
	assert_int_equal(out[0], 0x1);
}

static void test_arena2_window_starts_mid_byte(void **state)
{
	(void)state;
	/* word 5 (byte 1, bit 1) is a pointer, word 6 scalar, word 7 pointer; all scan */
	uint8_t bm[2] = {0x00, 0xf0 | 0x2 | 0x8};
	uint64_t out[1];
	gm_ptrmask_arena2(bm + 1, 5, 3, out); /* the bitmap from the window's first byte */
	assert_int_equal(out[0], 0x5);
}

/* A 1-bit bitmap read across uintptr boundaries (the worked example of §2.3). */
static void test_span_bits_straddle_two_words(void **state)
{
	(void)state;
	uint8_t hb[16] = {0};
	/* elemsize 48, slot 10: bits 60..65 of the span's bitmap; pointers at words 0 and 5 */
	hb[60 / 8] |= 1 << (60 % 8);
	hb[65 / 8] |= 1 << (65 % 8);
	uint64_t out[1];
	gm_ptrmask_bits(hb, 60, 6, out);
	assert_int_equal(out[0], 0x21);
	/* slot 9 (bits 54..59) sees none of them */
	gm_ptrmask_bits(hb, 54, 6, out);
	assert_int_equal(out[0], 0);
}

static void test_span_bits_all_ones_for_the_8_byte_class(void **state)
{
	(void)state;
	uint8_t hb[128];
	memset(hb, 0xff, sizeof(hb));
	uint64_t out[1];
	gm_ptrmask_bits(hb, 1023, 1, out);
	assert_int_equal(out[0], 1);
}

/* A header object's element type tiled from slot+8 to the slot's end (typePointers, 1.22). */
static void test_tile_repeats_the_element_mask(void **state)
{
	(void)state;
	/* element of 24 bytes: ptr, scalar, ptr (ptr_bytes 24, mask 0b101) */
	uint8_t mask[1] = {0x5};
	uint64_t out[2];
	gm_ptrmask_tile(mask, 24, 24, 0, 12, out);
	/* words 0,2 | 3,5 | 6,8 | 9,11 */
	assert_int_equal(out[0], 0xb6d);
	/* a window from word 4: 5, 6, 8, 9, 11 -> bits 1, 2, 4, 5, 7 */
	gm_ptrmask_tile(mask, 24, 24, 4, 8, out);
	assert_int_equal(out[0], 0xb6);
}

static void test_tile_stops_at_the_pointer_prefix(void **state)
{
	(void)state;
	/* element of 32 bytes whose pointer prefix is its first word only */
	uint8_t mask[1] = {0x1};
	uint64_t out[1];
	gm_ptrmask_tile(mask, 32, 8, 0, 16, out);
	assert_int_equal(out[0], 0x1111);
}

static void test_tile_of_nonsense_sizes_is_empty(void **state)
{
	(void)state;
	uint8_t mask[1] = {0xff};
	uint64_t out[1];
	gm_ptrmask_tile(mask, 16, 24, 0, 4, out); /* prefix larger than the element */
	assert_int_equal(out[0], 0);
	gm_ptrmask_tile(mask, 0, 0, 0, 4, out);
	assert_int_equal(out[0], 0);
	gm_ptrmask_tile(mask, 4, 8, 0, 4, out);
	assert_int_equal(out[0], 0);
}

static void test_tile_of_a_large_object_crosses_windows(void **state)
{
	(void)state;
	/* an all-pointer element of 8 words: any window is all ones */
	uint8_t mask[1] = {0xff};
	uint64_t out[GM_PTRMAP_WINDOW / 64];
	gm_ptrmask_tile(mask, 64, 64, GM_PTRMAP_WINDOW * 3, GM_PTRMAP_WINDOW, out);
	for (size_t i = 0; i < GM_PTRMAP_WINDOW / 64; i++)
		assert_int_equal(out[i], ~0ULL);
	assert_true(bit(out, GM_PTRMAP_WINDOW - 1));
}

/*
 * The decoders copy and tile 64 bits at a time: against the definition one
 * word at a time, on pseudo-random masks, element sizes and windows (odd
 * starts, prefixes that are not whole bytes, windows over many elements).
 */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_word_at_a_time_matches_bit_at_a_time(void **state)
{
	(void)state;
	static uint8_t mask[1024];
	static uint64_t out[GM_PTRMAP_WINDOW / 64 + 1];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 3000; round++) {
		for (size_t i = 0; i < sizeof(mask); i++)
			mask[i] = (uint8_t)next_random(&x);
		uint64_t ew = 1 + next_random(&x) % (round % 3 ? 40 : 1000);
		uint64_t elem = 8 * ew - (round % 7 == 0 ? next_random(&x) % 8 : 0);
		uint64_t ptr = round % 5 ? 8 * (1 + next_random(&x) % ew) : elem;
		if (ptr > elem)
			ptr = elem;
		uint64_t first = next_random(&x) % 5000;
		uint64_t n = 1 + next_random(&x) % (round % 2 ? 200 : GM_PTRMAP_WINDOW);
		gm_ptrmask_tile(mask, elem, ptr, first, n, out);
		for (uint64_t k = 0; k < n; k++) {
			uint64_t rel = ((first + k) * 8) % elem;
			bool want = elem >= 8 && rel < ptr && (mask[rel / 64] >> (rel / 8 % 8) & 1);
			if (bit(out, k) != want)
				fail_msg("tile elem %lu ptr %lu first %lu word %lu: %d", elem, ptr,
					 first, k, bit(out, k));
		}
		for (uint64_t k = n; k < 64 * ((n + 63) / 64); k++)
			assert_false(bit(out, k));
		uint64_t from = next_random(&x) % 1000;
		n = 1 + next_random(&x) % (8 * sizeof(mask) - from);
		gm_ptrmask_bits(mask, from, n, out);
		for (uint64_t k = 0; k < 64 * ((n + 63) / 64); k++)
			assert_int_equal(bit(out, k),
					 k < n && (mask[(from + k) / 8] >> ((from + k) % 8) & 1));
	}
}

/* GC programs: literals, repeats with a small and a varint count, stop (runGCProg@1.23). */
static void test_gcprog_literals_and_repeats(void **state)
{
	(void)state;
	/* 2 literal bits "10", repeat those 2 bits 3 times, then 1 literal "1", stop */
	uint8_t prog[] = {0x02, 0x01, 0x82, 0x03, 0x01, 0x01, 0x00};
	uint8_t out[8] = {0};
	uint64_t n;
	assert_null(gm_gcprog_run(prog, sizeof(prog), out, 64, &n));
	assert_int_equal(n, 9);
	assert_int_equal(out[0], 0x55);
	assert_int_equal(out[1], 0x01);
}

static void test_gcprog_varint_repeat(void **state)
{
	(void)state;
	/* 1 literal bit "1", then repeat 1 bit (varint n = 1) 200 times (varint 0xc8 0x01) */
	uint8_t prog[] = {0x01, 0x01, 0x80, 0x01, 0xc8, 0x01, 0x00};
	uint8_t out[32] = {0};
	uint64_t n;
	assert_null(gm_gcprog_run(prog, sizeof(prog), out, 256, &n));
	assert_int_equal(n, 201);
	for (int i = 0; i < 25; i++)
		assert_int_equal(out[i], 0xff);
	assert_int_equal(out[25], 0x01);
}

static void test_gcprog_malformed_is_refused(void **state)
{
	(void)state;
	uint8_t out[8];
	uint64_t n;
	uint8_t nostop[] = {0x02, 0x01};
	assert_gomem_error(gm_gcprog_run(nostop, sizeof(nostop), out, 64, &n), GOMEM_ERROR_FORMAT,
			   "no stop");
	uint8_t toomany[] = {0x01, 0x01, 0x81, 0x7f, 0x00};
	assert_gomem_error(gm_gcprog_run(toomany, sizeof(toomany), out, 64, &n), GOMEM_ERROR_FORMAT,
			   "too many");
	uint8_t before[] = {0x01, 0x01, 0x82, 0x02, 0x00};
	assert_gomem_error(gm_gcprog_run(before, sizeof(before), out, 64, &n), GOMEM_ERROR_FORMAT,
			   "repeats");
	uint8_t cut[] = {0x10, 0xff};
	assert_gomem_error(gm_gcprog_run(cut, sizeof(cut), out, 64, &n), GOMEM_ERROR_FORMAT,
			   "literal");
	uint8_t longnum[] = {0x01, 0x01, 0x80, 0xff, 0xff, 0xff, 0xff,
			     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_gomem_error(gm_gcprog_run(longnum, sizeof(longnum), out, 64, &n), GOMEM_ERROR_FORMAT,
			   NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arena2_stops_at_first_clear_scan_bit),
	    cmocka_unit_test(test_arena2_window_starts_mid_byte),
	    cmocka_unit_test(test_span_bits_straddle_two_words),
	    cmocka_unit_test(test_span_bits_all_ones_for_the_8_byte_class),
	    cmocka_unit_test(test_tile_repeats_the_element_mask),
	    cmocka_unit_test(test_tile_stops_at_the_pointer_prefix),
	    cmocka_unit_test(test_tile_of_nonsense_sizes_is_empty),
	    cmocka_unit_test(test_tile_of_a_large_object_crosses_windows),
	    cmocka_unit_test(test_word_at_a_time_matches_bit_at_a_time),
	    cmocka_unit_test(test_gcprog_literals_and_repeats),
	    cmocka_unit_test(test_gcprog_varint_repeat),
	    cmocka_unit_test(test_gcprog_malformed_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
