/*
 * Unit tests for common/json: every getter on the happy path and, more
 * importantly, the exact error text an operator would read when a vendor
 * payload is missing a field or carries the wrong type.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(happy_path),
        cmocka_unit_test(error_paths_name_the_field),
        cmocka_unit_test(numeric_strings),
        cmocka_unit_test(long_paths_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
