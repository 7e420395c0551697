/*
 * HTTP for integration tests, and a campsync-sandbox of a test's own.
 *
 * Several suites talk to the sandbox over plain HTTP (its Marketo and
 * Salesforce simulators and its admin API) with libcurl; this is the one
 * client they share, plus starting and stopping a sandbox on free loopback
 * ports, and the few Marketo-sandbox calls every Marketo suite makes.
 * Like the rest of tests/support, nothing here asserts: calls return -1 or
 * NULL (saying why on stderr) and the test asserts on that.
 */
#ifndef CAMPSYNC_TS_HTTP_H
#define CAMPSYNC_TS_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "ts.h"

/* An answer. Free with ts_http_res_free. */
typedef struct ts_http_res {
    long status;                 /* HTTP status; 0 when the transport failed */
    const char *transport_error; /* why, when status is 0 (static text); else NULL */
    char *body;                  /* NUL-terminated; NULL when the answer had no body */
    size_t len;
    json_t *json;  /* the body parsed as JSON; NULL when it is not JSON */
    char *headers; /* the answer's header lines as received (NULL when none) */
} ts_http_res;

/*
 * One request with a 30 s timeout. ctype NULL sends no Content-Type, bearer
 * NULL no Authorization; body (body_len bytes) may be NULL.
 */
ts_http_res ts_http(const char *method, const char *url, const char *ctype, const char *body,
                    size_t body_len, const char *bearer);
/* The same on base + path, with json_body (NUL-terminated) sent as application/json. */
ts_http_res ts_http_at(const char *method, const char *base, const char *path,
                       const char *json_body, const char *bearer);
void ts_http_res_free(ts_http_res *r);
/* The value of header `name` (any case; the first one) into out; -1 and "" when absent. */
int ts_http_header(const ts_http_res *r, const char *name, char *out, size_t cap);

/* ---- a sandbox of the test's own ---- */

typedef struct ts_sandbox_opts {
    int marketo, salesforce;  /* simulators to start (the admin API always is) */
    const char *dataset;      /* source-relative dataset file, or */
    const char *dataset_json; /* dataset text (written to the sandbox's dir) */
    int seed;                 /* --seed */
} ts_sandbox_opts;

typedef struct ts_sandbox {
    ts_proc *proc;
    char dir[512];
    char marketo[128], salesforce[128], admin[128]; /* base URLs; "" when not started */
    char token[200]; /* Marketo access token (ts_sandbox_marketo_token) */
} ts_sandbox;

/* Starts campsync-sandbox in a new temp dir and waits for its URLs (60 s at most). */
ts_sandbox *ts_sandbox_start(const ts_sandbox_opts *o);
/*
 * SIGTERM, up to timeout_ms, then removes the dir and frees sb (NULL ok).
 * Returns 0 only when the sandbox exited with status 0 (under the sanitizers
 * a leak or an error at exit shows here); else prints its stderr, -1.
 */
int ts_sandbox_stop(ts_sandbox *sb, int timeout_ms);

/* An admin call that must answer 200 (else the answer goes to stderr, -1). */
int ts_sandbox_admin_ok(const ts_sandbox *sb, const char *method, const char *path,
                        const char *json_body);
/* One vendor's part of GET /admin/state ("marketo", "salesforce"); caller decrefs. */
json_t *ts_sandbox_state(const ts_sandbox *sb, const char *vendor);

/* A Marketo token for the sandbox's default client into sb->token. */
int ts_sandbox_marketo_token(ts_sandbox *sb);
/* Marketo envelopes: success is true; the first error code ("" when none). */
int ts_mkto_success(const ts_http_res *r);
const char *ts_mkto_error_code(const ts_http_res *r);

#endif
