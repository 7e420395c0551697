/*
 * Marketo batching and query strings: batches of 300, filterValues lists
 * that keep a GET under 8 KB (checked against the URL actually built), the
 * switch to POST with _method=GET for long queries, and updatedAt ranges cut
 * into windows of at most 7 days that tile the range exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_batch.h"
#include "mkto_query.h"

static void test_batches(void **state)
{
    (void)state;
    size_t off, len;
    assert_int_equal(mkto_batch_count(0), 0);
    assert_int_equal(mkto_batch_count(1), 1);
    assert_int_equal(mkto_batch_count(300), 1);
    assert_int_equal(mkto_batch_count(301), 2);
    assert_int_equal(mkto_batch_count(900), 3);
    mkto_batch_range(1, 301, &off, &len);
    assert_int_equal(off, 300);
    assert_int_equal(len, 1);
    mkto_batch_range(0, 301, &off, &len);
    assert_int_equal(len, 300);
    mkto_batch_range(5, 301, &off, &len);
    assert_int_equal(len, 0);
}

static void test_params_and_request(void **state)
{
    (void)state;
    mkto_err err = {{0}};
    mkto_params *p = mkto_params_new();
    int64_t ids[] = {1800, 1801};
    const char *fields[] = {"leadId", "statusName", "reachedSuccess"};
    assert_int_equal(mkto_params_add(p, "filterType", "leadId", &err), 0);
    assert_int_equal(mkto_params_add_ints(p, "filterValues", ids, 2, &err), 0);
    assert_int_equal(mkto_params_add_strs(p, "fields", fields, 3, &err), 0);
    assert_int_equal(mkto_params_add_int(p, "batchSize", 300, &err), 0);
    assert_int_equal(mkto_params_add_time(p, "startAt", 1769860800999LL, &err), 0);
    assert_int_equal(mkto_params_add(p, "nextPageToken", "A+B/C=", &err), 0);
    char *q = mkto_params_encode(p);
    assert_string_equal(q, "filterType=leadId&filterValues=1800%2C1801&fields=leadId%2CstatusName"
                           "%2CreachedSuccess&batchSize=300&startAt=2026-01-31T12%3A00%3A00Z&"
                           "nextPageToken=A%2BB%2FC%3D");
    assert_int_equal(strlen(q), mkto_params_encoded_len(p));
    mkto_request r;
    assert_int_equal(
        mkto_request_build("/rest/v1/programs/1044/members.json", p, MKTO_MAX_URL, &r, &err), 0);
    assert_false(r.post_form);
    assert_null(r.form_body);
    assert_int_equal(strncmp(r.target, "/rest/v1/programs/1044/members.json?filterType=", 47), 0);
    mkto_request_clear(&r);
    /* Over the limit: POST with _method=GET and the same parameters as the body. */
    assert_int_equal(mkto_request_build("/rest/v1/leads.json", p, 100, &r, &err), 0);
    assert_true(r.post_form);
    assert_string_equal(r.target, "/rest/v1/leads.json?_method=GET");
    assert_string_equal(r.form_body, q);
    mkto_request_clear(&r);
    assert_int_equal(mkto_request_build("/rest/v1/leads.json?x=1", p, 8192, &r, &err), -1);
    assert_int_equal(mkto_request_build("rest/v1/leads.json", p, 8192, &r, &err), -1);
    free(q);

    const char *bad[] = {"a@b.com", "x,y@b.com"};
    assert_int_equal(mkto_params_add_strs(p, "filterValues", bad, 2, &err), -1);
    assert_non_null(strstr(err.msg, "value 1"));
    assert_int_equal(mkto_params_add_strs(p, "filterValues", bad, 0, &err), -1);
    assert_int_equal(mkto_params_add(p, "x", "bad \xc3\x28", &err), -1);
    assert_non_null(strstr(err.msg, "UTF-8"));
    mkto_params_free(p);

    mkto_params *empty = mkto_params_new();
    assert_int_equal(mkto_request_build("/rest/v1/activities/types.json", empty, 8192, &r, &err),
                     0);
    assert_string_equal(r.target, "/rest/v1/activities/types.json");
    mkto_request_clear(&r);
    mkto_params_free(empty);
}

/* The URL really built with the chosen values fits; one more value would not. */
static void test_filter_fit_matches_real_url(void **state)
{
    (void)state;
    size_t n = 1000;
    char **emails = calloc(n, sizeof *emails);
    for (size_t i = 0; i < n; i++)
        assert_true(asprintf(&emails[i], "person.%zu+tag@example-%zu.com", i * 7919, i % 13) > 0);
    const char *base = "/rest/v1/leads.json?filterType=email&fields=id%2Cemail";
    size_t base_len = strlen(base);
    for (size_t max = 600; max <= MKTO_MAX_URL; max += 1900) {
        size_t k = mkto_filter_fit_strs(base_len, (const char *const *)emails, n, max);
        assert_true(k >= 1 && k <= MKTO_BATCH_MAX);
        for (size_t extra = 0; extra < 2; extra++) {
            mkto_params *p = mkto_params_new();
            mkto_err err;
            assert_int_equal(mkto_params_add_strs(p, "filterValues", (const char *const *)emails,
                                                  k + extra, &err),
                             0);
            char *q = mkto_params_encode(p);
            size_t url = base_len + 1 + strlen(q);
            if (extra == 0)
                assert_true(url <= max);
            else if (k < MKTO_BATCH_MAX)
                assert_true(url > max);
            free(q);
            mkto_params_free(p);
        }
    }
    assert_int_equal(mkto_filter_fit_strs(base_len, (const char *const *)emails, n, base_len + 5),
                     0);
    int64_t ids[400];
    for (int i = 0; i < 400; i++)
        ids[i] = 1000000 + i;
    assert_int_equal(mkto_filter_fit_ints(50, ids, 400, MKTO_MAX_URL), MKTO_BATCH_MAX);
    /* 50 + 14 + 7 digits, then 10 bytes per further id: 4 ids take 101 bytes. */
    assert_int_equal(mkto_filter_fit_ints(50, ids, 400, 101), 4);
    assert_int_equal(mkto_filter_fit_ints(50, ids, 400, 100), 3);
    for (size_t i = 0; i < n; i++)
        free(emails[i]);
    free(emails);
}

static void test_windows(void **state)
{
    (void)state;
    mkto_window *w;
    size_t n;
    mkto_err err = {{0}};
    const int64_t day = 86400000LL, from = 1767225600000LL;
    assert_int_equal(mkto_windows(from, from + 30 * day + 5, &w, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(w[0].start_ms, from);
    for (size_t i = 0; i < n; i++) {
        assert_true(w[i].end_ms > w[i].start_ms);
        assert_true(w[i].end_ms - w[i].start_ms <= MKTO_WINDOW_MAX_MS);
        if (i)
            assert_int_equal(w[i].start_ms, w[i - 1].end_ms);
    }
    assert_int_equal(w[n - 1].end_ms, from + 30 * day + 5);
    free(w);
    assert_int_equal(mkto_windows(from, from + 7 * day, &w, &n, &err), 0);
    assert_int_equal(n, 1);
    free(w);
    assert_int_equal(mkto_windows(from, from + 7 * day + 1, &w, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(w[1].end_ms - w[1].start_ms, 1);
    free(w);
    assert_int_equal(mkto_windows(from, from, &w, &n, &err), -1);
    assert_non_null(strstr(err.msg, "not after start"));
    assert_null(w);
    assert_int_equal(mkto_windows(from, from - 1, &w, &n, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_params_and_request),
        cmocka_unit_test(test_filter_fit_matches_real_url),
        cmocka_unit_test(test_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
