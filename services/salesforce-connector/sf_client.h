/*
 * The Salesforce connector's one way to reach Salesforce: OAuth (client
 * credentials or JWT bearer), the cached token refreshed by one caller at a
 * time on 401 INVALID_SESSION_ID (then the call is retried once), retries of
 * transient failures with backoff inside the caller's deadline, the org's
 * daily API usage read from Sforce-Limit-Info and shared with every replica
 * through Redis, and the mapping of any failure to a gRPC status with a
 * message a human can act on (one table: sf_errors.h).
 *
 * Thread-safe: one sf_client serves every handler thread.
 */
#ifndef SF_CLIENT_H
#define SF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "sf_json.h"
#include "soql.h"

typedef struct sf_client_config {
    const char *login_url;   /* "https://login.salesforce.com" (no trailing '/') */
    const char *api_version; /* "v60.0" */
    const char *client_id;
    const char *client_secret; /* client-credentials flow, or */
    const char *jwt_key_pem;   /* JWT bearer flow: RS256 private key (PEM text) */
    const char *username;      /* JWT subject */
    double limit_share_pct;    /* refuse new work at this share of the daily limit */
    long limit_recheck_ms;     /* a refusal based on a figure older than this lets one
                                  request through to learn the current usage */
    long timeout_ms;           /* per HTTP attempt (0 = http default) */
} sf_client_config;

typedef struct sf_client sf_client;

/* A failure the handler returns as is: code is a grpc_status_code. */
typedef struct sf_failure {
    int code;
    char msg[600];
} sf_failure;

/* Copies what it needs from cfg. NULL with msg set when cfg is unusable. */
sf_client *sf_client_new(const sf_client_config *cfg, char *msg, size_t msg_len);
void sf_client_free(sf_client *c);

const char *sf_client_api_version(const sf_client *c);

/*
 * Admission for new work: fails with RESOURCE_EXHAUSTED when the org's
 * daily usage (the latest figure any replica saw) is at or above the
 * configured share. The window is rolling, so usage also falls: a figure
 * older than limit_recheck_ms no longer refuses, and the next response
 * brings a fresh one. Handlers call it once, before their first request.
 */
int sf_client_admit(sf_client *c, sf_failure *f);

/*
 * One REST request. path starts with "/services/..." and is relative to the
 * instance URL (nextRecordsUrl values are such paths). idempotent: whether a
 * request that may have reached Salesforce can be sent again (reads,
 * updates, upserts, deletes: yes; creates: only when it surely was not
 * sent). On 2xx returns 0 with *resp filled (free with http_response_free);
 * otherwise returns the gRPC status code with f filled and *resp empty.
 */
int sf_client_request(sf_client *c, http_method method, const char *path, const char *body,
                      const char *endpoint, bool idempotent, int64_t deadline_ms,
                      http_response *resp, sf_failure *f);

/* Called for each page of a query; return 0 to go on, else a gRPC code
 * (with f filled) to stop. */
typedef int (*sf_page_fn)(void *ud, const sf_page *page, sf_failure *f);

/* Runs a query (queryAll when all) and feeds every page to fn, following
 * nextRecordsUrl until done. Returns 0 or the gRPC code of the failure. */
int sf_client_query(sf_client *c, const soql *q, bool all, int64_t deadline_ms, sf_page_fn fn,
                    void *ud, sf_failure *f);

/* The integration user's id (from the token's identity URL); "" when the
 * token did not name it. Fetches a token if there is none. */
int sf_client_user_id(sf_client *c, char *out, size_t n, int64_t deadline_ms, sf_failure *f);

/* Latest known daily usage (0/0 when unknown) and this process's calls per
 * endpoint: fn is called once per endpoint label. */
void sf_client_usage(sf_client *c, int64_t *used, int64_t *limit,
                     void (*fn)(void *ud, const char *endpoint, int64_t calls), void *ud);

/* Fills f (returns code) for a failure that never reached Salesforce. */
int sf_fail(sf_failure *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
