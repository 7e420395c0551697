/*
 * mkto_budget: the shared Marketo API budget in Redis (see mkto_budget.h).
 * One Lua script decides a call's fate atomically: blocked by a 607, over
 * the daily quota, concurrency cap full, window full, or granted (window
 * entry, lease and daily count written together).
 */
#include "mkto_budget.h"

#include <grpc/status.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "mkto_errors.h"
#include "redis/redis.h"

/* Poll interval while the concurrency cap is full (slots free as calls end). */
#define BUSY_POLL_MS 20
/* Marketo's window is 20 s by its own clock, measured when a call arrives;
 * ours is measured when the slot is granted, a connection set-up or a
 * scheduling hiccup earlier. A second of margin absorbs that jitter. */
#define WINDOW_MS 21000
/* Redis errors tolerated in a row before a call gives up. */
#define REDIS_TRIES 3

struct mkto_budget {
    mkto_budget_config cfg;
    char scope[200];
    char window_key[256], leases_key[256], blocked_key[256];
    _Atomic uint64_t seq;
};

/*
 * KEYS: window, leases, daily, blocked.
 * ARGV: calls per window, max concurrent, daily quota (0 = none), lease ms,
 * call id, daily key ttl s, window ms.
 * Returns {0, used today} granted; {1, ms} window full (next slot in ms);
 * {2, ms} concurrency full; {3, reset ms or 0} daily quota.
 */
static const char acquire_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local blocked = redis.call('GET', KEYS[4])\n"
    "if blocked then return {3, tonumber(blocked)} end\n"
    "local quota = tonumber(ARGV[3])\n"
    "local used = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
    "if quota > 0 and used >= quota then return {3, 0} end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then\n"
    "  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
    "  return {2, tonumber(first[2]) - now}\n"
    "end\n"
    "local win = tonumber(ARGV[7])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)\n"
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then\n"
    "  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "  return {1, tonumber(first[2]) + win - now + 1}\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[1], win + 1000)\n"
    "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) + 1000)\n"
    "used = redis.call('INCR', KEYS[3])\n"
    "if used == 1 then redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6])) end\n"
    "return {0, used}\n";

int64_t mkto_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

mkto_budget *mkto_budget_new(const mkto_budget_config *cfg, char *msg, size_t msg_len)
{
    if (cfg->calls_per_20s < 1 || cfg->calls_per_20s > 100) {
        snprintf(msg, msg_len, "CAMPSYNC_MARKETO_CALLS_PER_20S must be within 1..100 (got %d)",
                 cfg->calls_per_20s);
        return NULL;
    }
    if (cfg->max_concurrent < 1 || cfg->max_concurrent > 10) {
        snprintf(msg, msg_len, "CAMPSYNC_MARKETO_MAX_CONCURRENT must be within 1..10 (got %d)",
                 cfg->max_concurrent);
        return NULL;
    }
    if (cfg->daily_quota < 0 || cfg->lease_ms < 1000) {
        snprintf(msg, msg_len, "daily quota must be >= 0 and the lease at least 1 s");
        return NULL;
    }
    mkto_budget *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    /* Replicas must not all draw the same back-off jitter. */
    srandom((unsigned)getpid() ^ (unsigned)mkto_wall_ms());
    snprintf(b->scope, sizeof b->scope, "%s", cfg->scope ? cfg->scope : "marketo");
    b->cfg.scope = b->scope;
    rds_err e = {0};
    if (rds_key(b->window_key, sizeof b->window_key, &e, b->scope, "window") != 0 ||
        rds_key(b->leases_key, sizeof b->leases_key, &e, b->scope, "leases") != 0 ||
        rds_key(b->blocked_key, sizeof b->blocked_key, &e, b->scope, "quota-blocked") != 0) {
        snprintf(msg, msg_len, "marketo budget keys: %s", e.msg);
        free(b);
        return NULL;
    }
    return b;
}

void mkto_budget_free(mkto_budget *b)
{
    free(b);
}

static int daily_key(const mkto_budget *b, int64_t reset_ms, char *out, size_t n)
{
    rds_err e = {0};
    return rds_key(out, n, &e, b->scope, "daily:%lld", (long long)reset_ms);
}

static int deny(mkto_budget_denial *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int deny(mkto_budget_denial *d, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    d->code = code;
    return code;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void format_utc(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void count_wait(const char *why)
{
    static const char *const labels[] = {"reason", NULL};
    metrics_family *f =
        metrics_counter(metrics_default(), "campsync_marketo_budget_waits_total",
                        "Times a Marketo call waited for the shared budget", labels);
    const char *v[] = {why};
    metrics_inc(metrics_with(f, v), 1);
}

int mkto_budget_acquire(mkto_budget *b, int64_t deadline_ms, int (*cancelled)(void *ud), void *ud,
                        mkto_lease *lease, mkto_budget_denial *d)
{
    memset(d, 0, sizeof *d);
    snprintf(lease->id, sizeof lease->id, "%ld-%llu-%08lx", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&b->seq, 1), (unsigned long)random());
    int redis_failures = 0;
    for (;;) {
        if (cancelled && cancelled(ud))
            return deny(d, GRPC_STATUS_CANCELLED, "the call was cancelled");
        int64_t reset_ms = mkto_quota_reset_ms(mkto_wall_ms());
        char dkey[256];
        if (daily_key(b, reset_ms, dkey, sizeof dkey) != 0)
            return deny(d, GRPC_STATUS_INTERNAL, "marketo budget: bad daily key");
        char per20[16], conc[16], quota[24], lease_ms[16], ttl[24], win[16];
        snprintf(per20, sizeof per20, "%d", b->cfg.calls_per_20s);
        snprintf(conc, sizeof conc, "%d", b->cfg.max_concurrent);
        snprintf(quota, sizeof quota, "%lld", (long long)b->cfg.daily_quota);
        snprintf(lease_ms, sizeof lease_ms, "%d", b->cfg.lease_ms);
        snprintf(ttl, sizeof ttl, "%d", 2 * 86400);
        snprintf(win, sizeof win, "%d", WINDOW_MS);
        const char *keys[] = {b->window_key, b->leases_key, dkey, b->blocked_key};
        const char *args[] = {per20, conc, quota, lease_ms, lease->id, ttl, win};
        rds_err re = {0};
        redisReply *r = rds_eval(acquire_lua, 0, 4, keys, 7, args, &re);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER) {
            if (r)
                freeReplyObject(r);
            metrics_redis_error("marketo_budget");
            if (++redis_failures >= REDIS_TRIES || http_now_ms() + 100 >= deadline_ms)
                return deny(d, GRPC_STATUS_UNAVAILABLE,
                            "marketo: the shared API budget in Redis is unreachable (%s); calls "
                            "are held back so replicas cannot exceed the instance's limits",
                            re.msg[0] ? re.msg : "unexpected reply");
            sleep_ms(50 * redis_failures);
            continue;
        }
        long long verdict = r->element[0]->integer, value = r->element[1]->integer;
        freeReplyObject(r);
        redis_failures = 0;
        if (verdict == 0)
            return 0;
        if (verdict == 3) {
            int64_t at = value > 0 ? value : reset_ms;
            char when[40];
            format_utc(at, when, sizeof when);
            d->quota_reset_ms = at;
            return deny(d, GRPC_STATUS_RESOURCE_EXHAUSTED,
                        "marketo 607: daily API quota used up%s; it resets at %s (midnight US "
                        "Central)",
                        value > 0 ? " (Marketo said so)" : " (CAMPSYNC_MARKETO_DAILY_QUOTA)", when);
        }
        int64_t wait =
            verdict == 2 ? BUSY_POLL_MS + random() % BUSY_POLL_MS : value + random() % 50;
        if (wait < 1)
            wait = 1;
        count_wait(verdict == 2 ? "concurrency" : "window");
        int64_t now = http_now_ms();
        if (now + wait >= deadline_ms)
            return deny(d, GRPC_STATUS_DEADLINE_EXCEEDED,
                        "marketo: no API slot before the call's deadline (%s full: %d calls per "
                        "20 s, %d at once across replicas)",
                        verdict == 2 ? "concurrency cap" : "20-second window", b->cfg.calls_per_20s,
                        b->cfg.max_concurrent);
        /* Sleep in short steps so a cancelled call stops promptly. */
        while (wait > 0) {
            int64_t step = wait > 200 ? 200 : wait;
            sleep_ms(step);
            wait -= step;
            if (cancelled && cancelled(ud))
                break;
        }
    }
}

void mkto_budget_release(mkto_budget *b, const mkto_lease *lease)
{
    rds_err re = {0};
    redisReply *r = rds_command(1, &re, "ZREM %s %s", b->leases_key, lease->id);
    if (r)
        freeReplyObject(r);
    else
        metrics_redis_error("marketo_budget_release");
}

void mkto_budget_block_until(mkto_budget *b, int64_t reset_ms)
{
    int64_t ttl = reset_ms - mkto_wall_ms();
    if (ttl < 1000)
        ttl = 1000;
    rds_err re = {0};
    redisReply *r = rds_command(1, &re, "SET %s %lld PX %lld", b->blocked_key, (long long)reset_ms,
                                (long long)ttl);
    if (r)
        freeReplyObject(r);
    else
        metrics_redis_error("marketo_budget_block");
    log_kv(LOG_WARN, "marketo daily quota reached: refusing calls until the reset", NULL);
}

int mkto_budget_today(mkto_budget *b, int64_t *used, int64_t *quota, int64_t *reset_ms)
{
    *reset_ms = mkto_quota_reset_ms(mkto_wall_ms());
    *quota = b->cfg.daily_quota;
    *used = 0;
    char dkey[256];
    if (daily_key(b, *reset_ms, dkey, sizeof dkey) != 0)
        return -1;
    char *v = NULL;
    rds_err re = {0};
    if (rds_get(dkey, &v, NULL, &re) != 0)
        return -1;
    if (v)
        *used = strtoll(v, NULL, 10);
    free(v);
    return 0;
}
