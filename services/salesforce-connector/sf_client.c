/*
 * sf_client: OAuth, retries, the shared daily-limit guard and error mapping
 * around every Salesforce REST request (see sf_client.h for the contract).
 *
 * Tokens: one cached token, guarded by a mutex held while a new one is
 * fetched, so concurrent callers that all see 401 INVALID_SESSION_ID cause
 * one fetch: each remembers the generation of the token it used and only a
 * caller whose token is still current fetches again.
 *
 * Usage: every response's Sforce-Limit-Info is kept locally and written to
 * the Redis hash campsync:{salesforce}:api-usage, so every replica refuses
 * new work at the same point. Without Redis the local figure still guards.
 */
#include "sf_client.h"

#include <jwt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "redis/redis.h"
#include "sf_limits.h"

#define SF_MAX_ENDPOINTS 32
#define SF_USAGE_REFRESH_MS 1000
/* Extra reads of a query page whose answer was not JSON (cut or garbled). */
#define SF_UNREADABLE_RETRIES 2

struct sf_client {
    char *login_url, *api_version, *client_id, *client_secret, *jwt_key, *username;
    double limit_share_pct;
    long limit_recheck_ms;
    long timeout_ms;

    pthread_mutex_t token_mu; /* held while fetching: one refresh at a time */
    char *token, *instance_url, *user_id;
    uint64_t token_gen;

    pthread_mutex_t usage_mu;
    sf_api_usage usage;
    int64_t usage_at_ms;   /* wall-clock time of that figure (0 = none) */
    int64_t usage_read_ms; /* last time the shared figure was read from Redis */
    char usage_key[96];
    struct {
        char name[64];
        int64_t calls;
    } endpoints[SF_MAX_ENDPOINTS];
    int n_endpoints;
};

int sf_fail(sf_failure *f, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->code = code;
    return code;
}

static char *dup_or_null(const char *s)
{
    return s && s[0] ? strdup(s) : NULL;
}

sf_client *sf_client_new(const sf_client_config *cfg, char *msg, size_t msg_len)
{
    sf_err e = {{0}};
    if (!cfg->login_url || !cfg->client_id || !cfg->client_id[0]) {
        snprintf(msg, msg_len, "the Salesforce login URL and client id are required");
        return NULL;
    }
    if (soql_check_version(cfg->api_version, &e) != 0) {
        snprintf(msg, msg_len, "CAMPSYNC_SALESFORCE_API_VERSION: %s", e.msg);
        return NULL;
    }
    int has_secret = cfg->client_secret && cfg->client_secret[0];
    int has_jwt = cfg->jwt_key_pem && cfg->jwt_key_pem[0];
    if (has_secret == has_jwt) {
        snprintf(
            msg, msg_len,
            "give exactly one of CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE (client credentials) "
            "or CAMPSYNC_SALESFORCE_JWT_KEY_FILE with CAMPSYNC_SALESFORCE_USERNAME (JWT bearer)");
        return NULL;
    }
    if (has_jwt && !(cfg->username && cfg->username[0])) {
        snprintf(msg, msg_len, "CAMPSYNC_SALESFORCE_USERNAME is required with a JWT key");
        return NULL;
    }
    sf_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    c->login_url = strdup(cfg->login_url);
    c->api_version = strdup(cfg->api_version);
    c->client_id = strdup(cfg->client_id);
    c->client_secret = dup_or_null(cfg->client_secret);
    c->jwt_key = dup_or_null(cfg->jwt_key_pem);
    c->username = dup_or_null(cfg->username);
    c->limit_share_pct =
        cfg->limit_share_pct > 0 ? cfg->limit_share_pct : SF_LIMITS_DEFAULT_THRESHOLD_PCT;
    c->limit_recheck_ms = cfg->limit_recheck_ms > 0 ? cfg->limit_recheck_ms : 60000;
    c->timeout_ms = cfg->timeout_ms;
    pthread_mutex_init(&c->token_mu, NULL);
    pthread_mutex_init(&c->usage_mu, NULL);
    rds_err re = {0};
    if (rds_key(c->usage_key, sizeof c->usage_key, &re, "salesforce", "api-usage") != 0) {
        snprintf(msg, msg_len, "redis key: %s", re.msg);
        sf_client_free(c);
        return NULL;
    }
    return c;
}

void sf_client_free(sf_client *c)
{
    if (!c)
        return;
    free(c->login_url);
    free(c->api_version);
    free(c->client_id);
    free(c->client_secret);
    free(c->jwt_key);
    free(c->username);
    free(c->token);
    free(c->instance_url);
    free(c->user_id);
    pthread_mutex_destroy(&c->token_mu);
    pthread_mutex_destroy(&c->usage_mu);
    free(c);
}

const char *sf_client_api_version(const sf_client *c)
{
    return c->api_version;
}

/* ---- usage ---- */

static void count_endpoint(sf_client *c, const char *endpoint)
{
    pthread_mutex_lock(&c->usage_mu);
    int i = 0;
    while (i < c->n_endpoints && strcmp(c->endpoints[i].name, endpoint) != 0)
        i++;
    if (i == c->n_endpoints && i < SF_MAX_ENDPOINTS) {
        snprintf(c->endpoints[i].name, sizeof c->endpoints[i].name, "%s", endpoint);
        c->n_endpoints++;
    }
    if (i < c->n_endpoints)
        c->endpoints[i].calls++;
    pthread_mutex_unlock(&c->usage_mu);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_usage(sf_client *c, const http_response *resp)
{
    const char *h = http_response_header(resp, "Sforce-Limit-Info");
    sf_api_usage u;
    if (!h || sf_limits_parse(h, &u, NULL) != 0)
        return;
    int64_t at = wall_ms();
    pthread_mutex_lock(&c->usage_mu);
    if (at >= c->usage_at_ms) {
        c->usage = u;
        c->usage_at_ms = at;
    }
    pthread_mutex_unlock(&c->usage_mu);

    static const char *const no_labels[] = {NULL};
    metrics_family *used =
        metrics_gauge(metrics_default(), "campsync_salesforce_api_usage",
                      "Salesforce daily API calls used (Sforce-Limit-Info)", no_labels);
    metrics_family *limit =
        metrics_gauge(metrics_default(), "campsync_salesforce_api_limit",
                      "Salesforce daily API call limit (Sforce-Limit-Info)", no_labels);
    metrics_set(metrics_with(used, NULL), (double)u.used);
    metrics_set(metrics_with(limit, NULL), (double)u.limit);

    char used_s[24], limit_s[24], at_s[24];
    snprintf(used_s, sizeof used_s, "%lld", (long long)u.used);
    snprintf(limit_s, sizeof limit_s, "%lld", (long long)u.limit);
    snprintf(at_s, sizeof at_s, "%lld", (long long)at);
    rds_field_in fields[] = {{.name = "used", .value = used_s},
                             {.name = "limit", .value = limit_s},
                             {.name = "at", .value = at_s}};
    rds_err re = {0};
    if (rds_hset(c->usage_key, fields, 3, &re) != 0)
        metrics_redis_error("salesforce_usage_write");
}

/* The freshest usage: our own, or what another replica wrote to Redis
 * (whichever was observed last), with the time it was observed. */
static sf_api_usage current_usage(sf_client *c, int64_t *at_ms)
{
    int64_t now = http_now_ms();
    pthread_mutex_lock(&c->usage_mu);
    int refresh = now - c->usage_read_ms >= SF_USAGE_REFRESH_MS;
    if (refresh)
        c->usage_read_ms = now;
    pthread_mutex_unlock(&c->usage_mu);
    if (refresh) {
        rds_field *fields = NULL;
        size_t n = 0;
        rds_err re = {0};
        if (rds_hgetall(c->usage_key, &fields, &n, &re) == 0) {
            sf_api_usage shared = {0, 0};
            int64_t shared_at = 0;
            for (size_t i = 0; i < n; i++) {
                if (strcmp(fields[i].name, "used") == 0)
                    shared.used = strtoll(fields[i].value, NULL, 10);
                else if (strcmp(fields[i].name, "limit") == 0)
                    shared.limit = strtoll(fields[i].value, NULL, 10);
                else if (strcmp(fields[i].name, "at") == 0)
                    shared_at = strtoll(fields[i].value, NULL, 10);
            }
            rds_fields_free(fields, n);
            pthread_mutex_lock(&c->usage_mu);
            if (shared.limit > 0 && shared_at > c->usage_at_ms) {
                c->usage = shared;
                c->usage_at_ms = shared_at;
            }
            pthread_mutex_unlock(&c->usage_mu);
        } else {
            metrics_redis_error("salesforce_usage_read");
        }
    }
    pthread_mutex_lock(&c->usage_mu);
    sf_api_usage u = c->usage;
    if (at_ms)
        *at_ms = c->usage_at_ms;
    pthread_mutex_unlock(&c->usage_mu);
    return u;
}

int sf_client_admit(sf_client *c, sf_failure *f)
{
    int64_t at = 0;
    sf_api_usage u = current_usage(c, &at);
    if (sf_limits_must_refuse(&u, c->limit_share_pct) && wall_ms() - at < c->limit_recheck_ms)
        return sf_fail(f, GRPC_STATUS_RESOURCE_EXHAUSTED,
                       "salesforce daily API usage is %lld of %lld calls (%.1f%%), at or above "
                       "the %.0f%% share campsync may use (CAMPSYNC_SALESFORCE_LIMIT_SHARE); new "
                       "work resumes as the rolling 24-hour window frees calls",
                       (long long)u.used, (long long)u.limit, sf_limits_used_pct(&u),
                       c->limit_share_pct);
    return 0;
}

void sf_client_usage(sf_client *c, int64_t *used, int64_t *limit,
                     void (*fn)(void *ud, const char *endpoint, int64_t calls), void *ud)
{
    sf_api_usage u = current_usage(c, NULL);
    *used = u.used;
    *limit = u.limit;
    pthread_mutex_lock(&c->usage_mu);
    for (int i = 0; i < c->n_endpoints; i++)
        fn(ud, c->endpoints[i].name, c->endpoints[i].calls);
    pthread_mutex_unlock(&c->usage_mu);
}

/* ---- tokens ---- */

static char *form_escape_append(char *buf, const char *name, const char *value)
{
    char *enc = http_url_encode(value);
    char *out = NULL;
    if (enc && asprintf(&out, "%s%s%s=%s", buf ? buf : "", buf ? "&" : "", name, enc) < 0)
        out = NULL;
    free(enc);
    free(buf);
    return out;
}

static char *jwt_assertion(const sf_client *c, sf_failure *f)
{
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) != 0) {
        sf_fail(f, GRPC_STATUS_INTERNAL, "salesforce JWT: out of memory");
        return NULL;
    }
    int rc =
        jwt_add_grant(jwt, "iss", c->client_id) || jwt_add_grant(jwt, "sub", c->username) ||
        jwt_add_grant(jwt, "aud", c->login_url) ||
        jwt_add_grant_int(jwt, "exp", (long)time(NULL) + 180) ||
        jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)c->jwt_key, (int)strlen(c->jwt_key));
    if (rc == 0)
        out = jwt_encode_str(jwt);
    if (!out)
        sf_fail(f, GRPC_STATUS_FAILED_PRECONDITION,
                "salesforce JWT: cannot sign the assertion with CAMPSYNC_SALESFORCE_JWT_KEY_FILE "
                "(is it an RSA private key in PEM form?)");
    jwt_free(jwt);
    return out;
}

/* Fetches a token; token_mu held. */
static int fetch_token(sf_client *c, int64_t deadline_ms, sf_failure *f)
{
    char *body = NULL;
    if (c->jwt_key) {
        char *assertion = jwt_assertion(c, f);
        if (!assertion)
            return f->code;
        body =
            form_escape_append(NULL, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
        body = body ? form_escape_append(body, "assertion", assertion) : NULL;
        free(assertion);
    } else {
        body = form_escape_append(NULL, "grant_type", "client_credentials");
        body = body ? form_escape_append(body, "client_id", c->client_id) : NULL;
        body = body ? form_escape_append(body, "client_secret", c->client_secret) : NULL;
    }
    if (!body)
        return sf_fail(f, GRPC_STATUS_INTERNAL, "salesforce OAuth: out of memory");
    char url[1024];
    snprintf(url, sizeof url, "%s/services/oauth2/token", c->login_url);
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    http_request rq = {.method = HTTP_POST,
                       .url = url,
                       .headers = headers,
                       .body = body,
                       .body_len = strlen(body),
                       .endpoint = "salesforce.oauth2.token",
                       .timeout_ms = c->timeout_ms,
                       .deadline_ms = deadline_ms};
    http_response resp = {0};
    http_error he = {0};
    int rc = http_do_retry(&rq, NULL, &resp, &he);
    free(body);
    count_endpoint(c, "POST oauth2/token");
    if (rc != 0) {
        http_response_free(&resp);
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce OAuth: no answer from %s: %s",
                       c->login_url, he.msg);
    }
    if (resp.status != 200) {
        sf_api_error ae;
        sf_api_error_parse(resp.status, resp.body, resp.body_len, &ae);
        http_response_free(&resp);
        int code = ae.http_status >= 500 ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_UNAUTHENTICATED;
        if (c->jwt_key)
            return sf_fail(f, code,
                           "salesforce OAuth refused the JWT bearer assertion for user '%s' (HTTP "
                           "%d %s: %s); check CAMPSYNC_SALESFORCE_USERNAME (an active user "
                           "pre-authorized for the connected app), CAMPSYNC_SALESFORCE_CLIENT_ID "
                           "(the consumer key) and that CAMPSYNC_SALESFORCE_LOGIN_URL is the "
                           "login server the assertion's audience must name",
                           c->username, ae.http_status, ae.error_code, ae.message);
        return sf_fail(f, code,
                       "salesforce OAuth refused the credentials (HTTP %d %s: %s); check "
                       "CAMPSYNC_SALESFORCE_CLIENT_ID and CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE",
                       ae.http_status, ae.error_code, ae.message);
    }
    sf_token tok = {0};
    sf_err se = {{0}};
    rc = sf_token_parse(resp.body, resp.body_len, &tok, &se);
    http_response_free(&resp);
    if (rc != 0)
        return sf_fail(f, GRPC_STATUS_UNAVAILABLE, "salesforce OAuth answer unreadable: %s",
                       se.msg);
    free(c->token);
    free(c->instance_url);
    free(c->user_id);
    c->token = strdup(tok.access_token);
    c->instance_url = strdup(tok.instance_url);
    c->user_id = strdup(tok.user_id ? tok.user_id : "");
    c->token_gen++;
    sf_token_clear(&tok);
    log_kv(LOG_INFO, "salesforce token fetched", "instance_url", c->instance_url, NULL);
    return 0;
}

/* Copies the current token (fetching one when needed, or a new one when
 * stale_gen is still current). */
static int take_token(sf_client *c, uint64_t stale_gen, int64_t deadline_ms, char **token,
                      char **instance, uint64_t *gen, sf_failure *f)
{
    pthread_mutex_lock(&c->token_mu);
    int rc = 0;
    if (!c->token || (stale_gen && stale_gen == c->token_gen))
        rc = fetch_token(c, deadline_ms, f);
    if (rc == 0) {
        *token = strdup(c->token);
        *instance = strdup(c->instance_url);
        *gen = c->token_gen;
    }
    pthread_mutex_unlock(&c->token_mu);
    return rc;
}

int sf_client_user_id(sf_client *c, char *out, size_t n, int64_t deadline_ms, sf_failure *f)
{
    char *token = NULL, *instance = NULL;
    uint64_t gen = 0;
    int rc = take_token(c, 0, deadline_ms, &token, &instance, &gen, f);
    free(token);
    free(instance);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&c->token_mu);
    snprintf(out, n, "%s", c->user_id ? c->user_id : "");
    pthread_mutex_unlock(&c->token_mu);
    return 0;
}

/* ---- requests ---- */

struct classify_ctx {
    bool idempotent;
};

/* Retry rule on top of http's default: Salesforce's table decides for HTTP
 * answers; a request that may have been executed is retried only when it is
 * idempotent. */
static http_verdict classify(void *ud, int rc, const http_response *resp, const http_error *err,
                             long *delay_ms)
{
    const struct classify_ctx *cx = ud;
    if (rc != 0) {
        if (!cx->idempotent && err->kind != HTTP_ERR_CONNECT)
            return HTTP_RETRY_NO;
        return err->kind == HTTP_ERR_DEADLINE || err->kind == HTTP_ERR_USAGE ? HTTP_RETRY_NO
                                                                             : HTTP_RETRY_YES;
    }
    if (resp->status < 300)
        return HTTP_RETRY_NO;
    sf_api_error ae;
    sf_api_error_parse(resp->status, resp->body, resp->body_len, &ae);
    const sf_error_rule *rule = sf_error_classify(&ae);
    if (rule->action == SF_ACTION_RETRY)
        return HTTP_RETRY_YES;
    return HTTP_RETRY_NO;
}

int sf_client_request(sf_client *c, http_method method, const char *path, const char *body,
                      const char *endpoint, bool idempotent, int64_t deadline_ms,
                      http_response *resp, sf_failure *f)
{
    memset(resp, 0, sizeof *resp);
    uint64_t stale = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *token = NULL, *instance = NULL;
        uint64_t gen = 0;
        int rc = take_token(c, stale, deadline_ms, &token, &instance, &gen, f);
        if (rc != 0)
            return rc;
        char *url = NULL, *auth = NULL;
        if (asprintf(&url, "%s%s", instance, path) < 0)
            url = NULL;
        if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
            auth = NULL;
        free(token);
        free(instance);
        if (!url || !auth) {
            free(url);
            free(auth);
            return sf_fail(f, GRPC_STATUS_INTERNAL, "out of memory");
        }
        const char *headers[] = {auth, "Accept: application/json", "Content-Type: application/json",
                                 NULL};
        struct classify_ctx cx = {.idempotent = idempotent};
        http_retry_policy pol = {.max_attempts = 5, .classify = classify, .classify_ud = &cx};
        http_request rq = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .endpoint = endpoint,
                           .timeout_ms = c->timeout_ms,
                           .deadline_ms = deadline_ms,
                           .fresh_connection = !idempotent};
        http_error he = {0};
        rc = http_do_retry(&rq, &pol, resp, &he);
        free(url);
        free(auth);
        count_endpoint(c, endpoint);
        if (rc != 0) {
            http_response_free(resp);
            int code = he.kind == HTTP_ERR_DEADLINE ? GRPC_STATUS_DEADLINE_EXCEEDED
                                                    : GRPC_STATUS_UNAVAILABLE;
            /* A write that reached Salesforce may have been applied: say so,
             * since sending it again could create duplicates. */
            int maybe_applied = !idempotent && he.kind != HTTP_ERR_CONNECT;
            return sf_fail(f, code, "salesforce: no answer after %d attempt(s) to %s: %s%s",
                           he.attempts, endpoint, he.msg,
                           maybe_applied ? "; the request may have been applied, so it was not "
                                           "sent again (check the records before retrying)"
                                         : "");
        }
        record_usage(c, resp);
        if (resp->status < 300)
            return 0;
        sf_api_error ae;
        sf_api_error_parse(resp->status, resp->body, resp->body_len, &ae);
        const sf_error_rule *rule = sf_error_classify(&ae);
        http_response_free(resp);
        if (rule->action == SF_ACTION_REAUTH_ONCE && attempt == 0) {
            stale = gen;
            continue;
        }
        metrics_vendor_error(endpoint, ae.error_code[0] ? ae.error_code : "http");
        char msg[sizeof f->msg];
        sf_error_status_message(&ae, msg, sizeof msg);
        return sf_fail(f, rule->status, "%s", msg);
    }
    return sf_fail(f, GRPC_STATUS_UNAUTHENTICATED,
                   "salesforce rejected a freshly issued token (INVALID_SESSION_ID twice); check "
                   "the connected app's session policies");
}

int sf_client_query(sf_client *c, const soql *q, bool all, int64_t deadline_ms, sf_page_fn fn,
                    void *ud, sf_failure *f)
{
    sf_err se = {{0}};
    char *path = soql_build_path(q, c->api_version, all, &se);
    if (!path)
        return sf_fail(f, GRPC_STATUS_INVALID_ARGUMENT, "%s", se.msg);
    const char *endpoint = all ? "GET queryAll" : "GET query";
    int rc = 0, unreadable = 0;
    while (path && rc == 0) {
        http_response resp;
        rc = sf_client_request(c, HTTP_GET, path, NULL, endpoint, true, deadline_ms, &resp, f);
        if (rc != 0 && unreadable) {
            /* E.g. the last page of a cursor: Salesforce may have closed the
             * cursor once it served that page, so it cannot be read again. */
            char was[sizeof f->msg];
            snprintf(was, sizeof was, "%s", f->msg);
            rc = sf_fail(f, GRPC_STATUS_UNAVAILABLE,
                         "salesforce query answer unreadable (%s), and reading the page again "
                         "failed: %s; run the query again",
                         se.msg, was);
        }
        if (rc != 0)
            break;
        sf_page page = {0};
        if (sf_page_parse(resp.body, resp.body_len, &page, &se) != 0) {
            /* A cut or garbled answer: reading the same page again is safe. */
            http_response_free(&resp);
            if (++unreadable <= SF_UNREADABLE_RETRIES) {
                log_kv(LOG_WARN, "salesforce query answer unreadable, reading it again", "error",
                       se.msg, NULL);
                continue;
            }
            free(path);
            return sf_fail(f, GRPC_STATUS_UNAVAILABLE,
                           "salesforce query answer unreadable %d times in a row: %s", unreadable,
                           se.msg);
        }
        http_response_free(&resp);
        unreadable = 0;
        free(path);
        path = NULL;
        rc = fn(ud, &page, f);
        if (rc == 0 && !page.done && page.next_records_url)
            path = strdup(page.next_records_url);
        sf_page_clear(&page);
    }
    free(path);
    return rc;
}
