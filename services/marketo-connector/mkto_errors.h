/*
 * Marketo errors, classified in ONE table. Marketo answers almost everything
 * with HTTP 200 and puts the outcome in the body: request-level codes (6xx =
 * not executed, 7xx = bad parameters, a few 1xxx) in "errors", and
 * record-level reasons (1xxx) inside each result. A few failures are plain
 * HTTP (401 from Identity, 413, 414, 5xx, no answer at all). Each row says
 * what the connector does about one code: the gRPC status the caller sees
 * once the connector gives up, whether to fetch a new token and retry once,
 * back off and retry, wait for the daily quota, or resend a long GET as POST;
 * and, for record codes, the per-record outcome (1037 "already in or past
 * this status" is SKIPPED, never a failure). ERRORS.md is printed from the
 * same rows (a unit test keeps them equal).
 *
 * Also holds mkto_err, the caller-owned error buffer every marketo_core
 * function fills when it fails.
 */
#ifndef MKTO_ERRORS_H
#define MKTO_ERRORS_H

#include "campsync/v1/common.pb-c.h"

#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Filled by any marketo_core function that fails; always NUL-terminated. */
typedef struct mkto_err {
    char msg[512];
} mkto_err;

/* printf into err->msg (err may be NULL); returns -1. */
int mkto_err_set(mkto_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef enum {
    MKTO_ACTION_FAIL = 0,    /* give up at once with the mapped status */
    MKTO_ACTION_REAUTH_ONCE, /* fetch a new token, retry once */
    MKTO_ACTION_RETRY,       /* back off and retry, then fail with the mapped status */
    MKTO_ACTION_WAIT_QUOTA,  /* daily quota: refuse work until mkto_quota_reset_ms() */
    MKTO_ACTION_USE_POST,    /* URI too long: resend as POST with _method=GET */
} mkto_action;

/* The batch operation a record-level code arrived in. */
typedef enum {
    MKTO_OP_ANY = 0,
    MKTO_OP_STATUS, /* programs/{id}/members/status.json */
    MKTO_OP_REMOVE, /* programs/{id}/members/delete.json */
    MKTO_OP_UPSERT, /* leads.json createOrUpdate */
} mkto_op;

/* Row keys for code classes and HTTP-level failures. */
enum {
    MKTO_CLASS_6XX = -6,  /* other 6xx codes */
    MKTO_CLASS_7XX = -7,  /* other 7xx codes */
    MKTO_CLASS_1XXX = -1, /* other 1xxx codes */
};

typedef struct mkto_error_rule {
    int http_status;         /* > 0: an HTTP-level row (code 0); 0: a Marketo code row */
    int code;                /* Marketo code, or a MKTO_CLASS_* row; 0 for HTTP rows */
    mkto_op op;              /* record rows: the operation they apply to (ANY = all) */
    grpc_status_code status; /* request-level: what the caller sees when we give up */
    mkto_action action;
    Campsync__V1__Outcome outcome; /* record-level outcome (FAILED unless said otherwise) */
    const char *why;
} mkto_error_rule;

/* Request-level rule for a Marketo code in "errors" (never NULL). */
const mkto_error_rule *mkto_error_classify(int code);
/*
 * Rule for an HTTP-level failure: http_status 0 = no answer (connection
 * refused, reset, timeout); otherwise a non-200 status. Never NULL.
 */
const mkto_error_rule *mkto_http_classify(int http_status);
/* Per-record outcome of a reason code under op (FAILED for unknown codes). */
Campsync__V1__Outcome mkto_record_outcome(mkto_op op, int code);

/* "marketo 606: Max rate limit '100' exceeded with in '20' secs" (truncated to n). */
void mkto_status_message(int code, const char *message, char *buf, size_t n);

/*
 * When the daily quota (607) resets: the next midnight in US Central time
 * (America/Chicago, so 05:00 UTC in summer and 06:00 UTC in winter, US DST
 * rules since 2007) strictly after now_ms. Marketo documents the reset as
 * "12:00AM CST" daily.
 */
int64_t mkto_quota_reset_ms(int64_t now_ms);

const mkto_error_rule *mkto_error_rules(size_t *n);
/* The table as Markdown (what ERRORS.md must contain). Caller frees; NULL on OOM. */
char *mkto_errors_markdown(void);

#endif
