/*
 * Marketo response bodies -> typed values, and typed requests -> Marketo
 * request bodies. This is where the connector stops speaking Marketo.
 *
 * Every REST answer is an envelope {requestId, success, result[], errors[],
 * warnings[], moreResult, nextPageToken}; error codes are quoted integers
 * ("601") and numeric ones are accepted too. Asset API answers (programs,
 * channels) have no moreResult. The records inside `result` are mapped to
 * the generated protobuf-c messages of campsync/v1/marketo.proto.
 *
 * Nothing here trusts the body: a missing field or JSON null is the proto
 * default, and a field of the wrong type fails with an error naming it, e.g.
 *   "result[2].leadId: expected an integer, got string".
 * Times ("2026-01-31T12:00:00Z", "...+0000", and the asset API's
 * "2017-06-07T21:40:00Z+0000") become Unix epoch ms; costs become integer
 * minor units exactly (no float drift).
 *
 * Ownership of protobuf-c messages: every message created or extended here
 * is ONE tree allocated with malloc, laid out as protobuf-c's default
 * allocator would, so the caller frees it with
 * protobuf_c_message_free_unpacked(&m->base, NULL). Defaults point at
 * protobuf_c_empty_string, which free_unpacked skips. Messages passed in to
 * be extended must follow the same rule (mkto_msg_new or from here).
 */
#ifndef MKTO_JSON_H
#define MKTO_JSON_H

#include "mkto_errors.h"

#include "campsync/v1/marketo.pb-c.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A zeroed, initialised message of type d from malloc (NULL on OOM). */
void *mkto_msg_new(const ProtobufCMessageDescriptor *d);

/* Times and money: thin wrappers over common/json (cj_parse_datetime,
 * cj_format_datetime, cj_json_to_minor), shared with the Salesforce connector. */

/* Marketo datetime text -> epoch ms (accepts Z, +0000, +00:00, Z+0000, fractions). */
int mkto_parse_datetime(const char *s, int64_t *ms, mkto_err *err);
/* epoch ms -> "2026-01-31T12:00:00Z" (whole seconds, floor), as Marketo takes it. */
void mkto_format_datetime(int64_t ms, char *buf, size_t n);
/* A JSON number or numeric string -> minor units (x100), exact, half away from zero. */
int mkto_json_to_minor(const json_t *v, int64_t *minor, mkto_err *err);

/* One entry of "errors" (or of a record's "reasons"). */
typedef struct mkto_error_item {
    int code; /* 0 when Marketo sent no usable code */
    char message[256];
} mkto_error_item;

typedef struct mkto_envelope {
    char *request_id; /* "" when absent */
    bool success;
    json_t *result;  /* the result array (owned); an empty array when absent */
    size_t n_errors; /* entries in errors[] (all of them, up to 8 kept) */
    mkto_error_item errors[8];
    size_t n_warnings;
    bool has_more_result; /* the answer carried moreResult (asset API answers do not) */
    bool more_result;
    char *next_page_token; /* NULL when absent */
} mkto_envelope;

/*
 * Parses an envelope. Fails on non-JSON, a non-object, a missing or
 * non-boolean success, a result that is not an array, or an error entry
 * whose code is neither a number nor a numeric string. success=false with
 * errors is NOT a parse failure: look at env->errors.
 */
int mkto_envelope_parse(const char *body, size_t len, mkto_envelope *env, mkto_err *err);
void mkto_envelope_clear(mkto_envelope *env);

/* The Identity answer {access_token, token_type, expires_in, scope}. */
typedef struct mkto_token {
    char *access_token;
    char *token_type;
    char *scope;
    int64_t expires_in_s; /* seconds left (Marketo: 3599 for a new token) */
} mkto_token;

/* Fails naming the field; an Identity error {error, error_description} is reported as such. */
int mkto_token_parse(const char *body, size_t len, mkto_token *tok, mkto_err *err);
void mkto_token_clear(mkto_token *tok);

/*
 * Result arrays -> messages. *_append add to an existing list (paging); on
 * failure the list is unchanged. Fields read:
 *   Program: id name type channel status costs[{startDate,cost,note}] sfdcId
 *     sfdcName createdAt updatedAt
 *   Channel: id name applicableProgramType progressionStatuses[{name,step,
 *     success,hidden,description}] (statuses sorted by step)
 *   Program member: leadId statusName reachedSuccess membershipDate updatedAt
 *   Lead: id email firstName lastName company sfdcLeadId sfdcContactId
 *     createdAt updatedAt
 */
int mkto_program_from_json(const json_t *rec, const char *where, Campsync__V1__Program **out,
                           mkto_err *err);
int mkto_programs_append(const mkto_envelope *env, Campsync__V1__ListProgramsResponse *list,
                         mkto_err *err);
int mkto_channels_append(const mkto_envelope *env, Campsync__V1__ListChannelsResponse *list,
                         mkto_err *err);
int mkto_members_append(const mkto_envelope *env, Campsync__V1__ProgramMemberPage *page,
                        mkto_err *err);
int mkto_leads_append(const mkto_envelope *env, Campsync__V1__GetLeadsResponse *list,
                      mkto_err *err);

/* Activity types (/rest/v1/activities/types.json) for naming activities. */
typedef struct mkto_activity_type {
    int32_t id;
    char *name;
} mkto_activity_type;

int mkto_activity_types_parse(const mkto_envelope *env, mkto_activity_type **types, size_t *n,
                              mkto_err *err);
void mkto_activity_types_free(mkto_activity_type *types, size_t n);

/*
 * An activities page -> ActivityPage (new message): activities from result
 * (activity_type named from types when known), next_cursor = nextPageToken,
 * more = moreResult. Attribute values are kept as text (numbers and
 * booleans printed, null as ""). types may be NULL.
 */
int mkto_activity_page(const mkto_envelope *env, const mkto_activity_type *types, size_t n_types,
                       Campsync__V1__ActivityPage **out, mkto_err *err);

/*
 * Per-record results [{seq, id|leadId, status, reasons[{code,message}]}] of a
 * batch of n_records, placed in request order by seq (position when seq is
 * absent) and appended to acc: index = index_base + seq, key = keys[seq]
 * (keys may be NULL), outcome from status: created -> ADDED (status change)
 * or CREATED (upsert); updated -> UPDATED; deleted -> DELETED; skipped and
 * failed -> mkto_record_outcome(op, first reason code) with code and reason.
 * Fails, leaving acc unchanged, when a seq is out of range or repeated, a
 * record has no result, or an entry is malformed. api_calls += 1.
 */
int mkto_record_results_append(const mkto_envelope *env, mkto_op op, const char *const *keys,
                               size_t n_records, int32_t index_base, Campsync__V1__BatchResult *acc,
                               mkto_err *err);

/* Request bodies (malloc'd JSON text; 1..300 records, ids > 0). */
char *mkto_body_member_status(const char *status_name, const int64_t *lead_ids, size_t n,
                              mkto_err *err);
char *mkto_body_member_remove(const int64_t *lead_ids, size_t n, mkto_err *err);
/* {"action":"createOrUpdate","lookupField":"email","input":[...]}; each lead needs an
 * email, emails must be unique (case-insensitive) within the batch; empty fields are
 * left out so they never blank existing values. */
char *mkto_body_leads_upsert(Campsync__V1__Lead *const *leads, size_t n, mkto_err *err);

#endif
