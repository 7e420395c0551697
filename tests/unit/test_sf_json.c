/*
 * Salesforce JSON mapping: query pages, every record type campsync reads,
 * the OAuth answer, sObject Collections results and request bodies. Money
 * must convert exactly, times to the millisecond, nulls to defaults, and
 * any malformed body must fail with an error naming the field. Messages are
 * freed with protobuf_c_message_free_unpacked(.., NULL) so ASan checks the
 * documented ownership rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_batch.h"
#include "sf_json.h"

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

/* The rules live in common/json (tests/unit/test_json.c); these check the
 * Salesforce wrappers: millisecond format, its own error example, no
 * amounts as strings, and request bodies that print money exactly. */
static void test_datetime_parse(void **state)
{
    (void)state;
    int64_t ms = 42;
    sf_err err = {{0}};
    assert_int_equal(sf_parse_datetime("2026-01-31T12:00:00.000+0000", &ms, &err), 0);
    assert_int_equal(ms, 1769860800000LL);
    assert_int_equal(sf_parse_datetime("2026-01-31", &ms, &err), 0);
    assert_int_equal(ms, 1769817600000LL);
    assert_int_equal(sf_parse_datetime("2025-02-29T00:00:00Z", &ms, &err), -1);
    assert_string_equal(
        err.msg,
        "invalid datetime '2025-02-29T00:00:00Z': expected like 2026-01-31T12:00:00.000+0000");
    assert_int_equal(sf_parse_datetime(NULL, &ms, &err), -1);
    assert_string_equal(err.msg, "invalid datetime: missing");
    char buf[40];
    sf_format_datetime(1769860800123LL, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-31T12:00:00.123Z");
    sf_format_datetime(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

static void test_money_exact(void **state)
{
    (void)state;
    int64_t m = 42;
    sf_err err = {{0}};
    assert_int_equal(sf_decimal_to_minor("-2.675", &m, &err), 0);
    assert_int_equal(m, -268);
    assert_int_equal(sf_decimal_to_minor("1e30", &m, &err), -1);
    assert_string_equal(err.msg, "amount '1e30' is too large");
    json_t *doc = json_loads("[1234.5, 19.99, \"19.99\", true]", 0, NULL);
    assert_int_equal(sf_json_to_minor(json_array_get(doc, 0), &m, &err), 0);
    assert_int_equal(m, 123450);
    assert_int_equal(sf_json_to_minor(json_array_get(doc, 1), &m, &err), 0);
    assert_int_equal(m, 1999);
    for (size_t i = 2; i < 4; i++) {
        assert_int_equal(sf_json_to_minor(json_array_get(doc, i), &m, &err), -1);
        assert_string_equal(err.msg, "amount: expected a number");
    }
    json_decref(doc);
    json_t *arr = json_array();
    json_array_append_new(arr, sf_minor_to_json(1999));
    json_array_append_new(arr, sf_minor_to_json(123450));
    json_array_append_new(arr, sf_minor_to_json(10000));
    json_array_append_new(arr, sf_minor_to_json(-1));
    char *s = json_dumps(arr, SF_JSON_DUMP_FLAGS);
    assert_string_equal(s, "[19.99,1234.5,100,-0.01]");
    free(s);
    json_decref(arr);
}

static const char campaign_page[] =
    "{\"totalSize\":3,\"done\":false,\"nextRecordsUrl\":\"/services/data/v60.0/query/"
    "01gD0000002HU6KIAW-2000\",\"records\":["
    "{\"attributes\":{\"type\":\"Campaign\",\"url\":\"/services/data/v60.0/sobjects/Campaign/"
    "701000000000001AAA\"},\"Id\":\"701000000000001AAA\",\"Name\":\"Webinar: Zoë's \\\"Q1\\\"\","
    "\"Type\":\"Webinar\",\"Status\":\"Planned\",\"IsActive\":true,\"ActualCost\":1234.5,"
    "\"StartDate\":\"2026-02-01\",\"EndDate\":null,\"SystemModstamp\":\"2026-01-31T12:00:00.000+"
    "0000\","
    "\"Enable_Buyer_Touchpoints__c\":\"Include All Campaign Members\","
    "\"Touchpoint_Start_Date__c\":\"2026-02-01\",\"Touchpoint_End_Date__c\":null},"
    "{\"attributes\":{\"type\":\"Campaign\"},\"Id\":\"701000000000002AAA\",\"Name\":\"Bare\","
    "\"ActualCost\":19.99,\"IsActive\":false,\"Type\":null},"
    "{\"attributes\":{\"type\":\"Campaign\"},\"Id\":\"701000000000003AAA\",\"Name\":\"Whole\","
    "\"ActualCost\":5000}]}";

static void test_page_and_campaigns(void **state)
{
    (void)state;
    sf_page page;
    sf_err err = {{0}};
    assert_int_equal(sf_page_parse(campaign_page, strlen(campaign_page), &page, &err), 0);
    assert_int_equal(page.total_size, 3);
    assert_false(page.done);
    assert_string_equal(page.next_records_url,
                        "/services/data/v60.0/query/01gD0000002HU6KIAW-2000");
    Campsync__V1__CampaignList *list = sf_msg_new(&campsync__v1__campaign_list__descriptor);
    assert_int_equal(sf_campaigns_append(&page, list, &err), 0);
    /* A second page appends. */
    assert_int_equal(sf_campaigns_append(&page, list, &err), 0);
    assert_int_equal(list->n_campaigns, 6);
    Campsync__V1__Campaign *c = list->campaigns[0];
    assert_string_equal(c->id, "701000000000001AAA");
    assert_string_equal(c->name, "Webinar: Zoë's \"Q1\"");
    assert_string_equal(c->type, "Webinar");
    assert_string_equal(c->status, "Planned");
    assert_true(c->is_active);
    assert_int_equal(c->actual_cost_minor, 123450);
    assert_string_equal(c->start_date, "2026-02-01");
    assert_string_equal(c->end_date, "");
    assert_int_equal(c->system_modstamp_ms, 1769860800000LL);
    assert_string_equal(c->enable_buyer_touchpoints, "Include All Campaign Members");
    assert_string_equal(c->touchpoint_start_date, "2026-02-01");
    assert_string_equal(c->touchpoint_end_date, "");
    assert_int_equal(list->campaigns[1]->actual_cost_minor, 1999);
    assert_string_equal(list->campaigns[1]->type, "");
    assert_false(list->campaigns[1]->is_active);
    assert_int_equal(list->campaigns[2]->actual_cost_minor, 500000);
    /* The tree packs and frees like any protobuf-c message. */
    size_t sz = campsync__v1__campaign_list__get_packed_size(list);
    uint8_t *buf = malloc(sz);
    campsync__v1__campaign_list__pack(list, buf);
    Campsync__V1__CampaignList *back = campsync__v1__campaign_list__unpack(NULL, sz, buf);
    assert_non_null(back);
    assert_string_equal(back->campaigns[0]->name, c->name);
    campsync__v1__campaign_list__free_unpacked(back, NULL);
    free(buf);
    FREE(list);
    sf_page_clear(&page);
}

static void expect_page_error(const char *body, const char *needle)
{
    sf_page page;
    sf_err err = {{0}};
    assert_int_equal(sf_page_parse(body, body ? strlen(body) : 0, &page, &err), -1);
    if (!strstr(err.msg, needle))
        fail_msg("'%s' does not contain '%s'", err.msg, needle);
    assert_null(page.records);
    assert_null(page.next_records_url);
}

static void test_page_errors(void **state)
{
    (void)state;
    expect_page_error("", "not JSON");
    expect_page_error(NULL, "not JSON");
    expect_page_error("<html>503</html>", "not JSON");
    expect_page_error("{\"totalSize\":1,\"done\":true,\"records\":[", "not JSON");
    expect_page_error("[]", "expected an object");
    expect_page_error("{\"done\":true,\"records\":[]}", "totalSize");
    expect_page_error("{\"totalSize\":-1,\"done\":true,\"records\":[]}", "totalSize");
    expect_page_error("{\"totalSize\":0,\"done\":\"yes\",\"records\":[]}", "done");
    expect_page_error("{\"totalSize\":0,\"done\":true,\"records\":{}}", "records");
    expect_page_error("{\"totalSize\":5,\"done\":false,\"records\":[]}", "nextRecordsUrl");
    expect_page_error("{\"totalSize\":5,\"done\":false,\"records\":[],\"nextRecordsUrl\":"
                      "\"https://evil.example/services/data/v60.0/query/x\"}",
                      "not a /services/data/ path");
    expect_page_error("{\"totalSize\":5,\"done\":false,\"records\":[],\"nextRecordsUrl\":"
                      "\"/services/data/../../admin\"}",
                      "not a /services/data/ path");
    /* A record of the wrong shape fails the mapping with the field named; the list is unchanged. */
    const char *body =
        "{\"totalSize\":2,\"done\":true,\"records\":[{\"Id\":\"701000000000001AAA\"},"
        "{\"Id\":\"701000000000002AAA\",\"ActualCost\":\"12.00\"}]}";
    sf_page page;
    sf_err err = {{0}};
    assert_int_equal(sf_page_parse(body, strlen(body), &page, &err), 0);
    assert_null(page.next_records_url);
    Campsync__V1__CampaignList *list = sf_msg_new(&campsync__v1__campaign_list__descriptor);
    assert_int_equal(sf_campaigns_append(&page, list, &err), -1);
    assert_string_equal(err.msg, "records[1].ActualCost: expected a number, got string");
    assert_int_equal(list->n_campaigns, 0);
    FREE(list);
    sf_page_clear(&page);
}

static json_t *load(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_members(void **state)
{
    (void)state;
    json_t *r = load(
        "{\"attributes\":{\"type\":\"CampaignMember\"},\"Id\":\"00v000000000001AAA\","
        "\"CampaignId\":\"701000000000001AAA\",\"LeadId\":\"00Q000000000001AAA\",\"ContactId\":"
        "null,"
        "\"Status\":\"Attended\",\"HasResponded\":true,\"FirstRespondedDate\":\"2026-01-31\","
        "\"CreatedDate\":\"2026-01-30T08:00:00.000+0000\",\"LastModifiedDate\":\"2026-01-31T12:00:"
        "00.000+0000\",\"SystemModstamp\":\"2026-01-31T12:00:00.001+0000\",\"IsDeleted\":false,"
        "\"Lead\":{\"attributes\":{\"type\":\"Lead\"},\"Email\":\"ann@example.com\"},\"Contact\":"
        "null,"
        "\"Buyer_Touchpoint_Date__c\":\"2026-01-31\"}");
    Campsync__V1__CampaignMember *m;
    sf_err err = {{0}};
    assert_int_equal(sf_member_from_json(r, "records[0]", &m, &err), 0);
    assert_string_equal(m->id, "00v000000000001AAA");
    assert_string_equal(m->lead_id, "00Q000000000001AAA");
    assert_string_equal(m->contact_id, "");
    assert_string_equal(m->status, "Attended");
    assert_true(m->has_responded);
    assert_int_equal(m->first_responded_date_ms, 1769817600000LL);
    assert_int_equal(m->created_date_ms, 1769760000000LL);
    assert_int_equal(m->system_modstamp_ms, 1769860800001LL);
    assert_string_equal(m->email, "ann@example.com");
    assert_string_equal(m->account_id, "");
    assert_string_equal(m->buyer_touchpoint_date, "2026-01-31");
    FREE(m);
    json_decref(r);

    r = load(
        "{\"Id\":\"00v000000000002AAA\",\"ContactId\":\"003000000000001AAA\",\"IsDeleted\":true,"
        "\"Lead\":null,\"Contact\":{\"Email\":\"bo@example.com\",\"AccountId\":"
        "\"001000000000001AAA\"}}");
    assert_int_equal(sf_member_from_json(r, "records[1]", &m, &err), 0);
    assert_string_equal(m->email, "bo@example.com");
    assert_string_equal(m->account_id, "001000000000001AAA");
    assert_true(m->is_deleted);
    FREE(m);
    json_decref(r);

    const char *bad[][2] = {
        {"{\"Lead\":\"x\"}", "records[2].Lead.Email: parent is a string, not an object"},
        {"{\"HasResponded\":\"true\"}", "records[2].HasResponded: expected a boolean, got string"},
        {"{\"CreatedDate\":12345}",
         "records[2].CreatedDate: expected a datetime string, got number"},
        {"{\"CreatedDate\":\"2026-02-30T00:00:00Z\"}", "records[2].CreatedDate: invalid datetime"},
        {"{\"Buyer_Touchpoint_Date__c\":\"31/01/2026\"}", "records[2].Buyer_Touchpoint_Date__c: "
                                                          "invalid date"},
        {"{\"Status\":[]}", "records[2].Status: expected a string, got array"},
        {"[]", "records[2]: expected an object, got array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = load(bad[i][0]);
        m = (void *)1;
        assert_int_equal(sf_member_from_json(r, "records[2]", &m, &err), -1);
        assert_null(m);
        if (strncmp(err.msg, bad[i][1], strlen(bad[i][1])) != 0)
            fail_msg("'%s' does not start with '%s'", err.msg, bad[i][1]);
        json_decref(r);
    }
}

static void test_statuses_people_opportunities_user(void **state)
{
    (void)state;
    const char *body =
        "{\"totalSize\":2,\"done\":true,\"records\":[{\"attributes\":{\"type\":"
        "\"CampaignMemberStatus\"},\"Id\":\"01Y000000000001AAA\",\"Label\":\"Sent\",\"SortOrder\":"
        "1,"
        "\"IsDefault\":true,\"HasResponded\":false},{\"Id\":\"01Y000000000002AAA\",\"Label\":"
        "\"Responded\",\"SortOrder\":2.0,\"IsDefault\":false,\"HasResponded\":true}]}";
    sf_page page;
    sf_err err = {{0}};
    assert_int_equal(sf_page_parse(body, strlen(body), &page, &err), 0);
    Campsync__V1__MemberStatusList *sl = sf_msg_new(&campsync__v1__member_status_list__descriptor);
    assert_int_equal(sf_member_statuses_append(&page, sl, &err), 0);
    assert_int_equal(sl->n_statuses, 2);
    assert_string_equal(sl->statuses[0]->label, "Sent");
    assert_int_equal(sl->statuses[0]->sort_order, 1);
    assert_true(sl->statuses[0]->is_default);
    assert_int_equal(sl->statuses[1]->sort_order, 2);
    assert_true(sl->statuses[1]->has_responded);
    FREE(sl);
    sf_page_clear(&page);

    body = "{\"totalSize\":1,\"done\":true,\"records\":[{\"SortOrder\":1.5}]}";
    assert_int_equal(sf_page_parse(body, strlen(body), &page, &err), 0);
    sl = sf_msg_new(&campsync__v1__member_status_list__descriptor);
    assert_int_equal(sf_member_statuses_append(&page, sl, &err), -1);
    assert_non_null(strstr(err.msg, "records[0].SortOrder"));
    FREE(sl);
    sf_page_clear(&page);

    body = "{\"totalSize\":2,\"done\":true,\"records\":[{\"attributes\":{\"type\":\"Lead\"},\"Id\":"
           "\"00Q000000000001AAA\",\"Email\":\"ann@example.com\",\"FirstName\":null,\"LastName\":"
           "\"Lee\",\"Company\":\"Acme\",\"IsConverted\":true,\"ConvertedContactId\":"
           "\"003000000000009AAA\",\"CreatedDate\":\"2026-01-31T12:00:00.000+0000\"},{\"Id\":"
           "\"003000000000001AAA\",\"Email\":\"bo@example.com\",\"AccountId\":"
           "\"001000000000001AAA\"}]}";
    assert_int_equal(sf_page_parse(body, strlen(body), &page, &err), 0);
    Campsync__V1__PersonList *pl = sf_msg_new(&campsync__v1__person_list__descriptor);
    assert_int_equal(sf_people_append(&page, "Contact", pl, &err), 0);
    assert_int_equal(pl->n_people, 2);
    assert_string_equal(pl->people[0]->kind, "Lead");
    assert_string_equal(pl->people[0]->first_name, "");
    assert_string_equal(pl->people[0]->company, "Acme");
    assert_true(pl->people[0]->is_converted);
    assert_string_equal(pl->people[0]->converted_contact_id, "003000000000009AAA");
    assert_int_equal(pl->people[0]->created_date_ms, 1769860800000LL);
    assert_string_equal(pl->people[1]->kind, "Contact");
    assert_string_equal(pl->people[1]->account_id, "001000000000001AAA");
    FREE(pl);
    sf_page_clear(&page);

    body =
        "{\"totalSize\":1,\"done\":true,\"records\":[{\"Id\":\"006000000000001AAA\",\"AccountId\":"
        "\"001000000000001AAA\",\"Amount\":1234.5,\"CreatedDate\":\"2026-01-02T03:04:05.000+0000\","
        "\"CloseDate\":\"2026-03-31\",\"IsClosed\":true,\"IsWon\":true,\"Name\":\"Big deal\"},"
        "{\"Id\":\"006000000000002AAA\",\"Amount\":null}]}";
    assert_int_equal(sf_page_parse(body, strlen(body), &page, &err), 0);
    Campsync__V1__OpportunityList *ol = sf_msg_new(&campsync__v1__opportunity_list__descriptor);
    assert_int_equal(sf_opportunities_append(&page, ol, &err), 0);
    assert_int_equal(ol->opportunities[0]->amount_minor, 123450);
    assert_string_equal(ol->opportunities[0]->close_date, "2026-03-31");
    assert_true(ol->opportunities[0]->is_won);
    assert_int_equal(ol->opportunities[0]->created_date_ms, 1767323045000LL);
    assert_int_equal(ol->opportunities[1]->amount_minor, 0);
    FREE(ol);
    sf_page_clear(&page);

    json_t *u = load("{\"Id\":\"005000000000001AAA\",\"Username\":\"sync@acme.com\","
                     "\"UserPermissionsMarketingUser\":true}");
    Campsync__V1__MarketingUserCheck *mu;
    assert_int_equal(sf_user_from_json(u, NULL, &mu, &err), 0);
    assert_string_equal(mu->user_id, "005000000000001AAA");
    assert_string_equal(mu->username, "sync@acme.com");
    assert_true(mu->is_marketing_user);
    FREE(mu);
    json_decref(u);
}

static void test_token(void **state)
{
    (void)state;
    const char *body = "{\"access_token\":\"00Dxx!AQ0AQ\",\"signature\":\"abc=\",\"scope\":\"api\","
                       "\"instance_url\":\"https://acme.my.salesforce.com/\",\"id\":"
                       "\"https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA\","
                       "\"token_type\":\"Bearer\",\"issued_at\":\"1769860800000\"}";
    sf_token tok;
    sf_err err = {{0}};
    assert_int_equal(sf_token_parse(body, strlen(body), &tok, &err), 0);
    assert_string_equal(tok.access_token, "00Dxx!AQ0AQ");
    assert_string_equal(tok.instance_url, "https://acme.my.salesforce.com");
    assert_string_equal(tok.org_id, "00D000000000001AAA");
    assert_string_equal(tok.user_id, "005000000000001AAA");
    assert_string_equal(tok.token_type, "Bearer");
    assert_int_equal(tok.issued_at_ms, 1769860800000LL);
    sf_token_clear(&tok);

    body = "{\"access_token\":\"t\",\"instance_url\":\"http://127.0.0.1:8080\"}";
    assert_int_equal(sf_token_parse(body, strlen(body), &tok, &err), 0);
    assert_string_equal(tok.user_id, "");
    assert_string_equal(tok.token_type, "Bearer");
    sf_token_clear(&tok);

    const char *bad[][2] = {
        {"{\"instance_url\":\"https://x\"}", "access_token"},
        {"{\"access_token\":\"\",\"instance_url\":\"https://x\"}", "access_token"},
        {"{\"access_token\":\"t\"}", "instance_url"},
        {"{\"access_token\":\"t\",\"instance_url\":\"ftp://x\"}", "instance_url"},
        {"{\"access_token\":\"t\",\"instance_url\":\"https://x\",\"issued_at\":5}", "issued_at"},
        {"{\"error\":\"invalid_grant\",\"error_description\":\"authentication failure\"}",
         "access_token"},
        {"not json", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_token_parse(bad[i][0], strlen(bad[i][0]), &tok, &err), -1);
        assert_non_null(strstr(err.msg, bad[i][1]));
        assert_null(tok.access_token);
    }
}

static void test_collection_results(void **state)
{
    (void)state;
    const char *body =
        "[{\"id\":\"00v000000000001AAA\",\"success\":true,\"errors\":[]},"
        "{\"success\":false,\"errors\":[{\"statusCode\":\"DUPLICATE_VALUE\",\"message\":\"Already "
        "a "
        "campaign member.\",\"fields\":[]}]},"
        "{\"id\":null,\"success\":false,\"errors\":[{\"statusCode\":"
        "\"FIELD_CUSTOM_VALIDATION_EXCEPTION\",\"message\":\"No converted leads\",\"fields\":"
        "[\"LeadId\",\"Status\"]}]}]";
    const char *keys[] = {"00Q000000000001AAA", "00Q000000000002AAA", "00Q000000000003AAA"};
    Campsync__V1__BatchResult *acc = sf_msg_new(&campsync__v1__batch_result__descriptor);
    sf_err err = {{0}};
    assert_int_equal(
        sf_collection_results_append(body, strlen(body), SF_OP_ADD_MEMBER, keys, 3, 0, acc, &err),
        0);
    assert_int_equal(acc->n_results, 3);
    assert_int_equal(acc->results[0]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_ADDED);
    assert_string_equal(acc->results[0]->id, "00v000000000001AAA");
    assert_string_equal(acc->results[0]->key, "00Q000000000001AAA");
    assert_int_equal(acc->results[1]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);
    assert_string_equal(acc->results[1]->code, "DUPLICATE_VALUE");
    assert_string_equal(acc->results[1]->reason, "Already a campaign member.");
    assert_int_equal(acc->results[2]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_FAILED);
    assert_int_equal(acc->results[2]->index, 2);
    assert_string_equal(acc->results[2]->code, "FIELD_CUSTOM_VALIDATION_EXCEPTION");
    assert_string_equal(acc->results[2]->reason, "No converted leads (fields: LeadId, Status)");
    assert_int_equal(acc->added, 1);
    assert_int_equal(acc->skipped, 1);
    assert_int_equal(acc->failed, 1);
    assert_int_equal(acc->api_calls, 1);

    /* A second call appends with its own index base; upsert reads "created". */
    body = "[{\"id\":\"a00000000000001AAA\",\"success\":true,\"errors\":[],\"created\":true},"
           "{\"id\":\"a00000000000002AAA\",\"success\":true,\"errors\":[],\"created\":false}]";
    assert_int_equal(
        sf_collection_results_append(body, strlen(body), SF_OP_UPSERT, NULL, 2, 200, acc, &err), 0);
    assert_int_equal(acc->n_results, 5);
    assert_int_equal(acc->results[3]->index, 200);
    assert_int_equal(acc->results[3]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_CREATED);
    assert_int_equal(acc->results[4]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_UPDATED);
    assert_string_equal(acc->results[4]->key, "");
    assert_int_equal(acc->api_calls, 2);

    /* Deleting an already deleted record is nothing left to do. */
    body = "[{\"id\":\"00v000000000001AAA\",\"success\":false,\"errors\":[{\"statusCode\":"
           "\"ENTITY_IS_DELETED\",\"message\":\"entity is deleted\",\"fields\":[]}]}]";
    assert_int_equal(
        sf_collection_results_append(body, strlen(body), SF_OP_DELETE, NULL, 1, 5, acc, &err), 0);
    assert_int_equal(acc->results[5]->outcome, CAMPSYNC__V1__OUTCOME__OUTCOME_SKIPPED);

    /* Malformed answers leave acc untouched. */
    const char *bad[][2] = {
        {"[{\"success\":true}]", "expected an array of 2 results"},
        {"{\"success\":true}", "expected an array of 2 results, got object"},
        {"[{\"success\":true},{\"success\":\"yes\"}]", "results[1].success: expected a boolean"},
        {"[{\"success\":true},{\"success\":true,\"id\":7}]", "results[1].id: expected a string"},
        {"[{\"success\":true},{\"success\":false,\"errors\":\"bad\"}]", "results[1].errors"},
        {"[{\"success\":true},{\"success\":false,\"errors\":[{\"statusCode\":5}]}]",
         "results[1].statusCode"},
        {"[{\"success\":true},7]", "results[1]: expected an object"},
        {"", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sf_collection_results_append(bad[i][0], strlen(bad[i][0]), SF_OP_CREATE,
                                                      NULL, 2, 0, acc, &err),
                         -1);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("'%s' does not contain '%s'", err.msg, bad[i][1]);
        assert_int_equal(acc->n_results, 6);
        assert_int_equal(acc->api_calls, 3);
    }
    FREE(acc);

    char *id;
    body = "{\"id\":\"701000000000009AAA\",\"success\":true,\"errors\":[]}";
    assert_int_equal(sf_create_result_parse(body, strlen(body), &id, &err), 0);
    assert_string_equal(id, "701000000000009AAA");
    free(id);
    body = "{\"success\":false,\"errors\":[{\"statusCode\":\"REQUIRED_FIELD_MISSING\",\"message\":"
           "\"Required fields are missing: [Name]\"}]}";
    assert_int_equal(sf_create_result_parse(body, strlen(body), &id, &err), -1);
    assert_string_equal(err.msg, "create failed: REQUIRED_FIELD_MISSING: Required fields are "
                                 "missing: [Name]");
}

static void test_request_bodies(void **state)
{
    (void)state;
    sf_err err = {{0}};
    Campsync__V1__NewMember m1 = CAMPSYNC__V1__NEW_MEMBER__INIT,
                            m2 = CAMPSYNC__V1__NEW_MEMBER__INIT;
    m1.lead_id = "00Q000000000001AAA";
    m1.status = "Sent";
    m2.contact_id = "003000000000001";
    Campsync__V1__NewMember *members[] = {&m1, &m2};
    char *b = sf_body_add_members("701000000000001AAA", members, 2, &err);
    assert_string_equal(b,
                        "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":"
                        "\"CampaignMember\"},\"CampaignId\":\"701000000000001AAA\",\"LeadId\":"
                        "\"00Q000000000001AAA\",\"Status\":\"Sent\"},{\"attributes\":{\"type\":"
                        "\"CampaignMember\"},\"CampaignId\":\"701000000000001AAA\",\"ContactId\":"
                        "\"003000000000001\"}]}");
    free(b);
    m2.lead_id = "00Q000000000002AAA";
    assert_null(sf_body_add_members("701000000000001AAA", members, 2, &err));
    assert_string_equal(err.msg, "records[1]: exactly one of lead_id and contact_id is needed");
    m2.lead_id = (char *)protobuf_c_empty_string;
    m2.contact_id = "003' OR 1=1";
    assert_null(sf_body_add_members("701000000000001AAA", members, 2, &err));
    assert_non_null(strstr(err.msg, "records[1].ContactId: invalid Salesforce id"));
    assert_null(sf_body_add_members("bad", members, 1, &err));
    assert_non_null(strstr(err.msg, "campaign_id"));
    Campsync__V1__NewMember *many[201];
    for (int i = 0; i < 201; i++)
        many[i] = &m1;
    assert_null(sf_body_add_members("701000000000001AAA", many, 201, &err));
    assert_non_null(strstr(err.msg, "at most 200"));
    b = sf_body_add_members("701000000000001AAA", many, 200, &err);
    assert_non_null(b);
    free(b);

    Campsync__V1__CampaignUpdate u = CAMPSYNC__V1__CAMPAIGN_UPDATE__INIT;
    Campsync__V1__OptString type = CAMPSYNC__V1__OPT_STRING__INIT,
                            clear = CAMPSYNC__V1__OPT_STRING__INIT;
    Campsync__V1__OptInt64 cost = CAMPSYNC__V1__OPT_INT64__INIT;
    u.id = "701000000000001AAA";
    type.value = "Webinar";
    cost.value = 1999;
    u.type = &type;
    u.actual_cost_minor = &cost;
    u.touchpoint_end_date = &clear;
    Campsync__V1__CampaignUpdate *ups[] = {&u};
    b = sf_body_campaign_updates(ups, 1, &err);
    assert_string_equal(b,
                        "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":\"Campaign\"},"
                        "\"id\":\"701000000000001AAA\",\"Type\":\"Webinar\",\"ActualCost\":19.99,"
                        "\"Touchpoint_End_Date__c\":null}]}");
    free(b);
    Campsync__V1__OptString baddate = CAMPSYNC__V1__OPT_STRING__INIT;
    baddate.value = "tomorrow";
    u.touchpoint_start_date = &baddate;
    assert_null(sf_body_campaign_updates(ups, 1, &err));
    assert_non_null(strstr(err.msg, "records[0].Touchpoint_Start_Date__c: invalid date"));

    Campsync__V1__MemberStatusChange c = CAMPSYNC__V1__MEMBER_STATUS_CHANGE__INIT;
    c.member_id = "00v000000000001AAA";
    c.status = "Responded \"yes\"";
    Campsync__V1__MemberStatusChange *cs[] = {&c};
    b = sf_body_member_status_changes(cs, 1, &err);
    assert_string_equal(b, "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":"
                           "\"CampaignMember\"},\"id\":\"00v000000000001AAA\",\"Status\":"
                           "\"Responded \\\"yes\\\"\"}]}");
    free(b);
    c.status = "bad \xff utf8";
    assert_null(sf_body_member_status_changes(cs, 1, &err));
    assert_string_equal(err.msg, "records[0].Status: not valid UTF-8");

    Campsync__V1__MemberStatus st = CAMPSYNC__V1__MEMBER_STATUS__INIT;
    st.label = "Attended";
    st.sort_order = 3;
    st.has_responded = 1;
    Campsync__V1__MemberStatus *sts[] = {&st};
    b = sf_body_member_statuses("701000000000001AAA", sts, 1, &err);
    assert_string_equal(b, "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":"
                           "\"CampaignMemberStatus\"},\"CampaignId\":\"701000000000001AAA\","
                           "\"Label\":\"Attended\",\"SortOrder\":3,\"IsDefault\":false,"
                           "\"HasResponded\":true}]}");
    free(b);

    Campsync__V1__Person p = CAMPSYNC__V1__PERSON__INIT;
    p.last_name = "Lee";
    p.email = "ann@example.com";
    Campsync__V1__Person *ps[] = {&p};
    assert_null(sf_body_create_leads(ps, 1, &err));
    assert_string_equal(err.msg, "records[0].Company: required for a Lead");
    p.company = "[not provided]";
    b = sf_body_create_leads(ps, 1, &err);
    assert_string_equal(b, "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":\"Lead\"},"
                           "\"LastName\":\"Lee\",\"Company\":\"[not provided]\",\"Email\":"
                           "\"ann@example.com\"}]}");
    free(b);

    const char *ids[] = {"00v000000000001AAA", "00v000000000002AAA"};
    b = sf_body_set_member_field("Buyer_Touchpoint_Date__c", "", ids, 2, &err);
    assert_non_null(strstr(b, "\"id\":\"00v000000000002AAA\",\"Buyer_Touchpoint_Date__c\":null"));
    free(b);
    assert_null(sf_body_set_member_field("Status, Id", "x", ids, 2, &err));
    b = sf_delete_query(ids, 2, &err);
    assert_string_equal(b, "ids=00v000000000001AAA,00v000000000002AAA&allOrNone=false");
    free(b);
    const char *badids[] = {"00v000000000001AAA", "x&allOrNone=true"};
    assert_null(sf_delete_query(badids, 2, &err));
    assert_non_null(strstr(err.msg, "ids[1]"));
    assert_null(sf_delete_query(ids, 0, &err));

    Campsync__V1__UpsertRecord__FieldsJsonEntry
        e1 = CAMPSYNC__V1__UPSERT_RECORD__FIELDS_JSON_ENTRY__INIT,
        e2 = CAMPSYNC__V1__UPSERT_RECORD__FIELDS_JSON_ENTRY__INIT;
    e1.key = "Touchpoint_Id__c";
    e1.value = "\"tp-1\"";
    e2.key = "Revenue__c";
    e2.value = "12.5";
    Campsync__V1__UpsertRecord__FieldsJsonEntry *es[] = {&e1, &e2};
    Campsync__V1__UpsertRecord rec = CAMPSYNC__V1__UPSERT_RECORD__INIT;
    rec.n_fields_json = 2;
    rec.fields_json = es;
    Campsync__V1__UpsertRecord *recs[] = {&rec};
    b = sf_body_upsert("Buyer_Touchpoint__c", "Touchpoint_Id__c", recs, 1, &err);
    assert_string_equal(b, "{\"allOrNone\":false,\"records\":[{\"attributes\":{\"type\":"
                           "\"Buyer_Touchpoint__c\"},\"Touchpoint_Id__c\":\"tp-1\",\"Revenue__c\":"
                           "12.5}]}");
    free(b);
    e2.value = "{\"nested\":1}";
    assert_null(sf_body_upsert("Buyer_Touchpoint__c", "Touchpoint_Id__c", recs, 1, &err));
    assert_non_null(strstr(err.msg, "records[0].Revenue__c"));
    e2.value = "12.5";
    rec.n_fields_json = 1;
    es[0] = &e2;
    assert_null(sf_body_upsert("Buyer_Touchpoint__c", "Touchpoint_Id__c", recs, 1, &err));
    assert_non_null(strstr(err.msg, "external id field Touchpoint_Id__c is missing"));

    char *path = sf_collections_path("v60.0", "Buyer_Touchpoint__c", "Touchpoint_Id__c", &err);
    assert_string_equal(path, "/services/data/v60.0/composite/sobjects/Buyer_Touchpoint__c/"
                              "Touchpoint_Id__c");
    free(path);
    path = sf_collections_path("v60.0", NULL, NULL, &err);
    assert_string_equal(path, "/services/data/v60.0/composite/sobjects");
    free(path);
    assert_null(sf_collections_path("v60.0", "X/../Y", "Id", &err));
    assert_null(sf_collections_path("v60.0", "Lead", NULL, &err));

    Campsync__V1__Campaign camp = CAMPSYNC__V1__CAMPAIGN__INIT;
    camp.name = "Spring Webinar";
    camp.type = "Webinar";
    camp.is_active = 1;
    camp.actual_cost_minor = 123450;
    camp.start_date = "2026-03-01";
    b = sf_body_create_campaign(&camp, &err);
    assert_string_equal(b, "{\"Name\":\"Spring Webinar\",\"Type\":\"Webinar\",\"StartDate\":"
                           "\"2026-03-01\",\"IsActive\":true,\"ActualCost\":1234.5}");
    free(b);

    size_t off, len;
    assert_int_equal(sf_batch_count(0), 0);
    assert_int_equal(sf_batch_count(200), 1);
    assert_int_equal(sf_batch_count(401), 3);
    sf_batch_range(2, 401, &off, &len);
    assert_int_equal(off, 400);
    assert_int_equal(len, 1);
    sf_batch_range(0, 401, &off, &len);
    assert_int_equal(len, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datetime_parse),
        cmocka_unit_test(test_money_exact),
        cmocka_unit_test(test_page_and_campaigns),
        cmocka_unit_test(test_page_errors),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_statuses_people_opportunities_user),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_collection_results),
        cmocka_unit_test(test_request_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
