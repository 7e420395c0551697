/*
 * The Salesforce simulator's in-memory org: object descriptions (standard
 * objects campsync touches plus the custom fields/objects a dataset declares),
 * a generic record store (JSON field maps keyed by 18-char Id, deleted
 * records kept as tombstones for queryAll), the indexes that keep campaign
 * queries fast, and the write path with Salesforce's object rules
 * (CampaignMember, CampaignMemberStatus, Lead, ...). An undo journal lets a
 * collection call with allOrNone roll back everything it did.
 *
 * Not thread-safe: sfs_api.c holds the state's mutex around every call.
 */
#ifndef CAMPSYNC_SBX_SF_STORE_H
#define CAMPSYNC_SBX_SF_STORE_H

#include "sf_util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

typedef enum {
    SF_T_ID,
    SF_T_REF,
    SF_T_STRING,
    SF_T_EMAIL,
    SF_T_BOOL,
    SF_T_INT,
    SF_T_DOUBLE,
    SF_T_DATE,
    SF_T_DATETIME,
    SF_T_ANY, /* custom field declared without a type: kept as given */
} sfs_type;

enum {
    SF_F_CREATE = 1,   /* may be set on insert */
    SF_F_UPDATE = 2,   /* may be set on update */
    SF_F_REQUIRED = 4, /* must be set on insert */
};

typedef struct sfs_field {
    char *name; /* API name, canonical casing */
    sfs_type type;
    int flags;
    char *ref; /* SF_T_REF: the referenced object */
} sfs_field;

struct sfs_rec;

typedef struct sfs_index {
    const sfs_field *field;
    sfs_map map; /* id value -> sfs_vec of sfs_rec*, insertion order, tombstones included */
} sfs_index;

typedef struct sfs_object {
    char *name;
    char prefix[4];
    int custom;
    sfs_field *fields;
    int n_fields;
    sfs_vec recs; /* sfs_rec*, insertion order, tombstones included */
    sfs_index idx[8];
    int n_idx;
} sfs_object;

typedef struct sfs_rec {
    sfs_object *obj;
    char id[19];
    int deleted;
    json_t *f; /* field name -> value; never mutated once stored (copy on write) */
    /* f's values by field position in obj->fields (borrowed from f, NULL when
     * unset): queries read fields without hashing names, which is what keeps
     * a 2,000-row page of a large campaign within a few milliseconds. */
    json_t **vals;
} sfs_rec;

typedef struct sfs_err {
    char code[48];
    char message[512];
    char fields[4][64];
    int n_fields;
} sfs_err;

/* An issued access token (values of sfs_state.tokens, malloc'd). */
typedef struct sfs_token {
    char user[19];
    int64_t expires_ms;
} sfs_token;

typedef struct sfs_journal_entry {
    int kind; /* 0 insert, 1 update, 2 delete */
    sfs_rec *rec;
    json_t *old_f;
} sfs_journal_entry;

typedef struct sfs_state {
    pthread_mutex_t mu;
    sfs_object **objs;
    int n_objs;
    sfs_map by_id;      /* 18-char Id -> sfs_rec* (all records) */
    sfs_map member_key; /* CampaignId/personId -> live CampaignMember sfs_rec* */
    uint64_t next_id;
    uint64_t rng;
    /* configuration from the dataset */
    char *client_id, *client_secret;
    char org_id[19];
    char integration_user[19];
    int64_t token_ttl_ms;
    long daily_limit;
    json_t *custom_fields, *custom_objects; /* as declared, for "state" */
    /* auth and limits */
    sfs_map tokens; /* access token -> sfs_token* */
    long api_used;
    int64_t api_day; /* UTC day of api_used */
    /* query cursors (sfs_query.c) */
    sfs_vec cursors;
    uint64_t next_cursor;
    /* undo journal, active while journaling is on */
    int journaling;
    sfs_journal_entry *journal;
    size_t n_journal, cap_journal;
} sfs_state;

/* Builds the org from the dataset's "salesforce" section (NULL = empty org). */
sfs_state *sfs_store_create(json_t *section, uint64_t seed, char *err, size_t err_len);
void sfs_store_destroy(sfs_state *st);
/* The dataset form of the whole org (new reference). */
json_t *sfs_store_dump(sfs_state *st);

sfs_object *sfs_object_find(const sfs_state *st, const char *name);
const sfs_field *sfs_field_find(const sfs_object *obj, const char *name);
/* A record's value of field f (a field of rec->obj); NULL when unset. */
static inline json_t *sfs_rec_value(const sfs_rec *rec, const sfs_field *f)
{
    return rec->vals[f - rec->obj->fields];
}
/* The reference field behind relationship name rel ("Lead" -> LeadId). */
const sfs_field *sfs_relationship_find(const sfs_object *obj, const char *rel);
/* Looks a record up by 15/18-char Id (tombstones included); NULL if unknown. */
sfs_rec *sfs_rec_find(const sfs_state *st, const char *id);
/* Appends to out (caller frees with sfs_vec_free) the live records of obj
 * whose field equals value. Builds an index on the field the first time it is
 * asked for, so upserts by external id stay O(1). Returns 0 or -1 (memory). */
int sfs_store_lookup(sfs_state *st, sfs_object *obj, const sfs_field *f, json_t *value,
                     sfs_vec *out);
/* True when the user is a Marketing User (CampaignMemberStatus visibility). */
int sfs_user_is_marketing(const sfs_state *st, const char *user_id);
/* True when the object is visible to the user. */
int sfs_object_visible(const sfs_state *st, const sfs_object *obj, const char *user_id);

/* Write path. input is a JSON object of field values ("attributes" ignored).
 * On failure returns -1 with err set and the org unchanged. */
int sfs_insert(sfs_state *st, sfs_object *obj, json_t *input, int64_t now_ms, const char *user_id,
               sfs_rec **out, sfs_err *err);
int sfs_update(sfs_state *st, sfs_rec *rec, json_t *input, int64_t now_ms, const char *user_id,
               sfs_err *err);
int sfs_delete(sfs_state *st, sfs_rec *rec, int64_t now_ms, const char *user_id, sfs_err *err);
/* Sets fields without the API's write checks (system changes such as lead
 * conversion), bumping the modification stamps. Takes no reference. */
void sfs_store_force(sfs_state *st, sfs_rec *rec, json_t *changes, int64_t now_ms,
                     const char *user_id);
/* Checks and converts one input value for a field (JSON types, date and
 * datetime formats). Returns a new reference, or NULL with err set
 * (errorCode JSON_PARSER_ERROR, as Salesforce reports a bad value). */
json_t *sfs_coerce(const sfs_field *f, json_t *value, sfs_err *err);

/* Undo journal for allOrNone. */
void sfs_journal_begin(sfs_state *st);
void sfs_journal_commit(sfs_state *st);
void sfs_journal_rollback(sfs_state *st);

/* Error helpers. */
void sfs_err_set(sfs_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sfs_err_field(sfs_err *err, const char *field);

#endif
