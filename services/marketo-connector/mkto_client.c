/*
 * mkto_client: Identity token, shared budget, retries and error mapping
 * around every Marketo REST call (see mkto_client.h for the contract).
 *
 * Tokens: one cached token, guarded by a mutex held while a new one is
 * fetched, so concurrent callers that all see 601/602 cause one fetch: each
 * remembers the generation of the token it used and only a caller whose
 * token is still current fetches again.
 *
 * Attempts: each attempt takes a budget slot first and returns it when the
 * answer is in, so the slot count is the number of calls in flight at
 * Marketo. The retry loop is ours rather than http_do_retry's because the
 * slot must be taken before every attempt and Marketo's verdict sits in the
 * body of an HTTP 200.
 */
#include "mkto_client.h"

#include <grpc/status.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "metrics/metrics.h"

#define MKTO_MAX_ENDPOINTS 32
#define MKTO_MAX_ATTEMPTS 8
/* Refresh the token this long before Marketo says it expires (capped at a
 * quarter of its life for short-lived tokens). */
#define MKTO_TOKEN_MARGIN_S 60

struct mkto_client {
    char *rest_url, *identity_url, *client_id, *client_secret;
    long timeout_ms;
    mkto_budget *budget;

    pthread_mutex_t token_mu; /* held while fetching: one refresh at a time */
    char *token;
    int64_t token_refresh_at; /* http_now_ms clock */
    uint64_t token_gen;

    pthread_mutex_t count_mu;
    struct {
        char name[96];
        int64_t calls;
    } endpoints[MKTO_MAX_ENDPOINTS];
    int n_endpoints;
};

int mkto_fail(mkto_failure *f, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->code = code;
    f->vendor_code = 0;
    return code;
}

/* The REST host: names the instance whose budget the replicas share. */
static void instance_scope(const char *url, char *out, size_t n)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t len = strcspn(h, "/?#");
    char host[160];
    snprintf(host, sizeof host, "%.*s", (int)(len < sizeof host ? len : sizeof host - 1), h);
    for (char *p = host; *p; p++)
        if (*p == '{' || *p == '}')
            *p = '_';
    snprintf(out, n, "marketo:%s", host);
}

mkto_client *mkto_client_new(const mkto_client_config *cfg, char *msg, size_t msg_len)
{
    if (!cfg->rest_url || !cfg->rest_url[0]) {
        snprintf(msg, msg_len, "CAMPSYNC_MARKETO_URL (the REST base) is required");
        return NULL;
    }
    if (!cfg->client_id || !cfg->client_id[0] || !cfg->client_secret || !cfg->client_secret[0]) {
        snprintf(msg, msg_len,
                 "CAMPSYNC_MARKETO_CLIENT_ID and CAMPSYNC_MARKETO_CLIENT_SECRET_FILE are required");
        return NULL;
    }
    char scope[200];
    instance_scope(cfg->rest_url, scope, sizeof scope);
    long lease = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    mkto_budget_config bc = {.scope = scope,
                             .calls_per_20s = cfg->calls_per_20s,
                             .max_concurrent = cfg->max_concurrent,
                             .daily_quota = cfg->daily_quota,
                             .lease_ms = (int)(lease + 5000)};
    mkto_budget *b = mkto_budget_new(&bc, msg, msg_len);
    if (!b)
        return NULL;
    mkto_client *c = calloc(1, sizeof *c);
    if (!c) {
        mkto_budget_free(b);
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    c->budget = b;
    c->rest_url = strdup(cfg->rest_url);
    if (cfg->identity_url && cfg->identity_url[0])
        c->identity_url = strdup(cfg->identity_url);
    else if (asprintf(&c->identity_url, "%s/identity", cfg->rest_url) < 0)
        c->identity_url = NULL;
    c->client_id = strdup(cfg->client_id);
    c->client_secret = strdup(cfg->client_secret);
    c->timeout_ms = cfg->timeout_ms;
    pthread_mutex_init(&c->token_mu, NULL);
    pthread_mutex_init(&c->count_mu, NULL);
    if (!c->rest_url || !c->identity_url || !c->client_id || !c->client_secret) {
        snprintf(msg, msg_len, "out of memory");
        mkto_client_free(c);
        return NULL;
    }
    return c;
}

void mkto_client_free(mkto_client *c)
{
    if (!c)
        return;
    free(c->rest_url);
    free(c->identity_url);
    free(c->client_id);
    if (c->client_secret) {
        memset(c->client_secret, 0, strlen(c->client_secret));
        free(c->client_secret);
    }
    free(c->token);
    mkto_budget_free(c->budget);
    pthread_mutex_destroy(&c->token_mu);
    pthread_mutex_destroy(&c->count_mu);
    free(c);
}

/* ---- usage ---- */

static void count_endpoint(mkto_client *c, const char *endpoint)
{
    pthread_mutex_lock(&c->count_mu);
    int i = 0;
    while (i < c->n_endpoints && strcmp(c->endpoints[i].name, endpoint) != 0)
        i++;
    if (i == c->n_endpoints && i < MKTO_MAX_ENDPOINTS) {
        snprintf(c->endpoints[i].name, sizeof c->endpoints[i].name, "%s", endpoint);
        c->n_endpoints++;
    }
    if (i < c->n_endpoints)
        c->endpoints[i].calls++;
    pthread_mutex_unlock(&c->count_mu);
}

void mkto_client_usage(mkto_client *c, int64_t *used, int64_t *limit, int64_t *resets_at_ms,
                       void (*fn)(void *ud, const char *endpoint, int64_t calls), void *ud)
{
    if (mkto_budget_today(c->budget, used, limit, resets_at_ms) != 0)
        metrics_redis_error("marketo_usage_read");
    pthread_mutex_lock(&c->count_mu);
    for (int i = 0; i < c->n_endpoints; i++)
        fn(ud, c->endpoints[i].name, c->endpoints[i].calls);
    pthread_mutex_unlock(&c->count_mu);
}

/* ---- tokens ---- */

/* Fetches a token; token_mu held. The secret travels in the query string
 * (Marketo's documented form): the URL is never logged. */
static int fetch_token(mkto_client *c, const mkto_ctx *ctx, mkto_failure *f)
{
    char base[1024];
    snprintf(base, sizeof base, "%s/oauth/token", c->identity_url);
    http_url u;
    http_url_init(&u, base);
    http_url_param(&u, "grant_type", "client_credentials");
    http_url_param(&u, "client_id", c->client_id);
    http_url_param(&u, "client_secret", c->client_secret);
    if (!http_url_str(&u)) {
        http_url_free(&u);
        return mkto_fail(f, GRPC_STATUS_INTERNAL, "marketo identity: out of memory");
    }
    static const char *const headers[] = {"Accept: application/json", NULL};
    http_request rq = {.method = HTTP_GET,
                       .url = http_url_str(&u),
                       .headers = headers,
                       .endpoint = "marketo.identity.token",
                       .timeout_ms = c->timeout_ms,
                       .deadline_ms = ctx->deadline_ms};
    http_retry_policy pol = {.max_attempts = 4};
    http_response resp = {0};
    http_error he = {0};
    int rc = http_do_retry(&rq, &pol, &resp, &he);
    if (u.buf)
        memset(u.buf, 0, u.len);
    http_url_free(&u);
    count_endpoint(c, "GET /identity/oauth/token");
    if (rc != 0) {
        http_response_free(&resp);
        int code =
            he.kind == HTTP_ERR_DEADLINE ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_UNAVAILABLE;
        return mkto_fail(f, code, "marketo identity: no answer from %s after %d attempt(s): %s",
                         c->identity_url, he.attempts, he.msg);
    }
    mkto_token tok = {0};
    mkto_err me = {{0}};
    int parsed = mkto_token_parse(resp.body, resp.body_len, &tok, &me);
    int status = resp.status;
    http_response_free(&resp);
    if (status != 200) {
        mkto_token_clear(&tok);
        const mkto_error_rule *rule = mkto_http_classify(status);
        return mkto_fail(f, status >= 500 ? GRPC_STATUS_UNAVAILABLE : (int)rule->status,
                         "marketo identity answered HTTP %d (%s); check CAMPSYNC_MARKETO_CLIENT_ID "
                         "and CAMPSYNC_MARKETO_CLIENT_SECRET_FILE",
                         status, me.msg[0] ? me.msg : "no details");
    }
    if (parsed != 0) {
        mkto_token_clear(&tok);
        return mkto_fail(f, GRPC_STATUS_UNAVAILABLE, "marketo identity answer unreadable: %s",
                         me.msg);
    }
    int64_t life = tok.expires_in_s;
    int64_t margin = life / 4 < MKTO_TOKEN_MARGIN_S ? life / 4 : MKTO_TOKEN_MARGIN_S;
    free(c->token);
    c->token = strdup(tok.access_token ? tok.access_token : "");
    c->token_refresh_at = http_now_ms() + (life - margin) * 1000;
    c->token_gen++;
    mkto_token_clear(&tok);
    if (!c->token)
        return mkto_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
    char life_s[24];
    snprintf(life_s, sizeof life_s, "%lld", (long long)life);
    log_kv(LOG_INFO, "marketo token fetched", "expires_in_s", life_s, NULL);
    return 0;
}

/* Copies the current token, fetching one when there is none, it is about to
 * expire, or stale_gen (the generation Marketo refused) is still current. */
static int take_token(mkto_client *c, uint64_t stale_gen, const mkto_ctx *ctx, char **token,
                      uint64_t *gen, mkto_failure *f)
{
    pthread_mutex_lock(&c->token_mu);
    int rc = 0;
    if (!c->token || http_now_ms() >= c->token_refresh_at ||
        (stale_gen && stale_gen == c->token_gen))
        rc = fetch_token(c, ctx, f);
    if (rc == 0) {
        *token = strdup(c->token);
        *gen = c->token_gen;
        if (!*token)
            rc = mkto_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
    }
    pthread_mutex_unlock(&c->token_mu);
    return rc;
}

/* ---- requests ---- */

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Back-off before retry n (0-based) after Marketo code `code` (0: HTTP or
 * transport): full jitter over an exponential ceiling, with a floor for
 * 606 (the window needs time to slide) and a short one for 615. */
static int64_t backoff_ms(int n, int code)
{
    int64_t base = code == 606 ? 2000 : code == 615 ? 100 : 250;
    int64_t cap = code == 606 ? 20000 : 8000;
    int64_t ceil_ms = base << (n < 6 ? n : 6);
    if (ceil_ms > cap)
        ceil_ms = cap;
    int64_t floor_ms = code == 606 ? 1000 : code == 615 ? 50 : 100;
    return floor_ms + random() % (ceil_ms > floor_ms ? ceil_ms - floor_ms + 1 : 1);
}

static int ctx_cancelled(const mkto_ctx *ctx)
{
    return ctx->cancelled && ctx->cancelled(ctx->ud);
}

/* One attempt: budget slot, HTTP, slot returned. 0 = an HTTP answer. */
static int attempt(mkto_client *c, const mkto_ctx *ctx, const char *url, const char *token,
                   const char *body, bool form, const char *endpoint, size_t max_bytes,
                   http_response *resp, http_error *he, mkto_failure *f)
{
    mkto_lease lease;
    mkto_budget_denial d;
    int rc = mkto_budget_acquire(c->budget, ctx->deadline_ms, ctx->cancelled, ctx->ud, &lease, &d);
    if (rc != 0)
        return mkto_fail(f, rc, "%s", d.msg);
    char auth[600];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *headers[] = {
        auth, max_bytes ? "Accept: text/csv, application/json" : "Accept: application/json",
        body ? (form ? "Content-Type: application/x-www-form-urlencoded"
                     : "Content-Type: application/json")
             : NULL,
        NULL};
    http_request rq = {.method = body ? HTTP_POST : HTTP_GET,
                       .url = url,
                       .headers = headers,
                       .body = body,
                       .body_len = body ? strlen(body) : 0,
                       .endpoint = endpoint,
                       .timeout_ms = c->timeout_ms,
                       .deadline_ms = ctx->deadline_ms,
                       .max_response_bytes = max_bytes};
    memset(resp, 0, sizeof *resp);
    rc = http_do(&rq, resp, he);
    mkto_budget_release(c->budget, &lease);
    count_endpoint(c, endpoint);
    memset(auth, 0, sizeof auth);
    return rc == 0 ? 0 : -1;
}

/* A JSON answer (an envelope) rather than a file? By content type, else by
 * its first byte. */
static bool is_json(const http_response *resp)
{
    const char *ct = http_response_header(resp, "Content-Type");
    if (ct)
        return strstr(ct, "json") != NULL;
    return resp->body_len > 0 && resp->body[0] == '{';
}

/* Builds the target (GET, or form POST with _method=GET when the URL would
 * pass Marketo's limit or force_post is set). */
static int build(mkto_client *c, const char *path, const mkto_params *params, bool force_post,
                 mkto_request *out, mkto_failure *f)
{
    size_t base = strlen(c->rest_url);
    size_t max = force_post || base >= MKTO_MAX_URL ? 0 : MKTO_MAX_URL - base;
    mkto_err me = {{0}};
    mkto_params *none = params ? NULL : mkto_params_new();
    if (!params && !none)
        return mkto_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
    int rc = mkto_request_build(path, params ? params : none, max, out, &me);
    mkto_params_free(none);
    if (rc != 0)
        return mkto_fail(f, GRPC_STATUS_INTERNAL, "marketo request: %s", me.msg);
    return 0;
}

/* raw != NULL: a download (see mkto_client_download); max_bytes bounds it. */
static int call(mkto_client *c, const mkto_ctx *ctx, const char *path, const mkto_params *params,
                const char *json_body, const char *endpoint, mkto_envelope *env, char **raw,
                size_t *raw_len, size_t max_bytes, mkto_failure *f)
{
    memset(env, 0, sizeof *env);
    mkto_request req = {0};
    char *url = NULL;
    int rc = build(c, path, params, false, &req, f);
    uint64_t stale = 0;
    bool reauthed = false;
    int retries = 0;
    while (rc == 0) {
        if (ctx_cancelled(ctx)) {
            rc = mkto_fail(f, GRPC_STATUS_CANCELLED, "marketo: the call was cancelled");
            break;
        }
        free(url);
        if (asprintf(&url, "%s%s", c->rest_url, req.target) < 0) {
            url = NULL;
            rc = mkto_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
            break;
        }
        char *token = NULL;
        uint64_t gen = 0;
        rc = take_token(c, stale, ctx, &token, &gen, f);
        if (rc != 0)
            break;
        http_response resp;
        http_error he = {0};
        const char *body = req.post_form ? req.form_body : json_body;
        rc = attempt(c, ctx, url, token, body, req.post_form, endpoint, raw ? max_bytes : 0, &resp,
                     &he, f);
        free(token);
        int code = 0; /* Marketo code that decides a retry's back-off */
        const mkto_error_rule *rule = NULL;
        char why[sizeof f->msg];
        if (rc > 0) /* no budget slot: f is set */
            break;
        if (rc < 0) {
            rule = mkto_http_classify(0);
            if (he.kind == HTTP_ERR_DEADLINE) {
                rc = mkto_fail(f, GRPC_STATUS_DEADLINE_EXCEEDED,
                               "marketo: no answer before the call's deadline: %s", he.msg);
                break;
            }
            snprintf(why, sizeof why, "marketo: no answer: %s", he.msg);
        } else if (resp.status != 200) {
            rule = mkto_http_classify(resp.status);
            snprintf(why, sizeof why, "marketo answered HTTP %d", resp.status);
            http_response_free(&resp);
            if (rule->action == MKTO_ACTION_USE_POST && !req.post_form && !json_body) {
                mkto_request_clear(&req);
                rc = build(c, path, params, true, &req, f);
                continue;
            }
        } else if (raw && !is_json(&resp)) {
            *raw = resp.body;
            *raw_len = resp.body_len;
            resp.body = NULL;
            http_response_free(&resp);
            rc = 0;
            break;
        } else {
            mkto_err me = {{0}};
            int prc = mkto_envelope_parse(resp.body, resp.body_len, env, &me);
            http_response_free(&resp);
            if (prc != 0) {
                /* A 200 that is not an envelope: cut or corrupted on the way. */
                rule = mkto_http_classify(0);
                snprintf(why, sizeof why, "marketo answer unreadable: %s", me.msg);
            } else if (env->success && raw) {
                mkto_envelope_clear(env);
                rc = mkto_fail(f, GRPC_STATUS_INTERNAL,
                               "marketo answered %s with JSON where a file was expected", endpoint);
                break;
            } else if (env->success) {
                rc = 0;
                break;
            } else {
                code = env->n_errors > 0 ? env->errors[0].code : 0;
                rule = mkto_error_classify(code);
                mkto_status_message(code, env->n_errors > 0 ? env->errors[0].message : "", why,
                                    sizeof why);
                char code_s[16];
                snprintf(code_s, sizeof code_s, "%d", code);
                metrics_vendor_error(endpoint, code_s);
                mkto_envelope_clear(env);
                if (rule->action == MKTO_ACTION_REAUTH_ONCE && !reauthed) {
                    reauthed = true;
                    stale = gen;
                    continue;
                }
                if (rule->action == MKTO_ACTION_WAIT_QUOTA) {
                    int64_t reset = mkto_quota_reset_ms(mkto_wall_ms());
                    mkto_budget_block_until(c->budget, reset);
                    time_t s = (time_t)(reset / 1000);
                    struct tm tm;
                    char when[40];
                    gmtime_r(&s, &tm);
                    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
                    rc = mkto_fail(f, rule->status,
                                   "%s; the daily quota resets at %s (midnight US Central)", why,
                                   when);
                    break;
                }
            }
        }
        if (rule->action != MKTO_ACTION_RETRY || retries + 1 >= MKTO_MAX_ATTEMPTS) {
            rc = mkto_fail(f, rule->status, "%s%s", why,
                           rule->action == MKTO_ACTION_RETRY ? " (gave up after retries)" : "");
            f->vendor_code = code;
            break;
        }
        int64_t wait = backoff_ms(retries, code);
        if (http_now_ms() + wait >= ctx->deadline_ms) {
            rc = mkto_fail(f, rule->status, "%s (no time left to retry before the deadline)", why);
            break;
        }
        retries++;
        log_kv(LOG_DEBUG, "marketo call retried", "endpoint", endpoint, "why", why, NULL);
        sleep_ms(wait);
    }
    free(url);
    mkto_request_clear(&req);
    if (rc != 0)
        mkto_envelope_clear(env);
    return rc;
}

int mkto_client_call(mkto_client *c, const mkto_ctx *ctx, const char *path,
                     const mkto_params *params, const char *json_body, const char *endpoint,
                     mkto_envelope *env, mkto_failure *f)
{
    return call(c, ctx, path, params, json_body, endpoint, env, NULL, NULL, 0, f);
}

int mkto_client_download(mkto_client *c, const mkto_ctx *ctx, const char *path,
                         const char *endpoint, size_t max_bytes, char **body, size_t *len,
                         mkto_failure *f)
{
    mkto_envelope env;
    *body = NULL;
    *len = 0;
    int rc = call(c, ctx, path, NULL, NULL, endpoint, &env, body, len, max_bytes, f);
    mkto_envelope_clear(&env);
    return rc;
}
