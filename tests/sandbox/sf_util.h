/*
 * Small building blocks of the Salesforce simulator that have nothing to do
 * with HTTP: record Ids (18-char with the case-safe suffix), Salesforce time
 * formats, SHA-256/HMAC for the token signature, base64, and the two
 * containers the store is built from (string-keyed hash map, pointer vector).
 * Kept apart so the SOQL parser and the store can be tested without a server.
 */
#ifndef CAMPSYNC_SBX_SF_UTIL_H
#define CAMPSYNC_SBX_SF_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Ids ---- */

/* Normalises a 15- or 18-character Id into its 18-character form (with the
 * casing of the first 15 restored from the suffix). Returns 0, or -1 when the
 * text is not an Id. */
int sfs_id_normalize(const char *in, size_t len, char out[19]);
/* Makes the Id number n of the object with the given 3-character key prefix. */
void sfs_id_make(const char *prefix, uint64_t n, char out[19]);

/* ---- time (UTC, milliseconds since the epoch) ---- */

enum { SF_TIME_DATE = 1, SF_TIME_DATETIME = 2 };
/* Parses YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|+hhmm|-..).
 * Returns 0 and sets *ms and *kind, or -1. */
int sfs_time_parse(const char *s, size_t len, int64_t *ms, int *kind);
/* "2026-01-31T12:00:00.000+0000" (29 bytes with the NUL). */
void sfs_time_format_datetime(int64_t ms, char out[32]);
/* "2026-01-31". */
void sfs_time_format_date(int64_t ms, char out[16]);

/* ---- crypto / encoding ---- */

void sfs_sha256(const void *data, size_t len, uint8_t out[32]);
void sfs_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     uint8_t out[32]);
/* Standard base64 with padding; returns a malloc'd string. */
char *sfs_base64_encode(const uint8_t *data, size_t len);
/* base64url (or standard) without padding requirements; returns a malloc'd
 * NUL-terminated buffer and its length, or NULL on bad input. */
char *sfs_base64url_decode(const char *in, size_t len, size_t *out_len);

/* A JSON string of s with every byte that isn't valid UTF-8 replaced by '?'
 * (jansson refuses invalid UTF-8, and request text ends up in messages). */
json_t *sfs_json_text(const char *s, size_t len);

/* ---- string-keyed hash map (keys copied, values borrowed) ---- */

typedef struct sfs_map {
    char **keys;
    void **vals;
    size_t cap; /* power of two, 0 when empty */
    size_t n;
} sfs_map;

void *sfs_map_get(const sfs_map *m, const char *key);
/* Inserts or replaces; returns 0 or -1 on allocation failure. */
int sfs_map_put(sfs_map *m, const char *key, void *val);
/* Removes and returns the value (NULL when absent). */
void *sfs_map_del(sfs_map *m, const char *key);
/* Frees the keys and the table, not the values. */
void sfs_map_free(sfs_map *m);

/* ---- vector of pointers ---- */

typedef struct sfs_vec {
    void **items;
    size_t n, cap;
} sfs_vec;

int sfs_vec_push(sfs_vec *v, void *item);
/* Removes the first occurrence of item keeping the order; returns 0 if found. */
int sfs_vec_remove(sfs_vec *v, const void *item);
void sfs_vec_free(sfs_vec *v);

#endif
