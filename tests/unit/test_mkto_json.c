/*
 * Marketo JSON mapping: the envelope (quoted and numeric codes, asset
 * answers without moreResult, malformed bodies), the Identity answer,
 * programs with exact costs and the asset API's "Z+0000" times, channels
 * sorted by step, program members, leads, activities with attributes,
 * per-record results placed by seq with 1037 as SKIPPED, and request bodies.
 * Messages are freed with protobuf_c_message_free_unpacked(.., NULL) under
 * ASan to check the documented ownership rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkto_json.h"

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

static void parse_ok(const char *body, mkto_envelope *env)
{
    mkto_err err = {{0}};
    if (mkto_envelope_parse(body, strlen(body), env, &err) != 0)
        fail_msg("envelope: %s", err.msg);
}

static void test_envelope(void **state)
{
    (void)state;
    mkto_envelope env;
    parse_ok("{\"requestId\":\"e42b#14272d07d78\",\"success\":false,\"errors\":[{\"code\":\"606\","
             "\"message\":\"Max rate limit '100' exceeded with in '20' secs\"},{\"code\":601,"
             "\"message\":\"Access token invalid\"}]}",
             &env);
    assert_false(env.success);
    assert_string_equal(env.request_id, "e42b#14272d07d78");
    assert_int_equal(env.n_errors, 2);
    assert_int_equal(env.errors[0].code, 606);
    assert_string_equal(env.errors[0].message, "Max rate limit '100' exceeded with in '20' secs");
    assert_int_equal(env.errors[1].code, 601);
    assert_int_equal(json_array_size(env.result), 0);
    assert_false(env.has_more_result);
    assert_null(env.next_page_token);
    mkto_envelope_clear(&env);

    parse_ok("{\"requestId\":\"1\",\"success\":true,\"result\":[{\"id\":1}],\"moreResult\":true,"
             "\"nextPageToken\":\"GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ\","
             "\"warnings\":[\"x\"]}",
             &env);
    assert_true(env.success);
    assert_true(env.has_more_result);
    assert_true(env.more_result);
    assert_int_equal(env.n_warnings, 1);
    assert_string_equal(env.next_page_token, "GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ");
    mkto_envelope_clear(&env);

    const char *bad[][2] = {
        {"", "not JSON"},
        {"<html>502 Bad Gateway</html>", "not JSON"},
        {"{\"success\":true,\"result\":[", "not JSON"},
        {"[]", "expected an object"},
        {"{\"result\":[]}", "success: expected a boolean, got nothing"},
        {"{\"success\":\"true\"}", "success: expected a boolean, got string"},
        {"{\"success\":true,\"result\":{}}", "result: expected an array, got object"},
        {"{\"success\":false,\"errors\":[{\"code\":\"six\"}]}", "errors[0].code"},
        {"{\"success\":false,\"errors\":[{\"message\":\"x\"}]}", "errors[0].code"},
        {"{\"success\":false,\"errors\":[7]}", "errors[0].code"},
        {"{\"success\":true,\"moreResult\":\"false\"}", "moreResult"},
        {"{\"success\":true,\"nextPageToken\":5}", "nextPageToken"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mkto_err err = {{0}};
        assert_int_equal(mkto_envelope_parse(bad[i][0], strlen(bad[i][0]), &env, &err), -1);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("'%s' does not contain '%s'", err.msg, bad[i][1]);
        assert_null(env.result);
    }
}

static void test_token(void **state)
{
    (void)state;
    mkto_token tok;
    mkto_err err = {{0}};
    const char *body = "{\"access_token\":\"cdf01657-110d-4155-99a7-f986b2ff13a0:int\","
                       "\"token_type\":\"bearer\",\"expires_in\":3599,\"scope\":"
                       "\"apis@acmeinc.com\"}";
    assert_int_equal(mkto_token_parse(body, strlen(body), &tok, &err), 0);
    assert_string_equal(tok.access_token, "cdf01657-110d-4155-99a7-f986b2ff13a0:int");
    assert_int_equal(tok.expires_in_s, 3599);
    assert_string_equal(tok.scope, "apis@acmeinc.com");
    mkto_token_clear(&tok);
    const char *bad[][2] = {
        {"{\"error\":\"unauthorized\",\"error_description\":\"Bad client credentials\"}",
         "Identity refused: unauthorized: Bad client credentials"},
        {"{\"expires_in\":3599}", "access_token"},
        {"{\"access_token\":\"t\"}", "expires_in"},
        {"{\"access_token\":\"t\",\"expires_in\":\"3599\"}", "expires_in"},
        {"nope", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mkto_token_parse(bad[i][0], strlen(bad[i][0]), &tok, &err), -1);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("'%s' does not contain '%s'", err.msg, bad[i][1]);
        assert_null(tok.access_token);
    }
}

static void test_programs(void **state)
{
    (void)state;
    mkto_envelope env;
    parse_ok(
        "{\"success\":true,\"errors\":[],\"requestId\":\"7a39#1\",\"warnings\":[],\"result\":["
        "{\"id\":1107,\"name\":\"Spring Webinar\",\"description\":\"\",\"createdAt\":"
        "\"2017-06-07T21:40:00Z+0000\",\"updatedAt\":\"2017-06-07T21:40:04Z+0000\",\"url\":"
        "\"https://app-sjqe.marketo.com/#PG1107A1\",\"type\":\"Event\",\"channel\":\"Webinar\","
        "\"folder\":{\"type\":\"Folder\",\"value\":62,\"folderName\":\"Events\"},\"status\":\"\","
        "\"workspace\":\"Default\",\"tags\":[],\"costs\":[{\"startDate\":\"2026-01-01\",\"cost\":"
        "1234.5,\"note\":\"venue\"},{\"startDate\":\"2026-02-01\",\"cost\":100}],\"sfdcId\":"
        "\"701000000000001AAA\",\"sfdcName\":\"Spring Webinar\"},"
        "{\"id\":1108,\"name\":\"Bare\",\"type\":\"Default\",\"channel\":\"Content\",\"status\":"
        "\"on\",\"costs\":null,\"sfdcId\":null}]}",
        &env);
    assert_false(env.has_more_result);
    Campsync__V1__ListProgramsResponse *list =
        mkto_msg_new(&campsync__v1__list_programs_response__descriptor);
    mkto_err err = {{0}};
    assert_int_equal(mkto_programs_append(&env, list, &err), 0);
    assert_int_equal(mkto_programs_append(&env, list, &err), 0);
    assert_int_equal(list->n_programs, 4);
    Campsync__V1__Program *p = list->programs[0];
    assert_int_equal(p->id, 1107);
    assert_string_equal(p->name, "Spring Webinar");
    assert_string_equal(p->type, "Event");
    assert_string_equal(p->channel, "Webinar");
    assert_string_equal(p->status, "");
    assert_int_equal(p->created_at_ms, 1496871600000LL);
    assert_int_equal(p->updated_at_ms, 1496871604000LL);
    assert_int_equal(p->n_costs, 2);
    assert_int_equal(p->costs[0]->cost_minor, 123450);
    assert_string_equal(p->costs[0]->start_date, "2026-01-01");
    assert_string_equal(p->costs[0]->note, "venue");
    assert_int_equal(p->costs[1]->cost_minor, 10000);
    assert_string_equal(p->sfdc_id, "701000000000001AAA");
    assert_string_equal(list->programs[1]->status, "on");
    assert_int_equal(list->programs[1]->n_costs, 0);
    FREE(list);
    mkto_envelope_clear(&env);

    const char *bad[][2] = {
        {"{\"success\":true,\"result\":[{\"id\":\"x\"}]}", "result[0].id: expected an integer"},
        {"{\"success\":true,\"result\":[{\"id\":1,\"costs\":{}}]}",
         "result[0].costs: expected an array"},
        {"{\"success\":true,\"result\":[{\"id\":1,\"costs\":[{\"cost\":\"abc\"}]}]}",
         "result[0].costs[0].cost: invalid amount"},
        {"{\"success\":true,\"result\":[{\"id\":1,\"updatedAt\":\"2017-13-01T00:00:00Z\"}]}",
         "result[0].updatedAt: invalid datetime"},
        {"{\"success\":true,\"result\":[{\"id\":1},{\"name\":\"no id\"}]}",
         "result[1].id: expected a positive program id"},
        {"{\"success\":true,\"result\":[\"x\"]}", "result[0]: expected an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_ok(bad[i][0], &env);
        list = mkto_msg_new(&campsync__v1__list_programs_response__descriptor);
        assert_int_equal(mkto_programs_append(&env, list, &err), -1);
        if (strncmp(err.msg, bad[i][1], strlen(bad[i][1])) != 0)
            fail_msg("'%s' does not start with '%s'", err.msg, bad[i][1]);
        assert_int_equal(list->n_programs, 0);
        FREE(list);
        mkto_envelope_clear(&env);
    }
}

static void test_channels_members_leads(void **state)
{
    (void)state;
    mkto_envelope env;
    mkto_err err = {{0}};
    parse_ok("{\"success\":true,\"result\":[{\"id\":1,\"name\":\"Webinar\","
             "\"applicableProgramType\":\"event\",\"progressionStatuses\":["
             "{\"name\":\"Attended\",\"step\":30,\"success\":true,\"hidden\":false,\"type\":"
             "\"success\",\"description\":\"\"},"
             "{\"name\":\"Invited\",\"step\":10,\"success\":false,\"hidden\":false},"
             "{\"name\":\"Registered\",\"step\":20,\"success\":false,\"hidden\":true,"
             "\"description\":\"signed up\"}]}]}",
             &env);
    Campsync__V1__ListChannelsResponse *cl =
        mkto_msg_new(&campsync__v1__list_channels_response__descriptor);
    assert_int_equal(mkto_channels_append(&env, cl, &err), 0);
    Campsync__V1__Channel *c = cl->channels[0];
    assert_string_equal(c->name, "Webinar");
    assert_string_equal(c->applicable_program_type, "event");
    assert_int_equal(c->n_statuses, 3);
    assert_string_equal(c->statuses[0]->name, "Invited");
    assert_string_equal(c->statuses[1]->name, "Registered");
    assert_true(c->statuses[1]->hidden);
    assert_string_equal(c->statuses[1]->description, "signed up");
    assert_string_equal(c->statuses[2]->name, "Attended");
    assert_true(c->statuses[2]->success);
    assert_int_equal(c->statuses[2]->step, 30);
    FREE(cl);
    mkto_envelope_clear(&env);

    parse_ok("{\"success\":true,\"result\":[{\"id\":1,\"progressionStatuses\":[{\"name\":\"x\","
             "\"step\":\"ten\"}]}]}",
             &env);
    cl = mkto_msg_new(&campsync__v1__list_channels_response__descriptor);
    assert_int_equal(mkto_channels_append(&env, cl, &err), -1);
    assert_non_null(strstr(err.msg, "result[0].progressionStatuses[0].step"));
    FREE(cl);
    mkto_envelope_clear(&env);

    parse_ok(
        "{\"requestId\":\"r\",\"success\":true,\"moreResult\":true,\"nextPageToken\":\"T\","
        "\"result\":[{\"seq\":0,\"leadId\":1800,\"reachedSuccess\":true,\"programId\":1044,"
        "\"statusName\":\"Attended\",\"membershipDate\":\"2026-01-30T10:00:00Z\",\"updatedAt\":"
        "\"2026-01-31T12:00:00Z\"},{\"seq\":1,\"leadId\":\"1801\",\"reachedSuccess\":\"false\","
        "\"statusName\":\"Invited\",\"membershipDate\":null}]}",
        &env);
    Campsync__V1__ProgramMemberPage *mp =
        mkto_msg_new(&campsync__v1__program_member_page__descriptor);
    assert_int_equal(mkto_members_append(&env, mp, &err), 0);
    assert_int_equal(mp->n_members, 2);
    assert_int_equal(mp->members[0]->lead_id, 1800);
    assert_true(mp->members[0]->reached_success);
    assert_string_equal(mp->members[0]->status_name, "Attended");
    assert_int_equal(mp->members[0]->membership_date_ms, 1769767200000LL);
    assert_int_equal(mp->members[0]->updated_at_ms, 1769860800000LL);
    assert_int_equal(mp->members[1]->lead_id, 1801);
    assert_false(mp->members[1]->reached_success);
    assert_int_equal(mp->members[1]->membership_date_ms, 0);
    FREE(mp);
    mkto_envelope_clear(&env);

    parse_ok("{\"success\":true,\"result\":[{\"id\":318581,\"updatedAt\":\"2015-05-27T17:22:44Z\","
             "\"lastName\":\"Lee\",\"email\":\"ann@example.com\",\"createdAt\":"
             "\"2015-05-27T17:22:44Z\",\"firstName\":null,\"company\":\"Acme\",\"sfdcLeadId\":"
             "\"00Q000000000001AAA\",\"sfdcContactId\":null}]}",
             &env);
    Campsync__V1__GetLeadsResponse *gl =
        mkto_msg_new(&campsync__v1__get_leads_response__descriptor);
    assert_int_equal(mkto_leads_append(&env, gl, &err), 0);
    assert_int_equal(gl->leads[0]->id, 318581);
    assert_string_equal(gl->leads[0]->email, "ann@example.com");
    assert_string_equal(gl->leads[0]->first_name, "");
    assert_string_equal(gl->leads[0]->sfdc_lead_id, "00Q000000000001AAA");
    assert_int_equal(gl->leads[0]->updated_at_ms, 1432747364000LL);
    FREE(gl);
    mkto_envelope_clear(&env);
}

static void test_activities(void **state)
{
    (void)state;
    mkto_envelope env;
    mkto_err err = {{0}};
    parse_ok("{\"success\":true,\"result\":[{\"id\":104,\"name\":\"Change Status in Progression\"},"
             "{\"id\":42,\"name\":\"Add to SFDC Campaign\"}]}",
             &env);
    mkto_activity_type *types;
    size_t nt;
    assert_int_equal(mkto_activity_types_parse(&env, &types, &nt, &err), 0);
    assert_int_equal(nt, 2);
    assert_string_equal(types[1].name, "Add to SFDC Campaign");
    mkto_envelope_clear(&env);

    parse_ok("{\"requestId\":\"r\",\"success\":true,\"nextPageToken\":\"NEXT\",\"moreResult\":true,"
             "\"result\":[{\"id\":1002,\"marketoGUID\":\"1002\",\"leadId\":1800,\"activityDate\":"
             "\"2026-01-31T12:00:00Z\",\"activityTypeId\":104,\"primaryAttributeValueId\":1107,"
             "\"primaryAttributeValue\":\"Spring Webinar\",\"attributes\":[{\"name\":\"New "
             "Status\",\"value\":\"Attended\"},{\"name\":\"Success\",\"value\":true},{\"name\":"
             "\"New Status ID\",\"value\":33},{\"name\":\"Reason\",\"value\":null}]},"
             "{\"id\":1003,\"leadId\":1801,\"activityDate\":\"2026-01-31T12:00:01+0000\","
             "\"activityTypeId\":999,\"primaryAttributeValueId\":5,\"primaryAttributeValue\":5}]}",
             &env);
    Campsync__V1__ActivityPage *page;
    assert_int_equal(mkto_activity_page(&env, types, nt, &page, &err), 0);
    assert_true(page->more);
    assert_string_equal(page->next_cursor, "NEXT");
    assert_int_equal(page->n_activities, 2);
    Campsync__V1__Activity *a = page->activities[0];
    assert_int_equal(a->id, 1002);
    assert_string_equal(a->marketo_guid, "1002");
    assert_int_equal(a->lead_id, 1800);
    assert_int_equal(a->activity_date_ms, 1769860800000LL);
    assert_string_equal(a->activity_type, "Change Status in Progression");
    assert_int_equal(a->primary_attribute_value_id, 1107);
    assert_string_equal(a->primary_attribute_value, "Spring Webinar");
    assert_int_equal(a->n_attributes, 4);
    assert_string_equal(a->attributes[0]->key, "New Status");
    assert_string_equal(a->attributes[0]->value, "Attended");
    assert_string_equal(a->attributes[1]->value, "true");
    assert_string_equal(a->attributes[2]->value, "33");
    assert_string_equal(a->attributes[3]->value, "");
    assert_string_equal(page->activities[1]->activity_type, "");
    assert_string_equal(page->activities[1]->marketo_guid, "1003");
    assert_string_equal(page->activities[1]->primary_attribute_value, "5");
    /* Packs like any message. */
    size_t sz = campsync__v1__activity_page__get_packed_size(page);
    uint8_t *buf = malloc(sz);
    campsync__v1__activity_page__pack(page, buf);
    Campsync__V1__ActivityPage *back = campsync__v1__activity_page__unpack(NULL, sz, buf);
    assert_string_equal(back->activities[0]->attributes[0]->value, "Attended");
    campsync__v1__activity_page__free_unpacked(back, NULL);
    free(buf);
    FREE(page);
    mkto_envelope_clear(&env);

    parse_ok("{\"success\":true,\"result\":[{\"id\":1,\"attributes\":[{\"name\":\"x\",\"value\":"
             "[1]}]}]}",
             &env);
    assert_int_equal(mkto_activity_page(&env, NULL, 0, &page, &err), -1);
    assert_non_null(strstr(err.msg, "result[0].attributes[0].value: expected a scalar"));
    assert_null(page);
    mkto_envelope_clear(&env);
    parse_ok("{\"success\":true,\"result\":[{\"id\":1,\"activityDate\":\"yesterday\"}]}", &env);
    assert_int_equal(mkto_activity_page(&env, NULL, 0, &page, &err), -1);
    assert_non_null(strstr(err.msg, "result[0].activityDate"));
    mkto_envelope_clear(&env);
    parse_ok("{\"success\":true,\"result\":[{\"id\":\"x\",\"name\":\"y\"}]}", &env);
    mkto_activity_type *t2;
    size_t n2;
    assert_int_equal(mkto_activity_types_parse(&env, &t2, &n2, &err), -1);
    assert_string_equal(err.msg, "result[0].id: expected an integer, got string");
    mkto_envelope_clear(&env);
    parse_ok("{\"success\":true,\"result\":[{\"id\":1,\"name\":\"a\"},{\"id\":2}]}", &env);
    assert_int_equal(mkto_activity_types_parse(&env, &t2, &n2, &err), -1);
    assert_string_equal(err.msg, "result[1].name: expected a string, got nothing");
    assert_null(t2);
    mkto_envelope_clear(&env);
    mkto_activity_types_free(types, nt);
}

static void test_record_results(void **state)
{
    (void)state;
    mkto_envelope env;
    mkto_err err = {{0}};
    /* Out of order on purpose: seq places each result back at its request position. */
    parse_ok("{\"requestId\":\"r\",\"success\":true,\"result\":["
             "{\"seq\":2,\"leadId\":1802,\"status\":\"skipped\",\"reasons\":[{\"code\":\"1037\","
             "\"message\":\"Lead already in or past this status\"}]},"
             "{\"seq\":0,\"leadId\":1800,\"status\":\"updated\"},"
             "{\"seq\":1,\"leadId\":1801,\"status\":\"created\"},"
             "{\"seq\":3,\"status\":\"skipped\",\"reasons\":[{\"code\":1004,\"message\":\"Lead not "
             "found\"}]},"
             "{\"seq\":4,\"status\":\"skipped\",\"reasons\":[{\"code\":\"1025\",\"message\":"
             "\"Program status not found\"}]}]}",
             &env);
    const char *keys[] = {"1800", "1801", "1802", "1803", "1804"};
    Campsync__V1__BatchResult *acc = mkto_msg_new(&campsync__v1__batch_result__descriptor);
    assert_int_equal(mkto_record_results_append(&env, MKTO_OP_STATUS, keys, 5, 0, acc, &err), 0);
    assert_int_equal(acc->n_results, 5);
    assert_int_equal(acc->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    assert_string_equal(acc->results[0]->id, "1800");
    assert_int_equal(acc->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    assert_int_equal(acc->results[2]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_string_equal(acc->results[2]->code, "1037");
    assert_string_equal(acc->results[2]->reason, "Lead already in or past this status");
    assert_string_equal(acc->results[2]->key, "1802");
    assert_int_equal(acc->results[2]->index, 2);
    assert_int_equal(acc->results[3]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_string_equal(acc->results[3]->code, "1004");
    assert_int_equal(acc->results[4]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_int_equal(acc->updated, 1);
    assert_int_equal(acc->added, 1);
    assert_int_equal(acc->skipped, 1);
    assert_int_equal(acc->failed, 2);
    assert_int_equal(acc->api_calls, 1);
    mkto_envelope_clear(&env);

    /* Removing a non-member is SKIPPED; a second batch appends after the first. */
    parse_ok("{\"success\":true,\"result\":[{\"seq\":0,\"leadId\":1235,\"status\":\"deleted\"},"
             "{\"seq\":1,\"leadId\":1236,\"status\":\"skipped\",\"reasons\":[{\"code\":\"1013\","
             "\"message\":\"Membership not found\"}]}]}",
             &env);
    assert_int_equal(mkto_record_results_append(&env, MKTO_OP_REMOVE, NULL, 2, 300, acc, &err), 0);
    assert_int_equal(acc->results[5]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_DELETED);
    assert_int_equal(acc->results[5]->index, 300);
    assert_int_equal(acc->results[6]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_int_equal(acc->deleted, 1);
    mkto_envelope_clear(&env);

    /* Lead upserts: created is CREATED; seq absent means request order. */
    parse_ok("{\"success\":true,\"result\":[{\"id\":50,\"status\":\"created\"},{\"id\":51,"
             "\"status\":\"updated\"},{\"status\":\"failed\",\"reasons\":[{\"code\":\"1003\","
             "\"message\":\"Invalid email\"}]},{\"status\":\"weird\"}]}",
             &env);
    assert_int_equal(mkto_record_results_append(&env, MKTO_OP_UPSERT, NULL, 4, 7, acc, &err), 0);
    assert_int_equal(acc->results[7]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED);
    assert_string_equal(acc->results[7]->id, "50");
    assert_int_equal(acc->results[9]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_int_equal(acc->results[10]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_string_equal(acc->results[10]->reason, "Marketo status 'weird'");
    assert_int_equal(acc->n_results, 11);
    mkto_envelope_clear(&env);

    const char *bad[][2] = {
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"}]}", "1 results for 2"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":0,\"status\":"
         "\"updated\"}]}",
         "result[1].seq: 0 appears twice"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":2,\"status\":"
         "\"updated\"}]}",
         "result[1].seq: expected 0..1"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":-1,\"status\":"
         "\"updated\"}]}",
         "result[1].seq"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":1}]}",
         "result[1].status: expected a string"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":1,\"status\":"
         "\"skipped\",\"reasons\":[{\"code\":\"abc\"}]}]}",
         "result[1].reasons[0].code"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":1,\"status\":"
         "\"skipped\",\"reasons\":{}}]}",
         "result[1].reasons"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},{\"seq\":1,\"status\":"
         "\"updated\",\"id\":{}}]}",
         "result[1].id"},
        {"{\"success\":true,\"result\":[{\"seq\":0,\"status\":\"updated\"},\"x\"]}",
         "result[1]: expected an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_ok(bad[i][0], &env);
        assert_int_equal(mkto_record_results_append(&env, MKTO_OP_STATUS, keys, 2, 0, acc, &err),
                         -1);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("'%s' does not contain '%s'", err.msg, bad[i][1]);
        assert_int_equal(acc->n_results, 11);
        assert_int_equal(acc->api_calls, 3);
        mkto_envelope_clear(&env);
    }
    FREE(acc);
}

static void test_request_bodies(void **state)
{
    (void)state;
    mkto_err err = {{0}};
    int64_t ids[] = {1800, 1801};
    char *b = mkto_body_member_status("Attended \"live\"", ids, 2, &err);
    assert_string_equal(b, "{\"statusName\":\"Attended \\\"live\\\"\",\"input\":[{\"leadId\":1800},"
                           "{\"leadId\":1801}]}");
    free(b);
    b = mkto_body_member_remove(ids, 1, &err);
    assert_string_equal(b, "{\"input\":[{\"leadId\":1800}]}");
    free(b);
    assert_null(mkto_body_member_status("", ids, 2, &err));
    assert_non_null(strstr(err.msg, "statusName"));
    assert_null(mkto_body_member_status("bad \xff", ids, 2, &err));
    assert_non_null(strstr(err.msg, "UTF-8"));
    int64_t badids[] = {1, 0};
    assert_null(mkto_body_member_remove(badids, 2, &err));
    assert_string_equal(err.msg, "input[1].leadId: 0 is not a lead id");
    int64_t many[301];
    for (int i = 0; i < 301; i++)
        many[i] = i + 1;
    assert_null(mkto_body_member_remove(many, 301, &err));
    assert_non_null(strstr(err.msg, "at most 300"));
    b = mkto_body_member_remove(many, 300, &err);
    assert_non_null(b);
    free(b);
    assert_null(mkto_body_member_remove(many, 0, &err));

    Campsync__V1__Lead l1 = CAMPSYNC__V1__LEAD__INIT, l2 = CAMPSYNC__V1__LEAD__INIT;
    l1.email = "ann@example.com";
    l1.first_name = "Ann";
    l1.company = "Acme";
    l2.email = "bo@example.com";
    l2.last_name = "Bo";
    Campsync__V1__Lead *leads[] = {&l1, &l2};
    b = mkto_body_leads_upsert(leads, 2, &err);
    assert_string_equal(b, "{\"action\":\"createOrUpdate\",\"lookupField\":\"email\",\"input\":["
                           "{\"email\":\"ann@example.com\",\"firstName\":\"Ann\",\"company\":"
                           "\"Acme\"},{\"email\":\"bo@example.com\",\"lastName\":\"Bo\"}]}");
    free(b);
    l2.email = "ANN@example.com";
    assert_null(mkto_body_leads_upsert(leads, 2, &err));
    assert_non_null(strstr(err.msg, "input[1].email: 'ANN@example.com' repeats input[0]"));
    l2.email = (char *)protobuf_c_empty_string;
    assert_null(mkto_body_leads_upsert(leads, 2, &err));
    assert_non_null(strstr(err.msg, "input[1].email: required"));
}

/* The rules live in common/json (tests/unit/test_json.c); these check the
 * Marketo wrappers: whole-second format, the asset API's "Z+0000", and
 * costs that may come quoted. */
static void test_times_and_money(void **state)
{
    (void)state;
    int64_t ms = 42;
    mkto_err err = {{0}};
    assert_int_equal(mkto_parse_datetime("2017-06-07T21:40:00Z+0000", &ms, &err), 0);
    assert_int_equal(ms, 1496871600000LL);
    assert_int_equal(mkto_parse_datetime("2026-01-31T12:00:00ZZ", &ms, &err), -1);
    assert_string_equal(
        err.msg, "invalid datetime '2026-01-31T12:00:00ZZ': expected like 2026-01-31T12:00:00Z");
    char buf[40];
    mkto_format_datetime(1769860800999LL, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-31T12:00:00Z");
    mkto_format_datetime(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");

    json_t *doc = json_loads("[1234.5, 19.99, \"12.345\", 7, \"-0.005\", 0.1]", 0, NULL);
    int64_t want[] = {123450, 1999, 1235, 700, -1, 10};
    for (size_t i = 0; i < 6; i++) {
        int64_t m;
        assert_int_equal(mkto_json_to_minor(json_array_get(doc, i), &m, &err), 0);
        assert_int_equal(m, want[i]);
    }
    json_decref(doc);
    json_t *t = json_true();
    int64_t m;
    assert_int_equal(mkto_json_to_minor(t, &m, &err), -1);
    assert_string_equal(err.msg, "amount: expected a number");
    json_t *s = json_string("1e999");
    assert_int_equal(mkto_json_to_minor(s, &m, &err), -1);
    assert_string_equal(err.msg, "amount '1e999' is too large");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope),       cmocka_unit_test(test_token),
        cmocka_unit_test(test_programs),       cmocka_unit_test(test_channels_members_leads),
        cmocka_unit_test(test_activities),     cmocka_unit_test(test_record_results),
        cmocka_unit_test(test_request_bodies), cmocka_unit_test(test_times_and_money),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
