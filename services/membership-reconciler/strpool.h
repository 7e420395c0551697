/*
 * A pool of string copies for the reader: one malloc per large block instead
 * of one per string, freed all at once. A full read of a 100,000-member pair
 * keeps about a million short strings (ids, emails, names) for the whole
 * cycle; kept inside their unpacked connector replies they cost several
 * times their size in message structs and malloc overhead. Status names,
 * repeated on every member, can be interned: one copy each.
 */
#ifndef CAMPSYNC_STRPOOL_H
#define CAMPSYNC_STRPOOL_H

#include <stddef.h>

#include "hmap.h"

typedef struct strpool_block strpool_block;

/* Zero-initialized ({0}) before first use; empty again after strpool_free. */
typedef struct {
    strpool_block *blocks; /* the block being filled first */
    size_t used;           /* bytes used of the first block */
    const char **interned; /* the interned copies */
    size_t n_interned, cap_interned;
    hmap intern_map; /* interned string -> its index in interned */
} strpool;

/* A copy of s owned by the pool, valid until strpool_free: NULL for NULL, a
 * static "" for "", and NULL when out of memory (s not NULL). */
const char *strpool_copy(strpool *p, const char *s);

/* len bytes of data, unaligned, owned by the pool; NULL when out of memory. */
const void *strpool_mem(strpool *p, const void *data, size_t len);

/* Like strpool_copy, but equal strings share one copy. */
const char *strpool_intern(strpool *p, const char *s);

void strpool_free(strpool *p);

#endif
