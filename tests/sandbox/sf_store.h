/*
 * The Salesforce simulator's in-memory org: object descriptions (standard
 * objects campsync touches plus the custom fields/objects a dataset declares),
 * a generic record store (JSON field maps keyed by 18-char Id, deleted
 * records kept as tombstones for queryAll), the indexes that keep campaign
 * queries fast, and the write path with Salesforce's object rules
 * (CampaignMember, CampaignMemberStatus, Lead, ...). An undo journal lets a
 * collection call with allOrNone roll back everything it did.
 *
 * Not thread-safe: sf_api.c holds the state's mutex around every call.
 */
#ifndef CAMPSYNC_SF_STORE_H
#define CAMPSYNC_SF_STORE_H

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
} sf_type;

enum {
    SF_F_CREATE = 1,   /* may be set on insert */
    SF_F_UPDATE = 2,   /* may be set on update */
    SF_F_REQUIRED = 4, /* must be set on insert */
};

typedef struct sf_field {
    char *name; /* API name, canonical casing */
    sf_type type;
    int flags;
    char *ref; /* SF_T_REF: the referenced object */
} sf_field;

struct sf_rec;

typedef struct sf_index {
    const sf_field *field;
    sf_map map; /* id value -> sf_vec of sf_rec*, insertion order, tombstones included */
} sf_index;

typedef struct sf_object {
    char *name;
    char prefix[4];
    int custom;
    sf_field *fields;
    int n_fields;
    sf_vec recs; /* sf_rec*, insertion order, tombstones included */
    sf_index idx[8];
    int n_idx;
} sf_object;

typedef struct sf_rec {
    sf_object *obj;
    char id[19];
    int deleted;
    json_t *f; /* field name -> value; never mutated once stored (copy on write) */
} sf_rec;

typedef struct sf_err {
    char code[48];
    char message[512];
    char fields[4][64];
    int n_fields;
} sf_err;

/* An issued access token (values of sf_state.tokens, malloc'd). */
typedef struct sf_token {
    char user[19];
    int64_t expires_ms;
} sf_token;

typedef struct sf_journal_entry {
    int kind; /* 0 insert, 1 update, 2 delete */
    sf_rec *rec;
    json_t *old_f;
} sf_journal_entry;

typedef struct sf_state {
    pthread_mutex_t mu;
    sf_object **objs;
    int n_objs;
    sf_map by_id;      /* 18-char Id -> sf_rec* (all records) */
    sf_map member_key; /* CampaignId/personId -> live CampaignMember sf_rec* */
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
    sf_map tokens; /* access token -> sf_token* */
    long api_used;
    int64_t api_day; /* UTC day of api_used */
    /* query cursors (sf_query.c) */
    sf_vec cursors;
    uint64_t next_cursor;
    /* undo journal, active while journaling is on */
    int journaling;
    sf_journal_entry *journal;
    size_t n_journal, cap_journal;
} sf_state;

/* Builds the org from the dataset's "salesforce" section (NULL = empty org). */
sf_state *sf_store_create(json_t *section, uint64_t seed, char *err, size_t err_len);
void sf_store_destroy(sf_state *st);
/* The dataset form of the whole org (new reference). */
json_t *sf_store_dump(sf_state *st);

sf_object *sf_object_find(const sf_state *st, const char *name);
const sf_field *sf_field_find(const sf_object *obj, const char *name);
/* The reference field behind relationship name rel ("Lead" -> LeadId). */
const sf_field *sf_relationship_find(const sf_object *obj, const char *rel);
/* Looks a record up by 15/18-char Id (tombstones included); NULL if unknown. */
sf_rec *sf_rec_find(const sf_state *st, const char *id);
/* Appends to out (caller frees with sf_vec_free) the live records of obj
 * whose field equals value. Builds an index on the field the first time it is
 * asked for, so upserts by external id stay O(1). Returns 0 or -1 (memory). */
int sf_store_lookup(sf_state *st, sf_object *obj, const sf_field *f, json_t *value, sf_vec *out);
/* True when the user is a Marketing User (CampaignMemberStatus visibility). */
int sf_user_is_marketing(const sf_state *st, const char *user_id);
/* True when the object is visible to the user. */
int sf_object_visible(const sf_state *st, const sf_object *obj, const char *user_id);

/* Write path. input is a JSON object of field values ("attributes" ignored).
 * On failure returns -1 with err set and the org unchanged. */
int sf_insert(sf_state *st, sf_object *obj, json_t *input, int64_t now_ms, const char *user_id,
              sf_rec **out, sf_err *err);
int sf_update(sf_state *st, sf_rec *rec, json_t *input, int64_t now_ms, const char *user_id,
              sf_err *err);
int sf_delete(sf_state *st, sf_rec *rec, int64_t now_ms, const char *user_id, sf_err *err);
/* Sets fields without the API's write checks (system changes such as lead
 * conversion), bumping the modification stamps. Takes no reference. */
void sf_store_force(sf_state *st, sf_rec *rec, json_t *changes, int64_t now_ms,
                    const char *user_id);
/* Checks and converts one input value for a field (JSON types, date and
 * datetime formats). Returns a new reference, or NULL with err set
 * (errorCode JSON_PARSER_ERROR, as Salesforce reports a bad value). */
json_t *sf_coerce(const sf_field *f, json_t *value, sf_err *err);

/* Undo journal for allOrNone. */
void sf_journal_begin(sf_state *st);
void sf_journal_commit(sf_state *st);
void sf_journal_rollback(sf_state *st);

/* Error helpers. */
void sf_err_set(sf_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_err_field(sf_err *err, const char *field);

#endif
