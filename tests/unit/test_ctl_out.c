/*
 * Unit tests for campsyncctl's output helpers: protobuf -> JSON (the --json
 * output of every command), money and time formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "campsync/v1/common.pb-c.h"
#include "campsync/v1/reconciler.pb-c.h"
#include "ctl_out.h"

static void message_to_json(void **state)
{
    (void)state;
    Campsync__V1__RecordResult r1 = CAMPSYNC__V1__RECORD_RESULT__INIT, r2 = r1;
    r1.index = 0;
    r1.key = "a@example.com";
    r1.outcome = CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED;
    r1.reason = "already a member \"x\"";
    r2.index = 1;
    r2.outcome = CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED;
    Campsync__V1__RecordResult *rs[] = {&r1, &r2};
    Campsync__V1__BatchResult b = CAMPSYNC__V1__BATCH_RESULT__INIT;
    b.results = rs;
    b.n_results = 2;
    b.skipped = 1;
    b.added = 1;
    json_t *j = ctl_pb_to_json(&b.base);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(s, "\"outcome\":\"OUTCOME_SKIPPED\""));
    assert_non_null(strstr(s, "\"reason\":\"already a member \\\"x\\\"\""));
    assert_int_equal(json_array_size(json_object_get(j, "results")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "added")), 1);
    free(s);
    json_decref(j);
}

static void map_fields_become_objects(void **state)
{
    (void)state;
    Campsync__V1__ApiUsage__CallsByEndpointEntry e1 =
        CAMPSYNC__V1__API_USAGE__CALLS_BY_ENDPOINT_ENTRY__INIT;
    e1.key = "GET query";
    e1.value = 7;
    Campsync__V1__ApiUsage__CallsByEndpointEntry *es[] = {&e1};
    Campsync__V1__ApiUsage u = CAMPSYNC__V1__API_USAGE__INIT;
    u.used = 12;
    u.calls_by_endpoint = es;
    u.n_calls_by_endpoint = 1;
    json_t *j = ctl_pb_to_json(&u.base);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "calls_by_endpoint"), "GET query")),
        7);
    assert_int_equal(json_integer_value(json_object_get(j, "used")), 12);
    json_decref(j);
}

static void nested_and_absent_messages(void **state)
{
    (void)state;
    Campsync__V1__SyncProgress p = CAMPSYNC__V1__SYNC_PROGRESS__INIT;
    p.phase = "apply";
    json_t *j = ctl_pb_to_json(&p.base);
    assert_true(json_is_null(json_object_get(j, "record")));
    json_decref(j);
    Campsync__V1__CycleCounts c = CAMPSYNC__V1__CYCLE_COUNTS__INIT;
    c.new_ = 3;
    Campsync__V1__CycleRecord r = CAMPSYNC__V1__CYCLE_RECORD__INIT;
    r.counts = &c;
    p.record = &r;
    j = ctl_pb_to_json(&p.base);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "record"), "counts"), "new")),
                     3);
    json_decref(j);
}

static void money_and_time(void **state)
{
    (void)state;
    char buf[48];
    assert_string_equal(ctl_money(123456789, buf, sizeof buf), "1,234,567.89");
    assert_string_equal(ctl_money(5, buf, sizeof buf), "0.05");
    assert_string_equal(ctl_money(-100000, buf, sizeof buf), "-1,000.00");
    assert_string_equal(ctl_money(99999, buf, sizeof buf), "999.99");
    assert_string_equal(ctl_time(0, buf, sizeof buf), "-");
    assert_string_equal(ctl_time(1795392000000LL, buf, sizeof buf), "2026-11-23 00:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_to_json),
        cmocka_unit_test(map_fields_become_objects),
        cmocka_unit_test(nested_and_absent_messages),
        cmocka_unit_test(money_and_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
