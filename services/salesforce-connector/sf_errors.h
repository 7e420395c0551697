/*
 * Salesforce errors, read and classified in one place. Salesforce answers a
 * failed REST call with a JSON array [{message, errorCode, fields}] and a
 * failed OAuth call with {error, error_description}; a proxy or an outage may
 * answer with HTML or nothing. This module turns any of those into one
 * sf_api_error, and ONE table decides, from (HTTP status, errorCode), what
 * the connector does: which gRPC status the caller sees, whether to retry
 * with backoff, whether to fetch a new token and retry once. The same table
 * is printed as Markdown into ERRORS.md (a unit test keeps them equal).
 *
 * It also holds sf_err, the caller-owned error buffer every salesforce_core
 * function fills when it fails.
 */
#ifndef SF_ERRORS_H
#define SF_ERRORS_H

#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>

/* Filled by any salesforce_core function that fails; always NUL-terminated. */
typedef struct sf_err {
    char msg[512];
} sf_err;

/* printf into err->msg (err may be NULL); returns -1 so callers can `return sf_err_set(..)`. */
int sf_err_set(sf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One failed Salesforce call, as parsed from its HTTP status and body. */
typedef struct sf_api_error {
    int http_status;     /* 0 = no HTTP answer (connection refused, timeout, TLS) */
    char error_code[64]; /* errorCode / OAuth "error"; "" when the body had none */
    char message[512];   /* message / error_description / start of a non-JSON body */
    char fields[256];    /* the "fields" array joined with ", " ("" when none) */
    int n_errors;        /* how many entries the error array held (first one is kept) */
} sf_api_error;

/*
 * Reads an error response. Never fails: a body that is not a Salesforce error
 * (HTML, empty, garbage, truncated JSON) leaves error_code "" and puts a
 * printable, truncated prefix of the body into message, so the operator still
 * sees what came back. body may be NULL when len is 0.
 */
void sf_api_error_parse(int http_status, const char *body, size_t len, sf_api_error *out);

/* What the connector does about an error. */
typedef enum {
    SF_ACTION_FAIL = 0,    /* give up at once with the mapped status */
    SF_ACTION_RETRY,       /* transient: retry with backoff, then fail with the mapped status */
    SF_ACTION_REAUTH_ONCE, /* fetch a new token and retry once, then fail */
} sf_action;

/* One row of the table. */
typedef struct sf_error_rule {
    int http_status;         /* 0 = any status */
    const char *error_code;  /* NULL = any code */
    grpc_status_code status; /* what the caller sees when the connector gives up */
    sf_action action;
    const char *why; /* one line for the operator */
} sf_error_rule;

/*
 * The rule for an error: an exact (status, code) row first, then a row for
 * the code with any status, then a row for the status with any code, then
 * the catch-all for the status class (5xx / 4xx / no answer). Never NULL.
 */
const sf_error_rule *sf_error_classify(const sf_api_error *e);

/*
 * The gRPC status message for a failure we give up on:
 *   "salesforce REQUEST_LIMIT_EXCEEDED (HTTP 403): TotalRequests Limit exceeded."
 *   "salesforce HTTP 503: Service Unavailable"
 *   "salesforce: no answer: Connection refused"
 * with " [fields: Name, Type]" appended when Salesforce named fields.
 * Always NUL-terminated; truncated to n.
 */
void sf_error_status_message(const sf_api_error *e, char *buf, size_t n);

/* The rules, in lookup order, for documentation and tests. */
const sf_error_rule *sf_error_rules(size_t *n);

/* The table as Markdown (what ERRORS.md must contain). Caller frees. NULL on OOM. */
char *sf_errors_markdown(void);

/*
 * Per-record outcomes of sObject Collections calls. A record-level failure
 * never fails the batch; a few statusCodes mean "nothing to do" rather than
 * "refused" for the operation at hand (adding someone who is already a
 * campaign member, deleting a record that is already deleted).
 */
typedef enum {
    SF_OP_CREATE = 0, /* POST composite/sobjects: success -> CREATED */
    SF_OP_ADD_MEMBER, /* POST of CampaignMember rows: success -> ADDED */
    SF_OP_UPDATE,     /* PATCH composite/sobjects: success -> UPDATED */
    SF_OP_UPSERT,     /* PATCH composite/sobjects/{type}/{field}: created flag picks */
    SF_OP_DELETE,     /* DELETE composite/sobjects?ids=: success -> DELETED */
} sf_op;

/* True when a failed record with statusCode under op counts as SKIPPED, not FAILED. */
bool sf_record_failure_is_skip(sf_op op, const char *status_code);

#endif
