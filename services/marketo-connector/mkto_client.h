/*
 * The Marketo connector's one way to reach Marketo: the Identity token
 * (client credentials, cached until shortly before expires_in, fetched again
 * once on 601/602), a slot from the instance's shared budget in Redis before
 * every attempt (mkto_budget.h), the envelope read and classified by
 * marketo_core's one error table (mkto_errors.h: 606/615/604/608/611/713 and
 * connection errors back off and retry, 607 blocks every replica until the
 * quota resets), a long GET sent as POST with _method=GET, and per-endpoint
 * call counts for GetUsage.
 *
 * Thread-safe: one mkto_client serves every handler thread.
 */
#ifndef MKTO_CLIENT_H
#define MKTO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "mkto_budget.h"
#include "mkto_json.h"
#include "mkto_query.h"

typedef struct mkto_client_config {
    const char *rest_url;     /* REST base, e.g. "https://123-ABC-456.mktorest.com" */
    const char *identity_url; /* Identity base (default rest_url + "/identity") */
    const char *client_id;
    const char *client_secret;
    long timeout_ms;   /* per HTTP attempt (0 = http default) */
    int calls_per_20s; /* shared budget, see mkto_budget_config */
    int max_concurrent;
    int64_t daily_quota;
    int64_t bulk_poll_ms; /* the handlers' bulk export: first wait between status polls */
} mkto_client_config;

typedef struct mkto_client mkto_client;

/* A failure the handler returns as is: code is a grpc_status_code. */
typedef struct mkto_failure {
    int code;
    int vendor_code; /* Marketo's code when Marketo refused the call, else 0 */
    char msg[600];
} mkto_failure;

/* The caller's limits for one piece of work: an absolute deadline
 * (http_now_ms clock) and an optional cancellation probe. */
typedef struct mkto_ctx {
    int64_t deadline_ms;
    int (*cancelled)(void *ud);
    void *ud;
} mkto_ctx;

/* Copies what it needs from cfg. NULL with msg set when cfg is unusable. */
mkto_client *mkto_client_new(const mkto_client_config *cfg, char *msg, size_t msg_len);
void mkto_client_free(mkto_client *c);

/*
 * One REST call. path starts with "/rest/..."; params are its query
 * parameters (may be NULL); json_body makes it a POST with Content-Type
 * application/json (NULL: a GET, sent as a form POST with _method=GET when
 * the URL would be too long for Marketo, or after a 414). endpoint labels
 * the call for metrics and GetUsage ("GET /rest/v1/leads.json"). Every
 * request campsync sends is safe to repeat (reads, status and membership
 * changes, createOrUpdate under a per-email lock), so any attempt that got
 * no usable answer is retried.
 *
 * Returns 0 with *env holding a successful envelope (clear it with
 * mkto_envelope_clear), or a gRPC code with f filled ("marketo 1003: ...")
 * and *env cleared.
 */
int mkto_client_call(mkto_client *c, const mkto_ctx *ctx, const char *path,
                     const mkto_params *params, const char *json_body, const char *endpoint,
                     mkto_envelope *env, mkto_failure *f);

/*
 * A GET whose answer is a file, not an envelope (a bulk extract's
 * file.json): the same token, budget, retries and error mapping as
 * mkto_client_call, and an envelope in answer is Marketo refusing. Returns 0
 * with *body (malloc'd, NUL-terminated; the caller frees) and *len, or a
 * gRPC code with f filled. max_bytes bounds the file (0 = the HTTP default).
 */
int mkto_client_download(mkto_client *c, const mkto_ctx *ctx, const char *path,
                         const char *endpoint, size_t max_bytes, char **body, size_t *len,
                         mkto_failure *f);

/* GetUsage: calls counted today across replicas, the quota (0 = unknown),
 * when it resets, and this process's calls per endpoint (fn once per label). */
void mkto_client_usage(mkto_client *c, int64_t *used, int64_t *limit, int64_t *resets_at_ms,
                       void (*fn)(void *ud, const char *endpoint, int64_t calls), void *ud);

/* Fills f (returns code). */
int mkto_fail(mkto_failure *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
