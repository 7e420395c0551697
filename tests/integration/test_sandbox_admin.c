/*
 * Tests of the sandbox's admin API over real HTTP against the real binary:
 * faults are deterministic for a seed and each kind does what it says (drop,
 * drop after processing, truncate, corrupt, 503, latency), calls are counted
 * per endpoint and can be reset, the state reads back as dataset JSON and a
 * reset restores the dataset, the clock moves token expiry, the Marketo
 * UI-like actions write their activities, and bad input gets a clear 4xx
 * rather than a crash.
 */
#include "sbx_mkto_test.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

/* Outcome of one call, as a letter: o ok, t transient (608/713), 5 HTTP
 * 503, d dropped, j not JSON, r rate limit, ? other. */
static char outcome(const ts_http_res *r)
{
    if (r->status == 0)
        return 'd';
    if (r->status == 503)
        return '5';
    if (!r->json)
        return 'j';
    if (ts_mkto_success(r))
        return 'o';
    const char *c = ts_mkto_error_code(r);
    if (strcmp(c, "608") == 0 || strcmp(c, "713") == 0)
        return 't';
    if (strcmp(c, "606") == 0)
        return 'r';
    return '?';
}

static void run_sequence(ts_sandbox *sb, char *out, int n)
{
    for (int i = 0; i < n; i++) {
        ts_http_res r = sget(sb, "/rest/asset/v1/channels.json");
        out[i] = outcome(&r);
        ts_http_res_free(&r);
    }
    out[n] = '\0';
}

static void test_faults_are_deterministic_for_a_seed(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/marketo/limits", "{\"calls_per_20s\":0,\"daily\":0}");
    const char *cfg = "{\"vendor\":\"marketo\",\"seed\":42,\"transient\":0.2,\"server_error\":0.1,"
                      "\"drop\":0.1,\"truncate\":0.1,\"path_prefix\":\"/rest/\"}";
    char a[61], b[61], c[61];
    admin_ok(sb, "POST", "/admin/faults", cfg);
    run_sequence(sb, a, 60);
    admin_ok(sb, "POST", "/admin/faults", cfg);
    run_sequence(sb, b, 60);
    assert_string_equal(a, b);
    assert_non_null(strchr(a, 'o'));
    assert_non_null(strchr(a, 't'));
    assert_non_null(strchr(a, '5'));
    assert_non_null(strchr(a, 'd'));
    assert_non_null(strchr(a, 'j'));
    /* Another seed, another sequence. */
    admin_ok(sb, "POST", "/admin/faults",
             "{\"vendor\":\"marketo\",\"seed\":43,\"transient\":0.2,\"server_error\":0.1,"
             "\"drop\":0.1,\"truncate\":0.1,\"path_prefix\":\"/rest/\"}");
    run_sequence(sb, c, 60);
    assert_string_not_equal(a, c);
    /* The injected counts are reported. */
    ts_http_res r = admin(sb, "GET", "/admin/faults", NULL);
    json_t *inj =
        json_object_get(json_object_get(json_object_get(r.json, "marketo"), "injected"), "none");
    assert_true(json_integer_value(inj) > 0);
    ts_http_res_free(&r);
    admin_ok(sb, "DELETE", "/admin/faults", NULL);
    run_sequence(sb, c, 10);
    assert_string_equal(c, "oooooooooo");
}

static void test_drop_after_processing_still_applies_the_change(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "POST", "/admin/faults",
             "{\"vendor\":\"marketo\",\"next\":[\"drop_after\",\"malformed\",\"truncate\"]}");
    ts_http_res r =
        spost(sb, "/rest/v1/leads.json", "{\"input\":[{\"email\":\"lost.answer@example.com\"}]}");
    assert_int_equal(r.status, 0); /* connection closed, no answer */
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=lost.answer%40example.com");
    assert_int_equal(r.status, 200);
    assert_null(r.json); /* malformed */
    assert_non_null(strstr(r.body, "lost.answer"));
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=lost.answer%40example.com");
    assert_int_equal(r.status, 200);
    assert_null(r.json); /* truncated */
    ts_http_res_free(&r);
    r = sget(sb, "/rest/v1/leads.json?filterType=email&filterValues=lost.answer%40example.com");
    assert_int_equal(json_array_size(json_object_get(r.json, "result")), 1);
    ts_http_res_free(&r);
}

static void test_bad_fault_configs_are_refused(void **state)
{
    ts_sandbox *sb = *state;
    const char *bad[] = {"{\"transient\":1.5}",   "{\"transient\":0.7,\"drop\":0.7}",
                         "{\"explode\":0.1}",     "{\"vendor\":\"oracle\"}",
                         "{\"next\":[\"boom\"]}", "[1,2]",
                         "{\"latency_ms\":-1}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ts_http_res r = admin(sb, "POST", "/admin/faults", bad[i]);
        assert_int_equal(r.status, 400);
        assert_non_null(json_string_value(json_object_get(r.json, "error")));
        ts_http_res_free(&r);
    }
    ts_http_res r = admin(sb, "POST", "/admin/faults", "{not json");
    assert_int_equal(r.status, 400);
    ts_http_res_free(&r);
}

static void test_call_accounting_per_endpoint(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    admin_ok(sb, "DELETE", "/admin/calls", NULL);
    for (int i = 0; i < 3; i++) {
        ts_http_res r = sget(sb, "/rest/asset/v1/program/1001.json");
        ts_http_res_free(&r);
    }
    ts_http_res r = sget(sb, "/rest/asset/v1/program/1002.json");
    ts_http_res_free(&r);
    r = spost(sb, "/rest/v1/programs/1001/members/delete.json", "{\"input\":[{\"leadId\":1}]}");
    ts_http_res_free(&r);
    r = admin(sb, "GET", "/admin/calls", NULL);
    json_t *m = json_object_get(r.json, "marketo");
    assert_int_equal(json_integer_value(json_object_get(m, "GET /rest/asset/v1/program/{id}.json")),
                     4);
    assert_int_equal(
        json_integer_value(json_object_get(m, "POST /rest/v1/programs/{id}/members/delete.json")),
        1);
    assert_null(json_object_get(m, "GET /identity/oauth/token"));
    ts_http_res_free(&r);
    admin_ok(sb, "DELETE", "/admin/calls", NULL);
    r = admin(sb, "GET", "/admin/calls", NULL);
    assert_int_equal(json_object_size(json_object_get(r.json, "marketo")), 0);
    ts_http_res_free(&r);
}

static void test_state_read_back_and_reset(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    json_t *before = mkto_state(sb);
    assert_true(json_array_size(json_object_get(before, "programs")) == 4);
    assert_true(json_array_size(json_object_get(before, "leads")) > 0);
    assert_string_equal(json_string_value(json_object_get(before, "client_id")), "sbx-mkto-client");
    size_t n_leads = json_array_size(json_object_get(before, "leads"));
    ts_http_res r =
        spost(sb, "/rest/v1/leads.json", "{\"input\":[{\"email\":\"state@example.com\"}]}");
    ts_http_res_free(&r);
    json_t *mid = mkto_state(sb);
    assert_int_equal(json_array_size(json_object_get(mid, "leads")), n_leads + 1);
    json_decref(mid);
    admin_ok(sb, "POST", "/admin/reset", NULL);
    json_t *after = mkto_state(sb);
    assert_int_equal(json_array_size(json_object_get(after, "leads")), n_leads);
    assert_true(json_equal(json_object_get(before, "members"), json_object_get(after, "members")));
    json_decref(after);
    json_decref(before);
}

static void test_clock_moves_time(void **state)
{
    ts_sandbox *sb = *state;
    ts_http_res a = admin(sb, "GET", "/admin/clock", NULL);
    json_int_t t0 = json_integer_value(json_object_get(a.json, "now_ms"));
    ts_http_res_free(&a);
    admin_ok(sb, "POST", "/admin/clock", "{\"advance_s\":86400}");
    a = admin(sb, "GET", "/admin/clock", NULL);
    json_int_t t1 = json_integer_value(json_object_get(a.json, "now_ms"));
    assert_true(t1 - t0 >= 86400000);
    ts_http_res_free(&a);
    admin_ok(sb, "POST", "/admin/clock", "{\"set\":\"2030-01-01T00:00:00Z\"}");
    a = admin(sb, "GET", "/admin/clock", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(a.json, "now")), "2030-01-01"));
    ts_http_res_free(&a);
    a = admin(sb, "POST", "/admin/clock", "{\"set\":\"yesterday\"}");
    assert_int_equal(a.status, 400);
    ts_http_res_free(&a);
    /* Activities written now carry the sandbox's date. */
    fetch_token(sb);
    ts_http_res r =
        spost(sb, "/rest/v1/leads.json", "{\"input\":[{\"email\":\"future@example.com\"}]}");
    ts_http_res_free(&r);
    json_t *m = mkto_state(sb);
    json_t *acts = json_object_get(m, "activities");
    json_t *last = json_array_get(acts, json_array_size(acts) - 1);
    assert_non_null(strstr(json_string_value(json_object_get(last, "activityDate")), "2030-01-01"));
    json_decref(m);
}

static int64_t first_member(json_t *m, int64_t pid, const char **status)
{
    json_t *e = NULL;
    size_t i;
    json_array_foreach(json_object_get(m, "members"), i, e)
    {
        if (json_integer_value(json_object_get(e, "programId")) == pid) {
            *status = json_string_value(json_object_get(e, "statusName"));
            return json_integer_value(json_object_get(e, "leadId"));
        }
    }
    return 0;
}

static void test_marketo_ui_actions_write_activities(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    ts_http_res r =
        sget(sb, "/rest/v1/activities/pagingtoken.json?sinceDatetime=2020-01-01T00:00:00Z");
    char tok[256];
    snprintf(tok, sizeof tok, "%s", json_string_value(json_object_get(r.json, "nextPageToken")));
    ts_http_res_free(&r);
    json_t *m = mkto_state(sb);
    const char *st = NULL;
    int64_t lead = first_member(m, 1001, &st);
    assert_true(lead > 0);
    /* The UI may move a member backwards; the API may not. */
    char body[512];
    snprintf(body, sizeof body, "{\"programId\":1001,\"leadId\":%lld,\"statusName\":\"Attended\"}",
             (long long)lead);
    admin_ok(sb, "POST", "/admin/marketo/change_member_status", body);
    snprintf(body, sizeof body, "{\"programId\":1001,\"leadId\":%lld,\"statusName\":\"Invited\"}",
             (long long)lead);
    admin_ok(sb, "POST", "/admin/marketo/change_member_status", body);
    snprintf(body, sizeof body,
             "{\"leadId\":%lld,\"campaignId\":\"701Dn00000000G8IAI\",\"campaignName\":\"C\","
             "\"action\":\"add\",\"status\":\"Sent\"}",
             (long long)lead);
    admin_ok(sb, "POST", "/admin/marketo/sfdc_campaign_change", body);
    admin_ok(
        sb, "POST", "/admin/marketo/update_program",
        "{\"id\":1001,\"costs\":[{\"startDate\":\"2026-01-01\",\"cost\":42.5,\"note\":\"x\"}]}");
    char q[512];
    snprintf(q, sizeof q,
             "/rest/v1/activities.json?activityTypeIds=104,42&nextPageToken=%s&leadIds=%lld", tok,
             (long long)lead);
    r = sget(sb, q);
    json_t *res = json_object_get(r.json, "result");
    assert_int_equal(json_array_size(res), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(res, 2), "activityTypeId")),
                     42);
    ts_http_res_free(&r);
    r = sget(sb, "/rest/asset/v1/program/1001.json");
    json_t *costs = json_object_get(json_array_get(json_object_get(r.json, "result"), 0), "costs");
    assert_int_equal(json_array_size(costs), 1);
    ts_http_res_free(&r);
    /* Remove, add back, and a lead made and edited in the UI. */
    snprintf(body, sizeof body, "{\"programId\":1001,\"leadId\":%lld}", (long long)lead);
    admin_ok(sb, "POST", "/admin/marketo/remove_member", body);
    r = admin(sb, "POST", "/admin/marketo/remove_member", body);
    assert_int_equal(r.status, 404);
    ts_http_res_free(&r);
    admin_ok(sb, "POST", "/admin/marketo/add_member", body);
    r = admin(sb, "POST", "/admin/marketo/add_member", body);
    assert_int_equal(r.status, 409);
    ts_http_res_free(&r);
    r = admin(sb, "POST", "/admin/marketo/create_lead",
              "{\"email\":\"ui@example.com\",\"firstName\":\"Ui\"}");
    assert_int_equal(r.status, 200);
    json_int_t new_id = json_integer_value(json_object_get(r.json, "id"));
    assert_true(new_id > 0);
    ts_http_res_free(&r);
    snprintf(body, sizeof body, "{\"id\":%lld,\"lastName\":\"Interface\"}", (long long)new_id);
    admin_ok(sb, "POST", "/admin/marketo/change_lead", body);
    r = sget(sb,
             "/rest/v1/leads.json?filterType=email&filterValues=ui%40example.com&fields=lastName");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "result"), 0), "lastName")),
                        "Interface");
    ts_http_res_free(&r);
    /* Errors name the problem. */
    r = admin(sb, "POST", "/admin/marketo/add_member", "{\"programId\":1001}");
    assert_int_equal(r.status, 400);
    ts_http_res_free(&r);
    r = admin(sb, "POST", "/admin/marketo/teleport", "{}");
    assert_int_equal(r.status, 404);
    ts_http_res_free(&r);
    r = admin(sb, "POST", "/admin/nobody/state", "{}");
    assert_int_equal(r.status, 404);
    ts_http_res_free(&r);
    r = admin(sb, "GET", "/admin/whatever", NULL);
    assert_int_equal(r.status, 404);
    ts_http_res_free(&r);
    json_decref(m);
}

static void test_garbage_does_not_crash(void **state)
{
    ts_sandbox *sb = *state;
    fetch_token(sb);
    const char *paths[] = {"/rest/v1/programs/99999999999999999999/members.json",
                           "/rest/v1/leads.json?filterType=id&filterValues=%ZZ,,,",
                           "/rest/asset/v1/program/-1.json",
                           "/rest/v1/activities.json?nextPageToken=%00%01&activityTypeIds=104",
                           "/rest/v1/programs/1001/members.json?filterType=leadId&filterValues=a,b",
                           ("/rest/v1/programs/1001/members.json?filterType=statusName&"
                            "filterValues=Invited&nextPageToken=AAAA"),
                           "/%2e%2e/%2e%2e/etc/passwd",
                           "/rest/v1/leads.json?filterType=email&filterValues="};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        ts_http_res r = sget(sb, paths[i]);
        assert_int_equal(r.status, 200);
        assert_non_null(r.json);
        ts_http_res_free(&r);
    }
    const char *bodies[] = {"",
                            "null",
                            "[]",
                            "{\"input\":7}",
                            "{\"input\":[1,2,\"x\",null]}",
                            "{\"statusName\":5,\"input\":[{\"leadId\":\"1\"}]}",
                            "\xff\xfe"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        ts_http_res r = spost(sb, "/rest/v1/programs/1001/members/status.json", bodies[i]);
        assert_int_equal(r.status, 200);
        ts_http_res_free(&r);
        r = spost(sb, "/rest/v1/leads.json", bodies[i]);
        assert_int_equal(r.status, 200);
        ts_http_res_free(&r);
    }
    /* Still alive and well. */
    ts_http_res r = sget(sb, "/rest/v1/activities/types.json");
    assert_true(ts_mkto_success(&r));
    ts_http_res_free(&r);
}

static void test_bad_dataset_stops_startup_with_a_message(void **state)
{
    char dir[PATH_MAX], bin[PATH_MAX], path[PATH_MAX + 16];
    assert_int_equal(ts_tmpdir_make("sbx-bad", dir, sizeof dir), 0);
    assert_int_equal(ts_bin_path("campsync-sandbox", bin, sizeof bin), 0);
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"marketo\":{\"programs\":[{\"id\":1,\"channel\":\"Nope\"}]}}", f);
    fclose(f);
    const char *argv[] = {bin, "--marketo", "0", "--dataset", path, NULL};
    ts_proc *p = ts_proc_spawn(argv, NULL, dir, "bad");
    assert_non_null(p);
    int st = 0;
    assert_int_equal(ts_proc_wait(p, 10000, &st), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char *err = ts_read_file(ts_proc_stderr_path(p), NULL);
    assert_non_null(err);
    assert_non_null(strstr(err, "channel 'Nope'"));
    free(err);
    ts_proc_free(p);
    ts_tmpdir_remove(dir);
}

/* Runs the generator into a file; returns the parsed dataset. */
static json_t *generate(const char *dir, const char *name, const char *spec)
{
    char bin[PATH_MAX], path[PATH_MAX + 64];
    assert_int_equal(ts_bin_path("campsync-sandbox", bin, sizeof bin), 0);
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    const char *argv[] = {bin, "--generate", spec, "--write-dataset", path, NULL};
    ts_proc *p = ts_proc_spawn(argv, NULL, dir, name);
    assert_non_null(p);
    int st = 0;
    assert_int_equal(ts_proc_wait(p, 60000, &st), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ts_proc_free(p);
    json_t *d = json_load_file(path, 0, NULL);
    assert_non_null(d);
    return d;
}

static int valid_sf_id(const char *id, const char *prefix)
{
    if (!id || strlen(id) != 18 || strncmp(id, prefix, 3) != 0)
        return 0;
    static const char sfx[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    for (int chunk = 0; chunk < 3; chunk++) {
        int bits = 0;
        for (int k = 0; k < 5; k++)
            if (id[chunk * 5 + k] >= 'A' && id[chunk * 5 + k] <= 'Z')
                bits |= 1 << k;
        if (id[15 + chunk] != sfx[bits])
            return 0;
    }
    return 1;
}

static void test_generator_is_deterministic_and_consistent(void **state)
{
    char dir[PATH_MAX];
    assert_int_equal(ts_tmpdir_make("sbx-gen", dir, sizeof dir), 0);
    const char *spec = "people=400,programs=5,members=150,seed=9";
    json_t *a = generate(dir, "a", spec), *b = generate(dir, "b", spec);
    json_t *c = generate(dir, "c", "people=400,programs=5,members=150,seed=10");
    assert_true(json_equal(a, b));
    assert_false(json_equal(a, c));
    json_t *mk = json_object_get(a, "marketo"), *sf = json_object_get(a, "salesforce");
    json_t *rec = json_object_get(sf, "records");
    assert_int_equal(json_array_size(json_object_get(mk, "programs")), 5);
    assert_int_equal(json_array_size(json_object_get(mk, "members")), 5 * 150);
    /* Linked programs point at campaigns whose statuses match the channel. */
    size_t i, k;
    json_t *p, *e;
    int linked = 0, unlinked = 0;
    json_array_foreach(json_object_get(mk, "programs"), i, p)
    {
        const char *cid = json_string_value(json_object_get(p, "sfdcId"));
        if (!cid) {
            unlinked++;
            continue;
        }
        linked++;
        assert_true(valid_sf_id(cid, "701"));
        const char *chname = json_string_value(json_object_get(p, "channel"));
        json_t *ch = NULL;
        json_array_foreach(json_object_get(mk, "channels"), k,
                           e) if (strcmp(json_string_value(json_object_get(e, "name")), chname) ==
                                  0) ch = e;
        assert_non_null(ch);
        size_t n_labels = 0;
        json_array_foreach(json_object_get(rec, "CampaignMemberStatus"), k, e)
        {
            if (strcmp(json_string_value(json_object_get(e, "CampaignId")), cid) != 0)
                continue;
            n_labels++;
            int found = 0;
            size_t m;
            json_t *s;
            json_array_foreach(json_object_get(ch, "progressionStatuses"), m, s) found |=
                strcmp(json_string_value(json_object_get(s, "name")),
                       json_string_value(json_object_get(e, "Label"))) == 0;
            assert_true(found);
        }
        assert_int_equal(n_labels, json_array_size(json_object_get(ch, "progressionStatuses")));
    }
    assert_int_equal(linked, 4);
    assert_int_equal(unlinked, 1);
    /* Ids, one of LeadId/ContactId, no duplicate (campaign, person). */
    json_t *seen = json_object();
    json_array_foreach(json_object_get(rec, "CampaignMember"), i, e)
    {
        assert_true(valid_sf_id(json_string_value(json_object_get(e, "Id")), "00v"));
        const char *l = json_string_value(json_object_get(e, "LeadId"));
        const char *ct = json_string_value(json_object_get(e, "ContactId"));
        assert_true((l == NULL) != (ct == NULL));
        assert_true(l ? valid_sf_id(l, "00Q") : valid_sf_id(ct, "003"));
        char key[64];
        snprintf(key, sizeof key, "%s/%s", json_string_value(json_object_get(e, "CampaignId")),
                 l ? l : ct);
        assert_null(json_object_get(seen, key));
        json_object_set_new(seen, key, json_true());
    }
    json_decref(seen);
    int converted = 0, marketing = 0;
    json_array_foreach(json_object_get(rec, "Lead"), i, e) converted +=
        json_is_true(json_object_get(e, "IsConverted"));
    json_array_foreach(json_object_get(rec, "User"), i, e) marketing +=
        json_is_true(json_object_get(e, "UserPermissionsMarketingUser"));
    assert_true(converted > 0);
    assert_int_equal(marketing, 1);
    assert_true(json_array_size(json_object_get(rec, "Opportunity")) > 0);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    ts_tmpdir_remove(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_faults_are_deterministic_for_a_seed, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_drop_after_processing_still_applies_the_change,
                                        sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_bad_fault_configs_are_refused, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_call_accounting_per_endpoint, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_state_read_back_and_reset, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_clock_moves_time, sandbox_start, sandbox_stop),
        cmocka_unit_test_setup_teardown(test_marketo_ui_actions_write_activities, sandbox_start,
                                        sandbox_stop),
        cmocka_unit_test_setup_teardown(test_garbage_does_not_crash, sandbox_start, sandbox_stop),
        cmocka_unit_test(test_bad_dataset_stops_startup_with_a_message),
        cmocka_unit_test(test_generator_is_deterministic_and_consistent),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
