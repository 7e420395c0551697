/*
 * A small open-addressing hash map from byte strings to uint32 values, used
 * to match 100,000 members in linear time. Keys are borrowed: the map stores
 * the pointer and length, so the bytes must outlive the map (they live in the
 * caller's input arrays or in an arena owned next to the map).
 */
#ifndef CAMPSYNC_HMAP_H
#define CAMPSYNC_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMAP_MAX_KEY 65535 /* longest key in bytes */

/* 16 bytes a slot: 100,000 keys take under 2.5 MB. */
typedef struct {
    const void *key; /* NULL = empty slot */
    uint32_t val;
    uint16_t len;
    uint16_t tag; /* high hash bits: most mismatches never reach memcmp */
} hmap_slot;

typedef struct {
    hmap_slot *slots;
    size_t cap; /* any size; kept at most 70% full */
    size_t count;
} hmap;

/* 64-bit hash of bytes (FNV-1a with a final avalanche); stable across runs
 * and machines, so it is also fit for dedup keys. */
uint64_t hmap_hash(const void *data, size_t len);

/* Sizes the map for `expected` keys. Returns 0 or -1 when out of memory. */
int hmap_init(hmap *m, size_t expected);
void hmap_free(hmap *m);

/* Inserts key -> val unless the key is present. Returns 0 when inserted, 1
 * when the key was already there (*existing, if not NULL, gets its value),
 * -1 when out of memory or the key is longer than HMAP_MAX_KEY. */
int hmap_put(hmap *m, const void *key, size_t len, uint32_t val, uint32_t *existing);

/* Replaces the value of a present key or inserts it. 0 or -1 (as above). */
int hmap_set(hmap *m, const void *key, size_t len, uint32_t val);

/* True when found; *val gets the value. */
bool hmap_get(const hmap *m, const void *key, size_t len, uint32_t *val);

#endif
