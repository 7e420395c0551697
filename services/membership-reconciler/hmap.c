/*
 * Open addressing with linear probing, kept at most half full so probes stay
 * short. The full 64-bit hash is stored per slot: comparing it first avoids
 * most memcmp calls and makes growing the table a copy without rehashing.
 */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t hmap_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static size_t cap_for(size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2 + 2)
        cap <<= 1;
    return cap;
}

int hmap_init(hmap *m, size_t expected)
{
    m->cap = cap_for(expected);
    m->count = 0;
    m->slots = calloc(m->cap, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

void hmap_free(hmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static hmap_slot *find_slot(const hmap *m, const void *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        hmap_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

static int grow(hmap *m)
{
    size_t ncap = m->cap * 2;
    hmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        hmap_slot *s = &m->slots[i];
        if (!s->key)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int upsert(hmap *m, const void *key, size_t len, uint32_t val, bool replace,
                  uint32_t *existing)
{
    if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    uint64_t h = hmap_hash(key, len);
    hmap_slot *s = find_slot(m, key, len, h);
    if (s->key) {
        if (existing)
            *existing = s->val;
        if (replace)
            s->val = val;
        return replace ? 0 : 1;
    }
    s->key = key;
    s->len = (uint32_t)len;
    s->hash = h;
    s->val = val;
    m->count++;
    return 0;
}

int hmap_put(hmap *m, const void *key, size_t len, uint32_t val, uint32_t *existing)
{
    return upsert(m, key, len, val, false, existing);
}

int hmap_set(hmap *m, const void *key, size_t len, uint32_t val)
{
    return upsert(m, key, len, val, true, NULL);
}

bool hmap_get(const hmap *m, const void *key, size_t len, uint32_t *val)
{
    if (!m->slots)
        return false;
    const hmap_slot *s = find_slot(m, key, len, hmap_hash(key, len));
    if (!s->key)
        return false;
    if (val)
        *val = s->val;
    return true;
}
