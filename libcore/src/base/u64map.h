/*
 * A hash map from uint64_t keys to nonzero uint64_t values (open
 * addressing, linear probing): for lookups by address or id where a
 * sorted array would need sorting between inserts.
 */
#ifndef GOMEM_BASE_U64MAP_H
#define GOMEM_BASE_U64MAP_H

#include "base/base.h"

struct gm_u64map_slot {
	uint64_t key, value; /* value 0: an empty slot */
};

struct gm_u64map {
	struct gm_u64map_slot *slots;
	size_t n, cap; /* cap is 0 or a power of two */
};

/* The value of key, 0 when absent. */
uint64_t gm_u64map_get(const struct gm_u64map *m, uint64_t key);
/* Sets key to value (nonzero); false when out of memory (then nothing changed). */
bool gm_u64map_put(struct gm_u64map *m, uint64_t key, uint64_t value);
void gm_u64map_deinit(struct gm_u64map *m);

#endif /* GOMEM_BASE_U64MAP_H */
