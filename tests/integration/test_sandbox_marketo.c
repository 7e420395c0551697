/*
 * Conformance suite for the sandbox's Marketo simulator, over real HTTP
 * against the real campsync-sandbox binary (one per test, on free ports, with
 * tests/sandbox/datasets/small.json). Each test pins down one behaviour of
 * Marketo's REST API that the connectors depend on: auth and token expiry,
 * the envelope and its error codes, paging, the forward-only status rule,
 * leads, activities, the limits (606, 607, 615, 413, 414), and the Bulk
 * Program Member Extract jobs (lifecycle, file, queue and quota 1029, errors).
 */
#include "sbx_mkto_test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

/* ---- facts from the dataset ---- */

/* A member of program pid whose status is index st_idx of its channel
 * (Webinar for 1001: Invited, Registered, No Show, Attended); 0 if none. */
static int64_t member_with_status(json_t *m, int64_t pid, const char *status)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid &&
            strcmp(json_string_value(json_object_get(e, "statusName")), status) == 0)
            return json_integer_value(json_object_get(e, "leadId"));
    }
    return 0;
}

static int is_member(json_t *m, int64_t pid, int64_t lead)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid &&
            json_integer_value(json_object_get(e, "leadId")) == lead)
            return 1;
    }
    return 0;
}

static int64_t non_member(json_t *m, int64_t pid)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "leads"), i, e)
    {
        int64_t id = json_integer_value(json_object_get(e, "id"));
        if (!is_member(m, pid, id))
            return id;
    }
    return 0;
}

static size_t members_of(json_t *m, int64_t pid)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e) n +=
        json_integer_value(json_object_get(e, "programId")) == pid;
    return n;
}

static const char *member_status(json_t *m, int64_t pid, int64_t lead)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid &&
            json_integer_value(json_object_get(e, "leadId")) == lead)
            return json_string_value(json_object_get(e, "statusName"));
    }
    return NULL;
}

/* ---- identity ---- */

static void test_identity_same_token_until_expiry(void **state)
{
    ts_sandbox *sb = *state;
    char url[512];
    snprintf(url, sizeof url,
             "%s/identity/oauth/token?grant_type=client_credentials&client_id=sbx-mkto-client&"
             "client_secret=sbx-mkto-secret",
             sb->marketo);
    ts_http_res a = ts_http("GET", url, NULL, NULL, 0, NULL);
    ts_http_res b = ts_http("GET", url, NULL, NULL, 0, NULL);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.json, "token_type")), "bearer");
    assert_non_null(json_string_value(json_object_get(a.json, "scope")));
    json_int_t ea = json_integer_value(json_object_get(a.json, "expires_in"));
    json_int_t eb = json_integer_value(json_object_get(b.json, "expires_in"));
    assert_true(ea > 3500 && ea <= 3599);
    assert_true(eb <= ea);
    assert_string_equal(json_string_value(json_object_get(a.json, "access_token")),
                        json_string_value(json_object_get(b.json, "access_token")));
    ts_http_res_free(&a);
    ts_http_res_free(&b);
    /* Half an hour later: the same token with half its life left. */
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":1800}");
    ts_http_res c = ts_http("GET", url, NULL, NULL, 0, NULL);
    json_int_t ec = json_integer_value(json_object_get(c.json, "expires_in"));
    assert_true(ec <= 1800 && ec > 1700);
    ts_http_res_free(&c);
}

static void test_identity_bad_credentials_401(void **state)
{
    ts_sandbox *sb = *state;
    char url[512];
    snprintf(url, sizeof url,
             "%s/identity/oauth/token?grant_type=client_credentials&client_id=sbx-mkto-client&"
             "client_secret=wrong",
             sb->marketo);
    ts_http_res r = ts_http("GET", url, NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(json_string_value(json_object_get(r.json, "error")), "invalid_client");
    ts_http_res_free(&r);
    snprintf(url, sizeof url, "%s/identity/oauth/token?client_id=a&client_secret=b", sb->marketo);
    r = ts_http("GET", url, NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 400);
    ts_http_res_free(&r);
}

static void test_token_missing_invalid_and_query_param(void **state)
{
    ts_sandbox *sb = *state;
    char url[512];
    snprintf(url, sizeof url, "%s/rest/v1/activities/types.json", sb->marketo);
    ts_http_res r = ts_http("GET", url, NULL, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_false(ts_mkto_success(&r));
    assert_string_equal(ts_mkto_error_code(&r), "600");
    ts_http_res_free(&r);
    r = ts_http("GET", url, NULL, NULL, 0, "not-a-token");
    assert_string_equal(ts_mkto_error_code(&r), "601");
    ts_http_res_free(&r);
    fetch_token(sb);
    snprintf(url, sizeof url, "%s/rest/v1/activities/types.json?access_token=%s", sb->marketo,
             sb->token);
    r = ts_http("GET", url, NULL, NULL, 0, NULL);
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
}

static void test_token_expired_602_then_new_token(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    char old[sizeof sb->token];
    snprintf(old, sizeof old, "%s", sb->token);
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":3601}");
    ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
    assert_string_equal(ts_mkto_error_code(&r), "602");
    ts_http_res_free(&r);
    fetch_token(sb);
    assert_string_not_equal(old, sb->token);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
    /* Forced expiry through the admin API. */
    admin_ok(sb, "POST", "/admin/expire_tokens", NULL);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_string_equal(ts_mkto_error_code(&r), "602");
    ts_http_res_free(&r);
}

/* ---- asset API ---- */

static void test_programs_paging_and_not_found(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    ts_http_res r = sget(sb, "/rest/asset/v1/programs.json?maxReturn=3&offset=0");
    assert_true(ts_mkto_success(&r));
    assert_int_equal(json_array_size(json_object_get(r.json, "result")), 3);
    assert_null(json_object_get(r.json, "moreResult"));
    json_t *p = json_array_get(json_object_get(r.json, "result"), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "id")), 1001);
    /* Browsing returns neither costs nor tags: those come by id. */
    assert_null(json_object_get(p, "costs"));
    assert_null(json_object_get(p, "tags"));
    assert_non_null(json_string_value(json_object_get(p, "channel")));
    /* Asset dates look like 2015-05-21T22:45:13Z+0000. */
    assert_non_null(strstr(json_string_value(json_object_get(p, "createdAt")), "Z+0000"));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/programs.json?maxReturn=3&offset=3");
    assert_int_equal(json_array_size(json_object_get(r.json, "result")), 1);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/programs.json?maxReturn=3&offset=6");
    assert_true(ts_mkto_success(&r));
    assert_null(json_object_get(r.json, "result"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "warnings"), 0)),
                        "No assets found for the given search criteria.");
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/program/1002.json");
    assert_true(json_array_size(json_object_get(
                    json_array_get(json_object_get(r.json, "result"), 0), "costs")) > 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r.json, "result"), 0), "id")),
                     1002);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/program/999999.json");
    assert_true(ts_mkto_success(&r));
    assert_null(json_object_get(r.json, "result"));
    assert_int_equal(json_array_size(json_object_get(r.json, "warnings")), 1);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/programs.json?maxReturn=201");
    assert_false(ts_mkto_success(&r));
    ts_http_res_free(&r);
    /* Filter on update time: nothing was updated in 2030. */
    r = sget(sb, "/rest/asset/v1/programs.json?earliestUpdatedAt=2030-01-01T00:00:00Z");
    assert_null(json_object_get(r.json, "result"));
    ts_http_res_free(&r);
}

static void test_channels_and_by_name(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    ts_http_res r = sget(sb, "/rest/asset/v1/channels.json");
    assert_true(json_array_size(json_object_get(r.json, "result")) >= 3);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/channel/byName.json?name=Webinar");
    json_t *c = json_array_get(json_object_get(r.json, "result"), 0);
    json_t *st = json_object_get(c, "progressionStatuses");
    /* As in Marketo: "Not in Program" (step 0) first, then the channel's own. */
    assert_int_equal(json_array_size(st), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "name")),
                        "Not in Program");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 0), "step")), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, 4), "name")),
                        "Attended");
    assert_true(json_is_true(json_object_get(json_array_get(st, 4), "success")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 1), "step")), 10);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/channel/byName.json?name=Nope");
    assert_null(json_object_get(r.json, "result"));
    ts_http_res_free(&r);
}

/* ---- program members ---- */

static void test_members_paging_collects_every_member_once(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *m = mkto_state(sb);
    size_t expected = members_of(m, 1001);
    assert_true(expected > 10);
    size_t got = 0, pages = 0;
    char tok[256] = "";
    int64_t last = -1;
    for (;;) {
        char q[768];
        snprintf(q, sizeof q,
                 "/rest/v1/programs/1001/members.json?filterType=statusName&filterValues="
                 "Invited,Registered,No%%20Show,Attended&batchSize=7&fields=leadId,statusName,"
                 "updatedAt%s%s",
                 tok[0] ? "&nextPageToken=" : "", tok);
        ts_http_res r = sget(sb, q);
        assert_true(ts_mkto_success(&r));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "result"), i, e)
        {
            int64_t lid = json_integer_value(json_object_get(e, "leadId"));
            assert_true(lid > last); /* no repeats */
            last = lid;
            assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)i);
            assert_string_equal(json_string_value(json_object_get(e, "statusName")),
                                member_status(m, 1001, lid));
            got++;
        }
        assert_true(json_array_size(json_object_get(r.json, "result")) <= 7);
        pages++;
        int more = json_is_true(json_object_get(r.json, "moreResult"));
        if (!more) {
            ts_http_res_free(&r);
            break;
        }
        snprintf(tok, sizeof tok, "%s",
                 json_string_value(json_object_get(r.json, "nextPageToken")));
        ts_http_res_free(&r);
        assert_true(pages < 100);
    }
    assert_int_equal(got, expected);
    assert_true(pages >= expected / 7);
    json_decref(m);
}

static void test_members_default_fields_and_filters(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *m = mkto_state(sb);
    int64_t lead = member_with_status(m, 1001, "Invited");
    if (!lead)
        lead = member_with_status(m, 1001, "Registered");
    assert_true(lead > 0);
    char q[512];
    snprintf(q, sizeof q, "/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=%lld",
             (long long)lead);
    ts_http_res r = sget(sb, q);
    json_t *e = json_array_get(json_object_get(r.json, "result"), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "leadId")), lead);
    assert_int_equal(json_integer_value(json_object_get(e, "programId")), 1001);
    assert_non_null(json_object_get(e, "acquiredBy"));
    assert_non_null(json_object_get(e, "membershipDate"));
    assert_non_null(json_object_get(e, "reachedSuccess"));
    assert_false(json_is_true(json_object_get(r.json, "moreResult")));
    ts_http_res_free(&r);
    /* updatedAt: more than 7 days is refused. */
    r = sget(sb,
             "/rest/v1/programs/1001/members.json?filterType=updatedAt&startAt=2025-01-01T00:00:"
             "00Z&endAt=2025-01-09T00:00:00Z");
    assert_false(ts_mkto_success(&r));
    assert_string_equal(ts_mkto_error_code(&r), "1003");
    ts_http_res_free(&r);
    r = sget(sb,
             "/rest/v1/programs/1001/members.json?filterType=updatedAt&startAt=2025-01-01T00:00:"
             "00Z&endAt=2025-01-07T00:00:00Z");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
    r = sget(sb,
             "/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=1&fields=bogus");
    assert_string_equal(ts_mkto_error_code(&r), "1006");
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/programs/1001/members.json");
    assert_string_equal(ts_mkto_error_code(&r), "701");
    ts_http_res_free(&r);
    /* More than 300 lead ids. */
    char *big = malloc(4096);
    size_t n = (size_t)snprintf(big, 4096,
                                "/rest/v1/programs/1001/members.json?filterType=leadId&"
                                "filterValues=1");
    for (int i = 2; i <= 301; i++)
        n += (size_t)snprintf(big + n, 4096 - n, ",%d", i);
    r = sget(sb, big);
    assert_string_equal(ts_mkto_error_code(&r), "1003");
    ts_http_res_free(&r);
    free(big);
    json_decref(m);
}

/* ---- status changes ---- */

static json_t *result_at(const ts_http_res *r, size_t i)
{
    return json_array_get(json_object_get(r->json, "result"), i);
}

static const char *reason_code(json_t *rec)
{
    json_t *e = json_array_get(json_object_get(rec, "reasons"), 0);
    const char *c = json_string_value(json_object_get(e, "code"));
    return c ? c : "";
}

static void test_status_forward_only_1037(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *m = mkto_state(sb);
    int64_t invited = member_with_status(m, 1001, "Invited");
    int64_t attended = member_with_status(m, 1001, "Attended");
    int64_t outsider = non_member(m, 1001);
    assert_true(invited && attended && outsider);
    char body[512];
    snprintf(body, sizeof body,
             "{\"statusName\":\"Registered\",\"input\":[{\"leadId\":%lld},{\"leadId\":%lld},"
             "{\"leadId\":%lld},{\"leadId\":99999999}]}",
             (long long)invited, (long long)attended, (long long)outsider);
    ts_http_res r = spost(sb, "/rest/v1/programs/1001/members/status.json", body);
    assert_true(ts_mkto_success(&r));
    assert_int_equal(json_array_size(json_object_get(r.json, "result")), 4);
    json_t *a = result_at(&r, 0), *b = result_at(&r, 1), *c = result_at(&r, 2),
           *d = result_at(&r, 3);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "updated");
    assert_int_equal(json_integer_value(json_object_get(a, "leadId")), invited);
    assert_string_equal(json_string_value(json_object_get(b, "status")), "skipped");
    assert_string_equal(reason_code(b), "1037");
    assert_int_equal(json_integer_value(json_object_get(b, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "created");
    assert_string_equal(reason_code(d), "1004");
    ts_http_res_free(&r);
    /* The same status again is "already in" it. */
    r = spost(sb, "/rest/v1/programs/1001/members/status.json", body);
    assert_string_equal(reason_code(result_at(&r, 0)), "1037");
    ts_http_res_free(&r);
    json_t *after = mkto_state(sb);
    assert_string_equal(member_status(after, 1001, invited), "Registered");
    assert_string_equal(member_status(after, 1001, attended), "Attended");
    assert_string_equal(member_status(after, 1001, outsider), "Registered");
    json_decref(after);
    json_decref(m);
}

static void test_status_errors(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    ts_http_res r = spost(sb, "/rest/v1/programs/1001/members/status.json",
                          "{\"statusName\":\"Bogus\",\"input\":[{\"leadId\":1}]}");
    assert_string_equal(reason_code(result_at(&r, 0)), "1025");
    ts_http_res_free(&r);
    /* Step 0 is behind every member: the API cannot take a lead out this way. */
    r = spost(sb, "/rest/v1/programs/1001/members/status.json",
              "{\"statusName\":\"Not in Program\",\"input\":[{\"leadId\":1}]}");
    assert_string_equal(reason_code(result_at(&r, 0)), "1037");
    ts_http_res_free(&r);
    r = spost(sb, "/rest/v1/programs/1001/members/status.json", "{\"statusName\":");
    assert_string_equal(ts_mkto_error_code(&r), "609");
    ts_http_res_free(&r);
    char url[512];
    snprintf(url, sizeof url, "%s/rest/v1/programs/1001/members/status.json", sb->marketo);
    const char *b = "{\"statusName\":\"Invited\",\"input\":[{\"leadId\":1}]}";
    r = ts_http("POST", url, "text/plain", b, strlen(b), sb->token);
    assert_string_equal(ts_mkto_error_code(&r), "612");
    ts_http_res_free(&r);
    /* 301 records: a batch over 300. */
    char *big = malloc(16384);
    size_t n = (size_t)snprintf(big, 16384, "{\"statusName\":\"Invited\",\"input\":[");
    for (int i = 1; i <= 301; i++)
        n += (size_t)snprintf(big + n, 16384 - n, "%s{\"leadId\":%d}", i > 1 ? "," : "", i);
    snprintf(big + n, 16384 - n, "]}");
    r = spost(sb, "/rest/v1/programs/1001/members/status.json", big);
    assert_false(ts_mkto_success(&r));
    assert_string_equal(ts_mkto_error_code(&r), "1003");
    ts_http_res_free(&r);
    free(big);
    r = spost(sb, "/rest/v1/programs/424242/members/status.json",
              "{\"statusName\":\"Invited\",\"input\":[{\"leadId\":1}]}");
    assert_false(ts_mkto_success(&r));
    ts_http_res_free(&r);
}

static void test_delete_members(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *m = mkto_state(sb);
    int64_t member = member_with_status(m, 1001, "Invited");
    if (!member)
        member = member_with_status(m, 1001, "Registered");
    int64_t outsider = non_member(m, 1001);
    char body[256];
    snprintf(body, sizeof body, "{\"input\":[{\"leadId\":%lld},{\"leadId\":%lld}]}",
             (long long)member, (long long)outsider);
    ts_http_res r = spost(sb, "/rest/v1/programs/1001/members/delete.json", body);
    assert_string_equal(json_string_value(json_object_get(result_at(&r, 0), "status")), "deleted");
    assert_string_equal(json_string_value(json_object_get(result_at(&r, 1), "status")), "skipped");
    assert_string_equal(reason_code(result_at(&r, 1)), "1037");
    ts_http_res_free(&r);
    json_t *after = mkto_state(sb);
    assert_false(is_member(after, 1001, member));
    json_decref(after);
    json_decref(m);
}

/* ---- leads ---- */

static void test_leads_query_and_sync(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    ts_http_res r = spost(sb, "/rest/v1/leads.json",
                          "{\"action\":\"createOrUpdate\",\"lookupField\":\"email\",\"input\":["
                          "{\"email\":\"New.Person@Example.com\",\"firstName\":\"New\"},"
                          "{\"email\":\"x@example.com\",\"favouriteColour\":\"blue\"}]}");
    assert_true(ts_mkto_success(&r));
    json_t *a = result_at(&r, 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "created");
    json_int_t id = json_integer_value(json_object_get(a, "id"));
    assert_true(id > 0);
    assert_string_equal(reason_code(result_at(&r, 1)), "1006");
    ts_http_res_free(&r);
    /* Email lookup is case-insensitive: this updates the same lead. */
    r = spost(sb, "/rest/v1/leads.json",
              "{\"input\":[{\"email\":\"new.person@example.com\",\"lastName\":\"Person\"}]}");
    assert_string_equal(json_string_value(json_object_get(result_at(&r, 0), "status")), "updated");
    assert_int_equal(json_integer_value(json_object_get(result_at(&r, 0), "id")), id);
    ts_http_res_free(&r);
    r = spost(sb, "/rest/v1/leads.json",
              "{\"action\":\"createOnly\",\"input\":[{\"email\":\"new.person@example.com\"}]}");
    assert_string_equal(reason_code(result_at(&r, 0)), "1005");
    ts_http_res_free(&r);
    r = spost(sb, "/rest/v1/leads.json",
              "{\"action\":\"updateOnly\",\"input\":[{\"email\":\"nobody@example.com\"}]}");
    assert_string_equal(reason_code(result_at(&r, 0)), "1004");
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=new.person%40example.com&"
                 "fields=email,firstName,lastName,sfdcLeadId");
    json_t *l = result_at(&r, 0);
    assert_int_equal(json_integer_value(json_object_get(l, "id")), id);
    assert_string_equal(json_string_value(json_object_get(l, "lastName")), "Person");
    assert_true(json_is_null(json_object_get(l, "sfdcLeadId")));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=a%40b.c&fields=nope");
    assert_string_equal(ts_mkto_error_code(&r), "1006");
    ts_http_res_free(&r);
    /* A long query as a POST form with _method=GET. */
    char url[512];
    snprintf(url, sizeof url, "%s/rest/v1/leads.json?_method=GET", sb->marketo);
    const char *form = "filterType=email&filterValues=new.person%40example.com&fields=firstName";
    r = ts_http("POST", url, "application/x-www-form-urlencoded", form, strlen(form), sb->token);
    assert_true(ts_mkto_success(&r));
    assert_string_equal(json_string_value(json_object_get(result_at(&r, 0), "firstName")), "New");
    ts_http_res_free(&r);
}

/* ---- activities ---- */

static void test_activities_feed_has_status_changes(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *m = mkto_state(sb);
    int64_t invited = member_with_status(m, 1001, "Invited");
    assert_true(invited > 0);
    json_decref(m);
    ts_http_res r =
        sget(sb, "/rest/v1/activities/pagingtoken.json?sinceDatetime=2020-01-01T00:00:00Z");
    char tok[256];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r.json, "nextPageToken")));
    ts_http_res_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"statusName\":\"Attended\",\"input\":[{\"leadId\":%lld}]}",
             (long long)invited);
    r = spost(sb, "/rest/v1/programs/1001/members/status.json", body);
    ts_http_res_free(&r);
    int found = 0;
    for (int page = 0; page < 50; page++) {
        char q[512];
        snprintf(q, sizeof q, "/rest/v1/activities.json?activityTypeIds=104&nextPageToken=%s", tok);
        r = sget(sb, q);
        assert_true(ts_mkto_success(&r));
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(r.json, "result"), i, a)
        {
            assert_int_equal(json_integer_value(json_object_get(a, "activityTypeId")), 104);
            if (json_integer_value(json_object_get(a, "leadId")) != invited)
                continue;
            assert_int_equal(json_integer_value(json_object_get(a, "primaryAttributeValueId")),
                             1001);
            assert_non_null(json_string_value(json_object_get(a, "marketoGUID")));
            size_t k;
            json_t *at;
            int new_ok = 0, old_ok = 0;
            json_array_foreach(json_object_get(a, "attributes"), k, at)
            {
                const char *n = json_string_value(json_object_get(at, "name"));
                const char *v = json_string_value(json_object_get(at, "value"));
                new_ok |= strcmp(n, "New Status") == 0 && v && strcmp(v, "Attended") == 0;
                old_ok |= strcmp(n, "Old Status") == 0 && v && strcmp(v, "Invited") == 0;
            }
            found = new_ok && old_ok;
        }
        assert_non_null(json_object_get(r.json, "nextPageToken"));
        snprintf(tok, sizeof tok, "%s",
                 json_string_value(json_object_get(r.json, "nextPageToken")));
        int more = json_is_true(json_object_get(r.json, "moreResult"));
        ts_http_res_free(&r);
        if (!more)
            break;
    }
    assert_true(found);
    r = sget(sb,
             "/rest/v1/activities.json?activityTypeIds=1,2,3,4,5,6,7,8,9,10,11&nextPageToken=x");
    assert_false(ts_mkto_success(&r));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/activities/types.json");
    int has104 = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r.json, "result"), i, t) has104 |=
        json_integer_value(json_object_get(t, "id")) == 104;
    assert_true(has104);
    ts_http_res_free(&r);
}

/* ---- limits ---- */

static void test_uri_over_8k_is_414_and_body_over_1mb_is_413(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    char *q = malloc(9000);
    int n = snprintf(q, 9000, "/rest/v1/leads.json?filterType=id&filterValues=1");
    while (n < 8300)
        n += snprintf(q + n, 9000 - (size_t)n, ",1");
    ts_http_res r = sget(sb, q);
    assert_int_equal(r.status, 414);
    ts_http_res_free(&r);
    free(q);
    size_t big = (1u << 20) + 100;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    char url[512];
    snprintf(url, sizeof url, "%s/rest/v1/leads.json", sb->marketo);
    r = ts_http("POST", url, "application/json", body, big, sb->token);
    assert_int_equal(r.status, 413);
    ts_http_res_free(&r);
    free(body);
}

static void test_rate_limit_606_clears_after_window(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
        ok += ts_mkto_success(&r);
        ts_http_res_free(&r);
    }
    assert_int_equal(ok, 100);
    ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
    assert_string_equal(ts_mkto_error_code(&r), "606");
    ts_http_res_free(&r);
    /* Refused calls do not extend the window: 21 s later all is well. */
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":21}");
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
}

static void test_daily_quota_607(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/marketo/limits", "{\"daily\":3,\"reset_usage\":true}");
    for (int i = 0; i < 3; i++) {
        ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
        assert_true(ts_mkto_success(&r));
        ts_http_res_free(&r);
    }
    ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
    assert_string_equal(ts_mkto_error_code(&r), "607");
    ts_http_res_free(&r);
    /* The quota resets the next day. */
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":86400}");
    fetch_token(sb);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
}

typedef struct {
    const ts_sandbox *sb;
    ts_http_res r;
} conc_arg;

static void *conc_call(void *p)
{
    conc_arg *a = p;
    a->r = sget(a->sb, "/rest/v1/activities/types.json");
    return NULL;
}

static void test_concurrency_615(void **state)
{
    ts_sandbox *sb = *state;
    /* A fresh rate window: the tests before may have used most of the 100
     * calls of this one (then calls here get 606, not 615 or success). */
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":21}");
    fetch_token(sb);
    /* Every REST call waits 3 s in flight: 12 at once exceed the 10 allowed. */
    admin_ok(
        sb, "POST", "/admin/faults",
        "{\"vendor\":\"marketo\",\"latency\":1.0,\"latency_ms\":3000,\"path_prefix\":\"/rest/\"}");
    enum { N = 12 };
    pthread_t th[N];
    conc_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i].sb = sb;
        memset(&args[i].r, 0, sizeof args[i].r);
        assert_int_equal(pthread_create(&th[i], NULL, conc_call, &args[i]), 0);
    }
    int n615 = 0, nok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        n615 += strcmp(ts_mkto_error_code(&args[i].r), "615") == 0;
        nok += ts_mkto_success(&args[i].r);
        ts_http_res_free(&args[i].r);
    }
    assert_true(n615 >= 1);
    assert_true(nok >= 1);
    assert_int_equal(n615 + nok, N);
    admin_ok(sb, "DELETE", "/admin/faults", NULL);
}

static void test_transient_faults_608_713_and_unknown_path_610(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/faults",
             "{\"vendor\":\"marketo\",\"next\":[\"transient\",\"transient\",\"server_error\"]}");
    ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
    const char *a = ts_mkto_error_code(&r);
    char first[8];
    snprintf(first, sizeof first, "%s", a);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_true((strcmp(first, "608") == 0 && strcmp(ts_mkto_error_code(&r), "713") == 0) ||
                (strcmp(first, "713") == 0 && strcmp(ts_mkto_error_code(&r), "608") == 0));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_int_equal(r.status, 503);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/activities/types.json");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/nothing/here.json");
    assert_string_equal(ts_mkto_error_code(&r), "610");
    ts_http_res_free(&r);
}

typedef struct {
    const ts_sandbox *sb;
    const char *body;
    ts_http_res r;
} upsert_arg;

static void *upsert_call(void *p)
{
    upsert_arg *a = p;
    a->r = spost(a->sb, "/rest/v1/leads.json", a->body);
    return NULL;
}

/* Two upserts of one new email, both in flight at once; returns how many
 * answered "created". */
static int overlapping_upserts(ts_sandbox *sb, const char *email)
{
    char body[256];
    snprintf(body, sizeof body, "{\"input\":[{\"email\":\"%s\"}]}", email);
    admin_ok(sb, "POST", "/admin/faults",
             "{\"vendor\":\"marketo\",\"latency\":1.0,\"latency_ms\":1500,"
             "\"path_prefix\":\"/rest/v1/leads.json\"}");
    pthread_t th[2];
    upsert_arg args[2];
    for (int i = 0; i < 2; i++) {
        args[i].sb = sb;
        args[i].body = body;
        memset(&args[i].r, 0, sizeof args[i].r);
        assert_int_equal(pthread_create(&th[i], NULL, upsert_call, &args[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_true(ts_mkto_success(&args[i].r));
        created += strcmp(json_string_value(json_object_get(result_at(&args[i].r, 0), "status")),
                          "created") == 0;
        ts_http_res_free(&args[i].r);
    }
    admin_ok(sb, "DELETE", "/admin/faults", NULL);
    return created;
}

static void test_overlapping_upserts_duplicate_only_with_the_quirk(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    /* Off by default: requests are serialised, the second one updates. */
    assert_int_equal(overlapping_upserts(sb, "race.one@example.com"), 1);
    admin_ok(sb, "POST", "/admin/marketo/quirks", "{\"duplicate_race\":true}");
    assert_int_equal(overlapping_upserts(sb, "race.two@example.com"), 2);
    ts_http_res r =
        sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=race.two%40example.com");
    assert_int_equal(json_array_size(json_object_get(r.json, "result")), 2);
    ts_http_res_free(&r);
    /* One after the other, even with the quirk, there is no duplicate. */
    r = spost(sb, "/rest/v1/leads.json", "{\"input\":[{\"email\":\"race.one@example.com\"}]}");
    assert_string_equal(json_string_value(json_object_get(result_at(&r, 0), "status")), "updated");
    ts_http_res_free(&r);
}

/* ---- bulk program member extract ---- */

#define EXPORT "/bulk/v1/program/members/export"

/* POSTs create.json; returns the answer (caller frees). */
static ts_http_res bulk_create(const ts_sandbox *sb, const char *body)
{
    return spost(sb, EXPORT "/create.json", body);
}

/* Creates a job for program pid that must succeed; its id into id. */
static void bulk_new(const ts_sandbox *sb, int64_t pid, const char *fields, char *id, size_t n)
{
    char body[512];
    snprintf(body, sizeof body, "{\"fields\":[%s],\"filter\":{\"programId\":%lld}}", fields,
             (long long)pid);
    ts_http_res r = bulk_create(sb, body);
    if (!ts_mkto_success(&r))
        fprintf(stderr, "create: %s\n", r.body ? r.body : "");
    assert_true(ts_mkto_success(&r));
    json_t *job = json_array_get(json_object_get(r.json, "result"), 0);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "Created");
    assert_string_equal(json_string_value(json_object_get(job, "format")), "CSV");
    const char *x = json_string_value(json_object_get(job, "exportId"));
    assert_non_null(x);
    snprintf(id, n, "%s", x);
    ts_http_res_free(&r);
}

/* One job call (action: enqueue, status, cancel, file); caller frees. */
static ts_http_res bulk_call(const ts_sandbox *sb, const char *id, const char *action)
{
    char path[256];
    snprintf(path, sizeof path, EXPORT "/%s/%s.json", id, action);
    if (strcmp(action, "status") == 0 || strcmp(action, "file") == 0)
        return sget(sb, path);
    return ts_http_at("POST", sb->marketo, path, NULL, sb->token);
}

/* The job's status after a successful call. */
static void expect_status(const ts_sandbox *sb, const char *id, const char *action,
                          const char *want)
{
    ts_http_res r = bulk_call(sb, id, action);
    if (!ts_mkto_success(&r))
        fprintf(stderr, "%s: %s\n", action, r.body ? r.body : "");
    assert_true(ts_mkto_success(&r));
    json_t *job = json_array_get(json_object_get(r.json, "result"), 0);
    assert_string_equal(json_string_value(json_object_get(job, "exportId")), id);
    assert_string_equal(json_string_value(json_object_get(job, "status")), want);
    ts_http_res_free(&r);
}

/* A call that must fail with code and a message holding needle. */
static void expect_bulk_error(ts_http_res r, const char *code, const char *needle)
{
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(r.json, "errors"), 0), "message"));
    if (strcmp(ts_mkto_error_code(&r), code) != 0 || !msg || !strstr(msg, needle))
        fprintf(stderr, "want %s '%s', got %s\n", code, needle, r.body ? r.body : "");
    assert_string_equal(ts_mkto_error_code(&r), code);
    assert_non_null(strstr(msg, needle));
    ts_http_res_free(&r);
}

static void test_bulk_export_lifecycle_and_file(void **state)
{
    ts_sandbox *sb = *state;
    /* A name with the separator and quotes, to see the file quote it. */
    admin_ok(sb, "POST", "/admin/marketo/update_program",
             "{\"id\":1001,\"name\":\"Big, \\\"Quoted\\\" Webinar\"}");
    admin_ok(sb, "DELETE", "/admin/calls", NULL);
    fetch_token(sb);
    char id[64];
    bulk_new(sb, 1001, "\"leadId\",\"statusName\",\"program\",\"reachedSuccess\"", id, sizeof id);
    expect_status(sb, id, "status", "Created");
    expect_bulk_error(bulk_call(sb, id, "file"), "1003", "Created");
    expect_status(sb, id, "enqueue", "Queued");
    expect_bulk_error(bulk_call(sb, id, "enqueue"), "1029", "Job already queued");
    expect_status(sb, id, "status", "Processing");
    expect_bulk_error(bulk_call(sb, id, "file"), "1003", "Processing");
    expect_status(sb, id, "status", "Processing");
    /* Processing takes 1 s of sandbox time by default. */
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_ms\":1000}");
    ts_http_res r = bulk_call(sb, id, "status");
    json_t *job = json_array_get(json_object_get(r.json, "result"), 0);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "Completed");
    json_int_t records = json_integer_value(json_object_get(job, "numberOfRecords"));
    json_int_t size = json_integer_value(json_object_get(job, "fileSize"));
    assert_non_null(json_object_get(job, "finishedAt"));
    ts_http_res_free(&r);

    json_t *m = mkto_state(sb);
    json_int_t want = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        want += json_integer_value(json_object_get(e, "programId")) == 1001;
    }
    json_decref(m);
    assert_true(want > 0);
    assert_int_equal(records, want);

    r = bulk_call(sb, id, "file");
    assert_int_equal(r.status, 200);
    char ctype[128];
    assert_int_equal(ts_http_header(&r, "Content-Type", ctype, sizeof ctype), 0);
    assert_non_null(strstr(ctype, "text/csv"));
    assert_int_equal((json_int_t)r.len, size);
    assert_true(strncmp(r.body, "leadId,statusName,program,reachedSuccess\n", 41) == 0);
    json_int_t lines = 0;
    for (const char *p = r.body; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, records + 1);
    assert_non_null(strstr(r.body, ",\"Big, \"\"Quoted\"\" Webinar\","));
    ts_http_res_free(&r);

    expect_bulk_error(bulk_call(sb, id, "cancel"), "1003", "already Completed");

    /* Every bulk call is counted under its own endpoint label. */
    ts_http_res c = admin(sb, "GET", "/admin/calls", NULL);
    json_t *mk = json_object_get(c.json, "marketo");
    assert_int_equal(json_integer_value(json_object_get(mk, "POST " EXPORT "/create.json")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(mk, "POST " EXPORT "/{exportId}/enqueue.json")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(mk, "GET " EXPORT "/{exportId}/status.json")), 4);
    assert_int_equal(json_integer_value(json_object_get(mk, "GET " EXPORT "/{exportId}/file.json")),
                     3);
    assert_int_equal(
        json_integer_value(json_object_get(mk, "POST " EXPORT "/{exportId}/cancel.json")), 1);
    ts_http_res_free(&c);
}

static void test_bulk_export_errors(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    expect_bulk_error(bulk_call(sb, "0000-unknown", "status"), "1003", "not found");
    expect_bulk_error(bulk_call(sb, "0000-unknown", "enqueue"), "1003", "not found");
    expect_bulk_error(bulk_call(sb, "0000-unknown", "cancel"), "1003", "not found");
    expect_bulk_error(bulk_call(sb, "0000-unknown", "file"), "1003", "not found");
    expect_bulk_error(bulk_create(sb, "{\"filter\":{\"programId\":1001}}"), "701", "fields");
    expect_bulk_error(bulk_create(sb, "{\"fields\":[\"leadId\"]}"), "701", "programId");
    expect_bulk_error(bulk_create(sb, "{\"fields\":[\"nope\"],\"filter\":{\"programId\":1001}}"),
                      "1006", "nope");
    expect_bulk_error(bulk_create(sb, "{\"fields\":[\"leadId\"],\"filter\":{\"programId\":999}}"),
                      "1013", "999");
    expect_bulk_error(
        bulk_create(sb,
                    "{\"fields\":[\"leadId\"],\"format\":\"XLS\",\"filter\":{\"programId\":1001}}"),
        "1003", "format");
    expect_bulk_error(sget(sb, EXPORT "/create.json"), "605", "Method");
    /* A cancelled job has no file. */
    char id[64];
    bulk_new(sb, 1001, "\"leadId\"", id, sizeof id);
    expect_status(sb, id, "enqueue", "Queued");
    expect_status(sb, id, "cancel", "Cancelled");
    expect_bulk_error(bulk_call(sb, id, "file"), "1003", "Cancelled");
    /* Faults apply to bulk calls like to any other. */
    admin_ok(sb, "POST", "/admin/faults", "{\"vendor\":\"marketo\",\"next\":[\"rate_limit\"]}");
    expect_bulk_error(bulk_call(sb, id, "status"), "606", "rate limit");
    admin_ok(sb, "DELETE", "/admin/faults", NULL);
}

static void test_bulk_export_queue_full_1029(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/marketo/bulk", "{\"processing_ms\":3600000}");
    char ids[13][64];
    for (int i = 0; i < 12; i++) {
        bulk_new(sb, 1002, "\"leadId\"", ids[i], sizeof ids[i]);
        expect_status(sb, ids[i], "enqueue", "Queued");
    }
    /* Two process at once, ten wait: the queue is full. */
    expect_status(sb, ids[0], "status", "Processing");
    expect_status(sb, ids[1], "status", "Processing");
    expect_status(sb, ids[2], "status", "Queued");
    expect_status(sb, ids[11], "status", "Queued");
    bulk_new(sb, 1002, "\"leadId\"", ids[12], sizeof ids[12]);
    expect_bulk_error(bulk_call(sb, ids[12], "enqueue"), "1029", "Too many jobs");
    /* A cancelled job frees its place. */
    expect_status(sb, ids[5], "cancel", "Cancelled");
    expect_status(sb, ids[12], "enqueue", "Queued");
    /* A processing slot frees only when a job ends: the next in line starts. */
    expect_status(sb, ids[0], "cancel", "Cancelled");
    expect_status(sb, ids[2], "status", "Processing");
    expect_status(sb, ids[3], "status", "Queued");
}

static void test_bulk_export_daily_quota_1029_and_failed_job(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/marketo/bulk",
             "{\"processing_ms\":0,\"daily_bytes\":1,\"fail_next\":\"Disk quota exceeded\"}");
    char bad[64], id[64], next[64];
    bulk_new(sb, 1001, "\"leadId\"", bad, sizeof bad);
    expect_status(sb, bad, "enqueue", "Queued");
    expect_status(sb, bad, "status", "Processing");
    ts_http_res r = bulk_call(sb, bad, "status");
    json_t *job = json_array_get(json_object_get(r.json, "result"), 0);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "Failed");
    assert_string_equal(json_string_value(json_object_get(job, "errorMsg")), "Disk quota exceeded");
    ts_http_res_free(&r);
    expect_bulk_error(bulk_call(sb, bad, "file"), "1003", "Failed");
    /* A failed job exports nothing: the quota is untouched. */
    bulk_new(sb, 1001, "\"leadId\"", id, sizeof id);
    bulk_new(sb, 1001, "\"leadId\"", next, sizeof next);
    expect_status(sb, id, "enqueue", "Queued");
    expect_status(sb, id, "status", "Processing");
    expect_status(sb, id, "status", "Completed");
    /* The day's 1 byte is used up: no new job and no enqueue until tomorrow. */
    expect_bulk_error(bulk_create(sb, "{\"fields\":[\"leadId\"],\"filter\":{\"programId\":1001}}"),
                      "1029", "Export daily quota exceeded");
    expect_bulk_error(bulk_call(sb, next, "enqueue"), "1029", "Export daily quota exceeded");
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":86400}");
    fetch_token(sb);
    expect_status(sb, next, "enqueue", "Queued");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_same_token_until_expiry, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_identity_bad_credentials_401, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_token_missing_invalid_and_query_param, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_token_expired_602_then_new_token, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_programs_paging_and_not_found, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_channels_and_by_name, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_members_paging_collects_every_member_once,
                                        sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_members_default_fields_and_filters, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_status_forward_only_1037, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_status_errors, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_delete_members, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_leads_query_and_sync, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_activities_feed_has_status_changes, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_uri_over_8k_is_414_and_body_over_1mb_is_413,
                                        sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_rate_limit_606_clears_after_window, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_daily_quota_607, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_concurrency_615, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_transient_faults_608_713_and_unknown_path_610,
                                        sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_bulk_export_lifecycle_and_file, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_bulk_export_errors, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_bulk_export_queue_full_1029, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_bulk_export_daily_quota_1029_and_failed_job,
                                        sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_overlapping_upserts_duplicate_only_with_the_quirk,
                                        sandbox_start, sandbox_stop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
