/*
 * The two things every layer does with arrays: grow one by doubling, and
 * find in a sorted one by binary search. Written once, here.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

bool gm_array_room(void **p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return true;
	/* The first allocation is small (64 bytes, or one element), so that many small arrays cost
	 * little. */
	size_t want = *cap ? *cap * 2 : (size < 64 ? 64 / size : 1);
	if (want <= n || want > SIZE_MAX / 2)
		return false;
	void *v = reallocarray(*p, want, size);
	if (!v)
		return false;
	*p = v;
	*cap = want;
	return true;
}

struct gomem_error *gm_array_room_max(void **p, size_t n, size_t *cap, size_t size, size_t max,
				      const char *what)
{
	if (n >= max)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "more than %zu %s", max, what);
	return gm_array_room(p, n, cap, size) ? NULL : &gm_error_no_memory;
}

static uint64_t key_at(const void *v, size_t i, size_t size, size_t offset)
{
	uint64_t k;
	memcpy(&k, (const char *)v + i * size + offset, sizeof(k));
	return k;
}

size_t gm_upper_bound(const void *v, size_t n, size_t size, size_t key_offset, uint64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_at(v, mid, size, key_offset) <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *gm_find_range(const void *v, size_t n, size_t size, size_t lo_offset, size_t hi_offset,
		    uint64_t addr)
{
	size_t i = gm_upper_bound(v, n, size, hi_offset, addr);
	if (i == n || key_at(v, i, size, lo_offset) > addr)
		return NULL;
	return (char *)v + i * size;
}
