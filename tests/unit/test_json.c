/*
 * Unit tests for common/json: every getter on the happy path and, more
 * importantly, the exact error text an operator would read when a vendor
 * payload is missing a field or carries the wrong type; and the vendor
 * times and money both connectors read through it (exact cents, rounding,
 * errors naming the value).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

static json_t *load(const char *text)
{
    json_t *doc;
    cj_error err;
    int rc = cj_parse(text, strlen(text), 0, &doc, &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    return doc;
}

static const char *marketo_body =
    "{\"requestId\":\"abc\",\"success\":true,\"moreResult\":false,"
    "\"result\":[{\"seq\":0,\"id\":50,\"status\":\"created\"},"
    "{\"seq\":1,\"id\":51,\"status\":\"skipped\",\"reasons\":[{\"code\":\"1004\","
    "\"message\":\"Lead not found\"}]},"
    "{\"seq\":2,\"leadId\":\"x\",\"cost\":12.5,\"n\":null},"
    "{\"seq\":3,\"leadId\":\"oops\"}]}";

static void parse_errors(void **state)
{
    json_t *doc = NULL;
    cj_error err;
    assert_int_equal(cj_parse("", 0, 0, &doc, &err), -1);
    assert_non_null(strstr(err.msg, "empty body"));
    assert_null(doc);

    const char *bad = "{\"a\":1,\n\"b\":}";
    assert_int_equal(cj_parse(bad, strlen(bad), 0, &doc, &err), -1);
    assert_non_null(strstr(err.msg, "invalid JSON at line 2"));

    const char *big = "{\"a\":\"0123456789\"}";
    assert_int_equal(cj_parse(big, strlen(big), 10, &doc, &err), -1);
    assert_string_equal(err.msg, "JSON body of 18 bytes exceeds the limit of 10");
    assert_int_equal(cj_parse(big, strlen(big), 18, &doc, &err), 0);
    json_decref(doc);

    /* Duplicate keys are refused: which one a vendor meant is unknowable. */
    const char *dup = "{\"id\":1,\"id\":2}";
    assert_int_equal(cj_parse(dup, strlen(dup), 0, &doc, &err), -1);
    assert_non_null(strstr(err.msg, "duplicate"));

    /* Only a prefix of the buffer is parsed: the length is honoured. */
    const char *prefix = "[1,2]garbage";
    assert_int_equal(cj_parse(prefix, 5, 0, &doc, &err), 0);
    assert_int_equal(json_array_size(doc), 2);
    json_decref(doc);
}

static void happy_path(void **state)
{
    json_t *doc = load(marketo_body);
    cj_error err;
    cj_ref root = cj_root(doc);

    const char *rid;
    int success;
    int more;
    assert_int_equal(cj_req_string(&root, "requestId", &rid, &err), 0);
    assert_string_equal(rid, "abc");
    assert_int_equal(cj_req_bool(&root, "success", &success, &err), 0);
    assert_true(success);
    assert_int_equal(cj_opt_bool(&root, "moreResult", 1, &more, &err), 0);
    assert_false(more);

    cj_ref result;
    size_t n;
    assert_int_equal(cj_req_array(&root, "result", &result, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(cj_len(&result), 4);

    cj_ref r1 = cj_elem(&result, 1);
    int64_t id;
    assert_int_equal(cj_req_int64(&r1, "id", 0, &id, &err), 0);
    assert_int_equal(id, 51);

    cj_ref reasons;
    assert_int_equal(cj_opt_array(&r1, "reasons", &reasons, &n, &err), 0);
    assert_int_equal(n, 1);
    cj_ref reason = cj_elem(&reasons, 0);
    int64_t code;
    assert_int_equal(cj_req_int64(&reason, "code", CJ_NUMERIC_STRING, &code, &err), 0);
    assert_int_equal(code, 1004);

    /* Optional getters: absent and null both give the default. */
    cj_ref r0 = cj_elem(&result, 0);
    assert_int_equal(cj_opt_array(&r0, "reasons", &reasons, &n, &err), 0);
    assert_null(reasons.json);
    assert_int_equal(n, 0);
    cj_ref r2 = cj_elem(&result, 2);
    int64_t nval = 7;
    assert_int_equal(cj_opt_int64(&r2, "n", 0, 42, &nval, &err), 0);
    assert_int_equal(nval, 42);
    const char *s;
    assert_int_equal(cj_opt_string(&r2, "absent", "dflt", &s, &err), 0);
    assert_string_equal(s, "dflt");
    double cost;
    assert_int_equal(cj_req_double(&r2, "cost", &cost, &err), 0);
    assert_true(cost == 12.5);
    /* An integer is a valid double. */
    assert_int_equal(cj_req_double(&r2, "seq", &cost, &err), 0);
    assert_true(cost == 2.0);
    assert_int_equal(cj_opt_double(&r2, "none", 1.5, &cost, &err), 0);
    assert_true(cost == 1.5);

    cj_ref obj;
    assert_int_equal(cj_opt_object(&r0, "nothing", &obj, &err), 0);
    assert_null(obj.json);
    /* Optional fields of an absent optional object take their defaults... */
    assert_int_equal(cj_opt_string(&obj, "type", "Lead", &s, &err), 0);
    assert_string_equal(s, "Lead");
    /* ...but required ones name the missing object. */
    assert_int_equal(cj_req_string(&obj, "type", &s, &err), -1);
    assert_string_equal(err.msg, "result[0].nothing: missing (expected object)");
    /* Chains of optional objects stay optional. */
    cj_ref inner;
    assert_int_equal(cj_opt_object(&obj, "inner", &inner, &err), 0);
    assert_null(inner.json);
    assert_int_equal(cj_opt_int64(&inner, "n", 0, 5, &nval, &err), 0);
    assert_int_equal(nval, 5);
    json_decref(doc);
}

static void error_paths_name_the_field(void **state)
{
    json_t *doc = load(marketo_body);
    cj_error err;
    cj_ref root = cj_root(doc);
    cj_ref result = cj_at(&root, "result");
    int64_t v;

    cj_ref r3 = cj_elem(&result, 3);
    assert_int_equal(cj_req_int64(&r3, "leadId", 0, &v, &err), -1);
    assert_string_equal(err.msg, "result[3].leadId: expected integer, got string \"oops\"");

    assert_int_equal(cj_req_int64(&r3, "leadId", CJ_NUMERIC_STRING, &v, &err), -1);
    assert_string_equal(
        err.msg, "result[3].leadId: expected integer or numeric string, got string \"oops\"");

    cj_ref r0 = cj_elem(&result, 0);
    assert_int_equal(cj_req_int64(&r0, "leadId", 0, &v, &err), -1);
    assert_string_equal(err.msg, "result[0].leadId: missing (expected integer)");

    cj_ref r2 = cj_elem(&result, 2);
    assert_int_equal(cj_req_int64(&r2, "n", 0, &v, &err), -1);
    assert_string_equal(err.msg, "result[2].n: expected integer, got null");

    /* An optional field that is present with the wrong type still fails. */
    const char *s;
    assert_int_equal(cj_opt_string(&r2, "cost", "x", &s, &err), -1);
    assert_string_equal(err.msg, "result[2].cost: expected string, got number");

    int b;
    assert_int_equal(cj_req_bool(&r0, "status", &b, &err), -1);
    assert_string_equal(err.msg, "result[0].status: expected boolean, got string \"created\"");

    /* Past the end of an array is "missing", with the index in the path. */
    cj_ref r9 = cj_elem(&result, 9);
    assert_int_equal(cj_req_string(&r9, "status", &s, &err), -1);
    assert_string_equal(err.msg, "result[9]: missing (expected object)");

    /* Reaching through a non-object names the parent. */
    cj_ref rid = cj_at(&root, "requestId");
    cj_ref deep = cj_at(&rid, "x");
    assert_int_equal(cj_string(&deep, &s, &err), -1);
    assert_string_equal(err.msg, "requestId: expected object, got string \"abc\"");
    cj_ref idx = cj_elem(&rid, 0);
    assert_int_equal(cj_string(&idx, &s, &err), -1);
    assert_string_equal(err.msg, "requestId: expected array, got string \"abc\"");

    cj_ref arr;
    size_t n;
    assert_int_equal(cj_req_array(&root, "requestId", &arr, &n, &err), -1);
    assert_string_equal(err.msg, "requestId: expected array, got string \"abc\"");
    cj_ref obj;
    assert_int_equal(cj_req_object(&root, "result", &obj, &err), -1);
    assert_string_equal(err.msg, "result: expected object, got array");

    /* Optional getters on a non-object fail rather than defaulting. */
    assert_int_equal(cj_opt_int64(&result, "x", 0, 1, &v, &err), -1);
    assert_string_equal(err.msg, "result: expected object, got array");

    /* The root has a name too. */
    json_t *arrdoc = load("[1]");
    cj_ref aroot = cj_root(arrdoc);
    assert_int_equal(cj_object(&aroot, &err), -1);
    assert_string_equal(err.msg, "$: expected object, got array");
    cj_ref e0 = cj_elem(&aroot, 0);
    assert_int_equal(cj_string(&e0, &s, &err), -1);
    assert_string_equal(err.msg, "[0]: expected string, got integer");
    json_decref(arrdoc);

    assert_int_equal(cj_fail(&err, &r3, "unknown status %s", "weird"), -1);
    assert_string_equal(err.msg, "result[3]: unknown status weird");
    json_decref(doc);
}

static void numeric_strings(void **state)
{
    json_t *doc =
        load("{\"a\":\"606\",\"b\":\"-12\",\"c\":\"\",\"d\":\"12x\",\"e\":\"99999999999999999999\","
             "\"f\":\" 1\",\"g\":\"+1\",\"h\":1.5,\"i\":9223372036854775807}");
    cj_ref root = cj_root(doc);
    cj_error err;
    int64_t v;
    assert_int_equal(cj_req_int64(&root, "a", CJ_NUMERIC_STRING, &v, &err), 0);
    assert_int_equal(v, 606);
    assert_int_equal(cj_req_int64(&root, "b", CJ_NUMERIC_STRING, &v, &err), 0);
    assert_int_equal(v, -12);
    const char *bad[] = {"c", "d", "e", "f", "g"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cj_req_int64(&root, bad[i], CJ_NUMERIC_STRING, &v, &err), -1);
    assert_int_equal(cj_req_int64(&root, "h", 0, &v, &err), -1);
    assert_string_equal(err.msg, "h: expected integer, got number");
    assert_int_equal(cj_req_int64(&root, "i", 0, &v, &err), 0);
    assert_true(v == INT64_MAX);
    json_decref(doc);
}

static void long_paths_truncate(void **state)
{
    json_t *doc =
        load("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{"
             "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\":{"
             "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\":1}}}");
    cj_ref root = cj_root(doc);
    cj_ref a =
        cj_at(&root, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cj_ref b = cj_at(&a, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    cj_ref c = cj_at(&b, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
    char small[16];
    cj_path(&c, small, sizeof small);
    assert_int_equal(strlen(small), 15);
    const char *s;
    cj_error err;
    assert_int_equal(cj_string(&c, &s, &err), -1);
    assert_non_null(strstr(err.msg, "expected string, got integer"));
    json_decref(doc);
}

/* The words the connectors' messages use for what a vendor sent. */
static void kinds(void **state)
{
    (void)state;
    json_t *doc = load("[{}, [], \"s\", 1, 1.5, true, false, null]");
    const char *want[] = {"object", "array",   "string",  "number",
                          "number", "boolean", "boolean", "null"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(cj_kind(json_array_get(doc, i)), want[i]);
    assert_string_equal(cj_kind(NULL), "nothing");
    json_decref(doc);
}

/* Vendor datetimes: every form Marketo and Salesforce write, to the ms. */
static void datetimes(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"2026-01-31T12:00:00.000+0000", 1769860800000LL},
        {"2026-01-31T12:00:00Z", 1769860800000LL},
        {"2026-01-31T12:00:00+0000", 1769860800000LL},
        {"2026-01-31T06:00:00-06:00", 1769860800000LL},
        {"2026-01-31T12:00:00.123Z", 1769860800123LL},
        {"2026-01-31T12:00:00.250Z", 1769860800250LL},
        {"2026-01-31T12:00:00.1234567Z", 1769860800123LL},
        {"2026-01-31T12:00:00.5+00:00", 1769860800500LL},
        {"2026-01-31T13:30:00.000+0130", 1769860800000LL},
        {"2026-01-31T04:00:00.000-0800", 1769860800000LL},
        {"2026-01-31 12:00:00Z", 1769860800000LL},
        {"1970-01-01T00:00:00.000+0000", 0},
        {"1969-12-31T23:59:59.999Z", -1},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"2026-01-31", 1769817600000LL},
        {"2017-06-07T21:40:00Z+0000", 1496871600000LL},
        {"0000-01-01T00:00:00Z", -62167219200000LL},
        {"0000-02-29", -62162121600000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = 42;
        cj_error err = {{0}};
        if (cj_parse_datetime(ok[i].s, &ms, &err) != 0)
            fail_msg("%s: %s", ok[i].s, err.msg);
        if (ms != ok[i].ms)
            fail_msg("%s: got %lld", ok[i].s, (long long)ms);
    }
    const char *bad[] = {"",
                         "2026-13-01T00:00:00Z",
                         "2025-02-29T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-01-31T24:00:00Z",
                         "2026-01-31T12:60:00Z",
                         "2026-01-31T12:00",
                         "2026-01-31T12:00:00.Z",
                         "2026-01-31T12:00:00+25:00",
                         "2026-01-31T12:00:00Zjunk",
                         "2026-01-31T12:00:00ZZ",
                         "yesterday",
                         "31/01/2026",
                         "2026-1-31T12:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        cj_error err = {{0}};
        assert_int_equal(cj_parse_datetime(bad[i], &ms, &err), -1);
        assert_int_equal(ms, 42);
        char want[96];
        snprintf(want, sizeof want, "invalid datetime '%s': expected like 2026-01-31T12:00:00Z",
                 bad[i]);
        assert_string_equal(err.msg, want);
    }
    int64_t ms;
    cj_error err;
    assert_int_equal(cj_parse_datetime(NULL, &ms, &err), -1);
    assert_string_equal(err.msg, "invalid datetime: missing");
    assert_int_equal(cj_parse_datetime("nope", &ms, NULL), -1); /* err may be NULL */

    char buf[40];
    cj_format_datetime(1769860800123LL, CJ_DATETIME_MS, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-31T12:00:00.123Z");
    cj_format_datetime(-1, CJ_DATETIME_MS, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    cj_format_datetime(1769860800999LL, 0, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-31T12:00:00Z");
    cj_format_datetime(-1, 0, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    cj_format_datetime(-62162121600000LL, 0, buf, sizeof buf);
    assert_string_equal(buf, "0000-02-29T00:00:00Z");
    /* Round trip over four centuries of days. */
    for (int64_t t = -5000000000000LL; t < 10000000000000LL; t += 86399999LL * 37) {
        int64_t back;
        cj_format_datetime(t, CJ_DATETIME_MS, buf, sizeof buf);
        assert_int_equal(cj_parse_datetime(buf, &back, &err), 0);
        assert_int_equal(back, t);
    }
}

/* Money: exact minor units from decimal text and JSON numbers, and back. */
static void money(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t minor;
    } ok[] = {{"1234.5", 123450},
              {"1234.50", 123450},
              {"19.99", 1999},
              {"0.01", 1},
              {"-0.01", -1},
              {"0", 0},
              {"100", 10000},
              {"0.005", 1},
              {"-0.005", -1},
              {"12.345", 1235},
              {"0.0049", 0},
              {"-2.675", -268},
              {"1e3", 100000},
              {"1.5E-2", 2},
              {"00012.30", 1230},
              {"+7", 700},
              {"0e99999", 0},
              {"92233720368547758.07", INT64_MAX},
              {"0.000000000000000000000000000000000000000000000000000000000000000000000001", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t m = 42;
        cj_error err = {{0}};
        if (cj_decimal_to_minor(ok[i].s, &m, &err) != 0)
            fail_msg("%s: %s", ok[i].s, err.msg);
        assert_int_equal(m, ok[i].minor);
    }
    struct {
        const char *s, *msg;
    } bad[] = {{"", "invalid amount '': expected a decimal number"},
               {"-", "invalid amount '-': expected a decimal number"},
               {".", "invalid amount '.': expected a decimal number"},
               {"1.2.3", "invalid amount '1.2.3': expected a decimal number"},
               {"12a", "invalid amount '12a': expected a decimal number"},
               {"1e", "invalid amount '1e': expected a decimal number"},
               {"NaN", "invalid amount 'NaN': expected a decimal number"},
               {"92233720368547758.08", "amount '92233720368547758.08' is too large"},
               {"1e30", "amount '1e30' is too large"},
               {NULL, "invalid amount: missing"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t m = 42;
        cj_error err = {{0}};
        assert_int_equal(cj_decimal_to_minor(bad[i].s, &m, &err), -1);
        assert_int_equal(m, 42);
        assert_string_equal(err.msg, bad[i].msg);
    }
    /* Every cent amount from -1,000.00 to 100,000.00 survives a JSON double. */
    for (int64_t c = -100000; c <= 10000000; c += 7) {
        json_t *v = json_real((double)c / 100.0);
        int64_t back;
        cj_error err;
        assert_int_equal(cj_json_to_minor(v, 0, &back, &err), 0);
        if (back != c)
            fail_msg("%lld cents came back as %lld", (long long)c, (long long)back);
        json_decref(v);
    }
    /* Parsed from body text, as the vendors send it; strings only when asked. */
    json_t *doc = load("[1234.5, 19.99, 0.1, 5000, 1234567890.12, \"12.345\", \"-0.005\"]");
    int64_t want[] = {123450, 1999, 10, 500000, 123456789012LL, 1235, -1};
    for (size_t i = 0; i < json_array_size(doc); i++) {
        int64_t m = 42;
        cj_error err;
        assert_int_equal(cj_json_to_minor(json_array_get(doc, i), CJ_NUMERIC_STRING, &m, &err), 0);
        assert_int_equal(m, want[i]);
        if (json_is_string(json_array_get(doc, i))) {
            assert_int_equal(cj_json_to_minor(json_array_get(doc, i), 0, &m, &err), -1);
            assert_string_equal(err.msg, "amount: expected a number");
        }
    }
    json_decref(doc);
    int64_t m;
    cj_error err;
    assert_int_equal(cj_json_to_minor(json_true(), CJ_NUMERIC_STRING, &m, &err), -1);
    assert_string_equal(err.msg, "amount: expected a number");
    assert_int_equal(cj_json_to_minor(NULL, CJ_NUMERIC_STRING, &m, &err), -1);
    json_t *s = json_string("1e999");
    assert_int_equal(cj_json_to_minor(s, CJ_NUMERIC_STRING, &m, &err), -1);
    assert_string_equal(err.msg, "amount '1e999' is too large");
    json_decref(s);
    json_t *big = json_integer(INT64_MAX / 100 + 1);
    assert_int_equal(cj_json_to_minor(big, 0, &m, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    json_decref(big);
    /* And back out to a body without drift. */
    json_t *arr = json_array();
    json_array_append_new(arr, cj_minor_to_json(1999));
    json_array_append_new(arr, cj_minor_to_json(123450));
    json_array_append_new(arr, cj_minor_to_json(10000));
    json_array_append_new(arr, cj_minor_to_json(-1));
    char *text = json_dumps(arr, CJ_MONEY_DUMP_FLAGS);
    assert_string_equal(text, "[19.99,1234.5,100,-0.01]");
    free(text);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(happy_path),
        cmocka_unit_test(error_paths_name_the_field),
        cmocka_unit_test(numeric_strings),
        cmocka_unit_test(long_paths_truncate),
        cmocka_unit_test(kinds),
        cmocka_unit_test(datetimes),
        cmocka_unit_test(money),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
