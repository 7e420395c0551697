/*
 * Helpers shared by the sandbox framework and both vendor simulators beyond
 * the contract in sbx.h: URL decoding, a deterministic random generator, and
 * two small hash maps (integer and string keys) so lookups stay O(1) on
 * 100,000-row datasets.
 */
#ifndef CAMPSYNC_SBX_UTIL_H
#define CAMPSYNC_SBX_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes %XX and '+' (as space) from s[0..n); returns a malloc'd string. */
char *sbx_url_decode(const char *s, size_t n);

/* splitmix64: deterministic from its seed, good enough for simulation. */
uint64_t sbx_rng_next(uint64_t *state);
/* Uniform in [0, 1). */
double sbx_rng_unit(uint64_t *state);
/* Uniform in [0, n) (n > 0). */
uint64_t sbx_rng_below(uint64_t *state, uint64_t n);

/* Open-addressing map int64 -> int64. Keys must not be INT64_MIN. */
typedef struct {
    int64_t *keys;
    int64_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
} sbx_imap;

void sbx_imap_free(sbx_imap *m);
/* Inserts or replaces; 0 or -1 (out of memory). */
int sbx_imap_put(sbx_imap *m, int64_t key, int64_t val);
/* 1 and *val when found, else 0. */
int sbx_imap_get(const sbx_imap *m, int64_t key, int64_t *val);

/* Open-addressing map string -> int64; keys are copied. */
typedef struct {
    char **keys;
    int64_t *vals;
    size_t cap;
    size_t n;
} sbx_smap;

void sbx_smap_free(sbx_smap *m);
int sbx_smap_put(sbx_smap *m, const char *key, int64_t val);
int sbx_smap_get(const sbx_smap *m, const char *key, int64_t *val);
void sbx_smap_del(sbx_smap *m, const char *key);

/* RFC 4648 base32 (with '=' padding) of data; malloc'd. Marketo's paging
 * tokens look like this. */
char *sbx_base32(const void *data, size_t len);
/* Decodes base32 into out (cap bytes, NUL-terminated); returns the length or
 * -1 on bad input. */
int sbx_unbase32(const char *s, char *out, size_t cap);

/* A growing text buffer for hot paths that write JSON by hand. On OOM it
 * stops growing and sets oom; p is malloc'd (the owner frees it). */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbx_buf;

void sbx_buf_add(sbx_buf *b, const char *s, size_t n);
void sbx_buf_str(sbx_buf *b, const char *s);
/* s as a JSON string literal (quoted and escaped); NULL writes null. */
void sbx_buf_json_str(sbx_buf *b, const char *s);
void sbx_buf_int(sbx_buf *b, int64_t v);

#endif
