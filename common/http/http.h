/*
 * The HTTP client every connector uses to reach a vendor API (libcurl).
 *
 * Vendor calls are the scarce resource (SPEC 4), so this module keeps one
 * curl easy handle per thread and reuses it: connections stay alive and TLS
 * sessions are resumed. TLS peer and host verification are always on; plain
 * http:// URLs are refused unless http_init was told to allow them (the
 * sandbox and the tests speak plain HTTP).
 *
 * Errors follow the house convention: int status, 0 = an HTTP response was
 * received (whatever its status code), -1 = no usable response; details in a
 * caller-owned http_error. A response owns its body and headers until
 * http_response_free.
 *
 * Deadlines are absolute times on the monotonic clock in milliseconds
 * (http_now_ms), so a call made while serving a gRPC request can inherit
 * that request's deadline: no attempt and no back-off sleep runs past it.
 */
#ifndef CAMPSYNC_HTTP_H
#define CAMPSYNC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE } http_method;

typedef enum {
    HTTP_ERR_NONE = 0,
    HTTP_ERR_USAGE,     /* bad request description: NULL url, plain http not allowed */
    HTTP_ERR_CONNECT,   /* could not resolve or connect: the request was not sent */
    HTTP_ERR_TIMEOUT,   /* the attempt timed out (connect or total) */
    HTTP_ERR_DEADLINE,  /* the caller's deadline passed before a response */
    HTTP_ERR_TOO_LARGE, /* response body above the cap */
    HTTP_ERR_TRANSPORT, /* any other transport failure (TLS, reset, ...) */
    HTTP_ERR_NOMEM
} http_err_kind;

typedef struct http_error {
    http_err_kind kind;
    int curl_code; /* CURLcode of the failing attempt, 0 when curl was not involved */
    int attempts;  /* attempts made (1 for http_do) */
    char msg[256]; /* human-readable, includes curl's error text */
} http_error;

/* Process-wide settings, given once to http_init. Zero fields take defaults. */
typedef struct http_config {
    long connect_timeout_ms;   /* default 5000 */
    long timeout_ms;           /* per attempt, default 30000 */
    size_t max_response_bytes; /* default 32 MiB */
    int allow_plain_http;      /* accept http:// URLs (sandbox, tests) */
    const char *user_agent;    /* default "campsync/1" */
} http_config;

/* Called after every attempt with the request's endpoint label ("other" when
 * none), the HTTP status (0 when none), whether the attempt failed below HTTP,
 * and its duration. metrics_vendor_call has this shape. */
typedef void (*http_call_hook)(const char *endpoint, int status, int transport_error,
                               double seconds);

/* Once per process, before any thread makes a call. cfg may be NULL. */
int http_init(const http_config *cfg, http_error *err);
/* Releases the calling thread's handle, then curl's globals. Call last. */
void http_cleanup(void);
/* Releases the calling thread's handle (threads that exit are cleaned up
 * automatically; the main thread calls this or http_cleanup). */
void http_thread_cleanup(void);
/* Installs the per-attempt hook (NULL to remove); set it at start-up. */
void http_set_call_hook(http_call_hook hook);

/* Monotonic clock in ms, and a deadline ms from now. */
int64_t http_now_ms(void);
int64_t http_deadline_in(long ms);

typedef struct http_request {
    http_method method;
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* may be NULL; sent as is */
    size_t body_len;
    const char *endpoint;      /* label for the call hook, e.g. "marketo.members.status" */
    long timeout_ms;           /* 0 = http_config.timeout_ms */
    size_t max_response_bytes; /* 0 = http_config.max_response_bytes */
    int64_t deadline_ms;       /* absolute (http_now_ms clock), 0 = none */
    /* 1: open a new connection for this request. libcurl silently sends a
     * request again when a kept-alive connection dies before any answer, which
     * may repeat a write the server already applied: set it for requests that
     * are not idempotent. */
    int fresh_connection;
} http_request;

typedef struct http_header {
    char *name;
    char *value;
} http_header;

typedef struct http_response {
    int status;
    char *body; /* NUL-terminated (the NUL is not counted in body_len) */
    size_t body_len;
    http_header *headers; /* of the final response, in order received */
    size_t n_headers;
    double elapsed_s; /* of the last attempt */
} http_response;

/* One attempt. *resp is overwritten (not freed): pass an empty one. On 0 it
 * holds the response and the caller frees it with http_response_free; on -1
 * it is left zeroed (freeing it is harmless). */
int http_do(const http_request *req, http_response *resp, http_error *err);
void http_response_free(http_response *resp);
/* Value of the first header named name (case-insensitive), NULL if absent. */
const char *http_response_header(const http_response *resp, const char *name);

typedef enum {
    HTTP_RETRY_DEFAULT = 0, /* let the default rule decide */
    HTTP_RETRY_YES,
    HTTP_RETRY_NO
} http_verdict;

/* Inspects one attempt: rc and err from http_do; resp is NULL when rc != 0.
 * May set *delay_ms to ask for at least that long before the next attempt. */
typedef http_verdict (*http_classify_fn)(void *ud, int rc, const http_response *resp,
                                         const http_error *err, long *delay_ms);

typedef struct http_retry_policy {
    int max_attempts;          /* default 4 */
    long base_delay_ms;        /* default 200 */
    long max_delay_ms;         /* cap of one back-off sleep, default 10000 */
    long max_retry_after_ms;   /* a longer Retry-After gives up at once, default 60000 */
    long budget_ms;            /* total time from the first attempt, 0 = none */
    http_classify_fn classify; /* NULL = default rule only */
    void *classify_ud;
} http_retry_policy;

/*
 * http_do with retries. The default rule retries connection errors, timeouts
 * and other transport failures, and HTTP 429 and 5xx; anything else is
 * final. Waits follow exponential back-off with full jitter (uniform in
 * [0, min(max_delay, base * 2^n)]), but at least Retry-After (seconds or an
 * HTTP-date) on 429/503, and at least what the classifier asked for. It never
 * sleeps past req->deadline_ms or the budget: it gives up instead. Note that
 * the default retries POST too: pass a classifier that says HTTP_RETRY_NO
 * for requests that must not run twice.
 *
 * Returns like http_do for the last attempt made (so a 503 after giving up
 * is rc 0 with status 503); err->attempts counts attempts. pol may be NULL.
 */
int http_do_retry(const http_request *req, const http_retry_policy *pol, http_response *resp,
                  http_error *err);

/* Parses a Retry-After value (delta seconds or HTTP-date, relative to now);
 * returns milliseconds (0 for a date in the past) or -1 when unparseable. */
long http_parse_retry_after(const char *value, time_t now);

/* Percent-encodes s (RFC 3986: unreserved characters kept). Caller frees;
 * NULL on allocation failure. */
char *http_url_encode(const char *s);

/*
 * Builds "<base>?a=1&b=x%20y". Parameters are encoded. After an allocation
 * failure every call is a no-op and http_url_str returns NULL.
 */
typedef struct http_url {
    char *buf;
    size_t len, cap;
    int nparams;
    int failed;
} http_url;

void http_url_init(http_url *u, const char *base);
void http_url_param(http_url *u, const char *name, const char *value);
void http_url_param_int(http_url *u, const char *name, long long value);
const char *http_url_str(const http_url *u);
void http_url_free(http_url *u);

#endif
