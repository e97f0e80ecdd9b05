/* A hash map from uint64_t keys to nonzero values (see u64map.h). */
#include <stdlib.h>

#include "base/u64map.h"

/* A 64-bit finalizer (splitmix64's): addresses differ in their middle bits. */
static uint64_t mix(uint64_t k)
{
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	return k ^ (k >> 31);
}

static struct gm_u64map_slot *find(const struct gm_u64map *m, uint64_t key)
{
	size_t mask = m->cap - 1;
	for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
		if (!m->slots[i].value || m->slots[i].key == key)
			return &m->slots[i];
	}
}

uint64_t gm_u64map_get(const struct gm_u64map *m, uint64_t key)
{
	return m->cap ? find(m, key)->value : 0;
}

static bool grow(struct gm_u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	if (cap > SIZE_MAX / sizeof(struct gm_u64map_slot))
		return false;
	struct gm_u64map bigger = {.slots = calloc(cap, sizeof(*bigger.slots)), .cap = cap};
	if (!bigger.slots)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].value)
			*find(&bigger, m->slots[i].key) = m->slots[i];
	}
	bigger.n = m->n;
	free(m->slots);
	*m = bigger;
	return true;
}

bool gm_u64map_put(struct gm_u64map *m, uint64_t key, uint64_t value)
{
	if (!value)
		return false; /* 0 marks an empty slot */
	/* At most half full, so that probes stay short and one slot is always empty. */
	if ((m->n + 1) * 2 > m->cap && !grow(m))
		return false;
	struct gm_u64map_slot *s = find(m, key);
	if (!s->value)
		m->n++;
	s->key = key;
	s->value = value;
	return true;
}

void gm_u64map_deinit(struct gm_u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->cap = 0;
}
