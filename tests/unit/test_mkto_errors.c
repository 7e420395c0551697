/*
 * The Marketo error table: each documented code gets the documented decision
 * (601/602 re-auth once, 606/615/604/608/611/713 back off, 607 quota with its
 * reset at midnight US Central time, 609/7xx INVALID_ARGUMENT, 610
 * NOT_FOUND), record codes map to per-record outcomes by operation (1037 and
 * a remove's 1013 are SKIPPED), the status message reads
 * "marketo <code>: <message>", and ERRORS.md equals the table (regenerate
 * with CAMPSYNC_UPDATE_DOCS=1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_errors.h"

/* ctest sets CAMPSYNC_SOURCE_DIR; run by hand from the source root otherwise. */
#define SOURCE_DIR_FALLBACK "."

typedef struct {
    int code;
    grpc_status_code status;
    mkto_action action;
} code_case;

static void test_request_codes(void **state)
{
    (void)state;
    static const code_case cases[] = {
        {601, GRPC_STATUS_UNAUTHENTICATED, MKTO_ACTION_REAUTH_ONCE},
        {602, GRPC_STATUS_UNAUTHENTICATED, MKTO_ACTION_REAUTH_ONCE},
        {603, GRPC_STATUS_PERMISSION_DENIED, MKTO_ACTION_FAIL},
        {604, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {606, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {607, GRPC_STATUS_RESOURCE_EXHAUSTED, MKTO_ACTION_WAIT_QUOTA},
        {608, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {609, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
        {610, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL},
        {611, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {615, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {699, GRPC_STATUS_UNKNOWN, MKTO_ACTION_FAIL},
        {701, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
        {702, GRPC_STATUS_NOT_FOUND, MKTO_ACTION_FAIL},
        {709, GRPC_STATUS_FAILED_PRECONDITION, MKTO_ACTION_FAIL},
        {713, GRPC_STATUS_UNAVAILABLE, MKTO_ACTION_RETRY},
        {799, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
        {1003, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
        {1029, GRPC_STATUS_RESOURCE_EXHAUSTED, MKTO_ACTION_FAIL},
        {1999, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
        {0, GRPC_STATUS_INVALID_ARGUMENT, MKTO_ACTION_FAIL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const mkto_error_rule *r = mkto_error_classify(cases[i].code);
        assert_non_null(r);
        if (r->status != cases[i].status || r->action != cases[i].action)
            fail_msg("code %d: got status %d action %d", cases[i].code, r->status, r->action);
    }
}

static void test_http_failures(void **state)
{
    (void)state;
    assert_int_equal(mkto_http_classify(0)->action, MKTO_ACTION_RETRY);
    assert_int_equal(mkto_http_classify(0)->status, GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(mkto_http_classify(-7)->action, MKTO_ACTION_RETRY);
    assert_int_equal(mkto_http_classify(401)->status, GRPC_STATUS_UNAUTHENTICATED);
    assert_int_equal(mkto_http_classify(401)->action, MKTO_ACTION_FAIL);
    assert_int_equal(mkto_http_classify(414)->action, MKTO_ACTION_USE_POST);
    assert_int_equal(mkto_http_classify(413)->status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mkto_http_classify(502)->action, MKTO_ACTION_RETRY);
    assert_int_equal(mkto_http_classify(503)->action, MKTO_ACTION_RETRY);
    assert_int_equal(mkto_http_classify(504)->status, GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(mkto_http_classify(404)->status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(mkto_http_classify(404)->action, MKTO_ACTION_FAIL);
}

static void test_record_outcomes(void **state)
{
    (void)state;
    const Campsync__V1__Outcome S = CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED,
                                F = CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED;
    assert_int_equal(mkto_record_outcome(MKTO_OP_STATUS, 1037), S);
    assert_int_equal(mkto_record_outcome(MKTO_OP_STATUS, 1004), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_REMOVE, 1004), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_REMOVE, 1013), S);
    assert_int_equal(mkto_record_outcome(MKTO_OP_STATUS, 1013), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_STATUS, 1025), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_UPSERT, 1005), S);
    assert_int_equal(mkto_record_outcome(MKTO_OP_UPSERT, 1006), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_UPSERT, 1003), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_UPSERT, 1777), F);
    assert_int_equal(mkto_record_outcome(MKTO_OP_ANY, 1013), F);
}

static void test_status_message(void **state)
{
    (void)state;
    char buf[128];
    mkto_status_message(606, "Max rate limit '100' exceeded with in '20' secs", buf, sizeof buf);
    assert_string_equal(buf, "marketo 606: Max rate limit '100' exceeded with in '20' secs");
    mkto_status_message(611, "", buf, sizeof buf);
    assert_string_equal(buf, "marketo 611: (no message)");
    char small[12];
    mkto_status_message(607, "Daily quota reached", small, sizeof small);
    assert_string_equal(small, "marketo 607");
}

static void test_quota_reset(void **state)
{
    (void)state;
    /* Expected values computed with the IANA America/Chicago zone. */
    static const int64_t cases[][2] = {
        {1769860800000LL, 1769925600000LL}, /* 2026-01-31 12:00Z (CST) -> 02-01 06:00Z */
        {1782881999000LL, 1782882000000LL}, /* 2026-07-01 04:59:59Z (CDT) -> 05:00Z */
        {1782882000000LL, 1782968400000LL}, /* exactly midnight -> the next one */
        {1772938800000LL, 1772949600000LL}, /* DST starts 03-08: midnight is still CST */
        {1772971200000LL, 1773032400000LL}, /* after the switch -> 03-09 05:00Z */
        {1793448000000LL, 1793509200000LL}, /* DST ends 11-01: midnight is still CDT */
        {1793534400000LL, 1793599200000LL}, /* after the switch -> 11-02 06:00Z */
        {1735687800000LL, 1735711200000LL}, /* across a new year */
        {1805011199000LL, 1805086800000LL}, /* 2027-03-14 one second before the switch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(mkto_quota_reset_ms(cases[i][0]), cases[i][1]);
    /* Properties over two years, hour by hour. */
    for (int64_t t = 1767225600000LL; t < 1830297600000LL; t += 3600000LL + 17) {
        int64_t r = mkto_quota_reset_ms(t);
        assert_true(r > t);
        assert_true(r - t <= 25LL * 3600000);
        int64_t hour = (r / 3600000) % 24;
        assert_true(hour == 5 || hour == 6);
        assert_int_equal(r % 3600000, 0);
        assert_int_equal(mkto_quota_reset_ms(r - 1), r);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void test_errors_md_in_sync(void **state)
{
    (void)state;
    char *md = mkto_errors_markdown();
    assert_non_null(md);
    assert_non_null(strstr(md, "| 1037 | any | FAILED_PRECONDITION | fail | SKIPPED |"));
    assert_non_null(strstr(md, "| 607 | any | RESOURCE_EXHAUSTED | refuse until quota reset |"));
    assert_non_null(strstr(md, "| 1013 | remove members | NOT_FOUND | fail | SKIPPED |"));
    size_t n, rows = 0;
    mkto_error_rules(&n);
    for (const char *p = md; (p = strstr(p, "\n| ")) != NULL; p++)
        rows++;
    assert_int_equal(rows, n + 1);
    const char *src = getenv("CAMPSYNC_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/services/marketo-connector/ERRORS.md",
             src ? src : SOURCE_DIR_FALLBACK);
    if (getenv("CAMPSYNC_UPDATE_DOCS")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(md, f);
        fclose(f);
    }
    char *doc = read_file(path);
    if (!doc)
        fail_msg("cannot read %s", path);
    if (strcmp(doc, md) != 0)
        fail_msg("%s differs from mkto_errors_markdown(); regenerate with CAMPSYNC_UPDATE_DOCS=1",
                 path);
    free(doc);
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_codes),   cmocka_unit_test(test_http_failures),
        cmocka_unit_test(test_record_outcomes), cmocka_unit_test(test_status_message),
        cmocka_unit_test(test_quota_reset),     cmocka_unit_test(test_errors_md_in_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
