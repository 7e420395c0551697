/*
 * The Salesforce simulator over real HTTP: the campsync-sandbox binary is
 * started on free loopback ports with a dataset written by the test, and
 * libcurl speaks to it as a connector would. Covers OAuth and the identity
 * URL, token expiry (clock and admin) -> 401, the Sforce-Limit-Info header and
 * the 403 daily limit, paging of a 5,000-member campaign in three pages,
 * queryAll tombstones, sObject Collections (the 200-record limit, allOrNone,
 * DUPLICATE_VALUE, REQUIRED_FIELD_MISSING), Marketing User visibility,
 * injected faults, and call accounting.
 */
#include "ts_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define CAMPAIGN "701000000000001AAA"
#define N_MEMBERS 5000

static ts_sandbox *sb;

/* A data API call with the session token; path is under the instance URL. */
static ts_http_res api(const char *method, const char *path, const char *json_body, long want)
{
    ts_http_res r = ts_http_at(method, sb->salesforce, path, json_body, sb->token);
    if (r.status != want)
        fail_msg("%s %s -> %ld (wanted %ld): %s", method, path, r.status, want,
                 r.body ? r.body : "(no body)");
    return r;
}

static ts_http_res admin(const char *method, const char *path, const char *json_body, long want)
{
    ts_http_res r = ts_http_at(method, sb->admin, path, json_body, NULL);
    if (r.status != want)
        fail_msg("admin %s %s -> %ld (wanted %ld): %s", method, path, r.status, want,
                 r.body ? r.body : "(no body)");
    return r;
}

/* An OAuth token request (form-encoded). */
static ts_http_res form_post(const char *url, const char *form)
{
    return ts_http("POST", url, "application/x-www-form-urlencoded", form, strlen(form), NULL);
}

static void login(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s/services/oauth2/token", sb->salesforce);
    ts_http_res r =
        form_post(url, "grant_type=client_credentials&client_id=it-client&client_secret=it-secret");
    assert_int_equal(r.status, 200);
    snprintf(sb->token, sizeof sb->token, "%s",
             json_string_value(json_object_get(r.json, "access_token")));
    assert_true(strlen(sb->token) > 20);
    ts_http_res_free(&r);
}

static const char *err_code(const ts_http_res *r)
{
    return json_string_value(json_object_get(json_array_get(r->json, 0), "errorCode"));
}

static const char *rec_status(const ts_http_res *r, size_t i)
{
    json_t *x = json_array_get(r->json, i);
    if (json_is_true(json_object_get(x, "success")))
        return "ok";
    return json_string_value(
        json_object_get(json_array_get(json_object_get(x, "errors"), 0), "statusCode"));
}

static long total(const char *resource, const char *soql_encoded)
{
    char path[2048];
    snprintf(path, sizeof path, "/services/data/v60.0/%s?q=%s", resource, soql_encoded);
    ts_http_res r = api("GET", path, NULL, 200);
    long n = (long)json_integer_value(json_object_get(r.json, "totalSize"));
    ts_http_res_free(&r);
    return n;
}

/* ---- the sandbox ---- */

static char *dataset(void)
{
    json_t *leads = json_array(), *members = json_array();
    for (int i = 0; i < N_MEMBERS; i++) {
        char id[16], mid[16], email[64];
        snprintf(id, sizeof id, "00Q%012d", i + 1);
        snprintf(mid, sizeof mid, "00v%012d", i + 1);
        snprintf(email, sizeof email, "lead%d@example.com", i);
        json_array_append_new(leads, json_pack("{s:s,s:s,s:s,s:s}", "Id", id, "LastName", "Lead",
                                               "Company", "Example", "Email", email));
        json_array_append_new(members, json_pack("{s:s,s:s,s:s,s:s}", "Id", mid, "CampaignId",
                                                 CAMPAIGN, "LeadId", id, "Status", "Sent"));
    }
    json_t *d = json_pack(
        "{s:{s:s,s:s,s:s,s:i,s:{s:i},s:{s:[s]},s:{s:o,s:[{s:s,s:s}],s:[{s:s,s:s,s:s,s:s}],"
        "s:[{s:s,s:s}],s:o,s:[{s:s,s:s,s:i,s:b,s:b},{s:s,s:s,s:i,s:b,s:b}]}}}",
        "salesforce", "client_id", "it-client", "client_secret", "it-secret", "integration_user",
        "005000000000001", "token_ttl_s", 7200, "limits", "daily_api", 100000, "custom_fields",
        "CampaignMember", "Buyer_Touchpoint_Date__c", "records", "User",
        json_pack("[{s:s,s:s,s:s,s:b},{s:s,s:s,s:s}]", "Id", "005000000000001", "Username",
                  "api@example.com", "LastName", "Api", "UserPermissionsMarketingUser", 1, "Id",
                  "005000000000002", "Username", "mia@example.com", "LastName", "Mia"),
        "Account", "Id", "001000000000001", "Name", "Acme", "Contact", "Id", "003000000000001",
        "LastName", "Cee", "Email", "c@acme.example", "AccountId", "001000000000001", "Campaign",
        "Id", CAMPAIGN, "Name", "Big webinar", "Lead", leads, "CampaignMemberStatus", "CampaignId",
        CAMPAIGN, "Label", "Sent", "SortOrder", 1, "IsDefault", 1, "HasResponded", 0, "CampaignId",
        CAMPAIGN, "Label", "Responded", "SortOrder", 2, "IsDefault", 0, "HasResponded", 1);
    assert_non_null(d);
    json_object_set_new(json_object_get(json_object_get(d, "salesforce"), "records"),
                        "CampaignMember", members);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

static int start_sandbox(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *text = dataset();
    ts_sandbox_opts o = {.salesforce = 1, .dataset_json = text, .seed = 5};
    sb = ts_sandbox_start(&o);
    free(text);
    return sb ? 0 : -1;
}

static int stop_sandbox(void **state)
{
    (void)state;
    /* A clean exit on SIGTERM; under the sanitizers a leak or error at exit
     * shows here. */
    int rc = ts_sandbox_stop(sb, 10000);
    sb = NULL;
    curl_global_cleanup();
    return rc;
}

/* Each test starts with a fresh org, clean faults and clock, and a session. */
static int fresh(void **state)
{
    (void)state;
    ts_http_res r = admin("POST", "/admin/reset", NULL, 200);
    ts_http_res_free(&r);
    r = admin("DELETE", "/admin/faults", NULL, 200);
    ts_http_res_free(&r);
    r = admin("POST", "/admin/clock", "{\"reset\":true}", 200);
    ts_http_res_free(&r);
    login();
    return 0;
}

/* ---- tests ---- */

static void test_oauth_identity_and_expiry(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url, "%s/services/oauth2/token", sb->salesforce);
    ts_http_res r =
        form_post(url, "grant_type=client_credentials&client_id=it-client&client_secret=nope");
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_client");
    ts_http_res_free(&r);
    r = form_post(url, "grant_type=client_credentials&client_id=it-client&client_secret=it-secret");
    assert_int_equal(r.status, 200);
    /* instance_url is the sandbox itself, taken from the Host header. */
    assert_string_equal(json_string_value(json_object_get(r.json, "instance_url")), sb->salesforce);
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "Bearer");
    const char *id_url = json_string_value(json_object_get(r.json, "id"));
    assert_non_null(strstr(id_url, "/id/00D000000000001EAA/005000000000001AAA"));
    char id_path[256];
    snprintf(id_path, sizeof id_path, "%s", id_url + strlen(sb->salesforce));
    ts_http_res_free(&r);
    r = api("GET", id_path, NULL, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "username")), "api@example.com");
    ts_http_res_free(&r);

    /* Sessions last token_ttl_s (7200) on the sandbox clock. */
    r = admin("POST", "/admin/clock", "{\"advance_s\":7201}", 200);
    ts_http_res_free(&r);
    r = api("GET", "/services/data/v60.0/limits", NULL, 401);
    assert_string_equal(err_code(&r), "INVALID_SESSION_ID");
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "message")),
                        "Session expired or invalid");
    ts_http_res_free(&r);
    login();
    r = api("GET", "/services/data/v60.0/limits", NULL, 200);
    ts_http_res_free(&r);
    r = admin("POST", "/admin/expire_tokens", NULL, 200);
    ts_http_res_free(&r);
    r = api("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead+LIMIT+1", NULL, 401);
    ts_http_res_free(&r);
}

static void test_limit_header_and_403(void **state)
{
    (void)state;
    ts_http_res r = api("GET", "/services/data/v60.0/limits", NULL, 200);
    char limit[128];
    assert_int_equal(ts_http_header(&r, "Sforce-Limit-Info", limit, sizeof limit), 0);
    long used = 0, max = 0;
    assert_int_equal(sscanf(limit, "api-usage=%ld/%ld", &used, &max), 2);
    assert_int_equal(max, 100000);
    ts_http_res_free(&r);
    r = api("GET", "/services/data/v60.0/limits", NULL, 200);
    long used2 = 0;
    assert_int_equal(ts_http_header(&r, "Sforce-Limit-Info", limit, sizeof limit), 0);
    assert_int_equal(sscanf(limit, "api-usage=%ld/", &used2), 1);
    assert_int_equal(used2, used + 1);
    ts_http_res_free(&r);
    r = admin("POST", "/admin/salesforce/set_api_usage", "{\"used\":100000}", 200);
    ts_http_res_free(&r);
    r = api("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+Lead+LIMIT+1", NULL, 403);
    assert_string_equal(err_code(&r), "REQUEST_LIMIT_EXCEEDED");
    assert_int_equal(ts_http_header(&r, "Sforce-Limit-Info", limit, sizeof limit), 0);
    assert_string_equal(limit, "api-usage=100000/100000");
    ts_http_res_free(&r);
}

static void test_paging_5000_members(void **state)
{
    (void)state;
    ts_http_res r = api("GET",
                        "/services/data/v60.0/query?q=SELECT+Id,Status,LeadId,Lead.Email+FROM+"
                        "CampaignMember+WHERE+CampaignId='" CAMPAIGN "'",
                        NULL, 200);
    int pages = 0;
    long rows = 0;
    json_t *ids = json_object();
    for (;;) {
        pages++;
        json_t *recs = json_object_get(r.json, "records");
        assert_int_equal(json_integer_value(json_object_get(r.json, "totalSize")), N_MEMBERS);
        rows += (long)json_array_size(recs);
        size_t i;
        json_t *rec;
        json_array_foreach(recs, i, rec)
        {
            json_object_set(ids, json_string_value(json_object_get(rec, "Id")), json_true());
            const char *email =
                json_string_value(json_object_get(json_object_get(rec, "Lead"), "Email"));
            assert_non_null(email);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(rec, "attributes"), "type")),
                "CampaignMember");
        }
        const char *next = json_string_value(json_object_get(r.json, "nextRecordsUrl"));
        if (!next) {
            assert_true(json_is_true(json_object_get(r.json, "done")));
            break;
        }
        assert_true(json_is_false(json_object_get(r.json, "done")));
        assert_int_equal(json_array_size(recs), 2000);
        assert_memory_equal(next, "/services/data/v60.0/query/01g", 30);
        char path[512];
        snprintf(path, sizeof path, "%s", next);
        ts_http_res_free(&r);
        r = api("GET", path, NULL, 200);
    }
    ts_http_res_free(&r);
    assert_int_equal(pages, 3);
    assert_int_equal(rows, N_MEMBERS);
    assert_int_equal(json_object_size(ids), N_MEMBERS);
    json_decref(ids);
}

static void test_query_all_tombstones(void **state)
{
    (void)state;
    ts_http_res r =
        api("DELETE",
            "/services/data/v60.0/composite/sobjects?ids=00v000000000001,00v000000000002&"
            "allOrNone=true",
            NULL, 200);
    assert_string_equal(rec_status(&r, 0), "ok");
    assert_string_equal(rec_status(&r, 1), "ok");
    ts_http_res_free(&r);
    assert_int_equal(total("query", "SELECT+Id+FROM+CampaignMember"), N_MEMBERS - 2);
    assert_int_equal(total("queryAll", "SELECT+Id+FROM+CampaignMember"), N_MEMBERS);
    r = api("GET",
            "/services/data/v60.0/queryAll?q=SELECT+Id,IsDeleted,SystemModstamp+FROM+"
            "CampaignMember+WHERE+IsDeleted=true+ORDER+BY+Id",
            NULL, 200);
    json_t *first = json_array_get(json_object_get(r.json, "records"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "Id")), "00v000000000001AAA");
    assert_true(json_is_true(json_object_get(first, "IsDeleted")));
    ts_http_res_free(&r);
}

static void test_collections(void **state)
{
    (void)state;
    /* 201 records: the whole request is refused. */
    size_t cap = 64 + 201 * 64;
    char *big = malloc(cap);
    size_t o = (size_t)snprintf(big, cap, "{\"records\":[");
    for (int i = 0; i < 201; i++)
        o += (size_t)snprintf(big + o, cap - o,
                              "%s{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"L%d\"}",
                              i ? "," : "", i);
    snprintf(big + o, cap - o, "]}");
    ts_http_res r = api("POST", "/services/data/v60.0/composite/sobjects", big, 400);
    free(big);
    assert_string_equal(err_code(&r), "EXCEEDED_ID_LIMIT");
    ts_http_res_free(&r);

    r = api("POST", "/services/data/v60.0/composite/sobjects",
            "{\"allOrNone\":false,\"records\":["
            "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"" CAMPAIGN "\","
            "\"LeadId\":\"00Q000000000001\"},"
            "{\"attributes\":{\"type\":\"CampaignMember\"},\"CampaignId\":\"" CAMPAIGN "\","
            "\"ContactId\":\"003000000000001\",\"Status\":\"Responded\"},"
            "{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"NoCompany\"}]}",
            200);
    assert_string_equal(rec_status(&r, 0), "DUPLICATE_VALUE");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(r.json, 0), "errors"), 0), "message")),
        "Already a campaign member.");
    assert_string_equal(rec_status(&r, 1), "ok");
    assert_string_equal(rec_status(&r, 2), "REQUIRED_FIELD_MISSING");
    ts_http_res_free(&r);

    /* allOrNone: one failure rolls the others back. */
    r = api("POST", "/services/data/v60.0/composite/sobjects",
            "{\"allOrNone\":true,\"records\":["
            "{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"Kept?\",\"Company\":\"C\"},"
            "{\"attributes\":{\"type\":\"Lead\"},\"Company\":\"NoLastName\"}]}",
            200);
    assert_string_equal(rec_status(&r, 0), "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    assert_string_equal(rec_status(&r, 1), "REQUIRED_FIELD_MISSING");
    ts_http_res_free(&r);
    assert_int_equal(total("query", "SELECT+Id+FROM+Lead+WHERE+LastName='Kept%3F'"), 0);

    /* Update through PATCH and the modstamp moves with the sandbox clock. */
    r = admin("POST", "/admin/clock", "{\"set\":\"2026-03-01T00:00:00Z\"}", 200);
    ts_http_res_free(&r);
    r = api("PATCH", "/services/data/v60.0/composite/sobjects",
            "{\"records\":[{\"attributes\":{\"type\":\"CampaignMember\"},\"id\":"
            "\"00v000000000003\",\"Status\":\"Responded\"}]}",
            200);
    assert_string_equal(rec_status(&r, 0), "ok");
    ts_http_res_free(&r);
    r = api("GET",
            "/services/data/v60.0/sobjects/CampaignMember/00v000000000003?fields=Status,"
            "HasResponded,SystemModstamp,FirstRespondedDate",
            NULL, 200);
    assert_true(json_is_true(json_object_get(r.json, "HasResponded")));
    /* The sandbox clock keeps running after it is set. */
    assert_memory_equal(json_string_value(json_object_get(r.json, "SystemModstamp")),
                        "2026-03-01T00:", 14);
    assert_string_equal(json_string_value(json_object_get(r.json, "FirstRespondedDate")),
                        "2026-03-01");
    ts_http_res_free(&r);
}

static void test_marketing_user_visibility(void **state)
{
    (void)state;
    assert_int_equal(total("query", "SELECT+Id,Label+FROM+CampaignMemberStatus"), 2);
    ts_http_res r = admin("POST", "/admin/salesforce/set_marketing_user", "{\"value\":false}", 200);
    ts_http_res_free(&r);
    r = api("GET", "/services/data/v60.0/query?q=SELECT+Id+FROM+CampaignMemberStatus", NULL, 400);
    assert_string_equal(err_code(&r), "INVALID_TYPE");
    ts_http_res_free(&r);
    r = api("GET",
            "/services/data/v60.0/query?q=SELECT+UserPermissionsMarketingUser+FROM+User+WHERE+"
            "Id='005000000000001'",
            NULL, 200);
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(r.json, "records"), 0),
                                              "UserPermissionsMarketingUser")));
    ts_http_res_free(&r);
}

static void test_faults_and_accounting(void **state)
{
    (void)state;
    ts_http_res r = admin("DELETE", "/admin/calls", NULL, 200);
    ts_http_res_free(&r);
    r = admin("POST", "/admin/faults",
              "{\"vendor\":\"salesforce\",\"next\":[\"transient\",\"server_error\"]}", 200);
    ts_http_res_free(&r);
    const char *body = "{\"records\":[{\"attributes\":{\"type\":\"Lead\"},\"LastName\":\"F\","
                       "\"Company\":\"C\"}]}";
    r = api("POST", "/services/data/v60.0/composite/sobjects", body, 200);
    assert_string_equal(rec_status(&r, 0), "UNABLE_TO_LOCK_ROW");
    ts_http_res_free(&r);
    r = api("POST", "/services/data/v60.0/composite/sobjects", body, 503);
    ts_http_res_free(&r);
    r = api("POST", "/services/data/v60.0/composite/sobjects", body, 200);
    assert_string_equal(rec_status(&r, 0), "ok");
    ts_http_res_free(&r);
    r = admin("GET", "/admin/calls", NULL, 200);
    json_t *sf = json_object_get(r.json, "salesforce");
    assert_int_equal(json_integer_value(json_object_get(sf, "POST composite/sobjects")), 3);
    ts_http_res_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_oauth_identity_and_expiry, fresh),
        cmocka_unit_test_setup(test_limit_header_and_403, fresh),
        cmocka_unit_test_setup(test_paging_5000_members, fresh),
        cmocka_unit_test_setup(test_query_all_tombstones, fresh),
        cmocka_unit_test_setup(test_collections, fresh),
        cmocka_unit_test_setup(test_marketing_user_visibility, fresh),
        cmocka_unit_test_setup(test_faults_and_accounting, fresh),
    };
    return cmocka_run_group_tests(tests, start_sandbox, stop_sandbox);
}
