/*
 * Open-addressing string table (linear probing, power-of-two size, load at
 * most 1/2) over arena-allocated copies. See intern.h.
 */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64u * 1024u)

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

struct intern {
    arena_block *blocks;
    const char **strs; /* id -> string */
    uint32_t count, strs_cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    uint32_t nslots;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

intern *intern_new(void)
{
    intern *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->nslots = 64;
    in->slots = calloc(in->nslots, sizeof *in->slots);
    if (!in->slots) {
        free(in);
        return NULL;
    }
    return in;
}

void intern_free(intern *in)
{
    if (!in)
        return;
    arena_block *b = in->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(in->strs);
    free(in->slots);
    free(in);
}

static char *arena_copy(intern *in, const char *s)
{
    size_t len = strlen(s) + 1;
    arena_block *b = in->blocks;
    if (!b || b->cap - b->used < len) {
        size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = in->blocks;
        in->blocks = b;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    b->used += len;
    return p;
}

static uint32_t probe(const intern *in, const char *s, uint64_t h, uint32_t *slot)
{
    uint32_t mask = in->nslots - 1;
    uint32_t i = (uint32_t)h & mask;
    while (in->slots[i]) {
        uint32_t id = in->slots[i] - 1;
        if (strcmp(in->strs[id], s) == 0) {
            *slot = i;
            return id;
        }
        i = (i + 1) & mask;
    }
    *slot = i;
    return INTERN_NONE;
}

static int grow_slots(intern *in)
{
    uint32_t n = in->nslots * 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 0; id < in->count; id++) {
        uint32_t i = (uint32_t)hash_str(in->strs[id]) & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(in->slots);
    in->slots = slots;
    in->nslots = n;
    return 0;
}

uint32_t intern_find(const intern *in, const char *s)
{
    uint32_t slot;
    return probe(in, s, hash_str(s), &slot);
}

uint32_t intern_id(intern *in, const char *s)
{
    uint64_t h = hash_str(s);
    uint32_t slot;
    uint32_t id = probe(in, s, h, &slot);
    if (id != INTERN_NONE)
        return id;
    if (in->count >= INTERN_NONE - 1 || in->nslots > UINT32_MAX / 2)
        return INTERN_NONE;
    if ((uint64_t)(in->count + 1) * 2 > in->nslots) {
        if (grow_slots(in) != 0)
            return INTERN_NONE;
        probe(in, s, h, &slot);
    }
    if (in->count == in->strs_cap) {
        uint32_t cap = in->strs_cap ? in->strs_cap * 2 : 64;
        const char **strs = realloc(in->strs, cap * sizeof *strs);
        if (!strs)
            return INTERN_NONE;
        in->strs = strs;
        in->strs_cap = cap;
    }
    char *copy = arena_copy(in, s);
    if (!copy)
        return INTERN_NONE;
    id = in->count++;
    in->strs[id] = copy;
    in->slots[slot] = id + 1;
    return id;
}

const char *intern_str(const intern *in, uint32_t id)
{
    return id < in->count ? in->strs[id] : NULL;
}

uint32_t intern_count(const intern *in)
{
    return in->count;
}

static int cmp_by_string(const void *a, const void *b, void *ctx)
{
    const char *const *strs = ctx;
    return strcmp(strs[*(const uint32_t *)a], strs[*(const uint32_t *)b]);
}

int intern_ranks(const intern *in, uint32_t *rank)
{
    if (in->count == 0)
        return 0;
    uint32_t *order = malloc(in->count * sizeof *order);
    if (!order)
        return -1;
    for (uint32_t i = 0; i < in->count; i++)
        order[i] = i;
    qsort_r(order, in->count, sizeof *order, cmp_by_string, (void *)in->strs);
    for (uint32_t r = 0; r < in->count; r++)
        rank[order[r]] = r;
    free(order);
    return 0;
}
