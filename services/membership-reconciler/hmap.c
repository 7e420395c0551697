/*
 * Open addressing with linear probing, kept at most 70% full so probes stay
 * short. The table size is not a power of two (so it can follow the expected
 * count closely, which matters at 100,000 keys): a slot is picked from the
 * hash's low 32 bits by multiply-shift. 16 high hash bits are kept in the
 * slot as a tag, so a probe past another key rarely touches that key's
 * bytes (a cache miss).
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
    return expected + expected / 2 + 8; /* 66% full at the expected count */
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

static size_t home(uint64_t h, size_t cap)
{
    return (size_t)(((h & 0xFFFFFFFFu) * (uint64_t)cap) >> 32);
}

static uint16_t tag_of(uint64_t h)
{
    return (uint16_t)(h >> 48);
}

static hmap_slot *find_slot(const hmap *m, const void *key, size_t len, uint64_t h)
{
    uint16_t tag = tag_of(h);
    for (size_t i = home(h, m->cap);; i = i + 1 == m->cap ? 0 : i + 1) {
        hmap_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->tag == tag && s->len == len && memcmp(s->key, key, len) == 0)
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
        size_t j = home(hmap_hash(s->key, s->len), ncap);
        while (ns[j].key)
            j = j + 1 == ncap ? 0 : j + 1;
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
    if (len > HMAP_MAX_KEY)
        return -1;
    if ((m->count + 1) * 10 > m->cap * 7 && grow(m) != 0)
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
    s->len = (uint16_t)len;
    s->tag = tag_of(h);
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
    if (!m->slots || len > HMAP_MAX_KEY)
        return false;
    const hmap_slot *s = find_slot(m, key, len, hmap_hash(key, len));
    if (!s->key)
        return false;
    if (val)
        *val = s->val;
    return true;
}
