/*
 * Retries for vendor calls (see http_do_retry in http.h). Full jitter keeps
 * the replicas of a connector from retrying in lock-step after a shared
 * outage; Retry-After and classifier delays are lower bounds on the wait;
 * the caller's deadline is a hard upper bound on the whole thing, so a
 * request never outlives the gRPC call that asked for it.
 */
#include "http/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_ATTEMPTS 4
#define DEFAULT_BASE_DELAY_MS 200
#define DEFAULT_MAX_DELAY_MS 10000
#define DEFAULT_MAX_RETRY_AFTER_MS 60000

long http_parse_retry_after(const char *value, time_t now)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        errno = 0;
        unsigned long long secs = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0')
            return -1;
        if (errno || secs > (unsigned long long)(LONG_MAX / 1000))
            return LONG_MAX;
        return (long)secs * 1000;
    }
    time_t when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return -1;
    if (when <= now)
        return 0;
    if ((unsigned long long)(when - now) > (unsigned long long)(LONG_MAX / 1000))
        return LONG_MAX;
    return (long)(when - now) * 1000;
}

/* xorshift64*, per thread, seeded from the clock and the thread's stack. */
static uint64_t next_random(void)
{
    static __thread uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&ts;
        if (state == 0)
            state = 0x9E3779B97F4A7C15ull;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static http_verdict default_rule(int rc, const http_response *resp, const http_error *err)
{
    if (rc != 0)
        return (err->kind == HTTP_ERR_CONNECT || err->kind == HTTP_ERR_TIMEOUT ||
                err->kind == HTTP_ERR_TRANSPORT)
                   ? HTTP_RETRY_YES
                   : HTTP_RETRY_NO;
    return (resp->status == 429 || resp->status >= 500) ? HTTP_RETRY_YES : HTTP_RETRY_NO;
}

int http_do_retry(const http_request *req, const http_retry_policy *pol, http_response *resp,
                  http_error *err)
{
    http_retry_policy p = pol ? *pol : (http_retry_policy){0};
    if (p.max_attempts <= 0)
        p.max_attempts = DEFAULT_MAX_ATTEMPTS;
    if (p.base_delay_ms <= 0)
        p.base_delay_ms = DEFAULT_BASE_DELAY_MS;
    if (p.max_delay_ms <= 0)
        p.max_delay_ms = DEFAULT_MAX_DELAY_MS;
    if (p.max_retry_after_ms <= 0)
        p.max_retry_after_ms = DEFAULT_MAX_RETRY_AFTER_MS;

    http_request r = *req;
    if (p.budget_ms > 0) {
        int64_t b = http_now_ms() + p.budget_ms;
        if (!r.deadline_ms || b < r.deadline_ms)
            r.deadline_ms = b;
    }

    int attempt = 0;
    int rc;
    const char *stop = NULL; /* why we stopped retrying a retryable result */
    for (;;) {
        attempt++;
        rc = http_do(&r, resp, err);
        long want = 0;
        http_verdict v = HTTP_RETRY_DEFAULT;
        if (p.classify)
            v = p.classify(p.classify_ud, rc, rc == 0 ? resp : NULL, err, &want);
        if (v == HTTP_RETRY_DEFAULT)
            v = default_rule(rc, resp, err);
        if (v != HTTP_RETRY_YES)
            break;
        if (rc == 0 && (resp->status == 429 || resp->status == 503)) {
            long ra = http_parse_retry_after(http_response_header(resp, "Retry-After"), time(NULL));
            if (ra > p.max_retry_after_ms) {
                stop = "Retry-After is longer than the retry policy allows";
                break;
            }
            if (ra > want)
                want = ra;
        }
        if (attempt >= p.max_attempts) {
            stop = "attempts exhausted";
            break;
        }
        /* Full jitter: uniform in [0, min(max_delay, base * 2^(attempt-1))]. */
        long cap = p.max_delay_ms;
        if (attempt - 1 < 30 && p.base_delay_ms <= (p.max_delay_ms >> (attempt - 1)))
            cap = p.base_delay_ms << (attempt - 1);
        long delay = (long)(next_random() % (uint64_t)(cap + 1));
        if (delay < want)
            delay = want;
        if (r.deadline_ms && http_now_ms() + delay >= r.deadline_ms) {
            stop = "the deadline would pass before the next attempt";
            break;
        }
        http_response_free(resp);
        sleep_ms(delay);
    }
    err->attempts = attempt;
    if (stop && rc == 0)
        snprintf(err->msg, sizeof err->msg, "HTTP %d after %d attempt%s: %s", resp->status, attempt,
                 attempt == 1 ? "" : "s", stop);
    else if (stop && attempt > 1) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, " (after %d attempts: %s)", attempt,
                 stop);
    }
    return rc;
}
