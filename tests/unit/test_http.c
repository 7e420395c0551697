/*
 * Unit tests for the parts of common/http that need no server: percent
 * encoding, the query-string builder, Retry-After parsing, and refusing
 * requests before http_init. The network behaviour is covered by
 * tests/integration/test_http.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static void url_encode(void **state)
{
    char *e = http_url_encode("a b+c@x.com/é?&=~_-.");
    assert_string_equal(e, "a%20b%2Bc%40x.com%2F%C3%A9%3F%26%3D~_-.");
    free(e);
    e = http_url_encode("");
    assert_string_equal(e, "");
    free(e);
    e = http_url_encode("SELECT Id FROM Campaign WHERE Name = 'O''Neil'");
    assert_string_equal(e,
                        "SELECT%20Id%20FROM%20Campaign%20WHERE%20Name%20%3D%20%27O%27%27Neil%27");
    free(e);
}

static void query_builder(void **state)
{
    http_url u;
    http_url_init(&u, "https://mk.example.com/rest/v1/leads.json");
    http_url_param(&u, "filterType", "email");
    http_url_param(&u, "filterValues", "a+1@x.com,b@y.com");
    http_url_param_int(&u, "batchSize", 300);
    http_url_param(&u, "empty", NULL);
    assert_string_equal(http_url_str(&u), "https://mk.example.com/rest/v1/leads.json"
                                          "?filterType=email&filterValues=a%2B1%40x.com%2Cb%40y.com"
                                          "&batchSize=300&empty=");
    http_url_free(&u);

    /* A base with a query already (a Salesforce nextRecordsUrl, say) goes on with '&'. */
    http_url_init(&u, "https://x/q?a=1");
    http_url_param_int(&u, "b", -2);
    assert_string_equal(http_url_str(&u), "https://x/q?a=1&b=-2");
    http_url_free(&u);

    /* Long values grow the buffer. */
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    http_url_init(&u, "https://x/");
    http_url_param(&u, "v", big);
    assert_int_equal(strlen(http_url_str(&u)), strlen("https://x/?v=") + sizeof big - 1);
    http_url_free(&u);
}

static void retry_after(void **state)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT */
    const time_t t0 = 784111777;
    assert_int_equal(http_parse_retry_after("120", t0), 120000);
    assert_int_equal(http_parse_retry_after(" 0 ", t0), 0);
    assert_int_equal(http_parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", t0), 10000);
    /* The two obsolete date formats HTTP still allows. */
    assert_int_equal(http_parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", t0), 60000);
    assert_int_equal(http_parse_retry_after("Sun Nov  6 08:49:39 1994", t0), 2000);
    /* A date in the past means "now". */
    assert_int_equal(http_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", t0), 0);
    assert_int_equal(http_parse_retry_after("soon", t0), -1);
    assert_int_equal(http_parse_retry_after("12abc", t0), -1);
    assert_int_equal(http_parse_retry_after("", t0), -1);
    assert_int_equal(http_parse_retry_after(NULL, t0), -1);
    assert_true(http_parse_retry_after("99999999999999999999999", t0) == LONG_MAX);
}

static void refuses_before_init(void **state)
{
    http_request req = {.method = HTTP_GET, .url = "https://example.com/"};
    http_response resp;
    http_error err;
    assert_int_equal(http_do(&req, &resp, &err), -1);
    assert_int_equal(err.kind, HTTP_ERR_USAGE);
    assert_non_null(strstr(err.msg, "http_init was not called"));
    http_response_free(&resp);
}

static void deadlines(void **state)
{
    int64_t now = http_now_ms();
    int64_t d = http_deadline_in(1500);
    assert_true(d >= now + 1500);
    assert_true(http_now_ms() >= now); /* monotonic */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_encode),  cmocka_unit_test(query_builder),
        cmocka_unit_test(retry_after), cmocka_unit_test(refuses_before_init),
        cmocka_unit_test(deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
