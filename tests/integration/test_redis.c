/*
 * common/redis against real redis-server processes started by the test:
 * command round trips, lock + fencing under contention from several
 * processes, expiry and takeover, the fence check, dedup, streams with
 * consumer groups, AUTH, timeouts, and Redis being killed and restarted
 * under a live connection.
 */
#include "redis/redis.h"
#include "ts.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static ts_redis *srv;

static int group_setup(void **state)
{
    srv = ts_redis_start(NULL);
    return srv ? 0 : -1;
}

static int group_teardown(void **state)
{
    ts_redis_free(srv);
    return 0;
}

/* Every test starts on the shared server with default options. */
static int use_shared(void **state)
{
    rds_err e = {0};
    if (rds_configure(ts_redis_url(srv), NULL, &e) != 0) {
        fprintf(stderr, "configure: %s\n", e.msg);
        return -1;
    }
    return 0;
}

#define assert_ok(call, e)                                                                         \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            fail_msg("%s failed: [%d] %s", #call, (int)(e).code, (e).msg);                         \
    } while (0)

static void test_roundtrip(void **state)
{
    rds_err e = {0};
    redisReply *r = rds_command(1, &e, "PING");
    assert_non_null(r);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);

    char key[128];
    assert_ok(rds_key(key, sizeof key, &e, "rt", "v"), e);
    assert_ok(rds_set(key, "a\0b", 3, 0, &e), e);
    char *v = NULL;
    size_t len = 0;
    assert_ok(rds_get(key, &v, &len, &e), e);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "a\0b", 3);
    free(v);

    /* A Redis error reply is an error with Redis's message. */
    assert_null(rds_command(0, &e, "INCR %s", key));
    assert_int_equal(e.code, RDS_ERR_REPLY);
    assert_non_null(strstr(e.msg, "not an integer"));

    assert_ok(rds_set(key, "x", 0, 100, &e), e);
    r = rds_command(1, &e, "TTL %s", key);
    assert_non_null(r);
    assert_true(r->integer > 0 && r->integer <= 100);
    freeReplyObject(r);

    int64_t n = -1;
    assert_ok(rds_del(key, &n, &e), e);
    assert_int_equal(n, 1);
    assert_ok(rds_get(key, &v, &len, &e), e);
    assert_null(v);
    assert_int_equal(rds_get("", &v, NULL, &e), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);

    char hkey[128];
    assert_ok(rds_key(hkey, sizeof hkey, &e, "rt", "h"), e);
    rds_field_in in[] = {{"a", "1", 0}, {"b", "two", 0}};
    assert_ok(rds_hset(hkey, in, 2, &e), e);
    rds_field *out = NULL;
    size_t nf = 0;
    assert_ok(rds_hgetall(hkey, &out, &nf, &e), e);
    assert_int_equal(nf, 2);
    for (size_t i = 0; i < nf; i++)
        assert_string_equal(out[i].value, strcmp(out[i].name, "a") == 0 ? "1" : "two");
    rds_fields_free(out, nf);
    assert_ok(rds_hgetall("campsync:{rt}:missing", &out, &nf, &e), e);
    assert_int_equal(nf, 0);
    assert_null(out);

    /* EVALSHA falls back to EVAL after the script cache is flushed. */
    const char *script = "return ARGV[1] .. '!'";
    const char *args[] = {"hi"};
    for (int i = 0; i < 2; i++) {
        r = rds_eval(script, 1, 0, NULL, 1, args, &e);
        assert_non_null(r);
        assert_string_equal(r->str, "hi!");
        freeReplyObject(r);
        redisReply *fl = rds_command(1, &e, "SCRIPT FLUSH");
        assert_non_null(fl);
        freeReplyObject(fl);
    }
}

/* Each thread has its own connection; concurrent use does not interfere. */
static void *incr_many(void *arg)
{
    const char *key = arg;
    for (int i = 0; i < 200; i++) {
        rds_err e;
        redisReply *r = rds_command(0, &e, "INCR %s", key);
        if (!r)
            return (void *)1;
        freeReplyObject(r);
    }
    return NULL;
}

static void test_threads(void **state)
{
    char key[] = "campsync:{threads}:n";
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, incr_many, key), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    rds_err e;
    char *v = NULL;
    assert_ok(rds_get(key, &v, NULL, &e), e);
    assert_string_equal(v, "800");
    free(v);
}

#define ROUNDS 15

/* Runs in a forked child: takes the lock ROUNDS times; while holding it,
 * checks nobody else does and records the token. Exit code says why not. */
static int contend(void)
{
    const char *holders = "campsync:{contend}:holders";
    const char *tokens = "campsync:{contend}:tokens";
    int64_t last = 0;
    for (int round = 0; round < ROUNDS; round++) {
        long long deadline = ts_now_ms() + 30000;
        int64_t tok = 0;
        rds_err e;
        while (tok == 0) {
            if (rds_lock_acquire("contend", "job", 10000, &tok, &e) != 0)
                return 10;
            if (tok == 0) {
                if (ts_now_ms() > deadline)
                    return 11;
                usleep(500);
            }
        }
        if (tok <= last)
            return 12;
        last = tok;
        redisReply *r = rds_command(0, &e, "INCR %s", holders);
        if (!r || r->integer != 1)
            return 13; /* two holders at once */
        freeReplyObject(r);
        r = rds_command(0, &e, "RPUSH %s %" PRId64, tokens, tok);
        if (!r)
            return 14;
        freeReplyObject(r);
        usleep(200);
        r = rds_command(0, &e, "DECR %s", holders);
        if (!r)
            return 15;
        freeReplyObject(r);
        int released = 0;
        if (rds_lock_release("contend", "job", tok, &released, &e) != 0 || !released)
            return 16;
    }
    return 0;
}

static void test_lock_contention(void **state)
{
    enum { PROCS = 3 };
    pid_t kids[PROCS];
    fflush(NULL);
    for (int i = 0; i < PROCS; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            _exit(contend());
    }
    for (int i = 0; i < PROCS; i++) {
        int st = 0;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("contender %d failed: status %d", i, st);
    }
    /* Tokens were pushed under the lock, so in acquisition order: they must
     * rise strictly across all processes. */
    rds_err e;
    redisReply *r = rds_command(1, &e, "LRANGE campsync:{contend}:tokens 0 -1");
    assert_non_null(r);
    assert_int_equal(r->elements, PROCS * ROUNDS);
    long long prev = 0;
    for (size_t i = 0; i < r->elements; i++) {
        long long t = atoll(r->element[i]->str);
        assert_true(t > prev);
        prev = t;
    }
    freeReplyObject(r);
}

static void test_lock_expiry_and_owner(void **state)
{
    rds_err e;
    int64_t t1 = 0, t2 = 0, other = -1;
    assert_ok(rds_lock_acquire("exp", "job", 100, &t1, &e), e);
    assert_true(t1 > 0);
    assert_ok(rds_lock_acquire("exp", "job", 100, &other, &e), e);
    assert_int_equal(other, 0);

    /* After the TTL runs out another holder takes over with a higher token. */
    long long deadline = ts_now_ms() + 10000;
    while (t2 == 0 && ts_now_ms() < deadline) {
        assert_ok(rds_lock_acquire("exp", "job", 60000, &t2, &e), e);
        if (t2 == 0)
            ts_sleep_ms(10);
    }
    assert_true(t2 > t1);

    /* The stale holder can neither extend nor release. */
    int held = -1, released = -1;
    assert_ok(rds_lock_extend("exp", "job", t1, 60000, &held, &e), e);
    assert_int_equal(held, 0);
    assert_ok(rds_lock_release("exp", "job", t1, &released, &e), e);
    assert_int_equal(released, 0);
    assert_ok(rds_lock_release("exp", "job", t2 + 100, &released, &e), e);
    assert_int_equal(released, 0);

    /* The owner can, once. */
    assert_ok(rds_lock_extend("exp", "job", t2, 60000, &held, &e), e);
    assert_int_equal(held, 1);
    redisReply *r = rds_command(1, &e, "PTTL campsync:{exp}:lock:job");
    assert_non_null(r);
    assert_true(r->integer > 1000);
    freeReplyObject(r);
    assert_ok(rds_lock_release("exp", "job", t2, &released, &e), e);
    assert_int_equal(released, 1);
    assert_ok(rds_lock_release("exp", "job", t2, &released, &e), e);
    assert_int_equal(released, 0);
    assert_ok(rds_lock_extend("exp", "job", t2, 1000, &held, &e), e);
    assert_int_equal(held, 0);

    /* Free again: the next token is higher still. */
    int64_t t3 = 0;
    assert_ok(rds_lock_acquire("exp", "job", 1000, &t3, &e), e);
    assert_true(t3 > t2);

    assert_int_equal(rds_lock_acquire("exp", "job", 0, &t3, &e), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);
    assert_int_equal(rds_lock_acquire("e{x", "job", 10, &t3, &e), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);
}

static void test_fence(void **state)
{
    rds_err e;
    int ok = -1;
    int64_t hi = 0;
    assert_ok(rds_fence_check("fence", "pair", 5, &ok, &hi, &e), e);
    assert_true(ok);
    assert_int_equal(hi, 5);
    assert_ok(rds_fence_check("fence", "pair", 7, &ok, &hi, &e), e);
    assert_true(ok);
    /* A stale holder's older token is refused, and says what it lost to. */
    assert_ok(rds_fence_check("fence", "pair", 6, &ok, &hi, &e), e);
    assert_false(ok);
    assert_int_equal(hi, 7);
    /* The current holder keeps writing with the same token. */
    assert_ok(rds_fence_check("fence", "pair", 7, &ok, NULL, &e), e);
    assert_true(ok);
    /* Resources are independent. */
    assert_ok(rds_fence_check("fence", "other", 1, &ok, &hi, &e), e);
    assert_true(ok);
    assert_int_equal(rds_fence_check("fence", "pair", 0, &ok, &hi, &e), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);

    /* With a real lock: the token of a lock that expired is refused once the
     * new holder has written. */
    int64_t old = 0, cur = 0;
    assert_ok(rds_lock_acquire("fence", "lk", 50, &old, &e), e);
    assert_ok(rds_fence_check("fence", "lk-data", old, &ok, NULL, &e), e);
    assert_true(ok);
    long long deadline = ts_now_ms() + 10000;
    while (cur == 0 && ts_now_ms() < deadline) {
        assert_ok(rds_lock_acquire("fence", "lk", 60000, &cur, &e), e);
        if (cur == 0)
            ts_sleep_ms(10);
    }
    assert_true(cur > old);
    assert_ok(rds_fence_check("fence", "lk-data", cur, &ok, NULL, &e), e);
    assert_true(ok);
    assert_ok(rds_fence_check("fence", "lk-data", old, &ok, &hi, &e), e);
    assert_false(ok);
    assert_int_equal(hi, cur);
}

static void test_dedup(void **state)
{
    rds_err e;
    int claimed = -1;
    const char *key = "campsync:{dedup}:event:42";
    assert_ok(rds_dedup_claim(key, 1, &claimed, &e), e);
    assert_int_equal(claimed, 1);
    assert_ok(rds_dedup_claim(key, 1, &claimed, &e), e);
    assert_int_equal(claimed, 0);
    /* Once the TTL has passed the key can be claimed again. */
    long long deadline = ts_now_ms() + 10000;
    claimed = 0;
    while (!claimed && ts_now_ms() < deadline) {
        assert_ok(rds_dedup_claim(key, 60, &claimed, &e), e);
        if (!claimed)
            ts_sleep_ms(50);
    }
    assert_int_equal(claimed, 1);
    redisReply *r = rds_command(1, &e, "TTL %s", key);
    assert_non_null(r);
    assert_true(r->integer > 1 && r->integer <= 60);
    freeReplyObject(r);
    assert_int_equal(rds_dedup_claim(key, 0, &claimed, &e), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);
}

static void test_streams(void **state)
{
    rds_err e;
    const char *s = "campsync:{events}:stream";
    char ids[5][RDS_STREAM_ID_MAX];
    for (int i = 0; i < 5; i++) {
        char n[8];
        snprintf(n, sizeof n, "%d", i);
        rds_field_in f[] = {{"n", n, 0}, {"kind", "ADDED", 0}};
        assert_ok(rds_stream_append(s, 1000, f, 2, ids[i], &e), e);
        assert_true(ids[i][0] != '\0');
    }

    rds_stream_batch b;
    assert_ok(rds_stream_read(s, "0", 10, -1, &b, &e), e);
    assert_int_equal(b.count, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(b.entries[i].id, ids[i]);
        char n[8];
        snprintf(n, sizeof n, "%d", i);
        assert_string_equal(rds_stream_field(&b.entries[i], "n")->value, n);
        assert_string_equal(rds_stream_field(&b.entries[i], "kind")->value, "ADDED");
    }
    assert_string_equal(b.next_id, ids[4]);
    rds_stream_batch_free(&b);

    /* Resume after an id; COUNT limits. */
    assert_ok(rds_stream_read(s, ids[2], 10, -1, &b, &e), e);
    assert_int_equal(b.count, 2);
    assert_string_equal(b.entries[0].id, ids[3]);
    rds_stream_batch_free(&b);
    assert_ok(rds_stream_read(s, "0", 2, -1, &b, &e), e);
    assert_int_equal(b.count, 2);
    rds_stream_batch_free(&b);

    /* Blocking longer than the command timeout is not a timeout. */
    rds_options o = {.command_timeout_ms = 200};
    assert_ok(rds_configure(ts_redis_url(srv), &o, &e), e);
    assert_ok(rds_stream_read(s, ids[4], 10, 600, &b, &e), e);
    assert_int_equal(b.count, 0);
    assert_ok(rds_configure(ts_redis_url(srv), NULL, &e), e);

    /* Consumer groups. */
    assert_ok(rds_stream_group_create(s, "g", "0", &e), e);
    assert_ok(rds_stream_group_create(s, "g", "0", &e), e);
    assert_ok(rds_stream_group_read(s, "g", "alice", ">", 3, -1, &b, &e), e);
    assert_int_equal(b.count, 3);
    assert_string_equal(b.entries[0].id, ids[0]);
    int64_t acked = -1;
    const char *one[] = {ids[0]};
    assert_ok(rds_stream_ack(s, "g", one, 1, &acked, &e), e);
    assert_int_equal(acked, 1);
    assert_ok(rds_stream_ack(s, "g", one, 1, &acked, &e), e);
    assert_int_equal(acked, 0);
    rds_stream_batch_free(&b);

    /* alice's unacked entries stay pending for her... */
    assert_ok(rds_stream_group_read(s, "g", "alice", "0", 10, -1, &b, &e), e);
    assert_int_equal(b.count, 2);
    assert_string_equal(b.entries[0].id, ids[1]);
    rds_stream_batch_free(&b);

    /* ...until bob claims them as stale. */
    assert_ok(rds_stream_autoclaim(s, "g", "bob", 0, "0-0", 10, &b, &e), e);
    assert_int_equal(b.count, 2);
    assert_string_equal(b.entries[0].id, ids[1]);
    assert_string_equal(b.entries[1].id, ids[2]);
    assert_string_equal(b.next_id, "0-0");
    assert_string_equal(rds_stream_field(&b.entries[1], "n")->value, "2");
    const char *two[] = {b.entries[0].id, b.entries[1].id};
    assert_ok(rds_stream_ack(s, "g", two, 2, &acked, &e), e);
    assert_int_equal(acked, 2);
    rds_stream_batch_free(&b);
    assert_ok(rds_stream_group_read(s, "g", "alice", "0", 10, -1, &b, &e), e);
    assert_int_equal(b.count, 0);
    rds_stream_batch_free(&b);

    /* A long idle threshold claims nothing. */
    assert_ok(rds_stream_group_read(s, "g", "bob", ">", 10, -1, &b, &e), e);
    assert_int_equal(b.count, 2);
    rds_stream_batch_free(&b);
    assert_ok(rds_stream_autoclaim(s, "g", "carol", 3600000, "0-0", 10, &b, &e), e);
    assert_int_equal(b.count, 0);
    rds_stream_batch_free(&b);
    assert_ok(rds_stream_group_read(s, "g", "bob", ">", 10, -1, &b, &e), e);
    assert_int_equal(b.count, 0);
    rds_stream_batch_free(&b);

    /* Reading a group that does not exist is a clear error. */
    assert_int_equal(rds_stream_group_read(s, "nogroup", "x", ">", 1, -1, &b, &e), -1);
    assert_int_equal(e.code, RDS_ERR_REPLY);
    assert_non_null(strstr(e.msg, "NOGROUP"));

    /* MAXLEN ~ trims. */
    const char *t = "campsync:{events}:trim";
    for (int i = 0; i < 300; i++) {
        rds_field_in f[] = {{"i", "x", 0}};
        assert_ok(rds_stream_append(t, 10, f, 1, NULL, &e), e);
    }
    redisReply *r = rds_command(1, &e, "XLEN %s", t);
    assert_non_null(r);
    assert_true(r->integer < 300);
    freeReplyObject(r);
}

static void test_auth(void **state)
{
    ts_redis_opts o = {.password = "pa55word"};
    ts_redis *r = ts_redis_start(&o);
    assert_non_null(r);
    rds_err e = {0};
    char url[256];
    rds_options fast = {.backoff_min_ms = 1, .backoff_max_ms = 1};

    snprintf(url, sizeof url, "redis://:wrongpass@127.0.0.1:%d", ts_redis_port(r));
    assert_ok(rds_configure(url, &fast, &e), e);
    assert_null(rds_command(1, &e, "PING"));
    assert_int_equal(e.code, RDS_ERR_AUTH);
    assert_non_null(strstr(e.msg, "AUTH"));
    assert_null(strstr(e.msg, "wrongpass"));

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ts_redis_port(r));
    assert_ok(rds_configure(url, &fast, &e), e);
    assert_null(rds_command(1, &e, "PING"));
    assert_int_equal(e.code, RDS_ERR_AUTH);
    assert_non_null(strstr(e.msg, "password"));

    assert_ok(rds_configure(ts_redis_url(r), NULL, &e), e);
    assert_ok(rds_set("campsync:{auth}:k", "v", 0, 0, &e), e);

    snprintf(url, sizeof url, "redis://default:pa55word@127.0.0.1:%d/2", ts_redis_port(r));
    assert_ok(rds_configure(url, NULL, &e), e);
    char *v = NULL;
    /* Database 2 is a different keyspace. */
    assert_ok(rds_get("campsync:{auth}:k", &v, NULL, &e), e);
    assert_null(v);
    ts_redis_free(r);
}

static void test_timeout(void **state)
{
    rds_err e;
    rds_options o = {.command_timeout_ms = 200};
    assert_ok(rds_configure(ts_redis_url(srv), &o, &e), e);
    /* BLPOP blocks server-side beyond our timeout. */
    assert_null(rds_command(0, &e, "BLPOP campsync:{to}:none 5"));
    assert_int_equal(e.code, RDS_ERR_CONN);
    assert_non_null(strstr(e.msg, "timed out"));
    /* The dead context is replaced at once. */
    redisReply *r = rds_command(1, &e, "PING");
    assert_non_null(r);
    freeReplyObject(r);
}

/* total_connections_received from INFO stats. */
static long long connections_received(void)
{
    rds_err e;
    redisReply *r = rds_command(1, &e, "INFO stats");
    if (!r)
        fail_msg("INFO: %s", e.msg);
    const char *p = strstr(r->str, "total_connections_received:");
    long long n = p ? atoll(p + strlen("total_connections_received:")) : -1;
    freeReplyObject(r);
    return n;
}

/* CLIENT PAUSE holds our commands server-side for 1.5 s; our timeout is 1 s. */
static void pause_server(void)
{
    rds_err e;
    redisReply *r = rds_command(1, &e, "CLIENT PAUSE 1500 ALL");
    if (!r)
        fail_msg("CLIENT PAUSE: %s", e.msg);
    freeReplyObject(r);
}

static void test_timeout_retry(void **state)
{
    rds_err e;
    rds_options o = {.command_timeout_ms = 1000};
    assert_ok(rds_configure(ts_redis_url(srv), &o, &e), e);
    long long before = connections_received();
    assert_true(before > 0);

    /* Not idempotent: times out and is not sent again. */
    pause_server();
    rds_field_in f[] = {{"k", "v", 0}};
    assert_int_equal(rds_stream_append("campsync:{retry}:s", 0, f, 1, NULL, &e), -1);
    assert_int_equal(e.code, RDS_ERR_CONN);
    assert_non_null(strstr(e.msg, "timed out"));
    long long after_append = connections_received(); /* this INFO reconnects */
    assert_int_equal(after_append, before + 1);

    /* Idempotent: the first attempt times out, the resend on a new
     * connection is answered once the pause ends. */
    pause_server();
    assert_ok(rds_set("campsync:{retry}:k", "v", 0, 0, &e), e);
    assert_int_equal(connections_received(), after_append + 1);
}

static void test_kill_and_restart(void **state)
{
    ts_redis *r = ts_redis_start(NULL);
    assert_non_null(r);
    rds_err e;
    rds_options o = {.backoff_min_ms = 10, .backoff_max_ms = 100};
    assert_ok(rds_configure(ts_redis_url(r), &o, &e), e);
    assert_ok(rds_set("campsync:{kr}:k", "1", 0, 0, &e), e);

    /* Restarted while our connection sat idle: the very next command, even
     * one that is never resent, goes out on a fresh connection. */
    assert_int_equal(ts_redis_kill(r), 0);
    assert_int_equal(ts_redis_restart(r), 0);
    char id[RDS_STREAM_ID_MAX];
    rds_field_in f[] = {{"k", "v", 0}};
    assert_ok(rds_stream_append("campsync:{kr}:s", 0, f, 1, id, &e), e);

    /* While it is down every call fails promptly with a connection error. */
    assert_int_equal(ts_redis_kill(r), 0);
    for (int i = 0; i < 5; i++) {
        char *v = NULL;
        assert_int_equal(rds_get("campsync:{kr}:k", &v, NULL, &e), -1);
        assert_int_equal(e.code, RDS_ERR_CONN);
        assert_null(v);
        assert_int_equal(rds_stream_append("campsync:{kr}:s", 0, f, 1, id, &e), -1);
        assert_int_equal(e.code, RDS_ERR_CONN);
        int64_t tok = -1;
        assert_int_equal(rds_lock_acquire("kr", "job", 1000, &tok, &e), -1);
        assert_int_equal(tok, 0);
    }

    /* Back on the same port: once the backoff delay (at most 100 ms here)
     * has passed, the next command reconnects and succeeds. */
    assert_int_equal(ts_redis_restart(r), 0);
    ts_sleep_ms(150);
    assert_ok(rds_set("campsync:{kr}:k", "2", 0, 0, &e), e);
    char *v = NULL;
    assert_ok(rds_get("campsync:{kr}:k", &v, NULL, &e), e);
    assert_string_equal(v, "2");
    free(v);

    /* Scripts were lost with the restart: EVALSHA falls back again. */
    int64_t tok = 0;
    assert_ok(rds_lock_acquire("kr", "job", 1000, &tok, &e), e);
    assert_true(tok > 0);
    ts_redis_free(r);
}

static void test_refused_port(void **state)
{
    /* Nothing listens: errors, never a hang or crash, and fail-fast inside
     * the backoff window. */
    int port = ts_free_port();
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    rds_err e;
    rds_options o = {.backoff_min_ms = 60000, .backoff_max_ms = 60000};
    assert_ok(rds_configure(url, &o, &e), e);
    assert_null(rds_command(1, &e, "PING"));
    assert_int_equal(e.code, RDS_ERR_CONN);
    assert_non_null(strstr(e.msg, "cannot connect"));
    assert_null(rds_command(1, &e, "PING"));
    assert_int_equal(e.code, RDS_ERR_CONN);
    assert_non_null(strstr(e.msg, "next reconnect attempt"));
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a stray SIGPIPE must fail the test, not vanish */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_roundtrip, use_shared),
        cmocka_unit_test_setup(test_threads, use_shared),
        cmocka_unit_test_setup(test_lock_contention, use_shared),
        cmocka_unit_test_setup(test_lock_expiry_and_owner, use_shared),
        cmocka_unit_test_setup(test_fence, use_shared),
        cmocka_unit_test_setup(test_dedup, use_shared),
        cmocka_unit_test_setup(test_streams, use_shared),
        cmocka_unit_test_setup(test_auth, use_shared),
        cmocka_unit_test_setup(test_timeout, use_shared),
        cmocka_unit_test_setup(test_timeout_retry, use_shared),
        cmocka_unit_test_setup(test_kill_and_restart, use_shared),
        cmocka_unit_test_setup(test_refused_port, use_shared),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
