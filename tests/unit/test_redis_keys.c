/*
 * common/redis without a network: URL parsing (including the error messages
 * a misconfigured deployment sees, which must never leak the password), the
 * hash-tagged key builder, the script SHA-1, and the stream reply parsers fed
 * with raw RESP through hiredis's own reader.
 */
#include "redis/redis.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_url_full(void **state)
{
    rds_url u;
    rds_err e = {0};
    assert_int_equal(rds_url_parse("redis://app:p%40ss@cache.local:6380/3", &u, &e), 0);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p@ss");
    assert_int_equal(u.db, 3);
}

static void test_url_forms(void **state)
{
    rds_url u;
    rds_err e = {0};
    assert_int_equal(rds_url_parse("redis://localhost", &u, &e), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.password, "");
    assert_int_equal(u.db, 0);

    assert_int_equal(rds_url_parse("redis://:secret@127.0.0.1:7000", &u, &e), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "secret");
    assert_int_equal(u.port, 7000);

    /* A raw '@' in the password: the last '@' ends the credentials. */
    assert_int_equal(rds_url_parse("redis://:a@b@h:1/", &u, &e), 0);
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.db, 0);

    assert_int_equal(rds_url_parse("redis://[::1]:6390/2", &u, &e), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 2);

    assert_int_equal(rds_url_parse("REDIS://h", &u, &e), 0);
}

static void expect_bad(const char *url, const char *needle)
{
    rds_url u;
    rds_err e = {0};
    assert_int_equal(rds_url_parse(url, &u, &e), -1);
    assert_int_equal(e.code, RDS_ERR_CONFIG);
    if (!strstr(e.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", url, e.msg, needle);
    assert_null(strstr(e.msg, "hunter2"));
}

static void test_url_errors(void **state)
{
    expect_bad("", "empty");
    expect_bad("http://h:1", "redis://");
    expect_bad("rediss://:hunter2@h:1", "TLS");
    expect_bad("redis://:hunter2@", "host");
    expect_bad("redis://h:0", "port");
    expect_bad("redis://h:70000", "port");
    expect_bad("redis://h:12ab", "port");
    expect_bad("redis://h:1/x", "database");
    expect_bad("redis://hunter2@h:1", "PASSWORD");
    expect_bad("redis://:hunter2%zz@h:1", "password");
    expect_bad("redis://:hunter2%4@h:1", "password");
    expect_bad("redis://::1:6379", "brackets");
    expect_bad("redis://[::1:6379", "]");
    expect_bad("redis://h:1?timeout=3", "query");
    expect_bad("redis://:hunter2%00x@h:1", "password");
}

static void test_key_builder(void **state)
{
    char k[64];
    rds_err e = {0};
    assert_int_equal(rds_key(k, sizeof k, &e, "pair:123", "base"), 0);
    assert_string_equal(k, "campsync:{pair:123}:base");
    assert_int_equal(rds_key(k, sizeof k, &e, "pair:123", "member:%d:%s", 7, "x"), 0);
    assert_string_equal(k, "campsync:{pair:123}:member:7:x");

    assert_int_equal(rds_key(k, sizeof k, &e, "", "x"), -1);
    assert_int_equal(e.code, RDS_ERR_ARG);
    assert_int_equal(rds_key(k, sizeof k, &e, "a}b", "x"), -1);
    assert_int_equal(rds_key(k, sizeof k, &e, "a{b", "x"), -1);
    assert_int_equal(rds_key(k, sizeof k, NULL, NULL, "x"), -1);

    /* Exactly fitting works; one byte short is refused, not truncated. */
    char small[27];
    assert_int_equal(rds_key(small, 23, &e, "pair:123", "ab"), 0);
    assert_string_equal(small, "campsync:{pair:123}:ab");
    assert_int_equal(rds_key(small, 22, &e, "pair:123", "ab"), -1);
    assert_string_equal(small, "");
    assert_int_equal(rds_key(small, 10, &e, "pair:123", "ab"), -1);
    assert_true(strstr(e.msg, "too long") != NULL);
}

static void test_script_sha(void **state)
{
    char sha[41];
    rds_script_sha("", sha);
    assert_string_equal(sha, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    rds_script_sha("abc", sha);
    assert_string_equal(sha, "a9993e364706816aba3e25717850c26c9cd0d89d");
    rds_script_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", sha);
    assert_string_equal(sha, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* 64 bytes: the padding needs a second block. */
    char block[65];
    memset(block, 'a', 64);
    block[64] = '\0';
    rds_script_sha(block, sha);
    assert_string_equal(sha, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

/* Parses one RESP reply with hiredis's reader; the caller frees it. */
static redisReply *resp_n(const char *wire, size_t len)
{
    redisReader *rd = redisReaderCreate();
    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, wire, len), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(rd);
    return reply;
}

/* String literals may hold NULs: take their full size. */
#define resp(lit) resp_n(lit, sizeof(lit) - 1)

static void test_parse_read(void **state)
{
    rds_stream_batch b;
    rds_err e = {0};
    redisReply *r =
        resp("*1\r\n*2\r\n$2\r\nev\r\n*2\r\n"
             "*2\r\n$3\r\n1-0\r\n*4\r\n$4\r\ntype\r\n$5\r\nADDED\r\n$3\r\nbin\r\n$3\r\na\0b\r\n"
             "*2\r\n$3\r\n2-0\r\n*-1\r\n");
    assert_int_equal(rds_parse_read_reply(r, &b, &e), 0);
    freeReplyObject(r);
    assert_int_equal(b.count, 2);
    assert_string_equal(b.entries[0].id, "1-0");
    assert_int_equal(b.entries[0].nfields, 2);
    const rds_field *f = rds_stream_field(&b.entries[0], "type");
    assert_non_null(f);
    assert_string_equal(f->value, "ADDED");
    f = rds_stream_field(&b.entries[0], "bin");
    assert_non_null(f);
    assert_int_equal(f->value_len, 3);
    assert_memory_equal(f->value, "a\0b", 3);
    assert_null(rds_stream_field(&b.entries[0], "nope"));
    assert_int_equal(b.entries[1].nfields, 0);
    assert_string_equal(b.next_id, "2-0");
    rds_stream_batch_free(&b);
    assert_int_equal(b.count, 0);

    r = resp("*-1\r\n");
    assert_int_equal(rds_parse_read_reply(r, &b, &e), 0);
    assert_int_equal(b.count, 0);
    assert_string_equal(b.next_id, "");
    freeReplyObject(r);
}

static void test_parse_bad_shapes(void **state)
{
    static const char *const bad[] = {
        ":1\r\n",
        "*1\r\n:1\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n:5\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n:1\r\n*0\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\nx\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n1x0\r\n*0\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$2\r\n1-\r\n*0\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$5\r\n1-0-0\r\n*0\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n*2\r\n$0\r\n\r\n*0\r\n",
        "*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nx\r\n:1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rds_stream_batch b;
        rds_err e = {0};
        redisReply *r = resp_n(bad[i], strlen(bad[i]));
        if (rds_parse_read_reply(r, &b, &e) != -1)
            fail_msg("shape %zu was accepted", i);
        assert_int_equal(e.code, RDS_ERR_PROTO);
        assert_int_equal(b.count, 0);
        assert_null(b.entries);
        freeReplyObject(r);
    }
}

/* An id with a NUL byte would be cut short by anyone treating it as a string. */
static void test_parse_nul_in_id(void **state)
{
    rds_stream_batch b;
    rds_err e = {0};
    redisReply *r = resp("*1\r\n*2\r\n$2\r\nev\r\n*1\r\n*2\r\n$3\r\n1\0000\r\n*0\r\n");
    assert_int_equal(rds_parse_read_reply(r, &b, &e), -1);
    assert_int_equal(e.code, RDS_ERR_PROTO);
    freeReplyObject(r);
}

static void test_parse_autoclaim(void **state)
{
    rds_stream_batch b;
    rds_err e = {0};
    redisReply *r = resp("*3\r\n$3\r\n0-0\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
                         "*1\r\n$3\r\n4-0\r\n");
    assert_int_equal(rds_parse_autoclaim_reply(r, &b, &e), 0);
    freeReplyObject(r);
    assert_string_equal(b.next_id, "0-0");
    assert_int_equal(b.count, 1);
    assert_string_equal(b.entries[0].id, "5-1");
    assert_string_equal(b.entries[0].fields[0].name, "k");
    rds_stream_batch_free(&b);

    r = resp("*1\r\n$3\r\n0-0\r\n");
    assert_int_equal(rds_parse_autoclaim_reply(r, &b, &e), -1);
    assert_int_equal(e.code, RDS_ERR_PROTO);
    freeReplyObject(r);
}

/* Without rds_configure, calls fail with a message saying what to do. */
static void test_unconfigured(void **state)
{
    rds_err e = {0};
    char *v = NULL;
    assert_int_equal(rds_get("k", &v, NULL, &e), -1);
    assert_int_equal(e.code, RDS_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "rds_configure"));
    assert_null(v);
    assert_null(rds_command(1, &e, "PING"));
    assert_int_equal(e.code, RDS_ERR_CONFIG);
    rds_options bad = {.connect_timeout_ms = -1};
    assert_int_equal(rds_configure("redis://h:1", &bad, &e), -1);
    assert_int_equal(rds_configure("nope", NULL, &e), -1);
    assert_int_equal(e.code, RDS_ERR_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_full),         cmocka_unit_test(test_url_forms),
        cmocka_unit_test(test_url_errors),       cmocka_unit_test(test_key_builder),
        cmocka_unit_test(test_script_sha),       cmocka_unit_test(test_parse_read),
        cmocka_unit_test(test_parse_bad_shapes), cmocka_unit_test(test_parse_autoclaim),
        cmocka_unit_test(test_parse_nul_in_id),  cmocka_unit_test(test_unconfigured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
