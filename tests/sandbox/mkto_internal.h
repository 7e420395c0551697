/*
 * Marketo simulator internals shared by mkto_state.c (data model, dataset
 * load/export, activities), mkto_api.c (the REST endpoints) and mkto_admin.c
 * (UI-like changes through the admin API). Not part of the sbx.h contract.
 *
 * All of a mkto_state is guarded by its one mutex; every function here that
 * takes a mkto_state expects the caller to hold it.
 */
#ifndef CAMPSYNC_MKTO_INTERNAL_H
#define CAMPSYNC_MKTO_INTERNAL_H

#include "sbx.h"
#include "sbx_util.h"

#include <pthread.h>

/* Activity types the simulator writes (ids as in a typical subscription). */
enum {
    MKTO_ACT_NEW_LEAD = 12,
    MKTO_ACT_CHANGE_DATA_VALUE = 13,
    MKTO_ACT_ADD_SFDC_CAMPAIGN = 42,
    MKTO_ACT_REMOVE_SFDC_CAMPAIGN = 43,
    MKTO_ACT_CHANGE_SFDC_CAMPAIGN_STATUS = 44,
    MKTO_ACT_CHANGE_PROGRAM_STATUS = 104,
};

/* The status every channel implicitly starts with (step 0). Members are never
 * in it: leaving the program is removal. */
#define MKTO_NOT_IN_PROGRAM "Not in Program"

/* Lead fields the simulator knows (REST API names). */
enum {
    MKTO_F_EMAIL = 0,
    MKTO_F_FIRSTNAME,
    MKTO_F_LASTNAME,
    MKTO_F_COMPANY,
    MKTO_F_TITLE,
    MKTO_F_PHONE,
    MKTO_F_LEADSOURCE,
    MKTO_F_SFDCLEADID,
    MKTO_F_SFDCCONTACTID,
    MKTO_F_SFDCACCOUNTID,
    MKTO_NF
};
extern const char *const mkto_field_names[MKTO_NF];
/* Index of a writable lead field, or -1. */
int mkto_field_index(const char *name);

typedef struct {
    char *name;
    int step;
    int success;
    int hidden;
    char *description;
} mkto_status;

typedef struct {
    int64_t id;
    char *name;
    char *program_type; /* applicableProgramType */
    mkto_status *st;
    int n_st;
    int64_t created_ms, updated_ms;
} mkto_channel;

typedef struct {
    int64_t lead_id;
    int64_t member_id;
    int st; /* index into the channel's statuses */
    int reached_success;
    int acquired_by;
    int64_t created_ms, membership_ms, updated_ms, success_ms;
} mkto_member;

typedef struct {
    int64_t id;
    char *name, *description, *type, *channel, *status, *workspace, *sfdc_id, *sfdc_name;
    char *folder_name;
    int64_t folder_id;
    json_t *costs; /* array of {startDate, cost, note} */
    json_t *tags;  /* array */
    int64_t created_ms, updated_ms;
    int ch;         /* index into channels, -1 when the channel is unknown */
    mkto_member *m; /* sorted by lead_id */
    size_t n_m, cap_m;
} mkto_program;

/* Lead fields with a lookup index (email is matched case-insensitively). */
#define MKTO_NIDX 3
extern const int mkto_indexed_fields[MKTO_NIDX]; /* email, sfdcLeadId, sfdcContactId */

typedef struct {
    int64_t id;
    char *f[MKTO_NF];
    int64_t created_ms, updated_ms;
    int64_t next_same[MKTO_NIDX]; /* next lead (index) with the same key, -1 */
} mkto_lead;

typedef struct {
    int64_t id;
    int64_t lead_id;
    int64_t date_ms;
    int type;
    int64_t primary_id;
    char *primary_value;
    int64_t campaign_id;
    json_t *attrs; /* [{name, value}] */
} mkto_activity;

/* A Bulk Program Member Extract job (mkto_bulk.c). */
enum {
    MKTO_EXPORT_CREATED = 0,
    MKTO_EXPORT_QUEUED,
    MKTO_EXPORT_PROCESSING,
    MKTO_EXPORT_COMPLETED,
    MKTO_EXPORT_FAILED,
    MKTO_EXPORT_CANCELLED,
};

typedef struct {
    char id[48]; /* exportId */
    char format[4];
    char sep;
    int64_t program_id;
    char **fields;
    size_t n_fields;
    int status;
    int64_t created_ms, queued_ms, started_ms, finished_ms;
    uint64_t queued_seq; /* queue order */
    int64_t n_records;
    char *file; /* the export file, written when processing starts */
    size_t file_len;
    char *error_msg; /* Failed: errorMsg */
    char *fail_msg;  /* set when it started: fail with this once processed */
} mkto_export;

typedef struct mkto_state {
    pthread_mutex_t mu;
    char *client_id, *client_secret, *scope;
    int64_t token_ttl_s;
    int64_t lim_per20, lim_concurrent, lim_daily;

    mkto_channel *ch;
    size_t n_ch;
    mkto_program *pg;
    size_t n_pg;
    sbx_imap pg_by_id; /* id -> index */

    mkto_lead *leads;
    size_t n_leads, cap_leads;
    int64_t next_lead_id;
    sbx_imap lead_by_id;         /* id -> index */
    sbx_smap lead_by[MKTO_NIDX]; /* key -> index of the first lead with it */

    mkto_activity *act;
    size_t n_act, cap_act;
    int64_t next_act_id;
    int64_t next_member_id;

    /* access tokens */
    char token[80];
    int64_t token_exp_ms;
    char expired[32][80];
    int expired_pos;

    /* rate limits: timestamps of counted calls in the sliding window */
    int64_t *win;
    size_t win_cap, win_head, win_n;
    int64_t day_start_ms, day_count;

    /* Quirk (off unless asked for through the admin API): an upsert does
     * not see leads created after it arrived, as Marketo's dedupe lags
     * behind concurrent writes; overlapping upserts of one email then make
     * duplicates. */
    int duplicate_race;

    /* Bulk Program Member Extract (mkto_bulk.c). */
    mkto_export *exports;
    size_t n_exports, cap_exports;
    uint64_t bulk_seq;
    int64_t bulk_processing_ms, bulk_max_queued, bulk_max_processing, bulk_daily_bytes;
    int64_t bulk_day_start_ms, bulk_day_bytes;
    char *bulk_fail_next; /* errorMsg for the next job to start processing */

    uint64_t rng;
    uint64_t request_seq;
    int transient_flip;
} mkto_state;

/* ---- mkto_state.c ---- */
mkto_program *mkto_program_get(mkto_state *s, int64_t id);
mkto_lead *mkto_lead_get(mkto_state *s, int64_t id);
/* Index of the member with lead_id in p (found = 1), or where it would go. */
size_t mkto_member_find(const mkto_program *p, int64_t lead_id, int *found);
mkto_member *mkto_member_get(mkto_program *p, int64_t lead_id);
/* Inserts a member (lead_id not yet a member); returns it or NULL (OOM). */
mkto_member *mkto_member_insert(mkto_state *s, mkto_program *p, int64_t lead_id, int64_t now);
void mkto_member_remove(mkto_program *p, int64_t lead_id);
/* Creates a lead with the next id; fields may be NULL. Returns NULL on OOM. */
mkto_lead *mkto_lead_create(mkto_state *s, int64_t now);
/* Sets a lead field (value NULL clears), keeping the indexes right. */
void mkto_lead_set(mkto_state *s, mkto_lead *l, int field, const char *value);
/* Indexes of up to cap leads whose field equals value; returns how many
 * match (may exceed cap). Indexed fields are fast, others scan. */
size_t mkto_leads_by(mkto_state *s, int field, const char *value, int64_t *out, size_t cap);
const mkto_channel *mkto_program_channel(const mkto_state *s, const mkto_program *p);
/* Index of a status by name in a channel, or -1. */
int mkto_status_index(const mkto_channel *c, const char *name);
/* Stable status ids for activities: channel id * 100 + index + 1; 0 = not in
 * program. */
int64_t mkto_status_id(const mkto_channel *c, int st);

/*
 * Applies a status to a lead in a program and writes the 104 activity.
 * forward_only: skip (return 1) when the member is already in or past it.
 * Returns 0 = updated, 2 = created, 1 = skipped, -1 = out of memory.
 */
int mkto_set_status(mkto_state *s, mkto_program *p, int64_t lead_id, int st, int forward_only,
                    const char *reason, int64_t now);
/* Removes a member and writes the 104 activity to "Not in Program".
 * Returns 0 = removed, 1 = not a member. */
int mkto_remove_member(mkto_state *s, mkto_program *p, int64_t lead_id, const char *reason,
                       int64_t now);
/* Appends an activity (takes attrs). Returns 0 or -1. */
int mkto_activity_add(mkto_state *s, int64_t lead_id, int type, int64_t primary_id,
                      const char *primary_value, json_t *attrs, int64_t now);

/* Dataset export (for GET /admin/state). */
json_t *mkto_state_export(mkto_state *s);
/* How a program is rendered: in the dataset format, or as one of the asset
 * API's answers (its date format; browse has no tags or costs, by id has
 * both, by name has what includeTags / includeCosts ask for). */
enum {
    MKTO_PJ_DATASET = 0,
    MKTO_PJ_BROWSE,
    MKTO_PJ_FULL,
    MKTO_PJ_NAME, /* by name, neither asked for */
    MKTO_PJ_TAGS,
    MKTO_PJ_COSTS,
    MKTO_PJ_TAGS_COSTS,
};
json_t *mkto_program_json(const mkto_program *p, int mode);
/* api = 1: as the asset API answers (with "Not in Program" and dates). */
json_t *mkto_channel_json(const mkto_channel *c, int api);

/* Replaces bytes that are not printable ASCII with '?', so a message that
 * quotes client input is always valid JSON text. */
void mkto_ascii(char *msg);

/* ---- mkto_api.c ---- */
void mkto_handle(void *state, const sbx_request *req, sbx_response *resp);
/* Format of the asset API's dates: "2015-05-21T22:45:13Z+0000". */
void mkto_format_asset_time(int64_t ms, char *out, size_t len);

/* ---- mkto_bulk.c ---- */
typedef struct {
    char code[8];
    char msg[256];
} mkto_bulk_err;
void mkto_bulk_init(mkto_state *s);
void mkto_bulk_free(mkto_state *s);
/* Moves jobs along their lifecycle as of now (called by every bulk call). */
void mkto_bulk_advance(mkto_state *s, int64_t now);
/* The endpoints: the job as Marketo shows it, or NULL with e set. body is
 * the parsed create.json body. */
json_t *mkto_export_create(mkto_state *s, json_t *body, int64_t now, mkto_bulk_err *e);
json_t *mkto_export_enqueue(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e);
json_t *mkto_export_status(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e);
json_t *mkto_export_cancel(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e);
/* The job when it is Completed (its file), or NULL with e set. */
const mkto_export *mkto_export_file(mkto_state *s, const char *id, int64_t now, mkto_bulk_err *e);
/* Admin action "bulk": settings, the next failure, the jobs. Returns HTTP status. */
int mkto_bulk_admin(mkto_state *s, json_t *body, int64_t now, json_t **out);

/* ---- mkto_admin.c ---- */
int mkto_admin(void *state, const char *action, json_t *body, int64_t now_ms, json_t **out);

#endif
