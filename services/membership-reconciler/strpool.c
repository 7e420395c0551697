/*
 * String pool: see strpool.h. Blocks of STRPOOL_BLOCK bytes are filled in
 * turn; a string too large to share a block gets a block of its own, linked
 * behind the one being filled so that block keeps filling.
 */
#include "strpool.h"

#include <stdlib.h>
#include <string.h>

/* Past glibc's mmap threshold (fixed at 128 KiB by main.c): each block is
 * its own mapping, given back to the system when the pool is freed instead
 * of leaving holes in the heap between longer-lived allocations. */
#define STRPOOL_BLOCK (256 * 1024 - 64)

struct strpool_block {
    strpool_block *next;
    size_t cap;
    char data[];
};

static void *room(strpool *p, size_t len)
{
    if (p->blocks && p->blocks->cap - p->used >= len) {
        void *at = p->blocks->data + p->used;
        p->used += len;
        return at;
    }
    bool own = len > STRPOOL_BLOCK / 8;
    size_t cap = own ? len : STRPOOL_BLOCK;
    strpool_block *b = malloc(sizeof *b + cap);
    if (!b)
        return NULL;
    b->cap = cap;
    if (own && p->blocks) {
        b->next = p->blocks->next;
        p->blocks->next = b;
    } else {
        b->next = p->blocks;
        p->blocks = b;
        p->used = len;
    }
    return b->data;
}

const void *strpool_mem(strpool *p, const void *data, size_t len)
{
    void *at = room(p, len ? len : 1);
    if (at)
        memcpy(at, data, len);
    return at;
}

const char *strpool_copy(strpool *p, const char *s)
{
    if (!s || !s[0])
        return s ? "" : NULL;
    return strpool_mem(p, s, strlen(s) + 1);
}

const char *strpool_intern(strpool *p, const char *s)
{
    if (!s || !s[0])
        return s ? "" : NULL;
    size_t len = strlen(s);
    if (len > HMAP_MAX_KEY)
        return strpool_copy(p, s);
    uint32_t idx;
    if (p->intern_map.slots && hmap_get(&p->intern_map, s, len, &idx))
        return p->interned[idx];
    if (!p->intern_map.slots && hmap_init(&p->intern_map, 16) != 0)
        return NULL;
    if (p->n_interned == p->cap_interned) {
        size_t cap = p->cap_interned ? p->cap_interned * 2 : 16;
        const char **v = realloc(p->interned, cap * sizeof *v);
        if (!v)
            return NULL;
        p->interned = v;
        p->cap_interned = cap;
    }
    const char *c = strpool_copy(p, s);
    if (!c || hmap_put(&p->intern_map, c, len, (uint32_t)p->n_interned, NULL) < 0)
        return NULL;
    p->interned[p->n_interned++] = c;
    return c;
}

void strpool_free(strpool *p)
{
    for (strpool_block *b = p->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(p->interned);
    hmap_free(&p->intern_map);
    memset(p, 0, sizeof *p);
}
