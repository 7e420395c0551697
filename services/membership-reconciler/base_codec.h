/*
 * The sync base of a pair (SPEC C3): for every member both sides last agreed
 * on, its Marketo lead id and status, plus a version bumped on every store.
 * Stored in Redis as one compact binary string:
 *
 *   "CSB1" | varint version | varint n_names | n_names x (varint len, bytes)
 *   | varint n_entries | n_entries x (varint key delta, varint status+1,
 *   sf tag: 4 bytes little endian) | crc32 (4 bytes, little endian) of
 *   everything before it
 *
 * Keys are sorted and delta-encoded, statuses are indexes into the name
 * table (0 = unknown), so 100,000 members take well under 1 MB. The decoder
 * treats its input as hostile (it is fuzzed): every length is checked
 * against the bytes left before anything is allocated.
 *
 * The member key is the Marketo lead id: it never changes, while a
 * Salesforce person id does when a Lead is converted to a Contact. The sf
 * tag (a hash of the Salesforce person the member was agreed with) lets the
 * merge notice that a lead is now matched to another Salesforce person; it
 * then reads the base as unknown rather than infer a removal from it.
 */
#ifndef CAMPSYNC_BASE_CODEC_H
#define CAMPSYNC_BASE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "recon_err.h"

#define BASE_STATUS_UNKNOWN (-1) /* member seen, but no agreed state yet */
#define BASE_MAX_NAMES 256
#define BASE_MAX_NAME_LEN 255
#define BASE_MAX_ENTRIES 10000000

typedef struct {
    int64_t lead_id; /* > 0 */
    int32_t status;  /* index into names, or BASE_STATUS_UNKNOWN */
    uint32_t sf_tag; /* base_sf_tag of the Salesforce person, 0 = not known */
} base_entry;

typedef struct {
    uint64_t version;
    char **names; /* owned; unique, non-empty */
    size_t n_names;
    base_entry *entries; /* owned; strictly increasing lead_id */
    size_t n_entries;
} base_state;

/* Encodes b into a new buffer (*out, caller frees). Fails with RECON_EINVAL
 * when b breaks its invariants. */
int base_encode(const base_state *b, unsigned char **out, size_t *out_len, recon_err *err);

/* Decodes a stored base into *out (free with base_free). RECON_ECORRUPT for
 * anything that is not a well-formed base: the caller then syncs as if there
 * were no base (nothing removed), which is safe. */
int base_decode(const void *data, size_t len, base_state *out, recon_err *err);

void base_free(base_state *b);

/* Tag of a Salesforce person id: a stable 32-bit hash, never 0 (0 for
 * NULL or ""). */
uint32_t base_sf_tag(const char *sf_person_id);

/* The entry of a lead id, or NULL (binary search). */
const base_entry *base_find(const base_state *b, int64_t lead_id);

#endif
