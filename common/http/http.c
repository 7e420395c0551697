/*
 * libcurl client for vendor APIs (see http.h).
 *
 * Each thread owns one easy handle, kept in a pthread key so it is cleaned
 * up when the thread exits. curl_easy_reset between requests clears the
 * options but keeps the handle's connection cache, so consecutive calls to
 * the same vendor reuse the TCP/TLS connection. Error messages carry the
 * method and the URL without its query string: Marketo's token request
 * puts client_secret in the query, and messages end up in logs.
 */
#include "http/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_RESPONSE (32u * 1024 * 1024)

static http_config g_cfg;
static int g_inited;
static pthread_key_t g_key;
static _Atomic(http_call_hook) g_hook;

static void free_handle(void *h)
{
    curl_easy_cleanup(h);
}

int http_init(const http_config *cfg, http_error *err)
{
    memset(err, 0, sizeof *err);
    if (g_inited)
        return 0;
    g_cfg = cfg ? *cfg : (http_config){0};
    if (g_cfg.connect_timeout_ms <= 0)
        g_cfg.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (g_cfg.timeout_ms <= 0)
        g_cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (g_cfg.max_response_bytes == 0)
        g_cfg.max_response_bytes = DEFAULT_MAX_RESPONSE;
    if (!g_cfg.user_agent)
        g_cfg.user_agent = "campsync/1";
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        err->kind = HTTP_ERR_TRANSPORT;
        err->curl_code = (int)cc;
        snprintf(err->msg, sizeof err->msg, "curl_global_init: %s", curl_easy_strerror(cc));
        return -1;
    }
    if (pthread_key_create(&g_key, free_handle) != 0) {
        curl_global_cleanup();
        err->kind = HTTP_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "pthread_key_create failed");
        return -1;
    }
    g_inited = 1;
    return 0;
}

void http_thread_cleanup(void)
{
    if (!g_inited)
        return;
    CURL *h = pthread_getspecific(g_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(g_key, NULL);
    }
}

void http_cleanup(void)
{
    if (!g_inited)
        return;
    http_thread_cleanup();
    pthread_key_delete(g_key);
    curl_global_cleanup();
    g_inited = 0;
}

void http_set_call_hook(http_call_hook hook)
{
    atomic_store(&g_hook, hook);
}

int64_t http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t http_deadline_in(long ms)
{
    return http_now_ms() + ms;
}

static const char *method_name(http_method m)
{
    switch (m) {
    case HTTP_GET:
        return "GET";
    case HTTP_POST:
        return "POST";
    case HTTP_PUT:
        return "PUT";
    case HTTP_PATCH:
        return "PATCH";
    case HTTP_DELETE:
        return "DELETE";
    }
    return "GET";
}

static void fail(http_error *err, http_err_kind kind, int curl_code, const http_request *req,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(http_error *err, http_err_kind kind, int curl_code, const http_request *req,
                 const char *fmt, ...)
{
    err->kind = kind;
    err->curl_code = curl_code;
    const char *url = req && req->url ? req->url : "(no url)";
    int w = snprintf(err->msg, sizeof err->msg, "%s %.*s: ", req ? method_name(req->method) : "",
                     (int)strcspn(url, "?#"), url);
    if (w < 0 || (size_t)w >= sizeof err->msg)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + w, sizeof err->msg - (size_t)w, fmt, ap);
    va_end(ap);
}

void http_response_free(http_response *resp)
{
    if (!resp)
        return;
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

const char *http_response_header(const http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

struct xfer {
    http_response *resp;
    size_t cap;  /* allocated body bytes */
    size_t max;  /* body cap */
    size_t hcap; /* allocated header slots */
    int too_large;
    int nomem;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    http_response *r = x->resp;
    if (n > x->max - r->body_len) {
        x->too_large = 1;
        return 0;
    }
    if (r->body_len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            x->nomem = 1;
            return 0;
        }
        r->body = b;
        x->cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static void drop_headers(http_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->n_headers = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    http_response *r = x->resp;
    /* A new status line starts a new header block (after 100 Continue). */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        drop_headers(r);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n; /* the blank line ending the block, or junk */
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    const char *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (r->n_headers == x->hcap) {
        size_t cap = x->hcap ? x->hcap * 2 : 16;
        http_header *h = realloc(r->headers, cap * sizeof *h);
        if (!h) {
            x->nomem = 1;
            return 0;
        }
        r->headers = h;
        x->hcap = cap;
    }
    char *name = strndup(data, nlen);
    char *value = strndup(v, (size_t)(end - v));
    if (!name || !value) {
        free(name);
        free(value);
        x->nomem = 1;
        return 0;
    }
    r->headers[r->n_headers].name = name;
    r->headers[r->n_headers].value = value;
    r->n_headers++;
    return n;
}

static CURL *thread_handle(void)
{
    CURL *h = pthread_getspecific(g_key);
    if (!h) {
        h = curl_easy_init();
        if (h && pthread_setspecific(g_key, h) != 0) {
            curl_easy_cleanup(h);
            h = NULL;
        }
    }
    return h;
}

static http_err_kind classify_curl(CURLcode cc, const struct xfer *x, int deadline_bound)
{
    if (x->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return HTTP_ERR_TOO_LARGE;
    if (x->nomem || cc == CURLE_OUT_OF_MEMORY)
        return HTTP_ERR_NOMEM;
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HTTP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return deadline_bound ? HTTP_ERR_DEADLINE : HTTP_ERR_TIMEOUT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return HTTP_ERR_USAGE;
    default:
        return HTTP_ERR_TRANSPORT;
    }
}

static int set_options(CURL *h, const http_request *req, struct xfer *x, long timeout_ms,
                       long connect_ms, struct curl_slist **hdrs, char *errbuf)
{
    CURLcode cc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_PROTOCOLS_STR, g_cfg.allow_plain_http ? "http,https" : "https");
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_USERAGENT, g_cfg.user_agent);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_FRESH_CONNECT, req->fresh_connection ? 1L : 0L);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    const char *body = req->body ? req->body : "";
    switch (req->method) {
    case HTTP_GET:
        SET(CURLOPT_HTTPGET, 1L);
        break;
    case HTTP_POST:
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, body);
        break;
    case HTTP_PUT:
    case HTTP_PATCH:
    case HTTP_DELETE:
        SET(CURLOPT_CUSTOMREQUEST, method_name(req->method));
        if (req->body || req->method != HTTP_DELETE) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            SET(CURLOPT_POSTFIELDS, body);
        }
        break;
    }
#undef SET
    if (cc != CURLE_OK)
        return (int)cc;
    /* "Expect:" stops curl from waiting for 100 Continue on larger bodies. */
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (!l)
        return CURLE_OUT_OF_MEMORY;
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(l, req->headers[i]);
        if (!n) {
            curl_slist_free_all(l);
            return CURLE_OUT_OF_MEMORY;
        }
        l = n;
    }
    *hdrs = l;
    return (int)curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
}

int http_do(const http_request *req, http_response *resp, http_error *err)
{
    memset(resp, 0, sizeof *resp);
    memset(err, 0, sizeof *err);
    err->attempts = 1;
    if (!g_inited) {
        fail(err, HTTP_ERR_USAGE, 0, req, "http_init was not called");
        return -1;
    }
    if (!req->url || !*req->url) {
        fail(err, HTTP_ERR_USAGE, 0, req, "no URL");
        return -1;
    }
    if (strncasecmp(req->url, "https://", 8) != 0 &&
        !(g_cfg.allow_plain_http && strncasecmp(req->url, "http://", 7) == 0)) {
        fail(err, HTTP_ERR_USAGE, 0, req,
             g_cfg.allow_plain_http ? "only http:// and https:// URLs are supported"
                                    : "only https:// URLs are allowed (TLS is required)");
        return -1;
    }
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : g_cfg.timeout_ms;
    long connect_ms = g_cfg.connect_timeout_ms;
    int deadline_bound = 0;
    int64_t start = http_now_ms();
    if (req->deadline_ms) {
        int64_t left = req->deadline_ms - start;
        if (left <= 0) {
            fail(err, HTTP_ERR_DEADLINE, 0, req, "deadline passed before the request was sent");
            return -1;
        }
        if (left <= timeout) {
            timeout = (long)left;
            deadline_bound = 1;
        }
        if (connect_ms > timeout)
            connect_ms = timeout;
    }
    CURL *h = thread_handle();
    if (!h) {
        fail(err, HTTP_ERR_NOMEM, 0, req, "cannot create a curl handle");
        return -1;
    }
    curl_easy_reset(h);
    struct xfer x = {.resp = resp,
                     .max = req->max_response_bytes ? req->max_response_bytes
                                                    : g_cfg.max_response_bytes};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    int sc = set_options(h, req, &x, timeout, connect_ms, &hdrs, errbuf);
    CURLcode cc = sc ? (CURLcode)sc : curl_easy_perform(h);
    double secs = (double)(http_now_ms() - start) / 1000.0;
    resp->elapsed_s = secs;
    /* Unhook our list and buffer before they go out of scope. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    http_call_hook hook = atomic_load(&g_hook);
    if (hook)
        hook(req->endpoint ? req->endpoint : "other", (int)status, cc != CURLE_OK, secs);
    if (cc != CURLE_OK) {
        http_err_kind kind = classify_curl(cc, &x, deadline_bound);
        if (kind == HTTP_ERR_TOO_LARGE)
            fail(err, kind, (int)cc, req, "response body exceeds the limit of %zu bytes", x.max);
        else if (kind == HTTP_ERR_DEADLINE)
            fail(err, kind, (int)cc, req, "deadline exceeded after %.3f s: %s", secs,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
            fail(err, kind, (int)cc, req, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "",
                 errbuf);
        http_response_free(resp);
        return -1;
    }
    resp->status = (int)status;
    if (!resp->body && !(resp->body = calloc(1, 1))) {
        fail(err, HTTP_ERR_NOMEM, 0, req, "out of memory");
        http_response_free(resp);
        return -1;
    }
    resp->elapsed_s = secs;
    return 0;
}
