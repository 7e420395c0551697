/*
 * Round trips per second through common/redis against a local redis-server
 * started here, next to bare hiredis on its own connection, so the cost of
 * the library's per-call checks (stale-socket peek, SIGPIPE guard, EVALSHA)
 * is visible. One thread, loopback, no pipelining: latency-bound figures.
 */
#include "redis/redis.h"
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>

#define N 20000

static void report(const char *what, long long t0, int n)
{
    double s = (double)(ts_now_ms() - t0) / 1000.0;
    printf("%-34s %8.0f ops/s  %6.1f us/op\n", what, n / s, s * 1e6 / n);
}

int main(void)
{
    ts_redis *srv = ts_redis_start(NULL);
    if (!srv)
        return 1;
    rds_err e;
    if (rds_configure(ts_redis_url(srv), NULL, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        ts_redis_free(srv);
        return 1;
    }
    int rc = 0;
    redisContext *raw = redisConnect("127.0.0.1", ts_redis_port(srv));
    long long t0 = ts_now_ms();
    for (int i = 0; raw && !raw->err && i < N; i++) {
        redisReply *r = redisCommand(raw, "SET bench:raw %d", i);
        if (r)
            freeReplyObject(r);
    }
    report("hiredis SET (bare)", t0, N);
    if (raw)
        redisFree(raw);

    t0 = ts_now_ms();
    for (int i = 0; i < N && rc == 0; i++)
        rc = rds_set("campsync:{bench}:k", "value", 0, 0, &e);
    report("rds_set", t0, N);

    t0 = ts_now_ms();
    for (int i = 0; i < N && rc == 0; i++) {
        char *v = NULL;
        rc = rds_get("campsync:{bench}:k", &v, NULL, &e);
        free(v);
    }
    report("rds_get", t0, N);

    t0 = ts_now_ms();
    for (int i = 0; i < N / 2 && rc == 0; i++) {
        int64_t tok = 0;
        int released = 0;
        rc = rds_lock_acquire("bench", "job", 10000, &tok, &e);
        if (rc == 0)
            rc = rds_lock_release("bench", "job", tok, &released, &e);
    }
    report("rds_lock_acquire+release (pair)", t0, N / 2);

    t0 = ts_now_ms();
    for (int i = 0; i < N && rc == 0; i++) {
        int ok = 0;
        rc = rds_fence_check("bench", "res", i + 1, &ok, NULL, &e);
    }
    report("rds_fence_check", t0, N);

    t0 = ts_now_ms();
    for (int i = 0; i < N && rc == 0; i++) {
        char key[64];
        int claimed = 0;
        snprintf(key, sizeof key, "campsync:{bench}:d:%d", i);
        rc = rds_dedup_claim(key, 60, &claimed, &e);
    }
    report("rds_dedup_claim", t0, N);

    t0 = ts_now_ms();
    for (int i = 0; i < N && rc == 0; i++) {
        rds_field_in f[] = {{"type", "ADDED", 0}, {"person", "00Q000000000001", 0}};
        rc = rds_stream_append("campsync:{bench}:s", 100000, f, 2, NULL, &e);
    }
    report("rds_stream_append", t0, N);

    t0 = ts_now_ms();
    int read = 0;
    char after[RDS_STREAM_ID_MAX] = "0";
    while (rc == 0 && read < N) {
        rds_stream_batch b;
        rc = rds_stream_read("campsync:{bench}:s", after, 500, -1, &b, &e);
        if (rc == 0 && b.count == 0)
            break;
        read += (int)b.count;
        if (rc == 0)
            snprintf(after, sizeof after, "%s", b.next_id);
        rds_stream_batch_free(&b);
    }
    report("rds_stream_read (entries, 500/call)", t0, read > 0 ? read : 1);

    if (rc != 0)
        fprintf(stderr, "error: %s\n", e.msg);
    ts_redis_free(srv);
    return rc == 0 ? 0 : 1;
}
