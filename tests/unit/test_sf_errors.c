/*
 * Salesforce error handling: error bodies of every shape (REST array, OAuth
 * object, HTML, garbage, nothing) parse without crashing; the one mapping
 * table gives the documented decision for each case; the gRPC status message
 * carries Salesforce's errorCode and message; ERRORS.md equals the table
 * (run with CAMPSYNC_UPDATE_DOCS=1 to rewrite it). Also the Sforce-Limit-Info
 * parser and the refuse-new-work threshold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc.h"
#include "sf_errors.h"
#include "sf_limits.h"

/* ctest sets CAMPSYNC_SOURCE_DIR; run by hand from the source root otherwise. */
#define SOURCE_DIR_FALLBACK "."

static void test_parse_rest_error_array(void **state)
{
    (void)state;
    const char *body =
        "[{\"message\":\"\\nSELECT Idd FROM Lead\\n       ^\\nERROR at Row:1:Column:8\\n"
        "No such column 'Idd' on entity 'Lead'.\",\"errorCode\":\"INVALID_FIELD\"},"
        "{\"message\":\"second\",\"errorCode\":\"OTHER\"}]";
    sf_api_error e;
    sf_api_error_parse(400, body, strlen(body), &e);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.error_code, "INVALID_FIELD");
    assert_int_equal(e.n_errors, 2);
    assert_non_null(strstr(e.message, "No such column 'Idd'"));
    assert_null(strchr(e.message, '\n'));
    body = "[{\"message\":\"Required fields are missing: [Company]\",\"errorCode\":"
           "\"REQUIRED_FIELD_MISSING\",\"fields\":[\"Company\",\"LastName\"]}]";
    sf_api_error_parse(400, body, strlen(body), &e);
    assert_string_equal(e.fields, "Company, LastName");
    char msg[600];
    sf_error_status_message(&e, msg, sizeof msg);
    assert_string_equal(msg, "salesforce REQUIRED_FIELD_MISSING (HTTP 400): Required fields are "
                             "missing: [Company] [fields: Company, LastName]");
}

static void test_parse_oauth_and_junk(void **state)
{
    (void)state;
    sf_api_error e;
    const char *body =
        "{\"error\":\"invalid_grant\",\"error_description\":\"authentication failure\"}";
    sf_api_error_parse(400, body, strlen(body), &e);
    assert_string_equal(e.error_code, "invalid_grant");
    assert_string_equal(e.message, "authentication failure");
    const sf_error_rule *r = sf_error_classify(&e);
    assert_int_equal(r->status, GRPC_STATUS_UNAUTHENTICATED);
    assert_int_equal(r->action, SF_ACTION_FAIL);

    const char *junk[] = {"<html><body>Service Unavailable\r\n</body></html>",
                          "[",
                          "[1,2]",
                          "{\"errorCode\":5}",
                          "null",
                          "\x01\x02\xff garbage"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        sf_api_error_parse(503, junk[i], strlen(junk[i]), &e);
        assert_string_equal(e.error_code, "");
        for (const char *p = e.message; *p; p++)
            assert_true((unsigned char)*p >= 0x20);
    }
    sf_api_error_parse(503, junk[0], strlen(junk[0]), &e);
    assert_string_equal(e.message, "<html><body>Service Unavailable  </body></html>");
    sf_api_error_parse(503, NULL, 0, &e);
    assert_string_equal(e.message, "");
    char msg[600];
    sf_error_status_message(&e, msg, sizeof msg);
    assert_string_equal(msg, "salesforce HTTP 503: ");
    /* A huge body is cut, never overflows. */
    size_t n = 100000;
    char *big = malloc(n);
    memset(big, 'x', n);
    sf_api_error_parse(500, big, n, &e);
    assert_int_equal(strlen(e.message), 200);
    free(big);
    char small[16];
    e.http_status = 0;
    snprintf(e.message, sizeof e.message, "Connection refused");
    sf_error_status_message(&e, small, sizeof small);
    assert_string_equal(small, "salesforce: no ");
}

typedef struct {
    int status;
    const char *code;
    grpc_status_code want;
    sf_action action;
} case_t;

static void test_classification_table(void **state)
{
    (void)state;
    static const case_t cases[] = {
        {401, "INVALID_SESSION_ID", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_REAUTH_ONCE},
        {401, "", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_REAUTH_ONCE},
        {403, "REQUEST_LIMIT_EXCEEDED", GRPC_STATUS_RESOURCE_EXHAUSTED, SF_ACTION_FAIL},
        {400, "UNABLE_TO_LOCK_ROW", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {503, "", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {503, "SERVER_UNAVAILABLE", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {0, "", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {502, "", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {599, "", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {500, "UNKNOWN_EXCEPTION", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
        {400, "MALFORMED_QUERY", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL},
        {400, "INVALID_FIELD", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL},
        {400, "INVALID_TYPE", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL},
        {404, "NOT_FOUND", GRPC_STATUS_NOT_FOUND, SF_ACTION_FAIL},
        {404, "", GRPC_STATUS_NOT_FOUND, SF_ACTION_FAIL},
        {400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL},
        {400, "DUPLICATE_VALUE", GRPC_STATUS_FAILED_PRECONDITION, SF_ACTION_FAIL},
        {403, "INSUFFICIENT_ACCESS", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL},
        {400, "INSUFFICIENT_ACCESS_OR_READONLY", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL},
        {403, "", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL},
        {403, "API_DISABLED_FOR_ORG", GRPC_STATUS_PERMISSION_DENIED, SF_ACTION_FAIL},
        {400, "INVALID_QUERY_LOCATOR", GRPC_STATUS_ABORTED, SF_ACTION_FAIL},
        {414, "", GRPC_STATUS_INTERNAL, SF_ACTION_FAIL},
        {418, "", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL},
        {400, "SOMETHING_NEW", GRPC_STATUS_INVALID_ARGUMENT, SF_ACTION_FAIL},
        {400, "invalid_client_id", GRPC_STATUS_UNAUTHENTICATED, SF_ACTION_FAIL},
        {302, "", GRPC_STATUS_UNAVAILABLE, SF_ACTION_RETRY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sf_api_error e;
        memset(&e, 0, sizeof e);
        e.http_status = cases[i].status;
        snprintf(e.error_code, sizeof e.error_code, "%s", cases[i].code);
        const sf_error_rule *r = sf_error_classify(&e);
        assert_non_null(r);
        if (r->status != cases[i].want || r->action != cases[i].action)
            fail_msg("%d %s: got %s/%d, want %s/%d", cases[i].status, cases[i].code,
                     rpc_status_name(r->status), r->action, rpc_status_name(cases[i].want),
                     cases[i].action);
    }
}

static void test_status_message_format(void **state)
{
    (void)state;
    const char *body = "[{\"message\":\"TotalRequests Limit exceeded.\",\"errorCode\":"
                       "\"REQUEST_LIMIT_EXCEEDED\"}]";
    sf_api_error e;
    sf_api_error_parse(403, body, strlen(body), &e);
    char msg[600];
    sf_error_status_message(&e, msg, sizeof msg);
    assert_string_equal(msg, "salesforce REQUEST_LIMIT_EXCEEDED (HTTP 403): TotalRequests Limit "
                             "exceeded.");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void test_errors_md_in_sync(void **state)
{
    (void)state;
    char *md = sf_errors_markdown();
    assert_non_null(md);
    assert_non_null(strstr(md, "| 401 | INVALID_SESSION_ID | UNAUTHENTICATED | new token, retry "
                               "once |"));
    assert_non_null(strstr(md, "| 403 | REQUEST_LIMIT_EXCEEDED | RESOURCE_EXHAUSTED | fail |"));
    size_t n;
    sf_error_rules(&n);
    size_t rows = 0;
    for (const char *p = md; (p = strstr(p, "\n| ")) != NULL; p++)
        rows++;
    assert_int_equal(rows, n + 1); /* + the header row */
    const char *src = getenv("CAMPSYNC_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/services/salesforce-connector/ERRORS.md",
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
        fail_msg("%s differs from sf_errors_markdown(); regenerate with CAMPSYNC_UPDATE_DOCS=1",
                 path);
    free(doc);
    free(md);
}

static void test_record_skips(void **state)
{
    (void)state;
    assert_true(sf_record_failure_is_skip(SF_OP_ADD_MEMBER, "DUPLICATE_VALUE"));
    assert_false(sf_record_failure_is_skip(SF_OP_CREATE, "DUPLICATE_VALUE"));
    assert_true(sf_record_failure_is_skip(SF_OP_DELETE, "ENTITY_IS_DELETED"));
    assert_false(sf_record_failure_is_skip(SF_OP_UPDATE, "ENTITY_IS_DELETED"));
    assert_false(sf_record_failure_is_skip(SF_OP_ADD_MEMBER, NULL));
}

static void test_limits(void **state)
{
    (void)state;
    sf_api_usage u;
    sf_err err = {{0}};
    assert_int_equal(sf_limits_parse("api-usage=18/5000", &u, &err), 0);
    assert_int_equal(u.used, 18);
    assert_int_equal(u.limit, 5000);
    assert_int_equal(
        sf_limits_parse(
            "per-app-api-usage=17/250(appName=sample-connected-app), api-usage=4500/5000", &u,
            &err),
        0);
    assert_int_equal(u.used, 4500);
    assert_true(sf_limits_must_refuse(&u, SF_LIMITS_DEFAULT_THRESHOLD_PCT));
    u.used = 4499;
    assert_false(sf_limits_must_refuse(&u, SF_LIMITS_DEFAULT_THRESHOLD_PCT));
    assert_true(sf_limits_must_refuse(&u, 80.0));
    assert_true(sf_limits_parse("Sforce-Limit-Info: api-usage=25/15000;per-app-api-usage=1/10", &u,
                                &err) == 0);
    assert_int_equal(u.used, 25);
    assert_int_equal(u.limit, 15000);
    assert_true(sf_limits_parse("  API-USAGE = 7/100 ", &u, &err) == 0);
    assert_int_equal(u.used, 7);
    assert_true(sf_limits_parse("api-usage=5100/5000", &u, &err) == 0);
    assert_true(sf_limits_used_pct(&u) > 100.0);
    assert_true(sf_limits_must_refuse(&u, 100.0));

    const char *bad[] = {"",
                         "per-app-api-usage=1/10",
                         "api-usage=",
                         "api-usage=10",
                         "api-usage=10/0",
                         "api-usage=-1/100",
                         "api-usage=1/100x",
                         "api-usage=99999999999999999999/100",
                         "x-api-usage=1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(sf_limits_parse(bad[i], &u, &err), -1);
        assert_non_null(strstr(err.msg, "Sforce-Limit-Info"));
        assert_int_equal(u.limit, 0);
        assert_false(sf_limits_must_refuse(&u, 0.0));
    }
    assert_int_equal(sf_limits_parse(NULL, &u, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rest_error_array),
        cmocka_unit_test(test_parse_oauth_and_junk),
        cmocka_unit_test(test_classification_table),
        cmocka_unit_test(test_status_message_format),
        cmocka_unit_test(test_errors_md_in_sync),
        cmocka_unit_test(test_record_skips),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
